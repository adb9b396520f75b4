/* SPDX-License-Identifier: MIT */
/*
 * A userspace blkfront for the local platform: a process that registers with
 * pvringd as a guest, has a disk attached to it, runs the xenbus handshake
 * with libxenstore and moves block requests over pvring rings.
 *
 * Life cycle:
 *
 *   pvring_local_front_open()     register (guest memory sized from the
 *                                 options), attach the disk over the control
 *                                 socket, open the guest's store
 *   pvring_local_front_connect()  InitWait -> rings, ports, grants, one
 *                                 transaction -> Initialised -> Connected
 *   submit / flush / poll         the data path, one thread per queue
 *   pvring_local_front_close()    Closing -> wait for Closed -> leave
 *
 * Guest memory (frames of the memfd), in order: the grant table, then per
 * queue its ring pages, its data pages and its indirect pages, then spare
 * frames for tests. Every frame past the table has a fixed grant ref
 * (PVRING_LOCAL_FRONT_FIRST_REF + its index past the table), so a ref always
 * names the same page; refs below the first and past the last frame's are
 * never used by the library and are free for tests.
 *
 * Data pages are indexed per queue (0..data_pages-1). With persistent grants
 * they are granted writable once at connect; otherwise each request grants
 * its pages (read-only for a write) and ends the grants after the response.
 *
 * Threads: open, connect and close in one thread; afterwards each queue may
 * be driven by its own thread (submit, flush, poll touch only that queue).
 * Functions return 0 (or a count) or -errno, with a one-line reason in
 * pvring_local_front_error().
 */
#ifndef PVRING_LOCAL_FRONT_H
#define PVRING_LOCAL_FRONT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <xenstore.h>

#include "common/proto/pvring_blkif.h"
#include "common/ring/pvring_ring.h"
#include "common/ring/pvring_spin.h"
#include "daemon/platform/local_registry.h"

/* Xen reserves the first 8 grant refs (GNTTAB_NR_RESERVED_ENTRIES). */
#define PVRING_LOCAL_FRONT_FIRST_REF 8u
#define PVRING_LOCAL_FRONT_MAX_QUEUES 16u
#define PVRING_LOCAL_FRONT_TIMEOUT_MS 10000u
/* A request larger than this is never built, whatever the back end offers. */
#define PVRING_LOCAL_FRONT_MAX_SEGMENTS 1024u

struct pvring_local_front;

struct pvring_local_front_opts {
	const char *rundir; /* RUNDIR: registry and pvringd.sock */
	const char *disk; /* the configured disk to attach */
	int devid; /* virtual device number; -1: pvringd chooses */
	unsigned int queues; /* asked for; fewer if the back end offers fewer */
	unsigned int ring_order; /* asked for; lower if the back end offers less */
	unsigned int max_inflight; /* per queue; capped at the ring's slots */
	unsigned int data_pages; /* per queue */
	unsigned int max_segments; /* largest request, in pages (indirect above 11) */
	bool persistent; /* use persistent grants if the back end offers them */
	unsigned int spare_frames; /* extra guest frames, for tests */
	unsigned int timeout_ms; /* every wait; 0: PVRING_LOCAL_FRONT_TIMEOUT_MS */
	unsigned int spin_us; /* poll: busy-wait this long before sleeping */
	/*
	 * Called inside the transaction that publishes the rings, after the
	 * library wrote its keys and before state = Initialised: a test writes
	 * arbitrary keys there (pvring_local_front_write_key). Nonzero fails
	 * the connect.
	 */
	int (*before_initialised)(struct pvring_local_front *front, xs_transaction_t xbt,
				  void *arg);
	void *hook_arg;
};

/* What the back end offered (InitWait) and then said about the disk (Connected). */
struct pvring_local_front_backend {
	uint32_t max_ring_order;
	uint32_t max_queues;
	bool flush, barrier, discard, persistent;
	uint32_t max_indirect_segments;
	uint64_t sectors; /* 512-byte sectors */
	uint32_t sector_size;
	uint32_t info;
	bool read_only;
};

struct pvring_local_front_completion {
	uint64_t cookie;
	int16_t status; /* PVRING_BLKIF_RSP_* */
	uint8_t op;
};

/* One request for submit. */
struct pvring_local_front_io {
	uint8_t op; /* READ, WRITE, FLUSH_DISKCACHE, WRITE_BARRIER, DISCARD */
	uint64_t sector; /* 512-byte sectors */
	uint32_t nr_sectors; /* data: 8 per page, the last page may be partial */
	const uint32_t *pages; /* data page indices of the queue, one per 8 sectors */
	uint64_t cookie; /* returned in the completion */
};

struct pvring_local_front_tag;

struct pvring_local_front_queue {
	unsigned int index;
	unsigned int backend_seen; /* the front end's backend_gen when this queue last looked */
	struct pvring_spin spin; /* when poll busy-waits for responses (opts.spin_us at most) */
	long preemptions; /* the polling thread's, at the spin policy's last look */
	uint64_t next_backend_look; /* ns: when this queue next looks at the back end's watch */
	struct pvring_front ring;
	struct pvring_local_guest_port port;
	uint32_t ring_frame, data_frame, indirect_frame;
	uint32_t nr_tags, nr_free;
	uint32_t *free_tags; /* a stack */
	struct pvring_local_front_tag *tags;
	uint32_t *tag_pages; /* nr_tags * max_segments data pages, to end grants */
	union pvring_blkif_request *staged; /* built, not yet in the ring */
	uint32_t nr_staged;
	struct pvring_blkif_response *rsps;
	/* counters */
	uint64_t requests, responses, kicks_sent, kicks_received, sleeps;
};

struct pvring_local_front {
	struct pvring_local_front_opts opts;
	struct pvring_local_guest guest;
	bool registered;
	struct xs_handle *xs;
	char device[32]; /* DOMID/DEVID, pvringd's name */
	char be[256], fe[256]; /* store directories */
	uint32_t devid;
	struct pvring_local_front_backend backend;
	unsigned int nr_queues, ring_order;
	bool persistent, connected;
	atomic_uint backend_gen; /* times the back end's state watch fired */
	uint32_t max_segments; /* per request, after negotiation */
	uint32_t frames_per_queue, indirect_per_tag, spare_frame;
	struct pvring_local_front_queue queues[PVRING_LOCAL_FRONT_MAX_QUEUES];
	char error[384];
};

/* Defaults: one queue, order 0, 32 in flight, 11 segments, persistent on. */
void pvring_local_front_opts_init(struct pvring_local_front_opts *opts);

/* Register, attach, open the store. On failure close() still cleans up. */
int pvring_local_front_open(struct pvring_local_front *front,
			    const struct pvring_local_front_opts *opts);
/* The whole handshake up to Connected. */
int pvring_local_front_connect(struct pvring_local_front *front);
/* Closing, wait for Closed, leave; then free everything. Safe after a failure. */
int pvring_local_front_close(struct pvring_local_front *front);
const char *pvring_local_front_error(const struct pvring_local_front *front);

/* ---- data path ---- */

/* Build one request into the queue's batch; -EAGAIN if all tags are in flight. */
int pvring_local_front_submit(struct pvring_local_front *front, unsigned int queue,
			      const struct pvring_local_front_io *io);
/* Put the batch into the ring, push once, kick if the back end asked. */
int pvring_local_front_flush(struct pvring_local_front *front, unsigned int queue);
/*
 * Flush, then collect up to max completions. With wait, block until at least
 * one arrives (spinning spin_us first), the timeout passes (-ETIMEDOUT) or the
 * back end goes away (-ECONNRESET, reason in the error).
 */
int pvring_local_front_poll(struct pvring_local_front *front, unsigned int queue,
			    struct pvring_local_front_completion *done, unsigned int max,
			    bool wait);
/* The queue's data page, as this process sees it. */
void *pvring_local_front_data(struct pvring_local_front *front, unsigned int queue, uint32_t page);
/* Counters of a queue (kicks_received drained first, so it is exact). */
const struct pvring_local_front_queue *pvring_local_front_stats(struct pvring_local_front *front,
								unsigned int queue);
/* Requests submitted and not completed. */
uint32_t pvring_local_front_inflight(const struct pvring_local_front *front, unsigned int queue);

/* ---- raw access, for misbehaviour tests ---- */

struct pvring_front *pvring_local_front_ring(struct pvring_local_front *front, unsigned int queue);
/* Kick the back end on the queue's port, whatever the ring says. */
int pvring_local_front_kick(struct pvring_local_front *front, unsigned int queue);
/* Grant a frame of guest memory (any ref the table holds) to dom0; end it. */
int pvring_local_front_grant(struct pvring_local_front *front, uint32_t ref, uint32_t frame,
			     bool readonly);
int pvring_local_front_end_grant(struct pvring_local_front *front, uint32_t ref);
/* The fixed ref of a frame past the table, and a frame's address. */
uint32_t pvring_local_front_frame_ref(const struct pvring_local_front *front, uint32_t frame);
void *pvring_local_front_frame(struct pvring_local_front *front, uint32_t frame);
/* The first of opts.spare_frames frames. */
uint32_t pvring_local_front_spare_frame(const struct pvring_local_front *front);
/* Write F/key (XBT_NULL outside a transaction); 0 or -errno. */
int pvring_local_front_write_key(struct pvring_local_front *front, xs_transaction_t xbt,
				 const char *key, const char *value);
/* Read B/key; a malloc'd string or NULL. */
char *pvring_local_front_read_backend(struct pvring_local_front *front, const char *key);
/* Exit at once, as a guest that crashes: no Closing, no leave. */
void pvring_local_front_die(int status) __attribute__((noreturn));

#endif /* PVRING_LOCAL_FRONT_H */
