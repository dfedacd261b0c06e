/* hv/shm.c and the views of hv/vm.c: what another process reads of a VM through its shared
 * memfd is exactly what the owner counts; a layout this build does not know is refused, never
 * guessed at; a view whose owner died reads as crashed(worker_died), its vCPUs offline from then
 * on, so runstate still sums to the wall time. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/devices.h"
#include "kvm_helper.h"
#include "runstate.h"
#include "shm.h"
#include "vcpu.h"
#include "vm.h"

static struct hv_vm *view_of(struct hv_vm *vm) {
        struct hv_vm *v;
        ck_assert_int_eq(hv_vm_attach(hv_vm_shm_fd(vm), NULL, 0, &v), 0);
        return v;
}

START_TEST(view_reads_what_the_owner_counts) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "owner", 2, &(struct hv_builtin) { .guest = "pio", .count = 1000 });
        struct hv_vm *v = view_of(vm);
        ck_assert_str_eq(v->name, "owner");
        ck_assert_uint_eq(v->n_vcpus, 2);
        ck_assert_uint_eq(v->ram_bytes, vm->ram_bytes);
        ck_assert_uint_eq(v->created_ns, vm->created_ns);
        ck_assert_int_eq(hv_vm_state(v), HV_VM_CREATED);
        test_run_to_end(vm, 10000);
        struct hv_vm_outcome a, b;
        hv_vm_get_outcome(vm, &a);
        hv_vm_get_outcome(v, &b);
        ck_assert_int_eq(b.state, HV_VM_STOPPED);
        ck_assert_int_eq(b.reason, a.reason);
        ck_assert_int_eq(b.exit_code, a.exit_code);
        ck_assert_uint_eq(hv_vm_started_realtime_ns(v), hv_vm_started_realtime_ns(vm));
        for (unsigned i = 0; i < 2; i++) {
                struct hv_counters x, y;
                hv_vcpu_read_counters(vm->vcpus[i], &x);
                hv_vcpu_read_counters(v->vcpus[i], &y);
                ck_assert_int_eq(memcmp(&x, &y, sizeof(x)), 0);
                ck_assert_uint_ge(y.exits[HV_EXIT_IO_OUT], 1000); /* its count, and the exit port if it ended the VM */
        }
        ck_assert_uint_eq(hv_console_total(v->console), hv_console_total(vm->console));
        /* CPU time reaches a view only as published, in one consistent reading */
        hv_vm_publish(vm);
        struct hv_vcpu_raw own, seen;
        hv_vcpu_read_raw(vm->vcpus[0], &own);
        hv_vcpu_read_raw(v->vcpus[0], &seen);
        ck_assert(seen.exited);
        ck_assert_uint_eq(seen.cpu_ns, own.cpu_ns); /* the thread is gone: its final value */
        ck_assert_uint_gt(seen.cpu_ns, 0);
        ck_assert_uint_le(seen.now_ns, own.now_ns);
        ck_assert_uint_le(seen.offline_ns, own.offline_ns);
        hv_vm_destroy(v);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* a memfd holding vm's header with one field changed */
static int forged(struct hv_vm *vm, size_t off, const void *val, size_t len, size_t size) {
        int fd = memfd_create("forged", MFD_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t) size), 0);
        uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ck_assert_ptr_ne(p, MAP_FAILED);
        memcpy(p, vm->sh, sizeof(*vm->sh) < size ? sizeof(*vm->sh) : size);
        if (len)
                memcpy(p + off, val, len);
        munmap(p, size);
        return fd;
}

START_TEST(unknown_layout_is_refused) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "layout"), *v = NULL;
        uint32_t version = HV_SHM_VERSION + 1, vcpus = 7;
        uint64_t magic = 0x1234;
        const struct {
                size_t off, len;
                const void *val;
                size_t size;
                int want;
        } cases[] = {
                { offsetof(struct hv_shm, version), sizeof(version), &version, vm->sh_len, -EPROTO },
                { offsetof(struct hv_shm, magic), sizeof(magic), &magic, vm->sh_len, -EPROTO },
                { 0, 0, NULL, 16, -EBADMSG },                 /* cut short */
                { 0, 0, NULL, vm->sh_len - 4096, -EBADMSG },  /* no watcher page */
                { offsetof(struct hv_shm, n_vcpus), sizeof(vcpus), &vcpus, vm->sh_len, -EBADMSG },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int fd = forged(vm, cases[i].off, cases[i].val, cases[i].len, cases[i].size);
                ck_assert_msg(hv_vm_attach(fd, NULL, 0, &v) == cases[i].want, "case %zu", i);
                close(fd);
        }
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(dead_owner_reads_as_worker_died) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "dies", 1, &(struct hv_builtin) { .guest = "idle" });
        struct hv_vm *v = view_of(vm);
        ck_assert_int_eq(hv_vm_start(vm), 0);
        test_sleep_ms(50);
        hv_vm_publish(vm);
        ck_assert_int_eq(hv_vm_state(v), HV_VM_RUNNING);
        struct hv_runstate_acc acc;
        hv_runstate_init(&acc, v->created_ns);
        struct hv_vcpu_raw r;
        uint64_t delta[HV_RS__COUNT], w;
        hv_vcpu_read_raw(v->vcpus[0], &r);
        hv_runstate_split(&acc, &(struct hv_runstate_in) { .now_ns = r.now_ns, .cpu_ns = r.cpu_ns,
                                                           .offline_ns = r.offline_ns }, delta, &w);

        hv_vm_mark_dead(v, SIGKILL);
        struct hv_vm_outcome o;
        hv_vm_get_outcome(v, &o);
        ck_assert_int_eq(o.state, HV_VM_CRASHED);
        ck_assert_int_eq(o.reason, HV_REASON_WORKER_DIED);
        ck_assert_uint_eq(o.detail, SIGKILL);
        ck_assert_int_eq(hv_vcpu_tid(v->vcpus[0]), 0);
        test_sleep_ms(50);
        hv_vcpu_read_raw(v->vcpus[0], &r);
        ck_assert(r.exited);
        hv_runstate_split(&acc, &(struct hv_runstate_in) { .now_ns = r.now_ns, .cpu_ns = r.cpu_ns,
                                                           .offline_ns = r.offline_ns }, delta, &w);
        ck_assert_uint_ge(delta[HV_RS_OFFLINE], 50 * 1000000ull - 1000000); /* since it died: offline */
        uint64_t sum = 0;
        for (unsigned s = 0; s < HV_RS__COUNT; s++)
                sum += acc.total[s];
        ck_assert_uint_eq(sum, r.now_ns - v->created_ns);
        hv_vm_destroy(v);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("shm");
        TCase *tc = tcase_create("views");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, view_reads_what_the_owner_counts);
        tcase_add_test(tc, unknown_layout_is_refused);
        tcase_add_test(tc, dead_owner_reads_as_worker_died);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
