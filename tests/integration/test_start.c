/* The daemon serves while it launches its VMs: HTTP is up before the first worker says hello,
 * /healthz answers 503 "starting" until every configured VM is launched, then 200 with all of
 * them listed; /metrics answers throughout, with each VM from the first sample after its
 * launch. A worker made to take 2 s (VMSTATD_TEST_SLOW_LAUNCH)
 * holds the launch open long enough to see it. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon_helper.h"

START_TEST(serves_while_launching) {
        const char *why = test_daemon_unavailable();
        if (why)
                TEST_SKIP("%s", why);
        char *dir = test_config_dir(), *logdir = test_mkdtemp("start");
        test_write_vm(dir, "fast", "[vm]\nmemory = 8M\nguest = builtin:halt\n");
        test_write_vm(dir, "slow", "[vm]\nmemory = 8M\nguest = builtin:halt\n");
        struct test_daemon d;
        char listen[32], run[128];
        test_daemon_prepare(&d, listen);
        snprintf(run, sizeof(run), "%s/run", logdir);
        const char *bin = getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd";
        const char *argv[] = { bin, "--config", dir, "--listen", listen, "--runtime-dir", run, "--interval", "200ms",
                               NULL };
        setenv("VMSTATD_TEST_SLOW_LAUNCH", "slow", 1);
        uint64_t t0 = test_now_ms();
        d.pid = test_spawn(argv, d.log_path);
        unsetenv("VMSTATD_TEST_SLOW_LAUNCH");

        long first = 0;
        uint64_t first_ms = 0, healthy_ms = 0;
        bool starting_seen = false, metrics_while_starting = false, fast_while_starting = false;
        while (test_now_ms() - t0 < 10000 && !healthy_ms) {
                struct test_response h = test_http(&d, "GET", "/healthz", NULL);
                if (h.status && !first) {
                        first = h.status;
                        first_ms = test_now_ms() - t0;
                }
                if (h.status == 503 && strstr(h.body, "\"starting\"")) {
                        starting_seen = true;
                        struct test_response m = test_http(&d, "GET", "/metrics", NULL);
                        metrics_while_starting |= m.status == 200 && strstr(m.body, "vmstatd_build_info") != NULL;
                        fast_while_starting |= m.status == 200 && strstr(m.body, "vmstatd_vm_info{vm=\"fast\"") != NULL;
                        test_response_free(&m);
                } else if (h.status == 200) {
                        healthy_ms = test_now_ms() - t0;
                }
                test_response_free(&h);
                if (!healthy_ms)
                        test_sleep_ms(20);
        }
        fprintf(stderr, "test_start: first /healthz answer %ld after %llu ms, 200 after %llu ms\n", first,
                (unsigned long long) first_ms, (unsigned long long) healthy_ms);
        ck_assert_msg(starting_seen, "never saw /healthz 503 starting (first answer %ld after %llu ms): %s", first,
                      (unsigned long long) first_ms, test_read_file(d.log_path));
        ck_assert_msg(first == 503 && first_ms < 2000, "first /healthz answer %ld after %llu ms", first,
                      (unsigned long long) first_ms);
        ck_assert_msg(metrics_while_starting, "/metrics did not answer while the VMs launched");
        ck_assert_msg(fast_while_starting, "VM fast, launched, was not on /metrics while slow launched");
        ck_assert_msg(healthy_ms >= 2000, "healthy after %llu ms, before the slow worker's 2 s were up",
                      (unsigned long long) healthy_ms);
        /* once healthy, every configured VM is listed, running */
        for (int i = 0; i < 2; i++) {
                json_t *vm = test_vm_json(&d, i ? "slow" : "fast");
                ck_assert_msg(vm, "VM %s not listed once healthy", i ? "slow" : "fast");
                ck_assert_str_eq(json_string_value(json_object_get(vm, "state")), "running");
                json_decref(vm);
        }
        test_daemon_stop(&d);
        free(dir);
        free(logdir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("start");
        TCase *tc = tcase_create("start");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, serves_while_launching);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
