// SPDX-License-Identifier: MIT
/*
 * Our ring against the system's Xen public header xen/io/ring.h: the same
 * layout for every order and slot size, and, in lockstep, the same bytes in
 * shared memory and the same notification decisions after every operation.
 * Produce batches stay within PVRING_PUBLISH_STRIDE: larger ones publish
 * early by design (test_ring.c covers that); the ring still fills up through
 * several produces before a push.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/ring/pvring_ring.h"
#include "tests/lib/test_payload.h"
#include "tests/lib/xen_ring.h"

/* Rings of other slot sizes, to compare geometry beyond the test payload. */
struct msg8 {
	uint64_t a;
};
struct msg40 {
	uint8_t b[40];
};
struct msg200 {
	uint64_t c[25];
};
struct msg12 {
	uint32_t d[3];
};
DEFINE_RING_TYPES(x8, struct msg8, struct msg8);
DEFINE_RING_TYPES(x40, struct msg40, struct msg12);
DEFINE_RING_TYPES(x200, struct msg12, struct msg200);

#define ASSERT_SAME_GEOMETRY(name, req_t, rsp_t)                                                   \
	do {                                                                                       \
		struct pvring_layout l = PVRING_LAYOUT(req_t, rsp_t);                              \
		unsigned int o;                                                                    \
		assert_int_equal(l.slot_size, sizeof(union name##_sring_entry));                   \
		assert_int_equal(offsetof(struct name##_sring, ring),                              \
				 offsetof(struct pvring_sring, slots));                            \
		for (o = 0; o <= PVRING_MAX_ORDER; o++)                                            \
			assert_int_equal(pvring_nr_slots(o, l.slot_size),                          \
					 __CONST_RING_SIZE(name, (size_t)PVRING_PAGE_SIZE << o));  \
	} while (0)

static void test_same_layout(void **state)
{
	(void)state;
	assert_int_equal(offsetof(xtest_sring_t, req_prod),
			 offsetof(struct pvring_sring, req_prod));
	assert_int_equal(offsetof(xtest_sring_t, req_event),
			 offsetof(struct pvring_sring, req_event));
	assert_int_equal(offsetof(xtest_sring_t, rsp_prod),
			 offsetof(struct pvring_sring, rsp_prod));
	assert_int_equal(offsetof(xtest_sring_t, rsp_event),
			 offsetof(struct pvring_sring, rsp_event));
	assert_int_equal(offsetof(xtest_sring_t, pvt), offsetof(struct pvring_sring, pvt));
	assert_int_equal(offsetof(xtest_sring_t, __pad), offsetof(struct pvring_sring, pad));
	assert_int_equal(sizeof(((xtest_sring_t *)0)->__pad),
			 sizeof(((struct pvring_sring *)0)->pad));
	ASSERT_SAME_GEOMETRY(xtest, struct test_req, struct test_rsp);
	ASSERT_SAME_GEOMETRY(x8, struct msg8, struct msg8);
	ASSERT_SAME_GEOMETRY(x40, struct msg40, struct msg12);
	ASSERT_SAME_GEOMETRY(x200, struct msg12, struct msg200);
}

static const struct pvring_layout layout = PVRING_LAYOUT(struct test_req, struct test_rsp);

struct lockstep {
	size_t bytes;
	uint8_t *ours, *theirs;
	struct pvring_front pf;
	struct pvring_back pb;
	xtest_front_ring_t xf;
	xtest_back_ring_t xb;
	uint64_t next_id;
	uint64_t rsp_id; /* id of the next response the back end produces */
};

static void lockstep_init(struct lockstep *ls, unsigned int order, uint32_t start)
{
	memset(ls, 0, sizeof(*ls));
	ls->bytes = (size_t)PVRING_PAGE_SIZE << order;
	ls->ours = aligned_alloc(PVRING_PAGE_SIZE, ls->bytes);
	ls->theirs = aligned_alloc(PVRING_PAGE_SIZE, ls->bytes);
	assert_non_null(ls->ours);
	assert_non_null(ls->theirs);
	memset(ls->ours, 0x5a, ls->bytes);
	memset(ls->theirs, 0x5a, ls->bytes);

	assert_true(pvring_front_init(&ls->pf, ls->ours, order, &layout, start));
	assert_true(pvring_back_attach(&ls->pb, ls->ours, order, &layout));
	if (start == 0) {
		XEN_FRONT_RING_INIT(&ls->xf, (xtest_sring_t *)ls->theirs, ls->bytes);
	} else {
		xtest_sring_t *s = (xtest_sring_t *)ls->theirs;

		SHARED_RING_INIT(s);
		s->req_prod = s->rsp_prod = start;
		s->req_event = s->rsp_event = start + 1;
		FRONT_RING_ATTACH(&ls->xf, s, start, ls->bytes);
	}
	BACK_RING_ATTACH(&ls->xb, (xtest_sring_t *)ls->theirs, start, ls->bytes);
	assert_int_equal(RING_SIZE(&ls->xf), pvring_front_nr_slots(&ls->pf));
	assert_memory_equal(ls->ours, ls->theirs, ls->bytes);
}

static void lockstep_free(struct lockstep *ls)
{
	free(ls->ours);
	free(ls->theirs);
}

static void front_produce(struct lockstep *ls, uint32_t k)
{
	struct test_req reqs[512];
	uint32_t n = RING_FREE_REQUESTS(&ls->xf), i;

	if (n > k)
		n = k;
	for (i = 0; i < k; i++)
		test_req_fill(&reqs[i], ls->next_id + i);
	assert_int_equal(pvring_front_produce_batch(&ls->pf, reqs, k), n);
	for (i = 0; i < n; i++)
		*RING_GET_REQUEST(&ls->xf, ls->xf.req_prod_pvt + i) = reqs[i];
	ls->xf.req_prod_pvt += n;
	ls->next_id += n;
}

static void front_push(struct lockstep *ls)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ls->xf, notify);
	assert_int_equal(pvring_front_push(&ls->pf), notify);
}

static void back_consume(struct lockstep *ls, uint32_t k)
{
	struct test_req ours[512], theirs[512];
	uint32_t n = RING_HAS_UNCONSUMED_REQUESTS(&ls->xb), got = 0, i;

	if (n > k)
		n = k;
	/* A batch stops at the producer index it last read: ask again. */
	while (got < k) {
		uint32_t more = pvring_back_consume_batch(&ls->pb, &ours[got], k - got);

		if (!more)
			break;
		got += more;
	}
	assert_int_equal(got, n);
	for (i = 0; i < n; i++)
		RING_COPY_REQUEST(&ls->xb, ls->xb.req_cons + i, &theirs[i]);
	ls->xb.req_cons += n;
	assert_memory_equal(ours, theirs, n * sizeof(ours[0]));
	for (i = 0; i < n; i++)
		assert_true(test_req_intact(&ours[i]));
}

static void back_produce(struct lockstep *ls, uint32_t k)
{
	struct test_rsp rsps[512];
	uint32_t n = ls->xb.req_cons - ls->xb.rsp_prod_pvt, i;

	if (n > k)
		n = k;
	for (i = 0; i < k; i++)
		rsps[i] = (struct test_rsp){ .id = ls->rsp_id + i,
					     .sum = test_req_expected_sum(ls->rsp_id + i) };
	assert_int_equal(pvring_back_produce_batch(&ls->pb, rsps, k), n);
	for (i = 0; i < n; i++)
		*RING_GET_RESPONSE(&ls->xb, ls->xb.rsp_prod_pvt + i) = rsps[i];
	ls->xb.rsp_prod_pvt += n;
	ls->rsp_id += n;
}

static void back_push(struct lockstep *ls)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&ls->xb, notify);
	assert_int_equal(pvring_back_push(&ls->pb), notify);
}

static void front_consume(struct lockstep *ls, uint32_t k)
{
	struct test_rsp ours[512], theirs[512];
	uint32_t n = RING_HAS_UNCONSUMED_RESPONSES(&ls->xf), got = 0, i;

	if (n > k)
		n = k;
	while (got < k) {
		uint32_t more = pvring_front_consume_batch(&ls->pf, &ours[got], k - got);

		if (!more)
			break;
		got += more;
	}
	assert_int_equal(got, n);
	for (i = 0; i < n; i++)
		RING_COPY_RESPONSE(&ls->xf, ls->xf.rsp_cons + i, &theirs[i]);
	ls->xf.rsp_cons += n;
	assert_memory_equal(ours, theirs, n * sizeof(ours[0]));
}

static void final_checks(struct lockstep *ls, bool back)
{
	int more;

	if (back) {
		RING_FINAL_CHECK_FOR_REQUESTS(&ls->xb, more);
		assert_int_equal(pvring_back_final_check(&ls->pb), !!more);
	} else {
		RING_FINAL_CHECK_FOR_RESPONSES(&ls->xf, more);
		assert_int_equal(pvring_front_final_check(&ls->pf), !!more);
	}
}

static void run_lockstep(unsigned int order, uint32_t start, uint64_t seed, unsigned int steps)
{
	struct lockstep ls;
	uint64_t rng = seed;
	unsigned int step;
	unsigned int kicks = 0;

	lockstep_init(&ls, order, start);
	for (step = 0; step < steps; step++) {
		uint32_t nr = RING_SIZE(&ls.xf);
		uint64_t r = test_rand(&rng);
		/* Mostly small batches, sometimes up to the whole ring. */
		uint32_t k = (r >> 8) % 4 ? 1 + (uint32_t)((r >> 16) % 8)
					  : 1 + (uint32_t)((r >> 16) % nr);

		switch (r % 8) {
		case 0:
			front_produce(&ls, 1 + (k - 1) % PVRING_PUBLISH_STRIDE);
			break;
		case 1:
			front_push(&ls);
			break;
		case 2:
			back_consume(&ls, k);
			break;
		case 3:
			back_produce(&ls, 1 + (k - 1) % PVRING_PUBLISH_STRIDE);
			break;
		case 4:
			back_push(&ls);
			break;
		case 5:
			front_consume(&ls, k);
			break;
		case 6:
			final_checks(&ls, true);
			kicks++;
			break;
		default:
			final_checks(&ls, false);
			break;
		}
		assert_memory_equal(ls.ours, ls.theirs, ls.bytes);
	}
	/* The walk went through the interesting states, not just an empty ring. */
	assert_true(ls.next_id > steps / 8);
	assert_true(kicks > 0);
	lockstep_free(&ls);
}

static void test_lockstep_orders(void **state)
{
	unsigned int order;

	(void)state;
	for (order = 0; order <= PVRING_MAX_ORDER; order++)
		run_lockstep(order, 0, 0x1234567 + order, 200000);
}

static void test_lockstep_wrap(void **state)
{
	unsigned int order;

	(void)state;
	for (order = 0; order <= PVRING_MAX_ORDER; order++)
		run_lockstep(order, UINT32_MAX - 1000, 0xabcdef + order, 200000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_layout),
		cmocka_unit_test(test_lockstep_orders),
		cmocka_unit_test(test_lockstep_wrap),
	};

	return cmocka_run_group_tests_name("ring vs xen/io/ring.h", tests, NULL, NULL);
}
