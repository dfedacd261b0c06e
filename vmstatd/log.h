/* Logging for the daemon: structured journal entries (PRIORITY, VM=) when stderr is connected
 * to the journal, else one line per event on stderr with a <N> syslog priority prefix. */
#ifndef VMSTATD_LOG_H
#define VMSTATD_LOG_H

#include <syslog.h>

void vs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a VM= field in the journal (and "VM: " in front on stderr). */
void vs_log_vm(int priority, const char *vm, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vs_log_set_level(int max_priority);

#endif
