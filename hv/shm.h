/* The state a VM shares with the process that watches it: one memfd the VM's owner (a worker)
 * writes and a watcher (the daemon) maps read-only, so counters are read without copies or
 * syscalls, and outlive a watcher that dies. Layout, from offset 0:
 *
 *   struct hv_shm             header: magic, layout version, VM state and outcome
 *   struct hv_shm_vcpu[n]     per vCPU: exit counters, runstate inputs, from a page boundary (a
 *                             watcher reads them every sample: 4 vCPUs' on one page, 2 pages a
 *                             VM with the header's first)
 *   struct hv_vcpu_hist[n]    per vCPU: the handling histogram by reason (read only when asked)
 *   uint32_t[console_size]    the console ring's slots (hv/devices/console.c)
 *   struct hv_shm_watch       one page the watcher writes (requests, its own lasting state)
 *
 * Every field has one writer. The owner writes the header and vCPU parts with relaxed or release
 * stores; the watcher writes only its page. A watcher that meets a magic or version it does not
 * know must leave the memfd (and its owner) alone. */
#ifndef HV_SHM_H
#define HV_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "runstate.h"

#define HV_SHM_MAGIC 0x314d48536d74734dull /* "MstmSHM1" in memory (little-endian) */
#define HV_SHM_VERSION 4 /* 2: exit handling by reason; 3: guest steal time; 4: histograms apart */
#define HV_SHM_REGS_LEN 1536
#define HV_SHM_SPEC_LEN 4096

/* What readers of a VM need about one vCPU. */
struct hv_shm_vcpu {
        struct hv_vcpu_counters c; /* the exit loop's counters: first, on their own lines */
        struct hv_offline offline; /* executor-known offline time */
        _Atomic int32_t tid;       /* 0 until the thread runs */
        _Atomic uint32_t exited;   /* the thread has left its loop; cpu_ns_final holds */
        _Atomic uint64_t cpu_ns_final;
        /* A thread's CPU clock can be read only inside its own process: on the watcher's
         * request (hv_vm_publish) the owner publishes one consistent reading here. */
        _Atomic uint32_t pub_seq; /* odd while being written */
        _Atomic uint32_t pub_exited;
        _Atomic int32_t pub_tid;
        _Atomic uint64_t pub_now_ns, pub_cpu_ns, pub_offline_ns;
        /* guest steal time: the last MSR_KVM_STEAL_TIME value the guest wrote (the vCPU thread)
         * and, published with the rest, what its record said (enum hv_steal, ns) */
        _Atomic uint64_t steal_msr;
        _Atomic uint32_t steal_written; /* the guest wrote the MSR at least once */
        _Atomic uint32_t pub_steal;
        _Atomic uint64_t pub_steal_ns;
} __attribute__((aligned(64)));

struct hv_shm {
        uint64_t magic;
        uint32_t version;
        uint32_t n_vcpus;
        uint64_t size;         /* the whole memfd, watch page included */
        uint64_t vcpu_off;     /* offset of hv_shm_vcpu[0] */
        uint64_t hist_off;     /* offset of hv_vcpu_hist[0] */
        uint64_t console_off;  /* offset of the console slots */
        uint64_t console_size; /* slots, a power of two */
        uint64_t watch_off;    /* offset of struct hv_shm_watch */
        char name[33];
        int32_t pid;           /* the owner's process */
        uint64_t ram_bytes;
        uint64_t created_ns;   /* CLOCK_MONOTONIC, the same clock in every process */
        uint64_t id;           /* the watcher's id of this VM, set by the owner from its arguments */
        uint32_t restarts;     /* likewise: how many automatic restarts came before this VM */

        /* what a watcher reads every sample, on the first page with the above */
        _Atomic uint64_t started_realtime_ns; /* CLOCK_REALTIME at start, 0 before */
        _Atomic int32_t state;                /* enum hv_vm_state */
        /* the outcome, written before state becomes final (release) and never again */
        int32_t reason, vcpu;
        int64_t exit_code;
        uint64_t detail;
        _Atomic uint64_t resident_bytes; /* guest RAM resident in host memory, as last published */
        _Atomic uint32_t pub_ack;        /* = watch->pub_req once a publish is complete (futex) */
        _Atomic uint64_t console_head;   /* the console ring's head */

        /* read once, or when the VM ended */
        char spec[HV_SHM_SPEC_LEN]; /* what the owner was asked to run, as the watcher described it */
        char regs[HV_SHM_REGS_LEN];
};

/* The watcher's page: the only part of the memfd the owner does not write. */
struct hv_shm_watch {
        _Atomic uint32_t pub_req; /* bumped by the watcher to ask for a publish (futex) */
        uint32_t reserved;
        /* the watcher's own state, kept with the VM so that a new watcher takes it over */
        uint8_t opaque[4096 - 8];
};

/* Bytes a memfd for n vCPUs and a console ring of console_size slots needs. */
struct hv_shm_layout {
        uint64_t vcpu_off, hist_off, console_off, watch_off;
};

size_t hv_shm_size(unsigned n_vcpus, size_t console_size, struct hv_shm_layout *ret);
/* Checks a mapped header against its memfd's size: -EPROTO for a magic or version this build
 * does not know (leave it alone), -EBADMSG for inconsistent offsets. */
int hv_shm_check(const struct hv_shm *sh, uint64_t fd_size);

static inline struct hv_shm_vcpu *hv_shm_vcpu(struct hv_shm *sh, unsigned i) {
        return (struct hv_shm_vcpu *) ((uint8_t *) sh + sh->vcpu_off) + i;
}

static inline struct hv_vcpu_hist *hv_shm_hist(struct hv_shm *sh, unsigned i) {
        return (struct hv_vcpu_hist *) ((uint8_t *) sh + sh->hist_off) + i;
}

#endif
