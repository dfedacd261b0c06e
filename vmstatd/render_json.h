/* The JSON API's documents, built with jansson from an immutable sample: /vms, /vms/<name>,
 * /vms/<name>/vcpus/<n>, /vms/<name>/history, /healthz and error bodies. Field names are a
 * contract (docs/METRICS.md); numbers are JSON numbers, counts integers, seconds and
 * percentages (0..100) reals. Every builder returns a new reference, NULL when out of memory. */
#ifndef VMSTATD_RENDER_JSON_H
#define VMSTATD_RENDER_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sample.h"
#include "sampler.h"

/* GET /vms: {"vms": [summary per VM], "sample_time", "sample_time_unix", "interval_seconds"} */
json_t *vs_json_vms(const struct vs_sample *s);
/* GET /vms/<name>: vm must belong to s */
json_t *vs_json_vm(const struct vs_sample *s, const struct vs_vm_sample *vm);
/* GET /vms/<name>/vcpus/<n>: NULL as well when vcpu >= vm->vcpus (the caller's 404) */
json_t *vs_json_vcpu(const struct vs_sample *s, const struct vs_vm_sample *vm, unsigned vcpu);
/* GET /vms/<name>/history?last=N: points oldest first */
json_t *vs_json_history(const struct vs_history *h, const char *vm);
/* Point p of h as history lists it (HTTP streams a long history a point at a time). */
json_t *vs_json_history_point(const struct vs_history *h, unsigned p);
/* /healthz: *ret_healthy is false before the first sample and while the daemon is launching
 * its VMs at start ("starting"; launching adds detail and the VMs served so far), and when the
 * latest is older than 3 intervals ("stale"). */
json_t *vs_json_health(const struct vs_sample *s_or_null, uint64_t now_mono_ns, uint64_t interval_ns, bool launching,
                       bool *ret_healthy);
/* {"error": message, "status": status} */
json_t *vs_json_error(int status, const char *message);

/* A malloc'd string, indented by 2 with a final newline when pretty (15 significant digits:
 * 0.1, not 0.10000000000000001), else compact with every real exact (17 digits). NULL on
 * failure. */
char *vs_json_dump(json_t *j, bool pretty);

#endif
