/* console: each vCPU writes numbered lines "cII NNNNNNNNNN\n" (II its id, N from 1 up) to the
 * console port from ring 3, up to 256 lines per rep outsb: P_COUNT lines, then FINISH; or, with
 * P_COUNT = 0, forever and as fast as it can (a console flood). A lock in the parameter block
 * keeps the vCPUs' blocks whole (hosts that exit once per byte would interleave them). */
#include "guests/guest.h"
        GUEST "console", console_entry
        .text
console_entry:
        TO_USER console_user
console_user:
        subq $4096, %rsp                    /* 256 lines of 15 bytes, then the line number */
        movq %rsp, %rbp
        movq $0x3030303030303030, %rax      /* "0000000000" at 3840 */
        movq %rax, 3840(%rbp)
        movw $0x3030, 3848(%rbp)
        movq %gs:PC_VCPU_ID, %rax
        movb $10, %cl
        divb %cl                            /* al = tens, ah = ones (at most 63) */
        addw $0x3030, %ax
        movzwl %ax, %eax
        shll $8, %eax
        orl $0x20000063, %eax               /* 'c', tens, ones, ' ' */
        movl %eax, %r14d
        movq PARAM(P_COUNT), %r12           /* lines left, 0 = forever */
1:      movq $256, %r13                     /* lines in this block */
        testq %r12, %r12
        jz 2f
        cmpq %r13, %r12
        cmovbq %r12, %r13
2:      movq %rbp, %rdi
        movq %r13, %rcx
3:      leaq 3849(%rbp), %rsi               /* the next line number, in decimal */
4:      incb (%rsi)
        cmpb $('9' + 1), (%rsi)
        jne 5f
        movb $'0', (%rsi)
        decq %rsi
        jmp 4b
5:      movl %r14d, (%rdi)
        movq 3840(%rbp), %rax
        movq %rax, 4(%rdi)
        movw 3848(%rbp), %ax
        movw %ax, 12(%rdi)
        movb $10, 14(%rdi)
        addq $15, %rdi
        loop 3b
6:      movl $1, %eax                       /* take the console lock */
        xchgl %eax, PARAM(P_CONSOLE_LOCK)
        testl %eax, %eax
        jz 7f
        pause
        jmp 6b
7:      imulq $15, %r13, %rcx
        movq %rbp, %rsi
        movl PARAM(P_CONSOLE_PORT), %edx
        rep outsb
        movl $0, PARAM(P_CONSOLE_LOCK)
        testq %r12, %r12
        jz 1b                               /* forever */
        subq %r13, %r12
        jnz 1b
        addq $4096, %rsp
        FINISH
