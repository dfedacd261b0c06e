#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

static int max_level = LOG_INFO;
static int journal = -1; /* unknown yet */

void vs_log_set_level(int max_priority) {
        max_level = max_priority;
}

/* $JOURNAL_STREAM names the device:inode of the journal stream systemd gave us as stderr */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        return e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
               (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

static void emit(int priority, const char *vm, const char *fmt, va_list ap) {
        char line[4096];
        if (priority > max_level)
                return;
        vsnprintf(line, sizeof(line), fmt, ap);
        if (journal < 0)
                journal = stderr_is_journal();
        if (journal && vm)
                sd_journal_send("MESSAGE=%s: %s", vm, line, "PRIORITY=%d", priority, "VM=%s", vm,
                                "SYSLOG_IDENTIFIER=vmstatd", NULL);
        else if (journal)
                sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=vmstatd", NULL);
        else if (vm)
                fprintf(stderr, "<%d>%s: %s\n", priority, vm, line);
        else
                fprintf(stderr, "<%d>%s\n", priority, line); /* one write per line: never interleaved */
}

void vs_log(int priority, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        emit(priority, NULL, fmt, ap);
        va_end(ap);
}

void vs_log_vm(int priority, const char *vm, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        emit(priority, vm, fmt, ap);
        va_end(ap);
}
