/* hv/devices/rtc.c: the CMOS clock reads the host's UTC time the way Linux reads it at boot,
 * and the rest of CMOS is plain storage. */
#include <string.h>
#include <time.h>

#include "boot/layout.h"
#include "kvm_helper.h"

static uint8_t cmos_read(struct hv_vm *vm, uint8_t index) {
        test_outb(vm, HV_PORT_RTC, index);
        return test_inb(vm, HV_PORT_RTC + 1);
}

static void cmos_write(struct hv_vm *vm, uint8_t index, uint8_t v) {
        test_outb(vm, HV_PORT_RTC, index);
        test_outb(vm, HV_PORT_RTC + 1, v);
}

static unsigned bcd(uint8_t v) {
        ck_assert_msg((v & 0x0f) < 10 && (v >> 4) < 10, "0x%02x is not BCD", v);
        return (v >> 4) * 10 + (v & 0x0f);
}

/* What mach_get_cmos_time() does: seconds first, then the rest, BCD per register B. */
static time_t read_clock(struct hv_vm *vm) {
        struct tm tm = { 0 };
        tm.tm_sec = (int) bcd(cmos_read(vm, 0x00));
        tm.tm_min = (int) bcd(cmos_read(vm, 0x02));
        tm.tm_hour = (int) bcd(cmos_read(vm, 0x04));
        tm.tm_mday = (int) bcd(cmos_read(vm, 0x07));
        tm.tm_mon = (int) bcd(cmos_read(vm, 0x08)) - 1;
        tm.tm_year = (int) (bcd(cmos_read(vm, 0x32)) * 100 + bcd(cmos_read(vm, 0x09))) - 1900;
        ck_assert_uint_ge(bcd(cmos_read(vm, 0x06)), 1);
        ck_assert_uint_le(bcd(cmos_read(vm, 0x06)), 7);
        return timegm(&tm);
}

START_TEST(clock_is_host_utc) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "rtc-time");
        ck_assert_uint_eq(cmos_read(vm, 0x0b), 0x02); /* 24-hour, BCD */
        time_t before = time(NULL);
        time_t t = read_clock(vm);
        time_t after = time(NULL);
        ck_assert_int_ge(t, before - 2);
        ck_assert_int_le(t, after + 2);
        struct tm tm;
        gmtime_r(&t, &tm);
        ck_assert_uint_eq(bcd(cmos_read(vm, 0x06)), (unsigned) tm.tm_wday + 1);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* Each read sequence is one instant, even across second (and minute, hour) rollovers. */
START_TEST(clock_reads_are_consistent) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "rtc-roll");
        time_t first = time(NULL);
        unsigned rollovers = 0;
        time_t last = 0;
        while (rollovers < 1 && time(NULL) - first < 3) {
                time_t before = time(NULL);
                time_t t = read_clock(vm);
                time_t after = time(NULL);
                ck_assert_int_ge(t, before);
                ck_assert_int_le(t, after);
                rollovers += last && t != last;
                last = t;
        }
        ck_assert_uint_ge(rollovers, 1);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(status_registers) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "rtc-status");
        for (int i = 0; i < 100; i++)
                ck_assert_uint_eq(cmos_read(vm, 0x0a), 0x26); /* UIP never set */
        ck_assert_uint_eq(cmos_read(vm, 0x0c), 0x00);
        ck_assert_uint_eq(cmos_read(vm, 0x0d), 0x80);
        cmos_write(vm, 0x0d, 0x00); /* read-only */
        ck_assert_uint_eq(cmos_read(vm, 0x0d), 0x80);
        cmos_write(vm, 0x0a, 0xa6); /* UIP is read-only, the rate bits are not */
        ck_assert_uint_eq(cmos_read(vm, 0x0a), 0x26);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(time_writes_ignored) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "rtc-set");
        cmos_write(vm, 0x09, 0x99);
        cmos_write(vm, 0x32, 0x19);
        time_t before = time(NULL);
        time_t t = read_clock(vm);
        ck_assert_int_ge(t, before - 2);
        ck_assert_int_le(t, time(NULL) + 2);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* Register B's data mode and hour format are honoured. */
START_TEST(binary_and_12_hour_modes) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "rtc-modes");
        cmos_write(vm, 0x0b, 0x06); /* binary, 24-hour */
        time_t before = time(NULL);
        uint8_t sec = cmos_read(vm, 0x00), year = cmos_read(vm, 0x09), month = cmos_read(vm, 0x08);
        struct tm tm;
        gmtime_r(&before, &tm);
        ck_assert_uint_lt(sec, 60);
        ck_assert_uint_eq(year, tm.tm_year % 100); /* fails only at a New Year rollover */
        ck_assert_uint_eq(month, tm.tm_mon + 1);

        cmos_write(vm, 0x0b, 0x00); /* BCD, 12-hour */
        for (;;) {
                time_t t0 = time(NULL);
                cmos_read(vm, 0x00); /* fresh snapshot */
                uint8_t h = cmos_read(vm, 0x04);
                if (time(NULL) != t0)
                        continue; /* straddled a second: the hour may have changed, try again */
                gmtime_r(&t0, &tm);
                unsigned want = tm.tm_hour % 12 ? (unsigned) tm.tm_hour % 12 : 12;
                ck_assert_uint_eq(bcd(h & 0x7f), want);
                ck_assert_uint_eq(!!(h & 0x80), tm.tm_hour >= 12);
                break;
        }
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(cmos_storage_and_nmi_bit) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "rtc-cmos");
        for (unsigned i = 0x0e; i < 0x80; i++)
                if (i != 0x32)
                        cmos_write(vm, (uint8_t) i, (uint8_t) (i ^ 0x5a));
        for (unsigned i = 0x0e; i < 0x80; i++)
                if (i != 0x32)
                        ck_assert_uint_eq(cmos_read(vm, (uint8_t) i), i ^ 0x5a);
        cmos_write(vm, 0x01, 0x45); /* the alarm registers are storage too */
        ck_assert_uint_eq(cmos_read(vm, 0x01), 0x45);
        /* bit 7 of the index is the NMI mask: 0xc0 addresses byte 0x40 */
        cmos_write(vm, 0xc0, 0xee);
        ck_assert_uint_eq(cmos_read(vm, 0x40), 0xee);
        ck_assert_uint_eq(cmos_read(vm, 0xc0), 0xee);
        ck_assert_uint_eq(cmos_read(vm, 0x8d), 0x80); /* register D through a masked index */
        uint8_t v = 0;
        ck_assert(hv_bus_access(&vm->pio, NULL, HV_PORT_RTC, &v, 1, false));
        ck_assert_uint_eq(v, 0xff); /* the index port is write-only */
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("rtc");
        TCase *tc = tcase_create("rtc");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, clock_is_host_utc);
        tcase_add_test(tc, clock_reads_are_consistent);
        tcase_add_test(tc, status_registers);
        tcase_add_test(tc, time_writes_ignored);
        tcase_add_test(tc, binary_and_12_hour_modes);
        tcase_add_test(tc, cmos_storage_and_nmi_bit);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
