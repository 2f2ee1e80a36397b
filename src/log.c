/*
 * log.c owns the process's log sink. Core code logs at LOG_DEBUG only; the daemon and the
 * CLIs decide what reaches the user. Messages are written whole, one write(2) each, so lines
 * from concurrent threads never interleave.
 */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_sink log_sink = LOG_SINK_STDERR;
static int log_max_level = LOG_INFO;
static const char *log_ident = "snapfs";

void log_setup(enum log_sink sink, int max_level, const char *ident)
{
	log_sink = sink;
	log_max_level = max_level;
	log_ident = ident;
	if (sink == LOG_SINK_SYSLOG)
		openlog(ident, LOG_PID | LOG_CONS, LOG_DAEMON);
}

void snap_vlog(int level, const char *fmt, va_list ap)
{
	char line[1024];
	int n, m;

	if (level > log_max_level)
		return;
	if (log_sink == LOG_SINK_SYSLOG) {
		vsyslog(level, fmt, ap);
		return;
	}
	n = snprintf(line, sizeof(line), "%s: ", log_ident);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void snap_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	snap_vlog(level, fmt, ap);
	va_end(ap);
}

void snap_msg_append(char *msg, size_t msglen, const char *fmt, ...)
{
	size_t used = strlen(msg);
	va_list ap;

	if (used + 1 >= msglen)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg + used, msglen - used, fmt, ap);
	va_end(ap);
}
