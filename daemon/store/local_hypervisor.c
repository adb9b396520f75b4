// SPDX-License-Identifier: MIT
/*
 * The local hypervisor (see local_hypervisor.h): the guests' registry (local_registry.h) and
 * the back end's socket (local_hypercall.h), in pvring-stored's event loop.
 */
#include "config.h"

#include "local_hypervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/platform/local_evtchn.h"
#include "daemon/platform/local_gnttab.h"
#include "daemon/platform/local_hypercall.h"
#include "daemon/platform/local_registry.h"
#include "daemon/unix_listen.h"
#include "store_server.h"

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
/* The back end's domain: it maps guests' grants as domain 0 does on Xen. */
#define BACKEND_DOMID 0u

struct hv_domain {
	struct hv_domain *next;
	struct pvring_local_hypervisor *hv;
	uint32_t domid;
	int sock; /* the guest's registry connection; -1 once gone */
	struct event *ev;
	struct event *hello_timer; /* until it says hello */
	bool welcomed;
	bool gone;
	struct pvring_local_gnttab gt; /* its memory, checked; the table is unpinned through it */
	unsigned int holds; /* by the back end: the domain id is not given out again meanwhile */
};

struct pvring_local_hypervisor {
	struct event_base *base;
	struct pvring_store_server *store;
	char rundir[80]; /* short enough that rundir/domain/<domid>/socket fits a socket address */
	char registry_path[108];
	char backend_path[108];
	struct pvring_local_hypervisor_limits limits;
	unsigned int nr_live; /* connections not gone: saying hello or guests */
	struct hv_domain *domains;
	uint32_t next_domid;
	struct pvring_local_evtchn_offers offers;
	/* the guests' registry */
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
	/* the back end's socket, and the one back end */
	int backend_listen_fd;
	struct event *backend_accept_ev;
	int backend_sock;
	struct event *backend_ev;
	bool backend_greeted;
};

static struct hv_domain *find_domain(struct pvring_local_hypervisor *hv, uint32_t domid)
{
	struct hv_domain *d;

	for (d = hv->domains; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

static void domain_free(struct hv_domain *d)
{
	struct hv_domain **link;

	for (link = &d->hv->domains; *link != d; link = &(*link)->next)
		;
	*link = d->next;
	if (d->welcomed)
		pvring_local_gnttab_close(&d->gt);
	free(d);
}

/*
 * The guest is gone (its process exited or died): released in the store, which fires
 * @releaseDomain for the back end, as for a Xen guest that died. Its record stays while the
 * back end holds its domain id.
 */
static void domain_gone(struct hv_domain *d, const char *why)
{
	struct pvring_local_hypervisor *hv = d->hv;

	if (d->gone)
		return;
	d->gone = true;
	hv->nr_live--;
	if (d->hello_timer)
		event_free(d->hello_timer);
	d->hello_timer = NULL;
	event_free(d->ev);
	d->ev = NULL;
	close(d->sock);
	d->sock = -1;
	pvring_local_evtchn_withdraw(&hv->offers, d->domid);
	if (d->welcomed) {
		pvring_info("hypervisor: dom%u left (%s)", d->domid, why);
		pvring_store_server_remove_domain(hv->store, d->domid);
	}
	if (d->holds == 0)
		domain_free(d);
}

/* Tell a registering guest no, and why (its end of the registry protocol shows it). */
static void send_refusal(int sock, int status, const char *why)
{
	struct pvring_local_welcome welcome = { .magic = PVRING_LOCAL_MAGIC,
						.type = PVRING_LOCAL_WELCOME,
						.status = status };

	snprintf(welcome.why, sizeof(welcome.why), "%s", why);
	if (pvring_local_send(sock, &welcome, sizeof(welcome), NULL, 0))
		pvring_debug("hypervisor: could not tell the refused guest why");
}

static void refuse(struct hv_domain *d, int status, const char *why)
{
	pvring_warn("hypervisor: refused a guest: %s", why);
	send_refusal(d->sock, status, why);
	domain_gone(d, why);
}

static void on_hello(struct hv_domain *d, const struct pvring_local_hello *hello, int memfd)
{
	struct pvring_local_hypervisor *hv = d->hv;
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
		refuse(d, -E2BIG, "guest memory or grant table larger than the hypervisor accepts");
		return;
	}
	err = pvring_local_gnttab_open(&d->gt, (uint16_t)d->domid, BACKEND_DOMID, memfd,
				       hello->nr_frames, hello->table_frames, &why);
	if (err) {
		close(memfd);
		refuse(d, err, why);
		return;
	}
	event_free(d->hello_timer);
	d->hello_timer = NULL;
	d->welcomed = true;
	err = pvring_store_server_add_domain(hv->store, d->domid, &why);
	if (err) {
		d->welcomed = false;
		pvring_local_gnttab_close(&d->gt);
		pvring_warn("hypervisor: dom%u: %s", d->domid, why);
		refuse(d, err, "the store refused the new domain");
		return;
	}
	welcome.domid = d->domid;
	snprintf(welcome.store_socket, sizeof(welcome.store_socket), "%s/domain/%u/socket",
		 hv->rundir, d->domid);
	if (pvring_local_send(d->sock, &welcome, sizeof(welcome), NULL, 0)) {
		domain_gone(d, "could not answer its hello");
		return;
	}
	pvring_info("hypervisor: dom%u joined with %u frames of memory", d->domid,
		    hello->nr_frames);
}

static void on_offer(struct hv_domain *d, const struct pvring_local_offer *offer, const int *fds)
{
	struct pvring_local_offered offered = { PVRING_LOCAL_MAGIC, PVRING_LOCAL_OFFERED, 0 };

	offered.status =
		pvring_local_evtchn_offer(&d->hv->offers, d->domid, offer->port, fds[0], fds[1]);
	if (offered.status)
		pvring_warn("hypervisor: dom%u: refused event channel port %u: %s", d->domid,
			    offer->port, strerror(-offered.status));
	if (pvring_local_send(d->sock, &offered, sizeof(offered), NULL, 0))
		domain_gone(d, "could not answer its port offer");
}

static void on_domain_message(evutil_socket_t fd, short what, void *arg)
{
	struct hv_domain *d = arg;
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
					  ? "the hypervisor is out of file descriptors"
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

/* A domain id that no guest, no held domain and no domain the store knows has; 0 if none. */
static uint32_t allocate_domid(struct pvring_local_hypervisor *hv)
{
	uint32_t tries;

	for (tries = 0; tries < DOMID_LIMIT; tries++) {
		uint32_t domid = hv->next_domid++;

		if (hv->next_domid >= DOMID_LIMIT)
			hv->next_domid = FIRST_DOMID;
		if (!find_domain(hv, domid) && !pvring_store_server_has_domain(hv->store, domid))
			return domid;
	}
	return 0;
}

static void on_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hv_domain *d = arg;
	char why[64];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no hello within %u ms", d->hv->limits.hello_ms);
	refuse(d, -ETIMEDOUT, why);
}

static void on_accept_pause_over(evutil_socket_t fd, short what, void *arg)
{
	struct pvring_local_hypervisor *hv = arg;

	(void)fd;
	(void)what;
	if (event_add(hv->accept_ev, NULL))
		pvring_err("hypervisor: cannot watch the registry socket again");
	if (hv->backend_accept_ev && event_add(hv->backend_accept_ev, NULL))
		pvring_err("hypervisor: cannot watch the back end's socket again");
}

static void pause_accepting(struct pvring_local_hypervisor *hv)
{
	const struct timeval pause = { .tv_sec = ACCEPT_PAUSE_MS / 1000u,
				       .tv_usec = (ACCEPT_PAUSE_MS % 1000u) * 1000u };

	event_del(hv->accept_ev);
	if (hv->backend_accept_ev)
		event_del(hv->backend_accept_ev);
	if (event_add(hv->accept_pause, &pause))
		pvring_err("hypervisor: cannot time a pause in accepting connections");
}

static void say_out_of_fds(struct pvring_local_hypervisor *hv, int err)
{
	if (!hv->out_of_fds)
		pvring_err("hypervisor: out of file descriptors (%s): refusing guests until some "
			   "are free (raise LimitNOFILE?)",
			   strerror(err));
	hv->out_of_fds = true;
}

/*
 * accept() found no descriptor free. Take the waiting connection with the spare one to tell
 * that guest why, rather than leave it hanging (and the socket readable, the loop spinning
 * on it); with no spare either, stop accepting for a while. Said once in the log per spell.
 */
static void accept_without_fds(struct pvring_local_hypervisor *hv, int err)
{
	int sock;

	say_out_of_fds(hv, err);
	if (hv->spare_fd >= 0) {
		close(hv->spare_fd);
		hv->spare_fd = -1;
		sock = accept4(hv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (sock >= 0) {
			send_refusal(sock, -err, "the hypervisor is out of file descriptors");
			close(sock);
		}
		hv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (hv->spare_fd >= 0)
			return;
	}
	pause_accepting(hv);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct pvring_local_hypervisor *hv = arg;
	struct timeval hello_tv;
	struct hv_domain *d;
	int sock;

	(void)what;
	sock = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0) {
		if (errno == EMFILE || errno == ENFILE)
			accept_without_fds(hv, errno);
		return;
	}
	if (hv->out_of_fds && hv->spare_fd >= 0) {
		pvring_info("hypervisor: file descriptors free again: accepting guests");
		hv->out_of_fds = false;
	}
	if (hv->spare_fd < 0)
		hv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (hv->nr_live >= hv->limits.max_guests) {
		char why[64];

		snprintf(why, sizeof(why), "the hypervisor runs at most %u guests",
			 hv->limits.max_guests);
		pvring_warn("hypervisor: refused a guest: %s", why);
		send_refusal(sock, -EUSERS, why);
		close(sock);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		close(sock);
		return;
	}
	d->hv = hv;
	d->sock = sock;
	d->domid = allocate_domid(hv);
	d->ev = event_new(hv->base, sock, EV_READ | EV_PERSIST, on_domain_message, d);
	d->hello_timer = evtimer_new(hv->base, on_hello_timeout, d);
	hello_tv.tv_sec = hv->limits.hello_ms / 1000u;
	hello_tv.tv_usec = (hv->limits.hello_ms % 1000u) * 1000u;
	if (!d->domid || !d->ev || !d->hello_timer || event_add(d->ev, NULL) ||
	    event_add(d->hello_timer, &hello_tv)) {
		if (!d->domid)
			pvring_warn("hypervisor: cannot take another guest (no domain id left)");
		if (d->ev)
			event_free(d->ev);
		if (d->hello_timer)
			event_free(d->hello_timer);
		free(d);
		close(sock);
		return;
	}
	d->next = hv->domains;
	hv->domains = d;
	hv->nr_live++;
}

/* ---- the back end ---- */

static void answer(struct pvring_local_hypervisor *hv, const struct pvring_hv_request *req,
		   int status, const char *why, uint32_t nr_frames, uint32_t table_frames,
		   const int *fds, unsigned int nr_fds)
{
	struct pvring_hv_answer a = { .magic = PVRING_HV_MAGIC,
				      .type = PVRING_HV_ANSWER,
				      .status = status,
				      .nr_frames = nr_frames,
				      .table_frames = table_frames,
				      .request = req->type,
				      .domid = req->domid,
				      .port = req->port,
				      .seq = req->seq };

	if (why)
		snprintf(a.why, sizeof(a.why), "%s", why);
	/* A back end that cannot take its answer has gone: its hang-up is read next. */
	if (pvring_local_send(hv->backend_sock, &a, sizeof(a), fds, nr_fds))
		pvring_debug("hypervisor: could not answer the back end");
}

/*
 * The back end went (it exited, was killed, or broke the protocol). What it left pinned in
 * guests' grant tables is unpinned, its ports unbound, its holds dropped: the next back end
 * finds the guests as a restarted dom0 back end finds them on Xen.
 */
static void backend_gone(struct pvring_local_hypervisor *hv, const char *why)
{
	struct hv_domain *d, *next;
	uint32_t unpinned = 0;
	unsigned int unbound;

	for (d = hv->domains; d; d = next) {
		next = d->next;
		if (d->welcomed && !d->gone)
			unpinned += pvring_local_gnttab_unpin_all(&d->gt);
		d->holds = 0;
		if (d->gone)
			domain_free(d);
	}
	unbound = pvring_local_evtchn_offers_unbind_all(&hv->offers);
	event_free(hv->backend_ev);
	hv->backend_ev = NULL;
	close(hv->backend_sock);
	hv->backend_sock = -1;
	hv->backend_greeted = false;
	pvring_info("hypervisor: the back end left (%s): %u grant pins cleared, %u ports unbound",
		    why, unpinned, unbound);
}

static void on_domain_request(struct pvring_local_hypervisor *hv,
			      const struct pvring_hv_request *req)
{
	struct hv_domain *d = find_domain(hv, req->domid);

	if (!d || !d->welcomed) {
		answer(hv, req, -ENOENT, "no such domain", 0, 0, NULL, 0);
		return;
	}
	if (d->gone) {
		answer(hv, req, -ENOENT, "the domain is gone", 0, 0, NULL, 0);
		return;
	}
	d->holds++;
	answer(hv, req, 0, NULL, d->gt.nr_frames, d->gt.table_frames, &d->gt.fd, 1);
}

static void on_put(struct pvring_local_hypervisor *hv, uint32_t domid)
{
	struct hv_domain *d = find_domain(hv, domid);

	if (!d || d->holds == 0)
		return;
	if (--d->holds == 0 && d->gone)
		domain_free(d);
}

static void on_bind_request(struct pvring_local_hypervisor *hv, const struct pvring_hv_request *req)
{
	int fds[2];
	int err = pvring_local_evtchn_offer_bind(&hv->offers, req->domid, req->port, &fds[0],
						 &fds[1]);

	if (err) {
		answer(hv, req, err,
		       err == -EBUSY ? "the port is bound already" : "no such port offered", 0, 0,
		       NULL, 0);
		return;
	}
	answer(hv, req, 0, NULL, 0, 0, fds, 2);
}

static void on_backend_message(evutil_socket_t fd, short what, void *arg)
{
	struct pvring_local_hypervisor *hv = arg;
	struct pvring_hv_request req;
	unsigned int nr_fds;
	int unused;
	ssize_t n;

	(void)what;
	memset(&req, 0, sizeof(req));
	n = pvring_local_recv(fd, &req, sizeof(req), &unused, 0, &nr_fds);
	if (n <= 0) {
		backend_gone(hv, n == 0 ? "its connection closed" : "its socket failed");
		return;
	}
	if (n != sizeof(req) || req.magic != PVRING_HV_MAGIC ||
	    (!hv->backend_greeted && req.type != PVRING_HV_HELLO)) {
		pvring_warn("hypervisor: the back end sent a malformed request: disconnecting it");
		backend_gone(hv, "a malformed request");
		return;
	}
	switch (req.type) {
	case PVRING_HV_HELLO:
		hv->backend_greeted = true;
		answer(hv, &req, 0, NULL, 0, 0, NULL, 0);
		pvring_info("hypervisor: a back end connected");
		break;
	case PVRING_HV_DOMAIN:
		on_domain_request(hv, &req);
		break;
	case PVRING_HV_PUT:
		on_put(hv, req.domid);
		break;
	case PVRING_HV_BIND:
		on_bind_request(hv, &req);
		break;
	case PVRING_HV_UNBIND:
		pvring_local_evtchn_offer_unbind(&hv->offers, req.domid, req.port);
		break;
	default:
		pvring_warn("hypervisor: the back end sent request type %u: disconnecting it",
			    req.type);
		backend_gone(hv, "an unknown request");
		break;
	}
}

/*
 * Read what the back end sent and the loop has not read yet: its last puts and unbinds, and
 * its hang-up if it went. Bounded: a live back end that keeps sending is still there.
 */
static void backend_catch_up(struct pvring_local_hypervisor *hv)
{
	unsigned int i;

	for (i = 0; i < 4096 && hv->backend_sock >= 0; i++) {
		char byte;
		ssize_t n = recv(hv->backend_sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		on_backend_message(hv->backend_sock, EV_READ, hv);
	}
}

static void on_backend_accept(evutil_socket_t fd, short what, void *arg)
{
	struct pvring_local_hypervisor *hv = arg;
	int sock;

	(void)what;
	sock = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			say_out_of_fds(hv, errno);
			pause_accepting(hv);
		}
		return;
	}
	/* A killed back end's hang-up and its successor can come in the same turn of the loop. */
	if (hv->backend_sock >= 0)
		backend_catch_up(hv);
	if (hv->backend_sock >= 0) {
		struct pvring_hv_answer a = { .magic = PVRING_HV_MAGIC,
					      .type = PVRING_HV_ANSWER,
					      .status = -EBUSY,
					      .why = "another back end is connected (is another "
						     "pvringd serving this store?)" };

		pvring_warn("hypervisor: refused a second back end");
		if (pvring_local_send(sock, &a, sizeof(a), NULL, 0))
			pvring_debug("hypervisor: could not tell the second back end why");
		close(sock);
		return;
	}
	hv->backend_ev = event_new(hv->base, sock, EV_READ | EV_PERSIST, on_backend_message, hv);
	if (!hv->backend_ev || event_add(hv->backend_ev, NULL)) {
		if (hv->backend_ev)
			event_free(hv->backend_ev);
		hv->backend_ev = NULL;
		close(sock);
		return;
	}
	hv->backend_sock = sock;
}

/* ---- setup ---- */

static int listen_at(struct pvring_local_hypervisor *hv, char *path, size_t path_size,
		     const char *name, int *fd, struct event **ev, event_callback_fn cb,
		     const char **why)
{
	if ((size_t)snprintf(path, path_size, "%s/%s", hv->rundir, name) >= path_size) {
		*why = "socket path too long";
		return -ENAMETOOLONG;
	}
	*fd = pvring_unix_listen(path, SOCK_SEQPACKET, 16, NULL, why);
	if (*fd < 0) {
		path[0] = '\0';
		return *fd;
	}
	*ev = event_new(hv->base, *fd, EV_READ | EV_PERSIST, cb, hv);
	if (!*ev || event_add(*ev, NULL)) {
		*why = "cannot watch a socket";
		return -ENOMEM;
	}
	return 0;
}

void pvring_local_hypervisor_set_limits(struct pvring_local_hypervisor *hv,
					const struct pvring_local_hypervisor_limits *limits)
{
	hv->limits = *limits;
}

struct pvring_local_hypervisor *pvring_local_hypervisor_new(struct event_base *base,
							    struct pvring_store_server *store,
							    const char *rundir, const char **why)
{
	struct pvring_local_hypervisor *hv = calloc(1, sizeof(*hv));

	if (!hv) {
		*why = "out of memory";
		return NULL;
	}
	hv->base = base;
	hv->store = store;
	hv->listen_fd = hv->backend_listen_fd = hv->backend_sock = -1;
	hv->next_domid = FIRST_DOMID;
	hv->limits = (struct pvring_local_hypervisor_limits){ .max_guests = DEFAULT_MAX_GUESTS,
							      .hello_ms = DEFAULT_HELLO_MS };
	hv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pvring_local_evtchn_offers_init(&hv->offers);
	if ((size_t)snprintf(hv->rundir, sizeof(hv->rundir), "%s", rundir) >= sizeof(hv->rundir)) {
		*why = "run directory path too long (sockets need short paths)";
		goto fail;
	}
	hv->accept_pause = evtimer_new(base, on_accept_pause_over, hv);
	if (!hv->accept_pause) {
		*why = "out of memory";
		goto fail;
	}
	if (listen_at(hv, hv->registry_path, sizeof(hv->registry_path), "registry", &hv->listen_fd,
		      &hv->accept_ev, on_accept, why) ||
	    listen_at(hv, hv->backend_path, sizeof(hv->backend_path), "hypervisor",
		      &hv->backend_listen_fd, &hv->backend_accept_ev, on_backend_accept, why))
		goto fail;
	return hv;
fail:
	pvring_local_hypervisor_free(hv);
	return NULL;
}

void pvring_local_hypervisor_free(struct pvring_local_hypervisor *hv)
{
	struct hv_domain *d, *next;

	if (!hv)
		return;
	if (hv->backend_sock >= 0)
		backend_gone(hv, "the hypervisor is stopping");
	for (d = hv->domains; d; d = next) {
		next = d->next; /* a gone domain is freed at once: no back end holds it now */
		domain_gone(d, "the hypervisor is stopping");
	}
	if (hv->accept_ev)
		event_free(hv->accept_ev);
	if (hv->backend_accept_ev)
		event_free(hv->backend_accept_ev);
	if (hv->accept_pause)
		event_free(hv->accept_pause);
	if (hv->spare_fd >= 0)
		close(hv->spare_fd);
	if (hv->listen_fd >= 0)
		close(hv->listen_fd);
	if (hv->registry_path[0] && hv->listen_fd >= 0)
		unlink(hv->registry_path);
	if (hv->backend_listen_fd >= 0) {
		close(hv->backend_listen_fd);
		unlink(hv->backend_path);
	}
	pvring_local_evtchn_offers_destroy(&hv->offers);
	free(hv);
}
