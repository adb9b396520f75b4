// SPDX-License-Identifier: MIT
/*
 * pvringd's data plane (dataplane.h): per queue, consume requests (each copied
 * out of shared memory once, by common/ring), validate them (common/proto), map their
 * segments, queue the image I/O and, as it completes, produce responses and
 * push them, kicking the front end only when its event index asks.
 *
 * One pass over a ring queues all of its work and submits it with one system
 * call; responses produced while completions are reaped are pushed once per
 * loop iteration (push_ev), not once per request.
 *
 * Nothing a front end writes can make pvringd touch memory outside what it
 * mapped: producer indices are checked by the ring, requests by
 * pvring_blkif_check_request() on pvringd's own copy, and grants by the
 * platform. A request that fails is answered with an error; a ring that
 * cannot be trusted any more consumes nothing more, and its owner hears why
 * (failed) from the loop.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/aio.h"
#include "daemon/clock.h"
#include "daemon/dataplane.h"
#include "daemon/log.h"
#include "daemon/platform/platform.h"

/* Most grants one ring keeps mapped persistently (as Linux blkback's default). */
#define PGRANT_LIMIT 1056u

static const struct pvring_layout blkif_layout =
	PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);

/* A request consumed from a ring and not yet answered. */
struct pvringd_request {
	struct pvringd_queue *q;
	union pvring_blkif_request req; /* pvringd's own copy, taken once */
	uint32_t index; /* free-running request index it was consumed at */
	uint32_t nr_iov;
	uint64_t sector;
	uint64_t bytes;
	uint8_t op; /* the effective op: READ/WRITE for indirect */
	bool in_use;
	bool flushed; /* flush/barrier: the sync part is done */
	struct pvring_mapping map; /* grants mapped for this request alone (not persistent) */
	struct iovec *iov; /* max_segments entries */
	uint32_t *map_refs; /* max_segments entries: map's refs */
	struct pvringd_request *next_free;
};

/* A persistent grant: mapped once, kept until the ring disconnects. */
struct pvringd_pgrant {
	uint32_t gref; /* also the mapping's ref: an entry never moves */
	bool used;
	struct pvring_mapping m;
};

/* An owner callback waiting for the loop: one of each kind per queue, posted at most once. */
enum note_kind { NOTE_FAILED, NOTE_IDLE };

struct pvringd_note {
	struct pvringd_note *next;
	struct pvringd_queue *q;
	enum note_kind kind;
	bool posted;
};

struct pvringd_queue {
	struct pvringd_dp *dp;
	/* what connect was given */
	char name[32];
	uint32_t domid;
	uint32_t queue;
	unsigned int order;
	uint32_t refs[1u << PVRING_MAX_ORDER];
	uint32_t remote_port;
	struct pvring_blkif_disk limits;
	int image_fd;
	const struct pvringd_queue_owner_ops *ops;
	void *owner;
	/* the ring */
	struct pvring_mapping ring_map;
	struct pvring_back back;
	int port; /* local port; -1 when not bound */
	bool stopped; /* no more consuming; responses are pushed at once */
	bool failed; /* the ring cannot be trusted: no more consuming */
	bool push_pending; /* responses produced, not yet pushed */
	struct pvringd_queue *next_push;
	uint32_t in_flight;
	uint32_t max_segments; /* per request, direct or indirect */
	struct pvringd_request *reqs; /* one per slot */
	struct pvringd_request *free_reqs;
	struct pvring_blkif_segment *indirect_segs; /* max_segments: an indirect request's copy */
	struct pvringd_pgrant *pgrants; /* open-addressed by gref; NULL: not persistent */
	uint32_t pgrant_slots, nr_pgrants;
	struct pvringd_counters counters;
	uint64_t warn_second; /* rate limit of what the front end did wrong */
	uint32_t warn_count, warn_dropped;
	struct pvringd_note failed_note, idle_note;
	char fail_reason[160];
};

struct pvringd_dp {
	struct event_base *base;
	struct pvring_platform *plat;
	struct pvring_aio *aio;
	struct pvring_evtchn *evtchn; /* this data plane's event channels */
	uint32_t poll_us;
	struct event *evtchn_ev;
	struct event *push_ev;
	struct event *note_ev;
	struct pvringd_queue *push_list;
	struct pvringd_queue **port_queues; /* by local port */
	uint32_t nr_port_queues;
	struct pvringd_note *notes, **notes_tail; /* FIFO */
};

static struct pvring_platform *plat_of(const struct pvringd_queue *q)
{
	return q->dp->plat;
}

/* ---- owner callbacks, delivered from the loop ---- */

static void post_note(struct pvringd_note *n)
{
	struct pvringd_dp *dp = n->q->dp;

	if (n->posted)
		return;
	n->posted = true;
	n->next = NULL;
	*dp->notes_tail = n;
	dp->notes_tail = &n->next;
	event_active(dp->note_ev, 0, 0);
}

static void unlink_notes(struct pvringd_queue *q)
{
	struct pvringd_dp *dp = q->dp;
	struct pvringd_note **link = &dp->notes;

	while (*link) {
		if ((*link)->q == q)
			*link = (*link)->next;
		else
			link = &(*link)->next;
	}
	dp->notes_tail = &dp->notes;
	while (*dp->notes_tail)
		dp->notes_tail = &(*dp->notes_tail)->next;
	q->failed_note.posted = q->idle_note.posted = false;
}

static void on_notes(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_dp *dp = arg;
	struct pvringd_note *n;

	(void)fd;
	(void)what;
	while ((n = dp->notes)) {
		struct pvringd_queue *q = n->q;

		dp->notes = n->next;
		if (!dp->notes)
			dp->notes_tail = &dp->notes;
		n->posted = false;
		/* The callback may release q: nothing of it is touched after. */
		if (n->kind == NOTE_FAILED)
			q->ops->failed(q->owner, q, q->fail_reason);
		else
			q->ops->idle(q->owner, q);
	}
}

/* The ring cannot be trusted: consume nothing more and tell the owner, once. */
static void queue_fail(struct pvringd_queue *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void queue_fail(struct pvringd_queue *q, const char *fmt, ...)
{
	va_list ap;

	if (q->failed)
		return;
	q->failed = true;
	va_start(ap, fmt);
	vsnprintf(q->fail_reason, sizeof(q->fail_reason), fmt, ap);
	va_end(ap);
	post_note(&q->failed_note);
}

static void ring_fault_reason(const struct pvringd_queue *q, char *buf, size_t len)
{
	snprintf(buf, len, "ring %u: %s (req_prod %u, req_cons %u)", q->queue,
		 pvring_fault_str(pvring_back_fault(&q->back)), q->back.shape.fault_prod,
		 q->back.req_cons);
}

/*
 * What a front end does wrong is logged, but a front end cannot flood the
 * log: at most RING_WARN_BURST lines per ring per second, then one line
 * saying how many were left out.
 */
#define RING_WARN_BURST 10u

static bool ring_warn_allowed(struct pvringd_queue *q)
{
	uint64_t second = (uint64_t)time(NULL);

	if (second != q->warn_second) {
		if (q->warn_dropped)
			pvring_warn("%s: ring %u: %u more such messages left out", q->name,
				    q->queue, q->warn_dropped);
		q->warn_second = second;
		q->warn_count = 0;
		q->warn_dropped = 0;
	}
	if (q->warn_count < RING_WARN_BURST) {
		q->warn_count++;
		return true;
	}
	q->warn_dropped++;
	return false;
}

#define ring_warn(q, fmt, ...)                                                                     \
	do {                                                                                       \
		if (ring_warn_allowed(q))                                                          \
			pvring_warn("%s: ring %u: " fmt, (q)->name, (q)->queue, __VA_ARGS__);      \
	} while (0)

/* ---- persistent grants: an open-addressed table keyed by gref ---- */

static struct pvringd_pgrant *pgrant_slot(struct pvringd_queue *q, uint32_t gref)
{
	uint32_t mask = q->pgrant_slots - 1;
	uint32_t i = (gref * 2654435761u) & mask;

	while (q->pgrants[i].used && q->pgrants[i].gref != gref)
		i = (i + 1) & mask;
	return &q->pgrants[i];
}

/*
 * The persistent mapping of gref, made on first use. It is made writable
 * when the grant allows, so a page first used for a write can later receive
 * a read. NULL with *why set when the grant refuses; NULL with *why NULL
 * when this request must map the page alone (the table is full, or the page
 * is kept read-only and now needs writing).
 */
static void *pgrant_get(struct pvringd_queue *q, uint32_t gref, bool writable, const char **why)
{
	struct pvringd_pgrant *pg = pgrant_slot(q, gref);

	*why = NULL;
	if (pg->used) {
		/*
		 * Kept read-only, and now a read needs it writable: this request
		 * maps it alone (requests in flight may still use the old mapping).
		 */
		return pg->m.writable || !writable ? pg->m.addr : NULL;
	}
	if (q->nr_pgrants >= PGRANT_LIMIT)
		return NULL;
	pg->gref = gref;
	if (pvring_map(plat_of(q), q->domid, 1, &pg->gref, true, &pg->m, why) &&
	    (writable || pvring_map(plat_of(q), q->domid, 1, &pg->gref, false, &pg->m, why)))
		return NULL;
	pg->used = true;
	q->nr_pgrants++;
	return pg->m.addr;
}

static void pgrants_release(struct pvringd_queue *q)
{
	uint32_t i;

	if (!q->pgrants)
		return;
	for (i = 0; i < q->pgrant_slots; i++) {
		struct pvringd_pgrant *pg = &q->pgrants[i];

		if (pg->used)
			pvring_unmap(plat_of(q), &pg->m);
	}
	free(q->pgrants);
	q->pgrants = NULL;
	q->nr_pgrants = 0;
}

/* ---- responses ---- */

static void schedule_push(struct pvringd_queue *q)
{
	struct pvringd_dp *dp = q->dp;

	if (q->push_pending)
		return;
	q->push_pending = true;
	q->next_push = dp->push_list;
	dp->push_list = q;
	event_active(dp->push_ev, 0, 0);
}

static void ring_process(struct pvringd_queue *q);

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Publish a ring's responses; kick the front end only if it asked. */
static void push_ring(struct pvringd_queue *q)
{
	if (pvring_back_push(&q->back)) {
		pvring_evtchn_notify(q->dp->evtchn, (uint32_t)q->port);
		q->counters.kicks_out++;
	}
}

/* Rings one loop turn polls at most; more wait for their kicks as usual. */
#define POLL_RINGS_MAX 16u

/*
 * Rings that just answered everything they had are likely to get their front
 * ends' next requests within microseconds: looking for them for a short
 * window costs less than the sleep and the kick that would otherwise wake
 * us (the ring benchmark's doorbell+poll mode shows by how much). One window
 * per loop turn, however many rings share it, so the loop is never held up
 * longer than poll_us. Rings with I/O in flight do not poll: their
 * completions wake the loop anyway.
 */
static void poll_rings(struct pvringd_dp *dp, struct pvringd_queue **rings, unsigned int n)
{
	uint64_t deadline = pvring_now_ns() + dp->poll_us * 1000ull;
	bool found = false;
	unsigned int i;

	for (i = 0; i < n; i++)
		pvring_back_poll_begin(&rings[i]->back);
	while (!found && pvring_now_ns() < deadline) {
		for (i = 0; i < n && !found; i++)
			found = pvring_back_unconsumed(&rings[i]->back) ||
				pvring_back_fault(&rings[i]->back);
		cpu_relax();
	}
	/* Work found, or the window is over: either way ring_process re-arms the kicks. */
	for (i = 0; i < n; i++)
		ring_process(rings[i]);
}

/* Every response produced in this loop iteration is published here, once per ring. */
static void on_push(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_dp *dp = arg;
	struct pvringd_queue *q, *list = dp->push_list, *idle[POLL_RINGS_MAX];
	unsigned int nr_idle = 0;

	(void)fd;
	(void)what;
	/* Rings answered while this runs (poll_rings) wait for the next loop turn: no starving. */
	dp->push_list = NULL;
	while ((q = list)) {
		list = q->next_push;
		q->push_pending = false;
		if (q->stopped)
			continue;
		push_ring(q);
		if (dp->poll_us && !q->in_flight && nr_idle < POLL_RINGS_MAX)
			idle[nr_idle++] = q;
	}
	if (nr_idle)
		poll_rings(dp, idle, nr_idle);
}

static void request_unmap(struct pvringd_request *r)
{
	pvring_unmap(plat_of(r->q), &r->map);
}

static void respond(struct pvringd_request *r, int16_t status)
{
	struct pvringd_queue *q = r->q;
	struct pvring_blkif_response rsp = {
		.id = r->req.rw.id, /* at the same offset in every request format */
		.op = pvring_blkif_response_op(&r->req),
		.status = status,
	};

	request_unmap(r);
	q->counters.responses++;
	if (status)
		q->counters.errors++;
	/*
	 * A ring stopped for a reason other than a fault (the front end closing,
	 * a detach, shutdown) still tells the front end what completed: the
	 * write it acknowledges is on the image. Stopped rings are not batched.
	 */
	if (!pvring_back_fault(&q->back)) {
		pvring_back_produce(&q->back, &rsp);
		if (q->stopped)
			push_ring(q);
		else
			schedule_push(q);
	}
	r->in_use = false;
	r->next_free = q->free_reqs;
	q->free_reqs = r;
	q->in_flight--;
	if (q->stopped && !q->in_flight)
		post_note(&q->idle_note);
}

/* ---- segments ---- */

static void add_iov(struct pvringd_request *r, uint8_t *base, uint32_t len)
{
	struct iovec *last = r->nr_iov ? &r->iov[r->nr_iov - 1] : NULL;

	r->bytes += len;
	/* Pages mapped side by side make one transfer, not one per segment. */
	if (last && (uint8_t *)last->iov_base + last->iov_len == base) {
		last->iov_len += len;
		return;
	}
	r->iov[r->nr_iov].iov_base = base;
	r->iov[r->nr_iov].iov_len = len;
	r->nr_iov++;
}

/*
 * Map the segments' pages (writable when the disk's data goes into them) and
 * describe the transfer in r->iov. False with a warning logged when a grant
 * refuses: the request is then answered with an error.
 */
static bool map_segments(struct pvringd_request *r, const struct pvring_blkif_segment *seg,
			 uint32_t n, bool writable)
{
	struct pvringd_queue *q = r->q;
	const char *why = NULL;
	uint8_t *base = NULL;
	uint32_t i;

	r->nr_iov = 0;
	r->bytes = 0;
	if (q->pgrants) {
		for (i = 0; i < n; i++) {
			uint8_t *page = pgrant_get(q, seg[i].gref, writable, &why);

			if (!page)
				break;
			add_iov(r, page + seg[i].first_sect * 512u,
				(seg[i].last_sect - seg[i].first_sect + 1u) * 512u);
		}
		if (i == n)
			return true;
		if (why)
			goto refused;
		/* Full table, or a read-only page now written to: map this request alone. */
		r->nr_iov = 0;
		r->bytes = 0;
	}
	for (i = 0; i < n; i++)
		r->map_refs[i] = seg[i].gref;
	if (pvring_map(plat_of(q), q->domid, n, r->map_refs, writable, &r->map, &why))
		goto refused;
	base = r->map.addr;
	for (i = 0; i < n; i++)
		add_iov(r, base + (size_t)i * PVRING_PAGE_SIZE + seg[i].first_sect * 512u,
			(seg[i].last_sect - seg[i].first_sect + 1u) * 512u);
	return true;
refused:
	ring_warn(q, "request %llu: cannot map grant %u %s: %s", (unsigned long long)r->req.rw.id,
		  seg[i].gref, writable ? "writable" : "read-only", why);
	return false;
}

/* Copy an indirect request's segments out of its indirect pages, once. */
static bool copy_indirect_segments(struct pvringd_request *r)
{
	struct pvringd_queue *q = r->q;
	const struct pvring_blkif_indirect *ind = &r->req.indirect;
	uint32_t pages = pvring_blkif_indirect_pages(ind->nr_segments);
	const char *why = NULL;
	struct pvring_mapping pages_map;
	uint32_t i;

	if (q->pgrants) {
		/* Front ends with persistent grants keep their indirect pages too. */
		for (i = 0; i < pages; i++) {
			const uint8_t *page = pgrant_get(q, ind->indirect_grefs[i], false, &why);
			uint32_t n = ind->nr_segments - i * PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE;

			if (!page)
				break;
			if (n > PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE)
				n = PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE;
			memcpy(q->indirect_segs + i * PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE, page,
			       n * sizeof(*q->indirect_segs));
		}
		if (i == pages)
			return true;
		if (why)
			goto refused;
	}
	for (i = 0; i < pages; i++)
		r->map_refs[i] = ind->indirect_grefs[i];
	if (pvring_map(plat_of(q), q->domid, pages, r->map_refs, false, &pages_map, &why))
		goto refused;
	/* Copied once: the front end can change its pages, not what is validated and used. */
	memcpy(q->indirect_segs, pages_map.addr, ind->nr_segments * sizeof(*q->indirect_segs));
	pvring_unmap(plat_of(q), &pages_map);
	return true;
refused:
	ring_warn(q, "request %llu: cannot map indirect page: %s", (unsigned long long)ind->id,
		  why);
	return false;
}

/* ---- requests ---- */

static void on_io_done(void *arg, int64_t result);

static int submit_transfer(struct pvringd_request *r)
{
	struct pvringd_dp *dp = r->q->dp;
	int fd = r->q->image_fd;
	uint64_t offset = r->sector << PVRING_BLKIF_SECTOR_SHIFT;

	if (r->op == PVRING_BLKIF_OP_READ)
		return pvring_aio_readv(dp->aio, fd, r->iov, r->nr_iov, offset, on_io_done, r);
	return pvring_aio_writev(dp->aio, fd, r->iov, r->nr_iov, offset, on_io_done, r);
}

static void on_io_done(void *arg, int64_t result)
{
	struct pvringd_request *r = arg;
	struct pvringd_queue *q = r->q;
	int err;

	if (result < 0) {
		/* The image failed, not the front end: always said. */
		pvring_warn("%s: ring %u: %s of %llu bytes at sector %llu failed: %s", q->name,
			    q->queue, pvring_blkif_op_name(r->req.op), (unsigned long long)r->bytes,
			    (unsigned long long)r->sector, strerror((int)-result));
		respond(r, PVRING_BLKIF_RSP_ERROR);
		return;
	}
	if ((r->op == PVRING_BLKIF_OP_FLUSH_DISKCACHE || r->op == PVRING_BLKIF_OP_WRITE_BARRIER) &&
	    !r->flushed) {
		/* The cache is flushed; the request's own data, if any, follows it. */
		r->flushed = true;
		if (r->nr_iov) {
			r->op = PVRING_BLKIF_OP_WRITE;
			err = submit_transfer(r);
			if (err) {
				respond(r, PVRING_BLKIF_RSP_ERROR);
				return;
			}
			pvring_aio_submit(q->dp->aio);
			return;
		}
	}
	if (r->op == PVRING_BLKIF_OP_READ)
		q->counters.bytes_read += r->bytes;
	else if (r->op == PVRING_BLKIF_OP_WRITE)
		q->counters.bytes_written += r->bytes;
	respond(r, PVRING_BLKIF_RSP_OKAY);
}

static void handle_request(struct pvringd_request *r)
{
	struct pvringd_queue *q = r->q;
	struct pvringd_dp *dp = q->dp;
	const struct pvring_blkif_segment *seg = r->req.rw.seg;
	enum pvring_blkif_error bad;
	uint32_t nr_segs = 0;
	uint64_t nr_sectors = 0;
	int err = 0;

	q->counters.requests++;
	if (r->req.op < 8)
		q->counters.by_op[r->req.op]++;
	r->op = r->req.op;
	r->sector = r->req.rw.sector; /* same offset in every format */
	r->nr_iov = 0;
	r->bytes = 0;
	r->flushed = false;
	bad = pvring_blkif_check_request(&r->req, &q->limits);
	if (bad)
		goto invalid;
	switch (r->req.op) {
	case PVRING_BLKIF_OP_INDIRECT:
		r->op = r->req.indirect.indirect_op;
		nr_segs = r->req.indirect.nr_segments;
		if (!copy_indirect_segments(r))
			goto error;
		seg = q->indirect_segs;
		bad = pvring_blkif_check_segments(seg, nr_segs, r->sector, &q->limits, &nr_sectors);
		if (bad)
			goto invalid;
		break;
	case PVRING_BLKIF_OP_DISCARD:
		r->bytes = r->req.discard.nr_sectors << PVRING_BLKIF_SECTOR_SHIFT;
		err = pvring_aio_discard(dp->aio, q->image_fd,
					 r->sector << PVRING_BLKIF_SECTOR_SHIFT, r->bytes,
					 on_io_done, r);
		goto queued;
	default:
		/* pvring_blkif_check_request() has checked these segments already. */
		nr_segs = r->req.rw.nr_segments;
		break;
	}
	/* r->bytes adds up as the segments are mapped. */
	if (nr_segs && !map_segments(r, seg, nr_segs, r->op == PVRING_BLKIF_OP_READ))
		goto error;
	if (r->op == PVRING_BLKIF_OP_FLUSH_DISKCACHE || r->op == PVRING_BLKIF_OP_WRITE_BARRIER)
		err = pvring_aio_fdatasync(dp->aio, q->image_fd, on_io_done, r);
	else
		err = submit_transfer(r);
queued:
	if (!err)
		return;
	ring_warn(q, "cannot queue I/O: %s", strerror(-err));
	goto error;
invalid:
	ring_warn(q, "request %llu (op %u): %s", (unsigned long long)r->req.rw.id, r->req.op,
		  pvring_blkif_error_str(bad));
	respond(r, pvring_blkif_error_status(bad));
	return;
error:
	respond(r, PVRING_BLKIF_RSP_ERROR);
}

/* Consume and start everything the front end published; sleep only after a final check. */
static void ring_process(struct pvringd_queue *q)
{
	union pvring_blkif_request overflow;
	uint64_t batch = 0;

	while (!q->stopped && !q->failed) {
		struct pvringd_request *r = q->free_reqs;
		/*
		 * With every slot's request in flight the ring itself refuses more
		 * (it bounds what is outstanding to its slots), so a pass with no
		 * free context still ends in the final check, re-arming req_event.
		 */
		void *into = r ? (void *)&r->req : (void *)&overflow;

		if (!pvring_back_consume(&q->back, into)) {
			if (pvring_back_fault(&q->back)) {
				char reason[sizeof(q->fail_reason)];

				ring_fault_reason(q, reason, sizeof(reason));
				queue_fail(q, "%s", reason);
				break;
			}
			if (pvring_back_final_check(&q->back))
				continue;
			break;
		}
		if (!r) {
			queue_fail(q, "ring %u: more requests than slots", q->queue);
			break;
		}
		q->free_reqs = r->next_free;
		r->in_use = true;
		r->index = q->back.req_cons - 1;
		q->in_flight++;
		batch++;
		handle_request(r);
	}
	if (batch) {
		q->counters.batches++;
		if (batch > q->counters.batch_max)
			q->counters.batch_max = batch;
		pvring_aio_submit(q->dp->aio);
		/* Page-cache reads are done by now: answer them in this same pass. */
		pvring_aio_reap(q->dp->aio);
	}
}

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_dp *dp = arg;
	int port;

	(void)fd;
	(void)what;
	while ((port = pvring_evtchn_pending(dp->evtchn)) >= 0) {
		struct pvringd_queue *q =
			(uint32_t)port < dp->nr_port_queues ? dp->port_queues[port] : NULL;

		/* Unmasked first: a kick during the pass below is not lost. */
		pvring_evtchn_unmask(dp->evtchn, (uint32_t)port);
		if (!q)
			continue;
		q->counters.kicks_in++;
		ring_process(q);
	}
}

/* ---- queue life ---- */

static int set_port_queue(struct pvringd_dp *dp, uint32_t port, struct pvringd_queue *q)
{
	if (port >= dp->nr_port_queues) {
		uint32_t n = dp->nr_port_queues ? dp->nr_port_queues : 64;
		struct pvringd_queue **grown;

		while (n <= port)
			n *= 2;
		grown = realloc(dp->port_queues, n * sizeof(*grown));
		if (!grown)
			return -1;
		memset(grown + dp->nr_port_queues, 0, (n - dp->nr_port_queues) * sizeof(*grown));
		dp->port_queues = grown;
		dp->nr_port_queues = n;
	}
	dp->port_queues[port] = q;
	return 0;
}

/* Kicks on a stopped or released queue's port find nothing (a reused port: its new queue). */
static void clear_port_queue(struct pvringd_queue *q)
{
	struct pvringd_dp *dp = q->dp;

	if (q->port >= 0 && (uint32_t)q->port < dp->nr_port_queues && dp->port_queues[q->port] == q)
		dp->port_queues[q->port] = NULL;
}

static int alloc_requests(struct pvringd_queue *q)
{
	uint32_t n = pvring_back_nr_slots(&q->back), i;
	uint32_t segs = q->max_segments;
	struct pvringd_request *r;

	q->reqs = calloc(n, sizeof(*q->reqs));
	q->indirect_segs = calloc(segs, sizeof(*q->indirect_segs));
	if (!q->reqs || !q->indirect_segs)
		return -1;
	for (i = 0; i < n; i++) {
		r = &q->reqs[i];
		r->q = q;
		r->iov = calloc(segs, sizeof(*r->iov));
		r->map_refs = calloc(segs, sizeof(*r->map_refs));
		if (!r->iov || !r->map_refs)
			return -1;
		r->next_free = q->free_reqs;
		q->free_reqs = r;
	}
	return 0;
}

static void free_requests(struct pvringd_queue *q)
{
	uint32_t i;

	if (q->reqs) {
		for (i = 0; i < pvring_back_nr_slots(&q->back); i++) {
			free(q->reqs[i].iov);
			free(q->reqs[i].map_refs);
		}
	}
	free(q->reqs);
	free(q->indirect_segs);
	q->reqs = NULL;
	q->indirect_segs = NULL;
	q->free_reqs = NULL;
}

static struct pvringd_queue *queue_new(struct pvringd_dp *dp, const struct pvringd_queue_params *p,
				       const struct pvringd_queue_owner_ops *ops, void *owner)
{
	struct pvringd_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->dp = dp;
	q->port = -1;
	snprintf(q->name, sizeof(q->name), "%s", p->name);
	q->domid = p->domid;
	q->queue = p->queue;
	q->order = p->order;
	memcpy(q->refs, p->refs, sizeof(*q->refs) << p->order);
	q->remote_port = p->remote_port;
	q->limits = *p->limits;
	q->image_fd = p->image_fd;
	q->ops = ops;
	q->owner = owner;
	q->failed_note = (struct pvringd_note){ .q = q, .kind = NOTE_FAILED };
	q->idle_note = (struct pvringd_note){ .q = q, .kind = NOTE_IDLE };
	q->max_segments = q->limits.max_indirect_segments > PVRING_BLKIF_MAX_SEGMENTS
				  ? q->limits.max_indirect_segments
				  : PVRING_BLKIF_MAX_SEGMENTS;
	return q;
}

struct pvringd_queue *pvringd_queue_connect(struct pvringd_dp *dp,
					    const struct pvringd_queue_params *p,
					    const struct pvringd_queue_owner_ops *ops, void *owner,
					    char *why, size_t why_len)
{
	uint32_t pages = 1u << p->order;
	const char *reason = NULL;
	struct pvringd_queue *q;
	int port;

	if (p->order > PVRING_MAX_ORDER) {
		snprintf(why, why_len, "queue %u: ring of order %u", p->queue, p->order);
		return NULL;
	}
	q = queue_new(dp, p, ops, owner);
	if (!q) {
		snprintf(why, why_len, "queue %u: out of memory", p->queue);
		return NULL;
	}
	if (pvring_map(dp->plat, q->domid, pages, q->refs, true, &q->ring_map, &reason)) {
		snprintf(why, why_len, "queue %u: cannot map the ring (ring-ref %u%s): %s",
			 q->queue, q->refs[0], pages > 1 ? "..." : "", reason);
		goto fail;
	}
	if (!pvring_back_attach(&q->back, q->ring_map.addr, q->order, &blkif_layout)) {
		snprintf(why, why_len, "queue %u: unusable ring of order %u", q->queue, q->order);
		goto fail;
	}
	/*
	 * A ring broken before it is served is refused here, with nothing taken from it: the
	 * owner never says Connected for it.
	 */
	pvring_back_unconsumed(&q->back);
	if (pvring_back_fault(&q->back)) {
		ring_fault_reason(q, why, why_len);
		goto fail;
	}
	if (alloc_requests(q)) {
		snprintf(why, why_len, "queue %u: out of memory", q->queue);
		goto fail;
	}
	if (p->persistent) {
		q->pgrant_slots = 2 * 2048u; /* a power of two, over twice the limit */
		q->pgrants = calloc(q->pgrant_slots, sizeof(*q->pgrants));
		if (!q->pgrants) {
			snprintf(why, why_len, "queue %u: out of memory", q->queue);
			goto fail;
		}
	}
	port = pvring_evtchn_bind(dp->evtchn, q->domid, q->remote_port);
	if (port < 0) {
		snprintf(why, why_len, "queue %u: cannot bind event channel %u: %s", q->queue,
			 q->remote_port, strerror(-port));
		goto fail;
	}
	q->port = port;
	if (set_port_queue(dp, (uint32_t)port, q)) {
		snprintf(why, why_len, "queue %u: out of memory", q->queue);
		goto fail;
	}
	/* Requests published before we attached get served now, not on the next kick. */
	ring_process(q);
	return q;
fail:
	pvringd_queue_release(q);
	return NULL;
}

bool pvringd_queue_stop(struct pvringd_queue *q, bool serve_published)
{
	if (q->stopped)
		return false;
	if (serve_published)
		ring_process(q); /* consumes nothing from a failed or faulted ring */
	q->stopped = true;
	clear_port_queue(q);
	if (!q->in_flight)
		post_note(&q->idle_note);
	return true;
}

void pvringd_queue_release(struct pvringd_queue *q)
{
	struct pvringd_dp *dp = q->dp;
	struct pvringd_queue **link;

	unlink_notes(q);
	for (link = &dp->push_list; *link; link = &(*link)->next_push) {
		if (*link == q) {
			*link = q->next_push;
			break;
		}
	}
	clear_port_queue(q);
	if (q->port >= 0)
		pvring_evtchn_unbind(dp->evtchn, (uint32_t)q->port);
	pgrants_release(q);
	free_requests(q);
	pvring_unmap(dp->plat, &q->ring_map);
	free(q);
}

/* ---- what pvringctl sees ---- */

void pvringd_queue_snapshot(const struct pvringd_queue *q, struct pvringd_queue_snapshot *s)
{
	s->queue = q->queue;
	s->order = q->order;
	pvring_back_state(&q->back, &s->ring);
	s->in_flight = q->in_flight;
	s->persistent_grants = q->nr_pgrants;
	s->counters = q->counters;
}

uint32_t pvringd_queue_nr_slots(const struct pvringd_queue *q)
{
	return pvring_back_nr_slots(&q->back);
}

uint32_t pvringd_queue_slots(const struct pvringd_queue *q, struct pvringd_slot_snapshot *out,
			     uint32_t max)
{
	uint32_t i, n = 0;

	for (i = 0; i < pvring_back_nr_slots(&q->back) && n < max; i++) {
		if (!q->reqs[i].in_use)
			continue;
		out[n].index = q->reqs[i].index;
		out[n].req = q->reqs[i].req;
		n++;
	}
	return n;
}

/* ---- the data plane ---- */

struct pvringd_dp *pvringd_dp_create(const struct pvringd_dp_params *params, const char **why)
{
	struct pvringd_dp *dp = calloc(1, sizeof(*dp));

	if (!dp) {
		*why = "out of memory";
		return NULL;
	}
	dp->base = params->base;
	dp->plat = params->plat;
	dp->poll_us = params->poll_us;
	dp->notes_tail = &dp->notes;
	dp->aio = pvring_aio_create(dp->base, params->aio_entries, why);
	if (!dp->aio)
		goto fail;
	dp->evtchn = pvring_evtchn_open(dp->plat, why);
	if (!dp->evtchn)
		goto fail;
	dp->evtchn_ev = event_new(dp->base, pvring_evtchn_fd(dp->evtchn), EV_READ | EV_PERSIST,
				  on_evtchn, dp);
	dp->push_ev = event_new(dp->base, -1, 0, on_push, dp);
	dp->note_ev = event_new(dp->base, -1, 0, on_notes, dp);
	if (!dp->evtchn_ev || !dp->push_ev || !dp->note_ev || event_add(dp->evtchn_ev, NULL)) {
		*why = "cannot watch the event channels";
		goto fail;
	}
	return dp;
fail:
	pvringd_dp_destroy(dp);
	return NULL;
}

void pvringd_dp_quiesce(struct pvringd_dp *dp)
{
	pvring_aio_drain(dp->aio);
}

void pvringd_dp_destroy(struct pvringd_dp *dp)
{
	if (!dp)
		return;
	if (dp->evtchn_ev)
		event_free(dp->evtchn_ev);
	if (dp->push_ev)
		event_free(dp->push_ev);
	if (dp->note_ev)
		event_free(dp->note_ev);
	if (dp->aio)
		pvring_aio_destroy(dp->aio);
	pvring_evtchn_close(dp->evtchn);
	free(dp->port_queues);
	free(dp);
}
