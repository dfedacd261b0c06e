/* Shared helpers for tests that need the real /dev/kvm. */
#ifndef TEST_KVM_HELPER_H
#define TEST_KVM_HELPER_H

#include <check.h>
#include <linux/kvm.h>

#include "tests/suite.h"
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "counters.h"
#include "kvm.h"
#include "vcpu.h"
#include "vm.h"

/* Opens /dev/kvm, or fails the test when it cannot, unless VMSTATD_ALLOW_NO_KVM=1: then it
 * returns NULL with the reason in why, for a fixture to hand to the tests (TEST_SKIP). */
struct hv_kvm *test_kvm_or_why(char *why, size_t size);
/* The same from a test: NULL after the test's SKIP line (a failure under VMSTATD_STRICT=1);
 * the caller returns at once. */
struct hv_kvm *test_kvm(void);
#define REQUIRE_KVM(k)                          \
        struct hv_kvm *k = test_kvm();          \
        if (!k)                                 \
                return

/* Creates VM name with vcpus vCPUs and 16 MiB, loads the built-in guest b; asserts success. */
struct hv_vm *test_vm(struct hv_kvm *kvm, const char *name, unsigned vcpus, const struct hv_builtin *b);
/* A created VM (1 vCPU, 16 MiB) with no guest loaded: for driving devices from the test. */
struct hv_vm *test_bare_vm(struct hv_kvm *kvm, const char *name);
/* The in-kernel master 8259's state (IRR, ISR, ...): where an ISA IRQ a device raised shows. */
struct kvm_pic_state test_pic_master(struct hv_vm *vm);
/* One byte in or out of a port through the VM's bus; asserts a device claims it. */
uint8_t test_inb(struct hv_vm *vm, uint16_t port);
void test_outb(struct hv_vm *vm, uint16_t port, uint8_t v);
/* Starts vm and waits (asserting it ends within timeout_ms) for it to stop or crash. */
void test_run_to_end(struct hv_vm *vm, int timeout_ms);
/* Asserts the VM stopped with the given exit code. */
void test_assert_exit_code(struct hv_vm *vm, int64_t code);
/* Sum over the VM's vCPUs. */
uint64_t test_exits(struct hv_vm *vm, enum hv_exit e);
struct hv_counters test_counters(struct hv_vm *vm, unsigned vcpu);
void test_sleep_ms(unsigned ms);

#endif
