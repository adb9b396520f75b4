// SPDX-License-Identifier: MIT
/* Xen virtual disk names: see vdev.h. */
#include "config.h"

#include <string.h>

#include "tools/vdev.h"

#define XVD_MAJOR 202ul
#define EXTENDED_FLAG (1ul << 28)
#define MAX_DISK ((1ul << 20) - 1)
#define MAX_PARTITION 255ul

bool pvring_vdev_parse(const char *name, long *devid)
{
	unsigned long disk = 0, part = 0;
	const char *p;

	if (strncmp(name, "xvd", 3) || !(name[3] >= 'a' && name[3] <= 'z'))
		return false;
	/* Letters count in bijective base 26: a..z are 1..26, aa is 27; the disk is that less one.
	 */
	for (p = name + 3; *p >= 'a' && *p <= 'z'; p++) {
		disk = disk * 26 + (unsigned long)(*p - 'a' + 1);
		if (disk > MAX_DISK + 1)
			return false;
	}
	disk--;
	if (*p) {
		/* A partition: 1..255, no leading zero. */
		if (*p == '0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 3)
			return false;
		for (; *p; p++)
			part = part * 10 + (unsigned long)(*p - '0');
		if (part > MAX_PARTITION)
			return false;
	}
	if (disk < 16 && part < 16)
		*devid = (long)((XVD_MAJOR << 8) | (disk << 4) | part);
	else
		*devid = (long)(EXTENDED_FLAG | (disk << 8) | part);
	return true;
}
