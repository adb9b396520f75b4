// SPDX-License-Identifier: MIT
/* Which engine serves an image: see engine.h and engines.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/engine.h"
#include "daemon/engines.h"

#define DEFAULT_TIMEOUT_MS 30000u

struct pvringd_engine *pvringd_engine_open(struct pvring_image *img, struct event_base *base,
					   struct pvring_aio *aio, const char *name,
					   const char **why)
{
	if (img->remote_ops)
		return img->remote_ops->queue_open(img, base, name, why);
	return pvringd_file_engine_open(img, aio, why);
}

int pvring_image_open_remote(struct pvring_image *img, const char *name, bool read_only,
			     uint32_t timeout_ms, char *why, size_t why_len)
{
	struct pvring_image_name n;
	char reason[256];
	int err;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	err = pvring_image_name_parse(name, false, &n, reason, sizeof(reason));
	if (err) {
		snprintf(why, why_len, "%s: %s", name, reason);
		return err;
	}
	img->kind = n.kind;
	img->read_only = read_only || n.snap[0];
	img->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
	img->path = strdup(name);
	if (!img->path) {
		snprintf(why, why_len, "%s: out of memory", name);
		return -ENOMEM;
	}
	snprintf(reason, sizeof(reason), "pvringd was built without %s support",
		 n.kind == PVRING_IMAGE_RBD ? "RBD" : "NBD");
	err = -ENOTSUP;
#ifdef HAVE_RBD
	if (n.kind == PVRING_IMAGE_RBD)
		err = pvringd_rbd_image_open(img, &n, reason, sizeof(reason));
#endif
#ifdef HAVE_NBD
	if (n.kind == PVRING_IMAGE_NBD)
		err = pvringd_nbd_image_open(img, &n, reason, sizeof(reason));
#endif
	if (err) {
		snprintf(why, why_len, "%s: %s", name, reason);
		pvring_image_close(img);
	}
	return err;
}
