// SPDX-License-Identifier: MIT
/* pvringd's logging: see log.h. */
#include "config.h"

#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static const char *program = "pvringd";
static enum pvring_log_level max_level = PVRING_LOG_INFO;
static bool to_syslog;

void pvring_log_setup(const char *ident, enum pvring_log_level level, bool use_syslog)
{
	program = ident;
	max_level = level;
	to_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

int pvring_log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		enum pvring_log_level level;
	} levels[] = { { "err", PVRING_LOG_ERR },
		       { "warning", PVRING_LOG_WARNING },
		       { "info", PVRING_LOG_INFO },
		       { "debug", PVRING_LOG_DEBUG } };
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(name, levels[i].name))
			return (int)levels[i].level;
	return -1;
}

void pvring_log(enum pvring_log_level level, const char *fmt, ...)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static const char *const prefix[] = { [PVRING_LOG_ERR] = "error",
					      [PVRING_LOG_WARNING] = "warning",
					      [PVRING_LOG_INFO] = "info",
					      [PVRING_LOG_DEBUG] = "debug" };
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	if (to_syslog) {
		vsyslog((int)level, fmt, ap);
	} else {
		/* One line per message, whole, even from several threads. */
		pthread_mutex_lock(&lock);
		fprintf(stderr, "%s: %s: ", program, prefix[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		pthread_mutex_unlock(&lock);
	}
	va_end(ap);
}
