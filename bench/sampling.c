/* bench/sampling: what sampling costs. 64 VMs x 4 vCPUs whose guests block in HLT with
 * interrupts off, every collector but perf, a full history ring. Prints the sampler's CPU
 * time per vCPU per sample (target <= 5 us) and the process RSS without guest RAM once the
 * history is full (target <= 32 MiB), each as a ratio to its target.
 *   sampling [SAMPLES]             the VMs in this process (hv in-process)
 *   sampling --workers [SAMPLES]   each VM in its vmstatd-vm worker, as the daemon runs them:
 *                                  the CPU of the sampler and of every worker is counted, and
 *                                  each worker's memory without guest RAM (target <= 2 MiB) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "proc.h"
#include "config.h"
#include "kvm.h"
#include "manager.h"
#include "sampler.h"
#include "vm.h"

#define VMS 64
#define VCPUS 4
#define TARGET_US_PER_VCPU 5.0
#define TARGET_RSS_MIB 32.0

static uint64_t rss_bytes(void) {
        unsigned long long size = 0, rss = 0;
        FILE *f = fopen("/proc/self/statm", "re");
        if (f) {
                if (fscanf(f, "%llu %llu", &size, &rss) != 2)
                        rss = 0;
                fclose(f);
        }
        return rss * (uint64_t) sysconf(_SC_PAGESIZE);
}

/* "Key:   N kB" of /proc/<pid>/<file>, in bytes */
static uint64_t proc_kb(pid_t pid, const char *file, const char *key) {
        char path[64], line[256];
        unsigned long long kb = 0;
        size_t len = strlen(key);
        snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
        FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, key, len) == 0 && line[len] == ':') {
                        sscanf(line + len + 1, "%llu", &kb);
                        break;
                }
        if (f)
                fclose(f);
        return kb * 1024;
}

/* The VMs in workers through the supervisor, as the daemon runs them. */
static int run_workers(struct vs_sampler *s, unsigned samples) {
        char err[VS_CONF_ERR_LEN], exe[512], file[32];
        const char *text = "[vm]\nvcpus = 4\nmemory = 8M\nguest = builtin:halt\n";
        struct vs_manager_config mcfg = { 0 };
        struct vs_manager *m;
        struct vs_conf c;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 32);
        exe[n > 0 ? n : 0] = 0;
        if (getenv("VMSTATD_WORKER"))
                snprintf(mcfg.worker_exe, sizeof(mcfg.worker_exe), "%s", getenv("VMSTATD_WORKER"));
        else
                snprintf(mcfg.worker_exe, sizeof(mcfg.worker_exe), "%s/../bin/vmstatd-vm", dirname(exe));
        if (vs_conf_parse_daemon("", 0, &c, err) < 0 || !(c.vms = calloc(VMS, sizeof(*c.vms))))
                return -ENOMEM;
        for (unsigned i = 0; i < VMS; i++) {
                snprintf(file, sizeof(file), "bench%u.vm", i);
                if (vs_conf_parse_vm(file, text, strlen(text), &c, &c.vms[i], err) < 0) {
                        fprintf(stderr, "sampling: %s\n", err);
                        return -EINVAL;
                }
        }
        c.n_vms = VMS;
        int r = vs_manager_new(&mcfg, s, &m);
        uint64_t launch0 = hv_now_ns();
        if (r < 0 || (r = vs_manager_apply(m, &c)) != 0) {
                fprintf(stderr, "sampling: %d VMs did not start (worker %s)\n", r, mcfg.worker_exe);
                return -EIO;
        }
        /* apply returns once each worker said its VM runs: spawn, exec, KVM_CREATE_VM, load, start */
        double launch_ms = (double) (hv_now_ns() - launch0) / 1e6 / VMS;
        usleep(300000);
        pid_t pids[VMS];
        for (unsigned i = 0; i < VMS; i++) {
                snprintf(file, sizeof(file), "bench%u", i);
                pids[i] = hv_vm_pid(vs_manager_vm(m, file));
        }
        uint64_t w0 = 0, w1 = 0;
        for (unsigned i = 0; i < VMS; i++)
                w0 += proc_cpu_ns(pids[i], NULL, NULL);
        double t0 = thread_cpu_us();
        for (unsigned k = 0; k < samples; k++)
                if ((r = vs_sampler_sample(s)) < 0)
                        return r;
        double cpu_us = thread_cpu_us() - t0;
        for (unsigned i = 0; i < VMS; i++)
                w1 += proc_cpu_ns(pids[i], NULL, NULL);
        double worker_us = (double) (w1 - w0) / 1e3;
        struct vs_sample *last = vs_sampler_latest(s);
        uint64_t rss_max = 0, rss_sum = 0, pss_sum = 0;
        for (unsigned i = 0; i < VMS; i++) {
                uint64_t guest = last->vms[i].raw.resident_bytes;
                uint64_t rss = proc_kb(pids[i], "status", "VmRSS") - guest;
                uint64_t pss = proc_kb(pids[i], "smaps_rollup", "Pss") - guest;
                rss_sum += rss;
                pss_sum += pss;
                rss_max = rss > rss_max ? rss : rss_max;
        }
        vs_sample_unref(last);
        double per_vcpu = (cpu_us + worker_us) / samples / (VMS * VCPUS);
        printf("%u VMs x %u vCPUs (halted) in %u vmstatd-vm workers, %u samples\n", VMS, VCPUS, VMS, samples);
        printf("configuration to running guest: %.1f ms per VM (one after the other: spawn, exec, create, load, start)\n",
               launch_ms);
        printf("per sample: sampler %.0f us + workers %.0f us (all their threads; guests halted)\n", cpu_us / samples,
               worker_us / samples);
        printf("per vCPU per sample, both together: %.2f us (target <= %.0f us, ratio %.2f)\n", per_vcpu,
               TARGET_US_PER_VCPU, per_vcpu / TARGET_US_PER_VCPU);
        printf("worker memory without guest RAM: RSS mean %.2f MiB, max %.2f MiB; PSS mean %.2f MiB (target <= 2 MiB, "
               "ratio %.2f by max RSS)\n", (double) rss_sum / VMS / (1 << 20), (double) rss_max / (1 << 20),
               (double) pss_sum / VMS / (1 << 20), (double) rss_max / (1 << 20) / 2.0);
        printf("sampling process RSS (sampler, full history, views): %.1f MiB (target <= %.0f MiB, ratio %.2f)\n",
               (double) rss_bytes() / (1 << 20), TARGET_RSS_MIB, (double) rss_bytes() / (1 << 20) / TARGET_RSS_MIB);
        vs_manager_free(m);
        vs_conf_free(&c);
        return 0;
}

int main(int argc, char **argv) {
        bool workers = argc > 1 && strcmp(argv[1], "--workers") == 0;
        if (workers) {
                argc--;
                argv++;
        }
        unsigned samples = argc > 1 ? (unsigned) atoi(argv[1]) : VS_DEFAULT_HISTORY;
        char why[HV_WHY_LEN];
        struct hv_kvm *kvm;
        struct hv_vm *vms[VMS];
        struct vs_sampler *s;
        int r;

        struct rlimit nofile;
        getrlimit(RLIMIT_NOFILE, &nofile);
        nofile.rlim_cur = nofile.rlim_max; /* 64 VMs x (2 + 2 x 4) fds */
        setrlimit(RLIMIT_NOFILE, &nofile);
        if ((r = hv_kvm_open(NULL, &kvm, why)) < 0) {
                fprintf(stderr, "sampling: %s\n", why);
                return 1;
        }
        struct vs_sampler_config cfg = { .interval_ns = VS_MIN_INTERVAL_NS, .history = VS_DEFAULT_HISTORY };
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                cfg.enable[i] = -1; /* defaults: everything but perf */
        if ((r = vs_sampler_new(&cfg, &s)) < 0) {
                fprintf(stderr, "sampling: sampler: %s\n", strerror(-r));
                return 1;
        }
        if (workers) {
                r = run_workers(s, samples);
                vs_sampler_free(s);
                hv_kvm_free(kvm);
                return r < 0 ? 1 : 0;
        }
        uint64_t rss_before_vms = rss_bytes();
        for (unsigned i = 0; i < VMS; i++) {
                char name[16];
                snprintf(name, sizeof(name), "bench%u", i);
                struct hv_vm_config vc = { .name = name, .vcpus = VCPUS, .ram_bytes = 8 << 20 };
                if ((r = hv_vm_create(kvm, &vc, &vms[i])) < 0 ||
                    (r = hv_boot_builtin(vms[i], &(struct hv_builtin) { .guest = "halt" })) < 0 ||
                    (r = vs_sampler_add_vm(s, vms[i])) < 0 || (r = hv_vm_start(vms[i])) < 0) {
                        fprintf(stderr, "sampling: VM %s: %s\n", name, strerror(-r));
                        return 1;
                }
        }
        usleep(200000);

        double t0 = thread_cpu_us();
        for (unsigned k = 0; k < samples; k++)
                if ((r = vs_sampler_sample(s)) < 0) {
                        fprintf(stderr, "sampling: sample %u: %s\n", k, strerror(-r));
                        return 1;
                }
        double cpu_us = thread_cpu_us() - t0;

        struct vs_sample *last = vs_sampler_latest(s);
        uint64_t guest_resident = 0;
        for (unsigned v = 0; v < last->n_vms; v++)
                guest_resident += last->vms[v].raw.resident_bytes;
        for (unsigned c = 0; c < last->n_collectors; c++)
                printf("collector %-8s success %d  last duration %8.1f us %s\n", last->collectors[c].name,
                       last->collectors[c].success, (double) last->collectors[c].duration_ns / 1e3,
                       last->collectors[c].error);
        uint64_t rss = rss_bytes();
        double per_vcpu = cpu_us / samples / (VMS * VCPUS);
        double rss_mib = (double) (rss - guest_resident) / (1 << 20);
        printf("%u VMs x %u vCPUs (halted), %u samples, history %u\n", VMS, VCPUS, samples, VS_DEFAULT_HISTORY);
        printf("sampler CPU per sample: %.0f us; per vCPU per sample: %.2f us (target <= %.0f us, ratio %.2f)\n",
               cpu_us / samples, per_vcpu, TARGET_US_PER_VCPU, per_vcpu / TARGET_US_PER_VCPU);
        printf("RSS %.1f MiB (before VMs %.1f MiB), guest RAM resident %.1f MiB, RSS without guest RAM %.1f MiB "
               "(target <= %.0f MiB, ratio %.2f)\n",
               (double) rss / (1 << 20), (double) rss_before_vms / (1 << 20), (double) guest_resident / (1 << 20),
               rss_mib, TARGET_RSS_MIB, rss_mib / TARGET_RSS_MIB);
        vs_sample_unref(last);
        for (unsigned i = 0; i < VMS; i++) {
                vs_sampler_remove_vm(s, vms[i]);
                hv_vm_destroy(vms[i]);
        }
        vs_sampler_free(s);
        hv_kvm_free(kvm);
        return 0;
}
