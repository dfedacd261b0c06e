/* The boot page tables every guest enters with: an identity map of the low 4 GiB in 2 MiB
 * pages. User-accessible, because the built-in workloads run in ring 3; Linux replaces them
 * with its own in startup_64. */
#include "boot/boot.h"
#include "boot/layout.h"
#include "vm.h"

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_PS 0x80ull

void hv_boot_identity_map(struct hv_vm *vm) {
        uint64_t *pml4 = hv_vm_gpa(vm, HV_PML4_ADDR, 4096);
        uint64_t *pdpt = hv_vm_gpa(vm, HV_PDPT_ADDR, 4096);
        uint64_t *pd = hv_vm_gpa(vm, HV_PD_ADDR, 4096 * HV_PD_COUNT);

        pml4[0] = HV_PDPT_ADDR | PTE_P | PTE_RW | PTE_US;
        for (unsigned i = 0; i < HV_PD_COUNT; i++)
                pdpt[i] = (HV_PD_ADDR + 4096ull * i) | PTE_P | PTE_RW | PTE_US;
        for (uint64_t j = 0; j < 512ull * HV_PD_COUNT; j++)
                pd[j] = (j << 21) | PTE_P | PTE_RW | PTE_US | PTE_PS;
}
