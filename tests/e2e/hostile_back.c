// SPDX-License-Identifier: MIT
/*
 * hostile_back: a dom0 block back end that misbehaves toward a pvblk front end, for the
 * real-Xen end-to-end suite. It uses pvringd's own xen platform layer (grant mapping, event
 * channels, the store) and common/ring, and offers the guest one pvblk disk:
 *
 *   hostile_back MODE DOMID DEVID
 *
 * It writes both store directories (the back end under backend/pvring-hostile/, in InitWait,
 * one queue of one page), waits for the front end's rings, goes Connected, and answers the
 * first request the guest sends (its partition scan) with:
 *
 *   bad-id       a response whose id is no request in flight
 *   duplicate    a proper response (no data moved: the guest reads zeros), then the same again,
 *                written into the ring past the requests published
 *   bad-status   status 7, which the protocol does not define
 *   wrong-op     the op of a write to a read
 *   silent       nothing at all: the front end's request timeout must close the device
 *
 * Then it waits for the front end to close (Closing or Closed, as pvblk does when a back end
 * breaks the protocol) and prints
 *   hostile_back: MODE: front end state N, error: REASON|(none)
 * where REASON is what the front end wrote to the store (xenbus_dev_fatal). Exit status: 0 the
 * front end closed, 1 it did not within 60 s, 2 setup error. It removes both directories before
 * it exits.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "common/proto/pvring_blkif.h"
#include "common/proto/pvring_xenbus.h"
#include "common/ring/pvring_ring.h"
#include "daemon/ctl_fields.h"
#include "daemon/number.h"
#include "daemon/platform/platform.h"

#define WAIT_MS 60000
#define POLL_MS 100
#define SECTORS 65536u
/* An id far from any blk-mq tag of a one-page ring (32 slots, so tags 0..31). */
#define BAD_ID 100000u
#define BAD_STATUS 7

enum mode { MODE_BAD_ID, MODE_DUPLICATE, MODE_BAD_STATUS, MODE_WRONG_OP, MODE_SILENT };

static const char *const mode_names[] = {
	[MODE_BAD_ID] = "bad-id",	  [MODE_DUPLICATE] = "duplicate",
	[MODE_BAD_STATUS] = "bad-status", [MODE_WRONG_OP] = "wrong-op",
	[MODE_SILENT] = "silent",
};

struct hostile {
	enum mode mode;
	struct pvring_platform *p;
	struct pvring_evtchn *evtchn;
	struct xs_handle *xs;
	uint32_t domid, devid;
	char fe[96], be[96];
	uint32_t ref;
	struct pvring_mapping ring_map;
	int port; /* local port, or -1 */
	struct pvring_back ring;
};

static void setup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void setup_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hostile_back: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static char *read_key(struct hostile *h, const char *dir, const char *key)
{
	unsigned int len;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_read(h->xs, XBT_NULL, path, &len);
}

/* A number key, or -1 if absent or not a number. */
static long read_number(struct hostile *h, const char *dir, const char *key)
{
	char *s = read_key(h, dir, key);
	uint64_t v;
	long ret = -1;

	if (s && !pvring_parse_u64(s, UINT32_MAX, &v))
		ret = (long)v;
	free(s);
	return ret;
}

static bool write_key(struct hostile *h, xs_transaction_t t, const char *dir, const char *key,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static bool write_key(struct hostile *h, xs_transaction_t t, const char *dir, const char *key,
		      const char *fmt, ...)
{
	char path[256], value[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_write(h->xs, t, path, value, strlen(value));
}

static bool make_dir(struct hostile *h, xs_transaction_t t, const char *dir, uint32_t owner,
		     uint32_t reader)
{
	struct xs_permissions perms[2] = { { .id = owner, .perms = XS_PERM_NONE },
					   { .id = reader, .perms = XS_PERM_READ } };

	return xs_mkdir(h->xs, t, dir) && xs_set_permissions(h->xs, t, dir, perms, 2);
}

/* Both directories, as pvringd's attach writes them: the back end offering one small queue. */
static bool offer(struct hostile *h, uint32_t devid)
{
	xs_transaction_t t;
	bool ok;

again:
	t = xs_transaction_start(h->xs);
	if (t == XBT_NULL)
		return false;
	ok = make_dir(h, t, h->fe, h->domid, 0) &&
	     write_key(h, t, h->fe, PVRING_XS_BACKEND, "%s", h->be) &&
	     write_key(h, t, h->fe, PVRING_XS_BACKEND_ID, "0") &&
	     write_key(h, t, h->fe, "virtual-device", "%u", devid) &&
	     write_key(h, t, h->fe, PVRING_XS_STATE, "%u", PVRING_XENBUS_INITIALISING) &&
	     make_dir(h, t, h->be, 0, h->domid) &&
	     write_key(h, t, h->be, PVRING_XS_FRONTEND, "%s", h->fe) &&
	     write_key(h, t, h->be, PVRING_XS_FRONTEND_ID, "%u", h->domid) &&
	     write_key(h, t, h->be, PVRING_XS_MAX_RING_PAGE_ORDER, "0") &&
	     write_key(h, t, h->be, PVRING_XS_MAX_QUEUES, "1") &&
	     write_key(h, t, h->be, PVRING_XS_SECTORS, "%u", SECTORS) &&
	     write_key(h, t, h->be, PVRING_XS_SECTOR_SIZE, "512") &&
	     write_key(h, t, h->be, PVRING_XS_INFO, "0") &&
	     write_key(h, t, h->be, PVRING_XS_STATE, "%u", PVRING_XENBUS_INIT_WAIT);
	if (!xs_transaction_end(h->xs, t, !ok)) {
		if (ok && errno == EAGAIN)
			goto again;
		return false;
	}
	return ok;
}

/* Wait until the front end's state is at least min (or the wait ends); the state seen. */
static long wait_fe_state(struct hostile *h, long min)
{
	long state = -1;
	int waited;

	for (waited = 0; waited < WAIT_MS; waited += POLL_MS) {
		state = read_number(h, h->fe, PVRING_XS_STATE);
		if (state >= min)
			break;
		usleep(POLL_MS * 1000);
	}
	return state;
}

static bool connect_ring(struct hostile *h)
{
	const struct pvring_layout layout =
		PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);
	long ref = read_number(h, h->fe, PVRING_XS_RING_REF);
	long port = read_number(h, h->fe, PVRING_XS_EVENT_CHANNEL);
	const char *why = NULL;

	if (ref < 0 || port < 0) {
		setup_error("%s has no ring-ref or event-channel", h->fe);
		return false;
	}
	h->ref = (uint32_t)ref;
	if (pvring_map(h->p, h->domid, 1, &h->ref, true, &h->ring_map, &why)) {
		setup_error("cannot map ring-ref %ld: %s", ref, why ? why : "?");
		return false;
	}
	if (!pvring_back_attach(&h->ring, h->ring_map.addr, 0, &layout)) {
		setup_error("cannot attach to the ring");
		return false;
	}
	h->port = pvring_evtchn_bind(h->evtchn, h->domid, (uint32_t)port);
	if (h->port < 0) {
		setup_error("cannot bind event channel %ld: %s", port, strerror(-h->port));
		return false;
	}
	return write_key(h, XBT_NULL, h->be, PVRING_XS_STATE, "%u", PVRING_XENBUS_CONNECTED);
}

/* The first request the guest sends; false if none came. */
static bool first_request(struct hostile *h, union pvring_blkif_request *req)
{
	struct pollfd pfd = { .fd = pvring_evtchn_fd(h->evtchn), .events = POLLIN };
	int waited, port;

	for (waited = 0; waited < WAIT_MS; waited += POLL_MS) {
		if (pvring_back_consume(&h->ring, req))
			return true;
		if (poll(&pfd, 1, POLL_MS) > 0) {
			port = pvring_evtchn_pending(h->evtchn);
			if (port >= 0)
				pvring_evtchn_unmask(h->evtchn, (uint32_t)port);
		}
	}
	return false;
}

static void answer(struct hostile *h, uint64_t id, uint8_t op, int16_t status)
{
	struct pvring_blkif_response rsp = { .id = id, .op = op, .status = status };

	pvring_back_produce(&h->ring, &rsp);
}

/*
 * A response written straight into the shared page, past what common/ring would let a back end
 * produce (no more responses than requests consumed): a duplicate.
 */
static void raw_answer(struct hostile *h, uint64_t id, uint8_t op, int16_t status)
{
	struct pvring_blkif_response rsp = { .id = id, .op = op, .status = status };
	struct pvring_sring *sring = h->ring_map.addr;
	uint32_t prod = __atomic_load_n(&sring->rsp_prod, __ATOMIC_RELAXED);
	uint32_t slot = prod & (pvring_back_nr_slots(&h->ring) - 1);

	memcpy(sring->slots + (size_t)slot * h->ring.shape.slot_size, &rsp, sizeof(rsp));
	/* Release: the slot is written before the front end can see rsp_prod cover it. */
	__atomic_store_n(&sring->rsp_prod, prod + 1, __ATOMIC_RELEASE);
}

/* The misbehaviour of the mode, for the guest's first request. */
static void misbehave(struct hostile *h, const union pvring_blkif_request *req)
{
	uint8_t op = pvring_blkif_response_op(req);
	uint64_t id = req->rw.id; /* id is at the same place in every request */

	switch (h->mode) {
	case MODE_SILENT:
		/* The request stays unanswered, the ring untouched. */
		return;
	case MODE_BAD_ID:
		answer(h, BAD_ID, op, PVRING_BLKIF_RSP_OKAY);
		break;
	case MODE_DUPLICATE:
		answer(h, id, op, PVRING_BLKIF_RSP_OKAY);
		pvring_back_push(&h->ring);
		raw_answer(h, id, op, PVRING_BLKIF_RSP_OKAY);
		break;
	case MODE_BAD_STATUS:
		answer(h, id, op, BAD_STATUS);
		break;
	case MODE_WRONG_OP:
		answer(h, id,
		       op == PVRING_BLKIF_OP_READ ? PVRING_BLKIF_OP_WRITE : PVRING_BLKIF_OP_READ,
		       PVRING_BLKIF_RSP_OKAY);
		break;
	}
	pvring_back_push(&h->ring);
	/* Kicked whatever the event index says: the front end must look now. */
	pvring_evtchn_notify(h->evtchn, (uint32_t)h->port);
}

/* Where the front end's xenbus_dev_fatal() writes its reason. */
static void error_dir(const struct hostile *h, char *path, size_t len)
{
	snprintf(path, len, "/local/domain/%u/error/device/%s/%u", h->domid, PVRING_XS_TYPE_PVBLK,
		 h->devid);
}

static void release(struct hostile *h)
{
	char path[256];

	if (h->port >= 0)
		pvring_evtchn_unbind(h->evtchn, (uint32_t)h->port);
	pvring_unmap(h->p, &h->ring_map);
	xs_rm(h->xs, XBT_NULL, h->be);
	xs_rm(h->xs, XBT_NULL, h->fe);
	error_dir(h, path, sizeof(path));
	xs_rm(h->xs, XBT_NULL, path);
}

int main(int argc, char **argv)
{
	struct hostile h = { .port = -1 };
	union pvring_blkif_request req;
	uint64_t domid, devid;
	char path[160], *error;
	const char *why = NULL;
	long state;
	size_t m;
	int ret = 2;

	for (m = 0; argc == 4 && m < sizeof(mode_names) / sizeof(mode_names[0]); m++)
		if (!strcmp(argv[1], mode_names[m]))
			break;
	if (argc != 4 || m == sizeof(mode_names) / sizeof(mode_names[0]) ||
	    pvring_parse_u64(argv[2], 0x7fef, &domid) || !domid ||
	    pvring_parse_u64(argv[3], PVRING_CTL_DEVID_MAX, &devid)) {
		fprintf(stderr,
			"usage: hostile_back bad-id|duplicate|bad-status|wrong-op|silent DOMID "
			"DEVID\n");
		return 2;
	}
	h.mode = (enum mode)m;
	h.domid = (uint32_t)domid;
	h.devid = (uint32_t)devid;
	h.p = pvring_platform_xen_open(&why);
	if (!h.p) {
		setup_error("not a Xen control domain: %s", why ? why : "?");
		return 2;
	}
	h.evtchn = pvring_evtchn_open(h.p, &why);
	if (!h.evtchn) {
		setup_error("%s", why);
		pvring_platform_destroy(h.p);
		return 2;
	}
	h.xs = pvring_platform_store(h.p);
	snprintf(h.fe, sizeof(h.fe), "/local/domain/%u/device/%s/%u", h.domid, PVRING_XS_TYPE_PVBLK,
		 h.devid);
	snprintf(h.be, sizeof(h.be), "/local/domain/0/backend/pvring-hostile/%u/%u", h.domid,
		 h.devid);
	if (!offer(&h, h.devid)) {
		setup_error("cannot write the device to the store: %s", strerror(errno));
		goto out;
	}
	state = wait_fe_state(&h, PVRING_XENBUS_INITIALISED);
	if (state != PVRING_XENBUS_INITIALISED) {
		setup_error("the front end went to state %ld, not Initialised", state);
		goto out;
	}
	if (!connect_ring(&h))
		goto out;
	if (!first_request(&h, &req)) {
		setup_error("the guest sent no request");
		goto out;
	}
	misbehave(&h, &req);
	state = wait_fe_state(&h, PVRING_XENBUS_CLOSING);
	error_dir(&h, path, sizeof(path));
	error = read_key(&h, path, "error");
	printf("hostile_back: %s: front end state %ld, error: %s\n", mode_names[h.mode], state,
	       error ? error : "(none)");
	free(error);
	ret = state >= PVRING_XENBUS_CLOSING ? 0 : 1;
out:
	release(&h);
	pvring_evtchn_close(h.evtchn);
	pvring_platform_destroy(h.p);
	return ret;
}
