/* hvrun: a stand-in for the daemon until the HTTP API lands. Runs VM b13 (2 vCPUs, the demo
 * guest) on the hv executor, samples it every second with the real sampler and prints an
 * esxtop-style line per vCPU. Ctrl-C stops it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "devices/devices.h"
#include "kvm.h"
#include "sampler.h"
#include "vm.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig) {
        (void) sig;
        quit = 1;
}

static double pct(uint64_t part, uint64_t whole) {
        return whole ? 100.0 * (double) part / (double) whole : 0.0;
}

static void print_sample(const struct vs_sample *smp) {
        for (unsigned v = 0; v < smp->n_vms; v++) {
                const struct vs_vm_sample *vm = &smp->vms[v];
                printf("%s: %s, %u vCPUs, ready %.1f%%, resident %.1f MiB of %.0f MiB\n", vm->name,
                       hv_vm_state_name(vm->raw.state), vm->vcpus, 100 * vm->ready_ratio,
                       (double) vm->raw.resident_bytes / (1 << 20), (double) vm->raw.ram_bytes / (1 << 20));
                for (unsigned i = 0; i < vm->vcpus; i++) {
                        const struct vs_vcpu_sample *c = &vm->vcpu[i];
                        printf("  vcpu %u  %%RUN %5.1f  %%RDY %5.1f  %%BLK %5.1f  %%OFF %5.1f  exits/s:", i,
                               pct(c->delta_ns[HV_RS_RUNNING], c->w_ns), pct(c->delta_ns[HV_RS_RUNNABLE], c->w_ns),
                               pct(c->delta_ns[HV_RS_BLOCKED], c->w_ns), pct(c->delta_ns[HV_RS_OFFLINE], c->w_ns));
                        for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                                if (c->exit_rate[e] > 0)
                                        printf(" %s=%.0f", hv_exit_name(e), c->exit_rate[e]);
                        printf("\n");
                }
        }
}

int main(void) {
        char why[HV_WHY_LEN];
        struct hv_kvm *kvm;
        struct hv_vm *vm;
        struct vs_sampler *s;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if ((r = hv_kvm_open(NULL, &kvm, why)) < 0) {
                fprintf(stderr, "hvrun: %s\n", why);
                return 1;
        }
        struct hv_vm_config cfg = { .name = "b13", .vcpus = 2, .ram_bytes = 64 << 20 };
        if ((r = hv_vm_create(kvm, &cfg, &vm)) < 0) {
                fprintf(stderr, "hvrun: creating VM b13: %s\n", strerror(-r));
                return 1;
        }
        struct vs_sampler_config scfg = { .interval_ns = 1000 * 1000000ull };
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                scfg.enable[i] = -1;
        if ((r = vs_sampler_new(&scfg, &s)) < 0 || (r = vs_sampler_add_vm(s, vm)) < 0) {
                fprintf(stderr, "hvrun: sampler: %s\n", strerror(-r));
                return 1;
        }
        if ((r = hv_boot_builtin(vm, &(struct hv_builtin) { .guest = "demo" })) < 0 || (r = hv_vm_start(vm)) < 0) {
                fprintf(stderr, "hvrun: starting VM b13 with builtin:demo: %s\n", strerror(-r));
                return 1;
        }
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        printf("hvrun: VM b13 running builtin:demo on %u vCPUs (Ctrl-C to stop)\n", vm->n_vcpus);

        uint64_t console_seen = 0;
        while (!quit && hv_vm_state(vm) == HV_VM_RUNNING) {
                sleep(1);
                vs_sampler_sample(s);
                uint64_t total = hv_console_total(vm->console);
                if (total != console_seen) {
                        char buf[4096];
                        size_t n = hv_console_tail(vm->console, buf, total - console_seen < sizeof(buf)
                                                                             ? (size_t) (total - console_seen)
                                                                             : sizeof(buf));
                        printf("console: %.*s", (int) n, buf);
                        console_seen = total;
                }
                struct vs_sample *smp = vs_sampler_latest(s);
                print_sample(smp);
                vs_sample_unref(smp);
        }
        hv_vm_stop(vm);
        struct hv_vm_outcome o;
        hv_vm_get_outcome(vm, &o);
        printf("b13: %s (%s)\n%s", hv_vm_state_name(o.state), hv_vm_reason_name(o.reason), o.regs);
        vs_sampler_remove_vm(s, vm);
        vs_sampler_free(s);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
        return 0;
}
