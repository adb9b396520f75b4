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

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/aio.h"
#include "daemon/engine.h"
#include "daemon/image.h"
#include "daemon/clock.h"
#include "daemon/dataplane_internal.h"
#include "daemon/log.h"
#include "daemon/platform/platform.h"

/* Most grants one ring keeps mapped persistently (as Linux blkback's default). */
#define PGRANT_LIMIT 1056u
/*
 * The persistent-grant table starts small and doubles while more than half full, up to the
 * size that holds PGRANT_LIMIT at about half load: a guest that grants 32 pages costs a few
 * KiB, not the 80 KiB a full-size table would.
 */
#define PGRANT_FIRST_SLOTS 64u
#define PGRANT_MAX_SLOTS 2048u

static const struct pvring_layout blkif_layout =
	PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);

static struct pvring_platform *plat_of(const struct pvringd_queue *q)
{
	return q->dp->plat;
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
	dp_post_to_main(&q->failed_mail);
}

static void ring_fault_reason(const struct pvringd_queue *q, char *buf, size_t len)
{
	snprintf(buf, len, "ring %u: %s (req_prod %u, req_cons %u)", q->queue,
		 pvring_fault_str(pvring_back_fault(&q->back)), q->back.shape.fault_prod,
		 q->back.req_cons);
}

/*
 * What a front end does wrong, and what its image fails, is logged, but neither can flood the
 * log (a guest writing on while its storage is away): at most RING_WARN_BURST lines per ring
 * per second, then one line saying how many were left out.
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

/*
 * Multiply-shift hashing with an odd multiplier drawn for each ring: the product's high bits
 * depend on all of gref's, and the guest, not knowing the multiplier, cannot pick grefs that
 * all land in one run of slots, which would make every miss walk the run.
 */
static struct pvringd_pgrant *pgrant_slot(struct pvringd_queue *q, uint32_t gref)
{
	uint32_t mask = q->pgrant_slots - 1;
	uint32_t i = (gref * q->pgrant_hash) >> (32 - __builtin_ctz(q->pgrant_slots));

	while (q->pgrants[i].used && q->pgrants[i].gref != gref)
		i = (i + 1) & mask;
	return &q->pgrants[i];
}

/*
 * Room for one more entry at no more than half load: the table doubles, its entries rehashed
 * (each mapping's refs pointing at its entry's gref again). False if out of memory: the
 * request then maps the page alone.
 */
static bool pgrant_make_room(struct pvringd_queue *q)
{
	struct pvringd_pgrant *old = q->pgrants, *table;
	uint32_t old_slots = q->pgrant_slots, i;

	/* At its largest, PGRANT_LIMIT entries keep it about half full. */
	if ((q->nr_pgrants + 1) * 2 <= old_slots || old_slots >= PGRANT_MAX_SLOTS)
		return true;
	table = calloc(old_slots * 2, sizeof(*table));
	if (!table)
		return false;
	q->pgrants = table;
	q->pgrant_slots = old_slots * 2;
	for (i = 0; i < old_slots; i++) {
		struct pvringd_pgrant *pg;

		if (!old[i].used)
			continue;
		pg = pgrant_slot(q, old[i].gref);
		*pg = old[i];
		pg->m.refs = &pg->gref;
	}
	free(old);
	return true;
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
	if (q->nr_pgrants >= PGRANT_LIMIT || !pgrant_make_room(q))
		return NULL;
	pg = pgrant_slot(q, gref); /* the table may have moved */
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

/* ---- room for indirect requests' segments ---- */

/* Give an indirect request room for max_segments segments; false if out of memory. */
static bool segbuf_get(struct pvringd_request *r)
{
	struct pvringd_queue *q = r->q;
	struct pvringd_segbuf *b = q->free_segbufs;

	if (b) {
		q->free_segbufs = b->next;
	} else {
		b = malloc(sizeof(*b) + q->max_segments * (sizeof(b->iov[0]) + sizeof(*b->refs)));
		if (!b)
			return false;
		b->refs = (uint32_t *)(b->iov + q->max_segments);
	}
	r->segbuf = b;
	r->iov = b->iov;
	r->map_refs = b->refs;
	return true;
}

static void segbuf_put(struct pvringd_request *r)
{
	struct pvringd_queue *q = r->q;

	if (!r->segbuf)
		return;
	r->segbuf->next = q->free_segbufs;
	q->free_segbufs = r->segbuf;
	r->segbuf = NULL;
	r->iov = r->inline_iov;
	r->map_refs = r->inline_refs;
}

/* ---- responses ---- */

static void schedule_push(struct pvringd_queue *q)
{
	struct pvringd_worker *w = q->w;

	if (q->push_pending)
		return;
	q->push_pending = true;
	q->next_push = w->push_list;
	w->push_list = q;
	event_active(w->push_ev, 0, 0);
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
	bool kick = pvring_back_push(&q->back);

	/* Only now does the front end have them: their journal entries can go. */
	if (q->inflight)
		pvringd_inflight_pushed(q->inflight);
	if (kick) {
		pvring_evtchn_notify(q->w->evtchn, (uint32_t)q->port);
		q->counters.kicks_out++;
	}
}

static void ready_add(struct pvringd_queue *q);

/*
 * The final check a pass left to on_push. What it finds waits for the ring's turn on the ready
 * list, as a kick's work does: on_push runs passes only for the rings it polls.
 */
static void rearm(struct pvringd_queue *q)
{
	q->rearm_pending = false;
	if (q->stopped || q->failed)
		return; /* consumes no more: nothing to be kicked for */
	if (pvring_back_final_check(&q->back) || pvring_back_fault(&q->back))
		ready_add(q);
}

/* Rings one poll looks at, at most; more wait for their kicks as usual. */
#define POLL_RINGS_MAX 16u
/* Polls in a row before the loop looks at its descriptors again (see poll_rings). */
#define POLLS_PER_LOOK 16u

/*
 * Rings that just answered everything they had are likely to get their front
 * ends' next requests within microseconds: looking for them for a short
 * window costs less than the sleep and the kick that would otherwise wake
 * us (the ring benchmark's doorbell+poll mode shows by how much). One window
 * per loop turn, however many rings share it, so the loop is never held up
 * longer than poll_us. Rings with I/O in flight do not poll: their
 * completions wake the loop anyway. How long the window is, and whether there
 * is one at all, the worker's spin policy says (common/ring/pvring_spin.h): it
 * stops spinning while windows come back empty or the CPU is wanted elsewhere.
 */
static void poll_rings(struct pvringd_worker *w, struct pvringd_queue **rings, unsigned int n)
{
	/* Rings waiting for their budgeted turn come first: no busy-poll ahead of them. */
	uint32_t window = w->ready_head ? 0 : pvring_spin_window(&w->spin);
	uint64_t start, end;
	bool preempted = false;
	bool found = false;
	unsigned int i;

	if (!window) {
		for (i = 0; i < n; i++)
			if (rings[i]->rearm_pending)
				rearm(rings[i]);
		return;
	}
	start = pvring_now_ns();
	for (i = 0; i < n; i++)
		pvring_back_poll_begin(&rings[i]->back);
	while (!found && (end = pvring_now_ns()) < start + window) {
		for (i = 0; i < n && !found; i++)
			found = pvring_back_poll(&rings[i]->back) ||
				pvring_back_fault(&rings[i]->back);
		cpu_relax();
	}
	if (pvring_spin_look(&w->spin, end - start)) {
		/* Since the last look, not only in this window: close enough, and one call. */
		long now_preempted = pvring_thread_preemptions();

		preempted = now_preempted != w->preemptions;
		w->preemptions = now_preempted;
	}
	pvring_spin_done(&w->spin, found, preempted);
	/* Work found, or the window is over: either way ring_process re-arms the kicks. */
	for (i = 0; i < n; i++)
		ring_process(rings[i]);
	/*
	 * push_ev made active again from here (the rings just polled answered more) runs again
	 * in this same loop turn: cheap, and what keeps a QD1 guest's round trip short. But a
	 * guest that keeps up would keep the worker from every other ring's kicks, its timers
	 * and its mail for good: every POLLS_PER_LOOK polls, the loop looks at its descriptors.
	 */
	if (++w->polls_since_look >= POLLS_PER_LOOK) {
		w->polls_since_look = 0;
		event_base_loopcontinue(w->base);
	}
}

/*
 * Every response produced in this loop iteration is published here, once per ring. A ring whose
 * pass ran out of requests with responses to publish was not re-armed (ring_pass): it is looked
 * at again here, after its responses, by a poll or by a pass of its own.
 */
static void on_push(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_worker *w = arg;
	struct pvringd_queue *q, *list = w->push_list, *idle[POLL_RINGS_MAX];
	unsigned int nr_idle = 0;

	(void)fd;
	(void)what;
	w->push_list = NULL;
	while ((q = list)) {
		list = q->next_push;
		q->push_pending = false;
		push_ring(q);
		/* A ring out of budget is not polled: the ready list brings it back in turn. */
		if (w->dp->poll_us && !q->in_flight && !q->ready && nr_idle < POLL_RINGS_MAX)
			idle[nr_idle++] = q;
		else if (q->rearm_pending)
			rearm(q);
	}
	if (nr_idle)
		poll_rings(w, idle, nr_idle);
}

static void queue_idle(struct pvringd_queue *q);

/*
 * The queue's guest has its cap of bytes in flight (across its queues, on any worker). A
 * queue with nothing in flight still takes one request: it cannot wait on completions of its
 * own, and no worker waits for another. Relaxed: the count bounds memory and the device's
 * queue, it orders no data; another worker's update is seen at this queue's next completion.
 */
static bool guest_at_cap(const struct pvringd_queue *q)
{
	uint64_t max = q->dp->guest_inflight_max;

	return max && q->in_flight &&
	       atomic_load_explicit(&q->guest->bytes_in_flight, memory_order_relaxed) >= max;
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
	segbuf_put(r);
	if (r->charged) {
		atomic_fetch_sub_explicit(&q->guest->bytes_in_flight, r->charged,
					  memory_order_relaxed);
		r->charged = 0;
	}
	q->counters.responses++;
	if (status)
		q->counters.errors++;
	/*
	 * A ring stopped for a reason other than a fault (the front end closing,
	 * a detach, shutdown) still tells the front end what completed: the
	 * write it acknowledges is on the image. Stopped rings are not batched.
	 */
	if (!pvring_back_fault(&q->back)) {
		if (r->journal_entry >= 0)
			pvringd_inflight_answered(q->inflight, (uint32_t)r->journal_entry,
						  q->back.rsp_prod_pvt);
		pvring_back_produce(&q->back, &rsp);
		if (q->stopped)
			push_ring(q);
		else
			schedule_push(q);
	}
	r->journal_entry = -1;
	r->in_use = false;
	r->next_free = q->free_reqs;
	q->free_reqs = r;
	q->in_flight--;
	/*
	 * Under the cap again, or nothing of its own left in flight: its turn comes round, and
	 * its kicks count again (its port stayed masked while capped, unless it rests).
	 */
	if (q->capped && !q->stopped && !q->failed && !guest_at_cap(q)) {
		q->capped = false;
		if (!q->resting)
			pvring_evtchn_unmask(q->w->evtchn, (uint32_t)q->port);
		ready_add(q);
	}
	/* Last: once main has IDLE it may free the queue. */
	if (q->stopped && !q->in_flight)
		queue_idle(q);
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
	if (pvring_map_pages(plat_of(q), q->domid, n, r->map_refs, writable, q->mapped_pages,
			     &r->map, &why)) {
		i = 0; /* the map is all or nothing: name its first grant, not one past the last */
		goto refused;
	}
	for (i = 0; i < n; i++)
		add_iov(r, (uint8_t *)q->mapped_pages[i] + seg[i].first_sect * 512u,
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
	struct pvringd_engine *e = r->q->engine;
	uint64_t offset = r->sector << PVRING_BLKIF_SECTOR_SHIFT;

	if (r->op == PVRING_BLKIF_OP_READ)
		return e->ops->readv(e, r->iov, r->nr_iov, offset, on_io_done, r);
	return e->ops->writev(e, r->iov, r->nr_iov, offset, on_io_done, r);
}

static void on_io_done(void *arg, int64_t result)
{
	struct pvringd_request *r = arg;
	struct pvringd_queue *q = r->q;
	int err;

	if (result < 0) {
		/* The image failed, not the front end: said, within the ring's log budget. */
		ring_warn(q, "%s of %llu bytes at sector %llu failed: %s",
			  pvring_blkif_op_name(r->req.op), (unsigned long long)r->bytes,
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
			q->engine->ops->submit(q->engine);
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
	struct pvringd_engine *e = q->engine;
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
		if (!segbuf_get(r)) {
			ring_warn(q, "request %llu: out of memory",
				  (unsigned long long)r->req.rw.id);
			goto error;
		}
		if (!copy_indirect_segments(r))
			goto error;
		seg = q->indirect_segs;
		bad = pvring_blkif_check_segments(seg, nr_segs, r->sector, &q->limits, &nr_sectors);
		if (bad)
			goto invalid;
		break;
	case PVRING_BLKIF_OP_DISCARD:
		r->bytes = r->req.discard.nr_sectors << PVRING_BLKIF_SECTOR_SHIFT;
		err = e->ops->discard(e, r->sector << PVRING_BLKIF_SECTOR_SHIFT, r->bytes,
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
		err = e->ops->flush(e, on_io_done, r);
	else
		err = submit_transfer(r);
queued:
	if (!err) {
		/* Data moved counts against the cap; a discard's range moves none. */
		r->charged = r->op == PVRING_BLKIF_OP_DISCARD ? 0 : r->bytes;
		if (r->charged)
			atomic_fetch_add_explicit(&q->guest->bytes_in_flight, r->charged,
						  memory_order_relaxed);
		return;
	}
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

/*
 * A pass over one ring takes at most this much before the other rings on the worker get their
 * turn: a front end that keeps its ring full cannot hold the worker (and the guests that share
 * it) for longer than one budget. Requests and bytes both count: 32 small requests, or 512 KiB
 * of data (one 1 MiB request still goes through, alone).
 */
#define PASS_REQUESTS 32u
#define PASS_BYTES (512u << 10)

/*
 * The request just consumed into r goes into the ring's journal before anything can answer
 * it (and reuse its slot). -1 with the queue failed: the journal is full, which only a front
 * end that publishes into slots it was not given back yet can make happen.
 */
static int journal_consumed(struct pvringd_queue *q, struct pvringd_request *r)
{
	int entry = pvringd_inflight_consumed(q->inflight, r->index, &r->req);

	if (entry < 0) {
		queue_fail(q,
			   "ring %u: in-flight journal full at request %u: the front end published "
			   "into slots not yet given back",
			   q->queue, r->index);
		return -1;
	}
	r->journal_entry = entry;
	return 0;
}

/* Hand what a pass consumed to the engine. */
static void ring_submit(struct pvringd_queue *q)
{
	q->engine->ops->submit(q->engine);
	/* Page-cache reads are done by now: answer them in this same pass. */
	q->engine->ops->reap(q->engine);
}

/*
 * Consume and start what the front end published, up to the pass budget (everything, with
 * unlimited); sleep only after a final check. A ring with more left goes to the back of the
 * worker's ready list instead: round robin between rings.
 */
static void ring_pass(struct pvringd_queue *q, bool unlimited)
{
	union pvring_blkif_request overflow;
	uint64_t batch = 0, submitted = 0, bytes = 0;

	q->capped = false; /* this pass looks at the cap afresh */
	q->rearm_pending = false;
	while (!q->stopped && !q->failed) {
		struct pvringd_request *r = q->free_reqs;
		/*
		 * With every slot's request in flight the ring itself refuses more
		 * (it bounds what is outstanding to its slots), so a pass with no
		 * free context still ends in the final check, re-arming req_event.
		 */
		void *into = r ? (void *)&r->req : (void *)&overflow;

		if (!unlimited && (batch >= PASS_REQUESTS || bytes >= PASS_BYTES)) {
			/* Not re-armed: the ready list brings it back, no kick needed. */
			ready_add(q);
			break;
		}
		if (!unlimited && guest_at_cap(q)) {
			/* Not re-armed either: its next completion brings it back. */
			q->capped = true;
			break;
		}
		if (!pvring_back_consume(&q->back, into)) {
			if (pvring_back_fault(&q->back)) {
				char reason[sizeof(q->fail_reason)];

				ring_fault_reason(q, reason, sizeof(reason));
				queue_fail(q, "%s", reason);
				break;
			}
			/* The I/O first: the final check below need not hold it up. */
			if (batch > submitted) {
				submitted = batch;
				ring_submit(q);
			}
			/*
			 * With responses to publish, on_push runs later in this loop turn and
			 * looks at the ring again once they are out: re-arming waits until then.
			 * The final check writes the line the front end polls for those
			 * responses, a cross-CPU transfer they need not wait behind. Meanwhile
			 * a front end that publishes more is not kicked, and need not be.
			 */
			if (q->push_pending && !q->stopped) {
				q->rearm_pending = true;
				break;
			}
			if (pvring_back_final_check(&q->back))
				continue;
			/* The final check's own look may find the ring broken. */
			if (pvring_back_fault(&q->back))
				continue;
			break;
		}
		if (!r) {
			queue_fail(q, "ring %u: more requests than slots", q->queue);
			break;
		}
		r->index = q->back.req_cons - 1;
		if (q->inflight && journal_consumed(q, r))
			break;
		q->free_reqs = r->next_free;
		r->in_use = true;
		q->in_flight++;
		batch++;
		handle_request(r);
		bytes += r->bytes;
	}
	if (batch) {
		q->counters.batches++;
		if (batch > q->counters.batch_max)
			q->counters.batch_max = batch;
		if (batch > submitted)
			ring_submit(q);
	}
}

static void ring_process(struct pvringd_queue *q)
{
	ring_pass(q, false);
}

/* What a stopped pvringd still owed, issued again before anything new is consumed. */
static void issue_owed(struct pvringd_queue *q)
{
	uint32_t i;

	for (i = 0; i < q->owed.nr_owed; i++) {
		struct pvringd_request *r = q->free_reqs;

		/* Fewer owed than contexts: open refused a journal owing more than the slots. */
		q->free_reqs = r->next_free;
		r->req = q->owed.owed[i].req;
		r->index = q->owed.owed[i].index;
		r->journal_entry = (int32_t)i; /* open put them in entries 0.. in this order */
		r->in_use = true;
		q->in_flight++;
		handle_request(r);
	}
	if (q->owed.nr_owed)
		q->engine->ops->submit(q->engine);
	free(q->owed.owed);
	q->owed.owed = NULL;
	q->owed.nr_owed = 0;
}

/* ---- round robin: rings whose pass ran out of budget ---- */

static void ready_add(struct pvringd_queue *q)
{
	struct pvringd_worker *w = q->w;
	static const struct timeval now;

	if (q->ready)
		return;
	q->ready = true;
	q->next_ready = NULL;
	*w->ready_tail = q;
	w->ready_tail = &q->next_ready;
	/*
	 * A timer, not event_active: it fires after the loop's next look at the descriptors, so
	 * the kicks of other rings are seen between two passes over a busy one.
	 */
	if (!evtimer_pending(w->ready_ev, NULL) && evtimer_add(w->ready_ev, &now))
		event_active(w->ready_ev, EV_TIMEOUT, 0); /* out of memory: at least not lost */
}

static void ready_remove(struct pvringd_queue *q)
{
	struct pvringd_worker *w = q->w;
	struct pvringd_queue **link;

	if (!q->ready)
		return;
	for (link = &w->ready_head; *link != q; link = &(*link)->next_ready)
		;
	*link = q->next_ready;
	if (w->ready_tail == &q->next_ready)
		w->ready_tail = link;
	q->ready = false;
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_worker *w = arg;
	struct pvringd_queue *list = w->ready_head, *q;

	(void)fd;
	(void)what;
	/* One pass each for the rings waiting now; those that run out again wait their turn. */
	w->ready_head = NULL;
	w->ready_tail = &w->ready_head;
	while ((q = list)) {
		list = q->next_ready;
		q->ready = false;
		ring_process(q);
	}
}

/* Ports one call of on_evtchn serves at most. */
#define EVTCHN_BATCH 64u
/* Kicks in a row that find nothing before a port rests, and for how long. */
#define EMPTY_KICKS_MAX 16u
#define KICK_REST_US 1000

static void kick_rest(struct pvringd_queue *q);

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_worker *w = arg;
	unsigned int served = 0;
	int port;

	(void)fd;
	(void)what;
	/*
	 * At most EVTCHN_BATCH ports per call: a guest kicking faster than a pass cannot keep the
	 * worker here, away from its mail (stops, snapshots) and its other events. The descriptor
	 * stays readable: the rest come on the next loop turn.
	 */
	while (served++ < EVTCHN_BATCH && (port = pvring_evtchn_pending(w->evtchn)) >= 0) {
		struct pvringd_queue *q =
			(uint32_t)port < w->nr_port_queues ? w->port_queues[port] : NULL;

		/*
		 * A port with no queue (bound, its ADD not here yet; or stopped) stays masked:
		 * ADD unmasks it and its own pass finds what was published; a stopped queue's
		 * guest gets nothing more from its kicks.
		 */
		if (!q)
			continue;
		q->counters.kicks_in++;
		/* Its turn comes from the ready list; a failed ring takes nothing: left masked. */
		if (q->failed)
			continue;
		/*
		 * At its guest's cap: its port stays masked (so a kicking guest costs nothing
		 * here) until its own completion brings it back, with a pass that sees all.
		 */
		if (q->capped)
			continue;
		if (q->ready) {
			/* Its pass comes anyway, and sees what this kick announced. */
			pvring_evtchn_unmask(w->evtchn, (uint32_t)port);
			continue;
		}
		ring_process(q);
		if (q->capped)
			continue;
		/*
		 * Unmasked after the pass: a kick that came meanwhile is held, not lost, and
		 * delivered by the unmask (on both platforms). A front end whose kicks keep
		 * coming with no new request at all is a kick storm: its port stays masked for
		 * KICK_REST_US, so the worker spends its time on the other rings. A kick is
		 * empty only if nothing was consumed since the one before: a request the
		 * worker's polling took before its kick was read still counts for that kick.
		 */
		if (q->back.req_cons != q->kick_cons || q->ready)
			q->empty_kicks = 0;
		else
			q->empty_kicks++;
		q->kick_cons = q->back.req_cons;
		if (q->empty_kicks >= EMPTY_KICKS_MAX) {
			kick_rest(q);
			continue;
		}
		pvring_evtchn_unmask(w->evtchn, (uint32_t)port);
	}
}

/* Rest a storming front end's port; on_kick_rest unmasks it and serves what came. */
static void kick_rest(struct pvringd_queue *q)
{
	struct pvringd_worker *w = q->w;
	static const struct timeval rest = { .tv_usec = KICK_REST_US };

	q->resting = true;
	q->counters.kick_rests++;
	q->next_resting = w->resting;
	w->resting = q;
	if (!evtimer_pending(w->rest_ev, NULL) && evtimer_add(w->rest_ev, &rest))
		event_active(w->rest_ev, EV_TIMEOUT, 0);
}

static void on_kick_rest(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_worker *w = arg;
	struct pvringd_queue *q, *list = w->resting;

	(void)fd;
	(void)what;
	w->resting = NULL;
	while ((q = list)) {
		list = q->next_resting;
		q->resting = false;
		/* Half the allowance back: a storm that goes on rests again soon. */
		q->empty_kicks = EMPTY_KICKS_MAX / 2;
		pvring_evtchn_unmask(w->evtchn, (uint32_t)q->port);
		ring_process(q);
	}
}

static void kick_rest_cancel(struct pvringd_queue *q)
{
	struct pvringd_queue **link;

	if (!q->resting)
		return;
	for (link = &q->w->resting; *link != q; link = &(*link)->next_resting)
		;
	*link = q->next_resting;
	q->resting = false;
}

/* ---- queue life ---- */

static int set_port_queue(struct pvringd_worker *w, uint32_t port, struct pvringd_queue *q)
{
	if (port >= w->nr_port_queues) {
		uint32_t n = w->nr_port_queues ? w->nr_port_queues : 64;
		struct pvringd_queue **grown;

		while (n <= port)
			n *= 2;
		grown = realloc(w->port_queues, n * sizeof(*grown));
		if (!grown)
			return -1;
		memset(grown + w->nr_port_queues, 0, (n - w->nr_port_queues) * sizeof(*grown));
		w->port_queues = grown;
		w->nr_port_queues = n;
	}
	w->port_queues[port] = q;
	return 0;
}

/* Kicks on a stopped queue's port find nothing (a reused port: its new queue). */
static void clear_port_queue(struct pvringd_queue *q)
{
	struct pvringd_worker *w = q->w;

	if (q->port >= 0 && (uint32_t)q->port < w->nr_port_queues && w->port_queues[q->port] == q)
		w->port_queues[q->port] = NULL;
}

/*
 * One context per slot, with room for a direct request's segments inline: indirect requests
 * (up to max_segments each) take theirs from a pool while in flight, so a ring of 512 slots
 * does not hold 512 x 256 segments' worth whether or not anyone sends them.
 */
static int alloc_requests(struct pvringd_queue *q)
{
	uint32_t n = pvring_back_nr_slots(&q->back), i;

	q->reqs = calloc(n, sizeof(*q->reqs));
	q->indirect_segs = calloc(q->max_segments, sizeof(*q->indirect_segs));
	q->mapped_pages = calloc(q->max_segments, sizeof(*q->mapped_pages));
	if (!q->reqs || !q->indirect_segs || !q->mapped_pages)
		return -1;
	for (i = 0; i < n; i++) {
		struct pvringd_request *r = &q->reqs[i];

		r->q = q;
		r->journal_entry = -1;
		r->iov = r->inline_iov;
		r->map_refs = r->inline_refs;
		r->next_free = q->free_reqs;
		q->free_reqs = r;
	}
	return 0;
}

static void free_requests(struct pvringd_queue *q)
{
	struct pvringd_segbuf *b;

	while ((b = q->free_segbufs)) {
		q->free_segbufs = b->next;
		free(b);
	}
	free(q->reqs);
	free(q->indirect_segs);
	free(q->mapped_pages);
	q->reqs = NULL;
	q->indirect_segs = NULL;
	q->mapped_pages = NULL;
	q->free_reqs = NULL;
}

/*
 * Open the ring's journal, taking on what an earlier pvringd left for it: consuming starts
 * where it stopped, and what it owed waits in q->owed for ADD. 0, or -1 with why.
 */
static int journal_open(struct pvringd_queue *q, char *why, size_t why_len)
{
	struct pvringd_inflight_ring ring = {
		.domid = q->domid,
		.queue = q->queue,
		.order = q->order,
		.nr_slots = pvring_back_nr_slots(&q->back),
		.remote_port = q->remote_port,
	};
	uint32_t rsp_prod = q->back.rsp_prod_pvt; /* what attach read from the ring */
	char reason[160];

	memcpy(ring.refs, q->refs, sizeof(*q->refs) << q->order);
	q->inflight = pvringd_inflight_open(q->inflight_path, &ring, q->resume, rsp_prod, &q->owed,
					    reason, sizeof(reason));
	if (!q->inflight) {
		snprintf(why, why_len, "queue %u: %s", q->queue, reason);
		return -1;
	}
	if (!q->resume)
		return 0;
	pvring_back_attach_at(&q->back, q->ring_map.addr, q->order, &blkif_layout,
			      q->owed.req_cons);
	if (q->owed.found)
		pvring_info("%s: ring %u: resumed at request %u, %u owed issued again", q->name,
			    q->queue, q->owed.req_cons, q->owed.nr_owed);
	else
		pvring_info("%s: ring %u: no in-flight journal for this ring: resumed at %u, "
			    "nothing owed",
			    q->name, q->queue, rsp_prod);
	return 0;
}

int dp_queue_prepare(struct pvringd_queue *q, char *why, size_t why_len)
{
	uint32_t pages = 1u << q->order;
	const char *reason = NULL;

	q->max_segments = q->limits.max_indirect_segments > PVRING_BLKIF_MAX_SEGMENTS
				  ? q->limits.max_indirect_segments
				  : PVRING_BLKIF_MAX_SEGMENTS;
	if (pvring_map(plat_of(q), q->domid, pages, q->refs, true, &q->ring_map, &reason)) {
		snprintf(why, why_len, "queue %u: cannot map the ring (ring-ref %u%s): %s",
			 q->queue, q->refs[0], pages > 1 ? "..." : "", reason);
		return -1;
	}
	if (!pvring_back_attach(&q->back, q->ring_map.addr, q->order, &blkif_layout)) {
		snprintf(why, why_len, "queue %u: unusable ring of order %u", q->queue, q->order);
		return -1;
	}
	if (q->inflight_path && journal_open(q, why, why_len))
		return -1;
	/*
	 * A ring broken before it is served is refused here, with nothing taken from it: the
	 * owner never says Connected for it.
	 */
	pvring_back_unconsumed(&q->back);
	if (pvring_back_fault(&q->back)) {
		ring_fault_reason(q, why, why_len);
		return -1;
	}
	if (alloc_requests(q)) {
		snprintf(why, why_len, "queue %u: out of memory", q->queue);
		return -1;
	}
	if (q->persistent) {
		q->pgrant_hash = arc4random() | 1u;
		q->pgrant_slots = PGRANT_FIRST_SLOTS;
		q->pgrants = calloc(q->pgrant_slots, sizeof(*q->pgrants));
		if (!q->pgrants) {
			snprintf(why, why_len, "queue %u: out of memory", q->queue);
			return -1;
		}
	}
	return 0;
}

void dp_queue_unprepare(struct pvringd_queue *q)
{
	/*
	 * Served and released: every request was answered, or the ring is let go for good. Never
	 * served (prepare or bind failed): what a killed pvringd owed stays for the next try.
	 */
	pvringd_inflight_close(q->inflight, q->served);
	q->inflight = NULL;
	free(q->owed.owed);
	q->owed.owed = NULL;
	q->owed.nr_owed = 0;
	pgrants_release(q);
	free_requests(q);
	pvring_unmap(plat_of(q), &q->ring_map);
}

void dp_queue_add(struct pvringd_queue *q)
{
	const char *why = NULL;

	q->engine = pvringd_engine_open(q->image, q->w->base, q->w->aio, q->name, &why);
	if (!q->engine) {
		/* Not served: what a killed pvringd owed stays in the journal for the next try. */
		queue_fail(q, "ring %u: cannot reach the image %s: %s", q->queue, q->image->path,
			   why);
		return;
	}
	q->served = true;
	q->next_engine = q->w->engine_queues;
	q->w->engine_queues = q;
	if (set_port_queue(q->w, (uint32_t)q->port, q)) {
		queue_fail(q, "ring %u: out of memory", q->queue);
		return;
	}
	/* A kick before this found no queue and left the port masked. */
	pvring_evtchn_unmask(q->w->evtchn, (uint32_t)q->port);
	issue_owed(q);
	/* Requests published before we attached get served now, not on the next kick. */
	ring_process(q);
	q->kick_cons = q->back.req_cons;
}

void dp_queue_halt(struct pvringd_queue *q, bool serve_published)
{
	struct pvringd_queue **link;

	if (serve_published)
		ring_pass(q, true); /* consumes nothing from a failed or faulted ring */
	q->stopped = true;
	ready_remove(q);
	kick_rest_cancel(q);
	clear_port_queue(q);
	/* Pushed at once from now on: off the push list, which main never sees. */
	for (link = &q->w->push_list; *link; link = &(*link)->next_push) {
		if (*link == q) {
			*link = q->next_push;
			break;
		}
	}
	if (q->push_pending) {
		q->push_pending = false;
		push_ring(q);
	}
	if (!q->in_flight)
		queue_idle(q);
}

/*
 * A stopped queue has nothing in flight: its engine closes, then main hears IDLE. Not here
 * and now: this may be inside one of the engine's own calls (its last completion).
 */
static void queue_idle(struct pvringd_queue *q)
{
	q->next_closing = q->w->closing;
	q->w->closing = q;
	event_active(q->w->close_ev, 0, 0);
}

static void close_engines(struct pvringd_worker *w)
{
	struct pvringd_queue *q, **link;

	while ((q = w->closing)) {
		w->closing = q->next_closing;
		if (q->engine) {
			for (link = &w->engine_queues; *link != q; link = &(*link)->next_engine)
				;
			*link = q->next_engine;
			q->engine->ops->close(q->engine);
			q->engine = NULL;
		}
		dp_post_to_main(&q->idle_mail);
	}
}

static void on_close(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	close_engines(arg);
}

void dp_worker_drain(struct pvringd_worker *w)
{
	struct pvringd_queue *q;
	bool busy = true;

	while (busy) {
		pvring_aio_drain(w->aio);
		busy = false;
		/* A queue's drain may answer its last request: closing waits until after. */
		for (q = w->engine_queues; q; q = q->next_engine) {
			q->engine->ops->drain(q->engine);
			busy |= q->in_flight != 0;
		}
	}
	close_engines(w);
}

void dp_queue_fill_snapshot(const struct pvringd_queue *q, struct pvringd_queue_snapshot *s)
{
	s->queue = q->queue;
	s->order = q->order;
	s->worker = q->w->index;
	pvring_back_state(&q->back, &s->ring);
	s->in_flight = q->in_flight;
	s->persistent_grants = q->nr_pgrants;
	s->guest_bytes_in_flight =
		atomic_load_explicit(&q->guest->bytes_in_flight, memory_order_relaxed);
	s->waiting_for_guest_cap = q->capped;
	if (q->engine)
		q->engine->ops->state(q->engine, s->engine_state, sizeof(s->engine_state));
	else
		snprintf(s->engine_state, sizeof(s->engine_state), "closed");
	s->counters = q->counters;
}

uint32_t dp_queue_fill_slots(const struct pvringd_queue *q, struct pvringd_slot_snapshot *out,
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

int dp_worker_events_new(struct pvringd_worker *w, const char **why)
{
	w->evtchn_ev =
		event_new(w->base, pvring_evtchn_fd(w->evtchn), EV_READ | EV_PERSIST, on_evtchn, w);
	w->push_ev = event_new(w->base, -1, 0, on_push, w);
	w->ready_ev = evtimer_new(w->base, on_ready, w);
	w->rest_ev = evtimer_new(w->base, on_kick_rest, w);
	w->close_ev = event_new(w->base, -1, 0, on_close, w);
	w->ready_tail = &w->ready_head;
	if (!w->evtchn_ev || !w->push_ev || !w->ready_ev || !w->rest_ev || !w->close_ev ||
	    event_add(w->evtchn_ev, NULL)) {
		*why = "cannot watch the event channels";
		return -1;
	}
	return 0;
}

void dp_worker_events_free(struct pvringd_worker *w)
{
	if (w->evtchn_ev)
		event_free(w->evtchn_ev);
	if (w->push_ev)
		event_free(w->push_ev);
	if (w->ready_ev)
		event_free(w->ready_ev);
	if (w->rest_ev)
		event_free(w->rest_ev);
	if (w->close_ev)
		event_free(w->close_ev);
	w->evtchn_ev = w->push_ev = w->ready_ev = w->rest_ev = w->close_ev = NULL;
	free(w->port_queues);
	w->port_queues = NULL;
	w->nr_port_queues = 0;
}
