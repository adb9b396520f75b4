/* SPDX-License-Identifier: MIT */
/*
 * The few x86 instructions the doorbell test guest needs, as inline functions. The guest runs in
 * 32-bit protected mode with paging off, so physical addresses are pointers.
 */
#ifndef DOORBELL_GUEST_ARCH_H
#define DOORBELL_GUEST_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;

#define barrier() asm volatile("" ::: "memory")
/* A locked no-op orders every earlier load and store before every later one. */
#define mb() asm volatile("lock; addl $0, (%%esp)" ::: "memory", "cc")

static inline void cpuid(u32 leaf, u32 subleaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((u64)hi << 32) | lo;
}

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 val)
{
	asm volatile("wrmsr" ::"c"(msr), "a"((u32)val), "d"((u32)(val >> 32)) : "memory");
}

static inline void outb(u16 port, u8 val)
{
	asm volatile("outb %0, %1" ::"a"(val), "Nd"(port) : "memory");
}

static inline void outw(u16 port, u16 val)
{
	asm volatile("outw %0, %1" ::"a"(val), "Nd"(port) : "memory");
}

static inline void outl(u16 port, u32 val)
{
	asm volatile("outl %0, %1" ::"a"(val), "Nd"(port) : "memory");
}

static inline u8 inb(u16 port)
{
	u8 val;

	asm volatile("inb %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline u16 inw(u16 port)
{
	u16 val;

	asm volatile("inw %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline u32 inl(u16 port)
{
	u32 val;

	asm volatile("inl %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline void cli(void)
{
	asm volatile("cli" ::: "memory");
}

static inline void sti(void)
{
	asm volatile("sti" ::: "memory");
}

/*
 * Interrupts are taken only after the instruction that follows sti, so an interrupt that became
 * pending while they were off wakes this hlt instead of being handled before it: no lost wakeup
 * between a check done with interrupts off and the halt. (A hlt with interrupts off would take
 * the vCPU down for good: Xen treats it as the vCPU going offline.)
 */
static inline void sti_hlt(void)
{
	asm volatile("sti; hlt" ::: "memory");
}

/* Bit operations on the shared-info bitmaps: 32-bit words, locked where Xen writes concurrently. */
static inline bool test_bit(u32 nr, const volatile u32 *addr)
{
	return (addr[nr / 32] >> (nr % 32)) & 1;
}

static inline void set_bit(u32 nr, volatile u32 *addr)
{
	asm volatile("lock; btsl %1, %0" : "+m"(addr[nr / 32]) : "Ir"(nr % 32) : "memory");
}

static inline void clear_bit(u32 nr, volatile u32 *addr)
{
	asm volatile("lock; btrl %1, %0" : "+m"(addr[nr / 32]) : "Ir"(nr % 32) : "memory");
}

static inline u32 xchg32(volatile u32 *p, u32 val)
{
	asm volatile("xchgl %0, %1" : "+r"(val), "+m"(*p)::"memory");
	return val;
}

static inline u32 lowest_bit(u32 word)
{
	return __builtin_ctz(word);
}

#endif
