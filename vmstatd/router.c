#include "router.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool vs_vm_name_valid(const char *s) {
        size_t n = 0;
        for (; s[n]; n++)
                if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-') ||
                    n >= 32)
                        return false;
        return n > 0;
}

static const char *const verbs[] = {
        [VS_VERB_START] = "start",
        [VS_VERB_STOP] = "stop",
        [VS_VERB_PAUSE] = "pause",
        [VS_VERB_RESUME] = "resume",
};

static const char *const verb_states[] = {
        [VS_VERB_START] = "running",
        [VS_VERB_STOP] = "stopped",
        [VS_VERB_PAUSE] = "paused",
        [VS_VERB_RESUME] = "running",
};

/* one table: a file's name under /static/ and its Content-Type */
static const struct {
        const char *name, *type;
} assets[] = {
        [VS_ASSET_PAGE] = { "index.html", "text/html; charset=utf-8" },
        [VS_ASSET_APP_JS] = { "app.js", "text/javascript; charset=utf-8" },
        [VS_ASSET_APP_CSS] = { "app.css", "text/css; charset=utf-8" },
        [VS_ASSET_UPLOT_JS] = { "uPlot.iife.min.js", "text/javascript; charset=utf-8" },
        [VS_ASSET_UPLOT_CSS] = { "uPlot.min.css", "text/css; charset=utf-8" },
        [VS_ASSET_UPLOT_LICENSE] = { "uPlot.LICENSE.txt", "text/plain; charset=utf-8" },
};
_Static_assert(sizeof(assets) / sizeof(assets[0]) == VS_ASSET__COUNT, "an asset without a name");

const char *vs_asset_name(enum vs_asset a) {
        return (unsigned) a < VS_ASSET__COUNT ? assets[a].name : NULL;
}

const char *vs_asset_type(enum vs_asset a) {
        return (unsigned) a < VS_ASSET__COUNT ? assets[a].type : NULL;
}

const char *vs_verb_name(enum vs_verb v) {
        return (unsigned) v < sizeof(verbs) / sizeof(verbs[0]) ? verbs[v] : "unknown";
}

const char *vs_verb_result_state(enum vs_verb v) {
        return (unsigned) v < sizeof(verb_states) / sizeof(verb_states[0]) ? verb_states[v] : "unknown";
}

static void fail(struct vs_route *r, int status, const char *error) {
        r->kind = VS_ROUTE_ERROR;
        r->status = status;
        r->error = error;
}

static void not_allowed(struct vs_route *r, const char *error, const char *allow) {
        fail(r, 405, error);
        r->allow = allow;
}

static bool verb_parse(const char *s, size_t len, enum vs_verb *ret) {
        for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
                if (strlen(verbs[v]) == len && memcmp(s, verbs[v], len) == 0) {
                        *ret = (enum vs_verb) v;
                        return true;
                }
        return false;
}

/* a decimal number without sign, spaces or leading zeros, at most max */
static bool parse_uint(const char *s, size_t len, unsigned max, unsigned *ret) {
        unsigned long v = 0;
        if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned long) (s[i] - '0');
        }
        if (v > max)
                return false;
        *ret = (unsigned) v;
        return true;
}

/* the next path segment after *p (which points at '/'); false at the end */
static bool segment(const char **p, const char **ret, size_t *ret_len) {
        if (**p != '/')
                return false;
        const char *s = *p + 1;
        size_t n = strcspn(s, "/");
        *ret = s;
        *ret_len = n;
        *p = s + n;
        return true;
}

/* /static/<name>: the page's files; the page itself lives at / */
static void route_static(const char *name, struct vs_route *r) {
        for (unsigned a = 0; a < VS_ASSET__COUNT; a++)
                if (a != VS_ASSET_PAGE && strcmp(name, assets[a].name) == 0) {
                        r->kind = VS_ROUTE_STATIC;
                        r->asset = (enum vs_asset) a;
                        return;
                }
        fail(r, 404, "no such file");
}

/* html: the client prefers the page to the JSON document at /vms/<name> */
static void route_vm(const char *rest, const char *last_arg, unsigned max_last, bool html, struct vs_route *r) {
        const char *seg;
        size_t len;
        if (!segment(&rest, &seg, &len) || len == 0 || len >= sizeof(r->vm))
                return fail(r, 404, "no such route");
        memcpy(r->vm, seg, len);
        r->vm[len] = 0;
        if (!vs_vm_name_valid(r->vm))
                return fail(r, 404, "no such VM: names are [a-z0-9_-]{1,32}");
        if (*rest == 0) {
                r->kind = html ? VS_ROUTE_PAGE : VS_ROUTE_VM;
                return;
        }
        if (!segment(&rest, &seg, &len))
                return fail(r, 404, "no such route");
        if (len == 5 && memcmp(seg, "vcpus", 5) == 0) {
                if (!segment(&rest, &seg, &len) || *rest || !parse_uint(seg, len, 65535, &r->vcpu))
                        return fail(r, 404, "no such vCPU");
                r->kind = VS_ROUTE_VCPU;
        } else if (len == 7 && memcmp(seg, "history", 7) == 0 && *rest == 0) {
                r->last = max_last < VS_HISTORY_DEFAULT_LAST ? max_last : VS_HISTORY_DEFAULT_LAST;
                if (last_arg && strcmp(last_arg, "max") == 0)
                        r->last_max = true;
                else if (last_arg && (!parse_uint(last_arg, strlen(last_arg), max_last, &r->last) || r->last == 0))
                        return fail(r, 400, "last must be a whole number from 1 to the history size, or max");
                r->kind = VS_ROUTE_HISTORY;
        } else if (len == 7 && memcmp(seg, "console", 7) == 0 && *rest == 0) {
                r->kind = VS_ROUTE_CONSOLE;
        } else if (*rest == 0 && verb_parse(seg, len, &r->verb)) {
                r->kind = VS_ROUTE_ACTION;
        } else {
                fail(r, 404, "no such route");
        }
}

/* Actions are POSTs on the control socket. Over TCP a POST is told the API is read-only there
 * and a GET finds nothing; on the control socket a GET is told to POST. */
static void check_action_method(const char *method, bool control, struct vs_route *r) {
        bool post = strcmp(method, "POST") == 0;
        if (control && !post)
                not_allowed(r, "actions are POST requests", "POST");
        else if (!control && post)
                not_allowed(r, "read-only: actions are accepted only on the control socket", "GET, HEAD");
        else if (!control)
                fail(r, 404, "no such route");
}

void vs_route_parse(const char *method, const char *path, const char *last_arg, const char *accept,
                    unsigned max_last, bool control, struct vs_route *r) {
        memset(r, 0, sizeof(*r));
        bool readable = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (strcmp(path, "/") == 0)
                r->kind = VS_ROUTE_PAGE;
        else if (strncmp(path, "/static/", 8) == 0)
                route_static(path + 8, r);
        else if (strcmp(path, "/metrics") == 0)
                r->kind = VS_ROUTE_METRICS;
        else if (strcmp(path, "/vms") == 0 || strcmp(path, "/vms/") == 0)
                r->kind = VS_ROUTE_VMS;
        else if (strcmp(path, "/healthz") == 0)
                r->kind = VS_ROUTE_HEALTHZ;
        else if (strncmp(path, "/vms/", 5) == 0)
                route_vm(path + 4, last_arg, max_last, vs_accept_html(accept), r);
        else if (strcmp(path, "/daemon/reexec") == 0)
                r->kind = VS_ROUTE_REEXEC;
        else
                fail(r, 404, "no such route");
        if (r->kind == VS_ROUTE_ACTION || r->kind == VS_ROUTE_REEXEC)
                check_action_method(method, control, r);
        /* a known resource asked with another method is 405; unknown ones stay 404 */
        else if (!readable && r->kind != VS_ROUTE_ERROR)
                not_allowed(r, "only GET and HEAD are allowed", "GET, HEAD");
}

/* The q parameter among an entry's parameters [p, end) (";q=0.5"), 1 without one; clamped to
 * 0..1 (NaN: 0). */
static double entry_q(const char *p, const char *end) {
        double q = 1;
        for (; p < end; p++)
                if (*p == ';') {
                        const char *v = p + 1;
                        while (*v == ' ')
                                v++;
                        if ((v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
                                q = strtod(v + 2, NULL);
                }
        return q >= 0 ? (q <= 1 ? q : 1) : 0;
}

/* q of the best entry of an Accept-style header matching media (type or type/subtype);
 * -1 when none matches */
static double accept_q(const char *header, const char *media) {
        double best = -1;
        size_t mlen = strlen(media);
        for (const char *p = header; *p;) {
                while (*p == ' ' || *p == ',')
                        p++;
                size_t n = strcspn(p, ",");
                if (n >= mlen && strncasecmp(p, media, mlen) == 0 &&
                    (n == mlen || p[mlen] == ';' || p[mlen] == ' ')) {
                        double q = entry_q(p + mlen, p + n);
                        if (q > best)
                                best = q;
                }
                p += n;
        }
        return best;
}

/* q of the most specific Accept range matching type/subtype media: the type itself, then
 * type/'*', then '*'/'*'; -1 when none matches */
static double accept_media_q(const char *header, const char *media) {
        size_t mlen = strlen(media), tlen = strcspn(media, "/");
        int best_rank = -1;
        double best = -1;
        for (const char *p = header; *p;) {
                while (*p == ' ' || *p == ',')
                        p++;
                size_t n = strcspn(p, ","), rlen = strcspn(p, ";, \t");
                int rank = -1;
                if (rlen == mlen && strncasecmp(p, media, mlen) == 0)
                        rank = 2;
                else if (rlen == tlen + 2 && strncasecmp(p, media, tlen + 1) == 0 && p[tlen + 1] == '*')
                        rank = 1;
                else if (rlen == 3 && memcmp(p, "*/*", 3) == 0)
                        rank = 0;
                if (rank >= 0) {
                        double q = entry_q(p + rlen, p + n);
                        if (rank > best_rank || (rank == best_rank && q > best)) {
                                best_rank = rank;
                                best = q;
                        }
                }
                p += n;
        }
        return best;
}

bool vs_accept_openmetrics(const char *accept) {
        if (!accept)
                return false;
        double om = accept_q(accept, "application/openmetrics-text");
        return om > 0 && om > accept_q(accept, "text/plain");
}

bool vs_accept_gzip(const char *accept_encoding) {
        return accept_encoding && accept_q(accept_encoding, "gzip") > 0;
}

bool vs_accept_html(const char *accept) {
        if (!accept)
                return false;
        double html = accept_media_q(accept, "text/html");
        return html > 0 && html > accept_media_q(accept, "application/json");
}

bool vs_etag_match(const char *if_none_match, const char *etag) {
        size_t elen = strlen(etag);
        if (!if_none_match)
                return false;
        for (const char *p = if_none_match; *p;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                size_t n = strcspn(p, ", \t");
                if (n == 1 && *p == '*')
                        return true;
                const char *tag = n >= 2 && strncmp(p, "W/", 2) == 0 ? p + 2 : p;
                if ((size_t) (p + n - tag) == elen && memcmp(tag, etag, elen) == 0)
                        return true;
                p += n;
        }
        return false;
}

const char *vs_request_path(const char *target) {
        const char *p = target;
        if (strncasecmp(p, "http://", 7) == 0)
                p += 7;
        else if (strncasecmp(p, "https://", 8) == 0)
                p += 8;
        else
                return target;
        const char *slash = strchr(p, '/');
        return slash ? slash : "/";
}

static int hex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                return (c | 0x20) - 'a' + 10;
        return -1;
}

size_t vs_unescape(char *s) {
        char *w = s;
        for (const char *r = s; *r; r++) {
                int hi, lo;
                if (r[0] == '%' && (hi = hex(r[1])) >= 0 && (lo = hex(r[2])) >= 0 && (hi | lo)) {
                        *w++ = (char) (hi << 4 | lo);
                        r += 2;
                } else {
                        *w++ = *r;
                }
        }
        *w = 0;
        return (size_t) (w - s);
}

/* ---- Host ------------------------------------------------------------------------------------------ */

/* text as an IPv6 address (IPv4 as its mapped form); false if it is neither */
static bool ip_parse(const char *text, struct in6_addr *ret) {
        struct in_addr a4;
        if (inet_pton(AF_INET6, text, ret) == 1)
                return true;
        if (inet_pton(AF_INET, text, &a4) != 1)
                return false;
        memset(ret, 0, sizeof(*ret));
        ret->s6_addr[10] = ret->s6_addr[11] = 0xff;
        memcpy(&ret->s6_addr[12], &a4, 4);
        return true;
}

bool vs_host_is_address(const char *host) {
        struct in6_addr a;
        return ip_parse(host, &a);
}

bool vs_host_name(const char *value, char *out, size_t size) {
        const char *end;
        size_t n;
        bool v6 = value[0] == '[';
        if (v6) {
                if (!(end = strchr(value, ']')) || (end[1] && end[1] != ':'))
                        return false;
                value++;
                n = (size_t) (end - value);
                end++;
        } else {
                n = strcspn(value, ":");
                end = value + n;
        }
        if (*end == ':' && (!end[1] || strspn(end + 1, "0123456789") != strlen(end + 1) || strlen(end + 1) > 5))
                return false;
        if (n == 0 || n >= size)
                return false;
        /* a DNS name or an IPv4 address; inside brackets an IPv6 address (perhaps with a zone) */
        const char *allowed = v6 ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:.%"
                                 : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
        for (size_t i = 0; i < n; i++) {
                if (!strchr(allowed, value[i]) || !value[i])
                        return false;
                out[i] = (char) tolower((unsigned char) value[i]);
        }
        out[n] = 0;
        return true;
}

bool vs_host_allowed(const char *value, const char *local_ip, const char *const *names, size_t n_names) {
        char host[256];
        struct in6_addr h, l;
        size_t len;
        if (!value)
                return true; /* HTTP/1.0 without Host: no browser sends that */
        if (!vs_host_name(value, host, sizeof(host)))
                return false;
        if (ip_parse(host, &h)) { /* the address reached, or one allowed by name */
                if (local_ip && ip_parse(local_ip, &l) && memcmp(&h, &l, sizeof(h)) == 0)
                        return true;
                for (size_t i = 0; i < n_names; i++)
                        if (strcmp(names[i], "*") == 0 || (ip_parse(names[i], &l) && memcmp(&h, &l, sizeof(h)) == 0))
                                return true;
                return false;
        }
        len = strlen(host);
        if (host[len - 1] == '.') /* an absolute name is the same name */
                host[--len] = 0;
        if (strcmp(host, "localhost") == 0)
                return true;
        for (size_t i = 0; i < n_names; i++) {
                size_t m = strlen(names[i]);
                if (m && names[i][m - 1] == '.')
                        m--;
                if (strcmp(names[i], "*") == 0 || (m == len && strncasecmp(names[i], host, m) == 0))
                        return true;
        }
        return false;
}
