/* Prometheus text 0.0.4 and OpenMetrics 1.0 for one immutable sample. Families go out
 * family-major (for each family, every VM, every vCPU), so each is emitted once and
 * contiguously; a family's header is written lazily with its first series, so one without
 * series leaves no trace. vmstatd's own families are the rows of metrics.c, in their order; the
 * KVM families the kernel describes follow the VM and vCPU rows.
 *
 * Fast because it is large (5 MB for 1,024 vCPUs): each series line is one reservation and a few
 * memcpy of texts made before: the family's name, the owner's labels (vm="b13",vcpu="0", made
 * once per render) and the value, formatted without printf for counts and nanoseconds. One
 * allocation per render (the owners' labels); nothing per series. */
#include "render_prom.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "prom_text.h"

#define NAME_LEN 160   /* prefix + a KVM metric name + unit and type suffixes */
#define LE_CACHE 64    /* bucket bounds kept per family */
#define OWNER_LEN 96   /* vm="<32 characters, escaped>",vcpu="63" */
#define LABELS_LEN 192 /* a row's own labels, and le */

struct owner_text {
        char s[OWNER_LEN];
        size_t len;
};

struct prom {
        struct vs_buf *b;
        bool om;
        /* the family being written: base is its name without a counter's _total */
        char base[NAME_LEN];
        size_t base_len;
        const char *help, *unit;
        const char *suffix; /* of its plain series: _total for counters */
        size_t suffix_len;
        char help_buf[256];
        enum vs_metric_type type;
        bool headed;
        /* the le labels of the family's buckets, the same for all its series */
        char le[LE_CACHE][32];
        size_t n_le;
        /* the labels of VM v at owners[first[v]], of its vCPU i at owners[first[v] + 1 + i] */
        struct owner_text *owners;
        size_t *first;
};

/* ---- families and series ------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* name="value" (value escaped) at out, which has room for it; returns its length */
static size_t label_pair(char *out, size_t size, const char *name, const char *value) {
        size_t n = strlen(name), v = strlen(value);
        if (n + 2 * v + 4 > size)
                return 0;
        memcpy(out, name, n);
        out[n++] = '=';
        out[n++] = '"';
        n += vs_prom_escape(out + n, value, true);
        out[n++] = '"';
        out[n] = 0;
        return n;
}

/* Starts a family; name is its text-format name (a counter's with _total). */
static void family(struct prom *p, const char *name, enum vs_metric_type type, const char *help, const char *unit) {
        snprintf(p->base, sizeof(p->base), "%s", name);
        p->base_len = strlen(p->base);
        if (type == VS_COUNTER && ends_with(p->base, "_total"))
                p->base[p->base_len -= 6] = 0;
        p->help = help;
        p->unit = unit;
        p->suffix = type == VS_COUNTER ? "_total" : "";
        p->suffix_len = strlen(p->suffix);
        p->type = type;
        p->headed = false;
        p->n_le = 0;
}

/* A KVM family's unit, from its name as OpenMetrics asks */
static const char *family_unit(const char *base) {
        static const char *const units[] = { "seconds", "bytes", "ratio" };
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                size_t n = strlen(base), m = strlen(units[i]);
                if (n > m && base[n - m - 1] == '_' && strcmp(base + n - m, units[i]) == 0)
                        return units[i];
        }
        return NULL;
}

static void header(struct prom *p) {
        static const char *const types[] = { [VS_COUNTER] = "counter", [VS_GAUGE] = "gauge",
                                             [VS_HISTOGRAM] = "histogram" };
        const char *total = p->type == VS_COUNTER && !p->om ? "_total" : "";
        if (p->om) {
                vs_buf_printf(p->b, "# TYPE %s %s\n", p->base, types[p->type]);
                if (p->unit)
                        vs_buf_printf(p->b, "# UNIT %s %s\n", p->base, p->unit);
        }
        vs_buf_printf(p->b, "# HELP %s%s ", p->base, total);
        char *help = vs_buf_reserve(p->b, 2 * strlen(p->help) + 1); /* escaping at most doubles it */
        if (help)
                vs_buf_commit(p->b, vs_prom_escape(help, p->help, p->om));
        vs_buf_puts(p->b, "\n");
        if (!p->om)
                vs_buf_printf(p->b, "# TYPE %s%s %s\n", p->base, total, types[p->type]);
        p->headed = true;
}

/* One series line: base + suffix {owner,labels} value. One reservation, no formatting. */
static void line(struct prom *p, const char *suffix, size_t suffix_len, const struct owner_text *o, const char *labels,
                 size_t labels_len, const char *value, size_t value_len) {
        if (!p->headed)
                header(p);
        size_t owner_len = o ? o->len : 0;
        char *start = vs_buf_reserve(p->b, p->base_len + suffix_len + owner_len + labels_len + value_len + 5);
        if (!start)
                return;
        char *w = start;
        memcpy(w, p->base, p->base_len);
        w += p->base_len;
        memcpy(w, suffix, suffix_len);
        w += suffix_len;
        if (owner_len || labels_len) {
                *w++ = '{';
                memcpy(w, o ? o->s : "", owner_len);
                w += owner_len;
                if (owner_len && labels_len)
                        *w++ = ',';
                memcpy(w, labels, labels_len);
                w += labels_len;
                *w++ = '}';
        }
        *w++ = ' ';
        memcpy(w, value, value_len);
        w += value_len;
        *w++ = '\n';
        vs_buf_commit(p->b, (size_t) (w - start));
}

/* One histogram series with the owner's labels and the row's (labels): buckets [0, n-1) with
 * bounds le(j) (ascending), bucket n-1 as +Inf; _sum and _count only when the sum is known
 * (OpenMetrics: _count if and only if _sum). */
static void histogram(struct prom *p, const struct owner_text *o, const char *labels, size_t labels_len,
                      const struct vs_hist *h) {
        uint64_t cum = 0;
        char bound[32], with_le[LABELS_LEN + 48], num[VS_PROM_VALUE_LEN];
        size_t n;
        memcpy(with_le, labels, labels_len);
        size_t at = labels_len + (labels_len ? 1 : 0);
        with_le[labels_len] = ',';
        for (size_t j = 0; j < h->n; j++) {
                const char *s = "+Inf";
                cum += h->buckets[j];
                if (j + 1 < h->n && j < p->n_le) {
                        s = p->le[j];
                } else if (j + 1 < h->n) {
                        double v = h->le(j, h->ctx);
                        if (isinf(v))
                                continue; /* beyond double range: folded into +Inf */
                        vs_prom_le(bound, v, p->om);
                        s = bound;
                        if (j == p->n_le && j < LE_CACHE)
                                memcpy(p->le[p->n_le++], bound, sizeof(bound));
                }
                size_t l = at + label_pair(with_le + at, sizeof(with_le) - at, "le", s);
                const char *v = vs_prom_value(num, (struct vs_value) { .kind = VS_UINT, .u = cum }, &n);
                line(p, "_bucket", 7, o, with_le, l, v, n);
        }
        if (!h->has_sum)
                return;
        const char *v = vs_prom_value(num, (struct vs_value) { .kind = VS_REAL, .d = h->sum }, &n);
        line(p, "_sum", 4, o, labels, labels_len, v, n);
        v = vs_prom_value(num, (struct vs_value) { .kind = VS_UINT, .u = cum }, &n);
        line(p, "_count", 6, o, labels, labels_len, v, n);
}

/* ---- the owners' labels, once per render ---------------------------------------------------------- */

static int owners_make(struct prom *p, const struct vs_sample *s) {
        size_t n = 0;
        for (unsigned v = 0; v < s->n_vms; v++)
                n += 1 + s->vms[v].vcpus;
        p->owners = malloc((n ? n : 1) * sizeof(*p->owners));
        p->first = malloc((s->n_vms ? s->n_vms : 1) * sizeof(*p->first));
        if (!p->owners || !p->first)
                return -ENOMEM;
        for (unsigned v = 0, at = 0; v < s->n_vms; v++) {
                const struct vs_vm_sample *vm = &s->vms[v];
                struct owner_text *o = &p->owners[p->first[v] = at];
                if (!(o->len = label_pair(o->s, sizeof(o->s), "vm", vm->name)))
                        return -ENAMETOOLONG; /* a VM name is [a-z0-9_-]{1,32}: never */
                for (unsigned i = 0; i < vm->vcpus; i++) {
                        char num[24];
                        struct owner_text *c = &p->owners[at + 1 + i];
                        memcpy(c->s, o->s, o->len);
                        c->s[o->len] = ',';
                        c->len = o->len + 1 + label_pair(c->s + o->len + 1, sizeof(c->s) - o->len - 1, "vcpu",
                                                         vs_prom_uint(num, i));
                }
                at += 1 + vm->vcpus;
        }
        return 0;
}

static const struct owner_text *owner_of(const struct prom *p, const struct vs_sample *s, const struct vs_vm_sample *vm,
                                          int cpu) {
        size_t first = p->first[vm - s->vms];
        return &p->owners[cpu < 0 ? first : first + 1 + (size_t) cpu];
}

/* ---- vmstatd's own families: the rows of metrics.c ------------------------------------------------- */

/* A row's own label, name="value" for each of its values, made once per family */
#define ROW_LABELS 16

struct row_labels {
        char text[ROW_LABELS][48];
        size_t len[ROW_LABELS];
};

static void row_labels_make(const struct vs_metric *m, struct row_labels *l) {
        for (unsigned k = 0; k < m->n && k < ROW_LABELS; k++)
                l->len[k] = m->label ? label_pair(l->text[k], sizeof(l->text[k]), m->label, m->label_value(k)) : 0;
}

/* Every series of row m for one owner */
static void row_series(struct prom *p, const struct vs_metric *m, const struct row_labels *fixed,
                       const struct vs_metric_at *at, const struct owner_text *o) {
        char made[LABELS_LEN], num[VS_PROM_VALUE_LEN];
        for (unsigned k = 0; k < m->n; k++) {
                size_t n = 0, len;
                const char *labels = made;
                if (m->present && !m->present(at, (int) k))
                        continue; /* never a fake 0 */
                if (m->labels)
                        n = m->labels(at, k, made, sizeof(made));
                else if (m->label && k < ROW_LABELS)
                        n = fixed->len[k], labels = fixed->text[k];
                else if (m->label)
                        n = label_pair(made, sizeof(made), m->label, m->label_value(k));
                if (m->type == VS_HISTOGRAM) {
                        struct vs_hist h = m->hist(at, k);
                        histogram(p, o, labels, n, &h);
                        continue;
                }
                const char *v = vs_prom_value(num, m->read(at, k), &len);
                line(p, p->suffix, p->suffix_len, o, labels, n, v, len);
        }
}

static void row_family(struct prom *p, const struct vs_sample *s, const struct vs_metric *m,
                       const struct vs_render_opts *opts) {
        struct vs_metric_at at = { .s = s, .cpu = -1, .histograms = opts && opts->histograms,
                                   .renders = opts ? opts->renders : NULL };
        struct row_labels fixed;
        family(p, m->name, m->type, m->help, m->unit);
        row_labels_make(m, &fixed);
        switch (m->scope) {
        case VS_SCOPE_HOST:
                if (vs_metric_has(m, &at, -1))
                        row_series(p, m, &fixed, &at, NULL);
                break;
        case VS_SCOPE_COLLECTOR:
                for (at.collector = 0; at.collector < s->n_collectors; at.collector++)
                        row_series(p, m, &fixed, &at, NULL);
                break;
        case VS_SCOPE_VM:
        case VS_SCOPE_VCPU:
                for (unsigned v = 0; v < s->n_vms; v++) {
                        at.vm = &s->vms[v];
                        bool vcpu = m->scope == VS_SCOPE_VCPU;
                        for (at.cpu = vcpu ? 0 : -1; at.cpu < (vcpu ? (int) at.vm->vcpus : 0); at.cpu++)
                                if (vs_metric_has(m, &at, -1))
                                        row_series(p, m, &fixed, &at, owner_of(p, s, at.vm, at.cpu));
                }
                break;
        }
}

/* ---- KVM binary stats, from the descriptors the kernel reports ------------------------------------------- */

/* Walks the VMs' (vcpu false) or vCPUs' stats: every owner with a schema and values. */
struct kvm_cursor {
        const struct vs_sample *s;
        bool vcpu;
        unsigned v, i;
};

struct kvm_owner {
        const struct vs_vm_sample *vm;
        int cpu;
        const struct cl_kvm_schema *schema;
        const uint64_t *values;
};

static bool kvm_next(struct kvm_cursor *c, struct kvm_owner *o) {
        for (; c->v < c->s->n_vms; c->v++, c->i = 0) {
                const struct vs_vm_sample *vm = &c->s->vms[c->v];
                if (!c->vcpu) {
                        if (c->i++ == 0 && vm->raw.kvm_schema && vm->raw.kvm) {
                                *o = (struct kvm_owner) { vm, -1, vm->raw.kvm_schema, vm->raw.kvm };
                                return true;
                        }
                        continue;
                }
                while (c->i < vm->vcpus && c->i < vm->raw.n_vcpus) {
                        const struct cl_vcpu_raw *r = &vm->raw.vcpus[c->i++];
                        if ((r->have & CL_HAVE_KVM) && r->kvm_schema && r->kvm) {
                                *o = (struct kvm_owner) { vm, (int) c->i - 1, r->kvm_schema, r->kvm };
                                return true;
                        }
                }
        }
        return false;
}

static bool kvm_is_hist(const struct cl_kvm_desc *d) {
        return d->kind == CL_KVM_HIST_LINEAR || d->kind == CL_KVM_HIST_LOG;
}

static bool kvm_renderable(const struct cl_kvm_desc *d, bool histograms) {
        if (!d->exported)
                return false;
        return kvm_is_hist(d) ? histograms && d->size >= 1 : d->size == 1;
}

/* Same stat with the same layout: one family can hold both. */
static bool kvm_desc_same(const struct cl_kvm_desc *a, const struct cl_kvm_desc *b) {
        if (a == b) /* the kvm collector shares one schema among equal ones: the usual case */
                return true;
        return strcmp(a->name, b->name) == 0 && a->kind == b->kind && a->unit == b->unit &&
               (!kvm_is_hist(a) || (a->size == b->size && a->bucket_size == b->bucket_size && a->scale == b->scale));
}

static bool kvm_schema_same(const struct cl_kvm_schema *a, const struct cl_kvm_schema *b) {
        if (a == b)
                return true;
        if (a->n_desc != b->n_desc)
                return false;
        for (size_t d = 0; d < a->n_desc; d++)
                if (!kvm_desc_same(&a->desc[d], &b->desc[d]))
                        return false;
        return true;
}

/* The stat's metric name after the prefix: set when the kernel's schema was parsed, made here
 * for one made by hand. */
static const char *kvm_metric(const struct cl_kvm_desc *d, char tmp[CL_KVM_METRIC_LEN]) {
        if (d->metric[0])
                return d->metric;
        cl_kvm_metric_name(d, tmp);
        return tmp;
}

/* Every owner of one scope, in body order: walked once per family, 47 families at 1,024 vCPUs. */
struct kvm_owners {
        struct kvm_owner *o;
        size_t n;
};

static int kvm_owners_list(const struct vs_sample *s, bool vcpu, struct kvm_owners *ret) {
        size_t cap = vcpu ? 0 : s->n_vms;
        for (size_t v = 0; vcpu && v < s->n_vms; v++)
                cap += s->vms[v].vcpus;
        ret->o = malloc((cap ? cap : 1) * sizeof(*ret->o));
        ret->n = 0;
        if (!ret->o)
                return -ENOMEM;
        struct kvm_cursor c = { .s = s, .vcpu = vcpu };
        while (ret->n < cap && kvm_next(&c, &ret->o[ret->n]))
                ret->n++;
        return 0;
}

/* Whether one of the first n stats of schema sc is renderable and has this metric name. */
static bool kvm_schema_names(const struct cl_kvm_schema *sc, size_t n, bool histograms, const char *name) {
        char tmp[CL_KVM_METRIC_LEN];
        for (size_t k = 0; k < n; k++)
                if (kvm_renderable(&sc->desc[k], histograms) && strcmp(kvm_metric(&sc->desc[k], tmp), name) == 0)
                        return true;
        return false;
}

/* Whether a renderable stat before stat d of owner at already has this metric name: an earlier
 * stat of the same schema or any stat of an earlier owner's. Two stats with one base name would
 * clash in OpenMetrics. */
static bool kvm_named_before(const struct kvm_owners *all, size_t at, size_t d, bool histograms, const char *name) {
        if (kvm_schema_names(all->o[at].schema, d, histograms, name))
                return true;
        const struct cl_kvm_schema *last = NULL;
        for (size_t k = 0; k < at; k++) {
                const struct cl_kvm_schema *sc = all->o[k].schema;
                if (last && kvm_schema_same(last, sc))
                        continue;
                last = sc;
                if (kvm_schema_names(sc, sc->n_desc, histograms, name))
                        return true;
        }
        return false;
}

struct kvm_hist_ctx {
        const struct cl_kvm_desc *d;
};

/* linear: bucket j holds [j, j+1) · bucket_size; log: bucket 0 holds 0, bucket j [2^(j-1), 2^j) */
static double kvm_le(size_t j, const void *ctx) {
        const struct cl_kvm_desc *d = ((const struct kvm_hist_ctx *) ctx)->d;
        double bound = 1;
        if (d->kind == CL_KVM_HIST_LINEAR)
                bound = (double) d->bucket_size * (double) (j + 1);
        else
                for (size_t k = 0; k < j && !isinf(bound); k++)
                        bound *= 2;
        return vs_prom_scale(bound, d->scale);
}

static void kvm_series(struct prom *p, const struct vs_sample *s, const struct kvm_owner *o,
                       const struct cl_kvm_desc *d) {
        const uint64_t *v = o->values + d->index;
        const struct owner_text *who = owner_of(p, s, o->vm, o->cpu);
        if (kvm_is_hist(d)) {
                const struct cl_kvm_desc *sum = d->sum_of >= 0 && (size_t) d->sum_of < o->schema->n_desc
                                                        ? &o->schema->desc[d->sum_of]
                                                        : NULL;
                struct kvm_hist_ctx ctx = { d };
                struct vs_hist h = { .buckets = v, .n = d->size, .le = kvm_le, .ctx = &ctx, .has_sum = sum != NULL,
                                     .sum = sum ? vs_prom_scale((double) o->values[sum->index], sum->scale) : 0 };
                histogram(p, who, "", 0, &h);
                return;
        }
        struct vs_value x = { .kind = VS_UINT, .u = *v };
        if (d->scale != 1 && vs_prom_scale_divisor(d->scale) == 1000000000u)
                x.kind = VS_NS; /* the kernel's _ns stats */
        else if (d->scale != 1)
                x = (struct vs_value) { .kind = VS_REAL, .d = vs_prom_scale((double) *v, d->scale) };
        char num[VS_PROM_VALUE_LEN];
        size_t n;
        const char *t = vs_prom_value(num, x, &n);
        line(p, p->suffix, p->suffix_len, who, "", 0, t, n);
}

static void kvm_help(const struct cl_kvm_desc *d, bool vcpu, char *out, size_t size) {
        static const char *const kinds[] = { [CL_KVM_COUNTER] = "cumulative", [CL_KVM_GAUGE] = "instant",
                                             [CL_KVM_HIST_LINEAR] = "linear histogram",
                                             [CL_KVM_HIST_LOG] = "log2 histogram" };
        snprintf(out, size, "KVM %s stat %s (%s%s), from the binary stats fd.", vcpu ? "vCPU" : "VM", d->name,
                 d->peak ? "peak" : kinds[d->kind],
                 d->unit == CL_UNIT_SECONDS ? ", in seconds" : d->unit == CL_UNIT_BYTES ? ", in bytes"
                 : d->unit == CL_UNIT_CYCLES ? ", in cycles" : d->unit == CL_UNIT_BOOLEAN ? ", 0 or 1" : "");
}

/* The stat d0 in schema sc: at index hint when the schemas agree, else found by name. */
static const struct cl_kvm_desc *kvm_find(const struct cl_kvm_schema *sc, size_t hint, const struct cl_kvm_desc *d0) {
        if (hint < sc->n_desc && kvm_desc_same(&sc->desc[hint], d0))
                return &sc->desc[hint];
        for (size_t k = 0; k < sc->n_desc; k++)
                if (kvm_desc_same(&sc->desc[k], d0))
                        return &sc->desc[k];
        return NULL;
}

/* how many owners ahead a family's walk asks for the value it will read: an owner's values
 * lie a kilobyte from the next one's, so each read is a cache miss unless asked for early */
#define KVM_PREFETCH 8

/* One family: every owner whose schema has the same stat. */
static void kvm_family(struct prom *p, const struct vs_sample *s, const struct kvm_owners *all, bool vcpu,
                       const struct cl_kvm_desc *d0, size_t at, const char *prefix, const char *metric) {
        char name[NAME_LEN];
        kvm_help(d0, vcpu, p->help_buf, sizeof(p->help_buf));
        snprintf(name, sizeof(name), "%s%s%s", prefix, metric, d0->kind == CL_KVM_COUNTER ? "_total" : "");
        enum vs_metric_type type = d0->kind == CL_KVM_COUNTER ? VS_COUNTER
                                 : d0->kind == CL_KVM_GAUGE   ? VS_GAUGE
                                                              : VS_HISTOGRAM;
        family(p, name, type, p->help_buf, NULL);
        p->unit = family_unit(p->base);
        for (size_t k = 0; k < all->n; k++) {
                if (k + KVM_PREFETCH < all->n) /* a prefetch never faults, even at a wrong index */
                        __builtin_prefetch(all->o[k + KVM_PREFETCH].values + d0->index);
                const struct kvm_owner *o = &all->o[k];
                const struct cl_kvm_desc *d = kvm_find(o->schema, at, d0);
                if (d)
                        kvm_series(p, s, o, d);
        }
}

/* The union of the owners' stats, each family once: owners whose schema matches the previous
 * one (the same kernel gives the same descriptors) add nothing and are skipped. */
static int kvm_families(struct prom *p, const struct vs_sample *s, bool vcpu, bool histograms) {
        const char *prefix = vcpu ? "vmstatd_kvm_vcpu_" : "vmstatd_kvm_vm_";
        struct kvm_owners all;
        int r = kvm_owners_list(s, vcpu, &all);
        if (r < 0)
                return r;
        const struct cl_kvm_schema *last = NULL;
        char tmp[CL_KVM_METRIC_LEN];
        for (size_t k = 0; k < all.n; k++) {
                const struct kvm_owner *o = &all.o[k];
                if (last && kvm_schema_same(last, o->schema))
                        continue;
                last = o->schema;
                for (size_t d = 0; d < o->schema->n_desc; d++) {
                        if (!kvm_renderable(&o->schema->desc[d], histograms))
                                continue;
                        const char *metric = kvm_metric(&o->schema->desc[d], tmp);
                        if (!kvm_named_before(&all, k, d, histograms, metric))
                                kvm_family(p, s, &all, vcpu, &o->schema->desc[d], d, prefix, metric);
                }
        }
        free(all.o);
        return 0;
}

/* ---- the body ----------------------------------------------------------------------------------------------- */

int vs_render_prometheus(const struct vs_sample *s, enum vs_prom_format f, const struct vs_render_opts *o,
                         struct vs_buf *out) {
        struct prom p = { .b = out, .om = f == VS_PROM_OPENMETRICS };
        bool histograms = o && o->histograms;
        int r = owners_make(&p, s);
        if (r == 0) {
                size_t last_owned = 0; /* the KVM families follow the last VM or vCPU row */
                for (size_t i = 0; i < vs_n_metrics; i++)
                        if (vs_metrics[i].scope == VS_SCOPE_VM || vs_metrics[i].scope == VS_SCOPE_VCPU)
                                last_owned = i;
                for (size_t i = 0; i < vs_n_metrics; i++) {
                        row_family(&p, s, &vs_metrics[i], o);
                        if (i == last_owned && r == 0) {
                                r = kvm_families(&p, s, false, histograms);
                                if (r == 0)
                                        r = kvm_families(&p, s, true, histograms);
                        }
                }
                if (p.om)
                        vs_buf_puts(out, "# EOF\n");
                if (r == 0)
                        r = vs_buf_status(out);
        }
        free(p.owners);
        free(p.first);
        return r;
}

const char *vs_prom_content_type(enum vs_prom_format f) {
        return f == VS_PROM_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                        : "text/plain; version=0.0.4; charset=utf-8";
}
