/* The real Prometheus server (Debian's 2.42) scraping the real daemon every second with two
 * jobs: "om" negotiates like Prometheus does by default (OpenMetrics first) and "text" forces
 * Prometheus text with ?format=text. Both targets must be up without a scrape error, and each
 * job must store the 8 runstate series of VM b13 (2 vCPUs x 4 states). Failures are collected
 * and asserted after Prometheus and the daemon are stopped, with Prometheus's log attached. */
#define _GNU_SOURCE
#include "daemon_helper.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROM_WAIT_MS 20000
#define N_JOBS 2
#define N_STATES 4
#define N_VCPUS 2
/* what Prometheus 2.42 sends when no format is forced */
#define PROM_ACCEPT                                                                                                  \
        "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"     \
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

static const char *const jobs[N_JOBS] = { "om", "text" };
static const char *const states[N_STATES] = { "running", "runnable", "blocked", "offline" };

struct failures {
        FILE *f;
        char *text;
        size_t len;
        unsigned n;
};

static void note_fail(struct failures *fl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_fail(struct failures *fl, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  ", fl->f);
        vfprintf(fl->f, fmt, ap);
        fputc('\n', fl->f);
        va_end(ap);
        fl->n++;
}

/* ---- a Prometheus server of our own ------------------------------------------------------------ */

struct prom {
        pid_t pid;
        char dir[64];
        struct test_daemon api; /* only base is used: test_http() against Prometheus */
};

static void prom_start(struct prom *p, int target_port) {
        char path[128], listen[64];
        memset(p, 0, sizeof(*p));
        char *dir = test_mkdtemp("prometheus");
        snprintf(p->dir, sizeof(p->dir), "%s", dir);
        free(dir);
        snprintf(path, sizeof(path), "%s/prometheus.yml", p->dir);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "global:\n"
                "  scrape_interval: 1s\n"
                "  scrape_timeout: 1s\n"
                "scrape_configs:\n"
                "  - job_name: om\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n"
                "  - job_name: text\n"
                "    params:\n"
                "      format: [text]\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n",
                target_port, target_port);
        fclose(f);
        p->api.port = test_free_port();
        snprintf(p->api.base, sizeof(p->api.base), "http://127.0.0.1:%d", p->api.port);
        snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", p->api.port);
        char config[128], storage[128], log[128];
        snprintf(config, sizeof(config), "--config.file=%s/prometheus.yml", p->dir);
        snprintf(storage, sizeof(storage), "--storage.tsdb.path=%s/data", p->dir);
        snprintf(log, sizeof(log), "%s/prometheus.log", p->dir);
        const char *argv[] = { "prometheus", config, storage, listen, NULL };
        p->pid = test_spawn(argv, log); /* never outlives a test that died */
}

static char *prom_log_tail(const struct prom *p) {
        char path[128], *buf = calloc(1, 4097);
        snprintf(path, sizeof(path), "%s/prometheus.log", p->dir);
        FILE *f = fopen(path, "re");
        if (f && buf) {
                if (fseek(f, -4096, SEEK_END) < 0)
                        rewind(f);
                size_t n = fread(buf, 1, 4096, f);
                buf[n] = 0;
        }
        if (f)
                fclose(f);
        return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static void prom_stop(struct prom *p) {
        int st;
        if (p->pid > 0) {
                kill(p->pid, SIGTERM);
                for (int i = 0; i < 200 && waitpid(p->pid, &st, WNOHANG) == 0; i++) /* 10 s */
                        test_sleep_ms(50);
                if (kill(p->pid, 0) == 0) {
                        kill(p->pid, SIGKILL);
                        waitpid(p->pid, &st, 0);
                }
                p->pid = 0;
        }
        nftw(p->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* GET an API path; the parsed "data" member of a success, or NULL */
static json_t *prom_get(struct prom *p, const char *path) {
        struct test_response r = test_http(&p->api, "GET", path, NULL);
        json_t *data = NULL;
        if (r.status == 200) {
                json_t *j = json_loadb(r.body, r.len, 0, NULL);
                json_t *s = json_object_get(j, "status");
                if (json_is_string(s) && strcmp(json_string_value(s), "success") == 0)
                        data = json_incref(json_object_get(j, "data"));
                json_decref(j);
        }
        test_response_free(&r);
        return data;
}

/* the result vector of an instant query, or NULL */
static json_t *prom_query(struct prom *p, const char *expr) {
        char path[1024];
        char *q = curl_easy_escape(NULL, expr, 0);
        ck_assert_ptr_nonnull(q);
        snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
        curl_free(q);
        json_t *data = prom_get(p, path), *res = json_incref(json_object_get(data, "result"));
        json_decref(data);
        if (!json_is_array(res)) {
                json_decref(res);
                return NULL;
        }
        return res;
}

static double sample_value(json_t *series) {
        json_t *v = json_array_get(json_object_get(series, "value"), 1);
        return json_is_string(v) ? strtod(json_string_value(v), NULL) : NAN;
}

/* the value of a query that must return exactly one series; NAN otherwise */
static double prom_scalar(struct prom *p, const char *expr) {
        json_t *res = prom_query(p, expr);
        double v = res && json_array_size(res) == 1 ? sample_value(json_array_get(res, 0)) : NAN;
        json_decref(res);
        return v;
}

static size_t prom_count(struct prom *p, const char *expr) {
        json_t *res = prom_query(p, expr);
        size_t n = res ? json_array_size(res) : 0;
        json_decref(res);
        return n;
}

static const char *label(json_t *series, const char *name) {
        const char *s = json_string_value(json_object_get(json_object_get(series, "metric"), name));
        return s ? s : "";
}

static bool job_ready(struct prom *p, const char *job) {
        char q[256];
        snprintf(q, sizeof(q), "up{job=\"%s\"}", job);
        if (prom_scalar(p, q) != 1)
                return false;
        snprintf(q, sizeof(q), "vmstatd_vcpu_runstate_seconds_total{job=\"%s\"}", job);
        return prom_count(p, q) >= N_VCPUS * N_STATES;
}

static void check_job(struct prom *p, const char *job, struct failures *fl) {
        char q[256];
        snprintf(q, sizeof(q), "up{job=\"%s\"}", job);
        double up = prom_scalar(p, q);
        if (up != 1)
                note_fail(fl, "job %s: up = %g, expected 1", job, up);

        snprintf(q, sizeof(q), "vmstatd_vcpu_runstate_seconds_total{job=\"%s\"}", job);
        json_t *res = prom_query(p, q);
        unsigned seen = 0; /* bit vcpu * N_STATES + state */
        size_t n = res ? json_array_size(res) : 0;
        if (n != N_VCPUS * N_STATES)
                note_fail(fl, "job %s: %s returned %zu series, expected %d", job, q, n, N_VCPUS * N_STATES);
        for (size_t i = 0; i < n; i++) {
                json_t *s = json_array_get(res, i);
                const char *vm = label(s, "vm"), *vcpu = label(s, "vcpu"), *state = label(s, "state");
                int v = strcmp(vcpu, "0") == 0 ? 0 : strcmp(vcpu, "1") == 0 ? 1 : -1, st = -1;
                for (int k = 0; k < N_STATES; k++)
                        if (strcmp(state, states[k]) == 0)
                                st = k;
                double value = sample_value(s);
                if (strcmp(vm, "b13") != 0 || v < 0 || st < 0)
                        note_fail(fl, "job %s: unexpected series vm=\"%s\" vcpu=\"%s\" state=\"%s\"", job, vm, vcpu, state);
                else if (seen & (1u << (v * N_STATES + st)))
                        note_fail(fl, "job %s: series vcpu=\"%s\" state=\"%s\" twice", job, vcpu, state);
                else
                        seen |= 1u << (v * N_STATES + st);
                if (!(value >= 0))
                        note_fail(fl, "job %s: vcpu=\"%s\" state=\"%s\" has value %g, expected seconds >= 0", job, vcpu,
                             state, value);
        }
        if (n == N_VCPUS * N_STATES && seen != (1u << (N_VCPUS * N_STATES)) - 1)
                note_fail(fl, "job %s: the 8 series do not cover every vcpu x state (mask 0x%x)", job, seen);
        json_decref(res);

        snprintf(q, sizeof(q), "scrape_samples_scraped{job=\"%s\"}", job);
        double samples = prom_scalar(p, q);
        if (!(samples > 0))
                note_fail(fl, "job %s: scrape_samples_scraped = %g, expected > 0", job, samples);
        else
                fprintf(stderr, "test_prometheus: job %s: %g samples per scrape\n", job, samples);
}

static void check_targets(struct prom *p, struct failures *fl) {
        json_t *data = prom_get(p, "/api/v1/targets?state=active");
        json_t *active = json_object_get(data, "activeTargets");
        for (size_t k = 0; k < N_JOBS; k++) {
                bool found = false;
                for (size_t i = 0; i < json_array_size(active); i++) {
                        json_t *t = json_array_get(active, i);
                        const char *job = json_string_value(json_object_get(json_object_get(t, "labels"), "job"));
                        const char *err = json_string_value(json_object_get(t, "lastError"));
                        const char *health = json_string_value(json_object_get(t, "health"));
                        const char *url = json_string_value(json_object_get(t, "scrapeUrl"));
                        if (!job || strcmp(job, jobs[k]) != 0)
                                continue;
                        found = true;
                        if (!err || err[0])
                                note_fail(fl, "target of job %s (%s): lastError '%s', expected none", jobs[k], url ? url : "?",
                                     err ? err : "(missing)");
                        if (strcmp(jobs[k], "text") == 0 && (!url || !strstr(url, "format=text")))
                                note_fail(fl, "target of job text scrapes '%s', without ?format=text", url ? url : "?");
                        if (!health || strcmp(health, "up") != 0)
                                note_fail(fl, "target of job %s: health '%s', expected up", jobs[k], health ? health : "(missing)");
                }
                if (!found)
                        note_fail(fl, "/api/v1/targets lists no active target of job %s", jobs[k]);
        }
        json_decref(data);
}

START_TEST(prometheus_scrapes_both_formats) {
        struct test_daemon d;
        struct prom p;
        struct failures fl = { 0 };
        if (!test_daemon_start(&d, NULL))
                return;
        fl.f = open_memstream(&fl.text, &fl.len);
        prom_start(&p, d.port);

        uint64_t t0 = test_now_ms();
        bool ready = false;
        while (!ready && test_now_ms() - t0 < PROM_WAIT_MS) {
                test_sleep_ms(500);
                ready = job_ready(&p, jobs[0]) && job_ready(&p, jobs[1]);
                int st;
                if (waitpid(p.pid, &st, WNOHANG) == p.pid) {
                        p.pid = 0;
                        note_fail(&fl, "prometheus exited (status %d)", st);
                        break;
                }
        }
        if (ready)
                fprintf(stderr, "test_prometheus: both jobs up with every series after %llu ms\n",
                        (unsigned long long) (test_now_ms() - t0));
        else
                note_fail(&fl, "not every job was up with its 8 runstate series within %d ms", PROM_WAIT_MS);
        for (size_t k = 0; k < N_JOBS; k++)
                check_job(&p, jobs[k], &fl);
        check_targets(&p, &fl);

        char *log = fl.n ? prom_log_tail(&p) : NULL;
        prom_stop(&p);
        test_daemon_stop(&d);
        fclose(fl.f);
        ck_assert_msg(fl.n == 0, "%u failures:\n%s--- prometheus log (tail):\n%s", fl.n, fl.text, log ? log : "");
        free(log);
        free(fl.text);
}
END_TEST

/* Prometheus's `params: {format: [...]}` arrives as ?format=; it beats the Accept header */
START_TEST(metrics_format_param) {
        static const struct {
                const char *path, *accept, *content_type;
        } want[] = {
                { "/metrics", PROM_ACCEPT, "application/openmetrics-text" },
                { "/metrics?format=text", PROM_ACCEPT, "text/plain; version=0.0.4" },
                { "/metrics?format=openmetrics", NULL, "application/openmetrics-text" },
                { "/metrics?format=openmetrics", "Accept: text/plain", "application/openmetrics-text" },
        };
        struct test_daemon d;
        struct failures fl = { 0 };
        if (!test_daemon_start(&d, NULL))
                return;
        fl.f = open_memstream(&fl.text, &fl.len);
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                const char *hdrs[] = { want[i].accept, NULL };
                struct test_response r = test_http(&d, "GET", want[i].path, hdrs);
                char *ct = test_header(&r, "Content-Type");
                bool om = strncmp(want[i].content_type, "application/openmetrics-text", 28) == 0;
                if (r.status != 200 || !ct || strncmp(ct, want[i].content_type, strlen(want[i].content_type)) != 0)
                        note_fail(&fl, "GET %s with '%s': %ld, Content-Type '%s'; expected 200, '%s...'", want[i].path,
                             want[i].accept ? want[i].accept : "no Accept", r.status, ct ? ct : "(none)",
                             want[i].content_type);
                else if (om && (r.len < 6 || memcmp(r.body + r.len - 6, "# EOF\n", 6) != 0))
                        note_fail(&fl, "GET %s: an OpenMetrics body must end with '# EOF\\n'", want[i].path);
                else if (!om && r.len >= 5 && strstr(r.body, "# EOF"))
                        note_fail(&fl, "GET %s: a Prometheus text body has an OpenMetrics '# EOF'", want[i].path);
                free(ct);
                test_response_free(&r);
        }
        test_daemon_stop(&d);
        fclose(fl.f);
        ck_assert_msg(fl.n == 0, "%u failures:\n%s", fl.n, fl.text);
        free(fl.text);
}
END_TEST

int main(void) {
        Suite *s = suite_create("prometheus");
        TCase *tc = tcase_create("scrape");
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, prometheus_scrapes_both_formats);
        suite_add_tcase(s, tc);
        tc = tcase_create("format");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, metrics_format_param);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
