/* Loaders: the built-in flat guests (and, later, Linux). */
#ifndef HV_BOOT_H
#define HV_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "kvm.h"

struct hv_vm;
struct hv_vcpu;
struct hv_guest_params;

/* A built-in guest and its knobs; zero fields take the defaults below. */
struct hv_builtin {
        const char *guest;     /* pio, mmio, cpuid, spin, idle, duty, halt, triplefault, demo, console, stealoff */
        uint64_t count;        /* pio/mmio/cpuid: operations per vCPU; spin: iterations,
                                * idle: ticks, duty: periods (0 = forever for those three) */
        uint32_t port;         /* pio: port written (default HV_PORT_POST) */
        uint64_t mmio_addr;    /* mmio: address touched (default HV_UNCLAIMED_MMIO) */
        uint32_t duty_pct;     /* duty: busy percentage (default 50) */
        uint32_t period_ticks; /* duty/demo: ticks per period (default 100) */
        uint32_t tick_us;      /* timer tick (default 1000 us) */
        uint32_t steal_time;   /* STEAL_* (guests/params.h): the steal time record each vCPU registers
                                * (default STEAL_ON: one in its per-vCPU block) */
};

/* The linked-in image holding every built-in guest. */
extern const uint8_t hv_guest_image[];
extern const uint8_t hv_guest_image_end[];

/* Loads the named entry of a flat guest image (see hv/guests/params.h) into a created VM and
 * sets up every vCPU to enter it in 64-bit mode. -EINVAL for a malformed image, -ENOENT for
 * an unknown entry, -E2BIG when it does not fit the VM's RAM. */
int hv_boot_flat(struct hv_vm *vm, const void *image, size_t len, const char *entry,
                 const struct hv_guest_params *params);
/* hv_boot_flat with the image in the regular file at path (read, never mapped, never blocking on
 * a FIFO); -errno with why naming the file and the problem. */
int hv_boot_flat_file(struct hv_vm *vm, const char *path, const char *entry, const struct hv_guest_params *p,
                      char why[HV_WHY_LEN]);
/* The parameter block b describes (defaults filled in); b->guest is not looked at. */
int hv_builtin_params(const struct hv_builtin *b, struct hv_guest_params *ret);
/* hv_boot_flat with the built-in image and params derived from b. */
int hv_boot_builtin(struct hv_vm *vm, const struct hv_builtin *b);
/* Fills ret with up to max built-in guest names; returns how many there are. */
int hv_builtin_names(const char **ret, size_t max);

/* CPUID features a guest can be made not to see (cpuid_hide= in a VM's config): some hosts
 * (nested KVM on PVM) cannot emulate the instructions behind them at CPL0. */
#define HV_CPUID_HIDE_CX16  (1u << 0) /* cmpxchg16b */
#define HV_CPUID_HIDE_XSAVE (1u << 1) /* xsave/xrstor, and AVX which needs it */
/* Identity map of the low 4 GiB at HV_PML4_ADDR (pagetables.c); CR3 = HV_PML4_ADDR. */
void hv_boot_identity_map(struct hv_vm *vm);

/* KVM_SET_CPUID2 from the supported CPUID with this vCPU's APIC ID, the VM's topology (one
 * package, one thread per core), the hypervisor bit, KVM's paravirt leaves kept, and the
 * HV_CPUID_HIDE_* features in hide cleared. -EOPNOTSUPP when KVM still shows one of those to
 * the guest (nested KVM on PVM forces the host's leaf 1 features: XSAVE cannot be hidden). */
int hv_cpuid_setup(struct hv_vcpu *v, unsigned hide);

/* Linux guests (linux.c: the zero page and entry; bzimage.c and elf.c: the two image formats;
 * e820.c; acpi.c; cpuid.c). */
#define HV_LINUX_DEFAULT_CMDLINE                                                                     \
        "console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux i8042.nomux i8042.nopnp " \
        "i8042.dumbkbd"
struct hv_linux {
        const char *kernel;  /* path: a bzImage (boot protocol >= 2.12, 64-bit entry) or an ELF vmlinux */
        const char *initrd;  /* path, NULL for none */
        const char *cmdline; /* NULL: HV_LINUX_DEFAULT_CMDLINE */
        unsigned cpuid_hide; /* HV_CPUID_HIDE_* */
};
/* Loads kernel (and initrd) into a created VM, writes the zero page, e820 map and ACPI tables,
 * and sets the boot vCPU up to enter the kernel in 64-bit mode; the others wait for INIT/SIPI.
 * On failure returns -errno and why names the file and the problem ("vmlinuz: not a bzImage
 * (no HdrS magic at 0x202)"). */
int hv_boot_linux(struct hv_vm *vm, const struct hv_linux *l, char why[HV_WHY_LEN]);

/* ACPI tables (acpi.c) for n_vcpus: RSDP at gpa, then XSDT, FADT (hardware-reduced, with the
 * sleep control/status registers of hv/devices/sleep.c), DSDT (COM1, \_S5), MADT (a local APIC
 * per vCPU, the IOAPIC, ISA interrupt source overrides), checksums set.
 * buf is the host view of guest memory [gpa, gpa+len). Returns bytes used, -E2BIG, -EINVAL. */
long hv_acpi_build(void *buf, size_t len, uint64_t gpa, unsigned n_vcpus);

/* e820 (e820.c): the guest's memory map for ram_bytes of RAM, into at most max entries.
 * Returns how many. Used by the zero page and compared by tests with what Linux prints. */
struct hv_e820 {
        uint64_t addr, size;
        uint32_t type; /* 1 RAM, 2 reserved, 3 ACPI */
};
int hv_e820_map(uint64_t ram_bytes, struct hv_e820 *ret, int max);

#endif
