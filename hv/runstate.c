#include "runstate.h"

#include <time.h>

uint64_t hv_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void write_begin(struct hv_offline *o) {
        atomic_store_explicit(&o->seq, atomic_load_explicit(&o->seq, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
}

static void write_end(struct hv_offline *o) {
        atomic_store_explicit(&o->seq, atomic_load_explicit(&o->seq, memory_order_relaxed) + 1,
                              memory_order_release);
}

void hv_offline_init(struct hv_offline *o, uint64_t now) {
        atomic_init(&o->seq, 0);
        atomic_init(&o->closed_ns, 0);
        atomic_init(&o->since_ns, now ? now : 1);
}

void hv_offline_begin(struct hv_offline *o, hv_clock_fn *clock) {
        if (atomic_load_explicit(&o->since_ns, memory_order_relaxed))
                return;
        write_begin(o);
        uint64_t now = clock();
        atomic_store_explicit(&o->since_ns, now ? now : 1, memory_order_relaxed);
        write_end(o);
}

void hv_offline_end(struct hv_offline *o, hv_clock_fn *clock) {
        uint64_t since = atomic_load_explicit(&o->since_ns, memory_order_relaxed);
        if (!since)
                return;
        write_begin(o);
        uint64_t now = clock();
        uint64_t closed = atomic_load_explicit(&o->closed_ns, memory_order_relaxed);
        atomic_store_explicit(&o->closed_ns, closed + (now > since ? now - since : 0), memory_order_relaxed);
        atomic_store_explicit(&o->since_ns, 0, memory_order_relaxed);
        write_end(o);
}

uint64_t hv_offline_read(const struct hv_offline *o, uint64_t now) {
        uint32_t s0, s1;
        uint64_t closed, since;
        do {
                s0 = atomic_load_explicit(&o->seq, memory_order_acquire);
                closed = atomic_load_explicit(&o->closed_ns, memory_order_relaxed);
                since = atomic_load_explicit(&o->since_ns, memory_order_relaxed);
                atomic_thread_fence(memory_order_acquire);
                s1 = atomic_load_explicit(&o->seq, memory_order_relaxed);
        } while ((s0 & 1) || s0 != s1);
        return closed + (since && now > since ? now - since : 0);
}
