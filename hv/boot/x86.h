/* x86 control-register bits, descriptors and segment helpers shared by the loaders. */
#ifndef HV_BOOT_X86_H
#define HV_BOOT_X86_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define GDT_KCODE 0x00af9b000000ffffull /* 64-bit code, DPL 0 */
#define GDT_KDATA 0x00cf93000000ffffull
#define GDT_UDATA 0x00cff3000000ffffull
#define GDT_UCODE 0x00affb000000ffffull

/* A flat 4 GiB segment as KVM_SET_SREGS takes it. */
static inline struct kvm_segment hv_flat_segment(uint16_t sel, uint8_t type, uint8_t dpl, bool code64) {
        return (struct kvm_segment) {
                .base = 0, .limit = 0xffffffff, .selector = sel, .type = type, .present = 1, .dpl = dpl,
                .db = !code64, .s = 1, .l = code64, .g = 1,
        };
}

#endif
