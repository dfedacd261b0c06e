/* idle: HLT in ring 0 with the LAPIC timer waking it each tick; forever (P_COUNT = 0) or until
 * P_COUNT ticks have passed, then FINISH. */
#include "guests/guest.h"
        GUEST "idle", idle_entry
        .text
idle_entry:
        TIMER_START
        TO_USER idle_user
idle_user:
        movq PARAM(P_COUNT), %rdi
        testq %rdi, %rdi
        jnz 1f
        movq $-1, %rdi
1:      IDLE_UNTIL
        FINISH
