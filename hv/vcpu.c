/* One pthread per vCPU running the KVM_RUN loop and dispatching exits by reason. */
#define _GNU_SOURCE
#include "vcpu.h"

#include <errno.h>
#include <sched.h>
#include <asm/kvm_para.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm.h"
#include "shm.h"
#include "vm.h"

typedef void exit_fn(struct hv_vcpu *v, struct kvm_run *run);

static void count_exit(struct hv_vcpu *v, enum hv_exit e) {
        hv_counter_add(&v->sh->c.exits[e], 1);
        v->last_exit = e;
}

/* How long userspace took with one exit, in all and by its reason. */
static void count_handling(struct hv_vcpu *v, uint64_t dt) {
        struct hv_vcpu_counters *c = &v->sh->c;
        enum hv_exit e = v->last_exit;
        unsigned b = hv_hist_bucket(dt);
        hv_counter_add(&c->handle_ns_sum, dt);
        hv_counter_add(&c->handle_ns_hist[b], 1);
        if (e >= HV_EXIT__COUNT)
                return; /* a failed KVM_RUN: no exit was counted */
        hv_counter_add(&c->reason_ns_sum[e], dt);
        hv_counter_add(&v->hist->reason_ns_hist[e][b], 1);
        if (dt > atomic_load_explicit(&c->reason_ns_max[e], memory_order_relaxed))
                atomic_store_explicit(&c->reason_ns_max[e], dt, memory_order_relaxed);
}

static void exit_io(struct hv_vcpu *v, struct kvm_run *run) {
        bool out = run->io.direction == KVM_EXIT_IO_OUT;
        uint8_t *data = (uint8_t *) run + run->io.data_offset;
        uint64_t unhandled = 0;

        count_exit(v, out ? HV_EXIT_IO_OUT : HV_EXIT_IO_IN);
        for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
                unhandled += !hv_bus_access(&v->vm->pio, v, run->io.port, data, run->io.size, out);
        if (unhandled)
                hv_counter_add(&v->sh->c.unhandled_io, unhandled);
}

static void exit_mmio(struct hv_vcpu *v, struct kvm_run *run) {
        bool write = run->mmio.is_write;
        uint32_t len = run->mmio.len <= sizeof(run->mmio.data) ? run->mmio.len : sizeof(run->mmio.data);

        count_exit(v, write ? HV_EXIT_MMIO_WRITE : HV_EXIT_MMIO_READ);
        if (!hv_bus_access(&v->vm->mmio, v, run->mmio.phys_addr, run->mmio.data, len, write))
                hv_counter_add(&v->sh->c.unhandled_mmio, 1);
}

static void crash(struct hv_vcpu *v, enum hv_vm_reason reason, uint64_t detail) {
        hv_vm_finish(v->vm, HV_VM_CRASHED, reason, 0, detail, v);
}

static void exit_shutdown(struct hv_vcpu *v, struct kvm_run *run) {
        (void) run;
        count_exit(v, HV_EXIT_SHUTDOWN);
        crash(v, HV_REASON_SHUTDOWN, 0);
}

static void exit_fail_entry(struct hv_vcpu *v, struct kvm_run *run) {
        count_exit(v, HV_EXIT_FAIL_ENTRY);
        crash(v, HV_REASON_FAIL_ENTRY, run->fail_entry.hardware_entry_failure_reason);
}

static void exit_internal_error(struct hv_vcpu *v, struct kvm_run *run) {
        count_exit(v, HV_EXIT_INTERNAL_ERROR);
        crash(v, HV_REASON_INTERNAL_ERROR, run->internal.suberror);
}

static void exit_system_event(struct hv_vcpu *v, struct kvm_run *run) {
        count_exit(v, HV_EXIT_SYSTEM_EVENT);
        switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
                hv_vm_finish(v->vm, HV_VM_STOPPED, HV_REASON_POWEROFF, 0, 0, v);
                break;
        case KVM_SYSTEM_EVENT_RESET:
                hv_vm_finish(v->vm, HV_VM_STOPPED, HV_REASON_REBOOT, 0, 0, v);
                break;
        case KVM_SYSTEM_EVENT_CRASH:
                crash(v, HV_REASON_GUEST_CRASH, 0);
                break;
        }
}

static void exit_hypercall(struct hv_vcpu *v, struct kvm_run *run) {
        count_exit(v, HV_EXIT_HYPERCALL);
        run->hypercall.ret = (uint64_t) -ENOSYS;
}

static void exit_msr(struct hv_vcpu *v, struct kvm_run *run) {
        count_exit(v, HV_EXIT_MSR);
        run->msr.error = 1; /* no userspace MSRs: the guest gets #GP */
}

/* The guest registers its steal time record (the MSR filter sends only this write here): note
 * where, and hand the write to KVM from this vCPU's thread, which then keeps the record up to
 * date. KVM's verdict is the guest's: a value it refuses gets #GP, as without vmstatd. */
static void exit_wrmsr(struct hv_vcpu *v, struct kvm_run *run) {
        if (run->msr.index != MSR_KVM_STEAL_TIME) {
                exit_msr(v, run);
                return;
        }
        count_exit(v, HV_EXIT_MSR);
        struct {
                struct kvm_msrs head;
                struct kvm_msr_entry entry;
        } m = { .head.nmsrs = 1, .entry = { .index = MSR_KVM_STEAL_TIME, .data = run->msr.data } };
        run->msr.error = ioctl(v->fd, KVM_SET_MSRS, &m) != 1;
        atomic_store_explicit(&v->sh->steal_msr, run->msr.data, memory_order_relaxed);
        atomic_store_explicit(&v->sh->steal_written, 1, memory_order_release);
}

static void exit_hlt(struct hv_vcpu *v, struct kvm_run *run) {
        (void) run;
        count_exit(v, HV_EXIT_HLT);
}

static void exit_debug(struct hv_vcpu *v, struct kvm_run *run) {
        (void) run;
        count_exit(v, HV_EXIT_DEBUG);
}

static void exit_irq_window(struct hv_vcpu *v, struct kvm_run *run) {
        (void) run;
        count_exit(v, HV_EXIT_IRQ_WINDOW);
}

static void exit_intr(struct hv_vcpu *v, struct kvm_run *run) {
        (void) run;
        count_exit(v, HV_EXIT_INTR);
}

static void exit_unknown(struct hv_vcpu *v, struct kvm_run *run) {
        count_exit(v, HV_EXIT_UNKNOWN);
        crash(v, HV_REASON_UNKNOWN_EXIT, run->exit_reason); /* re-entering would not progress */
}

static exit_fn *const exit_table[] = {
        [KVM_EXIT_IO] = exit_io,
        [KVM_EXIT_MMIO] = exit_mmio,
        [KVM_EXIT_HLT] = exit_hlt,
        [KVM_EXIT_INTR] = exit_intr,
        [KVM_EXIT_SHUTDOWN] = exit_shutdown,
        [KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
        [KVM_EXIT_INTERNAL_ERROR] = exit_internal_error,
        [KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
        [KVM_EXIT_HYPERCALL] = exit_hypercall,
        [KVM_EXIT_X86_RDMSR] = exit_msr,
        [KVM_EXIT_X86_WRMSR] = exit_wrmsr,
        [KVM_EXIT_DEBUG] = exit_debug,
        [KVM_EXIT_IRQ_WINDOW_OPEN] = exit_irq_window,
};

static void dispatch(struct hv_vcpu *v, struct kvm_run *run) {
        exit_fn *fn = run->exit_reason < sizeof(exit_table) / sizeof(exit_table[0]) ? exit_table[run->exit_reason]
                                                                                   : NULL;
        (fn ? fn : exit_unknown)(v, run);
}

/* KVM_RUN returned -1: a kick (EINTR, also with immediate_exit set) or a real failure. */
static void run_failed(struct hv_vcpu *v, struct kvm_run *run, int err) {
        if (err != EINTR && err != EAGAIN) {
                crash(v, HV_REASON_KVM_RUN_ERROR, (uint64_t) err);
                return;
        }
        if (__atomic_load_n(&run->immediate_exit, __ATOMIC_RELAXED)) {
                hv_counter_add(&v->sh->c.immediate_exits, 1);
                /* cleared before the request is re-read at the top of the loop */
                __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        }
        count_exit(v, HV_EXIT_INTR);
}

static void park(struct hv_vcpu *v) {
        struct hv_vm *vm = v->vm;
        pthread_mutex_lock(&vm->lock);
        hv_offline_begin(&v->sh->offline, hv_now_ns);
        vm->parked++;
        pthread_cond_broadcast(&vm->cond);
        while (atomic_load(&vm->request) == HV_REQ_PAUSE)
                pthread_cond_wait(&vm->cond, &vm->lock);
        vm->parked--;
        hv_offline_end(&v->sh->offline, hv_now_ns);
        pthread_mutex_unlock(&vm->lock);
}

static uint64_t thread_cpu_ns(clockid_t clk) {
        struct timespec ts;
        if (clock_gettime(clk, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void run_loop(struct hv_vcpu *v) {
        struct kvm_run *run = v->run;
        struct hv_vm *vm = v->vm;

        for (;;) {
                int req = atomic_load(&vm->request);
                if (req == HV_REQ_STOP)
                        return;
                if (req == HV_REQ_PAUSE) {
                        park(v);
                        continue;
                }
                int r = ioctl(v->fd, KVM_RUN, 0);
                uint64_t t0 = hv_now_ns();
                v->last_exit = HV_EXIT__COUNT;
                hv_counter_add(&v->sh->c.runs, 1);
                if (r < 0)
                        run_failed(v, run, errno);
                else
                        dispatch(v, run);
                count_handling(v, hv_now_ns() - t0);
        }
}

/* Best effort: CPUs outside the host's set are the caller's mistake, reported by its config check. */
static void pin_self(uint64_t mask) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (unsigned cpu = 0; cpu < 64; cpu++)
                if (mask >> cpu & 1)
                        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof(set), &set);
}

static void *vcpu_main(void *arg) {
        struct hv_vcpu *v = arg;
        struct hv_vm *vm = v->vm;
        sigset_t kick;

        pthread_setname_np(pthread_self(), v->comm);
        if (vm->cpus_mask)
                pin_self(vm->cpus_mask);
        sigemptyset(&kick);
        sigaddset(&kick, vm->kvm->kick_signal);
        pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
        pthread_getcpuclockid(pthread_self(), &v->cpu_clock);
        atomic_store_explicit(&v->sh->tid, gettid(), memory_order_release);

        hv_offline_end(&v->sh->offline, hv_now_ns);
        run_loop(v);
        hv_offline_begin(&v->sh->offline, hv_now_ns);

        atomic_store_explicit(&v->sh->cpu_ns_final, thread_cpu_ns(v->cpu_clock), memory_order_relaxed);
        atomic_store_explicit(&v->sh->exited, true, memory_order_release);
        pthread_mutex_lock(&vm->lock);
        vm->active--;
        pthread_cond_broadcast(&vm->cond);
        pthread_mutex_unlock(&vm->lock);
        return NULL;
}

/* A vCPU over its part of the shared memory, without KVM fds yet (fd = -1). */
static struct hv_vcpu *vcpu_new(struct hv_vm *vm, unsigned id, int stats_fd) {
        struct hv_vcpu *v = calloc(1, sizeof(*v));
        if (!v)
                return NULL;
        v->sh = hv_shm_vcpu(vm->sh, id);
        v->hist = hv_shm_hist(vm->sh, id);
        v->vm = vm;
        v->id = id;
        v->fd = -1;
        v->stats_fd = stats_fd;
        return v;
}

int hv_vcpu_create(struct hv_vm *vm, unsigned id, struct hv_vcpu **ret) {
        struct hv_vcpu *v = vcpu_new(vm, id, -1);
        int r;

        if (!v)
                return -ENOMEM;
        hv_offline_init(&v->sh->offline, hv_now_ns());
        /* thread name <vm>/<n>, VM name cut so the whole fits the kernel's 15 characters */
        int suffix = snprintf(NULL, 0, "/%u", id);
        snprintf(v->comm, sizeof(v->comm), "%.*s/%u", 15 - suffix, vm->name, id);

        v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long) id);
        if (v->fd < 0) {
                r = -errno;
                free(v);
                return r;
        }
        v->run_size = (size_t) vm->kvm->run_size;
        v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (v->run == MAP_FAILED) {
                r = -errno;
                v->run = NULL;
                hv_vcpu_free(v);
                return r;
        }
        v->stats_fd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
        if (v->stats_fd < 0) {
                r = -errno;
                hv_vcpu_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

void hv_vcpu_free(struct hv_vcpu *v) {
        if (!v)
                return;
        if (v->run)
                munmap(v->run, v->run_size);
        if (v->stats_fd >= 0)
                close(v->stats_fd);
        if (v->fd >= 0)
                close(v->fd);
        free(v);
}

int hv_vcpu_spawn(struct hv_vcpu *v) {
        sigset_t all, old;
        int r;

        /* the thread starts with every signal blocked; it unblocks only the kick */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&v->thread, NULL, vcpu_main, v);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r == 0)
                v->spawned = true;
        return r;
}

void hv_vcpu_join(struct hv_vcpu *v) {
        if (v->spawned && !v->joined) {
                pthread_join(v->thread, NULL);
                v->joined = true;
        }
}

void hv_vcpu_kick(struct hv_vcpu *v) {
        if (!v->spawned || v->joined || atomic_load(&v->sh->exited))
                return;
        __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        pthread_kill(v->thread, v->vm->kvm->kick_signal);
}

const char *hv_steal_name(enum hv_steal s) {
        static const char *const names[] = { [HV_STEAL_NEVER] = "never", [HV_STEAL_ON] = "on",
                                             [HV_STEAL_OFF] = "off", [HV_STEAL_INVALID] = "invalid" };
        return (unsigned) s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* The guest's record, read as KVM writes it: version is a sequence count, odd while KVM is
 * inside; a read that saw it odd or changed is retried. Never outside guest RAM. */
static enum hv_steal read_steal(struct hv_vcpu *v, uint64_t *ret_ns) {
        if (!atomic_load_explicit(&v->sh->steal_written, memory_order_acquire)) {
                *ret_ns = 0;
                return HV_STEAL_NEVER;
        }
        uint64_t msr = atomic_load_explicit(&v->sh->steal_msr, memory_order_relaxed);
        *ret_ns = v->steal_seen_ns;
        if (!(msr & KVM_MSR_ENABLED)) /* disabled: the last value holds, if there ever was one */
                return v->steal_seen ? HV_STEAL_OFF : HV_STEAL_NEVER;
        const struct kvm_steal_time *st = (msr & KVM_STEAL_RESERVED_MASK) ? NULL
                                                                           : hv_vm_gpa(v->vm, msr & KVM_STEAL_VALID_BITS,
                                                                                       sizeof(*st));
        if (!st || !v->vm->ram)
                return HV_STEAL_INVALID;
        for (int tries = 0; tries < 100; tries++) {
                uint32_t a = __atomic_load_n(&st->version, __ATOMIC_ACQUIRE);
                uint64_t ns = __atomic_load_n(&st->steal, __ATOMIC_RELAXED);
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (!(a & 1) && a == __atomic_load_n(&st->version, __ATOMIC_RELAXED)) {
                        v->steal_seen_ns = ns;
                        v->steal_seen = true;
                        break;
                }
        }
        *ret_ns = v->steal_seen_ns;
        return HV_STEAL_ON;
}

/* The owner's reading: the thread's CPU clock while it runs, its final value once it left. */
static void read_local(struct hv_vcpu *v, struct hv_vcpu_raw *ret) {
        ret->tid = atomic_load_explicit(&v->sh->tid, memory_order_acquire);
        ret->exited = atomic_load_explicit(&v->sh->exited, memory_order_acquire);
        ret->cpu_ns = 0;
        if (ret->exited)
                ret->cpu_ns = atomic_load_explicit(&v->sh->cpu_ns_final, memory_order_relaxed);
        else if (ret->tid) {
                ret->cpu_ns = thread_cpu_ns(v->cpu_clock);
                /* the thread may have exited between the two loads: its final value holds */
                if (atomic_load_explicit(&v->sh->exited, memory_order_acquire)) {
                        ret->exited = true;
                        ret->cpu_ns = atomic_load_explicit(&v->sh->cpu_ns_final, memory_order_relaxed);
                }
        }
        ret->offline_ns = hv_offline_read(&v->sh->offline, hv_now_ns, &ret->now_ns);
        ret->steal = read_steal(v, &ret->steal_ns);
}

void hv_vcpu_publish(struct hv_vcpu *v) {
        struct hv_vcpu_raw r;
        read_local(v, &r);
        struct hv_shm_vcpu *sh = v->sh;
        uint32_t seq = atomic_load_explicit(&sh->pub_seq, memory_order_relaxed);
        atomic_store_explicit(&sh->pub_seq, seq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&sh->pub_tid, r.tid, memory_order_relaxed);
        atomic_store_explicit(&sh->pub_exited, r.exited, memory_order_relaxed);
        atomic_store_explicit(&sh->pub_now_ns, r.now_ns, memory_order_relaxed);
        atomic_store_explicit(&sh->pub_cpu_ns, r.cpu_ns, memory_order_relaxed);
        atomic_store_explicit(&sh->pub_offline_ns, r.offline_ns, memory_order_relaxed);
        atomic_store_explicit(&sh->pub_steal, r.steal, memory_order_relaxed);
        atomic_store_explicit(&sh->pub_steal_ns, r.steal_ns, memory_order_relaxed);
        atomic_store_explicit(&sh->pub_seq, seq + 2, memory_order_release);
}

/* A view's reading: the owner's last publication; after the owner died, all time since is
 * offline (its threads are gone), so the runstate sum still equals the wall time. */
static void read_view(const struct hv_vcpu *v, struct hv_vcpu_raw *ret) {
        const struct hv_shm_vcpu *sh = v->sh;
        uint32_t seq;
        for (int tries = 0;; tries++) {
                seq = atomic_load_explicit(&sh->pub_seq, memory_order_acquire);
                ret->tid = atomic_load_explicit(&sh->pub_tid, memory_order_relaxed);
                ret->exited = atomic_load_explicit(&sh->pub_exited, memory_order_relaxed);
                ret->now_ns = atomic_load_explicit(&sh->pub_now_ns, memory_order_relaxed);
                ret->cpu_ns = atomic_load_explicit(&sh->pub_cpu_ns, memory_order_relaxed);
                ret->offline_ns = atomic_load_explicit(&sh->pub_offline_ns, memory_order_relaxed);
                ret->steal = (enum hv_steal) atomic_load_explicit(&sh->pub_steal, memory_order_relaxed);
                ret->steal_ns = atomic_load_explicit(&sh->pub_steal_ns, memory_order_relaxed);
                atomic_thread_fence(memory_order_acquire);
                if ((!(seq & 1) && seq == atomic_load_explicit(&sh->pub_seq, memory_order_relaxed)) || tries > 1000)
                        break;
        }
        if (atomic_load(&v->vm->dead_signal) >= 0) {
                uint64_t now = hv_now_ns();
                if (ret->now_ns == 0) /* it never published: all of its life was offline */
                        ret->now_ns = v->vm->created_ns;
                ret->offline_ns += now > ret->now_ns ? now - ret->now_ns : 0;
                ret->now_ns = now > ret->now_ns ? now : ret->now_ns;
                ret->exited = true;
                ret->tid = 0;
        }
}

void hv_vcpu_read_raw(struct hv_vcpu *v, struct hv_vcpu_raw *ret) {
        if (v->vm->view)
                read_view(v, ret);
        else
                read_local(v, ret);
}

void hv_vcpu_read_raw_off_cpu(const struct hv_vcpu *v, uint64_t cpu_ns, struct hv_vcpu_raw *ret) {
        read_view(v, ret); /* the last publication: its steal reading holds, the thread did not run */
        if (atomic_load(&v->vm->dead_signal) >= 0)
                return;
        ret->tid = atomic_load_explicit(&v->sh->tid, memory_order_acquire);
        ret->exited = atomic_load_explicit(&v->sh->exited, memory_order_acquire);
        ret->cpu_ns = ret->exited ? atomic_load_explicit(&v->sh->cpu_ns_final, memory_order_relaxed) : cpu_ns;
        ret->offline_ns = hv_offline_read(&v->sh->offline, hv_now_ns, &ret->now_ns);
}

pid_t hv_vcpu_tid(const struct hv_vcpu *v) {
        if (atomic_load_explicit(&v->sh->exited, memory_order_acquire) || atomic_load(&v->vm->dead_signal) >= 0)
                return 0;
        return atomic_load_explicit(&v->sh->tid, memory_order_acquire);
}

void hv_vcpu_read_counters(const struct hv_vcpu *v, struct hv_counters *ret) {
        hv_counters_read(&v->sh->c, ret);
}

int hv_vcpu_view(struct hv_vm *vm, unsigned id, int stats_fd, struct hv_vcpu **ret) {
        struct hv_vcpu *v = vcpu_new(vm, id, stats_fd);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static int dump_segment(char *buf, size_t len, const char *name, const struct kvm_segment *s) {
        return snprintf(buf, len, "%s=%04x base=%016llx limit=%08x type=%x dpl=%u l=%u db=%u p=%u\n", name,
                        s->selector, (unsigned long long) s->base, s->limit, s->type, s->dpl, s->l, s->db,
                        s->present);
}

/* "insn=f0 48 0f c7 4d 20 ..." at rip (through the guest's page tables), or nothing if rip
 * does not translate into RAM: says which instruction an emulation failure stopped on. */
static int dump_insn(struct hv_vcpu *v, uint64_t rip, char *buf, size_t len) {
        enum { BYTES = 15 }; /* the longest x86 instruction */
        struct kvm_translation t = { .linear_address = rip };
        if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
                return 0;
        const uint8_t *p = hv_vm_gpa(v->vm, t.physical_address, BYTES);
        if (!p)
                return 0;
        int n = snprintf(buf, len, "insn=");
        for (unsigned i = 0; i < BYTES; i++)
                n += snprintf(buf + n, (size_t) n < len ? len - (size_t) n : 0, "%02x%s", p[i], i + 1 < BYTES ? " " : "\n");
        return n;
}

int hv_vcpu_dump_regs(struct hv_vcpu *v, char *buf, size_t len) {
        struct kvm_regs r;
        struct kvm_sregs s;
        size_t n = 0;

        if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
                return -errno;
#define PUT(...) (n += (size_t) snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
        PUT("rip=%016llx rsp=%016llx rflags=%016llx\n", r.rip, r.rsp, r.rflags);
        PUT("rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
        PUT("rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx\n", r.rsi, r.rdi, r.rbp, r.r8);
        PUT("r9 =%016llx r10=%016llx r11=%016llx r12=%016llx\n", r.r9, r.r10, r.r11, r.r12);
        PUT("r13=%016llx r14=%016llx r15=%016llx\n", r.r13, r.r14, r.r15);
        PUT("cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n", s.cr0, s.cr2, s.cr3, s.cr4,
            s.efer);
        PUT("gdt=%016llx/%04x idt=%016llx/%04x\n", s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
#undef PUT
        const struct { const char *name; const struct kvm_segment *seg; } segs[] = {
                { "cs", &s.cs }, { "ss", &s.ss }, { "ds", &s.ds }, { "gs", &s.gs }, { "tr", &s.tr },
        };
        for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
                n += (size_t) dump_segment(buf + n, n < len ? len - n : 0, segs[i].name, segs[i].seg);
        dump_insn(v, r.rip, buf + n, n < len ? len - n : 0);
        return 0;
}
