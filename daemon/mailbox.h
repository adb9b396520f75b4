/* SPDX-License-Identifier: MIT */
/*
 * A mailbox: mail posted from any thread is delivered, in the order posted, by one function
 * in the thread that runs the mailbox's event loop.
 *
 * It is how pvringd's threads talk without sharing an event loop (libevent runs without its
 * thread locking): a mutex-protected list and an eventfd the loop watches. Mail is embedded in
 * the poster's objects, so posting never allocates and never fails; a piece of mail must not
 * be posted again before it is delivered (or discarded).
 */
#ifndef PVRINGD_MAILBOX_H
#define PVRINGD_MAILBOX_H

#include <stddef.h>

struct event_base;
struct pvringd_mailbox;

/* Mail is embedded in the poster's objects: this gets the object back from its mail. */
#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct pvringd_mail {
	struct pvringd_mail *next;
};

typedef void (*pvringd_mail_fn)(void *arg, struct pvringd_mail *mail);

/* Deliver through fn(arg, mail) from base's loop; NULL with why on failure. */
struct pvringd_mailbox *pvringd_mailbox_new(struct event_base *base, pvringd_mail_fn fn, void *arg,
					    const char **why);
/* Any thread. Wakes the loop only when the mailbox was empty. */
void pvringd_mailbox_post(struct pvringd_mailbox *mb, struct pvringd_mail *mail);
/* In the owner's thread: deliver what is there now, without waiting for the loop. */
void pvringd_mailbox_run(struct pvringd_mailbox *mb);
/* In the owner's thread: wait up to timeout_ms (-1: no limit) for mail, delivering none. */
void pvringd_mailbox_wait(struct pvringd_mailbox *mb, int timeout_ms);
/* In the owner's thread: forget what is there, undelivered. */
void pvringd_mailbox_discard(struct pvringd_mailbox *mb);
/* In the owner's thread, once no thread posts any more; undelivered mail is forgotten. */
void pvringd_mailbox_free(struct pvringd_mailbox *mb);

#endif /* PVRINGD_MAILBOX_H */
