/* /dev/kvm, its API version, the capabilities we rely on, supported CPUID. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define HV_CPUID_MAX_ENTRIES 256

static const struct {
        int cap;
        const char *name;
} required_caps[] = {
        { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
        { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
        { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
        { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
        { KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
        { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
        { KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
        { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
        { KVM_CAP_BINARY_STATS_FD, "KVM_CAP_BINARY_STATS_FD" },
};

static void kick_handler(int sig) {
        (void) sig; /* only here so the signal interrupts KVM_RUN with EINTR */
}

static void explain_open(int err, const char *path, char *why) {
        switch (err) {
        case EACCES:
        case EPERM:
                snprintf(why, HV_WHY_LEN,
                         "%s: permission denied: add your user to group kvm (usermod -aG kvm $USER, then log in again)",
                         path);
                break;
        case ENOENT:
        case ENXIO:
        case ENODEV:
                snprintf(why, HV_WHY_LEN,
                         "%s: no such device: enable VT-x/AMD-V in the firmware and load kvm_intel or kvm_amd",
                         path);
                break;
        default:
                snprintf(why, HV_WHY_LEN, "%s: %s", path, strerror(err));
        }
}

static int kvm_load_cpuid(struct hv_kvm *kvm) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + HV_CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
        if (!c)
                return -ENOMEM;
        c->nent = HV_CPUID_MAX_ENTRIES;
        if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
                int r = -errno;
                free(c);
                return r;
        }
        kvm->cpuid = c;
        return 0;
}

int hv_kvm_open(const char *path, struct hv_kvm **ret, char why[HV_WHY_LEN]) {
        char scratch[HV_WHY_LEN];
        struct hv_kvm *kvm;
        int r;

        if (!why)
                why = scratch;
        if (!path)
                path = "/dev/kvm";
        kvm = calloc(1, sizeof(*kvm));
        if (!kvm)
                return -ENOMEM;
        kvm->fd = open(path, O_RDWR | O_CLOEXEC);
        if (kvm->fd < 0) {
                r = -errno;
                explain_open(-r, path, why);
                free(kvm);
                return r;
        }
        r = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
        if (r < 0) {
                r = -errno;
                snprintf(why, HV_WHY_LEN, "%s: not a KVM device (KVM_GET_API_VERSION: %s)", path, strerror(-r));
                goto fail;
        }
        if (r != KVM_API_VERSION) {
                snprintf(why, HV_WHY_LEN, "%s: KVM API version %d, hv needs %d", path, r, KVM_API_VERSION);
                r = -EPROTO;
                goto fail;
        }
        for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++)
                if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
                        snprintf(why, HV_WHY_LEN, "%s: this kernel lacks %s, which hv needs", path,
                                 required_caps[i].name);
                        r = -EOPNOTSUPP;
                        goto fail;
                }
        kvm->run_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (kvm->run_size < (int) sizeof(struct kvm_run)) {
                r = kvm->run_size < 0 ? -errno : -EPROTO;
                snprintf(why, HV_WHY_LEN, "%s: KVM_GET_VCPU_MMAP_SIZE failed", path);
                goto fail;
        }
        r = kvm_load_cpuid(kvm);
        if (r < 0) {
                snprintf(why, HV_WHY_LEN, "%s: KVM_GET_SUPPORTED_CPUID: %s", path, strerror(-r));
                goto fail;
        }
        kvm->kick_signal = SIGRTMIN;
        struct sigaction sa = { .sa_handler = kick_handler }; /* no SA_RESTART: KVM_RUN must see EINTR */
        sigemptyset(&sa.sa_mask);
        if (sigaction(kvm->kick_signal, &sa, NULL) < 0) {
                r = -errno;
                snprintf(why, HV_WHY_LEN, "sigaction(SIGRTMIN): %s", strerror(-r));
                goto fail;
        }
        *ret = kvm;
        return 0;
fail:
        hv_kvm_free(kvm);
        return r;
}

void hv_kvm_free(struct hv_kvm *kvm) {
        if (!kvm)
                return;
        if (kvm->fd >= 0)
                close(kvm->fd);
        free(kvm->cpuid);
        free(kvm);
}
