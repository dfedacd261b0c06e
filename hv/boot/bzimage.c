/* bzImage (the x86 boot protocol, Documentation/arch/x86/boot.rst): check the setup header,
 * load the protected-mode kernel at 1 MiB, copy the header into the zero page. The kernel's
 * own decompressor then runs from its 64-bit entry at load address + 0x200. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/linux.h"
#include "vm.h"

#define SETUP_HDR_OFFSET 0x1f1
#define HDRS_MAGIC 0x53726448 /* "HdrS" */
#define MIN_PROTOCOL 0x020c   /* 2.12: xloadflags, the 64-bit entry */
#define ENTRY64_OFFSET 0x200
#define LOADER_UNDEFINED 0xff

bool hv_bzimage_is(const uint8_t *img, size_t len) {
        uint32_t magic;
        if (len < SETUP_HDR_OFFSET + sizeof(struct setup_header))
                return false;
        memcpy(&magic, img + offsetof(struct boot_params, hdr.header), sizeof(magic));
        return magic == HDRS_MAGIC;
}

static int check_header(const struct setup_header *h, size_t len, size_t *ret_setup, char why[HV_WHY_LEN]) {
        size_t setup = ((size_t) (h->setup_sects ? h->setup_sects : 4) + 1) * 512;

        if (h->version < MIN_PROTOCOL) {
                snprintf(why, HV_WHY_LEN, "boot protocol %u.%02u is too old (2.12 or newer needed)", h->version >> 8,
                         h->version & 0xff);
                return -ENOEXEC;
        }
        if (!(h->xloadflags & XLF_KERNEL_64)) {
                snprintf(why, HV_WHY_LEN, "no 64-bit entry point (XLF_KERNEL_64 not set in xloadflags 0x%x)",
                         h->xloadflags);
                return -ENOEXEC;
        }
        if (setup >= len || (uint64_t) h->syssize * 16 > len - setup) {
                snprintf(why, HV_WHY_LEN, "truncated: the header announces %zu bytes, the file has %zu",
                         setup + (size_t) h->syssize * 16, len);
                return -ENOEXEC;
        }
        *ret_setup = setup;
        return 0;
}

int hv_bzimage_load(struct hv_vm *vm, const uint8_t *img, size_t len, struct boot_params *zp,
                    struct hv_linux_image *ret, char why[HV_WHY_LEN]) {
        struct setup_header h;
        size_t setup;
        int r;

        if (!hv_bzimage_is(img, len)) {
                snprintf(why, HV_WHY_LEN, "not a bzImage (no HdrS magic at 0x202)");
                return -ENOEXEC;
        }
        memcpy(&h, img + SETUP_HDR_OFFSET, sizeof(h));
        if ((r = check_header(&h, len, &setup, why)) < 0)
                return r;
        /* the decompressor moves itself up to pref_address and needs init_size bytes there; the
         * image itself sits at 1 MiB, and both must fit */
        uint64_t base = h.pref_address > HV_LINUX_KERNEL_ADDR ? h.pref_address : HV_LINUX_KERNEL_ADDR;
        if (h.init_size > UINT64_MAX - base) {
                snprintf(why, HV_WHY_LEN, "init_size 0x%x above pref_address 0x%llx runs past the end of memory",
                         h.init_size, (unsigned long long) h.pref_address);
                return -ENOEXEC;
        }
        uint64_t end = base + h.init_size, image_end = HV_LINUX_KERNEL_ADDR + (uint64_t) (len - setup);
        if (image_end > end)
                end = image_end;
        uint8_t *dst = hv_vm_gpa(vm, HV_LINUX_KERNEL_ADDR, len - setup);
        if (!dst || end > vm->ram_bytes) {
                snprintf(why, HV_WHY_LEN, "the kernel needs %llu MiB of RAM to decompress, the VM has %llu MiB",
                         (unsigned long long) (end + (1 << 20) - 1) >> 20, (unsigned long long) vm->ram_bytes >> 20);
                return -E2BIG;
        }
        memcpy(dst, img + setup, len - setup);

        /* the header runs from 0x1f1 to the end given by the jump at 0x200 */
        size_t hdr_len = 0x202 + img[0x201] - SETUP_HDR_OFFSET;
        memcpy(&zp->hdr, img + SETUP_HDR_OFFSET, hdr_len < sizeof(zp->hdr) ? hdr_len : sizeof(zp->hdr));
        zp->hdr.type_of_loader = LOADER_UNDEFINED;
        zp->hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
        zp->hdr.heap_end_ptr = 0xfe00;
        zp->hdr.code32_start = HV_LINUX_KERNEL_ADDR;
        *ret = (struct hv_linux_image) {
                .entry = HV_LINUX_KERNEL_ADDR + ENTRY64_OFFSET,
                .end = end,
                .initrd_addr_max = h.initrd_addr_max,
                .cmdline_max = h.cmdline_size,
        };
        return 0;
}
