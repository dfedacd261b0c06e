/* libFuzzer target: the router, ?last= and Accept/Accept-Encoding parsing never crash, never read out of
 * bounds, and always produce a consistent route for any method, path and ?last= value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

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
        struct vs_route r;
        vs_route_parse(method, path, *last ? last : NULL, 720, &r);
        if (r.kind == VS_ROUTE_ERROR && r.status != 400 && r.status != 404 && r.status != 405)
                abort();
        if (r.kind != VS_ROUTE_ERROR && strcmp(method, "GET") && strcmp(method, "HEAD"))
                abort();
        if ((r.kind == VS_ROUTE_VM || r.kind == VS_ROUTE_VCPU || r.kind == VS_ROUTE_HISTORY ||
             r.kind == VS_ROUTE_CONSOLE) && !vs_vm_name_valid(r.vm))
                abort();
        if (r.kind == VS_ROUTE_HISTORY && (r.last < 1 || r.last > 720))
                abort();
        free(buf);
        return 0;
}
