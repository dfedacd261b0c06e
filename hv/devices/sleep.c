/* ACPI sleep control (0x600) and status (0x601) registers, the hardware-reduced model's stand-in
 * for PM1 control (ACPI 6.x, "Sleep Control and Status Registers"). The FADT points at them and
 * the DSDT's \_S5 gives SLP_TYP 5, so Linux registers acpi_power_off and `poweroff` writes
 * SLP_TYP 5 | SLP_EN here, which ends the VM as stopped(poweroff).
 *
 * Only S5 exists: the DSDT declares no \_S1-\_S4, so no guest learns another SLP_TYP value,
 * and one written anyway is ignored. Status reads 0: WAK_STS is set only on waking, and nothing
 * wakes from S5. Writes to it (the guest clearing WAK_STS before sleeping) change nothing. */
#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

#define SLEEP_CONTROL       0    /* offset of the control register in our range */
#define SLEEP_SLP_EN        0x20 /* bit 5 */
#define SLEEP_SLP_TYP_SHIFT 2    /* bits 4:2 */
#define SLEEP_SLP_TYP_MASK  0x7

static bool sleep_is_poweroff(uint8_t control) {
        return (control & SLEEP_SLP_EN) &&
               ((control >> SLEEP_SLP_TYP_SHIFT) & SLEEP_SLP_TYP_MASK) == HV_ACPI_SLP_TYP_S5;
}

/* One range for both registers; a wider access starting at control touches status too,
 * whose bytes are ignored on writes and read as 0. */
static void sleep_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                     bool is_write) {
        if (!is_write) {
                hv_io_put(data, len, 0);
                return;
        }
        if (offset == SLEEP_CONTROL && sleep_is_poweroff(data[0]))
                hv_vm_finish(opaque, HV_VM_STOPPED, HV_REASON_POWEROFF, 0, 0, vcpu);
}

/* Stateless, so no lock and nothing to free. */
int hv_sleep_attach(struct hv_vm *vm) {
        _Static_assert(HV_PORT_SLEEP_STS == HV_PORT_SLEEP_CTL + 1, "one range covers both registers");
        return hv_bus_register(&vm->pio, "acpi-sleep", HV_PORT_SLEEP_CTL, 2, sleep_io, vm, NULL);
}
