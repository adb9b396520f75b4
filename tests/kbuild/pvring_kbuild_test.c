// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A minimal out-of-tree module that builds common/ with Kbuild, to prove the
 * ring and the protocol compile inside the kernel (kernel types, barriers and
 * memcpy through common/pvring_port.h). When loaded it runs one blkif round
 * trip through a ring in a kernel page and reports the result.
 */
#include <linux/module.h>
#include <linux/gfp.h>
#include <linux/printk.h>

#include "pvring_ring.h"
#include "pvring_blkif.h"
#include "pvring_blkif_front.h"
#include "pvring_xenbus.h"

static int __init pvring_kbuild_test_init(void)
{
	const struct pvring_layout layout =
		PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);
	const struct pvring_blkif_disk disk = { .sectors = 8 };
	struct pvring_front front;
	struct pvring_back back;
	union pvring_blkif_request req;
	struct pvring_blkif_response rsp = { 0 };
	unsigned long page = __get_free_page(GFP_KERNEL);
	bool kick_back, kick_front, ok;

	if (!page)
		return -ENOMEM;
	/* The request as a front end encodes it: one 4 KiB page. */
	ok = !pvring_blkif_front_rw(&req, PVRING_BLKIF_OP_READ, 0, 42, 0, 1, NULL) &&
	     !pvring_blkif_front_segment(pvring_blkif_front_segment_at(&req, NULL, 0), 0, 0, 4096);
	ok = ok && pvring_front_init(&front, (void *)page, 0, &layout, 0) &&
	     pvring_back_attach(&back, (void *)page, 0, &layout);
	ok = ok && pvring_front_produce(&front, &req);
	kick_back = pvring_front_push(&front);
	ok = ok && pvring_back_consume(&back, &req) && req.rw.id == 42;
	ok = ok && pvring_blkif_check_request(&req, &disk) == PVRING_BLKIF_VALID;
	rsp.id = req.rw.id;
	rsp.op = req.op;
	ok = ok && pvring_back_produce(&back, &rsp);
	kick_front = pvring_back_push(&back);
	ok = ok && pvring_front_consume(&front, &rsp) && rsp.id == 42;
	ok = ok && !pvring_back_final_check(&back) && !pvring_front_final_check(&front);
	free_page(page);
	pr_info("pvring_kbuild_test: %s round trip %s, %u slots, kicks %d/%d, back end %s\n",
		pvring_blkif_op_name(rsp.op), ok ? "ok" : "FAILED",
		pvring_nr_slots(0, layout.slot_size), kick_back, kick_front,
		pvring_xenbus_state_name(PVRING_XENBUS_CONNECTED));
	return ok ? 0 : -EIO;
}

static void __exit pvring_kbuild_test_exit(void)
{
}

module_init(pvring_kbuild_test_init);
module_exit(pvring_kbuild_test_exit);
MODULE_DESCRIPTION("pvring: common/ring built as kernel code");
MODULE_LICENSE("Dual MIT/GPL");
