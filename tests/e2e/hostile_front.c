// SPDX-License-Identifier: MIT
/*
 * hostile_front: a guest-side block front end that misbehaves toward the back end, for the
 * real-Xen end-to-end suite. It runs in a PV domU that has no blkfront bound to the device and
 * uses the guest's own grant table (gntalloc), event channels (evtchn) and store (xenbus):
 *
 *   hostile_front MODE FRONTEND_DIR
 *
 *   bad-ref      publishes a ring-ref that was never granted
 *   bad-evtchn   publishes an unbound port whose remote domain is the guest itself, not dom0
 *   prod-ahead   connects properly, then stores req_prod = 1000 (a one-page ring has 32 slots)
 *                and kicks the back end
 *
 * Then it waits for the back end to disconnect (Closing or Closed) and prints
 *   hostile_front: MODE: back end state N, pvring-error: REASON|(none)
 * Exit status: 0 the back end disconnected, 1 it did not within 30 s, 2 setup error.
 * Before it exits it writes the front end's state Closed and releases what it allocated.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "common/proto/pvring_xenbus.h"
#include "common/ring/pvring_ring.h"

#define WAIT_SECONDS 30
#define POLL_US 100000
/* A ref this far above the ring's own was never granted (a PV guest uses a handful of refs). */
#define BAD_REF_OFFSET 5000u
/* Far beyond the 32 slots of a one-page blkif ring: the back end must refuse it. */
#define BAD_REQ_PROD 1000u

enum mode { MODE_BAD_REF, MODE_BAD_EVTCHN, MODE_PROD_AHEAD };

static const char *const mode_names[] = {
	[MODE_BAD_REF] = "bad-ref",
	[MODE_BAD_EVTCHN] = "bad-evtchn",
	[MODE_PROD_AHEAD] = "prod-ahead",
};

struct hostile {
	enum mode mode;
	const char *fe; /* front-end directory, as given */
	char *be; /* back-end directory, from the front end's "backend" key */
	struct xs_handle *xs;
	xengntshr_handle *gs;
	xenevtchn_handle *xe;
	struct pvring_sring *sring; /* the shared page, or NULL */
	uint32_t ref; /* its grant reference for dom0 */
	int port; /* unbound port for dom0, or -1 */
	int self_port; /* bad-evtchn: unbound port for the guest itself, or -1 */
};

static void usage(void)
{
	fprintf(stderr, "usage: hostile_front bad-ref|bad-evtchn|prod-ahead FRONTEND_DIR\n");
}

static void setup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void setup_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hostile_front: setup error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The value of DIR/KEY (malloc'd), or NULL if absent. */
static char *read_key(struct hostile *h, const char *dir, const char *key)
{
	char path[256];
	unsigned int len;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_read(h->xs, XBT_NULL, path, &len);
}

/* DIR/state as a number, or -1 if absent or not a number. */
static int read_state(struct hostile *h, const char *dir)
{
	char *v = read_key(h, dir, PVRING_XS_STATE), *end;
	long s = -1;

	if (v) {
		s = strtol(v, &end, 10);
		if (end == v || *end || s < 0 || s > 255)
			s = -1;
		free(v);
	}
	return (int)s;
}

static bool write_fe(struct hostile *h, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool write_fe(struct hostile *h, const char *key, const char *fmt, ...)
{
	char path[256], value[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", h->fe, key);
	if (!xs_write(h->xs, XBT_NULL, path, value, (unsigned int)strlen(value))) {
		setup_error("cannot write %s = %s: %s", path, value, strerror(errno));
		return false;
	}
	return true;
}

/* Wait up to WAIT_SECONDS for the back end's state to be A or B; returns the last state read. */
static int wait_be_state(struct hostile *h, int a, int b)
{
	int s = -1, i;

	for (i = 0; i < WAIT_SECONDS * (1000000 / POLL_US); i++) {
		s = read_state(h, h->be);
		if (s == a || s == b)
			break;
		usleep(POLL_US);
	}
	return s;
}

/* The back end's directory, from the front end's "backend" key (waits for it to appear). */
static bool find_backend(struct hostile *h)
{
	int i;

	for (i = 0; i < WAIT_SECONDS * (1000000 / POLL_US); i++) {
		h->be = read_key(h, h->fe, PVRING_XS_BACKEND);
		if (h->be && h->be[0])
			return true;
		free(h->be);
		h->be = NULL;
		usleep(POLL_US);
	}
	setup_error("%s/%s is absent", h->fe, PVRING_XS_BACKEND);
	return false;
}

/* This guest's domain id: the store's relative "domid", else the N of /local/domain/N/. */
static bool self_domid(struct hostile *h, uint32_t *domid)
{
	unsigned int len;
	char *v = xs_read(h->xs, XBT_NULL, "domid", &len), *end;
	unsigned long id;

	if (v) {
		id = strtoul(v, &end, 10);
		if (end != v && !*end && id < 0x7ff0) {
			free(v);
			*domid = (uint32_t)id;
			return true;
		}
		free(v);
	}
	if (sscanf(h->fe, "/local/domain/%lu/", &id) == 1 && id < 0x7ff0) {
		*domid = (uint32_t)id;
		return true;
	}
	setup_error("cannot tell this guest's domain id (no \"domid\" key, and %s is not under "
		    "/local/domain/N/)",
		    h->fe);
	return false;
}

/* One page shared writable with dom0, initialised as an empty ring; an unbound port for dom0. */
static bool make_ring(struct hostile *h)
{
	h->gs = xengntshr_open(NULL, 0);
	if (!h->gs) {
		setup_error("xengntshr_open (/dev/xen/gntalloc): %s", strerror(errno));
		return false;
	}
	h->xe = xenevtchn_open(NULL, 0);
	if (!h->xe) {
		setup_error("xenevtchn_open (/dev/xen/evtchn): %s", strerror(errno));
		return false;
	}
	h->sring = xengntshr_share_pages(h->gs, 0, 1, &h->ref, 1);
	if (!h->sring) {
		setup_error("xengntshr_share_pages: %s", strerror(errno));
		return false;
	}
	memset(h->sring, 0, PVRING_PAGE_SIZE);
	/* An empty ring: nothing produced, each end wants a kick for the first message. */
	pvring_store_relaxed(&h->sring->req_prod, 0);
	pvring_store_relaxed(&h->sring->rsp_prod, 0);
	pvring_store_relaxed(&h->sring->req_event, 1);
	/* The header must be in memory before the ring-ref that names it reaches the store. */
	pvring_store_release(&h->sring->rsp_event, 1);
	h->port = xenevtchn_bind_unbound_port(h->xe, 0);
	if (h->port < 0) {
		setup_error("xenevtchn_bind_unbound_port for domain 0: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Publish ring-ref, event-channel and protocol as MODE wants them, then Initialised. */
static bool publish(struct hostile *h)
{
	uint32_t ref = h->ref, self;
	int port = h->port;

	if (h->mode == MODE_BAD_REF)
		ref += BAD_REF_OFFSET;
	if (h->mode == MODE_BAD_EVTCHN) {
		if (!self_domid(h, &self))
			return false;
		h->self_port = xenevtchn_bind_unbound_port(h->xe, self);
		if (h->self_port < 0) {
			setup_error("xenevtchn_bind_unbound_port for domain %u (itself): %s", self,
				    strerror(errno));
			return false;
		}
		port = h->self_port;
		fprintf(stderr, "hostile_front: port %d is unbound for domain %u, not 0\n", port,
			self);
	}
	fprintf(stderr, "hostile_front: ring-ref %u (granted: %u), event-channel %d\n", ref, h->ref,
		port);
	return write_fe(h, PVRING_XS_RING_REF, "%u", ref) &&
	       write_fe(h, PVRING_XS_EVENT_CHANNEL, "%d", port) &&
	       write_fe(h, PVRING_XS_PROTOCOL, "%s", PVRING_XS_PROTOCOL_X86_64) &&
	       write_fe(h, PVRING_XS_STATE, "%d", PVRING_XENBUS_INITIALISED);
}

/* prod-ahead: once Connected, claim 1000 requests on a 32-slot ring and kick. */
static int prod_ahead(struct hostile *h)
{
	int s = wait_be_state(h, PVRING_XENBUS_CONNECTED, PVRING_XENBUS_CONNECTED);

	if (s != PVRING_XENBUS_CONNECTED) {
		setup_error("the back end's state is %d, not Connected (4), after %d s", s,
			    WAIT_SECONDS);
		return -1;
	}
	/* Slots before the index, as a real front end orders them (there are none to see). */
	atomic_thread_fence(memory_order_release);
	pvring_store_release(&h->sring->req_prod, BAD_REQ_PROD);
	if (xenevtchn_notify(h->xe, (evtchn_port_t)h->port)) {
		setup_error("xenevtchn_notify port %d: %s", h->port, strerror(errno));
		return -1;
	}
	fprintf(stderr, "hostile_front: req_prod = %u, kicked port %d\n", BAD_REQ_PROD, h->port);
	return 0;
}

static void release(struct hostile *h)
{
	if (h->xs && h->be)
		write_fe(h, PVRING_XS_STATE, "%d", PVRING_XENBUS_CLOSED);
	if (h->xe) {
		if (h->self_port >= 0)
			xenevtchn_unbind(h->xe, (evtchn_port_t)h->self_port);
		if (h->port >= 0)
			xenevtchn_unbind(h->xe, (evtchn_port_t)h->port);
		xenevtchn_close(h->xe);
	}
	/* gntalloc keeps the page until dom0 has unmapped it. */
	if (h->sring)
		xengntshr_unshare(h->gs, h->sring, 1);
	if (h->gs)
		xengntshr_close(h->gs);
	free(h->be);
	if (h->xs)
		xs_close(h->xs);
}

int main(int argc, char **argv)
{
	struct hostile h = { .port = -1, .self_port = -1 };
	int rc = 2, s;
	unsigned int i;
	char *err;

	if (argc != 3) {
		usage();
		return 2;
	}
	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(argv[1], mode_names[i]))
			break;
	if (i == sizeof(mode_names) / sizeof(mode_names[0])) {
		usage();
		return 2;
	}
	h.mode = (enum mode)i;
	h.fe = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);

	h.xs = xs_open(0);
	if (!h.xs) {
		setup_error("xs_open (/dev/xen/xenbus): %s", strerror(errno));
		goto out;
	}
	if (!find_backend(&h))
		goto out;
	s = wait_be_state(&h, PVRING_XENBUS_INIT_WAIT, PVRING_XENBUS_INIT_WAIT);
	if (s != PVRING_XENBUS_INIT_WAIT) {
		setup_error("%s/state is %d, not InitWait (2), after %d s", h.be, s, WAIT_SECONDS);
		goto out;
	}
	if (!make_ring(&h) || !publish(&h))
		goto out;
	if (h.mode == MODE_PROD_AHEAD && prod_ahead(&h))
		goto out;

	s = wait_be_state(&h, PVRING_XENBUS_CLOSING, PVRING_XENBUS_CLOSED);
	err = read_key(&h, h.be, "pvring-error");
	printf("hostile_front: %s: back end state %d, pvring-error: %s\n", mode_names[h.mode], s,
	       err ? err : "(none)");
	free(err);
	rc = s == PVRING_XENBUS_CLOSING || s == PVRING_XENBUS_CLOSED ? 0 : 1;
out:
	release(&h);
	return rc;
}
