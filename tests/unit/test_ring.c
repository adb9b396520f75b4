// SPDX-License-Identifier: MIT
/* Unit tests of common/ring: one end or both, driven step by step. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Lets a test act as the peer at the racy point inside a final check. */
static void (*race_hook)(void *end);
#define PVRING_FINAL_CHECK_RACE_HOOK(end)                                                          \
	do {                                                                                       \
		if (race_hook)                                                                     \
			race_hook(end);                                                            \
	} while (0)

#include "common/ring/pvring_ring.h"
#include "tests/lib/test_payload.h"

static const struct pvring_layout layout = PVRING_LAYOUT(struct test_req, struct test_rsp);

struct ring_pair {
	unsigned int order;
	void *shared;
	struct pvring_front front;
	struct pvring_back back;
};

/*
 * The shared area is an exact-size heap block, so AddressSanitizer builds
 * catch any access outside the ring.
 */
static struct ring_pair *pair_new(unsigned int order, uint32_t start)
{
	struct ring_pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->order = order;
	p->shared = aligned_alloc(PVRING_PAGE_SIZE, (size_t)PVRING_PAGE_SIZE << order);
	assert_non_null(p->shared);
	memset(p->shared, 0xa5, (size_t)PVRING_PAGE_SIZE << order);
	assert_true(pvring_front_init(&p->front, p->shared, order, &layout, start));
	assert_true(pvring_back_attach(&p->back, p->shared, order, &layout));
	return p;
}

static void pair_free(struct ring_pair *p)
{
	free(p->shared);
	free(p);
}

static struct pvring_sring *sring(struct ring_pair *p)
{
	return p->shared;
}

/* Move n requests front -> back and n responses back -> front, checking both. */
static void round_trip(struct ring_pair *p, uint64_t first_id, uint32_t n)
{
	struct test_req req;
	struct test_rsp rsp;
	uint32_t i;

	for (i = 0; i < n; i++) {
		test_req_fill(&req, first_id + i);
		assert_true(pvring_front_produce(&p->front, &req));
	}
	pvring_front_push(&p->front);
	assert_int_equal(pvring_back_unconsumed(&p->back), n);
	for (i = 0; i < n; i++) {
		assert_true(pvring_back_consume(&p->back, &req));
		assert_int_equal(req.id, first_id + i);
		assert_true(test_req_intact(&req));
		rsp.id = req.id;
		rsp.sum = test_req_sum(&req);
		assert_true(pvring_back_produce(&p->back, &rsp));
	}
	pvring_back_push(&p->back);
	for (i = 0; i < n; i++) {
		assert_true(pvring_front_consume(&p->front, &rsp));
		assert_int_equal(rsp.id, first_id + i);
		assert_int_equal(rsp.sum, test_req_expected_sum(first_id + i));
	}
	assert_int_equal(pvring_front_unconsumed(&p->front), 0);
	assert_int_equal(pvring_back_unconsumed(&p->back), 0);
}

static void test_geometry(void **state)
{
	(void)state;
	/* blkif: 112-byte slots, 32 per page, as Linux's BLK_RING_SIZE. */
	assert_int_equal(pvring_nr_slots(0, 112), 32);
	assert_int_equal(pvring_nr_slots(1, 112), 64);
	assert_int_equal(pvring_nr_slots(2, 112), 128);
	assert_int_equal(pvring_nr_slots(3, 112), 256);
	assert_int_equal(pvring_nr_slots(4, 112), 512);
	/* 4032 / 16 = 252 slots fit, rounded down to 128. */
	assert_int_equal(pvring_nr_slots(0, 16), 128);
	assert_int_equal(pvring_nr_slots(0, 4032), 1);
	assert_int_equal(pvring_nr_slots(0, 4033), 0);
	assert_int_equal(pvring_nr_slots(0, 0), 0);
	assert_int_equal(pvring_nr_slots(PVRING_MAX_ORDER + 1, 112), 0);
}

static void test_init_rejects_bad_shape(void **state)
{
	static uint8_t page[PVRING_PAGE_SIZE] __attribute__((aligned(PVRING_PAGE_SIZE)));
	struct pvring_layout bad = layout;
	struct pvring_front front;
	struct pvring_back back;

	(void)state;
	assert_false(pvring_front_init(&front, page, PVRING_MAX_ORDER + 1, &layout, 0));
	bad.req_size = bad.slot_size + 1;
	assert_false(pvring_front_init(&front, page, 0, &bad, 0));
	assert_false(pvring_back_attach(&back, page, 0, &bad));
	bad = layout;
	bad.slot_size = PVRING_PAGE_SIZE;
	assert_false(pvring_front_init(&front, page, 0, &bad, 0));
}

static void test_init_layout(void **state)
{
	struct ring_pair *p = pair_new(0, 0);
	struct pvring_sring *s = sring(p);
	uint8_t zeros[48] = { 0 };

	(void)state;
	assert_int_equal(s->req_prod, 0);
	assert_int_equal(s->rsp_prod, 0);
	assert_int_equal(s->req_event, 1);
	assert_int_equal(s->rsp_event, 1);
	assert_memory_equal(s->pvt, zeros, sizeof(s->pvt));
	assert_memory_equal(s->pad, zeros, sizeof(s->pad));
	/* Slots are left alone: the front end owns them until it produces. */
	assert_int_equal(s->slots[0], 0xa5);
	pair_free(p);
}

static void test_empty(void **state)
{
	struct ring_pair *p = pair_new(0, 0);
	struct test_req req;
	struct test_rsp rsp = { 0 };

	(void)state;
	assert_int_equal(pvring_front_free(&p->front), 32);
	assert_int_equal(pvring_back_unconsumed(&p->back), 0);
	assert_false(pvring_back_consume(&p->back, &req));
	assert_false(pvring_front_consume(&p->front, &rsp));
	/* Nothing produced: nothing to publish, nobody to kick. */
	assert_false(pvring_front_push(&p->front));
	assert_false(pvring_back_push(&p->back));
	/* An idle consumer arms its event index for the next message. */
	assert_false(pvring_back_final_check(&p->back));
	assert_int_equal(sring(p)->req_event, 1);
	assert_false(pvring_front_final_check(&p->front));
	assert_int_equal(sring(p)->rsp_event, 1);
	/* No request consumed: no response may be produced. */
	assert_false(pvring_back_produce(&p->back, &rsp));
	assert_int_equal(sring(p)->rsp_prod, 0);
	pair_free(p);
}

static void test_full(void **state)
{
	struct ring_pair *p = pair_new(0, 0);
	struct test_req reqs[33], req;
	struct test_rsp rsps[33];
	uint32_t i;

	(void)state;
	for (i = 0; i < 33; i++)
		test_req_fill(&reqs[i], i);
	assert_int_equal(pvring_front_produce_batch(&p->front, reqs, 33), 32);
	assert_int_equal(pvring_front_free(&p->front), 0);
	assert_false(pvring_front_produce(&p->front, &reqs[32]));
	assert_true(pvring_front_push(&p->front));
	assert_int_equal(pvring_back_consume_batch(&p->back, reqs, 33), 32);
	assert_false(pvring_back_consume(&p->back, &req));
	assert_int_equal(pvring_back_owed(&p->back), 32);
	for (i = 0; i < 33; i++)
		rsps[i] = (struct test_rsp){ .id = i, .sum = test_req_sum(&reqs[i % 32]) };
	/* Responses can never outnumber the requests consumed. */
	assert_int_equal(pvring_back_produce_batch(&p->back, rsps, 33), 32);
	assert_int_equal(pvring_back_owed(&p->back), 0);
	/* Still full for the front end until it consumes the responses. */
	assert_int_equal(pvring_front_free(&p->front), 0);
	assert_true(pvring_back_push(&p->back));
	assert_int_equal(pvring_front_consume_batch(&p->front, rsps, 33), 32);
	for (i = 0; i < 32; i++)
		assert_int_equal(rsps[i].sum, test_req_expected_sum(i));
	assert_int_equal(pvring_front_free(&p->front), 32);
	pair_free(p);
}

/* Free-running indices cross 2^32 without a hiccup, in every batch phase. */
static void test_wraparound(void **state)
{
	unsigned int order;

	(void)state;
	for (order = 0; order <= PVRING_MAX_ORDER; order++) {
		uint32_t start = UINT32_MAX - 3 * pvring_nr_slots(order, 112) - 5;
		struct ring_pair *p = pair_new(order, start);
		uint64_t id = 0;
		uint32_t n;

		for (n = 1; id < 8u * pvring_nr_slots(order, 112);
		     n = (n * 7 + 3) % pvring_nr_slots(order, 112) + 1) {
			round_trip(p, id, n);
			id += n;
		}
		/* The indices really did wrap. */
		assert_true(sring(p)->req_prod < start);
		assert_int_equal(sring(p)->req_prod, (uint32_t)(start + id));
		assert_int_equal(sring(p)->rsp_prod, (uint32_t)(start + id));
		pair_free(p);
	}
}

/*
 * The notification rule: a producer moving its index from old to new kicks the
 * peer iff the peer's event index E satisfies old < E <= new (mod 2^32).
 */
struct notify_case {
	const char *what;
	uint32_t old_prod;
	uint32_t produced;
	uint32_t event;
	bool kick;
};

static const struct notify_case notify_cases[] = {
	{ "peer asleep, waiting for the first new message", 100, 1, 101, true },
	{ "peer asleep, waiting for a message in the middle of the batch", 100, 8, 104, true },
	{ "peer asleep, waiting for the last message of the batch", 100, 8, 108, true },
	{ "peer busy: event index behind, already notified for older work", 100, 8, 100, false },
	{ "peer busy: event index far behind", 100, 8, 3, false },
	{ "peer asked for a later message only", 100, 8, 109, false },
	{ "event index far ahead", 100, 8, 100 + 0x80000000u, false },
	{ "wrap: batch crosses 2^32, peer waiting before the wrap", UINT32_MAX - 2, 8, UINT32_MAX,
	  true },
	{ "wrap: batch crosses 2^32, peer waiting after the wrap", UINT32_MAX - 2, 8, 3, true },
	{ "wrap: batch crosses 2^32, event behind", UINT32_MAX - 2, 8, UINT32_MAX - 2, false },
	{ "wrap: batch crosses 2^32, event beyond", UINT32_MAX - 2, 8, 6, false },
};

static void test_notify_truth_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(notify_cases) / sizeof(notify_cases[0]); i++) {
		const struct notify_case *c = &notify_cases[i];
		struct ring_pair *p = pair_new(0, c->old_prod);
		struct test_req req;
		struct test_rsp rsp;
		uint32_t k;

		/* Requests: the back end's req_event decides. */
		for (k = 0; k < c->produced; k++) {
			test_req_fill(&req, k);
			assert_true(pvring_front_produce(&p->front, &req));
		}
		sring(p)->req_event = c->event;
		print_message("requests:  %s\n", c->what);
		assert_int_equal(pvring_front_push(&p->front), c->kick);
		assert_int_equal(sring(p)->req_prod, c->old_prod + c->produced);

		/* Responses: the front end's rsp_event decides. */
		for (k = 0; k < c->produced; k++) {
			assert_true(pvring_back_consume(&p->back, &req));
			rsp = (struct test_rsp){ .id = req.id };
			assert_true(pvring_back_produce(&p->back, &rsp));
		}
		sring(p)->rsp_event = c->event;
		print_message("responses: %s\n", c->what);
		assert_int_equal(pvring_back_push(&p->back), c->kick);
		pair_free(p);
	}
}

/*
 * The lost wake-up race: the consumer has looked and found the ring empty; the
 * producer now publishes a message and, seeing the old event index, does not
 * kick; the consumer re-arms. Its final check must find the message, or it
 * would sleep with work waiting. The hook runs the producer at exactly that
 * point.
 */
static struct ring_pair *racing_pair;
static bool racing_push_kicked;

static void publish_request_in_race(void *end)
{
	struct test_req req;

	assert_ptr_equal(end, &racing_pair->back);
	test_req_fill(&req, 99);
	assert_true(pvring_front_produce(&racing_pair->front, &req));
	racing_push_kicked = pvring_front_push(&racing_pair->front);
}

static void publish_response_in_race(void *end)
{
	struct test_rsp rsp = { .id = 99 };

	assert_ptr_equal(end, &racing_pair->front);
	assert_true(pvring_back_produce(&racing_pair->back, &rsp));
	racing_push_kicked = pvring_back_push(&racing_pair->back);
}

static void test_final_check_race_requests(void **state)
{
	struct ring_pair *p = pair_new(0, 0);
	struct test_req req;

	(void)state;
	racing_pair = p;
	test_req_fill(&req, 1);
	assert_true(pvring_front_produce(&p->front, &req));
	assert_true(pvring_front_push(&p->front)); /* event index 1 asked for it */
	assert_true(pvring_back_consume(&p->back, &req));

	race_hook = publish_request_in_race;
	assert_true(pvring_back_final_check(&p->back)); /* the re-check sees it */
	race_hook = NULL;
	assert_false(racing_push_kicked); /* the producer saw the old event index */
	assert_true(pvring_back_consume(&p->back, &req));
	assert_int_equal(req.id, 99);

	/* Armed first: the producer sees the new event index and must kick. */
	assert_false(pvring_back_final_check(&p->back));
	assert_int_equal(sring(p)->req_event, 3);
	test_req_fill(&req, 3);
	assert_true(pvring_front_produce(&p->front, &req));
	assert_true(pvring_front_push(&p->front));
	pair_free(p);
}

static void test_final_check_race_responses(void **state)
{
	struct ring_pair *p = pair_new(0, 0);
	struct test_req reqs[2];
	struct test_rsp rsp = { 0 };

	(void)state;
	racing_pair = p;
	test_req_fill(&reqs[0], 1);
	test_req_fill(&reqs[1], 2);
	assert_int_equal(pvring_front_produce_batch(&p->front, reqs, 2), 2);
	pvring_front_push(&p->front);
	assert_int_equal(pvring_back_consume_batch(&p->back, reqs, 2), 2);
	assert_true(pvring_back_produce(&p->back, &rsp));
	assert_true(pvring_back_push(&p->back)); /* rsp_event 1 asked for it */
	assert_true(pvring_front_consume(&p->front, &rsp));

	race_hook = publish_response_in_race;
	assert_true(pvring_front_final_check(&p->front));
	race_hook = NULL;
	assert_false(racing_push_kicked);
	assert_true(pvring_front_consume(&p->front, &rsp));
	assert_int_equal(rsp.id, 99);
	assert_false(pvring_front_final_check(&p->front));
	assert_int_equal(sring(p)->rsp_event, 3);
	pair_free(p);
}

/* After a fault, nothing more is consumed, even if the index is put right. */
static void assert_back_stopped(struct ring_pair *p, enum pvring_fault fault, uint32_t bad)
{
	struct test_req req;

	assert_int_equal(pvring_back_fault(&p->back), fault);
	assert_int_equal(p->back.shape.fault_prod, bad);
	assert_non_null(strstr(pvring_fault_str(fault), "request producer"));
	sring(p)->req_prod = p->back.req_cons + 1;
	assert_false(pvring_back_consume(&p->back, &req));
	assert_int_equal(pvring_back_unconsumed(&p->back), 0);
	assert_false(pvring_back_final_check(&p->back));
}

static void test_broken_req_prod_ahead(void **state)
{
	static const uint32_t ahead_by[] = { 33, 34, 1000, 0x80000000u, UINT32_MAX };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ahead_by) / sizeof(ahead_by[0]); i++) {
		struct ring_pair *p = pair_new(0, UINT32_MAX - 10);
		struct test_req reqs[32];
		uint32_t bad;

		round_trip(p, 0, 20);
		/* 32 outstanding is the most a front end can have: still fine. */
		sring(p)->req_prod = p->back.rsp_prod_pvt + 32;
		assert_int_equal(pvring_back_consume_batch(&p->back, reqs, 32), 32);
		assert_int_equal(pvring_back_fault(&p->back), PVRING_FAULT_NONE);
		bad = p->back.rsp_prod_pvt + ahead_by[i];
		sring(p)->req_prod = bad;
		assert_false(pvring_back_final_check(&p->back));
		assert_false(pvring_back_consume(&p->back, reqs));
		assert_back_stopped(p, PVRING_FAULT_REQ_PROD_AHEAD, bad);
		pair_free(p);
	}
}

/* What pvringctl shows of a ring: the shared indices as they are, the back end's own. */
static void test_back_state(void **state)
{
	struct ring_pair *p = pair_new(0, UINT32_MAX - 2);
	struct pvring_back_state s;
	struct test_req reqs[4];
	struct test_rsp rsp = { 0 };
	uint32_t start = UINT32_MAX - 2, i;

	(void)state;
	pvring_back_state(&p->back, &s);
	assert_int_equal(s.nr_slots, 32);
	assert_int_equal(s.req_prod, start);
	assert_int_equal(s.rsp_prod, start);
	assert_int_equal(s.req_cons, start);
	assert_int_equal(s.rsp_prod_pvt, start);
	assert_int_equal(s.fault, PVRING_FAULT_NONE);
	for (i = 0; i < 4; i++) {
		test_req_fill(&reqs[i], i);
		assert_true(pvring_front_produce(&p->front, &reqs[i]));
	}
	pvring_front_push(&p->front);
	assert_int_equal(pvring_back_consume_batch(&p->back, reqs, 3), 3);
	assert_true(pvring_back_produce(&p->back, &rsp));
	pvring_back_state(&p->back, &s);
	/* Published and consumed across the wrap; one response produced, none pushed yet. */
	assert_int_equal(s.req_prod, start + 4);
	assert_int_equal(s.req_cons, start + 3);
	assert_int_equal(s.rsp_prod_pvt, start + 1);
	assert_int_equal(s.rsp_prod, start);
	assert_int_equal(s.req_event, sring(p)->req_event);
	assert_int_equal(s.rsp_event, sring(p)->rsp_event);
	pvring_back_push(&p->back);
	pvring_back_state(&p->back, &s);
	assert_int_equal(s.rsp_prod, start + 1);
	/* A fault is shown with the index that was refused. */
	sring(p)->req_prod = start + 1000;
	assert_int_equal(pvring_back_unconsumed(&p->back), 0);
	pvring_back_state(&p->back, &s);
	assert_int_equal(s.fault, PVRING_FAULT_REQ_PROD_AHEAD);
	assert_int_equal(s.fault_prod, start + 1000);
	assert_int_equal(s.req_prod, start + 1000);
	assert_int_equal(s.req_cons, start + 3);
	pair_free(p);
}

static void test_broken_req_prod_ahead_of_responses(void **state)
{
	struct ring_pair *p = pair_new(0, 0);
	struct test_req reqs[32];
	uint32_t bad;

	(void)state;
	/* Consume 32 requests and answer none: the front end may not add one more. */
	sring(p)->req_prod = 32;
	assert_int_equal(pvring_back_consume_batch(&p->back, reqs, 32), 32);
	bad = 33;
	sring(p)->req_prod = bad;
	assert_false(pvring_back_consume(&p->back, reqs));
	assert_back_stopped(p, PVRING_FAULT_REQ_PROD_AHEAD, bad);
	pair_free(p);
}

static void test_broken_req_prod_behind(void **state)
{
	struct ring_pair *p = pair_new(0, 5);
	struct test_req reqs[10];
	uint32_t bad;

	(void)state;
	sring(p)->req_prod = 15;
	assert_int_equal(pvring_back_consume_batch(&p->back, reqs, 8), 8);
	/* The cached producer index still covers 2 requests... */
	assert_int_equal(pvring_back_consume_batch(&p->back, reqs, 1), 1);
	/* ...but a re-read that moves it behind what was consumed is a fault. */
	bad = 12;
	sring(p)->req_prod = bad;
	assert_int_equal(pvring_back_unconsumed(&p->back), 0);
	assert_back_stopped(p, PVRING_FAULT_REQ_PROD_BEHIND, bad);
	pair_free(p);
}

static void test_broken_rsp_prod(void **state)
{
	static const uint32_t bad_rsp_prod[] = { 11, 12, 100, 0x80000000u, UINT32_MAX };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_rsp_prod) / sizeof(bad_rsp_prod[0]); i++) {
		struct ring_pair *p = pair_new(0, 0);
		struct test_req reqs[10];
		struct test_rsp rsps[10], rsp;
		uint32_t k;

		for (k = 0; k < 10; k++)
			test_req_fill(&reqs[k], k);
		assert_int_equal(pvring_front_produce_batch(&p->front, reqs, 10), 10);
		pvring_front_push(&p->front);
		/* A response per published request is fine... */
		sring(p)->rsp_prod = 10;
		assert_int_equal(pvring_front_unconsumed(&p->front), 10);
		/* ...one more than requests outstanding is a fault. */
		sring(p)->rsp_prod = bad_rsp_prod[i];
		/* The 10 validated before are still delivered, then consuming stops. */
		assert_int_equal(pvring_front_consume_batch(&p->front, rsps, 10), 10);
		assert_false(pvring_front_consume(&p->front, &rsp));
		assert_int_equal(pvring_front_fault(&p->front), PVRING_FAULT_RSP_PROD_AHEAD);
		assert_int_equal(p->front.shape.fault_prod, bad_rsp_prod[i]);
		assert_false(pvring_front_final_check(&p->front));
		pair_free(p);
	}
}

/* Unpublished requests cannot be answered: rsp_prod may not pass req_pushed. */
static void test_broken_rsp_prod_before_push(void **state)
{
	struct ring_pair *p = pair_new(0, 0);
	struct test_req req;
	struct test_rsp rsp;

	(void)state;
	test_req_fill(&req, 0);
	assert_true(pvring_front_produce(&p->front, &req));
	sring(p)->rsp_prod = 1;
	assert_false(pvring_front_consume(&p->front, &rsp));
	assert_int_equal(pvring_front_fault(&p->front), PVRING_FAULT_RSP_PROD_AHEAD);
	pair_free(p);
}

/*
 * A large batch is published as it is copied in, so the consumer can start
 * early; the push still decides the kick over the whole batch, so a consumer
 * that asked for a message in an early-published part is kicked.
 */
static void test_batch_publishes_progressively(void **state)
{
	struct ring_pair *p = pair_new(2, 0);
	struct test_req reqs[3 * PVRING_PUBLISH_STRIDE + 1];
	struct test_rsp rsps[3 * PVRING_PUBLISH_STRIDE + 1];
	uint32_t n = 3 * PVRING_PUBLISH_STRIDE + 1, k;

	(void)state;
	for (k = 0; k < n; k++)
		test_req_fill(&reqs[k], k);
	assert_false(pvring_back_final_check(&p->back)); /* asleep, wants message 0 */
	assert_int_equal(pvring_front_produce_batch(&p->front, reqs, n), n);
	/* Everything but the last stride is already visible... */
	assert_int_equal(sring(p)->req_prod, 3 * PVRING_PUBLISH_STRIDE);
	assert_int_equal(pvring_back_unconsumed(&p->back), 3 * PVRING_PUBLISH_STRIDE);
	/* ...and the push both publishes the rest and kicks for message 0. */
	assert_true(pvring_front_push(&p->front));
	assert_int_equal(sring(p)->req_prod, n);
	/* A batch ends at the producer index last read; the next one reads it again. */
	assert_int_equal(pvring_back_consume_batch(&p->back, reqs, n), n - 1);
	assert_int_equal(pvring_back_consume_batch(&p->back, &reqs[n - 1], 1), 1);
	for (k = 0; k < n; k++) {
		assert_true(test_req_intact(&reqs[k]));
		rsps[k] = (struct test_rsp){ .id = k, .sum = test_req_sum(&reqs[k]) };
	}

	assert_false(pvring_front_final_check(&p->front)); /* asleep, wants response 0 */
	assert_int_equal(pvring_back_produce_batch(&p->back, rsps, n), n);
	assert_int_equal(sring(p)->rsp_prod, 3 * PVRING_PUBLISH_STRIDE);
	/* Responses to published requests are valid even before the push. */
	assert_int_equal(pvring_front_unconsumed(&p->front), 3 * PVRING_PUBLISH_STRIDE);
	assert_true(pvring_back_push(&p->back));
	assert_int_equal(pvring_front_consume_batch(&p->front, rsps, n), n - 1);
	assert_int_equal(pvring_front_consume_batch(&p->front, &rsps[n - 1], 1), 1);
	for (k = 0; k < n; k++)
		assert_int_equal(rsps[k].sum, test_req_expected_sum(k));
	assert_int_equal(pvring_front_fault(&p->front), PVRING_FAULT_NONE);
	pair_free(p);
}

/* A consumed request is a private copy: later writes to the slot do not reach it. */
static void test_consume_copies(void **state)
{
	struct ring_pair *p = pair_new(0, 0);
	struct test_req req;

	(void)state;
	test_req_fill(&req, 42);
	assert_true(pvring_front_produce(&p->front, &req));
	pvring_front_push(&p->front);
	memset(&req, 0, sizeof(req));
	assert_true(pvring_back_consume(&p->back, &req));
	memset(sring(p)->slots, 0xff, 112);
	assert_int_equal(req.id, 42);
	assert_true(test_req_intact(&req));
	pair_free(p);
}

/* Batches split at the end of the slot array land in the right slots. */
static void test_batch_split_at_ring_end(void **state)
{
	unsigned int order;

	(void)state;
	for (order = 0; order <= PVRING_MAX_ORDER; order++) {
		uint32_t nr = pvring_nr_slots(order, 112);
		struct ring_pair *p = pair_new(order, nr - 3);
		struct test_req *reqs = calloc(nr, sizeof(*reqs));
		struct test_rsp *rsps = calloc(nr, sizeof(*rsps));
		uint32_t k;

		assert_non_null(reqs);
		assert_non_null(rsps);
		for (k = 0; k < nr; k++)
			test_req_fill(&reqs[k], 1000 + k);
		assert_int_equal(pvring_front_produce_batch(&p->front, reqs, nr), nr);
		/* Request k sits in slot (start + k) mod nr: the split happened. */
		assert_int_equal(((struct test_req *)pvring__slot(&p->front.shape, nr - 3))->id,
				 1000);
		assert_int_equal(((struct test_req *)(void *)sring(p)->slots)->id, 1003);
		pvring_front_push(&p->front);
		memset(reqs, 0, nr * sizeof(*reqs));
		assert_int_equal(pvring_back_consume_batch(&p->back, reqs, nr), nr);
		for (k = 0; k < nr; k++) {
			assert_int_equal(reqs[k].id, 1000 + k);
			assert_true(test_req_intact(&reqs[k]));
			rsps[k] = (struct test_rsp){ .id = reqs[k].id,
						     .sum = test_req_sum(&reqs[k]) };
		}
		assert_int_equal(pvring_back_produce_batch(&p->back, rsps, nr), nr);
		pvring_back_push(&p->back);
		memset(rsps, 0, nr * sizeof(*rsps));
		assert_int_equal(pvring_front_consume_batch(&p->front, rsps, nr), nr);
		for (k = 0; k < nr; k++)
			assert_int_equal(rsps[k].sum, test_req_expected_sum(1000 + k));
		free(reqs);
		free(rsps);
		pair_free(p);
	}
}

/* Every order: fill and drain the whole ring many times over. */
static void test_orders(void **state)
{
	unsigned int order;

	(void)state;
	for (order = 0; order <= PVRING_MAX_ORDER; order++) {
		struct ring_pair *p = pair_new(order, 0);
		uint32_t nr = pvring_nr_slots(order, 112);
		uint64_t id;

		assert_int_equal(pvring_front_nr_slots(&p->front), nr);
		assert_int_equal(pvring_back_nr_slots(&p->back), nr);
		assert_int_equal(nr, 32u << order);
		for (id = 0; id < 4u * nr; id += nr)
			round_trip(p, id, nr);
		pair_free(p);
	}
}

/* A back end attaching to a ring with requests already published sees them. */
/* A polling back end is not kicked; its final check re-arms the kick, also across 2^32. */
static void test_back_poll_suppresses_kicks(void **state)
{
	static const uint32_t starts[] = { 0, 0xfffffff0u, 0x7ffffff8u };
	struct ring_pair *p;
	struct test_req req;
	unsigned int i, n;

	(void)state;
	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		p = pair_new(0, starts[i]);
		for (n = 0; n < 40; n++) {
			round_trip(p, n * 3, 3);
			assert_false(pvring_back_final_check(&p->back));
			pvring_back_poll_begin(&p->back);
			test_req_fill(&req, 1000 + n);
			assert_true(pvring_front_produce(&p->front, &req));
			/* Polling: no kick, and the request is there to be found. */
			assert_false(pvring_front_push(&p->front));
			assert_int_equal(pvring_back_unconsumed(&p->back), 1);
			assert_true(pvring_back_consume(&p->back, &req));
			assert_true(
				pvring_back_produce(&p->back, &(struct test_rsp){ .id = req.id }));
			pvring_back_push(&p->back);
			assert_true(pvring_front_consume(&p->front, &(struct test_rsp){ 0 }));
			/* The poll ends: re-armed, the next request kicks again. */
			assert_false(pvring_back_final_check(&p->back));
			assert_true(pvring_front_produce(&p->front, &req));
			assert_true(pvring_front_push(&p->front));
			assert_true(pvring_back_consume(&p->back, &req));
			assert_true(
				pvring_back_produce(&p->back, &(struct test_rsp){ .id = req.id }));
			pvring_back_push(&p->back);
			assert_true(pvring_front_consume(&p->front, &(struct test_rsp){ 0 }));
		}
		pair_free(p);
	}
}

/* A polling front end is not kicked for responses; its final check re-arms, also across 2^32. */
static void test_front_poll_suppresses_kicks(void **state)
{
	static const uint32_t starts[] = { 0, 0xfffffff0u, 0x7ffffff8u };
	struct ring_pair *p;
	struct test_req req;
	unsigned int i, n;

	(void)state;
	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		p = pair_new(0, starts[i]);
		pvring_front_poll_begin(&p->front);
		for (n = 0; n < 40; n++) {
			test_req_fill(&req, n);
			assert_true(pvring_front_produce(&p->front, &req));
			pvring_front_push(&p->front);
			assert_true(pvring_back_consume(&p->back, &req));
			assert_true(
				pvring_back_produce(&p->back, &(struct test_rsp){ .id = req.id }));
			/* Polling: no kick, and the response is there to be found. */
			assert_false(pvring_back_push(&p->back));
			assert_true(pvring_front_consume(&p->front, &(struct test_rsp){ 0 }));
			pvring_front_poll_begin(&p->front);
		}
		/* The poll ends: re-armed, the next response kicks again. */
		assert_false(pvring_front_final_check(&p->front));
		assert_true(pvring_front_produce(&p->front, &req));
		pvring_front_push(&p->front);
		assert_true(pvring_back_consume(&p->back, &req));
		assert_true(pvring_back_produce(&p->back, &(struct test_rsp){ .id = req.id }));
		assert_true(pvring_back_push(&p->back));
		pair_free(p);
	}
}

/*
 * The busy-polling looks count what is there as the plain ones do, consume nothing, and find
 * nothing on a faulted ring, at every slot (the last one's prefetch stays inside the ring: the
 * shared area is an exact-size heap block) and across the index's wrap.
 */
static void test_poll_looks_consume_nothing(void **state)
{
	struct ring_pair *p = pair_new(0, 0xfffffff0u);
	struct test_req req;
	struct test_rsp rsp;
	unsigned int n;

	(void)state;
	for (n = 0; n < 40; n++) {
		assert_int_equal(pvring_back_poll(&p->back), 0);
		test_req_fill(&req, n);
		assert_true(pvring_front_produce(&p->front, &req));
		pvring_front_push(&p->front);
		assert_int_equal(pvring_back_poll(&p->back), 1);
		assert_int_equal(pvring_back_poll(&p->back), 1);
		assert_true(pvring_back_consume(&p->back, &req));
		assert_int_equal(req.id, n);
		assert_int_equal(pvring_back_poll(&p->back), 0);
		assert_int_equal(pvring_front_poll(&p->front), 0);
		assert_true(pvring_back_produce(&p->back, &(struct test_rsp){ .id = req.id }));
		pvring_back_push(&p->back);
		assert_int_equal(pvring_front_poll(&p->front), 1);
		assert_int_equal(pvring_front_poll(&p->front), 1);
		assert_true(pvring_front_consume(&p->front, &rsp));
		assert_int_equal(rsp.id, n);
		assert_int_equal(pvring_front_poll(&p->front), 0);
	}
	/* A request producer index out of range: nothing to poll, and the fault says why. */
	sring(p)->req_prod = p->back.req_cons + 100;
	assert_int_equal(pvring_back_poll(&p->back), 0);
	assert_int_equal(pvring_back_fault(&p->back), PVRING_FAULT_REQ_PROD_AHEAD);
	/* A response producer index beyond the requests published: the same for the front end. */
	sring(p)->rsp_prod = p->front.rsp_cons + 1;
	assert_int_equal(pvring_front_poll(&p->front), 0);
	assert_int_equal(pvring_front_fault(&p->front), PVRING_FAULT_RSP_PROD_AHEAD);
	pair_free(p);
}

static void test_back_attach_with_pending(void **state)
{
	static uint8_t page[PVRING_PAGE_SIZE] __attribute__((aligned(PVRING_PAGE_SIZE)));
	struct pvring_front front;
	struct pvring_back back;
	struct test_req req;

	(void)state;
	assert_true(pvring_front_init(&front, page, 0, &layout, 1u << 31));
	test_req_fill(&req, 7);
	assert_true(pvring_front_produce(&front, &req));
	pvring_front_push(&front);
	assert_true(pvring_back_attach(&back, page, 0, &layout));
	assert_int_equal(pvring_back_unconsumed(&back), 1);
	assert_true(pvring_back_consume(&back, &req));
	assert_int_equal(req.id, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_init_rejects_bad_shape),
		cmocka_unit_test(test_init_layout),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_notify_truth_table),
		cmocka_unit_test(test_final_check_race_requests),
		cmocka_unit_test(test_final_check_race_responses),
		cmocka_unit_test(test_broken_req_prod_ahead),
		cmocka_unit_test(test_back_state),
		cmocka_unit_test(test_broken_req_prod_ahead_of_responses),
		cmocka_unit_test(test_broken_req_prod_behind),
		cmocka_unit_test(test_broken_rsp_prod),
		cmocka_unit_test(test_broken_rsp_prod_before_push),
		cmocka_unit_test(test_batch_publishes_progressively),
		cmocka_unit_test(test_consume_copies),
		cmocka_unit_test(test_batch_split_at_ring_end),
		cmocka_unit_test(test_orders),
		cmocka_unit_test(test_back_poll_suppresses_kicks),
		cmocka_unit_test(test_front_poll_suppresses_kicks),
		cmocka_unit_test(test_poll_looks_consume_nothing),
		cmocka_unit_test(test_back_attach_with_pending),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
