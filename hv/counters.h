/* Per-vCPU executor counters. The vCPU thread is the only writer (relaxed load + store, no
 * locked instruction); any thread may read them at any time. Never reset. */
#ifndef HV_COUNTERS_H
#define HV_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

enum hv_exit {
        HV_EXIT_IO_IN,
        HV_EXIT_IO_OUT,
        HV_EXIT_MMIO_READ,
        HV_EXIT_MMIO_WRITE,
        HV_EXIT_HLT,
        HV_EXIT_INTR,
        HV_EXIT_SHUTDOWN,
        HV_EXIT_SYSTEM_EVENT,
        HV_EXIT_INTERNAL_ERROR,
        HV_EXIT_FAIL_ENTRY,
        HV_EXIT_HYPERCALL,
        HV_EXIT_MSR,
        HV_EXIT_DEBUG,
        HV_EXIT_IRQ_WINDOW,
        HV_EXIT_UNKNOWN,
        HV_EXIT__COUNT
};

/* log2 buckets of userspace handling time: bucket i holds [2^i, 2^(i+1)) ns, bucket 0 also
 * holds 0 ns, the last bucket holds everything from 2^(HV_HIST_BUCKETS-1) ns up. */
#define HV_HIST_BUCKETS 32

struct hv_vcpu_counters {
        _Atomic uint64_t runs;            /* KVM_RUN calls */
        _Atomic uint64_t immediate_exits; /* of which returned at once: immediate_exit was set */
        _Atomic uint64_t exits[HV_EXIT__COUNT];
        _Atomic uint64_t unhandled_io;    /* port accesses no device claimed */
        _Atomic uint64_t unhandled_mmio;
        _Atomic uint64_t handle_ns_sum;
        _Atomic uint64_t handle_ns_hist[HV_HIST_BUCKETS];
        /* the same by exit reason (perf kvm stat's view): sum, max and histogram per reason */
        _Atomic uint64_t reason_ns_sum[HV_EXIT__COUNT];
        _Atomic uint64_t reason_ns_max[HV_EXIT__COUNT];
} __attribute__((aligned(64)));

/* The handling histogram by reason (3.75 KiB a vCPU): apart from the counters, which a reader
 * takes every sample, because only who renders histograms (opt-in) reads it. */
struct hv_vcpu_hist {
        _Atomic uint64_t reason_ns_hist[HV_EXIT__COUNT][HV_HIST_BUCKETS];
} __attribute__((aligned(64)));

/* A plain copy for readers. */
struct hv_counters {
        uint64_t runs, immediate_exits;
        uint64_t exits[HV_EXIT__COUNT];
        uint64_t unhandled_io, unhandled_mmio;
        uint64_t handle_ns_sum;
        uint64_t handle_ns_hist[HV_HIST_BUCKETS];
        uint64_t reason_ns_sum[HV_EXIT__COUNT];
        uint64_t reason_ns_max[HV_EXIT__COUNT];
};

/* The per-reason histograms (15 x 32 values): copied only by who renders them (opt-in). */
typedef uint64_t hv_reason_hist[HV_EXIT__COUNT][HV_HIST_BUCKETS];

static inline void hv_counter_add(_Atomic uint64_t *c, uint64_t v) {
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline unsigned hv_hist_bucket(uint64_t ns) {
        unsigned b = ns ? 63 - (unsigned) __builtin_clzll(ns) : 0;
        return b < HV_HIST_BUCKETS ? b : HV_HIST_BUCKETS - 1;
}

const char *hv_exit_name(enum hv_exit e);
void hv_counters_read(const struct hv_vcpu_counters *c, struct hv_counters *ret);
void hv_counters_read_reason_hist(const struct hv_vcpu_hist *h, hv_reason_hist ret);
uint64_t hv_counters_exits_total(const struct hv_counters *c);

#endif
