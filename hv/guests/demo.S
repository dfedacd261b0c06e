/* demo: the default guest of VM b13. Each vCPU greets on the console, then cycles forever
 * through compute, port I/O, MMIO, CPUID and idle phases, so every counter moves. */
#include "guests/guest.h"
        GUEST "demo", demo_entry
        .text
demo_entry:
        TIMER_START
        TO_USER demo_user
demo_user:
        /* vCPU 0 greets for all: bytes of concurrent writers would interleave */
        cmpq $0, %gs:PC_VCPU_ID
        jne 2f
        subq $64, %rsp
        leaq greeting(%rip), %rsi
        movq %rsp, %rdi
        movl $greeting_len, %ecx
        rep movsb
        movl PARAM(P_VCPUS), %eax
        movb $10, %cl
        divb %cl                            /* al = tens, ah = ones (at most 64) */
        addw $0x3030, %ax
        cmpb $'0', %al
        jne 1f
        movb $' ', %al                      /* no leading zero */
1:      movw %ax, greeting_digits(%rsp)
        movq %rsp, %rsi
        movl $greeting_len, %ecx
        movl PARAM(P_CONSOLE_PORT), %edx
        rep outsb
        addq $64, %rsp
2:      movq %gs:PC_TICKS, %r15
cycle:  movl PARAM(P_PERIOD_TICKS), %r14d
        shrl $1, %r14d                      /* compute for half a period */
        leaq (%r15, %r14), %rbx
        movq $0x9e3779b97f4a7c15, %rax
4:      imulq %rax, %rax
        addq $1, %rax
        cmpq %rbx, %gs:PC_TICKS
        jb 4b
        movl $HV_PORT_POST, %edx            /* port I/O: 32 POST codes */
        movl $32, %ecx
5:      movl %ecx, %eax
        outb %al, %dx
        loop 5b
        movl $HV_SCRATCH_MMIO, %ebx         /* MMIO: 16 writes and reads of a scratch register */
        movl $16, %r8d
6:      movl %r8d, (%rbx)
        movl (%rbx), %eax
        decl %r8d
        jnz 6b
        movl $8, %r8d                       /* CPUID: exits the kernel handles */
7:      xorl %eax, %eax
        xorl %ecx, %ecx
        cpuid
        decl %r8d
        jnz 7b
        movl PARAM(P_PERIOD_TICKS), %r14d   /* idle for the rest of the period */
        addq %r14, %r15
        movq %r15, %rdi
        IDLE_UNTIL
        jmp cycle

        .section .rodata
greeting: .ascii "vmstatd demo guest: ## vcpus up\n"
        .set greeting_len, . - greeting
        .set greeting_digits, 20
