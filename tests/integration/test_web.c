/* The web page at / in a real browser (headless Chromium, --dump-dom after a virtual-time budget,
 * which waits for the page's fetches): two VMs whose three spinning vCPUs share one host CPU,
 * one section per VM with one chart canvas per vCPU plus the ready and exits charts, and the
 * figures it shows are those GET /vms/<name> gives for the same sample. /vms/<name> opens the
 * page on that VM; a missing VM, an error or a crash shows as text. Against a fake daemon whose
 * VM names, states, exit reasons and errors are markup, the page shows that markup as text.
 * Over plain HTTP: the Content-Security-Policy, the files' types, ETags and gzip. A screenshot
 * goes to build/web-screenshot.png (next to VMSTATD_BIN's bin/, or VMSTATD_WEB_SCREENSHOT).
 * Chromium is a test dependency (make deps installs it): without it the tests fail. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_helper.h"

#define CSP                                                                                                  \
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " \
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define ACCEPT_BROWSER                                                                                          \
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;" \
        "q=0.8,application/signed-exchange;v=b3;q=0.7"
#define CHROMIUM_TIMEOUT_MS 120000

static const char *const statics[][2] = {
        { "/static/app.js", "text/javascript; charset=utf-8" },
        { "/static/app.css", "text/css; charset=utf-8" },
        { "/static/uPlot.iife.min.js", "text/javascript; charset=utf-8" },
        { "/static/uPlot.min.css", "text/css; charset=utf-8" },
        { "/static/uPlot.LICENSE.txt", "text/plain; charset=utf-8" },
};
#define N_STATICS (sizeof(statics) / sizeof(statics[0]))

/* ---- Chromium ------------------------------------------------------------------------------------- */

/* $VMSTATD_CHROMIUM, else chromium on PATH; fails the test when there is none */
static const char *chromium_bin(void) {
        const char *bin = getenv("VMSTATD_CHROMIUM") ? getenv("VMSTATD_CHROMIUM") : "chromium";
        if (strchr(bin, '/')) {
                ck_assert_msg(access(bin, X_OK) == 0, "VMSTATD_CHROMIUM=%s: %s", bin, strerror(errno));
                return bin;
        }
        char *path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin"), *save = NULL;
        bool found = false;
        for (char *dir = strtok_r(path, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
                char full[PATH_MAX];
                snprintf(full, sizeof(full), "%s/%s", dir, bin);
                found = access(full, X_OK) == 0;
        }
        free(path);
        ck_assert_msg(found, "%s is not installed: the web page is tested in it (make deps installs it, or "
                      "apt-get install --no-install-recommends chromium; VMSTATD_CHROMIUM names another)", bin);
        return bin;
}

/* Headless Chromium on url for budget_ms of virtual time (which does not run while a fetch is
 * pending), then the DOM it serializes (malloc'd) or, with shot, a 1280x1600 screenshot into
 * that file (returns NULL). Its log (console messages included) into *ret_log. */
static char *chromium(const char *url, unsigned budget_ms, const char *shot, char **ret_log) {
        const char *bin = chromium_bin();
        char *dir = test_mkdtemp("chromium");
        char profile[512], out[512], err[512], budget[64], shot_arg[PATH_MAX + 16];
        snprintf(profile, sizeof(profile), "--user-data-dir=%s/profile", dir);
        snprintf(out, sizeof(out), "%s/dom.html", dir);
        snprintf(err, sizeof(err), "%s/chromium.log", dir);
        snprintf(budget, sizeof(budget), "--virtual-time-budget=%u", budget_ms);
        snprintf(shot_arg, sizeof(shot_arg), "--screenshot=%s", shot ? shot : "");
        /* without the background-networking switches it waits for the network on an offline host */
        const char *argv[] = { bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               "--hide-scrollbars", "--enable-logging=stderr", "--v=0", profile, budget,
                               shot ? shot_arg : "--dump-dom", shot ? "--window-size=1280,1600" : url,
                               shot ? url : NULL, NULL };
        pid_t pid = test_fork();
        if (pid == 0) {
                int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
                        _exit(126);
                execvp(bin, (char *const *) argv);
                fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
                _exit(127);
        }
        int st = 0;
        for (uint64_t t0 = test_now_ms(); waitpid(pid, &st, WNOHANG) == 0; test_sleep_ms(20))
                if (test_now_ms() - t0 > CHROMIUM_TIMEOUT_MS) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &st, 0);
                        ck_abort_msg("chromium did not finish %s within %d s: %s", url, CHROMIUM_TIMEOUT_MS / 1000,
                                     test_read_file(err));
                }
        char *log = test_read_file(err);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "chromium on %s: exit status %d: %s", url, st, log);
        char *dom = shot ? NULL : test_read_file(out);
        ck_assert_msg(shot || strstr(dom, "</html>"), "chromium on %s dumped no page: '%s' %s", url, dom, log);
        *ret_log = log;
        free(dir);
        return dom;
}

/* No script error and nothing the Content-Security-Policy refused, in the console or elsewhere. */
static void assert_clean_log(const char *log, const char *url) {
        ck_assert_msg(!strstr(log, "Content Security Policy") && !strstr(log, "Content-Security-Policy"),
                      "%s: a CSP violation: %s", url, log);
        ck_assert_msg(!strstr(log, "Uncaught"), "%s: a script error: %s", url, log);
}

/* ---- reading the DOM -------------------------------------------------------------------------------- */

/* The section of VM name in the DOM, from its tag to its end (malloc'd); NULL when absent. */
static char *vm_section(const char *dom, const char *name) {
        char tag[128];
        snprintf(tag, sizeof(tag), "<section class=\"vm\" data-vm=\"%s\"", name);
        const char *p = strstr(dom, tag);
        if (!p)
                return NULL;
        const char *end = strstr(p, "</section>");
        return strndup(p, end ? (size_t) (end - p) : strlen(p));
}

/* The value of attribute name in the tag s starts with (malloc'd), NULL without one. */
static char *attr(const char *s, const char *name) {
        char needle[64];
        snprintf(needle, sizeof(needle), " %s=\"", name);
        const char *p = strstr(s, needle), *close = strchr(s, '>');
        if (!p || (close && p > close))
                return NULL;
        p += strlen(needle);
        return strndup(p, strcspn(p, "\""));
}

static double attr_number(const char *s, const char *name) {
        char *v = attr(s, name), *end = NULL;
        ck_assert_msg(v, "no %s in '%.300s'", name, s);
        double x = strtod(v, &end);
        ck_assert_msg(end != v && *end == 0, "%s=\"%s\" is not a number", name, v);
        free(v);
        return x;
}

static unsigned occurrences(const char *s, const char *needle) {
        unsigned n = 0;
        for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* The text a figure of a VM section shows ("67.2 %"), malloc'd. */
static char *figure(const char *section, const char *key) {
        char needle[64];
        snprintf(needle, sizeof(needle), "data-figure=\"%s\"", key);
        const char *p = strstr(section, needle), *dd = p ? strstr(p, "<dd>") : NULL;
        ck_assert_msg(dd, "no figure %s in '%s'", key, section);
        dd += 4;
        return strndup(dd, strcspn(dd, "<"));
}

/* "12.3 s", "4m 05s", "1h 02m 03s" in seconds */
static double duration_text(const char *t) {
        int h, m, s;
        double sec;
        if (sscanf(t, "%dh %dm %ds", &h, &m, &s) == 3)
                return h * 3600.0 + m * 60.0 + s;
        if (sscanf(t, "%dm %ds", &m, &s) == 2)
                return m * 60.0 + s;
        ck_assert_msg(sscanf(t, "%lf s", &sec) == 1, "'%s' is not a duration", t);
        return sec;
}

/* ---- the daemon ---------------------------------------------------------------------------------- */

/* The default VM b13, its control socket its own (not /run/vmstatd's, which may be in use). */
static bool start_default(struct test_daemon *d) {
        char *dir = test_mkdtemp("control"), sock[300];
        snprintf(sock, sizeof(sock), "%s/control.sock", dir);
        const char *args[] = { "--control-socket", sock, NULL };
        bool up = test_daemon_start(d, args);
        free(dir);
        return up;
}

/* VM alpha (2 vCPUs) and beta (1 vCPU), all three spinning on host CPU 0: each waits for it about
 * two thirds of the time. Samples every second; returns once both have a few. */
static bool start_contended(struct test_daemon *d) {
        char *dir = test_config_dir(), sock[300];
        test_write_vm(dir, "alpha", "[vm]\nvcpus = 2\nmemory = 16M\nguest = builtin:spin\ncpus = 0\n");
        test_write_vm(dir, "beta", "[vm]\nvcpus = 1\nmemory = 16M\nguest = builtin:spin\ncpus = 0\n");
        snprintf(sock, sizeof(sock), "%s/control.sock", dir);
        const char *args[] = { "--config", dir, "--interval", "1s", "--control-socket", sock, NULL };
        bool up = test_daemon_start(d, args);
        free(dir);
        if (!up)
                return false;
        for (uint64_t t0 = test_now_ms();; test_sleep_ms(200)) {
                json_t *a = test_get_json(d, "/vms/alpha/history?last=max"),
                       *b = test_get_json(d, "/vms/beta/history?last=max");
                bool enough = a && b && json_array_size(json_object_get(a, "points")) >= 4 &&
                              json_array_size(json_object_get(b, "points")) >= 4;
                json_decref(a);
                json_decref(b);
                if (enough)
                        return true;
                ck_assert_msg(test_now_ms() - t0 < 30000, "fewer than 4 samples of alpha and beta after 30 s");
        }
}

static double number_at(json_t *j, const char *key, const char *sub) {
        json_t *v = json_object_get(j, key);
        if (sub)
                v = json_object_get(v, sub);
        ck_assert_msg(json_is_number(v), "%s%s%s is not a number", key, sub ? "." : "", sub ? sub : "");
        return json_number_value(v);
}

/* exits/s of a VM document, every vCPU and reason, summed in the page's order */
static double exits_per_sec(json_t *vm) {
        double sum = 0;
        size_t i;
        json_t *cpu, *v;
        const char *k;
        json_array_foreach(json_object_get(vm, "vcpus"), i, cpu) json_object_foreach(json_object_get(cpu, "exits_per_sec"), k, v)
                sum += json_number_value(v);
        return sum;
}

/* whether any vCPU of the document measured time (an interval of 0 s measured nothing) */
static bool measured(json_t *vm) {
        size_t i;
        json_t *cpu;
        json_array_foreach(json_object_get(vm, "vcpus"), i, cpu) if (json_number_value(json_object_get(cpu, "interval_seconds")) > 0)
                return true;
        return false;
}

/* The page's figures for one VM against its document; false when the document is of another
 * sample than the page showed (or one that measured nothing): the caller loads the page again. */
static bool section_matches(const char *dom, const char *name, json_t *vm) {
        char *sec = vm_section(dom, name), *text;
        ck_assert_msg(sec, "no section for VM %s in the page: %s", name, dom);
        unsigned vcpus = (unsigned) json_array_size(json_object_get(vm, "vcpus"));
        /* one canvas per chart: a runstate chart per vCPU, CPU ready, exits/s */
        ck_assert_msg(occurrences(sec, "<canvas") == vcpus + 2, "VM %s: %u canvases for %u vCPUs: %s", name,
                      occurrences(sec, "<canvas"), vcpus, sec);
        ck_assert_uint_eq(occurrences(sec, "class=\"chart runstate\" data-vcpu="), vcpus);
        ck_assert_double_eq(attr_number(sec, "data-vcpus"), vcpus);
        char *state = attr(sec, "data-state");
        ck_assert_str_eq(state, "running");
        free(state);
        ck_assert_msg(!strstr(sec, "role=\"alert\">"), "VM %s shows an error: %s", name, sec);
        double t = attr_number(sec, "data-sample-time");
        if (t != number_at(vm, "sample_time_unix", NULL) || !measured(vm)) {
                fprintf(stderr, "VM %s: the page showed sample %.3f, the API then %.3f: again\n", name, t,
                        number_at(vm, "sample_time_unix", NULL));
                free(sec);
                return false;
        }
        double ready = number_at(vm, "ready_pct", NULL), exits = exits_per_sec(vm),
               uptime = number_at(vm, "uptime_seconds", NULL), shown;
        ck_assert_double_eq(attr_number(sec, "data-ready-pct"), ready);
        ck_assert_double_eq(attr_number(sec, "data-steal-pct"), number_at(vm, "steal_pct", "kvm"));
        ck_assert_double_eq(attr_number(sec, "data-uptime-seconds"), uptime);
        ck_assert_double_eq_tol(attr_number(sec, "data-exits-per-sec"), exits, 1e-9 * (1 + exits));
        ck_assert_msg(ready > 5, "VM %s: %.2f %% ready with three spinning vCPUs on one host CPU", name, ready);
        text = figure(sec, "ready");
        ck_assert_msg(sscanf(text, "%lf %%", &shown) == 1 && fabs(shown - ready) <= 0.05 + 1e-9,
                      "VM %s: ready shown '%s', the API says %f", name, text, ready);
        free(text);
        text = figure(sec, "exits");
        ck_assert_msg(sscanf(text, "%lf", &shown) == 1 && fabs(shown - exits) <= 0.5, "VM %s: exits/s shown '%s', the API says %f",
                      name, text, exits);
        free(text);
        text = figure(sec, "uptime");
        ck_assert_msg(fabs(duration_text(text) - uptime) <= 1, "VM %s: uptime shown '%s', the API says %f", name, text, uptime);
        free(text);
        text = figure(sec, "sample");
        char want[32];
        snprintf(want, sizeof(want), "%.19s UTC", json_string_value(json_object_get(vm, "sample_time")));
        want[10] = ' ';
        ck_assert_str_eq(text, want);
        free(text);
        free(sec);
        return true;
}

/* where the screenshot goes: $VMSTATD_WEB_SCREENSHOT, else <VMSTATD_BIN's bin/>/../web-screenshot.png */
static void screenshot_path(char *out, size_t size) {
        const char *env = getenv("VMSTATD_WEB_SCREENSHOT");
        char bin[PATH_MAX], dir[PATH_MAX];
        if (env && *env) {
                snprintf(out, size, "%s", env);
                return;
        }
        snprintf(bin, sizeof(bin), "%s", getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd");
        ck_assert_msg(realpath(dirname(dirname(bin)), dir), "the directory above VMSTATD_BIN's: %s", strerror(errno));
        ck_assert_int_lt(snprintf(out, size, "%.*s/web-screenshot.png", PATH_MAX - 32, dir), (int) size);
}

START_TEST(page_shows_what_the_api_shows) {
        struct test_daemon d;
        char url[128];
        if (!start_contended(&d))
                return;
        snprintf(url, sizeof(url), "%s/", d.base);
        bool matched = false;
        for (int attempt = 1; attempt <= 8 && !matched; attempt++) {
                char *log, *dom = chromium(url, 5000, NULL, &log);
                json_t *alpha = test_vm_json(&d, "alpha"), *beta = test_vm_json(&d, "beta");
                ck_assert_ptr_nonnull(alpha);
                ck_assert_ptr_nonnull(beta);
                assert_clean_log(log, url);
                ck_assert_msg(strstr(dom, "<tr data-vm=\"alpha\">") && strstr(dom, "<tr data-vm=\"beta\">"),
                              "the VM list lacks alpha or beta: %s", dom);
                ck_assert_msg(strstr(dom, "<p id=\"status\" class=\"status\" data-sample-time=\""), "no sample time: %s", dom);
                ck_assert_msg(strstr(dom, "href=\"/metrics\""), "no link to /metrics: %s", dom);
                ck_assert_msg(strstr(dom, "id=\"error\" class=\"alert\" role=\"alert\" hidden=\"\""), "an error: %s", dom);
                matched = section_matches(dom, "alpha", alpha) && section_matches(dom, "beta", beta);
                json_decref(alpha);
                json_decref(beta);
                free(dom);
                free(log);
        }
        ck_assert_msg(matched, "in 8 loads the page never showed the sample GET /vms/<name> gave right after");

        char shot[PATH_MAX], *log;
        screenshot_path(shot, sizeof(shot));
        unlink(shot);
        chromium(url, 5000, shot, &log);
        assert_clean_log(log, url);
        ck_assert_msg(access(shot, R_OK) == 0, "no screenshot in %s: %s", shot, log);
        fprintf(stderr, "screenshot: %s\n", shot);
        free(log);
        test_daemon_stop(&d);
}
END_TEST

/* /vms/<name> in a browser is the page on that VM alone; on a VM that does not exist it says
 * so, in the daemon's words. */
START_TEST(page_of_one_vm) {
        struct test_daemon d;
        char url[128], *log;
        if (!start_contended(&d))
                return;
        snprintf(url, sizeof(url), "%s/vms/alpha", d.base);
        char *dom = chromium(url, 3000, NULL, &log);
        assert_clean_log(log, url);
        char *alpha = vm_section(dom, "alpha"), *beta = vm_section(dom, "beta");
        ck_assert_msg(alpha && !beta, "/vms/alpha shows alpha %s, beta %s: %s", alpha ? "yes" : "no", beta ? "yes" : "no", dom);
        ck_assert_uint_eq(occurrences(alpha, "<canvas"), 2 + 2);
        ck_assert_ptr_nonnull(strstr(dom, "<tr data-vm=\"beta\">")); /* the list still has every VM */
        ck_assert_ptr_nonnull(strstr(dom, "<title>alpha · vmstatd</title>"));
        free(alpha);
        free(dom);
        free(log);

        struct test_response r = test_http(&d, "GET", "/vms/nosuch", NULL);
        json_t *err = json_loadb(r.body, r.len, 0, NULL);
        ck_assert_int_eq(r.status, 404);
        char want[256];
        snprintf(want, sizeof(want), "GET /vms/nosuch: 404 %s</p>", json_string_value(json_object_get(err, "error")));
        json_decref(err);
        test_response_free(&r);
        snprintf(url, sizeof(url), "%s/vms/nosuch", d.base);
        dom = chromium(url, 2000, NULL, &log);
        assert_clean_log(log, url);
        char *sec = vm_section(dom, "nosuch");
        ck_assert_msg(sec && strstr(sec, want), "/vms/nosuch does not say '%s': %s", want, dom);
        ck_assert_uint_eq(occurrences(sec, "<canvas"), 0);
        ck_assert_ptr_nonnull(strstr(sec, "No data: see the error above.")); /* text, not a blank chart */
        free(sec);
        free(dom);
        free(log);
        test_daemon_stop(&d);
}
END_TEST

/* ---- a daemon that answers markup --------------------------------------------------------------------- */

struct fake_file {
        char path[64];
        char type[64];
        struct test_response r;
};

struct fake {
        struct fake_file files[N_STATICS + 1];
        size_t n;
};

#define EVIL_NAME "<img src=x id=injected>"
#define EVIL_REASON "<u id=reason>io_out</u>"
#define FAKE_LIST                                                                                                  \
        "{\"vms\": [{\"name\": \"" EVIL_NAME "\", \"state\": \"crashed\", \"vcpus\": 1, \"ready_pct\": 12.5,"      \
        " \"steal_pct\": {\"kvm\": 12.5, \"xen\": 12.5}, \"exits_per_sec\": 3.5, \"uptime_seconds\": 0},"           \
        " {\"name\": \"b<b id=bold2>\", \"state\": \"<i id=state>running</i>\", \"vcpus\": 1, \"ready_pct\": 0,"    \
        " \"steal_pct\": {\"kvm\": 0, \"xen\": 0}, \"exits_per_sec\": 0, \"uptime_seconds\": 5},"                    \
        " {\"name\": \"gone\", \"state\": \"running\", \"vcpus\": 1, \"ready_pct\": 0,"                              \
        " \"steal_pct\": {\"kvm\": 0, \"xen\": 0}, \"exits_per_sec\": 0, \"uptime_seconds\": 5}],"                   \
        " \"sample_time_unix\": 1700000003, \"interval_seconds\": 1}"
#define FAKE_VM                                                                                                        \
        "{\"name\": \"" EVIL_NAME "\", \"id\": 7, \"state\": \"crashed\", \"reason\": \"<b id=r>worker_died</b>\","     \
        " \"signal\": \"<i id=sig>SIGKILL</i>\", \"sample_time_unix\": 1700000003, \"sample_time\":"                   \
        " \"2023-11-14T22:13:23.000Z\", \"interval_seconds\": 1, \"uptime_seconds\": 0, \"ready_pct\": 12.5,"        \
        " \"steal_pct\": {\"kvm\": 12.5, \"xen\": 12.5}, \"vcpus\": [{\"id\": 0, \"exits\": {\"" EVIL_REASON "\": 7}," \
        " \"exits_per_sec\": {\"" EVIL_REASON "\": 3.5}}]}"
#define FAKE_POINT(t)                                                                                            \
        "{\"sample_time_unix\": " #t ", \"ready_pct\": 12.5, \"vcpus\": [{\"interval_seconds\": 1, \"ready_pct\":" \
        " 12.5, \"exits_per_sec\": 3.5, \"runstate_pct\": {\"running\": 50, \"runnable\": 12.5, \"blocked\": 37.5,"  \
        " \"offline\": 0}}]}"
#define FAKE_HISTORY                                                                                       \
        "{\"name\": \"" EVIL_NAME "\", \"points\": [" FAKE_POINT(1700000001) ", " FAKE_POINT(1700000002) ", " \
        FAKE_POINT(1700000003) "]}"
#define FAKE_ERROR "{\"error\": \"<b id=bold>boom</b> & <script>x()</script>\", \"status\": 500}"

static enum MHD_Result fake_answer(struct MHD_Connection *c, unsigned status, const char *body, const char *type,
                                   bool page) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        if (page)
                MHD_add_response_header(resp, "Content-Security-Policy", CSP);
        enum MHD_Result ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* The page and its files as the real daemon served them; markup for everything else: a VM named
 * and crashed in markup, one whose document is an error in markup, one whose connection drops. */
static enum MHD_Result fake_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                    const char *version, const char *data, size_t *size, void **con_cls) {
        const struct fake *f = cls;
        (void) method, (void) version, (void) data, (void) size, (void) con_cls;
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(url, f->files[i].path) == 0) {
                        struct MHD_Response *resp = MHD_create_response_from_buffer(
                                f->files[i].r.len, f->files[i].r.body, MHD_RESPMEM_MUST_COPY);
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->files[i].type);
                        if (strcmp(url, "/") == 0)
                                MHD_add_response_header(resp, "Content-Security-Policy", CSP);
                        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
                        MHD_destroy_response(resp);
                        return ret;
                }
        if (strcmp(url, "/vms") == 0)
                return fake_answer(c, MHD_HTTP_OK, FAKE_LIST, "application/json", false);
        if (strstr(url, "/vms/gone"))
                return MHD_NO; /* the connection closes without an answer */
        if (strstr(url, "injected"))
                return fake_answer(c, MHD_HTTP_OK, strstr(url, "/history") ? FAKE_HISTORY : FAKE_VM, "application/json",
                                   false);
        if (strncmp(url, "/vms/", 5) == 0)
                return fake_answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, FAKE_ERROR, "application/json", false);
        return fake_answer(c, MHD_HTTP_NOT_FOUND, "{\"error\": \"no such route\", \"status\": 404}", "application/json",
                           false);
}

START_TEST(markup_from_the_daemon_stays_text) {
        struct test_daemon d;
        static struct fake f; /* read by the fake's threads until it stops */
        if (!start_default(&d))
                return;
        f.n = 0;
        snprintf(f.files[f.n].path, sizeof(f.files[0].path), "/");
        snprintf(f.files[f.n].type, sizeof(f.files[0].type), "text/html; charset=utf-8");
        f.files[f.n++].r = test_http(&d, "GET", "/", NULL);
        for (size_t i = 0; i < N_STATICS; i++, f.n++) {
                snprintf(f.files[f.n].path, sizeof(f.files[0].path), "%s", statics[i][0]);
                snprintf(f.files[f.n].type, sizeof(f.files[0].type), "%s", statics[i][1]);
                f.files[f.n].r = test_http(&d, "GET", statics[i][0], NULL);
                ck_assert_int_eq(f.files[f.n].r.status, 200);
        }
        test_daemon_stop(&d);

        int port = test_free_port();
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct MHD_Daemon *fake = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fake_request, &f,
                                                   MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
        ck_assert_ptr_nonnull(fake);
        char url[64], *log;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
        char *dom = chromium(url, 2000, NULL, &log);
        MHD_stop_daemon(fake);
        assert_clean_log(log, url);
        /* no element came from the daemon's strings */
        const char *ids[] = { "injected", "bold", "bold2", "r", "sig", "reason", "state" };
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
                char needle[32];
                snprintf(needle, sizeof(needle), "id=\"%s\"", ids[i]);
                ck_assert_msg(!strstr(dom, needle), "the page made an element of the daemon's %s: %s", needle, dom);
        }
        ck_assert_msg(!strstr(dom, "<script>x()"), "a script element from an error message: %s", dom);
        /* and shows them as text: a name, a crash, an exit reason (uPlot's legend), errors */
        const char *texts[] = {
                ">&lt;img src=x id=injected&gt;</a>",
                "crashed: &lt;b id=r&gt;worker_died&lt;/b&gt; (&lt;i id=sig&gt;SIGKILL&lt;/i&gt;)",
                "&lt;u id=reason&gt;io_out&lt;/u&gt;",
                "500 &lt;b id=bold&gt;boom&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;",
                ">&lt;i id=state&gt;running&lt;/i&gt;</span>",
                "cannot reach vmstatd (GET /vms/gone): ",
        };
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
                ck_assert_msg(strstr(dom, texts[i]), "the page does not show '%s' as text: %s", texts[i], dom);
        ck_assert_uint_eq(occurrences(dom, "<canvas"), 3); /* the crashed VM's history still drawn */
        free(dom);
        free(log);
        for (size_t i = 0; i < f.n; i++)
                test_response_free(&f.files[i].r);
}
END_TEST

/* ---- over plain HTTP ------------------------------------------------------------------------------------ */

static void assert_header(const struct test_response *r, const char *name, const char *want) {
        char *v = test_header(r, name);
        ck_assert_msg(v && strcmp(v, want) == 0, "%s: '%s', expected '%s'", name, v ? v : "(none)", want);
        free(v);
}

/* an inline event handler: " on<letters>=" inside a tag */
static bool has_handler(const char *html) {
        for (const char *p = html; (p = strstr(p, " on")); p += 3) {
                const char *q = p + 3;
                while (isalpha((unsigned char) *q))
                        q++;
                if (q > p + 3 && *q == '=')
                        return true;
        }
        return false;
}

START_TEST(page_and_files_over_http) {
        struct test_daemon d;
        if (!start_default(&d))
                return;
        /* the page: at /, and at /vms/<name> for a browser; curl and JSON clients get JSON there */
        const char *browser[] = { ACCEPT_BROWSER, NULL }, *json[] = { "Accept: application/json", NULL };
        const char *paths[] = { "/", "/vms/b13" };
        for (size_t i = 0; i < 2; i++) {
                struct test_response r = test_http(&d, "GET", paths[i], browser);
                ck_assert_int_eq(r.status, 200);
                assert_header(&r, "Content-Type", "text/html; charset=utf-8");
                assert_header(&r, "Content-Security-Policy", CSP);
                assert_header(&r, "X-Content-Type-Options", "nosniff");
                assert_header(&r, "Cache-Control", "no-cache");
                ck_assert_ptr_nonnull(strstr(r.body, "<script src=\"/static/app.js\" defer></script>"));
                ck_assert_ptr_nonnull(strstr(r.body, "href=\"/metrics\""));
                /* nothing inline for the CSP to refuse */
                ck_assert_uint_eq(occurrences(r.body, "<script"), occurrences(r.body, "<script src=\"/static/"));
                ck_assert_ptr_null(strstr(r.body, " style="));
                ck_assert_ptr_null(strstr(r.body, "<style"));
                ck_assert(!has_handler(r.body));
                test_response_free(&r);
        }
        struct test_response r = test_http(&d, "HEAD", "/", NULL);
        ck_assert_int_eq(r.status, 200);
        assert_header(&r, "Content-Security-Policy", CSP);
        test_response_free(&r);
        for (int i = 0; i < 2; i++) {
                r = test_http(&d, "GET", "/vms/b13", i ? json : NULL); /* curl's Accept: * / * */
                ck_assert_int_eq(r.status, 200);
                assert_header(&r, "Content-Type", "application/json");
                assert_header(&r, "Vary", "Accept");
                assert_header(&r, "X-Content-Type-Options", "nosniff");
                json_t *j = json_loadb(r.body, r.len, 0, NULL);
                ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "b13");
                json_decref(j);
                test_response_free(&r);
        }
        /* its files: their types, an ETag to revalidate with, gzip of the same bytes */
        for (size_t i = 0; i < N_STATICS; i++) {
                r = test_http(&d, "GET", statics[i][0], NULL);
                ck_assert_msg(r.status == 200 && r.len > 100, "GET %s: %ld, %zu bytes", statics[i][0], r.status, r.len);
                assert_header(&r, "Content-Type", statics[i][1]);
                assert_header(&r, "Cache-Control", "no-cache");
                assert_header(&r, "X-Content-Type-Options", "nosniff");
                char *etag = test_header(&r, "ETag"), inm[128], *enc = test_header(&r, "Content-Encoding");
                ck_assert_msg(etag && etag[0] == '"', "GET %s: ETag %s", statics[i][0], etag ? etag : "(none)");
                ck_assert_ptr_null(enc);
                snprintf(inm, sizeof(inm), "If-None-Match: \"x\", %s", etag);
                const char *revalidate[] = { inm, NULL }, *gz[] = { "Accept-Encoding: gzip", NULL };
                struct test_response again = test_http(&d, "GET", statics[i][0], revalidate);
                ck_assert_int_eq(again.status, 304);
                ck_assert_uint_eq(again.len, 0);
                test_response_free(&again);
                struct test_response z = test_http(&d, "GET", statics[i][0], gz);
                ck_assert_int_eq(z.status, 200);
                assert_header(&z, "Content-Encoding", "gzip");
                assert_header(&z, "Content-Type", statics[i][1]);
                char *ztag = test_header(&z, "ETag");
                ck_assert_str_ne(ztag, etag); /* another representation, another tag */
                size_t n;
                char *plain = test_gunzip(z.body, z.len, &n);
                ck_assert_uint_eq(n, r.len);
                ck_assert_int_eq(memcmp(plain, r.body, n), 0);
                free(plain);
                free(ztag);
                free(etag);
                test_response_free(&z);
                test_response_free(&r);
        }
        r = test_http(&d, "GET", "/static/nosuch.js", NULL);
        ck_assert_int_eq(r.status, 404);
        assert_header(&r, "Content-Type", "application/json");
        test_response_free(&r);
        test_daemon_stop(&d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("web");
        TCase *tc = tcase_create("web");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, page_and_files_over_http);
        tcase_add_test(tc, page_shows_what_the_api_shows);
        tcase_add_test(tc, page_of_one_vm);
        tcase_add_test(tc, markup_from_the_daemon_stays_text);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
