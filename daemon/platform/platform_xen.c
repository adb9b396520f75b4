// SPDX-License-Identifier: MIT
/* The platform layer on a real Xen dom0: libxengnttab, libxenevtchn, libxenstore. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "platform.h"

struct xen_platform {
	struct pvring_platform base;
	xengnttab_handle *gnttab; /* gntdev locks in the kernel: shared by every thread */
};

/* One libxenevtchn handle per user: its own /dev/xen/evtchn file, its own ports. */
struct xen_evtchn {
	struct pvring_evtchn base;
	xenevtchn_handle *xce;
};

static struct xen_platform *xen_of(struct pvring_platform *p)
{
	return (struct xen_platform *)p;
}

static xenevtchn_handle *xce_of(const struct pvring_evtchn *e)
{
	return ((const struct xen_evtchn *)e)->xce;
}

static void xen_destroy(struct pvring_platform *p)
{
	struct xen_platform *x = xen_of(p);

	if (x->gnttab)
		xengnttab_close(x->gnttab);
	if (p->store)
		xs_close(p->store);
	free(x);
}

static int xen_map(struct pvring_platform *p, uint32_t domid, uint32_t count, const uint32_t *refs,
		   bool writable, struct pvring_mapping *m, const char **why)
{
	void *addr =
		xengnttab_map_domain_grant_refs(xen_of(p)->gnttab, count, domid, (uint32_t *)refs,
						PROT_READ | (writable ? PROT_WRITE : 0));

	if (!addr) {
		*why = "the hypervisor refused to map the grant references";
		return errno ? -errno : -EFAULT;
	}
	*m = (struct pvring_mapping){ .addr = addr, .count = count, .writable = writable };
	return 0;
}

static void xen_unmap(struct pvring_platform *p, struct pvring_mapping *m)
{
	xengnttab_unmap(xen_of(p)->gnttab, m->addr, m->count);
}

static void xen_evtchn_close(struct pvring_evtchn *e)
{
	xenevtchn_close(xce_of(e));
	free(e);
}

static int xen_evtchn_fd(const struct pvring_evtchn *e)
{
	return xenevtchn_fd(xce_of(e));
}

static int xen_evtchn_bind(struct pvring_evtchn *e, uint32_t domid, uint32_t remote_port)
{
	xenevtchn_port_or_error_t port = xenevtchn_bind_interdomain(xce_of(e), domid, remote_port);

	return port < 0 ? -errno : (int)port;
}

static int xen_evtchn_unbind(struct pvring_evtchn *e, uint32_t port)
{
	return xenevtchn_unbind(xce_of(e), port) ? -errno : 0;
}

static int xen_evtchn_notify(struct pvring_evtchn *e, uint32_t port)
{
	return xenevtchn_notify(xce_of(e), port) ? -errno : 0;
}

static int xen_evtchn_pending(struct pvring_evtchn *e)
{
	xenevtchn_port_or_error_t port = xenevtchn_pending(xce_of(e));

	if (port < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (int)port;
}

static int xen_evtchn_unmask(struct pvring_evtchn *e, uint32_t port)
{
	return xenevtchn_unmask(xce_of(e), port) ? -errno : 0;
}

static const struct pvring_evtchn_ops xen_evtchn_ops = {
	.close = xen_evtchn_close,
	.fd = xen_evtchn_fd,
	.bind = xen_evtchn_bind,
	.unbind = xen_evtchn_unbind,
	.notify = xen_evtchn_notify,
	.pending = xen_evtchn_pending,
	.unmask = xen_evtchn_unmask,
};

static struct pvring_evtchn *xen_evtchn_open(struct pvring_platform *p, const char **why)
{
	struct xen_evtchn *e = calloc(1, sizeof(*e));
	int flags;

	(void)p;
	if (!e) {
		*why = "out of memory";
		return NULL;
	}
	e->base.ops = &xen_evtchn_ops;
	/* Quiet: a failure is reported once, by *why, not by the library's logger. */
	e->xce = xenevtchn_open(NULL, 0);
	if (!e->xce) {
		*why = "cannot open the event channel device (/dev/xen/evtchn): xen-evtchn is not "
		       "loaded";
		free(e);
		return NULL;
	}
	/*
	 * libxenevtchn leaves its descriptor blocking; pvringd's loop calls
	 * xenevtchn_pending() whenever the descriptor polls readable and until it
	 * says "none", so a blocking read() there would hang the loop.
	 */
	flags = fcntl(xenevtchn_fd(e->xce), F_GETFL);
	if (flags < 0 || fcntl(xenevtchn_fd(e->xce), F_SETFL, flags | O_NONBLOCK)) {
		*why = "cannot make the event channel device non-blocking";
		xen_evtchn_close(&e->base);
		return NULL;
	}
	return &e->base;
}

static const struct pvring_platform_ops xen_ops = {
	.name = "xen",
	.destroy = xen_destroy,
	.map = xen_map,
	.unmap = xen_unmap,
	.evtchn_open = xen_evtchn_open,
};

struct pvring_platform *pvring_platform_xen_open(const char **why)
{
	struct xen_platform *x = calloc(1, sizeof(*x));
	struct pvring_evtchn *probe;

	if (!x) {
		*why = "out of memory";
		return NULL;
	}
	x->base.ops = &xen_ops;
	/* Quiet opens: a failure is reported once, by *why, not by the libraries' loggers. */
	x->gnttab = xengnttab_open(NULL, 0);
	if (!x->gnttab) {
		*why = "cannot open the grant device (/dev/xen/gntdev): not a Xen control domain, "
		       "or xen-gntdev is not loaded";
		goto fail;
	}
	/* Handles come later, one per user; one now says at start whether there can be any. */
	probe = xen_evtchn_open(&x->base, why);
	if (!probe)
		goto fail;
	xen_evtchn_close(probe);
	x->base.store_flags = 0;
	x->base.store = xs_open(x->base.store_flags);
	if (!x->base.store) {
		*why = "cannot reach xenstored";
		goto fail;
	}
	return &x->base;
fail:
	xen_destroy(&x->base);
	return NULL;
}
