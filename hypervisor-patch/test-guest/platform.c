// SPDX-License-Identifier: MIT
/*
 * What a bare PVH guest sets up to receive event channels the way a real kernel does: Xen's
 * CPUID leaves, the hypercall page, the shared-info page (2-level event channels), an IDT, the
 * local APIC with the per-vCPU upcall vector (HVMOP_set_evtchn_upcall_vector, not the
 * callback-via), and a xenstore client on the guest's own store ring.
 */
#include "guest.h"

#define CODE_SEL 0x08

/* Vectors: the upcall like Linux's, the timer below it, the APIC's spurious vector at the top. */
#define UPCALL_VECTOR 0xf3
#define TIMER_VECTOR 0xef
#define SPURIOUS_VECTOR 0xff

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)
#define APIC_TPR 0x80
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_SVR_ENABLE (1u << 8)
#define APIC_LVTT 0x320
#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVTT_PERIODIC (1u << 17)
#define APIC_TMICT 0x380
#define APIC_TDCR 0x3e0
#define APIC_TDCR_DIV1 0xb
/* Xen's virtual APIC bus runs at 100 MHz (APIC_BUS_CYCLE_NS = 10): 10 ms per tick. */
#define APIC_TIMER_COUNT 1000000

struct platform xen;
volatile u32 upcall_count;
volatile u32 timer_ticks;

/* In head.S: the page Xen fills with hypercall stubs. */
extern u8 hypercall_page[4096];
/* The frame whose RAM the shared-info page replaces (add_to_physmap gives the RAM back to Xen). */
static u8 shared_info_frame[4096] __attribute__((aligned(4096)));

struct idt_gate {
	u16 offset_lo;
	u16 selector;
	u8 zero;
	u8 type;
	u16 offset_hi;
};
static struct idt_gate idt[256] __attribute__((aligned(8)));

extern const u32 exception_stubs[32];
void upcall_entry(void);
void timer_entry(void);
void spurious_entry(void);
/* Called from head.S. */
void upcall_interrupt(void);
void timer_interrupt(void);
struct exception_frame;
void exception_report(const struct exception_frame *f) __attribute__((noreturn));

static volatile u32 *apic;
static volatile struct xenstore_domain_interface *store;
static u32 xs_req_id;

long hypercall2(u32 nr, u32 a1, u32 a2)
{
	u32 ret = (u32)&hypercall_page[nr * 32];

	/*
	 * 32-bit HVM hypercalls take their arguments in EBX, ECX, ...; a debug Xen scribbles over
	 * the argument registers a hypercall does not use, so all of them are clobbered here.
	 */
	asm volatile("call *%%eax"
		     : "+a"(ret), "+b"(a1), "+c"(a2)
		     :
		     : "edx", "esi", "edi", "memory");
	return (long)ret;
}

int evtchn_op(u32 cmd, void *arg)
{
	return (int)hypercall2(HYPERVISOR_event_channel_op, cmd, (u32)arg);
}

int evtchn_send(u32 port)
{
	struct evtchn_port_arg send = { port };

	return evtchn_op(EVTCHNOP_send, &send);
}

u64 ms_to_tsc(u32 ms)
{
	return (u64)ms * xen.tsc_khz;
}

static void apic_write(u32 reg, u32 val)
{
	apic[reg / 4] = val;
}

static void set_gate(u32 vec, u32 handler)
{
	idt[vec].offset_lo = handler & 0xffff;
	idt[vec].selector = CODE_SEL;
	idt[vec].zero = 0;
	idt[vec].type = 0x8e; /* present, ring 0, 32-bit interrupt gate: IF off in handlers */
	idt[vec].offset_hi = handler >> 16;
}

static void idt_init(void)
{
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, (u32)idt };
	u32 v;

	for (v = 0; v < 32; v++)
		set_gate(v, exception_stubs[v]);
	set_gate(UPCALL_VECTOR, (u32)upcall_entry);
	set_gate(TIMER_VECTOR, (u32)timer_entry);
	set_gate(SPURIOUS_VECTOR, (u32)spurious_entry);
	asm volatile("lidt %0" ::"m"(desc));
}

struct exception_frame {
	u32 edi, esi, ebp, esp, ebx, edx, ecx, eax;
	u32 vector, error, eip, cs, eflags;
};

void exception_report(const struct exception_frame *f)
{
	print("DOORBELL-DONE fail exception %u at eip 0x%x error 0x%x\n", f->vector, f->eip,
	      f->error);
	for (;;)
		sti_hlt();
}

void evtchn_dispatch(void)
{
	volatile struct vcpu_info *vcpu = xen.vcpu;
	volatile struct shared_info *s = xen.shared;

	/*
	 * Clear upcall_pending before taking the selector: an event that Xen marks after the xchg
	 * sets upcall_pending again (and raises the vector again) instead of being missed. The xchg
	 * is locked, so the byte store is visible before it.
	 */
	while (vcpu->evtchn_upcall_pending) {
		u32 sel;

		vcpu->evtchn_upcall_pending = 0;
		sel = xchg32(&vcpu->evtchn_pending_sel, 0);
		while (sel) {
			u32 word = lowest_bit(sel);
			u32 bits;

			sel &= sel - 1;
			while ((bits = s->evtchn_pending[word] & ~s->evtchn_mask[word])) {
				u32 port = word * 32 + lowest_bit(bits);

				/* Cleared first: an event arriving meanwhile is not lost. */
				clear_bit(port, s->evtchn_pending);
				handle_event(port);
			}
		}
	}
}

void upcall_interrupt(void)
{
	upcall_count++;
	evtchn_dispatch();
	apic_write(APIC_EOI, 0);
}

void timer_interrupt(void)
{
	timer_ticks++;
	apic_write(APIC_EOI, 0);
}

void stop_timer(void)
{
	apic_write(APIC_LVTT, APIC_LVT_MASKED | TIMER_VECTOR);
	apic_write(APIC_TMICT, 0);
}

void poweroff(void)
{
	struct sched_shutdown sd = { SHUTDOWN_poweroff };

	hypercall2(HYPERVISOR_sched_op, SCHEDOP_shutdown, (u32)&sd);
}

static int hvm_get_param(u32 index, u32 *value)
{
	struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
	int rc = (int)hypercall2(HYPERVISOR_hvm_op, HVMOP_get_param, (u32)&p);

	*value = (u32)p.value;
	return rc;
}

static bool find_cpuid_base(void)
{
	u32 leaf, a, b, c, d;

	for (leaf = XEN_CPUID_FIRST; leaf < XEN_CPUID_LAST; leaf += 0x100) {
		cpuid(leaf, 0, &a, &b, &c, &d);
		if (b == XEN_CPUID_SIG_EBX && c == XEN_CPUID_SIG_ECX && d == XEN_CPUID_SIG_EDX &&
		    a >= leaf + 4) {
			xen.cpuid_base = leaf;
			return true;
		}
	}
	return false;
}

const char *platform_init(const struct hvm_start_info *si)
{
	struct xen_add_to_physmap xatp = { .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info };
	struct xen_hvm_evtchn_upcall_vector upcall = { .vcpu = 0, .vector = UPCALL_VECTOR };
	u32 a, b, c, d, w, store_pfn;
	u64 apic_base;

	if (si->magic != XEN_HVM_START_MAGIC)
		return "no hvm_start_info at entry (not started as PVH?)";
	xen.cmdline = si->cmdline_paddr ? (const char *)(u32)si->cmdline_paddr : "";
	idt_init();

	if (!find_cpuid_base())
		return "no Xen CPUID leaves";
	cpuid(xen.cpuid_base + 1, 0, &a, &b, &c, &d);
	xen.xen_version = a;
	/* Writing the page's address to Xen's MSR fills it, and latches the 32-bit ABI. */
	cpuid(xen.cpuid_base + 2, 0, &a, &b, &c, &d);
	wrmsr(b, (u32)hypercall_page);
	cpuid(xen.cpuid_base + 3, 0, &a, &b, &c, &d);
	xen.tsc_emulated = a & XEN_CPUID_TSC_EMULATED;
	xen.tsc_khz = c;
	if (!xen.tsc_khz) {
		/* Only the timeouts and the rates depend on it: guess, and say so. */
		xen.tsc_khz = 1000000;
		xen.tsc_khz_guessed = true;
	}
	cpuid(xen.cpuid_base + 4, 0, &a, &b, &c, &d);
	xen.hvm_features = a;
	xen.domid = a & XEN_HVM_CPUID_DOMID_PRESENT ? c : ~0u;
	cpuid(xen.cpuid_base + 4, 1, &a, &b, &c, &d);
	xen.doorbell_io = a;
	xen.doorbell_info = b;

	xatp.gpfn = (u32)shared_info_frame >> 12;
	if (hypercall2(HYPERVISOR_memory_op, XENMEM_add_to_physmap, (u32)&xatp))
		return "XENMEM_add_to_physmap(shared_info) failed";
	xen.shared = (volatile struct shared_info *)shared_info_frame;
	xen.vcpu = &xen.shared->vcpu_info[0];
	/*
	 * Every port starts masked, as in Linux: only the ports this guest handles are unmasked,
	 * one by one, so that nothing else (the console's port, a stray event) raises an upcall.
	 */
	for (w = 0; w < EVTCHN_2L_WORDS; w++)
		xen.shared->evtchn_mask[w] = ~0u;

	apic_base = rdmsr(MSR_APIC_BASE);
	if (apic_base & APIC_BASE_X2APIC)
		return "the local APIC is in x2APIC mode";
	if (!(apic_base & APIC_BASE_ENABLE))
		wrmsr(MSR_APIC_BASE, apic_base | APIC_BASE_ENABLE);
	apic = (volatile u32 *)((u32)apic_base & 0xfffff000u);
	/* Xen injects the upcall vector only while the APIC is software-enabled. */
	apic_write(APIC_SVR, APIC_SVR_ENABLE | SPURIOUS_VECTOR);
	apic_write(APIC_TPR, 0);
	apic_write(APIC_TDCR, APIC_TDCR_DIV1);
	apic_write(APIC_LVTT, APIC_LVTT_PERIODIC | TIMER_VECTOR);
	apic_write(APIC_TMICT, APIC_TIMER_COUNT);

	if (hypercall2(HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, (u32)&upcall))
		return "HVMOP_set_evtchn_upcall_vector failed";

	if (hvm_get_param(HVM_PARAM_STORE_PFN, &store_pfn) || !store_pfn)
		return "no HVM_PARAM_STORE_PFN";
	if (hvm_get_param(HVM_PARAM_STORE_EVTCHN, &xen.store_port) || !xen.store_port)
		return "no HVM_PARAM_STORE_EVTCHN";
	if (hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &xen.console_port))
		xen.console_port = 0;
	store = (volatile struct xenstore_domain_interface *)(store_pfn << 12);
	clear_bit(xen.store_port, xen.shared->evtchn_mask);
	sti();
	return NULL;
}

/* ---- xenstore over the store ring */

#define XS_TIMEOUT_MS 30000

static bool ring_put(const void *data, u32 len)
{
	const u8 *p = data;

	while (len) {
		u32 prod = store->req_prod, off, chunk;

		if (!WAIT_UNTIL(prod - store->req_cons < XENSTORE_RING_SIZE, XS_TIMEOUT_MS))
			return false;
		/* The consumer index is read before the bytes it frees are overwritten. */
		chunk = XENSTORE_RING_SIZE - (prod - store->req_cons);
		off = prod % XENSTORE_RING_SIZE;
		if (chunk > XENSTORE_RING_SIZE - off)
			chunk = XENSTORE_RING_SIZE - off;
		if (chunk > len)
			chunk = len;
		memcpy((void *)&store->req[off], p, chunk);
		/* The bytes must be in the ring before the producer index says so. */
		mb();
		store->req_prod = prod + chunk;
		p += chunk;
		len -= chunk;
		evtchn_send(xen.store_port);
	}
	return true;
}

/* Copies LEN bytes of the reply stream to DATA (or drops them when DATA is NULL). */
static bool ring_get(void *data, u32 len)
{
	u8 *p = data;

	while (len) {
		u32 cons = store->rsp_cons, off, chunk;

		if (!WAIT_UNTIL(store->rsp_prod != cons, XS_TIMEOUT_MS))
			return false;
		/* Read the bytes only after seeing the producer index that covers them. */
		mb();
		chunk = store->rsp_prod - cons;
		off = cons % XENSTORE_RING_SIZE;
		if (chunk > XENSTORE_RING_SIZE - off)
			chunk = XENSTORE_RING_SIZE - off;
		if (chunk > len)
			chunk = len;
		if (p) {
			memcpy(p, (const void *)&store->rsp[off], chunk);
			p += chunk;
		}
		/* Done with the bytes before handing their space back. */
		mb();
		store->rsp_cons = cons + chunk;
		len -= chunk;
		evtchn_send(xen.store_port);
	}
	return true;
}

/*
 * One request and its reply. Returns the reply's length (REPLY holds it, cut to SIZE - 1 and
 * NUL-terminated), or -1 on an XS_ERROR reply (REPLY holds the error's name) or a dead ring.
 */
static int xs_talk(u32 type, const char *path, const char *value, char *reply, u32 size)
{
	u32 plen = strlen(path) + 1, vlen = value ? strlen(value) : 0;
	struct xsd_sockmsg msg = { type, ++xs_req_id, 0, plen + vlen };

	if (!ring_put(&msg, sizeof(msg)) || !ring_put(path, plen) || !ring_put(value, vlen))
		return -1;
	for (;;) {
		u32 keep;

		if (!ring_get(&msg, sizeof(msg)))
			return -1;
		keep = msg.len < size - 1 ? msg.len : size - 1;
		if (!ring_get(reply, keep) || !ring_get(NULL, msg.len - keep))
			return -1;
		reply[keep] = '\0';
		/* No watches are set; anything else unasked for is skipped the same way. */
		if (msg.type == XS_WATCH_EVENT || msg.req_id != xs_req_id)
			continue;
		return msg.type == XS_ERROR ? -1 : (int)keep;
	}
}

int xs_read(const char *path, char *buf, u32 size)
{
	return xs_talk(XS_READ, path, NULL, buf, size);
}

int xs_write(const char *path, const char *value)
{
	char reply[16];

	return xs_talk(XS_WRITE, path, value, reply, sizeof(reply)) < 0 ? -1 : 0;
}
