/* bench/soak: the daemon under everything at once. vmstatd runs b13 (builtin:demo, 2 vCPUs), a
 * guest that pauses and resumes (builtin:idle), a guest that crash-loops (builtin:triplefault,
 * restart = on-crash) and one that comes and goes, while 64 keep-alive connections hammer
 * /metrics and /vms/b13, the configuration is reloaded 30 times (SIGHUP) and VMs are paused and
 * resumed 100 times through the control socket (per 60 s). Criteria:
 *   requests   0 failed (non-2xx answers, connection errors)
 *   samples    consecutive sample times of b13 (its history) never more than interval + 10 % apart
 *   rss        VmRSS after the soak within 1 MiB of VmRSS after the warm-up
 *   fds        no more open fds after the soak than after the warm-up
 * and, so that the run means what it says: every reload and control action answered, the crash
 * loop crashing all along, b13 never re-created, the daemon exiting 0 on SIGTERM with no
 * sanitizer report. Prints one line per criterion; exits 1 if one fails, 2 if it could not run.
 *
 * The crash loop: the daemon's backoff doubles to 60 s, so a triplefaulting guest alone would
 * crash 6 times in a minute, the last time half a minute before the end. Every reload alters its
 * file (memory 8M <-> 12M), which restarts it with a fresh backoff: it crashes about once a
 * second for the whole run. Every reload also adds or removes the VM "churn".
 *
 * RSS and fds are read at equal moments: the load stopped and its connections closed, the same
 * configuration (an even number of reloads per phase), after the same settling time; the
 * smallest of a few readings, since a crash-loop relaunch in flight adds a VM for a moment. An
 * ASan daemon gets a wider RSS limit, printed with the reason (RSS_SLACK_ASAN_KIB).
 * Everything but the load goes through the control socket: the TCP port allows 64 connections
 * per client address, and the load takes them all.
 *
 *   build/bench/soak [--seconds N] [--warmup N] [--load wrk|builtin] [--connections N]
 *                    [--interval DURATION] [--reloads N] [--pauses N] [--keep]
 *   (vmstatd is found at ../bin/vmstatd from here; VMSTATD_BIN overrides) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http1.h"
#include "proc.h"
#include "wrk.h"

#define GAP_SLACK 1.10          /* a sample may come at most 10 % late */
#define RSS_SLACK_KIB 1024      /* RSS after the soak within 1 MiB of RSS after the warm-up */
/* Under ASan the RSS criterion cannot hold for ASan's own reasons: freed memory waits in its
 * quarantine (256 MiB by default) and its allocator never gives size-class regions back, so RSS
 * follows the quarantine's changing mix of sizes: +11 to +21 MiB (and -12) over 20-60 s here,
 * +0.3 and +0.7 MiB with ASAN_OPTIONS=quarantine_size_mb=0. So SAN builds get this limit (the
 * plain build holds the 1 MiB), unless ASAN_OPTIONS turns the quarantine off; lost memory is
 * LeakSanitizer's to report at exit (the daemon exit line). */
#define RSS_SLACK_ASAN_KIB (64 * 1024)
#define RELOADS_PER_MIN 30
#define PAUSES_PER_MIN 100
#define SETTLE_S 2.0            /* after the load stops, before RSS and fds are read */
#define CRASH_VM "crashloop"
#define CRASH_STRETCH_S 15.0    /* the crash loop runs all along when no stretch is longer (backoff alone: 16, 32 s) */
#define RELOAD_WAIT_S 30.0      /* a reload not counted on /metrics by then failed */
#define HISTORY_DEFAULT 720
#define HISTORY_CELLS 8192      /* most points x vCPUs one history response carries */

struct opts {
        unsigned seconds, warmup, connections, reloads, pauses;
        bool wrk, keep;
        const char *interval_arg;
        double interval;        /* seconds */
};

static char tmpdir[64];
static bool keep_tmpdir;
static pid_t daemon_pid;
static int http_port;
static char control_path[96]; /* fits sun_path */
static char log_path[128];

/* ---- time, the temporary directory ----------------------------------------------------------- */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* no libm: the Makefile links benches without -lm */
static double max_d(double a, double b) {
        return a > b ? a : b;
}

static double min_d(double a, double b) {
        return a < b ? a : b;
}

static void sleep_s(double s) {
        if (s <= 0)
                return;
        struct timespec ts = { (time_t) s, (long) ((s - (double) (time_t) s) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        remove(path); /* best effort: what cannot be removed stays */
        return 0;
}

/* whatever this bench started ends with it, then its files */
static void cleanup(void) {
        children_kill();
        if (tmpdir[0] && !keep_tmpdir)
                nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        else if (tmpdir[0])
                fprintf(stderr, "soak: kept %s\n", tmpdir);
        tmpdir[0] = 0;
}

static void print_log_tail(size_t max) {
        FILE *f = fopen(log_path, "re");
        if (!f)
                return;
        char *buf = malloc(max + 1);
        if (buf) {
                if (fseek(f, -(long) max, SEEK_END) < 0)
                        rewind(f);
                size_t n = fread(buf, 1, max, f);
                buf[n] = 0;
                fprintf(stderr, "--- vmstatd log (tail, %s):\n%s\n---\n", log_path, buf);
                free(buf);
        }
        fclose(f);
}

/* ---- one HTTP request on its own connection: TCP (port > 0) or the control socket ----------- */

static int http_request(int port, const char *method, const char *path, struct http1_reply *ret) {
        return http1_request(port, control_path, method, path, "", 10, ret);
}

/* the value of the series whose line starts with series (name and labels), NAN if absent */
static double metric_value(const char *body, const char *series) {
        size_t n = strlen(series);
        for (const char *p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, series, n) == 0 && p[n] == ' ')
                        return strtod(p + n + 1, NULL);
        return NAN;
}

static json_t *get_json(const char *path) {
        return http1_get_json(0, control_path, path, 10);
}

/* ---- the daemon's configuration: state k of the reload cycle ---------------------------------- */

static int write_file(const char *name, const char *text) {
        char tmp[256], path[256];
        snprintf(tmp, sizeof(tmp), "%s/conf/.%s.tmp", tmpdir, name); /* outside vms.d: never read half */
        snprintf(path, sizeof(path), "%s/conf/vms.d/%s", tmpdir, name);
        FILE *f = fopen(tmp, "we");
        if (!f)
                return -errno;
        fputs(text, f);
        if (fclose(f) != 0)
                return -EIO;
        return rename(tmp, path) < 0 ? -errno : 0;
}

/* Even k: the configuration the daemon starts with. Odd k: crashloop altered, churn added. */
static int write_config(unsigned k) {
        char text[256], path[256];
        int r;
        snprintf(text, sizeof(text), "[vm]\nvcpus = 1\nmemory = %s\nguest = builtin:triplefault\nrestart = on-crash\n",
                 k % 2 ? "12M" : "8M");
        if ((r = write_file(CRASH_VM ".vm", text)) < 0)
                return r;
        if (k % 2)
                return write_file("churn.vm", "[vm]\nvcpus = 1\nmemory = 8M\nguest = builtin:halt\n");
        snprintf(path, sizeof(path), "%s/conf/vms.d/churn.vm", tmpdir);
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int write_initial_config(void) {
        char path[256];
        int r;
        snprintf(path, sizeof(path), "%s/conf", tmpdir);
        if (mkdir(path, 0755) < 0)
                return -errno;
        snprintf(path, sizeof(path), "%s/conf/vms.d", tmpdir);
        if (mkdir(path, 0755) < 0)
                return -errno;
        if ((r = write_file("b13.vm", "[vm]\nvcpus = 2\nmemory = 64M\nguest = builtin:demo\n")) < 0 ||
            (r = write_file("idle.vm", "[vm]\nvcpus = 1\nmemory = 8M\nguest = builtin:idle\n")) < 0)
                return r;
        return write_config(0);
}

/* ---- the crash loop, as the daemon's log tells it ---------------------------------------------- */

struct crash_watch {
        off_t off;
        char carry[64];
        size_t carry_len;
        unsigned crashes;
        double last_at;      /* when the count last grew (or the phase began) */
        double longest;      /* longest stretch without a crash in the phase */
};

/* reads what the log gained and counts "<crash vm>: crashed (" in it */
static void crash_watch_poll(struct crash_watch *w) {
        static const char needle[] = CRASH_VM ": crashed (";
        char buf[65536 + sizeof(w->carry)];
        int fd = open(log_path, O_RDONLY | O_CLOEXEC);
        unsigned before = w->crashes;
        if (fd < 0)
                return;
        for (;;) {
                memcpy(buf, w->carry, w->carry_len);
                ssize_t n = pread(fd, buf + w->carry_len, sizeof(buf) - w->carry_len - 1, w->off);
                if (n <= 0)
                        break;
                w->off += n;
                size_t len = w->carry_len + (size_t) n;
                buf[len] = 0;
                for (char *p = buf; (p = memmem(p, (size_t) (buf + len - p), needle, sizeof(needle) - 1));
                     p += sizeof(needle) - 1)
                        w->crashes++;
                w->carry_len = len < sizeof(needle) - 1 ? len : sizeof(needle) - 1; /* a needle cut in two */
                memcpy(w->carry, buf + len - w->carry_len, w->carry_len);
        }
        close(fd);
        double now = now_s();
        if (now - w->last_at > w->longest)
                w->longest = now - w->last_at;
        if (w->crashes != before)
                w->last_at = now;
}

/* ---- load: wrk ---------------------------------------------------------------------------------- */

struct load_result {
        long requests, non2xx, errors;
        long closes;      /* keep-alive connections the daemon closed (builtin load only) */
        double max_latency_ms;
        char detail[256]; /* the first failure, or how wrk failed */
};

struct wrk_run {
        pid_t pid;
        int fd;
        const char *path;
};

static int wrk_start(struct wrk_run *w, const char *path, unsigned connections, unsigned seconds) {
        char url[128], conns[16], duration[16];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", http_port, path);
        snprintf(conns, sizeof(conns), "-c%u", connections);
        snprintf(duration, sizeof(duration), "-d%us", seconds);
        char *argv[] = { "wrk", "-t1", conns, duration, url, NULL };
        w->path = path;
        w->pid = children_spawn_piped(argv, &w->fd);
        return w->pid < 0 ? w->pid : 0;
}

/* waits for wrk to end and adds what it reports to res */
static void wrk_finish(struct wrk_run *w, struct load_result *res) {
        struct wrk_report rep;
        int st;
        char *out = children_finish_piped(w->pid, w->fd, &st);
        wrk_parse(out, &rep);
        if (rep.requests >= 0)
                res->requests += rep.requests;
        res->non2xx += rep.non2xx;
        res->errors += wrk_socket_errors(&rep);
        if (rep.max_ms > res->max_latency_ms)
                res->max_latency_ms = rep.max_ms;
        if (!res->detail[0] && wrk_socket_errors(&rep)) /* the first failure: wrk prints these before non-2xx */
                snprintf(res->detail, sizeof(res->detail), "%s: socket errors: connect %ld, read %ld, write %ld, "
                         "timeout %ld", w->path, rep.connect, rep.read, rep.write, rep.timeout);
        if (!res->detail[0] && rep.non2xx)
                snprintf(res->detail, sizeof(res->detail), "%s: %ld non-2xx answers", w->path, rep.non2xx);
        if (rep.requests < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                res->errors++; /* a wrk that failed counts as a failure of the run */
                snprintf(res->detail, sizeof(res->detail), "wrk on %s failed (status %d)", w->path, st);
                fprintf(stderr, "soak: wrk on %s failed (status %d):\n%s\n", w->path, st, out ? out : "");
        }
        free(out);
}

/* ---- load: the builtin generator, keep-alive HTTP/1.1 over N connections in one poll() loop --- */

enum cstate { C_CONNECTING, C_SENDING, C_HEAD, C_BODY, C_RETRY, C_DONE };

struct conn {
        int fd;
        enum cstate st;
        unsigned path;         /* the path of the request in flight; alternates per request */
        size_t sent, len;      /* request bytes sent; response header bytes buffered */
        long long body_left;
        int status;
        bool close_after;      /* the answer said Connection: close */
        double t_sent, retry_at;
        char head[4096];
};

struct load {
        unsigned n;
        double until;          /* no request starts after this */
        pthread_t thread;
        struct conn *c;
        char req[2][160];
        size_t req_len[2];
        struct load_result res;
        long per_path[2];
};

static const char *const load_paths[2] = { "/metrics", "/vms/b13" };
#define LOAD_GRACE_S 5.0 /* for requests in flight at the end */

static void load_fail(struct load *l, struct conn *c, const char *what, int err) {
        l->res.errors++;
        if (!l->res.detail[0])
                snprintf(l->res.detail, sizeof(l->res.detail), "%s: %s%s%s", load_paths[c->path], what, err ? ": " : "",
                         err ? strerror(err) : "");
        close(c->fd);
        c->fd = -1;
        c->st = C_RETRY;
        c->retry_at = now_s() + 0.1; /* no busy loop against a daemon that refuses */
}

static void load_open(struct load *l, struct conn *c) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) http_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int one = 1;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
                load_fail(l, c, "socket", errno);
                return;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->sent = 0;
        if (connect(c->fd, (struct sockaddr *) &a, sizeof(a)) == 0)
                c->st = C_SENDING;
        else if (errno == EINPROGRESS)
                c->st = C_CONNECTING;
        else
                load_fail(l, c, "connect", errno);
        c->t_sent = now_s();
}

static void load_next(struct load *l, struct conn *c) {
        c->path ^= 1;
        c->sent = 0;
        c->st = C_SENDING;
        c->t_sent = now_s();
        (void) l;
}

/* a whole answer arrived */
static void load_complete(struct load *l, struct conn *c, double now) {
        double ms = (now - c->t_sent) * 1000;
        l->res.requests++;
        l->per_path[c->path]++;
        if (ms > l->res.max_latency_ms)
                l->res.max_latency_ms = ms;
        if (c->status != 200) {
                l->res.non2xx++;
                if (!l->res.detail[0])
                        snprintf(l->res.detail, sizeof(l->res.detail), "%s: answered %d", load_paths[c->path], c->status);
        }
        if (c->close_after || now >= l->until) {
                l->res.closes += c->close_after;
                close(c->fd);
                c->fd = -1;
                c->st = C_DONE;
                if (now < l->until)
                        load_open(l, c);
                return;
        }
        load_next(l, c);
}

/* the header block is in c->head[0..end): status, Content-Length, Connection */
static int load_parse_head(struct conn *c, size_t end) {
        char *h = c->head, *cl;
        h[end - 2] = 0; /* keep one CRLF so every header line starts with one */
        if (sscanf(h, "HTTP/1.1 %d", &c->status) != 1)
                return -EPROTO;
        cl = strcasestr(h, "\r\nContent-Length:");
        if (!cl)
                return -EPROTO; /* every answer here has a length; chunked would be a change */
        c->body_left = strtoll(cl + 17, NULL, 10);
        c->close_after = strcasestr(h, "\r\nConnection: close") != NULL;
        return 0;
}

static void load_step(struct load *l, struct conn *c, short revents, char *scratch, size_t scratch_len) {
        double now = now_s();
        if (c->st == C_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                        load_fail(l, c, "connect", err);
                        return;
                }
                c->st = C_SENDING;
        }
        if (c->st == C_SENDING) {
                const char *req = l->req[c->path];
                ssize_t n = send(c->fd, req + c->sent, l->req_len[c->path] - c->sent, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n < 0) {
                        load_fail(l, c, "send", errno);
                        return;
                }
                c->sent += (size_t) n;
                if (c->sent == l->req_len[c->path]) {
                        c->st = C_HEAD;
                        c->len = 0;
                }
                return;
        }
        if (!(revents & (POLLIN | POLLHUP | POLLERR)))
                return;
        if (c->st == C_HEAD) {
                ssize_t n = recv(c->fd, c->head + c->len, sizeof(c->head) - 1 - c->len, 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        load_fail(l, c, n == 0 ? "closed by the daemon before the answer" : "recv", n < 0 ? errno : 0);
                        return;
                }
                c->len += (size_t) n;
                c->head[c->len] = 0;
                char *end = strstr(c->head, "\r\n\r\n");
                if (!end) {
                        if (c->len == sizeof(c->head) - 1)
                                load_fail(l, c, "header block larger than 4 KiB", 0);
                        return;
                }
                size_t head_len = (size_t) (end + 4 - c->head), extra = c->len - head_len;
                if (load_parse_head(c, head_len) < 0) {
                        load_fail(l, c, "answer without status or Content-Length", 0);
                        return;
                }
                c->body_left -= (long long) extra;
                if (c->body_left < 0) {
                        load_fail(l, c, "more bytes than Content-Length", 0);
                        return;
                }
                c->st = C_BODY;
        } else if (c->st == C_BODY) {
                size_t want = c->body_left < (long long) scratch_len ? (size_t) c->body_left : scratch_len;
                ssize_t n = recv(c->fd, scratch, want, 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        load_fail(l, c, n == 0 ? "closed by the daemon inside a body" : "recv", n < 0 ? errno : 0);
                        return;
                }
                c->body_left -= n;
        }
        if (c->st == C_BODY && c->body_left == 0)
                load_complete(l, c, now);
}

static void *load_run(void *arg) {
        struct load *l = arg;
        struct pollfd *pf = calloc(l->n, sizeof(*pf));
        size_t scratch_len = 1 << 16;
        char *scratch = malloc(scratch_len);
        if (!pf || !scratch) {
                l->res.errors++;
                snprintf(l->res.detail, sizeof(l->res.detail), "builtin load: out of memory");
                free(pf);
                free(scratch);
                return NULL;
        }
        for (unsigned i = 0; i < l->n; i++) {
                l->c[i].path = i & 1; /* half start on each path */
                load_open(l, &l->c[i]);
        }
        for (;;) {
                double now = now_s();
                bool ending = now >= l->until;
                unsigned active = 0;
                for (unsigned i = 0; i < l->n; i++) {
                        struct conn *c = &l->c[i];
                        if (ending && (c->st == C_RETRY || c->st == C_CONNECTING ||
                                       (c->st == C_SENDING && c->sent == 0))) {
                                if (c->fd >= 0)
                                        close(c->fd);
                                c->fd = -1;
                                c->st = C_DONE;
                        }
                        if (c->st == C_RETRY && now >= c->retry_at)
                                load_open(l, c);
                        pf[i].fd = c->st == C_DONE || c->st == C_RETRY ? -1 : c->fd;
                        pf[i].events = c->st == C_CONNECTING || c->st == C_SENDING ? POLLOUT : POLLIN;
                        pf[i].revents = 0;
                        active += c->st != C_DONE;
                }
                if (!active)
                        break;
                if (ending && now >= l->until + LOAD_GRACE_S) {
                        for (unsigned i = 0; i < l->n; i++)
                                if (l->c[i].st != C_DONE) /* no answer within the grace: a failure */
                                        load_fail(l, &l->c[i], "no answer within 5 s", 0);
                        break;
                }
                if (poll(pf, l->n, 50) < 0 && errno != EINTR)
                        break;
                for (unsigned i = 0; i < l->n; i++)
                        if (pf[i].revents)
                                load_step(l, &l->c[i], pf[i].revents, scratch, scratch_len);
        }
        for (unsigned i = 0; i < l->n; i++)
                if (l->c[i].fd >= 0)
                        close(l->c[i].fd);
        free(pf);
        free(scratch);
        return NULL;
}

static int load_start(struct load *l, unsigned connections, unsigned seconds) {
        memset(l, 0, sizeof(*l));
        l->n = connections;
        l->until = now_s() + seconds;
        l->c = calloc(connections, sizeof(*l->c));
        if (!l->c)
                return -ENOMEM;
        for (unsigned i = 0; i < connections; i++)
                l->c[i].fd = -1;
        for (int p = 0; p < 2; p++)
                l->req_len[p] = (size_t) snprintf(l->req[p], sizeof(l->req[p]), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                                                  load_paths[p], http_port);
        int r = pthread_create(&l->thread, NULL, load_run, l);
        if (r) {
                free(l->c);
                return -r;
        }
        return 0;
}

static void load_finish(struct load *l, struct load_result *res) {
        pthread_join(l->thread, NULL);
        free(l->c);
        *res = l->res;
}

/* ---- the disturbances: reloads and pause/resume pairs spread over a phase ---------------------- */

struct phase {
        const char *name;
        unsigned seconds, reloads, pauses;
        /* results */
        struct load_result load;
        long per_path[2];
        unsigned reloads_ok, actions, actions_ok;
        double reload_max_s;    /* SIGHUP to the counter grown on /metrics */
        double interval_max;    /* largest vmstatd_sample_interval_seconds seen on the way */
        char action_error[256], reload_error[128];
        unsigned crashes;
        double crash_longest;
};

enum ev_kind { EV_RELOAD, EV_PAUSE, EV_RESUME };

struct event {
        double at;
        enum ev_kind kind;
        const char *vm;
};

static int event_cmp(const void *a, const void *b) {
        double x = ((const struct event *) a)->at, y = ((const struct event *) b)->at;
        return x < y ? -1 : x > y;
}

static unsigned config_state;   /* k of write_config: reloads so far */
static unsigned reloads_total;  /* SIGHUPs sent */

/* the reload counters on /metrics (through the control socket); false if it did not answer */
static bool reload_counts(struct phase *ph, double *ret_ok, double *ret_bad) {
        struct http1_reply rep;
        bool got = http_request(0, "GET", "/metrics", &rep) == 0 && rep.status == 200;
        if (got) {
                *ret_ok = metric_value(rep.body, "vmstatd_config_reloads_total{result=\"success\"}");
                *ret_bad = metric_value(rep.body, "vmstatd_config_reloads_total{result=\"failure\"}");
                double iv = metric_value(rep.body, "vmstatd_sample_interval_seconds");
                if (iv > ph->interval_max)
                        ph->interval_max = iv;
                got = !isnan(*ret_ok) && !isnan(*ret_bad);
        }
        http1_reply_free(&rep);
        return got;
}

/* SIGHUP with the next configuration, and wait until /metrics counts one more reload. One not
 * counted in time is a failed reload; the run goes on (a late one is counted by the next). */
static void reload(struct phase *ph) {
        double ok0, bad0, ok, bad, t0 = now_s();
        while (!reload_counts(ph, &ok0, &bad0) && now_s() - t0 < RELOAD_WAIT_S)
                sleep_s(0.05);
        int r = write_config(++config_state);
        if (r < 0) {
                snprintf(ph->reload_error, sizeof(ph->reload_error), "writing the configuration: %s", strerror(-r));
                return;
        }
        t0 = now_s();
        kill(daemon_pid, SIGHUP);
        reloads_total++;
        while (now_s() - t0 < RELOAD_WAIT_S) {
                if (reload_counts(ph, &ok, &bad) && (ok > ok0 || bad > bad0)) {
                        if (bad > bad0)
                                snprintf(ph->reload_error, sizeof(ph->reload_error), "reload %u was rejected (see the log)",
                                         reloads_total);
                        else
                                ph->reloads_ok++;
                        ph->reload_max_s = max_d(ph->reload_max_s, now_s() - t0);
                        return;
                }
                sleep_s(0.05);
        }
        ph->reload_max_s = max_d(ph->reload_max_s, now_s() - t0);
        if (!ph->reload_error[0])
                snprintf(ph->reload_error, sizeof(ph->reload_error), "reload %u not counted on /metrics within %.0f s",
                         reloads_total, RELOAD_WAIT_S);
}

static void control(struct phase *ph, const char *vm, const char *verb) {
        char path[128];
        struct http1_reply rep;
        snprintf(path, sizeof(path), "/vms/%s/%s", vm, verb);
        int r = http_request(0, "POST", path, &rep);
        ph->actions++;
        if (r == 0 && rep.status == 200)
                ph->actions_ok++;
        else if (!ph->action_error[0])
                snprintf(ph->action_error, sizeof(ph->action_error), "POST %s: %s %d %.120s", path,
                         r < 0 ? strerror(-r) : "status", rep.status, rep.body ? rep.body : "");
        http1_reply_free(&rep);
}

static bool daemon_alive(void) {
        int st;
        return waitpid(daemon_pid, &st, WNOHANG) == 0;
}

/* runs the load for ph->seconds with the phase's reloads and pause/resume pairs spread over it;
 * false when the daemon died (the run cannot go on) */
static bool run_phase(const struct opts *o, struct phase *ph) {
        size_t n_ev = ph->reloads + 2 * (size_t) ph->pauses;
        struct event *ev = calloc(n_ev ? n_ev : 1, sizeof(*ev));
        struct wrk_run wrk[2];
        struct load builtin;
        struct crash_watch cw = { 0 };
        bool ok = true;
        size_t k = 0;
        double T = ph->seconds;
        if (!ev)
                return false;
        for (unsigned i = 0; i < ph->reloads; i++)
                ev[k++] = (struct event) { T * (i + 0.5) / ph->reloads, EV_RELOAD, NULL };
        for (unsigned i = 0; i < ph->pauses; i++) { /* b13 and idle take turns; paused for half a slot */
                const char *vm = i % 2 ? "idle" : "b13";
                ev[k++] = (struct event) { T * (i + 0.25) / ph->pauses, EV_PAUSE, vm };
                ev[k++] = (struct event) { T * (i + 0.75) / ph->pauses, EV_RESUME, vm };
        }
        qsort(ev, n_ev, sizeof(*ev), event_cmp);

        crash_watch_poll(&cw); /* count from here */
        cw.crashes = 0;
        cw.longest = 0;
        double t0 = now_s();
        cw.last_at = t0;
        fprintf(stderr, "soak: %s: %u s of load, %u reloads, %u pause/resume pairs...\n", ph->name, ph->seconds,
                ph->reloads, ph->pauses);
        int r;
        if (o->wrk) {
                unsigned half = o->connections / 2;
                r = wrk_start(&wrk[0], load_paths[0], half, ph->seconds);
                if (r == 0)
                        r = wrk_start(&wrk[1], load_paths[1], o->connections - half, ph->seconds);
        } else {
                r = load_start(&builtin, o->connections, ph->seconds);
        }
        if (r < 0) {
                fprintf(stderr, "soak: starting the load: %s\n", strerror(-r));
                free(ev);
                return false;
        }
        for (size_t i = 0; i < n_ev && ok; i++) {
                sleep_s(t0 + ev[i].at - now_s());
                crash_watch_poll(&cw);
                if (!daemon_alive()) {
                        fprintf(stderr, "soak: the daemon died during the %s\n", ph->name);
                        ok = false;
                        break;
                }
                if (ev[i].kind == EV_RELOAD)
                        reload(ph);
                else
                        control(ph, ev[i].vm, ev[i].kind == EV_PAUSE ? "pause" : "resume");
        }
        while (ok && now_s() < t0 + T) { /* the crash loop is watched to the end of the load */
                sleep_s(min_d(0.25, t0 + T - now_s()));
                crash_watch_poll(&cw);
        }
        if (o->wrk) {
                memset(&ph->load, 0, sizeof(ph->load));
                for (int i = 0; i < 2; i++) {
                        struct load_result one = { 0 };
                        wrk_finish(&wrk[i], &one);
                        ph->per_path[i] = one.requests;
                        ph->load.requests += one.requests;
                        ph->load.non2xx += one.non2xx;
                        ph->load.errors += one.errors;
                        ph->load.max_latency_ms = max_d(ph->load.max_latency_ms, one.max_latency_ms);
                        if (!ph->load.detail[0])
                                memcpy(ph->load.detail, one.detail, sizeof(one.detail));
                }
        } else {
                load_finish(&builtin, &ph->load);
                ph->per_path[0] = builtin.per_path[0];
                ph->per_path[1] = builtin.per_path[1];
        }
        ph->crashes = cw.crashes;
        ph->crash_longest = cw.longest;
        free(ev);
        return ok && daemon_alive();
}

/* ---- what the daemon holds: RSS, fds ------------------------------------------------------------ */

struct usage {
        long rss_kib, anon_kib, file_kib, shmem_kib;
        long fds;
        double guest_resident_mib; /* resident guest RAM, from /vms: part of the daemon's RSS */
};

static int read_usage(struct usage *u) {
        char path[64], line[256];
        memset(u, 0, sizeof(*u));
        snprintf(path, sizeof(path), "/proc/%d/status", daemon_pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "VmRSS: %ld kB", &u->rss_kib);
                sscanf(line, "RssAnon: %ld kB", &u->anon_kib);
                sscanf(line, "RssFile: %ld kB", &u->file_kib);
                sscanf(line, "RssShmem: %ld kB", &u->shmem_kib);
        }
        fclose(f);
        snprintf(path, sizeof(path), "/proc/%d/fd", daemon_pid);
        int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        DIR *d = fdopendir(dfd);
        for (struct dirent *e; d && (e = readdir(d));)
                u->fds += e->d_name[0] != '.';
        if (d)
                closedir(d);
        return u->rss_kib > 0 ? 0 : -EIO;
}

static double guest_resident_mib(void) {
        json_t *j = get_json("/vms"), *vms = json_object_get(j, "vms");
        double sum = 0;
        for (size_t i = 0; i < json_array_size(vms); i++)
                sum += json_number_value(json_object_get(json_array_get(vms, i), "resident_bytes"));
        json_decref(j);
        return sum / (1 << 20);
}

/* with --keep: the daemon's mappings at each reading, for finding what grew (smaps.NAME) */
static void keep_smaps(const char *name) {
        char src[64], dst[160], buf[65536];
        snprintf(src, sizeof(src), "/proc/%d/smaps", daemon_pid);
        snprintf(dst, sizeof(dst), "%s/smaps.%s", tmpdir, name);
        int in = open(src, O_RDONLY | O_CLOEXEC), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t) n) != n)
                        break;
        if (in >= 0)
                close(in);
        if (out >= 0)
                close(out);
}

/* after the load: settle, then the smallest of five readings (a relaunch in flight adds a VM) */
static int measure(const char *name, struct usage *ret) {
        sleep_s(SETTLE_S);
        if (keep_tmpdir)
                keep_smaps(name);
        ret->rss_kib = LONG_MAX;
        ret->fds = LONG_MAX;
        for (int i = 0; i < 5; i++) {
                struct usage u;
                int r = read_usage(&u);
                if (r < 0)
                        return r;
                if (u.rss_kib < ret->rss_kib) {
                        ret->rss_kib = u.rss_kib;
                        ret->anon_kib = u.anon_kib;
                        ret->file_kib = u.file_kib;
                        ret->shmem_kib = u.shmem_kib;
                }
                if (u.fds < ret->fds)
                        ret->fds = u.fds;
                sleep_s(0.2);
        }
        ret->guest_resident_mib = guest_resident_mib();
        return 0;
}

/* ASan's shadow starts at 0x7fff8000 on x86-64, whether its runtime is a shared library or not */
static bool daemon_has_asan(void) {
        char path[64], line[512];
        bool asan = false;
        snprintf(path, sizeof(path), "/proc/%d/maps", daemon_pid);
        FILE *f = fopen(path, "re");
        while (f && !asan && fgets(line, sizeof(line), f))
                asan = strncmp(line, "7fff8000-", 9) == 0 || strstr(line, "libasan") != NULL;
        if (f)
                fclose(f);
        return asan;
}

/* ---- samples: b13's history ------------------------------------------------------------------------ */

struct gaps {
        unsigned points, over;
        double first, last, max_gap;
        char late[160];         /* the first late samples: "+12.4 s (1.38 s)" */
};

static void check_history(double interval, struct gaps *g) {
        json_t *j = get_json("/vms/b13/history?last=max"), *pts = json_object_get(j, "points");
        double prev = 0;
        memset(g, 0, sizeof(*g));
        for (size_t i = 0; i < json_array_size(pts); i++) {
                json_t *t = json_object_get(json_array_get(pts, i), "sample_time_unix");
                if (!json_is_number(t))
                        continue;
                double v = json_number_value(t);
                if (g->points++ == 0)
                        g->first = v;
                else if (v - prev > g->max_gap)
                        g->max_gap = v - prev;
                if (g->points > 1 && v - prev > interval * GAP_SLACK && g->over++ < 4) {
                        size_t n = strlen(g->late);
                        snprintf(g->late + n, sizeof(g->late) - n, "%s+%.1f s (%.2f s)", n ? ", " : "", v - g->first,
                                 v - prev);
                }
                g->last = prev = v;
        }
        json_decref(j);
}

static double realtime_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static json_int_t vm_id(const char *vm) {
        char path[64];
        snprintf(path, sizeof(path), "/vms/%s", vm);
        json_t *j = get_json(path);
        json_int_t id = json_is_integer(json_object_get(j, "id")) ? json_integer_value(json_object_get(j, "id")) : -1;
        json_decref(j);
        return id;
}

/* ---- the daemon's end ---------------------------------------------------------------------------- */

/* SIGTERM: it must exit 0 in time and its log hold no sanitizer report */
static bool stop_daemon(double timeout_s, char *why, size_t len) {
        int st = 0;
        double t0 = now_s();
        kill(daemon_pid, SIGTERM);
        pid_t r;
        while ((r = waitpid(daemon_pid, &st, WNOHANG)) == 0 && now_s() - t0 < timeout_s)
                sleep_s(0.05);
        double took = now_s() - t0;
        if (r == 0) {
                kill(daemon_pid, SIGKILL);
                waitpid(daemon_pid, &st, 0);
        }
        children_untrack(daemon_pid);
        bool report = false;
        FILE *f = fopen(log_path, "re");
        char line[1024];
        while (f && fgets(line, sizeof(line), f))
                report |= strstr(line, "AddressSanitizer") || strstr(line, "LeakSanitizer") ||
                          strstr(line, "runtime error:");
        if (f)
                fclose(f);
        if (r == 0)
                snprintf(why, len, "still running %.0f s after SIGTERM: killed", timeout_s);
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                snprintf(why, len, "exit status %d%s after %.2f s", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
                         report ? ", sanitizer report in the log" : "", took);
        else if (report)
                snprintf(why, len, "exit 0 after %.2f s, but a sanitizer report is in the log", took);
        else
                snprintf(why, len, "exit 0 %.2f s after SIGTERM, no sanitizer report", took);
        return r != 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && !report;
}

/* ---- options and main -------------------------------------------------------------------------------- */

static void usage(FILE *f) {
        fprintf(f, "Usage: soak [--seconds N] [--warmup N] [--load wrk|builtin] [--connections N]\n"
                   "            [--interval DURATION] [--reloads N] [--pauses N] [--keep]\n"
                   "  --seconds N       measured soak (default 60)\n"
                   "  --warmup N        load before it, RSS and fds are read after it (default 10)\n"
                   "  --load KIND       wrk (default when installed) or builtin\n"
                   "  --connections N   keep-alive connections, half on /metrics, half on /vms/b13 (default 64,\n"
                   "                    the daemon's limit per client address)\n"
                   "  --interval D      the daemon's sampling interval (default 1s; ms or s)\n"
                   "  --reloads N       reloads in the soak (default 30 per 60 s, rounded up to even)\n"
                   "  --pauses N        pause/resume pairs in the soak (default 100 per 60 s)\n"
                   "  --keep            keep the temporary directory (config, log, the daemon's smaps at both readings)\n");
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *ret) {
        char *end;
        unsigned long v = s ? strtoul(s, &end, 10) : 0;
        if (!s || *end || v < lo || v > hi)
                return false;
        *ret = (unsigned) v;
        return true;
}

/* "1s", "500ms", "2" (seconds) */
static bool parse_interval(const char *s, double *ret) {
        char *end;
        double v = strtod(s, &end);
        if (strcmp(end, "ms") == 0)
                v /= 1000;
        else if (*end && strcmp(end, "s") != 0)
                return false;
        *ret = v;
        return v >= 0.1 && v <= 60;
}

/* 1 help, 0 run, -1 usage error */
static int parse_opts(int argc, char **argv, struct opts *o) {
        int reloads = -1, pauses = -1;
        *o = (struct opts) { .seconds = 60, .warmup = 10, .connections = 64, .wrk = on_path("wrk"),
                             .interval_arg = "1s", .interval = 1 };
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                unsigned u;
                bool ok = true;
                if (strcmp(a, "--help") == 0) {
                        usage(stdout);
                        return 1;
                } else if (strcmp(a, "--keep") == 0) {
                        o->keep = true;
                        continue;
                } else if (strcmp(a, "--seconds") == 0) {
                        ok = parse_uint(v, 5, 86400, &o->seconds);
                } else if (strcmp(a, "--warmup") == 0) {
                        ok = parse_uint(v, 2, 3600, &o->warmup);
                } else if (strcmp(a, "--connections") == 0) {
                        ok = parse_uint(v, 2, 1000, &o->connections);
                } else if (strcmp(a, "--reloads") == 0) {
                        ok = parse_uint(v, 0, 100000, &u);
                        reloads = (int) u;
                } else if (strcmp(a, "--pauses") == 0) {
                        ok = parse_uint(v, 0, 100000, &u);
                        pauses = (int) u;
                } else if (strcmp(a, "--interval") == 0) {
                        ok = v && parse_interval(v, &o->interval);
                        o->interval_arg = v;
                } else if (strcmp(a, "--load") == 0) {
                        ok = v && (strcmp(v, "wrk") == 0 || strcmp(v, "builtin") == 0);
                        o->wrk = ok && strcmp(v, "wrk") == 0;
                } else {
                        ok = false;
                }
                if (!ok) {
                        fprintf(stderr, "soak: bad or incomplete option '%s'%s%s\n", a, v ? " " : "", v ? v : "");
                        usage(stderr);
                        return -1;
                }
                i++;
        }
        o->reloads = reloads >= 0 ? (unsigned) reloads : (RELOADS_PER_MIN * o->seconds + 59) / 60;
        o->reloads += o->reloads % 2; /* the soak ends in the configuration it started with */
        o->pauses = pauses >= 0 ? (unsigned) pauses : (PAUSES_PER_MIN * o->seconds + 59) / 60;
        if (o->wrk && !on_path("wrk")) {
                fprintf(stderr, "soak: wrk is not installed: apt-get install wrk (scripts/deps.sh bench), or --load builtin\n");
                return -1;
        }
        return 0;
}

static const char *verdict(bool ok) {
        return ok ? "PASS" : "FAIL";
}

static int start_daemon(const struct opts *o, char *vmstatd) {
        char listen[32], conf[128], history[16], run[140];
        unsigned need = (unsigned) ((o->warmup + o->seconds + 60) / o->interval) + 1;
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", http_port);
        snprintf(conf, sizeof(conf), "%s/conf", tmpdir);
        snprintf(history, sizeof(history), "%u", need > HISTORY_CELLS / 2 ? HISTORY_CELLS / 2 : need);
        snprintf(run, sizeof(run), "%s/run", tmpdir); /* its workers' sockets: never the host's /run/vmstatd */
        char *argv[16] = { vmstatd, "--config", conf, "--listen", listen, "--control-socket", control_path,
                           "--interval", (char *) o->interval_arg, "--runtime-dir", run };
        int n = 11;
        if (need > HISTORY_DEFAULT) { /* b13's history must cover the whole run */
                argv[n++] = "--history";
                argv[n++] = history;
        }
        argv[n] = NULL;
        daemon_pid = children_spawn(argv, log_path, -1);
        if (daemon_pid < 0)
                return -errno;
        for (double t0 = now_s(); now_s() - t0 < 20; sleep_s(0.1)) {
                struct http1_reply r;
                int rr = http_request(http_port, "GET", "/healthz", &r);
                int status = r.status;
                http1_reply_free(&r);
                if (rr == 0 && status == 200 && access(control_path, F_OK) == 0)
                        return 0;
                if (!daemon_alive())
                        return -ECHILD;
        }
        return -ETIMEDOUT;
}

int main(int argc, char **argv) {
        struct opts o;
        char vmstatd[PATH_MAX];
        int r = parse_opts(argc, argv, &o);
        if (r)
                return r > 0 ? 0 : 2;
        keep_tmpdir = o.keep;
        static const char *const candidates[] = { "../bin/vmstatd", NULL };
        if (!find_vmstatd(vmstatd, sizeof(vmstatd), candidates)) {
                fprintf(stderr, "soak: vmstatd not found at ../bin/vmstatd from here: run make all first or set VMSTATD_BIN\n");
                return 2;
        }
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmstatd-soak-XXXXXX");
        if (!mkdtemp(tmpdir)) {
                tmpdir[0] = 0;
                perror("soak: mkdtemp");
                return 2;
        }
        children_cleanup_at_exit(cleanup);
        signal(SIGPIPE, SIG_IGN);
        snprintf(control_path, sizeof(control_path), "%s/control.sock", tmpdir);
        snprintf(log_path, sizeof(log_path), "%s/vmstatd.log", tmpdir);
        if ((r = write_initial_config()) < 0) {
                fprintf(stderr, "soak: writing the configuration in %s: %s\n", tmpdir, strerror(-r));
                return 2;
        }
        http_port = free_port();
        if ((r = start_daemon(&o, vmstatd)) < 0) {
                fprintf(stderr, "soak: %s did not serve /healthz and the control socket within 20 s: %s\n", vmstatd,
                        strerror(-r));
                print_log_tail(4096);
                return 2;
        }
        json_int_t b13_id = vm_id("b13");
        if (b13_id < 0 || vm_id(CRASH_VM) < 0 || vm_id("idle") < 0) {
                fprintf(stderr, "soak: the daemon does not list b13, idle and " CRASH_VM "\n");
                print_log_tail(4096);
                return 2;
        }
        bool asan = daemon_has_asan();
        printf("soak: %s (%s), interval %s, %s load: %u connections on /metrics and /vms/b13; %u s warm-up, "
               "then %u s measured on %ld CPUs\n", vmstatd, asan ? "ASan build" : "plain build", o.interval_arg,
               o.wrk ? "wrk" : "builtin", o.connections, o.warmup, o.seconds, sysconf(_SC_NPROCESSORS_ONLN));
        fflush(stdout);

        /* warm-up: the same mix at the same rates, so the allocator has seen every path */
        unsigned wr = (RELOADS_PER_MIN * o.warmup + 59) / 60, wp = (PAUSES_PER_MIN * o.warmup + 59) / 60;
        struct phase warm = { .name = "warm-up", .seconds = o.warmup, .reloads = wr + wr % 2, .pauses = wp };
        struct phase soak = { .name = "soak", .seconds = o.seconds, .reloads = o.reloads, .pauses = o.pauses };
        struct usage u0, u1;
        double run_start = realtime_s();
        if (!run_phase(&o, &warm) || measure("warmup", &u0) < 0 || !run_phase(&o, &soak) || measure("soak", &u1) < 0) {
                fprintf(stderr, "soak: could not complete the run\n");
                print_log_tail(8192);
                return 2;
        }
        struct gaps g;
        check_history(o.interval, &g);
        json_int_t b13_id_after = vm_id("b13");
        double interval_max = max_d(warm.interval_max, soak.interval_max), interval_last = NAN, counted = NAN;
        struct http1_reply m;
        if (http_request(0, "GET", "/metrics", &m) == 0 && m.status == 200) {
                interval_last = metric_value(m.body, "vmstatd_sample_interval_seconds");
                counted = metric_value(m.body, "vmstatd_config_reloads_total{result=\"success\"}");
        }
        http1_reply_free(&m);
        char exit_why[160];
        bool clean_exit = stop_daemon(asan ? 60 : 15, exit_why, sizeof(exit_why));

        /* ---- the report ---- */
        bool ok_req = soak.load.requests > 0 && soak.load.non2xx == 0 && soak.load.errors == 0 &&
                      warm.load.non2xx == 0 && warm.load.errors == 0;
        double limit = o.interval * GAP_SLACK, run_s = g.last - g.first;
        bool covered = g.points > 1 && g.first <= run_start;
        bool ok_samples = g.points > 1 && g.over == 0 && b13_id_after == b13_id;
        long drss = u1.rss_kib - u0.rss_kib;
        const char *asan_opts = getenv("ASAN_OPTIONS");
        bool asan_rss = asan && !(asan_opts && strstr(asan_opts, "quarantine_size_mb=0"));
        long rss_limit = asan_rss ? RSS_SLACK_ASAN_KIB : RSS_SLACK_KIB;
        bool ok_rss = drss <= rss_limit;
        bool ok_fds = u1.fds <= u0.fds;
        bool ok_reloads = soak.reloads_ok == soak.reloads && warm.reloads_ok == warm.reloads && counted == reloads_total;
        const char *reload_error = soak.reload_error[0] ? soak.reload_error : warm.reload_error;
        bool ok_actions = soak.actions_ok == soak.actions && warm.actions_ok == warm.actions &&
                          soak.actions == 2 * soak.pauses;
        bool ok_crash = soak.crashes > 0 && soak.crash_longest <= CRASH_STRETCH_S;

        printf("\n  %-13s %s  soak: %ld requests (%ld /metrics, %ld /vms/b13), %.0f req/s, %ld non-2xx, %ld connection "
               "errors, slowest %.1f ms; warm-up: %ld requests, %ld failed%s%s%s\n",
               "requests", verdict(ok_req), soak.load.requests, soak.per_path[0], soak.per_path[1],
               (double) soak.load.requests / o.seconds, soak.load.non2xx, soak.load.errors, soak.load.max_latency_ms,
               warm.load.requests, warm.load.non2xx + warm.load.errors,
               soak.load.closes + warm.load.closes ? "; some keep-alive connections were closed by the daemon" : "",
               soak.load.detail[0] || warm.load.detail[0] ? "; first failure: " : "",
               soak.load.detail[0] ? soak.load.detail : warm.load.detail);
        printf("  %-13s %s  %u samples of b13 over %.1f s (%s), largest gap %.3f s (limit %.3f s), %u late%s%s; "
               "b13 %s; vmstatd_sample_interval_seconds last %.3f, largest seen %.3f\n",
               "samples", verdict(ok_samples), g.points, run_s, covered ? "the whole run" : "NOT the whole run",
               g.max_gap, limit, g.over, g.over ? ": " : "", g.late,
               b13_id_after == b13_id ? "never re-created" : "WAS RE-CREATED (its history restarted)", interval_last,
               interval_max);
        printf("  %-13s %s  VmRSS after warm-up %.2f MiB, after the soak %.2f MiB: %+.2f MiB (limit %+.0f MiB%s); anon "
               "%+.2f, file %+.2f, shmem %+.2f MiB; guest RAM resident %.2f -> %.2f MiB\n",
               "rss", verdict(ok_rss), u0.rss_kib / 1024.0, u1.rss_kib / 1024.0, drss / 1024.0, rss_limit / 1024.0,
               asan_rss ? ", ASan build: see below" : "", (u1.anon_kib - u0.anon_kib) / 1024.0,
               (u1.file_kib - u0.file_kib) / 1024.0, (u1.shmem_kib - u0.shmem_kib) / 1024.0, u0.guest_resident_mib,
               u1.guest_resident_mib);
        if (asan_rss)
                printf("  %-13s       ASan keeps freed memory in its quarantine (256 MiB by default) and never returns its "
                       "size-class regions, so the RSS of an ASan daemon moves by tens of MiB whatever the daemon does; "
                       "the 1 MiB limit is the plain build's (and applies here with ASAN_OPTIONS=quarantine_size_mb=0); "
                       "lost memory is LeakSanitizer's to report at exit (daemon exit)\n", "");
        printf("  %-13s %s  open fds after warm-up %ld, after the soak %ld\n", "fds", verdict(ok_fds), u0.fds, u1.fds);
        printf("  %-13s %s  %u/%u in the soak (%u/%u in the warm-up) counted on /metrics, slowest after %.2f s; "
               "%u SIGHUPs, %.0f successful reloads counted at the end%s%s\n",
               "reloads", verdict(ok_reloads), soak.reloads_ok, soak.reloads, warm.reloads_ok, warm.reloads,
               max_d(soak.reload_max_s, warm.reload_max_s), reloads_total, counted, reload_error[0] ? "; " : "",
               reload_error);
        const char *action_error = soak.action_error[0] ? soak.action_error : warm.action_error;
        printf("  %-13s %s  %u/%u control actions answered 200 (%u pause/resume pairs on b13 and idle)%s%s\n",
               "pause/resume", verdict(ok_actions), soak.actions_ok, soak.actions, soak.pauses,
               action_error[0] ? "; first failure: " : "", action_error);
        printf("  %-13s %s  " CRASH_VM " crashed %u times in the soak, longest stretch without a crash %.1f s "
               "(limit %.0f s)\n", "crash loop", verdict(ok_crash), soak.crashes, soak.crash_longest, CRASH_STRETCH_S);
        printf("  %-13s %s  %s\n", "daemon exit", verdict(clean_exit), exit_why);
        bool all = ok_req && ok_samples && ok_rss && ok_fds && ok_reloads && ok_actions && ok_crash && clean_exit;
        printf("\nsoak: %s\n", all ? "PASS" : "FAIL");
        fflush(stdout);
        if (!all)
                print_log_tail(4096);
        return all ? 0 : 1;
}
