#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int max_level = LOG_INFO;

void vs_log_set_level(int max_priority) {
        max_level = max_priority;
}

void vs_log(int priority, const char *fmt, ...) {
        char line[2048];
        va_list ap;
        if (priority > max_level)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        fprintf(stderr, "<%d>%s\n", priority, line); /* one write per line: lines never interleave */
}
