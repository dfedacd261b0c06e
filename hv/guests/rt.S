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

/* CPL0: register this vCPU's steal time record with KVM (MSR_KVM_STEAL_TIME), as a Linux guest
 * does at boot, when KVM offers it (CPUID 0x40000001 EAX bit 5) and P_STEAL_TIME asks for it.
 * STEAL_OUTSIDE and STEAL_RESERVED register bad records on purpose (tests). */
        .globl rt_steal_on
rt_steal_on:
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        movl PARAM(P_STEAL_TIME), %eax
        cmpl $STEAL_NONE, %eax
        je 9f
        movl $0x40000000, %eax
        cpuid
        cmpl $0x4b4d564b, %ebx                  /* "KVMK" of "KVMKVMKVM" */
        jne 9f
        movl $0x40000001, %eax
        cpuid
        testl $(1 << 5), %eax                   /* KVM_FEATURE_STEAL_TIME */
        jz 9f
        movq %gs:PC_VCPU_ID, %rax
.if HV_PERCPU_STRIDE != 0x8000
        .error "rt_steal_on multiplies by HV_PERCPU_STRIDE with a shift"
.endif
        shlq $15, %rax                          /* * HV_PERCPU_STRIDE */
        addq $(HV_PERCPU_ADDR + PC_STEAL + 1), %rax /* the record, enabled */
        movl PARAM(P_STEAL_TIME), %ecx
        cmpl $STEAL_OUTSIDE, %ecx
        jne 1f
        movq $(STEAL_OUTSIDE_GPA + 1), %rax
1:      cmpl $STEAL_RESERVED, %ecx
        jne 2f
        orq $8, %rax                            /* a reserved bit */
2:      movq %rax, %rdx
        shrq $32, %rdx
        movl $0x4b564d03, %ecx                  /* MSR_KVM_STEAL_TIME */
        wrmsr
9:      popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        ret

/* Entered with IF=0. */
rt_service:
        cmpl $SYS_STEAL_OFF, %eax
        jne 4f
        movl $0x4b564d03, %ecx
        xorl %eax, %eax
        xorl %edx, %edx
        wrmsr
        iretq
4:      cmpl $SYS_IDLE_UNTIL, %eax
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

