/* vmstatd: runs the configured KVM guests and serves the truth about them over HTTP.
 * This file reads the command line and the configuration; daemon.c runs the daemon. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "sampler.h"

#define VMSTATD_VERSION "0.1.0"

/* what the command line says; it overrides the configuration file */
struct options {
        const char *config_dir;
        bool check_config;
        bool no_config;
        struct vs_listen listen[VS_CONF_MAX_LISTEN];
        size_t n_listen;
        uint64_t interval_ns;
        unsigned history;
        int enable[CL_MAX_COLLECTORS];
        bool histograms;
        const char *kvm_stats_include, *kvm_stats_exclude;
        const char *control_socket;
        const char *runtime_dir;
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: vmstatd [OPTIONS]\n"
                "Runs KVM guests and exports vm-exit counters, runstate times and CPU ready/steal.\n\n"
                "  --config DIR              configuration directory (default " VS_CONF_DEFAULT_DIR ")\n"
                "  --no-config               ignore any configuration: run the embedded default\n"
                "  --check-config            validate the configuration, print a summary, exit\n"
                "  --listen ADDR:PORT        listen address, repeatable (default 127.0.0.1:9400)\n"
                "  --interval DURATION       sampling interval, >= 100ms (default 5s)\n"
                "  --history N               samples kept per VM (default 720)\n"
                "  --control-socket PATH     control API socket (default RUNTIME_DIR/control.sock)\n"
                "  --runtime-dir DIR         where workers listen, so a new daemon finds running guests\n"
                "                            (default $RUNTIME_DIRECTORY, else /run/vmstatd for root,\n"
                "                            else $XDG_RUNTIME_DIR/vmstatd, else /tmp/vmstatd-UID)\n"
                "  --collector.NAME          enable a collector\n"
                "  --no-collector.NAME       disable a collector\n"
                "  --collector.histograms    also export exit-handling and KVM histograms\n"
                "  --collector.kvm.stats-include REGEX\n"
                "  --collector.kvm.stats-exclude REGEX\n"
                "                            export only the KVM stats whose kernel names fully match\n"
                "                            include and do not fully match exclude (POSIX ERE)\n"
                "  --help, --version\n\nCollectors:");
        for (size_t i = 0; i < collector_registry_len; i++)
                fprintf(f, " %s%s", collector_registry[i]->name,
                        collector_registry[i]->enabled_by_default ? "" : " (off by default)");
        fprintf(f, "\n\nWithout a configuration it runs the embedded default: VM b13, 2 vCPUs, builtin:demo.\n");
}

static int set_collector(struct options *o, const char *name, int on) {
        const struct collector_ops *ops = collector_find(name);
        if (!ops) {
                fprintf(stderr, "vmstatd: unknown collector '%s' (see --help)\n", name);
                return -EINVAL;
        }
        for (size_t i = 0; i < collector_registry_len; i++)
                if (collector_registry[i] == ops)
                        o->enable[i] = on;
        return 0;
}

/* "--name REGEX" or "--name=REGEX" (node_exporter's spelling): the regex, checked now; NULL
 * when a is not that option. *i moves past a separate value. */
static const char *filter_arg(const char *name, int argc, char **argv, int *i, bool *bad) {
        const char *a = argv[*i], *v;
        size_t n = strlen(name);
        if (strncmp(a, name, n) != 0 || (a[n] != 0 && a[n] != '='))
                return NULL;
        if (a[n] == '=')
                v = a + n + 1;
        else if (*i + 1 < argc)
                v = argv[++*i];
        else {
                fprintf(stderr, "vmstatd: %s needs a regex\n", name);
                *bad = true;
                return NULL;
        }
        char why[CL_ERROR_LEN];
        if (cl_kvm_regex_check(v, why, sizeof(why)) < 0) {
                fprintf(stderr, "vmstatd: %s: '%s': %s\n", name, v, why);
                *bad = true;
                return NULL;
        }
        return v;
}

/* 1 = exit 0 (help/version), 0 = run, -1 = usage error */
static int parse_args(int argc, char **argv, struct options *o) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL, *re;
                bool bad = false;
                if ((re = filter_arg("--collector.kvm.stats-include", argc, argv, &i, &bad)))
                        o->kvm_stats_include = re;
                else if ((re = filter_arg("--collector.kvm.stats-exclude", argc, argv, &i, &bad)))
                        o->kvm_stats_exclude = re;
                else if (bad)
                        return -1;
                else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                        usage(stdout);
                        return 1;
                } else if (strcmp(a, "--version") == 0) {
                        printf("vmstatd " VMSTATD_VERSION "\n");
                        return 1;
                } else if (strcmp(a, "--no-config") == 0) {
                        o->no_config = true;
                } else if (strcmp(a, "--check-config") == 0) {
                        o->check_config = true;
                } else if (strcmp(a, "--config") == 0 && val) {
                        o->config_dir = argv[++i];
                } else if (strcmp(a, "--control-socket") == 0 && val) {
                        o->control_socket = argv[++i];
                } else if (strcmp(a, "--runtime-dir") == 0 && val) {
                        o->runtime_dir = argv[++i];
                        if (strlen(o->runtime_dir) > VS_CONF_RUNTIME_DIR_MAX) {
                                fprintf(stderr, "vmstatd: --runtime-dir '%s': at most %d bytes (its sockets must fit "
                                                "a unix socket path)\n", val, VS_CONF_RUNTIME_DIR_MAX);
                                return -1;
                        }
                } else if (strcmp(a, "--listen") == 0 && val) {
                        if (o->n_listen == VS_CONF_MAX_LISTEN) {
                                fprintf(stderr, "vmstatd: at most %d --listen addresses\n", VS_CONF_MAX_LISTEN);
                                return -1;
                        }
                        char why[VS_LISTEN_WHY_LEN];
                        if (vs_listen_parse(argv[++i], &o->listen[o->n_listen], why) < 0) {
                                fprintf(stderr, "vmstatd: %s\n", why);
                                return -1;
                        }
                        o->n_listen++;
                } else if (strcmp(a, "--interval") == 0 && val) {
                        o->interval_ns = vs_parse_duration(argv[++i]);
                        if (o->interval_ns < VS_MIN_INTERVAL_NS) {
                                fprintf(stderr, "vmstatd: --interval '%s': expected a duration of at least 100ms (e.g. 5s)\n", val);
                                return -1;
                        }
                } else if (strcmp(a, "--history") == 0 && val) {
                        char *end;
                        unsigned long n = strtoul(argv[++i], &end, 10);
                        if (*end || n < 1 || n > 100000) {
                                fprintf(stderr, "vmstatd: --history '%s': expected 1..100000\n", val);
                                return -1;
                        }
                        o->history = (unsigned) n;
                } else if (strcmp(a, "--collector.histograms") == 0) {
                        o->histograms = true;
                } else if (strncmp(a, "--collector.", 12) == 0) {
                        if (set_collector(o, a + 12, 1) < 0)
                                return -1;
                } else if (strncmp(a, "--no-collector.", 15) == 0) {
                        if (set_collector(o, a + 15, 0) < 0)
                                return -1;
                } else {
                        fprintf(stderr, "vmstatd: unknown or incomplete option '%s' (see --help)\n", a);
                        return -1;
                }
        }
        return 0;
}

/* the command line wins over the file */
static void apply_options(const struct options *o, struct vs_conf *c) {
        if (o->n_listen) {
                c->n_listen = o->n_listen;
                for (size_t i = 0; i < o->n_listen; i++)
                        c->listen[i] = o->listen[i];
        }
        if (o->interval_ns)
                c->interval_ns = o->interval_ns;
        if (o->history)
                c->history = o->history;
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                if (o->enable[i] >= 0)
                        c->enable[i] = o->enable[i];
        c->histograms |= o->histograms;
        if (o->kvm_stats_include)
                snprintf(c->kvm_stats_include, sizeof(c->kvm_stats_include), "%s", o->kvm_stats_include);
        if (o->kvm_stats_exclude)
                snprintf(c->kvm_stats_exclude, sizeof(c->kvm_stats_exclude), "%s", o->kvm_stats_exclude);
        if (o->control_socket) {
                snprintf(c->control_socket, sizeof(c->control_socket), "%s", o->control_socket);
                c->control_socket_set = true;
        }
        if (o->runtime_dir)
                snprintf(c->runtime_dir, sizeof(c->runtime_dir), "%s", o->runtime_dir);
        vs_conf_finish(c);
}

static int load_config(const struct options *o, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]) {
        if (o->no_config) {
                vs_conf_default(ret);
                apply_options(o, ret);
                return 0;
        }
        int r = vs_conf_load(o->config_dir ? o->config_dir : VS_CONF_DEFAULT_DIR, ret, err);
        if (r < 0) {
                vs_log(LOG_ERR, "configuration: %s", err);
                return r;
        }
        apply_options(o, ret);
        return 0;
}

/* SIGHUP's reading of the configuration: the command line still wins. */
static int reload_config(void *opaque, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]) {
        return load_config(opaque, ret, err);
}

int main(int argc, char **argv) {
        struct options opt = { 0 };
        struct vs_conf conf = { 0 };
        int r;

        /* Bodies are rendered by whichever HTTP thread asks first, samples by the sampler: with
         * glibc's default of one arena per thread, each thread's freed memory stayed in its own
         * arena and the resident size crept up as new threads rendered (the soak saw +1 MiB). */
        mallopt(M_ARENA_MAX, 2);
        /* A /metrics body (5 MB at 1,024 vCPUs) is mapped and unmapped whole: by default glibc
         * raises its mmap threshold to the size of the first large block freed, and every later
         * body then stayed in an arena after it was freed, resident. */
        mallopt(M_MMAP_THRESHOLD, 256 << 10);
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                opt.enable[i] = -1;
        if ((r = parse_args(argc, argv, &opt)) != 0)
                return r > 0 ? 0 : 2;
        char err[VS_CONF_ERR_LEN];
        if (load_config(&opt, &conf, err) < 0) {
                sd_notifyf(0, "STATUS=configuration error: %s", err);
                return 1;
        }
        if (opt.check_config) {
                vs_conf_print(&conf, stdout);
                vs_conf_free(&conf);
                return 0;
        }
        vs_log_set_level(conf.log_level);
        if (conf.embedded)
                vs_log(LOG_INFO, "%s%s: running the embedded default, VM b13 (2 vCPUs, 64 MiB, builtin:demo)",
                       opt.no_config ? "--no-config" : "no configuration in ",
                       opt.no_config ? "" : opt.config_dir ? opt.config_dir : VS_CONF_DEFAULT_DIR);
        struct vs_daemon_config dcfg = { .conf = &conf, .argv = argv, .load = reload_config,
                                         .opaque = &opt };
        r = vs_daemon_run(&dcfg);
        vs_conf_free(&conf);
        return r < 0 ? 1 : 0;
}
