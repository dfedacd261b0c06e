/* vmstatd/gzip.c: every gzip body it makes is the text back through zlib (an independent
 * decoder, as Prometheus' Go one is), however the text was fed: whole, in pieces of odd sizes, or
 * through a renderer's window that never holds it whole; vs_gunzip gives the text back and refuses
 * a body whose length or CRC does not match. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip.h"
#include "tests/suite.h"

/* a text like a /metrics body: repetitive names, changing numbers; n bytes */
static char *metrics_like(size_t n) {
        char *t = malloc(n + 64);
        size_t at = 0;
        for (unsigned i = 0; at < n; i++)
                at += (size_t) sprintf(t + at, "vmstatd_vcpu_runs_total{vm=\"s%03u\",vcpu=\"%u\"} %u\n", i / 4, i % 4,
                                       i * 2654435761u);
        return t;
}

/* gz through zlib's inflate (gzip wrapper): the text, or NULL if zlib refuses it */
static char *zlib_gunzip(const struct vs_buf *gz, size_t text_len) {
        char *out = malloc(text_len + 1);
        z_stream z = { .next_in = (Bytef *) gz->data, .avail_in = (uInt) gz->len, .next_out = (Bytef *) out,
                       .avail_out = (uInt) text_len + 1 };
        ck_assert_int_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
        int r = inflate(&z, Z_FINISH);
        bool ok = r == Z_STREAM_END && z.total_out == text_len && z.avail_in == 0;
        inflateEnd(&z);
        if (!ok) {
                free(out);
                return NULL;
        }
        return out;
}

static void assert_round_trip(const struct vs_buf *gz, const char *text, size_t len) {
        char *back = zlib_gunzip(gz, len);
        ck_assert_msg(back != NULL, "zlib could not inflate the %zu-byte gzip body of %zu bytes", gz->len, len);
        ck_assert_msg(memcmp(back, text, len) == 0, "the body inflates to different bytes");
        free(back);
}

START_TEST(whole_and_pieces_inflate_to_the_text) {
        size_t len = 3u << 20;
        char *text = metrics_like(len);
        struct vs_buf whole;
        vs_buf_init(&whole);
        ck_assert_int_eq(vs_gzip_all(text, len, &whole), 0);
        ck_assert_uint_lt(whole.len, len / 4); /* it compresses */
        assert_round_trip(&whole, text, len);
        static const size_t pieces[] = { 1, 7, 4096, 131071, 200000 };
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
                struct vs_buf gz;
                struct vs_gzip *g;
                vs_buf_init(&gz);
                ck_assert_int_eq(vs_gzip_new(&gz, &g), 0);
                /* 1: a byte at a time for the first 64 KiB, then the rest at once */
                size_t piece = pieces[p], at = 0;
                for (; at < len && (piece > 1 || at < 65536); at += piece)
                        ck_assert_int_eq(vs_gzip_write(g, text + at, at + piece > len ? len - at : piece), 0);
                if (at < len)
                        ck_assert_int_eq(vs_gzip_write(g, text + at, len - at), 0);
                ck_assert_uint_eq(vs_gzip_text_len(g), len);
                ck_assert_int_eq(vs_gzip_finish(g), 0);
                vs_gzip_free(g);
                assert_round_trip(&gz, text, len);
                vs_buf_free(&gz);
        }
        vs_buf_free(&whole);
        free(text);
}
END_TEST

START_TEST(empty_text_is_a_valid_body) {
        struct vs_buf gz;
        vs_buf_init(&gz);
        ck_assert_int_eq(vs_gzip_all("", 0, &gz), 0);
        ck_assert_uint_ge(gz.len, 18); /* header + empty block + trailer */
        char *back = zlib_gunzip(&gz, 0);
        ck_assert_ptr_nonnull(back);
        free(back);
        struct vs_buf text;
        vs_buf_init(&text);
        ck_assert_int_eq(vs_gunzip(gz.data, gz.len, 0, &text), 0);
        ck_assert_uint_eq(text.len, 0);
        vs_buf_free(&text);
        vs_buf_free(&gz);
}
END_TEST

/* what render_gzip does: a renderer appends to the window as to any buffer; the window stays
 * its size (the text is never whole), and the body inflates to everything appended */
START_TEST(window_streams_a_render) {
        size_t len = 2u << 20;
        char *text = metrics_like(len + 300000);
        size_t at = 0;
        struct vs_buf gz;
        struct vs_gzip *g;
        vs_buf_init(&gz);
        ck_assert_int_eq(vs_gzip_new(&gz, &g), 0);
        for (int round = 0; round < 2; round++) { /* the second on the kept memory */
                vs_buf_free(&gz);
                vs_gzip_restart(g, &gz);
                struct vs_buf *window = vs_gzip_window(g);
                ck_assert_ptr_nonnull(window);
                size_t cap = window->cap;
                at = 0;
                for (unsigned i = 0; at < len; i++) {
                        size_t n = 1 + (i * 37u) % 300;
                        if (i % 4 == 0) {
                                vs_buf_append(window, text + at, n);
                        } else {
                                char *w = vs_buf_reserve(window, n);
                                ck_assert_ptr_nonnull(w);
                                memcpy(w, text + at, n);
                                vs_buf_commit(window, n);
                        }
                        at += n;
                        ck_assert_uint_eq(window->cap, cap);
                }
                if (round == 1) { /* a piece larger than the window grows it once, and is still all there */
                        vs_buf_append(window, text + at, 2 * cap);
                        at += 2 * cap;
                }
                ck_assert_uint_eq(vs_gzip_text_len(g) + window->len, at);
                ck_assert_int_eq(vs_gzip_window_end(g), 0);
                ck_assert_uint_eq(vs_gzip_text_len(g), at);
                assert_round_trip(&gz, text, at);
        }
        vs_gzip_free(g);
        assert_round_trip(&gz, text, at);
        struct vs_buf back;
        vs_buf_init(&back);
        ck_assert_int_eq(vs_gunzip(gz.data, gz.len, at, &back), 0);
        ck_assert_uint_eq(back.len, at);
        ck_assert_int_eq(memcmp(back.data, text, at), 0);
        vs_buf_free(&back);
        vs_buf_free(&gz);
        free(text);
}
END_TEST

START_TEST(gunzip_refuses_a_wrong_length_or_crc) {
        size_t len = 100000;
        char *text = metrics_like(len);
        struct vs_buf gz, back;
        vs_buf_init(&gz);
        ck_assert_int_eq(vs_gzip_all(text, len, &gz), 0);
        static const long off[] = { -1, +1 };
        for (int i = 0; i < 2; i++) {
                vs_buf_init(&back);
                ck_assert_int_eq(vs_gunzip(gz.data, gz.len, (size_t) ((long) len + off[i]), &back), -EIO);
                vs_buf_free(&back);
        }
        gz.data[gz.len - 8] ^= 1; /* the trailer's CRC-32 */
        vs_buf_init(&back);
        ck_assert_int_eq(vs_gunzip(gz.data, gz.len, len, &back), -EIO);
        vs_buf_free(&back);
        vs_buf_free(&gz);
        free(text);
}
END_TEST

int main(void) {
        Suite *s = suite_create("gzip");
        TCase *tc = tcase_create("gzip");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, whole_and_pieces_inflate_to_the_text);
        tcase_add_test(tc, empty_text_is_a_valid_body);
        tcase_add_test(tc, window_streams_a_render);
        tcase_add_test(tc, gunzip_refuses_a_wrong_length_or_crc);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
