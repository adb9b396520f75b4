// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * How pvblk kicks a back end: with the port-I/O doorbell of a Xen patched by pvring's
 * hypervisor-patch when the hypervisor advertises it for this domain (HVM and PVH only), else
 * with EVTCHNOP_send through the kernel's event-channel code. The doorbell is one 4-byte OUT of
 * the ring's local port number: no hypercall page, no argument in guest memory, the same
 * instruction on Intel and AMD.
 *
 * dom0 turns the doorbell on per domain, before the guest runs; Xen does not keep it across a
 * save, so the choice is made again when the guest resumes.
 */
#include <linux/io.h>
#include <linux/module.h>
#include <asm/xen/hypervisor.h>
#include <xen/events.h>
#include <xen/xen.h>

#include "common/proto/pvring_doorbell.h"
#include "pvblk.h"

static bool doorbell = true;
module_param(doorbell, bool, 0444);
MODULE_PARM_DESC(doorbell, "Kick through the hypervisor's port-I/O doorbell when it offers one");

/* The doorbell's I/O port, 0 while there is none: kicks read it once each. */
static unsigned int doorbell_port;
module_param(doorbell_port, uint, 0444);
MODULE_PARM_DESC(doorbell_port, "The doorbell's I/O port in use (read-only; 0: EVTCHNOP_send)");

void pvblk_doorbell_probe(void)
{
	unsigned int base, eax, ebx, ecx, edx, port = 0;

	/* A PV guest has no I/O ports to ring, and Xen's HVM leaf says nothing to it. */
	if (doorbell && xen_hvm_domain()) {
		base = xen_cpuid_base();
		if (base) {
			cpuid_count(base + PVRING_DOORBELL_CPUID_LEAF, 0, &eax, &ebx, &ecx, &edx);
			if (eax & PVRING_DOORBELL_CPUID_FLAG) {
				cpuid_count(base + PVRING_DOORBELL_CPUID_LEAF,
					    PVRING_DOORBELL_CPUID_PORT_SUBLEAF, &eax, &ebx, &ecx,
					    &edx);
				/* Only a port an OUT with DX can name. */
				if (eax && eax <= 0xffff)
					port = eax;
			}
		}
	}
	if (port == READ_ONCE(doorbell_port))
		return;
	if (port)
		pr_info("pvblk: kicking back ends through the hypervisor's doorbell at I/O port "
			"%#x\n",
			port);
	else
		pr_info("pvblk: kicking back ends with EVTCHNOP_send: no doorbell any more\n");
	WRITE_ONCE(doorbell_port, port);
}

void pvblk_doorbell_kick(evtchn_port_t evtchn, int irq)
{
	unsigned int port = READ_ONCE(doorbell_port);

	/*
	 * No barrier of our own: pvring_front_push() stored req_prod and then issued a full
	 * barrier (before it read req_event), so the requests are visible before the kick is.
	 */
	if (port)
		outl(evtchn, port);
	else
		notify_remote_via_irq(irq);
}
