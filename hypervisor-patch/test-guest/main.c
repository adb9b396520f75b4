// SPDX-License-Identifier: MIT
/*
 * The doorbell test guest: a bare 32-bit PVH guest that measures event-channel round trips to a
 * dom0 partner (tests/e2e doorbell-partner) kicked with EVTCHNOP_send and, when Xen advertises
 * it, with pvring's port-I/O doorbell; then makes every kind of bad doorbell access and checks
 * that none of them delivers anything. Results go to Xen's console as lines starting with
 * "DOORBELL-", the last one "DOORBELL-DONE ok" or "DOORBELL-DONE fail <reason>".
 *
 * The handshake with the partner, all in the guest's xenstore directory
 * /local/domain/<domid>/data/ (the guest uses relative paths):
 *   1. guest:   allocates port G (EVTCHNOP_alloc_unbound, remote dom0) and writes
 *               doorbell-port = G.
 *   2. partner: binds G (its own port P; the one event Xen raises on P at the bind is taken
 *               and not answered), writes doorbell-partner-port = P and
 *               doorbell-foreign-ports = "P L1 L2 U" (ports of dom0's own table: P, a dom0
 *               loopback pair L1-L2 and an unbound port U, none of which may ever fire), then
 *               sends the hello event on P. The guest takes the ones of those numbers that are
 *               free in its own table as "foreign" ports for the bad accesses.
 *   3. guest:   waits for the hello, then every kick gets exactly one answer from the partner;
 *               the guest waits for it before kicking again, so events never coalesce and both
 *               sides can count exactly.
 *   4. guest:   writes doorbell-guest-done = the number of its good kicks ("fail" if it gave up).
 *   5. partner: writes doorbell-partner-result = "events E kicks K stray S quiet Q" (events it
 *               got on P, kicks it sent including the hello, events on ports other than P, events
 *               on its never-firing ports) and exits. The guest checks E = its good kicks and
 *               K = the answers it got.
 * With xsm=N on the command line (the FLASK case; the partner runs with -x BOOLEAN), between the
 * round trips and the mask checks:
 *   a. guest:   writes doorbell-xsm-ready = N.
 *   b. partner: sets the FLASK boolean that allows the guest's sends to 0, then sends one event.
 *   c. guest:   makes N EVTCHNOP_send calls on G (each must fail with -EACCES) and, when the
 *               doorbell is on, N doorbell writes of G (XSM refuses them in the hypervisor).
 *   d. partner: waits until the hypervisor has counted N more doorbell writes as dropped (none
 *               as sent) and a little more, checks that no event came, sets the boolean back to
 *               1 and sends one event. The guest then checks that a kick of each kind works.
 * Command line (xl's cmdline=): n=ROUND_TRIPS_PER_ROUND rounds=ROUNDS warmup=N quiet=MS xsm=N
 * verbose poweroff.
 */
#include "guest.h"

#define MAX_SAMPLES 8192
#define MAX_ROUNDS 16
#define MAX_FOREIGN 8
/* Upper bounds for a live partner, never speed checks: TCG on a loaded host is slow. */
#define HELLO_TIMEOUT_MS 180000
#define ANSWER_TIMEOUT_MS 20000
#define RESULT_TIMEOUT_MS 60000

enum method { SEND, DOORBELL, NR_METHODS };
static const char *const method_name[NR_METHODS] = { "send", "doorbell" };

static u32 opt_n = 400, opt_rounds = 5, opt_warmup = 20, opt_quiet_ms, opt_xsm;
static bool opt_verbose, opt_poweroff;

static bool doorbell; /* advertised by CPUID for this domain */
static u16 doorbell_io; /* the advertised I/O port, or the default one for the inert checks */
static u32 port; /* G: the guest's end of the channel to the partner */
static u32 ipi_port, unbound_port, closed_port;
static u32 foreign[MAX_FOREIGN], nr_foreign;
static u32 quiet_ms;

/* Kept by handle_event(), in the upcall. */
static volatile u32 answers, ipi_events, store_events, stray_events, stray_port;

static u32 good_kicks[NR_METHODS];
static u32 bad_accesses, neighbour_accesses, inert_accesses;
static char failure[160];

static u32 samples[NR_METHODS][MAX_SAMPLES];
static u32 nr_samples[NR_METHODS];
static u32 scratch[MAX_SAMPLES];
static u32 round_rate[NR_METHODS][MAX_ROUNDS];
static u32 round_kick[NR_METHODS][MAX_ROUNDS];

void handle_event(u32 p)
{
	if (p == port)
		answers++;
	else if (p == ipi_port)
		ipi_events++;
	else if (p == xen.store_port)
		store_events++;
	else {
		stray_events++;
		stray_port = p;
	}
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	char why[sizeof(failure)];
	va_list ap;

	va_start(ap, fmt);
	vformat(why, sizeof(why), fmt, ap);
	va_end(ap);
	print("DOORBELL-FAIL %s\n", why);
	if (!failure[0])
		memcpy(failure, why, sizeof(failure));
}

static void sleep_ms(u32 ms)
{
	WAIT_UNTIL(false, ms);
}

static bool word_is(const char *s, const char *word, const char **value)
{
	size_t n = strlen(word);

	if (memcmp(s, word, n))
		return false;
	*value = s + n;
	return true;
}

static void parse_cmdline(const char *s)
{
	while (*s) {
		const char *v;

		if (word_is(s, "n=", &v))
			parse_u32(&v, &opt_n);
		else if (word_is(s, "rounds=", &v))
			parse_u32(&v, &opt_rounds);
		else if (word_is(s, "warmup=", &v))
			parse_u32(&v, &opt_warmup);
		else if (word_is(s, "quiet=", &v))
			parse_u32(&v, &opt_quiet_ms);
		else if (word_is(s, "xsm=", &v))
			parse_u32(&v, &opt_xsm);
		else if (word_is(s, "verbose", &v))
			opt_verbose = true;
		else if (word_is(s, "poweroff", &v))
			opt_poweroff = true;
		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
	}
	if (opt_rounds < 1)
		opt_rounds = 1;
	if (opt_rounds > MAX_ROUNDS)
		opt_rounds = MAX_ROUNDS;
	if (opt_n < 1)
		opt_n = 1;
	if (opt_n * opt_rounds > MAX_SAMPLES)
		opt_n = MAX_SAMPLES / opt_rounds;
}

/* Finds "KEY <number>" among the space-separated words of S. */
static bool find_number(const char *s, const char *key, u32 *out)
{
	size_t n = strlen(key);
	const char *p;

	for (p = s; *p; p++) {
		const char *v = p + n + 1;

		if ((p == s || p[-1] == ' ') && !memcmp(p, key, n) && p[n] == ' ')
			return parse_u32(&v, out);
	}
	return false;
}

/* ---- kicks */

/* One good kick of G; returns the TSC cycles of just the hypercall or the out instruction. */
static u32 kick(enum method m)
{
	struct evtchn_port_arg send = { port };
	u64 t0, t1;
	int rc = 0;

	if (m == SEND) {
		t0 = rdtsc();
		rc = evtchn_op(EVTCHNOP_send, &send);
		t1 = rdtsc();
	} else {
		t0 = rdtsc();
		outl(doorbell_io, port);
		t1 = rdtsc();
	}
	if (rc)
		fail("EVTCHNOP_send(%u) returned %d", port, rc);
	else
		good_kicks[m]++;
	return (u32)(t1 - t0);
}

/* A kick and the partner's answer to it: exactly one event on G. */
static bool round_trip(enum method m, u32 *cycles)
{
	u32 before = answers;

	*cycles = kick(m);
	if (!WAIT_UNTIL(answers != before, ANSWER_TIMEOUT_MS)) {
		fail("no answer to a %s kick within %u ms", method_name[m], ANSWER_TIMEOUT_MS);
		return false;
	}
	if (answers != before + 1) {
		fail("%u answers to one %s kick", answers - before, method_name[m]);
		return false;
	}
	return true;
}

static u32 cycles_to_us(u64 cycles)
{
	return (u32)udiv64(cycles * 1000, xen.tsc_khz);
}

/*
 * Rounds of n round trips per method, the methods alternating ABBA so that a slow phase of the
 * host hurts both alike; a round's rate is its round trips over its TSC time. Reported: each
 * round, then per method the median round rate and the median kick cost over all kicks.
 */
static bool measure(void)
{
	u32 nm = doorbell ? 2 : 1, r, k, i, slowest_rt_us = 0;

	for (k = 0; k < nm; k++)
		for (i = 0; i < opt_warmup; i++)
			if (!round_trip(k, &scratch[0]))
				return false;
	for (r = 0; r < opt_rounds; r++) {
		for (k = 0; k < nm; k++) {
			enum method m = r % 2 ? nm - 1 - k : k;
			u32 *s = &samples[m][nr_samples[m]];
			u64 t0, t1;

			t0 = rdtsc();
			for (i = 0; i < opt_n; i++)
				if (!round_trip(m, &s[i]))
					return false;
			t1 = rdtsc();
			round_rate[m][r] = (u32)udiv64((u64)opt_n * xen.tsc_khz * 1000, t1 - t0);
			memcpy(scratch, s, opt_n * sizeof(*s));
			round_kick[m][r] = median_u32(scratch, opt_n);
			nr_samples[m] += opt_n;
			if (cycles_to_us(udiv64(t1 - t0, opt_n)) > slowest_rt_us)
				slowest_rt_us = cycles_to_us(udiv64(t1 - t0, opt_n));
			print("DOORBELL-ROUND %u %s rt_per_s=%u kick_cycles=%u\n", r + 1,
			      method_name[m], round_rate[m][r], round_kick[m][r]);
		}
	}
	for (k = 0; k < nm; k++) {
		u32 rate, kick_median, kick_min;

		memcpy(scratch, round_rate[k], opt_rounds * sizeof(u32));
		rate = median_u32(scratch, opt_rounds);
		kick_median = median_u32(samples[k], nr_samples[k]);
		kick_min = samples[k][0];
		print("DOORBELL-RESULT %s rounds=%u n=%u rt_per_s=%u rt_us=%u kick_cycles=%u "
		      "kick_cycles_min=%u\n",
		      method_name[k], opt_rounds, opt_n, rate, rate ? 1000000 / rate : 0,
		      kick_median, kick_min);
	}
	/*
	 * How long to watch for a wrong wake-up after a bad access: far longer than a round trip
	 * ever took here, and never less than 50 ms.
	 */
	quiet_ms = opt_quiet_ms ? opt_quiet_ms : slowest_rt_us / 100;
	if (quiet_ms < 50)
		quiet_ms = 50;
	if (quiet_ms > 1000)
		quiet_ms = 1000;
	return true;
}

/* ---- XSM: with the guest's sends refused by policy, the doorbell delivers nothing either */

static bool xsm_refused(void)
{
	u32 before, i, send_refused = 0, send_other = 0, writes = doorbell ? opt_xsm : 0;
	int other_rc = 0;
	char buf[16];

	format(buf, sizeof(buf), "%u", opt_xsm);
	before = answers;
	if (xs_write("data/doorbell-xsm-ready", buf)) {
		fail("cannot write data/doorbell-xsm-ready");
		return false;
	}
	if (!WAIT_UNTIL(answers != before, RESULT_TIMEOUT_MS)) {
		fail("the partner never said that sends are off");
		return false;
	}
	before = answers;
	/* No xenstore from here until the partner says sends are back: its kicks are refused too.
	 */
	for (i = 0; i < opt_xsm; i++) {
		int rc = evtchn_send(port);

		if (rc == -XEN_EACCES) {
			send_refused++;
		} else {
			send_other++;
			other_rc = rc;
		}
	}
	for (i = 0; i < writes; i++)
		outl(doorbell_io, port);
	if (!WAIT_UNTIL(answers != before, RESULT_TIMEOUT_MS)) {
		fail("the partner never said that sends are back");
		return false;
	}
	print("DOORBELL-XSM n=%u send_refused=%u send_other=%u other_rc=%d doorbell_writes=%u "
	      "events_while_off=%u\n",
	      opt_xsm, send_refused, send_other, other_rc, writes, answers - before - 1);
	if (send_other)
		fail("%u of %u refused EVTCHNOP_send calls returned %d, not -EACCES", send_other,
		     opt_xsm, other_rc);
	/* More than the one "back on" event: a refused kick was answered, so it got through. */
	if (answers != before + 1)
		fail("%u answers while sends were off", answers - before - 1);
	/* The policy's boolean is back: both kinds of kick work again. */
	return round_trip(SEND, &scratch[0]) && (!doorbell || round_trip(DOORBELL, &scratch[0]));
}

/* ---- masking: the edge that arrives while masked must not be lost */

static void mask_test(enum method m, bool hypercall)
{
	volatile u32 *mask = xen.shared->evtchn_mask;
	volatile u32 *pending = xen.shared->evtchn_pending;
	const char *how = hypercall ? "EVTCHNOP_unmask" : "clear-and-recheck";
	u32 before = answers, upcalls, masked_upcalls;

	set_bit(port, mask);
	kick(m);
	if (!WAIT_UNTIL(test_bit(port, pending), ANSWER_TIMEOUT_MS)) {
		fail("mask %s: the answer never became pending", how);
		clear_bit(port, mask);
		return;
	}
	upcalls = upcall_count;
	WAIT_UNTIL(answers != before, quiet_ms);
	masked_upcalls = upcall_count - upcalls;
	if (answers != before) {
		fail("mask %s: an event was handled while its port was masked", how);
		clear_bit(port, mask);
		return;
	}
	if (hypercall) {
		/* Xen clears the mask, finds the port pending and raises the upcall itself. */
		struct evtchn_port_arg unmask = { port };
		int rc = evtchn_op(EVTCHNOP_unmask, &unmask);

		if (rc)
			fail("EVTCHNOP_unmask(%u) returned %d", port, rc);
		WAIT_UNTIL(answers != before, ANSWER_TIMEOUT_MS);
	} else {
		/*
		 * Clearing the mask bit by hand raises nothing: Xen dropped the edge while the
		 * port was masked. So re-check pending after the (locked, hence ordered) clear and
		 * do what Xen would have done: mark the selector and run the upcall's scan.
		 */
		cli();
		clear_bit(port, mask);
		if (test_bit(port, pending)) {
			set_bit(port / 32, &xen.vcpu->evtchn_pending_sel);
			xen.vcpu->evtchn_upcall_pending = 1;
			evtchn_dispatch();
		}
		sti();
	}
	/* Exactly once: a second delivery would show within the quiet time. */
	WAIT_UNTIL(answers != before + 1, quiet_ms);
	if (answers != before + 1)
		fail("mask %s: the event was handled %u times, not once", how, answers - before);
	else if (test_bit(port, pending))
		fail("mask %s: the port is still pending after it was handled", how);
	print("DOORBELL-MASK %s kick=%s pending_while_masked=1 upcalls_while_masked=%u "
	      "handled=%u\n",
	      how, method_name[m], masked_upcalls, answers - before);
}

/* ---- bad accesses: each must deliver nothing anywhere */

static void after_access(const char *what, u32 a0, u32 i0, u32 s0)
{
	WAIT_UNTIL(answers != a0 || ipi_events != i0 || stray_events != s0, quiet_ms);
	if (answers != a0)
		fail("%s woke the partner", what);
	if (ipi_events != i0)
		fail("%s fired the guest's own IPI", what);
	if (stray_events != s0)
		fail("%s raised an event on port %u", what, stray_port);
	if (opt_verbose)
		print("DOORBELL-PROBE %s\n", what);
}

static bool overlaps(s32 offset, u32 size)
{
	return offset < 4 && offset + (s32)size > 0;
}

/*
 * One access at the doorbell's I/O port plus OFFSET, counted in *COUNTER, or by default as a bad
 * access if it overlaps the doorbell's 4 bytes (the hypervisor drops and counts those) and as a
 * neighbour if not (not the doorbell's business at all).
 */
static u32 *counter_for(s32 offset, u32 size, u32 *counter)
{
	if (counter)
		return counter;
	return overlaps(offset, size) ? &bad_accesses : &neighbour_accesses;
}

static void probe_write(u32 size, s32 offset, u32 value, const char *why, u32 *counter)
{
	u16 io = (u16)(doorbell_io + offset);
	u32 a0 = answers, i0 = ipi_events, s0 = stray_events;
	char what[96];

	format(what, sizeof(what), "out%c 0x%x <- %u %s", "bwl"[size / 2], io, value, why);
	if (size == 1)
		outb(io, (u8)value);
	else if (size == 2)
		outw(io, (u16)value);
	else
		outl(io, value);
	(*counter_for(offset, size, counter))++;
	after_access(what, a0, i0, s0);
}

static void probe_read(u32 size, s32 offset, u32 *counter)
{
	u16 io = (u16)(doorbell_io + offset);
	u32 a0 = answers, i0 = ipi_events, s0 = stray_events, v, ones;
	char what[48];

	format(what, sizeof(what), "in%c 0x%x", "bwl"[size / 2], io);
	if (size == 1) {
		v = inb(io);
		ones = 0xff;
	} else if (size == 2) {
		v = inw(io);
		ones = 0xffff;
	} else {
		v = inl(io);
		ones = 0xffffffffu;
	}
	if (v != ones)
		fail("%s read 0x%x, not all-ones", what, v);
	(*counter_for(offset, size, counter))++;
	after_access(what, a0, i0, s0);
}

static void bad_accesses_all(void)
{
	static const s32 straddle_l[] = { 1, 2, 3, -1, -2, -3 };
	static const u32 out_of_range[] = {
		1024, 4096, 5000, 0x7fffffffu, 0x80000000u, 0xffffffffu
	};
	char why[32];
	u32 i, size, off;

	/* Reads anywhere on the doorbell, also straddling it: all-ones, nothing else. */
	for (size = 1; size <= 4; size *= 2)
		for (off = 0; off + size <= 4; off += size == 4 ? 4 : 1)
			probe_read(size, off, NULL);
	probe_read(2, -1, NULL);
	probe_read(2, 3, NULL);
	probe_read(4, -2, NULL);
	probe_read(4, 2, NULL);
	/* The right port number with the wrong width: 1 and 2 bytes, at every offset. */
	for (off = 0; off < 4; off++)
		probe_write(1, off, port, "(byte)", NULL);
	for (off = 0; off < 3; off++)
		probe_write(2, off, port, "(word)", NULL);
	/* 4 bytes that overlap the doorbell without being it, and 2 that straddle an edge. */
	for (i = 0; i < sizeof(straddle_l) / sizeof(straddle_l[0]); i++)
		probe_write(4, straddle_l[i], port, "(straddling)", NULL);
	probe_write(2, -1, port, "(straddling)", NULL);
	probe_write(2, 3, port, "(straddling)", NULL);
	/* Right access, wrong port: not an interdomain port of this guest's own table. */
	probe_write(4, 0, closed_port, "(closed)", NULL);
	probe_write(4, 0, unbound_port, "(unbound)", NULL);
	probe_write(4, 0, ipi_port, "(IPI)", NULL);
	probe_write(4, 0, 0, "(port 0)", NULL);
	for (i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++)
		probe_write(4, 0, out_of_range[i], "(out of range)", NULL);
	/* G with high bits set: a hypervisor that truncated the value would kick G. */
	probe_write(4, 0, port + 1024, "(G+1024)", NULL);
	probe_write(4, 0, port + 0x10000, "(G+0x10000)", NULL);
	probe_write(4, 0, port | 0x80000000u, "(G|1<<31)", NULL);
	for (i = 0; i < nr_foreign; i++) {
		format(why, sizeof(why), "(dom0's port %u)", foreign[i]);
		probe_write(4, 0, foreign[i], why, NULL);
	}
	/* Neighbours that do not touch the doorbell: neither kicks nor counted as dropped. */
	probe_write(4, -4, port, "(neighbour)", NULL);
	probe_write(4, 4, port, "(neighbour)", NULL);
	probe_write(1, -1, port, "(neighbour)", NULL);
	probe_write(1, 4, port, "(neighbour)", NULL);
	probe_read(4, -4, NULL);
	probe_read(4, 4, NULL);
	print("DOORBELL-BAD bad=%u neighbours=%u quiet_ms=%u ipi=%u stray=%u alive=1\n",
	      bad_accesses, neighbour_accesses, quiet_ms, ipi_events, stray_events);
}

/* With no doorbell advertised, the port must be inert: reads all-ones, a kick wakes nobody. */
static void inert_port(void)
{
	probe_read(4, 0, &inert_accesses);
	probe_write(4, 0, port, "(would-be kick, doorbell off)", &inert_accesses);
	print("DOORBELL-INERT io=0x%x read=all-ones write=ignored\n", doorbell_io);
}

/* Ports of dom0's table the partner named, kept only if they mean nothing in this guest's. */
static void pick_foreign(const char *list)
{
	const char *s = list;
	u32 p;

	while (*s && nr_foreign < MAX_FOREIGN) {
		struct evtchn_status st = { .dom = DOMID_SELF };
		int rc;

		while (*s == ' ')
			s++;
		if (!parse_u32(&s, &p))
			break;
		/*
		 * The guest's own ports first: under FLASK, EVTCHNOP_status on some of them is
		 * refused, which must not read as "free here".
		 */
		if (p == port || p == ipi_port || p == unbound_port || p == closed_port ||
		    p == xen.store_port || p == xen.console_port) {
			print("DOORBELL-FOREIGN port=%u skipped (the guest's own)\n", p);
			continue;
		}
		st.port = p;
		rc = evtchn_op(EVTCHNOP_status, &st);
		if (rc == 0 && st.status != EVTCHNSTAT_closed) {
			print("DOORBELL-FOREIGN port=%u skipped (status %u in this guest)\n", p,
			      st.status);
			continue;
		}
		print("DOORBELL-FOREIGN port=%u here=%s\n", p, rc ? "invalid" : "closed");
		foreign[nr_foreign++] = p;
	}
}

static bool alloc_unbound(u32 *p)
{
	struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = 0 };
	int rc = evtchn_op(EVTCHNOP_alloc_unbound, &op);

	*p = op.port;
	return rc == 0;
}

static bool setup_ports(void)
{
	struct evtchn_bind_ipi ipi = { .vcpu = 0 };
	struct evtchn_port_arg close;
	char buf[16];

	if (!alloc_unbound(&port) || evtchn_op(EVTCHNOP_bind_ipi, &ipi) ||
	    !alloc_unbound(&unbound_port) || !alloc_unbound(&closed_port)) {
		fail("cannot allocate event channels");
		return false;
	}
	ipi_port = ipi.port;
	/* Closed last, so that no later allocation takes its number again. */
	close.port = closed_port;
	if (evtchn_op(EVTCHNOP_close, &close)) {
		fail("EVTCHNOP_close(%u) failed", closed_port);
		return false;
	}
	clear_bit(port, xen.shared->evtchn_mask);
	clear_bit(ipi_port, xen.shared->evtchn_mask);
	format(buf, sizeof(buf), "%u", port);
	if (xs_write("data/doorbell-port", buf)) {
		fail("cannot write data/doorbell-port");
		return false;
	}
	return true;
}

static u32 pending_snapshot[EVTCHN_2L_WORDS];

static void snapshot_pending(void)
{
	u32 w;

	for (w = 0; w < EVTCHN_2L_WORDS; w++)
		pending_snapshot[w] = xen.shared->evtchn_pending[w];
}

/* No port of this guest's own table that nobody handles became pending meanwhile. */
static void check_pending(void)
{
	u32 w;

	for (w = 0; w < EVTCHN_2L_WORDS; w++) {
		u32 fresh = xen.shared->evtchn_pending[w] & ~pending_snapshot[w];

		while (fresh) {
			u32 p = w * 32 + lowest_bit(fresh);

			fresh &= fresh - 1;
			if (p != port && p != ipi_port && p != xen.store_port &&
			    p != xen.console_port)
				fail("port %u became pending during the bad accesses", p);
		}
	}
}

/* The IPI handler works: sent properly, it fires exactly once (so a 0 above meant something). */
static void ipi_control(void)
{
	u32 before = ipi_events;

	if (evtchn_send(ipi_port))
		fail("EVTCHNOP_send on the IPI port failed");
	WAIT_UNTIL(ipi_events != before, 1000);
	if (ipi_events != before + 1)
		fail("an EVTCHNOP_send IPI was handled %u times, not once", ipi_events - before);
	print("DOORBELL-IPI control=%u\n", ipi_events - before);
}

/* Steps 4 and 5 of the handshake. */
static void partner_result(void)
{
	u32 total = good_kicks[SEND] + good_kicks[DOORBELL], events, kicks, stray, quiet, i;
	char buf[128];

	format(buf, sizeof(buf), "%u", total);
	if (xs_write("data/doorbell-guest-done", failure[0] ? "fail" : buf)) {
		fail("cannot write data/doorbell-guest-done");
		return;
	}
	for (i = 0; xs_read("data/doorbell-partner-result", buf, sizeof(buf)) < 0; i++) {
		if (i * 100 >= RESULT_TIMEOUT_MS) {
			fail("no data/doorbell-partner-result within %u ms", RESULT_TIMEOUT_MS);
			return;
		}
		sleep_ms(100);
	}
	if (!find_number(buf, "events", &events) || !find_number(buf, "kicks", &kicks) ||
	    !find_number(buf, "stray", &stray) || !find_number(buf, "quiet", &quiet)) {
		fail("cannot parse the partner's result '%s'", buf);
		return;
	}
	print("DOORBELL-PARTNER events=%u kicks=%u stray=%u quiet=%u\n", events, kicks, stray,
	      quiet);
	if (events != total)
		fail("the partner got %u events, the guest made %u good kicks", events, total);
	if (kicks != answers)
		fail("the partner sent %u kicks, the guest got %u", kicks, answers);
	if (stray || quiet)
		fail("the partner saw %u stray events and %u on its never-firing ports", stray,
		     quiet);
}

static void run(const struct hvm_start_info *si)
{
	const char *err = platform_init(si);
	char buf[96];

	if (err) {
		fail("%s", err);
		return;
	}
	parse_cmdline(xen.cmdline);
	doorbell = xen.hvm_features & PVRING_DOORBELL_CPUID_FLAG;
	doorbell_io = doorbell ? (u16)xen.doorbell_io : PVRING_DOORBELL_IOPORT;
	/* io and info are subleaf 1 as read, also when the doorbell is off (then both must be 0).
	 */
	print("DOORBELL-CPUID base=0x%x xen=%u.%u features=0x%x doorbell=%u io=0x%x info=0x%x "
	      "tsc_khz=%u%s tsc_emulated=%u\n",
	      xen.cpuid_base, xen.xen_version >> 16, xen.xen_version & 0xffff, xen.hvm_features,
	      doorbell, xen.doorbell_io, xen.doorbell_info, xen.tsc_khz,
	      xen.tsc_khz_guessed ? "(guessed)" : "", xen.tsc_emulated);
	if (doorbell && (!xen.doorbell_io || xen.doorbell_io > 0xfffc)) {
		fail("the doorbell is advertised at I/O port 0x%x", xen.doorbell_io);
		return;
	}
	if (!doorbell)
		print("DOORBELL-NOTE the doorbell is not advertised: EVTCHNOP_send only, and 0x%x "
		      "must be inert\n",
		      doorbell_io);
	if (!setup_ports())
		return;
	print("DOORBELL-PORTS domid=%u port=%u ipi=%u unbound=%u closed=%u store=%u console=%u\n",
	      xen.domid, port, ipi_port, unbound_port, closed_port, xen.store_port,
	      xen.console_port);

	if (!WAIT_UNTIL(answers != 0, HELLO_TIMEOUT_MS)) {
		fail("no hello from the partner within %u ms", HELLO_TIMEOUT_MS);
		return;
	}
	if (xs_read("data/doorbell-foreign-ports", buf, sizeof(buf)) < 0) {
		fail("cannot read data/doorbell-foreign-ports");
		return;
	}
	pick_foreign(buf);
	if (!nr_foreign)
		fail("none of dom0's ports '%s' is free in this guest", buf);
	/* The hello is one event; anything more before the first kick is a spurious one. */
	sleep_ms(50);
	print("DOORBELL-HELLO events=%u\n", answers);
	if (answers != 1) {
		fail("%u events before the first kick, not just the hello", answers);
		return;
	}

	if (!measure())
		return;
	/* Sends possibly still refused: every later step would only pile up timeouts. */
	if (opt_xsm && !xsm_refused())
		return;
	mask_test(doorbell ? DOORBELL : SEND, false);
	mask_test(SEND, true);

	snapshot_pending();
	if (!doorbell)
		inert_port();
	bad_accesses_all();
	check_pending();
	ipi_control();
}

void guest_main(const struct hvm_start_info *si);
void guest_main(const struct hvm_start_info *si)
{
	print("DOORBELL-START pvring doorbell test guest\n");
	run(si);
	if (answers)
		partner_result();
	else if (xen.store_port)
		xs_write("data/doorbell-guest-done", "fail");
	print("DOORBELL-COUNTS good_send=%u good_doorbell=%u bad=%u neighbours=%u "
	      "inert_accesses=%u answers=%u ipi=%u stray=%u upcalls=%u\n",
	      good_kicks[SEND], good_kicks[DOORBELL], bad_accesses, neighbour_accesses,
	      inert_accesses, answers, ipi_events, stray_events, upcall_count);
	if (failure[0])
		print("DOORBELL-DONE fail %s\n", failure);
	else
		print("DOORBELL-DONE ok\n");
	stop_timer();
	if (opt_poweroff)
		poweroff();
	/* Idle, interrupts on: the domain stays up (running, blocked) for the test to inspect. */
	for (;;)
		sti_hlt();
}
