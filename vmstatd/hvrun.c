/* hvrun: a stand-in for the daemon until it lands. Runs VM b13 (2 vCPUs, the demo guest) on the
 * hv executor and prints its live counters every second. Ctrl-C stops it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "devices/devices.h"
#include "kvm.h"
#include "vcpu.h"
#include "vm.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig) {
        (void) sig;
        quit = 1;
}

static void print_vcpu(struct hv_vcpu *v, const struct hv_vcpu_raw *prev, const struct hv_counters *prev_c) {
        struct hv_vcpu_raw raw;
        struct hv_counters c;
        hv_vcpu_read_raw(v, &raw);
        hv_vcpu_read_counters(v, &c);
        double wall = (double) (raw.now_ns - prev->now_ns);
        printf("  vcpu %u (tid %d): cpu %5.1f%%  offline %5.1f%%  runs %llu  exits/s:", v->id, raw.tid,
               100.0 * (double) (raw.cpu_ns - prev->cpu_ns) / wall,
               100.0 * (double) (raw.offline_ns - prev->offline_ns) / wall, (unsigned long long) c.runs);
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                if (c.exits[e] != prev_c->exits[e])
                        printf(" %s=%.0f", hv_exit_name(e), (double) (c.exits[e] - prev_c->exits[e]) * 1e9 / wall);
        printf("\n");
}

int main(void) {
        char why[HV_WHY_LEN];
        struct hv_kvm *kvm;
        struct hv_vm *vm;
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
        if ((r = hv_boot_builtin(vm, &(struct hv_builtin) { .guest = "demo" })) < 0 || (r = hv_vm_start(vm)) < 0) {
                fprintf(stderr, "hvrun: starting VM b13 with builtin:demo: %s\n", strerror(-r));
                return 1;
        }
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        printf("hvrun: VM b13 running builtin:demo on %u vCPUs (Ctrl-C to stop)\n", vm->n_vcpus);

        struct hv_vcpu_raw prev[2];
        struct hv_counters prev_c[2];
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                hv_vcpu_read_raw(vm->vcpus[i], &prev[i]);
                hv_vcpu_read_counters(vm->vcpus[i], &prev_c[i]);
        }
        uint64_t console_seen = 0;
        while (!quit && hv_vm_state(vm) == HV_VM_RUNNING) {
                sleep(1);
                uint64_t total = hv_console_total(vm->console);
                if (total != console_seen) {
                        char buf[4096];
                        size_t want = total - console_seen < sizeof(buf) ? (size_t) (total - console_seen) : sizeof(buf);
                        size_t n = hv_console_tail(vm->console, buf, want);
                        printf("console: %.*s", (int) n, buf);
                        console_seen = total;
                }
                printf("b13: %s\n", hv_vm_state_name(hv_vm_state(vm)));
                for (unsigned i = 0; i < vm->n_vcpus; i++) {
                        print_vcpu(vm->vcpus[i], &prev[i], &prev_c[i]);
                        hv_vcpu_read_raw(vm->vcpus[i], &prev[i]);
                        hv_vcpu_read_counters(vm->vcpus[i], &prev_c[i]);
                }
        }
        hv_vm_stop(vm);
        struct hv_vm_outcome o;
        hv_vm_get_outcome(vm, &o);
        printf("b13: %s (%s)\n%s", hv_vm_state_name(o.state), hv_vm_reason_name(o.reason), o.regs);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
        return 0;
}
