/* vmstatctl's HTTP client: one libcurl handle, to the control socket or to --url, and the
 * daemon's replies read as JSON or as its error sentence. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int ctl_connect(struct ctl *c) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(c->curl = curl_easy_init())) {
                fprintf(stderr, "vmstatctl: cannot initialise libcurl\n");
                return EXIT_FAIL;
        }
        curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_error);
        curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "vmstatctl/" VMSTATCTL_VERSION);
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        return 0;
}

void ctl_disconnect(struct ctl *c) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
        curl_global_cleanup();
}

static size_t on_body(char *p, size_t size, size_t n, void *opaque) {
        struct reply *r = opaque;
        char *body = realloc(r->body, r->len + size * n + 1);
        if (!body)
                return 0;
        memcpy(body + r->len, p, size * n);
        r->len += size * n;
        body[r->len] = 0;
        r->body = body;
        return size * n;
}

const char *ctl_where(const struct ctl *c) {
        return c->url ? c->url : c->socket;
}

int ctl_request(struct ctl *c, const char *method, const char *path, struct reply *ret) {
        char url[1024];
        *ret = (struct reply) { 0 };
        snprintf(url, sizeof(url), "%s%s", c->url ? c->url : "http://localhost", path);
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->url ? NULL : c->socket);
        if (strcmp(method, "POST") == 0) {
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
                curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L); /* stopping a VM joins its threads */
        } else {
                curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
                curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
        }
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, ret);
        c->curl_error[0] = 0;
        CURLcode e = curl_easy_perform(c->curl);
        if (e != CURLE_OK) {
                long os_errno = 0;
                curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
                const char *why = os_errno ? strerror((int) os_errno)
                                : c->curl_error[0] ? c->curl_error : curl_easy_strerror(e);
                fprintf(stderr, "vmstatctl: cannot reach vmstatd at %s: %s (%s)\n", ctl_where(c), why,
                        c->url ? "is vmstatd running and listening there?"
                               : "is vmstatd running? are you in group vmstatd?");
                free(ret->body);
                *ret = (struct reply) { 0 };
                return -1;
        }
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &ret->status);
        if (!ret->body)
                ret->body = strdup("");
        return 0;
}

json_t *ctl_reply_json(const struct reply *r, const char *what) {
        json_error_t err;
        json_t *j = json_loadb(r->body, r->len, 0, &err);
        if (!j)
                fprintf(stderr, "vmstatctl: %s: the reply (HTTP %ld) is not JSON: %s\n", what, r->status, err.text);
        return j;
}

void ctl_say_error(const struct reply *r, const char *what) {
        json_t *j = json_loadb(r->body, r->len, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "error"));
        if (msg)
                fprintf(stderr, "vmstatctl: %s: %s\n", what, msg);
        else
                fprintf(stderr, "vmstatctl: %s: HTTP %ld from vmstatd\n", what, r->status);
        json_decref(j);
}

int ctl_get_ok(struct ctl *c, const char *path, const char *what, struct reply *ret) {
        if (ctl_request(c, "GET", path, ret) < 0)
                return EXIT_FAIL;
        if (ret->status == 200)
                return 0;
        if (c->json)
                fputs(ret->body, stdout);
        ctl_say_error(ret, what);
        free(ret->body);
        return EXIT_FAIL;
}

int ctl_get_json(struct ctl *c, const char *path, const char *what, json_t **ret, char **ret_raw) {
        struct reply r;
        if (ctl_get_ok(c, path, what, &r))
                return EXIT_FAIL;
        json_t *j = ctl_reply_json(&r, what);
        if (j && ret_raw)
                *ret_raw = r.body;
        else
                free(r.body);
        if (!j)
                return EXIT_FAIL;
        *ret = j;
        return 0;
}

int ctl_get_or_echo(struct ctl *c, const char *path, const char *what, json_t **ret) {
        char *raw = NULL;
        int r = ctl_get_json(c, path, what, ret, c->json ? &raw : NULL);
        if (r || !c->json)
                return r;
        fputs(raw, stdout);
        free(raw);
        json_decref(*ret);
        *ret = NULL;
        return 0;
}
