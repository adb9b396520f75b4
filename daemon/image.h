/* SPDX-License-Identifier: MIT */
/*
 * A disk image served by pvringd: a raw file or a block device, read-only or
 * read-write, optionally opened with O_DIRECT. Its size is fixed at open.
 */
#ifndef PVRING_IMAGE_H
#define PVRING_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pvring_image {
	int fd;
	char *path;
	uint64_t sectors; /* 512-byte sectors */
	uint32_t sector_size; /* logical, as the front end must see it */
	uint32_t physical_sector_size;
	bool read_only;
	bool direct; /* O_DIRECT */
	bool block_device;
	bool discard; /* the image can discard (punch holes, BLKDISCARD) */
};

/*
 * Open path. 0, or a negative errno with a one-line reason in why that names
 * the path and the problem ("no such file", "permission denied", "not a
 * regular file or block device", "size is not a multiple of 512 bytes", ...).
 */
int pvring_image_open(struct pvring_image *img, const char *path, bool read_only, bool direct,
		      char *why, size_t why_len);
/*
 * The same, but an image in use (locked by another process, or a block device opened
 * exclusively) is tried again every 50 ms for up to wait_ms: a pvringd killed a moment ago
 * may still hold it while the kernel finishes the I/O it had in flight. *waited (if not NULL)
 * says whether it was found in use at first.
 */
int pvring_image_open_patiently(struct pvring_image *img, const char *path, bool read_only,
				bool direct, unsigned int wait_ms, bool *waited, char *why,
				size_t why_len);
void pvring_image_close(struct pvring_image *img);

#endif /* PVRING_IMAGE_H */
