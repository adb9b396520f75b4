// SPDX-License-Identifier: MIT
/*
 * The local platform end to end in one process: pvring-stored runs as a real
 * process; a guest (a thread standing in for a frontend process) registers
 * over the registry socket, offers a port and grants pages; the platform,
 * driven by its event loop as in pvringd, maps, binds and kicks; the guest
 * leaves and the store releases it. Bad registrations are refused with a
 * reason while other guests carry on.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <xenstore.h>

#include "daemon/platform/local_registry.h"
#include "daemon/platform/platform_local.h"
#include "tests/lib/fd_limit.h"
#include "tests/lib/local_platform_env.h"

struct fixture {
	struct local_platform_env env;
};

struct guest_thread {
	pthread_t thread;
	const char *registry;
	uint32_t frames, table_frames;
	struct pvring_local_guest guest;
	struct pvring_local_guest_port port;
	int result;
	const char *why;
	atomic_bool done;
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	*state = f;
	return local_platform_env_start(&f->env);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int ret;

	ret = local_platform_env_stop(&f->env);
	test_free(f);
	return ret;
}

/* What a frontend does first: register, offer an event channel, grant two pages. */
static void *guest_main(void *arg)
{
	struct guest_thread *g = arg;

	g->result = pvring_local_guest_register(&g->guest, g->registry, g->frames, g->table_frames,
						&g->why);
	if (!g->result)
		g->result = pvring_local_guest_port_alloc(&g->port, 5);
	if (!g->result)
		g->result = pvring_local_guest_offer_port(&g->guest, &g->port);
	if (!g->result) {
		strcpy(pvring_local_mem_frame(&g->guest.mem, 3), "hello from the guest");
		g->result = pvring_local_grant(&g->guest.mem, 8, 0, 3, false) ||
			    pvring_local_grant(&g->guest.mem, 9, 0, 4, true);
	}
	atomic_store(&g->done, true);
	return NULL;
}

/* Run pvringd's side (the event loop) until the guest thread is through. */
static void run_guest(struct fixture *f, struct guest_thread *g)
{
	g->registry = f->env.registry;
	assert_int_equal(pthread_create(&g->thread, NULL, guest_main, g), 0);
	while (!atomic_load(&g->done))
		event_base_loop(f->env.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_join(g->thread, NULL);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void test_guest_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct guest_thread g = { .frames = 64, .table_frames = 1 };
	struct xs_handle *xs = pvring_platform_store(f->env.plat);
	const uint32_t rw_ref = 8, ro_ref = 9;
	struct pvring_mapping m, two, refused;
	const uint32_t both[2] = { rw_ref, ro_ref };
	void *pages[2];
	struct pvring_evtchn *e;
	const char *why = NULL;
	char home[64], *page;
	unsigned int len;
	int port;

	run_guest(f, &g);
	if (g.result)
		fail_msg("guest: %d (%s)", g.result, g.why ? g.why : "");
	assert_true(g.guest.domid >= 1);
	assert_string_equal(pvring_platform_name(f->env.plat), "local");
	assert_true(xs_is_domain_introduced(xs, g.guest.domid));
	/* Its home in the store exists. */
	snprintf(home, sizeof(home), "/local/domain/%u", g.guest.domid);
	page = xs_read(xs, XBT_NULL, home, &len);
	assert_non_null(page);
	free(page);

	/* Grants: what the guest allowed, and nothing more. */
	assert_int_equal(pvring_map(f->env.plat, g.guest.domid, 1, &rw_ref, true, &m, &why), 0);
	page = m.addr;
	assert_int_equal(m.count, 1);
	assert_true(m.writable);
	assert_string_equal(page, "hello from the guest");
	assert_int_equal(pvring_map(f->env.plat, g.guest.domid, 1, &ro_ref, true, &refused, &why),
			 -EACCES);
	assert_string_equal(why, "read-only grant cannot be mapped writable");
	assert_int_equal(
		pvring_map(f->env.plat, g.guest.domid + 1, 1, &rw_ref, false, &refused, &why),
		-ENOENT);
	assert_string_equal(why, "no such domain");
	/* Two pages at consecutive addresses, one mapping; undone by the mapping alone. */
	assert_int_equal(pvring_map(f->env.plat, g.guest.domid, 2, both, false, &two, &why), 0);
	assert_string_equal(two.addr, "hello from the guest");
	assert_int_equal(two.count, 2);
	pvring_unmap(f->env.plat, &two);
	assert_null(two.addr);
	pvring_unmap(f->env.plat, &two); /* a zeroed mapping: nothing */
	/* Page by page: the same grants, each page where pages[] says; undone the same way. */
	assert_int_equal(
		pvring_map_pages(f->env.plat, g.guest.domid, 2, both, false, pages, &two, &why), 0);
	assert_string_equal(pages[0], "hello from the guest");
	assert_ptr_equal(two.addr, pages[0]);
	assert_non_null(pages[1]);
	pvring_unmap(f->env.plat, &two);
	assert_null(two.addr);
	/* All or nothing: the read-only grant refuses a writable map of both... */
	assert_int_equal(
		pvring_map_pages(f->env.plat, g.guest.domid, 2, both, true, pages, &refused, &why),
		-EACCES);
	assert_string_equal(why, "read-only grant cannot be mapped writable");
	assert_int_equal(pvring_map_pages(f->env.plat, g.guest.domid + 1, 2, both, false, pages,
					  &refused, &why),
			 -ENOENT);

	/* The doorbells, both ways. */
	e = pvring_evtchn_open(f->env.plat, &why);
	assert_non_null(e);
	port = pvring_evtchn_bind(e, g.guest.domid, 5);
	assert_true(port > 0);
	assert_int_equal(pvring_local_guest_port_notify(&g.port), 0);
	assert_true(readable(pvring_evtchn_fd(e)));
	assert_int_equal(pvring_evtchn_pending(e), port);
	assert_int_equal(pvring_evtchn_unmask(e, (uint32_t)port), 0);
	assert_int_equal(pvring_evtchn_notify(e, (uint32_t)port), 0);
	assert_true(readable(g.port.kick_front));

	/* The guest leaves (as if its process died): released from the store... */
	pvring_local_guest_leave(&g.guest);
	while (xs_is_domain_introduced(xs, g.guest.domid))
		event_base_loop(f->env.base, EVLOOP_ONCE);
	assert_null(xs_read(xs, XBT_NULL, home, &len));
	assert_int_equal(pvring_map(f->env.plat, g.guest.domid, 1, &rw_ref, false, &refused, &why),
			 -ENOENT);
	/* ...while what pvringd still has mapped stays valid until it lets go. */
	assert_string_equal(page, "hello from the guest");
	pvring_unmap(f->env.plat, &m);
	pvring_evtchn_unbind(e, (uint32_t)port);
	pvring_evtchn_close(e);
	pvring_local_guest_port_free(&g.port);
}

/* Two handles, as two data-plane threads have: each sees its own ports' kicks, and only them. */
static void test_evtchn_handles(void **state)
{
	struct fixture *f = *state;
	struct guest_thread g1 = { .frames = 16, .table_frames = 1 };
	struct guest_thread g2 = { .frames = 16, .table_frames = 1 };
	struct pvring_evtchn *a, *b;
	const char *why = NULL;
	int pa, pb;

	run_guest(f, &g1);
	run_guest(f, &g2);
	assert_int_equal(g1.result, 0);
	assert_int_equal(g2.result, 0);
	a = pvring_evtchn_open(f->env.plat, &why);
	b = pvring_evtchn_open(f->env.plat, &why);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_not_equal(pvring_evtchn_fd(a), pvring_evtchn_fd(b));
	pa = pvring_evtchn_bind(a, g1.guest.domid, 5);
	/* An offer binds once, whichever handle asks. */
	assert_int_equal(pvring_evtchn_bind(b, g1.guest.domid, 5), -ENOENT);
	pb = pvring_evtchn_bind(b, g2.guest.domid, 5);
	assert_true(pa > 0);
	assert_true(pb > 0);
	/* Local ports are the platform's: never the same number on two handles. */
	assert_int_not_equal(pa, pb);
	assert_int_equal(pvring_local_guest_port_notify(&g2.port), 0);
	assert_false(readable(pvring_evtchn_fd(a)));
	assert_true(readable(pvring_evtchn_fd(b)));
	assert_int_equal(pvring_evtchn_pending(b), pb);
	assert_int_equal(pvring_evtchn_pending(a), -EAGAIN);
	/* A handle knows only its own ports. */
	assert_int_equal(pvring_evtchn_notify(a, (uint32_t)pb), -ENOENT);
	assert_int_equal(pvring_evtchn_unmask(a, (uint32_t)pb), -ENOENT);
	assert_int_equal(pvring_evtchn_unmask(b, (uint32_t)pb), 0);
	assert_int_equal(pvring_local_guest_port_notify(&g1.port), 0);
	assert_true(readable(pvring_evtchn_fd(a)));
	assert_int_equal(pvring_evtchn_pending(a), pa);
	/* Closing a handle unbinds its ports. */
	pvring_evtchn_close(a);
	pvring_evtchn_close(b);
	pvring_local_guest_leave(&g1.guest);
	pvring_local_guest_leave(&g2.guest);
	pvring_local_guest_port_free(&g1.port);
	pvring_local_guest_port_free(&g2.port);
}

struct mapper {
	pthread_t thread;
	struct pvring_platform *plat;
	uint32_t domid;
	atomic_bool *stop;
	atomic_uint maps;
	int err;
};

static void *map_loop(void *arg)
{
	static const uint32_t refs[2] = { 8, 9 };
	struct mapper *mp = arg;
	const char *why;

	while (!atomic_load(mp->stop)) {
		struct pvring_mapping one, two, paged;
		void *pages[2];

		if (pvring_map(mp->plat, mp->domid, 1, &refs[0], true, &one, &why))
			break;
		if (pvring_map(mp->plat, mp->domid, 2, refs, false, &two, &why)) {
			pvring_unmap(mp->plat, &one);
			break;
		}
		if (pvring_map_pages(mp->plat, mp->domid, 2, refs, false, pages, &paged, &why)) {
			pvring_unmap(mp->plat, &two);
			pvring_unmap(mp->plat, &one);
			break;
		}
		if (strcmp(one.addr, "hello from the guest") || strcmp(two.addr, one.addr) ||
		    strcmp(pages[0], one.addr))
			mp->err = -EIO;
		pvring_unmap(mp->plat, &paged);
		pvring_unmap(mp->plat, &two);
		pvring_unmap(mp->plat, &one);
		atomic_fetch_add(&mp->maps, 1);
	}
	return NULL;
}

/*
 * Maps and unmaps from several threads (the data plane's workers) while the guest leaves on
 * the main loop: every mapping taken stays readable until it is undone, the domain is freed
 * once, after the last unmap (AddressSanitizer builds check the rest).
 */
static void test_map_from_threads(void **state)
{
	struct fixture *f = *state;
	struct guest_thread g = { .frames = 64, .table_frames = 1 };
	struct xs_handle *xs = pvring_platform_store(f->env.plat);
	struct mapper mappers[4];
	atomic_bool stop = false;
	unsigned int i;

	run_guest(f, &g);
	assert_int_equal(g.result, 0);
	for (i = 0; i < 4; i++) {
		mappers[i] = (struct mapper){ .plat = f->env.plat,
					      .domid = g.guest.domid,
					      .stop = &stop };
		assert_int_equal(pthread_create(&mappers[i].thread, NULL, map_loop, &mappers[i]),
				 0);
	}
	/* Until every thread has mapped a few times... */
	for (i = 0; i < 4; i++)
		while (atomic_load(&mappers[i].maps) < 50)
			sched_yield();
	/* ...then the guest goes while they keep at it: their maps start failing, not crashing. */
	pvring_local_guest_leave(&g.guest);
	while (xs_is_domain_introduced(xs, g.guest.domid))
		event_base_loop(f->env.base, EVLOOP_ONCE);
	atomic_store(&stop, true);
	for (i = 0; i < 4; i++) {
		pthread_join(mappers[i].thread, NULL);
		assert_int_equal(mappers[i].err, 0);
	}
	pvring_local_guest_port_free(&g.port);
}

static void test_bad_registrations(void **state)
{
	struct fixture *f = *state;
	struct guest_thread too_big = { .frames = (1u << 20) + 1, .table_frames = 1 };
	struct guest_thread bad_table = { .frames = 4, .table_frames = 4 };
	struct guest_thread good = { .frames = 16, .table_frames = 1 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint32_t garbage[5] = { 0xdeadbeef, 1, 1, 16, 1 };
	struct pvring_local_welcome welcome;
	unsigned int nr_fds;
	int sock, unused;

	/* The guest side refuses a table as large as its memory before asking. */
	run_guest(f, &bad_table);
	assert_int_equal(bad_table.result, -EINVAL);

	run_guest(f, &too_big);
	assert_int_equal(too_big.result, -E2BIG);
	assert_string_equal(too_big.why, "guest memory or grant table larger than pvringd accepts");

	/* A hello that is not one: refused, connection closed. */
	strcpy(sun.sun_path, f->env.registry);
	sock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(connect(sock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(pvring_local_send(sock, garbage, sizeof(garbage), NULL, 0), 0);
	while (!readable(sock))
		event_base_loop(f->env.base, EVLOOP_ONCE);
	assert_int_equal(pvring_local_recv(sock, &welcome, sizeof(welcome), &unused, 0, &nr_fds),
			 sizeof(welcome));
	assert_int_equal(welcome.status, -EPROTO);
	assert_string_equal(welcome.why, "malformed hello");
	assert_int_equal(pvring_local_recv(sock, &welcome, sizeof(welcome), &unused, 0, &nr_fds),
			 0);
	close(sock);

	/* A message larger than any in the protocol: refused with that reason. */
	sock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(connect(sock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	{
		char big[512] = { 0 };

		assert_int_equal(pvring_local_send(sock, big, sizeof(big), NULL, 0), 0);
	}
	while (!readable(sock))
		event_base_loop(f->env.base, EVLOOP_ONCE);
	assert_int_equal(pvring_local_recv(sock, &welcome, sizeof(welcome), &unused, 0, &nr_fds),
			 sizeof(welcome));
	assert_int_equal(welcome.status, -EMSGSIZE);
	assert_string_equal(welcome.why, "registry message larger than any the protocol has");
	close(sock);

	/* Others still get in. */
	run_guest(f, &good);
	assert_int_equal(good.result, 0);
	pvring_local_guest_leave(&good.guest);
	pvring_local_guest_port_free(&good.port);
}

/* A raw connection to the registry, as a guest's first step. */
static int connect_registry(struct fixture *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(sock >= 0);
	strcpy(sun.sun_path, f->env.registry);
	assert_int_equal(connect(sock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return sock;
}

/*
 * Run the loop until sock has the refusal, and check it; then the registry hangs up. Each turn
 * waits for something to do: a loop that keeps finding the registry socket readable without
 * answering (the accept that fails for want of a descriptor) runs out of turns.
 */
static void expect_refusal(struct fixture *f, int sock, int status, const char *why)
{
	struct pvring_local_welcome welcome;
	unsigned int nr_fds, turns = 0;
	int unused;

	while (!readable(sock)) {
		if (++turns > 1000)
			fail_msg("no answer from the registry in 1000 loop turns");
		event_base_loop(f->env.base, EVLOOP_ONCE);
	}
	assert_int_equal(pvring_local_recv(sock, &welcome, sizeof(welcome), &unused, 0, &nr_fds),
			 sizeof(welcome));
	assert_int_equal(welcome.status, status);
	assert_string_equal(welcome.why, why);
	assert_int_equal(pvring_local_recv(sock, &welcome, sizeof(welcome), &unused, 0, &nr_fds),
			 0);
}

static void set_limits(struct fixture *f, unsigned int max_guests, unsigned int hello_ms)
{
	const struct pvring_platform_local_limits limits = { .max_guests = max_guests,
							     .hello_ms = hello_ms };

	pvring_platform_local_set_limits(f->env.plat, &limits);
}

/* A connection that never says hello is refused at the deadline; it held a descriptor. */
static void test_silent_connection_refused(void **state)
{
	struct fixture *f = *state;
	struct guest_thread good = { .frames = 16, .table_frames = 1 };
	int sock;

	set_limits(f, 1024, 100);
	sock = connect_registry(f);
	expect_refusal(f, sock, -ETIMEDOUT, "no hello within 100 ms");
	close(sock);
	run_guest(f, &good);
	assert_int_equal(good.result, 0);
	pvring_local_guest_leave(&good.guest);
	pvring_local_guest_port_free(&good.port);
}

/* Past the limit on live guests a new one is told so; once one leaves, another gets in. */
static void test_guest_limit(void **state)
{
	struct fixture *f = *state;
	struct guest_thread a = { .frames = 16, .table_frames = 1 };
	struct guest_thread b = { .frames = 16, .table_frames = 1 };
	struct guest_thread c = { .frames = 16, .table_frames = 1 };
	unsigned int turns, domid;
	int sock;

	set_limits(f, 2, 5000);
	run_guest(f, &a);
	assert_int_equal(a.result, 0);
	/* One saying hello counts too: it holds what a guest holds until it is refused. */
	sock = connect_registry(f);
	run_guest(f, &b);
	assert_int_equal(b.result, -EUSERS);
	assert_string_equal(b.why, "pvringd serves at most 2 guests");
	close(sock);
	domid = a.guest.domid;
	pvring_local_guest_leave(&a.guest);
	pvring_local_guest_port_free(&a.port);
	/*
	 * Both gone once the loop has seen them go: a's release shows in the store, and the
	 * closed connection's end came first (one turn takes every descriptor that is ready).
	 */
	for (turns = 0; xs_is_domain_introduced(f->env.plat->store, domid); turns++) {
		assert_true(turns < 100000);
		event_base_loop(f->env.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	run_guest(f, &c);
	assert_int_equal(c.result, 0);
	pvring_local_guest_leave(&c.guest);
	pvring_local_guest_port_free(&c.port);
}

/*
 * Out of descriptors, the registry takes the waiting connection anyway, with a spare kept for
 * it, and tells the guest why: before, accept failed, the guest waited for ever, and the loop
 * spun on the readable socket. The spare comes back, so the next one is told too; once
 * descriptors are free, guests get in again.
 */
static void test_out_of_descriptors(void **state)
{
	struct fixture *f = *state;
	struct guest_thread good = { .frames = 16, .table_frames = 1 };
	const struct pvring_local_hello hello = { PVRING_LOCAL_MAGIC, PVRING_LOCAL_HELLO,
						  PVRING_LOCAL_VERSION, 16, 1 };
	static struct fd_limit limit;
	int i, sock[2], memfd;

	/* Room for the test's own socket, none for the one accept() would make. */
	assert_int_equal(fd_limit_tighten(&limit, 1), 0);
	for (i = 0; i < 2; i++) {
		sock[i] = connect_registry(f);
		expect_refusal(f, sock[i], -EMFILE, "pvringd is out of file descriptors");
		close(sock[i]);
	}
	assert_int_equal(fd_limit_restore(&limit), 0);
	/*
	 * Accepted, then out of descriptors for the memory its hello passes: the kernel drops
	 * it, and the guest is told that, not that its hello was malformed or too large.
	 */
	sock[0] = connect_registry(f);
	memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	/* The connection is waiting: a turn of the loop accepts it. */
	for (i = 0; i < 3; i++)
		event_base_loop(f->env.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(fd_limit_tighten(&limit, 0), 0);
	assert_int_equal(pvring_local_send(sock[0], &hello, sizeof(hello), &memfd, 1), 0);
	expect_refusal(f, sock[0], -EMFILE, "pvringd is out of file descriptors");
	assert_int_equal(fd_limit_restore(&limit), 0);
	close(sock[0]);
	close(memfd);
	run_guest(f, &good);
	assert_int_equal(good.result, 0);
	pvring_local_guest_leave(&good.guest);
	pvring_local_guest_port_free(&good.port);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guest_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evtchn_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_from_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_registrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_connection_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_descriptors, setup, teardown),
	};

	return cmocka_run_group_tests_name("local platform", tests, NULL, NULL);
}
