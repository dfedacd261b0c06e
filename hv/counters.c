#include "counters.h"

static const char *const exit_names[HV_EXIT__COUNT] = {
        [HV_EXIT_IO_IN] = "io_in",
        [HV_EXIT_IO_OUT] = "io_out",
        [HV_EXIT_MMIO_READ] = "mmio_read",
        [HV_EXIT_MMIO_WRITE] = "mmio_write",
        [HV_EXIT_HLT] = "hlt",
        [HV_EXIT_INTR] = "intr",
        [HV_EXIT_SHUTDOWN] = "shutdown",
        [HV_EXIT_SYSTEM_EVENT] = "system_event",
        [HV_EXIT_INTERNAL_ERROR] = "internal_error",
        [HV_EXIT_FAIL_ENTRY] = "fail_entry",
        [HV_EXIT_HYPERCALL] = "hypercall",
        [HV_EXIT_MSR] = "msr",
        [HV_EXIT_DEBUG] = "debug",
        [HV_EXIT_IRQ_WINDOW] = "irq_window",
        [HV_EXIT_UNKNOWN] = "unknown",
};

const char *hv_exit_name(enum hv_exit e) {
        return (unsigned) e < HV_EXIT__COUNT ? exit_names[e] : "invalid";
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void hv_counters_read(const struct hv_vcpu_counters *c, struct hv_counters *ret) {
        ret->runs = LOAD(c->runs);
        ret->immediate_exits = LOAD(c->immediate_exits);
        for (unsigned i = 0; i < HV_EXIT__COUNT; i++)
                ret->exits[i] = LOAD(c->exits[i]);
        ret->unhandled_io = LOAD(c->unhandled_io);
        ret->unhandled_mmio = LOAD(c->unhandled_mmio);
        ret->handle_ns_sum = LOAD(c->handle_ns_sum);
        for (unsigned i = 0; i < HV_HIST_BUCKETS; i++)
                ret->handle_ns_hist[i] = LOAD(c->handle_ns_hist[i]);
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++) {
                ret->reason_ns_sum[e] = LOAD(c->reason_ns_sum[e]);
                ret->reason_ns_max[e] = LOAD(c->reason_ns_max[e]);
        }
}

void hv_counters_read_reason_hist(const struct hv_vcpu_hist *c, hv_reason_hist ret) {
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                for (unsigned i = 0; i < HV_HIST_BUCKETS; i++)
                        ret[e][i] = LOAD(c->reason_ns_hist[e][i]);
}

uint64_t hv_counters_exits_total(const struct hv_counters *c) {
        uint64_t n = 0;
        for (unsigned i = 0; i < HV_EXIT__COUNT; i++)
                n += c->exits[i];
        return n;
}
