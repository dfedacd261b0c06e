/* hv/runstate.c: offline segments, including the open one, read without locks. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "kvm_helper.h"

static uint64_t fake_now;
static uint64_t fake_clock(void) {
        return fake_now;
}
#define AT(t) (fake_now = (t), fake_clock)

START_TEST(segments_add_up) {
        struct hv_offline o;
        hv_offline_init(&o, 1000);                 /* offline from creation */
        ck_assert_uint_eq(hv_offline_read(&o, AT(1500), NULL), 500);
        hv_offline_end(&o, AT(2000));                  /* started */
        ck_assert_uint_eq(hv_offline_read(&o, AT(9000), NULL), 1000);
        hv_offline_end(&o, AT(2500));                  /* already online: no-op */
        hv_offline_begin(&o, AT(3000));                /* paused */
        hv_offline_begin(&o, AT(3500));                /* already offline: keeps the first start */
        ck_assert_uint_eq(hv_offline_read(&o, AT(4000), NULL), 2000);
        hv_offline_end(&o, AT(5000));                  /* resumed */
        ck_assert_uint_eq(hv_offline_read(&o, AT(5000), NULL), 3000);
        ck_assert_uint_eq(hv_offline_read(&o, AT(6000), NULL), 3000);
}
END_TEST

START_TEST(clock_going_backwards_never_negative) {
        struct hv_offline o;
        hv_offline_init(&o, 1000);
        ck_assert_uint_eq(hv_offline_read(&o, AT(900), NULL), 0);
        hv_offline_end(&o, AT(800));
        ck_assert_uint_eq(hv_offline_read(&o, AT(1000), NULL), 0);
}
END_TEST

static struct hv_offline shared;
static _Atomic int stop;

static void *flipper(void *arg) {
        (void) arg;
        while (!atomic_load(&stop)) { /* far busier than any real writer (pause/resume) */
                hv_offline_end(&shared, hv_now_ns);
                sched_yield();
                hv_offline_begin(&shared, hv_now_ns);
                sched_yield();
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
        for (uint64_t now = 0; now < end; reads++) {
                uint64_t v = hv_offline_read(&shared, hv_now_ns, &now);
                ck_assert_uint_ge(v, prev);
                prev = v;
        }
        ck_assert_uint_gt(reads, 100);
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

static uint64_t sum4(const uint64_t d[HV_RS__COUNT]) {
        return d[0] + d[1] + d[2] + d[3];
}

static void split(struct hv_runstate_acc *a, uint64_t now, uint64_t cpu, uint64_t delay, uint64_t off,
                  uint64_t d[HV_RS__COUNT], uint64_t *w) {
        struct hv_runstate_in in = { .now_ns = now, .cpu_ns = cpu, .run_delay_ns = delay, .offline_ns = off };
        hv_runstate_split(a, &in, d, w);
        ck_assert_uint_eq(sum4(d), *w);
        ck_assert_uint_eq(sum4(a->total), a->t - 1000); /* all accounts start at t0 = 1000 */
}

START_TEST(split_plain) {
        struct hv_runstate_acc a;
        uint64_t d[HV_RS__COUNT], w;
        hv_runstate_init(&a, 1000);
        split(&a, 1000 + 100, 50, 20, 10, d, &w);
        ck_assert_uint_eq(w, 100);
        ck_assert_uint_eq(d[HV_RS_RUNNING], 50);
        ck_assert_uint_eq(d[HV_RS_RUNNABLE], 20);
        ck_assert_uint_eq(d[HV_RS_OFFLINE], 10);
        ck_assert_uint_eq(d[HV_RS_BLOCKED], 20);
}
END_TEST

/* run_delay that lands late (more than fits the interval) is carried, never negative */
START_TEST(split_late_run_delay) {
        struct hv_runstate_acc a;
        uint64_t d[HV_RS__COUNT], w;
        hv_runstate_init(&a, 1000);
        split(&a, 1100, 60, 0, 0, d, &w);        /* run_delay not yet accounted by the kernel */
        ck_assert_uint_eq(d[HV_RS_BLOCKED], 40);
        split(&a, 1200, 120, 90, 0, d, &w);      /* 90 ns of delay land at once; only 40 fit */
        ck_assert_uint_eq(d[HV_RS_RUNNING], 60);
        ck_assert_uint_eq(d[HV_RS_RUNNABLE], 40);
        ck_assert_uint_eq(d[HV_RS_BLOCKED], 0);
        ck_assert_uint_eq(a.pending[1], 50);
        split(&a, 1300, 130, 90, 0, d, &w);      /* the carry is published next */
        ck_assert_uint_eq(d[HV_RS_RUNNING], 10);
        ck_assert_uint_eq(d[HV_RS_RUNNABLE], 50);
        ck_assert_uint_eq(d[HV_RS_BLOCKED], 40);
        ck_assert_uint_eq(a.total[HV_RS_RUNNABLE], 90);
        ck_assert_uint_eq(a.pending[1], 0);
}
END_TEST

/* a clock that steps back yields an empty interval; time is not counted twice */
START_TEST(split_clock_step) {
        struct hv_runstate_acc a;
        uint64_t d[HV_RS__COUNT], w;
        hv_runstate_init(&a, 1000);
        split(&a, 2000, 500, 0, 0, d, &w);
        split(&a, 1500, 700, 0, 0, d, &w);       /* now went backwards */
        ck_assert_uint_eq(w, 0);
        ck_assert_uint_eq(sum4(d), 0);
        ck_assert_uint_eq(a.t, 2000);
        split(&a, 2100, 700, 0, 0, d, &w);
        ck_assert_uint_eq(w, 100);
        ck_assert_uint_eq(d[HV_RS_RUNNING], 100); /* 200 pending, 100 fit */
        split(&a, 2200, 700, 0, 0, d, &w);
        ck_assert_uint_eq(d[HV_RS_RUNNING], 100);
        ck_assert_uint_eq(a.total[HV_RS_RUNNING], 700);
}
END_TEST

START_TEST(split_zero_length) {
        struct hv_runstate_acc a;
        uint64_t d[HV_RS__COUNT], w;
        hv_runstate_init(&a, 1000);
        split(&a, 1000, 5, 5, 5, d, &w);
        ck_assert_uint_eq(w, 0);
        ck_assert_uint_eq(sum4(d), 0);
        split(&a, 1100, 5, 5, 5, d, &w);
        ck_assert_uint_eq(d[HV_RS_OFFLINE] + d[HV_RS_RUNNING] + d[HV_RS_RUNNABLE], 15);
}
END_TEST

/* an input that steps back adds nothing until it passes its high-water mark */
START_TEST(split_input_backwards) {
        struct hv_runstate_acc a;
        uint64_t d[HV_RS__COUNT], w;
        hv_runstate_init(&a, 1000);
        split(&a, 1100, 80, 0, 0, d, &w);
        split(&a, 1200, 10, 0, 0, d, &w);
        ck_assert_uint_eq(d[HV_RS_RUNNING], 0);
        split(&a, 1300, 70, 0, 0, d, &w);
        ck_assert_uint_eq(d[HV_RS_RUNNING], 0);
        split(&a, 1400, 100, 0, 0, d, &w);
        ck_assert_uint_eq(d[HV_RS_RUNNING], 20);
        ck_assert_uint_eq(a.total[HV_RS_RUNNING], 100);
}
END_TEST

/* random inputs, including skew and overshoot: the sum is exact and totals monotonic */
START_TEST(split_random_invariant) {
        struct hv_runstate_acc a;
        uint64_t d[HV_RS__COUNT], w, now = 1000, cpu = 0, delay = 0, off = 0, prev[HV_RS__COUNT] = { 0 };
        unsigned seed = 12345;
        hv_runstate_init(&a, 1000);
        for (int i = 0; i < 100000; i++) {
                uint64_t step = (uint64_t) rand_r(&seed) % 1000;
                now += step;
                cpu += (uint64_t) rand_r(&seed) % (step + 200);
                delay += (uint64_t) rand_r(&seed) % (step / 2 + 1);
                if (rand_r(&seed) % 10 == 0)
                        off += (uint64_t) rand_r(&seed) % (step + 1);
                split(&a, now, cpu, delay, off, d, &w);
                for (unsigned s = 0; s < HV_RS__COUNT; s++) {
                        ck_assert_uint_ge(a.total[s], prev[s]);
                        prev[s] = a.total[s];
                }
        }
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
        TCase *sp = tcase_create("split");
        tcase_add_test(sp, split_plain);
        tcase_add_test(sp, split_late_run_delay);
        tcase_add_test(sp, split_clock_step);
        tcase_add_test(sp, split_zero_length);
        tcase_add_test(sp, split_input_backwards);
        tcase_add_test(sp, split_random_invariant);
        suite_add_tcase(s, sp);
        return test_run_suite(s);
}
