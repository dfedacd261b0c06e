/* Numbers and text as the Prometheus text formats (0.0.4 and OpenMetrics 1.0) write them. */
#ifndef VMSTATD_PROM_TEXT_H
#define VMSTATD_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define VS_PROM_VALUE_LEN 40

/* An `le` bound as OpenMetrics' canonical numbers want it: Go's shortest %g (exponent below 1e-4
 * and from 1e6 on), ".0" appended to integers when om. */
void vs_prom_le(char out[32], double v, bool om);
/* The whole number n with scale = 1/n, when there is one (10^k for the kernel's negative
 * exponents), else 0. */
uint64_t vs_prom_scale_divisor(double scale);
/* raw · scale, dividing by 10^n rather than multiplying by its inexact inverse. */
double vs_prom_scale(double raw, double scale);
/* v in decimal, at the end of out[24]: returns where it starts. */
const char *vs_prom_uint(char out[24], uint64_t v);
/* v as written, somewhere in out; *len its length: the shortest of %.15g, %.16g and %.17g
 * that reads back as v (NaN, +Inf, -Inf), seconds of ns exactly. */
const char *vs_prom_value(char out[VS_PROM_VALUE_LEN], struct vs_value v, size_t *len);
/* Escapes s into out (room for 2 * strlen(s) + 1): backslash and newline, and quotes when asked
 * (label values, OpenMetrics help). Returns the length written. */
size_t vs_prom_escape(char *out, const char *s, bool quotes);

#endif
