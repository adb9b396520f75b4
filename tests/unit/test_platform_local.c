// SPDX-License-Identifier: MIT
/*
 * The local platform as pvringd uses it: pvring-stored (the store and the local hypervisor)
 * runs as a real process; a guest (a thread standing in for a frontend process) registers
 * with the hypervisor, offers a port and grants pages; the platform, this process as the back
 * end, maps, binds and kicks; the guest leaves and the store releases it. The back end goes
 * (as a killed pvringd) and another takes the same guest on. The registry's own bounds are
 * tested in test_local_hypervisor.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <xenstore.h>

#include "daemon/platform/local_registry.h"
#include "daemon/platform/platform_local.h"
#include "tests/lib/local_guest.h"
#include "tests/lib/local_platform_env.h"

struct fixture {
	struct local_platform_env env;
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

/* The guest's first steps: the hypervisor answers it from its own process. */
static void run_guest(struct fixture *f, struct local_guest *g)
{
	g->registry = f->env.registry;
	local_guest_start(g);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* A handle with the guest's port 5 bound; a kick each way goes through. */
static struct pvring_evtchn *bind_and_kick(struct pvring_platform *p, struct local_guest *g,
					   int *port)
{
	const char *why = NULL;
	struct pvring_evtchn *e = pvring_evtchn_open(p, &why);

	assert_non_null(e);
	*port = pvring_evtchn_bind(e, g->guest.domid, 5);
	assert_true(*port > 0);
	assert_int_equal(pvring_local_guest_port_notify(&g->port), 0);
	assert_true(readable(pvring_evtchn_fd(e)));
	assert_int_equal(pvring_evtchn_pending(e), *port);
	assert_int_equal(pvring_evtchn_unmask(e, (uint32_t)*port), 0);
	assert_int_equal(pvring_evtchn_notify(e, (uint32_t)*port), 0);
	assert_true(readable(g->port.kick_front));
	return e;
}

static void test_guest_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct local_guest g = { .frames = 64, .table_frames = 1 };
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
	e = bind_and_kick(f->env.plat, &g, &port);

	/* The guest leaves (as if its process died): released from the store... */
	pvring_local_guest_leave(&g.guest);
	while (xs_is_domain_introduced(xs, g.guest.domid))
		usleep(1000);
	assert_null(xs_read(xs, XBT_NULL, home, &len));
	/* ...while what the back end still has mapped stays valid until it lets go... */
	assert_string_equal(page, "hello from the guest");
	pvring_unmap(f->env.plat, &m);
	/* ...and once it has, the domain cannot be mapped again. */
	assert_int_equal(pvring_map(f->env.plat, g.guest.domid, 1, &rw_ref, false, &refused, &why),
			 -ENOENT);
	assert_string_equal(why, "no such domain");
	pvring_evtchn_unbind(e, (uint32_t)port);
	pvring_evtchn_close(e);
	pvring_local_guest_port_free(&g.port);
}

/* Two handles, as two data-plane threads have: each sees its own ports' kicks, and only them. */
static void test_evtchn_handles(void **state)
{
	struct fixture *f = *state;
	struct local_guest g1 = { .frames = 16, .table_frames = 1 };
	struct local_guest g2 = { .frames = 16, .table_frames = 1 };
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
	/* A port binds once, whichever handle asks. */
	assert_int_equal(pvring_evtchn_bind(b, g1.guest.domid, 5), -EBUSY);
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
	struct local_guest g = { .frames = 64, .table_frames = 1 };
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
		usleep(1000);
	atomic_store(&stop, true);
	for (i = 0; i < 4; i++) {
		pthread_join(mappers[i].thread, NULL);
		assert_int_equal(mappers[i].err, 0);
	}
	pvring_local_guest_port_free(&g.port);
}

/*
 * A back end in a child process, killed with SIGKILL once it has mapped a grant writable,
 * written through it and bound the guest's port: what a pvringd kill -9 leaves.
 */
static pid_t start_doomed_back_end(struct fixture *f, uint32_t domid, uint32_t ref)
{
	int ready[2];
	pid_t pid;
	char byte;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pvring_platform *p;
		struct pvring_mapping m;
		struct pvring_evtchn *e;
		const char *why = NULL;

		/* Not left behind, paused, if the test fails first. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		p = pvring_platform_local_open(f->env.store.rundir, &why);
		if (!p || pvring_map(p, domid, 1, &ref, true, &m, &why))
			_exit(1);
		strcpy(m.addr, "written by the first back end");
		e = pvring_evtchn_open(p, &why);
		if (!e || pvring_evtchn_bind(e, domid, 5) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &byte, 1), 1);
	close(ready[0]);
	return pid;
}

/*
 * The back end goes without letting go of anything (pvringd killed): the hypervisor clears
 * its grant pins and unbinds its ports, and the next back end maps the same grants and binds
 * the same port of the same live guest. While one back end is there, another is refused.
 */
static void test_back_end_restart(void **state)
{
	struct fixture *f = *state;
	struct local_guest g = { .frames = 64, .table_frames = 1 };
	const uint32_t rw_ref = 8;
	struct pvring_mapping m;
	struct pvring_evtchn *e;
	const char *why = NULL;
	unsigned int tries;
	pid_t doomed;
	int port;

	run_guest(f, &g);
	assert_int_equal(g.result, 0);
	/* This process steps aside: the child is the back end. */
	pvring_platform_destroy(f->env.plat);
	f->env.plat = NULL;
	doomed = start_doomed_back_end(f, g.guest.domid, rw_ref);
	/* Mapped: the guest cannot take its grant back. */
	assert_int_equal(pvring_local_end_grant(&g.guest.mem, rw_ref), -EBUSY);
	assert_string_equal(pvring_local_mem_frame(&g.guest.mem, 3),
			    "written by the first back end");
	assert_null(pvring_platform_local_open(f->env.store.rundir, &why));
	assert_int_equal(errno, EBUSY);
	assert_string_equal(
		why, "another back end is connected (is another pvringd serving this store?)");

	kill(doomed, SIGKILL);
	assert_int_equal(waitpid(doomed, NULL, 0), doomed);
	/* The hypervisor sees it go and unpins; bounded for a hang, not a speed. */
	for (tries = 0; pvring_local_end_grant(&g.guest.mem, rw_ref) == -EBUSY; tries++) {
		assert_true(tries < 10000);
		usleep(1000);
	}
	/* That revoked it: the guest's driver grants it again. */
	assert_int_equal(pvring_local_grant(&g.guest.mem, rw_ref, 0, 3, false), 0);

	/* The next back end: the same guest, the same grants, the same port. */
	f->env.plat = pvring_platform_local_open(f->env.store.rundir, &why);
	if (!f->env.plat)
		fail_msg("second back end: %s", why);
	assert_int_equal(pvring_map(f->env.plat, g.guest.domid, 1, &rw_ref, true, &m, &why), 0);
	assert_string_equal(m.addr, "written by the first back end");
	e = bind_and_kick(f->env.plat, &g, &port);
	/* A back end that lets go cleanly leaves nothing pinned. */
	pvring_unmap(f->env.plat, &m);
	assert_int_equal(pvring_local_end_grant(&g.guest.mem, rw_ref), 0);
	pvring_evtchn_close(e);
	pvring_local_guest_leave(&g.guest);
	pvring_local_guest_port_free(&g.port);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guest_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evtchn_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_from_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_back_end_restart, setup, teardown),
	};

	return cmocka_run_group_tests_name("local platform", tests, NULL, NULL);
}
