/* A growable byte buffer for renderers. Appends after an allocation failure are ignored and
 * the failure is sticky, so renderers check once at the end. */
#ifndef VMSTATD_BUF_H
#define VMSTATD_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct vs_buf {
        char *data;
        size_t len, cap;
        bool failed;
        /* When set, a full buffer hands its bytes to drain (they then leave it) before it would
         * grow: what a renderer writes streams through a window of cap bytes. A failed drain
         * fails the buffer. */
        int (*drain)(void *ctx, const char *data, size_t len);
        void *drain_ctx;
};

void vs_buf_init(struct vs_buf *b);
void vs_buf_free(struct vs_buf *b);
void vs_buf_reset(struct vs_buf *b); /* len = 0, keeps the memory */
void vs_buf_append(struct vs_buf *b, const void *data, size_t len);
void vs_buf_puts(struct vs_buf *b, const char *s);
/* Room for n more bytes at data + len (NULL on failure); vs_buf_commit then adds what was
 * written there. */
char *vs_buf_reserve(struct vs_buf *b, size_t n);
/* Gives an empty buffer room for n bytes and an eighth more at once, the first n faulted in by
 * one call (MADV_POPULATE_WRITE), not one trap per 4 KiB page as they are written: on this nested
 * host a trap costs 4-5 us, 6 ms for a 5 MB body. -EINVAL if b holds memory. */
int vs_buf_presize(struct vs_buf *b, size_t n);
void vs_buf_commit(struct vs_buf *b, size_t n);
void vs_buf_printf(struct vs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -ENOMEM if any append failed, else 0 */
int vs_buf_status(const struct vs_buf *b);

#endif
