/* Logging: see include/cfs/log.h. A whole line is formatted first and
 * written with one write(2), so lines from threads never interleave. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfs/log.h"

static const char *log_daemon = "cfs";
static enum cfs_log_level log_min = CFS_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void cfs_log_init(const char *daemon, enum cfs_log_level level)
{
	log_daemon = daemon;
	log_min = level;
}

int cfs_log_parse_level(const char *s, enum cfs_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum cfs_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void cfs_log(enum cfs_log_level level, const char *msg, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int saved = errno;

	if (level < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n,
		      ".%03ldZ level=%s daemon=%s pid=%d msg=\"%s\"",
		      ts.tv_nsec / 1000000, level_names[level], log_daemon,
		      (int)getpid(), msg);
	if (fmt && *fmt && n < sizeof(line) - 2) {
		line[n++] = ' ';
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		n = strlen(line);
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved;
}
