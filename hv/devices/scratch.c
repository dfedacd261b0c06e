/* Scratch MMIO page: 512 64-bit registers that read back what was written. The demo guest's
 * MMIO phase talks to it, so b13 shows MMIO exits without unhandled accesses. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

#define SCRATCH_SIZE 4096

static void scratch_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                       bool is_write) {
        _Atomic uint64_t *regs = opaque;
        unsigned shift = (unsigned) (offset & 7) * 8;
        (void) vcpu;
        if (is_write)
                atomic_store_explicit(&regs[offset / 8], hv_io_get(data, len) << shift, memory_order_relaxed);
        else
                hv_io_put(data, len, atomic_load_explicit(&regs[offset / 8], memory_order_relaxed) >> shift);
}

int hv_scratch_attach(struct hv_vm *vm) {
        _Atomic uint64_t *regs = calloc(SCRATCH_SIZE / 8, sizeof(*regs));
        if (!regs)
                return -ENOMEM;
        int r = hv_bus_register(&vm->mmio, "scratch", HV_SCRATCH_MMIO, SCRATCH_SIZE, scratch_io, regs, free);
        if (r < 0)
                free(regs);
        return r;
}
