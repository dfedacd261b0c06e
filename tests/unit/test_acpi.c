/* hv/boot/acpi.c: the tables a Linux guest walks (RSDP -> XSDT -> FADT/DSDT, MADT) are where
 * their addresses say, checksummed, describe every vCPU, and iasl decodes them without
 * complaint; bad arguments are refused without writing anything. Fields are read by offset
 * from the ACPI spec, independently of acpi.c's structs. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/layout.h"
#include "tests/suite.h"

#define GPA HV_ACPI_RSDP_ADDR
#define HDR_LEN 36

static const unsigned vcpu_counts[] = { 1, 2, 64 };

static uint16_t rd16(const uint8_t *p) {
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}
static uint32_t rd32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}
static uint64_t rd64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

static uint8_t sum(const uint8_t *p, size_t len) {
        uint8_t s = 0;
        while (len--)
                s = (uint8_t) (s + *p++);
        return s;
}

/* The tables of one build, as a guest would find them. */
struct tables {
        uint8_t *buf;
        long used;
        const uint8_t *rsdp, *xsdt, *fadt, *dsdt, *madt;
};

/* The table at guest address gpa: inside what was built, with signature sig, a length that
 * fits and a zero byte sum. */
static const uint8_t *table_at(const struct tables *t, uint64_t gpa, const char *sig) {
        ck_assert_msg(gpa >= GPA && gpa + HDR_LEN <= GPA + (uint64_t) t->used, "%s at 0x%lx is outside the tables",
                      sig, (unsigned long) gpa);
        const uint8_t *p = t->buf + (gpa - GPA);
        ck_assert_msg(memcmp(p, sig, 4) == 0, "expected %s at 0x%lx, found %.4s", sig, (unsigned long) gpa, p);
        uint32_t len = rd32(p + 4);
        ck_assert_uint_ge(len, HDR_LEN);
        ck_assert_uint_le(gpa + len, GPA + (uint64_t) t->used);
        ck_assert_msg(sum(p, len) == 0, "%s checksum", sig);
        ck_assert(memcmp(p + 10, "VMSTAT", 6) == 0);
        ck_assert(memcmp(p + 16, "VMSTATD ", 8) == 0);
        return p;
}

static struct tables build(unsigned n) {
        struct tables t = { .buf = malloc(HV_ACPI_SIZE) };
        memset(t.buf, 0xa5, HV_ACPI_SIZE);
        t.used = hv_acpi_build(t.buf, HV_ACPI_SIZE, GPA, n);
        ck_assert_int_gt(t.used, 0);
        return t;
}

/* RSDP -> XSDT -> FADT -> DSDT and XSDT -> MADT, the way Linux walks them. */
static void walk(struct tables *t) {
        t->rsdp = t->buf;
        ck_assert(memcmp(t->rsdp, "RSD PTR ", 8) == 0);
        ck_assert_uint_eq(t->rsdp[15], 2);
        ck_assert_uint_eq(rd32(t->rsdp + 20), 36);
        ck_assert_msg(sum(t->rsdp, 20) == 0, "RSDP checksum");
        ck_assert_msg(sum(t->rsdp, 36) == 0, "RSDP extended checksum");

        t->xsdt = table_at(t, rd64(t->rsdp + 24), "XSDT");
        ck_assert_uint_eq(rd32(t->xsdt + 4), HDR_LEN + 2 * 8); /* FADT and MADT, nothing else */
        t->fadt = table_at(t, rd64(t->xsdt + HDR_LEN), "FACP");
        t->madt = table_at(t, rd64(t->xsdt + HDR_LEN + 8), "APIC");

        ck_assert_uint_eq(rd32(t->fadt + 4), 276);
        ck_assert_uint_eq(t->fadt[8], 6);
        ck_assert_uint_eq(rd32(t->fadt + 40), 0); /* 32-bit DSDT unused: X_DSDT wins */
        t->dsdt = table_at(t, rd64(t->fadt + 140), "DSDT");
}

/* A Generic Address Structure naming one byte-wide register at an I/O port. */
static void assert_sleep_reg(const uint8_t *gas, uint16_t port) {
        ck_assert_uint_eq(gas[0], 1); /* System I/O */
        ck_assert_uint_eq(gas[1], 8); /* bit width */
        ck_assert_uint_eq(gas[2], 0); /* bit offset */
        ck_assert_uint_eq(gas[3], 1); /* access size: byte */
        ck_assert_uint_eq(rd64(gas + 4), port);
}

START_TEST(tables_walk) {
        unsigned n = vcpu_counts[_i];
        struct tables t = build(n);
        walk(&t);

        ck_assert_msg(rd32(t.fadt + 112) & (1u << 20), "FADT HW_REDUCED_ACPI");
        ck_assert_uint_eq(t.fadt[108], 0x32); /* CENTURY: the RTC's century byte */
        ck_assert_uint_eq(rd16(t.fadt + 46), 9); /* SCI_INT, matching the IRQ 9 override */
        ck_assert_msg(rd16(t.fadt + 109) & (1u << 1), "FADT IAPC_BOOT_ARCH 8042");
        ck_assert(memcmp(t.fadt + 268, "VMSTATD ", 8) == 0);
        ck_assert_uint_gt(rd32(t.dsdt + 4), HDR_LEN); /* a body: \_SB.COM1 */
        assert_sleep_reg(t.fadt + 244, HV_PORT_SLEEP_CTL);
        assert_sleep_reg(t.fadt + 256, HV_PORT_SLEEP_STS);
        /* Name (_S5, Package (4) { 5, Zero, Zero, Zero }) at root scope: SLP_TYP 5 */
        static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00 };
        ck_assert_msg(memmem(t.dsdt + HDR_LEN, rd32(t.dsdt + 4) - HDR_LEN, s5, sizeof(s5)), "DSDT lacks \_S5");

        const uint8_t *m = t.madt, *end = m + rd32(m + 4);
        ck_assert_uint_eq(rd32(m + 36), HV_LAPIC_ADDR);
        ck_assert_uint_eq(rd32(m + 40), 1); /* PCAT_COMPAT */
        unsigned lapics = 0, ioapics = 0, overrides = 0;
        for (const uint8_t *e = m + 44; e < end; e += e[1]) {
                ck_assert_uint_ge(e[1], 2);
                ck_assert_msg(e + e[1] <= end, "MADT entry overruns the table");
                switch (e[0]) {
                case 0:
                        ck_assert_uint_eq(e[1], 8);
                        ck_assert_uint_eq(e[2], lapics); /* processor UID */
                        ck_assert_uint_eq(e[3], lapics); /* APIC ID */
                        ck_assert_uint_eq(rd32(e + 4), 1); /* enabled */
                        lapics++;
                        break;
                case 1:
                        ck_assert_uint_eq(e[1], 12);
                        ck_assert_uint_eq(e[2], n);
                        ck_assert_uint_eq(rd32(e + 4), HV_IOAPIC_ADDR);
                        ck_assert_uint_eq(rd32(e + 8), 0);
                        ioapics++;
                        break;
                case 2: {
                        static const struct {
                                uint8_t irq;
                                uint32_t gsi;
                                uint16_t flags;
                        } want[] = { { 0, 2, 0 }, { 9, 9, 0xd } }; /* edge; level, active high */
                        ck_assert_uint_lt(overrides, 2);
                        ck_assert_uint_eq(e[1], 10);
                        ck_assert_uint_eq(e[2], 0); /* ISA */
                        ck_assert_uint_eq(e[3], want[overrides].irq);
                        ck_assert_uint_eq(rd32(e + 4), want[overrides].gsi);
                        ck_assert_uint_eq(rd16(e + 8), want[overrides].flags);
                        overrides++;
                        break;
                }
                default:
                        ck_abort_msg("unexpected MADT entry type %u", e[0]);
                }
        }
        ck_assert_uint_eq(lapics, n);
        ck_assert_uint_eq(ioapics, 1);
        ck_assert_uint_eq(overrides, 2);
        free(t.buf);
}
END_TEST

/* A smaller rebuild over a larger one leaves no trace of it in what the guest walks. */
START_TEST(rebuild_smaller) {
        struct tables t = build(64);
        t.used = hv_acpi_build(t.buf, HV_ACPI_SIZE, GPA, 2);
        ck_assert_int_gt(t.used, 0);
        walk(&t);
        ck_assert_uint_eq(rd32(t.madt + 4), 44 + 2 * 8 + 12 + 2 * 10);
        free(t.buf);
}
END_TEST

/* ---- iasl ------------------------------------------------------------------------------------ */

static void write_file(const char *dir, const char *name, const void *p, size_t len) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        ck_assert_uint_eq(fwrite(p, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
}

static char *read_file(const char *dir, const char *name) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        static char text[256 * 1024]; /* valid until the next call */
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = 0;
        return text;
}

/* Runs iasl args in dir; returns its output, asserting exit status 0. */
static char *iasl(const char *dir, const char *args) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "cd '%s' && iasl %s > iasl.log 2>&1", dir, args);
        int r = system(cmd);
        char *out = read_file(dir, "iasl.log");
        ck_assert_msg(r == 0, "iasl %s exited with status %d:\n%s", args, r, out);
        return out;
}

static void assert_clean(const char *what, const char *text) {
        static const char *const bad[] = { "Error", "Warning", "Incorrect", "Invalid" };
        for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_msg(!strstr(text, bad[i]), "%s mentions \"%s\":\n%s", what, bad[i], text);
}

static unsigned count(const char *text, const char *needle) {
        unsigned n = 0;
        for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static void remove_dir(const char *dir) {
        DIR *d = opendir(dir);
        if (!d)
                return;
        for (struct dirent *e; (e = readdir(d));)
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
        rmdir(dir);
}

/* The text from the first needle on, up to the blank line or closing brace that ends its
 * block in iasl's output; valid until the next call. */
static const char *dsl_block(const char *dsl, const char *needle, const char *end) {
        static char block[1024];
        const char *at = strstr(dsl, needle);
        ck_assert_msg(at, "no \"%s\" in:\n%s", needle, dsl);
        const char *stop = strstr(at, end);
        size_t n = stop ? (size_t) (stop - at) : strlen(at);
        snprintf(block, sizeof(block), "%.*s", (int) n, at);
        return block;
}

/* iasl's view of a FADT register: one byte in System I/O space at port. */
static void assert_dsl_gas(const char *facp, const char *reg, uint16_t port) {
        const char *b = dsl_block(facp, reg, "\n\n");
        char want[64];
        snprintf(want, sizeof(want), "Address : %016X", port);
        ck_assert_msg(strstr(b, "[SystemIO]") && strstr(b, "Bit Width : 08") && strstr(b, "[Byte Access:8]") &&
                              strstr(b, want),
                      "facp.dsl: %s is not a byte at port 0x%x:\n%s", reg, port, b);
}

START_TEST(iasl_decodes_cleanly) {
        ck_assert_msg(system("command -v iasl > /dev/null 2>&1") == 0,
                      "iasl not found: run scripts/deps.sh (Debian package acpica-tools)");
        unsigned n = vcpu_counts[_i];
        struct tables t = build(n);
        walk(&t);
        char dir[] = "/tmp/test_acpi.XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));

        /* not the RSDP: iasl -d takes bytes 4..7 ("PTR ") for a table length and gives up */
        const struct { const char *name; const uint8_t *p; size_t len; } files[] = {
                { "xsdt.dat", t.xsdt, rd32(t.xsdt + 4) },
                { "facp.dat", t.fadt, rd32(t.fadt + 4) },
                { "dsdt.dat", t.dsdt, rd32(t.dsdt + 4) },
                { "apic.dat", t.madt, rd32(t.madt + 4) },
        };
        for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                write_file(dir, files[i].name, files[i].p, files[i].len);
                char args[64];
                snprintf(args, sizeof(args), "-d %s", files[i].name);
                assert_clean(files[i].name, iasl(dir, args));
                char dsl[64];
                snprintf(dsl, sizeof(dsl), "%.4s.dsl", files[i].name);
                assert_clean(dsl, read_file(dir, dsl));
        }
        ck_assert_uint_eq(count(read_file(dir, "apic.dsl"), "[Processor Local APIC]"), n);
        ck_assert_uint_eq(count(read_file(dir, "apic.dsl"), "[I/O APIC]"), 1);
        ck_assert_uint_eq(count(read_file(dir, "apic.dsl"), "[Interrupt Source Override]"), 2);
        const char *dsdt = read_file(dir, "dsdt.dsl");
        ck_assert_msg(strstr(dsdt, "EisaId (\"PNP0501\")") && strstr(dsdt, "0x03F8") && strstr(dsdt, "IRQNoFlags ()"),
                      "dsdt.dsl lacks COM1:\n%s", dsdt);
        const char *s5 = dsl_block(dsdt, "Name (_S5, Package (0x04)", "})");
        ck_assert_msg(strstr(s5, "0x05") && count(s5, "Zero") == 3, "dsdt.dsl: \\_S5 is not {5, 0, 0, 0}:\n%s", s5);
        /* and it compiles back: iasl's own opinion of the AML we wrote */
        const char *out = iasl(dir, "dsdt.dsl");
        ck_assert_msg(strstr(out, "0 Errors, 0 Warnings, 0 Remarks"), "dsdt.dsl does not recompile cleanly:\n%s", out);
        const char *facp = read_file(dir, "facp.dsl");
        ck_assert_msg(strstr(facp, "Hardware Reduced (V5) : 1"), "FADT not hardware-reduced");
        assert_dsl_gas(facp, "Sleep Control Register", HV_PORT_SLEEP_CTL);
        assert_dsl_gas(facp, "Sleep Status Register", HV_PORT_SLEEP_STS);
        remove_dir(dir);
        free(t.buf);
}
END_TEST

/* ---- refusals ---------------------------------------------------------------------------- */

START_TEST(bad_arguments_refused) {
        static uint8_t buf[HV_ACPI_SIZE];
        ck_assert_int_eq(hv_acpi_build(buf, sizeof(buf), GPA, 0), -EINVAL);
        ck_assert_int_eq(hv_acpi_build(buf, sizeof(buf), GPA, HV_MAX_VCPUS + 1), -EINVAL);
        ck_assert_int_eq(hv_acpi_build(buf, sizeof(buf), GPA + 8, 1), -EINVAL);
        ck_assert_int_eq(hv_acpi_build(buf, sizeof(buf), GPA + 1, 1), -EINVAL);
        ck_assert_int_eq(hv_acpi_build(NULL, sizeof(buf), GPA, 1), -EINVAL);
        ck_assert_int_eq(hv_acpi_build(buf, 0, GPA, 1), -E2BIG);
        ck_assert_int_gt(hv_acpi_build(buf, sizeof(buf), GPA, HV_MAX_VCPUS), 0);
}
END_TEST

#define GUARD 64

/* One byte short fails and writes nothing; exactly enough succeeds and stays inside. */
START_TEST(small_buffer_untouched) {
        unsigned n = vcpu_counts[_i];
        uint8_t *big = malloc(HV_ACPI_SIZE);
        long need = hv_acpi_build(big, HV_ACPI_SIZE, GPA, n);
        ck_assert_int_gt(need, 0);
        free(big);

        uint8_t *buf = malloc((size_t) need + GUARD);
        memset(buf, 0xa5, (size_t) need + GUARD);
        ck_assert_int_eq(hv_acpi_build(buf, (size_t) need - 1, GPA, n), -E2BIG);
        for (long i = 0; i < need + GUARD; i++)
                ck_assert_msg(buf[i] == 0xa5, "byte %ld written by a failed build", i);

        ck_assert_int_eq(hv_acpi_build(buf, (size_t) need, GPA, n), need);
        for (long i = need; i < need + GUARD; i++)
                ck_assert_msg(buf[i] == 0xa5, "byte %ld past len written", i);
        free(buf);
}
END_TEST

int main(void) {
        Suite *s = suite_create("acpi");
        TCase *tc = tcase_create("acpi");
        int nc = (int) (sizeof(vcpu_counts) / sizeof(vcpu_counts[0]));
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, tables_walk, 0, nc);
        tcase_add_test(tc, rebuild_smaller);
        tcase_add_loop_test(tc, iasl_decodes_cleanly, 0, nc);
        tcase_add_test(tc, bad_arguments_refused);
        tcase_add_loop_test(tc, small_buffer_untouched, 0, nc);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
