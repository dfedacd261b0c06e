/* The parameter block the loader writes at HV_PARAMS_ADDR and the per-vCPU block at
 * HV_PERCPU_ADDR + id * HV_PERCPU_STRIDE (reached through %gs). Shared by C and assembly. */
#ifndef HV_GUESTS_PARAMS_H
#define HV_GUESTS_PARAMS_H

#define HV_PARAMS_MAGIC 0x31534d5250564821 /* "!HVPRMS1" */

#define P_MAGIC        0x00  /* u64 */
#define P_COUNT        0x08  /* u64: iterations / exits per vCPU; 0 = forever where allowed */
#define P_MMIO_ADDR    0x10  /* u64: address the mmio guest touches */
#define P_REMAINING    0x18  /* u64: vCPUs still working; the last one out writes the exit port */
#define P_VCPUS        0x20  /* u32 */
#define P_PORT         0x24  /* u32: port the pio guest writes */
#define P_EXIT_PORT    0x28  /* u32 */
#define P_DUTY_PCT     0x2c  /* u32: busy percentage for duty */
#define P_PERIOD_TICKS 0x30  /* u32: ticks per duty / demo period */
#define P_TICK_COUNT   0x34  /* u32: LAPIC timer initial count (bus cycles at divide-by-1) */
#define P_CONSOLE_PORT 0x38  /* u32 */
#define P_CONSOLE_LOCK 0x3c  /* u32: taken by a vCPU while it writes a block of console lines */
#define P_STEAL_TIME   0x40  /* u32: STEAL_* what a vCPU registers before ring 3 */
#define P_SIZE         0x48

/* P_STEAL_TIME: a steal time record in the per-vCPU block (KVM keeps it), none, or a bad one */
#define STEAL_ON        0
#define STEAL_NONE      1
#define STEAL_OUTSIDE   2    /* an address outside guest RAM */
#define STEAL_RESERVED  3    /* reserved bits set: KVM refuses it, the guest takes #GP */
#define STEAL_OUTSIDE_GPA 0xf0000000 /* above the 3 GiB of RAM a VM may have, below 4 GiB */

/* per-vCPU block; the TSS and its I/O bitmap occupy offsets 0..0x2068 */
#define PC_TICKS       0x2100  /* u64: timer interrupts taken */
#define PC_VCPU_ID     0x2108  /* u64 */
#define PC_USTACK      0x2110  /* u64: user stack top */
#define PC_STEAL       0x2140  /* struct kvm_steal_time (64 bytes, 64-byte aligned) */

/* image header, at HV_IMAGE_ADDR */
#define HV_IMAGE_MAGIC 0x3154534547564821 /* "!HVGEST1" */
#define HV_IMAGE_NAME_LEN 16

/* ring-0 services ring 3 reaches by executing HLT (see rt.S), number in %rax */
#define SYS_IDLE_UNTIL 0  /* sti; hlt until PC_TICKS >= %rdi */
#define SYS_PARK       1  /* cli; hlt forever */
#define SYS_STEAL_OFF  2  /* disable this vCPU's steal time record */

#define HV_EXIT_GP     0x10000 /* exit code of an unexpected #GP: this | error code */

#ifndef __ASSEMBLER__
#include <stdint.h>

struct hv_guest_params {
        uint64_t magic;
        uint64_t count;
        uint64_t mmio_addr;
        uint64_t remaining;
        uint32_t vcpus;
        uint32_t port;
        uint32_t exit_port;
        uint32_t duty_pct;
        uint32_t period_ticks;
        uint32_t tick_count;
        uint32_t console_port;
        uint32_t console_lock;
        uint32_t steal_time; /* STEAL_* */
        uint32_t reserved;
};
_Static_assert(sizeof(struct hv_guest_params) == P_SIZE, "params layout");
_Static_assert(__builtin_offsetof(struct hv_guest_params, remaining) == P_REMAINING, "params");
_Static_assert(__builtin_offsetof(struct hv_guest_params, console_port) == P_CONSOLE_PORT, "params");
_Static_assert(__builtin_offsetof(struct hv_guest_params, console_lock) == P_CONSOLE_LOCK, "params");
_Static_assert(__builtin_offsetof(struct hv_guest_params, steal_time) == P_STEAL_TIME, "params");

struct hv_image_entry {
        char name[HV_IMAGE_NAME_LEN];
        uint64_t addr;
};
struct hv_image_vector {
        uint32_t vector;
        uint32_t dpl;
        uint64_t addr;
};
struct hv_image_header {
        uint64_t magic;
        uint64_t entries, entries_end; /* guest addresses of struct hv_image_entry[] */
        uint64_t vectors, vectors_end; /* guest addresses of struct hv_image_vector[] */
        uint64_t image_end;            /* first address past .bss */
};
#endif
#endif
