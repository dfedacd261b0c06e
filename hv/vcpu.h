/* One vCPU: its fd, kvm_run, thread and the KVM_RUN loop. */
#ifndef HV_VCPU_H
#define HV_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "counters.h"
#include "runstate.h"

struct hv_vm;
struct hv_shm_vcpu;
struct kvm_run;

struct hv_vcpu {
        struct hv_shm_vcpu *sh;      /* counters (sh->c), offline time and the rest readers need, in the
                                      * VM's shared memfd */
        struct hv_vcpu_hist *hist;   /* its handling histogram by reason, there too */
        struct hv_vm *vm;
        unsigned id;
        int fd;
        int stats_fd;
        struct kvm_run *run;
        size_t run_size;
        pthread_t thread;
        bool spawned, joined;
        char comm[16]; /* <vm>/<n>, at most 15 characters */

        clockid_t cpu_clock;      /* valid once sh->tid != 0 */
        uint64_t steal_seen_ns;   /* the owner's: the record's last value read, kept once disabled */
        bool steal_seen;          /* the owner's: a record was read at least once */
        enum hv_exit last_exit;   /* the vCPU thread's own: what the exit being handled counted as */
};

/* The guest's own view of its steal time: the struct kvm_steal_time it registered with
 * MSR_KVM_STEAL_TIME, which KVM keeps up to date. */
enum hv_steal {
        HV_STEAL_NEVER,   /* the guest never enabled it: nothing to show (never a fake 0) */
        HV_STEAL_ON,      /* enabled at a valid address: steal_ns is the record's */
        HV_STEAL_OFF,     /* enabled once, disabled since: steal_ns is the last value seen */
        HV_STEAL_INVALID, /* enabled at an address outside RAM or with reserved bits set */
};
const char *hv_steal_name(enum hv_steal s);

/* Raw runstate inputs, consistent enough for a sampler: taken at now_ns. */
struct hv_vcpu_raw {
        pid_t tid;
        bool exited;
        uint64_t now_ns;     /* CLOCK_MONOTONIC */
        uint64_t cpu_ns;     /* the vCPU thread's CPU time */
        uint64_t offline_ns; /* not started + paused + stopped, open segment included */
        enum hv_steal steal; /* the guest's steal time record */
        uint64_t steal_ns;
};

int hv_vcpu_create(struct hv_vm *vm, unsigned id, struct hv_vcpu **ret);
/* A reader's view of vCPU id of a VM run elsewhere (hv_vm_attach), over its part of the VM's
 * shared memory; stats_fd is taken over. */
int hv_vcpu_view(struct hv_vm *vm, unsigned id, int stats_fd, struct hv_vcpu **ret);
/* Owner: publishes tid, CPU time and offline time as one consistent reading for views. */
void hv_vcpu_publish(struct hv_vcpu *v);
void hv_vcpu_free(struct hv_vcpu *v);
int hv_vcpu_spawn(struct hv_vcpu *v);
void hv_vcpu_join(struct hv_vcpu *v);
/* Makes the vCPU leave KVM_RUN soon: immediate_exit, then the kick signal. */
void hv_vcpu_kick(struct hv_vcpu *v);
void hv_vcpu_read_raw(struct hv_vcpu *v, struct hv_vcpu_raw *ret);
/* The same for a vCPU thread known not to have run since its CPU time was cpu_ns (the
 * scheduler's own sum, which equals its CPU clock while it is off a CPU): no publish needed. */
void hv_vcpu_read_raw_off_cpu(const struct hv_vcpu *v, uint64_t cpu_ns, struct hv_vcpu_raw *ret);
/* The vCPU thread's id (in hv_vm_pid's process) while it runs its loop, 0 before it starts and
 * after it exits. */
pid_t hv_vcpu_tid(const struct hv_vcpu *v);
void hv_vcpu_read_counters(const struct hv_vcpu *v, struct hv_counters *ret);
/* A human-readable dump of the general and system registers. */
int hv_vcpu_dump_regs(struct hv_vcpu *v, char *buf, size_t len);

#endif
