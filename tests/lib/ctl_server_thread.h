/* SPDX-License-Identifier: MIT */
/*
 * pvringd's control socket server (daemon/ctl.h) on a libevent loop in a
 * thread of the test, listening on DIR/pvringd.sock in a fresh directory:
 * the test's own thread plays the clients. The loop wakes every 10 ms to see
 * whether it should stop; handlers run on the loop thread.
 */
#ifndef PVRING_TEST_CTL_SERVER_THREAD_H
#define PVRING_TEST_CTL_SERVER_THREAD_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/ctl.h"

struct event;

struct ctl_server_thread {
	char dir[64]; /* scratch directory, removed at stop */
	char path[PATH_MAX]; /* dir/pvringd.sock */
	struct event_base *base;
	struct event *tick;
	struct pvringd_ctl *ctl;
	pthread_t loop;
	bool running; /* loop is a thread to join */
	atomic_bool stop;
};

struct ctl_server_command {
	const char *name;
	pvringd_ctl_handler handler;
};

/* Stop the loop and wait for it: the server is the caller's until resumed. */
void ctl_server_thread_pause(struct ctl_server_thread *s);
/* Run the loop again after a pause; 0, or -1 with a message on stderr. */
int ctl_server_thread_resume(struct ctl_server_thread *s);

/*
 * mkdtemp(dir_template) (at most 63 characters, ending in XXXXXX), open the
 * server on its pvringd.sock, register the n commands (each handler gets arg)
 * and run the loop; 0, or -1 with a message on stderr and nothing left over.
 */
int ctl_server_thread_start(struct ctl_server_thread *s, const char *dir_template,
			    const struct ctl_server_command *cmds, size_t n, void *arg);

/* Stop the loop, close the server (which removes its socket), free, remove the directory. */
void ctl_server_thread_stop(struct ctl_server_thread *s);

#endif /* PVRING_TEST_CTL_SERVER_THREAD_H */
