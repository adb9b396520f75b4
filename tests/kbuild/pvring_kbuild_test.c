// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A minimal out-of-tree module that builds common/ring with Kbuild, to prove
 * the ring compiles inside the kernel (kernel types, barriers and memcpy
 * through common/pvring_port.h). When loaded it runs one round trip through a
 * ring in a kernel page and reports the result.
 */
#include <linux/module.h>
#include <linux/gfp.h>
#include <linux/printk.h>

#include "pvring_ring.h"

struct kb_req {
	u64 id;
	u64 words[13];
};

struct kb_rsp {
	u64 id;
	s16 status;
};

static int __init pvring_kbuild_test_init(void)
{
	const struct pvring_layout layout = PVRING_LAYOUT(struct kb_req, struct kb_rsp);
	struct pvring_front front;
	struct pvring_back back;
	struct kb_req req = { .id = 42 };
	struct kb_rsp rsp = { 0 };
	unsigned long page = __get_free_page(GFP_KERNEL);
	bool kick_back, kick_front, ok;

	if (!page)
		return -ENOMEM;
	ok = pvring_front_init(&front, (void *)page, 0, &layout, 0) &&
	     pvring_back_attach(&back, (void *)page, 0, &layout);
	ok = ok && pvring_front_produce(&front, &req);
	kick_back = pvring_front_push(&front);
	ok = ok && pvring_back_consume(&back, &req) && req.id == 42;
	rsp.id = req.id;
	ok = ok && pvring_back_produce(&back, &rsp);
	kick_front = pvring_back_push(&back);
	ok = ok && pvring_front_consume(&front, &rsp) && rsp.id == 42;
	ok = ok && !pvring_back_final_check(&back) && !pvring_front_final_check(&front);
	free_page(page);
	pr_info("pvring_kbuild_test: round trip %s, %u slots, kicks %d/%d\n", ok ? "ok" : "FAILED",
		pvring_nr_slots(0, layout.slot_size), kick_back, kick_front);
	return ok ? 0 : -EIO;
}

static void __exit pvring_kbuild_test_exit(void)
{
}

module_init(pvring_kbuild_test_init);
module_exit(pvring_kbuild_test_exit);
MODULE_DESCRIPTION("pvring: common/ring built as kernel code");
MODULE_LICENSE("Dual MIT/GPL");
