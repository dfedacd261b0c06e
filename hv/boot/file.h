/* Reading guest files (kernels, initrds, flat images) without ever blocking or faulting: regular
 * files only, opened O_NONBLOCK, read with pread rather than mapped. */
#ifndef HV_BOOT_FILE_H
#define HV_BOOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kvm.h"

/* An fd for path if it is a regular file, its size in *ret_size; -errno with why filled
 * ("<path>: not a regular file") otherwise. A FIFO or a device named by mistake cannot block
 * the caller (the supervisor holds its lock meanwhile). */
int hv_file_open_regular(const char *path, uint64_t *ret_size, char why[HV_WHY_LEN]);
/* Exactly len bytes from the start of fd: a file truncated while it is read (cp over the
 * configured path) is an error, not a SIGBUS that takes every VM down. */
int hv_file_read_exact(int fd, void *buf, size_t len, const char *path, char why[HV_WHY_LEN]);

#endif
