/* VM creation (RAM, irqchip, PIT, devices, vCPUs) and the lifecycle state machine. */
#define _GNU_SOURCE
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <asm/kvm_para.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "kvm.h"
#include "shm.h"
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

/* Guest writes of MSR_KVM_STEAL_TIME exit to userspace (hv/vcpu.c applies them), so we learn
 * where each vCPU's steal time record is, whatever the guest. Everything else stays in KVM:
 * nothing per exit. Without the capabilities (older kernels) guest steal is simply not seen. */
static void steal_time_watch(struct hv_vm *vm) {
        static uint8_t deny_write = 0; /* bit 0 clear: a write of the range's one MSR exits */
        struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR, .args = { KVM_MSR_EXIT_REASON_FILTER } };
        struct kvm_msr_filter f = {
                .flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
                .ranges = { { .flags = KVM_MSR_FILTER_WRITE, .nmsrs = 1, .base = MSR_KVM_STEAL_TIME, .bitmap = &deny_write } },
        };
        if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap) == 0)
                ioctl(vm->fd, KVM_X86_SET_MSR_FILTER, &f);
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
        steal_time_watch(vm);
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
        /* a crashing worker's core holds no guest RAM (up to 3 GiB of someone's data) */
        madvise(vm->ram, vm->ram_bytes, MADV_DONTDUMP);
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

static int vm_setup_devices(struct hv_vm *vm) {
        int (*const attach[])(struct hv_vm *) = {
                hv_console_attach, hv_exitport_attach, hv_i8042_attach, hv_post_attach,
                hv_rtc_attach, hv_scratch_attach, hv_serial_attach, hv_sleep_attach,
        };
        int r;
        for (size_t i = 0; i < sizeof(attach) / sizeof(attach[0]); i++)
                if ((r = attach[i](vm)) < 0)
                        return r;
        return 0;
}

/* The shared memfd: header, vCPU parts, console slots, the watcher's page. Untouched pages cost
 * nothing, so a quiet console ring takes no memory. */
static int shm_map(struct hv_vm *vm, unsigned n_vcpus, size_t console_size) {
        struct hv_shm_layout l;
        size_t len = hv_shm_size(n_vcpus, console_size, &l);
        vm->sh_fd = memfd_create("vmstatd-vm", MFD_CLOEXEC);
        if (vm->sh_fd < 0)
                return -errno;
        if (ftruncate(vm->sh_fd, (off_t) len) < 0)
                return -errno;
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, vm->sh_fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        vm->sh = p;
        vm->sh_len = len;
        vm->sh->magic = HV_SHM_MAGIC;
        vm->sh->version = HV_SHM_VERSION;
        vm->sh->n_vcpus = n_vcpus;
        vm->sh->size = len;
        vm->sh->vcpu_off = l.vcpu_off;
        vm->sh->hist_off = l.hist_off;
        vm->sh->console_off = l.console_off;
        vm->sh->console_size = console_size;
        vm->sh->watch_off = l.watch_off;
        vm->sh->vcpu = -1;
        vm->watch = (struct hv_shm_watch *) ((uint8_t *) p + l.watch_off);
        return hv_console_wrap(&vm->sh->console_head, (_Atomic uint32_t *) ((uint8_t *) p + l.console_off),
                               console_size, &vm->console);
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
        vm->fd = -1;
        vm->sh_fd = -1;
        vm->ram_bytes = cfg->ram_bytes;
        vm->created_ns = hv_now_ns();
        vm->cpus_mask = cfg->cpus_mask;
        atomic_init(&vm->dead_signal, -1);
        atomic_init(&vm->request, HV_REQ_RUN);
        pthread_mutex_init(&vm->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&vm->cond, &ca);
        pthread_condattr_destroy(&ca);

        size_t console_size = cfg->console_bytes ? cfg->console_bytes : 64 * 1024;
        if (console_size & (console_size - 1)) {
                r = -EINVAL;
                goto fail;
        }
        if ((r = shm_map(vm, cfg->vcpus, console_size)) < 0)
                goto fail;
        memcpy(vm->sh->name, vm->name, sizeof(vm->sh->name));
        vm->sh->pid = getpid();
        vm->sh->ram_bytes = vm->ram_bytes;
        vm->sh->created_ns = vm->created_ns;
        vm->sh->id = cfg->id;
        vm->sh->restarts = cfg->restarts;
        if (cfg->spec)
                snprintf(vm->sh->spec, sizeof(vm->sh->spec), "%s", cfg->spec);
        atomic_store(&vm->sh->state, HV_VM_CREATED);
        vm->fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
        if (vm->fd < 0) {
                r = -errno;
                goto fail;
        }
        if ((r = vm_setup_kvm(vm)) < 0 || (r = vm_setup_ram(vm)) < 0 || (r = vm_setup_devices(vm)) < 0)
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
        if (!state_final(atomic_load(&vm->sh->state))) {
                /* the outcome is complete before readers see the final state (release) */
                vm->sh->reason = reason;
                vm->sh->exit_code = exit_code;
                vm->sh->detail = detail;
                vm->sh->vcpu = by ? (int) by->id : -1;
                if (by && state == HV_VM_CRASHED && hv_vcpu_dump_regs(by, vm->sh->regs, sizeof(vm->sh->regs)) < 0)
                        snprintf(vm->sh->regs, sizeof(vm->sh->regs), "(registers unavailable)\n");
                atomic_store(&vm->request, HV_REQ_STOP);
                atomic_store_explicit(&vm->sh->state, state, memory_order_release);
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
        if (vm->view || atomic_load(&vm->sh->state) != HV_VM_CREATED) {
                pthread_mutex_unlock(&vm->lock);
                return -EBUSY;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        atomic_store(&vm->sh->started_realtime_ns, (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec);
        atomic_store(&vm->sh->state, HV_VM_RUNNING);
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
        return vm->parked >= vm->active || state_final(atomic_load(&vm->sh->state));
}

int hv_vm_pause(struct hv_vm *vm) {
        pthread_mutex_lock(&vm->lock);
        if (vm->view || atomic_load(&vm->sh->state) != HV_VM_RUNNING) {
                pthread_mutex_unlock(&vm->lock);
                return -EBUSY;
        }
        atomic_store(&vm->request, HV_REQ_PAUSE);
        kick_all_except(vm, NULL);
        int r = wait_locked(vm, all_parked, 5000);
        if (state_final(atomic_load(&vm->sh->state)))
                r = -ECANCELED; /* it ended while we waited */
        else
                atomic_store(&vm->sh->state, HV_VM_PAUSED); /* on timeout too: no vCPU will run again */
        pthread_mutex_unlock(&vm->lock);
        return r;
}

int hv_vm_resume(struct hv_vm *vm) {
        pthread_mutex_lock(&vm->lock);
        if (vm->view || atomic_load(&vm->sh->state) != HV_VM_PAUSED) {
                pthread_mutex_unlock(&vm->lock);
                return -EBUSY;
        }
        atomic_store(&vm->request, HV_REQ_RUN);
        atomic_store(&vm->sh->state, HV_VM_RUNNING);
        pthread_cond_broadcast(&vm->cond);
        pthread_mutex_unlock(&vm->lock);
        return 0;
}

int hv_vm_stop(struct hv_vm *vm) {
        if (vm->view)
                return -EBUSY;
        hv_vm_finish(vm, HV_VM_STOPPED, HV_REASON_REQUESTED, 0, 0, NULL);
        join_all(vm);
        return 0;
}

static bool ended(struct hv_vm *vm) {
        return state_final(atomic_load(&vm->sh->state));
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
        int s = atomic_load_explicit(&vm->sh->state, memory_order_acquire);
        if (!state_final(s) && atomic_load(&vm->dead_signal) >= 0)
                return HV_VM_CRASHED;
        return (enum hv_vm_state) s;
}

void hv_vm_get_outcome(struct hv_vm *vm, struct hv_vm_outcome *ret) {
        int s = atomic_load_explicit(&vm->sh->state, memory_order_acquire);
        int dead = atomic_load(&vm->dead_signal);
        *ret = (struct hv_vm_outcome) { .state = (enum hv_vm_state) s, .vcpu = -1 };
        if (state_final(s)) { /* written once, before the state (release) */
                ret->reason = (enum hv_vm_reason) vm->sh->reason;
                ret->exit_code = vm->sh->exit_code;
                ret->detail = vm->sh->detail;
                ret->vcpu = vm->sh->vcpu;
                memcpy(ret->regs, vm->sh->regs, sizeof(ret->regs));
                ret->regs[sizeof(ret->regs) - 1] = 0;
        } else if (dead >= 0) {
                ret->state = HV_VM_CRASHED;
                ret->reason = HV_REASON_WORKER_DIED;
                ret->detail = (uint64_t) dead;
        }
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
        if (vm->view && vm->watch)
                munmap(vm->watch, sizeof(*vm->watch));
        if (vm->sh)
                munmap(vm->sh, vm->view ? vm->sh_len - sizeof(*vm->watch) : vm->sh_len);
        if (vm->sh_fd >= 0)
                close(vm->sh_fd);
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

/* ---- sharing ------------------------------------------------------------------------------------ */

int hv_vm_shm_fd(const struct hv_vm *vm) {
        return vm->sh_fd;
}

void *hv_vm_watch_state(struct hv_vm *vm) {
        return vm->watch->opaque;
}

pid_t hv_vm_pid(const struct hv_vm *vm) {
        return vm->sh->pid;
}

uint64_t hv_vm_started_realtime_ns(const struct hv_vm *vm) {
        return atomic_load(&vm->sh->started_realtime_ns);
}

static struct hv_vm *view_new(void) {
        struct hv_vm *vm = calloc(1, sizeof(*vm));
        if (!vm)
                return NULL;
        vm->view = true;
        vm->fd = vm->stats_fd = vm->sh_fd = -1;
        atomic_init(&vm->dead_signal, -1);
        pthread_mutex_init(&vm->lock, NULL);
        pthread_cond_init(&vm->cond, NULL);
        return vm;
}

static int view_map(struct hv_vm *vm, int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size < sizeof(struct hv_shm))
                return -EBADMSG;
        /* the header alone first: its size says how much to map */
        struct hv_shm *head = mmap(NULL, sizeof(*head), PROT_READ, MAP_SHARED, fd, 0);
        if (head == MAP_FAILED)
                return -errno;
        int r = hv_shm_check(head, (uint64_t) st.st_size);
        uint64_t watch_off = head->watch_off, size = head->size;
        munmap(head, sizeof(*head));
        if (r < 0)
                return r;
        /* read-only up to the watcher's page, which is ours to write */
        void *p = mmap(NULL, watch_off, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        vm->sh = p;
        vm->sh_len = size;
        void *w = mmap(NULL, sizeof(*vm->watch), PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t) watch_off);
        if (w == MAP_FAILED)
                return -errno;
        vm->watch = w;
        return hv_shm_check(vm->sh, (uint64_t) st.st_size); /* the mapping we keep says the same */
}

int hv_vm_attach(int fd, int *stats_fds, unsigned n_stats, struct hv_vm **ret) {
        struct hv_vm *vm = view_new();
        int r;
        if (!vm)
                return -ENOMEM;
        if ((vm->sh_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
                r = -errno;
                goto fail;
        }
        if ((r = view_map(vm, vm->sh_fd)) < 0)
                goto fail;
        memcpy(vm->name, vm->sh->name, sizeof(vm->name));
        vm->name[sizeof(vm->name) - 1] = 0;
        vm->ram_bytes = vm->sh->ram_bytes;
        vm->created_ns = vm->sh->created_ns;
        if (n_stats > 0) {
                vm->stats_fd = stats_fds[0];
                stats_fds[0] = -1;
        }
        if ((r = hv_console_wrap(&vm->sh->console_head,
                                 (_Atomic uint32_t *) ((uint8_t *) vm->sh + vm->sh->console_off), vm->sh->console_size,
                                 &vm->console)) < 0)
                goto fail;
        if (!(vm->vcpus = calloc(vm->sh->n_vcpus, sizeof(*vm->vcpus)))) {
                r = -ENOMEM;
                goto fail;
        }
        for (; vm->n_vcpus < vm->sh->n_vcpus; vm->n_vcpus++) {
                unsigned i = vm->n_vcpus;
                int *sfd = i + 1 < n_stats ? &stats_fds[i + 1] : NULL;
                if ((r = hv_vcpu_view(vm, i, sfd ? *sfd : -1, &vm->vcpus[i])) < 0)
                        goto fail;
                if (sfd)
                        *sfd = -1;
        }
        *ret = vm;
        return 0;
fail:
        hv_vm_destroy(vm);
        return r;
}

void hv_vm_mark_dead(struct hv_vm *vm, int sig) {
        int none = -1;
        atomic_compare_exchange_strong(&vm->dead_signal, &none, sig < 0 ? 0 : sig);
}

#define MINCORE_CHUNK_PAGES 4096

static int resident_bytes(const uint8_t *base, uint64_t len, uint64_t *ret) {
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE), pages = 0, chunk_max = page * MINCORE_CHUNK_PAGES;
        unsigned char vec[MINCORE_CHUNK_PAGES];
        for (uint64_t off = 0; off < len; off += chunk_max) {
                uint64_t chunk = len - off < chunk_max ? len - off : chunk_max;
                if (mincore((void *) (base + off), chunk, vec) < 0)
                        return -errno;
                for (uint64_t i = 0; i < (chunk + page - 1) / page; i++)
                        pages += vec[i] & 1;
        }
        *ret = pages * page;
        return 0;
}

int hv_vm_resident_bytes(struct hv_vm *vm, uint64_t *ret) {
        if (vm->view) {
                *ret = atomic_load_explicit(&vm->sh->resident_bytes, memory_order_relaxed);
                return 0;
        }
        return vm->ram ? resident_bytes(vm->ram, vm->ram_bytes, ret) : (*ret = 0, 0);
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout) {
        return syscall(SYS_futex, word, op, val, timeout, NULL, 0); /* shared: no FUTEX_PRIVATE_FLAG */
}

void hv_vm_publish_request(struct hv_vm *vm) {
        if (!vm->view || atomic_load(&vm->dead_signal) >= 0)
                return;
        atomic_fetch_add(&vm->watch->pub_req, 1);
        futex(&vm->watch->pub_req, FUTEX_WAKE, 1, NULL);
}

int hv_vm_publish_wait(struct hv_vm *vm, uint64_t timeout_ns) {
        if (!vm->view || atomic_load(&vm->dead_signal) >= 0)
                return 0;
        uint32_t want = atomic_load(&vm->watch->pub_req);
        uint64_t deadline = hv_now_ns() + timeout_ns;
        for (;;) {
                uint32_t ack = atomic_load_explicit(&vm->sh->pub_ack, memory_order_acquire);
                if (ack == want)
                        return 0;
                uint64_t now = hv_now_ns();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct timespec ts = { .tv_sec = (time_t) ((deadline - now) / 1000000000u),
                                       .tv_nsec = (long) ((deadline - now) % 1000000000u) };
                futex(&vm->sh->pub_ack, FUTEX_WAIT, ack, &ts);
        }
}

void hv_vm_publish(struct hv_vm *vm) {
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                hv_vcpu_publish(vm->vcpus[i]);
        uint64_t resident;
        if (vm->ram && resident_bytes(vm->ram, vm->ram_bytes, &resident) == 0)
                atomic_store_explicit(&vm->sh->resident_bytes, resident, memory_order_relaxed);
}

void hv_vm_publish_serve(struct hv_vm *vm) {
        uint32_t done = atomic_load(&vm->sh->pub_ack);
        for (;;) {
                uint32_t req = atomic_load(&vm->watch->pub_req);
                if (req != done) {
                        hv_vm_publish(vm);
                        atomic_store_explicit(&vm->sh->pub_ack, req, memory_order_release);
                        futex(&vm->sh->pub_ack, FUTEX_WAKE, INT32_MAX, NULL);
                        done = req;
                        continue;
                }
                futex(&vm->watch->pub_req, FUTEX_WAIT, req, NULL);
        }
}
