/* memory: how much of each guest's RAM is resident in host memory (bhyve's "Resident
 * memory"; a worker's VM: as it published for the executor collector this sample), and the
 * daemon's own resident set. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collector.h"

static int memory_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        int r = hv_vm_resident_bytes(vm->hv, &out->resident_bytes);
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
