// SPDX-License-Identifier: MIT
/*
 * The in-flight journal (daemon/inflight.h): a pvringd killed at any step of any request's
 * life leaves a journal from which the next one learns exactly the requests still owed: those
 * consumed whose responses the front end was not shown, none answered and pushed, in order.
 *
 * A kill is played by copying the journal file as it is at that step (what the page cache
 * would hold) and opening the copy to resume, as the next pvringd does.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/inflight.h"
#include "daemon/inflight_format.h"

#define NR_SLOTS 32u

struct fixture {
	char dir[64];
	char path[128]; /* the live journal */
	char left[128]; /* a copy: what a kill would leave */
	struct pvringd_inflight_ring ring;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint32_t i;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_inflight.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/5.51712.0", f->dir);
	snprintf(f->left, sizeof(f->left), "%s/left", f->dir);
	f->ring.domid = 5;
	f->ring.queue = 0;
	f->ring.order = 1;
	f->ring.nr_slots = NR_SLOTS;
	f->ring.remote_port = 9;
	for (i = 0; i < 2; i++)
		f->ring.refs[i] = 100 + i;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	unlink(f->left);
	rmdir(f->dir);
	free(f);
	return 0;
}

static union pvring_blkif_request request_for(uint32_t index)
{
	union pvring_blkif_request req;

	memset(&req, 0, sizeof(req));
	req.rw.op = PVRING_BLKIF_OP_WRITE;
	req.rw.id = 0x1000u + index;
	req.rw.sector = (uint64_t)index * 8u;
	req.rw.nr_segments = 1;
	req.rw.seg[0].gref = 200 + index;
	req.rw.seg[0].last_sect = 7;
	return req;
}

static void copy_file(const char *from, const char *to)
{
	char buf[4096];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

static struct pvringd_inflight *open_journal(struct fixture *f, const char *path, bool resume,
					     uint32_t rsp_prod,
					     struct pvringd_inflight_resume *found)
{
	char why[200] = "";
	struct pvringd_inflight *j;

	j = pvringd_inflight_open(path, &f->ring, resume, rsp_prod, found, why, sizeof(why));
	if (!j)
		fail_msg("open: %s", why);
	return j;
}

/* Kill now: what does the next pvringd find, the front end having seen rsp_prod? */
static struct pvringd_inflight_resume kill_and_resume(struct fixture *f, uint32_t rsp_prod)
{
	struct pvringd_inflight_resume found;

	copy_file(f->path, f->left);
	pvringd_inflight_close(open_journal(f, f->left, true, rsp_prod, &found), true);
	return found;
}

/* The model: what pvringd did to the ring so far. */
#define MAX_OWED (2u * NR_SLOTS)
struct model {
	uint32_t req_cons, rsp_prod_pvt, rsp_pushed;
	uint32_t nr; /* requests consumed and not pushed */
	struct {
		uint32_t index;
		int entry;
		bool answered;
	} owed[MAX_OWED];
};

static void expect_owed(struct fixture *f, const struct model *m, uint32_t rsp_prod)
{
	struct pvringd_inflight_resume found = kill_and_resume(f, rsp_prod);
	uint32_t i, k = 0;
	uint32_t want[MAX_OWED];

	/* Answered at or after rsp_prod: not shown to the front end, still owed. */
	for (i = 0; i < m->nr; i++)
		want[k++] = m->owed[i].index;
	/* In consumption order. */
	for (i = 1; i < k; i++) {
		uint32_t v = want[i], j = i;

		while (j > 0 && (int32_t)(want[j - 1] - v) > 0) {
			want[j] = want[j - 1];
			j--;
		}
		want[j] = v;
	}
	assert_true(found.found);
	assert_int_equal(found.req_cons, m->req_cons);
	assert_int_equal(found.nr_owed, k);
	for (i = 0; i < k; i++) {
		union pvring_blkif_request req = request_for(want[i]);

		assert_int_equal(found.owed[i].index, want[i]);
		assert_memory_equal(&found.owed[i].req, &req, sizeof(req));
	}
	free(found.owed);
}

static void model_consume(struct pvringd_inflight *j, struct model *m)
{
	union pvring_blkif_request req = request_for(m->req_cons);
	int entry = pvringd_inflight_consumed(j, m->req_cons, &req);

	assert_true(entry >= 0);
	m->owed[m->nr].index = m->req_cons;
	m->owed[m->nr].entry = entry;
	m->owed[m->nr].answered = false;
	m->nr++;
	m->req_cons++;
}

static void model_answer(struct pvringd_inflight *j, struct model *m, uint32_t which)
{
	pvringd_inflight_answered(j, (uint32_t)m->owed[which].entry, m->rsp_prod_pvt);
	m->owed[which].answered = true;
	m->rsp_prod_pvt++;
}

/* The push stores rsp_prod, then the journal frees: a kill can fall between the two. */
static void model_push(struct fixture *f, struct pvringd_inflight *j, struct model *m)
{
	uint32_t i, k = 0;

	for (i = 0; i < m->nr; i++)
		if (!m->owed[i].answered)
			m->owed[k++] = m->owed[i];
	m->nr = k;
	m->rsp_pushed = m->rsp_prod_pvt;
	expect_owed(f, m, m->rsp_pushed); /* rsp_prod stored, entries not yet freed */
	pvringd_inflight_pushed(j);
	assert_int_equal(pvringd_inflight_owed(j), m->nr);
}

/* A scripted life: out-of-order answers, a response written and not pushed, a kill each step. */
static void test_kill_at_every_step(void **state)
{
	struct fixture *f = *state;
	struct pvringd_inflight_resume found;
	struct pvringd_inflight *j = open_journal(f, f->path, false, 7, &found);
	struct model m = { .req_cons = 7, .rsp_prod_pvt = 7, .rsp_pushed = 7 };

	assert_false(found.found);
	expect_owed(f, &m, 7);
	model_consume(j, &m); /* A = 7 */
	expect_owed(f, &m, 7);
	model_consume(j, &m); /* B = 8 */
	model_consume(j, &m); /* C = 9 */
	expect_owed(f, &m, 7);
	model_answer(j, &m, 1); /* B answered first, into slot 7 where A was */
	expect_owed(f, &m, 7); /* not pushed: B owed too */
	model_push(f, j, &m);
	expect_owed(f, &m, 8); /* A and C owed; B is done */
	model_answer(j, &m, 1); /* C at 8 */
	model_consume(j, &m); /* D = 10 */
	expect_owed(f, &m, 8);
	model_answer(j, &m, 0); /* A at 9 */
	model_push(f, j, &m);
	expect_owed(f, &m, 10); /* only D */
	model_answer(j, &m, 0);
	model_push(f, j, &m);
	expect_owed(f, &m, 11); /* nothing owed */
	pvringd_inflight_close(j, true);
	assert_int_equal(access(f->path, F_OK), -1);
}

/*
 * Killed inside a consume, between the entry's state and req_cons (in either order the
 * compiler could not be trusted to keep, had it not been told): the entry at req_cons is not
 * owed, since its request is still in its slot and will be consumed again.
 */
static void test_kill_inside_consume(void **state)
{
	struct fixture *f = *state;
	struct pvringd_inflight_resume found;
	struct pvringd_inflight *j = open_journal(f, f->path, false, 10, &found);
	struct model m = { .req_cons = 10, .rsp_prod_pvt = 10, .rsp_pushed = 10 };
	struct journal_header *hdr;
	size_t size;
	void *map;
	int fd;

	model_consume(j, &m); /* 10 */
	model_consume(j, &m); /* 11 */
	model_answer(j, &m, 0);
	model_push(f, j, &m); /* 10 answered and pushed; 11 owed */
	model_consume(j, &m); /* 12: its entry made, then the kill before req_cons said 13 */
	copy_file(f->path, f->left);
	fd = open(f->left, O_RDWR);
	assert_true(fd >= 0);
	size = (size_t)lseek(fd, 0, SEEK_END);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	hdr = map;
	assert_int_equal(atomic_load(&hdr->req_cons), 13);
	atomic_store(&hdr->req_cons, 12);
	munmap(map, size);
	close(fd);
	pvringd_inflight_close(j, true);
	j = open_journal(f, f->left, true, 11, &found);
	assert_true(found.found);
	assert_int_equal(found.req_cons, 12);
	assert_int_equal(found.nr_owed, 1);
	assert_int_equal(found.owed[0].index, 11);
	free(found.owed);
	pvringd_inflight_close(j, true);
}

/* Random lives, with indices wrapping past 2^32: a kill after every step finds what is owed. */
static void test_kill_anywhere_random(void **state)
{
	struct fixture *f = *state;
	struct pvringd_inflight_resume found;
	uint32_t start = 0xffffff00u, step;
	struct pvringd_inflight *j = open_journal(f, f->path, false, start, &found);
	struct model m = { .req_cons = start, .rsp_prod_pvt = start, .rsp_pushed = start };
	unsigned int seed = 12345;

	for (step = 0; step < 600; step++) {
		unsigned int r = (unsigned int)rand_r(&seed) % 8u;
		uint32_t unanswered = 0, i;

		for (i = 0; i < m.nr; i++)
			unanswered += !m.owed[i].answered;
		/*
		 * An honest front end publishes into a slot only once it was shown the response
		 * that frees it: at most a ring's worth consumed past the responses pushed.
		 */
		if (r < 4 && m.req_cons - m.rsp_pushed < NR_SLOTS) {
			model_consume(j, &m);
		} else if (r < 7 && unanswered) {
			uint32_t pick = (uint32_t)rand_r(&seed) % unanswered, which = 0;

			for (i = 0; i < m.nr; i++)
				if (!m.owed[i].answered && pick-- == 0)
					which = i;
			model_answer(j, &m, which);
		} else {
			model_push(f, j, &m);
		}
		expect_owed(f, &m, m.rsp_pushed);
	}
	pvringd_inflight_close(j, true);
}

/* The next pvringd resumes, is killed before it answers anything: the owed are owed still. */
static void test_resume_twice(void **state)
{
	struct fixture *f = *state;
	struct pvringd_inflight_resume found;
	struct pvringd_inflight *j = open_journal(f, f->path, false, 0, &found);
	struct model m = { 0 };
	uint32_t i;

	for (i = 0; i < 5; i++)
		model_consume(j, &m);
	model_answer(j, &m, 2);
	model_push(f, j, &m);
	pvringd_inflight_close(j, false); /* killed: the file stays */

	j = open_journal(f, f->path, true, 1, &found);
	assert_true(found.found);
	assert_int_equal(found.nr_owed, 4);
	assert_int_equal(found.req_cons, 5);
	free(found.owed);
	/* The new journal holds them as consumed (entries 0..3): killed again, the same. */
	pvringd_inflight_close(j, false);
	j = open_journal(f, f->path, true, 1, &found);
	assert_true(found.found);
	assert_int_equal(found.nr_owed, 4);
	assert_int_equal(found.owed[0].index, 0);
	assert_int_equal(found.owed[3].index, 4);
	assert_int_equal(found.req_cons, 5);
	free(found.owed);
	/* Answered and pushed this time: entry 0 is the first owed one. */
	pvringd_inflight_answered(j, 0, 1);
	pvringd_inflight_pushed(j);
	assert_int_equal(pvringd_inflight_owed(j), 3);
	pvringd_inflight_close(j, false);
	j = open_journal(f, f->path, true, 2, &found);
	assert_int_equal(found.nr_owed, 3);
	assert_int_equal(found.owed[0].index, 1);
	free(found.owed);
	pvringd_inflight_close(j, true);
}

/* A journal for another ring (the front end connected new rings meanwhile): nothing owed. */
static void test_other_ring_owes_nothing(void **state)
{
	struct fixture *f = *state;
	struct pvringd_inflight_resume found;
	struct pvringd_inflight *j = open_journal(f, f->path, false, 0, &found);
	struct model m = { 0 };

	model_consume(j, &m);
	pvringd_inflight_close(j, false);
	f->ring.refs[1] = 555;
	j = open_journal(f, f->path, true, 0, &found);
	assert_false(found.found);
	assert_int_equal(found.nr_owed, 0);
	assert_int_equal(found.req_cons, 0);
	pvringd_inflight_close(j, false);
	/* Not resuming: whatever was there is replaced, nothing taken from it. */
	f->ring.refs[1] = 101;
	j = open_journal(f, f->path, false, 3, &found);
	assert_false(found.found);
	assert_int_equal(found.req_cons, 3);
	pvringd_inflight_close(j, true);
	/* None at all: a clean stop left nothing owed. */
	j = open_journal(f, f->path, true, 3, &found);
	assert_false(found.found);
	assert_int_equal(found.nr_owed, 0);
	assert_int_equal(found.req_cons, 3);
	pvringd_inflight_close(j, true);
}

/* A journal that contradicts the ring is refused with a reason, not half believed. */
static void test_contradictions_refused(void **state)
{
	struct fixture *f = *state;
	struct pvringd_inflight_resume found;
	struct pvringd_inflight *j = open_journal(f, f->path, false, 100, &found);
	struct model m = { .req_cons = 100, .rsp_prod_pvt = 100, .rsp_pushed = 100 };
	char why[200] = "";
	uint32_t i;

	for (i = 0; i < 3; i++)
		model_consume(j, &m);
	pvringd_inflight_close(j, false);
	/* The front end says it saw responses to requests never consumed. */
	assert_null(pvringd_inflight_open(f->path, &f->ring, true, 104, &found, why, sizeof(why)));
	print_message("%s\n", why);
	assert_non_null(strstr(why, "in-flight journal"));
	/* Or far behind: more owed than entries. */
	assert_null(pvringd_inflight_open(f->path, &f->ring, true, 100u - 2u * NR_SLOTS, &found,
					  why, sizeof(why)));
	print_message("%s\n", why);
	assert_null(found.owed);
	/* Or a little behind: the journal's entries do not add up. */
	assert_null(pvringd_inflight_open(f->path, &f->ring, true, 99, &found, why, sizeof(why)));
	print_message("%s\n", why);
	/* The journal was left as it was each time: the right rsp_prod still resumes it. */
	j = open_journal(f, f->path, true, 100, &found);
	assert_int_equal(found.nr_owed, 3);
	free(found.owed);
	pvringd_inflight_close(j, true);
}

/* More owed than the journal holds cannot be recorded silently. */
static void test_full_journal_says_so(void **state)
{
	struct fixture *f = *state;
	struct pvringd_inflight_resume found;
	struct pvringd_inflight *j = open_journal(f, f->path, false, 0, &found);
	union pvring_blkif_request req = request_for(0);
	uint32_t i;

	for (i = 0; i < 2u * NR_SLOTS; i++)
		assert_true(pvringd_inflight_consumed(j, i, &req) >= 0);
	assert_int_equal(pvringd_inflight_consumed(j, i, &req), -ENOSPC);
	pvringd_inflight_close(j, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_at_every_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_inside_consume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_anywhere_random, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_ring_owes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contradictions_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_journal_says_so, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
