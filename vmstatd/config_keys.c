/* The keys of vmstatd.conf ([daemon]) and of vms.d/<name>.vm ([vm]), one row each, in the
 * order the summary shows them and the "expected ..." message lists them, and the parsers of
 * the few keys no generic kind fits (listen, collectors, the guest line, cmdline). */
#define _GNU_SOURCE
#include "config_table.h"
#include "guests/params.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "router.h"

#define MAX_BUILTINS 32

/* ---- [daemon] ------------------------------------------------------------------------------------------- */

static int parse_listen(struct conf_file *f, const struct conf_key *k, const char *v) {
        struct vs_conf *c = f->conf;
        struct vs_listen l;
        char why[VS_LISTEN_WHY_LEN];
        if (vs_listen_parse(v, &l, why) < 0)
                return conf_bad(f, k->key, v, "is not host:port, [v6]:port or :port");
        if (!f->listen_given)
                c->n_listen = 0;
        f->listen_given = true;
        for (size_t i = 0; i < c->n_listen; i++)
                if (strcmp(c->listen[i].text, v) == 0)
                        return conf_bad(f, k->key, v, "is listed twice");
        if (c->n_listen == VS_CONF_MAX_LISTEN)
                return conf_bad(f, k->key, v, "is one too many (at most %d addresses)", VS_CONF_MAX_LISTEN);
        c->listen[c->n_listen++] = l;
        return 0;
}

static void print_listen(FILE *out, const struct conf_key *k, const void *conf) {
        const struct vs_conf *c = conf;
        (void) k;
        for (size_t i = 0; i < c->n_listen; i++)
                fprintf(out, "%s%s", i ? ", " : "", c->listen[i].text);
}

static bool listen_equal(const struct conf_key *k, const void *a, const void *b) {
        const struct vs_conf *x = a, *y = b;
        (void) k;
        if (x->n_listen != y->n_listen)
                return false;
        for (size_t i = 0; i < x->n_listen; i++)
                if (strcmp(x->listen[i].text, y->listen[i].text) != 0)
                        return false;
        return true;
}

static const struct conf_type listen_type = { parse_listen, print_listen, listen_equal };

/* "executor,kvm,-perf": a name turns its collector on, -name off, the rest keep their default. */
static int parse_collectors(struct conf_file *f, const struct conf_key *k, const char *v) {
        struct vs_conf *c = f->conf;
        const char *all[CL_MAX_COLLECTORS];
        char list[VS_CONF_ERR_LEN], names[128];
        int enable[CL_MAX_COLLECTORS];
        memcpy(enable, c->enable, sizeof(enable));
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
                        for (size_t j = 0; j < collector_registry_len; j++)
                                all[j] = collector_registry[j]->name;
                        conf_join_names(all, collector_registry_len, names, sizeof(names));
                        return conf_bad(f, k->key, item, "is not a collector (%s)", names);
                }
                if (enable[i] != -1)
                        return conf_bad(f, k->key, name, "is listed twice");
                enable[i] = item[0] != '-';
        }
        memcpy(c->enable, enable, sizeof(enable));
        return 0;
}

/* The collectors that will run: those turned on, and those on by default not turned off. */
static void print_collectors(FILE *out, const struct conf_key *k, const void *conf) {
        const struct vs_conf *c = conf;
        size_t on = 0;
        (void) k;
        for (size_t i = 0; i < collector_registry_len; i++)
                if (c->enable[i] == 1 || (c->enable[i] == -1 && collector_registry[i]->enabled_by_default))
                        fprintf(out, "%s%s", on++ ? ", " : "", collector_registry[i]->name);
        if (!on)
                fputs("none", out);
}

static const struct conf_type collectors_type = { parse_collectors, print_collectors, conf_equal_bytes };

static const struct conf_name log_levels[] = {
        { "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

/* A path, and the note that it was set: otherwise it follows runtime_dir (vs_conf_finish). */
static int parse_control_socket(struct conf_file *f, const struct conf_key *k, const char *v) {
        int r = conf_path.parse(f, k, v);
        ((struct vs_conf *) f->conf)->control_socket_set |= r == 0;
        return r;
}

static const struct conf_type control_socket_type = { parse_control_socket, conf_print_text, conf_equal_text };

/* An allowed_hosts entry: "*", an IP address, or a name as a Host header may carry it (the
 * router's rules: letters, digits, '-', '_', '.'). */
static bool host_name_valid(const char *s) {
        char name[254];
        return strcmp(s, "*") == 0 || vs_host_is_address(s) || (!strchr(s, ':') && vs_host_name(s, name, sizeof(name)));
}

/* A console log's rotation size: a size from 4K to 1T (the daemon's default and a VM's own). */
#define LOG_MAX_TERMS .min = 4 * KiB, .max = 1024 * GiB, .range = "4K to 1T", .example = "16M"

const struct conf_key conf_daemon_keys[] = {
        { "listen", &listen_type, CONF_DAEMON(listen), .repeatable = true, .restarts_daemon = true },
        { "interval", &conf_duration, CONF_DAEMON(interval_ns), .min = 100 * NSEC_PER_MSEC, .max = 3600 * NSEC_PER_SEC,
          .range = "100ms to 1h", .example = "5s", .restarts_daemon = true },
        { "history", &conf_uint, CONF_DAEMON(history), .min = 1, .max = 100000, .unit = " samples", .restarts_daemon = true },
        { "collectors", &collectors_type, CONF_DAEMON(enable), .restarts_daemon = true },
        { "histograms", &conf_bool, CONF_DAEMON(histograms), .restarts_daemon = true },
        { "kvm_stats_include", &conf_regex, CONF_DAEMON(kvm_stats_include), .empty = "(every stat)", .restarts_daemon = true },
        { "kvm_stats_exclude", &conf_regex, CONF_DAEMON(kvm_stats_exclude), .empty = "(none)", .restarts_daemon = true },
        { "log_level", &conf_enum, CONF_DAEMON(log_level), CONF_NAMES(log_levels), .what = "a log level" },
        /* bounded by sun_path, not by the field */
        { "control_socket", &control_socket_type, CONF_DAEMON(control_socket),
          .max = sizeof(((struct sockaddr_un *) 0)->sun_path) - 1, .restarts_daemon = true },
        /* <dir>/vms/<name>.sock must fit sun_path */
        { "runtime_dir", &conf_path, CONF_DAEMON(runtime_dir), .max = VS_CONF_RUNTIME_DIR_MAX, .restarts_daemon = true },
        { "console_log_dir", &conf_path, CONF_DAEMON(console_dir), .empty = "none" },
        { "console_log_max", &conf_size, CONF_DAEMON(console_log_max), LOG_MAX_TERMS },
        { "console_over_http", &conf_bool, CONF_DAEMON(console_over_http), .restarts_daemon = true },
        { "allowed_hosts", &conf_list, CONF_DAEMON(allowed_hosts), .repeatable = true, .max = 253,
          .valid = host_name_valid, .count_offset = offsetof(struct vs_conf, n_allowed_hosts),
          .what = "a host name, an IP address or *", .what_list = "a list of host names (e.g. prometheus.example.com)",
          .empty = "none (listen addresses, localhost and this host's name)", .restarts_daemon = true },
};
const size_t conf_n_daemon_keys = sizeof(conf_daemon_keys) / sizeof(conf_daemon_keys[0]);

/* ---- [vm] ----------------------------------------------------------------------------------------------- */

static void print_vcpus(FILE *out, const struct conf_key *k, const void *conf) {
        const struct vs_vm_conf *vm = conf;
        (void) k;
        fprintf(out, "%u vCPU%s", vm->vcpus, vm->vcpus == 1 ? "" : "s");
}

static int parse_vcpus(struct conf_file *f, const struct conf_key *k, const char *v) {
        return conf_uint.parse(f, k, v);
}

static const struct conf_type vcpus_type = { parse_vcpus, print_vcpus, conf_equal_bytes };

/* The text is kept for the Linux guests' minimum, checked once the whole file is read. */
static int parse_memory(struct conf_file *f, const struct conf_key *k, const char *v) {
        int r = conf_size.parse(f, k, v);
        if (r == 0)
                snprintf(f->memory_text, sizeof(f->memory_text), "%s", v);
        return r;
}

static void print_memory(FILE *out, const struct conf_key *k, const void *conf) {
        conf_size.print(out, k, conf);
}

static const struct conf_type memory_type = { parse_memory, print_memory, conf_equal_bytes };

/* One k=v of a guest line; flat images take the built-in guests' parameter block too. Zero means
 * "the default" to hv_builtin_params, so the ranges start at 1 (count, where 0 is meaningful, excepted). */
static int set_guest_param(struct conf_file *f, const char *key, const char *kv, bool flat, unsigned *given) {
        static const char *const params[] = { "count", "port", "duty", "period", "tick_us", "steal_time", "entry" };
        static const char *const steal[] = { [STEAL_ON] = "on", [STEAL_NONE] = "off", [STEAL_OUTSIDE] = "outside",
                                             [STEAL_RESERVED] = "reserved" };
        struct vs_vm_conf *vm = f->conf;
        const char *eq = strchr(kv, '='), *v = eq ? eq + 1 : NULL;
        size_t i = 0;
        uint64_t n;
        if (!eq)
                return conf_bad(f, key, kv, "is not key=value");
        while (i < 7 && (strncmp(kv, params[i], (size_t) (eq - kv)) != 0 || params[i][eq - kv]))
                i++;
        if (i == 7 || (i == 6 && !flat))
                return conf_bad(f, key, kv, "is not a parameter of %s",
                                flat ? "a flat image (entry, count, port, duty, period, tick_us or steal_time)"
                                     : "a built-in guest (count, port, duty, period, tick_us or steal_time)");
        if (*given & (1u << i))
                return conf_bad(f, key, kv, "is given twice");
        *given |= 1u << i;
        switch (i) {
        case 0:
                if (!conf_parse_u64(v, &n))
                        return conf_bad(f, key, kv, "is not a count (0 to %llu)", (unsigned long long) UINT64_MAX);
                vm->builtin.count = n;
                break;
        case 1:
                if (!conf_parse_port(v, &n))
                        return conf_bad(f, key, kv, "is not a port (1 to 65535, or 0x1 to 0xffff)");
                vm->builtin.port = (uint32_t) n;
                break;
        case 2:
                if (!conf_parse_u64(v, &n) || n < 1 || n > 100)
                        return conf_bad(f, key, kv, "is not a percentage (1 to 100)");
                vm->builtin.duty_pct = (uint32_t) n;
                break;
        case 3:
                if (!conf_parse_u64(v, &n) || n < 1 || n > 1000000)
                        return conf_bad(f, key, kv, "is not a number of ticks (1 to 1000000)");
                vm->builtin.period_ticks = (uint32_t) n;
                break;
        case 4: /* below 10 us the guest's timer interrupts would swamp the host */
                if (!conf_parse_u64(v, &n) || n < 10 || n > 1000000)
                        return conf_bad(f, key, kv, "is not a tick length in microseconds (10 to 1000000)");
                vm->builtin.tick_us = (uint32_t) n;
                break;
        case 5: /* the record each vCPU registers with MSR_KVM_STEAL_TIME; outside and reserved: bad ones */
                for (n = 0; n < 4 && strcmp(v, steal[n]) != 0; n++)
                        ;
                if (n == 4)
                        return conf_bad(f, key, kv, "is not a steal time setting (on, off, outside or reserved)");
                vm->builtin.steal_time = (uint32_t) n;
                break;
        default:
                if (!*v || strlen(v) >= sizeof(vm->image_entry))
                        return conf_bad(f, key, kv, "is not an entry name (1 to %zu characters)", sizeof(vm->image_entry) - 1);
                strcpy(vm->image_entry, v);
        }
        return 0;
}

/* flat:/PATH: checked as a path row would be, into vs_vm_conf.image; the file must be there */
static int set_flat_image(struct conf_file *f, const struct conf_key *guest, const char *path) {
        struct conf_key image = *guest;
        struct stat st;
        image.offset = offsetof(struct vs_vm_conf, image);
        image.size = sizeof(((struct vs_vm_conf *) 0)->image);
        int r = conf_path.parse(f, &image, path);
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return conf_bad(f, image.key, path, "cannot be read (%s)", strerror(errno));
        r = fstat(fd, &st) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
                return conf_bad(f, image.key, path, "cannot be read (%s)", strerror(-r));
        if (!S_ISREG(st.st_mode))
                return conf_bad(f, image.key, path, "is not a regular file");
        return 0;
}

/* builtin:NAME: builtin.guest points at hv's own name (static), not into the config, so that a
 * copy of the config is a whole one. */
static int set_builtin(struct conf_file *f, const char *key, const char *tok) {
        struct vs_vm_conf *vm = f->conf;
        const char *names[MAX_BUILTINS];
        char list[256];
        int n = hv_builtin_names(names, MAX_BUILTINS), i = 0;
        if (n > MAX_BUILTINS)
                n = MAX_BUILTINS;
        while (i < n && strcmp(names[i], tok + 8) != 0)
                i++;
        if (i == n || strlen(names[i]) >= sizeof(vm->builtin_name)) {
                conf_join_names(names, (size_t) n, list, sizeof(list));
                return conf_bad(f, key, tok, "is not a built-in guest (%s)", list);
        }
        strcpy(vm->builtin_name, names[i]);
        vm->builtin.guest = names[i];
        return 0;
}

/* builtin:NAME [k=v ...] or flat:/PATH entry=NAME [k=v ...]; stored with single spaces, so that only a
 * real change of the line changes vs_vm_conf.guest. */
static int parse_guest(struct conf_file *f, const struct conf_key *k, const char *v) {
        struct vs_vm_conf *vm = f->conf;
        char line[sizeof(vm->guest)];
        const char *tok[64];
        size_t n_tok = 0;
        unsigned given = 0;
        int r;
        if (strlen(v) >= sizeof(line))
                return conf_bad(f, k->key, v, "is too long (at most %zu characters)", sizeof(line) - 1);
        strcpy(line, v);
        for (char *s = line, *save = NULL; (s = strtok_r(s, " \t", &save)); s = NULL) {
                if (n_tok == sizeof(tok) / sizeof(tok[0]))
                        return conf_bad(f, k->key, v, "has too many parameters");
                tok[n_tok++] = s;
        }
        bool flat = n_tok && strncmp(tok[0], "flat:", 5) == 0;
        if (n_tok && strncmp(tok[0], "linux:", 6) == 0) /* as the summary shows a Linux guest */
                return conf_bad(f, k->key, v, "is not builtin:NAME or flat:/PATH entry=NAME (a Linux guest is kernel = /PATH)");
        if (!n_tok || (!flat && strncmp(tok[0], "builtin:", 8) != 0))
                return conf_bad(f, k->key, v, "is not builtin:NAME or flat:/PATH entry=NAME (e.g. builtin:demo)");
        if ((r = flat ? set_flat_image(f, k, tok[0] + 5) : set_builtin(f, k->key, tok[0])) < 0)
                return r;
        for (size_t i = 1; i < n_tok; i++)
                if ((r = set_guest_param(f, k->key, tok[i], flat, &given)) < 0)
                        return r;
        if (flat && !vm->image_entry[0])
                return conf_bad(f, k->key, v, "has no entry=NAME (the image entry to start)");
        size_t o = 0;
        for (size_t i = 0; i < n_tok; i++)
                o += (size_t) snprintf(vm->guest + o, sizeof(vm->guest) - o, "%s%s", i ? " " : "", tok[i]);
        return 0;
}

/* The parsed guest rather than its text: "count=1 port=2" and "port=2 count=1" are one guest. */
static bool guest_equal(const struct conf_key *k, const void *va, const void *vb) {
        const struct vs_vm_conf *a = va, *b = vb;
        const struct hv_builtin *x = &a->builtin, *y = &b->builtin;
        (void) k;
        return strcmp(a->builtin_name, b->builtin_name) == 0 && x->count == y->count && x->port == y->port &&
               x->mmio_addr == y->mmio_addr && x->duty_pct == y->duty_pct && x->period_ticks == y->period_ticks &&
               x->tick_us == y->tick_us && x->steal_time == y->steal_time && strcmp(a->image, b->image) == 0 &&
               strcmp(a->image_entry, b->image_entry) == 0;
}

/* the summary shows the line as written, "linux:<kernel>" for Linux guests */
static const struct conf_type guest_type = { parse_guest, conf_print_text, guest_equal };

/* The rest of the line, verbatim; a second cmdline line is appended after a space (as the Boot
 * Loader Specification's options lines are), since one line holds less than a command line may. */
static int parse_cmdline(struct conf_file *f, const struct conf_key *k, const char *v) {
        char *c = conf_field(k, f->conf);
        size_t have = strlen(c), add = strlen(v) + (have ? 1 : 0);
        if (!*v)
                return conf_fail(f, "%s: is empty (leave it out for the default)", k->key);
        if (have + add > VS_CONF_CMDLINE_MAX)
                return conf_fail(f, "%s: too long (at most %d bytes, all cmdline lines joined)", k->key, VS_CONF_CMDLINE_MAX);
        if (have)
                c[have++] = ' ';
        memcpy(c + have, v, strlen(v) + 1); /* fits: checked above */
        return 0;
}

static const struct conf_type cmdline_type = { parse_cmdline, conf_print_text, conf_equal_text };

static const struct conf_name cpuid_features[] = {
        { "cx16", HV_CPUID_HIDE_CX16 }, { "xsave", HV_CPUID_HIDE_XSAVE },
};

static const struct conf_name restarts[] = { { "no", VS_RESTART_NO }, { "on-crash", VS_RESTART_ON_CRASH } };
_Static_assert(sizeof(enum vs_restart) == sizeof(int), "restart is read and written as an int");

const struct conf_key conf_vm_keys[] = {
        { "vcpus", &vcpus_type, CONF_VM(vcpus), .restarts_vm = true, .min = 1, .max = 64 },
        { "memory", &memory_type, CONF_VM(memory), .restarts_vm = true, .min = 8 * MiB, .max = 3 * GiB, .step = 4 * KiB,
          .range = "8M to 3G", .example = "256M" },
        { "guest", &guest_type, CONF_VM(guest), .restarts_vm = true },
        /* Linux guests: the files are read when the VM boots (a kernel may be installed after the config) */
        { "kernel", &conf_path, CONF_VM(kernel), .restarts_vm = true, .shown = CONF_SHOWN_NOT },
        { "initrd", &conf_path, CONF_VM(initrd), .restarts_vm = true, .shown = CONF_SHOWN_LINUX, .empty = "none" },
        { "cmdline", &cmdline_type, CONF_VM(cmdline), .repeatable = true, .restarts_vm = true, .shown = CONF_SHOWN_LINUX },
        { "cpuid_hide", &conf_flags, CONF_VM(cpuid_hide), .restarts_vm = true, .shown = CONF_SHOWN_LINUX,
          CONF_NAMES(cpuid_features), .what = "a CPUID feature vmstatd can hide",
          .what_list = "a list of CPUID features to hide", .empty = "none" },
        { "autostart", &conf_bool, CONF_VM(autostart), .restarts_vm = true, .yes = "autostart", .no = "no autostart" },
        { "restart", &conf_enum, CONF_VM(restart), .restarts_vm = true, .shown = CONF_SHOWN_KEYED, CONF_NAMES(restarts) },
        { "cpus", &conf_cpus, CONF_VM(cpus_mask), .restarts_vm = true, .shown = CONF_SHOWN_CHANGED },
        { "console_log", &conf_path, CONF_VM(console_log), .restarts_vm = true, .shown = CONF_SHOWN_CHANGED },
        /* applies on reload without restarting the VM */
        { "console_log_max", &conf_size, CONF_VM(console_log_max), .shown = CONF_SHOWN_CHANGED, LOG_MAX_TERMS },
};
const size_t conf_n_vm_keys = sizeof(conf_vm_keys) / sizeof(conf_vm_keys[0]);
