/* libFuzzer target: the configuration parser (inih plus our checks) takes any text as a
 * vms.d/<name>.vm or as vmstatd.conf: it never crashes or reads out of bounds, it either fails
 * with a one-line message that names the file or yields a configuration that is valid and equal
 * to itself, and --check-config's summary prints it. The first byte picks the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void check_error(const char *err, const char *file) {
        if (!*err || strncmp(err, file, strlen(file)) != 0 || strchr(err, '\n') || strlen(err) >= VS_CONF_ERR_LEN)
                abort();
}

static void print(const struct vs_conf *c) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return;
        vs_conf_print(c, f);
        fclose(f);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[VS_CONF_ERR_LEN] = "";
        if (size == 0)
                return 0;
        const char *text = (const char *) data + 1;
        size_t len = size - 1;
        struct vs_conf daemon;
        if (data[0] & 1) {
                if (vs_conf_parse_daemon(text, len, &daemon, err) < 0) {
                        check_error(err, "vmstatd.conf");
                        return 0;
                }
                if (daemon.n_listen < 1 || daemon.n_listen > VS_CONF_MAX_LISTEN || daemon.interval_ns < 100000000ull ||
                    daemon.history < 1 || daemon.n_allowed_hosts > VS_CONF_MAX_HOSTS || !daemon.console_log_max)
                        abort();
                for (size_t i = 0; i < daemon.n_listen; i++)
                        if (!daemon.listen[i].text[0])
                                abort();
                print(&daemon);
                return 0;
        }
        vs_conf_default(&daemon);
        struct vs_vm_conf vm;
        if (vs_conf_parse_vm("fz.vm", text, len, &daemon, &vm, err) < 0) {
                check_error(err, "fz.vm");
        } else {
                if (strcmp(vm.name, "fz") != 0 || vm.vcpus < 1 || vm.vcpus > 64 || vm.memory < (8u << 20) ||
                    vm.memory % 4096 || !vm.guest[0] || !vm.console_log_max || !vs_vm_conf_equal(&vm, &vm))
                        abort();
                if (vm.kernel[0] ? vm.builtin_name[0] || vm.image[0] : !!vm.image[0] == !!vm.builtin_name[0])
                        abort(); /* exactly one kind of guest */
                struct vs_vm_conf *embedded = daemon.vms; /* b13 of the default: put back to be freed */
                daemon.vms = &vm;
                print(&daemon);
                daemon.vms = embedded;
        }
        vs_conf_free(&daemon);
        return 0;
}
