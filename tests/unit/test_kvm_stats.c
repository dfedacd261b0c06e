/* collectors/kvm.c on the real /dev/kvm: the schema agrees with an independent decode of the
 * raw descriptors, the kernel's exits cover the executor's, histograms add up, counters only
 * rise, and hostile stats data is refused without a crash. */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <linux/kvm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collectors/collector.h"
#include "kvm_helper.h"

#define PIO_N 1000
#define SLOT 1

/* ---- an independent minimal decode of the raw stats fd ------------------------------------------ */

struct raw_desc {
        char name[256];
        uint32_t flags;
        int16_t exponent;
        uint16_t size;
        uint32_t offset, bucket_size;
};

static size_t raw_descs(int fd, struct kvm_stats_header *h, struct raw_desc **ret) {
        ck_assert_int_eq(pread(fd, h, sizeof(*h), 0), (ssize_t) sizeof(*h));
        ck_assert_uint_gt(h->num_desc, 0);
        ck_assert_uint_gt(h->name_size, 1);
        ck_assert_uint_le(h->name_size, 256);
        size_t stride = 16 + h->name_size; /* flags, exponent, size, offset, bucket_size, name */
        uint8_t *buf = malloc(stride * h->num_desc);
        struct raw_desc *d = calloc(h->num_desc, sizeof(*d));
        ck_assert_ptr_nonnull(buf);
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(pread(fd, buf, stride * h->num_desc, h->desc_offset), (ssize_t) (stride * h->num_desc));
        for (size_t i = 0; i < h->num_desc; i++) {
                const uint8_t *p = buf + i * stride;
                memcpy(&d[i].flags, p, 4);
                memcpy(&d[i].exponent, p + 4, 2);
                memcpy(&d[i].size, p + 6, 2);
                memcpy(&d[i].offset, p + 8, 4);
                memcpy(&d[i].bucket_size, p + 12, 4);
                memcpy(d[i].name, p + 16, h->name_size);
                d[i].name[sizeof(d[i].name) - 1] = 0;
        }
        free(buf);
        *ret = d;
        return h->num_desc;
}

/* The kind the flags' low nibble names, -1 for a type newer than the parser knows. */
static int raw_kind(uint32_t flags, bool *peak) {
        static const int kinds[] = { CL_KVM_COUNTER, CL_KVM_GAUGE, CL_KVM_GAUGE, CL_KVM_HIST_LINEAR, CL_KVM_HIST_LOG };
        unsigned type = flags & 0xf;
        *peak = type == 2;
        return type < 5 ? kinds[type] : -1;
}

static const struct cl_kvm_desc *find_desc(const struct cl_kvm_schema *s, const char *name) {
        for (size_t i = 0; i < s->n_desc; i++)
                if (strcmp(s->desc[i].name, name) == 0)
                        return &s->desc[i];
        return NULL;
}

static bool is_hist(const struct cl_kvm_desc *d) {
        return d->kind == CL_KVM_HIST_LINEAR || d->kind == CL_KVM_HIST_LOG;
}

/* Parses fd and checks the schema against the raw descriptors, one by one. */
static struct cl_kvm_schema *parse_and_compare(int fd, const char *what) {
        struct cl_kvm_schema *s = NULL;
        int r = cl_kvm_schema_parse(fd, &s);
        ck_assert_msg(r == 0, "%s: cl_kvm_schema_parse: %s", what, strerror(-r));
        ck_assert_uint_eq(atomic_load(&s->refs), 1);

        struct kvm_stats_header h;
        struct raw_desc *raw;
        size_t n_raw = raw_descs(fd, &h, &raw), j = 0;
        ck_assert_uint_eq(s->data_offset, h.data_offset);
        char id[256] = "";
        ck_assert_int_eq(pread(fd, id, h.name_size, h.id_offset), (ssize_t) h.name_size);
        ck_assert_msg(strncmp(s->id, id, sizeof(s->id) - 1) == 0, "%s: id '%s', header says '%s'", what, s->id, id);

        for (size_t i = 0; i < n_raw; i++) {
                bool peak;
                int kind = raw_kind(raw[i].flags, &peak);
                unsigned unit = (raw[i].flags >> 4) & 0xf, base = (raw[i].flags >> 8) & 0xf;
                if (kind < 0 || unit > 4 || base > 1)
                        continue; /* newer than the parser: skipped, not misread */
                ck_assert_msg(j < s->n_desc, "%s: descriptor %s missing", what, raw[i].name);
                const struct cl_kvm_desc *d = &s->desc[j++];
                static const enum cl_kvm_unit units[] = { CL_UNIT_NONE, CL_UNIT_BYTES, CL_UNIT_SECONDS, CL_UNIT_CYCLES,
                                                          CL_UNIT_BOOLEAN };
                double scale = pow(base ? 2 : 10, raw[i].exponent);
                ck_assert_str_eq(d->name, raw[i].name);
                ck_assert_msg((int) d->kind == kind && d->peak == peak, "%s: %s kind %d peak %d, raw flags %#x", what,
                              d->name, d->kind, d->peak, raw[i].flags);
                ck_assert_msg(d->unit == units[unit], "%s: %s unit %d, raw flags %#x", what, d->name, d->unit,
                              raw[i].flags);
                ck_assert_msg(fabs(d->scale - scale) <= 1e-12 * scale, "%s: %s scale %g, raw exponent %d base %u", what,
                              d->name, d->scale, raw[i].exponent, base);
                ck_assert_uint_eq(d->size, raw[i].size);
                ck_assert_uint_eq(d->offset, raw[i].offset);
                if (d->kind == CL_KVM_HIST_LINEAR)
                        ck_assert_uint_eq(d->bucket_size, raw[i].bucket_size);
        }
        ck_assert_uint_eq(j, s->n_desc);
        free(raw);

        /* names non-empty and unique, values inside the block, units that fit the kind */
        ck_assert_uint_gt(s->n_desc, 0);
        for (size_t i = 0; i < s->n_desc; i++) {
                const struct cl_kvm_desc *d = &s->desc[i];
                ck_assert_msg(d->name[0], "%s: descriptor %zu has no name", what, i);
                ck_assert_ptr_eq(find_desc(s, d->name), d);
                ck_assert_uint_eq((uint64_t) d->index * 8, d->offset);
                ck_assert_msg(d->size >= 1 && (uint64_t) d->index + d->size <= s->n_values,
                              "%s: %s values [%u, %u) outside the block of %zu", what, d->name, d->index,
                              d->index + d->size, s->n_values);
                ck_assert(!d->peak || d->kind == CL_KVM_GAUGE);
                ck_assert(d->scale > 0 && isfinite(d->scale));
                if (d->unit == CL_UNIT_BOOLEAN)
                        ck_assert_msg(!is_hist(d) && d->size == 1, "%s: boolean %s", what, d->name);
                if (is_hist(d))
                        ck_assert_msg(d->size > 1, "%s: histogram %s has %u bucket", what, d->name, d->size);
                if (d->sum_of >= 0) {
                        ck_assert(is_hist(d));
                        ck_assert_int_lt(d->sum_of, (int) s->n_desc);
                        const struct cl_kvm_desc *sum = &s->desc[d->sum_of];
                        size_t len = strlen(d->name);
                        ck_assert_msg(len > 5 && strncmp(sum->name, d->name, len - 5) == 0 &&
                                              strcmp(sum->name + len - 5, "_ns") == 0,
                                      "%s: %s sums into %s", what, d->name, sum->name);
                        ck_assert_int_eq(sum->kind, CL_KVM_COUNTER);
                }
        }
        return s;
}

START_TEST(schema_matches_raw_descriptors) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "schema", 2, &(struct hv_builtin) { .guest = "pio", .count = 10 });
        char want[64];

        struct cl_kvm_schema *s = parse_and_compare(vm->stats_fd, "VM");
        snprintf(want, sizeof(want), "kvm-%d", (int) getpid());
        ck_assert_str_eq(s->id, want);
        fprintf(stderr, "kvm stats: VM %s: %zu stats, %zu values\n", s->id, s->n_desc, s->n_values);
        cl_kvm_schema_unref(s);
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                s = parse_and_compare(vm->vcpus[i]->stats_fd, "vCPU");
                snprintf(want, sizeof(want), "kvm-%d/vcpu-%u", (int) getpid(), i);
                ck_assert_str_eq(s->id, want);
                if (i == 0)
                        fprintf(stderr, "kvm stats: vCPU %s: %zu stats, %zu values\n", s->id, s->n_desc, s->n_values);
                /* the refcount keeps a shared schema alive until its last holder lets go */
                ck_assert_ptr_eq(cl_kvm_schema_ref(s), s);
                ck_assert_uint_eq(atomic_load(&s->refs), 2);
                cl_kvm_schema_unref(s);
                ck_assert_str_eq(s->id, want);
                cl_kvm_schema_unref(s);
        }
        cl_kvm_schema_unref(NULL);
        ck_assert_ptr_null(cl_kvm_schema_ref(NULL));
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* ---- the collector, as the sampler drives it ----------------------------------------------------- */

struct harness {
        struct collector c;
        struct cl_vm vm;
        struct cl_vm_raw raw;
};

static void harness_init(struct harness *t, struct hv_vm *vm) {
        *t = (struct harness) { .c = { .ops = &collector_kvm, .slot = SLOT, .enabled = true }, .vm = { .hv = vm } };
}

static int harness_sample(struct harness *t) {
        t->raw = (struct cl_vm_raw) { .n_vcpus = t->vm.hv->n_vcpus };
        t->raw.vcpus = calloc(t->raw.n_vcpus, sizeof(*t->raw.vcpus));
        ck_assert_ptr_nonnull(t->raw.vcpus);
        t->c.error[0] = 0;
        int r = t->c.ops->sample_vm(&t->c, &t->vm, &t->raw);
        t->c.success = r == 0;
        ck_assert_msg(r == 0, "kvm collector: %d: %s", r, t->c.error);
        ck_assert_uint_eq(t->raw.have & CL_HAVE_KVM, CL_HAVE_KVM);
        ck_assert_ptr_nonnull(t->raw.kvm);
        ck_assert_ptr_nonnull(t->raw.kvm_schema);
        for (unsigned i = 0; i < t->raw.n_vcpus; i++) {
                ck_assert_uint_eq(t->raw.vcpus[i].have & CL_HAVE_KVM, CL_HAVE_KVM);
                ck_assert_ptr_nonnull(t->raw.vcpus[i].kvm);
                ck_assert_ptr_nonnull(t->raw.vcpus[i].kvm_schema);
        }
        return r;
}

static void harness_forget(struct harness *t) {
        t->c.ops->forget_vm(&t->c, &t->vm);
        ck_assert_ptr_null(t->vm.priv[SLOT]);
}

static uint64_t stat_value(const struct cl_kvm_schema *s, const uint64_t *values, const char *name, bool *found) {
        const struct cl_kvm_desc *d = find_desc(s, name);
        *found = d != NULL;
        return d ? values[d->index] : 0;
}

/* KVM counts every exit, userspace ones included: its "exits" is at least the executor's. */
START_TEST(kernel_exits_cover_userspace_exits) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "kexits", 1, &(struct hv_builtin) { .guest = "pio", .count = PIO_N });
        test_run_to_end(vm, 30000);
        test_assert_exit_code(vm, 0);

        struct harness t;
        harness_init(&t, vm);
        harness_sample(&t);
        struct cl_vcpu_raw *v = &t.raw.vcpus[0];
        bool found;
        uint64_t exits = stat_value(v->kvm_schema, v->kvm, "exits", &found);
        ck_assert_msg(found, "the vCPU stats fd has no \"exits\" (every 5.14+ kernel reports it)");
        struct hv_counters c = test_counters(vm, 0);
        uint64_t user = hv_counters_exits_total(&c);
        ck_assert_uint_ge(user, PIO_N + 1);
        ck_assert_msg(exits >= user, "kernel exits %llu < userspace exits %llu", (unsigned long long) exits,
                      (unsigned long long) user);
        /* the sample holds its own reference next to the collector's */
        ck_assert_uint_eq(atomic_load(&v->kvm_schema->refs), 2);
        ck_assert_uint_eq(atomic_load(&t.raw.kvm_schema->refs), 2);
        ck_assert_ptr_nonnull(strstr(v->kvm_schema->id, "/vcpu-0"));

        /* a VM that went away: the collector lets go, the sample's references stay valid */
        harness_forget(&t);
        ck_assert_uint_eq(atomic_load(&v->kvm_schema->refs), 1);
        ck_assert_ptr_nonnull(find_desc(v->kvm_schema, "exits"));
        cl_vm_raw_release(&t.raw);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* A running guest: counters never fall between samples and the schema is parsed once. */
START_TEST(counters_rise_between_samples) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "krise", 2, &(struct hv_builtin) { .guest = "demo" });
        ck_assert_int_eq(hv_vm_start(vm), 0);
        test_sleep_ms(100);

        struct harness t;
        harness_init(&t, vm);
        harness_sample(&t);
        struct cl_vm_raw first = t.raw;
        test_sleep_ms(200);
        harness_sample(&t);
        ck_assert_ptr_eq(t.raw.kvm_schema, first.kvm_schema);
        ck_assert_uint_eq(atomic_load(&first.kvm_schema->refs), 3);

        const struct cl_vm_raw *a = &first, *b = &t.raw;
        for (unsigned i = 0; i <= vm->n_vcpus; i++) {
                const struct cl_kvm_schema *s = i ? a->vcpus[i - 1].kvm_schema : a->kvm_schema;
                const uint64_t *va = i ? a->vcpus[i - 1].kvm : a->kvm, *vb = i ? b->vcpus[i - 1].kvm : b->kvm;
                for (size_t k = 0; k < s->n_desc; k++) {
                        const struct cl_kvm_desc *d = &s->desc[k];
                        if (d->kind == CL_KVM_GAUGE && !d->peak)
                                continue;
                        for (unsigned j = 0; j < d->size; j++)
                                ck_assert_msg(vb[d->index + j] >= va[d->index + j], "%s %s[%u] fell: %llu -> %llu",
                                              s->id, d->name, j, (unsigned long long) va[d->index + j],
                                              (unsigned long long) vb[d->index + j]);
                }
                if (i) {
                        bool found;
                        uint64_t e0 = stat_value(s, va, "exits", &found), e1 = stat_value(s, vb, "exits", &found);
                        ck_assert_msg(found && e1 > e0, "vCPU %u: exits %llu -> %llu while running", i - 1,
                                      (unsigned long long) e0, (unsigned long long) e1);
                }
        }
        cl_vm_raw_release(&first);
        cl_vm_raw_release(&t.raw);
        harness_forget(&t);
        harness_forget(&t); /* twice is harmless */
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* Every histogram: cumulative buckets never fall (no wrap), the last equals the count, and
 * when a "_ns" counter holds the sum of what was counted, that sum lies within the buckets'
 * bounds (log buckets: [0,1), then [2^(i-1), 2^i); linear: [i*w, (i+1)*w); last: open). */
static uint64_t check_histograms(const struct cl_kvm_schema *s, const uint64_t *v) {
        uint64_t total = 0;
        for (size_t k = 0; k < s->n_desc; k++) {
                const struct cl_kvm_desc *d = &s->desc[k];
                if (!is_hist(d))
                        continue;
                unsigned __int128 count = 0, cum = 0, lo = 0, hi = 0;
                for (unsigned j = 0; j < d->size; j++)
                        count += v[d->index + j];
                for (unsigned j = 0; j < d->size; j++) {
                        unsigned __int128 prev = cum, n = v[d->index + j];
                        cum += n;
                        ck_assert_msg(cum >= prev, "%s: cumulative %s fell at bucket %u", s->id, d->name, j);
                        unsigned __int128 lower, upper;
                        if (d->kind == CL_KVM_HIST_LOG) {
                                lower = j ? (unsigned __int128) 1 << (j - 1) : 0;
                                upper = (unsigned __int128) 1 << j;
                        } else {
                                lower = (unsigned __int128) j * d->bucket_size;
                                upper = lower + d->bucket_size;
                        }
                        lo += n * lower;
                        hi += n * (upper - 1);
                }
                ck_assert_msg(cum == count, "%s: %s last cumulative != sum of buckets", s->id, d->name);
                ck_assert_msg(count <= UINT64_MAX, "%s: %s count overflows", s->id, d->name);
                if (d->sum_of >= 0) {
                        uint64_t sum = v[s->desc[d->sum_of].index];
                        bool open_bucket_used = v[d->index + d->size - 1] != 0;
                        ck_assert_msg(sum >= lo && (open_bucket_used || sum <= hi),
                                      "%s: %s = %llu outside what %s's buckets allow", s->id, s->desc[d->sum_of].name,
                                      (unsigned long long) sum, d->name);
                        ck_assert_msg(count || sum == 0, "%s: %s empty but %s = %llu", s->id, d->name,
                                      s->desc[d->sum_of].name, (unsigned long long) sum);
                }
                total += (uint64_t) count;
        }
        return total;
}

START_TEST(histograms_add_up) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "khist", 2, &(struct hv_builtin) { .guest = "idle", .count = 100 });
        test_run_to_end(vm, 30000);
        test_assert_exit_code(vm, 0);

        struct harness t;
        harness_init(&t, vm);
        harness_sample(&t);
        check_histograms(t.raw.kvm_schema, t.raw.kvm);
        uint64_t counted = 0;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                counted += check_histograms(t.raw.vcpus[i].kvm_schema, t.raw.vcpus[i].kvm);
        /* the guest halted 100 times per vCPU: polls and waits were recorded somewhere */
        ck_assert_msg(counted > 0, "an idle guest left every halt histogram empty");
        cl_vm_raw_release(&t.raw);
        harness_forget(&t);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* ---- hostile stats data --------------------------------------------------------------------------- */

#define FAKE_NAME 48
#define FAKE_DESCS 3
#define FAKE_ID_OFF 24
#define FAKE_DESC_OFF (FAKE_ID_OFF + FAKE_NAME)
#define FAKE_DATA_OFF (FAKE_DESC_OFF + FAKE_DESCS * (16 + FAKE_NAME))
#define FAKE_VALUES 10

/* A well-formed stats file: a counter, a log histogram of 8 buckets and its "_ns" sum. */
struct fake {
        struct kvm_stats_header h;
        char id[FAKE_NAME];
        struct {
                struct kvm_stats_desc d;
                char name[FAKE_NAME];
        } desc[FAKE_DESCS];
        uint64_t data[FAKE_VALUES];
};

static struct fake fake_good(void) {
        struct fake f = {
                .h = { .name_size = FAKE_NAME, .num_desc = FAKE_DESCS, .id_offset = FAKE_ID_OFF,
                       .desc_offset = FAKE_DESC_OFF, .data_offset = FAKE_DATA_OFF },
                .id = "kvm-1/vcpu-0",
        };
        f.desc[0].d = (struct kvm_stats_desc) { .flags = KVM_STATS_TYPE_CUMULATIVE, .size = 1, .offset = 0 };
        strcpy(f.desc[0].name, "exits");
        f.desc[1].d = (struct kvm_stats_desc) { .flags = KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS,
                                                .exponent = -9, .size = 8, .offset = 8 };
        strcpy(f.desc[1].name, "wait_hist");
        f.desc[2].d = (struct kvm_stats_desc) { .flags = KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS,
                                                .exponent = -9, .size = 1, .offset = 72 };
        strcpy(f.desc[2].name, "wait_ns");
        for (unsigned i = 0; i < FAKE_VALUES; i++)
                f.data[i] = i;
        return f;
}

_Static_assert(sizeof(struct fake) == FAKE_DATA_OFF + FAKE_VALUES * 8, "fake layout");

/* The stats "fd": a memfd holding len bytes of buf. */
static int fake_fd(const void *buf, size_t len) {
        int fd = memfd_create("fake-kvm-stats", MFD_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, buf, len), (ssize_t) len);
        return fd;
}

static int parse_fake(const void *buf, size_t len) {
        struct cl_kvm_schema *sentinel = (struct cl_kvm_schema *) 0x1, *s = sentinel;
        int fd = fake_fd(buf, len);
        int r = cl_kvm_schema_parse(fd, &s);
        close(fd);
        if (r == 0)
                cl_kvm_schema_unref(s);
        else
                ck_assert_ptr_eq(s, sentinel); /* untouched on failure */
        return r;
}

START_TEST(fake_well_formed_parses) {
        struct fake f = fake_good();
        int fd = fake_fd(&f, sizeof(f));
        struct cl_kvm_schema *s;
        ck_assert_int_eq(cl_kvm_schema_parse(fd, &s), 0);
        ck_assert_str_eq(s->id, "kvm-1/vcpu-0");
        ck_assert_uint_eq(s->n_desc, 3);
        ck_assert_uint_eq(s->n_values, FAKE_VALUES);
        ck_assert_int_eq(s->desc[1].kind, CL_KVM_HIST_LOG);
        ck_assert_int_eq(s->desc[1].unit, CL_UNIT_SECONDS);
        ck_assert_double_eq(s->desc[1].scale, 1e-9);
        ck_assert_uint_eq(s->desc[1].index, 1);
        ck_assert_int_eq(s->desc[1].sum_of, 2);
        ck_assert_int_eq(s->desc[0].sum_of, -1);
        uint64_t v[FAKE_VALUES];
        ck_assert_int_eq(cl_kvm_read_values(fd, s, v), 0);
        ck_assert_uint_eq(v[9], 9);
        cl_kvm_schema_unref(s);
        close(fd);

        /* powers of two: a counter of KiB is bytes * 2^10 */
        f.desc[0].d.flags = KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BYTES | KVM_STATS_BASE_POW2;
        f.desc[0].d.exponent = 10;
        fd = fake_fd(&f, sizeof(f));
        ck_assert_int_eq(cl_kvm_schema_parse(fd, &s), 0);
        ck_assert_int_eq(s->desc[0].kind, CL_KVM_GAUGE);
        ck_assert_int_eq(s->desc[0].unit, CL_UNIT_BYTES);
        ck_assert_double_eq(s->desc[0].scale, 1024);
        cl_kvm_schema_unref(s);
        close(fd);

        /* a type from a newer kernel is skipped, its values still counted in the block */
        f.desc[2].d.flags = 0xf;
        fd = fake_fd(&f, sizeof(f));
        ck_assert_int_eq(cl_kvm_schema_parse(fd, &s), 0);
        ck_assert_uint_eq(s->n_desc, 2);
        ck_assert_uint_eq(s->n_values, FAKE_VALUES);
        ck_assert_int_eq(s->desc[1].sum_of, -1);
        cl_kvm_schema_unref(s);
        close(fd);
}
END_TEST

static const char *const hostile_names[] = {
        "empty file",
        "header only",
        "name_size 0",
        "name_size 1",
        "name_size huge",
        "num_desc 0",
        "num_desc huge",
        "num_desc one too many",
        "id offset past end",
        "desc offset past end",
        "desc block runs past end",
        "data offset past end",
        "data block cut short",
        "desc offset beyond data",
        "desc offset near 4 GiB with max size",
        "desc offset not 8-aligned",
        "desc size 0",
        "name not terminated",
        "name empty",
        "name with a newline",
        "duplicate names",
        "exponent absurd",
        "linear histogram of bucket size 0",
        "offsets inside the header",
};

START_TEST(hostile_schema_refused) {
        struct fake f = fake_good();
        size_t len = sizeof(f);
        switch (_i) {
        case 0: len = 0; break;
        case 1: len = sizeof(f.h); break;
        case 2: f.h.name_size = 0; break;
        case 3: f.h.name_size = 1; break;
        case 4: f.h.name_size = 0xffffffffu; break;
        case 5: f.h.num_desc = 0; break;
        case 6: f.h.num_desc = 0xffffffffu; break;
        case 7: f.h.num_desc = FAKE_DESCS + 1; break;
        case 8: f.h.id_offset = sizeof(f); break;
        case 9: f.h.desc_offset = 0xfffffff0u; break;
        case 10: f.h.desc_offset = sizeof(f) - 16; break;
        case 11: f.h.data_offset = 0xfffffff8u; break;
        case 12: len -= 8; break;
        case 13: f.desc[0].d.offset = 8 * FAKE_VALUES; break;
        case 14: f.desc[0].d.offset = 0xfffffff8u; f.desc[0].d.size = 0xffff; break;
        case 15: f.desc[0].d.offset = 4; break;
        case 16: f.desc[0].d.size = 0; break;
        case 17: memset(f.desc[0].name, 'a', FAKE_NAME); break;
        case 18: f.desc[0].name[0] = 0; break;
        case 19: strcpy(f.desc[0].name, "a\nb"); break;
        case 20: strcpy(f.desc[2].name, "exits"); break;
        case 21: f.desc[0].d.exponent = 32767; break;
        case 22: f.desc[1].d.flags = KVM_STATS_TYPE_LINEAR_HIST; break;
        case 23: f.h.id_offset = f.h.desc_offset = 0; break;
        }
        int r = parse_fake(&f, len);
        ck_assert_msg(r == -EBADMSG, "%s: parse returned %d (%s), expected -EBADMSG", hostile_names[_i], r,
                      r ? strerror(-r) : "success");
}
END_TEST

/* Fuzz-ish: random bytes in every header and descriptor field never crash the parser. */
START_TEST(random_schema_never_crashes) {
        unsigned seed = 12345;
        for (unsigned round = 0; round < 5000; round++) {
                struct fake f = fake_good();
                uint8_t *p = (uint8_t *) &f;
                unsigned flips = 1 + rand_r(&seed) % 4;
                for (unsigned k = 0; k < flips; k++)
                        p[rand_r(&seed) % FAKE_DATA_OFF] = (uint8_t) rand_r(&seed);
                int r = parse_fake(&f, sizeof(f) - (rand_r(&seed) % 2) * 8 * (rand_r(&seed) % FAKE_VALUES));
                ck_assert_msg(r == 0 || r == -EBADMSG, "round %u: %d", round, r);
        }
}
END_TEST

/* --collector.kvm.stats-include/exclude: the collector marks, on the kernel's real schema,
 * exactly the names an independent reading of the two regexes lets through; anchored at both
 * ends (Prometheus's habit), so "exit" is not "exits". */
static bool expect_exported(const char *name) {
        bool included = strncmp(name, "halt_", 5) == 0 || strcmp(name, "exits") == 0 || strcmp(name, "exit") == 0;
        bool excluded = strcmp(name, "halt_wait_hist") == 0 || strstr(name, "poll") != NULL;
        return included && !excluded;
}

START_TEST(filter_marks_what_is_exported) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "kfilter", 2, &(struct hv_builtin) { .guest = "halt" });
        struct harness t;
        harness_init(&t, vm);
        t.c.stats_include = "halt_.*|exits?";
        t.c.stats_exclude = "halt_wait_hist|.*poll.*";
        ck_assert_int_eq(t.c.ops->init(&t.c), 0);
        ck_assert_ptr_nonnull(t.c.priv);
        harness_sample(&t);
        /* one kernel, one vCPU schema: both vCPUs share it; the VM's is its own */
        ck_assert_ptr_eq(t.raw.vcpus[0].kvm_schema, t.raw.vcpus[1].kvm_schema);
        ck_assert_ptr_ne(t.raw.vcpus[0].kvm_schema, t.raw.kvm_schema);
        unsigned exported = 0, total = 0;
        for (unsigned i = 0; i <= vm->n_vcpus; i++) {
                const struct cl_kvm_schema *s = i ? t.raw.vcpus[i - 1].kvm_schema : t.raw.kvm_schema;
                for (size_t k = 0; k < s->n_desc; k++, total++) {
                        const struct cl_kvm_desc *d = &s->desc[k];
                        ck_assert_msg(d->exported == expect_exported(d->name), "%s: %s exported=%d", s->id, d->name,
                                      d->exported);
                        exported += d->exported;
                }
        }
        ck_assert_msg(exported > 0 && exported < total, "%u of %u exported: the filter chose nothing", exported, total);
        cl_vm_raw_release(&t.raw);
        harness_forget(&t);
        t.c.ops->fini(&t.c);
        ck_assert_ptr_null(t.c.priv);

        /* no filter: everything; and a second VM's vCPUs share the first's schema, which the
         * collector holds until fini */
        harness_init(&t, vm);
        ck_assert_int_eq(t.c.ops->init(&t.c), 0);
        harness_sample(&t);
        for (size_t k = 0; k < t.raw.vcpus[0].kvm_schema->n_desc; k++)
                ck_assert(t.raw.vcpus[0].kvm_schema->desc[k].exported);
        struct hv_vm *vm2 = test_vm(kvm, "kfilter2", 1, &(struct hv_builtin) { .guest = "halt" });
        struct harness t2 = t;
        t2.vm = (struct cl_vm) { .hv = vm2 };
        harness_sample(&t2);
        ck_assert_ptr_eq(t2.raw.vcpus[0].kvm_schema, t.raw.vcpus[0].kvm_schema);
        /* references: the collector's, each vCPU state's (3) and each sample's (3) */
        ck_assert_uint_eq(atomic_load(&t.raw.vcpus[0].kvm_schema->refs), 7);
        cl_vm_raw_release(&t2.raw);
        harness_forget(&t2);
        hv_vm_destroy(vm2);
        cl_vm_raw_release(&t.raw);
        harness_forget(&t);
        t.c.ops->fini(&t.c);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

/* A vCPU whose thread did not run since the last sample (the executor says so: cl_vcpu_raw.idle)
 * cannot have changed its KVM stats: the collector hands out the last sample's values array
 * again instead of reading the fd; one that ran is read anew. */
static void sample_idle(struct harness *t, bool idle) {
        t->raw = (struct cl_vm_raw) { .n_vcpus = t->vm.hv->n_vcpus };
        t->raw.vcpus = calloc(t->raw.n_vcpus, sizeof(*t->raw.vcpus));
        ck_assert_ptr_nonnull(t->raw.vcpus);
        for (unsigned i = 0; i < t->raw.n_vcpus; i++)
                t->raw.vcpus[i].idle = idle;
        ck_assert_int_eq(t->c.ops->sample_vm(&t->c, &t->vm, &t->raw), 0);
}

START_TEST(unchanged_thread_shares_values) {
        REQUIRE_KVM(kvm);
        struct hv_vm *vm = test_vm(kvm, "kshare", 1, &(struct hv_builtin) { .guest = "demo" });
        ck_assert_int_eq(hv_vm_start(vm), 0);
        test_sleep_ms(50);
        struct harness t;
        harness_init(&t, vm);
        ck_assert_int_eq(t.c.ops->init(&t.c), 0);
        sample_idle(&t, true); /* the first: nothing to share yet, read */
        struct cl_vm_raw a = t.raw;
        test_sleep_ms(100); /* the guest runs: its stats move */
        sample_idle(&t, true);
        struct cl_vm_raw b = t.raw;
        ck_assert_ptr_eq(b.vcpus[0].kvm, a.vcpus[0].kvm); /* shared, not read */
        ck_assert_ptr_ne(b.kvm, a.kvm);                   /* VM stats: always read */
        sample_idle(&t, false);
        struct cl_vm_raw c = t.raw;
        ck_assert_ptr_ne(c.vcpus[0].kvm, a.vcpus[0].kvm);
        bool found;
        uint64_t e0 = stat_value(a.vcpus[0].kvm_schema, a.vcpus[0].kvm, "exits", &found);
        uint64_t e2 = stat_value(c.vcpus[0].kvm_schema, c.vcpus[0].kvm, "exits", &found);
        ck_assert_msg(found && e2 > e0, "exits %llu -> %llu: not read anew", (unsigned long long) e0,
                      (unsigned long long) e2);
        cl_vm_raw_release(&a);
        cl_vm_raw_release(&b); /* the shared array outlives its first holder */
        cl_vm_raw_release(&c);
        harness_forget(&t);
        t.c.ops->fini(&t.c);
        hv_vm_destroy(vm);
        hv_kvm_free(kvm);
}
END_TEST

START_TEST(filter_errors_explain) {
        struct cl_kvm_filter f;
        char err[200];
        ck_assert_int_eq(cl_kvm_filter_init(&f, "(halt", NULL, err, sizeof(err)), -EINVAL);
        ck_assert_msg(strncmp(err, "kvm stats include '(halt': ", 27) == 0, "%s", err);
        ck_assert_int_eq(cl_kvm_filter_init(&f, "", "a[", err, sizeof(err)), -EINVAL);
        ck_assert_msg(strncmp(err, "kvm stats exclude 'a[': ", 24) == 0, "%s", err);
        ck_assert_int_eq(cl_kvm_filter_init(&f, "exit", "", err, sizeof(err)), 0);
        ck_assert(cl_kvm_filter_match(&f, "exit"));
        ck_assert(!cl_kvm_filter_match(&f, "exits"));
        ck_assert(!cl_kvm_filter_match(&f, "halt_exit"));
        cl_kvm_filter_free(&f);
        ck_assert_int_eq(cl_kvm_filter_init(&f, NULL, "halt_.*", err, sizeof(err)), 0);
        ck_assert(cl_kvm_filter_match(&f, "exits"));
        ck_assert(!cl_kvm_filter_match(&f, "halt_wait_ns"));
        cl_kvm_filter_free(&f);
        cl_kvm_filter_free(&f); /* twice is harmless */
}
END_TEST

START_TEST(not_a_stats_fd) {
        int p[2];
        struct cl_kvm_schema *s = NULL;
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(cl_kvm_schema_parse(p[0], &s), -ESPIPE);
        ck_assert_int_eq(cl_kvm_schema_parse(-1, &s), -EBADF);
        ck_assert_ptr_null(s);
        close(p[0]);
        close(p[1]);
}
END_TEST

static Suite *kvm_stats_suite(void) {
        Suite *s = suite_create("kvm_stats");
        TCase *tc = tcase_create("real");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, schema_matches_raw_descriptors);
        tcase_add_test(tc, kernel_exits_cover_userspace_exits);
        tcase_add_test(tc, counters_rise_between_samples);
        tcase_add_test(tc, histograms_add_up);
        tcase_add_test(tc, filter_marks_what_is_exported);
        tcase_add_test(tc, filter_errors_explain);
        tcase_add_test(tc, unchanged_thread_shares_values);
        suite_add_tcase(s, tc);
        TCase *bad = tcase_create("hostile");
        tcase_set_timeout(bad, 120);
        tcase_add_test(bad, fake_well_formed_parses);
        tcase_add_loop_test(bad, hostile_schema_refused, 0, sizeof(hostile_names) / sizeof(hostile_names[0]));
        tcase_add_test(bad, random_schema_never_crashes);
        tcase_add_test(bad, not_a_stats_fd);
        suite_add_tcase(s, bad);
        return s;
}

int main(void) {
        return test_run_suite(kvm_stats_suite());
}
