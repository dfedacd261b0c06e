/* Links the assembled guest image (build/hv/guests/guests.bin) into libhv. */
        .section .rodata
        .balign 64
        .globl hv_guest_image, hv_guest_image_end
hv_guest_image:
        .incbin GUEST_IMAGE
hv_guest_image_end:
        .section .note.GNU-stack, "", @progbits
