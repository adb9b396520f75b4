/* SPDX-License-Identifier: MIT */
/*
 * The local platform's event channels, with libxenevtchn's semantics.
 *
 * A guest (a frontend process) allocates an unbound port: a pair of eventfds,
 * one it writes to kick the back end and one the back end writes to kick it.
 * It hands both to the local hypervisor with the port number it publishes in the store
 * ("event-channel"); the hypervisor records them as offered (pvring_local_evtchn_offer).
 * A port bound by a back end that goes away is unbound again, for the next one to bind.
 *
 * Each of pvringd's handles then works like a xenevtchn handle: bind an interdomain
 * port (the guest's domid and port) and get a local port; one descriptor
 * (pvring_local_evtchn_fd) becomes readable when any bound port fires;
 * pvring_local_evtchn_pending() names one such port and leaves it masked
 * until pvring_local_evtchn_unmask(), and a kick that arrives while masked
 * is delivered on unmask, never lost. Kicks carry no data and coalesce.
 */
#ifndef PVRING_LOCAL_EVTCHN_H
#define PVRING_LOCAL_EVTCHN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- guest side ---- */

struct pvring_local_guest_port {
	uint32_t port;
	int kick_back; /* the guest writes it: the back end's doorbell */
	int kick_front; /* the back end writes it: the guest's doorbell */
};

/* Two fresh eventfds for port; 0 or -errno. */
int pvring_local_guest_port_alloc(struct pvring_local_guest_port *gp, uint32_t port);
void pvring_local_guest_port_free(struct pvring_local_guest_port *gp);
/* Kick the back end; 0 or -errno. */
int pvring_local_guest_port_notify(const struct pvring_local_guest_port *gp);
/* Clear the guest's doorbell after it fired (kicks coalesce). */
void pvring_local_guest_port_ack(const struct pvring_local_guest_port *gp);

/* ---- the hypervisor's side: the ports guests offered ---- */

struct pvring_local_offer;
struct pvring_local_binding;

/*
 * The ports guests handed over, bound to the back end or not. Any thread.
 */
struct pvring_local_evtchn_offers {
	pthread_mutex_t lock;
	struct pvring_local_offer *list;
};

void pvring_local_evtchn_offers_init(struct pvring_local_evtchn_offers *o);
/* Closes what is still offered. */
void pvring_local_evtchn_offers_destroy(struct pvring_local_evtchn_offers *o);

/*
 * Record guest domid's unbound port and its two eventfds; the table owns the
 * fds from then on, whatever the result. 0, or -EEXIST if domid already
 * offered that port, -EBADF if a descriptor is not an eventfd, -ENOSPC if the
 * guest already holds 64 ports.
 */
int pvring_local_evtchn_offer(struct pvring_local_evtchn_offers *o, uint32_t domid, uint32_t port,
			      int kick_back, int kick_front);

/*
 * Bind domid's port for the back end: its two eventfds, still the table's (the caller passes
 * them on). 0, -ENOENT if domid offered no such port, -EBUSY if it is bound already.
 */
int pvring_local_evtchn_offer_bind(struct pvring_local_evtchn_offers *o, uint32_t domid,
				   uint32_t port, int *kick_back, int *kick_front);
/* The back end let go of the port: unbound again, for it or the next back end to bind. */
void pvring_local_evtchn_offer_unbind(struct pvring_local_evtchn_offers *o, uint32_t domid,
				      uint32_t port);
/* The back end went away: every port unbound again; how many were bound. */
unsigned int pvring_local_evtchn_offers_unbind_all(struct pvring_local_evtchn_offers *o);

/* The guest went away: forget the ports it offered. */
void pvring_local_evtchn_withdraw(struct pvring_local_evtchn_offers *o, uint32_t domid);

/* ---- the back end's side ---- */

/*
 * Where a back end's handles get a guest's port from: the local hypervisor (local_hypercall.h)
 * in pvringd, an offers table in a test. bind gives two eventfds that are then the handle's,
 * and a cookie of the source's; unbind tells the source, with the cookie, that the handle let
 * go. Local port numbers come from next_port: unique across the handles of one source, as a
 * dom0's ports are.
 */
struct pvring_local_evtchn_source {
	int (*bind)(void *ctx, uint32_t domid, uint32_t port, int *kick_back, int *kick_front,
		    uint32_t *cookie);
	void (*unbind)(void *ctx, uint32_t domid, uint32_t port, uint32_t cookie);
	void *ctx;
	uint32_t next_port; /* atomic */
};

/* A source on an offers table in this process (each bind gets its own copies of the fds). */
void pvring_local_evtchn_offers_source(struct pvring_local_evtchn_offers *o,
				       struct pvring_local_evtchn_source *src);

/*
 * One user's event channels, like one xenevtchn handle: its own descriptor and the ports it
 * bound. bind and unbind from any thread; fd, pending, unmask and notify from the thread that
 * waits on the descriptor.
 */
struct pvring_local_evtchn {
	int epoll_fd;
	struct pvring_local_evtchn_source *source;
	pthread_mutex_t lock; /* bound */
	struct pvring_local_binding *bound;
};

int pvring_local_evtchn_open(struct pvring_local_evtchn *h,
			     struct pvring_local_evtchn_source *source);
/* Unbinds what is still bound. */
void pvring_local_evtchn_close(struct pvring_local_evtchn *h);

/* Bind domid's offered port; the local port, or -ENOENT / -EBUSY / -errno. */
int pvring_local_evtchn_bind_interdomain(struct pvring_local_evtchn *h, uint32_t domid,
					 uint32_t remote_port);
int pvring_local_evtchn_unbind(struct pvring_local_evtchn *h, uint32_t port);
int pvring_local_evtchn_notify(struct pvring_local_evtchn *h, uint32_t port);

/* Readable when a bound port fired. */
int pvring_local_evtchn_fd(const struct pvring_local_evtchn *h);
/* A port that fired, now masked; -EAGAIN if none. */
int pvring_local_evtchn_pending(struct pvring_local_evtchn *h);
int pvring_local_evtchn_unmask(struct pvring_local_evtchn *h, uint32_t port);

#endif /* PVRING_LOCAL_EVTCHN_H */
