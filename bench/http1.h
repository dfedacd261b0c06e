/* One HTTP/1.0 request to vmstatd on a connection of its own, read to the close: what the
 * benches that drive a daemon share. Header-only: bench/%.c build one program each. */
#ifndef BENCH_HTTP1_H
#define BENCH_HTTP1_H

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

struct http1_reply {
        int status;
        char *body; /* after the header block, NUL-terminated */
        size_t len;
        bool gzip;  /* Content-Encoding: gzip */
};

static inline void http1_reply_free(struct http1_reply *r) {
        free(r->body);
        memset(r, 0, sizeof(*r));
}

static inline int http1_connect(int port, const char *unix_path) {
        int fd = socket(port > 0 ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;
        if (fd < 0)
                return -errno;
        if (port > 0) {
                struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                r = connect(fd, (struct sockaddr *) &a, sizeof(a));
        } else {
                struct sockaddr_un a = { .sun_family = AF_UNIX };
                snprintf(a.sun_path, sizeof(a.sun_path), "%s", unix_path ? unix_path : "");
                r = connect(fd, (struct sockaddr *) &a, sizeof(a));
        }
        if (r < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* method path on 127.0.0.1:port (port > 0) or the control socket at unix_path, with extra header
 * lines ("Name: value\r\n", or ""), within timeout_s per send and receive. HTTP/1.0: the answer
 * ends with the close (a streamed history is chunked only in HTTP/1.1). 0 with any status, or
 * -errno. */
static inline int http1_request(int port, const char *unix_path, const char *method, const char *path,
                                const char *extra, int timeout_s, struct http1_reply *ret) {
        struct timeval tv = { timeout_s, 0 };
        char req[768], host[32] = "localhost", *buf = NULL;
        size_t len = 0, cap = 0;
        int r = 0, fd = http1_connect(port, unix_path);
        memset(ret, 0, sizeof(*ret));
        if (fd < 0)
                return fd;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (port > 0)
                snprintf(host, sizeof(host), "127.0.0.1:%d", port);
        int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: %s\r\n%s%s\r\n", method, path, host,
                         strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "", extra);
        if (send(fd, req, (size_t) n, MSG_NOSIGNAL) != n) {
                close(fd);
                return -EIO;
        }
        for (;;) {
                if (cap - len < 65536) {
                        char *b = realloc(buf, cap = cap ? cap * 2 : 262144);
                        if (!b) {
                                free(buf);
                                close(fd);
                                return -ENOMEM;
                        }
                        buf = b;
                }
                ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0)
                        r = -errno;
                if (got <= 0)
                        break;
                len += (size_t) got;
        }
        close(fd);
        if (r < 0 && len == 0) {
                free(buf);
                return r;
        }
        buf[len] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end || sscanf(buf, "HTTP/1.%*c %d", &ret->status) != 1) {
                free(buf);
                return -EPROTO;
        }
        *end = 0;
        ret->gzip = strcasestr(buf, "\r\nContent-Encoding: gzip") != NULL;
        ret->len = len - (size_t) (end + 4 - buf);
        memmove(buf, end + 4, ret->len + 1);
        ret->body = buf;
        return 0;
}

/* GET path and parse a 200 answer's JSON body; NULL otherwise */
static inline json_t *http1_get_json(int port, const char *unix_path, const char *path, int timeout_s) {
        struct http1_reply r;
        json_t *j = NULL;
        if (http1_request(port, unix_path, "GET", path, "", timeout_s, &r) == 0 && r.status == 200)
                j = json_loadb(r.body, r.len, 0, NULL);
        http1_reply_free(&r);
        return j;
}

#endif
