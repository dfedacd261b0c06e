/* vmstatctl: vmstatd's command-line client. Reads (list, stats, top) go over the control socket
 * or, with --url, over the daemon's read-only HTTP port; actions (start, stop, pause, resume)
 * only over the control socket, and guest consoles there too unless the daemon serves them over
 * HTTP (console_over_http). Prints the server's own JSON with --json. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "paths.h"

#define VMSTATCTL_VERSION "0.1.0"
#define SYSTEM_SOCKET VS_RUNTIME_DIR_SYSTEM "/" VS_CONTROL_SOCKET_NAME

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct ctl {
        const char *socket;   /* the control socket, unless url */
        char *url;            /* http://host:port without a trailing slash, or NULL */
        bool json;
        long iterations;      /* top: refreshes before exiting, 0 = until q */
        CURL *curl;           /* one handle: the connection is kept alive across requests */
        char curl_error[CURL_ERROR_SIZE];
};

struct reply {
        long status;
        char *body;
        size_t len;
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: vmstatctl [OPTIONS] COMMAND [NAME]\n"
                "Shows and controls the KVM guests vmstatd runs.\n\n"
                "Commands:\n"
                "  list                   every VM: state, vCPUs, memory, uptime, ready %%, steal %%, exits/s\n"
                "  stats NAME             every counter of every vCPU of a VM, with what it means\n"
                "  top [NAME]             live per-vCPU view (%%RUN %%RDY %%GST guest steal %%BLK %%OFF, exits/s by\n"
                "                         reason); q quits\n"
                "  console NAME           the last 64 KiB the guest wrote to its console\n"
                "  start|stop|pause|resume NAME\n"
                "                         act on a VM (control socket only)\n"
                "  daemon-reexec          vmstatd executes its binary anew (an upgrade): guests keep running,\n"
                "                         counters continue, no scrape fails (control socket only)\n\n"
                "Options:\n"
                "  -s, --socket PATH      control socket (default: the one vmstatd makes for this user\n"
                "                         when it exists, as vmstatd picks its runtime directory:\n"
                "                         $RUNTIME_DIRECTORY, /run/vmstatd for root, $XDG_RUNTIME_DIR/vmstatd,\n"
                "                         /tmp/vmstatd-UID; else " SYSTEM_SOCKET ")\n"
                "  -u, --url URL          read over HTTP instead, e.g. http://127.0.0.1:9400\n"
                "  -j, --json             print the server's JSON (top: one document per VM per refresh)\n"
                "  -n, --iterations N     top: exit after N refreshes\n"
                "  -h, --help, --version\n\n"
                "Exit status: 0 ok, 1 the daemon could not be reached or refused, 2 usage.\n");
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t n, void *opaque) {
        struct reply *r = opaque;
        char *body = realloc(r->body, r->len + size * n + 1);
        if (!body)
                return 0;
        memcpy(body + r->len, p, size * n);
        r->len += size * n;
        body[r->len] = 0;
        r->body = body;
        return size * n;
}

static const char *where(const struct ctl *c) {
        return c->url ? c->url : c->socket;
}

/* 0 with the reply (any status), -1 when the daemon could not be reached (said on stderr) */
static int request(struct ctl *c, const char *method, const char *path, struct reply *ret) {
        char url[1024];
        *ret = (struct reply) { 0 };
        snprintf(url, sizeof(url), "%s%s", c->url ? c->url : "http://localhost", path);
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->url ? NULL : c->socket);
        if (strcmp(method, "POST") == 0) {
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
                curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L); /* stopping a VM joins its threads */
        } else {
                curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
                curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
        }
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, ret);
        c->curl_error[0] = 0;
        CURLcode e = curl_easy_perform(c->curl);
        if (e != CURLE_OK) {
                long os_errno = 0;
                curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
                const char *why = os_errno ? strerror((int) os_errno)
                                : c->curl_error[0] ? c->curl_error : curl_easy_strerror(e);
                fprintf(stderr, "vmstatctl: cannot reach vmstatd at %s: %s (%s)\n", where(c), why,
                        c->url ? "is vmstatd running and listening there?"
                               : "is vmstatd running? are you in group vmstatd?");
                free(ret->body);
                *ret = (struct reply) { 0 };
                return -1;
        }
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &ret->status);
        if (!ret->body)
                ret->body = strdup("");
        return 0;
}

/* The reply as JSON; NULL (said on stderr) when it is not JSON. */
static json_t *reply_json(const struct reply *r, const char *what) {
        json_error_t err;
        json_t *j = json_loadb(r->body, r->len, 0, &err);
        if (!j)
                fprintf(stderr, "vmstatctl: %s: the reply (HTTP %ld) is not JSON: %s\n", what, r->status, err.text);
        return j;
}

/* the error sentence of an error reply, or a description of the status */
static void say_error(const struct reply *r, const char *what) {
        json_t *j = json_loadb(r->body, r->len, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "error"));
        if (msg)
                fprintf(stderr, "vmstatctl: %s: %s\n", what, msg);
        else
                fprintf(stderr, "vmstatctl: %s: HTTP %ld from vmstatd\n", what, r->status);
        json_decref(j);
}

/* GET path: 0 with a 200's reply, or EXIT_FAIL (said; with --json an error body is printed as
 * the server sent it). */
static int get_ok(struct ctl *c, const char *path, const char *what, struct reply *r) {
        if (request(c, "GET", path, r) < 0)
                return EXIT_FAIL;
        if (r->status == 200)
                return 0;
        if (c->json)
                fputs(r->body, stdout);
        say_error(r, what);
        free(r->body);
        return EXIT_FAIL;
}

/* GET path: 0 with the parsed document (and the raw body when ret_raw), or EXIT_FAIL (said). */
static int get_json(struct ctl *c, const char *path, const char *what, json_t **ret, char **ret_raw) {
        struct reply r;
        if (get_ok(c, path, what, &r))
                return EXIT_FAIL;
        json_t *j = reply_json(&r, what);
        if (j && ret_raw)
                *ret_raw = r.body;
        else
                free(r.body);
        if (!j)
                return EXIT_FAIL;
        *ret = j;
        return 0;
}

/* ---- formatting ---------------------------------------------------------------------------- */

/* o["a.b.c"]: NULL when any step is missing */
static json_t *jpath(json_t *o, const char *path) {
        char key[64];
        while (o && *path) {
                size_t n = strcspn(path, ".");
                if (n >= sizeof(key))
                        return NULL;
                memcpy(key, path, n);
                key[n] = 0;
                o = json_object_get(o, key);
                path += n + (path[n] == '.');
        }
        return o;
}

static double jnum(json_t *o, const char *path) {
        json_t *v = jpath(o, path);
        return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *jstr(json_t *o, const char *path, const char *dflt) {
        const char *s = json_string_value(jpath(o, path));
        return s ? s : dflt;
}

static char *fmt_bytes(char *buf, size_t len, double b) {
        const char *units = "BKMGTP";
        int u = 0;
        if (isnan(b))
                return strcpy(buf, "-");
        while (b >= 1024 && u < 5) {
                b /= 1024;
                u++;
        }
        if (u == 0 || b >= 10 || b == floor(b))
                snprintf(buf, len, "%.0f%c", b, units[u]);
        else
                snprintf(buf, len, "%.1f%c", b, units[u]);
        return buf;
}

static char *fmt_uptime(char *buf, size_t len, double s) {
        if (isnan(s) || s < 0)
                return strcpy(buf, "-");
        unsigned long t = (unsigned long) s;
        if (t < 60)
                snprintf(buf, len, "%lus", t);
        else if (t < 3600)
                snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
        else if (t < 86400)
                snprintf(buf, len, "%luh%02lum", t / 3600, t % 3600 / 60);
        else
                snprintf(buf, len, "%lud%02luh", t / 86400, t % 86400 / 3600);
        return buf;
}

/* at most 7 characters: 123456, 1234.5k, 12.3M */
static char *fmt_rate(char *buf, size_t len, double v) {
        if (isnan(v))
                snprintf(buf, len, "-");
        else if (v < 999999.5)
                snprintf(buf, len, "%.0f", v);
        else if (v < 999.95e6)
                snprintf(buf, len, "%.1fM", v / 1e6);
        else
                snprintf(buf, len, "%.1fG", v / 1e9);
        return buf;
}

static char *fmt_pct(char *buf, size_t len, double v) {
        if (isnan(v))
                snprintf(buf, len, "-");
        else
                snprintf(buf, len, "%.2f", v);
        return buf;
}

static bool vm_name_valid(const char *s) {
        size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");
        return n > 0 && n <= 32 && s[n] == 0;
}

/* ---- list ------------------------------------------------------------------------------------- */

static int cmd_list(struct ctl *c) {
        json_t *doc;
        char *raw = NULL;
        int r = get_json(c, "/vms", "list", &doc, &raw);
        if (r)
                return r;
        if (c->json) {
                fputs(raw, stdout);
                free(raw);
                json_decref(doc);
                return EXIT_OK;
        }
        free(raw);
        json_t *vms = json_object_get(doc, "vms"), *vm;
        size_t i, w = 4;
        json_array_foreach(vms, i, vm) {
                size_t n = strlen(jstr(vm, "name", "?"));
                w = n > w ? n : w;
        }
        printf("%-*s  %-7s  %5s  %6s  %7s  %6s  %6s  %8s\n", (int) w, "NAME", "STATE", "VCPUS", "MEMORY", "UPTIME",
               "READY%", "STEAL%", "EXITS/s");
        json_array_foreach(vms, i, vm) {
                char mem[16], up[32], rdy[16], stl[16], ex[16];
                printf("%-*s  %-7s  %5.0f  %6s  %7s  %6s  %6s  %8s\n", (int) w, jstr(vm, "name", "?"),
                       jstr(vm, "state", "?"), jnum(vm, "vcpus"), fmt_bytes(mem, sizeof(mem), jnum(vm, "memory_bytes")),
                       fmt_uptime(up, sizeof(up), jnum(vm, "uptime_seconds")),
                       fmt_pct(rdy, sizeof(rdy), jnum(vm, "ready_pct")),
                       fmt_pct(stl, sizeof(stl), jnum(vm, "steal_pct.kvm")),
                       fmt_rate(ex, sizeof(ex), jnum(vm, "exits_per_sec")));
        }
        json_decref(doc);
        return EXIT_OK;
}

/* ---- stats: every counter with what it means (bhyvectl --get-stats) -------------------------- */

struct desc {
        const char *name, *text;
};

static const struct desc exit_descs[] = {
        { "io_in", "KVM_EXIT_IO: port read (IN) handled in userspace" },
        { "io_out", "KVM_EXIT_IO: port write (OUT) handled in userspace" },
        { "mmio_read", "KVM_EXIT_MMIO: MMIO read handled in userspace" },
        { "mmio_write", "KVM_EXIT_MMIO: MMIO write handled in userspace" },
        { "hlt", "KVM_EXIT_HLT: HLT reached userspace" },
        { "intr", "KVM_EXIT_INTR: KVM_RUN interrupted (signal or kick)" },
        { "shutdown", "KVM_EXIT_SHUTDOWN: triple fault" },
        { "system_event", "KVM_EXIT_SYSTEM_EVENT: reset, shutdown or crash request" },
        { "internal_error", "KVM_EXIT_INTERNAL_ERROR: KVM could not go on (e.g. emulation)" },
        { "fail_entry", "KVM_EXIT_FAIL_ENTRY: the CPU refused VM entry" },
        { "hypercall", "KVM_EXIT_HYPERCALL: hypercall forwarded to userspace" },
        { "msr", "KVM_EXIT_X86_RDMSR/WRMSR: MSR access forwarded to userspace" },
        { "debug", "KVM_EXIT_DEBUG: debug exception or single step" },
        { "irq_window", "KVM_EXIT_IRQ_WINDOW_OPEN: the guest can take an interrupt" },
        { "unknown", "any other KVM_RUN exit reason" },
        { NULL, NULL },
};

/* the kernel names its stats; these are x86's (virt/kvm/kvm_main.c, arch/x86/kvm/x86.c) */
static const struct desc kvm_descs[] = {
        { "halt_successful_poll", "halt polls that saw a wake-up before sleeping" },
        { "halt_attempted_poll", "halt polls attempted" },
        { "halt_poll_invalid", "halt polls ended by an invalid wake-up" },
        { "halt_wakeup", "wake-ups from halt" },
        { "halt_poll_success_ns", "time polling in successful halt polls (s)" },
        { "halt_poll_fail_ns", "time polling in failed halt polls (s)" },
        { "halt_wait_ns", "time halted, waiting for a wake-up (s)" },
        { "blocking", "1 while the vCPU is blocked in halt" },
        { "pf_taken", "page faults KVM took" },
        { "pf_fixed", "page faults fixed by mapping a page" },
        { "pf_emulate", "page faults resolved by emulating the instruction" },
        { "pf_spurious", "page faults another vCPU had already fixed" },
        { "pf_fast", "page faults fixed on the lockless fast path" },
        { "pf_mmio_spte_created", "MMIO SPTEs created" },
        { "pf_guest", "page faults injected into the guest" },
        { "tlb_flush", "TLB flushes of this vCPU" },
        { "invlpg", "INVLPG instructions emulated" },
        { "exits", "VM exits KVM handled (in-kernel and to userspace)" },
        { "io_exits", "port I/O exits KVM sent to userspace" },
        { "mmio_exits", "MMIO exits KVM sent to userspace" },
        { "signal_exits", "exits to userspace for a pending signal" },
        { "irq_window_exits", "interrupt-window exits" },
        { "nmi_window_exits", "NMI-window exits" },
        { "l1d_flush", "L1D cache flushes (L1TF mitigation)" },
        { "halt_exits", "HLT exits" },
        { "request_irq_exits", "exits to userspace to request an interrupt window" },
        { "irq_exits", "exits caused by a host interrupt" },
        { "host_state_reload", "full host state reloads" },
        { "fpu_reload", "guest FPU state loads" },
        { "insn_emulation", "instructions KVM emulated" },
        { "insn_emulation_fail", "instructions KVM failed to emulate" },
        { "hypercalls", "hypercalls KVM handled" },
        { "irq_injections", "interrupts injected" },
        { "nmi_injections", "NMIs injected" },
        { "req_event", "pending-event requests processed" },
        { "nested_run", "nested VM entries (the guest ran its own guest)" },
        { "directed_yield_attempted", "PV directed yields attempted" },
        { "directed_yield_successful", "PV directed yields that succeeded" },
        { "preemption_reported", "preemptions reported to the guest (steal time)" },
        { "preemption_other", "preemptions not reported to the guest" },
        { "guest_mode", "1 while the vCPU runs a nested guest" },
        { "notify_window_exits", "notify VM exits (guest stuck in an uninterruptible state)" },
        { "remote_tlb_flush", "remote TLB flushes" },
        { "remote_tlb_flush_requests", "remote TLB flush requests" },
        { "mmu_shadow_zapped", "shadow pages zapped" },
        { "mmu_pte_write", "guest writes to shadowed page tables" },
        { "mmu_pde_zapped", "shadow PDEs zapped" },
        { "mmu_flooded", "shadow pages zapped for being written too often" },
        { "mmu_recycled", "shadow pages recycled" },
        { "mmu_cache_miss", "shadow page cache misses" },
        { "mmu_unsync", "unsynced shadow pages" },
        { "pages_4k", "guest memory mapped with 4 KiB pages (pages)" },
        { "pages_2m", "guest memory mapped with 2 MiB pages (pages)" },
        { "pages_1g", "guest memory mapped with 1 GiB pages (pages)" },
        { "nx_lpage_splits", "huge pages split for NX (iTLB multihit mitigation)" },
        { "max_mmu_rmap_size", "largest reverse-map chain (peak)" },
        { "max_mmu_page_hash_collisions", "most shadow-page hash collisions (peak)" },
        { NULL, NULL },
};

static const char *describe(const struct desc *d, const char *name) {
        for (; d->name; d++)
                if (strcmp(d->name, name) == 0)
                        return d->text;
        return NULL;
}

/* one line: COUNTER VALUE LAST-INTERVAL DESCRIPTION */
static void stat_line(const char *prefix, const char *name, json_t *value, const char *interval, const char *desc) {
        char key[96], val[32];
        snprintf(key, sizeof(key), "%s%s", prefix, name);
        if (json_is_integer(value))
                snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        else if (json_is_real(value))
                snprintf(val, sizeof(val), "%.6f", json_real_value(value));
        else
                snprintf(val, sizeof(val), "-");
        printf("  %-36s %18s %14s  %s\n", key, val, interval ? interval : "", desc ? desc : "");
}

static const char *rate_text(char *buf, size_t len, json_t *rate) {
        if (!json_is_number(rate))
                return "";
        snprintf(buf, len, "%.1f/s", json_number_value(rate));
        return buf;
}

static const char *pct_text(char *buf, size_t len, json_t *pct) {
        if (!json_is_number(pct))
                return "";
        snprintf(buf, len, "%.2f%%", json_number_value(pct));
        return buf;
}

/* perf kvm stat's table: per exit reason, how many, mean and max handling time, share of it all */
static void exit_reason_table(json_t *by_reason, json_t *sum) {
        const char *reason;
        json_t *r;
        double all = json_number_value(sum);
        if (!json_object_size(by_reason))
                return;
        printf("  %-16s %12s %12s %12s %8s\n", "exit handling", "count", "mean", "max", "time%");
        json_object_foreach(by_reason, reason, r) {
                double t = json_number_value(json_object_get(r, "sum_seconds"));
                printf("  %-16s %12.0f %9.2f us %9.2f us %7.2f%%\n", reason, json_number_value(json_object_get(r, "count")),
                       json_number_value(json_object_get(r, "mean_seconds")) * 1e6,
                       json_number_value(json_object_get(r, "max_seconds")) * 1e6, all > 0 ? 100 * t / all : 0.0);
        }
}

/* kvm.{stat} with kvm_per_sec; histograms show how many values they hold */
static void kvm_lines(json_t *o) {
        json_t *kvm = json_object_get(o, "kvm"), *rates = json_object_get(o, "kvm_per_sec"), *v;
        const char *name;
        char buf[48], hdesc[160];
        json_object_foreach(kvm, name, v) {
                const char *d = describe(kvm_descs, name);
                if (json_is_object(v)) { /* {"buckets": [...], "sum": s} */
                        json_t *b;
                        size_t i;
                        json_int_t n = 0;
                        json_array_foreach(json_object_get(v, "buckets"), i, b)
                                n += json_integer_value(b);
                        snprintf(hdesc, sizeof(hdesc), "histogram: values counted in %zu buckets%s",
                                 json_array_size(json_object_get(v, "buckets")),
                                 json_object_get(v, "sum") ? ", sum in s" : "");
                        json_t *count = json_integer(n);
                        stat_line("kvm.", name, count, "", hdesc);
                        json_decref(count);
                        continue;
                }
                size_t len = strlen(name);
                if (!d && len > 3 && (strcmp(name + len - 3, "_ns") == 0 || strcmp(name + len - 3, "_us") == 0))
                        d = "kernel statistic, time (s)";
                stat_line("kvm.", name, v, rate_text(buf, sizeof(buf), json_object_get(rates, name)),
                          d ? d : "kernel statistic (KVM stats fd)");
        }
}

static void vcpu_stats(json_t *v) {
        static const struct desc runstate[] = {
                { "running", "on a host CPU (the vCPU thread's CPU time), s" },
                { "runnable", "ready to run, waiting for a host CPU (run_delay), s" },
                { "blocked", "idle: guest halted or waiting in the VMM, s" },
                { "offline", "not started, paused or stopped, s" },
                { NULL, NULL },
        };
        static const struct desc sched[] = {
                { "cpu_seconds", "CPU time of the vCPU thread, s" },
                { "run_delay_seconds", "time runnable but not running (schedstat), s" },
                { "timeslices", "timeslices run on a host CPU" },
                { "migrations", "moves to another host CPU" },
                { "voluntary_switches", "context switches the thread asked for (sleep, halt)" },
                { "involuntary_switches", "context switches forced by preemption" },
                { NULL, NULL },
        };
        char buf[48];
        json_t *x;
        json_t *tid = json_object_get(v, "tid");
        if (json_is_integer(tid))
                printf("vcpu %.0f (thread %" JSON_INTEGER_FORMAT ")\n", jnum(v, "id"), json_integer_value(tid));
        else
                printf("vcpu %.0f (no thread)\n", jnum(v, "id"));
        for (const struct desc *d = runstate; d->name; d++)
                stat_line("runstate_seconds.", d->name, jpath(json_object_get(v, "runstate_seconds"), d->name),
                          pct_text(buf, sizeof(buf), jpath(json_object_get(v, "runstate_pct"), d->name)), d->text);
        stat_line("", "ready_pct", NULL, pct_text(buf, sizeof(buf), json_object_get(v, "ready_pct")),
                  "CPU ready: runnable / interval (esxtop %RDY)");
        stat_line("", "steal_pct.kvm", NULL, pct_text(buf, sizeof(buf), jpath(v, "steal_pct.kvm")),
                  "steal as KVM reports it to the guest: runnable / interval");
        stat_line("", "steal_pct.xen", NULL, pct_text(buf, sizeof(buf), jpath(v, "steal_pct.xen")),
                  "steal as Xen counts it: (runnable + offline) / interval");
        stat_line("", "guest_steal_seconds", json_object_get(v, "guest_steal_seconds"),
                  pct_text(buf, sizeof(buf), json_object_get(v, "guest_steal_pct")),
                  "steal the guest sees in its MSR_KVM_STEAL_TIME record (record: on, off, invalid, never)");
        printf("  %-36s %18s\n", "guest_steal_record", jstr(v, "guest_steal_record", "-"));
        for (const struct desc *d = exit_descs; d->name; d++)
                stat_line("exits.", d->name, jpath(json_object_get(v, "exits"), d->name),
                          rate_text(buf, sizeof(buf), jpath(json_object_get(v, "exits_per_sec"), d->name)), d->text);
        stat_line("", "runs", json_object_get(v, "runs"), rate_text(buf, sizeof(buf), jpath(v, "rates.runs")),
                  "KVM_RUN calls (= the sum of exits)");
        stat_line("", "immediate_exits", json_object_get(v, "immediate_exits"),
                  rate_text(buf, sizeof(buf), jpath(v, "rates.immediate_exits")),
                  "KVM_RUN calls that returned at once for a kick");
        stat_line("", "unhandled.io", jpath(v, "unhandled.io"), rate_text(buf, sizeof(buf), jpath(v, "rates.unhandled_io")),
                  "port accesses no device claims (reads see all-ones)");
        stat_line("", "unhandled.mmio", jpath(v, "unhandled.mmio"),
                  rate_text(buf, sizeof(buf), jpath(v, "rates.unhandled_mmio")),
                  "MMIO accesses no device claims (reads see all-ones)");
        stat_line("", "exit_handling.count", jpath(v, "exit_handling.count"), "", "exits timed in userspace");
        stat_line("", "exit_handling.sum_seconds", jpath(v, "exit_handling.sum_seconds"), "",
                  "time from KVM_RUN returning to the next call, s");
        exit_reason_table(jpath(v, "exit_handling.by_reason"), jpath(v, "exit_handling.sum_seconds"));
        if ((x = json_object_get(v, "sched")))
                for (const struct desc *d = sched; d->name; d++) {
                        char rate_key[64];
                        snprintf(rate_key, sizeof(rate_key), "rates.%s", d->name);
                        stat_line("sched.", d->name, json_object_get(x, d->name),
                                  rate_text(buf, sizeof(buf), jpath(x, rate_key)), d->text);
                }
        if ((x = json_object_get(v, "perf"))) {
                stat_line("perf.", "instructions", json_object_get(x, "instructions"),
                          rate_text(buf, sizeof(buf), json_object_get(x, "ips")), "instructions retired in the guest");
                stat_line("perf.", "cycles", json_object_get(x, "cycles"), "", "CPU cycles in the guest");
        }
        kvm_lines(v);
}

static int cmd_stats(struct ctl *c, const char *name) {
        char path[64], what[64], mem[16], res[16], up[32];
        json_t *vm, *v;
        char *raw = NULL;
        size_t i;
        snprintf(path, sizeof(path), "/vms/%s", name);
        snprintf(what, sizeof(what), "stats %s", name);
        int r = get_json(c, path, what, &vm, &raw);
        if (r)
                return r;
        if (c->json) {
                fputs(raw, stdout);
                free(raw);
                json_decref(vm);
                return EXIT_OK;
        }
        free(raw);
        printf("VM %s: %s, %.0f vCPUs, %s RAM (%s resident), up %s, restarts %.0f\n", jstr(vm, "name", name),
               jstr(vm, "state", "?"), jnum(vm, "config.vcpus"), fmt_bytes(mem, sizeof(mem), jnum(vm, "memory.ram_bytes")),
               fmt_bytes(res, sizeof(res), jnum(vm, "memory.resident_bytes")),
               fmt_uptime(up, sizeof(up), jnum(vm, "uptime_seconds")), jnum(vm, "restarts"));
        printf("sample %s, interval %.3f s; LAST INTERVAL = rate or share of the last interval\n\n",
               jstr(vm, "sample_time", "-"), jnum(vm, "interval_seconds"));
        printf("  %-36s %18s %14s  %s\n", "COUNTER", "VALUE", "LAST INTERVAL", "DESCRIPTION");
        json_array_foreach(json_object_get(vm, "vcpus"), i, v) {
                vcpu_stats(v);
                printf("\n");
        }
        printf("vm\n");
        kvm_lines(vm);
        json_decref(vm);
        return EXIT_OK;
}

/* ---- top --------------------------------------------------------------------------------------- */

static struct termios saved_tio;
static bool tio_saved, cursor_hidden;
static volatile sig_atomic_t got_signal;

static void terminal_restore(void) {
        if (cursor_hidden) {
                fputs("\033[?25h", stdout);
                fflush(stdout);
                cursor_hidden = false;
        }
        if (tio_saved) {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
                tio_saved = false;
        }
}

static void on_signal(int sig) {
        got_signal = sig;
}

/* Keys without Enter and without echo. VMIN = VTIME = 0 makes read() return at once, i.e.
 * stdin is non-blocking without O_NONBLOCK, which would stay on the file description the
 * shell shares with us if we died. ISIG stays: ^C is a SIGINT we catch. */
static void terminal_raw(void) {
        struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll() wakes up */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGQUIT, &sa, NULL);
        atexit(terminal_restore);
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
                return;
        struct termios raw = saved_tio;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
                tio_saved = true;
}

/* waits up to ms for q (true) or a signal (true); false when the time is up */
static bool wait_for_quit(int ms) {
        struct timespec now, end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += ms / 1000;
        end.tv_nsec += (long) (ms % 1000) * 1000000L;
        if (end.tv_nsec >= 1000000000L) {
                end.tv_sec++;
                end.tv_nsec -= 1000000000L;
        }
        for (;;) {
                if (got_signal)
                        return true;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long left = (end.tv_sec - now.tv_sec) * 1000L + (end.tv_nsec - now.tv_nsec) / 1000000L;
                if (left <= 0)
                        return false;
                struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
                bool tty_in = tio_saved;
                int n = poll(tty_in ? &p : NULL, tty_in ? 1 : 0, (int) left);
                if (n > 0) {
                        char keys[32];
                        ssize_t k = read(STDIN_FILENO, keys, sizeof(keys));
                        for (ssize_t i = 0; i < k; i++)
                                if (keys[i] == 'q' || keys[i] == 'Q')
                                        return true;
                        if (k == 0 && (p.revents & POLLHUP))
                                tio_saved = false; /* the terminal went away: stop polling it */
                }
        }
}

/* the exit reasons shown as columns; the rest add up in OTHER */
static const char *const top_reasons[] = { "io_in", "io_out", "mmio_read", "mmio_write", "hlt", "intr" };
#define N_TOP_REASONS (sizeof(top_reasons) / sizeof(top_reasons[0]))

static void top_row(FILE *f, const char *vm, const char *state, const char *vcpu, json_t *o, json_t *exits_per_sec,
                    double total_exits) {
        char run[16], rdy[16], gst[16], blk[16], off[16], stl[16], ex[16], cols[N_TOP_REASONS + 1][16];
        double other = total_exits;
        for (size_t i = 0; i < N_TOP_REASONS; i++) {
                double r = jnum(exits_per_sec, top_reasons[i]);
                fmt_rate(cols[i], sizeof(cols[i]), r);
                if (!isnan(r))
                        other -= r;
        }
        fmt_rate(cols[N_TOP_REASONS], sizeof(cols[0]), other < 0.5 ? 0 : other);
        fprintf(f, "%-12.12s %-7s %4s %6s %6s %6s %6s %6s %6s %8s %7s %7s %7s %7s %7s %7s %7s\n", vm, state, vcpu,
                fmt_pct(run, sizeof(run), jnum(o, "runstate_pct.running")),
                fmt_pct(rdy, sizeof(rdy), jnum(o, "runstate_pct.runnable")),
                fmt_pct(gst, sizeof(gst), jnum(o, "guest_steal_pct")), /* the guest's own view, beside %RDY */
                fmt_pct(blk, sizeof(blk), jnum(o, "runstate_pct.blocked")),
                fmt_pct(off, sizeof(off), jnum(o, "runstate_pct.offline")),
                fmt_pct(stl, sizeof(stl), jnum(o, "steal_pct.kvm")), fmt_rate(ex, sizeof(ex), total_exits), cols[0],
                cols[1], cols[2], cols[3], cols[4], cols[5], cols[6]);
}

static double sum_rates(json_t *rates) {
        const char *k;
        json_t *v;
        double s = 0;
        json_object_foreach(rates, k, v)
                s += json_is_number(v) ? json_number_value(v) : 0;
        return s;
}

/* one VM: a line of averages over its vCPUs, then one per vCPU */
static void top_vm(FILE *f, json_t *vm) {
        const char *name = jstr(vm, "name", "?"), *state = jstr(vm, "state", "?");
        json_t *vcpus = json_object_get(vm, "vcpus"), *v;
        json_t *sum = json_object();
        double total = 0;
        size_t i;
        json_array_foreach(vcpus, i, v) { /* exits/s by reason summed over vCPUs */
                const char *k;
                json_t *r;
                json_object_foreach(json_object_get(v, "exits_per_sec"), k, r) {
                        double prev = jnum(sum, k);
                        json_object_set_new(sum, k, json_real((isnan(prev) ? 0 : prev) + json_number_value(r)));
                }
        }
        total = sum_rates(sum);
        top_row(f, name, state, "all", vm, sum, total);
        json_decref(sum);
        json_array_foreach(vcpus, i, v) {
                char id[24];
                snprintf(id, sizeof(id), "%zu", i);
                json_t *rates = json_object_get(v, "exits_per_sec");
                top_row(f, "", "", id, v, rates, sum_rates(rates));
        }
}

/* Writes lines cut to the terminal's size when it is one (a frame must not scroll). */
static void emit_frame(const char *text, bool tty) {
        struct winsize ws = { 0 };
        if (!tty) {
                fputs(text, stdout);
                fputs("\n", stdout);
                fflush(stdout);
                return;
        }
        ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
        fputs("\033[H\033[2J", stdout);
        unsigned row = 0;
        for (const char *p = text; *p; row++) {
                size_t n = strcspn(p, "\n");
                if (ws.ws_row && row + 1 >= ws.ws_row)
                        break;
                fwrite(p, 1, ws.ws_col && n > ws.ws_col ? ws.ws_col : n, stdout);
                fputc('\n', stdout); /* the tty's ONLCR adds the \r */
                p += n + (p[n] == '\n');
        }
        fflush(stdout);
}

/* one refresh: 0, or EXIT_FAIL (said); *ret_interval from the daemon */
static int top_refresh(struct ctl *c, const char *only, bool tty, double *ret_interval) {
        json_t *list = NULL, *item;
        size_t i;
        int r = get_json(c, "/vms", "top", &list, NULL);
        if (r)
                return r;
        /* refresh at the daemon's pace, at most once a second (every sample is one interval) */
        double interval = jnum(list, "interval_seconds");
        *ret_interval = isnan(interval) || interval < 1 ? 1 : interval;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) {
                json_decref(list);
                return EXIT_FAIL;
        }
        if (!c->json) {
                fprintf(f, "vmstatd top - %s - %s - sample %s (interval %.3g s), refresh %.3g s - q quits\n",
                        where(c), only ? only : "all VMs", jstr(list, "sample_time", "-"), interval, *ret_interval);
                fprintf(f, "%-12s %-7s %4s %6s %6s %6s %6s %6s %6s %8s %7s %7s %7s %7s %7s %7s %7s\n", "VM", "STATE",
                        "VCPU", "%RUN", "%RDY", "%GST", "%BLK", "%OFF", "%STEAL", "EXITS/s", "IO_IN", "IO_OUT", "MMIO_R",
                        "MMIO_W", "HLT", "INTR", "OTHER");
        }
        bool found = !only;
        json_array_foreach(json_object_get(list, "vms"), i, item) {
                const char *name = jstr(item, "name", "");
                if (only && strcmp(only, name) != 0)
                        continue;
                found = true;
                char path[64];
                json_t *vm;
                char *raw = NULL;
                snprintf(path, sizeof(path), "/vms/%s", name);
                if (get_json(c, path, "top", &vm, c->json ? &raw : NULL) != 0)
                        continue; /* it went away between the two requests */
                if (c->json) {
                        char *compact = json_dumps(vm, JSON_COMPACT);
                        fprintf(f, "%s\n", compact ? compact : raw);
                        free(compact);
                        free(raw);
                } else {
                        top_vm(f, vm);
                }
                json_decref(vm);
        }
        fclose(f);
        json_decref(list);
        if (!found) {
                free(text);
                fprintf(stderr, "vmstatctl: top %s: no such VM\n", only);
                return EXIT_FAIL;
        }
        if (c->json) {
                fputs(text, stdout);
                fflush(stdout);
        } else {
                emit_frame(text, tty);
        }
        free(text);
        return 0;
}

static int cmd_top(struct ctl *c, const char *only) {
        bool tty = isatty(STDOUT_FILENO) && !c->json;
        int r = EXIT_OK;
        terminal_raw();
        if (tty) {
                fputs("\033[?25l", stdout); /* no cursor blinking over the table */
                cursor_hidden = true;
        }
        for (long n = 0; !got_signal; n++) {
                double interval;
                if ((r = top_refresh(c, only, tty, &interval)) != 0)
                        break;
                if (c->iterations && n + 1 >= c->iterations)
                        break;
                if (wait_for_quit((int) (interval * 1000)))
                        break;
        }
        terminal_restore();
        if (got_signal && got_signal != SIGINT) { /* die of it, as the shell expects */
                signal(got_signal, SIG_DFL);
                raise(got_signal);
        }
        return r;
}

/* ---- actions ---------------------------------------------------------------------------------- */

/* POST /vms/NAME/VERB, or /daemon/reexec for daemon-reexec (202: the daemon answers, then goes) */
static int cmd_action(struct ctl *c, const char *verb, const char *name) {
        char path[64], what[64];
        struct reply r;
        bool reexec = strcmp(verb, "daemon-reexec") == 0;
        snprintf(path, sizeof(path), reexec ? "/daemon/reexec" : "/vms/%s/%s", name, verb);
        snprintf(what, sizeof(what), "%s%s%s", verb, name ? " " : "", name ? name : "");
        if (request(c, "POST", path, &r) < 0)
                return EXIT_FAIL;
        if (c->json)
                fputs(r.body, stdout);
        if (r.status != (reexec ? 202 : 200)) {
                say_error(&r, what);
                free(r.body);
                return EXIT_FAIL;
        }
        json_t *j = reply_json(&r, what);
        if (j && !c->json)
                printf("%s\n", jstr(j, "message", jstr(j, "state", "done")));
        json_decref(j);
        free(r.body);
        return j ? EXIT_OK : EXIT_FAIL;
}

/* ---- console ---------------------------------------------------------------------------------- */

/* The guest's console text as the daemon holds it (its last 64 KiB), byte for byte. */
static int cmd_console(struct ctl *c, const char *name) {
        char path[64], what[64];
        struct reply r;
        snprintf(path, sizeof(path), "/vms/%s/console", name);
        snprintf(what, sizeof(what), "console %s", name);
        if (get_ok(c, path, what, &r))
                return EXIT_FAIL;
        fwrite(r.body, 1, r.len, stdout);
        free(r.body);
        return EXIT_OK;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void freep(void *p) {
        free(*(void **) p);
}

static char *normalize_url(const char *u) {
        char *s;
        if (asprintf(&s, "%s%s", strstr(u, "://") ? "" : "http://", u) < 0)
                return NULL;
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
                s[--n] = 0;
        return s;
}

/* The control socket a vmstatd of this user made with its default runtime directory when
 * there is one (`make run`, a user's own daemon), else the system service's. */
static const char *default_socket(char *buf, size_t size) {
        char dir[VS_RUNTIME_DIR_MAX + 1];
        struct stat st;
        if (vs_runtime_dir_default(VS_RUNTIME_DIR_MAX, dir, sizeof(dir)) &&
            (size_t) snprintf(buf, size, "%s/" VS_CONTROL_SOCKET_NAME, dir) < size && stat(buf, &st) == 0 &&
            S_ISSOCK(st.st_mode))
                return buf;
        return SYSTEM_SOCKET;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' }, { "url", required_argument, NULL, 'u' },
                { "json", no_argument, NULL, 'j' },         { "iterations", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        char own_socket[VS_RUNTIME_DIR_MAX + sizeof("/" VS_CONTROL_SOCKET_NAME)];
        struct ctl c = { .socket = default_socket(own_socket, sizeof(own_socket)) };
        __attribute__((cleanup(freep))) char *url = NULL; /* c.url, freed on every return */
        int o, r;
        char *end;
        while ((o = getopt_long(argc, argv, "s:u:jn:h", opts, NULL)) != -1) {
                switch (o) {
                case 's':
                        c.socket = optarg;
                        break;
                case 'u':
                        free(url);
                        c.url = url = normalize_url(optarg);
                        break;
                case 'j':
                        c.json = true;
                        break;
                case 'n':
                        errno = 0;
                        c.iterations = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || c.iterations < 1) {
                                fprintf(stderr, "vmstatctl: --iterations '%s': expected a whole number >= 1\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                case 'V':
                        printf("vmstatctl " VMSTATCTL_VERSION "\n");
                        return EXIT_OK;
                default:
                        fprintf(stderr, "Try 'vmstatctl --help'.\n");
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *cmd = argv[optind], *name = optind + 1 < argc ? argv[optind + 1] : NULL;
        bool reexec = strcmp(cmd, "daemon-reexec") == 0;
        bool is_action = reexec || !strcmp(cmd, "start") || !strcmp(cmd, "stop") || !strcmp(cmd, "pause") ||
                         !strcmp(cmd, "resume");
        bool takes_name = (is_action && !reexec) || !strcmp(cmd, "stats") || !strcmp(cmd, "top") || !strcmp(cmd, "console");
        bool needs_name = takes_name && strcmp(cmd, "top") != 0;
        if (!is_action && strcmp(cmd, "list") && strcmp(cmd, "stats") && strcmp(cmd, "top") && strcmp(cmd, "console")) {
                fprintf(stderr, "vmstatctl: unknown command '%s' (list, stats, top, console, start, stop, pause, resume, "
                                "daemon-reexec)\n", cmd);
                return EXIT_USAGE;
        }
        if ((needs_name && !name) || argc - optind > 1 + takes_name) {
                fprintf(stderr, needs_name ? "vmstatctl: usage: vmstatctl %s NAME\n" : "vmstatctl: %s: too many arguments\n",
                        cmd);
                return EXIT_USAGE;
        }
        if (name && !vm_name_valid(name)) {
                fprintf(stderr, "vmstatctl: '%s' is not a VM name (names are [a-z0-9_-]{1,32})\n", name);
                return EXIT_USAGE;
        }
        if (is_action && c.url) {
                fprintf(stderr, "vmstatctl: %s: actions go over the control socket only (drop --url; see --socket)\n", cmd);
                return EXIT_USAGE;
        }
        if (c.iterations && strcmp(cmd, "top") != 0) {
                fprintf(stderr, "vmstatctl: --iterations is for top\n");
                return EXIT_USAGE;
        }

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(c.curl = curl_easy_init())) {
                fprintf(stderr, "vmstatctl: cannot initialise libcurl\n");
                return EXIT_FAIL;
        }
        curl_easy_setopt(c.curl, CURLOPT_ERRORBUFFER, c.curl_error);
        curl_easy_setopt(c.curl, CURLOPT_USERAGENT, "vmstatctl/" VMSTATCTL_VERSION);
        curl_easy_setopt(c.curl, CURLOPT_CONNECTTIMEOUT, 5L);
        curl_easy_setopt(c.curl, CURLOPT_NOSIGNAL, 1L);
        if (strcmp(cmd, "list") == 0)
                r = cmd_list(&c);
        else if (strcmp(cmd, "stats") == 0)
                r = cmd_stats(&c, name);
        else if (strcmp(cmd, "top") == 0)
                r = cmd_top(&c, name);
        else if (strcmp(cmd, "console") == 0)
                r = cmd_console(&c, name);
        else
                r = cmd_action(&c, cmd, name);
        curl_easy_cleanup(c.curl);
        curl_global_cleanup();
        fflush(stdout);
        return r;
}
