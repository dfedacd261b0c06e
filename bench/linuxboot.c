/* linuxboot: how far, and how fast, a real Linux kernel (Debian's cloud kernel, built by
 * scripts/linux-guest.sh into build/linux) boots under hv on this host.
 *   reach      the ELF vmlinux, 1 vCPU, 128 MiB, with the initramfs, three ways: nothing
 *              hidden; cmpxchg16b hidden from CPUID; that plus `noxsave`. Each runs until the VM
 *              ends or [seconds] pass, and its row says where the kernel got to: the last
 *              console line, the paravirt banner and the guest's VMSTATD-GUEST-UP (with wall
 *              times), and for a crash the RIP and the instruction bytes there.
 *   userspace  wall time from start (VM creation / QEMU spawn) to VMSTATD-GUEST-UP on the
 *              console: hv with the bzImage and with the ELF vmlinux against QEMU with the
 *              bzImage, 2 vCPUs and 128 MiB each, median of REPS runs, ratio hv/qemu.
 * Nested KVM on a PVM host emulates guest CPL0 code and fails on some instructions: parts
 * that cannot finish say "unavailable: why" and the program still exits 0.
 *   linuxboot [seconds]   (reach bound per variant, default 120: every variant ends by ~75 s on
 *   nested KVM on PVM, and a native host reaches userspace in well under a second) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arg.h"
#include "boot/boot.h"
#include "qemu.h"
#include "devices/devices.h"
#include "kvm.h"
#include "vcpu.h"
#include "vm.h"

#define DEFAULT_SECONDS 120
#define MAX_SECONDS 3600
#define UP_BOUND_S 60 /* userspace: each run must reach the marker within this */
#define REPS 3
#define RAM_BYTES (128ull << 20)
#define WHY_LEN (PATH_MAX + 512)
#define LINE_LEN 512
#define TEXT_COLS 70

#define MARK_PV "Booting paravirtualized kernel on KVM"
#define MARK_UP "VMSTATD-GUEST-UP"
#define REACH_CMDLINE "console=ttyS0 earlyprintk=serial,ttyS0 reboot=k panic=1 pci=off nokaslr"
#define QEMU_CMDLINE "console=ttyS0 reboot=k panic=1 pci=off"

struct assets {
        char vmlinuz[PATH_MAX], vmlinux[PATH_MAX], initrd[PATH_MAX];
};

/* ---- console scanning: lines, markers, the last line ------------------------------------------ */

/* Assembles console bytes into lines (escape sequences and control characters dropped), notes
 * when each marker was first seen and keeps the last non-empty line. */
struct scan {
        char line[LINE_LEN];
        size_t len;
        char last[LINE_LEN];
        int esc;       /* 0 text, 1 after ESC, 2 inside ESC [ ... */
        double pv_s;   /* wall seconds when MARK_PV was seen, < 0 if not */
        double up_s;   /* same for MARK_UP */
};

static void scan_init(struct scan *s) {
        *s = (struct scan) { .pv_s = -1, .up_s = -1 };
}

static void scan_marks(struct scan *s, double now_s) {
        if (s->pv_s < 0 && strstr(s->line, MARK_PV))
                s->pv_s = now_s;
        if (s->up_s < 0 && strstr(s->line, MARK_UP))
                s->up_s = now_s;
}

static void scan_end_line(struct scan *s, double now_s) {
        scan_marks(s, now_s);
        if (s->len)
                memcpy(s->last, s->line, s->len + 1);
        s->len = 0;
        s->line[0] = 0;
}

/* False for bytes that belong to a terminal escape sequence (QEMU's SeaBIOS clears the screen). */
static bool scan_printable(struct scan *s, unsigned char c) {
        if (s->esc == 1) {
                s->esc = c == '[' ? 2 : 0;
                return false;
        }
        if (s->esc == 2) {
                if (c >= 0x40 && c <= 0x7e)
                        s->esc = 0;
                return false;
        }
        if (c == 0x1b) {
                s->esc = 1;
                return false;
        }
        return c >= 0x20 && c != 0x7f;
}

static void scan_feed(struct scan *s, const char *buf, size_t n, double now_s) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) buf[i];
                if (c == '\n' || s->len == LINE_LEN - 1) {
                        scan_end_line(s, now_s);
                        if (c == '\n')
                                continue;
                }
                if (!scan_printable(s, c))
                        continue;
                s->line[s->len++] = (char) c;
                s->line[s->len] = 0;
        }
        scan_marks(s, now_s); /* a marker in a line not finished yet */
}

/* The last non-empty line, the unfinished one included. */
static const char *scan_last(const struct scan *s) {
        return s->len ? s->line : s->last;
}

/* Splits "[   12.345678] text" into the timestamp ("12.345678") and the text. */
static void split_timestamp(const char *line, char *ts, size_t ts_len, const char **text) {
        const char *close = line[0] == '[' ? strchr(line, ']') : NULL;
        ts[0] = 0;
        *text = line;
        if (!close)
                return;
        const char *p = line + 1;
        while (*p == ' ')
                p++;
        if (p == close || strspn(p, "0123456789.") != (size_t) (close - p))
                return;
        snprintf(ts, ts_len, "%.*s", (int) (close - p), p);
        *text = close[1] == ' ' ? close + 2 : close + 1;
}

/* "kernel 12.345678 s: text" or "(no timestamp): text", the text cut at TEXT_COLS. */
static void describe_last(const struct scan *s, char *buf, size_t len) {
        const char *line = scan_last(s), *text;
        char ts[32];
        if (!line[0]) {
                snprintf(buf, len, "(no console output)");
                return;
        }
        split_timestamp(line, ts, sizeof(ts), &text);
        int cut = (int) strlen(text) > TEXT_COLS ? TEXT_COLS - 3 : TEXT_COLS;
        snprintf(buf, len, "%s%s%s\"%.*s%s\"", ts[0] ? "kernel " : "(no timestamp)", ts, ts[0] ? " s: " : ": ", cut,
                 text, cut < TEXT_COLS ? "..." : "");
}

/* ---- hv: one boot, watched through the console ring -------------------------------------------- */

struct hv_boot_cfg {
        const char *kernel, *initrd, *cmdline;
        unsigned hide, vcpus;
        int bound_s;
        int poll_ms;
        bool stop_at_up; /* end the run as soon as MARK_UP shows */
};

struct hv_boot_result {
        int err;             /* < 0: the VM could not be set up (why says why) */
        bool ended;          /* the VM stopped or crashed by itself */
        double ended_s;      /* wall seconds from VM creation until it ended */
        struct hv_vm_outcome o;
        struct scan scan;
        char why[WHY_LEN];
};

static double since_s(uint64_t t0) {
        return (double) (hv_now_ns() - t0) / 1e9;
}

static int hv_boot_new(struct hv_kvm *kvm, const struct hv_boot_cfg *c, struct hv_vm **ret, char *why) {
        struct hv_vm_config cfg = { .name = "linuxboot", .vcpus = c->vcpus, .ram_bytes = RAM_BYTES };
        struct hv_linux l = { .kernel = c->kernel, .initrd = c->initrd, .cmdline = c->cmdline, .cpuid_hide = c->hide };
        char boot_why[HV_WHY_LEN];
        struct hv_vm *vm;
        int r;

        if ((r = hv_vm_create(kvm, &cfg, &vm)) < 0) {
                snprintf(why, WHY_LEN, "creating the VM: %s", strerror(-r));
                return r;
        }
        if ((r = hv_boot_linux(vm, &l, boot_why)) < 0) {
                snprintf(why, WHY_LEN, "loading the kernel: %s (%s)", boot_why, strerror(-r));
                hv_vm_destroy(vm);
                return r;
        }
        *ret = vm;
        return 0;
}

static void hv_drain_console(struct hv_vm *vm, uint64_t *pos, struct scan *s, double now_s) {
        char buf[16384];
        size_t n;
        while ((n = hv_console_read(vm->console, pos, buf, sizeof(buf))) > 0)
                scan_feed(s, buf, n, now_s);
}

/* Feeds the console to the scanner until the VM ends, the marker shows (if asked) or the bound. */
static void hv_watch(struct hv_vm *vm, const struct hv_boot_cfg *c, uint64_t t0, struct hv_boot_result *res) {
        struct timespec nap = { .tv_nsec = (long) c->poll_ms * 1000000L };
        uint64_t pos = 0;

        for (;;) {
                bool running = hv_vm_state(vm) == HV_VM_RUNNING;
                double now = since_s(t0);
                hv_drain_console(vm, &pos, &res->scan, now);
                if (!running) {
                        res->ended = true;
                        res->ended_s = now;
                        return;
                }
                if ((c->stop_at_up && res->scan.up_s >= 0) || now >= c->bound_s)
                        return;
                nanosleep(&nap, NULL);
        }
}

static void hv_boot_run(struct hv_kvm *kvm, const struct hv_boot_cfg *c, struct hv_boot_result *res) {
        struct hv_vm *vm;

        *res = (struct hv_boot_result) { .ended_s = -1 };
        scan_init(&res->scan);
        uint64_t t0 = hv_now_ns();
        if ((res->err = hv_boot_new(kvm, c, &vm, res->why)) < 0)
                return;
        if ((res->err = hv_vm_start(vm)) < 0) {
                snprintf(res->why, WHY_LEN, "starting the VM: %s", strerror(-res->err));
                hv_vm_destroy(vm);
                return;
        }
        hv_watch(vm, c, t0, res);
        hv_vm_stop(vm);
        hv_vm_get_outcome(vm, &res->o);
        hv_vm_destroy(vm);
}

/* "crashed/internal_error (emulation)", "stopped/reboot", ... */
static void describe_outcome(const struct hv_vm_outcome *o, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s/%s", hv_vm_state_name(o->state), hv_vm_reason_name(o->reason));
        if (o->reason == HV_REASON_INTERNAL_ERROR && o->detail == KVM_INTERNAL_ERROR_EMULATION)
                snprintf(buf + n, len - (size_t) n, " (emulation)");
        else if (o->state == HV_VM_CRASHED)
                snprintf(buf + n, len - (size_t) n, " (detail %" PRIu64 ")", o->detail);
}

/* The line of the register dump starting with prefix, without its newline; "" if none. */
static void regs_line(const char *regs, const char *prefix, char *buf, size_t len) {
        size_t plen = strlen(prefix);
        buf[0] = 0;
        for (const char *p = regs; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, prefix, plen) == 0) {
                        snprintf(buf, len, "%.*s", (int) strcspn(p, "\n"), p);
                        return;
                }
}

/* ---- part 1: reach ----------------------------------------------------------------------------- */

struct reach_variant {
        const char *label;
        unsigned hide;
        const char *cmdline;
};

static void print_seen(const char *name, double s) {
        if (s >= 0)
                printf("  %s at %.1f s", name, s);
        else
                printf("  %s no", name);
}

static void print_reach_row(const struct reach_variant *v, const struct hv_boot_result *r) {
        char outcome[96], last[160], line[160];

        if (r->err < 0) {
                printf("  %-22s unavailable: %s\n", v->label, r->why);
                return;
        }
        describe_outcome(&r->o, outcome, sizeof(outcome));
        if (r->ended)
                printf("  %-22s ended at %6.1f s  %s\n", v->label, r->ended_s, outcome);
        else
                printf("  %-22s still running at the bound (then stopped)\n", v->label);
        printf("      seen:");
        print_seen("paravirt banner", r->scan.pv_s);
        print_seen(MARK_UP, r->scan.up_s);
        describe_last(&r->scan, last, sizeof(last));
        printf("\n      last line: %s\n", last);
        if (!r->ended || r->o.state != HV_VM_CRASHED)
                return;
        regs_line(r->o.regs, "rip=", line, sizeof(line));
        printf("      %s\n", line[0] ? line : "(no rip in the register dump)");
        regs_line(r->o.regs, "insn=", line, sizeof(line));
        if (line[0])
                printf("      %s\n", line);
}

static void part_reach(struct hv_kvm *kvm, const struct assets *a, int seconds) {
        const struct reach_variant vs[] = {
                { "(a) nothing hidden", 0, REACH_CMDLINE },
                { "(b) cx16 hidden", HV_CPUID_HIDE_CX16, REACH_CMDLINE },
                { "(c) cx16 + noxsave", HV_CPUID_HIDE_CX16, REACH_CMDLINE " noxsave" },
        };

        printf("\nreach: vmlinux (ELF) + initramfs, 1 vCPU, 128 MiB, until the VM ends or %d s; one after another\n",
               seconds);
        printf("  cmdline \"%s\" (+ noxsave for c)\n", REACH_CMDLINE);
        for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
                struct hv_boot_cfg c = {
                        .kernel = a->vmlinux, .initrd = a->initrd, .cmdline = vs[i].cmdline, .hide = vs[i].hide,
                        .vcpus = 1, .bound_s = seconds, .poll_ms = 50,
                };
                struct hv_boot_result r;
                hv_boot_run(kvm, &c, &r);
                print_reach_row(&vs[i], &r);
        }
}

/* ---- part 2: userspace, hv side ---------------------------------------------------------------- */

/* One side of the comparison: its runs, or why it has none. */
struct side {
        const char *label;
        double s[REPS];
        int n;
        bool failed;
        char why[WHY_LEN];
};

/* Why an hv run did not reach the marker. */
static void hv_up_failure(const struct hv_boot_result *r, char *why) {
        char outcome[96], last[160], insn[80];
        if (r->err < 0) {
                snprintf(why, WHY_LEN, "%s", r->why);
                return;
        }
        describe_last(&r->scan, last, sizeof(last));
        if (!r->ended) {
                snprintf(why, WHY_LEN, "no %s within %d s; last line %s", MARK_UP, UP_BOUND_S, last);
                return;
        }
        describe_outcome(&r->o, outcome, sizeof(outcome));
        regs_line(r->o.regs, "insn=", insn, sizeof(insn));
        snprintf(why, WHY_LEN, "the VM ended %s after %.1f s, before %s%s%.32s%s; last line %s", outcome, r->ended_s,
                 MARK_UP, insn[0] ? " (" : "", insn, insn[0] ? "...)" : "", last);
}

static void hv_up_once(struct hv_kvm *kvm, const char *kernel, const char *initrd, struct side *sd) {
        struct hv_boot_cfg c = {
                .kernel = kernel, .initrd = initrd, .cmdline = NULL, .vcpus = 2, .bound_s = UP_BOUND_S,
                .poll_ms = 2, .stop_at_up = true,
        };
        struct hv_boot_result r;

        hv_boot_run(kvm, &c, &r);
        if (r.err == 0 && r.scan.up_s >= 0) {
                sd->s[sd->n++] = r.scan.up_s;
                return;
        }
        sd->failed = true;
        hv_up_failure(&r, sd->why);
}

/* ---- part 2: userspace, QEMU side -------------------------------------------------------------- */

static int qemu_spawn_kernel(const struct assets *a, int out_fd, int err_fd, pid_t *ret_pid) {
        char *const argv[] = {
                QEMU, "-enable-kvm", "-cpu", "host,-arch-capabilities", "-nodefaults", "-smp", "2", "-m", "128",
                "-kernel", (char *) a->vmlinuz, "-initrd", (char *) a->initrd, "-append", QEMU_CMDLINE,
                "-nographic", "-no-reboot", "-serial", "stdio", "-monitor", "none", NULL,
        };
        return qemu_spawn(argv, out_fd, err_fd, ret_pid);
}

/* Reads fd into the scanner until the marker, EOF, or the bound; true at EOF (QEMU exited). */
static bool qemu_watch(int fd, uint64_t t0, struct scan *s) {
        char buf[4096];
        for (;;) {
                double left_ms = UP_BOUND_S * 1000.0 - since_s(t0) * 1000.0;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (left_ms <= 0)
                        return false;
                int n = poll(&p, 1, (int) left_ms + 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                ssize_t k = read(fd, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return true;
                scan_feed(s, buf, (size_t) k, since_s(t0));
                if (s->up_s >= 0)
                        return false;
        }
}

static void kill_and_reap(pid_t pid, int *status) {
        kill(pid, SIGKILL);
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
}

static void qemu_up_failure(bool exited, int status, int err_fd, const struct scan *s, char *why) {
        char last[160], msg[256];
        describe_last(s, last, sizeof(last));
        if (!exited) {
                snprintf(why, WHY_LEN, "no %s within %d s; last output %s", MARK_UP, UP_BOUND_S, last);
                return;
        }
        qemu_first_line(err_fd, msg, sizeof(msg), "nothing on stderr");
        snprintf(why, WHY_LEN, "%s exited (%s %d) before %s: %s; last output %s", QEMU,
                 WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                 MARK_UP, msg, last);
}

static void spawn_failure(int r, char *why) {
        if (r == -ENOENT)
                snprintf(why, WHY_LEN, "%s not found in PATH (scripts/deps.sh bench, or apt-get install qemu-system-x86)",
                         QEMU);
        else
                snprintf(why, WHY_LEN, "starting %s: %s", QEMU, strerror(-r));
}

static void qemu_up_once(const struct assets *a, struct side *sd) {
        int pipefd[2], err_fd = memfd_create("qemu-stderr", MFD_CLOEXEC), status = 0, r;
        struct scan s;
        pid_t pid;

        scan_init(&s);
        if (err_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
                snprintf(sd->why, WHY_LEN, "pipe/memfd: %s", strerror(errno));
                sd->failed = true;
                if (err_fd >= 0)
                        close(err_fd);
                return;
        }
        uint64_t t0 = hv_now_ns();
        r = qemu_spawn_kernel(a, pipefd[1], err_fd, &pid);
        close(pipefd[1]);
        if (r < 0)
                spawn_failure(r, sd->why);
        else {
                bool exited = qemu_watch(pipefd[0], t0, &s);
                kill_and_reap(pid, &status);
                if (s.up_s >= 0)
                        sd->s[sd->n++] = s.up_s;
                else
                        qemu_up_failure(exited, status, err_fd, &s, sd->why);
        }
        sd->failed = s.up_s < 0;
        close(pipefd[0]);
        close(err_fd);
}

/* ---- part 2: report ---------------------------------------------------------------------------- */

static double side_median(const struct side *sd) {
        double v[REPS];
        memcpy(v, sd->s, sizeof(v));
        for (int i = 1; i < sd->n; i++)
                for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
                        double t = v[j];
                        v[j] = v[j - 1];
                        v[j - 1] = t;
                }
        return v[sd->n / 2];
}

static void print_side(const struct side *sd) {
        if (sd->failed) {
                printf("  %-14s unavailable: %s\n", sd->label, sd->why);
                return;
        }
        printf("  %-14s %8.3f s   runs:", sd->label, side_median(sd));
        for (int i = 0; i < sd->n; i++)
                printf(" %.3f", sd->s[i]);
        printf("\n");
}

static void print_ratio(const struct side *hv, const struct side *qemu) {
        if (hv->failed || qemu->failed) {
                printf("  ratio %s/qemu: n/a\n", hv->label);
                return;
        }
        printf("  ratio %s/qemu: %.3f\n", hv->label, side_median(hv) / side_median(qemu));
}

static void part_userspace(struct hv_kvm *kvm, const struct assets *a) {
        struct side bz = { .label = "hv vmlinuz" }, elf = { .label = "hv vmlinux" }, q = { .label = "qemu vmlinuz" };

        printf("\nuserspace: wall time from start (hv: VM creation + kernel load; qemu: spawn) to %s;\n", MARK_UP);
        printf("  2 vCPUs, 128 MiB, initramfs; hv: its default cmdline; qemu: -cpu host,-arch-capabilities\n");
        printf("  (this QEMU aborts setting MSR 0x10a here otherwise) -nodefaults (no NIC option ROM) -append\n");
        printf("  \"%s\"\n", QEMU_CMDLINE);
        printf("  median of %d interleaved runs; each must reach the marker within %d s (a side stops at its "
               "first miss)\n", REPS, UP_BOUND_S);
        for (int i = 0; i < REPS; i++) {
                if (!bz.failed)
                        hv_up_once(kvm, a->vmlinuz, a->initrd, &bz);
                if (!elf.failed)
                        hv_up_once(kvm, a->vmlinux, a->initrd, &elf);
                if (!q.failed)
                        qemu_up_once(a, &q);
        }
        print_side(&bz);
        print_side(&elf);
        print_side(&q);
        print_ratio(&bz, &q);
        print_ratio(&elf, &q);
        if (q.failed && bz.failed && elf.failed)
                printf("  comparison: could not be made on this host: neither hv nor qemu reached userspace\n");
        else if (q.failed || (bz.failed && elf.failed))
                printf("  comparison: could not be made on this host: %s did not reach userspace\n",
                       q.failed ? "qemu" : "hv");
}

/* ---- main -------------------------------------------------------------------------------------- */

/* build/linux, next to this program's build/bench. */
static int find_assets(struct assets *a, char *why) {
        char exe[PATH_MAX], dir[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0) {
                int r = -errno;
                snprintf(why, WHY_LEN, "readlink /proc/self/exe: %s", strerror(-r));
                return r;
        }
        exe[n] = 0;
        snprintf(dir, sizeof(dir), "%s/../linux", dirname(exe));
        char *const paths[] = { a->vmlinuz, a->vmlinux, a->initrd };
        const char *names[] = { "vmlinuz", "vmlinux", "initramfs.cpio.gz" };
        for (int i = 0; i < 3; i++) {
                if ((size_t) snprintf(paths[i], PATH_MAX, "%s/%s", dir, names[i]) >= PATH_MAX)
                        return -ENAMETOOLONG;
                if (access(paths[i], R_OK) < 0) {
                        int r = -errno;
                        snprintf(why, WHY_LEN, "%s: %s (run make linux-guest)", paths[i], strerror(-r));
                        return r;
                }
        }
        return 0;
}

static void print_header(int seconds) {
        printf("linuxboot: a Linux guest (Debian cloud kernel, busybox initramfs) under hv on this host (%ld CPUs)\n",
               sysconf(_SC_NPROCESSORS_ONLN));
        printf("  reach: how far the ELF vmlinux gets in %d s with CPU features hidden step by step\n", seconds);
        printf("  userspace: seconds to %s, hv (bzImage and ELF) vs qemu (bzImage); ratio hv/qemu\n", MARK_UP);
}

int main(int argc, char **argv) {
        char why[WHY_LEN], kvm_why[HV_WHY_LEN];
        struct hv_kvm *kvm;
        struct assets a;
        unsigned long long seconds;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (arg_number(argc, argv, DEFAULT_SECONDS, MAX_SECONDS, &seconds) < 0) {
                fprintf(stderr, "usage: linuxboot [seconds]   (reach bound per variant, 1..%d, default %d)\n",
                        MAX_SECONDS, DEFAULT_SECONDS);
                return 2;
        }
        if (find_assets(&a, why) < 0) {
                fprintf(stderr, "linuxboot: %s\n", why);
                return 1;
        }
        if ((r = hv_kvm_open(NULL, &kvm, kvm_why)) < 0) {
                fprintf(stderr, "linuxboot: %s\n", kvm_why);
                return 1;
        }
        print_header((int) seconds);
        part_reach(kvm, &a, (int) seconds);
        part_userspace(kvm, &a);
        hv_kvm_free(kvm);
        return 0;
}
