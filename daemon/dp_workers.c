// SPDX-License-Identifier: MIT
/*
 * The data plane's workers and its API (dataplane.h): threads, placement, and the mail
 * between the main thread and the workers (dataplane_internal.h says who owns what).
 *
 * Main connects and releases; a worker serves. Connecting maps the ring, makes the request
 * contexts and binds the event channel on the chosen worker's handle from the main thread, so
 * every refusal comes back before the owner says Connected; then ADD hands the queue over.
 * STOP, the owner's FAILED and IDLE, snapshots and shutdown are mail too. A worker never waits
 * for main; main waits for a worker only for a snapshot (served at the worker's next loop
 * turn) and at shutdown.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/aio.h"
#include "daemon/dataplane_internal.h"
#include "daemon/log.h"

static struct dp_mail *dp_mail_of(struct pvringd_mail *mail)
{
	return container_of(mail, struct dp_mail, mail);
}

/* ---- mail to the main thread: the owner's callbacks ---- */

void dp_post_to_main(struct dp_mail *m)
{
	pvringd_mailbox_post(m->q->dp->mailbox, &m->mail);
}

static void on_main_mail(void *arg, struct pvringd_mail *mail)
{
	struct dp_mail *m = dp_mail_of(mail);
	struct pvringd_queue *q = m->q;

	(void)arg;
	/* The callback may release q: nothing of it is touched after. */
	if (m->kind == MAIL_FAILED)
		q->ops->failed(q->owner, q, q->fail_reason);
	else
		q->ops->idle(q->owner, q);
}

/* ---- the workers' side ---- */

static void sync_done(struct pvringd_dp *dp, struct dp_sync_mail *sm)
{
	pthread_mutex_lock(&dp->sync_lock);
	sm->done = true;
	pthread_cond_broadcast(&dp->sync_cond);
	pthread_mutex_unlock(&dp->sync_lock);
}

static void on_worker_mail(void *arg, struct pvringd_mail *mail)
{
	struct pvringd_worker *w = arg;
	struct dp_mail *m = dp_mail_of(mail);
	struct dp_sync_mail *sm = container_of(m, struct dp_sync_mail, m);

	switch (m->kind) {
	case MAIL_ADD:
		dp_queue_add(m->q);
		break;
	case MAIL_STOP:
		dp_queue_halt(m->q, m->q->serve_published);
		break;
	case MAIL_SNAPSHOT:
		if (sm->snapshot)
			dp_queue_fill_snapshot(m->q, sm->snapshot);
		if (sm->slots)
			sm->nr_slots = dp_queue_fill_slots(m->q, sm->slots, sm->max_slots);
		sync_done(w->dp, sm);
		break;
	case MAIL_QUIESCE:
		/* Shutdown: every queue is stopped; what is in flight completes and is answered. */
		dp_worker_drain(w);
		sync_done(w->dp, sm);
		break;
	case MAIL_EXIT:
		event_base_loopbreak(w->base);
		break;
	default:
		abort();
	}
}

static void *worker_main(void *arg)
{
	struct pvringd_worker *w = arg;
	struct pvringd_dp *dp = w->dp;
	const char *why = NULL;
	char name[16];

	/* For top -H, perf and gdb: pvringd-wN serves the rings pvringctl shows on worker N. */
	snprintf(name, sizeof(name), "pvringd-w%u", w->index);
	pthread_setname_np(pthread_self(), name);
	/* Made here: an io_uring set up for a single issuer takes submissions from this thread. */
	w->aio = pvring_aio_create(w->base, dp->aio_entries, &why);
	pthread_mutex_lock(&dp->sync_lock);
	if (!w->aio)
		w->start_why = why;
	dp->nr_started++;
	pthread_cond_broadcast(&dp->sync_cond);
	pthread_mutex_unlock(&dp->sync_lock);
	if (!w->aio)
		return NULL;
	if (event_base_dispatch(w->base) < 0)
		pvring_err("data-plane worker %u: event loop failed", w->index);
	pvring_aio_destroy(w->aio);
	w->aio = NULL;
	return NULL;
}

/* Post m to a worker and wait until it is done with it. */
static void worker_call(struct pvringd_worker *w, struct dp_sync_mail *sm)
{
	struct pvringd_dp *dp = w->dp;

	sm->done = false;
	pvringd_mailbox_post(w->mailbox, &sm->m.mail);
	pthread_mutex_lock(&dp->sync_lock);
	while (!sm->done)
		pthread_cond_wait(&dp->sync_cond, &dp->sync_lock);
	pthread_mutex_unlock(&dp->sync_lock);
}

/* ---- the data plane ---- */

static int worker_init(struct pvringd_dp *dp, struct pvringd_worker *w, unsigned int index,
		       const char **why)
{
	w->dp = dp;
	w->index = index;
	pvring_spin_init(&w->spin, dp->poll_us * 1000u);
	w->base = event_base_new();
	if (!w->base) {
		*why = "cannot create a worker's event loop";
		return -1;
	}
	w->evtchn = pvring_evtchn_open(dp->plat, why);
	if (!w->evtchn)
		return -1;
	w->mailbox = pvringd_mailbox_new(w->base, on_worker_mail, w, why);
	if (!w->mailbox)
		return -1;
	return dp_worker_events_new(w, why);
}

static int workers_start(struct pvringd_dp *dp, const char **why)
{
	sigset_t all, old;
	unsigned int i;
	int err = 0;

	/* Signals are the main thread's: workers start with every one blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < dp->nr_workers; i++) {
		if (pthread_create(&dp->workers[i].thread, NULL, worker_main, &dp->workers[i])) {
			*why = "cannot start a data-plane thread";
			err = -1;
			break;
		}
		dp->workers[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&dp->sync_lock);
	while (dp->nr_started < i)
		pthread_cond_wait(&dp->sync_cond, &dp->sync_lock);
	pthread_mutex_unlock(&dp->sync_lock);
	for (i = 0; i < dp->nr_workers && !err; i++) {
		if (dp->workers[i].start_why) {
			*why = dp->workers[i].start_why;
			err = -1;
		}
	}
	return err;
}

struct pvringd_dp *pvringd_dp_create(const struct pvringd_dp_params *params, const char **why)
{
	struct pvringd_dp *dp = calloc(1, sizeof(*dp));
	unsigned int i;

	if (!dp) {
		*why = "out of memory";
		return NULL;
	}
	dp->base = params->base;
	dp->plat = params->plat;
	dp->poll_us = params->poll_us;
	dp->aio_entries = params->aio_entries;
	dp->guest_inflight_max = params->guest_inflight_max;
	dp->nr_workers = params->workers ? params->workers : 1;
	pthread_mutex_init(&dp->sync_lock, NULL);
	pthread_cond_init(&dp->sync_cond, NULL);
	dp->workers = calloc(dp->nr_workers, sizeof(*dp->workers));
	if (!dp->workers) {
		*why = "out of memory";
		goto fail;
	}
	dp->mailbox = pvringd_mailbox_new(dp->base, on_main_mail, dp, why);
	if (!dp->mailbox)
		goto fail;
	for (i = 0; i < dp->nr_workers; i++)
		if (worker_init(dp, &dp->workers[i], i, why))
			goto fail;
	if (workers_start(dp, why))
		goto fail;
	return dp;
fail:
	pvringd_dp_destroy(dp);
	return NULL;
}

void pvringd_dp_quiesce(struct pvringd_dp *dp)
{
	unsigned int i;

	for (i = 0; i < dp->nr_workers; i++) {
		struct dp_sync_mail sm = { .m = { .kind = MAIL_QUIESCE } };

		worker_call(&dp->workers[i], &sm);
	}
	/* What the workers said meanwhile is for queues about to be released. */
	pvringd_mailbox_discard(dp->mailbox);
}

void pvringd_dp_destroy(struct pvringd_dp *dp)
{
	unsigned int i;

	if (!dp)
		return;
	for (i = 0; dp->workers && i < dp->nr_workers; i++) {
		struct pvringd_worker *w = &dp->workers[i];
		struct dp_mail exit_mail = { .kind = MAIL_EXIT };

		if (w->started) {
			pvringd_mailbox_post(w->mailbox, &exit_mail.mail);
			pthread_join(w->thread, NULL);
		}
		dp_worker_events_free(w);
		pvringd_mailbox_free(w->mailbox);
		pvring_evtchn_close(w->evtchn);
		if (w->base)
			event_base_free(w->base);
	}
	free(dp->workers);
	pvringd_mailbox_free(dp->mailbox);
	pthread_cond_destroy(&dp->sync_cond);
	pthread_mutex_destroy(&dp->sync_lock);
	free(dp);
}

/*
 * The worker with the fewest queues; ties go round after the last one chosen, so the first
 * queues of many devices do not all land on worker 0.
 */
static struct pvringd_worker *place(struct pvringd_dp *dp)
{
	struct pvringd_worker *best = NULL;
	unsigned int i;

	for (i = 0; i < dp->nr_workers; i++) {
		struct pvringd_worker *w = &dp->workers[(dp->next_worker + i) % dp->nr_workers];

		if (!best || w->nr_queues < best->nr_queues)
			best = w;
	}
	dp->next_worker = (best->index + 1) % dp->nr_workers;
	return best;
}

/* ---- guests: what their queues share ---- */

/* Main: the guest's shared part, made with its first queue; NULL if out of memory. */
static struct pvringd_guest *guest_get(struct pvringd_dp *dp, uint32_t domid)
{
	struct pvringd_guest *g;

	for (g = dp->guests; g; g = g->next)
		if (g->domid == domid)
			break;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return NULL;
		g->domid = domid;
		atomic_init(&g->bytes_in_flight, 0);
		g->next = dp->guests;
		dp->guests = g;
	}
	g->nr_queues++;
	return g;
}

/* Main: a queue of the guest is released (no worker serves it): the last one frees it. */
static void guest_put(struct pvringd_dp *dp, struct pvringd_guest *g)
{
	struct pvringd_guest **link;

	if (!g || --g->nr_queues)
		return;
	for (link = &dp->guests; *link != g; link = &(*link)->next)
		;
	*link = g->next;
	free(g);
}

/* ---- queues ---- */

static struct pvringd_queue *queue_new(struct pvringd_dp *dp, const struct pvringd_queue_params *p,
				       const struct pvringd_queue_owner_ops *ops, void *owner)
{
	struct pvringd_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->dp = dp;
	q->port = -1;
	snprintf(q->name, sizeof(q->name), "%s", p->name);
	q->domid = p->domid;
	q->queue = p->queue;
	q->order = p->order;
	memcpy(q->refs, p->refs, sizeof(*q->refs) << p->order);
	q->remote_port = p->remote_port;
	q->limits = *p->limits;
	q->image = p->image;
	q->resume = p->resume;
	if (p->inflight_path) {
		q->inflight_path = strdup(p->inflight_path);
		if (!q->inflight_path) {
			free(q);
			return NULL;
		}
	}
	q->ops = ops;
	q->owner = owner;
	q->persistent = p->persistent;
	q->add_mail = (struct dp_mail){ .kind = MAIL_ADD, .q = q };
	q->stop_mail = (struct dp_mail){ .kind = MAIL_STOP, .q = q };
	q->failed_mail = (struct dp_mail){ .kind = MAIL_FAILED, .q = q };
	q->idle_mail = (struct dp_mail){ .kind = MAIL_IDLE, .q = q };
	return q;
}

/* Undo what connect did, with no worker serving the queue (before ADD, or after IDLE). */
static void queue_free(struct pvringd_queue *q)
{
	if (q->port >= 0)
		pvring_evtchn_unbind(q->w->evtchn, (uint32_t)q->port);
	dp_queue_unprepare(q);
	guest_put(q->dp, q->guest);
	free(q->inflight_path);
	free(q);
}

struct pvringd_queue *pvringd_queue_connect(struct pvringd_dp *dp,
					    const struct pvringd_queue_params *p,
					    const struct pvringd_queue_owner_ops *ops, void *owner,
					    char *why, size_t why_len)
{
	struct pvringd_queue *q;
	int port;

	if (p->order > PVRING_MAX_ORDER) {
		snprintf(why, why_len, "queue %u: ring of order %u", p->queue, p->order);
		return NULL;
	}
	q = queue_new(dp, p, ops, owner);
	if (!q) {
		snprintf(why, why_len, "queue %u: out of memory", p->queue);
		return NULL;
	}
	q->guest = guest_get(dp, p->domid);
	if (!q->guest) {
		free(q->inflight_path);
		free(q);
		snprintf(why, why_len, "queue %u: out of memory", p->queue);
		return NULL;
	}
	q->w = place(dp);
	if (dp_queue_prepare(q, why, why_len))
		goto fail;
	port = pvring_evtchn_bind(q->w->evtchn, q->domid, q->remote_port);
	if (port < 0) {
		snprintf(why, why_len, "queue %u: cannot bind event channel %u: %s", q->queue,
			 q->remote_port, strerror(-port));
		goto fail;
	}
	q->port = port;
	q->w->nr_queues++;
	pvringd_mailbox_post(q->w->mailbox, &q->add_mail.mail);
	return q;
fail:
	queue_free(q);
	return NULL;
}

bool pvringd_queue_stop(struct pvringd_queue *q, bool serve_published)
{
	if (q->stop_posted)
		return false;
	q->stop_posted = true;
	q->serve_published = serve_published;
	pvringd_mailbox_post(q->w->mailbox, &q->stop_mail.mail);
	return true;
}

void pvringd_queue_release(struct pvringd_queue *q)
{
	q->w->nr_queues--;
	queue_free(q);
}

void pvringd_queue_snapshot(const struct pvringd_queue *q, struct pvringd_queue_snapshot *s)
{
	struct dp_sync_mail sm = { .m = { .kind = MAIL_SNAPSHOT, .q = (struct pvringd_queue *)q },
				   .snapshot = s };

	worker_call(q->w, &sm);
}

uint32_t pvringd_queue_nr_slots(const struct pvringd_queue *q)
{
	/* Set before ADD, never changed after: main may read it. */
	return pvring_back_nr_slots(&q->back);
}

uint32_t pvringd_queue_slots(const struct pvringd_queue *q, struct pvringd_slot_snapshot *out,
			     uint32_t max)
{
	struct dp_sync_mail sm = { .m = { .kind = MAIL_SNAPSHOT, .q = (struct pvringd_queue *)q },
				   .slots = out,
				   .max_slots = max };

	worker_call(q->w, &sm);
	return sm.nr_slots;
}
