/* vmstatctl stats NAME: every counter of every vCPU of a VM with what it means (bhyvectl
 * --get-stats), the exit handling table of perf kvm stat, then the VM's own KVM statistics. */
#include <string.h>

#include "counters.h"
#include "ctl.h"
#include "metrics.h"

struct desc {
        const char *name, *text;
};

/* the kernel names its stats; these are x86's (virt/kvm/kvm_main.c, arch/x86/kvm/x86.c) */
static const struct desc kvm_descs[] = {
        { "halt_successful_poll", "halt polls that saw a wake-up before sleeping" },
        { "halt_attempted_poll", "halt polls attempted" },
        { "halt_poll_invalid", "halt polls ended by an invalid wake-up" },
        { "halt_wakeup", "wake-ups from halt" },
        { "halt_poll_success_ns", "time polling in successful halt polls (s)" },
        { "halt_poll_fail_ns", "time polling in failed halt polls (s)" },
        { "halt_wait_ns", "time halted, waiting for a wake-up (s)" },
        { "blocking", "1 while the vCPU is blocked in halt" },
        { "pf_taken", "page faults KVM took" },
        { "pf_fixed", "page faults fixed by mapping a page" },
        { "pf_emulate", "page faults resolved by emulating the instruction" },
        { "pf_spurious", "page faults another vCPU had already fixed" },
        { "pf_fast", "page faults fixed on the lockless fast path" },
        { "pf_mmio_spte_created", "MMIO SPTEs created" },
        { "pf_guest", "page faults injected into the guest" },
        { "tlb_flush", "TLB flushes of this vCPU" },
        { "invlpg", "INVLPG instructions emulated" },
        { "exits", "VM exits KVM handled (in-kernel and to userspace)" },
        { "io_exits", "port I/O exits KVM sent to userspace" },
        { "mmio_exits", "MMIO exits KVM sent to userspace" },
        { "signal_exits", "exits to userspace for a pending signal" },
        { "irq_window_exits", "interrupt-window exits" },
        { "nmi_window_exits", "NMI-window exits" },
        { "l1d_flush", "L1D cache flushes (L1TF mitigation)" },
        { "halt_exits", "HLT exits" },
        { "request_irq_exits", "exits to userspace to request an interrupt window" },
        { "irq_exits", "exits caused by a host interrupt" },
        { "host_state_reload", "full host state reloads" },
        { "fpu_reload", "guest FPU state loads" },
        { "insn_emulation", "instructions KVM emulated" },
        { "insn_emulation_fail", "instructions KVM failed to emulate" },
        { "hypercalls", "hypercalls KVM handled" },
        { "irq_injections", "interrupts injected" },
        { "nmi_injections", "NMIs injected" },
        { "req_event", "pending-event requests processed" },
        { "nested_run", "nested VM entries (the guest ran its own guest)" },
        { "directed_yield_attempted", "PV directed yields attempted" },
        { "directed_yield_successful", "PV directed yields that succeeded" },
        { "preemption_reported", "preemptions reported to the guest (steal time)" },
        { "preemption_other", "preemptions not reported to the guest" },
        { "guest_mode", "1 while the vCPU runs a nested guest" },
        { "notify_window_exits", "notify VM exits (guest stuck in an uninterruptible state)" },
        { "remote_tlb_flush", "remote TLB flushes" },
        { "remote_tlb_flush_requests", "remote TLB flush requests" },
        { "mmu_shadow_zapped", "shadow pages zapped" },
        { "mmu_pte_write", "guest writes to shadowed page tables" },
        { "mmu_pde_zapped", "shadow PDEs zapped" },
        { "mmu_flooded", "shadow pages zapped for being written too often" },
        { "mmu_recycled", "shadow pages recycled" },
        { "mmu_cache_miss", "shadow page cache misses" },
        { "mmu_unsync", "unsynced shadow pages" },
        { "pages_4k", "guest memory mapped with 4 KiB pages (pages)" },
        { "pages_2m", "guest memory mapped with 2 MiB pages (pages)" },
        { "pages_1g", "guest memory mapped with 1 GiB pages (pages)" },
        { "nx_lpage_splits", "huge pages split for NX (iTLB multihit mitigation)" },
        { "max_mmu_rmap_size", "largest reverse-map chain (peak)" },
        { "max_mmu_page_hash_collisions", "most shadow-page hash collisions (peak)" },
        { NULL, NULL },
};

static const char *describe(const struct desc *d, const char *name) {
        for (; d->name; d++)
                if (strcmp(d->name, name) == 0)
                        return d->text;
        return NULL;
}

/* one line: COUNTER VALUE LAST-INTERVAL DESCRIPTION */
static void stat_line(const char *prefix, const char *name, json_t *value, const char *interval, const char *desc) {
        char key[96], val[32];
        snprintf(key, sizeof(key), "%s%s", prefix, name);
        if (json_is_integer(value))
                snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        else if (json_is_real(value))
                snprintf(val, sizeof(val), "%.6f", json_real_value(value));
        else
                snprintf(val, sizeof(val), "-");
        printf("  %-36s %18s %14s  %s\n", key, val, interval ? interval : "", desc ? desc : "");
}

static const char *rate_text(char *buf, size_t len, json_t *rate) {
        if (!json_is_number(rate))
                return "";
        snprintf(buf, len, "%.1f/s", json_number_value(rate));
        return buf;
}

static const char *pct_text(char *buf, size_t len, json_t *pct) {
        if (!json_is_number(pct))
                return "";
        snprintf(buf, len, "%.2f%%", json_number_value(pct));
        return buf;
}

/* perf kvm stat's table: per exit reason, how many, mean and max handling time, share of it all */
static void exit_reason_table(json_t *by_reason, json_t *sum) {
        const char *reason;
        json_t *r;
        double all = json_number_value(sum);
        if (!json_object_size(by_reason))
                return;
        printf("  %-16s %12s %12s %12s %8s\n", "exit handling", "count", "mean", "max", "time%");
        json_object_foreach(by_reason, reason, r) {
                double t = json_number_value(json_object_get(r, "sum_seconds"));
                printf("  %-16s %12.0f %9.2f us %9.2f us %7.2f%%\n", reason, json_number_value(json_object_get(r, "count")),
                       json_number_value(json_object_get(r, "mean_seconds")) * 1e6,
                       json_number_value(json_object_get(r, "max_seconds")) * 1e6, all > 0 ? 100 * t / all : 0.0);
        }
}

/* kvm.{stat} with kvm_per_sec; histograms show how many values they hold */
static void kvm_lines(json_t *o) {
        json_t *kvm = json_object_get(o, "kvm"), *rates = json_object_get(o, "kvm_per_sec"), *v;
        const char *name;
        char buf[48], hdesc[160];
        json_object_foreach(kvm, name, v) {
                const char *d = describe(kvm_descs, name);
                if (json_is_object(v)) { /* {"buckets": [...], "sum": s} */
                        json_t *b;
                        size_t i;
                        json_int_t n = 0;
                        json_array_foreach(json_object_get(v, "buckets"), i, b)
                                n += json_integer_value(b);
                        snprintf(hdesc, sizeof(hdesc), "histogram: values counted in %zu buckets%s",
                                 json_array_size(json_object_get(v, "buckets")),
                                 json_object_get(v, "sum") ? ", sum in s" : "");
                        json_t *count = json_integer(n);
                        stat_line("kvm.", name, count, "", hdesc);
                        json_decref(count);
                        continue;
                }
                size_t len = strlen(name);
                if (!d && len > 3 && (strcmp(name + len - 3, "_ns") == 0 || strcmp(name + len - 3, "_us") == 0))
                        d = "kernel statistic, time (s)";
                stat_line("kvm.", name, v, rate_text(buf, sizeof(buf), json_object_get(rates, name)),
                          d ? d : "kernel statistic (KVM stats fd)");
        }
}

static void vcpu_stats(json_t *v) {
        static const char *const sched[] = { "cpu_seconds", "run_delay_seconds", "timeslices", "migrations",
                                             "voluntary_switches", "involuntary_switches" };
        char buf[48], key[64];
        json_t *x;
        json_t *tid = json_object_get(v, "tid");
        if (json_is_integer(tid))
                printf("vcpu %.0f (thread %" JSON_INTEGER_FORMAT ")\n", jnum(v, "id"), json_integer_value(tid));
        else
                printf("vcpu %.0f (no thread)\n", jnum(v, "id"));
        for (enum hv_rs st = 0; st < HV_RS__COUNT; st++) {
                const char *name = hv_rs_name(st);
                snprintf(key, sizeof(key), "runstate_seconds.%s", name);
                stat_line("runstate_seconds.", name, jpath(v, key),
                          pct_text(buf, sizeof(buf), jpath(json_object_get(v, "runstate_pct"), name)), vs_metric_ctl(key));
        }
        stat_line("", "ready_pct", NULL, pct_text(buf, sizeof(buf), json_object_get(v, "ready_pct")),
                  "CPU ready: runnable / interval (esxtop %RDY)");
        stat_line("", "steal_pct.kvm", NULL, pct_text(buf, sizeof(buf), jpath(v, "steal_pct.kvm")),
                  "steal as KVM reports it to the guest: runnable / interval");
        stat_line("", "steal_pct.xen", NULL, pct_text(buf, sizeof(buf), jpath(v, "steal_pct.xen")),
                  "steal as Xen counts it: (runnable + offline) / interval");
        stat_line("", "guest_steal_seconds", json_object_get(v, "guest_steal_seconds"),
                  pct_text(buf, sizeof(buf), json_object_get(v, "guest_steal_pct")),
                  vs_metric_ctl("guest_steal_seconds"));
        printf("  %-36s %18s\n", "guest_steal_record", jstr(v, "guest_steal_record", "-"));
        for (enum hv_exit e = 0; e < HV_EXIT__COUNT; e++) { /* hv's list: a new exit cannot be missed */
                const char *reason = hv_exit_name(e);
                snprintf(key, sizeof(key), "exits.%s", reason);
                stat_line("exits.", reason, jpath(v, key),
                          rate_text(buf, sizeof(buf), jpath(json_object_get(v, "exits_per_sec"), reason)),
                          vs_metric_ctl(key));
        }
        stat_line("", "runs", json_object_get(v, "runs"), rate_text(buf, sizeof(buf), jpath(v, "rates.runs")),
                  vs_metric_ctl("runs"));
        stat_line("", "immediate_exits", json_object_get(v, "immediate_exits"),
                  rate_text(buf, sizeof(buf), jpath(v, "rates.immediate_exits")), vs_metric_ctl("immediate_exits"));
        stat_line("", "unhandled.io", jpath(v, "unhandled.io"), rate_text(buf, sizeof(buf), jpath(v, "rates.unhandled_io")),
                  vs_metric_ctl("unhandled.io"));
        stat_line("", "unhandled.mmio", jpath(v, "unhandled.mmio"),
                  rate_text(buf, sizeof(buf), jpath(v, "rates.unhandled_mmio")), vs_metric_ctl("unhandled.mmio"));
        stat_line("", "exit_handling.count", jpath(v, "exit_handling.count"), "", "exits timed in userspace");
        stat_line("", "exit_handling.sum_seconds", jpath(v, "exit_handling.sum_seconds"), "",
                  "time from KVM_RUN returning to the next call, s");
        exit_reason_table(jpath(v, "exit_handling.by_reason"), jpath(v, "exit_handling.sum_seconds"));
        if ((x = json_object_get(v, "sched")))
                for (size_t i = 0; i < sizeof(sched) / sizeof(sched[0]); i++) {
                        char rate_key[64];
                        snprintf(rate_key, sizeof(rate_key), "rates.%s", sched[i]);
                        snprintf(key, sizeof(key), "sched.%s", sched[i]);
                        stat_line("sched.", sched[i], json_object_get(x, sched[i]),
                                  rate_text(buf, sizeof(buf), jpath(x, rate_key)), vs_metric_ctl(key));
                }
        if ((x = json_object_get(v, "perf"))) {
                stat_line("perf.", "instructions", json_object_get(x, "instructions"),
                          rate_text(buf, sizeof(buf), json_object_get(x, "ips")), vs_metric_ctl("perf.instructions"));
                stat_line("perf.", "cycles", json_object_get(x, "cycles"), "", vs_metric_ctl("perf.cycles"));
        }
        kvm_lines(v);
}

int verb_stats(struct ctl *c, const char *verb, const char *name) {
        char path[64], what[64], mem[16], res[16], up[32];
        json_t *vm, *v;
        size_t i;
        snprintf(path, sizeof(path), "/vms/%s", name);
        snprintf(what, sizeof(what), "%s %s", verb, name);
        int r = ctl_get_or_echo(c, path, what, &vm);
        if (r || !vm)
                return r;
        printf("VM %s: %s, %.0f vCPUs, %s RAM (%s resident), up %s, restarts %.0f\n", jstr(vm, "name", name),
               jstr(vm, "state", "?"), jnum(vm, "config.vcpus"), fmt_bytes(mem, sizeof(mem), jnum(vm, "memory.ram_bytes")),
               fmt_bytes(res, sizeof(res), jnum(vm, "memory.resident_bytes")),
               fmt_uptime(up, sizeof(up), jnum(vm, "uptime_seconds")), jnum(vm, "restarts"));
        printf("sample %s, interval %.3f s; LAST INTERVAL = rate or share of the last interval\n\n",
               jstr(vm, "sample_time", "-"), jnum(vm, "interval_seconds"));
        printf("  %-36s %18s %14s  %s\n", "COUNTER", "VALUE", "LAST INTERVAL", "DESCRIPTION");
        json_array_foreach(json_object_get(vm, "vcpus"), i, v) {
                vcpu_stats(v);
                printf("\n");
        }
        printf("vm\n");
        kvm_lines(vm);
        json_decref(vm);
        return EXIT_OK;
}

