/* The supervisor's insides, shared by its files and nobody else:
 *   manager.c            entries, apply (reload), control actions, queries
 *   manager_launch.c     workers: their arguments, launch, replace, retire, stop, adoption
 *   manager_supervise.c  dead workers reaped, crashed VMs restarted with backoff
 *   manager_console.c    console rings copied to log files, the console tail
 * Every function here is called with m->lock held. */
#ifndef VMSTATD_MANAGER_PRIV_H
#define VMSTATD_MANAGER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "manager.h"
#include "workers.h"

#define BACKOFF_FIRST_NS 1000000000ull
/* A control request is quick (a pause waits at most 5 s for its vCPUs); a worker that does not
 * answer one for this long is taken for hung. */
#define CALL_TIMEOUT_MS 10000

struct vs_console_log;

struct entry {
        struct vs_vm_conf conf;
        struct vs_worker *w;       /* the process running the VM, NULL when none was started */
        struct hv_vm *vm;          /* = w->view; NULL when it never started (autostart=no) or could not be created */
        bool adopted;              /* taken over from an earlier daemon; conf not yet compared */
        bool dead;                 /* its worker died: crashed(worker_died) */
        unsigned restarts;
        uint64_t started_ns;
        uint64_t backoff_ns;       /* delay before the next automatic restart */
        uint64_t restart_at_ns;    /* 0 = none scheduled */
        bool create_failed;        /* the last launch could not even create the VM (see why) */
        char why[WK_MSG_LEN + 64]; /* why the last launch failed, "" when it did not */
        struct vs_console_log *log;
        char log_path[800];        /* the log's path, "" = none */
};

struct vs_manager {
        struct vs_manager_config cfg;
        char vms_dir[sizeof(((struct vs_manager_config *) 0)->runtime_dir) + 8]; /* "" = workers not adoptable */
        struct vs_sampler *sampler;
        pthread_mutex_t lock;
        struct entry **e;
        size_t n;
        size_t console_next;   /* round-robin start of the next console tick */
        char console_dir[256]; /* VMs without console_log write <dir>/<name>.log */
        atomic_bool child_exited; /* a SIGCHLD since the last look (cfg.sigchld) */
        bool foreign;          /* a worker adopted that is not our child (after a crash) */
        size_t n_logs;         /* entries with a console log open */
};

/* An entry to launch, and how its start went. */
struct launching {
        struct entry *e;
        struct vs_worker *w;
        int r;
        char why[sizeof(((struct entry *) 0)->why)];
};

/* manager.c */
struct entry *mgr_find(struct vs_manager *m, const char *name);
/* Room for one more entry in m->e; false when memory ran out. */
bool mgr_reserve(struct vs_manager *m);
/* The VM's supervision counters (restarts, console bytes dropped) reach the sampler. */
void mgr_publish(struct vs_manager *m, struct entry *e);

/* manager_launch.c */
/* A fresh VM for e, in a worker of its own; e->why says what failed (-errno). */
int mgr_launch(struct vs_manager *m, struct entry *e);
/* Launches every entry of todo at once; returns how many failed. */
int mgr_launch_all(struct vs_manager *m, struct launching *todo, size_t n);
/* The entry's VM stops (if it runs), its last console bytes reach the log, and it goes. */
void mgr_retire(struct vs_manager *m, struct entry *e);
/* Whether an adopted VM runs what c describes. */
bool mgr_adopted_matches(const struct vs_manager *m, const struct entry *e, const struct vs_vm_conf *c);

/* manager_supervise.c */
/* Marks the VMs whose workers may have died since the last look crashed(worker_died). */
void mgr_reap_all(struct vs_manager *m);

/* manager_console.c */
/* Opens the log the entry's configuration names, closing one it no longer names. */
void mgr_console_log_update(struct vs_manager *m, struct entry *e);
/* A new VM's console ring: copying starts at its first byte. */
void mgr_console_restart(struct entry *e);
/* The last bytes of a VM that stops, crashes or goes reach its log: call once its vCPUs are joined. */
void mgr_console_flush(struct vs_manager *m, struct entry *e);

#endif
