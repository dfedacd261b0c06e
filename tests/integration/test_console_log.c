/* A guest flooding its console for 20 s beside b13: the daemon keeps every sample deadline,
 * answers /healthz fast, keeps pinging the watchdog, caps and rotates the flood's log, counts
 * what it drops, and still stops within 2 s of SIGTERM. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon_helper.h"

#define SECONDS 20
#define INTERVAL_MS 500
#define LOG_MAX 8192

static uint64_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

/* the value of one series in a /metrics body, -1 if absent */
static double metric(const char *body, const char *series) {
        const char *p = body;
        size_t n = strlen(series);
        while ((p = strstr(p, series))) {
                if ((p == body || p[-1] == '\n') && p[n] == ' ')
                        return strtod(p + n + 1, NULL);
                p += n;
        }
        return -1;
}

/* Every whole line of the log is one the guest wrote ("cII NNNNNNNNNN"), and each vCPU's line
 * numbers only grow: what is missing was dropped, nothing is garbled or out of order. */
static void assert_lines(const char *path) {
        char *text = test_read_file(path);
        unsigned long last[64] = { 0 }, lines = 0;
        char *save = NULL, *first = strchr(text, '\n'); /* the first line may start mid-line */
        for (char *line = strtok_r(first ? first + 1 : text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned id;
                unsigned long no;
                char tail;
                if (!save || !*save) /* the last line may end mid-line */
                        break;
                ck_assert_msg(strlen(line) == 14 && sscanf(line, "c%2u %10lu%c", &id, &no, &tail) == 2 && id < 64,
                              "%s: '%s' is not a line the guest wrote", path, line);
                ck_assert_msg(no > last[id], "%s: vCPU %u line %lu after %lu", path, id, no, last[id]);
                last[id] = no;
                lines++;
        }
        ck_assert_msg(lines > 0, "%s holds no whole line", path);
        free(text);
}

START_TEST(console_flood_beside_b13) {
        static char notes[1 << 20];
        struct test_daemon d;
        char *dir = test_config_dir(), body[512], logpath[300], rotated[310];
        snprintf(logpath, sizeof(logpath), "%s/flood.log", dir);
        snprintf(rotated, sizeof(rotated), "%s.1", logpath);
        test_write_vm(dir, "b13", "[vm]\nvcpus = 2\nmemory = 16M\nguest = builtin:demo\n");
        snprintf(body, sizeof(body), "[vm]\nvcpus = 2\nmemory = 16M\nguest = builtin:console\nconsole_log = %s\n"
                 "console_log_max = %d\n", logpath, LOG_MAX);
        test_write_vm(dir, "flood", body);
        const char *args[] = { "--config", dir, "--interval", "500ms", NULL };
        test_notify_listen();
        setenv("WATCHDOG_USEC", "1000000", 1); /* a ping at least every 500 ms, or systemd would abort it */
        if (!test_daemon_start(&d, args))
                return;
        unsetenv("WATCHDOG_USEC");

        uint64_t t0 = test_now_ms(), last_ping = t0, worst_gap = 0, worst_health = 0, pings = 0, checks = 0;
        while (test_now_ms() - t0 < SECONDS * 1000) {
                uint64_t a = test_now_ms();
                struct test_response r = test_http(&d, "GET", "/healthz", NULL);
                uint64_t took = test_now_ms() - a;
                ck_assert_msg(r.status == 200, "/healthz answered %ld after %llu s of flood: %s", r.status,
                              (unsigned long long) (a - t0) / 1000, r.body ? r.body : "");
                test_response_free(&r);
                worst_health = took > worst_health ? took : worst_health;
                checks++;
                notes[0] = 0;
                test_notify_drain(notes, sizeof(notes));
                uint64_t now = test_now_ms();
                if (strstr(notes, "WATCHDOG=1")) {
                        for (char *p = notes; (p = strstr(p, "WATCHDOG=1")); p++)
                                pings++;
                        worst_gap = now - last_ping > worst_gap ? now - last_ping : worst_gap;
                        last_ping = now;
                }
                test_sleep_ms(50);
        }
        worst_gap = test_now_ms() - last_ping > worst_gap ? test_now_ms() - last_ping : worst_gap;

        json_t *h = test_get_json(&d, "/vms/b13/history?last=max");
        ck_assert_ptr_nonnull(h);
        json_t *points = json_object_get(h, "points"), *p;
        size_t i;
        double prev = 0, worst_sample = 0;
        json_array_foreach(points, i, p) {
                double t = json_number_value(json_object_get(p, "sample_time_unix"));
                if (i > 0 && t - prev > worst_sample)
                        worst_sample = t - prev;
                prev = t;
        }
        size_t n_points = json_array_size(points);
        json_decref(h);
        struct test_response m = test_http(&d, "GET", "/metrics", NULL);
        double written = metric(m.body, "vmstatd_vm_console_bytes_total{vm=\"flood\"}");
        double dropped = metric(m.body, "vmstatd_vm_console_dropped_bytes_total{vm=\"flood\"}");
        test_response_free(&m);
        fprintf(stderr, "console flood: %.0f KiB written in %d s, %.0f KiB dropped; %llu /healthz, the slowest in %llu ms; "
                "%llu watchdog pings, the longest gap %llu ms; %zu samples, the longest gap %.0f ms (interval %d ms)\n",
                written / 1024, SECONDS, dropped / 1024, (unsigned long long) checks, (unsigned long long) worst_health,
                (unsigned long long) pings, (unsigned long long) worst_gap, n_points, worst_sample * 1000, INTERVAL_MS);
        test_daemon_stop(&d); /* SIGTERM still ends it within 2 s */
        test_notify_close();

        ck_assert_msg(worst_health < 100, "/healthz took %llu ms", (unsigned long long) worst_health);
        ck_assert_msg(worst_gap < 1000, "no watchdog ping for %llu ms", (unsigned long long) worst_gap);
        ck_assert_uint_ge(n_points, SECONDS * 1000 / INTERVAL_MS);
        ck_assert_msg(worst_sample <= INTERVAL_MS * 1.1 / 1000, "samples %.0f ms apart (interval %d ms)",
                      worst_sample * 1000, INTERVAL_MS);
        ck_assert_msg(written > 4 * LOG_MAX, "the flood wrote only %.0f bytes", written);
        ck_assert_msg(dropped > 0, "%.0f bytes written to an %d-byte log per interval, none dropped", written, LOG_MAX);
        ck_assert_uint_le(file_size(logpath), LOG_MAX);
        ck_assert_uint_le(file_size(rotated), LOG_MAX);
        ck_assert_uint_gt(file_size(rotated), 0); /* it rotated */
        assert_lines(logpath);
        assert_lines(rotated);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("console_log");
        TCase *tc = tcase_create("console_log");
        tcase_set_timeout(tc, SECONDS + 40);
        tcase_add_test(tc, console_flood_beside_b13);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
