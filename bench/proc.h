/* The programs a bench starts, and where to find them: a table of children that end with the
 * bench (SIGTERM, then SIGKILL after 5 s), a spawn that follows the bench's death, and the
 * look-ups that come before (a free port, vmstatd, a command on PATH). Header-only: bench/%.c
 * build one program each. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN_MAX 4

static pid_t children[CHILDREN_MAX];
static void (*children_cleanup)(void); /* the bench's own, which calls children_kill() first */

/* <dir>/conf with n halted VMs of vcpus vCPUs (8M each) in conf/vms.d, named <prefix>000...;
 * conf (the --config directory) gets its path. Says what failed on stderr; -1 then. */
static inline int halted_vms_config(const char *dir, const char *prefix, unsigned n, unsigned vcpus, char *conf,
                                    size_t conf_size) {
        char vmsd[PATH_MAX], path[PATH_MAX + 64];
        snprintf(conf, conf_size, "%s/conf", dir);
        snprintf(vmsd, sizeof(vmsd), "%s/vms.d", conf);
        if (mkdir(conf, 0755) < 0 || mkdir(vmsd, 0755) < 0) {
                perror(vmsd);
                return -1;
        }
        for (unsigned i = 0; i < n; i++) {
                snprintf(path, sizeof(path), "%s/%s%03u.vm", vmsd, prefix, i);
                FILE *f = fopen(path, "we");
                if (!f) {
                        perror(path);
                        return -1;
                }
                fprintf(f, "[vm]\nvcpus = %u\nmemory = 8M\nguest = builtin:halt\n", vcpus);
                fclose(f);
        }
        return 0;
}

/* the calling thread's CPU time, us */
static inline double thread_cpu_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static inline void children_track(pid_t pid) {
        for (int i = 0; pid > 0 && i < CHILDREN_MAX; i++)
                if (children[i] <= 0) {
                        children[i] = pid;
                        return;
                }
}

/* pid was waited for: nothing left to kill */
static inline void children_untrack(pid_t pid) {
        for (int i = 0; i < CHILDREN_MAX; i++)
                if (children[i] == pid)
                        children[i] = 0;
}

/* SIGTERM, 5 s, then SIGKILL: whatever the bench started ends with it */
static inline void children_kill(void) {
        for (int i = 0; i < CHILDREN_MAX; i++) {
                int st;
                if (children[i] <= 0)
                        continue;
                kill(children[i], SIGTERM);
                for (int k = 0; k < 100 && waitpid(children[i], &st, WNOHANG) == 0; k++)
                        usleep(50000);
                if (waitpid(children[i], &st, WNOHANG) == 0) {
                        kill(children[i], SIGKILL);
                        waitpid(children[i], &st, 0);
                }
                children[i] = 0;
        }
}

static inline void children_on_signal(int sig) {
        children_cleanup();
        signal(sig, SIG_DFL);
        raise(sig);
}

/* cleanup runs at exit, and on SIGINT or SIGTERM before the signal takes its course */
static inline void children_cleanup_at_exit(void (*cleanup)(void)) {
        children_cleanup = cleanup;
        atexit(cleanup);
        signal(SIGINT, children_on_signal);
        signal(SIGTERM, children_on_signal);
}

/* Starts argv (looked up on PATH) with stdout and stderr to the file log, or to the fd out when
 * out >= 0, and tracks it; -1 with errno if fork failed. Fork from the main thread: the
 * parent-death signal follows the thread that forked. */
static inline pid_t children_spawn(char *const argv[], const char *log, int out) {
        pid_t parent = getpid(), pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench */
                if (getppid() != parent)          /* the bench died before prctl */
                        _exit(127);
                int fd = out >= 0 ? out : log ? open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execvp(argv[0], argv);
                fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        children_track(pid);
        return pid;
}

/* children_spawn with stdout and stderr on a pipe, whose read end is ret_fd: pid, or -errno */
static inline pid_t children_spawn_piped(char *const argv[], int *ret_fd) {
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = children_spawn(argv, NULL, pipefd[1]);
        int r = pid < 0 ? -errno : 0;
        close(pipefd[1]);
        if (r < 0) {
                close(pipefd[0]);
                return r;
        }
        *ret_fd = pipefd[0];
        return pid;
}

/* Reads fd to its end and closes it, then waits for pid: what it wrote (malloc'd, NUL-terminated,
 * NULL without memory) and its wait status. */
static inline char *children_finish_piped(pid_t pid, int fd, int *ret_status) {
        char *out = NULL, chunk[4096];
        size_t len = 0;
        ssize_t n;
        FILE *m = open_memstream(&out, &len);
        while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
                if (n > 0 && m)
                        fwrite(chunk, 1, (size_t) n, m);
        close(fd);
        if (m)
                fclose(m);
        *ret_status = 0;
        waitpid(pid, ret_status, 0);
        children_untrack(pid);
        return out;
}

/* ---- measuring them ----------------------------------------------------------------------------- */

/* CPU ns of the threads of pid, each from its schedstat (exact, unlike utime/stime ticks),
 * leaving out those skip says yes to (ctx is its; skip NULL: every thread) */
static inline uint64_t proc_cpu_ns(pid_t pid, bool (*skip)(long tid, const void *ctx), const void *ctx) {
        char path[64];
        uint64_t sum = 0;
        snprintf(path, sizeof(path), "/proc/%d/task", pid);
        DIR *d = opendir(path);
        for (struct dirent *de; d && (de = readdir(d));) {
                if (de->d_name[0] == '.' || (skip && skip(atol(de->d_name), ctx)))
                        continue;
                char file[300];
                unsigned long long ns = 0;
                snprintf(file, sizeof(file), "/proc/%d/task/%s/schedstat", pid, de->d_name);
                FILE *f = fopen(file, "re");
                if (f && fscanf(f, "%llu", &ns) == 1)
                        sum += ns;
                if (f)
                        fclose(f);
        }
        if (d)
                closedir(d);
        return sum;
}

/* ---- before starting anything ---------------------------------------------------------------- */

/* A TCP port on 127.0.0.1 that was free a moment ago, -1 if none could be had */
static inline int free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
        if (fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *) &a, &len) == 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

/* $VMSTATD_BIN, else the first of candidates (NULL-terminated, relative to the directory of this
 * program) that is an executable file */
static inline bool find_vmstatd(char *path, size_t n, const char *const candidates[]) {
        const char *env = getenv("VMSTATD_BIN");
        if (env) {
                snprintf(path, n, "%s", env);
                return access(path, X_OK) == 0;
        }
        char self[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (len < 0)
                return false;
        self[len] = 0;
        const char *dir = dirname(self);
        for (size_t i = 0; candidates[i]; i++) {
                struct stat st;
                snprintf(path, n, "%s/%s", dir, candidates[i]);
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
                        return true;
        }
        return false;
}

static inline bool on_path(const char *cmd) {
        const char *path = getenv("PATH");
        char buf[PATH_MAX], *dirs = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
        bool found = false;
        for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
                snprintf(buf, sizeof(buf), "%s/%s", d, cmd);
                found = access(buf, X_OK) == 0;
        }
        free(dirs);
        return found;
}

#endif
