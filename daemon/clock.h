/* SPDX-License-Identifier: MIT */
/*
 * The monotonic clock in nanoseconds, for deadlines, polling windows and
 * latencies in pvringd and the userspace tools (not common/: no kernel code),
 * and whether a thread was preempted, for their spin policy.
 */
#ifndef PVRING_CLOCK_H
#define PVRING_CLOCK_H

#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

static inline uint64_t pvring_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Times this thread was preempted so far: it wanted to run on, someone else got the CPU. */
static inline long pvring_thread_preemptions(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_nivcsw;
}

#endif /* PVRING_CLOCK_H */
