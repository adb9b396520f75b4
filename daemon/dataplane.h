/* SPDX-License-Identifier: MIT */
/*
 * pvringd's data plane: the queues of connected devices, served by worker threads.
 *
 *   struct pvringd_dp     the data plane: N workers, each with its own event loop,
 *                         io_uring and event-channel handle
 *   struct pvringd_queue  one queue of a connected device: the shared ring, its event
 *                         channel, its requests in flight (private to the data plane)
 *
 * Every function here is called from the main thread (the one whose loop is params.base).
 * A queue's owner (the control plane's device) connects it, stops it and releases it, and
 * hears back through two callbacks: failed (the ring can no longer be trusted) and idle (a
 * stopped queue has nothing left in flight). A device's queues are spread over the workers.
 *
 * The rules:
 * 1. Owner callbacks run on the main thread, from its loop, never inside a data-plane call,
 *    in the order they were posted (failed before idle). A callback may stop or release any
 *    queue, its own included.
 * 2. A queue is released only after its idle, or after pvringd_dp_quiesce().
 * 3. What a queue is given at connect (name, limits, image fd) is copied or must stay valid
 *    until its release: the data plane never reads its owner's objects.
 * 4. The data plane never touches the store, and a worker never waits for the main thread:
 *    a store that is slow holds up the control plane, not I/O.
 */
#ifndef PVRINGD_DATAPLANE_H
#define PVRINGD_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto/pvring_blkif.h"
#include "common/ring/pvring_ring.h"

struct event_base;
struct pvring_platform;
struct pvringd_dp;
struct pvringd_queue;

struct pvringd_counters {
	uint64_t requests, by_op[8]; /* by_op indexed by the blkif op code (0..6) */
	uint64_t responses, errors;
	uint64_t kicks_in, kicks_out;
	uint64_t kick_rests; /* times the front end's kicks kept finding nothing: port rested */
	uint64_t batches, batch_max;
	uint64_t bytes_read, bytes_written;
};

struct pvringd_dp_params {
	struct event_base *base;
	struct pvring_platform *plat;
	uint32_t poll_us; /* busy-poll window after a ring answered everything; 0: none */
	unsigned int workers; /* data-plane threads, at least 1 */
	unsigned int aio_entries; /* io_uring submission queue size, per worker */
	/*
	 * A guest's bytes in flight, across all its queues: past this a queue consumes no more
	 * until its own requests complete (one request is always let through). 0: no cap.
	 */
	uint64_t guest_inflight_max;
};

/* NULL with why on failure. */
struct pvringd_dp *pvringd_dp_create(const struct pvringd_dp_params *params, const char **why);
/*
 * Shutdown: wait for every I/O in flight to complete and be answered. Callbacks not yet
 * delivered are dropped: the owner releases every queue next.
 */
void pvringd_dp_quiesce(struct pvringd_dp *dp);
/* After every queue is released. */
void pvringd_dp_destroy(struct pvringd_dp *dp);

struct pvringd_queue_owner_ops {
	/* The ring can no longer be trusted; reason is one line. At most once per queue. */
	void (*failed)(void *owner, struct pvringd_queue *q, const char *reason);
	/* A stopped queue has nothing in flight: release it now. Once per successful stop. */
	void (*idle)(void *owner, struct pvringd_queue *q);
};

struct pvringd_queue_params {
	const char *name; /* the device, "domid/devid", for logs: copied */
	uint32_t domid;
	uint32_t queue;
	unsigned int order;
	const uint32_t *refs; /* the ring's 1 << order grant references: copied */
	uint32_t remote_port;
	const struct pvring_blkif_disk *limits; /* what requests are checked against: copied */
	struct pvring_image *image; /* valid until the queue is released */
	bool persistent; /* the front end keeps its grants: map them once */
	/*
	 * The ring's in-flight journal (daemon/inflight.h), copied; NULL: none. With resume, a
	 * journal an earlier pvringd left there for this same ring is taken on: what it still
	 * owed is issued again before anything new is consumed.
	 */
	const char *inflight_path;
	bool resume;
};

/*
 * Map the ring, bind its event channel and serve what the front end already published.
 * NULL with why when the ring cannot be used, including a ring broken before it was served
 * (nothing was taken from it then). The first pass's own failures come as callbacks.
 */
struct pvringd_queue *pvringd_queue_connect(struct pvringd_dp *dp,
					    const struct pvringd_queue_params *params,
					    const struct pvringd_queue_owner_ops *ops, void *owner,
					    char *why, size_t why_len);
/*
 * Stop consuming. serve_published: first take on everything the front end has published (a
 * front end that lets go in order may still wait for those answers; blkfront's removal
 * does). True if this call stopped the queue; idle then follows, even with nothing in flight.
 */
bool pvringd_queue_stop(struct pvringd_queue *q, bool serve_published);
/* Unbind, unmap, free: only after idle (or quiesce). Drops its undelivered callbacks. */
void pvringd_queue_release(struct pvringd_queue *q);

/* ---- what pvringctl sees ---- */

struct pvringd_queue_snapshot {
	uint32_t queue;
	unsigned int order;
	unsigned int worker; /* the data-plane thread serving it */
	struct pvring_back_state ring;
	uint32_t in_flight;
	uint32_t persistent_grants;
	uint64_t guest_bytes_in_flight; /* its guest's, across the guest's queues */
	bool waiting_for_guest_cap; /* stopped consuming: its guest is at the cap */
	char engine_state[64]; /* its way to the image (engine.h): "open", "connected", ... */
	struct pvringd_counters counters;
};

/* A request in flight: where it was consumed and pvringd's own copy of it. */
struct pvringd_slot_snapshot {
	uint32_t index; /* free-running request index */
	union pvring_blkif_request req;
};

void pvringd_queue_snapshot(const struct pvringd_queue *q, struct pvringd_queue_snapshot *s);
/* The ring's slots: at most this many requests are in flight. */
uint32_t pvringd_queue_nr_slots(const struct pvringd_queue *q);
/* The requests in flight, up to max of them; returns how many. */
uint32_t pvringd_queue_slots(const struct pvringd_queue *q, struct pvringd_slot_snapshot *out,
			     uint32_t max);

#endif /* PVRINGD_DATAPLANE_H */
