/* The default runtime directory (paths.h). */
#define _GNU_SOURCE
#include "paths.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dir followed by suffix, if it is absolute and fits max_len */
static size_t put(const char *dir, const char *suffix, size_t max_len, char *out, size_t size) {
        if (!dir || dir[0] != '/')
                return 0;
        int n = snprintf(out, size, "%s%s", dir, suffix);
        if (n < 0 || (size_t) n >= size || (size_t) n > max_len)
                return 0;
        return (size_t) n;
}

size_t vs_runtime_dir_pick(uid_t uid, const char *runtime_directory, const char *xdg, size_t max_len, char *out,
                           size_t size) {
        char first[256] = "";
        size_t n;
        if (runtime_directory) /* systemd joins several with ':' */
                snprintf(first, sizeof(first), "%.*s", (int) strcspn(runtime_directory, ":"), runtime_directory);
        if ((n = put(first, "", max_len, out, size)))
                return n;
        if (uid == 0 && (n = put(VS_RUNTIME_DIR_SYSTEM, "", max_len, out, size)))
                return n;
        if ((n = put(xdg, "/vmstatd", max_len, out, size)))
                return n;
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "/tmp/vmstatd-%u", (unsigned) uid);
        return put(tmp, "", max_len, out, size);
}

size_t vs_runtime_dir_default(size_t max_len, char *out, size_t size) {
        return vs_runtime_dir_pick(geteuid(), getenv("RUNTIME_DIRECTORY"), getenv("XDG_RUNTIME_DIR"), max_len, out,
                                   size);
}

int vs_runtime_dir_make(const char *dir) {
        struct stat st, parent;
        char up[4096];
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        if (lstat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        snprintf(up, sizeof(up), "%s", dir);
        if (stat(dirname(up), &parent) < 0)
                return -errno;
        if ((parent.st_mode & S_IWOTH) && (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))))
                return -EPERM;
        return 0;
}
