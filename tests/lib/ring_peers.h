/* SPDX-License-Identifier: MIT */
/*
 * Two threads driving one shared ring: a front end producing requests and
 * consuming responses, a back end answering them. Either end is our ring
 * (common/ring) or the Xen public macros, so the same driver runs the
 * interop tests, the stress test and the benchmark.
 *
 * Busy-poll mode: neither end ever sleeps; producers publish without the
 * notification check. Doorbell mode: an end with nothing to do polls for up to
 * poll_us (0: not at all), then runs the final check and sleeps on an eventfd;
 * producers kick the peer only when its event index asks for it. A sleeper that finds work waiting
 * without having been kicked reports a lost wake-up.
 */
#ifndef PVRING_TEST_RING_PEERS_H
#define PVRING_TEST_RING_PEERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum peer_impl { PEER_PVRING, PEER_XEN_MACROS };
enum peer_mode { PEER_BUSY_POLL, PEER_DOORBELL };

/* Most requests handled per step; also the largest ring (order 4) in slots. */
#define PEER_BATCH_MAX 512u

struct peer_stats {
	uint64_t messages; /* requests produced (front) or consumed (back) */
	uint64_t kicks_sent;
	uint64_t sleeps;
};

struct ring_run {
	/* set by the caller */
	enum peer_impl front_impl, back_impl;
	enum peer_mode mode;
	unsigned int order;
	uint64_t round_trips;
	uint32_t start_index; /* initial value of all four indices' base */
	uint32_t max_step; /* 0: each step does all it can; else 1..max_step, random */
	uint32_t poll_us; /* doorbell mode: poll this long for work before sleeping */
	bool verify_payload; /* check every word of every request (else ids only) */
	uint64_t seed;
	int cpu_front, cpu_back; /* -1: do not pin */

	/* results */
	struct peer_stats front, back;
	uint64_t elapsed_ns; /* front end's first request to its last response */
	char error[256];

	/* private */
	atomic_bool failed;
	void *shared;
	int front_doorbell, back_doorbell;
};

/* Run to completion; 0, or -1 with run->error set. */
int ring_run(struct ring_run *run);

const char *peer_impl_name(enum peer_impl impl);

#endif /* PVRING_TEST_RING_PEERS_H */
