/* kvm: the KVM binary stats fd (KVM_GET_STATS_FD) of each VM and vCPU. The schema comes from
 * the descriptors the running kernel reports, never from a list of names; it is parsed once
 * per fd, and every sample is then one pread of the data block. */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"

/* Far above what any kernel reports (about 60 descriptors, 48-byte names, a few hundred
 * values), low enough that a hostile header cannot make us allocate or read without bound. */
#define KVM_MAX_DESC 1024
#define KVM_MAX_NAME_SIZE 1024
#define KVM_MAX_VALUES 65536
#define KVM_MAX_EXPONENT 64

struct cl_kvm_schema *cl_kvm_schema_ref(struct cl_kvm_schema *s) {
        if (s)
                atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
        return s;
}

static void schema_free(struct cl_kvm_schema *s) {
        if (!s)
                return;
        free(s->desc);
        free(s);
}

void cl_kvm_schema_unref(struct cl_kvm_schema *s) {
        if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
                schema_free(s);
}

/* The whole of [off, off + len) or -EBADMSG: the fd is shorter than its header claims. */
static int pread_full(int fd, void *buf, size_t len, uint64_t off) {
        ssize_t n;
        do
                n = pread(fd, buf, len, (off_t) off);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t) n == len ? 0 : -EBADMSG;
}

/* Type, unit and base; false for values this code does not know (a newer kernel's). */
static bool desc_decode_flags(uint32_t flags, struct cl_kvm_desc *d, unsigned *ret_base) {
        switch (flags & KVM_STATS_TYPE_MASK) {
        case KVM_STATS_TYPE_CUMULATIVE: d->kind = CL_KVM_COUNTER; break;
        case KVM_STATS_TYPE_INSTANT: d->kind = CL_KVM_GAUGE; break;
        case KVM_STATS_TYPE_PEAK: d->kind = CL_KVM_GAUGE; d->peak = true; break;
        case KVM_STATS_TYPE_LINEAR_HIST: d->kind = CL_KVM_HIST_LINEAR; break;
        case KVM_STATS_TYPE_LOG_HIST: d->kind = CL_KVM_HIST_LOG; break;
        default: return false;
        }
        switch (flags & KVM_STATS_UNIT_MASK) {
        case KVM_STATS_UNIT_NONE: d->unit = CL_UNIT_NONE; break;
        case KVM_STATS_UNIT_BYTES: d->unit = CL_UNIT_BYTES; break;
        case KVM_STATS_UNIT_SECONDS: d->unit = CL_UNIT_SECONDS; break;
        case KVM_STATS_UNIT_CYCLES: d->unit = CL_UNIT_CYCLES; break;
        case KVM_STATS_UNIT_BOOLEAN: d->unit = CL_UNIT_BOOLEAN; break;
        default: return false;
        }
        switch (flags & KVM_STATS_BASE_MASK) {
        case KVM_STATS_BASE_POW10: *ret_base = 10; break;
        case KVM_STATS_BASE_POW2: *ret_base = 2; break;
        default: return false;
        }
        return true;
}

/* base^exponent without libm; exact for the kernel's exponents (10^-9 is 1 / 10^9). */
static double scale_of(unsigned base, int exponent) {
        double s = 1;
        for (int i = 0; i < abs(exponent); i++)
                s *= base;
        return exponent < 0 ? 1 / s : s;
}

/* Names end up in metric names: the kernel's are C identifiers, so anything else is damage. */
static bool name_valid(const char *name, size_t len) {
        if (len == 0 || len >= sizeof(((struct cl_kvm_desc *) 0)->name))
                return false;
        for (size_t i = 0; i < len; i++) {
                char ch = name[i];
                if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
                        return false;
        }
        return true;
}

/* Decodes one raw descriptor into d. 0 when usable, 1 when well-formed but of a type, unit or
 * base this code does not know (skipped), -EBADMSG when malformed. *ret_end is the index one
 * past its last value. */
static int desc_parse(const uint8_t *raw, uint32_t name_size, struct cl_kvm_desc *d, uint64_t *ret_end) {
        struct kvm_stats_desc kd;
        memcpy(&kd, raw, sizeof(kd)); /* the descriptor stride need not keep it aligned */
        const char *name = (const char *) raw + sizeof(kd);
        size_t len = strnlen(name, name_size);
        if (len == name_size || !name_valid(name, len))
                return -EBADMSG;
        if (kd.size == 0 || kd.offset % sizeof(uint64_t) != 0)
                return -EBADMSG;
        *ret_end = kd.offset / sizeof(uint64_t) + kd.size;
        if (*ret_end > KVM_MAX_VALUES)
                return -EBADMSG;

        unsigned base;
        *d = (struct cl_kvm_desc) { .sum_of = -1, .exported = true };
        if (!desc_decode_flags(kd.flags, d, &base))
                return 1;
        if (kd.exponent < -KVM_MAX_EXPONENT || kd.exponent > KVM_MAX_EXPONENT)
                return -EBADMSG;
        if (d->kind == CL_KVM_HIST_LINEAR && kd.bucket_size == 0)
                return -EBADMSG;
        memcpy(d->name, name, len);
        d->scale = scale_of(base, kd.exponent);
        d->size = kd.size;
        d->bucket_size = kd.bucket_size;
        d->offset = kd.offset;
        d->index = kd.offset / sizeof(uint64_t);
        return 0;
}

static int schema_find(const struct cl_kvm_schema *s, const char *name) {
        for (size_t i = 0; i < s->n_desc; i++)
                if (strcmp(s->desc[i].name, name) == 0)
                        return (int) i;
        return -1;
}

/* A histogram "X_hist" pairs with the counter "X_ns" holding the sum of what it counted. */
static void schema_link_sums(struct cl_kvm_schema *s) {
        for (size_t i = 0; i < s->n_desc; i++) {
                struct cl_kvm_desc *d = &s->desc[i];
                size_t len = strlen(d->name);
                if (d->kind != CL_KVM_HIST_LINEAR && d->kind != CL_KVM_HIST_LOG)
                        continue;
                if (len < 5 || strcmp(d->name + len - 5, "_hist") != 0)
                        continue;
                char sum[sizeof(d->name)];
                memcpy(sum, d->name, len - 5);
                strcpy(sum + len - 5, "_ns");
                int j = schema_find(s, sum);
                if (j >= 0 && s->desc[j].kind == CL_KVM_COUNTER && s->desc[j].size == 1)
                        d->sum_of = j;
        }
}

static bool schema_names_unique(const struct cl_kvm_schema *s) {
        for (size_t i = 0; i < s->n_desc; i++)
                for (size_t j = i + 1; j < s->n_desc; j++)
                        if (strcmp(s->desc[i].name, s->desc[j].name) == 0)
                                return false;
        return true;
}

static int schema_read_id(int fd, const struct kvm_stats_header *h, struct cl_kvm_schema *s) {
        char *id = malloc(h->name_size);
        if (!id)
                return -ENOMEM;
        int r = pread_full(fd, id, h->name_size, h->id_offset);
        if (r == 0) {
                size_t len = strnlen(id, h->name_size);
                if (len >= sizeof(s->id))
                        len = sizeof(s->id) - 1;
                memcpy(s->id, id, len);
                s->id[len] = 0;
        }
        free(id);
        return r;
}

static int schema_read_descs(int fd, const struct kvm_stats_header *h, struct cl_kvm_schema *s) {
        size_t stride = sizeof(struct kvm_stats_desc) + h->name_size;
        uint8_t *raw = malloc(stride * h->num_desc);
        if (!raw)
                return -ENOMEM;
        int r = pread_full(fd, raw, stride * h->num_desc, h->desc_offset);
        for (size_t i = 0; r == 0 && i < h->num_desc; i++) {
                uint64_t end;
                int k = desc_parse(raw + i * stride, h->name_size, &s->desc[s->n_desc], &end);
                if (k < 0)
                        r = k;
                else if (k == 0)
                        s->n_desc++;
                if (k >= 0 && end > s->n_values)
                        s->n_values = end; /* skipped descriptors still occupy the data block */
        }
        free(raw);
        return r;
}

/* A sub-second unit in a stat's name (halt_wait_ns): its value is scaled to seconds. */
static bool time_token(const char *t, size_t n) {
        return n == 2 && t[1] == 's' && (t[0] == 'n' || t[0] == 'u' || t[0] == 'm');
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
        size_t m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

void cl_kvm_metric_name(const struct cl_kvm_desc *d, char out[CL_KVM_METRIC_LEN]) {
        size_t n = 0;
        for (const char *t = d->name; *t;) {
                size_t len = strcspn(t, "_");
                if (len && !(d->unit == CL_UNIT_SECONDS && time_token(t, len)) && n + len + 1 < CL_KVM_METRIC_LEN - 16) {
                        if (n)
                                out[n++] = '_';
                        for (size_t i = 0; i < len; i++) {
                                char c = t[i];
                                out[n++] = c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a')
                                         : (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
                        }
                }
                t += len + (t[len] == '_');
        }
        out[n] = 0;
        if (d->kind == CL_KVM_COUNTER && n > 6 && ends_with(out, n, "_total"))
                out[n -= 6] = 0;
        const char *unit = d->unit == CL_UNIT_SECONDS ? "_seconds" : d->unit == CL_UNIT_BYTES ? "_bytes" : NULL;
        if (unit && strcmp(out, unit + 1) != 0 && !ends_with(out, n, unit)) /* after the prefix's _ */
                snprintf(out + n, CL_KVM_METRIC_LEN - n, "%s", n ? unit : unit + 1);
}

int cl_kvm_schema_parse(int fd, struct cl_kvm_schema **ret) {
        struct kvm_stats_header h;
        struct cl_kvm_schema *s = NULL;
        uint64_t *probe = NULL;
        int r;

        if ((r = pread_full(fd, &h, sizeof(h), 0)) < 0)
                return r;
        if (h.name_size < 2 || h.name_size > KVM_MAX_NAME_SIZE || h.num_desc == 0 || h.num_desc > KVM_MAX_DESC ||
            h.id_offset < sizeof(h) || h.desc_offset < sizeof(h) || h.data_offset < sizeof(h))
                return -EBADMSG;

        s = calloc(1, sizeof(*s));
        if (!s || !(s->desc = calloc(h.num_desc, sizeof(*s->desc)))) {
                r = -ENOMEM;
                goto fail;
        }
        atomic_init(&s->refs, 1);
        s->data_offset = h.data_offset;
        if ((r = schema_read_id(fd, &h, s)) < 0 || (r = schema_read_descs(fd, &h, s)) < 0)
                goto fail;
        if (!schema_names_unique(s)) {
                r = -EBADMSG;
                goto fail;
        }
        schema_link_sums(s);
        for (size_t d = 0; d < s->n_desc; d++)
                cl_kvm_metric_name(&s->desc[d], s->desc[d].metric);
        /* every descriptor's values must lie inside the fd's real data block */
        if (!(probe = malloc(s->n_values * sizeof(*probe)))) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = cl_kvm_read_values(fd, s, probe)) < 0)
                goto fail;
        free(probe);
        *ret = s;
        return 0;
fail:
        free(probe);
        schema_free(s);
        return r;
}

int cl_kvm_read_values(int fd, const struct cl_kvm_schema *s, uint64_t *values) {
        return pread_full(fd, values, s->n_values * sizeof(*values), s->data_offset);
}

/* ---- refcounted values ---------------------------------------------------------------------------- */

struct values {
        _Atomic unsigned refs;
        uint64_t v[];
};

static struct values *values_of(uint64_t *v) {
        return (struct values *) ((char *) v - offsetof(struct values, v));
}

uint64_t *cl_kvm_values_new(size_t n) {
        struct values *b = malloc(sizeof(*b) + (n ? n : 1) * sizeof(uint64_t));
        if (!b)
                return NULL;
        atomic_init(&b->refs, 1);
        return b->v;
}

uint64_t *cl_kvm_values_ref(uint64_t *v) {
        if (v)
                atomic_fetch_add_explicit(&values_of(v)->refs, 1, memory_order_relaxed);
        return v;
}

void cl_kvm_values_unref(uint64_t *v) {
        if (v && atomic_fetch_sub_explicit(&values_of(v)->refs, 1, memory_order_acq_rel) == 1)
                free(values_of(v));
}

/* ---- the stats filter --------------------------------------------------------------------------- */

/* src anchored at both ends, compiled into re; -EINVAL with the reason alone in why */
static int regex_anchored(regex_t *re, const char *src, char *why, size_t why_len) {
        char anchored[1024];
        if ((size_t) snprintf(anchored, sizeof(anchored), "^(%s)$", src) >= sizeof(anchored)) {
                snprintf(why, why_len, "the regex is too long (at most %zu characters)", sizeof(anchored) - 5);
                return -EINVAL;
        }
        int r = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                regerror(r, re, why, why_len);
                return -EINVAL;
        }
        return 0;
}

int cl_kvm_regex_check(const char *src, char *why, size_t why_len) {
        regex_t re;
        int r = regex_anchored(&re, src, why, why_len);
        if (r == 0)
                regfree(&re);
        return r;
}

static int filter_compile(regex_t *re, bool *has, const char *what, const char *src, char *err, size_t err_len) {
        char why[160];
        *has = false;
        if (!src || !src[0])
                return 0;
        if (regex_anchored(re, src, why, sizeof(why)) < 0) {
                snprintf(err, err_len, "kvm stats %s '%s': %s", what, src, why);
                return -EINVAL;
        }
        *has = true;
        return 0;
}

int cl_kvm_filter_init(struct cl_kvm_filter *f, const char *include, const char *exclude, char *err, size_t err_len) {
        *f = (struct cl_kvm_filter) { 0 };
        int r = filter_compile(&f->include, &f->has_include, "include", include, err, err_len);
        if (r == 0 && (r = filter_compile(&f->exclude, &f->has_exclude, "exclude", exclude, err, err_len)) < 0)
                cl_kvm_filter_free(f);
        return r;
}

bool cl_kvm_filter_match(const struct cl_kvm_filter *f, const char *name) {
        if (f->has_include && regexec(&f->include, name, 0, NULL, 0) != 0)
                return false;
        return !(f->has_exclude && regexec(&f->exclude, name, 0, NULL, 0) == 0);
}

void cl_kvm_filter_free(struct cl_kvm_filter *f) {
        if (f->has_include)
                regfree(&f->include);
        if (f->has_exclude)
                regfree(&f->exclude);
        f->has_include = f->has_exclude = false;
}

/* ---- the collector ------------------------------------------------------------------------------ */

/* A vCPU's stats fd and its values at the last sample: a thread the executor found idle since
 * (cl_vcpu_raw.idle) cannot have changed its KVM stats. */
struct kvm_vcpu_state {
        struct cl_kvm_schema *schema;
        uint64_t *last; /* a reference, or NULL */
};

/* Per VM: the schemas of its stats fds, parsed on first use. */
struct kvm_vm_state {
        struct cl_kvm_schema *vm;
        unsigned n_vcpus;
        struct kvm_vcpu_state vcpu[];
};

static void kvm_vm_state_free(struct kvm_vm_state *st) {
        if (!st)
                return;
        cl_kvm_schema_unref(st->vm);
        for (unsigned i = 0; i < st->n_vcpus; i++) {
                cl_kvm_schema_unref(st->vcpu[i].schema);
                cl_kvm_values_unref(st->vcpu[i].last);
        }
        free(st);
}

/* The collector's own state: the stats filter, and every distinct schema in use. Each vCPU's
 * stats fd describes itself, but on one kernel they all describe the same stats: a schema equal
 * to one already held is dropped for that one, so 1,024 vCPUs share one schema (47 descriptors,
 * 5 KiB each, not 1,024 copies) and the renderers see equal schemas as one pointer. */
struct kvm_priv {
        bool filtered;
        struct cl_kvm_filter filter;
        pthread_mutex_t lock; /* interned: VMs are added from the sampler, removed from the manager */
        struct cl_kvm_schema *interned[16];
        size_t n_interned;
};

static bool desc_equal(const struct cl_kvm_desc *a, const struct cl_kvm_desc *b) {
        return strcmp(a->name, b->name) == 0 && a->kind == b->kind && a->unit == b->unit && a->peak == b->peak &&
               a->scale == b->scale && a->size == b->size && a->bucket_size == b->bucket_size &&
               a->offset == b->offset && a->index == b->index && a->sum_of == b->sum_of && a->exported == b->exported;
}

static bool schema_equal(const struct cl_kvm_schema *a, const struct cl_kvm_schema *b) {
        if (a->n_desc != b->n_desc || a->n_values != b->n_values || a->data_offset != b->data_offset)
                return false;
        for (size_t i = 0; i < a->n_desc; i++)
                if (!desc_equal(&a->desc[i], &b->desc[i]))
                        return false;
        return true;
}

/* Marks what the filter leaves out, then swaps *s for an equal schema already held, if any (a
 * full table keeps later schemas to themselves). Once, before any sample shares the schema. */
static void schema_settle(struct kvm_priv *kp, struct cl_kvm_schema **s) {
        for (size_t i = 0; kp && kp->filtered && i < (*s)->n_desc; i++)
                (*s)->desc[i].exported = cl_kvm_filter_match(&kp->filter, (*s)->desc[i].name);
        if (!kp)
                return;
        pthread_mutex_lock(&kp->lock);
        size_t i = 0;
        while (i < kp->n_interned && !schema_equal(kp->interned[i], *s))
                i++;
        if (i < kp->n_interned) {
                cl_kvm_schema_unref(*s);
                *s = cl_kvm_schema_ref(kp->interned[i]);
        } else if (kp->n_interned < sizeof(kp->interned) / sizeof(kp->interned[0])) {
                kp->interned[kp->n_interned++] = cl_kvm_schema_ref(*s);
        }
        pthread_mutex_unlock(&kp->lock);
}

static int kvm_vm_state_new(struct collector *c, struct hv_vm *vm, struct kvm_vm_state **ret) {
        struct kvm_vm_state *st = calloc(1, sizeof(*st) + vm->n_vcpus * sizeof(st->vcpu[0]));
        int r;

        if (!st)
                return collector_fail(c, -ENOMEM, "kvm: %s: out of memory", vm->name);
        if ((r = cl_kvm_schema_parse(vm->stats_fd, &st->vm)) < 0) {
                kvm_vm_state_free(st);
                return collector_fail(c, r, "kvm: %s: VM stats fd: %s", vm->name, strerror(-r));
        }
        schema_settle(c->priv, &st->vm);
        for (; st->n_vcpus < vm->n_vcpus; st->n_vcpus++) {
                unsigned i = st->n_vcpus;
                if ((r = cl_kvm_schema_parse(vm->vcpus[i]->stats_fd, &st->vcpu[i].schema)) < 0) {
                        kvm_vm_state_free(st);
                        return collector_fail(c, r, "kvm: %s: vCPU %u stats fd: %s", vm->name, i, strerror(-r));
                }
                schema_settle(c->priv, &st->vcpu[i].schema);
        }
        *ret = st;
        return 0;
}

/* One read into a fresh array; on success the caller's raw owns the array and a reference. */
static int kvm_read_fd(int fd, struct cl_kvm_schema *s, const struct cl_kvm_schema **ret_schema,
                       uint64_t **ret_values) {
        uint64_t *v = cl_kvm_values_new(s->n_values);
        if (!v)
                return -ENOMEM;
        int r = cl_kvm_read_values(fd, s, v);
        if (r < 0) {
                cl_kvm_values_unref(v);
                return r;
        }
        *ret_values = v;
        *ret_schema = cl_kvm_schema_ref(s);
        return 0;
}

static int kvm_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        struct kvm_vm_state *st = vm->priv[c->slot];
        int failed = 0, r;

        if (!st) {
                if ((r = kvm_vm_state_new(c, vm->hv, &st)) < 0)
                        return r;
                vm->priv[c->slot] = st;
        }
        if ((r = kvm_read_fd(vm->hv->stats_fd, st->vm, &out->kvm_schema, &out->kvm)) < 0)
                failed = collector_fail(c, r, "kvm: %s: reading VM stats: %s", vm->hv->name, strerror(-r));
        for (unsigned i = 0; i < out->n_vcpus && i < st->n_vcpus; i++) {
                struct cl_vcpu_raw *v = &out->vcpus[i];
                struct kvm_vcpu_state *vs = &st->vcpu[i];
                if (vs->last && v->idle) { /* off every CPU since the last sample: unchanged */
                        v->kvm = cl_kvm_values_ref(vs->last);
                        v->kvm_schema = cl_kvm_schema_ref(vs->schema);
                        v->have |= CL_HAVE_KVM;
                        continue;
                }
                r = kvm_read_fd(vm->hv->vcpus[i]->stats_fd, vs->schema, &v->kvm_schema, &v->kvm);
                cl_kvm_values_unref(vs->last);
                vs->last = NULL;
                if (r < 0) {
                        failed = collector_fail(c, r, "kvm: %s: reading vCPU %u stats: %s", vm->hv->name, i,
                                                strerror(-r));
                        continue;
                }
                v->have |= CL_HAVE_KVM;
                vs->last = cl_kvm_values_ref(v->kvm);
        }
        if (out->kvm)
                out->have |= CL_HAVE_KVM;
        return failed;
}

static void kvm_forget_vm(struct collector *c, struct cl_vm *vm) {
        kvm_vm_state_free(vm->priv[c->slot]);
        vm->priv[c->slot] = NULL;
}

/* c->priv: the filter and the schemas in use, each kept once */
static int kvm_init(struct collector *c) {
        struct kvm_priv *kp = calloc(1, sizeof(*kp));
        int r;
        if (!kp)
                return -ENOMEM;
        pthread_mutex_init(&kp->lock, NULL);
        c->priv = kp;
        if ((!c->stats_include || !c->stats_include[0]) && (!c->stats_exclude || !c->stats_exclude[0]))
                return 0;
        if ((r = cl_kvm_filter_init(&kp->filter, c->stats_include, c->stats_exclude, c->error, sizeof(c->error))) < 0)
                return r;
        kp->filtered = true;
        return 0;
}

static void kvm_fini(struct collector *c) {
        struct kvm_priv *kp = c->priv;
        if (!kp)
                return;
        if (kp->filtered)
                cl_kvm_filter_free(&kp->filter);
        for (size_t i = 0; i < kp->n_interned; i++)
                cl_kvm_schema_unref(kp->interned[i]);
        pthread_mutex_destroy(&kp->lock);
        free(kp);
        c->priv = NULL;
}

const struct collector_ops collector_kvm = {
        .name = "kvm",
        .enabled_by_default = true,
        .init = kvm_init,
        .fini = kvm_fini,
        .sample_vm = kvm_sample_vm,
        .forget_vm = kvm_forget_vm,
};
