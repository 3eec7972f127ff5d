#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *log_prog = "sio";
static int log_level = SIO_LOG_INFO;

void
sio_log_setprog(const char *prog)
{
	log_prog = prog;
}

void
sio_log_setlevel(int level)
{
	if (level < SIO_LOG_ERROR)
		level = SIO_LOG_ERROR;
	if (level > SIO_LOG_DEBUG)
		level = SIO_LOG_DEBUG;
	log_level = level;
}

int
sio_log_level(void)
{
	return log_level;
}

int
sio_usage_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", log_prog, msg, log_prog);
	return 64;
}

void
sio_log(int level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	char line[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One write per line so concurrent writers never interleave mid-line. */
	fprintf(stderr, "%s: %s: %s\n", log_prog, names[level], line);
}
