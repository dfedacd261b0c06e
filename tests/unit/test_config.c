/* vmstatd/config.c: every bad config gives its exact one-line error; good ones round-trip. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "tests/suite.h"

static char dir[64];

static void setup(void) {
        snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static void teardown(void) {
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes dir/rel (len bytes of text, or strlen), creating vms.d when needed. */
static void put_len(const char *rel, const char *text, size_t len) {
        char path[512];
        snprintf(path, sizeof(path), "%s/vms.d", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        FILE *f = fopen(path, "w");
        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        ck_assert_uint_eq(fwrite(text, 1, len, f), len);
        fclose(f);
}

static void put(const char *rel, const char *text) {
        put_len(rel, text, strlen(text));
}

/* Loads dir expecting failure with exactly `want`, and ret untouched. */
static void expect_error(const char *want) {
        struct vs_conf c;
        char err[VS_CONF_ERR_LEN] = "";
        memset(&c, 0x5a, sizeof(c));
        int r = vs_conf_load(dir, &c, err);
        ck_assert_msg(r < 0, "loaded, expected \"%s\"", want);
        ck_assert_str_eq(err, want);
        ck_assert_uint_eq(c.n_vms, 0x5a5a5a5a5a5a5a5aULL); /* untouched */
}

static void load_ok(struct vs_conf *c) {
        char err[VS_CONF_ERR_LEN] = "";
        int r = vs_conf_load(dir, c, err);
        ck_assert_msg(r == 0, "vs_conf_load: %d %s", r, err);
}

static int collector_index(const char *name) {
        for (size_t i = 0; i < collector_registry_len; i++)
                if (strcmp(collector_registry[i]->name, name) == 0)
                        return (int) i;
        ck_abort_msg("no collector %s", name);
        return -1;
}

/* ---- the bad ones -------------------------------------------------------------------------------- */

#define D "vmstatd.conf"
#define V "vms.d/b13.vm"
#define G "[vm]\nguest = builtin:demo\n"

static const struct {
        const char *file, *text, *error;
} bad[] = {
        /* syntax and structure */
        { D, "[daemon]\ninterval 5s\n", "vmstatd.conf:2: 'interval 5s' is not 'key = value' or '[section]'" },
        { D, "[daemon\n", "vmstatd.conf:1: '[daemon' is not 'key = value' or '[section]'" },
        { D, "[daemon] extra\n", "vmstatd.conf:1: '[daemon] extra' is not 'key = value' or '[section]'" },
        { D, "[daemon]\n= 5s\n", "vmstatd.conf:2: '= 5s' is not 'key = value' or '[section]'" },
        { D, "[daemon]\nlisten = :1\n    :2\n", "vmstatd.conf:3: ':2' is not 'key = value' or '[section]'" },
        { D, "[demon]\ninterval = 5s\n", "vmstatd.conf:1: [demon]: unknown section (expected [daemon])" },
        { D, "[daemon]\ninterval = 5s\n\n[extra]\n", "vmstatd.conf:4: [extra]: unknown section (expected [daemon])" },
        { D, "interval = 5s\n[daemon]\n", "vmstatd.conf:1: interval: set outside a section (expected [daemon] first)" },
        { D, "[daemon]\nintervall = 5s\n",
          "vmstatd.conf:2: intervall: unknown key (expected listen, interval, history, collectors, histograms, "
          "kvm_stats_include, kvm_stats_exclude, log_level, control_socket, runtime_dir, console_log_dir, "
          "console_log_max, console_over_http or allowed_hosts)" },
        { D, "[daemon]\nInterval = 5s\n",
          "vmstatd.conf:2: Interval: unknown key (expected listen, interval, history, collectors, histograms, "
          "kvm_stats_include, kvm_stats_exclude, log_level, control_socket, runtime_dir, console_log_dir, "
          "console_log_max, console_over_http or allowed_hosts)" },
        { D, "[daemon]\ninterval = 5s\n; a comment\ninterval = 10s\n", "vmstatd.conf:4: interval: set twice (first on line 2)" },
        { D, "\xef\xbb\xbf[daemon]\r\nhistory = 0\r\n", "vmstatd.conf:2: history: '0' is out of range (1 to 100000)" },
        /* [daemon] values */
        { D, "[daemon]\nlisten = 9400\n", "vmstatd.conf:2: listen: '9400' is not host:port, [v6]:port or :port" },
        { D, "[daemon]\nlisten = [::1:9400\n", "vmstatd.conf:2: listen: '[::1:9400' is not host:port, [v6]:port or :port" },
        { D, "[daemon]\nlisten = [::g]:9400\n", "vmstatd.conf:2: listen: '[::g]:9400' is not host:port, [v6]:port or :port" },
        { D, "[daemon]\nlisten = ::1:9400\n", "vmstatd.conf:2: listen: '::1:9400' is not host:port, [v6]:port or :port" },
        { D, "[daemon]\nlisten = 127.0.0.1:65536\n", "vmstatd.conf:2: listen: '127.0.0.1:65536' is not host:port, [v6]:port or :port" },
        { D, "[daemon]\nlisten = localhost:http\n", "vmstatd.conf:2: listen: 'localhost:http' is not host:port, [v6]:port or :port" },
        { D, "[daemon]\nlisten = :9400\nlisten = :9400\n", "vmstatd.conf:3: listen: ':9400' is listed twice" },
        { D, "[daemon]\ninterval = 50ms\n", "vmstatd.conf:2: interval: '50ms' is out of range (100ms to 1h)" },
        { D, "[daemon]\ninterval = 2h\n", "vmstatd.conf:2: interval: '2h' is out of range (100ms to 1h)" },
        { D, "[daemon]\ninterval = 5 s\n", "vmstatd.conf:2: interval: '5 s' is not a duration (e.g. 5s)" },
        { D, "[daemon]\ninterval =\n", "vmstatd.conf:2: interval: '' is not a duration (e.g. 5s)" },
        { D, "[daemon]\nhistory = lots\n", "vmstatd.conf:2: history: 'lots' is not a number (1 to 100000)" },
        { D, "[daemon]\nhistory = 100001\n", "vmstatd.conf:2: history: '100001' is out of range (1 to 100000)" },
        { D, "[daemon]\ncollectors = executor,kvm,bogus\n",
          "vmstatd.conf:2: collectors: 'bogus' is not a collector (executor, kvm, sched, memory or perf)" },
        { D, "[daemon]\ncollectors = kvm,,perf\n",
          "vmstatd.conf:2: collectors: '' is not a collector (executor, kvm, sched, memory or perf)" },
        { D, "[daemon]\ncollectors = kvm, -kvm\n", "vmstatd.conf:2: collectors: 'kvm' is listed twice" },
        { D, "[daemon]\nhistograms = maybe\n", "vmstatd.conf:2: histograms: 'maybe' is not a boolean (yes, no, true, false, 1 or 0)" },
        { D, "[daemon]\nkvm_stats_include = (halt\n",
          "vmstatd.conf:2: kvm_stats_include: '(halt' is not a POSIX extended regex (Unmatched ( or \\()" },
        { D, "[daemon]\nkvm_stats_exclude = halt[\n",
          "vmstatd.conf:2: kvm_stats_exclude: 'halt[' is not a POSIX extended regex (Unmatched [, [^, [:, [., or [=)" },
        { D, "[daemon]\nlog_level = verbose\n",
          "vmstatd.conf:2: log_level: 'verbose' is not a log level (err, warning, notice, info or debug)" },
        { D, "[daemon]\ncontrol_socket = run/control.sock\n", "vmstatd.conf:2: control_socket: 'run/control.sock' is not an absolute path" },
        { D, "[daemon]\ncontrol_socket = /run/vmstatd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
          "vmstatd.conf:2: control_socket: '/run/vmstatd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock' "
          "is too long (at most 107 characters)" },
        { D, "[daemon]\nconsole_log_dir = logs\n", "vmstatd.conf:2: console_log_dir: 'logs' is not an absolute path" },
        { D, "[daemon]\nconsole_log_max = 1K\n", "vmstatd.conf:2: console_log_max: '1K' is out of range (4K to 1T)" },
        { D, "[daemon]\nconsole_log_max = lots\n", "vmstatd.conf:2: console_log_max: 'lots' is not a size (e.g. 16M)" },
        { D, "[daemon]\nconsole_over_http = sure\n",
          "vmstatd.conf:2: console_over_http: 'sure' is not a boolean (yes, no, true, false, 1 or 0)" },
        { D, "[daemon]\nallowed_hosts = prom.example, bad/name\n",
          "vmstatd.conf:2: allowed_hosts: 'bad/name' is not a host name, an IP address or *" },
        { D, "[daemon]\nallowed_hosts = host:9400\n",
          "vmstatd.conf:2: allowed_hosts: 'host:9400' is not a host name, an IP address or *" },
        { D, "[daemon]\nallowed_hosts = ,\n",
          "vmstatd.conf:2: allowed_hosts: ',' is not a list of host names (e.g. prometheus.example.com)" },
        { D, "[daemon]\nlog_level = info\rdebug\n", "vmstatd.conf:2: log_level: 'info?debug' is not a log level (err, warning, notice, info or debug)" },
        /* [vm] structure */
        { V, "[vmm]\nguest = builtin:demo\n", "b13.vm:1: [vmm]: unknown section (expected [vm])" },
        { V, "[daemon]\n", "b13.vm:1: [daemon]: unknown section (expected [vm])" },
        { V, "vcpus = 2\n" G, "b13.vm:1: vcpus: set outside a section (expected [vm] first)" },
        { V, G "vcpu = 2\n", "b13.vm:3: vcpu: unknown key "
          "(expected vcpus, memory, guest, kernel, initrd, cmdline, cpuid_hide, autostart, restart, cpus, console_log or console_log_max)" },
        { V, G "memory = 64M\nmemory = 128M\n", "b13.vm:4: memory: set twice (first on line 3)" },
        { V, "[vm]\nvcpus = 2\n", "b13.vm: guest: missing (e.g. guest = builtin:demo, or kernel = /boot/vmlinuz for a Linux guest)" },
        { V, "", "b13.vm: guest: missing (e.g. guest = builtin:demo, or kernel = /boot/vmlinuz for a Linux guest)" },
        { "vms.d/B13.vm", G, "B13.vm: 'B13' is not a VM name (the file name must be [a-z0-9_-]{1,32}.vm)" },
        { "vms.d/web.1.vm", G, "web.1.vm: 'web.1' is not a VM name (the file name must be [a-z0-9_-]{1,32}.vm)" },
        { "vms.d/.vm", G, ".vm: '' is not a VM name (the file name must be [a-z0-9_-]{1,32}.vm)" },
        { "vms.d/abcdefghijklmnopqrstuvwxyz0123456.vm", G,
          "abcdefghijklmnopqrstuvwxyz0123456.vm: 'abcdefghijklmnopqrstuvwxyz0123456' is not a VM name "
          "(the file name must be [a-z0-9_-]{1,32}.vm)" },
        /* [vm] values */
        { V, "# b13: the demo VM\n;\n\n[vm]\nvcpus = 2\nguest = builtin:demo\nmemory = 12X\n",
          "b13.vm:7: memory: '12X' is not a size (e.g. 256M)" },
        { V, G "memory = 1.5G\n", "b13.vm:3: memory: '1.5G' is not a size (e.g. 256M)" },
        { V, G "memory = 99999999999999999999G\n", "b13.vm:3: memory: '99999999999999999999G' is not a size (e.g. 256M)" },
        { V, G "memory = 4M\n", "b13.vm:3: memory: '4M' is out of range (8M to 3G)" },
        { V, G "memory = 4G\n", "b13.vm:3: memory: '4G' is out of range (8M to 3G)" },
        { V, G "memory = 10001K\n", "b13.vm:3: memory: '10001K' is not a multiple of 4K" },
        { V, G "vcpus = 0\n", "b13.vm:3: vcpus: '0' is out of range (1 to 64)" },
        { V, G "vcpus = 65\n", "b13.vm:3: vcpus: '65' is out of range (1 to 64)" },
        { V, G "vcpus = two\n", "b13.vm:3: vcpus: 'two' is not a number (1 to 64)" },
        { V, G "vcpus = -1\n", "b13.vm:3: vcpus: '-1' is not a number (1 to 64)" },
        { V, "[vm]\nguest = demo\n", "b13.vm:2: guest: 'demo' is not builtin:NAME or flat:/PATH entry=NAME (e.g. builtin:demo)" },
        { V, "[vm]\nguest =\n", "b13.vm:2: guest: '' is not builtin:NAME or flat:/PATH entry=NAME (e.g. builtin:demo)" },
        { V, "[vm]\nguest = builtin:dmeo\n",
          "b13.vm:2: guest: 'builtin:dmeo' is not a built-in guest (console, cpuid, demo, duty, halt, idle, mmio, pio, spin, stealoff or triplefault)" },
        { V, "[vm]\nguest = builtin:pio count=x\n", "b13.vm:2: guest: 'count=x' is not a count (0 to 18446744073709551615)" },
        { V, "[vm]\nguest = builtin:pio count=18446744073709551616\n",
          "b13.vm:2: guest: 'count=18446744073709551616' is not a count (0 to 18446744073709551615)" },
        { V, "[vm]\nguest = builtin:pio count\n", "b13.vm:2: guest: 'count' is not key=value" },
        { V, "[vm]\nguest = builtin:pio count=1 count=2\n", "b13.vm:2: guest: 'count=2' is given twice" },
        { V, "[vm]\nguest = builtin:pio port=0\n", "b13.vm:2: guest: 'port=0' is not a port (1 to 65535, or 0x1 to 0xffff)" },
        { V, "[vm]\nguest = builtin:pio port=0x10000\n", "b13.vm:2: guest: 'port=0x10000' is not a port (1 to 65535, or 0x1 to 0xffff)" },
        { V, "[vm]\nguest = builtin:pio port=0x\n", "b13.vm:2: guest: 'port=0x' is not a port (1 to 65535, or 0x1 to 0xffff)" },
        { V, "[vm]\nguest = builtin:pio port=0x0\n", "b13.vm:2: guest: 'port=0x0' is not a port (1 to 65535, or 0x1 to 0xffff)" },
        { V, "[vm]\nguest = builtin:pio port=0xg0\n", "b13.vm:2: guest: 'port=0xg0' is not a port (1 to 65535, or 0x1 to 0xffff)" },
        { V, "[vm]\nguest = builtin:pio port=65536\n", "b13.vm:2: guest: 'port=65536' is not a port (1 to 65535, or 0x1 to 0xffff)" },
        { V, "[vm]\nguest = builtin:duty duty=101\n", "b13.vm:2: guest: 'duty=101' is not a percentage (1 to 100)" },
        { V, "[vm]\nguest = builtin:duty period=0\n", "b13.vm:2: guest: 'period=0' is not a number of ticks (1 to 1000000)" },
        { V, "[vm]\nguest = builtin:idle tick_us=5\n",
          "b13.vm:2: guest: 'tick_us=5' is not a tick length in microseconds (10 to 1000000)" },
        { V, "[vm]\nguest = builtin:pio colour=3\n",
          "b13.vm:2: guest: 'colour=3' is not a parameter of a built-in guest (count, port, duty, period, tick_us or steal_time)" },
        { V, "[vm]\nguest = builtin:pio entry=main\n",
          "b13.vm:2: guest: 'entry=main' is not a parameter of a built-in guest (count, port, duty, period, tick_us or steal_time)" },
        { V, "[vm]\nguest = flat:guest.img entry=main\n", "b13.vm:2: guest: 'guest.img' is not an absolute path" },
        { V, "[vm]\nguest = flat:/nonexistent/guest.img entry=main\n",
          "b13.vm:2: guest: '/nonexistent/guest.img' cannot be read (No such file or directory)" },
        { V, "[vm]\nguest = flat:/dev/null entry=main\n", "b13.vm:2: guest: '/dev/null' is not a regular file" },
        { V, G "autostart = sometimes\n", "b13.vm:3: autostart: 'sometimes' is not a boolean (yes, no, true, false, 1 or 0)" },
        { V, G "restart = always\n", "b13.vm:3: restart: 'always' is not no or on-crash" },
        { V, G "cpus = a\n", "b13.vm:3: cpus: 'a' is not a CPU list (e.g. 0-1,3)" },
        { V, G "cpus = 1-0\n", "b13.vm:3: cpus: '1-0' is not a CPU list (e.g. 0-1,3)" },
        { V, G "cpus = 0,,0\n", "b13.vm:3: cpus: '0,,0' is not a CPU list (e.g. 0-1,3)" },
        { V, G "cpus = 0-\n", "b13.vm:3: cpus: '0-' is not a CPU list (e.g. 0-1,3)" },
        { V, G "cpus =\n", "b13.vm:3: cpus: '' is not a CPU list (e.g. 0-1,3)" },
        { V, G "console_log = b13.log\n", "b13.vm:3: console_log: 'b13.log' is not an absolute path" },
        { V, G "console_log_max = 2T\n", "b13.vm:3: console_log_max: '2T' is out of range (4K to 1T)" },
        /* Linux guests */
        { V, "[vm]\nkernel = vmlinuz\n", "b13.vm:2: kernel: 'vmlinuz' is not an absolute path" },
        { V, "[vm]\nkernel =\n", "b13.vm:2: kernel: '' is not an absolute path" },
        { V, "[vm]\nkernel = /boot/vmlinuz\ninitrd = initrd.img\n", "b13.vm:3: initrd: 'initrd.img' is not an absolute path" },
        { V, G "kernel = /boot/vmlinuz\n",
          "b13.vm:3: kernel: cannot be combined with guest (line 2): a VM boots a Linux kernel or a built-in or flat guest, not both" },
        { V, "[vm]\nkernel = /boot/vmlinuz\nmemory = 128M\nguest = builtin:demo\n",
          "b13.vm:4: guest: cannot be combined with kernel (line 2): a VM boots a Linux kernel or a built-in or flat guest, not both" },
        { V, G "initrd = /boot/initrd.img\n",
          "b13.vm:3: initrd: needs kernel = /PATH (initrd, cmdline and cpuid_hide are for Linux guests)" },
        { V, "[vm]\ncmdline = console=ttyS0\n",
          "b13.vm:2: cmdline: needs kernel = /PATH (initrd, cmdline and cpuid_hide are for Linux guests)" },
        { V, G "vcpus = 2\ncpuid_hide = cx16\n",
          "b13.vm:4: cpuid_hide: needs kernel = /PATH (initrd, cmdline and cpuid_hide are for Linux guests)" },
        { V, "[vm]\nkernel = /boot/vmlinuz\ncpuid_hide = cx16, avx\n",
          "b13.vm:3: cpuid_hide: 'avx' is not a CPUID feature vmstatd can hide (cx16 or xsave)" },
        { V, "[vm]\nkernel = /boot/vmlinuz\ncpuid_hide = CX16\n",
          "b13.vm:3: cpuid_hide: 'CX16' is not a CPUID feature vmstatd can hide (cx16 or xsave)" },
        { V, "[vm]\nkernel = /boot/vmlinuz\ncpuid_hide = xsave xsave\n", "b13.vm:3: cpuid_hide: 'xsave' is listed twice" },
        { V, "[vm]\nkernel = /boot/vmlinuz\ncpuid_hide = ,\n",
          "b13.vm:3: cpuid_hide: ',' is not a list of CPUID features to hide (cx16 or xsave, or both)" },
        { V, "[vm]\nkernel = /boot/vmlinuz\ncpuid_hide = cx16\ncpuid_hide = xsave\n",
          "b13.vm:4: cpuid_hide: set twice (first on line 3)" },
        { V, "[vm]\nmemory = 32M\nkernel = /boot/vmlinuz\n", "b13.vm:2: memory: '32M' is too small for a Linux guest (at least 64M)" },
        { V, "[vm]\nkernel = /boot/vmlinuz\nmemory = 65532K\n",
          "b13.vm:3: memory: '65532K' is too small for a Linux guest (at least 64M)" },
        { V, "[vm]\nkernel = /boot/vmlinuz\ncmdline =\n", "b13.vm:3: cmdline: is empty (leave it out for the default)" },
        { V, "[vm]\nguest = linux:/boot/vmlinuz\n",
          "b13.vm:2: guest: 'linux:/boot/vmlinuz' is not builtin:NAME or flat:/PATH entry=NAME (a Linux guest is kernel = /PATH)" },
        /* the first error of a file is the one reported, syntax or value */
        { V, "[vm]\nmemory 64M\nvcpus = 0\n", "b13.vm:2: 'memory 64M' is not 'key = value' or '[section]'" },
        { V, "[vm]\nvcpus = 0\nmemory 64M\n", "b13.vm:2: vcpus: '0' is out of range (1 to 64)" },
        { V, "[vm]\nguest builtin:demo\n",
          "b13.vm:2: guest builtin: unknown key (expected vcpus, memory, guest, kernel, initrd, cmdline, cpuid_hide, autostart, restart, cpus, console_log or console_log_max)" },
};

START_TEST(bad_configs) {
        put(bad[_i].file, bad[_i].text);
        expect_error(bad[_i].error);
}
END_TEST

START_TEST(bad_generated) {
        char text[8192], want[512];
        /* one listen too many */
        size_t o = (size_t) snprintf(text, sizeof(text), "[daemon]\n");
        for (int i = 0; i <= VS_CONF_MAX_LISTEN; i++)
                o += (size_t) snprintf(text + o, sizeof(text) - o, "listen = :%d\n", 9400 + i);
        put(D, text);
        expect_error("vmstatd.conf:18: listen: ':9416' is one too many (at most 16 addresses)");
        unlink(strcat(strcpy(text, dir), "/" D));

        /* a CPU this host does not have */
        long n = sysconf(_SC_NPROCESSORS_CONF);
        long max = n > 64 ? 64 : n;
        snprintf(text, sizeof(text), G "cpus = 0,%ld\n", max);
        put(V, text);
        snprintf(want, sizeof(want), "b13.vm:3: cpus: '0,%ld' names a CPU this host does not have (0-%ld)", max, max - 1);
        expect_error(want);

        /* a flat image without its entry */
        snprintf(want, sizeof(want), "%s/guest.img", dir);
        put("guest.img", "not really an image");
        snprintf(text, sizeof(text), "[vm]\nguest = flat:%s\n", want);
        put(V, text);
        snprintf(want, sizeof(want), "b13.vm:2: guest: 'flat:%s/guest.img' has no entry=NAME (the image entry to start)", dir);
        expect_error(want);
        snprintf(text, sizeof(text), "[vm]\nguest = flat:%s/guest.img entry=main colour=1\n", dir);
        put(V, text);
        expect_error("b13.vm:2: guest: 'colour=1' is not a parameter of a flat image (entry, count, port, duty, period, tick_us or steal_time)");
        snprintf(text, sizeof(text), "[vm]\nguest = flat:%s/guest.img entry=abcdefghijklmnop\n", dir);
        put(V, text);
        expect_error("b13.vm:2: guest: 'entry=abcdefghijklmnop' is not an entry name (1 to 15 characters)");

        /* a Linux command line longer than 4095 bytes, over several cmdline lines */
        char arg[101];
        memset(arg, 'x', 100);
        arg[100] = 0;
        o = (size_t) snprintf(text, sizeof(text), "[vm]\nkernel = /boot/vmlinuz\n");
        for (int i = 0; i < 41; i++) /* 40 * 100 + 39 spaces = 4039 bytes fit; 4140 do not */
                o += (size_t) snprintf(text + o, sizeof(text) - o, "cmdline = %s\n", arg);
        put(V, text);
        expect_error("b13.vm:43: cmdline: too long (at most 4095 bytes, all cmdline lines joined)");

        /* a line longer than inih's buffer, a NUL byte */
        memset(text, 'a', 300);
        memcpy(text, "[vm]\nconsole_log = /", 20);
        strcpy(text + 300, "\n");
        put(V, text);
        expect_error("b13.vm:2: line too long (at most 198 characters)");
        char fill[251];
        memset(fill, 'x', 250);
        fill[250] = 0;
        snprintf(text, sizeof(text), G "# %s\nvcpus = 2 ; %s\nvcpus = 3\n", fill, fill); /* long comments are fine */
        put(V, text);
        expect_error("b13.vm:5: vcpus: set twice (first on line 4)");
        put_len(V, G "vcpus = 2\0\n", sizeof(G "vcpus = 2\0\n") - 1);
        expect_error("b13.vm:3: contains a NUL byte (not a text file)");
}
END_TEST

START_TEST(bad_files) {
        char path[512], want[600];
        /* a .vm that is not a file */
        snprintf(path, sizeof(path), "%s/vms.d/x.vm", dir);
        put("vms.d/.keep", "");
        ck_assert_int_eq(mkdir(path, 0755), 0);
        expect_error("x.vm: is not a regular file");
        rmdir(path);

        /* too big to be a config */
        char *big = malloc(70000);
        memset(big, '\n', 70000);
        put_len(V, big, 70000);
        free(big);
        expect_error("b13.vm: is too large (at most 64 KiB)");
        snprintf(path, sizeof(path), "%s/" V, dir);
        unlink(path);

        /* the config dir is a file */
        snprintf(path, sizeof(path), "%s/vmstatd.conf", dir);
        put(D, "[daemon]\n");
        struct vs_conf c;
        char err[VS_CONF_ERR_LEN];
        ck_assert_int_eq(vs_conf_load(path, &c, err), -ENOTDIR);
        snprintf(want, sizeof(want), "%s: is not a directory", path);
        ck_assert_str_eq(err, want);
}
END_TEST

/* A vmstatd.conf that cannot be read. Root reads everything, so as root the load runs in a
 * child that gave up root for nobody (65534), as the daemon runs under systemd anyway. */
START_TEST(unreadable_file) {
        char path[512], why[VS_CONF_ERR_LEN + 64] = "";
        put(D, "[daemon]\n");
        snprintf(path, sizeof(path), "%s/" D, dir);
        ck_assert_int_eq(chmod(path, 0), 0);
        if (geteuid() != 0) {
                expect_error("vmstatd.conf: cannot be read (Permission denied)");
                return;
        }
        ck_assert_int_eq(chmod(dir, 0755), 0); /* nobody must reach the file, to be refused by it */
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = test_fork();
        if (pid == 0) { /* no Check assertions here: the parent judges what this writes */
                struct vs_conf c;
                char err[VS_CONF_ERR_LEN] = "";
                int rc = 0;
                memset(&c, 0x5a, sizeof(c));
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) {
                        snprintf(err, sizeof(err), "%s", strerror(errno));
                        rc = 2;
                } else if (vs_conf_load(dir, &c, err) == 0) {
                        rc = 1;
                } else if (c.n_vms != 0x5a5a5a5a5a5a5a5aULL) {
                        rc = 3;
                }
                ssize_t w = write(p[1], err, strlen(err));
                _exit(w < 0 ? 4 : rc);
        }
        close(p[1]);
        ssize_t n = read(p[0], why, sizeof(why) - 1);
        close(p[0]);
        why[n > 0 ? n : 0] = 0;
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st), "the unprivileged child died: status %#x", st);
        if (WEXITSTATUS(st) == 2)
                TEST_SKIP("running as root, and cannot become uid 65534 to meet an unreadable file: %s", why);
        ck_assert_msg(WEXITSTATUS(st) != 1, "loaded as uid 65534, expected \"vmstatd.conf: cannot be read\"");
        ck_assert_msg(WEXITSTATUS(st) != 3, "the failed load wrote into its output");
        ck_assert_int_eq(WEXITSTATUS(st), 0);
        ck_assert_str_eq(why, "vmstatd.conf: cannot be read (Permission denied)");
}
END_TEST

/* ---- the good ones ----------------------------------------------------------------------------- */

START_TEST(good_round_trip) {
        char text[1024], img[600];
        put(D, "# vmstatd.conf\n"
               "[daemon]\n"
               "listen = 127.0.0.1:9400\n"
               "  listen = [::1]:9400   ; indented, with a comment\n"
               "listen = :0\n"
               "listen=localhost:9401\n"
               "interval = 1.5s\n"
               "history = 100\n"
               "collectors = executor, kvm,-perf\n"
               "histograms = yes\n"
               "kvm_stats_include = halt_.*|exits\n"
               "kvm_stats_exclude = .*_hist\n"
               "log_level = debug\n"
               "control_socket = /run/x/control.sock\n"
               "console_log_dir = /var/log/vmstatd\n");
        put("vms.d/b13.vm", "[vm]\nvcpus = 2\nmemory = 256M\nguest = builtin:pio   count=1000\tport=128\n"
                            "autostart = no\nrestart = on-crash\ncpus = 0\nconsole_log = /var/log/b13.log\n");
        put("vms.d/a1.vm", "[vm]\nguest = builtin:duty duty=30 period=50 tick_us=500 count=0\n");
        snprintf(img, sizeof(img), "%s/guest.img", dir);
        put("guest.img", "image");
        snprintf(text, sizeof(text), "[vm]\nguest = flat:%s count=7 entry=main\nmemory = 16384K\nautostart = false\n", img);
        put("vms.d/flat_1.vm", text);
        put("vms.d/README", "not a VM");
        put("vms.d/b13.vm~", "an editor's backup");

        struct vs_conf c;
        load_ok(&c);
        ck_assert(!c.embedded);
        ck_assert_uint_eq(c.n_listen, 4);
        ck_assert_str_eq(c.listen[0].text, "127.0.0.1:9400");
        ck_assert_str_eq(c.listen[1].text, "[::1]:9400");
        ck_assert_str_eq(c.listen[2].text, ":0");
        ck_assert_str_eq(c.listen[3].text, "localhost:9401");
        ck_assert_uint_eq(c.listen[0].port, 9400); /* parsed once, kept typed */
        ck_assert_uint_eq(c.interval_ns, 1500000000ULL);
        ck_assert_uint_eq(c.history, 100);
        ck_assert_int_eq(c.enable[collector_index("executor")], 1);
        ck_assert_int_eq(c.enable[collector_index("kvm")], 1);
        ck_assert_int_eq(c.enable[collector_index("perf")], 0);
        ck_assert_int_eq(c.enable[collector_index("sched")], -1);
        ck_assert(c.histograms);
        ck_assert_str_eq(c.kvm_stats_include, "halt_.*|exits");
        ck_assert_str_eq(c.kvm_stats_exclude, ".*_hist");
        ck_assert_int_eq(c.log_level, LOG_DEBUG);
        ck_assert_str_eq(c.control_socket, "/run/x/control.sock");
        ck_assert_str_eq(c.console_dir, "/var/log/vmstatd");

        ck_assert_uint_eq(c.n_vms, 3); /* sorted by name */
        const struct vs_vm_conf *a1 = &c.vms[0], *b13 = &c.vms[1], *flat = &c.vms[2];
        ck_assert_str_eq(a1->name, "a1");
        ck_assert_uint_eq(a1->vcpus, 1);
        ck_assert_uint_eq(a1->memory, 64ULL << 20);
        ck_assert_str_eq(a1->guest, "builtin:duty duty=30 period=50 tick_us=500 count=0");
        ck_assert_str_eq(a1->builtin.guest, "duty");
        ck_assert_uint_eq(a1->builtin.duty_pct, 30);
        ck_assert_uint_eq(a1->builtin.period_ticks, 50);
        ck_assert_uint_eq(a1->builtin.tick_us, 500);
        ck_assert_uint_eq(a1->builtin.count, 0);
        ck_assert(a1->autostart);
        ck_assert_int_eq(a1->restart, VS_RESTART_NO);
        ck_assert_uint_eq(a1->cpus_mask, 0);
        ck_assert_str_eq(a1->console_log, "");

        ck_assert_str_eq(b13->name, "b13");
        snprintf(text, sizeof(text), "%s/vms.d/b13.vm", dir);
        ck_assert_str_eq(b13->path, text);
        ck_assert_uint_eq(b13->vcpus, 2);
        ck_assert_uint_eq(b13->memory, 256ULL << 20);
        ck_assert_str_eq(b13->guest, "builtin:pio count=1000 port=128");
        ck_assert_str_eq(b13->builtin.guest, b13->builtin_name);
        ck_assert_str_eq(b13->builtin_name, "pio");
        ck_assert_uint_eq(b13->builtin.count, 1000);
        ck_assert_uint_eq(b13->builtin.port, 128);
        ck_assert_uint_eq(b13->builtin.duty_pct, 0); /* 0 = the guest's default */
        ck_assert(!b13->autostart);
        ck_assert_int_eq(b13->restart, VS_RESTART_ON_CRASH);
        ck_assert_uint_eq(b13->cpus_mask, 1);
        ck_assert_str_eq(b13->console_log, "/var/log/b13.log");

        ck_assert_str_eq(flat->name, "flat_1");
        ck_assert_ptr_null(flat->builtin.guest);
        ck_assert_str_eq(flat->image, img);
        ck_assert_str_eq(flat->image_entry, "main");
        ck_assert_uint_eq(flat->builtin.count, 7);
        ck_assert_uint_eq(flat->memory, 16ULL << 20);
        ck_assert(!flat->autostart);

        ck_assert_ptr_eq(vs_conf_find_vm(&c, "b13"), b13);
        ck_assert_ptr_null(vs_conf_find_vm(&c, "b14"));

        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        vs_conf_print(&c, f);
        fclose(f);
        ck_assert_msg(strstr(out, "listen: 127.0.0.1:9400, [::1]:9400, :0, localhost:9401\n"), "%s", out);
        ck_assert_msg(strstr(out, "interval: 1500ms\nhistory: 100 samples\ncollectors: executor, kvm, sched, memory\n"
                                  "histograms: yes\nkvm_stats_include: halt_.*|exits\nkvm_stats_exclude: .*_hist\n"
                                  "log_level: debug\n"), "%s", out);
        ck_assert_msg(strstr(out, "\nvms: 3\n"), "%s", out);
        ck_assert_msg(strstr(out, "\na1: 1 vCPU, 64 MiB, builtin:duty duty=30 period=50 tick_us=500 count=0, autostart, restart=no\n"),
                      "%s", out);
        ck_assert_msg(strstr(out, "\nb13: 2 vCPUs, 256 MiB, builtin:pio count=1000 port=128, no autostart, restart=on-crash, "
                                  "cpus=0, console_log=/var/log/b13.log\n"), "%s", out);
        ck_assert_msg(strstr(out, "\nflat_1: 1 vCPU, 16 MiB, flat:"), "%s", out);
        free(out);
        vs_conf_free(&c);
        vs_conf_free(&c); /* idempotent */
        vs_conf_free(NULL);
}
END_TEST

START_TEST(defaults_and_cpus) {
        put(V, "[vm]\nguest = builtin:demo\n");
        struct vs_conf c;
        load_ok(&c);
        ck_assert(!c.embedded);
        ck_assert_uint_eq(c.n_listen, 1);
        ck_assert_str_eq(c.listen[0].text, "127.0.0.1:9400");
        ck_assert_uint_eq(c.interval_ns, 5000000000ULL);
        ck_assert_uint_eq(c.history, 720);
        for (size_t i = 0; i < CL_MAX_COLLECTORS; i++)
                ck_assert_int_eq(c.enable[i], -1);
        ck_assert(!c.histograms);
        ck_assert_int_eq(c.log_level, LOG_INFO);
        ck_assert_str_eq(c.control_socket, "/run/vmstatd/control.sock");
        ck_assert_str_eq(c.console_dir, "");
        ck_assert_uint_eq(c.n_vms, 1);
        ck_assert_uint_eq(c.vms[0].vcpus, 1);
        ck_assert_uint_eq(c.vms[0].memory, 64ULL << 20);
        vs_conf_free(&c);

        long n = sysconf(_SC_NPROCESSORS_CONF);
        put(V, "[vm]\nguest = builtin:demo\ncpus = 0-0,0\n");
        load_ok(&c);
        ck_assert_uint_eq(c.vms[0].cpus_mask, 1);
        vs_conf_free(&c);
        if (n >= 2) {
                put(V, "[vm]\nguest = builtin:demo\ncpus = 0-1\n");
                load_ok(&c);
                ck_assert_uint_eq(c.vms[0].cpus_mask, 3);
                vs_conf_free(&c);
        }
        if (n >= 4) {
                put(V, "[vm]\nguest = builtin:demo\ncpus = 0-1,3\n");
                load_ok(&c);
                ck_assert_uint_eq(c.vms[0].cpus_mask, 0xb);
                vs_conf_free(&c);
        }
        /* memory limits are inclusive; ':' works as inih's separator too */
        put(V, "[vm]\nguest: builtin:demo\nmemory = 3G\nvcpus = 64\n");
        load_ok(&c);
        ck_assert_uint_eq(c.vms[0].memory, 3ULL << 30);
        ck_assert_uint_eq(c.vms[0].vcpus, 64);
        vs_conf_free(&c);
        put(V, "[vm]\nguest = builtin:demo\nmemory = 8388608\n");
        load_ok(&c);
        ck_assert_uint_eq(c.vms[0].memory, 8ULL << 20);
        vs_conf_free(&c);
        /* ports as they are usually written */
        put(V, "[vm]\nguest = builtin:pio count=1000000 port=0x80\n");
        load_ok(&c);
        ck_assert_uint_eq(c.vms[0].builtin.port, 0x80);
        vs_conf_free(&c);
        put(V, "[vm]\nguest = builtin:pio port=0XfFfF\n");
        load_ok(&c);
        ck_assert_uint_eq(c.vms[0].builtin.port, 0xffff);
        vs_conf_free(&c);
}
END_TEST

static char *summary(const struct vs_conf *c) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        vs_conf_print(c, f);
        fclose(f);
        return out;
}

START_TEST(linux_guests) {
        struct vs_conf c;
        /* every key, in any order; ':' as the separator works here too */
        put("vms.d/lnx.vm", "[vm]\nvcpus = 2\ncmdline = console=ttyS0 root=/dev/vda  rw\ninitrd: /boot/initrd.img\n"
                            "cpuid_hide = xsave,cx16\nkernel = /boot/vmlinuz-6.1\nmemory = 512M\n"
                            "cmdline = quiet ; a comment\nautostart = no\n");
        /* the defaults: 256M, the default command line, no initrd, nothing hidden */
        put("vms.d/min.vm", "[vm]\nkernel = /boot/vmlinux\n");
        /* 64M is enough; one name in cpuid_hide; blanks as separators */
        put("vms.d/small.vm", "[vm]\nkernel = /vmlinux\nmemory = 64M\ncpuid_hide = cx16\n");
        put("vms.d/spaces.vm", "[vm]\nkernel = /vmlinux\ncpuid_hide =  xsave \t cx16 ,\n");
        put("vms.d/b13.vm", G);
        load_ok(&c);
        ck_assert_uint_eq(c.n_vms, 5);
        const struct vs_vm_conf *b13 = &c.vms[0], *lnx = &c.vms[1], *min = &c.vms[2], *small = &c.vms[3], *sp = &c.vms[4];
        ck_assert_str_eq(lnx->name, "lnx");
        ck_assert_str_eq(lnx->kernel, "/boot/vmlinuz-6.1");
        ck_assert_str_eq(lnx->initrd, "/boot/initrd.img");
        ck_assert_str_eq(lnx->cmdline, "console=ttyS0 root=/dev/vda  rw quiet"); /* lines joined, each verbatim */
        ck_assert_uint_eq(lnx->cpuid_hide, HV_CPUID_HIDE_CX16 | HV_CPUID_HIDE_XSAVE);
        ck_assert_uint_eq(lnx->memory, 512ULL << 20);
        ck_assert_uint_eq(lnx->vcpus, 2);
        ck_assert(!lnx->autostart);
        ck_assert_str_eq(lnx->guest, "linux:/boot/vmlinuz-6.1");
        ck_assert_str_eq(lnx->builtin_name, "");
        ck_assert_ptr_null(lnx->builtin.guest);
        ck_assert_str_eq(lnx->image, "");

        ck_assert_str_eq(min->kernel, "/boot/vmlinux");
        ck_assert_uint_eq(min->memory, 256ULL << 20);
        ck_assert_str_eq(min->initrd, "");
        ck_assert_str_eq(min->cmdline, HV_LINUX_DEFAULT_CMDLINE);
        ck_assert_uint_eq(min->cpuid_hide, 0);
        ck_assert_uint_eq(min->vcpus, 1);
        ck_assert(min->autostart);
        ck_assert_str_eq(min->guest, "linux:/boot/vmlinux");

        ck_assert_uint_eq(small->memory, 64ULL << 20);
        ck_assert_uint_eq(small->cpuid_hide, HV_CPUID_HIDE_CX16);
        ck_assert_uint_eq(sp->cpuid_hide, HV_CPUID_HIDE_CX16 | HV_CPUID_HIDE_XSAVE);

        /* builtin guests keep their defaults and no Linux fields */
        ck_assert_uint_eq(b13->memory, 64ULL << 20);
        ck_assert_str_eq(b13->kernel, "");
        ck_assert_str_eq(b13->cmdline, "");
        ck_assert_uint_eq(b13->cpuid_hide, 0);

        char *out = summary(&c);
        ck_assert_msg(strstr(out, "\nlnx: 2 vCPUs, 512 MiB, linux:/boot/vmlinuz-6.1, no autostart, restart=no\n"
                                  "  initrd: /boot/initrd.img\n  cmdline: console=ttyS0 root=/dev/vda  rw quiet\n"
                                  "  cpuid_hide: cx16, xsave\n"), "%s", out);
        ck_assert_msg(strstr(out, "\nmin: 1 vCPU, 256 MiB, linux:/boot/vmlinux, autostart, restart=no\n  initrd: none\n"
                                  "  cmdline: " HV_LINUX_DEFAULT_CMDLINE "\n  cpuid_hide: none\n"), "%s", out);
        ck_assert_msg(strstr(out, "\nb13: 1 vCPU, 64 MiB, builtin:demo, autostart, restart=no\nlnx: "), "%s", out);
        free(out);
        vs_conf_free(&c);

        /* the config does not read the kernel: it may be installed later */
        teardown();
        setup();
        put(V, "[vm]\nkernel = /nonexistent/vmlinuz\ninitrd = /nonexistent/initrd\n");
        load_ok(&c);
        ck_assert_str_eq(c.vms[0].kernel, "/nonexistent/vmlinuz");
        vs_conf_free(&c);
}
END_TEST

static void expect_embedded(void) {
        struct vs_conf c;
        char err[VS_CONF_ERR_LEN] = "";
        ck_assert_int_eq(vs_conf_load(dir, &c, err), 0);
        ck_assert(c.embedded);
        ck_assert_uint_eq(c.n_vms, 1);
        ck_assert_str_eq(c.vms[0].name, "b13");
        ck_assert_uint_eq(c.vms[0].vcpus, 2);
        ck_assert_uint_eq(c.vms[0].memory, 64ULL << 20);
        ck_assert_str_eq(c.vms[0].guest, "builtin:demo");
        ck_assert_str_eq(c.vms[0].builtin.guest, "demo");
        ck_assert_str_eq(c.vms[0].path, "");
        ck_assert(c.vms[0].autostart);
        ck_assert_uint_eq(c.n_listen, 1);
        ck_assert_str_eq(c.listen[0].text, "127.0.0.1:9400");

        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        vs_conf_print(&c, f);
        fclose(f);
        ck_assert_msg(strstr(out, "\nb13: 2 vCPUs, 64 MiB, builtin:demo, autostart, restart=no\n"), "%s", out);
        ck_assert_msg(strstr(out, "vms: 1 (the embedded default: no configuration found)\n"), "%s", out);
        free(out);
        vs_conf_free(&c);
}

START_TEST(embedded_default) {
        char missing[128];
        /* the directory does not exist */
        snprintf(missing, sizeof(missing), "%s/nonexistent", dir);
        char saved[64];
        strcpy(saved, dir);
        strcpy(dir, missing);
        expect_embedded();
        strcpy(dir, saved);
        /* it exists but holds no configuration */
        expect_embedded();
        put("vms.d/README", "no VMs here");
        expect_embedded();

        struct vs_conf c;
        vs_conf_default(&c);
        ck_assert(c.embedded);
        ck_assert_str_eq(c.vms[0].builtin.guest, c.vms[0].builtin_name);
        vs_conf_free(&c);

        /* a vmstatd.conf alone is a configuration: no VMs, not the demo */
        put(D, "[daemon]\n");
        load_ok(&c);
        ck_assert(!c.embedded);
        ck_assert_uint_eq(c.n_vms, 0);
        vs_conf_free(&c);
}
END_TEST

START_TEST(vm_equality) {
        put(V, "[vm]\nvcpus = 2\nguest = builtin:pio count=1 port=2\ncpus = 0\nconsole_log = /tmp/x.log\n");
        struct vs_conf c, d;
        load_ok(&c);
        put(V, "[vm]\nguest = builtin:pio port=2   count=1\nconsole_log = /tmp/x.log\nvcpus = 2\ncpus = 0\n");
        load_ok(&d);
        struct vs_vm_conf a = c.vms[0], b = d.vms[0];
        ck_assert(vs_vm_conf_equal(&a, &b));
        strcpy(b.path, "/elsewhere/b13.vm"); /* where it came from needs no restart */
        ck_assert(vs_vm_conf_equal(&a, &b));

#define DIFFERS(stmt)                                       \
        do {                                                \
                b = a;                                      \
                stmt;                                       \
                ck_assert_msg(!vs_vm_conf_equal(&a, &b), #stmt); \
                ck_assert_msg(!vs_vm_conf_equal(&b, &a), #stmt); \
        } while (0)
        DIFFERS(strcpy(b.name, "b14"));
        DIFFERS(b.vcpus = 3);
        DIFFERS(b.memory <<= 1);
        DIFFERS(strcpy(b.builtin_name, "mmio"));
        DIFFERS(b.builtin.count = 2);
        DIFFERS(b.builtin.port = 3);
        DIFFERS(b.builtin.mmio_addr = 0x1000);
        DIFFERS(b.builtin.duty_pct = 10);
        DIFFERS(b.builtin.period_ticks = 10);
        DIFFERS(b.builtin.tick_us = 100);
        DIFFERS(strcpy(b.image, "/x.img"));
        DIFFERS(strcpy(b.image_entry, "main"));
        DIFFERS(b.autostart = false);
        DIFFERS(b.restart = VS_RESTART_ON_CRASH);
        DIFFERS(b.cpus_mask = 2);
        DIFFERS(strcpy(b.console_log, "/tmp/y.log"));
        DIFFERS(strcpy(b.kernel, "/boot/vmlinuz"));
        DIFFERS(strcpy(b.initrd, "/boot/initrd.img"));
        DIFFERS(strcpy(b.cmdline, "console=ttyS0"));
        DIFFERS(b.cpuid_hide = HV_CPUID_HIDE_CX16);
        vs_conf_free(&c);
        vs_conf_free(&d);

        /* Linux guests, as a reload sees them: every Linux key is a restart */
        static const char *const linux_vm = "[vm]\nkernel = /boot/vmlinuz\ninitrd = /boot/initrd.img\n"
                                            "cmdline = console=ttyS0 quiet\ncpuid_hide = cx16\n";
        static const char *const changed[] = {
                "[vm]\nkernel = /boot/vmlinuz.old\ninitrd = /boot/initrd.img\ncmdline = console=ttyS0 quiet\ncpuid_hide = cx16\n",
                "[vm]\nkernel = /boot/vmlinuz\ncmdline = console=ttyS0 quiet\ncpuid_hide = cx16\n",
                "[vm]\nkernel = /boot/vmlinuz\ninitrd = /boot/initrd.img\ncmdline = console=ttyS0\ncpuid_hide = cx16\n",
                "[vm]\nkernel = /boot/vmlinuz\ninitrd = /boot/initrd.img\ncpuid_hide = cx16\n", /* the default cmdline */
                "[vm]\nkernel = /boot/vmlinuz\ninitrd = /boot/initrd.img\ncmdline = console=ttyS0 quiet\ncpuid_hide = cx16 xsave\n",
                "[vm]\nkernel = /boot/vmlinuz\ninitrd = /boot/initrd.img\ncmdline = console=ttyS0 quiet\n",
                "[vm]\nkernel = /boot/vmlinuz\ninitrd = /boot/initrd.img\ncmdline = console=ttyS0 quiet\ncpuid_hide = cx16\n"
                "memory = 512M\n",
                "[vm]\nguest = builtin:demo\nmemory = 256M\n",
        };
        put(V, linux_vm);
        load_ok(&c);
        /* the same guest written otherwise: the cmdline over two lines, keys reordered */
        put(V, "[vm]\ncpuid_hide = cx16\ncmdline = console=ttyS0\nkernel = /boot/vmlinuz\ncmdline = quiet\n"
               "initrd = /boot/initrd.img\nmemory = 256M\n");
        load_ok(&d);
        ck_assert(vs_vm_conf_equal(&c.vms[0], &d.vms[0]));
        vs_conf_free(&d);
        for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
                put(V, changed[i]);
                load_ok(&d);
                ck_assert_msg(!vs_vm_conf_equal(&c.vms[0], &d.vms[0]), "%s", changed[i]);
                ck_assert_msg(!vs_vm_conf_equal(&d.vms[0], &c.vms[0]), "%s", changed[i]);
                vs_conf_free(&d);
        }
        vs_conf_free(&c);
#undef DIFFERS
}
END_TEST

/* ---- the value parsers --------------------------------------------------------------------------- */

START_TEST(durations) {
        ck_assert_uint_eq(vs_parse_duration("5s"), 5000000000ULL);
        ck_assert_uint_eq(vs_parse_duration("5"), 5000000000ULL); /* seconds, as --interval took */
        ck_assert_uint_eq(vs_parse_duration("500ms"), 500000000ULL);
        ck_assert_uint_eq(vs_parse_duration("2m"), 120000000000ULL);
        ck_assert_uint_eq(vs_parse_duration("1h"), 3600000000000ULL);
        ck_assert_uint_eq(vs_parse_duration("250us"), 250000ULL);
        ck_assert_uint_eq(vs_parse_duration("10ns"), 10ULL);
        ck_assert_uint_eq(vs_parse_duration("1.5s"), 1500000000ULL);
        ck_assert_uint_eq(vs_parse_duration("0.1s"), 100000000ULL);
        ck_assert_uint_eq(vs_parse_duration("0.25m"), 15000000000ULL);
        ck_assert_uint_eq(vs_parse_duration("1.0000000001s"), 1000000000ULL); /* below 1 ns: dropped */
        ck_assert_uint_eq(vs_parse_duration("18446744073.709551615s"), UINT64_MAX);
        ck_assert_uint_eq(vs_parse_duration("18446744073709551615ns"), UINT64_MAX);
        const char *bad[] = { "", "s", "5x", "5 s", " 5s", "5s ", "-1s", "+1s", "1.s", ".5s", "0s", "0", "0.0000000001s",
                              "5S", "5sec", "1e3s", "18446744073.709551616s", "18446744073709551616ns",
                              "18446744074s", "99999999999999999999999h", "5124095576030432h" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_msg(vs_parse_duration(bad[i]) == 0, "'%s' parsed", bad[i]);
}
END_TEST

START_TEST(sizes) {
        ck_assert_uint_eq(vs_parse_size("4096"), 4096);
        ck_assert_uint_eq(vs_parse_size("4096K"), 4096ULL << 10);
        ck_assert_uint_eq(vs_parse_size("256M"), 256ULL << 20);
        ck_assert_uint_eq(vs_parse_size("256m"), 256ULL << 20);
        ck_assert_uint_eq(vs_parse_size("1G"), 1ULL << 30);
        ck_assert_uint_eq(vs_parse_size("2T"), 2ULL << 40);
        ck_assert_uint_eq(vs_parse_size("16777215T"), 16777215ULL << 40);
        ck_assert_uint_eq(vs_parse_size("18446744073709551615"), UINT64_MAX);
        const char *bad[] = { "", "M", "12X", "1.5G", "-1", "+1", " 1M", "1M ", "1 M", "1MB", "1MiB", "0", "0M",
                              "16777216T", "17179869184G", "18446744073709551616", "99999999999999999999999999999999K" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_msg(vs_parse_size(bad[i]) == 0, "'%s' parsed", bad[i]);
}
END_TEST

/* The runtime directory a daemon takes and vmstatctl looks in when nothing says: systemd's,
 * root's /run/vmstatd, the user's XDG runtime directory, /tmp/vmstatd-UID; and the control
 * socket follows it unless set. */
START_TEST(runtime_dir_defaults) {
        char out[128];
        const char *long_xdg = "/run/user/1000/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* 63 + /vmstatd */
        static const struct {
                unsigned uid;
                const char *runtime_directory, *xdg, *want;
        } cases[] = {
                { 0, NULL, NULL, "/run/vmstatd" },
                { 0, NULL, "/run/user/0", "/run/vmstatd" },
                { 0, "/run/vmstatd:/run/other", NULL, "/run/vmstatd" },
                { 1000, "/srv/rt", "/run/user/1000", "/srv/rt" },
                { 1000, NULL, "/run/user/1000", "/run/user/1000/vmstatd" },
                { 1000, "", "/run/user/1000", "/run/user/1000/vmstatd" },
                { 1000, "relative", "also/relative", "/tmp/vmstatd-1000" },
                { 1000, NULL, NULL, "/tmp/vmstatd-1000" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n = vs_runtime_dir_pick(cases[i].uid, cases[i].runtime_directory, cases[i].xdg,
                                               VS_RUNTIME_DIR_MAX, out, sizeof(out));
                ck_assert_msg(n == strlen(cases[i].want) && strcmp(out, cases[i].want) == 0, "case %zu: %s", i, out);
        }
        ck_assert_uint_gt(strlen(long_xdg) + 8, VS_RUNTIME_DIR_MAX); /* no room for its sockets: skipped */
        vs_runtime_dir_pick(1000, NULL, long_xdg, VS_RUNTIME_DIR_MAX, out, sizeof(out));
        ck_assert_str_eq(out, "/tmp/vmstatd-1000");

        struct vs_conf c;
        put(D, "[daemon]\nruntime_dir = /run/y\n");
        load_ok(&c);
        ck_assert_str_eq(c.control_socket, "/run/y/control.sock");
        vs_conf_free(&c);
        put(D, "[daemon]\nruntime_dir = /run/y\ncontrol_socket = /run/z/ctl.sock\n");
        load_ok(&c);
        ck_assert_str_eq(c.control_socket, "/run/z/ctl.sock");
        snprintf(c.runtime_dir, sizeof(c.runtime_dir), "/run/w"); /* as --runtime-dir does */
        vs_conf_finish(&c);
        ck_assert_str_eq(c.control_socket, "/run/z/ctl.sock");
        vs_conf_free(&c);
}
END_TEST

/* Under a world-writable parent (/tmp) a runtime directory must be this user's and closed to
 * others, or a local user could plant one and read the control socket's traffic. */
START_TEST(runtime_dir_make_refuses_planted_dirs) {
        char tmp[96], path[160];
        if (geteuid() != 0)
                TEST_SKIP("giving a directory to another user (chown) needs root");
        snprintf(tmp, sizeof(tmp), "%s/sticky", dir);
        ck_assert_int_eq(mkdir(tmp, 0700), 0);
        ck_assert_int_eq(chmod(tmp, 01777), 0);
        snprintf(path, sizeof(path), "%s/mine", tmp);
        ck_assert_int_eq(vs_runtime_dir_make(path), 0);
        struct stat st;
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0750);
        ck_assert_int_eq(vs_runtime_dir_make(path), 0); /* exists: fine */
        snprintf(path, sizeof(path), "%s/link", tmp);
        ck_assert_int_eq(symlink(dir, path), 0);
        ck_assert_int_eq(vs_runtime_dir_make(path), -ENOTDIR);
        snprintf(path, sizeof(path), "%s/theirs", tmp);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(chown(path, 65534, 65534), 0);
        ck_assert_int_eq(vs_runtime_dir_make(path), -EPERM);
        snprintf(path, sizeof(path), "%s/open", tmp);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(chmod(path, 0777), 0);
        ck_assert_int_eq(vs_runtime_dir_make(path), -EPERM);
        /* a parent only its owner writes (/run): a directory of the service's user is fine */
        snprintf(path, sizeof(path), "%s/service", dir);
        ck_assert_int_eq(mkdir(path, 0750), 0);
        ck_assert_int_eq(chown(path, 65534, 65534), 0);
        ck_assert_int_eq(vs_runtime_dir_make(path), 0);
        snprintf(path, sizeof(path), "%s/no/such", dir);
        ck_assert_int_eq(vs_runtime_dir_make(path), -ENOENT);
}
END_TEST

int main(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("config");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, bad_configs, 0, (int) (sizeof(bad) / sizeof(bad[0])));
        tcase_add_test(tc, bad_generated);
        tcase_add_test(tc, bad_files);
        tcase_add_test(tc, unreadable_file);
        tcase_add_test(tc, good_round_trip);
        tcase_add_test(tc, defaults_and_cpus);
        tcase_add_test(tc, runtime_dir_defaults);
        tcase_add_test(tc, runtime_dir_make_refuses_planted_dirs);
        tcase_add_test(tc, linux_guests);
        tcase_add_test(tc, embedded_default);
        tcase_add_test(tc, vm_equality);
        tcase_add_test(tc, durations);
        tcase_add_test(tc, sizes);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
