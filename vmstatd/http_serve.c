/* What each route answers: the web page and its files, /metrics, the JSON of the latest sample,
 * history streams, guest consoles and the control socket's actions. Every answer goes out
 * through http_respond. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"
#include "render_json.h"

#define CONSOLE_TAIL_MAX (64 * 1024)
#define HELD_MAX_DEFAULT (32u << 20)

/* The page's own scripts, styles and requests only: no inline script or style, no eval, no
 * frames, no forms, nothing from elsewhere (a VM name or error text that reached the DOM as
 * markup could still run nothing). */
#define PAGE_CSP                                                                                     \
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' " \
        "data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* ---- the byte budget of large responses -------------------------------------------------------------- */

/* a response body counted against held_max until libmicrohttpd frees it */
struct held {
        struct vs_http *h;
        size_t len; /* counted against held_max */
        char data[];
};

/* Reserves len bytes of the budget; false when all open responses would hold more than it. */
static bool held_reserve(struct vs_http *h, size_t len) {
        size_t max = h->cfg.held_max ? h->cfg.held_max : HELD_MAX_DEFAULT;
        size_t before = atomic_fetch_add_explicit(&h->held, len, memory_order_relaxed);
        if (before + len <= max || before == 0) /* one response alone always fits */
                return true;
        atomic_fetch_sub_explicit(&h->held, len, memory_order_relaxed);
        return false;
}

static void held_release(struct vs_http *h, size_t len) {
        atomic_fetch_sub_explicit(&h->held, len, memory_order_relaxed);
}

static void held_free(void *cls) {
        struct held *x = cls;
        held_release(x->h, x->len);
        free(x);
}

/* 503 with Retry-After: the large responses in flight hold all the memory they may */
static enum MHD_Result respond_busy(struct MHD_Connection *c) {
        return http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "too many large responses are being sent; retry in a second",
                                  HEADERS({ MHD_HTTP_HEADER_RETRY_AFTER, "1" }));
}

/* ---- the web page ---------------------------------------------------------------------------------- */

/* One of the page's files; the page (at / and /vms/<name>) with its Content-Security-Policy.
 * Browsers revalidate each time (no-cache): a 304 when their copy is current. */
static enum MHD_Result serve_web(struct vs_http *h, struct MHD_Connection *c, enum vs_asset a) {
        const struct web_asset *w = &h->web[a];
        bool gz = w->gz.len && vs_accept_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                          MHD_HTTP_HEADER_ACCEPT_ENCODING));
        const char *etag = gz ? w->etag_gz : w->etag;
        bool fresh = vs_etag_match(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
        bool page = a == VS_ASSET_PAGE;
        const void *data = gz ? (const void *) w->gz.data : (const void *) w->raw.data;
        size_t len = gz ? w->gz.len : w->raw.len;
        struct body body = { .kind = BODY_STATIC }; /* a 304's: empty, no type */
        if (!fresh) /* h outlives its daemons */
                body = (struct body) { .kind = BODY_STATIC, .type = vs_asset_type(a), .data = data, .len = len };
        return http_respond(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, body,
                            HEADERS({ MHD_HTTP_HEADER_ETAG, etag }, { MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache" },
                                    { MHD_HTTP_HEADER_CONTENT_ENCODING, gz && !fresh ? "gzip" : NULL },
                                    /* /vms/<name> is the page or JSON by Accept */
                                    { MHD_HTTP_HEADER_VARY, page ? "Accept, Accept-Encoding" : "Accept-Encoding" },
                                    { "Content-Security-Policy", page ? PAGE_CSP : NULL },
                                    { "Referrer-Policy", page ? "no-referrer" : NULL },
                                    { "X-Frame-Options", page ? "DENY" : NULL }));
}

/* ---- /metrics ---------------------------------------------------------------------------------------- */

static enum MHD_Result serve_metrics(struct vs_http *h, struct MHD_Connection *c) {
        struct rendered *r = http_rendered_get(h);
        if (!r)
                return http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no sample yet", NULL);
        /* ?format= overrides negotiation: Prometheus < 2.49 cannot be told to scrape plain text */
        const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
        bool om;
        if (!format)
                om = vs_accept_openmetrics(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
        else if (strcmp(format, "text") == 0)
                om = false;
        else if (strcmp(format, "openmetrics") == 0)
                om = true;
        else {
                http_rendered_unref(r);
                return http_respond_error(c, MHD_HTTP_BAD_REQUEST, "format must be text or openmetrics", NULL);
        }
        bool gz = vs_accept_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
        const struct vs_buf *b = http_rendered_body(h, r, om, gz);
        if (!b) {
                http_rendered_unref(r);
                return http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory rendering /metrics", NULL);
        }
        return http_respond(c, MHD_HTTP_OK,
                            (struct body) { .kind = BODY_LENT, /* the bytes live as long as the response */
                                            .type = vs_prom_content_type(om ? VS_PROM_OPENMETRICS : VS_PROM_TEXT),
                                            .data = b->data, .len = b->len, .done = http_rendered_unref, .cls = r },
                            HEADERS({ MHD_HTTP_HEADER_CONTENT_ENCODING, gz ? "gzip" : NULL },
                                    { MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding" }));
}

/* ---- guest consoles and history ---------------------------------------------------------------------- */

/* Guest console text (login prompts, cloud-init output) goes to whoever may use the control
 * socket; TCP has no authentication, so it serves it only with console_over_http = yes. */
static enum MHD_Result serve_console(struct vs_http *h, struct listener *l, struct MHD_Connection *c, const char *vm) {
        if (!l->control && !h->cfg.console_over_http)
                return http_respond_error(c, MHD_HTTP_FORBIDDEN,
                                          "guest consoles are served on the control socket only (vmstatctl console "
                                          "NAME); console_over_http = yes in vmstatd.conf serves them here too",
                                          NULL);
        if (!held_reserve(h, CONSOLE_TAIL_MAX))
                return respond_busy(c);
        struct held *x = malloc(sizeof(*x) + CONSOLE_TAIL_MAX);
        if (x)
                *x = (struct held) { .h = h, .len = CONSOLE_TAIL_MAX };
        long n = x && h->cfg.console_tail ? h->cfg.console_tail(h->cfg.opaque, vm, x->data, CONSOLE_TAIL_MAX) : -ENOENT;
        if (n < 0) {
                free(x);
                held_release(h, CONSOLE_TAIL_MAX);
                return http_respond_error(c, MHD_HTTP_NOT_FOUND, "no such VM", NULL);
        }
        return http_respond(c, MHD_HTTP_OK,
                            (struct body) { .kind = BODY_LENT, .type = "text/plain; charset=utf-8", .data = x->data,
                                            .len = (size_t) n, .done = held_free, .cls = x },
                            NULL);
}

/* A history response is written as the client reads it, a point at a time: while open it holds
 * its copy of the history (20 bytes a cell) and one point's text, never the whole body (a slow
 * reader of 8192 cells used to keep 4 MB). One point per line, the rest indented as elsewhere. */
struct hist_stream {
        struct vs_http *h;
        struct vs_history hist;
        size_t held;      /* counted against held_max until the response is freed */
        unsigned next;    /* the next point; n_points: the closing brackets; beyond: done */
        char *chunk;      /* text not yet handed to libmicrohttpd */
        size_t len, off;
};

static void hist_stream_free(void *cls) {
        struct hist_stream *st = cls;
        held_release(st->h, st->held);
        vs_history_release(&st->hist);
        free(st->chunk);
        free(st);
}

/* the next piece of the body into st->chunk; false when out of memory */
static bool hist_stream_next(struct hist_stream *st) {
        free(st->chunk);
        st->chunk = NULL;
        st->len = st->off = 0;
        if (st->next == st->hist.n_points) {
                st->chunk = strdup(st->next ? "\n  ]\n}\n" : "  ]\n}\n");
        } else {
                json_t *j = vs_json_history_point(&st->hist, st->next);
                char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL; /* as pretty ones */
                json_decref(j);
                if (!text || asprintf(&st->chunk, "%s    %s", st->next ? ",\n" : "", text) < 0)
                        st->chunk = NULL;
                free(text);
        }
        st->next++;
        if (st->chunk)
                st->len = strlen(st->chunk);
        return st->chunk != NULL;
}

static ssize_t hist_stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        struct hist_stream *st = cls;
        (void) pos;
        while (st->off == st->len) {
                if (st->next > st->hist.n_points)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                if (!hist_stream_next(st))
                        return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        size_t n = st->len - st->off < max ? st->len - st->off : max;
        memcpy(buf, st->chunk + st->off, n);
        st->off += n;
        return (ssize_t) n;
}

/* ?last=N x vCPUs is capped, so that one request cannot make the daemon send tens of MB;
 * last=max is as many points as fit. */
static enum MHD_Result serve_history(struct vs_http *h, struct MHD_Connection *c, const struct vs_route *rt) {
        const struct vs_vm_sample *vm;
        struct vs_sample *s = vs_sampler_latest(h->sampler);
        unsigned cap = h->cfg.history_cells ? h->cfg.history_cells : VS_HTTP_HISTORY_CELLS;
        unsigned vcpus = (vm = vs_sample_find_vm(s, rt->vm)) ? vm->vcpus : 1, last = rt->last;
        vs_sample_unref(s);
        if (rt->last_max)
                last = cap / vcpus ? cap / vcpus : 1;
        else if ((uint64_t) last * vcpus > cap) {
                char msg[256];
                snprintf(msg, sizeof(msg), "last=%u x %u vCPUs is %llu cells, more than one response carries (%u): "
                         "ask for last=%u or fewer, or last=max", last, vcpus, (unsigned long long) last * vcpus, cap,
                         cap / vcpus ? cap / vcpus : 1);
                return http_respond_error(c, MHD_HTTP_BAD_REQUEST, msg, NULL);
        }
        /* the copy, libmicrohttpd's write buffer and a point's text */
        size_t held = (size_t) last * (vcpus * sizeof(struct vs_hist_vcpu) + 2 * sizeof(uint64_t)) + 64 * 1024;
        if (!held_reserve(h, held))
                return respond_busy(c);
        struct hist_stream *st = calloc(1, sizeof(*st));
        int r = st ? vs_sampler_history(h->sampler, rt->vm, last, &st->hist) : -ENOMEM;
        if (r < 0) {
                free(st);
                held_release(h, held);
                return r == -ENOENT ? http_respond_error(c, MHD_HTTP_NOT_FOUND, "no such VM", NULL)
                                    : http_respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, strerror(-r), NULL);
        }
        st->h = h;
        st->held = held;
        if ((uint64_t) st->hist.n_points * st->hist.vcpus > cap) { /* re-created with more vCPUs meanwhile */
                hist_stream_free(st);
                return http_respond_error(c, MHD_HTTP_CONFLICT, "the VM changed while its history was read; ask again",
                                          NULL);
        }
        if (asprintf(&st->chunk, "{\n  \"name\": \"%s\",\n  \"points\": [\n", rt->vm) < 0) { /* names need no escaping */
                st->chunk = NULL;
                hist_stream_free(st);
                return MHD_NO;
        }
        st->len = strlen(st->chunk);
        return http_respond(c, MHD_HTTP_OK,
                            (struct body) { .kind = BODY_STREAM, .type = "application/json", .read = hist_stream_read,
                                            .done = hist_stream_free, .cls = st },
                            NULL);
}

/* ---- the JSON of the latest sample, and actions ------------------------------------------------------- */

/* the routes that read the latest sample */
static enum MHD_Result serve_sample(struct vs_http *h, struct MHD_Connection *c, const struct vs_route *rt) {
        struct vs_sample *s = vs_sampler_latest(h->sampler);
        enum MHD_Result ret;
        if (rt->kind == VS_ROUTE_HEALTHZ) {
                bool healthy;
                json_t *j = vs_json_health(s, hv_now_ns(), vs_sampler_interval_ns(h->sampler), atomic_load(&h->starting),
                                           &healthy);
                ret = http_respond_json(c, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j, NULL);
        } else if (!s) {
                ret = http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no sample yet", NULL);
        } else if (rt->kind == VS_ROUTE_VMS) {
                ret = http_respond_json(c, MHD_HTTP_OK, vs_json_vms(s), NULL);
        } else {
                const struct vs_vm_sample *vm = vs_sample_find_vm(s, rt->vm);
                if (!vm)
                        ret = http_respond_error(c, MHD_HTTP_NOT_FOUND, "no such VM", NULL);
                else if (rt->kind == VS_ROUTE_VM) /* a browser gets the page here */
                        ret = http_respond_json(c, MHD_HTTP_OK, vs_json_vm(s, vm),
                                                HEADERS({ MHD_HTTP_HEADER_VARY, "Accept" }));
                else if (rt->vcpu >= vm->vcpus)
                        ret = http_respond_error(c, MHD_HTTP_NOT_FOUND, "no such vCPU", NULL);
                else
                        ret = http_respond_json(c, MHD_HTTP_OK, vs_json_vcpu(s, vm, rt->vcpu), NULL);
        }
        vs_sample_unref(s);
        return ret;
}

static unsigned action_status(int r) {
        switch (r) {
        case -ENOENT:
                return MHD_HTTP_NOT_FOUND;
        case -EBUSY:
        case -EALREADY:
                return MHD_HTTP_CONFLICT;
        case -EINVAL:
                return MHD_HTTP_BAD_REQUEST;
        default: /* the daemon failed at something it should be able to do */
                return MHD_HTTP_INTERNAL_SERVER_ERROR;
        }
}

/* POST /daemon/reexec on the control socket: answered before the daemon goes */
static enum MHD_Result serve_reexec(struct vs_http *h, struct MHD_Connection *c) {
        if (!h->cfg.reexec)
                return http_respond_error(c, MHD_HTTP_NOT_IMPLEMENTED, "this daemon cannot re-execute itself", NULL);
        h->cfg.reexec(h->cfg.reexec_opaque);
        json_t *j = json_pack("{s:s, s:s}", "action", "daemon-reexec", "message",
                              "re-executing: guests keep running, counters continue, listening sockets stay open");
        return http_respond_json(c, MHD_HTTP_ACCEPTED, j, NULL);
}

/* POST /vms/<name>/<verb> on the control socket: {"vm", "action", "state", "message"} */
static enum MHD_Result serve_action(struct vs_http *h, struct MHD_Connection *c, const struct vs_route *rt) {
        const char *verb = vs_verb_name(rt->verb);
        char msg[256] = "";
        if (!h->cfg.action)
                return http_respond_error(c, MHD_HTTP_NOT_IMPLEMENTED, "this daemon carries out no control actions",
                                          NULL);
        int r = h->cfg.action(h->cfg.opaque, rt->vm, verb, msg, sizeof(msg));
        msg[sizeof(msg) - 1] = 0;
        if (r < 0) {
                if (!msg[0])
                        snprintf(msg, sizeof(msg), "%s %s: %s", verb, rt->vm, strerror(-r));
                return http_respond_error(c, action_status(r), msg, NULL);
        }
        if (!msg[0])
                snprintf(msg, sizeof(msg), "VM %s is %s", rt->vm, vs_verb_result_state(rt->verb));
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "vm", rt->vm, "action", verb, "state",
                              vs_verb_result_state(rt->verb), "message", msg);
        return http_respond_json(c, MHD_HTTP_OK, j, NULL);
}

/* ---- dispatch ---------------------------------------------------------------------------------------- */

enum MHD_Result http_serve(struct listener *l, struct MHD_Connection *c, const struct vs_route *rt) {
        struct vs_http *h = l->h;
        switch (rt->kind) {
        case VS_ROUTE_PAGE:
                return serve_web(h, c, VS_ASSET_PAGE);
        case VS_ROUTE_STATIC:
                return serve_web(h, c, rt->asset);
        case VS_ROUTE_METRICS:
                return serve_metrics(h, c);
        case VS_ROUTE_CONSOLE:
                return serve_console(h, l, c, rt->vm);
        case VS_ROUTE_HISTORY:
                return serve_history(h, c, rt);
        case VS_ROUTE_ACTION:
                return serve_action(h, c, rt);
        case VS_ROUTE_REEXEC:
                return serve_reexec(h, c);
        case VS_ROUTE_ERROR:
                return http_respond_error(c, (unsigned) rt->status, rt->error,
                                          HEADERS({ MHD_HTTP_HEADER_ALLOW, rt->allow })); /* a 405's */
        default:
                return serve_sample(h, c, rt);
        }
}
