/* vmstatd/http_respond.c: the answers the real daemon cannot be made to give on demand carry
 * the common headers too: 503 before the first sample, while starting and over the byte
 * budget (with Retry-After), 501 without an action or re-exec callback; and once the server
 * quiesces, every answer says Connection: close. In-process: vs_http with a sampler that has
 * not sampled, no VM, a console that answers when the test lets it. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "listen.h"
#include "sampler.h"
#include "tests/suite.h"

static sem_t console_entered, console_go;

/* "b13" has a console, which answers once the test posts console_go */
static long console_tail(void *opaque, const char *vm, char *buf, size_t max) {
        (void) opaque;
        if (strcmp(vm, "b13") != 0)
                return -ENOENT;
        sem_post(&console_entered);
        sem_wait(&console_go);
        return snprintf(buf, max, "login: ");
}

/* request on a new connection to the control socket at path: the answer's status line and
 * headers, each line ending in \r\n (malloc'd), and its status */
static char *ask(const char *path, const char *request, long *ret_status) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        ck_assert_int_eq(write(fd, request, strlen(request)), (ssize_t) strlen(request));
        char *head = calloc(1, 65536), *end = NULL;
        size_t n = 0;
        for (ssize_t k; n < 65535 && !(end = strstr(head, "\r\n\r\n")) && (k = read(fd, head + n, 65535 - n)) > 0;)
                n += (size_t) k;
        close(fd);
        if (end)
                end[2] = 0;
        *ret_status = 0;
        sscanf(head, "HTTP/1.%*d %ld", ret_status);
        return head;
}

static bool has_header(const char *head, const char *name, const char *value) {
        char line[256];
        snprintf(line, sizeof(line), "\r\n%s: %s\r\n", name, value);
        return strcasestr(head, line) != NULL;
}

struct pending {
        const char *sock;
        long status;
        char *head;
};

static void *ask_console(void *p) {
        struct pending *q = p;
        q->head = ask(q->sock, "GET /vms/b13/console HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &q->status);
        return NULL;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
#define POST(path) "POST " path " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static void expect(const char *sock, const char *request, long status, const char *header, const char *value) {
        long got;
        char *head = ask(sock, request, &got);
        ck_assert_msg(got == status, "%.*s: HTTP %ld, expected %ld:\n%s", (int) strcspn(request, "\r"), request, got,
                      status, head);
        ck_assert_msg(has_header(head, "X-Content-Type-Options", "nosniff"), "%.*s: no nosniff:\n%s",
                      (int) strcspn(request, "\r"), request, head);
        ck_assert_msg(!header || has_header(head, header, value), "%.*s: no %s: %s:\n%s", (int) strcspn(request, "\r"),
                      request, header, value, head);
        free(head);
}

START_TEST(answers_out_of_the_ordinary_carry_the_common_headers) {
        struct vs_listen listen[1];
        char lwhy[VS_LISTEN_WHY_LEN];
        ck_assert_int_eq(vs_listen_parse("127.0.0.1:0", &listen[0], lwhy), 0);
        struct vs_sampler_config scfg = { .interval_ns = VS_MIN_INTERVAL_NS, .history = 60 };
        struct vs_sampler *sampler;
        struct vs_http *http;
        char why[VS_HTTP_WHY_LEN], *dir = test_mkdtemp("http"), sock[256];
        snprintf(sock, sizeof(sock), "%s/control.sock", dir);
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                scfg.enable[i] = -1;
        ck_assert_int_eq(vs_sampler_new(&scfg, &sampler), 0);
        sem_init(&console_entered, 0, 0);
        sem_init(&console_go, 0, 0);
        struct vs_http_config cfg = { .listen = listen, .n_listen = 1, .history = 60, .threads = 4, .held_max = 1,
                                      .console_tail = console_tail, .control_socket = sock, .starting = true };
        int r = vs_http_start(&cfg, sampler, &http, why);
        ck_assert_msg(r == 0, "vs_http_start: %s", why);

        expect(sock, GET("/healthz"), 503, NULL, NULL); /* starting */
        expect(sock, GET("/metrics"), 503, NULL, NULL); /* no sample yet */
        expect(sock, GET("/vms"), 503, NULL, NULL);
        expect(sock, POST("/vms/b13/pause"), 501, NULL, NULL);
        expect(sock, POST("/daemon/reexec"), 501, NULL, NULL);
        /* one console response holds the whole budget while it is made: the next is told to retry */
        struct pending first = { .sock = sock };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, ask_console, &first), 0);
        sem_wait(&console_entered);
        expect(sock, GET("/vms/b13/console"), 503, "Retry-After", "1");
        sem_post(&console_go);
        pthread_join(t, NULL);
        ck_assert_msg(first.status == 200 && has_header(first.head, "X-Content-Type-Options", "nosniff"), "%s",
                      first.head);
        free(first.head);
        /* a daemon about to exec: the control socket still answers, and says it closes */
        int fds[4];
        size_t n = vs_http_quiesce(http, fds, 4, 0);
        ck_assert_uint_eq(n, 1);
        expect(sock, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 503, "Connection", "close");
        close(fds[0]);
        vs_http_stop(http);
        vs_sampler_free(sampler);
        rmdir(dir);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http_respond");
        TCase *tc = tcase_create("http_respond");
        tcase_add_test(tc, answers_out_of_the_ordinary_carry_the_common_headers);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
