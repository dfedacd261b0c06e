/* executor: hv's own numbers: per-vCPU counters, runstate inputs, VM state, read from the
 * memory each VM shares. A VM run by a worker process first publishes what only it can read
 * (its threads' CPU clocks, resident RAM): every worker is asked at once, then each is awaited.
 * Never fails: a worker that does not answer in time leaves its last reading. */
#include "collector.h"
#include "devices/devices.h"

#define PUBLISH_TIMEOUT_NS (50 * 1000000ull)

static void executor_prepare_vm(struct collector *c, struct cl_vm *vm) {
        (void) c;
        hv_vm_publish_request(vm->hv);
}

static int executor_sample_vm(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out) {
        struct hv_vm_outcome o;
        (void) c;
        hv_vm_publish_wait(vm->hv, PUBLISH_TIMEOUT_NS);
        hv_vm_get_outcome(vm->hv, &o);
        out->state = o.state;
        out->reason = o.reason;
        out->exit_code = o.exit_code;
        out->detail = o.detail;
        out->pid = hv_vm_pid(vm->hv);
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
        .prepare_vm = executor_prepare_vm,
        .sample_vm = executor_sample_vm,
};
