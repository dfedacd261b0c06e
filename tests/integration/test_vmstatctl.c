/* vmstatctl against a real vmstatd: list, stats, --json and the usage and reachability errors
 * over the read-only HTTP port (--url) and the control socket; top under a pseudo-terminal
 * (util-linux `script` for two refreshes, a pty of our own for q, signals and the terminal's
 * restored modes); pause and resume over the control socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>

#include "daemon_helper.h"

static struct test_daemon d;
static bool up;
static const char *no_daemon; /* why up is false: the tests skip with it */
static char sock_dir[64], sock[128];
static char ctl_bin[512];
static const char *const *ctl_wrap; /* runs vmstatctl through this command (NULL-terminated), if set */

struct run {
        int status; /* exit status, or 128 + signal */
        char *out, *err;
};

static char *slurp_fd(int fd) {
        lseek(fd, 0, SEEK_SET);
        FILE *f = fdopen(fd, "r");
        char *buf = test_read_all(f);
        fclose(f); /* closes fd */
        return buf;
}

static int tmpfile_fd(void) {
        char path[] = "/tmp/vmstatctl-test-XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        unlink(path);
        return fd;
}

/* runs vmstatctl with the given arguments (NULL-terminated), stdin /dev/null */
static struct run ctl_argv(const char *const *args) {
        const char *argv[40];
        size_t n = 0;
        for (size_t i = 0; ctl_wrap && ctl_wrap[i] && n < 8; i++)
                argv[n++] = ctl_wrap[i];
        argv[n++] = ctl_bin;
        for (size_t i = 0; args[i] && n < 39; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        int out = tmpfile_fd(), err = tmpfile_fd();
        pid_t pid = test_fork();
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY);
                dup2(null, 0);
                dup2(out, 1);
                dup2(err, 2);
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        struct run r = { .status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st) };
        r.out = slurp_fd(out);
        r.err = slurp_fd(err);
        ck_assert_msg(!strstr(r.err, "Sanitizer") && !strstr(r.err, "runtime error"), "sanitizer report: %s", r.err);
        return r;
}

#define ctl(...) ctl_argv((const char *const[]) { __VA_ARGS__, NULL })

static void run_free(struct run *r) {
        free(r->out);
        free(r->err);
}

static void assert_run(const struct run *r, int status, const char *what) {
        ck_assert_msg(r->status == status, "vmstatctl %s: exit %d, expected %d\nstdout: %s\nstderr: %s", what, r->status,
                      status, r->out, r->err);
}

static void find_bin(void) {
        const char *env = getenv("VMSTATCTL_BIN");
        if (env) {
                snprintf(ctl_bin, sizeof(ctl_bin), "%s", env);
                return;
        }
        char daemon[512]; /* next to the daemon under test: build/bin or build/san/bin */
        snprintf(daemon, sizeof(daemon), "%s", getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd");
        snprintf(ctl_bin, sizeof(ctl_bin), "%s/vmstatctl", dirname(daemon));
}

static void setup(void) {
        find_bin();
        ck_assert_msg(access(ctl_bin, X_OK) == 0, "%s: %s (build it: make build/bin/vmstatctl)", ctl_bin, strerror(errno));
        up = false;
        no_daemon = test_daemon_unavailable();
        if (no_daemon)
                return;
        char *dir = test_mkdtemp("vmstatctl");
        snprintf(sock_dir, sizeof(sock_dir), "%s", dir);
        free(dir);
        snprintf(sock, sizeof(sock), "%s/control.sock", sock_dir);
        const char *args[] = { "--control-socket", sock, NULL };
        up = test_daemon_start(&d, args);
}

static void teardown(void) {
        if (up)
                test_daemon_stop(&d);
        if (!no_daemon)
                rmdir(sock_dir);
}

#define REQUIRE_UP()                                \
        do {                                        \
                if (!up)                            \
                        TEST_SKIP("%s", no_daemon); \
        } while (0)

static unsigned count(const char *hay, const char *needle) {
        unsigned n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* the line of out that starts with prefix (after blanks), or NULL */
static const char *line_starting(const char *out, const char *prefix) {
        for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                const char *q = p + strspn(p, " ");
                if (strncmp(q, prefix, strlen(prefix)) == 0)
                        return q;
        }
        return NULL;
}

START_TEST(list_over_http) {
        REQUIRE_UP();
        struct run r = ctl("--url", d.base, "list");
        assert_run(&r, 0, "list");
        const char *cols[] = { "NAME", "STATE", "VCPUS", "MEMORY", "UPTIME", "READY%", "STEAL%", "EXITS/s" };
        for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
                ck_assert_msg(strstr(r.out, cols[i]), "no %s column: %s", cols[i], r.out);
        const char *b13 = line_starting(r.out, "b13 ");
        ck_assert_msg(b13, "no b13 row: %.3000s", r.out);
        char name[40], state[16], mem[16];
        unsigned vcpus;
        ck_assert_int_eq(sscanf(b13, "%39s %15s %u %15s", name, state, &vcpus, mem), 4);
        ck_assert_str_eq(state, "running");
        ck_assert_uint_eq(vcpus, 2);
        ck_assert_str_eq(mem, "64M");
        ck_assert_str_eq(r.err, "");
        run_free(&r);
}
END_TEST

START_TEST(json_is_the_servers) {
        REQUIRE_UP();
        struct run r = ctl("--url", d.base, "--json", "list");
        assert_run(&r, 0, "--json list");
        json_t *j = json_loads(r.out, 0, NULL);
        ck_assert_msg(j, "list --json is not JSON: %.3000s", r.out);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "vms"), 0), "name")), "b13");
        ck_assert(json_is_number(json_object_get(j, "interval_seconds")));
        json_decref(j);
        run_free(&r);

        r = ctl("--url", d.base, "stats", "b13", "--json"); /* options after the command too */
        assert_run(&r, 0, "stats b13 --json");
        j = json_loads(r.out, 0, NULL);
        ck_assert_msg(j, "stats --json is not JSON: %.3000s", r.out);
        ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "b13");
        ck_assert_uint_eq(json_array_size(json_object_get(j, "vcpus")), 2);
        json_decref(j);
        run_free(&r);

        r = ctl("--url", d.base, "--json", "top", "--iterations", "1"); /* one document per VM */
        assert_run(&r, 0, "--json top --iterations 1");
        j = json_loads(r.out, 0, NULL);
        ck_assert_msg(j, "top --json is not one JSON document: %.3000s", r.out);
        ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "b13");
        json_decref(j);
        run_free(&r);
}
END_TEST

/* the value column of "  name  value ..." in section vcpu N */
static long long stat_value(const char *out, unsigned vcpu, const char *name) {
        char header[32];
        snprintf(header, sizeof(header), "vcpu %u ", vcpu);
        const char *sec = strstr(out, header);
        ck_assert_msg(sec, "no section '%s': %s", header, out);
        char key[64];
        snprintf(key, sizeof(key), "%s ", name); /* "runs", not "runstate_seconds..." */
        const char *line = line_starting(sec, key);
        ck_assert_msg(line, "no %s in vcpu %u", name, vcpu);
        long long v;
        ck_assert_msg(sscanf(line + strlen(key), " %lld", &v) == 1, "%s: not a number: %.*s", name,
                      (int) strcspn(line, "\n"), line);
        return v;
}

/* vCPU 0's KVM_RUN calls in the latest sample */
/* vCPU 0's field (its member sub, unless NULL) as /vms/b13 serves it */
static long long served_vcpu0(const char *field, const char *sub) {
        struct test_response resp = test_http(&d, "GET", "/vms/b13", NULL);
        json_t *j = json_loadb(resp.body, resp.len, 0, NULL);
        json_t *v = json_object_get(json_array_get(json_object_get(j, "vcpus"), 0), field);
        long long n = json_integer_value(sub ? json_object_get(v, sub) : v);
        json_decref(j);
        test_response_free(&resp);
        return n;
}

START_TEST(stats_lists_every_counter) {
        REQUIRE_UP();
        /* the first samples may precede vCPU 0's first port write: its first exits can be
         * interrupts while the guest still starts (slow where CPL0 code is emulated) */
        long long served_io_out = 0;
        for (int i = 0; i < 100 && (served_io_out = served_vcpu0("exits", "io_out")) == 0; i++) {
                struct timespec ts = { 0, 100 * 1000000L };
                nanosleep(&ts, NULL);
        }
        ck_assert_msg(served_io_out > 0, "vCPU 0 of b13 wrote no port in 10 s");
        struct run r = ctl("--url", d.base, "stats", "b13");
        assert_run(&r, 0, "stats b13");
        ck_assert_msg(strstr(r.out, "VM b13: running, 2 vCPUs"), "%.3000s", r.out);
        ck_assert_msg(strstr(r.out, "DESCRIPTION"), "%.3000s", r.out);
        ck_assert_uint_eq(count(r.out, "\nvcpu "), 2);
        const char *names[] = { "runstate_seconds.running", "runstate_seconds.runnable", "runstate_seconds.blocked",
                                "runstate_seconds.offline", "ready_pct", "steal_pct.kvm", "steal_pct.xen",
                                "exits.io_out", "exits.mmio_read", "exits.hlt", "exits.unknown", "runs",
                                "immediate_exits", "unhandled.io", "unhandled.mmio", "exit_handling.count" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char key[64];
                snprintf(key, sizeof(key), "  %s ", names[i]);
                ck_assert_msg(count(r.out, key) == 2, "%s: %u lines, expected one per vCPU", names[i], count(r.out, key));
        }
        /* every counter line has a description after its columns */
        const char *io_out = line_starting(strstr(r.out, "vcpu 0 "), "exits.io_out");
        ck_assert_msg(strstr(io_out, "KVM_EXIT_IO") < strchr(io_out, '\n'), "%.*s", (int) strcspn(io_out, "\n"), io_out);
        ck_assert_msg(strstr(r.out, "  kvm."), "no KVM stats lines: %.3000s", r.out); /* from the stats fd */
        /* the numbers are the daemon's: exits sum to runs, and they only grow */
        long long runs = stat_value(r.out, 0, "runs"), sum = 0;
        const char *reasons[] = { "io_in", "io_out", "mmio_read", "mmio_write", "hlt", "intr", "shutdown",
                                  "system_event", "internal_error", "fail_entry", "hypercall", "msr", "debug",
                                  "irq_window", "unknown" };
        for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
                char key[64];
                snprintf(key, sizeof(key), "exits.%s", reasons[i]);
                sum += stat_value(r.out, 0, key);
        }
        ck_assert_int_gt(runs, 0);
        ck_assert_int_eq(sum, runs);
        ck_assert_int_ge(served_vcpu0("runs", NULL), runs);
        /* perf kvm stat's table per vCPU (vCPU 0 has written ports: see above): the demo guest's
         * port writes are a row with its count, and the shares of handling time add up to 100 % */
        const char *vcpu0 = strstr(r.out, "vcpu 0 "), *vcpu1 = strstr(r.out, "vcpu 1 ");
        const char *table = strstr(vcpu0, "  exit handling ");
        ck_assert_msg(table && table < vcpu1, "vCPU 0 has no exit table: %.3000s", vcpu0);
        const char *row = strstr(table, "\n  io_out ");
        ck_assert_msg(row && row < vcpu1, "no io_out row in vCPU 0's exit table: %.3000s", table);
        long long rows = 0;
        double share = 0, pct;
        char name[32];
        unsigned long long n;
        for (const char *l = strchr(table, '\n') + 1;
             sscanf(l, " %31s %llu %*f us %*f us %lf%%", name, &n, &pct) == 3; l = strchr(l, '\n') + 1) {
                if (strcmp(name, "io_out") == 0)
                        ck_assert_int_le((long long) n, stat_value(r.out, 0, "exits.io_out"));
                share += pct;
                rows++;
        }
        ck_assert_int_gt(rows, 0);
        ck_assert_msg(share > 99.5 && share < 100.5, "shares add up to %.2f %%", share);
        run_free(&r);
}
END_TEST

START_TEST(usage_errors_exit_2) {
        REQUIRE_UP();
        struct {
                const char *args[6];
                const char *says;
        } cases[] = {
                { { NULL }, "Usage:" },
                { { "frob" }, "unknown command 'frob'" },
                { { "stats" }, "vmstatctl stats NAME" },
                { { "pause" }, "vmstatctl pause NAME" },
                { { "stats", "B13" }, "'B13' is not a VM name" },
                { { "stats", "../x" }, "is not a VM name" },
                { { "list", "extra" }, "too many arguments" },
                { { "--url", "http://127.0.0.1:1", "pause", "b13" }, "actions go over the control socket only" },
                { { "top", "--iterations", "0" }, "--iterations '0'" },
                { { "list", "--iterations", "2" }, "--iterations is for top" },
                { { "--bogus", "list" }, "Try 'vmstatctl --help'" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct run r = ctl_argv(cases[i].args);
                char what[128];
                snprintf(what, sizeof(what), "case %zu (%s)", i, cases[i].args[0] ? cases[i].args[0] : "no args");
                assert_run(&r, 2, what);
                ck_assert_msg(strstr(r.err, cases[i].says), "%s: stderr '%s', expected '%s'", what, r.err, cases[i].says);
                run_free(&r);
        }
        struct run h = ctl("--help");
        assert_run(&h, 0, "--help");
        ck_assert_msg(strstr(h.out, "stats NAME") && strstr(h.out, "--socket"), "%s", h.out);
        run_free(&h);
}
END_TEST

/* The verb table, row by row: each verb's argument count, NAME check, control-socket-only
 * refusal and --iterations, with the exact sentences; no daemon needed. */
START_TEST(verb_table_checks_every_verb) {
        char closed[64];
        snprintf(closed, sizeof(closed), "http://127.0.0.1:%d", test_free_port());
        struct {
                const char *args[6];
                int status;
                const char *err; /* the whole of stderr, or with status 1 a part of it */
        } cases[] = {
                { { "list", "b13" }, 2, "vmstatctl: list: too many arguments\n" },
                { { "stats" }, 2, "vmstatctl: usage: vmstatctl stats NAME\n" },
                { { "stats", "b13", "c" }, 2, "vmstatctl: usage: vmstatctl stats NAME\n" },
                { { "top", "b13", "c" }, 2, "vmstatctl: top: too many arguments\n" },
                { { "console" }, 2, "vmstatctl: usage: vmstatctl console NAME\n" },
                { { "console", "b13", "c" }, 2, "vmstatctl: usage: vmstatctl console NAME\n" },
                { { "start" }, 2, "vmstatctl: usage: vmstatctl start NAME\n" },
                { { "stop", "b13", "c" }, 2, "vmstatctl: usage: vmstatctl stop NAME\n" },
                { { "pause", "b13", "c" }, 2, "vmstatctl: usage: vmstatctl pause NAME\n" },
                { { "resume" }, 2, "vmstatctl: usage: vmstatctl resume NAME\n" },
                { { "daemon-reexec", "b13" }, 2, "vmstatctl: daemon-reexec: too many arguments\n" },
                { { "lis" }, 2, "vmstatctl: unknown command 'lis' (list, stats, top, console, start, stop, pause, "
                                "resume, daemon-reexec)\n" },
                { { "" }, 2, "vmstatctl: unknown command '' (list, stats, top, console, start, stop, pause, resume, "
                             "daemon-reexec)\n" },
                { { "top", "B13" }, 2, "vmstatctl: 'B13' is not a VM name (names are [a-z0-9_-]{1,32})\n" },
                { { "console", "" }, 2, "vmstatctl: '' is not a VM name (names are [a-z0-9_-]{1,32})\n" },
                { { "start", "abcdefghijabcdefghijabcdefghij123" }, 2,
                  "vmstatctl: 'abcdefghijabcdefghijabcdefghij123' is not a VM name (names are [a-z0-9_-]{1,32})\n" },
                { { "--url", closed, "start", "b13" }, 2,
                  "vmstatctl: start: actions go over the control socket only (drop --url; see --socket)\n" },
                { { "--url", closed, "stop", "b13" }, 2,
                  "vmstatctl: stop: actions go over the control socket only (drop --url; see --socket)\n" },
                { { "--url", closed, "resume", "b13" }, 2,
                  "vmstatctl: resume: actions go over the control socket only (drop --url; see --socket)\n" },
                { { "--url", closed, "daemon-reexec" }, 2,
                  "vmstatctl: daemon-reexec: actions go over the control socket only (drop --url; see --socket)\n" },
                { { "stats", "b13", "-n", "1" }, 2, "vmstatctl: --iterations is for top\n" },
                { { "console", "b13", "-n", "1" }, 2, "vmstatctl: --iterations is for top\n" },
                { { "pause", "b13", "-n", "1" }, 2, "vmstatctl: --iterations is for top\n" },
                /* reads may go over --url: past the checks, to the closed port */
                { { "--url", closed, "list" }, 1, "cannot reach vmstatd at http://127.0.0.1:" },
                { { "--url", closed, "top", "-n", "1" }, 1, "cannot reach vmstatd at http://127.0.0.1:" },
                { { "--url", closed, "top", "b13" }, 1, "cannot reach vmstatd at http://127.0.0.1:" },
                { { "--url", closed, "console", "b13" }, 1, "cannot reach vmstatd at http://127.0.0.1:" },
                { { "--socket", "/nonexistent/vmstatd.sock", "daemon-reexec" }, 1, "cannot reach vmstatd at /nonexistent" },
        };
        find_bin();
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct run r = ctl_argv(cases[i].args);
                char what[128];
                snprintf(what, sizeof(what), "case %zu (%s %s)", i, cases[i].args[0],
                         cases[i].args[1] ? cases[i].args[1] : "");
                assert_run(&r, cases[i].status, what);
                if (cases[i].status == 2)
                        ck_assert_msg(strcmp(r.err, cases[i].err) == 0, "%s: stderr '%s', expected '%s'", what, r.err,
                                      cases[i].err);
                else
                        ck_assert_msg(strstr(r.err, cases[i].err), "%s: stderr '%s'", what, r.err);
                ck_assert_msg(cases[i].status == 1 || r.out[0] == 0, "%s: stdout '%s'", what, r.out);
                run_free(&r);
        }
        /* --help has a line for every verb, from the same rows */
        struct run h = ctl("--help");
        assert_run(&h, 0, "--help");
        const char *lines[] = { "\n  list   ", "\n  stats NAME   ", "\n  top [NAME]   ", "\n  console NAME   ",
                                "\n  start|stop|pause|resume NAME\n", "\n  daemon-reexec   " };
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
                ck_assert_msg(strstr(h.out, lines[i]), "--help has no '%s': %s", lines[i], h.out);
        run_free(&h);
}
END_TEST

/* Each verb runs its own code under its own name: the daemon's answer for a VM it lacks, to a
 * GET for the reads and to a POST (which names the VM) for the actions. */
START_TEST(each_verb_runs_as_itself) {
        REQUIRE_UP();
        const char *verbs[] = { "stats", "top", "console", "start", "stop", "pause", "resume" };
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
                struct run r = ctl("--socket", sock, verbs[i], "nosuch");
                char want[96];
                snprintf(want, sizeof(want), "vmstatctl: %s nosuch: no such VM%s\n", verbs[i], i < 3 ? "" : ": nosuch");
                assert_run(&r, 1, verbs[i]);
                ck_assert_msg(strcmp(r.err, want) == 0, "%s nosuch: stderr '%s', expected '%s'", verbs[i], r.err, want);
                run_free(&r);
        }
}
END_TEST

START_TEST(unreachable_daemon_exit_1) {
        REQUIRE_UP();
        struct run r = ctl("--socket", "/nonexistent/vmstatd.sock", "list");
        assert_run(&r, 1, "list on a missing socket");
        ck_assert_str_eq(r.err, "vmstatctl: cannot reach vmstatd at /nonexistent/vmstatd.sock: No such file or directory "
                                "(is vmstatd running? are you in group vmstatd?)\n");
        run_free(&r);
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", test_free_port());
        r = ctl("--url", url, "stats", "b13");
        assert_run(&r, 1, "stats on a closed port");
        ck_assert_msg(strstr(r.err, "cannot reach vmstatd at http://127.0.0.1:") && strstr(r.err, "Connection refused"),
                      "%s", r.err);
        run_free(&r);
        r = ctl("--url", d.base, "stats", "nosuch");
        assert_run(&r, 1, "stats nosuch");
        ck_assert_str_eq(r.err, "vmstatctl: stats nosuch: no such VM\n");
        run_free(&r);
}
END_TEST

/* `script` gives top a pty as stdin and stdout, as a person's terminal */
START_TEST(top_two_refreshes_under_script) {
        REQUIRE_UP();
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "script -qfec '%s --url %s top --iterations 2' /dev/null </dev/null", ctl_bin, d.base);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        char *out = calloc(1, 1 << 20);
        size_t n = fread(out, 1, (1 << 20) - 1, p);
        int st = pclose(p);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        out[n] = 0;
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "script: status %d: %s", st, out);
        ck_assert_msg(count(out, "\033[H\033[2J") == 2, "%u screen clears, expected 2: %s", count(out, "\033[H\033[2J"), out);
        ck_assert_msg(count(out, "%RDY") == 2, "%u headers with %%RDY, expected 2: %s", count(out, "%RDY"), out);
        const char *cols[] = { "%RUN", "%BLK", "%OFF", "EXITS/s", "IO_OUT", "MMIO_R" };
        for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
                ck_assert_msg(strstr(out, cols[i]), "no %s: %s", cols[i], out);
        ck_assert_msg(strstr(out, "b13"), "%s", out);
        ck_assert_msg(strstr(out, "\033[?25h"), "the cursor was not shown again: %s", out);
        ck_assert_msg(!strstr(out, "Sanitizer") && !strstr(out, "runtime error"), "sanitizer report: %s", out);
        double s = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        /* the daemon samples every 200 ms: top refreshes once a second, not faster */
        ck_assert_msg(s >= 0.9 && s < 5, "two refreshes took %.2f s", s);
        free(out);
}
END_TEST

struct pty_child {
        pid_t pid;
        int master;
        char *out;
        size_t len;
};

static struct pty_child top_in_pty(const char *const *extra) {
        struct pty_child c = { 0 };
        const char *argv[16] = { ctl_bin, "--url", d.base, "top" };
        size_t n = 4;
        for (size_t i = 0; extra && extra[i]; i++)
                argv[n++] = extra[i];
        struct winsize ws = { .ws_row = 40, .ws_col = 200 };
        int slave;
        ck_assert_int_eq(openpty(&c.master, &slave, NULL, NULL, &ws), 0);
        c.pid = test_fork(); /* forkpty, but dying with the test */
        if (c.pid == 0) {
                close(c.master);
                if (login_tty(slave) < 0)
                        _exit(126);
                execv(ctl_bin, (char *const *) argv);
                _exit(127);
        }
        close(slave);
        c.out = calloc(1, 1 << 20);
        return c;
}

/* reads the child's terminal until needle has appeared `times` times or ms pass */
static bool pty_wait_for(struct pty_child *c, const char *needle, unsigned times, int ms) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                if (count(c->out, needle) >= times)
                        return true;
                clock_gettime(CLOCK_MONOTONIC, &t);
                int left = ms - (int) ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
                struct pollfd p = { .fd = c->master, .events = POLLIN };
                if (left <= 0 || poll(&p, 1, left) <= 0)
                        return false;
                ssize_t k = read(c->master, c->out + c->len, (1 << 20) - 1 - c->len);
                if (k <= 0)
                        return count(c->out, needle) >= times;
                c->len += (size_t) k;
                c->out[c->len] = 0;
        }
}

/* waits up to ms for the child, reading what it writes; its status or -1 */
static int pty_reap(struct pty_child *c, int ms) {
        int st;
        for (int i = 0; i < ms / 10; i++) {
                pty_wait_for(c, "\001never\001", 1, 10); /* returns at once once the pty hangs up */
                if (waitpid(c->pid, &st, WNOHANG) == c->pid)
                        return st;
                struct timespec ts = { 0, 10 * 1000000L };
                nanosleep(&ts, NULL);
        }
        kill(c->pid, SIGKILL);
        waitpid(c->pid, &st, 0);
        return -1;
}

/* after vmstatctl left, the terminal is canonical with echo again (the master sees the
 * slave's modes) */
static void assert_terminal_restored(const struct pty_child *c) {
        struct termios t;
        ck_assert_int_eq(tcgetattr(c->master, &t), 0);
        ck_assert_msg((t.c_lflag & (ICANON | ECHO)) == (ICANON | ECHO), "terminal left with lflag %#x", t.c_lflag);
        ck_assert_msg(strstr(c->out, "\033[?25h"), "cursor not shown again");
        ck_assert_msg(!strstr(c->out, "Sanitizer") && !strstr(c->out, "runtime error"), "sanitizer report: %s", c->out);
}

START_TEST(top_quits_on_q_at_once) {
        REQUIRE_UP();
        const char *args[] = { "--iterations", "1000", NULL };
        struct pty_child c = top_in_pty(args);
        ck_assert_msg(pty_wait_for(&c, "%RDY", 1, 5000), "no first frame: %s", c.out);
        struct termios t; /* while it runs: keys without Enter, without echo */
        ck_assert_int_eq(tcgetattr(c.master, &t), 0);
        ck_assert_uint_eq(t.c_lflag & (ICANON | ECHO), 0);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert_int_eq(write(c.master, "q", 1), 1);
        int st = pty_reap(&c, 3000);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, c.out);
        ck_assert_msg(s < 0.5, "q took %.2f s to quit (the refresh is 1 s)", s);
        assert_terminal_restored(&c);
        close(c.master);
        free(c.out);
}
END_TEST

START_TEST(top_restores_the_terminal_on_signals) {
        REQUIRE_UP();
        int sigs[] = { SIGTERM, SIGINT, SIGHUP };
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
                struct pty_child c = top_in_pty(NULL);
                ck_assert_msg(pty_wait_for(&c, "%RDY", 1, 5000), "no first frame: %s", c.out);
                kill(c.pid, sigs[i]);
                int st = pty_reap(&c, 3000);
                ck_assert_msg(st != -1, "vmstatctl top ignored %s", strsignal(sigs[i]));
                if (sigs[i] == SIGINT) /* ^C is how a person quits: exit 0 */
                        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGINT: status %#x", st);
                else /* others: die of the signal once the terminal is back */
                        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i], "%s: status %#x", strsignal(sigs[i]), st);
                assert_terminal_restored(&c);
                close(c.master);
                free(c.out);
        }
}
END_TEST

START_TEST(top_one_vm_over_the_socket) {
        REQUIRE_UP();
        struct run r = ctl("--socket", sock, "top", "b13", "--iterations", "1");
        assert_run(&r, 0, "top b13 --iterations 1");
        ck_assert_msg(strstr(r.out, "%RDY") && line_starting(r.out, "b13 "), "%.3000s", r.out);
        ck_assert_msg(strstr(r.out, "\033[2J") == NULL, "escape codes into a pipe: %.3000s", r.out);
        run_free(&r);
        r = ctl("--socket", sock, "top", "nosuch", "--iterations", "1");
        assert_run(&r, 1, "top nosuch");
        ck_assert_str_eq(r.err, "vmstatctl: top nosuch: no such VM\n");
        run_free(&r);
}
END_TEST

/* list over the socket until b13 shows state (the daemon samples every 200 ms) */
static void wait_listed_state(const char *state) {
        char last[4096] = "";
        for (int i = 0; i < 50; i++) {
                struct run r = ctl("--socket", sock, "list");
                assert_run(&r, 0, "list over the socket");
                const char *row = line_starting(r.out, "b13 ");
                char name[40], st[16];
                bool match = row && sscanf(row, "%39s %15s", name, st) == 2 && strcmp(st, state) == 0;
                snprintf(last, sizeof(last), "%.3000s", r.out);
                run_free(&r);
                if (match)
                        return;
                struct timespec ts = { 0, 100 * 1000000L };
                nanosleep(&ts, NULL);
        }
        ck_abort_msg("b13 never listed as %s: %s", state, last);
}

START_TEST(pause_and_resume) {
        REQUIRE_UP();
        struct run r = ctl("--socket", sock, "pause", "b13");
        assert_run(&r, 0, "pause b13");
        ck_assert_msg(r.out[0] && r.err[0] == 0, "stdout '%s' stderr '%s'", r.out, r.err);
        run_free(&r);
        wait_listed_state("paused");

        r = ctl("--socket", sock, "pause", "b13"); /* already paused: the server says why */
        assert_run(&r, 1, "pause b13 twice");
        ck_assert_msg(strncmp(r.err, "vmstatctl: pause b13: ", 22) == 0 && strlen(r.err) > 23, "%s", r.err);
        run_free(&r);

        r = ctl("--socket", sock, "--json", "resume", "b13");
        assert_run(&r, 0, "--json resume b13");
        json_t *j = json_loads(r.out, 0, NULL);
        ck_assert_msg(j, "not JSON: %.3000s", r.out);
        ck_assert_str_eq(json_string_value(json_object_get(j, "vm")), "b13");
        ck_assert_str_eq(json_string_value(json_object_get(j, "action")), "resume");
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "running");
        json_decref(j);
        run_free(&r);
        wait_listed_state("running");

        r = ctl("--socket", sock, "resume", "nosuch");
        assert_run(&r, 1, "resume nosuch");
        ck_assert_msg(strncmp(r.err, "vmstatctl: resume nosuch: ", 26) == 0 && strlen(r.err) > 27, "%s", r.err);
        run_free(&r);

        /* reads work over the socket too */
        r = ctl("--socket", sock, "stats", "b13");
        assert_run(&r, 0, "stats over the socket");
        ck_assert_uint_eq(count(r.out, "\nvcpu "), 2);
        run_free(&r);
}
END_TEST

START_TEST(stop_and_start) {
        REQUIRE_UP();
        struct run r = ctl("--socket", sock, "stop", "b13");
        assert_run(&r, 0, "stop b13");
        run_free(&r);
        wait_listed_state("stopped");
        r = ctl("--socket", sock, "start", "b13");
        assert_run(&r, 0, "start b13");
        run_free(&r);
        wait_listed_state("running");
}
END_TEST

/* `make run` by a user, then vmstatctl with no flags at all. In a mount namespace of this
 * test: an empty /run and /tmp/vmstatd-65534 (a machine where no vmstatd ever ran) and a
 * /dev/kvm the user may open (as group kvm gives on a desktop). The daemon, given nothing but
 * its listen address, runs as user nobody; it takes $XDG_RUNTIME_DIR/vmstatd when the session has one,
 * else /tmp/vmstatd-UID, and vmstatctl, as the same user, finds it there for list, stats, top
 * and an action. (Root takes /run/vmstatd, systemd's RuntimeDirectory= wins: test_config.) */
static const char *const as_nobody[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", NULL };

static void defaults_meet(const char *xdg, const char *want_dir) {
        char sock_path[128], worker_sock[128], listen[32];
        struct test_daemon dd;
        test_daemon_prepare(&dd, listen);
        snprintf(sock_path, sizeof(sock_path), "%s/control.sock", want_dir);
        snprintf(worker_sock, sizeof(worker_sock), "%s/vms/b13.sock", want_dir);
        if (xdg)
                setenv("XDG_RUNTIME_DIR", xdg, 1);
        else
                unsetenv("XDG_RUNTIME_DIR");
        const char *bin = getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd";
        const char *argv[] = { as_nobody[0], as_nobody[1], as_nobody[2], as_nobody[3], bin, "--no-config", "--listen",
                               listen, NULL };
        dd.pid = test_spawn(argv, dd.log_path);
        struct stat st;
        bool ready = false;
        for (int i = 0; i < 100 && !ready; i++) {
                struct test_response h = test_http(&dd, "GET", "/healthz", NULL);
                ready = h.status == 200 && stat(sock_path, &st) == 0;
                test_response_free(&h);
                if (!ready)
                        test_sleep_ms(100);
        }
        ck_assert_msg(ready, "no /healthz and %s within 10 s: %s", sock_path, test_read_file(dd.log_path));
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_uid, 65534);
        ck_assert_msg(stat(worker_sock, &st) == 0, "%s: %s (the worker's, for adoption)", worker_sock, strerror(errno));

        ctl_wrap = as_nobody;
        struct run r = ctl("list");
        assert_run(&r, 0, "list (no flags)");
        ck_assert_msg(line_starting(r.out, "b13 "), "%.3000s", r.out);
        run_free(&r);
        r = ctl("stats", "b13");
        assert_run(&r, 0, "stats b13 (no flags)");
        ck_assert_msg(strstr(r.out, "VM b13: running, 2 vCPUs"), "%.3000s", r.out);
        run_free(&r);
        r = ctl("top", "--iterations", "1");
        assert_run(&r, 0, "top --iterations 1 (no flags)");
        ck_assert_msg(strstr(r.out, "%RDY") && line_starting(r.out, "b13 "), "%.3000s", r.out);
        run_free(&r);
        r = ctl("pause", "b13"); /* control too, not only reads */
        assert_run(&r, 0, "pause b13 (no flags)");
        run_free(&r);
        ctl_wrap = NULL;
        test_daemon_stop(&dd);
}

START_TEST(defaults_meet_without_flags) {
        const char *why = test_daemon_unavailable();
        const char *fork_mode = getenv("CK_FORK");
        if (why)
                TEST_SKIP("%s", why);
        if (geteuid() != 0)
                TEST_SKIP("a mount namespace with an empty /run and /tmp and a /dev/kvm for user nobody needs root");
        if (fork_mode && strcmp(fork_mode, "no") == 0)
                TEST_SKIP("CK_FORK=no: the test's mount namespace would outlive it");
        find_bin();
        ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
        ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "mount: %s", strerror(errno));
        ck_assert_msg(mount("vmstatd-test", "/run", "tmpfs", 0, "mode=0755") == 0, "tmpfs on /run: %s", strerror(errno));
        struct stat kvm;
        ck_assert_int_eq(stat("/dev/kvm", &kvm), 0);
        ck_assert_int_eq(mknod("/run/kvm", S_IFCHR | 0666, kvm.st_rdev), 0);
        ck_assert_int_eq(chmod("/run/kvm", 0666), 0); /* past the umask */
        ck_assert_msg(mount("/run/kvm", "/dev/kvm", NULL, MS_BIND, NULL) == 0, "bind /dev/kvm: %s", strerror(errno));
        ck_assert_int_eq(mkdir("/run/user", 0755), 0);
        ck_assert_int_eq(mkdir("/run/user/65534", 0700), 0);
        ck_assert_int_eq(chown("/run/user/65534", 65534, 65534), 0);
        unsetenv("RUNTIME_DIRECTORY");

        defaults_meet("/run/user/65534", "/run/user/65534/vmstatd"); /* a login session's */
        /* none (su, cron, ssh without pam_systemd): /tmp/vmstatd-65534, as nobody would have made
         * it; a tmpfs of this namespace's own, so that the host's /tmp (where the build may live)
         * stays visible and keeps nothing of the test */
        bool made = mkdir("/tmp/vmstatd-65534", 0700) == 0;
        ck_assert_msg(made || errno == EEXIST, "/tmp/vmstatd-65534: %s", strerror(errno));
        if (made) /* should the test die before its rmdir: left as nobody's own, usable by them */
                ck_assert_int_eq(chown("/tmp/vmstatd-65534", 65534, 65534), 0);
        int r = mount("vmstatd-test", "/tmp/vmstatd-65534", "tmpfs", 0, "mode=0750,uid=65534,gid=65534");
        int err = errno;
        if (r == 0)
                defaults_meet(NULL, "/tmp/vmstatd-65534");
        if (r == 0)
                umount("/tmp/vmstatd-65534");
        if (made)
                rmdir("/tmp/vmstatd-65534");
        ck_assert_msg(r == 0, "tmpfs on /tmp/vmstatd-65534: %s", strerror(err));
}
END_TEST

int main(void) {
        Suite *s = suite_create("vmstatctl");
        TCase *tc = tcase_create("vmstatctl");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, list_over_http);
        tcase_add_test(tc, json_is_the_servers);
        tcase_add_test(tc, stats_lists_every_counter);
        tcase_add_test(tc, usage_errors_exit_2);
        tcase_add_test(tc, unreachable_daemon_exit_1);
        tcase_add_test(tc, each_verb_runs_as_itself);
        tcase_add_test(tc, top_two_refreshes_under_script);
        tcase_add_test(tc, top_quits_on_q_at_once);
        tcase_add_test(tc, top_restores_the_terminal_on_signals);
        tcase_add_test(tc, top_one_vm_over_the_socket);
        tcase_add_test(tc, pause_and_resume);
        tcase_add_test(tc, stop_and_start);
        suite_add_tcase(s, tc);
        TCase *verbs = tcase_create("verbs"); /* no daemon */
        tcase_add_test(verbs, verb_table_checks_every_verb);
        suite_add_tcase(s, verbs);
        TCase *def = tcase_create("defaults");
        tcase_set_timeout(def, 60);
        tcase_add_test(def, defaults_meet_without_flags);
        suite_add_tcase(s, def);
        return test_run_suite(s);
}
