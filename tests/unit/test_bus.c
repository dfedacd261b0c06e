/* hv/bus.c: registration rules, lookup, unclaimed accesses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_helper.h"

static unsigned calls;
static uint64_t last_offset;

static void dev(struct hv_vcpu *v, void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write) {
        (void) v;
        calls++;
        last_offset = offset;
        if (!is_write)
                memset(data, *(uint8_t *) opaque, len);
}

static void free_flag(void *p) {
        *(uint8_t *) p = 0xee;
}

START_TEST(register_rules) {
        struct hv_bus bus = { 0 };
        uint8_t a = 0xa, b = 0xb;
        ck_assert_int_eq(hv_bus_register(&bus, "a", 0x100, 0x10, dev, &a, NULL), 0);
        ck_assert_int_eq(hv_bus_register(&bus, "b", 0x80, 0x80, dev, &b, NULL), 0);
        ck_assert_int_eq(hv_bus_register(&bus, "x", 0x10f, 1, dev, &a, NULL), -EEXIST);
        ck_assert_int_eq(hv_bus_register(&bus, "x", 0xff, 2, dev, &a, NULL), -EEXIST);
        ck_assert_int_eq(hv_bus_register(&bus, "x", 0x0, 0x81, dev, &a, NULL), -EEXIST);
        ck_assert_int_eq(hv_bus_register(&bus, "x", 0x200, 0, dev, &a, NULL), -EINVAL);
        ck_assert_int_eq(hv_bus_register(&bus, "x", UINT64_MAX, 2, dev, &a, NULL), -EINVAL);
        ck_assert_int_eq(hv_bus_register(&bus, "c", 0x110, 1, dev, &a, NULL), 0); /* adjacent is fine */
        ck_assert_uint_eq(bus.n, 3);
        ck_assert_uint_eq(bus.ranges[0].base, 0x80); /* kept sorted */
        ck_assert_str_eq(hv_bus_find(&bus, 0xff)->name, "b");
        ck_assert_str_eq(hv_bus_find(&bus, 0x100)->name, "a");
        ck_assert_str_eq(hv_bus_find(&bus, 0x110)->name, "c");
        ck_assert_ptr_null(hv_bus_find(&bus, 0x7f));
        ck_assert_ptr_null(hv_bus_find(&bus, 0x111));
        hv_bus_free(&bus);
}
END_TEST

START_TEST(access_dispatch_and_unclaimed) {
        struct hv_bus bus = { 0 };
        uint8_t v = 0x5a, freed = 1, data[4];
        ck_assert_int_eq(hv_bus_register(&bus, "d", 0x1000, 0x100, dev, &v, NULL), 0);
        ck_assert_int_eq(hv_bus_register(&bus, "f", 0x2000, 1, dev, &freed, free_flag), 0);
        calls = 0;
        ck_assert(hv_bus_access(&bus, NULL, 0x1010, data, 4, false));
        ck_assert_uint_eq(last_offset, 0x10);
        ck_assert_uint_eq(data[3], 0x5a);
        memset(data, 0, sizeof(data));
        ck_assert(!hv_bus_access(&bus, NULL, 0x1100, data, 4, false));
        ck_assert_uint_eq(data[0] & data[1] & data[2] & data[3], 0xff); /* unclaimed reads all-ones */
        ck_assert(!hv_bus_access(&bus, NULL, 0x0, data, 2, true));
        ck_assert_uint_eq(calls, 1);
        hv_bus_free(&bus);
        ck_assert_uint_eq(freed, 0xee); /* the bus frees what it owns */
        ck_assert_uint_eq(bus.n, 0);
}
END_TEST

START_TEST(many_ranges_binary_search) {
        struct hv_bus bus = { 0 };
        uint8_t v = 1;
        for (int i = 99; i >= 0; i--) /* inserted backwards */
                ck_assert_int_eq(hv_bus_register(&bus, "r", (uint64_t) i * 16, 8, dev, &v, NULL), 0);
        for (uint64_t addr = 0; addr < 1600; addr++)
                ck_assert_int_eq(hv_bus_find(&bus, addr) != NULL, (addr % 16) < 8);
        hv_bus_free(&bus);
}
END_TEST

int main(void) {
        Suite *s = suite_create("bus");
        TCase *tc = tcase_create("bus");
        tcase_add_test(tc, register_rules);
        tcase_add_test(tc, access_dispatch_and_unclaimed);
        tcase_add_test(tc, many_ranges_binary_search);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
