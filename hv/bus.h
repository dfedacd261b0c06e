/* Port-I/O and MMIO dispatch. Devices register ranges before the VM starts; lookups on the
 * exit path take no lock. An access nobody claims is reported as unhandled; reads of it see
 * all-ones. */
#ifndef HV_BUS_H
#define HV_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hv_vcpu;

/* offset is relative to the range base; data holds len bytes (little endian). */
typedef void hv_io_fn(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                      bool is_write);

struct hv_bus_range {
        uint64_t base, len;
        hv_io_fn *fn;
        void *opaque;
        void (*free_opaque)(void *opaque);
        const char *name;
};

struct hv_bus {
        struct hv_bus_range *ranges; /* sorted by base, non-overlapping */
        size_t n;
};

/* -EINVAL for an empty or wrapping range, -EEXIST when it overlaps a registered one.
 * On success the bus owns opaque and calls free_opaque (if any) when it is freed. */
int hv_bus_register(struct hv_bus *bus, const char *name, uint64_t base, uint64_t len, hv_io_fn *fn,
                    void *opaque, void (*free_opaque)(void *));
const struct hv_bus_range *hv_bus_find(const struct hv_bus *bus, uint64_t addr);
/* Returns false when no device claims addr (reads then see all-ones). */
bool hv_bus_access(const struct hv_bus *bus, struct hv_vcpu *vcpu, uint64_t addr, uint8_t *data, uint32_t len,
                   bool is_write);
void hv_bus_free(struct hv_bus *bus);

#endif
