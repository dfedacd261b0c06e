/* bench/scrape: what a scrape costs. vmstatd (target: 16 VMs x 4 vCPUs) and node_exporter with
 * its default collectors run side by side (same background load); each is driven by
 * `wrk -c16 -d10s -t2 --latency` on /metrics, plain and with Accept-Encoding: gzip. Prints
 * req/s, p50, p99 and body sizes, and checks the targets: vmstatd >= 10 x node_exporter req/s,
 * vmstatd p99 <= 10 ms. A missed target prints MISSED and still exits 0; the exit status is
 * non-zero only when something could not run.
 *   build/bench/scrape          (vmstatd is found at ../bin/vmstatd or ../vmstatd from here;
 *                                VMSTATD_BIN overrides, VMSTATD_ARGS adds arguments)
 *   SCRAPE_SECONDS=N            wrk duration (default 10)
 *   scrape --vms N --vcpus M    N VMs of M vCPUs instead; at 1,024 vCPUs (--vms 256 --vcpus 4)
 *                               the targets are a big host's: >= 100 x node_exporter's req/s,
 *                               p99 <= 25 ms for the plain body */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http1.h"
#include "proc.h"
#include "wrk.h"
#include <zlib.h>

/* the default run (16 x 4) and the big host's (--vms 256 --vcpus 4: 1,024 vCPUs, issue 14) */
#define TARGET_RATIO 10.0
#define TARGET_P99_MS 10.0
#define BIG_VCPUS 1024
#define BIG_RATIO 100.0
#define BIG_P99_MS 25.0

static unsigned n_vms = 16, n_vcpus = 4;
#define CONNECTIONS "16"
#define THREADS "2"

static char logdir[64];

/* ---- children and the temporary directory ------------------------------------------------------ */

static void cleanup(void) {
        children_kill();
        if (logdir[0]) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", logdir); /* our own mkdtemp directory */
                if (system(cmd) != 0)
                        fprintf(stderr, "scrape: could not remove %s\n", logdir);
                logdir[0] = 0;
        }
}

static void print_log(const char *name) {
        char path[128], buf[2048];
        snprintf(path, sizeof(path), "%s/%s", logdir, name);
        FILE *f = fopen(path, "re");
        if (!f)
                return;
        if (fseek(f, -(long) sizeof(buf) + 1, SEEK_END) < 0)
                rewind(f);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        fclose(f);
        fprintf(stderr, "--- %s (tail):\n%s\n", name, buf);
}

/* ---- one HTTP/1.0 GET (read to the end: no chunked decoding needed) ----------------------------- */

static int http_get(int port, const char *path, bool gzip, struct http1_reply *ret) {
        return http1_request(port, NULL, "GET", path, gzip ? "Accept-Encoding: gzip\r\n" : "", 5, ret);
}

static bool wait_ready(int port, const char *path, unsigned ms) {
        for (unsigned waited = 0; waited < ms; waited += 100) {
                struct http1_reply b;
                int r = http_get(port, path, false, &b);
                int status = b.status;
                http1_reply_free(&b);
                if (r == 0 && status == 200)
                        return true;
                usleep(100000);
        }
        return false;
}

/* size of a gzip body once inflated, -1 if it is not valid gzip */
static long gunzip_len(const struct http1_reply *b) {
        z_stream z = { 0 };
        unsigned char out[65536];
        long total = 0;
        int r;
        if (inflateInit2(&z, 15 + 16) != Z_OK)
                return -1;
        z.next_in = (Bytef *) b->body;
        z.avail_in = (uInt) b->len;
        do {
                z.next_out = out;
                z.avail_out = sizeof(out);
                r = inflate(&z, Z_NO_FLUSH);
                total += (long) (sizeof(out) - z.avail_out);
        } while (r == Z_OK);
        inflateEnd(&z);
        return r == Z_STREAM_END ? total : -1;
}

static unsigned count_series(const struct http1_reply *b) {
        unsigned n = 0;
        for (const char *p = b->body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
                n += *p != '#' && *p != '\n';
        return n;
}

/* ---- wrk --------------------------------------------------------------------------------------- */

static int run_wrk(int port, bool gzip, const char *seconds, struct wrk_report *w) {
        char url[64], duration[16];
        int fd = -1, st;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
        snprintf(duration, sizeof(duration), "%ss", seconds);
        char *plain[] = { "wrk", "-c" CONNECTIONS, "-t" THREADS, "-d", duration, "--latency", url, NULL };
        char *gz[] = { "wrk", "-c" CONNECTIONS, "-t" THREADS, "-d", duration, "--latency",
                       "-H", "Accept-Encoding: gzip", url, NULL };
        pid_t pid = children_spawn_piped(gzip ? gz : plain, &fd);
        if (pid < 0)
                return pid;
        char *out = children_finish_piped(pid, fd, &st);
        int r = -ECHILD;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                wrk_parse(out, w);
                r = w->rps >= 0 && w->p50_ms >= 0 && w->p99_ms >= 0 ? 0 : -EPROTO;
        }
        if (r < 0)
                fprintf(stderr, "scrape: wrk %s failed (status %d):\n%s\n", url, st, out ? out : "");
        free(out);
        return r;
}

/* ---- the two servers ---------------------------------------------------------------------------- */

/* VMs and vCPUs the daemon reports at /vms */
static void count_vms(int port, unsigned *ret_vms, unsigned *ret_vcpus) {
        json_t *j = http1_get_json(port, NULL, "/vms", 5), *vms = json_object_get(j, "vms");
        *ret_vms = (unsigned) json_array_size(vms);
        *ret_vcpus = 0;
        for (size_t i = 0; i < json_array_size(vms); i++) {
                json_t *v = json_object_get(json_array_get(vms, i), "vcpus");
                *ret_vcpus += json_is_integer(v) ? (unsigned) json_integer_value(v) : (unsigned) json_array_size(v);
        }
        json_decref(j);
}

struct server {
        const char *name;
        int port;
        struct wrk_report run[2]; /* [gzip] */
        size_t size[2];
        long inflated;
        unsigned series;
};

/* both bodies back to back (the same sample, most likely), then wrk on each */
static int measure(struct server *s, const char *seconds) {
        int r;
        for (int gz = 0; gz < 2; gz++) {
                struct http1_reply b;
                r = http_get(s->port, "/metrics", gz, &b);
                if (r < 0 || b.status != 200 || (gz && !b.gzip)) {
                        fprintf(stderr, "scrape: GET %s /metrics%s: %s, status %d%s\n", s->name, gz ? " (gzip)" : "",
                                r < 0 ? strerror(-r) : "ok", b.status, gz && r == 0 && !b.gzip ? ", not gzip-encoded" : "");
                        http1_reply_free(&b);
                        return -EIO;
                }
                s->size[gz] = b.len;
                if (gz)
                        s->inflated = gunzip_len(&b);
                else
                        s->series = count_series(&b);
                http1_reply_free(&b);
        }
        for (int gz = 0; gz < 2; gz++) {
                fprintf(stderr, "scrape: wrk on %s /metrics%s for %s s...\n", s->name, gz ? " (gzip)" : "", seconds);
                if ((r = run_wrk(s->port, gz, seconds, &s->run[gz])) < 0)
                        return r;
        }
        return 0;
}

static const char *verdict(bool ok) {
        return ok ? "ok" : "MISSED";
}

static int parse_args(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                char *end;
                unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], &end, 10) : 0;
                bool ok = i + 1 < argc && *argv[i + 1] && !*end && v >= 1;
                if (strcmp(argv[i], "--vms") == 0 && ok && v <= 1024)
                        n_vms = (unsigned) v;
                else if (strcmp(argv[i], "--vcpus") == 0 && ok && v <= 64)
                        n_vcpus = (unsigned) v;
                else {
                        fprintf(stderr, "usage: scrape [--vms N (1..1024)] [--vcpus M (1..64)]\n");
                        return -1;
                }
                i++;
        }
        return 0;
}

int main(int argc, char **argv) {
        char vmstatd[PATH_MAX], listen[64], ne_listen[64];
        const char *seconds = getenv("SCRAPE_SECONDS") ? getenv("SCRAPE_SECONDS") : "10";
        struct server vs = { .name = "vmstatd" }, ne = { .name = "node_exporter" };
        unsigned vms, vcpus;
        int rc = 0;

        static const char *const candidates[] = { "../bin/vmstatd", "../vmstatd", NULL };
        if (parse_args(argc, argv) < 0)
                return 2;
        bool big = n_vms * n_vcpus >= BIG_VCPUS;
        double target_ratio = big ? BIG_RATIO : TARGET_RATIO, target_p99 = big ? BIG_P99_MS : TARGET_P99_MS;
        if (!find_vmstatd(vmstatd, sizeof(vmstatd), candidates)) {
                fprintf(stderr, "scrape: vmstatd not found next to this binary (../bin/vmstatd, ../vmstatd); "
                                "run make all first or set VMSTATD_BIN\n");
                return 2;
        }
        const char *missing = !on_path("wrk") ? "wrk" : !on_path("prometheus-node-exporter") ? "prometheus-node-exporter" : NULL;
        if (missing) {
                fprintf(stderr, "scrape: %s is not installed: apt-get install %s (make bench does it)\n", missing, missing);
                return 2;
        }
        snprintf(logdir, sizeof(logdir), "/tmp/vmstatd-bench-XXXXXX");
        if (!mkdtemp(logdir)) {
                logdir[0] = 0;
                perror("scrape: mkdtemp");
                return 2;
        }
        children_cleanup_at_exit(cleanup);
        signal(SIGPIPE, SIG_IGN);

        /* vmstatd with the target's 16 VMs x 4 vCPUs, halted guests so only serving costs CPU */
        char confdir[300];
        if (halted_vms_config(logdir, "bench", n_vms, n_vcpus, confdir, sizeof(confdir)) < 0)
                return 2;
        vs.port = free_port();
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", vs.port);
        char run[300];
        snprintf(run, sizeof(run), "%s/run", logdir); /* its workers' sockets: never the host's /run/vmstatd */
        char *vargv[32] = { vmstatd, "--listen", listen, "--config", confdir, "--runtime-dir", run };
        size_t vargc = 7;
        char *extra = getenv("VMSTATD_ARGS") ? strdup(getenv("VMSTATD_ARGS")) : NULL, *save = NULL;
        for (char *a = extra ? strtok_r(extra, " ", &save) : NULL; a && vargc < 31; a = strtok_r(NULL, " ", &save))
                vargv[vargc++] = a;
        char log[128];
        snprintf(log, sizeof(log), "%s/vmstatd.log", logdir);
        children_spawn(vargv, log, -1);
        if (!wait_ready(vs.port, "/healthz", 10000)) {
                fprintf(stderr, "scrape: %s did not answer /healthz 200 within 10 s\n", vmstatd);
                print_log("vmstatd.log");
                return 1;
        }
        count_vms(vs.port, &vms, &vcpus);

        ne.port = free_port();
        snprintf(ne_listen, sizeof(ne_listen), "--web.listen-address=127.0.0.1:%d", ne.port);
        char *nargv[] = { "prometheus-node-exporter", ne_listen, NULL };
        snprintf(log, sizeof(log), "%s/node_exporter.log", logdir);
        children_spawn(nargv, log, -1);
        if (!wait_ready(ne.port, "/metrics", 10000)) {
                fprintf(stderr, "scrape: prometheus-node-exporter did not answer /metrics 200 within 10 s\n");
                print_log("node_exporter.log");
                return 1;
        }

        printf("scrape: wrk -c%s -t%s -d%ss --latency on /metrics; both servers run side by side on %ld CPUs\n",
               CONNECTIONS, THREADS, seconds, sysconf(_SC_NPROCESSORS_ONLN));
        if (vms != n_vms || vcpus != n_vms * n_vcpus)
                printf("scrape: NOTE vmstatd runs %u VM(s) with %u vCPU(s) in all, not the target %d x %d: "
                       "check its log; numbers for a smaller /metrics flatter it\n",
                       vms, vcpus, n_vms, n_vcpus);
        fflush(stdout);
        if (measure(&vs, seconds) < 0 || measure(&ne, seconds) < 0) {
                print_log("vmstatd.log");
                print_log("node_exporter.log");
                return 1;
        }

        printf("\n%-14s %-6s %10s %9s %9s %9s %11s %8s\n", "server", "body", "req/s", "p50 ms", "p99 ms", "bytes",
               "requests", "errors");
        const struct server *all[] = { &vs, &ne };
        for (int i = 0; i < 2; i++)
                for (int gz = 0; gz < 2; gz++) {
                        const struct wrk_report *w = &all[i]->run[gz];
                        printf("%-14s %-6s %10.0f %9.3f %9.3f %9zu %11ld %8ld\n", all[i]->name, gz ? "gzip" : "plain",
                               w->rps, w->p50_ms, w->p99_ms, all[i]->size[gz], w->requests,
                               w->non2xx + wrk_socket_errors(w));
                }
        printf("\nbodies: vmstatd %u series (%u VM(s), %u vCPUs), %zu B plain, %zu B gzip (inflates to %ld B); "
               "node_exporter %u series, %zu B plain, %zu B gzip (inflates to %ld B)\n",
               vs.series, vms, vcpus, vs.size[0], vs.size[1], vs.inflated, ne.series, ne.size[0], ne.size[1], ne.inflated);
        printf("\ntargets:\n");
        for (int gz = 0; gz < 2; gz++) {
                double ratio = ne.run[gz].rps > 0 ? vs.run[gz].rps / ne.run[gz].rps : 0;
                printf("  %-5s req/s vmstatd / node_exporter = %7.2f x   (target >= %.0f x)   %s\n", gz ? "gzip" : "plain",
                       ratio, target_ratio, verdict(ratio >= target_ratio));
                printf("  %-5s p99 vmstatd               = %7.3f ms  (target <= %.0f ms)  %s\n", gz ? "gzip" : "plain",
                       vs.run[gz].p99_ms, target_p99, verdict(vs.run[gz].p99_ms <= target_p99));
        }
        for (int i = 0; i < 2; i++)
                for (int gz = 0; gz < 2; gz++)
                        if (all[i]->run[gz].non2xx || wrk_socket_errors(&all[i]->run[gz]))
                                printf("  WARNING %s%s: %ld non-2xx answers, %ld socket errors during the run\n",
                                       all[i]->name, gz ? " (gzip)" : "", all[i]->run[gz].non2xx,
                                       wrk_socket_errors(&all[i]->run[gz]));
        fflush(stdout);
        cleanup();
        free(extra);
        return rc;
}
