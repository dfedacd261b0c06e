/* vmstatd/manager.c and console_log.c with real VMs: a console flood costs each tick a bounded
 * time, console logs rotate, cap each interval and count exactly what they drop, and a VM's last
 * console bytes reach its log when it is stopped, restarted by a reload or the daemon exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "devices/devices.h"
#include "kvm_helper.h"
#include "manager.h"
#include "sampler.h"
#include "shm.h"
#include "vm.h"

static struct hv_kvm *kvm;
static struct vs_sampler *sampler;
static struct vs_manager *manager;
static char dir[64];

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static bool setup(uint64_t interval_ns) {
        if (!(kvm = test_kvm()))
                return false;
        struct vs_sampler_config scfg = { .interval_ns = interval_ns, .history = 10 };
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                scfg.enable[i] = -1;
        ck_assert_int_eq(vs_sampler_new(&scfg, &sampler), 0);
        char *d = test_mkdtemp("manager");
        snprintf(dir, sizeof(dir), "%s", d);
        free(d);
        struct vs_manager_config mcfg = { 0 };
        snprintf(mcfg.worker_exe, sizeof(mcfg.worker_exe), "%s",
                 getenv("VMSTATD_WORKER") ? getenv("VMSTATD_WORKER") : "build/bin/vmstatd-vm");
        snprintf(mcfg.runtime_dir, sizeof(mcfg.runtime_dir), "%s", dir);
        ck_assert_int_eq(vs_manager_new(&mcfg, sampler, &manager), 0);
        return true;
}

/* The daemon maps a worker's console ring read-only; these tests write into it as the guest's
 * worker would, through a writable mapping of the same memfd. */
static struct {
        struct hv_vm *vm;
        struct hv_console *ring;
} rings[8];

static struct hv_console *writable_ring(const char *vm) {
        struct hv_vm *v = vs_manager_vm(manager, vm);
        ck_assert_ptr_nonnull(v);
        size_t i = 0;
        for (; i < 8 && rings[i].vm; i++)
                if (rings[i].vm == v)
                        return rings[i].ring;
        ck_assert_uint_lt(i, 8);
        struct hv_shm *sh = mmap(NULL, v->sh_len, PROT_READ | PROT_WRITE, MAP_SHARED, hv_vm_shm_fd(v), 0);
        ck_assert_ptr_ne(sh, MAP_FAILED);
        struct hv_console *c;
        ck_assert_int_eq(hv_console_wrap(&sh->console_head, (_Atomic uint32_t *) ((uint8_t *) sh + sh->console_off),
                                         sh->console_size, &c), 0);
        rings[i].vm = v;
        rings[i].ring = c;
        return c; /* the mapping goes with the test's process */
}

static void teardown(void) {
        char cmd[128];
        for (size_t i = 0; i < 8; i++) {
                hv_console_free(rings[i].ring);
                rings[i].vm = NULL;
                rings[i].ring = NULL;
        }
        vs_manager_free(manager);
        vs_sampler_free(sampler);
        hv_kvm_free(kvm);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* A configuration of one VM, parsed by the real parser from its file's text. */
static void apply_vm(const char *name, const char *text) {
        char err[VS_CONF_ERR_LEN], file[64];
        struct vs_conf c;
        ck_assert_msg(vs_conf_parse_daemon("", 0, &c, err) == 0, "%s", err);
        c.vms = calloc(1, sizeof(*c.vms));
        snprintf(file, sizeof(file), "%s.vm", name);
        ck_assert_msg(vs_conf_parse_vm(file, text, strlen(text), &c, &c.vms[0], err) == 0, "%s", err);
        c.n_vms = 1;
        ck_assert_int_eq(vs_manager_apply(manager, &c), 0);
        vs_conf_free(&c);
}

static char *log_path(const char *suffix) {
        static char path[2][128];
        static int k;
        k ^= 1;
        snprintf(path[k], sizeof(path[k]), "%s/con.log%s", dir, suffix);
        return path[k];
}

static char *slurp(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        if (!f) {
                *ret_len = 0;
                return strdup("");
        }
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, m);
        fclose(m);
        fclose(f);
        *ret_len = len;
        return buf;
}

static uint64_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

static uint64_t dropped_in_sample(const char *vm) {
        ck_assert_int_eq(vs_sampler_sample(sampler), 0);
        struct vs_sample *s = vs_sampler_latest(sampler);
        const struct vs_vm_sample *v = vs_sample_find_vm(s, vm);
        ck_assert_ptr_nonnull(v);
        uint64_t d = v->console_dropped_bytes;
        vs_sample_unref(s);
        return d;
}

static void wait_state(const char *vm, enum hv_vm_state want, int timeout_ms) {
        uint64_t t0 = now_ms();
        while (hv_vm_state(vs_manager_vm(manager, vm)) != want && now_ms() - t0 < (uint64_t) timeout_ms)
                test_sleep_ms(10);
        ck_assert_msg(hv_vm_state(vs_manager_vm(manager, vm)) == want, "%s is %s, expected %s", vm,
                      hv_vm_state_name(hv_vm_state(vs_manager_vm(manager, vm))), hv_vm_state_name(want));
}

/* ---- a flood costs each tick a bounded time --------------------------------------------------------- */

struct flood {
        struct hv_console *ring;
        _Atomic bool stop;
        _Atomic uint64_t chunks;
};

/* A guest on a host that moves a page of string I/O per exit writes GB/s: this thread does. */
static void *flood_main(void *arg) {
        struct flood *f = arg;
        uint8_t chunk[4096];
        memset(chunk, 'x', sizeof(chunk));
        chunk[sizeof(chunk) - 1] = '\n';
        uint64_t t0 = now_ms();
        while (!atomic_load(&f->stop) && now_ms() - t0 < 5000) {
                hv_console_write(f->ring, chunk, sizeof(chunk));
                atomic_fetch_add(&f->chunks, 1);
        }
        return NULL;
}

/* Each tick copies at most what the ring held when it began (its 64 KiB), however fast the guest
 * writes meanwhile: the copier used to loop until it caught up, which a guest writing faster
 * than the log file takes it kept from ever happening (main loop, watchdog and SIGTERM stalled). */
START_TEST(console_flood_tick_is_bounded) {
        if (!setup(100 * 1000000ull))
                return;
        char vm[512];
        snprintf(vm, sizeof(vm), "[vm]\nmemory = 16M\nguest = builtin:halt\nconsole_log = %s\nconsole_log_max = 1T\n",
                 log_path(""));
        apply_vm("flood", vm);
        struct flood f = { .ring = writable_ring("flood") };
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
                ck_assert_int_eq(pthread_create(&t[i], NULL, flood_main, &f), 0);
        uint64_t worst_ms = 0, most = 0, ticks = 0, t_end = now_ms() + 2000;
        void (*const tick[2])(struct vs_manager *) = { vs_manager_tick, vs_manager_console_tick };
        while (now_ms() < t_end) {
                for (int k = 0; k < 2; k++) { /* what the supervision timer calls, and the console timer */
                        uint64_t t0 = now_ms(), size0 = file_size(log_path(""));
                        tick[k](manager);
                        uint64_t took = now_ms() - t0, moved = file_size(log_path("")) - size0;
                        worst_ms = took > worst_ms ? took : worst_ms;
                        most = moved > most ? moved : most;
                }
                ticks++;
                test_sleep_ms(20);
        }
        atomic_store(&f.stop, true);
        for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
        uint64_t written = hv_console_total(f.ring);
        fprintf(stderr, "console flood: %llu MiB written in 2 s, %llu ticks: the slowest took %llu ms, the most one "
                "copied was %llu KiB\n", (unsigned long long) (written >> 20), (unsigned long long) ticks,
                (unsigned long long) worst_ms, (unsigned long long) (most >> 10));
        ck_assert_msg(most <= 65536, "one tick copied %llu bytes: more than the ring held when it began",
                      (unsigned long long) most);
        ck_assert_msg(worst_ms < 250, "a tick took %llu ms while the guest flooded", (unsigned long long) worst_ms);
        ck_assert_uint_ge(ticks, 10);
        vs_manager_console_tick(manager);
        uint64_t dropped = dropped_in_sample("flood"), logged = file_size(log_path(""));
        ck_assert_uint_gt(dropped, 0); /* the ring overran between ticks: counted */
        ck_assert_uint_eq(logged + dropped, written); /* every byte written is logged or counted, once */
        teardown();
}
END_TEST

/* ---- rotation, the per-interval cap and drops, to the byte -------------------------------------------- */

/* n bytes of one letter into the VM's console ring, as a guest would write them */
static void guest_writes(const char *vm, char letter, size_t n) {
        static uint8_t buf[1 << 18];
        ck_assert_uint_le(n, sizeof(buf));
        memset(buf, letter, n);
        hv_console_write(writable_ring(vm), buf, n);
}

/* the file holds exactly these runs of letters */
static void assert_file(const char *path, const char *runs_letters, const size_t *runs) {
        size_t len, at = 0;
        char *text = slurp(path, &len);
        for (size_t i = 0; runs_letters[i]; i++) {
                for (size_t j = 0; j < runs[i]; j++, at++)
                        ck_assert_msg(at < len && text[at] == runs_letters[i], "%s: byte %zu is '%c', expected '%c'", path, at,
                                      at < len ? text[at] : '?', runs_letters[i]);
        }
        ck_assert_msg(at == len, "%s: %zu bytes, expected %zu", path, len, at);
        free(text);
}

START_TEST(console_log_rotates_caps_and_counts) {
        if (!setup(1000 * 1000000ull)) /* the per-interval allowance restarts every second */
                return;
        char vm[512];
        snprintf(vm, sizeof(vm), "[vm]\nmemory = 16M\nguest = builtin:halt\nconsole_log = %s\nconsole_log_max = 32K\n",
                 log_path(""));
        apply_vm("rot", vm);
        const uint64_t max = 32768, ring = 65536;

        guest_writes("rot", 'a', 10000); /* fits */
        vs_manager_console_tick(manager);
        assert_file(log_path(""), "a", (size_t[]) { 10000 });
        ck_assert_uint_eq(dropped_in_sample("rot"), 0);

        guest_writes("rot", 'b', 30000); /* 40000 in one interval: 7232 past the cap are dropped */
        vs_manager_console_tick(manager);
        assert_file(log_path(""), "ab", (size_t[]) { 10000, max - 10000 });
        ck_assert_uint_eq(dropped_in_sample("rot"), 40000 - max);

        test_sleep_ms(1100); /* a new interval: the file is full, so it rotates */
        guest_writes("rot", 'c', 1000);
        vs_manager_console_tick(manager);
        assert_file(log_path(".1"), "ab", (size_t[]) { 10000, max - 10000 });
        assert_file(log_path(""), "c", (size_t[]) { 1000 });

        test_sleep_ms(1100); /* more than the ring holds between two ticks: the oldest are gone */
        guest_writes("rot", 'd', 100000);
        vs_manager_console_tick(manager);
        /* 100000 - 65536 overwritten, then 32768 of the 65536 left fit the interval; the copier
         * moves 16 KiB at a time, and the second 16 KiB no longer fit the file: it rotated */
        ck_assert_uint_eq(dropped_in_sample("rot"), (40000 - max) + (100000 - ring) + (ring - max));
        assert_file(log_path(".1"), "cd", (size_t[]) { 1000, 16384 });
        assert_file(log_path(""), "d", (size_t[]) { 16384 });
        ck_assert_uint_eq(hv_console_total(vs_manager_vm(manager, "rot")->console),
                          10000 + 30000 + 1000 + 100000); /* what the executor reports as written */
        teardown();
}
END_TEST

/* ---- the last bytes reach the log ------------------------------------------------------------------------ */

/* builtin:console count=N writes N lines of 15 bytes per vCPU, then the VM stops with exit 0.
 * No console tick runs in this test: only the flushes on stop, restart and exit move bytes. */
START_TEST(console_flushed_on_reload_stop_and_exit) {
        if (!setup(3600 * 1000000000ull))
                return;
        char vm[512], msg[256];
        snprintf(vm, sizeof(vm), "[vm]\nmemory = 16M\nguest = builtin:console count=200\nconsole_log = %s\n", log_path(""));
        apply_vm("fl", vm);
        wait_state("fl", HV_VM_STOPPED, 20000);
        ck_assert_uint_eq(file_size(log_path("")), 0); /* nothing copied it yet */

        /* a reload that changes the VM restarts it: the old one's output is flushed first */
        snprintf(vm, sizeof(vm), "[vm]\nmemory = 16M\nguest = builtin:console\nconsole_log = %s\n", log_path(""));
        apply_vm("fl", vm);
        ck_assert_uint_eq(file_size(log_path("")), 200 * 15);

        /* stop: whatever the running (flooding) guest wrote up to then, or counted as dropped */
        test_sleep_ms(300);
        ck_assert_int_eq(vs_manager_action(manager, "fl", "stop", msg, sizeof(msg)), 0);
        uint64_t written = hv_console_total(vs_manager_vm(manager, "fl")->console);
        ck_assert_uint_gt(written, 0);
        ck_assert_uint_eq(file_size(log_path("")) + dropped_in_sample("fl"), 200 * 15 + written);

        /* the daemon's exit: a VM that wrote and stopped since the last tick */
        snprintf(vm, sizeof(vm), "[vm]\nmemory = 16M\nguest = builtin:console count=50\nconsole_log = %s\n", log_path(""));
        apply_vm("fl", vm);
        wait_state("fl", HV_VM_STOPPED, 20000);
        uint64_t before = file_size(log_path(""));
        vs_manager_free(manager);
        manager = NULL;
        ck_assert_uint_eq(file_size(log_path("")), before + 50 * 15);
        size_t len;
        char *text = slurp(log_path(""), &len);
        ck_assert_msg(len >= 15 && strcmp(text + len - 15, "c00 0000000050\n") == 0, "log ends '%s'",
                      len >= 15 ? text + len - 15 : text);
        free(text);
        teardown();
}
END_TEST

/* ---- logs that are not files ------------------------------------------------------------------------------- */

/* A FIFO named as console log (nobody reading it) blocked open() on the main loop: now refused. */
START_TEST(console_log_fifo_refused) {
        if (!setup(100 * 1000000ull))
                return;
        char vm[512];
        ck_assert_int_eq(mkfifo(log_path(""), 0600), 0);
        snprintf(vm, sizeof(vm), "[vm]\nmemory = 16M\nguest = builtin:console count=10\nconsole_log = %s\n", log_path(""));
        uint64_t t0 = now_ms();
        apply_vm("ff", vm);
        wait_state("ff", HV_VM_STOPPED, 20000);
        vs_manager_console_tick(manager);
        ck_assert_uint_lt(now_ms() - t0, 10000);
        ck_assert_uint_eq(dropped_in_sample("ff"), 0); /* no log: nothing is counted as dropped from it */
        teardown();
}
END_TEST

int main(void) {
        Suite *s = suite_create("manager");
        TCase *tc = tcase_create("manager");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, console_flood_tick_is_bounded);
        tcase_add_test(tc, console_log_rotates_caps_and_counts);
        tcase_add_test(tc, console_flushed_on_reload_stop_and_exit);
        tcase_add_test(tc, console_log_fifo_refused);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
