/* executor: hv's own numbers: per-vCPU counters, runstate inputs, VM state, read from the
 * memory each VM shares.
 *
 * A VM run by a worker process publishes what only that process can read (its threads' CPU
 * clocks, resident RAM) when asked; a request costs the worker a wake-up and two context switches.
 * So it is asked only when one of its vCPU threads ran since the last sample: the scheduler's
 * sum in /proc/<pid>/task/<tid>/schedstat (read here once, also for the sched collector) equals
 * the CPU clock of a thread that is off a CPU, and a thread that was on one moved that sum or its
 * timeslice count. Workers that are asked are all asked first, then awaited: they publish in
 * parallel. Never fails: a worker that does not answer in time leaves its last reading.
 *
 * Before those reads, one system call for the whole worker: when its process CPU clock (every
 * thread's sum) has not moved since the last sample and no vCPU entered KVM_RUN, no thread ran,
 * so every schedstat is as it was (a halted host's VMs cost one read each, not one a vCPU). A
 * thread that got on a CPU less than a scheduler tick ago and is still on it has not added to
 * that sum yet: its run is seen at the next sample, a tick of running counted an interval late. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "collector.h"
#include "devices/devices.h"
#include "shm.h"

#define PUBLISH_TIMEOUT_NS (50 * 1000000ull)

struct thread_stat {
        pid_t tid;
        int fd; /* schedstat, -1 when closed */
        struct cl_schedstat last;
        uint64_t runs; /* KVM_RUN calls at the last sample: a thread that started and ended since moved it */
        bool idle;     /* off every CPU since the last sample (schedstat and runs unmoved) */
};

struct vm_state {
        bool asked; /* this sample's publish was requested */
        bool once;  /* a publish was requested at least once */
        bool cpu_known;
        uint64_t cpu_ns; /* the worker's process CPU clock when its threads were last read */
        unsigned n;
        struct thread_stat t[];
};

static void thread_close(struct thread_stat *t) {
        if (t->fd >= 0)
                close(t->fd);
        *t = (struct thread_stat) { .fd = -1, .runs = t->runs };
}

static struct vm_state *vm_state_get(struct collector *c, struct cl_vm *vm) {
        struct vm_state *st = vm->priv[c->slot];
        if (st)
                return st;
        st = calloc(1, sizeof(*st) + vm->hv->n_vcpus * sizeof(st->t[0]));
        if (!st)
                return NULL;
        st->n = vm->hv->n_vcpus;
        for (unsigned i = 0; i < st->n; i++)
                st->t[i].fd = -1;
        return vm->priv[c->slot] = st;
}

/* The thread's schedstat now; false when it cannot be read (then the worker is asked). */
static bool schedstat_read(struct thread_stat *t, pid_t pid, pid_t tid, struct cl_schedstat *ret) {
        if (t->tid != tid || t->fd < 0) {
                thread_close(t);
                if ((t->fd = cl_schedstat_open(pid, tid)) < 0)
                        return false;
                t->tid = tid;
        }
        return cl_schedstat_read(t->fd, ret) == 0;
}

/* Nothing of the worker ran since its threads were last read: every vCPU is as it was. */
static bool vm_still(struct vm_state *st, struct hv_vm *hv) {
        uint64_t cpu = 0;
        bool known = st->cpu_known;
        st->cpu_known = cl_process_cpu_ns(hv_vm_pid(hv), &cpu) == 0;
        bool still = known && st->cpu_known && cpu == st->cpu_ns;
        st->cpu_ns = cpu;
        for (unsigned i = 0; still && i < st->n; i++)
                still = st->t[i].last.have && st->t[i].fd >= 0 && hv_vcpu_tid(hv->vcpus[i]) == st->t[i].tid &&
                        atomic_load_explicit(&hv->vcpus[i]->sh->c.runs, memory_order_relaxed) == st->t[i].runs;
        for (unsigned i = 0; still && i < st->n; i++)
                st->t[i].idle = true;
        return still;
}

/* Whether the worker must publish: a vCPU thread ran since the last sample (or cannot be read). */
static bool vm_ran(struct vm_state *st, struct hv_vm *hv) {
        if (vm_still(st, hv))
                return false;
        bool ran = false;
        for (unsigned i = 0; i < st->n; i++) {
                struct thread_stat *t = &st->t[i];
                struct cl_schedstat now;
                uint64_t runs = atomic_load_explicit(&hv->vcpus[i]->sh->c.runs, memory_order_relaxed);
                bool moved = runs != t->runs; /* it ran, even if it has ended since (then: one last publish) */
                t->runs = runs;
                t->idle = false;
                pid_t tid = hv_vcpu_tid(hv->vcpus[i]);
                if (!tid) { /* not started, or gone: its final CPU time is in the shared memory */
                        thread_close(t);
                        ran |= moved;
                        continue;
                }
                if (!schedstat_read(t, hv_vm_pid(hv), tid, &now)) {
                        t->last.have = false;
                        ran = true;
                        continue;
                }
                moved |= !t->last.have || now.cpu_ns != t->last.cpu_ns || now.timeslices != t->last.timeslices;
                t->idle = !moved;
                ran |= moved;
                t->last = now;
        }
        return ran;
}

static void executor_prepare_vm(struct collector *c, struct cl_vm *vm) {
        if (!vm->hv->view)
                return; /* in this process: its clocks are read directly */
        struct vm_state *st = vm_state_get(c, vm);
        bool ask = !st || vm_ran(st, vm->hv) || !st->once;
        if (st) {
                st->asked = ask;
                st->once = true;
        }
        if (ask)
                hv_vm_publish_request(vm->hv);
}

static int executor_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        struct vm_state *st = vm->hv->view ? vm->priv[c->slot] : NULL;
        struct hv_vm_outcome o;
        bool published = !st || st->asked;
        if (vm->hv->view && published)
                hv_vm_publish_wait(vm->hv, PUBLISH_TIMEOUT_NS);
        hv_vm_get_outcome(vm->hv, &o);
        out->state = o.state;
        out->reason = o.reason;
        out->exit_code = o.exit_code;
        out->detail = o.detail;
        out->pid = hv_vm_pid(vm->hv);
        out->ram_bytes = vm->hv->ram_bytes;
        out->console_bytes = vm->hv->console ? hv_console_total(vm->hv->console) : 0;
        for (unsigned i = 0; i < out->n_vcpus; i++) {
                struct cl_vcpu_raw *v = &out->vcpus[i];
                const struct thread_stat *t = st && i < st->n ? &st->t[i] : NULL;
                if (published)
                        hv_vcpu_read_raw(vm->hv->vcpus[i], &v->rs);
                else
                        hv_vcpu_read_raw_off_cpu(vm->hv->vcpus[i], t && t->last.have ? t->last.cpu_ns : 0, &v->rs);
                if (t && t->fd >= 0 && t->last.have)
                        v->schedstat = t->last;
                v->idle = t && t->idle;
                hv_vcpu_read_counters(vm->hv->vcpus[i], &v->exec);
                if (c->histograms && (v->exit_hist = malloc(sizeof(hv_reason_hist))))
                        hv_counters_read_reason_hist(vm->hv->vcpus[i]->hist, v->exit_hist);
                v->have |= CL_HAVE_EXECUTOR;
        }
        out->have |= CL_HAVE_EXECUTOR;
        return 0;
}

static void executor_forget_vm(struct collector *c, struct cl_vm *vm) {
        struct vm_state *st = vm->priv[c->slot];
        for (unsigned i = 0; st && i < st->n; i++)
                thread_close(&st->t[i]);
        free(st);
        vm->priv[c->slot] = NULL;
}

const struct collector_ops collector_executor = {
        .name = "executor",
        .enabled_by_default = true,
        .prepare_vm = executor_prepare_vm,
        .sample_vm = executor_sample_vm,
        .forget_vm = executor_forget_vm,
};
