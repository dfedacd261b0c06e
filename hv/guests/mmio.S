/* mmio: P_COUNT x (one 32-bit write, one 32-bit read) at P_MMIO_ADDR from ring 3. Meant for an
 * unclaimed address, which reads as all-ones: any other value ends the VM with exit code 3. */
#include "guests/guest.h"
        GUEST "mmio", mmio_entry
        .text
mmio_entry:
        TO_USER mmio_user
mmio_user:
        movq PARAM(P_COUNT), %rcx
        movq PARAM(P_MMIO_ADDR), %rbx
1:      testq %rcx, %rcx
        jz 2f
        movl %ecx, (%rbx)
        movl (%rbx), %eax
        cmpl $0xffffffff, %eax
        jne 3f
        decq %rcx
        jmp 1b
2:      FINISH
3:      EXIT $3
