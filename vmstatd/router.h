/* Request routing: method, decoded path and the `last` query argument to a route or an error.
 * Pure (no I/O), so it can be fuzzed on its own. */
#ifndef VMSTATD_ROUTER_H
#define VMSTATD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#define VS_HISTORY_DEFAULT_LAST 60

enum vs_route_kind {
        VS_ROUTE_ROOT,
        VS_ROUTE_METRICS,
        VS_ROUTE_VMS,
        VS_ROUTE_VM,
        VS_ROUTE_VCPU,
        VS_ROUTE_HISTORY,
        VS_ROUTE_CONSOLE,
        VS_ROUTE_HEALTHZ,
        VS_ROUTE_ERROR,
};

struct vs_route {
        enum vs_route_kind kind;
        char vm[33];
        unsigned vcpu;
        unsigned last;         /* history points asked for */
        int status;            /* VS_ROUTE_ERROR: 400, 404, 405 */
        const char *error;     /* VS_ROUTE_ERROR: a sentence for the client */
};

/* last_arg is the raw value of ?last= or NULL; max_last bounds it (the history size). */
void vs_route_parse(const char *method, const char *path, const char *last_arg, unsigned max_last,
                    struct vs_route *ret);
bool vs_vm_name_valid(const char *s);

/* The path of an origin-form ("/x") or absolute-form ("http://host:port/x") request target. */
const char *vs_request_path(const char *target);
/* Percent-decodes s in place and returns the new length; "%00" and malformed escapes stay
 * literal, so a decoded path never ends early at a NUL. */
size_t vs_unescape(char *s);

/* Content negotiation on raw header values (NULL = header absent). */
bool vs_accept_openmetrics(const char *accept);     /* OpenMetrics preferred over text? */
bool vs_accept_gzip(const char *accept_encoding);   /* gzip acceptable (q > 0)? */

#endif
