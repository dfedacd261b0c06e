/* Internals of the Linux loader shared by linux.c, bzimage.c and elf.c. */
#ifndef HV_BOOT_LINUX_H
#define HV_BOOT_LINUX_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm.h"

struct hv_vm;

/* What a loaded kernel image tells the rest of the boot. */
struct hv_linux_image {
        uint64_t entry;           /* guest-physical 64-bit entry point */
        uint64_t end;             /* first byte above everything the kernel may use while booting */
        uint64_t initrd_addr_max; /* highest address an initrd byte may sit at */
        uint32_t cmdline_max;     /* longest command line it takes, without the NUL */
};

bool hv_bzimage_is(const uint8_t *img, size_t len);
bool hv_elf_is(const uint8_t *img, size_t len);
/* Both load img into the VM, fill the zero page's setup header and ret; on a bad image they
 * return -ENOEXEC (or -E2BIG when it does not fit RAM) with why naming the problem. */
int hv_bzimage_load(struct hv_vm *vm, const uint8_t *img, size_t len, struct boot_params *zp,
                    struct hv_linux_image *ret, char why[HV_WHY_LEN]);
int hv_elf_load(struct hv_vm *vm, const uint8_t *img, size_t len, struct boot_params *zp,
                struct hv_linux_image *ret, char why[HV_WHY_LEN]);

#endif
