#define _GNU_SOURCE
#include "daemon_helper.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

int test_last_cpu(void) {
        cpu_set_t set;
        int cpu = -1;
        ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
        for (int i = 0; i < CPU_SETSIZE; i++)
                if (CPU_ISSET(i, &set))
                        cpu = i;
        ck_assert_int_ge(cpu, 0);
        return cpu;
}

int test_free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        close(fd);
        return ntohs(a.sin_port);
}

void test_sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

uint64_t test_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

char *test_read_all(FILE *f) {
        char *buf = NULL, chunk[4096];
        size_t len = 0, n;
        FILE *m = open_memstream(&buf, &len);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, m);
        fclose(m);
        return buf;
}

char *test_read_file(const char *path) {
        FILE *f = fopen(path, "re");
        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        char *buf = test_read_all(f);
        fclose(f);
        return buf;
}

/* a daemon's log, "" when it has written none yet */
static char *slurp(const char *path) {
        return access(path, F_OK) == 0 ? test_read_file(path) : strdup("");
}

const char *test_daemon_unavailable(void) {
        const char *allow = getenv("VMSTATD_ALLOW_NO_KVM");
        if (access("/dev/kvm", R_OK | W_OK) != 0 && allow && strcmp(allow, "1") == 0)
                return "/dev/kvm not usable (VMSTATD_ALLOW_NO_KVM=1)";
        return NULL;
}

void test_daemon_prepare(struct test_daemon *d, char listen[32]) {
        memset(d, 0, sizeof(*d));
        d->port = test_free_port();
        snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d", d->port);
        snprintf(listen, 32, "127.0.0.1:%d", d->port);
        char *logdir = test_mkdtemp("daemon"); /* goes with the suite, the log of a failed start too */
        snprintf(d->log_path, sizeof(d->log_path), "%s/stderr.log", logdir);
        free(logdir);
}

bool test_daemon_start(struct test_daemon *d, const char *const *args) {
        const char *bin = getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd";
        const char *why = test_daemon_unavailable();
        if (why) {
                test_skip("%s", why);
                return false;
        }
        char listen[32];
        test_daemon_prepare(d, listen);
        const char *argv[32] = { bin, "--listen", listen, "--interval", "200ms" };
        size_t n = 5;
        bool has_config = false, has_runtime = false;
        for (size_t i = 0; args && args[i] && n < 31; i++) {
                has_config |= strcmp(args[i], "--config") == 0;
                has_runtime |= strcmp(args[i], "--runtime-dir") == 0;
                argv[n++] = args[i];
        }
        if (!has_config && n < 29) { /* hermetic: the host's /etc/vmstatd stays out of tests */
                argv[n++] = "--config";
                argv[n++] = "/nonexistent-vmstatd-test";
        }
        if (!has_runtime && n < 29) { /* and its /run/vmstatd: workers of their own */
                snprintf(d->runtime_dir, sizeof(d->runtime_dir), "%.*s/run", (int) (strrchr(d->log_path, '/') - d->log_path),
                         d->log_path);
                argv[n++] = "--runtime-dir";
                argv[n++] = d->runtime_dir;
        }
        argv[n] = NULL;
        d->pid = test_spawn(argv, d->log_path);
        for (uint64_t deadline = test_now_ms() + 10000;; test_sleep_ms(50)) {
                struct test_response r = test_http(d, "GET", "/healthz", NULL);
                long status = r.status;
                test_response_free(&r);
                if (status == 200)
                        return true;
                int st;
                if (waitpid(d->pid, &st, WNOHANG) == d->pid)
                        ck_abort_msg("%s exited early (status %d): %s", bin, st, slurp(d->log_path));
                if (test_now_ms() > deadline)
                        break;
        }
        char *log = slurp(d->log_path);
        kill(d->pid, SIGKILL);
        ck_abort_msg("%s did not become healthy on %s within 10 s: %s", bin, d->base, log);
        return false;
}

void test_daemon_stop(struct test_daemon *d) {
        int st = -1;
        uint64_t t0 = test_now_ms(), waited;
        kill(d->pid, SIGTERM);
        while (waitpid(d->pid, &st, WNOHANG) == 0) {
                waited = test_now_ms() - t0;
                if (waited > 2000) {
                        kill(d->pid, SIGKILL);
                        waitpid(d->pid, &st, 0);
                        ck_abort_msg("vmstatd did not exit within 2 s of SIGTERM (%llu ms): %s",
                                     (unsigned long long) waited, slurp(d->log_path));
                }
                test_sleep_ms(10);
        }
        char *log = slurp(d->log_path);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vmstatd exit status %d: %s", st, log);
        ck_assert_msg(!strstr(log, "Sanitizer") && !strstr(log, "runtime error"), "sanitizer report: %s", log);
        free(log);
        unlink(d->log_path);
}

/* the value of the series line "name value" in a Prometheus text body */
static bool series_value(const char *body, const char *name, uint64_t *ret) {
        size_t n = strlen(name);
        for (const char *p = body; p && (p = strstr(p, name)); p += n)
                if ((p == body || p[-1] == '\n') && p[n] == ' ')
                        return sscanf(p + n + 1, "%" SCNu64, ret) == 1;
        return false;
}

/* vmstatd_config_reloads_total{result="success"} and {result="failure"} as /metrics shows them */
static void reload_counts(const struct test_daemon *d, uint64_t *ret_ok, uint64_t *ret_failed) {
        struct test_response r = test_http(d, "GET", "/metrics", NULL);
        ck_assert_msg(r.status == 200, "GET /metrics: %ld", r.status);
        ck_assert_msg(series_value(r.body, "vmstatd_config_reloads_total{result=\"success\"}", ret_ok) &&
                      series_value(r.body, "vmstatd_config_reloads_total{result=\"failure\"}", ret_failed),
                      "/metrics has no vmstatd_config_reloads_total series");
        test_response_free(&r);
}

bool test_daemon_reload(struct test_daemon *d) {
        uint64_t ok0, failed0, ok, failed;
        reload_counts(d, &ok0, &failed0);
        ck_assert_int_eq(kill(d->pid, SIGHUP), 0);
        for (uint64_t t0 = test_now_ms();; test_sleep_ms(20)) {
                reload_counts(d, &ok, &failed);
                if (ok + failed > ok0 + failed0)
                        break;
                ck_assert_msg(test_now_ms() - t0 < 10000, "no reload counted on /metrics within 10 s of SIGHUP: %s",
                              slurp(d->log_path));
        }
        ck_assert_msg(ok + failed == ok0 + failed0 + 1, "one SIGHUP, %llu reloads counted",
                      (unsigned long long) (ok + failed - ok0 - failed0));
        return ok > ok0;
}

/* ---- sd_notify ---------------------------------------------------------------------------------- */

static int notify_fd = -1;
static char notify_path[108];

void test_notify_listen(void) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(notify_path, sizeof(notify_path), "/tmp/vmstatd-notify-%d", getpid());
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", notify_path);
        unlink(notify_path);
        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(notify_fd, 0);
        ck_assert_int_eq(bind(notify_fd, (struct sockaddr *) &a, sizeof(a)), 0);
        setenv("NOTIFY_SOCKET", notify_path, 1);
}

void test_notify_drain(char *log, size_t size) {
        char buf[4096];
        ssize_t n;
        ck_assert_msg(notify_fd >= 0, "test_notify_drain without test_notify_listen");
        while ((n = recv(notify_fd, buf, sizeof(buf) - 1, 0)) > 0) {
                buf[n] = 0;
                for (char *p = buf; *p; p++)
                        if (*p == '\n')
                                *p = '|';
                size_t len = strlen(log);
                if (len + 2 < size)
                        snprintf(log + len, size - len, "%s\n", buf);
        }
}

bool test_notify_wait(char *log, size_t size, const char *needle, unsigned timeout_ms) {
        for (uint64_t deadline = test_now_ms() + timeout_ms;; test_sleep_ms(20)) {
                test_notify_drain(log, size);
                if (strstr(log, needle))
                        return true;
                if (test_now_ms() > deadline)
                        return false;
        }
}

void test_notify_close(void) {
        unsetenv("NOTIFY_SOCKET");
        if (notify_fd >= 0)
                close(notify_fd);
        notify_fd = -1;
        unlink(notify_path);
}

static size_t on_data(char *p, size_t size, size_t n, void *opaque) {
        FILE *m = opaque;
        return fwrite(p, size, n, m);
}

/* method url (over unix_socket if not NULL) with extra request headers */
static struct test_response http_at(const char *url, const char *unix_socket, const char *method,
                                    const char *const *headers) {
        struct test_response r = { 0 };
        size_t hlen = 0;
        FILE *body = open_memstream(&r.body, &r.len), *hdr = open_memstream(&r.headers, &hlen);
        CURL *c = curl_easy_init();
        struct curl_slist *list = NULL;
        for (size_t i = 0; headers && headers[i]; i++)
                list = curl_slist_append(list, headers[i]);
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (unix_socket)
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_socket);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, hdr);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L); /* tests look at the raw bytes */
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r.connects);
        curl_slist_free_all(list);
        curl_easy_cleanup(c);
        fclose(body);
        fclose(hdr);
        return r;
}

struct test_response test_http(const struct test_daemon *d, const char *method, const char *path,
                               const char *const *headers) {
        char url[4096 + 64];
        snprintf(url, sizeof(url), "%s%s", d->base, path);
        return http_at(url, NULL, method, headers);
}

struct test_response test_http_unix(const char *socket, const char *method, const char *path) {
        char url[4096 + 32];
        snprintf(url, sizeof(url), "http://localhost%s", path);
        return http_at(url, socket, method, NULL);
}

static size_t discard(char *p, size_t size, size_t n, void *opaque) {
        (void) p;
        (void) opaque;
        return size * n;
}

void test_assert_keepalive(const char *url, const char *unix_socket) {
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (unix_socket)
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_socket);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        for (int i = 0; i < 3; i++) {
                long connects = -1, status = 0;
                ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
                ck_assert_int_eq(status, 200);
                ck_assert_int_eq(connects, i == 0 ? 1 : 0);
        }
        curl_easy_cleanup(c);
}

void test_response_free(struct test_response *r) {
        free(r->body);
        free(r->headers);
        memset(r, 0, sizeof(*r));
}

char *test_gunzip(const void *data, size_t len, size_t *ret_len) {
        size_t cap = 16 * len + 4096;
        char *out = malloc(cap + 1);
        z_stream z = { .next_in = (Bytef *) data, .avail_in = (uInt) len };
        ck_assert_ptr_nonnull(out);
        ck_assert_int_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
        int r;
        do {
                if (z.total_out == cap) { /* more than it seemed: grow */
                        out = realloc(out, (cap *= 2) + 1);
                        ck_assert_ptr_nonnull(out);
                }
                z.next_out = (Bytef *) out + z.total_out;
                z.avail_out = (uInt) (cap - z.total_out);
                r = inflate(&z, Z_FINISH);
        } while (r == Z_BUF_ERROR && z.avail_out == 0);
        ck_assert_msg(r == Z_STREAM_END, "not a whole gzip member: inflate says %d", r);
        out[z.total_out] = 0;
        *ret_len = z.total_out;
        inflateEnd(&z);
        return out;
}

char *test_header(const struct test_response *r, const char *name) {
        size_t n = strlen(name);
        for (const char *p = r->headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
                if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
                        const char *v = p + n + 1;
                        while (*v == ' ')
                                v++;
                        return strndup(v, strcspn(v, "\r\n"));
                }
        return NULL;
}

char *test_config_dir(void) {
        char *d = test_mkdtemp("conf"), vmsd[256];
        snprintf(vmsd, sizeof(vmsd), "%s/vms.d", d);
        ck_assert_int_eq(mkdir(vmsd, 0755), 0);
        return d;
}

void test_write_file(const char *path, const char *body) {
        FILE *f = fopen(path, "we");
        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        fputs(body, f);
        ck_assert_int_eq(fclose(f), 0);
}

void test_write_vm(const char *dir, const char *name, const char *body) {
        char path[512];
        snprintf(path, sizeof(path), "%s/vms.d/%s.vm", dir, name);
        test_write_file(path, body);
}

void test_write_daemon_conf(const char *dir, const char *body) {
        char path[512];
        snprintf(path, sizeof(path), "%s/vmstatd.conf", dir);
        test_write_file(path, body);
}

json_t *test_get_json(const struct test_daemon *d, const char *path) {
        struct test_response r = test_http(d, "GET", path, NULL);
        json_t *j = r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
        test_response_free(&r);
        return j;
}

json_t *test_vm_json(const struct test_daemon *d, const char *name) {
        char path[64];
        snprintf(path, sizeof(path), "/vms/%s", name);
        return test_get_json(d, path);
}

long long test_exits_total(json_t *vm) {
        long long n = 0;
        json_t *cpu, *v;
        size_t i;
        const char *k;
        json_array_foreach(json_object_get(vm, "vcpus"), i, cpu) json_object_foreach(json_object_get(cpu, "exits"), k, v)
                n += json_integer_value(v);
        return n;
}

double test_sample_time(json_t *vm) {
        return json_number_value(json_object_get(vm, "sample_time_unix"));
}

char *test_wait_log(const struct test_daemon *d, const char *needle, unsigned timeout_ms) {
        for (uint64_t t0 = test_now_ms();; test_sleep_ms(50)) {
                char *text = test_read_file(d->log_path);
                if (strstr(text, needle) || test_now_ms() - t0 > timeout_ms)
                        return text;
                free(text);
        }
}

const char *test_src_dir(void) {
        static char dir[PATH_MAX];
        char probe[PATH_MAX + 32];
        const char *env = getenv("VMSTATD_SRC");
        if (dir[0])
                return dir;
        if (env) {
                ck_assert_msg(realpath(env, dir), "VMSTATD_SRC=%s: %s", env, strerror(errno));
                return dir;
        }
        ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
        ck_assert_msg(n > 0, "/proc/self/exe: %s", strerror(errno));
        dir[n] = 0;
        for (char *slash; (slash = strrchr(dir, '/')) && slash != dir;) {
                *slash = 0;
                snprintf(probe, sizeof(probe), "%s/tests/suite.h", dir);
                if (access(probe, R_OK) == 0)
                        return dir;
        }
        dir[0] = 0;
        ck_abort_msg("no source tree (tests/suite.h) above this binary: set VMSTATD_SRC");
        return NULL;
}

char *test_src_path(const char *rel) {
        char *p;
        ck_assert_int_ge(asprintf(&p, "%s/%s", test_src_dir(), rel), 0);
        return p;
}

/* ---- failures collected ----------------------------------------------------------------------- */

void test_failures_init(struct test_failures *fl) {
        memset(fl, 0, sizeof(*fl));
        fl->f = open_memstream(&fl->text, &fl->len);
        ck_assert_ptr_nonnull(fl->f);
}

void test_note_fail(struct test_failures *fl, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  ", fl->f);
        vfprintf(fl->f, fmt, ap);
        fputc('\n', fl->f);
        va_end(ap);
        fl->n++;
}

char *test_failures_text(struct test_failures *fl) {
        if (fl->f)
                fclose(fl->f);
        fl->f = NULL;
        return fl->text ? fl->text : strdup("");
}

/* ---- a Prometheus server of our own ------------------------------------------------------------ */

#define PROM_READY_MS 20000

void test_prom_init(struct test_prom *p) {
        memset(p, 0, sizeof(*p));
        char *dir = test_mkdtemp("prometheus");
        ck_assert_msg(strlen(dir) < sizeof(p->dir), "%s: path too long", dir);
        snprintf(p->dir, sizeof(p->dir), "%s", dir);
        free(dir);
        p->api.port = test_free_port();
        snprintf(p->api.base, sizeof(p->api.base), "http://127.0.0.1:%d", p->api.port);
}

bool test_prom_alive(struct test_prom *p) {
        int st;
        if (p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid)
                p->pid = 0;
        return p->pid > 0;
}

void test_prom_start(struct test_prom *p, const char *config) {
        char path[sizeof(p->dir) + 32], listen[64], cfg[sizeof(path) + 32], storage[sizeof(p->dir) + 32];
        snprintf(path, sizeof(path), "%s/prometheus.yml", p->dir);
        test_write_file(path, config);
        snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", p->api.port);
        snprintf(cfg, sizeof(cfg), "--config.file=%s", path);
        snprintf(storage, sizeof(storage), "--storage.tsdb.path=%s/data", p->dir);
        snprintf(path, sizeof(path), "%s/prometheus.log", p->dir);
        const char *argv[] = { "prometheus", cfg, storage, listen, NULL };
        p->pid = test_spawn(argv, path); /* never outlives a test that died */
        for (uint64_t t0 = test_now_ms();; test_sleep_ms(100)) {
                struct test_response r = test_http(&p->api, "GET", "/-/ready", NULL);
                long status = r.status;
                test_response_free(&r);
                if (status == 200)
                        return;
                if (!test_prom_alive(p))
                        ck_abort_msg("prometheus exited at start:\n%s", test_prom_log_tail(p));
                if (test_now_ms() - t0 > PROM_READY_MS)
                        ck_abort_msg("prometheus not ready within %d ms:\n%s", PROM_READY_MS, test_prom_log_tail(p));
        }
}

char *test_prom_log_tail(const struct test_prom *p) {
        char path[PATH_MAX], *buf = calloc(1, 4097);
        ck_assert_ptr_nonnull(buf);
        snprintf(path, sizeof(path), "%s/prometheus.log", p->dir);
        FILE *f = fopen(path, "re");
        if (f) {
                if (fseek(f, -4096, SEEK_END) < 0)
                        rewind(f);
                buf[fread(buf, 1, 4096, f)] = 0;
                fclose(f);
        }
        return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

void test_prom_stop(struct test_prom *p) {
        int st;
        if (p->pid > 0) {
                kill(p->pid, SIGTERM);
                for (int i = 0; i < 200 && waitpid(p->pid, &st, WNOHANG) == 0; i++) /* 10 s */
                        test_sleep_ms(50);
                if (kill(p->pid, 0) == 0) {
                        kill(p->pid, SIGKILL);
                        waitpid(p->pid, &st, 0);
                }
                p->pid = 0;
        }
        if (p->dir[0])
                nftw(p->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* GET path: the parsed body when it is JSON with a "status" (Prometheus's errors are too) */
static json_t *prom_get_body(struct test_prom *p, const char *path) {
        struct test_response r = test_http(&p->api, "GET", path, NULL);
        json_t *j = r.status ? json_loadb(r.body, r.len, 0, NULL) : NULL;
        test_response_free(&r);
        if (j && !json_is_string(json_object_get(j, "status"))) {
                json_decref(j);
                j = NULL;
        }
        return j;
}

static bool json_str_is(json_t *s, const char *want) {
        return json_is_string(s) && strcmp(json_string_value(s), want) == 0;
}

static bool prom_success(json_t *body) {
        return json_str_is(json_object_get(body, "status"), "success");
}

json_t *test_prom_get(struct test_prom *p, const char *path) {
        json_t *j = prom_get_body(p, path), *data = prom_success(j) ? json_incref(json_object_get(j, "data")) : NULL;
        json_decref(j);
        return data;
}

json_t *test_prom_query_error(struct test_prom *p, const char *expr, char **ret_error) {
        char *q = curl_easy_escape(NULL, expr, 0), *path;
        ck_assert_ptr_nonnull(q);
        ck_assert_int_ge(asprintf(&path, "/api/v1/query?query=%s", q), 0);
        curl_free(q);
        ck_assert_msg(strlen(path) < 4000, "query too long for a GET: %s", expr);
        json_t *j = prom_get_body(p, path), *data = json_object_get(j, "data");
        free(path);
        json_t *res = prom_success(j) && json_str_is(json_object_get(data, "resultType"), "vector")
                              ? json_incref(json_object_get(data, "result"))
                              : NULL;
        if (ret_error) {
                const char *e = json_string_value(json_object_get(j, "error"));
                *ret_error = res ? NULL : strdup(e ? e : j ? "not a vector" : "no JSON answer");
        }
        json_decref(j);
        return res;
}

json_t *test_prom_query(struct test_prom *p, const char *expr) {
        return test_prom_query_error(p, expr, NULL);
}

double test_prom_value(json_t *series) {
        json_t *v = json_array_get(json_object_get(series, "value"), 1);
        return json_is_string(v) ? strtod(json_string_value(v), NULL) : NAN;
}

double test_prom_scalar(struct test_prom *p, const char *expr) {
        json_t *res = test_prom_query(p, expr);
        double v = res && json_array_size(res) == 1 ? test_prom_value(json_array_get(res, 0)) : NAN;
        json_decref(res);
        return v;
}

size_t test_prom_count(struct test_prom *p, const char *expr) {
        json_t *res = test_prom_query(p, expr);
        size_t n = res ? json_array_size(res) : 0;
        json_decref(res);
        return n;
}

const char *test_prom_label(json_t *series, const char *name) {
        const char *s = json_string_value(json_object_get(json_object_get(series, "metric"), name));
        return s ? s : "";
}
