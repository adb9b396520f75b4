// SPDX-License-Identifier: MIT
/*
 * Two threads on one ring, millions of requests, every payload checked:
 * our front end against a back end driven by the Xen public macros, our back
 * end against a macro-driven front end, and ours against ours under random
 * batch sizes. In doorbell mode both ends sleep on eventfds and kick only when
 * the peer's event index asks, so a wrong notification decision on either
 * side shows up as a lost wake-up.
 */
#include "config.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "tests/lib/ring_peers.h"

static void run_ok(struct ring_run *run)
{
	int ret = ring_run(run);

	print_message("%s front, %s back, order %u, %s: %" PRIu64 " round trips, kicks %" PRIu64
		      " to back / %" PRIu64 " to front, sleeps %" PRIu64 " / %" PRIu64 "\n",
		      peer_impl_name(run->front_impl), peer_impl_name(run->back_impl), run->order,
		      run->mode == PEER_DOORBELL ? "doorbell" : "busy-poll", run->back.messages,
		      run->front.kicks_sent, run->back.kicks_sent, run->front.sleeps,
		      run->back.sleeps);
	if (ret)
		fail_msg("%s", run->error);
	assert_int_equal(run->front.messages, run->round_trips);
	assert_int_equal(run->back.messages, run->round_trips);
	if (run->mode == PEER_DOORBELL) {
		/* Whoever slept was woken by the peer, or the run could not finish. */
		assert_true(run->front.kicks_sent + run->back.kicks_sent > 0);
	}
}

static void interop(enum peer_impl front, enum peer_impl back, enum peer_mode mode,
		    unsigned int order, uint64_t round_trips)
{
	struct ring_run run = {
		.front_impl = front,
		.back_impl = back,
		.mode = mode,
		.order = order,
		.round_trips = round_trips,
		.start_index = UINT32_MAX - 100000, /* wrap early in the run */
		.max_step = 48,
		.verify_payload = true,
		.seed = 0x5eed0000 + order,
		.cpu_front = -1,
		.cpu_back = -1,
	};

	run_ok(&run);
}

static void test_our_front_xen_back(void **state)
{
	(void)state;
	interop(PEER_PVRING, PEER_XEN_MACROS, PEER_DOORBELL, 0, 2000000);
	interop(PEER_PVRING, PEER_XEN_MACROS, PEER_DOORBELL, 2, 2000000);
	interop(PEER_PVRING, PEER_XEN_MACROS, PEER_BUSY_POLL, 1, 1000000);
}

static void test_xen_front_our_back(void **state)
{
	(void)state;
	interop(PEER_XEN_MACROS, PEER_PVRING, PEER_DOORBELL, 0, 2000000);
	interop(PEER_XEN_MACROS, PEER_PVRING, PEER_DOORBELL, 2, 2000000);
	interop(PEER_XEN_MACROS, PEER_PVRING, PEER_BUSY_POLL, 1, 1000000);
}

/* Ours against ours, every order, random batches, sleeping when idle. */
static void test_stress_doorbell(void **state)
{
	unsigned int order;

	(void)state;
	for (order = 0; order <= 4; order++) {
		struct ring_run run = {
			.front_impl = PEER_PVRING,
			.back_impl = PEER_PVRING,
			.mode = PEER_DOORBELL,
			.order = order,
			.round_trips = 1000000,
			.start_index = UINT32_MAX - 12345,
			.max_step = 1u << (order + 4),
			.verify_payload = true,
			.seed = 0xfeed + order,
			.cpu_front = -1,
			.cpu_back = -1,
		};

		run_ok(&run);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_our_front_xen_back),
		cmocka_unit_test(test_xen_front_our_back),
		cmocka_unit_test(test_stress_doorbell),
	};

	return cmocka_run_group_tests_name("ring threads", tests, NULL, NULL);
}
