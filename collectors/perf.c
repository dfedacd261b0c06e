/* perf: guest-only instructions and cycles of each vCPU thread (perf events with exclude_host),
 * one event group per thread, opened on first sight of the thread. Off by default: it needs a
 * PMU that tells guest from host, which nested and many cloud hosts do not offer. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "collector.h"

/* One vCPU thread's group: the leader counts instructions, its member cycles. */
struct perf_vcpu {
        pid_t tid; /* the thread the fds count, 0 when none are open */
        int instructions_fd, cycles_fd;
};

struct perf_vm_state {
        unsigned n_vcpus;
        struct perf_vcpu vcpu[];
};

static int perf_open(pid_t tid, uint64_t config, int group_fd) {
        struct perf_event_attr attr = {
                .type = PERF_TYPE_HARDWARE,
                .size = sizeof(attr),
                .config = config,
                .read_format = PERF_FORMAT_GROUP,
                .exclude_host = 1, /* count only while the thread runs guest code */
        };
        long fd = syscall(SYS_perf_event_open, &attr, tid, -1, group_fd, PERF_FLAG_FD_CLOEXEC);
        return fd < 0 ? -errno : (int) fd;
}

static void perf_vcpu_close(struct perf_vcpu *p) {
        if (p->cycles_fd >= 0)
                close(p->cycles_fd);
        if (p->instructions_fd >= 0)
                close(p->instructions_fd);
        *p = (struct perf_vcpu) { .instructions_fd = -1, .cycles_fd = -1 };
}

static int perf_vcpu_open(struct perf_vcpu *p, pid_t tid) {
        perf_vcpu_close(p);
        int r = perf_open(tid, PERF_COUNT_HW_INSTRUCTIONS, -1);
        if (r < 0)
                return r;
        p->instructions_fd = r;
        if ((r = perf_open(tid, PERF_COUNT_HW_CPU_CYCLES, p->instructions_fd)) < 0) {
                perf_vcpu_close(p);
                return r;
        }
        p->cycles_fd = r;
        p->tid = tid;
        return 0;
}

static int perf_vcpu_read(const struct perf_vcpu *p, struct cl_perf *out) {
        struct {
                uint64_t nr;
                uint64_t values[2]; /* in the order the group was opened */
        } g;
        ssize_t n = read(p->instructions_fd, &g, sizeof(g));
        if (n < 0)
                return -errno;
        if (n != sizeof(g) || g.nr != 2)
                return -EBADMSG;
        out->instructions = g.values[0];
        out->cycles = g.values[1];
        return 0;
}

/* The error that names the cause: no PMU support for guest counting, or no permission. */
static int perf_fail_open(struct collector *c, int r, pid_t tid) {
        switch (-r) {
        case ENOENT:
        case ENODEV:
        case EOPNOTSUPP:
                return collector_fail(c, r,
                                      "perf: guest instruction counting not supported on this host "
                                      "(perf_event_open: %s)",
                                      strerror(-r));
        case EACCES:
        case EPERM: {
                char level[16] = "?";
                FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
                if (f) {
                        if (fscanf(f, "%15s", level) != 1)
                                strcpy(level, "?");
                        fclose(f);
                }
                return collector_fail(c, r,
                                      "perf: guest counting not permitted (perf_event_open: %s): needs CAP_PERFMON "
                                      "or kernel.perf_event_paranoid <= 1 (it is %s)",
                                      strerror(-r), level);
        }
        default:
                return collector_fail(c, r, "perf: perf_event_open(guest instructions, vCPU thread %d): %s", tid, strerror(-r));
        }
}

static int perf_vm_state_new(struct collector *c, struct hv_vm *vm, struct perf_vm_state **ret) {
        struct perf_vm_state *st = calloc(1, sizeof(*st) + vm->n_vcpus * sizeof(st->vcpu[0]));
        if (!st)
                return collector_fail(c, -ENOMEM, "perf: %s: out of memory", vm->name);
        st->n_vcpus = vm->n_vcpus;
        for (unsigned i = 0; i < st->n_vcpus; i++)
                st->vcpu[i] = (struct perf_vcpu) { .instructions_fd = -1, .cycles_fd = -1 };
        *ret = st;
        return 0;
}

static int perf_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        struct perf_vm_state *st = vm->priv[c->slot];
        int r;

        if (!st) {
                if ((r = perf_vm_state_new(c, vm->hv, &st)) < 0)
                        return r;
                vm->priv[c->slot] = st;
        }
        for (unsigned i = 0; i < out->n_vcpus && i < st->n_vcpus; i++) {
                struct perf_vcpu *p = &st->vcpu[i];
                struct hv_vcpu_raw rs;
                hv_vcpu_read_raw(vm->hv->vcpus[i], &rs);
                if (!rs.tid)
                        continue; /* not started yet */
                if (p->tid != rs.tid) {
                        if (rs.exited)
                                continue; /* ended before we saw it: nothing left to count */
                        r = perf_vcpu_open(p, rs.tid);
                        if (r == -ESRCH)
                                continue; /* exited between the two calls */
                        if (r < 0)
                                return perf_fail_open(c, r, rs.tid); /* the same for every vCPU */
                }
                /* an exited thread's events keep its final counts */
                if ((r = perf_vcpu_read(p, &out->vcpus[i].perf)) < 0)
                        return collector_fail(c, r, "perf: reading the counters of vCPU thread %d: %s", p->tid,
                                              strerror(-r));
                out->vcpus[i].have |= CL_HAVE_PERF;
        }
        out->have |= CL_HAVE_PERF;
        return 0;
}

static void perf_forget_vm(struct collector *c, struct cl_vm *vm) {
        struct perf_vm_state *st = vm->priv[c->slot];
        if (!st)
                return;
        for (unsigned i = 0; i < st->n_vcpus; i++)
                perf_vcpu_close(&st->vcpu[i]);
        free(st);
        vm->priv[c->slot] = NULL;
}

const struct collector_ops collector_perf = {
        .name = "perf",
        .enabled_by_default = false,
        .sample_vm = perf_sample_vm,
        .forget_vm = perf_forget_vm,
};
