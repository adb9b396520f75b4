// SPDX-License-Identifier: MIT
/*
 * common/proto's front-end half: every request the front-end encoders build is one the back
 * end's check accepts, with exactly the sectors asked for; what they refuse, they refuse; the
 * response check is blkfront's.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/proto/pvring_blkif_front.h"

static const struct pvring_blkif_disk disk = {
	.sectors = 1u << 20,
	.flush = true,
	.barrier = true,
	.discard = true,
	.max_indirect_segments = PVRING_BLKIF_FRONT_MAX_SEGMENTS,
};

static void test_segment(void **state)
{
	struct pvring_blkif_segment seg;

	(void)state;
	assert_int_equal(pvring_blkif_front_segment(&seg, 77, 0, 4096), 0);
	assert_int_equal(seg.gref, 77);
	assert_int_equal(seg.first_sect, 0);
	assert_int_equal(seg.last_sect, 7);
	assert_int_equal(pvring_blkif_front_segment(&seg, 5, 1024, 1536), 0);
	assert_int_equal(seg.first_sect, 2);
	assert_int_equal(seg.last_sect, 4);
	assert_int_equal(pvring_blkif_front_segment(&seg, 5, 3584, 512), 0);
	assert_int_equal(seg.first_sect, 7);
	assert_int_equal(seg.last_sect, 7);
	/* Not whole sectors, nothing, or past the page. */
	assert_int_equal(pvring_blkif_front_segment(&seg, 5, 100, 512), -EINVAL);
	assert_int_equal(pvring_blkif_front_segment(&seg, 5, 0, 511), -EINVAL);
	assert_int_equal(pvring_blkif_front_segment(&seg, 5, 0, 0), -EINVAL);
	assert_int_equal(pvring_blkif_front_segment(&seg, 5, 3584, 1024), -EINVAL);
	assert_int_equal(pvring_blkif_front_segment(&seg, 5, 4096, 512), -EINVAL);
	assert_int_equal(pvring_blkif_front_segment(&seg, 5, 512, UINT32_MAX - 511), -EINVAL);
}

static void test_segment_counts(void **state)
{
	(void)state;
	assert_int_equal(pvring_blkif_front_max_segments(0), 11);
	assert_int_equal(pvring_blkif_front_max_segments(8), 11);
	assert_int_equal(pvring_blkif_front_max_segments(32), 32);
	assert_int_equal(pvring_blkif_front_max_segments(256), 256);
	assert_int_equal(pvring_blkif_front_max_segments(100000), 4096);
	assert_false(pvring_blkif_front_is_indirect(11));
	assert_true(pvring_blkif_front_is_indirect(12));
}

/* Encode a read or write of n whole pages at sector; the back end's check must accept it. */
static void
encode_pages(union pvring_blkif_request *req, uint8_t op, uint32_t n,
	     struct pvring_blkif_segment pages[][PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE])
{
	uint32_t grefs[PVRING_BLKIF_MAX_INDIRECT_PAGES] = {
		900, 901, 902, 903, 904, 905, 906, 907
	};
	void *mapped[PVRING_BLKIF_MAX_INDIRECT_PAGES];
	uint64_t nr_sectors = 0;
	uint32_t i;

	for (i = 0; i < PVRING_BLKIF_MAX_INDIRECT_PAGES; i++)
		mapped[i] = pages[i];
	assert_int_equal(pvring_blkif_front_rw(req, op, 3, 0x1234, 4096, n, grefs), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(
			pvring_blkif_front_segment(pvring_blkif_front_segment_at(req, mapped, i),
						   100 + i, 0, 4096),
			0);
	assert_int_equal(pvring_blkif_check_request(req, &disk), PVRING_BLKIF_VALID);
	if (req->op == PVRING_BLKIF_OP_INDIRECT) {
		assert_int_equal(req->indirect.indirect_op, op);
		assert_int_equal(req->indirect.nr_segments, n);
		assert_int_equal(req->indirect.id, 0x1234);
		assert_int_equal(req->indirect.handle, 3);
		for (i = 0; i < pvring_blkif_indirect_pages(n); i++)
			assert_int_equal(req->indirect.indirect_grefs[i], grefs[i]);
		for (; i < PVRING_BLKIF_MAX_INDIRECT_PAGES; i++)
			assert_int_equal(req->indirect.indirect_grefs[i], 0);
		/* The back end checks the segments it copies out of the pages. */
		for (i = 0; i < pvring_blkif_indirect_pages(n); i++) {
			uint32_t in_page = n - i * 512 < 512 ? n - i * 512 : 512;
			uint64_t sectors;

			assert_int_equal(
				pvring_blkif_check_segments(pages[i], in_page, 0, &disk, &sectors),
				PVRING_BLKIF_VALID);
			nr_sectors += sectors;
			assert_int_equal(pages[i][0].gref, 100 + i * 512);
		}
	} else {
		assert_int_equal(req->rw.op, op);
		assert_int_equal(req->rw.nr_segments, n);
		assert_int_equal(req->rw.id, 0x1234);
		assert_int_equal(req->rw.sector, 4096);
		assert_int_equal(
			pvring_blkif_check_segments(req->rw.seg, n, 4096, &disk, &nr_sectors),
			PVRING_BLKIF_VALID);
		assert_int_equal(req->rw.seg[n - 1].gref, 100 + n - 1);
	}
	assert_int_equal(nr_sectors, (uint64_t)n * 8);
	assert_int_equal(pvring_blkif_response_op(req), op);
}

static void test_read_write(void **state)
{
	static struct pvring_blkif_segment pages[8][512];
	static const uint32_t counts[] = { 1, 2, 11, 12, 100, 512, 513, 4095, 4096 };
	union pvring_blkif_request req;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		memset(pages, 0, sizeof(pages));
		encode_pages(&req, PVRING_BLKIF_OP_READ, counts[i], pages);
		assert_int_equal(req.op == PVRING_BLKIF_OP_INDIRECT, counts[i] > 11);
		encode_pages(&req, PVRING_BLKIF_OP_WRITE, counts[i], pages);
	}
}

static void test_refused(void **state)
{
	uint32_t grefs[8] = { 0 };
	union pvring_blkif_request req;

	(void)state;
	/* A read or write carries data, at most 8 indirect pages of it. */
	assert_int_equal(pvring_blkif_front_rw(&req, PVRING_BLKIF_OP_READ, 0, 1, 0, 0, grefs),
			 -EINVAL);
	assert_int_equal(pvring_blkif_front_rw(&req, PVRING_BLKIF_OP_WRITE, 0, 1, 0, 4097, grefs),
			 -EINVAL);
	/* A flush's data rides in the slot: never indirect. */
	assert_int_equal(
		pvring_blkif_front_rw(&req, PVRING_BLKIF_OP_FLUSH_DISKCACHE, 0, 1, 0, 12, grefs),
		-EINVAL);
	/* Discard and indirect are not read/write-shaped requests. */
	assert_int_equal(pvring_blkif_front_rw(&req, PVRING_BLKIF_OP_DISCARD, 0, 1, 0, 1, grefs),
			 -EINVAL);
	assert_int_equal(pvring_blkif_front_rw(&req, PVRING_BLKIF_OP_INDIRECT, 0, 1, 0, 1, grefs),
			 -EINVAL);
	assert_int_equal(pvring_blkif_front_rw(&req, 99, 0, 1, 0, 1, grefs), -EINVAL);
}

static void test_flush_and_discard(void **state)
{
	union pvring_blkif_request req;
	uint8_t ops[] = { PVRING_BLKIF_OP_FLUSH_DISKCACHE, PVRING_BLKIF_OP_WRITE_BARRIER };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ops); i++) {
		memset(&req, 0xff, sizeof(req));
		assert_int_equal(pvring_blkif_front_rw(&req, ops[i], 1, 9, 0, 0, NULL), 0);
		assert_int_equal(req.rw.op, ops[i]);
		assert_int_equal(req.rw.nr_segments, 0);
		assert_int_equal(req.rw.pad, 0);
		assert_int_equal(pvring_blkif_check_request(&req, &disk), PVRING_BLKIF_VALID);
		assert_int_equal(pvring_blkif_response_op(&req), ops[i]);
	}
	memset(&req, 0xff, sizeof(req));
	pvring_blkif_front_discard(&req, 1, 10, 2048, 4096, false);
	assert_int_equal(req.discard.op, PVRING_BLKIF_OP_DISCARD);
	assert_int_equal(req.discard.flag, 0);
	assert_int_equal(req.discard.sector, 2048);
	assert_int_equal(req.discard.nr_sectors, 4096);
	assert_int_equal(req.discard.id, 10);
	assert_int_equal(pvring_blkif_check_request(&req, &disk), PVRING_BLKIF_VALID);
	pvring_blkif_front_discard(&req, 1, 10, disk.sectors - 1, 2, true);
	assert_int_equal(req.discard.flag, PVRING_BLKIF_DISCARD_SECURE);
	assert_int_equal(pvring_blkif_check_request(&req, &disk), PVRING_BLKIF_EPAST_END);
}

static void test_check_response(void **state)
{
	struct pvring_blkif_response rsp = { .id = 1, .op = PVRING_BLKIF_OP_READ };

	(void)state;
	assert_int_equal(pvring_blkif_front_check_response(&rsp, PVRING_BLKIF_OP_READ),
			 PVRING_BLKIF_RSP_VALID);
	rsp.status = PVRING_BLKIF_RSP_EOPNOTSUPP;
	assert_int_equal(pvring_blkif_front_check_response(&rsp, PVRING_BLKIF_OP_READ),
			 PVRING_BLKIF_RSP_VALID);
	/* An indirect request is answered with its indirect_op, never INDIRECT. */
	rsp.op = PVRING_BLKIF_OP_INDIRECT;
	assert_int_equal(pvring_blkif_front_check_response(&rsp, PVRING_BLKIF_OP_READ),
			 PVRING_BLKIF_RSP_EWRONG_OP);
	rsp.op = PVRING_BLKIF_OP_WRITE;
	assert_int_equal(pvring_blkif_front_check_response(&rsp, PVRING_BLKIF_OP_READ),
			 PVRING_BLKIF_RSP_EWRONG_OP);
	rsp.op = PVRING_BLKIF_OP_READ;
	rsp.status = 1;
	assert_int_equal(pvring_blkif_front_check_response(&rsp, PVRING_BLKIF_OP_READ),
			 PVRING_BLKIF_RSP_EBAD_STATUS);
	rsp.status = -3;
	assert_int_equal(pvring_blkif_front_check_response(&rsp, PVRING_BLKIF_OP_READ),
			 PVRING_BLKIF_RSP_EBAD_STATUS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segment),		  cmocka_unit_test(test_segment_counts),
		cmocka_unit_test(test_read_write),	  cmocka_unit_test(test_refused),
		cmocka_unit_test(test_flush_and_discard), cmocka_unit_test(test_check_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
