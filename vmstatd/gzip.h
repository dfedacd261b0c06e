/* gzip for /metrics and the web page, with ISA-L's igzip: a stream a renderer writes into as it
 * goes (vs_buf_drain), so a gzip-only scrape never holds the whole text body, and the whole-
 * buffer helpers around it. Library code: returns -errno, never logs. */
#ifndef VMSTATD_GZIP_H
#define VMSTATD_GZIP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct vs_gzip;

/* A gzip member written to out (appended) as text is fed to it. */
int vs_gzip_new(struct vs_buf *out, struct vs_gzip **ret);
/* Compresses len more bytes of text; -ENOMEM, or -EIO if igzip refuses. */
int vs_gzip_write(struct vs_gzip *g, const void *text, size_t len);
/* Ends the member (trailer with CRC-32 and length): out then holds the whole gzip body. */
int vs_gzip_finish(struct vs_gzip *g);
/* Starts a new member into out, keeping the memory (about 300 KiB) of the last one. */
void vs_gzip_restart(struct vs_gzip *g, struct vs_buf *out);
/* Text bytes fed so far. */
size_t vs_gzip_text_len(const struct vs_gzip *g);
void vs_gzip_free(struct vs_gzip *g); /* NULL is fine */

/* g's text buffer, emptied, whose full windows (128 KiB) go to g instead of growing: a renderer
 * writes into it as into any vs_buf. NULL without memory. vs_gzip_window_end feeds what is left
 * and finishes the member. */
struct vs_buf *vs_gzip_window(struct vs_gzip *g);
int vs_gzip_window_end(struct vs_gzip *g);

/* in[0, len) gzipped into out (appended). */
int vs_gzip_all(const void *in, size_t len, struct vs_buf *out);
/* A gzip body back to its text, which must be text_len bytes; -EIO if it is not or the CRC fails. */
int vs_gunzip(const void *gz, size_t gz_len, size_t text_len, struct vs_buf *out);

#endif
