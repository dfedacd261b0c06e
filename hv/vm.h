/* A VM: guest RAM, in-kernel irqchip and PIT, PIO and MMIO buses, vCPUs, lifecycle.
 *
 * Lifecycle: created -> running -> paused <-> running -> stopped | crashed. One thread (the
 * controller) calls start/pause/resume/stop/wait/destroy; any thread may read state, outcome,
 * counters and runstate inputs at any time.
 *
 * Everything readers need lives in one memfd (shm.h). Another process maps it as a view
 * (hv_vm_attach): the same reader functions work on it, without syscalls per counter. */
#ifndef HV_VM_H
#define HV_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus.h"

struct hv_kvm;
struct hv_vcpu;
struct hv_console;
struct hv_shm;
struct hv_shm_watch;

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
        HV_REASON_WORKER_DIED,    /* crashed: the process running it died; detail = signal, 0 if unknown */
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
        uint64_t cpus_mask;   /* host CPUs the vCPU threads run on (each sets its own), 0 = any */
        uint64_t id;          /* stored for watchers (hv_shm.id) */
        unsigned restarts;    /* likewise */
        const char *spec;     /* likewise, NULL for none */
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
        uint64_t cpus_mask;

        struct hv_shm *sh;            /* state, outcome, counters, console: the shared memfd */
        struct hv_shm_watch *watch;   /* its watcher's page */
        int sh_fd;
        size_t sh_len;
        bool view;                    /* a read-only view of a VM run by another process */
        _Atomic int dead_signal;      /* view: -1 while the owner lives, then its signal (0 unknown) */

        _Atomic int request; /* enum hv_request, read by vCPU threads each loop */
        pthread_mutex_t lock; /* control path only: outcome, parked, cond */
        pthread_cond_t cond;
        unsigned active;  /* vCPU threads running their loop */
        unsigned parked;  /* of which parked by a pause request */
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

/* The memfd holding the VM's shared state (to pass to a watcher); the VM keeps it. */
int hv_vm_shm_fd(const struct hv_vm *vm);
/* A read-only view of the VM whose shared memfd is fd (the view dups it). stats_fds: the VM's
 * and then each vCPU's KVM stats fd (taken over, -1 for none), n_stats of them. -EPROTO for a
 * layout this build does not know, -EBADMSG for a malformed one. */
int hv_vm_attach(int fd, int *stats_fds, unsigned n_stats, struct hv_vm **ret);
/* View: its owner process died (of signal sig, 0 if unknown). A VM not yet stopped or crashed
 * reads as crashed(worker_died) from now on, its vCPUs offline, its last counters kept. */
void hv_vm_mark_dead(struct hv_vm *vm, int sig);
/* The watcher's own bytes in the VM's shared memory (sizeof hv_shm_watch.opaque): what it keeps
 * there outlives it, for the next watcher. */
void *hv_vm_watch_state(struct hv_vm *vm);
/* The process running the VM's vCPU threads. */
pid_t hv_vm_pid(const struct hv_vm *vm);
uint64_t hv_vm_started_realtime_ns(const struct hv_vm *vm);
/* Guest RAM resident in host memory: counted here (mincore) or, for a view, as last published. */
int hv_vm_resident_bytes(struct hv_vm *vm, uint64_t *ret);

/* Publishing what only the owner process can read (vCPU CPU clocks, resident RAM). A watcher
 * asks for every VM it samples first, then waits for each: owners publish in parallel. */
void hv_vm_publish_request(struct hv_vm *vm);
/* 0 once the owner published since the request, -ETIMEDOUT (last values stay) otherwise. */
int hv_vm_publish_wait(struct hv_vm *vm, uint64_t timeout_ns);
/* Owner: publishes now. */
void hv_vm_publish(struct hv_vm *vm);
/* Owner: serves requests forever (a thread of its own). */
void hv_vm_publish_serve(struct hv_vm *vm);

/* For devices and the exit loop: end the VM (first caller wins) and kick every vCPU. */
void hv_vm_finish(struct hv_vm *vm, enum hv_vm_state state, enum hv_vm_reason reason, int64_t exit_code,
                  uint64_t detail, struct hv_vcpu *by);

#endif
