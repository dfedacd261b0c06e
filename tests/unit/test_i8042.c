/* hv/devices/i8042.c: the controller answers Linux's i8042 probe at once, the keyboard ACKs
 * with IRQ 1, and both reset paths end the VM as stopped(reboot). */
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot/layout.h"
#include "kvm_helper.h"

#define DATA 0x60
#define CMD  HV_PORT_I8042

#define STR_OBF 0x01
#define STR_IBF 0x02
#define STR_SYS 0x04
#define STR_UNLOCKED 0x10
#define IRQ1 0x02

/* i8042_command(): wait for IBF clear, write, wait for OBF, read; fails the test on timeout. */
static uint8_t command_reply(struct hv_vm *vm, uint8_t cmd) {
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_IBF, 0);
        test_outb(vm, CMD, cmd);
        ck_assert_msg(test_inb(vm, CMD) & STR_OBF, "no reply to command 0x%02x", cmd);
        return test_inb(vm, DATA);
}

static void command_param(struct hv_vm *vm, uint8_t cmd, uint8_t param) {
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_IBF, 0);
        test_outb(vm, CMD, cmd);
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_IBF, 0);
        test_outb(vm, DATA, param);
}

static void assert_rebooted(struct hv_vm *vm) {
        struct hv_vm_outcome o;
        hv_vm_get_outcome(vm, &o);
        ck_assert_int_eq(hv_vm_state(vm), HV_VM_STOPPED);
        ck_assert_int_eq(o.state, HV_VM_STOPPED);
        ck_assert_int_eq(o.reason, HV_REASON_REBOOT);
}

START_TEST(idle_status) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "kbc-idle");
        uint8_t str = test_inb(vm, CMD);
        ck_assert_uint_eq(str & (STR_OBF | STR_IBF), 0); /* i8042_flush() finds nothing */
        ck_assert_uint_eq(str & (STR_SYS | STR_UNLOCKED), STR_SYS | STR_UNLOCKED);
        ck_assert_uint_ne(str, 0xff); /* not an empty bus */
        ck_assert(!hv_bus_find(&vm->pio, 0x61)); /* port B is not the controller's */
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(self_tests) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "kbc-test");
        test_outb(vm, CMD, 0xaa);
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, STR_OBF);
        ck_assert_uint_eq(test_inb(vm, DATA), 0x55);
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, 0); /* reading the data port emptied it */
        ck_assert_uint_eq(command_reply(vm, 0xab), 0x00);
        uint8_t aux = command_reply(vm, 0xa9);
        ck_assert(aux != 0x00 && aux != 0xfa && aux != 0xff); /* Linux: no AUX port */
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(command_byte_round_trip) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "kbc-ctr");
        uint8_t ctr = command_reply(vm, 0x20);
        ck_assert_uint_eq(command_reply(vm, 0x20), ctr); /* "stable CTR read" */
        ck_assert_uint_eq(ctr & 0x40, 0x40);             /* translated, as a BIOS leaves it */
        command_param(vm, 0x60, 0x47);
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, 0);
        ck_assert_uint_eq(command_reply(vm, 0x20), 0x47);
        test_outb(vm, CMD, 0xad);
        ck_assert_uint_eq(command_reply(vm, 0x20), 0x57);
        test_outb(vm, CMD, 0xae);
        test_outb(vm, CMD, 0xa7);
        ck_assert_uint_eq(command_reply(vm, 0x20), 0x67);
        test_outb(vm, CMD, 0xa8);
        ck_assert_uint_eq(command_reply(vm, 0x20), 0x47);
        command_param(vm, 0x60, 0x41); /* the system flag is the status register's too */
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_SYS, 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* i8042_platform_init, i8042_controller_check and i8042_controller_init in order, then
 * i8042_setup_kbd enabling the port: every step answered at once, nothing left over. */
START_TEST(linux_probe_sequence) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "kbc-linux");
        command_param(vm, 0xd1, 0xdf); /* A20 on: reset bit set, so no reset */
        test_outb(vm, CMD, 0xff);            /* "null command for SMM firmware" */
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, 0);
        uint8_t ctr = command_reply(vm, 0x20);
        ck_assert_uint_eq(command_reply(vm, 0x20), ctr);
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_UNLOCKED, STR_UNLOCKED); /* no keylock warning */
        command_param(vm, 0x60, (uint8_t) ((ctr | 0x10) & ~0x01));
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, 0);
        command_param(vm, 0x60, (uint8_t) ((ctr & ~0x10) | 0x01));
        ck_assert_uint_eq(command_reply(vm, 0x20), (uint8_t) ((ctr & ~0x10) | 0x01));
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, 0);
        ck_assert_int_eq(hv_vm_state(vm), HV_VM_CREATED);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(keyboard_acks_with_irq1) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "kbc-kbd");
        ck_assert_uint_eq(command_reply(vm, 0x20) & 0x01, 0x01); /* KBDINT */
        ck_assert_uint_eq(test_pic_master(vm).irr & IRQ1, 0);          /* controller replies: no IRQ */
        test_outb(vm, DATA, 0xf2);                                      /* get ID */
        struct kvm_pic_state pic = test_pic_master(vm);
        ck_assert_uint_eq(pic.irr & IRQ1, IRQ1);
        ck_assert_uint_eq(pic.last_irr & IRQ1, IRQ1);
        ck_assert_uint_eq(test_inb(vm, DATA), 0xfa);
        ck_assert_uint_eq(test_inb(vm, DATA), 0xab);
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, STR_OBF);
        ck_assert_uint_eq(test_inb(vm, DATA), 0x83);
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, 0);
        ck_assert_uint_eq(test_pic_master(vm).last_irr & IRQ1, 0); /* drained: line low */
        test_outb(vm, DATA, 0xee);
        ck_assert_uint_eq(test_inb(vm, DATA), 0xee); /* echo */
        test_outb(vm, DATA, 0xed);                   /* LEDs: command and parameter both ACKed */
        test_outb(vm, DATA, 0x07);
        ck_assert_uint_eq(test_inb(vm, DATA), 0xfa);
        ck_assert_uint_eq(test_inb(vm, DATA), 0xfa);
        command_param(vm, 0x60, 0x64); /* KBDINT off */
        test_outb(vm, DATA, 0xf4);
        ck_assert_uint_eq(test_pic_master(vm).last_irr & IRQ1, 0);
        ck_assert_uint_eq(test_inb(vm, DATA), 0xfa);
        command_param(vm, 0xd4, 0xf4); /* to the AUX port, which is not there */
        ck_assert_uint_eq(test_inb(vm, CMD) & STR_OBF, 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(reset_command_reboots) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "kbc-fe");
        test_outb(vm, CMD, 0xfe);
        assert_rebooted(vm);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(output_port_reset_reboots) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "kbc-d1");
        command_param(vm, 0xd1, 0xdf);
        ck_assert_int_eq(hv_vm_state(vm), HV_VM_CREATED);
        ck_assert_uint_eq(command_reply(vm, 0xd0), 0xdf);
        command_param(vm, 0xd1, 0xde); /* bit 0 clear: the reset line */
        assert_rebooted(vm);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("i8042");
        TCase *tc = tcase_create("i8042");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, idle_status);
        tcase_add_test(tc, self_tests);
        tcase_add_test(tc, command_byte_round_trip);
        tcase_add_test(tc, linux_probe_sequence);
        tcase_add_test(tc, keyboard_acks_with_irq1);
        tcase_add_test(tc, reset_command_reboots);
        tcase_add_test(tc, output_port_reset_reboots);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
