/* Every answer of the real daemon, whatever route made it, carries the headers the one respond
 * path adds to all of them (X-Content-Type-Options: nosniff) and a Content-Type (none on a
 * 304): the page and its files (200, gzip, 304), /metrics (text, OpenMetrics, gzip, 400, 405),
 * the JSON routes (200, 404), history streams, consoles (200, 403, 404), the control socket's
 * actions (200, 404, 409) and daemon-reexec (202), a foreign Host (421) and request smuggling
 * (400, 501). A handler that made its own response would fail here. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon_helper.h"

#define ACCEPT_HTML "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#define ACCEPT_OM "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

enum via { TCP, CONTROL };

struct ask {
        enum via via;
        const char *method, *path, *header; /* header: one more request header, or NULL */
        long status;
};

static const struct ask asks[] = {
        /* the page and its files */
        { TCP, "GET", "/", ACCEPT_HTML, 200 },
        { TCP, "HEAD", "/", NULL, 200 },
        { TCP, "GET", "/vms/b13", ACCEPT_HTML, 200 },
        { TCP, "GET", "/static/app.js", NULL, 200 },
        { TCP, "GET", "/static/app.css", "Accept-Encoding: gzip", 200 },
        { TCP, "GET", "/static/nosuch.js", NULL, 404 },
        /* /metrics */
        { TCP, "GET", "/metrics", NULL, 200 },
        { TCP, "GET", "/metrics", "Accept-Encoding: gzip", 200 },
        { TCP, "GET", "/metrics", ACCEPT_OM, 200 },
        { TCP, "GET", "/metrics?format=openmetrics", "Accept-Encoding: gzip", 200 },
        { TCP, "HEAD", "/metrics", NULL, 200 },
        { TCP, "GET", "/metrics?format=xml", NULL, 400 },
        { TCP, "POST", "/metrics", NULL, 405 },
        { TCP, "GET", "/metrics", "Host: evil.example", 421 },
        { CONTROL, "GET", "/metrics", NULL, 200 },
        /* the JSON of the latest sample */
        { TCP, "GET", "/healthz", NULL, 200 },
        { TCP, "GET", "/vms", NULL, 200 },
        { TCP, "GET", "/vms/b13", NULL, 200 },
        { TCP, "GET", "/vms/b13/vcpus/1", NULL, 200 },
        { TCP, "GET", "/vms/b13/vcpus/7", NULL, 404 },
        { TCP, "GET", "/vms/nosuch", NULL, 404 },
        { TCP, "GET", "/nosuch", NULL, 404 },
        { CONTROL, "GET", "/vms", NULL, 200 },
        /* history, streamed */
        { TCP, "GET", "/vms/b13/history?last=2", NULL, 200 },
        { TCP, "GET", "/vms/b13/history?last=max", NULL, 200 },
        { TCP, "GET", "/vms/b13/history?last=x", NULL, 400 },
        { TCP, "GET", "/vms/nosuch/history", NULL, 404 },
        /* consoles */
        { TCP, "GET", "/vms/b13/console", NULL, 403 },
        { CONTROL, "GET", "/vms/b13/console", NULL, 200 },
        { CONTROL, "GET", "/vms/nosuch/console", NULL, 404 },
        /* actions */
        { TCP, "POST", "/vms/b13/pause", NULL, 405 },
        { CONTROL, "POST", "/vms/b13/pause", NULL, 200 },
        { CONTROL, "POST", "/vms/b13/pause", NULL, 409 },
        { CONTROL, "POST", "/vms/b13/resume", NULL, 200 },
        { CONTROL, "POST", "/vms/nosuch/pause", NULL, 404 },
};

/* What every answer carries; notes what it lacks. */
static void check_common(struct test_failures *fl, const char *what, const struct test_response *r) {
        char *nosniff = test_header(r, "X-Content-Type-Options"), *type = test_header(r, "Content-Type");
        if (!nosniff || strcmp(nosniff, "nosniff") != 0)
                test_note_fail(fl, "%s: X-Content-Type-Options '%s', expected nosniff", what, nosniff ? nosniff : "(none)");
        if (r->status != 304 && !type)
                test_note_fail(fl, "%s: HTTP %ld without a Content-Type", what, r->status);
        free(nosniff);
        free(type);
}

static void check(struct test_failures *fl, const char *what, const struct test_response *r, long status) {
        if (r->status != status)
                test_note_fail(fl, "%s: HTTP %ld, expected %ld", what, r->status, status);
        check_common(fl, what, r);
}

/* request, written as it is on a new TCP connection, and the whole answer (the daemon closes
 * the connection after one that refuses the request's framing) */
static struct test_response raw_request(const struct test_daemon *d, const char *request) {
        struct test_response r = { 0 };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) d->port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct timeval tv = { .tv_sec = 10 };
        ck_assert_int_ge(fd, 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        ck_assert_int_eq(write(fd, request, strlen(request)), (ssize_t) strlen(request));
        FILE *f = fdopen(fd, "r");
        r.headers = test_read_all(f);
        fclose(f);
        sscanf(r.headers, "HTTP/1.%*d %ld", &r.status);
        return r;
}

START_TEST(every_answer_carries_the_common_headers) {
        struct test_daemon d;
        struct test_failures fl;
        char *dir = test_config_dir(), sock[300], what[512], inm[160];
        snprintf(sock, sizeof(sock), "%s/control.sock", dir);
        test_write_vm(dir, "b13", "[vm]\nvcpus = 2\nmemory = 16M\nguest = builtin:demo\n");
        const char *argv[] = { "--config", dir, "--control-socket", sock, NULL };
        if (!test_daemon_start(&d, argv))
                return;
        test_failures_init(&fl);
        test_sleep_ms(300); /* a console with text in it, a history of a few points */
        for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
                const struct ask *q = &asks[i];
                const char *headers[] = { q->header, NULL };
                struct test_response r = q->via == TCP ? test_http(&d, q->method, q->path, headers)
                                                       : test_http_unix(sock, q->method, q->path);
                snprintf(what, sizeof(what), "%s %s%s%s%s", q->method, q->path, q->via == CONTROL ? " (control socket)" : "",
                         q->header ? " with " : "", q->header ? q->header : "");
                check(&fl, what, &r, q->status);
                test_response_free(&r);
        }

        /* 304s: the page's and a gzipped file's */
        static const struct { const char *path, *header; } fresh[] = {
                { "/", ACCEPT_HTML },
                { "/static/app.js", "Accept-Encoding: gzip" },
        };
        for (size_t i = 0; i < sizeof(fresh) / sizeof(fresh[0]); i++) {
                const char *first[] = { fresh[i].header, NULL }, *again[] = { fresh[i].header, inm, NULL };
                struct test_response r = test_http(&d, "GET", fresh[i].path, first);
                char *etag = test_header(&r, "ETag");
                snprintf(inm, sizeof(inm), "If-None-Match: %s", etag ? etag : "\"none\"");
                test_response_free(&r);
                r = test_http(&d, "GET", fresh[i].path, again);
                snprintf(what, sizeof(what), "GET %s with %s and its ETag", fresh[i].path, fresh[i].header);
                check(&fl, what, &r, 304);
                test_response_free(&r);
                free(etag);
        }

        /* request smuggling: answered before any route, and the connection closed */
        static const struct { const char *what, *request; long status; } smuggling[] = {
                { "Transfer-Encoding and Content-Length",
                  "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400 },
                { "Transfer-Encoding: xchunked",
                  "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: xchunked\r\n\r\n", 501 },
        };
        for (size_t i = 0; i < sizeof(smuggling) / sizeof(smuggling[0]); i++) {
                struct test_response r = raw_request(&d, smuggling[i].request);
                check(&fl, smuggling[i].what, &r, smuggling[i].status);
                test_response_free(&r);
        }

        /* the daemon's own re-exec, answered before it goes; the new program answers alike */
        struct test_response r = test_http_unix(sock, "POST", "/daemon/reexec");
        check(&fl, "POST /daemon/reexec (control socket)", &r, 202);
        test_response_free(&r);
        char *log = test_wait_log(&d, "adopted 1 running VM", 10000);
        if (!strstr(log, "adopted 1 running VM"))
                test_note_fail(&fl, "no re-exec in the log");
        free(log);
        long status = 0; /* 503 until the new program has a sample */
        for (uint64_t t0 = test_now_ms(); status != 200 && test_now_ms() - t0 < 10000; test_sleep_ms(50)) {
                r = test_http(&d, "GET", "/healthz", NULL);
                if (r.status) /* an answer, whichever */
                        check_common(&fl, "GET /healthz after the re-exec", &r);
                status = r.status;
                test_response_free(&r);
        }
        if (status != 200)
                test_note_fail(&fl, "GET /healthz after the re-exec: HTTP %ld, expected 200 within 10 s", status);

        char *text = test_failures_text(&fl);
        log = fl.n ? test_read_file(d.log_path) : NULL; /* stopping removes it */
        test_daemon_stop(&d);
        ck_assert_msg(fl.n == 0, "%u answers lack what every answer carries:\n%s\ndaemon log:\n%s", fl.n, text,
                      log ? log : "");
        free(log);
        free(text);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http_headers");
        TCase *tc = tcase_create("http_headers");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, every_answer_carries_the_common_headers);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
