/* SPDX-License-Identifier: MIT */
/*
 * The platform layer: where pvringd's memory and doorbells come from. Nothing
 * above it knows whether it runs in a real dom0 (xen: libxengnttab,
 * libxenevtchn) or on one plain Linux machine (local: memfd guest memory,
 * eventfd doorbells). The store is libxenstore on both (the local one is
 * pvring-stored), reached through pvring_platform_store().
 *
 * Semantics are Xen's throughout:
 *  - pvring_map() maps count refs granted by domid at consecutive addresses,
 *    all or nothing; a writable map of a read-only or absent grant fails. The
 *    mapping it fills is what pvring_unmap() takes back. pvring_map_pages()
 *    is the same for users that take the pages one by one (I/O vectors);
 *  - an event-channel handle is one user's: its own descriptor, readable when
 *    a port bound on it fired; pvring_evtchn_pending() names one and leaves it
 *    masked until pvring_evtchn_unmask(). Local port numbers are unique across
 *    the handles of one platform, as a dom0's are.
 *
 * Threads: pvring_map/pvring_unmap and pvring_evtchn_open/close/bind/unbind
 * from any thread; a handle's fd, pending, unmask and notify from the thread
 * that waits on its descriptor; the store and destroy from the main thread.
 */
#ifndef PVRING_PLATFORM_H
#define PVRING_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ring/pvring_ring.h" /* PVRING_PAGE_SIZE */

struct xs_handle;
struct pvring_platform;
struct pvring_evtchn;

/*
 * Granted pages mapped: filled by pvring_map(), handed back to pvring_unmap().
 * addr, count and writable are the caller's to read; the rest is the
 * platform's. The refs given to pvring_map() must stay unchanged until the
 * unmap (the local platform unpins them one by one); no allocation per map.
 */
struct pvring_mapping {
	void *addr; /* count pages at consecutive addresses; NULL: nothing mapped */
	uint32_t count;
	bool writable;
	bool paged; /* by a platform's own pvring_map_pages(): addr is page 0 only */
	void *owner; /* local: the domain the pages belong to */
	const uint32_t *refs;
};

struct pvring_platform_ops {
	const char *name;
	void (*destroy)(struct pvring_platform *p);
	int (*map)(struct pvring_platform *p, uint32_t domid, uint32_t count, const uint32_t *refs,
		   bool writable, struct pvring_mapping *m, const char **why);
	/* Optional: pvring_map_pages() without consecutive addresses (pvring_unmap() undoes it). */
	int (*map_pages)(struct pvring_platform *p, uint32_t domid, uint32_t count,
			 const uint32_t *refs, bool writable, void **pages,
			 struct pvring_mapping *m, const char **why);
	void (*unmap)(struct pvring_platform *p, struct pvring_mapping *m);
	struct pvring_evtchn *(*evtchn_open)(struct pvring_platform *p, const char **why);
	/*
	 * Optional, and only where the store can be restarted under a running back end: called
	 * once connected to a restarted store, to let go of what the old one stood for (local:
	 * the hypervisor restarted with it, and its guests went).
	 */
	void (*store_reconnected)(struct pvring_platform *p);
};

struct pvring_platform {
	const struct pvring_platform_ops *ops;
	struct xs_handle *store;
	unsigned long store_flags; /* how store was opened: xs_open's flags */
};

struct pvring_evtchn_ops {
	void (*close)(struct pvring_evtchn *e);
	int (*fd)(const struct pvring_evtchn *e);
	int (*bind)(struct pvring_evtchn *e, uint32_t domid, uint32_t remote_port);
	int (*unbind)(struct pvring_evtchn *e, uint32_t port);
	int (*notify)(struct pvring_evtchn *e, uint32_t port);
	int (*pending)(struct pvring_evtchn *e);
	int (*unmask)(struct pvring_evtchn *e, uint32_t port);
};

struct pvring_evtchn {
	const struct pvring_evtchn_ops *ops;
};

/*
 * The real dom0: opens the grant, event channel and store interfaces. NULL
 * with *why set (naming the device or socket that failed) when this is not a
 * Xen control domain.
 */
struct pvring_platform *pvring_platform_xen_open(const char **why);

static inline const char *pvring_platform_name(const struct pvring_platform *p)
{
	return p->ops->name;
}

static inline struct xs_handle *pvring_platform_store(const struct pvring_platform *p)
{
	return p->store;
}

static inline void pvring_platform_destroy(struct pvring_platform *p)
{
	p->ops->destroy(p);
}

/*
 * The store went away (it was restarted): a new connection in place of the old one, which is
 * closed, with its watches. 0, or -errno with the old one kept (nothing answers yet).
 */
int pvring_platform_store_reopen(struct pvring_platform *p);
/* Whether the store can be restarted under a running back end, which then connects again. */
bool pvring_platform_store_restartable(const struct pvring_platform *p);
/* Connected again to a restarted store (see store_reconnected). */
void pvring_platform_store_reconnected(struct pvring_platform *p);

/* 0 with m filled, or -errno with *why set. */
static inline int pvring_map(struct pvring_platform *p, uint32_t domid, uint32_t count,
			     const uint32_t *refs, bool writable, struct pvring_mapping *m,
			     const char **why)
{
	return p->ops->map(p, domid, count, refs, writable, m, why);
}

/*
 * pvring_map() for a user that takes the pages one by one: page i is at pages[i] (count
 * entries, filled for the caller to read; the mapping does not keep them), not necessarily
 * next to page i - 1. The local platform then only pins the grants and points into its view
 * of the guest's memory: no mmap, no page faults, and no TLB shootdown of every thread at the
 * unmap. Other platforms map the pages side by side. pvring_unmap() undoes it.
 */
static inline int pvring_map_pages(struct pvring_platform *p, uint32_t domid, uint32_t count,
				   const uint32_t *refs, bool writable, void **pages,
				   struct pvring_mapping *m, const char **why)
{
	uint32_t i;
	int err;

	if (p->ops->map_pages)
		return p->ops->map_pages(p, domid, count, refs, writable, pages, m, why);
	err = pvring_map(p, domid, count, refs, writable, m, why);
	if (err)
		return err;
	for (i = 0; i < count; i++)
		pages[i] = (uint8_t *)m->addr + (size_t)i * PVRING_PAGE_SIZE;
	return 0;
}

/* Undo a mapping; m is zeroed. Nothing happens for a zeroed mapping. */
static inline void pvring_unmap(struct pvring_platform *p, struct pvring_mapping *m)
{
	if (m->addr)
		p->ops->unmap(p, m);
	*m = (struct pvring_mapping){ 0 };
}

/* A new handle, or NULL with *why set. */
static inline struct pvring_evtchn *pvring_evtchn_open(struct pvring_platform *p, const char **why)
{
	return p->ops->evtchn_open(p, why);
}

/* Unbinds what is still bound. */
static inline void pvring_evtchn_close(struct pvring_evtchn *e)
{
	if (e)
		e->ops->close(e);
}

static inline int pvring_evtchn_fd(const struct pvring_evtchn *e)
{
	return e->ops->fd(e);
}

/* The local port, or a negative errno. */
static inline int pvring_evtchn_bind(struct pvring_evtchn *e, uint32_t domid, uint32_t remote_port)
{
	return e->ops->bind(e, domid, remote_port);
}

static inline int pvring_evtchn_unbind(struct pvring_evtchn *e, uint32_t port)
{
	return e->ops->unbind(e, port);
}

static inline int pvring_evtchn_notify(struct pvring_evtchn *e, uint32_t port)
{
	return e->ops->notify(e, port);
}

/* A port that fired, now masked; -EAGAIN if none. */
static inline int pvring_evtchn_pending(struct pvring_evtchn *e)
{
	return e->ops->pending(e);
}

static inline int pvring_evtchn_unmask(struct pvring_evtchn *e, uint32_t port)
{
	return e->ops->unmask(e, port);
}

#endif /* PVRING_PLATFORM_H */
