/* sched: the scheduler's view of each vCPU thread: run_delay (time runnable but waiting for
 * a host CPU), timeslices, migrations, context switches, from /proc/<pid>/task/<tid>/ of the process running the VM.
 *
 * Cost matters (hundreds of vCPUs every interval): the files stay open and are re-read with
 * pread (schedstat not at all when the executor already read it this sample), and the expensive `sched` file (7 us to generate) is only re-read when schedstat
 * shows the thread ran, was scheduled in or waited since the last read. Switches and
 * migrations cannot change otherwise: a switch-out updates the CPU time, a switch-in the
 * timeslices, and a sleeping task migrates only at wake-up, which makes it wait. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"

struct thread_files {
        pid_t tid;
        int schedstat, sched; /* -1 when closed; sched is -1 without CONFIG_SCHED_DEBUG */
        bool have_detail;
        uint64_t last_cpu_ns; /* schedstat field 1 */
        struct cl_sched last;
};

struct vm_files {
        unsigned n;
        struct thread_files t[];
};

static void thread_close(struct thread_files *t) {
        if (t->schedstat >= 0)
                close(t->schedstat);
        if (t->sched >= 0)
                close(t->sched);
        *t = (struct thread_files) { .schedstat = -1, .sched = -1 };
}

static int thread_open(struct thread_files *t, pid_t pid, pid_t tid) {
        char path[64];
        thread_close(t);
        if ((t->schedstat = cl_schedstat_open(pid, tid)) < 0)
                return t->schedstat;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/sched", pid, tid);
        t->sched = open(path, O_RDONLY | O_CLOEXEC); /* optional: needs CONFIG_SCHED_DEBUG */
        t->tid = tid;
        return 0;
}

static int pread_text(int fd, char *buf, size_t size) {
        ssize_t n = pread(fd, buf, size - 1, 0);
        if (n < 0)
                return errno == ESRCH ? -ENOENT : -errno;
        buf[n] = 0;
        return 0;
}

/* value of "key   : value" in /proc/.../sched; 0 when the key is absent */
static uint64_t sched_field(const char *text, const char *key) {
        size_t len = strlen(key);
        for (const char *p = text; (p = strstr(p, key)); p += len)
                if ((p == text || p[-1] == '\n') && (p[len] == ' ' || p[len] == ':')) {
                        const char *colon = strchr(p, ':');
                        return colon ? strtoull(colon + 1, NULL, 10) : 0;
                }
        return 0;
}

/* given: the schedstat the executor read this sample for a worker's vCPU, or NULL */
static int thread_read(struct thread_files *t, const struct cl_schedstat *given, struct cl_sched *out) {
        char buf[4096];
        struct cl_schedstat now = given && given->have ? *given : (struct cl_schedstat) { 0 };
        int r = now.have ? 0 : cl_schedstat_read(t->schedstat, &now);
        if (r < 0)
                return r;
        uint64_t cpu = now.cpu_ns, delay = now.run_delay_ns, slices = now.timeslices;
        bool moved = !t->have_detail || cpu != t->last_cpu_ns || slices != t->last.timeslices ||
                     delay != t->last.run_delay_ns;
        t->last_cpu_ns = cpu;
        t->last.run_delay_ns = delay;
        t->last.timeslices = slices;
        if (moved && t->sched >= 0 && pread_text(t->sched, buf, sizeof(buf)) == 0) {
                t->last.migrations = sched_field(buf, "se.nr_migrations");
                t->last.voluntary_switches = sched_field(buf, "nr_voluntary_switches");
                t->last.involuntary_switches = sched_field(buf, "nr_involuntary_switches");
                t->have_detail = true;
        }
        *out = t->last;
        return 0;
}

static struct vm_files *vm_files_get(struct collector *c, struct cl_vm *vm) {
        struct vm_files *f = vm->priv[c->slot];
        if (f)
                return f;
        f = calloc(1, sizeof(*f) + vm->hv->n_vcpus * sizeof(f->t[0]));
        if (!f)
                return NULL;
        f->n = vm->hv->n_vcpus;
        for (unsigned i = 0; i < f->n; i++)
                f->t[i] = (struct thread_files) { .schedstat = -1, .sched = -1 };
        return vm->priv[c->slot] = f;
}

static int sched_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        struct vm_files *f = vm_files_get(c, vm);
        int failed = 0;
        if (!f)
                return collector_fail(c, -ENOMEM, "sched: out of memory");
        for (unsigned i = 0; i < out->n_vcpus && i < f->n; i++) {
                struct thread_files *t = &f->t[i];
                pid_t tid = hv_vcpu_tid(vm->hv->vcpus[i]);
                int r = 0;
                if (!tid) {
                        thread_close(t); /* no thread (yet or any more): nothing waits for a CPU */
                        continue;
                }
                if (t->tid != tid || t->schedstat < 0)
                        r = thread_open(t, hv_vm_pid(vm->hv), tid);
                if (r == 0)
                        r = thread_read(t, &out->vcpus[i].schedstat, &out->vcpus[i].sched);
                if (r == -ENOENT)
                        continue; /* the thread exited between the two reads */
                if (r < 0)
                        failed = collector_fail(c, r, "sched: reading /proc/%d/task/%d: %s", hv_vm_pid(vm->hv), tid,
                                                strerror(-r));
                else
                        out->vcpus[i].have |= CL_HAVE_SCHED;
        }
        if (!failed)
                out->have |= CL_HAVE_SCHED;
        return failed;
}

static void sched_forget_vm(struct collector *c, struct cl_vm *vm) {
        struct vm_files *f = vm->priv[c->slot];
        for (unsigned i = 0; f && i < f->n; i++)
                thread_close(&f->t[i]);
        free(f);
        vm->priv[c->slot] = NULL;
}

const struct collector_ops collector_sched = {
        .name = "sched",
        .enabled_by_default = true,
        .sample_vm = sched_sample_vm,
        .forget_vm = sched_forget_vm,
};
