/* bench/render: the /metrics body of a big host, rendered in-process with nothing else running.
 * A sample of 256 VMs x 4 vCPUs like bench/scale's (every collector's numbers filled in, each
 * vCPU with the kernel's own KVM stats schema, read from a real vCPU's stats fd), rendered as
 * text and OpenMetrics and gzipped, each timed on the thread's CPU clock (best of ROUNDS).
 * Baseline in the same run: copying a body of the same size (memcpy), the least any render must
 * cost. Prints ms per body, ns per series and us per vCPU, then the bodies as a scrape makes them:
 * a plain one in a new buffer, a gzip one streamed through the compressor's window.
 *   build/bench/render [VMS]           256 by default
 *   RENDER_DUMP=FILE RENDER_DUMP_OM=FILE  also write the bodies there */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "arg.h"
#include "proc.h"
#include "gzip.h"
#include "render_prom.h"

#define VCPUS 4
#define ROUNDS 7

static double cpu_ms(void) {
        return thread_cpu_us() / 1e3;
}

/* the kernel's vCPU stats schema, from a vCPU made for it */
static struct cl_kvm_schema *kernel_schema(void) {
        struct cl_kvm_schema *s = NULL;
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm = -1, vcpu = -1, fd = -1;
        if (kvm >= 0 && (vm = ioctl(kvm, KVM_CREATE_VM, 0)) >= 0 && (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) >= 0 &&
            (fd = ioctl(vcpu, KVM_GET_STATS_FD, NULL)) >= 0 && cl_kvm_schema_parse(fd, &s) < 0)
                s = NULL;
        for (int *f = (int[]) { fd, vcpu, vm, kvm }, i = 0; i < 4; i++)
                if (f[i] >= 0)
                        close(f[i]);
        return s;
}

static struct vs_sample *big_sample(unsigned n_vms, struct cl_kvm_schema *schema) {
        struct vs_sample *s = calloc(1, sizeof(*s));
        s->n_vms = n_vms;
        s->vms = calloc(n_vms, sizeof(*s->vms));
        s->realtime_ns = 1790000000123456789ull;
        s->interval_ns = 5000000000ull;
        s->n_collectors = 4;
        const char *names[] = { "executor", "sched", "kvm", "memory" };
        for (unsigned c = 0; c < 4; c++)
                s->collectors[c] = (struct vs_collector_result) { .name = names[c], .success = true, .duration_ns = 1234567 };
        s->host.daemon_rss_bytes = 40 << 20;
        for (unsigned v = 0; v < n_vms; v++) {
                struct vs_vm_sample *vm = &s->vms[v];
                snprintf(vm->name, sizeof(vm->name), "s%03u", v);
                vm->vcpus = VCPUS;
                vm->start_time_ns = 1790000000000000000ull + v;
                vm->vcpu = calloc(VCPUS, sizeof(*vm->vcpu));
                vm->raw = (struct cl_vm_raw) { .have = CL_HAVE_EXECUTOR | CL_HAVE_MEMORY, .state = HV_VM_RUNNING,
                                               .ram_bytes = 8 << 20, .resident_bytes = 1 << 20, .n_vcpus = VCPUS,
                                               .vcpus = calloc(VCPUS, sizeof(struct cl_vcpu_raw)) };
                for (unsigned i = 0; i < VCPUS; i++) {
                        struct cl_vcpu_raw *r = &vm->raw.vcpus[i];
                        struct vs_vcpu_sample *c = &vm->vcpu[i];
                        r->have = CL_HAVE_EXECUTOR | CL_HAVE_SCHED | (schema ? CL_HAVE_KVM : 0);
                        r->exec.runs = 1000 + v * 7 + i;
                        r->exec.exits[HV_EXIT_HLT] = 900 + v;
                        r->exec.exits[HV_EXIT_IO_OUT] = 100 + i;
                        r->rs.cpu_ns = 123456789ull * (i + 1);
                        r->sched = (struct cl_sched) { .run_delay_ns = 4567891, .timeslices = 321, .migrations = 12 };
                        for (unsigned k = 0; k < HV_RS__COUNT; k++)
                                c->runstate_ns[k] = 1000000000ull * k + 987654321ull + v;
                        c->ready_ratio = 0.0123 * i;
                        c->steal_kvm_ratio = c->ready_ratio;
                        c->steal_xen_ratio = c->ready_ratio + 0.001;
                        if (schema) {
                                r->kvm_schema = schema;
                                r->kvm = calloc(schema->n_values, sizeof(uint64_t));
                                for (size_t k = 0; k < schema->n_values; k++)
                                        r->kvm[k] = k * 1000 + v;
                        }
                }
        }
        return s;
}

static size_t series(const char *body) {
        size_t n = 0;
        for (const char *p = body; (p = strchr(p, '\n')); p++)
                n += p[1] && p[1] != '#';
        return n;
}

int main(int argc, char **argv) {
        unsigned long long n_vms;
        if (arg_number(argc, argv, 256, 4096, &n_vms) < 0) {
                fprintf(stderr, "usage: render [VMS]\n");
                return 2;
        }
        mallopt(M_MMAP_THRESHOLD, 256 << 10); /* as vmstatd sets it: freed bodies go back */
        struct cl_kvm_schema *schema = kernel_schema();
        if (!schema)
                fprintf(stderr, "render: no KVM stats schema (/dev/kvm); rendering without KVM families\n");
        struct vs_sample *s = big_sample((unsigned) n_vms, schema);
        unsigned vcpus = (unsigned) n_vms * VCPUS;
        printf("render: %llu VMs x %d vCPUs, %zu KVM stats per vCPU, best of %d on the thread's CPU clock\n", n_vms,
               VCPUS, schema ? schema->n_desc : 0, ROUNDS);
        struct vs_buf none;
        struct vs_gzip *g; /* the server keeps one, made on its first gzip scrape */
        vs_buf_init(&none);
        if (vs_gzip_new(&none, &g) < 0)
                return 1;
        for (int f = 0; f < 2; f++) {
                struct vs_buf b, copy;
                double best = 1e9, best_copy = 1e9, best_gz = 1e9, best_plain = 1e9, best_stream = 1e9;
                size_t gz_len = 0;
                vs_buf_init(&b);
                vs_buf_init(&copy);
                for (int r = 0; r < ROUNDS; r++) {
                        vs_buf_reset(&b);
                        double t = cpu_ms();
                        vs_render_prometheus(s, (enum vs_prom_format) f, NULL, &b);
                        t = cpu_ms() - t;
                        best = t < best ? t : best;
                        vs_buf_reset(&copy);
                        t = cpu_ms();
                        vs_buf_append(&copy, b.data, b.len);
                        t = cpu_ms() - t;
                        best_copy = t < best_copy ? t : best_copy;
                        struct vs_buf gz;
                        vs_buf_init(&gz);
                        t = cpu_ms();
                        vs_gzip_all(b.data, b.len, &gz);
                        t = cpu_ms() - t;
                        best_gz = t < best_gz ? t : best_gz;
                        vs_buf_free(&gz);
                        /* as a scrape makes them: a plain body in a new buffer sized by the last
                         * one; a gzip body streamed through the window, no whole text */
                        struct vs_buf plain;
                        vs_buf_init(&plain);
                        t = cpu_ms();
                        vs_buf_presize(&plain, b.len);
                        vs_render_prometheus(s, (enum vs_prom_format) f, NULL, &plain);
                        t = cpu_ms() - t;
                        best_plain = t < best_plain ? t : best_plain;
                        vs_buf_free(&plain);
                        t = cpu_ms();
                        vs_gzip_restart(g, &gz);
                        struct vs_buf *window = vs_gzip_window(g);
                        if (window) {
                                vs_render_prometheus(s, (enum vs_prom_format) f, NULL, window);
                                vs_gzip_window_end(g);
                        }
                        t = cpu_ms() - t;
                        best_stream = t < best_stream ? t : best_stream;
                        gz_len = gz.len;
                        vs_buf_free(&gz);
                }
                size_t n = series(b.data);
                const char *dump = getenv(f ? "RENDER_DUMP_OM" : "RENDER_DUMP");
                FILE *d = dump ? fopen(dump, "we") : NULL;
                if (d) {
                        fwrite(b.data, 1, b.len, d);
                        fclose(d);
                }
                printf("%-11s %5.2f MB, %zu series: render %.2f ms (%.0f ns/series, %.2f us/vCPU), %.1f x a copy "
                       "(%.2f ms); gzip %.2f ms\n",
                       f ? "openmetrics" : "text", b.len / 1e6, n, best, best * 1e6 / n, best * 1e3 / vcpus,
                       best / best_copy, best_copy, best_gz);
                printf("%-11s as served: plain body %.2f ms; gzip body %.2f ms (%.0f kB, streamed)\n", "", best_plain,
                       best_stream, gz_len / 1e3);
                vs_buf_free(&b);
                vs_buf_free(&copy);
        }
        vs_gzip_free(g);
        return 0;
}
