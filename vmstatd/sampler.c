#define _GNU_SOURCE
/* The sampler: collectors -> raw snapshot -> deltas, runstate split, ratios, rates ->
 * immutable sample published by a refcounted pointer swap -> history ring. */
#include "sampler.h"
#include "shm.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One interval of one vCPU as the ring keeps it: 20 bytes, W is the states' sum (vs_hist_vcpu
 * adds it back). 1,024 vCPUs x 720 points: 14 MiB. */
struct hist_point {
        uint32_t state_us[HV_RS__COUNT];
        uint32_t exits;
};

struct vm_ctx {
        struct cl_vm cl;
        uint64_t id;
        struct vs_vm_supervision sv;
        unsigned vcpus;
        struct hv_runstate_acc *acc; /* [vcpus] */
        /* the history ring, at the sampler's positions (every sample appends to every VM): the
         * last hist_len of them, ending before the sampler's hist_head, are this VM's */
        unsigned hist_len;
        struct hist_point *hist; /* [history * vcpus], point-major */
};

struct vs_sampler {
        uint64_t interval_ns;
        unsigned history;
        size_t n_collectors;
        struct collector collectors[CL_MAX_COLLECTORS];

        pthread_mutex_t lock; /* the VM list and sampling itself */
        struct vm_ctx **ctx;
        size_t n_ctx;
        uint64_t next_id, seq;
        struct vs_daemon_counters daemon;
        /* when each history point was taken, one ring for every VM: [history] */
        uint64_t *hist_mono, *hist_real;
        unsigned hist_head; /* the next position to write */

        pthread_mutex_t pub_lock; /* only around the pointer swap and the reference grab */
        struct vs_sample *latest;

        vs_publish_fn *publish_hook;
        void *publish_opaque;

        pthread_t thread;
        bool running;
        pthread_mutex_t stop_lock;
        pthread_cond_t stop_cond;
        bool stop;
};

/* ---- derivation ------------------------------------------------------------------------------------ */

static double ratio(uint64_t part, uint64_t whole) {
        return whole ? (double) part / (double) whole : 0.0;
}

static double per_second(uint64_t cur, uint64_t prev, uint64_t dt_ns) {
        return dt_ns && cur >= prev ? (double) (cur - prev) * 1e9 / (double) dt_ns : 0.0;
}

/* rates of the counter-kind KVM stats; NULL when there is nothing to compare with */
static double *kvm_rates(const struct cl_kvm_schema *schema, const uint64_t *cur, const struct cl_kvm_schema *prev_schema,
                         const uint64_t *prev, uint64_t dt_ns) {
        if (!schema || !cur || cur == prev) /* shared: the vCPU did not run, every rate is 0 (NULL) */
                return NULL;
        double *rate = calloc(schema->n_values ? schema->n_values : 1, sizeof(*rate));
        if (!rate || !prev || prev_schema != schema)
                return rate;
        for (size_t d = 0; d < schema->n_desc; d++) {
                const struct cl_kvm_desc *desc = &schema->desc[d];
                if (desc->kind != CL_KVM_COUNTER)
                        continue;
                for (uint32_t j = 0; j < desc->size; j++) {
                        size_t k = desc->index + j;
                        rate[k] = per_second(cur[k], prev[k], dt_ns) * desc->scale;
                }
        }
        return rate;
}

static void counter_rates(const struct cl_vcpu_raw *c, const struct cl_vcpu_raw *p, uint64_t dt,
                          struct vs_vcpu_rates *r) {
        r->runs = per_second(c->exec.runs, p->exec.runs, dt);
        r->immediate_exits = per_second(c->exec.immediate_exits, p->exec.immediate_exits, dt);
        r->unhandled_io = per_second(c->exec.unhandled_io, p->exec.unhandled_io, dt);
        r->unhandled_mmio = per_second(c->exec.unhandled_mmio, p->exec.unhandled_mmio, dt);
        if (c->have & p->have & CL_HAVE_SCHED) {
                r->timeslices = per_second(c->sched.timeslices, p->sched.timeslices, dt);
                r->migrations = per_second(c->sched.migrations, p->sched.migrations, dt);
                r->voluntary_switches = per_second(c->sched.voluntary_switches, p->sched.voluntary_switches, dt);
                r->involuntary_switches = per_second(c->sched.involuntary_switches, p->sched.involuntary_switches, dt);
        }
        if (c->have & p->have & CL_HAVE_PERF) {
                r->guest_instructions = per_second(c->perf.instructions, p->perf.instructions, dt);
                r->guest_cycles = per_second(c->perf.cycles, p->perf.cycles, dt);
        }
}

static void derive_vcpu(struct vm_ctx *ctx, unsigned i, struct vs_vm_sample *vm, const struct vs_vm_sample *prev) {
        struct cl_vcpu_raw *raw = &vm->raw.vcpus[i];
        struct vs_vcpu_sample *out = &vm->vcpu[i];
        struct hv_runstate_acc *acc = &ctx->acc[i];
        struct hv_runstate_in in = {
                .now_ns = raw->rs.now_ns,
                .cpu_ns = raw->rs.cpu_ns,
                .offline_ns = raw->rs.offline_ns,
                /* without scheduler data runnable cannot be told from blocked: no delay */
                .run_delay_ns = (raw->have & CL_HAVE_SCHED) ? raw->sched.run_delay_ns : acc->raw[1],
        };
        if (!(raw->have & CL_HAVE_EXECUTOR))
                return;
        hv_runstate_split(acc, &in, out->delta_ns, &out->w_ns);
        memcpy(out->runstate_ns, acc->total, sizeof(out->runstate_ns));
        out->ready_ratio = ratio(out->delta_ns[HV_RS_RUNNABLE], out->w_ns);
        out->steal_kvm_ratio = out->ready_ratio;
        out->steal_xen_ratio = ratio(out->delta_ns[HV_RS_RUNNABLE] + out->delta_ns[HV_RS_OFFLINE], out->w_ns);

        const struct cl_vcpu_raw *p = prev && i < prev->vcpus ? &prev->raw.vcpus[i] : NULL;
        uint64_t dt = p && raw->rs.now_ns > p->rs.now_ns ? raw->rs.now_ns - p->rs.now_ns : 0;
        for (unsigned e = 0; p && e < HV_EXIT__COUNT; e++) {
                out->exit_delta[e] = raw->exec.exits[e] >= p->exec.exits[e] ? raw->exec.exits[e] - p->exec.exits[e] : 0;
                out->exit_rate[e] = per_second(raw->exec.exits[e], p->exec.exits[e], dt);
        }
        if (p)
                counter_rates(raw, p, dt, &out->rate);
        /* the guest's steal over the same W (a record registered anew may start again from 0) */
        out->guest_steal_have = p && vs_guest_steal_known(&raw->rs) && vs_guest_steal_known(&p->rs);
        if (out->guest_steal_have)
                out->guest_steal_ratio = ratio(raw->rs.steal_ns >= p->rs.steal_ns ? raw->rs.steal_ns - p->rs.steal_ns : 0,
                                               out->w_ns);
        out->kvm_rate = kvm_rates(raw->kvm_schema, raw->kvm, p ? p->kvm_schema : NULL, p ? p->kvm : NULL, dt);
        for (unsigned s = 0; s < HV_RS__COUNT; s++) {
                vm->runstate_ns[s] += out->runstate_ns[s];
                vm->delta_ns[s] += out->delta_ns[s];
        }
        vm->w_ns += out->w_ns;
}

/* VM v of the sample */
static void derive_vm(struct vm_ctx *ctx, struct vs_vm_sample *vm, size_t v, const struct vs_sample *prev_sample) {
        const struct vs_vm_sample *prev = vs_sample_find_id(prev_sample, ctx->id, v);
        for (unsigned i = 0; i < vm->vcpus; i++)
                derive_vcpu(ctx, i, vm, prev);
        vm->ready_ratio = ratio(vm->delta_ns[HV_RS_RUNNABLE], vm->w_ns);
        vm->steal_kvm_ratio = vm->ready_ratio;
        vm->steal_xen_ratio = ratio(vm->delta_ns[HV_RS_RUNNABLE] + vm->delta_ns[HV_RS_OFFLINE], vm->w_ns);
        uint64_t now = vm->vcpus ? vm->raw.vcpus[0].rs.now_ns : 0;
        uint64_t prev_now = prev && prev->vcpus ? prev->raw.vcpus[0].rs.now_ns : 0;
        vm->kvm_rate = kvm_rates(vm->raw.kvm_schema, vm->raw.kvm, prev ? prev->raw.kvm_schema : NULL,
                                 prev ? prev->raw.kvm : NULL, now > prev_now ? now - prev_now : 0);
}

/* ---- history ------------------------------------------------------------------------------------------ */

static uint32_t us32(uint64_t ns) {
        uint64_t us = ns / 1000;
        return us > UINT32_MAX ? UINT32_MAX : (uint32_t) us;
}

/* Point s->hist_head of the VM's ring (the caller then stores the time and moves the head). */
static void history_append(struct vs_sampler *s, struct vm_ctx *ctx, const struct vs_vm_sample *vm) {
        struct hist_point *at = &ctx->hist[(size_t) s->hist_head * ctx->vcpus];
        for (unsigned i = 0; i < ctx->vcpus; i++) {
                const struct vs_vcpu_sample *v = &vm->vcpu[i];
                uint64_t exits = 0;
                uint32_t used = 0;
                for (unsigned st = 0; st < HV_RS__COUNT; st++)
                        if (st != HV_RS_BLOCKED)
                                used += at[i].state_us[st] = us32(v->delta_ns[st]);
                at[i].state_us[HV_RS_BLOCKED] = us32(v->w_ns) - used; /* floors never exceed the floor of W */
                for (unsigned e = 0; e < HV_EXIT__COUNT; e++)
                        exits += v->exit_delta[e];
                at[i].exits = exits > UINT32_MAX ? UINT32_MAX : (uint32_t) exits;
        }
        if (ctx->hist_len < s->history)
                ctx->hist_len++;
}

int vs_sampler_history(struct vs_sampler *s, const char *vm, unsigned last, struct vs_history *ret) {
        int r = -ENOENT;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_ctx; i++) {
                struct vm_ctx *ctx = s->ctx[i];
                if (strcmp(ctx->cl.hv->name, vm) != 0)
                        continue;
                unsigned n = last < ctx->hist_len ? last : ctx->hist_len;
                *ret = (struct vs_history) {
                        .n_points = n,
                        .vcpus = ctx->vcpus,
                        .mono_ns = calloc(n ? n : 1, sizeof(uint64_t)),
                        .realtime_ns = calloc(n ? n : 1, sizeof(uint64_t)),
                        .vcpu = calloc(n ? (size_t) n * ctx->vcpus : 1, sizeof(struct vs_hist_vcpu)),
                };
                if (!ret->mono_ns || !ret->realtime_ns || !ret->vcpu) {
                        r = -ENOMEM;
                } else {
                        for (unsigned p = 0; p < n; p++) {
                                unsigned at = (s->hist_head + s->history - n + p) % s->history;
                                ret->mono_ns[p] = s->hist_mono[at];
                                ret->realtime_ns[p] = s->hist_real[at];
                                for (unsigned i = 0; i < ctx->vcpus; i++) {
                                        const struct hist_point *h = &ctx->hist[(size_t) at * ctx->vcpus + i];
                                        struct vs_hist_vcpu *o = &ret->vcpu[(size_t) p * ctx->vcpus + i];
                                        o->w_us = 0;
                                        for (unsigned st = 0; st < HV_RS__COUNT; st++)
                                                o->w_us += o->state_us[st] = h->state_us[st];
                                        o->exits = h->exits;
                                }
                        }
                        r = 0;
                }
                if (r < 0)
                        vs_history_release(ret);
                break;
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

void vs_history_release(struct vs_history *h) {
        free(h->mono_ns);
        free(h->realtime_ns);
        free(h->vcpu);
        *h = (struct vs_history) { 0 };
}

/* ---- VMs ------------------------------------------------------------------------------------------------ */

static void ctx_free(struct vs_sampler *s, struct vm_ctx *ctx) {
        if (!ctx)
                return;
        for (size_t c = 0; c < s->n_collectors; c++)
                if (s->collectors[c].enabled && s->collectors[c].ops->forget_vm)
                        s->collectors[c].ops->forget_vm(&s->collectors[c], &ctx->cl);
        free(ctx->acc);
        free(ctx->hist);
        free(ctx);
}

int vs_sampler_add_vm(struct vs_sampler *s, struct hv_vm *vm) {
        struct vm_ctx *ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return -ENOMEM;
        ctx->cl.hv = vm;
        ctx->vcpus = vm->n_vcpus;
        ctx->acc = calloc(vm->n_vcpus, sizeof(*ctx->acc));
        ctx->hist = calloc((size_t) s->history * vm->n_vcpus, sizeof(*ctx->hist));
        if (!ctx->acc || !ctx->hist) {
                ctx_free(s, ctx);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                hv_runstate_init(&ctx->acc[i], vm->created_ns);

        pthread_mutex_lock(&s->lock);
        int r = 0;
        for (size_t i = 0; i < s->n_ctx && r == 0; i++)
                if (strcmp(s->ctx[i]->cl.hv->name, vm->name) == 0)
                        r = -EEXIST;
        struct vm_ctx **grown = r ? NULL : realloc(s->ctx, (s->n_ctx + 1) * sizeof(*grown));
        if (!r && !grown)
                r = -ENOMEM;
        if (!r) {
                /* a VM that outlived a daemon keeps the id it had (kept in its shared memory) */
                ctx->id = vm->sh->id ? vm->sh->id : ++s->next_id;
                if (ctx->id > s->next_id)
                        s->next_id = ctx->id;
                s->ctx = grown;
                s->ctx[s->n_ctx++] = ctx;
        }
        pthread_mutex_unlock(&s->lock);
        if (r)
                ctx_free(s, ctx);
        return r;
}

uint64_t vs_sampler_reserve_id(struct vs_sampler *s) {
        pthread_mutex_lock(&s->lock);
        uint64_t id = ++s->next_id;
        pthread_mutex_unlock(&s->lock);
        return id;
}

void vs_sampler_set_supervision(struct vs_sampler *s, struct hv_vm *vm, const struct vs_vm_supervision *sv) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_ctx; i++)
                if (s->ctx[i]->cl.hv == vm)
                        s->ctx[i]->sv = *sv;
        pthread_mutex_unlock(&s->lock);
}

void vs_sampler_set_daemon_counters(struct vs_sampler *s, const struct vs_daemon_counters *dc) {
        pthread_mutex_lock(&s->lock);
        s->daemon = *dc;
        pthread_mutex_unlock(&s->lock);
}

void vs_sampler_remove_vm(struct vs_sampler *s, struct hv_vm *vm) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_ctx; i++)
                if (s->ctx[i]->cl.hv == vm) {
                        ctx_free(s, s->ctx[i]);
                        memmove(&s->ctx[i], &s->ctx[i + 1], (s->n_ctx - i - 1) * sizeof(s->ctx[0]));
                        s->n_ctx--;
                        break;
                }
        pthread_mutex_unlock(&s->lock);
}

/* ---- sampling --------------------------------------------------------------------------------------- */

static void run_collector(struct vs_sampler *s, struct collector *c, struct vs_sample *sample,
                          struct vs_collector_result *res) {
        uint64_t t0 = hv_now_ns();
        bool ok = true;
        if (c->init_error) {
                ok = false; /* init left its reason in c->error */
        } else {
                c->error[0] = 0;
                for (size_t v = 0; c->ops->prepare_vm && v < s->n_ctx; v++)
                        c->ops->prepare_vm(c, &s->ctx[v]->cl);
                for (size_t v = 0; v < s->n_ctx; v++)
                        if (c->ops->sample_vm && c->ops->sample_vm(c, &s->ctx[v]->cl, &sample->vms[v].raw) < 0)
                                ok = false;
                if (c->ops->sample_host && c->ops->sample_host(c, &sample->host) < 0)
                        ok = false;
        }
        res->name = c->ops->name;
        res->success = ok;
        res->duration_ns = hv_now_ns() - t0;
        snprintf(res->error, sizeof(res->error), "%s", ok ? "" : c->error);
        c->success = ok;
        c->duration_ns = res->duration_ns;
}

static struct vs_sample *sample_new(struct vs_sampler *s) {
        struct vs_sample *sample = calloc(1, sizeof(*sample));
        if (!sample)
                return NULL;
        atomic_init(&sample->refs, 1);
        sample->n_vms = (unsigned) s->n_ctx;
        sample->vms = calloc(s->n_ctx ? s->n_ctx : 1, sizeof(*sample->vms));
        if (!sample->vms)
                goto fail;
        for (size_t v = 0; v < s->n_ctx; v++) {
                struct vm_ctx *ctx = s->ctx[v];
                struct vs_vm_sample *vm = &sample->vms[v];
                memcpy(vm->name, ctx->cl.hv->name, sizeof(vm->name));
                vm->id = ctx->id;
                vm->restarts = ctx->sv.restarts;
                vm->console_dropped_bytes = ctx->sv.console_dropped_bytes;
                vm->start_time_ns = hv_vm_started_realtime_ns(ctx->cl.hv);
                vm->vcpus = ctx->vcpus;
                vm->raw.n_vcpus = ctx->vcpus;
                vm->raw.vcpus = calloc(ctx->vcpus, sizeof(*vm->raw.vcpus));
                vm->vcpu = calloc(ctx->vcpus, sizeof(*vm->vcpu));
                if (!vm->raw.vcpus || !vm->vcpu)
                        goto fail;
        }
        return sample;
fail:
        vs_sample_unref(sample);
        return NULL;
}

static void host_totals(struct vs_sample *sample) {
        for (unsigned v = 0; v < sample->n_vms; v++) {
                const struct vs_vm_sample *vm = &sample->vms[v];
                sample->host_vcpus += vm->vcpus;
                for (unsigned st = 0; st < HV_RS__COUNT; st++)
                        sample->host_delta_ns[st] += vm->delta_ns[st];
                sample->host_w_ns += vm->w_ns;
        }
        sample->host_ready_ratio = ratio(sample->host_delta_ns[HV_RS_RUNNABLE], sample->host_w_ns);
}

int vs_sampler_sample(struct vs_sampler *s) {
        struct timespec rt;
        pthread_mutex_lock(&s->lock);
        struct vs_sample *sample = sample_new(s);
        if (!sample) {
                pthread_mutex_unlock(&s->lock);
                return -ENOMEM;
        }
        uint64_t t0 = hv_now_ns();
        clock_gettime(CLOCK_REALTIME, &rt);
        sample->mono_ns = t0;
        sample->realtime_ns = (uint64_t) rt.tv_sec * 1000000000ull + (uint64_t) rt.tv_nsec;
        for (size_t c = 0; c < s->n_collectors; c++)
                if (s->collectors[c].enabled)
                        run_collector(s, &s->collectors[c], sample, &sample->collectors[sample->n_collectors++]);

        pthread_mutex_lock(&s->pub_lock);
        struct vs_sample *prev = vs_sample_ref(s->latest);
        pthread_mutex_unlock(&s->pub_lock);
        for (size_t v = 0; v < s->n_ctx; v++)
                derive_vm(s->ctx[v], &sample->vms[v], v, prev);
        host_totals(sample);
        sample->seq = ++s->seq;
        sample->daemon = s->daemon;
        sample->interval_ns = prev ? t0 - prev->mono_ns : 0;
        sample->duration_ns = hv_now_ns() - t0;
        for (size_t v = 0; v < s->n_ctx; v++)
                history_append(s, s->ctx[v], &sample->vms[v]);
        s->hist_mono[s->hist_head] = sample->mono_ns;
        s->hist_real[s->hist_head] = sample->realtime_ns;
        s->hist_head = (s->hist_head + 1) % s->history;

        pthread_mutex_lock(&s->pub_lock);
        struct vs_sample *old = s->latest;
        s->latest = vs_sample_ref(sample);
        pthread_mutex_unlock(&s->pub_lock);
        pthread_mutex_unlock(&s->lock);
        if (s->publish_hook)
                s->publish_hook(s->publish_opaque, sample);
        vs_sample_unref(sample);
        vs_sample_unref(old);
        vs_sample_unref(prev);
        return 0;
}

void vs_sampler_set_publish_hook(struct vs_sampler *s, vs_publish_fn *fn, void *opaque) {
        s->publish_hook = fn;
        s->publish_opaque = opaque;
}

struct vs_sample *vs_sampler_latest(struct vs_sampler *s) {
        pthread_mutex_lock(&s->pub_lock);
        struct vs_sample *r = vs_sample_ref(s->latest);
        pthread_mutex_unlock(&s->pub_lock);
        return r;
}

/* ---- timer thread ---------------------------------------------------------------------------------- */

static void *sampler_main(void *arg) {
        struct vs_sampler *s = arg;
        uint64_t start = hv_now_ns();
        uint64_t k = 1;

        pthread_mutex_lock(&s->stop_lock);
        while (!s->stop) {
                uint64_t deadline = start + k * s->interval_ns;
                struct timespec ts = { .tv_sec = (time_t) (deadline / 1000000000ull),
                                       .tv_nsec = (long) (deadline % 1000000000ull) };
                if (pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &ts) != ETIMEDOUT || s->stop)
                        continue;
                pthread_mutex_unlock(&s->stop_lock);
                vs_sampler_sample(s);
                /* deadlines stay on the start + k * interval grid; missed ones are skipped */
                k = (hv_now_ns() - start) / s->interval_ns + 1;
                pthread_mutex_lock(&s->stop_lock);
        }
        pthread_mutex_unlock(&s->stop_lock);
        return NULL;
}

int vs_sampler_start(struct vs_sampler *s) {
        if (s->running)
                return -EBUSY;
        s->stop = false;
        int r = -pthread_create(&s->thread, NULL, sampler_main, s);
        if (r == 0) {
                pthread_setname_np(s->thread, "sampler");
                s->running = true;
        }
        return r;
}

void vs_sampler_stop(struct vs_sampler *s) {
        if (!s->running)
                return;
        pthread_mutex_lock(&s->stop_lock);
        s->stop = true;
        pthread_cond_broadcast(&s->stop_cond);
        pthread_mutex_unlock(&s->stop_lock);
        pthread_join(s->thread, NULL);
        s->running = false;
}

/* ---- setup -------------------------------------------------------------------------------------------- */

int vs_sampler_new(const struct vs_sampler_config *cfg, struct vs_sampler **ret) {
        const struct collector_ops *const *reg = cfg->registry ? cfg->registry : collector_registry;
        size_t n = cfg->registry ? cfg->registry_len : collector_registry_len;
        uint64_t interval = cfg->interval_ns ? cfg->interval_ns : VS_DEFAULT_INTERVAL_NS;

        if (interval < VS_MIN_INTERVAL_NS || n > CL_MAX_COLLECTORS)
                return -EINVAL;
        struct vs_sampler *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->interval_ns = interval;
        s->history = cfg->history ? cfg->history : VS_DEFAULT_HISTORY;
        s->hist_mono = calloc(s->history, sizeof(uint64_t));
        s->hist_real = calloc(s->history, sizeof(uint64_t));
        if (!s->hist_mono || !s->hist_real) {
                free(s->hist_mono);
                free(s->hist_real);
                free(s);
                return -ENOMEM;
        }
        s->n_collectors = n;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->pub_lock, NULL);
        pthread_mutex_init(&s->stop_lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->stop_cond, &ca);
        pthread_condattr_destroy(&ca);
        for (size_t i = 0; i < n; i++) {
                struct collector *c = &s->collectors[i];
                c->ops = reg[i];
                c->slot = (unsigned) i;
                c->enabled = cfg->enable[i] < 0 ? reg[i]->enabled_by_default : cfg->enable[i] > 0;
                c->histograms = cfg->histograms;
                if (c->ops == &collector_kvm) {
                        c->stats_include = cfg->kvm_stats_include;
                        c->stats_exclude = cfg->kvm_stats_exclude;
                }
                if (c->enabled && c->ops->init && (c->init_error = c->ops->init(c)) < 0 && !c->error[0])
                        collector_fail(c, c->init_error, "%s: initialisation failed: %s", c->ops->name,
                                       strerror(-c->init_error));
                c->stats_include = c->stats_exclude = NULL; /* the caller's strings */
        }
        *ret = s;
        return 0;
}

void vs_sampler_free(struct vs_sampler *s) {
        if (!s)
                return;
        vs_sampler_stop(s);
        for (size_t i = 0; i < s->n_ctx; i++)
                ctx_free(s, s->ctx[i]);
        free(s->ctx);
        for (size_t i = 0; i < s->n_collectors; i++)
                if (s->collectors[i].enabled && s->collectors[i].ops->fini)
                        s->collectors[i].ops->fini(&s->collectors[i]);
        vs_sample_unref(s->latest);
        free(s->hist_mono);
        free(s->hist_real);
        pthread_cond_destroy(&s->stop_cond);
        pthread_mutex_destroy(&s->stop_lock);
        pthread_mutex_destroy(&s->pub_lock);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

uint64_t vs_sampler_interval_ns(const struct vs_sampler *s) {
        return s->interval_ns;
}

const struct collector *vs_sampler_collectors(const struct vs_sampler *s, size_t *ret_n) {
        *ret_n = s->n_collectors;
        return s->collectors;
}
