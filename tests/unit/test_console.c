/* hv/devices/console.c: the console ring. Wrap-around, and the publication rule under
 * concurrency: a reader sees only bytes their writer has stored, each writer's bytes in the
 * order it wrote them. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "devices/devices.h"
#include "kvm_helper.h"

START_TEST(console_ring_wraps) {
        struct hv_console *c;
        char buf[64];
        ck_assert_int_eq(hv_console_new(100, &c), -EINVAL); /* power of two only */
        ck_assert_int_eq(hv_console_new(16, &c), 0);
        ck_assert_uint_eq(hv_console_tail(c, buf, sizeof(buf)), 0);
        hv_console_write(c, (const uint8_t *) "hello ", 6);
        ck_assert_uint_eq(hv_console_tail(c, buf, sizeof(buf)), 6);
        ck_assert(memcmp(buf, "hello ", 6) == 0);
        hv_console_write(c, (const uint8_t *) "wonderful world", 15);
        ck_assert_uint_eq(hv_console_total(c), 21);
        ck_assert_uint_eq(hv_console_tail(c, buf, sizeof(buf)), 16); /* only the last 16 survive */
        ck_assert(memcmp(buf, " wonderful world", 16) == 0);
        ck_assert_uint_eq(hv_console_tail(c, buf, 5), 5);
        ck_assert(memcmp(buf, "world", 5) == 0);
        uint64_t pos = 0; /* the oldest 5 bytes were overwritten: reading starts after them */
        ck_assert_uint_eq(hv_console_read(c, &pos, buf, 4), 4);
        ck_assert_uint_eq(pos, 9);
        ck_assert(memcmp(buf, " won", 4) == 0);
        ck_assert_uint_eq(hv_console_read(c, &pos, buf, sizeof(buf)), 12);
        ck_assert(memcmp(buf, "derful world", 12) == 0);
        ck_assert_uint_eq(hv_console_read(c, &pos, buf, sizeof(buf)), 0);
        hv_console_free(c);
        hv_console_free(NULL);
}
END_TEST

/* A reservation a writer has not filled yet ends what readers get, and the rest follows once
 * it is filled: driven by hand through two interleaved writes of one "vCPU". */
START_TEST(console_ring_zero_bytes_are_data) {
        struct hv_console *c;
        char buf[8];
        ck_assert_int_eq(hv_console_new(8, &c), 0);
        hv_console_write(c, (const uint8_t *) "\0\0\0", 3); /* a guest may write NULs: they are bytes */
        uint64_t pos = 0;
        ck_assert_uint_eq(hv_console_read(c, &pos, buf, sizeof(buf)), 3);
        ck_assert(memcmp(buf, "\0\0\0", 3) == 0);
        hv_console_write(c, (const uint8_t *) "abcdefgh", 8); /* a whole lap later */
        ck_assert_uint_eq(hv_console_read(c, &pos, buf, sizeof(buf)), 8);
        ck_assert_uint_eq(pos, 11);
        ck_assert(memcmp(buf, "abcdefgh", 8) == 0);
        hv_console_free(c);
}
END_TEST

/* Two writers and a reader on a small ring. Writer w's bytes run through its own alphabet
 * (1..127 or 129..255, never 0 or 128, which the ring never held), one after the other, in
 * chunks of 1 to 31 bytes. Every byte the reader gets must be the next of its writer's
 * sequence, unless the reader fell a lap behind (then the read skips and says so by moving
 * pos further than it returned). A reader that could see a reserved slot before its store sees
 * 0 (first lap) or an old lap's byte there, which breaks its writer's sequence. */
#define RING 4096
#define WRITE_BYTES (24u << 20)

struct race {
        struct hv_console *c;
        _Atomic int writers_done;
};

static uint8_t seq_byte(unsigned w, uint64_t i) {
        return (uint8_t) (w * 128 + 1 + i % 127);
}

static void *writer(void *arg) {
        struct race *r = arg;
        static _Atomic unsigned next_id;
        unsigned w = atomic_fetch_add(&next_id, 1) % 2;
        uint8_t chunk[32];
        uint64_t i = 0;
        for (unsigned k = 0; i < WRITE_BYTES / 2; k++) {
                size_t len = 1 + (k * 7 + w) % 31;
                if (len > WRITE_BYTES / 2 - i)
                        len = WRITE_BYTES / 2 - i;
                for (size_t j = 0; j < len; j++)
                        chunk[j] = seq_byte(w, i + j);
                hv_console_write(r->c, chunk, len);
                i += len;
        }
        atomic_fetch_add(&r->writers_done, 1);
        return NULL;
}

START_TEST(console_ring_readers_see_committed_bytes_in_order) {
        struct race r = { 0 };
        pthread_t t[2];
        ck_assert_int_eq(hv_console_new(RING, &r.c), 0);
        for (int i = 0; i < 2; i++)
                ck_assert_int_eq(pthread_create(&t[i], NULL, writer, &r), 0);
        uint64_t pos = 0, got = 0, laps_lost = 0, bad = 0;
        int expect[2] = { -1, -1 }; /* the next byte of each writer, -1 = any (after a skip) */
        char buf[RING], first_bad[160] = "";
        while (atomic_load(&r.writers_done) < 2 || pos < hv_console_total(r.c)) {
                uint64_t before = pos;
                size_t n = hv_console_read(r.c, &pos, buf, sizeof(buf));
                if (pos - before != n) { /* lapped: those bytes are gone, sequences restart */
                        laps_lost++;
                        expect[0] = expect[1] = -1;
                }
                for (size_t i = 0; i < n; i++) {
                        uint8_t b = (uint8_t) buf[i];
                        unsigned w = b >> 7;
                        if ((b & 0x7f) == 0 || (expect[w] >= 0 && b != expect[w])) {
                                if (!bad++)
                                        snprintf(first_bad, sizeof(first_bad),
                                                 "at offset %llu: byte %u, expected %d from writer %u",
                                                 (unsigned long long) (pos - n + i), b, expect[w], w);
                                expect[0] = expect[1] = -1;
                                continue;
                        }
                        expect[w] = seq_byte(w, (b & 0x7f) % 127); /* the byte after b */
                }
                got += n;
        }
        for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
        fprintf(stderr, "console ring: %llu bytes read of %llu written, %llu reads fell a lap behind\n",
                (unsigned long long) got, (unsigned long long) hv_console_total(r.c), (unsigned long long) laps_lost);
        ck_assert_msg(bad == 0, "%llu bytes read out of their writer's order (first %s)", (unsigned long long) bad,
                      first_bad);
        ck_assert_uint_eq(hv_console_total(r.c), WRITE_BYTES);
        ck_assert_uint_gt(got, 0);
        /* once the writers are done, everything still in the ring is readable */
        uint64_t tail_pos = hv_console_total(r.c) - RING;
        ck_assert_uint_eq(hv_console_read(r.c, &tail_pos, buf, sizeof(buf)), RING);
        hv_console_free(r.c);
}
END_TEST

/* builtin:console writes exactly count numbered lines per vCPU, each vCPU's in order, and ends */
START_TEST(console_guest_lines) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "con", 2, &(struct hv_builtin) { .guest = "console", .count = 1000 });
        test_run_to_end(vm, 30000);
        test_assert_exit_code(vm, 0);
        ck_assert_uint_eq(hv_console_total(vm->console), 2 * 1000 * 15);
        static char text[2 * 1000 * 15 + 1];
        uint64_t pos = 0;
        ck_assert_uint_eq(hv_console_read(vm->console, &pos, text, sizeof(text)), 2 * 1000 * 15);
        unsigned next[2] = { 1, 1 };
        for (size_t at = 0; at < 2 * 1000 * 15; at += 15) {
                unsigned id, line;
                char nl;
                ck_assert_msg(sscanf(text + at, "c%2u %10u%c", &id, &line, &nl) == 3 && nl == '\n' && id < 2,
                              "line at %zu: '%.15s'", at, text + at);
                ck_assert_uint_eq(line, next[id]++);
        }
        ck_assert_uint_eq(next[0], 1001);
        ck_assert_uint_eq(next[1], 1001);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("console");
        TCase *tc = tcase_create("console");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, console_ring_wraps);
        tcase_add_test(tc, console_ring_zero_bytes_are_data);
        tcase_add_test(tc, console_ring_readers_see_committed_bytes_in_order);
        tcase_add_test(tc, console_guest_lines);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
