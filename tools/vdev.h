/* SPDX-License-Identifier: MIT */
/* Xen virtual disk names (xvda, xvdb3, xvdaa) and the device numbers the store uses for them. */
#ifndef PVRING_VDEV_H
#define PVRING_VDEV_H

#include <stdbool.h>

/*
 * The device number of a name as xl takes it: disks 0..15 without a partition above 15 in the
 * xvd major's encoding (202 << 8 | disk << 4 | partition), the others in the extended one
 * (1 << 28 | disk << 8 | partition), as Xen's docs/misc/vbd-interface.txt defines them.
 * False for anything else.
 */
bool pvring_vdev_parse(const char *name, long *devid);

#endif /* PVRING_VDEV_H */
