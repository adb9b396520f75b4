// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a back end attached to a shared ring whose every byte a
 * hostile front end controls, before and between the back end's steps.
 *
 * The ring lives in a heap block of exactly 2^order pages, and every buffer
 * the back end copies into or out of is exactly as large as the call needs,
 * so ASan reports any access outside them. After each step the target checks
 * what the back end promises: never more requests owed than slots, faults
 * are sticky and stop all consuming, nothing written outside its own fields
 * and the slots of responses it produced, requests copied out as they were.
 *
 * Input: order, layout, the 16-byte ring header, then one step per byte
 * (with operands from the bytes after it) until the input runs out.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto/pvring_blkif.h"
#include "common/ring/pvring_ring.h"

#include "tests/fuzz/fuzz_require.h"

/* Batches larger than the biggest ring used here (order 2, 20-byte slots: 512). */
#define MAX_BATCH 600u

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t next8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint32_t next32(struct input *in)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v |= (uint32_t)next8(in) << (8 * i);
	return v;
}

/* blkif as pvringd uses it, plus layouts that take the other copy paths. */
static const struct pvring_layout layouts[] = {
	PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response),
	{ .slot_size = 64, .req_size = 64, .rsp_size = 8 },
	{ .slot_size = 20, .req_size = 20, .rsp_size = 12 },
	{ .slot_size = 264, .req_size = 260, .rsp_size = 264 },
};

/* An index near a reference point, or anywhere: valid states are rare otherwise. */
static uint32_t index_near(struct input *in, uint32_t ref, uint32_t nr_slots)
{
	uint8_t how = next8(in);
	uint32_t v = next32(in);

	switch (how & 3) {
	case 0:
		return ref + v % (nr_slots + 2);
	case 1:
		return ref - v % (nr_slots + 2);
	default:
		return v;
	}
}

static void check_state(const struct pvring_back *back)
{
	require(pvring_back_owed(back) <= back->shape.nr_slots);
	require(back->req_seen - back->req_cons <= back->shape.nr_slots);
	require(back->req_seen - back->rsp_prod_pvt <= back->shape.nr_slots);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	const struct pvring_layout *layout;
	struct pvring_back back;
	struct pvring_sring *sring;
	uint8_t *ring, *before;
	size_t ring_bytes;
	unsigned int order;
	uint32_t nr_slots, i;

	if (size < 18)
		return -1;
	order = next8(&in) % 3;
	layout = &layouts[next8(&in) % (sizeof(layouts) / sizeof(layouts[0]))];
	ring_bytes = (size_t)PVRING_PAGE_SIZE << order;
	ring = malloc(ring_bytes);
	before = malloc(ring_bytes);
	if (!ring || !before)
		abort();
	/* Slot contents are the front end's too: a pattern so copies can be compared. */
	for (i = 0; i < ring_bytes; i++)
		ring[i] = (uint8_t)(i * 131 + 7);
	for (i = 0; i < 16; i++)
		ring[i] = next8(&in);
	sring = (struct pvring_sring *)ring;

	if (!pvring_back_attach(&back, ring, order, layout))
		abort();
	nr_slots = pvring_back_nr_slots(&back);
	require(nr_slots && !(nr_slots & (nr_slots - 1)));
	require(64 + (size_t)nr_slots * layout->slot_size <= ring_bytes);
	require(back.req_cons == sring->rsp_prod && back.rsp_prod_pvt == sring->rsp_prod);

	while (in.left) {
		uint8_t step = next8(&in);
		enum pvring_fault fault = pvring_back_fault(&back);
		uint32_t req_cons = back.req_cons, rsp_prod_pvt = back.rsp_prod_pvt;
		uint32_t owed = pvring_back_owed(&back), n, got;
		bool frontend_step = false;

		memcpy(before, ring, ring_bytes);
		switch (step % 12) {
		case 0: /* the front end publishes requests, honestly or not */
			sring->req_prod = index_near(&in, back.rsp_prod_pvt, nr_slots);
			frontend_step = true;
			break;
		case 1:
			sring->req_prod = index_near(&in, back.req_cons, nr_slots);
			frontend_step = true;
			break;
		case 2: /* any 32-bit word of the header, or of a slot */
			n = next8(&in);
			i = next32(&in);
			if (n & 1)
				memcpy(ring + (i % (ring_bytes / 4)) * 4, &i, 4);
			else
				memcpy(ring + (n >> 1) % 4 * 4, &i, 4);
			frontend_step = true;
			break;
		case 3: {
			uint8_t *reqs;

			n = next8(&in) % 3 == 0 ? next32(&in) % (MAX_BATCH + 1) : next8(&in) % 4;
			reqs = malloc((size_t)n * layout->req_size + 1);
			if (!reqs)
				abort();
			got = pvring_back_consume_batch(&back, reqs, n);
			require(got <= n);
			for (i = 0; i < got; i++)
				require(!memcmp(reqs + (size_t)i * layout->req_size,
						before + 64 +
							(size_t)((req_cons + i) & (nr_slots - 1)) *
								layout->slot_size,
						layout->req_size));
			free(reqs);
			break;
		}
		case 4: {
			uint8_t *req = malloc(layout->req_size);

			if (!req)
				abort();
			got = pvring_back_consume(&back, req);
			free(req);
			break;
		}
		case 5: {
			uint8_t *rsps;

			n = next8(&in) % 3 == 0 ? next32(&in) % (MAX_BATCH + 1) : next8(&in) % 4;
			rsps = malloc((size_t)n * layout->rsp_size + 1);
			if (!rsps)
				abort();
			memset(rsps, 0xa5, (size_t)n * layout->rsp_size);
			got = pvring_back_produce_batch(&back, rsps, n);
			require(got <= n && got <= owed);
			require(back.rsp_prod_pvt - rsp_prod_pvt == got);
			free(rsps);
			break;
		}
		case 6: {
			uint8_t *rsp = malloc(layout->rsp_size);

			if (!rsp)
				abort();
			memset(rsp, 0x5a, layout->rsp_size);
			got = pvring_back_produce(&back, rsp);
			require(got == (owed > 0));
			free(rsp);
			break;
		}
		case 7: {
			uint32_t pushed = back.rsp_pushed;

			pvring_back_push(&back);
			/* With nothing new a push stores nothing: rsp_prod may hold the front's
			 * scribble. */
			require(back.rsp_pushed == back.rsp_prod_pvt);
			if (pushed != back.rsp_prod_pvt)
				require(sring->rsp_prod == back.rsp_prod_pvt);
			break;
		}
		case 8:
			pvring_back_publish(&back);
			require(sring->rsp_prod == back.rsp_prod_pvt);
			break;
		case 9:
			if (pvring_back_final_check(&back))
				require(!pvring_back_fault(&back));
			break;
		case 10:
			pvring_back_poll_begin(&back);
			break;
		default:
			pvring_back_unconsumed(&back);
			break;
		}

		check_state(&back);
		if (frontend_step)
			continue;
		/* A fault is sticky and nothing more is taken from the ring. */
		if (fault) {
			require(pvring_back_fault(&back) == fault);
			require(back.req_cons == req_cons);
			require(pvring_back_unconsumed(&back) == 0);
			require(!pvring_back_final_check(&back));
		}
		/* The back end writes only req_event, rsp_prod and the slots of responses. */
		require(!memcmp(ring, before, 4));
		require(!memcmp(ring + 12, before + 12, 64 - 12));
		for (i = 0; i < nr_slots; i++) {
			size_t off = 64 + (size_t)i * layout->slot_size;
			bool produced = ((i - rsp_prod_pvt) & (nr_slots - 1)) <
						back.rsp_prod_pvt - rsp_prod_pvt ||
					back.rsp_prod_pvt - rsp_prod_pvt >= nr_slots;

			if (!produced)
				require(!memcmp(ring + off, before + off, layout->slot_size));
		}
		require(!memcmp(ring + 64 + (size_t)nr_slots * layout->slot_size,
				before + 64 + (size_t)nr_slots * layout->slot_size,
				ring_bytes - 64 - (size_t)nr_slots * layout->slot_size));
		/* Responses go only into slots whose requests were consumed. */
		require(back.rsp_prod_pvt - rsp_prod_pvt <= owed);
	}
	free(before);
	free(ring);
	return 0;
}
