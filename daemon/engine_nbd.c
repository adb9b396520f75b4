// SPDX-License-Identifier: MIT
/*
 * NBD exports through libnbd's asynchronous API.
 *
 * Each queue has its own connection to the server, driven by its worker's loop: libnbd's
 * socket is watched in the direction libnbd asks for, and its completion callbacks (which run
 * inside nbd_aio_notify_*) only move an operation to the done list; the data plane hears of it
 * after libnbd has returned. More than one connection per export needs the server to promise
 * that they see each other's writes (multi-conn): without it the export gets one queue.
 *
 * A connection that breaks fails what it had in flight with -EIO. A server that keeps an
 * operation (or the connection's handshake) longer than the image's timeout is given up on:
 * what is in flight fails with -ETIMEDOUT and the connection is closed. Either way the next
 * operation connects again.
 *
 * An operation lives in one place at a time: pending (waiting for the connection), issued
 * (libnbd has it), or done (its result is set, the data plane not told yet). It is freed
 * only once the data plane has been told and libnbd has let go of it (its closure's free
 * callback), whichever comes last: libnbd may still hold an operation given up on.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>
#include <libnbd.h>

#include "daemon/clock.h"
#include "daemon/engine_health.h"
#include "daemon/engines.h"
#include "daemon/log.h"

struct nbd_image_ctx {
	struct pvring_image_name n;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t size;
	bool can_zero;
	struct pvringd_engine_health health;
};

enum nbd_op_kind { NBD_OP_READ, NBD_OP_WRITE, NBD_OP_FLUSH, NBD_OP_DISCARD };
static const char *const op_names[] = { "read", "write", "flush", "discard" };

struct nbd_op {
	struct nbd_op *next, *prev; /* on pending, issued or done */
	struct nbd_queue *nq;
	enum nbd_op_kind kind;
	const struct iovec *iov;
	unsigned int iovcnt;
	uint64_t offset, len;
	void *bounce; /* the transfer's one buffer, when the iovecs are not one span */
	uint64_t queued_ns, issued_ns;
	int64_t result;
	bool in_libnbd; /* its closure is not freed yet */
	bool finished; /* result set */
	pvring_aio_done_fn done;
	void *arg;
};

struct nbd_op_list {
	struct nbd_op *head, *tail;
};

enum nbd_conn { CONN_DOWN, CONN_CONNECTING, CONN_READY };
static const char *const conn_names[] = { "not connected", "connecting", "connected" };

struct nbd_queue {
	struct pvringd_engine e;
	struct nbd_image_ctx *ni;
	struct pvring_image *img;
	struct event_base *base;
	char name[32];
	struct nbd_handle *h;
	enum nbd_conn conn;
	uint64_t connect_ns;
	struct event *sock_ev; /* libnbd's socket, in the direction it asked for */
	int sock_fd;
	short sock_what;
	struct event *timer_ev; /* the oldest operation's (or the handshake's) deadline */
	struct event *done_ev; /* run the done list from the loop */
	struct nbd_op_list pending, issued, done;
	struct nbd_op *free_ops;
	unsigned int in_flight; /* queued, the data plane not told yet */
	unsigned int in_callbacks; /* inside run_done: no re-entry */
	uint64_t reconnects;
	uint64_t retry_ns; /* down: no new connection before this */
	bool down_said; /* the connection's loss (or first failed connect) is logged */
};

/* A connection that failed waits this long (or the timeout, if shorter) before the next. */
#define RETRY_NS 500000000ull

/* ---- lists ---- */

static void list_add(struct nbd_op_list *l, struct nbd_op *op)
{
	op->next = NULL;
	op->prev = l->tail;
	if (l->tail)
		l->tail->next = op;
	else
		l->head = op;
	l->tail = op;
}

static void list_add_head(struct nbd_op_list *l, struct nbd_op *op)
{
	op->prev = NULL;
	op->next = l->head;
	if (l->head)
		l->head->prev = op;
	else
		l->tail = op;
	l->head = op;
}

static void list_del(struct nbd_op_list *l, struct nbd_op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		l->head = op->next;
	if (op->next)
		op->next->prev = op->prev;
	else
		l->tail = op->prev;
	op->next = op->prev = NULL;
}

/* The engine is the queue's first member. */
static struct nbd_queue *nbd_queue_of(struct pvringd_engine *e)
{
	return (struct nbd_queue *)e;
}

static void op_release(struct nbd_queue *nq, struct nbd_op *op)
{
	free(op->bounce);
	op->bounce = NULL;
	op->next = nq->free_ops;
	nq->free_ops = op;
}

/* op is finished with result: to the done list (from wherever it was), told from the loop. */
static void op_finish(struct nbd_queue *nq, struct nbd_op_list *from, struct nbd_op *op,
		      int64_t result)
{
	list_del(from, op);
	op->result = result;
	op->finished = true;
	list_add(&nq->done, op);
	event_active(nq->done_ev, 0, 0);
}

/* ---- libnbd's callbacks: inside libnbd, in the worker ---- */

static int on_nbd_complete(void *user_data, int *error)
{
	struct nbd_op *op = user_data;

	/* Given up on already (a timeout or a broken connection): told once, then. */
	if (!op->finished)
		op_finish(op->nq, &op->nq->issued, op,
			  *error ? -(int64_t)*error
				 : (int64_t)(op->kind <= NBD_OP_WRITE ? op->len : 0));
	return 1; /* retire the command */
}

static void on_nbd_free(void *user_data)
{
	struct nbd_op *op = user_data;

	op->in_libnbd = false;
	/* Finished and told (given up on before libnbd let go): nothing else holds it. */
	if (op->finished && !op->done)
		op_release(op->nq, op);
}

/* ---- telling the data plane ---- */

static void run_done(struct nbd_queue *nq)
{
	struct nbd_op *op;

	if (nq->in_callbacks)
		return; /* the outer run goes on to the end of the list */
	nq->in_callbacks++;
	while ((op = nq->done.head)) {
		pvring_aio_done_fn done = op->done;
		void *arg = op->arg;
		int64_t result = op->result;
		unsigned int i;
		size_t at = 0;

		list_del(&nq->done, op);
		if (result < 0) {
			pvringd_engine_health_failed(&nq->ni->health, (int)result,
						     op_names[op->kind]);
		} else {
			pvringd_engine_health_ok(&nq->ni->health);
			if (op->kind == NBD_OP_READ && op->bounce) {
				for (i = 0; i < op->iovcnt; i++) {
					memcpy(op->iov[i].iov_base, (char *)op->bounce + at,
					       op->iov[i].iov_len);
					at += op->iov[i].iov_len;
				}
			}
		}
		nq->in_flight--;
		op->done = NULL; /* told */
		if (!op->in_libnbd)
			op_release(nq, op);
		done(arg, result);
	}
	nq->in_callbacks--;
}

static void on_done_ev(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_done(arg);
}

/* ---- the connection ---- */

static void arm_timer(struct nbd_queue *nq);
static void update_events(struct nbd_queue *nq);
static void issue_pending(struct nbd_queue *nq);

static uint64_t timeout_ns(const struct nbd_queue *nq)
{
	return (uint64_t)nq->img->timeout_ms * 1000000ull;
}

/*
 * Give up on the connection: what it had fails (err: the server may or may not have done it),
 * it is closed, and a new one is tried after a pause. What is pending waits for that one, up to
 * its timeout. Said once per outage, not once per try.
 */
static void conn_drop(struct nbd_queue *nq, int err, const char *why)
{
	uint64_t pause = timeout_ns(nq) < RETRY_NS ? timeout_ns(nq) : RETRY_NS;
	struct nbd_op *op;

	if (!nq->down_said) {
		pvring_warn("%s: %s: %s", nq->name, nq->img->path, why);
		pvringd_engine_health_failed(&nq->ni->health, err,
					     nq->conn == CONN_READY ? "connection" : "connect");
	}
	nq->down_said = true;
	while ((op = nq->issued.head))
		op_finish(nq, &nq->issued, op, err);
	nq->retry_ns = pvring_now_ns() + pause;
	if (nq->sock_ev)
		event_del(nq->sock_ev);
	nq->sock_what = 0;
	nq->sock_fd = -1;
	event_del(nq->timer_ev);
	if (nq->h)
		nbd_close(nq->h); /* frees the closures of what it still held */
	nq->h = NULL;
	nq->conn = CONN_DOWN;
	arm_timer(nq);
}

/* After libnbd said -1 or went dead: what it says, in why. */
static void conn_broken(struct nbd_queue *nq)
{
	char why[256];
	const char *e = nbd_get_error();

	snprintf(why, sizeof(why), "the connection broke: %s", e ? e : "closed by the server");
	conn_drop(nq, -EIO, why);
}

/* Look at the handle after libnbd ran: ready now, broken, or go on. */
static void conn_check(struct nbd_queue *nq)
{
	int64_t size;

	if (!nq->h)
		return;
	if (nbd_aio_is_dead(nq->h) || nbd_aio_is_closed(nq->h)) {
		conn_broken(nq);
		return;
	}
	if (nq->conn == CONN_CONNECTING && nbd_aio_is_ready(nq->h)) {
		size = nbd_get_size(nq->h);
		if (size < 0 || (uint64_t)size != nq->ni->size) {
			conn_drop(nq, -EIO, "the export's size changed: not serving it");
			return;
		}
		nq->conn = CONN_READY;
		nq->down_said = false;
		if (nq->reconnects++)
			pvring_info("%s: %s: connected again", nq->name, nq->img->path);
		issue_pending(nq);
		if (!nq->h)
			return;
	}
	update_events(nq);
	arm_timer(nq);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct nbd_queue *nq = arg;
	int r = 0;

	(void)fd;
	if ((what & EV_READ) && nq->h)
		r = nbd_aio_notify_read(nq->h);
	/*
	 * Reading may have moved libnbd to a state that takes no write event (it finished
	 * sending, or is in the middle of a reply): only if it still wants to write.
	 */
	if (r >= 0 && (what & EV_WRITE) && nq->h &&
	    (nbd_aio_get_direction(nq->h) & LIBNBD_AIO_DIRECTION_WRITE))
		r = nbd_aio_notify_write(nq->h);
	if (r < 0 && nq->h)
		conn_broken(nq);
	else
		conn_check(nq);
	run_done(nq);
}

/* Watch libnbd's socket in the direction it asks for now. */
static void update_events(struct nbd_queue *nq)
{
	unsigned int dir = nq->h ? nbd_aio_get_direction(nq->h) : 0;
	int fd = nq->h ? nbd_aio_get_fd(nq->h) : -1;
	short what = 0;

	if (dir & LIBNBD_AIO_DIRECTION_READ)
		what |= EV_READ;
	if (dir & LIBNBD_AIO_DIRECTION_WRITE)
		what |= EV_WRITE;
	if (fd < 0)
		what = 0;
	if (what == nq->sock_what && fd == nq->sock_fd)
		return;
	if (nq->sock_ev) {
		event_free(nq->sock_ev);
		nq->sock_ev = NULL;
	}
	nq->sock_what = what;
	nq->sock_fd = fd;
	if (!what)
		return;
	nq->sock_ev = event_new(nq->base, fd, what | EV_PERSIST, on_sock, nq);
	if (!nq->sock_ev || event_add(nq->sock_ev, NULL))
		conn_drop(nq, -ENOMEM, "cannot watch the connection");
}

/*
 * The next moment something is due: the handshake's or the oldest issued operation's
 * deadline, a pending operation's, or (down, with work) the next try. 0: nothing.
 */
static uint64_t next_due_ns(const struct nbd_queue *nq)
{
	uint64_t due = 0, t;

	if (nq->conn == CONN_CONNECTING)
		due = nq->connect_ns + timeout_ns(nq);
	if (nq->issued.head) {
		t = nq->issued.head->issued_ns + timeout_ns(nq);
		due = !due || t < due ? t : due;
	}
	if (nq->pending.head) {
		t = nq->pending.head->queued_ns + timeout_ns(nq);
		due = !due || t < due ? t : due;
		if (nq->conn == CONN_DOWN)
			due = nq->retry_ns < due ? nq->retry_ns : due;
	}
	return due;
}

static void conn_start(struct nbd_queue *nq);

/* What is due now: give up on a server that does not answer, fail what waited too long for a
 * connection, try again to connect. */
static void tick(struct nbd_queue *nq)
{
	uint64_t now = pvring_now_ns();
	struct nbd_op *op;
	char why[160];

	if ((nq->conn == CONN_CONNECTING && now - nq->connect_ns >= timeout_ns(nq)) ||
	    (nq->issued.head && now - nq->issued.head->issued_ns >= timeout_ns(nq))) {
		snprintf(why, sizeof(why), "no answer from the server for %u ms: giving up on %s",
			 nq->img->timeout_ms,
			 nq->conn == CONN_CONNECTING ? "connecting" : "what is in flight");
		conn_drop(nq, -ETIMEDOUT, why);
	}
	while ((op = nq->pending.head) && now - op->queued_ns >= timeout_ns(nq))
		op_finish(nq, &nq->pending, op, -ETIMEDOUT);
	if (nq->conn == CONN_DOWN && nq->pending.head && now >= nq->retry_ns)
		conn_start(nq);
	if (nq->conn == CONN_READY)
		issue_pending(nq);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct nbd_queue *nq = arg;

	(void)fd;
	(void)what;
	tick(nq);
	arm_timer(nq);
	run_done(nq);
}

static void arm_timer(struct nbd_queue *nq)
{
	uint64_t due = next_due_ns(nq), now = pvring_now_ns(), left;
	struct timeval tv;

	if (!due) {
		event_del(nq->timer_ev);
		return;
	}
	left = due > now ? due - now : 0;
	left = left / 1000u + 1000u; /* in us, a millisecond late rather than early */
	tv.tv_sec = (time_t)(left / 1000000u);
	tv.tv_usec = (suseconds_t)(left % 1000000u);
	event_add(nq->timer_ev, &tv);
}

static void conn_start(struct nbd_queue *nq)
{
	const struct nbd_image_ctx *ni = nq->ni;
	char why[256];

	nq->h = nbd_create();
	if (!nq->h || nbd_set_export_name(nq->h, ni->n.export_name) < 0 ||
	    nbd_aio_connect(nq->h, (const struct sockaddr *)&ni->addr, ni->addrlen) < 0) {
		const char *e = nbd_get_error();

		snprintf(why, sizeof(why), "cannot connect: %s", e ? e : "out of memory");
		conn_drop(nq, -EIO, why);
		return;
	}
	nq->conn = CONN_CONNECTING;
	nq->connect_ns = pvring_now_ns();
	conn_check(nq);
}

/* ---- operations ---- */

/* The one buffer of op's transfer: the iovecs' own when they are one span. */
static void *op_buffer(struct nbd_op *op)
{
	unsigned int i;
	size_t at = 0;

	for (i = 1; i < op->iovcnt; i++)
		if ((char *)op->iov[i - 1].iov_base + op->iov[i - 1].iov_len != op->iov[i].iov_base)
			break;
	if (i >= op->iovcnt)
		return op->iov[0].iov_base;
	op->bounce = malloc(op->len);
	if (!op->bounce)
		return NULL;
	if (op->kind == NBD_OP_WRITE) {
		for (i = 0; i < op->iovcnt; i++) {
			memcpy((char *)op->bounce + at, op->iov[i].iov_base, op->iov[i].iov_len);
			at += op->iov[i].iov_len;
		}
	}
	return op->bounce;
}

static void issue(struct nbd_queue *nq, struct nbd_op *op)
{
	nbd_completion_callback cb = { .callback = on_nbd_complete,
				       .user_data = op,
				       .free = on_nbd_free };
	int64_t cookie = -1;
	void *buf = NULL;

	list_del(&nq->pending, op);
	list_add(&nq->issued, op);
	/* Its deadline counts from when it came, not from when a connection took it. */
	op->issued_ns = op->queued_ns;
	if (op->kind == NBD_OP_READ || op->kind == NBD_OP_WRITE) {
		buf = op_buffer(op);
		if (!buf) {
			op_finish(nq, &nq->issued, op, -ENOMEM);
			return;
		}
	}
	op->in_libnbd = true;
	switch (op->kind) {
	case NBD_OP_READ:
		cookie = nbd_aio_pread(nq->h, buf, op->len, op->offset, cb, 0);
		break;
	case NBD_OP_WRITE:
		cookie = nbd_aio_pwrite(nq->h, buf, op->len, op->offset, cb, 0);
		break;
	case NBD_OP_FLUSH:
		cookie = nbd_aio_flush(nq->h, cb, 0);
		break;
	case NBD_OP_DISCARD:
		/*
		 * WRITE_ZEROES without NO_HOLE: the server may punch a hole, and reads return
		 * zeros. (A TRIM is advisory, so a server without WRITE_ZEROES offers no discard.)
		 */
		cookie = nbd_aio_zero(nq->h, op->len, op->offset, cb, 0);
		break;
	}
	if (cookie < 0) {
		int err = nbd_get_errno();

		/* libnbd has freed the closure, or never will: either way it is ours. */
		op->in_libnbd = false;
		if (nbd_aio_is_dead(nq->h) || nbd_aio_is_closed(nq->h)) {
			/* Never sent: it waits for the next connection like the rest. */
			free(op->bounce);
			op->bounce = NULL;
			list_del(&nq->issued, op);
			list_add_head(&nq->pending, op);
			return;
		}
		op_finish(nq, &nq->issued, op, err > 0 ? -err : -EIO);
	}
}

/*
 * Hand what is pending to libnbd. Sending can find the connection broken (the server went
 * while it was idle): libnbd goes dead inside the call, fails what it had, and the rest waits
 * for the next connection.
 */
static void issue_pending(struct nbd_queue *nq)
{
	while (nq->pending.head && nq->conn == CONN_READY) {
		issue(nq, nq->pending.head);
		if (nbd_aio_is_dead(nq->h) || nbd_aio_is_closed(nq->h)) {
			conn_broken(nq);
			return;
		}
	}
}

static int queue_op(struct pvringd_engine *e, enum nbd_op_kind kind, const struct iovec *iov,
		    unsigned int iovcnt, uint64_t offset, uint64_t len, pvring_aio_done_fn done,
		    void *arg)
{
	struct nbd_queue *nq = nbd_queue_of(e);
	struct nbd_op *op = nq->free_ops;

	if (op)
		nq->free_ops = op->next;
	else if (!(op = calloc(1, sizeof(*op))))
		return -ENOMEM;
	memset(op, 0, sizeof(*op));
	op->nq = nq;
	op->kind = kind;
	op->iov = iov;
	op->iovcnt = iovcnt;
	op->offset = offset;
	op->len = len;
	op->done = done;
	op->arg = arg;
	op->queued_ns = pvring_now_ns();
	list_add(&nq->pending, op);
	nq->in_flight++;
	return 0;
}

static int nbdq_rw(struct pvringd_engine *e, enum nbd_op_kind kind, const struct iovec *iov,
		   unsigned int iovcnt, uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	uint64_t len = 0;
	unsigned int i;

	if (!iovcnt || iovcnt > IOV_MAX)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (!len || len > SSIZE_MAX)
		return -EINVAL;
	return queue_op(e, kind, iov, iovcnt, offset, len, done, arg);
}

static int nbdq_readv(struct pvringd_engine *e, const struct iovec *iov, unsigned int iovcnt,
		      uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	return nbdq_rw(e, NBD_OP_READ, iov, iovcnt, offset, done, arg);
}

static int nbdq_writev(struct pvringd_engine *e, const struct iovec *iov, unsigned int iovcnt,
		       uint64_t offset, pvring_aio_done_fn done, void *arg)
{
	return nbdq_rw(e, NBD_OP_WRITE, iov, iovcnt, offset, done, arg);
}

static int nbdq_flush(struct pvringd_engine *e, pvring_aio_done_fn done, void *arg)
{
	return queue_op(e, NBD_OP_FLUSH, NULL, 0, 0, 0, done, arg);
}

static int nbdq_discard(struct pvringd_engine *e, uint64_t offset, uint64_t len,
			pvring_aio_done_fn done, void *arg)
{
	if (!len)
		return -EINVAL;
	return queue_op(e, NBD_OP_DISCARD, NULL, 0, offset, len, done, arg);
}

static void nbdq_submit(struct pvringd_engine *e)
{
	struct nbd_queue *nq = nbd_queue_of(e);

	if (!nq->pending.head)
		return;
	if (nq->conn == CONN_DOWN && pvring_now_ns() >= nq->retry_ns)
		conn_start(nq);
	else if (nq->conn == CONN_READY)
		issue_pending(nq);
	if (nq->h)
		conn_check(nq); /* also watches the socket and arms the timer */
	else
		arm_timer(nq);
}

static void nbdq_reap(struct pvringd_engine *e)
{
	run_done(nbd_queue_of(e));
}

static void nbdq_drain(struct pvringd_engine *e)
{
	struct nbd_queue *nq = nbd_queue_of(e);
	const struct timespec pause = { 0, 10 * 1000 * 1000 };

	/* Everything ends by the timeout at the latest: answered, failed or given up on. */
	for (;;) {
		tick(nq);
		run_done(nq);
		if (!nq->in_flight)
			break;
		if (!nq->h) {
			nanosleep(&pause, NULL); /* down: until the next try, or a timeout */
			continue;
		}
		if (nbd_poll(nq->h, 100) < 0)
			conn_broken(nq);
		else
			conn_check(nq);
	}
}

static void nbdq_queue_close(struct pvringd_engine *e)
{
	struct nbd_queue *nq = nbd_queue_of(e);
	struct nbd_op *op;

	if (nq->sock_ev)
		event_free(nq->sock_ev);
	if (nq->h)
		nbd_close(nq->h);
	event_free(nq->timer_ev);
	event_free(nq->done_ev);
	while ((op = nq->free_ops)) {
		nq->free_ops = op->next;
		free(op);
	}
	free(nq);
}

static void nbdq_queue_state(const struct pvringd_engine *e, char *out, size_t len)
{
	const struct nbd_queue *nq = (const struct nbd_queue *)e;

	snprintf(out, len, "%s", conn_names[nq->conn]);
}

static const struct pvringd_engine_ops nbdq_queue_ops = {
	.readv = nbdq_readv,
	.writev = nbdq_writev,
	.flush = nbdq_flush,
	.discard = nbdq_discard,
	.submit = nbdq_submit,
	.reap = nbdq_reap,
	.drain = nbdq_drain,
	.close = nbdq_queue_close,
	.state = nbdq_queue_state,
};

static struct pvringd_engine *nbdq_queue_open(struct pvring_image *img, struct event_base *base,
					      const char *name, const char **why)
{
	struct nbd_queue *nq = calloc(1, sizeof(*nq));

	if (!nq) {
		*why = "out of memory";
		return NULL;
	}
	nq->e.ops = &nbdq_queue_ops;
	nq->ni = img->remote;
	nq->img = img;
	nq->base = base;
	nq->sock_fd = -1;
	snprintf(nq->name, sizeof(nq->name), "%s", name);
	nq->timer_ev = evtimer_new(base, on_timer, nq);
	nq->done_ev = event_new(base, -1, 0, on_done_ev, nq);
	if (!nq->timer_ev || !nq->done_ev) {
		*why = "out of memory";
		if (nq->timer_ev)
			event_free(nq->timer_ev);
		free(nq);
		return NULL;
	}
	return &nq->e;
}

/* ---- the image, on the main thread ---- */

static void nbdq_image_close(struct pvring_image *img)
{
	struct nbd_image_ctx *ni = img->remote;

	if (!ni)
		return;
	pvringd_engine_health_destroy(&ni->health);
	free(ni);
	img->remote = NULL;
}

static void nbdq_image_state(const struct pvring_image *img, char *out, size_t len)
{
	struct nbd_image_ctx *ni = img->remote;

	pvringd_engine_health_state(&ni->health, out, len);
}

static const struct pvring_remote_image_ops nbdq_image_ops = {
	.queue_open = nbdq_queue_open,
	.close = nbdq_image_close,
	.state = nbdq_image_state,
};

static int resolve(struct nbd_image_ctx *ni, char *why, size_t why_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char port[8];
	int err;

	if (ni->n.nbd_unix) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ni->addr;

		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", ni->n.socket);
		ni->addrlen = sizeof(*sun);
		return 0;
	}
	/* Once, here: a worker that connects again never waits for a name server. */
	snprintf(port, sizeof(port), "%u", ni->n.port);
	err = getaddrinfo(ni->n.host, port, &hints, &res);
	if (err) {
		snprintf(why, why_len, "cannot resolve %s: %s", ni->n.host, gai_strerror(err));
		return -EHOSTUNREACH;
	}
	memcpy(&ni->addr, res->ai_addr, res->ai_addrlen);
	ni->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Connect h and wait for the handshake, up to timeout_ms. */
static int handshake(struct nbd_handle *h, const struct nbd_image_ctx *ni, uint32_t timeout_ms,
		     char *why, size_t why_len)
{
	uint64_t deadline = pvring_now_ns() + (uint64_t)timeout_ms * 1000000ull, now;
	const char *e;

	if (nbd_set_export_name(h, ni->n.export_name) < 0 ||
	    nbd_aio_connect(h, (const struct sockaddr *)&ni->addr, ni->addrlen) < 0)
		goto failed;
	while (!nbd_aio_is_ready(h)) {
		now = pvring_now_ns();
		if (now >= deadline) {
			snprintf(why, why_len, "no answer from the server within %u ms",
				 timeout_ms);
			return -ETIMEDOUT;
		}
		if (nbd_poll(h, (int)((deadline - now) / 1000000ull) + 1) < 0 ||
		    nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			goto failed;
	}
	return 0;
failed:
	e = nbd_get_error();
	snprintf(why, why_len, "cannot connect: %s", e ? e : "the server closed the connection");
	return -EIO;
}

int pvringd_remote_image_open(struct pvring_image *img, const struct pvring_image_name *n,
			      char *why, size_t why_len)
{
	struct nbd_image_ctx *ni = calloc(1, sizeof(*ni));
	struct nbd_handle *h = NULL;
	int64_t size, minimum;
	int err;

	if (!ni) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	ni->n = *n;
	pvringd_engine_health_init(&ni->health, img->path);
	img->remote = ni;
	img->remote_ops = &nbdq_image_ops;
	err = resolve(ni, why, why_len);
	if (err)
		return err;
	h = nbd_create();
	if (!h) {
		snprintf(why, why_len, "cannot create a libnbd handle: %s",
			 nbd_get_error() ? nbd_get_error() : "out of memory");
		return -ENOMEM;
	}
	err = handshake(h, ni, img->timeout_ms, why, why_len);
	if (err)
		goto out;
	size = nbd_get_size(h);
	minimum = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	err = -EINVAL;
	if (size <= 0 || size % 512) {
		snprintf(why, why_len, "size is zero or not a multiple of 512 bytes");
		goto out;
	}
	if (minimum > 4096) {
		snprintf(why, why_len, "the server's minimum block size %lld is above 4096",
			 (long long)minimum);
		goto out;
	}
	if (!img->read_only && nbd_is_read_only(h) == 1) {
		snprintf(why, why_len, "the export is read-only: attach it read-only");
		err = -EROFS;
		goto out;
	}
	ni->size = (uint64_t)size;
	ni->can_zero = nbd_can_zero(h) == 1;
	img->sectors = (uint64_t)size / 512;
	img->sector_size = minimum > 512 ? (uint32_t)minimum : 512;
	img->physical_sector_size = 4096;
	img->flush = nbd_can_flush(h) == 1;
	img->discard = !img->read_only && ni->can_zero;
	/* Queues on separate connections must see each other's writes. */
	img->max_queues = img->read_only || nbd_can_multi_conn(h) == 1 ? 0 : 1;
	err = 0;
out:
	nbd_close(h);
	return err;
}
