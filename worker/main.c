/* vmstatd-vm: runs one VM for vmstatd, in a process of its own, so that the guest outlives the
 * daemon (a crash, kill -9, an exec of a new binary) and a guest that takes its executor down
 * takes down nothing else. It owns the VM and vCPU fds, the vCPU threads, devices, guest RAM and
 * the shared memfd (hv/shm.h) the daemon reads counters from; it reads no configuration and
 * speaks no HTTP: the daemon says what to run in the arguments and what to do on the socket
 * (worker/proto.h). Once the guest is loaded, a seccomp allowlist confines the process.
 * VMSTATD_WORKER_WATCH_PID=PID (the test harness sets it): quit when that process exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/layout.h"
#include "guests/params.h"
#include "kvm.h"
#include "proto.h"
#include "sandbox.h"
#include "shm.h"
#include "vcpu.h"
#include "vm.h"

#define WK_MAX_FDS (HV_MAX_VCPUS + 2) /* the shared memfd, the VM's and each vCPU's stats fd */

struct args {
        struct hv_vm_config vm;
        struct hv_builtin builtin;
        const char *flat, *entry;
        struct hv_linux linux_guest;
        const char *socket_path;
};

struct worker {
        struct args a;
        struct hv_kvm *kvm;
        struct hv_vm *vm;
        enum wk_stage stage; /* how the launch went */
        int result;
        char why[WK_MSG_LEN];
        int listen_fd, conn, sig_fd;
        int watch_fd; /* pidfd of VMSTATD_WORKER_WATCH_PID: we quit when it exits (tests), or -1 */
        bool hello_done;
};

static const char *log_name = "?";

static void wk_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wk_log(int prio, const char *fmt, ...) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        fprintf(stderr, "<%d>vmstatd-vm[%s]: %s\n", prio, log_name, line);
}

/* ---- arguments ---------------------------------------------------------------------------------- */

static int parse_u64(const char *opt, const char *v, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 0);
        if (errno || end == v || *end) {
                fprintf(stderr, "vmstatd-vm: --%s '%s': expected a number\n", opt, v);
                return -EINVAL;
        }
        *ret = n;
        return 0;
}

/* What defines the VM: every argument but its socket, id and restart count, as the daemon
 * builds them (a new daemon compares it with its configuration). */
static void build_spec(int argc, char **argv, char *buf, size_t len) {
        size_t n = 0;
        buf[0] = 0;
        for (int i = 1; i < argc && n < len; i++) {
                if (strncmp(argv[i], "--socket=", 9) == 0 || strncmp(argv[i], "--id=", 5) == 0 ||
                    strncmp(argv[i], "--restarts=", 11) == 0)
                        continue;
                n += (size_t) snprintf(buf + n, len - n, "%s%s", n ? " " : "", argv[i]);
        }
}

static int parse_args(int argc, char **argv, struct args *a) {
        static const struct option opts[] = {
                { "name", required_argument, 0, 'n' },   { "vcpus", required_argument, 0, 'v' },
                { "memory", required_argument, 0, 'm' }, { "cpus", required_argument, 0, 'c' },
                { "id", required_argument, 0, 'i' },     { "restarts", required_argument, 0, 'r' },
                { "socket", required_argument, 0, 'S' },
                { "builtin", required_argument, 0, 'b' }, { "count", required_argument, 0, 'C' },
                { "port", required_argument, 0, 'p' },   { "mmio-addr", required_argument, 0, 'M' },
                { "duty", required_argument, 0, 'd' },   { "period", required_argument, 0, 'P' },
                { "tick-us", required_argument, 0, 't' }, { "flat", required_argument, 0, 'f' },
                { "entry", required_argument, 0, 'e' },  { "kernel", required_argument, 0, 'k' },
                { "initrd", required_argument, 0, 'I' }, { "cmdline", required_argument, 0, 'L' },
                { "cpuid-hide", required_argument, 0, 'H' }, { "steal-time", required_argument, 0, 'T' },
                { 0, 0, 0, 0 },
        };
        uint64_t n;
        int c, r = 0;
        while (r == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                const char *name = "";
                for (const struct option *o = opts; o->name; o++)
                        if (o->val == c)
                                name = o->name;
                switch (c) {
                case 'n': a->vm.name = optarg; break;
                case 'S': a->socket_path = optarg; break;
                case 'b': a->builtin.guest = optarg; break;
                case 'f': a->flat = optarg; break;
                case 'e': a->entry = optarg; break;
                case 'k': a->linux_guest.kernel = optarg; break;
                case 'I': a->linux_guest.initrd = optarg; break;
                case 'L': a->linux_guest.cmdline = optarg; break;
                case '?': return -EINVAL;
                default:
                        if ((r = parse_u64(name, optarg, &n)) < 0)
                                return r;
                        switch (c) {
                        case 'v': a->vm.vcpus = (unsigned) n; break;
                        case 'm': a->vm.ram_bytes = n; break;
                        case 'c': a->vm.cpus_mask = n; break;
                        case 'i': a->vm.id = n; break;
                        case 'r': a->vm.restarts = (unsigned) n; break;
                        case 'C': a->builtin.count = n; break;
                        case 'p': a->builtin.port = (uint32_t) n; break;
                        case 'M': a->builtin.mmio_addr = n; break;
                        case 'd': a->builtin.duty_pct = (uint32_t) n; break;
                        case 'P': a->builtin.period_ticks = (uint32_t) n; break;
                        case 't': a->builtin.tick_us = (uint32_t) n; break;
                        case 'H': a->linux_guest.cpuid_hide = (unsigned) n; break;
                        case 'T': a->builtin.steal_time = (uint32_t) n; break;
                        }
                }
        }
        if (!a->vm.name || (!a->builtin.guest && !a->flat && !a->linux_guest.kernel) || optind != argc) {
                fprintf(stderr, "usage: vmstatd-vm --name NAME --vcpus N --memory BYTES "
                                "(--builtin GUEST | --flat IMAGE --entry NAME | --kernel PATH) [...]\n"
                                "vmstatd-vm is started by vmstatd, one per VM; see vmstatd(8)\n");
                return -EINVAL;
        }
        return 0;
}

/* ---- the VM ------------------------------------------------------------------------------------- */

static int load(struct worker *w) {
        char detail[HV_WHY_LEN] = "";
        struct args *a = &w->a;
        int r;
        if (a->linux_guest.kernel) {
                if ((r = hv_boot_linux(w->vm, &a->linux_guest, detail)) < 0)
                        snprintf(w->why, sizeof(w->why), "loading kernel: %s", detail[0] ? detail : strerror(-r));
                return r;
        }
        if (!a->flat) {
                if ((r = hv_boot_builtin(w->vm, &a->builtin)) < 0)
                        snprintf(w->why, sizeof(w->why), "loading guest builtin:%.200s: %s", a->builtin.guest,
                                 r == -ENOENT ? "no such entry in the image" : strerror(-r));
                return r;
        }
        struct hv_guest_params p;
        if ((r = hv_builtin_params(&a->builtin, &p)) < 0 ||
            (r = hv_boot_flat_file(w->vm, a->flat, a->entry ? a->entry : "", &p, detail)) < 0)
                snprintf(w->why, sizeof(w->why), "loading guest %s", detail[0] ? detail : strerror(-r));
        return r;
}

static void *publisher(void *arg) {
        hv_vm_publish_serve(arg);
        return NULL;
}

/* Creates, loads and starts the VM; w->stage and w->why say how far it got. */
static void launch(struct worker *w) {
        char why[HV_WHY_LEN];
        int r;
        w->stage = WK_STAGE_CREATE;
        if ((r = hv_kvm_open(NULL, &w->kvm, why)) < 0) {
                snprintf(w->why, sizeof(w->why), "%s", why);
                goto out;
        }
        if ((r = hv_vm_create(w->kvm, &w->a.vm, &w->vm)) < 0) {
                snprintf(w->why, sizeof(w->why), "creating the VM (%u vCPUs, %llu MiB): %s", w->a.vm.vcpus,
                         (unsigned long long) (w->a.vm.ram_bytes >> 20), strerror(-r));
                goto out;
        }
        pthread_t t;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&t, NULL, publisher, w->vm);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                snprintf(w->why, sizeof(w->why), "starting the publisher thread: %s", strerror(-r));
                goto out;
        }
        w->stage = WK_STAGE_LOAD;
        int load_r = load(w);
        if (load_r < 0)
                hv_vm_fail_load(w->vm, load_r); /* listed as crashed(load_error), never started */
        if ((r = wk_seccomp_install(why, sizeof(why))) < 0) {
                snprintf(w->why, sizeof(w->why), "%s", why);
                w->stage = WK_STAGE_CREATE;
                goto out;
        }
        if ((r = load_r) < 0)
                goto out;
        w->stage = WK_STAGE_START;
        if ((r = hv_vm_start(w->vm)) < 0) { /* it is crashed(kvm_run_error) now */
                snprintf(w->why, sizeof(w->why), "starting vCPU threads: %s", strerror(-r));
                goto out;
        }
        w->stage = WK_STAGE_OK;
        snprintf(w->why, sizeof(w->why), "started: %u vCPUs, %llu MiB", w->a.vm.vcpus,
                 (unsigned long long) (w->a.vm.ram_bytes >> 20));
out:
        w->result = r < 0 ? r : 0;
}

/* ---- the socket --------------------------------------------------------------------------------- */

static int listen_on(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A socket that answers is a live worker's: one a daemon left alone (a layout it did not
         * know, after an upgrade) still runs this VM. Only a dead worker's leftover goes. */
        int c = connect(fd, (struct sockaddr *) &sa, sizeof(sa)), e = errno; /* errno only when c < 0 */
        if (c == 0 || (e != ECONNREFUSED && e != ENOENT)) {
                close(fd);
                return c == 0 ? -EADDRINUSE : -e;
        }
        close(fd);
        if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
                return -errno;
        unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int send_reply(int fd, const struct wk_reply *rep, const int *fds, unsigned n_fds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * (WK_MAX_FDS))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = (void *) rep, .iov_len = sizeof(*rep) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (n_fds) {
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
        }
        return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static void hello(struct worker *w, struct wk_reply *rep, int *fds, unsigned *n_fds) {
        rep->result = w->result;
        rep->stage = w->stage;
        snprintf(rep->msg, sizeof(rep->msg), "%s", w->why);
        if (!w->vm || w->stage == WK_STAGE_CREATE)
                return;
        fds[(*n_fds)++] = hv_vm_shm_fd(w->vm);
        fds[(*n_fds)++] = w->vm->stats_fd;
        for (unsigned i = 0; i < w->vm->n_vcpus; i++)
                fds[(*n_fds)++] = w->vm->vcpus[i]->stats_fd;
}

static int act(struct worker *w, enum wk_op op, char *msg, size_t len) {
        int r = -EBUSY;
        if (!w->vm || w->stage == WK_STAGE_CREATE) {
                snprintf(msg, len, "no VM");
                return -ENODEV;
        }
        switch (op) {
        case WK_PAUSE: r = hv_vm_pause(w->vm); break;
        case WK_RESUME: r = hv_vm_resume(w->vm); break;
        case WK_STOP:
        case WK_QUIT: r = hv_vm_stop(w->vm); break;
        default: r = -EOPNOTSUPP;
        }
        snprintf(msg, len, "%s", r < 0 ? strerror(-r) : hv_vm_state_name(hv_vm_state(w->vm)));
        return r;
}

/* The socket file stays: seccomp allows no unlink, and the daemon removes it (a new worker of
 * the same name may own that path by then). */
static void quit(struct worker *w, const char *why) {
        if (w->vm && hv_vm_state(w->vm) != HV_VM_STOPPED && hv_vm_state(w->vm) != HV_VM_CRASHED)
                hv_vm_stop(w->vm);
        wk_log(LOG_INFO, "%s: guest stopped, exiting", why);
        exit(0);
}

/* One request on the daemon's connection; false when the connection is gone. */
static bool serve(struct worker *w) {
        struct wk_request req;
        struct wk_reply rep = { .pid = (uint32_t) getpid() };
        int fds[WK_MAX_FDS];
        unsigned n_fds = 0;
        ssize_t n = recv(w->conn, &req, sizeof(req), 0);
        if (n <= 0)
                return false;
        if ((size_t) n != sizeof(req) || req.version != WK_PROTO_VERSION) {
                rep.result = -EPROTO;
                snprintf(rep.msg, sizeof(rep.msg), "protocol version %u, this worker speaks %u",
                         (size_t) n >= sizeof(req.version) ? req.version : 0, WK_PROTO_VERSION);
        } else if (req.op == WK_HELLO) {
                hello(w, &rep, fds, &n_fds);
        } else {
                rep.result = act(w, (enum wk_op) req.op, rep.msg, sizeof(rep.msg));
        }
        send_reply(w->conn, &rep, fds, n_fds);
        if (req.op == WK_QUIT && (size_t) n == sizeof(req))
                quit(w, "asked to quit");
        if (req.op == WK_HELLO && w->stage == WK_STAGE_CREATE)
                quit(w, "no VM to run"); /* the daemon knows why now */
        if (req.op == WK_HELLO && !w->hello_done) {
                w->hello_done = true;
                const char *t = getenv("VMSTATD_TEST_FORBIDDEN_SYSCALL");
                if (t && strcmp(t, w->a.vm.name) == 0)
                        wk_seccomp_selftest_forbidden(); /* tests: this kills the process */
        }
        return true;
}

static void drop_conn(struct worker *w, const char *why) {
        close(w->conn);
        w->conn = -1;
        wk_log(LOG_NOTICE, "%s: the guest keeps running (orphaned until a vmstatd connects to %s)", why,
               w->a.socket_path ? w->a.socket_path : "no socket");
}

static void loop(struct worker *w) {
        for (;;) {
                struct pollfd p[4] = {
                        { .fd = w->sig_fd, .events = POLLIN },
                        { .fd = w->listen_fd, .events = POLLIN },
                        { .fd = w->conn, .events = POLLIN },
                        { .fd = w->watch_fd, .events = POLLIN },
                };
                if (poll(p, 4, -1) < 0 && errno != EINTR)
                        return;
                if (p[3].revents & POLLIN)
                        quit(w, "the process named by VMSTATD_WORKER_WATCH_PID is gone");
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(w->sig_fd, &si, sizeof(si)) == sizeof(si))
                                quit(w, strsignal((int) si.ssi_signo));
                }
                if (p[2].revents & (POLLIN | POLLHUP | POLLERR) && !serve(w))
                        drop_conn(w, "the daemon is gone");
                if (p[1].revents & POLLIN) {
                        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                        if (fd < 0)
                                continue;
                        if (w->conn >= 0) /* only one daemon holds the runtime directory: the newest */
                                close(w->conn);
                        w->conn = fd;
                        wk_log(LOG_INFO, "a vmstatd connected");
                }
        }
}

int main(int argc, char **argv) {
        struct worker w = { .listen_fd = -1, .conn = -1, .sig_fd = -1, .watch_fd = -1 };
        sigset_t sigs;

        static char spec[HV_SHM_SPEC_LEN];
        if (parse_args(argc, argv, &w.a) < 0)
                return 2;
        build_spec(argc, argv, spec, sizeof(spec));
        w.a.vm.spec = spec;
        log_name = w.a.vm.name;
        if (fcntl(WK_FD_CONN, F_GETFD) >= 0) {
                w.conn = WK_FD_CONN;
                fcntl(w.conn, F_SETFD, FD_CLOEXEC);
        }
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        /* the daemon's signals (reload, re-exec) reach workers too when sent to the whole unit
         * (systemctl kill): they mean nothing to a guest */
        signal(SIGHUP, SIG_IGN);
        signal(SIGUSR2, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        w.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
        const char *watch = getenv("VMSTATD_WORKER_WATCH_PID");
        if (watch && atoi(watch) > 0)
                w.watch_fd = (int) syscall(SYS_pidfd_open, atoi(watch), 0);
        bool twin = false;
        if (w.a.socket_path && w.a.socket_path[0]) {
                if ((w.listen_fd = listen_on(w.a.socket_path)) == -EADDRINUSE)
                        twin = true;
                else if (w.listen_fd < 0)
                        wk_log(LOG_WARNING, "listening on %s: %s: a new vmstatd will not find this guest",
                               w.a.socket_path, strerror(-w.listen_fd));
        } else {
                w.a.socket_path = NULL;
        }
        const char *slow = getenv("VMSTATD_TEST_SLOW_LAUNCH"); /* tests: a launch that takes 2 s */
        if (slow && strcmp(slow, w.a.vm.name) == 0)
                sleep(2);
        if (twin) { /* never the same guest twice */
                w.stage = WK_STAGE_CREATE;
                w.result = -EADDRINUSE;
                snprintf(w.why, sizeof(w.why), "another worker still runs VM %s (its socket %s answers): stop it first",
                         w.a.vm.name, w.a.socket_path);
        } else {
                launch(&w);
        }
        wk_log(w.result < 0 ? LOG_ERR : LOG_INFO, "%s", w.why);
        if (w.stage == WK_STAGE_CREATE && w.conn < 0)
                return 1; /* nobody to tell and nothing to keep */
        loop(&w);
        return 1;
}
