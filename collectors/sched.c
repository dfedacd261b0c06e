/* sched: the scheduler's view of each vCPU thread: run_delay (time runnable but waiting for
 * a host CPU), timeslices, migrations, context switches. From /proc/self/task/<tid>/. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"

/* Reads a small procfs file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int r = n < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
                return r;
        buf[n] = 0;
        return 0;
}

/* value of "key   : value" in /proc/.../sched; 0 when the key is absent */
static uint64_t sched_field(const char *text, const char *key) {
        const char *p = text;
        size_t len = strlen(key);
        while ((p = strstr(p, key))) {
                if ((p == text || p[-1] == '\n') && (p[len] == ' ' || p[len] == ':')) {
                        const char *colon = strchr(p, ':');
                        return colon ? strtoull(colon + 1, NULL, 10) : 0;
                }
                p += len;
        }
        return 0;
}

static int cl_sched_read(pid_t tid, struct cl_sched *out) {
        char path[64], buf[4096];
        unsigned long long cpu, delay, slices;
        int r;

        snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
        if ((r = read_small(path, buf, sizeof(buf))) < 0)
                return r;
        if (sscanf(buf, "%llu %llu %llu", &cpu, &delay, &slices) != 3)
                return -EBADMSG;
        out->run_delay_ns = delay;
        out->timeslices = slices;
        snprintf(path, sizeof(path), "/proc/self/task/%d/sched", tid);
        if (read_small(path, buf, sizeof(buf)) == 0) { /* needs CONFIG_SCHED_DEBUG */
                out->migrations = sched_field(buf, "se.nr_migrations");
                out->voluntary_switches = sched_field(buf, "nr_voluntary_switches");
                out->involuntary_switches = sched_field(buf, "nr_involuntary_switches");
                return 0;
        }
        snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
        if ((r = read_small(path, buf, sizeof(buf))) < 0)
                return r;
        const char *v = strstr(buf, "\nvoluntary_ctxt_switches:");
        const char *nv = strstr(buf, "\nnonvoluntary_ctxt_switches:");
        out->voluntary_switches = v ? strtoull(strchr(v, ':') + 1, NULL, 10) : 0;
        out->involuntary_switches = nv ? strtoull(strchr(nv, ':') + 1, NULL, 10) : 0;
        return 0;
}

static int sched_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        int failed = 0;
        for (unsigned i = 0; i < out->n_vcpus; i++) {
                struct cl_vcpu_raw *v = &out->vcpus[i];
                struct hv_vcpu_raw rs;
                hv_vcpu_read_raw(vm->hv->vcpus[i], &rs);
                if (!rs.tid || rs.exited)
                        continue; /* no thread (yet or any more): nothing waits for a CPU */
                int r = cl_sched_read(rs.tid, &v->sched);
                if (r == -ENOENT)
                        continue; /* the thread exited between the two reads */
                if (r < 0)
                        failed = collector_fail(c, r, "sched: reading /proc/self/task/%d: %s", rs.tid, strerror(-r));
                else
                        v->have |= CL_HAVE_SCHED;
        }
        if (!failed)
                out->have |= CL_HAVE_SCHED;
        return failed;
}

const struct collector_ops collector_sched = {
        .name = "sched",
        .enabled_by_default = true,
        .sample_vm = sched_sample_vm,
};
