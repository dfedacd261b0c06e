/* Just enough of the i8042 keyboard controller for a guest to reset the machine: command 0xfe
 * on port 0x64 pulses the reset line, which ends the VM as stopped(reboot). */
#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

#define I8042_DATA 0x60
#define I8042_CMD_RESET 0xfe

static void i8042_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                     bool is_write) {
        if (!is_write) {
                hv_io_put(data, len, 0); /* empty buffers, nothing to read */
                return;
        }
        if (offset == HV_PORT_I8042 - I8042_DATA && data[0] == I8042_CMD_RESET)
                hv_vm_finish(opaque, HV_VM_STOPPED, HV_REASON_REBOOT, 0, 0, vcpu);
}

int hv_i8042_attach(struct hv_vm *vm) {
        return hv_bus_register(&vm->pio, "i8042", I8042_DATA, HV_PORT_I8042 - I8042_DATA + 1, i8042_io, vm, NULL);
}
