/* vmstatd under systemd: the units verify clean and the service's exposure stays <= 2.0, the
 * sysusers.d and tmpfiles.d entries create what the unit expects, scripts/install.sh stages
 * every file with its mode (contrib's Prometheus and Grafana files too) and never touches the
 * live system, the man pages lint clean, and socket activation through
 * systemd-socket-activate serves /metrics on the passed sockets. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon_helper.h"

/* ---- paths: the source tree (cwd or $VMSTATD_SRC), the daemon, its build directory ---- */

static const char *src_dir(void) {
        static char path[PATH_MAX];
        const char *s = getenv("VMSTATD_SRC") ? getenv("VMSTATD_SRC") : ".";
        ck_assert_msg(realpath(s, path), "source tree %s: %s", s, strerror(errno));
        return path;
}

static const char *bin_path(void) {
        static char path[PATH_MAX];
        const char *b = getenv("VMSTATD_BIN") ? getenv("VMSTATD_BIN") : "build/bin/vmstatd";
        ck_assert_msg(realpath(b, path), "%s: %s (build it first)", b, strerror(errno));
        return path;
}

/* $VMSTATD_BUILD, else the directory above bin/ of $VMSTATD_BIN */
static const char *build_dir(void) {
        static char path[PATH_MAX];
        if (getenv("VMSTATD_BUILD")) {
                ck_assert_msg(realpath(getenv("VMSTATD_BUILD"), path), "VMSTATD_BUILD: %s", strerror(errno));
                return path;
        }
        snprintf(path, sizeof(path), "%s", bin_path());
        return dirname(dirname(path)); /* in place: build/bin/vmstatd -> build */
}

/* ---- small helpers ---------------------------------------------------------------------- */

/* runs cmd under sh with stderr folded into stdout; returns the output, status in ret_status */
static char *run(const char *cmd, int *ret_status) {
        char *full;
        ck_assert_int_ge(asprintf(&full, "(%s) 2>&1", cmd), 0);
        FILE *p = popen(full, "r");
        free(full);
        ck_assert_msg(p, "popen %s: %s", cmd, strerror(errno));
        char *out = test_read_all(p);
        int st = pclose(p);
        *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        return out;
}

static void make_tmpdir(char path[64]) {
        snprintf(path, 64, "/tmp/vmstatd-systemd-XXXXXX");
        ck_assert_msg(mkdtemp(path), "mkdtemp: %s", strerror(errno));
}

static void remove_tree(const char *dir) {
        char cmd[PATH_MAX + 16];
        int st;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        free(run(cmd, &st));
}

/* text with every "from" replaced by "to" (malloc'd) */
static char *replace_all(const char *text, const char *from, const char *to) {
        char *out = NULL;
        size_t len = 0, n = strlen(from);
        FILE *m = open_memstream(&out, &len);
        for (const char *p = text, *hit; *p; p = hit + n) {
                if (!(hit = strstr(p, from))) {
                        fputs(p, m);
                        break;
                }
                fwrite(p, 1, (size_t) (hit - p), m);
                fputs(to, m);
        }
        fclose(m);
        return out;
}

/* true if a line of text is exactly line */
static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);
        for (const char *p = text; (p = strstr(p, line)); p += n)
                if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
                        return true;
        return false;
}

/* The units as install.sh would write them, but with ExecStart= at the daemon just built:
 * systemd-analyze verify wants an ExecStart binary that exists. */
static void stage_units(const char *dir) {
        char path[PATH_MAX], bindir[PATH_MAX];
        snprintf(bindir, sizeof(bindir), "%s", bin_path());
        snprintf(path, sizeof(path), "%s/systemd/vmstatd.service", src_dir());
        char *unit = test_read_file(path), *staged = replace_all(unit, "@BINDIR@", dirname(bindir));
        snprintf(path, sizeof(path), "%s/vmstatd.service", dir);
        test_write_file(path, staged);
        free(unit);
        free(staged);
        snprintf(path, sizeof(path), "%s/systemd/vmstatd.socket", src_dir());
        unit = test_read_file(path);
        snprintf(path, sizeof(path), "%s/vmstatd.socket", dir);
        test_write_file(path, unit);
        free(unit);
}

/* ---- the units ------------------------------------------------------------------------- */

START_TEST(units_verify_clean) {
        char dir[64], cmd[512];
        int st;
        make_tmpdir(dir);
        stage_units(dir);
        snprintf(cmd, sizeof(cmd), "cd '%s' && systemd-analyze verify --man=no vmstatd.service vmstatd.socket", dir);
        char *out = run(cmd, &st);
        ck_assert_msg(st == 0 && out[0] == 0, "systemd-analyze verify: status %d:\n%s", st, out);
        free(out);
        remove_tree(dir);
}
END_TEST

START_TEST(service_exposure_at_most_2) {
        char dir[64], cmd[512];
        int st;
        make_tmpdir(dir);
        stage_units(dir);
        snprintf(cmd, sizeof(cmd), "systemd-analyze security --offline=true '%s/vmstatd.service'", dir);
        char *out = run(cmd, &st);
        const char *line = strstr(out, "Overall exposure level for vmstatd.service:");
        ck_assert_msg(st == 0 && line, "systemd-analyze security: status %d:\n%s", st, out);
        double level = -1;
        ck_assert_int_eq(sscanf(line, "Overall exposure level for vmstatd.service: %lf", &level), 1);
        fprintf(stderr, "vmstatd.service: overall exposure level %.1f\n", level);
        ck_assert_msg(level >= 0 && level <= 2.0, "exposure %.1f > 2.0:\n%s", level, out);
        free(out);
        remove_tree(dir);
}
END_TEST

/* the settings the daemon cannot run without, guarded against a well-meant "hardening" */
START_TEST(service_keeps_kvm_and_notify) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/systemd/vmstatd.service", src_dir());
        char *unit = test_read_file(path);
        const char *must[] = {
                "Type=notify", "ExecStart=@BINDIR@/vmstatd", "ExecReload=/bin/kill -HUP $MAINPID",
                "WatchdogSec=30s", "Restart=on-failure", "User=vmstatd", "Group=vmstatd",
                "SupplementaryGroups=kvm", "DevicePolicy=closed", "DeviceAllow=/dev/kvm rw",
                "StateDirectory=vmstatd", "RuntimeDirectory=vmstatd", "ConfigurationDirectory=vmstatd",
                "MemoryDenyWriteExecute=yes", "CapabilityBoundingSet=",
                /* systemd must leave the workers (and their sockets in /run/vmstatd) to the
                 * daemon: else a crash or a restart by the watchdog takes every guest down */
                "KillMode=process", "RuntimeDirectoryPreserve=restart",
        };
        for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
                ck_assert_msg(has_line(unit, must[i]), "vmstatd.service lacks the line '%s'", must[i]);
        /* PrivateDevices= hides /dev/kvm; a filter without mincore kills the memory collector; the
         * workers install their allowlists with seccomp(2) */
        ck_assert_msg(!strstr(unit, "\nPrivateDevices="), "vmstatd.service must not set PrivateDevices=");
        ck_assert_msg(has_line(unit, "SystemCallFilter=@system-service mincore seccomp"),
                      "SystemCallFilter= must allow mincore and seccomp");
        free(unit);
        snprintf(path, sizeof(path), "%s/systemd/vmstatd.socket", src_dir());
        unit = test_read_file(path);
        ck_assert_msg(has_line(unit, "ListenStream=127.0.0.1:9400"), "vmstatd.socket: ListenStream=127.0.0.1:9400");
        free(unit);
}
END_TEST

/* sysusers.d and tmpfiles.d applied to an empty root in dir: the user, its kvm membership, the
 * state dir; the account's ids in ret_uid, ret_gid */
static void apply_sysusers_and_tmpfiles(const char *dir, unsigned *ret_uid, unsigned *ret_gid) {
        char cmd[PATH_MAX * 2], path[PATH_MAX];
        int st;
        snprintf(path, sizeof(path), "%s/etc", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(cmd, sizeof(cmd), "systemd-sysusers --root='%s' '%s/systemd/vmstatd.sysusers'", dir, src_dir());
        char *out = run(cmd, &st);
        ck_assert_msg(st == 0, "systemd-sysusers: status %d:\n%s", st, out);
        free(out);
        snprintf(path, sizeof(path), "%s/etc/passwd", dir);
        char *passwd = test_read_file(path);
        const char *u = strstr(passwd, "vmstatd:x:");
        ck_assert_msg(u && (u == passwd || u[-1] == '\n'), "no vmstatd in passwd:\n%s", passwd);
        ck_assert_msg(strstr(u, ":vmstatd KVM statistics daemon:/var/lib/vmstatd:"), "passwd entry: %s", u);
        ck_assert_int_eq(sscanf(u, "vmstatd:x:%u:%u:", ret_uid, ret_gid), 2);
        snprintf(path, sizeof(path), "%s/etc/group", dir);
        char *group = test_read_file(path), *kvm = strstr(group, "kvm:x:");
        ck_assert_msg(kvm && (kvm == group || kvm[-1] == '\n'), "no kvm group:\n%s", group);
        ck_assert_msg(strstr(kvm, ":vmstatd\n") || strstr(kvm, ",vmstatd\n"), "vmstatd not in kvm:\n%s", group);
        free(passwd);
        free(group);

        snprintf(cmd, sizeof(cmd), "systemd-tmpfiles --root='%s' --create '%s/systemd/vmstatd.tmpfiles'", dir, src_dir());
        out = run(cmd, &st);
        ck_assert_msg(st == 0, "systemd-tmpfiles: status %d:\n%s", st, out);
        free(out);
}

START_TEST(sysusers_and_tmpfiles_create_the_account) {
        char dir[64], path[PATH_MAX];
        unsigned uid, gid;
        make_tmpdir(dir);
        apply_sysusers_and_tmpfiles(dir, &uid, &gid);
        struct stat sb;
        snprintf(path, sizeof(path), "%s/var/lib/vmstatd", dir);
        ck_assert_msg(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode), "%s: not created", path);
        ck_assert_uint_eq(sb.st_mode & 07777, 0750);
        remove_tree(dir);
}
END_TEST

/* the state directory belongs to the account sysusers.d made */
START_TEST(tmpfiles_gives_the_state_dir_to_the_account) {
        char dir[64], path[PATH_MAX];
        unsigned uid, gid;
        if (geteuid() != 0)
                TEST_SKIP("only root can chown: systemd-tmpfiles --root leaves the directory to uid %u", geteuid());
        make_tmpdir(dir);
        apply_sysusers_and_tmpfiles(dir, &uid, &gid);
        struct stat sb;
        snprintf(path, sizeof(path), "%s/var/lib/vmstatd", dir);
        ck_assert_msg(stat(path, &sb) == 0, "%s: not created", path);
        ck_assert_uint_eq(sb.st_uid, uid);
        ck_assert_uint_eq(sb.st_gid, gid);
        remove_tree(dir);
}
END_TEST

/* ---- install.sh --------------------------------------------------------------------------- */

static void assert_file(const char *dest, const char *rel, mode_t mode) {
        char path[PATH_MAX];
        struct stat sb;
        snprintf(path, sizeof(path), "%s%s", dest, rel);
        ck_assert_msg(stat(path, &sb) == 0, "install.sh did not write %s: %s", rel, strerror(errno));
        ck_assert_msg(S_ISREG(sb.st_mode) && (sb.st_mode & 07777) == mode, "%s: mode %04o, expected %04o", rel,
                      (unsigned) (sb.st_mode & 07777), (unsigned) mode);
}

/* Runs install.sh into dir/dest with PATH led by fake systemctl, systemd-sysusers and
 * systemd-tmpfiles that leave a mark if called: with DESTDIR the live system is not touched. */
static void run_install(const char *dir, const char *prefix) {
        char cmd[PATH_MAX * 3], path[PATH_MAX];
        int st;
        snprintf(path, sizeof(path), "%s/fakebin", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        const char *fakes[] = { "systemctl", "systemd-sysusers", "systemd-tmpfiles" };
        for (size_t i = 0; i < 3; i++) {
                char fake[PATH_MAX + 32], script[PATH_MAX + 64];
                snprintf(fake, sizeof(fake), "%s/%s", path, fakes[i]);
                snprintf(script, sizeof(script), "#!/bin/sh\necho \"$0 $*\" >> '%s/touched'\n", dir);
                test_write_file(fake, script);
                ck_assert_int_eq(chmod(fake, 0755), 0);
        }
        snprintf(cmd, sizeof(cmd), "PATH='%s':\"$PATH\" DESTDIR='%s/dest' PREFIX='%s' BUILD='%s' '%s/scripts/install.sh'",
                 path, dir, prefix, build_dir(), src_dir());
        char *out = run(cmd, &st);
        ck_assert_msg(st == 0, "install.sh: status %d:\n%s", st, out);
        free(out);
        snprintf(path, sizeof(path), "%s/touched", dir);
        ck_assert_msg(access(path, F_OK) != 0, "install.sh with DESTDIR ran on the live system:\n%s",
                      access(path, F_OK) == 0 ? test_read_file(path) : "");
}

/* contrib/'s Prometheus files and Grafana dashboard under datadir, as in the tree, and the installed
 * site.yml still finds its rules and targets beside it */
static void assert_contrib(const char *dest, const char *datadir, const char *docdir) {
        char pattern[PATH_MAX], rel[PATH_MAX], path[PATH_MAX * 2];
        glob_t g;
        snprintf(pattern, sizeof(pattern), "%s/contrib/prometheus/*.yml", src_dir());
        ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
        ck_assert_uint_ge(g.gl_pathc, 6); /* rules, their tests, site, global, targets, remote write */
        for (size_t i = 0; i < g.gl_pathc; i++) {
                snprintf(rel, sizeof(rel), "%s/prometheus/%s", datadir, strrchr(g.gl_pathv[i], '/') + 1);
                assert_file(dest, rel, 0644);
                snprintf(path, sizeof(path), "%s%s", dest, rel);
                char *want = test_read_file(g.gl_pathv[i]), *got = test_read_file(path);
                ck_assert_msg(strcmp(want, got) == 0, "%s differs from %s", rel, g.gl_pathv[i]);
                free(want);
                free(got);
        }
        globfree(&g);
        snprintf(rel, sizeof(rel), "%s/grafana/vmstatd.json", datadir);
        assert_file(dest, rel, 0644);
        snprintf(rel, sizeof(rel), "%s/many-hosts.md", docdir);
        assert_file(dest, rel, 0644);
        int st;
        snprintf(path, sizeof(path), "promtool check config '%s%s/prometheus/site.yml'", dest, datadir);
        char *out = run(path, &st);
        ck_assert_msg(st == 0, "%s: status %d:\n%s", path, st, out);
        free(out);
}

START_TEST(install_stages_every_file) {
        char dir[64], dest[128], path[PATH_MAX];
        make_tmpdir(dir);
        run_install(dir, "/usr");
        snprintf(dest, sizeof(dest), "%s/dest", dir);
        assert_file(dest, "/usr/bin/vmstatd", 0755);
        assert_file(dest, "/usr/bin/vmstatd-vm", 0755); /* the daemon runs it from its own directory */
        snprintf(path, sizeof(path), "%s/bin/vmstatctl", build_dir()); /* built with the daemon by make check */
        ck_assert_msg(access(path, X_OK) == 0, "%s: %s (build it first)", path, strerror(errno));
        assert_file(dest, "/usr/bin/vmstatctl", 0755);
        assert_file(dest, "/lib/systemd/system/vmstatd.service", 0644);
        assert_file(dest, "/lib/systemd/system/vmstatd.socket", 0644);
        assert_file(dest, "/usr/lib/sysusers.d/vmstatd.conf", 0644);
        assert_file(dest, "/usr/lib/tmpfiles.d/vmstatd.conf", 0644);
        assert_file(dest, "/usr/share/man/man8/vmstatd.8", 0644);
        assert_file(dest, "/usr/share/man/man5/vmstatd.conf.5", 0644);
        assert_file(dest, "/usr/share/man/man1/vmstatctl.1", 0644);
        assert_file(dest, "/usr/share/doc/vmstatd/METRICS.md", 0644);
        const char *examples[] = { "vmstatd.conf.example", "vms.d/b13.vm.example", "vms.d/linux.vm.example" };
        for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
                char rel[128];
                snprintf(path, sizeof(path), "%s/systemd/%s", src_dir(), examples[i]);
                snprintf(rel, sizeof(rel), "/etc/vmstatd/%s", examples[i]);
                if (access(path, F_OK) == 0)
                        assert_file(dest, rel, 0644);
        }
        struct stat sb;
        snprintf(path, sizeof(path), "%s/etc/vmstatd/vms.d", dest);
        ck_assert_msg(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode), "no /etc/vmstatd/vms.d");
        assert_contrib(dest, "/usr/share/vmstatd", "/usr/share/doc/vmstatd");

        snprintf(path, sizeof(path), "%s/lib/systemd/system/vmstatd.service", dest);
        char *unit = test_read_file(path);
        ck_assert_msg(has_line(unit, "ExecStart=/usr/bin/vmstatd"), "installed unit's ExecStart:\n%s", unit);
        ck_assert_msg(!strstr(unit, "@BINDIR@") && !strstr(unit, dest), "installed unit leaks @BINDIR@ or DESTDIR");
        free(unit);
        remove_tree(dir);
}
END_TEST

START_TEST(install_follows_prefix) {
        char dir[64], path[PATH_MAX];
        make_tmpdir(dir);
        run_install(dir, "/usr/local");
        snprintf(path, sizeof(path), "%s/dest", dir);
        assert_file(path, "/usr/local/bin/vmstatd", 0755);
        assert_file(path, "/usr/local/lib/systemd/system/vmstatd.socket", 0644);
        assert_file(path, "/usr/local/lib/sysusers.d/vmstatd.conf", 0644);
        assert_file(path, "/usr/local/share/man/man8/vmstatd.8", 0644);
        assert_file(path, "/usr/local/share/vmstatd/prometheus/vmstatd-rules.yml", 0644);
        assert_file(path, "/usr/local/share/vmstatd/grafana/vmstatd.json", 0644);
        snprintf(path, sizeof(path), "%s/dest/usr/local/lib/systemd/system/vmstatd.service", dir);
        char *unit = test_read_file(path);
        ck_assert_msg(has_line(unit, "ExecStart=/usr/local/bin/vmstatd"), "installed unit's ExecStart:\n%s", unit);
        free(unit);
        remove_tree(dir);
}
END_TEST

/* ---- man pages ---------------------------------------------------------------------------- */

START_TEST(man_pages_lint_clean) {
        const char *pages[] = { "vmstatd.8", "vmstatd.conf.5", "vmstatctl.1" };
        int st;
        char *out = run("command -v mandoc", &st);
        bool mandoc = st == 0;
        free(out);
        for (size_t i = 0; i < 3; i++) {
                char cmd[PATH_MAX + 64];
                /* mandoc's warnings and errors (not its style notes), or groff's with -ww */
                if (mandoc)
                        snprintf(cmd, sizeof(cmd), "mandoc -Tlint -W warning '%s/docs/%s'", src_dir(), pages[i]);
                else
                        snprintf(cmd, sizeof(cmd), "groff -man -Tutf8 -ww -z '%s/docs/%s'", src_dir(), pages[i]);
                out = run(cmd, &st);
                ck_assert_msg(st == 0 && out[0] == 0, "%s: status %d:\n%s", cmd, st, out);
                free(out);
        }
}
END_TEST

/* ---- socket activation ------------------------------------------------------------------- */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* systemd-socket-activate listens on every address in listen[] and execs vmstatd on the first
 * connection, passing the sockets as LISTEN_FDS; d->base is the first address. The daemon is
 * isolated from any installed configuration and from /run/vmstatd. Returns false only when
 * test_daemon_unavailable(), after the test's SKIP line. */
static bool activate(struct test_daemon *d, const char *const *listen, size_t n_listen, int port, char tmp[64]) {
        const char *bin = bin_path();
        const char *why = test_daemon_unavailable();
        if (why) {
                test_skip("%s", why);
                return false;
        }
        memset(d, 0, sizeof(*d));
        make_tmpdir(tmp);
        d->port = port;
        snprintf(d->base, sizeof(d->base), "http://%s", listen[0]);
        snprintf(d->log_path, sizeof(d->log_path), "%s/log", tmp);
        char noconf[96], control[96];
        snprintf(noconf, sizeof(noconf), "%s/no-config", tmp);
        snprintf(control, sizeof(control), "%s/control.sock", tmp);
        const char *argv[32] = { "systemd-socket-activate" };
        size_t n = 1;
        for (size_t i = 0; i < n_listen && n < 20; i++) {
                argv[n++] = "-l";
                argv[n++] = listen[i];
        }
        const char *tail[] = { bin, "--config", noconf, "--control-socket", control, "--interval", "200ms", NULL };
        for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
                argv[n++] = tail[i]; /* with its NULL */
        d->pid = test_spawn(argv, d->log_path);
        /* the first connection makes systemd-socket-activate exec vmstatd */
        for (double deadline = now_s() + 15; now_s() < deadline;) {
                struct test_response r = test_http(d, "GET", "/healthz", NULL);
                long status = r.status;
                test_response_free(&r);
                if (status == 200)
                        return true;
                int st;
                if (waitpid(d->pid, &st, WNOHANG) == d->pid)
                        ck_abort_msg("systemd-socket-activate ... vmstatd exited early (status %d): %s", st,
                                     test_read_file(d->log_path));
                struct timespec ts = { 0, 50 * 1000000L };
                nanosleep(&ts, NULL);
        }
        kill(d->pid, SIGKILL);
        ck_abort_msg("vmstatd did not serve /healthz on the socket passed by systemd-socket-activate (%s): %s",
                     d->base, test_read_file(d->log_path));
        return false;
}

static void assert_serves_metrics(const struct test_daemon *d) {
        struct test_response r = test_http(d, "GET", "/metrics", NULL);
        ck_assert_msg(r.status == 200, "GET %s/metrics: status %ld", d->base, r.status);
        ck_assert_msg(r.body && strstr(r.body, "vmstatd_vcpu_runstate_seconds_total{vm=\"b13\",vcpu=\"0\",state=\"running\"}"),
                      "%s/metrics has no b13 runstate series", d->base);
        test_response_free(&r);
}

START_TEST(socket_activation_serves_metrics) {
        struct test_daemon d;
        char tmp[64], addr[32];
        int port = test_free_port();
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
        const char *listen[] = { addr };
        if (!activate(&d, listen, 1, port, tmp))
                return;
        assert_serves_metrics(&d);
        /* no self-bound listener on the default port: the passed socket replaced it */
        char *log = test_read_file(d.log_path);
        ck_assert_msg(!strstr(log, "listening on http://127.0.0.1:9400"), "vmstatd also bound its default:\n%s", log);
        free(log);
        test_daemon_stop(&d);
        remove_tree(tmp);
}
END_TEST

START_TEST(socket_activation_ipv4_and_ipv6) {
        struct test_daemon d4, d6;
        char tmp[64], a4[32], a6[32];
        int port = test_free_port();
        snprintf(a4, sizeof(a4), "127.0.0.1:%d", port);
        snprintf(a6, sizeof(a6), "[::1]:%d", port);
        const char *listen[] = { a4, a6 };
        if (!activate(&d4, listen, 2, port, tmp))
                return;
        d6 = d4;
        snprintf(d6.base, sizeof(d6.base), "http://%s", a6);
        assert_serves_metrics(&d4);
        assert_serves_metrics(&d6);
        test_daemon_stop(&d4);
        remove_tree(tmp);
}
END_TEST

int main(void) {
        Suite *s = suite_create("systemd");
        TCase *units = tcase_create("units");
        tcase_set_timeout(units, 60);
        tcase_add_test(units, units_verify_clean);
        tcase_add_test(units, service_exposure_at_most_2);
        tcase_add_test(units, service_keeps_kvm_and_notify);
        tcase_add_test(units, sysusers_and_tmpfiles_create_the_account);
        tcase_add_test(units, tmpfiles_gives_the_state_dir_to_the_account);
        suite_add_tcase(s, units);
        TCase *install = tcase_create("install");
        tcase_set_timeout(install, 60);
        tcase_add_test(install, install_stages_every_file);
        tcase_add_test(install, install_follows_prefix);
        tcase_add_test(install, man_pages_lint_clean);
        suite_add_tcase(s, install);
        TCase *activation = tcase_create("socket activation");
        tcase_set_timeout(activation, 60);
        tcase_add_test(activation, socket_activation_serves_metrics);
        tcase_add_test(activation, socket_activation_ipv4_and_ipv6);
        suite_add_tcase(s, activation);
        return test_run_suite(s);
}
