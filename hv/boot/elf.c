/* An uncompressed ELF vmlinux, Firecracker's way: copy each PT_LOAD segment to its physical
 * address, enter at the ELF entry (startup_64) with a zero page whose header we write. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot/linux.h"
#include "vm.h"

#define HDRS_MAGIC 0x53726448
#define BOOT_FLAG 0xaa55
#define LOADER_UNDEFINED 0xff
#define PROTOCOL_2_15 0x020f
#define KERNEL_ALIGN 0x1000000   /* 16 MiB, CONFIG_PHYSICAL_ALIGN of distribution kernels */
#define COMMAND_LINE_SIZE 2048   /* arch/x86/include/asm/setup.h */
#define INITRD_ADDR_MAX 0x7fffffff
#define MAX_PHDRS 64             /* vmlinux has 5 */

bool hv_elf_is(const uint8_t *img, size_t len) {
        return len >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

static int check_ehdr(const Elf64_Ehdr *e, size_t len, char why[HV_WHY_LEN]) {
        if (len < sizeof(*e) || e->e_ident[EI_CLASS] != ELFCLASS64 || e->e_ident[EI_DATA] != ELFDATA2LSB ||
            e->e_machine != EM_X86_64) {
                snprintf(why, HV_WHY_LEN, "not a 64-bit x86 ELF vmlinux");
                return -ENOEXEC;
        }
        if (e->e_phentsize != sizeof(Elf64_Phdr) || e->e_phnum == 0 || e->e_phnum > MAX_PHDRS || e->e_phoff > len ||
            (uint64_t) e->e_phnum * sizeof(Elf64_Phdr) > len - e->e_phoff) {
                snprintf(why, HV_WHY_LEN, "truncated or malformed ELF program headers (%u at offset 0x%llx)",
                         e->e_phnum, (unsigned long long) e->e_phoff);
                return -ENOEXEC;
        }
        return 0;
}

static int load_segment(struct hv_vm *vm, const uint8_t *img, size_t len, const Elf64_Phdr *p, unsigned i,
                        char why[HV_WHY_LEN]) {
        if (p->p_offset > len || p->p_filesz > len - p->p_offset || p->p_filesz > p->p_memsz) {
                snprintf(why, HV_WHY_LEN, "truncated: segment %u needs file bytes 0x%llx..0x%llx, the file has 0x%zx", i,
                         (unsigned long long) p->p_offset, (unsigned long long) (p->p_offset + p->p_filesz), len);
                return -ENOEXEC;
        }
        uint8_t *dst = hv_vm_gpa(vm, p->p_paddr, p->p_memsz);
        if (!dst) {
                snprintf(why, HV_WHY_LEN, "segment %u at 0x%llx..0x%llx does not fit in %llu MiB of RAM", i,
                         (unsigned long long) p->p_paddr, (unsigned long long) (p->p_paddr + p->p_memsz),
                         (unsigned long long) vm->ram_bytes >> 20);
                return -E2BIG;
        }
        memcpy(dst, img + p->p_offset, p->p_filesz);
        memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
        return 0;
}

/* e_entry is physical in vmlinux (startup_64's load address); accept a virtual one too. */
static bool physical_entry(const Elf64_Ehdr *e, const Elf64_Phdr *ph, uint64_t *ret) {
        for (unsigned i = 0; i < e->e_phnum; i++) {
                const Elf64_Phdr *p = &ph[i];
                if (p->p_type != PT_LOAD)
                        continue;
                if (e->e_entry >= p->p_paddr && e->e_entry - p->p_paddr < p->p_filesz) {
                        *ret = e->e_entry;
                        return true;
                }
                if (e->e_entry >= p->p_vaddr && e->e_entry - p->p_vaddr < p->p_filesz) {
                        *ret = e->e_entry - p->p_vaddr + p->p_paddr;
                        return true;
                }
        }
        return false;
}

static void write_header(struct setup_header *h) {
        h->boot_flag = BOOT_FLAG;
        h->header = HDRS_MAGIC;
        h->version = PROTOCOL_2_15;
        h->type_of_loader = LOADER_UNDEFINED;
        h->loadflags = LOADED_HIGH;
        h->kernel_alignment = KERNEL_ALIGN;
        h->initrd_addr_max = INITRD_ADDR_MAX;
        h->cmdline_size = COMMAND_LINE_SIZE - 1;
}

int hv_elf_load(struct hv_vm *vm, const uint8_t *img, size_t len, struct boot_params *zp,
                struct hv_linux_image *ret, char why[HV_WHY_LEN]) {
        Elf64_Ehdr e;
        uint64_t end = 0, entry;
        unsigned loaded = 0;
        int r;

        if (!hv_elf_is(img, len)) {
                snprintf(why, HV_WHY_LEN, "not an ELF file");
                return -ENOEXEC;
        }
        memcpy(&e, img, len < sizeof(e) ? len : sizeof(e));
        if ((r = check_ehdr(&e, len, why)) < 0)
                return r;
        Elf64_Phdr ph[e.e_phnum];
        memcpy(ph, img + e.e_phoff, sizeof(ph));
        for (unsigned i = 0; i < e.e_phnum; i++) {
                if (ph[i].p_type != PT_LOAD)
                        continue;
                if ((r = load_segment(vm, img, len, &ph[i], i, why)) < 0)
                        return r;
                if (ph[i].p_paddr + ph[i].p_memsz > end)
                        end = ph[i].p_paddr + ph[i].p_memsz;
                loaded++;
        }
        if (!loaded || !physical_entry(&e, ph, &entry)) {
                snprintf(why, HV_WHY_LEN, loaded ? "the entry point 0x%llx is outside every loadable segment"
                                                 : "no loadable segment (entry 0x%llx)",
                         (unsigned long long) e.e_entry);
                return -ENOEXEC;
        }
        write_header(&zp->hdr);
        *ret = (struct hv_linux_image) {
                .entry = entry, .end = end, .initrd_addr_max = INITRD_ADDR_MAX, .cmdline_max = COMMAND_LINE_SIZE - 1,
        };
        return 0;
}
