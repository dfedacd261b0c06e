/* exitpath: nanoseconds per userspace PIO exit, three ways over the same ring-3 loop (N byte
 * OUTs to the POST port, then one write to the exit port):
 *   hv    builtin:pio on the hv executor (vCPU thread, exit dispatch, device bus, counters)
 *   worker  hv in a forked process under vmstatd-vm's seccomp allowlist, as a worker runs it
 *   raw   the same VM driven by a bare KVM_RUN loop in this thread: the floor for hv
 *   qemu  qemu-system-x86_64 -bios qemu-bios.bin (bench/qemu-bios.S), boot time cancelled by
 *         subtracting a run with zero OUTs
 * Each is measured REPS times, alternating (hv raw qemu, raw hv qemu, ...), and the median run
 * is reported.
 *   exitpath [N]   (default 200000) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arg.h"
#include "boot/boot.h"
#include "qemu.h"
#include "boot/layout.h"
#include "kvm.h"
#include "sandbox.h"
#include "vcpu.h"
#include "vm.h"

#define DEFAULT_COUNT 200000
#define MAX_COUNT 1000000000ull
#define REPS 3
#define TARGET_RATIO 1.02
#define WHY_LEN (PATH_MAX + 512) /* a path and a sentence */

/* The header of bench/qemu-bios.S */
#define BIOS_NAME "qemu-bios.bin"
#define BIOS_SIZE 0x10000
#define BIOS_MAGIC "!HVQBIO1"
#define BIOS_COUNT_OFF 8
#define BIOS_EXIT_CODE_OFF 16

struct result {
        uint64_t exits;
        uint64_t ns;
        uint64_t handle_ns; /* hv: time spent handling exits in userspace */
        uint64_t runs;      /* hv: KVM_RUN calls */
        uint64_t boot_ns;   /* qemu: the zero-OUT run that was subtracted */
};

struct bench {
        struct hv_kvm *kvm;
        uint64_t count;
        char bios[2][PATH_MAX]; /* patched copies: [0] zero OUTs, [1] count OUTs */
        uint32_t bios_exit_code;
        char why[WHY_LEN];
};

static int timeout_ms(uint64_t count) {
        /* generous: 100 us per exit on top of a minute */
        uint64_t ms = 60000 + count / 10;
        return ms < INT_MAX ? (int) ms : INT_MAX;
}

static double ns_per_exit(const struct result *r) {
        return r->exits ? (double) r->ns / (double) r->exits : 0;
}

/* ---- hv and raw: the builtin:pio guest ------------------------------------------------------ */

static int vm_pio_new(struct hv_kvm *kvm, uint64_t count, struct hv_vm **ret) {
        struct hv_vm_config cfg = { .name = "exitpath", .vcpus = 1, .ram_bytes = HV_MIN_RAM };
        struct hv_vm *vm;
        int r;

        if ((r = hv_vm_create(kvm, &cfg, &vm)) < 0)
                return r;
        if ((r = hv_boot_builtin(vm, &(struct hv_builtin) { .guest = "pio", .count = count })) < 0) {
                hv_vm_destroy(vm);
                return r;
        }
        *ret = vm;
        return 0;
}

/* Checks that the guest did what builtin:pio promises: count OUTs, one exit-port write of 0. */
static int hv_check(const struct hv_vm_outcome *o, const struct hv_counters *c, uint64_t count, char *why) {
        if (o->reason != HV_REASON_EXIT_CODE || o->exit_code != 0) {
                snprintf(why, WHY_LEN, "the guest ended %s (%s, exit code %" PRId64 ")", hv_vm_state_name(o->state),
                         hv_vm_reason_name(o->reason), o->exit_code);
                return -EPROTO;
        }
        if (c->exits[HV_EXIT_IO_OUT] != count + 1) {
                snprintf(why, WHY_LEN, "%" PRIu64 " io_out exits, expected %" PRIu64,
                         c->exits[HV_EXIT_IO_OUT], count + 1);
                return -EPROTO;
        }
        return 0;
}

static int measure_hv(struct bench *b, struct result *ret) {
        struct hv_vm_outcome o;
        struct hv_counters c;
        struct hv_vm *vm;
        int r;

        if ((r = vm_pio_new(b->kvm, b->count, &vm)) < 0) {
                snprintf(b->why, WHY_LEN, "creating the VM: %s", strerror(-r));
                return r;
        }
        uint64_t t0 = hv_now_ns();
        if ((r = hv_vm_start(vm)) == 0)
                r = hv_vm_wait(vm, timeout_ms(b->count));
        uint64_t t1 = hv_now_ns();
        if (r < 0)
                snprintf(b->why, WHY_LEN, "running the VM: %s", strerror(-r));
        else {
                hv_vm_get_outcome(vm, &o);
                hv_vcpu_read_counters(vm->vcpus[0], &c);
                r = hv_check(&o, &c, b->count, b->why);
        }
        hv_vm_destroy(vm);
        if (r < 0)
                return r;
        *ret = (struct result) {
                .exits = hv_counters_exits_total(&c), .ns = t1 - t0, .handle_ns = c.handle_ns_sum, .runs = c.runs,
        };
        return 0;
}

/* The least a VMM can do: KVM_RUN until the guest writes the exit port. Every return of
 * KVM_RUN is counted, the exit-port write included, as hv counts it. */
static int raw_run(struct hv_vcpu *v, uint64_t *ret_exits) {
        struct kvm_run *run = v->run;
        uint64_t exits = 0;

        for (;;) {
                if (ioctl(v->fd, KVM_RUN, 0) < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                exits++;
                if (run->exit_reason != KVM_EXIT_IO)
                        return -EPROTO;
                if (run->io.port == HV_PORT_EXIT)
                        break;
        }
        *ret_exits = exits;
        return 0;
}

static int measure_raw(struct bench *b, struct result *ret) {
        struct hv_vm *vm;
        uint64_t exits = 0;
        int r;

        if ((r = vm_pio_new(b->kvm, b->count, &vm)) < 0) {
                snprintf(b->why, WHY_LEN, "creating the VM: %s", strerror(-r));
                return r;
        }
        uint64_t t0 = hv_now_ns();
        r = raw_run(vm->vcpus[0], &exits);
        uint64_t t1 = hv_now_ns();
        if (r == -EPROTO)
                snprintf(b->why, WHY_LEN, "unexpected exit reason %u", vm->vcpus[0]->run->exit_reason);
        else if (r < 0)
                snprintf(b->why, WHY_LEN, "KVM_RUN: %s", strerror(-r));
        else if (exits != b->count + 1) {
                snprintf(b->why, WHY_LEN, "%" PRIu64 " exits, expected %" PRIu64, exits, b->count + 1);
                r = -EPROTO;
        }
        hv_vm_destroy(vm);
        if (r < 0)
                return r;
        *ret = (struct result) { .exits = exits, .ns = t1 - t0 };
        return 0;
}

/* ---- qemu: the BIOS image and its runs -------------------------------------------------------- */

/* The BIOS is built next to this program. */
static int bios_source_path(char *buf, size_t len) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
                return -errno;
        exe[n] = 0;
        if ((size_t) snprintf(buf, len, "%s/%s", dirname(exe), BIOS_NAME) >= len)
                return -ENAMETOOLONG;
        return 0;
}

static int bios_read(const char *path, uint8_t image[BIOS_SIZE], char *why) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        int r = 0;

        if (fd < 0) {
                r = -errno;
                snprintf(why, WHY_LEN, "%s: %s (make builds it next to exitpath)", path, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0 || st.st_size != BIOS_SIZE || read(fd, image, BIOS_SIZE) != BIOS_SIZE ||
            memcmp(image, BIOS_MAGIC, strlen(BIOS_MAGIC)) != 0) {
                snprintf(why, WHY_LEN, "%s: not a %d-byte image starting with %s", path, BIOS_SIZE, BIOS_MAGIC);
                r = -EINVAL;
        }
        close(fd);
        return r;
}

/* Writes image with its OUT count patched to a new temporary file named in ret_path. */
static int bios_write_copy(uint8_t image[BIOS_SIZE], uint64_t count, char ret_path[PATH_MAX], char *why) {
        const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char path[PATH_MAX];
        int r = 0;

        if ((size_t) snprintf(path, sizeof(path), "%s/exitpath-bios-XXXXXX", dir) >= sizeof(path)) {
                snprintf(why, WHY_LEN, "TMPDIR is too long a path");
                return -ENAMETOOLONG;
        }
        int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                snprintf(why, WHY_LEN, "%s: %s", path, strerror(-r));
                return r;
        }
        memcpy(image + BIOS_COUNT_OFF, &count, sizeof(count));
        if (write(fd, image, BIOS_SIZE) != BIOS_SIZE) {
                r = errno ? -errno : -EIO;
                snprintf(why, WHY_LEN, "writing %s: %s", path, strerror(-r));
                unlink(path);
        }
        close(fd);
        if (r == 0)
                memcpy(ret_path, path, sizeof(path));
        return r;
}

static void bios_remove_copies(struct bench *b) {
        for (int i = 0; i < 2; i++)
                if (b->bios[i][0]) {
                        unlink(b->bios[i]);
                        b->bios[i][0] = 0;
                }
}

static int bios_prepare(struct bench *b) {
        uint8_t image[BIOS_SIZE];
        char src[PATH_MAX];
        int r;

        if ((r = bios_source_path(src, sizeof(src))) < 0) {
                snprintf(b->why, WHY_LEN, "locating %s: %s", BIOS_NAME, strerror(-r));
                return r;
        }
        if ((r = bios_read(src, image, b->why)) < 0)
                return r;
        memcpy(&b->bios_exit_code, image + BIOS_EXIT_CODE_OFF, sizeof(b->bios_exit_code));
        if ((r = bios_write_copy(image, 0, b->bios[0], b->why)) < 0 ||
            (r = bios_write_copy(image, b->count, b->bios[1], b->why)) < 0)
                bios_remove_copies(b);
        return r;
}

static int qemu_spawn_bios(const char *bios, int err_fd, pid_t *ret_pid) {
        char device[64];
        snprintf(device, sizeof(device), "isa-debug-exit,iobase=%#x,iosize=4", HV_PORT_EXIT);
        char *const argv[] = {
                QEMU, "-enable-kvm", "-cpu", "host,-arch-capabilities", "-nodefaults", "-display", "none",
                "-m", "16", "-no-reboot", "-bios", (char *) bios, "-device", device, NULL,
        };
        return qemu_spawn(argv, -1, err_fd, ret_pid);
}

/* Waits for pid up to timeout_ms, killing it past that; -ETIMEDOUT then. */
static int wait_child(pid_t pid, int timeout_ms, int *ret_status) {
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int r = 0;

        if (pidfd >= 0) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                int n;
                while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
                        ;
                if (n == 0) {
                        kill(pid, SIGKILL);
                        r = -ETIMEDOUT;
                }
                close(pidfd);
        }
        while (waitpid(pid, ret_status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return r;
}

/* Runs QEMU on one BIOS copy; ret_ns is the wall time from spawn to exit. */
static int qemu_run(struct bench *b, const char *bios, int timeout, uint64_t *ret_ns) {
        int expected = (int) ((b->bios_exit_code << 1 | 1) & 0xff); /* isa-debug-exit's formula */
        int err_fd = memfd_create("qemu-stderr", MFD_CLOEXEC);
        char msg[256];
        pid_t pid;
        int status = 0, r;

        if (err_fd < 0) {
                r = -errno;
                snprintf(b->why, WHY_LEN, "memfd_create: %s", strerror(-r));
                return r;
        }
        uint64_t t0 = hv_now_ns();
        if ((r = qemu_spawn_bios(bios, err_fd, &pid)) < 0) {
                if (r == -ENOENT)
                        snprintf(b->why, WHY_LEN, "%s not found in PATH (Debian: apt-get install qemu-system-x86)", QEMU);
                else
                        snprintf(b->why, WHY_LEN, "starting %s: %s", QEMU, strerror(-r));
                close(err_fd);
                return r;
        }
        r = wait_child(pid, timeout, &status);
        *ret_ns = hv_now_ns() - t0;
        qemu_first_line(err_fd, msg, sizeof(msg), "no message");
        close(err_fd);
        if (r == -ETIMEDOUT)
                snprintf(b->why, WHY_LEN, "%s did not finish within %d ms", QEMU, timeout);
        else if (r < 0)
                snprintf(b->why, WHY_LEN, "waiting for %s: %s", QEMU, strerror(-r));
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != expected) {
                snprintf(b->why, WHY_LEN, "%s ended with %s %d, expected exit status %d from the guest: %s", QEMU,
                         WIFEXITED(status) ? "status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), expected, msg);
                r = -EPROTO;
        }
        return r;
}

static int measure_qemu(struct bench *b, struct result *ret) {
        uint64_t boot_ns, total_ns;
        int r;

        if ((r = qemu_run(b, b->bios[0], timeout_ms(0), &boot_ns)) < 0 ||
            (r = qemu_run(b, b->bios[1], timeout_ms(b->count), &total_ns)) < 0)
                return r;
        *ret = (struct result) {
                .exits = b->count, .ns = total_ns > boot_ns ? total_ns - boot_ns : 0, .boot_ns = boot_ns,
        };
        return 0;
}

/* One repetition of hv and raw; odd ones in the other order, so that drift cancels. Returns
 * the name of the method that failed, NULL when both ran. */
/* hv as a worker runs it: in a process of its own under the seccomp allowlist (every KVM_RUN
 * passes the filter), the VM created before the filter is installed, as vmstatd-vm does. */
static int measure_worker(struct bench *b, struct result *ret) {
        int p[2];
        if (pipe(p) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid == 0) {
                struct hv_vm_outcome o;
                struct hv_counters c;
                struct hv_vm *vm;
                struct { int r; struct result res; char why[256]; } out = { 0 };
                close(p[0]);
                if ((out.r = vm_pio_new(b->kvm, b->count, &vm)) < 0)
                        snprintf(out.why, sizeof(out.why), "creating the VM: %s", strerror(-out.r));
                else if ((out.r = wk_seccomp_install(out.why, sizeof(out.why))) == 0) {
                        uint64_t t0 = hv_now_ns();
                        if ((out.r = hv_vm_start(vm)) == 0)
                                out.r = hv_vm_wait(vm, timeout_ms(b->count));
                        uint64_t t1 = hv_now_ns();
                        hv_vm_get_outcome(vm, &o);
                        hv_vcpu_read_counters(vm->vcpus[0], &c);
                        if (out.r == 0)
                                out.r = hv_check(&o, &c, b->count, out.why);
                        out.res = (struct result) { .exits = hv_counters_exits_total(&c), .ns = t1 - t0,
                                                    .handle_ns = c.handle_ns_sum, .runs = c.runs };
                }
                if (write(p[1], &out, sizeof(out)) != (ssize_t) sizeof(out))
                        _exit(2);
                _exit(0);
        }
        close(p[1]);
        struct { int r; struct result res; char why[256]; } in = { .r = -EIO };
        ssize_t n = pid < 0 ? -1 : read(p[0], &in, sizeof(in));
        close(p[0]);
        if (pid > 0)
                waitpid(pid, NULL, 0);
        if (n != (ssize_t) sizeof(in) || in.r < 0) {
                snprintf(b->why, WHY_LEN, "the sandboxed worker: %s", n == (ssize_t) sizeof(in) ? in.why : "died");
                return in.r < 0 ? in.r : -EIO;
        }
        *ret = in.res;
        return 0;
}

static const char *measure_pair(struct bench *b, int rep, struct result *hv, struct result *raw) {
        if (rep % 2 == 0) {
                if (measure_hv(b, hv) < 0)
                        return "hv";
                return measure_raw(b, raw) < 0 ? "raw" : NULL;
        }
        if (measure_raw(b, raw) < 0)
                return "raw";
        return measure_hv(b, hv) < 0 ? "hv" : NULL;
}

/* ---- report ----------------------------------------------------------------------------------- */

/* The run with the median ns/exit. */
static const struct result *median(const struct result r[REPS]) {
        const struct result *s[REPS];
        for (int i = 0; i < REPS; i++) {
                s[i] = &r[i];
                for (int j = i; j > 0 && ns_per_exit(s[j]) < ns_per_exit(s[j - 1]); j--) {
                        const struct result *t = s[j];
                        s[j] = s[j - 1];
                        s[j - 1] = t;
                }
        }
        return s[REPS / 2];
}

/* The median run, then the ns/exit of every run in the order measured. */
static void print_row(const char *method, const struct result *m, const struct result r[REPS]) {
        printf("  %-6s %10" PRIu64 " %9.3f %10.1f   runs:", method, m->exits, (double) m->ns / 1e9, ns_per_exit(m));
        for (int i = 0; i < REPS; i++)
                printf(" %.1f", ns_per_exit(&r[i]));
        printf("\n");
}

static void print_report(const struct bench *b, const struct result hv[REPS], const struct result raw[REPS],
                         const struct result worker[REPS], const struct result qemu[REPS], bool have_qemu) {
        const struct result *h = median(hv), *w = median(raw), *q = have_qemu ? median(qemu) : NULL;
        const struct result *k = median(worker);
        double hv_raw = ns_per_exit(h) / ns_per_exit(w), worker_raw = ns_per_exit(k) / ns_per_exit(w);

        printf("exitpath: %" PRIu64 " byte OUTs to port %#x from ring 3, then the exit port; median of %d "
               "alternating runs\n", b->count, HV_PORT_POST, REPS);
        printf("  %-6s %10s %9s %10s\n", "method", "exits", "seconds", "ns/exit");
        print_row("hv", h, hv);
        print_row("worker", k, worker);
        print_row("raw", w, raw);
        if (q)
                print_row("qemu", q, qemu);
        else
                printf("  %-6s unavailable: %s\n", "qemu", b->why);
        printf("hv handling mean: %.1f ns per KVM_RUN return (handle_ns_sum / runs); in a sandboxed worker %.1f ns\n",
               h->runs ? (double) h->handle_ns / (double) h->runs : 0, k->runs ? (double) k->handle_ns / (double) k->runs : 0);
        if (q)
                printf("qemu boot run subtracted: %.3f s (zero OUTs)\n", (double) q->boot_ns / 1e9);
        printf("ratio hv/raw:   %.3f\n", hv_raw);
        printf("ratio worker/raw: %.3f (hv in its own process under the seccomp allowlist)\n", worker_raw);
        if (q)
                printf("ratio qemu/raw: %.3f\n", ns_per_exit(q) / ns_per_exit(w));
        else
                printf("ratio qemu/raw: n/a\n");
        printf("target: hv <= %.2f x raw (measured %.3f: %s); worker <= %.2f x raw (measured %.3f: %s)\n", TARGET_RATIO,
               hv_raw, hv_raw <= TARGET_RATIO ? "met" : "MISSED", TARGET_RATIO, worker_raw,
               worker_raw <= TARGET_RATIO ? "met" : "MISSED");
}

/* ---- main ------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
        struct result hv[REPS], raw[REPS], worker[REPS], qemu[REPS];
        struct bench b = { 0 };
        char why[HV_WHY_LEN];
        unsigned long long count;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (arg_number(argc, argv, DEFAULT_COUNT, MAX_COUNT, &count) < 0) {
                fprintf(stderr, "usage: exitpath [N]   (N = PIO exits per run, 1..%llu, default %d)\n", MAX_COUNT,
                        DEFAULT_COUNT);
                return 2;
        }
        b.count = count;
        if ((r = hv_kvm_open(NULL, &b.kvm, why)) < 0) {
                fprintf(stderr, "exitpath: %s\n", why);
                return 1;
        }
        bool have_qemu = bios_prepare(&b) == 0;
        if (!have_qemu)
                printf("exitpath: qemu unavailable, measuring hv and raw only: %s\n", b.why);

        for (int i = 0; i < REPS; i++) {
                const char *failed = measure_pair(&b, i, &hv[i], &raw[i]);
                if (!failed && measure_worker(&b, &worker[i]) < 0)
                        failed = "worker";
                if (failed) {
                        fprintf(stderr, "exitpath: %s, run %d: %s\n", failed, i + 1, b.why);
                        bios_remove_copies(&b);
                        hv_kvm_free(b.kvm);
                        return 1;
                }
                if (have_qemu && measure_qemu(&b, &qemu[i]) < 0) {
                        printf("exitpath: qemu unavailable, measuring hv and raw only: %s\n", b.why);
                        have_qemu = false;
                }
        }
        print_report(&b, hv, raw, worker, qemu, have_qemu);
        bios_remove_copies(&b);
        hv_kvm_free(b.kvm);
        return 0;
}
