/* A VM: guest RAM, in-kernel irqchip and PIT, PIO and MMIO buses, vCPUs, lifecycle.
 *
 * Lifecycle: created -> running -> paused <-> running -> stopped | crashed. One thread (the
 * controller) calls start/pause/resume/stop/wait/destroy; any thread may read state, outcome,
 * counters and runstate inputs at any time. */
#ifndef HV_VM_H
#define HV_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

struct hv_kvm;
struct hv_vcpu;
struct hv_console;

enum hv_vm_state {
        HV_VM_CREATED,
        HV_VM_RUNNING,
        HV_VM_PAUSED,
        HV_VM_STOPPED,
        HV_VM_CRASHED,
};

enum hv_vm_reason {
        HV_REASON_NONE,
        HV_REASON_EXIT_CODE,      /* stopped: the guest wrote the exit port */
        HV_REASON_REBOOT,         /* stopped: i8042 reset or a reset system event */
        HV_REASON_POWEROFF,       /* stopped: a shutdown system event */
        HV_REASON_REQUESTED,      /* stopped: hv_vm_stop() */
        HV_REASON_SHUTDOWN,       /* crashed: KVM_EXIT_SHUTDOWN (triple fault) */
        HV_REASON_FAIL_ENTRY,     /* crashed: detail = hardware entry failure reason */
        HV_REASON_INTERNAL_ERROR, /* crashed: detail = suberror */
        HV_REASON_GUEST_CRASH,    /* crashed: a crash system event */
        HV_REASON_UNKNOWN_EXIT,   /* crashed: detail = kvm_run exit_reason we do not handle */
        HV_REASON_KVM_RUN_ERROR,  /* crashed: detail = errno of KVM_RUN */
        HV_REASON_LOAD_ERROR,     /* crashed: the guest could not be loaded, never ran; detail = errno */
};

struct hv_vm_outcome {
        enum hv_vm_state state;
        enum hv_vm_reason reason;
        int64_t exit_code;  /* HV_REASON_EXIT_CODE */
        uint64_t detail;
        int vcpu;           /* the vCPU that ended the VM, -1 if none */
        char regs[1536];    /* register dump of that vCPU when it crashed */
};

struct hv_vm_config {
        const char *name;     /* [a-z0-9_-]{1,32} */
        unsigned vcpus;       /* 1..HV_MAX_VCPUS */
        uint64_t ram_bytes;   /* HV_MIN_RAM..3 GiB, page aligned */
        size_t console_bytes; /* console ring size, power of two; 0 = 64 KiB */
};

enum hv_request { HV_REQ_RUN, HV_REQ_PAUSE, HV_REQ_STOP };

struct hv_vm {
        struct hv_kvm *kvm;
        char name[33];
        int fd;
        int stats_fd;
        uint8_t *ram;
        uint64_t ram_bytes;
        unsigned n_vcpus;
        struct hv_vcpu **vcpus;
        struct hv_bus pio, mmio;
        struct hv_console *console;
        uint64_t created_ns;          /* CLOCK_MONOTONIC */
        uint64_t started_realtime_ns; /* CLOCK_REALTIME at start, 0 before */

        _Atomic int state;   /* enum hv_vm_state */
        _Atomic int request; /* enum hv_request, read by vCPU threads each loop */
        pthread_mutex_t lock; /* control path only: outcome, parked, cond */
        pthread_cond_t cond;
        unsigned active;  /* vCPU threads running their loop */
        unsigned parked;  /* of which parked by a pause request */
        struct hv_vm_outcome outcome;
};

int hv_vm_create(struct hv_kvm *kvm, const struct hv_vm_config *cfg, struct hv_vm **ret);
/* Stops the VM if needed, joins its threads, releases every fd and mapping. NULL is fine. */
void hv_vm_destroy(struct hv_vm *vm);

int hv_vm_start(struct hv_vm *vm);
/* Returns once every vCPU is parked (no more exits), -EBUSY if not running, -ETIMEDOUT. */
int hv_vm_pause(struct hv_vm *vm);
int hv_vm_resume(struct hv_vm *vm);
/* Requests a stop (outcome stopped/requested unless the VM already ended) and joins. */
int hv_vm_stop(struct hv_vm *vm);
/* Waits up to timeout_ms (-1 = forever) for the VM to stop or crash, then joins its
 * threads. 0 when ended, -ETIMEDOUT otherwise. */
int hv_vm_wait(struct hv_vm *vm, int timeout_ms);

enum hv_vm_state hv_vm_state(const struct hv_vm *vm);
void hv_vm_get_outcome(struct hv_vm *vm, struct hv_vm_outcome *ret);
const char *hv_vm_state_name(enum hv_vm_state s);
const char *hv_vm_reason_name(enum hv_vm_reason r);

/* Guest-physical to host pointer for [gpa, gpa+len) inside RAM, NULL otherwise. */
void *hv_vm_gpa(struct hv_vm *vm, uint64_t gpa, uint64_t len);

/* A created VM whose guest could not be loaded: crashed(load_error) with detail = -err, never
 * started, its RAM released. Keeps such a VM visible to samplers. No-op unless created. */
void hv_vm_fail_load(struct hv_vm *vm, int err);

/* For devices and the exit loop: end the VM (first caller wins) and kick every vCPU. */
void hv_vm_finish(struct hv_vm *vm, enum hv_vm_state state, enum hv_vm_reason reason, int64_t exit_code,
                  uint64_t detail, struct hv_vcpu *by);

#endif
