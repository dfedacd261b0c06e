/* The control socket: POST /vms/<name>/{start,stop,pause,resume} over AF_UNIX changes a real
 * VM's state, wrong states are 409, unknown VMs 404, the TCP port answers POST with 405, the
 * socket file is 0660 and replaces a stale one. In-process: vs_http with a real sampler and a
 * real VM, and an action callback that drives the VM the way the supervisor does. The last
 * case runs the same requests against the vmstatd binary and its --control-socket. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "boot/boot.h"
#include "daemon_helper.h"
#include "http.h"
#include "kvm.h"
#include "sampler.h"
#include "vm.h"

struct fixture {
        struct hv_kvm *kvm;
        struct vs_sampler *sampler;
        struct hv_vm *vm;
        struct vs_http *http;
        char dir[64];
        char sock[128];
        char tcp_base[64];
        _Atomic unsigned calls;
};

static struct fixture F;
static bool up;
static char no_kvm[VS_HTTP_WHY_LEN + HV_WHY_LEN + 32]; /* why up is false: the tests skip with it */

static struct hv_vm *new_vm(struct hv_kvm *kvm) {
        struct hv_vm_config cfg = { .name = "b13", .vcpus = 2, .ram_bytes = 16 << 20 };
        struct hv_vm *vm;
        int r = hv_vm_create(kvm, &cfg, &vm);
        ck_assert_msg(r == 0, "hv_vm_create: %s", strerror(-r));
        r = hv_boot_builtin(vm, &(struct hv_builtin) { .guest = "demo" });
        ck_assert_msg(r == 0, "hv_boot_builtin(demo): %s", strerror(-r));
        return vm;
}

/* What the supervisor does for a verb, on the one VM of the fixture; "einval" and "eio" are
 * VMs that fail with those errors. */
static int fake_action(void *opaque, const char *name, const char *verb, char *msg, size_t len) {
        struct fixture *f = opaque;
        atomic_fetch_add(&f->calls, 1);
        if (strcmp(name, "einval") == 0) {
                snprintf(msg, len, "cannot %s einval: its configuration is invalid", verb);
                return -EINVAL;
        }
        if (strcmp(name, "eio") == 0)
                return -EIO; /* and no message: the HTTP layer writes one */
        if (strcmp(name, f->vm->name) != 0) {
                snprintf(msg, len, "no such VM: %s", name);
                return -ENOENT;
        }
        enum hv_vm_state st = hv_vm_state(f->vm);
        bool ended = st == HV_VM_STOPPED || st == HV_VM_CRASHED;
        int r;
        if (strcmp(verb, "pause") == 0) {
                r = hv_vm_pause(f->vm);
        } else if (strcmp(verb, "resume") == 0) {
                r = hv_vm_resume(f->vm);
        } else if (strcmp(verb, "stop") == 0) {
                r = ended ? -EALREADY : hv_vm_stop(f->vm);
        } else if (strcmp(verb, "start") == 0) {
                if (st == HV_VM_RUNNING || st == HV_VM_PAUSED) {
                        r = -EALREADY;
                } else {
                        if (ended) { /* a fresh VM under the same name, as a restart does */
                                vs_sampler_remove_vm(f->sampler, f->vm);
                                hv_vm_destroy(f->vm);
                                f->vm = new_vm(f->kvm);
                                vs_sampler_add_vm(f->sampler, f->vm);
                        }
                        r = hv_vm_start(f->vm);
                }
        } else {
                snprintf(msg, len, "unknown action '%s'", verb);
                return -EINVAL;
        }
        if (r < 0)
                snprintf(msg, len, "cannot %s VM %s: it is %s", verb, name, hv_vm_state_name(st));
        else
                snprintf(msg, len, "VM %s is %s", name, hv_vm_state_name(hv_vm_state(f->vm)));
        return r;
}

static struct vs_http_config http_config(void) {
        static struct vs_listen listen;
        char why[VS_LISTEN_WHY_LEN];
        ck_assert_int_eq(vs_listen_parse("127.0.0.1:0", &listen, why), 0);
        return (struct vs_http_config) { .listen = &listen, .n_listen = 1, .history = 60,
                                         .control_socket = F.sock, .action = fake_action, .opaque = &F };
}

static void setup(void) {
        char why[VS_HTTP_WHY_LEN > HV_WHY_LEN ? VS_HTTP_WHY_LEN : HV_WHY_LEN];
        memset(&F, 0, sizeof(F));
        up = false;
        if (hv_kvm_open(NULL, &F.kvm, why) < 0) {
                const char *allow = getenv("VMSTATD_ALLOW_NO_KVM");
                ck_assert_msg(allow && strcmp(allow, "1") == 0, "needs /dev/kvm: %s", why);
                snprintf(no_kvm, sizeof(no_kvm), "%s (VMSTATD_ALLOW_NO_KVM=1)", why);
                return;
        }
        char *dir = test_mkdtemp("control");
        snprintf(F.dir, sizeof(F.dir), "%s", dir);
        free(dir);
        snprintf(F.sock, sizeof(F.sock), "%s/control.sock", F.dir);
        struct vs_sampler_config scfg = { .interval_ns = VS_MIN_INTERVAL_NS, .history = 60 };
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                scfg.enable[i] = -1;
        ck_assert_int_eq(vs_sampler_new(&scfg, &F.sampler), 0);
        F.vm = new_vm(F.kvm);
        ck_assert_int_eq(vs_sampler_add_vm(F.sampler, F.vm), 0);
        ck_assert_int_eq(hv_vm_start(F.vm), 0);
        ck_assert_int_eq(vs_sampler_sample(F.sampler), 0);
        struct vs_http_config hcfg = http_config();
        mode_t old = umask(077); /* the socket is 0660 whatever the umask */
        int r = vs_http_start(&hcfg, F.sampler, &F.http, why);
        umask(old);
        ck_assert_msg(r == 0, "vs_http_start: %s", why);
        snprintf(F.tcp_base, sizeof(F.tcp_base), "http://127.0.0.1:%d", vs_http_port(F.http));
        up = true;
}

static void teardown(void) {
        if (!F.kvm)
                return;
        vs_http_stop(F.http);
        if (F.vm) {
                hv_vm_stop(F.vm);
                vs_sampler_remove_vm(F.sampler, F.vm);
                hv_vm_destroy(F.vm);
        }
        vs_sampler_free(F.sampler);
        hv_kvm_free(F.kvm);
        rmdir(F.dir);
}

#define REQUIRE_UP()                             \
        do {                                     \
                if (!up)                         \
                        TEST_SKIP("%s", no_kvm); \
        } while (0)

static size_t on_data(char *p, size_t size, size_t n, void *opaque) {
        return fwrite(p, size, n, (FILE *) opaque);
}

/* method path over the unix socket at sock (NULL: the fixture's TCP port); post_empty sends
 * POST with Content-Length: 0 as vmstatctl does, else the method goes bare */
static struct test_response request(const char *sock, const char *method, const char *path, bool post_empty) {
        struct test_response r = { 0 };
        size_t hlen = 0;
        char url[256];
        FILE *body = open_memstream(&r.body, &r.len), *hdr = open_memstream(&r.headers, &hlen);
        CURL *c = curl_easy_init();
        snprintf(url, sizeof(url), "%s%s", sock ? "http://localhost" : F.tcp_base, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (sock)
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
        if (post_empty)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        else
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, hdr);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_cleanup(c);
        fclose(body);
        fclose(hdr);
        return r;
}

static json_t *body_json(const struct test_response *r, const char *what) {
        json_error_t err;
        json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &err);
        ck_assert_msg(j != NULL, "%s: not JSON (%s): '%s'", what, err.text, r->body ? r->body : "");
        return j;
}

/* POST an action on the control socket, assert the status; returns the JSON body */
static json_t *act(const char *sock, const char *vm, const char *verb, long want) {
        char path[128];
        snprintf(path, sizeof(path), "/vms/%s/%s", vm, verb);
        struct test_response r = request(sock, "POST", path, true);
        ck_assert_msg(r.status == want, "POST %s: %ld, expected %ld: %s", path, r.status, want, r.body);
        char *type = test_header(&r, "Content-Type");
        ck_assert_msg(type && strncmp(type, "application/json", 16) == 0, "POST %s: Content-Type %s", path, type);
        free(type);
        json_t *j = body_json(&r, path);
        if (want == 200) {
                ck_assert_str_eq(json_string_value(json_object_get(j, "vm")), vm);
                ck_assert_str_eq(json_string_value(json_object_get(j, "action")), verb);
                ck_assert(json_is_string(json_object_get(j, "state")));
                ck_assert(json_is_string(json_object_get(j, "message")));
        } else {
                ck_assert(json_is_string(json_object_get(j, "error")));
                ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), want);
        }
        test_response_free(&r);
        return j;
}

/* the VM's state as GET /vms/b13 on the control socket shows it after a fresh sample */
static char *state_seen(void) {
        ck_assert_int_eq(vs_sampler_sample(F.sampler), 0);
        struct test_response r = request(F.sock, "GET", "/vms/b13", false);
        ck_assert_msg(r.status == 200, "GET /vms/b13: %ld %s", r.status, r.body);
        json_t *j = body_json(&r, "/vms/b13");
        char *state = strdup(json_string_value(json_object_get(j, "state")));
        json_decref(j);
        test_response_free(&r);
        return state;
}

static void assert_state(const char *want) {
        char *state = state_seen();
        ck_assert_str_eq(state, want);
        free(state);
}

START_TEST(socket_file_is_0660) {
        REQUIRE_UP();
        struct stat st;
        ck_assert_int_eq(lstat(F.sock, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_msg((st.st_mode & 07777) == 0660, "mode %o, expected 0660", st.st_mode & 07777);
        vs_http_stop(F.http);
        F.http = NULL;
        ck_assert_msg(access(F.sock, F_OK) < 0 && errno == ENOENT, "%s still there after stop", F.sock);
}
END_TEST

START_TEST(reads_on_the_control_socket) {
        REQUIRE_UP();
        const char *paths[] = { "/metrics", "/vms", "/vms/b13", "/vms/b13/vcpus/1", "/vms/b13/history", "/" };
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                struct test_response r = request(F.sock, "GET", paths[i], false);
                ck_assert_msg(r.status == 200, "GET %s on the control socket: %ld %s", paths[i], r.status, r.body);
                test_response_free(&r);
        }
        struct test_response h = request(F.sock, "HEAD", "/metrics", false);
        ck_assert_int_eq(h.status, 200);
        test_response_free(&h);
        /* reading an action is told to POST */
        struct test_response g = request(F.sock, "GET", "/vms/b13/pause", false);
        ck_assert_int_eq(g.status, 405);
        char *allow = test_header(&g, "Allow");
        ck_assert_str_eq(allow ? allow : "(none)", "POST");
        free(allow);
        test_response_free(&g);
        ck_assert_uint_eq(atomic_load(&F.calls), 0);
        assert_state("running");
}
END_TEST

/* keep-alive works over AF_UNIX too (libmicrohttpd's accept path differs from TCP's) */
START_TEST(keepalive_on_the_control_socket) {
        REQUIRE_UP();
        test_assert_keepalive("http://localhost/vms/b13", F.sock);
}
END_TEST

START_TEST(pause_resume_stop_start) {
        REQUIRE_UP();
        json_t *j = act(F.sock, "b13", "pause", 200);
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "paused");
        json_decref(j);
        assert_state("paused");

        j = act(F.sock, "b13", "pause", 409); /* pausing a paused VM */
        ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "paused"));
        json_decref(j);

        json_decref(act(F.sock, "b13", "resume", 200));
        assert_state("running");
        json_decref(act(F.sock, "b13", "resume", 409));
        json_decref(act(F.sock, "b13", "start", 409)); /* already running */

        j = act(F.sock, "b13", "stop", 200);
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "stopped");
        json_decref(j);
        assert_state("stopped");
        json_decref(act(F.sock, "b13", "stop", 409));
        json_decref(act(F.sock, "b13", "pause", 409));

        j = act(F.sock, "b13", "start", 200);
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "running");
        json_decref(j);
        assert_state("running");
}
END_TEST

/* a paused VM's vCPUs accumulate offline time and no exits */
START_TEST(paused_vm_runs_no_more) {
        REQUIRE_UP();
        json_decref(act(F.sock, "b13", "pause", 200));
        ck_assert_int_eq(vs_sampler_sample(F.sampler), 0);
        test_sleep_ms(150);
        ck_assert_int_eq(vs_sampler_sample(F.sampler), 0);
        struct test_response r = request(F.sock, "GET", "/vms/b13", false);
        json_t *j = body_json(&r, "/vms/b13");
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "paused");
        json_t *pct = json_object_get(j, "runstate_pct");
        ck_assert_double_eq_tol(json_number_value(json_object_get(pct, "offline")), 100.0, 1e-6);
        json_decref(j);
        test_response_free(&r);
}
END_TEST

START_TEST(errors) {
        REQUIRE_UP();
        json_t *j = act(F.sock, "nosuch", "pause", 404);
        ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "no such VM: nosuch");
        json_decref(j);
        j = act(F.sock, "einval", "start", 400);
        ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "cannot start einval: its configuration is invalid");
        json_decref(j);
        j = act(F.sock, "eio", "stop", 500);
        ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "stop eio: Input/output error");
        json_decref(j);
        unsigned calls = atomic_load(&F.calls);
        json_decref(act(F.sock, "b13", "reboot", 404));  /* no such action */
        json_decref(act(F.sock, "B13", "pause", 404));   /* not a VM name */
        json_decref(act(F.sock, "b13/vcpus/0", "pause", 404));
        ck_assert_uint_eq(atomic_load(&F.calls), calls); /* none of these reached the VMs */
        assert_state("running");
}
END_TEST

START_TEST(tcp_stays_read_only) {
        REQUIRE_UP();
        const char *paths[] = { "/vms/b13/pause", "/vms/b13/stop", "/vms/b13/start", "/vms/b13/resume", "/metrics", "/vms/b13" };
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                for (int bare = 0; bare < 2; bare++) {
                        struct test_response r = request(NULL, "POST", paths[i], !bare);
                        ck_assert_msg(r.status == 405, "POST %s over TCP: %ld %s", paths[i], r.status, r.body);
                        char *allow = test_header(&r, "Allow");
                        ck_assert_str_eq(allow ? allow : "(none)", "GET, HEAD");
                        free(allow);
                        json_t *j = body_json(&r, paths[i]);
                        ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 405);
                        json_decref(j);
                        test_response_free(&r);
                }
        }
        struct test_response g = request(NULL, "GET", "/vms/b13/pause", false);
        ck_assert_int_eq(g.status, 404);
        test_response_free(&g);
        ck_assert_uint_eq(atomic_load(&F.calls), 0);
        assert_state("running");
}
END_TEST

START_TEST(no_action_callback_is_501) {
        REQUIRE_UP();
        vs_http_stop(F.http);
        F.http = NULL;
        struct vs_http_config cfg = { .control_socket = F.sock, .history = 60 }; /* the control socket alone */
        char why[VS_HTTP_WHY_LEN];
        ck_assert_int_eq(vs_http_start(&cfg, F.sampler, &F.http, why), 0);
        ck_assert_int_eq(vs_http_port(F.http), -1);
        json_decref(act(F.sock, "b13", "pause", 501));
        struct test_response r = request(F.sock, "GET", "/vms", false);
        ck_assert_int_eq(r.status, 200);
        test_response_free(&r);
}
END_TEST

static int bind_unix(const char *path, bool listening) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        if (listening)
                ck_assert_int_eq(listen(fd, 1), 0);
        return fd;
}

START_TEST(stale_live_and_foreign_files) {
        REQUIRE_UP();
        vs_http_stop(F.http);
        F.http = NULL;
        struct vs_http_config cfg = http_config();
        char why[VS_HTTP_WHY_LEN];

        close(bind_unix(F.sock, false)); /* a crashed daemon's leftover */
        ck_assert_int_eq(vs_http_start(&cfg, F.sampler, &F.http, why), 0);
        json_decref(act(F.sock, "b13", "pause", 200));

        struct vs_http *second = NULL; /* a second daemon must not steal a live socket */
        int r = vs_http_start(&cfg, F.sampler, &second, why);
        ck_assert_int_eq(r, -EADDRINUSE);
        ck_assert_ptr_nonnull(strstr(why, "another vmstatd is listening"));
        json_decref(act(F.sock, "b13", "resume", 200)); /* still the first one's */
        vs_http_stop(F.http);
        F.http = NULL;

        int live = bind_unix(F.sock, true); /* someone else's live socket stays */
        ck_assert_int_eq(vs_http_start(&cfg, F.sampler, &F.http, why), -EADDRINUSE);
        close(live);
        unlink(F.sock);

        FILE *f = fopen(F.sock, "we"); /* a regular file is not ours to remove */
        fputs("keep me\n", f);
        fclose(f);
        ck_assert_int_eq(vs_http_start(&cfg, F.sampler, &F.http, why), -EEXIST);
        ck_assert_msg(strstr(why, "not a socket"), "why: %s", why);
        struct stat st;
        ck_assert_int_eq(stat(F.sock, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        unlink(F.sock);

        char longpath[200];
        memset(longpath, 'x', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        cfg.control_socket = longpath;
        ck_assert_int_eq(vs_http_start(&cfg, F.sampler, &F.http, why), -ENAMETOOLONG);
        cfg.control_socket = "/nonexistent-dir/control.sock";
        ck_assert_int_eq(vs_http_start(&cfg, F.sampler, &F.http, why), -ENOENT);
        ck_assert_msg(strstr(why, "/nonexistent-dir/control.sock"), "why: %s", why);
}
END_TEST

static char *daemon_state(const char *sock) {
        struct test_response r = request(sock, "GET", "/vms/b13", false);
        json_t *j = body_json(&r, "/vms/b13");
        char *state = strdup(json_string_value(json_object_get(j, "state")));
        json_decref(j);
        test_response_free(&r);
        return state;
}

static void daemon_wait_state(const char *sock, const char *want) {
        char *state = NULL;
        for (int i = 0; i < 50; i++) { /* 200 ms samples: up to 5 s */
                free(state);
                state = daemon_state(sock);
                if (strcmp(state, want) == 0)
                        break;
                test_sleep_ms(100);
        }
        ck_assert_msg(strcmp(state, want) == 0, "GET /vms/b13: state %s, expected %s", state, want);
        free(state);
}

START_TEST(daemon_control_socket) {
        char *dir = test_mkdtemp("ctld"), sock[128];
        snprintf(sock, sizeof(sock), "%s/control.sock", dir);
        const char *args[] = { "--control-socket", sock, NULL };
        struct test_daemon d;
        if (!test_daemon_start(&d, args))
                return;
        struct stat st;
        ck_assert_int_eq(lstat(sock, &st), 0);
        ck_assert_msg(S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0660, "mode %o", st.st_mode & 07777);
        json_decref(act(sock, "b13", "pause", 200));
        daemon_wait_state(sock, "paused");
        json_decref(act(sock, "b13", "pause", 409));
        json_decref(act(sock, "nosuch", "pause", 404));
        json_decref(act(sock, "b13", "resume", 200));
        daemon_wait_state(sock, "running");
        json_decref(act(sock, "b13", "stop", 200));
        daemon_wait_state(sock, "stopped");
        json_decref(act(sock, "b13", "start", 200));
        daemon_wait_state(sock, "running");
        struct test_response r = test_http(&d, "POST", "/vms/b13/pause", NULL);
        ck_assert_int_eq(r.status, 405);
        test_response_free(&r);
        test_daemon_stop(&d);
        ck_assert_msg(access(sock, F_OK) < 0, "%s left behind after SIGTERM", sock);
        rmdir(dir);
        free(dir);
}
END_TEST

int main(void) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        Suite *s = suite_create("control");
        TCase *tc = tcase_create("in-process");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, socket_file_is_0660);
        tcase_add_test(tc, reads_on_the_control_socket);
        tcase_add_test(tc, keepalive_on_the_control_socket);
        tcase_add_test(tc, pause_resume_stop_start);
        tcase_add_test(tc, paused_vm_runs_no_more);
        tcase_add_test(tc, errors);
        tcase_add_test(tc, tcp_stays_read_only);
        tcase_add_test(tc, no_action_callback_is_501);
        tcase_add_test(tc, stale_live_and_foreign_files);
        suite_add_tcase(s, tc);
        TCase *daemon = tcase_create("daemon");
        tcase_set_timeout(daemon, 60);
        tcase_add_test(daemon, daemon_control_socket);
        suite_add_tcase(s, daemon);
        int r = test_run_suite(s);
        curl_global_cleanup();
        return r;
}
