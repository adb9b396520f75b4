// SPDX-License-Identifier: MIT
#include "config.h"

#include "ring_peers.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/ring/pvring_ring.h"
#include "test_payload.h"
#include "xen_ring.h"

/*
 * A sleeper that finds work after this long without a kick reports a lost
 * wake-up. Not a performance limit: a correct peer kicks within microseconds,
 * so only a notification that was never sent can take this long.
 */
#define LOST_WAKEUP_MS 10000

/* One end of the ring, whichever implementation is underneath. */
struct end_ops {
	void (*attach)(struct ring_run *run, void *end);
	uint32_t (*produce)(void *end, const void *msgs, uint32_t n);
	bool (*push)(void *end); /* true: kick the peer */
	void (*publish)(void *end);
	uint32_t (*consume)(void *end, void *msgs, uint32_t max);
	bool (*final_check)(void *end);
	uint32_t (*pending)(void *end); /* unconsumed messages waiting */
	uint32_t (*room)(void *end); /* front: free slots; back: responses owed */
	const char *(*fault)(void *end); /* NULL if the ring is sound */
};

union end_state {
	struct pvring_front pv_front;
	struct pvring_back pv_back;
	xtest_front_ring_t xen_front;
	xtest_back_ring_t xen_back;
};

static const struct pvring_layout test_layout = PVRING_LAYOUT(struct test_req, struct test_rsp);

static size_t ring_bytes(unsigned int order)
{
	return (size_t)PVRING_PAGE_SIZE << order;
}

/* ---- our ring ---- */

static void pv_front_attach(struct ring_run *run, void *end)
{
	pvring_front_init(end, run->shared, run->order, &test_layout, run->start_index);
}

static uint32_t pv_front_produce(void *end, const void *msgs, uint32_t n)
{
	return pvring_front_produce_batch(end, msgs, n);
}

static bool pv_front_push(void *end)
{
	return pvring_front_push(end);
}

static void pv_front_publish(void *end)
{
	pvring_front_publish(end);
}

static uint32_t pv_front_consume(void *end, void *msgs, uint32_t max)
{
	return pvring_front_consume_batch(end, msgs, max);
}

static bool pv_front_final_check(void *end)
{
	return pvring_front_final_check(end);
}

static uint32_t pv_front_pending(void *end)
{
	return pvring_front_unconsumed(end);
}

static uint32_t pv_front_room(void *end)
{
	return pvring_front_free(end);
}

static const char *pv_front_fault(void *end)
{
	enum pvring_fault fault = pvring_front_fault(end);

	return fault ? pvring_fault_str(fault) : NULL;
}

static void pv_back_attach(struct ring_run *run, void *end)
{
	pvring_back_attach(end, run->shared, run->order, &test_layout);
}

static uint32_t pv_back_produce(void *end, const void *msgs, uint32_t n)
{
	return pvring_back_produce_batch(end, msgs, n);
}

static bool pv_back_push(void *end)
{
	return pvring_back_push(end);
}

static void pv_back_publish(void *end)
{
	pvring_back_publish(end);
}

static uint32_t pv_back_consume(void *end, void *msgs, uint32_t max)
{
	return pvring_back_consume_batch(end, msgs, max);
}

static bool pv_back_final_check(void *end)
{
	return pvring_back_final_check(end);
}

static uint32_t pv_back_pending(void *end)
{
	return pvring_back_unconsumed(end);
}

static uint32_t pv_back_room(void *end)
{
	return pvring_back_owed(end);
}

static const char *pv_back_fault(void *end)
{
	enum pvring_fault fault = pvring_back_fault(end);

	return fault ? pvring_fault_str(fault) : NULL;
}

/* ---- the Xen public macros, used the way Xen's and Linux's drivers use them ---- */

static void xen_front_attach(struct ring_run *run, void *end)
{
	xtest_sring_t *sring = run->shared;

	SHARED_RING_INIT(sring);
	sring->req_prod = sring->rsp_prod = run->start_index;
	sring->req_event = sring->rsp_event = run->start_index + 1;
	FRONT_RING_ATTACH((xtest_front_ring_t *)end, sring, run->start_index,
			  ring_bytes(run->order));
}

static uint32_t xen_front_produce(void *end, const void *msgs, uint32_t n)
{
	xtest_front_ring_t *ring = end;
	const struct test_req *reqs = msgs;
	uint32_t i;

	if (n > RING_FREE_REQUESTS(ring))
		n = RING_FREE_REQUESTS(ring);
	for (i = 0; i < n; i++)
		*RING_GET_REQUEST(ring, ring->req_prod_pvt + i) = reqs[i];
	ring->req_prod_pvt += n;
	return n;
}

static bool xen_front_push(void *end)
{
	xtest_front_ring_t *ring = end;
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(ring, notify);
	return notify;
}

static void xen_front_publish(void *end)
{
	RING_PUSH_REQUESTS((xtest_front_ring_t *)end);
}

static uint32_t xen_front_consume(void *end, void *msgs, uint32_t max)
{
	xtest_front_ring_t *ring = end;
	struct test_rsp *rsps = msgs;
	RING_IDX prod = ring->sring->rsp_prod;
	RING_IDX cons = ring->rsp_cons;
	uint32_t n = 0;

	xen_rmb(); /* responses are read only after rsp_prod */
	if (RING_RESPONSE_PROD_OVERFLOW(ring, prod))
		return 0;
	while (cons != prod && n < max) {
		RING_COPY_RESPONSE(ring, cons, &rsps[n]);
		cons++;
		n++;
	}
	ring->rsp_cons = cons;
	return n;
}

static bool xen_front_final_check(void *end)
{
	xtest_front_ring_t *ring = end;
	int more;

	RING_FINAL_CHECK_FOR_RESPONSES(ring, more);
	return more;
}

static uint32_t xen_front_pending(void *end)
{
	return RING_HAS_UNCONSUMED_RESPONSES((xtest_front_ring_t *)end);
}

static uint32_t xen_front_room(void *end)
{
	return RING_FREE_REQUESTS((xtest_front_ring_t *)end);
}

static void xen_back_attach(struct ring_run *run, void *end)
{
	BACK_RING_ATTACH((xtest_back_ring_t *)end, (xtest_sring_t *)run->shared, run->start_index,
			 ring_bytes(run->order));
}

static uint32_t xen_back_produce(void *end, const void *msgs, uint32_t n)
{
	xtest_back_ring_t *ring = end;
	const struct test_rsp *rsps = msgs;
	uint32_t i;

	for (i = 0; i < n; i++)
		*RING_GET_RESPONSE(ring, ring->rsp_prod_pvt + i) = rsps[i];
	ring->rsp_prod_pvt += n;
	return n;
}

static bool xen_back_push(void *end)
{
	xtest_back_ring_t *ring = end;
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(ring, notify);
	return notify;
}

static void xen_back_publish(void *end)
{
	RING_PUSH_RESPONSES((xtest_back_ring_t *)end);
}

/* As Linux's xen-blkback: read req_prod once, check it, copy each request. */
static uint32_t xen_back_consume(void *end, void *msgs, uint32_t max)
{
	xtest_back_ring_t *ring = end;
	struct test_req *reqs = msgs;
	RING_IDX prod = ring->sring->req_prod;
	RING_IDX cons = ring->req_cons;
	uint32_t n = 0;

	xen_rmb(); /* requests are read only after req_prod */
	if (RING_REQUEST_PROD_OVERFLOW(ring, prod))
		return 0;
	while (cons != prod && n < max && !RING_REQUEST_CONS_OVERFLOW(ring, cons)) {
		RING_COPY_REQUEST(ring, cons, &reqs[n]);
		cons++;
		n++;
	}
	ring->req_cons = cons;
	return n;
}

static bool xen_back_final_check(void *end)
{
	xtest_back_ring_t *ring = end;
	int more;

	RING_FINAL_CHECK_FOR_REQUESTS(ring, more);
	return more;
}

static uint32_t xen_back_pending(void *end)
{
	return RING_HAS_UNCONSUMED_REQUESTS((xtest_back_ring_t *)end);
}

static uint32_t xen_back_room(void *end)
{
	xtest_back_ring_t *ring = end;

	return ring->req_cons - ring->rsp_prod_pvt;
}

static const char *xen_front_fault(void *end)
{
	xtest_front_ring_t *ring = end;

	return RING_RESPONSE_PROD_OVERFLOW(ring, ring->sring->rsp_prod) ? "rsp_prod overflow"
									: NULL;
}

static const char *xen_back_fault(void *end)
{
	xtest_back_ring_t *ring = end;

	return RING_REQUEST_PROD_OVERFLOW(ring, ring->sring->req_prod) ? "req_prod overflow" : NULL;
}

static const struct end_ops front_ops[] = {
	[PEER_PVRING] = { pv_front_attach, pv_front_produce, pv_front_push, pv_front_publish,
			  pv_front_consume, pv_front_final_check, pv_front_pending, pv_front_room,
			  pv_front_fault },
	[PEER_XEN_MACROS] = { xen_front_attach, xen_front_produce, xen_front_push,
			      xen_front_publish, xen_front_consume, xen_front_final_check,
			      xen_front_pending, xen_front_room, xen_front_fault },
};

static const struct end_ops back_ops[] = {
	[PEER_PVRING] = { pv_back_attach, pv_back_produce, pv_back_push, pv_back_publish,
			  pv_back_consume, pv_back_final_check, pv_back_pending, pv_back_room,
			  pv_back_fault },
	[PEER_XEN_MACROS] = { xen_back_attach, xen_back_produce, xen_back_push, xen_back_publish,
			      xen_back_consume, xen_back_final_check, xen_back_pending,
			      xen_back_room, xen_back_fault },
};

const char *peer_impl_name(enum peer_impl impl)
{
	return impl == PEER_PVRING ? "pvring" : "xen-macros";
}

/* ---- the two threads ---- */

struct end_thread {
	struct ring_run *run;
	const struct end_ops *ops;
	union end_state state;
	struct peer_stats *stats;
	int my_doorbell, peer_doorbell;
	uint64_t rng;
	const char *name;
	pthread_barrier_t *start;
};

static void run_fail(struct ring_run *run, const char *fmt, ...)
{
	bool expected = false;
	uint64_t one = 1;
	va_list ap;

	if (atomic_compare_exchange_strong(&run->failed, &expected, true)) {
		va_start(ap, fmt);
		vsnprintf(run->error, sizeof(run->error), fmt, ap);
		va_end(ap);
	}
	/* Wake both ends so a sleeper sees the failure at once. */
	if (write(run->front_doorbell, &one, sizeof(one)) < 0 ||
	    write(run->back_doorbell, &one, sizeof(one)) < 0)
		perror("ring_run: eventfd write");
}

static uint32_t step_limit(struct end_thread *t)
{
	if (t->run->max_step == 0)
		return PEER_BATCH_MAX;
	return 1 + (uint32_t)(test_rand(&t->rng) % t->run->max_step);
}

static void kick(struct end_thread *t)
{
	uint64_t one = 1;

	if (write(t->peer_doorbell, &one, sizeof(one)) != sizeof(one))
		run_fail(t->run, "%s: eventfd write: %s", t->name, strerror(errno));
	t->stats->kicks_sent++;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Look for work for up to poll_us before sleeping; true if some arrived. */
static bool poll_for_work(struct end_thread *t)
{
	uint64_t deadline = now_ns() + (uint64_t)t->run->poll_us * 1000u;
	unsigned int spins = 0;

	for (;;) {
		if (t->ops->pending(&t->state))
			return true;
		cpu_relax();
		/* Read the clock now and then: it costs more than a look at the ring. */
		if (++spins % 64 == 0 && now_ns() >= deadline)
			return false;
	}
}

/* Nothing to do: final check, then sleep until kicked. False: stop. */
static bool idle(struct end_thread *t)
{
	const char *fault = t->ops->fault(&t->state);
	struct pollfd pfd = { .fd = t->my_doorbell, .events = POLLIN };
	uint64_t count;

	if (fault) {
		run_fail(t->run, "%s: ring fault: %s", t->name, fault);
		return false;
	}
	if (t->run->mode == PEER_BUSY_POLL) {
		cpu_relax();
		return !atomic_load_explicit(&t->run->failed, memory_order_relaxed);
	}
	if (t->run->poll_us && poll_for_work(t))
		return true;
	if (t->ops->final_check(&t->state))
		return true;
	t->stats->sleeps++;
	for (;;) {
		int ready = poll(&pfd, 1, LOST_WAKEUP_MS);

		if (atomic_load(&t->run->failed))
			return false;
		if (ready > 0)
			break;
		if (ready < 0 && errno != EINTR) {
			run_fail(t->run, "%s: poll: %s", t->name, strerror(errno));
			return false;
		}
		if (ready == 0 && t->ops->pending(&t->state)) {
			run_fail(t->run, "%s: lost wake-up: %u messages waiting, no kick in %d ms",
				 t->name, t->ops->pending(&t->state), LOST_WAKEUP_MS);
			return false;
		}
	}
	if (read(t->my_doorbell, &count, sizeof(count)) != sizeof(count)) {
		run_fail(t->run, "%s: eventfd read: %s", t->name, strerror(errno));
		return false;
	}
	return true;
}

static void publish(struct end_thread *t)
{
	if (t->run->mode == PEER_BUSY_POLL)
		t->ops->publish(&t->state);
	else if (t->ops->push(&t->state))
		kick(t);
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Best effort: an unpinned run is slower, not wrong. */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *front_main(void *arg)
{
	struct end_thread *t = arg;
	struct ring_run *run = t->run;
	struct test_req reqs[PEER_BATCH_MAX];
	struct test_rsp rsps[PEER_BATCH_MAX];
	uint64_t produced = 0, done = 0, begin;

	pin(run->cpu_front);
	pthread_barrier_wait(t->start);
	begin = now_ns();
	while (done < run->round_trips) {
		uint32_t n = t->ops->room(&t->state), got, i;
		uint32_t limit = step_limit(t);

		if (n > limit)
			n = limit;
		if (n > run->round_trips - produced)
			n = (uint32_t)(run->round_trips - produced);
		for (i = 0; i < n; i++)
			test_req_fill(&reqs[i], produced + i);
		if (n) {
			if (t->ops->produce(&t->state, reqs, n) != n) {
				run_fail(run, "front: ring refused %u requests it had room for", n);
				break;
			}
			produced += n;
			publish(t);
		}
		got = t->ops->consume(&t->state, rsps, step_limit(t));
		for (i = 0; i < got; i++) {
			uint64_t id = done + i;

			if (rsps[i].id != id || rsps[i].sum != test_req_expected_sum(id)) {
				run_fail(run,
					 "front: response %" PRIu64 " carries id %" PRIu64
					 " sum %#" PRIx64 ", expected sum %#" PRIx64,
					 id, rsps[i].id, rsps[i].sum, test_req_expected_sum(id));
				goto out;
			}
		}
		done += got;
		if (!n && !got && !idle(t))
			break;
	}
out:
	run->elapsed_ns = now_ns() - begin;
	t->stats->messages = produced;
	return NULL;
}

static void *back_main(void *arg)
{
	struct end_thread *t = arg;
	struct ring_run *run = t->run;
	struct test_req reqs[PEER_BATCH_MAX];
	struct test_rsp rsps[PEER_BATCH_MAX];
	uint64_t done = 0;

	pin(run->cpu_back);
	pthread_barrier_wait(t->start);
	while (done < run->round_trips) {
		uint32_t got = t->ops->consume(&t->state, reqs, step_limit(t)), i;

		if (!got) {
			if (!idle(t))
				break;
			continue;
		}
		for (i = 0; i < got; i++) {
			const struct test_req *req = &reqs[i];

			if (req->id != done + i || (run->verify_payload && !test_req_intact(req))) {
				run_fail(run,
					 "back: request %" PRIu64 " arrived damaged (id %" PRIu64
					 ")",
					 done + i, req->id);
				goto out;
			}
			rsps[i].id = req->id;
			rsps[i].sum = run->verify_payload ? test_req_sum(req)
							  : test_req_expected_sum(req->id);
		}
		/* Answer in one or several pushes, as a real back end completes I/O. */
		for (i = 0; i < got;) {
			uint32_t n = step_limit(t);

			if (n > got - i)
				n = got - i;
			if (t->ops->produce(&t->state, &rsps[i], n) != n) {
				run_fail(run, "back: ring refused %u responses it owed", n);
				goto out;
			}
			i += n;
			publish(t);
		}
		done += got;
	}
out:
	t->stats->messages = done;
	return NULL;
}

int ring_run(struct ring_run *run)
{
	struct end_thread *front, *back;
	pthread_barrier_t start;
	pthread_t threads[2];
	int ret = -1;

	run->error[0] = '\0';
	atomic_init(&run->failed, false);
	memset(&run->front, 0, sizeof(run->front));
	memset(&run->back, 0, sizeof(run->back));
	run->elapsed_ns = 0;
	if (run->order > PVRING_MAX_ORDER) {
		snprintf(run->error, sizeof(run->error), "order %u is too large", run->order);
		return -1;
	}
	/* Page-aligned and zeroed, like a granted page. */
	run->shared = mmap(NULL, ring_bytes(run->order), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	front = calloc(1, sizeof(*front));
	back = calloc(1, sizeof(*back));
	run->front_doorbell = eventfd(0, EFD_CLOEXEC);
	run->back_doorbell = eventfd(0, EFD_CLOEXEC);
	if (run->shared == MAP_FAILED || !front || !back || run->front_doorbell < 0 ||
	    run->back_doorbell < 0) {
		snprintf(run->error, sizeof(run->error), "set-up failed: %s", strerror(errno));
		goto out;
	}
	*front = (struct end_thread){ .run = run,
				      .ops = &front_ops[run->front_impl],
				      .stats = &run->front,
				      .my_doorbell = run->front_doorbell,
				      .peer_doorbell = run->back_doorbell,
				      .rng = run->seed | 1,
				      .name = "front",
				      .start = &start };
	*back = (struct end_thread){ .run = run,
				     .ops = &back_ops[run->back_impl],
				     .stats = &run->back,
				     .my_doorbell = run->back_doorbell,
				     .peer_doorbell = run->front_doorbell,
				     .rng = (run->seed * 31) | 1,
				     .name = "back",
				     .start = &start };
	/* The front end initialises the shared page before the back end attaches. */
	front->ops->attach(run, &front->state);
	back->ops->attach(run, &back->state);
	pthread_barrier_init(&start, NULL, 2);
	if (pthread_create(&threads[0], NULL, front_main, front)) {
		snprintf(run->error, sizeof(run->error), "pthread_create failed");
		pthread_barrier_destroy(&start);
		goto out;
	}
	if (pthread_create(&threads[1], NULL, back_main, back)) {
		/* The front end waits at the barrier for a partner: give it one. */
		run_fail(run, "pthread_create failed");
		pthread_barrier_wait(&start);
		pthread_join(threads[0], NULL);
		pthread_barrier_destroy(&start);
		goto out;
	}
	pthread_join(threads[0], NULL);
	pthread_join(threads[1], NULL);
	pthread_barrier_destroy(&start);
	if (!atomic_load(&run->failed))
		ret = 0;
out:
	if (run->front_doorbell >= 0)
		close(run->front_doorbell);
	if (run->back_doorbell >= 0)
		close(run->back_doorbell);
	if (run->shared != MAP_FAILED)
		munmap(run->shared, ring_bytes(run->order));
	free(front);
	free(back);
	return ret;
}
