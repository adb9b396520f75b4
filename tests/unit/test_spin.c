// SPDX-License-Identifier: MIT
/* The adaptive spin policy (common/ring/pvring_spin.h), driven with made-up windows. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/ring/pvring_spin.h"

#define MAX_NS 50000u

/* A window that ran its length on the CPU, found or not. */
static void spin_alone(struct pvring_spin *s, bool found)
{
	uint32_t w = pvring_spin_window(s);

	assert_true(w > 0);
	pvring_spin_done(s, found, false);
}

static unsigned int chances_passed_up(struct pvring_spin *s)
{
	unsigned int n = 0;

	while (!pvring_spin_window(s))
		n++;
	return n;
}

static void test_hits_keep_the_window(void **state)
{
	struct pvring_spin s;
	int i;

	(void)state;
	pvring_spin_init(&s, MAX_NS);
	for (i = 0; i < 1000; i++)
		spin_alone(&s, true);
	assert_int_equal(pvring_spin_window(&s), MAX_NS);
	assert_int_equal(s.hits, 1000);
}

static void test_empty_windows_back_off(void **state)
{
	struct pvring_spin s;

	(void)state;
	pvring_spin_init(&s, MAX_NS);
	spin_alone(&s, false);
	assert_int_equal(pvring_spin_window(&s), MAX_NS / 2);
	spin_alone(&s, false);
	spin_alone(&s, false);
	spin_alone(&s, false);
	assert_int_equal(pvring_spin_window(&s), MAX_NS / 16);
	/* Below max/16: stop, pass up PVRING_SPIN_REST chances, then try a quarter window. */
	spin_alone(&s, false);
	assert_int_equal(chances_passed_up(&s), PVRING_SPIN_REST);
	assert_int_equal(pvring_spin_window(&s), MAX_NS / 4);
	/* A hit grows it back. */
	spin_alone(&s, true);
	assert_int_equal(pvring_spin_window(&s), MAX_NS / 2);
	spin_alone(&s, true);
	assert_int_equal(pvring_spin_window(&s), MAX_NS);
}

/*
 * Windows that come back empty round after round (a peer that cannot run while this thread
 * spins): each rest is twice the last, up to PVRING_SPIN_REST_MAX; one hit ends that.
 */
static void test_empty_rounds_rest_longer(void **state)
{
	unsigned int rest = PVRING_SPIN_REST;
	struct pvring_spin s;
	int round;

	(void)state;
	pvring_spin_init(&s, MAX_NS);
	for (round = 0; round < 8; round++) {
		while (pvring_spin_window(&s))
			pvring_spin_done(&s, false, false);
		/* The call that said no was the first chance passed up. */
		assert_int_equal(1 + chances_passed_up(&s), rest);
		if (rest < PVRING_SPIN_REST_MAX)
			rest *= 2;
	}
	assert_int_equal(rest, PVRING_SPIN_REST_MAX);
	spin_alone(&s, true);
	while (pvring_spin_window(&s))
		pvring_spin_done(&s, false, false);
	assert_int_equal(1 + chances_passed_up(&s), PVRING_SPIN_REST);
}

/*
 * A window in which this thread was preempted: the CPU is wanted elsewhere (a peer on the
 * same CPU). Spinning stops, found or not, then is tried again; a first preemption rests
 * only a little.
 */
static void test_contended_cpu_stops_spinning(void **state)
{
	struct pvring_spin s;

	(void)state;
	pvring_spin_init(&s, MAX_NS);
	assert_int_equal(pvring_spin_window(&s), MAX_NS);
	assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
	pvring_spin_done(&s, true, true);
	assert_int_equal(s.contended, 1);
	assert_int_equal(chances_passed_up(&s), PVRING_SPIN_REST_CONTENDED_MIN);
	assert_int_equal(pvring_spin_window(&s), MAX_NS / 4);
	spin_alone(&s, true);
	assert_int_equal(pvring_spin_window(&s), MAX_NS / 2);
	assert_int_equal(s.contended, 1);
}

/* One preempted window after another: the rest doubles up to its longest, and stays there. */
static void test_a_peer_on_this_cpu_keeps_the_rest_long(void **state)
{
	unsigned int rest = PVRING_SPIN_REST_CONTENDED_MIN;
	struct pvring_spin s;
	int i;

	(void)state;
	pvring_spin_init(&s, MAX_NS);
	for (i = 0; i < 10; i++) {
		assert_true(pvring_spin_window(&s) > 0);
		assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
		pvring_spin_done(&s, true, true);
		assert_int_equal(chances_passed_up(&s), rest);
		if (rest < PVRING_SPIN_REST_CONTENDED)
			rest *= 2;
	}
	assert_int_equal(rest, PVRING_SPIN_REST_CONTENDED);
	/* Windows not asked about (quick hits between samples) do not shorten it. */
	for (i = 0; i < 100; i++)
		spin_alone(&s, true);
	assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
	pvring_spin_done(&s, true, true);
	assert_int_equal(chances_passed_up(&s), PVRING_SPIN_REST_CONTENDED);
}

/* Looks that find the thread was not preempted halve the rest back to its shortest. */
static void test_the_rest_shortens_once_the_cpu_is_free(void **state)
{
	struct pvring_spin s;
	int i;

	(void)state;
	pvring_spin_init(&s, MAX_NS);
	for (i = 0; i < 10; i++) {
		assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
		pvring_spin_done(&s, true, true);
		chances_passed_up(&s);
	}
	assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
	pvring_spin_done(&s, true, false);
	assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
	pvring_spin_done(&s, true, true);
	assert_int_equal(chances_passed_up(&s), PVRING_SPIN_REST_CONTENDED / 2);
	for (i = 0; i < 10; i++) {
		assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
		pvring_spin_done(&s, true, false);
	}
	assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
	pvring_spin_done(&s, true, true);
	assert_int_equal(chances_passed_up(&s), PVRING_SPIN_REST_CONTENDED_MIN);
}

/* Long windows are always asked about; quick hits one in PVRING_SPIN_SAMPLE. */
static void test_preemption_looks_are_sampled(void **state)
{
	struct pvring_spin s;
	unsigned int i, looks = 0;

	(void)state;
	pvring_spin_init(&s, MAX_NS);
	for (i = 0; i < 10; i++)
		assert_true(pvring_spin_look(&s, PVRING_SPIN_QUICK_NS));
	for (i = 0; i < 8 * PVRING_SPIN_SAMPLE; i++)
		looks += pvring_spin_look(&s, 1000);
	assert_int_equal(looks, 8);
}

static void test_off_never_spins(void **state)
{
	struct pvring_spin s;
	int i;

	(void)state;
	pvring_spin_init(&s, 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(pvring_spin_window(&s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hits_keep_the_window),
		cmocka_unit_test(test_empty_windows_back_off),
		cmocka_unit_test(test_empty_rounds_rest_longer),
		cmocka_unit_test(test_contended_cpu_stops_spinning),
		cmocka_unit_test(test_a_peer_on_this_cpu_keeps_the_rest_long),
		cmocka_unit_test(test_the_rest_shortens_once_the_cpu_is_free),
		cmocka_unit_test(test_preemption_looks_are_sampled),
		cmocka_unit_test(test_off_never_spins),
	};

	return cmocka_run_group_tests_name("spin policy", tests, NULL, NULL);
}
