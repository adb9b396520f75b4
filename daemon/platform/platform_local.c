// SPDX-License-Identifier: MIT
/*
 * The platform layer on one plain Linux machine. The guests (frontend processes) are the local
 * hypervisor's, in pvring-stored (local_hypervisor.h), not pvringd's: pvringd reaches them as a
 * back end over the hypervisor's socket (local_hypercall.h), maps a guest's grants in its
 * memory through local_gnttab, and rings its doorbells through local_evtchn. The store is
 * pvring-stored too, reached with libxenstore. pvringd can stop, crash or be restarted: the
 * guests live on, and the next pvringd finds them as it would on Xen.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "daemon/log.h"
#include "local_evtchn.h"
#include "local_gnttab.h"
#include "local_hypercall.h"
#include "platform.h"
#include "platform_local.h"

/*
 * A guest's memory as this back end sees it: fetched from the hypervisor when first mapped,
 * let go of (and the hypervisor's hold put back) when the last mapping is undone.
 */
struct local_domain {
	struct local_domain *next;
	uint32_t domid;
	/*
	 * The hypervisor connection it was fetched over. Once that is not the current one
	 * (pvring-stored restarted), its domain id may be another guest's: it is mapped from no
	 * more, and a map of that id is refused until what is mapped is undone, so that a ring of
	 * the old guest never maps the new one.
	 */
	uint32_t generation;
	struct pvring_local_gnttab gt;
	uint32_t mappings; /* outstanding maps */
};

struct local_platform {
	struct pvring_platform base;
	char hypervisor_path[108];
	struct pvring_local_hv hv;
	/* Where the handles' ports come from: the hypervisor. */
	struct pvring_local_evtchn_source ports;
	/*
	 * The domain list, each domain's mappings and its grant table's pin counts: maps and
	 * unmaps come from the data plane's threads and the main thread.
	 */
	pthread_mutex_t lock;
	struct local_domain *domains;
};

/* One user's event channels: a local_evtchn handle on the hypervisor's ports. */
struct local_evtchn_handle {
	struct pvring_evtchn base;
	struct pvring_local_evtchn h;
};

static struct local_platform *local_of(struct pvring_platform *p)
{
	return (struct local_platform *)p;
}

/* With lp->lock held. */
static struct local_domain *find_domain(struct local_platform *lp, uint32_t domid)
{
	struct local_domain *d;

	for (d = lp->domains; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

/* With lp->lock held: out of the list; the caller frees it outside the lock. */
static void unlink_domain(struct local_platform *lp, struct local_domain *d)
{
	struct local_domain **link;

	for (link = &lp->domains; *link != d; link = &(*link)->next)
		;
	*link = d->next;
}

/* Nothing of it is mapped any more: unmapped, and the hypervisor's hold put back. */
static void domain_free(struct local_platform *lp, struct local_domain *d)
{
	pvring_local_gnttab_close(&d->gt);
	pvring_local_hv_put(&lp->hv, d->domid, d->generation);
	free(d);
}

/*
 * The domain to map from, with lp->lock held on return and a mapping counted for it; NULL
 * with *why set and the lock not held. A domain not mapped yet is fetched from the
 * hypervisor, without the lock: another thread's maps of other domains never wait for it.
 */
static struct local_domain *get_domain(struct local_platform *lp, uint32_t domid, int *err,
				       const char **why)
{
	struct local_domain *d, *fetched;
	uint32_t nr_frames, table_frames, generation;
	int memfd;

	pthread_mutex_lock(&lp->lock);
	d = find_domain(lp, domid);
	if (d && d->generation != pvring_local_hv_generation(&lp->hv)) {
		pthread_mutex_unlock(&lp->lock);
		*err = -ENOENT;
		*why = "the domain is gone (the local hypervisor was restarted)";
		return NULL;
	}
	if (d)
		return d;
	pthread_mutex_unlock(&lp->lock);
	*err = pvring_local_hv_domain(&lp->hv, domid, &memfd, &nr_frames, &table_frames,
				      &generation, why);
	if (*err)
		return NULL;
	fetched = calloc(1, sizeof(*fetched));
	if (!fetched) {
		close(memfd);
		pvring_local_hv_put(&lp->hv, domid, generation);
		*err = -ENOMEM;
		*why = "out of memory";
		return NULL;
	}
	fetched->domid = domid;
	fetched->generation = generation;
	*err = pvring_local_gnttab_open(&fetched->gt, (uint16_t)domid, 0, memfd, nr_frames,
					table_frames, why);
	if (*err) {
		close(memfd);
		free(fetched);
		pvring_local_hv_put(&lp->hv, domid, generation);
		return NULL;
	}
	pthread_mutex_lock(&lp->lock);
	d = find_domain(lp, domid);
	if (d || generation != pvring_local_hv_generation(&lp->hv)) {
		/* Another thread fetched it meanwhile (theirs serves), or pvring-stored restarted.
		 */
		pthread_mutex_unlock(&lp->lock);
		domain_free(lp, fetched);
		return get_domain(lp, domid, err, why);
	}
	fetched->next = lp->domains;
	lp->domains = fetched;
	return fetched;
}

/* With lp->lock held: the last mapping of a domain lets it go. Unlocks. */
static void put_domain(struct local_platform *lp, struct local_domain *d)
{
	if (d->mappings) {
		pthread_mutex_unlock(&lp->lock);
		return;
	}
	unlink_domain(lp, d);
	pthread_mutex_unlock(&lp->lock);
	domain_free(lp, d);
}

/* ---- platform operations ---- */

static void local_destroy(struct pvring_platform *p)
{
	struct local_platform *lp = local_of(p);

	/* Only this thread is left: what pvringd still had mapped goes with it. */
	while (lp->domains) {
		struct local_domain *d = lp->domains;

		lp->domains = d->next;
		domain_free(lp, d);
	}
	pvring_local_hv_destroy(&lp->hv);
	pthread_mutex_destroy(&lp->lock);
	if (p->store)
		xs_close(p->store);
	free(lp);
}

static int local_map(struct pvring_platform *p, uint32_t domid, uint32_t count,
		     const uint32_t *refs, bool writable, struct pvring_mapping *m,
		     const char **why)
{
	struct local_platform *lp = local_of(p);
	struct local_domain *d;
	void *addr;
	int err;

	d = get_domain(lp, domid, &err, why);
	if (!d)
		return err;
	if (count == 1)
		addr = pvring_local_gnttab_map(&d->gt, refs[0], writable, why);
	else
		addr = pvring_local_gnttab_map_many(&d->gt, count, refs, writable, why);
	if (!addr) {
		put_domain(lp, d);
		return -EACCES;
	}
	d->mappings++;
	pthread_mutex_unlock(&lp->lock);
	*m = (struct pvring_mapping){
		.addr = addr, .count = count, .writable = writable, .owner = d, .refs = refs
	};
	return 0;
}

static int local_map_pages(struct pvring_platform *p, uint32_t domid, uint32_t count,
			   const uint32_t *refs, bool writable, void **pages,
			   struct pvring_mapping *m, const char **why)
{
	struct local_platform *lp = local_of(p);
	struct local_domain *d;
	int err;

	d = get_domain(lp, domid, &err, why);
	if (!d)
		return err;
	if (pvring_local_gnttab_map_pages(&d->gt, count, refs, writable, pages, why)) {
		put_domain(lp, d);
		return -EACCES;
	}
	d->mappings++;
	pthread_mutex_unlock(&lp->lock);
	*m = (struct pvring_mapping){ .addr = pages[0],
				      .count = count,
				      .writable = writable,
				      .paged = true,
				      .owner = d,
				      .refs = refs };
	return 0;
}

static void local_unmap(struct pvring_platform *p, struct pvring_mapping *m)
{
	struct local_platform *lp = local_of(p);
	/* The mapping pins its domain: it cannot have been freed. */
	struct local_domain *d = m->owner;

	pthread_mutex_lock(&lp->lock);
	if (m->paged)
		pvring_local_gnttab_unmap_pages(&d->gt, m->count, m->refs, m->writable);
	else if (m->count == 1)
		pvring_local_gnttab_unmap(&d->gt, m->refs[0], m->writable);
	else
		pvring_local_gnttab_unmap_many(&d->gt, m->addr, m->count, m->refs, m->writable);
	d->mappings--;
	put_domain(lp, d);
}

static struct pvring_local_evtchn *handle_of(const struct pvring_evtchn *e)
{
	return &((struct local_evtchn_handle *)e)->h;
}

static void local_evtchn_close(struct pvring_evtchn *e)
{
	pvring_local_evtchn_close(handle_of(e));
	free(e);
}

static int local_evtchn_fd(const struct pvring_evtchn *e)
{
	return pvring_local_evtchn_fd(handle_of(e));
}

static int local_evtchn_bind(struct pvring_evtchn *e, uint32_t domid, uint32_t remote_port)
{
	return pvring_local_evtchn_bind_interdomain(handle_of(e), domid, remote_port);
}

static int local_evtchn_unbind(struct pvring_evtchn *e, uint32_t port)
{
	return pvring_local_evtchn_unbind(handle_of(e), port);
}

static int local_evtchn_notify(struct pvring_evtchn *e, uint32_t port)
{
	return pvring_local_evtchn_notify(handle_of(e), port);
}

static int local_evtchn_pending(struct pvring_evtchn *e)
{
	return pvring_local_evtchn_pending(handle_of(e));
}

static int local_evtchn_unmask(struct pvring_evtchn *e, uint32_t port)
{
	return pvring_local_evtchn_unmask(handle_of(e), port);
}

static const struct pvring_evtchn_ops local_evtchn_ops = {
	.close = local_evtchn_close,
	.fd = local_evtchn_fd,
	.bind = local_evtchn_bind,
	.unbind = local_evtchn_unbind,
	.notify = local_evtchn_notify,
	.pending = local_evtchn_pending,
	.unmask = local_evtchn_unmask,
};

static struct pvring_evtchn *local_evtchn_open(struct pvring_platform *p, const char **why)
{
	struct local_evtchn_handle *e = calloc(1, sizeof(*e));

	if (!e || pvring_local_evtchn_open(&e->h, &local_of(p)->ports)) {
		*why = "cannot create an event channel set";
		free(e);
		return NULL;
	}
	e->base.ops = &local_evtchn_ops;
	return &e->base;
}

/*
 * pvring-stored was restarted: the hypervisor in it too, and every guest with it (their
 * registry connections closed). Connect to the new one: what was fetched or bound over the
 * old connection is of another generation from then on (its domain ids and ports will be
 * handed out again), kept only until it is undone, and never given back to the new one.
 */
static void local_store_reconnected(struct pvring_platform *p)
{
	struct local_platform *lp = local_of(p);
	const char *why = NULL;
	int err;

	err = pvring_local_hv_connect(&lp->hv, lp->hypervisor_path, &why);
	if (err)
		pvring_err("local: cannot connect to the restarted hypervisor at %s: %s (%s)",
			   lp->hypervisor_path, why, strerror(-err));
	else
		pvring_info("local: connected to the restarted hypervisor");
}

static const struct pvring_platform_ops local_ops = {
	.name = "local",
	.destroy = local_destroy,
	.map = local_map,
	.map_pages = local_map_pages,
	.unmap = local_unmap,
	.evtchn_open = local_evtchn_open,
	.store_reconnected = local_store_reconnected,
};

static int hv_bind(void *ctx, uint32_t domid, uint32_t port, int *kick_back, int *kick_front,
		   uint32_t *generation)
{
	return pvring_local_hv_bind(ctx, domid, port, kick_back, kick_front, generation);
}

static void hv_unbind(void *ctx, uint32_t domid, uint32_t port, uint32_t generation)
{
	pvring_local_hv_unbind(ctx, domid, port, generation);
}

struct pvring_platform *pvring_platform_local_open(const char *store_rundir, const char **why)
{
	static char refusal[96]; /* opened once, on the main thread */
	struct local_platform *lp = calloc(1, sizeof(*lp));
	char store_socket[PATH_MAX];
	int err;

	if (!lp) {
		*why = "out of memory";
		return NULL;
	}
	lp->base.ops = &local_ops;
	pthread_mutex_init(&lp->lock, NULL);
	pvring_local_hv_init(&lp->hv);
	lp->ports = (struct pvring_local_evtchn_source){
		.bind = hv_bind, .unbind = hv_unbind, .ctx = &lp->hv, .next_port = 1
	};
	if (snprintf(lp->hypervisor_path, sizeof(lp->hypervisor_path), "%s/hypervisor",
		     store_rundir) >= (int)sizeof(lp->hypervisor_path) ||
	    snprintf(store_socket, sizeof(store_socket), "%s/socket", store_rundir) >=
		    (int)sizeof(store_socket)) {
		*why = "store directory path too long (sockets need short paths)";
		goto fail;
	}
	setenv("XENSTORED_PATH", store_socket, 1);
	lp->base.store_flags = XS_OPEN_SOCKETONLY;
	lp->base.store = xs_open(lp->base.store_flags);
	if (!lp->base.store) {
		*why = "cannot reach the local store (is pvring-stored running?)";
		goto fail;
	}
	/* One back end at a time: a second pvringd on the same store is refused here. */
	err = pvring_local_hv_connect(&lp->hv, lp->hypervisor_path, why);
	if (err) {
		/* The reason is the connection's, which goes with lp: keep a copy. */
		snprintf(refusal, sizeof(refusal), "%s", *why);
		*why = refusal;
		local_destroy(&lp->base);
		errno = -err;
		return NULL;
	}
	return &lp->base;
fail:
	local_destroy(&lp->base);
	return NULL;
}
