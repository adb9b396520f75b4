// SPDX-License-Identifier: MIT
#include "config.h"

#include "loop_device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Other processes may take the free device first: ask for another this often. */
#define ATTACH_TRIES 16

int loop_device_attach(struct loop_device *dev, const char *file, char *why, size_t why_len)
{
	char reason[192] = "";
	int ctl = -1, backing = -1, loop, n, tries;

	dev->path[0] = '\0';
	if (geteuid() != 0) {
		snprintf(reason, sizeof(reason), "attaching one needs root");
		goto out;
	}
	backing = open(file, O_RDWR | O_CLOEXEC);
	if (backing < 0) {
		snprintf(reason, sizeof(reason), "%s: %s", file, strerror(errno));
		goto out;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		snprintf(reason, sizeof(reason), "/dev/loop-control: %s", strerror(errno));
		goto out;
	}
	for (tries = 0; tries < ATTACH_TRIES; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			snprintf(reason, sizeof(reason), "LOOP_CTL_GET_FREE: %s", strerror(errno));
			goto out;
		}
		snprintf(dev->path, sizeof(dev->path), "/dev/loop%d", n);
		loop = open(dev->path, O_RDWR | O_CLOEXEC);
		if (loop < 0) {
			snprintf(reason, sizeof(reason), "%s: %s", dev->path, strerror(errno));
			goto out;
		}
		if (ioctl(loop, LOOP_SET_FD, backing) == 0) {
			close(loop);
			goto out;
		}
		n = errno;
		close(loop);
		snprintf(reason, sizeof(reason), "LOOP_SET_FD on %s: %s", dev->path, strerror(n));
		if (n != EBUSY)
			goto out;
	}
out:
	if (reason[0]) {
		dev->path[0] = '\0';
		snprintf(why, why_len, "no loop device here (%s)", reason);
	}
	if (ctl >= 0)
		close(ctl);
	if (backing >= 0)
		close(backing); /* the loop device holds its own reference */
	return dev->path[0] ? 0 : -1;
}

int loop_device_detach(struct loop_device *dev)
{
	int fd, ret = 0;

	if (!dev->path[0])
		return 0;
	fd = open(dev->path, O_RDWR | O_CLOEXEC);
	/* ENXIO: nothing attached any more, which is what was wanted. */
	if (fd < 0 || (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)) {
		fprintf(stderr, "loop_device: cannot detach %s: %s\n", dev->path, strerror(errno));
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	dev->path[0] = '\0';
	return ret;
}
