/* Hostile clients against one daemon, over raw TCP (curl would fix our mistakes for us):
 * 10,000 malformed or hostile requests in classes, each with the exact status it must get
 * (RFC 9110/9112 and the daemon's JSON error contract), then a slowloris while /metrics and
 * /healthz must stay fast, a flood of half-closed partial requests, and an idle partial
 * request the connection timeout must end. Mismatches are collected per case and asserted
 * at the end, after the daemon is stopped, so one failure never hides the others. */
#define _GNU_SOURCE
#include "daemon_helper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOTAL_REQUESTS 10000
#define PIPELINE 16     /* requests per connection for the keep-alive classes */
#define GROUP 24        /* concurrent connections for the others: with the last group's still
                         * closing and the idle one, well within the per-IP limit of 64 */
#define REPLY_MS 1500   /* every answer must come within this */
#define SLOW_CONNS 50
#define SLOW_MS 5000
#define FAST_MS 1000    /* a normal request during the slowloris */
#define FLOOD_CONNS 200 /* well beyond the per-IP limit: not every such close is missed */
#define IDLE_TIMEOUT_MS 12500 /* the daemon's connection timeout is 10 s */
#define IDLE_MIN_MS 9000      /* earlier is not the timeout: a slow client would be cut off */

/* reply statuses that are not HTTP statuses */
#define CLOSED (-1)    /* the server closed the connection without answering */
#define PENDING (-2)   /* nothing yet, connection still open */
#define MALFORMED (-3) /* bytes that are not an HTTP/1.x response */

#define HOST "Host: 127.0.0.1\r\n"
#define RAW(s) .req = (s), .len = sizeof(s) - 1
#define REQ(method, target) RAW(method " " target " HTTP/1.1\r\n" HOST "\r\n")
#define GET(target) REQ("GET", target)

enum mode {
        PIPE,  /* keep-alive: PIPELINE copies per connection, answers read in order */
        ONE,   /* one request per connection, GROUP connections at a time */
        STALL, /* incomplete garbage the server may rightly wait on: no success, ever */
};

struct hcase {
        const char *class, *name;
        enum mode mode;
        int expect[4];      /* acceptable statuses (0-terminated) */
        bool json;          /* our handler answers: JSON error body {"error", "status"} */
        bool must_close;    /* RFC 9112 6.3: close the connection after answering */
        bool head;          /* a HEAD request: no body in the answer */
        unsigned reps;      /* fixed repetitions; 0 = a share of what is left of the 10,000 */
        const char *req;
        size_t len;
        void (*gen)(struct hcase *k); /* builds a new request per repetition */
        char *owned;
        unsigned ran, bad;
        char first_bad[256];
};

static int port;
static FILE *extra_failures; /* checks that are not request cases */
static char *extra_text;
static size_t extra_len;
static unsigned n_extra;

static void fail_extra(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_extra(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  ", extra_failures);
        vfprintf(extra_failures, fmt, ap);
        fputc('\n', extra_failures);
        va_end(ap);
        n_extra++;
}

/* ---- raw connections ------------------------------------------------------------------------ */

struct conn {
        int fd;
        char *buf;
        size_t len, cap, pos;
        bool eof;
};

static int tcp_open(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct timeval tv = { 2, 0 };
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0) {
                close(fd);
                return -1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

/* errors are the server's answer to what we send (it may close early): the reply tells */
static void send_all(int fd, const char *p, size_t n) {
        while (n) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                p += w;
                n -= (size_t) w;
        }
}

/* RST instead of FIN: libmicrohttpd 0.9.75's epoll loop misses a FIN that follows a partial
 * request at once (half_close_flood tests that on purpose; nothing else should trip on it) */
static void close_rst(int fd) {
        struct linger l = { 1, 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        close(fd);
}

/* FIN only after a complete exchange (or the server's close); RST otherwise */
static void conn_close(struct conn *c, bool complete) {
        if (c->fd >= 0) {
                if (complete || c->eof)
                        close(c->fd);
                else
                        close_rst(c->fd);
        }
        free(c->buf);
        memset(c, 0, sizeof(*c));
        c->fd = -1;
}

/* more bytes by the deadline; false on timeout or end of stream (c->eof) */
static bool conn_fill(struct conn *c, uint64_t deadline) {
        while (!c->eof) {
                uint64_t now = test_now_ms();
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                int r = poll(&p, 1, now < deadline ? (int) (deadline - now) : 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return false;
                if (c->cap - c->len < 65536) {
                        size_t cap = c->cap ? c->cap * 2 : 131072;
                        char *b = realloc(c->buf, cap + 1);
                        ck_assert_ptr_nonnull(b);
                        c->buf = b;
                        c->cap = cap;
                }
                ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
                if (n > 0) {
                        c->len += (size_t) n;
                        c->buf[c->len] = 0;
                        return true;
                }
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                c->eof = true; /* FIN or RST */
        }
        return false;
}

struct reply {
        int status;
        char ctype[96], allow[64];
        const char *body; /* into the connection's buffer: valid until the next read */
        size_t body_len;
};

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outsz) {
        size_t k = strlen(name);
        if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
                return;
        const char *v = line + k + 1;
        while (v < line + n && *v == ' ')
                v++;
        size_t vl = (size_t) (line + n - v);
        if (vl >= outsz)
                vl = outsz - 1;
        memcpy(out, v, vl);
        out[vl] = 0;
}

/* The length of the chunked body that starts at c->pos + from, chunk framing included, once it
 * has all arrived (no trailers: vmstatd sends none); SIZE_MAX when it is cut or malformed. */
static size_t chunked_length(struct conn *c, size_t from, uint64_t deadline) {
        size_t at = from;
        for (;;) {
                char *line = c->buf + c->pos + at, *eol;
                while (!(eol = memmem(line, c->len - c->pos - at, "\r\n", 2))) {
                        if (!conn_fill(c, deadline))
                                return SIZE_MAX;
                        line = c->buf + c->pos + at;
                }
                char *hex_end;
                unsigned long size = strtoul(line, &hex_end, 16);
                if (hex_end == line || hex_end != eol)
                        return SIZE_MAX;
                at += (size_t) (eol + 2 - line) + size + 2; /* the data and its CRLF */
                while (c->len - c->pos < at)
                        if (!conn_fill(c, deadline))
                                return SIZE_MAX;
                if (memcmp(c->buf + c->pos + at - 2, "\r\n", 2) != 0)
                        return SIZE_MAX;
                if (size == 0)
                        return at - from;
        }
}

/* the next final answer on c (1xx skipped) */
static void read_reply(struct conn *c, bool head, uint64_t deadline, struct reply *r) {
        memset(r, 0, sizeof(*r));
        for (;;) {
                char *start = c->buf ? c->buf + c->pos : NULL;
                size_t avail = c->len - c->pos;
                char *end = start ? memmem(start, avail, "\r\n\r\n", 4) : NULL;
                if (avail >= 5 && memcmp(start, "HTTP/", 5) != 0) {
                        r->status = MALFORMED;
                        return;
                }
                if (!end) {
                        if (!conn_fill(c, deadline)) {
                                r->status = c->eof ? (avail ? MALFORMED : CLOSED) : PENDING;
                                return;
                        }
                        continue;
                }
                size_t hlen = (size_t) (end + 4 - start);
                if (avail < 12 || memcmp(start, "HTTP/1.", 7) != 0 || start[8] != ' ' ||
                    sscanf(start + 9, "%3d", &r->status) != 1 || r->status < 100) {
                        r->status = MALFORMED;
                        return;
                }
                long clen = -1;
                bool chunked = false;
                for (char *line = strstr(start, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
                        size_t n = (size_t) (strstr(line, "\r\n") - line);
                        char cl[32] = "", te[32] = "";
                        header_value(line, n, "Content-Length", cl, sizeof(cl));
                        if (cl[0])
                                clen = strtol(cl, NULL, 10);
                        header_value(line, n, "Transfer-Encoding", te, sizeof(te));
                        chunked |= strcasecmp(te, "chunked") == 0; /* a streamed history */
                        header_value(line, n, "Content-Type", r->ctype, sizeof(r->ctype));
                        header_value(line, n, "Allow", r->allow, sizeof(r->allow));
                }
                if (r->status < 200) { /* 100 Continue: the final answer follows */
                        c->pos += hlen;
                        memset(r, 0, sizeof(*r));
                        continue;
                }
                size_t blen = head || r->status == 204 || r->status == 304 ? 0 : clen < 0 ? SIZE_MAX : (size_t) clen;
                if (chunked && blen) {
                        if ((blen = chunked_length(c, hlen, deadline)) == SIZE_MAX) {
                                r->status = MALFORMED; /* cut short or not chunked framing */
                                return;
                        }
                        start = c->buf + c->pos; /* conn_fill may have moved the buffer */
                }
                while (blen != SIZE_MAX && c->len - c->pos - hlen < blen)
                        if (!conn_fill(c, deadline)) {
                                r->status = MALFORMED; /* truncated body */
                                return;
                        }
                while (blen == SIZE_MAX && conn_fill(c, deadline)) /* no length: to the end */
                        ;
                if (blen == SIZE_MAX)
                        blen = c->len - c->pos - hlen;
                r->body = c->buf + c->pos + hlen;
                r->body_len = blen;
                c->pos += hlen + blen;
                return;
        }
}

static const char *describe(int status, char *buf, size_t n) {
        if (status == CLOSED)
                snprintf(buf, n, "the connection closed without an answer");
        else if (status == PENDING)
                snprintf(buf, n, "no answer within %d ms", REPLY_MS);
        else if (status == MALFORMED)
                snprintf(buf, n, "bytes that are not an HTTP/1.x response");
        else
                snprintf(buf, n, "%d", status);
        return buf;
}

/* ---- one GET, timed ---------------------------------------------------------------------------- */

static int timed_get(const char *path, uint64_t *ret_ms) {
        char req[256];
        struct conn c = { .fd = tcp_open() };
        struct reply r;
        uint64_t t0 = test_now_ms();
        if (c.fd < 0) {
                *ret_ms = 0;
                return CLOSED;
        }
        int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n" HOST "Connection: close\r\n\r\n", path);
        send_all(c.fd, req, (size_t) n);
        read_reply(&c, false, t0 + 3000, &r);
        *ret_ms = test_now_ms() - t0;
        conn_close(&c, r.status > 0);
        return r.status;
}

/* ---- checking one answer --------------------------------------------------------------------- */

static void check_json_error(const struct reply *r, char *why, size_t n) {
        json_error_t err;
        if (strncmp(r->ctype, "application/json", 16) != 0) {
                snprintf(why, n, "%d with Content-Type '%s', not application/json", r->status, r->ctype);
                return;
        }
        json_t *j = json_loadb(r->body, r->body_len, 0, &err);
        json_t *e = j ? json_object_get(j, "error") : NULL, *s = j ? json_object_get(j, "status") : NULL;
        if (!j)
                snprintf(why, n, "%d with a body that is not JSON: %s", r->status, err.text);
        else if (!json_is_string(e) || json_string_length(e) == 0)
                snprintf(why, n, "%d: JSON body without a non-empty \"error\" string", r->status);
        else if (!json_is_integer(s) || json_integer_value(s) != r->status)
                snprintf(why, n, "%d: JSON body whose \"status\" is not %d", r->status, r->status);
        else if (r->status == 405 && strcmp(r->allow, "GET, HEAD") != 0)
                snprintf(why, n, "405 with Allow '%s', not 'GET, HEAD'", r->allow);
        json_decref(j);
}

static void record(struct hcase *k, const char *why) {
        if (!why[0])
                return;
        k->bad++;
        if (!k->first_bad[0])
                snprintf(k->first_bad, sizeof(k->first_bad), "%s", why);
}

/* true when the status is one of the expected */
static bool check_reply(struct hcase *k, const struct reply *r) {
        char why[200] = "", d[64];
        bool ok = false;
        for (size_t i = 0; i < 4 && k->expect[i]; i++)
                ok |= k->expect[i] == r->status;
        k->ran++;
        if (!ok)
                snprintf(why, sizeof(why), "got %s", describe(r->status, d, sizeof(d)));
        else if (k->json && r->status >= 400)
                check_json_error(r, why, sizeof(why));
        record(k, why);
        return ok;
}

/* ---- runners ----------------------------------------------------------------------------------- */

static void run_pipelined(struct hcase *k, unsigned n) {
        while (n) {
                unsigned batch = n < PIPELINE ? n : PIPELINE, i = 0;
                struct conn c = { .fd = tcp_open() };
                struct reply r = { 0 };
                char *all = malloc(k->len * batch);
                ck_assert_ptr_nonnull(all);
                for (unsigned b = 0; b < batch; b++)
                        memcpy(all + b * k->len, k->req, k->len);
                if (c.fd >= 0)
                        send_all(c.fd, all, k->len * batch);
                free(all);
                uint64_t deadline = test_now_ms() + REPLY_MS;
                for (; i < batch && c.fd >= 0; i++) {
                        read_reply(&c, k->head, deadline, &r);
                        check_reply(k, &r);
                        if (r.status < 0)
                                break;
                }
                if (i < batch) { /* the rest of the pipeline got no answer: each is wrong */
                        unsigned rest = batch - i - (c.fd >= 0); /* the one that broke is counted */
                        k->ran += rest;
                        k->bad += rest;
                        if (!k->first_bad[0])
                                snprintf(k->first_bad, sizeof(k->first_bad), "%s", c.fd < 0 ? "connect() failed"
                                                                                      : "pipelined requests unanswered");
                }
                conn_close(&c, i == batch);
                n -= batch;
        }
}

static void run_grouped(struct hcase *k, unsigned n) {
        while (n) {
                unsigned g = n < GROUP ? n : GROUP;
                struct conn c[GROUP];
                struct reply r;
                bool answered[GROUP], expected[GROUP];
                for (unsigned i = 0; i < g; i++) {
                        memset(&c[i], 0, sizeof(c[i]));
                        c[i].fd = tcp_open();
                        if (k->gen)
                                k->gen(k);
                        if (c[i].fd >= 0)
                                send_all(c[i].fd, k->req, k->len);
                }
                uint64_t deadline = test_now_ms() + (k->mode == STALL ? 100 : REPLY_MS);
                for (unsigned i = 0; i < g; i++) {
                        if (c[i].fd < 0) {
                                k->ran++;
                                record(k, "connect() failed");
                                answered[i] = expected[i] = false;
                                continue;
                        }
                        read_reply(&c[i], k->head, deadline, &r);
                        expected[i] = check_reply(k, &r);
                        answered[i] = r.status > 0;
                }
                /* RFC 9112 6.3: after answering a request whose framing smells of smuggling, close */
                uint64_t close_deadline = test_now_ms() + 1000;
                for (unsigned i = 0; k->must_close && i < g; i++) {
                        if (!answered[i] || !expected[i]) /* a wrong answer is counted once */
                                continue;
                        while (conn_fill(&c[i], close_deadline))
                                ;
                        if (memmem(c[i].buf + c[i].pos, c[i].len - c[i].pos, "HTTP/1.", 7))
                                record(k, "answered, then answered the request smuggled behind it");
                        else if (!c[i].eof)
                                record(k, "answered, but kept the connection open (RFC 9112 6.3: must close)");
                }
                for (unsigned i = 0; i < g; i++)
                        conn_close(&c[i], answered[i]);
                n -= g;
        }
}

/* ---- requests that are built at run time ------------------------------------------------------- */

static char *repeat(char ch, size_t n) {
        char *s = malloc(n + 1);
        ck_assert_ptr_nonnull(s);
        memset(s, ch, n);
        s[n] = 0;
        return s;
}

static struct hcase *find_case(const char *name);

static void set_owned(struct hcase *k, char *s, size_t len) {
        free(k->owned);
        k->owned = s;
        k->req = s;
        k->len = len;
}

static void set_fmt(const char *name, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void set_fmt(const char *name, const char *f, ...) {
        char *s;
        va_list ap;
        va_start(ap, f);
        int n = vasprintf(&s, f, ap);
        va_end(ap);
        ck_assert_int_ge(n, 0);
        set_owned(find_case(name), s, (size_t) n);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned) (rng % n);
}

/* a line of random bytes (no NUL, CR or LF: those have their own cases) ended as a request */
static void gen_garbage_line(struct hcase *k) {
        size_t n = 1 + rnd(2048);
        char *s = malloc(n + 4);
        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < n; i++) {
                unsigned char b;
                do
                        b = (unsigned char) (1 + rnd(255));
                while (b == '\r' || b == '\n');
                s[i] = (char) b;
        }
        memcpy(s + n, "\r\n\r\n", 4);
        set_owned(k, s, n + 4);
}

/* random bytes with no line end at all: a server can only wait for more (or time out) */
static void gen_garbage_unterminated(struct hcase *k) {
        size_t n = 1 + rnd(1024);
        char *s = malloc(n);
        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < n; i++) {
                do
                        s[i] = (char) rnd(256);
                while (s[i] == '\r' || s[i] == '\n');
        }
        set_owned(k, s, n);
}

/* ---- the cases ---------------------------------------------------------------------------------- */

static const char tls_client_hello[] =
        "\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a"
        "\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x00\x00\x02\x13\x01"
        "\x01\x00";

static struct hcase cases[] = {
        /* bad methods: a method is any token, so a known resource answers 405, an unknown one 404 */
        { "method", "FOO /metrics", PIPE, { 405 }, .json = true, REQ("FOO", "/metrics") },
        { "method", "lowercase get /metrics", PIPE, { 405 }, .json = true, REQ("get", "/metrics") },
        { "method", "Get /healthz", PIPE, { 405 }, .json = true, REQ("Get", "/healthz") },
        { "method", "1 KiB method /metrics", PIPE, { 405 }, .json = true },
        { "method", "1 KiB method /nope", PIPE, { 404 }, .json = true },
        { "method", "OPTIONS /metrics", PIPE, { 405 }, .json = true, REQ("OPTIONS", "/metrics") },
        { "method", "TRACE /vms/b13", PIPE, { 405 }, .json = true, REQ("TRACE", "/vms/b13") },
        { "method", "PATCH /vms", PIPE, { 405 }, .json = true, REQ("PATCH", "/vms") },
        { "method", "FOO /nope", PIPE, { 404 }, .json = true, REQ("FOO", "/nope") },
        { "method", "HEAD /vms/nope", PIPE, { 404 }, .head = true, REQ("HEAD", "/vms/nope") },
        /* the request line's version */
        { "version", "no version (HTTP/0.9 simple request)", ONE, { 400 }, .reps = 200, RAW("GET /metrics\r\n\r\n") },
        { "version", "HTTP/2.0", ONE, { 505 }, .reps = 200, RAW("GET /metrics HTTP/2.0\r\n" HOST "\r\n") },
        { "version", "HTTP/0.9", ONE, { 505 }, .reps = 150, RAW("GET /metrics HTTP/0.9\r\n" HOST "\r\n") },
        { "version", "HTTP/3.0", ONE, { 505 }, .reps = 150, RAW("GET /metrics HTTP/3.0\r\n" HOST "\r\n") },
        { "version", "HTTP/1.x", ONE, { 400 }, .reps = 150, RAW("GET /metrics HTTP/1.x\r\n" HOST "\r\n") },
        { "version", "lowercase http/1.1", ONE, { 400 }, .reps = 150, RAW("GET /metrics http/1.1\r\n" HOST "\r\n") },
        { "version", "HTTP/11", ONE, { 400 }, .reps = 150, RAW("GET /metrics HTTP/11\r\n" HOST "\r\n") },
        { "version", "HTTP/1.1.1", ONE, { 400 }, .reps = 150, RAW("GET /metrics HTTP/1.1.1\r\n" HOST "\r\n") },
        { "version", "HTTP/", ONE, { 400 }, .reps = 150, RAW("GET /metrics HTTP/\r\n" HOST "\r\n") },
        /* RFC 9112 3.2: an HTTP/1.1 request without Host MUST get 400 (HTTP/1.0 need not send it) */
        { "version", "HTTP/1.1 without Host", ONE, { 400 }, .reps = 100, RAW("GET /healthz HTTP/1.1\r\n\r\n") },
        { "version", "HTTP/1.0 without Host", ONE, { 200 }, .reps = 100, RAW("GET /healthz HTTP/1.0\r\n\r\n") },
        /* sizes: the connection memory limit is 16 KiB */
        { "size", "17 KiB header", ONE, { 431 }, .reps = 150 },
        { "size", "64 KiB header", ONE, { 431 }, .reps = 100 },
        { "size", "2000 headers", ONE, { 431 }, .reps = 100 },
        { "size", "100 headers", PIPE, { 200 }, .reps = 200 },
        { "size", "17 KiB URI", ONE, { 414 }, .reps = 150 },
        { "size", "64 KiB URI", ONE, { 414 }, .reps = 100 },
        { "size", "20 KiB query string", ONE, { 414 }, .reps = 100 },
        /* dot segments are not resolved: no path reaches another resource */
        { "dotdot", "/vms/../metrics", PIPE, { 404 }, .json = true, GET("/vms/../metrics") },
        { "dotdot", "/../metrics", PIPE, { 404 }, .json = true, GET("/../metrics") },
        { "dotdot", "/metrics/..", PIPE, { 404 }, .json = true, GET("/metrics/..") },
        { "dotdot", "/./metrics", PIPE, { 404 }, .json = true, GET("/./metrics") },
        { "dotdot", "/vms/b13/../../metrics", PIPE, { 404 }, .json = true, GET("/vms/b13/../../metrics") },
        { "dotdot", "/vms/b13/history/../console", PIPE, { 404 }, .json = true, GET("/vms/b13/history/../console") },
        { "dotdot", "/vms/%2e%2e/metrics", PIPE, { 404 }, .json = true, GET("/vms/%2e%2e/metrics") },
        { "dotdot", "/%2e%2e/%2e%2e/etc/passwd", PIPE, { 404 }, .json = true, GET("/%2e%2e/%2e%2e/etc/passwd") },
        { "dotdot", "/vms/b13/%2E%2E/%2E%2E/healthz", PIPE, { 404 }, .json = true, GET("/vms/b13/%2E%2E/%2E%2E/healthz") },
        { "dotdot", "/vms/..%2fb13", PIPE, { 404 }, .json = true, GET("/vms/..%2fb13") },
        /* percent-encoding: bad sequences stay literal and match nothing; good ones decode */
        { "percent", "/metrics%zz", PIPE, { 404 }, .json = true, GET("/metrics%zz") },
        { "percent", "/%", PIPE, { 404 }, .json = true, GET("/%") },
        { "percent", "/vms/b13%", PIPE, { 404 }, .json = true, GET("/vms/b13%") },
        { "percent", "/vms/%zz", PIPE, { 404 }, .json = true, GET("/vms/%zz") },
        { "percent", "/vms/b13/vcpus/%", PIPE, { 404 }, .json = true, GET("/vms/b13/vcpus/%") },
        { "percent", "/%g0", PIPE, { 404 }, .json = true, GET("/%g0") },
        { "percent", "/metrics%2", PIPE, { 404 }, .json = true, GET("/metrics%2") },
        { "percent", "/%6detrics (valid encoding)", PIPE, { 200 }, GET("/%6detrics") },
        { "percent", "/metrics?format=bogus", PIPE, { 400 }, .json = true, GET("/metrics?format=bogus") },
        { "percent", "/metrics?format=", PIPE, { 400 }, .json = true, GET("/metrics?format=") },
        { "percent", "/metrics?format=%zz", PIPE, { 400 }, .json = true, GET("/metrics?format=%zz") },
        /* NUL: RFC 9110 5.5 and 9112 3 make it invalid in the request line. libmicrohttpd 0.9.75
         * ends the decoded or raw URI at a NUL, so for raw NULs the answer for the truncated path
         * is tolerated; an encoded %00 must never reach a resource */
        { "nul", "/metrics%00.txt", ONE, { 400, 404 }, .reps = 100, GET("/metrics%00.txt") },
        { "nul", "/vms/b13%00zz", ONE, { 400, 404 }, .reps = 100, GET("/vms/b13%00zz") },
        { "nul", "?last=5%00x", ONE, { 400 }, .reps = 100, GET("/vms/b13/history?last=5%00x") },
        { "nul", "raw NUL in the URI of /nope", ONE, { 400, 404 }, .reps = 100, GET("/nope\0/metrics") },
        { "nul", "raw NUL in the URI of /metrics", ONE, { 400, 200 }, .reps = 100, GET("/metrics\0zz") },
        { "nul", "NUL in the method", ONE, { 400, 405 }, .reps = 100, RAW("G\0T /metrics HTTP/1.1\r\n" HOST "\r\n") },
        { "nul", "NUL in the version", ONE, { 400 }, .reps = 100, RAW("GET /metrics HTTP/1.1\0\r\n" HOST "\r\n") },
        { "nul", "NUL in a header value", ONE, { 400, 200 }, .reps = 100, RAW("GET /healthz HTTP/1.1\r\n" HOST "X-A: a\0b\r\n\r\n") },
        { "nul", "NUL in a header name", ONE, { 400, 200 }, .reps = 100, RAW("GET /healthz HTTP/1.1\r\n" HOST "X\0A: b\r\n\r\n") },
        /* garbage that is not HTTP at all: an error or a plain close */
        { "garbage", "random bytes ending in CRLF CRLF", ONE, { 400, CLOSED }, .reps = 600, .gen = gen_garbage_line },
        { "garbage", "SSH banner", ONE, { 400, CLOSED }, .reps = 100, RAW("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\r\n") },
        { "garbage", "HTTP/2 preface", ONE, { 505 }, .reps = 100, RAW("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") },
        { "garbage", "random bytes, no line end", STALL, { 400, 414, CLOSED, PENDING }, .reps = 64, .gen = gen_garbage_unterminated },
        { "garbage", "TLS ClientHello", STALL, { 400, CLOSED, PENDING }, .reps = 32, .req = tls_client_hello, .len = sizeof(tls_client_hello) - 1 },
        { "garbage", "NUL bytes only", STALL, { 400, CLOSED, PENDING }, .reps = 32, RAW("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\r\n\r\n") },
        /* RFC 9112 3.2.2: a server MUST accept the absolute form */
        { "absolute", "GET http://127.0.0.1:PORT/metrics", PIPE, { 200 }, .reps = 100 },
        { "absolute", "GET http://127.0.0.1:PORT/healthz", PIPE, { 200 }, .reps = 100 },
        { "absolute", "GET http://127.0.0.1:PORT/vms/nope", PIPE, { 404 }, .json = true, .reps = 100 },
        /* writes with bodies: 405 (with Allow) on known routes, 404 elsewhere */
        { "body", "POST /metrics", PIPE, { 405 }, .json = true,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello") },
        { "body", "PUT /vms/b13", PIPE, { 405 }, .json = true,
          RAW("PUT /vms/b13 HTTP/1.1\r\n" HOST "Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"vcpus\":8}") },
        { "body", "DELETE /vms/b13", PIPE, { 405 }, .json = true, REQ("DELETE", "/vms/b13") },
        { "body", "DELETE /vms/b13/history with a body", PIPE, { 405 }, .json = true,
          RAW("DELETE /vms/b13/history HTTP/1.1\r\n" HOST "Content-Length: 4\r\n\r\nall!") },
        { "body", "POST /healthz chunked", PIPE, { 405 }, .json = true,
          RAW("POST /healthz HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n") },
        { "body", "POST /nope", PIPE, { 404 }, .json = true,
          RAW("POST /nope HTTP/1.1\r\n" HOST "Content-Length: 5\r\n\r\nhello") },
        { "body", "PUT /vms/b13/console with 8 KiB", PIPE, { 405 }, .json = true },
        { "body", "POST /metrics with Expect: 100-continue", ONE, { 405 }, .json = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello") },
        /* ?last= must be a whole number from 1 to the history size (720 by default) */
        { "history", "last=abc", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=abc") },
        { "history", "last=-1", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=-1") },
        { "history", "last=0", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=0") },
        { "history", "last=1e3", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=1e3") },
        { "history", "last=0x10", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=0x10") },
        { "history", "last=99999999999", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=99999999999") },
        { "history", "last=18446744073709551617", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=18446744073709551617") },
        { "history", "last=721", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=721") },
        { "history", "last=%205", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=%205") },
        { "history", "last=5%20", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=5%20") },
        { "history", "last=+5", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=+5") },
        { "history", "last=05", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=05") },
        { "history", "last=", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=") },
        { "history", "last=5.0", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=5.0") },
        { "history", "last=%zz", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=%zz") },
        { "history", "last=%", PIPE, { 400 }, .json = true, GET("/vms/b13/history?last=%") },
        { "history", "last=1", PIPE, { 200 }, .reps = 100, GET("/vms/b13/history?last=1") },
        { "history", "last=720", PIPE, { 200 }, .reps = 100, GET("/vms/b13/history?last=720") },
        /* unknown VMs, vCPUs and sub-resources */
        { "vm", "/vms/nope", PIPE, { 404 }, .json = true, GET("/vms/nope") },
        { "vm", "/vms/nope/history", PIPE, { 404 }, .json = true, GET("/vms/nope/history") },
        { "vm", "/vms/nope/vcpus/0", PIPE, { 404 }, .json = true, GET("/vms/nope/vcpus/0") },
        { "vm", "/vms/nope/history?last=5", PIPE, { 404 }, .json = true, GET("/vms/nope/history?last=5") },
        { "vm", "/vms/b13/vcpus/2", PIPE, { 404 }, .json = true, GET("/vms/b13/vcpus/2") },
        { "vm", "/vms/b13/vcpus/99999999999", PIPE, { 404 }, .json = true, GET("/vms/b13/vcpus/99999999999") },
        { "vm", "/vms/b13/vcpus/-1", PIPE, { 404 }, .json = true, GET("/vms/b13/vcpus/-1") },
        { "vm", "/vms/b13/vcpus/01", PIPE, { 404 }, .json = true, GET("/vms/b13/vcpus/01") },
        { "vm", "/vms/b13/vcpus", PIPE, { 404 }, .json = true, GET("/vms/b13/vcpus") },
        { "vm", "/vms/b13/vcpus/", PIPE, { 404 }, .json = true, GET("/vms/b13/vcpus/") },
        { "vm", "/vms/B13", PIPE, { 404 }, .json = true, GET("/vms/B13") },
        { "vm", "/vms/<33 chars>", PIPE, { 404 }, .json = true, GET("/vms/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") },
        { "vm", "/vms/b13/nope", PIPE, { 404 }, .json = true, GET("/vms/b13/nope") },
        { "vm", "/vms/b13//history", PIPE, { 404 }, .json = true, GET("/vms/b13//history") },
        { "vm", "/vms/b13/history/x", PIPE, { 404 }, .json = true, GET("/vms/b13/history/x") },
        /* request smuggling shapes (RFC 9112 6.1, 6.3, 7.1) */
        { "smuggling", "two different Content-Lengths", ONE, { 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: 5\r\nContent-Length: 10\r\n\r\nhello") },
        { "smuggling", "the same Content-Length twice", ONE, { 400, 405 }, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello") },
        { "smuggling", "Content-Length: 5, 10", ONE, { 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: 5, 10\r\n\r\nhello") },
        { "smuggling", "Content-Length: -1", ONE, { 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: -1\r\n\r\nhello") },
        { "smuggling", "Content-Length: +5", ONE, { 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: +5\r\n\r\nhello") },
        { "smuggling", "Content-Length: 5x", ONE, { 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: 5x\r\n\r\nhello") },
        { "smuggling", "Content-Length: 2^74", ONE, { 413, 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: 18889465931478580854784\r\n\r\nhello") },
        { "smuggling", "Transfer-Encoding: chunked and Content-Length", ONE, { 400, 405 }, .must_close = true, .reps = 48,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") },
        { "smuggling", "CL.TE with a smuggled GET behind", ONE, { 400, 405 }, .must_close = true, .reps = 48,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
              "GET /vms/smuggled HTTP/1.1\r\n" HOST "\r\n") },
        { "smuggling", "chunk size zz", ONE, { 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n") },
        { "smuggling", "chunk without its CRLF", ONE, { 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n") },
        { "smuggling", "chunk size beyond 64 bits", ONE, { 413, 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n") },
        { "smuggling", "chunk size -5", ONE, { 400 }, .must_close = true, .reps = 100,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n") },
        /* a coding we do not know, or chunked not last: 501 (6.1) or 400 (6.3), then close */
        { "smuggling", "Transfer-Encoding: xchunked", ONE, { 400, 501 }, .must_close = true, .reps = 48,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n") },
        { "smuggling", "Transfer-Encoding: chunked, identity", ONE, { 400, 501 }, .must_close = true, .reps = 48,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n") },
        { "smuggling", "Transfer-Encoding twice: chunked, then identity", ONE, { 400, 501 }, .must_close = true, .reps = 48,
          RAW("POST /metrics HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n") },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static struct hcase *find_case(const char *name) {
        for (size_t i = 0; i < N_CASES; i++)
                if (strcmp(cases[i].name, name) == 0)
                        return &cases[i];
        ck_abort_msg("no case '%s'", name);
        return NULL;
}

static void build_cases(void) {
        char *a = repeat('A', 1024), *big17 = repeat('a', 17 * 1024), *big64 = repeat('a', 64 * 1024);
        char *body8k = repeat('x', 8192), *many;
        set_fmt("1 KiB method /metrics", "%s /metrics HTTP/1.1\r\n" HOST "\r\n", a);
        set_fmt("1 KiB method /nope", "%s /nope HTTP/1.1\r\n" HOST "\r\n", a);
        set_fmt("17 KiB header", "GET /metrics HTTP/1.1\r\n" HOST "X-Big: %s\r\n\r\n", big17);
        set_fmt("64 KiB header", "GET /metrics HTTP/1.1\r\n" HOST "X-Big: %s\r\n\r\n", big64);
        set_fmt("17 KiB URI", "GET /%s HTTP/1.1\r\n" HOST "\r\n", big17);
        set_fmt("64 KiB URI", "GET /vms/%s HTTP/1.1\r\n" HOST "\r\n", big64);
        set_fmt("20 KiB query string", "GET /metrics?x=%.*s HTTP/1.1\r\n" HOST "\r\n", 20 * 1024, big64);
        set_fmt("PUT /vms/b13/console with 8 KiB", "PUT /vms/b13/console HTTP/1.1\r\n" HOST "Content-Length: 8192\r\n\r\n%s", body8k);
        set_fmt("GET http://127.0.0.1:PORT/metrics", "GET http://127.0.0.1:%d/metrics HTTP/1.1\r\n" HOST "\r\n", port);
        set_fmt("GET http://127.0.0.1:PORT/healthz", "GET http://127.0.0.1:%d/healthz HTTP/1.1\r\n" HOST "\r\n", port);
        set_fmt("GET http://127.0.0.1:PORT/vms/nope", "GET http://127.0.0.1:%d/vms/nope HTTP/1.1\r\n" HOST "\r\n", port);
        for (int n = 100; n <= 2000; n += 1900) {
                size_t mlen;
                FILE *m = open_memstream(&many, &mlen);
                fputs("GET /healthz HTTP/1.1\r\n" HOST, m);
                for (int i = 0; i < n; i++)
                        fprintf(m, "X-Header-%d: value-%d\r\n", i, i);
                fputs("\r\n", m);
                fclose(m);
                set_owned(find_case(n == 100 ? "100 headers" : "2000 headers"), many, mlen);
        }
        free(a);
        free(big17);
        free(big64);
        free(body8k);
        /* the fixed repetitions first; the cheap keep-alive cases share what is left of the total */
        unsigned fixed = 0, shares = 0, share, extra;
        for (size_t i = 0; i < N_CASES; i++) {
                ck_assert_msg(cases[i].req || cases[i].gen, "case '%s' has no request", cases[i].name);
                fixed += cases[i].reps;
                shares += cases[i].reps == 0;
        }
        ck_assert_uint_gt(TOTAL_REQUESTS, fixed);
        share = (TOTAL_REQUESTS - fixed) / shares;
        extra = (TOTAL_REQUESTS - fixed) % shares;
        for (size_t i = 0; i < N_CASES; i++)
                if (cases[i].reps == 0)
                        cases[i].reps = share + (extra ? (extra--, 1) : 0);
}

/* ---- the phases --------------------------------------------------------------------------------- */

static void run_cases(void) {
        for (size_t i = 0; i < N_CASES; i++) {
                if (cases[i].mode == PIPE)
                        run_pipelined(&cases[i], cases[i].reps);
                else
                        run_grouped(&cases[i], cases[i].reps);
        }
}

/* 50 connections drip a request that never ends, one byte each per 100 ms; meanwhile normal
 * scrapes must be answered, each within a second */
static void slowloris(void) {
        static const char partial[] = "GET /metrics HTTP/1.1\r\n" HOST "User-Agent: slowloris\r\nX-Slow: ";
        int fds[SLOW_CONNS];
        size_t sent = 0;
        unsigned served = 0, late = 0, failed = 0, opened = 0;
        uint64_t worst = 0, end;
        for (int i = 0; i < SLOW_CONNS; i++)
                opened += (fds[i] = tcp_open()) >= 0;
        if (opened < SLOW_CONNS)
                fail_extra("slowloris: only %u of %d connections opened", opened, SLOW_CONNS);
        end = test_now_ms() + SLOW_MS;
        for (unsigned k = 0; test_now_ms() < end; k++, sent++) {
                char b = sent < sizeof(partial) - 1 ? partial[sent] : 'a';
                for (int i = 0; i < SLOW_CONNS; i++)
                        if (fds[i] >= 0)
                                send_all(fds[i], &b, 1);
                uint64_t ms;
                int st = timed_get(k % 2 ? "/healthz" : "/metrics", &ms);
                served++;
                worst = ms > worst ? ms : worst;
                late += ms >= FAST_MS;
                if (st != 200 && failed++ < 3)
                        fail_extra("slowloris: GET %s while %d connections dripped: %d (expected 200)",
                                   k % 2 ? "/healthz" : "/metrics", SLOW_CONNS, st);
                test_sleep_ms(100);
        }
        /* none of them may have been answered: their requests are not complete */
        for (int i = 0; i < SLOW_CONNS; i++) {
                if (fds[i] < 0)
                        continue;
                char c;
                ssize_t n = recv(fds[i], &c, 1, MSG_DONTWAIT);
                if (n > 0 && failed++ < 3)
                        fail_extra("slowloris: an incomplete request got an answer");
                close_rst(fds[i]);
        }
        if (late)
                fail_extra("slowloris: %u of %u normal requests took >= %d ms (worst %llu ms)", late, served, FAST_MS,
                           (unsigned long long) worst);
        fprintf(stderr, "test_hostile: slowloris: %d dripping connections for %d ms; %u normal requests, worst %llu ms\n",
                SLOW_CONNS, SLOW_MS, served, (unsigned long long) worst);
}

/* a partial request and an immediate FIN, more times than the per-IP limit: every such
 * connection must be released at once, or a local client locks everyone on its address out */
static void half_close_flood(void) {
        static const char partial[] = "GET /metrics HTTP/1.1\r\n" HOST;
        for (int i = 0; i < FLOOD_CONNS; i++) {
                int fd = tcp_open();
                if (fd < 0)
                        continue;
                send_all(fd, partial, sizeof(partial) - 1);
                close(fd);
        }
        test_sleep_ms(200);
        uint64_t ms, t0 = test_now_ms();
        int st = timed_get("/healthz", &ms);
        if (st == 200 && ms < FAST_MS)
                return;
        char d[64];
        fail_extra("half-close flood: after %d connections sent a partial request and closed (FIN), GET /healthz got %s "
                   "in %llu ms (expected 200 within %d ms): the daemon still holds the closed connections and the "
                   "per-IP limit turns everyone away",
                   FLOOD_CONNS, describe(st, d, sizeof(d)), (unsigned long long) ms, FAST_MS);
        while (test_now_ms() - t0 < 12000 && st != 200) { /* let the connection timeout clean up */
                test_sleep_ms(500);
                st = timed_get("/healthz", &ms);
        }
        fprintf(stderr, "test_hostile: half-close flood: /healthz back to 200 after %llu ms\n",
                (unsigned long long) (test_now_ms() - t0));
}

/* An idle partial request, watched by a thread of its own from the moment its last byte was
 * sent until the server closes it: the slowloris and the floods in between must not blur
 * when that happened. */
struct idle {
        int fd;
        pthread_t thread;
        uint64_t sent_ms, closed_ms; /* closed_ms 0: still open at the deadline */
        char answer[64];              /* what came before the close, if anything */
};

static void *idle_watch(void *opaque) {
        struct idle *w = opaque;
        struct conn c = { .fd = w->fd };
        while (conn_fill(&c, w->sent_ms + IDLE_TIMEOUT_MS))
                ;
        if (c.eof)
                w->closed_ms = test_now_ms();
        snprintf(w->answer, sizeof(w->answer), "%.40s", c.len ? c.buf : "");
        free(c.buf);
        return NULL;
}

static void idle_open(struct idle *w) {
        static const char partial[] = "GET /healthz HTTP/1.1\r\n" HOST;
        memset(w, 0, sizeof(*w));
        w->fd = tcp_open();
        ck_assert_int_ge(w->fd, 0);
        send_all(w->fd, partial, sizeof(partial) - 1);
        w->sent_ms = test_now_ms();
        ck_assert_int_eq(pthread_create(&w->thread, NULL, idle_watch, w), 0);
}

/* the connection timeout (10 s) must have closed it, counted from its own last byte */
static void idle_check(struct idle *w) {
        ck_assert_int_eq(pthread_join(w->thread, NULL), 0);
        close_rst(w->fd);
        uint64_t idle_ms = w->closed_ms - w->sent_ms;
        if (!w->closed_ms)
                fail_extra("idle partial request: still open %d ms after its last byte (connection timeout 10 s)",
                           IDLE_TIMEOUT_MS);
        else if (idle_ms < IDLE_MIN_MS)
                fail_extra("idle partial request: closed %llu ms after its last byte, before the connection timeout "
                           "(10 s)", (unsigned long long) idle_ms);
        else if (w->answer[0] && strncmp(w->answer, "HTTP/1.1 408", 12) != 0)
                fail_extra("idle partial request: answered '%s' before closing (expected nothing or 408)", w->answer);
        else
                fprintf(stderr, "test_hostile: idle partial request closed %llu ms after its last byte\n",
                        (unsigned long long) idle_ms);
}

static void report(unsigned *ret_bad_cases) {
        const char *class = "";
        unsigned total = 0, bad_cases = 0;
        for (size_t i = 0; i < N_CASES; i++) {
                struct hcase *k = &cases[i];
                unsigned class_total = 0;
                total += k->ran;
                if (strcmp(class, k->class) != 0) {
                        class = k->class;
                        for (size_t j = i; j < N_CASES && strcmp(cases[j].class, class) == 0; j++)
                                class_total += cases[j].reps;
                        fprintf(stderr, "test_hostile: %-9s %5u requests\n", class, class_total);
                }
                if (k->bad) {
                        bad_cases++;
                        fprintf(extra_failures, "  %s / %s: %u of %u wrong, first: %s (expected", k->class, k->name,
                                k->bad, k->ran, k->first_bad);
                        for (size_t e = 0; e < 4 && k->expect[e]; e++) {
                                char d[64];
                                fprintf(extra_failures, "%s%s", e ? " or " : " ", describe(k->expect[e], d, sizeof(d)));
                        }
                        fprintf(extra_failures, "%s)\n", k->json ? ", JSON error body" : "");
                }
        }
        fprintf(stderr, "test_hostile: %u hostile requests in %zu cases\n", total, N_CASES);
        if (total != TOTAL_REQUESTS)
                fail_extra("%u requests sent, not %d", total, TOTAL_REQUESTS);
        *ret_bad_cases = bad_cases;
}

START_TEST(hostile_clients) {
        struct test_daemon d;
        unsigned bad_cases = 0;
        if (!test_daemon_start(&d, NULL))
                return;
        port = d.port;
        extra_failures = open_memstream(&extra_text, &extra_len);
        build_cases();
        uint64_t t0 = test_now_ms();
        struct idle idle;
        idle_open(&idle);

        run_cases();
        fprintf(stderr, "test_hostile: cases done in %llu ms\n", (unsigned long long) (test_now_ms() - t0));
        uint64_t ms;
        int st = timed_get("/healthz", &ms);
        if (st != 200 || ms >= FAST_MS)
                fail_extra("after the cases: GET /healthz %d in %llu ms", st, (unsigned long long) ms);
        slowloris();
        half_close_flood();
        idle_check(&idle);

        st = timed_get("/healthz", &ms);
        if (st != 200)
                fail_extra("at the end: GET /healthz %d (expected 200)", st);
        struct test_response r = test_http(&d, "GET", "/metrics", NULL);
        if (r.status != 200)
                fail_extra("at the end: GET /metrics %ld (expected 200)", r.status);
        test_response_free(&r);
        report(&bad_cases);
        fclose(extra_failures);
        fprintf(stderr, "test_hostile: %llu ms in all\n", (unsigned long long) (test_now_ms() - t0));
        test_daemon_stop(&d);
        for (size_t i = 0; i < N_CASES; i++)
                free(cases[i].owned);
        ck_assert_msg(bad_cases == 0 && n_extra == 0, "%u hostile cases answered wrong, %u other failures:\n%s",
                      bad_cases, n_extra, extra_text);
        free(extra_text);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hostile");
        TCase *tc = tcase_create("hostile");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, hostile_clients);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
