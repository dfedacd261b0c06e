/* cpuid: P_COUNT CPUID instructions from ring 3 (exits KVM handles in the kernel), then FINISH. */
#include "guests/guest.h"
        GUEST "cpuid", cpuid_entry
        .text
cpuid_entry:
        TO_USER cpuid_user
cpuid_user:
        movq PARAM(P_COUNT), %r8
1:      testq %r8, %r8
        jz 2f
        xorl %eax, %eax
        xorl %ecx, %ecx
        cpuid
        decq %r8
        jmp 1b
2:      FINISH
