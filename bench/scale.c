/* bench/scale: a big host. The real vmstatd with 256 VMs x 4 vCPUs (builtin:halt, 8M each),
 * each in its vmstatd-vm worker. Prints, each as a ratio to its target:
 *   start -> first answer of /healthz, and of /metrics (200)   target <= 1 s
 *   start -> /healthz 200 (every VM launched)    reported
 *   start -> all 256 VMs running (/vms)          target <= 3 s
 *   CPU per vCPU per sample, daemon and workers  target <= 5 us together; measured over
 *     SCALE_SAMPLES samples at the default 5 s interval while a scraper asks for the gzip body
 *     every 15 s, as Prometheus would, after one warm-up scrape (vCPU threads excluded: that
 *     is guest time)
 *   daemon RSS with a full 720-sample history    target <= 32 MiB (no guest RAM lives in the
 *     daemon); the history is filled by a second run at --interval 100ms, scraped (gzip) every
 *     15 s as in the CPU run, and the resident
 *     memory is broken down by mapping (heap, shared memory views, stacks, libraries)
 * A missed target prints MISSED and still exits 0; non-zero only when something could not run.
 *   build/bench/scale                 (VMSTATD_BIN overrides the vmstatd found next to it)
 *   SCALE_VMS=N SCALE_SAMPLES=N       256 and 12 by default (60 s) */
#define _GNU_SOURCE
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http1.h"
#include "proc.h"

#define VCPUS 4
#define TARGET_HEALTHZ_S 1.0
#define TARGET_RUNNING_S 3.0
#define TARGET_US_PER_VCPU 5.0
#define TARGET_RSS_MIB 32.0

static char dir[64];
static unsigned n_vms = 256;

static void cleanup(void) {
        children_kill();
        if (dir[0]) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir); /* our own mkdtemp directory */
                if (system(cmd) != 0)
                        fprintf(stderr, "scale: could not remove %s\n", dir);
                dir[0] = 0;
        }
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint64_t read_u64(const char *path, int field) {
        unsigned long long v[3] = { 0 };
        FILE *f = fopen(path, "re");
        if (f) {
                if (fscanf(f, "%llu %llu %llu", &v[0], &v[1], &v[2]) < field + 1)
                        v[field] = 0;
                fclose(f);
        }
        return v[field];
}

/* whether tid is one of the vCPU thread ids in ctx (a JSON array): guest time, not ours */
static bool is_vcpu(long tid, const void *ctx) {
        for (size_t i = 0; i < json_array_size(ctx); i++)
                if (json_integer_value(json_array_get(ctx, i)) == tid)
                        return true;
        return false;
}

/* VMs listed as running at /vms */
static unsigned running(int port) {
        json_t *j = http1_get_json(port, NULL, "/vms", 10), *vms = json_object_get(j, "vms");
        unsigned n = 0;
        for (size_t i = 0; i < json_array_size(vms); i++)
                n += strcmp(json_string_value(json_object_get(json_array_get(vms, i), "state")) ?: "", "running") == 0;
        json_decref(j);
        return n;
}

struct worker {
        pid_t pid;
        json_t *vcpu_tids;
};

/* every VM's worker pid and vCPU thread ids, from /vms/<name> */
static size_t workers(int port, struct worker *w, size_t max) {
        json_t *j = http1_get_json(port, NULL, "/vms", 10), *vms = json_object_get(j, "vms");
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(vms) && n < max; i++) {
                char path[96];
                snprintf(path, sizeof(path), "/vms/%s", json_string_value(json_object_get(json_array_get(vms, i), "name")));
                json_t *vm = http1_get_json(port, NULL, path, 10), *vcpus = json_object_get(vm, "vcpus");
                w[n] = (struct worker) { .pid = (pid_t) json_integer_value(json_object_get(vm, "worker_pid")),
                                         .vcpu_tids = json_array() };
                for (size_t k = 0; k < json_array_size(vcpus); k++)
                        json_array_append(w[n].vcpu_tids, json_object_get(json_array_get(vcpus, k), "tid"));
                json_decref(vm);
                n += w[n].pid > 0;
        }
        json_decref(j);
        return n;
}

static pid_t start(const char *vmstatd, const char *conf, int port, const char *interval, const char *log) {
        char listen[32], rt[96];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        snprintf(rt, sizeof(rt), "%s/run-%d", dir, port);
        char *argv[] = { (char *) vmstatd, "--config", (char *) conf, "--listen", listen, "--runtime-dir", rt,
                         "--interval", (char *) interval, NULL };
        return children_spawn(argv, log, -1);
}

static void stop(pid_t pid) {
        int st;
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
        children_untrack(pid);
}

static void scrape_gzip(int port) {
        struct http1_reply b;
        http1_request(port, NULL, "GET", "/metrics", "Accept-Encoding: gzip\r\n", 10, &b);
        http1_reply_free(&b);
}

static const char *verdict(double ratio) {
        return ratio <= 1.0 ? "ok" : "MISSED";
}

/* Resident KiB of pid by kind of mapping, from smaps */
static void rss_breakdown(pid_t pid) {
        char path[64], line[512], name[256] = "";
        unsigned long long heap = 0, shm = 0, anon = 0, libs = 0, other = 0, kb;
        snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
        FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f)) {
                unsigned long long a, b;
                if (sscanf(line, "%llx-%llx", &a, &b) == 2) {
                        char *p = line;
                        for (int i = 0; i < 5 && p; i++)
                                p = strchr(p + 1, ' ');
                        snprintf(name, sizeof(name), "%s", p ? p + strspn(p, " ") : "");
                        name[strcspn(name, "\n")] = 0;
                } else if (sscanf(line, "Rss: %llu kB", &kb) == 1) {
                        if (strcmp(name, "[heap]") == 0)
                                heap += kb;
                        else if (strstr(name, "memfd:vmstatd-vm"))
                                shm += kb;
                        else if (!name[0] || strncmp(name, "[stack", 6) == 0)
                                anon += kb;
                        else if (strstr(name, ".so"))
                                libs += kb;
                        else
                                other += kb;
                }
        }
        if (f)
                fclose(f);
        printf("    where it goes: heap %.1f MiB, workers' shared memory (read-only views) %.1f MiB, thread "
               "stacks and other anonymous %.1f MiB, libraries %.1f MiB, the rest %.1f MiB\n",
               heap / 1024.0, shm / 1024.0, anon / 1024.0, libs / 1024.0, other / 1024.0);
}

int main(void) {
        char vmstatd[PATH_MAX], conf[128], log[160];
        unsigned samples = getenv("SCALE_SAMPLES") ? (unsigned) atoi(getenv("SCALE_SAMPLES")) : 12;
        if (getenv("SCALE_VMS"))
                n_vms = (unsigned) atoi(getenv("SCALE_VMS"));
        static const char *const candidates[] = { "../bin/vmstatd", "../vmstatd", NULL };
        if (!find_vmstatd(vmstatd, sizeof(vmstatd), candidates) || n_vms < 1 || n_vms > 1024 || samples < 2) {
                fprintf(stderr, "scale: vmstatd not found next to this binary (run make all, or set VMSTATD_BIN), "
                                "or SCALE_VMS / SCALE_SAMPLES out of range\n");
                return 2;
        }
        snprintf(dir, sizeof(dir), "/tmp/vmstatd-scale-XXXXXX");
        if (!mkdtemp(dir)) {
                dir[0] = 0;
                perror("scale: mkdtemp");
                return 2;
        }
        children_cleanup_at_exit(cleanup);
        signal(SIGPIPE, SIG_IGN);
        if (halted_vms_config(dir, "s", n_vms, VCPUS, conf, sizeof(conf)) < 0)
                return 2;
        unsigned vcpus = n_vms * VCPUS;
        printf("scale: %u VMs x %d vCPUs (builtin:halt, 8M), each in a vmstatd-vm worker, on %ld CPUs\n", n_vms, VCPUS,
               sysconf(_SC_NPROCESSORS_ONLN));
        fflush(stdout);

        /* 1. start */
        int port = free_port();
        snprintf(log, sizeof(log), "%s/vmstatd.log", dir);
        double t0 = now_s(), t_answer = -1, t_metrics = -1, t_healthz = -1, t_running = -1;
        pid_t pid = start(vmstatd, conf, port, "5s", log);
        while (now_s() - t0 < 120 && t_running < 0) {
                if (t_healthz < 0) {
                        struct http1_reply b;
                        if (http1_request(port, NULL, "GET", "/healthz", "", 1, &b) == 0 && b.status) {
                                if (t_answer < 0)
                                        t_answer = now_s() - t0;
                                if (b.status == 200)
                                        t_healthz = now_s() - t0;
                        }
                        http1_reply_free(&b);
                        if (t_metrics < 0 && http1_request(port, NULL, "GET", "/metrics", "", 1, &b) == 0 &&
                            b.status == 200)
                                t_metrics = now_s() - t0;
                        http1_reply_free(&b);
                } else if (running(port) == n_vms) {
                        t_running = now_s() - t0;
                }
                usleep(20000);
        }
        if (t_running < 0) {
                fprintf(stderr, "scale: not all %u VMs running within 120 s (log: %s)\n", n_vms, log);
                return 1;
        }

        /* 2. CPU per sample, after a first sample with every VM running */
        static struct worker w[1024];
        size_t n_w = workers(port, w, 1024);
        /* warm-up: the first scrape of a daemon's life makes its compressor, has no size to
         * reserve from and faults in the code it runs; Prometheus pays that once, not every 15 s */
        scrape_gzip(port);
        sleep(6);
        uint64_t d0 = proc_cpu_ns(pid, NULL, NULL), w0 = 0, d1, w1 = 0;
        for (size_t i = 0; i < n_w; i++)
                w0 += proc_cpu_ns(w[i].pid, is_vcpu, w[i].vcpu_tids);
        double m0 = now_s();
        for (unsigned s = 0; s * 5 < samples * 5; s += 3) { /* a gzip scrape every 15 s */
                scrape_gzip(port);
                unsigned left = samples * 5 - s * 5;
                sleep(left < 15 ? left : 15);
        }
        double window = now_s() - m0;
        d1 = proc_cpu_ns(pid, NULL, NULL);
        for (size_t i = 0; i < n_w; i++)
                w1 += proc_cpu_ns(w[i].pid, is_vcpu, w[i].vcpu_tids);
        double per_sample = window / 5.0;
        double d_us = (double) (d1 - d0) / 1e3 / per_sample / vcpus, w_us = (double) (w1 - w0) / 1e3 / per_sample / vcpus;
        for (size_t i = 0; i < n_w; i++)
                json_decref(w[i].vcpu_tids);
        stop(pid);

        /* 3. memory with a full history: 720 samples at 100 ms */
        port = free_port();
        snprintf(log, sizeof(log), "%s/vmstatd-history.log", dir);
        pid = start(vmstatd, conf, port, "100ms", log);
        double h0 = now_s();
        while (now_s() - h0 < 120 && running(port) != n_vms)
                usleep(100000);
        for (int i = 0; i < 5; i++) { /* scraped as Prometheus would, the last scrape's body held */
                sleep(15);
                scrape_gzip(port);
        }
        char status[64];
        snprintf(status, sizeof(status), "/proc/%d/statm", pid);
        double rss_mib = (double) read_u64(status, 1) * (double) sysconf(_SC_PAGESIZE) / (1 << 20);

        printf("\n%-52s %10s %10s %7s\n", "", "measured", "target", "ratio");
        printf("%-52s %9.2fs %9.1fs %7.2f  %s\n", "start -> first /healthz answer (503 starting)", t_answer,
               TARGET_HEALTHZ_S, t_answer / TARGET_HEALTHZ_S, verdict(t_answer / TARGET_HEALTHZ_S));
        printf("%-52s %9.2fs %9.1fs %7.2f  %s\n", "start -> /metrics 200", t_metrics, TARGET_HEALTHZ_S,
               t_metrics / TARGET_HEALTHZ_S, verdict(t_metrics / TARGET_HEALTHZ_S));
        printf("%-52s %9.2fs\n", "start -> /healthz 200 (every VM launched)", t_healthz);
        printf("%-52s %9.2fs %9.1fs %7.2f  %s\n", "start -> every VM running", t_running, TARGET_RUNNING_S,
               t_running / TARGET_RUNNING_S, verdict(t_running / TARGET_RUNNING_S));
        printf("%-52s %8.2fus %10s\n", "CPU per vCPU per sample: daemon", d_us, "");
        printf("%-52s %8.2fus %10s\n", "CPU per vCPU per sample: workers (not vCPU threads)", w_us, "");
        printf("%-52s %8.2fus %8.1fus %7.2f  %s\n", "CPU per vCPU per sample: together", d_us + w_us,
               TARGET_US_PER_VCPU, (d_us + w_us) / TARGET_US_PER_VCPU, verdict((d_us + w_us) / TARGET_US_PER_VCPU));
        printf("%-52s %7.1fMiB %7.1fMiB %7.2f  %s\n", "daemon RSS, 720-sample history", rss_mib, TARGET_RSS_MIB,
               rss_mib / TARGET_RSS_MIB, verdict(rss_mib / TARGET_RSS_MIB));
        rss_breakdown(pid);
        printf("(CPU over %.0f s = %.1f samples with a gzip scrape every 15 s)\n", window, per_sample);
        stop(pid);
        return 0;
}
