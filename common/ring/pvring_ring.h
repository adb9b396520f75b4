/* SPDX-License-Identifier: MIT */
/*
 * pvring shared ring: the Xen shared I/O ring, byte for byte, behind a typed
 * C API.
 *
 * Shared memory layout (one page or 2^order contiguous 4 KiB pages; all
 * indices little-endian uint32_t, free-running, wrapping at 2^32):
 *
 *   offset  size  field      written by  meaning
 *   0       4     req_prod   front       requests [0, req_prod) are published
 *   4       4     req_event  back        back wants a kick when req_prod passes
 *                                        req_event - 1
 *   8       4     rsp_prod   back        responses [0, rsp_prod) are published
 *   12      4     rsp_event  front       front wants a kick when rsp_prod
 *                                        passes rsp_event - 1
 *   16      4     pvt        -           per-protocol (Xen: netif smartpoll),
 *                                        zeroed, unused by pvring
 *   20      44    pad        -           zeroed
 *   64      N*S   slots      both        N = largest power of two with
 *                                        64 + N*S <= ring bytes; S = size of
 *                                        union { request; response; }
 *
 * A request lives in slot (index & (N - 1)); its response is written into a
 * slot of the same ring by the back end in the order responses are produced
 * (not necessarily the request's own slot).
 *
 * Notification ("event index") protocol: after publishing a producer index
 * moving from old to new, the producer reads the peer's event index E and
 * kicks the peer only if old < E <= new (in wrap-around arithmetic). A
 * consumer that runs out of work sets its event index to consumed + 1 and then
 * looks once more for work (final check) before sleeping: a request published
 * between its last look and the store is then either seen by the re-check or
 * notified by the producer, never neither.
 *
 * Hardening: the consumer copies every slot out of shared memory exactly once
 * before it is used (XSA-155), and validates each producer index it reads. A
 * request producer more than N ahead of the responses, or behind requests
 * already consumed, and a response producer beyond the requests outstanding,
 * mark the ring faulted: it stops consuming and pvring_*_fault() says why.
 * Every slot address is masked into the ring, so no index, valid or not, ever
 * reaches memory outside it.
 *
 * Concurrency: one thread per ring end at a time; the two ends run in
 * different threads, processes or domains.
 */
#ifndef PVRING_RING_H
#define PVRING_RING_H

#include "../pvring_port.h"

#define PVRING_PAGE_SHIFT 12
#define PVRING_PAGE_SIZE (1u << PVRING_PAGE_SHIFT)
/* Largest ring: 2^4 pages, as Xen's XENBUS_MAX_RING_GRANT_ORDER. */
#define PVRING_MAX_ORDER 4u
#ifndef PVRING_PUBLISH_STRIDE
/* A batch publishes its producer index every this many messages. */
#define PVRING_PUBLISH_STRIDE 8u
#endif

struct pvring_sring {
	uint32_t req_prod;
	uint32_t req_event;
	uint32_t rsp_prod;
	uint32_t rsp_event;
	uint8_t pvt[4];
	uint8_t pad[44];
	uint8_t slots[];
};

_Static_assert(offsetof(struct pvring_sring, rsp_event) == 12, "Xen sring layout");
_Static_assert(offsetof(struct pvring_sring, slots) == 64, "Xen sring layout");

/* Sizes of a protocol's request, response and the union of both (a slot). */
struct pvring_layout {
	uint32_t slot_size;
	uint32_t req_size;
	uint32_t rsp_size;
};

#define PVRING_LAYOUT(req_type, rsp_type)                                                          \
	((struct pvring_layout){                                                                   \
		.slot_size = sizeof(union {                                                        \
			req_type req;                                                              \
			rsp_type rsp;                                                              \
		}),                                                                                \
		.req_size = sizeof(req_type),                                                      \
		.rsp_size = sizeof(rsp_type),                                                      \
	})

enum pvring_fault {
	PVRING_FAULT_NONE = 0,
	/* req_prod is more than the ring size ahead of the responses produced */
	PVRING_FAULT_REQ_PROD_AHEAD,
	/* req_prod moved back behind requests already consumed */
	PVRING_FAULT_REQ_PROD_BEHIND,
	/* rsp_prod is beyond the requests outstanding (or moved back) */
	PVRING_FAULT_RSP_PROD_AHEAD,
};

/* What both ends know of the ring's shape; private to the owning end. */
struct pvring_shape {
	struct pvring_sring *sring;
	uint32_t nr_slots;
	uint32_t slot_size;
	uint32_t req_size;
	uint32_t rsp_size;
	enum pvring_fault fault;
	uint32_t fault_prod; /* the producer index that was refused */
};

struct pvring_front {
	struct pvring_shape shape;
	uint32_t req_prod_pvt; /* requests produced, published or not */
	uint32_t req_pushed; /* req_prod at the last notification check */
	uint32_t req_published; /* req_prod as this end last stored it */
	uint32_t rsp_cons; /* responses consumed */
	uint32_t rsp_seen; /* rsp_prod as last read and validated */
};

struct pvring_back {
	struct pvring_shape shape;
	uint32_t rsp_prod_pvt; /* responses produced, published or not */
	uint32_t rsp_pushed; /* rsp_prod at the last notification check */
	uint32_t req_cons; /* requests consumed */
	uint32_t req_seen; /* req_prod as last read and validated */
};

/* Slots in a ring of 2^order pages, or 0 if order or slot size is unusable. */
uint32_t pvring_nr_slots(unsigned int order, uint32_t slot_size);

/*
 * Front end: initialise the shared header (indices at start, event indices at
 * start + 1, padding zeroed) and attach to it. start is 0 for a new ring; tests
 * use values near 2^32. False if order or layout is unusable.
 */
bool pvring_front_init(struct pvring_front *front, void *shared, unsigned int order,
		       const struct pvring_layout *layout, uint32_t start);

/*
 * Back end: attach to a ring the front end initialised. The start index is
 * the published rsp_prod: every request after it is unconsumed.
 */
bool pvring_back_attach(struct pvring_back *back, void *shared, unsigned int order,
			const struct pvring_layout *layout);
/*
 * Back end: take on a ring an earlier back end served and left with requests owed: everything
 * before req_cons was consumed by it, so only what follows is read from the slots. The
 * requests owed (req_cons - rsp_prod of them) are the caller's to answer first.
 */
bool pvring_back_attach_at(struct pvring_back *back, void *shared, unsigned int order,
			   const struct pvring_layout *layout, uint32_t req_cons);

/* A one-line description of a fault, for logs. */
const char *pvring_fault_str(enum pvring_fault fault);

/*
 * Test instrumentation: runs inside a final check, between the consumer's last
 * look for work and its re-arming of the event index, which is where the lost
 * wake-up race lives. Empty unless a test defines it before including this
 * header.
 */
#ifndef PVRING_FINAL_CHECK_RACE_HOOK
#define PVRING_FINAL_CHECK_RACE_HOOK(end)                                                          \
	do {                                                                                       \
	} while (0)
#endif

/* ---- fast path: inline, shared by both ends ---- */

static inline uint8_t *pvring__slot(const struct pvring_shape *shape, uint32_t idx)
{
	return shape->sring->slots + (size_t)(idx & (shape->nr_slots - 1)) * shape->slot_size;
}

/*
 * Copy one element. Requests and responses are small and a whole number of
 * 64-bit words (blkif: 112 and 16 bytes): copy those inline, word by word,
 * instead of calling memcpy with a size the compiler cannot see.
 */
static inline void pvring__copy_elem(uint8_t *to, const uint8_t *from, uint32_t size)
{
	uint32_t off;

	if ((size & 7) == 0 && size <= 256) {
		for (off = 0; off < size; off += 8)
			memcpy(to + off, from + off, 8);
	} else {
		memcpy(to, from, size);
	}
}

/* Copy n elements of elem_size bytes into the slots from index idx on. */
static inline void pvring__copy_to_slots(const struct pvring_shape *shape, uint32_t idx,
					 const void *src, uint32_t n, uint32_t elem_size)
{
	const uint8_t *from = (const uint8_t *)src;
	uint32_t i;

	if (n == 0)
		return;
	if (elem_size == shape->slot_size) {
		uint32_t first = shape->nr_slots - (idx & (shape->nr_slots - 1));

		if (first > n)
			first = n;
		memcpy(pvring__slot(shape, idx), from, (size_t)first * elem_size);
		if (n > first)
			memcpy(pvring__slot(shape, 0), from + (size_t)first * elem_size,
			       (size_t)(n - first) * elem_size);
		return;
	}
	for (i = 0; i < n; i++)
		pvring__copy_elem(pvring__slot(shape, idx + i), from + (size_t)i * elem_size,
				  elem_size);
}

/*
 * Copy n elements out of the slots from index idx on, exactly once: the
 * compiler barrier stops the compiler from replacing later reads of the copy
 * with reads of shared memory, which the peer may have changed (XSA-155).
 */
static inline void pvring__copy_from_slots(const struct pvring_shape *shape, uint32_t idx,
					   void *dst, uint32_t n, uint32_t elem_size)
{
	uint8_t *to = (uint8_t *)dst;
	uint32_t i;

	if (n == 0)
		return;
	if (elem_size == shape->slot_size) {
		uint32_t first = shape->nr_slots - (idx & (shape->nr_slots - 1));

		if (first > n)
			first = n;
		memcpy(to, pvring__slot(shape, idx), (size_t)first * elem_size);
		if (n > first)
			memcpy(to + (size_t)first * elem_size, pvring__slot(shape, 0),
			       (size_t)(n - first) * elem_size);
	} else {
		for (i = 0; i < n; i++)
			pvring__copy_elem(to + (size_t)i * elem_size, pvring__slot(shape, idx + i),
					  elem_size);
	}
	pvring_compiler_barrier();
}

/*
 * Publish a producer index moving from *pushed to new_prod and say whether the
 * peer asked to be kicked: its event index lies in (old, new].
 */
static inline bool pvring__push(uint32_t *shared_prod, uint32_t *shared_event, uint32_t *pushed,
				uint32_t new_prod)
{
	uint32_t old_prod = *pushed;
	uint32_t event;

	if (new_prod == old_prod)
		return false;
	*pushed = new_prod;
	/*
	 * Release: the slots written above are seen before the new producer
	 * index. Full barrier: the peer sees the producer index before we read
	 * its event index; pairs with the barrier in the peer's final check,
	 * between its store of the event index and its re-read of ours.
	 */
	pvring_store_mb(shared_prod, new_prod);
	event = pvring_load_sc(shared_event);
	return (uint32_t)(new_prod - event) < (uint32_t)(new_prod - old_prod);
}

static inline void pvring__fault(struct pvring_shape *shape, enum pvring_fault fault, uint32_t prod)
{
	shape->fault = fault;
	shape->fault_prod = prod;
}

/*
 * Copy n elements into the slots at *prod_pvt. A large batch is published as
 * it goes, every PVRING_PUBLISH_STRIDE elements, so the peer can start on the
 * first ones while the rest are copied in; the push publishes the last part.
 * published (NULL if the end has no use for it) follows what was stored.
 */
static inline void pvring__produce(const struct pvring_shape *shape, uint32_t *prod_pvt,
				   uint32_t *published, uint32_t *shared_prod, const void *src,
				   uint32_t n, uint32_t elem_size)
{
	const uint8_t *from = (const uint8_t *)src;

	while (n > PVRING_PUBLISH_STRIDE) {
		pvring__copy_to_slots(shape, *prod_pvt, from, PVRING_PUBLISH_STRIDE, elem_size);
		from += (size_t)PVRING_PUBLISH_STRIDE * elem_size;
		n -= PVRING_PUBLISH_STRIDE;
		*prod_pvt += PVRING_PUBLISH_STRIDE;
		if (published)
			*published = *prod_pvt;
		/* The slots are seen before the producer index that publishes them. */
		pvring_store_release(shared_prod, *prod_pvt);
	}
	pvring__copy_to_slots(shape, *prod_pvt, from, n, elem_size);
	*prod_pvt += n;
}

/* Publish without the notification check, for a peer known to be polling. */
static inline void pvring__publish(uint32_t *shared_prod, uint32_t *pushed, uint32_t *published,
				   uint32_t prod_pvt)
{
	*pushed = prod_pvt;
	if (published)
		*published = prod_pvt;
	/* The slots are seen before the producer index that publishes them. */
	pvring_store_release(shared_prod, prod_pvt);
}

/* Copy n validated elements out from *cons on, and move past them. */
static inline uint32_t pvring__take(const struct pvring_shape *shape, uint32_t *cons, void *dst,
				    uint32_t n, uint32_t elem_size)
{
	pvring__copy_from_slots(shape, *cons, dst, n, elem_size);
	*cons += n;
	return n;
}

/* x86's line size; elsewhere a prefetch per 64 bytes is at worst one too many. */
#define PVRING_CACHE_LINE 64u

/*
 * For a consumer polling a producer index: ask for the lines of the slot the next message will
 * be in, len bytes of slot idx. The producer writes the slot before it publishes the index, so a
 * prefetch issued after its slot stores landed brings the slot over while the index is still on
 * its way, and the copy out finds it here: the two cross-CPU misses a message costs overlap
 * instead of following each other. A prefetch that comes too early only makes the producer's
 * stores take the line back, which they had to do anyway: this end used the line last (it read
 * the request there, or wrote the response it is answering). Only a hint: nothing read here is
 * used. Measured with pvring-io at QD1 on two CPUs 420 ns apart: about 300 ns less a request.
 */
static inline void pvring__prefetch_slot(const struct pvring_shape *shape, uint32_t idx,
					 uint32_t len)
{
	uintptr_t at = (uintptr_t)pvring__slot(shape, idx);
	uintptr_t end = at + len;

	for (at &= ~(uintptr_t)(PVRING_CACHE_LINE - 1); at < end; at += PVRING_CACHE_LINE)
		pvring_prefetch((const void *)at);
}

/* ---- front end ---- */

static inline uint32_t pvring_front_nr_slots(const struct pvring_front *front)
{
	return front->shape.nr_slots;
}

static inline enum pvring_fault pvring_front_fault(const struct pvring_front *front)
{
	return front->shape.fault;
}

/* Slots free for new requests. */
static inline uint32_t pvring_front_free(const struct pvring_front *front)
{
	return front->shape.nr_slots - (front->req_prod_pvt - front->rsp_cons);
}

/* Copy up to n requests into the ring; returns how many fitted. */
static inline uint32_t pvring_front_produce_batch(struct pvring_front *front, const void *reqs,
						  uint32_t n)
{
	uint32_t room = pvring_front_free(front);

	if (n > room)
		n = room;
	pvring__produce(&front->shape, &front->req_prod_pvt, &front->req_published,
			&front->shape.sring->req_prod, reqs, n, front->shape.req_size);
	return n;
}

static inline bool pvring_front_produce(struct pvring_front *front, const void *req)
{
	return pvring_front_produce_batch(front, req, 1) == 1;
}

/* Publish produced requests; true if the back end must be kicked. */
static inline bool pvring_front_push(struct pvring_front *front)
{
	struct pvring_sring *sring = front->shape.sring;

	front->req_published = front->req_prod_pvt;
	return pvring__push(&sring->req_prod, &sring->req_event, &front->req_pushed,
			    front->req_prod_pvt);
}

/*
 * Publish produced requests without the notification check, for a back end
 * known to be polling (it never sleeps, so it never needs a kick).
 */
static inline void pvring_front_publish(struct pvring_front *front)
{
	pvring__publish(&front->shape.sring->req_prod, &front->req_pushed, &front->req_published,
			front->req_prod_pvt);
}

static inline uint32_t pvring__front_accept(struct pvring_front *front, uint32_t prod)
{
	/* At most the responses to requests published and not yet answered. */
	if (pvring_unlikely((uint32_t)(prod - front->rsp_cons) >
			    (uint32_t)(front->req_published - front->rsp_cons))) {
		pvring__fault(&front->shape, PVRING_FAULT_RSP_PROD_AHEAD, prod);
		return 0;
	}
	front->rsp_seen = prod;
	return prod - front->rsp_cons;
}

/* Responses published and not yet consumed (reads rsp_prod). */
static inline uint32_t pvring_front_unconsumed(struct pvring_front *front)
{
	if (pvring_unlikely(front->shape.fault))
		return 0;
	/* Acquire: the response slots are read only after rsp_prod. */
	return pvring__front_accept(front, pvring_load_acquire(&front->shape.sring->rsp_prod));
}

/*
 * pvring_front_unconsumed() for a busy-polling loop: while there is nothing, it prefetches the
 * slot of the next response (see pvring__prefetch_slot()).
 */
static inline uint32_t pvring_front_poll(struct pvring_front *front)
{
	uint32_t n = pvring_front_unconsumed(front);

	if (!n)
		pvring__prefetch_slot(&front->shape, front->rsp_cons, front->shape.rsp_size);
	return n;
}

/* Copy up to max responses out of the ring; returns how many. */
static inline uint32_t pvring_front_consume_batch(struct pvring_front *front, void *rsps,
						  uint32_t max)
{
	uint32_t avail;

	if (pvring_unlikely(front->shape.fault))
		return 0;
	avail = front->rsp_seen - front->rsp_cons;
	if (avail == 0)
		avail = pvring_front_unconsumed(front);
	return pvring__take(&front->shape, &front->rsp_cons, rsps, max < avail ? max : avail,
			    front->shape.rsp_size);
}

static inline bool pvring_front_consume(struct pvring_front *front, void *rsp)
{
	return pvring_front_consume_batch(front, rsp, 1) == 1;
}

/*
 * Call when out of responses, before sleeping: true if there is work after
 * all. Otherwise rsp_event is armed and the back end will kick us, unless the
 * ring is faulted (pvring_front_fault()): then the peer must be disconnected.
 */
static inline bool pvring_front_final_check(struct pvring_front *front)
{
	struct pvring_sring *sring = front->shape.sring;

	if (pvring_unlikely(front->shape.fault))
		return false;
	if (front->rsp_seen != front->rsp_cons || pvring_front_unconsumed(front))
		return true;
	if (front->shape.fault)
		return false;
	PVRING_FINAL_CHECK_RACE_HOOK(front);
	/*
	 * Full barrier: the back end sees rsp_event before we re-read rsp_prod;
	 * pairs with the barrier in its push, between rsp_prod and rsp_event.
	 */
	pvring_store_mb(&sring->rsp_event, front->rsp_cons + 1);
	return pvring__front_accept(front, pvring_load_sc(&sring->rsp_prod)) != 0;
}

/*
 * The front end polls the ring for responses instead of sleeping: the back end need not kick it
 * meanwhile. As pvring_back_poll_begin(): rsp_event half the index space away from anything
 * consumed, outside every (old, new] range a back end can push. Call it again after each poll
 * that consumed responses (the mark must stay ahead of the consumer); pvring_front_final_check()
 * re-arms the kick. No ordering needed: a back end that still sees the old value kicks, which
 * costs an interrupt and nothing else.
 */
static inline void pvring_front_poll_begin(struct pvring_front *front)
{
	pvring_store_relaxed(&front->shape.sring->rsp_event, front->rsp_cons + 0x80000000u);
}

/* ---- back end ---- */

static inline uint32_t pvring_back_nr_slots(const struct pvring_back *back)
{
	return back->shape.nr_slots;
}

static inline enum pvring_fault pvring_back_fault(const struct pvring_back *back)
{
	return back->shape.fault;
}

/* A back end's view of its ring for people (pvringctl, debugfs), not for the data path. */
struct pvring_back_state {
	uint32_t nr_slots;
	uint32_t req_prod, req_event, rsp_prod, rsp_event; /* the shared page, as loaded now */
	uint32_t req_cons, rsp_prod_pvt; /* the back end's own */
	enum pvring_fault fault;
	uint32_t fault_prod; /* the producer index refused, if fault */
};

/*
 * Fill s. The shared indices are loaded once each, relaxed: a front end may move them while
 * they are read, and nothing here orders anything, so the four are not one instant's values.
 */
static inline void pvring_back_state(const struct pvring_back *back, struct pvring_back_state *s)
{
	struct pvring_sring *sring = back->shape.sring;

	s->nr_slots = back->shape.nr_slots;
	s->req_prod = pvring_load_relaxed(&sring->req_prod);
	s->req_event = pvring_load_relaxed(&sring->req_event);
	s->rsp_prod = pvring_load_relaxed(&sring->rsp_prod);
	s->rsp_event = pvring_load_relaxed(&sring->rsp_event);
	s->req_cons = back->req_cons;
	s->rsp_prod_pvt = back->rsp_prod_pvt;
	s->fault = back->shape.fault;
	s->fault_prod = back->shape.fault_prod;
}

/* Requests consumed and not yet answered. */
static inline uint32_t pvring_back_owed(const struct pvring_back *back)
{
	return back->req_cons - back->rsp_prod_pvt;
}

static inline uint32_t pvring__back_accept(struct pvring_back *back, uint32_t prod)
{
	uint32_t outstanding = prod - back->rsp_prod_pvt;

	/* A front end can have at most one request per slot unanswered... */
	if (pvring_unlikely(outstanding > back->shape.nr_slots)) {
		pvring__fault(&back->shape, PVRING_FAULT_REQ_PROD_AHEAD, prod);
		return 0;
	}
	/* ...and cannot take back a request we already consumed. */
	if (pvring_unlikely(outstanding < pvring_back_owed(back))) {
		pvring__fault(&back->shape, PVRING_FAULT_REQ_PROD_BEHIND, prod);
		return 0;
	}
	back->req_seen = prod;
	return prod - back->req_cons;
}

/* Requests published and not yet consumed (reads req_prod). */
static inline uint32_t pvring_back_unconsumed(struct pvring_back *back)
{
	if (pvring_unlikely(back->shape.fault))
		return 0;
	/* Acquire: the request slots are read only after req_prod. */
	return pvring__back_accept(back, pvring_load_acquire(&back->shape.sring->req_prod));
}

/*
 * pvring_back_unconsumed() for a busy-polling loop: while there is nothing, it prefetches the
 * slot of the next request (see pvring__prefetch_slot()).
 */
static inline uint32_t pvring_back_poll(struct pvring_back *back)
{
	uint32_t n = pvring_back_unconsumed(back);

	if (!n)
		pvring__prefetch_slot(&back->shape, back->req_cons, back->shape.req_size);
	return n;
}

/* Copy up to max requests out of the ring; returns how many. */
static inline uint32_t pvring_back_consume_batch(struct pvring_back *back, void *reqs, uint32_t max)
{
	uint32_t avail;

	if (pvring_unlikely(back->shape.fault))
		return 0;
	avail = back->req_seen - back->req_cons;
	if (avail == 0)
		avail = pvring_back_unconsumed(back);
	return pvring__take(&back->shape, &back->req_cons, reqs, max < avail ? max : avail,
			    back->shape.req_size);
}

static inline bool pvring_back_consume(struct pvring_back *back, void *req)
{
	return pvring_back_consume_batch(back, req, 1) == 1;
}

/*
 * Copy up to n responses into the ring; returns how many: never more than the
 * requests consumed and not yet answered, so responses never overrun requests.
 */
static inline uint32_t pvring_back_produce_batch(struct pvring_back *back, const void *rsps,
						 uint32_t n)
{
	uint32_t owed = pvring_back_owed(back);

	if (n > owed)
		n = owed;
	/* Only the front end validates against what it published: the back end keeps no copy. */
	pvring__produce(&back->shape, &back->rsp_prod_pvt, NULL, &back->shape.sring->rsp_prod, rsps,
			n, back->shape.rsp_size);
	return n;
}

static inline bool pvring_back_produce(struct pvring_back *back, const void *rsp)
{
	return pvring_back_produce_batch(back, rsp, 1) == 1;
}

/* Publish produced responses; true if the front end must be kicked. */
static inline bool pvring_back_push(struct pvring_back *back)
{
	struct pvring_sring *sring = back->shape.sring;

	return pvring__push(&sring->rsp_prod, &sring->rsp_event, &back->rsp_pushed,
			    back->rsp_prod_pvt);
}

/* Publish produced responses without the check, for a polling front end. */
static inline void pvring_back_publish(struct pvring_back *back)
{
	pvring__publish(&back->shape.sring->rsp_prod, &back->rsp_pushed, NULL, back->rsp_prod_pvt);
}

/*
 * The back end polls the ring for a while instead of sleeping: the front end
 * need not kick it meanwhile. Kicks are deferred, not lost: a back end that
 * stops polling calls pvring_back_final_check() before it sleeps, which
 * re-arms req_event and looks once more.
 */
static inline void pvring_back_poll_begin(struct pvring_back *back)
{
	/*
	 * Half the index space away from anything consumed: outside every
	 * (old, new] range a front end can push, so its push never kicks. No
	 * ordering needed: a front end that still sees the old value kicks,
	 * which costs a wake-up and nothing else.
	 */
	pvring_store_relaxed(&back->shape.sring->req_event, back->req_cons + 0x80000000u);
}

/*
 * Call when out of requests, before sleeping: true if there is work after all.
 * Otherwise req_event is armed and the front end will kick us, unless the ring
 * is faulted (pvring_back_fault()): then the peer must be disconnected.
 */
static inline bool pvring_back_final_check(struct pvring_back *back)
{
	struct pvring_sring *sring = back->shape.sring;

	if (pvring_unlikely(back->shape.fault))
		return false;
	if (back->req_seen != back->req_cons || pvring_back_unconsumed(back))
		return true;
	if (back->shape.fault)
		return false;
	PVRING_FINAL_CHECK_RACE_HOOK(back);
	/*
	 * Full barrier: the front end sees req_event before we re-read
	 * req_prod; pairs with the barrier in its push, between req_prod and
	 * req_event.
	 */
	pvring_store_mb(&sring->req_event, back->req_cons + 1);
	return pvring__back_accept(back, pvring_load_sc(&sring->req_prod)) != 0;
}

#endif /* PVRING_RING_H */
