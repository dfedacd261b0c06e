/* Linux guests: read the kernel and initrd, hand the image to its format's loader, then the
 * zero page (command line, initrd, e820, ACPI root), the interrupt routing the MADT promises
 * and the boot vCPU's 64-bit entry state. The other vCPUs wait for the kernel's INIT/SIPI. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/file.h"
#include "boot/layout.h"
#include "boot/linux.h"
#include "boot/x86.h"
#include "vcpu.h"
#include "vm.h"

#define LINUX_SEL_CS 0x10 /* __BOOT_CS */
#define LINUX_SEL_DS 0x18 /* __BOOT_DS */

static int parse_kernel(struct hv_vm *vm, const char *path, const uint8_t *img, size_t len, struct boot_params *zp,
                        struct hv_linux_image *ret, char why[HV_WHY_LEN]) {
        char detail[HV_WHY_LEN];
        int r;
        if (hv_elf_is(img, len))
                r = hv_elf_load(vm, img, len, zp, ret, detail);
        else if (hv_bzimage_is(img, len))
                r = hv_bzimage_load(vm, img, len, zp, ret, detail);
        else {
                snprintf(detail, sizeof(detail), "not a bzImage (no HdrS magic at 0x202) or an ELF vmlinux");
                r = -ENOEXEC;
        }
        if (r < 0)
                snprintf(why, HV_WHY_LEN, "%.96s: %.150s", path, detail);
        return r;
}

static int load_kernel(struct hv_vm *vm, const char *path, struct boot_params *zp, struct hv_linux_image *ret,
                       char why[HV_WHY_LEN]) {
        uint64_t size;
        int fd = hv_file_open_regular(path, &size, why), r;
        if (fd < 0)
                return fd;
        uint8_t *img = size <= vm->ram_bytes ? malloc(size ? size : 1) : NULL;
        if (!img) {
                snprintf(why, HV_WHY_LEN, "%.200s: %llu MiB is more than the VM's RAM", path,
                         (unsigned long long) size >> 20);
                close(fd);
                return size <= vm->ram_bytes ? -ENOMEM : -E2BIG;
        }
        if ((r = hv_file_read_exact(fd, img, size, path, why)) == 0)
                r = parse_kernel(vm, path, img, size, zp, ret, why);
        free(img);
        close(fd);
        return r;
}

/* The initrd goes as high as RAM and the kernel allow, page aligned, as bootloaders do; it is
 * read straight into guest memory. */
static int load_initrd(struct hv_vm *vm, const char *path, const struct hv_linux_image *k, struct boot_params *zp,
                       char why[HV_WHY_LEN]) {
        uint64_t len;
        int fd = hv_file_open_regular(path, &len, why), r;
        if (fd < 0)
                return fd;
        uint64_t top = k->initrd_addr_max + 1ull < vm->ram_bytes ? k->initrd_addr_max + 1ull : vm->ram_bytes;
        uint64_t addr = len <= top ? (top - len) & ~0xfffull : 0;
        if (len > top || addr < k->end) {
                snprintf(why, HV_WHY_LEN, "%.160s: initrd of %llu MiB does not fit in RAM: %llu MiB free above the kernel",
                         path, (unsigned long long) (len + (1 << 20) - 1) >> 20,
                         (unsigned long long) (top > k->end ? top - k->end : 0) >> 20);
                close(fd);
                return -E2BIG;
        }
        r = hv_file_read_exact(fd, hv_vm_gpa(vm, addr, len), len, path, why);
        close(fd);
        if (r < 0)
                return r;
        zp->hdr.ramdisk_image = (uint32_t) addr;
        zp->hdr.ramdisk_size = (uint32_t) len;
        zp->ext_ramdisk_image = (uint32_t) (addr >> 32);
        zp->ext_ramdisk_size = (uint32_t) (len >> 32);
        return 0;
}

static int write_cmdline(struct hv_vm *vm, const char *cmdline, const struct hv_linux_image *k,
                         struct boot_params *zp, char why[HV_WHY_LEN]) {
        size_t n = strlen(cmdline);
        if (n > k->cmdline_max || n >= HV_LINUX_CMDLINE_MAX) {
                snprintf(why, HV_WHY_LEN, "the command line is %zu bytes, this kernel takes at most %u", n, k->cmdline_max);
                return -E2BIG;
        }
        memcpy(hv_vm_gpa(vm, HV_LINUX_CMDLINE, n + 1), cmdline, n + 1);
        zp->hdr.cmd_line_ptr = HV_LINUX_CMDLINE;
        zp->hdr.cmdline_size = (uint32_t) n + 1;
        return 0;
}

static int write_memory_map(struct hv_vm *vm, struct boot_params *zp, char why[HV_WHY_LEN]) {
        struct hv_e820 map[E820_MAX_ENTRIES_ZEROPAGE];
        int n = hv_e820_map(vm->ram_bytes, map, E820_MAX_ENTRIES_ZEROPAGE);
        if (n < 0) {
                snprintf(why, HV_WHY_LEN, "no memory map for %llu bytes of RAM", (unsigned long long) vm->ram_bytes);
                return n;
        }
        for (int i = 0; i < n; i++)
                zp->e820_table[i] = (struct boot_e820_entry) { map[i].addr, map[i].size, map[i].type };
        zp->e820_entries = (uint8_t) n;
        long used = hv_acpi_build(hv_vm_gpa(vm, HV_ACPI_RSDP_ADDR, HV_ACPI_SIZE), HV_ACPI_SIZE, HV_ACPI_RSDP_ADDR,
                                  vm->n_vcpus);
        if (used < 0) {
                snprintf(why, HV_WHY_LEN, "ACPI tables for %u vCPUs: %s", vm->n_vcpus, strerror((int) -used));
                return (int) used;
        }
        zp->acpi_rsdp_addr = HV_ACPI_RSDP_ADDR;
        return 0;
}

/* What the MADT says: ISA IRQ 0 (the PIT) arrives at IOAPIC pin 2, every other GSI at its own
 * pin, and IRQs 0-15 also reach the 8259s (minus the cascade), as on a PC and under QEMU. */
static int route_interrupts(struct hv_vm *vm) {
        enum { PINS = 24 };
        struct {
                struct kvm_irq_routing r;
                struct kvm_irq_routing_entry e[PINS + 15];
        } t = { 0 };
        unsigned n = 0;
        for (unsigned gsi = 0; gsi < 16; gsi++)
                if (gsi != 2)
                        t.e[n++] = (struct kvm_irq_routing_entry) {
                                .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
                                .u.irqchip = { gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8 },
                        };
        for (unsigned gsi = 0; gsi < PINS; gsi++)
                if (gsi != 2)
                        t.e[n++] = (struct kvm_irq_routing_entry) {
                                .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
                                .u.irqchip = { KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi },
                        };
        t.r.nr = n;
        return ioctl(vm->fd, KVM_SET_GSI_ROUTING, &t) < 0 ? -errno : 0;
}

/* Every vCPU: x87/SSE reset values, write-back MTRR default, fast strings, and LINT0 = ExtINT,
 * LINT1 = NMI so the 8259 and NMIs reach the CPU as on a PC. */
static int setup_cpu_state(struct hv_vcpu *v, unsigned hide) {
        enum { MSR_IA32_MISC_ENABLE = 0x1a0, MSR_MTRR_DEF_TYPE = 0x2ff };
        enum { APIC_LVT0 = 0x350, APIC_LVT1 = 0x360, APIC_MODE_NMI = 4, APIC_MODE_EXTINT = 7 };
        struct {
                struct kvm_msrs m;
                struct kvm_msr_entry e[2];
        } msrs = { .m.nmsrs = 2, .e = { { .index = MSR_IA32_MISC_ENABLE, .data = 1 },
                                        { .index = MSR_MTRR_DEF_TYPE, .data = 1 << 11 | 6 } } };
        struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
        struct kvm_lapic_state lapic;
        int r;

        if ((r = hv_cpuid_setup(v, hide)) < 0)
                return r;
        int n = ioctl(v->fd, KVM_SET_MSRS, &msrs);
        if (n < 0)
                return -errno;
        if (n != 2)
                return -EIO; /* KVM refused MSR n; errno says nothing then */
        if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0 || ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
                return -errno;
        uint32_t lvt0, lvt1;
        memcpy(&lvt0, lapic.regs + APIC_LVT0, 4);
        memcpy(&lvt1, lapic.regs + APIC_LVT1, 4);
        lvt0 = (lvt0 & ~0x700u) | APIC_MODE_EXTINT << 8;
        lvt1 = (lvt1 & ~0x700u) | APIC_MODE_NMI << 8;
        memcpy(lapic.regs + APIC_LVT0, &lvt0, 4);
        memcpy(lapic.regs + APIC_LVT1, &lvt1, 4);
        return ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

/* The boot vCPU enters the kernel as the 64-bit boot protocol asks: paging on with the
 * identity map, a flat GDT with __BOOT_CS/__BOOT_DS, interrupts off, RSI = zero page. */
static int setup_boot_cpu(struct hv_vcpu *v, uint64_t entry) {
        struct kvm_sregs s;
        uint64_t *gdt = hv_vm_gpa(v->vm, HV_LINUX_BOOT_GDT, 4 * 8);

        gdt[0] = gdt[1] = 0;
        gdt[LINUX_SEL_CS / 8] = GDT_KCODE;
        gdt[LINUX_SEL_DS / 8] = GDT_KDATA;
        if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
                return -errno;
        s.cs = hv_flat_segment(LINUX_SEL_CS, 0xb, 0, true);
        s.ds = s.es = s.fs = s.gs = s.ss = hv_flat_segment(LINUX_SEL_DS, 0x3, 0, false);
        s.gdt.base = HV_LINUX_BOOT_GDT;
        s.gdt.limit = 4 * 8 - 1;
        s.idt.base = 0;
        s.idt.limit = 0;
        s.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
        s.cr3 = HV_PML4_ADDR;
        s.cr4 = CR4_PAE;
        s.efer = EFER_LME | EFER_LMA;
        if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
                return -errno;
        struct kvm_regs regs = { .rip = entry, .rsi = HV_LINUX_ZERO_PAGE, .rsp = HV_LINUX_STACK_TOP, .rflags = 0x2 };
        return ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
}

static int setup_vcpus(struct hv_vm *vm, uint64_t entry, unsigned hide, char why[HV_WHY_LEN]) {
        int r = route_interrupts(vm);
        if (r < 0) {
                snprintf(why, HV_WHY_LEN, "KVM_SET_GSI_ROUTING: %s", strerror(-r));
                return r;
        }
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                if ((r = setup_cpu_state(vm->vcpus[i], hide)) < 0) {
                        if (r == -EOPNOTSUPP)
                                snprintf(why, HV_WHY_LEN, "cpuid_hide: this KVM keeps showing the hidden features "
                                                          "to the guest (for xsave, put noxsave on the kernel's command line)");
                        else
                                snprintf(why, HV_WHY_LEN, "vCPU %u: CPUID, MSR, FPU or LAPIC setup: %s", i, strerror(-r));
                        return r;
                }
        hv_boot_identity_map(vm);
        if ((r = setup_boot_cpu(vm->vcpus[0], entry)) < 0)
                snprintf(why, HV_WHY_LEN, "vCPU 0: entry state: %s", strerror(-r));
        return r;
}

int hv_boot_linux(struct hv_vm *vm, const struct hv_linux *l, char why[HV_WHY_LEN]) {
        struct hv_linux_image k;
        int r;

        if (hv_vm_state(vm) != HV_VM_CREATED || !l->kernel) {
                snprintf(why, HV_WHY_LEN, "the VM is not freshly created or no kernel was given");
                return -EINVAL;
        }
        if (vm->ram_bytes < HV_LINUX_MIN_RAM) {
                snprintf(why, HV_WHY_LEN, "Linux guests need at least %u MiB of RAM, the VM has %llu MiB",
                         HV_LINUX_MIN_RAM >> 20, (unsigned long long) vm->ram_bytes >> 20);
                return -E2BIG;
        }
        struct boot_params *zp = hv_vm_gpa(vm, HV_LINUX_ZERO_PAGE, sizeof(*zp));
        memset(zp, 0, sizeof(*zp));
        if ((r = load_kernel(vm, l->kernel, zp, &k, why)) < 0)
                return r;
        if (l->initrd && (r = load_initrd(vm, l->initrd, &k, zp, why)) < 0)
                return r;
        if ((r = write_cmdline(vm, l->cmdline ? l->cmdline : HV_LINUX_DEFAULT_CMDLINE, &k, zp, why)) < 0 ||
            (r = write_memory_map(vm, zp, why)) < 0)
                return r;
        return setup_vcpus(vm, k.entry, l->cpuid_hide, why);
}
