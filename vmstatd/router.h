/* Request routing: method, decoded path, the `last` query argument and the Accept header to a
 * route or an error. Pure (no I/O), so it can be fuzzed on its own. The read routes are the
 * same on every listener; POST /vms/<name>/{start,stop,pause,resume} exists only on the control
 * socket. */
#ifndef VMSTATD_ROUTER_H
#define VMSTATD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#define VS_HISTORY_DEFAULT_LAST 60

enum vs_route_kind {
        VS_ROUTE_PAGE,    /* the web page: /, and /vms/<name> (vm set) when Accept prefers HTML */
        VS_ROUTE_STATIC,  /* /static/<file>: one of the page's files (asset) */
        VS_ROUTE_METRICS,
        VS_ROUTE_VMS,
        VS_ROUTE_VM,
        VS_ROUTE_VCPU,
        VS_ROUTE_HISTORY,
        VS_ROUTE_CONSOLE,
        VS_ROUTE_HEALTHZ,
        VS_ROUTE_ACTION,  /* POST /vms/<name>/<verb>, control socket only */
        VS_ROUTE_REEXEC,  /* POST /daemon/reexec, control socket only */
        VS_ROUTE_ERROR,
};

/* The web page's files: the page itself (served at / and /vms/<name>, not under /static/),
 * then what it loads from /static/<name>. */
enum vs_asset {
        VS_ASSET_PAGE,
        VS_ASSET_APP_JS,
        VS_ASSET_APP_CSS,
        VS_ASSET_UPLOT_JS,
        VS_ASSET_UPLOT_CSS,
        VS_ASSET_UPLOT_LICENSE,
        VS_ASSET__COUNT,
};

enum vs_verb {
        VS_VERB_START,
        VS_VERB_STOP,
        VS_VERB_PAUSE,
        VS_VERB_RESUME,
};

struct vs_route {
        enum vs_route_kind kind;
        char vm[33];
        unsigned vcpu;
        unsigned last;         /* history points asked for */
        bool last_max;         /* ?last=max: as many as one response may carry */
        enum vs_verb verb;     /* VS_ROUTE_ACTION */
        enum vs_asset asset;   /* VS_ROUTE_STATIC */
        int status;            /* VS_ROUTE_ERROR: 400, 404, 405 */
        const char *error;     /* VS_ROUTE_ERROR: a sentence for the client */
        const char *allow;     /* status 405: the Allow header's value */
};

/* last_arg is the raw value of ?last= or NULL; max_last bounds it (the history size). accept is
 * the Accept header or NULL: a browser's asks for the page at /vms/<name>, anything else gets
 * JSON there. control: the request came through the control socket (actions allowed). */
void vs_route_parse(const char *method, const char *path, const char *last_arg, const char *accept,
                    unsigned max_last, bool control, struct vs_route *ret);
bool vs_vm_name_valid(const char *s);
/* "start", "stop", "pause", "resume" */
const char *vs_verb_name(enum vs_verb v);
/* The VM state a successful action leaves behind: "running", "stopped", "paused". */
const char *vs_verb_result_state(enum vs_verb v);
/* An asset's file name ("app.js"; the page's is "index.html") and Content-Type; NULL when out
 * of range. */
const char *vs_asset_name(enum vs_asset a);
const char *vs_asset_type(enum vs_asset a);

/* The path of an origin-form ("/x") or absolute-form ("http://host:port/x") request target. */
const char *vs_request_path(const char *target);
/* Percent-decodes s in place and returns the new length; "%00" and malformed escapes stay
 * literal, so a decoded path never ends early at a NUL. */
size_t vs_unescape(char *s);

/* The name or address of a Host header value ("Name:9400", "[::1]:9400", "10.0.0.1"), lowercase,
 * without brackets or port; false when it is malformed or does not fit size. */
bool vs_host_name(const char *value, char *out, size_t size);
/* Whether host (as vs_host_name leaves it, or an allowed_hosts entry) is an IPv4 or IPv6 address. */
bool vs_host_is_address(const char *host);
/* Whether a request with this Host header (NULL = none) may be answered on a connection whose
 * local address is local_ip (text, v4 or v6, NULL if unknown): an address must be that one or
 * one of names, a name must be localhost or one of names (case-insensitive; "*" takes any
 * Host). Keeps a web page whose own name was rebound to a loopback address (DNS rebinding)
 * from reading anything. */
bool vs_host_allowed(const char *value, const char *local_ip, const char *const *names, size_t n_names);

/* Content negotiation on raw header values (NULL = header absent). */
bool vs_accept_openmetrics(const char *accept);     /* OpenMetrics preferred over text? */
bool vs_accept_gzip(const char *accept_encoding);   /* gzip acceptable (q > 0)? */
/* text/html preferred over application/json, each range matched by its most specific entry
 * (RFC 9110 12.5.1)? A browser's Accept: yes; curl's default (any type), application/json or none: no. */
bool vs_accept_html(const char *accept);
/* Whether an If-None-Match value (NULL = absent) matches etag ("\"...\""): "*" or one of its
 * entity tags, compared weakly (W/ ignored). */
bool vs_etag_match(const char *if_none_match, const char *etag);

#endif
