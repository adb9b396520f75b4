// SPDX-License-Identifier: MIT
/* The local platform's event channels: see local_evtchn.h. */
#include "config.h"

#include "local_evtchn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Ports one guest may hold at a time: each costs the hypervisor two descriptors. */
#define OFFERS_PER_DOMAIN 64u

struct pvring_local_offer {
	struct pvring_local_offer *next;
	uint32_t domid;
	uint32_t port;
	int kick_back;
	int kick_front;
	bool bound; /* to the back end: it has copies of the fds */
};

struct pvring_local_binding {
	struct pvring_local_binding *next;
	uint32_t domid; /* the guest's */
	uint32_t remote_port; /* the guest's */
	uint32_t port; /* ours */
	uint32_t cookie; /* the source's, for the unbind */
	int kick_back; /* fires this port */
	int kick_front; /* written by notify */
};

/* ---- guest side ---- */

int pvring_local_guest_port_alloc(struct pvring_local_guest_port *gp, uint32_t port)
{
	gp->port = port;
	gp->kick_back = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	gp->kick_front = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (gp->kick_back < 0 || gp->kick_front < 0) {
		int err = -errno;

		pvring_local_guest_port_free(gp);
		return err;
	}
	return 0;
}

void pvring_local_guest_port_free(struct pvring_local_guest_port *gp)
{
	if (gp->kick_back >= 0)
		close(gp->kick_back);
	if (gp->kick_front >= 0)
		close(gp->kick_front);
	gp->kick_back = gp->kick_front = -1;
}

static int kick(int fd)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, the peer has a kick pending anyway. */
	if (write(fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		return -errno;
	return 0;
}

static void drain(int fd)
{
	uint64_t count;

	/* Nonblocking: nothing to read means nothing was pending. */
	if (read(fd, &count, sizeof(count)) < 0)
		return;
}

int pvring_local_guest_port_notify(const struct pvring_local_guest_port *gp)
{
	return kick(gp->kick_back);
}

void pvring_local_guest_port_ack(const struct pvring_local_guest_port *gp)
{
	drain(gp->kick_front);
}

/* ---- the hypervisor's side: the offers ---- */

void pvring_local_evtchn_offers_init(struct pvring_local_evtchn_offers *o)
{
	pthread_mutex_init(&o->lock, NULL);
	o->list = NULL;
}

static void close_pair(int kick_back, int kick_front)
{
	close(kick_back);
	close(kick_front);
}

void pvring_local_evtchn_offers_destroy(struct pvring_local_evtchn_offers *o)
{
	while (o->list)
		pvring_local_evtchn_withdraw(o, o->list->domid);
	pthread_mutex_destroy(&o->lock);
}

/*
 * A doorbell must be an eventfd, and nonblocking: anything else (a pipe, a
 * socket) could make a kick block the back end. O_NONBLOCK is set here, on the
 * open file the guest shares, not trusted from it.
 */
static bool make_doorbell(int fd)
{
	char link[32], target[32];
	ssize_t n;
	int flags;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	if (strcmp(target, "anon_inode:[eventfd]"))
		return false;
	flags = fcntl(fd, F_GETFL);
	return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

static int offer_locked(struct pvring_local_evtchn_offers *o, uint32_t domid, uint32_t port,
			int kick_back, int kick_front)
{
	struct pvring_local_offer *offer;
	unsigned int held = 0;

	for (offer = o->list; offer; offer = offer->next) {
		if (offer->domid != domid)
			continue;
		if (offer->port == port)
			return -EEXIST;
		if (++held >= OFFERS_PER_DOMAIN)
			return -ENOSPC;
	}
	offer = malloc(sizeof(*offer));
	if (!offer)
		return -ENOMEM;
	*offer = (struct pvring_local_offer){ o->list, domid, port, kick_back, kick_front, false };
	o->list = offer;
	return 0;
}

int pvring_local_evtchn_offer(struct pvring_local_evtchn_offers *o, uint32_t domid, uint32_t port,
			      int kick_back, int kick_front)
{
	int err;

	if (!make_doorbell(kick_back) || !make_doorbell(kick_front)) {
		close_pair(kick_back, kick_front);
		return -EBADF;
	}
	pthread_mutex_lock(&o->lock);
	err = offer_locked(o, domid, port, kick_back, kick_front);
	pthread_mutex_unlock(&o->lock);
	if (err)
		close_pair(kick_back, kick_front);
	return err;
}

/* With o->lock held. */
static struct pvring_local_offer *find_offer(struct pvring_local_evtchn_offers *o, uint32_t domid,
					     uint32_t port)
{
	struct pvring_local_offer *offer;

	for (offer = o->list; offer; offer = offer->next)
		if (offer->domid == domid && offer->port == port)
			return offer;
	return NULL;
}

int pvring_local_evtchn_offer_bind(struct pvring_local_evtchn_offers *o, uint32_t domid,
				   uint32_t port, int *kick_back, int *kick_front)
{
	struct pvring_local_offer *offer;
	int err = 0;

	pthread_mutex_lock(&o->lock);
	offer = find_offer(o, domid, port);
	if (!offer) {
		err = -ENOENT;
	} else if (offer->bound) {
		err = -EBUSY;
	} else {
		offer->bound = true;
		*kick_back = offer->kick_back;
		*kick_front = offer->kick_front;
	}
	pthread_mutex_unlock(&o->lock);
	return err;
}

void pvring_local_evtchn_offer_unbind(struct pvring_local_evtchn_offers *o, uint32_t domid,
				      uint32_t port)
{
	struct pvring_local_offer *offer;

	pthread_mutex_lock(&o->lock);
	offer = find_offer(o, domid, port);
	if (offer)
		offer->bound = false;
	pthread_mutex_unlock(&o->lock);
}

unsigned int pvring_local_evtchn_offers_unbind_all(struct pvring_local_evtchn_offers *o)
{
	struct pvring_local_offer *offer;
	unsigned int nr = 0;

	pthread_mutex_lock(&o->lock);
	for (offer = o->list; offer; offer = offer->next) {
		nr += offer->bound;
		offer->bound = false;
	}
	pthread_mutex_unlock(&o->lock);
	return nr;
}

void pvring_local_evtchn_withdraw(struct pvring_local_evtchn_offers *o, uint32_t domid)
{
	struct pvring_local_offer **link, *gone = NULL;

	pthread_mutex_lock(&o->lock);
	link = &o->list;
	while (*link) {
		struct pvring_local_offer *offer = *link;

		if (offer->domid == domid) {
			*link = offer->next;
			offer->next = gone;
			gone = offer;
		} else {
			link = &offer->next;
		}
	}
	pthread_mutex_unlock(&o->lock);
	while (gone) {
		struct pvring_local_offer *offer = gone;

		gone = offer->next;
		close_pair(offer->kick_back, offer->kick_front);
		free(offer);
	}
}

/* An offers table as a handle's source: the handle gets copies of the table's fds. */
static int offers_source_bind(void *ctx, uint32_t domid, uint32_t port, int *kick_back,
			      int *kick_front, uint32_t *cookie)
{
	int kb, kf, err = pvring_local_evtchn_offer_bind(ctx, domid, port, &kb, &kf);

	*cookie = 0;
	if (err)
		return err;
	*kick_back = fcntl(kb, F_DUPFD_CLOEXEC, 0);
	*kick_front = fcntl(kf, F_DUPFD_CLOEXEC, 0);
	if (*kick_back < 0 || *kick_front < 0) {
		err = -errno;
		if (*kick_back >= 0)
			close(*kick_back);
		if (*kick_front >= 0)
			close(*kick_front);
		pvring_local_evtchn_offer_unbind(ctx, domid, port);
	}
	return err;
}

static void offers_source_unbind(void *ctx, uint32_t domid, uint32_t port, uint32_t cookie)
{
	(void)cookie;
	pvring_local_evtchn_offer_unbind(ctx, domid, port);
}

void pvring_local_evtchn_offers_source(struct pvring_local_evtchn_offers *o,
				       struct pvring_local_evtchn_source *src)
{
	*src = (struct pvring_local_evtchn_source){
		.bind = offers_source_bind, .unbind = offers_source_unbind, .ctx = o, .next_port = 1
	};
}

/* ---- back-end side: one handle ---- */

int pvring_local_evtchn_open(struct pvring_local_evtchn *h,
			     struct pvring_local_evtchn_source *source)
{
	h->source = source;
	h->bound = NULL;
	h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epoll_fd < 0)
		return -errno;
	pthread_mutex_init(&h->lock, NULL);
	return 0;
}

void pvring_local_evtchn_close(struct pvring_local_evtchn *h)
{
	if (h->epoll_fd < 0)
		return;
	while (h->bound)
		pvring_local_evtchn_unbind(h, h->bound->port);
	close(h->epoll_fd);
	h->epoll_fd = -1;
	pthread_mutex_destroy(&h->lock);
}

/* The binding's end: its descriptors closed, the source told. */
static void release(struct pvring_local_evtchn *h, struct pvring_local_binding *b)
{
	close_pair(b->kick_back, b->kick_front);
	h->source->unbind(h->source->ctx, b->domid, b->remote_port, b->cookie);
	free(b);
}

/* One-shot: after one event the port is masked until it is re-armed. */
static int arm(struct pvring_local_evtchn *h, int op, const struct pvring_local_binding *b)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u32 = b->port };

	return epoll_ctl(h->epoll_fd, op, b->kick_back, &ev) ? -errno : 0;
}

int pvring_local_evtchn_bind_interdomain(struct pvring_local_evtchn *h, uint32_t domid,
					 uint32_t remote_port)
{
	struct pvring_local_binding *b = malloc(sizeof(*b));
	int kick_back, kick_front, err;
	uint32_t cookie;

	if (!b)
		return -ENOMEM;
	err = h->source->bind(h->source->ctx, domid, remote_port, &kick_back, &kick_front, &cookie);
	if (err) {
		free(b);
		return err;
	}
	*b = (struct pvring_local_binding){
		.domid = domid,
		.remote_port = remote_port,
		.port = __atomic_fetch_add(&h->source->next_port, 1, __ATOMIC_RELAXED),
		.kick_back = kick_back,
		.kick_front = kick_front,
		.cookie = cookie,
	};
	pthread_mutex_lock(&h->lock);
	err = arm(h, EPOLL_CTL_ADD, b);
	if (!err) {
		b->next = h->bound;
		h->bound = b;
	}
	pthread_mutex_unlock(&h->lock);
	if (err) {
		release(h, b);
		return err;
	}
	return (int)b->port;
}

/* With h->lock held. */
static struct pvring_local_binding *find(struct pvring_local_evtchn *h, uint32_t port)
{
	struct pvring_local_binding *b;

	for (b = h->bound; b; b = b->next)
		if (b->port == port)
			return b;
	return NULL;
}

int pvring_local_evtchn_unbind(struct pvring_local_evtchn *h, uint32_t port)
{
	struct pvring_local_binding **link, *b;

	pthread_mutex_lock(&h->lock);
	for (link = &h->bound; *link; link = &(*link)->next)
		if ((*link)->port == port)
			break;
	b = *link;
	if (b) {
		*link = b->next;
		epoll_ctl(h->epoll_fd, EPOLL_CTL_DEL, b->kick_back, NULL);
	}
	pthread_mutex_unlock(&h->lock);
	if (!b)
		return -ENOENT;
	release(h, b);
	return 0;
}

int pvring_local_evtchn_notify(struct pvring_local_evtchn *h, uint32_t port)
{
	struct pvring_local_binding *b;
	int err;

	pthread_mutex_lock(&h->lock);
	b = find(h, port);
	err = b ? kick(b->kick_front) : -ENOENT;
	pthread_mutex_unlock(&h->lock);
	return err;
}

int pvring_local_evtchn_fd(const struct pvring_local_evtchn *h)
{
	return h->epoll_fd;
}

int pvring_local_evtchn_pending(struct pvring_local_evtchn *h)
{
	struct pvring_local_binding *b;
	struct epoll_event ev;
	int n, port = -EAGAIN;

	do {
		n = epoll_wait(h->epoll_fd, &ev, 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EAGAIN;
	pthread_mutex_lock(&h->lock);
	b = find(h, ev.data.u32);
	if (b) {
		/* Clear the count: a kick after this point is seen on unmask. */
		drain(b->kick_back);
		port = (int)b->port;
	}
	pthread_mutex_unlock(&h->lock);
	return port;
}

int pvring_local_evtchn_unmask(struct pvring_local_evtchn *h, uint32_t port)
{
	struct pvring_local_binding *b;
	int err;

	pthread_mutex_lock(&h->lock);
	b = find(h, port);
	err = b ? arm(h, EPOLL_CTL_MOD, b) : -ENOENT;
	pthread_mutex_unlock(&h->lock);
	return err;
}
