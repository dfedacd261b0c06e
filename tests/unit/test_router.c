/* vmstatd/router.c: every route, the control socket's actions, and the errors for everything
 * else. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "kvm_helper.h"
#include "router.h"

static struct vs_route route_on(bool control, const char *method, const char *path, const char *last) {
        struct vs_route r;
        vs_route_parse(method, path, last, 720, control, &r);
        return r;
}

/* over TCP */
static struct vs_route route(const char *method, const char *path, const char *last) {
        return route_on(false, method, path, last);
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

static void expect_error_on(bool control, const char *method, const char *path, const char *last, int status) {
        struct vs_route r = route_on(control, method, path, last);
        ck_assert_msg(r.kind == VS_ROUTE_ERROR && r.status == status,
                      "%s %s %s ?last=%s: kind %d status %d, expected %d", control ? "control" : "tcp", method, path,
                      last ? last : "", r.kind, r.status, status);
        ck_assert_ptr_nonnull(r.error);
        ck_assert_msg((status == 405) == (r.allow != NULL), "%s %s: Allow '%s' with status %d", method, path,
                      r.allow ? r.allow : "(none)", status);
}

static void expect_error(const char *method, const char *path, const char *last, int status) {
        expect_error_on(false, method, path, last, status);
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

START_TEST(control_reads_like_tcp) {
        const char *paths[] = { "/", "/metrics", "/vms", "/healthz", "/vms/b13", "/vms/b13/vcpus/1",
                                "/vms/b13/history", "/vms/b13/console" };
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                struct vs_route tcp = route("GET", paths[i], NULL), ctl = route_on(true, "GET", paths[i], NULL);
                ck_assert_msg(tcp.kind == ctl.kind && tcp.kind != VS_ROUTE_ERROR, "%s: tcp %d control %d", paths[i],
                              tcp.kind, ctl.kind);
                ck_assert_int_eq(route_on(true, "HEAD", paths[i], NULL).kind, tcp.kind);
                expect_error_on(true, "POST", paths[i], NULL, 405);
                ck_assert_str_eq(route_on(true, "POST", paths[i], NULL).allow, "GET, HEAD");
        }
}
END_TEST

START_TEST(control_actions) {
        const char *verbs[] = { "start", "stop", "pause", "resume" };
        const char *states[] = { "running", "stopped", "paused", "running" };
        for (int v = 0; v < 4; v++) {
                char path[64];
                snprintf(path, sizeof(path), "/vms/web-1_a/%s", verbs[v]);
                struct vs_route r = route_on(true, "POST", path, NULL);
                ck_assert_int_eq(r.kind, VS_ROUTE_ACTION);
                ck_assert_str_eq(r.vm, "web-1_a");
                ck_assert_str_eq(vs_verb_name(r.verb), verbs[v]);
                ck_assert_str_eq(vs_verb_result_state(r.verb), states[v]);
                /* the TCP port stays read-only: POST is 405 with the read methods, GET finds nothing */
                expect_error_on(false, "POST", path, NULL, 405);
                ck_assert_str_eq(route("POST", path, NULL).allow, "GET, HEAD");
                expect_error_on(false, "GET", path, NULL, 404);
                /* on the control socket, reading an action is told to POST */
                expect_error_on(true, "GET", path, NULL, 405);
                ck_assert_str_eq(route_on(true, "GET", path, NULL).allow, "POST");
                expect_error_on(true, "DELETE", path, NULL, 405);
        }
        /* daemon-reexec: a POST on the control socket, like the actions */
        ck_assert_int_eq(route_on(true, "POST", "/daemon/reexec", NULL).kind, VS_ROUTE_REEXEC);
        expect_error_on(false, "POST", "/daemon/reexec", NULL, 405);
        expect_error_on(false, "GET", "/daemon/reexec", NULL, 404);
        expect_error_on(true, "GET", "/daemon/reexec", NULL, 405);
        expect_error_on(true, "POST", "/daemon/reexec/", NULL, 404);
        expect_error_on(true, "POST", "/daemon", NULL, 404);
        expect_error_on(true, "POST", "/vms/b13/reboot", NULL, 404);
        expect_error_on(true, "POST", "/vms/b13/pause/", NULL, 404);
        expect_error_on(true, "POST", "/vms/b13/pause/x", NULL, 404);
        expect_error_on(true, "POST", "/vms/b13/Pause", NULL, 404);
        expect_error_on(true, "POST", "/vms/b13/pauses", NULL, 404);
        expect_error_on(true, "POST", "/vms/b13/paus", NULL, 404);
        expect_error_on(true, "POST", "/vms/B13/pause", NULL, 404);
        expect_error_on(true, "POST", "/vms//pause", NULL, 404);
        expect_error_on(true, "POST", "/vms/pause", NULL, 405); /* the VM named "pause" */
        expect_error_on(true, "POST", "/vms", NULL, 405);
        expect_error_on(true, "POST", "/nosuch", NULL, 404);
        ck_assert_str_eq(vs_verb_name((enum vs_verb) 99), "unknown");
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

/* Host: a name this daemon answers to, the address the client reached, or nothing usable */
START_TEST(host_names) {
        static const char *const names[] = { "prom.example.com", "scraper." };
        char out[64];
        ck_assert(vs_host_name("Prom.Example.COM:9400", out, sizeof(out)));
        ck_assert_str_eq(out, "prom.example.com");
        ck_assert(vs_host_name("[::1]:9400", out, sizeof(out)));
        ck_assert_str_eq(out, "::1");
        ck_assert(vs_host_name("[FE80::1%eth0]", out, sizeof(out)));
        ck_assert_str_eq(out, "fe80::1%eth0");
        ck_assert(!vs_host_name("", out, sizeof(out)));
        ck_assert(!vs_host_name("[::1", out, sizeof(out)));
        ck_assert(!vs_host_name("[::1]x", out, sizeof(out)));
        ck_assert(!vs_host_name("host:", out, sizeof(out)));
        ck_assert(!vs_host_name("host:94000x", out, sizeof(out)));
        ck_assert(!vs_host_name("ho[st", out, sizeof(out)));     /* brackets only around IPv6 */
        ck_assert(!vs_host_name("h\xfast", out, sizeof(out)));   /* bytes no name holds */
        ck_assert(!vs_host_name("[::1-2]", out, sizeof(out)));
        ck_assert(!vs_host_name("a-very-long-name-that-does-not-fit-the-buffer.example.com", out, 16));

        ck_assert(vs_host_allowed(NULL, "127.0.0.1", names, 2)); /* HTTP/1.0: no Host */
        ck_assert(vs_host_allowed("localhost:9400", NULL, names, 2));
        ck_assert(vs_host_allowed("LOCALHOST.", NULL, names, 2));
        ck_assert(vs_host_allowed("prom.example.com.:80", NULL, names, 2));
        ck_assert(vs_host_allowed("scraper", NULL, names, 2)); /* "scraper." is the same name */
        ck_assert(!vs_host_allowed("evil.example", "127.0.0.1", names, 2));
        ck_assert(!vs_host_allowed("localhost.evil.example", "127.0.0.1", names, 2));
        ck_assert(vs_host_allowed("127.0.0.1:9400", "127.0.0.1", names, 2));
        ck_assert(vs_host_allowed("127.0.0.1", "::ffff:127.0.0.1", names, 2)); /* a dual-stack socket */
        ck_assert(vs_host_allowed("[::1]:9400", "::1", names, 2));
        ck_assert(!vs_host_allowed("127.0.0.2", "127.0.0.1", names, 2));
        ck_assert(!vs_host_allowed("127.0.0.1", NULL, names, 2)); /* an address we cannot compare */
        ck_assert(!vs_host_allowed("[::1]", "127.0.0.1", names, 2));
        ck_assert(vs_host_allowed("anything.example", NULL, (const char *const[]) { "*" }, 1));
        /* an address in allowed_hosts (say, a NAT's), whatever its spelling */
        static const char *const addrs[] = { "192.0.2.7", "2001:db8::1" };
        ck_assert(vs_host_allowed("192.0.2.7:9400", "127.0.0.1", addrs, 2));
        ck_assert(vs_host_allowed("[2001:DB8:0::1]", "::1", addrs, 2));
        ck_assert(!vs_host_allowed("192.0.2.8", "127.0.0.1", addrs, 2));
        ck_assert(vs_host_is_address("::1") && vs_host_is_address("10.0.0.1") && !vs_host_is_address("host"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("router");
        TCase *tc = tcase_create("router");
        tcase_add_test(tc, routes);
        tcase_add_test(tc, errors);
        tcase_add_test(tc, control_reads_like_tcp);
        tcase_add_test(tc, control_actions);
        tcase_add_test(tc, vm_names);
        tcase_add_test(tc, negotiation);
        tcase_add_test(tc, targets_and_escapes);
        tcase_add_test(tc, host_names);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
