/* An immutable, refcounted sample: what HTTP renders. Published by the sampler with a pointer
 * swap; readers hold a reference and never touch vCPU threads. */
#ifndef VMSTATD_SAMPLE_H
#define VMSTATD_SAMPLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector.h"
#include "runstate.h"

struct vs_collector_result {
        const char *name;
        bool success;
        uint64_t duration_ns;
        char error[CL_ERROR_LEN];
};

/* per-second rates of the remaining counters over the last interval */
struct vs_vcpu_rates {
        double runs, immediate_exits, unhandled_io, unhandled_mmio;       /* executor */
        double timeslices, migrations, voluntary_switches, involuntary_switches; /* sched */
        double guest_instructions, guest_cycles;                          /* perf */
};

struct vs_vcpu_sample {
        uint64_t runstate_ns[HV_RS__COUNT]; /* cumulative, sum == wall time since the vCPU was created */
        uint64_t delta_ns[HV_RS__COUNT];    /* last interval; sum == w_ns exactly */
        uint64_t w_ns;                      /* last interval's wall length */
        double ready_ratio;                 /* runnable / W */
        double steal_kvm_ratio;             /* runnable / W */
        double steal_xen_ratio;             /* (runnable + offline) / W */
        uint64_t exit_delta[HV_EXIT__COUNT]; /* userspace exits in the last interval */
        double exit_rate[HV_EXIT__COUNT];   /* per second over the last interval */
        bool guest_steal_have;              /* the guest's steal grew (or not) over the last interval */
        double guest_steal_ratio;           /* Δ guest steal / W */
        struct vs_vcpu_rates rate;
        double *kvm_rate;                   /* per second, counters only, parallel to raw.kvm; NULL
                                             * when raw.kvm is the previous sample's: all 0 */
};

/* Whether the guest's steal time record gives a number (it registered a valid one, now or before). */
static inline bool vs_guest_steal_known(const struct hv_vcpu_raw *rs) {
        return rs->steal == HV_STEAL_ON || rs->steal == HV_STEAL_OFF;
}

struct vs_vm_sample {
        char name[33];
        uint64_t id;                        /* changes when the VM is re-created (restart) */
        unsigned restarts;                  /* automatic restarts after crashes (supervisor) */
        uint64_t console_dropped_bytes;     /* console bytes that never reached the log (supervisor) */
        uint64_t start_time_ns;             /* CLOCK_REALTIME the VM started, 0 if not yet */
        unsigned vcpus;
        struct cl_vm_raw raw;               /* cumulative inputs of every collector */
        struct vs_vcpu_sample *vcpu;
        uint64_t runstate_ns[HV_RS__COUNT]; /* sums over vCPUs */
        uint64_t delta_ns[HV_RS__COUNT];
        uint64_t w_ns;                      /* sum of the vCPUs' W */
        double ready_ratio, steal_kvm_ratio, steal_xen_ratio;
        double *kvm_rate;
};

/* The daemon's own counters, as the daemon last set them. */
struct vs_daemon_counters {
        uint64_t reloads_success, reloads_failure; /* SIGHUPs handled */
        bool last_reload_failed;
};

struct vs_sample {
        _Atomic unsigned refs;
        uint64_t seq;                       /* 1, 2, ... */
        uint64_t mono_ns, realtime_ns;      /* when it was taken */
        uint64_t interval_ns;               /* since the previous sample (0 for the first) */
        uint64_t duration_ns;               /* how long taking it took */
        unsigned n_collectors;
        struct vs_collector_result collectors[CL_MAX_COLLECTORS];
        struct cl_host_raw host;
        unsigned host_vcpus;
        uint64_t host_delta_ns[HV_RS__COUNT], host_w_ns;
        double host_ready_ratio;
        struct vs_daemon_counters daemon;
        unsigned n_vms;
        struct vs_vm_sample *vms;
};

struct vs_sample *vs_sample_ref(struct vs_sample *s);
void vs_sample_unref(struct vs_sample *s);
const struct vs_vm_sample *vs_sample_find_vm(const struct vs_sample *s, const char *name);
/* The VM with this id (the sampler's, new for each VM it adds), looked for at index hint first. */
const struct vs_vm_sample *vs_sample_find_id(const struct vs_sample *s, uint64_t id, size_t hint);

#endif
