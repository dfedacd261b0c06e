/* /proc/<pid>/task/<tid>/schedstat of a vCPU thread: opened once, re-read with pread (one
 * system call per read). Read by the executor (whether a worker's vCPU ran) and by sched.
 * Also the CPU clock of a whole worker process, one system call for all its threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"

int cl_schedstat_open(pid_t pid, pid_t tid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pid, tid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int cl_schedstat_read(int fd, struct cl_schedstat *ret) {
        char buf[128];
        unsigned long long cpu, delay, slices;
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return errno == ESRCH ? -ENOENT : -errno; /* ESRCH: the thread is gone */
        buf[n] = 0;
        char *p = buf, *end; /* three numbers; strtoull, not sscanf: a third of the parse's cost */
        cpu = strtoull(p, &end, 10);
        if (end == p || *end != ' ')
                return -EBADMSG;
        delay = strtoull(p = end + 1, &end, 10);
        if (end == p || *end != ' ')
                return -EBADMSG;
        slices = strtoull(p = end + 1, &end, 10);
        if (end == p || (*end != '\n' && *end != 0))
                return -EBADMSG;
        *ret = (struct cl_schedstat) { .have = true, .cpu_ns = cpu, .run_delay_ns = delay, .timeslices = slices };
        return 0;
}

/* The kernel's clock id of process pid's CPU clock (its ABI: the pid inverted, shifted by 3,
 * CPUCLOCK_SCHED = 2), as clock_getcpuclockid makes it without the clock_getres it adds to check
 * that the process exists: clock_gettime says so itself. */
static clockid_t process_cpu_clock(pid_t pid) {
        return (clockid_t) ((~(unsigned) pid << 3) | 2);
}

int cl_process_cpu_ns(pid_t pid, uint64_t *ret) {
        struct timespec ts;
        if (pid <= 0)
                return -ESRCH;
        if (clock_gettime(process_cpu_clock(pid), &ts) < 0)
                return -errno;
        *ret = (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
        return 0;
}
