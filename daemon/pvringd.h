/* SPDX-License-Identifier: MIT */
/*
 * pvringd's objects, shared by the control plane (device.c), the data plane
 * (dataplane.c), the control-socket commands (commands.c) and main.
 *
 *   struct pvringd         one per process: the loop, platform, store, aio
 *   struct pvringd_disk    a configured image, open for the daemon's life
 *   struct pvringd_device  a disk attached to one guest (domid/devid) and its
 *                          xenbus state machine
 *   struct pvringd_ring    one queue of a connected device: the shared ring,
 *                          its event channel, its requests in flight
 */
#ifndef PVRINGD_H
#define PVRINGD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/proto/pvring_blkif.h"
#include "common/ring/pvring_ring.h"
#include "daemon/image.h"

struct event;
struct event_base;
struct pvring_aio;
struct pvring_platform;
struct pvringd_config;
struct pvringd_ctl;
struct pvringd_ring;

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

struct pvringd_disk {
	/* A configured disk's name (the configuration's, which outlives the
	 * daemon's objects), or for an image attached by path its resolved path,
	 * owned by the device it was opened for. */
	const char *name;
	struct pvring_image image;
};

struct pvringd_counters {
	uint64_t requests, by_op[8]; /* by_op indexed by the blkif op code (0..6) */
	uint64_t responses, errors;
	uint64_t kicks_in, kicks_out;
	uint64_t batches, batch_max;
	uint64_t bytes_read, bytes_written;
};

/* A request consumed from a ring and not yet answered. */
struct pvringd_request {
	struct pvringd_ring *ring;
	union pvring_blkif_request req; /* pvringd's own copy, taken once */
	uint32_t index; /* free-running request index it was consumed at */
	uint32_t nr_iov;
	uint64_t sector;
	uint64_t bytes;
	uint8_t op; /* the effective op: READ/WRITE for indirect */
	bool in_use;
	bool flushed; /* flush/barrier: the sync part is done */
	/* grants mapped for this request alone (not persistent) */
	void *map_addr;
	uint32_t map_count;
	bool map_writable;
	struct iovec *iov; /* max_segments entries */
	uint32_t *map_refs; /* max_segments entries */
	struct pvringd_request *next_free;
};

/* A persistent grant: mapped once, kept until the ring disconnects. */
struct pvringd_pgrant {
	uint32_t gref;
	bool used;
	bool writable;
	void *addr;
};

struct pvringd_ring {
	struct pvringd_device *dev;
	uint32_t queue;
	unsigned int order;
	uint32_t refs[1u << PVRING_MAX_ORDER];
	void *shared;
	struct pvring_back back;
	uint32_t remote_port;
	int port; /* local port; -1 when not bound */
	bool dead; /* stopped: no more consuming, no more responses */
	bool push_pending; /* responses produced, not yet pushed */
	struct pvringd_ring *next_push;
	uint32_t in_flight;
	uint32_t max_segments; /* per request, direct or indirect */
	struct pvringd_request *reqs; /* one per slot */
	struct pvringd_request *free_reqs;
	struct pvring_blkif_segment *indirect_segs; /* max_segments: an indirect request's copy */
	struct pvringd_pgrant *pgrants; /* open-addressed by gref; NULL: not persistent */
	uint32_t pgrant_slots, nr_pgrants;
	struct pvringd_counters counters;
	uint64_t warn_second; /* rate limit of what the front end did wrong */
	uint32_t warn_count, warn_dropped;
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
	uint32_t nr_rings;
	unsigned int order;
	struct pvringd_ring *rings;
	uint32_t rings_in_flight; /* rings stopped but still waiting for I/O */
	bool remove_when_idle; /* the guest or the attachment is gone */
	bool finish_pending; /* idle: finish_disconnect on the next loop turn */
	bool detaching; /* closing for good: removed once the front end is Closed */
	bool serving_last; /* disconnect's last pass over the rings is running */
	struct event *detach_timer; /* a front end that never lets go is cut off */
	struct event *linger_timer; /* detached and gone from the store, rings still served */
	char reason[160]; /* why the device was disconnected for a fault */
};

struct pvringd {
	struct event_base *base;
	const struct pvringd_config *cfg;
	struct pvring_platform *plat;
	struct pvring_aio *aio;
	struct pvringd_ctl *ctl;
	struct event *store_ev;
	struct event *evtchn_ev;
	struct event *push_ev;
	struct event *reap_ev;
	struct pvringd_ring *push_list;
	struct pvringd_disk *disks;
	unsigned int nr_disks;
	struct pvringd_device *devices;
	struct pvringd_ring **port_rings; /* by local port */
	uint32_t nr_port_rings;
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
/* A ring broke (bad producer index, unusable request): disconnect with a reason. */
void pvringd_device_fail(struct pvringd_device *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The data plane finished the last request of a stopped ring. */
void pvringd_device_ring_idle(struct pvringd_ring *ring);
const char *pvringd_state_name(uint32_t state);
/* Make an image's acknowledged writes durable and close it. */
void pvringd_disk_close(struct pvringd_disk *disk);

/* ---- data plane (dataplane.c) ---- */
int pvringd_dataplane_start(struct pvringd *d, const char **why);
void pvringd_dataplane_stop(struct pvringd *d);
/* Map and bind a ring whose refs, order and remote port are set; 0 or -1 with why. */
int pvringd_ring_connect(struct pvringd_ring *ring, char *why, unsigned int why_len);
/*
 * Take on every request the front end has published, as a last pass before a
 * stop: a front end that let go may still wait for their answers (blkfront's
 * removal waits for every request it sent).
 */
void pvringd_ring_serve_published(struct pvringd_ring *ring);
/* Stop consuming; true if no I/O is in flight (else ring_idle follows). */
bool pvringd_ring_stop(struct pvringd_ring *ring);
/* Undo connect; only once the ring is stopped and idle. */
void pvringd_ring_release(struct pvringd_ring *ring);

/* ---- control-socket commands (commands.c) ---- */
int pvringd_commands_register(struct pvringd *d);

#endif /* PVRINGD_H */
