/* The supervisor of the configured VMs: its entries, a configuration applied (reload), control
 * actions and what the rest of the daemon asks of it. Workers are launched and adopted in
 * manager_launch.c, supervised in manager_supervise.c, their consoles logged in
 * manager_console.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "console_log.h"
#include "log.h"
#include "manager_priv.h"
#include "vm.h"

struct entry *mgr_find(struct vs_manager *m, const char *name) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->e[i]->conf.name, name) == 0)
                        return m->e[i];
        return NULL;
}

bool mgr_reserve(struct vs_manager *m) {
        struct entry **grown = realloc(m->e, (m->n + 1) * sizeof(*grown));
        if (!grown)
                return false;
        m->e = grown;
        return true;
}

void mgr_publish(struct vs_manager *m, struct entry *e) {
        if (!e->vm)
                return;
        struct vs_vm_supervision sv = { .restarts = e->restarts,
                                        .console_dropped_bytes = e->log ? vs_console_log_dropped(e->log) : 0 };
        vs_sampler_set_supervision(m->sampler, e->vm, &sv);
}

/* ---- entries ------------------------------------------------------------------------------------------- */

static struct entry *entry_new(const struct vs_vm_conf *c) {
        struct entry *e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->conf = *c;
        e->backoff_ns = BACKOFF_FIRST_NS;
        return e;
}

static void entry_free(struct vs_manager *m, struct entry *e) {
        mgr_retire(m, e);
        m->n_logs -= e->log != NULL;
        vs_console_log_close(e->log);
        free(e);
}

int vs_manager_new(const struct vs_manager_config *cfg, struct vs_sampler *sampler, struct vs_manager **ret) {
        struct vs_manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->cfg = *cfg;
        m->sampler = sampler;
        atomic_init(&m->child_exited, true); /* children may have ended before we looked (an exec) */
        if (cfg->runtime_dir[0]) {
                snprintf(m->vms_dir, sizeof(m->vms_dir), "%s/vms", cfg->runtime_dir);
                if (mkdir(m->vms_dir, 0750) < 0 && errno != EEXIST) {
                        vs_log(LOG_WARNING, "%s: %s: guests will not outlive this daemon (no new daemon can find them)",
                               m->vms_dir, strerror(errno));
                        m->vms_dir[0] = 0;
                }
        }
        pthread_mutex_init(&m->lock, NULL);
        *ret = m;
        return 0;
}

void vs_manager_free(struct vs_manager *m) {
        if (!m)
                return;
        vs_manager_stop_all(m);
        for (size_t i = 0; i < m->n; i++)
                entry_free(m, m->e[i]);
        free(m->e);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

/* ---- apply --------------------------------------------------------------------------------------------- */

/* Settings that apply to a running VM without restarting it. */
static void update_live(struct vs_manager *m, struct entry *e, const struct vs_vm_conf *c) {
        e->conf.console_log_max = c->console_log_max;
        mgr_console_log_update(m, e);
}

int vs_manager_apply(struct vs_manager *m, const struct vs_conf *conf) {
        int failed = 0;
        struct launching *todo = calloc(conf->n_vms ? conf->n_vms : 1, sizeof(*todo)); /* NULL: one by one */
        size_t n_todo = 0;
        pthread_mutex_lock(&m->lock);
        snprintf(m->console_dir, sizeof(m->console_dir), "%s", conf->console_dir);
        for (size_t i = 0; i < m->n;) { /* removed VMs go */
                if (vs_conf_find_vm(conf, m->e[i]->conf.name)) {
                        i++;
                        continue;
                }
                vs_log_vm(LOG_INFO, m->e[i]->conf.name, "removed from the configuration: stopping");
                entry_free(m, m->e[i]);
                memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
                m->n--;
        }
        for (size_t i = 0; i < conf->n_vms; i++) {
                const struct vs_vm_conf *c = &conf->vms[i];
                struct entry *e = mgr_find(m, c->name);
                if (e && e->adopted && mgr_adopted_matches(m, e, c)) {
                        e->adopted = false;
                        e->conf = *c;
                        update_live(m, e, c);
                        continue;
                }
                if (e && !e->adopted && vs_vm_conf_equal(&e->conf, c)) {
                        update_live(m, e, c); /* otherwise untouched */
                        continue;
                }
                if (e) {
                        vs_log_vm(LOG_INFO, c->name, "configuration changed%s: restarting",
                                  e->adopted ? " while no vmstatd ran" : "");
                        e->adopted = false;
                        mgr_retire(m, e);
                        e->conf = *c;
                        e->restarts = 0;
                        e->backoff_ns = BACKOFF_FIRST_NS;
                        e->restart_at_ns = 0;
                        e->create_failed = false;
                } else {
                        if (!mgr_reserve(m) || !(e = entry_new(c))) {
                                failed++;
                                continue;
                        }
                        m->e[m->n++] = e;
                }
                if (c->autostart && todo)
                        todo[n_todo++].e = e;
                else if (c->autostart && mgr_launch(m, e) < 0)
                        failed++;
        }
        failed += mgr_launch_all(m, todo, n_todo);
        pthread_mutex_unlock(&m->lock);
        free(todo);
        return failed;
}

/* ---- actions ------------------------------------------------------------------------------------------- */

static int act(struct vs_manager *m, struct entry *e, const char *verb, char *msg, size_t len) {
        enum hv_vm_state st = e->vm ? hv_vm_state(e->vm) : HV_VM_STOPPED;
        int r;
        if (strcmp(verb, "start") == 0) {
                if (st == HV_VM_RUNNING || st == HV_VM_PAUSED) {
                        snprintf(msg, len, "%s is %s already", e->conf.name, hv_vm_state_name(st));
                        return -EALREADY;
                }
                e->backoff_ns = BACKOFF_FIRST_NS;
                r = mgr_launch(m, e); /* a fresh VM: new counters, new start time */
                if (r < 0)
                        snprintf(msg, len, "starting %s failed: %s", e->conf.name, e->why);
                else
                        snprintf(msg, len, "%s is running (fresh counters)", e->conf.name);
                return r;
        }
        if (strcmp(verb, "stop") == 0) {
                if (!e->vm || st == HV_VM_STOPPED || st == HV_VM_CRASHED) {
                        snprintf(msg, len, "%s is not running", e->conf.name);
                        return -EALREADY;
                }
                char why[WK_MSG_LEN];
                /* the worker stays, holding the stopped VM's counters: they stay served */
                if ((r = vs_worker_call(e->w, WK_STOP, CALL_TIMEOUT_MS, why, sizeof(why))) < 0) {
                        snprintf(msg, len, "stopping %s failed: %s", e->conf.name, why);
                        return r;
                }
                mgr_console_flush(m, e);
                e->restart_at_ns = 0;
                snprintf(msg, len, "%s is stopped", e->conf.name);
                return 0;
        }
        if (strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0) {
                bool pause = verb[0] == 'p';
                char why[WK_MSG_LEN];
                r = !e->w || e->dead ? -EBUSY : vs_worker_call(e->w, pause ? WK_PAUSE : WK_RESUME, CALL_TIMEOUT_MS, why, sizeof(why));
                if (r == -EBUSY)
                        snprintf(msg, len, "%s is %s: cannot %s", e->conf.name, hv_vm_state_name(st), verb);
                else if (r < 0)
                        snprintf(msg, len, "%s %s failed: %s", verb, e->conf.name, strerror(-r));
                else
                        snprintf(msg, len, "%s is %s", e->conf.name, pause ? "paused" : "running");
                return r;
        }
        snprintf(msg, len, "unknown action '%s' (start, stop, pause, resume)", verb);
        return -EINVAL;
}

int vs_manager_action(void *manager, const char *vm, const char *verb, char *msg, size_t msg_len) {
        struct vs_manager *m = manager;
        pthread_mutex_lock(&m->lock);
        struct entry *e = mgr_find(m, vm);
        int r = e ? act(m, e, verb, msg, msg_len) : -ENOENT;
        if (!e)
                snprintf(msg, msg_len, "no such VM: %s", vm);
        pthread_mutex_unlock(&m->lock);
        if (e)
                vs_log_vm(r < 0 ? LOG_WARNING : LOG_INFO, vm, "control: %s: %s", verb, msg);
        return r;
}

/* ---- queries ------------------------------------------------------------------------------------------- */

struct hv_vm *vs_manager_vm(struct vs_manager *m, const char *name) {
        pthread_mutex_lock(&m->lock);
        struct entry *e = mgr_find(m, name);
        struct hv_vm *vm = e ? e->vm : NULL;
        pthread_mutex_unlock(&m->lock);
        return vm;
}

void vs_manager_counts(struct vs_manager *m, struct vs_manager_counts *ret) {
        *ret = (struct vs_manager_counts) { 0 };
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) {
                struct entry *e = m->e[i];
                enum hv_vm_state st = e->vm ? hv_vm_state(e->vm) : e->create_failed ? HV_VM_CRASHED : HV_VM_STOPPED;
                ret->vms++;
                ret->vcpus += e->conf.vcpus;
                ret->running += st == HV_VM_RUNNING;
                ret->paused += st == HV_VM_PAUSED;
                ret->stopped += st == HV_VM_STOPPED || st == HV_VM_CREATED;
                ret->crashed += st == HV_VM_CRASHED;
        }
        pthread_mutex_unlock(&m->lock);
}
