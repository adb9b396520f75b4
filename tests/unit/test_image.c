// SPDX-License-Identifier: MIT
/*
 * Opening images for real in a temporary directory: how each is opened,
 * what size and sectors it reports, and the one-line reason for each way
 * it can be refused. A loop device is tried where there is one to be had.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/image.h"
#include "tests/lib/loop_device.h"

static char dir[] = "/tmp/pvring-test-image-XXXXXX";
static char path[96];
static char why[256];
/* test_loop_device's, released by teardown even when an assertion ends the test. */
static struct loop_device loop;
static struct pvring_image loop_img = { .fd = -1 };

static int group_setup(void **state)
{
	(void)state;
	/* A FIFO that blocked open(2) would hang here: make that a failure. */
	alarm(60);
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "%s/image", dir);
	memset(why, 0, sizeof(why));
	return 0;
}

static int teardown(void **state)
{
	int ret = 0;

	(void)state;
	pvring_image_close(&loop_img);
	if (loop_device_detach(&loop))
		ret = -1;
	if (unlink(path) && errno != ENOENT)
		ret = -1;
	return ret;
}

static void make_file(off_t size, mode_t mode)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void assert_why(const char *text)
{
	/* One line that names the path and the problem. */
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, text));
	assert_null(strchr(why, '\n'));
}

/* Whether this file system can punch holes, found without the code under test. */
static bool fs_punches_holes(void)
{
	char probe[128];
	bool ok;
	int fd;

	snprintf(probe, sizeof(probe), "%s/probe", dir);
	fd = open(probe, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8192), 0);
	ok = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
	close(fd);
	unlink(probe);
	return ok;
}

static void test_regular_file(void **state)
{
	struct pvring_image img;
	struct stat before, after;
	int fl;

	(void)state;
	make_file(1024 * 1024, 0600);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(pvring_image_open(&img, path, false, false, why, sizeof(why)), 0);
	assert_string_equal(img.path, path);
	assert_int_equal(img.sectors, 2048);
	assert_int_equal(img.sector_size, 512);
	assert_true(img.physical_sector_size >= 512);
	assert_int_equal(img.physical_sector_size & (img.physical_sector_size - 1), 0);
	assert_false(img.read_only);
	assert_false(img.direct);
	assert_false(img.block_device);
	assert_int_equal(img.discard, fs_punches_holes());
	fl = fcntl(img.fd, F_GETFL);
	assert_int_equal(fl & O_ACCMODE, O_RDWR);
	assert_int_equal(fl & (O_DIRECT | O_NONBLOCK), 0);
	assert_true(fcntl(img.fd, F_GETFD) & FD_CLOEXEC);
	/* The discard probe must not change the image. */
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_blocks, before.st_blocks);
	pvring_image_close(&img);
	assert_int_equal(img.fd, -1);
	assert_null(img.path);
}

static void test_read_only(void **state)
{
	struct pvring_image img;

	(void)state;
	make_file(4096, 0400);
	assert_int_equal(pvring_image_open(&img, path, true, false, why, sizeof(why)), 0);
	assert_int_equal(fcntl(img.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_true(img.read_only);
	/* Discarding writes: never offered on a read-only image. */
	assert_false(img.discard);
	assert_int_equal(img.sectors, 8);
	pvring_image_close(&img);
}

static void test_direct(void **state)
{
	struct pvring_image img;
	int err;

	(void)state;
	make_file(1024 * 1024, 0600);
	err = pvring_image_open(&img, path, false, true, why, sizeof(why));
	if (err == -EINVAL) {
		/* The file system under /tmp refuses O_DIRECT: say so clearly, test no more. */
		assert_why("O_DIRECT");
		skip();
	}
	assert_int_equal(err, 0);
	assert_true(img.direct);
	assert_true(fcntl(img.fd, F_GETFL) & O_DIRECT);
	/* The alignment O_DIRECT needs is what the front end must see. */
	assert_true(img.sector_size >= 512);
	assert_int_equal(img.sector_size & (img.sector_size - 1), 0);
	assert_int_equal(img.sectors, 2048);
	pvring_image_close(&img);
}

static void test_missing(void **state)
{
	struct pvring_image img;

	(void)state;
	assert_int_equal(pvring_image_open(&img, path, false, false, why, sizeof(why)), -ENOENT);
	assert_why("no such file");
	assert_int_equal(img.fd, -1);
	assert_null(img.path);
	pvring_image_close(&img); /* harmless after a failed open */
}

/*
 * A writer's lock held by another process (a pvringd killed a moment ago, whose last I/O
 * still holds the image): refused at once without a wait, taken once released with one.
 */
static void test_open_patiently_waits_for_a_lock(void **state)
{
	struct pvring_image img;
	int locked[2], go[2], status;
	bool waited = true;
	char c = 0;
	pid_t child;

	(void)state;
	make_file(8 * 512, 0600);
	assert_int_equal(pipe(locked), 0);
	assert_int_equal(pipe(go), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd = open(path, O_RDWR);

		if (fd < 0 || flock(fd, LOCK_EX) || write(locked[1], "L", 1) != 1 ||
		    read(go[0], &c, 1) != 1)
			_exit(1);
		usleep(200 * 1000);
		_exit(0);
	}
	assert_int_equal(read(locked[0], &c, 1), 1);
	assert_int_equal(
		pvring_image_open_patiently(&img, path, false, false, 0, &waited, why, sizeof(why)),
		-EWOULDBLOCK);
	assert_false(waited);
	assert_why("in use: another process holds a lock on it");
	assert_int_equal(write(go[1], "G", 1), 1);
	/* The bound is for a hang, never a speed: the lock goes 200 ms after "go". */
	assert_int_equal(pvring_image_open_patiently(&img, path, false, false, 60000, &waited, why,
						     sizeof(why)),
			 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pvring_image_close(&img);
	close(locked[0]);
	close(locked[1]);
	close(go[0]);
	close(go[1]);
}

static void test_not_a_file(void **state)
{
	struct pvring_image img;

	(void)state;
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(pvring_image_open(&img, path, true, false, why, sizeof(why)) < 0);
	assert_why("not a regular file or block device");
	assert_true(pvring_image_open(&img, path, false, false, why, sizeof(why)) < 0);
	assert_why("not a regular file or block device");
	assert_int_equal(rmdir(path), 0);

	/* Nobody writes the FIFO: opening it must neither hang nor succeed. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(pvring_image_open(&img, path, true, false, why, sizeof(why)), -EINVAL);
	assert_why("not a regular file or block device");
	assert_int_equal(pvring_image_open(&img, path, false, false, why, sizeof(why)), -EINVAL);
	assert_why("not a regular file or block device");
	assert_int_equal(img.fd, -1);
}

static void test_bad_sizes(void **state)
{
	struct pvring_image img;

	(void)state;
	make_file(1000, 0600);
	assert_int_equal(pvring_image_open(&img, path, false, false, why, sizeof(why)), -EINVAL);
	assert_why("size is not a multiple of 512 bytes");
	make_file(4096 + 511, 0600);
	assert_int_equal(pvring_image_open(&img, path, true, false, why, sizeof(why)), -EINVAL);
	assert_why("size is not a multiple of 512 bytes");
	make_file(0, 0600);
	assert_int_equal(pvring_image_open(&img, path, false, false, why, sizeof(why)), -EINVAL);
	assert_why("size is zero");
}

static int open_as_nobody(bool read_only)
{
	struct pvring_image img;
	int err;

	/*
	 * Root passes every mode check (CAP_DAC_OVERRIDE), so the refusal is
	 * tested as an unprivileged user, in a child that may drop root.
	 */
	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
		return 2;
	err = pvring_image_open(&img, path, read_only, false, why, sizeof(why));
	if (err != -EACCES)
		return 3;
	if (!strstr(why, "permission denied") || !strstr(why, path))
		return 4;
	return 0;
}

static void test_permission_denied(void **state)
{
	int status, ro;
	pid_t pid;

	(void)state;
	make_file(4096, 0000);
	/* Let the unprivileged child reach the file: the denial must be the file's own. */
	assert_int_equal(chmod(dir, 0711), 0);
	for (ro = 0; ro < 2; ro++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(open_as_nobody(ro));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(chmod(dir, 0700), 0);
}

static bool sysfs_discard(const char *dev)
{
	unsigned long long max = 0;
	char file[128];
	FILE *f;

	snprintf(file, sizeof(file), "/sys/block/%s/queue/discard_max_bytes",
		 strrchr(dev, '/') + 1);
	f = fopen(file, "re");
	if (!f)
		return false;
	if (fscanf(f, "%llu", &max) != 1)
		max = 0;
	fclose(f);
	return max > 0;
}

/* Only where a loop device can be attached (root, loop devices present); skipped otherwise. */
static void test_loop_device(void **state)
{
	struct pvring_image *img = &loop_img;
	char no_loop[256];

	(void)state;
	make_file(8 * 1024 * 1024, 0600);
	if (loop_device_attach(&loop, path, no_loop, sizeof(no_loop))) {
		fprintf(stderr, "# %s\n", no_loop);
		skip();
	}
	assert_int_equal(pvring_image_open(img, loop.path, false, false, why, sizeof(why)), 0);
	assert_true(img->block_device);
	assert_int_equal(img->sectors, 8 * 1024 * 2);
	assert_int_equal(img->sector_size, 512);
	assert_true(img->physical_sector_size >= 512);
	assert_int_equal(img->discard, sysfs_discard(loop.path));
	assert_int_equal(fcntl(img->fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
	pvring_image_close(img);
	assert_int_equal(pvring_image_open(img, loop.path, true, false, why, sizeof(why)), 0);
	assert_true(img->block_device);
	assert_false(img->discard);
	assert_int_equal(img->sectors, 8 * 1024 * 2);
	pvring_image_close(img);
	/* Detached by teardown. */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_regular_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_patiently_waits_for_a_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_device, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
