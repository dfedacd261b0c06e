/* The supervisor's workers: the command line that defines a VM, launching many at once, a new
 * VM taking an old one's place, ending workers, and adopting those an earlier daemon left. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "manager_priv.h"
#include "shm.h"
#include "vm.h"

/* Creating a VM can take seconds on a loaded host; a worker that says nothing for this long is
 * taken for hung. */
#define HELLO_TIMEOUT_MS 60000
#define QUIT_TIMEOUT_MS 2000

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

/* <runtime dir>/vms/<name>.sock, where VM name's worker listens */
static const char *sock_path(const struct vs_manager *m, const char *name, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s.sock", m->vms_dir, name);
        return buf;
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
        char sock[sizeof(m->vms_dir) + 48];
        if (m->vms_dir[0])
                arg(a, "--socket=%s", sock_path(m, c->name, sock, sizeof(sock)));
}

bool mgr_adopted_matches(const struct vs_manager *m, const struct entry *e, const struct vs_vm_conf *c) {
        struct worker_args a;
        worker_args(m, c, &a); /* the worker's arguments say */
        /* bounded: the owner's text need not end in a NUL (a.spec always does, within the size) */
        return e->vm && strncmp(e->vm->sh->spec, a.spec, sizeof(e->vm->sh->spec)) == 0;
}

/* ---- ending workers ------------------------------------------------------------------------------------ */

static uint64_t quit_deadline(void) {
        return hv_now_ns() + QUIT_TIMEOUT_MS * 1000000ull;
}

/* Asks w to quit (its guest stops) and makes sure its process is gone. */
static void worker_end(struct vs_worker *w) {
        if (!w)
                return;
        vs_worker_send(w, WK_QUIT);
        vs_worker_finish(w, quit_deadline());
}

void mgr_retire(struct vs_manager *m, struct entry *e) {
        if (!e->w)
                return;
        worker_end(e->w);
        mgr_console_flush(m, e);
        if (e->vm)
                vs_sampler_remove_vm(m->sampler, e->vm);
        vs_worker_free(e->w);
        e->w = NULL;
        e->vm = NULL;
        e->dead = false;
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
                        mgr_console_flush(m, m->e[i]);
                }
        pthread_mutex_unlock(&m->lock);
}

/* ---- launching ----------------------------------------------------------------------------------------- */

/* w's VM takes the place of the entry's: a fresh id, counters and start time. */
static int replace(struct vs_manager *m, struct entry *e, struct vs_worker *w) {
        mgr_retire(m, e);
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
        mgr_console_restart(e);
        mgr_publish(m, e);
        return 0;
}

/* The first half of a launch: e's worker started (or *ret_w NULL and why, -errno). */
static int launch_start(struct vs_manager *m, struct entry *e, struct vs_worker **ret_w, char *why, size_t why_len) {
        struct worker_args a;
        e->why[0] = 0;
        e->create_failed = false;
        *ret_w = NULL;
        mgr_console_log_update(m, e);
        worker_args(m, &e->conf, &a);
        if (e->w && m->vms_dir[0]) { /* our own worker, replaced: its socket goes (a worker refuses a live one) */
                char sock[sizeof(m->vms_dir) + 48];
                unlink(sock_path(m, e->conf.name, sock, sizeof(sock)));
        }
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
        sock_path(m, e->conf.name, sock, sizeof(sock));
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

int mgr_launch(struct vs_manager *m, struct entry *e) {
        char why[sizeof(e->why)];
        struct vs_worker *w;
        int r = launch_start(m, e, &w, why, sizeof(why));
        return launch_finish(m, e, w, r, why, sizeof(why));
}

/* All workers are started before the first hello is awaited, so that they create and load their
 * VMs side by side (256 one after another took 8 s here). */
int mgr_launch_all(struct vs_manager *m, struct launching *todo, size_t n) {
        int failed = 0;
        for (size_t i = 0; i < n; i++)
                todo[i].r = launch_start(m, todo[i].e, &todo[i].w, todo[i].why, sizeof(todo[i].why));
        for (size_t i = 0; i < n; i++)
                failed += launch_finish(m, todo[i].e, todo[i].w, todo[i].r, todo[i].why, sizeof(todo[i].why)) < 0;
        return failed;
}

/* ---- adoption ------------------------------------------------------------------------------------------ */

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
                struct entry *e = mgr_reserve(m) ? calloc(1, sizeof(*e)) : NULL;
                if (!e || mgr_find(m, w->view->name) || vs_sampler_add_vm(m->sampler, w->view) < 0) {
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
                mgr_publish(m, e);
                adopted++;
                vs_log_vm(LOG_INFO, e->conf.name, "adopted: worker %d, %s, id %llu, %u restarts", (int) w->pid,
                          hv_vm_state_name(hv_vm_state(w->view)), (unsigned long long) w->view->sh->id, e->restarts);
        }
        closedir(d);
        pthread_mutex_unlock(&m->lock);
        return adopted;
}
