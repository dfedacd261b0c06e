/* The real Prometheus server (Debian's 2.42) scraping the real daemon every second with two
 * jobs: "om" negotiates like Prometheus does by default (OpenMetrics first) and "text" forces
 * Prometheus text with ?format=text. Both targets must be up without a scrape error, and each
 * job must store the 8 runstate series of VM b13 (2 vCPUs x 4 states). Failures are collected
 * and asserted after Prometheus and the daemon are stopped, with Prometheus's log attached. */
#define _GNU_SOURCE
#include "daemon_helper.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* two jobs on the same daemon: "om" as Prometheus negotiates by default, "text" forced */
static void prom_start(struct test_prom *p, int target_port) {
        char *config;
        ck_assert_int_ge(asprintf(&config,
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
                                  target_port, target_port),
                         0);
        test_prom_init(p);
        test_prom_start(p, config);
        free(config);
}

static bool job_ready(struct test_prom *p, const char *job) {
        char q[256];
        snprintf(q, sizeof(q), "up{job=\"%s\"}", job);
        if (test_prom_scalar(p, q) != 1)
                return false;
        snprintf(q, sizeof(q), "vmstatd_vcpu_runstate_seconds_total{job=\"%s\"}", job);
        return test_prom_count(p, q) >= N_VCPUS * N_STATES;
}

static void check_job(struct test_prom *p, const char *job, struct test_failures *fl) {
        char q[256];
        snprintf(q, sizeof(q), "up{job=\"%s\"}", job);
        double up = test_prom_scalar(p, q);
        if (up != 1)
                test_note_fail(fl, "job %s: up = %g, expected 1", job, up);

        snprintf(q, sizeof(q), "vmstatd_vcpu_runstate_seconds_total{job=\"%s\"}", job);
        json_t *res = test_prom_query(p, q);
        unsigned seen = 0; /* bit vcpu * N_STATES + state */
        size_t n = res ? json_array_size(res) : 0;
        if (n != N_VCPUS * N_STATES)
                test_note_fail(fl, "job %s: %s returned %zu series, expected %d", job, q, n, N_VCPUS * N_STATES);
        for (size_t i = 0; i < n; i++) {
                json_t *s = json_array_get(res, i);
                const char *vm = test_prom_label(s, "vm"), *vcpu = test_prom_label(s, "vcpu"), *state = test_prom_label(s, "state");
                int v = strcmp(vcpu, "0") == 0 ? 0 : strcmp(vcpu, "1") == 0 ? 1 : -1, st = -1;
                for (int k = 0; k < N_STATES; k++)
                        if (strcmp(state, states[k]) == 0)
                                st = k;
                double value = test_prom_value(s);
                if (strcmp(vm, "b13") != 0 || v < 0 || st < 0)
                        test_note_fail(fl, "job %s: unexpected series vm=\"%s\" vcpu=\"%s\" state=\"%s\"", job, vm, vcpu, state);
                else if (seen & (1u << (v * N_STATES + st)))
                        test_note_fail(fl, "job %s: series vcpu=\"%s\" state=\"%s\" twice", job, vcpu, state);
                else
                        seen |= 1u << (v * N_STATES + st);
                if (!(value >= 0))
                        test_note_fail(fl, "job %s: vcpu=\"%s\" state=\"%s\" has value %g, expected seconds >= 0", job, vcpu,
                             state, value);
        }
        if (n == N_VCPUS * N_STATES && seen != (1u << (N_VCPUS * N_STATES)) - 1)
                test_note_fail(fl, "job %s: the 8 series do not cover every vcpu x state (mask 0x%x)", job, seen);
        json_decref(res);

        snprintf(q, sizeof(q), "scrape_samples_scraped{job=\"%s\"}", job);
        double samples = test_prom_scalar(p, q);
        if (!(samples > 0))
                test_note_fail(fl, "job %s: scrape_samples_scraped = %g, expected > 0", job, samples);
        else
                fprintf(stderr, "test_prometheus: job %s: %g samples per scrape\n", job, samples);
}

static void check_targets(struct test_prom *p, struct test_failures *fl) {
        json_t *data = test_prom_get(p, "/api/v1/targets?state=active");
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
                                test_note_fail(fl, "target of job %s (%s): lastError '%s', expected none", jobs[k], url ? url : "?",
                                     err ? err : "(missing)");
                        if (strcmp(jobs[k], "text") == 0 && (!url || !strstr(url, "format=text")))
                                test_note_fail(fl, "target of job text scrapes '%s', without ?format=text", url ? url : "?");
                        if (!health || strcmp(health, "up") != 0)
                                test_note_fail(fl, "target of job %s: health '%s', expected up", jobs[k], health ? health : "(missing)");
                }
                if (!found)
                        test_note_fail(fl, "/api/v1/targets lists no active target of job %s", jobs[k]);
        }
        json_decref(data);
}

START_TEST(prometheus_scrapes_both_formats) {
        struct test_daemon d;
        struct test_prom p;
        struct test_failures fl;
        if (!test_daemon_start(&d, NULL))
                return;
        test_failures_init(&fl);
        prom_start(&p, d.port);

        uint64_t t0 = test_now_ms();
        bool ready = false;
        while (!ready && test_now_ms() - t0 < PROM_WAIT_MS) {
                test_sleep_ms(500);
                ready = job_ready(&p, jobs[0]) && job_ready(&p, jobs[1]);
                if (!test_prom_alive(&p)) {
                        test_note_fail(&fl, "prometheus exited");
                        break;
                }
        }
        if (ready)
                fprintf(stderr, "test_prometheus: both jobs up with every series after %llu ms\n",
                        (unsigned long long) (test_now_ms() - t0));
        else
                test_note_fail(&fl, "not every job was up with its 8 runstate series within %d ms", PROM_WAIT_MS);
        for (size_t k = 0; k < N_JOBS; k++)
                check_job(&p, jobs[k], &fl);
        check_targets(&p, &fl);

        char *log = fl.n ? test_prom_log_tail(&p) : NULL;
        test_prom_stop(&p);
        test_daemon_stop(&d);
        char *text = test_failures_text(&fl);
        ck_assert_msg(fl.n == 0, "%u failures:\n%s--- prometheus log (tail):\n%s", fl.n, text, log ? log : "");
        free(log);
        free(text);
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
        struct test_failures fl;
        if (!test_daemon_start(&d, NULL))
                return;
        test_failures_init(&fl);
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                const char *hdrs[] = { want[i].accept, NULL };
                struct test_response r = test_http(&d, "GET", want[i].path, hdrs);
                char *ct = test_header(&r, "Content-Type");
                bool om = strncmp(want[i].content_type, "application/openmetrics-text", 28) == 0;
                if (r.status != 200 || !ct || strncmp(ct, want[i].content_type, strlen(want[i].content_type)) != 0)
                        test_note_fail(&fl, "GET %s with '%s': %ld, Content-Type '%s'; expected 200, '%s...'", want[i].path,
                             want[i].accept ? want[i].accept : "no Accept", r.status, ct ? ct : "(none)",
                             want[i].content_type);
                else if (om && (r.len < 6 || memcmp(r.body + r.len - 6, "# EOF\n", 6) != 0))
                        test_note_fail(&fl, "GET %s: an OpenMetrics body must end with '# EOF\\n'", want[i].path);
                else if (!om && r.len >= 5 && strstr(r.body, "# EOF"))
                        test_note_fail(&fl, "GET %s: a Prometheus text body has an OpenMetrics '# EOF'", want[i].path);
                free(ct);
                test_response_free(&r);
        }
        test_daemon_stop(&d);
        char *text = test_failures_text(&fl);
        ck_assert_msg(fl.n == 0, "%u failures:\n%s", fl.n, text);
        free(text);
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
