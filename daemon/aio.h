/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous image I/O for the data plane: one io_uring per pvringd, its
 * completions signalled on an eventfd that the libevent loop watches.
 *
 * The data plane queues many operations while it drains a ring, then calls
 * pvring_aio_submit() once: one system call per ring pass, not per request.
 * Each operation completes exactly once, through its callback, from the
 * event loop (never from inside a queueing call), with the bytes moved or a
 * negative errno. A short read or write is continued by aio itself, so a
 * successful callback always means the whole transfer was done.
 */
#ifndef PVRING_AIO_H
#define PVRING_AIO_H

#include <stdint.h>
#include <sys/uio.h>

struct event_base;
struct pvring_aio;

/* result: bytes transferred (the whole request) or a negative errno. */
typedef void (*pvring_aio_done_fn)(void *arg, int64_t result);

/* entries: the most operations in flight at once. NULL with *why set. */
struct pvring_aio *pvring_aio_create(struct event_base *base, unsigned int entries,
				     const char **why);
/* Waits for every operation in flight to complete (callbacks run), then frees. */
void pvring_aio_destroy(struct pvring_aio *aio);

/*
 * Queue an operation; 0, or a negative errno when it cannot be queued (then
 * the callback never runs). iov must stay valid until the callback.
 */
int pvring_aio_readv(struct pvring_aio *aio, int fd, const struct iovec *iov, unsigned int iovcnt,
		     uint64_t offset, pvring_aio_done_fn done, void *arg);
/*
 * pvring_aio_readv() for a file or block device opened without O_DIRECT: a read submitted
 * alone (a ring pass with one request) copies what the page cache holds at once, without
 * waiting (preadv2 RWF_NOWAIT), the rest through io_uring; reads submitted together go to
 * io_uring in one call. The callback comes from the loop all the same: at the next
 * pvring_aio_reap(), or the loop's next turn. On an O_DIRECT fd the copy would wait for the
 * device: use pvring_aio_readv() there.
 */
int pvring_aio_readv_cached(struct pvring_aio *aio, int fd, const struct iovec *iov,
			    unsigned int iovcnt, uint64_t offset, pvring_aio_done_fn done,
			    void *arg);
int pvring_aio_writev(struct pvring_aio *aio, int fd, const struct iovec *iov, unsigned int iovcnt,
		      uint64_t offset, pvring_aio_done_fn done, void *arg);
/* fdatasync(2): what FLUSH_DISKCACHE and WRITE_BARRIER mean for the image. */
int pvring_aio_fdatasync(struct pvring_aio *aio, int fd, pvring_aio_done_fn done, void *arg);
/*
 * Discard [offset, offset + len): punch a hole in a file (the size stays), or
 * BLKDISCARD on a block device. Completes with 0 on success.
 */
int pvring_aio_discard(struct pvring_aio *aio, int fd, uint64_t offset, uint64_t len,
		       pvring_aio_done_fn done, void *arg);

/* Hand every queued operation to the kernel. */
void pvring_aio_submit(struct pvring_aio *aio);

/*
 * Run the callbacks of operations that have already completed, without a
 * system call: a read served from the page cache completes inside submit,
 * and reaping it at once spares the loop a trip through the eventfd. Never
 * waits. Call it outside any callback-sensitive section, like a loop turn.
 */
void pvring_aio_reap(struct pvring_aio *aio);

/* Operations queued or in flight whose callback has not run. */
unsigned int pvring_aio_in_flight(const struct pvring_aio *aio);

/*
 * Run completions until none is in flight (blocking): shutdown, and a device
 * being torn down, wait here so no acknowledged write is lost.
 */
void pvring_aio_drain(struct pvring_aio *aio);

#endif /* PVRING_AIO_H */
