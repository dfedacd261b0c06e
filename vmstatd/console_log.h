/* A VM's console log file: what the guest writes to its console ring, copied a bounded amount at
 * a time. The file is rotated to <path>.1 before it would grow past max bytes, and at most max
 * bytes go to it per sampling interval; what cannot be written (overwritten in the ring before
 * it was copied, past max in one interval, or a failed write) is dropped and counted. Not
 * thread-safe: the supervisor calls it under its lock. */
#ifndef VMSTATD_CONSOLE_LOG_H
#define VMSTATD_CONSOLE_LOG_H

#include <stdint.h>

struct hv_console;
struct vs_console_log;

/* Opens (creates, 0640) the log at path for appending; it must be a regular file, so that a
 * FIFO or a device can neither block nor swallow the daemon's writes. vm names it in messages.
 * -errno with why filled. */
int vs_console_log_open(const char *vm, const char *path, uint64_t max, struct vs_console_log **ret, char why[256]);
void vs_console_log_close(struct vs_console_log *l);
void vs_console_log_set_max(struct vs_console_log *l, uint64_t max);
/* A new console ring (the VM was re-created): copying starts at its first byte. */
void vs_console_log_reset(struct vs_console_log *l);
/* Where copying stands (ring offset), and taking over where an earlier log of the same ring
 * (an earlier daemon's) stood, with the drops it had counted. */
uint64_t vs_console_log_pos(const struct vs_console_log *l);
void vs_console_log_resume(struct vs_console_log *l, uint64_t pos, uint64_t dropped);
/* Copies what the guest had committed to ring when the call began, at most budget bytes; the
 * per-interval allowance restarts every interval_ns. Returns the bytes it read from the ring
 * (written or dropped past the cap; never more than budget): the work it did. */
uint64_t vs_console_log_copy(struct vs_console_log *l, const struct hv_console *ring, uint64_t budget,
                             uint64_t now_ns, uint64_t interval_ns);
/* Bytes dropped since the log was opened. */
uint64_t vs_console_log_dropped(const struct vs_console_log *l);

#endif
