/* Many hosts (docs/many-hosts.md), as the example configs set it up: three vmstatd (each its
 * own port and runtime directory), a site Prometheus running contrib/prometheus/site.yml with
 * the three in its file_sd targets.yml and the rules loaded, and a global Prometheus running
 * contrib/prometheus/global.yml that federates the recorded series from it. Only the scrape
 * intervals and the addresses of the examples are changed. At the global Prometheus the host
 * ready aggregate must exist for all three hosts, with their own job and instance labels and
 * the site's label, values in [0, 1] that match the site's, and no raw series. One host has
 * two vCPUs contending for a host CPU, so its value is far from the others'. */
#define _GNU_SOURCE
#include "daemon_helper.h"

#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_HOSTS 3
#define AGGREGATE "instance:vmstatd_vcpu_ready:ratio_avg"
#define WAIT_MS 30000
#define TOLERANCE 0.1 /* the site evaluates every second; the global copy is up to ~2 s older */

/* text with from replaced by to, once; fails when the example no longer has from */
static char *replace(char *text, const char *file, const char *from, const char *to) {
        char *at = strstr(text, from), *out;
        ck_assert_msg(at, "%s no longer has '%s': update this test with the example", file, from);
        ck_assert_int_ge(asprintf(&out, "%.*s%s%s", (int) (at - text), text, to, at + strlen(from)), 0);
        free(text);
        return out;
}

static char *example(const char *name) {
        char rel[128], *path, *text;
        snprintf(rel, sizeof(rel), "contrib/prometheus/%s", name);
        path = test_src_path(rel);
        text = test_read_file(path);
        free(path);
        return text;
}

/* site.yml, scraping and evaluating every second, in p->dir with its rules and targets.yml */
static char *site_config(const struct test_prom *p, const struct test_daemon *d) {
        char path[256], *rules = example("vmstatd-rules.yml"), *targets = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/vmstatd-rules.yml", p->dir);
        test_write_file(path, rules);
        FILE *f = open_memstream(&targets, &len);
        fprintf(f, "- targets:\n");
        for (int i = 0; i < N_HOSTS; i++)
                fprintf(f, "    - 127.0.0.1:%d\n", d[i].port);
        fclose(f);
        snprintf(path, sizeof(path), "%s/targets.yml", p->dir);
        test_write_file(path, targets);
        free(targets);
        free(rules);
        char *c = example("site.yml");
        c = replace(c, "site.yml", "scrape_interval: 15s", "scrape_interval: 1s");
        c = replace(c, "site.yml", "scrape_timeout: 10s", "scrape_timeout: 1s");
        c = replace(c, "site.yml", "evaluation_interval: 15s", "evaluation_interval: 1s");
        return c;
}

/* global.yml, federating every second from the site Prometheus alone */
static char *global_config(const struct test_prom *site) {
        char target[64];
        snprintf(target, sizeof(target), "127.0.0.1:%d", site->api.port);
        char *c = example("global.yml");
        c = replace(c, "global.yml", "scrape_interval: 1m", "scrape_interval: 1s");
        c = replace(c, "global.yml", "scrape_timeout: 30s", "scrape_timeout: 1s");
        c = replace(c, "global.yml", "evaluation_interval: 1m", "evaluation_interval: 1s");
        c = replace(c, "global.yml", "prometheus.site-a.example.com:9090", target);
        c = replace(c, "global.yml", "          - prometheus.site-b.example.com:9090\n", "");
        return c;
}

/* the aggregate of the host on port, from a result vector; NAN when it is not there once */
static double host_value(json_t *res, int port, json_t **ret_series) {
        char instance[32];
        size_t i, found = 0;
        json_t *s;
        double v = NAN;
        snprintf(instance, sizeof(instance), "127.0.0.1:%d", port);
        json_array_foreach(res, i, s) if (strcmp(test_prom_label(s, "instance"), instance) == 0) {
                found++;
                v = test_prom_value(s);
                *ret_series = s;
        }
        return found == 1 ? v : NAN;
}

/* one look at both: what is wrong, into fl */
static void check(struct test_prom *site, struct test_prom *global, const struct test_daemon *d, struct test_failures *fl) {
        json_t *at_global = test_prom_query(global, AGGREGATE), *at_site = test_prom_query(site, AGGREGATE);
        size_t n = json_array_size(at_global);
        if (n != N_HOSTS)
                test_note_fail(fl, "global: %s has %zu series, expected %d", AGGREGATE, n, N_HOSTS);
        for (int i = 0; i < N_HOSTS; i++) {
                json_t *s = NULL, *ss = NULL;
                double g = host_value(at_global, d[i].port, &s), l = host_value(at_site, d[i].port, &ss);
                if (!s) {
                        test_note_fail(fl, "global: no %s of host 127.0.0.1:%d", AGGREGATE, d[i].port);
                        continue;
                }
                if (strcmp(test_prom_label(s, "job"), "vmstatd") != 0 || strcmp(test_prom_label(s, "site"), "site-a") != 0)
                        test_note_fail(fl, "global: host %d has job '%s' and site '%s', expected vmstatd and site-a", i,
                                       test_prom_label(s, "job"), test_prom_label(s, "site"));
                if (!(g >= 0 && g <= 1))
                        test_note_fail(fl, "global: host %d's ready ratio is %g, outside [0, 1]", i, g);
                if (!(fabs(g - l) <= TOLERANCE))
                        test_note_fail(fl, "host %d's ready ratio: %g at the global Prometheus, %g at the site", i, g, l);
                if (i == 0 && !(g > 0.1))
                        test_note_fail(fl, "host 0 (two vCPUs on one host CPU): ready %g at the global Prometheus, expected > 0.1",
                                       g);
                if (i > 0 && !(g < 0.1))
                        test_note_fail(fl, "host %d (halted vCPUs): ready %g at the global Prometheus, expected < 0.1", i, g);
        }
        /* only recorded series cross: nothing raw from the hosts */
        size_t raw = test_prom_count(global, "{__name__=~\"vmstatd_.+\"}");
        if (raw)
                test_note_fail(fl, "global: %zu raw vmstatd_* series federated, expected only recorded ones", raw);
        json_decref(at_global);
        json_decref(at_site);
}

START_TEST(global_prometheus_sees_every_host) {
        uint64_t t0 = test_now_ms();
        struct test_daemon d[N_HOSTS];
        struct test_prom site, global;
        char vm[128];
        for (int i = 0; i < N_HOSTS; i++) {
                char *dir = test_config_dir();
                if (i == 0)
                        snprintf(vm, sizeof(vm), "[vm]\nvcpus = 2\nmemory = 16M\nguest = builtin:spin\ncpus = %d\n", test_last_cpu());
                else
                        snprintf(vm, sizeof(vm), "[vm]\nmemory = 8M\nguest = builtin:halt\n");
                test_write_vm(dir, "guest", vm);
                char sock[256]; /* not /run/vmstatd's: one control socket per daemon */
                snprintf(sock, sizeof(sock), "%s/control.sock", dir);
                const char *args[] = { "--config", dir, "--control-socket", sock, NULL };
                if (!test_daemon_start(&d[i], args))
                        return;
                free(dir);
        }
        test_prom_init(&site);
        test_prom_init(&global);
        char *site_yml = site_config(&site, d), *global_yml = global_config(&site);
        test_prom_start(&site, site_yml);
        test_prom_start(&global, global_yml);

        struct test_failures fl;
        char *text = NULL;
        for (uint64_t deadline = test_now_ms() + WAIT_MS;; test_sleep_ms(500)) {
                free(text);
                test_failures_init(&fl);
                check(&site, &global, d, &fl);
                text = test_failures_text(&fl);
                if (fl.n == 0 || test_now_ms() > deadline || !test_prom_alive(&site) || !test_prom_alive(&global))
                        break;
        }
        fprintf(stderr, "test_federation: %s after %llu ms\n", fl.n ? "FAILED" : "every host at the global Prometheus",
                (unsigned long long) (test_now_ms() - t0));
        json_t *res = test_prom_query(&global, AGGREGATE), *series;
        size_t i;
        json_array_foreach(res, i, series) fprintf(stderr, "test_federation: global: %s{instance=\"%s\"} %.4f\n", AGGREGATE,
                                                    test_prom_label(series, "instance"), test_prom_value(series));
        json_decref(res);
        char *site_log = fl.n ? test_prom_log_tail(&site) : NULL, *global_log = fl.n ? test_prom_log_tail(&global) : NULL;
        if (fl.n)
                fprintf(stderr, "%s--- site prometheus log (tail):\n%s\n--- global prometheus log (tail):\n%s\n", text, site_log,
                        global_log);
        test_prom_stop(&global);
        test_prom_stop(&site);
        for (int i = 0; i < N_HOSTS; i++)
                test_daemon_stop(&d[i]);
        ck_assert_msg(fl.n == 0, "%u failures within %d ms (the logs are on stderr):\n%.3000s", fl.n, WAIT_MS, text);
        free(text);
        free(site_log);
        free(global_log);
        free(site_yml);
        free(global_yml);
}
END_TEST

int main(void) {
        Suite *s = suite_create("federation");
        TCase *tc = tcase_create("federation");
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, global_prometheus_sees_every_host);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
