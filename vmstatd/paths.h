/* Where vmstatd keeps its sockets when nothing says otherwise, and where vmstatctl looks for
 * them: one answer for both, so `make run` and `vmstatctl list` meet without flags. */
#ifndef VMSTATD_PATHS_H
#define VMSTATD_PATHS_H

#include <stddef.h>
#include <sys/types.h>

#define VS_RUNTIME_DIR_SYSTEM "/run/vmstatd"
/* <runtime_dir>/vms/<name>.sock must fit sun_path (108 bytes) */
#define VS_RUNTIME_DIR_MAX 59
#define VS_CONTROL_SOCKET_NAME "control.sock"

/* The default runtime directory for a process of user uid given its environment:
 *   1. runtime_directory ($RUNTIME_DIRECTORY: systemd's RuntimeDirectory=, first entry),
 *   2. /run/vmstatd for root,
 *   3. xdg ($XDG_RUNTIME_DIR, the user's own /run/user/UID) + "/vmstatd",
 *   4. /tmp/vmstatd-UID.
 * Relative or empty variables are ignored; one that leaves no room for
 * <dir>/vms/<name>.sock in a unix socket path (max_len bytes) too. Returns the length. */
size_t vs_runtime_dir_pick(uid_t uid, const char *runtime_directory, const char *xdg, size_t max_len, char *out,
                           size_t size);
/* The same for this process (geteuid, getenv). */
size_t vs_runtime_dir_default(size_t max_len, char *out, size_t size);
/* Creates dir (0750, its parent must exist) unless it exists, then checks it: a directory
 * and no symbolic link; under a world-writable parent (/tmp) also owned by this user and
 * writable by no one else, so another user cannot have planted it. 0 or -errno
 * (-ENOTDIR, -EPERM for someone else's). */
int vs_runtime_dir_make(const char *dir);

#endif
