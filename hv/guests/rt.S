/* Image header, interrupt vectors and the ring-0 services every built-in guest shares. */
#include "guests/guest.h"

        .section .header, "a"
        .quad HV_IMAGE_MAGIC
        .quad __entries_start, __entries_end
        .quad __vectors_start, __vectors_end
        .quad __image_end

        .section .vectors, "a"
        .long HV_VEC_TIMER, 0
        .quad rt_timer
        .long HV_VEC_GP, 0
        .quad rt_gp
        .long HV_VEC_SPURIOUS, 0
        .quad rt_spurious

        .text
        .code64
rt_timer:
        incq %gs:PC_TICKS
        pushq %rax
        movl $(HV_LAPIC_ADDR + 0xb0), %eax      /* EOI */
        movl $0, (%rax)
        popq %rax
        iretq

rt_spurious:
        iretq

/* #GP. Ring 3 asks for a ring-0 service by executing HLT (which faults at CPL3: software
 * INT n from ring 3 is not emulated on every host). %rax = service, %rdi = argument. Any
 * other #GP ends the VM with exit code HV_EXIT_GP | error code. */
rt_gp:
        pushq %rbx
        movq 16(%rsp), %rbx                     /* faulting RIP (above saved rbx and error code) */
        cmpb $0xf4, (%rbx)
        jne 4f
        incq 16(%rsp)                           /* resume after the HLT */
        popq %rbx
        addq $8, %rsp                           /* error code */
        jmp rt_service
4:      movl 8(%rsp), %eax
        orl $HV_EXIT_GP, %eax
        EXIT %eax
5:      cli
        hlt
        jmp 5b

/* Entered with IF=0. */
rt_service:
        cmpl $SYS_IDLE_UNTIL, %eax
        jne 2f
1:      cmpq %rdi, %gs:PC_TICKS
        jae 3f
        sti
        hlt
        cli
        jmp 1b
3:      iretq
2:      cli
        hlt
        jmp 2b

