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

/* Xen's HVM leaf: the doorbell's I/O port, or 0. Only x86 guests have CPUID and port I/O. */
static unsigned int pvblk_doorbell_find(void)
{
#ifdef CONFIG_X86
	unsigned int base, eax, ebx, ecx, edx;

	/* A PV guest has no I/O ports to ring, and Xen's HVM leaf says nothing to it. */
	if (!doorbell || !xen_hvm_domain())
		return 0;
	base = xen_cpuid_base();
	if (!base)
		return 0;
	cpuid_count(base + PVRING_DOORBELL_CPUID_LEAF, 0, &eax, &ebx, &ecx, &edx);
	if (!(eax & PVRING_DOORBELL_CPUID_FLAG))
		return 0;
	cpuid_count(base + PVRING_DOORBELL_CPUID_LEAF, PVRING_DOORBELL_CPUID_PORT_SUBLEAF, &eax,
		    &ebx, &ecx, &edx);
	/* Only a port an OUT with DX can name. */
	return eax <= 0xffff ? eax : 0;
#else
	return 0;
#endif
}

void pvblk_doorbell_probe(void)
{
	unsigned int port = pvblk_doorbell_find();

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
#ifdef CONFIG_X86
	if (port) {
		outl(evtchn, port);
		return;
	}
#endif
	notify_remote_via_irq(irq);
}

/*
 * Before a save: from here until pvblk_doorbell_probe() at resume, the rings' port numbers are
 * stale (the restored domain has new channels, perhaps another device's under the same number),
 * so no kick may name one. notify_remote_via_irq() knows an unbound IRQ and sends nothing.
 */
void pvblk_doorbell_suspend(void)
{
	WRITE_ONCE(doorbell_port, 0);
}
