/* Every metric vmstatd names itself, one row each: its name, help, type, unit, labels, how to
 * read it from a sample and when it is present. /metrics renders the rows (render_prom.c),
 * docs/METRICS.md must list them (test_render_prom), /vms/<name> carries the same number under
 * the row's JSON name where it has one, and vmstatctl stats describes those members with the
 * row's short text. The KVM families are not rows: the kernel names them (render_prom.c). */
#ifndef VMSTATD_METRICS_H
#define VMSTATD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

enum vs_metric_type { VS_COUNTER, VS_GAUGE, VS_HISTOGRAM };

/* what one set of series belongs to: the daemon, a collector, a VM or a vCPU */
enum vs_metric_scope { VS_SCOPE_HOST, VS_SCOPE_COLLECTOR, VS_SCOPE_VM, VS_SCOPE_VCPU };

/* The series being read: owner of the scope, and what only the renderer knows. */
struct vs_metric_at {
        const struct vs_sample *s;
        const struct vs_vm_sample *vm; /* VM and vCPU scopes */
        int cpu;                       /* vCPU scope, else -1 */
        unsigned collector;            /* collector scope */
        bool histograms;               /* histograms are on */
        const uint64_t (*renders)[2];  /* vmstatd_render_total's counts, or NULL */
};

/* A number as it is written: a count, nanoseconds shown as seconds, or any real. */
struct vs_value {
        enum { VS_UINT, VS_NS, VS_REAL } kind;
        uint64_t u;
        double d;
};

/* One histogram series: buckets[0, n-1) with upper bounds le(j), bucket n-1 as +Inf. */
struct vs_hist {
        const uint64_t *buckets;
        size_t n;
        double (*le)(size_t j, const void *ctx);
        const void *ctx;
        bool has_sum;
        double sum;
};

struct vs_metric {
        const char *name;         /* as written in the text format: a counter's ends in _total */
        enum vs_metric_type type;
        const char *unit;         /* OpenMetrics UNIT: "seconds", "bytes", "ratio" or NULL */
        enum vs_metric_scope scope;
        /* the row's own label besides vm and vcpu, with n values (label_value(0..n-1)) */
        const char *label;
        unsigned n;
        const char *(*label_value)(unsigned k);
        /* or labels whose values depend on the owner: name="value",... for series k, escaped;
         * returns its length (< size) */
        size_t (*labels)(const struct vs_metric_at *at, unsigned k, char *out, size_t size);
        uint32_t need;            /* CL_HAVE_* the VM or vCPU must have */
        /* NULL: present whenever need is met; else whether the owner (k < 0) or series k has it:
         * never a fake 0 */
        bool (*present)(const struct vs_metric_at *at, int k);
        struct vs_value (*read)(const struct vs_metric_at *at, unsigned k);  /* not histograms */
        struct vs_hist (*hist)(const struct vs_metric_at *at, unsigned k);   /* histograms */
        /* the same number in /vms/<name>, relative to the VM or vCPU object ("%s": the label
         * value), or NULL */
        const char *json;
        const char *const *ctl;   /* vmstatctl stats' description of series k's member (n of them), or NULL */
        const char *help;
};

extern const struct vs_metric vs_metrics[];
extern const size_t vs_n_metrics;

/* The row named name (as written, with a counter's _total), or NULL. */
const struct vs_metric *vs_metric_find(const char *name);
/* Whether the row has series k for this owner (need, present). */
bool vs_metric_has(const struct vs_metric *m, const struct vs_metric_at *at, int k);
/* The JSON name of series k of m ("sched.voluntary_switches"): false when it has none. */
bool vs_metric_json(const struct vs_metric *m, unsigned k, char *out, size_t size);
/* vmstatctl stats' description of the JSON member json ("sched.timeslices"), or NULL. */
const char *vs_metric_ctl(const char *json);

#endif
