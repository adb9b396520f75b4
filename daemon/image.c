// SPDX-License-Identifier: MIT
/* Disk images: see image.h. */
#include "config.h"

#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fs.h>

#define SECTOR 512u

static int fail(char *why, size_t why_len, int err, const char *path, const char *what)
{
	snprintf(why, why_len, "%s: %s", path, what);
	return err;
}

static const char *open_error(int err, bool direct)
{
	switch (err) {
	case ENOENT:
		return "no such file";
	case EACCES:
	case EPERM:
		return "permission denied";
	case EROFS:
		return "read-only file system";
	case ENOTDIR:
		return "a component of the path is not a directory";
	case EISDIR:
		return "not a regular file or block device";
	case EINVAL:
		/* The only flag open(2) can reject on an existing image is O_DIRECT. */
		return direct ? "the file system does not support O_DIRECT" : "invalid argument";
	case EBUSY:
		return "in use (mounted, or opened exclusively by another program)";
	case ENXIO:
		return "not a regular file or block device";
	case ELOOP:
		return "too many symbolic links";
	default:
		return strerror(err);
	}
}

static bool power_of_two_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

static bool read_discard_max(const char *path, bool *can)
{
	unsigned long long max = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	if (fscanf(f, "%llu", &max) != 1)
		max = 0;
	fclose(f);
	*can = max > 0;
	return true;
}

/*
 * A partition has no queue/ of its own in sysfs: its disk's, one level up,
 * holds the limits. discard_max_bytes 0 means the device cannot discard.
 */
static bool blk_can_discard(dev_t rdev)
{
	char path[96];
	bool can = false;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/discard_max_bytes", major(rdev),
		 minor(rdev));
	if (read_discard_max(path, &can))
		return can;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../queue/discard_max_bytes", major(rdev),
		 minor(rdev));
	read_discard_max(path, &can);
	return can;
}

static int open_block_device(struct pvring_image *img, const struct stat *st, char *why,
			     size_t why_len)
{
	unsigned int physical = 0;
	uint64_t bytes = 0;
	int logical = 0;

	if (ioctl(img->fd, BLKGETSIZE64, &bytes) < 0 || ioctl(img->fd, BLKSSZGET, &logical) < 0)
		return fail(why, why_len, -errno, img->path, "cannot read the block device's size");
	if (ioctl(img->fd, BLKPBSZGET, &physical) < 0)
		physical = (unsigned int)logical;
	if (!power_of_two_in((uint32_t)logical, SECTOR, 65536))
		return fail(why, why_len, -EINVAL, img->path, "unsupported logical sector size");
	if (bytes == 0 || bytes % (uint64_t)logical)
		return fail(why, why_len, -EINVAL, img->path,
			    "size is zero or not a multiple of the sector size");
	img->sectors = bytes / SECTOR;
	img->sector_size = (uint32_t)logical;
	img->physical_sector_size =
		power_of_two_in(physical, (uint32_t)logical, 65536) ? physical : (uint32_t)logical;
	img->block_device = true;
	img->discard = !img->read_only && blk_can_discard(st->st_rdev);
	return 0;
}

/*
 * With O_DIRECT the front end must see the alignment the file system
 * demands, which can be larger than 512 (a 4 KiB-sector disk under ext4).
 */
static uint32_t direct_alignment(int fd)
{
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && power_of_two_in(stx.stx_dio_offset_align, 1, 65536))
		return stx.stx_dio_offset_align < SECTOR ? SECTOR : stx.stx_dio_offset_align;
#else
	(void)fd;
#endif
	return SECTOR;
}

static int open_regular_file(struct pvring_image *img, const struct stat *st, char *why,
			     size_t why_len)
{
	uint32_t blksize = (uint32_t)st->st_blksize;

	if (st->st_size == 0)
		return fail(why, why_len, -EINVAL, img->path, "size is zero");
	if (st->st_size % SECTOR)
		return fail(why, why_len, -EINVAL, img->path,
			    "size is not a multiple of 512 bytes");
	img->sector_size = img->direct ? direct_alignment(img->fd) : SECTOR;
	if ((uint64_t)st->st_size % img->sector_size)
		return fail(why, why_len, -EINVAL, img->path,
			    "size is not a multiple of the O_DIRECT alignment");
	img->sectors = (uint64_t)st->st_size / SECTOR;
	img->physical_sector_size =
		power_of_two_in(blksize, img->sector_size, 65536) ? blksize : img->sector_size;
	/*
	 * Probe hole punching where it cannot touch data: past the end of the
	 * file, with the size kept. The only side effect is that blocks
	 * preallocated beyond EOF (fallocate KEEP_SIZE) are released.
	 */
	img->discard =
		!img->read_only && fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					     st->st_size, SECTOR) == 0;
	return 0;
}

int pvring_image_open(struct pvring_image *img, const char *path, bool read_only, bool direct,
		      char *why, size_t why_len)
{
	struct stat st;
	int flags, err;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->read_only = read_only;
	img->direct = direct;
	img->flush = true;
	img->path = strdup(path);
	if (!img->path)
		return fail(why, why_len, -ENOMEM, path, "out of memory");
	/*
	 * O_NONBLOCK so that a FIFO named by mistake cannot hang pvringd in
	 * open(2); cleared below, because io_uring returns -EAGAIN instead of
	 * waiting on a file opened nonblocking.
	 */
	flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	if (direct)
		flags |= O_DIRECT;
	/* A block device written by pvringd must not be mounted or written by anyone else. */
	if (!read_only && stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	img->fd = open(path, flags);
	if (img->fd < 0) {
		err = fail(why, why_len, -errno, path, open_error(errno, direct));
		goto out;
	}
	if (fstat(img->fd, &st) < 0) {
		err = fail(why, why_len, -errno, path, strerror(errno));
		goto out;
	}
	/*
	 * Two servers of one image corrupt it: a writer takes the lock alone, a
	 * reader shares it with other readers (another pvringd, or any tool that
	 * locks as flock(1) does).
	 */
	if (flock(img->fd, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		err = fail(why, why_len, -errno, path,
			   errno == EWOULDBLOCK ? "in use: another process holds a lock on it"
						: strerror(errno));
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		err = open_regular_file(img, &st, why, why_len);
	} else if (S_ISBLK(st.st_mode)) {
		err = open_block_device(img, &st, why, why_len);
	} else {
		err = fail(why, why_len, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL, path,
			   "not a regular file or block device");
	}
	if (err)
		goto out;
	if (fcntl(img->fd, F_SETFL, fcntl(img->fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		err = -errno;
		fail(why, why_len, err, path, "cannot clear O_NONBLOCK");
		goto out;
	}
	return 0;
out:
	pvring_image_close(img);
	return err;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int pvring_image_open_patiently(struct pvring_image *img, const char *path, bool read_only,
				bool direct, unsigned int wait_ms, bool *waited, char *why,
				size_t why_len)
{
	const struct timespec pause = { 0, 50 * 1000 * 1000 };
	uint64_t deadline = monotonic_ms() + wait_ms;
	int err;

	if (waited)
		*waited = false;
	for (;;) {
		err = pvring_image_open(img, path, read_only, direct, why, why_len);
		if ((err != -EBUSY && err != -EWOULDBLOCK) || monotonic_ms() >= deadline)
			return err;
		if (waited)
			*waited = true;
		nanosleep(&pause, NULL);
	}
}

void pvring_image_close(struct pvring_image *img)
{
	if (img->remote_ops)
		img->remote_ops->close(img);
	img->remote_ops = NULL;
	img->remote = NULL;
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
	free(img->path);
	img->path = NULL;
}
