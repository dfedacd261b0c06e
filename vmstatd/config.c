/* Configuration: dir/vmstatd.conf ([daemon]) and dir/vms.d/<name>.vm ([vm]): the defaults, the
 * files found and read in order, what holds between keys of a VM, and the reload's question
 * "does this VM need a restart?". The keys themselves are rows of config_keys.c. */
#define _GNU_SOURCE
#include "config_table.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "boot/layout.h"
#include "paths.h"
#include "router.h"

/* ---- defaults ---------------------------------------------------------------------------------------- */

static void daemon_defaults(struct vs_conf *c) {
        memset(c, 0, sizeof(*c));
        char why[VS_LISTEN_WHY_LEN];
        vs_listen_parse("127.0.0.1:9400", &c->listen[0], why); /* numeric: cannot fail */
        c->n_listen = 1;
        c->interval_ns = 5 * NSEC_PER_SEC;
        c->history = 720;
        for (size_t i = 0; i < CL_MAX_COLLECTORS; i++)
                c->enable[i] = -1;
        c->log_level = LOG_INFO;
        vs_runtime_dir_default(VS_CONF_RUNTIME_DIR_MAX, c->runtime_dir, sizeof(c->runtime_dir));
        c->console_log_max = VS_CONF_DEFAULT_CONSOLE_LOG_MAX;
        vs_conf_finish(c);
}

void vs_conf_finish(struct vs_conf *c) {
        if (!c->control_socket_set) /* runtime_dir is at most VS_RUNTIME_DIR_MAX bytes: it fits */
                snprintf(c->control_socket, sizeof(c->control_socket), "%.*s/" VS_CONTROL_SOCKET_NAME,
                         VS_RUNTIME_DIR_MAX, c->runtime_dir);
}

void conf_vm_defaults(struct vs_vm_conf *vm, const char *name) {
        memset(vm, 0, sizeof(*vm));
        snprintf(vm->name, sizeof(vm->name), "%.32s", name);
        vm->vcpus = 1;
        vm->memory = 64 * MiB;
        vm->autostart = true;
        vm->restart = VS_RESTART_NO;
}

void vs_conf_default(struct vs_conf *ret) {
        daemon_defaults(ret);
        ret->embedded = true;
        ret->vms = calloc(1, sizeof(*ret->vms));
        if (!ret->vms)
                return; /* no VM to run rather than no way to report it */
        conf_vm_defaults(&ret->vms[0], "b13");
        ret->vms[0].vcpus = 2;
        strcpy(ret->vms[0].guest, "builtin:demo");
        strcpy(ret->vms[0].builtin_name, "demo");
        ret->vms[0].builtin.guest = "demo";
        ret->vms[0].console_log_max = ret->console_log_max;
        ret->n_vms = 1;
}

static int parse_daemon(const char *text, size_t len, struct vs_conf *c, char *err) {
        struct conf_file f = { .name = "vmstatd.conf", .section = "daemon", .keys = conf_daemon_keys,
                               .n_keys = conf_n_daemon_keys, .err = err, .conf = c, .text = text, .len = len };
        int r = conf_parse_text(&f);
        vs_conf_finish(c);
        return r;
}

static int load_daemon(int dir_fd, struct vs_conf *c, char *err) {
        char *text;
        size_t len;
        int r = conf_read_text(dir_fd, "vmstatd.conf", &text, &len, err);
        if (r < 0)
                return r;
        r = parse_daemon(text, len, c, err);
        free(text);
        return r;
}

int vs_conf_parse_daemon(const char *text, size_t len, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]) {
        daemon_defaults(ret);
        return parse_daemon(text, len, ret, err);
}

/* What holds between keys, checked once the whole file is read (keys come in any order); each
 * error names the line of the key at fault. */
static int check_vm(struct conf_file *f) {
        static const char *const linux_only[] = { "initrd", "cmdline", "cpuid_hide" };
        struct vs_vm_conf *vm = f->conf;
        unsigned guest = conf_seen_on(f, "guest"), kernel = conf_seen_on(f, "kernel"), memory = conf_seen_on(f, "memory");
        if (guest && kernel) {
                bool k_last = kernel > guest;
                f->line = k_last ? kernel : guest;
                return conf_fail(f, "%s: cannot be combined with %s (line %u): a VM boots a Linux kernel or a built-in "
                            "or flat guest, not both", k_last ? "kernel" : "guest", k_last ? "guest" : "kernel",
                            k_last ? guest : kernel);
        }
        for (size_t i = 0; !kernel && i < sizeof(linux_only) / sizeof(linux_only[0]); i++)
                if ((f->line = conf_seen_on(f, linux_only[i])))
                        return conf_fail(f, "%s: needs kernel = /PATH (initrd, cmdline and cpuid_hide are for Linux guests)",
                                    linux_only[i]);
        if (!kernel)
                return 0;
        if (!memory)
                vm->memory = 256 * MiB;
        else if (vm->memory < HV_LINUX_MIN_RAM) {
                f->line = memory;
                return conf_bad(f, "memory", f->memory_text, "is too small for a Linux guest (at least %lluM)",
                           (unsigned long long) (HV_LINUX_MIN_RAM / MiB));
        }
        if (!vm->cmdline[0])
                snprintf(vm->cmdline, sizeof(vm->cmdline), "%s", HV_LINUX_DEFAULT_CMDLINE);
        snprintf(vm->guest, sizeof(vm->guest), "linux:%s", vm->kernel);
        return 0;
}

/* "<name>.vm" -> name; -EINVAL with err filled when the stem is no VM name */
static int vm_name_of(const char *file, char name[33], char *err) {
        size_t n = strlen(file), stem = n >= 3 && strcmp(file + n - 3, ".vm") == 0 ? n - 3 : n;
        snprintf(name, 33, "%.*s", (int) stem, file);
        if (stem == n || stem > 32 || !vs_vm_name_valid(name)) {
                snprintf(err, VS_CONF_ERR_LEN, "%s: '%.*s' is not a VM name (the file name must be [a-z0-9_-]{1,32}.vm)",
                         file, (int) stem, file);
                return -EINVAL;
        }
        return 0;
}

static int parse_vm(const char *file, const char *text, size_t len, const struct vs_conf *daemon,
                    struct vs_vm_conf *vm, char *err) {
        struct conf_file f = { .name = file, .section = "vm", .keys = conf_vm_keys, .n_keys = conf_n_vm_keys,
                               .err = err, .conf = vm, .text = text, .len = len };
        int r = conf_parse_text(&f);
        if (r == 0)
                r = check_vm(&f);
        if (r == 0 && !vm->guest[0]) {
                snprintf(err, VS_CONF_ERR_LEN, "%s: guest: missing (e.g. guest = builtin:demo, or kernel = /boot/vmlinuz "
                         "for a Linux guest)", file);
                r = -EINVAL;
        }
        if (r == 0 && !vm->console_log_max)
                vm->console_log_max = daemon->console_log_max;
        return r;
}

static int load_vm(int vms_fd, const char *file, const char *dir, const struct vs_conf *daemon,
                   struct vs_vm_conf *vm, char *err) {
        char name[33], *text;
        size_t len;
        int r = vm_name_of(file, name, err);
        if (r < 0)
                return r;
        conf_vm_defaults(vm, name);
        snprintf(vm->path, sizeof(vm->path), "%s/vms.d/%s", dir, file);
        r = conf_read_text(vms_fd, file, &text, &len, err);
        if (r == -ENOENT)
                snprintf(err, VS_CONF_ERR_LEN, "%s: cannot be read (%s)", file, strerror(-r)); /* removed meanwhile */
        if (r < 0)
                return r;
        r = parse_vm(file, text, len, daemon, vm, err);
        free(text);
        return r;
}

int vs_conf_parse_vm(const char *file, const char *text, size_t len, const struct vs_conf *daemon,
                     struct vs_vm_conf *ret, char err[VS_CONF_ERR_LEN]) {
        char name[33];
        int r = vm_name_of(file, name, err);
        if (r < 0)
                return r;
        conf_vm_defaults(ret, name);
        return parse_vm(file, text, len, daemon, ret, err);
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The *.vm names in dir_fd/vms.d, sorted so that VMs come up in a stable order. A missing
 * vms.d is no VMs. */
static int list_vm_files(int dir_fd, const char *dir, int *ret_fd, char ***ret, size_t *ret_n, char *err) {
        int fd = openat(dir_fd, "vms.d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                snprintf(err, VS_CONF_ERR_LEN, "%s/vms.d: cannot be read (%s)", dir, strerror(errno));
                return -errno;
        }
        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
        if (!d) {
                int r = -errno;
                if (dup_fd >= 0)
                        close(dup_fd);
                close(fd);
                snprintf(err, VS_CONF_ERR_LEN, "%s/vms.d: cannot be read (%s)", dir, strerror(-r));
                return r;
        }
        char **names = NULL;
        size_t n = 0;
        int r = 0;
        struct dirent *de;
        while (r == 0 && (errno = 0, de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (len < 3 || strcmp(de->d_name + len - 3, ".vm") != 0)
                        continue;
                char **grown = realloc(names, (n + 1) * sizeof(*names));
                if (!grown || !(grown[n] = strdup(de->d_name))) {
                        names = grown ? grown : names;
                        r = -ENOMEM;
                        break;
                }
                names = grown;
                n++;
        }
        if (r == 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0) {
                snprintf(err, VS_CONF_ERR_LEN, "%s/vms.d: cannot be read (%s)", dir, strerror(-r));
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                close(fd);
                return r;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret_fd = fd;
        *ret = names;
        *ret_n = n;
        return 0;
}

/* The embedded default applies only when dir does not exist, or holds neither vmstatd.conf nor
 * any vms.d/<name>.vm: configuration that is present is used as written, even when it lists no VM
 * (a vmstatd.conf alone means "no guests", not "the demo guest"). */
int vs_conf_load(const char *dir, struct vs_conf *ret, char err[VS_CONF_ERR_LEN]) {
        if (!dir)
                dir = VS_CONF_DEFAULT_DIR;
        int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), vms_fd = -1, r;
        if (dir_fd < 0) {
                r = -errno;
                if (r == -ENOENT) {
                        vs_conf_default(ret);
                        return 0;
                }
                if (r == -ENOTDIR)
                        snprintf(err, VS_CONF_ERR_LEN, "%s: is not a directory", dir);
                else
                        snprintf(err, VS_CONF_ERR_LEN, "%s: cannot be read (%s)", dir, strerror(-r));
                return r;
        }
        struct vs_conf *c = malloc(sizeof(*c));
        char **files = NULL;
        size_t n_files = 0;
        bool have_daemon = false;
        if (!c) {
                close(dir_fd);
                snprintf(err, VS_CONF_ERR_LEN, "%s: out of memory", dir);
                return -ENOMEM;
        }
        daemon_defaults(c);
        r = load_daemon(dir_fd, c, err);
        have_daemon = r == 0;
        if (r == -ENOENT)
                r = 0;
        if (r == 0)
                r = list_vm_files(dir_fd, dir, &vms_fd, &files, &n_files, err);
        if (r == 0 && n_files && !(c->vms = calloc(n_files, sizeof(*c->vms)))) {
                snprintf(err, VS_CONF_ERR_LEN, "%s: out of memory", dir);
                r = -ENOMEM;
        }
        for (size_t i = 0; r == 0 && i < n_files; i++) {
                r = load_vm(vms_fd, files[i], dir, c, &c->vms[i], err);
                if (r == 0)
                        c->n_vms++;
        }
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        free(files);
        if (vms_fd >= 0)
                close(vms_fd);
        close(dir_fd);
        if (r < 0) {
                vs_conf_free(c);
                free(c);
                return r;
        }
        if (!have_daemon && n_files == 0)
                vs_conf_default(ret);
        else
                *ret = *c;
        free(c);
        return 0;
}

void vs_conf_release_vms(struct vs_conf *c) {
        free(c->vms);
        c->vms = NULL; /* n_vms stays: how many were configured */
}

void vs_conf_free(struct vs_conf *c) {
        if (!c)
                return;
        vs_conf_release_vms(c);
        c->n_vms = 0;
}

/* The name, and every row marked restarts_vm: a key added to the table cannot be forgotten here. */
bool vs_vm_conf_equal(const struct vs_vm_conf *a, const struct vs_vm_conf *b) {
        if (strcmp(a->name, b->name) != 0)
                return false;
        for (size_t i = 0; i < conf_n_vm_keys; i++) {
                const struct conf_key *k = &conf_vm_keys[i];
                if (k->restarts_vm && !k->type->equal(k, a, b))
                        return false;
        }
        return true;
}

/* Every row marked restarts_daemon, as for the VMs above. */
bool vs_conf_daemon_equal(const struct vs_conf *a, const struct vs_conf *b) {
        for (size_t i = 0; i < conf_n_daemon_keys; i++) {
                const struct conf_key *k = &conf_daemon_keys[i];
                if (k->restarts_daemon && !k->type->equal(k, a, b))
                        return false;
        }
        return true;
}

const struct vs_vm_conf *vs_conf_find_vm(const struct vs_conf *c, const char *name) {
        for (size_t i = 0; c->vms && i < c->n_vms; i++) /* none after vs_conf_release_vms */
                if (strcmp(c->vms[i].name, name) == 0)
                        return &c->vms[i];
        return NULL;
}

