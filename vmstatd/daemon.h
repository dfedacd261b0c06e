/* The daemon once its configuration is read (main.c reads the command line and the file): it
 * takes the runtime directory, opens KVM, starts the sampler, the manager (adopting the workers
 * an earlier daemon left) and HTTP, runs the sd-event loop (signals, supervision, console and
 * watchdog timers, SIGHUP reload, daemon-reexec) and stops. */
#ifndef VMSTATD_DAEMON_H
#define VMSTATD_DAEMON_H

#include "config.h"

struct vs_daemon_config {
        struct vs_conf *conf; /* what runs; a reload replaces it in place; the caller frees it */
        char **argv;          /* the command line, for daemon-reexec */
        /* SIGHUP: reads the configuration again, the command line applied; -errno (logged) with
         * err set, and the old configuration goes on */
        int (*load)(void *opaque, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]);
        void *opaque;
};

/* Runs until SIGTERM or SIGINT (every guest stops) or daemon-reexec (the guests keep running for
 * the new binary; returns only if the exec failed). The log level is the caller's to set.
 * Returns 0, or -errno when the daemon could not start or its loop failed (logged). */
int vs_daemon_run(const struct vs_daemon_config *cfg);

#endif
