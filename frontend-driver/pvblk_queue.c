// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvblk's data path: the rings (granted pages, event channels), blk-mq's queue_rq, and the
 * interrupt handler that takes responses off a ring. Every request is encoded, and every
 * response checked, by common/proto; the back end is not trusted: a response is copied out of
 * the ring once, and one that answers no request in flight, the wrong op or with a status the
 * protocol does not define breaks the device (pvblk_mark_broken), never the guest.
 */
#include <linux/interrupt.h>
#include <linux/slab.h>
#include <xen/events.h>
#include <xen/page.h>

#include "pvblk.h"

static const struct pvring_layout pvblk_layout =
	PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);

/* The one place a back end is kicked: by the hypervisor's doorbell if it has one. */
static void pvblk_kick(struct pvblk_queue *q)
{
	pvblk_doorbell_kick(q->evtchn, q->irq);
	q->kicks_out++;
}

size_t pvblk_request_size(unsigned int max_segments)
{
	return sizeof(struct pvblk_request) +
	       (max_segments + PVRING_BLKIF_MAX_INDIRECT_PAGES) * sizeof(u32);
}

unsigned int pvblk_request_pages(unsigned int nr_segments)
{
	if (!pvring_blkif_front_is_indirect(nr_segments))
		return nr_segments;
	return nr_segments + pvring_blkif_indirect_pages(nr_segments);
}

static struct pvblk_request *pvblk_pdu(struct request *rq)
{
	struct pvblk_request *preq = blk_mq_rq_to_pdu(rq);

	return preq;
}

static blk_status_t pvblk_status(s16 status)
{
	switch (status) {
	case PVRING_BLKIF_RSP_OKAY:
		return BLK_STS_OK;
	case PVRING_BLKIF_RSP_EOPNOTSUPP:
		return BLK_STS_NOTSUPP;
	default:
		return BLK_STS_IOERR;
	}
}

/* ---- the pool of granted pages (under the queue's lock) ---- */

static bool pvblk_pool_take(struct pvblk_queue *q, struct pvblk_request *preq, unsigned int n)
{
	if (q->nr_free < n)
		return false;
	while (n--)
		preq->pages[preq->nr_pages++] = q->pool_free[--q->nr_free];
	return true;
}

static void pvblk_pool_put(struct pvblk_queue *q, struct pvblk_request *preq)
{
	while (preq->nr_pages)
		q->pool_free[q->nr_free++] = preq->pages[--preq->nr_pages];
	preq->nr_indirect = 0;
}

static void *pvblk_pool_vaddr(struct pvblk_queue *q, u32 index)
{
	/* Pool pages are never highmem (alloc_page without __GFP_HIGHMEM). */
	return page_address(q->pool[index].page);
}

/*
 * Copy a read's or write's data between the request's own pages and its pool pages, where it
 * lies packed from the first pool page's first byte on: whatever the guest's buffers look like,
 * the back end sees DIV_ROUND_UP(bytes, 4 KiB) whole-page segments.
 */
static void pvblk_copy(struct pvblk_queue *q, struct request *rq, bool to_pool)
{
	struct pvblk_request *preq = pvblk_pdu(rq);
	const u32 *data = preq->pages + preq->nr_indirect;
	struct req_iterator iter;
	struct bio_vec bvec;
	size_t pos = 0;

	rq_for_each_segment(bvec, rq, iter)
	{
		char *buf = bvec_kmap_local(&bvec);
		unsigned int done = 0;

		while (done < bvec.bv_len) {
			char *pool = (char *)pvblk_pool_vaddr(q, data[pos >> PAGE_SHIFT]) +
				     offset_in_page(pos);
			unsigned int len = min_t(unsigned int, bvec.bv_len - done,
						 PAGE_SIZE - offset_in_page(pos));

			if (to_pool)
				memcpy(pool, buf + done, len);
			else
				memcpy(buf + done, pool, len);
			done += len;
			pos += len;
		}
		kunmap_local(buf);
		if (!to_pool)
			flush_dcache_page(bvec.bv_page);
	}
}

/* Encode a read or write on pool pages (and pool pages for its segment lists if indirect). */
static blk_status_t pvblk_encode_rw(struct pvblk_queue *q, struct request *rq,
				    union pvring_blkif_request *req)
{
	struct pvblk_info *info = q->info;
	struct pvblk_request *preq = pvblk_pdu(rq);
	bool write = rq_data_dir(rq) == WRITE;
	unsigned int bytes = blk_rq_bytes(rq);
	unsigned int nseg = DIV_ROUND_UP(bytes, PAGE_SIZE);
	grant_ref_t indirect_refs[PVRING_BLKIF_MAX_INDIRECT_PAGES];
	void *indirect_vaddr[PVRING_BLKIF_MAX_INDIRECT_PAGES] = { NULL };
	unsigned int i, nr_indirect = 0;

	/* max_hw_sectors keeps a request within max_segments pages. */
	if (!nseg || nseg > info->max_segments)
		return BLK_STS_IOERR;
	if (pvring_blkif_front_is_indirect(nseg))
		nr_indirect = pvring_blkif_indirect_pages(nseg);
	/*
	 * The pool holds at least one request of max_segments, so pages are short only while
	 * other requests of this queue are in flight; one of them completing re-runs the queue.
	 */
	if (!pvblk_pool_take(q, preq, nr_indirect + nseg))
		return BLK_STS_DEV_RESOURCE;
	preq->nr_indirect = nr_indirect;
	for (i = 0; i < nr_indirect; i++) {
		indirect_refs[i] = q->pool[preq->pages[i]].ref;
		indirect_vaddr[i] = pvblk_pool_vaddr(q, preq->pages[i]);
	}
	if (pvring_blkif_front_rw(req, write ? PVRING_BLKIF_OP_WRITE : PVRING_BLKIF_OP_READ,
				  (u16)info->devid, rq->tag, blk_rq_pos(rq), nseg, indirect_refs))
		goto bad;
	for (i = 0; i < nseg; i++) {
		u32 len = min_t(u32, bytes - i * PAGE_SIZE, PAGE_SIZE);

		if (pvring_blkif_front_segment(
			    pvring_blkif_front_segment_at(req, indirect_vaddr, i),
			    q->pool[preq->pages[nr_indirect + i]].ref, 0, len))
			goto bad;
	}
	if (write)
		pvblk_copy(q, rq, true);
	preq->response_op = pvring_blkif_response_op(req);
	return BLK_STS_OK;
bad:
	/* A length that is no whole number of 512-byte sectors: the block layer never sends one. */
	pvblk_pool_put(q, preq);
	return BLK_STS_IOERR;
}

static blk_status_t pvblk_encode(struct pvblk_queue *q, struct request *rq,
				 union pvring_blkif_request *req)
{
	struct pvblk_info *info = q->info;

	switch (req_op(rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		return pvblk_encode_rw(q, rq, req);
	case REQ_OP_FLUSH:
		if (!info->flush || pvring_blkif_front_rw(req, PVRING_BLKIF_OP_FLUSH_DISKCACHE,
							  (u16)info->devid, rq->tag, 0, 0, NULL))
			return BLK_STS_NOTSUPP;
		break;
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
		if (!info->discard || (req_op(rq) == REQ_OP_SECURE_ERASE && !info->discard_secure))
			return BLK_STS_NOTSUPP;
		pvring_blkif_front_discard(req, (u16)info->devid, rq->tag, blk_rq_pos(rq),
					   blk_rq_sectors(rq), req_op(rq) == REQ_OP_SECURE_ERASE);
		break;
	default:
		return BLK_STS_NOTSUPP;
	}
	pvblk_pdu(rq)->response_op = pvring_blkif_response_op(req);
	return BLK_STS_OK;
}

static blk_status_t pvblk_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct pvblk_queue *q = hctx->driver_data;
	struct request *rq = bd->rq;
	struct pvblk_request *preq = pvblk_pdu(rq);
	union pvring_blkif_request req;
	unsigned long flags;
	blk_status_t status;

	blk_mq_start_request(rq);
	preq->nr_pages = 0;
	preq->nr_indirect = 0;
	spin_lock_irqsave(&q->lock, flags);
	if (READ_ONCE(q->info->dead)) {
		status = BLK_STS_IOERR;
		goto out;
	}
	status = pvblk_encode(q, rq, &req);
	if (status != BLK_STS_OK)
		goto out;
	/*
	 * Never full: a tag is a slot (queue_depth is the ring's size), and a slot is free again
	 * once its response was consumed, before the tag is.
	 */
	if (WARN_ON_ONCE(!pvring_front_produce(&q->ring, &req))) {
		pvblk_pool_put(q, preq);
		status = BLK_STS_IOERR;
		goto out;
	}
	preq->in_flight = true;
	q->requests++;
	if (bd->last && pvring_front_push(&q->ring))
		pvblk_kick(q);
out:
	spin_unlock_irqrestore(&q->lock, flags);
	return status;
}

/* The end of a batch queue_rq left unpushed (bd->last was never true). */
static void pvblk_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	struct pvblk_queue *q = hctx->driver_data;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	if (pvring_front_push(&q->ring))
		pvblk_kick(q);
	spin_unlock_irqrestore(&q->lock, flags);
}

static void pvblk_complete_rq(struct request *rq)
{
	blk_mq_end_request(rq, pvblk_pdu(rq)->status);
}

/* One response, copied out of the ring. False if it broke the protocol. */
static bool pvblk_response(struct pvblk_queue *q, const struct pvring_blkif_response *rsp)
{
	struct pvblk_info *info = q->info;
	struct pvblk_request *preq;
	struct request *rq = NULL;

	if (rsp->id < info->tag_set.queue_depth)
		rq = blk_mq_tag_to_rq(info->tag_set.tags[q->index], (unsigned int)rsp->id);
	preq = rq ? pvblk_pdu(rq) : NULL;
	if (!preq || !preq->in_flight) {
		pvblk_mark_broken(info, "queue %u: response id %llu is not a request in flight",
				  q->index, rsp->id);
		return false;
	}
	switch (pvring_blkif_front_check_response(rsp, preq->response_op)) {
	case PVRING_BLKIF_RSP_VALID:
		break;
	case PVRING_BLKIF_RSP_EWRONG_OP:
		pvblk_mark_broken(info, "queue %u: response to id %llu has op %u, not %u", q->index,
				  rsp->id, rsp->op, preq->response_op);
		return false;
	case PVRING_BLKIF_RSP_EBAD_STATUS:
		pvblk_mark_broken(info, "queue %u: response to id %llu has status %d", q->index,
				  rsp->id, rsp->status);
		return false;
	}
	preq->in_flight = false;
	preq->status = pvblk_status(rsp->status);
	if (preq->status == BLK_STS_OK && req_op(rq) == REQ_OP_READ)
		pvblk_copy(q, rq, false);
	pvblk_pool_put(q, preq);
	q->responses++;
	if (likely(!blk_should_fake_timeout(rq->q)))
		blk_mq_complete_request(rq);
	return true;
}

/*
 * Take every response published so far (under q->lock), counting them in *found. False once the
 * back end broke the protocol: the device is then closing and the rest is left.
 */
static bool pvblk_consume(struct pvblk_queue *q, unsigned int *found)
{
	struct pvring_blkif_response rsp;

	if (READ_ONCE(q->info->broken))
		return false;
	while (pvring_front_consume(&q->ring, &rsp)) {
		(*found)++;
		if (!pvblk_response(q, &rsp))
			return false;
	}
	if (pvring_front_fault(&q->ring)) {
		pvblk_mark_broken(q->info, "queue %u: %s", q->index,
				  pvring_fault_str(pvring_front_fault(&q->ring)));
		return false;
	}
	return true;
}

static irqreturn_t pvblk_interrupt(int irq, void *dev_id)
{
	struct pvblk_queue *q = dev_id;
	unsigned int found = 0;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->kicks_in++;
	/*
	 * A poll ring's responses are its pollers' (and the timeout's): polled requests are not
	 * completed in hard interrupt context. Its rsp_event is out of reach; a back end kicking
	 * regardless gets a spurious EOI.
	 */
	while (!q->polled && pvblk_consume(q, &found) && pvring_front_final_check(&q->ring))
		;
	spin_unlock_irqrestore(&q->lock, flags);
	/*
	 * Late EOI: the event channel is unmasked only now, and a kick that brought no response
	 * counts as spurious, so a back end kicking in a loop is throttled by Xen's event code
	 * instead of pinning this vCPU (XSA-391).
	 */
	xen_irq_lateeoi(irq, found ? 0 : XEN_EOI_FLAG_SPURIOUS);
	return IRQ_HANDLED;
}

/*
 * blk-mq polls a poll queue for a polled request (io_uring IOPOLL; 6.1 polls no sync I/O): its
 * responses are taken here, on the submitter's CPU, and no interrupt is taken for them.
 */
static int pvblk_poll(struct blk_mq_hw_ctx *hctx, struct io_comp_batch *iob)
{
	struct pvblk_queue *q = hctx->driver_data;
	unsigned int found = 0;
	unsigned long flags;

	/*
	 * Pollers go on while a disk is closed or resumed (quiescing stops dispatch, not
	 * polling): no ring, or a stopped one, has nothing for them. Always under the lock: at a
	 * resume the ring is taken away under it, so no look without it is safe.
	 */
	spin_lock_irqsave(&q->lock, flags);
	if (!READ_ONCE(q->info->dead) && q->ring_pages) {
		pvblk_consume(q, &found);
		q->polled_responses += found;
		if (found)
			pvring_front_poll_begin(&q->ring);
	}
	spin_unlock_irqrestore(&q->lock, flags);
	return found;
}

/* Default queues get the vCPUs in turn; the poll queues are shared out over them too. */
static void pvblk_map_queues(struct blk_mq_tag_set *set)
{
	struct pvblk_info *info = set->driver_data;
	unsigned int i, offset = 0;

	for (i = 0; i < set->nr_maps; i++) {
		struct blk_mq_queue_map *map = &set->map[i];

		if (i == HCTX_TYPE_DEFAULT)
			map->nr_queues = info->nr_queues - info->nr_poll_queues;
		else if (i == HCTX_TYPE_POLL)
			map->nr_queues = info->nr_poll_queues;
		else
			map->nr_queues = 0; /* reads share the default queues */
		map->queue_offset = offset;
		offset += map->nr_queues;
		if (map->nr_queues)
			blk_mq_map_queues(map);
	}
}

/*
 * A request the back end has not answered in the queue's timeout (the request_timeout module
 * parameter): a back end that stops answering is as broken as one that answers wrongly. The
 * device closes and every request in flight fails (the broken work completes this one).
 */
static enum blk_eh_timer_return pvblk_timeout(struct request *rq)
{
	struct pvblk_queue *q = rq->mq_hctx->driver_data;
	struct pvblk_request *preq = pvblk_pdu(rq);
	unsigned int found = 0;
	unsigned long flags;
	bool answered;

	/*
	 * Answered, and not looked at: a poll ring whose poller stopped (an io_uring reaper that
	 * was stopped, say) wakes no one. Take what the ring holds before blaming the back end.
	 */
	spin_lock_irqsave(&q->lock, flags);
	if (!READ_ONCE(q->info->dead) && q->ring_pages && pvblk_consume(q, &found) && found &&
	    q->polled)
		pvring_front_poll_begin(&q->ring);
	answered = !preq->in_flight;
	spin_unlock_irqrestore(&q->lock, flags);
	if (answered)
		return BLK_EH_DONE;
	pvblk_mark_broken(q->info, "queue %u: request %d not answered within %u s", q->index,
			  rq->tag, jiffies_to_msecs(rq->q->rq_timeout) / 1000);
	return BLK_EH_DONE;
}

static int pvblk_init_hctx(struct blk_mq_hw_ctx *hctx, void *data, unsigned int index)
{
	struct pvblk_info *info = data;

	hctx->driver_data = &info->queues[index];
	return 0;
}

static int pvblk_init_request(struct blk_mq_tag_set *set, struct request *rq, unsigned int hctx_idx,
			      unsigned int numa_node)
{
	struct pvblk_request *preq = pvblk_pdu(rq);

	memset(preq, 0, sizeof(*preq));
	preq->pages = (u32 *)(preq + 1);
	return 0;
}

const struct blk_mq_ops pvblk_mq_ops = {
	.queue_rq = pvblk_queue_rq,
	.commit_rqs = pvblk_commit_rqs,
	.complete = pvblk_complete_rq,
	.init_hctx = pvblk_init_hctx,
	.init_request = pvblk_init_request,
	.timeout = pvblk_timeout,
	.poll = pvblk_poll,
	.map_queues = pvblk_map_queues,
};

/* ---- rings ---- */

static void pvblk_pool_free(struct pvblk_queue *q)
{
	unsigned int i;

	for (i = 0; q->pool && i < q->pool_size; i++) {
		struct pvblk_gpage *gp = &q->pool[i];

		if (!gp->page)
			break;
		/* A page the back end still maps is freed when it lets go, never before. */
		if (gnttab_try_end_foreign_access(gp->ref))
			__free_page(gp->page);
		else
			gnttab_end_foreign_access(gp->ref, gp->page);
	}
	kvfree(q->pool);
	kvfree(q->pool_free);
	q->pool = NULL;
	q->pool_free = NULL;
	q->pool_size = 0;
	q->nr_free = 0;
}

/* info->pool_size pages, each granted to the back end read-write for the ring's life. */
static int pvblk_pool_setup(struct pvblk_queue *q)
{
	struct pvblk_info *info = q->info;
	domid_t backend = info->xbdev->otherend_id;
	unsigned int i;
	int ref;

	q->pool = kvcalloc(info->pool_size, sizeof(*q->pool), GFP_NOIO);
	q->pool_free = kvcalloc(info->pool_size, sizeof(*q->pool_free), GFP_NOIO);
	if (!q->pool || !q->pool_free)
		return -ENOMEM;
	q->pool_size = info->pool_size;
	for (i = 0; i < q->pool_size; i++) {
		struct pvblk_gpage *gp = &q->pool[i];

		gp->page = alloc_page(GFP_NOIO | __GFP_ZERO);
		if (!gp->page)
			return -ENOMEM;
		ref = gnttab_grant_foreign_access(backend, xen_page_to_gfn(gp->page), 0);
		if (ref < 0) {
			__free_page(gp->page);
			gp->page = NULL;
			/* Out of grant references: a smaller pool serves, down to one request. */
			if (i < pvblk_request_pages(info->max_segments))
				return ref;
			dev_warn(&info->xbdev->dev,
				 "queue %u: %u of %u pages granted (the grant table is full)\n",
				 q->index, i, q->pool_size);
			q->pool_size = i;
			break;
		}
		gp->ref = ref;
		q->pool_free[q->nr_free++] = i;
	}
	return 0;
}

static int pvblk_queue_setup(struct pvblk_queue *q)
{
	struct pvblk_info *info = q->info;
	struct xenbus_device *xbdev = info->xbdev;
	unsigned int nr_pages = 1u << info->ring_order;
	int err;

	err = pvblk_pool_setup(q);
	if (err)
		return err;
	err = xenbus_setup_ring(xbdev, GFP_NOIO, &q->ring_pages, nr_pages, q->ring_refs);
	if (err)
		return err;
	if (!pvring_front_init(&q->ring, q->ring_pages, info->ring_order, &pvblk_layout, 0))
		return -EINVAL;
	if (q->polled)
		pvring_front_poll_begin(&q->ring);
	err = xenbus_alloc_evtchn(xbdev, &q->evtchn);
	if (err)
		return err;
	snprintf(q->irq_name, sizeof(q->irq_name), "pvblk-%u-q%u", info->devid, q->index);
	err = bind_evtchn_to_irqhandler_lateeoi(q->evtchn, pvblk_interrupt, 0, q->irq_name, q);
	if (err < 0) {
		xenbus_free_evtchn(xbdev, q->evtchn);
		q->evtchn = 0;
		return err;
	}
	q->irq = err;
	/* Completions land on the vCPU that owns the queue (blk-mq maps CPU i to queue i). */
	if (!q->polled && q->index < nr_cpu_ids && cpu_online(q->index))
		irq_set_affinity(q->irq, cpumask_of(q->index));
	return 0;
}

int pvblk_queues_setup(struct pvblk_info *info)
{
	unsigned int i;
	int err;

	/* After a resume the queues are kept (blk-mq's hctxs point at them): new rings only. */
	if (info->queues)
		goto rings;
	info->queues = kcalloc(info->nr_queues, sizeof(*info->queues), GFP_KERNEL);
	if (!info->queues)
		return -ENOMEM;
	/* Every lock first: a failed setup is torn down through all the queues. */
	for (i = 0; i < info->nr_queues; i++) {
		info->queues[i].info = info;
		info->queues[i].index = i;
		info->queues[i].polled = i >= info->nr_queues - info->nr_poll_queues;
		spin_lock_init(&info->queues[i].lock);
	}
rings:
	for (i = 0; i < info->nr_queues; i++) {
		err = pvblk_queue_setup(&info->queues[i]);
		if (err)
			return err;
	}
	return 0;
}

/* After the rings stopped: every request still in flight fails and gives its pool pages back. */
static bool pvblk_fail_one(struct request *rq, void *data)
{
	struct pvblk_queue *q = rq->mq_hctx->driver_data;
	struct pvblk_request *preq = pvblk_pdu(rq);
	bool mine;

	/* Under the lock: a poller taking its response at the same time completes it instead. */
	spin_lock_irq(&q->lock);
	mine = preq->in_flight;
	preq->in_flight = false;
	if (mine)
		pvblk_pool_put(q, preq);
	spin_unlock_irq(&q->lock);
	if (!mine)
		return true;
	preq->status = BLK_STS_IOERR;
	blk_mq_complete_request(rq);
	return true;
}

void pvblk_queues_stop(struct pvblk_info *info)
{
	unsigned int i;

	WRITE_ONCE(info->dead, true);
	/*
	 * No interrupt handler runs once this returns (so nothing marks the device broken any
	 * more), and every queue_rq from now on sees dead under its queue's lock.
	 */
	for (i = 0; info->queues && i < info->nr_queues; i++) {
		if (info->queues[i].irq > 0)
			disable_irq(info->queues[i].irq);
		spin_lock_irq(&info->queues[i].lock);
		spin_unlock_irq(&info->queues[i].lock);
	}
}

void pvblk_queues_fail_inflight(struct pvblk_info *info)
{
	pvblk_queues_stop(info);
	if (info->tag_set.tags)
		blk_mq_tagset_busy_iter(&info->tag_set, pvblk_fail_one, info);
}

/* A request in flight on a ring void since the resume: back to blk-mq, to be sent again. */
static bool pvblk_take_back_one(struct request *rq, void *data)
{
	struct pvblk_queue *q = rq->mq_hctx->driver_data;
	struct pvblk_request *preq = pvblk_pdu(rq);
	unsigned int *count = data;
	bool mine;

	/* Under the lock, as pvblk_fail_one(): each request is finished by one path only. */
	spin_lock_irq(&q->lock);
	mine = preq->in_flight;
	preq->in_flight = false;
	/* Its pool pages go with the old pool; encoding it again takes new ones. */
	if (mine) {
		preq->nr_pages = 0;
		preq->nr_indirect = 0;
	}
	spin_unlock_irq(&q->lock);
	if (!mine)
		return true;
	q->reissued++;
	(*count)++;
	/* Held on the requeue list: the queue is quiesced until the new rings are Connected. */
	blk_mq_requeue_request(rq, false);
	return true;
}

unsigned int pvblk_queues_take_back(struct pvblk_info *info)
{
	unsigned int count = 0;

	blk_mq_tagset_busy_iter(&info->tag_set, pvblk_take_back_one, &count);
	return count;
}

void pvblk_queues_release(struct pvblk_info *info)
{
	unsigned int i;
	void *ring_pages;

	for (i = 0; info->queues && i < info->nr_queues; i++) {
		struct pvblk_queue *q = &info->queues[i];

		if (q->irq > 0)
			unbind_from_irqhandler(q->irq, q); /* closes the event channel */
		else if (q->evtchn)
			xenbus_free_evtchn(info->xbdev, q->evtchn);
		q->irq = 0;
		q->evtchn = 0;
		/* The sysfs reader looks at the ring under the lock: it then sees none. */
		spin_lock_irq(&q->lock);
		ring_pages = q->ring_pages;
		q->ring_pages = NULL;
		memset(&q->ring, 0, sizeof(q->ring));
		spin_unlock_irq(&q->lock);
		/* Pages the back end still maps are freed when it lets go. */
		if (ring_pages)
			xenbus_teardown_ring(&ring_pages, 1u << info->ring_order, q->ring_refs);
		pvblk_pool_free(q);
	}
}

void pvblk_queues_free(struct pvblk_info *info)
{
	pvblk_queues_release(info);
	kfree(info->queues);
	info->queues = NULL;
}

/* The keys of one ring, in dir ("" for a single queue, "queue-N/" otherwise). */
static int pvblk_queue_publish(struct pvblk_info *info, struct pvblk_queue *q,
			       struct xenbus_transaction xbt, const char *dir)
{
	const char *node = info->xbdev->nodename;
	unsigned int i, nr_pages = 1u << info->ring_order;
	char key[32];
	int err;

	for (i = 0; i < nr_pages; i++) {
		if (info->ring_order)
			snprintf(key, sizeof(key), "%s%s%u", dir, PVRING_XS_RING_REF, i);
		else
			snprintf(key, sizeof(key), "%s%s", dir, PVRING_XS_RING_REF);
		err = xenbus_printf(xbt, node, key, "%u", q->ring_refs[i]);
		if (err)
			return err;
	}
	snprintf(key, sizeof(key), "%s%s", dir, PVRING_XS_EVENT_CHANNEL);
	return xenbus_printf(xbt, node, key, "%u", q->evtchn);
}

int pvblk_queues_publish(struct pvblk_info *info, struct xenbus_transaction xbt)
{
	const char *node = info->xbdev->nodename;
	char dir[24];
	unsigned int i;
	int err;

	if (info->ring_order) {
		err = xenbus_printf(xbt, node, PVRING_XS_RING_PAGE_ORDER, "%u", info->ring_order);
		if (err)
			return err;
	}
	if (info->nr_queues == 1)
		return pvblk_queue_publish(info, &info->queues[0], xbt, "");
	err = xenbus_printf(xbt, node, PVRING_XS_NUM_QUEUES, "%u", info->nr_queues);
	if (err)
		return err;
	for (i = 0; i < info->nr_queues; i++) {
		snprintf(dir, sizeof(dir), "%s%u/", PVRING_XS_QUEUE_DIR, i);
		err = pvblk_queue_publish(info, &info->queues[i], xbt, dir);
		if (err)
			return err;
	}
	return 0;
}

/* ---- /sys/block/pvdX/pvblk/rings: each ring's state and counters, one line per queue ---- */

static ssize_t rings_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct pvblk_info *info = dev_to_disk(dev)->private_data;
	unsigned int i;
	int len;

	len = sysfs_emit(buf,
			 "queue order slots req-prod req-pvt rsp-prod rsp-cons rsp-event "
			 "in-flight requests responses kicks-out kicks-in type polled reissued\n");
	for (i = 0; info->queues && i < info->nr_queues; i++) {
		struct pvblk_queue *q = &info->queues[i];
		struct pvring_sring *sring, none = { 0 };
		unsigned long flags;

		/* One consistent line: the ring's private indices change under this lock. */
		spin_lock_irqsave(&q->lock, flags);
		/* No ring between a resume and the new one's setup. */
		sring = q->ring.shape.sring ?: &none;
		len += sysfs_emit_at(
			buf, len, "%u %u %u %u %u %u %u %u %u %llu %llu %llu %llu %s %llu %llu\n",
			q->index, info->ring_order, pvring_front_nr_slots(&q->ring),
			READ_ONCE(sring->req_prod), q->ring.req_prod_pvt,
			READ_ONCE(sring->rsp_prod), q->ring.rsp_cons, READ_ONCE(sring->rsp_event),
			q->ring.req_prod_pvt - q->ring.rsp_cons, q->requests, q->responses,
			q->kicks_out, q->kicks_in, q->polled ? "poll" : "default",
			q->polled_responses, q->reissued);
		spin_unlock_irqrestore(&q->lock, flags);
	}
	return len;
}
static DEVICE_ATTR_RO(rings);

static struct attribute *pvblk_disk_attrs[] = {
	&dev_attr_rings.attr,
	NULL,
};

static const struct attribute_group pvblk_disk_group = {
	.name = "pvblk",
	.attrs = pvblk_disk_attrs,
};

const struct attribute_group *pvblk_disk_groups[] = {
	&pvblk_disk_group,
	NULL,
};
