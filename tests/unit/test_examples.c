/* The shipped examples (systemd/vmstatd.conf.example, systemd/vms.d/NAME.vm.example) parse, their
 * commented-out lines included, and every console log they name is in a directory that
 * vmstatd.service lets the daemon write (StateDirectory=, LogsDirectory=, RuntimeDirectory=):
 * under ProtectSystem=strict everything else is read-only, and a log there fails at start. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "kvm_helper.h"

static char *read_file(const char *path) {
        FILE *f = fopen(path, "re");
        ck_assert_msg(f, "%s: cannot be read", path);
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        int ch;
        while ((ch = fgetc(f)) != EOF)
                fputc(ch, m);
        fclose(m);
        fclose(f);
        return buf;
}

/* Copies src to dst with ";key = value" example lines of the given keys uncommented. */
static void copy_uncommented(const char *src, const char *dst, const char *const *keys) {
        char *text = read_file(src), *save = NULL;
        FILE *out = fopen(dst, "we");
        ck_assert_ptr_nonnull(out);
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                bool enable = false;
                for (size_t k = 0; keys[k] && line[0] == ';'; k++)
                        enable |= strncmp(line + 1, keys[k], strlen(keys[k])) == 0 && line[1 + strlen(keys[k])] == ' ';
                fprintf(out, "%s\n", enable ? line + 1 : line);
        }
        fclose(out);
        free(text);
}

/* The directories vmstatd.service makes writable, as absolute paths. */
static size_t writable_dirs(char dirs[][128], size_t max) {
        static const struct { const char *key, *base; } kinds[] = {
                { "StateDirectory=", "/var/lib/" }, { "LogsDirectory=", "/var/log/" }, { "RuntimeDirectory=", "/run/" },
        };
        char *text = read_file("systemd/vmstatd.service"), *save = NULL;
        size_t n = 0;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                for (size_t k = 0; k < 3; k++)
                        if (strncmp(line, kinds[k].key, strlen(kinds[k].key)) == 0 && n < max)
                                snprintf(dirs[n++], 128, "%s%s/", kinds[k].base, line + strlen(kinds[k].key));
        free(text);
        return n;
}

static bool under(const char *path, char dirs[][128], size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strncmp(path, dirs[i], strlen(dirs[i])) == 0)
                        return true;
        return false;
}

START_TEST(examples_parse_and_log_where_the_unit_allows) {
        static const char *const daemon_keys[] = { "console_log_dir", "allowed_hosts", NULL };
        static const char *const vm_keys[] = { "console_log", "console_log_max", "initrd", "cmdline", NULL };
        char *dir = test_mkdtemp("examples"), path[512], src[512], err[VS_CONF_ERR_LEN], dirs[8][128];
        snprintf(path, sizeof(path), "%s/vms.d", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/vmstatd.conf", dir);
        copy_uncommented("systemd/vmstatd.conf.example", path, daemon_keys);
        DIR *d = opendir("systemd/vms.d");
        ck_assert_ptr_nonnull(d);
        unsigned examples = 0;
        for (struct dirent *de; (de = readdir(d));) {
                size_t len = strlen(de->d_name);
                if (len < 12 || strcmp(de->d_name + len - 11, ".vm.example") != 0)
                        continue;
                snprintf(src, sizeof(src), "systemd/vms.d/%s", de->d_name);
                snprintf(path, sizeof(path), "%s/vms.d/%.*s", dir, (int) (len - 8), de->d_name);
                copy_uncommented(src, path, vm_keys);
                examples++;
        }
        closedir(d);
        ck_assert_uint_ge(examples, 2);

        struct vs_conf c;
        ck_assert_msg(vs_conf_load(dir, &c, err) == 0, "the examples do not parse: %s", err);
        ck_assert_uint_eq(c.n_vms, examples);
        ck_assert_msg(c.console_dir[0], "vmstatd.conf.example names no console_log_dir");
        size_t n = writable_dirs(dirs, 8);
        ck_assert_uint_ge(n, 3);
        snprintf(path, sizeof(path), "%s/", c.console_dir);
        ck_assert_msg(under(path, dirs, n), "console_log_dir %s is read-only under vmstatd.service", c.console_dir);
        for (size_t i = 0; i < c.n_vms; i++) {
                ck_assert_msg(c.vms[i].console_log[0], "%s names no console_log", c.vms[i].name);
                ck_assert_msg(under(c.vms[i].console_log, dirs, n), "%s: console_log %s is read-only under vmstatd.service",
                              c.vms[i].name, c.vms[i].console_log);
        }
        vs_conf_free(&c);
        snprintf(path, sizeof(path), "rm -rf %s", dir);
        ck_assert_int_eq(system(path), 0);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("examples");
        TCase *tc = tcase_create("examples");
        tcase_add_test(tc, examples_parse_and_log_where_the_unit_allows);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
