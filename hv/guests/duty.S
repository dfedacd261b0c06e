/* duty: each period of P_PERIOD_TICKS ticks, compute in ring 3 for P_DUTY_PCT % of it and
 * block in HLT for the rest. Forever (P_COUNT = 0) or for P_COUNT periods, then FINISH. */
#include "guests/guest.h"
        GUEST "duty", duty_entry
        .text
duty_entry:
        TIMER_START
        TO_USER duty_user
duty_user:
        movq PARAM(P_COUNT), %r12           /* periods left; 0 = forever */
        movl PARAM(P_PERIOD_TICKS), %eax
        movl PARAM(P_DUTY_PCT), %ecx
        imull %ecx, %eax
        xorl %edx, %edx
        movl $100, %ecx
        divl %ecx
        movl %eax, %r13d                    /* busy ticks per period */
        movl PARAM(P_PERIOD_TICKS), %r14d   /* period ticks */
        movq %gs:PC_TICKS, %r15             /* period start */
1:      leaq (%r15, %r13), %rbx
2:      cmpq %rbx, %gs:PC_TICKS             /* busy phase */
        jb 2b
        leaq (%r15, %r14), %rdi
        IDLE_UNTIL                          /* idle phase */
        addq %r14, %r15
        testq %r12, %r12
        jz 1b
        decq %r12
        jnz 1b
        FINISH
