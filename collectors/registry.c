/* The collector registry: the one table of collectors, in a stable order. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"

const struct collector_ops *const collector_registry[] = {
        &collector_executor, &collector_kvm, &collector_sched, &collector_memory, &collector_perf,
};
const size_t collector_registry_len = sizeof(collector_registry) / sizeof(collector_registry[0]);
_Static_assert(sizeof(collector_registry) / sizeof(collector_registry[0]) <= CL_MAX_COLLECTORS, "registry");

const struct collector_ops *collector_find(const char *name) {
        for (size_t i = 0; i < collector_registry_len; i++)
                if (strcmp(collector_registry[i]->name, name) == 0)
                        return collector_registry[i];
        return NULL;
}

int collector_fail(struct collector *c, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->error, sizeof(c->error), fmt, ap);
        va_end(ap);
        return r;
}

void cl_vm_raw_release(struct cl_vm_raw *r) {
        for (unsigned i = 0; r->vcpus && i < r->n_vcpus; i++) {
                cl_kvm_values_unref(r->vcpus[i].kvm);
                free(r->vcpus[i].exit_hist);
                cl_kvm_schema_unref((struct cl_kvm_schema *) r->vcpus[i].kvm_schema);
        }
        cl_kvm_values_unref(r->kvm);
        cl_kvm_schema_unref((struct cl_kvm_schema *) r->kvm_schema);
        free(r->vcpus);
        r->vcpus = NULL;
        r->kvm = NULL;
        r->kvm_schema = NULL;
}
