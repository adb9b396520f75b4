/* SPDX-License-Identifier: MIT */
/*
 * When to busy-poll a ring instead of sleeping on its doorbell: an adaptive window, shared by
 * pvringd (looking for the next requests after it answered) and front ends (looking for
 * responses after they submitted).
 *
 * Spinning pays when the peer runs on another CPU and answers within the window: the wake-up
 * and the kick are saved. It costs when nothing comes (a CPU burnt for the window) and it
 * hurts when the peer needs this very CPU to make progress: then the spin only delays it. So:
 *  - a window that found work keeps (or doubles back to) the full window;
 *  - an empty window halves the next one; below max/16 spinning stops, and is tried again,
 *    at max/4, only after PVRING_SPIN_REST chances to spin were passed up, twice as many
 *    each time the windows tried again come back empty too (up to PVRING_SPIN_REST_MAX),
 *    back to PVRING_SPIN_REST at the first window that finds work. A peer that cannot run
 *    while this thread spins (the same CPU, and no wake-up preemption) leaves every window
 *    empty: its cost shrinks with every round;
 *  - a window during which this thread was preempted (another task wanted the CPU: likely
 *    the peer, on the same CPU) stops spinning the same way: sleeping lets the peer run at
 *    once. (Preemption, not CPU time against the wall clock: on a virtual machine the host's
 *    steal would read as contention.) How many chances it rests for doubles with every
 *    preempted window, from PVRING_SPIN_REST_CONTENDED_MIN to PVRING_SPIN_REST_CONTENDED,
 *    and halves back with every look that finds this thread was not preempted. A peer on the
 *    same CPU preempts nearly every window, so the rest soon stays at its longest; a stray
 *    preemption on an idle machine (a kernel thread, a timer) costs only a short rest.
 * In the worst case (a peer on the same CPU), one window in PVRING_SPIN_REST_CONTENDED (or
 * a few short ones in PVRING_SPIN_REST_MAX) is spent, so a contended run costs next to
 * nothing over never spinning. The longest contended rest is short enough that an idle
 * machine's streaks of preemptions (the scheduler placing a woken peer on this CPU, then
 * moving it away) cost QD1 little: at 256 chances they cost it about 12% of its IOPS.
 *
 * Pure arithmetic on what the caller measures (whether the window found work, whether the
 * thread was preempted during it), so it builds in the kernel too.
 */
#ifndef PVRING_SPIN_H
#define PVRING_SPIN_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stdint.h>
#endif

#define PVRING_SPIN_REST 64u
#define PVRING_SPIN_REST_MAX 1024u
#define PVRING_SPIN_REST_CONTENDED_MIN 8u
#define PVRING_SPIN_REST_CONTENDED 64u
/*
 * Windows shorter than this found their work at once: the caller asks whether it was
 * preempted (a system call, as dear as a short window) only every PVRING_SPIN_SAMPLE-th
 * time. A peer on the same CPU can answer that fast too (it preempts the spinner, produces,
 * and the spinner finds the work when it runs again): the sampled look catches it, the
 * preemption count being kept since the last look. One look in 64: getrusage() takes about
 * 1 us in a guest, and with one in 8 the looks on both ends cost QD1 6% of its IOPS, while
 * 64 quick windows are still well under a millisecond.
 */
#define PVRING_SPIN_QUICK_NS 20000u
#define PVRING_SPIN_SAMPLE 64u

struct pvring_spin {
	uint32_t max_ns; /* the configured window; 0: never spin */
	uint32_t window_ns; /* the next window; 0 while resting */
	uint32_t rest; /* chances to pass up before trying again */
	uint32_t probe_ns; /* the window to try again with */
	uint32_t quick; /* quick windows, for sampling */
	uint32_t empty_rest; /* the rest after the next run of empty windows */
	uint32_t contended_rest; /* the rest after the next preempted window */
	bool looked; /* pvring_spin_look said to ask, for the window being done */
	/* what happened, for counters */
	uint64_t windows, hits, contended;
};

/* Whether the caller should ask if it was preempted, after a window of wall_ns. */
static inline bool pvring_spin_look(struct pvring_spin *s, uint64_t wall_ns)
{
	s->looked = wall_ns >= PVRING_SPIN_QUICK_NS || ++s->quick % PVRING_SPIN_SAMPLE == 0;
	return s->looked;
}

static inline void pvring_spin_init(struct pvring_spin *s, uint32_t max_ns)
{
	*s = (struct pvring_spin){
		.max_ns = max_ns,
		.window_ns = max_ns,
		.empty_rest = PVRING_SPIN_REST,
		.contended_rest = PVRING_SPIN_REST_CONTENDED_MIN,
	};
}

/* How long to spin at this chance; 0: sleep now (resting, or spinning is off). */
static inline uint32_t pvring_spin_window(struct pvring_spin *s)
{
	if (s->window_ns)
		return s->window_ns;
	if (!s->max_ns)
		return 0;
	if (s->rest) {
		s->rest--;
		return 0;
	}
	s->window_ns = s->probe_ns;
	return s->window_ns;
}

static inline void pvring__spin_stop(struct pvring_spin *s, uint32_t rest, uint32_t probe_ns)
{
	s->window_ns = 0;
	s->rest = rest;
	s->probe_ns = probe_ns ? probe_ns : 1;
}

/*
 * After a window: whether it found work, and whether this thread was preempted during it
 * (known only when pvring_spin_look said to ask; false otherwise).
 */
static inline void pvring_spin_done(struct pvring_spin *s, bool found, bool preempted)
{
	bool looked = s->looked;

	s->looked = false;
	s->windows++;
	if (preempted) {
		/* Someone else needs this CPU. */
		s->contended++;
		pvring__spin_stop(s, s->contended_rest, s->max_ns / 4);
		if (s->contended_rest < PVRING_SPIN_REST_CONTENDED)
			s->contended_rest *= 2;
		return;
	}
	/* Asked, and not preempted since the last look: the CPU is this thread's again. */
	if (looked && s->contended_rest > PVRING_SPIN_REST_CONTENDED_MIN)
		s->contended_rest /= 2;
	if (found) {
		s->hits++;
		s->empty_rest = PVRING_SPIN_REST;
		s->window_ns = s->window_ns * 2 > s->max_ns ? s->max_ns : s->window_ns * 2;
		return;
	}
	s->window_ns /= 2;
	if (s->window_ns < s->max_ns / 16) {
		pvring__spin_stop(s, s->empty_rest, s->max_ns / 4);
		if (s->empty_rest < PVRING_SPIN_REST_MAX)
			s->empty_rest *= 2;
	}
}

#endif /* PVRING_SPIN_H */
