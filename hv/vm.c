/* VM creation (RAM, irqchip, PIT, devices, vCPUs) and the lifecycle state machine. */
#define _GNU_SOURCE
#include "vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "kvm.h"
#include "vcpu.h"

#define HV_MAX_RAM (3ull << 30) /* below the 32-bit MMIO hole */

static bool valid_name(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > 32)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
                        return false;
        return true;
}

static int vm_setup_kvm(struct hv_vm *vm) {
        if (ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long) HV_TSS_ADDR) < 0)
                return -errno;
        uint64_t identity = HV_TSS_IDENTITY_ADDR;
        if (ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
                return -errno;
        if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
                return -errno;
        /* the in-kernel PIT also answers port 0x61 (speaker/gate), which Linux polls to calibrate */
        struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
        if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
                return -errno;
        vm->stats_fd = ioctl(vm->fd, KVM_GET_STATS_FD, NULL);
        if (vm->stats_fd < 0)
                return -errno;
        return 0;
}

static int vm_setup_ram(struct hv_vm *vm) {
        vm->ram = mmap(NULL, vm->ram_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                       0);
        if (vm->ram == MAP_FAILED) {
                vm->ram = NULL;
                return -errno;
        }
        /* huge pages where the host allows them: fewer guest TLB misses, as QEMU does */
        madvise(vm->ram, vm->ram_bytes, MADV_HUGEPAGE);
        struct kvm_userspace_memory_region region = {
                .slot = 0,
                .guest_phys_addr = 0,
                .memory_size = vm->ram_bytes,
                .userspace_addr = (uint64_t) (uintptr_t) vm->ram,
        };
        if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
                return -errno;
        return 0;
}

static int vm_setup_devices(struct hv_vm *vm, size_t console_bytes) {
        int (*const attach[])(struct hv_vm *) = {
                hv_console_attach, hv_exitport_attach, hv_i8042_attach, hv_post_attach,
                hv_rtc_attach, hv_scratch_attach, hv_serial_attach, hv_sleep_attach,
        };
        int r = hv_console_new(console_bytes, &vm->console);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof(attach) / sizeof(attach[0]); i++)
                if ((r = attach[i](vm)) < 0)
                        return r;
        return 0;
}

int hv_vm_create(struct hv_kvm *kvm, const struct hv_vm_config *cfg, struct hv_vm **ret) {
        struct hv_vm *vm;
        int r;

        if (!valid_name(cfg->name) || cfg->vcpus < 1 || cfg->vcpus > HV_MAX_VCPUS || cfg->ram_bytes < HV_MIN_RAM ||
            cfg->ram_bytes > HV_MAX_RAM || cfg->ram_bytes % 4096)
                return -EINVAL;
        vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;
        vm->kvm = kvm;
        snprintf(vm->name, sizeof(vm->name), "%s", cfg->name);
        vm->stats_fd = -1;
        vm->ram_bytes = cfg->ram_bytes;
        vm->created_ns = hv_now_ns();
        vm->outcome.vcpu = -1;
        atomic_init(&vm->state, HV_VM_CREATED);
        atomic_init(&vm->request, HV_REQ_RUN);
        pthread_mutex_init(&vm->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&vm->cond, &ca);
        pthread_condattr_destroy(&ca);

        vm->fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
        if (vm->fd < 0) {
                r = -errno;
                goto fail;
        }
        if ((r = vm_setup_kvm(vm)) < 0 || (r = vm_setup_ram(vm)) < 0 ||
            (r = vm_setup_devices(vm, cfg->console_bytes)) < 0)
                goto fail;
        vm->vcpus = calloc(cfg->vcpus, sizeof(*vm->vcpus));
        if (!vm->vcpus) {
                r = -ENOMEM;
                goto fail;
        }
        for (; vm->n_vcpus < cfg->vcpus; vm->n_vcpus++)
                if ((r = hv_vcpu_create(vm, vm->n_vcpus, &vm->vcpus[vm->n_vcpus])) < 0)
                        goto fail;
        *ret = vm;
        return 0;
fail:
        hv_vm_destroy(vm);
        return r;
}

static bool state_final(int s) {
        return s == HV_VM_STOPPED || s == HV_VM_CRASHED;
}

static void kick_all_except(struct hv_vm *vm, struct hv_vcpu *except) {
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                if (vm->vcpus[i] != except)
                        hv_vcpu_kick(vm->vcpus[i]);
}

static void join_all(struct hv_vm *vm) {
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                hv_vcpu_join(vm->vcpus[i]);
}

void hv_vm_finish(struct hv_vm *vm, enum hv_vm_state state, enum hv_vm_reason reason, int64_t exit_code,
                  uint64_t detail, struct hv_vcpu *by) {
        pthread_mutex_lock(&vm->lock);
        if (!state_final(atomic_load(&vm->state))) {
                vm->outcome.state = state;
                vm->outcome.reason = reason;
                vm->outcome.exit_code = exit_code;
                vm->outcome.detail = detail;
                vm->outcome.vcpu = by ? (int) by->id : -1;
                if (by && state == HV_VM_CRASHED &&
                    hv_vcpu_dump_regs(by, vm->outcome.regs, sizeof(vm->outcome.regs)) < 0)
                        snprintf(vm->outcome.regs, sizeof(vm->outcome.regs), "(registers unavailable)\n");
                atomic_store(&vm->request, HV_REQ_STOP);
                atomic_store(&vm->state, state);
                kick_all_except(vm, by);
                pthread_cond_broadcast(&vm->cond);
        }
        pthread_mutex_unlock(&vm->lock);
}

void hv_vm_fail_load(struct hv_vm *vm, int err) {
        if (hv_vm_state(vm) != HV_VM_CREATED)
                return;
        madvise(vm->ram, vm->ram_bytes, MADV_DONTNEED); /* a half-loaded image helps nobody */
        hv_vm_finish(vm, HV_VM_CRASHED, HV_REASON_LOAD_ERROR, 0, (uint64_t) -err, NULL);
}

int hv_vm_start(struct hv_vm *vm) {
        int r = 0;
        pthread_mutex_lock(&vm->lock);
        if (atomic_load(&vm->state) != HV_VM_CREATED) {
                pthread_mutex_unlock(&vm->lock);
                return -EBUSY;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        vm->started_realtime_ns = (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
        atomic_store(&vm->state, HV_VM_RUNNING);
        for (unsigned i = 0; i < vm->n_vcpus && r == 0; i++)
                if ((r = hv_vcpu_spawn(vm->vcpus[i])) == 0)
                        vm->active++;
        pthread_mutex_unlock(&vm->lock);
        if (r < 0) {
                hv_vm_finish(vm, HV_VM_CRASHED, HV_REASON_KVM_RUN_ERROR, 0, (uint64_t) -r, NULL);
                join_all(vm);
        }
        return r;
}

static int wait_locked(struct hv_vm *vm, bool (*done)(struct hv_vm *), int timeout_ms) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        if (timeout_ms >= 0) {
                deadline.tv_sec += timeout_ms / 1000;
                deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
                if (deadline.tv_nsec >= 1000000000L) {
                        deadline.tv_sec++;
                        deadline.tv_nsec -= 1000000000L;
                }
        }
        while (!done(vm)) {
                if (timeout_ms < 0)
                        pthread_cond_wait(&vm->cond, &vm->lock);
                else if (pthread_cond_timedwait(&vm->cond, &vm->lock, &deadline) == ETIMEDOUT)
                        return done(vm) ? 0 : -ETIMEDOUT;
        }
        return 0;
}

static bool all_parked(struct hv_vm *vm) {
        return vm->parked >= vm->active || state_final(atomic_load(&vm->state));
}

int hv_vm_pause(struct hv_vm *vm) {
        pthread_mutex_lock(&vm->lock);
        if (atomic_load(&vm->state) != HV_VM_RUNNING) {
                pthread_mutex_unlock(&vm->lock);
                return -EBUSY;
        }
        atomic_store(&vm->request, HV_REQ_PAUSE);
        kick_all_except(vm, NULL);
        int r = wait_locked(vm, all_parked, 5000);
        if (state_final(atomic_load(&vm->state)))
                r = -ECANCELED; /* it ended while we waited */
        else
                atomic_store(&vm->state, HV_VM_PAUSED); /* on timeout too: no vCPU will run again */
        pthread_mutex_unlock(&vm->lock);
        return r;
}

int hv_vm_resume(struct hv_vm *vm) {
        pthread_mutex_lock(&vm->lock);
        if (atomic_load(&vm->state) != HV_VM_PAUSED) {
                pthread_mutex_unlock(&vm->lock);
                return -EBUSY;
        }
        atomic_store(&vm->request, HV_REQ_RUN);
        atomic_store(&vm->state, HV_VM_RUNNING);
        pthread_cond_broadcast(&vm->cond);
        pthread_mutex_unlock(&vm->lock);
        return 0;
}

int hv_vm_stop(struct hv_vm *vm) {
        hv_vm_finish(vm, HV_VM_STOPPED, HV_REASON_REQUESTED, 0, 0, NULL);
        join_all(vm);
        return 0;
}

static bool ended(struct hv_vm *vm) {
        return state_final(atomic_load(&vm->state));
}

int hv_vm_wait(struct hv_vm *vm, int timeout_ms) {
        pthread_mutex_lock(&vm->lock);
        int r = wait_locked(vm, ended, timeout_ms);
        pthread_mutex_unlock(&vm->lock);
        if (r == 0)
                join_all(vm);
        return r;
}

enum hv_vm_state hv_vm_state(const struct hv_vm *vm) {
        return (enum hv_vm_state) atomic_load(&vm->state);
}

void hv_vm_get_outcome(struct hv_vm *vm, struct hv_vm_outcome *ret) {
        pthread_mutex_lock(&vm->lock);
        *ret = vm->outcome;
        ret->state = (enum hv_vm_state) atomic_load(&vm->state);
        pthread_mutex_unlock(&vm->lock);
}

void *hv_vm_gpa(struct hv_vm *vm, uint64_t gpa, uint64_t len) {
        if (gpa > vm->ram_bytes || len > vm->ram_bytes - gpa)
                return NULL;
        return vm->ram + gpa;
}

void hv_vm_destroy(struct hv_vm *vm) {
        if (!vm)
                return;
        if (vm->vcpus) {
                hv_vm_stop(vm);
                for (unsigned i = 0; i < vm->n_vcpus; i++)
                        hv_vcpu_free(vm->vcpus[i]);
                free(vm->vcpus);
        }
        hv_bus_free(&vm->pio);
        hv_bus_free(&vm->mmio);
        hv_console_free(vm->console);
        if (vm->ram)
                munmap(vm->ram, vm->ram_bytes);
        if (vm->stats_fd >= 0)
                close(vm->stats_fd);
        if (vm->fd >= 0)
                close(vm->fd);
        pthread_cond_destroy(&vm->cond);
        pthread_mutex_destroy(&vm->lock);
        free(vm);
}

const char *hv_vm_state_name(enum hv_vm_state s) {
        static const char *const names[] = {
                [HV_VM_CREATED] = "created", [HV_VM_RUNNING] = "running", [HV_VM_PAUSED] = "paused",
                [HV_VM_STOPPED] = "stopped", [HV_VM_CRASHED] = "crashed",
        };
        return (unsigned) s < sizeof(names) / sizeof(names[0]) ? names[s] : "invalid";
}

const char *hv_vm_reason_name(enum hv_vm_reason r) {
        static const char *const names[] = {
                [HV_REASON_NONE] = "none",
                [HV_REASON_EXIT_CODE] = "exit_code",
                [HV_REASON_REBOOT] = "reboot",
                [HV_REASON_POWEROFF] = "poweroff",
                [HV_REASON_REQUESTED] = "requested",
                [HV_REASON_SHUTDOWN] = "shutdown",
                [HV_REASON_FAIL_ENTRY] = "fail_entry",
                [HV_REASON_INTERNAL_ERROR] = "internal_error",
                [HV_REASON_GUEST_CRASH] = "guest_crash",
                [HV_REASON_UNKNOWN_EXIT] = "unknown_exit",
                [HV_REASON_KVM_RUN_ERROR] = "kvm_run_error",
                [HV_REASON_LOAD_ERROR] = "load_error",
        };
        return (unsigned) r < sizeof(names) / sizeof(names[0]) ? names[r] : "invalid";
}
