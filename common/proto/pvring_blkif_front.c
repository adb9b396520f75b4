// SPDX-License-Identifier: MIT
/* Request encoding for front ends: see pvring_blkif_front.h. */
#include "pvring_blkif_front.h"

int pvring_blkif_front_segment(struct pvring_blkif_segment *seg, uint32_t gref, uint32_t offset,
			       uint32_t len)
{
	const uint32_t sector = 1u << PVRING_BLKIF_SECTOR_SHIFT;
	const uint32_t page = PVRING_BLKIF_SECTORS_PER_PAGE * sector;

	if (!len || offset % sector || len % sector || offset >= page || len > page - offset)
		return -EINVAL;
	seg->gref = gref;
	seg->first_sect = (uint8_t)(offset / sector);
	seg->last_sect = (uint8_t)((offset + len) / sector - 1);
	seg->pad[0] = seg->pad[1] = 0;
	return 0;
}

int pvring_blkif_front_rw(union pvring_blkif_request *req, uint8_t op, uint16_t handle, uint64_t id,
			  uint64_t sector, uint32_t nr_segments, const uint32_t *indirect_grefs)
{
	bool data = op == PVRING_BLKIF_OP_READ || op == PVRING_BLKIF_OP_WRITE;
	bool cache = op == PVRING_BLKIF_OP_FLUSH_DISKCACHE || op == PVRING_BLKIF_OP_WRITE_BARRIER;
	uint32_t i;

	if ((!data && !cache) || (data && !nr_segments) ||
	    nr_segments > (data ? PVRING_BLKIF_FRONT_MAX_SEGMENTS : PVRING_BLKIF_MAX_SEGMENTS))
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	if (!pvring_blkif_front_is_indirect(nr_segments)) {
		req->rw.op = op;
		req->rw.nr_segments = (uint8_t)nr_segments;
		req->rw.handle = handle;
		req->rw.id = id;
		req->rw.sector = sector;
		return 0;
	}
	req->indirect.op = PVRING_BLKIF_OP_INDIRECT;
	req->indirect.indirect_op = op;
	req->indirect.nr_segments = (uint16_t)nr_segments;
	req->indirect.handle = handle;
	req->indirect.id = id;
	req->indirect.sector = sector;
	for (i = 0; i < pvring_blkif_indirect_pages(nr_segments); i++)
		req->indirect.indirect_grefs[i] = indirect_grefs[i];
	return 0;
}

struct pvring_blkif_segment *pvring_blkif_front_segment_at(union pvring_blkif_request *req,
							   void *const *indirect_pages, uint32_t i)
{
	struct pvring_blkif_segment *page;

	if (req->op != PVRING_BLKIF_OP_INDIRECT)
		return &req->rw.seg[i];
	page = indirect_pages[i / PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE];
	return &page[i % PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE];
}

void pvring_blkif_front_discard(union pvring_blkif_request *req, uint16_t handle, uint64_t id,
				uint64_t sector, uint64_t nr_sectors, bool secure)
{
	memset(req, 0, sizeof(*req));
	req->discard.op = PVRING_BLKIF_OP_DISCARD;
	req->discard.flag = secure ? PVRING_BLKIF_DISCARD_SECURE : 0;
	req->discard.handle = handle;
	req->discard.id = id;
	req->discard.sector = sector;
	req->discard.nr_sectors = nr_sectors;
}
