/* Console log files: bounded copies from the console ring, one rotated file, drops counted. */
#define _GNU_SOURCE
#include "console_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/devices.h"
#include "log.h"

struct vs_console_log {
        char vm[33];
        char path[PATH_MAX];
        int fd;
        uint64_t max;
        uint64_t size;           /* bytes in the current file */
        uint64_t pos;            /* ring offset copied (or dropped) up to */
        uint64_t dropped;
        uint64_t window_start_ns;
        uint64_t window_bytes;   /* written in the current interval */
        bool failing;            /* the last write or rotation failed (logged once) */
        char buf[16384];
};

static int open_file(const char *path, uint64_t *ret_size, char why[256]) {
        struct stat st;
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;
                snprintf(why, 256, "console log %.200s: %s", path, strerror(-r));
                if (fd >= 0)
                        close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(why, 256, "console log %.200s: not a regular file", path);
                close(fd);
                return -EINVAL;
        }
        *ret_size = (uint64_t) st.st_size;
        return fd;
}

int vs_console_log_open(const char *vm, const char *path, uint64_t max, struct vs_console_log **ret, char why[256]) {
        if (strlen(path) + 3 > PATH_MAX) {
                snprintf(why, 256, "console log %.200s: path too long", path);
                return -ENAMETOOLONG;
        }
        struct vs_console_log *l = calloc(1, sizeof(*l));
        if (!l) {
                snprintf(why, 256, "console log %.200s: %s", path, strerror(ENOMEM));
                return -ENOMEM;
        }
        l->fd = open_file(path, &l->size, why);
        if (l->fd < 0) {
                int r = l->fd;
                free(l);
                return r;
        }
        snprintf(l->vm, sizeof(l->vm), "%s", vm);
        strcpy(l->path, path);
        l->max = max;
        *ret = l;
        return 0;
}

void vs_console_log_close(struct vs_console_log *l) {
        if (!l)
                return;
        close(l->fd);
        free(l);
}

void vs_console_log_set_max(struct vs_console_log *l, uint64_t max) {
        l->max = max;
}

void vs_console_log_reset(struct vs_console_log *l) {
        l->pos = 0;
}

uint64_t vs_console_log_pos(const struct vs_console_log *l) {
        return l->pos;
}

void vs_console_log_resume(struct vs_console_log *l, uint64_t pos, uint64_t dropped) {
        l->pos = pos;
        l->dropped = dropped;
}

uint64_t vs_console_log_dropped(const struct vs_console_log *l) {
        return l->dropped;
}

static void failed(struct vs_console_log *l, const char *what, int err) {
        if (!l->failing)
                vs_log_vm(LOG_WARNING, l->vm, "console log %s: %s: %s; console output is dropped (and counted) until it "
                          "works again", l->path, what, strerror(err));
        l->failing = true;
}

/* <path> becomes <path>.1 (replacing the one before) and a new <path> is started. */
static int rotate(struct vs_console_log *l) {
        char old[PATH_MAX + 2], why[256];
        snprintf(old, sizeof(old), "%s.1", l->path);
        if (rename(l->path, old) < 0) {
                failed(l, "rotating it to .1", errno);
                return -errno;
        }
        uint64_t size;
        int fd = open_file(l->path, &size, why);
        if (fd < 0) {
                failed(l, "reopening it after rotation", -fd);
                return fd;
        }
        close(l->fd);
        l->fd = fd;
        l->size = size;
        return 0;
}

static void write_rotating(struct vs_console_log *l, const char *data, size_t n) {
        if (l->size > 0 && l->size + n > l->max && rotate(l) < 0) {
                l->dropped += n;
                return;
        }
        while (n > 0) {
                ssize_t w = write(l->fd, data, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        failed(l, "writing", w < 0 ? errno : EIO);
                        l->dropped += n;
                        return;
                }
                data += w;
                n -= (size_t) w;
                l->size += (uint64_t) w;
        }
        if (l->failing)
                vs_log_vm(LOG_INFO, l->vm, "console log %s: writing again", l->path);
        l->failing = false;
}

uint64_t vs_console_log_copy(struct vs_console_log *l, const struct hv_console *ring, uint64_t budget,
                             uint64_t now_ns, uint64_t interval_ns) {
        uint64_t end = hv_console_total(ring), copied = 0;
        if (now_ns - l->window_start_ns >= interval_ns) {
                l->window_start_ns = now_ns;
                l->window_bytes = 0;
        }
        while (l->pos < end && copied < budget) {
                uint64_t before = l->pos, want = end - l->pos;
                if (want > sizeof(l->buf))
                        want = sizeof(l->buf);
                if (want > budget - copied)
                        want = budget - copied;
                size_t n = hv_console_read(ring, &l->pos, l->buf, (size_t) want);
                l->dropped += l->pos - before - n; /* overwritten before we came to them */
                if (n == 0 && l->pos == before)
                        break; /* the next byte is reserved but not stored yet: the next call takes it */
                size_t keep = l->max > l->window_bytes ? (size_t) (l->max - l->window_bytes < n ? l->max - l->window_bytes : n) : 0;
                l->dropped += n - keep; /* past max in this interval */
                if (keep)
                        write_rotating(l, l->buf, keep);
                l->window_bytes += keep;
                copied += n;
        }
        return copied;
}
