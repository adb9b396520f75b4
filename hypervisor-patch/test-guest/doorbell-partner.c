// SPDX-License-Identifier: MIT
/*
 * doorbell-partner: the dom0 end of the doorbell test guest's event channel (see main.c beside
 * this file for the guest and the handshake, all under /local/domain/DOMID/data/).
 *
 *     doorbell-partner [-t SECONDS] [-x BOOLEAN] DOMID
 *
 * Waits for the guest's port (doorbell-port), binds it, publishes its own port and the dom0
 * ports the guest is to try as "foreign" ports (doorbell-partner-port, doorbell-foreign-ports),
 * says hello with one event, then answers every event with exactly one kick and counts them.
 * It also holds ports of its own that nothing may ever fire: a dom0 loopback pair (checked to
 * work once at start) and an unbound port. When the guest writes doorbell-guest-done, it waits a
 * little for late events, writes doorbell-partner-result and exits.
 *
 * With -x, the FLASK case: when the guest writes doorbell-xsm-ready = N, it sets the policy's
 * BOOLEAN (the one that allows the guest's sends) to 0, tells the guest with one event, waits until
 * the hypervisor has counted N more doorbell writes as dropped, watches a little longer, sets the
 * BOOLEAN back to 1 and tells the guest again. No event may arrive meanwhile and the doorbell's
 * sent count may not move.
 *
 * stdout: one "PARTNER events=E kicks=K stray=S quiet=Q guest_kicks=N [xsm=...] result=ok|fail"
 * line.
 * Exit status 0 only if the guest reported as many good kicks as events arrived, no event came
 * on any other port, and nothing failed; 1 otherwise (including the timeout); 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xenstore.h>

#include "daemon/number.h"
#include "tools/doorbell.h"

/* After the guest says it is done, how long a wrong late event still has to show up. */
#define DRAIN_MS 500
/* The longest the guest's sends stay refused (the guest waits 60 s for them to come back). */
#define XSM_WAIT_MS 30000
/* How long the loopback pair has to prove it works. */
#define CONTROL_MS 5000

struct partner {
	unsigned int domid;
	char dir[64];
	struct xs_handle *xs;
	xenevtchn_handle *ev; /* the channel to the guest */
	xenevtchn_handle *quiet; /* the ports that must never fire */
	evtchn_port_t guest_port, port, loop_a, loop_b, unbound;
	bool bound;
	unsigned long events, kicks, stray, quiet_events;
	bool failed;
	/* The FLASK case (-x): the boolean, and what happened while it was off. */
	const char *xsm_bool;
	bool xsm_done, xsm_ok;
	unsigned long xsm_events;
	uint64_t xsm_sent, xsm_dropped, xsm_writes;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("doorbell-partner: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A key of the guest's data/ directory, or NULL if it is not there. Free the result. */
static char *read_key(struct partner *pt, const char *key)
{
	char path[128];
	unsigned int len;

	snprintf(path, sizeof(path), "%s/%s", pt->dir, key);
	return xs_read(pt->xs, XBT_NULL, path, &len);
}

static bool write_key(struct partner *pt, const char *key, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", pt->dir, key);
	if (xs_write(pt->xs, XBT_NULL, path, value, strlen(value)))
		return true;
	say("cannot write %s: %s", path, strerror(errno));
	return false;
}

static bool set_nonblocking(xenevtchn_handle *h)
{
	int fd = xenevtchn_fd(h), flags = fcntl(fd, F_GETFL);

	/* libxenevtchn's fd blocks: a poll loop must not block in xenevtchn_pending(). */
	return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/*
 * Waits up to MS for the next event of H, takes it and unmasks its port. Returns the port, or -1
 * if none came.
 */
static xenevtchn_port_or_error_t next_event(xenevtchn_handle *h, int ms)
{
	struct pollfd pfd = { .fd = xenevtchn_fd(h), .events = POLLIN };
	xenevtchn_port_or_error_t p = -1;
	long long end = now_ms() + ms;

	while (p < 0 && now_ms() < end) {
		if (poll(&pfd, 1, (int)(end - now_ms())) < 0 && errno != EINTR)
			break;
		p = xenevtchn_pending(h);
	}
	if (p >= 0)
		xenevtchn_unmask(h, p);
	return p;
}

/*
 * EVTCHNOP_bind_interdomain sets the new local port pending, in case the peer signalled before
 * the bind: that one event is the bind's, not the peer's, and is taken here so that every later
 * event counts.
 */
static bool take_bind_event(xenevtchn_handle *h, evtchn_port_t port)
{
	xenevtchn_port_or_error_t p = next_event(h, CONTROL_MS);

	if (p == (xenevtchn_port_or_error_t)port)
		return true;
	say("binding port %u raised %s %d, not the one event on it Xen sets", port,
	    p < 0 ? "nothing" : "an event on port", p);
	return false;
}

/*
 * The never-firing ports: a loopback pair of dom0's own (A's peer is B) and an unbound port. The
 * pair is proved once: a notify on A arrives on B. From then on any event on the quiet handle is
 * one that the guest's bad accesses must not have caused.
 */
static bool setup_quiet(struct partner *pt)
{
	xenevtchn_port_or_error_t a, b, u, got;

	pt->quiet = xenevtchn_open(NULL, 0);
	if (!pt->quiet) {
		say("xenevtchn_open: %s", strerror(errno));
		return false;
	}
	a = xenevtchn_bind_unbound_port(pt->quiet, 0);
	b = a < 0 ? -1 : xenevtchn_bind_interdomain(pt->quiet, 0, a);
	u = xenevtchn_bind_unbound_port(pt->quiet, 0);
	if (a < 0 || b < 0 || u < 0 || !set_nonblocking(pt->quiet)) {
		say("cannot set up the loopback pair and the unbound port: %s", strerror(errno));
		return false;
	}
	pt->loop_a = a;
	pt->loop_b = b;
	pt->unbound = u;
	if (!take_bind_event(pt->quiet, b))
		return false;
	if (xenevtchn_notify(pt->quiet, a) < 0) {
		say("xenevtchn_notify on the loopback pair: %s", strerror(errno));
		return false;
	}
	got = next_event(pt->quiet, CONTROL_MS);
	if (got != b) {
		say("the loopback pair does not work: notified %d, got %d", a, got);
		return false;
	}
	return true;
}

static void drain_quiet(struct partner *pt)
{
	xenevtchn_port_or_error_t p;

	while ((p = xenevtchn_pending(pt->quiet)) >= 0) {
		pt->quiet_events++;
		say("an event on never-firing port %d", p);
		xenevtchn_unmask(pt->quiet, p);
	}
}

/* Every event on our port gets exactly one kick back; anything else is counted as stray. */
static void answer(struct partner *pt)
{
	xenevtchn_port_or_error_t p;

	while ((p = xenevtchn_pending(pt->ev)) >= 0) {
		/* Unmask first: the guest's next kick must find the port ready, not coalesce. */
		if (xenevtchn_unmask(pt->ev, p) < 0) {
			say("xenevtchn_unmask(%d): %s", p, strerror(errno));
			pt->failed = true;
		}
		if ((evtchn_port_t)p != pt->port) {
			pt->stray++;
			say("an event on port %d, not ours (%u)", p, pt->port);
			continue;
		}
		pt->events++;
		if (xenevtchn_notify(pt->ev, pt->port) < 0) {
			say("xenevtchn_notify(%u): %s", pt->port, strerror(errno));
			pt->failed = true;
			continue;
		}
		pt->kicks++;
	}
	if (errno != EAGAIN) {
		say("xenevtchn_pending: %s", strerror(errno));
		pt->failed = true;
	}
}

/* Step 2 of the handshake, once the guest's port is there. */
static bool bind_guest(struct partner *pt, const char *value)
{
	xenevtchn_port_or_error_t p;
	char buf[96];
	uint64_t g;

	if (pvring_parse_u64(value, UINT32_MAX, &g)) {
		say("the guest's doorbell-port is '%s'", value);
		return false;
	}
	pt->guest_port = (evtchn_port_t)g;
	p = xenevtchn_bind_interdomain(pt->ev, pt->domid, pt->guest_port);
	if (p < 0) {
		say("cannot bind domain %u's port %lu: %s", pt->domid, g, strerror(errno));
		return false;
	}
	pt->port = p;
	pt->bound = true;
	if (!take_bind_event(pt->ev, pt->port))
		return false;
	snprintf(buf, sizeof(buf), "%u", pt->port);
	if (!write_key(pt, "doorbell-partner-port", buf))
		return false;
	snprintf(buf, sizeof(buf), "%u %u %u %u", pt->port, pt->loop_a, pt->loop_b, pt->unbound);
	if (!write_key(pt, "doorbell-foreign-ports", buf))
		return false;
	/* The hello: the guest starts kicking once this arrives. */
	if (xenevtchn_notify(pt->ev, pt->port) < 0) {
		say("xenevtchn_notify(%u): %s", pt->port, strerror(errno));
		return false;
	}
	pt->kicks++;
	return true;
}

static bool set_bool(struct partner *pt, xc_interface *xch, int value)
{
	/* libxenctrl's prototype takes a char *; the name is only read. */
	if (xc_flask_setbool(xch, (char *)pt->xsm_bool, value, 1) == 0)
		return true;
	say("cannot set the FLASK boolean %s to %d: %s", pt->xsm_bool, value, strerror(errno));
	return false;
}

/*
 * Steps b and d of the FLASK case (see main.c): the guest's N refused kicks. Blocks, answering
 * events as usual, until the hypervisor has counted N more doorbell writes as dropped (at most
 * until the deadline), then for DRAIN_MS more.
 */
static void xsm_refused(struct partner *pt, const char *ready, long long deadline)
{
	struct pvring_doorbell_state base, now;
	unsigned long events_before = pt->events;
	long long settle = -1;
	const char *reason = "";
	xc_interface *xch;
	uint64_t n;

	pt->xsm_done = true;
	if (pvring_parse_u64(ready, 1000000, &n) || !n) {
		say("the guest's doorbell-xsm-ready is '%s'", ready);
		return;
	}
	xch = xc_interface_open(NULL, NULL, 0);
	if (!xch) {
		say("xc_interface_open: %s", strerror(errno));
		return;
	}
	if (pvring_doorbell_read(pt->domid, &base, &reason)) {
		say("cannot read domain %u's doorbell: %s", pt->domid, reason);
		goto out;
	}
	/* The counters say when the guest is done; without them the wait would be a guess. */
	if (!base.on) {
		say("-x needs domain %u's doorbell on", pt->domid);
		goto out;
	}
	if (!set_bool(pt, xch, 0))
		goto out;
	if (xenevtchn_notify(pt->ev, pt->port) < 0) {
		say("xenevtchn_notify(%u): %s", pt->port, strerror(errno));
		set_bool(pt, xch, 1);
		goto out;
	}
	pt->kicks++;
	/* Well before the guest's own wait for "back on" ends: it must find its sends back. */
	if (deadline > now_ms() + XSM_WAIT_MS)
		deadline = now_ms() + XSM_WAIT_MS;
	for (;;) {
		struct pollfd pfd = { .fd = xenevtchn_fd(pt->ev), .events = POLLIN };
		long long t = now_ms();

		if (settle >= 0 && t >= settle)
			break;
		if (t >= deadline) {
			say("the hypervisor never counted %lu refused doorbell writes",
			    (unsigned long)n);
			break;
		}
		if (poll(&pfd, 1, 50) > 0)
			answer(pt);
		if (pvring_doorbell_read(pt->domid, &now, &reason)) {
			say("cannot read domain %u's doorbell: %s", pt->domid, reason);
			break;
		}
		if (now.sent != base.sent) {
			say("a doorbell write was sent while the guest's sends were refused");
			break;
		}
		if (settle < 0 && now.dropped - base.dropped >= n)
			settle = now_ms() + DRAIN_MS;
	}
	pt->xsm_events = pt->events - events_before;
	if (pvring_doorbell_read(pt->domid, &now, &reason) == 0) {
		pt->xsm_sent = now.sent - base.sent;
		pt->xsm_dropped = now.dropped - base.dropped;
	}
	pt->xsm_writes = n;
	if (!set_bool(pt, xch, 1))
		goto out;
	if (xenevtchn_notify(pt->ev, pt->port) < 0) {
		say("xenevtchn_notify(%u): %s", pt->port, strerror(errno));
		goto out;
	}
	pt->kicks++;
	pt->xsm_ok = settle >= 0 && !pt->xsm_events && !pt->xsm_sent &&
		     pt->xsm_dropped == pt->xsm_writes;
	if (!pt->xsm_ok)
		say("while sends were off: %lu events, doorbell sent %" PRIu64 " dropped %" PRIu64
		    " (the guest wrote %" PRIu64 ")",
		    pt->xsm_events, pt->xsm_sent, pt->xsm_dropped, pt->xsm_writes);
out:
	xc_interface_close(xch);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: doorbell-partner [-t SECONDS] [-x BOOLEAN] DOMID\n"
		"The dom0 partner of pvring's doorbell test guest (hypervisor-patch/test-guest).\n"
		"  -t SECONDS  give up after this long (default 600)\n"
		"  -x BOOLEAN  the FLASK case: the policy boolean that allows the guest's sends\n");
}

int main(int argc, char **argv)
{
	struct partner pt = { 0 };
	long long deadline, drain_end = -1, next_check;
	unsigned long timeout_s = 600, guest_kicks = 0;
	char *done = NULL;
	uint64_t number;
	int arg = 1;
	bool guest_failed = false, ok;
	char result[128];

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	while (arg + 1 < argc && argv[arg][0] == '-') {
		if (!strcmp(argv[arg], "-t")) {
			if (pvring_parse_u64(argv[arg + 1], 86400, &number) || !number) {
				usage(stderr);
				return 2;
			}
			timeout_s = number;
		} else if (!strcmp(argv[arg], "-x") && argv[arg + 1][0]) {
			pt.xsm_bool = argv[arg + 1];
		} else {
			usage(stderr);
			return 2;
		}
		arg += 2;
	}
	if (arg != argc - 1) {
		usage(stderr);
		return 2;
	}
	/* DOMID_FIRST_RESERVED is 0x7ff0; dom0 is the partner itself. */
	if (pvring_parse_u64(argv[arg], 0x7fef, &number) || !number) {
		usage(stderr);
		return 2;
	}
	pt.domid = (unsigned int)number;
	snprintf(pt.dir, sizeof(pt.dir), "/local/domain/%u/data", pt.domid);
	deadline = now_ms() + (long long)timeout_s * 1000;

	pt.xs = xs_open(0);
	pt.ev = xenevtchn_open(NULL, 0);
	if (!pt.xs || !pt.ev || !set_nonblocking(pt.ev)) {
		say("cannot open xenstore or the event channel device: %s", strerror(errno));
		return 1;
	}
	if (!setup_quiet(&pt))
		return 1;
	if (!xs_watch(pt.xs, pt.dir, "doorbell")) {
		say("cannot watch %s: %s", pt.dir, strerror(errno));
		return 1;
	}

	next_check = now_ms() + 1000;
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = xenevtchn_fd(pt.ev), .events = POLLIN },
			{ .fd = xenevtchn_fd(pt.quiet), .events = POLLIN },
			{ .fd = xs_fileno(pt.xs), .events = POLLIN },
		};
		long long t = now_ms(), wait = next_check - t;
		char **w;

		if (drain_end >= 0 && t >= drain_end)
			break;
		if (t >= deadline) {
			say("timed out after %lu s (%s)", timeout_s,
			    pt.bound ? "the guest never said it was done"
				     : "the guest never published its port");
			pt.failed = true;
			break;
		}
		if (drain_end >= 0 && drain_end - t < wait)
			wait = drain_end - t;
		if (poll(pfd, 3, wait < 0 ? 0 : (int)wait) < 0 && errno != EINTR) {
			say("poll: %s", strerror(errno));
			pt.failed = true;
			break;
		}
		if (pfd[0].revents)
			answer(&pt);
		if (pfd[1].revents)
			drain_quiet(&pt);
		if (pfd[2].revents) {
			while ((w = xs_check_watch(pt.xs)))
				free(w);
			if (!pt.bound) {
				char *g = read_key(&pt, "doorbell-port");

				if (g && !bind_guest(&pt, g))
					pt.failed = true;
				free(g);
			}
			if (pt.bound && pt.xsm_bool && !pt.xsm_done) {
				char *ready = read_key(&pt, "doorbell-xsm-ready");

				if (ready)
					xsm_refused(&pt, ready, deadline);
				free(ready);
			}
			if (drain_end < 0 && (done = read_key(&pt, "doorbell-guest-done")))
				drain_end = now_ms() + DRAIN_MS;
			if (pt.failed && drain_end < 0)
				break;
		}
		if (now_ms() >= next_check) {
			/* The guest's domain gone (destroyed, crashed away) ends the wait early. */
			char *d = xs_read(pt.xs, XBT_NULL, pt.dir, &(unsigned int){ 0 });

			if (!d) {
				say("domain %u's %s is gone", pt.domid, pt.dir);
				pt.failed = true;
				break;
			}
			free(d);
			next_check = now_ms() + 1000;
		}
	}

	if (done) {
		guest_failed = pvring_parse_u64(done, ULONG_MAX, &number) != 0;
		guest_kicks = guest_failed ? 0 : number;
		if (guest_failed)
			say("the guest gave up: doorbell-guest-done is '%s'", done);
	}
	snprintf(result, sizeof(result), "events %lu kicks %lu stray %lu quiet %lu", pt.events,
		 pt.kicks, pt.stray, pt.quiet_events);
	if (pt.bound && !write_key(&pt, "doorbell-partner-result", result))
		pt.failed = true;
	ok = done && !guest_failed && !pt.failed && guest_kicks == pt.events && !pt.stray &&
	     !pt.quiet_events && (!pt.xsm_bool || pt.xsm_ok);
	if (done && !guest_failed && guest_kicks != pt.events)
		say("the guest made %lu good kicks, %lu events arrived", guest_kicks, pt.events);
	if (pt.xsm_bool && !pt.xsm_done)
		say("the guest never wrote doorbell-xsm-ready");
	printf("PARTNER domid=%u guest_port=%u port=%u quiet_ports=%u,%u,%u events=%lu kicks=%lu "
	       "stray=%lu quiet=%lu guest_kicks=%s",
	       pt.domid, pt.guest_port, pt.port, pt.loop_a, pt.loop_b, pt.unbound, pt.events,
	       pt.kicks, pt.stray, pt.quiet_events, done ? done : "none");
	if (pt.xsm_bool)
		printf(" xsm_events=%lu xsm_sent=%" PRIu64 " xsm_dropped=%" PRIu64
		       " xsm_writes=%" PRIu64,
		       pt.xsm_events, pt.xsm_sent, pt.xsm_dropped, pt.xsm_writes);
	printf(" result=%s\n", ok ? "ok" : "fail");
	free(done);
	xenevtchn_close(pt.quiet);
	xenevtchn_close(pt.ev);
	xs_close(pt.xs);
	return ok ? 0 : 1;
}
