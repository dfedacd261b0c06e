/* vmstatctl's one-request verbs: list (a row per VM), console (a guest's console text) and the
 * actions (start, stop, pause, resume, daemon-reexec). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int verb_list(struct ctl *c, const char *verb, const char *name) {
        (void) name;
        json_t *doc;
        int r = ctl_get_or_echo(c, "/vms", verb, &doc);
        if (r || !doc)
                return r;
        json_t *vms = json_object_get(doc, "vms"), *vm;
        size_t i, w = 4;
        json_array_foreach(vms, i, vm) {
                size_t n = strlen(jstr(vm, "name", "?"));
                w = n > w ? n : w;
        }
        printf("%-*s  %-7s  %5s  %6s  %7s  %6s  %6s  %8s\n", (int) w, "NAME", "STATE", "VCPUS", "MEMORY", "UPTIME",
               "READY%", "STEAL%", "EXITS/s");
        json_array_foreach(vms, i, vm) {
                char mem[16], up[32], rdy[16], stl[16], ex[16];
                printf("%-*s  %-7s  %5.0f  %6s  %7s  %6s  %6s  %8s\n", (int) w, jstr(vm, "name", "?"),
                       jstr(vm, "state", "?"), jnum(vm, "vcpus"), fmt_bytes(mem, sizeof(mem), jnum(vm, "memory_bytes")),
                       fmt_uptime(up, sizeof(up), jnum(vm, "uptime_seconds")),
                       fmt_pct(rdy, sizeof(rdy), jnum(vm, "ready_pct")),
                       fmt_pct(stl, sizeof(stl), jnum(vm, "steal_pct.kvm")),
                       fmt_rate(ex, sizeof(ex), jnum(vm, "exits_per_sec")));
        }
        json_decref(doc);
        return EXIT_OK;
}

/* The guest's console text as the daemon holds it (its last 64 KiB), byte for byte. */
int verb_console(struct ctl *c, const char *verb, const char *name) {
        char path[64], what[64];
        struct reply r;
        snprintf(path, sizeof(path), "/vms/%s/console", name);
        snprintf(what, sizeof(what), "%s %s", verb, name);
        if (ctl_get_ok(c, path, what, &r))
                return EXIT_FAIL;
        fwrite(r.body, 1, r.len, stdout);
        free(r.body);
        return EXIT_OK;
}

/* POST /vms/NAME/VERB, or /daemon/reexec for daemon-reexec (202: the daemon answers, then goes) */
int verb_action(struct ctl *c, const char *verb, const char *name) {
        char path[64], what[64];
        struct reply r;
        bool reexec = strcmp(verb, "daemon-reexec") == 0;
        snprintf(path, sizeof(path), reexec ? "/daemon/reexec" : "/vms/%s/%s", name, verb);
        snprintf(what, sizeof(what), "%s%s%s", verb, name ? " " : "", name ? name : "");
        if (ctl_request(c, "POST", path, &r) < 0)
                return EXIT_FAIL;
        if (c->json)
                fputs(r.body, stdout);
        if (r.status != (reexec ? 202 : 200)) {
                ctl_say_error(&r, what);
                free(r.body);
                return EXIT_FAIL;
        }
        json_t *j = ctl_reply_json(&r, what);
        if (j && !c->json)
                printf("%s\n", jstr(j, "message", jstr(j, "state", "done")));
        json_decref(j);
        free(r.body);
        return j ? EXIT_OK : EXIT_FAIL;
}
