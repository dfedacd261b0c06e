/* vmstatctl's parts: the connection to vmstatd (client.c), JSON lookups and number formats
 * (format.c) and the verbs (list.c, stats.c, top.c), which vmstatctl.c dispatches from its table.
 * Only vmstatctl links them; the daemon's library does not. */
#ifndef VMSTATCTL_CTL_H
#define VMSTATCTL_CTL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define VMSTATCTL_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct ctl {
        const char *socket;   /* the control socket, unless url */
        char *url;            /* http://host:port without a trailing slash, or NULL; owned */
        bool json;
        long iterations;      /* top: refreshes before exiting, 0 = until q */
        CURL *curl;           /* one handle: the connection is kept alive across requests */
        char curl_error[CURL_ERROR_SIZE];
};

struct reply {
        long status;
        char *body;
        size_t len;
};

/* ---- client.c: HTTP over the control socket or --url ---- */

/* 0, or EXIT_FAIL (said) when libcurl cannot be set up; ctl_disconnect undoes it */
int ctl_connect(struct ctl *c);
void ctl_disconnect(struct ctl *c);
/* the socket path or the URL, as messages name the daemon */
const char *ctl_where(const struct ctl *c);
/* 0 with the reply (any status), -1 when the daemon could not be reached (said on stderr) */
int ctl_request(struct ctl *c, const char *method, const char *path, struct reply *ret);
/* The reply as JSON; NULL (said on stderr) when it is not JSON. */
json_t *ctl_reply_json(const struct reply *r, const char *what);
/* the error sentence of an error reply, or a description of the status, on stderr */
void ctl_say_error(const struct reply *r, const char *what);
/* GET path: 0 with a 200's reply, or EXIT_FAIL (said; with --json an error body is printed as
 * the server sent it). */
int ctl_get_ok(struct ctl *c, const char *path, const char *what, struct reply *ret);
/* GET path: 0 with the parsed document (and the raw body when ret_raw), or EXIT_FAIL (said). */
int ctl_get_json(struct ctl *c, const char *path, const char *what, json_t **ret, char **ret_raw);
/* ctl_get_json for a verb whose --json output is the server's document: with --json it is
 * printed as sent and *ret is NULL (nothing left to do), else *ret is the document. */
int ctl_get_or_echo(struct ctl *c, const char *path, const char *what, json_t **ret);

/* ---- format.c: reading the server's JSON, writing numbers for people ---- */

/* o["a.b.c"]: NULL when any step is missing */
json_t *jpath(json_t *o, const char *path);
/* the number at path, NAN when there is none */
double jnum(json_t *o, const char *path);
const char *jstr(json_t *o, const char *path, const char *dflt);
/* each writes "-" for NAN and returns buf */
char *fmt_bytes(char *buf, size_t len, double b);  /* 64M, 1.5G */
char *fmt_uptime(char *buf, size_t len, double s); /* 59s, 3m07s, 2h05m, 4d03h */
char *fmt_rate(char *buf, size_t len, double v);   /* at most 7 characters: 123456, 12.3M */
char *fmt_pct(char *buf, size_t len, double v);    /* 12.34 */

/* ---- the verbs: (c, verb, NAME or NULL) -> EXIT_OK or EXIT_FAIL (said) ---- */

int verb_list(struct ctl *c, const char *verb, const char *name);    /* list.c */
int verb_console(struct ctl *c, const char *verb, const char *name); /* list.c */
int verb_action(struct ctl *c, const char *verb, const char *name);  /* list.c: start ... daemon-reexec */
int verb_stats(struct ctl *c, const char *verb, const char *name);   /* stats.c */
int verb_top(struct ctl *c, const char *verb, const char *name);     /* top.c */

#endif
