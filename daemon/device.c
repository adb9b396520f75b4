// SPDX-License-Identifier: MIT
/*
 * pvringd's control plane: the xenbus state machine of every device.
 *
 * A device appears when its back-end directory does
 * (PVRINGD_BACKEND_ROOT/<domid>/<devid>, written by pvringd's attach command,
 * which plays the toolstack's part on both platforms). It offers its features
 * and waits in InitWait; when the front end is
 * Initialised it reads the rings and event channels, negotiates, maps, binds
 * and goes Connected. Closing or Closed from the front end, a fault in a ring,
 * a detach or the guest's death disconnect it: rings stop, I/O in flight
 * completes (no acknowledged write is lost), grants are unmapped, and the
 * back end goes Closed. A front end that comes back (Initialising) finds the
 * back end in InitWait again.
 *
 * Everything the front end wrote is read once, checked, and refused with a
 * logged reason when it is not what the protocol allows.
 *
 * Stopping pvringd is not closing the guests' disks: the rings stop, what is
 * in flight is answered, grants are unmapped and the store is left as it is,
 * Connected. Stock blkfront never leaves Closed by itself, so a back end that
 * closed on exit could not get the disk back. The next pvringd finds the
 * directories, maps the same rings again and serves on (resume_device).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <xenstore.h>

#include "common/proto/pvring_xenbus.h"
#include "daemon/ctl_fields.h"
#include "daemon/pvringd_config.h"
#include "daemon/log.h"
#include "daemon/number.h"
#include "daemon/platform/platform.h"
#include "daemon/pvringd.h"

#define WATCH_BACKEND "backend"
#define WATCH_RELEASE "release"
#define WATCH_FRONTEND "fe:" /* followed by the device's name */
/* The first virtual device number pvringd hands out: xvda. */
#define FIRST_DEVID 51712u
#define DEVID_STEP 16u
/*
 * How long a detached device's front end may take to let go before pvringd
 * cuts it off, as libxl gives a back end (LIBXL_DESTROY_TIMEOUT).
 */
#define DETACH_TIMEOUT_S 10
/*
 * How long a detached device's rings are served after its directories are
 * gone. Stock blkfront (6.1) restarts its stopped queues whenever responses
 * arrive, so it can put requests on a ring after it went Closed, and its
 * removal (when the directory goes) waits for every one of them: a back end
 * that stopped at Closed left the guest's xenwatch blocked for good.
 */
#define LINGER_S 5

static struct xs_handle *xs_of(const struct pvringd *d)
{
	return pvring_platform_store(d->plat);
}

const char *pvringd_state_name(uint32_t state)
{
	const char *name = pvring_xenbus_state_name(state);

	return name ? name : "Unknown";
}

/* ---- store helpers ---- */

static char *read_key(struct pvringd *d, const char *dir, const char *key)
{
	char path[256];
	unsigned int len;

	/* A path too long for the store is a key nobody wrote. */
	if (snprintf(path, sizeof(path), "%s/%s", dir, key) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return xs_read(xs_of(d), XBT_NULL, path, &len);
}

/* 1 and *val if present and a number below limit, 0 if absent, -1 if malformed. */
static int read_uint(struct pvringd *d, const char *dir, const char *key, uint64_t limit,
		     uint64_t *val)
{
	char *s = read_key(d, dir, key);
	int ret;

	if (!s)
		return 0;
	ret = pvring_parse_u64(s, limit - 1, val) ? -1 : 1;
	free(s);
	return ret;
}

static bool write_key(struct pvringd *d, xs_transaction_t t, const char *dir, const char *key,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static bool write_key(struct pvringd *d, xs_transaction_t t, const char *dir, const char *key,
		      const char *fmt, ...)
{
	char path[256], value[160];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	return xs_write(xs_of(d), t, path, value, (unsigned int)strlen(value));
}

static bool store_has(struct pvringd *d, const char *path)
{
	char *probe = xs_read(xs_of(d), XBT_NULL, path, NULL);

	free(probe);
	return probe != NULL;
}

/*
 * Run fill inside a store transaction, again while the store answers EAGAIN
 * (another writer got in first). True only once the transaction committed.
 */
static bool in_transaction(struct pvringd *d, bool (*fill)(xs_transaction_t t, void *arg),
			   void *arg)
{
	for (;;) {
		xs_transaction_t t = xs_transaction_start(xs_of(d));
		bool ok;

		if (t == XBT_NULL)
			return false;
		ok = fill(t, arg);
		if (xs_transaction_end(xs_of(d), t, !ok))
			return ok;
		if (!ok || errno != EAGAIN)
			return false;
	}
}

static void set_state(struct pvringd_device *dev, uint32_t state)
{
	if (dev->state == state)
		return;
	pvring_info("%s: %s -> %s", dev->name, pvringd_state_name(dev->state),
		    pvringd_state_name(state));
	dev->state = state;
	if (!write_key(dev->d, XBT_NULL, dev->backend, PVRING_XS_STATE, "%u", state))
		pvring_warn("%s: cannot write state: %s", dev->name, strerror(errno));
}

/* ---- disconnecting ---- */

/* An image opened by path for one device: closed with it. */
static void own_disk_free(struct pvringd_disk *own)
{
	if (!own)
		return;
	pvringd_disk_close(own);
	free((char *)own->name);
	free(own);
}

static void device_free(struct pvringd_device *dev)
{
	struct pvringd_device **link;

	for (link = &dev->d->devices; *link != dev; link = &(*link)->next)
		;
	*link = dev->next;
	if (dev->detach_timer)
		event_free(dev->detach_timer);
	if (dev->linger_timer)
		event_free(dev->linger_timer);
	own_disk_free(dev->own_disk);
	free(dev->queues);
	free(dev->backend);
	free(dev->frontend);
	free(dev->fe_state_path);
	free(dev);
}

/*
 * A device that is gone for good owes nothing: its rings' journals go (a released queue
 * removes its own; these are what a killed pvringd left for a device that did not come back).
 */
static void forget_journals(struct pvringd *d, uint32_t domid, uint32_t devid)
{
	char prefix[32];
	struct dirent *e;
	size_t len;
	DIR *dir;

	if (!d->inflight_dir)
		return;
	dir = opendir(d->inflight_dir);
	if (!dir)
		return;
	len = (size_t)snprintf(prefix, sizeof(prefix), "%u.%u.", domid, devid);
	while ((e = readdir(dir)))
		if (!strncmp(e->d_name, prefix, len))
			unlinkat(dirfd(dir), e->d_name, 0);
	closedir(dir);
}

static void remove_store_dirs(struct pvringd_device *dev)
{
	struct xs_handle *xs = xs_of(dev->d);

	xs_unwatch(xs, dev->fe_state_path, dev->fe_state_path);
	xs_rm(xs, XBT_NULL, dev->backend);
	xs_rm(xs, XBT_NULL, dev->frontend);
	forget_journals(dev->d, dev->domid, dev->devid);
}

static void frontend_changed(struct pvringd_device *dev);
static void disconnect(struct pvringd_device *dev, bool serve_published);
static void device_fail(struct pvringd_device *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void on_linger_end(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_device *dev = arg;

	(void)fd;
	(void)what;
	pvring_info("%s: removed from the store %d s ago: stopping its rings", dev->name, LINGER_S);
	disconnect(dev, true);
}

/*
 * A detached device whose front end let go: Closed, both directories removed
 * (the guest's blkfront removes its disk), and the rings served for LINGER_S
 * more for what blkfront still sends meanwhile; then the last pass, and the
 * device goes.
 */
static void linger(struct pvringd_device *dev)
{
	struct timeval linger_time = { .tv_sec = LINGER_S };

	set_state(dev, PVRING_XENBUS_CLOSED);
	pvring_info("%s: removing (detached)", dev->name);
	dev->remove_when_idle = true;
	remove_store_dirs(dev);
	dev->linger_timer = evtimer_new(dev->d->base, on_linger_end, dev);
	if (!dev->linger_timer || evtimer_add(dev->linger_timer, &linger_time))
		disconnect(dev, true);
}

/* All rings are stopped and idle: unmap everything, settle the state. */
static void finish_disconnect(struct pvringd_device *dev)
{
	uint32_t i;

	dev->finish_pending = false;

	for (i = 0; i < dev->nr_queues; i++)
		pvringd_queue_release(dev->queues[i]);
	free(dev->queues);
	dev->queues = NULL;
	dev->nr_queues = 0;
	dev->queues_in_flight = 0;
	dev->order = 0;
	if (dev->d->stopping)
		return; /* the store stays as it is, for the next pvringd */
	if (dev->remove_when_idle) {
		pvring_info("%s: removed", dev->name);
		remove_store_dirs(dev);
		device_free(dev);
		return;
	}
	set_state(dev, PVRING_XENBUS_CLOSED);
	/* The front end may have moved on while we waited for its I/O. */
	if (!dev->d->stopping)
		frontend_changed(dev);
}

/*
 * Finishing is deferred to the loop: a device with no queue to wait for
 * (none connected, or all stopped earlier) finishes once its caller is done.
 */
static void schedule_finish(struct pvringd_device *dev)
{
	dev->finish_pending = true;
	event_active(dev->d->reap_ev, 0, 0);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd *d = arg;
	struct pvringd_device *dev, *next;

	(void)fd;
	(void)what;
	for (dev = d->devices; dev; dev = next) {
		next = dev->next;
		if (dev->finish_pending)
			finish_disconnect(dev);
	}
}

/*
 * Stop the queues; the rest happens once the last request in flight completes.
 * serve_published: the front end let go (or is letting go) in order, and may
 * still wait for what it published: take it on and answer it first. Not for a
 * broken ring, a gone guest, or pvringd's own stop (the next pvringd serves it).
 */
static void disconnect(struct pvringd_device *dev, bool serve_published)
{
	uint32_t i;

	for (i = 0; i < dev->nr_queues; i++)
		if (pvringd_queue_stop(dev->queues[i], serve_published))
			dev->queues_in_flight++;
	if (!dev->queues_in_flight)
		schedule_finish(dev);
}

/* Owner callback: a stopped queue has nothing in flight. */
static void queue_idle(void *owner, struct pvringd_queue *q)
{
	struct pvringd_device *dev = owner;

	(void)q;
	if (dev->queues_in_flight && --dev->queues_in_flight == 0)
		schedule_finish(dev);
}

static void device_fail(struct pvringd_device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dev->reason, sizeof(dev->reason), fmt, ap);
	va_end(ap);
	pvring_err("%s: disconnecting the front end: %s", dev->name, dev->reason);
	write_key(dev->d, XBT_NULL, dev->backend, "pvring-error", "%s", dev->reason);
	set_state(dev, PVRING_XENBUS_CLOSING);
	disconnect(dev, false);
}

/* Owner callback: a queue's ring can no longer be trusted. */
static void queue_failed(void *owner, struct pvringd_queue *q, const char *reason)
{
	struct pvringd_device *dev = owner;

	(void)q;
	/*
	 * A disconnect already stopped every queue (the first failure, a Closing front end): the
	 * device keeps the reason it has. Not so a detach, whose queues serve on until the front
	 * end lets go: a ring that breaks meanwhile disconnects the device now.
	 */
	if (dev->queues_in_flight || dev->finish_pending)
		return;
	device_fail(dev, "%s", reason);
}

static const struct pvringd_queue_owner_ops queue_owner_ops = {
	.failed = queue_failed,
	.idle = queue_idle,
};

/* The guest died or the attachment was withdrawn: disconnect, then forget it. */
static void device_remove(struct pvringd_device *dev, const char *why)
{
	pvring_info("%s: removing (%s)", dev->name, why);
	dev->remove_when_idle = true;
	if (dev->state != PVRING_XENBUS_CLOSED)
		set_state(dev, PVRING_XENBUS_CLOSING);
	disconnect(dev, false);
}

/* ---- connecting ---- */

/* What the front end wrote for one queue. */
struct queue_keys {
	uint32_t refs[1u << PVRING_MAX_ORDER];
	uint32_t remote_port;
};

static int read_queue(struct pvringd_device *dev, struct queue_keys *keys, const char *dir,
		      bool has_order, char *why, size_t why_len)
{
	uint32_t pages = 1u << dev->order, i;
	uint64_t v;
	char key[32];
	int r;

	for (i = 0; i < pages; i++) {
		if (has_order)
			snprintf(key, sizeof(key), "%s%u", PVRING_XS_RING_REF, i);
		else
			snprintf(key, sizeof(key), "%s", PVRING_XS_RING_REF);
		r = read_uint(dev->d, dir, key, UINT32_MAX, &v);
		if (r <= 0) {
			snprintf(why, why_len, "%.96s/%s: %s", dir, key,
				 r ? "not a grant reference" : "missing");
			return -1;
		}
		keys->refs[i] = (uint32_t)v;
	}
	r = read_uint(dev->d, dir, PVRING_XS_EVENT_CHANNEL, UINT32_MAX, &v);
	if (r <= 0) {
		snprintf(why, why_len, "%.96s/%s: %s", dir, PVRING_XS_EVENT_CHANNEL,
			 r ? "not a port number" : "missing");
		return -1;
	}
	keys->remote_port = (uint32_t)v;
	return 0;
}

/* Map and bind every queue whose keys were read; -1 with why at the first that fails. */
static int connect_queues(struct pvringd_device *dev, const struct queue_keys *keys,
			  uint32_t nr_queues, char *why, size_t why_len)
{
	struct pvringd_queue_params params = {
		.name = dev->name,
		.domid = dev->domid,
		.order = dev->order,
		.limits = &dev->limits,
		.image = &dev->disk->image,
		.persistent = dev->persistent,
		.resume = dev->resuming,
	};
	char path[PATH_MAX];
	uint32_t q;

	dev->queues = calloc(nr_queues, sizeof(*dev->queues));
	if (!dev->queues) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	for (q = 0; q < nr_queues; q++) {
		params.queue = q;
		params.refs = keys[q].refs;
		params.remote_port = keys[q].remote_port;
		params.inflight_path = NULL;
		if (dev->d->inflight_dir) {
			snprintf(path, sizeof(path), "%s/%u.%u.%u", dev->d->inflight_dir,
				 dev->domid, dev->devid, q);
			params.inflight_path = path;
		}
		dev->queues[q] = pvringd_queue_connect(dev->d->dp, &params, &queue_owner_ops, dev,
						       why, why_len);
		if (!dev->queues[q])
			return -1;
		dev->nr_queues = q + 1;
	}
	return 0;
}

/* The queues offered: pvringd's, or fewer if the image says so (an NBD export without multi-conn).
 */
static uint32_t max_queues(const struct pvringd_device *dev)
{
	uint32_t image_max = dev->disk->image.max_queues;
	uint32_t max = dev->d->cfg->max_queues;

	return image_max && image_max < max ? image_max : max;
}

/* Read what the front end wrote, negotiate, map; -1 with why on anything unacceptable. */
static int connect_rings(struct pvringd_device *dev, char *why, size_t why_len)
{
	const struct pvringd_config *cfg = dev->d->cfg;
	uint64_t order = 0, queues = 1, persistent = 0;
	uint32_t use_order, use_queues, q;
	struct queue_keys *keys;
	char *protocol, dir[256];
	int has_order, has_queues, ret = -1;

	protocol = read_key(dev->d, dev->frontend, PVRING_XS_PROTOCOL);
	if (protocol && strcmp(protocol, PVRING_XS_PROTOCOL_X86_64)) {
		snprintf(why, why_len, "unsupported protocol \"%.32s\"", protocol);
		free(protocol);
		return -1;
	}
	free(protocol);
	has_order = read_uint(dev->d, dev->frontend, PVRING_XS_RING_PAGE_ORDER, 32, &order);
	has_queues = read_uint(dev->d, dev->frontend, PVRING_XS_NUM_QUEUES, 1u << 16, &queues);
	if (has_order < 0 || has_queues < 0) {
		snprintf(why, why_len, "%s is not a number",
			 has_order < 0 ? PVRING_XS_RING_PAGE_ORDER : PVRING_XS_NUM_QUEUES);
		return -1;
	}
	if (pvring_negotiate_ring_order(cfg->max_ring_order, has_order, (uint32_t)order,
					&use_order)) {
		snprintf(why, why_len, "ring-page-order %" PRIu64 " is above the %u offered", order,
			 cfg->max_ring_order);
		return -1;
	}
	if (pvring_negotiate_queues(max_queues(dev), has_queues, (uint32_t)queues, &use_queues)) {
		snprintf(why, why_len, "%" PRIu64 " queues asked, %u offered", queues,
			 max_queues(dev));
		return -1;
	}
	if (read_uint(dev->d, dev->frontend, PVRING_XS_FEATURE_PERSISTENT, 2, &persistent) < 0) {
		snprintf(why, why_len, "feature-persistent is not 0 or 1");
		return -1;
	}
	dev->persistent = persistent == 1;
	dev->order = use_order;
	keys = calloc(use_queues, sizeof(*keys));
	if (!keys) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	/* Every queue's keys first: a front end that wrote one wrong gets no ring mapped. */
	for (q = 0; q < use_queues; q++) {
		if (has_queues)
			snprintf(dir, sizeof(dir), "%s/%s%u", dev->frontend, PVRING_XS_QUEUE_DIR,
				 q);
		else
			snprintf(dir, sizeof(dir), "%s", dev->frontend);
		if (read_queue(dev, &keys[q], dir, has_order, why, why_len))
			goto out;
	}
	ret = connect_queues(dev, keys, use_queues, why, why_len);
out:
	free(keys);
	return ret;
}

/* What the front end reads once Connected: the disk as it must see it. */
static bool fill_connected(xs_transaction_t t, void *arg)
{
	struct pvringd_device *dev = arg;
	const struct pvring_image *img = &dev->disk->image;
	struct pvringd *d = dev->d;

	return write_key(d, t, dev->backend, PVRING_XS_SECTORS, "%" PRIu64, img->sectors) &&
	       write_key(d, t, dev->backend, PVRING_XS_SECTOR_SIZE, "%u", img->sector_size) &&
	       write_key(d, t, dev->backend, PVRING_XS_PHYSICAL_SECTOR_SIZE, "%u",
			 img->physical_sector_size) &&
	       write_key(d, t, dev->backend, PVRING_XS_INFO, "%u",
			 dev->limits.read_only ? PVRING_VDISK_READONLY : 0) &&
	       write_key(d, t, dev->backend, PVRING_XS_STATE, "%u", PVRING_XENBUS_CONNECTED);
}

static void connect_device(struct pvringd_device *dev)
{
	struct pvringd *d = dev->d;
	char why[160] = "";
	int r;

	dev->reason[0] = '\0';
	r = connect_rings(dev, why, sizeof(why));
	dev->resuming = false; /* a later connection starts afresh */
	if (r) {
		/* Queues connected before the one that failed are stopped with the device. */
		device_fail(dev, "%s", why);
		return;
	}
	if (!in_transaction(d, fill_connected, dev)) {
		device_fail(dev, "cannot write the disk's size to the store: %s", strerror(errno));
		return;
	}
	pvring_info("%s: %s -> Connected: %u queue%s of order %u, %spersistent grants, %s",
		    dev->name, pvringd_state_name(dev->state), dev->nr_queues,
		    dev->nr_queues > 1 ? "s" : "", dev->order, dev->persistent ? "" : "no ",
		    dev->disk->image.path);
	dev->state = PVRING_XENBUS_CONNECTED;
}

/* ---- the state machine ---- */

static void frontend_changed(struct pvringd_device *dev)
{
	uint64_t state = PVRING_XENBUS_UNKNOWN;
	int r;

	/* The store is away: nothing read now is the front end's; looked at again once back. */
	if (dev->d->store_lost)
		return;
	r = read_uint(dev->d, dev->frontend, PVRING_XS_STATE, 16, &state);

	if (r == 0 && !store_has(dev->d, dev->frontend)) {
		device_remove(dev, "the front end's directory is gone");
		return;
	}
	if (r < 0)
		state = PVRING_XENBUS_UNKNOWN;
	if (dev->fe_state != state)
		pvring_debug("%s: front end %s", dev->name, pvringd_state_name((uint32_t)state));
	dev->fe_state = (uint32_t)state;
	/* A front end seen anywhere but Connected has let go of the rings it was left with. */
	if (state != PVRING_XENBUS_CONNECTED)
		dev->resuming = false;
	if (dev->queues_in_flight || dev->finish_pending)
		return; /* still disconnecting: the state is looked at again when done */

	if (dev->detaching) {
		/*
		 * As blkback under xl block-detach: Closing was offered and the
		 * rings serve on until the front end lets go; then the device
		 * lingers (see linger) and goes.
		 */
		if (state == PVRING_XENBUS_CLOSING || state == PVRING_XENBUS_CLOSED ||
		    state == PVRING_XENBUS_UNKNOWN)
			linger(dev);
		return;
	}
	switch (state) {
	case PVRING_XENBUS_INITIALISING:
		if (dev->state == PVRING_XENBUS_CLOSED) {
			dev->reason[0] = '\0';
			set_state(dev, PVRING_XENBUS_INIT_WAIT);
		}
		break;
	case PVRING_XENBUS_INITIALISED:
	case PVRING_XENBUS_CONNECTED:
		if (dev->state == PVRING_XENBUS_INIT_WAIT)
			connect_device(dev);
		break;
	case PVRING_XENBUS_CLOSING:
	case PVRING_XENBUS_CLOSED:
		if (dev->state != PVRING_XENBUS_CLOSED) {
			set_state(dev, PVRING_XENBUS_CLOSING);
			disconnect(dev, true);
		}
		break;
	default:
		break;
	}
}

static struct pvringd_disk *disk_by_name(struct pvringd *d, const char *name)
{
	unsigned int i;

	for (i = 0; i < d->nr_disks; i++)
		if (!strcmp(d->disks[i].name, name))
			return &d->disks[i];
	return NULL;
}

void pvringd_disk_close(struct pvringd_disk *disk)
{
	struct pvring_image *img = &disk->image;

	/* Acknowledged writes are in the page cache: make them durable before leaving. */
	if (!img->read_only && img->fd >= 0 && fdatasync(img->fd))
		pvring_err("disk %s: fdatasync: %s", disk->name, strerror(errno));
	pvring_image_close(img);
}

/*
 * An RBD or NBD image by its name (image_name.h), if the remote-images list allows it: opened
 * now for this device alone. Connecting waits up to the remote timeout.
 */
static struct pvringd_disk *open_remote_target(struct pvringd *d, const char *target,
					       bool read_only, struct pvringd_disk **own, char *err,
					       size_t err_len)
{
	struct pvring_image_name name;
	struct pvringd_disk *disk;
	char why[256];

	if (pvring_image_name_parse(target, false, &name, why, sizeof(why))) {
		snprintf(err, err_len, "%.160s: %s", target, why);
		return NULL;
	}
	if (!pvringd_config_remote_allowed(d->cfg, &name)) {
		snprintf(err, err_len,
			 "%.160s is not among the images pvringd serves by name "
			 "(remote-images)",
			 target);
		return NULL;
	}
	disk = calloc(1, sizeof(*disk));
	if (!disk || pvring_image_open_remote(&disk->image, target, read_only,
					      d->cfg->remote_timeout_ms, why, sizeof(why))) {
		snprintf(err, err_len, "%s", disk ? why : "out of memory");
		free(disk);
		return NULL;
	}
	disk->name = strdup(target);
	if (!disk->name) {
		pvring_image_close(&disk->image);
		free(disk);
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	*own = disk;
	return disk;
}

/*
 * What a back end's params names: a configured disk (a name never holds a
 * '/'), an RBD or NBD image by its name, or an image by its absolute path, opened now for this
 * device alone
 * (*own set). Images by path are served only from inside the configured image
 * directories, compared after symbolic links are resolved. An image in use is waited for up
 * to wait_ms (see pvring_image_open_patiently).
 */
static struct pvringd_disk *open_target(struct pvringd *d, const char *target, bool read_only,
					unsigned int wait_ms, struct pvringd_disk **own, char *err,
					size_t err_len)
{
	struct pvringd_disk *disk;
	char why[256], *resolved;
	bool waited;

	*own = NULL;
	if (pvring_image_name_is_remote(target))
		return open_remote_target(d, target, read_only, own, err, err_len);
	if (target[0] != '/') {
		disk = disk_by_name(d, target);
		if (!disk)
			snprintf(err, err_len,
				 "no disk named \"%.64s\" is configured (name an image by its "
				 "absolute path)",
				 target);
		return disk;
	}
	resolved = realpath(target, NULL);
	if (!resolved) {
		snprintf(err, err_len, "%.160s: %s", target, strerror(errno));
		return NULL;
	}
	if (!pvringd_config_image_allowed(d->cfg, resolved)) {
		snprintf(err, err_len,
			 "%.160s is outside the directories pvringd serves images from "
			 "(image-dirs)",
			 resolved);
		free(resolved);
		return NULL;
	}
	disk = calloc(1, sizeof(*disk));
	if (!disk || pvring_image_open_patiently(&disk->image, resolved, read_only, false, wait_ms,
						 &waited, why, sizeof(why))) {
		snprintf(err, err_len, "%s", disk ? why : "out of memory");
		free(disk);
		free(resolved);
		return NULL;
	}
	if (waited)
		pvring_info("%s: was in use a moment (a pvringd killed before may have held it)",
			    resolved);
	disk->name = resolved;
	*own = disk;
	return disk;
}

struct pvringd_device *pvringd_device_find(struct pvringd *d, const char *name)
{
	struct pvringd_device *dev, *by_disk = NULL;
	unsigned int matches = 0;

	for (dev = d->devices; dev; dev = dev->next) {
		if (!strcmp(dev->name, name))
			return dev;
		if (!strcmp(dev->disk->name, name)) {
			by_disk = dev;
			matches++;
		}
	}
	return matches == 1 ? by_disk : NULL;
}

static struct pvringd_device *find_by_id(struct pvringd *d, uint32_t domid, uint32_t devid)
{
	struct pvringd_device *dev;

	for (dev = d->devices; dev; dev = dev->next)
		if (dev->domid == domid && dev->devid == devid)
			return dev;
	return NULL;
}

/* Offer what this back end and this disk can do, then wait in InitWait. */
static bool fill_offer(xs_transaction_t t, void *arg)
{
	struct pvringd_device *dev = arg;
	const struct pvringd_config *cfg = dev->d->cfg;
	struct pvringd *d = dev->d;
	bool ok;

	ok = write_key(d, t, dev->backend, PVRING_XS_MAX_RING_PAGE_ORDER, "%u",
		       cfg->max_ring_order) &&
	     write_key(d, t, dev->backend, PVRING_XS_MAX_QUEUES, "%u", max_queues(dev)) &&
	     write_key(d, t, dev->backend, PVRING_XS_FEATURE_FLUSH, "%d", dev->limits.flush) &&
	     write_key(d, t, dev->backend, PVRING_XS_FEATURE_BARRIER, "%d", dev->limits.barrier) &&
	     write_key(d, t, dev->backend, PVRING_XS_FEATURE_PERSISTENT, "1") &&
	     write_key(d, t, dev->backend, PVRING_XS_FEATURE_DISCARD, "%d", dev->limits.discard) &&
	     write_key(d, t, dev->backend, PVRING_XS_STATE, "%u", PVRING_XENBUS_INIT_WAIT);
	if (ok && dev->limits.discard)
		ok = write_key(d, t, dev->backend, PVRING_XS_DISCARD_GRANULARITY, "%u",
			       PVRING_PAGE_SIZE) &&
		     write_key(d, t, dev->backend, PVRING_XS_DISCARD_ALIGNMENT, "0") &&
		     write_key(d, t, dev->backend, PVRING_XS_DISCARD_SECURE, "0");
	if (ok && cfg->max_indirect_segments)
		ok = write_key(d, t, dev->backend, PVRING_XS_FEATURE_MAX_INDIRECT, "%u",
			       cfg->max_indirect_segments);
	return ok;
}

/* A device object for a back-end directory; its store directories are the caller's. */
/* The device type in a front end's path (.../device/<type>/<devid>), or "?" if it has none. */
static void device_type_of(const char *frontend, char *type, size_t len)
{
	const char *t = strstr(frontend, "/device/");
	size_t n;

	snprintf(type, len, "?");
	if (!t)
		return;
	t += strlen("/device/");
	n = strcspn(t, "/");
	if (n && n < len) {
		memcpy(type, t, n);
		type[n] = '\0';
	}
}

static struct pvringd_device *device_new(struct pvringd *d, uint32_t domid, uint32_t devid,
					 const char *frontend, struct pvringd_disk *disk,
					 struct pvringd_disk *own, bool read_only)
{
	struct pvringd_device *dev = calloc(1, sizeof(*dev));

	if (!dev) {
		own_disk_free(own);
		return NULL;
	}
	dev->d = d;
	dev->disk = disk;
	dev->own_disk = own;
	dev->domid = domid;
	dev->devid = devid;
	snprintf(dev->name, sizeof(dev->name), "%u/%u", domid, devid);
	device_type_of(frontend, dev->type, sizeof(dev->type));
	dev->state = PVRING_XENBUS_INITIALISING;
	dev->limits.sectors = disk->image.sectors;
	dev->limits.read_only = disk->image.read_only || read_only;
	/* An engine's image without a cache to flush (an NBD export that says so) offers none. */
	dev->limits.flush = disk->image.flush;
	dev->limits.barrier = disk->image.flush;
	dev->limits.discard = disk->image.discard && !dev->limits.read_only;
	dev->limits.max_indirect_segments = d->cfg->max_indirect_segments;
	dev->next = d->devices;
	d->devices = dev;
	if (asprintf(&dev->backend, "%s/%u/%u", PVRINGD_BACKEND_ROOT, domid, devid) < 0)
		dev->backend = NULL;
	dev->frontend = strdup(frontend);
	if (asprintf(&dev->fe_state_path, "%s/%s", frontend, PVRING_XS_STATE) < 0)
		dev->fe_state_path = NULL;
	if (!dev->backend || !dev->frontend || !dev->fe_state_path) {
		device_free(dev);
		return NULL;
	}
	return dev;
}

/*
 * Offered and waiting: follow the front end. Its first event (fired at once) runs the machine.
 * 0, or -errno with the device on its way out (said in the log).
 */
static int follow_frontend(struct pvringd_device *dev)
{
	int err;

	pvring_info("%s: %s (%s%s) -> InitWait", dev->name, dev->disk->image.path,
		    dev->limits.read_only ? "read-only" : "read-write",
		    dev->disk->image.direct ? ", O_DIRECT" : "");
	dev->state = PVRING_XENBUS_INIT_WAIT;
	errno = 0; /* libxenstore sets it on failure; anything older is not its reason */
	if (xs_watch(xs_of(dev->d), dev->fe_state_path, dev->fe_state_path))
		return 0;
	err = errno ? -errno : -EIO;
	/* Not only at info level: the guest waits for a back end that will never come. */
	pvring_err("%s: cannot watch %s: %s", dev->name, dev->fe_state_path, strerror(-err));
	device_remove(dev, "cannot watch the front end's state");
	return err;
}

/*
 * A back-end directory appeared or changed. New ones are what an earlier
 * pvringd left (this one's attach takes its own on at once): serve them on,
 * resuming the connected ones where the front end still waits on its rings.
 */
static void backend_changed(struct pvringd *d, uint32_t domid, uint32_t devid)
{
	char dir[128], err[256], *params, *frontend, *mode;
	struct pvringd_device *dev = find_by_id(d, domid, devid);
	struct pvringd_disk *disk, *own;
	uint64_t fe_id, state = 0;

	snprintf(dir, sizeof(dir), "%s/%u/%u", PVRINGD_BACKEND_ROOT, domid, devid);
	if (dev) {
		if (!dev->remove_when_idle && !store_has(d, dir))
			device_remove(dev, "its back-end directory was removed");
		return;
	}
	if (d->stopping || !store_has(d, dir))
		return;
	if (!xs_is_domain_introduced(xs_of(d), domid)) {
		/* Left by an earlier pvringd for a guest that is gone since. */
		pvring_info("%s: its domain is gone: removing it", dir);
		xs_rm(xs_of(d), XBT_NULL, dir);
		forget_journals(d, domid, devid);
		return;
	}
	params = read_key(d, dir, PVRING_XS_PARAMS);
	frontend = read_key(d, dir, PVRING_XS_FRONTEND);
	mode = read_key(d, dir, PVRING_XS_MODE);
	if (!params || !frontend || read_uint(d, dir, PVRING_XS_FRONTEND_ID, 1u << 16, &fe_id) <= 0)
		goto out; /* not written completely yet */
	if (fe_id != domid) {
		pvring_err("%s: frontend-id %" PRIu64 " is not the domain %u: ignored", dir, fe_id,
			   domid);
		goto out;
	}
	/*
	 * Left by a pvringd killed a moment ago, the image may still be held for its last I/O:
	 * waited for at start only, where nothing else waits on the loop yet.
	 */
	disk = open_target(d, params, mode && strcmp(mode, "w"),
			   d->starting ? PVRINGD_IMAGE_WAIT_MS : 0, &own, err, sizeof(err));
	if (!disk) {
		pvring_err("%s: %s: ignored", dir, err);
		goto out;
	}
	dev = device_new(d, domid, devid, frontend, disk, own, mode && strcmp(mode, "w"));
	if (!dev) {
		pvring_err("%s: out of memory", dir);
		goto out;
	}
	read_uint(d, dir, PVRING_XS_STATE, 16, &state);
	if (state == PVRING_XENBUS_CONNECTED) {
		/* An earlier pvringd connected it and stopped: map the same rings again. */
		pvring_info("%s: resuming: the front end was left Connected", dev->name);
		dev->resuming = true;
	} else if (!in_transaction(d, fill_offer, dev)) {
		pvring_err("%s: cannot offer the back end's features: %s", dir, strerror(errno));
		device_free(dev);
		goto out;
	}
	follow_frontend(dev);
out:
	free(params);
	free(frontend);
	free(mode);
}

/*
 * A device's domain and device numbers from the names of its back-end directory's components.
 * Only pvringd writes under its root; anything else is not one of its devices: false.
 */
static bool device_ids(const char *dom, const char *dev, uint32_t *domid, uint32_t *devid)
{
	uint64_t a, b;

	if (pvring_parse_u64(dom, PVRING_CTL_DOMID_MAX, &a) ||
	    pvring_parse_u64(dev, PVRING_CTL_DEVID_MAX, &b))
		return false;
	*domid = (uint32_t)a;
	*devid = (uint32_t)b;
	return true;
}

/* The same from a path in that tree: ROOT/DOMID/DEVID[/...]. */
static bool device_ids_of_path(const char *path, uint32_t *domid, uint32_t *devid)
{
	char rel[128], *dev, *rest;

	if (strncmp(path, PVRINGD_BACKEND_ROOT "/", strlen(PVRINGD_BACKEND_ROOT "/")) ||
	    strlen(path + strlen(PVRINGD_BACKEND_ROOT "/")) >= sizeof(rel))
		return false;
	strcpy(rel, path + strlen(PVRINGD_BACKEND_ROOT "/"));
	dev = strchr(rel, '/');
	if (!dev)
		return false;
	*dev++ = '\0';
	rest = strchr(dev, '/');
	if (rest)
		*rest = '\0';
	return device_ids(rel, dev, domid, devid);
}

static void scan_backends(struct pvringd *d)
{
	unsigned int nr_doms, nr_devs, i, j;
	char **doms, **devs, dir[128];

	doms = xs_directory(xs_of(d), XBT_NULL, PVRINGD_BACKEND_ROOT, &nr_doms);
	for (i = 0; doms && i < nr_doms; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", PVRINGD_BACKEND_ROOT, doms[i]);
		devs = xs_directory(xs_of(d), XBT_NULL, dir, &nr_devs);
		for (j = 0; devs && j < nr_devs; j++) {
			uint32_t domid, devid;

			if (device_ids(doms[i], devs[j], &domid, &devid))
				backend_changed(d, domid, devid);
		}
		free(devs);
	}
	free(doms);
}

/* Devices of guests that no longer exist go. */
static void domains_released(struct pvringd *d)
{
	struct pvringd_device *dev, *next;

	for (dev = d->devices; dev; dev = next) {
		next = dev->next;
		if (!dev->remove_when_idle && !xs_is_domain_introduced(xs_of(d), dev->domid))
			device_remove(dev, "the guest is gone");
	}
}

static void on_watch(struct pvringd *d, const char *path, const char *token)
{
	struct pvringd_device *dev;
	uint32_t domid, devid;

	if (!strcmp(token, WATCH_RELEASE)) {
		domains_released(d);
		return;
	}
	if (!strcmp(token, WATCH_BACKEND)) {
		if (device_ids_of_path(path, &domid, &devid))
			backend_changed(d, domid, devid);
		else if (!strcmp(path, PVRINGD_BACKEND_ROOT))
			scan_backends(d);
		return;
	}
	for (dev = d->devices; dev; dev = dev->next) {
		if (dev->fe_state_path && !strcmp(token, dev->fe_state_path)) {
			if (!dev->remove_when_idle)
				frontend_changed(dev);
			return;
		}
	}
}

static void on_store(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd *d = arg;
	char **vec;

	(void)fd;
	(void)what;
	while ((vec = xs_check_watch(xs_of(d)))) {
		on_watch(d, vec[XS_WATCH_PATH], vec[XS_WATCH_TOKEN]);
		free(vec);
	}
}

/*
 * The watches pvringd's work hangs on, on the store connection there is now; -1 if refused.
 * A device whose front end cannot be watched again goes, as at its start (follow_frontend).
 */
static int arm_watches(struct pvringd *d)
{
	struct xs_handle *xs = xs_of(d);
	struct pvringd_device *dev;

	/* On the local platform pvringd is the toolstack: the root may not exist yet. */
	xs_mkdir(xs, XBT_NULL, PVRINGD_BACKEND_ROOT);
	if (!xs_watch(xs, PVRINGD_BACKEND_ROOT, WATCH_BACKEND) ||
	    !xs_watch(xs, "@releaseDomain", WATCH_RELEASE))
		return -1;
	for (dev = d->devices; dev; dev = dev->next)
		if (!dev->remove_when_idle && !xs_watch(xs, dev->fe_state_path, dev->fe_state_path))
			device_remove(dev, "cannot watch the front end's state again");
	if (d->store_ev)
		event_free(d->store_ev);
	d->store_ev = event_new(d->base, xs_fileno(xs), EV_READ | EV_PERSIST, on_store, d);
	if (!d->store_ev || event_add(d->store_ev, NULL))
		return -1;
	return 0;
}

/*
 * A store request failed so: the connection is gone (libxenstore says EBADF at end of file).
 * Not EIO: a live xenstored answers that for errors of its own.
 */
static bool store_gone(int err)
{
	return err == EBADF || err == EPIPE || err == ECONNRESET || err == ENOTCONN;
}

/*
 * Every second: is the store still there? Once gone (restarted), pvringd serves the rings it
 * has and connects again as soon as a store answers; then it re-arms its watches and reads
 * every device again: those the new store no longer has (a store restarted empty) go.
 */
static void on_store_probe(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd *d = arg;
	struct pvringd_device *dev;
	unsigned int nr = 0, nr_devices = 0;
	char **dirs;
	int err;

	(void)fd;
	(void)what;
	if (!d->store_lost) {
		errno = 0;
		dirs = xs_directory(xs_of(d), XBT_NULL, PVRINGD_BACKEND_ROOT, &nr);
		err = errno;
		free(dirs);
		if (dirs || !store_gone(err))
			return;
		pvring_err("the store went away (%s): serving the rings already connected, "
			   "connecting again every %u ms",
			   strerror(err), PVRINGD_STORE_PROBE_MS);
		d->store_lost = true;
		event_del(d->store_ev);
	}
	err = pvring_platform_store_reopen(d->plat);
	if (err)
		return;
	if (arm_watches(d)) {
		pvring_err("the store is back but refused pvringd's watches: trying again");
		return;
	}
	d->store_lost = false;
	for (dev = d->devices; dev; dev = dev->next)
		nr_devices++;
	pvring_info("the store is back: watches armed again, reading %u device%s again", nr_devices,
		    nr_devices == 1 ? "" : "s");
	/* Local platform: the hypervisor restarted with it; connect to the new one. */
	pvring_platform_store_reconnected(d->plat);
	scan_backends(d);
	/*
	 * What happened meanwhile is read now: a device the new store lacks is removed, one whose
	 * front end moved on follows it. Removals are deferred: the list stays as it is here.
	 */
	for (dev = d->devices; dev; dev = dev->next) {
		backend_changed(d, dev->domid, dev->devid);
		if (!dev->remove_when_idle)
			frontend_changed(dev);
	}
	domains_released(d);
}

int pvringd_control_start(struct pvringd *d, const char **why)
{
	const struct timeval probe = { .tv_sec = PVRINGD_STORE_PROBE_MS / 1000u,
				       .tv_usec = (PVRINGD_STORE_PROBE_MS % 1000u) * 1000u };

	d->reap_ev = event_new(d->base, -1, 0, on_reap, d);
	if (!d->reap_ev) {
		*why = "out of memory";
		return -1;
	}
	/*
	 * Only where a store can come back on its own socket (pvring-stored). xenstored is not
	 * restarted under a running dom0, and libxenstore falls back to /dev/xen/xenbus, where a
	 * dead xenstored never answers: a probe there would hang the loop.
	 */
	if (pvring_platform_store_restartable(d->plat)) {
		d->store_probe_ev = event_new(d->base, -1, EV_PERSIST, on_store_probe, d);
		if (!d->store_probe_ev || event_add(d->store_probe_ev, &probe)) {
			*why = "out of memory";
			return -1;
		}
	}
	if (arm_watches(d)) {
		*why = "cannot watch the store";
		return -1;
	}
	d->starting = true;
	scan_backends(d);
	d->starting = false;
	return 0;
}

/*
 * Shutdown: stop every ring, let I/O in flight complete and answer it (no
 * acknowledged write is lost), unmap, and leave the store as it is: connected
 * front ends stay Connected and wait for the next pvringd. Closing a guest's
 * disk is a detach, never a side effect of stopping the daemon. Safe whatever
 * part of the start-up happened.
 */
void pvringd_control_stop(struct pvringd *d)
{
	struct pvringd_device *dev;

	d->stopping = true;
	for (dev = d->devices; dev; dev = dev->next) {
		dev->remove_when_idle = false;
		disconnect(dev, false);
	}
	/* Every I/O answered; the idle callbacks this posts are dropped by the releases below. */
	if (d->dp)
		pvringd_dp_quiesce(d->dp);
	while (d->devices) {
		dev = d->devices;
		finish_disconnect(dev);
		xs_unwatch(xs_of(d), dev->fe_state_path, dev->fe_state_path);
		device_free(dev);
	}
	if (d->store_ev)
		event_free(d->store_ev);
	if (d->reap_ev)
		event_free(d->reap_ev);
	if (d->store_probe_ev)
		event_free(d->store_probe_ev);
	d->store_ev = d->reap_ev = d->store_probe_ev = NULL;
}

/* ---- toolstack work: what xl does for kernel blkback, pvringd does for itself ---- */

static bool make_dir(struct pvringd *d, xs_transaction_t t, const char *dir, uint32_t owner,
		     uint32_t reader)
{
	struct xs_permissions perms[2] = { { .id = owner, .perms = XS_PERM_NONE },
					   { .id = reader, .perms = XS_PERM_READ } };

	return xs_mkdir(xs_of(d), t, dir) && xs_set_permissions(xs_of(d), t, dir, perms, 2);
}

/*
 * Both directories in one transaction, the back end's already offered and in
 * InitWait: the front end's is the guest's, the back end's is dom0's and
 * readable by the guest.
 */
static bool fill_attachment(xs_transaction_t t, void *arg)
{
	struct pvringd_device *dev = arg;
	struct pvringd *d = dev->d;

	return make_dir(d, t, dev->frontend, dev->domid, 0) &&
	       write_key(d, t, dev->frontend, PVRING_XS_BACKEND, "%s", dev->backend) &&
	       write_key(d, t, dev->frontend, PVRING_XS_BACKEND_ID, "0") &&
	       write_key(d, t, dev->frontend, "virtual-device", "%u", dev->devid) &&
	       write_key(d, t, dev->frontend, "device-type", "disk") &&
	       write_key(d, t, dev->frontend, PVRING_XS_STATE, "%u", PVRING_XENBUS_INITIALISING) &&
	       make_dir(d, t, dev->backend, 0, dev->domid) &&
	       write_key(d, t, dev->backend, PVRING_XS_FRONTEND, "%s", dev->frontend) &&
	       write_key(d, t, dev->backend, PVRING_XS_FRONTEND_ID, "%u", dev->domid) &&
	       write_key(d, t, dev->backend, PVRING_XS_PARAMS, "%s", dev->disk->name) &&
	       write_key(d, t, dev->backend, PVRING_XS_MODE, "%s",
			 dev->limits.read_only ? "r" : "w") &&
	       write_key(d, t, dev->backend, "online", "1") && fill_offer(t, dev);
}

struct pvringd_device *pvringd_device_attach(struct pvringd *d, const char *target, bool read_only,
					     uint32_t domid, uint32_t devid, const char *type,
					     char *err, unsigned int err_len)
{
	struct pvringd_disk *disk, *own;
	struct pvringd_device *dev;
	char be[128], fe[128];
	int ret;

	if (d->store_lost) {
		snprintf(err, err_len, "the store is away (pvringd connects again every %u ms)",
			 PVRINGD_STORE_PROBE_MS);
		return NULL;
	}
	if (!xs_is_domain_introduced(xs_of(d), domid)) {
		snprintf(err, err_len, "no domain %u", domid);
		return NULL;
	}
	if (!devid) {
		for (devid = FIRST_DEVID; find_by_id(d, domid, devid); devid += DEVID_STEP)
			;
	}
	snprintf(be, sizeof(be), "%s/%u/%u", PVRINGD_BACKEND_ROOT, domid, devid);
	if (!pvring_xs_type_known(type)) {
		snprintf(err, err_len, "device type \"%s\": pvringd serves %s and %s", type,
			 PVRING_XS_TYPE_VBD, PVRING_XS_TYPE_PVBLK);
		return NULL;
	}
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/%s/%u", domid, type, devid);
	if (find_by_id(d, domid, devid) || store_has(d, be) || store_has(d, fe)) {
		snprintf(err, err_len, "domain %u already has a device %u", domid, devid);
		return NULL;
	}
	disk = open_target(d, target, read_only, 0, &own, err, err_len);
	if (!disk)
		return NULL;
	/*
	 * A configured disk is shared only when every attachment reads it (an
	 * image by path is kept from the same by its lock).
	 */
	for (dev = d->devices; dev; dev = dev->next) {
		if (!own && dev->disk == disk && !dev->remove_when_idle &&
		    !(dev->limits.read_only && (read_only || disk->image.read_only))) {
			snprintf(err, err_len, "disk %s is already attached %s to %s", disk->name,
				 dev->limits.read_only ? "read-only" : "read-write", dev->name);
			return NULL;
		}
	}
	dev = device_new(d, domid, devid, fe, disk, own, read_only);
	if (!dev) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (!in_transaction(d, fill_attachment, dev)) {
		snprintf(err, err_len, "cannot write the device to the store: %s", strerror(errno));
		device_free(dev);
		return NULL;
	}
	ret = follow_frontend(dev);
	if (ret) {
		/* On its way out: not attached, whatever find_by_id() still sees for a while. */
		snprintf(err, err_len, "cannot watch the front end's state: %s", strerror(-ret));
		return NULL;
	}
	return dev;
}

static void on_detach_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_device *dev = arg;

	(void)fd;
	(void)what;
	if (dev->remove_when_idle)
		return;
	pvring_warn("%s: the front end did not let go within %d s of the detach: cutting it off",
		    dev->name, DETACH_TIMEOUT_S);
	device_remove(dev, "detached; the front end did not let go");
}

int pvringd_device_detach(struct pvringd_device *dev, char *err, unsigned int err_len)
{
	struct timeval timeout = { .tv_sec = DETACH_TIMEOUT_S };

	if (dev->detaching || dev->remove_when_idle) {
		snprintf(err, err_len, "%s is already being detached", dev->name);
		return -1;
	}
	if (dev->d->store_lost) {
		snprintf(err, err_len, "the store is away (pvringd connects again every %u ms)",
			 PVRINGD_STORE_PROBE_MS);
		return -1;
	}
	pvring_info("%s: detaching", dev->name);
	dev->detaching = true;
	snprintf(dev->reason, sizeof(dev->reason), "detached by the administrator");
	write_key(dev->d, XBT_NULL, dev->backend, "pvring-error", "%s", dev->reason);
	if (dev->state != PVRING_XENBUS_CLOSED)
		set_state(dev, PVRING_XENBUS_CLOSING);
	dev->detach_timer = evtimer_new(dev->d->base, on_detach_timeout, dev);
	if (dev->detach_timer)
		evtimer_add(dev->detach_timer, &timeout);
	/* The front end may have let go already; else its next state change moves on. */
	frontend_changed(dev);
	return 0;
}
