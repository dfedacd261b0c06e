/* The summary --check-config prints: a "key: value" line per [daemon] row, then a line per VM
 * whose columns are its [vm] rows (conf_key.shown says how each appears). */
#include "config_table.h"

#include <string.h>

static void print_vm(FILE *out, const struct vs_conf *c, const struct vs_vm_conf *vm) {
        struct vs_vm_conf def; /* what the VM would be with nothing set: "cpus=" shows when not that */
        const char *sep = "";
        conf_vm_defaults(&def, vm->name);
        def.console_log_max = c->console_log_max;
        fprintf(out, "%s: ", vm->name);
        for (size_t i = 0; i < conf_n_vm_keys; i++) {
                const struct conf_key *k = &conf_vm_keys[i];
                if (k->shown == CONF_SHOWN_LINUX || k->shown == CONF_SHOWN_NOT ||
                    (k->shown == CONF_SHOWN_CHANGED && k->type->equal(k, vm, &def)))
                        continue;
                fprintf(out, "%s%s%s", sep, k->shown == CONF_SHOWN_BARE ? "" : k->key, k->shown == CONF_SHOWN_BARE ? "" : "=");
                k->type->print(out, k, vm);
                sep = ", ";
        }
        /* the rest of a Linux guest (its kernel is in the guest column): a line each, cmdlines are long */
        for (size_t i = 0; vm->kernel[0] && i < conf_n_vm_keys; i++)
                if (conf_vm_keys[i].shown == CONF_SHOWN_LINUX) {
                        fprintf(out, "\n  %s: ", conf_vm_keys[i].key);
                        conf_vm_keys[i].type->print(out, &conf_vm_keys[i], vm);
                }
        fputc('\n', out);
}

void vs_conf_print(const struct vs_conf *c, FILE *out) {
        for (size_t i = 0; i < conf_n_daemon_keys; i++) {
                fprintf(out, "%s: ", conf_daemon_keys[i].key);
                conf_daemon_keys[i].type->print(out, &conf_daemon_keys[i], c);
                fputc('\n', out);
        }
        fprintf(out, "vms: %zu%s\n", c->n_vms, c->embedded ? " (the embedded default: no configuration found)" : "");
        for (size_t i = 0; c->vms && i < c->n_vms; i++)
                print_vm(out, c, &c->vms[i]);
}
