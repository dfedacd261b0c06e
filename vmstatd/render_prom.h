/* The /metrics body of one sample: Prometheus text 0.0.4 or OpenMetrics 1.0. Every family
 * is emitted once and contiguously (family-major over VMs and vCPUs), with HELP and TYPE
 * (and UNIT in OpenMetrics), and only when it has at least one series. docs/METRICS.md lists
 * exactly the names rendered here. */
#ifndef VMSTATD_RENDER_PROM_H
#define VMSTATD_RENDER_PROM_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "sample.h"

enum vs_prom_format { VS_PROM_TEXT, VS_PROM_OPENMETRICS };

enum vs_prom_encoding { VS_PROM_IDENTITY, VS_PROM_GZIP };

struct vs_render_opts {
        bool histograms; /* exit-handling and KVM histograms: off by default (series budget) */
        /* vmstatd_render_total{format,encoding}: bodies rendered so far, this one included
         * ([enum vs_prom_format][enum vs_prom_encoding]); NULL renders zeros */
        const uint64_t (*renders)[2];
};

/* Appends the whole body for sample s to out; o NULL means defaults. 0 or -ENOMEM. */
int vs_render_prometheus(const struct vs_sample *s, enum vs_prom_format f, const struct vs_render_opts *o,
                         struct vs_buf *out);
/* The Content-Type header value of format f. */
const char *vs_prom_content_type(enum vs_prom_format f);

#endif
