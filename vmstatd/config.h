/* Configuration: /etc/vmstatd/vmstatd.conf ([daemon]) and /etc/vmstatd/vms.d/<name>.vm, read
 * with inih. Every error names the file, the line, the key and what was expected. A struct
 * copy of a configuration is a whole one: nothing in it points into itself. */
#ifndef VMSTATD_CONFIG_H
#define VMSTATD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "boot/boot.h"
#include "collector.h"
#include "listen.h"
#include "paths.h"

#define VS_CONF_MAX_LISTEN 16
#define VS_CONF_MAX_HOSTS 16
#define VS_CONF_DEFAULT_CONSOLE_LOG_MAX (16ull << 20)
#define VS_CONF_ERR_LEN 512
#define VS_CONF_DEFAULT_DIR "/etc/vmstatd"
#define VS_CONF_CMDLINE_MAX 4095 /* bytes of a Linux command line, every cmdline line joined */

enum vs_restart { VS_RESTART_NO, VS_RESTART_ON_CRASH };

struct vs_vm_conf {
        char name[33];          /* the file stem, [a-z0-9_-]{1,32} */
        char path[512];         /* the file it came from ("" for the embedded default) */
        unsigned vcpus;         /* 1..64, default 1 */
        uint64_t memory;        /* bytes, default 64M (256M for a Linux guest); sizes like 256M, 1G */
        /* guest = builtin:<name> [key=value ...] (count, port, duty, period, tick_us), or
         * flat:<path> entry=<name> (an image in the built-in format) */
        char guest[512];        /* as written, for summaries and change detection */
        struct hv_builtin builtin; /* builtin.guest: hv's own (static) name of the guest, NULL for others */
        char builtin_name[16];  /* that name, "" for flat and Linux guests */
        char image[512];        /* flat image path, "" for builtin */
        char image_entry[16];
        /* Or a Linux guest (then guest is "linux:<kernel>"): kernel = /PATH, a bzImage or an ELF
         * vmlinux, read when the VM boots, not here; initrd = /PATH; cmdline = ... (each cmdline
         * line appended with a space; default HV_LINUX_DEFAULT_CMDLINE); cpuid_hide = cx16, xsave. */
        char kernel[256];       /* "" for builtin and flat guests */
        char initrd[256];       /* "" for none */
        char cmdline[VS_CONF_CMDLINE_MAX + 1]; /* the effective one: the default filled in */
        unsigned cpuid_hide;    /* HV_CPUID_HIDE_* */
        bool autostart;         /* default true */
        enum vs_restart restart; /* default no */
        uint64_t cpus_mask;     /* host CPU pinning, cpus=0-1,3; 0 = no pinning */
        char console_log[512];  /* file the console is copied to, "" = none */
        /* bytes the log may hold before it is rotated to <log>.1, and the most copied to it per
         * sampling interval (the rest is dropped and counted); default [daemon] console_log_max.
         * Changes apply on reload without restarting the VM. */
        uint64_t console_log_max;
};

#define VS_CONF_RUNTIME_DIR_MAX VS_RUNTIME_DIR_MAX

struct vs_conf {
        struct vs_listen listen[VS_CONF_MAX_LISTEN];
        size_t n_listen;                       /* default: 127.0.0.1:9400 */
        uint64_t interval_ns;                  /* default 5 s, >= 100 ms */
        unsigned history;                      /* default 720 */
        int enable[CL_MAX_COLLECTORS];         /* collectors = executor,kvm,-perf ... ; -1 default */
        bool histograms;
        /* the kvm collector's stats filter: POSIX extended regexes over the kernel's stat names,
         * fully matched (cl_kvm_filter); "" = every stat, no stat */
        char kvm_stats_include[256], kvm_stats_exclude[256];
        int log_level;                         /* syslog priority: err, warning, notice, info, debug */
        /* default <runtime_dir>/control.sock (vs_conf_finish), unless control_socket_set */
        char control_socket[256];
        bool control_socket_set;
        /* workers' sockets (<dir>/vms/<name>.sock), how a new daemon finds running guests;
         * default vs_runtime_dir_default(): /run/vmstatd for root (paths.h) */
        char runtime_dir[256];                 /* at most VS_CONF_RUNTIME_DIR_MAX bytes */
        char console_dir[256];                 /* default "" (no console log files) */
        uint64_t console_log_max;              /* default for VMs: 16M */
        bool console_over_http;                /* /vms/<name>/console on TCP too; default no */
        /* Host header names accepted besides the listen addresses, localhost and this host's
         * name (lowercase; "*" accepts any Host) */
        char allowed_hosts[VS_CONF_MAX_HOSTS][254];
        size_t n_allowed_hosts;
        struct vs_vm_conf *vms;
        size_t n_vms;
        bool embedded;                         /* no configuration found: the embedded default */
};

/* The embedded default: VM b13, 2 vCPUs, 64 MiB, builtin:demo, listen 127.0.0.1:9400. */
void vs_conf_default(struct vs_conf *ret);
/* Loads dir/vmstatd.conf (optional) and every dir/vms.d/<name>.vm. A missing dir gives the embedded
 * default; -errno with err filled ("b13.vm:7: memory: '12X' is not a size (e.g. 256M)") on
 * any error, ret untouched then. */
int vs_conf_load(const char *dir, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]);
void vs_conf_free(struct vs_conf *c);
/* Frees the VMs' configurations once the manager has its own copies (7 KiB each: 1.7 MiB for
 * 256 VMs); n_vms stays. */
void vs_conf_release_vms(struct vs_conf *c);
/* Fills in what follows from other settings once the command line has been applied: the
 * control socket in the runtime directory unless it was set. Load and default call it too. */
void vs_conf_finish(struct vs_conf *c);
/* Parses the text of one vms.d/<file> (file = "<name>.vm") or of vmstatd.conf as vs_conf_load
 * does, without touching the file system (for the fuzzer; the reload path reads files). The
 * daemon's defaults come first, the VM's file is checked against daemon's settings. */
int vs_conf_parse_daemon(const char *text, size_t len, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]);
int vs_conf_parse_vm(const char *file, const char *text, size_t len, const struct vs_conf *daemon,
                     struct vs_vm_conf *ret, char err[VS_CONF_ERR_LEN]);
/* Everything that needs a restart of the VM when changed: the name and the keys marked
 * restarts_vm in config_keys.c (console_log_max is not). */
bool vs_vm_conf_equal(const struct vs_vm_conf *a, const struct vs_vm_conf *b);
/* Whether the daemon settings that a reload cannot apply are the same: the keys marked
 * restarts_daemon in config_keys.c (not log_level or the console logs'). */
bool vs_conf_daemon_equal(const struct vs_conf *a, const struct vs_conf *b);
const struct vs_vm_conf *vs_conf_find_vm(const struct vs_conf *c, const char *name);
/* A human summary, as --check-config prints it. */
void vs_conf_print(const struct vs_conf *c, FILE *f);
/* "5s", "500ms", "2m"; 0 on error. "256M", "1G", "4096"; 0 on error. */
uint64_t vs_parse_duration(const char *s);
uint64_t vs_parse_size(const char *s);

#endif
