/* collectors/perf.c: on a host whose PMU counts guest-only instructions the collector must
 * report them for a spinning guest; on any other host it must fail, saying why. A direct
 * perf_event_open probe in the test decides which of the two this host owes us. */
#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "collectors/collector.h"
#include "kvm_helper.h"

#define SLOT 4

/* 0 when this thread may count its own guest-only instructions, else the errno. */
static int probe_guest_instructions(void) {
        struct perf_event_attr attr = {
                .type = PERF_TYPE_HARDWARE,
                .size = sizeof(attr),
                .config = PERF_COUNT_HW_INSTRUCTIONS,
                .exclude_host = 1,
        };
        long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0)
                return errno;
        close((int) fd);
        return 0;
}

static unsigned count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;
        ck_assert_ptr_nonnull(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

struct harness {
        struct collector c;
        struct cl_vm vm;
        struct cl_vm_raw raw;
};

static int harness_sample(struct harness *t) {
        cl_vm_raw_release(&t->raw);
        t->raw = (struct cl_vm_raw) { .n_vcpus = t->vm.hv->n_vcpus };
        t->raw.vcpus = calloc(t->raw.n_vcpus, sizeof(*t->raw.vcpus));
        ck_assert_ptr_nonnull(t->raw.vcpus);
        t->c.error[0] = 0;
        int r = t->c.ops->sample_vm(&t->c, &t->vm, &t->raw);
        t->c.success = r == 0;
        return r;
}

static void wait_started(struct hv_vm *vm) {
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                struct hv_vcpu_raw rs;
                for (unsigned tries = 0;; tries++) {
                        hv_vcpu_read_raw(vm->vcpus[i], &rs);
                        if (rs.tid)
                                break;
                        ck_assert_msg(tries < 2000, "vCPU %u never started", i);
                        test_sleep_ms(1);
                }
        }
}

START_TEST(counts_guest_or_says_why) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "perf", 2, &(struct hv_builtin) { .guest = "spin" });
        struct harness t = { .c = { .ops = &collector_perf, .slot = SLOT, .enabled = true }, .vm = { .hv = vm } };
        unsigned fds_before = count_fds();
        int probe = probe_guest_instructions();
        ck_assert(!collector_perf.enabled_by_default);
        fprintf(stderr, "perf probe: guest-only instructions %s\n", probe ? strerror(probe) : "supported");

        /* threads not started yet: nothing to open, nothing to fail */
        ck_assert_int_eq(harness_sample(&t), 0);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                ck_assert_uint_eq(t.raw.vcpus[i].have & CL_HAVE_PERF, 0);

        ck_assert_int_eq(hv_vm_start(vm), 0);
        wait_started(vm);
        test_sleep_ms(200);
        int r = harness_sample(&t);
        if (probe == 0) {
                ck_assert_msg(r == 0 && t.c.success, "perf works on this host (direct probe), the collector says: %s",
                              t.c.error);
                ck_assert_uint_eq(t.raw.have & CL_HAVE_PERF, CL_HAVE_PERF);
                struct cl_perf first[2];
                for (unsigned i = 0; i < vm->n_vcpus; i++) {
                        ck_assert_uint_eq(t.raw.vcpus[i].have & CL_HAVE_PERF, CL_HAVE_PERF);
                        ck_assert_uint_gt(t.raw.vcpus[i].perf.instructions, 0);
                        ck_assert_uint_gt(t.raw.vcpus[i].perf.cycles, 0);
                        first[i] = t.raw.vcpus[i].perf;
                }
                /* the same events, still counting: the guest spins on */
                test_sleep_ms(100);
                ck_assert_int_eq(harness_sample(&t), 0);
                for (unsigned i = 0; i < vm->n_vcpus; i++)
                        ck_assert_uint_gt(t.raw.vcpus[i].perf.instructions, first[i].instructions);
        } else {
                ck_assert_msg(r < 0 && !t.c.success, "perf_event_open fails here (%s) yet the collector succeeded",
                              strerror(probe));
                fprintf(stderr, "perf collector: %s\n", t.c.error);
                ck_assert_msg(strncmp(t.c.error, "perf: ", 6) == 0, "error '%s'", t.c.error);
                ck_assert_msg(strstr(t.c.error, strerror(probe)), "error '%s' does not name the cause '%s'", t.c.error,
                              strerror(probe));
                if (probe == ENOENT || probe == ENODEV || probe == EOPNOTSUPP)
                        ck_assert_ptr_nonnull(strstr(t.c.error, "not supported on this host"));
                if (probe == EACCES || probe == EPERM)
                        ck_assert_ptr_nonnull(strstr(t.c.error, "perf_event_paranoid"));
                for (unsigned i = 0; i < vm->n_vcpus; i++)
                        ck_assert_uint_eq(t.raw.vcpus[i].have & CL_HAVE_PERF, 0);
        }
        ck_assert_int_eq(hv_vm_stop(vm), 0);
        /* exited threads: events opened before keep their final counts; none are opened now */
        ck_assert_int_eq(harness_sample(&t), 0);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                ck_assert_uint_eq(t.raw.vcpus[i].have & CL_HAVE_PERF, probe == 0 ? CL_HAVE_PERF : 0);

        t.c.ops->forget_vm(&t.c, &t.vm);
        ck_assert_ptr_null(t.vm.priv[SLOT]);
        ck_assert_uint_eq(count_fds(), fds_before);
        t.c.ops->forget_vm(&t.c, &t.vm); /* nothing left: harmless */
        cl_vm_raw_release(&t.raw);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

static Suite *perf_suite(void) {
        Suite *s = suite_create("perf");
        TCase *tc = tcase_create("guest");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, counts_guest_or_says_why);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_run_suite(perf_suite());
}
