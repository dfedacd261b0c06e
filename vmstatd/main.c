/* vmstatd: runs the configured KVM guests and serves the truth about them over HTTP.
 * One sd-event loop owns signals, reloads, supervision, console logs and the watchdog; samples
 * are taken on the sampler's own drift-free thread, HTTP runs in libmicrohttpd's threads,
 * guests in their vCPU threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "kvm.h"
#include "log.h"
#include "manager.h"
#include "paths.h"
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

struct daemon {
        struct options opt;
        struct vs_conf conf;
        struct hv_kvm *kvm;
        struct vs_sampler *sampler;
        struct vs_manager *manager;
        struct vs_http *http;
        sd_event *event;
        uint64_t start_ns;       /* supervision deadlines are start + k * interval */
        uint64_t watchdog_usec;  /* 0 = no watchdog */
        struct vs_daemon_counters counters;
        char **argv;             /* for daemon-reexec */
        char exe[4096];          /* the binary's path at start: daemon-reexec runs what is there now */
        bool reexec;             /* the loop ended for an exec of the binary, not a stop */
        int lock_fd;             /* flock on <runtime_dir>/vmstatd.lock: one daemon per runtime directory */
};

/* Console output reaches the log files this often, whatever the sampling interval: a 64 KiB
 * ring per VM holds ~6 s of a guest printing 10 KiB/s, and Linux prints faster as it boots. */
#define CONSOLE_TICK_USEC 100000
#define CONSOLE_IDLE_USEC 1000000 /* no console log open: only adopted workers' ends to notice */

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

static int load_config(struct daemon *d, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]) {
        if (d->opt.no_config) {
                vs_conf_default(ret);
                apply_options(&d->opt, ret);
                return 0;
        }
        int r = vs_conf_load(d->opt.config_dir ? d->opt.config_dir : VS_CONF_DEFAULT_DIR, ret, err);
        if (r < 0) {
                vs_log(LOG_ERR, "configuration: %s", err);
                return r;
        }
        apply_options(&d->opt, ret);
        return 0;
}

/* ---- the loop ------------------------------------------------------------------------------------------- */

static void notify_status(struct daemon *d, const char *prefix) {
        struct vs_manager_counts n;
        struct vs_sample *s = vs_sampler_latest(d->sampler);
        vs_manager_counts(d->manager, &n);
        sd_notifyf(0, "%sSTATUS=%u VMs (%u running, %u paused, %u stopped, %u crashed), %u vCPUs, ready %.1f%%, "
                   "sample took %.1f ms", prefix, n.vms, n.running, n.paused, n.stopped, n.crashed, n.vcpus,
                   s ? 100 * s->host_ready_ratio : 0.0, s ? (double) s->duration_ns / 1e6 : 0.0);
        vs_sample_unref(s);
}

static uint64_t next_deadline_usec(struct daemon *d) {
        uint64_t interval = vs_sampler_interval_ns(d->sampler);
        uint64_t k = (hv_now_ns() - d->start_ns) / interval + 1; /* missed deadlines are skipped */
        return (d->start_ns + k * interval) / 1000;
}

/* The watchdog is fed only while this loop runs and the sampler thread keeps up. */
static bool samples_fresh(struct daemon *d) {
        struct vs_sample *s = vs_sampler_latest(d->sampler);
        uint64_t allowed = vs_sampler_interval_ns(d->sampler) + d->watchdog_usec * 500;
        bool fresh = s && hv_now_ns() - s->mono_ns < allowed;
        vs_sample_unref(s);
        return fresh;
}

/* Every interval: restarts that are due, STATUS=, and a watchdog ping. Samples are not taken
 * here: creating or destroying a VM (a reload, a restart) can take seconds on a loaded host,
 * and must not delay or skip one. */
static int on_supervise_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct daemon *d = userdata;
        (void) usec;
        vs_manager_tick(d->manager);
        notify_status(d, d->watchdog_usec && samples_fresh(d) ? "WATCHDOG=1\n" : "");
        sd_event_source_set_time(src, next_deadline_usec(d));
        return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

/* With intervals longer than half the watchdog timeout the supervision timer alone would miss
 * it: this pings in between. */
static int on_watchdog_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct daemon *d = userdata;
        if (samples_fresh(d))
                sd_notify(0, "WATCHDOG=1");
        sd_event_source_set_time(src, usec + d->watchdog_usec / 2);
        return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

static bool daemon_settings_changed(const struct vs_conf *a, const struct vs_conf *b) {
        bool listen = a->n_listen != b->n_listen;
        for (size_t i = 0; !listen && i < a->n_listen; i++)
                listen = strcmp(a->listen[i].text, b->listen[i].text) != 0;
        bool hosts = a->n_allowed_hosts != b->n_allowed_hosts;
        for (size_t i = 0; !hosts && i < a->n_allowed_hosts; i++)
                hosts = strcmp(a->allowed_hosts[i], b->allowed_hosts[i]) != 0;
        return listen || hosts || a->interval_ns != b->interval_ns || a->history != b->history ||
               memcmp(a->enable, b->enable, sizeof(a->enable)) != 0 || a->histograms != b->histograms ||
               strcmp(a->control_socket, b->control_socket) != 0 || a->console_over_http != b->console_over_http ||
               strcmp(a->runtime_dir, b->runtime_dir) != 0 || strcmp(a->kvm_stats_include, b->kvm_stats_include) != 0 ||
               strcmp(a->kvm_stats_exclude, b->kvm_stats_exclude) != 0;
}

static int on_sighup(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;
        struct vs_conf next;
        char err[VS_CONF_ERR_LEN];
        (void) src;
        (void) si;
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long) (hv_now_ns() / 1000));
        vs_log(LOG_INFO, "SIGHUP: reloading the configuration");
        if (load_config(d, &next, err) < 0) { /* rejected whole: the old set keeps running */
                d->counters.reloads_failure++;
                d->counters.last_reload_failed = true;
                vs_sampler_set_daemon_counters(d->sampler, &d->counters);
                sd_notifyf(0, "READY=1\nSTATUS=reload rejected, old configuration kept: %s", err);
                return 0;
        }
        if (daemon_settings_changed(&d->conf, &next))
                vs_log(LOG_WARNING, "listen, interval, history, collectors, kvm_stats_include/exclude, control_socket, "
                                    "runtime_dir, console_over_http and allowed_hosts changes take effect at the next "
                                    "restart");
        int failed = vs_manager_apply(d->manager, &next);
        vs_conf_free(&d->conf);
        d->conf = next; /* a configuration holds no pointer into itself */
        vs_log(failed ? LOG_WARNING : LOG_INFO, "reloaded: %zu VMs configured, %d failed to start", d->conf.n_vms,
               failed);
        d->counters.reloads_success++;
        d->counters.last_reload_failed = false;
        vs_sampler_set_daemon_counters(d->sampler, &d->counters);
        notify_status(d, "READY=1\n");
        return 0;
}

static int on_console_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct daemon *d = userdata;
        vs_manager_console_tick(d->manager);
        /* without console logs nothing needs it often: every wakeup costs (~60 us here) */
        bool logs = vs_manager_console_logs(d->manager);
        sd_event_source_set_time(src, usec + (logs ? CONSOLE_TICK_USEC : CONSOLE_IDLE_USEC));
        return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

static int on_sigchld(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;
        (void) src;
        (void) si;
        vs_manager_child_exited(d->manager);
        vs_manager_reap(d->manager); /* a dead worker's VM is crashed(worker_died) at once */
        return 0;
}

static int on_reexec_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;
        (void) si;
        vs_log(LOG_INFO, "daemon-reexec: executing the binary anew; guests keep running");
        d->reexec = true;
        return sd_event_exit(sd_event_source_get_event(src), 0);
}

static int on_stop_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        (void) userdata;
        vs_log(LOG_INFO, "%s: stopping", strsignal((int) si->ssi_signo));
        return sd_event_exit(sd_event_source_get_event(src), 0);
}

static void raise_nofile(void) {
        struct rlimit rl; /* KVM and procfs want a few fds per vCPU */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

/* The control socket's directory comes from systemd (RuntimeDirectory=vmstatd); without it
 * the read-only API still serves and the log says why control is off. */
static const char *control_socket_path(const struct vs_conf *c) {
        char dir[sizeof(c->control_socket)];
        if (!c->control_socket[0])
                return NULL;
        snprintf(dir, sizeof(dir), "%s", c->control_socket);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir)
                *slash = 0;
        if (access(dir, W_OK) != 0) {
                vs_log(LOG_WARNING, "control API off: cannot create %s (%s: %s); set control_socket or "
                                    "--control-socket", c->control_socket, dir, strerror(errno));
                return NULL;
        }
        return c->control_socket;
}

/* One daemon per runtime directory: two would both take the same workers over. "" when the
 * directory cannot be had (guests then die with this daemon). */
static int runtime_dir_lock(struct daemon *d, char *dir, size_t len) {
        char path[sizeof(d->conf.runtime_dir) + 16];
        d->lock_fd = -1;
        dir[0] = 0;
        if (!d->conf.runtime_dir[0])
                return 0;
        int r = vs_runtime_dir_make(d->conf.runtime_dir);
        if (r < 0) {
                vs_log(LOG_WARNING, "runtime directory %s: %s: guests will not outlive this daemon, and the control "
                                    "socket there is off", d->conf.runtime_dir,
                       r == -EPERM ? "belongs to someone else or others may write it" : strerror(-r));
                return 0;
        }
        snprintf(path, sizeof(path), "%s/vmstatd.lock", d->conf.runtime_dir);
        d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        if (d->lock_fd < 0) {
                vs_log(LOG_WARNING, "%s: %s: guests will not outlive this daemon", path, strerror(errno));
                return 0;
        }
        if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                vs_log(LOG_ERR, "another vmstatd runs with the runtime directory %s (%s is locked); give this one "
                                "its own (--runtime-dir, runtime_dir=)", d->conf.runtime_dir, path);
                sd_notifyf(0, "STATUS=another vmstatd uses %s", d->conf.runtime_dir);
                return -EBUSY;
        }
        snprintf(dir, len, "%s", d->conf.runtime_dir);
        return 0;
}

/* vmstatd-vm lives next to vmstatd; VMSTATD_WORKER names another (tests, development). */
static void worker_exe(const char *self, char *buf, size_t len) {
        char dir[sizeof(((struct daemon *) 0)->exe)];
        const char *env = getenv("VMSTATD_WORKER");
        snprintf(dir, sizeof(dir), "%s", self);
        if (env && env[0])
                snprintf(buf, len, "%s", env);
        else if (strcmp(self, "/proc/self/exe") != 0) /* vmstatd-vm lives next to vmstatd */
                snprintf(buf, len, "%s/vmstatd-vm", dirname(dir));
        else
                snprintf(buf, len, "vmstatd-vm");
}

static void request_reexec(void *opaque) {
        (void) opaque;
        kill(getpid(), SIGUSR2); /* carried out by the loop, after this answer */
}

static int start(struct daemon *d) {
        char why[VS_HTTP_WHY_LEN > HV_WHY_LEN ? VS_HTTP_WHY_LEN : HV_WHY_LEN];
        int r;

        vs_log_set_level(d->conf.log_level);
        if (d->conf.embedded)
                vs_log(LOG_INFO, "%s%s: running the embedded default, VM b13 (2 vCPUs, 64 MiB, builtin:demo)",
                       d->opt.no_config ? "--no-config" : "no configuration in ",
                       d->opt.no_config ? "" : d->opt.config_dir ? d->opt.config_dir : VS_CONF_DEFAULT_DIR);
        if ((r = hv_kvm_open(NULL, &d->kvm, why)) < 0) {
                vs_log(LOG_ERR, "%s", why);
                sd_notifyf(0, "STATUS=%s", why);
                return r;
        }
        struct vs_manager_config mcfg = { .sigchld = true }; /* run_loop's on_sigchld */
        if ((r = runtime_dir_lock(d, mcfg.runtime_dir, sizeof(mcfg.runtime_dir))) < 0)
                return r;
        worker_exe(d->exe, mcfg.worker_exe, sizeof(mcfg.worker_exe));
        struct vs_sampler_config scfg = { .interval_ns = d->conf.interval_ns, .history = d->conf.history,
                                          .histograms = d->conf.histograms,
                                          .kvm_stats_include = d->conf.kvm_stats_include,
                                          .kvm_stats_exclude = d->conf.kvm_stats_exclude };
        memcpy(scfg.enable, d->conf.enable, sizeof(scfg.enable));
        if ((r = vs_sampler_new(&scfg, &d->sampler)) < 0 || (r = vs_manager_new(&mcfg, d->sampler, &d->manager)) < 0) {
                vs_log(LOG_ERR, "sampler: %s", strerror(-r));
                return r;
        }
        int adopted = vs_manager_adopt(d->manager); /* guests an earlier daemon left running */
        if (adopted > 0)
                vs_log(LOG_INFO, "adopted %d running VM%s", adopted, adopted == 1 ? "" : "s");
        size_t n_coll;
        const struct collector *coll = vs_sampler_collectors(d->sampler, &n_coll);
        for (size_t i = 0; i < n_coll; i++)
                if (coll[i].enabled && coll[i].init_error)
                        vs_log(LOG_WARNING, "collector %s: %s", coll[i].ops->name, coll[i].error);
        vs_sampler_sample(d->sampler); /* /metrics has a body from the first scrape on: adopted VMs */

        const char *hosts[VS_CONF_MAX_HOSTS];
        for (size_t i = 0; i < d->conf.n_allowed_hosts; i++)
                hosts[i] = d->conf.allowed_hosts[i];
        int fds[16], n_fds = sd_listen_fds(1);
        for (int i = 0; i < n_fds && i < 16; i++)
                fds[i] = SD_LISTEN_FDS_START + i;
        struct vs_http_config hcfg = {
                .listen = n_fds > 0 ? NULL : d->conf.listen,
                .n_listen = n_fds > 0 ? 0 : d->conf.n_listen,
                .fds = fds,
                .n_fds = n_fds > 0 ? (size_t) (n_fds < 16 ? n_fds : 16) : 0,
                .history = d->conf.history,
                .console_over_http = d->conf.console_over_http,
                .allowed_hosts = hosts,
                .n_allowed_hosts = d->conf.n_allowed_hosts,
                .render = { .histograms = d->conf.histograms },
                .console_tail = vs_manager_console_tail,
                .opaque = d->manager,
                .control_socket = control_socket_path(&d->conf),
                .action = vs_manager_action,
                .reexec = request_reexec,
                .reexec_opaque = d,
                .starting = true,
        };
        if ((r = vs_http_start(&hcfg, d->sampler, &d->http, why)) < 0) {
                vs_log(LOG_ERR, "%s", why);
                sd_notifyf(0, "STATUS=%s", why);
                return r;
        }
        vs_sampler_set_publish_hook(d->sampler, vs_http_publish, d->http);
        if ((r = vs_sampler_start(d->sampler)) < 0) {
                vs_log(LOG_ERR, "starting the sampler thread: %s", strerror(-r));
                return r;
        }
        /* HTTP and the sampler run while the VMs launch (256 take ~2 s here): each VM is served
         * from the first sample after its worker's hello; /healthz says starting (503) */
        vs_manager_apply(d->manager, &d->conf); /* failures are logged per VM; the daemon serves the rest */
        d->start_ns = hv_now_ns();
        vs_sampler_sample(d->sampler); /* every launched VM on /metrics at once, not an interval later */
        vs_http_started(d->http);
        if (n_fds > 0)
                vs_log(LOG_INFO, "serving %d socket(s) passed by systemd", n_fds);
        for (size_t i = 0; n_fds <= 0 && i < d->conf.n_listen; i++)
                vs_log(LOG_INFO, "listening on http://%s/ (metrics at /metrics)", d->conf.listen[i].text);
        if (hcfg.control_socket)
                vs_log(LOG_INFO, "control API on %s", hcfg.control_socket);
        return 0;
}

static int run_loop(struct daemon *d) {
        int r = sd_event_default(&d->event);
        if (r < 0)
                return r;
        sd_event_add_signal(d->event, NULL, SIGTERM, on_stop_signal, d);
        sd_event_add_signal(d->event, NULL, SIGINT, on_stop_signal, d);
        sd_event_add_signal(d->event, NULL, SIGHUP, on_sighup, d);
        sd_event_add_signal(d->event, NULL, SIGUSR2, on_reexec_signal, d);
        sd_event_add_signal(d->event, NULL, SIGCHLD, on_sigchld, d);
        r = sd_event_add_time(d->event, NULL, CLOCK_MONOTONIC, next_deadline_usec(d), 1000, on_supervise_timer, d);
        if (r >= 0)
                r = sd_event_add_time(d->event, NULL, CLOCK_MONOTONIC, hv_now_ns() / 1000 + CONSOLE_TICK_USEC,
                                      10000, on_console_timer, d);
        if (r >= 0 && sd_watchdog_enabled(0, &d->watchdog_usec) > 0)
                r = sd_event_add_time(d->event, NULL, CLOCK_MONOTONIC, hv_now_ns() / 1000 + d->watchdog_usec / 2,
                                      1000, on_watchdog_timer, d);
        else
                d->watchdog_usec = 0;
        if (r < 0)
                return r;
        notify_status(d, "READY=1\n");
        return sd_event_loop(d->event);
}

/* daemon-reexec: the listening sockets go to the new program as socket activation would pass
 * them (LISTEN_FDS, same pid), the workers are left running for it to adopt. Returns only if
 * the exec failed; the caller then stops as on SIGTERM. */
static void reexec(struct daemon *d) {
        int fds[16], moved[16];
        char env[32];
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=re-executing", (unsigned long long) (hv_now_ns() / 1000));
        vs_sampler_stop(d->sampler);
        vs_sampler_set_publish_hook(d->sampler, NULL, NULL);
        size_t n = vs_http_quiesce(d->http, fds, 16, 3000);
        vs_http_stop(d->http); /* closes the control socket, keeps fds */
        d->http = NULL;
        vs_manager_console_tick(d->manager); /* the console bytes so far reach the logs */
        for (size_t i = 0; i < n; i++) /* above SD_LISTEN_FDS_START + n first: no clash while moving */
                moved[i] = fcntl(fds[i], F_DUPFD, SD_LISTEN_FDS_START + 16);
        for (size_t i = 0; i < n; i++) {
                close(fds[i]);
                dup2(moved[i], SD_LISTEN_FDS_START + (int) i); /* dup2 leaves FD_CLOEXEC off */
                close(moved[i]);
        }
        snprintf(env, sizeof(env), "%zu", n);
        setenv("LISTEN_FDS", env, 1);
        snprintf(env, sizeof(env), "%d", (int) getpid());
        setenv("LISTEN_PID", env, 1);
        unsetenv("LISTEN_FDNAMES");
        /* the path, not /proc/self/exe: that is the file we started from, not an upgrade put in
         * its place */
        execv(d->exe, d->argv);
        vs_log(LOG_ERR, "daemon-reexec: exec of %s failed: %s; stopping", d->exe, strerror(errno));
}

int main(int argc, char **argv) {
        struct daemon d = { 0 };
        sigset_t sigs;
        int r;

        /* Bodies are rendered by whichever HTTP thread asks first, samples by the sampler: with
         * glibc's default of one arena per thread, each thread's freed memory stayed in its own
         * arena and the resident size crept up as new threads rendered (the soak saw +1 MiB). */
        mallopt(M_ARENA_MAX, 2);
        for (unsigned i = 0; i < CL_MAX_COLLECTORS; i++)
                d.opt.enable[i] = -1;
        if ((r = parse_args(argc, argv, &d.opt)) != 0)
                return r > 0 ? 0 : 2;
        char err[VS_CONF_ERR_LEN];
        if (load_config(&d, &d.conf, err) < 0) {
                sd_notifyf(0, "STATUS=configuration error: %s", err);
                return 1;
        }
        if (d.opt.check_config) {
                vs_conf_print(&d.conf, stdout);
                vs_conf_free(&d.conf);
                return 0;
        }
        /* the loop takes these as signalfd events; every thread started later inherits the mask */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        sigaddset(&sigs, SIGUSR2);
        sigaddset(&sigs, SIGCHLD); /* a worker ended: the manager's next tick looks (on_sigchld) */
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
        raise_nofile();

        d.argv = argv;
        ssize_t n = readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1); /* the path, for reexec and the worker */
        if (n > 0)
                d.exe[n] = 0;
        else
                snprintf(d.exe, sizeof(d.exe), "/proc/self/exe");
        r = start(&d);
        if (r >= 0)
                r = run_loop(&d);
        if (r >= 0 && d.reexec)
                reexec(&d); /* returns only if the exec failed */
        sd_notify(0, "STOPPING=1");
        if (d.sampler) {
                vs_sampler_stop(d.sampler); /* no sample in flight may call into HTTP any more */
                vs_sampler_set_publish_hook(d.sampler, NULL, NULL);
        }
        vs_http_stop(d.http);                  /* stop accepting */
        if (d.manager) {
                vs_manager_stop_all(d.manager); /* bounded: kicks every vCPU at once */
                vs_sampler_sample(d.sampler);   /* one final sample with every VM stopped */
        }
        vs_manager_free(d.manager);
        vs_sampler_free(d.sampler);
        hv_kvm_free(d.kvm);
        sd_event_unref(d.event);
        vs_conf_free(&d.conf);
        return r < 0 ? 1 : 0;
}
