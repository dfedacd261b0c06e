/* Debian's own cloud kernel (build/linux, made by scripts/linux-guest.sh) under the real daemon:
 * what the kernel prints on our 16550A is read back over HTTP (/vms/<name>/console, served on
 * TCP with console_over_http = yes) and checked against what we gave it -- the e820 map, the
 * ACPI tables, the CPU count.
 *
 * One boot is shared: the fixture boots two VMs (1 and 2 vCPUs) once, up to "Booting
 * paravirtualized kernel", and records what they printed and when by the kernel's own clock.
 * Where guest kernel code is emulated (nested KVM on PVM: ~1.5 us an instruction) that takes
 * far longer than NATIVE_KERNEL_S, and a boot to userspace far longer than a test may: the
 * tests that need one (the init's marker, reboot and poweroff, guest steal against host
 * runnable, the bzImage past its decompressor) skip, saying what was measured. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/layout.h"
#include "daemon_helper.h"

#define ASSETS "build/linux"
#define EARLY_DEADLINE_MS (300 * 1000) /* measured here: ~30 s for two VMs at once */
#define FULL_DEADLINE_MS (60 * 1000)
#define NATIVE_KERNEL_S 2.0 /* a native host is there in well under 0.5 s of kernel time */
#define BOOTED "Booting paravirtualized kernel on KVM"
#define CMDLINE_BASE "console=ttyS0 earlyprintk=serial,ttyS0 reboot=k panic=1 pci=off nokaslr"

static char kernel[PATH_MAX], vmlinuz[PATH_MAX], initrd[PATH_MAX];

static void find_assets(void) {
        const char *names[] = { "vmlinux", "vmlinuz", "initramfs.cpio.gz" };
        char *out[] = { kernel, vmlinuz, initrd };
        for (int i = 0; i < 3; i++) {
                char rel[64];
                snprintf(rel, sizeof(rel), ASSETS "/%s", names[i]);
                ck_assert_msg(realpath(rel, out[i]), "%s: %s (run make linux-guest)", rel, strerror(errno));
        }
}

static char *console(const struct test_daemon *d, const char *vm) {
        char path[64];
        snprintf(path, sizeof(path), "/vms/%s/console", vm);
        struct test_response r = test_http(d, "GET", path, NULL);
        char *text = strdup(r.status == 200 && r.body ? r.body : "");
        test_response_free(&r);
        return text;
}

/* The console once it holds needle (polled every poll_ms), or (failing the test) what it held at
 * the deadline. */
static char *poll_console(const struct test_daemon *d, const char *vm, const char *needle, int timeout_ms,
                          unsigned poll_ms) {
        uint64_t deadline = test_now_ms() + (uint64_t) timeout_ms;
        for (;;) {
                char *text = console(d, vm);
                if (strstr(text, needle))
                        return text;
                if (test_now_ms() > deadline)
                        ck_abort_msg("%s: no '%s' within %d s; console:\n%s", vm, needle, timeout_ms / 1000, text);
                free(text);
                test_sleep_ms(poll_ms);
        }
}

static char *wait_console(const struct test_daemon *d, const char *vm, const char *needle, int timeout_ms) {
        return poll_console(d, vm, needle, timeout_ms, 500);
}

/* The console if it comes to hold needle within timeout_ms, else NULL (no failure). */
static char *try_console(const struct test_daemon *d, const char *vm, const char *needle, int timeout_ms) {
        for (uint64_t deadline = test_now_ms() + (uint64_t) timeout_ms;; test_sleep_ms(200)) {
                char *text = console(d, vm);
                if (strstr(text, needle))
                        return text;
                free(text);
                if (test_now_ms() > deadline)
                        return NULL;
        }
}

/* The kernel's own timestamp of the line holding needle ("[   11.803458] Booting ..."), or -1 */
static double kernel_time(const char *text, const char *needle) {
        const char *at = strstr(text, needle);
        double t = -1;
        if (!at)
                return -1;
        while (at > text && at[-1] != '\n')
                at--;
        return sscanf(at, "[ %lf]", &t) == 1 ? t : -1;
}

static void assert_has(const char *vm, const char *text, const char *needle) {
        ck_assert_msg(strstr(text, needle), "%s: console lacks '%s':\n%s", vm, needle, text);
}

/* Linux prints the e820 map it was given, one line per entry, exactly as we wrote it. */
static void assert_e820(const char *vm, const char *text, uint64_t ram) {
        struct hv_e820 map[8];
        int n = hv_e820_map(ram, map, 8);
        ck_assert_int_gt(n, 0);
        for (int i = 0; i < n; i++) {
                char line[128];
                snprintf(line, sizeof(line), "BIOS-e820: [mem 0x%016llx-0x%016llx] %s", (unsigned long long) map[i].addr,
                         (unsigned long long) (map[i].addr + map[i].size - 1),
                         map[i].type == 1 ? "usable" : map[i].type == 3 ? "ACPI data" : "reserved");
                assert_has(vm, text, line);
        }
}

static void assert_early_boot(const char *vm, const char *text, unsigned vcpus, uint64_t ram) {
        char line[128];
        assert_has(vm, text, "Linux version 6.");
        assert_has(vm, text, "Command line: " CMDLINE_BASE);
        assert_e820(vm, text, ram);
        assert_has(vm, text, "Hypervisor detected: KVM");
        assert_has(vm, text, "ACPI: RSDP 0x00000000000E0000 000024 (v02 VMSTAT)");
        assert_has(vm, text, "ACPI: XSDT 0x");
        assert_has(vm, text, "ACPI: FACP 0x");
        assert_has(vm, text, "ACPI: DSDT 0x");
        assert_has(vm, text, "ACPI: APIC 0x");
        snprintf(line, sizeof(line), "IOAPIC[0]: apic_id %u, version", vcpus);
        assert_has(vm, text, line);
        assert_has(vm, text, "ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)");
        snprintf(line, sizeof(line), "smpboot: Allowing %u CPUs, 0 hotplug CPUs", vcpus);
        assert_has(vm, text, line);
        assert_has(vm, text, BOOTED);
        ck_assert_msg(!strstr(text, "Firmware Bug]: ACPI") && !strstr(text, "ACPI Error"), "%s: ACPI complaints:\n%s", vm,
                      text);
}

static json_t *vm_json(const struct test_daemon *d, const char *vm) {
        char path[64];
        snprintf(path, sizeof(path), "/vms/%s", vm);
        json_t *j = test_get_json(d, path);
        ck_assert_msg(j, "GET %s failed", path);
        return j;
}

static void write_linux_vm(const char *dir, const char *name, unsigned vcpus, const char *image, const char *extra,
                           const char *more_cmdline) {
        char body[3 * PATH_MAX];
        snprintf(body, sizeof(body),
                 "[vm]\nvcpus = %u\nmemory = 128M\nkernel = %s\ninitrd = %s\ncmdline = " CMDLINE_BASE "%s\n%s", vcpus,
                 image, initrd, more_cmdline, extra);
        test_write_vm(dir, name, body);
}

/* A config directory whose daemon serves consoles on TCP, as these tests read them. */
static char *linux_config_dir(void) {
        char *dir = test_config_dir();
        test_write_daemon_conf(dir, "[daemon]\nconsole_over_http = yes\n");
        return dir;
}

static bool start(struct test_daemon *d, const char *dir, const char *interval) {
        const char *args[] = { "--config", dir, "--interval", interval, NULL };
        return test_daemon_start(d, args);
}

/* Only where guest kernel code runs natively: to userspace, the init's report, and the end the
 * init chose: reboot -f (i8042, reboot=k) or poweroff -f (ACPI S5 through our sleep registers). */
static void full_boot(const struct test_daemon *d, const char *vm, unsigned vcpus, const char *reason) {
        char line[64];
        char *text = wait_console(d, vm, "VMSTATD-GUEST-DONE", FULL_DEADLINE_MS);
        assert_has(vm, text, "VMSTATD-GUEST-UP");
        snprintf(line, sizeof(line), "nproc %u\r\n", vcpus); /* the tty's ONLCR: \r\n on the wire */
        assert_has(vm, text, line);
        assert_has(vm, text, "stat cpu ");
        assert_has(vm, text, "ACPI: PM: (supports S0 S5)");
        free(text);
        uint64_t deadline = test_now_ms() + 10000;
        for (;;) {
                json_t *j = vm_json(d, vm);
                bool stopped = strcmp(json_string_value(json_object_get(j, "state")), "stopped") == 0;
                if (stopped)
                        ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), reason);
                json_decref(j);
                if (stopped)
                        break;
                ck_assert_msg(test_now_ms() < deadline, "%s: the init's %s did not stop the VM", vm, reason);
                test_sleep_ms(200);
        }
}

/* ---- the shared boot: two VMs under one daemon, recorded once -------------------------------------- */

#define N_EARLY 2

struct early {
        const char *name;
        unsigned vcpus;
        char *console;  /* what it had printed once BOOTED appeared, or by the deadline */
        double kernel_s; /* the kernel's own time of BOOTED; -1 if it never came */
        double wall_s;   /* seconds from the daemon's start to seeing it */
        json_t *json;    /* GET /vms/<name> at that moment */
};

static struct {
        const char *no_daemon; /* test_daemon_unavailable(): every test skips with it */
        bool up;
        long console_status; /* GET /vms/lnx1/console right after the start */
        struct test_daemon d;
        char *dir, log_path[300];
        char *console_log; /* lnx1's console_log file once it holds BOOTED, or at its deadline */
        struct early vm[N_EARLY];
} B = { .vm = { { .name = "lnx1", .vcpus = 1, .kernel_s = -1 }, { .name = "lnx2", .vcpus = 2, .kernel_s = -1 } } };

static bool native(void) {
        return B.vm[0].kernel_s >= 0 && B.vm[0].kernel_s < NATIVE_KERNEL_S && B.vm[1].kernel_s >= 0 &&
               B.vm[1].kernel_s < NATIVE_KERNEL_S;
}

/* Unchecked fixture, in the runner: every test (each in its own process) sees what it recorded.
 * It records, it does not judge: early_boot_1_and_2_vcpus does. Started outside a test, the
 * daemon lives until boot_down (tests/suite.h). */
static void boot_up(void) {
        find_assets();
        if ((B.no_daemon = test_daemon_unavailable()))
                return;
        B.dir = linux_config_dir();
        snprintf(B.log_path, sizeof(B.log_path), "%s/lnx1.console", B.dir);
        char log_key[400];
        snprintf(log_key, sizeof(log_key), "console_log = %s\n", B.log_path);
        /* 1 vCPU as configured, and 2 vCPUs with cx16 hidden (this host cannot emulate
         * cmpxchg16b, which SLUB reaches a little after the point checked here) */
        write_linux_vm(B.dir, "lnx1", 1, kernel, log_key, "");
        write_linux_vm(B.dir, "lnx2", 2, kernel, "cpuid_hide = cx16\n", " vmstatd.end=poweroff");
        B.up = start(&B.d, B.dir, "1s");
        uint64_t t0 = test_now_ms();
        struct test_response r = test_http(&B.d, "GET", "/vms/lnx1/console", NULL);
        B.console_status = r.status;
        test_response_free(&r);
        if (B.console_status != 200) /* no point waiting 300 s for what cannot be read */
                return;
        for (unsigned i = 0; i < N_EARLY; i++) {
                struct early *e = &B.vm[i];
                uint64_t left = t0 + EARLY_DEADLINE_MS - test_now_ms();
                e->console = try_console(&B.d, e->name, BOOTED, (int) (left > EARLY_DEADLINE_MS ? 0 : left));
                if (!e->console)
                        e->console = console(&B.d, e->name);
                e->kernel_s = kernel_time(e->console, BOOTED);
                e->wall_s = (double) (test_now_ms() - t0) / 1000;
                char path[64];
                snprintf(path, sizeof(path), "/vms/%s", e->name);
                e->json = test_get_json(&B.d, path);
                fprintf(stderr, "%s: '%s' after %.1f s of wall time, %.3f s of kernel time\n", e->name, BOOTED,
                        e->wall_s, e->kernel_s);
        }
        /* what the UART got is also in lnx1's console log file (copied at every sample) */
        for (uint64_t deadline = test_now_ms() + 5000;; test_sleep_ms(200)) {
                FILE *f = fopen(B.log_path, "re");
                free(B.console_log);
                B.console_log = f ? test_read_all(f) : strdup("");
                if (f)
                        fclose(f);
                if (strstr(B.console_log, BOOTED) || test_now_ms() > deadline)
                        break;
        }
        if (!native()) { /* nothing needs these VMs running on: let them not slow the tests after */
                test_daemon_stop(&B.d);
                B.up = false;
        }
}

static void boot_down(void) {
        if (B.up)
                test_daemon_stop(&B.d);
        B.up = false;
}

/* Native-only tests skip where guest kernel code is emulated, and say what was measured. */
#define REQUIRE_NATIVE()                                                                                              \
        do {                                                                                                          \
                if (B.no_daemon)                                                                                      \
                        TEST_SKIP("%s", B.no_daemon);                                                                 \
                ck_assert_msg(B.vm[0].kernel_s >= 0 && B.vm[1].kernel_s >= 0,                                         \
                              "cannot tell whether guest kernel code runs natively here: the shared boot never "      \
                              "printed '" BOOTED "' (see early_boot_1_and_2_vcpus)");                                 \
                if (!native())                                                                                        \
                        TEST_SKIP("guest kernel code is emulated on this host: '" BOOTED "' came at %.1f s (lnx1) "   \
                                  "and %.1f s (lnx2) of the kernel's own clock, a native host is there in < %.1f s; " \
                                  "a boot to userspace would take far longer than a test may",                        \
                                  B.vm[0].kernel_s, B.vm[1].kernel_s, NATIVE_KERNEL_S);                               \
        } while (0)

START_TEST(early_boot_1_and_2_vcpus) {
        if (B.no_daemon)
                TEST_SKIP("%s", B.no_daemon);
        ck_assert_msg(B.console_status == 200, "GET /vms/lnx1/console: %ld (console_over_http = yes is set)",
                      B.console_status);
        for (unsigned i = 0; i < N_EARLY; i++) {
                struct early *e = &B.vm[i];
                ck_assert_msg(e->kernel_s >= 0, "%s: no '%s' within %d s; console:\n%s", e->name, BOOTED,
                              EARLY_DEADLINE_MS / 1000, e->console);
                assert_early_boot(e->name, e->console, e->vcpus, 128 << 20);
                ck_assert_msg(e->json, "GET /vms/%s failed", e->name);
                ck_assert_uint_eq(json_array_size(json_object_get(e->json, "vcpus")), e->vcpus);
                json_t *exits = json_object_get(json_array_get(json_object_get(e->json, "vcpus"), 0), "exits");
                ck_assert_int_gt(json_integer_value(json_object_get(exits, "io_out")), 100); /* the UART */
        }
        assert_has("lnx1 console_log", B.console_log, "smpboot: Allowing 1 CPUs");
        assert_has("lnx1 console_log", B.console_log, BOOTED);
}
END_TEST

START_TEST(full_boot_1_vcpu_reboots) {
        REQUIRE_NATIVE();
        full_boot(&B.d, "lnx1", 1, "reboot");
}
END_TEST

START_TEST(full_boot_2_vcpus_powers_off) {
        REQUIRE_NATIVE();
        full_boot(&B.d, "lnx2", 2, "poweroff");
}
END_TEST

/* ---- steal ------------------------------------------------------------------------------------------ */

/* The next "stat cpu  user nice system idle iowait irq softirq steal ..." (USER_HZ ticks) after from */
static bool stat_line(const char **from, double *ret_steal, double *ret_total) {
        const char *at = strstr(*from, "stat cpu ");
        unsigned long long v[8];
        if (!at || sscanf(at, "stat cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                          &v[5], &v[6], &v[7]) != 8)
                return false;
        *ret_steal = (double) v[7];
        *ret_total = 0;
        for (int i = 0; i < 8; i++)
                *ret_total += (double) v[i];
        *from = at + 1;
        return true;
}

/* runnable seconds and the sum of all four states of vCPU 0, as the daemon last sampled them */
static void host_runstate(const struct test_daemon *d, const char *vm, double *ret_runnable, double *ret_total) {
        json_t *j = vm_json(d, vm);
        json_t *rs = json_object_get(json_array_get(json_object_get(j, "vcpus"), 0), "runstate_seconds");
        const char *states[] = { "running", "runnable", "blocked", "offline" };
        *ret_total = 0;
        for (int i = 0; i < 4; i++)
                *ret_total += json_number_value(json_object_get(rs, states[i]));
        *ret_runnable = json_number_value(json_object_get(rs, "runnable"));
        json_decref(j);
}

static pid_t spin_on_cpu0(void) {
        pid_t pid = test_fork(); /* dies with the test, even one that fails before killing it */
        if (pid == 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(0, &set);
                sched_setaffinity(0, sizeof(set), &set);
                for (;;)
                        __asm__ volatile("" ::: "memory");
        }
        return pid;
}

/* A 1-vCPU guest pinned to host CPU 0 spins for 10 s while a host process spins on CPU 0 too:
 * the steal the guest reads from MSR_KVM_STEAL_TIME must match the runnable time vmstatd
 * reports for its vCPU over the same window, within 5 points. The host window is cut by
 * console polls every 50 ms and 200 ms samples: at most ~0.5 s of 10 s is not spinning. */
START_TEST(steal_matches_runnable) {
        REQUIRE_NATIVE();
        struct test_daemon d;
        char *dir = linux_config_dir();
        write_linux_vm(dir, "steal", 1, kernel, "cpus = 0\n", " vmstatd.spin=10");
        ck_assert(start(&d, dir, "200ms"));
        pid_t hog = spin_on_cpu0();
        char *text = poll_console(&d, "steal", "VMSTATD-GUEST-UP", FULL_DEADLINE_MS, 50);
        free(text);
        double r0, t0, r1, t1, gs0, gt0, gs1, gt1;
        host_runstate(&d, "steal", &r0, &t0);
        text = poll_console(&d, "steal", "VMSTATD-GUEST-DONE", FULL_DEADLINE_MS, 50);
        host_runstate(&d, "steal", &r1, &t1);
        kill(hog, SIGKILL);
        waitpid(hog, NULL, 0);
        const char *from = text;
        ck_assert_msg(stat_line(&from, &gs0, &gt0) && stat_line(&from, &gs1, &gt1), "stat lines:\n%s", text);
        double guest = 100 * (gs1 - gs0) / (gt1 - gt0), host = 100 * (r1 - r0) / (t1 - t0);
        fprintf(stderr, "steal: guest %.1f %%, host runnable %.1f %% (over %.1f s)\n", guest, host, t1 - t0);
        ck_assert_double_gt(guest, 20); /* contention is real: about half of CPU 0 */
        ck_assert_double_lt(fabs(guest - host), 5);
        free(text);
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

/* ---- the bzImage path: Debian's compressed kernel entered at its 64-bit entry ---------------------- */

/* Its decompressor finds our command line and the serial console and says so before it
 * decompresses; here it is emulated (minutes), on a native host it is done in well under a
 * second. */
START_TEST(bzimage_decompressor_runs) {
        struct test_daemon d;
        char *dir = linux_config_dir();
        write_linux_vm(dir, "lnxz", 1, vmlinuz, "", "");
        if (!start(&d, dir, "1s"))
                return;
        char *text = wait_console(&d, "lnxz", "KASLR disabled: 'nokaslr' on cmdline.", EARLY_DEADLINE_MS);
        free(text);
        json_t *j = vm_json(&d, "lnxz");
        const char *state = json_string_value(json_object_get(j, "state"));
        ck_assert_msg(strcmp(state, "running") == 0 || (native() && strcmp(state, "stopped") == 0), "lnxz: %s", state);
        json_decref(j);
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

START_TEST(bzimage_boots_to_userspace) {
        REQUIRE_NATIVE();
        struct test_daemon d;
        char *dir = linux_config_dir();
        write_linux_vm(dir, "lnxz", 1, vmlinuz, "", "");
        ck_assert(start(&d, dir, "1s"));
        full_boot(&d, "lnxz", 1, "reboot");
        test_daemon_stop(&d);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("linux");
        TCase *tc = tcase_create("linux");
        tcase_set_timeout(tc, 600);
        tcase_add_unchecked_fixture(tc, boot_up, boot_down);
        tcase_add_test(tc, early_boot_1_and_2_vcpus);
        tcase_add_test(tc, full_boot_1_vcpu_reboots);
        tcase_add_test(tc, full_boot_2_vcpus_powers_off);
        tcase_add_test(tc, steal_matches_runnable);
        tcase_add_test(tc, bzimage_decompressor_runs);
        tcase_add_test(tc, bzimage_boots_to_userspace);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
