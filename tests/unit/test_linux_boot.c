/* hv/boot/{linux,bzimage,elf,e820,cpuid}.c: synthetic bzImages and ELF kernels are loaded where
 * the boot protocol says, the zero page and the boot vCPU carry what Linux reads, and every bad
 * image is refused with a message naming the problem. */
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/layout.h"
#include "kvm_helper.h"

#define MIB (1ull << 20)
#define KERNEL_BYTES 8192
#define ELF_PADDR 0x1000000ull

static char dir[] = "/tmp/vmstatd-linux-XXXXXX";

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(dir, "/tmp/vmstatd-linux-XXXXXX");
}

static const char *write_file(const char *name, const void *data, size_t len) {
        static char path[8][128];
        static unsigned next;
        char *p = path[next++ % 8];
        snprintf(p, 128, "%s/%s", dir, name);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, len, f), len);
        fclose(f);
        return p;
}

/* A bzImage with one setup sector and KERNEL_BYTES of "protected-mode kernel". */
static size_t make_bzimage(uint8_t *img, uint16_t version, uint16_t xloadflags) {
        size_t setup = 2 * 512;
        struct setup_header h = {
                .setup_sects = 1,
                .boot_flag = 0xaa55,
                .jump = 0x66eb, /* jmp over the header: it ends at 0x202 + 0x66 */
                .header = 0x53726448,
                .version = version,
                .syssize = KERNEL_BYTES / 16,
                .initrd_addr_max = 0x37ffffff,
                .kernel_alignment = 0x200000,
                .cmdline_size = 255,
                .init_size = 4 * MIB,
                .pref_address = 0x1000000,
                .xloadflags = xloadflags,
        };
        memset(img, 0, setup + KERNEL_BYTES);
        memcpy(img + 0x1f1, &h, sizeof(h));
        for (size_t i = 0; i < KERNEL_BYTES; i++)
                img[setup + i] = (uint8_t) (i * 7 + 1);
        return setup + KERNEL_BYTES;
}

/* An ELF vmlinux: one PT_LOAD of 4 KiB file bytes and 12 KiB memory at ELF_PADDR. */
struct elf_kernel {
        Elf64_Ehdr e;
        Elf64_Phdr p;
        uint8_t text[4096];
};

static void make_elf(struct elf_kernel *k) {
        memset(k, 0, sizeof(*k));
        memcpy(k->e.e_ident, ELFMAG, SELFMAG);
        k->e.e_ident[EI_CLASS] = ELFCLASS64;
        k->e.e_ident[EI_DATA] = ELFDATA2LSB;
        k->e.e_machine = EM_X86_64;
        k->e.e_entry = ELF_PADDR + 0x40;
        k->e.e_phoff = offsetof(struct elf_kernel, p);
        k->e.e_phentsize = sizeof(Elf64_Phdr);
        k->e.e_phnum = 1;
        k->p = (Elf64_Phdr) {
                .p_type = PT_LOAD, .p_offset = offsetof(struct elf_kernel, text), .p_vaddr = 0xffffffff81000000ull,
                .p_paddr = ELF_PADDR, .p_filesz = sizeof(k->text), .p_memsz = 3 * sizeof(k->text),
        };
        memset(k->text, 0xcc, sizeof(k->text));
}

struct booted {
        struct hv_kvm *kvm;
        struct hv_vm *vm;
        int r;
        char why[HV_WHY_LEN];
};

static struct booted boot(struct hv_kvm *kvm, unsigned vcpus, uint64_t ram, const struct hv_linux *l) {
        struct booted b = { .kvm = kvm };
        struct hv_vm_config cfg = { .name = "lx", .vcpus = vcpus, .ram_bytes = ram };
        ck_assert_int_eq(hv_vm_create(kvm, &cfg, &b.vm), 0);
        b.r = hv_boot_linux(b.vm, l, b.why);
        return b;
}

/* Boots l and expects failure with r and a message containing want; the VM never started. */
static void expect_refused(struct hv_kvm *kvm, uint64_t ram, const struct hv_linux *l, int r, const char *want) {
        struct booted b = boot(kvm, 1, ram, l);
        ck_assert_msg(b.r == r, "expected %s, got %d (%s)", strerror(-r), b.r, b.why);
        ck_assert_msg(strstr(b.why, want), "message '%s' lacks '%s'", b.why, want);
        ck_assert_int_eq(hv_vm_state(b.vm), HV_VM_CREATED);
        hv_vm_destroy(b.vm);
}

/* The synthetic ELF kernel, booted; asserts it loads. */
static struct booted boot_elf(struct hv_kvm *kvm, unsigned vcpus, uint64_t ram, unsigned hide) {
        struct elf_kernel k;
        make_elf(&k);
        struct hv_linux l = { .kernel = write_file("vmlinux", &k, sizeof(k)), .cpuid_hide = hide };
        struct booted b = boot(kvm, vcpus, ram, &l);
        ck_assert_msg(b.r == 0, "%s", b.why);
        return b;
}

static struct boot_params *zero_page(struct hv_vm *vm) {
        return hv_vm_gpa(vm, HV_LINUX_ZERO_PAGE, sizeof(struct boot_params));
}

START_TEST(bzimage_loaded_at_1mib) {
        REQUIRE_KVM(kvm);
        static uint8_t img[1024 + KERNEL_BYTES];
        size_t len = make_bzimage(img, 0x020f, XLF_KERNEL_64);
        static uint8_t initrd[3 * 4096 + 5];
        memset(initrd, 0x5a, sizeof(initrd));
        struct hv_linux l = {
                .kernel = write_file("bzImage", img, len), .initrd = write_file("initrd", initrd, sizeof(initrd)),
                .cmdline = "console=ttyS0 quiet",
        };
        struct booted b = boot(kvm, 2, 1024 * MIB, &l);
        ck_assert_msg(b.r == 0, "%s", b.why);
        ck_assert_mem_eq(hv_vm_gpa(b.vm, HV_LINUX_KERNEL_ADDR, KERNEL_BYTES), img + 1024, KERNEL_BYTES);
        struct boot_params *zp = zero_page(b.vm);
        ck_assert_uint_eq(zp->hdr.header, 0x53726448);
        ck_assert_uint_eq(zp->hdr.version, 0x020f);
        ck_assert_uint_eq(zp->hdr.type_of_loader, 0xff);
        ck_assert(zp->hdr.loadflags & LOADED_HIGH);
        ck_assert_uint_eq(zp->hdr.cmd_line_ptr, HV_LINUX_CMDLINE);
        ck_assert_str_eq(hv_vm_gpa(b.vm, HV_LINUX_CMDLINE, 32), "console=ttyS0 quiet");
        /* as high as initrd_addr_max allows (0x37ffffff < RAM), page aligned */
        uint64_t at = zp->hdr.ramdisk_image | (uint64_t) zp->ext_ramdisk_image << 32;
        ck_assert_uint_eq(at, (0x38000000 - sizeof(initrd)) & ~0xfffull);
        ck_assert_uint_eq(zp->hdr.ramdisk_size, sizeof(initrd));
        ck_assert_mem_eq(hv_vm_gpa(b.vm, at, sizeof(initrd)), initrd, sizeof(initrd));
        ck_assert_uint_eq(zp->acpi_rsdp_addr, HV_ACPI_RSDP_ADDR);
        ck_assert_mem_eq(hv_vm_gpa(b.vm, HV_ACPI_RSDP_ADDR, 8), "RSD PTR ", 8);

        struct kvm_regs regs;
        ck_assert_int_eq(ioctl(b.vm->vcpus[0]->fd, KVM_GET_REGS, &regs), 0);
        ck_assert_uint_eq(regs.rip, HV_LINUX_KERNEL_ADDR + 0x200);
        ck_assert_uint_eq(regs.rsi, HV_LINUX_ZERO_PAGE);
        hv_vm_destroy(b.vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(e820_in_zero_page) {
        REQUIRE_KVM(kvm);
        struct booted b = boot_elf(kvm, 1, 96 * MIB, 0);
        struct hv_e820 map[8];
        int n = hv_e820_map(96 * MIB, map, 8);
        ck_assert_int_eq(n, 4);
        struct boot_params *zp = zero_page(b.vm);
        ck_assert_int_eq(zp->e820_entries, n);
        uint64_t ram = 0, last_end = 0;
        for (int i = 0; i < n; i++) {
                ck_assert_uint_eq(zp->e820_table[i].addr, map[i].addr);
                ck_assert_uint_eq(zp->e820_table[i].size, map[i].size);
                ck_assert_uint_eq(zp->e820_table[i].type, map[i].type);
                ck_assert_uint_ge(map[i].addr, last_end); /* sorted, no overlap */
                last_end = map[i].addr + map[i].size;
                ram += map[i].type == 1 ? map[i].size : 0;
        }
        ck_assert_uint_eq(last_end, 96 * MIB);
        ck_assert_uint_eq(ram, 96 * MIB - (HV_BIOS_END - HV_EBDA_ADDR));
        /* the ACPI tables sit in a reserved range */
        ck_assert_uint_eq(map[2].addr, HV_BIOS_ADDR);
        ck_assert_uint_eq(map[2].type, 2);
        ck_assert_str_eq(hv_vm_gpa(b.vm, HV_LINUX_CMDLINE, sizeof(HV_LINUX_DEFAULT_CMDLINE)), HV_LINUX_DEFAULT_CMDLINE);
        hv_vm_destroy(b.vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(elf_segments_and_entry) {
        REQUIRE_KVM(kvm);
        struct booted b = boot_elf(kvm, 2, 64 * MIB, 0);
        struct elf_kernel k;
        make_elf(&k); /* what boot_elf loaded */
        ck_assert_mem_eq(hv_vm_gpa(b.vm, ELF_PADDR, sizeof(k.text)), k.text, sizeof(k.text));
        static const uint8_t zeros[2 * 4096];
        ck_assert_mem_eq(hv_vm_gpa(b.vm, ELF_PADDR + sizeof(k.text), sizeof(zeros)), zeros, sizeof(zeros));
        struct boot_params *zp = zero_page(b.vm);
        ck_assert_uint_eq(zp->hdr.boot_flag, 0xaa55);
        ck_assert_uint_eq(zp->hdr.header, 0x53726448);
        ck_assert_uint_eq(zp->hdr.type_of_loader, 0xff);
        ck_assert_uint_eq(zp->hdr.ramdisk_image, 0);

        struct kvm_regs regs;
        struct kvm_sregs s;
        ck_assert_int_eq(ioctl(b.vm->vcpus[0]->fd, KVM_GET_REGS, &regs), 0);
        ck_assert_int_eq(ioctl(b.vm->vcpus[0]->fd, KVM_GET_SREGS, &s), 0);
        ck_assert_uint_eq(regs.rip, ELF_PADDR + 0x40);
        ck_assert_uint_eq(regs.rsi, HV_LINUX_ZERO_PAGE);
        ck_assert(s.efer & (1 << 10)); /* LMA */
        ck_assert(s.cs.l);
        ck_assert_uint_eq(s.cs.selector, 0x10);
        ck_assert_uint_eq(s.ds.selector, 0x18);
        ck_assert_uint_eq(s.cr3, HV_PML4_ADDR);
        /* the application processors stay in reset, waiting for the kernel's INIT/SIPI */
        struct kvm_mp_state mp;
        ck_assert_int_eq(ioctl(b.vm->vcpus[1]->fd, KVM_GET_MP_STATE, &mp), 0);
        ck_assert_uint_eq(mp.mp_state, KVM_MP_STATE_UNINITIALIZED);
        hv_vm_destroy(b.vm);
        hv_kvm_free(kvm);
}
END_TEST

/* A virtual e_entry (as some ELF kernels carry) is translated through its segment. */
START_TEST(elf_virtual_entry) {
        REQUIRE_KVM(kvm);
        struct elf_kernel k;
        make_elf(&k);
        k.e.e_entry = k.p.p_vaddr + 0x80;
        struct hv_linux l = { .kernel = write_file("vmlinux", &k, sizeof(k)) };
        struct booted b = boot(kvm, 1, 64 * MIB, &l);
        ck_assert_msg(b.r == 0, "%s", b.why);
        struct kvm_regs regs;
        ck_assert_int_eq(ioctl(b.vm->vcpus[0]->fd, KVM_GET_REGS, &regs), 0);
        ck_assert_uint_eq(regs.rip, ELF_PADDR + 0x80);
        hv_vm_destroy(b.vm);
        hv_kvm_free(kvm);
}
END_TEST

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t index) {
        for (uint32_t i = 0; i < c->nent; i++)
                if (c->entries[i].function == fn && c->entries[i].index == index)
                        return &c->entries[i];
        return NULL;
}

#define CPUID1_ECX_CX16 (1u << 13)
#define CPUID1_ECX_XSAVE (1u << 26)

static struct kvm_cpuid2 *get_cpuid(struct hv_vcpu *v) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));
        c->nent = 256;
        ck_assert_int_eq(ioctl(v->fd, KVM_GET_CPUID2, c), 0);
        return c;
}

/* Standard KVM stores the CPUID it is given. Nested KVM on PVM ORs the host's own leaf 1
 * features (XSAVE among them) into whatever it reports as supported: there a hidden XSAVE bit
 * comes back, and only the guest's "noxsave" can keep the kernel off XSAVE. */
static bool host_forces_leaf1(struct hv_kvm *kvm) {
        const struct kvm_cpuid_entry2 *host = find_leaf(kvm->cpuid, 1, 0);
        struct hv_vm_config cfg = { .name = "probe", .vcpus = 1, .ram_bytes = 16 * MIB };
        struct hv_vm *vm;
        ck_assert_int_eq(hv_vm_create(kvm, &cfg, &vm), 0);
        ck_assert_int_eq(hv_cpuid_setup(vm->vcpus[0], 0), 0);
        struct kvm_cpuid2 *c = get_cpuid(vm->vcpus[0]);
        bool forced = (find_leaf(c, 1, 0)->ecx & ~host->ecx & ~(1u << 31)) != 0;
        free(c);
        hv_vm_destroy(vm);
        if (forced)
                fprintf(stderr, "note: this KVM adds CPUID leaf 1 features it does not report as supported\n");
        return forced;
}

START_TEST(cpuid_per_vcpu) {
        REQUIRE_KVM(kvm);
        struct booted b = boot_elf(kvm, 3, 64 * MIB, HV_CPUID_HIDE_CX16);
        for (unsigned i = 0; i < 3; i++) {
                struct kvm_cpuid2 *c = get_cpuid(b.vm->vcpus[i]);
                const struct kvm_cpuid_entry2 *one = find_leaf(c, 1, 0), *kvm_sig = find_leaf(c, 0x40000000, 0);
                const struct kvm_cpuid_entry2 *kvm_feat = find_leaf(c, 0x40000001, 0);
                ck_assert_ptr_nonnull(one);
                ck_assert_uint_eq(one->ebx >> 24, i);         /* APIC ID */
                ck_assert_uint_eq(one->ebx >> 16 & 0xff, 3);  /* logical processors */
                ck_assert(one->ecx & (1u << 31));              /* hypervisor */
                ck_assert(!(one->ecx & CPUID1_ECX_CX16));      /* hidden */
                ck_assert_ptr_nonnull(kvm_sig);
                ck_assert_mem_eq(&kvm_sig->ebx, "KVMKVMKVM", 9);
                ck_assert_ptr_nonnull(kvm_feat);
                /* KVM's paravirt features kept as KVM offers them, KVM_FEATURE_STEAL_TIME among them */
                ck_assert_uint_eq(kvm_feat->eax, find_leaf(kvm->cpuid, 0x40000001, 0)->eax);
                /* the core level of the topology leaf, wherever KVM offers the leaf */
                const struct kvm_cpuid_entry2 *topo = find_leaf(c, 0xb, 1);
                ck_assert(topo || !find_leaf(kvm->cpuid, 0xb, 1));
                if (topo) {
                        ck_assert_uint_eq(topo->ebx, 3);
                        ck_assert_uint_eq(topo->edx, i);
                }
                const struct kvm_cpuid_entry2 *amd = find_leaf(c, 0x80000008, 0);
                if (amd && find_leaf(kvm->cpuid, 0x80000008, 0)->ecx) /* AMD: NC = cores - 1 */
                        ck_assert_uint_eq(amd->ecx & 0xff, 2);
                for (uint32_t j = 0; j < c->nent; j++) /* L1/L2 private, L3 shared by all 3 */
                        if (c->entries[j].function == 4 && (c->entries[j].eax & 0x1f))
                                ck_assert_uint_eq(c->entries[j].eax >> 14 & 0xfff,
                                                  (c->entries[j].eax >> 5 & 7) == 3 ? 2 : 0);
                free(c);

                struct kvm_lapic_state lapic;
                uint32_t lvt0, lvt1;
                ck_assert_int_eq(ioctl(b.vm->vcpus[i]->fd, KVM_GET_LAPIC, &lapic), 0);
                memcpy(&lvt0, lapic.regs + 0x350, 4);
                memcpy(&lvt1, lapic.regs + 0x360, 4);
                ck_assert_uint_eq(lvt0 >> 8 & 7, 7); /* ExtINT */
                ck_assert_uint_eq(lvt1 >> 8 & 7, 4); /* NMI */
                struct {
                        struct kvm_msrs m;
                        struct kvm_msr_entry e[1];
                } msrs = { .m.nmsrs = 1, .e = { { .index = 0x2ff } } };
                ck_assert_int_eq(ioctl(b.vm->vcpus[i]->fd, KVM_GET_MSRS, &msrs), 1);
                ck_assert_uint_eq(msrs.e[0].data, 0x806); /* MTRRs on, default write-back */
        }
        hv_vm_destroy(b.vm);
        hv_kvm_free(kvm);
}
END_TEST

/* Hiding XSAVE works on standard KVM; where KVM puts it back, the boot is refused and says so. */
START_TEST(cpuid_hide_xsave) {
        REQUIRE_KVM(kvm);
        struct elf_kernel k;
        make_elf(&k);
        struct hv_linux l = { .kernel = write_file("vmlinux", &k, sizeof(k)), .cpuid_hide = HV_CPUID_HIDE_XSAVE };
        if (host_forces_leaf1(kvm)) {
                expect_refused(kvm, 64 * MIB, &l, -EOPNOTSUPP, "cpuid_hide: this KVM keeps showing the hidden features");
                hv_kvm_free(kvm);
                return;
        }
        struct booted b = boot(kvm, 2, 64 * MIB, &l);
        ck_assert_msg(b.r == 0, "%s", b.why);
        for (unsigned i = 0; i < 2; i++) {
                struct kvm_cpuid2 *c = get_cpuid(b.vm->vcpus[i]);
                ck_assert(!(find_leaf(c, 1, 0)->ecx & CPUID1_ECX_XSAVE));
                const struct kvm_cpuid_entry2 *xstate = find_leaf(c, 0xd, 0);
                ck_assert(!xstate || xstate->eax == 0);
                free(c);
        }
        hv_vm_destroy(b.vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(cpuid_kept_when_not_hidden) {
        REQUIRE_KVM(kvm);
        const struct kvm_cpuid_entry2 *host = find_leaf(kvm->cpuid, 1, 0);
        struct booted b = boot_elf(kvm, 1, 64 * MIB, 0);
        struct kvm_cpuid2 *c = get_cpuid(b.vm->vcpus[0]);
        const struct kvm_cpuid_entry2 *one = find_leaf(c, 1, 0);
        ck_assert_uint_eq(one->ecx & CPUID1_ECX_CX16, host->ecx & CPUID1_ECX_CX16);
        if (!host_forces_leaf1(kvm))
                ck_assert_uint_eq(one->ecx & CPUID1_ECX_XSAVE, host->ecx & CPUID1_ECX_XSAVE);
        free(c);
        hv_vm_destroy(b.vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(bad_bzimages) {
        REQUIRE_KVM(kvm);
        static uint8_t img[1024 + KERNEL_BYTES];
        struct hv_linux l = { 0 };
        size_t len;

        len = make_bzimage(img, 0x020f, XLF_KERNEL_64);
        img[0x202] = 'X';
        l.kernel = write_file("magic", img, len);
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "not a bzImage (no HdrS magic at 0x202) or an ELF vmlinux");

        len = make_bzimage(img, 0x020b, XLF_KERNEL_64);
        l.kernel = write_file("old", img, len);
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "boot protocol 2.11 is too old (2.12 or newer needed)");

        len = make_bzimage(img, 0x020f, 0);
        l.kernel = write_file("no64", img, len);
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "no 64-bit entry point");

        len = make_bzimage(img, 0x020f, XLF_KERNEL_64);
        l.kernel = write_file("short", img, len - 100);
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "truncated: the header announces 9216 bytes, the file has 9116");

        ((struct setup_header *) (img + 0x1f1))->init_size = 100 * MIB;
        l.kernel = write_file("huge", img, len);
        expect_refused(kvm, 64 * MIB, &l, -E2BIG, "the kernel needs 116 MiB of RAM to decompress, the VM has 64 MiB");

        l.kernel = write_file("empty", "", 0);
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "empty: not a bzImage");

        l.kernel = "/nonexistent/vmlinuz";
        expect_refused(kvm, 64 * MIB, &l, -ENOENT, "/nonexistent/vmlinuz: No such file or directory");
        hv_kvm_free(kvm);
}
END_TEST

/* Files that are not kernels at all: a FIFO must not block the loader, a file larger than RAM
 * is refused before it is read, a header whose sizes wrap around is refused too. */
START_TEST(bad_files) {
        REQUIRE_KVM(kvm);
        struct hv_linux l = { 0 };
        char fifo[128];
        snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        l.kernel = fifo;
        expect_refused(kvm, 64 * MIB, &l, -EINVAL, "/fifo: not a regular file"); /* and returns at once */

        l.kernel = write_file("sparse", "", 0);
        ck_assert_int_eq(truncate(l.kernel, (off_t) (100 * MIB)), 0);
        expect_refused(kvm, 64 * MIB, &l, -E2BIG, "sparse: 100 MiB is more than the VM's RAM");

        static uint8_t img[1024 + KERNEL_BYTES];
        size_t len = make_bzimage(img, 0x020f, XLF_KERNEL_64);
        ((struct setup_header *) (img + 0x1f1))->pref_address = UINT64_MAX - 4096;
        l.kernel = write_file("wrap", img, len);
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "init_size 0x400000 above pref_address 0xffffffffffffefff runs past");
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(bad_elves) {
        REQUIRE_KVM(kvm);
        struct elf_kernel k;
        struct hv_linux l = { 0 };

        make_elf(&k);
        k.e.e_ident[EI_CLASS] = ELFCLASS32;
        l.kernel = write_file("elf32", &k, sizeof(k));
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "not a 64-bit x86 ELF vmlinux");

        make_elf(&k);
        l.kernel = write_file("cut", &k, sizeof(k) - 1);
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "truncated: segment 0 needs file bytes 0x78..0x1078");

        l.kernel = write_file("cuthdr", &k, 70);
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "truncated or malformed ELF program headers");

        make_elf(&k);
        k.p.p_paddr = 200 * MIB;
        l.kernel = write_file("high", &k, sizeof(k));
        expect_refused(kvm, 64 * MIB, &l, -E2BIG, "segment 0 at 0xc800000..0xc803000 does not fit in 64 MiB of RAM");

        make_elf(&k);
        k.e.e_entry = 0x1234;
        l.kernel = write_file("entry", &k, sizeof(k));
        expect_refused(kvm, 64 * MIB, &l, -ENOEXEC, "the entry point 0x1234 is outside every loadable segment");
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(bad_initrd_and_cmdline) {
        REQUIRE_KVM(kvm);
        struct elf_kernel k;
        make_elf(&k);
        struct hv_linux l = { .kernel = write_file("vmlinux", &k, sizeof(k)) };

        /* 64 MiB of RAM, the kernel ends at 16 MiB + 12 KiB: 60 MiB of initrd cannot fit */
        size_t big = 60 * MIB;
        char *junk = calloc(1, big);
        l.initrd = write_file("initrd", junk, big);
        free(junk);
        expect_refused(kvm, 64 * MIB, &l, -E2BIG, "initrd of 60 MiB does not fit in RAM: 47 MiB free above the kernel");

        l.initrd = "/nonexistent/initrd";
        expect_refused(kvm, 64 * MIB, &l, -ENOENT, "/nonexistent/initrd: No such file or directory");

        l.initrd = NULL;
        char cmdline[3000];
        memset(cmdline, 'a', sizeof(cmdline) - 1);
        cmdline[sizeof(cmdline) - 1] = 0;
        l.cmdline = cmdline;
        expect_refused(kvm, 64 * MIB, &l, -E2BIG, "the command line is 2999 bytes, this kernel takes at most 2047");

        l.cmdline = NULL;
        expect_refused(kvm, 32 * MIB, &l, -E2BIG, "Linux guests need at least 64 MiB of RAM, the VM has 32 MiB");
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("linux_boot");
        TCase *tc = tcase_create("linux_boot");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, bzimage_loaded_at_1mib);
        tcase_add_test(tc, e820_in_zero_page);
        tcase_add_test(tc, elf_segments_and_entry);
        tcase_add_test(tc, elf_virtual_entry);
        tcase_add_test(tc, cpuid_per_vcpu);
        tcase_add_test(tc, cpuid_hide_xsave);
        tcase_add_test(tc, cpuid_kept_when_not_hidden);
        tcase_add_test(tc, bad_bzimages);
        tcase_add_test(tc, bad_files);
        tcase_add_test(tc, bad_elves);
        tcase_add_test(tc, bad_initrd_and_cmdline);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
