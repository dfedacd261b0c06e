/* Loaders: the built-in flat guests (and, later, Linux). */
#ifndef HV_BOOT_H
#define HV_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct hv_vm;
struct hv_vcpu;
struct hv_guest_params;

/* A built-in guest and its knobs; zero fields take the defaults below. */
struct hv_builtin {
        const char *guest;     /* pio, mmio, cpuid, spin, idle, duty, halt, triplefault, demo */
        uint64_t count;        /* pio/mmio/cpuid: operations per vCPU; spin: iterations,
                                * idle: ticks, duty: periods (0 = forever for those three) */
        uint32_t port;         /* pio: port written (default HV_PORT_POST) */
        uint64_t mmio_addr;    /* mmio: address touched (default HV_UNCLAIMED_MMIO) */
        uint32_t duty_pct;     /* duty: busy percentage (default 50) */
        uint32_t period_ticks; /* duty/demo: ticks per period (default 100) */
        uint32_t tick_us;      /* timer tick (default 1000 us) */
};

/* The linked-in image holding every built-in guest. */
extern const uint8_t hv_guest_image[];
extern const uint8_t hv_guest_image_end[];

/* Loads the named entry of a flat guest image (see hv/guests/params.h) into a created VM and
 * sets up every vCPU to enter it in 64-bit mode. -EINVAL for a malformed image, -ENOENT for
 * an unknown entry, -E2BIG when it does not fit the VM's RAM. */
int hv_boot_flat(struct hv_vm *vm, const void *image, size_t len, const char *entry,
                 const struct hv_guest_params *params);
/* The parameter block b describes (defaults filled in); b->guest is not looked at. */
int hv_builtin_params(const struct hv_builtin *b, struct hv_guest_params *ret);
/* hv_boot_flat with the built-in image and params derived from b. */
int hv_boot_builtin(struct hv_vm *vm, const struct hv_builtin *b);
/* Fills ret with up to max built-in guest names; returns how many there are. */
int hv_builtin_names(const char **ret, size_t max);

/* KVM_SET_CPUID2 from the supported CPUID with this vCPU's APIC ID and the hypervisor bit. */
int hv_cpuid_setup(struct hv_vcpu *v);

#endif
