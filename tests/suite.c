/* Running a suite so that a test cannot lie: whatever it started is gone before the next test
 * begins, pass or fail, fork mode or not; and a test that cannot run says so. */
#define _GNU_SOURCE
#include "suite.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- processes ---------------------------------------------------------------------------------- */

#define MAX_STARTED 256
#define MAX_PROCS 4096
#define KILL_WAIT_MS 10000

/* Processes this one started outside any test: they outlive single tests. Anything else a
 * test started is found by walking /proc (this kernel may lack /proc/PID/task/TID/children),
 * so nothing needs to be registered to be killed. */
static pid_t kept[MAX_STARTED];
static size_t n_kept;
static pid_t runner;  /* the process running the suite: in fork mode, each test's parent */
static bool in_test;  /* between our checked setup and teardown */
static bool skipped;  /* this test printed its SKIP line */

static void become_subreaper(void) {
        /* orphans of what we started (a daemon's workers) reparent to us, not to init */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
}

struct proc {
        pid_t pid, ppid;
        char state;
};

/* Every process's parent and state, from /proc/PID/stat. */
static size_t scan_procs(struct proc *out, size_t max) {
        DIR *d = opendir("/proc");
        size_t n = 0;
        if (!d) {
                fprintf(stderr, "test cleanup: /proc: %s: leftover processes cannot be found\n", strerror(errno));
                return 0;
        }
        for (struct dirent *e; n < max && (e = readdir(d));) {
                if (!isdigit((unsigned char) e->d_name[0]))
                        continue;
                char path[300], buf[512];
                snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                ssize_t len = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (len <= 0)
                        continue;
                buf[len] = 0;
                char *paren = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
                int ppid;
                char state;
                if (paren && sscanf(paren + 1, " %c %d", &state, &ppid) == 2)
                        out[n++] = (struct proc) { .pid = atoi(e->d_name), .ppid = ppid, .state = state };
        }
        closedir(d);
        return n;
}

static bool is_kept(pid_t pid) {
        for (size_t i = 0; i < n_kept; i++)
                if (kept[i] == pid)
                        return true;
        return false;
}

/* The descendants of root, leaving out the subtrees of skip (if not 0) and, when spare_kept,
 * of the processes started outside tests. Returns how many, into out. */
static size_t descendants(const struct proc *procs, size_t n, pid_t root, pid_t skip, bool spare_kept, pid_t *out,
                          size_t max) {
        size_t k = 0;
        out[k++] = root;
        for (size_t done = 0; done < k; done++) /* breadth first: out grows as we go */
                for (size_t i = 0; i < n && k < max; i++)
                        if (procs[i].ppid == out[done] && procs[i].pid != skip && !(spare_kept && is_kept(procs[i].pid)))
                                out[k++] = procs[i].pid;
        memmove(out, out + 1, (k - 1) * sizeof(*out)); /* not root itself */
        return k - 1;
}

static char state_of(const struct proc *procs, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (procs[i].pid == pid)
                        return procs[i].state;
        return 0; /* gone */
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* SIGKILLs every live descendant of root (but skip's and, with spare_kept, the kept ones'
 * subtrees) until none is left: killing a parent reparents its children to the nearest
 * subreaper, where the next round finds them. Reaps those that are our children. */
static void kill_tree(pid_t root, pid_t skip, bool spare_kept) {
        static struct proc procs[MAX_PROCS];
        static pid_t found[MAX_PROCS];
        unsigned killed = 0;
        char names[256] = "";
        for (uint64_t deadline = now_ms() + KILL_WAIT_MS;; sleep_ms(5)) {
                size_t n = scan_procs(procs, MAX_PROCS);
                size_t k = descendants(procs, n, root, skip, spare_kept, found, MAX_PROCS);
                unsigned live = 0;
                for (size_t i = 0; i < k; i++) {
                        char st = state_of(procs, n, found[i]);
                        if (st && st != 'Z' && st != 'X') {
                                if (kill(found[i], SIGKILL) == 0 && killed++ < 8)
                                        snprintf(names + strlen(names), sizeof(names) - strlen(names), " %d", found[i]);
                                live++;
                        }
                        if (st)
                                waitpid(found[i], NULL, WNOHANG); /* ECHILD unless ours */
                }
                if (!live)
                        break;
                if (now_ms() > deadline) {
                        fprintf(stderr, "test cleanup: %u processes still alive after %d ms of SIGKILL\n", live,
                                KILL_WAIT_MS);
                        break;
                }
        }
        if (killed)
                fprintf(stderr, "test cleanup: killed %u leftover processes:%s%s\n", killed, names,
                        killed > 8 ? " ..." : "");
}

pid_t test_fork(void) {
        pid_t parent = getpid();
        become_subreaper();
        fflush(NULL); /* else buffered output is written twice */
        pid_t pid = fork();
        ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent) /* the parent died before prctl: no signal will come */
                        _exit(127);
                n_kept = 0; /* the parent's; not this process's to keep or kill */
                runner = 0;
                in_test = false;
                return 0;
        }
        if (!in_test) {
                ck_assert_msg(n_kept < MAX_STARTED, "more than %d processes started outside tests", MAX_STARTED);
                kept[n_kept++] = pid;
        }
        return pid;
}

pid_t test_spawn(const char *const *argv, const char *log) {
        pid_t pid = test_fork();
        if (pid == 0) {
                if (log) {
                        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                        if (fd >= 0) {
                                dup2(fd, 1);
                                dup2(fd, 2);
                        }
                }
                execvp(argv[0], (char *const *) argv);
                fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        return pid;
}

void test_kill_children(void) {
        kill_tree(getpid(), 0, in_test);
}

/* at the end of the suite (and at exit): everything, kept or not */
static void kill_all(void) {
        kill_tree(getpid(), 0, false);
}

bool test_pid_alive(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
                return false;
        buf[len] = 0;
        char *paren = strrchr(buf, ')'), state = 0;
        return paren && sscanf(paren + 1, " %c", &state) == 1 && state != 'Z' && state != 'X';
}

/* ---- files ---------------------------------------------------------------------------------------- */

static char suite_dir[64]; /* made before the tests fork, so every test's process knows it */

char *test_mkdtemp(const char *prefix) {
        char *path;
        if (!suite_dir[0]) { /* a helper used outside test_run_suite */
                strcpy(suite_dir, "/tmp/vmstatd-tests-XXXXXX");
                ck_assert_msg(mkdtemp(suite_dir), "mkdtemp: %s", strerror(errno));
        }
        ck_assert_int_ge(asprintf(&path, "%s/%s-XXXXXX", suite_dir, prefix), 0);
        ck_assert_msg(mkdtemp(path), "mkdtemp %s: %s", path, strerror(errno));
        return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        remove(path);
        return 0;
}

/* The suite's files go with it, unless VMSTATD_KEEP_TMP=1 (for looking at a failure). */
static void remove_suite_dir(void) {
        const char *keep = getenv("VMSTATD_KEEP_TMP");
        if (!suite_dir[0])
                return;
        if (keep && strcmp(keep, "1") == 0)
                fprintf(stderr, "test files kept in %s (VMSTATD_KEEP_TMP=1)\n", suite_dir);
        else
                nftw(suite_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        suite_dir[0] = 0;
}

/* ---- the fixture on every TCase ----------------------------------------------------------------- */

static void test_begin(void) {
        become_subreaper();
        skipped = false;
        /* fork mode: a test that failed _exited, its children got SIGKILL from the kernel, but
         * their orphans went to the runner; kill them before this test starts its clock */
        if (runner && getpid() != runner)
                kill_tree(runner, getpid(), true);
        in_test = true;
}

static void test_end(void) {
        kill_tree(getpid(), 0, true);
        in_test = false;
}

TCase *test_tcase_create(const char *name) {
        TCase *tc = (tcase_create)(name); /* Check's own, not our macro */
        tcase_add_checked_fixture(tc, test_begin, test_end);
        return tc;
}

SRunner *test_run_suite_with(Suite *s, enum fork_status fork, enum print_output print) {
        static bool registered;
        runner = getpid();
        become_subreaper();
        /* vmstatd's workers outlive their daemon by design; tests' workers must not outlive the
         * tests, even a runner killed by a signal (no cleanup runs then): they watch it */
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int) runner);
        setenv("VMSTATD_WORKER_WATCH_PID", pid, 1);
        if (!registered && atexit(kill_all) == 0) /* main() returning early, exit() from a helper */
                registered = true;
        bool own_dir = !suite_dir[0];
        if (own_dir) {
                strcpy(suite_dir, "/tmp/vmstatd-tests-XXXXXX");
                if (!mkdtemp(suite_dir))
                        suite_dir[0] = 0; /* test_mkdtemp tries again, and fails the test that needs it */
        }
        SRunner *sr = srunner_create(s);
        if (fork != CK_FORK_GETENV)
                srunner_set_fork_status(sr, fork);
        srunner_run_all(sr, print);
        kill_all();
        if (own_dir)
                remove_suite_dir();
        return sr;
}

int test_run_suite(Suite *s) {
        SRunner *sr = test_run_suite_with(s, CK_FORK_GETENV, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- skipping ------------------------------------------------------------------------------------- */

bool test_strict(void) {
        const char *s = getenv("VMSTATD_STRICT");
        return s && strcmp(s, "1") == 0;
}

void test_skip(const char *fmt, ...) {
        char why[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        for (char *p = why; *p; p++) /* one line, whatever the reason quotes */
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        const char *name = tcase_name() ? tcase_name() : "(unknown test)";
        ck_assert_msg(!skipped, "%s: a second skip (%s): a test skips once and stops", name, why);
        skipped = true;
        if (test_strict())
                ck_abort_msg("%s would skip, and VMSTATD_STRICT=1 makes that a failure: %s", name, why);
        fprintf(stderr, "SKIP: %s: %s\n", name, why);
}
