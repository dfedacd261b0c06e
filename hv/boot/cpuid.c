/* Guest CPUID: what KVM supports, with per-vCPU APIC IDs and the hypervisor bit. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot/boot.h"
#include "kvm.h"
#include "vcpu.h"
#include "vm.h"

#define CPUID_HYPERVISOR_BIT (1u << 31)

int hv_cpuid_setup(struct hv_vcpu *v) {
        const struct kvm_cpuid2 *supported = v->vm->kvm->cpuid;
        size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
        struct kvm_cpuid2 *c = malloc(size);
        int r = 0;

        if (!c)
                return -ENOMEM;
        memcpy(c, supported, size);
        for (uint32_t i = 0; i < c->nent; i++) {
                struct kvm_cpuid_entry2 *e = &c->entries[i];
                switch (e->function) {
                case 1:
                        e->ebx = (e->ebx & 0x00ffffffu) | (v->id << 24);
                        e->ecx |= CPUID_HYPERVISOR_BIT;
                        break;
                case 0xb:
                case 0x1f:
                        e->edx = v->id; /* x2APIC ID */
                        break;
                }
        }
        if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
                r = -errno;
        free(c);
        return r;
}
