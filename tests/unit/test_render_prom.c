/* vmstatd/render_prom.c: a real sample (a running 2-vCPU VM, a crashed 1-vCPU VM, one never
 * started) passes `promtool check metrics` with zero findings and an OpenMetrics structure
 * check, lists exactly the names docs/METRICS.md documents, reads back the sample's own
 * numbers, and keeps a vCPU within the series budget. A hand-made sample covers what this
 * kernel does not show: escaping, linear histograms, histograms without a sum, unit names,
 * VMs whose KVM schemas differ. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvm_helper.h"
#include "metrics.h"
#include "prom_text.h"
#include "render_json.h"
#include "render_prom.h"
#include "sampler.h"

#define NAME 192
#define MAX_FAMILIES 512
#define SERIES_BUDGET 80 /* per vCPU with histograms off */

/* ---- rendering and text helpers ------------------------------------------------------------------ */

static char *render(const struct vs_sample *s, enum vs_prom_format f, bool histograms) {
        struct vs_buf b;
        struct vs_render_opts o = { .histograms = histograms };
        vs_buf_init(&b);
        ck_assert_int_eq(vs_render_prometheus(s, f, &o, &b), 0);
        ck_assert_ptr_nonnull(b.data);
        ck_assert_uint_eq(strlen(b.data), b.len); /* no NUL inside */
        return b.data;
}

static bool starts_with(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The value text of the series line that starts with `series ` (name and labels). */
static const char *series_value(const char *body, const char *series) {
        size_t n = strlen(series);
        for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, series, n) == 0 && p[n] == ' ')
                        return p + n + 1;
        return NULL;
}

/* The value of the series is written exactly as want. */
static void assert_series_text(const char *body, const char *series, const char *want) {
        const char *v = series_value(body, series);
        size_t n = strlen(want);
        ck_assert_msg(v && strncmp(v, want, n) == 0 && v[n] == '\n', "%s: %.*s, want %s", series,
                      v ? (int) strcspn(v, "\n") : 6, v ? v : "absent", want);
}

static double series_double(const char *body, const char *series) {
        const char *v = series_value(body, series);
        ck_assert_msg(v, "no series %s", series);
        return strtod(v, NULL);
}

static uint64_t series_uint(const char *body, const char *series) {
        const char *v = series_value(body, series);
        ck_assert_msg(v, "no series %s", series);
        char *end;
        uint64_t u = strtoull(v, &end, 10);
        ck_assert_msg(*end == '\n', "%s: not an integer: %.30s", series, v);
        return u;
}

/* ---- promtool ------------------------------------------------------------------------------------ */

/* Whether promtool is installed; a test needing it fails without it unless
 * VMSTATD_ALLOW_NO_PROMTOOL=1, which makes it skip. */
static bool have_promtool(void) {
        if (system("command -v promtool >/dev/null 2>&1") == 0)
                return true;
        const char *allow = getenv("VMSTATD_ALLOW_NO_PROMTOOL");
        ck_assert_msg(allow && strcmp(allow, "1") == 0,
                      "needs promtool (apt-get install prometheus); VMSTATD_ALLOW_NO_PROMTOOL=1 skips");
        return false;
}

#define REQUIRE_PROMTOOL()                                                                \
        do {                                                                              \
                if (!have_promtool())                                                     \
                        TEST_SKIP("promtool missing (VMSTATD_ALLOW_NO_PROMTOOL=1)");      \
        } while (0)

/* `promtool check metrics` on body: its exit status, its output in out. */
static int promtool(const char *body, char *out, size_t size) {
        char path[] = "/tmp/vmstatd-prom-XXXXXX", cmd[128];
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        size_t len = strlen(body);
        ck_assert_int_eq(write(fd, body, len), (ssize_t) len);
        close(fd);
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        size_t n = fread(out, 1, size - 1, p);
        out[n] = 0;
        int status = pclose(p);
        unlink(path);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void assert_promtool_clean(const char *body) {
        static char out[65536];
        int rc = promtool(body, out, sizeof(out));
        ck_assert_msg(rc == 0 && out[0] == 0, "promtool check metrics: exit %d:\n%s", rc, out);
}

/* ---- sample lines -------------------------------------------------------------------------------- */

struct line {
        char name[NAME];
        char series[512]; /* the labels other than le, as written */
        char le[64];      /* the le label's value, empty if none */
        char value[64];
};

/* Parses `name{labels} value`; label values may hold escapes. */
static void parse_line(const char *p, size_t len, struct line *l) {
        char text[1024];
        ck_assert_uint_lt(len, sizeof(text));
        memcpy(text, p, len);
        text[len] = 0;
        *l = (struct line) { 0 };
        size_t n = strcspn(text, "{ ");
        ck_assert_msg(n > 0 && n < NAME, "bad sample line: %s", text);
        memcpy(l->name, text, n);
        const char *q = text + n;
        if (*q == '{') {
                q++;
                while (*q != '}') {
                        const char *start = q;
                        size_t k = strcspn(q, "=");
                        ck_assert_msg(q[k] == '=' && q[k + 1] == '"', "bad labels: %s", text);
                        const char *v = q + k + 2, *e = v;
                        while (*e && *e != '"')
                                e += *e == '\\' && e[1] ? 2 : 1;
                        ck_assert_msg(*e == '"', "unterminated label value: %s", text);
                        if (k == 2 && strncmp(q, "le", 2) == 0)
                                snprintf(l->le, sizeof(l->le), "%.*s", (int) (e - v), v);
                        else
                                snprintf(l->series + strlen(l->series), sizeof(l->series) - strlen(l->series), "%.*s;",
                                         (int) (e + 1 - start), start);
                        q = e + 1;
                        if (*q == ',')
                                q++;
                        else
                                ck_assert_msg(*q == '}', "bad labels: %s", text);
                }
                q++;
        }
        ck_assert_msg(*q == ' ' && q[1], "no value: %s", text);
        snprintf(l->value, sizeof(l->value), "%s", q + 1);
        ck_assert_msg(strchr(l->value, ' ') == NULL, "timestamp or junk after the value: %s", text);
}

/* Loops over the lines of body: p points at one, len is its length without the newline. */
#define FOR_LINES(body, p, len) \
        for (const char *p = (body), *nl_; *p && (nl_ = strchr(p, '\n')); p = nl_ + 1) \
                for (size_t len = (size_t) (nl_ - p), once_ = 1; once_; once_ = 0)

/* ---- format checks ---------------------------------------------------------------------------------- */

static bool belongs(const char *sample, const char *family, const char *type, bool om) {
        char want[NAME + 16];
        if (strcmp(type, "counter") == 0 && om) {
                snprintf(want, sizeof(want), "%s_total", family);
                return strcmp(sample, want) == 0;
        }
        if (strcmp(type, "histogram") == 0) {
                static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
                for (int i = 0; i < 3; i++) {
                        snprintf(want, sizeof(want), "%s%s", family, suffixes[i]);
                        if (strcmp(sample, want) == 0)
                                return true;
                }
                return false;
        }
        return strcmp(sample, family) == 0;
}

struct families {
        size_t n;
        char name[MAX_FAMILIES][NAME];
        char type[MAX_FAMILIES][16];
};

static bool families_has(const struct families *f, const char *name) {
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->name[i], name) == 0)
                        return true;
        return false;
}

/* The unit suffix a family name ends in, NULL if none. */
static const char *name_unit(const char *name) {
        static const char *const units[] = { "_seconds", "_bytes", "_ratio" };
        for (int i = 0; i < 3; i++)
                if (ends_with(name, units[i]))
                        return units[i] + 1;
        return NULL;
}

/* Structure of either format: metadata once per family before its samples (text: HELP, TYPE;
 * OpenMetrics: TYPE, then UNIT exactly when the name ends in a unit, then HELP), family names
 * unique, every sample named for the family above it; in OpenMetrics counters' family names
 * lack _total and the body ends with the one # EOF. Fills fams (names as in TYPE lines). */
static void check_structure(const char *body, bool om, struct families *fams) {
        char fam[NAME] = "", type[16] = "";
        bool had_type = false, had_unit = false, had_help = false, eof = false;
        unsigned samples = 0;
        fams->n = 0;
        ck_assert_msg(ends_with(body, "\n"), "body does not end with a newline");
        FOR_LINES(body, p, len) {
                char text[1024], a[NAME], b[NAME];
                ck_assert_msg(!eof, "lines after # EOF");
                ck_assert_uint_lt(len, sizeof(text));
                snprintf(text, sizeof(text), "%.*s", (int) len, p);
                ck_assert_msg(strchr(text, '\r') == NULL, "carriage return: %s", text);
                if (strcmp(text, "# EOF") == 0) {
                        ck_assert_msg(om, "# EOF in the text format");
                        eof = true;
                        continue;
                }
                if (text[0] != '#') {
                        struct line l;
                        parse_line(p, len, &l);
                        ck_assert_msg(had_type && had_help, "sample %s before its family's TYPE and HELP", l.name);
                        ck_assert_msg(!om || had_unit == (name_unit(fam) != NULL), "UNIT of %s", fam);
                        ck_assert_msg(belongs(l.name, fam, type, om), "sample %s outside its family (%s %s)", l.name,
                                      fam, type);
                        samples++;
                        continue;
                }
                ck_assert_msg(sscanf(text, "# %191s %191s", a, b) == 2, "bad comment line: %s", text);
                const char *rest = text + 2 + strlen(a) + 1 + strlen(b);
                if (strcmp(a, om ? "TYPE" : "HELP") == 0) { /* opens a family */
                        ck_assert_msg(!families_has(fams, b), "family %s twice", b);
                        ck_assert_uint_lt(fams->n, MAX_FAMILIES);
                        snprintf(fam, sizeof(fam), "%s", b);
                        snprintf(fams->name[fams->n++], NAME, "%s", b);
                        had_type = had_unit = had_help = false;
                        samples = 0;
                }
                ck_assert_msg(strcmp(b, fam) == 0, "%s for %s inside family %s", a, b, fam);
                ck_assert_msg(samples == 0, "%s line after samples of %s", a, fam);
                if (strcmp(a, "TYPE") == 0) {
                        ck_assert_msg(!had_type && (om || had_help), "TYPE of %s out of place", fam);
                        ck_assert_msg(sscanf(rest, " %15s", type) == 1, "bad TYPE: %s", text);
                        snprintf(fams->type[fams->n - 1], 16, "%s", type);
                        ck_assert_msg(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                                              strcmp(type, "histogram") == 0,
                                      "type %s", type);
                        if (strcmp(type, "counter") == 0)
                                ck_assert_msg(ends_with(fam, "_total") != om, "%s counter family %s",
                                              om ? "OM" : "text", fam);
                        had_type = true;
                } else if (strcmp(a, "UNIT") == 0) {
                        ck_assert_msg(om && had_type && !had_unit && !had_help, "UNIT of %s out of place", fam);
                        ck_assert_msg(name_unit(fam) && strcmp(rest, " ") > 0 && strcmp(rest + 1, name_unit(fam)) == 0,
                                      "UNIT%s of %s", rest, fam);
                        had_unit = true;
                } else {
                        ck_assert_msg(strcmp(a, "HELP") == 0, "unexpected line: %s", text);
                        ck_assert_msg(!had_help && (!om || had_type), "HELP of %s out of place", fam);
                        ck_assert_msg(rest[0] == ' ' && rest[1], "empty HELP for %s", fam);
                        had_help = true;
                }
        }
        ck_assert_msg(eof == om, "# EOF %s", om ? "missing" : "in the text format");
}

/* One histogram series being checked. */
struct hist {
        char fam[NAME], series[512];
        bool open, inf_seen, has_sum, has_count;
        double last_le;
        uint64_t last, inf;
        unsigned checked; /* series */
};

/* Ends the series being checked, if any. */
static void hist_close(struct hist *h) {
        if (!h->open)
                return;
        ck_assert_msg(h->inf_seen, "%s{%s}: no +Inf bucket", h->fam, h->series);
        ck_assert_msg(h->has_sum == h->has_count, "%s{%s}: _sum without _count or the reverse", h->fam, h->series);
        h->open = false;
        h->checked++;
}

static void hist_bucket(struct hist *h, const struct line *l, uint64_t v) {
        if (!h->open || strcmp(h->series, l->series) != 0) {
                hist_close(h);
                snprintf(h->series, sizeof(h->series), "%s", l->series);
                h->open = true;
                h->inf_seen = h->has_sum = h->has_count = false;
                h->last = 0;
                h->last_le = -1;
        }
        ck_assert_msg(!h->inf_seen, "%s{%s}: bucket after +Inf", h->fam, h->series);
        ck_assert_msg(v >= h->last, "%s{%s}: le=%s counts %llu < %llu", h->fam, h->series, l->le,
                      (unsigned long long) v, (unsigned long long) h->last);
        h->last = v;
        if (strcmp(l->le, "+Inf") == 0) {
                h->inf_seen = true;
                h->inf = v;
                return;
        }
        char *end;
        double le = strtod(l->le, &end);
        ck_assert_msg(*end == 0 && le > h->last_le, "%s{%s}: le=%s not ascending", h->fam, h->series, l->le);
        h->last_le = le;
}

/* Every histogram series in either format: le strictly ascending and ending at +Inf, counts
 * cumulative, _count equal to the +Inf bucket and present exactly when _sum is. Returns how
 * many series it checked. */
static unsigned check_histograms(const char *body) {
        struct hist h = { .open = false };
        bool in_hist = false;
        FOR_LINES(body, p, len) {
                char name[NAME], type[16], *end;
                if (p[0] == '#') {
                        if (sscanf(p, "# TYPE %191s %15s", name, type) == 2) {
                                hist_close(&h);
                                snprintf(h.fam, sizeof(h.fam), "%s", name);
                                in_hist = strcmp(type, "histogram") == 0;
                        }
                        continue;
                }
                if (!in_hist)
                        continue;
                struct line l;
                parse_line(p, len, &l);
                const char *suffix = l.name + strlen(h.fam);
                uint64_t v = strtoull(l.value, &end, 10);
                ck_assert_msg(*end == 0 || strcmp(suffix, "_sum") == 0, "%s: %s is not an integer", l.name, l.value);
                if (strcmp(suffix, "_bucket") == 0) {
                        hist_bucket(&h, &l, v);
                        continue;
                }
                ck_assert_msg(h.open && strcmp(h.series, l.series) == 0, "%s{%s} outside its series", l.name, l.series);
                if (strcmp(suffix, "_count") == 0) {
                        ck_assert_msg(v == h.inf, "%s{%s}: _count %llu != +Inf %llu", h.fam, h.series,
                                      (unsigned long long) v, (unsigned long long) h.inf);
                        h.has_count = true;
                } else {
                        ck_assert_msg(strcmp(suffix, "_sum") == 0, "%s in histogram %s", l.name, h.fam);
                        ck_assert_msg(strtod(l.value, NULL) >= 0, "%s: negative sum", l.name);
                        h.has_sum = true;
                }
        }
        hist_close(&h);
        return h.checked;
}

/* ---- docs/METRICS.md ----------------------------------------------------------------------------------- */

struct doc {
        struct families names; /* types unused */
        bool kvm_vm_pattern, kvm_vcpu_pattern;
};

/* The `vmstatd_*` names in the tables of docs/METRICS.md; `vmstatd_kvm_vm_<stat>...` and
 * `vmstatd_kvm_vcpu_<stat>...` are the two patterns the KVM stats follow. */
static void read_doc(struct doc *d) {
        char path[512], line[2048];
        const char *self = __FILE__, *tail = "tests/unit/test_render_prom.c";
        ck_assert(ends_with(self, tail));
        snprintf(path, sizeof(path), "%.*sdocs/METRICS.md", (int) (strlen(self) - strlen(tail)), self);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f, "%s: %s (run the test from the repository root)", path, strerror(errno));
        *d = (struct doc) { 0 };
        while (fgets(line, sizeof(line), f)) {
                if (line[0] != '|')
                        continue;
                for (const char *p = line; (p = strstr(p, "`vmstatd_")); ) {
                        const char *name = ++p;
                        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_");
                        p = name + n;
                        if (*p == '<') {
                                if (n == strlen("vmstatd_kvm_vm_") && starts_with(name, "vmstatd_kvm_vm_"))
                                        d->kvm_vm_pattern = true;
                                else if (n == strlen("vmstatd_kvm_vcpu_") && starts_with(name, "vmstatd_kvm_vcpu_"))
                                        d->kvm_vcpu_pattern = true;
                                else
                                        ck_abort_msg("unknown name pattern in %s: %.*s<", path, (int) n, name);
                                continue;
                        }
                        char one[NAME];
                        snprintf(one, sizeof(one), "%.*s", (int) n, name);
                        if (!families_has(&d->names, one)) {
                                ck_assert_uint_lt(d->names.n, MAX_FAMILIES);
                                snprintf(d->names.name[d->names.n++], NAME, "%s", one);
                        }
                }
        }
        fclose(f);
}

/* ---- a real sample ------------------------------------------------------------------------------------- */

struct fixture {
        struct hv_kvm *kvm;
        struct vs_sampler *sampler;
        struct hv_vm *duo, *solo, *spare;
        struct vs_sample *sample;
};

/* duo (2 vCPUs, the demo guest) runs, solo (1 vCPU) crashed on a triple fault, spare was never
 * started; two samples 100 ms apart. False without /dev/kvm when that is allowed. */
static bool fixture_up(struct fixture *f) {
        *f = (struct fixture) { .kvm = test_kvm() };
        if (!f->kvm)
                return false;
        struct vs_sampler_config cfg = { .interval_ns = 100 * 1000000ull, .histograms = true };
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                cfg.enable[i] = -1;
        ck_assert_int_eq(vs_sampler_new(&cfg, &f->sampler), 0);
        f->duo = test_vm(f->kvm, "duo", 2, &(struct hv_builtin) { .guest = "demo" });
        f->solo = test_vm(f->kvm, "solo", 1, &(struct hv_builtin) { .guest = "triplefault" });
        f->spare = test_vm(f->kvm, "spare", 1, &(struct hv_builtin) { .guest = "demo" });
        ck_assert_int_eq(vs_sampler_add_vm(f->sampler, f->duo), 0);
        ck_assert_int_eq(vs_sampler_add_vm(f->sampler, f->solo), 0);
        ck_assert_int_eq(vs_sampler_add_vm(f->sampler, f->spare), 0);
        ck_assert_int_eq(hv_vm_start(f->duo), 0);
        ck_assert_int_eq(hv_vm_start(f->solo), 0);
        ck_assert_int_eq(hv_vm_wait(f->solo, 5000), 0);
        ck_assert_int_eq(hv_vm_state(f->solo), HV_VM_CRASHED);
        ck_assert_int_eq(vs_sampler_sample(f->sampler), 0);
        test_sleep_ms(100);
        ck_assert_int_eq(vs_sampler_sample(f->sampler), 0);
        f->sample = vs_sampler_latest(f->sampler);
        ck_assert_ptr_nonnull(f->sample);
        ck_assert_uint_eq(f->sample->n_vms, 3);
        return true;
}

static void fixture_down(struct fixture *f) {
        vs_sample_unref(f->sample);
        hv_vm_destroy(f->duo);
        hv_vm_destroy(f->solo);
        hv_vm_destroy(f->spare);
        vs_sampler_free(f->sampler);
        hv_kvm_free(f->kvm);
}

/* name{vm="<vm>",vcpu="<i>"more} into out[256] */
static void of_vcpu(char *out, const char *name, const struct vs_vm_sample *vm, unsigned i, const char *more) {
        snprintf(out, 256, "%s{vm=\"%s\",vcpu=\"%u\"%s}", name, vm->name, i, more);
}

/* KVM stats of a vCPU that are one series each (not histograms). */
static unsigned kvm_scalars(const struct cl_kvm_schema *s) {
        unsigned n = 0;
        for (size_t d = 0; s && d < s->n_desc; d++)
                n += s->desc[d].kind == CL_KVM_COUNTER || s->desc[d].kind == CL_KVM_GAUGE;
        return n;
}

/* Series lines of vCPU 0 of VM vm. */
static unsigned vcpu0_series(const char *body, const char *vm) {
        char needle[64];
        unsigned n = 0;
        snprintf(needle, sizeof(needle), "{vm=\"%s\",vcpu=\"0\"", vm);
        FOR_LINES(body, p, len) {
                if (p[0] == '#')
                        continue;
                const char *brace = memchr(p, '{', len);
                n += brace && strncmp(brace, needle, strlen(needle)) == 0;
        }
        return n;
}

/* ---- a hand-made sample ------------------------------------------------------------------------------ */

/* A descriptor: name, kind, unit, scale (base^exponent), values, bucket size, first value, sum */
#define DESC(n, k, u, sc, sz, bs, ix, sum) \
        { .name = n, .kind = k, .unit = u, .scale = sc, .size = sz, .bucket_size = bs, .index = ix, .sum_of = sum, \
          .exported = true }
#define COUNTER CL_KVM_COUNTER
#define GAUGE CL_KVM_GAUGE
#define LINEAR CL_KVM_HIST_LINEAR
#define LOG CL_KVM_HIST_LOG
#define NONE CL_UNIT_NONE
#define SECONDS CL_UNIT_SECONDS

/* vCPU stats of "kernel A": log and linear histograms (two without a sum), unit names, an array
 * stat (not rendered) */
static struct cl_kvm_desc desc_a[] = {
        DESC("halt_wait_ns", COUNTER, SECONDS, 1e-9, 1, 0, 0, -1),
        DESC("halt_wait_hist", LOG, SECONDS, 1e-9, 4, 0, 1, 0),
        DESC("big_lin_hist", LINEAR, NONE, 1, 12, 100000, 5, -1),
        DESC("lat_ms_hist", LINEAR, SECONDS, 1e-3, 3, 1, 17, -1),
        DESC("requests_total", COUNTER, NONE, 1, 1, 0, 20, -1),
        DESC("pages", GAUGE, CL_UNIT_BYTES, 4096, 1, 0, 21, -1),
        DESC("blocking", GAUGE, CL_UNIT_BOOLEAN, 1, 1, 0, 22, -1),
        DESC("weird_us", COUNTER, SECONDS, 1e-6, 1, 0, 23, -1),
        DESC("pair", COUNTER, NONE, 1, 2, 0, 24, -1),
};
static uint64_t values_a[26] = { 1500, 1, 2, 3, 4, [5] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                 [17] = 2, 0, 1, [20] = 7, 3, 1, 2500000, 9, 9 };
static struct cl_kvm_schema schema_a = { .n_desc = 9, .desc = desc_a, .n_values = 26 };

/* "kernel B": other order, a stat A lacks, one whose name collides with halt_wait_ns's and a
 * histogram whose family name (requests) is that of A's counter in OpenMetrics */
static struct cl_kvm_desc desc_b[] = {
        DESC("extra_exits", COUNTER, NONE, 1, 1, 0, 0, -1),
        DESC("halt_wait_ns", COUNTER, SECONDS, 1e-9, 1, 0, 1, -1),
        DESC("halt_wait_seconds", COUNTER, SECONDS, 1e-9, 1, 0, 2, -1),
        DESC("halt_wait_hist", LOG, SECONDS, 1e-9, 4, 0, 3, 1),
        DESC("requests_total", COUNTER, NONE, 1, 1, 0, 7, -1),
        DESC("requests", LINEAR, NONE, 1, 2, 1, 8, -1),
};
static uint64_t values_b[2][10] = { { 11, 2000000000, 5, 0, 0, 0, 1, 12, 1, 1 }, { 21, 3, 5, 1, 0, 0, 0, 22, 1, 1 } };
static struct cl_kvm_schema schema_b = { .n_desc = 6, .desc = desc_b, .n_values = 10 };

static struct cl_kvm_desc desc_vm[] = { DESC("pages_4k", GAUGE, NONE, 1, 1, 0, 0, -1) };
static uint64_t values_vm[1] = { 24 };
static struct cl_kvm_schema schema_vm = { .n_desc = 1, .desc = desc_vm, .n_values = 1 };

#define ALL_HAVE (CL_HAVE_EXECUTOR | CL_HAVE_KVM | CL_HAVE_SCHED | CL_HAVE_MEMORY | CL_HAVE_PERF)

static hv_reason_hist reason_hist0 = { [HV_EXIT_IO_OUT] = { [3] = 5, [HV_HIST_BUCKETS - 1] = 1 } };

/* VM 0 (a name that needs escaping) has every collector's data, VM 1 only executor and kvm. */
static void handmade(struct vs_sample *s, struct vs_vm_sample vms[2], struct cl_vcpu_raw raw0[1],
                     struct vs_vcpu_sample vcpu0[1], struct cl_vcpu_raw raw1[2], struct vs_vcpu_sample vcpu1[2]) {
        raw0[0] = (struct cl_vcpu_raw) {
                .have = ALL_HAVE,
                .exec = { .runs = 10, .exits = { [HV_EXIT_IO_OUT] = 7, [HV_EXIT_HLT] = 3 }, .unhandled_mmio = 2,
                          .handle_ns_sum = 100, .handle_ns_hist = { [3] = 5, [HV_HIST_BUCKETS - 1] = 1 },
                          .reason_ns_sum = { [HV_EXIT_IO_OUT] = 100 } },
                .exit_hist = reason_hist0,
                .rs = { .cpu_ns = 1000000000 },
                .sched = { .run_delay_ns = 200000000, .timeslices = 4, .migrations = 1, .voluntary_switches = 5,
                           .involuntary_switches = 6 },
                .perf = { .instructions = 123456789, .cycles = 987654321 },
                .kvm_schema = &schema_a,
                .kvm = values_a,
        };
        vcpu0[0] = (struct vs_vcpu_sample) { .runstate_ns = { 1000000000, 200000000, 300000000, 0 }, .w_ns = 1500000000,
                                             .ready_ratio = 0.2, .steal_kvm_ratio = 0.2, .steal_xen_ratio = 0.2 };
        for (int i = 0; i < 2; i++) {
                raw1[i] = (struct cl_vcpu_raw) { .have = CL_HAVE_EXECUTOR | CL_HAVE_KVM, .kvm_schema = &schema_b,
                                                 .kvm = values_b[i] };
                vcpu1[i] = (struct vs_vcpu_sample) { .runstate_ns = { 1, 2, 3, 4 } };
        }
        vms[0] = (struct vs_vm_sample) {
                .name = "we\"ird\\vm\n",
                .start_time_ns = 1700000000500000000ull,
                .vcpus = 1,
                .raw = { .have = ALL_HAVE, .state = HV_VM_RUNNING, .ram_bytes = 16 << 20, .resident_bytes = 4096,
                         .kvm_schema = &schema_vm, .kvm = values_vm, .n_vcpus = 1, .vcpus = raw0 },
                .vcpu = vcpu0,
                .ready_ratio = 0.2,
        };
        vms[1] = (struct vs_vm_sample) {
                .name = "b",
                .vcpus = 2,
                .raw = { .have = CL_HAVE_EXECUTOR | CL_HAVE_KVM, .state = HV_VM_STOPPED, .ram_bytes = 32 << 20,
                         .n_vcpus = 2, .vcpus = raw1 },
                .vcpu = vcpu1,
        };
        *s = (struct vs_sample) {
                .seq = 2,
                .realtime_ns = 1700000001123456789ull,
                .interval_ns = 5000000000ull,
                .n_collectors = 3,
                .collectors = { { .name = "executor", .success = true, .duration_ns = 1000 },
                                { .name = "memory", .success = true, .duration_ns = 2000 },
                                { .name = "perf", .duration_ns = 3, .error = "perf: not supported" } },
                .host = { .daemon_rss_bytes = 1234567 },
                .host_ready_ratio = 0.125,
                .n_vms = 2,
                .vms = vms,
        };
}

#define HANDMADE(s)                                                         \
        struct vs_sample s;                                                 \
        struct vs_vm_sample vms_[2];                                        \
        struct cl_vcpu_raw raw0_[1], raw1_[2];                              \
        struct vs_vcpu_sample vcpu0_[1], vcpu1_[2];                         \
        handmade(&s, vms_, raw0_, vcpu0_, raw1_, vcpu1_)

/* Series of the hand-made VM 0 (vCPU 0 unless vcpu is false): name{vm="...",vcpu="0"more} */
static const char *vm0(const char *name, bool vcpu, const char *more) {
        static char series[256];
        snprintf(series, sizeof(series), "%s{vm=\"we\\\"ird\\\\vm\\n\"%s%s}", name, vcpu ? ",vcpu=\"0\"" : "", more);
        return series;
}

/* ---- tests ------------------------------------------------------------------------------------------------- */

/* The text format, with and without histograms, passes promtool with zero findings. */
START_TEST(text_passes_promtool) {
        struct fixture f;
        REQUIRE_PROMTOOL();
        if (!fixture_up(&f))
                return;
        struct families fams;
        for (int h = 0; h < 2; h++) {
                char *text = render(f.sample, VS_PROM_TEXT, h);
                assert_promtool_clean(text);
                check_structure(text, false, &fams);
                free(text);
        }
        fixture_down(&f);
}
END_TEST

/* OpenMetrics: the structure holds, and its sample lines are the text format's, line for line
 * (the same names, labels and numbers; only metadata differs). */
START_TEST(openmetrics_structure) {
        struct fixture f;
        if (!fixture_up(&f))
                return;
        struct families om_fams, text_fams;
        for (int h = 0; h < 2; h++) {
                char *om = render(f.sample, VS_PROM_OPENMETRICS, h), *text = render(f.sample, VS_PROM_TEXT, h);
                check_structure(om, true, &om_fams);
                check_structure(text, false, &text_fams);
                ck_assert_uint_eq(om_fams.n, text_fams.n);
                ck_assert(ends_with(om, "\n# EOF\n"));
                ck_assert_ptr_eq(strstr(om, "# EOF"), om + strlen(om) - 6);
                const char *t = text;
                FOR_LINES(om, p, len) {
                        if (p[0] == '#')
                                continue;
                        while (t[0] == '#')
                                t = strchr(t, '\n') + 1;
                        ck_assert_msg(strncmp(p, t, len + 1) == 0, "OpenMetrics %.*s vs text %.*s", (int) len, p,
                                      (int) strcspn(t, "\n"), t);
                        t = strchr(t, '\n') + 1;
                }
                while (t[0] == '#')
                        t = strchr(t, '\n') + 1;
                ck_assert_msg(t[0] == 0, "text has more series: %.80s", t);
                free(om);
                free(text);
        }
        ck_assert_str_eq(vs_prom_content_type(VS_PROM_TEXT), "text/plain; version=0.0.4; charset=utf-8");
        ck_assert_str_eq(vs_prom_content_type(VS_PROM_OPENMETRICS),
                         "application/openmetrics-text; version=1.0.0; charset=utf-8");
        fixture_down(&f);
}
END_TEST

/* What the parity tests compare: docs/METRICS.md and the families of the real sample and of the
 * hand-made one, histograms on */
static void parity_inputs(const struct vs_sample *real_sample, struct doc *doc, struct families *real,
                          struct families *made) {
        read_doc(doc);
        char *text = render(real_sample, VS_PROM_TEXT, true);
        check_structure(text, false, real);
        free(text);
        HANDMADE(s);
        text = render(&s, VS_PROM_TEXT, true);
        check_structure(text, false, made);
        free(text);
}

/* Every family rendered is in docs/METRICS.md, and every name there is rendered by the real
 * sample or, for what this host does not collect (perf), by the hand-made one. */
START_TEST(names_match_docs) {
        struct fixture f;
        if (!fixture_up(&f))
                return;
        static struct doc doc;
        static struct families real, made;
        parity_inputs(f.sample, &doc, &real, &made);
        ck_assert_msg(doc.kvm_vm_pattern && doc.kvm_vcpu_pattern,
                      "docs/METRICS.md must document vmstatd_kvm_vm_<stat> and vmstatd_kvm_vcpu_<stat>");
        const struct families *both[] = { &real, &made };
        unsigned kvm = 0;
        for (int k = 0; k < 2; k++)
                for (size_t i = 0; i < both[k]->n; i++) {
                        const char *name = both[k]->name[i];
                        if (starts_with(name, "vmstatd_kvm_vm_") || starts_with(name, "vmstatd_kvm_vcpu_"))
                                kvm++;
                        else
                                ck_assert_msg(families_has(&doc.names, name),
                                              "%s is rendered but not in docs/METRICS.md", name);
                }
        ck_assert_uint_gt(kvm, 0);
        for (size_t i = 0; i < doc.names.n; i++)
                ck_assert_msg(families_has(&real, doc.names.name[i]) || families_has(&made, doc.names.name[i]),
                              "%s is in docs/METRICS.md but not rendered", doc.names.name[i]);
        /* what this host collects by default is documented from the real sample alone */
        for (size_t i = 0; i < doc.names.n; i++)
                if (!strstr(doc.names.name[i], "guest_"))
                        ck_assert_msg(families_has(&real, doc.names.name[i]), "%s missing from a real sample",
                                      doc.names.name[i]);
        fixture_down(&f);
}
END_TEST

/* The numbers read back: runstate seconds are the sample's ns / 1e9 exactly, exits the raw
 * counters, one state per VM is 1; a vCPU stays within the series budget. */
START_TEST(values_read_back) {
        struct fixture f;
        if (!fixture_up(&f))
                return;
        char *text = render(f.sample, VS_PROM_TEXT, false), series[256], more[64];
        for (unsigned v = 0; v < f.sample->n_vms; v++) {
                const struct vs_vm_sample *vm = &f.sample->vms[v];
                unsigned ones = 0;
                for (int st = HV_VM_CREATED; st <= HV_VM_CRASHED; st++) {
                        snprintf(series, sizeof(series), "vmstatd_vm_state{vm=\"%s\",state=\"%s\"}", vm->name,
                                 hv_vm_state_name((enum hv_vm_state) st));
                        uint64_t one = series_uint(text, series);
                        ck_assert_uint_le(one, 1);
                        ones += (unsigned) one;
                        ck_assert_uint_eq(one, vm->raw.state == (enum hv_vm_state) st);
                }
                ck_assert_uint_eq(ones, 1);
                for (unsigned i = 0; i < vm->vcpus; i++) {
                        for (unsigned st = 0; st < HV_RS__COUNT; st++) {
                                snprintf(more, sizeof(more), ",state=\"%s\"", hv_rs_name((enum hv_rs) st));
                                of_vcpu(series, "vmstatd_vcpu_runstate_seconds_total", vm, i, more);
                                ck_assert_msg(series_double(text, series) == (double) vm->vcpu[i].runstate_ns[st] / 1e9,
                                              "%s: %.17g", series, (double) vm->vcpu[i].runstate_ns[st] / 1e9);
                        }
                        for (unsigned e = 0; e < HV_EXIT__COUNT; e++) {
                                snprintf(more, sizeof(more), ",reason=\"%s\"", hv_exit_name((enum hv_exit) e));
                                of_vcpu(series, "vmstatd_vcpu_exits_total", vm, i, more);
                                ck_assert_uint_eq(series_uint(text, series), vm->raw.vcpus[i].exec.exits[e]);
                        }
                        of_vcpu(series, "vmstatd_kvm_vcpu_halt_wait_seconds_total", vm, i, "");
                        const struct cl_kvm_schema *ks = vm->raw.vcpus[i].kvm_schema;
                        ck_assert_ptr_nonnull(ks);
                        for (size_t d = 0; d < ks->n_desc; d++)
                                if (strcmp(ks->desc[d].name, "halt_wait_ns") == 0)
                                        ck_assert(series_double(text, series) ==
                                                  (double) vm->raw.vcpus[i].kvm[ks->desc[d].index] / 1e9);
                }
        }
        /* the crashed VM's exit: one KVM_EXIT_SHUTDOWN */
        ck_assert_uint_eq(series_uint(text, "vmstatd_vcpu_exits_total{vm=\"solo\",vcpu=\"0\",reason=\"shutdown\"}"), 1);
        ck_assert_ptr_null(series_value(text, "vmstatd_vm_start_time_seconds{vm=\"spare\"}"));
        ck_assert(series_value(text, "vmstatd_vm_start_time_seconds{vm=\"duo\"}"));

        const struct vs_vm_sample *duo = vs_sample_find_vm(f.sample, "duo");
        unsigned per_vcpu = vcpu0_series(text, "duo");
        unsigned kvm = kvm_scalars(duo->raw.vcpus[0].kvm_schema);
        /* 26 executor (4 runstate, ready, 2 steal, 15 exits, runs, immediate, 2 unhandled),
         * cpu seconds, guest steal (the demo guest registers its record), 5 sched (run delay,
         * timeslices, migrations, 2 switches), KVM's scalars */
        fprintf(stderr, "series per vCPU (histograms off): %u = 33 own + %u KVM\n", per_vcpu, kvm);
        ck_assert_uint_eq(per_vcpu, 33 + kvm);
        ck_assert_uint_le(per_vcpu, SERIES_BUDGET);
        free(text);
        fixture_down(&f);
}
END_TEST

/* Histogram series are cumulative, end at +Inf and count what +Inf counts, in both formats:
 * the exit-handling histogram of each vCPU and reason and the kernel's histograms. */
START_TEST(histograms_cumulative) {
        struct fixture f;
        if (!fixture_up(&f))
                return;
        unsigned vcpus = 0, kvm_hists = 0;
        for (unsigned v = 0; v < f.sample->n_vms; v++)
                for (unsigned i = 0; i < f.sample->vms[v].vcpus; i++) {
                        const struct cl_kvm_schema *ks = f.sample->vms[v].raw.vcpus[i].kvm_schema;
                        for (unsigned e = 0; e < HV_EXIT__COUNT; e++) /* one per reason seen */
                                vcpus += f.sample->vms[v].raw.vcpus[i].exec.exits[e] > 0;
                        for (size_t d = 0; ks && d < ks->n_desc; d++)
                                kvm_hists += ks->desc[d].kind == CL_KVM_HIST_LOG ||
                                             ks->desc[d].kind == CL_KVM_HIST_LINEAR;
                }
        for (int om = 0; om < 2; om++) {
                char *body = render(f.sample, om ? VS_PROM_OPENMETRICS : VS_PROM_TEXT, true);
                ck_assert_uint_eq(check_histograms(body), vcpus + kvm_hists);
                free(body);
                body = render(f.sample, om ? VS_PROM_OPENMETRICS : VS_PROM_TEXT, false);
                ck_assert_uint_eq(check_histograms(body), 0);
                ck_assert_ptr_null(strstr(body, "_bucket{"));
                free(body);
        }
        /* the exit-handling histogram counts what the executor counted */
        const struct vs_vm_sample *duo = vs_sample_find_vm(f.sample, "duo");
        char *text = render(f.sample, VS_PROM_TEXT, true), series[128];
        uint64_t all = 0;
        for (unsigned i = 0; i < duo->vcpus; i++) {
                const struct hv_counters *c = &duo->raw.vcpus[i].exec;
                uint64_t n = 0, by_reason = 0;
                for (unsigned b = 0; b < HV_HIST_BUCKETS; b++)
                        n += c->handle_ns_hist[b];
                all += n;
                for (unsigned e = 0; e < HV_EXIT__COUNT; e++) {
                        if (!c->exits[e])
                                continue;
                        snprintf(series, sizeof(series),
                                 "vmstatd_vcpu_exit_handling_seconds_count{vm=\"duo\",vcpu=\"%u\",reason=\"%s\"}", i,
                                 hv_exit_name(e));
                        ck_assert_uint_eq(series_uint(text, series), c->exits[e]); /* each exit timed once */
                        by_reason += c->exits[e];
                        snprintf(series, sizeof(series),
                                 "vmstatd_vcpu_exit_handling_seconds_sum{vm=\"duo\",vcpu=\"%u\",reason=\"%s\"}", i,
                                 hv_exit_name(e));
                        ck_assert(series_double(text, series) == (double) c->reason_ns_sum[e] / 1e9);
                }
                ck_assert_uint_eq(by_reason, n);
        }
        ck_assert_uint_gt(all, 0); /* the demo guest writes to the console */
        free(text);
        fixture_down(&f);
}
END_TEST

/* What this kernel does not show: label escaping, linear and log bucket bounds in canonical
 * form, histograms without a sum, unit and _total names, scaled values, VMs whose schemas
 * differ (union, each family once), perf and an unsuccessful collector. */
START_TEST(handmade_sample) {
        HANDMADE(s);
        struct families fams;
        for (int h = 0; h < 2; h++) {
                char *text = render(&s, VS_PROM_TEXT, h), *om = render(&s, VS_PROM_OPENMETRICS, h);
                check_structure(text, false, &fams);
                check_structure(om, true, &fams);
                /* vm 0: io_out and hlt + 3 KVM; b: 2 × (no exits yet + 1 KVM) */
                ck_assert_uint_eq(check_histograms(text), (h ? 5u + 2 * 1 : 0));
                ck_assert_uint_eq(check_histograms(om), (h ? 5u + 2 * 1 : 0));
                free(text);
                free(om);
        }
        char *text = render(&s, VS_PROM_TEXT, true), *om = render(&s, VS_PROM_OPENMETRICS, true);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_vcpu_exits_total", true, ",reason=\"io_out\"")), 7);
        ck_assert(series_double(text, vm0("vmstatd_vcpu_runstate_seconds_total", true, ",state=\"runnable\"")) ==
                  0.2);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_vcpu_guest_instructions_total", true, "")), 123456789);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_vcpu_context_switches_total", true, ",kind=\"involuntary\"")),
                          6);
        assert_series_text(text, vm0("vmstatd_vm_start_time_seconds", false, ""), "1700000000.5");
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vm_pages_4k", false, "")), 24);
        /* KVM names: _ns, _ms and _us become _seconds, bytes get _bytes, no _total_total */
        ck_assert(series_double(text, vm0("vmstatd_kvm_vcpu_halt_wait_seconds_total", true, "")) == 1.5e-6);
        ck_assert(series_double(text, vm0("vmstatd_kvm_vcpu_weird_seconds_total", true, "")) == 2.5);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vcpu_pages_bytes", true, "")), 12288);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vcpu_requests_total", true, "")), 7);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vcpu_blocking", true, "")), 1);
        ck_assert_ptr_null(strstr(text, "_total_total"));
        ck_assert_ptr_null(strstr(text, "vmstatd_kvm_vcpu_pair"));
        /* the union: B's extra stat for B's vCPUs only; halt_wait_seconds folds into one family */
        ck_assert_uint_eq(series_uint(text, "vmstatd_kvm_vcpu_extra_exits_total{vm=\"b\",vcpu=\"1\"}"), 21);
        ck_assert(series_double(text, "vmstatd_kvm_vcpu_halt_wait_seconds_total{vm=\"b\",vcpu=\"0\"}") == 2.0);
        ck_assert_ptr_null(series_value(text, vm0("vmstatd_kvm_vcpu_extra_exits_total", true, "")));
        ck_assert_ptr_null(strstr(text, "vmstatd_kvm_vcpu_requests_bucket"));
        ck_assert_uint_eq(series_uint(text, "vmstatd_kvm_vcpu_requests_total{vm=\"b\",vcpu=\"0\"}"), 12);
        /* log buckets: bucket 0 holds 0, bucket j [2^(j-1), 2^j) ns; the sum is halt_wait_ns */
        static const char *const log_le[] = { "1e-09", "2e-09", "4e-09", "+Inf" };
        static const uint64_t log_cum[] = { 1, 3, 6, 10 };
        for (int j = 0; j < 4; j++) {
                char le[32];
                snprintf(le, sizeof(le), ",le=\"%s\"", log_le[j]);
                ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vcpu_halt_wait_hist_seconds_bucket", true, le)),
                                  log_cum[j]);
        }
        ck_assert(series_double(text, vm0("vmstatd_kvm_vcpu_halt_wait_hist_seconds_sum", true, "")) == 1.5e-6);
        ck_assert_uint_eq(series_uint(text, "vmstatd_kvm_vcpu_halt_wait_hist_seconds_count{vm=\"b\",vcpu=\"1\"}"), 1);
        /* linear buckets at bucket_size·(j+1), canonical: %g, exponent from 1e6, .0 in OM */
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vcpu_big_lin_hist_bucket", true, ",le=\"100000\"")), 1);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vcpu_big_lin_hist_bucket", true, ",le=\"1e+06\"")), 10);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vcpu_big_lin_hist_bucket", true, ",le=\"1.1e+06\"")), 11);
        ck_assert_uint_eq(series_uint(om, vm0("vmstatd_kvm_vcpu_big_lin_hist_bucket", true, ",le=\"100000.0\"")), 1);
        ck_assert_uint_eq(series_uint(om, vm0("vmstatd_kvm_vcpu_big_lin_hist_bucket", true, ",le=\"+Inf\"")), 12);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_kvm_vcpu_lat_hist_seconds_bucket", true, ",le=\"0.001\"")), 2);
        ck_assert_uint_eq(series_uint(om, vm0("vmstatd_kvm_vcpu_lat_hist_seconds_bucket", true, ",le=\"0.002\"")), 2);
        /* no sum known: neither _sum nor _count (OpenMetrics: _count if and only if _sum) */
        ck_assert_ptr_null(strstr(text, "big_lin_hist_sum"));
        ck_assert_ptr_null(strstr(text, "big_lin_hist_count"));
        /* the exit-handling histogram: bucket i holds [2^i, 2^(i+1)) ns, the last one +Inf */
        const char *exit_bucket = "vmstatd_vcpu_exit_handling_seconds_bucket";
        ck_assert_uint_eq(series_uint(text, vm0(exit_bucket, true, ",reason=\"io_out\",le=\"8e-09\"")), 0);
        ck_assert_uint_eq(series_uint(text, vm0(exit_bucket, true, ",reason=\"io_out\",le=\"1.6e-08\"")), 5);
        ck_assert_uint_eq(series_uint(text, vm0(exit_bucket, true, ",reason=\"io_out\",le=\"2.147483648\"")), 5);
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_vcpu_exit_handling_seconds_count", true, ",reason=\"io_out\"")), 6);
        ck_assert(series_double(text, vm0("vmstatd_vcpu_exit_handling_seconds_sum", true, ",reason=\"io_out\"")) == 1e-7);
        /* one series per reason that happened: hlt did (count 0 timed), mmio never did */
        ck_assert_uint_eq(series_uint(text, vm0("vmstatd_vcpu_exit_handling_seconds_count", true, ",reason=\"hlt\"")), 0);
        ck_assert_ptr_null(strstr(text, "vmstatd_vcpu_exit_handling_seconds_count{vm=\"we\\\"ird\\\\vm\\n\",vcpu=\"0\",reason=\"mmio_read\""));
        /* VM b has no sched, memory or perf data: none of their series */
        ck_assert_ptr_null(strstr(text, "vmstatd_vcpu_run_delay_seconds_total{vm=\"b\""));
        ck_assert_ptr_null(strstr(text, "vmstatd_vm_resident_memory_bytes{vm=\"b\""));
        ck_assert_ptr_null(strstr(text, "vmstatd_vcpu_guest_cycles_total{vm=\"b\""));
        /* collectors and host */
        ck_assert_uint_eq(series_uint(text, "vmstatd_scrape_collector_success{collector=\"perf\"}"), 0);
        ck_assert(series_double(text, "vmstatd_scrape_collector_duration_seconds{collector=\"memory\"}") == 2e-6);
        ck_assert_uint_eq(series_uint(text, "vmstatd_resident_memory_bytes"), 1234567);
        ck_assert(series_double(text, "vmstatd_host_ready_ratio") == 0.125);
        ck_assert(series_double(text, "vmstatd_sample_interval_seconds") == 5);
        ck_assert(series_double(text, "vmstatd_sample_timestamp_seconds") == 1700000001123456789ull / 1e9);
        assert_series_text(text, "vmstatd_build_info{version=\"0.1.0\"}", "1");
        /* OpenMetrics metadata */
        ck_assert(strstr(om, "# TYPE vmstatd_kvm_vcpu_halt_wait_seconds counter\n"
                             "# UNIT vmstatd_kvm_vcpu_halt_wait_seconds seconds\n"));
        ck_assert(strstr(om, "# TYPE vmstatd_vcpu_ready_ratio gauge\n# UNIT vmstatd_vcpu_ready_ratio ratio\n"));
        ck_assert(strstr(om, "# TYPE vmstatd_vcpu_exits counter\n# HELP vmstatd_vcpu_exits "));
        ck_assert(strstr(text, "# HELP vmstatd_vcpu_exits_total "));
        free(text);
        free(om);
}
END_TEST

/* The hand-made sample's text, with and without histograms, passes promtool with zero findings. */
START_TEST(handmade_passes_promtool) {
        REQUIRE_PROMTOOL();
        HANDMADE(s);
        for (int h = 0; h < 2; h++) {
                char *text = render(&s, VS_PROM_TEXT, h);
                assert_promtool_clean(text);
                free(text);
        }
}
END_TEST

/* An allocation failure anywhere is reported once, at the end. */
START_TEST(out_of_memory) {
        HANDMADE(s);
        struct vs_buf b;
        vs_buf_init(&b);
        b.failed = true;
        ck_assert_int_eq(vs_render_prometheus(&s, VS_PROM_TEXT, NULL, &b), -ENOMEM);
        vs_buf_free(&b);
}
END_TEST

/* The metric table drives the parity: every row is in docs/METRICS.md and rendered by the real
 * sample or the hand-made one, every documented vmstatd_* name (the KVM patterns aside) is a
 * row, and a row's unit is what its name ends in (OpenMetrics). */
START_TEST(rows_documented_and_rendered) {
        struct fixture f;
        if (!fixture_up(&f))
                return;
        static struct doc doc;
        static struct families real, made;
        parity_inputs(f.sample, &doc, &real, &made);
        ck_assert_uint_gt(vs_n_metrics, 30);
        for (size_t i = 0; i < vs_n_metrics; i++) {
                const struct vs_metric *m = &vs_metrics[i];
                ck_assert_msg(families_has(&doc.names, m->name), "row %s is not in docs/METRICS.md", m->name);
                ck_assert_msg(families_has(&real, m->name) || families_has(&made, m->name), "row %s is never rendered",
                              m->name);
                ck_assert_ptr_eq(vs_metric_find(m->name), m);
                char base[NAME];
                snprintf(base, sizeof(base), "%s", m->name);
                if (m->type == VS_COUNTER && ends_with(base, "_total"))
                        base[strlen(base) - 6] = 0;
                const char *unit = name_unit(base);
                ck_assert_msg(unit ? m->unit && strcmp(unit, m->unit) == 0 : !m->unit, "row %s: unit %s", m->name,
                              m->unit ? m->unit : "none");
                ck_assert_msg(m->type == VS_HISTOGRAM ? m->hist && !m->read : m->read && !m->hist, "row %s reader",
                              m->name);
                ck_assert_msg(!m->label || (m->label_value && m->n >= 1), "row %s label", m->name);
                for (unsigned k = 0; m->label && k < m->n; k++) /* render_prom's row_labels holds 47 bytes */
                        ck_assert_msg(strlen(m->label) + 2 * strlen(m->label_value(k)) + 4 <= 48, "row %s label %u long",
                                      m->name, k);
                ck_assert_msg(!m->json || m->scope == VS_SCOPE_VM || m->scope == VS_SCOPE_VCPU, "row %s json", m->name);
                for (unsigned k = 0; m->ctl && k < m->n; k++) { /* vmstatctl finds each text by its JSON name */
                        char json[128];
                        ck_assert_msg(vs_metric_json(m, k, json, sizeof(json)), "row %s: a text without a JSON name",
                                      m->name);
                        ck_assert_ptr_eq(vs_metric_ctl(json), m->ctl[k]);
                }
        }
        for (size_t i = 0; i < doc.names.n; i++)
                ck_assert_msg(vs_metric_find(doc.names.name[i]), "%s is in docs/METRICS.md but is no row",
                              doc.names.name[i]);
        fixture_down(&f);
}
END_TEST

/* json: the member at a dotted path of o, or NULL */
static json_t *json_at(json_t *o, const char *path) {
        char key[128];
        while (o && *path) {
                size_t n = strcspn(path, ".");
                snprintf(key, sizeof(key), "%.*s", (int) n, path);
                o = json_object_get(o, key);
                path += n + (path[n] == '.');
        }
        return o;
}

/* Where a row names a JSON member, /vms/<name> has the very number /metrics has, for every VM,
 * vCPU and label value of the real sample and the hand-made one. */
static unsigned json_same(const struct vs_sample *s) {
        unsigned checked = 0;
        for (size_t i = 0; i < vs_n_metrics; i++) {
                const struct vs_metric *m = &vs_metrics[i];
                if (!m->json)
                        continue;
                for (unsigned v = 0; v < s->n_vms; v++) {
                        const struct vs_vm_sample *vm = &s->vms[v];
                        bool vcpu = m->scope == VS_SCOPE_VCPU;
                        for (int cpu = vcpu ? 0 : -1; cpu < (vcpu ? (int) vm->vcpus : 0); cpu++) {
                                struct vs_metric_at at = { .s = s, .vm = vm, .cpu = cpu, .histograms = true };
                                if (!vs_metric_has(m, &at, -1))
                                        continue;
                                json_t *o = cpu < 0 ? vs_json_vm(s, vm) : vs_json_vcpu(s, vm, (unsigned) cpu);
                                ck_assert_ptr_nonnull(o);
                                for (unsigned k = 0; k < m->n; k++) {
                                        char path[128];
                                        ck_assert(vs_metric_json(m, k, path, sizeof(path)));
                                        json_t *j = json_at(o, path);
                                        struct vs_value x = m->read(&at, k);
                                        if (!j && strncmp(path, "sched.", 6) == 0 && !(vm->raw.vcpus[cpu].have & CL_HAVE_SCHED))
                                                continue; /* the sched object comes with the sched collector */
                                        ck_assert_msg(json_is_number(j), "%s: %s has no %s", m->name, vm->name, path);
                                        if (x.kind == VS_UINT)
                                                ck_assert_msg(json_is_integer(j) && (uint64_t) json_integer_value(j) == x.u,
                                                              "%s{vm=%s,vcpu=%d} %llu, JSON %s %f", m->name, vm->name, cpu,
                                                              (unsigned long long) x.u, path, json_number_value(j));
                                        else
                                                ck_assert_msg(json_number_value(j) ==
                                                                      (x.kind == VS_NS ? (double) x.u / 1e9 : x.d),
                                                              "%s: %s %s", m->name, vm->name, path);
                                        checked++;
                                }
                                json_decref(o);
                        }
                }
        }
        return checked;
}

START_TEST(rows_match_json) {
        struct fixture f;
        if (!fixture_up(&f))
                return;
        unsigned real = json_same(f.sample);
        HANDMADE(s);
        unsigned made = json_same(&s);
        fprintf(stderr, "rows_match_json: %u numbers of the real sample, %u of the hand-made one\n", real, made);
        ck_assert_uint_gt(real, 40);
        fixture_down(&f);
}
END_TEST

/* Numbers as written: whole doubles as %.15g writes them (without printf now), others the
 * shortest that reads back, nanoseconds exactly, timestamps too. */
static const char *value_text(char out[VS_PROM_VALUE_LEN], struct vs_value v) {
        size_t len;
        const char *t = vs_prom_value(out, v, &len);
        ck_assert_uint_eq(len, strlen(t));
        return t;
}

START_TEST(values_written_exactly) {
        char out[VS_PROM_VALUE_LEN], want[64];
        static const double whole[] = { 0, 1, -1, 7, -42, 1e6, 123456789012345, -999999999999999, 4294967296 };
        for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
                snprintf(want, sizeof(want), "%.15g", whole[i]);
                ck_assert_str_eq(value_text(out, (struct vs_value) { .kind = VS_REAL, .d = whole[i] }), want);
        }
        static const struct {
                double d;
                const char *text;
        } real[] = { { -0.0, "-0" }, { 1e15, "1e+15" }, { 0.1, "0.1" }, { 1.0 / 3, "0.3333333333333333" },
                     { -2.5e-7, "-2.5e-07" }, { 0.30000000000000004, "0.30000000000000004" } };
        for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++)
                ck_assert_str_eq(value_text(out, (struct vs_value) { .kind = VS_REAL, .d = real[i].d }), real[i].text);
        static const struct {
                uint64_t ns;
                const char *text;
        } ns[] = { { 0, "0" }, { 1500, "0.0000015" }, { 5000000000, "5" }, { 1700000000500000000ull, "1700000000.5" },
                   { 1796241234123456789ull, "1796241234.123456789" }, { UINT64_MAX, "18446744073.709551615" } };
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
                ck_assert_str_eq(value_text(out, (struct vs_value) { .kind = VS_NS, .u = ns[i].ns }), ns[i].text);
        ck_assert_str_eq(value_text(out, (struct vs_value) { .kind = VS_UINT, .u = UINT64_MAX }),
                         "18446744073709551615");
        /* the timestamp's decimal reads back as the double nearest the exact quotient */
        ck_assert(strtod(value_text(out, (struct vs_value) { .kind = VS_NS, .u = 1796241234123456789ull }), NULL) ==
                  1796241234.123456789);
}
END_TEST

int main(void) {
        Suite *su = suite_create("render_prom");
        TCase *tc = tcase_create("render_prom");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, text_passes_promtool);
        tcase_add_test(tc, openmetrics_structure);
        tcase_add_test(tc, names_match_docs);
        tcase_add_test(tc, values_read_back);
        tcase_add_test(tc, histograms_cumulative);
        tcase_add_test(tc, handmade_sample);
        tcase_add_test(tc, handmade_passes_promtool);
        tcase_add_test(tc, out_of_memory);
        tcase_add_test(tc, rows_documented_and_rendered);
        tcase_add_test(tc, rows_match_json);
        tcase_add_test(tc, values_written_exactly);
        suite_add_tcase(su, tc);
        return test_run_suite(su);
}
