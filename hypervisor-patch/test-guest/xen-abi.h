/* SPDX-License-Identifier: MIT */
/*
 * The parts of Xen's public interface the test guest uses, written out for a 32-bit guest: the
 * guest is freestanding and must not depend on the build host's headers. Names and values follow
 * xen/include/public/ (xen.h, event_channel.h, hvm/hvm_op.h, hvm/params.h, memory.h, sched.h,
 * io/xs_wire.h, arch-x86/cpuid.h, arch-x86/hvm/start_info.h); layouts are the 32-bit ones (a
 * 32-bit guest that writes the hypercall MSR in 32-bit mode gets the 32-bit shared-info layout).
 */
#ifndef DOORBELL_GUEST_XEN_ABI_H
#define DOORBELL_GUEST_XEN_ABI_H

#include "arch.h"

/* CPUID: Xen's leaves start at one of 0x40000000, 0x40000100, ... (after Viridian's). */
#define XEN_CPUID_FIRST 0x40000000u
#define XEN_CPUID_LAST 0x40010000u
#define XEN_CPUID_SIG_EBX 0x566e6558u /* "XenV" */
#define XEN_CPUID_SIG_ECX 0x65584d4du /* "MMXe" */
#define XEN_CPUID_SIG_EDX 0x4d4d566eu /* "nVMM" */
/* Leaf base+3 subleaf 0: EAX bit 0 = the TSC is emulated, ECX = guest TSC kHz. */
#define XEN_CPUID_TSC_EMULATED (1u << 0)
/* Leaf base+4 subleaf 0 (HVM features): EAX bits, ECX = domid when DOMID_PRESENT. */
#define XEN_HVM_CPUID_DOMID_PRESENT (1u << 4)
#define XEN_HVM_CPUID_UPCALL_VECTOR (1u << 6)
/*
 * pvring's patch: the doorbell's CPUID flag and I/O port, as pvblk and dom0's tools know them.
 * PVRING_DOORBELL_IOPORT is also where the inert-port check looks when Xen advertises none.
 */
#include "common/proto/pvring_doorbell.h"

/* Xen's debug console: one byte per outb, flushed at a newline, lands in Xen's console. */
#define XEN_DEBUGCONS_IOPORT 0xe9

/* hvm_start_info, what EBX points to at the PVH entry. */
#define XEN_HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	u32 magic;
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
};

/* Hypercall numbers: entry nr of the hypercall page is at offset 32 * nr. */
#define HYPERVISOR_memory_op 12
#define HYPERVISOR_xen_version 17
#define HYPERVISOR_sched_op 29
#define HYPERVISOR_event_channel_op 32
#define HYPERVISOR_hvm_op 34

#define DOMID_SELF 0x7ff0u

/* Negative errno values Xen returns that the guest tells apart. */
#define XEN_EINVAL 22
#define XEN_ENOENT 2
#define XEN_EACCES 13 /* XSM/FLASK refused */

/* memory_op */
#define XENMEM_add_to_physmap 7
#define XENMAPSPACE_shared_info 0
struct xen_add_to_physmap {
	u16 domid;
	u16 size;
	u32 space;
	u32 idx;
	u32 gpfn;
};

/* sched_op */
#define SCHEDOP_shutdown 2
#define SHUTDOWN_poweroff 0
struct sched_shutdown {
	u32 reason;
};

/* hvm_op */
#define HVMOP_set_param 0
#define HVMOP_get_param 1
#define HVMOP_set_evtchn_upcall_vector 23
struct xen_hvm_param {
	u16 domid;
	u16 pad;
	u32 index;
	u64 value;
};
struct xen_hvm_evtchn_upcall_vector {
	u32 vcpu;
	u8 vector;
};
#define HVM_PARAM_STORE_PFN 1
#define HVM_PARAM_STORE_EVTCHN 2
#define HVM_PARAM_CONSOLE_EVTCHN 18

/* event_channel_op */
#define EVTCHNOP_close 3
#define EVTCHNOP_send 4
#define EVTCHNOP_status 5
#define EVTCHNOP_alloc_unbound 6
#define EVTCHNOP_bind_ipi 7
#define EVTCHNOP_unmask 9
struct evtchn_alloc_unbound {
	u16 dom;
	u16 remote_dom;
	u32 port;
};
struct evtchn_bind_ipi {
	u32 vcpu;
	u32 port;
};
struct evtchn_port_arg { /* evtchn_close, evtchn_send, evtchn_unmask */
	u32 port;
};
#define EVTCHNSTAT_closed 0
#define EVTCHNSTAT_unbound 1
#define EVTCHNSTAT_interdomain 2
#define EVTCHNSTAT_ipi 5
struct evtchn_status {
	u16 dom;
	u16 pad;
	u32 port;
	u32 status;
	u32 vcpu;
	union {
		struct {
			u16 dom;
		} unbound;
		struct {
			u16 dom;
			u16 pad;
			u32 port;
		} interdomain;
		u32 virq;
	} u;
};

/* The 32-bit shared-info page with 2-level event channels: 32 words of 32 ports. */
#define EVTCHN_2L_WORDS 32
#define EVTCHN_2L_PORTS (EVTCHN_2L_WORDS * 32)
struct vcpu_info {
	u8 evtchn_upcall_pending;
	u8 evtchn_upcall_mask;
	u16 pad0;
	u32 evtchn_pending_sel;
	u32 arch_cr2;
	u32 arch_pad[5];
	u8 time[32];
};
struct shared_info {
	struct vcpu_info vcpu_info[32];
	u32 evtchn_pending[EVTCHN_2L_WORDS];
	u32 evtchn_mask[EVTCHN_2L_WORDS];
};
_Static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info is 64 bytes");
_Static_assert(offsetof(struct shared_info, evtchn_pending) == 2048, "32-bit shared_info");
_Static_assert(offsetof(struct shared_info, evtchn_mask) == 2176, "32-bit shared_info");
_Static_assert(offsetof(struct xen_hvm_param, value) == 8, "xen_hvm_param");
_Static_assert(offsetof(struct evtchn_status, u.interdomain.port) == 20, "evtchn_status");

/* The xenstore ring page and wire messages. */
#define XENSTORE_RING_SIZE 1024
#define XS_READ 2
#define XS_WRITE 11
#define XS_WATCH_EVENT 15
#define XS_ERROR 16
struct xenstore_domain_interface {
	char req[XENSTORE_RING_SIZE];
	char rsp[XENSTORE_RING_SIZE];
	u32 req_cons, req_prod;
	u32 rsp_cons, rsp_prod;
};
struct xsd_sockmsg {
	u32 type;
	u32 req_id;
	u32 tx_id;
	u32 len;
};

#endif
