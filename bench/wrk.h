/* What wrk (the HTTP load generator) reports at the end of a run, read from its output. How wrk
 * is run is each bench's own. Header-only: bench/%.c build one program each. */
#ifndef BENCH_WRK_H
#define BENCH_WRK_H

#include <stdio.h>
#include <string.h>

struct wrk_report {
        long requests;             /* "N requests in ...": -1 when absent (no finished run) */
        double rps;                /* Requests/sec, -1 when absent */
        double p50_ms, p99_ms;     /* the --latency distribution, -1 when absent */
        double max_ms;             /* the Latency line's Max, -1 when absent */
        long non2xx;               /* Non-2xx or 3xx responses, 0 when wrk says nothing */
        long connect, read, write, timeout; /* Socket errors, 0 when wrk says nothing */
};

/* wrk's times are "635.91us", "1.20ms", "2.00s", "1.00m": ms, -1 in an unknown unit */
static inline double wrk_to_ms(double v, const char *unit) {
        if (strcmp(unit, "us") == 0)
                return v / 1000;
        if (strcmp(unit, "ms") == 0)
                return v;
        if (strcmp(unit, "s") == 0)
                return v * 1000;
        if (strcmp(unit, "m") == 0)
                return v * 60000;
        return -1;
}

static inline long wrk_socket_errors(const struct wrk_report *w) {
        return w->connect + w->read + w->write + w->timeout;
}

/* out: wrk's whole output, NULL reads as empty */
static inline void wrk_parse(const char *out, struct wrk_report *ret) {
        *ret = (struct wrk_report) { .requests = -1, .rps = -1, .p50_ms = -1, .p99_ms = -1, .max_ms = -1 };
        for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                double v, avg, sd;
                char unit[8], u1[8], u2[8];
                long a, b, c, d;
                int end = 0;
                if (sscanf(line, " Requests/sec: %lf", &v) == 1)
                        ret->rps = v;
                else if (sscanf(line, " 50%% %lf%7[a-z]", &v, unit) == 2)
                        ret->p50_ms = wrk_to_ms(v, unit);
                else if (sscanf(line, " 99%% %lf%7[a-z]", &v, unit) == 2)
                        ret->p99_ms = wrk_to_ms(v, unit);
                else if (sscanf(line, " Latency %lf%7[a-z] %lf%7[a-z] %lf%7[a-z]", &avg, u1, &sd, u2, &v, unit) == 6)
                        ret->max_ms = wrk_to_ms(v, unit);
                else if (sscanf(line, " %ld requests in%n", &a, &end) == 1 && end > 0) /* not "2 threads and" */
                        ret->requests = a;
                else if (sscanf(line, " Non-2xx or 3xx responses: %ld", &a) == 1)
                        ret->non2xx = a;
                else if (sscanf(line, " Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &a, &b, &c,
                                &d) == 4) {
                        ret->connect = a;
                        ret->read = b;
                        ret->write = c;
                        ret->timeout = d;
                }
        }
}

#endif
