/* SPDX-License-Identifier: MIT */
/*
 * A ring's in-flight journal: what a pvringd that is killed leaves for the next one, so that
 * it can take the ring on where it stopped, the guest seeing a pause and no error.
 *
 * The shared ring alone cannot say which requests are still owed. Requests are copied out
 * when consumed, and a response is written into the next response slot whatever request it
 * answers: a slot may hold a response produced but not pushed (the request that was there is
 * in flight elsewhere), and requests answered out of order leave nothing in the ring to tell
 * their still-owed neighbours from them. The journal, a small file in pvringd's run directory
 * mapped shared, holds:
 *  - req_cons: every request before it was consumed (those after it are still in their slots);
 *  - one entry per request consumed and not yet pushed: its copy, and once answered, the index
 *    of the response slot its response went to.
 *
 * The order that makes it enough: an entry is written before the request's slot can be reused
 * (before any later response is produced), and freed only after the push that publishes its
 * response. A killed thread stops at an instruction boundary, every store before it in memory
 * and none after (the file outlives the process in the page cache), so only the compiler has
 * to keep that order. The next pvringd re-issues every entry not pushed (rsp_prod on the ring
 * says which were): reads, writes, flushes and discards can all be done twice.
 *
 * A journal belongs to one worker thread once its queue is added: no locking.
 */
#ifndef PVRINGD_INFLIGHT_H
#define PVRINGD_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/proto/pvring_blkif.h"
#include "common/ring/pvring_ring.h"

struct pvringd_inflight;

/* Which ring a journal is for: a journal for any other ring is not resumed. */
struct pvringd_inflight_ring {
	uint32_t domid;
	uint32_t queue;
	unsigned int order;
	uint32_t nr_slots;
	uint32_t remote_port;
	uint32_t refs[1u << PVRING_MAX_ORDER];
};

/* A request the stopped pvringd consumed and did not answer (or answered, not pushed). */
struct pvringd_inflight_owed {
	uint32_t index; /* free-running request index it was consumed at */
	union pvring_blkif_request req;
};

/* What open found to resume. */
struct pvringd_inflight_resume {
	bool found; /* a journal for this very ring was there */
	uint32_t req_cons; /* consume from here on (rsp_prod if nothing was found) */
	uint32_t nr_owed;
	struct pvringd_inflight_owed *owed; /* nr_owed, in consumption order; the caller frees */
};

/*
 * Open the journal at path for ring. With resume, a journal a killed pvringd left for the
 * same ring first tells what was owed, given rsp_prod (what the front end was last shown):
 * filled into *resume; none there, or one for another ring, and nothing was owed. Either way
 * a fresh journal replaces it (atomically: a kill during open leaves the old one), holding the
 * owed requests as consumed: their entries are 0 .. nr_owed - 1, to be answered as any other.
 * NULL with why (the journal left as it was): cannot make the file, or a journal for this ring
 * that contradicts the ring (more owed than the ring has slots, or not what req_cons and
 * rsp_prod say).
 */
struct pvringd_inflight *pvringd_inflight_open(const char *path,
					       const struct pvringd_inflight_ring *ring,
					       bool resume, uint32_t rsp_prod,
					       struct pvringd_inflight_resume *found, char *why,
					       size_t why_len);

/*
 * A request was consumed at index (req_cons is now index + 1): its entry, or -ENOSPC if the
 * journal is full (owed twice the ring's slots: only a front end that publishes into slots it
 * was not yet given back can do that).
 */
int pvringd_inflight_consumed(struct pvringd_inflight *j, uint32_t index,
			      const union pvring_blkif_request *req);
/* Its response is about to be written at response index rsp_index. */
void pvringd_inflight_answered(struct pvringd_inflight *j, uint32_t entry, uint32_t rsp_index);
/* Every response produced has been pushed: their entries are free again. */
void pvringd_inflight_pushed(struct pvringd_inflight *j);
/* Requests owed right now (consumed, not yet pushed). */
uint32_t pvringd_inflight_owed(const struct pvringd_inflight *j);
/* Unmap and free; remove the file too (a ring let go in order owes nothing). */
void pvringd_inflight_close(struct pvringd_inflight *j, bool remove_file);

#endif /* PVRINGD_INFLIGHT_H */
