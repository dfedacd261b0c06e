/* igzip (ISA-L) at level 1, by measurement on the 5.2 MB text body of 256 VMs x 4 vCPUs, fed in
 * 128 KiB windows as a render makes it (best of 7 on this machine's thread CPU clock):
 *   igzip 1, 84 KiB level buffer   2.4 ms  326 kB   <- this
 *   igzip 1, 276 KiB (its default)  2.3 ms  341 kB
 *   igzip 0                         2.1 ms  494 kB
 *   libdeflate 1 (whole buffer)     7.0 ms  300 kB   (what vmstatd used before)
 *   zlib 1 / zlib 6                14.7 ms 333 kB / 38 ms 306 kB
 * A body 9% larger than libdeflate's for a third of the CPU, and a stream: the text need not be
 * whole first. The smaller level buffer closes blocks sooner, which fits this text's changing
 * statistics (a family's names, then its numbers) better than the default. */
#include "gzip.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LEVEL_BUF ISAL_DEF_LVL1_SMALL
/* the text window a streamed render fills before it is compressed: stays in the heap and the
 * CPU's cache, where a whole 5 MB body faults in 1,300 fresh pages */
#define WINDOW (128u << 10)

struct vs_gzip {
        struct isal_zstream z;
        struct vs_buf *out;
        size_t text_len;
        int error;             /* of a write made by the window's drain, which vs_buf can only mark failed */
        struct vs_buf window;  /* allocated on first use, kept across restarts */
        uint8_t level_buf[LEVEL_BUF];
};

void vs_gzip_restart(struct vs_gzip *g, struct vs_buf *out) {
        isal_deflate_init(&g->z);
        g->z.level = 1;
        g->z.level_buf = g->level_buf;
        g->z.level_buf_size = sizeof(g->level_buf);
        g->z.gzip_flag = IGZIP_GZIP;
        g->out = out;
        g->text_len = 0;
        g->error = 0;
}

int vs_gzip_new(struct vs_buf *out, struct vs_gzip **ret) {
        struct vs_gzip *g = malloc(sizeof(*g));
        if (!g)
                return -ENOMEM;
        vs_buf_init(&g->window);
        vs_gzip_restart(g, out);
        *ret = g;
        return 0;
}

void vs_gzip_free(struct vs_gzip *g) {
        if (!g)
                return;
        vs_buf_free(&g->window);
        free(g);
}

size_t vs_gzip_text_len(const struct vs_gzip *g) {
        return g->text_len;
}

/* Runs igzip over the pending input until it has taken all of it (and, at the end, written the
 * trailer), growing out as it fills. */
static int deflate_pending(struct vs_gzip *g, bool last) {
        g->z.end_of_stream = last;
        do {
                size_t room = g->z.avail_in / 4 + 4096;
                char *dst = vs_buf_reserve(g->out, room);
                if (!dst)
                        return -ENOMEM;
                g->z.next_out = (uint8_t *) dst;
                g->z.avail_out = (uint32_t) room;
                if (isal_deflate(&g->z) != COMP_OK)
                        return -EIO;
                vs_buf_commit(g->out, room - g->z.avail_out);
        } while (g->z.avail_in || (last && g->z.internal_state.state != ZSTATE_END));
        return 0;
}

int vs_gzip_write(struct vs_gzip *g, const void *text, size_t len) {
        while (len) {
                uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t) len;
                g->z.next_in = (uint8_t *) text;
                g->z.avail_in = n;
                int r = deflate_pending(g, false);
                if (r < 0)
                        return r;
                g->text_len += n;
                text = (const char *) text + n;
                len -= n;
        }
        return 0;
}

int vs_gzip_finish(struct vs_gzip *g) {
        g->z.next_in = NULL;
        g->z.avail_in = 0;
        return deflate_pending(g, true);
}

static int drain(void *ctx, const char *data, size_t len) {
        struct vs_gzip *g = ctx;
        int r = vs_gzip_write(g, data, len);
        if (r < 0 && !g->error)
                g->error = r;
        return r;
}

struct vs_buf *vs_gzip_window(struct vs_gzip *g) {
        struct vs_buf *w = &g->window;
        w->drain = NULL;
        vs_buf_reset(w);
        if (!w->data && !vs_buf_reserve(w, WINDOW - 1))
                return NULL;
        w->drain = drain;
        w->drain_ctx = g;
        return w;
}

int vs_gzip_window_end(struct vs_gzip *g) {
        struct vs_buf *w = &g->window;
        int r = g->error ? g->error : vs_buf_status(w);
        if (r == 0)
                r = vs_gzip_write(g, w->data, w->len);
        if (r == 0)
                r = vs_gzip_finish(g);
        w->drain = NULL;
        vs_buf_reset(w);
        if (w->cap > WINDOW) /* a line longer than the window grew it: not kept */
                vs_buf_free(w);
        return r;
}

int vs_gzip_all(const void *in, size_t len, struct vs_buf *out) {
        struct vs_gzip *g;
        int r = vs_gzip_new(out, &g);
        if (r < 0)
                return r;
        r = vs_gzip_write(g, in, len);
        if (r == 0)
                r = vs_gzip_finish(g);
        vs_gzip_free(g);
        return r;
}

int vs_gunzip(const void *gz, size_t gz_len, size_t text_len, struct vs_buf *out) {
        if (gz_len > UINT32_MAX || text_len >= UINT32_MAX)
                return -EFBIG;
        struct inflate_state *s = malloc(sizeof(*s));
        if (!s)
                return -ENOMEM;
        int r = vs_buf_presize(out, text_len);
        if (r == 0) {
                isal_inflate_init(s);
                s->crc_flag = ISAL_GZIP;
                s->next_in = (uint8_t *) gz;
                s->avail_in = (uint32_t) gz_len;
                s->next_out = (uint8_t *) out->data + out->len;
                s->avail_out = (uint32_t) text_len + 1; /* one more: a longer text shows */
                if (isal_inflate(s) != ISAL_DECOMP_OK || s->block_state != ISAL_BLOCK_FINISH ||
                    s->total_out != text_len)
                        r = -EIO;
                else
                        vs_buf_commit(out, text_len);
        }
        free(s);
        return r;
}
