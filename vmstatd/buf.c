#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void vs_buf_init(struct vs_buf *b) {
        *b = (struct vs_buf) { 0 };
}

void vs_buf_free(struct vs_buf *b) {
        free(b->data);
        vs_buf_init(b);
}

void vs_buf_reset(struct vs_buf *b) {
        b->len = 0;
        b->failed = false;
}

int vs_buf_presize(struct vs_buf *b, size_t n) {
        if (b->data || b->failed)
                return -EINVAL;
        if (!vs_buf_reserve(b, n + n / 8))
                return -ENOMEM;
        /* Fault the pages in with one call, not one trap per 4 KiB page. Advice only: a kernel
         * without MADV_POPULATE_WRITE (5.14) faults them in as they are written. */
        long page = sysconf(_SC_PAGESIZE);
        uintptr_t from = ((uintptr_t) b->data + (uintptr_t) page - 1) & ~((uintptr_t) page - 1);
        uintptr_t to = ((uintptr_t) b->data + n) & ~((uintptr_t) page - 1);
        if (to > from)
                (void) madvise((void *) from, to - from, MADV_POPULATE_WRITE);
        return 0;
}

static bool reserve(struct vs_buf *b, size_t more) {
        if (b->failed)
                return false;
        if (b->len + more + 1 <= b->cap)
                return true;
        if (b->drain && b->len) {
                if (b->drain(b->drain_ctx, b->data, b->len) < 0) {
                        b->failed = true;
                        return false;
                }
                b->len = 0;
                if (more + 1 <= b->cap)
                        return true;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + more + 1)
                cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
                b->failed = true;
                return false;
        }
        b->data = d;
        b->cap = cap;
        return true;
}

void vs_buf_append(struct vs_buf *b, const void *data, size_t len) {
        if (!reserve(b, len))
                return;
        memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = 0;
}

char *vs_buf_reserve(struct vs_buf *b, size_t n) {
        return reserve(b, n) ? b->data + b->len : NULL;
}

void vs_buf_commit(struct vs_buf *b, size_t n) {
        b->len += n;
        b->data[b->len] = 0;
}

void vs_buf_puts(struct vs_buf *b, const char *s) {
        vs_buf_append(b, s, strlen(s));
}

void vs_buf_printf(struct vs_buf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap > b->len ? b->cap - b->len : 0;
        int n = b->failed ? -1 : vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->failed = true;
                return;
        }
        if ((size_t) n + 1 > room) {
                if (!reserve(b, (size_t) n))
                        return;
                va_start(ap, fmt);
                vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
                va_end(ap);
        }
        b->len += (size_t) n;
}

int vs_buf_status(const struct vs_buf *b) {
        return b->failed ? -ENOMEM : 0;
}
