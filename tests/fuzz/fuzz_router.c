/* libFuzzer target: the router, ?last=, Host, Accept/Accept-Encoding and If-None-Match parsing never crash,
 * never read out of bounds, and always produce a consistent route for any method, path, ?last= value
 * and Accept header, on a TCP listener and on the control socket alike. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

static void check_route(const char *method, const char *path, const char *last, const char *accept, bool control) {
        struct vs_route r;
        bool readable = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        vs_route_parse(method, path, *last ? last : NULL, *accept ? accept : NULL, 720, control, &r);
        if (r.kind == VS_ROUTE_ERROR && r.status != 400 && r.status != 404 && r.status != 405)
                abort();
        if (r.kind == VS_ROUTE_ERROR && !r.error)
                abort();
        if (r.kind == VS_ROUTE_ERROR && (r.status == 405) != (r.allow != NULL))
                abort();
        /* the only writes are actions and daemon-reexec, and only POSTs on the control socket */
        bool write = r.kind == VS_ROUTE_ACTION || r.kind == VS_ROUTE_REEXEC;
        if (write && (!control || strcmp(method, "POST") != 0))
                abort();
        if (r.kind != VS_ROUTE_ERROR && !write && !readable)
                abort();
        if ((r.kind == VS_ROUTE_VM || r.kind == VS_ROUTE_VCPU || r.kind == VS_ROUTE_HISTORY ||
             r.kind == VS_ROUTE_CONSOLE || r.kind == VS_ROUTE_ACTION) && !vs_vm_name_valid(r.vm))
                abort();
        if (r.kind == VS_ROUTE_ACTION && strcmp(vs_verb_name(r.verb), "unknown") == 0)
                abort();
        if (r.kind == VS_ROUTE_HISTORY && (r.last < 1 || r.last > 720))
                abort();
        /* the page: at / or a valid VM's path, for a client that prefers HTML */
        if (r.kind == VS_ROUTE_PAGE && (r.vm[0] ? !vs_vm_name_valid(r.vm) || !vs_accept_html(*accept ? accept : NULL)
                                                : strcmp(path, "/") != 0))
                abort();
        if (r.kind == VS_ROUTE_VM && vs_accept_html(*accept ? accept : NULL))
                abort();
        if (r.kind == VS_ROUTE_STATIC && (r.asset == VS_ASSET_PAGE || !vs_asset_name(r.asset) ||
                                          strcmp(path + strlen("/static/"), vs_asset_name(r.asset)) != 0))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* four NUL-separated fields: method, path, last, an Accept-style header value */
        char *buf = malloc(size + 4);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = buf[size + 1] = buf[size + 2] = buf[size + 3] = 0;
        const char *method = buf;
        const char *path = method + strlen(method) + 1;
        const char *last = path + strlen(path) + 1;
        const char *accept = last + strlen(last) + 1;
        vs_accept_openmetrics(accept);
        char *copy = strdup(path);
        if (copy && vs_unescape(copy) != strlen(copy))
                abort();
        free(copy);
        path = vs_request_path(path);
        vs_accept_gzip(accept);
        vs_accept_html(accept);
        if (vs_etag_match(accept, "\"0123abcd-10\"") && !strchr(accept, '*') && !strstr(accept, "\"0123abcd-10\""))
                abort(); /* a match names the tag, or is "*" */
        /* the same field as a Host header: a name comes back lowercase, without port or brackets */
        static const char *const names[] = { "vm.example", "*" };
        char host[256];
        if (vs_host_name(accept, host, sizeof(host))) {
                for (const char *p = host; *p; p++)
                        if ((*p >= 'A' && *p <= 'Z') || *p == '[' || *p == ']')
                                abort();
                if (strcmp(host, "localhost") == 0 && !vs_host_allowed(accept, "127.0.0.1", names, 1))
                        abort();
        }
        if (!vs_host_allowed(accept, "::1", names, 2) && vs_host_name(accept, host, sizeof(host)) &&
            !strchr(host, ':') && strspn(host, "0123456789.") != strlen(host))
                abort(); /* "*" takes every name */
        check_route(method, path, last, accept, false);
        check_route(method, path, last, accept, true);
        free(buf);
        return 0;
}
