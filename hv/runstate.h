/* Raw runstate inputs of a vCPU, readable from any thread without locks: executor-known
 * offline time (not started, paused, stopped) including the open segment. The split into
 * running / runnable / blocked belongs to the sampler. */
#ifndef HV_RUNSTATE_H
#define HV_RUNSTATE_H

#include <stdatomic.h>
#include <stdint.h>

/* One writer at a time (the vCPU's creator before the thread starts, then the thread). */
struct hv_offline {
        _Atomic uint32_t seq;        /* odd while a writer is inside */
        _Atomic uint64_t closed_ns;  /* offline time of finished segments */
        _Atomic uint64_t since_ns;   /* start of the open offline segment, 0 when online */
};

typedef uint64_t hv_clock_fn(void);
uint64_t hv_now_ns(void); /* CLOCK_MONOTONIC */

/* Writers and readers read the clock inside their sections (fenced), so successive reads never
 * go backwards, even by a nanosecond. */
void hv_offline_init(struct hv_offline *o, uint64_t now);
void hv_offline_begin(struct hv_offline *o, hv_clock_fn *clock);
void hv_offline_end(struct hv_offline *o, hv_clock_fn *clock);
/* Offline ns up to the clock's reading, which goes to *ret_now if non-NULL. */
uint64_t hv_offline_read(const struct hv_offline *o, hv_clock_fn *clock, uint64_t *ret_now);


/* Xen-style runstates. Per interval of wall length W: running = CPU time of the vCPU thread,
 * runnable = its run_delay, offline = executor-known offline time, blocked = the remainder. */
enum hv_rs { HV_RS_RUNNING, HV_RS_RUNNABLE, HV_RS_BLOCKED, HV_RS_OFFLINE, HV_RS__COUNT };

const char *hv_rs_name(enum hv_rs s);

struct hv_runstate_in {
        uint64_t now_ns;       /* CLOCK_MONOTONIC when the inputs were read */
        uint64_t cpu_ns;       /* cumulative inputs */
        uint64_t run_delay_ns;
        uint64_t offline_ns;
};

/* Per-vCPU accumulator, owned by one sampler. Raw time not yet published waits in pending
 * (late-landing run_delay, clock skew between sources) and is published once an interval
 * has room for it, so every total is monotonic and their sum equals the wall time exactly. */
struct hv_runstate_acc {
        uint64_t t;                     /* now_ns of the previous split */
        uint64_t raw[3];                /* previous cumulative cpu, run_delay, offline */
        uint64_t pending[3];            /* raw time not yet published: running, runnable, offline */
        uint64_t total[HV_RS__COUNT];   /* published cumulative ns */
};

/* Starts accounting at t0 (e.g. the vCPU's creation) with all inputs at zero. */
void hv_runstate_init(struct hv_runstate_acc *a, uint64_t t0);
/* Accounts the interval up to in->now_ns: fills delta (sum == *ret_w exactly) and adds it to
 * a->total. A clock that went backwards gives W = 0; an input below its high-water mark adds
 * nothing until it passes it (inputs never reset within one accumulator: a re-created VM gets
 * a new one), so no time is counted twice. */
void hv_runstate_split(struct hv_runstate_acc *a, const struct hv_runstate_in *in, uint64_t delta[HV_RS__COUNT],
                       uint64_t *ret_w);

#endif
