/* Debug console port (0xe9): every byte the guest writes lands in a per-VM ring that later
 * layers read. vCPUs reserve space with one atomic add, so they never share a lock; a byte is
 * published by its own store, which carries the lap of the ring it belongs to. Readers take
 * a byte only when its slot holds the lap they expect, so they never see a reserved byte
 * before its writer has stored it, nor an older lap's byte in its place. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

/* A slot: the byte in bits 0-7, the low 8 bits of its lap (position >> shift) in bits 8-15. A
 * writer stalled between its reservation and its store for 256 laps could pass for the current
 * lap; readers also drop whatever the ring overwrote while they copied. */
struct hv_console {
        _Atomic uint64_t head; /* bytes reserved so far: each is stored soon after */
        uint64_t mask;
        unsigned shift;        /* log2 of the size */
        _Atomic uint16_t *slot;
};

static uint16_t slot_value(uint64_t pos, unsigned shift, uint8_t byte) {
        return (uint16_t) (((pos >> shift) & 0xff) << 8 | byte);
}

int hv_console_new(size_t size, struct hv_console **ret) {
        if (size == 0)
                size = 64 * 1024;
        if (size & (size - 1))
                return -EINVAL;
        struct hv_console *c = calloc(1, sizeof(*c));
        if (!c || !(c->slot = malloc(size * sizeof(*c->slot)))) {
                free(c);
                return -ENOMEM;
        }
        c->mask = size - 1;
        c->shift = (unsigned) __builtin_ctzll(size);
        for (size_t i = 0; i < size; i++) /* lap -1: nothing written yet */
                atomic_init(&c->slot[i], (uint16_t) 0xff00);
        *ret = c;
        return 0;
}

void hv_console_free(struct hv_console *c) {
        if (!c)
                return;
        free(c->slot);
        free(c);
}

void hv_console_write(struct hv_console *c, const uint8_t *data, size_t len) {
        uint64_t at = atomic_fetch_add_explicit(&c->head, len, memory_order_relaxed);
        for (size_t i = 0; i < len; i++)
                atomic_store_explicit(&c->slot[(at + i) & c->mask], slot_value(at + i, c->shift, data[i]),
                                      memory_order_release);
}

static uint64_t oldest(const struct hv_console *c, uint64_t head) {
        return head > c->mask + 1 ? head - (c->mask + 1) : 0;
}

size_t hv_console_read(const struct hv_console *c, uint64_t *pos, char *buf, size_t max) {
        uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
        if (*pos < oldest(c, head))
                *pos = oldest(c, head);
        uint64_t p = *pos;
        size_t n = 0;
        for (; p < head && n < max; p++, n++) {
                uint16_t v = atomic_load_explicit(&c->slot[p & c->mask], memory_order_acquire);
                if (v >> 8 != ((p >> c->shift) & 0xff))
                        break; /* not stored yet (or a later lap's): stop at the last committed byte */
                buf[n] = (char) (v & 0xff);
        }
        /* what was overwritten while we copied is not what we were asked for: drop it */
        uint64_t gone = oldest(c, atomic_load_explicit(&c->head, memory_order_acquire));
        if (gone >= p) {
                *pos = gone;
                return 0;
        }
        if (gone > *pos) {
                memmove(buf, buf + (gone - *pos), (size_t) (p - gone));
                n = (size_t) (p - gone);
        }
        *pos = p;
        return n;
}

size_t hv_console_tail(const struct hv_console *c, char *buf, size_t max) {
        uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
        uint64_t n = head - oldest(c, head);
        uint64_t pos = head - (n < max ? n : max);
        return hv_console_read(c, &pos, buf, max);
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
