/* vmstatd/router.c: every route, the control socket's actions, the web page and its files, and
 * the errors for everything else. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "kvm_helper.h"
#include "router.h"

static struct vs_route route_as(bool control, const char *method, const char *path, const char *last,
                                const char *accept) {
        struct vs_route r;
        vs_route_parse(method, path, last, accept, 720, control, &r);
        return r;
}

static struct vs_route route_on(bool control, const char *method, const char *path, const char *last) {
        return route_as(control, method, path, last, NULL);
}

/* over TCP */
static struct vs_route route(const char *method, const char *path, const char *last) {
        return route_on(false, method, path, last);
}

/* what browsers and curl send */
#define ACCEPT_CHROME                                                                                           \
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8," \
        "application/signed-exchange;v=b3;q=0.7"
#define ACCEPT_FIREFOX "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#define ACCEPT_CURL "*/*"

START_TEST(routes) {
        ck_assert_int_eq(route("GET", "/", NULL).kind, VS_ROUTE_PAGE);
        ck_assert_str_eq(route("GET", "/", NULL).vm, "");
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
                                "/vms/b13/history", "/vms/b13/console", "/static/app.js" };
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

/* / is the page for everyone; /vms/<name> for a client that prefers HTML; the other routes
 * answer JSON whatever the Accept */
START_TEST(page_routes) {
        const char *html[] = { ACCEPT_CHROME, ACCEPT_FIREFOX, "text/html", "text/*", "TEXT/HTML; q=0.9",
                               "application/json;q=0.5, text/html", "*/*;q=0.1, text/html;q=0.2" };
        const char *json[] = { ACCEPT_CURL, "application/json", "text/html;q=0.5, application/json",
                               "text/html;q=0", "text/html, application/json", "application/*", "",
                               "text/htmlx", "image/png", "*/*, text/html;q=0.9" };
        for (size_t i = 0; i < sizeof(html) / sizeof(html[0]); i++) {
                struct vs_route r = route_as(false, "GET", "/vms/web-1_a", NULL, html[i]);
                ck_assert_msg(r.kind == VS_ROUTE_PAGE, "Accept: %s: kind %d", html[i], r.kind);
                ck_assert_str_eq(r.vm, "web-1_a");
                ck_assert_int_eq(route_as(true, "HEAD", "/vms/web-1_a", NULL, html[i]).kind, VS_ROUTE_PAGE);
                ck_assert_int_eq(route_as(false, "GET", "/", NULL, html[i]).kind, VS_ROUTE_PAGE);
        }
        for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
                struct vs_route r = route_as(false, "GET", "/vms/b13", NULL, json[i]);
                ck_assert_msg(r.kind == VS_ROUTE_VM, "Accept: %s: kind %d", json[i], r.kind);
                ck_assert_int_eq(route_as(false, "GET", "/", NULL, json[i]).kind, VS_ROUTE_PAGE);
        }
        ck_assert_int_eq(route("GET", "/vms/b13", NULL).kind, VS_ROUTE_VM); /* no Accept */
        /* the data routes stay JSON for a browser, and a bad name is an error before any page */
        ck_assert_int_eq(route_as(false, "GET", "/vms", NULL, ACCEPT_CHROME).kind, VS_ROUTE_VMS);
        ck_assert_int_eq(route_as(false, "GET", "/vms/b13/history", "5", ACCEPT_CHROME).kind, VS_ROUTE_HISTORY);
        ck_assert_int_eq(route_as(false, "GET", "/vms/b13/vcpus/1", NULL, ACCEPT_CHROME).kind, VS_ROUTE_VCPU);
        ck_assert_int_eq(route_as(false, "GET", "/metrics", NULL, ACCEPT_CHROME).kind, VS_ROUTE_METRICS);
        struct vs_route bad = route_as(false, "GET", "/vms/B13", NULL, ACCEPT_CHROME);
        ck_assert_int_eq(bad.kind, VS_ROUTE_ERROR);
        ck_assert_int_eq(bad.status, 404);
        bad = route_as(false, "POST", "/vms/b13", NULL, ACCEPT_CHROME);
        ck_assert_int_eq(bad.kind, VS_ROUTE_ERROR);
        ck_assert_int_eq(bad.status, 405);
        ck_assert_int_eq(route_as(false, "POST", "/", NULL, ACCEPT_CHROME).status, 405);
}
END_TEST

START_TEST(static_routes) {
        for (unsigned a = 0; a < VS_ASSET__COUNT; a++) {
                char path[64];
                ck_assert_ptr_nonnull(vs_asset_name((enum vs_asset) a));
                ck_assert_ptr_nonnull(vs_asset_type((enum vs_asset) a));
                snprintf(path, sizeof(path), "/static/%s", vs_asset_name((enum vs_asset) a));
                struct vs_route r = route("GET", path, NULL);
                if (a == VS_ASSET_PAGE) { /* the page lives at / only */
                        ck_assert_int_eq(r.kind, VS_ROUTE_ERROR);
                        ck_assert_int_eq(r.status, 404);
                        continue;
                }
                ck_assert_msg(r.kind == VS_ROUTE_STATIC && r.asset == a, "%s: kind %d asset %d", path, r.kind, r.asset);
                ck_assert_int_eq(route_on(true, "HEAD", path, NULL).kind, VS_ROUTE_STATIC);
                expect_error("POST", path, NULL, 405);
        }
        ck_assert_int_eq(route("GET", "/static/app.js", NULL).asset, VS_ASSET_APP_JS);
        ck_assert_int_eq(route("GET", "/static/uPlot.iife.min.js", NULL).asset, VS_ASSET_UPLOT_JS);
        ck_assert_str_eq(vs_asset_type(VS_ASSET_APP_JS), "text/javascript; charset=utf-8");
        ck_assert_str_eq(vs_asset_type(VS_ASSET_UPLOT_CSS), "text/css; charset=utf-8");
        ck_assert_str_eq(vs_asset_type(VS_ASSET_PAGE), "text/html; charset=utf-8");
        ck_assert_ptr_null(vs_asset_name(VS_ASSET__COUNT));
        ck_assert_ptr_null(vs_asset_type((enum vs_asset) -1));
        const char *missing[] = { "/static", "/static/", "/static/APP.JS", "/static/app.js/", "/static/app.jsx",
                                  "/static/../static/app.js", "/static//app.js", "/static/app", "/static/web/app.js",
                                  "/static/index.html" };
        for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
                expect_error("GET", missing[i], NULL, 404);
}
END_TEST

START_TEST(etags) {
        const char *tag = "\"0123abcd-1f\"";
        ck_assert(vs_etag_match(tag, tag));
        ck_assert(vs_etag_match("W/\"0123abcd-1f\"", tag));
        ck_assert(vs_etag_match("\"x\", \"0123abcd-1f\"", tag));
        ck_assert(vs_etag_match("\"x\",\"0123abcd-1f\",\"y\"", tag));
        ck_assert(vs_etag_match("*", tag));
        ck_assert(!vs_etag_match(NULL, tag));
        ck_assert(!vs_etag_match("", tag));
        ck_assert(!vs_etag_match("\"0123abcd-1f-gz\"", tag));
        ck_assert(!vs_etag_match("0123abcd-1f", tag));
        ck_assert(!vs_etag_match("\"0123abcd-1\"", tag));
        ck_assert(!vs_etag_match("\"0123abcd-1f\"x", tag));
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
        ck_assert(vs_accept_html(ACCEPT_CHROME));
        ck_assert(vs_accept_html(ACCEPT_FIREFOX));
        ck_assert(!vs_accept_html(ACCEPT_CURL));
        ck_assert(!vs_accept_html(NULL));
        ck_assert(!vs_accept_html("application/json, text/html;q=0.99"));
        ck_assert(vs_accept_html("text/html;q=1.5, application/json;q=0.9")); /* q above 1 counts as 1 */
        ck_assert(!vs_accept_html("text/html;q=nan"));
        ck_assert(!vs_accept_html("text/*;q=0.5, */*"));                      /* text/html only through text/any at q=0.5 */
        ck_assert(vs_accept_html("text/html, */*;q=0, text/*;q=0"));          /* the most specific range wins */
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
        tcase_add_test(tc, page_routes);
        tcase_add_test(tc, static_routes);
        tcase_add_test(tc, etags);
        tcase_add_test(tc, vm_names);
        tcase_add_test(tc, negotiation);
        tcase_add_test(tc, targets_and_escapes);
        tcase_add_test(tc, host_names);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
