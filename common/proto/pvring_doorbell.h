/* SPDX-License-Identifier: MIT */
/*
 * The port-I/O doorbell of a Xen patched by hypervisor-patch/: its guest and dom0 ABI, for pvblk,
 * the doorbell test guest and dom0's tools. Upstream Xen has none of these numbers; they are the
 * patch series' (xen/include/public/arch-x86/cpuid.h and hvm/params.h there).
 *
 * Guest: find Xen's CPUID leaves (signature "XenVMMXenVMM" at 0x40000000 + n * 0x100); leaf
 * base + 4, sub-leaf 0, EAX bit 31 says the doorbell is on for this domain; sub-leaf 1 EAX is then
 * its I/O port. A 4-byte OUT of one of the domain's own interdomain event-channel port numbers to
 * that port sends the port, as EVTCHNOP_send would. Every other access there does nothing but
 * count as dropped.
 *
 * dom0: HVM parameter PVRING_HVM_PARAM_DOORBELL (set once, 0 or 1) turns it on for an HVM or PVH
 * domain; the two counters are read-only parameters.
 */
#ifndef PVRING_DOORBELL_H
#define PVRING_DOORBELL_H

#define PVRING_DOORBELL_CPUID_LEAF 4 /* from Xen's base leaf */
#define PVRING_DOORBELL_CPUID_FLAG (1u << 31) /* sub-leaf 0 EAX */
#define PVRING_DOORBELL_CPUID_PORT_SUBLEAF 1 /* EAX: the I/O port */
#define PVRING_DOORBELL_IOPORT 0x0e80 /* what the patch advertises; read it from CPUID */

#define PVRING_HVM_PARAM_DOORBELL 39
#define PVRING_HVM_PARAM_DOORBELL_SENT 40
#define PVRING_HVM_PARAM_DOORBELL_DROPPED 41

#endif /* PVRING_DOORBELL_H */
