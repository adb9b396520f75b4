// SPDX-License-Identifier: MIT
/* sd_notify without libsystemd: datagrams to a real socket, by path and by abstract name. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/sd_notify.h"

struct fixture {
	char dir[256];
	char path[300];
	int fd;
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	snprintf(f->dir, sizeof(f->dir), "%s/pvring-notify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
	f->fd = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unsetenv("NOTIFY_SOCKET");
	if (f->fd >= 0)
		close(f->fd);
	unlink(f->path);
	assert_int_equal(rmdir(f->dir), 0);
	test_free(f);
	return 0;
}

/* Bind a datagram socket to name ('@' for abstract) as systemd does, and point NOTIFY_SOCKET at it.
 */
static void listen_on(struct fixture *f, const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	struct timeval tv = { .tv_sec = 5 };

	assert_true(len < sizeof(addr.sun_path));
	memcpy(addr.sun_path, name, len);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&addr,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
			 0);
	/* A broken sender must fail the test, not hang it. */
	assert_int_equal(setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
}

static void assert_received(struct fixture *f, const char *expected)
{
	char buf[512];
	ssize_t n = recv(f->fd, buf, sizeof(buf), 0);

	assert_int_equal(n, (ssize_t)strlen(expected));
	assert_memory_equal(buf, expected, (size_t)n);
}

static void test_unset(void **state)
{
	(void)state;
	assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
	assert_int_equal(pvring_sd_notify("READY=1"), 0);
	/* Set but empty: not under systemd either. */
	assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
	assert_int_equal(pvring_sd_notify("READY=1"), 0);
}

static void test_path(void **state)
{
	struct fixture *f = *state;

	listen_on(f, f->path);
	assert_int_equal(pvring_sd_notify("READY=1"), 0);
	assert_received(f, "READY=1");
	/* One datagram per call, several assignments in one. */
	assert_int_equal(pvring_sd_notify("STATUS=serving 2 disks\nMAINPID=1"), 0);
	assert_int_equal(pvring_sd_notify("STOPPING=1"), 0);
	assert_received(f, "STATUS=serving 2 disks\nMAINPID=1");
	assert_received(f, "STOPPING=1");
}

static void test_abstract(void **state)
{
	struct fixture *f = *state;
	char name[108];

	/* Unique per run: abstract names are shared by the whole network namespace. */
	snprintf(name, sizeof(name), "@pvring-test-notify-%ld-%s", (long)getpid(),
		 strrchr(f->dir, '-') + 1);
	listen_on(f, name);
	assert_int_equal(pvring_sd_notify("READY=1"), 0);
	assert_received(f, "READY=1");
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	char long_path[200];

	/* Nobody listening there. */
	assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
	assert_int_equal(pvring_sd_notify("READY=1"), -ENOENT);
	assert_int_equal(setenv("NOTIFY_SOCKET", "relative/notify", 1), 0);
	assert_int_equal(pvring_sd_notify("READY=1"), -EAFNOSUPPORT);
	assert_int_equal(setenv("NOTIFY_SOCKET", "vsock:2:1234", 1), 0);
	assert_int_equal(pvring_sd_notify("READY=1"), -EAFNOSUPPORT);
	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(setenv("NOTIFY_SOCKET", long_path, 1), 0);
	assert_int_equal(pvring_sd_notify("READY=1"), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset),
		cmocka_unit_test_setup_teardown(test_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
