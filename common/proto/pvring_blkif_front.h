/* SPDX-License-Identifier: MIT */
/*
 * The front end's half of the block protocol (pvring_blkif.h has the wire format): how a request
 * is encoded, and how a response is checked. pvring-io (userspace) and the pvblk module (kernel)
 * build every request and check every response through these, so they cannot drift apart from
 * each other or from what the back end's pvring_blkif_check_request() accepts.
 *
 * A read or write names its data as segments, one per granted 4 KiB page: the 512-byte sectors
 * [first_sect, last_sect] inside it. Up to PVRING_BLKIF_MAX_SEGMENTS fit in the ring slot; more
 * go "indirect": the slot names up to 8 pages of 512 segments each, which the front end grants
 * to the back end read-only, and the segments are written there.
 */
#ifndef PVRING_BLKIF_FRONT_H
#define PVRING_BLKIF_FRONT_H

#include "pvring_blkif.h"

/* The most segments one request can carry: 8 indirect pages of 512. */
#define PVRING_BLKIF_FRONT_MAX_SEGMENTS                                                            \
	(PVRING_BLKIF_MAX_INDIRECT_PAGES * PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE)

/*
 * The segments a front end may put in one read or write, given the back end's
 * feature-max-indirect-segments (0 or absent: no indirect requests): at least the slot's 11,
 * at most what 8 indirect pages hold.
 */
static inline uint32_t pvring_blkif_front_max_segments(uint32_t backend_max_indirect)
{
	if (backend_max_indirect <= PVRING_BLKIF_MAX_SEGMENTS)
		return PVRING_BLKIF_MAX_SEGMENTS;
	return backend_max_indirect < PVRING_BLKIF_FRONT_MAX_SEGMENTS
		       ? backend_max_indirect
		       : PVRING_BLKIF_FRONT_MAX_SEGMENTS;
}

/* Whether a read or write of nr_segments goes indirect. */
static inline bool pvring_blkif_front_is_indirect(uint32_t nr_segments)
{
	return nr_segments > PVRING_BLKIF_MAX_SEGMENTS;
}

/*
 * Fill seg with len bytes at offset inside the granted page gref. 0, or -EINVAL if offset or len
 * is not a multiple of 512, len is 0, or the bytes do not fit in one 4 KiB page.
 */
int pvring_blkif_front_segment(struct pvring_blkif_segment *seg, uint32_t gref, uint32_t offset,
			       uint32_t len);

/*
 * Start a request of nr_segments (filled in afterwards, each through
 * pvring_blkif_front_segment_at()) from sector on:
 *   READ, WRITE                      1..PVRING_BLKIF_FRONT_MAX_SEGMENTS; above 11, an indirect
 *                                    request on indirect_grefs (pvring_blkif_indirect_pages()
 *                                    of them);
 *   FLUSH_DISKCACHE, WRITE_BARRIER   0..11, in the slot (the data is written after the flush).
 * The request's op for a response to it is pvring_blkif_response_op(req). 0, or -EINVAL.
 */
int pvring_blkif_front_rw(union pvring_blkif_request *req, uint8_t op, uint16_t handle, uint64_t id,
			  uint64_t sector, uint32_t nr_segments, const uint32_t *indirect_grefs);

/*
 * Where segment i of a request started by pvring_blkif_front_rw() goes: in the slot, or in
 * indirect page i / 512 at i % 512 (indirect_pages[k]: the front end's mapping of the page
 * granted as indirect_grefs[k]; unused for a direct request).
 */
struct pvring_blkif_segment *pvring_blkif_front_segment_at(union pvring_blkif_request *req,
							   void *const *indirect_pages, uint32_t i);

/* A discard of nr_sectors from sector on; secure if the back end offered discard-secure. */
void pvring_blkif_front_discard(union pvring_blkif_request *req, uint16_t handle, uint64_t id,
				uint64_t sector, uint64_t nr_sectors, bool secure);

/* What is wrong with a response, once its id was found in flight. */
enum pvring_blkif_rsp_error {
	PVRING_BLKIF_RSP_VALID = 0,
	PVRING_BLKIF_RSP_EWRONG_OP, /* not the op of the request it answers */
	PVRING_BLKIF_RSP_EBAD_STATUS, /* not a status the protocol defines */
};

/*
 * Check a response copied out of the ring (never one still in shared memory) against the op
 * its request expects (pvring_blkif_response_op() of the request), as stock blkfront does. The
 * caller has checked that its id is one in flight.
 */
static inline enum pvring_blkif_rsp_error
pvring_blkif_front_check_response(const struct pvring_blkif_response *rsp, uint8_t expected_op)
{
	if (rsp->op != expected_op)
		return PVRING_BLKIF_RSP_EWRONG_OP;
	if (!pvring_blkif_status_known(rsp->status))
		return PVRING_BLKIF_RSP_EBAD_STATUS;
	return PVRING_BLKIF_RSP_VALID;
}

#endif /* PVRING_BLKIF_FRONT_H */
