// SPDX-License-Identifier: MIT
/* blkif request validation, shared by the back end and the front end. */
#include "pvring_blkif.h"

/* sector + count within a disk of `sectors`, without overflowing. */
static bool pvring_blkif_in_disk(uint64_t sector, uint64_t count, uint64_t sectors)
{
	return sector <= sectors && count <= sectors - sector;
}

enum pvring_blkif_error pvring_blkif_check_segments(const struct pvring_blkif_segment *seg,
						    uint32_t n, uint64_t sector,
						    const struct pvring_blkif_disk *disk,
						    uint64_t *nr_sectors)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (seg[i].first_sect > seg[i].last_sect ||
		    seg[i].last_sect >= PVRING_BLKIF_SECTORS_PER_PAGE)
			return PVRING_BLKIF_ESEGMENT_SECTORS;
		total += (uint64_t)(seg[i].last_sect - seg[i].first_sect) + 1;
	}
	if (!pvring_blkif_in_disk(sector, total, disk->sectors))
		return PVRING_BLKIF_EPAST_END;
	*nr_sectors = total;
	return PVRING_BLKIF_VALID;
}

static enum pvring_blkif_error pvring_blkif_check_rw(const struct pvring_blkif_rw *rw,
						     const struct pvring_blkif_disk *disk)
{
	bool cache_op = rw->op == PVRING_BLKIF_OP_FLUSH_DISKCACHE ||
			rw->op == PVRING_BLKIF_OP_WRITE_BARRIER;
	uint64_t nr_sectors;

	if ((rw->op == PVRING_BLKIF_OP_FLUSH_DISKCACHE && !disk->flush) ||
	    (rw->op == PVRING_BLKIF_OP_WRITE_BARRIER && !disk->barrier))
		return PVRING_BLKIF_ENOT_OFFERED;
	/* A flush or barrier may carry no data; a read or write must. */
	if ((!cache_op && rw->nr_segments == 0) || rw->nr_segments > PVRING_BLKIF_MAX_SEGMENTS)
		return PVRING_BLKIF_ESEGMENT_COUNT;
	if (disk->read_only && rw->op != PVRING_BLKIF_OP_READ && rw->nr_segments)
		return PVRING_BLKIF_EREAD_ONLY;
	/*
	 * A flush with no data names no sectors: stock blkfront sends its empty
	 * flush with sector (u64)-1, which is no place on the disk to check.
	 */
	if (!rw->nr_segments)
		return PVRING_BLKIF_VALID;
	return pvring_blkif_check_segments(rw->seg, rw->nr_segments, rw->sector, disk, &nr_sectors);
}

enum pvring_blkif_error pvring_blkif_check_request(const union pvring_blkif_request *req,
						   const struct pvring_blkif_disk *disk)
{
	switch (req->op) {
	case PVRING_BLKIF_OP_READ:
	case PVRING_BLKIF_OP_WRITE:
	case PVRING_BLKIF_OP_FLUSH_DISKCACHE:
	case PVRING_BLKIF_OP_WRITE_BARRIER:
		return pvring_blkif_check_rw(&req->rw, disk);
	case PVRING_BLKIF_OP_DISCARD:
		if (!disk->discard)
			return PVRING_BLKIF_ENOT_OFFERED;
		if (disk->read_only)
			return PVRING_BLKIF_EREAD_ONLY;
		if (!pvring_blkif_in_disk(req->discard.sector, req->discard.nr_sectors,
					  disk->sectors))
			return PVRING_BLKIF_EPAST_END;
		return PVRING_BLKIF_VALID;
	case PVRING_BLKIF_OP_INDIRECT:
		if (disk->max_indirect_segments == 0)
			return PVRING_BLKIF_ENOT_OFFERED;
		if (req->indirect.indirect_op != PVRING_BLKIF_OP_READ &&
		    req->indirect.indirect_op != PVRING_BLKIF_OP_WRITE)
			return PVRING_BLKIF_EBAD_OP;
		if (req->indirect.nr_segments == 0 ||
		    req->indirect.nr_segments > disk->max_indirect_segments ||
		    pvring_blkif_indirect_pages(req->indirect.nr_segments) >
			    PVRING_BLKIF_MAX_INDIRECT_PAGES)
			return PVRING_BLKIF_ESEGMENT_COUNT;
		if (disk->read_only && req->indirect.indirect_op == PVRING_BLKIF_OP_WRITE)
			return PVRING_BLKIF_EREAD_ONLY;
		return PVRING_BLKIF_VALID;
	default:
		return PVRING_BLKIF_EBAD_OP;
	}
}

int16_t pvring_blkif_error_status(enum pvring_blkif_error error)
{
	switch (error) {
	case PVRING_BLKIF_VALID:
		return PVRING_BLKIF_RSP_OKAY;
	case PVRING_BLKIF_EBAD_OP:
	case PVRING_BLKIF_ENOT_OFFERED:
		return PVRING_BLKIF_RSP_EOPNOTSUPP;
	default:
		return PVRING_BLKIF_RSP_ERROR;
	}
}

const char *pvring_blkif_error_str(enum pvring_blkif_error error)
{
	switch (error) {
	case PVRING_BLKIF_VALID:
		return "valid";
	case PVRING_BLKIF_EBAD_OP:
		return "unknown operation";
	case PVRING_BLKIF_ENOT_OFFERED:
		return "operation not offered by the back end";
	case PVRING_BLKIF_ESEGMENT_COUNT:
		return "bad number of segments";
	case PVRING_BLKIF_ESEGMENT_SECTORS:
		return "segment sectors outside their page (first > last or last > 7)";
	case PVRING_BLKIF_EPAST_END:
		return "sectors past the end of the disk";
	case PVRING_BLKIF_EREAD_ONLY:
		return "write to a read-only disk";
	}
	return "unknown error";
}

const char *pvring_blkif_op_name(uint8_t op)
{
	switch (op) {
	case PVRING_BLKIF_OP_READ:
		return "read";
	case PVRING_BLKIF_OP_WRITE:
		return "write";
	case PVRING_BLKIF_OP_WRITE_BARRIER:
		return "write-barrier";
	case PVRING_BLKIF_OP_FLUSH_DISKCACHE:
		return "flush";
	case PVRING_BLKIF_OP_DISCARD:
		return "discard";
	case PVRING_BLKIF_OP_INDIRECT:
		return "indirect";
	}
	return NULL;
}
