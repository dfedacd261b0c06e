/* VM lifecycle on the real /dev/kvm: crash isolation, pause/resume, resource release, CPU and
 * offline time, thread names, stop reasons. */
#include <dirent.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/layout.h"
#include "kvm_helper.h"
#include "shm.h"

static double cpu_share(struct hv_vcpu *v, unsigned ms) {
        struct hv_vcpu_raw a, b;
        hv_vcpu_read_raw(v, &a);
        test_sleep_ms(ms);
        hv_vcpu_read_raw(v, &b);
        return (double) (b.cpu_ns - a.cpu_ns) / (double) (b.now_ns - a.now_ns);
}

START_TEST(triplefault_crashes_alone) {
        REQUIRE_KVM(kvm);
        struct hv_vm *bad = test_vm(kvm, "bad", 1, &(struct hv_builtin) { .guest = "triplefault" });
        struct hv_vm *good = test_vm(kvm, "good", 2, &(struct hv_builtin) { .guest = "demo" });
        ck_assert_int_eq(hv_vm_start(good), 0);
        test_run_to_end(bad, 20000);

        struct hv_vm_outcome o;
        hv_vm_get_outcome(bad, &o);
        ck_assert_int_eq(o.state, HV_VM_CRASHED);
        ck_assert_int_eq(o.reason, HV_REASON_SHUTDOWN);
        ck_assert_int_eq(o.vcpu, 0);
        ck_assert_msg(strstr(o.regs, "rip=") && strstr(o.regs, "cr3=0000000000008000"), "register dump: %s", o.regs);
        /* the bytes at rip: the ud2 that faulted with no IDT */
        ck_assert_msg(strstr(o.regs, "insn=0f 0b "), "register dump: %s", o.regs);
        /* the crashed VM's counters stay readable */
        ck_assert_uint_eq(test_counters(bad, 0).exits[HV_EXIT_SHUTDOWN], 1);

        /* the other VM keeps running and its counters keep rising */
        uint64_t before = test_exits(good, HV_EXIT_IO_OUT);
        ck_assert_double_gt(cpu_share(good->vcpus[0], 400), 0.2);
        ck_assert_uint_gt(test_exits(good, HV_EXIT_IO_OUT), before);
        ck_assert_int_eq(hv_vm_state(good), HV_VM_RUNNING);
        ck_assert_uint_eq(test_counters(bad, 0).exits[HV_EXIT_SHUTDOWN], 1);
        hv_vm_destroy(good);
        hv_vm_destroy(bad);
        hv_kvm_free(kvm);
}
END_TEST

/* A guest that could not be loaded: crashed(load_error), never started, offline all along. */
START_TEST(fail_load) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_bare_vm(kvm, "noload");
        hv_vm_fail_load(vm, -ENOEXEC);
        struct hv_vm_outcome o;
        hv_vm_get_outcome(vm, &o);
        ck_assert_int_eq(o.state, HV_VM_CRASHED);
        ck_assert_int_eq(o.reason, HV_REASON_LOAD_ERROR);
        ck_assert_uint_eq(o.detail, ENOEXEC);
        ck_assert_int_eq(o.vcpu, -1);
        ck_assert_str_eq(hv_vm_reason_name(o.reason), "load_error");
        ck_assert_int_eq(hv_vm_start(vm), -EBUSY);
        struct hv_vcpu_raw r0, r1;
        hv_vcpu_read_raw(vm->vcpus[0], &r0);
        test_sleep_ms(50);
        hv_vcpu_read_raw(vm->vcpus[0], &r1);
        ck_assert_uint_ge(r1.offline_ns - r0.offline_ns, r1.now_ns - r0.now_ns); /* offline all along */
        ck_assert_int_eq(r1.tid, 0);
        hv_vm_destroy(vm);

        /* only a created VM can fail to load: a running one is left alone */
        vm = test_vm(kvm, "runs", 1, &(struct hv_builtin) { .guest = "idle" });
        ck_assert_int_eq(hv_vm_start(vm), 0);
        hv_vm_fail_load(vm, -ENOEXEC);
        ck_assert_int_eq(hv_vm_state(vm), HV_VM_RUNNING);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(pause_resume) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "pausy", 2, &(struct hv_builtin) { .guest = "demo" });
        ck_assert_int_eq(hv_vm_start(vm), 0);
        test_sleep_ms(300);
        ck_assert_int_eq(hv_vm_pause(vm), 0);
        ck_assert_int_eq(hv_vm_state(vm), HV_VM_PAUSED);

        struct hv_vcpu_raw r0, r1, r2;
        struct hv_counters c0 = test_counters(vm, 0), c1;
        hv_vcpu_read_raw(vm->vcpus[0], &r0);
        test_sleep_ms(300);
        hv_vcpu_read_raw(vm->vcpus[0], &r1);
        c1 = test_counters(vm, 0);
        ck_assert_uint_eq(c1.runs, c0.runs); /* no exits while paused */
        uint64_t wall = r1.now_ns - r0.now_ns, off = r1.offline_ns - r0.offline_ns;
        ck_assert_msg(off == wall, "offline grew %llu ns over %llu ns paused", (unsigned long long) off,
                      (unsigned long long) wall);
        ck_assert_uint_lt(r1.cpu_ns - r0.cpu_ns, wall / 20);

        ck_assert_int_eq(hv_vm_resume(vm), 0);
        test_sleep_ms(300);
        hv_vcpu_read_raw(vm->vcpus[0], &r2);
        ck_assert_uint_gt(test_counters(vm, 0).exits[HV_EXIT_IO_OUT], c1.exits[HV_EXIT_IO_OUT]);
        ck_assert_uint_lt(r2.offline_ns - r1.offline_ns, 50 * 1000000ull);

        ck_assert_int_eq(hv_vm_pause(vm), 0); /* a paused VM stops cleanly too */
        hv_vm_stop(vm);
        struct hv_vm_outcome o;
        hv_vm_get_outcome(vm, &o);
        ck_assert_int_eq(o.state, HV_VM_STOPPED);
        ck_assert_int_eq(o.reason, HV_REASON_REQUESTED);
        ck_assert_int_eq(hv_vm_resume(vm), -EBUSY);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

static char *list_fds(void) {
        static char buf[8192];
        size_t n = 0;
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        buf[0] = 0;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (size_t) atoi(e->d_name) != (size_t) dirfd(d))
                        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s ", e->d_name);
        closedir(d);
        return strdup(buf);
}

/* lines of /proc/self/maps mentioning needle, or mappings of exactly size bytes */
static unsigned count_maps(const char *needle, unsigned long size) {
        FILE *f = fopen("/proc/self/maps", "re");
        char line[512];
        unsigned n = 0;
        while (fgets(line, sizeof(line), f)) {
                unsigned long lo, hi;
                if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi - lo == size)
                        n++;
                else if (strstr(line, needle))
                        n++;
        }
        fclose(f);
        return n;
}

START_TEST(stop_and_destroy_release_everything) {
        const unsigned long ram = (24 << 20) + 4096; /* a size nothing else maps */
        char *fds_before = list_fds();
        unsigned maps_before = count_maps("kvm", ram);
        REQUIRE_KVM(kvm);
        struct hv_vm *vms[2];
        for (unsigned i = 0; i < 2; i++) {
                struct hv_vm_config cfg = { .name = i ? "res1" : "res0", .vcpus = 2, .ram_bytes = ram };
                ck_assert_int_eq(hv_vm_create(kvm, &cfg, &vms[i]), 0);
                ck_assert_int_eq(hv_boot_builtin(vms[i], &(struct hv_builtin) { .guest = "demo" }), 0);
                ck_assert_int_eq(hv_vm_start(vms[i]), 0);
        }
        ck_assert_uint_gt(count_maps("kvm", ram), maps_before);
        test_sleep_ms(100);
        ck_assert_int_eq(hv_vm_pause(vms[1]), 0);
        hv_vm_stop(vms[0]);
        hv_vm_destroy(vms[0]);
        hv_vm_destroy(vms[1]); /* destroying a paused VM stops it first */
        hv_kvm_free(kvm);
        char *fds_after = list_fds();
        ck_assert_str_eq(fds_after, fds_before);
        ck_assert_uint_eq(count_maps("kvm", ram), maps_before);
        free(fds_before);
        free(fds_after);
}
END_TEST

START_TEST(spin_uses_the_cpu) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "spin", 1, &(struct hv_builtin) { .guest = "spin" });
        ck_assert_int_eq(hv_vm_start(vm), 0);
        test_sleep_ms(100);
        double share = cpu_share(vm->vcpus[0], 1000);
        ck_assert_msg(share >= 0.8, "spin used %.1f%% of a CPU", 100 * share);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(idle_leaves_the_cpu) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "idle", 1, &(struct hv_builtin) { .guest = "idle" });
        ck_assert_int_eq(hv_vm_start(vm), 0);
        test_sleep_ms(100);
        double share = cpu_share(vm->vcpus[0], 1000);
        ck_assert_msg(share <= 0.2, "idle used %.1f%% of a CPU", 100 * share);
        ck_assert_int_eq(hv_vm_state(vm), HV_VM_RUNNING);
        uint64_t t0 = hv_now_ns();
        hv_vm_stop(vm); /* a vCPU blocked in HLT is kicked out promptly */
        ck_assert_uint_lt(hv_now_ns() - t0, 500 * 1000000ull);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(duty_half_busy) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "duty", 1, &(struct hv_builtin) { .guest = "duty", .duty_pct = 50 });
        ck_assert_int_eq(hv_vm_start(vm), 0);
        test_sleep_ms(150);
        double share = cpu_share(vm->vcpus[0], 1000);
        ck_assert_msg(share >= 0.35 && share <= 0.65, "duty 50 used %.1f%% of a CPU", 100 * share);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* idle with a tick count ends by itself after that many timer ticks (1 ms each) */
START_TEST(idle_counts_ticks) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "ticks", 2, &(struct hv_builtin) { .guest = "idle", .count = 200 });
        uint64_t t0 = hv_now_ns();
        test_run_to_end(vm, 10000);
        test_assert_exit_code(vm, 0);
        ck_assert_uint_ge(hv_now_ns() - t0, 190 * 1000000ull);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(exit_code_carried) {
        REQUIRE_KVM(kvm);
        /* mmio against the scratch device reads back data, not all-ones: the guest exits 3 */
        struct hv_vm *vm = test_vm(kvm, "code", 1,
                                   &(struct hv_builtin) { .guest = "mmio", .count = 5, .mmio_addr = HV_SCRATCH_MMIO });
        test_run_to_end(vm, 10000);
        test_assert_exit_code(vm, 3);
        ck_assert_uint_eq(test_counters(vm, 0).unhandled_mmio, 0);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(i8042_reset_is_reboot) {
        REQUIRE_KVM(kvm);
        /* pio writes 0, 1, 2, ...: its 255th write is 0xfe, the i8042 reset command */
        struct hv_vm *vm = test_vm(kvm, "reboot", 1, &(struct hv_builtin) { .guest = "pio", .count = 1000, .port = HV_PORT_I8042 });
        test_run_to_end(vm, 10000);
        struct hv_vm_outcome o;
        hv_vm_get_outcome(vm, &o);
        ck_assert_int_eq(o.state, HV_VM_STOPPED);
        ck_assert_int_eq(o.reason, HV_REASON_REBOOT);
        ck_assert_uint_eq(test_counters(vm, 0).exits[HV_EXIT_IO_OUT], 0xfe + 1);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

static void assert_comm(struct hv_vcpu *v, const char *want) {
        struct hv_vcpu_raw raw;
        char path[64], comm[32] = "";
        hv_vcpu_read_raw(v, &raw);
        ck_assert_int_gt(raw.tid, 0);
        snprintf(path, sizeof(path), "/proc/self/task/%d/comm", raw.tid);
        FILE *f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), f));
        fclose(f);
        comm[strcspn(comm, "\n")] = 0;
        ck_assert_str_eq(comm, want);
}

START_TEST(thread_names) {
        REQUIRE_KVM(kvm);
        struct hv_vm *a = test_vm(kvm, "b13", 2, &(struct hv_builtin) { .guest = "idle" });
        struct hv_vm *b = test_vm(kvm, "a-very-long-vm-name", 1, &(struct hv_builtin) { .guest = "idle" });
        ck_assert_int_eq(hv_vm_start(a), 0);
        ck_assert_int_eq(hv_vm_start(b), 0);
        test_sleep_ms(50);
        assert_comm(a->vcpus[0], "b13/0");
        assert_comm(a->vcpus[1], "b13/1");
        assert_comm(b->vcpus[0], "a-very-long-v/0");
        hv_vm_destroy(a);
        hv_vm_destroy(b);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(offline_until_started) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "late", 1, &(struct hv_builtin) { .guest = "spin" });
        struct hv_vcpu_raw r;
        test_sleep_ms(100);
        hv_vcpu_read_raw(vm->vcpus[0], &r);
        ck_assert_int_eq(r.tid, 0);
        ck_assert_uint_eq(r.cpu_ns, 0);
        ck_assert_uint_ge(r.offline_ns, 100 * 1000000ull);
        ck_assert_uint_eq(r.offline_ns, r.now_ns - vm->vcpus[0]->sh->offline.since_ns);
        ck_assert_int_eq(hv_vm_start(vm), 0);
        test_sleep_ms(200);
        struct hv_vcpu_raw s;
        hv_vcpu_read_raw(vm->vcpus[0], &s);
        ck_assert_uint_lt(s.offline_ns - r.offline_ns, 50 * 1000000ull);
        hv_vm_stop(vm);
        hv_vcpu_read_raw(vm->vcpus[0], &r);
        ck_assert(r.exited);
        test_sleep_ms(50);
        hv_vcpu_read_raw(vm->vcpus[0], &s);
        ck_assert_uint_eq(s.cpu_ns, r.cpu_ns);                       /* frozen after exit */
        ck_assert_uint_ge(s.offline_ns - r.offline_ns, 50 * 1000000ull); /* stopped counts offline */
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(stats_fds_open) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "stats", 2, &(struct hv_builtin) { .guest = "idle" });
        int fds[] = { vm->stats_fd, vm->vcpus[0]->stats_fd, vm->vcpus[1]->stats_fd };
        for (unsigned i = 0; i < 3; i++) {
                struct kvm_stats_header h;
                ck_assert_int_eq(pread(fds[i], &h, sizeof(h), 0), sizeof(h));
                ck_assert_uint_gt(h.num_desc, 0);
        }
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(bad_configs_refused) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm;
        const struct hv_vm_config bad[] = {
                { .name = "Bad", .vcpus = 1, .ram_bytes = 16 << 20 },
                { .name = "", .vcpus = 1, .ram_bytes = 16 << 20 },
                { .name = "ok", .vcpus = 0, .ram_bytes = 16 << 20 },
                { .name = "ok", .vcpus = HV_MAX_VCPUS + 1, .ram_bytes = 16 << 20 },
                { .name = "ok", .vcpus = 1, .ram_bytes = 4096 },
                { .name = "ok", .vcpus = 1, .ram_bytes = (16 << 20) + 1 },
        };
        for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_int_eq(hv_vm_create(kvm, &bad[i], &vm), -EINVAL);
        vm = test_vm(kvm, "ok", 1, &(struct hv_builtin) { .guest = "idle" });
        ck_assert_int_eq(hv_boot_builtin(vm, &(struct hv_builtin) { .guest = "nosuch" }), -ENOENT);
        ck_assert_int_eq(hv_vm_pause(vm), -EBUSY);
        ck_assert_int_eq(hv_vm_start(vm), 0);
        ck_assert_int_eq(hv_vm_start(vm), -EBUSY);
        ck_assert_int_eq(hv_boot_builtin(vm, &(struct hv_builtin) { .guest = "idle" }), -EINVAL);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

static Suite *vm_suite(void) {
        Suite *s = suite_create("vm");
        TCase *tc = tcase_create("lifecycle");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, triplefault_crashes_alone);
        tcase_add_test(tc, fail_load);
        tcase_add_test(tc, pause_resume);
        tcase_add_test(tc, stop_and_destroy_release_everything);
        tcase_add_test(tc, spin_uses_the_cpu);
        tcase_add_test(tc, idle_leaves_the_cpu);
        tcase_add_test(tc, duty_half_busy);
        tcase_add_test(tc, idle_counts_ticks);
        tcase_add_test(tc, exit_code_carried);
        tcase_add_test(tc, i8042_reset_is_reboot);
        tcase_add_test(tc, thread_names);
        tcase_add_test(tc, offline_until_started);
        tcase_add_test(tc, stats_fds_open);
        tcase_add_test(tc, bad_configs_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_run_suite(vm_suite());
}
