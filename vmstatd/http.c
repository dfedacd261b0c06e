/* The HTTP API on libmicrohttpd. */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "config.h"
#include "render_json.h"
#include "router.h"
#include "web.h"

#define MAX_LISTENERS 16
#define CONSOLE_TAIL_MAX (64 * 1024)
#define HELD_MAX_DEFAULT (32u << 20)
#define HOST_NAMES_MAX (VS_CONF_MAX_HOSTS + 2)

/* /metrics bodies of one sample, [format][encoding], each rendered when first asked for: a
 * sample nobody scrapes costs no render, and requests that come together wait for one. */
enum body_state { BODY_EMPTY, BODY_BUSY, BODY_READY };

struct rendered {
        _Atomic unsigned refs;
        struct vs_sample *sample;
        pthread_mutex_t lock; /* state only; bodies are written by the one request that renders */
        pthread_cond_t done;
        enum body_state state[2][2];
        struct vs_buf body[2][2];
};

/* A file of the web page: its bytes (linked in), gzipped once at start (empty if that failed)
 * and the entity tags of both. */
struct web_asset {
        struct vs_web_file raw;
        struct vs_buf gz;
        char etag[32], etag_gz[36];
};

/* one libmicrohttpd daemon per listening socket; the request handler's cls */
struct listener {
        struct vs_http *h;
        struct MHD_Daemon *d;
        int fd;
        bool own_fd;
        bool control; /* the control socket: actions allowed */
};

struct vs_http {
        struct vs_http_config cfg;
        struct vs_sampler *sampler;
        struct listener l[MAX_LISTENERS + 1]; /* TCP first, the control socket last */
        size_t n;
        char control_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
        dev_t control_dev; /* the socket file we bound, removed on stop if still ours */
        ino_t control_ino;
        pthread_mutex_t lock; /* only around swapping and grabbing `current` */
        struct rendered *current;
        _Atomic uint64_t renders[2][2]; /* vmstatd_render_total: [format][encoding] */
        atomic_bool starting;           /* cfg.starting until vs_http_started() */
        _Atomic size_t held; /* bytes of history and console responses not yet sent and freed */
        /* allowed Host names: this host's, then the configured ones (copied: a reload does not
         * change them) */
        const char *host_names[HOST_NAMES_MAX];
        size_t n_host_names;
        char host_name_buf[HOST_NAMES_MAX][256];
        char hostname[256];
        struct web_asset web[VS_ASSET__COUNT];
};

/* a response body counted against held_max until libmicrohttpd frees it */
struct held {
        struct vs_http *h;
        size_t len;  /* counted against held_max */
        void *data;
};

/* The page's own scripts, styles and requests only: no inline script or style, no eval, no
 * frames, no forms, nothing from elsewhere (a VM name or error text that reached the DOM as
 * markup could still run nothing). */
#define PAGE_CSP                                                                                     \
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' " \
        "data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* ---- rendering once per sample ------------------------------------------------------------------ */

static void rendered_unref(void *p) {
        struct rendered *r = p;
        if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
                return;
        for (int f = 0; f < 2; f++)
                for (int z = 0; z < 2; z++)
                        vs_buf_free(&r->body[f][z]);
        vs_sample_unref(r->sample);
        pthread_cond_destroy(&r->done);
        pthread_mutex_destroy(&r->lock);
        free(r);
}

/* Level 1, by measurement on the 5.2 MB text body of 256 VMs x 4 vCPUs (85,268 series): level 1
 * took 16 ms for 336 kB, the default 6 took 48 ms for 307 kB, 9 took 205 ms for 285 kB. A
 * third of the CPU for a body 9 % larger; the link between Prometheus and an exporter is
 * rarely what limits a scrape, the exporter's CPU on a busy host can be. */
#define GZIP_LEVEL 1

static int gzip_into(const void *in, size_t len, struct vs_buf *out) {
        z_stream z = { 0 };
        if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) /* 15 + 16: gzip */
                return -ENOMEM;
        size_t bound = deflateBound(&z, len);
        char *dst = vs_buf_reserve(out, bound);
        int r = dst ? 0 : -ENOMEM;
        if (dst) {
                z.next_in = (Bytef *) in;
                z.avail_in = (uInt) len;
                z.next_out = (Bytef *) dst;
                z.avail_out = (uInt) bound;
                if (deflate(&z, Z_FINISH) == Z_STREAM_END)
                        vs_buf_commit(out, z.total_out);
                else
                        r = -EIO;
        }
        deflateEnd(&z);
        return r;
}

/* A new sample: its bodies start empty, none is rendered until a scrape asks. */
void vs_http_publish(void *http, struct vs_sample *sample) {
        struct vs_http *h = http;
        struct rendered *r = calloc(1, sizeof(*r));
        if (!r)
                return; /* the previous sample's bodies keep being served */
        atomic_init(&r->refs, 1);
        r->sample = vs_sample_ref(sample);
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->done, NULL);
        for (int f = 0; f < 2; f++)
                for (int z = 0; z < 2; z++)
                        vs_buf_init(&r->body[f][z]);
        pthread_mutex_lock(&h->lock);
        struct rendered *old = h->current;
        h->current = r;
        pthread_mutex_unlock(&h->lock);
        rendered_unref(old);
}

static struct rendered *rendered_get(struct vs_http *h) {
        pthread_mutex_lock(&h->lock);
        struct rendered *r = h->current;
        if (r)
                atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&h->lock);
        return r;
}

/* Renders body [f][z] of r (a gzip body from the identity one, rendered first if need be). */
static int render_body(struct vs_http *h, struct rendered *r, int f, int z) {
        uint64_t counts[2][2];
        atomic_fetch_add_explicit(&h->renders[f][z], 1, memory_order_relaxed);
        if (z)
                return gzip_into(r->body[f][0].data, r->body[f][0].len, &r->body[f][1]);
        for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                        counts[i][j] = atomic_load_explicit(&h->renders[i][j], memory_order_relaxed);
        struct vs_render_opts o = h->cfg.render;
        o.renders = (const uint64_t(*)[2]) counts;
        return vs_render_prometheus(r->sample, f ? VS_PROM_OPENMETRICS : VS_PROM_TEXT, &o, &r->body[f][0]);
}

/* Body [f][z] of r, rendered by the first request that needs it; the others wait for that one.
 * NULL when rendering failed (out of memory): the next request tries again. */
static const struct vs_buf *body_get(struct vs_http *h, struct rendered *r, int f, int z) {
        if (z && !body_get(h, r, f, 0))
                return NULL;
        pthread_mutex_lock(&r->lock);
        while (r->state[f][z] == BODY_BUSY)
                pthread_cond_wait(&r->done, &r->lock);
        if (r->state[f][z] == BODY_EMPTY) {
                r->state[f][z] = BODY_BUSY;
                pthread_mutex_unlock(&r->lock);
                int rc = render_body(h, r, f, z);
                if (rc < 0)
                        vs_buf_free(&r->body[f][z]);
                pthread_mutex_lock(&r->lock);
                r->state[f][z] = rc < 0 ? BODY_EMPTY : BODY_READY;
                pthread_cond_broadcast(&r->done);
        }
        bool ready = r->state[f][z] == BODY_READY;
        pthread_mutex_unlock(&r->lock);
        return ready ? &r->body[f][z] : NULL;
}

/* ---- the byte budget of large responses -------------------------------------------------------------- */

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
        free(x->data);
        free(x);
}

/* ---- responses ---------------------------------------------------------------------------------------- */

static _Atomic bool closing_all; /* set while quiescing: any listener's connection */

/* every answer goes out here; content_type NULL: none (a 304) */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp,
                             const char *content_type) {
        if (!resp)
                return MHD_NO;
        if (content_type)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff"); /* JSON is never run as a script */
        if (atomic_load_explicit(&closing_all, memory_order_relaxed))
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        enum MHD_Result ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* j as the body, with one more header (header NULL: none) */
static enum MHD_Result respond_json_with(struct MHD_Connection *c, unsigned status, json_t *j, const char *header,
                                         const char *value) {
        char *text = j ? vs_json_dump(j, true) : NULL;
        json_decref(j);
        if (!text)
                return MHD_NO;
        struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free);
        if (!resp)
                free(text);
        else if (header)
                MHD_add_response_header(resp, header, value);
        return queue(c, status, resp, "application/json");
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, json_t *j) {
        return respond_json_with(c, status, j, NULL, NULL);
}

/* {"error": msg, "status": status}, with one more header (header NULL: none): the Allow of a
 * 405, the Retry-After of a 503, the Connection: close of a request we will not read on */
static enum MHD_Result respond_error_with(struct MHD_Connection *c, unsigned status, const char *msg,
                                          const char *header, const char *value) {
        json_t *j = vs_json_error((int) status, msg);
        char *text = j ? vs_json_dump(j, true) : NULL;
        json_decref(j);
        struct MHD_Response *resp = text ? MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free)
                                         : NULL;
        if (!resp) {
                free(text);
                return MHD_NO;
        }
        if (header && value)
                MHD_add_response_header(resp, header, value);
        return queue(c, status, resp, "application/json");
}

static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *msg) {
        return respond_error_with(c, status, msg, NULL, NULL);
}

/* 503 with Retry-After: the large responses in flight hold all the memory they may */
static enum MHD_Result respond_busy(struct MHD_Connection *c) {
        return respond_error_with(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  "too many large responses are being sent; retry in a second",
                                  MHD_HTTP_HEADER_RETRY_AFTER, "1");
}

/* body (malloc'd, len bytes) as a response that keeps the reserved bytes counted until sent */
static enum MHD_Result respond_held(struct vs_http *h, struct MHD_Connection *c, unsigned status, char *body,
                                    size_t len, size_t reserved, const char *type) {
        struct held *x = malloc(sizeof(*x));
        struct MHD_Response *resp = NULL;
        if (!x) {
                held_release(h, reserved);
                free(body);
                return MHD_NO;
        }
        *x = (struct held) { .h = h, .len = reserved, .data = body };
        resp = MHD_create_response_from_buffer_with_free_callback_cls(len, body, held_free, x);
        if (!resp)
                held_free(x);
        return queue(c, status, resp, type);
}

/* ---- the web page ---------------------------------------------------------------------------------- */

/* Gzips each file once and names both forms by CRC-32 and length: the bytes only change with
 * the binary. A file that fails to compress is served as it is. */
static void web_prepare(struct vs_http *h) {
        for (unsigned a = 0; a < VS_ASSET__COUNT; a++) {
                struct web_asset *w = &h->web[a];
                w->raw = vs_web_file((enum vs_asset) a);
                unsigned long crc = crc32(0, w->raw.data, (uInt) w->raw.len);
                snprintf(w->etag, sizeof(w->etag), "\"%08lx-%zx\"", crc, w->raw.len);
                snprintf(w->etag_gz, sizeof(w->etag_gz), "\"%08lx-%zx-gz\"", crc, w->raw.len);
                vs_buf_init(&w->gz);
                if (gzip_into(w->raw.data, w->raw.len, &w->gz) < 0)
                        vs_buf_free(&w->gz);
        }
}

static void web_free(struct vs_http *h) {
        for (unsigned a = 0; a < VS_ASSET__COUNT; a++)
                vs_buf_free(&h->web[a].gz);
}

/* One of the page's files; the page (at / and /vms/<name>) with its Content-Security-Policy.
 * Browsers revalidate each time (no-cache): a 304 when their copy is current. */
static enum MHD_Result serve_web(struct vs_http *h, struct MHD_Connection *c, enum vs_asset a) {
        const struct web_asset *w = &h->web[a];
        bool gz = w->gz.len && vs_accept_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                          MHD_HTTP_HEADER_ACCEPT_ENCODING));
        const char *etag = gz ? w->etag_gz : w->etag;
        bool fresh = vs_etag_match(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
        struct MHD_Response *resp =
                fresh ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
                      : MHD_create_response_from_buffer(gz ? w->gz.len : w->raw.len,
                                                        gz ? (void *) w->gz.data : (void *) w->raw.data,
                                                        MHD_RESPMEM_PERSISTENT); /* h outlives its daemons */
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        if (gz && !fresh)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        if (a == VS_ASSET_PAGE) {
                /* /vms/<name> is the page or JSON by Accept */
                MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
                MHD_add_response_header(resp, "Content-Security-Policy", PAGE_CSP);
                MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
                MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        } else {
                MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
        }
        return queue(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp, fresh ? NULL : vs_asset_type(a));
}

static enum MHD_Result serve_metrics(struct vs_http *h, struct MHD_Connection *c) {
        struct rendered *r = rendered_get(h);
        if (!r)
                return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no sample yet");
        /* ?format= overrides negotiation: Prometheus < 2.49 cannot be told to scrape plain text */
        const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
        bool om = vs_accept_openmetrics(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
        if (format && strcmp(format, "text") == 0)
                om = false;
        else if (format && strcmp(format, "openmetrics") == 0)
                om = true;
        else if (format) {
                rendered_unref(r);
                return respond_error(c, MHD_HTTP_BAD_REQUEST, "format must be text or openmetrics");
        }
        bool gz = vs_accept_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
        const struct vs_buf *b = body_get(h, r, om, gz);
        if (!b) {
                rendered_unref(r);
                return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory rendering /metrics");
        }
        struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
                b->len, b->data, rendered_unref, r); /* the bytes live as long as the response */
        if (!resp) {
                rendered_unref(r);
                return MHD_NO;
        }
        if (gz)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
        return queue(c, MHD_HTTP_OK, resp, vs_prom_content_type(om ? VS_PROM_OPENMETRICS : VS_PROM_TEXT));
}

/* Guest console text (login prompts, cloud-init output) goes to whoever may use the control
 * socket; TCP has no authentication, so it serves it only with console_over_http = yes. */
static enum MHD_Result serve_console(struct vs_http *h, struct listener *l, struct MHD_Connection *c, const char *vm) {
        if (!l->control && !h->cfg.console_over_http)
                return respond_error(c, MHD_HTTP_FORBIDDEN,
                                     "guest consoles are served on the control socket only (vmstatctl console NAME); "
                                     "console_over_http = yes in vmstatd.conf serves them here too");
        if (!held_reserve(h, CONSOLE_TAIL_MAX))
                return respond_busy(c);
        char *buf = malloc(CONSOLE_TAIL_MAX);
        long n = buf && h->cfg.console_tail ? h->cfg.console_tail(h->cfg.opaque, vm, buf, CONSOLE_TAIL_MAX) : -ENOENT;
        if (n < 0) {
                free(buf);
                held_release(h, CONSOLE_TAIL_MAX);
                return respond_error(c, MHD_HTTP_NOT_FOUND, "no such VM");
        }
        return respond_held(h, c, MHD_HTTP_OK, buf, (size_t) n, CONSOLE_TAIL_MAX, "text/plain; charset=utf-8");
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
                return respond_error(c, MHD_HTTP_BAD_REQUEST, msg);
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
                return r == -ENOENT ? respond_error(c, MHD_HTTP_NOT_FOUND, "no such VM")
                                    : respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, strerror(-r));
        }
        st->h = h;
        st->held = held;
        if ((uint64_t) st->hist.n_points * st->hist.vcpus > cap) { /* re-created with more vCPUs meanwhile */
                hist_stream_free(st);
                return respond_error(c, MHD_HTTP_CONFLICT, "the VM changed while its history was read; ask again");
        }
        if (asprintf(&st->chunk, "{\n  \"name\": \"%s\",\n  \"points\": [\n", rt->vm) < 0) { /* names need no escaping */
                st->chunk = NULL;
                hist_stream_free(st);
                return MHD_NO;
        }
        st->len = strlen(st->chunk);
        struct MHD_Response *resp =
                MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, hist_stream_read, st, hist_stream_free);
        if (!resp)
                hist_stream_free(st);
        return queue(c, MHD_HTTP_OK, resp, "application/json");
}

/* the routes that read the latest sample */
static enum MHD_Result serve_sample(struct vs_http *h, struct MHD_Connection *c, const struct vs_route *rt) {
        struct vs_sample *s = vs_sampler_latest(h->sampler);
        enum MHD_Result ret;
        if (rt->kind == VS_ROUTE_HEALTHZ) {
                bool healthy;
                json_t *j = vs_json_health(s, hv_now_ns(), vs_sampler_interval_ns(h->sampler), atomic_load(&h->starting),
                                           &healthy);
                ret = respond_json(c, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j);
        } else if (!s) {
                ret = respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no sample yet");
        } else if (rt->kind == VS_ROUTE_VMS) {
                ret = respond_json(c, MHD_HTTP_OK, vs_json_vms(s));
        } else {
                const struct vs_vm_sample *vm = vs_sample_find_vm(s, rt->vm);
                if (!vm)
                        ret = respond_error(c, MHD_HTTP_NOT_FOUND, "no such VM");
                else if (rt->kind == VS_ROUTE_VM) /* a browser gets the page here */
                        ret = respond_json_with(c, MHD_HTTP_OK, vs_json_vm(s, vm), MHD_HTTP_HEADER_VARY, "Accept");
                else if (rt->vcpu >= vm->vcpus)
                        ret = respond_error(c, MHD_HTTP_NOT_FOUND, "no such vCPU");
                else
                        ret = respond_json(c, MHD_HTTP_OK, vs_json_vcpu(s, vm, rt->vcpu));
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
                return respond_error(c, MHD_HTTP_NOT_IMPLEMENTED, "this daemon cannot re-execute itself");
        h->cfg.reexec(h->cfg.reexec_opaque);
        json_t *j = json_pack("{s:s, s:s}", "action", "daemon-reexec", "message",
                              "re-executing: guests keep running, counters continue, listening sockets stay open");
        return respond_json(c, MHD_HTTP_ACCEPTED, j);
}

/* POST /vms/<name>/<verb> on the control socket: {"vm", "action", "state", "message"} */
static enum MHD_Result serve_action(struct vs_http *h, struct MHD_Connection *c, const struct vs_route *rt) {
        const char *verb = vs_verb_name(rt->verb);
        char msg[256] = "";
        if (!h->cfg.action)
                return respond_error(c, MHD_HTTP_NOT_IMPLEMENTED, "this daemon carries out no control actions");
        int r = h->cfg.action(h->cfg.opaque, rt->vm, verb, msg, sizeof(msg));
        msg[sizeof(msg) - 1] = 0;
        if (r < 0) {
                if (!msg[0])
                        snprintf(msg, sizeof(msg), "%s %s: %s", verb, rt->vm, strerror(-r));
                return respond_error(c, action_status(r), msg);
        }
        if (!msg[0])
                snprintf(msg, sizeof(msg), "VM %s is %s", rt->vm, vs_verb_result_state(rt->verb));
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "vm", rt->vm, "action", verb, "state",
                              vs_verb_result_state(rt->verb), "message", msg);
        return respond_json(c, MHD_HTTP_OK, j);
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
        (void) cls;
        (void) c;
        return vs_unescape(s);
}

struct framing {
        unsigned te_count;
        bool te_chunked;
        const char *cl;
        bool cl_conflict;
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        struct framing *f = cls;
        (void) kind;
        if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
                f->te_count++;
                f->te_chunked = strcasecmp(value, "chunked") == 0;
        } else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
                if (f->cl && strcmp(f->cl, value) != 0)
                        f->cl_conflict = true;
                f->cl = value;
        }
        return MHD_YES;
}

/* Request-smuggling shapes (RFC 9112 6.3): both framings, conflicting lengths, unknown or
 * stacked transfer codings. Answered and the connection closed; 0 when the framing is sound. */
static unsigned bad_framing(struct MHD_Connection *c, const char **ret_msg) {
        struct framing f = { 0 };
        MHD_get_connection_values(c, MHD_HEADER_KIND, framing_header, &f);
        if (f.te_count && f.cl) {
                *ret_msg = "both Transfer-Encoding and Content-Length";
                return MHD_HTTP_BAD_REQUEST;
        }
        if (f.cl_conflict) {
                *ret_msg = "conflicting Content-Length headers";
                return MHD_HTTP_BAD_REQUEST;
        }
        if (f.te_count > 1 || (f.te_count == 1 && !f.te_chunked)) {
                *ret_msg = "only a single chunked Transfer-Encoding is supported";
                return MHD_HTTP_NOT_IMPLEMENTED;
        }
        return 0;
}

/* The address the client connected to, as text: what an IP-literal Host must name. */
static const char *local_address(struct MHD_Connection *c, char *buf, size_t size) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (!ci || getsockname(ci->connect_fd, (struct sockaddr *) &ss, &len) < 0)
                return NULL;
        const void *a = ss.ss_family == AF_INET6 ? (const void *) &((struct sockaddr_in6 *) &ss)->sin6_addr
                                                 : (const void *) &((struct sockaddr_in *) &ss)->sin_addr;
        return ss.ss_family == AF_INET || ss.ss_family == AF_INET6 ? inet_ntop(ss.ss_family, a, buf, (socklen_t) size)
                                                                    : NULL;
}

/* The connection's own address (a syscall) is looked up only for a Host it could decide. */
static bool host_ok(struct vs_http *h, struct MHD_Connection *c) {
        char addr[INET6_ADDRSTRLEN];
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        return vs_host_allowed(host, NULL, h->host_names, h->n_host_names) ||
               vs_host_allowed(host, local_address(c, addr, sizeof(addr)), h->host_names, h->n_host_names);
}

/* 421 for a Host that does not name this daemon (DNS rebinding: a page whose name now
 * resolves to us), and the connection closed */
static enum MHD_Result refuse_host(struct vs_http *h, struct MHD_Connection *c) {
        char msg[384];
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        snprintf(msg, sizeof(msg), "Host '%.100s' does not name this vmstatd: use its address, localhost or %.100s, "
                 "or add the name to allowed_hosts in vmstatd.conf", host ? host : "", h->hostname);
        return respond_error_with(c, 421, msg, MHD_HTTP_HEADER_CONNECTION, "close");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        static int seen;
        struct listener *l = cls;
        struct vs_http *h = l->h;
        struct vs_route rt;
        (void) version;
        (void) upload_data;

        /* queue the response on the second call: on the first, 0.9.75 closes keep-alives */
        if (!*con_cls) {
                const char *msg;
                unsigned status = bad_framing(c, &msg);
                if (status)
                        return respond_error_with(c, status, msg, MHD_HTTP_HEADER_CONNECTION, "close");
                if (!l->control && !host_ok(h, c))
                        return refuse_host(h, c);
                *con_cls = &seen;
                return MHD_YES;
        }
        if (*upload_data_size) { /* no route takes a body: read and drop it */
                *upload_data_size = 0;
                return MHD_YES;
        }
        vs_route_parse(method, vs_request_path(url), MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last"),
                       MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT), h->cfg.history,
                       l->control, &rt);
        switch (rt.kind) {
        case VS_ROUTE_PAGE:
                return serve_web(h, c, VS_ASSET_PAGE);
        case VS_ROUTE_STATIC:
                return serve_web(h, c, rt.asset);
        case VS_ROUTE_METRICS:
                return serve_metrics(h, c);
        case VS_ROUTE_CONSOLE:
                return serve_console(h, l, c, rt.vm);
        case VS_ROUTE_HISTORY:
                return serve_history(h, c, &rt);
        case VS_ROUTE_ACTION:
                return serve_action(h, c, &rt);
        case VS_ROUTE_REEXEC:
                return serve_reexec(h, c);
        case VS_ROUTE_ERROR:
                return respond_error_with(c, (unsigned) rt.status, rt.error, MHD_HTTP_HEADER_ALLOW, rt.allow);
        default:
                return serve_sample(h, c, &rt);
        }
}

/* ---- listeners ------------------------------------------------------------------------------------------ */

/* A parsed listen address -> a bound, listening socket */
static int listen_on(const struct vs_listen *l, int *ret_fd, char *why) {
        struct sockaddr_storage sa;
        socklen_t len;
        if (vs_listen_resolve(l, &sa, &len, why) < 0)
                return -EINVAL;
        int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r = 0;
        if (fd < 0)
                r = -errno;
        else {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (sa.ss_family == AF_INET6) /* so [::]:p and 0.0.0.0:p can both be listed */
                        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                if (bind(fd, (struct sockaddr *) &sa, len) < 0 || listen(fd, 128) < 0)
                        r = -errno;
        }
        if (r < 0) {
                snprintf(why, VS_HTTP_WHY_LEN, "listen on %s: %s%s", l->text, strerror(-r),
                         r == -EADDRINUSE ? " (port 9400 is also NVIDIA dcgm-exporter's default; pick another with --listen)" : "");
                if (fd >= 0)
                        close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* The control socket's file, if any: a socket that refuses connections is stale and goes; a
 * live one means another daemon; anything else is not ours to remove. */
static int remove_stale_socket(const struct sockaddr_un *sa, char *why) {
        struct stat st;
        if (lstat(sa->sun_path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                snprintf(why, VS_HTTP_WHY_LEN, "control socket %s: %s", sa->sun_path, strerror(errno));
                return -errno;
        }
        if (!S_ISSOCK(st.st_mode)) {
                snprintf(why, VS_HTTP_WHY_LEN, "control socket %s: exists and is not a socket", sa->sun_path);
                return -EEXIST;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0) {
                snprintf(why, VS_HTTP_WHY_LEN, "control socket: %s", strerror(errno));
                return -errno;
        }
        int r = connect(probe, (const struct sockaddr *) sa, sizeof(*sa)) == 0 ? 0 : -errno;
        close(probe);
        if (r == 0) {
                snprintf(why, VS_HTTP_WHY_LEN, "control socket %s: another vmstatd is listening on it", sa->sun_path);
                return -EADDRINUSE;
        }
        if (r != -ECONNREFUSED) { /* e.g. EACCES: not provably stale */
                snprintf(why, VS_HTTP_WHY_LEN, "control socket %s: %s", sa->sun_path, strerror(-r));
                return r;
        }
        if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
                snprintf(why, VS_HTTP_WHY_LEN, "control socket %s: removing the stale socket: %s", sa->sun_path,
                         strerror(errno));
                return -errno;
        }
        return 0;
}

/* A listening AF_UNIX socket at path with mode 0660 (the group may connect). */
static int listen_unix(struct vs_http *h, const char *path, int *ret_fd, char *why) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        if (strlen(path) >= sizeof(sa.sun_path) || !*path) {
                snprintf(why, VS_HTTP_WHY_LEN, "control socket '%s': expected a path of 1 to %zu bytes", path,
                         sizeof(sa.sun_path) - 1);
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);
        int r = remove_stale_socket(&sa, why);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                snprintf(why, VS_HTTP_WHY_LEN, "control socket: %s", strerror(errno));
                return -errno;
        }
        /* the file is created with the socket inode's mode less the umask: never wider than
         * 0660; chmod then makes it exactly 0660 without touching the process-wide umask */
        if (fchmod(fd, 0660) < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                snprintf(why, VS_HTTP_WHY_LEN, "control socket %s: %s", path, strerror(-r));
                close(fd);
                return r;
        }
        if (chmod(path, 0660) < 0 || lstat(path, &st) < 0 || listen(fd, 64) < 0) {
                r = -errno;
                snprintf(why, VS_HTTP_WHY_LEN, "control socket %s: %s", path, strerror(-r));
                unlink(path);
                close(fd);
                return r;
        }
        strcpy(h->control_path, path);
        h->control_dev = st.st_dev;
        h->control_ino = st.st_ino;
        *ret_fd = fd;
        return 0;
}

static int start_daemon(struct vs_http *h, int fd, bool own_fd, bool control) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        struct listener *l = &h->l[h->n];
        /* poll, not epoll: with 0.9.75's epoll loop, connections that send half a request and
         * close stayed open until the timeout and used up the per-IP limit */
        unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC; /* ITC: MHD_quiesce_daemon */
        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                return -errno;
        if (ss.ss_family == AF_INET6)
                flags |= MHD_USE_DUAL_STACK;
        /* AF_UNIX peers have no address: a per-IP limit would be one shared bucket, so none */
        unsigned per_ip = ss.ss_family == AF_UNIX ? 0 : h->cfg.per_ip_limit ? h->cfg.per_ip_limit : 64;
        *l = (struct listener) { .h = h, .fd = fd, .own_fd = own_fd, .control = control };
        l->d = MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, l, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE,
                h->cfg.threads ? h->cfg.threads : 2, MHD_OPTION_CONNECTION_TIMEOUT,
                h->cfg.timeout_s ? h->cfg.timeout_s : 10, MHD_OPTION_CONNECTION_LIMIT,
                h->cfg.connection_limit ? h->cfg.connection_limit : 256, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 16384, MHD_OPTION_STRICT_FOR_CLIENT,
                1 /* e.g. HTTP/1.1 without Host: 400 */, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
        if (!l->d) {
                *l = (struct listener) { 0 };
                return -EIO;
        }
        h->n++;
        return 0;
}

int vs_http_start(const struct vs_http_config *cfg, struct vs_sampler *sampler, struct vs_http **ret,
                  char why[VS_HTTP_WHY_LEN]) {
        struct vs_http *h = calloc(1, sizeof(*h));
        int r = 0;
        if (!h)
                return -ENOMEM;
        h->cfg = *cfg;
        h->sampler = sampler;
        atomic_init(&h->starting, cfg->starting);
        pthread_mutex_init(&h->lock, NULL);
        if (gethostname(h->hostname, sizeof(h->hostname) - 1) == 0 && h->hostname[0])
                h->host_names[h->n_host_names++] = h->hostname;
        for (size_t i = 0; i < cfg->n_allowed_hosts && h->n_host_names < HOST_NAMES_MAX; i++) {
                snprintf(h->host_name_buf[i], sizeof(h->host_name_buf[i]), "%s", cfg->allowed_hosts[i]);
                h->host_names[h->n_host_names++] = h->host_name_buf[i];
        }
        h->cfg.allowed_hosts = NULL;
        web_prepare(h);
        struct vs_sample *s = vs_sampler_latest(sampler); /* there before the first request can come */
        if (s) {
                vs_http_publish(h, s);
                vs_sample_unref(s);
        }
        size_t n_tcp = cfg->n_listen + cfg->n_fds;
        if (n_tcp > MAX_LISTENERS || n_tcp + (cfg->control_socket != NULL) == 0) {
                snprintf(why, VS_HTTP_WHY_LEN, "between 1 and %d listen addresses", MAX_LISTENERS);
                r = -EINVAL;
        }
        for (size_t i = 0; r == 0 && i < cfg->n_fds; i++)
                if ((r = start_daemon(h, cfg->fds[i], false, false)) < 0)
                        snprintf(why, VS_HTTP_WHY_LEN, "serving the passed socket fd %d failed", cfg->fds[i]);
        for (size_t i = 0; r == 0 && i < cfg->n_listen; i++) {
                int fd;
                if ((r = listen_on(&cfg->listen[i], &fd, why)) < 0)
                        break;
                if ((r = start_daemon(h, fd, true, false)) < 0) {
                        close(fd);
                        snprintf(why, VS_HTTP_WHY_LEN, "starting the HTTP server on %s failed", cfg->listen[i].text);
                }
        }
        if (r == 0 && cfg->control_socket) {
                int fd;
                if ((r = listen_unix(h, cfg->control_socket, &fd, why)) == 0 && (r = start_daemon(h, fd, true, true)) < 0) {
                        close(fd);
                        snprintf(why, VS_HTTP_WHY_LEN, "starting the HTTP server on the control socket %s failed",
                                 cfg->control_socket);
                }
        }
        if (r < 0) {
                vs_http_stop(h);
                return r;
        }
        *ret = h;
        return 0;
}

void vs_http_started(struct vs_http *h) {
        atomic_store(&h->starting, false);
}

void vs_http_stop(struct vs_http *h) {
        if (!h)
                return;
        for (size_t i = 0; i < h->n; i++) {
                MHD_stop_daemon(h->l[i].d);
                if (h->l[i].own_fd)
                        close(h->l[i].fd);
        }
        struct stat st; /* the socket file goes unless another daemon has replaced it since */
        if (h->control_path[0] && lstat(h->control_path, &st) == 0 && st.st_dev == h->control_dev &&
            st.st_ino == h->control_ino)
                unlink(h->control_path);
        rendered_unref(h->current);
        web_free(h);
        pthread_mutex_destroy(&h->lock);
        free(h);
}

size_t vs_http_quiesce(struct vs_http *h, int *fds, size_t max, int timeout_ms) {
        size_t n = 0;
        atomic_store(&closing_all, true);
        for (size_t i = 0; i < h->n; i++) {
                if (h->l[i].control)
                        continue; /* the control socket is bound anew by the next program */
                MHD_socket fd = MHD_quiesce_daemon(h->l[i].d);
                if (fd != MHD_INVALID_SOCKET && n < max) {
                        fds[n++] = fd;
                        h->l[i].own_fd = false; /* the next program's now */
                }
        }
        for (int waited = 0; waited < timeout_ms; waited += 10) {
                unsigned open = 0;
                for (size_t i = 0; i < h->n; i++) {
                        const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->l[i].d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
                        open += di ? di->num_connections : 0;
                }
                if (!open)
                        break;
                usleep(10000);
        }
        return n;
}

int vs_http_port(const struct vs_http *h) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (!h->n || h->l[0].control || getsockname(h->l[0].fd, (struct sockaddr *) &ss, &len) < 0)
                return -1;
        return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                              : ((struct sockaddr_in *) &ss)->sin_port);
}
