/* qemu-bios: a 64 KiB firmware image for QEMU's -bios that runs the loop of hv/guests/pio.S.
 * From the reset vector it enters long mode (about 50 instructions: CPL0 and legacy-mode code
 * may be emulated, slowly, by nested hosts), drops to ring 3 and there does `count` byte OUTs
 * to the POST port, then writes `exit_code` to isa-debug-exit. bench/exitpath patches
 * `count` in a copy of the image; the header layout below is its contract.
 *
 * QEMU maps the image at 0xffff0000 and resets with CS.base = 0xffff0000, IP = 0xfff0: an
 * image offset is a 16-bit IP, ABS() is its physical address. The code has no relocations,
 * so the object's .text is the image as is. */
#include "boot/layout.h"

#define BIOS_BASE 0xffff0000
#define BIOS_SIZE 0x10000
#define ABS(label) (BIOS_BASE + ((label) - bios_start))

/* RAM, zeroed by QEMU at start */
#define PML4      0x1000
#define PDPT      0x2000
#define PD_LOW    0x3000 /* maps 0..2 MiB: these tables, the GDT, the stacks */
#define PD_HIGH   0x4000 /* maps 0xffe00000..4 GiB: this image */
#define GDT_RAM   0x5000 /* LTR marks the TSS descriptor busy: the GDT must be writable */
#define KSTACK    0x8000
#define USTACK    0x9000

#define PTE_PUW   0x7    /* present, writable, user */
#define PTE_PS    0x80   /* 2 MiB page */

#define SEL_CODE32 0x08
#define SEL_DATA   0x10
#define SEL_CODE64 0x18
#define SEL_UDATA  0x20
#define SEL_UCODE  0x28
#define SEL_TSS    0x30

#define TSS_SIZE  (104 + 8192 + 1) /* TSS, a full all-zero I/O bitmap, the 0xff terminator */

        .text
bios_start:
/* ---- header, read and patched by bench/exitpath ---------------------------------------- */
        .ascii "!HVQBIO1"               /* offset 0: magic */
count:  .quad 0                         /* offset 8: OUTs to do */
exit_code:
        .long 0x21                      /* offset 16: written to the exit port at the end */
        .long 0

/* ---- descriptor tables ------------------------------------------------------------------- */
/* Ring 3 reaches the ports through an all-zero I/O bitmap: some hosts (PVM) ignore IOPL. The
 * CPU only reads a 64-bit TSS, so it can stay in ROM. */
        .balign 16
tss:    .long 0
        .quad KSTACK                    /* rsp0 */
        .fill 0x66 - (. - tss), 1, 0
        .word 104                       /* I/O bitmap offset */
        .fill TSS_SIZE - 1 - (. - tss), 1, 0
        .byte 0xff

        .balign 16
gdt:    .quad 0
        .quad 0x00cf9b000000ffff        /* SEL_CODE32 */
        .quad 0x00cf93000000ffff        /* SEL_DATA */
        .quad 0x00af9b000000ffff        /* SEL_CODE64 */
        .quad 0x00cff3000000ffff        /* SEL_UDATA, DPL 3 */
        .quad 0x00affb000000ffff        /* SEL_UCODE, 64-bit, DPL 3 */
        .word TSS_SIZE - 1              /* SEL_TSS: 64-bit TSS, available */
        .word ABS(tss) & 0xffff
        .byte (ABS(tss) >> 16) & 0xff
        .byte 0x89
        .byte 0
        .byte (ABS(tss) >> 24) & 0xff
        .long 0, 0
gdt_end:

gdt_rom_desc:
        .word gdt_end - gdt - 1
        .long ABS(gdt)
gdt_ram_desc:
        .word gdt_end - gdt - 1
        .long GDT_RAM

/* ---- 16-bit real mode: load the GDT from ROM, enable protection --------------------------- */
        .code16
start16:
        lgdtl %cs:(gdt_rom_desc - bios_start)
        movl %cr0, %eax
        andl $0x9fffffff, %eax          /* caches on: CD and NW are set at reset */
        orl $1, %eax                    /* PE */
        movl %eax, %cr0
        ljmpl $SEL_CODE32, $ABS(start32)

/* ---- 32-bit: writable GDT, identity page tables, long mode ------------------------------- */
        .code32
start32:
        movl $SEL_DATA, %eax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movl $KSTACK, %esp
        cld
        movl $ABS(gdt), %esi
        movl $GDT_RAM, %edi
        movl $((gdt_end - gdt) / 4), %ecx
        rep movsl
        lgdtl ABS(gdt_ram_desc)

        movl $(PDPT | PTE_PUW), PML4
        movl $(PD_LOW | PTE_PUW), PDPT
        movl $(PD_HIGH | PTE_PUW), PDPT + 3 * 8
        movl $(0 | PTE_PS | PTE_PUW), PD_LOW
        movl $(0xffe00000 | PTE_PS | PTE_PUW), PD_HIGH + 511 * 8
        movl $PML4, %eax
        movl %eax, %cr3
        movl %cr4, %eax
        orl $0x20, %eax                 /* PAE */
        movl %eax, %cr4
        movl $0xc0000080, %ecx          /* EFER */
        rdmsr
        orl $0x100, %eax                /* LME */
        wrmsr
        movl %cr0, %eax
        orl $0x80000000, %eax           /* PG */
        movl %eax, %cr0
        ljmpl $SEL_CODE64, $ABS(start64)

/* ---- 64-bit CPL0: task register, then ring 3 with interrupts off ------------------------- */
        .code64
start64:
        movl $SEL_TSS, %eax
        ltr %ax
        pushq $(SEL_UDATA | 3)
        pushq $USTACK
        pushq $0x3002                   /* IOPL 3, IF 0: no IDT here */
        pushq $(SEL_UCODE | 3)
        leaq user(%rip), %rax           /* ABS() would sign-extend as an imm32 */
        pushq %rax
        iretq

/* ---- ring 3: the loop of hv/guests/pio.S, instruction for instruction --------------------- */
user:
        movq count(%rip), %rcx
        movl $HV_PORT_POST, %edx
        xorl %eax, %eax
1:      testq %rcx, %rcx
        jz 2f
        outb %al, %dx
        incl %eax
        decq %rcx
        jmp 1b
2:      movl exit_code(%rip), %eax
        movl $HV_PORT_EXIT, %edx
        outl %eax, %dx
3:      pause                           /* no isa-debug-exit: the bench's timeout ends QEMU */
        jmp 3b

/* ---- reset vector ------------------------------------------------------------------------ */
        .code16
        .org BIOS_SIZE - 16
        jmp start16
        .org BIOS_SIZE, 0
