/* SPDX-License-Identifier: MIT */
/*
 * A disk image served by pvringd: a raw file or a block device, read-only or
 * read-write, optionally opened with O_DIRECT; or an image of a distributed
 * storage engine (Ceph RBD, NBD), named as image_name.h says. Its size is
 * fixed at open.
 */
#ifndef PVRING_IMAGE_H
#define PVRING_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/image_name.h"

struct event_base;
struct pvring_image;
struct pvringd_engine;

/* What an engine's image does beyond a file's (engine_rbd.c, engine_nbd.c). */
struct pvring_remote_image_ops {
	/* A queue's way to the image, in its worker's thread (engine.h). NULL with why. */
	struct pvringd_engine *(*queue_open)(struct pvring_image *img, struct event_base *base,
					     const char *name, const char **why);
	/* Every queue closed first. */
	void (*close)(struct pvring_image *img);
	/* One line for pvringctl: "ok", or the last failure and when. Any thread. */
	void (*state)(const struct pvring_image *img, char *out, size_t len);
};

struct pvring_image {
	enum pvring_image_kind kind;
	int fd; /* -1 for an engine's image */
	char *path; /* or the engine's name, as given */
	uint64_t sectors; /* 512-byte sectors */
	uint32_t sector_size; /* logical, as the front end must see it */
	uint32_t physical_sector_size;
	bool read_only;
	bool direct; /* O_DIRECT */
	bool block_device;
	bool discard; /* the image can discard (punch holes, BLKDISCARD, trim) */
	bool flush; /* the image has a cache to flush (a file's always has) */
	uint32_t max_queues; /* queues a device of it may have; 0: no limit of its own */
	/* An engine's image: how long an operation waits for its server, in ms */
	uint32_t timeout_ms;
	const struct pvring_remote_image_ops *remote_ops;
	void *remote;
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
/*
 * Open an engine's image by its name (pvring_image_name_is_remote): connect, find the image,
 * learn its size. An operation that waits longer than timeout_ms (at least 1) for the server fails;
 * so does the connection itself. 0, or a negative errno with a one-line reason in why
 * ("rbd:pool/img: no such image", "nbd://h/x: cannot connect: Connection refused", "pvringd
 * was built without RBD support", ...).
 */
int pvring_image_open_remote(struct pvring_image *img, const char *name, bool read_only,
			     uint32_t timeout_ms, char *why, size_t why_len);
void pvring_image_close(struct pvring_image *img);

#endif /* PVRING_IMAGE_H */
