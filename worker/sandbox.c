/* The worker's seccomp allowlist (seccomp.h): one table row per system call a loaded worker
 * makes, most without conditions; the few with one say why. x86-64 only, as hv is. */
#define _GNU_SOURCE
#include "sandbox.h"

#include <seccomp.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WK_ASAN 1
#endif
#endif

struct rule {
        int nr;          /* SCMP_SYS(name) */
        uint32_t action; /* SCMP_ACT_* */
        unsigned n_args; /* 0: any arguments, 1: only when cmp holds */
        struct scmp_arg_cmp cmp;
};

#define ALLOW(name) { .nr = SCMP_SYS(name), .action = SCMP_ACT_ALLOW }
/* allowed only when (arg i OP a [, b]) holds */
#define ALLOW_IF(name, i, op_, a, b)                                                              \
        {                                                                                         \
                .nr = SCMP_SYS(name), .action = SCMP_ACT_ALLOW, .n_args = 1,                      \
                .cmp = { .arg = (i), .op = (op_), .datum_a = (a), .datum_b = (b) }                \
        }
#define THIS_PID UINT64_MAX /* datum replaced by getpid() at install */

static const struct rule rules[] = {
        /* The exit loop and everything else on the KVM, VM and vCPU fds: every KVM ioctl has
         * type KVMIO, and there are too many (and too many to come) to list one by one. Only
         * KVM's: a tty's TIOCSTI would type into the shell behind stderr, and a socket's
         * SIOCS* would reconfigure the host's network when the worker runs as root. */
        ALLOW_IF(ioctl, 1, SCMP_CMP_MASKED_EQ, 0xff00, KVMIO << 8),
        ALLOW_IF(ioctl, 1, SCMP_CMP_MASKED_EQ, 0xffffffff, TCGETS), /* stdio's isatty */

        /* locks, condition variables, the watcher's publish requests (shared futexes) */
        ALLOW(futex),
        ALLOW(clock_gettime), /* the vDSO's fallbacks, and thread CPU clocks */
        ALLOW(clock_getres),
        ALLOW(clock_nanosleep),
        ALLOW(nanosleep),
        ALLOW(gettimeofday),
        ALLOW(time), /* the RTC's time(NULL) when the vDSO cannot serve it */

        /* the console log on stderr, the control socket and fds it carries */
        ALLOW(read),
        ALLOW(write),
        ALLOW(pread64),
        ALLOW(pwrite64),
        ALLOW(readv),
        ALLOW(writev),
        ALLOW(sendmsg),
        ALLOW(recvmsg),
        ALLOW(sendto),
        ALLOW(recvfrom),
        ALLOW(accept), /* a new daemon connecting to the listening socket */
        ALLOW(accept4),
        ALLOW(getsockopt), /* SO_PEERCRED: who connected */
        ALLOW(poll),
        ALLOW(ppoll),
        ALLOW(epoll_wait),
        ALLOW(epoll_pwait),
        ALLOW(epoll_ctl), /* watching a connection accepted after install */
        ALLOW(close),
        ALLOW(fcntl),
        ALLOW(fstat), /* stdio's first write; glibc's fstat is newfstatat */
        ALLOW(newfstatat),
        ALLOW(lseek),
        ALLOW(dup),
        ALLOW(dup2), /* glibc's dup2 on x86-64 */
        ALLOW(dup3),

        /* malloc and thread stacks; never executable memory: guest RAM is not code, and the
         * worker's own code was mapped before install */
        ALLOW_IF(mmap, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
        ALLOW_IF(mprotect, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
        ALLOW(munmap),
        ALLOW(madvise),
        ALLOW(mremap),
        ALLOW(brk),
        ALLOW(mincore), /* guest RAM resident, for hv_vm_resident_bytes */

        /* vCPU threads start after install. Threads only: clone without CLONE_THREAD is a new
         * process. clone3's flags sit in memory seccomp cannot read, so it fails with ENOSYS,
         * and glibc's pthread_create falls back to clone. */
        ALLOW_IF(clone, 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD),
        { .nr = SCMP_SYS(clone3), .action = SCMP_ACT_ERRNO(ENOSYS) },
        ALLOW(set_robust_list),
        ALLOW(rseq),
        ALLOW(set_tid_address),
        ALLOW(exit),
        ALLOW(exit_group),

        /* kicking a vCPU out of KVM_RUN: pthread_kill with a real-time signal, into this
         * process only (tkill names any thread on the host, so it is not here) */
        ALLOW(rt_sigaction),
        ALLOW(rt_sigprocmask),
        ALLOW(rt_sigreturn),
        ALLOW(sigaltstack),
        ALLOW(restart_syscall),
        ALLOW_IF(tgkill, 0, SCMP_CMP_EQ, THIS_PID, 0),
        ALLOW(getpid),
        ALLOW(gettid),

        /* the worker pins its own vCPU threads */
        ALLOW(sched_yield),
        ALLOW(sched_getaffinity),
        ALLOW(sched_setaffinity),
        /* a thread naming itself (pthread_setname_np on pthread_self); not PR_SET_PTRACER,
         * PR_SET_DUMPABLE or the other knobs */
        ALLOW_IF(prctl, 0, SCMP_CMP_EQ, PR_SET_NAME, 0),
        ALLOW_IF(prctl, 0, SCMP_CMP_EQ, PR_GET_NAME, 0),

        ALLOW(getrandom),
        ALLOW(getrusage),
        ALLOW(membarrier),
};

#ifdef WK_ASAN
/* AddressSanitizer builds only (SAN=1), so that a bug in a sandboxed worker ends in a complete
 * report rather than in SIGSYS. A report reads /proc/self/{cmdline,environ,maps} and each loaded
 * object's symbols and debug info (read-only opens; the runtime's own go through open(2)),
 * follows symlinks to them, and probes memory by writing it into a pipe. GCC's runtime
 * symbolizes in process; clang's would start llvm-symbolizer, which stays forbidden (run with
 * ASAN_OPTIONS=symbolize=0 there). Release builds allow none of this. */
#define READ_ONLY (O_ACCMODE | O_CREAT | O_TRUNC) /* under this mask, the flags must be O_RDONLY */
static const struct rule asan_rules[] = {
        ALLOW_IF(open, 1, SCMP_CMP_MASKED_EQ, READ_ONLY, O_RDONLY),
        ALLOW_IF(openat, 2, SCMP_CMP_MASKED_EQ, READ_ONLY, O_RDONLY),
        ALLOW(readlink),
        ALLOW(pipe2),
};

/* LeakSanitizer's check at exit stops the world with ptrace from a cloned process, which the
 * filter kills: a sandboxed worker skips it (the SAN test binaries check hv's leaks). */
static atomic_bool installed;

int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) {
        return atomic_load(&installed);
}
#endif

static void explain(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void explain(char *why, size_t why_len, const char *fmt, ...) {
        va_list ap;
        if (!why || !why_len)
                return;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
}

static int add_rules(scmp_filter_ctx ctx, const struct rule *rules, size_t n, char *why, size_t why_len) {
        for (size_t i = 0; i < n; i++) {
                struct scmp_arg_cmp cmp = rules[i].cmp;
                if (rules[i].n_args && cmp.datum_a == THIS_PID)
                        cmp.datum_a = (scmp_datum_t) getpid();
                int r = seccomp_rule_add_array(ctx, rules[i].action, rules[i].nr, rules[i].n_args, &cmp);
                if (r < 0) {
                        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, rules[i].nr);
                        explain(why, why_len, "seccomp: libseccomp %d.%d.%d cannot express the rule for %s (%s): "
                                "install libseccomp 2.5 or newer",
                                seccomp_version()->major, seccomp_version()->minor, seccomp_version()->micro,
                                name ? name : "?", strerror(-r));
                        free(name);
                        return r;
                }
        }
        return 0;
}

static int set_attrs(scmp_filter_ctx ctx, char *why, size_t why_len) {
        static const struct {
                enum scmp_filter_attr attr;
                uint32_t value;
                const char *name;
        } attrs[] = {
                /* every thread, also those started before install */
                { SCMP_FLTATR_CTL_TSYNC, 1, "SCMP_FLTATR_CTL_TSYNC" },
                /* a system call of another ABI (int 0x80) kills as well, not only its thread */
                { SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, "SCMP_FLTATR_ACT_BADARCH" },
                /* a binary tree of syscall numbers, not a linear list: fewer BPF steps per call */
                { SCMP_FLTATR_CTL_OPTIMIZE, 2, "SCMP_FLTATR_CTL_OPTIMIZE" },
        };
        for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
                int r = seccomp_attr_set(ctx, attrs[i].attr, attrs[i].value);
                if (r < 0) {
                        explain(why, why_len, "seccomp: libseccomp rejects %s (%s): install libseccomp 2.5 or newer",
                                attrs[i].name, strerror(-r));
                        return r;
                }
        }
        return 0;
}

/* libseccomp says -ESRCH when a thread could not be synchronized and -ECANCELED when the
 * kernel refused the filter (its errno is not passed on reliably: 2.5.4 returns a stale one). */
static int load(scmp_filter_ctx ctx, char *why, size_t why_len) {
        int r = seccomp_load(ctx);
        if (r == -ESRCH)
                explain(why, why_len, "seccomp: a thread of this process has a seccomp filter the others lack, so "
                        "the allowlist cannot cover every thread: install it before starting threads that add "
                        "filters of their own");
        else if (r < 0)
                explain(why, why_len, "seccomp: the kernel refused the allowlist: a seccomp filter around the worker "
                        "(a container's, systemd's SystemCallFilter=) must allow seccomp(2)");
        return r;
}

int wk_seccomp_install(char *why, size_t why_len) {
        /* level 3: the seccomp(2) call with TSYNC and the kill-process action (Linux 4.14). Lower
         * also when an outer filter refuses seccomp(2): systemd's @system-service does. */
        if (seccomp_api_get() < 3) {
                explain(why, why_len, "seccomp: seccomp(2) is missing or refused (libseccomp API level %u, 3 "
                        "needed): add seccomp to the unit's SystemCallFilter= (or the container's profile), on "
                        "Linux 4.14 or newer", seccomp_api_get());
                return -EOPNOTSUPP;
        }
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        if (!ctx) {
                explain(why, why_len, "seccomp: libseccomp could not start a filter: out of memory");
                return -ENOMEM;
        }
        int r = set_attrs(ctx, why, why_len);
        /* KVM_RUN is the exit loop's one system call per exit: its rule is tested first */
        if (r == 0 && (r = seccomp_syscall_priority(ctx, SCMP_SYS(ioctl), 255)) < 0)
                explain(why, why_len, "seccomp: libseccomp rejects the ioctl priority (%s)", strerror(-r));
        if (r == 0)
                r = add_rules(ctx, rules, sizeof(rules) / sizeof(rules[0]), why, why_len);
#ifdef WK_ASAN
        if (r == 0)
                r = add_rules(ctx, asan_rules, sizeof(asan_rules) / sizeof(asan_rules[0]), why, why_len);
#endif
        if (r == 0)
                r = load(ctx, why, why_len);
#ifdef WK_ASAN
        if (r == 0)
                atomic_store(&installed, true);
#endif
        seccomp_release(ctx);
        return r;
}

int wk_seccomp_selftest_forbidden(void) {
        long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
        return fd < 0 ? -errno : (int) fd;
}
