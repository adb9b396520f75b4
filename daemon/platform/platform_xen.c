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
	xengnttab_handle *gnttab;
	xenevtchn_handle *evtchn;
};

static struct xen_platform *xen_of(struct pvring_platform *p)
{
	return (struct xen_platform *)p;
}

static void xen_destroy(struct pvring_platform *p)
{
	struct xen_platform *x = xen_of(p);

	if (x->gnttab)
		xengnttab_close(x->gnttab);
	if (x->evtchn)
		xenevtchn_close(x->evtchn);
	if (p->store)
		xs_close(p->store);
	free(x);
}

static void *xen_map_grants(struct pvring_platform *p, uint32_t domid, uint32_t count,
			    const uint32_t *refs, bool writable, const char **why)
{
	void *addr =
		xengnttab_map_domain_grant_refs(xen_of(p)->gnttab, count, domid, (uint32_t *)refs,
						PROT_READ | (writable ? PROT_WRITE : 0));

	if (!addr)
		*why = "the hypervisor refused to map the grant references";
	return addr;
}

static void xen_unmap_grants(struct pvring_platform *p, uint32_t domid, void *addr, uint32_t count,
			     const uint32_t *refs, bool writable)
{
	(void)domid;
	(void)refs;
	(void)writable;
	xengnttab_unmap(xen_of(p)->gnttab, addr, count);
}

static int xen_evtchn_fd(struct pvring_platform *p)
{
	return xenevtchn_fd(xen_of(p)->evtchn);
}

static int xen_evtchn_bind(struct pvring_platform *p, uint32_t domid, uint32_t remote_port)
{
	xenevtchn_port_or_error_t port =
		xenevtchn_bind_interdomain(xen_of(p)->evtchn, domid, remote_port);

	return port < 0 ? -errno : (int)port;
}

static int xen_evtchn_unbind(struct pvring_platform *p, uint32_t port)
{
	return xenevtchn_unbind(xen_of(p)->evtchn, port) ? -errno : 0;
}

static int xen_evtchn_notify(struct pvring_platform *p, uint32_t port)
{
	return xenevtchn_notify(xen_of(p)->evtchn, port) ? -errno : 0;
}

static int xen_evtchn_pending(struct pvring_platform *p)
{
	xenevtchn_port_or_error_t port = xenevtchn_pending(xen_of(p)->evtchn);

	if (port < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (int)port;
}

static int xen_evtchn_unmask(struct pvring_platform *p, uint32_t port)
{
	return xenevtchn_unmask(xen_of(p)->evtchn, port) ? -errno : 0;
}

static const struct pvring_platform_ops xen_ops = {
	.name = "xen",
	.destroy = xen_destroy,
	.map_grants = xen_map_grants,
	.unmap_grants = xen_unmap_grants,
	.evtchn_fd = xen_evtchn_fd,
	.evtchn_bind = xen_evtchn_bind,
	.evtchn_unbind = xen_evtchn_unbind,
	.evtchn_notify = xen_evtchn_notify,
	.evtchn_pending = xen_evtchn_pending,
	.evtchn_unmask = xen_evtchn_unmask,
};

struct pvring_platform *pvring_platform_xen_open(const char **why)
{
	struct xen_platform *x = calloc(1, sizeof(*x));
	int flags;

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
	x->evtchn = xenevtchn_open(NULL, 0);
	if (!x->evtchn) {
		*why = "cannot open the event channel device (/dev/xen/evtchn): xen-evtchn is not "
		       "loaded";
		goto fail;
	}
	/*
	 * libxenevtchn leaves its descriptor blocking; pvringd's loop calls
	 * xenevtchn_pending() whenever the descriptor polls readable and until it
	 * says "none", so a blocking read() there would hang the whole daemon.
	 */
	flags = fcntl(xenevtchn_fd(x->evtchn), F_GETFL);
	if (flags < 0 || fcntl(xenevtchn_fd(x->evtchn), F_SETFL, flags | O_NONBLOCK)) {
		*why = "cannot make the event channel device non-blocking";
		goto fail;
	}
	x->base.store = xs_open(0);
	if (!x->base.store) {
		*why = "cannot reach xenstored";
		goto fail;
	}
	return &x->base;
fail:
	xen_destroy(&x->base);
	return NULL;
}
