/* The one optional argument of a bench that takes a number (exitpath [N], linuxboot [seconds]).
 * Header-only: bench/%.c build one program each. */
#ifndef BENCH_ARG_H
#define BENCH_ARG_H

#include <errno.h>
#include <stdlib.h>

/* argv[1], a whole number from 1 to max, or def when there is none; -EINVAL for anything else
 * (a second argument, a sign, trailing text, out of range) */
static inline int arg_number(int argc, char **argv, unsigned long long def, unsigned long long max,
                             unsigned long long *ret) {
        char *end;
        if (argc < 2) {
                *ret = def;
                return 0;
        }
        errno = 0;
        unsigned long long n = strtoull(argv[1], &end, 10);
        if (argc > 2 || errno || end == argv[1] || *end || argv[1][0] == '-' || n < 1 || n > max)
                return -EINVAL;
        *ret = n;
        return 0;
}

#endif
