/* The worker's seccomp allowlist: once its guest is loaded, a worker needs little more than
 * the KVM_RUN loop, its control socket and its own threads; any other system call kills the
 * whole worker (SIGSYS), never the daemon or another VM.
 *
 * What no longer works after wk_seccomp_install, by design:
 *  - opening anything: open/openat, socket, connect. Everything the worker will use (/dev/kvm,
 *    VM and vCPU fds, the shared memfd, the listening control socket) is opened before. This
 *    includes the quiet opens inside libc: sysconf(_SC_NPROCESSORS_*), localtime (time zone
 *    files), getpwnam, reading /proc.
 *  - naming another thread: pthread_setname_np(t, ...) with t != pthread_self() writes
 *    /proc/self/task/<tid>/comm through open. A thread names itself (glibc uses
 *    prctl(PR_SET_NAME) then, as hv's vCPU threads do), or names are set before install.
 *  - fork, vfork, exec, ptrace, kill, signals to other processes (tgkill only into this
 *    process), executable mappings (mmap/mprotect with PROT_EXEC), ioctls other than KVM's
 *    (and TCGETS, stdio's isatty), a second filter.
 * A new system call on the worker's path after install is a new row in sandbox.c's table.
 *
 * ASan builds (make SAN=1) also let the runtime's reports through (read-only opens, readlink,
 * pipe2), and a sandboxed process skips LeakSanitizer's check at exit, which would need ptrace. */

#ifndef WORKER_SANDBOX_H
#define WORKER_SANDBOX_H

#include <stddef.h>

/* Installs the allowlist for every thread of the process (threads started later inherit it);
 * default action: kill the process. Call once, after the guest is loaded and before the
 * vCPU threads start. Returns 0, or -errno with one actionable sentence in why (why_len bytes,
 * may be 0). On failure nothing is filtered (no_new_privs may be set: it only forbids gaining
 * privileges through exec). */
int wk_seccomp_install(char *why, size_t why_len);

/* Makes one system call the allowlist forbids (socket(AF_INET, SOCK_STREAM)): for tests that
 * show a sandboxed worker dies of it alone. Returns only without a filter: the socket's
 * result (an fd the caller closes, or -errno). */
int wk_seccomp_selftest_forbidden(void);

#endif
