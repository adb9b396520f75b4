// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: blkif request validation, fed what a hostile guest could
 * put in a ring slot and in its indirect pages. The checks below are what the
 * data plane relies on once a request is VALID; any of them failing means the
 * back end would do I/O it must refuse.
 *
 * Input: 112 bytes of request, 16 bytes of disk description, then the
 * segment array an INDIRECT request points at (as many whole segments as the
 * input holds; absent segments are left invalid so short inputs stay useful).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto/pvring_blkif.h"

#define DISK_BYTES 16u
#define MAX_INDIRECT (PVRING_BLKIF_MAX_INDIRECT_PAGES * PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE)

#include "tests/fuzz/fuzz_require.h"

static struct pvring_blkif_segment indirect_segs[MAX_INDIRECT];

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Sizes near 0 and near 2^64 are where sector arithmetic goes wrong: reach them often. */
static void disk_from(struct pvring_blkif_disk *disk, const uint8_t *b)
{
	uint64_t raw = le64(b);

	switch (b[8] & 3) {
	case 0:
		disk->sectors = raw & 0xffff;
		break;
	case 1:
		disk->sectors = UINT64_MAX - (raw & 0xffff);
		break;
	default:
		disk->sectors = raw;
		break;
	}
	disk->read_only = b[9] & 1;
	disk->flush = b[9] & 2;
	disk->barrier = b[9] & 4;
	disk->discard = b[9] & 8;
	disk->max_indirect_segments = (uint32_t)(b[10] | b[11] << 8) % (4096 + 1);
}

/* The sum a VALID request covers, computed without trusting the code under test. */
static void check_valid_segments(const struct pvring_blkif_segment *seg, uint32_t n,
				 uint64_t sector, const struct pvring_blkif_disk *disk)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		require(seg[i].first_sect <= seg[i].last_sect);
		require(seg[i].last_sect < PVRING_BLKIF_SECTORS_PER_PAGE);
		total += seg[i].last_sect - seg[i].first_sect + 1u;
	}
	/* n is at most 4096 segments of 8 sectors: total cannot overflow, sector + total can. */
	require(sector <= disk->sectors);
	require(total <= disk->sectors - sector);
}

static void check_status(enum pvring_blkif_error e)
{
	int16_t status = pvring_blkif_error_status(e);

	require(status == PVRING_BLKIF_RSP_OKAY || status == PVRING_BLKIF_RSP_ERROR ||
		status == PVRING_BLKIF_RSP_EOPNOTSUPP);
	require((status == PVRING_BLKIF_RSP_OKAY) == (e == PVRING_BLKIF_VALID));
	/* A front end treats "not supported" as permanent: only for ops it may not use. */
	require((status == PVRING_BLKIF_RSP_EOPNOTSUPP) ==
		(e == PVRING_BLKIF_EBAD_OP || e == PVRING_BLKIF_ENOT_OFFERED));
	require(pvring_blkif_error_str(e) != NULL);
}

static void check_segments_call(const struct pvring_blkif_segment *seg, uint32_t n, uint64_t sector,
				const struct pvring_blkif_disk *disk)
{
	uint64_t nr = 0xdeadbeef;
	enum pvring_blkif_error e = pvring_blkif_check_segments(seg, n, sector, disk, &nr);

	check_status(e);
	require(e == PVRING_BLKIF_VALID || e == PVRING_BLKIF_ESEGMENT_SECTORS ||
		e == PVRING_BLKIF_EPAST_END);
	if (e == PVRING_BLKIF_VALID) {
		uint64_t total = 0;
		uint32_t i;

		check_valid_segments(seg, n, sector, disk);
		for (i = 0; i < n; i++)
			total += seg[i].last_sect - seg[i].first_sect + 1u;
		require(nr == total);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union pvring_blkif_request req;
	struct pvring_blkif_disk disk;
	enum pvring_blkif_error e;
	size_t nsegs;
	uint8_t op;

	if (size < sizeof(req) + DISK_BYTES)
		return -1;
	memcpy(&req, data, sizeof(req));
	disk_from(&disk, data + sizeof(req));
	data += sizeof(req) + DISK_BYTES;
	size -= sizeof(req) + DISK_BYTES;

	op = req.op;
	e = pvring_blkif_check_request(&req, &disk);
	check_status(e);
	require(pvring_blkif_op_name(op) != NULL || e == PVRING_BLKIF_EBAD_OP);

	if (e == PVRING_BLKIF_VALID) {
		switch (op) {
		case PVRING_BLKIF_OP_READ:
		case PVRING_BLKIF_OP_WRITE:
			require(req.rw.nr_segments >= 1 &&
				req.rw.nr_segments <= PVRING_BLKIF_MAX_SEGMENTS);
			require(op == PVRING_BLKIF_OP_READ || !disk.read_only);
			check_valid_segments(req.rw.seg, req.rw.nr_segments, req.rw.sector, &disk);
			break;
		case PVRING_BLKIF_OP_FLUSH_DISKCACHE:
		case PVRING_BLKIF_OP_WRITE_BARRIER:
			require(op == PVRING_BLKIF_OP_FLUSH_DISKCACHE ? disk.flush : disk.barrier);
			require(req.rw.nr_segments <= PVRING_BLKIF_MAX_SEGMENTS);
			/* Segments are data written after the flush: a write by another name. */
			require(req.rw.nr_segments == 0 || !disk.read_only);
			/* With no data it names no place on the disk (blkfront sends (u64)-1). */
			if (req.rw.nr_segments)
				check_valid_segments(req.rw.seg, req.rw.nr_segments, req.rw.sector,
						     &disk);
			break;
		case PVRING_BLKIF_OP_DISCARD:
			require(disk.discard && !disk.read_only);
			require(req.discard.sector <= disk.sectors);
			require(req.discard.nr_sectors <= disk.sectors - req.discard.sector);
			break;
		case PVRING_BLKIF_OP_INDIRECT:
			require(disk.max_indirect_segments > 0);
			require(req.indirect.indirect_op == PVRING_BLKIF_OP_READ ||
				req.indirect.indirect_op == PVRING_BLKIF_OP_WRITE);
			require(req.indirect.nr_segments >= 1 &&
				req.indirect.nr_segments <= disk.max_indirect_segments);
			/* The back end maps at most this many indirect pages per request. */
			require(pvring_blkif_indirect_pages(req.indirect.nr_segments) <=
				PVRING_BLKIF_MAX_INDIRECT_PAGES);
			require(req.indirect.indirect_op == PVRING_BLKIF_OP_READ ||
				!disk.read_only);
			break;
		default:
			require(!"an unknown operation was accepted");
		}
	}

	if (op == PVRING_BLKIF_OP_INDIRECT && e == PVRING_BLKIF_VALID) {
		/* What the data plane does next: copy the pages out and check the segments. */
		uint32_t n = req.indirect.nr_segments;

		nsegs = size / sizeof(indirect_segs[0]);
		if (nsegs > n)
			nsegs = n;
		memcpy(indirect_segs, data, nsegs * sizeof(indirect_segs[0]));
		memset(indirect_segs + nsegs, 0xff, (n - nsegs) * sizeof(indirect_segs[0]));
		check_segments_call(indirect_segs, n, req.indirect.sector, &disk);
	} else {
		/* The segment check on its own, on whatever the rest of the input holds. */
		nsegs = size / sizeof(indirect_segs[0]);
		if (nsegs > MAX_INDIRECT)
			nsegs = MAX_INDIRECT;
		memcpy(indirect_segs, data, nsegs * sizeof(indirect_segs[0]));
		check_segments_call(indirect_segs, (uint32_t)nsegs, le64(data - DISK_BYTES + 8),
				    &disk);
		check_segments_call(req.rw.seg, PVRING_BLKIF_MAX_SEGMENTS, req.rw.sector, &disk);
	}
	return 0;
}
