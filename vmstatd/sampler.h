/* The sampler: every interval, runs the enabled collectors over every VM, turns raw counters
 * into deltas, runstate splits, ratios and rates, publishes an immutable sample and appends
 * it to a fixed-size history ring per VM. */
#ifndef VMSTATD_SAMPLER_H
#define VMSTATD_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "collector.h"
#include "sample.h"

#define VS_MIN_INTERVAL_NS (100 * 1000000ull)
#define VS_DEFAULT_INTERVAL_NS (5000 * 1000000ull)
#define VS_DEFAULT_HISTORY 720

struct vs_sampler_config {
        uint64_t interval_ns;    /* >= VS_MIN_INTERVAL_NS; 0 = default */
        unsigned history;        /* samples kept per VM; 0 = default */
        bool histograms;         /* also collect what only histograms show (exit handling by reason) */
        /* the kvm collector's stats filter (cl_kvm_filter): regexes, NULL or "" for none; read
         * while the sampler is created, not kept */
        const char *kvm_stats_include, *kvm_stats_exclude;
        /* per registry entry: -1 = its default, 0 = off, 1 = on */
        int enable[CL_MAX_COLLECTORS];
        /* NULL = the global registry (tests substitute their own) */
        const struct collector_ops *const *registry;
        size_t registry_len;
};

/* One interval of one vCPU in the history ring; states in us, their sum == w_us exactly. */
struct vs_hist_vcpu {
        uint32_t w_us;
        uint32_t state_us[HV_RS__COUNT];
        uint32_t exits; /* userspace exits in the interval (saturating) */
};

struct vs_history {
        unsigned n_points, vcpus;
        uint64_t *mono_ns;          /* [n_points] */
        uint64_t *realtime_ns;      /* [n_points] */
        struct vs_hist_vcpu *vcpu;  /* [n_points * vcpus], point-major */
};

struct vs_sampler;

int vs_sampler_new(const struct vs_sampler_config *cfg, struct vs_sampler **ret);
void vs_sampler_free(struct vs_sampler *s);

/* Starts sampling a VM; its accounting starts at the VM's creation. -EEXIST if a VM of that
 * name is sampled already. */
int vs_sampler_add_vm(struct vs_sampler *s, struct hv_vm *vm);
/* An id no VM has had in this sampler, for a VM about to be created: a VM whose shared memory
 * holds an id (hv_shm.id) keeps it when added, so it survives a daemon restart. */
uint64_t vs_sampler_reserve_id(struct vs_sampler *s);
/* What the supervisor knows of a VM beyond hv (shown in its samples). */
struct vs_vm_supervision {
        unsigned restarts;              /* automatic restarts after crashes */
        uint64_t console_dropped_bytes; /* console output that never reached the log */
};
void vs_sampler_set_supervision(struct vs_sampler *s, struct hv_vm *vm, const struct vs_vm_supervision *sv);
/* The daemon's counters, shown from the next sample on. */
void vs_sampler_set_daemon_counters(struct vs_sampler *s, const struct vs_daemon_counters *dc);
/* Stops sampling it; the next sample no longer lists it. */
void vs_sampler_remove_vm(struct vs_sampler *s, struct hv_vm *vm);

/* Takes one sample now and publishes it. */
int vs_sampler_sample(struct vs_sampler *s);
/* Sampling thread on a timer that does not drift (deadlines start + k * interval). */
int vs_sampler_start(struct vs_sampler *s);
void vs_sampler_stop(struct vs_sampler *s);

/* Called after each sample is published, from the thread that took it, with the sample
 * (take a reference to keep it). Set before sampling starts. */
typedef void vs_publish_fn(void *opaque, struct vs_sample *sample);
void vs_sampler_set_publish_hook(struct vs_sampler *s, vs_publish_fn *fn, void *opaque);

/* The latest published sample with a reference the caller drops, or NULL before the first. */
struct vs_sample *vs_sampler_latest(struct vs_sampler *s);
/* A copy of the last `last` history points of a VM (oldest first). -ENOENT for unknown VMs. */
int vs_sampler_history(struct vs_sampler *s, const char *vm, unsigned last, struct vs_history *ret);
void vs_history_release(struct vs_history *h);

uint64_t vs_sampler_interval_ns(const struct vs_sampler *s);
/* The collectors as configured (enabled or not), in registry order. */
const struct collector *vs_sampler_collectors(const struct vs_sampler *s, size_t *ret_n);

#endif
