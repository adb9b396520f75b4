/* SPDX-License-Identifier: MIT */
/* Logging for pvringd and pvring-stored: levels, to stderr or syslog. */
#ifndef PVRING_LOG_H
#define PVRING_LOG_H

#include <stdbool.h>

enum pvring_log_level {
	PVRING_LOG_ERR = 3, /* the syslog priorities */
	PVRING_LOG_WARNING = 4,
	PVRING_LOG_INFO = 6,
	PVRING_LOG_DEBUG = 7,
};

/* Messages above level are dropped; syslog instead of stderr if asked; ident names the program. */
void pvring_log_setup(const char *ident, enum pvring_log_level level, bool use_syslog);
/* The level named "err", "warning", "info" or "debug"; -1 if unknown. */
int pvring_log_level_parse(const char *name);

void pvring_log(enum pvring_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pvring_err(...) pvring_log(PVRING_LOG_ERR, __VA_ARGS__)
#define pvring_warn(...) pvring_log(PVRING_LOG_WARNING, __VA_ARGS__)
#define pvring_info(...) pvring_log(PVRING_LOG_INFO, __VA_ARGS__)
#define pvring_debug(...) pvring_log(PVRING_LOG_DEBUG, __VA_ARGS__)

#endif /* PVRING_LOG_H */
