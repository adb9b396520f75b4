// SPDX-License-Identifier: MIT
/*
 * The local hypervisor in this process, its loop turned by the test as pvring-stored's would
 * be: guests register on its registry (a thread stands in for each frontend process) and are
 * introduced in the store beside it; bad registrations are refused with a reason while other
 * guests carry on; its back-end socket serves one back end at a time, holds a gone guest's
 * domain while the back end maps it, and clears what a back end that went left pinned.
 */
#include "config.h"

#include <errno.h>
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "daemon/platform/local_hypercall.h"
#include "daemon/platform/local_registry.h"
#include "daemon/store/local_hypervisor.h"
#include "daemon/store/store_server.h"
#include "tests/lib/fd_limit.h"
#include "tests/lib/local_guest.h"

struct fixture {
	char dir[40];
	char rundir[48];
	char registry[80];
	char backend[80];
	struct event_base *base;
	struct pvring_store_server *store;
	struct pvring_local_hypervisor *hv;
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	const char *why = NULL;

	*state = f;
	strcpy(f->dir, "/tmp/pvring-hv-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->rundir, sizeof(f->rundir), "%s/store", f->dir);
	snprintf(f->registry, sizeof(f->registry), "%s/registry", f->rundir);
	snprintf(f->backend, sizeof(f->backend), "%s/hypervisor", f->rundir);
	f->base = event_base_new();
	f->store = f->base ? pvring_store_server_new(f->base, f->rundir, &why) : NULL;
	f->hv = f->store ? pvring_local_hypervisor_new(f->base, f->store, f->rundir, &why) : NULL;
	if (!f->hv) {
		fprintf(stderr, "hypervisor: %s\n", why ? why : "no event loop");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pvring_local_hypervisor_free(f->hv);
	pvring_store_server_free(f->store);
	if (f->base)
		event_base_free(f->base);
	/* Each server removed its own sockets: what is left is empty. */
	rmdir(f->rundir);
	rmdir(f->dir);
	test_free(f);
	return 0;
}

/* Run the hypervisor's loop until the guest thread is through. */
static void run_guest(struct fixture *f, struct local_guest *g)
{
	g->registry = f->registry;
	assert_int_equal(pthread_create(&g->thread, NULL, local_guest_start, g), 0);
	while (!atomic_load(&g->done))
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_join(g->thread, NULL);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* ---- the back end's socket, spoken raw ---- */

static int connect_backend(struct fixture *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(sock >= 0);
	strcpy(sun.sun_path, f->backend);
	assert_int_equal(connect(sock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return sock;
}

/* Send a request; if it is answered, turn the loop until the answer is there and read it. */
static int ask(struct fixture *f, int sock, uint32_t type, uint32_t domid, uint32_t port,
	       struct pvring_hv_answer *a, int *fds, unsigned int max_fds)
{
	static uint32_t seq;
	const struct pvring_hv_request req = { PVRING_HV_MAGIC, type, domid, port, ++seq };
	unsigned int nr_fds = 0;
	ssize_t n;

	assert_int_equal(pvring_local_send(sock, &req, sizeof(req), NULL, 0), 0);
	if (type == PVRING_HV_PUT || type == PVRING_HV_UNBIND) {
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		return 0;
	}
	while (!readable(sock))
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	memset(a, 0, sizeof(*a));
	n = pvring_local_recv(sock, a, sizeof(*a), fds, max_fds, &nr_fds);
	/* Hung up on with the request unread (a refusal): that is said first, the answer next. */
	if (n == -ECONNRESET)
		n = pvring_local_recv(sock, a, sizeof(*a), fds, max_fds, &nr_fds);
	assert_int_equal(n, sizeof(*a));
	assert_int_equal(a->magic, PVRING_HV_MAGIC);
	assert_int_equal(a->type, PVRING_HV_ANSWER);
	/* The request it answers, echoed (a refusal at the door answers none). */
	if (type != PVRING_HV_HELLO) {
		assert_int_equal(a->seq, req.seq);
		assert_int_equal(a->request, type);
		assert_int_equal(a->domid, domid);
		assert_int_equal(a->port, port);
	}
	assert_int_equal(nr_fds, a->status ? 0 : max_fds);
	return a->status;
}

static void test_guest_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct local_guest g = { .frames = 64, .table_frames = 1 };

	run_guest(f, &g);
	if (g.result)
		fail_msg("guest: %d (%s)", g.result, g.why ? g.why : "");
	assert_true(g.guest.domid >= 1);
	assert_true(pvring_store_server_has_domain(f->store, g.guest.domid));
	assert_non_null(strstr(g.guest.store_socket, "/domain/"));
	pvring_local_guest_leave(&g.guest);
	while (pvring_store_server_has_domain(f->store, g.guest.domid))
		event_base_loop(f->base, EVLOOP_ONCE);
	pvring_local_guest_port_free(&g.port);
}

/*
 * The back end's socket: a hello first; a domain's memory, held while the back end has it
 * (a gone guest's domain is "gone", not unknown, until put back); ports bound once; one back
 * end at a time; and when it goes, its pins cleared and its ports unbound.
 */
static void test_backend_socket(void **state)
{
	struct fixture *f = *state;
	struct local_guest g = { .frames = 16, .table_frames = 1 };
	struct pvring_hv_answer a;
	struct pvring_local_grant_entry *table;
	int sock, other, fds[2], memfd, unused;
	uint32_t domid;

	run_guest(f, &g);
	assert_int_equal(g.result, 0);
	domid = g.guest.domid;
	sock = connect_backend(f);
	/* Nothing before the hello: the hypervisor hangs up. */
	assert_int_equal(pvring_local_send(sock,
					   &(struct pvring_hv_request){
						   PVRING_HV_MAGIC, PVRING_HV_DOMAIN, domid, 0, 0 },
					   sizeof(struct pvring_hv_request), NULL, 0),
			 0);
	while (!readable(sock))
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	{
		unsigned int nr_fds;

		assert_int_equal(pvring_local_recv(sock, &a, sizeof(a), &unused, 0, &nr_fds), 0);
	}
	close(sock);

	sock = connect_backend(f);
	assert_int_equal(ask(f, sock, PVRING_HV_HELLO, 0, 0, &a, &unused, 0), 0);
	/* A second back end is told why, and hung up on. */
	other = connect_backend(f);
	assert_int_equal(ask(f, other, PVRING_HV_HELLO, 0, 0, &a, &unused, 0), -EBUSY);
	assert_string_equal(
		a.why, "another back end is connected (is another pvringd serving this store?)");
	close(other);

	assert_int_equal(ask(f, sock, PVRING_HV_DOMAIN, domid + 100, 0, &a, &memfd, 1), -ENOENT);
	assert_string_equal(a.why, "no such domain");
	assert_int_equal(ask(f, sock, PVRING_HV_DOMAIN, domid, 0, &a, &memfd, 1), 0);
	assert_int_equal(a.nr_frames, 16);
	assert_int_equal(a.table_frames, 1);
	/* The guest's own memory: what it wrote is there. */
	table = mmap(NULL, 16u * 4096u, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	assert_true(table != MAP_FAILED);
	assert_string_equal((char *)table + 3u * 4096u, "hello from the guest");

	assert_int_equal(ask(f, sock, PVRING_HV_BIND, domid, 6, &a, fds, 2), -ENOENT);
	assert_int_equal(ask(f, sock, PVRING_HV_BIND, domid, 5, &a, fds, 2), 0);
	assert_int_equal(ask(f, sock, PVRING_HV_BIND, domid, 5, &a, fds, 2), -EBUSY);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(ask(f, sock, PVRING_HV_UNBIND, domid, 5, &a, fds, 2), 0);
	assert_int_equal(ask(f, sock, PVRING_HV_BIND, domid, 5, &a, fds, 2), 0);
	close(fds[0]);
	close(fds[1]);

	/* A pin as the back end makes them (it went away before unpinning). */
	__atomic_fetch_or(&table[8].flags, (uint16_t)(PVRING_GTF_READING | PVRING_GTF_WRITING),
			  __ATOMIC_SEQ_CST);
	assert_int_equal(pvring_local_end_grant(&g.guest.mem, 8), -EBUSY);
	close(sock);
	while (pvring_local_end_grant(&g.guest.mem, 8) == -EBUSY)
		event_base_loop(f->base, EVLOOP_ONCE);
	/* Unbound with it: the next back end binds the port. */
	sock = connect_backend(f);
	assert_int_equal(ask(f, sock, PVRING_HV_HELLO, 0, 0, &a, &unused, 0), 0);
	assert_int_equal(ask(f, sock, PVRING_HV_BIND, domid, 5, &a, fds, 2), 0);
	close(fds[0]);
	close(fds[1]);

	/* Held, the guest gone: "gone", its domain id not given out; put back, unknown. */
	assert_int_equal(ask(f, sock, PVRING_HV_DOMAIN, domid, 0, &a, &memfd, 1), 0);
	close(memfd);
	pvring_local_guest_leave(&g.guest);
	while (pvring_store_server_has_domain(f->store, domid))
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_int_equal(ask(f, sock, PVRING_HV_DOMAIN, domid, 0, &a, &memfd, 1), -ENOENT);
	assert_string_equal(a.why, "the domain is gone");
	assert_int_equal(ask(f, sock, PVRING_HV_PUT, domid, 0, &a, &unused, 0), 0);
	assert_int_equal(ask(f, sock, PVRING_HV_DOMAIN, domid, 0, &a, &memfd, 1), -ENOENT);
	assert_string_equal(a.why, "no such domain");
	/* A request that is not one: the back end is disconnected, the hypervisor goes on. */
	assert_int_equal(pvring_local_send(sock, "junk", 4, NULL, 0), 0);
	while (!readable(sock))
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	{
		unsigned int nr_fds;

		assert_int_equal(pvring_local_recv(sock, &a, sizeof(a), &unused, 0, &nr_fds), 0);
	}
	close(sock);
	munmap(table, 16u * 4096u);
	pvring_local_guest_port_free(&g.port);
}

static void test_bad_registrations(void **state)
{
	struct fixture *f = *state;
	struct local_guest too_big = { .frames = (1u << 20) + 1, .table_frames = 1 };
	struct local_guest bad_table = { .frames = 4, .table_frames = 4 };
	struct local_guest good = { .frames = 16, .table_frames = 1 };
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
	assert_string_equal(too_big.why,
			    "guest memory or grant table larger than the hypervisor accepts");

	/* A hello that is not one: refused, connection closed. */
	strcpy(sun.sun_path, f->registry);
	sock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(connect(sock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(pvring_local_send(sock, garbage, sizeof(garbage), NULL, 0), 0);
	while (!readable(sock))
		event_base_loop(f->base, EVLOOP_ONCE);
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
		event_base_loop(f->base, EVLOOP_ONCE);
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
	strcpy(sun.sun_path, f->registry);
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
		event_base_loop(f->base, EVLOOP_ONCE);
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
	const struct pvring_local_hypervisor_limits limits = { .max_guests = max_guests,
							       .hello_ms = hello_ms };

	pvring_local_hypervisor_set_limits(f->hv, &limits);
}

/* A connection that never says hello is refused at the deadline; it held a descriptor. */
static void test_silent_connection_refused(void **state)
{
	struct fixture *f = *state;
	struct local_guest good = { .frames = 16, .table_frames = 1 };
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
	struct local_guest a = { .frames = 16, .table_frames = 1 };
	struct local_guest b = { .frames = 16, .table_frames = 1 };
	struct local_guest c = { .frames = 16, .table_frames = 1 };
	unsigned int turns, domid;
	int sock;

	set_limits(f, 2, 5000);
	run_guest(f, &a);
	assert_int_equal(a.result, 0);
	/* One saying hello counts too: it holds what a guest holds until it is refused. */
	sock = connect_registry(f);
	run_guest(f, &b);
	assert_int_equal(b.result, -EUSERS);
	assert_string_equal(b.why, "the hypervisor runs at most 2 guests");
	close(sock);
	domid = a.guest.domid;
	pvring_local_guest_leave(&a.guest);
	pvring_local_guest_port_free(&a.port);
	/*
	 * Both gone once the loop has seen them go: a's release shows in the store, and the
	 * closed connection's end came first (one turn takes every descriptor that is ready).
	 */
	for (turns = 0; pvring_store_server_has_domain(f->store, domid); turns++) {
		assert_true(turns < 100000);
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
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
	struct local_guest good = { .frames = 16, .table_frames = 1 };
	const struct pvring_local_hello hello = { PVRING_LOCAL_MAGIC, PVRING_LOCAL_HELLO,
						  PVRING_LOCAL_VERSION, 16, 1 };
	static struct fd_limit limit;
	int i, sock[2], memfd;

	/* Room for the test's own socket, none for the one accept() would make. */
	assert_int_equal(fd_limit_tighten(&limit, 1), 0);
	for (i = 0; i < 2; i++) {
		sock[i] = connect_registry(f);
		expect_refusal(f, sock[i], -EMFILE, "the hypervisor is out of file descriptors");
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
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(fd_limit_tighten(&limit, 0), 0);
	assert_int_equal(pvring_local_send(sock[0], &hello, sizeof(hello), &memfd, 1), 0);
	expect_refusal(f, sock[0], -EMFILE, "the hypervisor is out of file descriptors");
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
		cmocka_unit_test_setup_teardown(test_backend_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_registrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_connection_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_descriptors, setup, teardown),
	};

	return cmocka_run_group_tests_name("local hypervisor", tests, NULL, NULL);
}
