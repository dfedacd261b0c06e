/* The HTTP API (libmicrohttpd): /metrics and the JSON routes, rendered from the latest
 * published sample. /metrics bodies (text, OpenMetrics, each plain and gzip) are rendered at
 * most once per sample, when the first scrape asks, and served as the same bytes to every scrape. TCP listeners
 * are read-only; the control socket (AF_UNIX, mode 0660) serves the same reads plus
 * POST /vms/<name>/{start,stop,pause,resume}, and guest console text, which TCP serves only when
 * asked to. On TCP a request whose Host is not a name of this daemon gets 421 (DNS rebinding).
 * History responses are capped in points x vCPUs, and all open large responses together in
 * bytes (503 with Retry-After beyond that). */
#ifndef VMSTATD_HTTP_H
#define VMSTATD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "listen.h"
#include "render_prom.h"
#include "sampler.h"

#define VS_HTTP_WHY_LEN 256
#define VS_HTTP_HISTORY_CELLS 8192

struct vs_http_config {
        const struct vs_listen *listen; /* 127.0.0.1:9400, [::1]:9400, :9400 (every address), parsed */
        size_t n_listen;
        const int *fds;            /* already listening sockets (socket activation) */
        size_t n_fds;
        unsigned threads;          /* 0 = 2 */
        unsigned connection_limit; /* 0 = 256 */
        unsigned per_ip_limit;     /* 0 = 64 */
        unsigned timeout_s;        /* 0 = 10 */
        unsigned history;          /* the sampler's history size: bound for ?last= */
        unsigned history_cells;    /* most points x vCPUs in one history response; 0 = VS_HTTP_HISTORY_CELLS */
        size_t held_max;           /* most bytes all open history and console responses may hold; 0 = 32 MiB */
        bool console_over_http;    /* /vms/<name>/console on TCP listeners too (else the control socket only) */
        /* Host header names accepted on TCP besides the connection's own address, localhost and
         * this host's name ("*" = any) */
        const char *const *allowed_hosts;
        size_t n_allowed_hosts;
        struct vs_render_opts render;
        /* console tails come from whoever owns the VMs: bytes copied, -ENOENT for no such VM */
        long (*console_tail)(void *opaque, const char *vm, char *buf, size_t max);
        /* control socket path, NULL = none: a stale socket file is replaced, the file is
         * removed on stop */
        const char *control_socket;
        /* carries out verb (start, stop, pause, resume) on vm for the control socket: 0, or
         * -ENOENT no such VM, -EBUSY / -EALREADY wrong state, -EINVAL; msg gets a sentence
         * either way. NULL: actions answer 501. */
        int (*action)(void *opaque, const char *vm, const char *verb, char *msg, size_t msg_len);
        /* POST /daemon/reexec on the control socket: asks the daemon to exec itself anew (it
         * answers first, then goes). NULL: 501. */
        void (*reexec)(void *opaque);
        void *reexec_opaque;
        void *opaque;
        /* /healthz answers 503 "starting" until vs_http_started(): the daemon serves while it
         * launches the configured VMs, and is healthy once they are launched */
        bool starting;
};

struct vs_http;

/* Binds (or adopts) every listen socket and the control socket and starts serving. -errno with
 * why filled. */
int vs_http_start(const struct vs_http_config *cfg, struct vs_sampler *sampler, struct vs_http **ret,
                  char why[VS_HTTP_WHY_LEN]);
void vs_http_stop(struct vs_http *h);
/* For an exec of a new binary: stops accepting on the TCP listeners (their backlogs keep
 * queueing), lets open connections finish (at most timeout_ms; meanwhile answers say
 * Connection: close) and returns up to max listening fds in fds, left open for the next
 * program: vs_http_stop afterwards does not close them. Returns how many. */
size_t vs_http_quiesce(struct vs_http *h, int *fds, size_t max, int timeout_ms);
/* The sampler's publish hook: the new sample's /metrics bodies start empty, made when asked. */
void vs_http_publish(void *http, struct vs_sample *sample);
/* The configured VMs are launched: /healthz reports on samples from now on. */
void vs_http_started(struct vs_http *h);
/* The port the first TCP listener is bound to (for tests that listen on port 0); -1 if none. */
int vs_http_port(const struct vs_http *h);

#endif
