/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvblk: a Xen block front end for the "pvblk" device type, on pvring's shared rings.
 *
 * One pvblk_info per disk (xenbus device), one pvblk_queue per ring: a blk-mq hardware queue,
 * its ring pages granted to the back end, its event channel bound to the vCPU that owns the
 * queue. Requests are encoded and responses checked by common/proto (pvring_blkif_front.h), the
 * ring is common/ring: the code pvringd uses on the other side.
 */
#ifndef PVBLK_H
#define PVBLK_H

#include <linux/blk-mq.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <xen/grant_table.h>
#include <xen/xenbus.h>

#include "pvring_ring.h"
#include "pvring_blkif.h"
#include "pvring_blkif_front.h"
#include "pvring_xenbus.h"

#define PVBLK_DEVICE_TYPE PVRING_XS_TYPE_PVBLK
/* Partitions per disk. */
#define PVBLK_MINORS 16
/* The most pages one ring may have (2^4), as Xen's XENBUS_MAX_RING_GRANT_ORDER. */
#define PVBLK_MAX_RING_PAGES (1u << PVRING_MAX_ORDER)

struct pvblk_info;

/*
 * A page the front end owns and keeps granted to the back end (read-write) for the life of the
 * ring: a persistent grant. Data is copied through these (bounce pages), so the guest's own pages
 * are never granted: a back end sees no byte beyond the request's (XSA-403), a request failed at
 * teardown leaves nothing of the guest's mapped, and the hot path allocates no grant.
 */
struct pvblk_gpage {
	struct page *page;
	grant_ref_t ref;
};

/* Per ring: a blk-mq hardware queue. */
struct pvblk_queue {
	struct pvblk_info *info;
	unsigned int index;
	/* A poll queue (HCTX_TYPE_POLL): its responses are found by polling, no kick wanted. */
	bool polled;
	/* Serialises the ring: producing in queue_rq, consuming in the interrupt handler. */
	spinlock_t lock;
	struct pvring_front ring;
	void *ring_pages;
	grant_ref_t ring_refs[PVBLK_MAX_RING_PAGES];
	evtchn_port_t evtchn;
	int irq;
	char irq_name[32];
	/* The ring's granted pages and a stack of the free ones' indices (under lock). */
	struct pvblk_gpage *pool;
	u32 *pool_free;
	unsigned int pool_size, nr_free;
	/* Counters, read without the lock. */
	u64 requests, responses, kicks_out, kicks_in, polled_responses;
	/* Requests taken back from the ring at a resume, to be sent again on the new one. */
	u64 reissued;
};

/* Per request (blk-mq's pdu): what is needed to finish it when its response comes. */
struct pvblk_request {
	bool in_flight;
	u8 response_op; /* the op its response must carry */
	u16 nr_indirect; /* the first nr_indirect of pages[] hold the segment lists */
	u16 nr_pages; /* pool pages it holds: indirect, then data */
	blk_status_t status;
	/* Indices into its queue's pool; room for max_segments + the indirect pages. */
	u32 *pages;
};

struct pvblk_info {
	struct xenbus_device *xbdev;
	struct mutex lock; /* the xenbus state machine */
	u32 devid; /* the xenbus device number ("virtual-device") */
	unsigned int disk_index;

	/* Negotiated in talk_to_backend(): the last nr_poll_queues of the rings are polled. */
	unsigned int nr_queues, nr_poll_queues;
	unsigned int ring_order;
	unsigned int max_segments; /* per request; above 11 they go indirect */
	unsigned int pool_size; /* granted pages per ring */
	struct pvblk_queue *queues;

	/* Read when the back end connects. */
	u64 sectors;
	unsigned int sector_size, physical_sector_size;
	bool read_only, flush, discard, discard_secure;
	u32 discard_granularity, discard_alignment;

	struct blk_mq_tag_set tag_set;
	struct gendisk *gd;

	/* Set once the back end broke the protocol; the device is then closed. */
	bool broken;
	struct work_struct broken_work;
	char broken_reason[128];
	/* No new requests go to the rings (closing, broken, or restored and not yet connected). */
	bool dead;
	/* Restored: rings void, requests held until Connected again (or resume_timeout). */
	bool resuming;
	unsigned long quiesced; /* bit 0: the queue is quiesced since a resume */
	struct delayed_work resume_timeout;
};

int pvblk_queues_setup(struct pvblk_info *info);
void pvblk_queues_free(struct pvblk_info *info);
/* Rings, pools and event channels go; the queues (blk-mq's hctx data) stay for new rings. */
void pvblk_queues_release(struct pvblk_info *info);
/* After a resume, the rings stopped: requests in flight go back to blk-mq's requeue list. */
unsigned int pvblk_queues_take_back(struct pvblk_info *info);
int pvblk_queues_publish(struct pvblk_info *info, struct xenbus_transaction xbt);
void pvblk_queues_stop(struct pvblk_info *info);
void pvblk_queues_fail_inflight(struct pvblk_info *info);
extern const struct blk_mq_ops pvblk_mq_ops;
/* The disk's sysfs attributes: pvblk/rings. */
extern const struct attribute_group *pvblk_disk_groups[];
size_t pvblk_request_size(unsigned int max_segments);

/* pvblk_doorbell.c: read CPUID (at load and resume); kick one ring's back end. */
void pvblk_doorbell_probe(void);
void pvblk_doorbell_kick(evtchn_port_t evtchn, int irq);
void pvblk_doorbell_suspend(void);
/* Pool pages a read or write of nr_segments holds: its data, and its segment lists if indirect. */
unsigned int pvblk_request_pages(unsigned int nr_segments);
void pvblk_mark_broken(struct pvblk_info *info, const char *fmt, ...) __printf(2, 3);

#endif /* PVBLK_H */
