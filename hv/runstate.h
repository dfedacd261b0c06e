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

/* Writers read the clock inside their write section, so a reader that takes its `now` before
 * reading never sees the value go backwards. */
void hv_offline_init(struct hv_offline *o, uint64_t now);
void hv_offline_begin(struct hv_offline *o, hv_clock_fn *clock);
void hv_offline_end(struct hv_offline *o, hv_clock_fn *clock);
uint64_t hv_offline_read(const struct hv_offline *o, uint64_t now);

#endif
