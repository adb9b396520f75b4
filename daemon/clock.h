/* SPDX-License-Identifier: MIT */
/*
 * The monotonic clock in nanoseconds, for deadlines, polling windows and
 * latencies in pvringd and the userspace tools (not common/: no kernel code).
 */
#ifndef PVRING_CLOCK_H
#define PVRING_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t pvring_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* PVRING_CLOCK_H */
