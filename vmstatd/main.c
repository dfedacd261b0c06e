/* vmstatd: runs the configured KVM guests and serves the truth about them over HTTP.
 * For now the configuration is the embedded default (VM b13, 2 vCPUs, builtin:demo) plus
 * command-line flags; config files, systemd and the control socket come next. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "boot/boot.h"
#include "devices/devices.h"
#include "http.h"
#include "kvm.h"
#include "log.h"
#include "sampler.h"
#include "vm.h"

#define VMSTATD_VERSION "0.1.0"
#define MAX_LISTEN 16

struct options {
        const char *listen[MAX_LISTEN];
        size_t n_listen;
        uint64_t interval_ns;
        unsigned history;
        int enable[CL_MAX_COLLECTORS];
        bool histograms;
};

struct daemon {
        struct hv_kvm *kvm;
        struct hv_vm *vm; /* the embedded default */
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: vmstatd [OPTIONS]\n"
                "Runs KVM guests and exports vm-exit counters, runstate times and CPU ready/steal.\n\n"
                "  --listen ADDR:PORT        listen address, repeatable (default 127.0.0.1:9400)\n"
                "  --interval DURATION       sampling interval, >= 100ms (default 5s)\n"
                "  --history N               samples kept per VM (default 720)\n"
                "  --collector.NAME          enable a collector\n"
                "  --no-collector.NAME       disable a collector\n"
                "  --collector.histograms    also export exit-handling and KVM histograms\n"
                "  --help, --version\n\nCollectors:");
        for (size_t i = 0; i < collector_registry_len; i++)
                fprintf(f, " %s%s", collector_registry[i]->name,
                        collector_registry[i]->enabled_by_default ? "" : " (off by default)");
        fprintf(f, "\n");
}

/* "5s", "500ms", "2m", "1.5s"; 0 on error */
static uint64_t parse_duration(const char *s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || v <= 0)
                return 0;
        if (strcmp(end, "ms") == 0)
                return (uint64_t) (v * 1e6);
        if (strcmp(end, "s") == 0 || *end == 0)
                return (uint64_t) (v * 1e9);
        if (strcmp(end, "m") == 0)
                return (uint64_t) (v * 60e9);
        return 0;
}

static int set_collector(struct options *o, const char *name, int on) {
        for (size_t i = 0; i < collector_registry_len; i++)
                if (strcmp(collector_registry[i]->name, name) == 0) {
                        o->enable[i] = on;
                        return 0;
                }
        fprintf(stderr, "vmstatd: unknown collector '%s' (see --help)\n", name);
        return -EINVAL;
}

/* 1 = exit 0 (help/version), 0 = run, -1 = usage error */
static int parse_args(int argc, char **argv, struct options *o) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *val = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                        usage(stdout);
                        return 1;
                } else if (strcmp(a, "--version") == 0) {
                        printf("vmstatd " VMSTATD_VERSION "\n");
                        return 1;
                } else if (strcmp(a, "--listen") == 0 && val) {
                        if (o->n_listen == MAX_LISTEN) {
                                fprintf(stderr, "vmstatd: at most %d --listen addresses\n", MAX_LISTEN);
                                return -1;
                        }
                        o->listen[o->n_listen++] = val;
                        i++;
                } else if (strcmp(a, "--interval") == 0 && val) {
                        o->interval_ns = parse_duration(val);
                        if (o->interval_ns < VS_MIN_INTERVAL_NS) {
                                fprintf(stderr, "vmstatd: --interval '%s': expected a duration of at least 100ms (e.g. 5s)\n", val);
                                return -1;
                        }
                        i++;
                } else if (strcmp(a, "--history") == 0 && val) {
                        char *end;
                        unsigned long n = strtoul(val, &end, 10);
                        if (*end || n < 1 || n > 100000) {
                                fprintf(stderr, "vmstatd: --history '%s': expected 1..100000\n", val);
                                return -1;
                        }
                        o->history = (unsigned) n;
                        i++;
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
        if (o->n_listen == 0)
                o->listen[o->n_listen++] = "127.0.0.1:9400";
        return 0;
}

static long console_tail(void *opaque, const char *vm, char *buf, size_t max) {
        struct daemon *d = opaque;
        if (!d->vm || strcmp(d->vm->name, vm) != 0)
                return -ENOENT;
        return (long) hv_console_tail(d->vm->console, buf, max);
}

static int start_default_vm(struct daemon *d, struct vs_sampler *s) {
        struct hv_vm_config cfg = { .name = "b13", .vcpus = 2, .ram_bytes = 64 << 20 };
        int r = hv_vm_create(d->kvm, &cfg, &d->vm);
        if (r < 0) {
                vs_log(LOG_ERR, "VM b13: creating: %s", strerror(-r));
                return r;
        }
        if ((r = hv_boot_builtin(d->vm, &(struct hv_builtin) { .guest = "demo" })) < 0 ||
            (r = vs_sampler_add_vm(s, d->vm)) < 0 || (r = hv_vm_start(d->vm)) < 0) {
                vs_log(LOG_ERR, "VM b13: starting builtin:demo: %s", strerror(-r));
                return r;
        }
        vs_log(LOG_INFO, "no configuration: running the embedded default, VM b13 (2 vCPUs, 64 MiB, builtin:demo)");
        return 0;
}

static void raise_nofile(void) {
        struct rlimit rl; /* KVM and procfs want a few fds per vCPU */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv) {
        struct options o = { 0 };
        struct daemon d = { 0 };
        struct vs_sampler *s = NULL;
        struct vs_http *http = NULL;
        char why[VS_HTTP_WHY_LEN > HV_WHY_LEN ? VS_HTTP_WHY_LEN : HV_WHY_LEN];
        sigset_t sigs;
        int r, sig;

        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                o.enable[i] = -1;
        if ((r = parse_args(argc, argv, &o)) != 0)
                return r > 0 ? 0 : 2;
        /* signals are handled synchronously by this thread; every other thread inherits the mask */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
        raise_nofile();

        if ((r = hv_kvm_open(NULL, &d.kvm, why)) < 0) {
                vs_log(LOG_ERR, "%s", why);
                return 1;
        }
        struct vs_sampler_config scfg = { .interval_ns = o.interval_ns, .history = o.history };
        memcpy(scfg.enable, o.enable, sizeof(scfg.enable));
        if ((r = vs_sampler_new(&scfg, &s)) < 0) {
                vs_log(LOG_ERR, "sampler: %s", strerror(-r));
                return 1;
        }
        size_t n_coll;
        const struct collector *coll = vs_sampler_collectors(s, &n_coll);
        for (size_t i = 0; i < n_coll; i++)
                if (coll[i].enabled && coll[i].init_error)
                        vs_log(LOG_WARNING, "collector %s: %s", coll[i].ops->name, coll[i].error);
        if (start_default_vm(&d, s) < 0)
                goto out;
        vs_sampler_sample(s); /* /metrics has a body from the first scrape on */

        struct vs_http_config hcfg = {
                .listen = o.listen, .n_listen = o.n_listen, .history = o.history ? o.history : VS_DEFAULT_HISTORY,
                .render = { .histograms = o.histograms }, .console_tail = console_tail, .opaque = &d,
        };
        if ((r = vs_http_start(&hcfg, s, &http, why)) < 0) {
                vs_log(LOG_ERR, "%s", why);
                goto out;
        }
        vs_sampler_set_publish_hook(s, vs_http_publish, http);
        if ((r = vs_sampler_start(s)) < 0) {
                vs_log(LOG_ERR, "sampler thread: %s", strerror(-r));
                goto out;
        }
        for (size_t i = 0; i < o.n_listen; i++)
                vs_log(LOG_INFO, "listening on http://%s/ (metrics at /metrics)", o.listen[i]);

        while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
                vs_log(LOG_NOTICE, "SIGHUP: nothing to reload without a configuration");
        vs_log(LOG_INFO, "%s: stopping", strsignal(sig));
        r = 0;
out:
        vs_sampler_stop(s);
        vs_http_stop(http);
        if (d.vm) {
                hv_vm_stop(d.vm);
                vs_sampler_remove_vm(s, d.vm);
                hv_vm_destroy(d.vm);
        }
        vs_sampler_free(s);
        hv_kvm_free(d.kvm);
        return r < 0 ? 1 : 0;
}
