/* vmstatd/buf.c: a buffer with a drain streams through a window of its capacity, handing every
 * byte to the drain in order, and a failed drain fails the buffer; vs_buf_presize gives an empty
 * buffer its whole room at once, its pages already resident. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "tests/suite.h"

struct sink {
        struct vs_buf got;
        unsigned calls, fail_at;
};

static int to_sink(void *ctx, const char *data, size_t len) {
        struct sink *k = ctx;
        if (++k->calls == k->fail_at)
                return -EIO;
        vs_buf_append(&k->got, data, len);
        return 0;
}

START_TEST(drain_streams_every_byte_in_order) {
        struct sink k = { 0 };
        struct vs_buf b, all;
        vs_buf_init(&b);
        vs_buf_init(&all);
        ck_assert_ptr_nonnull(vs_buf_reserve(&b, 1000));
        size_t cap = b.cap;
        b.drain = to_sink;
        b.drain_ctx = &k;
        for (unsigned i = 0; i < 5000; i++) {
                char line[64];
                int n = snprintf(line, sizeof(line), "series_%u %u\n", i, i * 7);
                if (i % 3 == 0)
                        vs_buf_printf(&b, "series_%u %u\n", i, i * 7);
                else
                        vs_buf_append(&b, line, (size_t) n);
                vs_buf_append(&all, line, (size_t) n);
                ck_assert_uint_eq(b.cap, cap);
        }
        ck_assert_uint_gt(k.calls, 10);
        ck_assert_int_eq(vs_buf_status(&b), 0);
        vs_buf_append(&k.got, b.data, b.len);
        ck_assert_uint_eq(k.got.len, all.len);
        ck_assert_int_eq(memcmp(k.got.data, all.data, all.len), 0);
        vs_buf_free(&b);
        vs_buf_free(&all);
        vs_buf_free(&k.got);
}
END_TEST

START_TEST(failed_drain_fails_the_buffer) {
        struct sink k = { .fail_at = 2 };
        struct vs_buf b;
        vs_buf_init(&b);
        ck_assert_ptr_nonnull(vs_buf_reserve(&b, 100));
        b.drain = to_sink;
        b.drain_ctx = &k;
        for (unsigned i = 0; i < 1000; i++)
                vs_buf_puts(&b, "0123456789");
        ck_assert_uint_eq(k.calls, 2); /* nothing is drained after the failure */
        ck_assert_int_eq(vs_buf_status(&b), -ENOMEM);
        vs_buf_free(&b);
        vs_buf_free(&k.got);
}
END_TEST

START_TEST(presize_gives_the_room_at_once) {
        struct vs_buf b;
        vs_buf_init(&b);
        ck_assert_int_eq(vs_buf_presize(&b, 3u << 20), 0);
        char *data = b.data;
        ck_assert_uint_gt(b.cap, (3u << 20) + (3u << 20) / 8);
        /* the first 3 MiB are resident before anything is written: faulted in by one call */
        uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
        uintptr_t from = ((uintptr_t) data + page - 1) & ~(page - 1), to = ((uintptr_t) data + (3u << 20)) & ~(page - 1);
        unsigned char vec[(3u << 20) / 4096 + 1];
        ck_assert_int_eq(mincore((void *) from, to - from, vec), 0);
        unsigned absent = 0;
        for (uintptr_t i = 0; i < (to - from) / page; i++)
                absent += !(vec[i] & 1);
        ck_assert_msg(absent == 0, "%u of %lu pages not resident after presize", absent,
                      (unsigned long) ((to - from) / page));
        for (unsigned i = 0; i < (3u << 20) / 8; i++)
                vs_buf_append(&b, "abcdefgh", 8);
        ck_assert_ptr_eq(b.data, data); /* no realloc */
        ck_assert_uint_eq(b.len, 3u << 20);
        ck_assert_int_eq(vs_buf_presize(&b, 10), -EINVAL); /* it holds memory */
        vs_buf_free(&b);
}
END_TEST

int main(void) {
        Suite *s = suite_create("buf");
        TCase *tc = tcase_create("buf");
        tcase_add_test(tc, drain_streams_every_byte_in_order);
        tcase_add_test(tc, failed_drain_fails_the_buffer);
        tcase_add_test(tc, presize_gives_the_room_at_once);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
