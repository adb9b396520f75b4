/* SPDX-License-Identifier: MIT */
/*
 * Run out of file descriptors on purpose: the soft limit lowered to room numbers past the
 * highest descriptor open, every free number below it taken, so that the descriptor made
 * after room more fails with EMFILE (room for the test's own, a client socket say).
 * Header-only.
 */
#ifndef PVRING_TEST_FD_LIMIT_H
#define PVRING_TEST_FD_LIMIT_H

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#define FD_LIMIT_MAX 4096

struct fd_limit {
	struct rlimit saved;
	int fillers[FD_LIMIT_MAX];
	unsigned int nr_fillers;
};

/* 0, or -1 if the limits cannot be had or set. */
static inline int fd_limit_tighten(struct fd_limit *l, unsigned int room)
{
	struct rlimit tight;
	int highest = 0, fd;

	if (getrlimit(RLIMIT_NOFILE, &l->saved))
		return -1;
	for (fd = 0; fd < FD_LIMIT_MAX; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			highest = fd;
	/* The limit is on descriptor numbers, not on how many: fill the holes below. */
	l->nr_fillers = 0;
	for (;;) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		if (fd > highest) {
			close(fd);
			break;
		}
		if (l->nr_fillers == FD_LIMIT_MAX)
			return -1;
		l->fillers[l->nr_fillers++] = fd;
	}
	tight = l->saved;
	tight.rlim_cur = (rlim_t)highest + 1 + room;
	return setrlimit(RLIMIT_NOFILE, &tight);
}

/* The limit as it was, and the numbers taken given back; 0 or -1. */
static inline int fd_limit_restore(struct fd_limit *l)
{
	int ret = setrlimit(RLIMIT_NOFILE, &l->saved);

	while (l->nr_fillers)
		close(l->fillers[--l->nr_fillers]);
	return ret;
}

#endif /* PVRING_TEST_FD_LIMIT_H */
