// SPDX-License-Identifier: MIT
/*
 * Asynchronous image I/O: see aio.h.
 *
 * An operation lives on exactly one list at a time: free, pending (queued,
 * not yet in an SQE), in the kernel (no list; its address is the CQE's
 * user_data), or ready (finished without the kernel: BLKDISCARD, a read the
 * page cache answered, or failed before reaching it). Callbacks run only from
 * on_completion(), on_ready(), pvring_aio_reap() and pvring_aio_drain().
 */
#include "config.h"

#include "aio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <liburing.h>

enum aio_kind {
	AIO_READ,
	AIO_WRITE,
	AIO_FDATASYNC,
	AIO_PUNCH_HOLE,
	AIO_BLKDISCARD,
};

struct aio_op {
	struct aio_op *next;
	enum aio_kind kind;
	int fd;
	const struct iovec *user_iov;
	unsigned int user_iovcnt;
	const struct iovec *iov; /* user_iov, or rest after a short transfer */
	unsigned int iovcnt;
	struct iovec *rest; /* ours: the caller's array is const */
	uint64_t offset;
	uint64_t len;
	uint64_t done; /* bytes moved so far */
	int64_t result; /* for the ready list */
	bool try_cached; /* pvring_aio_readv_cached(): alone, try the page cache first */
	pvring_aio_done_fn fn;
	void *arg;
};

struct aio_chunk {
	struct aio_chunk *next;
	struct aio_op ops[];
};

struct aio_list {
	struct aio_op *head;
	struct aio_op *tail;
};

struct pvring_aio {
	struct io_uring ring;
	int efd;
	struct event *completion_ev;
	struct event *ready_ev;
	struct aio_op *free_ops;
	struct aio_chunk *chunks;
	unsigned int chunk_ops;
	struct aio_list pending;
	struct aio_list ready;
	struct aio_list done; /* reaped, callback not run yet */
	unsigned int in_flight; /* queued, in the kernel or ready: callback not run */
	unsigned int in_kernel; /* in an SQE, submitted or not */
	/* Never more in the kernel than the CQ holds: no overflow, however many are queued. */
	unsigned int kernel_cap;
	unsigned int unsubmitted; /* SQEs the kernel has not taken yet */
};

static void list_append(struct aio_list *l, struct aio_op *op)
{
	op->next = NULL;
	if (l->tail)
		l->tail->next = op;
	else
		l->head = op;
	l->tail = op;
}

static struct aio_op *list_pop(struct aio_list *l)
{
	struct aio_op *op = l->head;

	if (op) {
		l->head = op->next;
		if (!l->head)
			l->tail = NULL;
	}
	return op;
}

static bool grow(struct pvring_aio *aio)
{
	struct aio_chunk *c;
	unsigned int i;

	c = calloc(1, sizeof(*c) + (size_t)aio->chunk_ops * sizeof(c->ops[0]));
	if (!c)
		return false;
	c->next = aio->chunks;
	aio->chunks = c;
	for (i = 0; i < aio->chunk_ops; i++) {
		c->ops[i].next = aio->free_ops;
		aio->free_ops = &c->ops[i];
	}
	return true;
}

static struct aio_op *op_get(struct pvring_aio *aio)
{
	struct aio_op *op;

	if (!aio->free_ops && !grow(aio))
		return NULL;
	op = aio->free_ops;
	aio->free_ops = op->next;
	op->rest = NULL;
	op->done = 0;
	op->result = 0;
	op->try_cached = false;
	return op;
}

/* The op goes back on the free list before its callback runs, so the callback may reuse it. */
static void complete(struct pvring_aio *aio, struct aio_op *op, int64_t result)
{
	pvring_aio_done_fn fn = op->fn;
	void *arg = op->arg;

	free(op->rest);
	op->rest = NULL;
	op->next = aio->free_ops;
	aio->free_ops = op;
	aio->in_flight--;
	fn(arg, result);
}

static void defer(struct pvring_aio *aio, struct aio_op *op, int64_t result)
{
	op->result = result;
	list_append(&aio->ready, op);
	event_active(aio->ready_ev, 0, 0);
}

static void prep(struct io_uring_sqe *sqe, struct aio_op *op)
{
	switch (op->kind) {
	case AIO_READ:
		io_uring_prep_readv(sqe, op->fd, op->iov, op->iovcnt, op->offset + op->done);
		break;
	case AIO_WRITE:
		io_uring_prep_writev(sqe, op->fd, op->iov, op->iovcnt, op->offset + op->done);
		break;
	case AIO_FDATASYNC:
		io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
		break;
	case AIO_PUNCH_HOLE:
		io_uring_prep_fallocate(sqe, op->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)op->offset, (off_t)op->len);
		break;
	case AIO_BLKDISCARD:
		break; /* never reaches the ring */
	}
	io_uring_sqe_set_data(sqe, op);
}

/*
 * BLKDISCARD has no io_uring opcode in the liburing we build against: it runs
 * here, synchronously, and completes through the ready list like the rest.
 */
static int64_t blkdiscard(const struct aio_op *op)
{
	uint64_t range[2] = { op->offset, op->len };

	return ioctl(op->fd, BLKDISCARD, range) < 0 ? -errno : 0;
}

/*
 * Entries the kernel refused to take (-EAGAIN, -EBUSY, -EINTR, or stopping
 * at a failed SQE without SUBMIT_ALL) stay in the SQ; the next submit,
 * completion or drain hands them over.
 */
static void flush(struct pvring_aio *aio)
{
	io_uring_submit(&aio->ring);
	aio->unsubmitted = io_uring_sq_ready(&aio->ring);
}

static int advance(struct aio_op *op);

/*
 * A lone read that may be in the page cache: copy what the cache holds now, with no wait
 * (RWF_NOWAIT), one system call and no SQE, CQE or eventfd signal; true if that was all of
 * it (then it is on the ready list). Only alone: many reads go to the kernel in one call,
 * cheaper than one each. Anything else (not cached, an error, no RWF_NOWAIT here) goes to
 * io_uring, which says its own error; a part already copied is not read again.
 */
static bool read_lone_cached(struct pvring_aio *aio)
{
	struct aio_op *op = aio->pending.head;
	ssize_t n;
	int err;

	if (!op || op->next || !op->try_cached)
		return false;
	op->try_cached = false;
	n = preadv2(op->fd, op->iov, (int)op->iovcnt, (off_t)(op->offset + op->done), RWF_NOWAIT);
	if (n <= 0)
		return false;
	op->done += (uint64_t)n;
	if (op->done < op->len) {
		err = advance(op);
		if (!err)
			return false;
		list_pop(&aio->pending);
		defer(aio, op, err);
		return true;
	}
	list_pop(&aio->pending);
	defer(aio, op, (int64_t)op->len);
	return true;
}

static void submit(struct pvring_aio *aio)
{
	if (read_lone_cached(aio))
		return;
	while (aio->pending.head && aio->in_kernel < aio->kernel_cap) {
		struct aio_op *op = aio->pending.head;
		struct io_uring_sqe *sqe;

		if (op->kind == AIO_BLKDISCARD) {
			list_pop(&aio->pending);
			defer(aio, op, blkdiscard(op));
			continue;
		}
		sqe = io_uring_get_sqe(&aio->ring);
		if (!sqe) {
			/* The SQ is full of prepared entries: hand them over and retry. */
			flush(aio);
			if (io_uring_sq_space_left(&aio->ring) == 0)
				break;
			continue;
		}
		list_pop(&aio->pending);
		prep(sqe, op);
		aio->in_kernel++;
		aio->unsubmitted++;
	}
	if (aio->unsubmitted)
		flush(aio);
}

/* Point op at what is left of the caller's iovecs after op->done bytes. */
static int advance(struct aio_op *op)
{
	uint64_t skip = op->done;
	unsigned int i = 0, n;

	while (i < op->user_iovcnt && skip >= op->user_iov[i].iov_len)
		skip -= op->user_iov[i++].iov_len;
	n = op->user_iovcnt - i;
	if (!op->rest) {
		/* Short transfers are rare (EOF, pipes, odd file systems): malloc is fine. */
		op->rest = malloc((size_t)op->user_iovcnt * sizeof(*op->rest));
		if (!op->rest)
			return -ENOMEM;
	}
	memcpy(op->rest, &op->user_iov[i], (size_t)n * sizeof(*op->rest));
	op->rest[0].iov_base = (char *)op->rest[0].iov_base + skip;
	op->rest[0].iov_len -= skip;
	op->iov = op->rest;
	op->iovcnt = n;
	return 0;
}

/*
 * Decide what a CQE means for its op: finished (on the done list, to be
 * called back once the CQ is advanced) or continued (back on pending).
 */
static void settle(struct pvring_aio *aio, struct aio_op *op, int res)
{
	int err;

	aio->in_kernel--;
	if (res < 0) {
		op->result = res;
	} else if (op->kind != AIO_READ && op->kind != AIO_WRITE) {
		op->result = 0;
	} else {
		op->done += (unsigned int)res;
		if (op->done >= op->len) {
			op->result = (int64_t)op->len;
		} else if (res == 0) {
			/*
			 * Nothing moved: end of file for a read. The data plane reads only
			 * inside the disk, so this is an I/O error, never a loop.
			 */
			op->result = -EIO;
		} else {
			err = advance(op);
			if (!err) {
				list_append(&aio->pending, op);
				return;
			}
			op->result = err;
		}
	}
	list_append(&aio->done, op);
}

/*
 * Callbacks off a list: on aio, not the stack, so a callback that drains
 * (device teardown) finds and runs the rest itself.
 */
static void run_list(struct pvring_aio *aio, struct aio_list *l)
{
	struct aio_op *op;

	while ((op = list_pop(l)))
		complete(aio, op, op->result);
}

/* Reap every CQE there is; returns how many. Callbacks run after the CQ is advanced. */
static unsigned int reap(struct pvring_aio *aio)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&aio->ring, head, cqe)
	{
		settle(aio, io_uring_cqe_get_data(cqe), cqe->res);
		n++;
	}
	io_uring_cq_advance(&aio->ring, n);
	/* Continuations, and what waited for room in the kernel, go now. */
	if (aio->pending.head || aio->unsubmitted)
		submit(aio);
	run_list(aio, &aio->done);
	return n;
}

static void on_completion(evutil_socket_t fd, short what, void *arg)
{
	struct pvring_aio *aio = arg;
	uint64_t count;

	(void)what;
	/* First the eventfd, then the CQ: a CQE posted in between signals again. */
	if (read(fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: a completion already reaped by drain; nothing to do. */
	}
	while (reap(aio))
		;
	/* What callbacks queued without submitting goes in one system call, here. */
	if (aio->pending.head)
		submit(aio);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct pvring_aio *aio = arg;

	(void)fd;
	(void)what;
	/*
	 * A block-device discard that a callback here queues and submits runs
	 * in this same pass: later than its queueing call, never inside it.
	 */
	run_list(aio, &aio->ready);
}

/*
 * Newest kernels first; an older kernel refuses flags it does not know with
 * EINVAL. SINGLE_ISSUER binds the ring to the creating thread: create the
 * aio in the thread (and after any fork) of the loop that submits, or
 * submits fail with -EEXIST.
 */
static int ring_init(struct io_uring *ring, unsigned int entries)
{
	static const unsigned int flag_sets[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	unsigned int i;
	int err = -EINVAL;

	for (i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i];
		err = io_uring_queue_init_params(entries, ring, &p);
		if (err != -EINVAL)
			break;
	}
	return err;
}

struct pvring_aio *pvring_aio_create(struct event_base *base, unsigned int entries,
				     const char **why)
{
	struct pvring_aio *aio;
	int err;

	if (entries == 0 || entries > 32768) {
		*why = "aio: entries must be 1 to 32768";
		return NULL;
	}
	aio = calloc(1, sizeof(*aio));
	if (!aio) {
		*why = "aio: out of memory";
		return NULL;
	}
	aio->efd = -1;
	err = ring_init(&aio->ring, entries);
	if (err < 0) {
		*why = err == -ENOMEM || err == -EPERM
			       ? "aio: io_uring_queue_init: not allowed or out of locked memory"
			       : "aio: io_uring_queue_init failed (no io_uring in this kernel?)";
		free(aio);
		return NULL;
	}
	aio->kernel_cap = aio->ring.cq.ring_entries;
	if (aio->kernel_cap > aio->ring.sq.ring_entries * 2u)
		aio->kernel_cap = aio->ring.sq.ring_entries * 2u;
	aio->chunk_ops = entries;
	aio->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (aio->efd < 0) {
		*why = "aio: eventfd failed";
		goto fail;
	}
	if (io_uring_register_eventfd(&aio->ring, aio->efd) < 0) {
		*why = "aio: io_uring_register_eventfd failed";
		goto fail;
	}
	aio->completion_ev = event_new(base, aio->efd, EV_READ | EV_PERSIST, on_completion, aio);
	aio->ready_ev = event_new(base, -1, 0, on_ready, aio);
	if (!aio->completion_ev || !aio->ready_ev || event_add(aio->completion_ev, NULL) < 0) {
		*why = "aio: cannot add events to the event loop";
		goto fail;
	}
	if (!grow(aio)) {
		*why = "aio: out of memory";
		goto fail;
	}
	return aio;
fail:
	if (aio->completion_ev)
		event_free(aio->completion_ev);
	if (aio->ready_ev)
		event_free(aio->ready_ev);
	io_uring_queue_exit(&aio->ring);
	if (aio->efd >= 0)
		close(aio->efd);
	free(aio->chunks);
	free(aio);
	return NULL;
}

void pvring_aio_destroy(struct pvring_aio *aio)
{
	struct aio_chunk *c;

	if (!aio)
		return;
	pvring_aio_drain(aio);
	event_free(aio->completion_ev);
	event_free(aio->ready_ev);
	io_uring_queue_exit(&aio->ring);
	close(aio->efd);
	while ((c = aio->chunks)) {
		aio->chunks = c->next;
		free(c);
	}
	free(aio);
}

/* A new op, counted in flight; NULL if out of memory. */
static struct aio_op *new_op(struct pvring_aio *aio, enum aio_kind kind, int fd,
			     const struct iovec *iov, unsigned int iovcnt, uint64_t offset,
			     uint64_t len, pvring_aio_done_fn fn, void *arg)
{
	struct aio_op *op = op_get(aio);

	if (!op)
		return NULL;
	op->kind = kind;
	op->fd = fd;
	op->user_iov = op->iov = iov;
	op->user_iovcnt = op->iovcnt = iovcnt;
	op->offset = offset;
	op->len = len;
	op->fn = fn;
	op->arg = arg;
	aio->in_flight++;
	return op;
}

/* One operation on the pending list; submit() hands it to the kernel. */
static int queue_op(struct pvring_aio *aio, enum aio_kind kind, int fd, const struct iovec *iov,
		    unsigned int iovcnt, uint64_t offset, uint64_t len, pvring_aio_done_fn fn,
		    void *arg)
{
	struct aio_op *op = new_op(aio, kind, fd, iov, iovcnt, offset, len, fn, arg);

	if (!op)
		return -ENOMEM;
	list_append(&aio->pending, op);
	return 0;
}

/* The transfer's length in *len; -EINVAL for what the kernel would refuse. */
static int rw_length(const struct iovec *iov, unsigned int iovcnt, uint64_t offset, uint64_t *len)
{
	unsigned int i;

	*len = 0;
	if (iovcnt == 0 || iovcnt > IOV_MAX || offset > INT64_MAX)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++) {
		*len += iov[i].iov_len;
		/* The result must fit the callback's int64_t and the kernel's ssize_t. */
		if (iov[i].iov_len > SSIZE_MAX || *len > SSIZE_MAX)
			return -EINVAL;
	}
	return 0;
}

static int queue_rw(struct pvring_aio *aio, enum aio_kind kind, int fd, const struct iovec *iov,
		    unsigned int iovcnt, uint64_t offset, pvring_aio_done_fn fn, void *arg)
{
	uint64_t len;
	int err = rw_length(iov, iovcnt, offset, &len);

	if (err)
		return err;
	return queue_op(aio, kind, fd, iov, iovcnt, offset, len, fn, arg);
}

int pvring_aio_readv(struct pvring_aio *aio, int fd, const struct iovec *iov, unsigned int iovcnt,
		     uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	return queue_rw(aio, AIO_READ, fd, iov, iovcnt, offset, done, arg);
}

int pvring_aio_readv_cached(struct pvring_aio *aio, int fd, const struct iovec *iov,
			    unsigned int iovcnt, uint64_t offset, pvring_aio_done_fn done,
			    void *arg)
{
	struct aio_op *op;
	uint64_t len;
	int err = rw_length(iov, iovcnt, offset, &len);

	if (err)
		return err;
	op = new_op(aio, AIO_READ, fd, iov, iovcnt, offset, len, done, arg);
	if (!op)
		return -ENOMEM;
	op->try_cached = true;
	list_append(&aio->pending, op);
	return 0;
}

int pvring_aio_writev(struct pvring_aio *aio, int fd, const struct iovec *iov, unsigned int iovcnt,
		      uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	return queue_rw(aio, AIO_WRITE, fd, iov, iovcnt, offset, done, arg);
}

static int queue_other(struct pvring_aio *aio, enum aio_kind kind, int fd, uint64_t offset,
		       uint64_t len, pvring_aio_done_fn fn, void *arg)
{
	return queue_op(aio, kind, fd, NULL, 0, offset, len, fn, arg);
}

int pvring_aio_fdatasync(struct pvring_aio *aio, int fd, pvring_aio_done_fn done, void *arg)
{
	return queue_other(aio, AIO_FDATASYNC, fd, 0, 0, done, arg);
}

int pvring_aio_discard(struct pvring_aio *aio, int fd, uint64_t offset, uint64_t len,
		       pvring_aio_done_fn done, void *arg)
{
	struct stat st;

	if (len == 0 || offset > INT64_MAX || len > INT64_MAX - offset)
		return -EINVAL;
	/*
	 * The fd says which kind of discard it needs. A bad fd is not refused
	 * here: like every other operation it fails through its callback.
	 */
	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode))
		return queue_other(aio, AIO_BLKDISCARD, fd, offset, len, done, arg);
	return queue_other(aio, AIO_PUNCH_HOLE, fd, offset, len, done, arg);
}

void pvring_aio_submit(struct pvring_aio *aio)
{
	submit(aio);
}

void pvring_aio_reap(struct pvring_aio *aio)
{
	while (reap(aio))
		;
	/* And what completed without the kernel's queue (pvring_aio_readv_cached). */
	run_list(aio, &aio->ready);
}

unsigned int pvring_aio_in_flight(const struct pvring_aio *aio)
{
	return aio->in_flight;
}

void pvring_aio_drain(struct pvring_aio *aio)
{
	struct io_uring_cqe *cqe;
	uint64_t count;

	while (aio->in_flight) {
		submit(aio);
		if (aio->done.head || aio->ready.head) {
			run_list(aio, &aio->done);
			run_list(aio, &aio->ready);
			continue;
		}
		if (!aio->in_kernel)
			continue; /* a callback queued more: submit it */
		/* Also hands over SQEs a failed submit left behind. */
		io_uring_submit_and_wait(&aio->ring, 1);
		aio->unsubmitted = io_uring_sq_ready(&aio->ring);
		if (io_uring_peek_cqe(&aio->ring, &cqe) == 0)
			reap(aio);
	}
	/* Completions reaped here signalled the eventfd too: spare the loop a wakeup. */
	if (read(aio->efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: nothing was signalled. */
	}
	event_del(aio->ready_ev);
}
