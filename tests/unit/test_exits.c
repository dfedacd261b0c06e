/* Exact userspace exit accounting with deterministic guests on the real /dev/kvm. */
#include <stdio.h>

#include "boot/layout.h"
#include "kvm_helper.h"
#include "shm.h"

#define PIO_N 1000
#define MMIO_N 500

/* Every KVM_RUN return is counted under exactly one reason and in the histograms once: the
 * total one and its reason's. */
static void assert_accounting_closed(struct hv_vm *vm) {
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                struct hv_counters c = test_counters(vm, i);
                uint64_t hist = 0;
                for (unsigned b = 0; b < HV_HIST_BUCKETS; b++)
                        hist += c.handle_ns_hist[b];
                ck_assert_uint_eq(hv_counters_exits_total(&c), c.runs);
                ck_assert_uint_eq(hist, c.runs);
                ck_assert_uint_le(c.immediate_exits, c.exits[HV_EXIT_INTR]);
                /* by reason: each histogram counts exactly that reason's exits, its sum and max
                 * are that reason's, and together they are the whole */
                uint64_t sum = 0;
                static hv_reason_hist h;
                hv_counters_read_reason_hist(vm->vcpus[i]->hist, h);
                for (unsigned e = 0; e < HV_EXIT__COUNT; e++) {
                        uint64_t n = 0;
                        for (unsigned b = 0; b < HV_HIST_BUCKETS; b++)
                                n += h[e][b];
                        ck_assert_msg(n == c.exits[e], "vcpu %u: %s: %llu timed, %llu counted", i, hv_exit_name(e),
                                      (unsigned long long) n, (unsigned long long) c.exits[e]);
                        ck_assert_uint_le(c.reason_ns_max[e], c.reason_ns_sum[e]);
                        ck_assert(n == 0 || c.reason_ns_max[e] * n >= c.reason_ns_sum[e]); /* max >= mean */
                        sum += c.reason_ns_sum[e];
                }
                ck_assert_uint_eq(sum, c.handle_ns_sum);
        }
}

/* pio: each vCPU does exactly PIO_N OUTs to the POST port; the last one out adds one OUT to
 * the exit port. Nothing else leaves KVM but kicks (intr). */
static void assert_pio_counts(struct hv_vm *vm) {
        unsigned with_exit_port = 0;
        test_assert_exit_code(vm, 0);
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                struct hv_counters c = test_counters(vm, i);
                ck_assert_msg(c.exits[HV_EXIT_IO_OUT] == PIO_N || c.exits[HV_EXIT_IO_OUT] == PIO_N + 1,
                              "vcpu %u: %llu io_out exits, expected %d (+1 for the exit port)", i,
                              (unsigned long long) c.exits[HV_EXIT_IO_OUT], PIO_N);
                with_exit_port += c.exits[HV_EXIT_IO_OUT] == PIO_N + 1;
                ck_assert_uint_eq(c.exits[HV_EXIT_IO_IN], 0);
                ck_assert_uint_eq(c.exits[HV_EXIT_MMIO_READ] + c.exits[HV_EXIT_MMIO_WRITE], 0);
                ck_assert_uint_eq(c.unhandled_io, 0);
        }
        ck_assert_uint_eq(with_exit_port, 1);
        ck_assert_uint_eq(test_exits(vm, HV_EXIT_IO_OUT), (uint64_t) vm->n_vcpus * PIO_N + 1);
        /* the POST latch holds the guest's last value: the exits really reached port 0x80 */
        uint8_t post;
        ck_assert(hv_bus_access(&vm->pio, NULL, HV_PORT_POST, &post, 1, false));
        ck_assert_uint_eq(post, (PIO_N - 1) & 0xff);
        assert_accounting_closed(vm);
}

/* mmio: each vCPU writes and reads an unclaimed address MMIO_N times; reads must see all-ones
 * (the guest exits with code 3 otherwise). */
static void assert_mmio_counts(struct hv_vm *vm) {
        test_assert_exit_code(vm, 0);
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                struct hv_counters c = test_counters(vm, i);
                ck_assert_uint_eq(c.exits[HV_EXIT_MMIO_WRITE], MMIO_N);
                ck_assert_uint_eq(c.exits[HV_EXIT_MMIO_READ], MMIO_N);
                ck_assert_uint_eq(c.unhandled_mmio, 2 * MMIO_N);
        }
        ck_assert_uint_eq(test_exits(vm, HV_EXIT_IO_OUT), 1);
        assert_accounting_closed(vm);
}

static const unsigned vcpu_counts[] = { 1, 2, 4 };

START_TEST(pio_one_vm) {
        REQUIRE_KVM(kvm);
        unsigned n = vcpu_counts[_i];
        struct hv_vm *vm = test_vm(kvm, "pio", n, &(struct hv_builtin) { .guest = "pio", .count = PIO_N });
        test_run_to_end(vm, 30000);
        assert_pio_counts(vm);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(mmio_one_vm) {
        REQUIRE_KVM(kvm);
        unsigned n = vcpu_counts[_i];
        struct hv_vm *vm = test_vm(kvm, "mmio", n, &(struct hv_builtin) { .guest = "mmio", .count = MMIO_N });
        test_run_to_end(vm, 30000);
        assert_mmio_counts(vm);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* n single-vCPU VMs of one guest in one process, all running at once. */
static void run_separate(const char *guest, uint64_t count, unsigned n, void (*check)(struct hv_vm *)) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vms[4];
        for (unsigned i = 0; i < n; i++) {
                char name[16];
                snprintf(name, sizeof(name), "%s%u", guest, i);
                vms[i] = test_vm(kvm, name, 1, &(struct hv_builtin) { .guest = guest, .count = count });
        }
        for (unsigned i = 0; i < n; i++)
                ck_assert_int_eq(hv_vm_start(vms[i]), 0);
        for (unsigned i = 0; i < n; i++) {
                ck_assert_int_eq(hv_vm_wait(vms[i], 30000), 0);
                check(vms[i]);
                hv_vm_destroy(vms[i]);
        }
        hv_kvm_free(kvm);
}

START_TEST(pio_separate_vms) {
        run_separate("pio", PIO_N, vcpu_counts[_i], assert_pio_counts);
}
END_TEST

START_TEST(mmio_separate_vms) {
        run_separate("mmio", MMIO_N, vcpu_counts[_i], assert_mmio_counts);
}
END_TEST

/* Ports and MMIO nobody claims are counted, read as all-ones, and the guest carries on. */
START_TEST(unclaimed_port_counted) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "unclaimed", 1, &(struct hv_builtin) { .guest = "pio", .count = 300, .port = 0x3f0 });
        test_run_to_end(vm, 30000);
        test_assert_exit_code(vm, 0);
        struct hv_counters c = test_counters(vm, 0);
        ck_assert_uint_eq(c.unhandled_io, 300);
        ck_assert_uint_eq(c.exits[HV_EXIT_IO_OUT], 301);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* cpuid exits are handled inside KVM: userspace sees only the exit port write. */
START_TEST(cpuid_stays_in_kernel) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "cpuid", 2, &(struct hv_builtin) { .guest = "cpuid", .count = 2000 });
        test_run_to_end(vm, 30000);
        test_assert_exit_code(vm, 0);
        ck_assert_uint_eq(test_exits(vm, HV_EXIT_IO_OUT), 1);
        ck_assert_uint_eq(test_exits(vm, HV_EXIT_IO_IN) + test_exits(vm, HV_EXIT_MMIO_READ) +
                                  test_exits(vm, HV_EXIT_MMIO_WRITE) + test_exits(vm, HV_EXIT_UNKNOWN),
                          0);
        assert_accounting_closed(vm);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

static Suite *exits_suite(void) {
        Suite *s = suite_create("exits");
        TCase *tc = tcase_create("exact");
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, pio_one_vm, 0, 3);
        tcase_add_loop_test(tc, mmio_one_vm, 0, 3);
        tcase_add_loop_test(tc, pio_separate_vms, 0, 3);
        tcase_add_loop_test(tc, mmio_separate_vms, 0, 3);
        tcase_add_test(tc, unclaimed_port_counted);
        tcase_add_test(tc, cpuid_stays_in_kernel);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_run_suite(exits_suite());
}
