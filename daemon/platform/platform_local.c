// SPDX-License-Identifier: MIT
/*
 * The platform layer on one plain Linux machine: frontend processes register
 * as guests over the registry socket (local_registry.h), their memory is
 * mapped through local_gnttab, their doorbells through local_evtchn, and the
 * store is pvring-stored, reached with libxenstore.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <xenstore.h>

#include "daemon/log.h"
#include "daemon/number.h"
#include "local_registry.h"
#include "platform.h"
#include "platform_local.h"
#include "daemon/unix_listen.h"

/* Bounds on what a registering guest may ask for: 4 GiB of memory, 1M grants. */
#define MAX_GUEST_FRAMES (1u << 20)
#define MAX_TABLE_FRAMES 2048u
#define FIRST_DOMID 1u
#define DOMID_LIMIT 0x7ff0u
/* Live guests at most (each holds descriptors: its socket, its memory, two per port). */
#define DEFAULT_MAX_GUESTS 1024u
/* A connection says hello within this, or is refused: it holds a descriptor meanwhile. */
#define DEFAULT_HELLO_MS 5000u
/* Out of descriptors with no spare to refuse with: accepting pauses this long. */
#define ACCEPT_PAUSE_MS 1000u

struct local_domain {
	struct local_domain *next;
	struct local_platform *lp;
	uint32_t domid;
	int sock;
	struct event *ev;
	struct event *hello_timer; /* until it says hello */
	bool welcomed;
	bool gone;
	bool unknown_to_store; /* a restarted store has no such domain: nothing to release */
	struct pvring_local_gnttab gt;
	uint32_t mappings; /* outstanding maps */
};

struct local_platform {
	struct pvring_platform base;
	struct event_base *evbase;
	int listen_fd;
	struct event *accept_ev;
	/*
	 * Out of descriptors, accept fails and the connection waits, the socket readable: the
	 * loop would call again at once. This one, kept open, is closed to take the connection
	 * and tell the guest why; if it cannot be opened again, accepting pauses instead.
	 */
	int spare_fd;
	struct event *accept_pause;
	bool out_of_fds; /* said so in the log, until a guest gets in again */
	struct pvring_platform_local_limits limits;
	unsigned int nr_live; /* connections not gone: saying hello or guests */
	char registry_path[108];
	/* short enough that rundir/domain/<domid>/socket fits a socket address */
	char store_rundir[80];
	struct pvring_local_evtchn_offers offers;
	/*
	 * The domain list, each domain's gone and mappings, and its grant table's pin counts:
	 * maps and unmaps come from the data plane's threads, guests come and go on the main
	 * thread's loop.
	 */
	pthread_mutex_t lock;
	struct local_domain *domains;
	uint32_t next_domid;
};

/* One user's event channels: a local_evtchn handle on the platform's offers. */
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

/*
 * With lp->lock held; from any thread (the last unmap of a guest that left), so
 * it touches no event: domain_gone freed that.
 */
static void domain_free(struct local_domain *d)
{
	struct local_domain **link;

	for (link = &d->lp->domains; *link != d; link = &(*link)->next)
		;
	*link = d->next;
	if (d->sock >= 0)
		close(d->sock);
	if (d->welcomed)
		pvring_local_gnttab_close(&d->gt);
	free(d);
}

/*
 * The guest is gone: the store releases it (firing @releaseDomain for the
 * control plane, as on Xen). Its memory stays mapped until the last
 * mapping is undone.
 */
static void domain_gone(struct local_domain *d, const char *why)
{
	struct local_platform *lp = d->lp;
	char home[64];

	if (d->gone)
		return;
	lp->nr_live--;
	if (d->hello_timer)
		event_free(d->hello_timer);
	d->hello_timer = NULL;
	event_free(d->ev);
	d->ev = NULL;
	close(d->sock);
	d->sock = -1;
	pvring_local_evtchn_withdraw(&lp->offers, d->domid);
	if (d->welcomed && d->unknown_to_store) {
		pvring_warn("local: dom%u ended (%s)", d->domid, why);
	} else if (d->welcomed) {
		pvring_info("local: dom%u left (%s)", d->domid, why);
		snprintf(home, sizeof(home), "/local/domain/%u", d->domid);
		xs_rm(lp->base.store, XBT_NULL, home);
		if (!xs_release_domain(lp->base.store, d->domid))
			pvring_warn("local: store did not release dom%u: %s", d->domid,
				    strerror(errno));
	}
	pthread_mutex_lock(&lp->lock);
	d->gone = true;
	if (d->mappings == 0)
		domain_free(d);
	pthread_mutex_unlock(&lp->lock);
}

/* Tell a registering guest no, and why (its end of the registry protocol shows it). */
static void send_refusal(int sock, int status, const char *why)
{
	struct pvring_local_welcome welcome = { .magic = PVRING_LOCAL_MAGIC,
						.type = PVRING_LOCAL_WELCOME,
						.status = status };

	snprintf(welcome.why, sizeof(welcome.why), "%s", why);
	if (pvring_local_send(sock, &welcome, sizeof(welcome), NULL, 0))
		pvring_debug("local: could not tell the refused guest why");
}

static void refuse(struct local_domain *d, int status, const char *why)
{
	pvring_warn("local: refused a guest: %s", why);
	send_refusal(d->sock, status, why);
	domain_gone(d, why);
}

/* The guest's home in the store, owned by the guest as a toolstack would make it. */
static int make_home(struct local_platform *lp, uint32_t domid)
{
	struct xs_permissions perms = { .id = domid, .perms = XS_PERM_NONE };
	char home[64];

	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	if (!xs_introduce_domain(lp->base.store, domid, 0, 0) ||
	    !xs_mkdir(lp->base.store, XBT_NULL, home) ||
	    !xs_set_permissions(lp->base.store, XBT_NULL, home, &perms, 1))
		return -errno ? -errno : -EIO;
	return 0;
}

static void on_hello(struct local_domain *d, const struct pvring_local_hello *hello, int memfd)
{
	struct local_platform *lp = d->lp;
	struct pvring_local_welcome welcome = { .magic = PVRING_LOCAL_MAGIC,
						.type = PVRING_LOCAL_WELCOME };
	const char *why = NULL;
	int err;

	if (hello->version != PVRING_LOCAL_VERSION) {
		close(memfd);
		refuse(d, -EPROTO, "unsupported registry protocol version");
		return;
	}
	if (hello->nr_frames > MAX_GUEST_FRAMES || hello->table_frames > MAX_TABLE_FRAMES) {
		close(memfd);
		refuse(d, -E2BIG, "guest memory or grant table larger than pvringd accepts");
		return;
	}
	err = pvring_local_gnttab_open(&d->gt, (uint16_t)d->domid, 0, memfd, hello->nr_frames,
				       hello->table_frames, &why);
	if (err) {
		close(memfd);
		refuse(d, err, why);
		return;
	}
	event_free(d->hello_timer);
	d->hello_timer = NULL;
	/* Under the lock: a worker's map reads it (and the grant table it stands for). */
	pthread_mutex_lock(&lp->lock);
	d->welcomed = true;
	pthread_mutex_unlock(&lp->lock);
	err = make_home(lp, d->domid);
	if (err) {
		refuse(d, err, "the store refused the new domain");
		return;
	}
	welcome.domid = d->domid;
	snprintf(welcome.store_socket, sizeof(welcome.store_socket), "%s/domain/%u/socket",
		 lp->store_rundir, d->domid);
	if (pvring_local_send(d->sock, &welcome, sizeof(welcome), NULL, 0)) {
		domain_gone(d, "could not answer its hello");
		return;
	}
	pvring_info("local: dom%u joined with %u frames of memory", d->domid, hello->nr_frames);
}

static void on_offer(struct local_domain *d, const struct pvring_local_offer *offer, const int *fds)
{
	struct pvring_local_offered offered = { PVRING_LOCAL_MAGIC, PVRING_LOCAL_OFFERED, 0 };

	offered.status =
		pvring_local_evtchn_offer(&d->lp->offers, d->domid, offer->port, fds[0], fds[1]);
	if (offered.status)
		pvring_warn("local: dom%u: refused event channel port %u: %s", d->domid,
			    offer->port, strerror(-offered.status));
	if (pvring_local_send(d->sock, &offered, sizeof(offered), NULL, 0))
		domain_gone(d, "could not answer its port offer");
}

static void on_domain_message(evutil_socket_t fd, short what, void *arg)
{
	struct local_domain *d = arg;
	union {
		struct pvring_local_hello hello;
		struct pvring_local_offer offer;
		uint32_t words[2];
	} msg;
	unsigned int nr_fds, i;
	int fds[2];
	ssize_t n;

	(void)what;
	memset(&msg, 0, sizeof(msg));
	n = pvring_local_recv(fd, &msg, sizeof(msg), fds, 2, &nr_fds);
	if (n == -EMSGSIZE || n == -EMFILE) {
		const char *why = n == -EMFILE
					  ? "pvringd is out of file descriptors"
					  : "registry message larger than any the protocol has";

		if (d->welcomed)
			domain_gone(d, why);
		else
			refuse(d, (int)n, why);
		return;
	}
	if (n <= 0) {
		domain_gone(d, n == 0 ? "disconnected" : "registry socket error");
		return;
	}
	if (!d->welcomed && n == sizeof(msg.hello) && msg.words[0] == PVRING_LOCAL_MAGIC &&
	    msg.words[1] == PVRING_LOCAL_HELLO && nr_fds == 1) {
		on_hello(d, &msg.hello, fds[0]);
		return;
	}
	if (d->welcomed && n == sizeof(msg.offer) && msg.words[0] == PVRING_LOCAL_MAGIC &&
	    msg.words[1] == PVRING_LOCAL_OFFER && nr_fds == 2) {
		on_offer(d, &msg.offer, fds);
		return;
	}
	for (i = 0; i < nr_fds; i++)
		close(fds[i]);
	if (!d->welcomed)
		refuse(d, -EPROTO, "malformed hello");
	else
		domain_gone(d, "malformed registry message");
}

/* With lp->lock held. */
static uint32_t allocate_domid(struct local_platform *lp)
{
	uint32_t tries;

	for (tries = 0; tries < DOMID_LIMIT; tries++) {
		uint32_t domid = lp->next_domid++;

		if (lp->next_domid >= DOMID_LIMIT)
			lp->next_domid = FIRST_DOMID;
		if (!find_domain(lp, domid))
			return domid;
	}
	return 0;
}

static void on_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct local_domain *d = arg;
	char why[64];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no hello within %u ms", d->lp->limits.hello_ms);
	refuse(d, -ETIMEDOUT, why);
}

static void on_accept_pause_over(evutil_socket_t fd, short what, void *arg)
{
	struct local_platform *lp = arg;

	(void)fd;
	(void)what;
	if (event_add(lp->accept_ev, NULL))
		pvring_err("local: cannot watch the registry socket again");
}

/*
 * accept() found no descriptor free. Take the waiting connection with the spare one to tell
 * that guest why, rather than leave it hanging (and the socket readable, the loop spinning
 * on it); with no spare either, stop accepting for a while. Said once in the log per spell.
 */
static void accept_without_fds(struct local_platform *lp, int err)
{
	const struct timeval pause = { .tv_sec = ACCEPT_PAUSE_MS / 1000u,
				       .tv_usec = (ACCEPT_PAUSE_MS % 1000u) * 1000u };
	int sock;

	if (!lp->out_of_fds)
		pvring_err("local: out of file descriptors (%s): refusing guests until some are "
			   "free (raise LimitNOFILE?)",
			   strerror(err));
	lp->out_of_fds = true;
	if (lp->spare_fd >= 0) {
		close(lp->spare_fd);
		lp->spare_fd = -1;
		sock = accept4(lp->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (sock >= 0) {
			send_refusal(sock, -err, "pvringd is out of file descriptors");
			close(sock);
		}
		lp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (lp->spare_fd >= 0)
			return;
	}
	event_del(lp->accept_ev);
	if (event_add(lp->accept_pause, &pause))
		pvring_err("local: cannot time a pause in accepting guests");
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct local_platform *lp = arg;
	struct timeval hello_tv;
	struct local_domain *d;
	int sock;

	(void)what;
	sock = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0) {
		if (errno == EMFILE || errno == ENFILE)
			accept_without_fds(lp, errno);
		return;
	}
	if (lp->out_of_fds && lp->spare_fd >= 0) {
		pvring_info("local: file descriptors free again: accepting guests");
		lp->out_of_fds = false;
	}
	if (lp->spare_fd < 0)
		lp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (lp->nr_live >= lp->limits.max_guests) {
		char why[64];

		snprintf(why, sizeof(why), "pvringd serves at most %u guests",
			 lp->limits.max_guests);
		pvring_warn("local: refused a guest: %s", why);
		send_refusal(sock, -EUSERS, why);
		close(sock);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		close(sock);
		return;
	}
	d->lp = lp;
	d->sock = sock;
	d->ev = event_new(lp->evbase, sock, EV_READ | EV_PERSIST, on_domain_message, d);
	d->hello_timer = evtimer_new(lp->evbase, on_hello_timeout, d);
	hello_tv.tv_sec = lp->limits.hello_ms / 1000u;
	hello_tv.tv_usec = (lp->limits.hello_ms % 1000u) * 1000u;
	if (!d->ev || !d->hello_timer || event_add(d->ev, NULL) ||
	    event_add(d->hello_timer, &hello_tv)) {
		if (d->ev)
			event_free(d->ev);
		if (d->hello_timer)
			event_free(d->hello_timer);
		free(d);
		close(sock);
		return;
	}
	pthread_mutex_lock(&lp->lock);
	d->domid = allocate_domid(lp);
	if (d->domid) {
		d->next = lp->domains;
		lp->domains = d;
	}
	pthread_mutex_unlock(&lp->lock);
	if (!d->domid) {
		pvring_warn("local: cannot take another guest (no domain id left)");
		event_free(d->ev);
		event_free(d->hello_timer);
		free(d);
		close(sock);
		return;
	}
	lp->nr_live++;
}

/*
 * Guests of a pvringd that did not stop cleanly (kill -9, a crash) are still introduced in the
 * store, their homes still there. On the local platform a guest is gone with the pvringd it
 * registered with (its registry connection closed), and nobody else releases what it left:
 * the new pvringd would hand out the same domain ids and the store refuse them (EEXIST).
 * Release them now, as a clean stop would have; each is logged.
 */
static void release_leftover_domains(struct local_platform *lp)
{
	unsigned int nr = 0, i;
	char **doms = xs_directory(lp->base.store, XBT_NULL, "/local/domain", &nr);

	for (i = 0; doms && i < nr; i++) {
		char home[64];
		uint64_t domid;

		if (pvring_parse_u64(doms[i], DOMID_LIMIT - 1, &domid) || domid == 0 ||
		    !xs_is_domain_introduced(lp->base.store, (unsigned int)domid))
			continue;
		snprintf(home, sizeof(home), "/local/domain/%u", (unsigned int)domid);
		xs_rm(lp->base.store, XBT_NULL, home);
		if (!xs_release_domain(lp->base.store, (unsigned int)domid))
			pvring_warn("local: store did not release dom%u: %s", (unsigned int)domid,
				    strerror(errno));
		else
			pvring_warn("local: released dom%u, left by a pvringd that did not stop "
				    "cleanly (its guest went with it)",
				    (unsigned int)domid);
	}
	free(doms);
}

void pvring_platform_local_set_limits(struct pvring_platform *p,
				      const struct pvring_platform_local_limits *limits)
{
	local_of(p)->limits = *limits;
}

/* ---- platform operations ---- */

static void local_destroy(struct pvring_platform *p)
{
	struct local_platform *lp = local_of(p);
	struct local_domain *d, *next;

	/*
	 * The guests' domains end with pvringd (their registry connections
	 * close): release them in the store too, so that a pvringd started
	 * later against the same store finds no guest that is not there.
	 */
	for (d = lp->domains; d; d = next) {
		next = d->next; /* a domain with nothing mapped is freed at once */
		if (!d->gone)
			domain_gone(d, "pvringd is stopping");
	}
	/* Only this thread is left: what pvringd still had mapped goes with it. */
	while (lp->domains)
		domain_free(lp->domains);
	if (lp->accept_ev)
		event_free(lp->accept_ev);
	if (lp->accept_pause)
		event_free(lp->accept_pause);
	if (lp->spare_fd >= 0)
		close(lp->spare_fd);
	if (lp->listen_fd >= 0) {
		close(lp->listen_fd);
		unlink(lp->registry_path);
	}
	pvring_local_evtchn_offers_destroy(&lp->offers);
	pthread_mutex_destroy(&lp->lock);
	if (p->store)
		xs_close(p->store);
	free(lp);
}

/* The domain to map from, under lp->lock; NULL with *why set. */
static struct local_domain *mappable_domain(struct local_platform *lp, uint32_t domid,
					    const char **why)
{
	struct local_domain *d = find_domain(lp, domid);

	if (!d || !d->welcomed) {
		*why = "no such domain";
		return NULL;
	}
	if (d->gone) {
		*why = "the domain is gone";
		return NULL;
	}
	return d;
}

static int local_map(struct pvring_platform *p, uint32_t domid, uint32_t count,
		     const uint32_t *refs, bool writable, struct pvring_mapping *m,
		     const char **why)
{
	struct local_platform *lp = local_of(p);
	struct local_domain *d;
	void *addr = NULL;

	pthread_mutex_lock(&lp->lock);
	d = mappable_domain(lp, domid, why);
	if (d && count == 1)
		addr = pvring_local_gnttab_map(&d->gt, refs[0], writable, why);
	else if (d)
		addr = pvring_local_gnttab_map_many(&d->gt, count, refs, writable, why);
	if (addr)
		d->mappings++;
	pthread_mutex_unlock(&lp->lock);
	if (!addr)
		return d ? -EACCES : -ENOENT;
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
	int err = -ENOENT;

	pthread_mutex_lock(&lp->lock);
	d = mappable_domain(lp, domid, why);
	if (d) {
		err = pvring_local_gnttab_map_pages(&d->gt, count, refs, writable, pages, why)
			      ? -EACCES
			      : 0;
		if (!err)
			d->mappings++;
	}
	pthread_mutex_unlock(&lp->lock);
	if (err)
		return err;
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
	/* The last mapping of a guest that left frees what is left of it. */
	if (--d->mappings == 0 && d->gone)
		domain_free(d);
	pthread_mutex_unlock(&lp->lock);
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

	if (!e || pvring_local_evtchn_open(&e->h, &local_of(p)->offers)) {
		*why = "cannot create an event channel set";
		free(e);
		return NULL;
	}
	e->base.ops = &local_evtchn_ops;
	return &e->base;
}

/*
 * pvring-stored was restarted, and starts empty: the guests it does not know lost their homes
 * and their own store connections. They are ended, each told why (its registry connection
 * closes), rather than left served by rings whose devices the store no longer has.
 */
static void local_store_reconnected(struct pvring_platform *p)
{
	struct local_platform *lp = local_of(p);
	uint32_t *domids = NULL, nr = 0, i;
	struct local_domain *d;

	/* Workers free gone domains under the lock: the list is read under it. */
	pthread_mutex_lock(&lp->lock);
	for (d = lp->domains; d; d = d->next)
		nr++;
	domids = calloc(nr ? nr : 1, sizeof(*domids));
	nr = 0;
	for (d = lp->domains; domids && d; d = d->next)
		if (d->welcomed && !d->gone)
			domids[nr++] = d->domid;
	pthread_mutex_unlock(&lp->lock);
	for (i = 0; i < nr; i++) {
		if (xs_is_domain_introduced(p->store, domids[i]))
			continue;
		pthread_mutex_lock(&lp->lock);
		d = find_domain(lp, domids[i]);
		pthread_mutex_unlock(&lp->lock);
		/* Only this thread makes a domain gone, and only gone ones are freed elsewhere. */
		if (d && !d->gone) {
			d->unknown_to_store = true;
			domain_gone(d, "the store was restarted without it");
		}
	}
	free(domids);
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

static int listen_registry(struct local_platform *lp, const char *path, const char **why)
{
	int fd;

	if (strlen(path) >= sizeof(lp->registry_path)) {
		*why = "registry socket path too long";
		return -ENAMETOOLONG;
	}
	fd = pvring_unix_listen(path, SOCK_SEQPACKET, 16, NULL, why);
	if (fd < 0)
		return fd;
	strcpy(lp->registry_path, path);
	lp->listen_fd = fd;
	lp->accept_ev = event_new(lp->evbase, lp->listen_fd, EV_READ | EV_PERSIST, on_accept, lp);
	lp->accept_pause = evtimer_new(lp->evbase, on_accept_pause_over, lp);
	if (!lp->accept_ev || !lp->accept_pause || event_add(lp->accept_ev, NULL)) {
		*why = "cannot watch the registry socket";
		return -ENOMEM;
	}
	return 0;
}

struct pvring_platform *pvring_platform_local_open(struct event_base *base,
						   const char *registry_path,
						   const char *store_rundir, const char **why)
{
	struct local_platform *lp = calloc(1, sizeof(*lp));
	char store_socket[PATH_MAX];

	if (!lp) {
		*why = "out of memory";
		return NULL;
	}
	lp->base.ops = &local_ops;
	lp->evbase = base;
	lp->listen_fd = -1;
	lp->next_domid = FIRST_DOMID;
	lp->limits = (struct pvring_platform_local_limits){ .max_guests = DEFAULT_MAX_GUESTS,
							    .hello_ms = DEFAULT_HELLO_MS };
	lp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_mutex_init(&lp->lock, NULL);
	pvring_local_evtchn_offers_init(&lp->offers);
	if (snprintf(lp->store_rundir, sizeof(lp->store_rundir), "%s", store_rundir) >=
		    (int)sizeof(lp->store_rundir) ||
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
	/*
	 * The registry socket first: a second pvringd on the same store fails there, before it
	 * could release the first one's live guests. No guest is accepted before the loop runs.
	 */
	if (listen_registry(lp, registry_path, why))
		goto fail;
	release_leftover_domains(lp);
	return &lp->base;
fail:
	local_destroy(&lp->base);
	return NULL;
}
