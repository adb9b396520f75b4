// SPDX-License-Identifier: MIT
/*
 * The mailbox between pvringd's threads: mail from several threads is delivered in the owner's
 * loop, each poster's in its order, none lost or doubled; run and discard work without a loop.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <event2/event.h>

#include "daemon/mailbox.h"

#define POSTERS 4u
#define PER_POSTER 20000u

struct letter {
	struct pvringd_mail mail;
	unsigned int poster, seq;
};

struct inbox {
	pthread_t owner;
	unsigned int next_seq[POSTERS]; /* what each poster's next letter must be */
	unsigned int delivered;
	bool wrong_thread;
};

static void deliver(void *arg, struct pvringd_mail *mail)
{
	struct inbox *in = arg;
	struct letter *l = (struct letter *)mail;

	if (!pthread_equal(pthread_self(), in->owner))
		in->wrong_thread = true;
	assert_int_equal(l->seq, in->next_seq[l->poster]);
	in->next_seq[l->poster]++;
	in->delivered++;
}

struct poster {
	pthread_t thread;
	struct pvringd_mailbox *mb;
	struct letter *letters;
	unsigned int index;
};

static void *post_all(void *arg)
{
	struct poster *p = arg;
	unsigned int i;

	for (i = 0; i < PER_POSTER; i++) {
		p->letters[i] = (struct letter){ .poster = p->index, .seq = i };
		pvringd_mailbox_post(p->mb, &p->letters[i].mail);
	}
	return NULL;
}

static void test_many_posters(void **state)
{
	struct event_base *base = event_base_new();
	struct inbox in = { .owner = pthread_self() };
	struct poster posters[POSTERS];
	struct pvringd_mailbox *mb;
	const char *why = NULL;
	unsigned int i;

	(void)state;
	mb = pvringd_mailbox_new(base, deliver, &in, &why);
	assert_non_null(mb);
	for (i = 0; i < POSTERS; i++) {
		posters[i] = (struct poster){ .mb = mb, .index = i };
		posters[i].letters = calloc(PER_POSTER, sizeof(*posters[i].letters));
		assert_non_null(posters[i].letters);
		assert_int_equal(pthread_create(&posters[i].thread, NULL, post_all, &posters[i]),
				 0);
	}
	/* The loop sleeps until mail wakes it: a lost wake-up would hang here. */
	while (in.delivered < POSTERS * PER_POSTER)
		event_base_loop(base, EVLOOP_ONCE);
	for (i = 0; i < POSTERS; i++) {
		pthread_join(posters[i].thread, NULL);
		assert_int_equal(in.next_seq[i], PER_POSTER);
		free(posters[i].letters);
	}
	assert_false(in.wrong_thread);
	/* Nothing more comes. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(in.delivered, POSTERS * PER_POSTER);
	pvringd_mailbox_free(mb);
	event_base_free(base);
}

/* Mail posted from the owner's own callback comes after what is already there. */
static struct pvringd_mailbox *repost_mb;
static unsigned int repost_order[4], repost_n;

static void deliver_and_repost(void *arg, struct pvringd_mail *mail)
{
	struct letter *l = (struct letter *)mail;

	(void)arg;
	repost_order[repost_n++] = l->seq;
	if (l->seq == 1) {
		l->seq = 3;
		pvringd_mailbox_post(repost_mb, mail);
	}
}

static void test_run_discard_without_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct letter a = { .seq = 1 }, b = { .seq = 2 };
	const char *why = NULL;

	(void)state;
	repost_mb = pvringd_mailbox_new(base, deliver_and_repost, NULL, &why);
	assert_non_null(repost_mb);
	pvringd_mailbox_post(repost_mb, &a.mail);
	pvringd_mailbox_post(repost_mb, &b.mail);
	pvringd_mailbox_run(repost_mb);
	/* 1 and 2 now; 3 (1 posted again while delivered) waits for the next run. */
	assert_int_equal(repost_n, 2);
	assert_int_equal(repost_order[0], 1);
	assert_int_equal(repost_order[1], 2);
	pvringd_mailbox_run(repost_mb);
	assert_int_equal(repost_n, 3);
	assert_int_equal(repost_order[2], 3);
	/* Discarded mail is never delivered, and the mailbox works on after. */
	pvringd_mailbox_post(repost_mb, &b.mail);
	pvringd_mailbox_discard(repost_mb);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(repost_n, 3);
	pvringd_mailbox_post(repost_mb, &b.mail);
	event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(repost_n, 4);
	/* Freed with mail in it: forgotten, nothing leaks or runs. */
	pvringd_mailbox_post(repost_mb, &a.mail);
	pvringd_mailbox_free(repost_mb);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_posters),
		cmocka_unit_test(test_run_discard_without_loop),
	};

	return cmocka_run_group_tests_name("mailbox", tests, NULL, NULL);
}
