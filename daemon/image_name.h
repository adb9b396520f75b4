/* SPDX-License-Identifier: MIT */
/*
 * How a disk names an image that lives in a distributed storage engine rather than in a file,
 * following each engine's own conventions:
 *
 *   rbd:POOL/IMAGE[@SNAP][:id=CLIENT][:conf=/PATH/ceph.conf]
 *                         Ceph RBD, as QEMU and libvirt spell it. A snapshot is read-only.
 *                         Without conf, librados' own search (CEPH_CONF, /etc/ceph/ceph.conf).
 *                         Without id, "admin".
 *   nbd://HOST[:PORT][/EXPORT]
 *   nbd+unix:///[EXPORT]?socket=/PATH
 *                         NBD, as the NBD URI specification (and libnbd) spell it. HOST is a
 *                         name, an IPv4 address or [an IPv6 one]; PORT defaults to 10809;
 *                         EXPORT may be %-encoded and defaults to the server's default export.
 *
 * The same grammar names what pvringd may serve (its "remote-images" list): an entry allows a
 * name when they agree on the engine and the server (the cluster, or host and port, or socket)
 * and, where the entry names them, on the pool, image and export. It is pvringd's own parser,
 * so the allow-list judges exactly what the engine will be asked to open.
 */
#ifndef PVRING_IMAGE_NAME_H
#define PVRING_IMAGE_NAME_H

#include <stdbool.h>
#include <stddef.h>

enum pvring_image_kind {
	PVRING_IMAGE_PATH, /* a file or block device, by its path */
	PVRING_IMAGE_RBD,
	PVRING_IMAGE_NBD,
};

#define PVRING_IMAGE_NAME_MAX 1024 /* a whole name, in bytes */

struct pvring_image_name {
	enum pvring_image_kind kind;
	/* RBD; pool and image may be empty in an allow-list entry only (any image) */
	char pool[128];
	char image[128];
	char snap[128]; /* "": the image itself */
	char id[64]; /* "": admin */
	char conf[256]; /* "": librados' default search */
	/* NBD */
	bool nbd_unix;
	char host[256];
	unsigned int port;
	char socket[108]; /* sun_path */
	char export_name[256]; /* decoded */
	bool any_export; /* an entry with no export: every export of that server */
};

/* Whether name is an engine's (starts with "rbd:", "nbd://" or "nbd+unix://"), not a path. */
bool pvring_image_name_is_remote(const char *name);

/*
 * Parse an engine's image name. entry: parse an allow-list entry, which may leave out the image
 * (and the export). 0, or -EINVAL with a one-line reason in why naming the problem.
 */
int pvring_image_name_parse(const char *name, bool entry, struct pvring_image_name *out, char *why,
			    size_t why_len);

/* Whether the allow-list entry allows the image name (both parsed). */
bool pvring_image_name_allows(const struct pvring_image_name *entry,
			      const struct pvring_image_name *name);

/* "rbd" or "nbd" (or "file"). */
const char *pvring_image_kind_name(enum pvring_image_kind kind);

#endif /* PVRING_IMAGE_NAME_H */
