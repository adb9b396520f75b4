// SPDX-License-Identifier: MIT
/* The back end's end of the local hypervisor's socket: see local_hypercall.h. */
#include "config.h"

#include "local_hypercall.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "local_registry.h" /* pvring_local_send, pvring_local_recv */

/* How long an answer may take before its asker stops waiting for it. */
#define ANSWER_WAIT_S 10

void pvring_local_hv_init(struct pvring_local_hv *hv)
{
	memset(hv, 0, sizeof(*hv));
	hv->sock = -1;
	pthread_mutex_init(&hv->lock, NULL);
	pthread_mutex_init(&hv->sock_lock, NULL);
}

/* With hv->lock held. */
static void close_locked(struct pvring_local_hv *hv)
{
	pthread_mutex_lock(&hv->sock_lock);
	if (hv->sock >= 0)
		close(hv->sock);
	hv->sock = -1;
	/* What is queued was the closed connection's to give back: it is gone with it. */
	hv->nr_queued = 0;
	pthread_mutex_unlock(&hv->sock_lock);
}

void pvring_local_hv_close(struct pvring_local_hv *hv)
{
	pthread_mutex_lock(&hv->lock);
	close_locked(hv);
	pthread_mutex_unlock(&hv->lock);
}

void pvring_local_hv_destroy(struct pvring_local_hv *hv)
{
	pvring_local_hv_close(hv);
	free(hv->queued);
	pthread_mutex_destroy(&hv->lock);
	pthread_mutex_destroy(&hv->sock_lock);
}

/*
 * Read on every map, from every worker: no lock. Written under sock_lock at a connect, after
 * the old connection is closed; a map that reads the old value races with a store restart and
 * is refused by the check made again when a fetched domain is kept.
 */
uint32_t pvring_local_hv_generation(struct pvring_local_hv *hv)
{
	return __atomic_load_n(&hv->generation, __ATOMIC_ACQUIRE);
}

/* With hv->sock_lock held: send what is queued, in order, as far as the socket takes it. */
static void flush_queued(struct pvring_local_hv *hv)
{
	unsigned int sent = 0;

	while (hv->sock >= 0 && sent < hv->nr_queued &&
	       send(hv->sock, &hv->queued[sent], sizeof(hv->queued[sent]),
		    MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(hv->queued[sent]))
		sent++;
	if (sent == 0)
		return;
	memmove(hv->queued, hv->queued + sent, (hv->nr_queued - sent) * sizeof(*hv->queued));
	hv->nr_queued -= sent;
}

/*
 * An unanswered request (put, unbind) of connection generation: sent without hv->lock, so
 * that it never waits behind a request whose answer is slow, and without blocking (a packet
 * is never interleaved with another's). One the socket has no room for is queued, and sent
 * first next time: a hold or a binding is never left behind while the connection lives.
 */
static void tell(struct pvring_local_hv *hv, uint32_t type, uint32_t domid, uint32_t port,
		 uint32_t generation)
{
	const struct pvring_hv_request req = { PVRING_HV_MAGIC, type, domid, port, 0 };

	pthread_mutex_lock(&hv->sock_lock);
	if (hv->sock < 0 || generation != hv->generation) {
		pthread_mutex_unlock(&hv->sock_lock);
		return;
	}
	flush_queued(hv);
	if (hv->nr_queued == 0 &&
	    send(hv->sock, &req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof(req)) {
		pthread_mutex_unlock(&hv->sock_lock);
		return;
	}
	if (hv->nr_queued == hv->queue_size) {
		unsigned int size = hv->queue_size ? 2 * hv->queue_size : 64;
		struct pvring_hv_request *queued = realloc(hv->queued, size * sizeof(*queued));

		if (!queued) {
			/* Kept by the hypervisor until this connection closes, then given back. */
			pthread_mutex_unlock(&hv->sock_lock);
			return;
		}
		hv->queued = queued;
		hv->queue_size = size;
	}
	hv->queued[hv->nr_queued++] = req;
	pthread_mutex_unlock(&hv->sock_lock);
}

/* With hv->lock held: give back what an answer nobody waits for any more granted. */
static void give_back(struct pvring_local_hv *hv, const struct pvring_hv_answer *a)
{
	if (a->status != 0)
		return;
	if (a->request == PVRING_HV_DOMAIN)
		tell(hv, PVRING_HV_PUT, a->domid, 0, hv->generation);
	else if (a->request == PVRING_HV_BIND)
		tell(hv, PVRING_HV_UNBIND, a->domid, a->port, hv->generation);
}

static void set_why(struct pvring_local_hv *hv, const char *why)
{
	snprintf(hv->why, sizeof(hv->why), "%s", why);
}

/*
 * One request and its answer, with hv->lock held; fds gets up to max_fds descriptors. The
 * answer's status, or:
 *  - -ETIMEDOUT: no answer in time. The connection is kept (closing it would make the
 *    hypervisor drop this back end's pins while its mappings are in use); the late answer is
 *    recognised by its seq, and what it granted given back;
 *  - -EMFILE: answered, but this process had no descriptor for what came with it; given back;
 *  - a socket error: the connection is closed (the hypervisor is gone).
 */
static int ask_locked(struct pvring_local_hv *hv, uint32_t type, uint32_t domid, uint32_t port,
		      struct pvring_hv_answer *a, int *fds, unsigned int max_fds)
{
	struct pvring_hv_request req = { PVRING_HV_MAGIC, type, domid, port, ++hv->seq };
	unsigned int nr_fds;
	ssize_t n;
	int err;

	if (hv->sock < 0) {
		set_why(hv, "the local hypervisor (pvring-stored) is not connected");
		return -ENOTCONN;
	}
	pthread_mutex_lock(&hv->sock_lock);
	flush_queued(hv);
	pthread_mutex_unlock(&hv->sock_lock);
	err = pvring_local_send(hv->sock, &req, sizeof(req), NULL, 0);
	if (err == -EAGAIN) {
		set_why(hv, "the local hypervisor (pvring-stored) is not reading its socket");
		return -ETIMEDOUT;
	}
	if (err)
		goto lost;
	for (;;) {
		memset(a, 0, sizeof(*a));
		n = pvring_local_recv(hv->sock, a, sizeof(*a), fds, max_fds, &nr_fds);
		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			set_why(hv, "the local hypervisor (pvring-stored) did not answer in time");
			return -ETIMEDOUT;
		}
		if (n != -EMFILE && n != (ssize_t)sizeof(*a)) {
			err = n < 0 ? (int)n : n == 0 ? -ECONNRESET : -EPROTO;
			goto lost;
		}
		if (a->magic != PVRING_HV_MAGIC || a->type != PVRING_HV_ANSWER) {
			err = -EPROTO;
			goto lost;
		}
		if (n == -EMFILE || a->seq != req.seq || (a->status == 0 && nr_fds != max_fds)) {
			/* Not for us, or not whole: what it granted goes back. */
			while (nr_fds)
				close(fds[--nr_fds]);
			give_back(hv, a);
			if (a->seq != req.seq)
				continue;
			set_why(hv, "pvringd is out of file descriptors");
			return -EMFILE;
		}
		break;
	}
	a->why[sizeof(a->why) - 1] = '\0';
	set_why(hv, a->why);
	if (a->status == 0)
		return 0;
	while (nr_fds)
		close(fds[--nr_fds]);
	return a->status < 0 ? a->status : -EPROTO;
lost:
	close_locked(hv);
	set_why(hv, "the local hypervisor (pvring-stored) is not answering");
	return err;
}

/*
 * The hello and its answer, with hv->lock held. A hypervisor that refuses (another back end
 * is there) says why and hangs up at once, maybe before the hello is sent, and its hang-up
 * with the hello unread may be reported first: its reason is still there to read.
 */
static int greet_locked(struct pvring_local_hv *hv)
{
	const struct pvring_hv_request req = { PVRING_HV_MAGIC, PVRING_HV_HELLO, 0, 0, 0 };
	struct pvring_hv_answer a;
	unsigned int nr_fds;
	int err, unused;
	ssize_t n;

	err = pvring_local_send(hv->sock, &req, sizeof(req), NULL, 0);
	if (err && err != -EPIPE && err != -ECONNRESET)
		return err;
	memset(&a, 0, sizeof(a));
	n = pvring_local_recv(hv->sock, &a, sizeof(a), &unused, 0, &nr_fds);
	if (n == -ECONNRESET)
		n = pvring_local_recv(hv->sock, &a, sizeof(a), &unused, 0, &nr_fds);
	if (n != (ssize_t)sizeof(a) || a.magic != PVRING_HV_MAGIC || a.type != PVRING_HV_ANSWER) {
		set_why(hv, "the local hypervisor (pvring-stored) did not answer as expected");
		return err ? err : n < 0 ? (int)n : n == 0 ? -ECONNRESET : -EPROTO;
	}
	a.why[sizeof(a.why) - 1] = '\0';
	set_why(hv, a.why);
	return a.status > 0 ? -EPROTO : a.status;
}

int pvring_local_hv_connect(struct pvring_local_hv *hv, const char *path, const char **why)
{
	const struct timeval answer_wait = { .tv_sec = ANSWER_WAIT_S };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int err, sock;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		*why = "hypervisor socket path too long";
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	pthread_mutex_lock(&hv->lock);
	close_locked(hv);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		if (sock >= 0)
			close(sock);
		pthread_mutex_unlock(&hv->lock);
		*why = "cannot reach the local hypervisor's socket (is pvring-stored running?)";
		return err;
	}
	/* A hypervisor that stopped answering (SIGSTOP) must not hold the back end for ever. */
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &answer_wait, sizeof(answer_wait));
	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &answer_wait, sizeof(answer_wait));
	pthread_mutex_lock(&hv->sock_lock);
	hv->sock = sock;
	__atomic_store_n(&hv->generation, hv->generation + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&hv->sock_lock);
	err = greet_locked(hv);
	if (err) {
		*why = hv->why;
		close_locked(hv);
	}
	pthread_mutex_unlock(&hv->lock);
	return err;
}

int pvring_local_hv_domain(struct pvring_local_hv *hv, uint32_t domid, int *memfd,
			   uint32_t *nr_frames, uint32_t *table_frames, uint32_t *generation,
			   const char **why)
{
	struct pvring_hv_answer a;
	int err;

	pthread_mutex_lock(&hv->lock);
	err = ask_locked(hv, PVRING_HV_DOMAIN, domid, 0, &a, memfd, 1);
	*generation = hv->generation;
	if (err)
		*why = hv->why;
	pthread_mutex_unlock(&hv->lock);
	if (err)
		return err;
	*nr_frames = a.nr_frames;
	*table_frames = a.table_frames;
	return 0;
}

void pvring_local_hv_put(struct pvring_local_hv *hv, uint32_t domid, uint32_t generation)
{
	tell(hv, PVRING_HV_PUT, domid, 0, generation);
}

int pvring_local_hv_bind(struct pvring_local_hv *hv, uint32_t domid, uint32_t port, int *kick_back,
			 int *kick_front, uint32_t *generation)
{
	struct pvring_hv_answer a;
	int fds[2], err;

	pthread_mutex_lock(&hv->lock);
	err = ask_locked(hv, PVRING_HV_BIND, domid, port, &a, fds, 2);
	*generation = hv->generation;
	pthread_mutex_unlock(&hv->lock);
	if (err)
		return err;
	*kick_back = fds[0];
	*kick_front = fds[1];
	return 0;
}

void pvring_local_hv_unbind(struct pvring_local_hv *hv, uint32_t domid, uint32_t port,
			    uint32_t generation)
{
	tell(hv, PVRING_HV_UNBIND, domid, port, generation);
}
