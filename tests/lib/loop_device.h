/* SPDX-License-Identifier: MIT */
/*
 * A loop device over a file, for tests of block-device images. Where there is
 * none to be had (not root, no /dev/loop-control, a container without the
 * device nodes) attach says why in one line, and the test skips.
 */
#ifndef PVRING_TEST_LOOP_DEVICE_H
#define PVRING_TEST_LOOP_DEVICE_H

#include <stddef.h>

struct loop_device {
	char path[32]; /* "/dev/loopN" while attached, "" otherwise */
};

/*
 * Attach file (read-write) to a free loop device: 0 with dev->path set, or -1
 * with dev->path empty and why set to "no loop device here (REASON)".
 */
int loop_device_attach(struct loop_device *dev, const char *file, char *why, size_t why_len);

/*
 * Detach it if attached, and forget it: safe to call again, and on a zeroed
 * struct loop_device. 0, or -1 with a message on stderr.
 */
int loop_device_detach(struct loop_device *dev);

#endif /* PVRING_TEST_LOOP_DEVICE_H */
