/* hv/devices/sleep.c: SLP_TYP 5 with SLP_EN in the ACPI sleep control register ends the VM as
 * stopped(poweroff), as Linux's acpi_power_off writes it; anything else leaves the VM alone, and
 * the status register reads 0 whatever is written to it. */
#include "boot/layout.h"
#include "kvm_helper.h"

#define SLP_EN 0x20
#define SLP_TYP(t) ((uint8_t) ((t) << 2))

static void assert_untouched(struct hv_vm *vm) {
        ck_assert_int_eq(hv_vm_state(vm), HV_VM_CREATED);
}

START_TEST(s5_powers_off) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "sleep-s5");
        test_outb(vm, HV_PORT_SLEEP_STS, 0x80); /* Linux first clears WAK_STS */
        assert_untouched(vm);
        test_outb(vm, HV_PORT_SLEEP_CTL, SLP_TYP(5) | SLP_EN);
        struct hv_vm_outcome o;
        hv_vm_get_outcome(vm, &o);
        ck_assert_int_eq(hv_vm_state(vm), HV_VM_STOPPED);
        ck_assert_int_eq(o.state, HV_VM_STOPPED);
        ck_assert_int_eq(o.reason, HV_REASON_POWEROFF);
        ck_assert_int_eq(o.exit_code, 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* SLP_TYP 5 alone is only a value being set up; S1-S4 do not exist here; other bits are
 * reserved. None of them may end the VM. */
START_TEST(other_writes_ignored) {
        static const uint8_t writes[] = {
                SLP_TYP(5), SLP_TYP(3) | SLP_EN, SLP_TYP(1) | SLP_EN, SLP_TYP(4) | SLP_EN,
                SLP_TYP(0) | SLP_EN, SLP_TYP(7) | SLP_EN, 0x00, 0xc0 | SLP_TYP(3),
        };
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "sleep-other");
        for (unsigned i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
                test_outb(vm, HV_PORT_SLEEP_CTL, writes[i]);
                ck_assert_msg(hv_vm_state(vm) == HV_VM_CREATED, "control write 0x%02x ended the VM", writes[i]);
        }
        test_outb(vm, HV_PORT_SLEEP_STS, SLP_TYP(5) | SLP_EN); /* the status register is not control */
        assert_untouched(vm);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* Nothing wakes from S5, so WAK_STS (bit 7) never reads set; control reads 0 too. */
START_TEST(registers_read_zero) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "sleep-read");
        ck_assert_uint_eq(test_inb(vm, HV_PORT_SLEEP_STS), 0);
        test_outb(vm, HV_PORT_SLEEP_STS, 0xff);
        ck_assert_uint_eq(test_inb(vm, HV_PORT_SLEEP_STS), 0);
        test_outb(vm, HV_PORT_SLEEP_CTL, SLP_TYP(3));
        ck_assert_uint_eq(test_inb(vm, HV_PORT_SLEEP_CTL), 0);
        uint8_t both[2] = { 0xff, 0xff };
        ck_assert(hv_bus_access(&vm->pio, NULL, HV_PORT_SLEEP_CTL, both, 2, false));
        ck_assert_uint_eq(both[0] | both[1], 0);
        ck_assert(!hv_bus_find(&vm->pio, HV_PORT_SLEEP_STS + 1)); /* two ports, no more */
        assert_untouched(vm);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("sleep");
        TCase *tc = tcase_create("sleep");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, s5_powers_off);
        tcase_add_test(tc, other_writes_ignored);
        tcase_add_test(tc, registers_read_zero);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
