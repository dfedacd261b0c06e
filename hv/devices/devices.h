/* The devices every VM gets. */
#ifndef HV_DEVICES_H
#define HV_DEVICES_H

#include <errno.h>
#include <stdatomic.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

struct hv_vm;

/* console ring (console.c): bytes the guest writes to the debug console port */
struct hv_console;
int hv_console_new(size_t size, struct hv_console **ret);
/* A ring over memory someone else owns (a VM's shared memfd): head and size slots, zeroed. */
int hv_console_wrap(_Atomic uint64_t *head, _Atomic uint32_t *slots, size_t size, struct hv_console **ret);
void hv_console_free(struct hv_console *c);
void hv_console_write(struct hv_console *c, const uint8_t *data, size_t len);
/* Readers see only bytes their writer has stored, in ring order: a byte reserved by one vCPU but
 * not yet stored ends what a read returns until it is. */
/* Copies the last committed bytes (at most max) into buf; returns how many. */
size_t hv_console_tail(const struct hv_console *c, char *buf, size_t max);
/* Copies committed bytes from absolute offset *pos on, at most max, and moves *pos past them.
 * Bytes the ring overwrote before they could be copied are skipped: *pos then moves further
 * than the count returned (by exactly the bytes lost). */
size_t hv_console_read(const struct hv_console *c, uint64_t *pos, char *buf, size_t max);
/* Bytes reserved since creation: written, being written, or since overwritten. */
uint64_t hv_console_total(const struct hv_console *c);

int hv_console_attach(struct hv_vm *vm);
int hv_exitport_attach(struct hv_vm *vm);
int hv_i8042_attach(struct hv_vm *vm);
int hv_post_attach(struct hv_vm *vm);
int hv_rtc_attach(struct hv_vm *vm);
int hv_scratch_attach(struct hv_vm *vm);
int hv_serial_attach(struct hv_vm *vm);
int hv_sleep_attach(struct hv_vm *vm);

static inline uint64_t hv_io_get(const uint8_t *data, uint32_t len) {
        uint64_t v = 0;
        for (uint32_t i = 0; i < len && i < 8; i++)
                v |= (uint64_t) data[i] << (8 * i);
        return v;
}

static inline void hv_io_put(uint8_t *data, uint32_t len, uint64_t v) {
        for (uint32_t i = 0; i < len && i < 8; i++)
                data[i] = (uint8_t) (v >> (8 * i));
}

/* Drives ISA interrupt line irq of the in-kernel PIC and IOAPIC. The lines are edge
 * triggered: the guest sees an interrupt on each 0 -> 1 change, so callers pass levels
 * (tracking their own) rather than pulses. */
static inline int hv_irq_line(int vm_fd, uint32_t irq, bool level) {
        struct kvm_irq_level l = { .irq = irq, .level = level };
        return ioctl(vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

#endif
