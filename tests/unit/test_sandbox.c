/* worker/seccomp.c: what a sandboxed worker can still do, and that anything else kills it and
 * nothing else. Every test installs the allowlist in a child (test_fork), which reports the
 * step it is at in a shared page and leaves by _exit: Check's assertions and the atexit
 * handlers it inherited (which read /proc) belong to the test process, judged from outside. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_helper.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

/* ---- a sandboxed child and how it ended ------------------------------------------------------- */

/* Shared with the children (MAP_SHARED): the step a child is at, and why an install failed. */
struct report {
        char step[128];
        char why[256];
};
static struct report *report;

enum { CHILD_OK = 0, CHILD_INSTALL_FAILED = 100, CHILD_STEP_FAILED = 101 };

static void step(const char *name) {
        snprintf(report->step, sizeof(report->step), "%s", name);
}

/* A blank report, mapped once per test process. */
static void report_reset(void) {
        if (!report) {
                report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
                ck_assert_ptr_ne(report, MAP_FAILED);
        }
        memset(report, 0, sizeof(*report));
}

/* Child: runs before (what a worker does before install; may be NULL), installs the
 * allowlist and runs fn. Both return 0 when every step worked. */
static pid_t sandboxed(int (*before)(void *), int (*fn)(void *), void *arg) {
        report_reset();
        pid_t pid = test_fork();
        if (pid == 0) {
                if (before && before(arg) < 0)
                        _exit(CHILD_STEP_FAILED);
                step("wk_seccomp_install");
                if (wk_seccomp_install(report->why, sizeof(report->why)) < 0)
                        _exit(CHILD_INSTALL_FAILED);
                _exit(fn(arg) == 0 ? CHILD_OK : CHILD_STEP_FAILED);
        }
        return pid;
}

static int wait_child(pid_t pid) {
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_INSTALL_FAILED), "wk_seccomp_install: %s",
                      report->why);
        return st;
}

static void expect_ok(int (*before)(void *), int (*fn)(void *), void *arg) {
        int st = wait_child(sandboxed(before, fn, arg));
        ck_assert_msg(!WIFSIGNALED(st), "the sandboxed child died of %s at step \"%s\"", strsignal(WTERMSIG(st)),
                      report->step);
        ck_assert_msg(WEXITSTATUS(st) == CHILD_OK, "the sandboxed child failed at step \"%s\" (exit %d)",
                      report->step, WEXITSTATUS(st));
}

static void expect_sigsys(int (*before)(void *), int (*fn)(void *), void *arg, const char *what) {
        int st = wait_child(sandboxed(before, fn, arg));
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
                      "%s: expected death by SIGSYS, the child %s %d at step \"%s\"", what,
                      WIFSIGNALED(st) ? "died of signal" : "exited with",
                      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), report->step);
        ck_assert_str_eq(report->step, what); /* died of that call, not of one before it */
}

/* ---- what a worker still does ------------------------------------------------------------------ */

struct shared {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int done;
        int failed; /* the thread's step that failed, 0 for none */
};

static uint64_t thread_cpu_ns(pthread_t t) {
        clockid_t clk;
        struct timespec ts;
        if (pthread_getcpuclockid(t, &clk) != 0 || clock_gettime(clk, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* What a vCPU thread does around its loop: names itself, pins itself, reads its CPU clock. */
static void *vcpu_like(void *arg) {
        struct shared *s = arg;
        int failed = 0;
        char name[16] = "";
        cpu_set_t set;
        step("thread: pthread_setname_np on itself");
        if (pthread_setname_np(pthread_self(), "wk-seccomp/0") != 0 ||
            pthread_getname_np(pthread_self(), name, sizeof(name)) != 0 || strcmp(name, "wk-seccomp/0") != 0)
                failed = 1;
        step("thread: pins itself");
        if (!failed && (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0 ||
                        pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0))
                failed = 2;
        step("thread: reads its CPU clock");
        if (!failed && thread_cpu_ns(pthread_self()) == 0)
                failed = 3;
        pthread_mutex_lock(&s->lock);
        s->done = 1;
        s->failed = failed;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static int threads_and_futexes(void) {
        static struct shared s = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
        pthread_t t;
        step("pthread_create");
        if (pthread_create(&t, NULL, vcpu_like, &s) != 0)
                return -1;
        pthread_mutex_lock(&s.lock);
        while (!s.done)
                pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
        if (s.failed) /* its step names what failed */
                return -1;
        step("pthread_join");
        return pthread_join(t, NULL) == 0 ? 0 : -1;
}

static int memory(void) {
        step("malloc and free, small");
        for (int i = 0; i < 1000; i++) {
                char *p = malloc(64 + (size_t) i);
                if (!p)
                        return -1;
                memset(p, i, 64);
                free(p);
        }
        step("malloc, realloc and free, large (mmap, mremap, munmap)");
        size_t big = 16 << 20;
        char *p = malloc(big);
        if (!p)
                return -1;
        memset(p, 1, big);
        char *q = realloc(p, 2 * big);
        if (!q) {
                free(p);
                return -1;
        }
        q[2 * big - 1] = 2;
        free(q);
        step("mmap and mprotect, read-write");
        void *m = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || mprotect(m, 1 << 20, PROT_READ | PROT_WRITE) < 0 ||
            madvise(m, 1 << 20, MADV_DONTNEED) < 0)
                return -1;
        unsigned char vec[256];
        step("mincore");
        if (mincore(m, 1 << 20, vec) < 0)
                return -1;
        return munmap(m, 1 << 20);
}

static int clocks_and_sleeps(void) {
        struct timespec ts, d = { 0, 1000000 };
        struct timeval tv;
        step("clock_gettime, thread CPU clock");
        if (thread_cpu_ns(pthread_self()) == 0)
                return -1;
        step("clock_gettime, gettimeofday, time");
        if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0 || clock_gettime(CLOCK_REALTIME, &ts) < 0 ||
            gettimeofday(&tv, NULL) < 0 || time(NULL) == (time_t) -1)
                return -1;
        step("nanosleep, clock_nanosleep");
        if (nanosleep(&d, NULL) < 0 || clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL) != 0)
                return -1;
        step("getrandom");
        uint64_t r;
        return getrandom(&r, sizeof(r), 0) == sizeof(r) ? 0 : -1;
}

static volatile sig_atomic_t kicked;

static void on_kick(int sig) {
        (void) sig;
        kicked = 1;
}

/* A kick: a real-time signal to a thread of this process (tgkill). */
static int signals(void) {
        struct sigaction sa = { .sa_handler = on_kick };
        sigemptyset(&sa.sa_mask);
        step("sigaction");
        if (sigaction(SIGRTMIN + 1, &sa, NULL) < 0)
                return -1;
        step("pthread_kill");
        if (pthread_kill(pthread_self(), SIGRTMIN + 1) != 0 || !kicked)
                return -1;
        step("getpid, gettid");
        return getpid() > 0 && gettid() > 0 ? 0 : -1;
}

struct fds {
        int pipe[2];
        int sock[2];
};

static int pipes_and_sockets(struct fds *f) {
        char buf[64];
        step("write and read on a pipe");
        if (write(f->pipe[1], "x", 1) != 1 || read(f->pipe[0], buf, 1) != 1 || buf[0] != 'x')
                return -1;
        step("stdio on a dup of the pipe (fstat, fcntl)");
        FILE *out = fdopen(dup(f->pipe[1]), "w");
        if (!out || fprintf(out, "vmstatd %d\n", 42) < 0 || fclose(out) != 0)
                return -1;
        if (read(f->pipe[0], buf, sizeof(buf)) != 11 || memcmp(buf, "vmstatd 42\n", 11) != 0)
                return -1;

        step("sendmsg and recvmsg with an fd on a socketpair");
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl = { 0 };
        struct iovec iov = { .iov_base = "m", .iov_len = 1 };
        struct msghdr m = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &f->pipe[1], sizeof(int));
        if (sendmsg(f->sock[0], &m, 0) != 1)
                return -1;
        memset(&ctl, 0, sizeof(ctl));
        iov = (struct iovec) { .iov_base = buf, .iov_len = sizeof(buf) };
        m = (struct msghdr) {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)
        };
        if (recvmsg(f->sock[1], &m, MSG_CMSG_CLOEXEC) != 1 || buf[0] != 'm' || !(c = CMSG_FIRSTHDR(&m)) ||
            c->cmsg_type != SCM_RIGHTS)
                return -1;
        int got;
        memcpy(&got, CMSG_DATA(c), sizeof(int));
        step("write to a received fd, close");
        if (write(got, "y", 1) != 1 || read(f->pipe[0], buf, 1) != 1 || close(got) < 0)
                return -1;
        step("send and recv, poll");
        struct pollfd p = { .fd = f->sock[1], .events = POLLIN };
        if (send(f->sock[0], "z", 1, 0) != 1 || poll(&p, 1, 1000) != 1 || recv(f->sock[1], buf, 1, 0) != 1)
                return -1;
        step("getsockopt(SO_PEERCRED)");
        struct ucred cred;
        socklen_t len = sizeof(cred);
        return getsockopt(f->sock[1], SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0 ? 0 : -1;
}

static int affinity(void) {
        cpu_set_t set;
        step("sched_getaffinity, sched_setaffinity");
        if (sched_getaffinity(0, sizeof(set), &set) < 0 || sched_setaffinity(0, sizeof(set), &set) < 0)
                return -1;
        step("sched_yield");
        return sched_yield();
}

static int clone3_says_enosys(void) {
        step("clone3 fails with ENOSYS");
        long r = syscall(SYS_clone3, NULL, 0);
        return r == -1 && errno == ENOSYS ? 0 : -1;
}

static int everyday(void *arg) {
        if (threads_and_futexes() < 0 || memory() < 0 || clocks_and_sleeps() < 0 || signals() < 0 ||
            pipes_and_sockets(arg) < 0 || affinity() < 0 || clone3_says_enosys() < 0)
                return -1;
        step("done");
        return 0;
}

START_TEST(allowed_calls_work) {
        struct fds f;
        ck_assert_int_eq(pipe2(f.pipe, O_CLOEXEC), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.sock), 0);
        expect_ok(NULL, everyday, &f);
        ck_assert_str_eq(report->step, "done");
        close(f.pipe[0]);
        close(f.pipe[1]);
        close(f.sock[0]);
        close(f.sock[1]);
}
END_TEST

static int kvm_api_version(void *arg) {
        struct hv_kvm *kvm = arg;
        step("ioctl(KVM_GET_API_VERSION) on an open /dev/kvm");
        return ioctl(kvm->fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION ? 0 : -1;
}

START_TEST(kvm_ioctl_allowed) {
        REQUIRE_KVM(kvm);
        expect_ok(NULL, kvm_api_version, kvm);
        hv_kvm_free(kvm);
}
END_TEST

/* A worker's life: VMs made and loaded before install; then vCPU threads started, kicked into
 * a pause, parked, resumed, stopped, and everything released, under the filter. */
struct vms {
        struct hv_kvm *kvm;
        struct hv_vm *done, *spin;
};

/* KVM VMs belong to the process that made them: made in the child */
static int make_vms(void *arg) {
        struct vms *v = arg;
        struct hv_vm_config a = { .name = "sc-pio", .vcpus = 2, .ram_bytes = 16 << 20 };
        struct hv_vm_config b = { .name = "sc-spin", .vcpus = 2, .ram_bytes = 16 << 20 };
        step("create and load the VMs");
        if (hv_vm_create(v->kvm, &a, &v->done) < 0 || hv_vm_create(v->kvm, &b, &v->spin) < 0)
                return -1;
        if (hv_boot_builtin(v->done, &(struct hv_builtin) { .guest = "pio", .count = 1000 }) < 0 ||
            hv_boot_builtin(v->spin, &(struct hv_builtin) { .guest = "spin" }) < 0)
                return -1;
        return 0;
}

static int run_vms(void *arg) {
        struct vms *v = arg;
        struct hv_vm_outcome o;
        struct timespec d = { 0, 50 * 1000000 };
        step("a guest runs to its end");
        if (hv_vm_start(v->done) < 0 || hv_vm_wait(v->done, 30000) < 0)
                return -1;
        hv_vm_get_outcome(v->done, &o);
        if (o.state != HV_VM_STOPPED || o.reason != HV_REASON_EXIT_CODE || o.exit_code != 0)
                return -1;
        step("a spinning guest is paused, resumed and stopped");
        if (hv_vm_start(v->spin) < 0 || nanosleep(&d, NULL) < 0 || hv_vm_pause(v->spin) < 0 ||
            hv_vm_resume(v->spin) < 0 || nanosleep(&d, NULL) < 0 || hv_vm_stop(v->spin) < 0)
                return -1;
        hv_vm_get_outcome(v->spin, &o);
        if (o.state != HV_VM_STOPPED || o.reason != HV_REASON_REQUESTED)
                return -1;
        step("hv_vm_destroy");
        hv_vm_destroy(v->done);
        hv_vm_destroy(v->spin);
        step("done");
        return 0;
}

START_TEST(guest_runs_sandboxed) {
        REQUIRE_KVM(kvm);
        struct vms v = { .kvm = kvm };
        expect_ok(make_vms, run_vms, &v);
        ck_assert_str_eq(report->step, "done");
        hv_kvm_free(kvm);
}
END_TEST

/* ---- what kills it ----------------------------------------------------------------------------- */

static void *page_rw(void) {
        return mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

#define CALL(what_, nr_, ...) { .what = (what_), .nr = (nr_), .a = { __VA_ARGS__ } }

static const struct forbidden {
        const char *what;
        long nr;
        long a[4];
        void *(*arg0)(void); /* when set, its result is the first argument */
} forbidden[] = {
        CALL("open for writing", SYS_open, (long) "/dev/null", O_WRONLY),
        CALL("openat for writing", SYS_openat, AT_FDCWD, (long) "/dev/null", O_WRONLY),
        CALL("openat, read-only but creating", SYS_openat, AT_FDCWD, (long) "/nonexistent", O_RDONLY | O_CREAT, 0600),
#ifndef TEST_ASAN /* a SAN build lets read-only opens through, for ASan's reports */
        CALL("open for reading", SYS_open, (long) "/dev/null", O_RDONLY),
        CALL("openat for reading", SYS_openat, AT_FDCWD, (long) "/dev/null", O_RDONLY),
#endif
        CALL("socket", SYS_socket, AF_UNIX, SOCK_STREAM, 0),
        CALL("connect", SYS_connect, -1, 0, 0),
        CALL("execve", SYS_execve, (long) "/bin/true", 0, 0), /* argv NULL: Linux allows it */
        CALL("ptrace", SYS_ptrace, PTRACE_TRACEME, 0, 0, 0),
        CALL("clone without CLONE_THREAD (fork)", SYS_clone, SIGCHLD, 0, 0, 0),
        CALL("vfork", SYS_vfork, 0),
        CALL("kill", SYS_kill, 1, 0),
        CALL("tgkill into another process", SYS_tgkill, 1, 1, 0),
        CALL("tkill", SYS_tkill, 1, 0),
        CALL("process_vm_readv", SYS_process_vm_readv, 1, 0, 0, 0),
        CALL("mmap executable", SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS),
        { .what = "mprotect executable", .nr = SYS_mprotect, .a = { 0, 4096, PROT_READ | PROT_EXEC }, .arg0 = page_rw },
        CALL("ioctl(TIOCSTI)", SYS_ioctl, -1, TIOCSTI, (long) "x"),
        CALL("ioctl(FIONREAD)", SYS_ioctl, -1, FIONREAD, 0),
        CALL("ioctl(TIOCSTI) above 32 bits", SYS_ioctl, -1, (long) (0x100000000ull | TIOCSTI), (long) "x"),
        CALL("prctl(PR_SET_PTRACER)", SYS_prctl, PR_SET_PTRACER, 0, 0, 0),
        CALL("prctl(PR_SET_DUMPABLE)", SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0),
        CALL("seccomp, a second filter", SYS_seccomp, 0, 0, 0),
        CALL("x32 ABI getpid", 0x40000000 | SYS_getpid, 0),
};

static int forbidden_call(void *arg) {
        const struct forbidden *f = arg;
        long a0 = f->arg0 ? (long) f->arg0() : f->a[0];
        step(f->what);
        syscall(f->nr, a0, f->a[1], f->a[2], f->a[3], -1L, 0L); /* mmap's fd is the 5th */
        step("still alive after the call");
        return 0;
}

START_TEST(forbidden_calls_kill) {
        const struct forbidden *f = &forbidden[_i];
        expect_sigsys(NULL, forbidden_call, (void *) f, f->what);
}
END_TEST

static int selftest(void *arg) {
        (void) arg;
        step("wk_seccomp_selftest_forbidden");
        wk_seccomp_selftest_forbidden();
        return 0;
}

START_TEST(selftest_kills) {
        int fd = wk_seccomp_selftest_forbidden(); /* no filter here: a plain socket */
        ck_assert_msg(fd >= 0, "socket without a filter: %s", strerror(-fd));
        close(fd);
        expect_sigsys(NULL, selftest, NULL, "wk_seccomp_selftest_forbidden");
}
END_TEST

/* TSYNC: a thread started before install is filtered too, and kills the whole process. */
struct early {
        pthread_t thread;
        int go[2];
};

static void *early_thread(void *arg) {
        struct early *e = arg;
        char c;
        if (read(e->go[0], &c, 1) != 1)
                return NULL;
        step("socket from a thread started before install");
        wk_seccomp_selftest_forbidden();
        return NULL;
}

static int start_early(void *arg) {
        struct early *e = arg;
        step("pipe and pthread_create before install");
        if (pipe(e->go) < 0 || pthread_create(&e->thread, NULL, early_thread, e) != 0)
                return -1;
        return 0;
}

static int release_early(void *arg) {
        struct early *e = arg;
        step("release the early thread");
        if (write(e->go[1], "g", 1) != 1)
                return -1;
        pthread_join(e->thread, NULL); /* returns only if the thread's call did not kill */
        step("still alive after the early thread's call");
        return 0;
}

START_TEST(earlier_threads_filtered) {
        struct early e;
        expect_sigsys(start_early, release_early, &e, "socket from a thread started before install");
}
END_TEST

#ifdef TEST_ASAN
/* ---- SAN builds: ASan still speaks -------------------------------------------------------------- */

/* A memory bug in a sandboxed worker ends in ASan's whole report, symbolized, not in SIGSYS
 * halfway through it. The report goes to a pipe: it is this test's data, not its output. */
static int report_to_pipe(void *arg) {
        int *out = arg;
        step("stderr to the pipe");
        return dup2(out[1], STDERR_FILENO) < 0 ? -1 : 0;
}

static int use_after_free(void *arg) {
        (void) arg;
        char *volatile p = malloc(8); /* volatile: the compiler cannot prove the bug */
        free(p);
        step("a use after free");
        return p[0];
}

START_TEST(asan_reports_sandboxed) {
        static char text[1 << 16];
        size_t n = 0;
        ssize_t got;
        int out[2];
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        pid_t pid = sandboxed(report_to_pipe, use_after_free, out);
        close(out[1]);
        while (n < sizeof(text) - 1 && (got = read(out[0], text + n, sizeof(text) - 1 - n)) > 0)
                n += (size_t) got;
        text[n] = 0;
        close(out[0]);
        int st = wait_child(pid);
        ck_assert_msg(!(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS), "ASan's report was cut by SIGSYS:\n%s", text);
        ck_assert_msg(strstr(text, "ERROR: AddressSanitizer: heap-use-after-free") && strstr(text, "use_after_free") &&
                              strstr(text, "SUMMARY: AddressSanitizer"),
                      "no whole, symbolized report (status %#x):\n%s", st, text);
}
END_TEST
#endif

/* ---- when it cannot be installed --------------------------------------------------------------- */

/* A filter around the worker that refuses seccomp(2) with EPERM, as systemd's SystemCallFilter=
 * @system-service does, installed before libseccomp first looks: install fails, says why, and
 * changes nothing. */
static int outer_filter(void *arg) {
        (void) arg;
        struct sock_filter insns[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };
        step("an outer filter refusing seccomp(2)");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                return -1;
        step("wk_seccomp_install under it");
        int r = wk_seccomp_install(report->why, sizeof(report->why));
        if (r >= 0 || !strstr(report->why, "SystemCallFilter="))
                return -1;
        step("socket after the failed install");
        int fd = wk_seccomp_selftest_forbidden();
        if (fd < 0)
                return -1;
        close(fd);
        step("done");
        return 0;
}

START_TEST(refused_install_explains) {
        report_reset();
        pid_t pid = test_fork();
        if (pid == 0)
                _exit(outer_filter(NULL) == 0 ? CHILD_OK : CHILD_STEP_FAILED);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK, "status %#x at step \"%s\" (why: \"%s\")", st,
                      report->step, report->why);
}
END_TEST

int main(void) {
        Suite *s = suite_create("sandbox");
        TCase *tc = tcase_create("allowlist");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, allowed_calls_work);
        tcase_add_test(tc, kvm_ioctl_allowed);
        tcase_add_test(tc, guest_runs_sandboxed);
        tcase_add_loop_test(tc, forbidden_calls_kill, 0, (int) (sizeof(forbidden) / sizeof(forbidden[0])));
        tcase_add_test(tc, selftest_kills);
        tcase_add_test(tc, earlier_threads_filtered);
        tcase_add_test(tc, refused_install_explains);
#ifdef TEST_ASAN
        tcase_add_test(tc, asan_reports_sandboxed);
#endif
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
