/* vmstatd/config_keys.c's tables, walked: every [vm] key marked restarts_vm restarts its VM on
 * reload when changed (and console_log_max does not), every [daemon] key marked restarts_daemon
 * waits for the next start (and log_level and the console logs' keys do not), and every key is documented in
 * vmstatd.conf(5) and shown in the shipped examples. A key added to a table is checked here
 * without this file knowing its name, except for the one test value it needs below. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_table.h"
#include "tests/suite.h"

struct test_value {
        const char *key, *value;
};

/* A valid value for each [vm] key that differs from what "guest = builtin:demo" alone gives. */
static const struct test_value vm_values[] = {
        { "vcpus", "3" },
        { "memory", "128M" },
        { "guest", "builtin:pio count=3" },
        { "kernel", "/boot/vmlinuz" },
        { "initrd", "/boot/initrd.img" },
        { "cmdline", "quiet" },
        { "cpuid_hide", "cx16" },
        { "autostart", "no" },
        { "restart", "on-crash" },
        { "cpus", "0" },
        { "console_log", "/var/log/vmstatd/b13.log" },
        { "console_log_max", "1M" },
};

#define VALUE_OF(table, key) value_of(table, sizeof(table) / sizeof(table[0]), key)

/* key's value in the n rows of t, NULL when it has none */
static const char *value_of(const struct test_value *t, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(t[i].key, key) == 0)
                        return t[i].value;
        return NULL;
}

/* Row k of f's section set to v in f->conf, which was a copy of before: the field now differs. */
static void set_row(struct conf_file *f, const struct conf_key *k, const char *v, const void *before) {
        ck_assert_msg(k->type->parse(f, k, v) == 0, "[%s] %s = %s: %s", f->section, k->key, v, f->err);
        ck_assert_msg(k->type->equal, "[%s] %s: its type cannot compare", f->section, k->key);
        ck_assert_msg(!k->type->equal(k, before, f->conf), "[%s] %s = %s left the field as it was", f->section, k->key, v);
}

START_TEST(restarts_vm_rows_make_vms_unequal) {
        static const char base[] = "[vm]\nguest = builtin:demo\n";
        char err[VS_CONF_ERR_LEN] = "";
        struct vs_conf daemon;
        struct vs_vm_conf a, b;
        size_t restarting = 0;
        vs_conf_default(&daemon);
        ck_assert_msg(vs_conf_parse_vm("b13.vm", base, strlen(base), &daemon, &a, err) == 0, "%s", err);
        ck_assert_uint_le(conf_n_vm_keys, CONF_MAX_KEYS);
        for (size_t i = 0; i < conf_n_vm_keys; i++) {
                const struct conf_key *k = &conf_vm_keys[i];
                const char *v = VALUE_OF(vm_values, k->key);
                ck_assert_msg(v, "[vm] %s: no test value in vm_values[]", k->key);
                b = a;
                set_row(&(struct conf_file) { .name = "b13.vm", .section = "vm", .keys = conf_vm_keys,
                                              .n_keys = conf_n_vm_keys, .err = err, .conf = &b },
                        k, v, &a);
                ck_assert_msg(vs_vm_conf_equal(&a, &b) == !k->restarts_vm, "[vm] %s = %s: %s", k->key, v,
                              k->restarts_vm ? "marked restarts_vm, yet the VMs compare equal" : "not marked restarts_vm, yet a restart");
                ck_assert_msg(vs_vm_conf_equal(&b, &a) == !k->restarts_vm, "[vm] %s: equality is not symmetric", k->key);
                restarting += k->restarts_vm;
        }
        ck_assert_uint_eq(restarting, conf_n_vm_keys - 1); /* all but console_log_max */
        for (size_t i = 0; i < conf_n_vm_keys; i++)
                if (strcmp(conf_vm_keys[i].key, "console_log_max") == 0)
                        ck_assert(!conf_vm_keys[i].restarts_vm); /* applied on reload in place */
        vs_conf_free(&daemon);
}
END_TEST

/* A valid value for each [daemon] key that differs from its default. */
static const struct test_value daemon_values[] = {
        { "listen", "127.0.0.1:9401" },
        { "interval", "10s" },
        { "history", "100" },
        { "collectors", "-perf" },
        { "histograms", "yes" },
        { "kvm_stats_include", "halt_.*" },
        { "kvm_stats_exclude", "exits" },
        { "log_level", "debug" },
        { "control_socket", "/tmp/vmstatd-test.sock" },
        { "runtime_dir", "/tmp/vmstatd-test" },
        { "console_log_dir", "/var/log/vmstatd" },
        { "console_log_max", "3M" },
        { "console_over_http", "yes" },
        { "allowed_hosts", "prom.example.com" },
};

/* A reload applies log_level and the console logs' keys; every other [daemon] key is marked
 * restarts_daemon and makes vs_conf_daemon_equal say unequal, which the reload then logs. */
START_TEST(restarts_daemon_rows_make_confs_unequal) {
        char err[VS_CONF_ERR_LEN] = "";
        struct vs_conf a, b;
        size_t restarting = 0;
        vs_conf_default(&a);
        for (size_t i = 0; i < conf_n_daemon_keys; i++) {
                const struct conf_key *k = &conf_daemon_keys[i];
                const char *v = VALUE_OF(daemon_values, k->key);
                ck_assert_msg(v, "[daemon] %s: no test value in daemon_values[]", k->key);
                b = a;
                set_row(&(struct conf_file) { .name = "vmstatd.conf", .section = "daemon", .keys = conf_daemon_keys,
                                              .n_keys = conf_n_daemon_keys, .err = err, .conf = &b },
                        k, v, &a);
                ck_assert_msg(vs_conf_daemon_equal(&a, &b) == !k->restarts_daemon, "[daemon] %s = %s: %s", k->key, v,
                              k->restarts_daemon ? "marked restarts_daemon, yet equal" : "applied on reload, yet unequal");
                restarting += k->restarts_daemon;
        }
        ck_assert_uint_eq(restarting, conf_n_daemon_keys - 3); /* log_level, console_log_dir, console_log_max */
        for (size_t i = 0; i < conf_n_vm_keys; i++)
                ck_assert_msg(!conf_vm_keys[i].restarts_daemon, "[vm] %s: restarts_daemon", conf_vm_keys[i].key);
        vs_conf_free(&a); /* b shares a's VMs */
}
END_TEST

/* Daemon rows are never compared for restarts, and only VM rows say how the summary shows them. */
START_TEST(daemon_rows_restart_no_vm) {
        for (size_t i = 0; i < conf_n_daemon_keys; i++) {
                ck_assert_msg(!conf_daemon_keys[i].restarts_vm, "[daemon] %s: restarts_vm", conf_daemon_keys[i].key);
                ck_assert_msg(conf_daemon_keys[i].type->parse && conf_daemon_keys[i].type->print, "[daemon] %s",
                              conf_daemon_keys[i].key);
        }
        ck_assert_uint_le(conf_n_daemon_keys, CONF_MAX_KEYS);
}
END_TEST

static char *read_text(const char *path) {
        FILE *f = fopen(path, "re");
        ck_assert_msg(f, "%s: cannot be read", path);
        char *buf = NULL;
        size_t len = 0;
        ck_assert_int_ge(getdelim(&buf, &len, 0, f), 0);
        fclose(f);
        return buf;
}

/* The lines of the man page from the .SH line that starts with heading to the next .SH. */
static char *man_section(const char *page, const char *heading) {
        const char *s = strstr(page, heading);
        ck_assert_msg(s, "vmstatd.conf.5 has no section %s", heading);
        const char *end = strstr(s + strlen(heading), "\n.SH ");
        return strndup(s, end ? (size_t) (end - s) : strlen(s));
}

/* ".BI key " = ...": the line that defines a key in the page's list. */
static bool man_defines(const char *section, const char *key) {
        char line[128];
        snprintf(line, sizeof(line), "\n.BI %s \"", key);
        return strstr(section, line) != NULL;
}

START_TEST(every_key_in_the_man_page) {
        char *page = read_text("docs/vmstatd.conf.5");
        char *daemon = man_section(page, ".SH \"[daemon] IN vmstatd.conf\""), *vm = man_section(page, ".SH \"[vm] IN");
        for (size_t i = 0; i < conf_n_daemon_keys; i++)
                ck_assert_msg(man_defines(daemon, conf_daemon_keys[i].key), "vmstatd.conf.5 does not describe [daemon] %s",
                              conf_daemon_keys[i].key);
        for (size_t i = 0; i < conf_n_vm_keys; i++)
                ck_assert_msg(man_defines(vm, conf_vm_keys[i].key), "vmstatd.conf.5 does not describe [vm] %s",
                              conf_vm_keys[i].key);
        free(daemon);
        free(vm);
        free(page);
}
END_TEST

/* "key = value" or ";key = value" (an example to uncomment) at the start of a line of text. */
static bool example_shows(const char *text, const char *key) {
        for (const char *line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                const char *s = line + (*line == ';');
                if (strncmp(s, key, strlen(key)) == 0 && strncmp(s + strlen(key), " =", 2) == 0)
                        return true;
        }
        return false;
}

START_TEST(every_key_in_the_examples) {
        char *conf = read_text("systemd/vmstatd.conf.example"), path[512];
        for (size_t i = 0; i < conf_n_daemon_keys; i++)
                ck_assert_msg(example_shows(conf, conf_daemon_keys[i].key), "vmstatd.conf.example does not show %s",
                              conf_daemon_keys[i].key);
        free(conf);
        /* each [vm] key in at least one of the VM examples */
        bool shown[CONF_MAX_KEYS] = { false };
        DIR *d = opendir("systemd/vms.d");
        ck_assert_ptr_nonnull(d);
        for (struct dirent *de; (de = readdir(d));) {
                size_t len = strlen(de->d_name);
                if (len < 12 || strcmp(de->d_name + len - 11, ".vm.example") != 0)
                        continue;
                snprintf(path, sizeof(path), "systemd/vms.d/%s", de->d_name);
                char *text = read_text(path);
                for (size_t i = 0; i < conf_n_vm_keys; i++)
                        shown[i] |= example_shows(text, conf_vm_keys[i].key);
                free(text);
        }
        closedir(d);
        for (size_t i = 0; i < conf_n_vm_keys; i++)
                ck_assert_msg(shown[i], "no systemd/vms.d/*.vm.example shows %s", conf_vm_keys[i].key);
}
END_TEST

int main(void) {
        Suite *s = suite_create("config_table");
        TCase *tc = tcase_create("config_table");
        tcase_add_test(tc, restarts_vm_rows_make_vms_unequal);
        tcase_add_test(tc, restarts_daemon_rows_make_confs_unequal);
        tcase_add_test(tc, daemon_rows_restart_no_vm);
        tcase_add_test(tc, every_key_in_the_man_page);
        tcase_add_test(tc, every_key_in_the_examples);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
