/* The daemon's life: configuration, sd_notify, watchdog, reload, supervision, SIGTERM. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon_helper.h"

static void remove_vm(const char *dir, const char *name) {
        char path[512];
        snprintf(path, sizeof(path), "%s/vms.d/%s.vm", dir, name);
        ck_assert_int_eq(unlink(path), 0);
}

/* whether the VM exists, without keeping its JSON */
static bool vm_exists(struct test_daemon *d, const char *name) {
        char path[64];
        snprintf(path, sizeof(path), "/vms/%s", name);
        json_t *j = test_get_json(d, path);
        json_decref(j);
        return j != NULL;
}

static json_t *vm_json(struct test_daemon *d, const char *name) {
        char path[64];
        snprintf(path, sizeof(path), "/vms/%s", name);
        return test_get_json(d, path);
}

static double num(json_t *j, const char *key) {
        return json_number_value(json_object_get(j, key));
}

static long long exits_io_out(json_t *vm) {
        return json_integer_value(json_object_get(json_object_get(json_array_get(json_object_get(vm, "vcpus"), 0), "exits"), "io_out"));
}

#define DEMO "[vm]\nvcpus = 1\nmemory = 16M\nguest = builtin:demo\n"

/* ---- sd_notify ------------------------------------------------------------------------------------------ */

START_TEST(notify_protocol) {
        static char log[65536];
        struct test_daemon d;
        char *dir = test_config_dir();
        test_write_vm(dir, "b13", "[vm]\nvcpus = 1\nmemory = 16M\nguest = builtin:demo\n");
        const char *args[] = { "--config", dir, NULL };
        log[0] = 0;
        test_notify_listen();
        setenv("WATCHDOG_USEC", "400000", 1); /* pings at least every 200 ms */
        if (!test_daemon_start(&d, args))
                return;
        test_sleep_ms(700);
        test_notify_drain(log, sizeof(log));
        char *ready = strstr(log, "READY=1");
        ck_assert_msg(ready, "no READY=1 in:\n%s", log);
        ck_assert_msg(strstr(log, "STATUS=1 VMs (1 running"), "no STATUS in:\n%s", log);
        unsigned pings = 0;
        for (char *p = log; (p = strstr(p, "WATCHDOG=1")); p++)
                pings++;
        ck_assert_msg(pings >= 2, "%u watchdog pings in 700 ms:\n%s", pings, log);

        /* READY=1 follows the reload; the counter on /metrics may show a moment before it is sent */
        log[0] = 0;
        ck_assert(test_daemon_reload(&d));
        test_notify_wait(log, sizeof(log), "READY=1", 2000);
        char *reloading = strstr(log, "RELOADING=1|MONOTONIC_USEC=");
        ck_assert_msg(reloading && strstr(reloading, "READY=1"), "reload messages out of order:\n%s", log);

        log[0] = 0; /* a rejected reload says why in STATUS */
        test_write_vm(dir, "broken", "[vm]\nmemory = 12X\n");
        ck_assert(!test_daemon_reload(&d));
        const char *rejected = "STATUS=reload rejected, old configuration kept: broken.vm:2: memory: '12X'";
        ck_assert_msg(test_notify_wait(log, sizeof(log), rejected, 2000), "rejected reload status:\n%s", log);

        log[0] = 0;
        test_daemon_stop(&d);
        test_notify_drain(log, sizeof(log));
        ck_assert_msg(strstr(log, "STOPPING=1"), "no STOPPING=1:\n%s", log);
        test_notify_close();
        unsetenv("WATCHDOG_USEC");
        free(dir);
}
END_TEST

/* ---- reload --------------------------------------------------------------------------------------------- */

START_TEST(reload_add_remove_change_keep) {
        struct test_daemon d;
        char *dir = test_config_dir();
        test_write_vm(dir, "keep", DEMO);
        test_write_vm(dir, "gone", DEMO);
        test_write_vm(dir, "change", DEMO);
        const char *args[] = { "--config", dir, NULL };
        if (!test_daemon_start(&d, args))
                return;
        test_sleep_ms(400);
        json_t *keep0 = vm_json(&d, "keep"), *change0 = vm_json(&d, "change");
        ck_assert_ptr_nonnull(keep0);
        ck_assert(vm_exists(&d, "gone"));

        remove_vm(dir, "gone");
        test_write_vm(dir, "change", "[vm]\nvcpus = 2\nmemory = 16M\nguest = builtin:demo\n");
        test_write_vm(dir, "added", DEMO);
        ck_assert(test_daemon_reload(&d));

        json_t *keep1 = vm_json(&d, "keep"), *change1 = vm_json(&d, "change"), *added = vm_json(&d, "added");
        ck_assert_ptr_nonnull(keep1);
        ck_assert_str_eq(json_string_value(json_object_get(keep1, "start_time")),
                         json_string_value(json_object_get(keep0, "start_time")));
        ck_assert_int_eq(num(keep1, "id"), num(keep0, "id"));
        ck_assert_int_gt(exits_io_out(keep1), exits_io_out(keep0)); /* untouched and still running */
        ck_assert(!vm_exists(&d, "gone"));
        ck_assert_uint_eq(json_array_size(json_object_get(change1, "vcpus")), 2);
        ck_assert_int_ne(num(change1, "id"), num(change0, "id"));
        ck_assert_ptr_nonnull(added);
        ck_assert_str_eq(json_string_value(json_object_get(added, "state")), "running");

        /* a bad new configuration is rejected whole */
        test_write_vm(dir, "broken", "[vm]\nmemory = 12X\n");
        remove_vm(dir, "added");
        ck_assert(!test_daemon_reload(&d));
        json_t *still = vm_json(&d, "added"), *keep2 = vm_json(&d, "keep");
        ck_assert_ptr_nonnull(still);
        ck_assert(!vm_exists(&d, "broken"));
        ck_assert_int_eq(num(keep2, "id"), num(keep0, "id"));
        json_decref(keep0);
        json_decref(keep1);
        json_decref(keep2);
        json_decref(change0);
        json_decref(change1);
        json_decref(added);
        json_decref(still);
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

/* ---- supervision ---------------------------------------------------------------------------------------- */

/* vm's state and vCPU 0's io_out exits, asserting it is there */
static long long running_exits(struct test_daemon *d, const char *name) {
        json_t *j = vm_json(d, name);
        ck_assert_msg(j, "GET /vms/%s failed", name);
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "running");
        long long n = exits_io_out(j);
        json_decref(j);
        return n;
}

/* the VM's restarts, once they reach at least want (failing after timeout_ms) */
static long long wait_restarts(struct test_daemon *d, const char *name, long long want, unsigned timeout_ms) {
        for (uint64_t deadline = test_now_ms() + timeout_ms;; test_sleep_ms(50)) {
                json_t *j = vm_json(d, name);
                long long n = j ? (long long) num(j, "restarts") : -1;
                json_decref(j);
                if (n >= want)
                        return n;
                ck_assert_msg(test_now_ms() < deadline, "%s: %lld restarts after %u ms, expected %lld", name, n,
                              timeout_ms, want);
        }
}

START_TEST(crashed_vm_restarts_with_backoff) {
        struct test_daemon d;
        char *dir = test_config_dir();
        test_write_vm(dir, "crashy", "[vm]\nvcpus = 1\nmemory = 16M\nguest = builtin:triplefault\nrestart = on-crash\n");
        test_write_vm(dir, "steady", "[vm]\nvcpus = 1\nmemory = 16M\nguest = builtin:triplefault\n");
        test_write_vm(dir, "neighbour", DEMO); /* runs on, whatever crashy does */
        const char *args[] = { "--config", dir, NULL };
        if (!test_daemon_start(&d, args))
                return;
        uint64_t t0 = test_now_ms();
        /* crash at 0, restart after 1 s, crash, after 2 s more, crash: the neighbour's guest
         * keeps running through the first and the second restart */
        wait_restarts(&d, "crashy", 1, 3000);
        long long first = running_exits(&d, "neighbour");
        wait_restarts(&d, "crashy", 2, 5000);
        long long second = running_exits(&d, "neighbour");
        ck_assert_msg(second > first, "neighbour: io_out %lld after the first restart, %lld after the second", first,
                      second);
        uint64_t elapsed = test_now_ms() - t0;
        if (elapsed < 4500)
                test_sleep_ms((unsigned) (4500 - elapsed));
        json_t *c = vm_json(&d, "crashy"), *s = vm_json(&d, "steady");
        ck_assert_int_ge(num(c, "restarts"), 2);
        ck_assert_int_le(num(c, "restarts"), 3); /* backoff doubles: not one a second */
        ck_assert_int_eq(num(s, "restarts"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(s, "state")), "crashed");
        ck_assert_str_eq(json_string_value(json_object_get(s, "reason")), "shutdown"); /* still served */
        struct test_response m = test_http(&d, "GET", "/metrics", NULL);
        ck_assert_ptr_nonnull(strstr(m.body, "vmstatd_vm_restarts_total{vm=\"crashy\"}"));
        test_response_free(&m);
        json_decref(c);
        json_decref(s);
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

START_TEST(sigterm_with_four_vms) {
        struct test_daemon d;
        char *dir = test_config_dir();
        const char *names[] = { "vm1", "vm2", "vm3", "vm4" };
        for (int i = 0; i < 4; i++)
                test_write_vm(dir, names[i], "[vm]\nvcpus = 2\nmemory = 16M\nguest = builtin:demo\n");
        const char *args[] = { "--config", dir, NULL };
        if (!test_daemon_start(&d, args))
                return;
        test_sleep_ms(300);
        json_t *vms = test_get_json(&d, "/vms");
        ck_assert_uint_eq(json_array_size(json_object_get(vms, "vms")), 4);
        json_decref(vms);
        char task[64];
        snprintf(task, sizeof(task), "/proc/%d/task", d.pid);
        test_daemon_stop(&d); /* exit 0 within 2 s, no sanitizer report */
        ck_assert_int_ne(access(task, F_OK), 0); /* nothing of it is left */
        ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1); /* and it had no children */
        free(dir);
}
END_TEST

/* voluntary context switches of the daemon's main thread: how often its loop woke */
static long main_thread_wakeups(pid_t pid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int) pid, (int) pid);
        FILE *f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        char line[256];
        long n = -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
                        break;
        fclose(f);
        ck_assert_int_ge(n, 0);
        return n;
}

/* With no console log and no adopted worker, the main loop has nothing to do between samples
 * but the supervision tick: over 10 s at a 5 s interval it wakes about 4 times (a supervision
 * and a console tick each interval), not 12 (a console tick every second). */
START_TEST(idle_loop_wakes_per_interval) {
        struct test_daemon d;
        char *dir = test_config_dir();
        test_write_vm(dir, "w1", "[vm]\nvcpus = 1\nmemory = 8M\nguest = builtin:halt\n");
        const char *args[] = { "--config", dir, "--interval", "5s", NULL };
        if (!test_daemon_start(&d, args))
                return;
        test_sleep_ms(1500); /* past the first console tick, 100 ms after start */
        long before = main_thread_wakeups(d.pid);
        test_sleep_ms(10000);
        long woke = main_thread_wakeups(d.pid) - before;
        test_daemon_stop(&d);
        free(dir);
        ck_assert_msg(woke <= 7, "the idle main loop woke %ld times in 10 s at a 5 s interval", woke);
}
END_TEST

/* ---- Linux guests -------------------------------------------------------------------------------------- */

/* A kernel file that is no kernel fails its VM alone: logged with the VM's name, counted as
 * stopped, while the daemon keeps serving and the other VM keeps running. */
START_TEST(linux_bad_kernel_fails_alone) {
        static char log[65536];
        struct test_daemon d;
        char *dir = test_config_dir(), kernel[256], body[1024];
        unsigned char junk[8192];
        snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
        srand((unsigned) getpid());
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (unsigned char) rand();
        FILE *f = fopen(kernel, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
        fclose(f);
        snprintf(body, sizeof(body), "[vm]\nkernel = %s\ninitrd = %s\nrestart = on-crash\n", kernel, kernel);
        test_write_vm(dir, "lnx", body);
        test_write_vm(dir, "ok", DEMO);
        const char *args[] = { "--config", dir, "--interval", "100ms", NULL };
        log[0] = 0;
        test_notify_listen();
        if (!test_daemon_start(&d, args))
                return;
        test_sleep_ms(600);
        test_notify_drain(log, sizeof(log));
        ck_assert_msg(strstr(log, "STATUS=2 VMs (1 running, 0 paused, 0 stopped, 1 crashed)"), "status:\n%s", log);

        json_t *ok = vm_json(&d, "ok"), *lnx = vm_json(&d, "lnx");
        ck_assert_ptr_nonnull(ok);
        ck_assert_str_eq(json_string_value(json_object_get(ok, "state")), "running");
        long long ok_exits = exits_io_out(ok);
        /* it stays visible and says why: never started, crashed(load_error), vCPU offline */
        ck_assert_ptr_nonnull(lnx);
        ck_assert_str_eq(json_string_value(json_object_get(lnx, "state")), "crashed");
        ck_assert_str_eq(json_string_value(json_object_get(lnx, "reason")), "load_error");
        json_t *rs = json_object_get(json_object_get(json_array_get(json_object_get(lnx, "vcpus"), 0), "runstate_pct"), "offline");
        ck_assert_msg(json_number_value(rs) > 99.0, "lnx vCPU 0 offline %.1f %%", json_number_value(rs));
        struct test_response m = test_http(&d, "GET", "/metrics", NULL);
        ck_assert_int_eq(m.status, 200);
        ck_assert_ptr_nonnull(strstr(m.body, "vm=\"ok\""));
        ck_assert_ptr_nonnull(strstr(m.body, "vmstatd_vm_state{vm=\"lnx\",state=\"crashed\"} 1"));
        test_response_free(&m);

        FILE *lf = fopen(d.log_path, "re");
        ck_assert_ptr_nonnull(lf);
        char *text = test_read_all(lf);
        fclose(lf);
        ck_assert_msg(strstr(text, "lnx: loading kernel: "), "daemon log:\n%s", text);
        free(text);
        /* restart = on-crash retries the load after the first backoff (1 s): the file may be fixed.
         * Keep reading the notify socket meanwhile: a full one (10 datagrams) blocks the daemon. */
        for (int i = 0; i < 15; i++) {
                test_sleep_ms(100);
                test_notify_drain(log, sizeof(log));
        }
        ck_assert_int_gt(running_exits(&d, "ok"), ok_exits); /* through the failed retry too */
        lf = fopen(d.log_path, "re");
        ck_assert_ptr_nonnull(lf);
        text = test_read_all(lf);
        fclose(lf);
        ck_assert_msg(strstr(text, "lnx: could not be loaded (loading kernel: ") &&
                      strstr(text, "not a bzImage (no HdrS magic at 0x202) or an ELF vmlinux); retrying in 1 s"),
                      "daemon log:\n%s", text);
        const char *second = strstr(strstr(text, "lnx: loading kernel: ") + 1, "lnx: loading kernel: ");
        ck_assert_msg(second, "no second load attempt:\n%s", text);
        free(text);
        json_decref(ok);
        json_decref(lnx);
        test_daemon_stop(&d);
        test_notify_close();
        unlink(kernel);
        free(dir);
}
END_TEST

static int run(const char *cmd, char *out, size_t size) {
        FILE *p = popen(cmd, "r");
        size_t n = fread(out, 1, size - 1, p);
        out[n] = 0;
        return WEXITSTATUS(pclose(p));
}

START_TEST(check_config_exit_codes) {
        const char *bin = getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd";
        char *dir = test_config_dir(), cmd[1024], out[8192];
        test_write_vm(dir, "web", "[vm]\nvcpus = 2\nmemory = 32M\nguest = builtin:duty duty=30\n");
        snprintf(cmd, sizeof(cmd), "%s --check-config --config %s 2>&1", bin, dir);
        ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
        ck_assert_msg(strstr(out, "web") && strstr(out, "builtin:duty"), "summary: %s", out);
        snprintf(cmd, sizeof(cmd), "%s --check-config --no-config --config %s 2>&1", bin, dir);
        ck_assert_int_eq(run(cmd, out, sizeof(out)), 0); /* make run's mode: the embedded default only */
        ck_assert_msg(strstr(out, "b13") && !strstr(out, "web"), "--no-config summary: %s", out);
        snprintf(cmd, sizeof(cmd), "%s --check-config --config %s 2>&1", bin, dir);
        test_write_vm(dir, "web", "[vm]\nvcpus = 2\nmemory = 32M\nguest = builtin:duty duty=30\ncolour = blue\n");
        ck_assert_int_eq(run(cmd, out, sizeof(out)), 1);
        ck_assert_msg(strstr(out, "web.vm:5") && strstr(out, "colour"), "error: %s", out);
        snprintf(cmd, sizeof(cmd), "%s --check-config --config /nonexistent-vmstatd-test 2>&1", bin);
        ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
        ck_assert_msg(strstr(out, "b13"), "embedded default summary: %s", out);
        snprintf(cmd, sizeof(cmd), "%s --bogus 2>&1", bin);
        ck_assert_int_eq(run(cmd, out, sizeof(out)), 2);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("daemon");
        TCase *tc = tcase_create("daemon");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, notify_protocol);
        tcase_add_test(tc, reload_add_remove_change_keep);
        tcase_add_test(tc, crashed_vm_restarts_with_backoff);
        tcase_add_test(tc, sigterm_with_four_vms);
        tcase_add_test(tc, idle_loop_wakes_per_interval);
        tcase_add_test(tc, check_config_exit_codes);
        tcase_add_test(tc, linux_bad_kernel_fails_alone);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
