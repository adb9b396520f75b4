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
MODULE_PARM_DESC(poll_queues, "Rings for polled I/O (io_uring IOPOLL, RWF_HIPRI) per disk, "
			      "beyond the vCPUs' when the back end offers that many");
static unsigned int max_ring_order = 2;
module_param(max_ring_order, uint, 0444);
MODULE_PARM_DESC(max_ring_order, "Largest ring: 2^order pages (up to 4)");
static unsigned int max_segments = 256;
module_param(max_segments, uint, 0444);
MODULE_PARM_DESC(max_segments, "Most 4 KiB segments per request (11..512; above 11: indirect)");
/* The largest request one ring's pool must hold at once: 2 MiB. */
#define PVBLK_MAX_SEGMENTS_PARAM 512u
static unsigned int ring_grants = 1024;
module_param(ring_grants, uint, 0444);
MODULE_PARM_DESC(ring_grants, "Pages each ring keeps granted to the back end (persistent grants; "
			      "at least one largest request's)");
static unsigned int request_timeout = 60;
module_param(request_timeout, uint, 0444);
MODULE_PARM_DESC(request_timeout,
		 "Seconds a back end may take to answer a request before the device is closed");

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

static void pvblk_close_disk(struct pvblk_info *info)
{
	/* Then no interrupt schedules the broken work again, and it is not running. */
	pvblk_queues_stop(info);
	cancel_work_sync(&info->broken_work);
	if (info->gd) {
		/* New I/O fails at once; then whatever is in flight fails. */
		blk_mark_disk_dead(info->gd);
		pvblk_queues_fail_inflight(info);
		del_gendisk(info->gd);
		blk_mq_free_tag_set(&info->tag_set);
		put_disk(info->gd);
		info->gd = NULL;
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

/* Negotiate with the back end's offer, set up the rings, publish them: Initialised. */
static int pvblk_talk_to_backend(struct pvblk_info *info)
{
	struct xenbus_device *xbdev = info->xbdev;
	const char *be = xbdev->otherend;
	struct xenbus_transaction xbt;
	unsigned int offered;
	int err;

	offered = max(xenbus_read_unsigned(be, PVRING_XS_MAX_QUEUES, 1), 1u);
	info->nr_queues = min3(num_online_cpus(), offered, max(max_queues, 1u));
	/* Poll queues only from what the back end offers beyond a queue per vCPU. */
	info->nr_poll_queues = min(poll_queues, offered - info->nr_queues);
	info->nr_queues += info->nr_poll_queues;
	offered = xenbus_read_unsigned(be, PVRING_XS_MAX_RING_PAGE_ORDER, 0);
	info->ring_order = min3(offered, max_ring_order, PVRING_MAX_ORDER);
	offered = xenbus_read_unsigned(be, PVRING_XS_FEATURE_MAX_INDIRECT, 0);
	info->max_segments =
		min(pvring_blkif_front_max_segments(offered),
		    clamp(max_segments, PVRING_BLKIF_MAX_SEGMENTS, PVBLK_MAX_SEGMENTS_PARAM));
	/*
	 * Every read and write goes through the ring's pool of granted pages, so the back end
	 * can keep them mapped (feature-persistent); a back end that does not, maps them per
	 * request. 1024 pages stay within what Linux blkback and pvringd keep mapped per ring.
	 */
	info->pool_size = max(ring_grants, pvblk_request_pages(info->max_segments));
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

/* The back end is Connected: read the disk, add it. */
static int pvblk_connect(struct pvblk_info *info)
{
	struct xenbus_device *xbdev = info->xbdev;
	const char *be = xbdev->otherend;
	struct request_queue *rq;
	struct gendisk *gd;
	unsigned long long sectors;
	unsigned int binfo;
	int err;

	err = xenbus_gather(XBT_NIL, be, PVRING_XS_SECTORS, "%llu", &sectors, PVRING_XS_INFO, "%u",
			    &binfo, PVRING_XS_SECTOR_SIZE, "%u", &info->sector_size, NULL);
	if (err) {
		xenbus_dev_fatal(xbdev, err, "reading the disk's size from %s", be);
		return err;
	}
	if (info->sector_size < 512 || info->sector_size > PAGE_SIZE ||
	    !is_power_of_2(info->sector_size)) {
		xenbus_dev_fatal(xbdev, -EINVAL, "sector-size %u", info->sector_size);
		return -EINVAL;
	}
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
	blk_queue_write_cache(rq, info->flush, false);
	blk_queue_rq_timeout(rq, max(request_timeout, 1u) * HZ);
	if (info->discard) {
		blk_queue_max_discard_sectors(rq, UINT_MAX >> SECTOR_SHIFT);
		rq->limits.discard_granularity = info->discard_granularity ?: info->sector_size;
		rq->limits.discard_alignment = info->discard_alignment;
		if (info->discard_secure)
			blk_queue_max_secure_erase_sectors(rq, UINT_MAX >> SECTOR_SHIFT);
	}
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
	dev_info(&xbdev->dev,
		 "%s: %llu sectors of %u bytes, %u queue%s (%u polled), ring order %u, %u segments, "
		 "%u granted pages per ring%s%s%s\n",
		 gd->disk_name, info->sectors, info->sector_size, info->nr_queues,
		 info->nr_queues == 1 ? "" : "s", info->nr_poll_queues, info->ring_order,
		 info->max_segments, info->pool_size,
		 info->flush ? ", flush" : "", info->discard ? ", discard" : "",
		 info->read_only ? ", read-only" : "");
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
	.otherend_changed = pvblk_backend_changed,
	.not_essential = true,
};

static int __init pvblk_init(void)
{
	int err;

	if (!xen_domain())
		return -ENODEV;
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
