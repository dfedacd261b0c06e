/* The supervisor of the configured VMs. */
#define _GNU_SOURCE
#include "manager.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console_log.h"
#include "devices/devices.h"
#include "guests/params.h"
#include "kvm.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"

#define BACKOFF_FIRST_NS 1000000000ull
#define BACKOFF_MAX_NS (60 * 1000000000ull)
#define STABLE_NS (60 * 1000000000ull)      /* a VM that ran this long resets its backoff */
/* Console bytes copied to log files per console tick, all VMs together: a flooding guest costs
 * the main loop a bounded time, and round-robin keeps the others' logs going meanwhile. */
#define CONSOLE_TICK_BUDGET (1u << 20)

struct entry {
        struct vs_vm_conf conf;
        struct hv_vm *vm;          /* NULL when it never started (autostart=no) or could not be created */
        unsigned restarts;
        uint64_t started_ns;
        uint64_t backoff_ns;       /* delay before the next automatic restart */
        uint64_t restart_at_ns;    /* 0 = none scheduled */
        bool create_failed;        /* the last launch could not even create the VM (see why) */
        char why[HV_WHY_LEN + 32]; /* why the last launch failed, "" when it did not */
        struct vs_console_log *log;
        char log_path[800];        /* the log's path, "" = none */
};

struct vs_manager {
        struct hv_kvm *kvm;
        struct vs_sampler *sampler;
        pthread_mutex_t lock;
        struct entry **e;
        size_t n;
        size_t console_next;   /* round-robin start of the next console tick */
        char console_dir[256]; /* VMs without console_log write <dir>/<name>.log */
};

static struct entry *find(struct vs_manager *m, const char *name) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->e[i]->conf.name, name) == 0)
                        return m->e[i];
        return NULL;
}

/* ---- console logs ------------------------------------------------------------------------------------ */

static void publish(struct vs_manager *m, struct entry *e) {
        if (!e->vm)
                return;
        struct vs_vm_supervision sv = { .restarts = e->restarts,
                                        .console_dropped_bytes = e->log ? vs_console_log_dropped(e->log) : 0 };
        vs_sampler_set_supervision(m->sampler, e->vm, &sv);
}

static uint64_t console_copy(struct vs_manager *m, struct entry *e, uint64_t budget) {
        if (!e->log || !e->vm || !e->vm->console)
                return 0;
        uint64_t dropped = vs_console_log_dropped(e->log);
        uint64_t n = vs_console_log_copy(e->log, e->vm->console, budget, hv_now_ns(), vs_sampler_interval_ns(m->sampler));
        if (vs_console_log_dropped(e->log) != dropped)
                publish(m, e);
        return n;
}

/* The last bytes of a VM that stops, crashes or goes reach its log: call once its vCPUs are joined. */
static void console_flush(struct vs_manager *m, struct entry *e) {
        console_copy(m, e, UINT64_MAX);
}

static void console_log_path(const struct vs_manager *m, const struct entry *e, char *path, size_t size) {
        if (e->conf.console_log[0])
                snprintf(path, size, "%s", e->conf.console_log);
        else if (m->console_dir[0])
                snprintf(path, size, "%s/%s.log", m->console_dir, e->conf.name);
        else
                path[0] = 0;
}

/* Opens the log this entry's configuration names, closing one it no longer names. */
static void console_log_update(struct vs_manager *m, struct entry *e) {
        char path[sizeof(e->log_path)], why[256];
        console_log_path(m, e, path, sizeof(path));
        if (e->log && strcmp(path, e->log_path) == 0) {
                vs_console_log_set_max(e->log, e->conf.console_log_max);
                return;
        }
        vs_console_log_close(e->log);
        e->log = NULL;
        snprintf(e->log_path, sizeof(e->log_path), "%s", path);
        if (path[0] && vs_console_log_open(e->conf.name, path, e->conf.console_log_max, &e->log, why) < 0)
                vs_log_vm(LOG_WARNING, e->conf.name, "%s: the console is not logged", why);
}

/* ---- VMs --------------------------------------------------------------------------------------------- */

static void pin(struct entry *e) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (unsigned cpu = 0; cpu < 64; cpu++)
                if (e->conf.cpus_mask >> cpu & 1)
                        CPU_SET(cpu, &set);
        for (unsigned i = 0; i < e->vm->n_vcpus; i++) {
                pid_t tid = 0;
                for (int tries = 0; tries < 200 && !(tid = hv_vcpu_tid(e->vm->vcpus[i])); tries++)
                        usleep(500); /* the thread publishes its id as it starts */
                if (tid && sched_setaffinity(tid, sizeof(set), &set) < 0)
                        vs_log_vm(LOG_WARNING, e->conf.name, "vCPU %u: pinning to cpus: %s", i, strerror(errno));
        }
}

/* Loads the configured guest into a created VM; why says what failed. */
static int boot(struct hv_vm *vm, const struct vs_vm_conf *c, char *why, size_t len) {
        char detail[HV_WHY_LEN] = "";
        int r;
        if (c->kernel[0]) {
                struct hv_linux l = { .kernel = c->kernel, .initrd = c->initrd[0] ? c->initrd : NULL,
                                      .cmdline = c->cmdline[0] ? c->cmdline : NULL, .cpuid_hide = c->cpuid_hide };
                if ((r = hv_boot_linux(vm, &l, detail)) < 0)
                        snprintf(why, len, "loading kernel: %s", detail[0] ? detail : strerror(-r));
                return r;
        }
        if (!c->image[0]) {
                if ((r = hv_boot_builtin(vm, &c->builtin)) < 0)
                        snprintf(why, len, "loading guest %.200s: %s", c->guest,
                                 r == -ENOENT ? "no such entry in the image" : strerror(-r));
                return r;
        }
        struct hv_guest_params p;
        if ((r = hv_builtin_params(&c->builtin, &p)) < 0 || (r = hv_boot_flat_file(vm, c->image, c->image_entry, &p, detail)) < 0)
                snprintf(why, len, "loading guest %s", detail[0] ? detail : strerror(-r));
        return r;
}

/* The entry's VM stops (if it runs), its last console bytes reach the log, and it goes. */
static void retire(struct vs_manager *m, struct entry *e) {
        if (!e->vm)
                return;
        hv_vm_stop(e->vm);
        console_flush(m, e);
        vs_sampler_remove_vm(m->sampler, e->vm);
        hv_vm_destroy(e->vm);
        e->vm = NULL;
}

/* vm takes the place of the entry's VM: a fresh id, counters and start time. */
static int replace(struct vs_manager *m, struct entry *e, struct hv_vm *vm) {
        retire(m, e);
        int r = vs_sampler_add_vm(m->sampler, vm);
        if (r < 0) {
                snprintf(e->why, sizeof(e->why), "sampling it: %s", strerror(-r));
                hv_vm_destroy(vm);
                e->create_failed = true; /* nothing is listed: retried like a VM that could not be created */
                return r;
        }
        e->vm = vm;
        e->started_ns = hv_now_ns();
        e->restart_at_ns = 0;
        if (e->log)
                vs_console_log_reset(e->log);
        publish(m, e);
        return 0;
}

/* A fresh VM for e. The one it replaces (a crashed or stopped VM) stays served until the new
 * one exists. One that cannot be created leaves nothing new: e->create_failed. One that cannot
 * be loaded or started stays listed as crashed (load_error, or kvm_run_error with the errno)
 * with its counters; restart = on-crash retries both with backoff. e->why says what failed. */
static int launch(struct vs_manager *m, struct entry *e) {
        struct hv_vm_config vc = { .name = e->conf.name, .vcpus = e->conf.vcpus, .ram_bytes = e->conf.memory };
        struct hv_vm *vm;
        e->why[0] = 0;
        e->create_failed = false;
        console_log_update(m, e);
        int r = hv_vm_create(m->kvm, &vc, &vm);
        if (r < 0) {
                snprintf(e->why, sizeof(e->why), "creating the VM (%u vCPUs, %llu MiB): %s", e->conf.vcpus,
                         (unsigned long long) (e->conf.memory >> 20), strerror(-r));
                e->create_failed = true;
                e->restart_at_ns = 0;
                vs_log_vm(LOG_ERR, e->conf.name, "%s", e->why);
                return r;
        }
        int load = boot(vm, &e->conf, e->why, sizeof(e->why));
        if (load < 0)
                hv_vm_fail_load(vm, load); /* listed as crashed(load_error), never started */
        if ((r = replace(m, e, vm)) < 0) {
                vs_log_vm(LOG_ERR, e->conf.name, "%s", e->why);
                return r;
        }
        if (load < 0) {
                vs_log_vm(LOG_ERR, e->conf.name, "%s", e->why);
                return load;
        }
        if ((r = hv_vm_start(vm)) < 0) { /* it is crashed(kvm_run_error) now */
                snprintf(e->why, sizeof(e->why), "starting vCPU threads: %s", strerror(-r));
                vs_log_vm(LOG_ERR, e->conf.name, "%s", e->why);
                return r;
        }
        if (e->conf.cpus_mask)
                pin(e);
        vs_log_vm(LOG_INFO, e->conf.name, "started: %u vCPUs, %llu MiB, %s", e->conf.vcpus,
                  (unsigned long long) (e->conf.memory >> 20), e->conf.guest);
        return 0;
}

static void entry_free(struct vs_manager *m, struct entry *e) {
        retire(m, e);
        vs_console_log_close(e->log);
        free(e);
}

static struct entry *entry_new(const struct vs_vm_conf *c) {
        struct entry *e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->conf = *c;
        e->conf.builtin.guest = e->conf.builtin_name; /* point into our own copy */
        e->backoff_ns = BACKOFF_FIRST_NS;
        return e;
}

int vs_manager_new(struct hv_kvm *kvm, struct vs_sampler *sampler, struct vs_manager **ret) {
        struct vs_manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->kvm = kvm;
        m->sampler = sampler;
        pthread_mutex_init(&m->lock, NULL);
        *ret = m;
        return 0;
}

void vs_manager_stop_all(struct vs_manager *m) {
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) /* kick every VM first, so they stop in parallel */
                if (m->e[i]->vm)
                        hv_vm_finish(m->e[i]->vm, HV_VM_STOPPED, HV_REASON_REQUESTED, 0, 0, NULL);
        for (size_t i = 0; i < m->n; i++)
                if (m->e[i]->vm) {
                        hv_vm_stop(m->e[i]->vm);
                        console_flush(m, m->e[i]);
                }
        pthread_mutex_unlock(&m->lock);
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

/* Settings that apply to a running VM without restarting it. */
static void update_live(struct vs_manager *m, struct entry *e, const struct vs_vm_conf *c) {
        e->conf.console_log_max = c->console_log_max;
        console_log_update(m, e);
}

int vs_manager_apply(struct vs_manager *m, const struct vs_conf *conf) {
        int failed = 0;
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
                struct entry *e = find(m, c->name);
                if (e && vs_vm_conf_equal(&e->conf, c)) {
                        update_live(m, e, c); /* otherwise untouched */
                        continue;
                }
                if (e) {
                        vs_log_vm(LOG_INFO, c->name, "configuration changed: restarting");
                        retire(m, e);
                        e->conf = *c;
                        e->conf.builtin.guest = e->conf.builtin_name;
                        e->restarts = 0;
                        e->backoff_ns = BACKOFF_FIRST_NS;
                        e->restart_at_ns = 0;
                        e->create_failed = false;
                } else {
                        struct entry **grown = realloc(m->e, (m->n + 1) * sizeof(*grown));
                        if (!grown || !(e = entry_new(c))) {
                                if (grown)
                                        m->e = grown;
                                failed++;
                                continue;
                        }
                        m->e = grown;
                        m->e[m->n++] = e;
                }
                if (c->autostart && launch(m, e) < 0)
                        failed++;
        }
        pthread_mutex_unlock(&m->lock);
        return failed;
}

static int act(struct vs_manager *m, struct entry *e, const char *verb, char *msg, size_t len) {
        enum hv_vm_state st = e->vm ? hv_vm_state(e->vm) : HV_VM_STOPPED;
        int r;
        if (strcmp(verb, "start") == 0) {
                if (st == HV_VM_RUNNING || st == HV_VM_PAUSED) {
                        snprintf(msg, len, "%s is %s already", e->conf.name, hv_vm_state_name(st));
                        return -EALREADY;
                }
                e->backoff_ns = BACKOFF_FIRST_NS;
                r = launch(m, e); /* a fresh VM: new counters, new start time */
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
                hv_vm_stop(e->vm); /* stays sampled: its counters stay served */
                console_flush(m, e);
                e->restart_at_ns = 0;
                snprintf(msg, len, "%s is stopped", e->conf.name);
                return 0;
        }
        if (strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0) {
                bool pause = verb[0] == 'p';
                r = !e->vm ? -EBUSY : pause ? hv_vm_pause(e->vm) : hv_vm_resume(e->vm);
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
        struct entry *e = find(m, vm);
        int r = e ? act(m, e, verb, msg, msg_len) : -ENOENT;
        if (!e)
                snprintf(msg, msg_len, "no such VM: %s", vm);
        pthread_mutex_unlock(&m->lock);
        if (e)
                vs_log_vm(r < 0 ? LOG_WARNING : LOG_INFO, vm, "control: %s: %s", verb, msg);
        return r;
}

/* ---- supervision -------------------------------------------------------------------------------------- */

/* A crashed VM, or one whose last launch could not create it, with restart = on-crash. */
static bool wants_restart(const struct entry *e) {
        if (e->conf.restart != VS_RESTART_ON_CRASH)
                return false;
        return e->create_failed || (e->vm && hv_vm_state(e->vm) == HV_VM_CRASHED);
}

static void schedule_restart(struct entry *e, uint64_t now) {
        struct hv_vm_outcome o = { 0 };
        if (!e->create_failed && now - e->started_ns >= STABLE_NS)
                e->backoff_ns = BACKOFF_FIRST_NS;
        e->restart_at_ns = now + e->backoff_ns;
        double in = (double) e->backoff_ns / 1e9;
        if (e->vm && !e->create_failed)
                hv_vm_get_outcome(e->vm, &o);
        if (e->create_failed)
                vs_log_vm(LOG_ERR, e->conf.name, "could not be started (%s); retrying in %.0f s", e->why, in);
        else if (o.reason == HV_REASON_LOAD_ERROR)
                vs_log_vm(LOG_ERR, e->conf.name, "could not be loaded (%s); retrying in %.0f s", e->why, in);
        else
                vs_log_vm(LOG_ERR, e->conf.name, "crashed (%s, detail %llu) on vCPU %d; restarting in %.0f s\n%s",
                          hv_vm_reason_name(o.reason), (unsigned long long) o.detail, o.vcpu, in, o.regs);
}

/* Crashed VMs come back after 1, 2, 4 ... 60 s; so do relaunches that fail, whatever failed. */
static void supervise(struct vs_manager *m, struct entry *e, uint64_t now) {
        if (!wants_restart(e))
                return;
        if (!e->restart_at_ns) {
                schedule_restart(e, now);
                return;
        }
        if (now < e->restart_at_ns)
                return;
        e->backoff_ns = e->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : e->backoff_ns * 2;
        e->restarts++;
        publish(m, e); /* a VM that could not be replaced still shows the attempt */
        if (launch(m, e) < 0)
                e->restart_at_ns = 0; /* scheduled again, with the longer backoff, by the next tick */
}

void vs_manager_tick(struct vs_manager *m) {
        uint64_t now = hv_now_ns();
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++)
                supervise(m, m->e[i], now);
        pthread_mutex_unlock(&m->lock);
        vs_manager_console_tick(m);
}

void vs_manager_console_tick(struct vs_manager *m) {
        uint64_t budget = CONSOLE_TICK_BUDGET;
        pthread_mutex_lock(&m->lock);
        for (size_t k = 0; k < m->n && budget > 0; k++) {
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
        struct entry *e = find(m, vm);
        if (e)
                n = e->vm ? (long) hv_console_tail(e->vm->console, buf, max) : 0;
        pthread_mutex_unlock(&m->lock);
        return n;
}

struct hv_vm *vs_manager_vm(struct vs_manager *m, const char *name) {
        pthread_mutex_lock(&m->lock);
        struct entry *e = find(m, name);
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
