/* Prometheus text 0.0.4 and OpenMetrics 1.0 for one immutable sample. Families go out
 * family-major (for each family, every VM, every vCPU), so each is emitted once and
 * contiguously; a family's header is written lazily with its first series, so one without
 * series leaves no trace. Everything is appended straight into the vs_buf: no allocation. */
#include "render_prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VMSTATD_VERSION
#define VMSTATD_VERSION "0.1.0"
#endif

#define NAME_LEN 160 /* prefix + a kernel stat name (< 64) + unit and type suffixes */
#define LE_CACHE 64  /* bucket bounds kept per family */

enum ftype { F_COUNTER, F_GAUGE, F_HISTOGRAM };

struct prom {
        struct vs_buf *b;
        bool om;
        /* the family being written: base is its name without a counter's _total */
        char base[NAME_LEN];
        char help[256];
        enum ftype type;
        bool headed;
        unsigned labels; /* of the sample being written */
        /* the le labels of the family's buckets, the same for all its series */
        char le[LE_CACHE][32];
        size_t n_le;
};

/* ---- numbers ------------------------------------------------------------------------------------- */

/* The shortest of %.15g, %.16g and %.17g that reads back as the same double. */
static void fmt_double(char out[40], double v) {
        if (isnan(v)) {
                strcpy(out, "NaN");
                return;
        }
        if (isinf(v)) {
                strcpy(out, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(out, 40, "%.*g", prec, v);
                if (strtod(out, NULL) == v)
                        return;
        }
}

/* An `le` value as OpenMetrics' canonical numbers want it: Go's shortest %g (exponent below
 * 1e-4 and from 1e6 on), with ".0" appended to integers in OpenMetrics. */
static void fmt_le(char out[32], double v, bool om) {
        char e[40], digits[20];
        if (isinf(v) || isnan(v)) {
                strcpy(out, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
                return;
        }
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(e, sizeof(e), "%.*e", prec - 1, v);
                if (strtod(e, NULL) == v)
                        break;
        }
        const char *p = e;
        char *o = out;
        if (*p == '-')
                *o++ = *p++;
        int nd = 0;
        for (; *p != 'e'; p++)
                if (*p != '.')
                        digits[nd++] = *p;
        int x = atoi(p + 1);
        while (nd > 1 && digits[nd - 1] == '0')
                nd--;
        if (x < -4 || x >= 6) {
                *o++ = digits[0];
                if (nd > 1) {
                        *o++ = '.';
                        memcpy(o, digits + 1, (size_t) nd - 1);
                        o += nd - 1;
                }
                sprintf(o, "e%c%02d", x < 0 ? '-' : '+', abs(x));
                return;
        }
        if (x < 0) {
                *o++ = '0';
                *o++ = '.';
                for (int i = 0; i < -x - 1; i++)
                        *o++ = '0';
                memcpy(o, digits, (size_t) nd);
                o += nd;
        } else {
                for (int i = 0; i <= x || i < nd; i++) {
                        if (i == x + 1)
                                *o++ = '.';
                        *o++ = i < nd ? digits[i] : '0';
                }
                if (om && nd <= x + 1) {
                        *o++ = '.';
                        *o++ = '0';
                }
        }
        *o = 0;
}

/* The whole number n with scale = 1/n, when there is one (10^k for the kernel's negative
 * exponents), else 0. */
static uint64_t scale_divisor(double scale) {
        if (scale < 1 && scale > 0) {
                double inv = 1 / scale;
                if (inv < 1e18) {
                        double n = (double) (uint64_t) (inv + 0.5);
                        if ((inv > n ? inv - n : n - inv) <= n * 1e-12)
                                return (uint64_t) n;
                }
        }
        return 0;
}

/* raw · base^exponent. Divides by 10^n rather than multiplying by its inexact inverse, so
 * 1500 ns is exactly the double nearest to 1.5e-6, as ns / 1e9 is elsewhere. */
static double scale_value(double raw, double scale) {
        uint64_t n = scale_divisor(scale);
        return n ? raw / (double) n : raw * scale;
}

static double seconds(uint64_t ns) {
        return (double) ns / 1e9;
}

/* ---- families and samples --------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Text escaping: backslash and newline, and in label values (and OpenMetrics help) quotes. */
static void put_escaped(struct prom *p, const char *s, bool quotes) {
        const char *run = s;
        for (; *s; s++) {
                const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : *s == '"' && quotes ? "\\\"" : NULL;
                if (!esc)
                        continue;
                vs_buf_append(p->b, run, (size_t) (s - run));
                vs_buf_puts(p->b, esc);
                run = s + 1;
        }
        vs_buf_puts(p->b, run);
}

/* Starts a family; name is its text-format name (a counter's with _total). */
static void family(struct prom *p, const char *name, enum ftype type, const char *help) {
        snprintf(p->base, sizeof(p->base), "%s", name);
        if (type == F_COUNTER && ends_with(p->base, "_total"))
                p->base[strlen(p->base) - 6] = 0;
        snprintf(p->help, sizeof(p->help), "%s", help);
        p->type = type;
        p->headed = false;
        p->n_le = 0;
}

static const char *family_unit(const char *base) {
        static const char *const units[] = { "seconds", "bytes", "ratio" };
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                size_t n = strlen(base), m = strlen(units[i]);
                if (n > m && base[n - m - 1] == '_' && strcmp(base + n - m, units[i]) == 0)
                        return units[i];
        }
        return NULL;
}

static void header(struct prom *p) {
        static const char *const types[] = { [F_COUNTER] = "counter", [F_GAUGE] = "gauge",
                                             [F_HISTOGRAM] = "histogram" };
        const char *total = p->type == F_COUNTER && !p->om ? "_total" : "";
        if (p->om) {
                const char *unit = family_unit(p->base);
                vs_buf_printf(p->b, "# TYPE %s %s\n", p->base, types[p->type]);
                if (unit)
                        vs_buf_printf(p->b, "# UNIT %s %s\n", p->base, unit);
        }
        vs_buf_printf(p->b, "# HELP %s%s ", p->base, total);
        put_escaped(p, p->help, p->om);
        vs_buf_puts(p->b, "\n");
        if (!p->om)
                vs_buf_printf(p->b, "# TYPE %s%s %s\n", p->base, total, types[p->type]);
        p->headed = true;
}

/* A sample line: sample(), then labels, then one of the value_*() that ends it. */
static void sample(struct prom *p, const char *suffix) {
        if (!p->headed)
                header(p);
        vs_buf_puts(p->b, p->base);
        vs_buf_puts(p->b, suffix ? suffix : p->type == F_COUNTER ? "_total" : "");
        p->labels = 0;
}

static void label(struct prom *p, const char *name, const char *value) {
        vs_buf_append(p->b, p->labels++ ? "," : "{", 1);
        vs_buf_puts(p->b, name);
        vs_buf_append(p->b, "=\"", 2);
        put_escaped(p, value, true);
        vs_buf_append(p->b, "\"", 1);
}

/* v in decimal, at the end of out[24] */
static const char *fmt_uint(char out[24], uint64_t v) {
        char *s = out + 23;
        *s = 0;
        do
                *--s = (char) ('0' + v % 10);
        while (v /= 10);
        return s;
}

static void label_uint(struct prom *p, const char *name, uint64_t value) {
        char s[24];
        label(p, name, fmt_uint(s, value));
}

static void value_text(struct prom *p, const char *v) {
        if (p->labels)
                vs_buf_append(p->b, "} ", 2);
        else
                vs_buf_append(p->b, " ", 1);
        vs_buf_puts(p->b, v);
        vs_buf_append(p->b, "\n", 1);
}

static void value_uint(struct prom *p, uint64_t v) {
        char s[24];
        value_text(p, fmt_uint(s, v));
}

static void value_double(struct prom *p, double v) {
        char s[40];
        fmt_double(s, v);
        value_text(p, s);
}

/* ns as seconds, written exactly: the whole seconds, then the nanoseconds without trailing
 * zeros. Below 2^53 ns (104 days) that decimal reads back as seconds(ns), the same quotient
 * rounded once, and costs no printf and no strtod round trip, the most of a large body's render;
 * above (timestamps), the general way. */
static void value_ns(struct prom *p, uint64_t ns) {
        char whole[24], text[40];
        if (ns >= 1ull << 53) {
                value_double(p, seconds(ns));
                return;
        }
        const char *w = fmt_uint(whole, ns / 1000000000u);
        uint32_t frac = (uint32_t) (ns % 1000000000u);
        size_t n = strlen(w), digits = 9;
        memcpy(text, w, n);
        if (frac) {
                while (frac % 10 == 0) {
                        frac /= 10;
                        digits--;
                }
                text[n++] = '.';
                for (size_t k = digits; k-- > 0; frac /= 10)
                        text[n + k] = (char) ('0' + frac % 10);
                n += digits;
        }
        text[n] = 0;
        value_text(p, text);
}

/* The labels every series of a VM (cpu < 0) or of a vCPU starts with. */
static void owner(struct prom *p, const struct vs_vm_sample *vm, int cpu) {
        label(p, "vm", vm->name);
        if (cpu >= 0)
                label_uint(p, "vcpu", (unsigned) cpu);
}

/* One histogram series: buckets [0, n-1) with bounds le[j] (ascending), bucket n-1 as +Inf;
 * _sum and _count only when the sum is known (OpenMetrics: _count if and only if _sum). */
static void histogram(struct prom *p, const struct vs_vm_sample *vm, int cpu, const char *reason,
                      const uint64_t *buckets, size_t n, double (*le)(size_t j, const void *ctx), const void *ctx,
                      bool has_sum, double sum) {
        uint64_t cum = 0;
        char bound[32];
        for (size_t j = 0; j < n; j++) {
                const char *s = "+Inf";
                cum += buckets[j];
                if (j + 1 < n && j < p->n_le) {
                        s = p->le[j];
                } else if (j + 1 < n) {
                        double v = le(j, ctx);
                        if (isinf(v))
                                continue; /* beyond double range: folded into +Inf */
                        fmt_le(bound, v, p->om);
                        s = bound;
                        if (j == p->n_le && j < LE_CACHE)
                                memcpy(p->le[p->n_le++], bound, sizeof(bound));
                }
                sample(p, "_bucket");
                owner(p, vm, cpu);
                if (reason)
                        label(p, "reason", reason);
                label(p, "le", s);
                value_uint(p, cum);
        }
        if (!has_sum)
                return;
        sample(p, "_sum");
        owner(p, vm, cpu);
        if (reason)
                label(p, "reason", reason);
        value_double(p, sum);
        sample(p, "_count");
        owner(p, vm, cpu);
        if (reason)
                label(p, "reason", reason);
        value_uint(p, cum);
}

/* ---- the daemon, VMs and collectors --------------------------------------------------------------------- */

static void build_info(struct prom *p) {
        family(p, "vmstatd_build_info", F_GAUGE, "vmstatd's version; always 1.");
        sample(p, NULL);
        label(p, "version", VMSTATD_VERSION);
        value_uint(p, 1);
}

/* A VM's configuration as labels: two of them, unlike the table's families. */
static void vm_info(struct prom *p, const struct vs_sample *s) {
        family(p, "vmstatd_vm_info", F_GAUGE, "A VM's configuration; always 1.");
        for (unsigned v = 0; v < s->n_vms; v++)
                if (s->vms[v].raw.have & CL_HAVE_EXECUTOR) {
                        sample(p, NULL);
                        owner(p, &s->vms[v], -1);
                        label_uint(p, "vcpus", s->vms[v].vcpus);
                        label_uint(p, "memory", s->vms[v].raw.ram_bytes);
                        value_uint(p, 1);
                }
}

static void collector_families(struct prom *p, const struct vs_sample *s) {
        family(p, "vmstatd_scrape_collector_duration_seconds", F_GAUGE,
               "Time the collector took in the last sample.");
        for (unsigned c = 0; c < s->n_collectors; c++) {
                sample(p, NULL);
                label(p, "collector", s->collectors[c].name);
                value_ns(p, s->collectors[c].duration_ns);
        }
        family(p, "vmstatd_scrape_collector_success", F_GAUGE,
               "1 when the collector succeeded for every VM in the last sample, else 0.");
        for (unsigned c = 0; c < s->n_collectors; c++) {
                sample(p, NULL);
                label(p, "collector", s->collectors[c].name);
                value_uint(p, s->collectors[c].success);
        }
}

static bool collector_ran(const struct vs_sample *s, const char *name) {
        for (unsigned c = 0; c < s->n_collectors; c++)
                if (strcmp(s->collectors[c].name, name) == 0)
                        return true;
        return false;
}

static void render_counts(struct prom *p, const struct vs_render_opts *o) {
        static const char *const formats[2] = { "text", "openmetrics" }, *const encodings[2] = { "identity", "gzip" };
        family(p, "vmstatd_render_total", F_COUNTER,
               "/metrics bodies rendered, by format and encoding: at most one per sample and variant, only when asked.");
        for (int f = 0; f < 2; f++)
                for (int z = 0; z < 2; z++) {
                        sample(p, NULL);
                        label(p, "format", formats[f]);
                        label(p, "encoding", encodings[z]);
                        value_uint(p, o && o->renders ? o->renders[f][z] : 0);
                }
}

static void host_families(struct prom *p, const struct vs_sample *s) {
        family(p, "vmstatd_host_ready_ratio", F_GAUGE,
               "Sum of runnable over sum of wall time of every vCPU of every VM in the last interval.");
        sample(p, NULL);
        value_double(p, s->host_ready_ratio);
        if (collector_ran(s, "memory") && s->host.daemon_rss_bytes) {
                family(p, "vmstatd_resident_memory_bytes", F_GAUGE, "The daemon's resident set size.");
                sample(p, NULL);
                value_uint(p, s->host.daemon_rss_bytes);
        }
        family(p, "vmstatd_config_reloads_total", F_COUNTER, "Configuration reloads (SIGHUP) by result.");
        sample(p, NULL);
        label(p, "result", "success");
        value_uint(p, s->daemon.reloads_success);
        sample(p, NULL);
        label(p, "result", "failure");
        value_uint(p, s->daemon.reloads_failure);
        family(p, "vmstatd_config_last_reload_successful", F_GAUGE,
               "0 when the last reload was rejected (the previous configuration runs), else 1.");
        sample(p, NULL);
        value_uint(p, !s->daemon.last_reload_failed);
        family(p, "vmstatd_sample_timestamp_seconds", F_GAUGE, "When the sample was taken, seconds since the epoch.");
        sample(p, NULL);
        value_ns(p, s->realtime_ns);
        if (s->interval_ns) {
                family(p, "vmstatd_sample_interval_seconds", F_GAUGE, "Wall time between the last two samples.");
                sample(p, NULL);
                value_ns(p, s->interval_ns);
        }
}

/* ---- per VM and per vCPU: a table of families ------------------------------------------------------------ */

enum metric {
        M_VM_STATE, M_VM_START, M_VM_READY, M_VM_MEMORY, M_VM_RESIDENT, M_VM_RESTARTS, M_VM_CONSOLE,
        M_VM_CONSOLE_DROPPED,
        M_RUNSTATE, M_READY, M_STEAL, M_EXITS, M_RUNS, M_IMMEDIATE, M_UNHANDLED, M_CPU,
        M_RUN_DELAY, M_TIMESLICES, M_MIGRATIONS, M_SWITCHES, M_INSTRUCTIONS, M_CYCLES, M_GUEST_STEAL,
};

struct table_family {
        const char *name;
        enum ftype type;
        enum metric m;
        bool vcpu;                              /* one series set per vCPU, else per VM */
        uint32_t need;                          /* CL_HAVE_* of the VM or vCPU */
        const char *label;                      /* the family's own label, NULL if none */
        unsigned n;                             /* series per VM or vCPU: label values 0..n-1 */
        const char *(*label_value)(unsigned k);
        const char *help;
};

static const char *state_label(unsigned k) {
        return hv_vm_state_name((enum hv_vm_state) k);
}

static const char *rs_label(unsigned k) {
        return hv_rs_name((enum hv_rs) k);
}

static const char *exit_label(unsigned k) {
        return hv_exit_name((enum hv_exit) k);
}

static const char *flavor_label(unsigned k) {
        return k ? "xen" : "kvm";
}

static const char *space_label(unsigned k) {
        return k ? "mmio" : "io";
}

static const char *switch_label(unsigned k) {
        return k ? "involuntary" : "voluntary";
}

static const struct table_family table[] = {
        { "vmstatd_vm_state", F_GAUGE, M_VM_STATE, false, CL_HAVE_EXECUTOR, "state", HV_VM_CRASHED + 1, state_label,
          "1 for the VM's current state, 0 for the others." },
        { "vmstatd_vm_start_time_seconds", F_GAUGE, M_VM_START, false, 0, NULL, 1, NULL,
          "When the VM started, seconds since the epoch." },
        { "vmstatd_vm_ready_ratio", F_GAUGE, M_VM_READY, false, CL_HAVE_EXECUTOR, NULL, 1, NULL,
          "Sum of runnable over sum of wall time of the VM's vCPUs in the last interval." },
        { "vmstatd_vm_memory_bytes", F_GAUGE, M_VM_MEMORY, false, CL_HAVE_EXECUTOR, NULL, 1, NULL, "Guest RAM size." },
        { "vmstatd_vm_resident_memory_bytes", F_GAUGE, M_VM_RESIDENT, false, CL_HAVE_MEMORY, NULL, 1, NULL,
          "Guest RAM resident in host memory (mincore)." },
        { "vmstatd_vm_restarts_total", F_COUNTER, M_VM_RESTARTS, false, CL_HAVE_EXECUTOR, NULL, 1, NULL,
          "Automatic restarts of the VM after crashes (restart=on-crash)." },
        { "vmstatd_vm_console_bytes_total", F_COUNTER, M_VM_CONSOLE, false, CL_HAVE_EXECUTOR, NULL, 1, NULL,
          "Bytes the guest wrote to its console (debug port and UART)." },
        { "vmstatd_vm_console_dropped_bytes_total", F_COUNTER, M_VM_CONSOLE_DROPPED, false, CL_HAVE_EXECUTOR, NULL, 1,
          NULL, "Console bytes that never reached the console log (ring overrun, console_log_max, write error)." },
        { "vmstatd_vcpu_runstate_seconds_total", F_COUNTER, M_RUNSTATE, true, CL_HAVE_EXECUTOR, "state", HV_RS__COUNT,
          rs_label, "Time in each Xen runstate; the four sum to the vCPU's lifetime exactly." },
        { "vmstatd_vcpu_ready_ratio", F_GAUGE, M_READY, true, CL_HAVE_EXECUTOR, NULL, 1, NULL,
          "Runnable (waiting for a host CPU) over wall time in the last interval." },
        { "vmstatd_vcpu_steal_ratio", F_GAUGE, M_STEAL, true, CL_HAVE_EXECUTOR, "flavor", 2, flavor_label,
          "Steal in the last interval: kvm = runnable / W, xen = (runnable + offline) / W." },
        { "vmstatd_vcpu_exits_total", F_COUNTER, M_EXITS, true, CL_HAVE_EXECUTOR, "reason", HV_EXIT__COUNT, exit_label,
          "Returns of KVM_RUN to userspace by kvm_run exit reason." },
        { "vmstatd_vcpu_runs_total", F_COUNTER, M_RUNS, true, CL_HAVE_EXECUTOR, NULL, 1, NULL, "KVM_RUN calls." },
        { "vmstatd_vcpu_immediate_exits_total", F_COUNTER, M_IMMEDIATE, true, CL_HAVE_EXECUTOR, NULL, 1, NULL,
          "KVM_RUN calls that returned at once because immediate_exit was set (a kick)." },
        { "vmstatd_vcpu_unhandled_accesses_total", F_COUNTER, M_UNHANDLED, true, CL_HAVE_EXECUTOR, "space", 2,
          space_label, "Port I/O and MMIO accesses no device claimed." },
        { "vmstatd_vcpu_cpu_seconds_total", F_COUNTER, M_CPU, true, CL_HAVE_EXECUTOR, NULL, 1, NULL,
          "CPU time of the vCPU thread (its CPU clock)." },
        { "vmstatd_vcpu_run_delay_seconds_total", F_COUNTER, M_RUN_DELAY, true, CL_HAVE_SCHED, NULL, 1, NULL,
          "Time the vCPU thread was runnable, waiting for a host CPU (schedstat)." },
        { "vmstatd_vcpu_timeslices_total", F_COUNTER, M_TIMESLICES, true, CL_HAVE_SCHED, NULL, 1, NULL,
          "Timeslices the vCPU thread ran (schedstat)." },
        { "vmstatd_vcpu_migrations_total", F_COUNTER, M_MIGRATIONS, true, CL_HAVE_SCHED, NULL, 1, NULL,
          "Migrations of the vCPU thread between host CPUs." },
        { "vmstatd_vcpu_context_switches_total", F_COUNTER, M_SWITCHES, true, CL_HAVE_SCHED, "kind", 2, switch_label,
          "Context switches of the vCPU thread." },
        { "vmstatd_vcpu_guest_instructions_total", F_COUNTER, M_INSTRUCTIONS, true, CL_HAVE_PERF, NULL, 1, NULL,
          "Instructions retired in guest mode (perf, exclude_host)." },
        { "vmstatd_vcpu_guest_cycles_total", F_COUNTER, M_CYCLES, true, CL_HAVE_PERF, NULL, 1, NULL,
          "Cycles in guest mode (perf, exclude_host)." },
        { "vmstatd_vcpu_guest_steal_seconds_total", F_COUNTER, M_GUEST_STEAL, true, CL_HAVE_EXECUTOR, NULL, 1, NULL,
          "Steal time as the guest sees it: its MSR_KVM_STEAL_TIME record (only once it registered one)." },
};

struct num {
        bool real, ns; /* real: d; ns: u nanoseconds, shown as seconds (value_ns); else u */
        uint64_t u;
        double d;
};

#define UINT(x) ((struct num) { .u = (x) })
#define REAL(x) ((struct num) { .real = true, .d = (x) })
#define NS(x) ((struct num) { .ns = true, .u = (x) })

/* Series k of metric m of the VM (cpu < 0) or of one of its vCPUs. */
static struct num metric_value(const struct vs_vm_sample *vm, int cpu, enum metric m, unsigned k) {
        const struct cl_vcpu_raw *r = cpu >= 0 ? &vm->raw.vcpus[cpu] : NULL;
        const struct vs_vcpu_sample *c = cpu >= 0 ? &vm->vcpu[cpu] : NULL;
        switch (m) {
        case M_VM_STATE: return UINT(vm->raw.state == (enum hv_vm_state) k);
        case M_VM_START: return NS(vm->start_time_ns);
        case M_VM_READY: return REAL(vm->ready_ratio);
        case M_VM_MEMORY: return UINT(vm->raw.ram_bytes);
        case M_VM_RESIDENT: return UINT(vm->raw.resident_bytes);
        case M_VM_RESTARTS: return UINT(vm->restarts);
        case M_VM_CONSOLE: return UINT(vm->raw.console_bytes);
        case M_VM_CONSOLE_DROPPED: return UINT(vm->console_dropped_bytes);
        case M_RUNSTATE: return NS(c->runstate_ns[k]);
        case M_READY: return REAL(c->ready_ratio);
        case M_STEAL: return REAL(k ? c->steal_xen_ratio : c->steal_kvm_ratio);
        case M_EXITS: return UINT(r->exec.exits[k]);
        case M_RUNS: return UINT(r->exec.runs);
        case M_IMMEDIATE: return UINT(r->exec.immediate_exits);
        case M_UNHANDLED: return UINT(k ? r->exec.unhandled_mmio : r->exec.unhandled_io);
        case M_CPU: return NS(r->rs.cpu_ns);
        case M_RUN_DELAY: return NS(r->sched.run_delay_ns);
        case M_TIMESLICES: return UINT(r->sched.timeslices);
        case M_MIGRATIONS: return UINT(r->sched.migrations);
        case M_SWITCHES: return UINT(k ? r->sched.involuntary_switches : r->sched.voluntary_switches);
        case M_INSTRUCTIONS: return UINT(r->perf.instructions);
        case M_CYCLES: return UINT(r->perf.cycles);
        case M_GUEST_STEAL: return NS(r->rs.steal_ns);
        }
        return UINT(0);
}

/* Whether the collectors delivered what a VM's (cpu < 0) or vCPU's series need. */
static bool has(const struct vs_vm_sample *vm, int cpu, uint32_t need) {
        if (cpu < 0)
                return (vm->raw.have & need) == need;
        return (unsigned) cpu < vm->raw.n_vcpus && (vm->raw.vcpus[cpu].have & need) == need;
}

static void table_family(struct prom *p, const struct vs_sample *s, const struct table_family *f) {
        family(p, f->name, f->type, f->help);
        for (unsigned v = 0; v < s->n_vms; v++) {
                const struct vs_vm_sample *vm = &s->vms[v];
                for (int cpu = f->vcpu ? 0 : -1; cpu < (f->vcpu ? (int) vm->vcpus : 0); cpu++) {
                        if (!has(vm, cpu, f->need) || (f->m == M_VM_START && !vm->start_time_ns) ||
                            (f->m == M_GUEST_STEAL && !vs_guest_steal_known(&vm->raw.vcpus[cpu].rs)))
                                continue; /* never a fake 0 */
                        for (unsigned k = 0; k < f->n; k++) {
                                struct num n = metric_value(vm, cpu, f->m, k);
                                sample(p, NULL);
                                owner(p, vm, cpu);
                                if (f->label)
                                        label(p, f->label, f->label_value(k));
                                if (n.ns)
                                        value_ns(p, n.u);
                                else if (n.real)
                                        value_double(p, n.d);
                                else
                                        value_uint(p, n.u);
                        }
                }
        }
}

/* bucket j of hv's handling histogram holds [2^j, 2^(j+1)) ns */
static double exit_le(size_t j, const void *ctx) {
        (void) ctx;
        return (double) (1ull << (j + 1)) / 1e9;
}

/* by reason (perf kvm stat's view); a reason appears once it has happened on that vCPU. The
 * sampler copies these only when histograms are on (vs_sampler_config.histograms). */
static void exit_handling(struct prom *p, const struct vs_sample *s) {
        family(p, "vmstatd_vcpu_exit_handling_seconds", F_HISTOGRAM,
               "Time from KVM_RUN returning to the next call (userspace exit handling), by exit reason.");
        for (unsigned v = 0; v < s->n_vms; v++)
                for (unsigned i = 0; i < s->vms[v].vcpus; i++) {
                        if (!has(&s->vms[v], (int) i, CL_HAVE_EXECUTOR))
                                continue;
                        const struct cl_vcpu_raw *r = &s->vms[v].raw.vcpus[i];
                        for (unsigned e = 0; r->exit_hist && e < HV_EXIT__COUNT; e++)
                                if (r->exec.exits[e])
                                        histogram(p, &s->vms[v], (int) i, hv_exit_name(e), r->exit_hist[e],
                                                  HV_HIST_BUCKETS, exit_le, NULL, true, seconds(r->exec.reason_ns_sum[e]));
                }
}

/* ---- KVM binary stats, from the descriptors the kernel reports ------------------------------------------- */

/* Walks the VMs' (vcpu false) or vCPUs' stats: every owner with a schema and values. */
struct kvm_cursor {
        const struct vs_sample *s;
        bool vcpu;
        unsigned v, i;
};

struct kvm_owner {
        const struct vs_vm_sample *vm;
        int cpu;
        const struct cl_kvm_schema *schema;
        const uint64_t *values;
};

static bool kvm_next(struct kvm_cursor *c, struct kvm_owner *o) {
        for (; c->v < c->s->n_vms; c->v++, c->i = 0) {
                const struct vs_vm_sample *vm = &c->s->vms[c->v];
                if (!c->vcpu) {
                        if (c->i++ == 0 && vm->raw.kvm_schema && vm->raw.kvm) {
                                *o = (struct kvm_owner) { vm, -1, vm->raw.kvm_schema, vm->raw.kvm };
                                return true;
                        }
                        continue;
                }
                while (c->i < vm->vcpus && c->i < vm->raw.n_vcpus) {
                        const struct cl_vcpu_raw *r = &vm->raw.vcpus[c->i++];
                        if ((r->have & CL_HAVE_KVM) && r->kvm_schema && r->kvm) {
                                *o = (struct kvm_owner) { vm, (int) c->i - 1, r->kvm_schema, r->kvm };
                                return true;
                        }
                }
        }
        return false;
}

static bool kvm_is_hist(const struct cl_kvm_desc *d) {
        return d->kind == CL_KVM_HIST_LINEAR || d->kind == CL_KVM_HIST_LOG;
}

static bool kvm_renderable(const struct cl_kvm_desc *d, bool histograms) {
        if (!d->exported)
                return false;
        return kvm_is_hist(d) ? histograms && d->size >= 1 : d->size == 1;
}

/* Same stat with the same layout: one family can hold both. */
static bool kvm_desc_same(const struct cl_kvm_desc *a, const struct cl_kvm_desc *b) {
        if (a == b) /* the kvm collector shares one schema among equal ones: the usual case */
                return true;
        return strcmp(a->name, b->name) == 0 && a->kind == b->kind && a->unit == b->unit &&
               (!kvm_is_hist(a) || (a->size == b->size && a->bucket_size == b->bucket_size && a->scale == b->scale));
}

static bool kvm_schema_same(const struct cl_kvm_schema *a, const struct cl_kvm_schema *b) {
        if (a == b)
                return true;
        if (a->n_desc != b->n_desc)
                return false;
        for (size_t d = 0; d < a->n_desc; d++)
                if (!kvm_desc_same(&a->desc[d], &b->desc[d]))
                        return false;
        return true;
}

/* A sub-second unit in a stat's name (halt_wait_ns): its value is scaled to seconds. */
static bool time_token(const char *t, size_t n) {
        return n == 2 && t[1] == 's' && (t[0] == 'n' || t[0] == 'u' || t[0] == 'm');
}

/* The family's name without a counter's _total (OpenMetrics' family name): prefix + the
 * stat's name in lower case; seconds and bytes end in their unit (seconds drop an _ns, _us
 * or _ms token). Two stats with one base name would clash in OpenMetrics. */
static void kvm_name(const char *prefix, const struct cl_kvm_desc *d, char out[NAME_LEN]) {
        size_t n = strlen(prefix), base = n;
        memcpy(out, prefix, n);
        for (const char *t = d->name; *t;) {
                size_t len = strcspn(t, "_");
                if (len && !(d->unit == CL_UNIT_SECONDS && time_token(t, len)) && n + len + 1 < NAME_LEN - 24) {
                        if (n > base)
                                out[n++] = '_';
                        for (size_t i = 0; i < len; i++) {
                                char c = t[i];
                                out[n++] = c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a')
                                         : (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
                        }
                }
                t += len + (t[len] == '_');
        }
        out[n] = 0;
        if (d->kind == CL_KVM_COUNTER && n > base + 6 && ends_with(out, "_total"))
                out[n - 6] = 0;
        if (d->unit == CL_UNIT_SECONDS && !ends_with(out, "_seconds"))
                strcat(out, n > base ? "_seconds" : "seconds");
        else if (d->unit == CL_UNIT_BYTES && !ends_with(out, "_bytes"))
                strcat(out, n > base ? "_bytes" : "bytes");
}

/* Whether a renderable stat before (at, d) already has this base name: an earlier stat of
 * the same schema or any stat of an earlier owner's. */
static bool kvm_named_before(const struct vs_sample *s, bool vcpu, const char *prefix, bool histograms,
                             const struct kvm_owner *at, size_t d, const char *name) {
        char other[NAME_LEN];
        for (size_t k = 0; k < d; k++)
                if (kvm_renderable(&at->schema->desc[k], histograms)) {
                        kvm_name(prefix, &at->schema->desc[k], other);
                        if (strcmp(other, name) == 0)
                                return true;
                }
        struct kvm_cursor c = { .s = s, .vcpu = vcpu };
        const struct cl_kvm_schema *last = NULL;
        struct kvm_owner o;
        while (kvm_next(&c, &o) && o.values != at->values) {
                if (last && kvm_schema_same(last, o.schema))
                        continue;
                last = o.schema;
                for (size_t k = 0; k < o.schema->n_desc; k++)
                        if (kvm_renderable(&o.schema->desc[k], histograms)) {
                                kvm_name(prefix, &o.schema->desc[k], other);
                                if (strcmp(other, name) == 0)
                                        return true;
                        }
        }
        return false;
}

struct kvm_hist_ctx {
        const struct cl_kvm_desc *d;
};

/* linear: bucket j holds [j, j+1) · bucket_size; log: bucket 0 holds 0, bucket j [2^(j-1), 2^j) */
static double kvm_le(size_t j, const void *ctx) {
        const struct cl_kvm_desc *d = ((const struct kvm_hist_ctx *) ctx)->d;
        double bound = 1;
        if (d->kind == CL_KVM_HIST_LINEAR)
                bound = (double) d->bucket_size * (double) (j + 1);
        else
                for (size_t k = 0; k < j && !isinf(bound); k++)
                        bound *= 2;
        return scale_value(bound, d->scale);
}

static void kvm_series(struct prom *p, const struct kvm_owner *o, const struct cl_kvm_desc *d) {
        const uint64_t *v = o->values + d->index;
        if (kvm_is_hist(d)) {
                const struct cl_kvm_desc *sum = d->sum_of >= 0 && (size_t) d->sum_of < o->schema->n_desc
                                                        ? &o->schema->desc[d->sum_of]
                                                        : NULL;
                struct kvm_hist_ctx ctx = { d };
                histogram(p, o->vm, o->cpu, NULL, v, d->size, kvm_le, &ctx, sum != NULL,
                          sum ? scale_value((double) o->values[sum->index], sum->scale) : 0);
                return;
        }
        sample(p, NULL);
        owner(p, o->vm, o->cpu);
        if (d->scale == 1)
                value_uint(p, *v);
        else if (scale_divisor(d->scale) == 1000000000u)
                value_ns(p, *v); /* the kernel's _ns stats */
        else
                value_double(p, scale_value((double) *v, d->scale));
}

static void kvm_help(const struct cl_kvm_desc *d, bool vcpu, char *out, size_t size) {
        static const char *const kinds[] = { [CL_KVM_COUNTER] = "cumulative", [CL_KVM_GAUGE] = "instant",
                                             [CL_KVM_HIST_LINEAR] = "linear histogram",
                                             [CL_KVM_HIST_LOG] = "log2 histogram" };
        snprintf(out, size, "KVM %s stat %s (%s%s), from the binary stats fd.", vcpu ? "vCPU" : "VM", d->name,
                 d->peak ? "peak" : kinds[d->kind],
                 d->unit == CL_UNIT_SECONDS ? ", in seconds" : d->unit == CL_UNIT_BYTES ? ", in bytes"
                 : d->unit == CL_UNIT_CYCLES ? ", in cycles" : d->unit == CL_UNIT_BOOLEAN ? ", 0 or 1" : "");
}

/* The stat d0 in schema sc: at index hint when the schemas agree, else found by name. */
static const struct cl_kvm_desc *kvm_find(const struct cl_kvm_schema *sc, size_t hint, const struct cl_kvm_desc *d0) {
        if (hint < sc->n_desc && kvm_desc_same(&sc->desc[hint], d0))
                return &sc->desc[hint];
        for (size_t k = 0; k < sc->n_desc; k++)
                if (kvm_desc_same(&sc->desc[k], d0))
                        return &sc->desc[k];
        return NULL;
}

/* One family: every owner whose schema has the same stat. */
static void kvm_family(struct prom *p, const struct vs_sample *s, bool vcpu, const struct cl_kvm_desc *d0, size_t at,
                       const char *base) {
        char help[256], name[NAME_LEN + 8];
        kvm_help(d0, vcpu, help, sizeof(help));
        snprintf(name, sizeof(name), "%s%s", base, d0->kind == CL_KVM_COUNTER ? "_total" : "");
        family(p, name, d0->kind == CL_KVM_COUNTER ? F_COUNTER : d0->kind == CL_KVM_GAUGE ? F_GAUGE : F_HISTOGRAM,
               help);
        struct kvm_cursor c = { .s = s, .vcpu = vcpu };
        struct kvm_owner o;
        while (kvm_next(&c, &o)) {
                const struct cl_kvm_desc *d = kvm_find(o.schema, at, d0);
                if (d)
                        kvm_series(p, &o, d);
        }
}

/* The union of the owners' stats, each family once: owners whose schema matches the previous
 * one (the same kernel gives the same descriptors) add nothing and are skipped. */
static void kvm_families(struct prom *p, const struct vs_sample *s, bool vcpu, bool histograms) {
        const char *prefix = vcpu ? "vmstatd_kvm_vcpu_" : "vmstatd_kvm_vm_";
        struct kvm_cursor c = { .s = s, .vcpu = vcpu };
        const struct cl_kvm_schema *last = NULL;
        struct kvm_owner o;
        char name[NAME_LEN];
        while (kvm_next(&c, &o)) {
                if (last && kvm_schema_same(last, o.schema))
                        continue;
                last = o.schema;
                for (size_t d = 0; d < o.schema->n_desc; d++) {
                        if (!kvm_renderable(&o.schema->desc[d], histograms))
                                continue;
                        kvm_name(prefix, &o.schema->desc[d], name);
                        if (!kvm_named_before(s, vcpu, prefix, histograms, &o, d, name))
                                kvm_family(p, s, vcpu, &o.schema->desc[d], d, name);
                }
        }
}

/* ---- the body ----------------------------------------------------------------------------------------------- */

int vs_render_prometheus(const struct vs_sample *s, enum vs_prom_format f, const struct vs_render_opts *o,
                         struct vs_buf *out) {
        struct prom p = { .b = out, .om = f == VS_PROM_OPENMETRICS };
        bool histograms = o && o->histograms;

        build_info(&p);
        vm_info(&p, s);
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                table_family(&p, s, &table[i]);
        if (histograms)
                exit_handling(&p, s);
        kvm_families(&p, s, false, histograms);
        kvm_families(&p, s, true, histograms);
        collector_families(&p, s);
        host_families(&p, s);
        render_counts(&p, o);
        if (p.om)
                vs_buf_puts(out, "# EOF\n");
        return vs_buf_status(out);
}

const char *vs_prom_content_type(enum vs_prom_format f) {
        return f == VS_PROM_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                        : "text/plain; version=0.0.4; charset=utf-8";
}
