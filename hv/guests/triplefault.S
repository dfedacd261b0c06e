/* triplefault: drop the IDT and fault; with no handler the CPU shuts down. */
#include "guests/guest.h"
        GUEST "triplefault", triplefault_entry
        .text
triplefault_entry:
        lidt no_idt(%rip)
        ud2
        .section .rodata
        .balign 16
no_idt: .word 0
        .quad 0
