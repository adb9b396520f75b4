// SPDX-License-Identifier: MIT
/*
 * The data plane through its own API, in one process: pvring-stored runs as a real process, a
 * guest registers with the local platform (a thread, as in test_platform_local), and this test
 * then plays the guest's front end on the granted pages while it drives pvringd's event loop.
 *
 * What is checked is the contract of daemon/dataplane.h: verified I/O; a broken ring refused at
 * connect with nothing taken, or failed once, from the loop, never inside a data-plane call; a
 * stop that waits for the I/O in flight and says idle exactly once; a stop that serves what
 * was published; snapshots; and no grant left mapped after a release.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "common/proto/pvring_blkif.h"
#include "daemon/dataplane.h"
#include "daemon/image.h"
#include "daemon/inflight.h"
#include "daemon/platform/local_registry.h"
#include "daemon/platform/platform_local.h"
#include "tests/lib/local_platform_env.h"

#define GUEST_FRAMES 64u
#define RING_REF 1u /* the ring page: frame 1 */
#define DATA_REF 8u /* data pages: refs 8.., frames 8.. */
#define NR_DATA 8u
#define PORT 5u
/* A second ring, of order 4 (512 slots), for what two rings on one worker do to each other. */
#define RING2_REF 32u /* frames 32..47 */
#define RING2_ORDER 4u
#define PORT2 6u
#define AGGRESSOR_SEGS 11u /* frames 16..26: its requests' pages */
#define AGGRESSOR_FRAME 16u
#define IMAGE_SECTORS 2048u

static const struct pvring_layout blkif_layout =
	PVRING_LAYOUT(union pvring_blkif_request, struct pvring_blkif_response);

struct owner {
	unsigned int failed, idle;
	char reason[160];
	struct pvringd_queue *q;
};

struct fixture {
	struct local_platform_env env;
	struct pvringd_dp *dp;
	struct pvring_local_guest guest;
	struct pvring_local_guest_port port, port2;
	struct pvring_front front, front2;
	char image_path[64];
	int image_fd;
	struct pvring_image image; /* over image_fd, as pvringd opens it */
	struct pvring_blkif_disk limits;
	struct owner owner;
	/*
	 * A pipe standing in for the image, write end: closed at teardown so a failed test's
	 * reads complete (at end of file) instead of holding the data plane's shutdown.
	 */
	int pipe_writer;
};

/* Workers of the next fixture. */
static unsigned int nr_workers = 2;
static uint64_t guest_inflight_max; /* the data plane's cap; 0: none */

/* Set around every data-plane call: an owner callback seen while it is set broke rule 1. */
static bool in_dp_call;
/* Owner callbacks run here, and only here. */
static pthread_t main_thread;

#define DP_CALL(expr)                                                                              \
	({                                                                                         \
		__typeof__(expr) _r;                                                               \
		in_dp_call = true;                                                                 \
		_r = (expr);                                                                       \
		in_dp_call = false;                                                                \
		_r;                                                                                \
	})

static void on_failed(void *arg, struct pvringd_queue *q, const char *reason)
{
	struct owner *o = arg;

	assert_true(pthread_equal(pthread_self(), main_thread));
	assert_false(in_dp_call);
	assert_ptr_equal(q, o->q);
	o->failed++;
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
}

static void on_idle(void *arg, struct pvringd_queue *q)
{
	struct owner *o = arg;

	assert_true(pthread_equal(pthread_self(), main_thread));
	assert_false(in_dp_call);
	assert_ptr_equal(q, o->q);
	o->idle++;
}

static const struct pvringd_queue_owner_ops owner_ops = {
	.failed = on_failed,
	.idle = on_idle,
};

struct registration {
	struct fixture *f;
	int result;
	const char *why;
	atomic_bool done;
};

/* Registration needs pvringd's loop running: the guest's half runs in a thread. */
static void *register_guest(void *arg)
{
	struct registration *r = arg;
	struct fixture *f = r->f;

	r->result =
		pvring_local_guest_register(&f->guest, f->env.registry, GUEST_FRAMES, 1, &r->why);
	if (!r->result)
		r->result = pvring_local_guest_port_alloc(&f->port, PORT);
	if (!r->result)
		r->result = pvring_local_guest_offer_port(&f->guest, &f->port);
	if (!r->result)
		r->result = pvring_local_guest_port_alloc(&f->port2, PORT2);
	if (!r->result)
		r->result = pvring_local_guest_offer_port(&f->guest, &f->port2);
	atomic_store(&r->done, true);
	return NULL;
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	struct registration r = { .f = f };
	const char *why = NULL;
	pthread_t thread;
	uint32_t i;

	*state = f;
	f->pipe_writer = -1;
	if (local_platform_env_start(&f->env))
		return -1;
	main_thread = pthread_self();
	f->dp = pvringd_dp_create(
		&(struct pvringd_dp_params){ .base = f->env.base,
					     .plat = f->env.plat,
					     .workers = nr_workers,
					     .aio_entries = 64,
					     .guest_inflight_max = guest_inflight_max },
		&why);
	if (!f->dp) {
		fprintf(stderr, "data plane: %s\n", why);
		return -1;
	}
	if (pthread_create(&thread, NULL, register_guest, &r))
		return -1;
	while (!atomic_load(&r.done))
		event_base_loop(f->env.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_join(thread, NULL);
	if (r.result) {
		fprintf(stderr, "guest: %d (%s)\n", r.result, r.why ? r.why : "");
		return -1;
	}
	/* The front end's half of a ring, on a granted page; data pages granted writable. */
	if (pvring_local_grant(&f->guest.mem, RING_REF, 0, RING_REF, false) ||
	    !pvring_front_init(&f->front, pvring_local_mem_frame(&f->guest.mem, RING_REF), 0,
			       &blkif_layout, 0))
		return -1;
	for (i = 0; i < NR_DATA; i++)
		if (pvring_local_grant(&f->guest.mem, DATA_REF + i, 0, DATA_REF + i, false))
			return -1;
	for (i = 0; i < 1u << RING2_ORDER; i++)
		if (pvring_local_grant(&f->guest.mem, RING2_REF + i, 0, RING2_REF + i, false))
			return -1;
	if (!pvring_front_init(&f->front2, pvring_local_mem_frame(&f->guest.mem, RING2_REF),
			       RING2_ORDER, &blkif_layout, 0))
		return -1;
	for (i = 0; i < AGGRESSOR_SEGS; i++)
		if (pvring_local_grant(&f->guest.mem, AGGRESSOR_FRAME + i, 0, AGGRESSOR_FRAME + i,
				       false))
			return -1;
	snprintf(f->image_path, sizeof(f->image_path), "/tmp/test_dataplane.XXXXXX");
	f->image_fd = mkstemp(f->image_path);
	if (f->image_fd < 0 || ftruncate(f->image_fd, IMAGE_SECTORS * 512ull))
		return -1;
	f->image = (struct pvring_image){ .fd = f->image_fd,
					  .path = f->image_path,
					  .sectors = IMAGE_SECTORS,
					  .sector_size = 512,
					  .flush = true };
	f->limits = (struct pvring_blkif_disk){ .sectors = IMAGE_SECTORS, .flush = true };
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int ret;

	pvring_local_guest_leave(&f->guest);
	pvring_local_guest_port_free(&f->port);
	pvring_local_guest_port_free(&f->port2);
	if (f->pipe_writer >= 0)
		close(f->pipe_writer);
	pvringd_dp_destroy(f->dp);
	close(f->image_fd);
	unlink(f->image_path);
	ret = local_platform_env_stop(&f->env);
	test_free(f);
	return ret;
}

static struct pvringd_queue *connect_queue_journal(struct fixture *f, struct pvring_image *image,
						   const char *inflight_path, bool resume,
						   char *why, size_t why_len)
{
	const uint32_t refs[1] = { RING_REF };
	struct pvringd_queue_params p = {
		.inflight_path = inflight_path,
		.resume = resume,
		.name = "1/51712",
		.domid = f->guest.domid,
		.queue = 0,
		.order = 0,
		.refs = refs,
		.remote_port = PORT,
		.limits = &f->limits,
		.image = image,
	};

	f->owner.q = DP_CALL(pvringd_queue_connect(f->dp, &p, &owner_ops, &f->owner, why, why_len));
	return f->owner.q;
}

static struct pvringd_queue *connect_queue(struct fixture *f, struct pvring_image *image, char *why,
					   size_t why_len)
{
	return connect_queue_journal(f, image, NULL, false, why, why_len);
}

static void *data_page(struct fixture *f, uint32_t i)
{
	return pvring_local_mem_frame(&f->guest.mem, DATA_REF + i);
}

/*
 * Put req on a ring; with push, publish what was put there and kick if the back end wants it.
 * (Whether it wants one is said once per push: requests published together are pushed once.)
 */
static void publish(struct pvring_front *front, struct pvring_local_guest_port *port,
		    const union pvring_blkif_request *req, bool push)
{
	assert_true(pvring_front_produce(front, req));
	if (push && pvring_front_push(front))
		assert_int_equal(pvring_local_guest_port_notify(port), 0);
}

/* One whole page per segment, pages first..first+n-1. */
static void submit(struct fixture *f, uint8_t op, uint64_t id, uint64_t sector, uint32_t first,
		   uint32_t n, bool kick)
{
	union pvring_blkif_request req = {
		.rw = { .op = op, .nr_segments = (uint8_t)n, .id = id, .sector = sector }
	};
	uint32_t i;

	for (i = 0; i < n; i++)
		req.rw.seg[i] = (struct pvring_blkif_segment){ .gref = DATA_REF + first + i,
							       .last_sect = 7 };
	assert_true(pvring_front_produce(&f->front, &req));
	if (pvring_front_push(&f->front) && kick)
		assert_int_equal(pvring_local_guest_port_notify(&f->port), 0);
}

/* A bound on loop turns, so a broken data plane fails the test instead of hanging it. */
#define MAX_TURNS 100000u

static void turn(struct fixture *f)
{
	event_base_loop(f->env.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* Run the loop until a response comes on front; returns it. */
static struct pvring_blkif_response wait_response_on(struct fixture *f, struct pvring_front *front)
{
	struct pvring_blkif_response rsp;
	unsigned int i;

	for (i = 0; i < MAX_TURNS; i++) {
		if (pvring_front_consume(front, &rsp))
			return rsp;
		turn(f);
	}
	fail_msg("no response after %u loop turns", MAX_TURNS);
	return rsp;
}

static struct pvring_blkif_response wait_response(struct fixture *f)
{
	return wait_response_on(f, &f->front);
}

static void wait_callbacks(struct fixture *f, unsigned int failed, unsigned int idle)
{
	unsigned int i;

	for (i = 0; i < MAX_TURNS && (f->owner.failed < failed || f->owner.idle < idle); i++)
		turn(f);
	/* A few more turns: nothing is said twice. */
	for (i = 0; i < 100; i++)
		turn(f);
	assert_int_equal(f->owner.failed, failed);
	assert_int_equal(f->owner.idle, idle);
}

static void release_queue(struct pvringd_queue *q)
{
	in_dp_call = true;
	pvringd_queue_release(q);
	in_dp_call = false;
}

static void stop_and_release(struct fixture *f, struct pvringd_queue *q, unsigned int failed)
{
	assert_true(DP_CALL(pvringd_queue_stop(q, false)));
	assert_false(DP_CALL(pvringd_queue_stop(q, false)));
	wait_callbacks(f, failed, 1);
	release_queue(q);
}

/* Every grant the back end mapped is unmapped: the guest can end each one. */
static void assert_no_grant_mapped(struct fixture *f)
{
	uint32_t i;

	assert_int_equal(pvring_local_end_grant(&f->guest.mem, RING_REF), 0);
	for (i = 0; i < NR_DATA; i++)
		assert_int_equal(pvring_local_end_grant(&f->guest.mem, DATA_REF + i), 0);
}

static void test_write_read_verified(void **state)
{
	struct fixture *f = *state;
	struct pvring_blkif_response rsp;
	struct pvringd_queue_snapshot s;
	struct pvringd_queue *q;
	uint8_t on_disk[8192];
	char why[160];
	uint32_t i;

	q = connect_queue(f, &f->image, why, sizeof(why));
	if (!q)
		fail_msg("connect: %s", why);
	for (i = 0; i < 2 * 4096; i++)
		((uint8_t *)data_page(f, i / 4096))[i % 4096] = (uint8_t)(i * 7 + 3);
	submit(f, PVRING_BLKIF_OP_WRITE, 41, 16, 0, 2, true);
	rsp = wait_response(f);
	assert_int_equal(rsp.id, 41);
	assert_int_equal(rsp.op, PVRING_BLKIF_OP_WRITE);
	assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
	/* On the image, where the guest put it. */
	assert_int_equal(pread(f->image_fd, on_disk, sizeof(on_disk), 16 * 512), sizeof(on_disk));
	assert_memory_equal(on_disk, data_page(f, 0), 4096);
	assert_memory_equal(on_disk + 4096, data_page(f, 1), 4096);
	/* Read back into two other pages. */
	memset(data_page(f, 2), 0, 4096);
	memset(data_page(f, 3), 0, 4096);
	submit(f, PVRING_BLKIF_OP_READ, 42, 16, 2, 2, true);
	rsp = wait_response(f);
	assert_int_equal(rsp.id, 42);
	assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
	assert_memory_equal(data_page(f, 2), on_disk, 4096);
	assert_memory_equal(data_page(f, 3), on_disk + 4096, 4096);
	/* Past the end of the disk: answered with an error, the ring serves on. */
	submit(f, PVRING_BLKIF_OP_READ, 43, IMAGE_SECTORS - 4, 2, 1, true);
	rsp = wait_response(f);
	assert_int_equal(rsp.id, 43);
	assert_int_equal(rsp.status, PVRING_BLKIF_RSP_ERROR);

	pvringd_queue_snapshot(q, &s);
	assert_int_equal(s.queue, 0);
	assert_int_equal(s.order, 0);
	assert_int_equal(s.ring.nr_slots, pvringd_queue_nr_slots(q));
	assert_int_equal(s.ring.req_prod, 3);
	assert_int_equal(s.ring.req_cons, 3);
	assert_int_equal(s.ring.rsp_prod, 3);
	assert_int_equal(s.ring.fault, PVRING_FAULT_NONE);
	assert_int_equal(s.in_flight, 0);
	assert_int_equal(s.counters.requests, 3);
	assert_int_equal(s.counters.by_op[PVRING_BLKIF_OP_READ], 2);
	assert_int_equal(s.counters.errors, 1);
	assert_int_equal(s.counters.bytes_written, 8192);
	assert_int_equal(s.counters.bytes_read, 8192);
	stop_and_release(f, q, 0);
	assert_no_grant_mapped(f);
}

static union pvring_blkif_request rw_request(uint8_t op, uint64_t id, uint64_t sector,
					     uint32_t page)
{
	union pvring_blkif_request req = {
		.rw = { .op = op, .nr_segments = 1, .id = id, .sector = sector }
	};

	req.rw.seg[0] = (struct pvring_blkif_segment){ .gref = DATA_REF + page, .last_sect = 7 };
	return req;
}

/*
 * What a killed pvringd leaves: it consumed A (a write) and B, answered B first (its response
 * went into slot 0, over A's request, and was pushed) and was killed with A in flight. The
 * ring alone would make a new back end answer B again (slot 1 still holds it) and never A.
 * From the journal, the new one issues A again, answers it once, never B, then serves C.
 */
static void test_resume_answers_what_was_owed(void **state)
{
	struct fixture *f = *state;
	union pvring_blkif_request a = rw_request(PVRING_BLKIF_OP_WRITE, 1, 16, 0);
	union pvring_blkif_request b = rw_request(PVRING_BLKIF_OP_WRITE, 2, 24, 1);
	union pvring_blkif_request c = rw_request(PVRING_BLKIF_OP_READ, 3, 40, 2);
	union pvring_blkif_request taken[2];
	struct pvring_blkif_response rsp_b = { .id = 2, .op = PVRING_BLKIF_OP_WRITE }, rsp;
	struct pvringd_inflight_ring ring = {
		.domid = f->guest.domid,
		.nr_slots = pvring_front_nr_slots(&f->front),
		.remote_port = PORT,
		.refs = { RING_REF },
	};
	struct pvringd_inflight_resume found;
	struct pvringd_queue_snapshot s;
	struct pvringd_inflight *old;
	struct pvringd_queue *q;
	struct pvring_back killed;
	char path[96], why[200] = "";
	uint8_t on_disk[4096];
	bool seen_a = false, seen_c = false;
	uint32_t i;

	snprintf(path, sizeof(path), "%s.inflight", f->image_path);
	memset(data_page(f, 0), 0xa5, 4096);
	memset(data_page(f, 2), 0xff, 4096);
	publish(&f->front, &f->port, &a, false);
	publish(&f->front, &f->port, &b, true);
	/* The killed pvringd's part, step by step as the data plane takes it. */
	old = pvringd_inflight_open(path, &ring, false, 0, &found, why, sizeof(why));
	if (!old)
		fail_msg("%s", why);
	assert_true(pvring_back_attach(&killed, pvring_local_mem_frame(&f->guest.mem, RING_REF), 0,
				       &blkif_layout));
	assert_int_equal(pvring_back_consume_batch(&killed, taken, 2), 2);
	assert_int_equal(pvringd_inflight_consumed(old, 0, &taken[0]), 0);
	assert_int_equal(pvringd_inflight_consumed(old, 1, &taken[1]), 1);
	pvringd_inflight_answered(old, 1, killed.rsp_prod_pvt);
	assert_true(pvring_back_produce(&killed, &rsp_b));
	pvring_back_push(&killed);
	pvringd_inflight_pushed(old);
	pvringd_inflight_close(old, false); /* killed: the journal stays */
	/* The guest saw B done, and publishes C. */
	assert_true(pvring_front_consume(&f->front, &rsp));
	assert_int_equal(rsp.id, 2);
	publish(&f->front, &f->port, &c, true);

	q = connect_queue_journal(f, &f->image, path, true, why, sizeof(why));
	if (!q)
		fail_msg("connect: %s", why);
	for (i = 0; i < 2; i++) {
		rsp = wait_response(f);
		assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
		assert_true((rsp.id == 1 && !seen_a) || (rsp.id == 3 && !seen_c));
		seen_a |= rsp.id == 1;
		seen_c |= rsp.id == 3;
	}
	/* A is on the image; C read a part never written. */
	assert_int_equal(pread(f->image_fd, on_disk, sizeof(on_disk), 16 * 512), sizeof(on_disk));
	assert_memory_equal(on_disk, data_page(f, 0), 4096);
	memset(on_disk, 0, sizeof(on_disk));
	assert_memory_equal(data_page(f, 2), on_disk, 4096);
	/* Nothing more: B is never answered twice. */
	for (i = 0; i < 1000; i++)
		turn(f);
	assert_false(pvring_front_consume(&f->front, &rsp));
	pvringd_queue_snapshot(q, &s);
	assert_int_equal(s.ring.req_cons, 3);
	assert_int_equal(s.ring.rsp_prod, 3);
	assert_int_equal(s.in_flight, 0);
	assert_int_equal(s.counters.requests, 2);
	stop_and_release(f, q, 0);
	/* Let go in order: nothing owed, no journal left. */
	assert_int_equal(access(path, F_OK), -1);
	assert_no_grant_mapped(f);
}

/* A ring broken after connect: failed once, from the loop; later kicks say nothing more. */
static void test_broken_ring_fails_once(void **state)
{
	struct fixture *f = *state;
	struct pvringd_queue_snapshot s;
	struct pvringd_queue *q;
	char why[160];
	int i;

	q = connect_queue(f, &f->image, why, sizeof(why));
	assert_non_null(q);
	f->front.shape.sring->req_prod += 1000;
	for (i = 0; i < 5; i++) {
		assert_int_equal(pvring_local_guest_port_notify(&f->port), 0);
		wait_callbacks(f, 1, 0);
	}
	assert_non_null(strstr(f->owner.reason, "ring 0: "));
	assert_non_null(strstr(f->owner.reason, "req_prod"));
	pvringd_queue_snapshot(q, &s);
	assert_int_equal(s.ring.fault, PVRING_FAULT_REQ_PROD_AHEAD);
	assert_int_equal(s.ring.req_cons, 0);
	stop_and_release(f, q, 1);
	assert_no_grant_mapped(f);
}

/* A ring broken before the back end connects: refused with the reason, nothing taken. */
static void test_broken_before_connect(void **state)
{
	struct fixture *f = *state;
	char why[160];

	submit(f, PVRING_BLKIF_OP_WRITE, 1, 0, 0, 1, false);
	f->front.shape.sring->req_prod += 1000;
	assert_null(connect_queue(f, &f->image, why, sizeof(why)));
	assert_non_null(strstr(why, "req_prod"));
	wait_callbacks(f, 0, 0);
	assert_no_grant_mapped(f);
}

/* A stop waits for the I/O in flight: idle once it is answered, and only then. */
static void test_stop_waits_for_io(void **state)
{
	struct fixture *f = *state;
	struct pvring_blkif_response rsp;
	struct pvringd_slot_snapshot slots[32];
	struct pvringd_queue_snapshot s;
	struct pvringd_queue *q;
	uint8_t payload[4096];
	struct pvring_image pipe_image;
	int pipe_fds[2];
	char why[160];
	unsigned int i;

	/* A pipe as the image: a read of it stays in flight until the test writes. */
	assert_int_equal(pipe(pipe_fds), 0);
	f->pipe_writer = pipe_fds[1];
	pipe_image = f->image;
	pipe_image.fd = pipe_fds[0];
	q = connect_queue(f, &pipe_image, why, sizeof(why));
	if (!q)
		fail_msg("connect: %s", why);
	submit(f, PVRING_BLKIF_OP_READ, 77, 0, 4, 1, true);
	for (i = 0; i < MAX_TURNS; i++) {
		pvringd_queue_snapshot(q, &s);
		if (s.in_flight)
			break;
		turn(f);
	}
	assert_int_equal(s.in_flight, 1);
	assert_int_equal(pvringd_queue_slots(q, slots, 32), 1);
	assert_int_equal(slots[0].index, 0);
	assert_int_equal(slots[0].req.rw.id, 77);
	assert_int_equal(pvringd_queue_slots(q, slots, 0), 0);

	assert_true(DP_CALL(pvringd_queue_stop(q, false)));
	assert_false(DP_CALL(pvringd_queue_stop(q, true)));
	wait_callbacks(f, 0, 0);
	assert_false(pvring_front_consume(&f->front, &rsp));

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(write(pipe_fds[1], payload, sizeof(payload)), sizeof(payload));
	wait_callbacks(f, 0, 1);
	/* A stopped queue still answers what completes: the guest has its data. */
	rsp = wait_response(f);
	assert_int_equal(rsp.id, 77);
	assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
	assert_memory_equal(data_page(f, 4), payload, sizeof(payload));
	release_queue(q);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	f->pipe_writer = -1;
	assert_no_grant_mapped(f);
}

/* stop(serve_published) takes on what the front end published without a kick, and answers. */
static void test_stop_serves_published(void **state)
{
	struct fixture *f = *state;
	struct pvring_blkif_response rsp;
	struct pvringd_queue *q;
	char why[160];
	uint64_t id;

	q = connect_queue(f, &f->image, why, sizeof(why));
	assert_non_null(q);
	for (id = 1; id <= 3; id++)
		submit(f, PVRING_BLKIF_OP_WRITE, id, id * 8, (uint32_t)id, 1, false);
	assert_true(DP_CALL(pvringd_queue_stop(q, true)));
	wait_callbacks(f, 0, 1);
	for (id = 1; id <= 3; id++) {
		rsp = wait_response(f);
		assert_int_equal(rsp.id, id);
		assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
	}
	/* Stopped: what is published now is not taken. */
	submit(f, PVRING_BLKIF_OP_WRITE, 4, 0, 0, 1, true);
	wait_callbacks(f, 0, 1);
	assert_false(pvring_front_consume(&f->front, &rsp));
	release_queue(q);
	assert_no_grant_mapped(f);
}

/*
 * A front end that only kicks: its port rests (stays masked a while) once its kicks keep
 * finding nothing, and a request it publishes afterwards is still answered.
 */
static void test_kick_storm_rests_the_port(void **state)
{
	struct fixture *f = *state;
	struct pvring_blkif_response rsp;
	struct pvringd_queue_snapshot s;
	struct pvringd_queue *q;
	char why[160];
	unsigned int i;

	q = connect_queue(f, &f->image, why, sizeof(why));
	assert_non_null(q);
	/* Kicks coalesce: wait for each to be taken before the next, until the port rests. */
	for (i = 0; i < 100000; i++) {
		assert_int_equal(pvring_local_guest_port_notify(&f->port), 0);
		pvringd_queue_snapshot(q, &s);
		if (s.counters.kick_rests)
			break;
	}
	assert_true(s.counters.kick_rests >= 1);
	assert_int_equal(s.counters.requests, 0);
	/* While it rests, and after: a real request is answered. */
	submit(f, PVRING_BLKIF_OP_READ, 5, 0, 0, 1, true);
	rsp = wait_response(f);
	assert_int_equal(rsp.id, 5);
	assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
	submit(f, PVRING_BLKIF_OP_READ, 6, 8, 0, 1, true);
	rsp = wait_response(f);
	assert_int_equal(rsp.id, 6);
	stop_and_release(f, q, 0);
	assert_no_grant_mapped(f);
}

/* ---- fairness: a ring kept full against one request on another ring, on one worker ---- */

/* A 44 KiB request on the aggressor's pages. */
static union pvring_blkif_request aggressor_pages_request(uint8_t op, uint64_t id, uint64_t sector)
{
	union pvring_blkif_request req = {
		.rw = { .op = op, .nr_segments = AGGRESSOR_SEGS, .id = id, .sector = sector }
	};
	uint32_t i;

	for (i = 0; i < AGGRESSOR_SEGS; i++)
		req.rw.seg[i] = (struct pvring_blkif_segment){ .gref = AGGRESSOR_FRAME + i,
							       .last_sect = 7 };
	return req;
}

struct aggressor {
	pthread_t thread;
	struct pvring_front *front;
	struct pvring_local_guest_port *port;
	atomic_bool stop;
	atomic_bool pause, paused; /* the victim measures: leave the ring alone */
	atomic_ulong answered, rounds;
	bool bad;
};

/*
 * Keep every slot of the ring busy with 44 KiB reads: refill as soon as answers come. Paused,
 * it touches nothing: the victim's thread then reads the ring, and no third thread competes
 * for the CPUs while it waits.
 */
static void *aggress(void *arg)
{
	struct aggressor *a = arg;
	union pvring_blkif_request req = aggressor_pages_request(PVRING_BLKIF_OP_READ, 0, 0);
	struct pvring_blkif_response rsp;
	while (!atomic_load(&a->stop)) {
		if (atomic_load(&a->pause)) {
			atomic_store(&a->paused, true);
			while (atomic_load(&a->pause) && !atomic_load(&a->stop))
				usleep(20);
			atomic_store(&a->paused, false);
			continue;
		}
		while (pvring_front_consume(a->front, &rsp)) {
			if (rsp.status)
				a->bad = true;
			atomic_fetch_add(&a->answered, 1);
		}
		while (pvring_front_free(a->front)) {
			req.rw.id++;
			req.rw.sector = (req.rw.id * 88) % (IMAGE_SECTORS - 88);
			pvring_front_produce(a->front, &req);
		}
		if (pvring_front_push(a->front))
			pvring_local_guest_port_notify(a->port);
		/* Ask for a kick when answers come, then look once more before yielding. */
		if (!pvring_front_final_check(a->front))
			sched_yield();
		atomic_fetch_add(&a->rounds, 1);
	}
	return NULL;
}

/*
 * A pass over a ring has a budget and busy rings take turns: while one ring is kept full,
 * another ring's request is answered before the full one gets more than a few passes' worth
 * of answers. The bound counts requests, not time: without the budget, one pass lasts as long
 * as the aggressor keeps up.
 */
#define VICTIM_READS 201

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

static void test_full_ring_cannot_starve_another(void **state)
{
	struct fixture *f = *state;
	struct aggressor a = { .front = &f->front2, .port = &f->port2 };
	uint32_t refs2[1u << RING2_ORDER];
	struct pvringd_queue_params p2 = {
		.name = "1/51728",
		.domid = f->guest.domid,
		.order = RING2_ORDER,
		.refs = refs2,
		.remote_port = PORT2,
		.limits = &f->limits,
		.image = &f->image,
	};
	struct pvringd_queue_snapshot sa, sv;
	struct pvringd_queue *victim, *aggressor;
	struct owner aggressor_owner = { 0 };
	unsigned long during[VICTIM_READS];
	char why[160];
	unsigned int i;

	for (i = 0; i < 1u << RING2_ORDER; i++)
		refs2[i] = RING2_REF + i;
	victim = connect_queue(f, &f->image, why, sizeof(why));
	assert_non_null(victim);
	aggressor =
		pvringd_queue_connect(f->dp, &p2, &owner_ops, &aggressor_owner, why, sizeof(why));
	assert_non_null(aggressor);
	aggressor_owner.q = aggressor;
	assert_int_equal(pthread_create(&a.thread, NULL, aggress, &a), 0);
	/* Until the aggressor is going... */
	while (atomic_load(&a.answered) < 1000)
		sched_yield();
	for (i = 0; i < VICTIM_READS; i++) {
		struct pvring_blkif_response rsp;
		unsigned long rounds = atomic_load(&a.rounds), before;

		/* A full ring ahead of the victim's request: the aggressor refilled it, then waits.
		 */
		while (atomic_load(&a.rounds) < rounds + 2)
			sched_yield();
		atomic_store(&a.pause, true);
		while (!atomic_load(&a.paused))
			sched_yield();
		/* Answers published on the aggressor's ring (it consumes none while paused). */
		before = pvring_front_unconsumed(&f->front2);
		submit(f, PVRING_BLKIF_OP_READ, 1000 + i, (i * 8) % IMAGE_SECTORS, 0, 1, true);
		while (!pvring_front_consume(&f->front, &rsp))
			sched_yield();
		during[i] = pvring_front_unconsumed(&f->front2) - before;
		atomic_store(&a.pause, false);
		assert_int_equal(rsp.id, 1000 + i);
		assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
	}
	atomic_store(&a.stop, true);
	pthread_join(a.thread, NULL);
	assert_false(a.bad);
	pvringd_queue_snapshot(victim, &sv);
	pvringd_queue_snapshot(aggressor, &sa);
	assert_int_equal(sv.worker, sa.worker); /* one worker: they share it */
	qsort(during, VICTIM_READS, sizeof(during[0]), cmp_ulong);
	print_message("aggressor answered %lu; while one victim request waited: median %lu, "
		      "most %lu; aggressor passes %llu, largest %llu requests\n",
		      atomic_load(&a.answered), during[VICTIM_READS / 2], during[VICTIM_READS - 1],
		      (unsigned long long)sa.counters.batches,
		      (unsigned long long)sa.counters.batch_max);
	/*
	 * A couple of passes' worth (32 requests at most each) and what was in flight; without
	 * the budget one pass takes what is left of the 512-slot ring. The median, not the
	 * worst: what is counted includes answers given while this thread waited for a CPU to
	 * see its own, and the machine may be busy with other tests.
	 */
	assert_true(during[VICTIM_READS / 2] <= 2 * 32);
	assert_true(sa.counters.batch_max <= 32);
	/* The victim kicks once per request: no kick storm, its port never rests. */
	assert_int_equal(sv.counters.kick_rests, 0);
	/* Stop both; the aggressor's ring still holds requests: idle comes once they are answered.
	 */
	assert_true(DP_CALL(pvringd_queue_stop(aggressor, false)));
	stop_and_release(f, victim, 0);
	for (i = 0; i < MAX_TURNS && !aggressor_owner.idle; i++)
		turn(f);
	assert_int_equal(aggressor_owner.idle, 1);
	release_queue(aggressor);
}

/*
 * A guest at its cap of bytes in flight consumes nothing more until its own requests complete:
 * six reads published at once, held in flight by a pipe, go two at a time under an 8 KiB cap.
 * All are answered in the end and nothing stays counted.
 */
static void test_guest_cap_bounds_bytes_in_flight(void **state)
{
	struct fixture *f = *state;
	struct pvringd_queue_snapshot s;
	struct pvringd_queue *q;
	uint8_t payload[4096];
	bool answered[6] = { false };
	struct pvring_image pipe_image;
	int pipe_fds[2];
	char why[160];
	unsigned int i, turns;

	assert_int_equal(pipe(pipe_fds), 0);
	f->pipe_writer = pipe_fds[1];
	pipe_image = f->image;
	pipe_image.fd = pipe_fds[0];
	q = connect_queue(f, &pipe_image, why, sizeof(why));
	if (!q)
		fail_msg("connect: %s", why);
	for (i = 0; i < 6; i++)
		submit(f, PVRING_BLKIF_OP_READ, 100 + i, 0, i, 1, false);
	/*
	 * Kicked whatever req_event says: the pass pvringd runs when the queue is added may
	 * already have taken the first and asked for a kick at the second.
	 */
	assert_int_equal(pvring_local_guest_port_notify(&f->port), 0);
	for (turns = 0; turns < MAX_TURNS; turns++) {
		pvringd_queue_snapshot(q, &s);
		if (s.waiting_for_guest_cap)
			break;
		turn(f);
	}
	/* Without the cap one pass takes everything published. */
	assert_true(s.waiting_for_guest_cap);
	assert_int_equal(s.ring.req_cons, 2);
	assert_int_equal(s.in_flight, 2);
	assert_int_equal(s.guest_bytes_in_flight, 8192);
	for (i = 0; i < 6; i++) {
		struct pvring_blkif_response rsp;

		memset(payload, 'a' + i, sizeof(payload));
		assert_int_equal(write(pipe_fds[1], payload, sizeof(payload)), sizeof(payload));
		rsp = wait_response(f);
		assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
		assert_true(rsp.id >= 100 && rsp.id < 106 && !answered[rsp.id - 100]);
		answered[rsp.id - 100] = true;
		assert_int_equal(((uint8_t *)data_page(f, (uint32_t)rsp.id - 100))[4095], 'a' + i);
		pvringd_queue_snapshot(q, &s);
		assert_true(s.in_flight <= 2);
		assert_true(s.guest_bytes_in_flight <= 8192);
	}
	pvringd_queue_snapshot(q, &s);
	assert_int_equal(s.ring.req_cons, 6);
	assert_int_equal(s.in_flight, 0);
	assert_int_equal(s.guest_bytes_in_flight, 0);
	assert_false(s.waiting_for_guest_cap);
	stop_and_release(f, q, 0);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	f->pipe_writer = -1;
	assert_no_grant_mapped(f);
}

/*
 * Whatever a guest's requests end in, what it has in flight comes back to nothing: writes
 * that fail (to an image opened read-only), flushes and discards (which move no data), and
 * reads and writes on two queues of the guest, served by two workers.
 */
static void test_guest_bytes_return_to_zero(void **state)
{
	struct fixture *f = *state;
	uint32_t refs2[1u << RING2_ORDER];
	struct pvringd_queue_params p2 = {
		.name = "1/51712",
		.domid = f->guest.domid,
		.queue = 1,
		.order = RING2_ORDER,
		.refs = refs2,
		.remote_port = PORT2,
		.limits = &f->limits,
		.image = &f->image,
	};
	union pvring_blkif_request req;
	struct pvringd_queue_snapshot s0, s1;
	struct pvringd_queue *q0, *q1;
	struct owner owner1 = { 0 };
	struct pvring_image ro_image;
	char why[160];
	unsigned int i, round;
	int ro_fd;

	f->limits.discard = true;
	for (i = 0; i < 1u << RING2_ORDER; i++)
		refs2[i] = RING2_REF + i;
	ro_fd = open(f->image_path, O_RDONLY);
	assert_true(ro_fd >= 0);
	ro_image = f->image;
	ro_image.fd = ro_fd;
	q0 = connect_queue(f, &ro_image, why, sizeof(why));
	if (!q0)
		fail_msg("connect queue 0: %s", why);
	q1 = DP_CALL(pvringd_queue_connect(f->dp, &p2, &owner_ops, &owner1, why, sizeof(why)));
	if (!q1)
		fail_msg("connect queue 1: %s", why);
	owner1.q = q1;
	pvringd_queue_snapshot(q0, &s0);
	pvringd_queue_snapshot(q1, &s1);
	assert_int_not_equal(s0.worker, s1.worker);
	for (round = 0; round < 20; round++) {
		uint64_t id = round * 10;

		/* Queue 0: a write the image refuses, then a read it serves. */
		submit(f, PVRING_BLKIF_OP_WRITE, id, 0, 0, 2, true);
		submit(f, PVRING_BLKIF_OP_READ, id + 1, 8, 2, 2, true);
		/* Queue 1: a 44 KiB write, a flush, a discard and a read, all published at once. */
		req = aggressor_pages_request(PVRING_BLKIF_OP_WRITE, id + 2, 64);
		publish(&f->front2, &f->port2, &req, false);
		memset(&req, 0, sizeof(req));
		req.rw = (struct pvring_blkif_rw){ .op = PVRING_BLKIF_OP_FLUSH_DISKCACHE,
						   .id = id + 3 };
		publish(&f->front2, &f->port2, &req, false);
		memset(&req, 0, sizeof(req));
		req.discard = (struct pvring_blkif_discard){ .op = PVRING_BLKIF_OP_DISCARD,
							     .id = id + 4,
							     .sector = 512,
							     .nr_sectors = 256 };
		publish(&f->front2, &f->port2, &req, false);
		req = aggressor_pages_request(PVRING_BLKIF_OP_READ, id + 5, 64);
		publish(&f->front2, &f->port2, &req, true);
		for (i = 0; i < 2; i++) {
			struct pvring_blkif_response rsp = wait_response(f);

			assert_int_equal(rsp.id, id + i);
			assert_int_equal(rsp.status,
					 i ? PVRING_BLKIF_RSP_OKAY : PVRING_BLKIF_RSP_ERROR);
		}
		for (i = 0; i < 4; i++) {
			struct pvring_blkif_response rsp = wait_response_on(f, &f->front2);

			assert_true(rsp.id >= id + 2 && rsp.id <= id + 5);
			assert_int_equal(rsp.status, PVRING_BLKIF_RSP_OKAY);
		}
	}
	pvringd_queue_snapshot(q0, &s0);
	pvringd_queue_snapshot(q1, &s1);
	assert_int_equal(s0.counters.errors, 20);
	assert_int_equal(s1.counters.errors, 0);
	assert_int_equal(s0.in_flight + s1.in_flight, 0);
	assert_int_equal(s0.guest_bytes_in_flight, 0);
	assert_int_equal(s1.guest_bytes_in_flight, 0);
	assert_true(DP_CALL(pvringd_queue_stop(q1, false)));
	stop_and_release(f, q0, 0);
	for (i = 0; i < MAX_TURNS && !owner1.idle; i++)
		turn(f);
	assert_int_equal(owner1.idle, 1);
	release_queue(q1);
	close(ro_fd);
}

static int setup_capped(void **state)
{
	guest_inflight_max = 8192;
	return setup(state);
}

static int teardown_capped(void **state)
{
	guest_inflight_max = 0;
	return teardown(state);
}

static int setup_one_worker(void **state)
{
	nr_workers = 1;
	return setup(state);
}

static int teardown_one_worker(void **state)
{
	nr_workers = 2;
	return teardown(state);
}

int main(void)

{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_verified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_answers_what_was_owed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring_fails_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_before_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_waits_for_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_serves_published, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_storm_rests_the_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_ring_cannot_starve_another,
						setup_one_worker, teardown_one_worker),
		cmocka_unit_test_setup_teardown(test_guest_cap_bounds_bytes_in_flight, setup_capped,
						teardown_capped),
		cmocka_unit_test_setup_teardown(test_guest_bytes_return_to_zero, setup_capped,
						teardown_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
