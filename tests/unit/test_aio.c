// SPDX-License-Identifier: MIT
/*
 * aio against real files in a temporary directory and a real io_uring:
 * data read back byte for byte, holes that really free blocks, errors as
 * negative errno through the callback, short transfers continued, and more
 * operations than entries.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "daemon/aio.h"
#include "tests/lib/loop_device.h"

#define FILE_SIZE (1024u * 1024u)

static char dir[] = "/tmp/pvring-test-aio-XXXXXX";

struct fixture {
	struct event_base *base;
	struct pvring_aio *aio;
	char path[64];
	int fd;
	/* test_blkdiscard_on_loop_device's, released by teardown even after a failed assertion */
	struct loop_device loop;
	int loop_fd;
};

struct outcome {
	int calls;
	int64_t result;
};

static void record(void *arg, int64_t result)
{
	struct outcome *o = arg;

	o->calls++;
	o->result = result;
}

static uint8_t pattern(uint64_t pos)
{
	return (uint8_t)(pos * 131u + (pos >> 12) * 7u + 1u);
}

static void fill(uint8_t *buf, uint64_t pos, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(pos + i);
}

static int group_setup(void **state)
{
	(void)state;
	/* A hang is a failure, not a stuck CI job. */
	alarm(60);
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

static int fixture_free(struct fixture *f)
{
	int ret = 0;

	if (f->aio)
		pvring_aio_destroy(f->aio);
	if (f->base)
		event_base_free(f->base);
	if (f->loop_fd >= 0)
		close(f->loop_fd);
	if (loop_device_detach(&f->loop))
		ret = -1;
	if (f->fd >= 0)
		close(f->fd);
	if (f->path[0] && unlink(f->path) && errno != ENOENT)
		ret = -1;
	memset(f, 0, sizeof(*f));
	f->fd = f->loop_fd = -1;
	return ret;
}

/* A FILE_SIZE file of pattern(), an event base and an aio with 8 entries. */
static int setup(void **state)
{
	static struct fixture f;
	uint8_t *buf = malloc(FILE_SIZE);
	const char *why = NULL;

	memset(&f, 0, sizeof(f));
	f.fd = f.loop_fd = -1;
	if (!buf)
		return -1;
	fill(buf, 0, FILE_SIZE);
	snprintf(f.path, sizeof(f.path), "%s/image", dir);
	f.fd = open(f.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f.fd < 0 || pwrite(f.fd, buf, FILE_SIZE, 0) != FILE_SIZE || fsync(f.fd) < 0) {
		fprintf(stderr, "# %s: %s\n", f.path, strerror(errno));
		goto fail;
	}
	free(buf);
	buf = NULL;
	f.base = event_base_new();
	if (!f.base) {
		fprintf(stderr, "# event_base_new failed\n");
		goto fail;
	}
	f.aio = pvring_aio_create(f.base, 8, &why);
	if (!f.aio) {
		fprintf(stderr, "# %s\n", why);
		goto fail;
	}
	*state = &f;
	return 0;
fail:
	/* cmocka runs no teardown after a failed setup. */
	free(buf);
	fixture_free(&f);
	return -1;
}

static int teardown(void **state)
{
	return fixture_free(*state);
}

/* Turn the event loop until *calls reaches want. */
static void run_until(struct fixture *f, const int *calls, int want)
{
	while (*calls < want)
		assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE), 0);
}

static void test_write_then_read_back(void **state)
{
	struct fixture *f = *state;
	static uint8_t a[4096], b[512], c[7680], in[12288], r1[1000], r2[11288];
	struct iovec wv[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct iovec rv[2] = { { r1, sizeof(r1) }, { r2, sizeof(r2) } };
	struct outcome w = { 0, 0 }, r = { 0, 0 };
	const uint64_t off = 8192;
	size_t i;

	for (i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)~pattern(i);
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(0x5a ^ i);
	for (i = 0; i < sizeof(c); i++)
		c[i] = (uint8_t)(i * 3u);
	assert_int_equal(pvring_aio_writev(f->aio, f->fd, wv, 3, off, record, &w), 0);
	pvring_aio_submit(f->aio);
	/* Never from inside a queueing call. */
	assert_int_equal(w.calls, 0);
	assert_int_equal(pvring_aio_in_flight(f->aio), 1);
	run_until(f, &w.calls, 1);
	assert_int_equal(w.result, 12288);
	assert_int_equal(pvring_aio_in_flight(f->aio), 0);

	/* What the file holds now, through the page cache... */
	assert_int_equal(pread(f->fd, in, sizeof(in), off), sizeof(in));
	assert_memory_equal(in, a, sizeof(a));
	assert_memory_equal(in + 4096, b, sizeof(b));
	assert_memory_equal(in + 4608, c, sizeof(c));

	/* ...and through aio, split differently. */
	assert_int_equal(pvring_aio_readv(f->aio, f->fd, rv, 2, off, record, &r), 0);
	pvring_aio_submit(f->aio);
	run_until(f, &r.calls, 1);
	assert_int_equal(r.result, 12288);
	assert_memory_equal(r1, in, sizeof(r1));
	assert_memory_equal(r2, in + sizeof(r1), sizeof(r2));
	/* The neighbours are untouched. */
	assert_int_equal(pread(f->fd, in, 4096, off - 4096), 4096);
	assert_int_equal(in[4095], pattern(off - 1));
	assert_int_equal(pread(f->fd, in, 4096, off + 12288), 4096);
	assert_int_equal(in[0], pattern(off + 12288));
	assert_int_equal(w.calls, 1);
	assert_int_equal(r.calls, 1);
}

static void test_fdatasync(void **state)
{
	struct fixture *f = *state;
	struct outcome w = { 0, 0 }, s = { 0, 0 };
	static uint8_t buf[4096];
	struct iovec v = { buf, sizeof(buf) };

	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(pvring_aio_writev(f->aio, f->fd, &v, 1, 0, record, &w), 0);
	pvring_aio_submit(f->aio);
	run_until(f, &w.calls, 1);
	assert_int_equal(w.result, 4096);
	assert_int_equal(pvring_aio_fdatasync(f->aio, f->fd, record, &s), 0);
	pvring_aio_submit(f->aio);
	assert_int_equal(s.calls, 0);
	run_until(f, &s.calls, 1);
	assert_int_equal(s.result, 0);
	assert_int_equal(s.calls, 1);
}

static void test_errors_through_callback(void **state)
{
	struct fixture *f = *state;
	struct outcome o[6];
	static uint8_t buf[4096];
	struct iovec v = { buf, sizeof(buf) };
	int wronly, rdonly, closed;
	int i;

	memset(o, 0, sizeof(o));
	wronly = open(f->path, O_WRONLY | O_CLOEXEC);
	rdonly = open(f->path, O_RDONLY | O_CLOEXEC);
	closed = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(wronly >= 0 && rdonly >= 0 && closed >= 0);
	close(closed);

	/* All of these queue fine: the kernel finds the problem. */
	assert_int_equal(pvring_aio_readv(f->aio, wronly, &v, 1, 0, record, &o[0]), 0);
	assert_int_equal(pvring_aio_writev(f->aio, rdonly, &v, 1, 0, record, &o[1]), 0);
	assert_int_equal(pvring_aio_readv(f->aio, closed, &v, 1, 0, record, &o[2]), 0);
	assert_int_equal(pvring_aio_fdatasync(f->aio, closed, record, &o[3]), 0);
	assert_int_equal(pvring_aio_discard(f->aio, rdonly, 0, 4096, record, &o[4]), 0);
	assert_int_equal(pvring_aio_discard(f->aio, closed, 0, 4096, record, &o[5]), 0);
	pvring_aio_submit(f->aio);
	for (i = 0; i < 6; i++)
		assert_int_equal(o[i].calls, 0);
	pvring_aio_drain(f->aio);
	for (i = 0; i < 6; i++) {
		assert_int_equal(o[i].calls, 1);
		assert_int_equal(o[i].result, -EBADF);
	}
	assert_int_equal(pvring_aio_in_flight(f->aio), 0);
	close(wronly);
	close(rdonly);
}

static void test_refused_at_queueing(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0, 0 };
	static uint8_t buf[512];
	struct iovec v = { buf, sizeof(buf) };
	const char *why = NULL;

	assert_null(pvring_aio_create(f->base, 0, &why));
	assert_non_null(why);
	assert_int_equal(pvring_aio_readv(f->aio, f->fd, &v, 0, 0, record, &o), -EINVAL);
	assert_int_equal(pvring_aio_readv(f->aio, f->fd, &v, 1, UINT64_MAX, record, &o), -EINVAL);
	assert_int_equal(pvring_aio_discard(f->aio, f->fd, 0, 0, record, &o), -EINVAL);
	assert_int_equal(pvring_aio_discard(f->aio, f->fd, INT64_MAX, 4096, record, &o), -EINVAL);
	assert_int_equal(pvring_aio_in_flight(f->aio), 0);
	pvring_aio_submit(f->aio);
	pvring_aio_drain(f->aio);
	assert_int_equal(o.calls, 0);
}

/*
 * A read that crosses the end of the file completes short, and a read past
 * it moves nothing. The data plane reads only inside the disk, so both are
 * -EIO; a read that ends exactly at EOF is whole.
 */
static void test_read_past_eof_is_eio(void **state)
{
	struct fixture *f = *state;
	struct outcome o[3];
	static uint8_t buf[3][8192];
	struct iovec v[3] = { { buf[0], 8192 }, { buf[1], 8192 }, { buf[2], 8192 } };
	int i;

	memset(o, 0, sizeof(o));
	assert_int_equal(pvring_aio_readv(f->aio, f->fd, &v[0], 1, FILE_SIZE - 4096, record, &o[0]),
			 0);
	assert_int_equal(pvring_aio_readv(f->aio, f->fd, &v[1], 1, FILE_SIZE + 4096, record, &o[1]),
			 0);
	assert_int_equal(pvring_aio_readv(f->aio, f->fd, &v[2], 1, FILE_SIZE - 8192, record, &o[2]),
			 0);
	pvring_aio_submit(f->aio);
	run_until(f, &o[2].calls, 1);
	run_until(f, &o[1].calls, 1);
	run_until(f, &o[0].calls, 1);
	assert_int_equal(o[0].result, -EIO);
	assert_int_equal(o[1].result, -EIO);
	assert_int_equal(o[2].result, 8192);
	for (i = 0; i < 8192; i++)
		assert_int_equal(buf[2][i], pattern(FILE_SIZE - 8192 + (unsigned int)i));
	assert_int_equal(pvring_aio_in_flight(f->aio), 0);
}

/*
 * pvring_aio_readv_cached(): a lone page-cached read is copied at the submit, with no CQE to
 * wait for, and called back from the loop (here: the reap), never from inside a call; one that runs
 * off the end of the file copies what is there and fails with -EIO, as io_uring's would; a
 * descriptor with no offsets (a pipe: preadv2 refuses it) goes through io_uring whole.
 */
static void test_cached_read(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[2][8192], piped[300], out[300];
	struct iovec v[3] = { { buf[0], 4096 }, { buf[0] + 4096, 4096 }, { buf[1], 8192 } };
	struct iovec pv = { piped, sizeof(piped) };
	struct outcome o[3];
	int p[2], i;

	memset(o, 0, sizeof(o));
	assert_int_equal(pread(f->fd, buf[1], 8192, 4096), 8192); /* now it is cached */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(pvring_aio_readv_cached(f->aio, f->fd, v, 2, 4096, record, &o[0]), 0);
	pvring_aio_submit(f->aio);
	assert_int_equal(o[0].calls, 0);
	assert_int_equal(pvring_aio_in_flight(f->aio), 1);
	pvring_aio_reap(f->aio);
	assert_int_equal(o[0].calls, 1);
	assert_int_equal(o[0].result, 8192);
	for (i = 0; i < 8192; i++)
		assert_int_equal(buf[0][i], pattern(4096 + (unsigned int)i));
	assert_int_equal(pvring_aio_in_flight(f->aio), 0);

	/* Past the end: 4096 bytes copied, the rest is end of file. */
	assert_int_equal(
		pvring_aio_readv_cached(f->aio, f->fd, &v[2], 1, FILE_SIZE - 4096, record, &o[1]),
		0);
	pvring_aio_submit(f->aio);
	run_until(f, &o[1].calls, 1);
	assert_int_equal(o[1].result, -EIO);
	for (i = 0; i < 4096; i++)
		assert_int_equal(buf[1][i], pattern(FILE_SIZE - 4096 + (unsigned int)i));

	for (i = 0; i < 300; i++)
		out[i] = (uint8_t)(i * 5 + 1);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], out, 100), 100);
	assert_int_equal(pvring_aio_readv_cached(f->aio, p[0], &pv, 1, 0, record, &o[2]), 0);
	pvring_aio_submit(f->aio);
	assert_int_equal(write(p[1], out + 100, 200), 200);
	run_until(f, &o[2].calls, 1);
	assert_int_equal(o[2].result, 300);
	assert_memory_equal(piped, out, sizeof(out));
	close(p[0]);
	close(p[1]);
}

/*
 * A pipe hands out what it has: a short read that is not the end. aio must
 * read on, into the rest of the right iovec, until the whole request is in.
 */
static void test_short_read_is_continued(void **state)
{
	struct fixture *f = *state;
	static uint8_t out[300], a[150], b[150];
	struct iovec v[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct outcome o = { 0, 0 };
	int p[2], i;

	for (i = 0; i < 300; i++)
		out[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], out, 100), 100);
	/* A pipe has no offset; -1 would mean "the current one", 0 is ignored. */
	assert_int_equal(pvring_aio_readv(f->aio, p[0], v, 2, 0, record, &o), 0);
	pvring_aio_submit(f->aio);
	for (i = 0; i < 20; i++)
		assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
	usleep(10000);
	for (i = 0; i < 20; i++)
		assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
	/* 100 of 300 bytes are not a completion. */
	assert_int_equal(o.calls, 0);
	assert_int_equal(pvring_aio_in_flight(f->aio), 1);
	assert_int_equal(write(p[1], out + 100, 100), 100);
	usleep(10000);
	for (i = 0; i < 20; i++)
		assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
	assert_int_equal(o.calls, 0);
	assert_int_equal(write(p[1], out + 200, 100), 100);
	run_until(f, &o.calls, 1);
	assert_int_equal(o.result, 300);
	assert_memory_equal(a, out, 150);
	assert_memory_equal(b, out + 150, 150);

	/* A writer that goes away mid-request ends it with -EIO, not a loop. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(write(p[1], out, 10), 10);
	assert_int_equal(pvring_aio_readv(f->aio, p[0], v, 2, 0, record, &o), 0);
	pvring_aio_submit(f->aio);
	close(p[1]);
	run_until(f, &o.calls, 1);
	assert_int_equal(o.result, -EIO);
	close(p[0]);
}

struct many {
	int calls;
	int bad;
	uint64_t offset;
	uint8_t buf[4096];
	struct iovec v;
};

static void check_many(void *arg, int64_t result)
{
	struct many *m = arg;
	uint64_t i;

	m->calls++;
	if (result != 4096) {
		m->bad++;
		return;
	}
	for (i = 0; i < 4096; i++)
		if (m->buf[i] != pattern(m->offset + i))
			m->bad++;
}

static int total_calls;

static void count_call(void *arg, int64_t result)
{
	check_many(arg, result);
	total_calls++;
}

static void queue_many(struct fixture *f, struct many *m, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		/* Scattered, not sequential: the hot path is random 4 KiB reads. */
		m[i].offset = (uint64_t)((i * 97u) % (FILE_SIZE / 4096)) * 4096u;
		m[i].calls = m[i].bad = 0;
		m[i].v.iov_base = m[i].buf;
		m[i].v.iov_len = sizeof(m[i].buf);
		memset(m[i].buf, 0, sizeof(m[i].buf));
		assert_int_equal(
			pvring_aio_readv(f->aio, f->fd, &m[i].v, 1, m[i].offset, count_call, &m[i]),
			0);
	}
}

static void check_all(const struct many *m, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		assert_int_equal(m[i].calls, 1);
		assert_int_equal(m[i].bad, 0);
	}
}

/* 200 operations on 8 entries: they all queue, none is refused, all complete. */
static void test_more_than_entries(void **state)
{
	struct fixture *f = *state;
	static struct many m[200];

	total_calls = 0;
	queue_many(f, m, 100);
	pvring_aio_submit(f->aio);
	queue_many(f, m + 100, 100);
	assert_int_equal(pvring_aio_in_flight(f->aio), 200);
	pvring_aio_submit(f->aio);
	assert_int_equal(total_calls, 0);
	run_until(f, &total_calls, 200);
	check_all(m, 200);
	assert_int_equal(pvring_aio_in_flight(f->aio), 0);
}

static void test_drain_runs_every_callback(void **state)
{
	struct fixture *f = *state;
	static struct many m[64];

	total_calls = 0;
	queue_many(f, m, 64);
	/* Not even submitted: drain hands them over itself. */
	pvring_aio_drain(f->aio);
	assert_int_equal(total_calls, 64);
	check_all(m, 64);
	assert_int_equal(pvring_aio_in_flight(f->aio), 0);
	/* Nothing is left for the loop. */
	assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
	assert_int_equal(total_calls, 64);
}

/* A callback that queues the next read: the data plane answering and refilling. */
struct chain {
	struct pvring_aio *aio;
	int fd;
	int calls;
	int bad;
	uint8_t buf[512];
	struct iovec v;
};

static void chain_next(void *arg, int64_t result)
{
	struct chain *c = arg;
	uint64_t off = (uint64_t)c->calls * 512u;
	unsigned int i;

	if (result != 512)
		c->bad++;
	for (i = 0; i < 512; i++)
		if (c->buf[i] != pattern(off + i))
			c->bad++;
	c->calls++;
	if (c->calls < 50) {
		if (pvring_aio_readv(c->aio, c->fd, &c->v, 1, (uint64_t)c->calls * 512u, chain_next,
				     c) < 0)
			c->bad++;
		pvring_aio_submit(c->aio);
	}
}

static void test_callback_queues_more(void **state)
{
	struct fixture *f = *state;
	static struct chain c;

	c.aio = f->aio;
	c.fd = f->fd;
	c.calls = c.bad = 0;
	c.v.iov_base = c.buf;
	c.v.iov_len = sizeof(c.buf);
	assert_int_equal(pvring_aio_readv(f->aio, f->fd, &c.v, 1, 0, chain_next, &c), 0);
	pvring_aio_submit(f->aio);
	run_until(f, &c.calls, 50);
	assert_int_equal(c.bad, 0);
	assert_int_equal(pvring_aio_in_flight(f->aio), 0);
}

static void test_discard_punches_a_hole(void **state)
{
	struct fixture *f = *state;
	const uint64_t off = 256 * 1024, len = 512 * 1024;
	struct outcome o = { 0, 0 };
	static uint8_t buf[FILE_SIZE];
	struct stat before, after;
	uint64_t i;

	assert_int_equal(fstat(f->fd, &before), 0);
	assert_int_equal(pvring_aio_discard(f->aio, f->fd, off, len, record, &o), 0);
	pvring_aio_submit(f->aio);
	assert_int_equal(o.calls, 0);
	run_until(f, &o.calls, 1);
	if (o.result == -EOPNOTSUPP)
		skip(); /* a file system without holes: nothing to check */
	assert_int_equal(o.result, 0);
	assert_int_equal(fstat(f->fd, &after), 0);
	/* st_blocks counts 512-byte units whatever the file system's block is. */
	assert_true(after.st_blocks <= before.st_blocks - (blkcnt_t)(len / 512));
	assert_int_equal(after.st_size, FILE_SIZE);
	assert_int_equal(pread(f->fd, buf, FILE_SIZE, 0), FILE_SIZE);
	for (i = 0; i < FILE_SIZE; i++) {
		if (i >= off && i < off + len)
			assert_int_equal(buf[i], 0);
		else
			assert_int_equal(buf[i], pattern(i));
	}
}

/*
 * BLKDISCARD on a loop device over a file in our directory: the loop driver
 * punches the backing file, so the blocks really go. Only where a loop
 * device can be attached (root, loop devices present); skipped otherwise.
 */
static void test_blkdiscard_on_loop_device(void **state)
{
	struct fixture *f = *state;
	const uint64_t off = 256 * 1024, len = 512 * 1024;
	struct outcome o = { 0, 0 };
	static uint8_t buf[FILE_SIZE];
	struct stat before, after;
	char no_loop[256];
	uint64_t i;
	int fd;

	if (loop_device_attach(&f->loop, f->path, no_loop, sizeof(no_loop))) {
		fprintf(stderr, "# %s\n", no_loop);
		skip();
	}
	fd = f->loop_fd = open(f->loop.path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(f->fd, &before), 0);
	assert_int_equal(pvring_aio_discard(f->aio, fd, off, len, record, &o), 0);
	pvring_aio_submit(f->aio);
	/* Synchronous underneath, but the callback still waits for the loop. */
	assert_int_equal(o.calls, 0);
	run_until(f, &o.calls, 1);
	assert_int_equal(o.result, 0);
	assert_int_equal(pread(fd, buf, FILE_SIZE, 0), FILE_SIZE);

	/* A range the device cannot take (not sector-aligned) fails through the callback. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(pvring_aio_discard(f->aio, fd, 100, 512, record, &o), 0);
	pvring_aio_submit(f->aio);
	assert_int_equal(o.calls, 0);
	run_until(f, &o.calls, 1);
	assert_int_equal(o.result, -EINVAL);
	f->loop_fd = -1;
	assert_int_equal(close(fd), 0);
	assert_int_equal(loop_device_detach(&f->loop), 0);
	for (i = 0; i < FILE_SIZE; i++) {
		if (i >= off && i < off + len)
			assert_int_equal(buf[i], 0);
		else
			assert_int_equal(buf[i], pattern(i));
	}
	assert_int_equal(fstat(f->fd, &after), 0);
	assert_true(after.st_blocks <= before.st_blocks - (blkcnt_t)(len / 512));
	assert_int_equal(after.st_size, FILE_SIZE);
}

static int destroyed_calls;

static void count_destroyed(void *arg, int64_t result)
{
	(void)arg;
	if (result == 4096)
		destroyed_calls++;
}

/* Teardown must not lose an acknowledged write: destroy waits for them. */
static void test_destroy_waits(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[32][4096], in[4096];
	struct iovec v[32];
	struct pvring_aio *aio;
	const char *why = NULL;
	int i;

	aio = pvring_aio_create(f->base, 4, &why);
	assert_non_null(aio);
	destroyed_calls = 0;
	for (i = 0; i < 32; i++) {
		memset(buf[i], i + 1, sizeof(buf[i]));
		v[i].iov_base = buf[i];
		v[i].iov_len = sizeof(buf[i]);
		assert_int_equal(pvring_aio_writev(aio, f->fd, &v[i], 1, (uint64_t)i * 4096u,
						   count_destroyed, NULL),
				 0);
	}
	pvring_aio_submit(aio);
	pvring_aio_destroy(aio);
	assert_int_equal(destroyed_calls, 32);
	for (i = 0; i < 32; i++) {
		assert_int_equal(pread(f->fd, in, sizeof(in), (off_t)i * 4096), sizeof(in));
		assert_memory_equal(in, buf[i], sizeof(in));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_then_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fdatasync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cached_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_through_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_at_queueing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_past_eof_is_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_read_is_continued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_than_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_runs_every_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_queues_more, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_punches_a_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkdiscard_on_loop_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_waits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
