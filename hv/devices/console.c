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

/* A slot: the byte in bits 0-7, its lap's tag in bits 8-31. Tags run 1..LAP_MOD (lap modulo
 * LAP_MOD, plus one) so that a zero slot is one never written: the ring costs memory only
 * where a guest wrote. A writer stalled between its reservation and its store (preempted)
 * must not overwrite a newer lap's byte, or readers would wait at that slot for good: it
 * stores only over an older lap (compare-and-swap); 2^23 laps of ambiguity are never reached. */
#define LAP_MOD 0xffffffu

struct hv_console {
        _Atomic uint64_t *head; /* bytes reserved so far: each is stored soon after */
        uint64_t mask;
        unsigned shift;         /* log2 of the size */
        _Atomic uint32_t *slot;
        bool owned;             /* head and slots are ours (hv_console_new), not shared memory */
        _Atomic uint64_t own_head;
};

static uint32_t lap_tag(uint64_t pos, unsigned shift) {
        return (uint32_t) ((pos >> shift) % LAP_MOD) + 1;
}

/* whether tag b is a later lap than tag a (both nonzero) */
static bool lap_after(uint32_t a, uint32_t b) {
        uint32_t ahead = (b + LAP_MOD - a) % LAP_MOD;
        return ahead != 0 && ahead < LAP_MOD / 2;
}

int hv_console_new(size_t size, struct hv_console **ret) {
        if (size == 0)
                size = 64 * 1024;
        if (size & (size - 1))
                return -EINVAL;
        struct hv_console *c = calloc(1, sizeof(*c));
        if (!c || !(c->slot = calloc(size, sizeof(*c->slot)))) {
                free(c);
                return -ENOMEM;
        }
        c->head = &c->own_head;
        c->owned = true;
        c->mask = size - 1;
        c->shift = (unsigned) __builtin_ctzll(size);
        *ret = c;
        return 0;
}

int hv_console_wrap(_Atomic uint64_t *head, _Atomic uint32_t *slots, size_t size, struct hv_console **ret) {
        if (size == 0 || (size & (size - 1)))
                return -EINVAL;
        struct hv_console *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->head = head;
        c->slot = slots;
        c->mask = size - 1;
        c->shift = (unsigned) __builtin_ctzll(size);
        *ret = c;
        return 0;
}

void hv_console_free(struct hv_console *c) {
        if (!c)
                return;
        if (c->owned)
                free(c->slot);
        free(c);
}

void hv_console_write(struct hv_console *c, const uint8_t *data, size_t len) {
        uint64_t at = atomic_fetch_add_explicit(c->head, len, memory_order_relaxed);
        for (size_t i = 0; i < len; i++) {
                _Atomic uint32_t *slot = &c->slot[(at + i) & c->mask];
                uint32_t tag = lap_tag(at + i, c->shift), v = tag << 8 | data[i];
                uint32_t old = atomic_load_explicit(slot, memory_order_relaxed);
                while ((!old || !lap_after(tag, old >> 8)) &&
                       !atomic_compare_exchange_weak_explicit(slot, &old, v, memory_order_release, memory_order_relaxed))
                        ;
        }
}

static uint64_t oldest(const struct hv_console *c, uint64_t head) {
        return head > c->mask + 1 ? head - (c->mask + 1) : 0;
}

size_t hv_console_read(const struct hv_console *c, uint64_t *pos, char *buf, size_t max) {
        uint64_t head = atomic_load_explicit(c->head, memory_order_acquire);
        if (*pos < oldest(c, head))
                *pos = oldest(c, head);
        uint64_t p = *pos;
        size_t n = 0;
        for (; p < head && n < max; p++, n++) {
                uint32_t v = atomic_load_explicit(&c->slot[p & c->mask], memory_order_acquire);
                if (v >> 8 != lap_tag(p, c->shift))
                        break; /* not stored yet (or a later lap's): stop at the last committed byte */
                buf[n] = (char) (v & 0xff);
        }
        /* what was overwritten while we copied is not what we were asked for: drop it */
        uint64_t gone = oldest(c, atomic_load_explicit(c->head, memory_order_acquire));
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
        uint64_t head = atomic_load_explicit(c->head, memory_order_acquire);
        uint64_t n = head - oldest(c, head);
        uint64_t pos = head - (n < max ? n : max);
        return hv_console_read(c, &pos, buf, max);
}

uint64_t hv_console_total(const struct hv_console *c) {
        return atomic_load_explicit(c->head, memory_order_relaxed);
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
