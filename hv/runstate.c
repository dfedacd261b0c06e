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
        /* full fence: the odd seq is visible before the clock is read (store -> TSC order) */
        atomic_thread_fence(memory_order_seq_cst);
}

/* the clock, read after earlier loads and before later ones (RDTSC is not ordered) */
static uint64_t fenced_clock(hv_clock_fn *clock) {
        uint64_t now = clock();
        __builtin_ia32_lfence();
        return now;
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

uint64_t hv_offline_read(const struct hv_offline *o, hv_clock_fn *clock, uint64_t *ret_now) {
        uint32_t s0, s1;
        uint64_t closed, since, now;
        do {
                s0 = atomic_load_explicit(&o->seq, memory_order_acquire);
                closed = atomic_load_explicit(&o->closed_ns, memory_order_relaxed);
                since = atomic_load_explicit(&o->since_ns, memory_order_relaxed);
                now = fenced_clock(clock);
                atomic_thread_fence(memory_order_acquire);
                s1 = atomic_load_explicit(&o->seq, memory_order_relaxed);
        } while ((s0 & 1) || s0 != s1);
        if (ret_now)
                *ret_now = now;
        return closed + (since && now > since ? now - since : 0);
}

const char *hv_rs_name(enum hv_rs s) {
        static const char *const names[HV_RS__COUNT] = {
                [HV_RS_RUNNING] = "running",
                [HV_RS_RUNNABLE] = "runnable",
                [HV_RS_BLOCKED] = "blocked",
                [HV_RS_OFFLINE] = "offline",
        };
        return (unsigned) s < HV_RS__COUNT ? names[s] : "invalid";
}

void hv_runstate_init(struct hv_runstate_acc *a, uint64_t t0) {
        *a = (struct hv_runstate_acc) { .t = t0 };
}

static uint64_t min_u64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

void hv_runstate_split(struct hv_runstate_acc *a, const struct hv_runstate_in *in, uint64_t delta[HV_RS__COUNT],
                       uint64_t *ret_w) {
        const uint64_t raw[3] = { in->cpu_ns, in->run_delay_ns, in->offline_ns };
        /* the order in which pending time claims the interval: offline is the executor's own
         * exact knowledge, then CPU time, then run_delay; blocked takes what is left */
        static const enum hv_rs claim[3] = { HV_RS_OFFLINE, HV_RS_RUNNING, HV_RS_RUNNABLE };
        static const unsigned source[HV_RS__COUNT] = {
                [HV_RS_RUNNING] = 0, [HV_RS_RUNNABLE] = 1, [HV_RS_OFFLINE] = 2,
        };
        uint64_t w = in->now_ns > a->t ? in->now_ns - a->t : 0;

        for (unsigned k = 0; k < 3; k++)
                if (raw[k] > a->raw[k]) { /* below the high-water mark: nothing new */
                        a->pending[k] += raw[k] - a->raw[k];
                        a->raw[k] = raw[k];
                }
        uint64_t room = w;
        for (unsigned i = 0; i < 3; i++) {
                unsigned k = source[claim[i]];
                uint64_t take = min_u64(a->pending[k], room);
                a->pending[k] -= take;
                room -= take;
                delta[claim[i]] = take;
        }
        delta[HV_RS_BLOCKED] = room;
        for (unsigned s = 0; s < HV_RS__COUNT; s++)
                a->total[s] += delta[s];
        if (in->now_ns > a->t)
                a->t = in->now_ns;
        *ret_w = w;
}
