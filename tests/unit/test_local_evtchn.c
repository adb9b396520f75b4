// SPDX-License-Identifier: MIT
/*
 * The local platform's event channels with real eventfds and epoll: binding,
 * kicks both ways, masking until unmask without losing a kick; the hypervisor's
 * offers, a port unbound again when the back end lets go or goes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/platform/local_evtchn.h"

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* The guest hands its port over as SCM_RIGHTS would: duplicates of its fds. */
static void offer(struct pvring_local_evtchn_offers *o, uint32_t domid,
		  const struct pvring_local_guest_port *gp)
{
	assert_int_equal(pvring_local_evtchn_offer(o, domid, gp->port, dup(gp->kick_back),
						   dup(gp->kick_front)),
			 0);
}

/* The handle's source: the offers table, in this process. */
static struct pvring_local_evtchn_source source;

static void open_handle(struct pvring_local_evtchn_offers *o, struct pvring_local_evtchn *h)
{
	pvring_local_evtchn_offers_init(o);
	pvring_local_evtchn_offers_source(o, &source);
	assert_int_equal(pvring_local_evtchn_open(h, &source), 0);
}

static void close_handle(struct pvring_local_evtchn_offers *o, struct pvring_local_evtchn *h)
{
	pvring_local_evtchn_close(h);
	pvring_local_evtchn_offers_destroy(o);
}

static void test_kicks_and_masking(void **state)
{
	struct pvring_local_guest_port gp;
	struct pvring_local_evtchn_offers o;
	struct pvring_local_evtchn h;
	int port;

	(void)state;
	open_handle(&o, &h);
	assert_int_equal(pvring_local_guest_port_alloc(&gp, 17), 0);
	assert_int_equal(pvring_local_evtchn_bind_interdomain(&h, 3, 17), -ENOENT);
	offer(&o, 3, &gp);
	assert_int_equal(pvring_local_evtchn_bind_interdomain(&h, 4, 17), -ENOENT);
	port = pvring_local_evtchn_bind_interdomain(&h, 3, 17);
	assert_true(port > 0);
	/* A port binds once. */
	assert_int_equal(pvring_local_evtchn_bind_interdomain(&h, 3, 17), -EBUSY);

	assert_false(readable(pvring_local_evtchn_fd(&h)));
	assert_int_equal(pvring_local_evtchn_pending(&h), -EAGAIN);
	assert_int_equal(pvring_local_guest_port_notify(&gp), 0);
	assert_int_equal(pvring_local_guest_port_notify(&gp), 0);
	assert_true(readable(pvring_local_evtchn_fd(&h)));
	assert_int_equal(pvring_local_evtchn_pending(&h), port);
	/* Masked now: a further kick is held, not delivered... */
	assert_int_equal(pvring_local_guest_port_notify(&gp), 0);
	assert_false(readable(pvring_local_evtchn_fd(&h)));
	assert_int_equal(pvring_local_evtchn_pending(&h), -EAGAIN);
	/* ...until unmask, and not lost. */
	assert_int_equal(pvring_local_evtchn_unmask(&h, (uint32_t)port), 0);
	assert_true(readable(pvring_local_evtchn_fd(&h)));
	assert_int_equal(pvring_local_evtchn_pending(&h), port);
	assert_int_equal(pvring_local_evtchn_unmask(&h, (uint32_t)port), 0);
	/* Kicks coalesce: two before one pending() are one event. */
	assert_false(readable(pvring_local_evtchn_fd(&h)));

	/* The other way. */
	assert_false(readable(gp.kick_front));
	assert_int_equal(pvring_local_evtchn_notify(&h, (uint32_t)port), 0);
	assert_true(readable(gp.kick_front));
	pvring_local_guest_port_ack(&gp);
	assert_false(readable(gp.kick_front));

	assert_int_equal(pvring_local_evtchn_unbind(&h, (uint32_t)port), 0);
	assert_int_equal(pvring_local_evtchn_notify(&h, (uint32_t)port), -ENOENT);
	assert_int_equal(pvring_local_evtchn_unmask(&h, (uint32_t)port), -ENOENT);
	assert_int_equal(pvring_local_evtchn_unbind(&h, (uint32_t)port), -ENOENT);
	pvring_local_guest_port_free(&gp);
	close_handle(&o, &h);
}

static void test_ports_are_told_apart(void **state)
{
	struct pvring_local_guest_port a, b;
	struct pvring_local_evtchn_offers o;
	struct pvring_local_evtchn h;
	int pa, pb;

	(void)state;
	open_handle(&o, &h);
	assert_int_equal(pvring_local_guest_port_alloc(&a, 5), 0);
	assert_int_equal(pvring_local_guest_port_alloc(&b, 5), 0);
	offer(&o, 1, &a);
	offer(&o, 2, &b); /* same port number, another domain */
	assert_int_equal(pvring_local_evtchn_offer(&o, 2, 5, dup(b.kick_back), dup(b.kick_front)),
			 -EEXIST);
	pa = pvring_local_evtchn_bind_interdomain(&h, 1, 5);
	pb = pvring_local_evtchn_bind_interdomain(&h, 2, 5);
	assert_true(pa > 0 && pb > 0 && pa != pb);
	assert_int_equal(pvring_local_guest_port_notify(&b), 0);
	assert_int_equal(pvring_local_evtchn_pending(&h), pb);
	assert_int_equal(pvring_local_evtchn_pending(&h), -EAGAIN);
	assert_int_equal(pvring_local_guest_port_notify(&a), 0);
	assert_int_equal(pvring_local_evtchn_pending(&h), pa);
	assert_int_equal(pvring_local_evtchn_notify(&h, (uint32_t)pa), 0);
	assert_true(readable(a.kick_front));
	assert_false(readable(b.kick_front));
	pvring_local_guest_port_free(&a);
	pvring_local_guest_port_free(&b);
	close_handle(&o, &h);
}

static void test_withdraw(void **state)
{
	struct pvring_local_guest_port gp;
	struct pvring_local_evtchn_offers o;
	struct pvring_local_evtchn h;

	(void)state;
	open_handle(&o, &h);
	assert_int_equal(pvring_local_guest_port_alloc(&gp, 9), 0);
	offer(&o, 6, &gp);
	pvring_local_evtchn_withdraw(&o, 6);
	assert_int_equal(pvring_local_evtchn_bind_interdomain(&h, 6, 9), -ENOENT);
	pvring_local_guest_port_free(&gp);
	close_handle(&o, &h);
}

/*
 * A port the back end lets go of, or that a back end that went away had bound, is unbound
 * again: the next binding gets the guest's same doorbells, kicks still arriving.
 */
static void test_port_bound_again(void **state)
{
	struct pvring_local_guest_port gp;
	struct pvring_local_evtchn_offers o;
	struct pvring_local_evtchn h, next;
	int port;

	(void)state;
	open_handle(&o, &h);
	assert_int_equal(pvring_local_guest_port_alloc(&gp, 4), 0);
	offer(&o, 5, &gp);
	port = pvring_local_evtchn_bind_interdomain(&h, 5, 4);
	assert_true(port > 0);
	assert_int_equal(pvring_local_evtchn_unbind(&h, (uint32_t)port), 0);
	port = pvring_local_evtchn_bind_interdomain(&h, 5, 4);
	assert_true(port > 0);
	assert_int_equal(pvring_local_guest_port_notify(&gp), 0);
	assert_int_equal(pvring_local_evtchn_pending(&h), port);
	/* The back end goes without unbinding (killed): every port it had is unbound. */
	assert_int_equal(pvring_local_evtchn_offers_unbind_all(&o), 1);
	assert_int_equal(pvring_local_evtchn_offers_unbind_all(&o), 0);
	assert_int_equal(pvring_local_evtchn_open(&next, &source), 0);
	port = pvring_local_evtchn_bind_interdomain(&next, 5, 4);
	assert_true(port > 0);
	assert_int_equal(pvring_local_guest_port_notify(&gp), 0);
	assert_true(readable(pvring_local_evtchn_fd(&next)));
	assert_int_equal(pvring_local_evtchn_pending(&next), port);
	assert_int_equal(pvring_local_evtchn_notify(&next, (uint32_t)port), 0);
	assert_true(readable(gp.kick_front));
	pvring_local_evtchn_close(&next);
	pvring_local_guest_port_free(&gp);
	close_handle(&o, &h);
}

/* What a guest hands over must be a doorbell, and only so many of them. */
static void test_bad_offers(void **state)
{
	struct pvring_local_guest_port gp;
	struct pvring_local_evtchn_offers o;
	struct pvring_local_evtchn h;
	int pipefd[2], probe;
	uint32_t port;

	(void)state;
	open_handle(&o, &h);
	assert_int_equal(pipe(pipefd), 0);
	/* A pipe could block the back end's kick: refused, and both descriptors closed. */
	assert_int_equal(pvring_local_evtchn_offer(&o, 2, 1, pipefd[0], pipefd[1]), -EBADF);
	assert_int_equal(fcntl(pipefd[0], F_GETFD), -1);
	assert_int_equal(fcntl(pipefd[1], F_GETFD), -1);
	assert_int_equal(pvring_local_evtchn_bind_interdomain(&h, 2, 1), -ENOENT);

	/* A blocking eventfd is made nonblocking on the hypervisor's side. */
	assert_int_equal(pvring_local_guest_port_alloc(&gp, 7), 0);
	assert_int_equal(fcntl(gp.kick_front, F_SETFL, 0), 0);
	offer(&o, 2, &gp);
	assert_true(fcntl(gp.kick_front, F_GETFL) & O_NONBLOCK);
	pvring_local_guest_port_free(&gp);

	/* 64 ports per guest, no more; another guest is not affected. */
	for (port = 100; port < 163; port++) {
		assert_int_equal(pvring_local_guest_port_alloc(&gp, port), 0);
		offer(&o, 2, &gp);
		pvring_local_guest_port_free(&gp);
	}
	assert_int_equal(pvring_local_guest_port_alloc(&gp, 163), 0);
	probe = dup(gp.kick_back);
	assert_int_equal(pvring_local_evtchn_offer(&o, 2, 163, probe, dup(gp.kick_front)), -ENOSPC);
	assert_int_equal(fcntl(probe, F_GETFD), -1);
	offer(&o, 3, &gp);
	pvring_local_guest_port_free(&gp);
	close_handle(&o, &h);
}

/*
 * The main thread binds and unbinds on a handle whose owner (a data-plane thread) loops on
 * pending and unmask meanwhile: neither sees a binding half made or freed (AddressSanitizer
 * builds check), and kicks on the port that stays bound keep coming.
 */
struct owner_loop {
	struct pvring_local_evtchn *h;
	int steady_port;
	atomic_bool stop;
	atomic_uint seen;
};

static void *owner_main(void *arg)
{
	struct owner_loop *ol = arg;
	struct pollfd p = { .fd = pvring_local_evtchn_fd(ol->h), .events = POLLIN };

	while (!atomic_load(&ol->stop)) {
		int port;

		if (poll(&p, 1, 10) <= 0)
			continue;
		while ((port = pvring_local_evtchn_pending(ol->h)) >= 0) {
			if (port == ol->steady_port)
				atomic_fetch_add(&ol->seen, 1);
			pvring_local_evtchn_unmask(ol->h, (uint32_t)port);
		}
	}
	return NULL;
}

static void test_bind_while_owner_waits(void **state)
{
	struct pvring_local_guest_port steady, churn;
	struct pvring_local_evtchn_offers o;
	struct pvring_local_evtchn h;
	struct owner_loop ol = { .h = &h };
	unsigned int i, seen;
	pthread_t owner;

	(void)state;
	open_handle(&o, &h);
	assert_int_equal(pvring_local_guest_port_alloc(&steady, 1), 0);
	offer(&o, 7, &steady);
	ol.steady_port = pvring_local_evtchn_bind_interdomain(&h, 7, 1);
	assert_true(ol.steady_port > 0);
	assert_int_equal(pthread_create(&owner, NULL, owner_main, &ol), 0);
	for (i = 0; i < 500; i++) {
		int port;

		assert_int_equal(pvring_local_guest_port_alloc(&churn, 2), 0);
		offer(&o, 8, &churn);
		port = pvring_local_evtchn_bind_interdomain(&h, 8, 2);
		assert_true(port > ol.steady_port);
		assert_int_equal(pvring_local_guest_port_notify(&churn), 0);
		assert_int_equal(pvring_local_guest_port_notify(&steady), 0);
		assert_int_equal(pvring_local_evtchn_unbind(&h, (uint32_t)port), 0);
		/* The guest closes its port: the hypervisor forgets it. */
		pvring_local_evtchn_withdraw(&o, 8);
		pvring_local_guest_port_free(&churn);
	}
	/* The last kick on the steady port is seen: wait for it, however long the owner takes. */
	seen = atomic_load(&ol.seen);
	assert_int_equal(pvring_local_guest_port_notify(&steady), 0);
	while (atomic_load(&ol.seen) == seen)
		sched_yield();
	atomic_store(&ol.stop, true);
	pthread_join(owner, NULL);
	pvring_local_guest_port_free(&steady);
	close_handle(&o, &h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kicks_and_masking),
		cmocka_unit_test(test_ports_are_told_apart),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test(test_port_bound_again),
		cmocka_unit_test(test_bad_offers),
		cmocka_unit_test(test_bind_while_owner_waits),
	};

	return cmocka_run_group_tests_name("local event channels", tests, NULL, NULL);
}
