/* Assembly helpers shared by the built-in guests. Guest entry points run at CPL0 in 64-bit
 * mode with %rdi = vCPU id, %rsi = HV_PARAMS_ADDR, %rsp = this vCPU's kernel stack and
 * %gs.base = this vCPU's per-vCPU block. Workloads drop to CPL3 quickly: on hosts that
 * emulate CPL0 code, only ring-3 code runs at native speed. */
#include "boot/layout.h"
#include "guests/params.h"

#define PARAM(off) (HV_PARAMS_ADDR + (off))

/* Register a guest entry point under a name the loader looks up. */
.macro GUEST name, label
        .pushsection .entries, "a"
        .balign 8
1:      .ascii "\name"
        .fill HV_IMAGE_NAME_LEN - (. - 1b), 1, 0
        .quad \label
        .popsection
.endm

/* CPL0: start the LAPIC timer in periodic mode on this vCPU (no-op if tick count is 0). */
.macro TIMER_START
        movl PARAM(P_TICK_COUNT), %eax
        testl %eax, %eax
        jz 9f
        movl $HV_LAPIC_ADDR, %ebx
        movl $(0x100 | HV_VEC_SPURIOUS), 0xf0(%rbx)     /* software enable */
        movl $0xb, 0x3e0(%rbx)                          /* divide by 1 */
        movl $(HV_VEC_TIMER | (1 << 17)), 0x320(%rbx)   /* periodic */
        movl %eax, 0x380(%rbx)                          /* initial count */
9:
.endm

/* CPL0: continue at \label in ring 3 with IOPL=3 and interrupts enabled, this vCPU's steal
 * time record registered first (rt.S, as P_STEAL_TIME says). */
.macro TO_USER label
        call rt_steal_on
        pushq $(HV_SEL_UDATA | 3)
        pushq %gs:PC_USTACK
        pushq $0x3202
        pushq $(HV_SEL_UCODE | 3)
        pushq $\label
        iretq
.endm

/* Any ring: write \code (a register or $imm) to the exit port; the VM stops there. */
.macro EXIT code
        movl \code, %eax
        movl PARAM(P_EXIT_PORT), %edx
        outl %eax, %dx
.endm

/* Ring 3: wait blocked in HLT until this vCPU's tick count reaches %rdi. */
.macro IDLE_UNTIL
        movl $SYS_IDLE_UNTIL, %eax
        hlt                                     /* #GP -> rt_gp -> rt_service */
.endm

/* Ring 3: this vCPU is done; the last vCPU of the VM to finish exits with code 0, the
 * others block in HLT with interrupts off until the VM stops. */
.macro FINISH
        lock decq PARAM(P_REMAINING)
        jnz 8f
        EXIT $0
8:      movl $SYS_PARK, %eax
        hlt
.endm
