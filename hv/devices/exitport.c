/* Exit port (0xf4): the value the guest writes becomes the exit code of a stopped VM. */
#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

static void exitport_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                        bool is_write) {
        (void) offset;
        if (is_write)
                hv_vm_finish(opaque, HV_VM_STOPPED, HV_REASON_EXIT_CODE, (int64_t) hv_io_get(data, len), 0, vcpu);
        else
                hv_io_put(data, len, 0);
}

int hv_exitport_attach(struct hv_vm *vm) {
        return hv_bus_register(&vm->pio, "exit", HV_PORT_EXIT, 4, exitport_io, vm, NULL);
}
