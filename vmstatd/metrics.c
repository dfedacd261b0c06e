/* The rows of every metric vmstatd names itself (metrics.h). A row reads its number from an
 * immutable sample; rendering, docs parity, the JSON cross-check and vmstatctl's descriptions
 * all walk this one table. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef VMSTATD_VERSION
#define VMSTATD_VERSION "0.1.0"
#endif

#define U(x) ((struct vs_value) { .kind = VS_UINT, .u = (x) })
#define NS(x) ((struct vs_value) { .kind = VS_NS, .u = (x) })
#define REAL(x) ((struct vs_value) { .kind = VS_REAL, .d = (x) })

/* ---- label values ------------------------------------------------------------------------------ */

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

static const char *result_label(unsigned k) {
        return k ? "failure" : "success";
}

/* name="value" pairs for labels whose values are the owner's; values here never need escaping
 * (a version, numbers, collector names, fixed words) */
static size_t pairs(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static size_t pairs(char *out, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(out, size, fmt, ap);
        va_end(ap);
        return n < 0 ? 0 : (size_t) n < size ? (size_t) n : size - 1;
}

static size_t version_labels(const struct vs_metric_at *at, unsigned k, char *out, size_t size) {
        (void) at, (void) k;
        return pairs(out, size, "version=\"%s\"", VMSTATD_VERSION);
}

static size_t vm_info_labels(const struct vs_metric_at *at, unsigned k, char *out, size_t size) {
        (void) k;
        return pairs(out, size, "vcpus=\"%u\",memory=\"%llu\"", at->vm->vcpus,
                     (unsigned long long) at->vm->raw.ram_bytes);
}

static size_t collector_labels(const struct vs_metric_at *at, unsigned k, char *out, size_t size) {
        (void) k;
        return pairs(out, size, "collector=\"%s\"", at->s->collectors[at->collector].name);
}

static size_t render_labels(const struct vs_metric_at *at, unsigned k, char *out, size_t size) {
        (void) at;
        return pairs(out, size, "format=\"%s\",encoding=\"%s\"", k / 2 ? "openmetrics" : "text",
                     k % 2 ? "gzip" : "identity");
}

/* ---- presence ---------------------------------------------------------------------------------- */

static bool started(const struct vs_metric_at *at, int k) {
        (void) k;
        return at->vm->start_time_ns != 0;
}

static bool guest_steal_known(const struct vs_metric_at *at, int k) {
        (void) k;
        return vs_guest_steal_known(&at->vm->raw.vcpus[at->cpu].rs);
}

/* per reason, once it has happened on that vCPU, and only with histograms on */
static bool exit_hist_present(const struct vs_metric_at *at, int k) {
        const struct cl_vcpu_raw *r = &at->vm->raw.vcpus[at->cpu];
        return at->histograms && r->exit_hist && (k < 0 || r->exec.exits[k]);
}

static bool memory_collected(const struct vs_metric_at *at, int k) {
        (void) k;
        for (unsigned c = 0; c < at->s->n_collectors; c++)
                if (strcmp(at->s->collectors[c].name, "memory") == 0)
                        return at->s->host.daemon_rss_bytes != 0;
        return false;
}

static bool interval_known(const struct vs_metric_at *at, int k) {
        (void) k;
        return at->s->interval_ns != 0;
}

/* ---- readers ----------------------------------------------------------------------------------- */

#define VM (at->vm)
#define VC (&at->vm->vcpu[at->cpu])
#define RAW (&at->vm->raw.vcpus[at->cpu])

static struct vs_value one(const struct vs_metric_at *at, unsigned k) {
        (void) at, (void) k;
        return U(1);
}

/* one reader per row: each is the expression the docs' formula names */
#define READER(fn, expr)                                                              \
        static struct vs_value fn(const struct vs_metric_at *at, unsigned k) {        \
                (void) at, (void) k;                                                  \
                return expr;                                                          \
        }

READER(vm_state, U(VM->raw.state == (enum hv_vm_state) k))
READER(vm_start, NS(VM->start_time_ns))
READER(vm_ready, REAL(VM->ready_ratio))
READER(vm_memory, U(VM->raw.ram_bytes))
READER(vm_resident, U(VM->raw.resident_bytes))
READER(vm_restarts, U(VM->restarts))
READER(vm_console, U(VM->raw.console_bytes))
READER(vm_console_dropped, U(VM->console_dropped_bytes))
READER(vcpu_runstate, NS(VC->runstate_ns[k]))
READER(vcpu_ready, REAL(VC->ready_ratio))
READER(vcpu_steal, REAL(k ? VC->steal_xen_ratio : VC->steal_kvm_ratio))
READER(vcpu_exits, U(RAW->exec.exits[k]))
READER(vcpu_runs, U(RAW->exec.runs))
READER(vcpu_immediate, U(RAW->exec.immediate_exits))
READER(vcpu_unhandled, U(k ? RAW->exec.unhandled_mmio : RAW->exec.unhandled_io))
READER(vcpu_cpu, NS(RAW->rs.cpu_ns))
READER(vcpu_run_delay, NS(RAW->sched.run_delay_ns))
READER(vcpu_timeslices, U(RAW->sched.timeslices))
READER(vcpu_migrations, U(RAW->sched.migrations))
READER(vcpu_switches, U(k ? RAW->sched.involuntary_switches : RAW->sched.voluntary_switches))
READER(vcpu_instructions, U(RAW->perf.instructions))
READER(vcpu_cycles, U(RAW->perf.cycles))
READER(vcpu_guest_steal, NS(RAW->rs.steal_ns))
READER(collector_duration, NS(at->s->collectors[at->collector].duration_ns))
READER(collector_success, U(at->s->collectors[at->collector].success))
READER(host_ready, REAL(at->s->host_ready_ratio))
READER(host_rss, U(at->s->host.daemon_rss_bytes))
READER(reloads, U(k ? at->s->daemon.reloads_failure : at->s->daemon.reloads_success))
READER(reload_ok, U(!at->s->daemon.last_reload_failed))
READER(sample_time, NS(at->s->realtime_ns))
READER(sample_interval, NS(at->s->interval_ns))
READER(renders, U(at->renders ? at->renders[k / 2][k % 2] : 0))

/* bucket j of hv's handling histogram holds [2^j, 2^(j+1)) ns */
static double exit_le(size_t j, const void *ctx) {
        (void) ctx;
        return (double) (1ull << (j + 1)) / 1e9;
}

static struct vs_hist exit_handling(const struct vs_metric_at *at, unsigned k) {
        return (struct vs_hist) { .buckets = RAW->exit_hist[k], .n = HV_HIST_BUCKETS, .le = exit_le,
                                  .has_sum = true, .sum = (double) RAW->exec.reason_ns_sum[k] / 1e9 };
}

/* ---- the table --------------------------------------------------------------------------------- */

#define X CL_HAVE_EXECUTOR
#define TEXTS(...) ((const char *const[]) { __VA_ARGS__ })

const struct vs_metric vs_metrics[] = {
        { "vmstatd_build_info", VS_GAUGE, NULL, VS_SCOPE_HOST, .n = 1, .labels = version_labels, .read = one,
          .help = "vmstatd's version; always 1." },
        { "vmstatd_vm_info", VS_GAUGE, NULL, VS_SCOPE_VM, .n = 1, .labels = vm_info_labels, .need = X, .read = one,
          .help = "A VM's configuration; always 1." },
        { "vmstatd_vm_state", VS_GAUGE, NULL, VS_SCOPE_VM, "state", HV_VM_CRASHED + 1, state_label, .need = X,
          .read = vm_state, .help = "1 for the VM's current state, 0 for the others." },
        { "vmstatd_vm_start_time_seconds", VS_GAUGE, "seconds", VS_SCOPE_VM, .n = 1, .present = started,
          .read = vm_start, .help = "When the VM started, seconds since the epoch." },
        { "vmstatd_vm_ready_ratio", VS_GAUGE, "ratio", VS_SCOPE_VM, .n = 1, .need = X, .read = vm_ready,
          .help = "Sum of runnable over sum of wall time of the VM's vCPUs in the last interval." },
        { "vmstatd_vm_memory_bytes", VS_GAUGE, "bytes", VS_SCOPE_VM, .n = 1, .need = X, .read = vm_memory,
          .json = "memory.ram_bytes", .help = "Guest RAM size." },
        { "vmstatd_vm_resident_memory_bytes", VS_GAUGE, "bytes", VS_SCOPE_VM, .n = 1, .need = CL_HAVE_MEMORY,
          .read = vm_resident, .json = "memory.resident_bytes", .help = "Guest RAM resident in host memory (mincore)." },
        { "vmstatd_vm_restarts_total", VS_COUNTER, NULL, VS_SCOPE_VM, .n = 1, .need = X, .read = vm_restarts,
          .json = "restarts", .help = "Automatic restarts of the VM after crashes (restart=on-crash)." },
        { "vmstatd_vm_console_bytes_total", VS_COUNTER, "bytes", VS_SCOPE_VM, .n = 1, .need = X, .read = vm_console,
          .json = "console.bytes", .help = "Bytes the guest wrote to its console (debug port and UART)." },
        { "vmstatd_vm_console_dropped_bytes_total", VS_COUNTER, "bytes", VS_SCOPE_VM, .n = 1, .need = X,
          .read = vm_console_dropped, .json = "console.dropped_bytes",
          .help = "Console bytes that never reached the console log (ring overrun, console_log_max, write error)." },
        { "vmstatd_vcpu_runstate_seconds_total", VS_COUNTER, "seconds", VS_SCOPE_VCPU, "state", HV_RS__COUNT, rs_label,
          .need = X, .read = vcpu_runstate, .json = "runstate_seconds.%s",
          .ctl = TEXTS("on a host CPU (the vCPU thread's CPU time), s",
                       "ready to run, waiting for a host CPU (run_delay), s",
                       "idle: guest halted or waiting in the VMM, s", "not started, paused or stopped, s"),
          .help = "Time in each Xen runstate; the four sum to the vCPU's lifetime exactly." },
        { "vmstatd_vcpu_ready_ratio", VS_GAUGE, "ratio", VS_SCOPE_VCPU, .n = 1, .need = X, .read = vcpu_ready,
          .help = "Runnable (waiting for a host CPU) over wall time in the last interval." },
        { "vmstatd_vcpu_steal_ratio", VS_GAUGE, "ratio", VS_SCOPE_VCPU, "flavor", 2, flavor_label, .need = X,
          .read = vcpu_steal, .help = "Steal in the last interval: kvm = runnable / W, xen = (runnable + offline) / W." },
        { "vmstatd_vcpu_exits_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, "reason", HV_EXIT__COUNT, exit_label, .need = X,
          .read = vcpu_exits, .json = "exits.%s",
          .ctl = TEXTS("KVM_EXIT_IO: port read (IN) handled in userspace",
                       "KVM_EXIT_IO: port write (OUT) handled in userspace",
                       "KVM_EXIT_MMIO: MMIO read handled in userspace", "KVM_EXIT_MMIO: MMIO write handled in userspace",
                       "KVM_EXIT_HLT: HLT reached userspace", "KVM_EXIT_INTR: KVM_RUN interrupted (signal or kick)",
                       "KVM_EXIT_SHUTDOWN: triple fault", "KVM_EXIT_SYSTEM_EVENT: reset, shutdown or crash request",
                       "KVM_EXIT_INTERNAL_ERROR: KVM could not go on (e.g. emulation)",
                       "KVM_EXIT_FAIL_ENTRY: the CPU refused VM entry",
                       "KVM_EXIT_HYPERCALL: hypercall forwarded to userspace",
                       "KVM_EXIT_X86_RDMSR/WRMSR: MSR access forwarded to userspace",
                       "KVM_EXIT_DEBUG: debug exception or single step",
                       "KVM_EXIT_IRQ_WINDOW_OPEN: the guest can take an interrupt", "any other KVM_RUN exit reason"),
          .help = "Returns of KVM_RUN to userspace by kvm_run exit reason." },
        { "vmstatd_vcpu_runs_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, .n = 1, .need = X, .read = vcpu_runs,
          .json = "runs", .ctl = TEXTS("KVM_RUN calls (= the sum of exits)"), .help = "KVM_RUN calls." },
        { "vmstatd_vcpu_immediate_exits_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, .n = 1, .need = X,
          .read = vcpu_immediate, .json = "immediate_exits", .ctl = TEXTS("KVM_RUN calls that returned at once for a kick"),
          .help = "KVM_RUN calls that returned at once because immediate_exit was set (a kick)." },
        { "vmstatd_vcpu_unhandled_accesses_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, "space", 2, space_label, .need = X,
          .read = vcpu_unhandled, .json = "unhandled.%s",
          .ctl = TEXTS("port accesses no device claims (reads see all-ones)",
                       "MMIO accesses no device claims (reads see all-ones)"),
          .help = "Port I/O and MMIO accesses no device claimed." },
        { "vmstatd_vcpu_cpu_seconds_total", VS_COUNTER, "seconds", VS_SCOPE_VCPU, .n = 1, .need = X, .read = vcpu_cpu,
          .json = "sched.cpu_seconds", .ctl = TEXTS("CPU time of the vCPU thread, s"),
          .help = "CPU time of the vCPU thread (its CPU clock)." },
        { "vmstatd_vcpu_run_delay_seconds_total", VS_COUNTER, "seconds", VS_SCOPE_VCPU, .n = 1, .need = CL_HAVE_SCHED,
          .read = vcpu_run_delay, .json = "sched.run_delay_seconds",
          .ctl = TEXTS("time runnable but not running (schedstat), s"),
          .help = "Time the vCPU thread was runnable, waiting for a host CPU (schedstat)." },
        { "vmstatd_vcpu_timeslices_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, .n = 1, .need = CL_HAVE_SCHED,
          .read = vcpu_timeslices, .json = "sched.timeslices", .ctl = TEXTS("timeslices run on a host CPU"),
          .help = "Timeslices the vCPU thread ran (schedstat)." },
        { "vmstatd_vcpu_migrations_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, .n = 1, .need = CL_HAVE_SCHED,
          .read = vcpu_migrations, .json = "sched.migrations", .ctl = TEXTS("moves to another host CPU"),
          .help = "Migrations of the vCPU thread between host CPUs." },
        { "vmstatd_vcpu_context_switches_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, "kind", 2, switch_label,
          .need = CL_HAVE_SCHED, .read = vcpu_switches, .json = "sched.%s_switches",
          .ctl = TEXTS("context switches the thread asked for (sleep, halt)", "context switches forced by preemption"),
          .help = "Context switches of the vCPU thread." },
        { "vmstatd_vcpu_guest_instructions_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, .n = 1, .need = CL_HAVE_PERF,
          .read = vcpu_instructions, .json = "perf.instructions", .ctl = TEXTS("instructions retired in the guest"),
          .help = "Instructions retired in guest mode (perf, exclude_host)." },
        { "vmstatd_vcpu_guest_cycles_total", VS_COUNTER, NULL, VS_SCOPE_VCPU, .n = 1, .need = CL_HAVE_PERF,
          .read = vcpu_cycles, .json = "perf.cycles", .ctl = TEXTS("CPU cycles in the guest"),
          .help = "Cycles in guest mode (perf, exclude_host)." },
        { "vmstatd_vcpu_guest_steal_seconds_total", VS_COUNTER, "seconds", VS_SCOPE_VCPU, .n = 1, .need = X,
          .present = guest_steal_known, .read = vcpu_guest_steal, .json = "guest_steal_seconds",
          .ctl = TEXTS("steal the guest sees in its MSR_KVM_STEAL_TIME record (record: on, off, invalid, never)"),
          .help = "Steal time as the guest sees it: its MSR_KVM_STEAL_TIME record (only once it registered one)." },
        { "vmstatd_vcpu_exit_handling_seconds", VS_HISTOGRAM, "seconds", VS_SCOPE_VCPU, "reason", HV_EXIT__COUNT,
          exit_label, .need = X, .present = exit_hist_present, .hist = exit_handling,
          .help = "Time from KVM_RUN returning to the next call (userspace exit handling), by exit reason." },
        { "vmstatd_scrape_collector_duration_seconds", VS_GAUGE, "seconds", VS_SCOPE_COLLECTOR, .n = 1,
          .labels = collector_labels, .read = collector_duration, .help = "Time the collector took in the last sample." },
        { "vmstatd_scrape_collector_success", VS_GAUGE, NULL, VS_SCOPE_COLLECTOR, .n = 1, .labels = collector_labels,
          .read = collector_success, .help = "1 when the collector succeeded for every VM in the last sample, else 0." },
        { "vmstatd_host_ready_ratio", VS_GAUGE, "ratio", VS_SCOPE_HOST, .n = 1, .read = host_ready,
          .help = "Sum of runnable over sum of wall time of every vCPU of every VM in the last interval." },
        { "vmstatd_resident_memory_bytes", VS_GAUGE, "bytes", VS_SCOPE_HOST, .n = 1, .present = memory_collected,
          .read = host_rss, .help = "The daemon's resident set size." },
        { "vmstatd_config_reloads_total", VS_COUNTER, NULL, VS_SCOPE_HOST, "result", 2, result_label, .read = reloads,
          .help = "Configuration reloads (SIGHUP) by result." },
        { "vmstatd_config_last_reload_successful", VS_GAUGE, NULL, VS_SCOPE_HOST, .n = 1, .read = reload_ok,
          .help = "0 when the last reload was rejected (the previous configuration runs), else 1." },
        { "vmstatd_sample_timestamp_seconds", VS_GAUGE, "seconds", VS_SCOPE_HOST, .n = 1, .read = sample_time,
          .help = "When the sample was taken, seconds since the epoch." },
        { "vmstatd_sample_interval_seconds", VS_GAUGE, "seconds", VS_SCOPE_HOST, .n = 1, .present = interval_known,
          .read = sample_interval, .help = "Wall time between the last two samples." },
        { "vmstatd_render_total", VS_COUNTER, NULL, VS_SCOPE_HOST, .n = 4, .labels = render_labels, .read = renders,
          .help = "/metrics bodies rendered, by format and encoding: at most one per sample and variant, only when "
                  "asked." },
};

const size_t vs_n_metrics = sizeof(vs_metrics) / sizeof(vs_metrics[0]);

const struct vs_metric *vs_metric_find(const char *name) {
        for (size_t i = 0; i < vs_n_metrics; i++)
                if (strcmp(vs_metrics[i].name, name) == 0)
                        return &vs_metrics[i];
        return NULL;
}

bool vs_metric_has(const struct vs_metric *m, const struct vs_metric_at *at, int k) {
        if (m->scope == VS_SCOPE_VM && (at->vm->raw.have & m->need) != m->need)
                return false;
        if (m->scope == VS_SCOPE_VCPU &&
            ((unsigned) at->cpu >= at->vm->raw.n_vcpus || (at->vm->raw.vcpus[at->cpu].have & m->need) != m->need))
                return false;
        return !m->present || m->present(at, k);
}

const char *vs_metric_ctl(const char *json) {
        char name[128];
        for (size_t i = 0; i < vs_n_metrics; i++)
                for (unsigned k = 0; vs_metrics[i].ctl && k < vs_metrics[i].n; k++)
                        if (vs_metric_json(&vs_metrics[i], k, name, sizeof(name)) && strcmp(name, json) == 0)
                                return vs_metrics[i].ctl[k];
        return NULL;
}

bool vs_metric_json(const struct vs_metric *m, unsigned k, char *out, size_t size) {
        if (!m->json)
                return false;
        const char *at = strstr(m->json, "%s");
        int n = at && m->label_value ? snprintf(out, size, "%.*s%s%s", (int) (at - m->json), m->json, m->label_value(k), at + 2)
                                     : snprintf(out, size, "%s", m->json);
        return n > 0 && (size_t) n < size;
}
