/* The devices every VM gets. */
#ifndef HV_DEVICES_H
#define HV_DEVICES_H

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

struct hv_vm;

/* console ring (console.c): bytes the guest writes to the debug console port */
struct hv_console;
int hv_console_new(size_t size, struct hv_console **ret);
void hv_console_free(struct hv_console *c);
void hv_console_write(struct hv_console *c, const uint8_t *data, size_t len);
/* Copies the last bytes (at most max) into buf; returns how many. */
size_t hv_console_tail(const struct hv_console *c, char *buf, size_t max);
/* Copies bytes from absolute offset *pos on (moved up to the oldest byte still in the ring
 * if older ones were overwritten), at most max; advances *pos past what it copied. */
size_t hv_console_read(const struct hv_console *c, uint64_t *pos, char *buf, size_t max);
/* Bytes written since creation (they may since have been overwritten). */
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
