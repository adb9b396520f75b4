// SPDX-License-Identifier: MIT
/* A userspace blkfront for the local platform: see local_front.h. */
#include "config.h"

#include "local_front.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto/pvring_blkif_front.h"
#include "common/proto/pvring_xenbus.h"
#include "daemon/clock.h"
#include "daemon/number.h"
#include "tools/ctl_client.h"

struct pvring_local_front_tag {
	uint64_t cookie;
	uint8_t op;
	bool in_use;
	uint16_t nr_pages; /* data pages granted for this request (non-persistent) */
	uint16_t nr_indirect; /* indirect pages granted for it (non-persistent) */
};

/* How long a sleeping poll waits before it looks at the back end's state. */
#define POLL_SLICE_MS 100
/* The watch on the back end's state while connected: its token. */
#define BACKEND_WATCH "pvring-be"
/* How often a busy queue looks whether that watch fired. */
#define BACKEND_LOOK_NS 100000000ull

static int fail(struct pvring_local_front *front, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct pvring_local_front *front, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(front->error, sizeof(front->error), fmt, ap);
	va_end(ap);
	return err;
}

static unsigned int timeout_ms(const struct pvring_local_front *front)
{
	return front->opts.timeout_ms ? front->opts.timeout_ms : PVRING_LOCAL_FRONT_TIMEOUT_MS;
}

void pvring_local_front_opts_init(struct pvring_local_front_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->rundir = "/run/pvring";
	opts->devid = -1;
	opts->queues = 1;
	opts->max_inflight = 32;
	opts->data_pages = 32;
	opts->max_segments = PVRING_BLKIF_MAX_SEGMENTS;
	opts->persistent = true;
	opts->spin_us = 0;
}

const char *pvring_local_front_error(const struct pvring_local_front *front)
{
	return front->error[0] ? front->error : "no error";
}

/* ---- pvringd's control socket: one request, one reply line ---- */

static int ctl_request(struct pvring_local_front *front, struct json_object *req,
		       struct json_object **reply)
{
	struct pvring_ctl_client *c;
	enum pvring_ctl_status st;
	char path[160], err[256];

	*reply = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/pvringd.sock", front->opts.rundir) >=
	    sizeof(path))
		return fail(front, -ENAMETOOLONG, "control socket path too long");
	c = pvring_ctl_client_connect(path, err, sizeof(err));
	if (!c)
		return fail(front, errno ? -errno : -ECONNREFUSED, "%s", err);
	st = pvring_ctl_client_call(c, req, (int)timeout_ms(front), reply, err, sizeof(err));
	pvring_ctl_client_close(c);
	if (st == PVRING_CTL_OK)
		return 0;
	json_object_put(*reply);
	*reply = NULL;
	/* -EPERM: pvringd answered and said no; anything else: no proper answer. */
	return fail(front, st == PVRING_CTL_FAILED ? -EPERM : -EPROTO, "%s", err);
}

static const char *json_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int attach(struct pvring_local_front *front)
{
	struct json_object *req, *reply;
	const char *device, *be, *fe, *slash;
	uint64_t devid;
	int err;

	req = pvring_ctl_attach_request(front->opts.disk, front->guest.domid, front->opts.devid,
					false, NULL);
	if (!req)
		return fail(front, -ENOMEM, "out of memory");
	err = ctl_request(front, req, &reply);
	json_object_put(req);
	if (err == -EPERM) {
		char why[sizeof(front->error)];

		memcpy(why, front->error, sizeof(why));
		return fail(front, err, "pvringd refused to attach disk %s to dom%u: %s",
			    front->opts.disk, front->guest.domid, why);
	}
	if (err)
		return err;
	device = json_str(reply, "device");
	be = json_str(reply, "backend");
	fe = json_str(reply, "frontend");
	if (!device || !be || !fe || !(slash = strchr(device, '/')) ||
	    pvring_parse_u64(slash + 1, UINT32_MAX, &devid) ||
	    strlen(device) >= sizeof(front->device) || strlen(be) >= sizeof(front->be) ||
	    strlen(fe) >= sizeof(front->fe)) {
		err = fail(front, -EPROTO, "pvringd's attach reply lacks device/backend/frontend");
		goto out;
	}
	strcpy(front->device, device);
	strcpy(front->be, be);
	strcpy(front->fe, fe);
	front->devid = (uint32_t)devid;
out:
	json_object_put(reply);
	return err;
}

/* pvringd's reason for disconnecting our device, or an empty string. */
static void disconnect_reason(struct pvring_local_front *front, char *out, size_t len)
{
	struct json_object *req = json_object_new_object(), *reply, *dev;
	char saved[sizeof(front->error)];
	const char *reason = NULL;

	out[0] = '\0';
	/* ctl_request reports its own failures there: keep the real error. */
	memcpy(saved, front->error, sizeof(saved));
	json_object_object_add(req, "cmd", json_object_new_string("show"));
	json_object_object_add(req, "device", json_object_new_string(front->device));
	if (!ctl_request(front, req, &reply)) {
		if (json_object_object_get_ex(reply, "device", &dev))
			reason = json_str(dev, "reason");
		if (reason)
			snprintf(out, len, "%s", reason);
		json_object_put(reply);
	}
	json_object_put(req);
	memcpy(front->error, saved, sizeof(saved));
}

/* ---- store ---- */

static char *read_key(struct pvring_local_front *front, const char *dir, const char *key)
{
	char path[320];
	unsigned int len;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_read(front->xs, XBT_NULL, path, &len);
}

char *pvring_local_front_read_backend(struct pvring_local_front *front, const char *key)
{
	return read_key(front, front->be, key);
}

static uint64_t read_uint(struct pvring_local_front *front, const char *dir, const char *key,
			  uint64_t dflt)
{
	char *v = read_key(front, dir, key);
	uint64_t n;

	if (!v)
		return dflt;
	if (pvring_parse_u64(v, UINT64_MAX, &n))
		n = dflt;
	free(v);
	return n;
}

int pvring_local_front_write_key(struct pvring_local_front *front, xs_transaction_t xbt,
				 const char *key, const char *value)
{
	char path[320];

	snprintf(path, sizeof(path), "%s/%s", front->fe, key);
	if (!xs_write(front->xs, xbt, path, value, (unsigned int)strlen(value)))
		return fail(front, errno ? -errno : -EIO, "cannot write %s: %s", path,
			    strerror(errno));
	return 0;
}

static int write_uint(struct pvring_local_front *front, xs_transaction_t xbt, const char *key,
		      uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return pvring_local_front_write_key(front, xbt, key, buf);
}

static const char *state_name(uint32_t state)
{
	const char *name = pvring_xenbus_state_name(state);

	return name ? name : "?";
}

/*
 * Wait until the back end's state is want (or, for want Closed, until the
 * device is gone). A back end that goes Closing or Closed while we wait for
 * anything else has disconnected us: say why, do not wait for the timeout.
 */
static int wait_backend(struct pvring_local_front *front, uint32_t want)
{
	char path[320], seen_text[48] = "nothing (no state node)";
	uint64_t deadline = pvring_now_ns() + (uint64_t)timeout_ms(front) * 1000000u;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%s", front->be, PVRING_XS_STATE);
	if (!xs_watch(front->xs, path, "pvring-io"))
		return fail(front, -errno, "cannot watch %s: %s", path, strerror(errno));
	for (;;) {
		unsigned int len;
		char *v = xs_read(front->xs, XBT_NULL, path, &len);
		struct pollfd pfd = { .fd = xs_fileno(front->xs), .events = POLLIN };
		uint64_t now;
		char **ev;

		if (v) {
			uint64_t parsed;
			/* Not a number: a state no one knows, so not the one awaited. */
			uint32_t state = pvring_parse_u64(v, UINT32_MAX, &parsed)
						 ? UINT32_MAX
						 : (uint32_t)parsed;

			snprintf(seen_text, sizeof(seen_text), "%s (%u)", state_name(state), state);
			free(v);
			if (state == want)
				break;
			if (want < PVRING_XENBUS_CLOSING && state >= PVRING_XENBUS_CLOSING &&
			    state <= PVRING_XENBUS_CLOSED) {
				char reason[200];

				disconnect_reason(front, reason, sizeof(reason));
				err = fail(front, -ECONNRESET,
					   "back end %s went %s while we waited for %s (%u): %s",
					   front->be, seen_text, state_name(want), want,
					   reason[0] ? reason : "pvringd gave no reason");
				break;
			}
		} else if (want == PVRING_XENBUS_CLOSED && errno == ENOENT) {
			/* pvringd removed the device: as closed as it gets. */
			break;
		}
		now = pvring_now_ns();
		if (now >= deadline) {
			err = fail(
				front, -ETIMEDOUT,
				"timed out after %u ms waiting for back end %s to reach %s (%u); "
				"it is %s",
				timeout_ms(front), front->be, state_name(want), want, seen_text);
			break;
		}
		if (pfd.fd < 0) {
			err = fail(front, -EIO, "cannot get the store's watch descriptor");
			break;
		}
		if (poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000)) < 0 &&
		    errno != EINTR) {
			err = fail(front, -errno, "poll: %s", strerror(errno));
			break;
		}
		/* Only the wake-up matters: the state is read again above. */
		while ((ev = xs_check_watch(front->xs)))
			free(ev);
	}
	xs_unwatch(front->xs, path, "pvring-io");
	return err;
}

static int write_state(struct pvring_local_front *front, uint32_t state)
{
	return write_uint(front, XBT_NULL, PVRING_XS_STATE, state);
}

/* ---- open ---- */

uint32_t pvring_local_front_frame_ref(const struct pvring_local_front *front, uint32_t frame)
{
	return PVRING_LOCAL_FRONT_FIRST_REF + frame - front->guest.mem.table_frames;
}

void *pvring_local_front_frame(struct pvring_local_front *front, uint32_t frame)
{
	return pvring_local_mem_frame(&front->guest.mem, frame);
}

uint32_t pvring_local_front_spare_frame(const struct pvring_local_front *front)
{
	return front->spare_frame;
}

int pvring_local_front_open(struct pvring_local_front *front,
			    const struct pvring_local_front_opts *opts)
{
	struct pvring_layout layout =
		PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);
	uint32_t order, slots, tags, body, grants, table;
	char registry[160];
	const char *why = NULL;
	int err;

	memset(front, 0, sizeof(*front));
	front->opts = *opts;
	if (!opts->disk || !opts->rundir)
		return fail(front, -EINVAL, "no disk or run directory given");
	if (opts->queues < 1 || opts->queues > PVRING_LOCAL_FRONT_MAX_QUEUES)
		return fail(front, -EINVAL, "queues must be 1..%u", PVRING_LOCAL_FRONT_MAX_QUEUES);
	if (opts->ring_order > PVRING_MAX_ORDER)
		return fail(front, -EINVAL, "ring order must be 0..%u", PVRING_MAX_ORDER);
	if (opts->max_segments < 1 || opts->max_segments > PVRING_LOCAL_FRONT_MAX_SEGMENTS)
		return fail(front, -EINVAL, "max segments must be 1..%u",
			    PVRING_LOCAL_FRONT_MAX_SEGMENTS);
	if (opts->max_inflight < 1)
		return fail(front, -EINVAL, "need at least one request in flight");
	/*
	 * Memory is sized for what we ask; the back end may grant less (fewer
	 * queues, a smaller ring), never more, so this is an upper bound.
	 */
	order = opts->ring_order;
	slots = pvring_nr_slots(order, layout.slot_size);
	tags = opts->max_inflight < slots ? opts->max_inflight : slots;
	front->indirect_per_tag = opts->max_segments > PVRING_BLKIF_MAX_SEGMENTS
					  ? pvring_blkif_indirect_pages(opts->max_segments)
					  : 0;
	front->frames_per_queue = (1u << order) + opts->data_pages + tags * front->indirect_per_tag;
	body = opts->queues * front->frames_per_queue + opts->spare_frames;
	grants = PVRING_LOCAL_FRONT_FIRST_REF + body;
	table = (grants + PVRING_LOCAL_GRANTS_PER_FRAME - 1) / PVRING_LOCAL_GRANTS_PER_FRAME;
	/* The local hypervisor, in pvring-stored, keeps the guests: pvringd may come and go. */
	if ((size_t)snprintf(registry, sizeof(registry), "%s/store/registry", opts->rundir) >=
	    sizeof(registry))
		return fail(front, -ENAMETOOLONG, "run directory path too long");
	err = pvring_local_guest_register(&front->guest, registry, table + body, table, &why);
	if (err)
		return fail(front, err, "cannot register with the local hypervisor at %s: %s (%s)",
			    registry, why, strerror(-err));
	front->registered = true;
	front->spare_frame = table + opts->queues * front->frames_per_queue;
	err = attach(front);
	if (err)
		return err;
	if (setenv("XENSTORED_PATH", front->guest.store_socket, 1))
		return fail(front, -errno, "setenv: %s", strerror(errno));
	front->xs = xs_open(XS_OPEN_SOCKETONLY);
	if (!front->xs)
		return fail(front, -errno, "cannot open the store at %s: %s",
			    front->guest.store_socket, strerror(errno));
	return 0;
}

/* ---- connect ---- */

static int setup_queue(struct pvring_local_front *front, unsigned int qi)
{
	struct pvring_local_front_queue *q = &front->queues[qi];
	struct pvring_layout layout =
		PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);
	uint32_t i, pages = 1u << front->ring_order;
	int err;

	q->index = qi;
	q->port.kick_back = q->port.kick_front = -1;
	pvring_spin_init(&q->spin, front->opts.spin_us * 1000u);
	q->ring_frame = front->guest.mem.table_frames + qi * front->frames_per_queue;
	q->data_frame = q->ring_frame + (1u << front->opts.ring_order);
	q->indirect_frame = q->data_frame + front->opts.data_pages;
	if (!pvring_front_init(&q->ring, pvring_local_front_frame(front, q->ring_frame),
			       front->ring_order, &layout, 0))
		return fail(front, -EINVAL, "cannot lay out a ring of order %u", front->ring_order);
	q->nr_tags = pvring_front_nr_slots(&q->ring);
	if (q->nr_tags > front->opts.max_inflight)
		q->nr_tags = front->opts.max_inflight;
	q->tags = calloc(q->nr_tags, sizeof(*q->tags));
	q->free_tags = calloc(q->nr_tags, sizeof(*q->free_tags));
	q->tag_pages = calloc((size_t)q->nr_tags * front->max_segments, sizeof(*q->tag_pages));
	q->staged = calloc(q->nr_tags, sizeof(*q->staged));
	q->rsps = calloc(pvring_front_nr_slots(&q->ring), sizeof(*q->rsps));
	if (!q->tags || !q->free_tags || !q->tag_pages || !q->staged || !q->rsps)
		return fail(front, -ENOMEM, "out of memory");
	/* Handed out from the top of the stack: tag 0 first. */
	for (i = 0; i < q->nr_tags; i++)
		q->free_tags[i] = q->nr_tags - 1 - i;
	q->nr_free = q->nr_tags;
	for (i = 0; i < pages; i++) {
		err = pvring_local_grant(&front->guest.mem,
					 pvring_local_front_frame_ref(front, q->ring_frame + i), 0,
					 q->ring_frame + i, false);
		if (err)
			return fail(front, err, "cannot grant ring page %u of queue %u", i, qi);
	}
	if (front->persistent) {
		for (i = 0; i < front->opts.data_pages; i++) {
			err = pvring_local_grant(
				&front->guest.mem,
				pvring_local_front_frame_ref(front, q->data_frame + i), 0,
				q->data_frame + i, false);
			if (err)
				return fail(front, err, "cannot grant data page %u", i);
		}
		for (i = 0; i < q->nr_tags * front->indirect_per_tag; i++) {
			err = pvring_local_grant(
				&front->guest.mem,
				pvring_local_front_frame_ref(front, q->indirect_frame + i), 0,
				q->indirect_frame + i, true);
			if (err)
				return fail(front, err, "cannot grant indirect page %u", i);
		}
	}
	/* Port numbers only need to be unique within this guest. */
	err = pvring_local_guest_port_alloc(&q->port, qi + 1);
	if (err)
		return fail(front, err, "cannot allocate an event channel: %s", strerror(-err));
	err = pvring_local_guest_offer_port(&front->guest, &q->port);
	if (err)
		return fail(front, err, "pvringd refused event channel %u: %s", q->port.port,
			    strerror(-err));
	return 0;
}

static int write_queue_keys(struct pvring_local_front *front, xs_transaction_t xbt, unsigned int qi)
{
	struct pvring_local_front_queue *q = &front->queues[qi];
	char key[64], prefix[24] = "";
	uint32_t i;
	int err;

	if (front->nr_queues > 1)
		snprintf(prefix, sizeof(prefix), "%s%u/", PVRING_XS_QUEUE_DIR, qi);
	if (front->ring_order == 0) {
		snprintf(key, sizeof(key), "%s%s", prefix, PVRING_XS_RING_REF);
		err = write_uint(front, xbt, key,
				 pvring_local_front_frame_ref(front, q->ring_frame));
		if (err)
			return err;
	}
	for (i = 0; front->ring_order > 0 && i < (1u << front->ring_order); i++) {
		snprintf(key, sizeof(key), "%s%s%u", prefix, PVRING_XS_RING_REF, i);
		err = write_uint(front, xbt, key,
				 pvring_local_front_frame_ref(front, q->ring_frame + i));
		if (err)
			return err;
	}
	snprintf(key, sizeof(key), "%s%s", prefix, PVRING_XS_EVENT_CHANNEL);
	return write_uint(front, xbt, key, q->port.port);
}

static int publish(struct pvring_local_front *front)
{
	unsigned int attempt, qi;
	int err = 0;

	for (attempt = 0; attempt < 16; attempt++) {
		xs_transaction_t xbt = xs_transaction_start(front->xs);

		if (xbt == XBT_NULL)
			return fail(front, -errno, "cannot start a store transaction: %s",
				    strerror(errno));
		if (front->ring_order > 0)
			err = write_uint(front, xbt, PVRING_XS_RING_PAGE_ORDER, front->ring_order);
		if (!err && front->nr_queues > 1)
			err = write_uint(front, xbt, PVRING_XS_NUM_QUEUES, front->nr_queues);
		for (qi = 0; !err && qi < front->nr_queues; qi++)
			err = write_queue_keys(front, xbt, qi);
		if (!err)
			err = pvring_local_front_write_key(front, xbt, PVRING_XS_PROTOCOL,
							   PVRING_XS_PROTOCOL_X86_64);
		if (!err)
			err = pvring_local_front_write_key(front, xbt, PVRING_XS_FEATURE_PERSISTENT,
							   front->persistent ? "1" : "0");
		if (!err && front->opts.before_initialised &&
		    front->opts.before_initialised(front, xbt, front->opts.hook_arg))
			err = fail(front, -ECANCELED, "the before-Initialised hook failed");
		if (!err)
			err = write_uint(front, xbt, PVRING_XS_STATE, PVRING_XENBUS_INITIALISED);
		if (err) {
			xs_transaction_end(front->xs, xbt, true);
			return err;
		}
		if (xs_transaction_end(front->xs, xbt, false))
			return 0;
		if (errno != EAGAIN)
			return fail(front, -errno, "cannot commit the store transaction: %s",
				    strerror(errno));
	}
	return fail(front, -EAGAIN, "store transaction kept conflicting");
}

static void read_features(struct pvring_local_front *front)
{
	struct pvring_local_front_backend *b = &front->backend;

	b->flush = read_uint(front, front->be, PVRING_XS_FEATURE_FLUSH, 0) == 1;
	b->barrier = read_uint(front, front->be, PVRING_XS_FEATURE_BARRIER, 0) == 1;
	b->discard = read_uint(front, front->be, PVRING_XS_FEATURE_DISCARD, 0) == 1;
	b->persistent = read_uint(front, front->be, PVRING_XS_FEATURE_PERSISTENT, 0) == 1;
	b->max_indirect_segments =
		(uint32_t)read_uint(front, front->be, PVRING_XS_FEATURE_MAX_INDIRECT, 0);
}

int pvring_local_front_connect(struct pvring_local_front *front)
{
	struct pvring_local_front_backend *b = &front->backend;
	char path[320];
	unsigned int qi;
	int err;

	err = wait_backend(front, PVRING_XENBUS_INIT_WAIT);
	if (err)
		return err;
	b->max_ring_order = (uint32_t)read_uint(front, front->be, PVRING_XS_MAX_RING_PAGE_ORDER, 0);
	b->max_queues = (uint32_t)read_uint(front, front->be, PVRING_XS_MAX_QUEUES, 1);
	read_features(front);
	front->ring_order = front->opts.ring_order < b->max_ring_order ? front->opts.ring_order
								       : b->max_ring_order;
	front->nr_queues = front->opts.queues < b->max_queues ? front->opts.queues : b->max_queues;
	if (front->nr_queues < 1)
		front->nr_queues = 1;
	front->persistent = front->opts.persistent && b->persistent;
	front->max_segments = PVRING_BLKIF_MAX_SEGMENTS;
	if (front->indirect_per_tag && b->max_indirect_segments > PVRING_BLKIF_MAX_SEGMENTS)
		front->max_segments = b->max_indirect_segments < front->opts.max_segments
					      ? b->max_indirect_segments
					      : front->opts.max_segments;
	if (front->max_segments > front->opts.max_segments)
		front->max_segments = front->opts.max_segments;
	for (qi = 0; qi < front->nr_queues; qi++) {
		err = setup_queue(front, qi);
		if (err)
			return err;
	}
	err = publish(front);
	if (err)
		return err;
	err = wait_backend(front, PVRING_XENBUS_CONNECTED);
	if (err)
		return err;
	b->sectors = read_uint(front, front->be, PVRING_XS_SECTORS, 0);
	b->sector_size = (uint32_t)read_uint(front, front->be, PVRING_XS_SECTOR_SIZE, 512);
	b->info = (uint32_t)read_uint(front, front->be, PVRING_XS_INFO, 0);
	b->read_only = b->info & PVRING_VDISK_READONLY;
	read_features(front);
	err = write_state(front, PVRING_XENBUS_CONNECTED);
	if (err)
		return err;
	front->connected = true;
	/*
	 * A back end going Closing asks us to let go (pvringd serves on until we do): busy
	 * queues learn it from a watch, as blkfront does, and never wait on the store to carry
	 * on with their I/O.
	 */
	snprintf(path, sizeof(path), "%s/%s", front->be, PVRING_XS_STATE);
	if (!xs_watch(front->xs, path, BACKEND_WATCH))
		return fail(front, -errno, "cannot watch %s: %s", path, strerror(errno));
	return 0;
}

/* Whether the back end's state may have changed since q last looked (its watch fired). */
static bool backend_changed(struct pvring_local_front *front, struct pvring_local_front_queue *q)
{
	unsigned int gen;
	char **ev;

	/*
	 * Never blocks: the library's reader thread queues what fired. Whichever queue's thread
	 * takes the event, every queue sees the generation move.
	 */
	while ((ev = xs_check_watch(front->xs))) {
		atomic_fetch_add(&front->backend_gen, 1);
		free(ev);
	}
	gen = atomic_load(&front->backend_gen);
	if (gen == q->backend_seen)
		return false;
	q->backend_seen = gen;
	return true;
}

/* ---- data path ---- */

void *pvring_local_front_data(struct pvring_local_front *front, unsigned int queue, uint32_t page)
{
	return pvring_local_front_frame(front, front->queues[queue].data_frame + page);
}

uint32_t pvring_local_front_inflight(const struct pvring_local_front *front, unsigned int queue)
{
	const struct pvring_local_front_queue *q = &front->queues[queue];

	return q->nr_tags - q->nr_free;
}

static void ungrant_pages(struct pvring_local_front *front, struct pvring_local_front_queue *q,
			  const uint32_t *pages, uint32_t n)
{
	while (n--)
		pvring_local_end_grant(&front->guest.mem, pvring_local_front_frame_ref(
								  front, q->data_frame + pages[n]));
}

int pvring_local_front_submit(struct pvring_local_front *front, unsigned int queue,
			      const struct pvring_local_front_io *io)
{
	struct pvring_local_front_queue *q = &front->queues[queue];
	struct pvring_blkif_segment *seg;
	union pvring_blkif_request *req;
	struct pvring_local_front_tag *tag;
	uint32_t nsegs = 0, i, t, left = io->nr_sectors, ind = 0;
	uint32_t indirect_grefs[PVRING_BLKIF_MAX_INDIRECT_PAGES] = { 0 };
	void *indirect_pages[PVRING_BLKIF_MAX_INDIRECT_PAGES] = { NULL };
	bool data = io->op == PVRING_BLKIF_OP_READ || io->op == PVRING_BLKIF_OP_WRITE;
	bool readonly = io->op != PVRING_BLKIF_OP_READ;
	int err;

	if (io->op == PVRING_BLKIF_OP_DISCARD) {
		data = false;
	} else if (data || io->op == PVRING_BLKIF_OP_FLUSH_DISKCACHE ||
		   io->op == PVRING_BLKIF_OP_WRITE_BARRIER) {
		nsegs = (io->nr_sectors + PVRING_BLKIF_SECTORS_PER_PAGE - 1) /
			PVRING_BLKIF_SECTORS_PER_PAGE;
		if ((data && nsegs == 0) || nsegs > front->max_segments ||
		    (!data && nsegs > PVRING_BLKIF_MAX_SEGMENTS))
			return fail(front, -E2BIG, "%u segments: this request needs 1..%u", nsegs,
				    data ? front->max_segments : PVRING_BLKIF_MAX_SEGMENTS);
	} else {
		return fail(front, -EINVAL, "operation %u is not supported", io->op);
	}
	for (i = 0; i < nsegs; i++)
		if (io->pages[i] >= front->opts.data_pages)
			return fail(front, -EINVAL, "data page %u past the pool", io->pages[i]);
	if (!q->nr_free)
		return -EAGAIN;
	t = q->free_tags[q->nr_free - 1];
	tag = &q->tags[t];
	req = &q->staged[q->nr_staged];
	if (io->op == PVRING_BLKIF_OP_DISCARD) {
		pvring_blkif_front_discard(req, (uint16_t)front->devid, t, io->sector,
					   io->nr_sectors, false);
	} else {
		if (pvring_blkif_front_is_indirect(nsegs))
			ind = pvring_blkif_indirect_pages(nsegs);
		for (i = 0; i < ind; i++) {
			uint32_t frame = q->indirect_frame + t * front->indirect_per_tag + i;

			indirect_grefs[i] = pvring_local_front_frame_ref(front, frame);
			indirect_pages[i] = pvring_local_front_frame(front, frame);
		}
		/* The op and the count were checked above. */
		pvring_blkif_front_rw(req, io->op, (uint16_t)front->devid, t, io->sector, nsegs,
				      indirect_grefs);
	}
	for (i = 0; i < nsegs; i++) {
		uint32_t n =
			left < PVRING_BLKIF_SECTORS_PER_PAGE ? left : PVRING_BLKIF_SECTORS_PER_PAGE;

		seg = pvring_blkif_front_segment_at(req, indirect_pages, i);
		pvring_blkif_front_segment(
			seg, pvring_local_front_frame_ref(front, q->data_frame + io->pages[i]), 0,
			n << PVRING_BLKIF_SECTOR_SHIFT);
		left -= n;
		if (front->persistent)
			continue;
		err = pvring_local_grant(&front->guest.mem, seg->gref, 0,
					 q->data_frame + io->pages[i], readonly);
		if (err) {
			ungrant_pages(front, q, io->pages, i);
			return fail(front, err,
				    "cannot grant data page %u (is it in two requests?)",
				    io->pages[i]);
		}
	}
	for (i = 0; !front->persistent && i < ind; i++) {
		err = pvring_local_grant(&front->guest.mem, req->indirect.indirect_grefs[i], 0,
					 q->indirect_frame + t * front->indirect_per_tag + i, true);
		if (err) {
			while (i--)
				pvring_local_end_grant(&front->guest.mem,
						       req->indirect.indirect_grefs[i]);
			ungrant_pages(front, q, io->pages, nsegs);
			return fail(front, err, "cannot grant an indirect page");
		}
	}
	if (!front->persistent && nsegs)
		memcpy(q->tag_pages + (size_t)t * front->max_segments, io->pages,
		       nsegs * sizeof(*io->pages));
	tag->cookie = io->cookie;
	tag->op = io->op;
	tag->in_use = true;
	tag->nr_pages = front->persistent ? 0 : (uint16_t)nsegs;
	tag->nr_indirect = front->persistent ? 0 : (uint16_t)ind;
	q->nr_free--;
	q->nr_staged++;
	return 0;
}

int pvring_local_front_flush(struct pvring_local_front *front, unsigned int queue)
{
	struct pvring_local_front_queue *q = &front->queues[queue];
	uint32_t n;

	if (!q->nr_staged)
		return 0;
	/* Never short: tags in flight, staged or not, never outnumber the slots. */
	n = pvring_front_produce_batch(&q->ring, q->staged, q->nr_staged);
	q->requests += n;
	q->nr_staged = 0;
	if (pvring_front_push(&q->ring)) {
		int err = pvring_local_guest_port_notify(&q->port);

		if (err)
			return fail(front, err, "cannot kick the back end: %s", strerror(-err));
		q->kicks_sent++;
	}
	return 0;
}

static int complete(struct pvring_local_front *front, struct pvring_local_front_queue *q,
		    const struct pvring_blkif_response *rsp,
		    struct pvring_local_front_completion *done)
{
	struct pvring_local_front_tag *tag;
	uint32_t i;

	if (rsp->id >= q->nr_tags || !q->tags[rsp->id].in_use)
		return fail(front, -EPROTO,
			    "queue %u: back end answered id %" PRIu64 ", which is not in flight",
			    q->index, rsp->id);
	tag = &q->tags[rsp->id];
	/* As stock blkfront checks: the op it sent (an indirect's indirect_op), a known status. */
	switch (pvring_blkif_front_check_response(rsp, tag->op)) {
	case PVRING_BLKIF_RSP_VALID:
		break;
	case PVRING_BLKIF_RSP_EWRONG_OP:
		return fail(front, -EPROTO,
			    "queue %u: response to id %" PRIu64
			    " has wrong operation (%u instead of %u)",
			    q->index, rsp->id, rsp->op, tag->op);
	case PVRING_BLKIF_RSP_EBAD_STATUS:
		return fail(front, -EPROTO, "queue %u: response to id %" PRIu64 " has status %d",
			    q->index, rsp->id, rsp->status);
	}
	for (i = 0; i < tag->nr_pages; i++) {
		uint32_t page = q->tag_pages[(size_t)rsp->id * front->max_segments + i];
		uint32_t ref = pvring_local_front_frame_ref(front, q->data_frame + page);
		int err = pvring_local_end_grant(&front->guest.mem, ref);

		if (err)
			return fail(
				front, -EPROTO,
				"queue %u: cannot end grant %u after its response (%s): the back "
				"end still maps it",
				q->index, ref, strerror(-err));
	}
	for (i = 0; i < tag->nr_indirect; i++) {
		uint32_t ref = pvring_local_front_frame_ref(
			front, q->indirect_frame + (uint32_t)rsp->id * front->indirect_per_tag + i);
		int err = pvring_local_end_grant(&front->guest.mem, ref);

		if (err)
			return fail(
				front, -EPROTO,
				"queue %u: cannot end indirect grant %u after its response (%s)",
				q->index, ref, strerror(-err));
	}
	done->cookie = tag->cookie;
	done->op = tag->op;
	done->status = rsp->status;
	tag->in_use = false;
	q->free_tags[q->nr_free++] = (uint32_t)rsp->id;
	q->responses++;
	return 0;
}

static void drain_kicks(struct pvring_local_front_queue *q)
{
	uint64_t count;

	/* As pvring_local_guest_port_ack, but the count tells how many kicks came. */
	if (read(q->port.kick_front, &count, sizeof(count)) == sizeof(count))
		q->kicks_received += count;
}

const struct pvring_local_front_queue *pvring_local_front_stats(struct pvring_local_front *front,
								unsigned int queue)
{
	struct pvring_local_front_queue *q = &front->queues[queue];

	if (q->port.kick_front >= 0)
		drain_kicks(q);
	return q;
}

static int check_backend(struct pvring_local_front *front, struct pvring_local_front_queue *q)
{
	uint64_t state = read_uint(front, front->be, PVRING_XS_STATE, 0);
	char reason[200];

	if (state == PVRING_XENBUS_CONNECTED)
		return 0;
	disconnect_reason(front, reason, sizeof(reason));
	return fail(front, -ECONNRESET,
		    "queue %u: back end went %s (%" PRIu64 ") with %u in flight: %s", q->index,
		    state_name((uint32_t)state), state, q->nr_tags - q->nr_free,
		    reason[0] ? reason : "pvringd gave no reason");
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

int pvring_local_front_poll(struct pvring_local_front *front, unsigned int queue,
			    struct pvring_local_front_completion *done, unsigned int max, bool wait)
{
	struct pvring_local_front_queue *q = &front->queues[queue];
	uint64_t start = 0, spin_end;
	uint32_t window;
	uint32_t n, i;
	int err;

	err = pvring_local_front_flush(front, queue);
	if (err)
		return err;
	/* At most every BACKEND_LOOK_NS: the watch check takes libxenstore's lock. */
	if (pvring_now_ns() >= q->next_backend_look) {
		q->next_backend_look = pvring_now_ns() + BACKEND_LOOK_NS;
		if (backend_changed(front, q)) {
			err = check_backend(front, q);
			if (err)
				return err;
		}
	}
	for (;;) {
		struct pollfd pfd[2];
		uint64_t now;
		int r;

		if (max > pvring_front_nr_slots(&q->ring))
			max = pvring_front_nr_slots(&q->ring);
		n = pvring_front_consume_batch(&q->ring, q->rsps, max);
		for (i = 0; i < n; i++) {
			err = complete(front, q, &q->rsps[i], &done[i]);
			if (err)
				return err;
		}
		if (n || !wait || max == 0)
			return (int)n;
		if (pvring_front_fault(&q->ring))
			return fail(front, -EPROTO, "queue %u: ring broken: %s (rsp_prod %u)",
				    q->index, pvring_fault_str(pvring_front_fault(&q->ring)),
				    q->ring.shape.fault_prod);
		if (q->nr_free == q->nr_tags)
			return fail(front, -EINVAL, "queue %u: waiting with nothing in flight",
				    q->index);
		now = pvring_now_ns();
		if (!start)
			start = now;
		/*
		 * A short spin saves the sleep and the back end's kick when it is fast; the
		 * queue's spin policy (common/ring/pvring_spin.h) stops it while it does not pay
		 * or while the back end needs this CPU.
		 */
		window = pvring_spin_window(&q->spin);
		if (window) {
			bool found = false, preempted = false;

			spin_end = now + window;
			while (!(found = pvring_front_poll(&q->ring) != 0) &&
			       pvring_now_ns() < spin_end)
				cpu_relax();
			if (pvring_spin_look(&q->spin, pvring_now_ns() - now)) {
				/* Since the last look, not only in this window: close enough. */
				long seen = pvring_thread_preemptions();

				preempted = seen != q->preemptions;
				q->preemptions = seen;
			}
			pvring_spin_done(&q->spin, found, preempted);
		}
		if (pvring_front_final_check(&q->ring))
			continue;
		if (pvring_front_fault(&q->ring))
			continue;
		pfd[0] = (struct pollfd){ .fd = q->port.kick_front, .events = POLLIN };
		/* Its hang-up says the hypervisor (pvring-stored) is gone, and this domain with it.
		 */
		pfd[1] = (struct pollfd){ .fd = front->guest.registry_fd, .events = 0 };
		q->sleeps++;
		r = poll(pfd, 2, POLL_SLICE_MS);
		if (r < 0 && errno != EINTR)
			return fail(front, -errno, "poll: %s", strerror(errno));
		if (r > 0 && (pfd[1].revents & (POLLHUP | POLLERR)))
			return fail(front, -ECONNRESET,
				    "queue %u: the local hypervisor ended this domain (did "
				    "pvring-stored "
				    "exit?)",
				    q->index);
		if (r > 0 && (pfd[0].revents & POLLIN)) {
			drain_kicks(q);
			continue;
		}
		if (r == 0) {
			err = check_backend(front, q);
			if (err)
				return err;
			if (pvring_now_ns() - start >= (uint64_t)timeout_ms(front) * 1000000u)
				return fail(front, -ETIMEDOUT,
					    "queue %u: no response within %u ms with %u requests "
					    "in flight (req_prod %u, rsp_prod %u)",
					    q->index, timeout_ms(front), q->nr_tags - q->nr_free,
					    q->ring.req_prod_pvt, q->ring.shape.sring->rsp_prod);
		}
	}
}

/* ---- raw access ---- */

struct pvring_front *pvring_local_front_ring(struct pvring_local_front *front, unsigned int queue)
{
	return &front->queues[queue].ring;
}

int pvring_local_front_kick(struct pvring_local_front *front, unsigned int queue)
{
	struct pvring_local_front_queue *q = &front->queues[queue];

	q->kicks_sent++;
	return pvring_local_guest_port_notify(&q->port);
}

int pvring_local_front_grant(struct pvring_local_front *front, uint32_t ref, uint32_t frame,
			     bool readonly)
{
	return pvring_local_grant(&front->guest.mem, ref, 0, frame, readonly);
}

int pvring_local_front_end_grant(struct pvring_local_front *front, uint32_t ref)
{
	return pvring_local_end_grant(&front->guest.mem, ref);
}

void pvring_local_front_die(int status)
{
	_exit(status);
}

/* ---- close ---- */

/* After Closed the back end must have unmapped everything: check, as Xen would. */
static int end_queue_grants(struct pvring_local_front *front, struct pvring_local_front_queue *q)
{
	uint32_t i, first = q->ring_frame, last = q->ring_frame + (1u << front->ring_order);
	int err = 0;

	if (front->persistent)
		last = q->indirect_frame + q->nr_tags * front->indirect_per_tag;
	for (i = first; i < last; i++) {
		int r;

		if (i >= q->ring_frame + (1u << front->ring_order) && i < q->data_frame)
			continue;
		if (i >= q->data_frame + front->opts.data_pages && i < q->indirect_frame)
			continue;
		r = pvring_local_end_grant(&front->guest.mem,
					   pvring_local_front_frame_ref(front, i));
		if (r == -EBUSY && !err)
			err = fail(front, -EBUSY,
				   "queue %u: the back end still maps grant %u after Closed",
				   q->index, pvring_local_front_frame_ref(front, i));
	}
	return err;
}

int pvring_local_front_close(struct pvring_local_front *front)
{
	unsigned int qi;
	int err = 0, r;

	if (front->xs && front->be[0]) {
		err = write_state(front, PVRING_XENBUS_CLOSING);
		if (!err)
			err = wait_backend(front, PVRING_XENBUS_CLOSED);
		r = write_state(front, PVRING_XENBUS_CLOSED);
		if (!err)
			err = r;
	}
	for (qi = 0; qi < PVRING_LOCAL_FRONT_MAX_QUEUES; qi++) {
		struct pvring_local_front_queue *q = &front->queues[qi];

		if (q->tags && !err && front->connected)
			err = end_queue_grants(front, q);
		if (q->tags || q->port.kick_front > 0)
			pvring_local_front_stats(front, qi);
		if (q->tags)
			pvring_local_guest_port_free(&q->port);
		free(q->tags);
		free(q->free_tags);
		free(q->tag_pages);
		free(q->staged);
		free(q->rsps);
		q->tags = NULL;
		q->free_tags = q->tag_pages = NULL;
		q->staged = NULL;
		q->rsps = NULL;
	}
	if (front->xs)
		xs_close(front->xs);
	front->xs = NULL;
	if (front->registered)
		pvring_local_guest_leave(&front->guest);
	front->registered = false;
	front->connected = false;
	return err;
}
