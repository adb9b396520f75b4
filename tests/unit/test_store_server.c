// SPDX-License-Identifier: MIT
/*
 * pvring-stored as a real process, driven by the real libxenstore: dom0 and a
 * guest on their own sockets, permissions, watches, transactions, a client
 * that sends garbage, and a guest released while connected.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <xenstore.h>
#include "tests/lib/store_process.h"
#include <xen/io/xs_wire.h>

#define GUEST 3
/* Only a guard against a hang: a correct store answers in microseconds. */
#define WATCH_WAIT_MS 10000

static int start_store(void **state)
{
	struct store_process *s = test_calloc(1, sizeof(*s));

	*state = s;
	return store_process_start(s);
}

static int stop_store(void **state)
{
	struct store_process *s = *state;
	int ret = store_process_stop(s);

	test_free(s);
	/* The store exits cleanly on SIGTERM (and, under ASan, without leaks). */
	return ret;
}

static struct xs_handle *connect_as(struct store_process *s, uint32_t domid)
{
	char path[PATH_MAX];
	struct xs_handle *h;

	if (domid == 0)
		snprintf(path, sizeof(path), "%s/socket", s->rundir);
	else
		snprintf(path, sizeof(path), "%s/domain/%u/socket", s->rundir, domid);
	setenv("XENSTORED_PATH", path, 1);
	h = xs_open(XS_OPEN_SOCKETONLY);
	assert_non_null(h);
	return h;
}

static void assert_read(struct xs_handle *h, xs_transaction_t t, const char *path,
			const char *expected)
{
	unsigned int len;
	char *value = xs_read(h, t, path, &len);

	if (!value)
		fail_msg("read %s: %s", path, strerror(errno));
	assert_string_equal(value, expected);
	assert_int_equal(len, strlen(expected));
	free(value);
}

static void assert_read_fails(struct xs_handle *h, xs_transaction_t t, const char *path, int err)
{
	unsigned int len;
	char *value = xs_read(h, t, path, &len);

	if (value)
		fail_msg("read %s succeeded ('%s'), expected %s", path, value, strerror(err));
	assert_int_equal(errno, err);
}

/* Wait for a watch event on path with token, passing over others. */
static void expect_event(struct xs_handle *h, const char *path, const char *token)
{
	struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };

	for (;;) {
		char **vec = xs_check_watch(h);

		if (vec) {
			bool match = !strcmp(vec[XS_WATCH_PATH], path) &&
				     !strcmp(vec[XS_WATCH_TOKEN], token);

			free(vec);
			if (match)
				return;
			continue;
		}
		if (poll(&pfd, 1, WATCH_WAIT_MS) != 1)
			fail_msg("no watch event for %s (token %s)", path, token);
	}
}

static void test_dom0_basics(void **state)
{
	struct xs_handle *h = connect_as(*state, 0);
	unsigned int n;
	char **list, *path;

	assert_true(xs_write(h, XBT_NULL, "/local/domain/0/name", "Domain-0", 8));
	assert_read(h, XBT_NULL, "/local/domain/0/name", "Domain-0");
	assert_true(xs_mkdir(h, XBT_NULL, "/local/domain/0/backend"));
	list = xs_directory(h, XBT_NULL, "/local/domain/0", &n);
	assert_non_null(list);
	assert_int_equal(n, 2);
	free(list);
	assert_true(xs_rm(h, XBT_NULL, "/local/domain/0/name"));
	assert_read_fails(h, XBT_NULL, "/local/domain/0/name", ENOENT);
	assert_false(xs_write(h, XBT_NULL, "/bad//path", "x", 1));
	assert_int_equal(errno, EINVAL);
	path = xs_get_domain_path(h, GUEST);
	assert_string_equal(path, "/local/domain/3");
	free(path);
	assert_true(xs_is_domain_introduced(h, 0));
	assert_false(xs_is_domain_introduced(h, GUEST));
	xs_close(h);
}

static void test_guest_permissions_and_watches(void **state)
{
	struct store_process *s = *state;
	struct xs_handle *dom0 = connect_as(s, 0), *guest;
	struct xs_permissions home[] = { { .id = GUEST, .perms = XS_PERM_NONE } };
	struct xs_permissions backend[] = { { .id = 0, .perms = XS_PERM_NONE },
					    { .id = GUEST, .perms = XS_PERM_READ } };
	struct xs_permissions *perms;
	char sock[PATH_MAX];
	unsigned int n;

	/* The toolstack's part: the guest's home and a back-end directory for it. */
	assert_true(xs_watch(dom0, "@introduceDomain", "intro"));
	expect_event(dom0, "@introduceDomain", "intro");
	assert_true(xs_mkdir(dom0, XBT_NULL, "/local/domain/3"));
	assert_true(xs_set_permissions(dom0, XBT_NULL, "/local/domain/3", home, 1));
	assert_true(xs_write(dom0, XBT_NULL, "/local/domain/0/backend/pvblk/3/0/state", "2", 1));
	assert_true(xs_set_permissions(dom0, XBT_NULL, "/local/domain/0/backend/pvblk/3/0", backend,
				       2));
	assert_true(xs_set_permissions(dom0, XBT_NULL, "/local/domain/0/backend/pvblk/3/0/state",
				       backend, 2));
	assert_true(xs_introduce_domain(dom0, GUEST, 0, 0));
	expect_event(dom0, "@introduceDomain", "intro");
	assert_true(xs_is_domain_introduced(dom0, GUEST));
	snprintf(sock, sizeof(sock), "%s/domain/3/socket", s->rundir);
	assert_int_equal(access(sock, F_OK), 0);

	guest = connect_as(s, GUEST);
	/* dom0 watches the guest's device directory; the guest writes there. */
	assert_true(xs_watch(dom0, "/local/domain/3/device", "fe"));
	expect_event(dom0, "/local/domain/3/device", "fe");
	/* A relative path lives in the guest's home. */
	assert_true(xs_write(guest, XBT_NULL, "device/pvblk/0/state", "1", 1));
	expect_event(dom0, "/local/domain/3/device/pvblk/0/state", "fe");
	assert_read(dom0, XBT_NULL, "/local/domain/3/device/pvblk/0/state", "1");
	perms = xs_get_permissions(guest, XBT_NULL, "device/pvblk/0/state", &n);
	assert_non_null(perms);
	assert_int_equal(perms[0].id, GUEST);
	free(perms);

	/* The back-end directory: readable, not writable. */
	assert_read(guest, XBT_NULL, "/local/domain/0/backend/pvblk/3/0/state", "2");
	assert_false(xs_write(guest, XBT_NULL, "/local/domain/0/backend/pvblk/3/0/state", "4", 1));
	assert_int_equal(errno, EACCES);
	assert_false(xs_write(guest, XBT_NULL, "/local/domain/0/evil", "1", 1));
	assert_int_equal(errno, EACCES);
	assert_read_fails(guest, XBT_NULL, "/local/domain/0", EACCES);
	/* Only dom0 introduces domains. */
	assert_false(xs_introduce_domain(guest, 4, 0, 0));
	assert_int_equal(errno, EACCES);

	/* The guest watches its back end; a relative watch hears relative paths. */
	assert_true(xs_watch(guest, "/local/domain/0/backend/pvblk/3/0/state", "be"));
	expect_event(guest, "/local/domain/0/backend/pvblk/3/0/state", "be");
	assert_true(xs_write(dom0, XBT_NULL, "/local/domain/0/backend/pvblk/3/0/state", "4", 1));
	expect_event(guest, "/local/domain/0/backend/pvblk/3/0/state", "be");
	assert_true(xs_watch(guest, "device", "rel"));
	expect_event(guest, "device", "rel");
	assert_true(xs_write(dom0, XBT_NULL, "/local/domain/3/device/pvblk/0/ring-ref", "8", 1));
	expect_event(guest, "device/pvblk/0/ring-ref", "rel");
	assert_true(xs_unwatch(guest, "device", "rel"));

	/* Released while connected: the guest is cut off, its socket goes. */
	assert_true(xs_watch(dom0, "@releaseDomain", "rel"));
	expect_event(dom0, "@releaseDomain", "rel");
	assert_true(xs_release_domain(dom0, GUEST));
	expect_event(dom0, "@releaseDomain", "rel");
	{
		unsigned int len;

		/* libxenstore reports the closed connection (EBADF); what matters is no answer. */
		assert_null(xs_read(guest, XBT_NULL, "device/pvblk/0/state", &len));
	}
	assert_int_equal(access(sock, F_OK), -1);
	assert_false(xs_is_domain_introduced(dom0, GUEST));
	xs_close(guest);
	xs_close(dom0);
}

static void test_transactions(void **state)
{
	struct xs_handle *h = connect_as(*state, 0), *other = connect_as(*state, 0);
	xs_transaction_t t;

	/* A node it read written meanwhile: the commit fails with EAGAIN, nothing applied. */
	assert_true(xs_write(other, XBT_NULL, "/seen", "0", 1));
	t = xs_transaction_start(h);
	assert_true(t != XBT_NULL);
	assert_read(h, t, "/seen", "0");
	assert_true(xs_write(h, t, "/tx/a", "1", 1));
	assert_read(h, t, "/tx/a", "1");
	assert_read_fails(h, XBT_NULL, "/tx/a", ENOENT);
	assert_true(xs_write(other, XBT_NULL, "/seen", "1", 1));
	assert_false(xs_transaction_end(h, t, false));
	assert_int_equal(errno, EAGAIN);
	assert_read_fails(h, XBT_NULL, "/tx/a", ENOENT);

	/* Retried without interference: committed, and watchers hear of it then. */
	assert_true(xs_watch(other, "/tx", "tx"));
	expect_event(other, "/tx", "tx");
	t = xs_transaction_start(h);
	assert_true(xs_write(h, t, "/tx/a", "1", 1));
	assert_true(xs_write(h, t, "/tx/b", "2", 1));
	assert_true(xs_transaction_end(h, t, false));
	expect_event(other, "/tx/a", "tx");
	assert_read(other, XBT_NULL, "/tx/a", "1");
	assert_read(other, XBT_NULL, "/tx/b", "2");

	/* Aborted: nothing applied. */
	t = xs_transaction_start(h);
	assert_true(xs_rm(h, t, "/tx"));
	assert_true(xs_transaction_end(h, t, true));
	assert_read(h, XBT_NULL, "/tx/b", "2");
	xs_close(other);
	xs_close(h);
}

/*
 * Conflicts are per node, as xenstored's (tools/xenstored/transaction.c): a transaction fails
 * only if a node it read changed, appeared or went before it committed; what others changed
 * elsewhere meanwhile is kept. Many guests publishing their rings at once must not fail.
 */
static void test_transaction_conflicts_per_node(void **state)
{
	struct xs_handle *h = connect_as(*state, 0), *other = connect_as(*state, 0);
	xs_transaction_t t, u;
	unsigned int len;
	char **list;

	/* Changes elsewhere meanwhile: committed, and both kept. */
	t = xs_transaction_start(h);
	assert_true(t != XBT_NULL);
	assert_true(xs_write(h, t, "/fe/0/ring-ref", "8", 1));
	assert_read(h, t, "/fe/0/ring-ref", "8");
	assert_true(xs_write(other, XBT_NULL, "/be/0/state", "2", 1));
	assert_true(xs_transaction_end(h, t, false));
	assert_read(other, XBT_NULL, "/fe/0/ring-ref", "8");
	assert_read(h, XBT_NULL, "/be/0/state", "2");

	/* Two front ends publishing side by side: both commit. */
	t = xs_transaction_start(h);
	u = xs_transaction_start(other);
	assert_true(xs_write(h, t, "/fe/1/ring-ref", "9", 1));
	assert_true(xs_write(other, u, "/fe/2/ring-ref", "7", 1));
	assert_true(xs_write(h, t, "/fe/1/state", "3", 1));
	assert_true(xs_write(other, u, "/fe/2/state", "3", 1));
	assert_true(xs_transaction_end(h, t, false));
	assert_true(xs_transaction_end(other, u, false));
	assert_read(h, XBT_NULL, "/fe/1/state", "3");
	assert_read(h, XBT_NULL, "/fe/2/state", "3");

	/* A node it found missing, made meanwhile: EAGAIN. */
	t = xs_transaction_start(h);
	assert_read_fails(h, t, "/fe/3/state", ENOENT);
	assert_true(xs_write(h, t, "/fe/3/ring-ref", "1", 1));
	assert_true(xs_write(other, XBT_NULL, "/fe/3/state", "1", 1));
	assert_false(xs_transaction_end(h, t, false));
	assert_int_equal(errno, EAGAIN);
	assert_read_fails(h, XBT_NULL, "/fe/3/ring-ref", ENOENT);

	/* A directory it listed, a child added meanwhile: EAGAIN. */
	t = xs_transaction_start(h);
	list = xs_directory(h, t, "/fe", &len);
	assert_non_null(list);
	free(list);
	assert_true(xs_write(other, XBT_NULL, "/fe/4/state", "1", 1));
	assert_false(xs_transaction_end(h, t, false));
	assert_int_equal(errno, EAGAIN);

	/* Two transactions each reading what the other writes: the second to commit fails. */
	t = xs_transaction_start(h);
	u = xs_transaction_start(other);
	assert_read(h, t, "/fe/1/state", "3");
	assert_read(other, u, "/fe/2/state", "3");
	assert_true(xs_write(h, t, "/fe/2/state", "4", 1));
	assert_true(xs_write(other, u, "/fe/1/state", "4", 1));
	assert_true(xs_transaction_end(h, t, false));
	assert_false(xs_transaction_end(other, u, false));
	assert_int_equal(errno, EAGAIN);
	assert_read(h, XBT_NULL, "/fe/1/state", "3");
	assert_read(h, XBT_NULL, "/fe/2/state", "4");

	/*
	 * What it reads of its own changes, nobody else changing them, commits: a node it
	 * removed (and what was below), a directory it added to. A retry never fails for ever.
	 */
	t = xs_transaction_start(h);
	assert_true(xs_rm(h, t, "/fe/0"));
	assert_read_fails(h, t, "/fe/0/ring-ref", ENOENT);
	assert_read_fails(h, t, "/fe/0", ENOENT);
	assert_true(xs_write(h, t, "/fe/5/state", "1", 1));
	list = xs_directory(h, t, "/fe/5", &len);
	assert_non_null(list);
	free(list);
	assert_true(xs_transaction_end(h, t, false));
	assert_read_fails(h, XBT_NULL, "/fe/0", ENOENT);
	assert_read(h, XBT_NULL, "/fe/5/state", "1");

	/* A change that cannot be made on the store as it now is: EAGAIN, nothing applied. */
	assert_true(xs_write(other, XBT_NULL, "/gone/x", "1", 1));
	t = xs_transaction_start(h);
	assert_true(xs_write(h, t, "/fe/6/state", "1", 1));
	assert_true(xs_rm(h, t, "/gone/x"));
	assert_true(xs_rm(other, XBT_NULL, "/gone/x"));
	assert_false(xs_transaction_end(h, t, false));
	assert_int_equal(errno, EAGAIN);
	assert_read_fails(h, XBT_NULL, "/fe/6/state", ENOENT);
	xs_close(other);
	xs_close(h);
}

/* Another client writes path meanwhile: the transaction's commit fails with EAGAIN. */
static void assert_conflict(struct xs_handle *h, xs_transaction_t t, struct xs_handle *other,
			    const char *path)
{
	assert_true(xs_write(other, XBT_NULL, path, "o", 1));
	assert_false(xs_transaction_end(h, t, false));
	assert_int_equal(errno, EAGAIN);
}

static void assert_no_children(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	unsigned int len;
	char **list = xs_directory(h, t, path, &len);

	assert_non_null(list);
	assert_int_equal(len, 0);
	free(list);
}

/*
 * A read after the transaction's own change of a node, or of a node its change touched (a
 * parent whose children it changed), still sees the node as the transaction found it in what
 * it did not change itself: changed meanwhile by another client, the commit fails (EAGAIN),
 * and nothing is applied. Under a node it removed, what it reads is what the commit leaves.
 */
static void test_transaction_reads_after_changes(void **state)
{
	struct xs_handle *h = connect_as(*state, 0), *other = connect_as(*state, 0);
	xs_transaction_t t;

	/* mkdir of a node that exists changes nothing: the read after it is a read. */
	assert_true(xs_write(h, XBT_NULL, "/cnt", "1", 1));
	t = xs_transaction_start(h);
	assert_true(xs_mkdir(h, t, "/cnt"));
	assert_read(h, t, "/cnt", "1");
	assert_true(xs_write(h, t, "/cnt", "2", 1));
	assert_conflict(h, t, other, "/cnt");
	assert_read(h, XBT_NULL, "/cnt", "o");

	/* A removal that failed, then a read of the missing node: made meanwhile. */
	t = xs_transaction_start(h);
	assert_false(xs_rm(h, t, "/opt"));
	assert_read_fails(h, t, "/opt", ENOENT);
	assert_conflict(h, t, other, "/opt");

	/* A child written, then its parent read: the parent's value changed meanwhile. */
	assert_true(xs_write(h, XBT_NULL, "/p", "v1", 2));
	t = xs_transaction_start(h);
	assert_true(xs_write(h, t, "/p/c", "c", 1));
	assert_read(h, t, "/p", "v1");
	assert_conflict(h, t, other, "/p");
	assert_read_fails(h, XBT_NULL, "/p/c", ENOENT);

	/* A node written, then listed: a child added meanwhile. */
	assert_true(xs_write(h, XBT_NULL, "/d", "", 0));
	t = xs_transaction_start(h);
	assert_true(xs_write(h, t, "/d", "w", 1));
	assert_no_children(h, t, "/d");
	assert_conflict(h, t, other, "/d/new");
	assert_read(h, XBT_NULL, "/d", "");

	/* A child removed, then the parent listed: another child added meanwhile. */
	assert_true(xs_write(h, XBT_NULL, "/e/x", "1", 1));
	t = xs_transaction_start(h);
	assert_true(xs_rm(h, t, "/e/x"));
	assert_no_children(h, t, "/e");
	assert_conflict(h, t, other, "/e/y");
	assert_read(h, XBT_NULL, "/e/x", "1");

	/* Under a node it removed and wrote again, what it reads is what the commit leaves. */
	t = xs_transaction_start(h);
	assert_true(xs_rm(h, t, "/e"));
	assert_true(xs_write(h, t, "/e/z", "z", 1));
	assert_read_fails(h, t, "/e/y", ENOENT);
	assert_true(xs_write(other, XBT_NULL, "/e/y", "2", 1));
	assert_true(xs_transaction_end(h, t, false));
	assert_read_fails(h, XBT_NULL, "/e/y", ENOENT);
	assert_read_fails(h, XBT_NULL, "/e/x", ENOENT);
	assert_read(h, XBT_NULL, "/e/z", "z");
	xs_close(other);
	xs_close(h);
}

/*
 * A commit fires each node's watches once, however often the transaction changed it; an
 * aborted or failed transaction fires none and leaves the store as it was.
 */
static void test_transaction_events(void **state)
{
	struct xs_handle *h = connect_as(*state, 0), *watcher = connect_as(*state, 0);
	xs_transaction_t t;
	unsigned int i, n = 0;
	char **vec;

	assert_true(xs_write(h, XBT_NULL, "/w/a", "0", 1));
	assert_true(xs_watch(watcher, "/w", "tok"));
	expect_event(watcher, "/w", "tok"); /* a new watch fires once */
	t = xs_transaction_start(h);
	for (i = 0; i < 50; i++) {
		assert_true(xs_write(h, t, "/w/a", "1", 1));
		assert_true(xs_write(h, t, "/w/b", "2", 1));
	}
	assert_true(xs_transaction_end(h, t, true));
	assert_read(h, XBT_NULL, "/w/a", "0");
	assert_read_fails(h, XBT_NULL, "/w/b", ENOENT);
	t = xs_transaction_start(h);
	for (i = 0; i < 50; i++) {
		assert_true(xs_write(h, t, "/w/a", "1", 1));
		assert_true(xs_write(h, t, "/w/b", "2", 1));
	}
	assert_true(xs_transaction_end(h, t, false));
	/* A write after the commit: once its event is in, every event of the commit is too. */
	assert_true(xs_write(h, XBT_NULL, "/w/end", "", 0));
	for (;;) {
		struct pollfd pfd = { .fd = xs_fileno(watcher), .events = POLLIN };

		vec = xs_check_watch(watcher);
		if (!vec) {
			if (poll(&pfd, 1, WATCH_WAIT_MS) != 1)
				fail_msg("no event for /w/end");
			continue;
		}
		if (!strcmp(vec[XS_WATCH_PATH], "/w/end")) {
			free(vec);
			break;
		}
		assert_true(!strcmp(vec[XS_WATCH_PATH], "/w/a") ||
			    !strcmp(vec[XS_WATCH_PATH], "/w/b"));
		n++;
		free(vec);
	}
	assert_int_equal(n, 2);
	xs_close(watcher);
	xs_close(h);
}

/*
 * A guest's transaction reads or changes at most 1024 nodes, and makes at most 2048 changes
 * (one like the one just before it takes its place) of at most 256 KiB: it cannot grow the
 * store's memory without bound. Past that, ENOSPC; what it did still commits. dom0 has no such
 * quota.
 */
static void test_transaction_quota(void **state)
{
	struct store_process *s = *state;
	struct xs_handle *dom0 = connect_as(s, 0), *guest;
	struct xs_permissions home = { .id = GUEST, .perms = XS_PERM_NONE };
	char path[64], big[4000], *value;
	xs_transaction_t t;
	unsigned int i, len;

	assert_true(xs_mkdir(dom0, XBT_NULL, "/local/domain/3"));
	assert_true(xs_set_permissions(dom0, XBT_NULL, "/local/domain/3", &home, 1));
	assert_true(xs_introduce_domain(dom0, GUEST, 0, 0));
	guest = connect_as(s, GUEST);

	t = xs_transaction_start(guest);
	assert_true(t != XBT_NULL);
	for (i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "n%u", i);
		value = xs_read(guest, t, path, &len);
		assert_null(value);
		if (errno != ENOENT)
			break;
	}
	assert_int_equal(i, 1024);
	assert_int_equal(errno, ENOSPC);
	/* The paths it has read it may still write, one of them over and over. */
	for (i = 0; i < 5000; i++)
		assert_true(xs_write(guest, t, "n0", "x", 1));
	for (i = 1; i < 2048; i++) {
		snprintf(path, sizeof(path), "n%u", i % 2);
		assert_true(xs_write(guest, t, path, i % 2 ? "y" : "z", 1));
	}
	assert_false(xs_write(guest, t, "n0", "w", 1));
	assert_int_equal(errno, ENOSPC);
	assert_true(xs_write(guest, t, "n1", "Y", 1));
	assert_true(xs_transaction_end(guest, t, false));
	assert_read(dom0, XBT_NULL, "/local/domain/3/n0", "z");
	assert_read(dom0, XBT_NULL, "/local/domain/3/n1", "Y");

	/*
	 * And 256 KiB of paths and values: 4000-byte values written by turns to two nodes (each
	 * write a change of its own) reach it at the 66th; one node written over and over never.
	 */
	memset(big, 'b', sizeof(big));
	t = xs_transaction_start(guest);
	assert_true(t != XBT_NULL);
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "m%u", i % 2);
		big[0] = (char)('a' + i % 26);
		if (!xs_write(guest, t, path, big, sizeof(big)))
			break;
	}
	assert_int_equal(i, 65);
	assert_int_equal(errno, ENOSPC);
	for (i = 0; i < 100; i++)
		assert_true(xs_write(guest, t, "m0", big, sizeof(big)));
	assert_true(xs_transaction_end(guest, t, false));
	value = xs_read(dom0, XBT_NULL, "/local/domain/3/m1", &len);
	assert_non_null(value);
	assert_int_equal(len, sizeof(big));
	assert_int_equal(value[0], 'a' + 63 % 26);
	free(value);

	t = xs_transaction_start(dom0);
	for (i = 0; i < 1100; i++) {
		snprintf(path, sizeof(path), "/dom0/n%u", i);
		assert_true(xs_write(dom0, t, path, "d", 1));
	}
	assert_true(xs_transaction_end(dom0, t, false));
	assert_read(guest, XBT_NULL, "/local/domain/3/n1", "Y");
	xs_close(guest);
	xs_close(dom0);
}

static void test_garbage_client(void **state)
{
	struct store_process *s = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct xsd_sockmsg huge = { .type = XS_READ, .len = XENSTORE_PAYLOAD_MAX + 1 };
	struct xsd_sockmsg unterminated = { .type = XS_READ, .len = 4 };
	struct xs_handle *h = connect_as(s, 0);
	char buf[64];
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/socket", s->rundir);
	/* An oversized request: the connection is closed... */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, &huge, sizeof(huge)), sizeof(huge));
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	/* ...and so is one whose path is not NUL-terminated. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, &unterminated, sizeof(unterminated)), sizeof(unterminated));
	assert_int_equal(write(fd, "/abc", 4), 4);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	/* Everyone else is still served. */
	assert_true(xs_write(h, XBT_NULL, "/still/here", "yes", 3));
	assert_read(h, XBT_NULL, "/still/here", "yes");
	xs_close(h);
}

/*
 * A guest holds at most 8 connections, 1000 nodes, 128 watches and 10 open transactions, over
 * all its connections (a connection each would multiply them); the quotas reach it as ENOSPC.
 * dom0 has none of them: pvringd watches one path per device it serves.
 */
static void test_guest_limits(void **state)
{
	struct store_process *s = *state;
	struct xs_handle *dom0 = connect_as(s, 0), *guest[9];
	struct xs_permissions home = { .id = GUEST, .perms = XS_PERM_NONE };
	char path[64];
	unsigned int i, len;
	bool ok = true;

	assert_true(xs_mkdir(dom0, XBT_NULL, "/local/domain/3"));
	assert_true(xs_set_permissions(dom0, XBT_NULL, "/local/domain/3", &home, 1));
	assert_true(xs_introduce_domain(dom0, GUEST, 0, 0));
	for (i = 0; i < 9; i++)
		guest[i] = connect_as(s, GUEST);
	for (i = 0; i < 8; i++) {
		char *v = xs_read(guest[i], XBT_NULL, "/local/domain/3", &len);

		assert_non_null(v);
		free(v);
	}
	assert_null(xs_read(guest[8], XBT_NULL, "/local/domain/3", &len));

	for (i = 0; ok && i < 2000; i++) {
		snprintf(path, sizeof(path), "n%u", i);
		ok = xs_write(guest[0], XBT_NULL, path, "v", 1);
	}
	assert_false(ok);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(i, 1000); /* the home, then 999 more: the 1000th write failed */
	for (i = 0, ok = true; ok && i < 200; i++) {
		snprintf(path, sizeof(path), "w%u", i);
		ok = xs_watch(guest[1], path, path);
	}
	assert_false(ok);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(i, 129); /* the 129th watch failed */
	/* Another connection of the same guest gets no more. */
	assert_false(xs_watch(guest[2], "other", "other"));
	assert_int_equal(errno, ENOSPC);
	/* Ten open transactions, however spread over connections; an eleventh is refused. */
	for (i = 0; i < 10; i++)
		assert_int_not_equal(xs_transaction_start(guest[3 + i % 5]), XBT_NULL);
	assert_int_equal(xs_transaction_start(guest[3]), XBT_NULL);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(xs_transaction_start(guest[7]), XBT_NULL);
	assert_int_equal(errno, ENOSPC);
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/local/domain/%u/device/vbd/51712/state", i + 1);
		assert_true(xs_watch(dom0, path, path));
	}
	for (i = 0; i < 9; i++)
		xs_close(guest[i]);
	xs_close(dom0);
}

/* A client that watches but never reads is cut off before the store's memory fills. */
static void test_client_that_never_reads(void **state)
{
	struct store_process *s = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static const char watch[] = "/flood\0tok";
	struct xsd_sockmsg hdr = { .type = XS_WATCH, .len = sizeof(watch) };
	struct xs_handle *h = connect_as(s, 0);
	char path[256], buf[4096];
	ssize_t n;
	int fd, i;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/socket", s->rundir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, &hdr, sizeof(hdr)), sizeof(hdr));
	assert_int_equal(write(fd, watch, sizeof(watch)), sizeof(watch));
	/* About 1 MiB of watch events: past the limit and the socket's own buffer. */
	memset(path, 'p', sizeof(path));
	memcpy(path, "/flood/", 7);
	for (i = 0; i < 5000; i++) {
		snprintf(path + 200, sizeof(path) - 200, "/%d", i);
		assert_true(xs_write(h, XBT_NULL, path, "x", 1));
	}
	/* One more round trip: the store has handled everything before it. */
	assert_read(h, XBT_NULL, path, "x");
	/* What was queued can still be read, then the connection ends. */
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	do
		n = read(fd, buf, sizeof(buf));
	while (n > 0);
	if (n < 0)
		fail_msg("the flooded client is still connected (%s)", strerror(errno));
	close(fd);
	/* Everyone else is still served. */
	assert_true(xs_write(h, XBT_NULL, "/after/flood", "ok", 2));
	assert_read(h, XBT_NULL, "/after/flood", "ok");
	xs_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dom0_basics, start_store, stop_store),
		cmocka_unit_test_setup_teardown(test_guest_permissions_and_watches, start_store,
						stop_store),
		cmocka_unit_test_setup_teardown(test_transactions, start_store, stop_store),
		cmocka_unit_test_setup_teardown(test_transaction_conflicts_per_node, start_store,
						stop_store),
		cmocka_unit_test_setup_teardown(test_transaction_reads_after_changes, start_store,
						stop_store),
		cmocka_unit_test_setup_teardown(test_transaction_events, start_store, stop_store),
		cmocka_unit_test_setup_teardown(test_transaction_quota, start_store, stop_store),
		cmocka_unit_test_setup_teardown(test_garbage_client, start_store, stop_store),
		cmocka_unit_test_setup_teardown(test_client_that_never_reads, start_store,
						stop_store),
		cmocka_unit_test_setup_teardown(test_guest_limits, start_store, stop_store),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("store server (libxenstore client)", tests, NULL, NULL);
}
