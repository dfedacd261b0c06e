/* halt: every vCPU blocks in HLT with interrupts off, forever: blocked, using no CPU. */
#include "guests/guest.h"
        GUEST "halt", halt_entry
        .text
halt_entry:
        cli
1:      hlt
        jmp 1b
