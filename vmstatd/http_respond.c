/* The one way an HTTP answer goes out: whatever the route, its body is made into a response
 * here, and every response carries the same common headers. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"
#include "render_json.h"

#define STREAM_BLOCK (16 * 1024) /* what a streamed body's read callback is asked for at most */

static _Atomic bool closing_all; /* set while quiescing: any listener's connection */

void http_respond_close_all(void) {
        atomic_store(&closing_all, true);
}

/* body as a libmicrohttpd response, or NULL (then body is released) */
static struct MHD_Response *response_of(struct body *b) {
        struct MHD_Response *resp = NULL;
        if (b->kind == BODY_JSON) {
                char *text = b->json ? vs_json_dump(b->json, true) : NULL;
                json_decref(b->json);
                if (!text)
                        return NULL;
                *b = (struct body) { .kind = BODY_LENT, .type = "application/json", .data = text, .len = strlen(text),
                                     .done = free, .cls = text };
        }
        switch (b->kind) {
        case BODY_STATIC:
                resp = MHD_create_response_from_buffer(b->len, (void *) b->data, MHD_RESPMEM_PERSISTENT);
                break;
        case BODY_LENT:
                resp = MHD_create_response_from_buffer_with_free_callback_cls(b->len, (void *) b->data, b->done,
                                                                              b->cls);
                break;
        case BODY_STREAM:
                resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, b->read, b->cls, b->done);
                break;
        case BODY_JSON:
                break;
        }
        if (!resp && b->done)
                b->done(b->cls);
        return resp;
}

enum MHD_Result http_respond(struct MHD_Connection *c, unsigned status, struct body body, const struct header *extra) {
        struct MHD_Response *resp = response_of(&body);
        if (!resp)
                return MHD_NO;
        for (const struct header *x = extra; x && x->name; x++)
                if (x->value)
                        MHD_add_response_header(resp, x->name, x->value);
        if (body.type)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, body.type);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff"); /* JSON is never run as a script */
        if (atomic_load_explicit(&closing_all, memory_order_relaxed))
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        enum MHD_Result ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result http_respond_json(struct MHD_Connection *c, unsigned status, json_t *j, const struct header *extra) {
        return http_respond(c, status, (struct body) { .kind = BODY_JSON, .json = j }, extra);
}

enum MHD_Result http_respond_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                   const struct header *extra) {
        return http_respond_json(c, status, vs_json_error((int) status, msg), extra);
}
