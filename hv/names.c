/* The names of hv's VM states and end reasons, as JSON and /metrics write them. Apart from vm.c
 * so that a client (vmstatctl) can name them without linking a VMM. */
#include "vm.h"

const char *hv_vm_state_name(enum hv_vm_state s) {
        static const char *const names[] = {
                [HV_VM_CREATED] = "created", [HV_VM_RUNNING] = "running", [HV_VM_PAUSED] = "paused",
                [HV_VM_STOPPED] = "stopped", [HV_VM_CRASHED] = "crashed",
        };
        return (unsigned) s < sizeof(names) / sizeof(names[0]) ? names[s] : "invalid";
}

const char *hv_vm_reason_name(enum hv_vm_reason r) {
        static const char *const names[] = {
                [HV_REASON_NONE] = "none",
                [HV_REASON_EXIT_CODE] = "exit_code",
                [HV_REASON_REBOOT] = "reboot",
                [HV_REASON_POWEROFF] = "poweroff",
                [HV_REASON_REQUESTED] = "requested",
                [HV_REASON_SHUTDOWN] = "shutdown",
                [HV_REASON_FAIL_ENTRY] = "fail_entry",
                [HV_REASON_INTERNAL_ERROR] = "internal_error",
                [HV_REASON_GUEST_CRASH] = "guest_crash",
                [HV_REASON_UNKNOWN_EXIT] = "unknown_exit",
                [HV_REASON_KVM_RUN_ERROR] = "kvm_run_error",
                [HV_REASON_LOAD_ERROR] = "load_error",
                [HV_REASON_WORKER_DIED] = "worker_died",
        };
        return (unsigned) r < sizeof(names) / sizeof(names[0]) ? names[r] : "invalid";
}
