/* vmstatctl top [NAME]: a live per-vCPU view refreshed at the daemon's sampling interval, the
 * terminal in raw mode (keys without Enter) and restored on q, ^C and the other signals. */
#define _GNU_SOURCE
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "counters.h"
#include "ctl.h"

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

/* the exit reasons shown as columns, named by hv; the rest add up in OTHER */
static const struct {
        enum hv_exit exit;
        const char *header;
} top_exits[] = {
        { HV_EXIT_IO_IN, "IO_IN" },       { HV_EXIT_IO_OUT, "IO_OUT" }, { HV_EXIT_MMIO_READ, "MMIO_R" },
        { HV_EXIT_MMIO_WRITE, "MMIO_W" }, { HV_EXIT_HLT, "HLT" },       { HV_EXIT_INTR, "INTR" },
};

static void top_header(FILE *f) {
        fprintf(f, "%-12s %-7s %4s %6s %6s %6s %6s %6s %6s %8s", "VM", "STATE", "VCPU", "%RUN", "%RDY", "%GST", "%BLK",
                "%OFF", "%STEAL", "EXITS/s");
        for (size_t i = 0; i < sizeof(top_exits) / sizeof(top_exits[0]); i++)
                fprintf(f, " %7s", top_exits[i].header);
        fprintf(f, " %7s\n", "OTHER");
}

static void top_row(FILE *f, const char *vm, const char *state, const char *vcpu, json_t *o, json_t *exits_per_sec,
                    double total_exits) {
        char run[16], rdy[16], gst[16], blk[16], off[16], stl[16], ex[16], col[16];
        double other = total_exits;
        fprintf(f, "%-12.12s %-7s %4s %6s %6s %6s %6s %6s %6s %8s", vm, state, vcpu,
                fmt_pct(run, sizeof(run), jnum(o, "runstate_pct.running")),
                fmt_pct(rdy, sizeof(rdy), jnum(o, "runstate_pct.runnable")),
                fmt_pct(gst, sizeof(gst), jnum(o, "guest_steal_pct")), /* the guest's own view, beside %RDY */
                fmt_pct(blk, sizeof(blk), jnum(o, "runstate_pct.blocked")),
                fmt_pct(off, sizeof(off), jnum(o, "runstate_pct.offline")),
                fmt_pct(stl, sizeof(stl), jnum(o, "steal_pct.kvm")), fmt_rate(ex, sizeof(ex), total_exits));
        for (size_t i = 0; i < sizeof(top_exits) / sizeof(top_exits[0]); i++) {
                double r = jnum(exits_per_sec, hv_exit_name(top_exits[i].exit));
                fprintf(f, " %7s", fmt_rate(col, sizeof(col), r));
                if (!isnan(r))
                        other -= r;
        }
        fprintf(f, " %7s\n", fmt_rate(col, sizeof(col), other < 0.5 ? 0 : other));
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
        int r = ctl_get_json(c, "/vms", "top", &list, NULL);
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
                        ctl_where(c), only ? only : "all VMs", jstr(list, "sample_time", "-"), interval, *ret_interval);
                top_header(f);
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
                if (ctl_get_json(c, path, "top", &vm, c->json ? &raw : NULL) != 0)
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

int verb_top(struct ctl *c, const char *verb, const char *only) {
        (void) verb;
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
