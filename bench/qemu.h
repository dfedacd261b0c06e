/* What the benches that run QEMU share. Header-only: bench/%.c build one program each. */
#ifndef BENCH_QEMU_H
#define BENCH_QEMU_H

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define QEMU "qemu-system-x86_64"

extern char **environ;

/* Starts QEMU (looked up on PATH) with argv: stdin from /dev/null, stdout to out_fd (/dev/null
 * when out_fd < 0), stderr to err_fd. 0, or -errno (-ENOENT: not installed). */
static inline int qemu_spawn(char *const argv[], int out_fd, int err_fd, pid_t *ret_pid) {
        posix_spawn_file_actions_t fa;
        int r;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (out_fd < 0)
                posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        else
                posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
        r = -posix_spawnp(ret_pid, QEMU, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        return r;
}

/* The first line QEMU wrote to its stderr file (fd), or placeholder when it wrote nothing. */
static inline void qemu_first_line(int fd, char *buf, size_t len, const char *placeholder) {
        ssize_t n = pread(fd, buf, len - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
        if (!buf[0])
                snprintf(buf, len, "%s", placeholder);
}

#endif
