/* MC146818 CMOS RTC at 0x70 (index) / 0x71 (data): 128 bytes of CMOS whose clock registers
 * read the host's current UTC time, so a guest sets its clock from the host at boot.
 *
 * The clock is the host's: writes to the time registers are ignored (the guest cannot set
 * it, as with a host-synchronized RTC), UIP never shows (an update never looks in progress),
 * and no interrupts are raised (register C always reads 0, IRQ 8 stays quiet).
 *
 * A read of the seconds register takes a snapshot that the other time registers then read,
 * so a guest reading seconds, minutes, hours, ... across a rollover still sees one instant;
 * that is what real hardware guarantees for 244 us after UIP was seen clear. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS   0x04
#define RTC_WEEKDAY 0x06
#define RTC_DAY     0x07
#define RTC_MONTH   0x08
#define RTC_YEAR    0x09
#define RTC_REG_A   0x0a
#define RTC_REG_B   0x0b
#define RTC_REG_C   0x0c
#define RTC_REG_D   0x0d
#define RTC_CENTURY 0x32 /* by convention (ACPI FADT century field) */

#define REG_A_UIP    0x80
#define REG_A_INIT   0x26 /* 32.768 kHz time base, 1024 Hz rate */
#define REG_B_24H    0x02
#define REG_B_BINARY 0x04
#define REG_D_VRT    0x80 /* valid RAM and time: the battery is fine */

#define CMOS_SIZE    128
#define NMI_MASK     0x80 /* bit 7 of an index write: the NMI enable, not part of the index */
#define SNAPSHOT_TTL 1000000000ull

struct rtc {
        pthread_mutex_t lock;
        uint8_t index;
        uint8_t cmos[CMOS_SIZE];
        struct tm snap;    /* UTC time the clock registers read */
        uint64_t snap_ns;  /* CLOCK_MONOTONIC when snap was taken, 0 = never */
};

static uint64_t monotonic_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* A fresh snapshot on a seconds read; other time registers reuse one under a second old. */
static void rtc_snapshot(struct rtc *r, bool fresh) {
        uint64_t now = monotonic_ns();
        if (!fresh && r->snap_ns && now - r->snap_ns < SNAPSHOT_TTL)
                return;
        time_t t = time(NULL);
        gmtime_r(&t, &r->snap);
        r->snap_ns = now;
}

/* Register B chooses BCD or binary. */
static uint8_t rtc_encode(const struct rtc *r, unsigned v) {
        if (r->cmos[RTC_REG_B] & REG_B_BINARY)
                return (uint8_t) v;
        return (uint8_t) ((v / 10) << 4 | v % 10);
}

/* Register B chooses 24-hour or 12-hour (1..12, bit 7 = PM) format. */
static uint8_t rtc_hours(const struct rtc *r, unsigned h) {
        if (r->cmos[RTC_REG_B] & REG_B_24H)
                return rtc_encode(r, h);
        return (uint8_t) (rtc_encode(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
}

static bool rtc_is_clock(uint8_t reg) {
        switch (reg) {
        case RTC_SECONDS: case RTC_MINUTES: case RTC_HOURS: case RTC_WEEKDAY:
        case RTC_DAY: case RTC_MONTH: case RTC_YEAR: case RTC_CENTURY:
                return true;
        default:
                return false;
        }
}

static uint8_t rtc_read_clock(struct rtc *r, uint8_t reg) {
        rtc_snapshot(r, reg == RTC_SECONDS);
        const struct tm *t = &r->snap;
        unsigned year = (unsigned) t->tm_year + 1900;
        switch (reg) {
        case RTC_SECONDS:
                return rtc_encode(r, (unsigned) t->tm_sec % 60); /* a leap second reads as :00 */
        case RTC_MINUTES:
                return rtc_encode(r, (unsigned) t->tm_min);
        case RTC_HOURS:
                return rtc_hours(r, (unsigned) t->tm_hour);
        case RTC_WEEKDAY:
                return rtc_encode(r, (unsigned) t->tm_wday + 1); /* 1 = Sunday */
        case RTC_DAY:
                return rtc_encode(r, (unsigned) t->tm_mday);
        case RTC_MONTH:
                return rtc_encode(r, (unsigned) t->tm_mon + 1);
        case RTC_YEAR:
                return rtc_encode(r, year % 100);
        default:
                return rtc_encode(r, year / 100);
        }
}

static uint8_t rtc_read(struct rtc *r, uint8_t reg) {
        if (rtc_is_clock(reg))
                return rtc_read_clock(r, reg);
        switch (reg) {
        case RTC_REG_A:
                return r->cmos[reg] & ~REG_A_UIP;
        case RTC_REG_C:
                return 0; /* no interrupt flags: we raise none */
        case RTC_REG_D:
                return REG_D_VRT;
        default:
                return r->cmos[reg];
        }
}

static void rtc_write(struct rtc *r, uint8_t reg, uint8_t v) {
        /* the clock follows the host; C and D are read-only */
        if (rtc_is_clock(reg) || reg == RTC_REG_C || reg == RTC_REG_D)
                return;
        r->cmos[reg] = reg == RTC_REG_A ? v & ~REG_A_UIP : v;
}

static void rtc_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                   bool is_write) {
        struct rtc *r = opaque;
        (void) vcpu;
        pthread_mutex_lock(&r->lock);
        /* an 8-bit device: a wider access is a run of byte accesses (index, then data) */
        for (uint32_t i = 0; i < len; i++) {
                uint64_t port = offset + i;
                if (port == 0 && is_write)
                        r->index = data[i] & ~NMI_MASK;
                else if (port == 1 && is_write)
                        rtc_write(r, r->index, data[i]);
                else if (port == 1)
                        data[i] = rtc_read(r, r->index);
                else if (!is_write)
                        data[i] = 0xff; /* the index port is write-only */
        }
        pthread_mutex_unlock(&r->lock);
}

static void rtc_free(void *opaque) {
        struct rtc *r = opaque;
        pthread_mutex_destroy(&r->lock);
        free(r);
}

int hv_rtc_attach(struct hv_vm *vm) {
        struct rtc *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        pthread_mutex_init(&r->lock, NULL);
        r->cmos[RTC_REG_A] = REG_A_INIT;
        r->cmos[RTC_REG_B] = REG_B_24H; /* 24-hour, BCD, no interrupts */
        int rc = hv_bus_register(&vm->pio, "rtc", HV_PORT_RTC, 2, rtc_io, r, rtc_free);
        if (rc < 0)
                rtc_free(r);
        return rc;
}
