/* The supervisor: runs the VMs of a configuration, applies a new configuration (reload),
 * restarts crashed VMs with exponential backoff, carries out control actions. Every VM it
 * runs is sampled; a stopped or crashed VM stays sampled (its counters stay served) until it
 * is started again or removed from the configuration. Thread-safe. */
#ifndef VMSTATD_MANAGER_H
#define VMSTATD_MANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sampler.h"

struct vs_manager;

struct vs_manager_config {
        char worker_exe[512];  /* the vmstatd-vm program */
        char runtime_dir[256]; /* workers listen in <dir>/vms/ (created); "" = guests die with us */
        /* the caller calls vs_manager_child_exited() on every SIGCHLD: ticks then look for dead
         * workers only after one (otherwise one waitid over all children per tick) */
        bool sigchld;
};

/* Each VM runs in a worker process of its own (vmstatd-vm), read through shared memory. */
int vs_manager_new(const struct vs_manager_config *cfg, struct vs_sampler *sampler, struct vs_manager **ret);
/* Takes over the workers an earlier daemon left running in the runtime directory (call before the
 * first apply, which then compares each with its configuration). Returns how many. */
int vs_manager_adopt(struct vs_manager *m);
/* Stops every VM and ends its worker (all asked at once, SIGKILL after 2 s); they stay sampled. */
void vs_manager_stop_all(struct vs_manager *m);
/* Stops and releases every VM. */
void vs_manager_free(struct vs_manager *m);

/* Makes the running set match conf: added VMs start (if autostart), removed VMs stop and go,
 * changed VMs restart, unchanged ones are not touched. Returns how many VMs failed to start
 * (each logged); never fails as a whole. */
int vs_manager_apply(struct vs_manager *m, const struct vs_conf *conf);

/* verb: start, stop, pause, resume. -ENOENT no such VM, -EALREADY / -EBUSY wrong state,
 * -EINVAL unknown verb; msg says what happened or why not. */
int vs_manager_action(void *m, const char *vm, const char *verb, char *msg, size_t msg_len);

/* Called every sample: restarts crashed VMs (and relaunches that failed) whose backoff has
 * passed, then copies console output to log files. */
void vs_manager_tick(struct vs_manager *m);
/* A SIGCHLD came (async-signal-safe: sets a flag the next tick reads). */
void vs_manager_child_exited(struct vs_manager *m);
/* Marks the VMs whose workers died crashed(worker_died), now (the event loop calls it on
 * SIGCHLD; the ticks do it too). */
void vs_manager_reap(struct vs_manager *m);
/* Whether any VM's console goes to a log file: then the console tick must run every 100 ms. */
bool vs_manager_console_logs(struct vs_manager *m);
/* Whether it watches workers adopted from an earlier daemon: not its children, so no SIGCHLD
 * tells of their end, only a look at their pidfds (every tick). */
bool vs_manager_watches_adopted(struct vs_manager *m);
/* Called often (every 100 ms): copies what the guests wrote to their consoles to the log files,
 * at most what each ring held when it began and at most 1 MiB in all, round-robin over VMs. */
void vs_manager_console_tick(struct vs_manager *m);
/* The VM now running under name (valid until the next apply, action or tick), NULL if none. */
struct hv_vm *vs_manager_vm(struct vs_manager *m, const char *name);

/* The control/HTTP layer's console source: bytes copied, -ENOENT for no such VM. */
long vs_manager_console_tail(void *m, const char *vm, char *buf, size_t max);

struct vs_manager_counts {
        unsigned vms, running, paused, stopped, crashed, vcpus;
};
void vs_manager_counts(struct vs_manager *m, struct vs_manager_counts *ret);

#endif
