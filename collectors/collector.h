/* The one contract every collector follows (node_exporter style): a registry entry
 * {name, enabled by default, init, sample, fini}; adding a collector is adding a file and
 * one line in registry.c. Collectors read hv/ and the kernel; they never print and never
 * talk HTTP. Each sample reports its own duration and success; a failing collector leaves
 * the rest of the sample intact. */
#ifndef COLLECTORS_COLLECTOR_H
#define COLLECTORS_COLLECTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <regex.h>
#include <stdint.h>
#include <sys/types.h>

#include "counters.h"
#include "vcpu.h"
#include "vm.h"

#define CL_ERROR_LEN 160
#define CL_MAX_COLLECTORS 8

/* ---- KVM binary stats (collectors/kvm.c) ---------------------------------------------------- */
enum cl_kvm_kind {
        CL_KVM_COUNTER,     /* KVM_STATS_TYPE_CUMULATIVE */
        CL_KVM_GAUGE,       /* KVM_STATS_TYPE_INSTANT, KVM_STATS_TYPE_PEAK */
        CL_KVM_HIST_LINEAR, /* KVM_STATS_TYPE_LINEAR_HIST */
        CL_KVM_HIST_LOG,    /* KVM_STATS_TYPE_LOG_HIST */
};

enum cl_kvm_unit { CL_UNIT_NONE, CL_UNIT_BYTES, CL_UNIT_SECONDS, CL_UNIT_CYCLES, CL_UNIT_BOOLEAN };

#define CL_KVM_METRIC_LEN 96

struct cl_kvm_desc {
        char name[64];        /* as the kernel reports it, e.g. "halt_poll_success_ns" */
        enum cl_kvm_kind kind;
        enum cl_kvm_unit unit;
        bool peak;            /* KVM_STATS_TYPE_PEAK */
        double scale;         /* base^exponent: raw value * scale = value in base units */
        uint32_t size;        /* number of u64 values (buckets for histograms) */
        uint32_t bucket_size; /* linear histograms: width of a bucket in raw units */
        uint32_t offset;      /* byte offset of the first value in the data block */
        uint32_t index;       /* index of the first value in cl_kvm_schema values */
        int sum_of;           /* histograms: index into desc[] of the matching *_ns stat, or -1 */
        bool exported;        /* passes the stats filter (true unless a filter says otherwise) */
        /* its metric name after a prefix, without a counter's _total (cl_kvm_metric_name), set
         * once when the schema is parsed; "" in a schema made by hand */
        char metric[CL_KVM_METRIC_LEN];
};

/* Parsed once per stats fd; shared read-only, refcounted because samples point at it. */
struct cl_kvm_schema {
        _Atomic unsigned refs;
        size_t n_desc;
        struct cl_kvm_desc *desc;
        size_t n_values;        /* u64 values in the data block */
        uint64_t data_offset;   /* of the data block in the fd */
        char id[64];            /* the header's id string, e.g. "kvm-1234/vcpu-0"; of the first fd
                                 * parsed when the kvm collector shares one schema among fds */
};

struct cl_kvm_schema *cl_kvm_schema_ref(struct cl_kvm_schema *s);
void cl_kvm_schema_unref(struct cl_kvm_schema *s);
/* Parses the header and descriptors of a KVM binary stats fd. -errno on failure. */
int cl_kvm_schema_parse(int fd, struct cl_kvm_schema **ret);
/* The stat's name as the end of a metric name: lower case, [a-z0-9_]; seconds and bytes end in
 * their unit (seconds drop an _ns, _us or _ms token); a counter's _total is dropped. */
void cl_kvm_metric_name(const struct cl_kvm_desc *d, char out[CL_KVM_METRIC_LEN]);
/* Reads the whole data block (pread, one call) into values[schema->n_values]. */
int cl_kvm_read_values(int fd, const struct cl_kvm_schema *s, uint64_t *values);
/* The values arrays samples hold (cl_vm_raw.kvm, cl_vcpu_raw.kvm) are refcounted: a vCPU that
 * did not run since the last sample shares the last one's array. NULL without memory. */
uint64_t *cl_kvm_values_new(size_t n);
uint64_t *cl_kvm_values_ref(uint64_t *v);
void cl_kvm_values_unref(uint64_t *v); /* NULL is fine */

/* Which KVM stats are exported (node_exporter's --collector.*-include/exclude): a name, as the
 * kernel reports it ("halt_wait_ns"), is exported when it fully matches include (NULL or "":
 * every name) and does not fully match exclude (NULL or "": none). POSIX extended regexes,
 * anchored at both ends as Prometheus anchors its regexes. */
struct cl_kvm_filter {
        bool has_include, has_exclude;
        regex_t include, exclude;
};

/* 0, or -EINVAL with a sentence in err ("kvm stats include '(': parentheses not balanced") */
int cl_kvm_filter_init(struct cl_kvm_filter *f, const char *include, const char *exclude, char *err, size_t err_len);
bool cl_kvm_filter_match(const struct cl_kvm_filter *f, const char *name);
/* Whether src compiles as such a regex: 0, or -EINVAL with the reason alone in why (for a
 * caller that names the option or the config line itself) */
int cl_kvm_regex_check(const char *src, char *why, size_t why_len);
void cl_kvm_filter_free(struct cl_kvm_filter *f);

/* ---- raw snapshot: what collectors fill, per sample ------------------------------------------ */
enum cl_have {
        CL_HAVE_EXECUTOR = 1u << 0,
        CL_HAVE_KVM = 1u << 1,
        CL_HAVE_SCHED = 1u << 2,
        CL_HAVE_MEMORY = 1u << 3,
        CL_HAVE_PERF = 1u << 4,
};

struct cl_sched {
        uint64_t run_delay_ns; /* schedstat field 2: time runnable, waiting for a CPU */
        uint64_t timeslices;   /* schedstat field 3 */
        uint64_t migrations;   /* se.nr_migrations */
        uint64_t voluntary_switches, involuntary_switches;
};

struct cl_perf {
        uint64_t instructions, cycles; /* guest only (exclude_host) */
};

/* /proc/<pid>/task/<tid>/schedstat as the executor read it for a worker's vCPU (so that the
 * sched collector need not read it again) */
struct cl_schedstat {
        bool have;
        uint64_t cpu_ns, run_delay_ns, timeslices;
};

/* The schedstat file of thread tid of process pid (schedstat.c): an fd or -errno; then its
 * fields (field 1 = CPU ns, 2 = run_delay ns, 3 = timeslices): 0, -ENOENT when the thread is
 * gone, -EBADMSG, -errno. */
int cl_schedstat_open(pid_t pid, pid_t tid);
int cl_schedstat_read(int fd, struct cl_schedstat *ret);
/* The CPU time of every thread of process pid, living and ended (its process CPU clock, which
 * any process may read): 0 or -errno. A thread that is on a CPU adds to it at the scheduler's
 * next tick at the latest. */
int cl_process_cpu_ns(pid_t pid, uint64_t *ret);

struct cl_vcpu_raw {
        uint32_t have;              /* CL_HAVE_* of the collectors that filled this */
        struct cl_schedstat schedstat; /* executor, for worker VMs */
        /* executor, for worker VMs: the thread has been off every CPU since the last sample, so
         * nothing it counts (its KVM stats among them) has changed */
        bool idle;
        uint64_t (*exit_hist)[HV_HIST_BUCKETS]; /* executor, only with histograms: [HV_EXIT__COUNT] */
        struct hv_counters exec;    /* executor */
        struct hv_vcpu_raw rs;      /* executor: tid, cpu_ns, offline_ns, now_ns */
        struct cl_sched sched;      /* sched */
        struct cl_perf perf;        /* perf */
        const struct cl_kvm_schema *kvm_schema; /* kvm: NULL when absent */
        uint64_t *kvm;              /* kvm: kvm_schema->n_values values (cl_kvm_values_new) */
};

struct cl_vm_raw {
        uint32_t have;
        enum hv_vm_state state;     /* executor */
        enum hv_vm_reason reason;
        int64_t exit_code;
        uint64_t detail;            /* executor: worker_died: the signal (0 unknown); see hv_vm_outcome */
        int32_t pid;                /* executor: the process running the VM (its worker) */
        uint64_t ram_bytes;
        uint64_t console_bytes;     /* executor: bytes the guest wrote to its console */
        uint64_t resident_bytes;    /* memory: guest RAM resident in host memory */
        const struct cl_kvm_schema *kvm_schema;
        uint64_t *kvm;
        unsigned n_vcpus;
        struct cl_vcpu_raw *vcpus;
};

/* A VM as collectors see it: the executor's VM plus one private slot per collector. */
struct cl_vm {
        struct hv_vm *hv;
        void *priv[CL_MAX_COLLECTORS];
};

struct cl_host_raw {
        uint64_t daemon_rss_bytes; /* memory */
};

/* Frees what collectors allocated inside a raw snapshot (kvm values, schema references) and
 * its vCPU array. */
void cl_vm_raw_release(struct cl_vm_raw *r);

/* ---- the contract ------------------------------------------------------------------------------ */
struct collector;

struct collector_ops {
        const char *name;
        bool enabled_by_default;
        /* once, when the collector is enabled; -errno makes it report failure on every sample */
        int (*init)(struct collector *c);
        /* per VM and sample, optional: called for every VM before any sample_vm, so that work
         * it starts elsewhere (a worker publishing) runs for all VMs at once */
        void (*prepare_vm)(struct collector *c, struct cl_vm *vm);
        /* per VM and sample; fills its part of out. May keep per-VM state in vm->priv[c->slot],
         * created on first use. -errno (with c->error set) marks this sample failed. */
        int (*sample_vm)(struct collector *c, struct cl_vm *vm, struct cl_vm_raw *out);
        /* per sample, optional: host-wide values */
        int (*sample_host)(struct collector *c, struct cl_host_raw *out);
        /* releases vm->priv[c->slot] when a VM goes away; optional */
        void (*forget_vm)(struct collector *c, struct cl_vm *vm);
        void (*fini)(struct collector *c);
};

struct collector {
        const struct collector_ops *ops;
        unsigned slot;    /* index in the registry, and in cl_vm.priv */
        bool enabled;
        bool histograms;  /* collect what only histograms show (opt-in: it costs) */
        /* kvm: the stats filter's regexes (cl_kvm_filter), NULL for none; read by init */
        const char *stats_include, *stats_exclude;
        int init_error;   /* -errno from init, 0 if fine */
        void *priv;
        /* results of the latest sample */
        uint64_t duration_ns;
        bool success;
        char error[CL_ERROR_LEN];
};

/* The registry, in a stable order. */
extern const struct collector_ops *const collector_registry[];
extern const size_t collector_registry_len;

const struct collector_ops *collector_find(const char *name);
/* Formats into c->error and returns r (a negative errno) for one-line error paths. */
int collector_fail(struct collector *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

extern const struct collector_ops collector_executor, collector_kvm, collector_sched, collector_memory,
        collector_perf;

#endif
