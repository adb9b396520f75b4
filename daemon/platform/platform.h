/* SPDX-License-Identifier: MIT */
/*
 * The platform layer: where pvringd's memory and doorbells come from. Nothing
 * above it knows whether it runs in a real dom0 (xen: libxengnttab,
 * libxenevtchn) or on one plain Linux machine (local: memfd guest memory,
 * eventfd doorbells). The store is libxenstore on both (the local one is
 * pvring-stored), reached through pvring_platform_store().
 *
 * Semantics are Xen's throughout:
 *  - map_grants maps count refs granted by domid at consecutive addresses,
 *    all or nothing; a writable map of a read-only or absent grant fails;
 *  - one descriptor (evtchn_fd) is readable when any bound port fired;
 *    evtchn_pending() names one and leaves it masked until evtchn_unmask().
 */
#ifndef PVRING_PLATFORM_H
#define PVRING_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

struct xs_handle;
struct pvring_platform;

struct pvring_platform_ops {
	const char *name;
	void (*destroy)(struct pvring_platform *p);
	void *(*map_grants)(struct pvring_platform *p, uint32_t domid, uint32_t count,
			    const uint32_t *refs, bool writable, const char **why);
	void (*unmap_grants)(struct pvring_platform *p, uint32_t domid, void *addr, uint32_t count,
			     const uint32_t *refs, bool writable);
	int (*evtchn_fd)(struct pvring_platform *p);
	int (*evtchn_bind)(struct pvring_platform *p, uint32_t domid, uint32_t remote_port);
	int (*evtchn_unbind)(struct pvring_platform *p, uint32_t port);
	int (*evtchn_notify)(struct pvring_platform *p, uint32_t port);
	int (*evtchn_pending)(struct pvring_platform *p);
	int (*evtchn_unmask)(struct pvring_platform *p, uint32_t port);
};

struct pvring_platform {
	const struct pvring_platform_ops *ops;
	struct xs_handle *store;
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

static inline void *pvring_map_grants(struct pvring_platform *p, uint32_t domid, uint32_t count,
				      const uint32_t *refs, bool writable, const char **why)
{
	return p->ops->map_grants(p, domid, count, refs, writable, why);
}

static inline void pvring_unmap_grants(struct pvring_platform *p, uint32_t domid, void *addr,
				       uint32_t count, const uint32_t *refs, bool writable)
{
	p->ops->unmap_grants(p, domid, addr, count, refs, writable);
}

static inline int pvring_evtchn_fd(struct pvring_platform *p)
{
	return p->ops->evtchn_fd(p);
}

/* The local port, or a negative errno. */
static inline int pvring_evtchn_bind(struct pvring_platform *p, uint32_t domid,
				     uint32_t remote_port)
{
	return p->ops->evtchn_bind(p, domid, remote_port);
}

static inline int pvring_evtchn_unbind(struct pvring_platform *p, uint32_t port)
{
	return p->ops->evtchn_unbind(p, port);
}

static inline int pvring_evtchn_notify(struct pvring_platform *p, uint32_t port)
{
	return p->ops->evtchn_notify(p, port);
}

/* A port that fired, now masked; -EAGAIN if none. */
static inline int pvring_evtchn_pending(struct pvring_platform *p)
{
	return p->ops->evtchn_pending(p);
}

static inline int pvring_evtchn_unmask(struct pvring_platform *p, uint32_t port)
{
	return p->ops->evtchn_unmask(p, port);
}

#endif /* PVRING_PLATFORM_H */
