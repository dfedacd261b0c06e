/* Shared by every Check binary: run one suite, exit status from its result; processes a test
 * starts die with it; a test that cannot run says so and is counted as skipped. */
#ifndef TESTS_SUITE_H
#define TESTS_SUITE_H

#include <check.h>
#include <stdbool.h>
#include <sys/types.h>

/* ---- running a suite ------------------------------------------------------------------------ */

/* Runs s as srunner_run_all does (CK_FORK from the environment), then kills whatever is left;
 * EXIT_SUCCESS unless a test failed. What every main() returns. */
int test_run_suite(Suite *s);
/* The same with the fork mode and the output chosen, keeping the runner for its results (a
 * suite run inside a test); the caller srunner_free()s it. */
SRunner *test_run_suite_with(Suite *s, enum fork_status fork, enum print_output print);

/* Every TCase gets a checked fixture that ends every process the previous test left (in fork
 * mode a failed test _exits before any teardown of its own) and whatever this test left (in
 * CK_NOFORK mode a failure longjmps to the teardowns). The macro makes sure no binary can
 * forget it, including files that call tcase_create() before they know of it. */
TCase *test_tcase_create(const char *name);
#define tcase_create(name) test_tcase_create(name)

/* ---- processes that die with the test ------------------------------------------------------ */

/* fork() for tests: the child gets PR_SET_PDEATHSIG SIGKILL (so it dies with a test that
 * _exits on a failed assertion) and the test process becomes a child subreaper (so what the
 * child starts and orphans stays findable). Returns 0 in the child, its pid in the parent;
 * fails the test when fork fails. Call it from the test's own thread: the parent-death
 * signal follows the thread that forked.
 * A process started inside a test is killed, with every descendant, when that test ends; one
 * started outside any test (an unchecked fixture, main) lives until the suite ends. */
pid_t test_fork(void);
/* test_fork() and execvp(argv[0], argv); stdout and stderr go to log (created, truncated) when
 * it is not NULL. */
pid_t test_spawn(const char *const *argv, const char *log);
/* SIGKILLs every descendant of this process (while a test runs, all but those started outside
 * tests) and reaps those that are its children. */
void test_kill_children(void);
/* false once pid has exited (a zombie counts as gone) */
bool test_pid_alive(pid_t pid);

/* ---- files ------------------------------------------------------------------------------------ */

/* A new directory <suite dir>/<prefix>-XXXXXX (malloc'd path); fails the test when it cannot.
 * The suite's directory, /tmp/vmstatd-tests-XXXXXX, goes when the suite ends, pass or fail
 * (VMSTATD_KEEP_TMP=1 keeps it). */
char *test_mkdtemp(const char *prefix);

/* ---- skipping --------------------------------------------------------------------------------- */

/* VMSTATD_STRICT=1 (make check STRICT=1): a skip is a failure. */
bool test_strict(void);
/* Prints "SKIP: <test>: <reason>" (scripts/run-tests.sh counts these lines) or, under
 * VMSTATD_STRICT=1, fails the test with the reason. Call it from a test (or a helper the test
 * calls, not a fixture: the test's name comes from Check) and return at once; TEST_SKIP does
 * both. A second skip in the same test fails it. */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define TEST_SKIP(...)                     \
        do {                               \
                test_skip(__VA_ARGS__);    \
                return;                    \
        } while (0)

#endif
