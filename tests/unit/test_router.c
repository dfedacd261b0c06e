/* vmstatd/router.c: every route, and the errors for everything else. */
#include <check.h>
#include <string.h>

#include "kvm_helper.h"
#include "router.h"

static struct vs_route route(const char *method, const char *path, const char *last) {
        struct vs_route r;
        vs_route_parse(method, path, last, 720, &r);
        return r;
}

START_TEST(routes) {
        ck_assert_int_eq(route("GET", "/", NULL).kind, VS_ROUTE_ROOT);
        ck_assert_int_eq(route("GET", "/metrics", NULL).kind, VS_ROUTE_METRICS);
        ck_assert_int_eq(route("HEAD", "/metrics", NULL).kind, VS_ROUTE_METRICS);
        ck_assert_int_eq(route("GET", "/vms", NULL).kind, VS_ROUTE_VMS);
        ck_assert_int_eq(route("GET", "/healthz", NULL).kind, VS_ROUTE_HEALTHZ);
        struct vs_route r = route("GET", "/vms/b13", NULL);
        ck_assert_int_eq(r.kind, VS_ROUTE_VM);
        ck_assert_str_eq(r.vm, "b13");
        r = route("GET", "/vms/b13/vcpus/1", NULL);
        ck_assert_int_eq(r.kind, VS_ROUTE_VCPU);
        ck_assert_uint_eq(r.vcpu, 1);
        r = route("GET", "/vms/web-1_a/history", NULL);
        ck_assert_int_eq(r.kind, VS_ROUTE_HISTORY);
        ck_assert_uint_eq(r.last, VS_HISTORY_DEFAULT_LAST);
        ck_assert_uint_eq(route("GET", "/vms/b13/history", "5").last, 5);
        ck_assert_uint_eq(route("GET", "/vms/b13/history", "720").last, 720);
        ck_assert_int_eq(route("GET", "/vms/b13/console", NULL).kind, VS_ROUTE_CONSOLE);
}
END_TEST

static void expect_error(const char *method, const char *path, const char *last, int status) {
        struct vs_route r = route(method, path, last);
        ck_assert_msg(r.kind == VS_ROUTE_ERROR && r.status == status, "%s %s ?last=%s: kind %d status %d, expected %d",
                      method, path, last ? last : "", r.kind, r.status, status);
        ck_assert_ptr_nonnull(r.error);
}

START_TEST(errors) {
        expect_error("POST", "/metrics", NULL, 405);
        expect_error("DELETE", "/vms/b13", NULL, 405);
        expect_error("PUT", "/nosuch", NULL, 404);
        expect_error("GET", "/nosuch", NULL, 404);
        expect_error("GET", "/metrics/", NULL, 404);
        expect_error("GET", "/vms/B13", NULL, 404);
        expect_error("GET", "/vms/../etc/passwd", NULL, 404);
        expect_error("GET", "/vms/b13/../../x", NULL, 404);
        expect_error("GET", "/vms/a-name-that-is-far-too-long-for-a-vm-name", NULL, 404);
        expect_error("GET", "/vms/b13/vcpus/", NULL, 404);
        expect_error("GET", "/vms/b13/vcpus/01", NULL, 404);
        expect_error("GET", "/vms/b13/vcpus/-1", NULL, 404);
        expect_error("GET", "/vms/b13/vcpus/99999999999", NULL, 404);
        expect_error("GET", "/vms/b13/vcpus/1/x", NULL, 404);
        expect_error("GET", "/vms//history", NULL, 404);
        expect_error("GET", "/vms/b13/history", "0", 400);
        expect_error("GET", "/vms/b13/history", "721", 400);
        expect_error("GET", "/vms/b13/history", "-3", 400);
        expect_error("GET", "/vms/b13/history", "1e3", 400);
        expect_error("GET", "/vms/b13/history", "", 400);
        expect_error("GET", "/vms/b13/history", "99999999999999999999", 400);
        expect_error("GET", "", NULL, 404);
}
END_TEST

START_TEST(vm_names) {
        ck_assert(vs_vm_name_valid("b13"));
        ck_assert(vs_vm_name_valid("a_b-c"));
        ck_assert(vs_vm_name_valid("abcdefghijabcdefghijabcdefghij12"));
        ck_assert(!vs_vm_name_valid("abcdefghijabcdefghijabcdefghij123"));
        ck_assert(!vs_vm_name_valid(""));
        ck_assert(!vs_vm_name_valid("a.b"));
        ck_assert(!vs_vm_name_valid("a b"));
}
END_TEST

START_TEST(negotiation) {
        const char *prom242 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                              "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        ck_assert(vs_accept_openmetrics(prom242));
        ck_assert(!vs_accept_openmetrics(NULL));
        ck_assert(!vs_accept_openmetrics("*/*"));
        ck_assert(!vs_accept_openmetrics("text/plain;version=0.0.4"));
        ck_assert(!vs_accept_openmetrics("application/openmetrics-text;q=0.5,text/plain"));
        ck_assert(!vs_accept_openmetrics("application/openmetrics-text;q=0"));
        ck_assert(vs_accept_openmetrics("text/plain;q=0.2, application/openmetrics-text; q=0.9"));
        ck_assert(!vs_accept_openmetrics("application/openmetrics-textual"));
        ck_assert(vs_accept_gzip("gzip, deflate, br"));
        ck_assert(vs_accept_gzip("deflate;q=1, GZIP;q=0.5"));
        ck_assert(!vs_accept_gzip("gzip;q=0"));
        ck_assert(!vs_accept_gzip("identity"));
        ck_assert(!vs_accept_gzip("gzipx"));
        ck_assert(!vs_accept_gzip(NULL));
}
END_TEST

START_TEST(targets_and_escapes) {
        ck_assert_str_eq(vs_request_path("/metrics"), "/metrics");
        ck_assert_str_eq(vs_request_path("http://127.0.0.1:9400/metrics"), "/metrics");
        ck_assert_str_eq(vs_request_path("HTTP://host"), "/");
        ck_assert_str_eq(vs_request_path("https://[::1]:9400/vms/b13"), "/vms/b13");
        char a[] = "/vms/b%31%33", b[] = "/metrics%00.txt", c[] = "/x%zz%4", d[] = "%2e%2E";
        ck_assert_uint_eq(vs_unescape(a), 8);
        ck_assert_str_eq(a, "/vms/b13");
        vs_unescape(b);
        ck_assert_str_eq(b, "/metrics%00.txt"); /* never a NUL inside */
        vs_unescape(c);
        ck_assert_str_eq(c, "/x%zz%4");
        vs_unescape(d);
        ck_assert_str_eq(d, "..");
}
END_TEST

int main(void) {
        Suite *s = suite_create("router");
        TCase *tc = tcase_create("router");
        tcase_add_test(tc, routes);
        tcase_add_test(tc, errors);
        tcase_add_test(tc, vm_names);
        tcase_add_test(tc, negotiation);
        tcase_add_test(tc, targets_and_escapes);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
