/* What the benches that run QEMU share. Header-only: bench/%.c build one program each. */
#ifndef BENCH_QEMU_H
#define BENCH_QEMU_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define QEMU "qemu-system-x86_64"

/* The first line QEMU wrote to its stderr file (fd), or placeholder when it wrote nothing. */
static inline void qemu_first_line(int fd, char *buf, size_t len, const char *placeholder) {
        ssize_t n = pread(fd, buf, len - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
        if (!buf[0])
                snprintf(buf, len, "%s", placeholder);
}

#endif
