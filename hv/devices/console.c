/* Debug console port (0xe9): every byte the guest writes lands in a per-VM ring that later
 * layers read. vCPUs reserve space with one atomic add, so they never share a lock. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

struct hv_console {
        _Atomic uint64_t head; /* total bytes ever written */
        size_t mask;
        char *buf;
};

int hv_console_new(size_t size, struct hv_console **ret) {
        if (size == 0)
                size = 64 * 1024;
        if (size & (size - 1))
                return -EINVAL;
        struct hv_console *c = calloc(1, sizeof(*c));
        if (!c || !(c->buf = calloc(1, size))) {
                free(c);
                return -ENOMEM;
        }
        c->mask = size - 1;
        *ret = c;
        return 0;
}

void hv_console_free(struct hv_console *c) {
        if (!c)
                return;
        free(c->buf);
        free(c);
}

void hv_console_write(struct hv_console *c, const uint8_t *data, size_t len) {
        uint64_t at = atomic_fetch_add_explicit(&c->head, len, memory_order_relaxed);
        for (size_t i = 0; i < len; i++)
                ((_Atomic char *) c->buf)[(at + i) & c->mask] = (char) data[i];
}

size_t hv_console_tail(const struct hv_console *c, char *buf, size_t max) {
        uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
        uint64_t n = head < c->mask + 1 ? head : c->mask + 1;
        if (n > max)
                n = max;
        for (uint64_t i = 0; i < n; i++)
                buf[i] = atomic_load_explicit(&((_Atomic char *) c->buf)[(head - n + i) & c->mask],
                                              memory_order_relaxed);
        return (size_t) n;
}

size_t hv_console_read(const struct hv_console *c, uint64_t *pos, char *buf, size_t max) {
        uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
        uint64_t oldest = head > c->mask + 1 ? head - (c->mask + 1) : 0;
        if (*pos < oldest)
                *pos = oldest;
        size_t n = 0;
        for (; *pos < head && n < max; (*pos)++, n++)
                buf[n] = atomic_load_explicit(&((_Atomic char *) c->buf)[*pos & c->mask], memory_order_relaxed);
        return n;
}

uint64_t hv_console_total(const struct hv_console *c) {
        return atomic_load_explicit(&c->head, memory_order_relaxed);
}

static void console_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                       bool is_write) {
        (void) vcpu;
        (void) offset;
        if (is_write)
                hv_console_write(opaque, data, len);
        else
                hv_io_put(data, len, HV_PORT_CONSOLE); /* reads back 0xe9: "a console is here" */
}

int hv_console_attach(struct hv_vm *vm) {
        return hv_bus_register(&vm->pio, "console", HV_PORT_CONSOLE, 1, console_io, vm->console, NULL);
}
