/* vmstatd/sampler.c with real guests: the runstate invariant, ready % under contention,
 * duty and pause shares, collector failure isolation, VM churn, history, the timer. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "kvm_helper.h"
#include "sampler.h"

static struct vs_sampler *sampler(uint64_t interval_ms) {
        struct vs_sampler_config cfg = { .interval_ns = interval_ms * 1000000ull };
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                cfg.enable[i] = -1;
        struct vs_sampler *s;
        ck_assert_int_eq(vs_sampler_new(&cfg, &s), 0);
        return s;
}

static struct hv_vm *started(struct hv_kvm *kvm, struct vs_sampler *s, const char *name, unsigned vcpus,
                             const struct hv_builtin *b) {
        struct hv_vm *vm = test_vm(kvm, name, vcpus, b);
        ck_assert_int_eq(vs_sampler_add_vm(s, vm), 0);
        ck_assert_int_eq(hv_vm_start(vm), 0);
        return vm;
}

static void pin(struct hv_vcpu *v, int cpu) {
        struct hv_vcpu_raw raw;
        cpu_set_t set;
        hv_vcpu_read_raw(v, &raw);
        ck_assert_int_gt(raw.tid, 0);
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        ck_assert_int_eq(sched_setaffinity(raw.tid, sizeof(set), &set), 0);
}

static uint64_t sum4(const uint64_t v[HV_RS__COUNT]) {
        return v[0] + v[1] + v[2] + v[3];
}

/* the sample's view of a vCPU after sampling once more */
static const struct vs_vcpu_sample *vcpu_of(const struct vs_sample *smp, const char *vm, unsigned i) {
        const struct vs_vm_sample *v = vs_sample_find_vm(smp, vm);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_lt(i, v->vcpus);
        return &v->vcpu[i];
}

/* Over 100 samples at 100 ms of spin, idle, duty and a VM paused for a third of the run, the
 * four states sum to W exactly at every sample and every cumulative series is monotonic. */
START_TEST(invariant_100_samples) {
        REQUIRE_KVM(kvm);
        struct vs_sampler *s = sampler(100);
        struct hv_vm *vms[] = {
                started(kvm, s, "spin", 1, &(struct hv_builtin) { .guest = "spin" }),
                started(kvm, s, "idle", 1, &(struct hv_builtin) { .guest = "idle" }),
                started(kvm, s, "duty", 2, &(struct hv_builtin) { .guest = "duty", .duty_pct = 30 }),
                started(kvm, s, "paused", 1, &(struct hv_builtin) { .guest = "demo" }),
        };
        const unsigned n_vms = sizeof(vms) / sizeof(vms[0]);
        struct vs_sample *prev = NULL;
        for (int k = 0; k < 100; k++) {
                if (k == 30)
                        ck_assert_int_eq(hv_vm_pause(vms[3]), 0);
                if (k == 60)
                        ck_assert_int_eq(hv_vm_resume(vms[3]), 0);
                ck_assert_int_eq(vs_sampler_sample(s), 0);
                struct vs_sample *smp = vs_sampler_latest(s);
                ck_assert_uint_eq(smp->n_vms, n_vms);
                for (unsigned v = 0; v < n_vms; v++) {
                        const struct vs_vm_sample *vm = &smp->vms[v];
                        const struct vs_vm_sample *pv = prev ? &prev->vms[v] : NULL;
                        ck_assert_uint_eq(sum4(vm->delta_ns), vm->w_ns);
                        for (unsigned i = 0; i < vm->vcpus; i++) {
                                const struct vs_vcpu_sample *c = &vm->vcpu[i];
                                ck_assert_uint_eq(sum4(c->delta_ns), c->w_ns);
                                /* totals cover the vCPU's whole life, exactly */
                                ck_assert_uint_eq(sum4(c->runstate_ns), vm->raw.vcpus[i].rs.now_ns - vms[v]->created_ns);
                                for (unsigned st = 0; pv && st < HV_RS__COUNT; st++)
                                        ck_assert_uint_ge(c->runstate_ns[st], pv->vcpu[i].runstate_ns[st]);
                                for (unsigned e = 0; pv && e < HV_EXIT__COUNT; e++)
                                        ck_assert_uint_ge(vm->raw.vcpus[i].exec.exits[e], pv->raw.vcpus[i].exec.exits[e]);
                                ck_assert_uint_ge(vm->raw.vcpus[i].sched.run_delay_ns,
                                                  pv ? pv->raw.vcpus[i].sched.run_delay_ns : 0);
                        }
                }
                vs_sample_unref(prev);
                prev = smp;
                test_sleep_ms(100);
        }
        /* the paused VM shows its pause as offline: 30 of ~100 intervals */
        const struct vs_vm_sample *p = vs_sample_find_vm(prev, "paused");
        double off = (double) p->vcpu[0].runstate_ns[HV_RS_OFFLINE] / (double) sum4(p->vcpu[0].runstate_ns);
        ck_assert_msg(off > 0.2 && off < 0.45, "paused VM offline share %.2f", off);
        vs_sample_unref(prev);
        for (unsigned v = 0; v < n_vms; v++)
                hv_vm_destroy(vms[v]);
        vs_sampler_free(s);
        hv_kvm_free(kvm);
}
END_TEST

static double median3(double a, double b, double c) {
        double lo = a < b ? a : b, hi = a < b ? b : a;
        return c < lo ? lo : c > hi ? hi : c;
}

/* Three spinning vCPUs sharing one host CPU each wait 2/3 of the time; one alone does not. */
START_TEST(ready_under_contention) {
        REQUIRE_KVM(kvm);
        struct vs_sampler *s = sampler(100);
        struct hv_vm *crowd = started(kvm, s, "crowd", 3, &(struct hv_builtin) { .guest = "spin" });
        struct hv_vm *alone = started(kvm, s, "alone", 1, &(struct hv_builtin) { .guest = "spin" });
        test_sleep_ms(50);
        for (unsigned i = 0; i < 3; i++)
                pin(crowd->vcpus[i], 1);
        pin(alone->vcpus[0], 0);
        test_sleep_ms(300);
        /* the median of three 1 s windows: one window disturbed by other work on this shared
         * machine does not decide the outcome */
        double ready[4][3];
        struct vs_sample *smp = NULL;
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        for (int w = 0; w < 3; w++) {
                test_sleep_ms(1000);
                ck_assert_int_eq(vs_sampler_sample(s), 0);
                vs_sample_unref(smp);
                smp = vs_sampler_latest(s);
                for (unsigned i = 0; i < 3; i++)
                        ready[i][w] = vcpu_of(smp, "crowd", i)->ready_ratio;
                ready[3][w] = vcpu_of(smp, "alone", 0)->ready_ratio;
        }
        for (unsigned i = 0; i < 4; i++) {
                const double *r = ready[i];
                double med = median3(r[0], r[1], r[2]);
                if (i < 3)
                        ck_assert_msg(med >= 0.55 && med <= 0.78, "crowded vCPU %u: ready %.1f%% (windows %.1f %.1f %.1f)",
                                      i, 100 * med, 100 * r[0], 100 * r[1], 100 * r[2]);
                else
                        ck_assert_msg(med < 0.10, "lone vCPU: ready %.1f%% (windows %.1f %.1f %.1f)", 100 * med,
                                      100 * r[0], 100 * r[1], 100 * r[2]);
        }
        ck_assert_double_eq(vcpu_of(smp, "alone", 0)->steal_kvm_ratio, vcpu_of(smp, "alone", 0)->ready_ratio);
        const struct vs_vm_sample *vm = vs_sample_find_vm(smp, "crowd");
        ck_assert_double_eq_tol(vm->ready_ratio,
                                (double) vm->delta_ns[HV_RS_RUNNABLE] / (double) vm->w_ns, 1e-12);
        vs_sample_unref(smp);
        hv_vm_destroy(crowd);
        hv_vm_destroy(alone);
        vs_sampler_free(s);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(duty_blocked_and_pause_offline) {
        REQUIRE_KVM(kvm);
        struct vs_sampler *s = sampler(100);
        struct hv_vm *duty = started(kvm, s, "duty", 1, &(struct hv_builtin) { .guest = "duty", .duty_pct = 50 });
        struct hv_vm *half = started(kvm, s, "half", 1, &(struct hv_builtin) { .guest = "spin" });
        test_sleep_ms(200);
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        test_sleep_ms(1000);
        ck_assert_int_eq(hv_vm_pause(half), 0);
        test_sleep_ms(1000);
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        struct vs_sample *smp = vs_sampler_latest(s);
        const struct vs_vcpu_sample *d = vcpu_of(smp, "duty", 0), *h = vcpu_of(smp, "half", 0);
        double blocked = (double) d->delta_ns[HV_RS_BLOCKED] / (double) d->w_ns;
        double offline = (double) h->delta_ns[HV_RS_OFFLINE] / (double) h->w_ns;
        ck_assert_msg(blocked >= 0.35 && blocked <= 0.65, "duty 50: blocked %.1f%%", 100 * blocked);
        ck_assert_msg(offline >= 0.40 && offline <= 0.60, "paused half the window: offline %.1f%%", 100 * offline);
        ck_assert_double_eq_tol(h->steal_xen_ratio,
                                (double) (h->delta_ns[HV_RS_RUNNABLE] + h->delta_ns[HV_RS_OFFLINE]) / (double) h->w_ns,
                                1e-12);
        vs_sample_unref(smp);
        hv_vm_destroy(duty);
        hv_vm_destroy(half);
        vs_sampler_free(s);
        hv_kvm_free(kvm);
}
END_TEST

static int broken_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        (void) vm;
        (void) out;
        return collector_fail(c, -EIO, "broken: always fails");
}

static const struct collector_ops collector_broken = { .name = "broken", .sample_vm = broken_sample_vm };

/* A failing collector reports itself and leaves the rest of the sample complete. */
START_TEST(failing_collector_isolated) {
        REQUIRE_KVM(kvm);
        const struct collector_ops *reg[] = { &collector_executor, &collector_broken, &collector_sched };
        struct vs_sampler_config cfg = { .interval_ns = 100000000ull, .registry = reg, .registry_len = 3 };
        cfg.enable[0] = cfg.enable[1] = cfg.enable[2] = 1;
        struct vs_sampler *s;
        ck_assert_int_eq(vs_sampler_new(&cfg, &s), 0);
        struct hv_vm *vm = started(kvm, s, "victim", 1, &(struct hv_builtin) { .guest = "spin" });
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        test_sleep_ms(200);
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        struct vs_sample *smp = vs_sampler_latest(s);
        ck_assert_uint_eq(smp->n_collectors, 3);
        ck_assert(smp->collectors[0].success);
        ck_assert(!smp->collectors[1].success);
        ck_assert_str_eq(smp->collectors[1].name, "broken");
        ck_assert_str_eq(smp->collectors[1].error, "broken: always fails");
        ck_assert(smp->collectors[2].success);
        const struct vs_vm_sample *v = vs_sample_find_vm(smp, "victim");
        ck_assert_uint_eq(v->raw.have & (CL_HAVE_EXECUTOR | CL_HAVE_SCHED), CL_HAVE_EXECUTOR | CL_HAVE_SCHED);
        ck_assert_uint_gt(v->vcpu[0].delta_ns[HV_RS_RUNNING], v->vcpu[0].w_ns / 2);
        vs_sample_unref(smp);
        hv_vm_destroy(vm);
        vs_sampler_free(s);
        hv_kvm_free(kvm);
}
END_TEST

/* VMs added or removed between samples appear and disappear cleanly; a re-created VM of the
 * same name starts fresh. */
START_TEST(vm_churn) {
        REQUIRE_KVM(kvm);
        struct vs_sampler *s = sampler(100);
        struct hv_vm *a = started(kvm, s, "a", 1, &(struct hv_builtin) { .guest = "demo" });
        test_sleep_ms(50); /* scheduler data exists once the vCPU thread runs */
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        test_sleep_ms(300);
        struct hv_vm *b = started(kvm, s, "b", 1, &(struct hv_builtin) { .guest = "demo" });
        ck_assert_int_eq(vs_sampler_add_vm(s, b), -EEXIST);
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        struct vs_sample *s2 = vs_sampler_latest(s);
        ck_assert_uint_eq(s2->n_vms, 2);
        const struct vs_vm_sample *vb = vs_sample_find_vm(s2, "b");
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++) /* first sample of b: no rate yet */
                ck_assert_double_eq(vb->vcpu[0].exit_rate[e], 0);
        const struct vs_vcpu_sample *a2 = &vs_sample_find_vm(s2, "a")->vcpu[0];
        ck_assert_uint_gt(a2->exit_rate[HV_EXIT_IO_OUT], 0);
        ck_assert_double_ge(a2->rate.runs, a2->exit_rate[HV_EXIT_IO_OUT]);   /* every exit is a run */
        ck_assert_double_gt(a2->rate.voluntary_switches, 0);                /* the demo idles in HLT */
        ck_assert_double_eq(vb->vcpu[0].rate.runs, 0);
        uint64_t old_id = vs_sample_find_vm(s2, "a")->id;

        vs_sampler_remove_vm(s, a); /* "restart" a: a new hv VM under the same name */
        hv_vm_destroy(a);
        test_sleep_ms(100);
        a = started(kvm, s, "a", 1, &(struct hv_builtin) { .guest = "demo" });
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        struct vs_sample *s3 = vs_sampler_latest(s);
        const struct vs_vm_sample *va = vs_sample_find_vm(s3, "a");
        ck_assert_uint_ne(va->id, old_id);
        ck_assert_uint_gt(va->start_time_ns, vs_sample_find_vm(s2, "a")->start_time_ns);
        ck_assert_double_eq(va->vcpu[0].exit_rate[HV_EXIT_IO_OUT], 0);
        ck_assert_uint_lt(sum4(va->vcpu[0].runstate_ns), sum4(vs_sample_find_vm(s2, "a")->vcpu[0].runstate_ns) + 200000000ull);

        vs_sampler_remove_vm(s, b);
        ck_assert_int_eq(vs_sampler_sample(s), 0);
        struct vs_sample *s4 = vs_sampler_latest(s);
        ck_assert_uint_eq(s4->n_vms, 1);
        ck_assert_ptr_null(vs_sample_find_vm(s4, "b"));
        /* an old sample stays valid while someone holds it */
        ck_assert_str_eq(s2->vms[1].name, "b");
        vs_sample_unref(s2);
        vs_sample_unref(s3);
        vs_sample_unref(s4);
        hv_vm_destroy(a);
        hv_vm_destroy(b);
        vs_sampler_free(s);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(history_ring) {
        REQUIRE_KVM(kvm);
        struct vs_sampler_config cfg = { .interval_ns = 100000000ull, .history = 4 };
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                cfg.enable[i] = -1;
        struct vs_sampler *s;
        ck_assert_int_eq(vs_sampler_new(&cfg, &s), 0);
        struct hv_vm *vm = started(kvm, s, "hist", 2, &(struct hv_builtin) { .guest = "demo" });
        struct vs_history h;
        ck_assert_int_eq(vs_sampler_history(s, "nosuch", 10, &h), -ENOENT);
        for (int k = 0; k < 6; k++) {
                ck_assert_int_eq(vs_sampler_sample(s), 0);
                test_sleep_ms(50);
        }
        ck_assert_int_eq(vs_sampler_history(s, "hist", 10, &h), 0);
        ck_assert_uint_eq(h.n_points, 4); /* the ring keeps 4 */
        ck_assert_uint_eq(h.vcpus, 2);
        struct vs_sample *last = vs_sampler_latest(s);
        ck_assert_uint_eq(h.mono_ns[3], last->mono_ns);
        for (unsigned p = 0; p < h.n_points; p++) {
                if (p)
                        ck_assert_uint_gt(h.mono_ns[p], h.mono_ns[p - 1]);
                for (unsigned i = 0; i < 2; i++) {
                        const struct vs_hist_vcpu *e = &h.vcpu[p * 2 + i];
                        ck_assert_uint_eq(e->state_us[0] + e->state_us[1] + e->state_us[2] + e->state_us[3], e->w_us);
                        ck_assert_uint_gt(e->w_us, 40000);
                }
        }
        uint64_t exits = 0;
        for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                exits += last->vms[0].vcpu[1].exit_delta[e];
        ck_assert_uint_eq(h.vcpu[3 * 2 + 1].exits, exits);
        vs_history_release(&h);
        ck_assert_int_eq(vs_sampler_history(s, "hist", 2, &h), 0);
        ck_assert_uint_eq(h.n_points, 2);
        ck_assert_uint_eq(h.mono_ns[1], last->mono_ns);
        vs_history_release(&h);
        vs_sample_unref(last);
        hv_vm_destroy(vm);
        vs_sampler_free(s);
        hv_kvm_free(kvm);
}
END_TEST

static int slow_sample_host(struct collector *c, struct cl_host_raw *out) {
        (void) c;
        (void) out;
        test_sleep_ms(30);
        return 0;
}

static const struct collector_ops collector_slow = { .name = "slow", .sample_host = slow_sample_host };

/* The timer keeps to start + k * interval even when sampling takes 30 ms: no drift. */
START_TEST(timer_does_not_drift) {
        const struct collector_ops *reg[] = { &collector_executor, &collector_slow };
        struct vs_sampler_config cfg = { .interval_ns = 100000000ull, .registry = reg, .registry_len = 2 };
        cfg.enable[0] = cfg.enable[1] = 1;
        struct vs_sampler *s;
        ck_assert_int_eq(vs_sampler_new(&cfg, &s), 0);
        uint64_t t0 = hv_now_ns();
        ck_assert_int_eq(vs_sampler_start(s), 0);
        test_sleep_ms(1050);
        vs_sampler_stop(s);
        struct vs_sample *smp = vs_sampler_latest(s);
        ck_assert_ptr_nonnull(smp);
        ck_assert_uint_eq(smp->seq, 10); /* drifting by 30 ms a sample would give 8 */
        uint64_t late = smp->mono_ns - t0 - smp->seq * 100000000ull;
        ck_assert_msg(late < 25000000ull, "10th sample %llu ns after its deadline", (unsigned long long) late);
        vs_sample_unref(smp);
        vs_sampler_free(s);
        struct vs_sampler_config bad = { .interval_ns = 99 * 1000000ull };
        ck_assert_int_eq(vs_sampler_new(&bad, &s), -EINVAL);
}
END_TEST

int main(void) {
        Suite *su = suite_create("sampler");
        TCase *tc = tcase_create("sampler");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, invariant_100_samples);
        tcase_add_test(tc, ready_under_contention);
        tcase_add_test(tc, duty_blocked_and_pause_offline);
        tcase_add_test(tc, failing_collector_isolated);
        tcase_add_test(tc, vm_churn);
        tcase_add_test(tc, history_ring);
        tcase_add_test(tc, timer_does_not_drift);
        suite_add_tcase(su, tc);
        return test_run_suite(su);
}
