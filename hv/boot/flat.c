/* Flat guest images: page tables, GDT with one TSS per vCPU, IDT from the image's vector table,
 * the parameter block, and 64-bit CPL0 entry state for every vCPU. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot/boot.h"
#include "boot/layout.h"
#include "boot/x86.h"
#include "guests/params.h"
#include "vcpu.h"
#include "vm.h"


#define TSS_TYPE_BUSY 0xb
#define TSS_LIMIT (HV_PERCPU_TSS_SIZE - 1)
#define TSS_IOPB 104

static uint64_t percpu(unsigned id) {
        return HV_PERCPU_ADDR + (uint64_t) id * HV_PERCPU_STRIDE;
}

static void build_gdt(struct hv_vm *vm) {
        uint64_t *gdt = hv_vm_gpa(vm, HV_GDT_ADDR, HV_SEL_TSS0 + 16ull * vm->n_vcpus);
        gdt[0] = 0;
        gdt[HV_SEL_KCODE / 8] = GDT_KCODE;
        gdt[HV_SEL_KDATA / 8] = GDT_KDATA;
        gdt[HV_SEL_UDATA / 8] = GDT_UDATA;
        gdt[HV_SEL_UCODE / 8] = GDT_UCODE;
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                uint64_t base = percpu(i);
                uint64_t *d = &gdt[HV_SEL_TSS0 / 8 + 2 * i];
                d[0] = (TSS_LIMIT & 0xffff) | (base & 0xffffff) << 16 | (uint64_t) (TSS_LIMIT >> 16 & 0xf) << 48 | (uint64_t) TSS_TYPE_BUSY << 40 | 1ull << 47 |
                       (base >> 24 & 0xff) << 56;
                d[1] = base >> 32;
        }
}

static void build_idt(struct hv_vm *vm, const struct hv_image_vector *v, size_t n) {
        uint64_t *idt = hv_vm_gpa(vm, HV_IDT_ADDR, 4096);
        memset(idt, 0, 4096);
        for (size_t i = 0; i < n; i++) {
                uint64_t a = v[i].addr;
                uint64_t *g = &idt[2 * v[i].vector];
                /* 64-bit interrupt gate (type 0xe), present, DPL as given */
                g[0] = (a & 0xffff) | (uint64_t) HV_SEL_KCODE << 16 | 0xeull << 40 | (uint64_t) (v[i].dpl & 3) << 45 |
                       1ull << 47 | (a >> 16 & 0xffff) << 48;
                g[1] = a >> 32;
        }
}

static void build_percpu(struct hv_vm *vm, unsigned id) {
        uint8_t *pc = hv_vm_gpa(vm, percpu(id), HV_PERCPU_STRIDE);
        uint64_t rsp0 = percpu(id) + HV_PERCPU_KSTACK_TOP;
        uint64_t ustack = percpu(id) + HV_PERCPU_USTACK_TOP;
        uint64_t vcpu_id = id;
        uint16_t iopb = TSS_IOPB;

        /* an all-zero I/O bitmap lets ring 3 reach every port: some hosts (PVM) ignore IOPL */
        memset(pc, 0, HV_PERCPU_STRIDE);
        memcpy(pc + 4, &rsp0, 8);
        memcpy(pc + 0x66, &iopb, 2);
        pc[HV_PERCPU_TSS_SIZE - 1] = 0xff;
        memcpy(pc + PC_VCPU_ID, &vcpu_id, 8);
        memcpy(pc + PC_USTACK, &ustack, 8);
}

static int setup_vcpu(struct hv_vcpu *v, uint64_t entry) {
        struct kvm_sregs s;
        int r;

        if ((r = hv_cpuid_setup(v, 0)) < 0)
                return r;
        if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
                return -errno;
        s.cs = hv_flat_segment(HV_SEL_KCODE, 0xb, 0, true);
        s.ss = hv_flat_segment(HV_SEL_KDATA, 0x3, 0, false);
        s.ds = s.es = s.fs = s.gs = hv_flat_segment(HV_SEL_UDATA | 3, 0x3, 3, false);
        s.gs.base = percpu(v->id);
        s.tr = (struct kvm_segment) {
                .base = percpu(v->id), .limit = TSS_LIMIT, .selector = HV_SEL_TSS0 + 16 * v->id,
                .type = TSS_TYPE_BUSY, .present = 1,
        };
        s.gdt.base = HV_GDT_ADDR;
        s.gdt.limit = HV_SEL_TSS0 + 16 * v->vm->n_vcpus - 1;
        s.idt.base = HV_IDT_ADDR;
        s.idt.limit = 256 * 16 - 1;
        s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
        s.cr3 = HV_PML4_ADDR;
        s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
        s.efer = EFER_LME | EFER_LMA;
        if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
                return -errno;

        struct kvm_regs regs = {
                .rip = entry,
                .rsp = percpu(v->id) + HV_PERCPU_KSTACK_TOP,
                .rdi = v->id,
                .rsi = HV_PARAMS_ADDR,
                .rflags = 0x2,
        };
        if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
                return -errno;
        /* with the irqchip in the kernel, APs would otherwise wait for INIT/SIPI */
        struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
        if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
                return -errno;
        return 0;
}

static bool in_image(uint64_t start, uint64_t end, uint64_t elem, uint64_t image_end) {
        return start >= HV_IMAGE_ADDR && start <= end && end <= image_end && (end - start) % elem == 0;
}

int hv_boot_flat(struct hv_vm *vm, const void *image, size_t len, const char *entry,
                 const struct hv_guest_params *params) {
        struct hv_image_header h;
        uint64_t entry_addr = 0;
        int r;

        if (vm->n_vcpus > HV_MAX_VCPUS || hv_vm_state(vm) != HV_VM_CREATED)
                return -EINVAL;
        if (len < sizeof(h))
                return -EINVAL;
        memcpy(&h, image, sizeof(h));
        if (h.magic != HV_IMAGE_MAGIC || h.image_end < HV_IMAGE_ADDR + len)
                return -EINVAL;
        uint8_t *dst = hv_vm_gpa(vm, HV_IMAGE_ADDR, h.image_end - HV_IMAGE_ADDR);
        if (!dst)
                return -E2BIG;
        uint64_t loaded_end = HV_IMAGE_ADDR + len;
        if (!in_image(h.entries, h.entries_end, sizeof(struct hv_image_entry), loaded_end) ||
            !in_image(h.vectors, h.vectors_end, sizeof(struct hv_image_vector), loaded_end))
                return -EINVAL;
        memcpy(dst, image, len);
        memset(dst + len, 0, h.image_end - loaded_end); /* .bss */

        const struct hv_image_entry *e = (const void *) (dst + (h.entries - HV_IMAGE_ADDR));
        for (size_t i = 0; i < (h.entries_end - h.entries) / sizeof(*e); i++)
                if (strncmp(e[i].name, entry, HV_IMAGE_NAME_LEN) == 0 && strlen(entry) < HV_IMAGE_NAME_LEN)
                        entry_addr = e[i].addr;
        if (!entry_addr)
                return -ENOENT;
        if (entry_addr < HV_IMAGE_ADDR || entry_addr >= loaded_end)
                return -EINVAL;
        const struct hv_image_vector *vec = (const void *) (dst + (h.vectors - HV_IMAGE_ADDR));
        size_t n_vec = (h.vectors_end - h.vectors) / sizeof(*vec);
        for (size_t i = 0; i < n_vec; i++)
                if (vec[i].vector > 255 || vec[i].addr < HV_IMAGE_ADDR || vec[i].addr >= loaded_end)
                        return -EINVAL;

        hv_boot_identity_map(vm);
        build_gdt(vm);
        build_idt(vm, vec, n_vec);
        struct hv_guest_params *p = hv_vm_gpa(vm, HV_PARAMS_ADDR, sizeof(*p));
        *p = *params;
        p->magic = HV_PARAMS_MAGIC;
        p->vcpus = vm->n_vcpus;
        p->remaining = vm->n_vcpus;
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                build_percpu(vm, i);
                if ((r = setup_vcpu(vm->vcpus[i], entry_addr)) < 0)
                        return r;
        }
        return 0;
}
