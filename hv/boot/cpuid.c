/* Guest CPUID: what KVM supports (its paravirt leaves 0x4000000x included, so the guest finds
 * kvm-clock and steal time), with per-vCPU APIC IDs, a topology of one package with one thread
 * per core, the hypervisor bit, and the features the config hides cleared. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot/boot.h"
#include "kvm.h"
#include "vcpu.h"
#include "vm.h"

#define CPUID1_ECX_CX16 (1u << 13)
#define CPUID1_ECX_XSAVE (1u << 26)
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define CPUID1_ECX_AVX (1u << 28)
#define CPUID1_ECX_HYPERVISOR (1u << 31)
#define CPUID1_EDX_HTT (1u << 28)
#define CPUID7_EBX_AVX2 (1u << 5)
#define TOPO_LEVEL_SMT 1
#define TOPO_LEVEL_CORE 2

static unsigned order(unsigned n) {
        unsigned s = 0;
        while ((1u << s) < n)
                s++;
        return s;
}

/* Leaves 0xb and 0x1f: level 0 is SMT (one thread), level 1 the cores, then invalid. */
static void topology_leaf(struct kvm_cpuid_entry2 *e, unsigned id, unsigned n) {
        e->edx = id;
        switch (e->index) {
        case 0:
                e->eax = 0;
                e->ebx = 1;
                e->ecx = TOPO_LEVEL_SMT << 8;
                break;
        case 1:
                e->eax = order(n);
                e->ebx = n;
                e->ecx = TOPO_LEVEL_CORE << 8 | 1;
                break;
        default:
                e->eax = e->ebx = 0;
                e->ecx = e->index;
        }
}

/* The leaf 1 ECX bits the HV_CPUID_HIDE_* flags in hide name: cleared, then checked after SET. */
static uint32_t hidden_ecx(unsigned hide) {
        return (hide & HV_CPUID_HIDE_CX16 ? CPUID1_ECX_CX16 : 0) | (hide & HV_CPUID_HIDE_XSAVE ? CPUID1_ECX_XSAVE : 0);
}

static void adjust(struct kvm_cpuid_entry2 *e, unsigned id, unsigned n, unsigned hide) {
        switch (e->function) {
        case 1:
                e->ebx = (e->ebx & 0x0000ffffu) | (n << 16) | (id << 24); /* logical CPUs, APIC ID */
                e->ecx |= CPUID1_ECX_HYPERVISOR;
                e->edx = n > 1 ? e->edx | CPUID1_EDX_HTT : e->edx & ~CPUID1_EDX_HTT;
                e->ecx &= ~hidden_ecx(hide);
                if (hide & HV_CPUID_HIDE_XSAVE) /* and what depends on it */
                        e->ecx &= ~(CPUID1_ECX_OSXSAVE | CPUID1_ECX_AVX);
                break;
        case 4: /* cache leaves: cores per package in 31:26, vCPUs sharing the cache - 1 in 25:14:
                 * L1 and L2 are each vCPU's own, the L3 is the package's */
                if (e->eax & 0x1f)
                        e->eax = (e->eax & 0x3fffu) | ((n - 1) << 26) | (((e->eax >> 5 & 7) == 3 ? n - 1 : 0) << 14);
                break;
        case 0x80000008: /* AMD: cores per package - 1 in 7:0, APIC ID bits in 15:12 (0 on Intel) */
                if (e->ecx)
                        e->ecx = (e->ecx & ~0xf0ffu) | order(n) << 12 | (n - 1);
                break;
        case 7:
                if (e->index == 0 && (hide & HV_CPUID_HIDE_XSAVE))
                        e->ebx &= ~CPUID7_EBX_AVX2;
                break;
        case 0xd: /* the XSAVE state leaves mean nothing without XSAVE */
                if (hide & HV_CPUID_HIDE_XSAVE)
                        e->eax = e->ebx = e->ecx = e->edx = 0;
                break;
        case 0xb:
        case 0x1f:
                topology_leaf(e, id, n);
                break;
        }
}

/* Standard KVM keeps the CPUID it is given; nested KVM on PVM ORs the host's leaf 1 features
 * back in. A feature the user asked to hide must not silently stay visible. */
static int check_hidden(struct hv_vcpu *v, struct kvm_cpuid2 *c, uint32_t nent, unsigned hide) {
        c->nent = nent;
        if (!hide)
                return 0;
        if (ioctl(v->fd, KVM_GET_CPUID2, c) < 0)
                return -errno;
        for (uint32_t i = 0; i < c->nent; i++)
                if (c->entries[i].function == 1 && (c->entries[i].ecx & hidden_ecx(hide)))
                        return -EOPNOTSUPP;
        return 0;
}

int hv_cpuid_setup(struct hv_vcpu *v, unsigned hide) {
        const struct kvm_cpuid2 *supported = v->vm->kvm->cpuid;
        size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
        struct kvm_cpuid2 *c = malloc(size);
        int r = 0;

        if (!c)
                return -ENOMEM;
        memcpy(c, supported, size);
        for (uint32_t i = 0; i < c->nent; i++)
                adjust(&c->entries[i], v->id, v->vm->n_vcpus, hide);
        if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
                r = -errno;
        else
                r = check_hidden(v, c, supported->nent, hide);
        free(c);
        return r;
}
