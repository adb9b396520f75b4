// SPDX-License-Identifier: MIT
/*
 * pvringd as a real process on the local platform: pvring-stored and pvringd
 * run as programs, started as systemd would (ready on READY=1), and this
 * process is their guest, through the same userspace frontend library as
 * pvring-io.
 *
 * Service: data written, the daemon stopped cleanly and started again, the
 * data read back identical; several queues; multi-page rings; indirect
 * requests; flush and barrier; discard; a read-only image.
 *
 * Bad input, each its own test: a garbage ring ref, an ungranted ring ref, an
 * ungranted segment, a read-only grant as a read destination, sectors past
 * the end, an unknown op code, a producer index far ahead, a frontend that
 * dies with I/O in flight. Each gets an error response or a disconnect with a
 * logged reason, while a second frontend on another disk keeps doing verified
 * I/O throughout, and pvringd keeps running.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <xenstore.h>

#include "common/proto/pvring_blkif.h"
#include "daemon/pvringd.h"
#include "tests/lib/daemon_process.h"
#include "tests/lib/loop_device.h"
#include "tools/ctl_client.h"
#include "tools/front/local_front.h"

#define DISK_BYTES (16u << 20)
#define RO_BYTES (1u << 20)
#define SECTORS_PER_PAGE 8u

struct peer {
	pthread_t thread;
	struct pvring_local_front front;
	atomic_bool stop;
	atomic_ulong rounds;
	int error;
	char why[256];
};

struct fixture {
	struct daemon_process dp;
	char d0[96], d1[96], ro[96], dd[96], blk_img[96];
	char d0_name[256]; /* an engine's image made from d0 (d0_hook), or "" */
	struct loop_device blk; /* over blk_img, for test_block_device where there is one */
	char blk_why[256]; /* why there is none */
	char disk_args[5][320];
	struct peer peer;
	bool peer_running;
};

/* ---- data patterns ---- */

static uint64_t pattern_word(uint64_t sector, uint64_t seed, uint32_t i)
{
	uint64_t x = (sector << 20) ^ (seed * 0x9e3779b97f4a7c15ull) ^ i;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static void fill_sector(void *buf, uint64_t sector, uint64_t seed)
{
	uint64_t *w = buf;
	uint32_t i;

	for (i = 0; i < 512 / 8; i++)
		w[i] = pattern_word(sector, seed, i);
}

static bool sector_matches(const void *buf, uint64_t sector, uint64_t seed)
{
	uint64_t expect[64];

	fill_sector(expect, sector, seed);
	return !memcmp(buf, expect, 512);
}

/* ---- the fixture: store + pvringd with three disks ---- */

/*
 * d0 can be an engine's image rather than a file (tests/integration/remote-images.sh runs these
 * tests so): PVRING_TEST_D0_LOAD makes one from a file and prints its name, and
 * PVRING_TEST_D0_SAVE copies it into a file (shell commands: the file as $1, the name as $2).
 * Without them d0 is the file itself. 0, or -1 with the reason on stderr.
 */
static int d0_hook(struct fixture *f, const char *env)
{
	const char *cmd = getenv(env);
	bool load = !strcmp(env, "PVRING_TEST_D0_LOAD");
	int out[2], st;
	ssize_t n = 0;
	pid_t pid;

	if (!cmd)
		return 0;
	if (pipe(out))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execl("/bin/sh", "sh", "-c", cmd, "sh", f->d0, f->d0_name, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	if (load && pid > 0) {
		n = read(out[0], f->d0_name, sizeof(f->d0_name) - 1);
		f->d0_name[n > 0 ? n : 0] = '\0';
		f->d0_name[strcspn(f->d0_name, "\n")] = '\0';
	}
	close(out[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) ||
	    (load && !f->d0_name[0])) {
		fprintf(stderr, "%s (%s %s) failed\n", env, cmd, f->d0);
		return -1;
	}
	return 0;
}

static int make_image(const char *path, size_t bytes, uint64_t seed)
{
	char *buf = malloc(bytes);
	int fd, ret = 0;
	size_t s;

	if (!buf)
		return -1;
	for (s = 0; s < bytes / 512; s++)
		fill_sector(buf + s * 512, s, seed);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, bytes) != (ssize_t)bytes)
		ret = -1;
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

static int start_daemon(struct fixture *f)
{
	/* More queues than this machine may have CPUs: the negotiation is what is tested. */
	const char *args[16] = { "--max-queues", "4" };
	unsigned int n = 2, i;

	for (i = 0; i < 5; i++) {
		if (!f->disk_args[i][0])
			continue;
		args[n++] = "--disk";
		args[n++] = f->disk_args[i];
	}
	args[n] = NULL;
	return daemon_process_start(&f->dp, args);
}

static bool peer_halt(struct fixture *f);

/* Everything the fixture holds, whatever state setup or a test left it in; 0 if all went well. */
static int fixture_free(struct fixture *f)
{
	int ret = 0, st;

	if (!f)
		return 0;
	if (f->peer_running && !peer_halt(f))
		ret = -1;
	if (f->dp.pid) {
		st = daemon_process_stop(&f->dp);
		if (st) {
			fprintf(stderr, "pvringd did not stop cleanly (%d)\n", st);
			ret = -1;
		}
	}
	if ((ret || getenv("PVRING_TEST_SHOW_LOG")) && f->dp.log[0]) {
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "tail -n 40 %s >&2", f->dp.log);
		if (system(cmd))
			fprintf(stderr, "(no log)\n");
	}
	/* pvringd had it open: detach once it is gone, before its backing file goes. */
	if (loop_device_detach(&f->blk))
		ret = -1;
	if (daemon_process_destroy(&f->dp))
		ret = -1;
	free(f);
	return ret;
}

/*
 * The store, three image files in its directory, and pvringd serving them;
 * with block_device, a loop device over a fourth image as a fifth disk where
 * there is one. cmocka runs no teardown after a failed setup: a failure here
 * frees everything itself.
 */
static int setup_fixture(void **state, bool block_device)
{
	struct fixture *f = calloc(1, sizeof(*f));

	*state = NULL;
	if (!f)
		return -1;
	/* The store first, so the images can live in its directory. */
	if (daemon_process_init(&f->dp))
		goto fail;
	daemon_process_path(&f->dp, "d0.img", f->d0, sizeof(f->d0));
	daemon_process_path(&f->dp, "d1.img", f->d1, sizeof(f->d1));
	daemon_process_path(&f->dp, "ro.img", f->ro, sizeof(f->ro));
	daemon_process_path(&f->dp, "dd.img", f->dd, sizeof(f->dd));
	daemon_process_path(&f->dp, "blk.img", f->blk_img, sizeof(f->blk_img));
	if (make_image(f->d0, DISK_BYTES, 1) || make_image(f->d1, DISK_BYTES, 2) ||
	    make_image(f->ro, RO_BYTES, 3) || make_image(f->dd, RO_BYTES, 4))
		goto fail;
	if (d0_hook(f, "PVRING_TEST_D0_LOAD"))
		goto fail;
	snprintf(f->disk_args[0], sizeof(f->disk_args[0]), "d0=%s",
		 f->d0_name[0] ? f->d0_name : f->d0);
	snprintf(f->disk_args[1], sizeof(f->disk_args[1]), "d1=%s", f->d1);
	snprintf(f->disk_args[2], sizeof(f->disk_args[2]), "ro=%s,ro", f->ro);
	snprintf(f->disk_args[3], sizeof(f->disk_args[3]), "dd=%s,direct", f->dd);
	if (block_device) {
		if (make_image(f->blk_img, RO_BYTES, 5))
			goto fail;
		if (!loop_device_attach(&f->blk, f->blk_img, f->blk_why, sizeof(f->blk_why)))
			snprintf(f->disk_args[4], sizeof(f->disk_args[4]), "blk=%s", f->blk.path);
	}
	if (start_daemon(f))
		goto fail;
	*state = f;
	return 0;
fail:
	fixture_free(f);
	return -1;
}

static int setup(void **state)
{
	return setup_fixture(state, false);
}

static int setup_block_device(void **state)
{
	return setup_fixture(state, true);
}

static int teardown(void **state)
{
	return fixture_free(*state) ? -1 : 0;
}

/* ---- frontend helpers ---- */

static int front_up(struct fixture *f, struct pvring_local_front *front, const char *disk,
		    unsigned int queues, unsigned int order, unsigned int max_segments,
		    int (*hook)(struct pvring_local_front *, xs_transaction_t, void *))
{
	struct pvring_local_front_opts opts;
	int err;

	pvring_local_front_opts_init(&opts);
	opts.rundir = f->dp.rundir;
	opts.disk = disk;
	opts.queues = queues;
	opts.ring_order = order;
	opts.max_segments = max_segments;
	opts.data_pages = 256;
	opts.spare_frames = 4;
	opts.timeout_ms = 10000;
	opts.before_initialised = hook;
	err = pvring_local_front_open(front, &opts);
	if (!err)
		err = pvring_local_front_connect(front);
	return err;
}

/* One request, waited for; its status, or a negative errno from the library. */
static int do_io(struct pvring_local_front *front, unsigned int q, uint8_t op, uint64_t sector,
		 uint32_t nr_sectors, const uint32_t *pages)
{
	struct pvring_local_front_io io = { .op = op,
					    .sector = sector,
					    .nr_sectors = nr_sectors,
					    .pages = pages,
					    .cookie = 0x5eed };
	struct pvring_local_front_completion done;
	int n;

	n = pvring_local_front_submit(front, q, &io);
	if (n < 0)
		return n;
	n = pvring_local_front_poll(front, q, &done, 1, true);
	if (n < 0)
		return n;
	if (n != 1 || done.cookie != 0x5eed)
		return -EPROTO;
	return done.status;
}

/* Write npages pages of pattern from sector, then read them back into other pages and compare. */
static int write_verify(struct pvring_local_front *front, unsigned int q, uint64_t sector,
			uint32_t npages, uint64_t seed, char *why, size_t why_len)
{
	uint32_t pages[64], i, s;
	int st;

	for (i = 0; i < npages; i++) {
		pages[i] = i;
		for (s = 0; s < SECTORS_PER_PAGE; s++)
			fill_sector((uint8_t *)pvring_local_front_data(front, q, i) + s * 512,
				    sector + i * SECTORS_PER_PAGE + s, seed);
	}
	st = do_io(front, q, PVRING_BLKIF_OP_WRITE, sector, npages * SECTORS_PER_PAGE, pages);
	if (st) {
		snprintf(why, why_len, "write at %llu: status %d (%s)", (unsigned long long)sector,
			 st, pvring_local_front_error(front));
		return -1;
	}
	for (i = 0; i < npages; i++) {
		pages[i] = 64 + i;
		memset(pvring_local_front_data(front, q, 64 + i), 0xa5, 4096);
	}
	st = do_io(front, q, PVRING_BLKIF_OP_READ, sector, npages * SECTORS_PER_PAGE, pages);
	if (st) {
		snprintf(why, why_len, "read at %llu: status %d (%s)", (unsigned long long)sector,
			 st, pvring_local_front_error(front));
		return -1;
	}
	for (i = 0; i < npages; i++) {
		for (s = 0; s < SECTORS_PER_PAGE; s++) {
			uint64_t at = sector + i * SECTORS_PER_PAGE + s;

			if (!sector_matches((uint8_t *)pvring_local_front_data(front, q, 64 + i) +
						    s * 512,
					    at, seed)) {
				snprintf(why, why_len, "sector %llu read back wrong",
					 (unsigned long long)at);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- the second frontend, doing verified I/O on d1 the whole time ---- */

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	unsigned long round;

	for (round = 0; !atomic_load(&p->stop); round++) {
		if (write_verify(&p->front, 0, (round % 64) * 64, 8, round, p->why,
				 sizeof(p->why))) {
			p->error = 1;
			break;
		}
		atomic_store(&p->rounds, round + 1);
	}
	return NULL;
}

static void peer_start(struct fixture *f)
{
	unsigned int connected = daemon_process_log_count(&f->dp, "-> Connected"), waited = 0;

	assert_int_equal(front_up(f, &f->peer.front, "d1", 1, 0, 11, NULL), 0);
	/*
	 * pvringd writes Connected to the store before it logs it: the peer can be up with the
	 * line still on its way, and a test counting Connected lines would count it as its own.
	 */
	while (daemon_process_log_count(&f->dp, "-> Connected") == connected && waited < 10000) {
		usleep(10000);
		waited += 10;
	}
	assert_int_equal(daemon_process_log_count(&f->dp, "-> Connected"), connected + 1);
	assert_int_equal(pthread_create(&f->peer.thread, NULL, peer_main, &f->peer), 0);
	f->peer_running = true;
}

/* Whether the peer makes 3 more rounds without failing (waiting at most 10 s). */
static bool peer_progresses(struct fixture *f)
{
	unsigned long start = atomic_load(&f->peer.rounds);
	unsigned int waited = 0;

	while (atomic_load(&f->peer.rounds) < start + 3 && !f->peer.error && waited < 10000) {
		usleep(10000);
		waited += 10;
	}
	return !f->peer.error && atomic_load(&f->peer.rounds) >= start + 3;
}

/* The peer made progress after the misbehaviour was dealt with, and never failed. */
static void peer_check(struct fixture *f)
{
	assert_true(peer_progresses(f));
	assert_true(daemon_process_alive(&f->dp));
}

/* Stop the peer and close its frontend; whether it never failed. Asserts nothing. */
static bool peer_halt(struct fixture *f)
{
	bool ok = true;

	atomic_store(&f->peer.stop, true);
	pthread_join(f->peer.thread, NULL);
	f->peer_running = false;
	if (f->peer.error) {
		fprintf(stderr, "peer: %s\n", f->peer.why);
		ok = false;
	}
	if (pvring_local_front_close(&f->peer.front)) {
		fprintf(stderr, "peer: closing its frontend failed\n");
		ok = false;
	}
	return ok;
}

static void peer_stop(struct fixture *f)
{
	assert_true(peer_halt(f));
}

/* ---- raw requests, as a misbehaving frontend builds them ---- */

static int16_t raw_request(struct pvring_local_front *front, const union pvring_blkif_request *req)
{
	struct pvring_front *ring = pvring_local_front_ring(front, 0);
	const struct pvring_local_front_queue *q = pvring_local_front_stats(front, 0);
	struct pvring_blkif_response rsp;
	unsigned int waited;

	assert_true(pvring_front_produce(ring, req));
	if (pvring_front_push(ring))
		assert_int_equal(pvring_local_front_kick(front, 0), 0);
	for (waited = 0; waited < 10000; waited += 10) {
		struct pollfd p = { .fd = q->port.kick_front, .events = POLLIN };

		if (pvring_front_consume(ring, &rsp)) {
			assert_int_equal(rsp.id, req->rw.id);
			return rsp.status;
		}
		if (!pvring_front_final_check(ring))
			poll(&p, 1, 10);
		pvring_local_guest_port_ack(&q->port);
	}
	fail_msg("no response to a raw request in 10 s");
	return 0;
}

static union pvring_blkif_request raw_rw(uint8_t op, uint64_t sector, uint32_t gref)
{
	union pvring_blkif_request req;

	memset(&req, 0, sizeof(req));
	req.rw.op = op;
	req.rw.nr_segments = 1;
	req.rw.id = 0xbad0 + op;
	req.rw.sector = sector;
	req.rw.seg[0].gref = gref;
	req.rw.seg[0].first_sect = 0;
	req.rw.seg[0].last_sect = 7;
	return req;
}

static char *backend_key(struct pvring_local_front *front, const char *key)
{
	unsigned int waited;
	char *v = NULL;

	for (waited = 0; waited < 5000 && !v; waited += 20) {
		v = pvring_local_front_read_backend(front, key);
		if (!v)
			usleep(20000);
	}
	return v;
}

/* A key as dom0 reads it (the front end's view ends with its domain); NULL if absent. */
static char *store_read_dom0(struct fixture *f, const char *path)
{
	char socket[PATH_MAX], *old = getenv("XENSTORED_PATH"), *saved = old ? strdup(old) : NULL;
	struct xs_handle *h;
	char *v = NULL;

	snprintf(socket, sizeof(socket), "%s/socket", f->dp.store.rundir);
	setenv("XENSTORED_PATH", socket, 1);
	h = xs_open(XS_OPEN_SOCKETONLY);
	if (saved)
		setenv("XENSTORED_PATH", saved, 1);
	else
		unsetenv("XENSTORED_PATH");
	free(saved);
	if (h) {
		v = xs_read(h, XBT_NULL, path, NULL);
		xs_close(h);
	}
	return v;
}

/* Whether the back end went Closing or Closed within 5 s. */
static bool backend_closed(struct pvring_local_front *front)
{
	unsigned int waited;

	for (waited = 0; waited < 5000; waited += 20) {
		char *state = pvring_local_front_read_backend(front, "state");
		bool closed = state && (!strcmp(state, "5") || !strcmp(state, "6"));

		free(state);
		if (closed)
			return true;
		usleep(20000);
	}
	return false;
}

/* ---- service ---- */

static void test_write_restart_read(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	uint32_t pages[32], i, s;
	char why[256];

	assert_int_equal(front_up(f, &front, "d0", 2, 1, 32, NULL), 0);
	for (i = 0; i < 32; i++) {
		pages[i] = i;
		for (s = 0; s < SECTORS_PER_PAGE; s++)
			fill_sector((uint8_t *)pvring_local_front_data(&front, 1, i) + s * 512,
				    4096 + i * SECTORS_PER_PAGE + s, 77);
	}
	assert_int_equal(
		do_io(&front, 1, PVRING_BLKIF_OP_WRITE, 4096, 32 * SECTORS_PER_PAGE, pages), 0);
	assert_int_equal(write_verify(&front, 0, 0, 8, 78, why, sizeof(why)), 0);
	assert_int_equal(pvring_local_front_close(&front), 0);

	assert_int_equal(daemon_process_stop(&f->dp), 0);
	assert_true(daemon_process_log_has(&f->dp, "stopped cleanly", 0));
	assert_int_equal(start_daemon(f), 0);

	assert_int_equal(front_up(f, &front, "d0", 1, 0, 32, NULL), 0);
	for (i = 0; i < 32; i++)
		memset(pvring_local_front_data(&front, 0, i), 0, 4096);
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_READ, 4096, 32 * SECTORS_PER_PAGE, pages),
			 0);
	for (i = 0; i < 32; i++)
		for (s = 0; s < SECTORS_PER_PAGE; s++)
			assert_true(sector_matches(
				(uint8_t *)pvring_local_front_data(&front, 0, i) + s * 512,
				4096 + i * SECTORS_PER_PAGE + s, 77));
	assert_int_equal(pvring_local_front_close(&front), 0);
}

/*
 * pvringd stopped (SIGTERM) with a guest connected: what it acknowledged is on disk, the ring
 * stays Connected, and the guest lives on (its domain is the local hypervisor's, in
 * pvring-stored). The next pvringd serves the same rings on: the guest goes on with no
 * reconnect and no error.
 */
static void test_stop_with_guest_connected(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	uint32_t pages[11], i, s;
	uint8_t sector[512];
	char why[256], *backend_state, *home;
	int fd;

	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	for (i = 0; i < 11; i++) {
		pages[i] = i;
		for (s = 0; s < SECTORS_PER_PAGE; s++)
			fill_sector((uint8_t *)pvring_local_front_data(&front, 0, i) + s * 512,
				    2048 + i * SECTORS_PER_PAGE + s, 55);
	}
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_WRITE, 2048, 88, pages), 0);
	assert_int_equal(daemon_process_stop(&f->dp), 0);
	/* The store still says Connected: the next pvringd serves the ring on. */
	backend_state = store_read_dom0(f, PVRINGD_BACKEND_ROOT "/1/51712/state");
	assert_non_null(backend_state);
	assert_string_equal(backend_state, "4");
	free(backend_state);
	assert_false(daemon_process_log_has(&f->dp, "-> Closing", 0));
	/* The guest is still there: its domain does not end with pvringd. */
	home = store_read_dom0(f, "/local/domain/1");
	assert_non_null(home);
	free(home);

	/* Acknowledged is on disk: read the image itself. */
	assert_int_equal(d0_hook(f, "PVRING_TEST_D0_SAVE"), 0);
	fd = open(f->d0, O_RDONLY);
	assert_true(fd >= 0);
	for (s = 0; s < 88; s++) {
		assert_int_equal(pread(fd, sector, 512, (2048 + s) * 512), 512);
		assert_true(sector_matches(sector, 2048 + s, 55));
	}
	close(fd);

	assert_int_equal(start_daemon(f), 0);
	/* A clean stop answered everything: nothing owed, the ring resumed where it was. */
	assert_true(daemon_process_log_has(&f->dp, "resumed at", 5000));
	/* The same guest, the same ring: no reconnect. */
	assert_int_equal(write_verify(&front, 0, 0, 8, 56, why, sizeof(why)), 0);
	assert_int_equal(write_verify(&front, 0, 2048, 11, 57, why, sizeof(why)), 0);
	assert_int_equal(pvring_local_front_close(&front), 0);
}

/*
 * pvringd killed (kill -9) with requests in flight: the next pvringd answers every one of
 * them (re-issued from its in-flight journal), each with success, and the guest, which never
 * saw an error, goes on. What was acknowledged reads back.
 */
static void test_kill_with_requests_in_flight(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	struct pvring_local_front_completion done[32];
	uint32_t pages[4][8], i, p, s, answered = 0;
	char why[256];
	int n, status;

	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	/* Four writes of 8 pages each, every page its own, so each can be read back. */
	for (i = 0; i < 4; i++)
		for (p = 0; p < 8; p++) {
			pages[i][p] = i * 8 + p;
			for (s = 0; s < SECTORS_PER_PAGE; s++)
				fill_sector(
					(uint8_t *)pvring_local_front_data(&front, 0, i * 8 + p) +
						s * 512,
					4096 + (i * 8 + p) * SECTORS_PER_PAGE + s, 77);
		}
	for (i = 0; i < 4; i++) {
		struct pvring_local_front_io io = { .op = PVRING_BLKIF_OP_WRITE,
						    .sector = 4096 + i * 8 * SECTORS_PER_PAGE,
						    .nr_sectors = 8 * SECTORS_PER_PAGE,
						    .pages = pages[i],
						    .cookie = i };

		assert_true(pvring_local_front_submit(&front, 0, &io) >= 0);
	}
	pvring_local_front_flush(&front, 0);
	/* Killed as it serves them: some consumed, some maybe answered, some not seen yet. */
	assert_int_equal(kill(f->dp.pid, SIGKILL), 0);
	assert_int_equal(waitpid(f->dp.pid, &status, 0), f->dp.pid);
	assert_true(WIFSIGNALED(status));
	f->dp.pid = 0;
	assert_int_equal(start_daemon(f), 0);
	while (answered < 4) {
		n = pvring_local_front_poll(&front, 0, done, 32, true);
		assert_true(n > 0);
		for (i = 0; i < (uint32_t)n; i++)
			assert_int_equal(done[i].status, 0);
		answered += (uint32_t)n;
	}
	assert_int_equal(answered, 4);
	/*
	 * Resumed from the journal, whether it owed any: the killed pvringd may have answered all
	 * four before the kill, and then the answers are read before the next one has logged.
	 */
	assert_true(daemon_process_log_has(&f->dp, "ring 0: resumed at request", 5000));
	/* Read back what the four wrote, through the same ring. */
	for (i = 0; i < 4; i++) {
		uint32_t back[8];

		for (p = 0; p < 8; p++) {
			back[p] = 32 + p;
			memset(pvring_local_front_data(&front, 0, 32 + p), 0, 4096);
		}
		assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_READ,
				       4096 + i * 8 * SECTORS_PER_PAGE, 8 * SECTORS_PER_PAGE, back),
				 0);
		for (p = 0; p < 8; p++)
			for (s = 0; s < SECTORS_PER_PAGE; s++)
				assert_true(sector_matches(
					(uint8_t *)pvring_local_front_data(&front, 0, 32 + p) +
						s * 512,
					4096 + (i * 8 + p) * SECTORS_PER_PAGE + s, 77));
	}
	assert_int_equal(write_verify(&front, 0, 0, 8, 78, why, sizeof(why)), 0);
	assert_int_equal(pvring_local_front_close(&front), 0);
}

/*
 * One control-socket command, as pvringctl sends it; 0 if pvringd said ok. Its reply goes to
 * *reply_out (the caller puts it) when that is not NULL.
 */
static int ctl_call(struct fixture *f, const char *cmd, const char *device,
		    struct json_object **reply_out)
{
	struct json_object *req = json_object_new_object(), *reply = NULL;
	struct pvring_ctl_client *c;
	char path[PATH_MAX], err[256];
	enum pvring_ctl_status st;

	snprintf(path, sizeof(path), "%s/pvringd.sock", f->dp.rundir);
	c = pvring_ctl_client_connect(path, err, sizeof(err));
	if (!c || !req) {
		json_object_put(req);
		return -1;
	}
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "device", json_object_new_string(device));
	st = pvring_ctl_client_call(c, req, 5000, &reply, err, sizeof(err));
	json_object_put(req);
	if (reply_out && st == PVRING_CTL_OK)
		*reply_out = reply;
	else
		json_object_put(reply);
	pvring_ctl_client_close(c);
	return st == PVRING_CTL_OK ? 0 : -1;
}

static int ctl_command(struct fixture *f, const char *cmd, const char *device)
{
	return ctl_call(f, cmd, device, NULL);
}

/* What `show` says of ring q's key (an integer); -1 if it says nothing. */
static int64_t ring_field(struct fixture *f, const char *device, unsigned int q, const char *key)
{
	struct json_object *reply = NULL, *dev, *rings, *ring, *v;
	int64_t n = -1;

	if (ctl_call(f, "show", device, &reply))
		return -1;
	if (json_object_object_get_ex(reply, "device", &dev) &&
	    json_object_object_get_ex(dev, "rings", &rings) &&
	    (ring = json_object_array_get_idx(rings, q)) &&
	    json_object_object_get_ex(ring, key, &v) && json_object_is_type(v, json_type_int))
		n = json_object_get_int64(v);
	json_object_put(reply);
	return n;
}

/*
 * Detach asks the front end to let go (Closing) and serves it until it does;
 * one that never does is cut off after the timeout, and the device removed.
 */
static void test_detach_front_end_never_lets_go(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	char *backend_state;
	unsigned int waited;

	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	assert_int_equal(ctl_command(f, "detach", "1/51712"), 0);
	/* Still served while it has not let go: Closing, rings up. */
	backend_state = store_read_dom0(f, PVRINGD_BACKEND_ROOT "/1/51712/state");
	assert_non_null(backend_state);
	assert_string_equal(backend_state, "5");
	free(backend_state);
	assert_false(daemon_process_log_has(&f->dp, "1/51712: removed", 0));
	/* This front end never looks: after 10 s pvringd cuts it off and removes the device. */
	assert_true(
		daemon_process_log_has(&f->dp, "the front end did not let go within 10 s", 20000));
	for (waited = 0; waited < 5000; waited += 50) {
		backend_state = store_read_dom0(f, PVRINGD_BACKEND_ROOT "/1/51712/state");
		if (!backend_state)
			break;
		free(backend_state);
		usleep(50000);
	}
	assert_true(waited < 5000);
	assert_true(daemon_process_log_has(&f->dp, "1/51712: removed", 0));
	pvring_local_front_close(&front);
}

static void test_multi_queue_multi_page(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	char why[256];
	unsigned int q;

	assert_int_equal(front_up(f, &front, "d0", 4, 2, 11, NULL), 0);
	assert_int_equal(front.nr_queues, 4);
	assert_int_equal(front.ring_order, 2);
	assert_int_equal(pvring_front_nr_slots(pvring_local_front_ring(&front, 3)), 128);
	for (q = 0; q < 4; q++) {
		if (write_verify(&front, q, q * 1024, 11, q, why, sizeof(why)))
			fail_msg("queue %u: %s", q, why);
	}
	assert_true(daemon_process_log_has(&f->dp, "Connected: 4 queues of order 2", 1000));
	assert_int_equal(pvring_local_front_close(&front), 0);
}

static void test_indirect(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	char why[256];

	assert_int_equal(front_up(f, &front, "d0", 1, 0, 64, NULL), 0);
	assert_true(front.backend.max_indirect_segments >= 64);
	assert_int_equal(front.max_segments, 64);
	/* 64 pages in one request: only the indirect format carries that many. */
	if (write_verify(&front, 0, 8192, 64, 5, why, sizeof(why)))
		fail_msg("%s", why);
	assert_int_equal(pvring_local_front_close(&front), 0);
}

/*
 * A front end that grants more pages than pvringd keeps: the table of persistent grants grows
 * as pages are first used (moving every mapping it holds), stops at blkback's 1056, and the
 * pages past that are mapped per request. Every byte reads back as written, the early pages
 * again after the table has moved, and closing unmaps each grant once.
 */
static void test_persistent_grants_grow_to_limit(void **state)
{
	enum { PAGES = 1200, CHUNK = 40 };
	struct fixture *f = *state;
	struct pvring_local_front_opts opts;
	struct pvring_local_front front;
	uint32_t pages[CHUNK], first, i, s, mapped = 0;
	int64_t kept = 0, prev = 0;

	pvring_local_front_opts_init(&opts);
	opts.rundir = f->dp.rundir;
	opts.disk = "d0";
	opts.max_segments = CHUNK;
	opts.data_pages = PAGES;
	assert_int_equal(pvring_local_front_open(&front, &opts), 0);
	assert_int_equal(pvring_local_front_connect(&front), 0);
	assert_true(front.persistent);
	for (first = 0; first < PAGES; first += CHUNK) {
		for (i = 0; i < CHUNK; i++) {
			uint8_t *data = pvring_local_front_data(&front, 0, first + i);

			pages[i] = first + i;
			for (s = 0; s < SECTORS_PER_PAGE; s++)
				fill_sector(data + s * 512, (first + i) * SECTORS_PER_PAGE + s, 81);
		}
		assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_WRITE, first * SECTORS_PER_PAGE,
				       CHUNK * SECTORS_PER_PAGE, pages),
				 0);
		kept = ring_field(f, "1/51712", 0, "persistent_grants");
		/* Each chunk's pages are new to pvringd: it keeps them until it has 1056. */
		assert_true(kept >= (prev + CHUNK < 1056 ? prev + CHUNK : 1056));
		assert_true(kept <= 1056);
		prev = kept;
	}
	assert_int_equal(kept, 1056);
	/*
	 * Kept are the first 1056 grants pvringd saw, the indirect pages' among them: their
	 * grants stay mapped, and the guest cannot end them. Every other data page was mapped for
	 * its request alone and unmapped before the response: its grant ends (and is made again).
	 */
	for (i = 0; i < PAGES + front.queues[0].nr_tags * front.indirect_per_tag; i++) {
		bool data = i < PAGES;
		uint32_t frame = data ? front.queues[0].data_frame + i
				      : front.queues[0].indirect_frame + i - PAGES;
		uint32_t ref = pvring_local_front_frame_ref(&front, frame);
		int ended = pvring_local_front_end_grant(&front, ref);

		if (ended == -EBUSY) {
			/* The data pages kept are the first ones written. */
			assert_true(!data || mapped == i);
			mapped++;
			continue;
		}
		assert_int_equal(ended, 0);
		assert_int_equal(pvring_local_front_grant(&front, ref, frame, !data), 0);
	}
	assert_int_equal(mapped, 1056);
	/* Read it all back into the same pages, cleared: the early ones are kept mappings. */
	for (first = 0; first < PAGES; first += CHUNK) {
		for (i = 0; i < CHUNK; i++) {
			pages[i] = first + i;
			memset(pvring_local_front_data(&front, 0, first + i), 0xa5, 4096);
		}
		assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_READ, first * SECTORS_PER_PAGE,
				       CHUNK * SECTORS_PER_PAGE, pages),
				 0);
		for (i = 0; i < CHUNK * SECTORS_PER_PAGE; i++) {
			uint8_t *data =
				pvring_local_front_data(&front, 0, first + i / SECTORS_PER_PAGE);
			uint64_t at = (uint64_t)first * SECTORS_PER_PAGE + i;

			if (!sector_matches(data + (i % SECTORS_PER_PAGE) * 512, at, 81))
				fail_msg("sector %llu read back wrong", (unsigned long long)at);
		}
	}
	assert_int_equal(ring_field(f, "1/51712", 0, "persistent_grants"), 1056);
	/* Every grant can end once pvringd lets go: its unmaps named the right references. */
	assert_int_equal(pvring_local_front_close(&front), 0);
	assert_false(daemon_process_log_has(&f->dp, "error", 0));
}

/* Every request grants its pages and ends the grants after the response. */
static void test_without_persistent_grants(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front_opts opts;
	struct pvring_local_front front;
	char why[256];

	pvring_local_front_opts_init(&opts);
	opts.rundir = f->dp.rundir;
	opts.disk = "d0";
	opts.max_segments = 64;
	opts.data_pages = 256;
	opts.persistent = false;
	assert_int_equal(pvring_local_front_open(&front, &opts), 0);
	assert_int_equal(pvring_local_front_connect(&front), 0);
	assert_false(front.persistent);
	if (write_verify(&front, 0, 3000, 11, 61, why, sizeof(why)) ||
	    write_verify(&front, 0, 4000, 64, 62, why, sizeof(why)))
		fail_msg("%s", why);
	/* Logged just after Connected is written: the line may trail the connect. */
	assert_true(daemon_process_log_has(&f->dp, "no persistent grants", 5000));
	assert_int_equal(pvring_local_front_close(&front), 0);
}

static void test_flush_and_barrier(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	uint32_t page = 3;
	char why[256];

	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	assert_true(front.backend.flush);
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_FLUSH_DISKCACHE, 0, 0, NULL), 0);
	/* A barrier with data: the cache is flushed, then the data written. */
	fill_sector(pvring_local_front_data(&front, 0, page), 600, 9);
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_WRITE_BARRIER, 600, 1, &page), 0);
	memset(pvring_local_front_data(&front, 0, page), 0, 512);
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_READ, 600, 1, &page), 0);
	assert_true(sector_matches(pvring_local_front_data(&front, 0, page), 600, 9));
	assert_int_equal(write_verify(&front, 0, 640, 4, 10, why, sizeof(why)), 0);
	assert_int_equal(pvring_local_front_close(&front), 0);
}

static void test_discard(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	uint32_t pages[64], i;
	struct stat before, after;
	char why[256];
	uint8_t zero[4096] = { 0 };

	assert_int_equal(front_up(f, &front, "d0", 1, 0, 64, NULL), 0);
	assert_true(front.backend.discard);
	assert_int_equal(write_verify(&front, 0, 16384, 64, 11, why, sizeof(why)), 0);
	assert_int_equal(d0_hook(f, "PVRING_TEST_D0_SAVE"), 0);
	assert_int_equal(stat(f->d0, &before), 0);
	assert_int_equal(
		do_io(&front, 0, PVRING_BLKIF_OP_DISCARD, 16384, 64 * SECTORS_PER_PAGE, NULL), 0);
	assert_int_equal(d0_hook(f, "PVRING_TEST_D0_SAVE"), 0);
	assert_int_equal(stat(f->d0, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_true(after.st_blocks < before.st_blocks);
	for (i = 0; i < 64; i++)
		pages[i] = i;
	assert_int_equal(
		do_io(&front, 0, PVRING_BLKIF_OP_READ, 16384, 64 * SECTORS_PER_PAGE, pages), 0);
	for (i = 0; i < 64; i++)
		assert_memory_equal(pvring_local_front_data(&front, 0, i), zero, 4096);
	assert_int_equal(pvring_local_front_close(&front), 0);
}

/*
 * What the data plane logs when it refuses a write to it: "ro: ring 0: request
 * ID (op 1): " and pvring_blkif_error_str(PVRING_BLKIF_EREAD_ONLY).
 */
#define READ_ONLY_REFUSAL "(op 1): write to a read-only disk"

static void test_read_only_image(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	uint32_t page = 0;

	assert_int_equal(front_up(f, &front, "ro", 1, 0, 11, NULL), 0);
	assert_true(front.backend.read_only);
	assert_false(front.backend.discard);
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_READ, 16, 8, &page), 0);
	assert_true(sector_matches(pvring_local_front_data(&front, 0, 0), 16, 3));
	memset(pvring_local_front_data(&front, 0, 0), 0x11, 4096);
	/* The refusal is the write's own: nothing has logged it before. */
	assert_int_equal(daemon_process_log_count(&f->dp, READ_ONLY_REFUSAL), 0);
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_WRITE, 16, 8, &page),
			 PVRING_BLKIF_RSP_ERROR);
	assert_true(daemon_process_log_has(&f->dp, READ_ONLY_REFUSAL, 5000));
	/* The image is untouched. */
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_READ, 16, 8, &page), 0);
	assert_true(sector_matches(pvring_local_front_data(&front, 0, 0), 16, 3));
	assert_int_equal(pvring_local_front_close(&front), 0);
}

static void test_direct_io(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	char why[256];

	assert_true(daemon_process_log_has(&f->dp, "disk dd: ", 0));
	assert_true(daemon_process_log_has(&f->dp, "read-write, O_DIRECT", 0));
	assert_int_equal(front_up(f, &front, "dd", 1, 0, 64, NULL), 0);
	if (write_verify(&front, 0, 8, 1, 41, why, sizeof(why)) ||
	    write_verify(&front, 0, 512, 64, 42, why, sizeof(why)))
		fail_msg("%s", why);
	assert_int_equal(pvring_local_front_close(&front), 0);
}

static void test_block_device(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	uint32_t page = 0;
	char why[256];

	if (!f->blk.path[0]) {
		fprintf(stderr, "%s\n", f->blk_why);
		skip();
	}
	assert_int_equal(front_up(f, &front, "blk", 1, 0, 11, NULL), 0);
	assert_int_equal(front.backend.sectors, RO_BYTES / 512);
	/* What the image held before it became a block device... */
	assert_int_equal(do_io(&front, 0, PVRING_BLKIF_OP_READ, 40, 8, &page), 0);
	assert_true(sector_matches(pvring_local_front_data(&front, 0, 0), 40, 5));
	/* ...and what is written through it. */
	if (write_verify(&front, 0, 64, 11, 43, why, sizeof(why)))
		fail_msg("%s", why);
	assert_int_equal(pvring_local_front_close(&front), 0);
}

/* ---- bad input ---- */

static int hook_garbage_ref(struct pvring_local_front *front, xs_transaction_t t, void *arg)
{
	(void)arg;
	return pvring_local_front_write_key(front, t, "ring-ref", "garbage");
}

static int hook_ungranted_ref(struct pvring_local_front *front, xs_transaction_t t, void *arg)
{
	char ref[16];

	(void)arg;
	/* A spare frame's ref: in the table, never granted. */
	snprintf(ref, sizeof(ref), "%u",
		 pvring_local_front_frame_ref(front, pvring_local_front_spare_frame(front)));
	return pvring_local_front_write_key(front, t, "ring-ref", ref);
}

static void expect_refused(struct fixture *f,
			   int (*hook)(struct pvring_local_front *, xs_transaction_t, void *),
			   const char *reason)
{
	struct pvring_local_front front;
	char *error;

	peer_start(f);
	assert_int_not_equal(front_up(f, &front, "d0", 1, 0, 11, hook), 0);
	assert_true(daemon_process_log_has(&f->dp, reason, 5000));
	error = backend_key(&front, "pvring-error");
	assert_non_null(error);
	assert_non_null(strstr(error, reason));
	free(error);
	peer_check(f);
	pvring_local_front_close(&front);
	peer_stop(f);
}

static void test_bad_garbage_ring_ref(void **state)
{
	expect_refused(*state, hook_garbage_ref, "ring-ref: not a grant reference");
}

static void test_bad_ungranted_ring_ref(void **state)
{
	expect_refused(*state, hook_ungranted_ref, "cannot map the ring");
}

/* A connected frontend sends one bad request: it gets an error, and stays served. */
static void expect_error_response(struct fixture *f, const union pvring_blkif_request *req,
				  int16_t status, const char *logged, uint32_t spare_grant_ro)
{
	struct pvring_local_front front;
	char why[256];

	peer_start(f);
	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	if (spare_grant_ro)
		assert_int_equal(pvring_local_front_grant(&front, spare_grant_ro,
							  pvring_local_front_spare_frame(&front),
							  true),
				 0);
	assert_int_equal(raw_request(&front, req), status);
	assert_true(daemon_process_log_has(&f->dp, logged, 5000));
	/* Still connected and served. */
	assert_int_equal(write_verify(&front, 0, 0, 4, 21, why, sizeof(why)), 0);
	peer_check(f);
	assert_int_equal(pvring_local_front_close(&front), 0);
	peer_stop(f);
}

static void test_bad_ungranted_segment(void **state)
{
	/* Ref 5: below the library's first ref, never granted. */
	union pvring_blkif_request req = raw_rw(PVRING_BLKIF_OP_WRITE, 0, 5);

	expect_error_response(*state, &req, PVRING_BLKIF_RSP_ERROR, "cannot map grant 5", 0);
}

static void test_bad_read_into_read_only_grant(void **state)
{
	union pvring_blkif_request req = raw_rw(PVRING_BLKIF_OP_READ, 0, 6);

	expect_error_response(*state, &req, PVRING_BLKIF_RSP_ERROR, "cannot map grant 6 writable",
			      6);
}

static void test_bad_sectors_past_end(void **state)
{
	union pvring_blkif_request req = raw_rw(PVRING_BLKIF_OP_READ, DISK_BYTES / 512 - 4, 5);

	expect_error_response(*state, &req, PVRING_BLKIF_RSP_ERROR, "past the end", 0);
}

static void test_bad_unknown_op(void **state)
{
	union pvring_blkif_request req = raw_rw(42, 0, 5);

	expect_error_response(*state, &req, PVRING_BLKIF_RSP_EOPNOTSUPP, "unknown operation", 0);
}

/* A frontend sending bad requests by the hundred gets every answer, but cannot flood the log. */
static void test_bad_request_flood(void **state)
{
	struct fixture *f = *state;
	union pvring_blkif_request req = raw_rw(42, 0, 5);
	struct pvring_local_front front;
	unsigned int i, logged;

	time_t start, end;

	peer_start(f);
	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	start = time(NULL);
	for (i = 0; i < 200; i++)
		assert_int_equal(raw_request(&front, &req), PVRING_BLKIF_RSP_EOPNOTSUPP);
	end = time(NULL);
	logged = daemon_process_log_count(&f->dp, "unknown operation");
	assert_true(logged >= 1);
	/* Ten in each second the flood touched, however long it took. */
	assert_true(logged <= 10 * (unsigned int)(end - start + 1));
	assert_true(logged < 200);
	sleep(1);
	assert_int_equal(raw_request(&front, &req), PVRING_BLKIF_RSP_EOPNOTSUPP);
	assert_true(daemon_process_log_has(&f->dp, "more such messages left out", 5000));
	peer_check(f);
	assert_int_equal(pvring_local_front_close(&front), 0);
	peer_stop(f);
}

/* pvringd disconnected the front end: it said so, the reason is in pvring-error, it closed. */
static void expect_disconnected(struct fixture *f, struct pvring_local_front *front,
				const char *reason)
{
	char *error;

	assert_true(daemon_process_log_has(&f->dp, "disconnecting the front end", 5000));
	error = backend_key(front, "pvring-error");
	assert_non_null(error);
	assert_non_null(strstr(error, reason));
	free(error);
	assert_true(backend_closed(front));
}

static void test_bad_producer_far_ahead(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	struct pvring_front *ring;

	peer_start(f);
	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	ring = pvring_local_front_ring(&front, 0);
	/* What no correct frontend can write: a thousand requests on a 32-slot ring. */
	ring->shape.sring->req_prod += 1000;
	assert_int_equal(pvring_local_front_kick(&front, 0), 0);
	expect_disconnected(f, &front, "req_prod");
	peer_check(f);
	pvring_local_front_close(&front);
	peer_stop(f);
}

static int hook_producer_far_ahead(struct pvring_local_front *front, xs_transaction_t t, void *arg)
{
	(void)t;
	(void)arg;
	/* Published before the back end connects: its first pass over the ring finds it. */
	pvring_local_front_ring(front, 0)->shape.sring->req_prod += 1000;
	return 0;
}

/*
 * A ring that is bad before the back end even connects: the front end is refused with the
 * reason, the back end never says Connected, and the daemon serves the next front end (which
 * may be given the same event-channel ports) as usual.
 */
static void test_bad_producer_before_connect(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	char why[256];
	unsigned int connected;

	peer_start(f);
	connected = daemon_process_log_count(&f->dp, "-> Connected");
	assert_int_not_equal(front_up(f, &front, "d0", 2, 0, 11, hook_producer_far_ahead), 0);
	expect_disconnected(f, &front, "req_prod");
	/* Not even for a moment (Closed comes after the connect attempt has returned). */
	assert_int_equal(daemon_process_log_count(&f->dp, "-> Connected"), connected);
	pvring_local_front_close(&front);
	peer_check(f);
	assert_int_equal(front_up(f, &front, "d0", 2, 0, 11, NULL), 0);
	assert_int_equal(write_verify(&front, 1, 0, 8, 23, why, sizeof(why)), 0);
	assert_int_equal(write_verify(&front, 0, 8, 8, 24, why, sizeof(why)), 0);
	assert_int_equal(pvring_local_front_close(&front), 0);
	peer_check(f);
	peer_stop(f);
}

/*
 * A store that stops answering holds up the control plane, not I/O: with the store frozen, a
 * broken ring makes pvringd's main thread wait on its store write (the Closing and the reason),
 * and meanwhile the other guest's verified I/O carries on.
 */
static void test_store_stalled_io_flows(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	bool flowed;

	peer_start(f);
	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	assert_int_equal(kill(f->dp.store.pid, SIGSTOP), 0);
	pvring_local_front_ring(&front, 0)->shape.sring->req_prod += 1000;
	assert_int_equal(pvring_local_front_kick(&front, 0), 0);
	/* The main thread now waits on the store (for the fault's Closing, if not earlier). */
	flowed = peer_progresses(f);
	/* The store runs again before anything is asserted: teardown needs it. */
	assert_int_equal(kill(f->dp.store.pid, SIGCONT), 0);
	assert_true(flowed);
	expect_disconnected(f, &front, "req_prod");
	pvring_local_front_close(&front);
	peer_check(f);
	peer_stop(f);
}

static void test_bad_frontend_dies_mid_io(void **state)
{
	struct fixture *f = *state;
	struct pvring_local_front front;
	char why[256];
	int status;
	pid_t child;

	peer_start(f);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct pvring_local_front dying;
		uint32_t pages[11], i;

		if (front_up(f, &dying, "d0", 1, 0, 11, NULL))
			_exit(2);
		for (i = 0; i < 11; i++)
			pages[i] = i;
		for (i = 0; i < 24; i++) {
			struct pvring_local_front_io io = { .op = PVRING_BLKIF_OP_WRITE,
							    .sector = i * 88,
							    .nr_sectors = 88,
							    .pages = pages,
							    .cookie = i };

			if (pvring_local_front_submit(&dying, 0, &io))
				_exit(3);
		}
		pvring_local_front_flush(&dying, 0);
		pvring_local_front_die(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The store drops the dead guest's nodes and fires @releaseDomain: the device goes. */
	assert_true(daemon_process_log_has(&f->dp, "/51712: removed", 5000));
	peer_check(f);
	/* d0 is free again: a new guest attaches it and is served. */
	assert_int_equal(front_up(f, &front, "d0", 1, 0, 11, NULL), 0);
	assert_int_equal(write_verify(&front, 0, 0, 8, 31, why, sizeof(why)), 0);
	assert_int_equal(pvring_local_front_close(&front), 0);
	peer_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_restart_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_guest_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_with_requests_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_front_end_never_lets_go, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_multi_queue_multi_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistent_grants_grow_to_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_without_persistent_grants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_and_barrier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_device, setup_block_device, teardown),
		cmocka_unit_test_setup_teardown(test_bad_garbage_ring_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ungranted_ring_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ungranted_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_read_into_read_only_grant, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_sectors_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_unknown_op, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_request_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_producer_far_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_producer_before_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frontend_dies_mid_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_stalled_io_flows, setup, teardown),
	};

	/* PVRING_TEST_FILTER=test_discard runs one test; PVRING_TEST_SHOW_LOG=1 prints pvringd's
	 * log. */
	if (getenv("PVRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("PVRING_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
