/* memory: how much of each guest's RAM is resident in host memory (bhyve's "Resident
 * memory"), and the daemon's own resident set. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collector.h"

#define MINCORE_CHUNK_PAGES 4096

static int resident_bytes(const uint8_t *base, uint64_t len, uint64_t *ret) {
        long page = sysconf(_SC_PAGESIZE);
        unsigned char vec[MINCORE_CHUNK_PAGES];
        uint64_t pages = 0;

        for (uint64_t off = 0; off < len; off += (uint64_t) page * MINCORE_CHUNK_PAGES) {
                uint64_t chunk = len - off < (uint64_t) page * MINCORE_CHUNK_PAGES ? len - off
                                                                                     : (uint64_t) page * MINCORE_CHUNK_PAGES;
                if (mincore((void *) (base + off), chunk, vec) < 0)
                        return -errno;
                for (uint64_t i = 0; i < (chunk + (uint64_t) page - 1) / (uint64_t) page; i++)
                        pages += vec[i] & 1;
        }
        *ret = pages * (uint64_t) page;
        return 0;
}

static int memory_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        int r = resident_bytes(vm->hv->ram, vm->hv->ram_bytes, &out->resident_bytes);
        if (r < 0)
                return collector_fail(c, r, "memory: mincore over %s's RAM: %s", vm->hv->name, strerror(-r));
        out->have |= CL_HAVE_MEMORY;
        return 0;
}

static int memory_sample_host(struct collector *c, struct cl_host_raw *out) {
        char buf[128];
        unsigned long long size, rss;
        int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return collector_fail(c, -errno, "memory: /proc/self/statm: %s", strerror(errno));
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return collector_fail(c, -EIO, "memory: /proc/self/statm: empty");
        buf[n] = 0;
        if (sscanf(buf, "%llu %llu", &size, &rss) != 2)
                return collector_fail(c, -EBADMSG, "memory: /proc/self/statm: unexpected format");
        out->daemon_rss_bytes = rss * (uint64_t) sysconf(_SC_PAGESIZE);
        return 0;
}

const struct collector_ops collector_memory = {
        .name = "memory",
        .enabled_by_default = true,
        .sample_vm = memory_sample_vm,
        .sample_host = memory_sample_host,
};
