/* The supervisor of the configured VMs. */
#define _GNU_SOURCE
#include "manager.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "console_log.h"
#include "devices/devices.h"
#include "log.h"
#include "shm.h"
#include "vm.h"
#include "workers.h"

#define BACKOFF_FIRST_NS 1000000000ull
#define BACKOFF_MAX_NS (60 * 1000000000ull)
#define STABLE_NS (60 * 1000000000ull)      /* a VM that ran this long resets its backoff */
/* Console bytes copied to log files per console tick, all VMs together: a flooding guest costs
 * the main loop a bounded time, and round-robin keeps the others' logs going meanwhile. */
#define CONSOLE_TICK_BUDGET (1u << 20)
/* Creating a VM can take seconds on a loaded host; a worker that says nothing for this long is
 * taken for hung. Control requests are quick (a pause waits at most 5 s for its vCPUs). */
#define HELLO_TIMEOUT_MS 60000
#define CALL_TIMEOUT_MS 10000
#define QUIT_TIMEOUT_MS 2000

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

/* ---- VMs --------------------------------------------------------------------------------------------- */

/* ---- workers ------------------------------------------------------------------------------------ */

struct worker_args {
        char *argv[48];
        int n;
        char buf[8192];
        size_t used;
        char spec[HV_SHM_SPEC_LEN]; /* the arguments that define the VM: equal specs, equal VMs */
};

static void arg(struct worker_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct worker_args *a, const char *fmt, ...) {
        va_list ap;
        if (a->n >= (int) (sizeof(a->argv) / sizeof(a->argv[0])) - 1 || a->used >= sizeof(a->buf))
                return;
        va_start(ap, fmt);
        int n = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(a->buf) - a->used)
                return;
        a->argv[a->n++] = a->buf + a->used;
        a->used += (size_t) n + 1;
}

/* The worker's command line for c: first what defines the VM (its spec), then its identity. */
static void worker_args(const struct vs_manager *m, const struct vs_vm_conf *c, struct worker_args *a) {
        const struct hv_builtin *b = &c->builtin;
        *a = (struct worker_args) { .n = 0 };
        arg(a, "vmstatd-vm");
        int first = a->n; /* from here to the socket: the spec, as the worker rebuilds it */
        arg(a, "--name=%s", c->name);
        arg(a, "--vcpus=%u", c->vcpus);
        arg(a, "--memory=%llu", (unsigned long long) c->memory);
        if (c->cpus_mask)
                arg(a, "--cpus=0x%llx", (unsigned long long) c->cpus_mask);
        if (c->kernel[0]) {
                arg(a, "--kernel=%s", c->kernel);
                if (c->initrd[0])
                        arg(a, "--initrd=%s", c->initrd);
                if (c->cmdline[0])
                        arg(a, "--cmdline=%s", c->cmdline);
                arg(a, "--cpuid-hide=%u", c->cpuid_hide);
        } else {
                if (c->image[0]) {
                        arg(a, "--flat=%s", c->image);
                        arg(a, "--entry=%s", c->image_entry);
                } else {
                        arg(a, "--builtin=%s", b->guest);
                }
                arg(a, "--count=%llu", (unsigned long long) b->count);
                arg(a, "--port=%u", b->port);
                arg(a, "--mmio-addr=0x%llx", (unsigned long long) b->mmio_addr);
                arg(a, "--duty=%u", b->duty_pct);
                arg(a, "--period=%u", b->period_ticks);
                arg(a, "--tick-us=%u", b->tick_us);
                arg(a, "--steal-time=%u", b->steal_time);
        }
        size_t len = 0;
        for (int i = first; i < a->n && len < sizeof(a->spec); i++)
                len += (size_t) snprintf(a->spec + len, sizeof(a->spec) - len, "%s%s", i > first ? " " : "", a->argv[i]);
        if (m->vms_dir[0])
                arg(a, "--socket=%s/%s.sock", m->vms_dir, c->name);
}

/* Asks w to quit (its guest stops) and makes sure its process is gone. */
static uint64_t quit_deadline(void) {
        return hv_now_ns() + QUIT_TIMEOUT_MS * 1000000ull;
}

static void worker_end(struct vs_worker *w) {
        if (!w)
                return;
        vs_worker_send(w, WK_QUIT);
        vs_worker_finish(w, quit_deadline());
}

/* The entry's VM stops (if it runs), its last console bytes reach the log, and it goes. */
static void retire(struct vs_manager *m, struct entry *e) {
        if (!e->w)
                return;
        worker_end(e->w);
        console_flush(m, e);
        if (e->vm)
                vs_sampler_remove_vm(m->sampler, e->vm);
        vs_worker_free(e->w);
        e->w = NULL;
        e->vm = NULL;
        e->dead = false;
}

/* w's VM takes the place of the entry's: a fresh id, counters and start time. */
static int replace(struct vs_manager *m, struct entry *e, struct vs_worker *w) {
        retire(m, e);
        int r = vs_sampler_add_vm(m->sampler, w->view);
        if (r < 0) {
                snprintf(e->why, sizeof(e->why), "sampling it: %s", strerror(-r));
                worker_end(w);
                vs_worker_free(w);
                e->create_failed = true; /* nothing is listed: retried like a VM that could not be created */
                return r;
        }
        e->w = w;
        e->vm = w->view;
        e->started_ns = hv_now_ns();
        e->restart_at_ns = 0;
        if (e->log)
                vs_console_log_reset(e->log);
        *kept(e) = (struct kept) { 0 };
        publish(m, e);
        return 0;
}

/* The first half of a launch: e's worker started (or *ret_w NULL and why, -errno). */
static int launch_start(struct vs_manager *m, struct entry *e, struct vs_worker **ret_w, char *why, size_t why_len) {
        struct worker_args a;
        e->why[0] = 0;
        e->create_failed = false;
        *ret_w = NULL;
        console_log_update(m, e);
        worker_args(m, &e->conf, &a);
        arg(&a, "--id=%llu", (unsigned long long) vs_sampler_reserve_id(m->sampler));
        arg(&a, "--restarts=%u", e->restarts);
        a.argv[a.n] = NULL;
        return vs_worker_start(m->cfg.worker_exe, a.argv, ret_w, why, why_len);
}

/* The second half: its hello (r, why: how the start went). A fresh VM for e, in a worker of its
 * own. The one it replaces (a crashed or stopped VM) stays served until the new one exists. One
 * that cannot be created leaves nothing new: e->create_failed. One that cannot be loaded or
 * started stays listed as crashed (load_error, or kvm_run_error with the errno) with its
 * counters; restart = on-crash retries both with backoff. e->why says what failed. */
static int launch_finish(struct vs_manager *m, struct entry *e, struct vs_worker *w, int r, char *why,
                         size_t why_len) {
        char sock[sizeof(m->vms_dir) + 48];
        snprintf(sock, sizeof(sock), "%s/%s.sock", m->vms_dir, e->conf.name);
        if (r == 0)
                r = vs_worker_hello(w, m->vms_dir[0] ? sock : NULL, HELLO_TIMEOUT_MS, why, why_len);
        if (r == 0 && w->stage == WK_STAGE_CREATE) { /* the worker said why and exits */
                snprintf(why, why_len, "%s", w->msg);
                r = w->result < 0 ? w->result : -EIO;
                vs_worker_free(w);
        }
        if (r < 0) {
                snprintf(e->why, sizeof(e->why), "%s", why);
                e->create_failed = true;
                e->restart_at_ns = 0;
                vs_log_vm(LOG_ERR, e->conf.name, "%s", e->why);
                return r;
        }
        enum wk_stage stage = w->stage;
        int result = w->result;
        snprintf(why, why_len, "%s", w->msg);
        if ((r = replace(m, e, w)) < 0) {
                vs_log_vm(LOG_ERR, e->conf.name, "%s", e->why);
                return r;
        }
        if (stage != WK_STAGE_OK) { /* listed as crashed(load_error) or crashed(kvm_run_error) */
                snprintf(e->why, sizeof(e->why), "%s", why);
                vs_log_vm(LOG_ERR, e->conf.name, "%s", e->why);
                return result < 0 ? result : -EIO;
        }
        vs_log_vm(LOG_INFO, e->conf.name, "started: %u vCPUs, %llu MiB, %s (worker %d)", e->conf.vcpus,
                  (unsigned long long) (e->conf.memory >> 20), e->conf.guest, (int) w->pid);
        return 0;
}

static int launch(struct vs_manager *m, struct entry *e) {
        char why[sizeof(e->why)];
        struct vs_worker *w;
        int r = launch_start(m, e, &w, why, sizeof(why));
        return launch_finish(m, e, w, r, why, sizeof(why));
}

/* An entry to launch, and how its start went. */
struct launching {
        struct entry *e;
        struct vs_worker *w;
        int r;
        char why[sizeof(((struct entry *) 0)->why)];
};

/* Launches every entry of todo at once: all workers are started before the first hello is
 * awaited, so that they create and load their VMs side by side (256 one after another took
 * 8 s here). Returns how many failed. */
static int launch_all(struct vs_manager *m, struct launching *todo, size_t n) {
        int failed = 0;
        for (size_t i = 0; i < n; i++)
                todo[i].r = launch_start(m, todo[i].e, &todo[i].w, todo[i].why, sizeof(todo[i].why));
        for (size_t i = 0; i < n; i++)
                failed += launch_finish(m, todo[i].e, todo[i].w, todo[i].r, todo[i].why, sizeof(todo[i].why)) < 0;
        return failed;
}

static void entry_free(struct vs_manager *m, struct entry *e) {
        retire(m, e);
        m->n_logs -= e->log != NULL;
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

void vs_manager_stop_all(struct vs_manager *m) {
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) /* ask every worker first, so the guests stop in parallel */
                if (m->e[i]->w)
                        vs_worker_send(m->e[i]->w, WK_QUIT);
        uint64_t deadline = quit_deadline();
        for (size_t i = 0; i < m->n; i++)
                if (m->e[i]->w) {
                        vs_worker_finish(m->e[i]->w, deadline);
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

/* Whether an adopted VM runs what c describes: the worker's arguments say. */
static bool adopted_matches(const struct vs_manager *m, const struct entry *e, const struct vs_vm_conf *c) {
        struct worker_args a;
        worker_args(m, c, &a);
        return e->vm && strcmp(e->vm->sh->spec, a.spec) == 0;
}

int vs_manager_adopt(struct vs_manager *m) {
        char path[sizeof(m->vms_dir) + 64], why[256];
        int adopted = 0;
        if (!m->vms_dir[0])
                return 0;
        DIR *d = opendir(m->vms_dir);
        if (!d)
                return 0;
        pthread_mutex_lock(&m->lock);
        for (struct dirent *de; (de = readdir(d));) {
                size_t len = strlen(de->d_name);
                if (len < 6 || len > 32 + 5 || strcmp(de->d_name + len - 5, ".sock") != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", m->vms_dir, de->d_name);
                struct vs_worker *w;
                int r = vs_worker_adopt(path, CALL_TIMEOUT_MS, &w, why, sizeof(why));
                if (r == -ECONNREFUSED || r == -ENOENT) {
                        unlink(path); /* its worker is gone */
                        continue;
                }
                if (r < 0 || !w->view) {
                        vs_log(LOG_WARNING, "%s: %s: leaving that worker alone", path, r < 0 ? why : "it has no VM");
                        if (r == 0)
                                vs_worker_free(w);
                        continue;
                }
                struct entry **grown = realloc(m->e, (m->n + 1) * sizeof(*grown));
                struct entry *e = grown ? calloc(1, sizeof(*e)) : NULL;
                if (grown)
                        m->e = grown;
                if (!e || find(m, w->view->name) || vs_sampler_add_vm(m->sampler, w->view) < 0) {
                        vs_log(LOG_WARNING, "%s: cannot take VM %s over: leaving it alone", path, w->view->name);
                        free(e);
                        vs_worker_free(w);
                        continue;
                }
                snprintf(e->conf.name, sizeof(e->conf.name), "%s", w->view->name);
                e->w = w;
                e->vm = w->view;
                e->adopted = true;
                m->foreign |= !w->child;
                e->restarts = w->view->sh->restarts;
                e->backoff_ns = BACKOFF_FIRST_NS;
                e->started_ns = hv_now_ns();
                m->e[m->n++] = e;
                publish(m, e);
                adopted++;
                vs_log_vm(LOG_INFO, e->conf.name, "adopted: worker %d, %s, id %llu, %u restarts", (int) w->pid,
                          hv_vm_state_name(hv_vm_state(w->view)), (unsigned long long) w->view->sh->id, e->restarts);
        }
        closedir(d);
        pthread_mutex_unlock(&m->lock);
        return adopted;
}

/* Settings that apply to a running VM without restarting it. */
static void update_live(struct vs_manager *m, struct entry *e, const struct vs_vm_conf *c) {
        e->conf.console_log_max = c->console_log_max;
        console_log_update(m, e);
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
                struct entry *e = find(m, c->name);
                if (e && e->adopted && adopted_matches(m, e, c)) {
                        e->adopted = false;
                        e->conf = *c;
                        e->conf.builtin.guest = e->conf.builtin_name;
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
                if (c->autostart && todo)
                        todo[n_todo++].e = e;
                else if (c->autostart && launch(m, e) < 0)
                        failed++;
        }
        failed += launch_all(m, todo, n_todo);
        pthread_mutex_unlock(&m->lock);
        free(todo);
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
                char why[WK_MSG_LEN];
                /* the worker stays, holding the stopped VM's counters: they stay served */
                if ((r = vs_worker_call(e->w, WK_STOP, CALL_TIMEOUT_MS, why, sizeof(why))) < 0) {
                        snprintf(msg, len, "stopping %s failed: %s", e->conf.name, why);
                        return r;
                }
                console_flush(m, e);
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

/* A worker that died is its VM's crash: crashed(worker_died), last counters kept. */
static void reap(struct vs_manager *m, struct entry *e) {
        int sig;
        if (!e->w || e->dead || !vs_worker_dead(e->w, &sig))
                return;
        e->dead = true;
        if (!e->vm)
                return;
        bool ended = hv_vm_state(e->vm) == HV_VM_STOPPED || hv_vm_state(e->vm) == HV_VM_CRASHED;
        hv_vm_mark_dead(e->vm, sig);
        console_flush(m, e);
        if (!ended)
                vs_log_vm(LOG_ERR, e->conf.name, "worker %d died%s%s: crashed (worker_died)", (int) e->w->pid,
                          sig ? " of " : "", sig ? strsignal(sig) : "");
}

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

/* Whether a worker may have died since the last look, without a system call per worker every
 * tick (256 waitid calls every 100 ms were half the daemon's CPU): our children announce their
 * end with SIGCHLD (or, without cfg.sigchld, one waitid leaves any exited one waiting to be
 * reaped); workers adopted after a crash are not our children, one poll watches their pidfds. */
static bool any_worker_gone(struct vs_manager *m) {
        siginfo_t si = { 0 };
        if (m->cfg.sigchld ? atomic_exchange(&m->child_exited, false)
                           : waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0)
                return true;
        struct pollfd p[64];
        nfds_t n = 0;
        for (size_t i = 0; m->foreign && i < m->n; i++) {
                const struct vs_worker *w = m->e[i]->w;
                if (!w || m->e[i]->dead || w->child)
                        continue;
                if (w->pidfd < 0)
                        return true; /* nothing to poll: look at it the slow way */
                p[n++] = (struct pollfd) { .fd = w->pidfd, .events = POLLIN };
                if (n == sizeof(p) / sizeof(p[0])) {
                        if (poll(p, n, 0) > 0)
                                return true;
                        n = 0;
                }
        }
        return n && poll(p, n, 0) > 0;
}

void vs_manager_child_exited(struct vs_manager *m) {
        atomic_store(&m->child_exited, true);
}

void vs_manager_tick(struct vs_manager *m) {
        uint64_t now = hv_now_ns();
        pthread_mutex_lock(&m->lock);
        bool gone = any_worker_gone(m);
        for (size_t i = 0; i < m->n; i++) {
                if (gone)
                        reap(m, m->e[i]);
                supervise(m, m->e[i], now);
        }
        pthread_mutex_unlock(&m->lock);
        vs_manager_console_tick(m);
}

static void reap_all(struct vs_manager *m) {
        bool gone = any_worker_gone(m);
        for (size_t i = 0; gone && i < m->n; i++)
                reap(m, m->e[i]);
}

void vs_manager_reap(struct vs_manager *m) {
        pthread_mutex_lock(&m->lock);
        reap_all(m);
        pthread_mutex_unlock(&m->lock);
}

bool vs_manager_console_logs(struct vs_manager *m) {
        pthread_mutex_lock(&m->lock);
        bool any = m->n_logs > 0;
        pthread_mutex_unlock(&m->lock);
        return any;
}

void vs_manager_console_tick(struct vs_manager *m) {
        uint64_t budget = CONSOLE_TICK_BUDGET;
        pthread_mutex_lock(&m->lock);
        reap_all(m); /* a dead worker is noticed within a tick */
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
