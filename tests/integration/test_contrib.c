/* contrib/ keeps up with the daemon.
 * - promtool checks contrib/prometheus/vmstatd-rules.yml, runs its unit tests
 *   (vmstatd-rules.test.yml) and checks the example configurations of docs/many-hosts.md.
 * - contrib/grafana/vmstatd.json is Grafana dashboard JSON whose panels use only variables it
 *   defines.
 * - No drift: a real vmstatd runs VMs chosen so that every series exists (two spinning VMs and
 *   a builtin:demo pinned to one host CPU: ready and guest steal far above 10 %, exits of several
 *   reasons; exit-handling histograms on; then a VM that triple-faults with restart = on-crash:
 *   crashed, in a restart loop), scraped every second by a real Prometheus that loads the rules,
 *   with a second target on a dead port (up == 0). Every recording rule's expression and output,
 *   every alert's expression with its comparison made `bool`, every dashboard panel query and
 *   variable query (with the variables set to real values) must return data, and the alerts the
 *   setup provokes must be active. Renaming a metric in the daemon, a rule or a panel fails it.
 *
 * The rules are read the way Prometheus reads them: from its /api/v1/rules once it has loaded
 * the file. The YAML itself is only scanned for its `- record: NAME` and `- alert: NAME` list
 * items (one per line, the name unquoted, as contrib writes them) to check that Prometheus
 * loaded every rule written there. The files are found in test_src_dir(). */
#define _GNU_SOURCE
#include "daemon_helper.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RULES "contrib/prometheus/vmstatd-rules.yml"
#define RULES_TEST "contrib/prometheus/vmstatd-rules.test.yml"
#define DASHBOARD "contrib/grafana/vmstatd.json"
#define JOB "vmstatd" /* the job name the rules' VMStatdDown assumes */
#define DRIFT_WAIT_MS 35000 /* complete after about 10 s here */
#define SCRAPE_WAIT_MS 20000

/* ---- promtool ------------------------------------------------------------------------------------ */

/* runs cmd under sh, stderr folded into stdout; the output, the exit status in ret_status */
static char *run(const char *cmd, int *ret_status) {
        char *full;
        ck_assert_int_ge(asprintf(&full, "(%s) 2>&1", cmd), 0);
        FILE *p = popen(full, "r");
        ck_assert_msg(p, "popen %s: %s", cmd, strerror(errno));
        free(full);
        char *out = test_read_all(p);
        int st = pclose(p);
        *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        return out;
}

/* `promtool ARGS` on files of contrib/prometheus (given relative to the source tree) passes */
static char *assert_promtool(const char *args) {
        char *cmd;
        int st;
        ck_assert_int_ge(asprintf(&cmd, "cd '%s' && promtool %s", test_src_dir(), args), 0);
        char *out = run(cmd, &st);
        ck_assert_msg(st == 0, "%s: exit status %d (127: promtool is not installed; scripts/deps.sh installs it):\n%s",
                      cmd, st, out);
        fprintf(stderr, "test_contrib: %s: ok\n", cmd);
        free(cmd);
        return out;
}

/* ---- the rules file, as far as this test reads YAML ---------------------------------------------- */

struct rule_name {
        char kind[8]; /* record, alert */
        char name[128];
};

/* every "- record: NAME" and "- alert: NAME" line, in order; how many in ret_n */
static struct rule_name *yaml_rule_names(const char *yaml, size_t *ret_n) {
        struct rule_name *names = NULL;
        size_t n = 0;
        for (const char *line = yaml; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                const char *p = line;
                while (*p == ' ')
                        p++;
                if (*p++ != '-' || *p != ' ')
                        continue;
                while (*p == ' ')
                        p++;
                const char *kind = strncmp(p, "record:", 7) == 0 ? "record" : strncmp(p, "alert:", 6) == 0 ? "alert" : NULL;
                if (!kind)
                        continue;
                p += strlen(kind) + 1;
                while (*p == ' ')
                        p++;
                size_t len = strcspn(p, " \t\r\n#");
                names = realloc(names, (n + 1) * sizeof(*names));
                ck_assert_ptr_nonnull(names);
                snprintf(names[n].kind, sizeof(names[n].kind), "%s", kind);
                snprintf(names[n].name, sizeof(names[n].name), "%.*s", (int) len, p);
                n++;
        }
        *ret_n = n;
        return names;
}

/* ---- promtool: the rules and the example configs ---------------------------------------------- */

START_TEST(rules_pass_promtool) {
        free(assert_promtool("check rules " RULES));
        char *out = assert_promtool("test rules " RULES_TEST);
        ck_assert_msg(strstr(out, "SUCCESS"), "promtool test rules said no SUCCESS:\n%s", out);
        free(out);

        /* every alert has tests: at least one case where it fires and one where it does not */
        char *path = test_src_path(RULES), *yaml = test_read_file(path), *tpath = test_src_path(RULES_TEST);
        char *tests = test_read_file(tpath);
        size_t n;
        struct rule_name *names = yaml_rule_names(yaml, &n);
        unsigned alerts = 0;
        for (size_t i = 0; i < n; i++) {
                if (strcmp(names[i].kind, "alert") != 0)
                        continue;
                alerts++;
                char needle[160];
                snprintf(needle, sizeof(needle), "alertname: %s\n", names[i].name);
                unsigned cases = 0, firing = 0;
                for (const char *p = tests; (p = strstr(p, needle)); p += strlen(needle)) {
                        cases++;
                        const char *next = strstr(p + strlen(needle), "alertname:"), *empty = strstr(p, "exp_alerts: []");
                        firing += !(empty && (!next || empty < next));
                }
                ck_assert_msg(cases >= 2 && firing >= 1 && firing < cases,
                              "%s: alert %s has %u test cases, %u of them firing: it needs one firing and one not", RULES_TEST,
                              names[i].name, cases, firing);
        }
        ck_assert_msg(alerts >= 7, "%s: %u alerts found, expected at least 7", RULES, alerts);
        free(names);
        free(yaml);
        free(tests);
        free(path);
        free(tpath);
}
END_TEST

START_TEST(example_configs_pass_promtool) {
        /* site.yml and site-remote-write.yml load the rules and read targets.yml (file_sd) */
        char *out = assert_promtool("check config contrib/prometheus/site.yml contrib/prometheus/global.yml "
                                    "contrib/prometheus/site-remote-write.yml");
        ck_assert_msg(strstr(out, "SD file") == NULL && strstr(out, "FAILED") == NULL, "promtool check config:\n%s", out);
        free(out);
}
END_TEST

/* ---- the dashboard ------------------------------------------------------------------------------- */

struct panel_query {
        const char *panel; /* title */
        const char *ref;   /* refId */
        const char *expr;
};

/* every target of every panel, rows' nested panels included */
static void collect_queries(json_t *panels, struct panel_query **q, size_t *n) {
        size_t i, k;
        json_t *p, *t;
        json_array_foreach(panels, i, p) {
                collect_queries(json_object_get(p, "panels"), q, n);
                json_array_foreach(json_object_get(p, "targets"), k, t) {
                        *q = realloc(*q, (*n + 1) * sizeof(**q));
                        ck_assert_ptr_nonnull(*q);
                        const char *title = json_string_value(json_object_get(p, "title"));
                        const char *ref = json_string_value(json_object_get(t, "refId"));
                        (*q)[(*n)++] = (struct panel_query) { title ? title : "(untitled)", ref ? ref : "",
                                                              json_string_value(json_object_get(t, "expr")) };
                }
        }
}

/* a query variable's query: a string, or {"query": string} */
static const char *var_query(json_t *var) {
        json_t *q = json_object_get(var, "query");
        return json_is_string(q) ? json_string_value(q) : json_string_value(json_object_get(q, "query"));
}

/* Grafana's built-in variables, as a dashboard with a 1 s scrape interval would get them */
static const struct {
        const char *name, *value;
} builtins[] = {
        { "__rate_interval", "10s" }, { "__interval", "2s" }, { "__interval_ms", "2000" },
        { "__range", "5m" },          { "__range_s", "300" }, { "__range_ms", "300000" },
};

struct var_value {
        const char *name;
        const char *value; /* as the label has it */
};

/* what Grafana writes for a multi-value variable in a Prometheus query: regex characters escaped */
static void put_regex_escaped(FILE *f, const char *v) {
        for (; *v; v++) {
                if (strchr("\\$^*{}[]'+?.()|", *v))
                        fputs("\\\\", f);
                fputc(*v, f);
        }
}

/* expr with $name, ${name} and [[name]] replaced (malloc'd); NULL, with the name in unknown,
 * when a variable is neither the dashboard's nor a built-in */
static char *expand(const char *expr, const struct var_value *vars, size_t n_vars, char *unknown, size_t unknown_size) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        for (const char *p = expr; *p;) {
                size_t skip = 0, name_len = 0;
                const char *name = NULL;
                if (p[0] == '$' && p[1] == '{') {
                        name = p + 2;
                        name_len = strcspn(name, "}:");
                        skip = 2 + name_len + strcspn(name + name_len, "}") + 1;
                } else if (p[0] == '$') {
                        name = p + 1;
                        while (isalnum((unsigned char) name[name_len]) || name[name_len] == '_')
                                name_len++;
                        skip = 1 + name_len;
                } else if (p[0] == '[' && p[1] == '[') {
                        name = p + 2;
                        name_len = strcspn(name, "]");
                        skip = 2 + name_len + 2;
                }
                if (!name) {
                        fputc(*p++, f);
                        continue;
                }
                bool found = false;
                for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]) && !found; i++)
                        if (strlen(builtins[i].name) == name_len && strncmp(builtins[i].name, name, name_len) == 0) {
                                fputs(builtins[i].value, f);
                                found = true;
                        }
                for (size_t i = 0; i < n_vars && !found; i++)
                        if (strlen(vars[i].name) == name_len && strncmp(vars[i].name, name, name_len) == 0) {
                                put_regex_escaped(f, vars[i].value);
                                found = true;
                        }
                if (!found) {
                        snprintf(unknown, unknown_size, "%.*s", (int) name_len, name);
                        fclose(f);
                        free(out);
                        return NULL;
                }
                p += skip;
        }
        fclose(f);
        return out;
}

static json_t *load_dashboard(void) {
        char *path = test_src_path(DASHBOARD);
        json_error_t err;
        json_t *dash = json_load_file(path, 0, &err);
        ck_assert_msg(dash, "%s:%d:%d: %s", path, err.line, err.column, err.text);
        free(path);
        return dash;
}

static void check_panel(json_t *p, unsigned *ids, size_t *n_ids, struct test_failures *fl) {
        ck_assert_uint_lt(*n_ids, 256);
        const char *title = json_string_value(json_object_get(p, "title"));
        json_int_t id = json_integer_value(json_object_get(p, "id"));
        for (size_t i = 0; i < *n_ids; i++)
                if (ids[i] == id)
                        test_note_fail(fl, "panel '%s': id %lld used twice", title, (long long) id);
        ids[(*n_ids)++] = (unsigned) id;
        json_t *pos = json_object_get(p, "gridPos");
        json_int_t x = json_integer_value(json_object_get(pos, "x")), w = json_integer_value(json_object_get(pos, "w"));
        if (!title || !json_is_string(json_object_get(p, "type")) || id <= 0)
                test_note_fail(fl, "a panel lacks a title, a type or a positive id");
        if (w <= 0 || x < 0 || x + w > 24 || json_integer_value(json_object_get(pos, "h")) <= 0)
                test_note_fail(fl, "panel '%s': gridPos outside the 24 columns", title);
        if (strcmp(json_string_value(json_object_get(p, "type")) ?: "", "row") == 0)
                return;
        const char *ds = json_string_value(json_object_get(json_object_get(p, "datasource"), "uid"));
        if (!ds || strcmp(ds, "${datasource}") != 0)
                test_note_fail(fl, "panel '%s': datasource uid '%s', expected ${datasource}", title, ds ? ds : "(none)");
        json_t *targets = json_object_get(p, "targets"), *t;
        size_t i;
        if (json_array_size(targets) == 0)
                test_note_fail(fl, "panel '%s' has no query", title);
        json_array_foreach(targets, i, t) {
                const char *expr = json_string_value(json_object_get(t, "expr"));
                const char *ref = json_string_value(json_object_get(t, "refId"));
                if (!expr || !*expr || !ref || !*ref)
                        test_note_fail(fl, "panel '%s': target %zu lacks an expr or a refId", title, i);
                for (size_t k = 0; k < i; k++)
                        if (ref && strcmp(ref, json_string_value(json_object_get(json_array_get(targets, k), "refId")) ?: "") == 0)
                                test_note_fail(fl, "panel '%s': refId %s twice", title, ref);
        }
}

/* valid Grafana JSON: a schema version, unique ids, panels inside the grid on ${datasource},
 * every variable a panel or a variable query uses defined */
START_TEST(dashboard_is_grafana_json) {
        json_t *dash = load_dashboard(), *vars = json_object_get(json_object_get(dash, "templating"), "list"), *v, *p;
        struct test_failures fl;
        test_failures_init(&fl);
        json_int_t schema = json_integer_value(json_object_get(dash, "schemaVersion"));
        if (schema < 36 || schema > 41)
                test_note_fail(&fl, "schemaVersion %lld, expected 36..41 (Grafana 9 to 11)", (long long) schema);
        if (!json_is_string(json_object_get(dash, "uid")) || !json_is_string(json_object_get(dash, "title")))
                test_note_fail(&fl, "no uid or title");

        const char *want[] = { "datasource", "instance", "vm", "vcpu" };
        struct var_value values[8];
        size_t n_values = 0, i;
        for (size_t k = 0; k < 4; k++) {
                bool found = false;
                json_array_foreach(vars, i, v) found |= strcmp(json_string_value(json_object_get(v, "name")) ?: "", want[k]) == 0;
                if (!found)
                        test_note_fail(&fl, "no template variable %s", want[k]);
        }
        json_array_foreach(vars, i, v) {
                const char *name = json_string_value(json_object_get(v, "name")), *type = json_string_value(json_object_get(v, "type"));
                if (name && n_values < 8)
                        values[n_values++] = (struct var_value) { name, "x" };
                if (type && strcmp(type, "query") == 0 && !(var_query(v) && strncmp(var_query(v), "label_values(", 13) == 0))
                        test_note_fail(&fl, "variable %s: query '%s' is not label_values(...)", name, var_query(v) ?: "");
        }

        unsigned ids[256];
        size_t n_ids = 0;
        json_array_foreach(json_object_get(dash, "panels"), i, p) {
                size_t k;
                json_t *inner;
                check_panel(p, ids, &n_ids, &fl);
                json_array_foreach(json_object_get(p, "panels"), k, inner) check_panel(inner, ids, &n_ids, &fl);
        }
        if (n_ids < 10)
                test_note_fail(&fl, "only %zu panels", n_ids);

        struct panel_query *q = NULL;
        size_t n = 0;
        collect_queries(json_object_get(dash, "panels"), &q, &n);
        for (size_t k = 0; k < n; k++) {
                char unknown[64];
                char *e = q[k].expr ? expand(q[k].expr, values, n_values, unknown, sizeof(unknown)) : NULL;
                if (q[k].expr && !e)
                        test_note_fail(&fl, "panel '%s' %s: variable $%s is not defined", q[k].panel, q[k].ref, unknown);
                free(e);
        }
        json_array_foreach(vars, i, v) {
                char unknown[64];
                char *e = var_query(v) ? expand(var_query(v), values, n_values, unknown, sizeof(unknown)) : strdup("");
                if (!e)
                        test_note_fail(&fl, "variable %s: $%s is not defined", json_string_value(json_object_get(v, "name")), unknown);
                free(e);
        }
        fprintf(stderr, "test_contrib: dashboard: %zu panels, %zu queries, %zu variables\n", n_ids, n, json_array_size(vars));
        free(q);
        char *text = test_failures_text(&fl);
        ck_assert_msg(fl.n == 0, "%s: %u problems:\n%s", DASHBOARD, fl.n, text);
        free(text);
        json_decref(dash);
}
END_TEST

/* ---- no drift: every query against a real vmstatd and Prometheus --------------------------------- */

/* expr with its one top-level comparison made `bool` (malloc'd), or NULL when it has not exactly
 * one: outside parentheses, braces, brackets and strings */
static char *bool_form(const char *expr) {
        int depth = 0, found = 0;
        size_t at = 0;
        char quote = 0;
        for (size_t i = 0; expr[i]; i++) {
                char c = expr[i];
                if (quote) {
                        if (c == '\\' && expr[i + 1])
                                i++;
                        else if (c == quote)
                                quote = 0;
                        continue;
                }
                if (c == '"' || c == '\'' || c == '`')
                        quote = c;
                else if (c == '(' || c == '{' || c == '[')
                        depth++;
                else if (c == ')' || c == '}' || c == ']')
                        depth--;
                else if (depth == 0 && (c == '>' || c == '<' || ((c == '=' || c == '!') && expr[i + 1] == '='))) {
                        size_t len = expr[i + 1] == '=' ? 2 : 1;
                        found++;
                        at = i + len;
                        i += len - 1;
                }
        }
        if (found != 1)
                return NULL;
        char *out;
        ck_assert_int_ge(asprintf(&out, "%.*s bool%s", (int) at, expr, expr + at), 0);
        return out;
}

struct drift {
        struct test_prom *prom;
        struct test_failures *fl;
        char dead[32];        /* the dead target's instance label */
        unsigned queries;     /* expressions executed this round */
        unsigned recording, alerting, panels, variables;
};

/* runs expr; its result (NULL after noting a failure when it has no series) */
static json_t *must_return(struct drift *dr, const char *what, const char *expr) {
        char *error = NULL;
        json_t *res = test_prom_query_error(dr->prom, expr, &error);
        dr->queries++;
        if (!res)
                test_note_fail(dr->fl, "%s: query failed (%s): %s", what, error, expr);
        else if (json_array_size(res) == 0)
                test_note_fail(dr->fl, "%s: no data: %s", what, expr);
        free(error);
        if (res && json_array_size(res) == 0) {
                json_decref(res);
                res = NULL;
        }
        return res;
}

static bool has_series_with(json_t *res, const char *label, const char *const *values) {
        size_t i;
        json_t *s;
        json_array_foreach(res, i, s) {
                for (size_t k = 0; values[k]; k++)
                        if (strcmp(test_prom_label(s, label), values[k]) == 0)
                                return true;
        }
        return false;
}

/* The alerts the setup provokes, and a series each must hold: the label and its possible values. */
static const struct {
        const char *alert, *label;
        const char *values[3];
} provoked[] = {
        { "VMStatdVcpuReadyHigh", "vm", { "spin1", "spin2", NULL } },
        { "VMStatdGuestStealHigh", "vm", { "spin1", "spin2", NULL } },
        { "VMStatdVMCrashed", "vm", { "crashy", NULL } },
        { "VMStatdVMRestartLoop", "vm", { "crashy", NULL } },
        { "VMStatdDown", "instance", { NULL } }, /* the dead target, filled in at run time */
};
#define N_PROVOKED (sizeof(provoked) / sizeof(provoked[0]))

static void check_alert(struct drift *dr, json_t *rule, bool *seen) {
        const char *name = json_string_value(json_object_get(rule, "name"));
        const char *query = json_string_value(json_object_get(rule, "query"));
        const char *state = json_string_value(json_object_get(rule, "state"));
        char what[200];
        snprintf(what, sizeof(what), "alert %s (bool)", name);
        char *b = bool_form(query);
        if (!b) {
                test_note_fail(dr->fl, "alert %s: not exactly one top-level comparison: %s", name, query);
                return;
        }
        json_decref(must_return(dr, what, b));
        free(b);
        dr->alerting++;
        for (size_t k = 0; k < N_PROVOKED; k++) {
                if (strcmp(provoked[k].alert, name) != 0)
                        continue;
                seen[k] = true;
                snprintf(what, sizeof(what), "alert %s, which the setup provokes", name);
                json_t *res = must_return(dr, what, query);
                const char *dead[] = { dr->dead, NULL };
                const char *const *values = provoked[k].values[0] ? provoked[k].values : dead;
                if (res && !has_series_with(res, provoked[k].label, values)) {
                        char *got = json_dumps(res, JSON_COMPACT);
                        test_note_fail(dr->fl, "alert %s: no series with %s=\"%s\"%s: %s", name, provoked[k].label, values[0],
                                       values[1] ? " (or the other)" : "", got);
                        free(got);
                } else if (res && (!state || strcmp(state, "inactive") == 0))
                        test_note_fail(dr->fl, "alert %s: its expression holds but Prometheus has it %s", name,
                                       state ? state : "(no state)");
                json_decref(res);
        }
}

static void check_recording(struct drift *dr, json_t *rule) {
        const char *name = json_string_value(json_object_get(rule, "name"));
        const char *query = json_string_value(json_object_get(rule, "query"));
        char what[200], *selector = NULL;
        size_t len = 0;
        snprintf(what, sizeof(what), "recording rule %s", name);
        json_decref(must_return(dr, what, query));
        /* its output, with the labels the rule adds (two rules may share a name) */
        FILE *f = open_memstream(&selector, &len);
        fprintf(f, "%s{", name);
        const char *k;
        json_t *v;
        int i = 0;
        json_object_foreach(json_object_get(rule, "labels"), k, v) {
                fprintf(f, "%s%s=\"%s\"", i++ ? "," : "", k, json_string_value(v));
        }
        fputc('}', f);
        fclose(f);
        snprintf(what, sizeof(what), "output of recording rule %s", name);
        json_decref(must_return(dr, what, selector));
        free(selector);
        dr->recording++;
}

/* Every rule Prometheus loaded: the names the YAML lists, each evaluated without error. */
static void check_rules(struct drift *dr, const struct rule_name *names, size_t n_names) {
        json_t *data = test_prom_get(dr->prom, "/api/v1/rules"), *g, *r;
        size_t i, k, loaded = 0;
        bool seen[N_PROVOKED] = { false };
        dr->queries++;
        json_array_foreach(json_object_get(data, "groups"), i, g) json_array_foreach(json_object_get(g, "rules"), k, r) {
                const char *name = json_string_value(json_object_get(r, "name")) ?: "";
                const char *type = json_string_value(json_object_get(r, "type")) ?: "";
                const char *health = json_string_value(json_object_get(r, "health")) ?: "";
                bool listed = false;
                for (size_t n = 0; n < n_names; n++)
                        listed |= strcmp(names[n].name, name) == 0 &&
                                  strcmp(names[n].kind, strcmp(type, "alerting") == 0 ? "alert" : "record") == 0;
                if (!listed)
                        test_note_fail(dr->fl, "Prometheus loaded %s rule %s, which %s does not list", type, name, RULES);
                if (strcmp(health, "ok") != 0)
                        test_note_fail(dr->fl, "rule %s: health '%s' (%s)", name, health,
                                       json_string_value(json_object_get(r, "lastError")) ?: "");
                if (strcmp(type, "alerting") == 0)
                        check_alert(dr, r, seen);
                else
                        check_recording(dr, r);
                loaded++;
        }
        if (loaded != n_names)
                test_note_fail(dr->fl, "Prometheus loaded %zu rules, %s lists %zu", loaded, RULES, n_names);
        for (size_t p = 0; p < N_PROVOKED; p++)
                if (!seen[p])
                        test_note_fail(dr->fl, "the setup provokes alert %s, but no rule has that name", provoked[p].alert);
        json_decref(data);
}

/* label_values(expr, label) or label_values(label): every value has data, and the value chosen
 * for the variable is among them */
static void check_variable(struct drift *dr, const char *name, const char *query, const struct var_value *vars,
                           size_t n_vars) {
        char unknown[64], what[200], label[64];
        char *e = expand(query, vars, n_vars, unknown, sizeof(unknown));
        const char *chosen = NULL;
        for (size_t i = 0; i < n_vars; i++)
                if (strcmp(vars[i].name, name) == 0)
                        chosen = vars[i].value;
        snprintf(what, sizeof(what), "variable %s", name);
        dr->variables++;
        if (!e || strncmp(e, "label_values(", 13) != 0 || e[strlen(e) - 1] != ')') {
                test_note_fail(dr->fl, "%s: '%s' is not label_values(...) of known variables", what, query);
                free(e);
                return;
        }
        char *args = e + 13, *comma = NULL;
        e[strlen(e) - 1] = 0;
        for (int depth = 0, quote = 0, i = 0; args[i]; i++) { /* the last top-level comma */
                if (quote && args[i] == '\\' && args[i + 1])
                        i++;
                else if (args[i] == '"')
                        quote = !quote;
                else if (!quote && strchr("({[", args[i]))
                        depth++;
                else if (!quote && strchr(")}]", args[i]))
                        depth--;
                else if (!quote && depth == 0 && args[i] == ',')
                        comma = args + i;
        }
        const char *l = comma ? comma + 1 : args;
        while (*l == ' ')
                l++;
        snprintf(label, sizeof(label), "%.*s", (int) strcspn(l, " "), l);
        if (!comma) { /* label_values(label): every series' values */
                char path[128];
                snprintf(path, sizeof(path), "/api/v1/label/%s/values", label);
                json_t *values = test_prom_get(dr->prom, path);
                dr->queries++;
                if (json_array_size(values) == 0)
                        test_note_fail(dr->fl, "%s: label %s has no values", what, label);
                json_decref(values);
        } else {
                *comma = 0;
                json_t *res = must_return(dr, what, args);
                const char *want[] = { chosen, NULL };
                if (res && chosen && !has_series_with(res, label, want))
                        test_note_fail(dr->fl, "%s: %s has no series with %s=\"%s\"", what, args, label, chosen);
                json_decref(res);
        }
        free(e);
}

static void check_dashboard(struct drift *dr, json_t *dash, const struct var_value *vars, size_t n_vars) {
        struct panel_query *q = NULL;
        size_t n = 0, i;
        json_t *v;
        json_array_foreach(json_object_get(json_object_get(dash, "templating"), "list"), i, v) {
                const char *type = json_string_value(json_object_get(v, "type"));
                if (type && strcmp(type, "query") == 0)
                        check_variable(dr, json_string_value(json_object_get(v, "name")), var_query(v) ?: "", vars, n_vars);
        }
        collect_queries(json_object_get(dash, "panels"), &q, &n);
        for (i = 0; i < n; i++) {
                char unknown[64], what[200];
                char *e = q[i].expr ? expand(q[i].expr, vars, n_vars, unknown, sizeof(unknown)) : NULL;
                snprintf(what, sizeof(what), "panel '%s' query %s", q[i].panel, q[i].ref);
                if (!e)
                        test_note_fail(dr->fl, "%s: no expr, or undefined variable $%s", what, q[i].expr ? unknown : "");
                else
                        json_decref(must_return(dr, what, e));
                free(e);
                dr->panels++;
        }
        free(q);
}

static char *prometheus_config(int port, const char *dead) {
        char *rules = test_src_path(RULES), *config;
        ck_assert_int_ge(asprintf(&config,
                                  "global:\n"
                                  "  scrape_interval: 1s\n"
                                  "  scrape_timeout: 1s\n"
                                  "  evaluation_interval: 1s\n"
                                  "rule_files:\n"
                                  "  - %s\n"
                                  "scrape_configs:\n"
                                  "  - job_name: " JOB "\n"
                                  "    static_configs:\n"
                                  "      - targets: ['127.0.0.1:%d', '%s']\n",
                                  rules, port, dead),
                         0);
        free(rules);
        return config;
}

START_TEST(no_drift_between_daemon_rules_and_dashboard) {
        uint64_t t0 = test_now_ms();
        char *dir = test_config_dir(), vm[160];
        int cpu = test_last_cpu(); /* where every busy vCPU is pinned */
        snprintf(vm, sizeof(vm), "[vm]\nmemory = 16M\nguest = builtin:spin\ncpus = %d\n", cpu);
        test_write_vm(dir, "spin1", vm);
        test_write_vm(dir, "spin2", vm);
        snprintf(vm, sizeof(vm), "[vm]\nvcpus = 2\nmemory = 16M\nguest = builtin:demo\ncpus = %d\n", cpu);
        test_write_vm(dir, "demo", vm);
        char sock[256]; /* not /run/vmstatd's, which another daemon may hold */
        snprintf(sock, sizeof(sock), "%s/control.sock", dir);
        const char *args[] = { "--config", dir, "--control-socket", sock, "--collector.histograms", NULL };
        struct test_daemon d;
        if (!test_daemon_start(&d, args))
                return;

        char *path = test_src_path(RULES), *yaml = test_read_file(path);
        size_t n_names;
        struct rule_name *names = yaml_rule_names(yaml, &n_names);
        json_t *dash = load_dashboard();
        struct test_prom p;
        struct drift dr = { .prom = &p };
        char instance[32], q[128];
        snprintf(instance, sizeof(instance), "127.0.0.1:%d", d.port);
        snprintf(dr.dead, sizeof(dr.dead), "127.0.0.1:%d", test_free_port()); /* nothing listens there */
        char *config = prometheus_config(d.port, dr.dead);
        test_prom_init(&p);
        test_prom_start(&p, config);

        /* Prometheus sees the crash loop from its start: the crashing VM comes with a reload */
        snprintf(q, sizeof(q), "up{job=\"" JOB "\",instance=\"%s\"}", instance);
        for (uint64_t t = test_now_ms(); test_prom_scalar(&p, q) != 1; test_sleep_ms(200))
                ck_assert_msg(test_now_ms() - t < SCRAPE_WAIT_MS && test_prom_alive(&p),
                              "Prometheus did not scrape vmstatd within %d ms:\n%s", SCRAPE_WAIT_MS, test_prom_log_tail(&p));
        test_write_vm(dir, "crashy", "[vm]\nmemory = 8M\nguest = builtin:triplefault\nrestart = on-crash\n");
        ck_assert_msg(test_daemon_reload(&d), "the reload that adds VM crashy was rejected");
        uint64_t t_reload = test_now_ms();

        /* real values for the dashboard's variables: a host, the VM with every kind of series, a vCPU */
        const struct var_value vars[] = { { "instance", instance }, { "vm", "demo" }, { "vcpu", "0" } };
        struct test_failures fl;
        char *text = NULL;
        unsigned rounds = 0;
        for (uint64_t deadline = test_now_ms() + DRIFT_WAIT_MS;; test_sleep_ms(1000)) {
                free(text);
                test_failures_init(&fl);
                dr.fl = &fl;
                dr.queries = dr.recording = dr.alerting = dr.panels = dr.variables = 0;
                check_rules(&dr, names, n_names);
                check_dashboard(&dr, dash, vars, sizeof(vars) / sizeof(vars[0]));
                if (!test_prom_alive(&p))
                        test_note_fail(&fl, "prometheus exited");
                text = test_failures_text(&fl);
                rounds++;
                if (fl.n == 0 || test_now_ms() > deadline || !test_prom_alive(&p))
                        break;
        }
        fprintf(stderr,
                "test_contrib: no drift%s: %u recording rules (expression and output), %u alerts (bool, and 5 provoked "
                "ones as written), %u panel queries, %u variable queries: %u queries in the last of %u rounds; data "
                "checked until %llu ms after the reload, %llu ms in all\n",
                fl.n ? " FAILED" : "", dr.recording, dr.alerting, dr.panels, dr.variables, dr.queries, rounds,
                (unsigned long long) (test_now_ms() - t_reload), (unsigned long long) (test_now_ms() - t0));

        char *log = fl.n ? test_prom_log_tail(&p) : NULL;
        test_prom_stop(&p);
        test_daemon_stop(&d);
        if (fl.n) /* all of it here: Check carries at most a few KiB of message */
                fprintf(stderr, "test_contrib: %u failures:\n%s--- prometheus log (tail):\n%s\n", fl.n, text, log);
        ck_assert_msg(fl.n == 0, "%u failures after %u rounds over %d ms (all of them and Prometheus's log on stderr):\n%.3000s",
                      fl.n, rounds, DRIFT_WAIT_MS, text);
        ck_assert_msg(dr.recording + dr.alerting == n_names && dr.alerting >= 7 && dr.panels >= 20,
                      "only %u recording rules, %u alerts and %u panel queries checked", dr.recording, dr.alerting, dr.panels);
        free(log);
        free(text);
        free(config);
        free(names);
        free(yaml);
        free(path);
        free(dir);
        json_decref(dash);
}
END_TEST

int main(void) {
        Suite *s = suite_create("contrib");
        TCase *tc = tcase_create("promtool");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, rules_pass_promtool);
        tcase_add_test(tc, example_configs_pass_promtool);
        suite_add_tcase(s, tc);
        tc = tcase_create("dashboard");
        tcase_add_test(tc, dashboard_is_grafana_json);
        suite_add_tcase(s, tc);
        tc = tcase_create("drift");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, no_drift_between_daemon_rules_and_dashboard);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
