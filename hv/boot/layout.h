/* Every guest-physical address the built-in flat guests rely on, in one place.
 * Included by C (hv/boot) and by the guest assembly (hv/guests). */
#ifndef HV_BOOT_LAYOUT_H
#define HV_BOOT_LAYOUT_H

#define HV_GDT_ADDR          0x1000   /* null, kcode, kdata, udata, ucode, then one TSS per vCPU */
#define HV_IDT_ADDR          0x3000   /* 256 x 16-byte gates, filled from the image's vector table */
#define HV_PARAMS_ADDR       0x4000   /* struct hv_guest_params (hv/guests/params.h) */
#define HV_PML4_ADDR         0x8000
#define HV_PDPT_ADDR         0x9000
#define HV_PD_ADDR           0xa000   /* 4 page directories: identity map of the low 4 GiB, 2 MiB pages */
#define HV_PD_COUNT          4
#define HV_PERCPU_ADDR       0x100000 /* per-vCPU block: TSS + I/O bitmap, data, stacks */
#define HV_PERCPU_STRIDE     0x8000
#define HV_PERCPU_TSS_SIZE   (104 + 8192 + 1) /* TSS, a full I/O bitmap, the 0xff terminator */
#define HV_PERCPU_KSTACK_TOP 0x5000   /* offsets inside a per-vCPU block */
#define HV_PERCPU_USTACK_TOP 0x8000
#define HV_MAX_VCPUS         64       /* 64 blocks end at 0x300000 */
#define HV_IMAGE_ADDR        0x400000 /* the flat image is linked and loaded here */
#define HV_MIN_RAM           0x800000
#define HV_TSS_IDENTITY_ADDR 0xfffbc000 /* KVM_SET_IDENTITY_MAP_ADDR page, then 3 TSS pages */
#define HV_TSS_ADDR          0xfffbd000

/* Linux guests (the boot protocol's zero page and friends; see hv/boot/linux.c) */
#define HV_LINUX_BOOT_GDT    0x500    /* null, null, code64 (0x10), data (0x18): Linux's __BOOT_CS/DS */
#define HV_LINUX_ZERO_PAGE   0x7000   /* struct boot_params, RSI at entry */
#define HV_LINUX_STACK_TOP   0x7000   /* boot stack, grows down below the zero page */
#define HV_LINUX_CMDLINE     0x20000
#define HV_LINUX_CMDLINE_MAX 0x10000  /* the kernel's own cmdline_size is usually smaller */
#define HV_EBDA_ADDR         0x9fc00  /* e820: usable RAM below it, reserved up to 640 KiB */
#define HV_BIOS_ADDR         0xe0000  /* e820: reserved up to 1 MiB; the ACPI tables live here */
#define HV_BIOS_END          0x100000
#define HV_ACPI_RSDP_ADDR    0xe0000  /* on a 16-byte boundary in the BIOS area, where OSes scan */
#define HV_ACPI_SIZE         0x20000  /* RSDP, XSDT, FADT, DSDT, MADT, all inside the BIOS area */
#define HV_LINUX_KERNEL_ADDR 0x100000 /* bzImage: the protected-mode kernel is loaded at 1 MiB */
#define HV_LINUX_MIN_RAM     0x4000000 /* 64 MiB */
#define HV_IOAPIC_ADDR       0xfec00000ULL
#define HV_LINUX_IRQ_SERIAL  4        /* COM1, ISA IRQ 4 (KVM_IRQ_LINE) */
#define HV_PORT_SERIAL       0x3f8    /* COM1 16550A */
#define HV_PORT_RTC          0x70     /* CMOS/RTC index, data at 0x71 */
#define HV_PORT_SLEEP_CTL    0x600    /* ACPI sleep control register (FADT), as cloud-hypervisor */
#define HV_PORT_SLEEP_STS    0x601    /* ACPI sleep status register */
#define HV_ACPI_SLP_TYP_S5   5        /* the DSDT's \_S5 SLP_TYP, which the sleep device powers off on */

/* GDT selectors */
#define HV_SEL_KCODE 0x08
#define HV_SEL_KDATA 0x10
#define HV_SEL_UDATA 0x18
#define HV_SEL_UCODE 0x20
#define HV_SEL_TSS0  0x28 /* 16 bytes per vCPU */

/* Guest-visible devices */
#define HV_PORT_POST     0x80  /* POST code latch */
#define HV_PORT_CONSOLE  0xe9  /* debug console (bochs/QEMU convention) */
#define HV_PORT_EXIT     0xf4  /* exit code port (isa-debug-exit's address) */
#define HV_PORT_I8042    0x64
#define HV_SCRATCH_MMIO  0xfebf0000ULL /* 4 KiB scratch register page */
#define HV_UNCLAIMED_MMIO 0xd0000000ULL /* nothing is mapped or claimed here */
#define HV_LAPIC_ADDR    0xfee00000ULL

/* Interrupt vectors used by the guest runtime */
#define HV_VEC_TIMER   0x20
#define HV_VEC_GP      13
#define HV_VEC_SPURIOUS 0xff

#endif
