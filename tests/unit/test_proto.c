// SPDX-License-Identifier: MIT
/*
 * common/proto: the blkif wire format against the system's xen/io/blkif.h,
 * field by field; xenbus states against xen/io/xenbus.h; request validation
 * and negotiation rules.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <xenctrl.h>
#include <xen/io/blkif.h>
#include <xen/io/xenbus.h>

#include "common/proto/pvring_blkif.h"
#include "common/proto/pvring_xenbus.h"

#define SAME_FIELD(ours, theirs, our_field, their_field)                                           \
	do {                                                                                       \
		assert_int_equal(offsetof(ours, our_field), offsetof(theirs, their_field));        \
		assert_int_equal(sizeof(((ours *)0)->our_field),                                   \
				 sizeof(((theirs *)0)->their_field));                              \
	} while (0)

static void test_wire_format_matches_xen(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvring_blkif_segment), sizeof(struct blkif_request_segment));
	SAME_FIELD(struct pvring_blkif_segment, struct blkif_request_segment, gref, gref);
	SAME_FIELD(struct pvring_blkif_segment, struct blkif_request_segment, first_sect,
		   first_sect);
	SAME_FIELD(struct pvring_blkif_segment, struct blkif_request_segment, last_sect, last_sect);

	assert_int_equal(sizeof(union pvring_blkif_request), sizeof(struct blkif_request));
	SAME_FIELD(struct pvring_blkif_rw, struct blkif_request, op, operation);
	SAME_FIELD(struct pvring_blkif_rw, struct blkif_request, nr_segments, nr_segments);
	SAME_FIELD(struct pvring_blkif_rw, struct blkif_request, handle, handle);
	SAME_FIELD(struct pvring_blkif_rw, struct blkif_request, id, id);
	SAME_FIELD(struct pvring_blkif_rw, struct blkif_request, sector, sector_number);
	SAME_FIELD(struct pvring_blkif_rw, struct blkif_request, seg, seg);

	assert_int_equal(sizeof(struct pvring_blkif_discard), sizeof(struct blkif_request_discard));
	SAME_FIELD(struct pvring_blkif_discard, struct blkif_request_discard, op, operation);
	SAME_FIELD(struct pvring_blkif_discard, struct blkif_request_discard, flag, flag);
	SAME_FIELD(struct pvring_blkif_discard, struct blkif_request_discard, handle, handle);
	SAME_FIELD(struct pvring_blkif_discard, struct blkif_request_discard, id, id);
	SAME_FIELD(struct pvring_blkif_discard, struct blkif_request_discard, sector,
		   sector_number);
	SAME_FIELD(struct pvring_blkif_discard, struct blkif_request_discard, nr_sectors,
		   nr_sectors);

	assert_int_equal(sizeof(struct pvring_blkif_indirect),
			 sizeof(struct blkif_request_indirect));
	SAME_FIELD(struct pvring_blkif_indirect, struct blkif_request_indirect, op, operation);
	SAME_FIELD(struct pvring_blkif_indirect, struct blkif_request_indirect, indirect_op,
		   indirect_op);
	SAME_FIELD(struct pvring_blkif_indirect, struct blkif_request_indirect, nr_segments,
		   nr_segments);
	SAME_FIELD(struct pvring_blkif_indirect, struct blkif_request_indirect, id, id);
	SAME_FIELD(struct pvring_blkif_indirect, struct blkif_request_indirect, sector,
		   sector_number);
	SAME_FIELD(struct pvring_blkif_indirect, struct blkif_request_indirect, handle, handle);
	SAME_FIELD(struct pvring_blkif_indirect, struct blkif_request_indirect, indirect_grefs,
		   indirect_grefs);

	assert_int_equal(sizeof(struct pvring_blkif_response), sizeof(struct blkif_response));
	SAME_FIELD(struct pvring_blkif_response, struct blkif_response, id, id);
	SAME_FIELD(struct pvring_blkif_response, struct blkif_response, op, operation);
	SAME_FIELD(struct pvring_blkif_response, struct blkif_response, status, status);
}

static void test_constants_match_xen(void **state)
{
	(void)state;
	assert_int_equal(PVRING_BLKIF_OP_READ, BLKIF_OP_READ);
	assert_int_equal(PVRING_BLKIF_OP_WRITE, BLKIF_OP_WRITE);
	assert_int_equal(PVRING_BLKIF_OP_WRITE_BARRIER, BLKIF_OP_WRITE_BARRIER);
	assert_int_equal(PVRING_BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_FLUSH_DISKCACHE);
	assert_int_equal(PVRING_BLKIF_OP_DISCARD, BLKIF_OP_DISCARD);
	assert_int_equal(PVRING_BLKIF_OP_INDIRECT, BLKIF_OP_INDIRECT);
	assert_int_equal(PVRING_BLKIF_RSP_OKAY, BLKIF_RSP_OKAY);
	assert_int_equal(PVRING_BLKIF_RSP_ERROR, BLKIF_RSP_ERROR);
	assert_int_equal(PVRING_BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(PVRING_BLKIF_MAX_SEGMENTS, BLKIF_MAX_SEGMENTS_PER_REQUEST);
	assert_int_equal(PVRING_BLKIF_MAX_INDIRECT_PAGES, BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
	assert_int_equal(PVRING_BLKIF_DISCARD_SECURE, BLKIF_DISCARD_SECURE);
	assert_int_equal(PVRING_VDISK_CDROM, VDISK_CDROM);
	assert_int_equal(PVRING_VDISK_REMOVABLE, VDISK_REMOVABLE);
	assert_int_equal(PVRING_VDISK_READONLY, VDISK_READONLY);

	assert_int_equal(PVRING_XENBUS_UNKNOWN, XenbusStateUnknown);
	assert_int_equal(PVRING_XENBUS_INITIALISING, XenbusStateInitialising);
	assert_int_equal(PVRING_XENBUS_INIT_WAIT, XenbusStateInitWait);
	assert_int_equal(PVRING_XENBUS_INITIALISED, XenbusStateInitialised);
	assert_int_equal(PVRING_XENBUS_CONNECTED, XenbusStateConnected);
	assert_int_equal(PVRING_XENBUS_CLOSING, XenbusStateClosing);
	assert_int_equal(PVRING_XENBUS_CLOSED, XenbusStateClosed);
	assert_int_equal(PVRING_XENBUS_RECONFIGURING, XenbusStateReconfiguring);
	assert_int_equal(PVRING_XENBUS_RECONFIGURED, XenbusStateReconfigured);
	assert_string_equal(pvring_xenbus_state_name(PVRING_XENBUS_INIT_WAIT), "InitWait");
	assert_null(pvring_xenbus_state_name(9));
}

/* A 1 MiB disk (2048 sectors) offering everything. */
static const struct pvring_blkif_disk disk = {
	.sectors = 2048,
	.flush = true,
	.barrier = true,
	.discard = true,
	.max_indirect_segments = 256,
};

static union pvring_blkif_request rw(uint8_t op, uint64_t sector, uint8_t nr_segments)
{
	union pvring_blkif_request req;
	uint8_t i;

	memset(&req, 0, sizeof(req));
	req.rw.op = op;
	req.rw.nr_segments = nr_segments;
	req.rw.sector = sector;
	for (i = 0; i < nr_segments && i < PVRING_BLKIF_MAX_SEGMENTS; i++)
		req.rw.seg[i] = (struct pvring_blkif_segment){ .gref = 100u + i, .last_sect = 7 };
	return req;
}

static void assert_verdict(union pvring_blkif_request req, const struct pvring_blkif_disk *d,
			   enum pvring_blkif_error expected)
{
	enum pvring_blkif_error got = pvring_blkif_check_request(&req, d);

	if (got != expected)
		fail_msg("op %u: got \"%s\", expected \"%s\"", req.op, pvring_blkif_error_str(got),
			 pvring_blkif_error_str(expected));
}

static void test_read_write(void **state)
{
	union pvring_blkif_request req;

	(void)state;
	assert_verdict(rw(PVRING_BLKIF_OP_READ, 0, 1), &disk, PVRING_BLKIF_VALID);
	assert_verdict(rw(PVRING_BLKIF_OP_WRITE, 0, 11), &disk, PVRING_BLKIF_VALID);
	/* The last 8 sectors exactly, and one sector beyond. */
	assert_verdict(rw(PVRING_BLKIF_OP_READ, 2040, 1), &disk, PVRING_BLKIF_VALID);
	assert_verdict(rw(PVRING_BLKIF_OP_READ, 2041, 1), &disk, PVRING_BLKIF_EPAST_END);
	assert_verdict(rw(PVRING_BLKIF_OP_READ, 2048, 1), &disk, PVRING_BLKIF_EPAST_END);
	/* A sector number that would wrap a 64-bit sum. */
	assert_verdict(rw(PVRING_BLKIF_OP_READ, UINT64_MAX - 3, 1), &disk, PVRING_BLKIF_EPAST_END);
	assert_verdict(rw(PVRING_BLKIF_OP_READ, 0, 0), &disk, PVRING_BLKIF_ESEGMENT_COUNT);
	assert_verdict(rw(PVRING_BLKIF_OP_WRITE, 0, 12), &disk, PVRING_BLKIF_ESEGMENT_COUNT);
	assert_verdict(rw(PVRING_BLKIF_OP_WRITE, 0, 255), &disk, PVRING_BLKIF_ESEGMENT_COUNT);

	req = rw(PVRING_BLKIF_OP_READ, 0, 3);
	req.rw.seg[2].first_sect = 5;
	req.rw.seg[2].last_sect = 4;
	assert_verdict(req, &disk, PVRING_BLKIF_ESEGMENT_SECTORS);
	req.rw.seg[2].first_sect = 0;
	req.rw.seg[2].last_sect = 8;
	assert_verdict(req, &disk, PVRING_BLKIF_ESEGMENT_SECTORS);
	/* Partial pages add up: 3 + 1 sectors fit exactly before the end. */
	req = rw(PVRING_BLKIF_OP_READ, 2044, 2);
	req.rw.seg[0].first_sect = 5;
	req.rw.seg[1].first_sect = 7;
	assert_verdict(req, &disk, PVRING_BLKIF_VALID);
	req.rw.sector = 2045;
	assert_verdict(req, &disk, PVRING_BLKIF_EPAST_END);
}

static void test_read_only_disk(void **state)
{
	struct pvring_blkif_disk ro = disk;
	union pvring_blkif_request req;

	(void)state;
	ro.read_only = true;
	assert_verdict(rw(PVRING_BLKIF_OP_READ, 0, 4), &ro, PVRING_BLKIF_VALID);
	assert_verdict(rw(PVRING_BLKIF_OP_WRITE, 0, 4), &ro, PVRING_BLKIF_EREAD_ONLY);
	/* A bare flush writes nothing; a flush with data does. */
	assert_verdict(rw(PVRING_BLKIF_OP_FLUSH_DISKCACHE, 0, 0), &ro, PVRING_BLKIF_VALID);
	assert_verdict(rw(PVRING_BLKIF_OP_FLUSH_DISKCACHE, 0, 1), &ro, PVRING_BLKIF_EREAD_ONLY);
	memset(&req, 0, sizeof(req));
	req.discard.op = PVRING_BLKIF_OP_DISCARD;
	req.discard.nr_sectors = 8;
	assert_verdict(req, &ro, PVRING_BLKIF_EREAD_ONLY);
	memset(&req, 0, sizeof(req));
	req.indirect.op = PVRING_BLKIF_OP_INDIRECT;
	req.indirect.indirect_op = PVRING_BLKIF_OP_WRITE;
	req.indirect.nr_segments = 20;
	assert_verdict(req, &ro, PVRING_BLKIF_EREAD_ONLY);
	req.indirect.indirect_op = PVRING_BLKIF_OP_READ;
	assert_verdict(req, &ro, PVRING_BLKIF_VALID);
	assert_int_equal(pvring_blkif_error_status(PVRING_BLKIF_EREAD_ONLY),
			 PVRING_BLKIF_RSP_ERROR);
}

static void test_flush_barrier_discard(void **state)
{
	struct pvring_blkif_disk plain = { .sectors = 2048 };
	union pvring_blkif_request req;

	(void)state;
	assert_verdict(rw(PVRING_BLKIF_OP_FLUSH_DISKCACHE, 0, 0), &disk, PVRING_BLKIF_VALID);
	assert_verdict(rw(PVRING_BLKIF_OP_WRITE_BARRIER, 8, 2), &disk, PVRING_BLKIF_VALID);
	assert_verdict(rw(PVRING_BLKIF_OP_FLUSH_DISKCACHE, 0, 0), &plain,
		       PVRING_BLKIF_ENOT_OFFERED);
	assert_verdict(rw(PVRING_BLKIF_OP_WRITE_BARRIER, 0, 0), &plain, PVRING_BLKIF_ENOT_OFFERED);
	/*
	 * Stock blkfront's empty flush names sector (u64)-1: no data, no place on
	 * the disk. Refusing it made blkfront turn flushes off without a word.
	 */
	assert_verdict(rw(PVRING_BLKIF_OP_FLUSH_DISKCACHE, UINT64_MAX, 0), &disk,
		       PVRING_BLKIF_VALID);
	assert_verdict(rw(PVRING_BLKIF_OP_WRITE_BARRIER, UINT64_MAX, 0), &disk, PVRING_BLKIF_VALID);
	/* With data, the sectors are checked as a write's. */
	assert_verdict(rw(PVRING_BLKIF_OP_FLUSH_DISKCACHE, UINT64_MAX, 1), &disk,
		       PVRING_BLKIF_EPAST_END);

	memset(&req, 0, sizeof(req));
	req.discard.op = PVRING_BLKIF_OP_DISCARD;
	req.discard.sector = 1024;
	req.discard.nr_sectors = 1024;
	assert_verdict(req, &disk, PVRING_BLKIF_VALID);
	req.discard.nr_sectors = 1025;
	assert_verdict(req, &disk, PVRING_BLKIF_EPAST_END);
	req.discard.nr_sectors = UINT64_MAX;
	assert_verdict(req, &disk, PVRING_BLKIF_EPAST_END);
	req.discard.nr_sectors = 8;
	assert_verdict(req, &plain, PVRING_BLKIF_ENOT_OFFERED);
	assert_int_equal(pvring_blkif_error_status(PVRING_BLKIF_ENOT_OFFERED),
			 PVRING_BLKIF_RSP_EOPNOTSUPP);
}

static void test_indirect(void **state)
{
	struct pvring_blkif_disk no_indirect = disk;
	struct pvring_blkif_segment segs[256];
	union pvring_blkif_request req;
	uint64_t nr_sectors = 0;
	unsigned int i;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.indirect.op = PVRING_BLKIF_OP_INDIRECT;
	req.indirect.indirect_op = PVRING_BLKIF_OP_READ;
	req.indirect.nr_segments = 256;
	assert_verdict(req, &disk, PVRING_BLKIF_VALID);
	assert_int_equal(pvring_blkif_indirect_pages(256), 1);
	assert_int_equal(pvring_blkif_indirect_pages(513), 2);
	req.indirect.nr_segments = 257;
	assert_verdict(req, &disk, PVRING_BLKIF_ESEGMENT_COUNT);
	req.indirect.nr_segments = 0;
	assert_verdict(req, &disk, PVRING_BLKIF_ESEGMENT_COUNT);
	req.indirect.nr_segments = 8;
	req.indirect.indirect_op = PVRING_BLKIF_OP_DISCARD;
	assert_verdict(req, &disk, PVRING_BLKIF_EBAD_OP);
	req.indirect.indirect_op = PVRING_BLKIF_OP_WRITE;
	no_indirect.max_indirect_segments = 0;
	assert_verdict(req, &no_indirect, PVRING_BLKIF_ENOT_OFFERED);

	/* More segments than 8 indirect pages hold, whatever the back end offered. */
	no_indirect.max_indirect_segments = 65535;
	req.indirect.nr_segments = 8 * 512 + 1;
	assert_verdict(req, &no_indirect, PVRING_BLKIF_ESEGMENT_COUNT);

	/*
	 * An indirect request is answered with its indirect_op, as blkback does:
	 * stock blkfront disables the disk on a response carrying op 6.
	 */
	req.indirect.indirect_op = PVRING_BLKIF_OP_WRITE;
	assert_int_equal(pvring_blkif_response_op(&req), PVRING_BLKIF_OP_WRITE);
	req.indirect.indirect_op = PVRING_BLKIF_OP_READ;
	assert_int_equal(pvring_blkif_response_op(&req), PVRING_BLKIF_OP_READ);
	assert_int_equal(pvring_blkif_response_op(&(union pvring_blkif_request){
				 .rw = { .op = PVRING_BLKIF_OP_FLUSH_DISKCACHE } }),
			 PVRING_BLKIF_OP_FLUSH_DISKCACHE);
	assert_true(pvring_blkif_status_known(PVRING_BLKIF_RSP_EOPNOTSUPP));
	assert_false(pvring_blkif_status_known(-3));
	assert_false(pvring_blkif_status_known(1));

	/* The segments themselves, copied out of the indirect pages. */
	for (i = 0; i < 256; i++)
		segs[i] = (struct pvring_blkif_segment){ .gref = i, .last_sect = 7 };
	assert_int_equal(pvring_blkif_check_segments(segs, 256, 0, &disk, &nr_sectors),
			 PVRING_BLKIF_VALID);
	assert_int_equal(nr_sectors, 2048);
	assert_int_equal(pvring_blkif_check_segments(segs, 256, 1, &disk, &nr_sectors),
			 PVRING_BLKIF_EPAST_END);
	segs[200].first_sect = 9;
	assert_int_equal(pvring_blkif_check_segments(segs, 256, 0, &disk, &nr_sectors),
			 PVRING_BLKIF_ESEGMENT_SECTORS);
}

static void test_unknown_ops(void **state)
{
	unsigned int op;

	(void)state;
	for (op = 0; op < 256; op++) {
		union pvring_blkif_request req = rw((uint8_t)op, 0, 1);
		bool known = pvring_blkif_op_name((uint8_t)op) != NULL;

		if (!known) {
			assert_verdict(req, &disk, PVRING_BLKIF_EBAD_OP);
			assert_int_equal(pvring_blkif_error_status(PVRING_BLKIF_EBAD_OP),
					 PVRING_BLKIF_RSP_EOPNOTSUPP);
		}
	}
	assert_string_equal(pvring_blkif_op_name(PVRING_BLKIF_OP_FLUSH_DISKCACHE), "flush");
	assert_null(pvring_blkif_op_name(4)); /* BLKIF_OP_RESERVED_1 */
}

static void test_negotiation(void **state)
{
	uint32_t use = 99;

	(void)state;
	assert_int_equal(pvring_negotiate_ring_order(4, false, 0, &use), 0);
	assert_int_equal(use, 0);
	assert_int_equal(pvring_negotiate_ring_order(4, true, 4, &use), 0);
	assert_int_equal(use, 4);
	assert_int_equal(pvring_negotiate_ring_order(4, true, 5, &use), -1);
	assert_int_equal(pvring_negotiate_queues(4, false, 0, &use), 0);
	assert_int_equal(use, 1);
	assert_int_equal(pvring_negotiate_queues(4, true, 3, &use), 0);
	assert_int_equal(use, 3);
	assert_int_equal(pvring_negotiate_queues(4, true, 5, &use), -1);
	assert_int_equal(pvring_negotiate_queues(4, true, 0, &use), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_format_matches_xen),
		cmocka_unit_test(test_constants_match_xen),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_read_only_disk),
		cmocka_unit_test(test_flush_barrier_discard),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_unknown_ops),
		cmocka_unit_test(test_negotiation),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
