/* pio: exactly P_COUNT byte OUTs to P_PORT from ring 3, then FINISH. */
#include "guests/guest.h"
        GUEST "pio", pio_entry
        .text
pio_entry:
        TO_USER pio_user
pio_user:
        movq PARAM(P_COUNT), %rcx
        movl PARAM(P_PORT), %edx
        xorl %eax, %eax
1:      testq %rcx, %rcx
        jz 2f
        outb %al, %dx
        incl %eax
        decq %rcx
        jmp 1b
2:      FINISH
