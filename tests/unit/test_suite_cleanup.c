/* tests/suite.c, tested the way it is used: nested Check suites run by a forked runner, in
 * fork and in no-fork mode. In one, the first test starts processes (one with test_spawn, one
 * with test_fork that starts a grandchild in a session of its own, as a daemon's worker is)
 * and fails an assertion; the second test must find none of them alive, and neither must we
 * once that runner is gone. In another, a test skips: one SKIP line and a pass, or a failure
 * under VMSTATD_STRICT=1. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/suite.h"

static char pids_path[64]; /* where the nested failing test leaves the pids it started */

/* ---- the nested tests ---------------------------------------------------------------------------- */

START_TEST(starts_processes_then_fails) {
        const char *argv[] = { "sleep", "1000", NULL };
        pid_t spawned = test_spawn(argv, NULL);
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0); /* exec'd sleeps must not hold it */
        pid_t forked = test_fork();
        if (forked == 0) {
                /* a raw fork on purpose: this grandchild is what a daemon's worker is, in a session
                 * of its own and with no parent-death signal; only the subreaper can find it */
                pid_t worker = fork();
                if (worker == 0) {
                        setsid();
                        execlp("sleep", "sleep", "1000", (char *) NULL);
                        _exit(127);
                }
                if (write(p[1], &worker, sizeof(worker)) != sizeof(worker))
                        _exit(1);
                for (;;)
                        pause();
        }
        close(p[1]);
        pid_t worker = -1;
        ck_assert_int_eq(read(p[0], &worker, sizeof(worker)), sizeof(worker));
        close(p[0]);
        FILE *f = fopen(pids_path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%d %d %d\n", spawned, forked, worker);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert(test_pid_alive(spawned) && test_pid_alive(forked) && test_pid_alive(worker));
        ck_abort_msg("fails on purpose, its processes running");
}
END_TEST

static const char *const started[] = { "test_spawn's sleep", "test_fork's child",
                                       "its grandchild in a session of its own" };

static void read_pids(pid_t pids[3]) {
        FILE *f = fopen(pids_path, "re");
        ck_assert_msg(f, "the failing test left no pids in %s", pids_path);
        ck_assert_int_eq(fscanf(f, "%d %d %d", &pids[0], &pids[1], &pids[2]), 3);
        fclose(f);
}

START_TEST(finds_nothing_left) {
        pid_t pids[3];
        read_pids(pids);
        for (int i = 0; i < 3; i++)
                ck_assert_msg(!test_pid_alive(pids[i]), "%s (pid %d) outlived the failed test", started[i], pids[i]);
}
END_TEST

START_TEST(skips_with_a_reason) {
        TEST_SKIP("no %s here (%d)", "widget", 42);
        ck_abort_msg("ran on after TEST_SKIP");
}
END_TEST

/* ---- running them ------------------------------------------------------------------------------------ */

struct nested {
        char results[4][512]; /* per test, in order: "P|", "F|message" or "E|message" */
        int n;
        char *output; /* what the runner printed (stdout and stderr) */
};

static char *slurp(const char *path) {
        FILE *f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        for (int c; (c = fgetc(f)) != EOF;)
                fputc(c, m);
        fclose(m);
        fclose(f);
        return buf;
}

/* Runs tests[0..n) as one suite under a forked runner in the given mode, its output captured:
 * its SKIP lines are not this binary's, and scripts/run-tests.sh must not count them. */
static struct nested run_nested(const TTest *const *tests, int n, enum fork_status mode, bool strict) {
        struct nested r = { 0 };
        char out_path[] = "/tmp/vmstatd-nested-XXXXXX";
        int out = mkstemp(out_path);
        ck_assert_int_ge(out, 0);
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0); /* exec'd sleeps must not hold it */
        pid_t runner = test_fork();
        if (runner == 0) {
                close(p[0]);
                dup2(out, 1);
                dup2(out, 2);
                const char *env[] = { "CK_RUN_SUITE", "CK_RUN_CASE", "CK_INCLUDE_TAGS", "CK_EXCLUDE_TAGS",
                                      "CK_LOG_FILE_NAME", "CK_XML_LOG_FILE_NAME", "CK_TAP_LOG_FILE_NAME" };
                for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
                        unsetenv(env[i]);
                if (strict)
                        setenv("VMSTATD_STRICT", "1", 1);
                else
                        unsetenv("VMSTATD_STRICT");
                Suite *s = suite_create("nested");
                TCase *tc = tcase_create("nested");
                tcase_set_timeout(tc, 20);
                for (int i = 0; i < n; i++)
                        tcase_add_test(tc, tests[i]);
                suite_add_tcase(s, tc);
                SRunner *sr = test_run_suite_with(s, mode, CK_SILENT);
                TestResult **res = srunner_results(sr);
                FILE *f = fdopen(p[1], "w");
                for (int i = 0; i < srunner_ntests_run(sr); i++) {
                        int t = tr_rtype(res[i]);
                        fprintf(f, "%c|%s\n", t == CK_PASS ? 'P' : t == CK_FAILURE ? 'F' : 'E',
                                t == CK_PASS ? "" : tr_msg(res[i]));
                }
                fclose(f);
                _exit(0);
        }
        close(p[1]);
        close(out);
        FILE *f = fdopen(p[0], "r");
        while (r.n < 4 && fgets(r.results[r.n], sizeof(r.results[0]), f)) {
                r.results[r.n][strcspn(r.results[r.n], "\n")] = 0;
                r.n++;
        }
        fclose(f);
        int st;
        ck_assert_int_eq(waitpid(runner, &st, 0), runner);
        r.output = slurp(out_path);
        unlink(out_path);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nested runner: status %#x:\n%s", st, r.output);
        ck_assert_msg(r.n == n, "nested runner reported %d results of %d:\n%s", r.n, n, r.output);
        return r;
}

static void failed_test_leaves_nothing(enum fork_status mode) {
        snprintf(pids_path, sizeof(pids_path), "/tmp/vmstatd-nested-pids-%d", getpid());
        unlink(pids_path);
        const TTest *tests[] = { starts_processes_then_fails, finds_nothing_left };
        struct nested r = run_nested(tests, 2, mode, false);
        ck_assert_msg(strcmp(r.results[0], "F|fails on purpose, its processes running") == 0,
                      "the failing test: '%s'\n%s", r.results[0], r.output);
        ck_assert_msg(strcmp(r.results[1], "P|") == 0, "the next test: '%s'\n%s", r.results[1], r.output);
        /* and once the runner is gone, nothing of it is left either */
        pid_t pids[3];
        read_pids(pids);
        for (int i = 0; i < 3; i++)
                ck_assert_msg(!test_pid_alive(pids[i]), "%s (pid %d) outlived the nested runner", started[i], pids[i]);
        unlink(pids_path);
        free(r.output);
}

START_TEST(failed_test_leaves_nothing_forked) {
        failed_test_leaves_nothing(CK_FORK);
}
END_TEST

START_TEST(failed_test_leaves_nothing_unforked) {
        failed_test_leaves_nothing(CK_NOFORK);
}
END_TEST

START_TEST(skip_is_one_line_and_no_failure) {
        const TTest *tests[] = { skips_with_a_reason };
        for (int mode = 0; mode < 2; mode++) {
                struct nested r = run_nested(tests, 1, mode ? CK_NOFORK : CK_FORK, false);
                ck_assert_msg(strcmp(r.results[0], "P|") == 0, "skipped test: '%s'", r.results[0]);
                ck_assert_str_eq(r.output, "SKIP: skips_with_a_reason: no widget here (42)\n");
                free(r.output);
        }
}
END_TEST

START_TEST(skip_fails_under_strict) {
        const TTest *tests[] = { skips_with_a_reason };
        struct nested r = run_nested(tests, 1, CK_FORK, true);
        ck_assert_msg(strncmp(r.results[0], "F|", 2) == 0 && strstr(r.results[0], "VMSTATD_STRICT=1") &&
                              strstr(r.results[0], "no widget here (42)"),
                      "skip under VMSTATD_STRICT=1: '%s'", r.results[0]);
        ck_assert_msg(!strstr(r.output, "SKIP:"), "a failed skip is not counted as skipped too:\n%s", r.output);
        free(r.output);
}
END_TEST

int main(void) {
        Suite *s = suite_create("suite_cleanup");
        TCase *tc = tcase_create("cleanup");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, failed_test_leaves_nothing_forked);
        tcase_add_test(tc, failed_test_leaves_nothing_unforked);
        tcase_add_test(tc, skip_is_one_line_and_no_failure);
        tcase_add_test(tc, skip_fails_under_strict);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
