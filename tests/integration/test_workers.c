/* Guests outlive the daemon: every VM runs in a worker process of its own. kill -9 of the daemon
 * leaves the guest running and a new daemon adopts it with its counters (no exit lost or counted
 * twice); daemon-reexec swaps the binary under a running scraper without one failed request; a
 * worker killed, or killed by its seccomp filter, is that VM's crash and nobody else's. */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon_helper.h"

static long long num(json_t *o, const char *key) {
        return json_integer_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

static long long vcpu_exit(json_t *vm, unsigned vcpu, const char *reason) {
        json_t *v = json_array_get(json_object_get(vm, "vcpus"), vcpu);
        return json_integer_value(json_object_get(json_object_get(v, "exits"), reason));
}

/* running + runnable + blocked + offline of one vCPU, seconds since the VM's creation */
static double runstate_sum(json_t *vm, unsigned vcpu) {
        json_t *rs = json_object_get(json_array_get(json_object_get(vm, "vcpus"), vcpu), "runstate_seconds");
        double sum = 0;
        const char *k;
        json_t *v;
        json_object_foreach(rs, k, v) sum += json_number_value(v);
        return sum;
}

/* How long the collectors of vm's sample took: its vCPUs were read that much after sample_time at most
 * (a worker slow to publish, as under ASan, makes it tens of ms) */
static double collect_seconds(json_t *vm) {
        json_t *c;
        size_t i;
        double sum = 0;
        json_array_foreach(json_object_get(vm, "collectors"), i, c)
                sum += json_number_value(json_object_get(c, "duration_seconds"));
        return sum;
}

/* VM name as a sample n samples after vm's shows it */
static json_t *later_sample(const struct test_daemon *d, const char *name, json_t *vm, unsigned n) {
        double t = test_sample_time(vm);
        json_t *later = NULL;
        for (uint64_t t0 = test_now_ms(); n && test_now_ms() - t0 < 10000; test_sleep_ms(20)) {
                json_decref(later);
                later = test_vm_json(d, name);
                ck_assert_msg(later, "/vms/%s does not answer", name);
                if (test_sample_time(later) > t) {
                        t = test_sample_time(later);
                        n--;
                }
        }
        ck_assert_msg(n == 0, "/vms/%s: no new sample in 10 s", name);
        return later;
}

/* The VM's document once pred holds (or the last one after timeout_ms); never NULL. */
static json_t *wait_vm(const struct test_daemon *d, const char *name, bool (*pred)(json_t *), unsigned timeout_ms) {
        json_t *vm = NULL;
        for (uint64_t t0 = test_now_ms();; test_sleep_ms(50)) {
                json_decref(vm);
                vm = test_vm_json(d, name);
                if ((vm && pred(vm)) || test_now_ms() - t0 > timeout_ms)
                        break;
        }
        ck_assert_msg(vm, "/vms/%s does not answer", name);
        return vm;
}

static bool has_io_out(json_t *vm) {
        return vcpu_exit(vm, 0, "io_out") > 0;
}

static bool ended(json_t *vm) {
        return strcmp(str(vm, "state"), "stopped") == 0 || strcmp(str(vm, "state"), "crashed") == 0;
}

static bool running(json_t *vm) {
        return strcmp(str(vm, "state"), "running") == 0;
}

static unsigned count(const char *text, const char *needle) {
        unsigned n = 0;
        for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* PIO exits per second of one ring-3 vCPU on this host: a pio guest's count that runs ~10 s
 * here runs ~10 s on a bare-metal host too. */
static double pio_rate(void) {
        struct test_daemon d;
        char *dir = test_config_dir();
        test_write_vm(dir, "cal", "[vm]\nmemory = 16M\nguest = builtin:pio count=1000000000000\n");
        const char *args[] = { "--config", dir, NULL };
        if (!test_daemon_start(&d, args))
                return 0;
        json_t *a = wait_vm(&d, "cal", has_io_out, 5000);
        uint64_t t0 = test_now_ms();
        test_sleep_ms(1000);
        json_t *b = test_vm_json(&d, "cal");
        double rate = (double) (vcpu_exit(b, 0, "io_out") - vcpu_exit(a, 0, "io_out")) * 1000.0 / (double) (test_now_ms() - t0);
        json_decref(a);
        json_decref(b);
        test_daemon_stop(&d);
        free(dir);
        ck_assert_msg(rate > 100, "the pio guest made %.0f exits/s", rate);
        return rate;
}

/* kill -9 of the daemon mid-run: the guest runs on; the next daemon adopts it with the same id and
 * start time, and the guest ends with exactly count + 1 OUTs (its count, then the exit port):
 * none lost or counted twice across the handover. The runstate sum still equals the vCPU's
 * lifetime: it grew by exactly the wall time between a sample of each daemon. */
START_TEST(kill9_daemon_adopted_counts_exactly) {
        struct test_daemon a, b;
        double rate = pio_rate();
        if (rate == 0)
                return;
        unsigned long long n = (unsigned long long) (rate * 10);
        char *dir = test_config_dir(), body[128];
        char *rt = test_mkdtemp("rt");
        char clog[300], cbody[512];
        snprintf(body, sizeof(body), "[vm]\nmemory = 16M\nguest = builtin:pio count=%llu\n", n);
        test_write_vm(dir, "p", body);
        test_write_vm(dir, "q", "[vm]\nmemory = 16M\nguest = builtin:demo\n");
        snprintf(clog, sizeof(clog), "%s/c.log", dir);
        snprintf(cbody, sizeof(cbody), "[vm]\nmemory = 16M\nguest = builtin:console count=20000\nconsole_log = %s\n", clog);
        test_write_vm(dir, "c", cbody);
        const char *args[] = { "--config", dir, "--runtime-dir", rt, NULL };
        if (!test_daemon_start(&a, args))
                return;
        json_t *j0 = wait_vm(&a, "p", has_io_out, 5000);
        test_sleep_ms(1000);
        json_decref(j0);
        j0 = test_vm_json(&a, "p");
        ck_assert_str_eq(str(j0, "state"), "running");
        pid_t worker = (pid_t) num(j0, "worker_pid");
        ck_assert_int_gt(worker, 0);
        ck_assert_int_ne(worker, a.pid);
        ck_assert_int_eq(kill(a.pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(a.pid, NULL, 0), a.pid);
        test_sleep_ms(300);
        ck_assert_msg(kill(worker, 0) == 0, "the worker died with its daemon");

        json_t *q0 = test_vm_json(&a, "q"); /* taken before a died; q changes while no daemon runs */
        test_write_vm(dir, "q", "[vm]\nmemory = 32M\nguest = builtin:demo\n");
        ck_assert(test_daemon_start(&b, args));
        char *log = test_wait_log(&b, "adopted", 1000);
        ck_assert_msg(strstr(log, "p: adopted: worker"), "no adoption in the log:\n%s", log);
        free(log);
        json_t *j1 = test_vm_json(&b, "p");
        ck_assert_int_eq(num(j1, "id"), num(j0, "id"));
        ck_assert_str_eq(str(j1, "start_time"), str(j0, "start_time"));
        ck_assert_int_eq(num(j1, "worker_pid"), worker);
        ck_assert_int_ge(vcpu_exit(j1, 0, "io_out"), vcpu_exit(j0, 0, "io_out")); /* continued, never reset */
        json_t *j2 = wait_vm(&b, "p", ended, 60000);
        ck_assert_msg(strcmp(str(j2, "state"), "stopped") == 0 && strcmp(str(j2, "reason"), "exit_code") == 0,
                      "p ended %s (%s)", str(j2, "state"), str(j2, "reason"));
        ck_assert_int_eq(num(j2, "exit_code"), 0);
        ck_assert_int_eq(vcpu_exit(j2, 0, "io_out"), (long long) n + 1);
        /* runstate went on across the adoption: it grew by the wall time between two readings. The
         * sample that first shows p ended may hold the worker's final publication, taken up to an
         * interval before that sample; later ones read the ended vCPU's clock when they are taken */
        json_t *j3 = later_sample(&b, "p", j2, 2);
        double dsum = runstate_sum(j3, 0) - runstate_sum(j0, 0), dwall = test_sample_time(j3) - test_sample_time(j0);
        double lag = collect_seconds(j0) + collect_seconds(j3);
        json_decref(j3);
        ck_assert_msg(fabs(dsum - dwall) < 0.010 + lag, "runstate grew %.6f s over %.6f s of wall time (collectors %.6f s)",
                      dsum, dwall, lag);
        /* q's file changed meanwhile: restarted as a reload would, with the new memory size */
        json_t *q1 = test_vm_json(&b, "q");
        ck_assert_int_ne(num(q1, "id"), num(q0, "id"));
        ck_assert_int_eq(num(json_object_get(q1, "config"), "memory_bytes"), 32 << 20);
        log = test_read_file(b.log_path);
        ck_assert_msg(strstr(log, "q: configuration changed while no vmstatd ran: restarting"), "log:\n%s", log);
        free(log);
        json_decref(q0);
        json_decref(q1);
        /* c's console log goes on where the first daemon stopped: no line twice, none lost uncounted */
        json_t *c = wait_vm(&b, "c", ended, 60000);
        test_daemon_stop(&b);
        json_t *con = json_object_get(c, "console");
        char *text = test_read_file(clog);
        size_t len = strlen(text);
        ck_assert_uint_eq(len + (size_t) num(con, "dropped_bytes"), (size_t) num(con, "bytes"));
        long long last = 0, lines = 0;
        for (char *line = text; *line; lines++) {
                long long k = 0;
                ck_assert_msg(sscanf(line, "c00 %lld", &k) == 1 && k > last, "line %lld: '%.20s' after %lld", lines, line, last);
                last = k;
                char *nl = strchr(line, '\n');
                line = nl ? nl + 1 : line + strlen(line);
        }
        ck_assert_int_eq(last, 20000);
        free(text);
        json_decref(c);
        fprintf(stderr, "adoption: count %llu, io_out %lld, runstate +%.6f s over +%.6f s\n", n,
                vcpu_exit(j2, 0, "io_out"), dsum, dwall);
        json_decref(j0);
        json_decref(j1);
        json_decref(j2);
        /* orphaned by a, the worker is this test's child now (a subreaper): it exits, and we reap it */
        int st = -1;
        pid_t got = 0;
        for (uint64_t t0 = test_now_ms(); !got && test_now_ms() - t0 < 2000; test_sleep_ms(10))
                got = waitpid(worker, &st, WNOHANG);
        ck_assert_msg(got == worker || (got < 0 && kill(worker, 0) < 0), "the worker outlived a SIGTERM of its daemon");
        ck_assert_msg(got != worker || (WIFEXITED(st) && WEXITSTATUS(st) == 0), "the worker ended with status %d", st);
        free(dir);
        free(rt);
}
END_TEST

struct scraper {
        const struct test_daemon *d;
        atomic_bool stop;
        unsigned ok, failed;
        long last_failure;
};

static void *scrape_main(void *arg) {
        struct scraper *s = arg;
        while (!atomic_load(&s->stop)) {
                struct test_response r = test_http(s->d, "GET", "/metrics", NULL);
                if (r.status == 200 && strstr(r.body, "vmstatd_vcpu_exits_total{vm=\"p\""))
                        s->ok++;
                else
                        s->failed++, s->last_failure = r.status;
                test_response_free(&r);
        }
        return NULL;
}

static int vmstatctl(const char *sock, const char *cmd) {
        const char *bin = getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd";
        char line[1024];
        snprintf(line, sizeof(line), "%.*svmstatctl -s %s %s >/dev/null 2>&1", (int) (strrchr(bin, '/') - bin + 1), bin,
                 sock, cmd);
        int st = system(line);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static ino_t inode(const char *path) {
        struct stat st;
        ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
        return st.st_ino;
}

/* daemon-reexec, by vmstatctl and by SIGUSR2, under a scraper opening a connection per request:
 * the same process runs the binary now at its path (an upgrade: installed in its place between
 * the two), its listening socket never closes, not one request fails, the guest and its
 * counters go on. */
START_TEST(daemon_reexec_under_scrape) {
        struct test_daemon d;
        char *dir = test_config_dir(), sock[300], bin[300], next[300], cmd[1024], exe[64];
        const char *built = getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd";
        snprintf(sock, sizeof(sock), "%s/control.sock", dir);
        snprintf(bin, sizeof(bin), "%s/vmstatd", dir);
        snprintf(next, sizeof(next), "%s/vmstatd.next", dir);
        /* installed as make install does: vmstatd-vm next to vmstatd */
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && cp '%s' '%s' && cp '%.*s/vmstatd-vm' '%s/'", built, bin, built, next,
                 (int) (strrchr(built, '/') - built), built, dir);
        ck_assert_int_eq(system(cmd), 0);
        test_write_vm(dir, "p", "[vm]\nmemory = 16M\nguest = builtin:pio count=1000000000000\n");
        const char *args[] = { "--config", dir, "--control-socket", sock, NULL };
        char *saved = getenv("VMSTATD_BIN") ? strdup(getenv("VMSTATD_BIN")) : NULL;
        setenv("VMSTATD_BIN", bin, 1); /* the copy, replaced below as an upgrade would */
        bool up = test_daemon_start(&d, args);
        if (saved)
                setenv("VMSTATD_BIN", saved, 1);
        else
                unsetenv("VMSTATD_BIN");
        free(saved);
        if (!up)
                return;
        snprintf(exe, sizeof(exe), "/proc/%d/exe", d.pid);
        json_t *j0 = wait_vm(&d, "p", has_io_out, 5000);
        struct scraper s = { .d = &d };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, scrape_main, &s), 0);
        test_sleep_ms(500);
        uint64_t t0 = test_now_ms();
        ck_assert_int_eq(vmstatctl(sock, "daemon-reexec"), 0);
        char *log = test_wait_log(&d, "adopted 1 running VM", 10000);
        ck_assert_msg(strstr(log, "adopted 1 running VM"), "no re-exec in the log:\n%s", log);
        uint64_t gap = test_now_ms() - t0;
        free(log);
        test_sleep_ms(500);
        ino_t old = inode(bin);
        ck_assert_int_eq(inode(exe), old);
        ck_assert_int_eq(rename(next, bin), 0); /* the upgrade: a new file at the same path */
        ck_assert_int_ne(inode(bin), old);
        ck_assert_int_eq(kill(d.pid, SIGUSR2), 0);
        for (t0 = test_now_ms(); test_now_ms() - t0 < 10000; test_sleep_ms(50)) {
                log = test_read_file(d.log_path);
                unsigned k = count(log, "adopted 1 running VM");
                free(log);
                if (k == 2)
                        break;
        }
        test_sleep_ms(500);
        atomic_store(&s.stop, true);
        pthread_join(t, NULL);
        fprintf(stderr, "daemon-reexec: %u scrapes, %u failed; re-exec to adoption %llu ms\n", s.ok, s.failed,
                (unsigned long long) gap);
        ck_assert_msg(s.failed == 0, "%u of %u scrapes failed (last status %ld)", s.failed, s.ok + s.failed,
                      s.last_failure);
        ck_assert_uint_gt(s.ok, 10);
        log = test_read_file(d.log_path);
        ck_assert_uint_eq(count(log, "adopted 1 running VM"), 2);
        free(log);
        ck_assert_int_eq(waitpid(d.pid, NULL, WNOHANG), 0); /* the same process all along */
        ck_assert_msg(inode(exe) == inode(bin), "the re-executed daemon does not run the binary now at %s", bin);
        json_t *j1 = test_vm_json(&d, "p");
        ck_assert_str_eq(str(j1, "state"), "running");
        ck_assert_int_eq(num(j1, "id"), num(j0, "id"));
        ck_assert_int_eq(num(j1, "worker_pid"), num(j0, "worker_pid"));
        ck_assert_int_gt(vcpu_exit(j1, 0, "io_out"), vcpu_exit(j0, 0, "io_out"));
        json_decref(j0);
        json_decref(j1);
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

static bool worker_died(json_t *vm) {
        return strcmp(str(vm, "reason"), "worker_died") == 0;
}

static bool restarted(json_t *vm) {
        return running(vm) && num(vm, "restarts") == 1;
}

/* kill -9 of one worker is that VM's crash, worker_died with the signal, its counters kept;
 * restart = on-crash brings it back (restarts 1, a new id); the neighbour never notices. */
START_TEST(kill9_worker_is_one_vm_crash) {
        struct test_daemon d;
        char *dir = test_config_dir();
        test_write_vm(dir, "a", "[vm]\nmemory = 16M\nguest = builtin:demo\nrestart = on-crash\n");
        test_write_vm(dir, "b", "[vm]\nmemory = 16M\nguest = builtin:demo\n");
        const char *args[] = { "--config", dir, NULL };
        if (!test_daemon_start(&d, args))
                return;
        json_t *a0 = wait_vm(&d, "a", running, 5000), *b0 = wait_vm(&d, "b", running, 5000);
        test_sleep_ms(500);
        json_decref(a0);
        a0 = test_vm_json(&d, "a");
        ck_assert_int_eq(kill((pid_t) num(a0, "worker_pid"), SIGKILL), 0);
        json_t *a1 = wait_vm(&d, "a", worker_died, 3000);
        ck_assert_str_eq(str(a1, "state"), "crashed");
        ck_assert_str_eq(str(a1, "reason"), "worker_died");
        ck_assert_str_eq(str(a1, "signal"), "SIGKILL");
        ck_assert_int_eq(num(a1, "id"), num(a0, "id"));
        ck_assert_int_ge(test_exits_total(a1), test_exits_total(a0)); /* the last counters stay served */
        json_t *a2 = wait_vm(&d, "a", restarted, 10000);
        ck_assert_msg(restarted(a2), "a is %s with %lld restarts", str(a2, "state"), num(a2, "restarts"));
        ck_assert_int_ne(num(a2, "id"), num(a0, "id"));
        json_t *b1 = test_vm_json(&d, "b");
        ck_assert_str_eq(str(b1, "state"), "running");
        ck_assert_int_eq(num(b1, "id"), num(b0, "id"));
        ck_assert_int_gt(test_exits_total(b1), test_exits_total(b0));
        json_decref(a0);
        json_decref(a1);
        json_decref(a2);
        json_decref(b0);
        json_decref(b1);
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

/* A worker that makes a syscall outside its allowlist (a test switch makes a's do so once its
 * guest runs) is killed by seccomp: a crashes (worker_died, SIGSYS); b and the daemon go on. */
START_TEST(forbidden_syscall_kills_only_its_worker) {
        struct test_daemon d;
        char *dir = test_config_dir();
        test_write_vm(dir, "a", "[vm]\nmemory = 16M\nguest = builtin:demo\n");
        test_write_vm(dir, "b", "[vm]\nmemory = 16M\nguest = builtin:demo\n");
        const char *args[] = { "--config", dir, NULL };
        setenv("VMSTATD_TEST_FORBIDDEN_SYSCALL", "a", 1);
        bool up = test_daemon_start(&d, args);
        unsetenv("VMSTATD_TEST_FORBIDDEN_SYSCALL");
        if (!up)
                return;
        json_t *a = wait_vm(&d, "a", worker_died, 5000);
        ck_assert_msg(worker_died(a), "a is %s (%s)", str(a, "state"), str(a, "reason"));
        ck_assert_str_eq(str(a, "signal"), "SIGSYS");
        json_t *b0 = wait_vm(&d, "b", running, 5000);
        test_sleep_ms(500);
        json_t *b1 = test_vm_json(&d, "b");
        ck_assert_str_eq(str(b1, "state"), "running");
        ck_assert_int_gt(test_exits_total(b1), test_exits_total(b0));
        struct test_response r = test_http(&d, "GET", "/healthz", NULL);
        ck_assert_int_eq(r.status, 200);
        test_response_free(&r);
        json_decref(a);
        json_decref(b0);
        json_decref(b1);
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

/* the vCPU thread's CPU time now, from its scheduler statistics (ns) */
static long long thread_cpu_ns(pid_t pid, long long tid) {
        char path[96];
        unsigned long long ns = 0;
        snprintf(path, sizeof(path), "/proc/%d/task/%lld/schedstat", pid, tid);
        FILE *f = fopen(path, "re");
        ck_assert_msg(f && fscanf(f, "%llu", &ns) == 1, "%s", path);
        fclose(f);
        return (long long) ns;
}

static double rs(json_t *vm, const char *state) {
        json_t *v = json_array_get(json_object_get(vm, "vcpus"), 0);
        return json_number_value(json_object_get(json_object_get(v, "runstate_seconds"), state));
}

/* A worker is asked for its vCPUs' CPU clocks only when they ran since the last sample; a
 * halted vCPU's time comes from the scheduler's own sum. Either way running time is the thread's
 * CPU time (never more, and behind it by at most the time since the sample), and the runstate
 * grows by exactly the wall time: for a halted, a half-busy and a spinning guest. */
START_TEST(runstate_exact_idle_or_busy) {
        struct test_daemon d;
        char *dir = test_config_dir();
        const char *names[] = { "h", "d", "s" };
        test_write_vm(dir, "h", "[vm]\nmemory = 16M\nguest = builtin:halt\n");
        test_write_vm(dir, "d", "[vm]\nmemory = 16M\nguest = builtin:duty duty=50\n");
        test_write_vm(dir, "s", "[vm]\nmemory = 16M\nguest = builtin:spin\n");
        const char *args[] = { "--config", dir, NULL };
        if (!test_daemon_start(&d, args))
                return;
        for (int i = 0; i < 3; i++)
                json_decref(wait_vm(&d, names[i], running, 5000));
        test_sleep_ms(1000);
        for (int i = 0; i < 3; i++) {
                json_t *a = test_vm_json(&d, names[i]);
                test_sleep_ms(1500);
                json_t *b = test_vm_json(&d, names[i]);
                json_t *v = json_array_get(json_object_get(b, "vcpus"), 0);
                long long cpu = thread_cpu_ns((pid_t) num(b, "worker_pid"), json_integer_value(json_object_get(v, "tid")));
                double age = 0.0; /* wall time since b's sample, bounds how far running may lag */
                {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        age = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9 - test_sample_time(b);
                }
                double running = rs(b, "running"), lag = (double) cpu / 1e9 - running;
                double dsum = runstate_sum(b, 0) - runstate_sum(a, 0);
                double dwall = test_sample_time(b) - test_sample_time(a);
                fprintf(stderr, "%s: running %.6f s, thread CPU %.6f s (lag %.3f ms, sample %.1f ms old); runstate "
                        "+%.6f s over +%.6f s\n", names[i], running, (double) cpu / 1e9, lag * 1e3, age * 1e3, dsum,
                        dwall);
                ck_assert_msg(lag >= -0.0005 && lag <= age + 0.005, "%s: running %.6f s, its thread's CPU %.6f s",
                              names[i], running, (double) cpu / 1e9);
                /* each reading is taken when its worker publishes (or the daemon reads it), a few ms
                 * after the sample's time on a loaded host, within the collectors' time: the sum follows
                 * the reading's own clock */
                double collect = collect_seconds(a) + collect_seconds(b);
                ck_assert_msg(fabs(dsum - dwall) < 0.010 + collect, "%s: runstate grew %.6f s over %.6f s (collectors %.6f s)",
                              names[i], dsum, dwall, collect);
                if (i == 0)
                        ck_assert_msg(rs(b, "running") - rs(a, "running") < 0.01, "a halted vCPU ran %.3f s",
                                      rs(b, "running") - rs(a, "running"));
                json_decref(a);
                json_decref(b);
        }
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

/* read-family system calls process pid has made (/proc/<pid>/io syscr) */
static long long read_calls(pid_t pid) {
        char path[64], *text;
        snprintf(path, sizeof(path), "/proc/%d/io", pid);
        ck_assert_msg((text = test_read_file(path)) != NULL, "%s", path);
        char *at = strstr(text, "syscr: ");
        ck_assert_msg(at, "no syscr in %s", path);
        long long n = atoll(at + 7);
        free(text);
        return n;
}

static long long health_seq(const struct test_daemon *d) {
        json_t *h = test_get_json(d, "/healthz");
        long long seq = json_integer_value(json_object_get(h, "seq"));
        json_decref(h);
        return seq;
}

/* A host of halted guests costs the daemon one read of each worker's process CPU clock per
 * sample, not one schedstat read per vCPU: with 4 VMs x 4 halted vCPUs, fewer reads per sample
 * than vCPUs (the VMs' KVM statistics are one read each; the event loop's timers read a few). */
START_TEST(halted_workers_cost_a_read_per_vm) {
        struct test_daemon d;
        char *dir = test_config_dir();
        const char *names[] = { "h1", "h2", "h3", "h4" };
        for (int i = 0; i < 4; i++)
                test_write_vm(dir, names[i], "[vm]\nmemory = 8M\nvcpus = 4\nguest = builtin:halt\n");
        const char *args[] = { "--config", dir, NULL };
        if (!test_daemon_start(&d, args))
                return;
        for (int i = 0; i < 4; i++)
                json_decref(wait_vm(&d, names[i], running, 5000));
        test_sleep_ms(1000); /* each worker published once, then was read as still */
        long long seq0 = health_seq(&d), reads0 = read_calls(d.pid);
        test_sleep_ms(3000);
        long long reads1 = read_calls(d.pid), seq1 = health_seq(&d);
        double per_sample = (double) (reads1 - reads0) / (double) (seq1 - seq0);
        fprintf(stderr, "halted: %lld reads over %lld samples of 4 VMs x 4 vCPUs: %.1f a sample\n", reads1 - reads0,
                seq1 - seq0, per_sample);
        ck_assert_int_ge(seq1 - seq0, 5);
        ck_assert_msg(per_sample < 16, "%.1f reads a sample for 16 halted vCPUs: one (or more) a vCPU", per_sample);
        for (int i = 0; i < 4; i++) { /* and they are still counted as halted */
                json_t *vm = test_vm_json(&d, names[i]);
                ck_assert_str_eq(str(vm, "state"), "running");
                json_decref(vm);
        }
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

/* Accepts and hangs up at once: a worker this daemon cannot talk to (a newer protocol, or a
 * shared-memory layout this build does not know), which it leaves alone. */
static void *hang_up(void *arg) {
        int fd, lfd = *(int *) arg;
        while ((fd = accept(lfd, NULL, NULL)) >= 0)
                close(fd);
        return NULL;
}

/* A worker socket that answers but that this daemon cannot adopt still has its guest running: a
 * new worker for that VM refuses to take its socket over, so no guest ever runs twice, and says
 * why. The other VM starts. */
START_TEST(live_worker_socket_is_never_taken_over) {
        struct test_daemon d;
        char *dir = test_config_dir(), *rt = test_mkdtemp("rt"), vms[300], path[400];
        snprintf(vms, sizeof(vms), "%s/vms", rt);
        ck_assert_int_eq(mkdir(vms, 0700), 0);
        snprintf(path, sizeof(path), "%s/t.sock", vms);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);
        int old = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(old, 0);
        ck_assert_int_eq(bind(old, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(old, 8), 0);
        pthread_t t_old;
        ck_assert_int_eq(pthread_create(&t_old, NULL, hang_up, &old), 0);
        struct stat before, after;
        ck_assert_int_eq(stat(path, &before), 0);
        test_write_vm(dir, "t", "[vm]\nmemory = 16M\nguest = builtin:demo\n");
        test_write_vm(dir, "u", "[vm]\nmemory = 16M\nguest = builtin:demo\n");
        const char *args[] = { "--config", dir, "--runtime-dir", rt, NULL };
        if (!test_daemon_start(&d, args))
                return;
        json_t *u = wait_vm(&d, "u", running, 10000);
        char *log = test_wait_log(&d, "another worker still runs VM t", 10000);
        ck_assert_msg(strstr(log, "another worker still runs VM t"), "no refusal in the log:\n%s", log);
        free(log);
        ck_assert_int_eq(stat(path, &after), 0);
        ck_assert_msg(after.st_ino == before.st_ino, "the live socket was replaced");
        json_t *t = test_vm_json(&d, "t");
        ck_assert_msg(!t || strcmp(str(t, "state"), "running") != 0, "VM t runs twice");
        ck_assert_str_eq(str(u, "state"), "running");
        json_decref(t);
        json_decref(u);
        test_daemon_stop(&d);
        shutdown(old, SHUT_RDWR); /* accept fails: the thread ends */
        pthread_join(t_old, NULL);
        close(old);
        unlink(path);
        rmdir(vms);
        rmdir(rt);
        free(rt);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("workers");
        TCase *tc = tcase_create("workers");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, kill9_daemon_adopted_counts_exactly);
        tcase_add_test(tc, daemon_reexec_under_scrape);
        tcase_add_test(tc, kill9_worker_is_one_vm_crash);
        tcase_add_test(tc, forbidden_syscall_kills_only_its_worker);
        tcase_add_test(tc, runstate_exact_idle_or_busy);
        tcase_add_test(tc, halted_workers_cost_a_read_per_vm);
        tcase_add_test(tc, live_worker_socket_is_never_taken_over);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
