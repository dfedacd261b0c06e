/* Logging for the daemon: one line per event on stderr with a <N> syslog priority prefix,
 * which journald understands when vmstatd runs under systemd. */
#ifndef VMSTATD_LOG_H
#define VMSTATD_LOG_H

#include <syslog.h>

void vs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vs_log_set_level(int max_priority);

#endif
