/* The supervisor's watch: a worker that dies is its VM's crash, and a crashed VM (restart =
 * on-crash) comes back after a backoff that doubles up to a minute. */
#define _GNU_SOURCE
#include <poll.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "manager_priv.h"
#include "vm.h"

#define BACKOFF_MAX_NS (60 * 1000000000ull)
#define STABLE_NS (60 * 1000000000ull)      /* a VM that ran this long resets its backoff */

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
        mgr_console_flush(m, e);
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
        mgr_publish(m, e); /* a VM that could not be replaced still shows the attempt */
        if (mgr_launch(m, e) < 0)
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

void mgr_reap_all(struct vs_manager *m) {
        bool gone = any_worker_gone(m);
        for (size_t i = 0; gone && i < m->n; i++)
                reap(m, m->e[i]);
}

void vs_manager_reap(struct vs_manager *m) {
        pthread_mutex_lock(&m->lock);
        mgr_reap_all(m);
        pthread_mutex_unlock(&m->lock);
}
