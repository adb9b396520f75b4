// SPDX-License-Identifier: MIT
/*
 * The control socket's commands (doc/pvringd-control.md): what pvringctl
 * sees of devices and rings, and attach/detach. Ring indices are read from
 * the shared page as they are now; everything else is pvringd's own state.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "daemon/ctl.h"
#include "daemon/ctl_fields.h"
#include "common/proto/pvring_xenbus.h"
#include "daemon/pvringd.h"

static void add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

/* What serves the image: "file", "block device", "rbd" or "nbd". */
static const char *backend_kind(const struct pvring_image *img)
{
	if (img->kind != PVRING_IMAGE_PATH)
		return pvring_image_kind_name(img->kind);
	return img->block_device ? "block device" : "file";
}

/* "open" for a file; an engine's image says whether it is being served (engine_health.h). */
static const char *backend_state(const struct pvring_image *img, char *buf, size_t len)
{
	if (!img->remote_ops)
		return "open";
	img->remote_ops->state(img, buf, len);
	return buf;
}

static struct json_object *device_summary(const struct pvringd_device *dev)
{
	struct json_object *o = json_object_new_object();
	char state[200];

	add_str(o, "device", dev->name);
	add_str(o, "disk", dev->disk->name);
	add_str(o, "image", dev->disk->image.path);
	add_str(o, "backend", backend_kind(&dev->disk->image));
	add_str(o, "backend_state", backend_state(&dev->disk->image, state, sizeof(state)));
	add_str(o, "type", dev->type);
	add_int(o, "domid", dev->domid);
	add_int(o, "devid", dev->devid);
	add_str(o, "state", pvringd_state_name(dev->state));
	add_str(o, "frontend_state", pvringd_state_name(dev->fe_state));
	add_u64(o, "sectors", dev->disk->image.sectors);
	add_int(o, "sector_size", dev->disk->image.sector_size);
	json_object_object_add(o, "read_only", json_object_new_boolean(dev->limits.read_only));
	add_int(o, "queues", dev->nr_queues);
	add_int(o, "ring_order", dev->order);
	json_object_object_add(o, "persistent", json_object_new_boolean(dev->persistent));
	if (dev->reason[0])
		add_str(o, "reason", dev->reason);
	return o;
}

/* Where each counter of a ring's "counters" object is kept, in the order of the keys. */
static const struct {
	enum pvring_ctl_counter key;
	size_t offset; /* in struct pvringd_counters, of a uint64_t */
} counter_fields[] = {
	{ PVRING_CTR_REQUESTS, offsetof(struct pvringd_counters, requests) },
	{ PVRING_CTR_READ, offsetof(struct pvringd_counters, by_op[PVRING_BLKIF_OP_READ]) },
	{ PVRING_CTR_WRITE, offsetof(struct pvringd_counters, by_op[PVRING_BLKIF_OP_WRITE]) },
	{ PVRING_CTR_FLUSH,
	  offsetof(struct pvringd_counters, by_op[PVRING_BLKIF_OP_FLUSH_DISKCACHE]) },
	{ PVRING_CTR_BARRIER,
	  offsetof(struct pvringd_counters, by_op[PVRING_BLKIF_OP_WRITE_BARRIER]) },
	{ PVRING_CTR_DISCARD, offsetof(struct pvringd_counters, by_op[PVRING_BLKIF_OP_DISCARD]) },
	{ PVRING_CTR_INDIRECT, offsetof(struct pvringd_counters, by_op[PVRING_BLKIF_OP_INDIRECT]) },
	{ PVRING_CTR_RESPONSES, offsetof(struct pvringd_counters, responses) },
	{ PVRING_CTR_ERRORS, offsetof(struct pvringd_counters, errors) },
	{ PVRING_CTR_KICKS_IN, offsetof(struct pvringd_counters, kicks_in) },
	{ PVRING_CTR_KICKS_OUT, offsetof(struct pvringd_counters, kicks_out) },
	{ PVRING_CTR_KICK_RESTS, offsetof(struct pvringd_counters, kick_rests) },
	{ PVRING_CTR_BATCHES, offsetof(struct pvringd_counters, batches) },
	{ PVRING_CTR_BATCH_MAX, offsetof(struct pvringd_counters, batch_max) },
	{ PVRING_CTR_BYTES_READ, offsetof(struct pvringd_counters, bytes_read) },
	{ PVRING_CTR_BYTES_WRITTEN, offsetof(struct pvringd_counters, bytes_written) },
};

_Static_assert(sizeof(counter_fields) / sizeof(counter_fields[0]) == PVRING_CTR_COUNT,
	       "every counter of daemon/ctl_fields.h has its field");

static struct json_object *counters_json(const struct pvringd_counters *c)
{
	struct json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < sizeof(counter_fields) / sizeof(counter_fields[0]); i++) {
		const uint64_t *v = (const uint64_t *)((const char *)c + counter_fields[i].offset);

		add_u64(o, pvring_ctl_counter_key(counter_fields[i].key), *v);
	}
	return o;
}

static struct json_object *ring_json(const struct pvringd_queue *q)
{
	struct json_object *o = json_object_new_object();
	struct pvringd_queue_snapshot s;

	pvringd_queue_snapshot(q, &s);
	add_int(o, "queue", s.queue);
	add_int(o, "order", s.order);
	add_int(o, "worker", s.worker);
	add_int(o, "slots", s.ring.nr_slots);
	add_int(o, "req_prod", s.ring.req_prod);
	add_int(o, "req_event", s.ring.req_event);
	add_int(o, "rsp_prod", s.ring.rsp_prod);
	add_int(o, "rsp_event", s.ring.rsp_event);
	add_int(o, "req_cons", s.ring.req_cons);
	add_int(o, "rsp_prod_pvt", s.ring.rsp_prod_pvt);
	add_int(o, "in_flight", s.in_flight);
	add_int(o, "persistent_grants", s.persistent_grants);
	add_u64(o, "guest_bytes_in_flight", s.guest_bytes_in_flight);
	add_str(o, "engine", s.engine_state);
	json_object_object_add(o, "waiting_for_guest_cap",
			       json_object_new_boolean(s.waiting_for_guest_cap));
	json_object_object_add(o, "fault",
			       s.ring.fault ? json_object_new_string(pvring_fault_str(s.ring.fault))
					    : NULL);
	json_object_object_add(o, "counters", counters_json(&s.counters));
	return o;
}

static struct pvringd_device *device_arg(struct pvringd *d, struct json_object *req, char *err,
					 unsigned int err_len)
{
	struct json_object *v;
	struct pvringd_device *dev;

	if (!json_object_object_get_ex(req, "device", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		snprintf(err, err_len, "\"device\" (a string) is required");
		return NULL;
	}
	dev = pvringd_device_find(d, json_object_get_string(v));
	if (!dev)
		snprintf(err, err_len, "no device %s", json_object_get_string(v));
	return dev;
}

static int cmd_list(void *arg, struct json_object *req, struct json_object *reply, char *err,
		    unsigned int err_len)
{
	struct pvringd *d = arg;
	struct json_object *list = json_object_new_array();
	struct pvringd_device *dev;

	(void)req;
	(void)err;
	(void)err_len;
	for (dev = d->devices; dev; dev = dev->next)
		json_object_array_add(list, device_summary(dev));
	json_object_object_add(reply, "devices", list);
	return 0;
}

static int cmd_show(void *arg, struct json_object *req, struct json_object *reply, char *err,
		    unsigned int err_len)
{
	struct pvringd_device *dev = device_arg(arg, req, err, err_len);
	struct json_object *o, *rings;
	uint32_t i;

	if (!dev)
		return -1;
	o = device_summary(dev);
	rings = json_object_new_array();
	for (i = 0; i < dev->nr_queues; i++)
		json_object_array_add(rings, ring_json(dev->queues[i]));
	json_object_object_add(o, "rings", rings);
	json_object_object_add(reply, "device", o);
	return 0;
}

static struct json_object *slot_json(uint32_t nr_slots, const struct pvringd_slot_snapshot *r)
{
	struct json_object *o = json_object_new_object(), *segs;
	const char *op = pvring_blkif_op_name(r->req.op);
	uint32_t i, n = 0;

	add_int(o, "index", r->index);
	add_int(o, "slot", r->index & (nr_slots - 1));
	add_u64(o, "id", r->req.rw.id);
	if (op)
		add_str(o, "op", op);
	else
		add_int(o, "op", r->req.op);
	add_u64(o, "sector", r->req.rw.sector);
	if (r->req.op == PVRING_BLKIF_OP_DISCARD) {
		add_u64(o, "nr_sectors", r->req.discard.nr_sectors);
		return o;
	}
	if (r->req.op == PVRING_BLKIF_OP_INDIRECT) {
		add_int(o, "nr_segments", r->req.indirect.nr_segments);
		return o; /* its segments live in the guest's indirect pages */
	}
	n = r->req.rw.nr_segments <= PVRING_BLKIF_MAX_SEGMENTS ? r->req.rw.nr_segments : 0;
	add_int(o, "nr_segments", r->req.rw.nr_segments);
	segs = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *s = json_object_new_object();

		add_int(s, "gref", r->req.rw.seg[i].gref);
		add_int(s, "first_sect", r->req.rw.seg[i].first_sect);
		add_int(s, "last_sect", r->req.rw.seg[i].last_sect);
		json_object_array_add(segs, s);
	}
	json_object_object_add(o, "segments", segs);
	return o;
}

static int cmd_dump(void *arg, struct json_object *req, struct json_object *reply, char *err,
		    unsigned int err_len)
{
	struct pvringd_device *dev = device_arg(arg, req, err, err_len);
	struct json_object *v, *slots;
	struct pvringd_slot_snapshot *in_flight;
	uint32_t i, nr_slots, nr;
	int64_t n = 0;

	if (!dev)
		return -1;
	if (json_object_object_get_ex(req, "ring", &v)) {
		if (!json_object_is_type(v, json_type_int)) {
			snprintf(err, err_len, "\"ring\" must be an integer");
			return -1;
		}
		n = json_object_get_int64(v);
	}
	if (n < 0 || n >= dev->nr_queues) {
		snprintf(err, err_len, "%s has no ring %lld (it has %u)", dev->name, (long long)n,
			 dev->nr_queues);
		return -1;
	}
	nr_slots = pvringd_queue_nr_slots(dev->queues[n]);
	in_flight = calloc(nr_slots, sizeof(*in_flight));
	if (!in_flight) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	nr = pvringd_queue_slots(dev->queues[n], in_flight, nr_slots);
	slots = json_object_new_array();
	for (i = 0; i < nr; i++)
		json_object_array_add(slots, slot_json(nr_slots, &in_flight[i]));
	free(in_flight);
	add_str(reply, "device", dev->name);
	add_int(reply, "ring", n);
	json_object_object_add(reply, "slots", slots);
	return 0;
}

static int cmd_attach(void *arg, struct json_object *req, struct json_object *reply, char *err,
		      unsigned int err_len)
{
	struct pvringd *d = arg;
	struct json_object *disk_v, *domid_v, *devid_v, *ro_v, *type_v;
	const char *type = PVRING_XS_TYPE_VBD;
	int64_t domid, devid = 0;
	struct pvringd_device *dev;
	bool read_only = false;

	if (!json_object_object_get_ex(req, "disk", &disk_v) ||
	    !json_object_is_type(disk_v, json_type_string) ||
	    !json_object_object_get_ex(req, "domid", &domid_v) ||
	    !json_object_is_type(domid_v, json_type_int)) {
		snprintf(err, err_len,
			 "attach needs \"disk\" (a string) and \"domid\" (an integer)");
		return -1;
	}
	domid = json_object_get_int64(domid_v);
	if (domid < PVRING_CTL_DOMID_MIN || domid > PVRING_CTL_DOMID_MAX) {
		snprintf(err, err_len, "domid %lld out of range (%d..%d)", (long long)domid,
			 PVRING_CTL_DOMID_MIN, PVRING_CTL_DOMID_MAX);
		return -1;
	}
	if (json_object_object_get_ex(req, "devid", &devid_v)) {
		if (!json_object_is_type(devid_v, json_type_int)) {
			snprintf(err, err_len,
				 "\"devid\" must be an integer (leave it out to have one picked)");
			return -1;
		}
		devid = json_object_get_int64(devid_v);
	}
	if (devid < 0 || devid > PVRING_CTL_DEVID_MAX) {
		snprintf(err, err_len, "devid %lld out of range (0..%d)", (long long)devid,
			 PVRING_CTL_DEVID_MAX);
		return -1;
	}
	if (json_object_object_get_ex(req, "read-only", &ro_v)) {
		if (!json_object_is_type(ro_v, json_type_boolean)) {
			snprintf(err, err_len, "\"read-only\" must be true or false");
			return -1;
		}
		read_only = json_object_get_boolean(ro_v);
	}
	if (json_object_object_get_ex(req, "type", &type_v)) {
		if (!json_object_is_type(type_v, json_type_string)) {
			snprintf(err, err_len, "\"type\" must be \"%s\" or \"%s\"",
				 PVRING_XS_TYPE_VBD, PVRING_XS_TYPE_PVBLK);
			return -1;
		}
		type = json_object_get_string(type_v);
	}
	dev = pvringd_device_attach(d, json_object_get_string(disk_v), read_only, (uint32_t)domid,
				    (uint32_t)devid, type, err, err_len);
	if (!dev)
		return -1;
	add_str(reply, "device", dev->name);
	add_str(reply, "backend", dev->backend);
	add_str(reply, "frontend", dev->frontend);
	return 0;
}

static int cmd_detach(void *arg, struct json_object *req, struct json_object *reply, char *err,
		      unsigned int err_len)
{
	struct pvringd_device *dev = device_arg(arg, req, err, err_len);

	(void)reply;
	if (!dev)
		return -1;
	return pvringd_device_detach(dev, err, err_len);
}

int pvringd_commands_register(struct pvringd *d)
{
	return pvringd_ctl_register(d->ctl, "list", cmd_list, d) ||
	       pvringd_ctl_register(d->ctl, "show", cmd_show, d) ||
	       pvringd_ctl_register(d->ctl, "dump", cmd_dump, d) ||
	       pvringd_ctl_register(d->ctl, "attach", cmd_attach, d) ||
	       pvringd_ctl_register(d->ctl, "detach", cmd_detach, d);
}
