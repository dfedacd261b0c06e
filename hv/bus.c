#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int hv_bus_register(struct hv_bus *bus, const char *name, uint64_t base, uint64_t len, hv_io_fn *fn,
                    void *opaque, void (*free_opaque)(void *)) {
        if (!len || base + len < base || !fn)
                return -EINVAL;
        size_t at = 0;
        while (at < bus->n && bus->ranges[at].base < base)
                at++;
        if (at > 0 && bus->ranges[at - 1].base + bus->ranges[at - 1].len > base)
                return -EEXIST;
        if (at < bus->n && base + len > bus->ranges[at].base)
                return -EEXIST;
        struct hv_bus_range *r = realloc(bus->ranges, (bus->n + 1) * sizeof(*r));
        if (!r)
                return -ENOMEM;
        memmove(&r[at + 1], &r[at], (bus->n - at) * sizeof(*r));
        r[at] = (struct hv_bus_range) { base, len, fn, opaque, free_opaque, name };
        bus->ranges = r;
        bus->n++;
        return 0;
}

const struct hv_bus_range *hv_bus_find(const struct hv_bus *bus, uint64_t addr) {
        size_t lo = 0, hi = bus->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct hv_bus_range *r = &bus->ranges[mid];
                if (addr < r->base)
                        hi = mid;
                else if (addr - r->base >= r->len)
                        lo = mid + 1;
                else
                        return r;
        }
        return NULL;
}

bool hv_bus_access(const struct hv_bus *bus, struct hv_vcpu *vcpu, uint64_t addr, uint8_t *data, uint32_t len,
                   bool is_write) {
        const struct hv_bus_range *r = hv_bus_find(bus, addr);
        if (!r) {
                if (!is_write)
                        memset(data, 0xff, len);
                return false;
        }
        r->fn(vcpu, r->opaque, addr - r->base, data, len, is_write);
        return true;
}

void hv_bus_free(struct hv_bus *bus) {
        for (size_t i = 0; i < bus->n; i++)
                if (bus->ranges[i].free_opaque)
                        bus->ranges[i].free_opaque(bus->ranges[i].opaque);
        free(bus->ranges);
        bus->ranges = NULL;
        bus->n = 0;
}
