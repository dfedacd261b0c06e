/* collectors/sched.c: values match a direct read of procfs, also when the expensive file is
 * skipped because the thread has not run or waited since the last sample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "kvm_helper.h"

static uint64_t proc_value(pid_t tid, const char *file, const char *key) {
        char path[64], line[256];
        uint64_t v = UINT64_MAX;
        snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, file);
        FILE *f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0 && strchr(line, ':'))
                        v = strtoull(strchr(line, ':') + 1, NULL, 10);
        fclose(f);
        ck_assert_uint_ne(v, UINT64_MAX);
        return v;
}

static void sample(struct collector *c, struct cl_vm *cv, struct cl_vm_raw *raw) {
        memset(raw->vcpus, 0, raw->n_vcpus * sizeof(raw->vcpus[0]));
        raw->have = 0;
        ck_assert_int_eq(collector_sched.sample_vm(c, cv, raw), 0);
        ck_assert_uint_eq(raw->have, CL_HAVE_SCHED);
}

/* A vCPU thread that does not get scheduled (paused, or halted with interrupts off) keeps its
 * counts: the collector must report exactly what procfs says, twice in a row. */
static void check_quiet_vm(const char *guest, bool pause) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, guest, 2, &(struct hv_builtin) { .guest = guest });
        struct collector c = { .ops = &collector_sched, .slot = 0, .enabled = true };
        struct cl_vm cv = { .hv = vm };
        struct cl_vm_raw raw = { .n_vcpus = 2, .vcpus = calloc(2, sizeof(*raw.vcpus)) };

        sample(&c, &cv, &raw); /* not started: nothing to read, still a success */
        ck_assert_uint_eq(raw.vcpus[0].have, 0);
        ck_assert_int_eq(hv_vm_start(vm), 0);
        sample(&c, &cv, &raw); /* while the threads still run: what the collector caches */
        test_sleep_ms(100);
        sample(&c, &cv, &raw);
        if (pause)
                ck_assert_int_eq(hv_vm_pause(vm), 0);
        test_sleep_ms(50);
        for (int round = 0; round < 2; round++) {
                sample(&c, &cv, &raw);
                for (unsigned i = 0; i < 2; i++) {
                        pid_t tid = hv_vcpu_tid(vm->vcpus[i]);
                        const struct cl_sched *s = &raw.vcpus[i].sched;
                        ck_assert_uint_eq(raw.vcpus[i].have, CL_HAVE_SCHED);
                        ck_assert_uint_eq(s->voluntary_switches, proc_value(tid, "status", "voluntary_ctxt_switches"));
                        ck_assert_uint_eq(s->involuntary_switches,
                                          proc_value(tid, "status", "nonvoluntary_ctxt_switches"));
                        ck_assert_uint_eq(s->migrations, proc_value(tid, "sched", "se.nr_migrations"));
                        ck_assert_uint_gt(s->timeslices, 0);
                }
        }
        hv_vm_stop(vm);
        sample(&c, &cv, &raw); /* exited threads are skipped, their files closed */
        ck_assert_uint_eq(raw.vcpus[0].have, 0);
        collector_sched.forget_vm(&c, &cv);
        ck_assert_ptr_null(cv.priv[0]);
        free(raw.vcpus);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}

START_TEST(paused_vm_exact) {
        check_quiet_vm("demo", true);
}
END_TEST

/* spin is on-CPU when read; the pause then blocks it without a new timeslice or run_delay:
 * only its CPU time tells the collector the switch counts moved */
START_TEST(spin_then_paused_exact) {
        check_quiet_vm("spin", true);
}
END_TEST

START_TEST(halted_vm_exact) {
        check_quiet_vm("halt", false);
}
END_TEST

/* A running vCPU's run_delay and timeslices only grow. */
START_TEST(busy_vm_monotonic) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "busy", 1, &(struct hv_builtin) { .guest = "demo" });
        struct collector c = { .ops = &collector_sched, .slot = 0, .enabled = true };
        struct cl_vm cv = { .hv = vm };
        struct cl_vm_raw raw = { .n_vcpus = 1, .vcpus = calloc(1, sizeof(*raw.vcpus)) };
        struct cl_sched prev = { 0 };
        ck_assert_int_eq(hv_vm_start(vm), 0);
        for (int k = 0; k < 20; k++) {
                test_sleep_ms(20);
                sample(&c, &cv, &raw);
                const struct cl_sched *s = &raw.vcpus[0].sched;
                ck_assert_uint_ge(s->run_delay_ns, prev.run_delay_ns);
                ck_assert_uint_ge(s->timeslices, prev.timeslices);
                ck_assert_uint_ge(s->voluntary_switches, prev.voluntary_switches);
                prev = *s;
        }
        ck_assert_uint_gt(prev.voluntary_switches, 0); /* the demo guest idles in HLT */
        collector_sched.forget_vm(&c, &cv);
        free(raw.vcpus);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("sched");
        TCase *tc = tcase_create("sched");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, paused_vm_exact);
        tcase_add_test(tc, spin_then_paused_exact);
        tcase_add_test(tc, halted_vm_exact);
        tcase_add_test(tc, busy_vm_monotonic);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
