/* SPDX-License-Identifier: MIT */
/* What the test guest's files share: the small library, the Xen platform, the waits. */
#ifndef DOORBELL_GUEST_H
#define DOORBELL_GUEST_H

#include <stdarg.h>

#include "arch.h"
#include "xen-abi.h"

/* lib.c */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int vformat(char *buf, size_t size, const char *fmt, va_list ap);
int format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One line (or part of one) to Xen's console through the debug port. */
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
u64 udiv64(u64 n, u64 d);
/* Parses an unsigned decimal (or 0x hex) number at *s and moves *s past it. */
bool parse_u32(const char **s, u32 *out);
/* Sorts a in place and returns its median (the lower middle one of an even count). */
u32 median_u32(u32 *a, u32 n);

/* platform.c: what Xen gives a PVH guest, set up once by platform_init(). */
struct platform {
	u32 cpuid_base;
	u32 xen_version;
	u32 domid;
	u32 hvm_features; /* leaf base+4 subleaf 0 EAX */
	u32 doorbell_io; /* leaf base+4 subleaf 1 EAX, when advertised */
	u32 doorbell_info; /* leaf base+4 subleaf 1 EBX */
	u32 tsc_khz;
	bool tsc_emulated;
	bool tsc_khz_guessed;
	u32 store_port;
	u32 console_port;
	volatile struct shared_info *shared;
	volatile struct vcpu_info *vcpu;
	const char *cmdline;
};
extern struct platform xen;

/* Counters the interrupt handlers keep. */
extern volatile u32 upcall_count;
extern volatile u32 timer_ticks;

/* Returns an error string, or NULL when the guest is ready for events. */
const char *platform_init(const struct hvm_start_info *si);
long hypercall2(u32 nr, u32 a1, u32 a2);
int evtchn_op(u32 cmd, void *arg);
int evtchn_send(u32 port);
/* Scans the 2-level bitmaps as the upcall does; the caller has interrupts off. */
void evtchn_dispatch(void);
/* Called by evtchn_dispatch() for each pending, unmasked port, its pending bit already clear. */
void handle_event(u32 port);
void stop_timer(void);
void poweroff(void);
u64 ms_to_tsc(u32 ms);

/*
 * Waits, halted between interrupts, until COND holds (true) or MS milliseconds have passed
 * (false). COND is checked with interrupts off, then sti;hlt: an interrupt that makes it true
 * cannot slip in between. The APIC timer ticks every 10 ms, so the deadline is noticed.
 */
#define WAIT_UNTIL(cond, ms)                                                                       \
	({                                                                                         \
		u64 wait_deadline_ = rdtsc() + ms_to_tsc(ms);                                      \
		bool wait_ok_;                                                                     \
		for (;;) {                                                                         \
			cli();                                                                     \
			if (cond) {                                                                \
				wait_ok_ = true;                                                   \
				break;                                                             \
			}                                                                          \
			if (rdtsc() > wait_deadline_) {                                            \
				wait_ok_ = false;                                                  \
				break;                                                             \
			}                                                                          \
			sti_hlt();                                                                 \
		}                                                                                  \
		sti();                                                                             \
		wait_ok_;                                                                          \
	})

/* xenstore through the guest's own ring; paths are relative to /local/domain/<domid>/. */
int xs_read(const char *path, char *buf, u32 size);
int xs_write(const char *path, const char *value);

#endif
