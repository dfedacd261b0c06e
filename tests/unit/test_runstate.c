/* hv/runstate.c: offline segments, including the open one, read without locks. */
#include <pthread.h>

#include "kvm_helper.h"

static uint64_t fake_now;
static uint64_t fake_clock(void) {
        return fake_now;
}
#define AT(t) (fake_now = (t), fake_clock)

START_TEST(segments_add_up) {
        struct hv_offline o;
        hv_offline_init(&o, 1000);                 /* offline from creation */
        ck_assert_uint_eq(hv_offline_read(&o, 1500), 500);
        hv_offline_end(&o, AT(2000));                  /* started */
        ck_assert_uint_eq(hv_offline_read(&o, 9000), 1000);
        hv_offline_end(&o, AT(2500));                  /* already online: no-op */
        hv_offline_begin(&o, AT(3000));                /* paused */
        hv_offline_begin(&o, AT(3500));                /* already offline: keeps the first start */
        ck_assert_uint_eq(hv_offline_read(&o, 4000), 2000);
        hv_offline_end(&o, AT(5000));                  /* resumed */
        ck_assert_uint_eq(hv_offline_read(&o, 5000), 3000);
        ck_assert_uint_eq(hv_offline_read(&o, 6000), 3000);
}
END_TEST

START_TEST(clock_going_backwards_never_negative) {
        struct hv_offline o;
        hv_offline_init(&o, 1000);
        ck_assert_uint_eq(hv_offline_read(&o, 900), 0);
        hv_offline_end(&o, AT(800));
        ck_assert_uint_eq(hv_offline_read(&o, 1000), 0);
}
END_TEST

static struct hv_offline shared;
static _Atomic int stop;

static void *flipper(void *arg) {
        (void) arg;
        while (!atomic_load(&stop)) {
                hv_offline_end(&shared, hv_now_ns);
                hv_offline_begin(&shared, hv_now_ns);
        }
        return NULL;
}

/* A reader racing the writer, taking now before each read, sees a monotonic value. */
START_TEST(concurrent_reader_monotonic) {
        pthread_t th;
        hv_offline_init(&shared, hv_now_ns());
        atomic_store(&stop, 0);
        pthread_create(&th, NULL, flipper, NULL);
        uint64_t prev = 0, reads = 0, end = hv_now_ns() + 300 * 1000000ull;
        for (uint64_t now; (now = hv_now_ns()) < end; reads++) {
                uint64_t v = hv_offline_read(&shared, now);
                ck_assert_uint_ge(v, prev);
                prev = v;
        }
        ck_assert_uint_gt(reads, 1000);
        atomic_store(&stop, 1);
        pthread_join(th, NULL);
}
END_TEST

START_TEST(monotonic_clock) {
        uint64_t a = hv_now_ns();
        test_sleep_ms(10);
        uint64_t b = hv_now_ns();
        ck_assert_uint_ge(b - a, 10 * 1000000ull);
}
END_TEST

int main(void) {
        Suite *s = suite_create("runstate");
        TCase *tc = tcase_create("offline");
        tcase_add_test(tc, segments_add_up);
        tcase_add_test(tc, clock_going_backwards_never_negative);
        tcase_add_test(tc, concurrent_reader_monotonic);
        tcase_add_test(tc, monotonic_clock);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
