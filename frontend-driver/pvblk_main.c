// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvblk: the xenbus side. A "pvblk" device appears in the guest's store (device/pvblk/N, written
 * by pvringd's attach); the front end waits for the back end's offer (InitWait), sets up its
 * rings within it, publishes them (Initialised), and once the back end is Connected reads the
 * disk's size and features and adds the disk. The back end going Closing, the device's removal
 * or the module's unload take the disk away: its users get I/O errors, nothing hangs.
 */
#include <linux/module.h>
#include <linux/blkdev.h>
#include <linux/major.h>
#include <linux/slab.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include "pvblk.h"

MODULE_DESCRIPTION("pvring block front end for Xen (pvblk)");
MODULE_LICENSE("Dual MIT/GPL");
MODULE_ALIAS("xen:" PVBLK_DEVICE_TYPE);

static unsigned int max_queues = 64;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues, "Most rings (blk-mq hardware queues) per disk; one per vCPU");
static unsigned int poll_queues = 1;
module_param(poll_queues, uint, 0444);
MODULE_PARM_DESC(poll_queues, "Rings for polled I/O (io_uring IOPOLL) per disk, "
			      "beyond the vCPUs' when the back end offers that many");
static unsigned int max_ring_order = 2;
module_param(max_ring_order, uint, 0444);
MODULE_PARM_DESC(max_ring_order, "Largest ring: 2^order pages (up to 4)");
static unsigned int max_segments = 256;
module_param(max_segments, uint, 0444);
MODULE_PARM_DESC(max_segments, "Most 4 KiB segments per request (11..512; above 11: indirect)");
/* The largest max_segments= (2 MiB requests); every ring's pool holds one such request. */
#define PVBLK_MAX_SEGMENTS_PARAM 512u
static unsigned int ring_grants = 1024;
module_param(ring_grants, uint, 0444);
MODULE_PARM_DESC(ring_grants, "Most pages one ring keeps granted to the back end (persistent "
			      "grants; at least one largest request's)");
static unsigned int disk_grants = 4096;
module_param(disk_grants, uint, 0444);
MODULE_PARM_DESC(disk_grants, "Pages one disk's rings keep granted together, shared out among "
			      "them (each still gets one largest request's)");
static unsigned int request_timeout = 60;
module_param(request_timeout, uint, 0644);
MODULE_PARM_DESC(request_timeout,
		 "Seconds a back end may take to answer a request before the device is closed "
		 "(for disks connected from then on)");

static int pvblk_major;

static const struct block_device_operations pvblk_fops = {
	.owner = THIS_MODULE,
};

void pvblk_mark_broken(struct pvblk_info *info, const char *fmt, ...)
{
	va_list ap;

	if (info->broken)
		return;
	va_start(ap, fmt);
	vsnprintf(info->broken_reason, sizeof(info->broken_reason), fmt, ap);
	va_end(ap);
	WRITE_ONCE(info->broken, true);
	WRITE_ONCE(info->dead, true);
	/* The store is written, and requests failed, outside the interrupt handler. */
	schedule_work(&info->broken_work);
}

static void pvblk_resume_end(struct pvblk_info *info);

static void pvblk_close_disk(struct pvblk_info *info)
{
	/* Then no interrupt or resume deadline schedules the broken work, and it is not running. */
	cancel_delayed_work_sync(&info->resume_timeout);
	pvblk_queues_stop(info);
	cancel_work_sync(&info->broken_work);
	info->resuming = false;
	if (info->gd) {
		/* New I/O fails at once; then whatever is in flight, or held since a resume, fails.
		 */
		blk_mark_disk_dead(info->gd);
		pvblk_resume_end(info);
		pvblk_queues_fail_inflight(info);
		del_gendisk(info->gd);
		blk_mq_free_tag_set(&info->tag_set);
		put_disk(info->gd);
		info->gd = NULL;
		/* A request timing out until the queue went may have scheduled it again. */
		cancel_work_sync(&info->broken_work);
	} else {
		pvblk_queues_fail_inflight(info);
	}
	pvblk_queues_free(info);
}

static void pvblk_broken_work(struct work_struct *work)
{
	struct pvblk_info *info = container_of(work, struct pvblk_info, broken_work);

	dev_err(&info->xbdev->dev, "back end broke the protocol: %s; disconnecting\n",
		info->broken_reason);
	/*
	 * Not under info->lock: the xenbus thread may hold it in device_add_disk(), waiting for
	 * the partition scan's read this fails. Closing cancels this work before it frees the
	 * queues.
	 */
	pvblk_queues_fail_inflight(info);
	/* Requests held since a resume fail too (dead is set). */
	pvblk_resume_end(info);
	/* Closing: the back end tears down; the disk goes when it answers Closing/Closed. */
	xenbus_dev_fatal(info->xbdev, -EPROTO, "%s", info->broken_reason);
}

/* The disk's index among pvblk disks, from its device number (xvd encodings). */
static unsigned int pvblk_disk_index(u32 devid)
{
	if (devid & (1u << 28))
		return (devid >> 8) & 0xfffff;
	return (devid >> 4) & 0xf;
}

static void pvblk_disk_name(char *name, unsigned int index)
{
	char letters[8];
	int n = 0;

	/* pvda..pvdz, pvdaa.., as sd and xvd names go. */
	do {
		letters[n++] = 'a' + index % 26;
		index = index / 26;
	} while (index-- > 0 && n < (int)sizeof(letters));
	name += sprintf(name, "pvd");
	while (n)
		*name++ = letters[--n];
	*name = '\0';
}

/*
 * The rings' shape from the back end's offer. After a resume the disk keeps the shape it has
 * (its blk-mq queues and tags are the old rings'), so the new back end must offer at least that.
 */
static int pvblk_negotiate(struct pvblk_info *info)
{
	struct xenbus_device *xbdev = info->xbdev;
	const char *be = xbdev->otherend;
	unsigned int queues, order, segments, nr_queues, nr_poll;

	queues = max(xenbus_read_unsigned(be, PVRING_XS_MAX_QUEUES, 1), 1u);
	order = min(xenbus_read_unsigned(be, PVRING_XS_MAX_RING_PAGE_ORDER, 0), PVRING_MAX_ORDER);
	segments = pvring_blkif_front_max_segments(
		xenbus_read_unsigned(be, PVRING_XS_FEATURE_MAX_INDIRECT, 0));
	if (info->resuming) {
		if (queues >= info->nr_queues && order >= info->ring_order &&
		    segments >= info->max_segments)
			return 0;
		xenbus_dev_fatal(xbdev, -EINVAL,
				 "after the resume the back end offers %u queues of order %u, %u "
				 "segments; the disk has %u of order %u, %u segments",
				 queues, order, segments, info->nr_queues, info->ring_order,
				 info->max_segments);
		return -EINVAL;
	}
	nr_queues = min3(num_online_cpus(), queues, max(max_queues, 1u));
	/* Poll queues only from what the back end offers beyond a queue per vCPU. */
	nr_poll = min(poll_queues, queues - nr_queues);
	info->nr_queues = nr_queues + nr_poll;
	info->nr_poll_queues = nr_poll;
	info->ring_order = min(order, max_ring_order);
	info->max_segments = min(
		segments, clamp(max_segments, PVRING_BLKIF_MAX_SEGMENTS, PVBLK_MAX_SEGMENTS_PARAM));
	/*
	 * Every read and write goes through the ring's pool of granted pages, so the back end
	 * can keep them mapped (feature-persistent); a back end that does not, maps them per
	 * request. 1024 pages stay within what Linux blkback and pvringd keep mapped per ring;
	 * the disk's budget keeps a guest of many vCPUs within its grant table.
	 */
	info->pool_size = max(min(ring_grants, disk_grants / info->nr_queues),
			      pvblk_request_pages(info->max_segments));
	return 0;
}

/* Negotiate with the back end's offer, set up the rings, publish them: Initialised. */
static int pvblk_talk_to_backend(struct pvblk_info *info)
{
	struct xenbus_device *xbdev = info->xbdev;
	struct xenbus_transaction xbt;
	int err;

	err = pvblk_negotiate(info);
	if (err)
		return err;
	err = pvblk_queues_setup(info);
	if (err) {
		xenbus_dev_fatal(xbdev, err, "setting up the rings");
		return err;
	}
again:
	err = xenbus_transaction_start(&xbt);
	if (err) {
		xenbus_dev_fatal(xbdev, err, "starting a transaction");
		return err;
	}
	err = pvblk_queues_publish(info, xbt);
	if (!err)
		err = xenbus_printf(xbt, xbdev->nodename, PVRING_XS_PROTOCOL, "%s",
				    PVRING_XS_PROTOCOL_X86_64);
	if (!err)
		err = xenbus_printf(xbt, xbdev->nodename, PVRING_XS_FEATURE_PERSISTENT, "%u", 1);
	if (err) {
		xenbus_transaction_end(xbt, 1);
		xenbus_dev_fatal(xbdev, err, "writing the rings to the store");
		return err;
	}
	err = xenbus_transaction_end(xbt, 0);
	if (err == -EAGAIN)
		goto again;
	if (err) {
		xenbus_dev_fatal(xbdev, err, "ending the transaction");
		return err;
	}
	return xenbus_switch_state(xbdev, XenbusStateInitialised);
}

/*
 * Read the disk the back end serves: size, sector sizes, read-only, flush, discard. Across a
 * resume the logical sector size must not change: requests waiting to be re-issued were cut to
 * it.
 */
static int pvblk_read_disk(struct pvblk_info *info)
{
	struct xenbus_device *xbdev = info->xbdev;
	const char *be = xbdev->otherend;
	unsigned long long sectors;
	unsigned int binfo, sector_size;
	int err;

	err = xenbus_gather(XBT_NIL, be, PVRING_XS_SECTORS, "%llu", &sectors, PVRING_XS_INFO, "%u",
			    &binfo, PVRING_XS_SECTOR_SIZE, "%u", &sector_size, NULL);
	if (err) {
		xenbus_dev_fatal(xbdev, err, "reading the disk's size from %s", be);
		return err;
	}
	if (sector_size < 512 || sector_size > PAGE_SIZE || !is_power_of_2(sector_size)) {
		xenbus_dev_fatal(xbdev, -EINVAL, "sector-size %u", sector_size);
		return -EINVAL;
	}
	if (info->resuming && sector_size != info->sector_size) {
		xenbus_dev_fatal(xbdev, -EINVAL, "sector-size %u after the resume, was %u",
				 sector_size, info->sector_size);
		return -EINVAL;
	}
	info->sector_size = sector_size;
	info->sectors = sectors;
	info->read_only = binfo & PVRING_VDISK_READONLY;
	/* The back end is not trusted: a value the block layer would take unchecked is checked. */
	info->physical_sector_size =
		xenbus_read_unsigned(be, PVRING_XS_PHYSICAL_SECTOR_SIZE, info->sector_size);
	if (!is_power_of_2(info->physical_sector_size) ||
	    info->physical_sector_size < info->sector_size)
		info->physical_sector_size = info->sector_size;
	info->flush = xenbus_read_unsigned(be, PVRING_XS_FEATURE_FLUSH, 0);
	info->discard = xenbus_read_unsigned(be, PVRING_XS_FEATURE_DISCARD, 0);
	info->discard_secure = xenbus_read_unsigned(be, PVRING_XS_DISCARD_SECURE, 0);
	info->discard_granularity = xenbus_read_unsigned(be, PVRING_XS_DISCARD_GRANULARITY, 0);
	info->discard_alignment = xenbus_read_unsigned(be, PVRING_XS_DISCARD_ALIGNMENT, 0);
	/* A granularity that is no power of two of whole sectors would stall every discard. */
	if (info->discard_granularity && (!is_power_of_2(info->discard_granularity) ||
					  info->discard_granularity % info->sector_size ||
					  info->discard_alignment >= info->discard_granularity)) {
		dev_warn(&xbdev->dev, "discard-granularity %u, alignment %u: discard not used\n",
			 info->discard_granularity, info->discard_alignment);
		info->discard = false;
	}
	return 0;
}

/* What the back end's features decide of the queue: cache mode, discard. */
static void pvblk_feature_limits(struct pvblk_info *info, struct request_queue *rq)
{
	blk_queue_write_cache(rq, info->flush, false);
	if (info->discard) {
		blk_queue_max_discard_sectors(rq, UINT_MAX >> SECTOR_SHIFT);
		rq->limits.discard_granularity = info->discard_granularity ?: info->sector_size;
		rq->limits.discard_alignment = info->discard_alignment;
	} else {
		blk_queue_max_discard_sectors(rq, 0);
	}
	blk_queue_max_secure_erase_sectors(
		rq, info->discard && info->discard_secure ? UINT_MAX >> SECTOR_SHIFT : 0);
}

/* Stop holding back requests (quiesced since a resume): re-issued, or failed if dead. */
static void pvblk_resume_end(struct pvblk_info *info)
{
	if (!test_and_clear_bit(0, &info->quiesced))
		return;
	blk_mq_unquiesce_queue(info->gd->queue);
	blk_mq_kick_requeue_list(info->gd->queue);
}

/* Connected again after a resume: the same disk on new rings; re-issue what was taken back. */
static int pvblk_reconnect(struct pvblk_info *info)
{
	struct gendisk *gd = info->gd;
	unsigned int i;
	u64 reissued = 0;

	/* The deadline may have passed meanwhile: then the broken work closes the disk. */
	cancel_delayed_work_sync(&info->resume_timeout);
	if (info->broken)
		return 0;
	if (get_capacity(gd) != info->sectors)
		set_capacity_and_notify(gd, info->sectors);
	set_disk_ro(gd, info->read_only);
	pvblk_feature_limits(info, gd->queue);
	xenbus_switch_state(info->xbdev, XenbusStateConnected);
	info->resuming = false;
	/*
	 * Live again, unless the device broke meanwhile: pvblk_mark_broken() sets broken before
	 * dead, so whichever store of dead comes last leaves the right value.
	 */
	WRITE_ONCE(info->dead, false);
	smp_mb();
	if (READ_ONCE(info->broken))
		WRITE_ONCE(info->dead, true);
	pvblk_resume_end(info);
	for (i = 0; i < info->nr_queues; i++)
		reissued += info->queues[i].reissued;
	dev_info(&info->xbdev->dev, "%s: resumed on new rings; %llu requests re-issued so far\n",
		 gd->disk_name, reissued);
	return 0;
}

/* The back end is Connected: read the disk, add it (or, after a resume, take it up again). */
static int pvblk_connect(struct pvblk_info *info)
{
	struct xenbus_device *xbdev = info->xbdev;
	struct request_queue *rq;
	struct gendisk *gd;
	int err;

	err = pvblk_read_disk(info);
	if (err)
		return err;
	if (info->resuming)
		return pvblk_reconnect(info);

	memset(&info->tag_set, 0, sizeof(info->tag_set));
	info->tag_set.ops = &pvblk_mq_ops;
	info->tag_set.nr_hw_queues = info->nr_queues;
	info->tag_set.nr_maps = info->nr_poll_queues ? HCTX_MAX_TYPES : 1;
	/* One tag per slot: a ring can never be full when blk-mq hands over a request. */
	info->tag_set.queue_depth = pvring_front_nr_slots(&info->queues[0].ring);
	info->tag_set.numa_node = NUMA_NO_NODE;
	info->tag_set.flags = BLK_MQ_F_SHOULD_MERGE;
	info->tag_set.cmd_size = pvblk_request_size(info->max_segments);
	info->tag_set.driver_data = info;
	err = blk_mq_alloc_tag_set(&info->tag_set);
	if (err)
		goto fatal;
	gd = blk_mq_alloc_disk(&info->tag_set, info);
	if (IS_ERR(gd)) {
		err = PTR_ERR(gd);
		blk_mq_free_tag_set(&info->tag_set);
		goto fatal;
	}
	rq = gd->queue;
	blk_queue_logical_block_size(rq, info->sector_size);
	blk_queue_physical_block_size(rq, info->physical_sector_size);
	/*
	 * The data is copied into whole pool pages, so the guest's buffers may have any shape;
	 * only the request's size is bounded by the segments one request may carry.
	 */
	blk_queue_max_segments(rq, info->max_segments);
	blk_queue_max_hw_sectors(rq, info->max_segments * (PAGE_SIZE >> SECTOR_SHIFT));
	blk_queue_dma_alignment(rq, 511);
	blk_queue_rq_timeout(rq, max(request_timeout, 1u) * HZ);
	pvblk_feature_limits(info, rq);
	gd->major = pvblk_major;
	gd->first_minor = info->disk_index * PVBLK_MINORS;
	gd->minors = PVBLK_MINORS;
	gd->fops = &pvblk_fops;
	gd->private_data = info;
	pvblk_disk_name(gd->disk_name, info->disk_index);
	set_capacity(gd, info->sectors);
	set_disk_ro(gd, info->read_only);
	info->gd = gd;
	/*
	 * Connected before the disk is added: adding it reads the partition table, and a back
	 * end that breaks the protocol answering that read puts the device in Closing, which
	 * must stay the last word.
	 */
	xenbus_switch_state(xbdev, XenbusStateConnected);
	err = device_add_disk(&xbdev->dev, gd, pvblk_disk_groups);
	if (err) {
		info->gd = NULL;
		put_disk(gd);
		blk_mq_free_tag_set(&info->tag_set);
		goto fatal;
	}
	dev_info(
		&xbdev->dev,
		"%s: %llu sectors of %u bytes, %u queue%s (%u polled), ring order %u, %u segments, "
		"%u granted pages per ring%s%s%s\n",
		gd->disk_name, info->sectors, info->sector_size, info->nr_queues,
		info->nr_queues == 1 ? "" : "s", info->nr_poll_queues, info->ring_order,
		info->max_segments, info->pool_size, info->flush ? ", flush" : "",
		info->discard ? ", discard" : "", info->read_only ? ", read-only" : "");
	return 0;
fatal:
	xenbus_dev_fatal(xbdev, err, "adding the disk");
	return err;
}

static void pvblk_closing(struct pvblk_info *info)
{
	pvblk_close_disk(info);
	xenbus_frontend_closed(info->xbdev);
}

static void pvblk_backend_changed(struct xenbus_device *xbdev, enum xenbus_state backend_state)
{
	struct pvblk_info *info = dev_get_drvdata(&xbdev->dev);

	mutex_lock(&info->lock);
	switch (backend_state) {
	case XenbusStateInitWait:
		if (xbdev->state == XenbusStateInitialising && pvblk_talk_to_backend(info))
			pvblk_close_disk(info);
		break;
	case XenbusStateConnected:
		if (xbdev->state == XenbusStateInitialised && !info->broken && pvblk_connect(info))
			pvblk_close_disk(info);
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
		/*
		 * A back end left Closed by this device's last driver (unbound or unloaded) waits
		 * for Initialising to offer again; one still Closing finishes the last driver's
		 * requests first. Nothing to close yet either way.
		 */
		if (xbdev->state == XenbusStateInitialising)
			break;
		fallthrough;
	case XenbusStateUnknown:
		if (xbdev->state != XenbusStateClosed)
			pvblk_closing(info);
		break;
	default:
		break;
	}
	mutex_unlock(&info->lock);
}

static void pvblk_resume_timeout(struct work_struct *work)
{
	struct pvblk_info *info =
		container_of(to_delayed_work(work), struct pvblk_info, resume_timeout);

	pvblk_mark_broken(info, "not connected again within %u s of the resume",
			  max(request_timeout, 1u));
}

/*
 * The guest was restored (xl restore, or the end of a migration): the grant table is new and
 * every event channel closed, so the rings are void and the back end (pvringd attached the
 * device again before the guest ran) waits in InitWait for new ones. A disk keeps its gendisk
 * and queues: requests in flight on the old rings are taken back and held (the queue quiesced)
 * until the back end is Connected on new rings, then re-issued. Nothing is read from the old
 * rings: a response there may have been written after the data pages were copied.
 */
static int pvblk_resume(struct xenbus_device *xbdev)
{
	struct pvblk_info *info = dev_get_drvdata(&xbdev->dev);
	unsigned int reissued;

	/* Xen does not keep the doorbell across a save: whether to ring it is asked again. */
	pvblk_doorbell_probe();
	mutex_lock(&info->lock);
	if (!info->gd || info->broken)
		goto start_over;
	/* Quiesced before the bit says so: pvblk_resume_end() unquiesces only what was. */
	if (!test_bit(0, &info->quiesced)) {
		blk_mq_quiesce_queue(info->gd->queue);
		set_bit(0, &info->quiesced);
	}
	info->resuming = true;
	pvblk_queues_stop(info);
	reissued = pvblk_queues_take_back(info);
	/*
	 * Nothing is in flight now, so no timeout schedules the broken work again; one scheduled
	 * before (a request timing out while the guest resumed) is done before the rings go.
	 */
	cancel_work_sync(&info->broken_work);
	/*
	 * A request that timed out after the look above marked the disk broken, and the cancel
	 * may have taken the work that would have failed what it held: then nothing else ever
	 * would (the deadline's mark finds the disk marked already). Closed here instead, as a
	 * disk broken before the save is.
	 */
	if (READ_ONCE(info->broken))
		goto start_over;
	pvblk_queues_release(info);
	/* A back end that never comes back must not hold the requests forever. */
	mod_delayed_work(system_wq, &info->resume_timeout, max(request_timeout, 1u) * HZ);
	dev_info(&xbdev->dev, "%s: restored; %u requests in flight will be re-issued\n",
		 info->gd->disk_name, reissued);
	mutex_unlock(&info->lock);
	return 0;

start_over:
	/*
	 * No disk being served (or one the old back end broke): whatever there was goes, and the
	 * fresh handshake that follows (InitWait) starts over as a probe does.
	 */
	pvblk_close_disk(info);
	info->broken = false;
	WRITE_ONCE(info->dead, false);
	mutex_unlock(&info->lock);
	return 0;
}

/* Before the domain is saved: kicks go back to the hypercall until the resume (pvblk_doorbell.c).
 */
static int pvblk_suspend(struct xenbus_device *xbdev)
{
	pvblk_doorbell_suspend();
	return 0;
}

static int pvblk_probe(struct xenbus_device *xbdev, const struct xenbus_device_id *id)
{
	struct pvblk_info *info;
	int err, devid;

	err = xenbus_scanf(XBT_NIL, xbdev->nodename, "virtual-device", "%i", &devid);
	if (err != 1) {
		/* pvringd's attach writes the number as the directory's name too. */
		err = kstrtoint(strrchr(xbdev->nodename, '/') + 1, 10, &devid);
		if (err) {
			xenbus_dev_fatal(xbdev, err, "reading the device number");
			return err;
		}
	}
	info = kzalloc(sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	mutex_init(&info->lock);
	INIT_WORK(&info->broken_work, pvblk_broken_work);
	INIT_DELAYED_WORK(&info->resume_timeout, pvblk_resume_timeout);
	info->xbdev = xbdev;
	info->devid = devid;
	info->disk_index = pvblk_disk_index(devid);
	if (info->disk_index >= (1u << MINORBITS) / PVBLK_MINORS) {
		kfree(info);
		xenbus_dev_fatal(xbdev, -EINVAL, "device number %d", devid);
		return -EINVAL;
	}
	dev_set_drvdata(&xbdev->dev, info);
	/* A device this driver had before (unloaded and loaded again) starts over. */
	return xenbus_switch_state(xbdev, XenbusStateInitialising);
}

static void pvblk_remove(struct xenbus_device *xbdev)
{
	struct pvblk_info *info = dev_get_drvdata(&xbdev->dev);

	mutex_lock(&info->lock);
	pvblk_close_disk(info);
	mutex_unlock(&info->lock);
	dev_set_drvdata(&xbdev->dev, NULL);
	kfree(info);
}

static const struct xenbus_device_id pvblk_ids[] = {
	{ PVBLK_DEVICE_TYPE },
	{ "" },
};

static struct xenbus_driver pvblk_driver = {
	.ids = pvblk_ids,
	.probe = pvblk_probe,
	.remove = pvblk_remove,
	.suspend = pvblk_suspend,
	.resume = pvblk_resume,
	.otherend_changed = pvblk_backend_changed,
	.not_essential = true,
};

static int __init pvblk_init(void)
{
	int err;

	if (!xen_domain())
		return -ENODEV;
	pvblk_doorbell_probe();
	pvblk_major = register_blkdev(0, "pvblk");
	if (pvblk_major < 0)
		return pvblk_major;
	err = xenbus_register_frontend(&pvblk_driver);
	if (err)
		unregister_blkdev(pvblk_major, "pvblk");
	return err;
}
module_init(pvblk_init);

static void __exit pvblk_exit(void)
{
	xenbus_unregister_driver(&pvblk_driver);
	unregister_blkdev(pvblk_major, "pvblk");
}
module_exit(pvblk_exit);
