/* Immutable, refcounted samples (sample.h): references, release, lookups. */
#include "sample.h"

#include <stdlib.h>
#include <string.h>

struct vs_sample *vs_sample_ref(struct vs_sample *s) {
        if (s)
                atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
        return s;
}

static void vm_sample_release(struct vs_vm_sample *v) {
        for (unsigned i = 0; v->vcpu && i < v->vcpus; i++)
                free(v->vcpu[i].kvm_rate);
        free(v->vcpu);
        free(v->kvm_rate);
        cl_vm_raw_release(&v->raw);
}

void vs_sample_unref(struct vs_sample *s) {
        if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
                return;
        for (unsigned i = 0; i < s->n_vms; i++)
                vm_sample_release(&s->vms[i]);
        free(s->vms);
        free(s);
}

const struct vs_vm_sample *vs_sample_find_vm(const struct vs_sample *s, const char *name) {
        for (unsigned i = 0; s && i < s->n_vms; i++)
                if (strcmp(s->vms[i].name, name) == 0)
                        return &s->vms[i];
        return NULL;
}

const struct vs_vm_sample *vs_sample_find_id(const struct vs_sample *s, uint64_t id, size_t hint) {
        if (s && hint < s->n_vms && s->vms[hint].id == id) /* VMs keep their place from sample to sample */
                return &s->vms[hint];
        for (unsigned i = 0; s && i < s->n_vms; i++)
                if (s->vms[i].id == id)
                        return &s->vms[i];
        return NULL;
}
