/* SPDX-License-Identifier: MIT */
/*
 * pvringd's objects, shared by the control plane (device.c), the control-socket
 * commands (commands.c) and main.
 *
 *   struct pvringd         one per process: the loop, platform, store, data plane
 *   struct pvringd_disk    a configured image, open for the daemon's life
 *   struct pvringd_device  a disk attached to one guest (domid/devid) and its
 *                          xenbus state machine
 *
 * A device's queues belong to the data plane (dataplane.h), which device.c
 * drives through its API and hears from through owner callbacks.
 */
#ifndef PVRINGD_H
#define PVRINGD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/proto/pvring_blkif.h"
#include "daemon/dataplane.h"
#include "daemon/image.h"

struct event;
struct event_base;
struct pvring_platform;
struct pvringd_config;
struct pvringd_ctl;

/*
 * The front end's device type: "vbd", which stock xen-blkfront serves, or "pvblk", pvring's own
 * front end (PVRING_XS_TYPE_*); attach takes either, "vbd" by default.
 *
 * pvringd keeps its back-end directories under a kind of its own, not under
 * backend/vbd: kernel xen-blkback probes every backend/vbd directory it sees
 * in state Initialising, and the two would fight over the same device. A
 * front end follows its "backend" key wherever it points, so stock blkfront
 * does not care. pvringd never writes Initialising to a back end either, so
 * dom0's kernel never probes one of its directories as a device of its own.
 */
#define PVRINGD_BACKEND_ROOT "/local/domain/0/backend/pvring"
/*
 * How long a starting pvringd waits for an image in use: a pvringd killed a moment ago keeps
 * its images locked until the kernel has finished the I/O it had in flight.
 */
#define PVRINGD_IMAGE_WAIT_MS 10000u
/* How often pvringd asks whether the store is still there, and tries again once it is not. */
#define PVRINGD_STORE_PROBE_MS 1000u

struct pvringd_disk {
	/* A configured disk's name (the configuration's, which outlives the
	 * daemon's objects), or for an image attached by path its resolved path,
	 * owned by the device it was opened for. */
	const char *name;
	struct pvring_image image;
};

struct pvringd_device {
	struct pvringd_device *next;
	struct pvringd *d;
	struct pvringd_disk *disk; /* a configured disk, or own_disk */
	struct pvringd_disk *own_disk; /* an image attached by path, open for this device alone */
	uint32_t domid, devid;
	char name[32]; /* "domid/devid" */
	char *backend; /* store paths */
	char *frontend;
	char type[8]; /* the front end's device type, PVRING_XS_TYPE_* */
	char *fe_state_path;
	uint32_t state; /* ours */
	uint32_t fe_state; /* theirs, as last read */
	struct pvring_blkif_disk limits; /* what requests are checked against */
	bool persistent;
	uint32_t nr_queues; /* connected */
	unsigned int order;
	struct pvringd_queue **queues;
	uint32_t queues_in_flight; /* queues stopped, their idle not yet heard */
	bool remove_when_idle; /* the guest or the attachment is gone */
	bool finish_pending; /* idle: finish_disconnect on the next loop turn */
	bool detaching; /* closing for good: removed once the front end is Closed */
	bool resuming; /* left Connected by an earlier pvringd: take its rings on as they are */
	struct event *detach_timer; /* a front end that never lets go is cut off */
	struct event *linger_timer; /* detached and gone from the store, rings still served */
	char reason[160]; /* why the device was disconnected for a fault */
};

struct pvringd {
	struct event_base *base;
	const struct pvringd_config *cfg;
	struct pvring_platform *plat;
	struct pvringd_dp *dp;
	struct pvringd_ctl *ctl;
	struct event *store_ev;
	struct event *reap_ev;
	struct event *store_probe_ev; /* is the store still there? (every PVRINGD_STORE_PROBE_MS) */
	bool store_lost; /* gone: connecting again on each probe */
	struct pvringd_disk *disks;
	unsigned int nr_disks;
	struct pvringd_device *devices;
	char *inflight_dir; /* rings' in-flight journals (daemon/inflight.h): rundir/inflight */
	bool starting; /* the first scan of what an earlier pvringd left */
	bool stopping;
};

/* ---- control plane (device.c) ---- */
int pvringd_control_start(struct pvringd *d, const char **why);
void pvringd_control_stop(struct pvringd *d);
struct pvringd_device *pvringd_device_find(struct pvringd *d, const char *name);
/*
 * The toolstack's part: give domain domid the disk target (a configured disk's
 * name, or the absolute path of an image inside the configured image
 * directories) as virtual device devid (0: the first free xvd*) of device type
 * type (PVRING_XS_TYPE_VBD or _PVBLK). Writes both store directories, the back
 * end already in InitWait. The new device, or NULL with err set.
 */
struct pvringd_device *pvringd_device_attach(struct pvringd *d, const char *target, bool read_only,
					     uint32_t domid, uint32_t devid, const char *type,
					     char *err, unsigned int err_len);
int pvringd_device_detach(struct pvringd_device *dev, char *err, unsigned int err_len);
const char *pvringd_state_name(uint32_t state);
/* Make an image's acknowledged writes durable and close it. */
void pvringd_disk_close(struct pvringd_disk *disk);

/* ---- control-socket commands (commands.c) ---- */
int pvringd_commands_register(struct pvringd *d);

#endif /* PVRINGD_H */
