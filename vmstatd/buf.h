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
};

void vs_buf_init(struct vs_buf *b);
void vs_buf_free(struct vs_buf *b);
void vs_buf_reset(struct vs_buf *b); /* len = 0, keeps the memory */
void vs_buf_append(struct vs_buf *b, const void *data, size_t len);
void vs_buf_puts(struct vs_buf *b, const char *s);
/* Room for n more bytes at data + len (NULL on failure); vs_buf_commit then adds what was
 * written there. */
char *vs_buf_reserve(struct vs_buf *b, size_t n);
void vs_buf_commit(struct vs_buf *b, size_t n);
void vs_buf_printf(struct vs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -ENOMEM if any append failed, else 0 */
int vs_buf_status(const struct vs_buf *b);

#endif
