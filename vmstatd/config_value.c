/* The configuration's kinds of value: how each is read from its text (with the message that
 * says what was expected), shown in the summary and compared. A row of config_keys.c names
 * its kind and gives it its terms (range, names, words). */
#define _GNU_SOURCE
#include "config_table.h"

#include <ctype.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"

/* ---- plain values -------------------------------------------------------------------------------------- */

bool conf_parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return true;
}

/* An I/O port: decimal or 0x-prefixed hex (the way ports are usually written). */
bool conf_parse_port(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
                return conf_parse_u64(s, ret) && *ret >= 1 && *ret <= 65535;
        if (!s[2] || strlen(s + 2) > 4 || strspn(s + 2, "0123456789abcdefABCDEF") != strlen(s + 2))
                return false;
        for (s += 2; *s; s++)
                v = v * 16 + (uint64_t) (*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
        *ret = v;
        return v >= 1;
}

/* Digits, an optional fraction, a unit: ns, us, ms, s, m, h (none = seconds, as --interval
 * always took). 0 on error, overflow or a zero result. */
uint64_t vs_parse_duration(const char *s) {
        static const struct { const char *unit; uint64_t ns; } units[] = {
                { "ns", 1 }, { "us", 1000 }, { "ms", NSEC_PER_MSEC }, { "s", NSEC_PER_SEC }, { "", NSEC_PER_SEC },
                { "m", 60 * NSEC_PER_SEC }, { "h", 3600 * NSEC_PER_SEC },
        };
        uint64_t whole = 0, frac = 0, scale = 1;
        const char *p = s;
        if (*p < '0' || *p > '9')
                return 0;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (whole > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return 0;
                whole = whole * 10 + (uint64_t) (*p - '0');
        }
        if (*p == '.') {
                if (p[1] < '0' || p[1] > '9')
                        return 0;
                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (scale < NSEC_PER_SEC) { /* finer than 1e-9 of a unit is noise */
                                frac = frac * 10 + (uint64_t) (*p - '0');
                                scale *= 10;
                        }
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (strcmp(p, units[i].unit) != 0)
                        continue;
                uint64_t ns;
                if (__builtin_mul_overflow(whole, units[i].ns, &ns) ||
                    __builtin_add_overflow(ns, (uint64_t) ((unsigned __int128) frac * units[i].ns / scale), &ns))
                        return 0;
                return ns;
        }
        return 0;
}

/* Digits and an optional binary suffix K, M, G, T (either case). 0 on error or overflow. */
uint64_t vs_parse_size(const char *s) {
        char digits[32];
        size_t n = strspn(s, "0123456789");
        uint64_t v, mult = 1, bytes;
        if (n == 0 || n >= sizeof(digits))
                return 0;
        switch (s[n]) {
        case 0: break;
        case 'k': case 'K': mult = KiB; break;
        case 'm': case 'M': mult = MiB; break;
        case 'g': case 'G': mult = GiB; break;
        case 't': case 'T': mult = 1024 * GiB; break;
        default: return 0;
        }
        if (s[n] && s[n + 1])
                return 0;
        memcpy(digits, s, n);
        digits[n] = 0;
        if (!conf_parse_u64(digits, &v) || __builtin_mul_overflow(v, mult, &bytes))
                return 0;
        return bytes;
}

void conf_join_names(const char *const *names, size_t n, char *buf, size_t size) {
        size_t o = 0;
        buf[0] = 0;
        for (size_t i = 0; i < n && o < size; i++)
                o += (size_t) snprintf(buf + o, size - o, "%s%s", names[i], i + 2 < n ? ", " : i + 1 < n ? " or " : "");
}

static void print_bytes(FILE *out, uint64_t b) {
        if (b && b % GiB == 0)
                fprintf(out, "%llu GiB", (unsigned long long) (b / GiB));
        else if (b % MiB == 0)
                fprintf(out, "%llu MiB", (unsigned long long) (b / MiB));
        else if (b % KiB == 0)
                fprintf(out, "%llu KiB", (unsigned long long) (b / KiB));
        else
                fprintf(out, "%llu bytes", (unsigned long long) b);
}

/* ---- comparing fields ---------------------------------------------------------------------------------- */

bool conf_equal_bytes(const struct conf_key *k, const void *a, const void *b) {
        return memcmp(conf_cfield(k, a), conf_cfield(k, b), k->size) == 0;
}

bool conf_equal_text(const struct conf_key *k, const void *a, const void *b) {
        return strcmp(conf_cfield(k, a), conf_cfield(k, b)) == 0;
}

/* Numbers are unsigned or uint64_t fields. */
static uint64_t get_uint(const struct conf_key *k, const void *conf) {
        if (k->size == sizeof(unsigned))
                return *(const unsigned *) conf_cfield(k, conf);
        return *(const uint64_t *) conf_cfield(k, conf);
}

static void set_uint(const struct conf_key *k, void *conf, uint64_t v) {
        if (k->size == sizeof(unsigned))
                *(unsigned *) conf_field(k, conf) = (unsigned) v;
        else
                *(uint64_t *) conf_field(k, conf) = v;
}

/* ---- numbers, sizes, durations ------------------------------------------------------------------------- */

static int parse_uint(struct conf_file *f, const struct conf_key *k, const char *v) {
        uint64_t n;
        if (!conf_parse_u64(v, &n))
                return conf_bad(f, k->key, v, "is not a number (%llu to %llu)", (unsigned long long) k->min,
                                (unsigned long long) k->max);
        if (n < k->min || n > k->max)
                return conf_bad(f, k->key, v, "is out of range (%llu to %llu)", (unsigned long long) k->min,
                                (unsigned long long) k->max);
        set_uint(k, f->conf, n);
        return 0;
}

static void print_uint(FILE *out, const struct conf_key *k, const void *conf) {
        fprintf(out, "%llu%s", (unsigned long long) get_uint(k, conf), k->unit ? k->unit : "");
}

const struct conf_type conf_uint = { parse_uint, print_uint, conf_equal_bytes };

/* n: what vs_parse_size or vs_parse_duration made of v, 0 when it is not one */
static int set_ranged(struct conf_file *f, const struct conf_key *k, const char *v, uint64_t n, const char *what) {
        if (!n)
                return conf_bad(f, k->key, v, "is not a %s (e.g. %s)", what, k->example);
        if (n < k->min || n > k->max)
                return conf_bad(f, k->key, v, "is out of range (%s)", k->range);
        if (k->step && n % k->step)
                return conf_bad(f, k->key, v, "is not a multiple of %lluK", (unsigned long long) (k->step / KiB));
        set_uint(k, f->conf, n);
        return 0;
}

static int parse_size(struct conf_file *f, const struct conf_key *k, const char *v) {
        return set_ranged(f, k, v, vs_parse_size(v), "size");
}

static void print_size(FILE *out, const struct conf_key *k, const void *conf) {
        print_bytes(out, get_uint(k, conf));
}

const struct conf_type conf_size = { parse_size, print_size, conf_equal_bytes };

static int parse_duration(struct conf_file *f, const struct conf_key *k, const char *v) {
        return set_ranged(f, k, v, vs_parse_duration(v), "duration");
}

static void print_duration(FILE *out, const struct conf_key *k, const void *conf) {
        unsigned long long ns = get_uint(k, conf);
        if (ns % NSEC_PER_SEC == 0)
                fprintf(out, "%llus", ns / NSEC_PER_SEC);
        else if (ns % NSEC_PER_MSEC == 0)
                fprintf(out, "%llums", ns / NSEC_PER_MSEC);
        else if (ns % 1000 == 0)
                fprintf(out, "%lluus", ns / 1000);
        else
                fprintf(out, "%lluns", ns);
}

const struct conf_type conf_duration = { parse_duration, print_duration, conf_equal_bytes };

/* ---- booleans, names, flags ---------------------------------------------------------------------------- */

static int parse_bool(struct conf_file *f, const struct conf_key *k, const char *v) {
        bool *ret = conf_field(k, f->conf);
        if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                *ret = true;
        else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                *ret = false;
        else
                return conf_bad(f, k->key, v, "is not a boolean (yes, no, true, false, 1 or 0)");
        return 0;
}

static void print_bool(FILE *out, const struct conf_key *k, const void *conf) {
        bool on = *(const bool *) conf_cfield(k, conf);
        fputs(on ? (k->yes ? k->yes : "yes") : (k->no ? k->no : "no"), out);
}

const struct conf_type conf_bool = { parse_bool, print_bool, conf_equal_bytes };

static void name_list(const struct conf_key *k, char *buf, size_t size) {
        const char *names[CONF_MAX_KEYS];
        size_t n = k->n_names < CONF_MAX_KEYS ? k->n_names : CONF_MAX_KEYS;
        for (size_t i = 0; i < n; i++)
                names[i] = k->names[i].name;
        conf_join_names(names, n, buf, size);
}

static const struct conf_name *find_name(const struct conf_key *k, const char *name) {
        for (size_t i = 0; i < k->n_names; i++)
                if (strcmp(name, k->names[i].name) == 0)
                        return &k->names[i];
        return NULL;
}

/* One of k->names, stored as an int (or an enum of int's size). */
static int parse_enum(struct conf_file *f, const struct conf_key *k, const char *v) {
        const struct conf_name *n = find_name(k, v);
        char list[256];
        if (!n) {
                name_list(k, list, sizeof(list));
                return k->what ? conf_bad(f, k->key, v, "is not %s (%s)", k->what, list)
                               : conf_bad(f, k->key, v, "is not %s", list);
        }
        memcpy(conf_field(k, f->conf), &n->value, sizeof(int));
        return 0;
}

static void print_enum(FILE *out, const struct conf_key *k, const void *conf) {
        int v;
        memcpy(&v, conf_cfield(k, conf), sizeof(v));
        for (size_t i = 0; i < k->n_names; i++)
                if (k->names[i].value == v) {
                        fputs(k->names[i].name, out);
                        return;
                }
        fputs("?", out);
}

const struct conf_type conf_enum = { parse_enum, print_enum, conf_equal_bytes };

/* "cx16, xsave": some of k->names, separated by commas and/or blanks; an unsigned of their bits. */
static int parse_flags(struct conf_file *f, const struct conf_key *k, const char *v) {
        char items[VS_CONF_ERR_LEN], list[256];
        unsigned bits = 0;
        name_list(k, list, sizeof(list));
        snprintf(items, sizeof(items), "%s", v);
        for (char *s = items, *save = NULL, *name; (name = strtok_r(s, ", \t", &save)); s = NULL) {
                const struct conf_name *n = find_name(k, name);
                if (!n)
                        return conf_bad(f, k->key, name, "is not %s (%s)", k->what, list);
                if (bits & (unsigned) n->value)
                        return conf_bad(f, k->key, name, "is listed twice");
                bits |= (unsigned) n->value;
        }
        if (!bits)
                return conf_bad(f, k->key, v, "is not %s (%s%s)", k->what_list, list, k->n_names == 2 ? ", or both" : "");
        *(unsigned *) conf_field(k, f->conf) = bits;
        return 0;
}

static void print_flags(FILE *out, const struct conf_key *k, const void *conf) {
        unsigned bits = *(const unsigned *) conf_cfield(k, conf);
        const char *sep = "";
        for (size_t i = 0; i < k->n_names; i++)
                if (bits & (unsigned) k->names[i].value) {
                        fprintf(out, "%s%s", sep, k->names[i].name);
                        sep = ", ";
                }
        if (!bits)
                fputs(k->empty, out);
}

const struct conf_type conf_flags = { parse_flags, print_flags, conf_equal_bytes };

/* ---- text ---------------------------------------------------------------------------------------------- */

/* The longest a text field takes: k->max characters, else what the field holds. */
static size_t text_max(const struct conf_key *k) {
        return k->max ? (size_t) k->max : k->size - 1;
}

void conf_print_text(FILE *out, const struct conf_key *k, const void *conf) {
        const char *s = conf_cfield(k, conf);
        fputs(s[0] || !k->empty ? s : k->empty, out);
}

static int parse_path(struct conf_file *f, const struct conf_key *k, const char *v) {
        if (v[0] != '/')
                return conf_bad(f, k->key, v, "is not an absolute path");
        if (strlen(v) > text_max(k))
                return conf_bad(f, k->key, v, "is too long (at most %zu characters)", text_max(k));
        strcpy(conf_field(k, f->conf), v);
        return 0;
}

const struct conf_type conf_path = { parse_path, conf_print_text, conf_equal_text };

/* The kvm collector's stats filters: compiled once here so that a bad regex is a config error
 * with its line, not a collector that fails at start. */
static int parse_regex(struct conf_file *f, const struct conf_key *k, const char *v) {
        char why[VS_CONF_ERR_LEN / 2];
        if (strlen(v) > text_max(k))
                return conf_bad(f, k->key, v, "is too long (at most %zu characters)", text_max(k));
        if (cl_kvm_regex_check(v, why, sizeof(why)) < 0)
                return conf_bad(f, k->key, v, "is not a POSIX extended regex (%s)", why);
        strcpy(conf_field(k, f->conf), v);
        return 0;
}

const struct conf_type conf_regex = { parse_regex, conf_print_text, conf_equal_text };

/* "prom.example.com, 192.0.2.7": items separated by commas and/or blanks, lowercased, each
 * k->valid, into a char[][k->max + 1] counted at k->count_offset; repeatable, each line adds. */
static int parse_list(struct conf_file *f, const struct conf_key *k, const char *v) {
        size_t *n = (size_t *) ((char *) f->conf + k->count_offset), width = (size_t) k->max + 1,
               most = k->size / width, added = 0;
        char items[VS_CONF_ERR_LEN];
        snprintf(items, sizeof(items), "%s", v);
        for (char *s = items, *save = NULL, *item; (item = strtok_r(s, ", \t", &save)); s = NULL, added++) {
                for (char *p = item; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
                if (strlen(item) > k->max || !k->valid(item))
                        return conf_bad(f, k->key, item, "is not %s", k->what);
                if (*n == most)
                        return conf_bad(f, k->key, item, "is one too many (at most %zu names)", most);
                strcpy((char *) conf_field(k, f->conf) + width * (*n)++, item);
        }
        if (!added)
                return conf_bad(f, k->key, v, "is not %s", k->what_list);
        return 0;
}

static void print_list(FILE *out, const struct conf_key *k, const void *conf) {
        size_t n = *(const size_t *) ((const char *) conf + k->count_offset), width = (size_t) k->max + 1;
        for (size_t i = 0; i < n; i++)
                fprintf(out, "%s%s", i ? ", " : "", (const char *) conf_cfield(k, conf) + width * i);
        if (!n)
                fputs(k->empty, out);
}

static bool list_equal(const struct conf_key *k, const void *a, const void *b) {
        size_t n = *(const size_t *) ((const char *) a + k->count_offset), width = (size_t) k->max + 1;
        if (n != *(const size_t *) ((const char *) b + k->count_offset))
                return false;
        for (size_t i = 0; i < n; i++)
                if (strcmp((const char *) conf_cfield(k, a) + width * i, (const char *) conf_cfield(k, b) + width * i) != 0)
                        return false;
        return true;
}

const struct conf_type conf_list = { parse_list, print_list, list_equal };

/* ---- CPU lists ----------------------------------------------------------------------------------------- */

/* "0-1,3": CPUs this host has (as configured, online or not), below 64 (the mask). */
static int parse_cpus(struct conf_file *f, const struct conf_key *k, const char *v) {
        long conf = sysconf(_SC_NPROCESSORS_CONF);
        uint64_t n_cpus = conf < 1 ? 1 : conf > 64 ? 64 : (uint64_t) conf, mask = 0;
        const char *s = v;
        for (;;) {
                uint64_t lo, hi;
                char num[24];
                size_t n = strspn(s, "0123456789");
                if (n == 0 || n >= sizeof(num))
                        break;
                memcpy(num, s, n);
                num[n] = 0;
                if (!conf_parse_u64(num, &lo))
                        break;
                s += n;
                hi = lo;
                if (*s == '-') {
                        n = strspn(++s, "0123456789");
                        if (n == 0 || n >= sizeof(num))
                                break;
                        memcpy(num, s, n);
                        num[n] = 0;
                        s += n;
                        if (!conf_parse_u64(num, &hi) || hi < lo)
                                break;
                }
                if (hi >= n_cpus)
                        return conf_bad(f, k->key, v, "names a CPU this host does not have (0-%llu)",
                                        (unsigned long long) n_cpus - 1);
                for (uint64_t c = lo; c <= hi; c++)
                        mask |= 1ULL << c;
                if (*s == 0) {
                        *(uint64_t *) conf_field(k, f->conf) = mask;
                        return 0;
                }
                if (*s++ != ',')
                        break;
        }
        return conf_bad(f, k->key, v, "is not a CPU list (e.g. 0-1,3)");
}

static void print_cpus(FILE *out, const struct conf_key *k, const void *conf) {
        uint64_t mask = *(const uint64_t *) conf_cfield(k, conf);
        const char *sep = "";
        for (unsigned c = 0; c < 64; c++) {
                if (!(mask & (1ULL << c)))
                        continue;
                unsigned last = c;
                while (last + 1 < 64 && (mask & (1ULL << (last + 1))))
                        last++;
                if (last == c)
                        fprintf(out, "%s%u", sep, c);
                else
                        fprintf(out, "%s%u-%u", sep, c, last);
                sep = ",";
                c = last;
        }
}

const struct conf_type conf_cpus = { parse_cpus, print_cpus, conf_equal_bytes };
