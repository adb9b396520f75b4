/* SPDX-License-Identifier: MIT */
/*
 * How one data-plane queue reaches its image: an engine. Files and block devices go through the
 * worker's io_uring (engine_file.c), Ceph RBD images through librbd (engine_rbd.c), NBD exports
 * through libnbd (engine_nbd.c).
 *
 * An engine is opened, used and closed in its worker's thread, and completes into that worker's
 * event loop, like aio.h: an operation is queued, handed over by submit (one call per ring
 * pass), and completes exactly once through its callback from the loop (never from inside a
 * queueing call) with the bytes moved or a negative errno. A worker never blocks on an engine,
 * except in drain (shutdown) and close. A remote engine fails what it has in flight with -EIO
 * or -ETIMEDOUT when its server does not answer within the image's timeout, and tries again for
 * the next operation.
 */
#ifndef PVRINGD_ENGINE_H
#define PVRINGD_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "daemon/aio.h"

struct event_base;
struct pvring_image;
struct pvringd_engine;

struct pvringd_engine_ops {
	int (*readv)(struct pvringd_engine *e, const struct iovec *iov, unsigned int iovcnt,
		     uint64_t offset, pvring_aio_done_fn done, void *arg);
	int (*writev)(struct pvringd_engine *e, const struct iovec *iov, unsigned int iovcnt,
		      uint64_t offset, pvring_aio_done_fn done, void *arg);
	/* Make every completed write durable: what FLUSH_DISKCACHE and WRITE_BARRIER mean. */
	int (*flush)(struct pvringd_engine *e, pvring_aio_done_fn done, void *arg);
	/* Completes with 0; reads of the range return zeros afterwards. */
	int (*discard)(struct pvringd_engine *e, uint64_t offset, uint64_t len,
		       pvring_aio_done_fn done, void *arg);
	void (*submit)(struct pvringd_engine *e);
	/* Run callbacks of what has already completed, without waiting. */
	void (*reap)(struct pvringd_engine *e);
	/* Wait until nothing is in flight (callbacks run). */
	void (*drain)(struct pvringd_engine *e);
	/* After drain, or with nothing in flight. */
	void (*close)(struct pvringd_engine *e);
	/* One line for pvringctl: "connected", "reconnecting (...)", ... */
	void (*state)(const struct pvringd_engine *e, char *out, size_t len);
};

struct pvringd_engine {
	const struct pvringd_engine_ops *ops;
};

/*
 * The engine for a queue of img, in the calling worker's thread: base is its loop, aio its
 * io_uring, name the device's for logs. NULL with why.
 */
struct pvringd_engine *pvringd_engine_open(struct pvring_image *img, struct event_base *base,
					   struct pvring_aio *aio, const char *name,
					   const char **why);

#endif /* PVRINGD_ENGINE_H */
