/* Configuration: dir/vmstatd.conf ([daemon]) and dir/vms.d/<name>.vm ([vm]), read with inih.
 * Each file is read whole, then fed to inih one line per reader call: the reader counts the
 * lines (the packaged inih passes no line numbers to the handler), checks section headers
 * (inih reports a section only with its first key, so an empty [typo] would pass) and strips
 * leading blanks (so an indented line is never taken for a continuation of the last value). */
#define _GNU_SOURCE
#include "config.h"
#include "guests/params.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "boot/layout.h"
#include "paths.h"
#include "router.h"

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

#define FILE_MAX (64 * 1024)
#define MAX_KEYS 16
#define MAX_BUILTINS 32

struct file;

struct key {
        const char *name;
        int (*set)(struct file *f, const char *key, const char *value);
        bool repeatable;
};

/* One file being parsed. */
struct file {
        const char *name;          /* basename, for messages */
        const char *section;       /* the one section allowed */
        const struct key *keys;
        size_t n_keys;
        unsigned seen[MAX_KEYS];   /* line each key was first set on, 0 = not set */
        const char *text;          /* the whole file */
        size_t len, pos;
        unsigned line;             /* of the line last handed to inih */
        unsigned err_line;         /* of the first error, 0 = none yet */
        char *err;
        struct vs_conf *conf;      /* [daemon] */
        bool listen_given;         /* the first listen replaces the default */
        struct vs_vm_conf *vm;     /* [vm] */
        char memory_text[200];     /* memory as written, for the Linux minimum checked at the end */
};

/* ---- messages: "<file>:<line>: <key>: '<value>' <what was expected>" ----------------------------- */

/* Values may hold stray control characters (a CR mid-line, a tab); the message stays one line. */
static void one_line(char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        *s = '?';
}

static int failv(struct file *f, const char *key, const char *value, const char *fmt, va_list ap) {
        if (f->err_line)
                return -EINVAL; /* the first error is the one reported */
        size_t n = (size_t) snprintf(f->err, VS_CONF_ERR_LEN, "%s:%u: ", f->name, f->line);
        if (key && n < VS_CONF_ERR_LEN)
                n += (size_t) snprintf(f->err + n, VS_CONF_ERR_LEN - n, "%s: ", key);
        if (value && n < VS_CONF_ERR_LEN)
                n += (size_t) snprintf(f->err + n, VS_CONF_ERR_LEN - n, "'%s' ", value);
        if (n < VS_CONF_ERR_LEN)
                vsnprintf(f->err + n, VS_CONF_ERR_LEN - n, fmt, ap);
        one_line(f->err);
        f->err_line = f->line;
        return -EINVAL;
}

static int fail(struct file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct file *f, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = failv(f, NULL, NULL, fmt, ap);
        va_end(ap);
        return r;
}

/* "<key>: '<value>' <what was expected>" */
static int bad(struct file *f, const char *key, const char *value, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int bad(struct file *f, const char *key, const char *value, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = failv(f, key, value, fmt, ap);
        va_end(ap);
        return r;
}

/* A line inih could not parse (no '=', no closing ']'); inih tells only its number. */
static void syntax_error(struct file *f, unsigned line) {
        const char *s = f->text, *end = f->text + f->len;
        for (unsigned l = 1; l < line && s < end; l++) {
                const char *nl = memchr(s, '\n', (size_t) (end - s));
                s = nl ? nl + 1 : end;
        }
        while (s < end && isspace((unsigned char) *s) && *s != '\n')
                s++;
        const char *nl = memchr(s, '\n', (size_t) (end - s));
        int n = (int) ((nl ? nl : end) - s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                n--;
        snprintf(f->err, VS_CONF_ERR_LEN, "%s:%u: '%.*s' is not 'key = value' or '[section]'", f->name, line, n, s);
        one_line(f->err);
        f->err_line = line;
}

/* ---- values ------------------------------------------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *ret) {
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
static bool parse_port(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
                return parse_u64(s, ret) && *ret >= 1 && *ret <= 65535;
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
        if (!parse_u64(digits, &v) || __builtin_mul_overflow(v, mult, &bytes))
                return 0;
        return bytes;
}

static int set_bool(struct file *f, const char *key, const char *v, bool *ret) {
        if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                *ret = true;
        else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                *ret = false;
        else
                return bad(f, key, v, "is not a boolean (yes, no, true, false, 1 or 0)");
        return 0;
}

static int set_uint(struct file *f, const char *key, const char *v, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t n;
        if (!parse_u64(v, &n))
                return bad(f, key, v, "is not a number (%llu to %llu)", (unsigned long long) min, (unsigned long long) max);
        if (n < min || n > max)
                return bad(f, key, v, "is out of range (%llu to %llu)", (unsigned long long) min, (unsigned long long) max);
        *ret = n;
        return 0;
}

static int set_path(struct file *f, const char *key, const char *v, char *ret, size_t size) {
        if (v[0] != '/')
                return bad(f, key, v, "is not an absolute path");
        if (strlen(v) >= size)
                return bad(f, key, v, "is too long (at most %zu characters)", size - 1);
        strcpy(ret, v);
        return 0;
}

/* ---- [daemon] ---------------------------------------------------------------------------------- */

/* "host:port", "[v6]:port" or ":port"; host names are checked for shape only, never resolved
 * here (a config check must not wait on DNS). Port 0 asks for any free port (tests). */
static bool listen_valid(const char *s) {
        const char *colon = strrchr(s, ':');
        uint64_t port;
        if (!colon || strlen(colon + 1) > 5 || !parse_u64(colon + 1, &port) || port > 65535)
                return false;
        size_t n = (size_t) (colon - s);
        if (n == 0)
                return true;
        if (s[0] == '[') {
                char a[INET6_ADDRSTRLEN];
                struct in6_addr in6;
                if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(a))
                        return false;
                memcpy(a, s + 1, n - 2);
                a[n - 2] = 0;
                return inet_pton(AF_INET6, a, &in6) == 1;
        }
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '.' && s[i] != '-')
                        return false;
        return n <= 253;
}

static int set_listen(struct file *f, const char *key, const char *v) {
        struct vs_conf *c = f->conf;
        if (!listen_valid(v) || strlen(v) >= sizeof(c->listen_buf[0]))
                return bad(f, key, v, "is not host:port, [v6]:port or :port");
        if (!f->listen_given)
                c->n_listen = 0;
        f->listen_given = true;
        for (size_t i = 0; i < c->n_listen; i++)
                if (strcmp(c->listen_buf[i], v) == 0)
                        return bad(f, key, v, "is listed twice");
        if (c->n_listen == VS_CONF_MAX_LISTEN)
                return bad(f, key, v, "is one too many (at most %d addresses)", VS_CONF_MAX_LISTEN);
        strcpy(c->listen_buf[c->n_listen++], v);
        return 0;
}

static int set_interval(struct file *f, const char *key, const char *v) {
        uint64_t ns = vs_parse_duration(v);
        if (!ns)
                return bad(f, key, v, "is not a duration (e.g. 5s)");
        if (ns < 100 * NSEC_PER_MSEC || ns > 3600 * NSEC_PER_SEC)
                return bad(f, key, v, "is out of range (100ms to 1h)");
        f->conf->interval_ns = ns;
        return 0;
}

static int set_history(struct file *f, const char *key, const char *v) {
        uint64_t n = 0;
        int r = set_uint(f, key, v, 1, 100000, &n);
        if (r == 0)
                f->conf->history = (unsigned) n;
        return r;
}

static void collector_names(char *buf, size_t size) {
        size_t o = 0;
        buf[0] = 0;
        for (size_t i = 0; i < collector_registry_len && o < size; i++)
                o += (size_t) snprintf(buf + o, size - o, "%s%s", collector_registry[i]->name,
                                       i + 2 < collector_registry_len ? ", " : i + 1 < collector_registry_len ? " or " : "");
}

/* "executor,kvm,-perf": a name turns its collector on, -name off, the rest keep their default. */
static int set_collectors(struct file *f, const char *key, const char *v) {
        char list[VS_CONF_ERR_LEN], names[128];
        int enable[CL_MAX_COLLECTORS];
        memcpy(enable, f->conf->enable, sizeof(enable));
        snprintf(list, sizeof(list), "%s", v);
        for (char *item = list, *next; item; item = next) {
                next = strchr(item, ',');
                if (next)
                        *next++ = 0;
                while (isspace((unsigned char) *item))
                        item++;
                for (size_t n = strlen(item); n > 0 && isspace((unsigned char) item[n - 1]); n--)
                        item[n - 1] = 0;
                const char *name = item + (item[0] == '-');
                size_t i = 0;
                while (i < collector_registry_len && strcmp(collector_registry[i]->name, name) != 0)
                        i++;
                if (i == collector_registry_len) {
                        collector_names(names, sizeof(names));
                        return bad(f, key, item, "is not a collector (%s)", names);
                }
                if (enable[i] != -1)
                        return bad(f, key, name, "is listed twice");
                enable[i] = item[0] != '-';
        }
        memcpy(f->conf->enable, enable, sizeof(enable));
        return 0;
}

static int set_histograms(struct file *f, const char *key, const char *v) {
        return set_bool(f, key, v, &f->conf->histograms);
}

static const struct { const char *name; int level; } log_levels[] = {
        { "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

static int set_log_level(struct file *f, const char *key, const char *v) {
        for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
                if (strcmp(v, log_levels[i].name) == 0) {
                        f->conf->log_level = log_levels[i].level;
                        return 0;
                }
        return bad(f, key, v, "is not a log level (err, warning, notice, info or debug)");
}

static int set_control_socket(struct file *f, const char *key, const char *v) {
        /* bounded by sun_path, not by the field */
        int r = set_path(f, key, v, f->conf->control_socket, sizeof(((struct sockaddr_un *) 0)->sun_path));
        f->conf->control_socket_set |= r == 0;
        return r;
}

/* kvm_stats_include / kvm_stats_exclude: compiled once here so that a bad regex is a config
 * error with its line, not a collector that fails at start */
static int set_kvm_filter(struct file *f, const char *key, const char *v, char *ret, size_t size) {
        char why[VS_CONF_ERR_LEN / 2];
        if (strlen(v) >= size)
                return bad(f, key, v, "is too long (at most %zu characters)", size - 1);
        if (cl_kvm_regex_check(v, why, sizeof(why)) < 0)
                return bad(f, key, v, "is not a POSIX extended regex (%s)", why);
        strcpy(ret, v);
        return 0;
}

static int set_kvm_include(struct file *f, const char *key, const char *v) {
        return set_kvm_filter(f, key, v, f->conf->kvm_stats_include, sizeof(f->conf->kvm_stats_include));
}

static int set_kvm_exclude(struct file *f, const char *key, const char *v) {
        return set_kvm_filter(f, key, v, f->conf->kvm_stats_exclude, sizeof(f->conf->kvm_stats_exclude));
}

static int set_runtime_dir(struct file *f, const char *key, const char *v) {
        /* <dir>/vms/<name>.sock must fit sun_path */
        return set_path(f, key, v, f->conf->runtime_dir, VS_CONF_RUNTIME_DIR_MAX + 1);
}

static int set_console_dir(struct file *f, const char *key, const char *v) {
        return set_path(f, key, v, f->conf->console_dir, sizeof(f->conf->console_dir));
}

/* A size a console log may reach before it is rotated: 4K to 1T. */
static int parse_log_max(struct file *f, const char *key, const char *v, uint64_t *ret) {
        uint64_t bytes = vs_parse_size(v);
        if (!bytes)
                return bad(f, key, v, "is not a size (e.g. 16M)");
        if (bytes < 4 * KiB || bytes > 1024 * GiB)
                return bad(f, key, v, "is out of range (4K to 1T)");
        *ret = bytes;
        return 0;
}

static int set_daemon_log_max(struct file *f, const char *key, const char *v) {
        return parse_log_max(f, key, v, &f->conf->console_log_max);
}

static int set_console_over_http(struct file *f, const char *key, const char *v) {
        return set_bool(f, key, v, &f->conf->console_over_http);
}

/* An allowed_hosts entry: "*", an IP address, or a name as a Host header may carry it (the
 * router's rules: letters, digits, '-', '_', '.'). */
static bool host_name_valid(const char *s) {
        char name[254];
        return strcmp(s, "*") == 0 || vs_host_is_address(s) || (!strchr(s, ':') && vs_host_name(s, name, sizeof(name)));
}

/* "prom.example.com, 192.0.2.7": names separated by commas and/or blanks; repeatable. */
static int set_allowed_hosts(struct file *f, const char *key, const char *v) {
        struct vs_conf *c = f->conf;
        char list[VS_CONF_ERR_LEN];
        size_t added = 0;
        snprintf(list, sizeof(list), "%s", v);
        for (char *s = list, *save = NULL, *name; (name = strtok_r(s, ", \t", &save)); s = NULL, added++) {
                for (char *p = name; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
                if (!host_name_valid(name))
                        return bad(f, key, name, "is not a host name, an IP address or *");
                if (c->n_allowed_hosts == VS_CONF_MAX_HOSTS)
                        return bad(f, key, name, "is one too many (at most %d names)", VS_CONF_MAX_HOSTS);
                strcpy(c->allowed_hosts[c->n_allowed_hosts++], name);
        }
        if (!added)
                return bad(f, key, v, "is not a list of host names (e.g. prometheus.example.com)");
        return 0;
}

static const struct key daemon_keys[] = {
        { "listen", set_listen, true },
        { "interval", set_interval, false },
        { "history", set_history, false },
        { "collectors", set_collectors, false },
        { "histograms", set_histograms, false },
        { "kvm_stats_include", set_kvm_include, false },
        { "kvm_stats_exclude", set_kvm_exclude, false },
        { "log_level", set_log_level, false },
        { "control_socket", set_control_socket, false },
        { "runtime_dir", set_runtime_dir, false },
        { "console_log_dir", set_console_dir, false },
        { "console_log_max", set_daemon_log_max, false },
        { "console_over_http", set_console_over_http, false },
        { "allowed_hosts", set_allowed_hosts, true },
};

/* ---- [vm] -------------------------------------------------------------------------------------- */

static int set_vcpus(struct file *f, const char *key, const char *v) {
        uint64_t n = 0;
        int r = set_uint(f, key, v, 1, 64, &n);
        if (r == 0)
                f->vm->vcpus = (unsigned) n;
        return r;
}

static int set_memory(struct file *f, const char *key, const char *v) {
        uint64_t bytes = vs_parse_size(v);
        if (!bytes)
                return bad(f, key, v, "is not a size (e.g. 256M)");
        if (bytes < 8 * MiB || bytes > 3 * GiB)
                return bad(f, key, v, "is out of range (8M to 3G)");
        if (bytes % (4 * KiB))
                return bad(f, key, v, "is not a multiple of 4K");
        f->vm->memory = bytes;
        snprintf(f->memory_text, sizeof(f->memory_text), "%s", v);
        return 0;
}

static int builtin_names(const char **names, char *list, size_t size) {
        int n = hv_builtin_names(names, MAX_BUILTINS);
        if (n > MAX_BUILTINS)
                n = MAX_BUILTINS;
        size_t o = 0;
        list[0] = 0;
        for (int i = 0; i < n && o < size; i++)
                o += (size_t) snprintf(list + o, size - o, "%s%s", names[i], i + 2 < n ? ", " : i + 1 < n ? " or " : "");
        return n;
}

/* One k=v of a guest line; flat images take the built-in guests' parameter block too. Zero means
 * "the default" to hv_builtin_params, so the ranges start at 1 (count, where 0 is meaningful, excepted). */
static int set_guest_param(struct file *f, const char *key, const char *kv, bool flat, unsigned *given) {
        static const char *const params[] = { "count", "port", "duty", "period", "tick_us", "steal_time", "entry" };
        static const char *const steal[] = { [STEAL_ON] = "on", [STEAL_NONE] = "off", [STEAL_OUTSIDE] = "outside",
                                             [STEAL_RESERVED] = "reserved" };
        struct vs_vm_conf *vm = f->vm;
        const char *eq = strchr(kv, '='), *v = eq ? eq + 1 : NULL;
        size_t i = 0;
        uint64_t n;
        if (!eq)
                return bad(f, key, kv, "is not key=value");
        while (i < 7 && (strncmp(kv, params[i], (size_t) (eq - kv)) != 0 || params[i][eq - kv]))
                i++;
        if (i == 7 || (i == 6 && !flat))
                return bad(f, key, kv, "is not a parameter of %s",
                           flat ? "a flat image (entry, count, port, duty, period, tick_us or steal_time)"
                                : "a built-in guest (count, port, duty, period, tick_us or steal_time)");
        if (*given & (1u << i))
                return bad(f, key, kv, "is given twice");
        *given |= 1u << i;
        switch (i) {
        case 0:
                if (!parse_u64(v, &n))
                        return bad(f, key, kv, "is not a count (0 to %llu)", (unsigned long long) UINT64_MAX);
                vm->builtin.count = n;
                break;
        case 1:
                if (!parse_port(v, &n))
                        return bad(f, key, kv, "is not a port (1 to 65535, or 0x1 to 0xffff)");
                vm->builtin.port = (uint32_t) n;
                break;
        case 2:
                if (!parse_u64(v, &n) || n < 1 || n > 100)
                        return bad(f, key, kv, "is not a percentage (1 to 100)");
                vm->builtin.duty_pct = (uint32_t) n;
                break;
        case 3:
                if (!parse_u64(v, &n) || n < 1 || n > 1000000)
                        return bad(f, key, kv, "is not a number of ticks (1 to 1000000)");
                vm->builtin.period_ticks = (uint32_t) n;
                break;
        case 4: /* below 10 us the guest's timer interrupts would swamp the host */
                if (!parse_u64(v, &n) || n < 10 || n > 1000000)
                        return bad(f, key, kv, "is not a tick length in microseconds (10 to 1000000)");
                vm->builtin.tick_us = (uint32_t) n;
                break;
        case 5: /* the record each vCPU registers with MSR_KVM_STEAL_TIME; outside and reserved: bad ones */
                for (n = 0; n < 4 && strcmp(v, steal[n]) != 0; n++)
                        ;
                if (n == 4)
                        return bad(f, key, kv, "is not a steal time setting (on, off, outside or reserved)");
                vm->builtin.steal_time = (uint32_t) n;
                break;
        default:
                if (!*v || strlen(v) >= sizeof(vm->image_entry))
                        return bad(f, key, kv, "is not an entry name (1 to %zu characters)", sizeof(vm->image_entry) - 1);
                strcpy(vm->image_entry, v);
        }
        return 0;
}

static int set_flat_image(struct file *f, const char *key, const char *path) {
        struct vs_vm_conf *vm = f->vm;
        struct stat st;
        int r = set_path(f, key, path, vm->image, sizeof(vm->image));
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return bad(f, key, path, "cannot be read (%s)", strerror(errno));
        r = fstat(fd, &st) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
                return bad(f, key, path, "cannot be read (%s)", strerror(-r));
        if (!S_ISREG(st.st_mode))
                return bad(f, key, path, "is not a regular file");
        return 0;
}

/* builtin:NAME [k=v ...] or flat:/PATH entry=NAME [k=v ...]; stored with single spaces, so that only a
 * real change of the line changes vs_vm_conf.guest. */
static int set_guest(struct file *f, const char *key, const char *v) {
        struct vs_vm_conf *vm = f->vm;
        char line[sizeof(vm->guest)], list[256];
        const char *names[MAX_BUILTINS], *tok[64];
        size_t n_tok = 0;
        unsigned given = 0;
        int r;
        if (strlen(v) >= sizeof(line))
                return bad(f, key, v, "is too long (at most %zu characters)", sizeof(line) - 1);
        strcpy(line, v);
        for (char *s = line, *save = NULL; (s = strtok_r(s, " \t", &save)); s = NULL) {
                if (n_tok == sizeof(tok) / sizeof(tok[0]))
                        return bad(f, key, v, "has too many parameters");
                tok[n_tok++] = s;
        }
        bool flat = n_tok && strncmp(tok[0], "flat:", 5) == 0;
        if (n_tok && strncmp(tok[0], "linux:", 6) == 0) /* as the summary shows a Linux guest */
                return bad(f, key, v, "is not builtin:NAME or flat:/PATH entry=NAME (a Linux guest is kernel = /PATH)");
        if (!n_tok || (!flat && strncmp(tok[0], "builtin:", 8) != 0))
                return bad(f, key, v, "is not builtin:NAME or flat:/PATH entry=NAME (e.g. builtin:demo)");
        if (flat) {
                if ((r = set_flat_image(f, key, tok[0] + 5)) < 0)
                        return r;
        } else {
                int n = builtin_names(names, list, sizeof(list)), i = 0;
                while (i < n && strcmp(names[i], tok[0] + 8) != 0)
                        i++;
                if (i == n || strlen(names[i]) >= sizeof(vm->builtin_name))
                        return bad(f, key, tok[0], "is not a built-in guest (%s)", list);
                strcpy(vm->builtin_name, names[i]);
                vm->builtin.guest = vm->builtin_name;
        }
        for (size_t i = 1; i < n_tok; i++)
                if ((r = set_guest_param(f, key, tok[i], flat, &given)) < 0)
                        return r;
        if (flat && !vm->image_entry[0])
                return bad(f, key, v, "has no entry=NAME (the image entry to start)");
        size_t o = 0;
        for (size_t i = 0; i < n_tok; i++)
                o += (size_t) snprintf(vm->guest + o, sizeof(vm->guest) - o, "%s%s", i ? " " : "", tok[i]);
        return 0;
}

/* Linux guests: the files are read when the VM boots (a kernel may be installed after the config). */
static int set_kernel(struct file *f, const char *key, const char *v) {
        return set_path(f, key, v, f->vm->kernel, sizeof(f->vm->kernel));
}

static int set_initrd(struct file *f, const char *key, const char *v) {
        return set_path(f, key, v, f->vm->initrd, sizeof(f->vm->initrd));
}

/* The rest of the line, verbatim; a second cmdline line is appended after a space (as the Boot
 * Loader Specification's options lines are), since one line holds less than a command line may. */
static int set_cmdline(struct file *f, const char *key, const char *v) {
        char *c = f->vm->cmdline;
        size_t have = strlen(c), add = strlen(v) + (have ? 1 : 0);
        if (!*v)
                return fail(f, "%s: is empty (leave it out for the default)", key);
        if (have + add > VS_CONF_CMDLINE_MAX)
                return fail(f, "%s: too long (at most %d bytes, all cmdline lines joined)", key, VS_CONF_CMDLINE_MAX);
        if (have)
                c[have++] = ' ';
        memcpy(c + have, v, strlen(v) + 1); /* fits: checked above */
        return 0;
}

static const struct { const char *name; unsigned bit; } cpuid_features[] = {
        { "cx16", HV_CPUID_HIDE_CX16 }, { "xsave", HV_CPUID_HIDE_XSAVE },
};
#define CPUID_FEATURES "cx16 or xsave"

/* "cx16, xsave": names separated by commas and/or blanks. */
static int set_cpuid_hide(struct file *f, const char *key, const char *v) {
        char list[VS_CONF_ERR_LEN];
        unsigned hide = 0;
        snprintf(list, sizeof(list), "%s", v);
        for (char *s = list, *save = NULL, *name; (name = strtok_r(s, ", \t", &save)); s = NULL) {
                size_t i = 0;
                while (i < sizeof(cpuid_features) / sizeof(cpuid_features[0]) && strcmp(name, cpuid_features[i].name) != 0)
                        i++;
                if (i == sizeof(cpuid_features) / sizeof(cpuid_features[0]))
                        return bad(f, key, name, "is not a CPUID feature vmstatd can hide (" CPUID_FEATURES ")");
                if (hide & cpuid_features[i].bit)
                        return bad(f, key, name, "is listed twice");
                hide |= cpuid_features[i].bit;
        }
        if (!hide)
                return bad(f, key, v, "is not a list of CPUID features to hide (" CPUID_FEATURES ", or both)");
        f->vm->cpuid_hide = hide;
        return 0;
}

static int set_autostart(struct file *f, const char *key, const char *v) {
        return set_bool(f, key, v, &f->vm->autostart);
}

static int set_restart(struct file *f, const char *key, const char *v) {
        if (strcmp(v, "no") == 0)
                f->vm->restart = VS_RESTART_NO;
        else if (strcmp(v, "on-crash") == 0)
                f->vm->restart = VS_RESTART_ON_CRASH;
        else
                return bad(f, key, v, "is not no or on-crash");
        return 0;
}

/* "0-1,3": CPUs this host has (as configured, online or not), below 64 (the mask). */
static int set_cpus(struct file *f, const char *key, const char *v) {
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
                if (!parse_u64(num, &lo))
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
                        if (!parse_u64(num, &hi) || hi < lo)
                                break;
                }
                if (hi >= n_cpus)
                        return bad(f, key, v, "names a CPU this host does not have (0-%llu)", (unsigned long long) n_cpus - 1);
                for (uint64_t c = lo; c <= hi; c++)
                        mask |= 1ULL << c;
                if (*s == 0) {
                        f->vm->cpus_mask = mask;
                        return 0;
                }
                if (*s++ != ',')
                        break;
        }
        return bad(f, key, v, "is not a CPU list (e.g. 0-1,3)");
}

static int set_console_log(struct file *f, const char *key, const char *v) {
        return set_path(f, key, v, f->vm->console_log, sizeof(f->vm->console_log));
}

static int set_vm_log_max(struct file *f, const char *key, const char *v) {
        return parse_log_max(f, key, v, &f->vm->console_log_max);
}

static const struct key vm_keys[] = {
        { "vcpus", set_vcpus, false },
        { "memory", set_memory, false },
        { "guest", set_guest, false },
        { "kernel", set_kernel, false },
        { "initrd", set_initrd, false },
        { "cmdline", set_cmdline, true },
        { "cpuid_hide", set_cpuid_hide, false },
        { "autostart", set_autostart, false },
        { "restart", set_restart, false },
        { "cpus", set_cpus, false },
        { "console_log", set_console_log, false },
        { "console_log_max", set_vm_log_max, false },
};

/* ---- the inih side ------------------------------------------------------------------------------- */

static int on_pair(void *user, const char *section, const char *name, const char *value) {
        struct file *f = user;
        char expected[256];
        size_t o = 0;
        if (!*name || !value) {
                syntax_error(f, f->line);
                return 0;
        }
        if (!*section)
                return fail(f, "%s: set outside a section (expected [%s] first)", name, f->section), 0;
        for (size_t i = 0; i < f->n_keys; i++) {
                if (strcmp(name, f->keys[i].name) != 0)
                        continue;
                if (f->seen[i] && !f->keys[i].repeatable)
                        return fail(f, "%s: set twice (first on line %u)", name, f->seen[i]), 0;
                if (!f->seen[i])
                        f->seen[i] = f->line;
                return f->keys[i].set(f, name, value) == 0;
        }
        for (size_t i = 0; i < f->n_keys && o < sizeof(expected); i++)
                o += (size_t) snprintf(expected + o, sizeof(expected) - o, "%s%s", f->keys[i].name,
                                       i + 2 < f->n_keys ? ", " : i + 1 < f->n_keys ? " or " : "");
        return fail(f, "%s: unknown key (expected %s)", name, expected), 0;
}

/* "[name]" followed by nothing or a comment. */
static bool section_header(const char *s, size_t n, const char **ret_name, size_t *ret_len) {
        const char *close = memchr(s, ']', n);
        if (!close)
                return false;
        for (const char *p = close + 1; p < s + n && *p != ';' && *p != '#'; p++)
                if (!isspace((unsigned char) *p))
                        return false;
        *ret_name = s + 1;
        *ret_len = (size_t) (close - s - 1);
        return true;
}

static char *next_line(char *str, int num, void *stream) {
        struct file *f = stream;
        if (f->err_line || f->pos >= f->len)
                return NULL; /* stop at the first error */
        const char *s = f->text + f->pos, *nl = memchr(s, '\n', f->len - f->pos);
        size_t n = nl ? (size_t) (nl - s) : f->len - f->pos;
        f->pos += n + (nl != NULL);
        f->line++;
        while (n > 0 && isspace((unsigned char) *s))
                s++, n--;
        if (memchr(s, 0, n))
                return fail(f, "contains a NUL byte (not a text file)"), NULL;
        /* comments go as inih would drop them (whole lines; ';' after a blank), so that only the
         * text that counts must fit inih's line buffer */
        if (n && (*s == ';' || *s == '#'))
                n = 0;
        for (size_t i = 1; i < n; i++)
                if (s[i] == ';' && isspace((unsigned char) s[i - 1]))
                        n = i;
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                n--;
        if (n + 2 > (size_t) num)
                return fail(f, "line too long (at most %d characters)", num - 2), NULL;
        const char *name;
        size_t len;
        if (n && s[0] == '[') {
                if (!section_header(s, n, &name, &len)) {
                        syntax_error(f, f->line); /* inih would take "[vm] x" for [vm] */
                        return NULL;
                }
                if (len != strlen(f->section) || memcmp(name, f->section, len) != 0)
                        return fail(f, "[%.*s]: unknown section (expected [%s])", (int) len, name, f->section), NULL;
        }
        memcpy(str, s, n);
        str[n] = '\n';
        str[n + 1] = 0;
        return str;
}

static int parse_text(struct file *f) {
        if (f->len >= 3 && memcmp(f->text, "\xef\xbb\xbf", 3) == 0) {
                f->text += 3; /* a UTF-8 BOM, as some editors write */
                f->len -= 3;
        }
        int r = ini_parse_stream(next_line, f, on_pair, f);
        if (r > 0 && (!f->err_line || (unsigned) r < f->err_line))
                syntax_error(f, (unsigned) r);
        if (f->err_line)
                return -EINVAL;
        if (r < 0) {
                snprintf(f->err, VS_CONF_ERR_LEN, "%s: out of memory", f->name);
                return -ENOMEM;
        }
        return 0;
}

/* Reads dir_fd/path whole. -ENOENT silently (the caller decides); other errors with err filled. */
static int read_text(int dir_fd, const char *path, const char *name, char **ret, size_t *ret_len, char *err) {
        struct stat st;
        int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), r = 0;
        if (fd < 0) {
                r = -errno;
                if (r != -ENOENT)
                        snprintf(err, VS_CONF_ERR_LEN, "%s: cannot be read (%s)", name, strerror(-r));
                return r;
        }
        char *buf = NULL;
        size_t len = 0;
        if (fstat(fd, &st) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = -EISDIR;
        else if (st.st_size > FILE_MAX)
                r = -EFBIG;
        else if (!(buf = malloc((size_t) st.st_size + 1)))
                r = -ENOMEM;
        while (r == 0) {
                ssize_t got = read(fd, buf + len, (size_t) st.st_size + 1 - len);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0)
                        r = -errno;
                else if (got == 0)
                        break;
                else if ((len += (size_t) got) > (size_t) st.st_size)
                        r = -EFBIG; /* grew while we read */
        }
        close(fd);
        if (r == -EISDIR)
                snprintf(err, VS_CONF_ERR_LEN, "%s: is not a regular file", name);
        else if (r == -EFBIG)
                snprintf(err, VS_CONF_ERR_LEN, "%s: is too large (at most %d KiB)", name, FILE_MAX / 1024);
        else if (r < 0)
                snprintf(err, VS_CONF_ERR_LEN, "%s: cannot be read (%s)", name, strerror(-r));
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* ---- the whole configuration ---------------------------------------------------------------------- */

static void fix_pointers(struct vs_conf *c) {
        for (size_t i = 0; i < VS_CONF_MAX_LISTEN; i++)
                c->listen[i] = i < c->n_listen ? c->listen_buf[i] : NULL;
        for (size_t i = 0; i < c->n_vms; i++)
                c->vms[i].builtin.guest = c->vms[i].builtin_name[0] ? c->vms[i].builtin_name : NULL;
}

static void daemon_defaults(struct vs_conf *c) {
        memset(c, 0, sizeof(*c));
        strcpy(c->listen_buf[0], "127.0.0.1:9400");
        c->n_listen = 1;
        c->interval_ns = 5 * NSEC_PER_SEC;
        c->history = 720;
        for (size_t i = 0; i < CL_MAX_COLLECTORS; i++)
                c->enable[i] = -1;
        c->log_level = LOG_INFO;
        vs_runtime_dir_default(VS_CONF_RUNTIME_DIR_MAX, c->runtime_dir, sizeof(c->runtime_dir));
        c->console_log_max = VS_CONF_DEFAULT_CONSOLE_LOG_MAX;
        fix_pointers(c);
        vs_conf_finish(c);
}

void vs_conf_finish(struct vs_conf *c) {
        if (!c->control_socket_set) /* runtime_dir is at most VS_RUNTIME_DIR_MAX bytes: it fits */
                snprintf(c->control_socket, sizeof(c->control_socket), "%.*s/" VS_CONTROL_SOCKET_NAME,
                         VS_RUNTIME_DIR_MAX, c->runtime_dir);
}

static void vm_defaults(struct vs_vm_conf *vm, const char *name) {
        memset(vm, 0, sizeof(*vm));
        snprintf(vm->name, sizeof(vm->name), "%.32s", name);
        vm->vcpus = 1;
        vm->memory = 64 * MiB;
        vm->autostart = true;
        vm->restart = VS_RESTART_NO;
}

void vs_conf_default(struct vs_conf *ret) {
        daemon_defaults(ret);
        ret->embedded = true;
        ret->vms = calloc(1, sizeof(*ret->vms));
        if (!ret->vms)
                return; /* no VM to run rather than no way to report it */
        vm_defaults(&ret->vms[0], "b13");
        ret->vms[0].vcpus = 2;
        strcpy(ret->vms[0].guest, "builtin:demo");
        strcpy(ret->vms[0].builtin_name, "demo");
        ret->vms[0].console_log_max = ret->console_log_max;
        ret->n_vms = 1;
        fix_pointers(ret);
}

static int parse_daemon(const char *text, size_t len, struct vs_conf *c, char *err) {
        struct file f = { .name = "vmstatd.conf", .section = "daemon", .keys = daemon_keys,
                          .n_keys = sizeof(daemon_keys) / sizeof(daemon_keys[0]), .err = err, .conf = c,
                          .text = text, .len = len };
        int r = parse_text(&f);
        fix_pointers(c);
        vs_conf_finish(c);
        return r;
}

static int load_daemon(int dir_fd, struct vs_conf *c, char *err) {
        char *text;
        size_t len;
        int r = read_text(dir_fd, "vmstatd.conf", "vmstatd.conf", &text, &len, err);
        if (r < 0)
                return r;
        r = parse_daemon(text, len, c, err);
        free(text);
        return r;
}

int vs_conf_parse_daemon(const char *text, size_t len, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]) {
        daemon_defaults(ret);
        return parse_daemon(text, len, ret, err);
}

static unsigned seen_on(const struct file *f, const char *key) {
        for (size_t i = 0; i < f->n_keys; i++)
                if (strcmp(f->keys[i].name, key) == 0)
                        return f->seen[i];
        return 0;
}

/* What holds between keys, checked once the whole file is read (keys come in any order); each
 * error names the line of the key at fault. */
static int check_vm(struct file *f) {
        static const char *const linux_only[] = { "initrd", "cmdline", "cpuid_hide" };
        struct vs_vm_conf *vm = f->vm;
        unsigned guest = seen_on(f, "guest"), kernel = seen_on(f, "kernel"), memory = seen_on(f, "memory");
        if (guest && kernel) {
                bool k_last = kernel > guest;
                f->line = k_last ? kernel : guest;
                return fail(f, "%s: cannot be combined with %s (line %u): a VM boots a Linux kernel or a built-in "
                            "or flat guest, not both", k_last ? "kernel" : "guest", k_last ? "guest" : "kernel",
                            k_last ? guest : kernel);
        }
        for (size_t i = 0; !kernel && i < sizeof(linux_only) / sizeof(linux_only[0]); i++)
                if ((f->line = seen_on(f, linux_only[i])))
                        return fail(f, "%s: needs kernel = /PATH (initrd, cmdline and cpuid_hide are for Linux guests)",
                                    linux_only[i]);
        if (!kernel)
                return 0;
        if (!memory)
                vm->memory = 256 * MiB;
        else if (vm->memory < HV_LINUX_MIN_RAM) {
                f->line = memory;
                return bad(f, "memory", f->memory_text, "is too small for a Linux guest (at least %lluM)",
                           (unsigned long long) (HV_LINUX_MIN_RAM / MiB));
        }
        if (!vm->cmdline[0])
                snprintf(vm->cmdline, sizeof(vm->cmdline), "%s", HV_LINUX_DEFAULT_CMDLINE);
        snprintf(vm->guest, sizeof(vm->guest), "linux:%s", vm->kernel);
        return 0;
}

/* "<name>.vm" -> name; -EINVAL with err filled when the stem is no VM name */
static int vm_name_of(const char *file, char name[33], char *err) {
        size_t n = strlen(file), stem = n >= 3 && strcmp(file + n - 3, ".vm") == 0 ? n - 3 : n;
        snprintf(name, 33, "%.*s", (int) stem, file);
        if (stem == n || stem > 32 || !vs_vm_name_valid(name)) {
                snprintf(err, VS_CONF_ERR_LEN, "%s: '%.*s' is not a VM name (the file name must be [a-z0-9_-]{1,32}.vm)",
                         file, (int) stem, file);
                return -EINVAL;
        }
        return 0;
}

static int parse_vm(const char *file, const char *text, size_t len, const struct vs_conf *daemon,
                    struct vs_vm_conf *vm, char *err) {
        struct file f = { .name = file, .section = "vm", .keys = vm_keys, .n_keys = sizeof(vm_keys) / sizeof(vm_keys[0]),
                          .err = err, .vm = vm, .text = text, .len = len };
        int r = parse_text(&f);
        if (r == 0)
                r = check_vm(&f);
        if (r == 0 && !vm->guest[0]) {
                snprintf(err, VS_CONF_ERR_LEN, "%s: guest: missing (e.g. guest = builtin:demo, or kernel = /boot/vmlinuz "
                         "for a Linux guest)", file);
                r = -EINVAL;
        }
        if (r == 0 && !vm->console_log_max)
                vm->console_log_max = daemon->console_log_max;
        return r;
}

static int load_vm(int vms_fd, const char *file, const char *dir, const struct vs_conf *daemon,
                   struct vs_vm_conf *vm, char *err) {
        char name[33], *text;
        size_t len;
        int r = vm_name_of(file, name, err);
        if (r < 0)
                return r;
        vm_defaults(vm, name);
        snprintf(vm->path, sizeof(vm->path), "%s/vms.d/%s", dir, file);
        r = read_text(vms_fd, file, file, &text, &len, err);
        if (r == -ENOENT)
                snprintf(err, VS_CONF_ERR_LEN, "%s: cannot be read (%s)", file, strerror(-r)); /* removed meanwhile */
        if (r < 0)
                return r;
        r = parse_vm(file, text, len, daemon, vm, err);
        free(text);
        return r;
}

int vs_conf_parse_vm(const char *file, const char *text, size_t len, const struct vs_conf *daemon,
                     struct vs_vm_conf *ret, char err[VS_CONF_ERR_LEN]) {
        char name[33];
        int r = vm_name_of(file, name, err);
        if (r < 0)
                return r;
        vm_defaults(ret, name);
        return parse_vm(file, text, len, daemon, ret, err);
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The *.vm names in dir_fd/vms.d, sorted so that VMs come up in a stable order. A missing
 * vms.d is no VMs. */
static int list_vm_files(int dir_fd, const char *dir, int *ret_fd, char ***ret, size_t *ret_n, char *err) {
        int fd = openat(dir_fd, "vms.d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                snprintf(err, VS_CONF_ERR_LEN, "%s/vms.d: cannot be read (%s)", dir, strerror(errno));
                return -errno;
        }
        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
        if (!d) {
                int r = -errno;
                if (dup_fd >= 0)
                        close(dup_fd);
                close(fd);
                snprintf(err, VS_CONF_ERR_LEN, "%s/vms.d: cannot be read (%s)", dir, strerror(-r));
                return r;
        }
        char **names = NULL;
        size_t n = 0;
        int r = 0;
        struct dirent *de;
        while (r == 0 && (errno = 0, de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (len < 3 || strcmp(de->d_name + len - 3, ".vm") != 0)
                        continue;
                char **grown = realloc(names, (n + 1) * sizeof(*names));
                if (!grown || !(grown[n] = strdup(de->d_name))) {
                        names = grown ? grown : names;
                        r = -ENOMEM;
                        break;
                }
                names = grown;
                n++;
        }
        if (r == 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0) {
                snprintf(err, VS_CONF_ERR_LEN, "%s/vms.d: cannot be read (%s)", dir, strerror(-r));
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                close(fd);
                return r;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret_fd = fd;
        *ret = names;
        *ret_n = n;
        return 0;
}

/* The embedded default applies only when dir does not exist, or holds neither vmstatd.conf nor
 * any vms.d/<name>.vm: configuration that is present is used as written, even when it lists no VM
 * (a vmstatd.conf alone means "no guests", not "the demo guest"). */
int vs_conf_load(const char *dir, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]) {
        if (!dir)
                dir = VS_CONF_DEFAULT_DIR;
        int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), vms_fd = -1, r;
        if (dir_fd < 0) {
                r = -errno;
                if (r == -ENOENT) {
                        vs_conf_default(ret);
                        return 0;
                }
                if (r == -ENOTDIR)
                        snprintf(err, VS_CONF_ERR_LEN, "%s: is not a directory", dir);
                else
                        snprintf(err, VS_CONF_ERR_LEN, "%s: cannot be read (%s)", dir, strerror(-r));
                return r;
        }
        struct vs_conf *c = malloc(sizeof(*c));
        char **files = NULL;
        size_t n_files = 0;
        bool have_daemon = false;
        if (!c) {
                close(dir_fd);
                snprintf(err, VS_CONF_ERR_LEN, "%s: out of memory", dir);
                return -ENOMEM;
        }
        daemon_defaults(c);
        r = load_daemon(dir_fd, c, err);
        have_daemon = r == 0;
        if (r == -ENOENT)
                r = 0;
        if (r == 0)
                r = list_vm_files(dir_fd, dir, &vms_fd, &files, &n_files, err);
        if (r == 0 && n_files && !(c->vms = calloc(n_files, sizeof(*c->vms)))) {
                snprintf(err, VS_CONF_ERR_LEN, "%s: out of memory", dir);
                r = -ENOMEM;
        }
        for (size_t i = 0; r == 0 && i < n_files; i++) {
                r = load_vm(vms_fd, files[i], dir, c, &c->vms[i], err);
                if (r == 0)
                        c->n_vms++;
        }
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        free(files);
        if (vms_fd >= 0)
                close(vms_fd);
        close(dir_fd);
        if (r < 0) {
                vs_conf_free(c);
                free(c);
                return r;
        }
        if (!have_daemon && n_files == 0)
                vs_conf_default(ret);
        else {
                *ret = *c;
                fix_pointers(ret);
        }
        free(c);
        return 0;
}

void vs_conf_free(struct vs_conf *c) {
        if (!c)
                return;
        free(c->vms);
        c->vms = NULL;
        c->n_vms = 0;
}

bool vs_vm_conf_equal(const struct vs_vm_conf *a, const struct vs_vm_conf *b) {
        /* the parsed guest rather than its text: "count=1 port=2" and "port=2 count=1" are one guest */
        return strcmp(a->name, b->name) == 0 && a->vcpus == b->vcpus && a->memory == b->memory &&
               strcmp(a->builtin_name, b->builtin_name) == 0 && a->builtin.count == b->builtin.count &&
               a->builtin.port == b->builtin.port && a->builtin.mmio_addr == b->builtin.mmio_addr &&
               a->builtin.duty_pct == b->builtin.duty_pct && a->builtin.period_ticks == b->builtin.period_ticks &&
               a->builtin.tick_us == b->builtin.tick_us && a->builtin.steal_time == b->builtin.steal_time &&
               strcmp(a->image, b->image) == 0 &&
               strcmp(a->image_entry, b->image_entry) == 0 && strcmp(a->kernel, b->kernel) == 0 &&
               strcmp(a->initrd, b->initrd) == 0 && strcmp(a->cmdline, b->cmdline) == 0 &&
               a->cpuid_hide == b->cpuid_hide && a->autostart == b->autostart &&
               a->restart == b->restart && a->cpus_mask == b->cpus_mask && strcmp(a->console_log, b->console_log) == 0;
}

const struct vs_vm_conf *vs_conf_find_vm(const struct vs_conf *c, const char *name) {
        for (size_t i = 0; i < c->n_vms; i++)
                if (strcmp(c->vms[i].name, name) == 0)
                        return &c->vms[i];
        return NULL;
}

/* ---- the summary ------------------------------------------------------------------------------- */

static const char *fmt_duration(uint64_t ns, char *buf, size_t size) {
        if (ns % NSEC_PER_SEC == 0)
                snprintf(buf, size, "%llus", (unsigned long long) (ns / NSEC_PER_SEC));
        else if (ns % NSEC_PER_MSEC == 0)
                snprintf(buf, size, "%llums", (unsigned long long) (ns / NSEC_PER_MSEC));
        else if (ns % 1000 == 0)
                snprintf(buf, size, "%lluus", (unsigned long long) (ns / 1000));
        else
                snprintf(buf, size, "%lluns", (unsigned long long) ns);
        return buf;
}

static const char *fmt_size(uint64_t b, char *buf, size_t size) {
        if (b && b % GiB == 0)
                snprintf(buf, size, "%llu GiB", (unsigned long long) (b / GiB));
        else if (b % MiB == 0)
                snprintf(buf, size, "%llu MiB", (unsigned long long) (b / MiB));
        else if (b % KiB == 0)
                snprintf(buf, size, "%llu KiB", (unsigned long long) (b / KiB));
        else
                snprintf(buf, size, "%llu bytes", (unsigned long long) b);
        return buf;
}

static void print_cpus(FILE *f, uint64_t mask) {
        const char *sep = "";
        for (unsigned c = 0; c < 64; c++) {
                if (!(mask & (1ULL << c)))
                        continue;
                unsigned last = c;
                while (last + 1 < 64 && (mask & (1ULL << (last + 1))))
                        last++;
                if (last == c)
                        fprintf(f, "%s%u", sep, c);
                else
                        fprintf(f, "%s%u-%u", sep, c, last);
                sep = ",";
                c = last;
        }
}

/* The rest of a Linux guest (its kernel is in the guest column): one line each, cmdlines are long. */
static void print_linux(FILE *f, const struct vs_vm_conf *vm) {
        const char *sep = "";
        fprintf(f, "\n  initrd: %s\n  cmdline: %s\n  cpuid_hide:", vm->initrd[0] ? vm->initrd : "none", vm->cmdline);
        for (size_t i = 0; i < sizeof(cpuid_features) / sizeof(cpuid_features[0]); i++)
                if (vm->cpuid_hide & cpuid_features[i].bit) {
                        fprintf(f, "%s %s", sep, cpuid_features[i].name);
                        sep = ",";
                }
        fprintf(f, "%s", vm->cpuid_hide ? "" : " none");
}

void vs_conf_print(const struct vs_conf *c, FILE *f) {
        char buf[32];
        const char *level = "?";
        for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
                if (log_levels[i].level == c->log_level)
                        level = log_levels[i].name;
        fprintf(f, "listen:");
        for (size_t i = 0; i < c->n_listen; i++)
                fprintf(f, "%s %s", i ? "," : "", c->listen[i]);
        fprintf(f, "\ninterval: %s\nhistory: %u samples\ncollectors:", fmt_duration(c->interval_ns, buf, sizeof(buf)),
                c->history);
        size_t on = 0;
        for (size_t i = 0; i < collector_registry_len; i++)
                if (c->enable[i] == 1 || (c->enable[i] == -1 && collector_registry[i]->enabled_by_default))
                        fprintf(f, "%s%s", on++ ? ", " : " ", collector_registry[i]->name);
        fprintf(f, "%s\nhistograms: %s\nkvm_stats_include: %s\nkvm_stats_exclude: %s\n", on ? "" : " none",
                c->histograms ? "yes" : "no", c->kvm_stats_include[0] ? c->kvm_stats_include : "(every stat)",
                c->kvm_stats_exclude[0] ? c->kvm_stats_exclude : "(none)");
        fprintf(f, "log_level: %s\ncontrol_socket: %s\nruntime_dir: %s\nconsole_log_dir: %s\n", level, c->control_socket,
                c->runtime_dir, c->console_dir[0] ? c->console_dir : "none");
        fprintf(f, "console_log_max: %s\nconsole_over_http: %s\nallowed_hosts:", fmt_size(c->console_log_max, buf, sizeof(buf)),
                c->console_over_http ? "yes" : "no");
        for (size_t i = 0; i < c->n_allowed_hosts; i++)
                fprintf(f, "%s %s", i ? "," : "", c->allowed_hosts[i]);
        fprintf(f, "%s\n", c->n_allowed_hosts ? "" : " none (listen addresses, localhost and this host's name)");
        fprintf(f, "vms: %zu%s\n", c->n_vms, c->embedded ? " (the embedded default: no configuration found)" : "");
        for (size_t i = 0; i < c->n_vms; i++) {
                const struct vs_vm_conf *vm = &c->vms[i];
                fprintf(f, "%s: %u vCPU%s, %s, %s, %s, restart=%s", vm->name, vm->vcpus, vm->vcpus == 1 ? "" : "s",
                        fmt_size(vm->memory, buf, sizeof(buf)), vm->guest, vm->autostart ? "autostart" : "no autostart",
                        vm->restart == VS_RESTART_ON_CRASH ? "on-crash" : "no");
                if (vm->cpus_mask) {
                        fprintf(f, ", cpus=");
                        print_cpus(f, vm->cpus_mask);
                }
                if (vm->console_log[0])
                        fprintf(f, ", console_log=%s", vm->console_log);
                if (vm->console_log_max != c->console_log_max)
                        fprintf(f, ", console_log_max=%s", fmt_size(vm->console_log_max, buf, sizeof(buf)));
                if (vm->kernel[0])
                        print_linux(f, vm);
                fprintf(f, "\n");
        }
}
