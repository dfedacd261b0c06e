/* hv/counters.c: names, histogram buckets, snapshot. */
#include <string.h>

#include "kvm_helper.h"

START_TEST(exit_names_unique_and_complete) {
        for (unsigned i = 0; i < HV_EXIT__COUNT; i++) {
                ck_assert_ptr_nonnull(hv_exit_name(i));
                ck_assert_str_ne(hv_exit_name(i), "invalid");
                for (unsigned j = 0; j < i; j++)
                        ck_assert_str_ne(hv_exit_name(i), hv_exit_name(j));
        }
        ck_assert_str_eq(hv_exit_name(HV_EXIT_IO_OUT), "io_out");
        ck_assert_str_eq(hv_exit_name(HV_EXIT__COUNT), "invalid");
}
END_TEST

START_TEST(hist_buckets_log2) {
        ck_assert_uint_eq(hv_hist_bucket(0), 0);
        ck_assert_uint_eq(hv_hist_bucket(1), 0);
        ck_assert_uint_eq(hv_hist_bucket(2), 1);
        ck_assert_uint_eq(hv_hist_bucket(3), 1);
        ck_assert_uint_eq(hv_hist_bucket(1024), 10);
        ck_assert_uint_eq(hv_hist_bucket(2047), 10);
        ck_assert_uint_eq(hv_hist_bucket(1ull << 40), HV_HIST_BUCKETS - 1);
        ck_assert_uint_eq(hv_hist_bucket(UINT64_MAX), HV_HIST_BUCKETS - 1);
}
END_TEST

START_TEST(snapshot_and_total) {
        struct hv_vcpu_counters c;
        struct hv_counters s;
        memset(&c, 0, sizeof(c));
        hv_counter_add(&c.exits[HV_EXIT_IO_OUT], 3);
        hv_counter_add(&c.exits[HV_EXIT_INTR], 2);
        hv_counter_add(&c.runs, 5);
        hv_counter_add(&c.handle_ns_hist[4], 5);
        hv_counters_read(&c, &s);
        ck_assert_uint_eq(s.runs, 5);
        ck_assert_uint_eq(hv_counters_exits_total(&s), 5);
        ck_assert_uint_eq(s.handle_ns_hist[4], 5);
        ck_assert_uint_eq(_Alignof(struct hv_vcpu_counters), 64);
}
END_TEST

int main(void) {
        Suite *s = suite_create("counters");
        TCase *tc = tcase_create("counters");
        tcase_add_test(tc, exit_names_unique_and_complete);
        tcase_add_test(tc, hist_buckets_log2);
        tcase_add_test(tc, snapshot_and_total);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
