/* The daemon's life: one sd-event loop owns signals, reloads, supervision, console logs and the
 * watchdog; samples are taken on the sampler's own drift-free thread, HTTP runs in
 * libmicrohttpd's threads, guests in their workers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "daemon.h"
#include "http.h"
#include "kvm.h"
#include "log.h"
#include "manager.h"
#include "memory.h"
#include "paths.h"
#include "sampler.h"

/* Console output reaches the log files this often, whatever the sampling interval: a 64 KiB
 * ring per VM holds ~6 s of a guest printing 10 KiB/s, and Linux prints faster as it boots. */
#define CONSOLE_TICK_USEC 100000
#define CONSOLE_IDLE_USEC 1000000 /* no console log open: adopted workers' ends to notice */

struct daemon {
        const struct vs_daemon_config *cfg;
        struct vs_conf *conf;    /* = cfg->conf */
        struct hv_kvm *kvm;
        struct vs_sampler *sampler;
        struct vs_manager *manager;
        struct vs_http *http;
        sd_event *event;
        uint64_t start_ns;       /* supervision deadlines are start + k * interval */
        uint64_t watchdog_usec;  /* 0 = no watchdog */
        struct vs_daemon_counters counters;
        char exe[4096];          /* the binary's path at start: daemon-reexec runs what is there now */
        bool reexec;             /* the loop ended for an exec of the binary, not a stop */
        int lock_fd;             /* flock on <runtime_dir>/vmstatd.lock: one daemon per runtime directory */
};

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

/* A one-shot timer fires again at usec. */
static int rearm(sd_event_source *src, uint64_t usec) {
        sd_event_source_set_time(src, usec);
        return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

/* Every interval: restarts that are due, STATUS=, and a watchdog ping. Samples are not taken
 * here: creating or destroying a VM (a reload, a restart) can take seconds on a loaded host,
 * and must not delay or skip one. */
static int on_supervise_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct daemon *d = userdata;
        (void) usec;
        vs_manager_tick(d->manager);
        notify_status(d, d->watchdog_usec && samples_fresh(d) ? "WATCHDOG=1\n" : "");
        return rearm(src, next_deadline_usec(d));
}

/* With intervals longer than half the watchdog timeout the supervision timer alone would miss
 * it: this pings in between. */
static int on_watchdog_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct daemon *d = userdata;
        if (samples_fresh(d))
                sd_notify(0, "WATCHDOG=1");
        return rearm(src, usec + d->watchdog_usec / 2);
}

static int on_console_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct daemon *d = userdata;
        vs_manager_console_tick(d->manager);
        /* Without console logs nothing needs it often, and every wakeup costs (60-100 us here):
         * adopted workers' ends are looked for every second; our own children's come with
         * SIGCHLD, so with none adopted the supervision tick (every interval) is enough. */
        uint64_t next = vs_manager_console_logs(d->manager)     ? CONSOLE_TICK_USEC
                      : vs_manager_watches_adopted(d->manager) ? CONSOLE_IDLE_USEC
                                                               : vs_sampler_interval_ns(d->sampler) / 1000;
        return rearm(src, usec + next);
}

/* vmstatd_config_reloads_total{result} and ..._last_reload_successful, from the next sample on. */
static void count_reload(struct daemon *d, bool ok) {
        if (ok)
                d->counters.reloads_success++;
        else
                d->counters.reloads_failure++;
        d->counters.last_reload_failed = !ok;
        vs_sampler_set_daemon_counters(d->sampler, &d->counters);
}

static int on_sighup(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;
        struct vs_conf next;
        char err[VS_CONF_ERR_LEN];
        (void) src;
        (void) si;
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long) (hv_now_ns() / 1000));
        vs_log(LOG_INFO, "SIGHUP: reloading the configuration");
        if (d->cfg->load(d->cfg->opaque, &next, err) < 0) { /* rejected whole: the old set keeps running */
                count_reload(d, false);
                sd_notifyf(0, "READY=1\nSTATUS=reload rejected, old configuration kept: %s", err);
                return 0;
        }
        if (!vs_conf_daemon_equal(d->conf, &next))
                vs_log(LOG_WARNING, "listen, interval, history, collectors, kvm_stats_include/exclude, control_socket, "
                                    "runtime_dir, console_over_http and allowed_hosts changes take effect at the next "
                                    "restart");
        int failed = vs_manager_apply(d->manager, &next);
        vs_conf_release_vms(&next);
        vs_conf_free(d->conf);
        *d->conf = next; /* a configuration holds no pointer into itself */
        vs_memory_give_back();
        vs_log(failed ? LOG_WARNING : LOG_INFO, "reloaded: %zu VMs configured, %d failed to start", d->conf->n_vms,
               failed);
        count_reload(d, true);
        notify_status(d, "READY=1\n");
        return 0;
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

/* ---- start ---------------------------------------------------------------------------------------------- */

/* The loop takes these as signalfd events; every thread started later inherits the mask. */
static void block_signals(void) {
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        sigaddset(&sigs, SIGUSR2);
        sigaddset(&sigs, SIGCHLD); /* a worker ended: the manager's next tick looks (on_sigchld) */
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
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
        const char *runtime_dir = d->conf->runtime_dir;
        char path[sizeof(d->conf->runtime_dir) + 16];
        d->lock_fd = -1;
        dir[0] = 0;
        if (!runtime_dir[0])
                return 0;
        int r = vs_runtime_dir_make(runtime_dir);
        if (r < 0) {
                vs_log(LOG_WARNING, "runtime directory %s: %s: guests will not outlive this daemon, and the control "
                                    "socket there is off", runtime_dir,
                       r == -EPERM ? "belongs to someone else or others may write it" : strerror(-r));
                return 0;
        }
        snprintf(path, sizeof(path), "%s/vmstatd.lock", runtime_dir);
        d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        if (d->lock_fd < 0) {
                vs_log(LOG_WARNING, "%s: %s: guests will not outlive this daemon", path, strerror(errno));
                return 0;
        }
        if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                vs_log(LOG_ERR, "another vmstatd runs with the runtime directory %s (%s is locked); give this one "
                                "its own (--runtime-dir, runtime_dir=)", runtime_dir, path);
                sd_notifyf(0, "STATUS=another vmstatd uses %s", runtime_dir);
                return -EBUSY;
        }
        snprintf(dir, len, "%s", runtime_dir);
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

/* A start that cannot go on: the log and systemd's STATUS= say why. */
static int start_failed(const char *why, int r) {
        vs_log(LOG_ERR, "%s", why);
        sd_notifyf(0, "STATUS=%s", why);
        return r;
}

static int start(struct daemon *d) {
        char why[VS_HTTP_WHY_LEN > HV_WHY_LEN ? VS_HTTP_WHY_LEN : HV_WHY_LEN];
        struct vs_conf *c = d->conf;
        int r;

        if ((r = hv_kvm_open(NULL, &d->kvm, why)) < 0)
                return start_failed(why, r);
        struct vs_manager_config mcfg = { .sigchld = true }; /* run_loop's on_sigchld */
        if ((r = runtime_dir_lock(d, mcfg.runtime_dir, sizeof(mcfg.runtime_dir))) < 0)
                return r;
        worker_exe(d->exe, mcfg.worker_exe, sizeof(mcfg.worker_exe));
        struct vs_sampler_config scfg = { .interval_ns = c->interval_ns, .history = c->history,
                                          .histograms = c->histograms,
                                          .kvm_stats_include = c->kvm_stats_include,
                                          .kvm_stats_exclude = c->kvm_stats_exclude };
        memcpy(scfg.enable, c->enable, sizeof(scfg.enable));
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
        for (size_t i = 0; i < c->n_allowed_hosts; i++)
                hosts[i] = c->allowed_hosts[i];
        int fds[16], n_fds = sd_listen_fds(1);
        for (int i = 0; i < n_fds && i < 16; i++)
                fds[i] = SD_LISTEN_FDS_START + i;
        struct vs_http_config hcfg = {
                .listen = n_fds > 0 ? NULL : c->listen,
                .n_listen = n_fds > 0 ? 0 : c->n_listen,
                .fds = fds,
                .n_fds = n_fds > 0 ? (size_t) (n_fds < 16 ? n_fds : 16) : 0,
                .history = c->history,
                .console_over_http = c->console_over_http,
                .allowed_hosts = hosts,
                .n_allowed_hosts = c->n_allowed_hosts,
                .render = { .histograms = c->histograms },
                .console_tail = vs_manager_console_tail,
                .opaque = d->manager,
                .control_socket = control_socket_path(c),
                .action = vs_manager_action,
                .reexec = request_reexec,
                .reexec_opaque = d,
                .starting = true,
        };
        if ((r = vs_http_start(&hcfg, d->sampler, &d->http, why)) < 0)
                return start_failed(why, r);
        vs_sampler_set_publish_hook(d->sampler, vs_http_publish, d->http);
        if ((r = vs_sampler_start(d->sampler)) < 0) {
                vs_log(LOG_ERR, "starting the sampler thread: %s", strerror(-r));
                return r;
        }
        /* HTTP and the sampler run while the VMs launch (256 take ~2 s here): each VM is served
         * from the first sample after its worker's hello; /healthz says starting (503) */
        vs_manager_apply(d->manager, c); /* failures are logged per VM; the daemon serves the rest */
        vs_conf_release_vms(c);
        vs_memory_give_back();
        d->start_ns = hv_now_ns();
        vs_sampler_sample(d->sampler); /* every launched VM on /metrics at once, not an interval later */
        vs_http_started(d->http);
        if (n_fds > 0)
                vs_log(LOG_INFO, "serving %d socket(s) passed by systemd", n_fds);
        for (size_t i = 0; n_fds <= 0 && i < c->n_listen; i++)
                vs_log(LOG_INFO, "listening on http://%s/ (metrics at /metrics)", c->listen[i].text);
        if (hcfg.control_socket)
                vs_log(LOG_INFO, "control API on %s", hcfg.control_socket);
        return 0;
}

/* ---- reexec and stop ------------------------------------------------------------------------------------ */

/* No sample in flight may call into HTTP any more. */
static void sampler_quiesce(struct daemon *d) {
        vs_sampler_stop(d->sampler);
        vs_sampler_set_publish_hook(d->sampler, NULL, NULL);
}

/* daemon-reexec: the listening sockets go to the new program as socket activation would pass
 * them (LISTEN_FDS, same pid), the workers are left running for it to adopt. Returns only if
 * the exec failed; the caller then stops as on SIGTERM. */
static void reexec(struct daemon *d) {
        int fds[16], moved[16];
        char env[32];
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=re-executing", (unsigned long long) (hv_now_ns() / 1000));
        sampler_quiesce(d);
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
        execv(d->exe, d->cfg->argv);
        vs_log(LOG_ERR, "daemon-reexec: exec of %s failed: %s; stopping", d->exe, strerror(errno));
}

static void stop(struct daemon *d) {
        sd_notify(0, "STOPPING=1");
        if (d->sampler)
                sampler_quiesce(d);
        vs_http_stop(d->http);                  /* stop accepting */
        if (d->manager) {
                vs_manager_stop_all(d->manager); /* bounded: kicks every vCPU at once */
                vs_sampler_sample(d->sampler);   /* one final sample with every VM stopped */
        }
        vs_manager_free(d->manager);
        vs_sampler_free(d->sampler);
        hv_kvm_free(d->kvm);
        sd_event_unref(d->event);
}

int vs_daemon_run(const struct vs_daemon_config *cfg) {
        struct daemon d = { .cfg = cfg, .conf = cfg->conf };
        block_signals();
        raise_nofile();
        ssize_t n = readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1); /* the path, for reexec and the worker */
        if (n > 0)
                d.exe[n] = 0;
        else
                snprintf(d.exe, sizeof(d.exe), "/proc/self/exe");
        int r = start(&d);
        if (r >= 0)
                r = run_loop(&d);
        if (r >= 0 && d.reexec)
                reexec(&d); /* returns only if the exec failed */
        stop(&d);
        return r;
}
