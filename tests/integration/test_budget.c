/* The series budget: docs/METRICS.md's table of series per vCPU, per VM and per host against
 * /metrics of a real daemon, and the KVM stats filter (--collector.kvm.stats-include/exclude,
 * kvm_stats_include/exclude) on /metrics and in the JSON alike. What the filter should let
 * through is worked out here from the unfiltered daemon's JSON (every stat the kernel
 * reports) with regexes of the test's own. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_helper.h"

#define VM "b13"

/* ---- docs/METRICS.md ----------------------------------------------------------------------------- */

enum { OWN, KVM_DEFAULT, KVM_TRIMMED, TOTAL_DEFAULT, TOTAL_TRIMMED, N_COLS };
enum { VCPU, VMLEVEL, HOST, N_SCOPES };
static const char *const scope_rows[N_SCOPES] = { "| per vCPU |", "| per VM, besides its vCPUs |",
                                                   "| per host, besides its VMs |" };

struct budget {
        long n[N_SCOPES][N_COLS];
        char trimmed[1024]; /* the documented --collector.kvm.stats-include regex */
};

static void read_budget(struct budget *b) {
        char path[512], line[2048];
        const char *self = __FILE__, *tail = "tests/integration/test_budget.c";
        snprintf(path, sizeof(path), "%.*sdocs/METRICS.md", (int) (strlen(self) - strlen(tail)), self);
        FILE *f = fopen(path, "re");
        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        *b = (struct budget) { 0 };
        unsigned rows = 0;
        while (fgets(line, sizeof(line), f)) {
                const char *opt = "--collector.kvm.stats-include='";
                if (strncmp(line, opt, strlen(opt)) == 0) {
                        snprintf(b->trimmed, sizeof(b->trimmed), "%.*s", (int) strcspn(line + strlen(opt), "'"),
                                 line + strlen(opt));
                        continue;
                }
                for (int s = 0; s < N_SCOPES; s++) {
                        if (strncmp(line, scope_rows[s], strlen(scope_rows[s])) != 0)
                                continue;
                        long *n = b->n[s];
                        ck_assert_msg(sscanf(line + strlen(scope_rows[s]), " %ld | %ld | %ld | %ld | %ld |", &n[0], &n[1],
                                             &n[2], &n[3], &n[4]) == N_COLS,
                                      "%s: a budget row that is not five numbers: %s", path, line);
                        rows |= 1u << s;
                }
        }
        fclose(f);
        ck_assert_msg(rows == (1u << N_SCOPES) - 1, "%s: the series budget table lost a row", path);
        ck_assert_msg(b->trimmed[0], "%s: no documented --collector.kvm.stats-include='...' line", path);
        for (int s = 0; s < N_SCOPES; s++) /* the table's own arithmetic */
                ck_assert_msg(b->n[s][OWN] + b->n[s][KVM_DEFAULT] == b->n[s][TOTAL_DEFAULT] &&
                                      b->n[s][OWN] + b->n[s][KVM_TRIMMED] == b->n[s][TOTAL_TRIMMED],
                              "%s: row '%s' does not add up", path, scope_rows[s]);
}

/* ---- counting what a daemon serves --------------------------------------------------------------- */

struct counts {
        long n[N_SCOPES][2]; /* [scope][0 = own, 1 = KVM] */
};

/* Series of VM b13's vCPU 0, of b13 itself, and of the host, in the text format. */
static struct counts count_series(const char *body) {
        struct counts c = { 0 };
        for (const char *p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                if (*p == '#' || *p == '\n')
                        continue;
                size_t len = strcspn(p, "\n");
                char line[1024];
                snprintf(line, sizeof(line), "%.*s", (int) len, p);
                bool kvm = strncmp(line, "vmstatd_kvm_", 12) == 0;
                if (strstr(line, "vm=\"" VM "\"") && strstr(line, "vcpu=\"0\""))
                        c.n[VCPU][kvm]++;
                else if (strstr(line, "vm=\"" VM "\"") && !strstr(line, "vcpu=\""))
                        c.n[VMLEVEL][kvm]++;
                else if (!strstr(line, "vm=\""))
                        c.n[HOST][kvm]++;
        }
        return c;
}

/* The series of the first sample that is whole: it has an interval (not the first sample),
 * guest steal for both vCPUs, and the same counts as the sample before it (a loaded or
 * sanitized daemon's early samples can lack a collector's series for a vCPU). */
static struct counts counts_settled(const struct test_daemon *d) {
        struct counts last = { 0 };
        char last_time[64] = "";
        for (int i = 0; i < 200; i++) {
                struct test_response r = test_http(d, "GET", "/metrics?format=text", NULL);
                ck_assert_int_eq(r.status, 200);
                const char *t = strstr(r.body, "\nvmstatd_sample_timestamp_seconds ");
                char now[64] = "";
                if (t)
                        snprintf(now, sizeof(now), "%.*s", (int) strcspn(t + 1, "\n"), t + 1);
                bool whole = strstr(r.body, "\nvmstatd_sample_interval_seconds ") &&
                             strstr(r.body, "\nvmstatd_vcpu_guest_steal_seconds_total{vm=\"" VM "\",vcpu=\"0\"}") &&
                             strstr(r.body, "\nvmstatd_vcpu_guest_steal_seconds_total{vm=\"" VM "\",vcpu=\"1\"}");
                struct counts c = count_series(r.body);
                test_response_free(&r);
                if (whole && last_time[0] && strcmp(now, last_time) != 0 && memcmp(&c, &last, sizeof(c)) == 0)
                        return c;
                if (strcmp(now, last_time) != 0) {
                        last = whole ? c : (struct counts) { 0 };
                        snprintf(last_time, sizeof(last_time), "%s", whole ? now : "");
                }
                test_sleep_ms(100);
        }
        ck_abort_msg("no two whole samples in a row with the same series within 20 s");
        return (struct counts) { 0 };
}

/* the kvm object of b13 (vcpu < 0) or of its vCPU, from /vms/b13 */
static json_t *kvm_object(json_t *vm, int vcpu) {
        json_t *o = vcpu < 0 ? json_object_get(vm, "kvm") : json_object_get(json_array_get(json_object_get(vm, "vcpus"),
                                                                                             (size_t) vcpu), "kvm");
        ck_assert_msg(json_is_object(o), "/vms/" VM ": no kvm object");
        return o;
}

static bool full_match(const char *re_text, const char *name) {
        char anchored[1100];
        regex_t re;
        snprintf(anchored, sizeof(anchored), "^(%s)$", re_text);
        ck_assert_int_eq(regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB), 0);
        bool m = regexec(&re, name, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
}

/* Of the kernel's stats in all (the unfiltered JSON object), those the filter keeps must be
 * exactly the keys of got; returns how many of them /metrics shows (scalars: arrays are not
 * exported, histograms only with --collector.histograms). */
static long expect_filtered(json_t *all, json_t *got, const char *include, const char *exclude, const char *what) {
        const char *name;
        json_t *v;
        long scalars = 0;
        json_object_foreach(all, name, v) {
                bool keep = (!include || full_match(include, name)) && !(exclude && full_match(exclude, name));
                ck_assert_msg(keep == (json_object_get(got, name) != NULL), "%s: %s is %s in the JSON", what, name,
                              keep ? "missing" : "present");
                scalars += keep && json_is_number(v);
        }
        ck_assert_uint_le(json_object_size(got), json_object_size(all));
        return scalars;
}

static struct counts run_daemon(const char *const *args, json_t **ret_vm) {
        struct test_daemon d;
        ck_assert(test_daemon_start(&d, args));
        struct counts c = counts_settled(&d);
        *ret_vm = test_vm_json(&d, VM);
        ck_assert_ptr_nonnull(*ret_vm);
        test_daemon_stop(&d);
        return c;
}

/* The embedded b13 (2 vCPUs, builtin:demo) with the defaults, the documented trimmed set,
 * and an exclude from vmstatd.conf. */
START_TEST(budget_matches_the_docs_and_the_filter_trims) {
        const char *why = test_daemon_unavailable();
        if (why)
                TEST_SKIP("%s", why);
        struct budget b;
        read_budget(&b);

        json_t *full;
        const char *const defaults[] = { "--no-config", NULL };
        struct counts def = run_daemon(defaults, &full);
        fprintf(stderr, "test_budget: default: per vCPU %ld own + %ld KVM, per VM %ld + %ld, host %ld\n",
                def.n[VCPU][0], def.n[VCPU][1], def.n[VMLEVEL][0], def.n[VMLEVEL][1], def.n[HOST][0]);
        for (int s = 0; s < N_SCOPES; s++)
                ck_assert_msg(def.n[s][0] == b.n[s][OWN],
                              "docs/METRICS.md says %ld series of vmstatd's own %s, /metrics has %ld: update the table",
                              b.n[s][OWN], scope_rows[s], def.n[s][0]);
        ck_assert_int_eq(def.n[HOST][1], 0);
        /* every scalar stat the kernel reports is exported by default */
        long vcpu_kvm = expect_filtered(kvm_object(full, 0), kvm_object(full, 0), NULL, NULL, "default vCPU");
        long vm_kvm = expect_filtered(kvm_object(full, -1), kvm_object(full, -1), NULL, NULL, "default VM");
        ck_assert_int_eq(def.n[VCPU][1], vcpu_kvm);
        ck_assert_int_eq(def.n[VMLEVEL][1], vm_kvm);
        bool doc_kernel = vcpu_kvm == b.n[VCPU][KVM_DEFAULT] && vm_kvm == b.n[VMLEVEL][KVM_DEFAULT];
        if (!doc_kernel)
                fprintf(stderr, "test_budget: this kernel reports %ld vCPU and %ld VM stats, the table's %ld and %ld: "
                                "its KVM columns are not checked here\n", vcpu_kvm, vm_kvm, b.n[VCPU][KVM_DEFAULT],
                        b.n[VMLEVEL][KVM_DEFAULT]);

        /* the documented trimmed set, as one --name=REGEX argument */
        char arg[1100];
        snprintf(arg, sizeof(arg), "--collector.kvm.stats-include=%s", b.trimmed);
        const char *const trimmed_args[] = { "--no-config", arg, NULL };
        json_t *trim;
        struct counts tr = run_daemon(trimmed_args, &trim);
        long want_vcpu = expect_filtered(kvm_object(full, 0), kvm_object(trim, 0), b.trimmed, NULL, "trimmed vCPU 0");
        expect_filtered(kvm_object(full, 0), kvm_object(trim, 1), b.trimmed, NULL, "trimmed vCPU 1");
        long want_vm = expect_filtered(kvm_object(full, -1), kvm_object(trim, -1), b.trimmed, NULL, "trimmed VM");
        fprintf(stderr, "test_budget: trimmed: per vCPU %ld own + %ld KVM, per VM %ld + %ld\n", tr.n[VCPU][0],
                tr.n[VCPU][1], tr.n[VMLEVEL][0], tr.n[VMLEVEL][1]);
        ck_assert_int_eq(tr.n[VCPU][1], want_vcpu);
        ck_assert_int_eq(tr.n[VMLEVEL][1], want_vm);
        ck_assert_msg(want_vcpu > 0 && want_vcpu < vcpu_kvm, "the trimmed set kept %ld of %ld", want_vcpu, vcpu_kvm);
        for (int s = 0; s < N_SCOPES; s++)
                ck_assert_int_eq(tr.n[s][0], def.n[s][0]); /* our own series do not move */
        if (doc_kernel) {
                ck_assert_int_eq(want_vcpu, b.n[VCPU][KVM_TRIMMED]);
                ck_assert_int_eq(want_vm, b.n[VMLEVEL][KVM_TRIMMED]);
        }

        /* from vmstatd.conf, exclude only: no halt_* and no pages_*, the rest kept */
        char *dir = test_config_dir();
        test_write_daemon_conf(dir, "[daemon]\nkvm_stats_exclude = halt_.*|pages_.*\n");
        test_write_vm(dir, VM, "[vm]\nvcpus = 2\nguest = builtin:demo\n");
        const char *const conf_args[] = { "--config", dir, NULL };
        json_t *excl;
        struct counts ex = run_daemon(conf_args, &excl);
        long ex_vcpu = expect_filtered(kvm_object(full, 0), kvm_object(excl, 0), NULL, "halt_.*|pages_.*", "excluded vCPU");
        long ex_vm = expect_filtered(kvm_object(full, -1), kvm_object(excl, -1), NULL, "halt_.*|pages_.*", "excluded VM");
        ck_assert_int_eq(ex.n[VCPU][1], ex_vcpu);
        ck_assert_int_eq(ex.n[VMLEVEL][1], ex_vm);
        ck_assert_msg(ex_vcpu < vcpu_kvm && ex_vm < vm_kvm, "nothing excluded: %ld/%ld, %ld/%ld", ex_vcpu, vcpu_kvm,
                      ex_vm, vm_kvm);
        free(dir);
        json_decref(full);
        json_decref(trim);
        json_decref(excl);
}
END_TEST

int main(void) {
        Suite *s = suite_create("budget");
        TCase *tc = tcase_create("budget");
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, budget_matches_the_docs_and_the_filter_trims);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
