/* Logging: one sink for the whole process (stderr by default, syslog for a daemon). */
#ifndef SNAPFS_LOG_H
#define SNAPFS_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_SYSLOG,
};

/* Choose where messages go and the least important level kept (syslog levels). */
void log_setup(enum log_sink sink, int max_level, const char *ident);

/* Log one message; a trailing newline is added. Thread-safe. */
void snap_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void snap_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Append to the message msg (msglen bytes, holding a string) what fmt says: what an undoing
 * left, after the cause already there. Cut short, never overrun, when msg is full.
 */
void snap_msg_append(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
