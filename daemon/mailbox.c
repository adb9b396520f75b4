// SPDX-License-Identifier: MIT
/* A mailbox between threads: see mailbox.h. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/mailbox.h"

struct pvringd_mailbox {
	pthread_mutex_t lock;
	struct pvringd_mail *head, **tail; /* FIFO */
	bool woken; /* the eventfd was written since the owner last took the list */
	int efd;
	struct event *ev;
	pvringd_mail_fn fn;
	void *arg;
};

static void on_mail(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pvringd_mailbox_run(arg);
}

struct pvringd_mailbox *pvringd_mailbox_new(struct event_base *base, pvringd_mail_fn fn, void *arg,
					    const char **why)
{
	struct pvringd_mailbox *mb = calloc(1, sizeof(*mb));

	if (!mb) {
		*why = "out of memory";
		return NULL;
	}
	pthread_mutex_init(&mb->lock, NULL);
	mb->tail = &mb->head;
	mb->efd = -1;
	mb->fn = fn;
	mb->arg = arg;
	mb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mb->efd < 0) {
		*why = "cannot create an eventfd";
		goto fail;
	}
	mb->ev = event_new(base, mb->efd, EV_READ | EV_PERSIST, on_mail, mb);
	if (!mb->ev || event_add(mb->ev, NULL)) {
		*why = "cannot watch a mailbox";
		goto fail;
	}
	return mb;
fail:
	pvringd_mailbox_free(mb);
	return NULL;
}

void pvringd_mailbox_post(struct pvringd_mailbox *mb, struct pvringd_mail *mail)
{
	uint64_t one = 1;
	bool wake;

	mail->next = NULL;
	pthread_mutex_lock(&mb->lock);
	*mb->tail = mail;
	mb->tail = &mail->next;
	wake = !mb->woken;
	mb->woken = true;
	/*
	 * Written under the lock: once the owner has taken this mail, the poster no longer
	 * touches the mailbox, so an owner that frees it after its last mail frees nothing in
	 * use. EAGAIN: the counter is saturated, the loop wakes anyway.
	 */
	if (wake && write(mb->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		abort(); /* an eventfd write cannot otherwise fail: mail would be lost */
	pthread_mutex_unlock(&mb->lock);
}

/* The mail there now, taken off the mailbox in order. */
static struct pvringd_mail *take_all(struct pvringd_mailbox *mb)
{
	struct pvringd_mail *list;
	uint64_t count;

	/*
	 * Read before taking the list: a post after the take writes again (woken is cleared
	 * under the lock), so no mail waits for a wake-up that was already consumed.
	 */
	if (read(mb->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		abort();
	pthread_mutex_lock(&mb->lock);
	list = mb->head;
	mb->head = NULL;
	mb->tail = &mb->head;
	mb->woken = false;
	pthread_mutex_unlock(&mb->lock);
	return list;
}

void pvringd_mailbox_run(struct pvringd_mailbox *mb)
{
	struct pvringd_mail *list = take_all(mb);

	while (list) {
		struct pvringd_mail *mail = list;

		/* Read first: fn may free the mail, or post it again. */
		list = mail->next;
		mb->fn(mb->arg, mail);
	}
}

void pvringd_mailbox_wait(struct pvringd_mailbox *mb, int timeout_ms)
{
	struct pollfd pfd = { .fd = mb->efd, .events = POLLIN };

	/* EINTR or a timeout: the caller looks again either way. */
	(void)poll(&pfd, 1, timeout_ms);
}

void pvringd_mailbox_discard(struct pvringd_mailbox *mb)
{
	take_all(mb);
}

void pvringd_mailbox_free(struct pvringd_mailbox *mb)
{
	if (!mb)
		return;
	if (mb->ev)
		event_free(mb->ev);
	if (mb->efd >= 0)
		close(mb->efd);
	pthread_mutex_destroy(&mb->lock);
	free(mb);
}
