/* The supervisor of the configured VMs. */
#define _GNU_SOURCE
#include "manager.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/devices.h"
#include "guests/params.h"
#include "kvm.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"

#define BACKOFF_FIRST_NS 1000000000ull
#define BACKOFF_MAX_NS (60 * 1000000000ull)
#define STABLE_NS (60 * 1000000000ull)      /* a VM that ran this long resets its backoff */
#define MAX_IMAGE_BYTES (64u << 20)

struct entry {
        struct vs_vm_conf conf;
        struct hv_vm *vm;          /* NULL when it never started (autostart=no) or failed to */
        unsigned restarts;
        uint64_t started_ns;
        uint64_t backoff_ns;       /* delay before the next automatic restart */
        uint64_t restart_at_ns;    /* 0 = none scheduled */
        uint64_t console_seen;     /* console bytes already copied to the log file */
        int console_fd;
        char load_error[HV_WHY_LEN]; /* why the guest could not be loaded, "" when it could */
};

struct vs_manager {
        struct hv_kvm *kvm;
        struct vs_sampler *sampler;
        pthread_mutex_t lock;
        struct entry **e;
        size_t n;
        char console_dir[256]; /* VMs without console_log write <dir>/<name>.log */
};

static struct entry *find(struct vs_manager *m, const char *name) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->e[i]->conf.name, name) == 0)
                        return m->e[i];
        return NULL;
}

static int read_image(const char *path, void **ret, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                return -errno;
        int r = fstat(fd, &st) < 0 ? -errno : st.st_size > MAX_IMAGE_BYTES ? -EFBIG : 0;
        void *buf = r == 0 ? malloc((size_t) st.st_size + 1) : NULL;
        if (r == 0 && !buf)
                r = -ENOMEM;
        if (r == 0 && read(fd, buf, (size_t) st.st_size) != st.st_size)
                r = -EIO;
        close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = (size_t) st.st_size;
        return 0;
}

static int boot(struct hv_vm *vm, const struct vs_vm_conf *c) {
        if (!c->image[0])
                return hv_boot_builtin(vm, &c->builtin);
        struct hv_guest_params p;
        void *img = NULL;
        size_t len = 0;
        int r = hv_builtin_params(&c->builtin, &p);
        if (r < 0 || (r = read_image(c->image, &img, &len)) < 0)
                return r;
        r = hv_boot_flat(vm, img, len, c->image_entry, &p);
        free(img);
        return r;
}

/* why names the file and the problem; the loader fills it, this only covers one that did not. */
static int boot_linux(struct hv_vm *vm, const struct vs_vm_conf *c, char why[HV_WHY_LEN]) {
        struct hv_linux l = { .kernel = c->kernel, .initrd = c->initrd[0] ? c->initrd : NULL,
                              .cmdline = c->cmdline[0] ? c->cmdline : NULL, .cpuid_hide = c->cpuid_hide };
        why[0] = 0;
        int r = hv_boot_linux(vm, &l, why);
        if (r < 0 && !why[0])
                snprintf(why, HV_WHY_LEN, "%.200s: %s", c->kernel, strerror(-r));
        return r;
}

static void pin(struct entry *e) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (unsigned cpu = 0; cpu < 64; cpu++)
                if (e->conf.cpus_mask >> cpu & 1)
                        CPU_SET(cpu, &set);
        for (unsigned i = 0; i < e->vm->n_vcpus; i++) {
                pid_t tid = 0;
                for (int tries = 0; tries < 200 && !(tid = hv_vcpu_tid(e->vm->vcpus[i])); tries++)
                        usleep(500); /* the thread publishes its id as it starts */
                if (tid && sched_setaffinity(tid, sizeof(set), &set) < 0)
                        vs_log_vm(LOG_WARNING, e->conf.name, "vCPU %u: pinning to cpus: %s", i, strerror(errno));
        }
}

static void open_console_log(struct vs_manager *m, struct entry *e) {
        char path[800];
        if (e->console_fd >= 0)
                return;
        if (e->conf.console_log[0])
                snprintf(path, sizeof(path), "%s", e->conf.console_log);
        else if (m->console_dir[0])
                snprintf(path, sizeof(path), "%s/%s.log", m->console_dir, e->conf.name);
        else
                return;
        e->console_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (e->console_fd < 0)
                vs_log_vm(LOG_WARNING, e->conf.name, "console log %s: %s", path, strerror(errno));
}

/* A guest that cannot be loaded stays visible, never started, as crashed(load_error): /vms/<name>
 * and vmstatd_vm_state say so, and restart = on-crash retries with backoff (the file may be
 * fixed or appear). Without a sampler slot it goes. */
static void keep_failed(struct vs_manager *m, struct entry *e, struct hv_vm *vm, int err, const char *why) {
        snprintf(e->load_error, sizeof(e->load_error), "%s", why);
        vs_log_vm(LOG_ERR, e->conf.name, "%s", why);
        hv_vm_fail_load(vm, err);
        if (vs_sampler_add_vm(m->sampler, vm) < 0) {
                hv_vm_destroy(vm);
                return;
        }
        vs_sampler_set_restarts(m->sampler, vm, e->restarts);
        e->vm = vm;
        e->started_ns = hv_now_ns();
        e->console_seen = 0;
        e->restart_at_ns = 0;
}

/* Creates, boots, samples and starts a fresh VM for e (fresh counters, new start time). */
static int launch(struct vs_manager *m, struct entry *e) {
        struct hv_vm_config vc = { .name = e->conf.name, .vcpus = e->conf.vcpus, .ram_bytes = e->conf.memory };
        struct hv_vm *vm;
        char why[HV_WHY_LEN];
        int r = hv_vm_create(m->kvm, &vc, &vm);
        if (r < 0) {
                vs_log_vm(LOG_ERR, e->conf.name, "creating the VM (%u vCPUs, %llu MiB): %s", e->conf.vcpus,
                          (unsigned long long) (e->conf.memory >> 20), strerror(-r));
                return r;
        }
        e->load_error[0] = 0;
        if (e->conf.kernel[0] && (r = boot_linux(vm, &e->conf, why)) < 0) {
                char msg[HV_WHY_LEN + 16];
                snprintf(msg, sizeof(msg), "loading kernel: %s", why);
                keep_failed(m, e, vm, r, msg);
                return r;
        }
        if (!e->conf.kernel[0] && (r = boot(vm, &e->conf)) < 0) {
                char msg[HV_WHY_LEN];
                snprintf(msg, sizeof(msg), "loading guest %.200s: %s", e->conf.guest,
                         r == -ENOENT ? "no such entry in the image" : r == -EINVAL ? "not a valid guest image" : strerror(-r));
                keep_failed(m, e, vm, r, msg);
                return r;
        }
        if ((r = vs_sampler_add_vm(m->sampler, vm)) < 0) {
                hv_vm_destroy(vm);
                return r;
        }
        vs_sampler_set_restarts(m->sampler, vm, e->restarts);
        if ((r = hv_vm_start(vm)) < 0) {
                vs_log_vm(LOG_ERR, e->conf.name, "starting vCPU threads: %s", strerror(-r));
                vs_sampler_remove_vm(m->sampler, vm);
                hv_vm_destroy(vm);
                return r;
        }
        e->vm = vm;
        e->started_ns = hv_now_ns();
        e->console_seen = 0;
        e->restart_at_ns = 0;
        if (e->conf.cpus_mask)
                pin(e);
        open_console_log(m, e);
        vs_log_vm(LOG_INFO, e->conf.name, "started: %u vCPUs, %llu MiB, %s", e->conf.vcpus,
                  (unsigned long long) (e->conf.memory >> 20), e->conf.guest);
        return 0;
}

static void retire(struct vs_manager *m, struct entry *e) {
        if (!e->vm)
                return;
        hv_vm_stop(e->vm);
        vs_sampler_remove_vm(m->sampler, e->vm);
        hv_vm_destroy(e->vm);
        e->vm = NULL;
}

static void entry_free(struct vs_manager *m, struct entry *e) {
        retire(m, e);
        if (e->console_fd >= 0)
                close(e->console_fd);
        free(e);
}

static struct entry *entry_new(const struct vs_vm_conf *c) {
        struct entry *e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->conf = *c;
        e->conf.builtin.guest = e->conf.builtin_name; /* point into our own copy */
        e->backoff_ns = BACKOFF_FIRST_NS;
        e->console_fd = -1;
        return e;
}

int vs_manager_new(struct hv_kvm *kvm, struct vs_sampler *sampler, struct vs_manager **ret) {
        struct vs_manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->kvm = kvm;
        m->sampler = sampler;
        pthread_mutex_init(&m->lock, NULL);
        *ret = m;
        return 0;
}

void vs_manager_stop_all(struct vs_manager *m) {
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) /* kick every VM first, so they stop in parallel */
                if (m->e[i]->vm)
                        hv_vm_finish(m->e[i]->vm, HV_VM_STOPPED, HV_REASON_REQUESTED, 0, 0, NULL);
        for (size_t i = 0; i < m->n; i++)
                if (m->e[i]->vm)
                        hv_vm_stop(m->e[i]->vm);
        pthread_mutex_unlock(&m->lock);
}

void vs_manager_free(struct vs_manager *m) {
        if (!m)
                return;
        vs_manager_stop_all(m);
        for (size_t i = 0; i < m->n; i++)
                entry_free(m, m->e[i]);
        free(m->e);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

int vs_manager_apply(struct vs_manager *m, const struct vs_conf *conf) {
        int failed = 0;
        pthread_mutex_lock(&m->lock);
        snprintf(m->console_dir, sizeof(m->console_dir), "%s", conf->console_dir);
        for (size_t i = 0; i < m->n;) { /* removed VMs go */
                if (vs_conf_find_vm(conf, m->e[i]->conf.name)) {
                        i++;
                        continue;
                }
                vs_log_vm(LOG_INFO, m->e[i]->conf.name, "removed from the configuration: stopping");
                entry_free(m, m->e[i]);
                memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
                m->n--;
        }
        for (size_t i = 0; i < conf->n_vms; i++) {
                const struct vs_vm_conf *c = &conf->vms[i];
                struct entry *e = find(m, c->name);
                if (e && vs_vm_conf_equal(&e->conf, c))
                        continue; /* unchanged: untouched */
                if (e) {
                        vs_log_vm(LOG_INFO, c->name, "configuration changed: restarting");
                        retire(m, e);
                        if (e->console_fd >= 0)
                                close(e->console_fd);
                        e->conf = *c;
                        e->conf.builtin.guest = e->conf.builtin_name;
                        e->console_fd = -1;
                        e->restarts = 0;
                        e->backoff_ns = BACKOFF_FIRST_NS;
                } else {
                        struct entry **grown = realloc(m->e, (m->n + 1) * sizeof(*grown));
                        if (!grown || !(e = entry_new(c))) {
                                if (grown)
                                        m->e = grown;
                                failed++;
                                continue;
                        }
                        m->e = grown;
                        m->e[m->n++] = e;
                }
                if (c->autostart && launch(m, e) < 0)
                        failed++;
        }
        pthread_mutex_unlock(&m->lock);
        return failed;
}

static int act(struct vs_manager *m, struct entry *e, const char *verb, char *msg, size_t len) {
        enum hv_vm_state st = e->vm ? hv_vm_state(e->vm) : HV_VM_STOPPED;
        int r;
        if (strcmp(verb, "start") == 0) {
                if (st == HV_VM_RUNNING || st == HV_VM_PAUSED) {
                        snprintf(msg, len, "%s is %s already", e->conf.name, hv_vm_state_name(st));
                        return -EALREADY;
                }
                retire(m, e); /* a fresh VM: new counters, new start time */
                e->backoff_ns = BACKOFF_FIRST_NS;
                r = launch(m, e);
                if (r < 0)
                        snprintf(msg, len, "starting %s failed: %s", e->conf.name,
                                 e->load_error[0] ? e->load_error : strerror(-r));
                else
                        snprintf(msg, len, "%s is running (fresh counters)", e->conf.name);
                return r;
        }
        if (strcmp(verb, "stop") == 0) {
                if (!e->vm || st == HV_VM_STOPPED || st == HV_VM_CRASHED) {
                        snprintf(msg, len, "%s is not running", e->conf.name);
                        return -EALREADY;
                }
                hv_vm_stop(e->vm); /* stays sampled: its counters stay served */
                e->restart_at_ns = 0;
                snprintf(msg, len, "%s is stopped", e->conf.name);
                return 0;
        }
        if (strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0) {
                bool pause = verb[0] == 'p';
                r = !e->vm ? -EBUSY : pause ? hv_vm_pause(e->vm) : hv_vm_resume(e->vm);
                if (r == -EBUSY)
                        snprintf(msg, len, "%s is %s: cannot %s", e->conf.name, hv_vm_state_name(st), verb);
                else if (r < 0)
                        snprintf(msg, len, "%s %s failed: %s", verb, e->conf.name, strerror(-r));
                else
                        snprintf(msg, len, "%s is %s", e->conf.name, pause ? "paused" : "running");
                return r;
        }
        snprintf(msg, len, "unknown action '%s' (start, stop, pause, resume)", verb);
        return -EINVAL;
}

int vs_manager_action(void *manager, const char *vm, const char *verb, char *msg, size_t msg_len) {
        struct vs_manager *m = manager;
        pthread_mutex_lock(&m->lock);
        struct entry *e = find(m, vm);
        int r = e ? act(m, e, verb, msg, msg_len) : -ENOENT;
        if (!e)
                snprintf(msg, msg_len, "no such VM: %s", vm);
        pthread_mutex_unlock(&m->lock);
        if (e)
                vs_log_vm(r < 0 ? LOG_WARNING : LOG_INFO, vm, "control: %s: %s", verb, msg);
        return r;
}

static void copy_console(struct entry *e) {
        char buf[4096];
        size_t n;
        if (e->console_fd < 0 || !e->vm)
                return;
        while ((n = hv_console_read(e->vm->console, &e->console_seen, buf, sizeof(buf))) > 0)
                if (write(e->console_fd, buf, n) < 0)
                        break;
}

static void supervise(struct vs_manager *m, struct entry *e, uint64_t now) {
        if (!e->vm || hv_vm_state(e->vm) != HV_VM_CRASHED || e->conf.restart != VS_RESTART_ON_CRASH)
                return;
        if (!e->restart_at_ns) {
                struct hv_vm_outcome o;
                hv_vm_get_outcome(e->vm, &o);
                if (now - e->started_ns >= STABLE_NS)
                        e->backoff_ns = BACKOFF_FIRST_NS;
                e->restart_at_ns = now + e->backoff_ns;
                if (o.reason == HV_REASON_LOAD_ERROR)
                        vs_log_vm(LOG_ERR, e->conf.name, "could not be loaded (%s); retrying in %.0f s", e->load_error,
                                  (double) e->backoff_ns / 1e9);
                else
                        vs_log_vm(LOG_ERR, e->conf.name, "crashed (%s, detail %llu) on vCPU %d; restarting in %.0f s\n%s",
                                  hv_vm_reason_name(o.reason), (unsigned long long) o.detail, o.vcpu,
                                  (double) e->backoff_ns / 1e9, o.regs);
                return;
        }
        if (now < e->restart_at_ns)
                return;
        e->backoff_ns = e->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : e->backoff_ns * 2;
        e->restarts++;
        retire(m, e);
        launch(m, e);
}

void vs_manager_tick(struct vs_manager *m) {
        uint64_t now = hv_now_ns();
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) {
                copy_console(m->e[i]);
                supervise(m, m->e[i], now);
        }
        pthread_mutex_unlock(&m->lock);
}

long vs_manager_console_tail(void *manager, const char *vm, char *buf, size_t max) {
        struct vs_manager *m = manager;
        long n = -ENOENT;
        pthread_mutex_lock(&m->lock);
        struct entry *e = find(m, vm);
        if (e)
                n = e->vm ? (long) hv_console_tail(e->vm->console, buf, max) : 0;
        pthread_mutex_unlock(&m->lock);
        return n;
}

void vs_manager_counts(struct vs_manager *m, struct vs_manager_counts *ret) {
        *ret = (struct vs_manager_counts) { 0 };
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) {
                struct entry *e = m->e[i];
                enum hv_vm_state st = e->vm ? hv_vm_state(e->vm) : HV_VM_STOPPED;
                ret->vms++;
                ret->vcpus += e->conf.vcpus;
                ret->running += st == HV_VM_RUNNING;
                ret->paused += st == HV_VM_PAUSED;
                ret->stopped += st == HV_VM_STOPPED || st == HV_VM_CREATED;
                ret->crashed += st == HV_VM_CRASHED;
        }
        pthread_mutex_unlock(&m->lock);
}
