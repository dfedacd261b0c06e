#include "kvm_helper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

struct hv_kvm *test_kvm_or_why(char *why, size_t size) {
        char reason[HV_WHY_LEN];
        struct hv_kvm *kvm;
        int r = hv_kvm_open(NULL, &kvm, reason);
        if (r == 0)
                return kvm;
        const char *allow = getenv("VMSTATD_ALLOW_NO_KVM");
        ck_assert_msg(allow && strcmp(allow, "1") == 0, "needs /dev/kvm: %s (set VMSTATD_ALLOW_NO_KVM=1 to skip)",
                      reason);
        snprintf(why, size, "%s (VMSTATD_ALLOW_NO_KVM=1)", reason);
        return NULL;
}

struct hv_kvm *test_kvm(void) {
        char why[HV_WHY_LEN + 32];
        struct hv_kvm *kvm = test_kvm_or_why(why, sizeof(why));
        if (!kvm)
                test_skip("%s", why);
        return kvm;
}

static struct hv_vm *create(struct hv_kvm *kvm, const char *name, unsigned vcpus) {
        struct hv_vm_config cfg = { .name = name, .vcpus = vcpus, .ram_bytes = 16 << 20 };
        struct hv_vm *vm;
        int r = hv_vm_create(kvm, &cfg, &vm);
        ck_assert_msg(r == 0, "hv_vm_create(%s): %s", name, strerror(-r));
        return vm;
}

struct hv_vm *test_vm(struct hv_kvm *kvm, const char *name, unsigned vcpus, const struct hv_builtin *b) {
        struct hv_vm *vm = create(kvm, name, vcpus);
        int r = hv_boot_builtin(vm, b);
        ck_assert_msg(r == 0, "hv_boot_builtin(%s): %s", b->guest, strerror(-r));
        return vm;
}

struct hv_vm *test_bare_vm(struct hv_kvm *kvm, const char *name) {
        return create(kvm, name, 1);
}

struct kvm_pic_state test_pic_master(struct hv_vm *vm) {
        struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
        ck_assert_int_eq(ioctl(vm->fd, KVM_GET_IRQCHIP, &chip), 0);
        return chip.chip.pic;
}

uint8_t test_inb(struct hv_vm *vm, uint16_t port) {
        uint8_t v = 0;
        ck_assert_msg(hv_bus_access(&vm->pio, NULL, port, &v, 1, false), "port 0x%x unclaimed", port);
        return v;
}

void test_outb(struct hv_vm *vm, uint16_t port, uint8_t v) {
        ck_assert_msg(hv_bus_access(&vm->pio, NULL, port, &v, 1, true), "port 0x%x unclaimed", port);
}

void test_run_to_end(struct hv_vm *vm, int timeout_ms) {
        int r = hv_vm_start(vm);
        ck_assert_msg(r == 0, "hv_vm_start: %s", strerror(-r));
        r = hv_vm_wait(vm, timeout_ms);
        ck_assert_msg(r == 0, "VM %s did not end within %d ms (state %s)", vm->name, timeout_ms,
                      hv_vm_state_name(hv_vm_state(vm)));
}

void test_assert_exit_code(struct hv_vm *vm, int64_t code) {
        struct hv_vm_outcome o;
        hv_vm_get_outcome(vm, &o);
        ck_assert_msg(o.state == HV_VM_STOPPED && o.reason == HV_REASON_EXIT_CODE && o.exit_code == code,
                      "VM %s: %s (%s) exit code %lld detail %llu, expected stopped with exit code %lld\n%s", vm->name,
                      hv_vm_state_name(o.state), hv_vm_reason_name(o.reason), (long long) o.exit_code,
                      (unsigned long long) o.detail, (long long) code, o.regs);
}

struct hv_counters test_counters(struct hv_vm *vm, unsigned vcpu) {
        struct hv_counters c;
        hv_vcpu_read_counters(vm->vcpus[vcpu], &c);
        return c;
}

uint64_t test_exits(struct hv_vm *vm, enum hv_exit e) {
        uint64_t n = 0;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                n += test_counters(vm, i).exits[e];
        return n;
}

void test_sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0)
                ;
}
