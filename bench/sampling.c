/* bench/sampling: what sampling costs. 64 VMs x 4 vCPUs whose guests block in HLT with
 * interrupts off, every collector but perf, a full history ring. Prints the sampler's CPU
 * time per vCPU per sample (target <= 5 us) and the process RSS without guest RAM once the
 * history is full (target <= 32 MiB), each as a ratio to its target. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "kvm.h"
#include "sampler.h"
#include "vm.h"

#define VMS 64
#define VCPUS 4
#define TARGET_US_PER_VCPU 5.0
#define TARGET_RSS_MIB 32.0

static double thread_cpu_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

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

int main(int argc, char **argv) {
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
