/* The real daemon over loopback: /metrics negotiation and gzip, the JSON routes, errors,
 * keep-alive, HEAD. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "daemon_helper.h"

static struct test_daemon d;
static bool up;
static const char *no_daemon; /* why up is false: the tests skip with it */

static void setup(void) {
        up = false;
        no_daemon = test_daemon_unavailable();
        if (!no_daemon)
                up = test_daemon_start(&d, NULL);
}

static void teardown(void) {
        if (up)
                test_daemon_stop(&d);
}

#define REQUIRE_UP()                                \
        do {                                        \
                if (!up)                            \
                        TEST_SKIP("%s", no_daemon); \
        } while (0)

static void assert_header(const struct test_response *r, const char *name, const char *want_prefix) {
        char *v = test_header(r, name);
        ck_assert_msg(v && strncmp(v, want_prefix, strlen(want_prefix)) == 0, "%s: '%s', expected '%s...'", name,
                      v ? v : "(none)", want_prefix);
        free(v);
}

/* runs promtool check metrics on body; returns its output (empty = no findings) */
static char *promtool(const char *body, size_t len, int *ret_status) {
        char path[] = "/tmp/vmstatd-promtool-XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, body, len), (ssize_t) len);
        close(fd);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
        FILE *p = popen(cmd, "r");
        char *out = calloc(1, 65536);
        size_t n = fread(out, 1, 65535, p);
        out[n] = 0;
        *ret_status = pclose(p);
        unlink(path);
        return out;
}

START_TEST(metrics_text_passes_promtool) {
        REQUIRE_UP();
        struct test_response r = test_http(&d, "GET", "/metrics", NULL);
        ck_assert_int_eq(r.status, 200);
        assert_header(&r, "Content-Type", "text/plain; version=0.0.4");
        ck_assert_ptr_nonnull(strstr(r.body, "vmstatd_vcpu_runstate_seconds_total{vm=\"b13\",vcpu=\"1\",state=\"running\"}"));
        int status;
        char *out = promtool(r.body, r.len, &status);
        ck_assert_msg(status == 0 && out[0] == 0, "promtool check metrics: status %d: %s", status, out);
        free(out);
        test_response_free(&r);
}
END_TEST

START_TEST(metrics_openmetrics_negotiated) {
        REQUIRE_UP();
        const char *h[] = { "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                            NULL };
        struct test_response r = test_http(&d, "GET", "/metrics", h);
        ck_assert_int_eq(r.status, 200);
        assert_header(&r, "Content-Type", "application/openmetrics-text; version=1.0.0");
        ck_assert_uint_gt(r.len, 6);
        ck_assert_str_eq(r.body + r.len - 6, "# EOF\n");
        test_response_free(&r);
        /* text preferred, or forced */
        const char *t[] = { "Accept: text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5", NULL };
        r = test_http(&d, "GET", "/metrics", t);
        assert_header(&r, "Content-Type", "text/plain; version=0.0.4");
        test_response_free(&r);
        r = test_http(&d, "GET", "/metrics?format=text", h);
        assert_header(&r, "Content-Type", "text/plain; version=0.0.4");
        test_response_free(&r);
        r = test_http(&d, "GET", "/metrics?format=xml", NULL);
        ck_assert_int_eq(r.status, 400);
        test_response_free(&r);
}
END_TEST

START_TEST(metrics_gzip) {
        REQUIRE_UP();
        const char *h[] = { "Accept-Encoding: gzip, deflate", NULL };
        struct test_response r = test_http(&d, "GET", "/metrics", h);
        ck_assert_int_eq(r.status, 200);
        assert_header(&r, "Content-Encoding", "gzip");
        ck_assert_uint_gt(r.len, 2);
        ck_assert_uint_eq((unsigned char) r.body[0], 0x1f); /* gzip magic */
        ck_assert_uint_eq((unsigned char) r.body[1], 0x8b);
        z_stream z = { .next_in = (Bytef *) r.body, .avail_in = (uInt) r.len };
        char out[64];
        ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
        z.next_out = (Bytef *) out;
        z.avail_out = sizeof(out) - 1;
        ck_assert_int_ge(inflate(&z, Z_SYNC_FLUSH), Z_OK);
        inflateEnd(&z);
        out[sizeof(out) - 1 - z.avail_out] = 0;
        ck_assert_msg(strncmp(out, "# HELP ", 7) == 0, "inflated body starts '%s'", out);
        test_response_free(&r);
        const char *no[] = { "Accept-Encoding: gzip;q=0", NULL };
        r = test_http(&d, "GET", "/metrics", no);
        char *enc = test_header(&r, "Content-Encoding");
        ck_assert_ptr_null(enc);
        test_response_free(&r);
}
END_TEST

/* libmicrohttpd 0.9.75 closes the connection if the response is queued on the first call */
START_TEST(keepalive_reused) {
        REQUIRE_UP();
        char url[128];
        snprintf(url, sizeof(url), "%s/metrics", d.base);
        test_assert_keepalive(url, NULL);
}
END_TEST

START_TEST(head_and_keepalive) {
        REQUIRE_UP();
        struct test_response r = test_http(&d, "HEAD", "/metrics", NULL);
        ck_assert_int_eq(r.status, 200);
        ck_assert_uint_eq(r.len, 0);
        assert_header(&r, "Content-Type", "text/plain");
        char *conn = test_header(&r, "Connection");
        ck_assert_msg(!conn || strcasecmp(conn, "close") != 0, "HEAD answered with Connection: close");
        free(conn);
        test_response_free(&r);
}
END_TEST

static json_t *get_json(const char *path, long want_status) {
        struct test_response r = test_http(&d, "GET", path, NULL);
        ck_assert_msg(r.status == want_status, "GET %s: %ld, expected %ld: %s", path, r.status, want_status, r.body);
        assert_header(&r, "Content-Type", "application/json");
        json_error_t err;
        json_t *j = json_loadb(r.body, r.len, 0, &err);
        ck_assert_msg(j != NULL, "GET %s: not JSON (%s): %s", path, err.text, r.body);
        test_response_free(&r);
        return j;
}

START_TEST(json_routes) {
        REQUIRE_UP();
        json_t *vms = get_json("/vms", 200);
        json_t *first = json_array_get(json_object_get(vms, "vms"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "b13");
        ck_assert_str_eq(json_string_value(json_object_get(first, "state")), "running");
        ck_assert(json_is_number(json_object_get(first, "ready_pct")));
        json_decref(vms);

        json_t *vm = get_json("/vms/b13", 200);
        ck_assert_str_eq(json_string_value(json_object_get(vm, "name")), "b13");
        json_t *vcpus = json_object_get(vm, "vcpus");
        ck_assert_uint_eq(json_array_size(vcpus), 2);
        json_t *v1 = json_array_get(vcpus, 1);
        json_t *pct = json_object_get(v1, "runstate_pct");
        double sum = 0;
        const char *states[] = { "running", "runnable", "blocked", "offline" };
        for (int i = 0; i < 4; i++) {
                ck_assert(json_is_number(json_object_get(pct, states[i])));
                sum += json_number_value(json_object_get(pct, states[i]));
        }
        ck_assert_double_eq_tol(sum, 100.0, 1e-6);
        ck_assert(json_is_integer(json_object_get(json_object_get(v1, "exits"), "io_out")));
        ck_assert(json_is_number(json_object_get(vm, "interval_seconds")));
        ck_assert(json_is_string(json_object_get(vm, "sample_time")));
        json_decref(vm);

        json_t *one = get_json("/vms/b13/vcpus/1", 200);
        ck_assert(json_is_number(json_object_get(one, "ready_pct")));
        json_decref(one);


        struct timespec ts = { 0, 700 * 1000000L }; /* a few 200 ms samples */
        nanosleep(&ts, NULL);
        json_t *hist = get_json("/vms/b13/history?last=3", 200);
        ck_assert_str_eq(json_string_value(json_object_get(hist, "name")), "b13");
        ck_assert_uint_eq(json_array_size(json_object_get(hist, "points")), 3);
        json_decref(hist);

        json_t *health = get_json("/healthz", 200);
        ck_assert_str_eq(json_string_value(json_object_get(health, "status")), "ok");
        json_decref(health);

        /* console text is not for the unauthenticated port (test_exposure: the control socket and the opt-in) */
        struct test_response c = test_http(&d, "GET", "/vms/b13/console", NULL);
        ck_assert_int_eq(c.status, 403);
        ck_assert_ptr_nonnull(strstr(c.body, "control socket"));
        ck_assert_ptr_null(strstr(c.body, "vmstatd demo guest"));
        test_response_free(&c);
        struct test_response root = test_http(&d, "GET", "/", NULL);
        ck_assert_int_eq(root.status, 200);
        ck_assert_ptr_nonnull(strstr(root.body, "/metrics"));
        test_response_free(&root);
}
END_TEST

static void assert_error(const char *method, const char *path, long status) {
        struct test_response r = test_http(&d, method, path, NULL);
        ck_assert_msg(r.status == status, "%s %s: %ld, expected %ld", method, path, r.status, status);
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        ck_assert_msg(j && json_is_string(json_object_get(j, "error")) &&
                              json_integer_value(json_object_get(j, "status")) == status,
                      "%s %s: error body %s", method, path, r.body);
        json_decref(j);
        if (status == 405)
                assert_header(&r, "Allow", "GET, HEAD");
        test_response_free(&r);
}

START_TEST(errors_as_json) {
        REQUIRE_UP();
        assert_error("GET", "/nosuch", 404);
        assert_error("GET", "/vms/nosuch", 404);
        assert_error("GET", "/vms/b13/vcpus/2", 404);
        assert_error("GET", "/vms/b13/history?last=0", 400);
        assert_error("GET", "/vms/b13/history?last=abc", 400);
        assert_error("POST", "/metrics", 405);
        assert_error("DELETE", "/vms/b13", 405);
        assert_error("GET", "/vms/%2e%2e/etc", 404);
}
END_TEST

/* several listen addresses, IPv4 and IPv6, served by one daemon */
START_TEST(listens_on_ipv4_and_ipv6) {
        struct test_daemon two;
        char v6[64];
        int port6 = test_free_port();
        snprintf(v6, sizeof(v6), "[::1]:%d", port6);
        const char *args[] = { "--listen", v6, NULL };
        if (!test_daemon_start(&two, args))
                return;
        struct test_daemon via6 = two;
        snprintf(via6.base, sizeof(via6.base), "http://[::1]:%d", port6);
        struct test_response r4 = test_http(&two, "GET", "/metrics", NULL);
        struct test_response r6 = test_http(&via6, "GET", "/metrics", NULL);
        ck_assert_int_eq(r4.status, 200);
        ck_assert_int_eq(r6.status, 200);
        ck_assert_mem_eq(r4.body, r6.body, 16);
        test_response_free(&r4);
        test_response_free(&r6);
        test_daemon_stop(&two);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http");
        TCase *tc = tcase_create("http");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, metrics_text_passes_promtool);
        tcase_add_test(tc, metrics_openmetrics_negotiated);
        tcase_add_test(tc, metrics_gzip);
        tcase_add_test(tc, head_and_keepalive);
        tcase_add_test(tc, keepalive_reused);
        tcase_add_test(tc, json_routes);
        tcase_add_test(tc, errors_as_json);
        suite_add_tcase(s, tc);
        TCase *listen = tcase_create("listen");
        tcase_set_timeout(listen, 60);
        tcase_add_test(listen, listens_on_ipv4_and_ipv6);
        suite_add_tcase(s, listen);
        return test_run_suite(s);
}
