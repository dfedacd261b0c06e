/* libFuzzer target: the bzImage and ELF loaders (hv/boot/bzimage.c, elf.c) take any bytes as a
 * kernel and either load them inside guest RAM with an entry point in RAM, or refuse them with
 * -ENOEXEC / -E2BIG and a message; they never read or write outside the image and RAM. Guest
 * RAM here is a plain buffer behind a minimal struct hv_vm (all the loaders touch). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/linux.h"
#include "vm.h"

#define RAM_BYTES (32u << 20)

/* the one vm.c function the loaders call, with the same bounds check */
void *hv_vm_gpa(struct hv_vm *vm, uint64_t gpa, uint64_t len) {
        if (gpa > vm->ram_bytes || len > vm->ram_bytes - gpa)
                return NULL;
        return vm->ram + gpa;
}

/* The first byte picks how the rest is presented: as is, with the bzImage magic planted (at
 * least a whole setup header long), or with an x86-64 ELF identity, so that the fuzzer spends
 * its time past the magic checks. Returns the image (malloc'd) and its length. */
static uint8_t *shape(const uint8_t *data, size_t size, size_t *ret_len) {
        unsigned mode = size ? data[0] % 3 : 0;
        data += size ? 1 : 0;
        size -= size ? 1 : 0;
        size_t len = mode == 1 && size < 0x270 ? 0x270 : mode == 2 && size < 20 ? 20 : size;
        uint8_t *img = calloc(1, len ? len : 1);
        memcpy(img, data, size);
        if (mode == 1)
                memcpy(img + 0x202, "HdrS", 4);
        if (mode == 2)
                memcpy(img, "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0", 20);
        *ret_len = len;
        return img;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct hv_vm vm;
        static struct boot_params zp;
        if (!vm.ram) {
                vm.ram = malloc(RAM_BYTES); /* reused: the loaders need not zero what they skip */
                vm.ram_bytes = RAM_BYTES;
        }
        /* a private copy of exactly its length, so ASan sees any read past the end of the image */
        uint8_t *img = shape(data, size, &size);
        struct hv_linux_image k;
        char why[HV_WHY_LEN] = "";
        int r;
        memset(&zp, 0, sizeof(zp));
        bool elf = hv_elf_is(img, size);
        if (elf)
                r = hv_elf_load(&vm, img, size, &zp, &k, why);
        else
                r = hv_bzimage_load(&vm, img, size, &zp, &k, why);
        if (r == 0 && (k.entry >= RAM_BYTES || k.end > RAM_BYTES))
                abort();
        /* a loaded bzImage occupies RAM from 1 MiB: its end (for the initrd) is above that */
        if (r == 0 && !elf && k.end <= HV_LINUX_KERNEL_ADDR)
                abort();
        if (r < 0 && ((r != -ENOEXEC && r != -E2BIG) || !why[0] || !memchr(why, 0, sizeof(why))))
                abort();
        free(img);
        return 0;
}
