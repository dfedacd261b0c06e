/* Guest files: regular files only, never blocking, read rather than mapped. */
#include "boot/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hv_file_open_regular(const char *path, uint64_t *ret_size, char why[HV_WHY_LEN]) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;
                snprintf(why, HV_WHY_LEN, "%.200s: %s", path, strerror(-r));
                if (fd >= 0)
                        close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(why, HV_WHY_LEN, "%.200s: not a regular file", path);
                close(fd);
                return -EINVAL;
        }
        *ret_size = (uint64_t) st.st_size;
        return fd;
}

int hv_file_read_exact(int fd, void *buf, size_t len, const char *path, char why[HV_WHY_LEN]) {
        for (size_t done = 0; done < len;) {
                ssize_t n = pread(fd, (uint8_t *) buf + done, len - done, (off_t) done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        snprintf(why, HV_WHY_LEN, "%.200s: %s", path, n < 0 ? strerror(-r) : "the file shrank while it was read");
                        return r;
                }
                done += (size_t) n;
        }
        return 0;
}
