/* hv/devices/serial.c: the 16550A at 0x3f8 as Linux's 8250 driver probes and drives it, its
 * console output, and its IRQ 4 as the in-kernel PIC sees it. */
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "kvm_helper.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, EFR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6,
       SCR = 7 };

static uint8_t in(struct hv_vm *vm, unsigned reg) {
        return test_inb(vm, HV_PORT_SERIAL + reg);
}

static void out(struct hv_vm *vm, unsigned reg, uint8_t v) {
        test_outb(vm, HV_PORT_SERIAL + reg, v);
}

#define IRQ4 (1u << HV_LINUX_IRQ_SERIAL)

/* The first half of Linux's autoconfig(): IER keeps exactly its low nibble, the loopback
 * MSR test, then FIFO detection through IIR's top bits. */
START_TEST(autoconfig_finds_16550a) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-auto");
        uint8_t saved_ier = in(vm, IER);
        out(vm, IER, 0);
        ck_assert_uint_eq(in(vm, IER) & 0x0f, 0);
        out(vm, IER, 0xff);
        ck_assert_uint_eq(in(vm, IER), 0x0f); /* upper nibble does not stick */
        out(vm, IER, saved_ier);

        uint8_t saved_mcr = in(vm, MCR);
        out(vm, MCR, 0x1a); /* LOOP | OUT2 | RTS */
        ck_assert_uint_eq(in(vm, MSR) & 0xf0, 0x90); /* DCD (from OUT2) | CTS (from RTS) */
        out(vm, MCR, saved_mcr);

        out(vm, LCR, 0xbf);
        out(vm, EFR, 0);
        out(vm, LCR, 0);
        ck_assert_uint_eq(in(vm, IIR) & 0xc0, 0x00); /* FIFO still off */
        out(vm, FCR, 0x01);
        ck_assert_uint_eq(in(vm, IIR) & 0xc0, 0xc0); /* 16550A */

        /* autoconfig_16550a: no EFR under either config mode, not a 16750 */
        out(vm, LCR, 0x80);
        ck_assert_uint_ne(in(vm, EFR), 0);
        out(vm, LCR, 0xbf);
        ck_assert_uint_ne(in(vm, EFR), 0);
        out(vm, LCR, 0);
        out(vm, FCR, 0x21);
        ck_assert_uint_eq(in(vm, IIR) & 0xe0, 0xc0);
        out(vm, FCR, 0x01);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(scratch_and_divisor_latch) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-regs");
        out(vm, SCR, 0xa5);
        ck_assert_uint_eq(in(vm, SCR), 0xa5);
        out(vm, SCR, 0x5a);
        ck_assert_uint_eq(in(vm, SCR), 0x5a);

        out(vm, IER, 0x05);
        out(vm, LCR, 0x83); /* DLAB | 8 bits */
        out(vm, DLL, 0x01);
        out(vm, DLM, 0x02);
        ck_assert_uint_eq(in(vm, DLL), 0x01);
        ck_assert_uint_eq(in(vm, DLM), 0x02);
        ck_assert_uint_eq(in(vm, LCR), 0x83);
        out(vm, LCR, 0x03);
        ck_assert_uint_eq(in(vm, IER), 0x05); /* the latch did not touch IER */
        out(vm, LCR, 0x80);
        ck_assert_uint_eq(in(vm, DLL) | in(vm, DLM) << 8, 0x0201);
        ck_assert_uint_eq(hv_console_total(vm->console), 0); /* DLL writes are not output */
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(thr_bytes_reach_console) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-tx");
        const char *msg = "Linux version 6.1\r\n";
        for (const char *p = msg; *p; p++) {
                ck_assert_uint_eq(in(vm, LSR) & 0x60, 0x60); /* THRE | TEMT: send at once */
                out(vm, THR, (uint8_t) *p);
        }
        char buf[64];
        size_t n = hv_console_tail(vm->console, buf, sizeof(buf));
        ck_assert_uint_eq(n, strlen(msg));
        ck_assert(memcmp(buf, msg, n) == 0);
        ck_assert_uint_eq(in(vm, LSR), 0x60); /* no data received */
        ck_assert_uint_eq(in(vm, MSR) & 0xf0, 0xb0); /* DCD | DSR | CTS: never waits on flow control */
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(loopback_stays_off_console) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-loop");
        out(vm, MCR, 0x10);
        out(vm, THR, 'x');
        out(vm, THR, 'y');
        ck_assert_uint_eq(in(vm, LSR) & 0x03, 0x03); /* DR, and OE: FIFO off, one holding byte */
        ck_assert_uint_eq(in(vm, LSR) & 0x03, 0x01); /* OE is reported once */
        ck_assert_uint_eq(in(vm, RBR), 'x');
        ck_assert_uint_eq(in(vm, LSR) & 0x01, 0x00);
        out(vm, FCR, 0x07); /* FIFO on, both cleared */
        out(vm, THR, 'a');
        out(vm, THR, 'b');
        out(vm, THR, 'c');
        ck_assert_uint_eq(in(vm, RBR), 'a');
        ck_assert_uint_eq(in(vm, RBR), 'b');
        ck_assert_uint_eq(in(vm, LSR) & 0x01, 0x01);
        ck_assert_uint_eq(in(vm, RBR), 'c');
        ck_assert_uint_eq(in(vm, LSR) & 0x01, 0x00);
        ck_assert_uint_eq(hv_console_total(vm->console), 0);
        out(vm, MCR, 0);
        out(vm, THR, 'z');
        ck_assert_uint_eq(hv_console_total(vm->console), 1);
        ck_assert_uint_eq(in(vm, LSR) & 0x01, 0x00);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(size_fifo_counts_16) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-fifo");
        /* size_fifo(): 256 bytes in loopback, then count what can be read back */
        out(vm, FCR, 0x07);
        out(vm, MCR, 0x10);
        out(vm, LCR, 0x80);
        out(vm, DLL, 1);
        out(vm, DLM, 0);
        out(vm, LCR, 0x03);
        for (unsigned i = 0; i < 256; i++)
                out(vm, THR, (uint8_t) i);
        unsigned count = 0;
        while ((in(vm, LSR) & 0x01) && count < 256)
                ck_assert_uint_eq(in(vm, RBR), count++);
        ck_assert_uint_eq(count, 16); /* a 16550A, not a U6 with 64 */
        ck_assert_uint_eq(hv_console_total(vm->console), 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(loopback_modem_status_deltas) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-msr");
        out(vm, MCR, 0x10);
        in(vm, MSR); /* entering loopback dropped DCD, DSR and CTS */
        out(vm, MCR, 0x11);                        /* DTR -> DSR */
        ck_assert_uint_eq(in(vm, MSR), 0x20 | 0x02); /* DSR and its delta */
        ck_assert_uint_eq(in(vm, MSR), 0x20);        /* delta cleared by the read */
        out(vm, MCR, 0x14);                        /* OUT1 -> RI, DTR off */
        in(vm, MSR);
        out(vm, MCR, 0x10);                        /* RI trailing edge */
        ck_assert_uint_eq(in(vm, MSR), 0x04);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* serial8250_do_startup's THRE test: THRE must be re-raised whenever THRI is enabled. */
START_TEST(thre_reasserts_on_enable) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-thre");
        out(vm, FCR, 0x01);
        ck_assert_uint_eq(in(vm, IIR), 0xc1);
        out(vm, IER, 0x02);
        ck_assert_uint_eq(in(vm, IIR), 0xc2);
        ck_assert_uint_eq(in(vm, IIR), 0xc1); /* the read acknowledged it */
        out(vm, IER, 0);
        out(vm, IER, 0x02);
        ck_assert_uint_eq(in(vm, IIR), 0xc2);
        out(vm, THR, 'q'); /* a write acknowledges and, sent at once, raises it again */
        ck_assert_uint_eq(in(vm, IIR), 0xc2);
        ck_assert_uint_eq(in(vm, IIR), 0xc1);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(thre_interrupt_reaches_pic) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-irq");
        ck_assert_uint_eq(test_pic_master(vm).irr & IRQ4, 0);
        out(vm, MCR, 0x0b); /* DTR | RTS | OUT2, as Linux sets it */
        out(vm, IER, 0x02);
        struct kvm_pic_state pic = test_pic_master(vm);
        ck_assert_uint_eq(pic.irr & IRQ4, IRQ4);      /* the edge was latched */
        ck_assert_uint_eq(pic.last_irr & IRQ4, IRQ4); /* and the line is high */
        ck_assert_uint_eq(in(vm, IIR), 0x02);
        ck_assert_uint_eq(test_pic_master(vm).last_irr & IRQ4, 0); /* acknowledged: line low */
        out(vm, THR, '.');
        ck_assert_uint_eq(test_pic_master(vm).last_irr & IRQ4, IRQ4);
        out(vm, IER, 0);
        ck_assert_uint_eq(test_pic_master(vm).last_irr & IRQ4, 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(no_interrupt_unless_enabled) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-noirq");
        out(vm, MCR, 0x0b);
        out(vm, THR, 'a'); /* IER = 0 */
        ck_assert_uint_eq(in(vm, IIR), 0x01);
        struct kvm_pic_state pic = test_pic_master(vm);
        ck_assert_uint_eq(pic.irr & IRQ4, 0);
        ck_assert_uint_eq(pic.last_irr & IRQ4, 0);
        out(vm, MCR, 0x03); /* OUT2 off: the UART's interrupt is not wired to the ISA line */
        out(vm, IER, 0x02);
        ck_assert_uint_eq(test_pic_master(vm).irr & IRQ4, 0);
        out(vm, MCR, 0x0b); /* OUT2 on with THRE pending: now it rises */
        ck_assert_uint_eq(test_pic_master(vm).irr & IRQ4, IRQ4);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(rx_interrupt_until_drained) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "ser-rxirq");
        out(vm, MCR, 0x18); /* LOOP | OUT2 */
        out(vm, IER, 0x01);
        ck_assert_uint_eq(test_pic_master(vm).last_irr & IRQ4, 0);
        out(vm, THR, 'r');
        ck_assert_uint_eq(in(vm, IIR), 0x04);
        ck_assert_uint_eq(test_pic_master(vm).last_irr & IRQ4, IRQ4);
        ck_assert_uint_eq(in(vm, IIR), 0x04); /* reading IIR does not acknowledge received data */
        ck_assert_uint_eq(in(vm, RBR), 'r');
        ck_assert_uint_eq(in(vm, IIR), 0x01);
        ck_assert_uint_eq(test_pic_master(vm).last_irr & IRQ4, 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* The same path through real KVM_EXIT_IO: a guest's OUTs to 0x3f8 land in the console. */
START_TEST(guest_outs_reach_console) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "ser-guest", 1, &(struct hv_builtin) { .guest = "pio", .count = 100, .port = HV_PORT_SERIAL });
        test_run_to_end(vm, 10000);
        test_assert_exit_code(vm, 0);
        char buf[128];
        ck_assert_uint_eq(hv_console_tail(vm->console, buf, sizeof(buf)), 100);
        for (unsigned i = 0; i < 100; i++)
                ck_assert_uint_eq((uint8_t) buf[i], i);
        ck_assert_uint_eq(test_counters(vm, 0).unhandled_io, 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("serial");
        TCase *tc = tcase_create("serial");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, autoconfig_finds_16550a);
        tcase_add_test(tc, scratch_and_divisor_latch);
        tcase_add_test(tc, thr_bytes_reach_console);
        tcase_add_test(tc, loopback_stays_off_console);
        tcase_add_test(tc, size_fifo_counts_16);
        tcase_add_test(tc, loopback_modem_status_deltas);
        tcase_add_test(tc, thre_reasserts_on_enable);
        tcase_add_test(tc, thre_interrupt_reaches_pic);
        tcase_add_test(tc, no_interrupt_unless_enabled);
        tcase_add_test(tc, rx_interrupt_until_drained);
        tcase_add_test(tc, guest_outs_reach_console);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
