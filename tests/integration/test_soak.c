/* The soak benchmark's 20 s version: bench/soak (bench/soak.c says what it does and checks)
 * with its builtin load generator, so that make check needs no wrk. Its output goes to stderr
 * as it runs; a non-zero exit fails the test with the report. The full 60 s run with wrk is
 * `build/bench/soak` (make bench). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_helper.h"

#define SOAK_SECONDS "20"
/* 20 s measured + 10 s warm-up + start, settling and exit: under a minute, slower with ASan */
#define SOAK_TIMEOUT_S 240
#define REPORT_MAX 3000

/* $VMSTATD_BIN is build/bin/vmstatd or build/san/bin/vmstatd: the bench is build[/san]/bench/soak */
static void paths(char bin[PATH_MAX], char soak[PATH_MAX]) {
        const char *b = getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd";
        char dir[PATH_MAX];
        ck_assert_msg(realpath(b, bin), "%s: %s (build it first)", b, strerror(errno));
        snprintf(dir, sizeof(dir), "%s", bin);
        snprintf(soak, PATH_MAX, "%s/bench/soak", dirname(dirname(dir)));
}

/* The criteria lines and the verdict (malloc'd); without them (it could not run) the tail of
 * what it printed, where it says why. */
static char *report_of(const char *out) {
        const char *from = strstr(out, "\n\n  "), *verdict = from ? strstr(from, "\nsoak: ") : NULL;
        if (from && verdict) {
                const char *eol = strchr(verdict + 1, '\n');
                return strndup(from, (size_t) ((eol ? eol : verdict + strlen(verdict)) - from));
        }
        size_t len = strlen(out);
        return strdup(len > REPORT_MAX ? out + len - REPORT_MAX : out);
}

START_TEST(soak_20s) {
        char bin[PATH_MAX], soak[PATH_MAX];
        const char *why = test_daemon_unavailable();
        if (why)
                TEST_SKIP("%s", why);
        paths(bin, soak);
        if (access(soak, X_OK) != 0)
                TEST_SKIP("%s: %s (make all builds it)", soak, strerror(errno));

        int pipefd[2];
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid_t pid = test_fork(); /* the bench, and through its parent-death signals the daemon, die with the test */
        if (pid == 0) {
                dup2(pipefd[1], 1);
                dup2(pipefd[1], 2);
                setenv("VMSTATD_BIN", bin, 1);
                execl(soak, soak, "--seconds", SOAK_SECONDS, "--load", "builtin", (char *) NULL);
                fprintf(stderr, "exec %s: %s\n", soak, strerror(errno));
                _exit(127);
        }
        close(pipefd[1]);
        char *out = NULL, chunk[4096];
        size_t len = 0;
        ssize_t n;
        FILE *m = open_memstream(&out, &len);
        while ((n = read(pipefd[0], chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
                if (n > 0) {
                        fwrite(chunk, 1, (size_t) n, stderr); /* shown as it comes */
                        fwrite(chunk, 1, (size_t) n, m);
                }
        close(pipefd[0]);
        fclose(m);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        char *report = report_of(out ? out : "");
        free(out);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                ck_abort_msg("%s --seconds " SOAK_SECONDS " --load builtin: %s %d\n%s", soak,
                             WIFEXITED(st) ? "exit status" : "killed by signal",
                             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), report);
        free(report);
}
END_TEST

int main(void) {
        Suite *s = suite_create("soak");
        TCase *tc = tcase_create("soak");
        tcase_set_timeout(tc, SOAK_TIMEOUT_S);
        tcase_add_test(tc, soak_20s);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
