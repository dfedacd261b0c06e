/* POST code port (0x80): latches the last byte written, as firmware diagnostics cards do. */
#include <stdatomic.h>
#include <stdlib.h>
#include <errno.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

static void post_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                    bool is_write) {
        _Atomic uint8_t *latch = opaque;
        (void) vcpu;
        (void) offset;
        if (is_write)
                atomic_store_explicit(latch, data[0], memory_order_relaxed);
        else
                hv_io_put(data, len, atomic_load_explicit(latch, memory_order_relaxed));
}

int hv_post_attach(struct hv_vm *vm) {
        _Atomic uint8_t *latch = calloc(1, sizeof(*latch));
        if (!latch)
                return -ENOMEM;
        int r = hv_bus_register(&vm->pio, "post", HV_PORT_POST, 1, post_io, latch, free);
        if (r < 0)
                free(latch);
        return r;
}
