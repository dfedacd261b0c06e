/* vmstatctl: vmstatd's command-line client. Reads (list, stats, top) go over the control socket
 * or, with --url, over the daemon's read-only HTTP port; actions (start, stop, pause, resume)
 * only over the control socket, and guest consoles there too unless the daemon serves them over
 * HTTP (console_over_http). Prints the server's own JSON with --json. This file is the verb
 * table and the command line; the verbs and the client are in ctl/. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl/ctl.h"
#include "paths.h"
#include "router.h"

#define SYSTEM_SOCKET VS_RUNTIME_DIR_SYSTEM "/" VS_CONTROL_SOCKET_NAME
#define HELP_INDENT 25 /* the column --help's descriptions start at */

/* One row a verb (systemd's Verb): what it takes after its name (nothing, or one VM NAME),
 * whether it acts (control socket only), what runs it and its line in --help. */
struct verb {
        const char *verb;
        unsigned min_args, max_args;
        bool needs_control_socket;
        int (*run)(struct ctl *c, const char *verb, const char *name);
        const char *help; /* --help indents its lines; adjacent rows with the same help share one entry */
};

#define ACTION_HELP "act on a VM (control socket only)"

static const struct verb verbs[] = {
        { "list", 0, 0, false, verb_list, "every VM: state, vCPUs, memory, uptime, ready %, steal %, exits/s" },
        { "stats", 1, 1, false, verb_stats, "every counter of every vCPU of a VM, with what it means" },
        { "top", 0, 1, false, verb_top,
          "live per-vCPU view (%RUN %RDY %GST guest steal %BLK %OFF, exits/s by\nreason); q quits" },
        { "console", 1, 1, false, verb_console, "the last 64 KiB the guest wrote to its console" },
        { "start", 1, 1, true, verb_action, ACTION_HELP },
        { "stop", 1, 1, true, verb_action, ACTION_HELP },
        { "pause", 1, 1, true, verb_action, ACTION_HELP },
        { "resume", 1, 1, true, verb_action, ACTION_HELP },
        { "daemon-reexec", 0, 0, true, verb_action,
          "vmstatd executes its binary anew (an upgrade): guests keep running,\ncounters continue, no scrape fails "
          "(control socket only)" },
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const struct verb *verb_find(const char *name) {
        for (size_t i = 0; i < N_VERBS; i++)
                if (strcmp(verbs[i].verb, name) == 0)
                        return &verbs[i];
        return NULL;
}

/* " NAME", " [NAME]" or nothing, as the verb's arguments go */
static const char *verb_args(const struct verb *v) {
        return v->max_args == 0 ? "" : v->min_args == 0 ? " [NAME]" : " NAME";
}

/* The Commands part of --help: "  stats NAME   help", or for adjacent verbs with one help
 * "  start|stop|pause|resume NAME" on a line of its own when it is wider than the column. */
static void usage_verbs(FILE *f) {
        for (size_t i = 0; i < N_VERBS; i++) {
                const struct verb *v = &verbs[i];
                char synopsis[128];
                size_t n = 0;
                if (i > 0 && strcmp(verbs[i - 1].help, v->help) == 0)
                        continue;
                for (size_t j = i; j < N_VERBS && strcmp(verbs[j].help, v->help) == 0 && n < sizeof(synopsis); j++)
                        n += (size_t) snprintf(synopsis + n, sizeof(synopsis) - n, "%s%s", j > i ? "|" : "", verbs[j].verb);
                if (n >= sizeof(synopsis))
                        n = sizeof(synopsis) - 1;
                snprintf(synopsis + n, sizeof(synopsis) - n, "%s", verb_args(v));
                if (strlen(synopsis) + 3 > HELP_INDENT)
                        fprintf(f, "  %s\n%*s", synopsis, HELP_INDENT, "");
                else
                        fprintf(f, "  %-*s", HELP_INDENT - 2, synopsis);
                for (const char *p = v->help; *p;) {
                        size_t len = strcspn(p, "\n");
                        fprintf(f, "%.*s\n", (int) len, p);
                        p += len;
                        if (*p && *++p)
                                fprintf(f, "%*s", HELP_INDENT, "");
                }
        }
}

static void usage(FILE *f) {
        fprintf(f, "Usage: vmstatctl [OPTIONS] COMMAND [NAME]\n"
                   "Shows and controls the KVM guests vmstatd runs.\n\n"
                   "Commands:\n");
        usage_verbs(f);
        fprintf(f,
                "\n"
                "Options:\n"
                "  -s, --socket PATH      control socket (default: the one vmstatd makes for this user\n"
                "                         when it exists, as vmstatd picks its runtime directory:\n"
                "                         $RUNTIME_DIRECTORY, /run/vmstatd for root, $XDG_RUNTIME_DIR/vmstatd,\n"
                "                         /tmp/vmstatd-UID; else " SYSTEM_SOCKET ")\n"
                "  -u, --url URL          read over HTTP instead, e.g. http://127.0.0.1:9400\n"
                "  -j, --json             print the server's JSON (top: one document per VM per refresh)\n"
                "  -n, --iterations N     top: exit after N refreshes\n"
                "  -h, --help, --version\n\n"
                "Exit status: 0 ok, 1 the daemon could not be reached or refused, 2 usage.\n");
}

static char *normalize_url(const char *u) {
        char *s;
        if (asprintf(&s, "%s%s", strstr(u, "://") ? "" : "http://", u) < 0)
                return NULL;
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
                s[--n] = 0;
        return s;
}

/* The control socket a vmstatd of this user made with its default runtime directory when
 * there is one (`make run`, a user's own daemon), else the system service's. */
static const char *default_socket(char *buf, size_t size) {
        char dir[VS_RUNTIME_DIR_MAX + 1];
        struct stat st;
        if (vs_runtime_dir_default(VS_RUNTIME_DIR_MAX, dir, sizeof(dir)) &&
            (size_t) snprintf(buf, size, "%s/" VS_CONTROL_SOCKET_NAME, dir) < size && stat(buf, &st) == 0 &&
            S_ISSOCK(st.st_mode))
                return buf;
        return SYSTEM_SOCKET;
}

/* The options into c (getopt_long: they may follow the verb too). -1 to go on, else the exit
 * status: --help, --version or a usage error (said). */
static int parse_options(int argc, char **argv, struct ctl *c) {
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' }, { "url", required_argument, NULL, 'u' },
                { "json", no_argument, NULL, 'j' },         { "iterations", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        int o;
        char *end;
        while ((o = getopt_long(argc, argv, "s:u:jn:h", opts, NULL)) != -1) {
                switch (o) {
                case 's':
                        c->socket = optarg;
                        break;
                case 'u':
                        free(c->url);
                        c->url = normalize_url(optarg);
                        break;
                case 'j':
                        c->json = true;
                        break;
                case 'n':
                        errno = 0;
                        c->iterations = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || c->iterations < 1) {
                                fprintf(stderr, "vmstatctl: --iterations '%s': expected a whole number >= 1\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                case 'V':
                        printf("vmstatctl " VMSTATCTL_VERSION "\n");
                        return EXIT_OK;
                default:
                        fprintf(stderr, "Try 'vmstatctl --help'.\n");
                        return EXIT_USAGE;
                }
        }
        return -1;
}

/* The row of args[0] when args and the options fit it, else NULL (said). */
static const struct verb *verb_check(const struct ctl *c, int n_args, char **args) {
        const struct verb *v = verb_find(args[0]);
        const char *name = n_args > 1 ? args[1] : NULL;
        if (!v) {
                fprintf(stderr, "vmstatctl: unknown command '%s' (", args[0]);
                for (size_t i = 0; i < N_VERBS; i++)
                        fprintf(stderr, "%s%s", i ? ", " : "", verbs[i].verb);
                fprintf(stderr, ")\n");
                return NULL;
        }
        if ((unsigned) n_args - 1 < v->min_args || (unsigned) n_args - 1 > v->max_args) {
                if (v->min_args)
                        fprintf(stderr, "vmstatctl: usage: vmstatctl %s%s\n", v->verb, verb_args(v));
                else
                        fprintf(stderr, "vmstatctl: %s: too many arguments\n", v->verb);
                return NULL;
        }
        if (name && !vs_vm_name_valid(name)) {
                fprintf(stderr, "vmstatctl: '%s' is not a VM name (names are [a-z0-9_-]{1,32})\n", name);
                return NULL;
        }
        if (v->needs_control_socket && c->url) {
                fprintf(stderr, "vmstatctl: %s: actions go over the control socket only (drop --url; see --socket)\n",
                        v->verb);
                return NULL;
        }
        if (c->iterations && v->run != verb_top) {
                fprintf(stderr, "vmstatctl: --iterations is for top\n");
                return NULL;
        }
        return v;
}

static int dispatch(struct ctl *c, int n_args, char **args) {
        if (n_args < 1) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const struct verb *v = verb_check(c, n_args, args);
        if (!v)
                return EXIT_USAGE;
        int r = ctl_connect(c);
        if (r)
                return r;
        r = v->run(c, v->verb, n_args > 1 ? args[1] : NULL);
        ctl_disconnect(c);
        fflush(stdout);
        return r;
}

int main(int argc, char **argv) {
        char own_socket[VS_RUNTIME_DIR_MAX + sizeof("/" VS_CONTROL_SOCKET_NAME)];
        struct ctl c = { .socket = default_socket(own_socket, sizeof(own_socket)) };
        int r = parse_options(argc, argv, &c);
        if (r < 0)
                r = dispatch(&c, argc - optind, argv + optind);
        free(c.url);
        return r;
}
