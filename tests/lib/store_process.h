/* SPDX-License-Identifier: MIT */
/* Run pvring-stored ($PVRING_STORED) as a real process in a fresh directory, for tests. */
#ifndef PVRING_TEST_STORE_PROCESS_H
#define PVRING_TEST_STORE_PROCESS_H

#include <sys/types.h>

struct store_process {
	char dir[40]; /* scratch directory, removed at stop */
	char rundir[48]; /* dir/store: the store's sockets */
	pid_t pid;
};

/* Start it and wait until it listens; 0 or -1 with a message on stderr. */
int store_process_start(struct store_process *sp);
/* SIGTERM it and remove the directory; 0 if it exited cleanly. */
int store_process_stop(struct store_process *sp);

#endif /* PVRING_TEST_STORE_PROCESS_H */
