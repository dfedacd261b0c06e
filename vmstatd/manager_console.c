/* The supervisor's console logs: what each guest writes to its console ring is copied to a log
 * file, a bounded amount per tick, round-robin over the VMs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "console_log.h"
#include "devices/devices.h"
#include "log.h"
#include "manager_priv.h"
#include "vm.h"

/* Console bytes copied to log files per console tick, all VMs together: a flooding guest costs
 * the main loop a bounded time, and round-robin keeps the others' logs going meanwhile. */
#define CONSOLE_TICK_BUDGET (1u << 20)

/* What the daemon keeps in a VM's shared memory (its watcher page): where its console log
 * stands, so that the next daemon goes on from there instead of copying the ring again. */
struct kept {
        uint64_t console_pos, console_dropped;
};

static struct kept *kept(struct entry *e) {
        return hv_vm_watch_state(e->vm);
}

static uint64_t console_copy(struct vs_manager *m, struct entry *e, uint64_t budget) {
        if (!e->log || !e->vm || !e->vm->console)
                return 0;
        uint64_t dropped = vs_console_log_dropped(e->log);
        uint64_t n = vs_console_log_copy(e->log, e->vm->console, budget, hv_now_ns(), vs_sampler_interval_ns(m->sampler));
        *kept(e) = (struct kept) { vs_console_log_pos(e->log), vs_console_log_dropped(e->log) };
        if (vs_console_log_dropped(e->log) != dropped)
                mgr_publish(m, e);
        return n;
}

void mgr_console_flush(struct vs_manager *m, struct entry *e) {
        console_copy(m, e, UINT64_MAX);
}

void mgr_console_restart(struct entry *e) {
        if (e->log)
                vs_console_log_reset(e->log);
        *kept(e) = (struct kept) { 0 };
}

static void console_log_path(const struct vs_manager *m, const struct entry *e, char *path, size_t size) {
        if (e->conf.console_log[0])
                snprintf(path, size, "%s", e->conf.console_log);
        else if (m->console_dir[0])
                snprintf(path, size, "%s/%s.log", m->console_dir, e->conf.name);
        else
                path[0] = 0;
}

void mgr_console_log_update(struct vs_manager *m, struct entry *e) {
        char path[sizeof(e->log_path)], why[256];
        console_log_path(m, e, path, sizeof(path));
        if (e->log && strcmp(path, e->log_path) == 0) {
                vs_console_log_set_max(e->log, e->conf.console_log_max);
                return;
        }
        m->n_logs -= e->log != NULL;
        vs_console_log_close(e->log);
        e->log = NULL;
        snprintf(e->log_path, sizeof(e->log_path), "%s", path);
        if (path[0] && vs_console_log_open(e->conf.name, path, e->conf.console_log_max, &e->log, why) < 0)
                vs_log_vm(LOG_WARNING, e->conf.name, "%s: the console is not logged", why);
        else if (e->log && e->vm) /* an adopted VM: on from where the last daemon stood */
                vs_console_log_resume(e->log, kept(e)->console_pos, kept(e)->console_dropped);
        m->n_logs += e->log != NULL;
}

bool vs_manager_console_logs(struct vs_manager *m) {
        pthread_mutex_lock(&m->lock);
        bool any = m->n_logs > 0;
        pthread_mutex_unlock(&m->lock);
        return any;
}

bool vs_manager_watches_adopted(struct vs_manager *m) {
        pthread_mutex_lock(&m->lock);
        bool any = m->foreign;
        pthread_mutex_unlock(&m->lock);
        return any;
}

void vs_manager_console_tick(struct vs_manager *m) {
        uint64_t budget = CONSOLE_TICK_BUDGET;
        pthread_mutex_lock(&m->lock);
        mgr_reap_all(m); /* a dead worker is noticed within a tick */
        for (size_t k = 0; m->n_logs && k < m->n && budget > 0; k++) { /* 256 VMs, no log: no walk */
                size_t i = (m->console_next + k) % m->n;
                budget -= console_copy(m, m->e[i], budget);
        }
        if (m->n)
                m->console_next = (m->console_next + 1) % m->n;
        pthread_mutex_unlock(&m->lock);
}

long vs_manager_console_tail(void *manager, const char *vm, char *buf, size_t max) {
        struct vs_manager *m = manager;
        long n = -ENOENT;
        pthread_mutex_lock(&m->lock);
        struct entry *e = mgr_find(m, vm);
        if (e)
                n = e->vm ? (long) hv_console_tail(e->vm->console, buf, max) : 0;
        pthread_mutex_unlock(&m->lock);
        return n;
}
