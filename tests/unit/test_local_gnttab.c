// SPDX-License-Identifier: MIT
/*
 * The local platform's grant table, with real memfds and mappings: a guest
 * grants, the back end maps, and every refusal Xen would make is made here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/platform/local_gnttab.h"

#define GUEST 7
#define BACKEND 0
#define FRAMES 16
#define TABLE_FRAMES 1

struct setup {
	struct pvring_local_guest_mem mem;
	struct pvring_local_gnttab gt;
};

static int setup(void **state)
{
	struct setup *s = test_calloc(1, sizeof(*s));
	const char *why = NULL;
	int fd;

	assert_int_equal(pvring_local_mem_create(&s->mem, FRAMES, TABLE_FRAMES), 0);
	fd = dup(s->mem.fd);
	assert_true(fd >= 0);
	assert_int_equal(
		pvring_local_gnttab_open(&s->gt, GUEST, BACKEND, fd, FRAMES, TABLE_FRAMES, &why),
		0);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct setup *s = *state;

	pvring_local_gnttab_close(&s->gt);
	pvring_local_mem_destroy(&s->mem);
	test_free(s);
	return 0;
}

static void assert_refused(struct setup *s, uint32_t ref, bool writable, const char *reason)
{
	const char *why = NULL;

	assert_null(pvring_local_gnttab_map(&s->gt, ref, writable, &why));
	assert_non_null(why);
	assert_string_equal(why, reason);
}

static void test_map_writable(void **state)
{
	struct setup *s = *state;
	const char *why = NULL;
	uint8_t *page;

	strcpy(pvring_local_mem_frame(&s->mem, 3), "from the guest");
	assert_int_equal(pvring_local_grant(&s->mem, 8, BACKEND, 3, false), 0);
	page = pvring_local_gnttab_map(&s->gt, 8, true, &why);
	assert_non_null(page);
	assert_string_equal((char *)page, "from the guest");
	strcpy((char *)page, "from the back end");
	assert_string_equal((char *)pvring_local_mem_frame(&s->mem, 3), "from the back end");
	pvring_local_gnttab_unmap(&s->gt, 8, true);
	assert_int_equal(pvring_local_end_grant(&s->mem, 8), 0);
}

static void test_refusals(void **state)
{
	struct setup *s = *state;
	struct pvring_local_grant_entry *table = pvring_local_mem_frame(&s->mem, 0);

	assert_refused(s, 9, false, "grant reference not granted");
	assert_refused(s, PVRING_LOCAL_GRANTS_PER_FRAME * TABLE_FRAMES, false,
		       "grant reference out of range");
	assert_refused(s, UINT32_MAX, true, "grant reference out of range");
	assert_int_equal(pvring_local_grant(&s->mem, 10, 5, 4, false), 0);
	assert_refused(s, 10, false, "grant reference granted to another domain");
	assert_int_equal(pvring_local_grant(&s->mem, 11, BACKEND, 4, true), 0);
	assert_refused(s, 11, true, "read-only grant cannot be mapped writable");

	/* A guest that writes its table by hand cannot grant the table or beyond. */
	table[12] = (struct pvring_local_grant_entry){ PVRING_GTF_PERMIT_ACCESS, BACKEND, 0 };
	assert_refused(s, 12, false, "granted frame is not a guest page");
	table[13] = (struct pvring_local_grant_entry){ PVRING_GTF_PERMIT_ACCESS, BACKEND, FRAMES };
	assert_refused(s, 13, true, "granted frame is not a guest page");
	/* ...and the refused map left no pin behind. */
	assert_int_equal(table[13].flags, PVRING_GTF_PERMIT_ACCESS);

	/* The guest side refuses the same. */
	assert_int_equal(pvring_local_grant(&s->mem, 14, BACKEND, 0, false), -EINVAL);
	assert_int_equal(pvring_local_grant(&s->mem, 14, BACKEND, FRAMES, false), -EINVAL);
	assert_int_equal(pvring_local_grant(&s->mem, 10, BACKEND, 5, false), -EBUSY);
}

static void test_read_only_is_enforced(void **state)
{
	struct setup *s = *state;
	const char *why = NULL;
	volatile uint8_t *page;
	int status;
	pid_t child;

	assert_int_equal(pvring_local_grant(&s->mem, 20, BACKEND, 6, true), 0);
	page = pvring_local_gnttab_map(&s->gt, 20, false, &why);
	assert_non_null(page);
	fflush(NULL);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* CMocka catches SIGSEGV to report a failed test; the child must just die. */
		signal(SIGSEGV, SIG_DFL);
		page[0] = 1; /* must fault */
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	pvring_local_gnttab_unmap(&s->gt, 20, false);
}

static void test_mapped_grant_cannot_be_revoked(void **state)
{
	struct setup *s = *state;
	struct pvring_local_grant_entry *table = pvring_local_mem_frame(&s->mem, 0);
	const char *why = NULL;

	assert_int_equal(pvring_local_grant(&s->mem, 30, BACKEND, 7, false), 0);
	assert_non_null(pvring_local_gnttab_map(&s->gt, 30, true, &why));
	assert_non_null(pvring_local_gnttab_map(&s->gt, 30, false, &why));
	assert_int_equal(table[30].flags & (PVRING_GTF_READING | PVRING_GTF_WRITING),
			 PVRING_GTF_READING | PVRING_GTF_WRITING);
	assert_int_equal(pvring_local_end_grant(&s->mem, 30), -EBUSY);
	pvring_local_gnttab_unmap(&s->gt, 30, true);
	/* Still read-mapped once: still pinned, no longer for writing. */
	assert_int_equal(table[30].flags & (PVRING_GTF_READING | PVRING_GTF_WRITING),
			 PVRING_GTF_READING);
	assert_int_equal(pvring_local_end_grant(&s->mem, 30), -EBUSY);
	pvring_local_gnttab_unmap(&s->gt, 30, false);
	assert_int_equal(pvring_local_end_grant(&s->mem, 30), 0);
	assert_refused(s, 30, false, "grant reference not granted");
	assert_int_equal(pvring_local_end_grant(&s->mem, 30), -EINVAL);
}

static void test_map_many(void **state)
{
	struct setup *s = *state;
	struct pvring_local_grant_entry *table = pvring_local_mem_frame(&s->mem, 0);
	/* Frames out of order in guest memory, contiguous in the mapping. */
	const uint32_t frames[4] = { 9, 2, 14, 5 };
	const uint32_t refs[4] = { 40, 41, 42, 43 };
	const uint32_t bad_refs[4] = { 40, 41, 99, 43 };
	const char *why = NULL;
	uint8_t *area;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		memset(pvring_local_mem_frame(&s->mem, frames[i]), 'a' + i,
		       PVRING_LOCAL_FRAME_SIZE);
		assert_int_equal(pvring_local_grant(&s->mem, refs[i], BACKEND, frames[i], false),
				 0);
	}
	area = pvring_local_gnttab_map_many(&s->gt, 4, refs, true, &why);
	assert_non_null(area);
	for (i = 0; i < 4; i++) {
		assert_int_equal(area[i * PVRING_LOCAL_FRAME_SIZE], 'a' + i);
		assert_int_equal(area[i * PVRING_LOCAL_FRAME_SIZE + 4095], 'a' + i);
	}
	area[3 * PVRING_LOCAL_FRAME_SIZE] = 'Z';
	assert_int_equal(*(uint8_t *)pvring_local_mem_frame(&s->mem, 5), 'Z');
	pvring_local_gnttab_unmap_many(&s->gt, area, 4, refs, true);

	/* One bad ref: nothing mapped, nothing left pinned. */
	assert_null(pvring_local_gnttab_map_many(&s->gt, 4, bad_refs, true, &why));
	assert_string_equal(why, "grant reference not granted");
	for (i = 0; i < 4; i++) {
		assert_int_equal(table[refs[i]].flags, PVRING_GTF_PERMIT_ACCESS);
		assert_int_equal(pvring_local_end_grant(&s->mem, refs[i]), 0);
	}
}

static void test_map_pages(void **state)
{
	struct setup *s = *state;
	struct pvring_local_grant_entry *table = pvring_local_mem_frame(&s->mem, 0);
	const uint32_t frames[3] = { 9, 2, 14 };
	const uint32_t refs[3] = { 50, 51, 52 };
	const uint32_t bad_refs[3] = { 50, 51, 99 };
	const char *why = NULL;
	void *pages[3];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		memset(pvring_local_mem_frame(&s->mem, frames[i]), 'a' + i,
		       PVRING_LOCAL_FRAME_SIZE);
		/* The last one read-only. */
		assert_int_equal(pvring_local_grant(&s->mem, refs[i], BACKEND, frames[i], i == 2),
				 0);
	}
	assert_int_equal(pvring_local_gnttab_map_pages(&s->gt, 3, refs, false, pages, &why), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(((uint8_t *)pages[i])[0], 'a' + i);
		assert_int_equal(((uint8_t *)pages[i])[4095], 'a' + i);
		/* Pinned while mapped: the guest cannot take the page back. */
		assert_int_equal(table[refs[i]].flags & PVRING_GTF_READING, PVRING_GTF_READING);
		assert_int_equal(pvring_local_end_grant(&s->mem, refs[i]), -EBUSY);
	}
	pvring_local_gnttab_unmap_pages(&s->gt, 3, refs, false);

	/* Refused (a read-only grant written, or one not granted): nothing left pinned. */
	assert_int_equal(pvring_local_gnttab_map_pages(&s->gt, 3, refs, true, pages, &why), -1);
	assert_string_equal(why, "read-only grant cannot be mapped writable");
	assert_int_equal(pvring_local_gnttab_map_pages(&s->gt, 3, bad_refs, false, pages, &why),
			 -1);
	assert_string_equal(why, "grant reference not granted");
	assert_int_equal(pvring_local_gnttab_map_pages(&s->gt, 0, refs, false, pages, &why), -1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(table[refs[i]].flags & ~PVRING_GTF_READONLY,
				 PVRING_GTF_PERMIT_ACCESS);
		assert_int_equal(pvring_local_end_grant(&s->mem, refs[i]), 0);
	}
}

/* A creation that fails leaves nothing to undo, and undoing it anyway is harmless. */
static void test_failed_create_leaves_nothing(void **state)
{
	struct pvring_local_guest_mem mem;
	int probe;

	(void)state;
	memset(&mem, 0x5a, sizeof(mem));
	assert_int_equal(pvring_local_mem_create(&mem, 4, 4), -EINVAL);
	assert_int_equal(mem.fd, -1);
	assert_null(mem.base);
	/* The next descriptor the process opens must survive the destroy. */
	probe = dup(STDIN_FILENO);
	assert_true(probe >= 0);
	pvring_local_mem_destroy(&mem);
	assert_true(fcntl(probe, F_GETFD) >= 0);
	close(probe);
}

static void test_open_checks_memory(void **state)
{
	struct pvring_local_gnttab gt;
	const char *why = NULL;
	int fd;

	(void)state;
	/* An unsealed memfd could shrink under the back end. */
	fd = memfd_create("unsealed", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FRAMES * PVRING_LOCAL_FRAME_SIZE), 0);
	assert_int_equal(
		pvring_local_gnttab_open(&gt, GUEST, BACKEND, fd, FRAMES, TABLE_FRAMES, &why),
		-EINVAL);
	assert_string_equal(why,
			    "guest memory is not a memfd sealed against shrinking and growing");
	/* A size that is not the one announced. */
	assert_int_equal(
		pvring_local_gnttab_open(&gt, GUEST, BACKEND, fd, FRAMES + 1, TABLE_FRAMES, &why),
		-EINVAL);
	assert_string_equal(why, "guest memory is not the size announced");
	assert_int_equal(pvring_local_gnttab_open(&gt, GUEST, BACKEND, fd, FRAMES, FRAMES, &why),
			 -EINVAL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_is_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mapped_grant_cannot_be_revoked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_pages, setup, teardown),
		cmocka_unit_test(test_failed_create_leaves_nothing),
		cmocka_unit_test(test_open_checks_memory),
	};

	return cmocka_run_group_tests_name("local grant table", tests, NULL, NULL);
}
