/* ACPI tables for Linux guests. A kernel without MP-table parsing (Debian's cloud kernel) finds
 * its CPUs, the IOAPIC and the ISA IRQ wiring only here. Layout, each table 16-byte aligned:
 * RSDP (at gpa) -> XSDT -> { FADT -> DSDT, MADT }. The FADT's sleep registers and the DSDT's
 * \_S5 let the guest power off (hv/devices/sleep.c). Little-endian host assumed (x86). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/layout.h"

#define ACPI_OEM_ID "VMSTAT"         /* 6 chars */
#define ACPI_OEM_TABLE_ID "VMSTATD " /* 8 chars */
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "VMSD"
#define ACPI_CREATOR_REVISION 1
#define ACPI_ALIGN 16

struct acpi_rsdp {
        char signature[8];
        uint8_t checksum; /* over the first 20 bytes (the ACPI 1.0 part) */
        char oem_id[6];
        uint8_t revision;
        uint32_t rsdt_addr;
        uint32_t length;
        uint64_t xsdt_addr;
        uint8_t ext_checksum; /* over all 36 bytes */
        uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

struct acpi_header {
        char signature[4];
        uint32_t length;
        uint8_t revision;
        uint8_t checksum;
        char oem_id[6];
        char oem_table_id[8];
        uint32_t oem_revision;
        char creator_id[4];
        uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");

struct acpi_xsdt {
        struct acpi_header h;
        uint64_t entries[2]; /* FADT, MADT */
} __attribute__((packed));

struct acpi_gas { /* Generic Address Structure */
        uint8_t space_id, bit_width, bit_offset, access_size;
        uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");

/* FADT, ACPI 6.x layout (major version 6). In hardware-reduced mode the OS ignores the PM
 * register blocks (offsets 46..108, 148..243), so everything here but a few fields stays 0;
 * the sleep control/status registers (244, 256) replace PM1 control for sleep and soft-off. */
struct acpi_fadt {
        struct acpi_header h;
        uint32_t firmware_ctrl, dsdt;
        uint8_t reserved0, preferred_pm_profile;
        uint16_t sci_int;
        uint32_t smi_cmd;
        uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
        uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
        uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
        uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
        uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
        uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
        uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
        uint16_t iapc_boot_arch;
        uint8_t reserved1;
        uint32_t flags;
        struct acpi_gas reset_reg;
        uint8_t reset_value;
        uint16_t arm_boot_arch;
        uint8_t minor_version;
        uint64_t x_firmware_ctrl, x_dsdt;
        struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
        struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
        struct acpi_gas sleep_control_reg, sleep_status_reg;
        char hypervisor_vendor_id[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT IAPC_BOOT_ARCH");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");

#define FADT_REVISION 6
#define FADT_MINOR_VERSION 5 /* ACPI 6.5: the layout has not changed since 6.0 */
/* IAPC_BOOT_ARCH: COM1 sits on a (virtual) ISA bus, and we emulate an i8042 at 0x60/0x64 whose
 * pulse resets the VM; Linux (rev >= 2 FADT) refuses to probe the i8042 unless the 8042 bit is
 * set. No VGA, so the kernel does not poke at 0x3c0. Unlike Firecracker we leave MSI_NOT_PRESENT
 * and ASPM clear: they would disable MSI for good once a PCI device appears. A CMOS RTC is
 * expected at 0x70, so NO_CMOS_RTC stays clear too. */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
/* Flags: no fixed-feature power/sleep buttons (there is no PM1 block to hold them), and the
 * hardware-reduced model, as Firecracker: no PM1/GPE blocks, no SCI, no FACS. */
#define FADT_PWR_BUTTON (1u << 4)
#define FADT_SLP_BUTTON (1u << 5)
#define FADT_HW_REDUCED_ACPI (1u << 20)
/* The PC's SCI line. Ignored by the ACPI core in hardware-reduced mode, but Linux matches MADT
 * overrides against it: 0 would turn the IRQ 0 override into a level/low "SCI" one. */
#define FADT_RTC_CENTURY 0x32
#define FADT_SCI_IRQ 9
/* Sleep registers: one byte each in system I/O space. Linux registers its power-off handler on a
 * hardware-reduced machine only when both are present (and \_S5 exists). */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

struct acpi_madt {
        struct acpi_header h;
        uint32_t lapic_addr;
        uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");

struct madt_lapic {
        uint8_t type, length, processor_uid, apic_id;
        uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC");

struct madt_ioapic {
        uint8_t type, length, id, reserved;
        uint32_t addr, gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");

struct madt_override { /* Interrupt Source Override */
        uint8_t type, length, bus, source;
        uint32_t gsi;
        uint16_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_override) == 10, "MADT ISO");

#define MADT_REVISION 5
#define MADT_TYPE_LAPIC 0
#define MADT_TYPE_IOAPIC 1
#define MADT_TYPE_OVERRIDE 2
#define MADT_PCAT_COMPAT (1u << 0) /* there is an 8259 pair (KVM's in-kernel PIC) */
#define MADT_LAPIC_ENABLED (1u << 0)
#define MADT_FLAGS_CONFORMS 0x0000   /* bus defaults: ISA is edge, active high */
#define MADT_FLAGS_LEVEL_HIGH 0x000d /* polarity 01 active high, trigger 11 level */

/* IRQ 0 is wired to pin 2 on every PC (pin 0 carries the 8259's INTR); IRQ 9 is the SCI line,
 * declared level/high as QEMU does. KVM's GSI routing is programmed to match. */
static const struct madt_override madt_overrides[] = {
        { MADT_TYPE_OVERRIDE, sizeof(struct madt_override), 0, 0, 2, MADT_FLAGS_CONFORMS },
        { MADT_TYPE_OVERRIDE, sizeof(struct madt_override), 0, FADT_SCI_IRQ, FADT_SCI_IRQ, MADT_FLAGS_LEVEL_HIGH },
};

/* ---- a tiny AML writer, enough for the DSDT's one device and \_S5 -------------------------- */

#define AML_ZERO_OP 0x00
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_DWORD_PREFIX 0x0c
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_PKG_1BYTE_MAX 0x3f

/* Writes at p, or only counts when p is NULL (the first pass sizes the DSDT). */
struct aml {
        uint8_t *p;
        size_t len;
};

static void aml_put(struct aml *a, const void *src, size_t n) {
        if (a->p)
                memcpy(a->p + a->len, src, n);
        a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b) {
        aml_put(a, &b, 1);
}

static void aml_dword(struct aml *a, uint32_t v) {
        aml_byte(a, AML_DWORD_PREFIX);
        aml_put(a, &v, 4);
}

static void aml_name(struct aml *a, const char seg[4]) {
        aml_byte(a, AML_NAME_OP);
        aml_put(a, seg, 4);
}

/* A PkgLength counts itself; its size is known only at the end, so reserve one byte and
 * widen to two (lengths up to 4095, plenty for this DSDT) when closing. */
static size_t aml_pkg_begin(struct aml *a) {
        size_t at = a->len;
        aml_byte(a, 0);
        return at;
}

static void aml_pkg_end(struct aml *a, size_t at) {
        size_t n = a->len - at;
        if (n <= AML_PKG_1BYTE_MAX) {
                if (a->p)
                        a->p[at] = (uint8_t) n;
                return;
        }
        n++;
        if (a->p) {
                memmove(a->p + at + 2, a->p + at + 1, a->len - at - 1);
                a->p[at] = (uint8_t) (0x40 | (n & 0xf)); /* bits 7:6 = one more byte follows */
                a->p[at + 1] = (uint8_t) (n >> 4);
        }
        a->len++;
}

/* EISA ID "PNP0501": three letters in 5 bits each, then four hex digits, big-endian. */
static uint32_t aml_eisa_id(const char id[7]) {
        uint16_t vendor = (uint16_t) ((id[0] - '@') << 10 | (id[1] - '@') << 5 | (id[2] - '@'));
        uint16_t product = 0;
        for (int i = 3; i < 7; i++)
                product = (uint16_t) (product << 4 | (id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10));
        return (uint32_t) (vendor >> 8 | (vendor & 0xff) << 8 | (product >> 8) << 16 |
                           (product & 0xff) << 24);
}

/* Name (_CRS, ResourceTemplate () { IO (Decode16, port, port, 1, 8) IRQNoFlags () {irq} }) */
static void aml_crs_io_irq(struct aml *a, uint16_t port, uint8_t len, unsigned irq) {
        const uint8_t res[] = {
                0x47, 0x01, port & 0xff, port >> 8, port & 0xff, port >> 8, 0x01, len, /* IO, Decode16 */
                0x22, (1u << irq) & 0xff, (1u << irq) >> 8,                           /* IRQNoFlags */
                0x79, 0x00,                                                           /* End tag */
        };
        aml_name(a, "_CRS");
        aml_byte(a, AML_BUFFER_OP);
        size_t buf = aml_pkg_begin(a);
        aml_byte(a, AML_BYTE_PREFIX);
        aml_byte(a, sizeof(res));
        aml_put(a, res, sizeof(res));
        aml_pkg_end(a, buf);
}

/* Name (_S5, Package () { 5, 0, 0, 0 }): Linux takes SLP_TYP from the first element, the value
 * the sleep control register (hv/devices/sleep.c) acts on. The zeros (SLP_TYPb, meaningless
 * without a PM1b block, and padding) give the four-element shape QEMU's DSDT has too. */
static void aml_s5(struct aml *a) {
        aml_name(a, "_S5_");
        aml_byte(a, AML_PACKAGE_OP);
        size_t pkg = aml_pkg_begin(a);
        aml_byte(a, 4); /* NumElements */
        aml_byte(a, AML_BYTE_PREFIX);
        aml_byte(a, HV_ACPI_SLP_TYP_S5);
        for (int i = 0; i < 3; i++)
                aml_byte(a, AML_ZERO_OP);
        aml_pkg_end(a, pkg);
}

/* Scope (\_SB) { Device (COM1) { _HID PNP0501, _UID 0, _CRS } }: lets 8250_pnp claim ttyS0
 * with the IRQ the VMM raises. */
static void aml_sb_com1(struct aml *a) {
        aml_byte(a, AML_SCOPE_OP);
        size_t scope = aml_pkg_begin(a);
        aml_put(a, "\\_SB_", 5);

        aml_byte(a, AML_EXT_OP_PREFIX);
        aml_byte(a, AML_DEVICE_OP);
        size_t dev = aml_pkg_begin(a);
        aml_put(a, "COM1", 4);
        aml_name(a, "_HID");
        aml_dword(a, aml_eisa_id("PNP0501"));
        aml_name(a, "_UID");
        aml_byte(a, AML_ZERO_OP);
        aml_crs_io_irq(a, HV_PORT_SERIAL, 8, HV_LINUX_IRQ_SERIAL);
        aml_pkg_end(a, dev);

        aml_pkg_end(a, scope);
}

static size_t dsdt_aml(uint8_t *p) {
        struct aml a = { p, 0 };
        aml_sb_com1(&a);
        aml_s5(&a);
        return a.len;
}

/* ---- the tables ----------------------------------------------------------------------------- */

/* Offsets from the RSDP; all computed before anything is written. */
struct acpi_layout {
        size_t xsdt, fadt, dsdt, dsdt_len, madt, madt_len, end;
};

static size_t align_up(size_t v) {
        return (v + ACPI_ALIGN - 1) & ~(size_t) (ACPI_ALIGN - 1);
}

static struct acpi_layout acpi_layout(unsigned n_vcpus) {
        struct acpi_layout l;
        l.xsdt = align_up(sizeof(struct acpi_rsdp));
        l.fadt = align_up(l.xsdt + sizeof(struct acpi_xsdt));
        l.dsdt = align_up(l.fadt + sizeof(struct acpi_fadt));
        l.dsdt_len = sizeof(struct acpi_header) + dsdt_aml(NULL);
        l.madt = align_up(l.dsdt + l.dsdt_len);
        l.madt_len = sizeof(struct acpi_madt) + n_vcpus * sizeof(struct madt_lapic) +
                     sizeof(struct madt_ioapic) + sizeof(madt_overrides);
        l.end = l.madt + l.madt_len;
        return l;
}

static uint8_t checksum(const void *p, size_t len) {
        const uint8_t *b = p;
        uint8_t sum = 0;
        for (size_t i = 0; i < len; i++)
                sum = (uint8_t) (sum + b[i]);
        return (uint8_t) -sum;
}

static void header_init(struct acpi_header *h, const char sig[4], size_t len, uint8_t rev) {
        memcpy(h->signature, sig, 4);
        h->length = (uint32_t) len;
        h->revision = rev;
        memcpy(h->oem_id, ACPI_OEM_ID, 6);
        memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
        h->oem_revision = ACPI_OEM_REVISION;
        memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
        h->creator_revision = ACPI_CREATOR_REVISION;
}

/* Last step of every table: its bytes, checksum included, must sum to 0. */
static void header_seal(struct acpi_header *h) {
        h->checksum = 0;
        h->checksum = checksum(h, h->length);
}

static void rsdp_write(uint8_t *p, uint64_t xsdt_gpa) {
        struct acpi_rsdp *r = (void *) p;
        memcpy(r->signature, "RSD PTR ", 8);
        memcpy(r->oem_id, ACPI_OEM_ID, 6);
        r->revision = 2; /* ACPI 2.0+: the XSDT is used, rsdt_addr stays 0 */
        r->length = sizeof(*r);
        r->xsdt_addr = xsdt_gpa;
        r->checksum = checksum(r, 20);
        r->ext_checksum = checksum(r, sizeof(*r));
}

static void xsdt_write(uint8_t *p, uint64_t fadt_gpa, uint64_t madt_gpa) {
        struct acpi_xsdt *x = (void *) p;
        header_init(&x->h, "XSDT", sizeof(*x), 1);
        x->entries[0] = fadt_gpa;
        x->entries[1] = madt_gpa;
        header_seal(&x->h);
}

static struct acpi_gas sleep_reg(uint16_t port) {
        return (struct acpi_gas){ .space_id = GAS_SYSTEM_IO, .bit_width = 8, .access_size = GAS_ACCESS_BYTE,
                                  .address = port };
}

static void fadt_write(uint8_t *p, uint64_t dsdt_gpa) {
        struct acpi_fadt *f = (void *) p;
        header_init(&f->h, "FACP", sizeof(*f), FADT_REVISION);
        f->sci_int = FADT_SCI_IRQ;
        f->century = FADT_RTC_CENTURY; /* the RTC (hv/devices/rtc.c) keeps the century there */
        f->iapc_boot_arch = IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT;
        f->flags = FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_HW_REDUCED_ACPI;
        f->minor_version = FADT_MINOR_VERSION;
        f->x_dsdt = dsdt_gpa; /* the 32-bit DSDT field must be 0 when X_DSDT is set */
        f->sleep_control_reg = sleep_reg(HV_PORT_SLEEP_CTL);
        f->sleep_status_reg = sleep_reg(HV_PORT_SLEEP_STS);
        memcpy(f->hypervisor_vendor_id, "VMSTATD ", 8);
        header_seal(&f->h);
}

static void dsdt_write(uint8_t *p, size_t len) {
        struct acpi_header *h = (void *) p;
        header_init(h, "DSDT", len, 2); /* revision 2: 64-bit AML integers */
        dsdt_aml(p + sizeof(*h));
        header_seal(h);
}

static void madt_write(uint8_t *p, size_t len, unsigned n_vcpus) {
        struct acpi_madt *m = (void *) p;
        header_init(&m->h, "APIC", len, MADT_REVISION);
        m->lapic_addr = (uint32_t) HV_LAPIC_ADDR;
        m->flags = MADT_PCAT_COMPAT;
        uint8_t *e = p + sizeof(*m);

        /* ACPI processor UID = APIC ID = vCPU index, matching what hv_cpuid_setup reports */
        for (unsigned i = 0; i < n_vcpus; i++) {
                struct madt_lapic l = { MADT_TYPE_LAPIC, sizeof(l), (uint8_t) i, (uint8_t) i, MADT_LAPIC_ENABLED };
                memcpy(e, &l, sizeof(l));
                e += sizeof(l);
        }
        /* the IOAPIC takes the first APIC ID after the vCPUs' */
        struct madt_ioapic io = { MADT_TYPE_IOAPIC, sizeof(io), (uint8_t) n_vcpus, 0, (uint32_t) HV_IOAPIC_ADDR, 0 };
        memcpy(e, &io, sizeof(io));
        e += sizeof(io);
        memcpy(e, madt_overrides, sizeof(madt_overrides));
        header_seal(&m->h);
}

long hv_acpi_build(void *buf, size_t len, uint64_t gpa, unsigned n_vcpus) {
        if (!buf || n_vcpus == 0 || n_vcpus > HV_MAX_VCPUS || gpa % ACPI_ALIGN)
                return -EINVAL;
        struct acpi_layout l = acpi_layout(n_vcpus);
        if (gpa + l.end < gpa)
                return -EINVAL;
        if (len < l.end)
                return -E2BIG;

        uint8_t *p = buf;
        memset(p, 0, l.end); /* reserved fields and the gaps between tables */
        madt_write(p + l.madt, l.madt_len, n_vcpus);
        dsdt_write(p + l.dsdt, l.dsdt_len);
        fadt_write(p + l.fadt, gpa + l.dsdt);
        xsdt_write(p + l.xsdt, gpa + l.fadt, gpa + l.madt);
        rsdp_write(p, gpa + l.xsdt);
        return (long) l.end;
}
