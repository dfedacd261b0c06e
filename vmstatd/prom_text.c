/* Numbers and text as the Prometheus text formats write them: exact, shortest, and fast enough
 * for a 5 MB body (no printf for counts and nanoseconds). */
#include "prom_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shortest of %.15g, %.16g and %.17g that reads back as the same double. A whole number
 * below 1e15 is what %.15g writes for it, in digits without printf: most of a big host's doubles
 * are rates and ratios of idle vCPUs, 0. */
static void prom_double(char out[VS_PROM_VALUE_LEN], double v) {
        if (v > -1e15 && v < 1e15 && v == (double) (int64_t) v && !(v == 0 && signbit(v))) {
                char digits[24];
                int64_t i = (int64_t) v;
                const char *d = vs_prom_uint(digits, i < 0 ? -(uint64_t) i : (uint64_t) i);
                if (i < 0)
                        *out++ = '-';
                memcpy(out, d, (size_t) (digits + 24 - d)); /* with its NUL */
                return;
        }
        if (isnan(v)) {
                strcpy(out, "NaN");
                return;
        }
        if (isinf(v)) {
                strcpy(out, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(out, 40, "%.*g", prec, v);
                if (strtod(out, NULL) == v)
                        return;
        }
}

/* An `le` value as OpenMetrics' canonical numbers want it: Go's shortest %g (exponent below
 * 1e-4 and from 1e6 on), with ".0" appended to integers in OpenMetrics. */
void vs_prom_le(char out[32], double v, bool om) {
        char e[40], digits[20];
        if (isinf(v) || isnan(v)) {
                strcpy(out, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
                return;
        }
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(e, sizeof(e), "%.*e", prec - 1, v);
                if (strtod(e, NULL) == v)
                        break;
        }
        const char *p = e;
        char *o = out;
        if (*p == '-')
                *o++ = *p++;
        int nd = 0;
        for (; *p != 'e'; p++)
                if (*p != '.')
                        digits[nd++] = *p;
        int x = atoi(p + 1);
        while (nd > 1 && digits[nd - 1] == '0')
                nd--;
        if (x < -4 || x >= 6) {
                *o++ = digits[0];
                if (nd > 1) {
                        *o++ = '.';
                        memcpy(o, digits + 1, (size_t) nd - 1);
                        o += nd - 1;
                }
                sprintf(o, "e%c%02d", x < 0 ? '-' : '+', abs(x));
                return;
        }
        if (x < 0) {
                *o++ = '0';
                *o++ = '.';
                for (int i = 0; i < -x - 1; i++)
                        *o++ = '0';
                memcpy(o, digits, (size_t) nd);
                o += nd;
        } else {
                for (int i = 0; i <= x || i < nd; i++) {
                        if (i == x + 1)
                                *o++ = '.';
                        *o++ = i < nd ? digits[i] : '0';
                }
                if (om && nd <= x + 1) {
                        *o++ = '.';
                        *o++ = '0';
                }
        }
        *o = 0;
}

/* The whole number n with scale = 1/n, when there is one (10^k for the kernel's negative
 * exponents), else 0. */
uint64_t vs_prom_scale_divisor(double scale) {
        if (scale < 1 && scale > 0) {
                double inv = 1 / scale;
                if (inv < 1e18) {
                        double n = (double) (uint64_t) (inv + 0.5);
                        if ((inv > n ? inv - n : n - inv) <= n * 1e-12)
                                return (uint64_t) n;
                }
        }
        return 0;
}

/* raw · base^exponent. Divides by 10^n rather than multiplying by its inexact inverse, so
 * 1500 ns is exactly the double nearest to 1.5e-6, as ns / 1e9 is elsewhere. */
double vs_prom_scale(double raw, double scale) {
        uint64_t n = vs_prom_scale_divisor(scale);
        return n ? raw / (double) n : raw * scale;
}

/* v in decimal, at the end of out[24] */
const char *vs_prom_uint(char out[24], uint64_t v) {
        char *s = out + 23;
        *s = 0;
        do
                *--s = (char) ('0' + v % 10);
        while (v /= 10);
        return s;
}

/* ns as seconds, written exactly: the whole seconds, then the nanoseconds without trailing
 * zeros. That decimal reads back as the double nearest to ns / 1e9: below 2^53 ns (104 days) the
 * same as ns / 1e9 in C; above (timestamps) C's quotient, rounding (double) ns first, can be one
 * ulp off it. It costs no printf and no strtod round trip, which were the most of a large body's
 * render. */
static size_t prom_ns(char out[VS_PROM_VALUE_LEN], uint64_t ns) {
        char whole[24];
        const char *w = vs_prom_uint(whole, ns / 1000000000u);
        uint32_t frac = (uint32_t) (ns % 1000000000u);
        size_t n = strlen(w), digits = 9;
        memcpy(out, w, n);
        if (frac) {
                while (frac % 10 == 0) {
                        frac /= 10;
                        digits--;
                }
                out[n++] = '.';
                for (size_t k = digits; k-- > 0; frac /= 10)
                        out[n + k] = (char) ('0' + frac % 10);
                n += digits;
        }
        out[n] = 0;
        return n;
}

/* v as written, somewhere in out; *len its length */
const char *vs_prom_value(char out[VS_PROM_VALUE_LEN], struct vs_value v, size_t *len) {
        if (v.kind == VS_UINT) {
                const char *s = vs_prom_uint(out, v.u);
                *len = (size_t) (out + 23 - s);
                return s;
        }
        if (v.kind == VS_NS) {
                *len = prom_ns(out, v.u);
                return out;
        }
        prom_double(out, v.d);
        *len = strlen(out);
        return out;
}

/* Text escaping into out (at least 2 * strlen(s) + 1 bytes): backslash and newline, and in label
 * values (and OpenMetrics help) quotes. Returns the length written. */
size_t vs_prom_escape(char *out, const char *s, bool quotes) {
        size_t n = 0;
        for (; *s; s++) {
                if (*s == '\\' || *s == '\n' || (*s == '"' && quotes)) {
                        out[n++] = '\\';
                        out[n++] = *s == '\n' ? 'n' : *s;
                } else {
                        out[n++] = *s;
                }
        }
        out[n] = 0;
        return n;
}

