/* SPDX-License-Identifier: MIT */
/*
 * Portability for common/: the only header in common/ that includes libc or
 * kernel headers. Everything else in common/ includes this file and uses the
 * fixed-width types, errno values, memcpy, prefetch and the barriers named below.
 *
 * The peer of a ring is another domain, possibly running on another physical
 * CPU even when this kernel was built without SMP, so the kernel side uses the
 * virt_*() barriers (never compiled out), as Linux's Xen drivers do. Userspace
 * uses C11 atomics; the ring indices are plain uint32_t in shared memory (the
 * Xen layout), accessed through _Atomic views of the same size and alignment.
 */
#ifndef PVRING_PORT_H
#define PVRING_PORT_H

#ifdef __KERNEL__

#include <linux/errno.h>
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/compiler.h>
#include <asm/barrier.h>
#include <linux/prefetch.h>

#define pvring_likely(x) likely(x)
#define pvring_unlikely(x) unlikely(x)

/* Keeps the compiler from re-reading shared memory after a copy. */
#define pvring_compiler_barrier() barrier()

#define pvring_load_relaxed(p) READ_ONCE(*(p))
#define pvring_store_relaxed(p, v) WRITE_ONCE(*(p), (v))
#define pvring_load_acquire(p) virt_load_acquire(p)
#define pvring_store_release(p, v) virt_store_release(p, v)

/* Release store, then a full barrier: later loads cannot pass the store. */
#define pvring_store_mb(p, v)                                                                      \
	do {                                                                                       \
		virt_store_release(p, v);                                                          \
		virt_mb();                                                                         \
	} while (0)

/* The load that follows pvring_store_mb(); acquire for the slots read after it. */
#define pvring_load_sc(p) virt_load_acquire(p)

/* A hint to load the cache line at p; never faults. */
#define pvring_prefetch(p) prefetch(p)

#else /* userspace */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdatomic.h>

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t) &&
		       _Alignof(_Atomic uint32_t) == _Alignof(uint32_t),
	       "ring indices are accessed as _Atomic uint32_t");

#define pvring_likely(x) __builtin_expect(!!(x), 1)
#define pvring_unlikely(x) __builtin_expect(!!(x), 0)

#define pvring_compiler_barrier() __asm__ __volatile__("" ::: "memory")

static inline uint32_t pvring_load_relaxed(uint32_t *p)
{
	return atomic_load_explicit((_Atomic uint32_t *)p, memory_order_relaxed);
}

static inline void pvring_store_relaxed(uint32_t *p, uint32_t v)
{
	atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_relaxed);
}

static inline uint32_t pvring_load_acquire(uint32_t *p)
{
	return atomic_load_explicit((_Atomic uint32_t *)p, memory_order_acquire);
}

static inline void pvring_store_release(uint32_t *p, uint32_t v)
{
	atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_release);
}

/*
 * Sequentially consistent store (release, then a full barrier; one xchg on
 * x86). Paired with pvring_load_sc() on both sides it forbids the outcome in
 * which each side misses the other's store (the store-buffer litmus test).
 */
static inline void pvring_store_mb(uint32_t *p, uint32_t v)
{
	atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_seq_cst);
}

static inline uint32_t pvring_load_sc(uint32_t *p)
{
	return atomic_load_explicit((_Atomic uint32_t *)p, memory_order_seq_cst);
}

/* A hint to load the cache line at p; never faults. */
static inline void pvring_prefetch(const void *p)
{
	__builtin_prefetch(p, 0, 3);
}

#endif /* __KERNEL__ */

#endif /* PVRING_PORT_H */
