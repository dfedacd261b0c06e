/* The built-in guests: one linked-in image, an entry per workload, defaults for their knobs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/file.h"
#include "boot/layout.h"
#include "guests/params.h"
#include "vm.h"

int hv_builtin_names(const char **ret, size_t max) {
        const struct hv_image_header *h = (const void *) hv_guest_image;
        const struct hv_image_entry *e = (const void *) (hv_guest_image + (h->entries - HV_IMAGE_ADDR));
        size_t n = (h->entries_end - h->entries) / sizeof(*e);
        for (size_t i = 0; i < n && i < max; i++)
                ret[i] = e[i].name;
        return (int) n;
}

int hv_builtin_params(const struct hv_builtin *b, struct hv_guest_params *ret) {
        struct hv_guest_params p = {
                .count = b->count,
                .port = b->port ? b->port : HV_PORT_POST,
                .exit_port = HV_PORT_EXIT,
                .console_port = HV_PORT_CONSOLE,
                .mmio_addr = b->mmio_addr ? b->mmio_addr : HV_UNCLAIMED_MMIO,
                .duty_pct = b->duty_pct ? b->duty_pct : 50,
                .period_ticks = b->period_ticks ? b->period_ticks : 100,
                /* the in-kernel LAPIC counts at 1 GHz: at divide-by-1 one count is 1 ns */
                .tick_count = (b->tick_us ? b->tick_us : 1000) * 1000u,
                .steal_time = b->steal_time,
        };
        if (p.duty_pct > 100 || p.port > 0xffff || b->tick_us > 1000000 || b->steal_time > STEAL_RESERVED)
                return -EINVAL;
        *ret = p;
        return 0;
}

int hv_boot_builtin(struct hv_vm *vm, const struct hv_builtin *b) {
        struct hv_guest_params p;
        int r = hv_builtin_params(b, &p);
        if (r < 0 || !b->guest)
                return r < 0 ? r : -EINVAL;
        return hv_boot_flat(vm, hv_guest_image, (size_t) (hv_guest_image_end - hv_guest_image), b->guest, &p);
}

/* Flat images are small (the built-in one is a few KiB): a larger file is a mistake. */
#define FLAT_IMAGE_MAX (64u << 20)

int hv_boot_flat_file(struct hv_vm *vm, const char *path, const char *entry, const struct hv_guest_params *p,
                      char why[HV_WHY_LEN]) {
        uint64_t size;
        int fd = hv_file_open_regular(path, &size, why), r;
        if (fd < 0)
                return fd;
        void *img = size <= FLAT_IMAGE_MAX ? malloc(size ? size : 1) : NULL;
        if (!img) {
                snprintf(why, HV_WHY_LEN, "%.200s: %s", path, size > FLAT_IMAGE_MAX ? "larger than 64 MiB" : strerror(ENOMEM));
                close(fd);
                return size > FLAT_IMAGE_MAX ? -EFBIG : -ENOMEM;
        }
        r = hv_file_read_exact(fd, img, size, path, why);
        close(fd);
        if (r == 0 && (r = hv_boot_flat(vm, img, size, entry, p)) < 0)
                snprintf(why, HV_WHY_LEN, "%.200s: %s", path,
                         r == -ENOENT ? "no such entry in the image" : r == -EINVAL ? "not a valid guest image" : strerror(-r));
        free(img);
        return r;
}
