/* executor: hv's own numbers: per-vCPU counters, runstate inputs, VM state. Never fails. */
#include "collector.h"
#include "devices/devices.h"

static int executor_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        struct hv_vm_outcome o;
        (void) c;
        hv_vm_get_outcome(vm->hv, &o);
        out->state = o.state;
        out->reason = o.reason;
        out->exit_code = o.exit_code;
        out->ram_bytes = vm->hv->ram_bytes;
        out->console_bytes = vm->hv->console ? hv_console_total(vm->hv->console) : 0;
        for (unsigned i = 0; i < out->n_vcpus; i++) {
                struct cl_vcpu_raw *v = &out->vcpus[i];
                hv_vcpu_read_raw(vm->hv->vcpus[i], &v->rs);
                hv_vcpu_read_counters(vm->hv->vcpus[i], &v->exec);
                v->have |= CL_HAVE_EXECUTOR;
        }
        out->have |= CL_HAVE_EXECUTOR;
        return 0;
}

const struct collector_ops collector_executor = {
        .name = "executor",
        .enabled_by_default = true,
        .sample_vm = executor_sample_vm,
};
