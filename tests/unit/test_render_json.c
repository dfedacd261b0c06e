/* vmstatd/render_json.c on real samples: a 2-vCPU demo VM and a pio VM that has stopped by its
 * exit code. Every document survives a dump and json_loads unchanged, carries the documented
 * fields with the documented types, and its numbers are the sample's, exactly. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_helper.h"
#include "render_json.h"
#include "sampler.h"

#define PIO_N 100

static struct hv_kvm *kvm;
static struct vs_sampler *sampler;
static struct hv_vm *demo, *pio;
static struct vs_sample *smp;
static char no_kvm[HV_WHY_LEN + 32]; /* why kvm is NULL: the tests skip with it */

/* demo (2 vCPUs, running) and pio (1 vCPU, stopped with exit code 0), sampled twice 200 ms apart */
static void setup(void) {
        kvm = test_kvm_or_why(no_kvm, sizeof(no_kvm));
        if (!kvm)
                return;
        struct vs_sampler_config cfg = { .interval_ns = 100 * 1000000ull };
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                cfg.enable[i] = -1;
        ck_assert_int_eq(vs_sampler_new(&cfg, &sampler), 0);
        demo = test_vm(kvm, "demo", 2, &(struct hv_builtin) { .guest = "demo" });
        pio = test_vm(kvm, "pio", 1, &(struct hv_builtin) { .guest = "pio", .count = PIO_N });
        ck_assert_int_eq(vs_sampler_add_vm(sampler, demo), 0);
        ck_assert_int_eq(vs_sampler_add_vm(sampler, pio), 0);
        ck_assert_int_eq(hv_vm_start(demo), 0);
        ck_assert_int_eq(hv_vm_start(pio), 0);
        test_sleep_ms(50);
        ck_assert_int_eq(vs_sampler_sample(sampler), 0);
        test_sleep_ms(200);
        ck_assert_int_eq(hv_vm_wait(pio, 5000), 0);
        test_assert_exit_code(pio, 0);
        ck_assert_int_eq(vs_sampler_sample(sampler), 0);
        smp = vs_sampler_latest(sampler);
        ck_assert_ptr_nonnull(smp);
}

static void teardown(void) {
        if (!kvm)
                return;
        vs_sample_unref(smp);
        vs_sampler_free(sampler);
        hv_vm_destroy(demo);
        hv_vm_destroy(pio);
        hv_kvm_free(kvm);
}

#define NEED_KVM()                               \
        do {                                     \
                if (!kvm)                        \
                        TEST_SKIP("%s", no_kvm); \
        } while (0)

/* ---- helpers ------------------------------------------------------------------------------------ */

/* Dumps j both ways and parses it back: compact is exact (json_equal), pretty parses, is
 * indented and ends in a newline. Returns the parsed compact document; takes j. */
static json_t *roundtrip(json_t *j) {
        json_error_t err;
        ck_assert_ptr_nonnull(j);
        char *compact = vs_json_dump(j, false), *pretty = vs_json_dump(j, true);
        ck_assert_ptr_nonnull(compact);
        ck_assert_ptr_nonnull(pretty);
        ck_assert_ptr_null(strchr(compact, '\n'));
        ck_assert_uint_gt(strlen(pretty), 2);
        ck_assert_int_eq(pretty[strlen(pretty) - 1], '\n');
        ck_assert_ptr_nonnull(strstr(pretty, "\n  \""));
        json_t *back = json_loads(compact, 0, &err);
        ck_assert_msg(back != NULL, "compact: %s at %d: %s", err.text, err.position, compact);
        ck_assert_msg(json_equal(back, j), "compact dump is not exact: %s", compact);
        json_t *p = json_loads(pretty, 0, &err);
        ck_assert_msg(p != NULL, "pretty: %s at %d", err.text, err.position);
        ck_assert_uint_eq(json_object_size(p), json_object_size(j));
        json_decref(p);
        json_decref(j);
        free(compact);
        free(pretty);
        return back;
}

/* o[key], asserting it is there */
static json_t *get(const json_t *o, const char *key) {
        ck_assert_msg(json_is_object(o), "not an object where \"%s\" was expected", key);
        json_t *v = json_object_get(o, key);
        ck_assert_msg(v != NULL, "missing \"%s\"", key);
        return v;
}

static json_int_t get_int(const json_t *o, const char *key) {
        json_t *v = get(o, key);
        ck_assert_msg(json_is_integer(v), "\"%s\" is not an integer", key);
        return json_integer_value(v);
}

static double get_real(const json_t *o, const char *key) {
        json_t *v = get(o, key);
        ck_assert_msg(json_is_real(v), "\"%s\" is not a real", key);
        return json_real_value(v);
}

static const char *get_str(const json_t *o, const char *key) {
        json_t *v = get(o, key);
        ck_assert_msg(json_is_string(v), "\"%s\" is not a string", key);
        return json_string_value(v);
}

static void assert_absent(const json_t *o, const char *key) {
        ck_assert_msg(json_object_get(o, key) == NULL, "unexpected \"%s\"", key);
}

/* "2026-11-21T22:19:03.123Z" */
static void assert_rfc3339_ms(const char *t) {
        ck_assert_uint_eq(strlen(t), 24);
        ck_assert(t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' && t[19] == '.' &&
                  t[23] == 'Z');
}

static const char *const states[] = { "running", "runnable", "blocked", "offline" };

/* {running, runnable, blocked, offline} of reals; returns their sum */
static double state_sum(const json_t *o) {
        double sum = 0;
        ck_assert_uint_eq(json_object_size(o), 4);
        for (unsigned st = 0; st < 4; st++) {
                double v = get_real(o, states[st]);
                ck_assert(v >= 0);
                sum += v;
        }
        return sum;
}

static void assert_steal(const json_t *o, double kvm_ratio, double xen_ratio) {
        json_t *steal = get(o, "steal_pct");
        ck_assert_uint_eq(json_object_size(steal), 2);
        ck_assert_double_eq(get_real(steal, "kvm"), 100 * kvm_ratio);
        ck_assert_double_eq(get_real(steal, "xen"), 100 * xen_ratio);
}

static json_t *vm_doc(const char *name) {
        const struct vs_vm_sample *vm = vs_sample_find_vm(smp, name);
        ck_assert_ptr_nonnull(vm);
        return roundtrip(vs_json_vm(smp, vm));
}

/* ---- per vCPU ------------------------------------------------------------------------------------- */

static void assert_kvm(const json_t *o, const struct cl_kvm_schema *schema, const uint64_t *v) {
        if (!schema) {
                assert_absent(o, "kvm");
                return;
        }
        json_t *k = get(o, "kvm"), *rates = get(o, "kvm_per_sec");
        ck_assert_uint_eq(json_object_size(k), schema->n_desc);
        size_t counters = 0;
        for (size_t i = 0; i < schema->n_desc; i++) {
                const struct cl_kvm_desc *d = &schema->desc[i];
                json_t *stat = get(k, d->name);
                if (d->kind == CL_KVM_HIST_LINEAR || d->kind == CL_KVM_HIST_LOG) {
                        json_t *b = get(stat, "buckets");
                        ck_assert_uint_eq(json_array_size(b), d->size);
                        for (uint32_t j = 0; j < d->size; j++)
                                ck_assert_uint_eq(json_integer_value(json_array_get(b, j)), v[d->index + j]);
                        json_t *sum = get(stat, "sum");
                        ck_assert(d->sum_of >= 0 ? json_is_number(sum) : json_is_null(sum));
                        continue;
                }
                if (d->size != 1)
                        continue;
                if (d->scale == 1.0)
                        ck_assert_uint_eq(json_integer_value(stat), v[d->index]);
                else
                        ck_assert_double_eq(json_real_value(stat), (double) v[d->index] * d->scale);
                if (d->kind == CL_KVM_COUNTER) {
                        ck_assert(json_is_real(get(rates, d->name)));
                        counters++;
                } else {
                        assert_absent(rates, d->name);
                }
        }
        ck_assert_uint_ge(json_object_size(rates), counters);
}

static void assert_vcpu(const json_t *o, const struct vs_vm_sample *vm, const struct hv_vm *hv, unsigned i) {
        const struct vs_vcpu_sample *v = &vm->vcpu[i];
        const struct cl_vcpu_raw *raw = &vm->raw.vcpus[i];

        ck_assert_int_eq(get_int(o, "id"), i);
        json_t *tid = get(o, "tid");
        ck_assert(raw->rs.tid > 0 && !raw->rs.exited ? json_integer_value(tid) == raw->rs.tid : json_is_null(tid));
        json_t *secs = get(o, "runstate_seconds");
        ck_assert_double_eq_tol(state_sum(secs), (double) (raw->rs.now_ns - hv->created_ns) / 1e9, 1e-9);
        for (unsigned st = 0; st < 4; st++)
                ck_assert_double_eq(get_real(secs, states[st]), (double) v->runstate_ns[st] / 1e9);
        ck_assert_uint_gt(v->w_ns, 0);
        ck_assert_double_eq_tol(state_sum(get(o, "runstate_pct")), 100.0, 1e-9);
        ck_assert_double_eq(get_real(o, "interval_seconds"), (double) v->w_ns / 1e9);
        ck_assert_double_eq(get_real(o, "ready_pct"), 100 * v->ready_ratio);
        assert_steal(o, v->steal_kvm_ratio, v->steal_xen_ratio);

        json_t *exits = get(o, "exits"), *delta = get(o, "exits_delta"), *rate = get(o, "exits_per_sec");
        ck_assert_uint_eq(json_object_size(exits), HV_EXIT__COUNT);
        ck_assert_uint_eq(json_object_size(delta), HV_EXIT__COUNT);
        ck_assert_uint_eq(json_object_size(rate), HV_EXIT__COUNT);
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++) {
                const char *name = hv_exit_name(e);
                ck_assert_uint_eq(get_int(exits, name), raw->exec.exits[e]);
                ck_assert_uint_eq(get_int(delta, name), v->exit_delta[e]);
                ck_assert_double_eq(get_real(rate, name), v->exit_rate[e]);
        }
        ck_assert_uint_eq(get_int(o, "runs"), raw->exec.runs);
        ck_assert_uint_eq(get_int(o, "immediate_exits"), raw->exec.immediate_exits);
        ck_assert_uint_eq(get_int(get(o, "unhandled"), "io"), raw->exec.unhandled_io);
        ck_assert_uint_eq(get_int(get(o, "unhandled"), "mmio"), raw->exec.unhandled_mmio);
        ck_assert_double_eq(get_real(get(o, "rates"), "runs"), v->rate.runs);

        json_t *eh = get(o, "exit_handling"), *buckets = get(eh, "buckets");
        uint64_t hist = 0, listed = 0;
        double le = 0;
        for (unsigned b = 0; b < HV_HIST_BUCKETS; b++)
                hist += raw->exec.handle_ns_hist[b];
        for (size_t b = 0; b < json_array_size(buckets); b++) {
                json_t *bk = json_array_get(buckets, b);
                json_int_t n = get_int(bk, "count");
                ck_assert_int_gt(n, 0);
                listed += (uint64_t) n;
                json_t *bound = get(bk, "le_seconds");
                ck_assert(json_is_real(bound) || (json_is_null(bound) && b + 1 == json_array_size(buckets)));
                ck_assert(json_is_null(bound) || json_real_value(bound) > le);
                le = json_is_real(bound) ? json_real_value(bound) : le;
        }
        ck_assert_uint_eq(get_int(eh, "count"), hist);
        ck_assert_uint_eq(listed, hist);
        ck_assert_double_eq(get_real(eh, "sum_seconds"), (double) raw->exec.handle_ns_sum / 1e9);
        /* by reason: the reasons that happened, each with its own count, sum, mean and max */
        json_t *by = get(eh, "by_reason");
        size_t seen = 0;
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++) {
                json_t *r = json_object_get(by, hv_exit_name(e));
                ck_assert_msg(!r == !raw->exec.exits[e], "%s listed %d, happened %llu times", hv_exit_name(e), r != NULL,
                              (unsigned long long) raw->exec.exits[e]);
                if (!r)
                        continue;
                seen++;
                ck_assert_uint_eq(get_int(r, "count"), raw->exec.exits[e]);
                ck_assert_double_eq(get_real(r, "sum_seconds"), (double) raw->exec.reason_ns_sum[e] / 1e9);
                ck_assert_double_eq(get_real(r, "max_seconds"), (double) raw->exec.reason_ns_max[e] / 1e9);
                ck_assert_double_eq_tol(get_real(r, "mean_seconds"),
                                        (double) raw->exec.reason_ns_sum[e] / (double) raw->exec.exits[e] / 1e9, 1e-15);
        }
        ck_assert_uint_eq(json_object_size(by), seen);

        if (raw->have & CL_HAVE_SCHED) {
                json_t *sc = get(o, "sched");
                ck_assert_double_eq(get_real(sc, "cpu_seconds"), (double) raw->rs.cpu_ns / 1e9);
                ck_assert_double_eq(get_real(sc, "run_delay_seconds"), (double) raw->sched.run_delay_ns / 1e9);
                ck_assert_uint_eq(get_int(sc, "timeslices"), raw->sched.timeslices);
                ck_assert_uint_eq(get_int(sc, "migrations"), raw->sched.migrations);
                ck_assert_uint_eq(get_int(sc, "voluntary_switches"), raw->sched.voluntary_switches);
                ck_assert_uint_eq(get_int(sc, "involuntary_switches"), raw->sched.involuntary_switches);
                ck_assert_double_eq(get_real(get(sc, "rates"), "voluntary_switches"), v->rate.voluntary_switches);
        } else {
                assert_absent(o, "sched");
        }
        if (raw->have & CL_HAVE_PERF)
                ck_assert_double_eq(get_real(get(o, "perf"), "ips"), v->rate.guest_instructions);
        else
                assert_absent(o, "perf");
        assert_kvm(o, raw->kvm_schema, raw->kvm);
}

/* ---- tests ------------------------------------------------------------------------------------------ */

START_TEST(vm_detail) {
        NEED_KVM();
        const struct vs_vm_sample *vm = vs_sample_find_vm(smp, "demo");
        json_t *o = vm_doc("demo");
        ck_assert_str_eq(get_str(o, "name"), "demo");
        ck_assert_uint_eq(get_int(o, "id"), vm->id);
        ck_assert_str_eq(get_str(o, "state"), "running");
        ck_assert(json_is_null(get(o, "reason")));
        assert_absent(o, "exit_code");

        json_t *vcpus = get(o, "vcpus");
        ck_assert_uint_eq(json_array_size(vcpus), 2);
        for (unsigned i = 0; i < 2; i++) {
                assert_vcpu(json_array_get(vcpus, i), vm, demo, i);
                json_t *one = roundtrip(vs_json_vcpu(smp, vm, i));
                ck_assert(json_equal(one, json_array_get(vcpus, i)));
                json_decref(one);
        }
        ck_assert_ptr_null(vs_json_vcpu(smp, vm, 2));

        ck_assert_int_eq(get_int(get(o, "config"), "vcpus"), 2);
        ck_assert_int_eq(get_int(get(o, "config"), "memory_bytes"), 16 << 20);
        ck_assert_int_eq(get_int(get(o, "memory"), "ram_bytes"), 16 << 20);
        json_int_t resident = get_int(get(o, "memory"), "resident_bytes");
        ck_assert(resident > 0 && resident <= 16 << 20);

        ck_assert_double_eq(get_real(o, "ready_pct"), 100 * vm->ready_ratio);
        assert_steal(o, vm->steal_kvm_ratio, vm->steal_xen_ratio);
        ck_assert_double_eq_tol(state_sum(get(o, "runstate_pct")), 100.0, 1e-9);
        ck_assert_double_eq(get_real(get(o, "runstate_seconds"), "running"),
                            (double) vm->runstate_ns[HV_RS_RUNNING] / 1e9);

        ck_assert_double_eq(get_real(o, "interval_seconds"), (double) smp->interval_ns / 1e9);
        ck_assert_double_gt(get_real(o, "interval_seconds"), 0.15);
        assert_rfc3339_ms(get_str(o, "sample_time"));
        ck_assert_double_eq(get_real(o, "sample_time_unix"), (double) smp->realtime_ns / 1e9);
        assert_rfc3339_ms(get_str(o, "start_time"));
        ck_assert_str_lt(get_str(o, "start_time"), get_str(o, "sample_time"));
        double up = get_real(o, "uptime_seconds");
        ck_assert_msg(up > 0.2 && up < 10, "uptime %f", up);

        json_t *cols = get(o, "collectors");
        ck_assert_uint_eq(json_array_size(cols), smp->n_collectors);
        for (unsigned c = 0; c < smp->n_collectors; c++) {
                json_t *col = json_array_get(cols, c);
                ck_assert_str_eq(get_str(col, "name"), smp->collectors[c].name);
                ck_assert(json_is_boolean(get(col, "success")));
                ck_assert(json_boolean_value(get(col, "success")) == smp->collectors[c].success);
                ck_assert_double_ge(get_real(col, "duration_seconds"), 0);
                if (smp->collectors[c].success)
                        assert_absent(col, "error");
                else
                        ck_assert_str_eq(get_str(col, "error"), smp->collectors[c].error);
        }
        assert_kvm(o, vm->raw.kvm_schema, vm->raw.kvm);
        json_decref(o);
}
END_TEST

/* The stopped VM: its reason and exit code, no thread, and exits equal to hv's own counters. */
START_TEST(stopped_vm) {
        NEED_KVM();
        const struct vs_vm_sample *vm = vs_sample_find_vm(smp, "pio");
        json_t *o = vm_doc("pio");
        ck_assert_str_eq(get_str(o, "state"), "stopped");
        ck_assert_str_eq(get_str(o, "reason"), "exit_code");
        ck_assert_int_eq(get_int(o, "exit_code"), 0);
        ck_assert_double_eq(get_real(o, "uptime_seconds"), 0);
        assert_rfc3339_ms(get_str(o, "start_time"));
        json_t *v0 = json_array_get(get(o, "vcpus"), 0);
        assert_vcpu(v0, vm, pio, 0);
        ck_assert(json_is_null(get(v0, "tid")));
        struct hv_counters c = test_counters(pio, 0);
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                ck_assert_uint_eq(get_int(get(v0, "exits"), hv_exit_name(e)), c.exits[e]);
        ck_assert_int_ge(get_int(get(v0, "exits"), "io_out"), PIO_N);
        ck_assert_uint_eq(get_int(v0, "runs"), c.runs);
        json_decref(o);
}
END_TEST

START_TEST(vms_list) {
        NEED_KVM();
        json_t *o = roundtrip(vs_json_vms(smp));
        ck_assert_uint_eq(json_object_size(o), 4);
        json_t *vms = get(o, "vms");
        ck_assert_uint_eq(json_array_size(vms), 2);
        ck_assert_double_eq(get_real(o, "interval_seconds"), (double) smp->interval_ns / 1e9);
        assert_rfc3339_ms(get_str(o, "sample_time"));
        for (unsigned i = 0; i < 2; i++) {
                const struct vs_vm_sample *vm = &smp->vms[i];
                json_t *item = json_array_get(vms, i);
                ck_assert_str_eq(get_str(item, "name"), vm->name);
                get_str(item, "state");
                ck_assert_int_eq(get_int(item, "vcpus"), vm->vcpus);
                ck_assert_int_eq(get_int(item, "memory_bytes"), 16 << 20);
                ck_assert_int_gt(get_int(item, "resident_bytes"), 0);
                ck_assert_double_ge(get_real(item, "uptime_seconds"), 0);
                ck_assert_double_eq(get_real(item, "ready_pct"), 100 * vm->ready_ratio);
                assert_steal(item, vm->steal_kvm_ratio, vm->steal_xen_ratio);
                double rate = 0;
                for (unsigned c = 0; c < vm->vcpus; c++)
                        for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                                rate += vm->vcpu[c].exit_rate[e];
                ck_assert_double_eq_tol(get_real(item, "exits_per_sec"), rate, 1e-9 * (1 + rate));
        }
        json_t *d = json_array_get(vms, 0), *p = json_array_get(vms, 1);
        ck_assert(json_is_null(get(d, "reason")));
        ck_assert_str_eq(get_str(p, "reason"), "exit_code");
        ck_assert_int_eq(get_int(p, "exit_code"), 0);
        json_decref(o);
}
END_TEST

START_TEST(history) {
        NEED_KVM();
        for (int k = 0; k < 3; k++) {
                test_sleep_ms(100);
                ck_assert_int_eq(vs_sampler_sample(sampler), 0);
        }
        struct vs_history h;
        ck_assert_int_eq(vs_sampler_history(sampler, "demo", 4, &h), 0);
        ck_assert_uint_eq(h.n_points, 4);
        json_t *o = roundtrip(vs_json_history(&h, "demo"));
        vs_history_release(&h);
        ck_assert_str_eq(get_str(o, "name"), "demo");
        json_t *points = get(o, "points");
        ck_assert_uint_eq(json_array_size(points), 4);
        double prev_t = 0;
        const char *prev_s = "";
        for (size_t p = 0; p < 4; p++) {
                json_t *pt = json_array_get(points, p);
                double t = get_real(pt, "sample_time_unix");
                const char *ts = get_str(pt, "sample_time");
                assert_rfc3339_ms(ts);
                ck_assert_double_gt(t, prev_t);
                ck_assert_str_gt(ts, prev_s);
                prev_t = t;
                prev_s = ts;
                double ready = get_real(pt, "ready_pct");
                ck_assert(ready >= 0 && ready <= 100);
                get(get(pt, "steal_pct"), "xen");
                json_t *vcpus = get(pt, "vcpus");
                ck_assert_uint_eq(json_array_size(vcpus), 2);
                for (size_t i = 0; i < 2; i++) {
                        json_t *v = json_array_get(vcpus, i);
                        ck_assert_double_gt(get_real(v, "interval_seconds"), 0.05);
                        ck_assert_double_eq_tol(state_sum(get(v, "runstate_pct")), 100.0, 1e-9);
                        ck_assert_double_eq(get_real(v, "ready_pct"), get_real(get(v, "runstate_pct"), "runnable"));
                        ck_assert_int_ge(get_int(v, "exits_delta"), 0);
                        ck_assert_double_ge(get_real(v, "exits_per_sec"), 0);
                }
        }
        json_decref(o);
        ck_assert_int_eq(vs_sampler_history(sampler, "nope", 4, &h), -ENOENT);
}
END_TEST

/* A sample with no VM at a known instant: the timestamp format and an empty list. */
START_TEST(sample_time_format) {
        struct vs_sample s = { .seq = 1, .realtime_ns = 1795299543123456789ull, .interval_ns = 0 };
        json_t *o = roundtrip(vs_json_vms(&s));
        ck_assert_str_eq(get_str(o, "sample_time"), "2026-11-21T22:19:03.123Z");
        ck_assert_double_eq_tol(get_real(o, "sample_time_unix"), 1795299543.123456789, 1e-6);
        ck_assert_double_eq(get_real(o, "interval_seconds"), 0);
        ck_assert_uint_eq(json_array_size(get(o, "vms")), 0);
        json_decref(o);
}
END_TEST

START_TEST(health) {
        const uint64_t iv = 5000000000ull, t = 1000000000000ull;
        struct vs_sample s = { .seq = 7, .mono_ns = t };
        bool healthy = false;

        json_t *o = roundtrip(vs_json_health(&s, t + 1500000000ull, iv, false, &healthy));
        ck_assert(healthy);
        ck_assert_uint_eq(json_object_size(o), 4);
        ck_assert_str_eq(get_str(o, "status"), "ok");
        ck_assert_double_eq(get_real(o, "last_sample_age_seconds"), 1.5);
        ck_assert_double_eq(get_real(o, "interval_seconds"), 5.0);
        ck_assert_int_eq(get_int(o, "seq"), 7);
        json_decref(o);

        o = roundtrip(vs_json_health(&s, t + 3 * iv, iv, false, &healthy)); /* 3 intervals old: not older */
        ck_assert(healthy);
        ck_assert_str_eq(get_str(o, "status"), "ok");
        json_decref(o);

        o = roundtrip(vs_json_health(&s, t + 3 * iv + 1, iv, false, &healthy));
        ck_assert(!healthy);
        ck_assert_str_eq(get_str(o, "status"), "stale");
        ck_assert_double_eq(get_real(o, "last_sample_age_seconds"), (3 * iv + 1) / 1e9);
        json_decref(o);

        o = roundtrip(vs_json_health(&s, t - 5, iv, false, &healthy)); /* a clock read before the sample */
        ck_assert(healthy);
        ck_assert_double_eq(get_real(o, "last_sample_age_seconds"), 0);
        json_decref(o);

        healthy = true;
        o = roundtrip(vs_json_health(NULL, t, iv, false, &healthy));
        ck_assert(!healthy);
        ck_assert_str_eq(get_str(o, "status"), "starting");
        ck_assert(json_is_null(get(o, "last_sample_age_seconds")));
        ck_assert(json_is_null(get(o, "seq")));
        ck_assert_double_eq(get_real(o, "interval_seconds"), 5.0);
        json_decref(o);
}
END_TEST

START_TEST(error_shape) {
        json_t *o = roundtrip(vs_json_error(404, "no VM named \"b13\""));
        ck_assert_uint_eq(json_object_size(o), 2);
        ck_assert_str_eq(get_str(o, "error"), "no VM named \"b13\"");
        ck_assert_int_eq(get_int(o, "status"), 404);
        json_decref(o);
        /* bytes that are not UTF-8 (from a URL, say) still give a valid document */
        o = roundtrip(vs_json_error(400, "bad name '\xff\xfe'"));
        ck_assert_str_eq(get_str(o, "error"), "bad name '?" "?'");
        ck_assert_int_eq(get_int(o, "status"), 400);
        json_decref(o);
        o = roundtrip(vs_json_error(500, NULL));
        ck_assert_str_eq(get_str(o, "error"), "");
        json_decref(o);
}
END_TEST

/* Pretty output is for people: short reals; compact keeps every real exact. */
START_TEST(dump_formats) {
        json_t *o = json_pack("{s:f, s:i}", "ready_pct", 100 * 0.032, "runs", 3);
        char *pretty = vs_json_dump(o, true), *compact = vs_json_dump(o, false);
        ck_assert_str_eq(pretty, "{\n  \"ready_pct\": 3.2,\n  \"runs\": 3\n}\n");
        ck_assert_str_eq(compact, "{\"ready_pct\":3.2000000000000002,\"runs\":3}");
        free(pretty);
        free(compact);
        json_decref(o);
        ck_assert_ptr_null(vs_json_dump(NULL, true));
}
END_TEST

int main(void) {
        Suite *su = suite_create("render_json");
        TCase *tc = tcase_create("samples");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, vm_detail);
        tcase_add_test(tc, stopped_vm);
        tcase_add_test(tc, vms_list);
        tcase_add_test(tc, history);
        suite_add_tcase(su, tc);
        TCase *plain = tcase_create("documents");
        tcase_add_test(plain, sample_time_format);
        tcase_add_test(plain, health);
        tcase_add_test(plain, error_shape);
        tcase_add_test(plain, dump_formats);
        suite_add_tcase(su, plain);
        return test_run_suite(su);
}
