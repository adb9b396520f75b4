// SPDX-License-Identifier: MIT
/*
 * Ceph RBD images through librbd's asynchronous API.
 *
 * An image is opened once (on the main thread: connecting to the cluster may wait up to the
 * image's timeout) and shared by its queues: librbd takes operations from any thread. librbd
 * completes them on a thread of its own; each queue's completions come back to its worker
 * through a mailbox (mutex, list, eventfd), so the data plane's callbacks run in the worker's
 * loop as aio.h's do.
 *
 * librados fails an operation the cluster does not answer with -ETIMEDOUT after
 * rados_osd_op_timeout (the image's timeout): pvringd never gives up on one itself, so a
 * librbd buffer is never freed under a running operation. The next operation finds the cluster
 * again once it is back (librados reconnects by itself).
 *
 * librbd's own write-back cache is switched off: a write pvringd acknowledges is in the
 * cluster, not in pvringd's memory, so a pvringd killed a moment later has lost nothing.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include "daemon/engine_health.h"
#include "daemon/engines.h"
#include "daemon/mailbox.h"

struct rbd_image_ctx {
	rados_t cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	struct pvringd_engine_health health;
};

enum rbd_op_kind { RBD_OP_READ, RBD_OP_WRITE, RBD_OP_FLUSH, RBD_OP_ZERO };

struct rbd_op {
	struct pvringd_mail mail; /* librbd's thread -> the worker */
	struct rbd_op *next_free;
	struct rbd_queue *rq;
	enum rbd_op_kind kind;
	uint64_t len;
	int64_t result;
	pvring_aio_done_fn done;
	void *arg;
};

struct rbd_queue {
	struct pvringd_engine e;
	struct rbd_image_ctx *ri;
	struct pvringd_mailbox *mb;
	struct rbd_op *free_ops;
	unsigned int in_flight; /* queued, callback not run */
};

static const char *const op_names[] = { "read", "write", "flush", "discard" };

static struct rbd_queue *rbd_queue_of(struct pvringd_engine *e)
{
	return container_of(e, struct rbd_queue, e);
}

/* The worker: an operation is back (through the mailbox). */
static void on_rbd_mail(void *arg, struct pvringd_mail *mail)
{
	struct rbd_queue *rq = arg;
	struct rbd_op *op = container_of(mail, struct rbd_op, mail);
	pvring_aio_done_fn done = op->done;
	void *done_arg = op->arg;
	int64_t result = op->result;

	if (result < 0) {
		pvringd_engine_health_failed(&rq->ri->health, (int)result, op_names[op->kind]);
	} else {
		pvringd_engine_health_ok(&rq->ri->health);
		/* A read says how many bytes it read; the rest say 0. */
		result = op->kind == RBD_OP_READ || op->kind == RBD_OP_WRITE ? (int64_t)op->len : 0;
	}
	op->next_free = rq->free_ops;
	rq->free_ops = op;
	rq->in_flight--;
	done(done_arg, result);
}

/* librbd's thread: hand the operation back to its worker. */
static void on_rbd_complete(rbd_completion_t c, void *arg)
{
	struct rbd_op *op = arg;
	ssize_t r = rbd_aio_get_return_value(c);

	rbd_aio_release(c);
	op->result = r;
	if (r >= 0 && op->kind == RBD_OP_READ && (uint64_t)r != op->len)
		op->result = -EIO; /* reads stay inside the image: short means broken */
	pvringd_mailbox_post(op->rq->mb, &op->mail);
}

static struct rbd_op *rbdq_op_get(struct rbd_queue *rq, enum rbd_op_kind kind, uint64_t len,
				  pvring_aio_done_fn done, void *arg)
{
	struct rbd_op *op = rq->free_ops;

	if (op)
		rq->free_ops = op->next_free;
	else if (!(op = calloc(1, sizeof(*op))))
		return NULL;
	op->rq = rq;
	op->kind = kind;
	op->len = len;
	op->done = done;
	op->arg = arg;
	op->result = 0;
	return op;
}

/*
 * Start op: issue(image, completion) hands it to librbd. A refusal at once (a broken image,
 * out of memory) is returned like aio's: the callback never runs then.
 */
static int rbdq_issue(struct rbd_queue *rq, struct rbd_op *op, const struct iovec *iov,
		      unsigned int iovcnt, uint64_t offset)
{
	rbd_image_t image = rq->ri->image;
	rbd_completion_t c;
	int err;

	err = rbd_aio_create_completion(op, on_rbd_complete, &c);
	if (err < 0)
		goto refused;
	switch (op->kind) {
	case RBD_OP_READ:
		err = rbd_aio_readv(image, iov, (int)iovcnt, offset, c);
		break;
	case RBD_OP_WRITE:
		err = rbd_aio_writev(image, iov, (int)iovcnt, offset, c);
		break;
	case RBD_OP_FLUSH:
		err = rbd_aio_flush(image, c);
		break;
	case RBD_OP_ZERO:
		/* Zeroes, deallocating what it can: reads of the range return zeros. */
		err = rbd_aio_write_zeroes(image, offset, op->len, c, 0, 0);
		break;
	}
	if (err < 0) {
		rbd_aio_release(c);
		goto refused;
	}
	rq->in_flight++;
	return 0;
refused:
	op->next_free = rq->free_ops;
	rq->free_ops = op;
	return err;
}

static uint64_t iov_bytes(const struct iovec *iov, unsigned int iovcnt)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

static int rbdq_rw(struct pvringd_engine *e, enum rbd_op_kind kind, const struct iovec *iov,
		   unsigned int iovcnt, uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	struct rbd_queue *rq = rbd_queue_of(e);
	struct rbd_op *op;

	if (!iovcnt || iovcnt > IOV_MAX)
		return -EINVAL;
	op = rbdq_op_get(rq, kind, iov_bytes(iov, iovcnt), done, arg);
	if (!op)
		return -ENOMEM;
	return rbdq_issue(rq, op, iov, iovcnt, offset);
}

static int rbdq_readv(struct pvringd_engine *e, const struct iovec *iov, unsigned int iovcnt,
		      uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	return rbdq_rw(e, RBD_OP_READ, iov, iovcnt, offset, done, arg);
}

static int rbdq_writev(struct pvringd_engine *e, const struct iovec *iov, unsigned int iovcnt,
		       uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	return rbdq_rw(e, RBD_OP_WRITE, iov, iovcnt, offset, done, arg);
}

static int rbdq_flush(struct pvringd_engine *e, pvring_aio_done_fn done, void *arg)
{
	struct rbd_queue *rq = rbd_queue_of(e);
	struct rbd_op *op = rbdq_op_get(rq, RBD_OP_FLUSH, 0, done, arg);

	return op ? rbdq_issue(rq, op, NULL, 0, 0) : -ENOMEM;
}

static int rbdq_discard(struct pvringd_engine *e, uint64_t offset, uint64_t len,
			pvring_aio_done_fn done, void *arg)
{
	struct rbd_queue *rq = rbd_queue_of(e);
	struct rbd_op *op;

	if (!len || len > SIZE_MAX)
		return -EINVAL;
	op = rbdq_op_get(rq, RBD_OP_ZERO, len, done, arg);
	return op ? rbdq_issue(rq, op, NULL, 0, offset) : -ENOMEM;
}

/* Operations were handed to librbd as they were queued. */
static void rbdq_submit(struct pvringd_engine *e)
{
	(void)e;
}

/* Nothing completes at once in librbd: the mailbox's eventfd brings completions to the loop. */
static void rbdq_reap(struct pvringd_engine *e)
{
	(void)e;
}

static void rbdq_drain(struct pvringd_engine *e)
{
	struct rbd_queue *rq = rbd_queue_of(e);

	/* librados fails what the cluster never answers after the timeout: this ends. */
	for (;;) {
		pvringd_mailbox_run(rq->mb);
		if (!rq->in_flight)
			break;
		pvringd_mailbox_wait(rq->mb, 1000);
	}
}

static void rbdq_queue_close(struct pvringd_engine *e)
{
	struct rbd_queue *rq = rbd_queue_of(e);
	struct rbd_op *op;

	pvringd_mailbox_free(rq->mb);
	while ((op = rq->free_ops)) {
		rq->free_ops = op->next_free;
		free(op);
	}
	free(rq);
}

static void rbdq_queue_state(const struct pvringd_engine *e, char *out, size_t len)
{
	const struct rbd_queue *rq = (const struct rbd_queue *)e;

	snprintf(out, len, "%u in librbd", rq->in_flight);
}

static const struct pvringd_engine_ops rbdq_queue_ops = {
	.readv = rbdq_readv,
	.writev = rbdq_writev,
	.flush = rbdq_flush,
	.discard = rbdq_discard,
	.submit = rbdq_submit,
	.reap = rbdq_reap,
	.drain = rbdq_drain,
	.close = rbdq_queue_close,
	.state = rbdq_queue_state,
};

static struct pvringd_engine *rbdq_queue_open(struct pvring_image *img, struct event_base *base,
					      const char *name, const char **why)
{
	struct rbd_queue *rq = calloc(1, sizeof(*rq));

	(void)name;
	if (!rq) {
		*why = "out of memory";
		return NULL;
	}
	rq->e.ops = &rbdq_queue_ops;
	rq->ri = img->remote;
	rq->mb = pvringd_mailbox_new(base, on_rbd_mail, rq, why);
	if (!rq->mb) {
		free(rq);
		return NULL;
	}
	return &rq->e;
}

static void rbdq_image_close(struct pvring_image *img)
{
	struct rbd_image_ctx *ri = img->remote;

	if (!ri)
		return;
	if (ri->image)
		rbd_close(ri->image);
	if (ri->ioctx)
		rados_ioctx_destroy(ri->ioctx);
	if (ri->cluster)
		rados_shutdown(ri->cluster);
	pvringd_engine_health_destroy(&ri->health);
	free(ri);
	img->remote = NULL;
}

static void rbdq_image_state(const struct pvring_image *img, char *out, size_t len)
{
	struct rbd_image_ctx *ri = img->remote;

	pvringd_engine_health_state(&ri->health, out, len);
}

static const struct pvring_remote_image_ops rbdq_image_ops = {
	.queue_open = rbdq_queue_open,
	.close = rbdq_image_close,
	.state = rbdq_image_state,
};

static int fail(char *why, size_t why_len, int err, const char *what)
{
	snprintf(why, why_len, "%s: %s", what, strerror(-err));
	return err;
}

/* librados' settings that make a cluster that went away fail operations, not hang them. */
static int configure(rados_t cluster, const struct pvring_image_name *n, uint32_t timeout_ms,
		     char *why, size_t why_len)
{
	char seconds[32];
	int err;

	err = rados_conf_read_file(cluster, n->conf[0] ? n->conf : NULL);
	if (err < 0)
		return fail(why, why_len, err,
			    n->conf[0] ? "cannot read the Ceph configuration"
				       : "no Ceph configuration (CEPH_CONF, /etc/ceph/ceph.conf)");
	/* librados takes whole seconds: rounded up, at least one. */
	snprintf(seconds, sizeof(seconds), "%u", (timeout_ms + 999) / 1000);
	if ((err = rados_conf_set(cluster, "rados_osd_op_timeout", seconds)) < 0 ||
	    (err = rados_conf_set(cluster, "rados_mon_op_timeout", seconds)) < 0 ||
	    (err = rados_conf_set(cluster, "client_mount_timeout", seconds)) < 0 ||
	    (err = rados_conf_set(cluster, "rbd_cache", "false")) < 0 ||
	    /* The guest bounds what it has in flight; librados must not block a worker below it. */
	    (err = rados_conf_set(cluster, "objecter_inflight_op_bytes", "1073741824")) < 0 ||
	    (err = rados_conf_set(cluster, "objecter_inflight_ops", "65536")) < 0)
		return fail(why, why_len, err, "cannot configure librados");
	return 0;
}

int pvringd_remote_image_open(struct pvring_image *img, const struct pvring_image_name *n,
			      char *why, size_t why_len)
{
	struct rbd_image_ctx *ri = calloc(1, sizeof(*ri));
	uint64_t size = 0;
	int err;

	if (!ri)
		return fail(why, why_len, -ENOMEM, "cannot open");
	pvringd_engine_health_init(&ri->health, img->path);
	img->remote = ri;
	img->remote_ops = &rbdq_image_ops;
	err = rados_create(&ri->cluster, n->id[0] ? n->id : NULL);
	if (err < 0)
		return fail(why, why_len, err, "cannot create a librados handle");
	err = configure(ri->cluster, n, img->timeout_ms, why, why_len);
	if (err < 0)
		return err;
	err = rados_connect(ri->cluster);
	if (err < 0)
		return fail(why, why_len, err, "cannot connect to the Ceph cluster");
	err = rados_ioctx_create(ri->cluster, n->pool, &ri->ioctx);
	if (err < 0)
		return fail(why, why_len, err,
			    err == -ENOENT ? "no such pool" : "cannot open the pool");
	if (img->read_only)
		err = rbd_open_read_only(ri->ioctx, n->image, &ri->image,
					 n->snap[0] ? n->snap : NULL);
	else
		err = rbd_open(ri->ioctx, n->image, &ri->image, NULL);
	if (err < 0) {
		ri->image = NULL;
		return fail(why, why_len, err,
			    err == -ENOENT
				    ? (n->snap[0] ? "no such image or snapshot" : "no such image")
				    : "cannot open the image");
	}
	err = rbd_get_size(ri->image, &size);
	if (err < 0)
		return fail(why, why_len, err, "cannot read the image's size");
	if (!size || size % 512) {
		snprintf(why, why_len, "size is zero or not a multiple of 512 bytes");
		return -EINVAL;
	}
	img->sectors = size / 512;
	img->sector_size = 512;
	/* RBD stripes objects of megabytes; 4 KiB keeps writes from being read-modify-write. */
	img->physical_sector_size = 4096;
	img->discard = !img->read_only;
	img->flush = true;
	return 0;
}
