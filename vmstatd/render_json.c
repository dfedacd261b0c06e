#define _GNU_SOURCE
/* JSON documents of the HTTP API, from an immutable sample (see render_json.h). Builders fail
 * as a whole: a member that could not be allocated makes json_object_set_new() fail, which
 * the builder turns into NULL, so a reply never silently lacks a field. */
#include "render_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "runstate.h"
#include "vm.h"

/* ---- values ------------------------------------------------------------------------------------- */

static json_t *uint_json(uint64_t v) {
        return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t) v);
}

/* jansson refuses NaN and infinities; none should reach here, null says "no number" if one does */
static json_t *real_json(double v) {
        return isfinite(v) ? json_real(v) : json_null();
}

static json_t *seconds_json(uint64_t ns) {
        return json_real((double) ns / 1e9);
}

static json_t *pct_json(double ratio) {
        return real_json(100.0 * ratio);
}

static json_t *pct_of(uint64_t part, uint64_t whole) {
        return json_real(whole ? 100.0 * (double) part / (double) whole : 0.0);
}

/* Strings from outside (collector errors, names) may not be UTF-8, which jansson refuses:
 * such bytes become '?' rather than losing the whole reply. */
static json_t *text_json(const char *s) {
        json_t *j = json_string(s ? s : "");
        if (j || !s)
                return j;
        char *copy = strdup(s);
        if (!copy)
                return NULL;
        for (char *p = copy; *p; p++)
                if ((unsigned char) *p >= 0x80)
                        *p = '?';
        j = json_string(copy);
        free(copy);
        return j;
}

/* RFC 3339 UTC with milliseconds: "2026-11-21T22:19:03.123Z" */
static json_t *time_json(uint64_t realtime_ns) {
        char buf[64];
        struct tm tm;
        time_t sec = (time_t) (realtime_ns / 1000000000ull);
        if (!gmtime_r(&sec, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                return json_null();
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof(buf) - len, ".%03uZ", (unsigned) (realtime_ns / 1000000ull % 1000));
        return json_string(buf);
}

/* ---- building --------------------------------------------------------------------------------- */

/* Sets o[key] = v (stealing v); false when o or v is missing. Used as ok &= set(...) so that
 * every value is consumed even after a failure. */
static bool set(json_t *o, const char *key, json_t *v) {
        return json_object_set_new(o, key, v) == 0;
}

static bool append(json_t *a, json_t *v) {
        return json_array_append_new(a, v) == 0;
}

static json_t *done(json_t *j, bool ok) {
        if (ok)
                return j;
        json_decref(j);
        return NULL;
}

/* {running, runnable, blocked, offline} */
static json_t *runstate_seconds_json(const uint64_t ns[HV_RS__COUNT]) {
        json_t *o = json_object();
        bool ok = o != NULL;
        for (unsigned st = 0; st < HV_RS__COUNT; st++)
                ok &= set(o, hv_rs_name(st), seconds_json(ns[st]));
        return done(o, ok);
}

static json_t *runstate_pct_json(const uint64_t delta[HV_RS__COUNT], uint64_t w) {
        json_t *o = json_object();
        bool ok = o != NULL;
        for (unsigned st = 0; st < HV_RS__COUNT; st++)
                ok &= set(o, hv_rs_name(st), pct_of(delta[st], w));
        return done(o, ok);
}

static json_t *steal_json(double kvm_ratio, double xen_ratio) {
        json_t *o = json_object();
        bool ok = o != NULL;
        ok &= set(o, "kvm", pct_json(kvm_ratio));
        ok &= set(o, "xen", pct_json(xen_ratio));
        return done(o, ok);
}

/* {reason: n} over all HV_EXIT__COUNT reasons */
static json_t *exits_json(const uint64_t n[HV_EXIT__COUNT]) {
        json_t *o = json_object();
        bool ok = o != NULL;
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                ok &= set(o, hv_exit_name(e), uint_json(n[e]));
        return done(o, ok);
}

static json_t *exit_rates_json(const double rate[HV_EXIT__COUNT]) {
        json_t *o = json_object();
        bool ok = o != NULL;
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                ok &= set(o, hv_exit_name(e), real_json(rate[e]));
        return done(o, ok);
}

/* {reason: {count, sum_seconds, mean_seconds, max_seconds}} for the reasons that happened
 * (perf kvm stat's view; the buckets per reason are on /metrics with histograms on) */
static json_t *exit_reasons_json(const struct hv_counters *c) {
        json_t *o = json_object();
        bool ok = o != NULL;
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++) {
                if (!c->exits[e])
                        continue;
                json_t *r = json_object();
                ok &= set(r, "count", uint_json(c->exits[e]));
                ok &= set(r, "sum_seconds", seconds_json(c->reason_ns_sum[e]));
                ok &= set(r, "mean_seconds", real_json((double) c->reason_ns_sum[e] / (double) c->exits[e] / 1e9));
                ok &= set(r, "max_seconds", seconds_json(c->reason_ns_max[e]));
                ok &= set(o, hv_exit_name(e), r);
        }
        return done(o, ok);
}

/* {count, sum_seconds, buckets: [{le_seconds, count}], by_reason}: non-empty log2 buckets only, each with
 * its own count; bucket i ends at 2^(i+1) ns, the last one has no end (le_seconds null). */
static json_t *exit_handling_json(const struct hv_counters *c) {
        json_t *o = json_object(), *buckets = json_array();
        bool ok = o && buckets;
        uint64_t count = 0;
        for (unsigned i = 0; i < HV_HIST_BUCKETS; i++) {
                if (!c->handle_ns_hist[i])
                        continue;
                count += c->handle_ns_hist[i];
                json_t *b = json_object();
                bool last = i == HV_HIST_BUCKETS - 1;
                ok &= set(b, "le_seconds", last ? json_null() : json_real(ldexp(1.0, (int) i + 1) / 1e9));
                ok &= set(b, "count", uint_json(c->handle_ns_hist[i]));
                ok &= append(buckets, b);
        }
        ok &= set(o, "count", uint_json(count));
        ok &= set(o, "sum_seconds", seconds_json(c->handle_ns_sum));
        ok &= set(o, "buckets", buckets);
        ok &= set(o, "by_reason", exit_reasons_json(c));
        return done(o, ok);
}

static json_t *scaled_json(uint64_t raw, double scale) {
        return scale == 1.0 ? uint_json(raw) : real_json((double) raw * scale);
}

/* One KVM stat: a number in base units, an array for multi-valued stats, or a histogram
 * {buckets: [per-bucket counts], sum: seconds or null}. */
static json_t *kvm_stat_json(const struct cl_kvm_schema *schema, const struct cl_kvm_desc *d, const uint64_t *v) {
        bool hist = d->kind == CL_KVM_HIST_LINEAR || d->kind == CL_KVM_HIST_LOG;
        if (!hist && d->size == 1)
                return scaled_json(v[d->index], d->scale);
        json_t *a = json_array();
        bool ok = a != NULL;
        for (uint32_t j = 0; j < d->size; j++)
                ok &= append(a, hist ? uint_json(v[d->index + j]) : scaled_json(v[d->index + j], d->scale));
        if (!hist)
                return done(a, ok);
        json_t *o = json_object();
        const struct cl_kvm_desc *sum = d->sum_of >= 0 ? &schema->desc[d->sum_of] : NULL;
        ok &= set(o, "buckets", a);
        ok &= set(o, "sum", sum ? scaled_json(v[sum->index], sum->scale) : json_null());
        return done(o, ok);
}

static json_t *kvm_json(const struct cl_kvm_schema *schema, const uint64_t *values) {
        json_t *o = json_object();
        bool ok = o != NULL;
        for (size_t i = 0; i < schema->n_desc; i++)
                if (schema->desc[i].exported)
                        ok &= set(o, schema->desc[i].name, kvm_stat_json(schema, &schema->desc[i], values));
        return done(o, ok);
}

/* per-second rates of the counter stats, already in base units; rate NULL: all 0 (the vCPU did
 * not run since the last sample) */
static json_t *kvm_rates_json(const struct cl_kvm_schema *schema, const double *rate) {
        json_t *o = json_object();
        bool ok = o != NULL;
        for (size_t i = 0; i < schema->n_desc; i++) {
                const struct cl_kvm_desc *d = &schema->desc[i];
                if (d->kind != CL_KVM_COUNTER || !d->exported)
                        continue;
                if (d->size == 1) {
                        ok &= set(o, d->name, real_json(rate ? rate[d->index] : 0.0));
                        continue;
                }
                json_t *a = json_array();
                for (uint32_t j = 0; j < d->size; j++)
                        ok &= append(a, real_json(rate ? rate[d->index + j] : 0.0));
                ok &= set(o, d->name, a);
        }
        return done(o, ok);
}

/* kvm and kvm_per_sec, when the kvm collector read this fd */
static bool set_kvm(json_t *o, const struct cl_kvm_schema *schema, const uint64_t *values, const double *rate) {
        bool ok = true;
        if (!schema || !values)
                return true;
        ok &= set(o, "kvm", kvm_json(schema, values));
        ok &= set(o, "kvm_per_sec", kvm_rates_json(schema, rate));
        return ok;
}

/* ---- a vCPU ------------------------------------------------------------------------------------- */

static json_t *sched_json(const struct cl_vcpu_raw *raw, const struct vs_vcpu_rates *rate) {
        json_t *o = json_object(), *r = json_object();
        bool ok = o && r;
        ok &= set(o, "cpu_seconds", seconds_json(raw->rs.cpu_ns));
        ok &= set(o, "run_delay_seconds", seconds_json(raw->sched.run_delay_ns));
        ok &= set(o, "timeslices", uint_json(raw->sched.timeslices));
        ok &= set(o, "migrations", uint_json(raw->sched.migrations));
        ok &= set(o, "voluntary_switches", uint_json(raw->sched.voluntary_switches));
        ok &= set(o, "involuntary_switches", uint_json(raw->sched.involuntary_switches));
        ok &= set(r, "timeslices", real_json(rate->timeslices));
        ok &= set(r, "migrations", real_json(rate->migrations));
        ok &= set(r, "voluntary_switches", real_json(rate->voluntary_switches));
        ok &= set(r, "involuntary_switches", real_json(rate->involuntary_switches));
        ok &= set(o, "rates", r);
        return done(o, ok);
}

static json_t *perf_json(const struct cl_vcpu_raw *raw, const struct vs_vcpu_rates *rate) {
        json_t *o = json_object();
        bool ok = o != NULL;
        ok &= set(o, "instructions", uint_json(raw->perf.instructions));
        ok &= set(o, "cycles", uint_json(raw->perf.cycles));
        ok &= set(o, "ips", real_json(rate->guest_instructions));
        return done(o, ok);
}

/* executor counters' per-second rates */
static json_t *exec_rates_json(const struct vs_vcpu_rates *rate) {
        json_t *o = json_object();
        bool ok = o != NULL;
        ok &= set(o, "runs", real_json(rate->runs));
        ok &= set(o, "immediate_exits", real_json(rate->immediate_exits));
        ok &= set(o, "unhandled_io", real_json(rate->unhandled_io));
        ok &= set(o, "unhandled_mmio", real_json(rate->unhandled_mmio));
        return done(o, ok);
}

static json_t *vcpu_json(const struct vs_vm_sample *vm, unsigned i) {
        const struct vs_vcpu_sample *v = &vm->vcpu[i];
        const struct cl_vcpu_raw *raw = &vm->raw.vcpus[i];
        json_t *o = json_object(), *unhandled = json_object();
        bool ok = o && unhandled;

        ok &= set(o, "id", json_integer(i));
        /* an exited thread's id may belong to another thread by now */
        ok &= set(o, "tid", raw->rs.tid > 0 && !raw->rs.exited ? json_integer(raw->rs.tid) : json_null());
        ok &= set(o, "runstate_seconds", runstate_seconds_json(v->runstate_ns));
        ok &= set(o, "runstate_pct", runstate_pct_json(v->delta_ns, v->w_ns));
        ok &= set(o, "interval_seconds", seconds_json(v->w_ns));
        ok &= set(o, "ready_pct", pct_json(v->ready_ratio));
        ok &= set(o, "steal_pct", steal_json(v->steal_kvm_ratio, v->steal_xen_ratio));
        /* the guest's own view (MSR_KVM_STEAL_TIME): null until it registered a valid record */
        bool known = vs_guest_steal_known(&raw->rs);
        ok &= set(o, "guest_steal_enabled", json_boolean(raw->rs.steal == HV_STEAL_ON));
        ok &= set(o, "guest_steal_record", json_string(hv_steal_name(raw->rs.steal)));
        ok &= set(o, "guest_steal_seconds", known ? seconds_json(raw->rs.steal_ns) : json_null());
        ok &= set(o, "guest_steal_pct", v->guest_steal_have ? pct_json(v->guest_steal_ratio) : json_null());
        ok &= set(o, "exits", exits_json(raw->exec.exits));
        ok &= set(o, "exits_delta", exits_json(v->exit_delta));
        ok &= set(o, "exits_per_sec", exit_rates_json(v->exit_rate));
        ok &= set(o, "runs", uint_json(raw->exec.runs));
        ok &= set(o, "immediate_exits", uint_json(raw->exec.immediate_exits));
        ok &= set(unhandled, "io", uint_json(raw->exec.unhandled_io));
        ok &= set(unhandled, "mmio", uint_json(raw->exec.unhandled_mmio));
        ok &= set(o, "unhandled", unhandled);
        ok &= set(o, "rates", exec_rates_json(&v->rate));
        ok &= set(o, "exit_handling", exit_handling_json(&raw->exec));
        if (raw->have & CL_HAVE_SCHED)
                ok &= set(o, "sched", sched_json(raw, &v->rate));
        if (raw->have & CL_HAVE_PERF)
                ok &= set(o, "perf", perf_json(raw, &v->rate));
        ok &= set_kvm(o, raw->kvm_schema, raw->kvm, v->kvm_rate);
        return done(o, ok);
}

json_t *vs_json_vcpu(const struct vs_sample *s, const struct vs_vm_sample *vm, unsigned vcpu) {
        (void) s; /* a vCPU's interval is its own W */
        if (vcpu >= vm->vcpus)
                return NULL;
        return vcpu_json(vm, vcpu);
}

/* ---- a VM ----------------------------------------------------------------------------------------- */

/* state, reason (null unless stopped or crashed), exit_code (only when stopped by one), signal
 * (only when its worker died of a known one), worker_pid */
static bool set_state(json_t *o, const struct cl_vm_raw *raw) {
        bool ended = raw->state == HV_VM_STOPPED || raw->state == HV_VM_CRASHED;
        bool ok = set(o, "state", json_string(hv_vm_state_name(raw->state)));
        ok &= set(o, "reason", ended ? json_string(hv_vm_reason_name(raw->reason)) : json_null());
        if (ended && raw->reason == HV_REASON_EXIT_CODE)
                ok &= set(o, "exit_code", json_integer(raw->exit_code));
        if (ended && raw->reason == HV_REASON_WORKER_DIED && raw->detail > 0 && raw->detail < 65) {
                const char *abbrev = sigabbrev_np((int) raw->detail);
                char name[16];
                snprintf(name, sizeof(name), "SIG%s", abbrev ? abbrev : "?");
                ok &= set(o, "signal", json_string(name));
        }
        if (raw->have & CL_HAVE_EXECUTOR)
                ok &= set(o, "worker_pid", json_integer(raw->pid));
        return ok;
}

/* Seconds since the start while running or paused; 0 before the start and once ended. */
static json_t *uptime_json(const struct vs_sample *s, const struct vs_vm_sample *vm) {
        bool up = vm->raw.state == HV_VM_RUNNING || vm->raw.state == HV_VM_PAUSED;
        uint64_t t0 = vm->start_time_ns;
        return seconds_json(up && t0 && s->realtime_ns > t0 ? s->realtime_ns - t0 : 0);
}

static json_t *resident_json(const struct vs_vm_sample *vm) {
        return vm->raw.have & CL_HAVE_MEMORY ? uint_json(vm->raw.resident_bytes) : json_null();
}

static double vm_exit_rate(const struct vs_vm_sample *vm) {
        double sum = 0;
        for (unsigned i = 0; i < vm->vcpus; i++)
                for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                        sum += vm->vcpu[i].exit_rate[e];
        return sum;
}

static json_t *collectors_json(const struct vs_sample *s) {
        json_t *a = json_array();
        bool ok = a != NULL;
        for (unsigned i = 0; i < s->n_collectors; i++) {
                const struct vs_collector_result *c = &s->collectors[i];
                json_t *o = json_object();
                ok &= set(o, "name", text_json(c->name));
                ok &= set(o, "success", json_boolean(c->success));
                ok &= set(o, "duration_seconds", seconds_json(c->duration_ns));
                if (!c->success)
                        ok &= set(o, "error", text_json(c->error));
                ok &= append(a, o);
        }
        return done(a, ok);
}

/* sample_time, sample_time_unix, interval_seconds: when and over how long s was taken */
static bool set_sample_times(json_t *o, const struct vs_sample *s) {
        bool ok = set(o, "sample_time", time_json(s->realtime_ns));
        ok &= set(o, "sample_time_unix", seconds_json(s->realtime_ns));
        ok &= set(o, "interval_seconds", seconds_json(s->interval_ns));
        return ok;
}

/* The VM's own fields first, its (long) vCPU array last, for people reading it in a terminal. */
json_t *vs_json_vm(const struct vs_sample *s, const struct vs_vm_sample *vm) {
        json_t *o = json_object(), *vcpus = json_array(), *config = json_object(), *memory = json_object(),
               *console = json_object();
        bool ok = o && vcpus && config && memory && console;

        ok &= set(o, "name", text_json(vm->name));
        ok &= set(o, "id", uint_json(vm->id));
        ok &= set(o, "restarts", json_integer(vm->restarts));
        ok &= set_state(o, &vm->raw);
        ok &= set(config, "vcpus", json_integer(vm->vcpus));
        ok &= set(config, "memory_bytes", uint_json(vm->raw.ram_bytes));
        ok &= set(o, "config", config);
        ok &= set(memory, "ram_bytes", uint_json(vm->raw.ram_bytes));
        ok &= set(memory, "resident_bytes", resident_json(vm));
        ok &= set(o, "memory", memory);
        ok &= set(console, "bytes", uint_json(vm->raw.console_bytes));
        ok &= set(console, "dropped_bytes", uint_json(vm->console_dropped_bytes));
        ok &= set(o, "console", console);
        ok &= set(o, "start_time", vm->start_time_ns ? time_json(vm->start_time_ns) : json_null());
        ok &= set(o, "uptime_seconds", uptime_json(s, vm));
        ok &= set_sample_times(o, s);
        ok &= set(o, "ready_pct", pct_json(vm->ready_ratio));
        ok &= set(o, "steal_pct", steal_json(vm->steal_kvm_ratio, vm->steal_xen_ratio));
        ok &= set(o, "runstate_seconds", runstate_seconds_json(vm->runstate_ns));
        ok &= set(o, "runstate_pct", runstate_pct_json(vm->delta_ns, vm->w_ns));
        ok &= set(o, "collectors", collectors_json(s));
        ok &= set_kvm(o, vm->raw.kvm_schema, vm->raw.kvm, vm->kvm_rate);
        for (unsigned i = 0; i < vm->vcpus; i++)
                ok &= append(vcpus, vcpu_json(vm, i));
        ok &= set(o, "vcpus", vcpus);
        return done(o, ok);
}

static json_t *vm_summary_json(const struct vs_sample *s, const struct vs_vm_sample *vm) {
        json_t *o = json_object();
        bool ok = o != NULL;
        ok &= set(o, "name", text_json(vm->name));
        ok &= set_state(o, &vm->raw);
        ok &= set(o, "vcpus", json_integer(vm->vcpus));
        ok &= set(o, "memory_bytes", uint_json(vm->raw.ram_bytes));
        ok &= set(o, "resident_bytes", resident_json(vm));
        ok &= set(o, "uptime_seconds", uptime_json(s, vm));
        ok &= set(o, "ready_pct", pct_json(vm->ready_ratio));
        ok &= set(o, "steal_pct", steal_json(vm->steal_kvm_ratio, vm->steal_xen_ratio));
        ok &= set(o, "exits_per_sec", real_json(vm_exit_rate(vm)));
        return done(o, ok);
}

json_t *vs_json_vms(const struct vs_sample *s) {
        json_t *o = json_object(), *vms = json_array();
        bool ok = o && vms;
        for (unsigned i = 0; i < s->n_vms; i++)
                ok &= append(vms, vm_summary_json(s, &s->vms[i]));
        ok &= set(o, "vms", vms);
        ok &= set_sample_times(o, s);
        return done(o, ok);
}

/* ---- history ---------------------------------------------------------------------------------------- */

static json_t *hist_vcpu_json(const struct vs_hist_vcpu *h) {
        json_t *o = json_object(), *pct = json_object();
        bool ok = o && pct;
        for (unsigned st = 0; st < HV_RS__COUNT; st++)
                ok &= set(pct, hv_rs_name(st), pct_of(h->state_us[st], h->w_us));
        ok &= set(o, "interval_seconds", json_real(h->w_us / 1e6));
        ok &= set(o, "runstate_pct", pct);
        ok &= set(o, "ready_pct", pct_of(h->state_us[HV_RS_RUNNABLE], h->w_us));
        ok &= set(o, "steal_pct", steal_json(h->w_us ? (double) h->state_us[HV_RS_RUNNABLE] / h->w_us : 0,
                                             h->w_us ? (double) (h->state_us[HV_RS_RUNNABLE] +
                                                                 h->state_us[HV_RS_OFFLINE]) / h->w_us
                                                     : 0));
        ok &= set(o, "exits_delta", json_integer(h->exits));
        ok &= set(o, "exits_per_sec", json_real(h->w_us ? h->exits * 1e6 / h->w_us : 0));
        return done(o, ok);
}

/* One point: its time, the VM's ready/steal (sums over vCPUs) and each vCPU's interval. */
json_t *vs_json_history_point(const struct vs_history *h, unsigned p) {
        const struct vs_hist_vcpu *v = &h->vcpu[(size_t) p * h->vcpus];
        json_t *o = json_object(), *vcpus = json_array();
        bool ok = o && vcpus;
        uint64_t w = 0, runnable = 0, offline = 0;
        for (unsigned i = 0; i < h->vcpus; i++) {
                w += v[i].w_us;
                runnable += v[i].state_us[HV_RS_RUNNABLE];
                offline += v[i].state_us[HV_RS_OFFLINE];
                ok &= append(vcpus, hist_vcpu_json(&v[i]));
        }
        ok &= set(o, "sample_time", time_json(h->realtime_ns[p]));
        ok &= set(o, "sample_time_unix", seconds_json(h->realtime_ns[p]));
        ok &= set(o, "ready_pct", pct_of(runnable, w));
        ok &= set(o, "steal_pct", steal_json(w ? (double) runnable / (double) w : 0,
                                             w ? (double) (runnable + offline) / (double) w : 0));
        ok &= set(o, "vcpus", vcpus);
        return done(o, ok);
}

json_t *vs_json_history(const struct vs_history *h, const char *vm) {
        json_t *o = json_object(), *points = json_array();
        bool ok = o && points;
        ok &= set(o, "name", text_json(vm));
        for (unsigned p = 0; p < h->n_points; p++)
                ok &= append(points, vs_json_history_point(h, p));
        ok &= set(o, "points", points);
        return done(o, ok);
}

/* ---- health, errors, output ---------------------------------------------------------------------------- */

json_t *vs_json_health(const struct vs_sample *s_or_null, uint64_t now_mono_ns, uint64_t interval_ns,
                       bool launching, bool *ret_healthy) {
        const struct vs_sample *s = s_or_null;
        uint64_t age = s && now_mono_ns > s->mono_ns ? now_mono_ns - s->mono_ns : 0;
        bool stale = s && interval_ns <= UINT64_MAX / 3 && age > 3 * interval_ns;
        const char *status = !s || launching ? "starting" : stale ? "stale" : "ok";
        json_t *o = json_object();
        bool ok = o != NULL;
        ok &= set(o, "status", json_string(status));
        if (launching) {
                ok &= set(o, "detail", json_string("launching the configured VMs; those launched so far are served"));
                ok &= set(o, "vms", uint_json(s ? s->n_vms : 0));
        }
        ok &= set(o, "last_sample_age_seconds", s ? seconds_json(age) : json_null());
        ok &= set(o, "interval_seconds", seconds_json(interval_ns));
        ok &= set(o, "seq", s ? uint_json(s->seq) : json_null());
        o = done(o, ok);
        if (o)
                *ret_healthy = s && !stale && !launching;
        return o;
}

json_t *vs_json_error(int status, const char *message) {
        json_t *o = json_object();
        bool ok = o != NULL;
        ok &= set(o, "error", text_json(message));
        ok &= set(o, "status", json_integer(status));
        return done(o, ok);
}

char *vs_json_dump(json_t *j, bool pretty) {
        if (!j)
                return NULL;
        if (!pretty)
                return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
        char *body = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        if (!body)
                return NULL;
        size_t len = strlen(body);
        char *with_nl = realloc(body, len + 2);
        if (!with_nl) {
                free(body);
                return NULL;
        }
        memcpy(with_nl + len, "\n", 2);
        return with_nl;
}
