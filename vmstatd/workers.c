/* Workers: spawn, adopt, talk, notice death. */
#define _GNU_SOURCE
#include "workers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/layout.h"
#include "runstate.h"
#include "vm.h"

#define MAX_FDS (HV_MAX_VCPUS + 2)

extern char **environ;

static int pidfd_of(pid_t pid) {
        long fd = syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -1 : (int) fd;
}

static void close_fds(int *fds, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

/* One reply, with the fds it carries (closed by the caller), within timeout_ms. */
static int recv_reply(int conn, int timeout_ms, struct wk_reply *rep, int *fds, unsigned *n_fds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
                struct cmsghdr align;
        } u;
        struct pollfd p = { .fd = conn, .events = POLLIN };
        int r = poll(&p, 1, timeout_ms);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;
        struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        *n_fds = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                        unsigned k = (unsigned) ((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                        memcpy(fds + *n_fds, CMSG_DATA(cm), sizeof(int) * k);
                        *n_fds += k;
                }
        if (n == 0)
                return -ECONNRESET;
        if ((size_t) n != sizeof(*rep) || (mh.msg_flags & MSG_CTRUNC)) {
                close_fds(fds, *n_fds);
                *n_fds = 0;
                /* fds that could not be installed: almost always our own fd limit */
                return mh.msg_flags & MSG_CTRUNC ? -EMFILE : -EPROTO;
        }
        rep->msg[sizeof(rep->msg) - 1] = 0;
        return 0;
}

static int send_op(int conn, enum wk_op op) {
        struct wk_request req = { .version = WK_PROTO_VERSION, .op = op };
        if (conn < 0)
                return -ENOTCONN;
        return send(conn, &req, sizeof(req), MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* HELLO on a fresh connection: the worker's pid, its launch's result and its VM's view. */
static int hello(struct vs_worker *w, int timeout_ms, char *why, size_t len) {
        struct wk_reply rep;
        int fds[MAX_FDS];
        unsigned n = 0;
        int r = send_op(w->conn, WK_HELLO);
        if (r == 0)
                r = recv_reply(w->conn, timeout_ms, &rep, fds, &n);
        if (r < 0) {
                snprintf(why, len, r == -EMFILE ? "receiving the VM's file descriptors from its worker: %s"
                                                : "no hello from the worker: %s", strerror(-r));
                return r;
        }
        w->pid = w->pid ? w->pid : (pid_t) rep.pid;
        w->stage = (enum wk_stage) rep.stage;
        w->result = rep.result;
        snprintf(w->msg, sizeof(w->msg), "%s", rep.msg);
        if (rep.result == -EPROTO && n == 0) {
                snprintf(why, len, "the worker speaks another protocol: %s", rep.msg);
                return -EPROTO;
        }
        if (n > 0 && (r = hv_vm_attach(fds[0], fds + 1, n - 1, &w->view)) < 0) {
                snprintf(why, len, "the worker's shared memory: %s", r == -EPROTO ? "a layout this vmstatd does not know"
                                                                                  : strerror(-r));
        }
        close_fds(fds, n); /* attach took what it keeps */
        return r < 0 ? r : 0;
}

static struct vs_worker *worker_new(void) {
        struct vs_worker *w = calloc(1, sizeof(*w));
        if (w)
                w->pidfd = w->conn = -1;
        return w;
}

static void note_socket(struct vs_worker *w, const char *path) {
        struct stat st;
        if (!path || strlen(path) >= sizeof(w->sock_path) || stat(path, &st) < 0)
                return;
        strcpy(w->sock_path, path);
        w->sock_dev = st.st_dev;
        w->sock_ino = st.st_ino;
}

void vs_worker_remove_socket(struct vs_worker *w) {
        struct stat st;
        if (w->sock_path[0] && lstat(w->sock_path, &st) == 0 && st.st_dev == w->sock_dev && st.st_ino == w->sock_ino)
                unlink(w->sock_path);
        w->sock_path[0] = 0;
}

int vs_worker_start(const char *exe, char *const argv[], struct vs_worker **ret, char *why, size_t why_len) {
        int sp[2], r;
        struct vs_worker *w = worker_new();
        if (!w)
                return -ENOMEM;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
                r = -errno;
                snprintf(why, why_len, "socketpair: %s", strerror(errno));
                free(w);
                return r;
        }
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, sp[1], WK_FD_CONN);
        posix_spawnattr_init(&at);
        /* its own session: a terminal's ^C reaches the daemon, which decides for the guests */
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &all);
        r = -posix_spawn(&w->pid, exe, &fa, &at, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        close(sp[1]);
        w->conn = sp[0];
        if (r < 0) {
                snprintf(why, why_len, "running %s: %s", exe, strerror(-r));
                vs_worker_free(w);
                return r;
        }
        w->child = true;
        w->pidfd = pidfd_of(w->pid);
        *ret = w;
        return 0;
}

int vs_worker_hello(struct vs_worker *w, const char *sock_path, int timeout_ms, char *why, size_t why_len) {
        int r = hello(w, timeout_ms, why, why_len);
        if (r < 0) {
                vs_worker_kill(w);
                vs_worker_free(w);
                return r;
        }
        note_socket(w, sock_path); /* bound before the hello */
        return 0;
}

int vs_worker_spawn(const char *exe, char *const argv[], const char *sock_path, int timeout_ms,
                    struct vs_worker **ret, char *why, size_t why_len) {
        struct vs_worker *w;
        int r = vs_worker_start(exe, argv, &w, why, why_len);
        if (r == 0 && (r = vs_worker_hello(w, sock_path, timeout_ms, why, why_len)) == 0)
                *ret = w;
        return r;
}

/* Whether pid's parent is this process: then it is ours to reap (an exec keeps children). */
static bool is_child(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = 0;
        const char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
        int ppid = 0;
        return p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid();
}

int vs_worker_adopt(const char *path, int timeout_ms, struct vs_worker **ret, char *why, size_t why_len) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct vs_worker *w;
        int r;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        if (!(w = worker_new()))
                return -ENOMEM;
        w->conn = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (w->conn < 0 || connect(w->conn, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                snprintf(why, why_len, "connecting to %s: %s", path, strerror(errno));
                vs_worker_free(w);
                return r;
        }
        if ((r = hello(w, timeout_ms, why, why_len)) < 0) {
                vs_worker_free(w);
                return r;
        }
        w->child = is_child(w->pid);
        w->pidfd = pidfd_of(w->pid);
        note_socket(w, path);
        *ret = w;
        return 0;
}

int vs_worker_send(struct vs_worker *w, enum wk_op op) {
        return send_op(w->conn, op);
}

int vs_worker_reply(struct vs_worker *w, int timeout_ms, char *msg, size_t len) {
        struct wk_reply rep;
        int fds[MAX_FDS];
        unsigned n = 0;
        int r = w->conn < 0 ? -ENOTCONN : recv_reply(w->conn, timeout_ms, &rep, fds, &n);
        close_fds(fds, n);
        if (r < 0) {
                snprintf(msg, len, "the worker did not answer: %s", strerror(-r));
                if (r != -ETIMEDOUT) { /* a reply that comes later would answer the wrong request */
                        close(w->conn);
                        w->conn = -1;
                }
                return r;
        }
        snprintf(msg, len, "%s", rep.msg);
        return rep.result;
}

int vs_worker_call(struct vs_worker *w, enum wk_op op, int timeout_ms, char *msg, size_t len) {
        int r = vs_worker_send(w, op);
        if (r < 0) {
                snprintf(msg, len, "the worker is unreachable: %s", strerror(-r));
                return r;
        }
        return vs_worker_reply(w, timeout_ms, msg, len);
}

bool vs_worker_dead(struct vs_worker *w, int *ret_sig) {
        if (!w->gone && w->child) {
                siginfo_t si = { 0 };
                if (waitid(P_PID, (id_t) w->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == w->pid) {
                        w->gone = true; /* reaped: that pid is never signalled again */
                        w->sig = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED ? si.si_status : 0;
                }
        } else if (!w->gone && w->pidfd >= 0) {
                struct pollfd p = { .fd = w->pidfd, .events = POLLIN };
                w->gone = poll(&p, 1, 0) == 1;
        } else if (!w->gone) {
                w->gone = w->pid <= 0 || (kill(w->pid, 0) < 0 && errno == ESRCH);
        }
        *ret_sig = w->sig;
        return w->gone;
}

void vs_worker_finish(struct vs_worker *w, uint64_t deadline_ns) {
        char msg[WK_MSG_LEN];
        int sig;
        uint64_t now = hv_now_ns();
        if (w->conn >= 0)
                vs_worker_reply(w, now < deadline_ns ? (int) ((deadline_ns - now) / 1000000) : 0, msg, sizeof(msg));
        /* it exits right after its reply: its pidfd says when (or a short poll without one) */
        while (!vs_worker_dead(w, &sig) && (now = hv_now_ns()) < deadline_ns) {
                struct pollfd p = { .fd = w->pidfd, .events = POLLIN };
                int ms = (int) ((deadline_ns - now) / 1000000) + 1;
                if (w->pidfd < 0 || poll(&p, 1, ms) < 0)
                        usleep(2000);
        }
        if (!vs_worker_dead(w, &sig))
                vs_worker_kill(w);
        vs_worker_remove_socket(w);
}

void vs_worker_kill(struct vs_worker *w) {
        if (!w || w->gone || w->pid <= 0)
                return;
        if (w->pidfd >= 0)
                syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
        else
                kill(w->pid, SIGKILL);
        if (w->child) {
                waitpid(w->pid, NULL, 0);
                w->gone = true;
                w->sig = SIGKILL;
        }
}

void vs_worker_free(struct vs_worker *w) {
        if (!w)
                return;
        if (w->conn >= 0)
                close(w->conn);
        if (w->pidfd >= 0)
                close(w->pidfd);
        hv_vm_destroy(w->view);
        free(w);
}
