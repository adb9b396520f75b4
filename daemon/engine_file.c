// SPDX-License-Identifier: MIT
/*
 * The engine of files and block devices: the worker's io_uring (aio.h). Every queue on a
 * worker shares it, so one submit hands over what all of them queued.
 */
#include "config.h"

#include "daemon/engines.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/image.h"

struct file_engine {
	struct pvringd_engine e;
	struct pvring_aio *aio;
	int fd;
	bool cached; /* not O_DIRECT: a lone read tries the page cache first */
};

static struct file_engine *file_of(struct pvringd_engine *e)
{
	return (struct file_engine *)e;
}

static int file_readv(struct pvringd_engine *e, const struct iovec *iov, unsigned int iovcnt,
		      uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	struct file_engine *f = file_of(e);

	if (f->cached)
		return pvring_aio_readv_cached(f->aio, f->fd, iov, iovcnt, offset, done, arg);
	return pvring_aio_readv(f->aio, f->fd, iov, iovcnt, offset, done, arg);
}

static int file_writev(struct pvringd_engine *e, const struct iovec *iov, unsigned int iovcnt,
		       uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	struct file_engine *f = file_of(e);

	return pvring_aio_writev(f->aio, f->fd, iov, iovcnt, offset, done, arg);
}

static int file_flush(struct pvringd_engine *e, pvring_aio_done_fn done, void *arg)
{
	struct file_engine *f = file_of(e);

	return pvring_aio_fdatasync(f->aio, f->fd, done, arg);
}

static int file_discard(struct pvringd_engine *e, uint64_t offset, uint64_t len,
			pvring_aio_done_fn done, void *arg)
{
	struct file_engine *f = file_of(e);

	return pvring_aio_discard(f->aio, f->fd, offset, len, done, arg);
}

static void file_submit(struct pvringd_engine *e)
{
	pvring_aio_submit(file_of(e)->aio);
}

static void file_reap(struct pvringd_engine *e)
{
	pvring_aio_reap(file_of(e)->aio);
}

static void file_drain(struct pvringd_engine *e)
{
	pvring_aio_drain(file_of(e)->aio);
}

static void file_close(struct pvringd_engine *e)
{
	free(file_of(e));
}

static void file_state(const struct pvringd_engine *e, char *out, size_t len)
{
	(void)e;
	snprintf(out, len, "open");
}

static const struct pvringd_engine_ops file_ops = {
	.readv = file_readv,
	.writev = file_writev,
	.flush = file_flush,
	.discard = file_discard,
	.submit = file_submit,
	.reap = file_reap,
	.drain = file_drain,
	.close = file_close,
	.state = file_state,
};

struct pvringd_engine *pvringd_file_engine_open(struct pvring_image *img, struct pvring_aio *aio,
						const char **why)
{
	struct file_engine *f = calloc(1, sizeof(*f));

	if (!f) {
		*why = "out of memory";
		return NULL;
	}
	f->e.ops = &file_ops;
	f->aio = aio;
	f->fd = img->fd;
	/* Reads from the page cache are copied at once; never so with O_DIRECT (it would wait). */
	f->cached = !img->direct;
	return &f->e;
}
