/* SPDX-License-Identifier: MIT */
/*
 * Inside the data plane: what dataplane.c (serving a queue, in its worker's thread) and
 * dp_workers.c (the workers, their mail, and dataplane.h's API on the main thread) share.
 *
 * Who owns what:
 *  - a queue is the main thread's before its ADD mail and after its IDLE, and its worker's in
 *    between (mail is handed over under a mutex: everything written before a post is seen by
 *    the receiver);
 *  - main sets what connect was given, the ring mapping and the request contexts before ADD;
 *    the worker alone touches the ring, the requests, the persistent grants, the counters and
 *    its own port table, push list and io_uring;
 *  - a worker never waits for the main thread, the store or another worker; main waits for a
 *    worker only for a snapshot and at shutdown.
 */
#ifndef PVRINGD_DATAPLANE_INTERNAL_H
#define PVRINGD_DATAPLANE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/proto/pvring_blkif.h"
#include "common/ring/pvring_ring.h"
#include "common/ring/pvring_spin.h"
#include "daemon/dataplane.h"
#include "daemon/inflight.h"
#include "daemon/mailbox.h"
#include "daemon/platform/platform.h"

struct event;
struct event_base;
struct pvring_aio;
struct pvring_image;
struct pvringd_engine;
struct pvringd_worker;

/* A request consumed from a ring and not yet answered. */
struct pvringd_request {
	struct pvringd_queue *q;
	union pvring_blkif_request req; /* pvringd's own copy, taken once */
	uint32_t index; /* free-running request index it was consumed at */
	uint32_t nr_iov;
	uint64_t sector;
	uint64_t bytes;
	uint64_t charged; /* bytes counted in its guest's bytes in flight */
	int32_t journal_entry; /* in the queue's in-flight journal; -1: none */
	uint8_t op; /* the effective op: READ/WRITE for indirect */
	bool in_use;
	bool flushed; /* flush/barrier: the sync part is done */
	struct pvring_mapping map; /* grants mapped for this request alone (not persistent) */
	/* inline_* for a direct request; an indirect one's from the queue's pool while in flight */
	struct iovec *iov;
	uint32_t *map_refs; /* map's refs */
	struct pvringd_segbuf *segbuf;
	struct pvringd_request *next_free;
	struct iovec inline_iov[PVRING_BLKIF_MAX_SEGMENTS];
	uint32_t inline_refs[PVRING_BLKIF_MAX_SEGMENTS];
};

/* Room for an indirect request's segments (max_segments of each), pooled per queue. */
struct pvringd_segbuf {
	struct pvringd_segbuf *next;
	uint32_t *refs;
	struct iovec iov[];
};

/*
 * What the queues of one guest (domid) share: its bytes in flight, for the cap. Made and freed
 * by the main thread (connect, release), counted by the workers serving its queues.
 */
struct pvringd_guest {
	struct pvringd_guest *next; /* main's list */
	uint32_t domid;
	unsigned int nr_queues; /* main's */
	_Atomic uint64_t bytes_in_flight;
};

/* A persistent grant: mapped once, kept until the ring disconnects. */
struct pvringd_pgrant {
	uint32_t gref; /* also the mapping's ref: moved only with m.refs set again */
	bool used;
	struct pvring_mapping m;
};

enum dp_mail_kind {
	/* main -> worker */
	MAIL_ADD, /* serve this queue */
	MAIL_STOP, /* stop it (q->serve_published says how) */
	MAIL_SNAPSHOT, /* fill a snapshot, then wake main (struct dp_sync_mail) */
	MAIL_QUIESCE, /* finish every I/O in flight, then wake main */
	MAIL_EXIT, /* leave the loop */
	/* worker -> main: the owner's callbacks */
	MAIL_FAILED,
	MAIL_IDLE,
};

struct dp_mail {
	struct pvringd_mail mail;
	enum dp_mail_kind kind;
	struct pvringd_queue *q;
};

/* Mail main waits on: the worker sets done under dp->sync_lock and signals. */
struct dp_sync_mail {
	struct dp_mail m;
	struct pvringd_queue_snapshot *snapshot;
	struct pvringd_slot_snapshot *slots;
	uint32_t max_slots, nr_slots;
	bool done;
};

struct pvringd_queue {
	struct pvringd_dp *dp;
	struct pvringd_worker *w;
	/* what connect was given */
	char name[32];
	uint32_t domid;
	uint32_t queue;
	unsigned int order;
	uint32_t refs[1u << PVRING_MAX_ORDER];
	uint32_t remote_port;
	struct pvring_blkif_disk limits;
	struct pvring_image *image;
	/* how it reaches its image: opened on ADD, closed by its worker before IDLE */
	struct pvringd_engine *engine;
	struct pvringd_queue *next_engine; /* the worker's queues with an engine open */
	struct pvringd_queue *next_closing; /* idle: engine to close, then IDLE to main */
	const struct pvringd_queue_owner_ops *ops;
	void *owner;
	struct pvringd_guest *guest;
	char *inflight_path; /* NULL: no journal */
	bool resume;
	/* the ring's in-flight journal, and (prepare to ADD) what a stopped pvringd still owed */
	struct pvringd_inflight *inflight;
	struct pvringd_inflight_resume owed;
	bool served; /* added to its worker: its journal goes with it when released */
	/* main's: stop asked, and how */
	bool stop_posted;
	bool serve_published;
	/* the ring */
	struct pvring_mapping ring_map;
	struct pvring_back back;
	int port; /* local port on the worker's handle; -1 when not bound */
	bool stopped; /* no more consuming; responses are pushed at once */
	bool failed; /* the ring cannot be trusted: no more consuming */
	bool push_pending; /* responses produced, not yet pushed */
	bool rearm_pending; /* out of requests, its final check left to on_push (see ring_pass) */
	struct pvringd_queue *next_push;
	bool ready; /* on the worker's ready list: its pass ran out of budget */
	struct pvringd_queue *next_ready;
	uint32_t empty_kicks; /* kicks in a row with nothing consumed since the one before */
	uint32_t kick_cons; /* req_cons when the last kick was served */
	bool resting; /* a kick storm: its port stays masked for a while */
	bool capped; /* its guest is at the cap: consumes again when its own I/O completes */
	struct pvringd_queue *next_resting;
	uint32_t in_flight;
	uint32_t max_segments; /* per request, direct or indirect */
	struct pvringd_request *reqs; /* one per slot */
	struct pvringd_request *free_reqs;
	struct pvringd_segbuf *free_segbufs; /* made on first need, kept for the next */
	struct pvring_blkif_segment *indirect_segs; /* max_segments: an indirect request's copy */
	void **mapped_pages; /* max_segments: where a request's pages were mapped, while it is set
				up */
	bool persistent; /* the front end keeps its grants: map them once */
	struct pvringd_pgrant *pgrants; /* open-addressed by gref; NULL: not persistent */
	uint32_t pgrant_slots, nr_pgrants; /* slots: a power of two */
	uint32_t pgrant_hash; /* the table's multiplier: odd, drawn when the ring connects */
	struct pvringd_counters counters;
	uint64_t warn_second; /* rate limit of what the front end did wrong */
	uint32_t warn_count, warn_dropped;
	char fail_reason[160];
	/* each posted at most once per queue */
	struct dp_mail add_mail, stop_mail, failed_mail, idle_mail;
};

/* One data-plane thread: its loop, io_uring, event channels and the queues placed on it. */
struct pvringd_worker {
	struct pvringd_dp *dp;
	unsigned int index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct pvring_aio *aio; /* made in the worker's thread: io_uring's single issuer */
	struct pvring_evtchn *evtchn;
	struct event *evtchn_ev;
	struct event *push_ev;
	struct event *ready_ev;
	struct event *rest_ev;
	struct pvringd_queue *resting; /* ports masked for a kick storm */
	struct pvringd_queue *engine_queues; /* with an engine open: QUIESCE drains them */
	struct pvringd_queue *closing; /* idle: their engines close outside any engine call */
	struct event *close_ev;
	struct pvringd_mailbox *mailbox; /* main -> worker */
	struct pvringd_queue *push_list;
	struct pvringd_queue *ready_head, **ready_tail; /* FIFO: round robin */
	struct pvringd_queue **port_queues; /* by local port */
	uint32_t nr_port_queues;
	unsigned int nr_queues; /* main's count of the queues placed here */
	struct pvring_spin spin; /* when to poll rings that just answered everything */
	long preemptions; /* this thread's, at the spin policy's last look */
	unsigned int polls_since_look; /* on_push's polls since the loop last looked at its fds */
	const char *start_why; /* set if the thread could not start */
};

struct pvringd_dp {
	struct event_base *base; /* the main thread's */
	struct pvring_platform *plat;
	uint32_t poll_us;
	unsigned int aio_entries;
	uint64_t guest_inflight_max; /* 0: none */
	struct pvringd_guest *guests; /* main's: those with a queue connected */
	struct pvringd_mailbox *mailbox; /* workers -> main */
	unsigned int nr_workers;
	struct pvringd_worker *workers;
	unsigned int next_worker; /* where placement ties start */
	pthread_mutex_t sync_lock; /* worker start-up, sync mail */
	pthread_cond_t sync_cond;
	unsigned int nr_started;
};

/* ---- dataplane.c: serving queues ---- */

/* Main, before ADD: map the ring, check it, make the request contexts; -1 with why. */
int dp_queue_prepare(struct pvringd_queue *q, char *why, size_t why_len);
/* Main, after IDLE (or when connect fails): unmap and free what prepare made. */
void dp_queue_unprepare(struct pvringd_queue *q);
/* Worker, on ADD: kicks on the queue's port reach it; serve what is published. */
void dp_queue_add(struct pvringd_queue *q);
/* Worker, on STOP. */
void dp_queue_halt(struct pvringd_queue *q, bool serve_published);
/* Worker, on QUIESCE: every I/O in flight on the worker completes and is answered. */
void dp_worker_drain(struct pvringd_worker *w);
/* Worker: what the queue looks like now. */
void dp_queue_fill_snapshot(const struct pvringd_queue *q, struct pvringd_queue_snapshot *s);
uint32_t dp_queue_fill_slots(const struct pvringd_queue *q, struct pvringd_slot_snapshot *out,
			     uint32_t max);
/* The worker's events on its loop (event channels, pushes); 0 or -1 with why. */
int dp_worker_events_new(struct pvringd_worker *w, const char **why);
void dp_worker_events_free(struct pvringd_worker *w);

/* ---- dp_workers.c ---- */

/* Worker: tell the owner (FAILED/IDLE), through the main thread's mailbox. */
void dp_post_to_main(struct dp_mail *m);

#endif /* PVRINGD_DATAPLANE_INTERNAL_H */
