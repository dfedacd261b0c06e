/* stealoff: computes in ring 3 for P_COUNT iterations with its steal time record registered
 * (TO_USER does that), then disables the record (SYS_STEAL_OFF) and computes on forever: KVM
 * stops updating it, the guest's steal stops growing however long the vCPU waits. */
#include "guests/guest.h"
        GUEST "stealoff", stealoff_entry
        .text
stealoff_entry:
        TO_USER stealoff_user
stealoff_user:
        movq PARAM(P_COUNT), %rcx
        movq $0x9e3779b97f4a7c15, %rax
1:      imulq %rax, %rax
        addq $1, %rax
        decq %rcx
        jnz 1b
        movl $SYS_STEAL_OFF, %eax
        hlt                                 /* #GP -> rt_service */
2:      imulq %rax, %rax
        addq $1, %rax
        jmp 2b
