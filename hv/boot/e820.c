/* The guest's e820 memory map: RAM below the EBDA, the BIOS area (ACPI tables) reserved, RAM
 * from 1 MiB to the end. The zero page carries it; tests compare it with what Linux prints. */
#include <errno.h>

#include "boot/boot.h"
#include "boot/layout.h"

#define E820_RAM 1
#define E820_RESERVED 2

int hv_e820_map(uint64_t ram_bytes, struct hv_e820 *ret, int max) {
        const struct hv_e820 map[] = {
                { 0, HV_EBDA_ADDR, E820_RAM },
                { HV_EBDA_ADDR, 0xa0000 - HV_EBDA_ADDR, E820_RESERVED },
                { HV_BIOS_ADDR, HV_BIOS_END - HV_BIOS_ADDR, E820_RESERVED },
                { HV_BIOS_END, ram_bytes - HV_BIOS_END, E820_RAM },
        };
        int n = (int) (sizeof(map) / sizeof(map[0]));
        if (ram_bytes <= HV_BIOS_END || max < n)
                return -EINVAL;
        for (int i = 0; i < n; i++)
                ret[i] = map[i];
        return n;
}
