/* /dev/kvm: opened and checked once per process. */
#ifndef HV_KVM_H
#define HV_KVM_H

#include <stdbool.h>
#include <stddef.h>

#define HV_WHY_LEN 256

struct hv_kvm {
        int fd;
        int run_size;            /* mmap size of struct kvm_run */
        struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID */
        int kick_signal;         /* SIGRTMIN-based signal used to kick vCPU threads */
};

/* Opens path (NULL = /dev/kvm), checks API version 12 and every capability hv relies on,
 * installs the kick signal handler. On failure returns -errno and, if why is non-NULL,
 * writes a sentence a user can act on. */
int hv_kvm_open(const char *path, struct hv_kvm **ret, char why[HV_WHY_LEN]);
void hv_kvm_free(struct hv_kvm *kvm);

#endif
