/* The HTTP server on libmicrohttpd: the /metrics bodies of each sample, the gate every request
 * passes (framing, Host) before http_serve answers it, the listeners and their life. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gzip.h"
#include "http_priv.h"

/* /metrics bodies of one sample, [format][encoding], each rendered when first asked for: a
 * sample nobody scrapes costs no render, and requests that come together wait for one.
 *
 * Prometheus asks for gzip: that body is rendered through a 128 KiB window into the compressor
 * (gzip.c), and the 5 MB text is never whole. Should a plain request still come for that sample,
 * it gets the gzip body inflated (~2 ms for 5 MB), the same bytes, not a second render. */
enum body_state { BODY_EMPTY, BODY_BUSY, BODY_READY, BODY_DROPPED };

struct rendered {
        _Atomic unsigned refs;
        struct vs_sample *sample;
        pthread_mutex_t lock; /* state; bodies are written by the one request that makes them */
        pthread_cond_t done;
        enum body_state state[2][2];
        size_t text_len[2];   /* of a text body that was streamed into gzip (BODY_DROPPED) */
        struct vs_buf body[2][2];
};

/* ---- rendering once per sample ------------------------------------------------------------------ */

void http_rendered_unref(void *p) {
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
        http_rendered_unref(old);
}

struct rendered *http_rendered_get(struct vs_http *h) {
        pthread_mutex_lock(&h->lock);
        struct rendered *r = h->current;
        if (r)
                atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&h->lock);
        return r;
}

/* Counts a text render of format f and gives the values its body shows for
 * vmstatd_render_total: the counts as of that render, itself included. */
static struct vs_render_opts text_render_opts(struct vs_http *h, int f, uint64_t counts[2][2]) {
        atomic_fetch_add_explicit(&h->renders[f][0], 1, memory_order_relaxed);
        for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                        counts[i][j] = atomic_load_explicit(&h->renders[i][j], memory_order_relaxed);
        struct vs_render_opts o = h->cfg.render;
        o.renders = (const uint64_t(*)[2]) counts;
        return o;
}

static enum vs_prom_format prom_format(int f) {
        return f ? VS_PROM_OPENMETRICS : VS_PROM_TEXT;
}

/* The text body of format f, kept to be served. */
static int render_text(struct vs_http *h, struct rendered *r, int f) {
        uint64_t counts[2][2];
        struct vs_render_opts o = text_render_opts(h, f, counts);
        return vs_render_prometheus(r->sample, prom_format(f), &o, &r->body[f][0]);
}

/* The gzip body of format f, through the server's one compressor (made on the first gzip scrape
 * and kept: 300 KiB that would otherwise come and go in the heap with every scrape). From the
 * text body when a request made it; else the render streams through the compressor's window
 * (counted as the text render it is) and the text is never whole: a plain request for this
 * sample later gets the gzip body inflated. */
static int render_gzip(struct vs_http *h, struct rendered *r, int f, bool stream) {
        uint64_t counts[2][2];
        struct vs_buf *out = &r->body[f][1];
        pthread_mutex_lock(&h->gz_lock);
        int rc = h->gz ? 0 : vs_gzip_new(out, &h->gz);
        struct vs_gzip *g = h->gz;
        struct vs_buf *text = NULL;
        if (rc == 0) {
                vs_gzip_restart(g, out);
                text = stream ? vs_gzip_window(g) : &r->body[f][0];
                rc = text ? 0 : -ENOMEM;
        }
        if (rc == 0 && stream) {
                struct vs_render_opts o = text_render_opts(h, f, counts);
                atomic_fetch_add_explicit(&h->renders[f][1], 1, memory_order_relaxed);
                rc = vs_render_prometheus(r->sample, prom_format(f), &o, text);
                int end = vs_gzip_window_end(g);
                rc = rc < 0 ? rc : end;
                r->text_len[f] = vs_gzip_text_len(g);
        } else if (rc == 0) {
                atomic_fetch_add_explicit(&h->renders[f][1], 1, memory_order_relaxed);
                rc = vs_gzip_write(g, text->data, text->len);
                if (rc == 0)
                        rc = vs_gzip_finish(g);
        }
        pthread_mutex_unlock(&h->gz_lock);
        return rc;
}

/* Until nobody makes body [f][z], nor the text body a gzip one may be made from. */
static void body_wait(struct rendered *r, int f, int z) {
        while (r->state[f][z] == BODY_BUSY || (z && r->state[f][0] == BODY_BUSY))
                pthread_cond_wait(&r->done, &r->lock);
}

/* Body [f][z] of r, made by the first request that needs it; the others wait for that one.
 * A streamed gzip render holds the text body busy too, so a plain request waits for it and then
 * inflates, rather than render the sample a second time. Called with r->lock held; returns with
 * it held. */
static enum body_state body_make(struct vs_http *h, struct rendered *r, int f, int z) {
        body_wait(r, f, z);
        enum body_state was = r->state[f][z];
        if (was != BODY_EMPTY && was != BODY_DROPPED)
                return was;
        bool stream = z && r->state[f][0] != BODY_READY;
        r->state[f][z] = BODY_BUSY;
        if (stream)
                r->state[f][0] = BODY_BUSY;
        pthread_mutex_unlock(&r->lock);
        /* room for a body like this one's last at once, not a doubling realloc */
        size_t last = atomic_load_explicit(&h->body_size[f][z], memory_order_relaxed);
        if (last && was == BODY_EMPTY)
                (void) vs_buf_presize(&r->body[f][z], last);
        int rc;
        if (!z)
                rc = was == BODY_DROPPED ? vs_gunzip(r->body[f][1].data, r->body[f][1].len, r->text_len[f], &r->body[f][0])
                                         : render_text(h, r, f);
        else
                rc = render_gzip(h, r, f, stream);
        if (rc < 0)
                vs_buf_free(&r->body[f][z]);
        else
                atomic_store_explicit(&h->body_size[f][z], r->body[f][z].len, memory_order_relaxed);
        pthread_mutex_lock(&r->lock);
        r->state[f][z] = rc < 0 ? was : BODY_READY;
        if (stream)
                r->state[f][0] = rc < 0 ? BODY_EMPTY : BODY_DROPPED;
        pthread_cond_broadcast(&r->done);
        return r->state[f][z];
}

const struct vs_buf *http_rendered_body(struct vs_http *h, struct rendered *r, int f, int z) {
        pthread_mutex_lock(&r->lock);
        bool ready = body_make(h, r, f, z) == BODY_READY;
        pthread_mutex_unlock(&r->lock);
        return ready ? &r->body[f][z] : NULL;
}

/* ---- the web page's files, prepared once -------------------------------------------------------- */

/* Gzips each file once and names both forms by CRC-32 and length: the bytes only change with
 * the binary. A file that fails to compress is served as it is. */
static void web_prepare(struct vs_http *h) {
        for (unsigned a = 0; a < VS_ASSET__COUNT; a++) {
                struct web_asset *w = &h->web[a];
                w->raw = vs_web_file((enum vs_asset) a);
                unsigned long crc = crc32(0, (const Bytef *) w->raw.data, (uInt) w->raw.len);
                snprintf(w->etag, sizeof(w->etag), "\"%08lx-%zx\"", crc, w->raw.len);
                snprintf(w->etag_gz, sizeof(w->etag_gz), "\"%08lx-%zx-gz\"", crc, w->raw.len);
                vs_buf_init(&w->gz);
                if (vs_gzip_all(w->raw.data, w->raw.len, &w->gz) < 0)
                        vs_buf_free(&w->gz);
        }
}

static void web_free(struct vs_http *h) {
        for (unsigned a = 0; a < VS_ASSET__COUNT; a++)
                vs_buf_free(&h->web[a].gz);
}

/* ---- the gate every request passes ------------------------------------------------------------------ */

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
        return http_respond_error(c, 421, msg, HEADERS({ MHD_HTTP_HEADER_CONNECTION, "close" }));
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
                        return http_respond_error(c, status, msg, HEADERS({ MHD_HTTP_HEADER_CONNECTION, "close" }));
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
        return http_serve(l, c, &rt);
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
        pthread_mutex_init(&h->gz_lock, NULL);
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
        http_rendered_unref(h->current);
        web_free(h);
        vs_gzip_free(h->gz);
        pthread_mutex_destroy(&h->gz_lock);
        pthread_mutex_destroy(&h->lock);
        free(h);
}

size_t vs_http_quiesce(struct vs_http *h, int *fds, size_t max, int timeout_ms) {
        size_t n = 0;
        http_respond_close_all();
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
