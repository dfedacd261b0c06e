/* spin: compute in ring 3, forever (P_COUNT = 0) or for P_COUNT iterations, then FINISH. */
#include "guests/guest.h"
        GUEST "spin", spin_entry
        .text
spin_entry:
        TO_USER spin_user
spin_user:
        movq PARAM(P_COUNT), %rcx
        movq $0x9e3779b97f4a7c15, %rax
1:      imulq %rax, %rax            /* a dependent chain the host cannot skip */
        addq $1, %rax
        testq %rcx, %rcx
        jz 1b                       /* forever */
        decq %rcx
        jnz 1b
        FINISH
