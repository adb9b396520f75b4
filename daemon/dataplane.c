// SPDX-License-Identifier: MIT
/*
 * pvringd's data plane: per ring, consume requests (each copied out of shared
 * memory once, by common/ring), validate them (common/proto), map their
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
 * cannot be trusted any more disconnects its device with a logged reason.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/clock.h"
#include "daemon/aio.h"
#include "daemon/log.h"
#include "daemon/platform/platform.h"
#include "daemon/pvringd_config.h"
#include "daemon/pvringd.h"

/* Most grants one ring keeps mapped persistently (as Linux blkback's default). */
#define PGRANT_LIMIT 1056u

static const struct pvring_layout blkif_layout =
	PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);

static struct pvring_platform *plat_of(const struct pvringd_ring *ring)
{
	return ring->dev->d->plat;
}

/*
 * What a front end does wrong is logged, but a front end cannot flood the
 * log: at most RING_WARN_BURST lines per ring per second, then one line
 * saying how many were left out.
 */
#define RING_WARN_BURST 10u

static bool ring_warn_allowed(struct pvringd_ring *ring)
{
	uint64_t second = (uint64_t)time(NULL);

	if (second != ring->warn_second) {
		if (ring->warn_dropped)
			pvring_warn("%s: ring %u: %u more such messages left out", ring->dev->name,
				    ring->queue, ring->warn_dropped);
		ring->warn_second = second;
		ring->warn_count = 0;
		ring->warn_dropped = 0;
	}
	if (ring->warn_count < RING_WARN_BURST) {
		ring->warn_count++;
		return true;
	}
	ring->warn_dropped++;
	return false;
}

#define ring_warn(ring, fmt, ...)                                                                  \
	do {                                                                                       \
		if (ring_warn_allowed(ring))                                                       \
			pvring_warn("%s: ring %u: " fmt, (ring)->dev->name, (ring)->queue,         \
				    __VA_ARGS__);                                                  \
	} while (0)

/* ---- persistent grants: an open-addressed table keyed by gref ---- */

static struct pvringd_pgrant *pgrant_slot(struct pvringd_ring *ring, uint32_t gref)
{
	uint32_t mask = ring->pgrant_slots - 1;
	uint32_t i = (gref * 2654435761u) & mask;

	while (ring->pgrants[i].used && ring->pgrants[i].gref != gref)
		i = (i + 1) & mask;
	return &ring->pgrants[i];
}

/*
 * The persistent mapping of gref, made on first use. It is made writable
 * when the grant allows, so a page first used for a write can later receive
 * a read. NULL with *why set when the grant refuses; NULL with *why NULL
 * when this request must map the page alone (the table is full, or the page
 * is kept read-only and now needs writing).
 */
static void *pgrant_get(struct pvringd_ring *ring, uint32_t gref, bool writable, const char **why)
{
	struct pvringd_device *dev = ring->dev;
	struct pvringd_pgrant *pg = pgrant_slot(ring, gref);
	bool mapped_writable = true;
	void *addr;

	*why = NULL;
	if (pg->used) {
		/*
		 * Kept read-only, and now a read needs it writable: this request
		 * maps it alone (requests in flight may still use the old mapping).
		 */
		return pg->writable || !writable ? pg->addr : NULL;
	}
	if (ring->nr_pgrants >= PGRANT_LIMIT)
		return NULL;
	addr = pvring_map_grants(plat_of(ring), dev->domid, 1, &gref, true, why);
	if (!addr && !writable) {
		mapped_writable = false;
		addr = pvring_map_grants(plat_of(ring), dev->domid, 1, &gref, false, why);
	}
	if (!addr)
		return NULL;
	pg->used = true;
	pg->gref = gref;
	pg->writable = mapped_writable;
	pg->addr = addr;
	ring->nr_pgrants++;
	return addr;
}

static void pgrants_release(struct pvringd_ring *ring)
{
	uint32_t i;

	if (!ring->pgrants)
		return;
	for (i = 0; i < ring->pgrant_slots; i++) {
		struct pvringd_pgrant *pg = &ring->pgrants[i];

		if (pg->used)
			pvring_unmap_grants(plat_of(ring), ring->dev->domid, pg->addr, 1, &pg->gref,
					    pg->writable);
	}
	free(ring->pgrants);
	ring->pgrants = NULL;
	ring->nr_pgrants = 0;
}

/* ---- responses ---- */

static void schedule_push(struct pvringd_ring *ring)
{
	struct pvringd *d = ring->dev->d;

	if (ring->push_pending)
		return;
	ring->push_pending = true;
	ring->next_push = d->push_list;
	d->push_list = ring;
	event_active(d->push_ev, 0, 0);
}

static void ring_process(struct pvringd_ring *ring);

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Publish a ring's responses; kick the front end only if it asked. */
static void push_ring(struct pvringd_ring *ring)
{
	if (pvring_back_push(&ring->back)) {
		pvring_evtchn_notify(ring->dev->d->plat, (uint32_t)ring->port);
		ring->counters.kicks_out++;
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
static void poll_rings(struct pvringd *d, struct pvringd_ring **rings, unsigned int n)
{
	uint64_t deadline = pvring_now_ns() + d->cfg->poll_us * 1000ull;
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
	struct pvringd *d = arg;
	struct pvringd_ring *ring, *list = d->push_list, *idle[POLL_RINGS_MAX];
	unsigned int nr_idle = 0;

	(void)fd;
	(void)what;
	/* Rings answered while this runs (poll_rings) wait for the next loop turn: no starving. */
	d->push_list = NULL;
	while ((ring = list)) {
		list = ring->next_push;
		ring->push_pending = false;
		if (ring->dead)
			continue;
		push_ring(ring);
		if (d->cfg->poll_us && !ring->in_flight && nr_idle < POLL_RINGS_MAX)
			idle[nr_idle++] = ring;
	}
	if (nr_idle)
		poll_rings(d, idle, nr_idle);
}

static void request_unmap(struct pvringd_request *r)
{
	if (!r->map_count)
		return;
	pvring_unmap_grants(plat_of(r->ring), r->ring->dev->domid, r->map_addr, r->map_count,
			    r->map_refs, r->map_writable);
	r->map_count = 0;
}

static void respond(struct pvringd_request *r, int16_t status)
{
	struct pvringd_ring *ring = r->ring;
	struct pvring_blkif_response rsp = {
		.id = r->req.rw.id, /* at the same offset in every request format */
		.op = pvring_blkif_response_op(&r->req),
		.status = status,
	};

	request_unmap(r);
	ring->counters.responses++;
	if (status)
		ring->counters.errors++;
	/*
	 * A ring stopped for a reason other than a fault (the front end closing,
	 * a detach, shutdown) still tells the front end what completed: the
	 * write it acknowledges is on the image. Stopped rings are not batched.
	 */
	if (!pvring_back_fault(&ring->back)) {
		pvring_back_produce(&ring->back, &rsp);
		if (ring->dead)
			push_ring(ring);
		else
			schedule_push(ring);
	}
	r->in_use = false;
	r->next_free = ring->free_reqs;
	ring->free_reqs = r;
	ring->in_flight--;
	if (ring->dead && !ring->in_flight)
		pvringd_device_ring_idle(ring);
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
	struct pvringd_ring *ring = r->ring;
	const char *why = NULL;
	uint8_t *base = NULL;
	uint32_t i;

	r->nr_iov = 0;
	r->bytes = 0;
	if (ring->pgrants) {
		for (i = 0; i < n; i++) {
			uint8_t *page = pgrant_get(ring, seg[i].gref, writable, &why);

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
	base = pvring_map_grants(plat_of(ring), ring->dev->domid, n, r->map_refs, writable, &why);
	if (!base)
		goto refused;
	r->map_addr = base;
	r->map_count = n;
	r->map_writable = writable;
	for (i = 0; i < n; i++)
		add_iov(r, base + (size_t)i * PVRING_PAGE_SIZE + seg[i].first_sect * 512u,
			(seg[i].last_sect - seg[i].first_sect + 1u) * 512u);
	return true;
refused:
	ring_warn(ring, "request %llu: cannot map grant %u %s: %s",
		  (unsigned long long)r->req.rw.id, seg[i].gref,
		  writable ? "writable" : "read-only", why);
	return false;
}

/* Copy an indirect request's segments out of its indirect pages, once. */
static bool copy_indirect_segments(struct pvringd_request *r)
{
	struct pvringd_ring *ring = r->ring;
	const struct pvring_blkif_indirect *ind = &r->req.indirect;
	uint32_t pages = pvring_blkif_indirect_pages(ind->nr_segments);
	const char *why = NULL;
	uint8_t *base;
	uint32_t i;

	if (ring->pgrants) {
		/* Front ends with persistent grants keep their indirect pages too. */
		for (i = 0; i < pages; i++) {
			const uint8_t *page = pgrant_get(ring, ind->indirect_grefs[i], false, &why);
			uint32_t n = ind->nr_segments - i * PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE;

			if (!page)
				break;
			if (n > PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE)
				n = PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE;
			memcpy(ring->indirect_segs + i * PVRING_BLKIF_SEGMENTS_PER_INDIRECT_PAGE,
			       page, n * sizeof(*ring->indirect_segs));
		}
		if (i == pages)
			return true;
		if (why)
			goto refused;
	}
	for (i = 0; i < pages; i++)
		r->map_refs[i] = ind->indirect_grefs[i];
	base = pvring_map_grants(plat_of(ring), ring->dev->domid, pages, r->map_refs, false, &why);
	if (!base)
		goto refused;
	/* Copied once: the front end can change its pages, not what is validated and used. */
	memcpy(ring->indirect_segs, base, ind->nr_segments * sizeof(*ring->indirect_segs));
	pvring_unmap_grants(plat_of(ring), ring->dev->domid, base, pages, r->map_refs, false);
	return true;
refused:
	ring_warn(ring, "request %llu: cannot map indirect page: %s", (unsigned long long)ind->id,
		  why);
	return false;
}

/* ---- requests ---- */

static void on_io_done(void *arg, int64_t result);

static int submit_transfer(struct pvringd_request *r)
{
	struct pvringd *d = r->ring->dev->d;
	int fd = r->ring->dev->disk->image.fd;
	uint64_t offset = r->sector << PVRING_BLKIF_SECTOR_SHIFT;

	if (r->op == PVRING_BLKIF_OP_READ)
		return pvring_aio_readv(d->aio, fd, r->iov, r->nr_iov, offset, on_io_done, r);
	return pvring_aio_writev(d->aio, fd, r->iov, r->nr_iov, offset, on_io_done, r);
}

static void on_io_done(void *arg, int64_t result)
{
	struct pvringd_request *r = arg;
	struct pvringd_ring *ring = r->ring;
	int err;

	if (result < 0) {
		/* The image failed, not the front end: always said. */
		pvring_warn("%s: ring %u: %s of %llu bytes at sector %llu failed: %s",
			    ring->dev->name, ring->queue, pvring_blkif_op_name(r->req.op),
			    (unsigned long long)r->bytes, (unsigned long long)r->sector,
			    strerror((int)-result));
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
			pvring_aio_submit(ring->dev->d->aio);
			return;
		}
	}
	if (r->op == PVRING_BLKIF_OP_READ)
		ring->counters.bytes_read += r->bytes;
	else if (r->op == PVRING_BLKIF_OP_WRITE)
		ring->counters.bytes_written += r->bytes;
	respond(r, PVRING_BLKIF_RSP_OKAY);
}

static void handle_request(struct pvringd_request *r)
{
	struct pvringd_ring *ring = r->ring;
	struct pvringd_device *dev = ring->dev;
	struct pvringd *d = dev->d;
	const struct pvring_blkif_segment *seg = r->req.rw.seg;
	enum pvring_blkif_error bad;
	uint32_t nr_segs = 0;
	uint64_t nr_sectors = 0;
	int err = 0;

	ring->counters.requests++;
	if (r->req.op < 8)
		ring->counters.by_op[r->req.op]++;
	r->op = r->req.op;
	r->sector = r->req.rw.sector; /* same offset in every format */
	r->nr_iov = 0;
	r->bytes = 0;
	r->flushed = false;
	bad = pvring_blkif_check_request(&r->req, &dev->limits);
	if (bad)
		goto invalid;
	switch (r->req.op) {
	case PVRING_BLKIF_OP_INDIRECT:
		r->op = r->req.indirect.indirect_op;
		nr_segs = r->req.indirect.nr_segments;
		if (!copy_indirect_segments(r))
			goto error;
		seg = ring->indirect_segs;
		bad = pvring_blkif_check_segments(seg, nr_segs, r->sector, &dev->limits,
						  &nr_sectors);
		if (bad)
			goto invalid;
		break;
	case PVRING_BLKIF_OP_DISCARD:
		r->bytes = r->req.discard.nr_sectors << PVRING_BLKIF_SECTOR_SHIFT;
		err = pvring_aio_discard(d->aio, dev->disk->image.fd,
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
		err = pvring_aio_fdatasync(d->aio, dev->disk->image.fd, on_io_done, r);
	else
		err = submit_transfer(r);
queued:
	if (!err)
		return;
	ring_warn(ring, "cannot queue I/O: %s", strerror(-err));
	goto error;
invalid:
	ring_warn(ring, "request %llu (op %u): %s", (unsigned long long)r->req.rw.id, r->req.op,
		  pvring_blkif_error_str(bad));
	respond(r, pvring_blkif_error_status(bad));
	return;
error:
	respond(r, PVRING_BLKIF_RSP_ERROR);
}

/* Consume and start everything the front end published; sleep only after a final check. */
static void ring_process(struct pvringd_ring *ring)
{
	union pvring_blkif_request overflow;
	uint64_t batch = 0;

	while (!ring->dead) {
		struct pvringd_request *r = ring->free_reqs;
		/*
		 * With every slot's request in flight the ring itself refuses more
		 * (it bounds what is outstanding to its slots), so a pass with no
		 * free context still ends in the final check, re-arming req_event.
		 */
		void *into = r ? (void *)&r->req : (void *)&overflow;

		if (!pvring_back_consume(&ring->back, into)) {
			if (pvring_back_fault(&ring->back)) {
				pvringd_device_fail(
					ring->dev, "ring %u: %s (req_prod %u, req_cons %u)",
					ring->queue,
					pvring_fault_str(pvring_back_fault(&ring->back)),
					ring->back.shape.fault_prod, ring->back.req_cons);
				break;
			}
			if (pvring_back_final_check(&ring->back))
				continue;
			break;
		}
		if (!r) {
			pvringd_device_fail(ring->dev, "ring %u: more requests than slots",
					    ring->queue);
			break;
		}
		ring->free_reqs = r->next_free;
		r->in_use = true;
		r->index = ring->back.req_cons - 1;
		ring->in_flight++;
		batch++;
		handle_request(r);
	}
	if (batch) {
		ring->counters.batches++;
		if (batch > ring->counters.batch_max)
			ring->counters.batch_max = batch;
		pvring_aio_submit(ring->dev->d->aio);
		/* Page-cache reads are done by now: answer them in this same pass. */
		pvring_aio_reap(ring->dev->d->aio);
	}
}

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd *d = arg;
	int port;

	(void)fd;
	(void)what;
	while ((port = pvring_evtchn_pending(d->plat)) >= 0) {
		struct pvringd_ring *ring =
			(uint32_t)port < d->nr_port_rings ? d->port_rings[port] : NULL;

		/* Unmasked first: a kick during the pass below is not lost. */
		pvring_evtchn_unmask(d->plat, (uint32_t)port);
		if (!ring)
			continue;
		ring->counters.kicks_in++;
		ring_process(ring);
	}
}

/* ---- ring life ---- */

static int set_port_ring(struct pvringd *d, uint32_t port, struct pvringd_ring *ring)
{
	if (port >= d->nr_port_rings) {
		uint32_t n = d->nr_port_rings ? d->nr_port_rings : 64;
		struct pvringd_ring **grown;

		while (n <= port)
			n *= 2;
		grown = realloc(d->port_rings, n * sizeof(*grown));
		if (!grown)
			return -1;
		memset(grown + d->nr_port_rings, 0, (n - d->nr_port_rings) * sizeof(*grown));
		d->port_rings = grown;
		d->nr_port_rings = n;
	}
	d->port_rings[port] = ring;
	return 0;
}

static int alloc_requests(struct pvringd_ring *ring)
{
	uint32_t n = pvring_back_nr_slots(&ring->back), i;
	uint32_t segs = ring->max_segments;
	struct pvringd_request *r;

	ring->reqs = calloc(n, sizeof(*ring->reqs));
	ring->indirect_segs = calloc(segs, sizeof(*ring->indirect_segs));
	if (!ring->reqs || !ring->indirect_segs)
		return -1;
	for (i = 0; i < n; i++) {
		r = &ring->reqs[i];
		r->ring = ring;
		r->iov = calloc(segs, sizeof(*r->iov));
		r->map_refs = calloc(segs, sizeof(*r->map_refs));
		if (!r->iov || !r->map_refs)
			return -1;
		r->next_free = ring->free_reqs;
		ring->free_reqs = r;
	}
	return 0;
}

static void free_requests(struct pvringd_ring *ring)
{
	uint32_t i;

	if (ring->reqs) {
		for (i = 0; i < pvring_back_nr_slots(&ring->back); i++) {
			free(ring->reqs[i].iov);
			free(ring->reqs[i].map_refs);
		}
	}
	free(ring->reqs);
	free(ring->indirect_segs);
	ring->reqs = NULL;
	ring->indirect_segs = NULL;
	ring->free_reqs = NULL;
}

int pvringd_ring_connect(struct pvringd_ring *ring, char *why, unsigned int why_len)
{
	struct pvringd_device *dev = ring->dev;
	struct pvringd *d = dev->d;
	uint32_t pages = 1u << ring->order;
	const char *reason = NULL;
	int port;

	ring->port = -1;
	ring->max_segments = dev->limits.max_indirect_segments > PVRING_BLKIF_MAX_SEGMENTS
				     ? dev->limits.max_indirect_segments
				     : PVRING_BLKIF_MAX_SEGMENTS;
	ring->shared = pvring_map_grants(d->plat, dev->domid, pages, ring->refs, true, &reason);
	if (!ring->shared) {
		snprintf(why, why_len, "queue %u: cannot map the ring (ring-ref %u%s): %s",
			 ring->queue, ring->refs[0], pages > 1 ? "..." : "", reason);
		return -1;
	}
	if (!pvring_back_attach(&ring->back, ring->shared, ring->order, &blkif_layout)) {
		snprintf(why, why_len, "queue %u: unusable ring of order %u", ring->queue,
			 ring->order);
		return -1;
	}
	if (alloc_requests(ring)) {
		snprintf(why, why_len, "queue %u: out of memory", ring->queue);
		return -1;
	}
	if (dev->persistent) {
		ring->pgrant_slots = 2 * 2048u; /* a power of two, over twice the limit */
		ring->pgrants = calloc(ring->pgrant_slots, sizeof(*ring->pgrants));
		if (!ring->pgrants) {
			snprintf(why, why_len, "queue %u: out of memory", ring->queue);
			return -1;
		}
	}
	port = pvring_evtchn_bind(d->plat, dev->domid, ring->remote_port);
	if (port < 0) {
		snprintf(why, why_len, "queue %u: cannot bind event channel %u: %s", ring->queue,
			 ring->remote_port, strerror(-port));
		return -1;
	}
	ring->port = port;
	if (set_port_ring(d, (uint32_t)port, ring)) {
		snprintf(why, why_len, "queue %u: out of memory", ring->queue);
		return -1;
	}
	/* Requests published before we attached get served now, not on the next kick. */
	ring_process(ring);
	return 0;
}

void pvringd_ring_serve_published(struct pvringd_ring *ring)
{
	if (!ring->dead && !pvring_back_fault(&ring->back))
		ring_process(ring);
}

bool pvringd_ring_stop(struct pvringd_ring *ring)
{
	struct pvringd *d = ring->dev->d;

	ring->dead = true;
	if (ring->port >= 0 && (uint32_t)ring->port < d->nr_port_rings)
		d->port_rings[ring->port] = NULL;
	return ring->in_flight == 0;
}

void pvringd_ring_release(struct pvringd_ring *ring)
{
	struct pvringd *d = ring->dev->d;
	struct pvringd_ring **link;

	for (link = &d->push_list; *link; link = &(*link)->next_push) {
		if (*link == ring) {
			*link = ring->next_push;
			break;
		}
	}
	ring->push_pending = false;
	if (ring->port >= 0) {
		pvring_evtchn_unbind(d->plat, (uint32_t)ring->port);
		ring->port = -1;
	}
	pgrants_release(ring);
	free_requests(ring);
	if (ring->shared) {
		pvring_unmap_grants(d->plat, ring->dev->domid, ring->shared, 1u << ring->order,
				    ring->refs, true);
		ring->shared = NULL;
	}
}

int pvringd_dataplane_start(struct pvringd *d, const char **why)
{
	d->evtchn_ev =
		event_new(d->base, pvring_evtchn_fd(d->plat), EV_READ | EV_PERSIST, on_evtchn, d);
	d->push_ev = event_new(d->base, -1, 0, on_push, d);
	if (!d->evtchn_ev || !d->push_ev || event_add(d->evtchn_ev, NULL)) {
		*why = "cannot watch the event channels";
		return -1;
	}
	return 0;
}

void pvringd_dataplane_stop(struct pvringd *d)
{
	if (d->evtchn_ev)
		event_free(d->evtchn_ev);
	if (d->push_ev)
		event_free(d->push_ev);
	d->evtchn_ev = d->push_ev = NULL;
	free(d->port_rings);
	d->port_rings = NULL;
	d->nr_port_rings = 0;
}
