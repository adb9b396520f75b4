/* SPDX-License-Identifier: MIT */
/*
 * Run pvring-stored and pvringd as real processes for integration tests, in a
 * fresh run directory. pvringd is started the way systemd starts it: with
 * $NOTIFY_SOCKET, and it counts as up only once it says READY=1. Its log goes
 * to a file the test can search.
 */
#ifndef PVRING_TEST_DAEMON_PROCESS_H
#define PVRING_TEST_DAEMON_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "store_process.h"

struct daemon_process {
	struct store_process store;
	char rundir[64]; /* store.dir: registry and pvringd.sock live here */
	char log[80]; /* pvringd's stderr, appended across restarts */
	pid_t pid; /* pvringd, 0 when not started (or stopped) */
	bool exited; /* pid has exited (and been waited for) with status */
	int status;
};

/*
 * Start the store if not yet started and fill in rundir and log, so that files
 * can be made in the run directory before pvringd starts; 0, or -1 with a
 * message on stderr and nothing left over. daemon_process_start calls it.
 */
int daemon_process_init(struct daemon_process *dp);
/* Init, then start pvringd with extra arguments (NULL-terminated); 0 or -1. */
int daemon_process_start(struct daemon_process *dp, const char *const *args);
/* SIGTERM pvringd and wait; its exit status (0: clean), or -1. The store keeps running. */
int daemon_process_stop(struct daemon_process *dp);
/* Stop pvringd if running, then the store, and remove the directory. */
int daemon_process_destroy(struct daemon_process *dp);
/* Whether pvringd is still running. */
bool daemon_process_alive(struct daemon_process *dp);
/* How many lines of the log hold text, now. */
unsigned int daemon_process_log_count(const struct daemon_process *dp, const char *text);
/* Whether the log holds text, waiting up to timeout_ms for it to appear. */
bool daemon_process_log_has(const struct daemon_process *dp, const char *text,
			    unsigned int timeout_ms);
/* A scratch file path in the run directory. */
void daemon_process_path(const struct daemon_process *dp, const char *name, char *out, size_t len);

#endif /* PVRING_TEST_DAEMON_PROCESS_H */
