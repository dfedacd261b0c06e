/* Inside the HTTP server, shared by its files and by nothing else: http.c (the /metrics bodies of
 * a sample, listeners, the gate every request passes), http_respond.c (the one way an answer
 * goes out) and http_serve.c (what each route answers). */
#ifndef VMSTATD_HTTP_PRIV_H
#define VMSTATD_HTTP_PRIV_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "buf.h"
#include "gzip.h"
#include "config.h"
#include "http.h"
#include "router.h"
#include "web.h"

#define MAX_LISTENERS 16
#define HOST_NAMES_MAX (VS_CONF_MAX_HOSTS + 2)

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

struct rendered; /* the /metrics bodies of one sample (http.c) */

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
        _Atomic size_t body_size[2][2]; /* the last body's length, [format][encoding]: what the next reserves */
        pthread_mutex_t gz_lock;        /* around gz: gzip bodies are streamed one at a time */
        struct vs_gzip *gz;             /* NULL until the first gzip scrape */
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

/* ---- the /metrics bodies of the latest sample (http.c) ------------------------------------------ */

/* The latest sample's bodies, a reference taken (NULL before the first sample); dropped with
 * http_rendered_unref, which takes the void * of a response's free callback. */
struct rendered *http_rendered_get(struct vs_http *h);
void http_rendered_unref(void *r);
/* Body [openmetrics][gzip] of r, rendered by the first request that needs it; the others wait
 * for that one. NULL when rendering failed (out of memory): the next request tries again. */
const struct vs_buf *http_rendered_body(struct vs_http *h, struct rendered *r, int f, int z);

/* ---- the respond path (http_respond.c) ---------------------------------------------------------- */

/* A response's body and its Content-Type (NULL: none, as for a 304). The respond path takes it
 * over whatever happens: json is released, done(cls) is called once libmicrohttpd is through
 * with data or the stream, or at once when the response could not be made. */
struct body {
        enum body_kind {
                BODY_JSON,   /* json, pretty-printed, as application/json */
                BODY_STATIC, /* data lives as long as the daemons (the web files, an empty body) */
                BODY_LENT,   /* data lives until done(cls) */
                BODY_STREAM, /* read(cls, ...) writes it as the client takes it; done(cls) at the end */
        } kind;
        const char *type;
        json_t *json;
        const void *data;
        size_t len;
        MHD_ContentReaderCallback read;
        void (*done)(void *cls);
        void *cls;
};

/* A header beyond the common ones; a list ends at a NULL name, a NULL value is left out. */
struct header {
        const char *name, *value;
};
#define HEADERS(...) ((const struct header[]) { __VA_ARGS__, { NULL, NULL } })

/* Every answer goes out here: body, the extra headers (NULL: none), then what every answer
 * carries (X-Content-Type-Options: nosniff; Connection: close while quiescing), queued. */
enum MHD_Result http_respond(struct MHD_Connection *c, unsigned status, struct body body, const struct header *extra);
/* j (taken; NULL: MHD_NO) as the body */
enum MHD_Result http_respond_json(struct MHD_Connection *c, unsigned status, json_t *j, const struct header *extra);
/* {"error": msg, "status": status} */
enum MHD_Result http_respond_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                   const struct header *extra);
/* From now on every answer says Connection: close (on every listener): the daemon is going. */
void http_respond_close_all(void);

/* ---- the routes (http_serve.c) ------------------------------------------------------------------ */

/* The answer to a parsed request on listener l. */
enum MHD_Result http_serve(struct listener *l, struct MHD_Connection *c, const struct vs_route *rt);

#endif
