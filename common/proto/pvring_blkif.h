/* SPDX-License-Identifier: MIT */
/*
 * The block protocol carried on a pvring ring: Xen's blkif wire format
 * (xen/include/public/io/blkif.h, 64-bit "x86_64-abi" layout) under pvring's
 * own names, byte for byte; and the request validation both ends share.
 *
 * A sector is always 512 bytes on the wire, whatever the disk's logical
 * sector size. Data lives in granted 4 KiB pages; a segment names one page
 * (gref) and the sectors [first_sect, last_sect] inside it (0..7).
 *
 * Request (112 bytes, one ring slot), by operation:
 *
 *   READ, WRITE, FLUSH_DISKCACHE, WRITE_BARRIER   struct pvring_blkif_rw
 *     op           0   1  the operation
 *     nr_segments  1   1  1..11 (READ/WRITE); 0..11 for FLUSH/BARRIER, whose
 *                         segments are written after the cache is flushed
 *     handle       2   2  the virtual device (echoed, otherwise unused)
 *     id           8   8  the front end's cookie, echoed in the response
 *     sector      16   8  first 512-byte sector on the disk
 *     seg[11]     24  88  { gref 0/4, first_sect 4/1, last_sect 5/1 }, 8 each
 *
 *   DISCARD                                       struct pvring_blkif_discard
 *     op 0/1, flag 1/1 (BLKIF_DISCARD_SECURE), handle 2/2, id 8/8,
 *     sector 16/8, nr_sectors 24/8
 *
 *   INDIRECT                                      struct pvring_blkif_indirect
 *     op 0/1, indirect_op 1/1 (READ or WRITE), nr_segments 2/2 (up to the
 *     back end's feature-max-indirect-segments), id 8/8, sector 16/8,
 *     handle 24/2, indirect_grefs[8] 28/32: pages holding 512 segments each
 *
 * Response (16 bytes): id 0/8, op 8/1, status 10/2 (0 okay, -1 error,
 * -2 operation not supported).
 */
#ifndef PVRING_BLKIF_H
#define PVRING_BLKIF_H

#include "../pvring_port.h"

enum pvring_blkif_op {
	PVRING_BLKIF_OP_READ = 0,
	PVRING_BLKIF_OP_WRITE = 1,
	PVRING_BLKIF_OP_WRITE_BARRIER = 2,
	PVRING_BLKIF_OP_FLUSH_DISKCACHE = 3,
	PVRING_BLKIF_OP_DISCARD = 5,
	PVRING_BLKIF_OP_INDIRECT = 6,
};

enum pvring_blkif_status {
	PVRING_BLKIF_RSP_OKAY = 0,
	PVRING_BLKIF_RSP_ERROR = -1,
	PVRING_BLKIF_RSP_EOPNOTSUPP = -2,
};

#define PVRING_BLKIF_SECTOR_SHIFT 9
#define PVRING_BLKIF_SECTORS_PER_PAGE 8u
#define PVRING_BLKIF_MAX_SEGMENTS 11u
#define PVRING_BLKIF_MAX_INDIRECT_PAGES 8u
#define PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE 512u
#define PVRING_BLKIF_DISCARD_SECURE 1u

struct pvring_blkif_segment {
	uint32_t gref;
	uint8_t first_sect;
	uint8_t last_sect;
	uint8_t pad[2];
};

struct pvring_blkif_rw {
	uint8_t op;
	uint8_t nr_segments;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector;
	struct pvring_blkif_segment seg[PVRING_BLKIF_MAX_SEGMENTS];
};

struct pvring_blkif_discard {
	uint8_t op;
	uint8_t flag;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector;
	uint64_t nr_sectors;
};

struct pvring_blkif_indirect {
	uint8_t op;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint32_t pad;
	uint64_t id;
	uint64_t sector;
	uint16_t handle;
	uint16_t pad2;
	uint32_t indirect_grefs[PVRING_BLKIF_MAX_INDIRECT_PAGES];
	uint32_t pad3;
};

union pvring_blkif_request {
	uint8_t op;
	struct pvring_blkif_rw rw;
	struct pvring_blkif_discard discard;
	struct pvring_blkif_indirect indirect;
};

struct pvring_blkif_response {
	uint64_t id;
	uint8_t op;
	uint8_t pad;
	int16_t status;
	uint32_t pad2;
};

_Static_assert(sizeof(struct pvring_blkif_segment) == 8, "blkif segment");
_Static_assert(sizeof(union pvring_blkif_request) == 112, "blkif request");
_Static_assert(sizeof(struct pvring_blkif_indirect) == 64, "blkif indirect request");
_Static_assert(sizeof(struct pvring_blkif_response) == 16, "blkif response");

/* What a request is checked against: the disk and the features offered. */
struct pvring_blkif_disk {
	uint64_t sectors; /* size in 512-byte sectors */
	bool read_only;
	bool flush; /* feature-flush-cache */
	bool barrier; /* feature-barrier */
	bool discard; /* feature-discard */
	uint32_t max_indirect_segments; /* feature-max-indirect-segments; 0: none */
};

enum pvring_blkif_error {
	PVRING_BLKIF_VALID = 0,
	PVRING_BLKIF_EBAD_OP, /* not an operation of the protocol */
	PVRING_BLKIF_ENOT_OFFERED, /* an operation whose feature was not offered */
	PVRING_BLKIF_ESEGMENT_COUNT, /* too few or too many segments */
	PVRING_BLKIF_ESEGMENT_SECTORS, /* first > last, or past the page's 8 sectors */
	PVRING_BLKIF_EPAST_END, /* the sectors reach past the end of the disk */
	PVRING_BLKIF_EREAD_ONLY, /* a write, flush with data or discard on a read-only disk */
};

/*
 * Check a request copied out of the ring (never one still in shared memory).
 * For READ, WRITE, FLUSH and BARRIER the segments are checked too; for
 * INDIRECT only the header: its segments live in the indirect pages, which
 * the caller copies out and gives to pvring_blkif_check_segments().
 */
enum pvring_blkif_error pvring_blkif_check_request(const union pvring_blkif_request *req,
						   const struct pvring_blkif_disk *disk);

/*
 * Check n segments starting at sector: each within its page, all of them
 * within the disk. *nr_sectors gets the total on success.
 */
enum pvring_blkif_error pvring_blkif_check_segments(const struct pvring_blkif_segment *seg,
						    uint32_t n, uint64_t sector,
						    const struct pvring_blkif_disk *disk,
						    uint64_t *nr_sectors);

/* The status a response carries for a request that failed this check. */
int16_t pvring_blkif_error_status(enum pvring_blkif_error error);

/* One line for logs. */
const char *pvring_blkif_error_str(enum pvring_blkif_error error);

/* The operation's name ("read", "write", ...), or NULL if unknown. */
const char *pvring_blkif_op_name(uint8_t op);

/*
 * The op a response to req must carry: the request's own, except that an
 * indirect request is answered with its indirect_op. Stock blkfront disables
 * the disk on any other value ("response has wrong operation"), as blkback
 * answers this way.
 */
static inline uint8_t pvring_blkif_response_op(const union pvring_blkif_request *req)
{
	return req->op == PVRING_BLKIF_OP_INDIRECT ? req->indirect.indirect_op : req->op;
}

/* Whether a response's status is one the protocol defines. */
static inline bool pvring_blkif_status_known(int16_t status)
{
	return status == PVRING_BLKIF_RSP_OKAY || status == PVRING_BLKIF_RSP_ERROR ||
	       status == PVRING_BLKIF_RSP_EOPNOTSUPP;
}

/* Indirect pages needed for n segments. */
static inline uint32_t pvring_blkif_indirect_pages(uint32_t nr_segments)
{
	return (nr_segments + PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE - 1) /
	       PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE;
}

#endif /* PVRING_BLKIF_H */
