/* Integration tests: the real vmstatd binary, started on a free loopback port, and real HTTP
 * through libcurl. */
#ifndef TEST_DAEMON_HELPER_H
#define TEST_DAEMON_HELPER_H

#include <check.h>

#include "tests/suite.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct test_daemon {
        pid_t pid;
        int port;
        char base[64];      /* http://127.0.0.1:PORT */
        char log_path[64];  /* its stderr */
        char runtime_dir[80]; /* its workers' sockets, unless the test passed --runtime-dir */
};

struct test_response {
        long status;
        char *body;
        size_t len;
        char *headers;      /* raw header block */
        long connects;      /* new connections curl opened for this request */
};

/* Why no daemon can run here (/dev/kvm unusable and VMSTATD_ALLOW_NO_KVM=1), or NULL: for a
 * fixture to hand to its tests' TEST_SKIP. */
const char *test_daemon_unavailable(void);
/* Starts $VMSTATD_BIN (default build/bin/vmstatd) with the given extra arguments
 * (NULL-terminated) on a free port through test_spawn (it dies with the test), waits until
 * /healthz answers 200; fails the test otherwise. Returns false only when
 * test_daemon_unavailable(): then the test's SKIP line is printed and the caller returns. */
bool test_daemon_start(struct test_daemon *d, const char *const *args);
/* What test_daemon_start does before it spawns, for a test that runs the daemon its own way: a
 * free port (d->port, d->base, listen = "127.0.0.1:PORT") and a log in a directory of its own
 * (d->log_path). Then: d->pid = test_spawn(argv, d->log_path). */
void test_daemon_prepare(struct test_daemon *d, char listen[32]);
/* SIGTERM; asserts it exits 0 within 2 s (CLOCK_MONOTONIC) and its log holds no sanitizer
 * report. */
void test_daemon_stop(struct test_daemon *d);
/* SIGHUP, then polls /metrics until vmstatd_config_reloads_total (success + failure) has grown
 * by one: the reload has happened, whatever it took. True if it succeeded, false if it was
 * rejected; fails the test when none is counted within 10 s. */
bool test_daemon_reload(struct test_daemon *d);

/* sd_notify: a datagram socket in NOTIFY_SOCKET for the daemons started after it. Drain
 * appends every message received so far to log, one per line, "|" between its fields; wait
 * drains until log holds needle (true) or timeout_ms pass (false). Close unsets NOTIFY_SOCKET. */
void test_notify_listen(void);
void test_notify_drain(char *log, size_t size);
bool test_notify_wait(char *log, size_t size, const char *needle, unsigned timeout_ms);
void test_notify_close(void);

/* GET (or method) path with extra request headers (NULL-terminated list, may be NULL). */
struct test_response test_http(const struct test_daemon *d, const char *method, const char *path,
                               const char *const *headers);
/* The same over an AF_UNIX socket (the control socket), no extra headers. */
struct test_response test_http_unix(const char *socket, const char *method, const char *path);
void test_response_free(struct test_response *r);
/* Three GETs of url on one curl handle (over unix_socket if non-NULL) answer 200 and reuse the
 * first connection: libmicrohttpd 0.9.75 closes it when the response is queued too early. */
void test_assert_keepalive(const char *url, const char *unix_socket);
/* a gzip member inflated, malloc'd and NUL-terminated (*ret_len without the NUL); fails the test
 * when it is not valid gzip */
char *test_gunzip(const void *data, size_t len, size_t *ret_len);
/* the value of a response header (case-insensitive), malloc'd, or NULL */
char *test_header(const struct test_response *r, const char *name);
int test_free_port(void);
/* The last host CPU this process may run on: where a test pins the vCPUs it makes contend. */
int test_last_cpu(void);
void test_sleep_ms(unsigned ms);
uint64_t test_now_ms(void); /* CLOCK_MONOTONIC */
/* A new config directory with an empty vms.d/ (malloc'd path); files written into it. */
char *test_config_dir(void);
void test_write_vm(const char *dir, const char *name, const char *body);
/* dir/vmstatd.conf, the daemon's own settings ("[daemon]\n...") */
void test_write_daemon_conf(const char *dir, const char *body);
/* GET path and parse its JSON body; NULL unless it answered 200 with valid JSON. */
struct json_t *test_get_json(const struct test_daemon *d, const char *path);
/* GET /vms/<name> as JSON (test_get_json) */
struct json_t *test_vm_json(const struct test_daemon *d, const char *name);
/* userspace exits of a VM's document, every vCPU and reason together */
long long test_exits_total(struct json_t *vm);
/* when the sample a VM's document comes from was taken (sample_time_unix, s) */
double test_sample_time(struct json_t *vm);
/* Waits up to timeout_ms for the daemon's log to hold needle; the log either way (malloc'd). */
char *test_wait_log(const struct test_daemon *d, const char *needle, unsigned timeout_ms);
/* everything f yields until EOF, malloc'd and NUL-terminated */
char *test_read_all(FILE *f);
/* the whole file (fails the test if it cannot be read), malloc'd; and written anew */
char *test_read_file(const char *path);
void test_write_file(const char *path, const char *text);

/* The source tree: $VMSTATD_SRC, else the first directory above this binary that holds
 * tests/suite.h (tests run from anywhere: make check runs them from the tree's root). Fails the
 * test when there is none. test_src_path() is a file in it (malloc'd). */
const char *test_src_dir(void);
char *test_src_path(const char *rel);

/* ---- failures collected, asserted once everything is stopped ------------------------------- */

/* A test that checks many things notes each failure (a line) and asserts them all at the end,
 * after stopping what it started, with whatever log explains them. */
struct test_failures {
        FILE *f;
        char *text;
        size_t len;
        unsigned n;
};
void test_failures_init(struct test_failures *fl);
void test_note_fail(struct test_failures *fl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* closes the list: its text (malloc'd, "" when none), the count stays in fl->n */
char *test_failures_text(struct test_failures *fl);

/* ---- a Prometheus server of our own ---------------------------------------------------------- */

/* `prometheus` from PATH (Debian's 2.42 in CI), through test_spawn: it dies with the test. */
struct test_prom {
        pid_t pid;
        char dir[128];          /* its files: prometheus.yml, anything the config names, data/, log */
        struct test_daemon api; /* only base and port are used: test_http() against Prometheus */
};
/* A directory and a free port; files the configuration refers to go into p->dir. */
void test_prom_init(struct test_prom *p);
/* Writes config as p->dir/prometheus.yml and starts Prometheus on it; waits until /-/ready
 * answers 200 (fails the test with its log when it exits or is not ready within 20 s). */
void test_prom_start(struct test_prom *p, const char *config);
/* false once it has exited (then p->pid is 0) */
bool test_prom_alive(struct test_prom *p);
/* the last 4 KiB of its log, malloc'd */
char *test_prom_log_tail(const struct test_prom *p);
/* SIGTERM (SIGKILL after 10 s), then its directory goes */
void test_prom_stop(struct test_prom *p);
/* GET an API path; the "data" member of a success, or NULL */
struct json_t *test_prom_get(struct test_prom *p, const char *path);
/* the result vector of an instant query at now, or NULL (an error, or not a vector) */
struct json_t *test_prom_query(struct test_prom *p, const char *expr);
/* The same, and on an error its message (malloc'd, NULL on success) in ret_error. */
struct json_t *test_prom_query_error(struct test_prom *p, const char *expr, char **ret_error);
/* the value of a query that returns exactly one series; NAN otherwise */
double test_prom_scalar(struct test_prom *p, const char *expr);
/* how many series a query returns (0 on an error) */
size_t test_prom_count(struct test_prom *p, const char *expr);
/* one series of a result: its value (NAN if none) and a label ("" if absent) */
double test_prom_value(struct json_t *series);
const char *test_prom_label(struct json_t *series, const char *name);

#endif
