// SPDX-License-Identifier: MIT
/* Which engine serves an image: see engine.h and engines.h. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/engine.h"
#include "daemon/engines.h"

struct pvringd_engine *pvringd_engine_open(struct pvring_image *img, struct event_base *base,
					   struct pvring_aio *aio, const char *name,
					   const char **why)
{
	if (img->remote_ops)
		return img->remote_ops->queue_open(img, base, name, why);
	return pvringd_file_engine_open(img, aio, why);
}

/*
 * An engine module's image opener, loaded the first time it is needed and kept. Main thread
 * only (images are opened there). NULL with why.
 */
static pvringd_remote_open_fn load_engine(enum pvring_image_kind kind, char *why, size_t why_len)
{
	static pvringd_remote_open_fn loaded[PVRING_IMAGE_NBD + 1];
	const char *name = pvring_image_kind_name(kind);
	const char *dir = getenv("PVRINGD_ENGINE_DIR");
	char path[PATH_MAX];
	void *module;

	if (loaded[kind])
		return loaded[kind];
	snprintf(path, sizeof(path), "%s/pvringd-%s.so", dir ? dir : PVRINGD_ENGINE_DIR, name);
	/* RTLD_LOCAL: its libraries (librbd, libnbd) stay its own. */
	module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!module) {
		snprintf(why, why_len, "no %s engine in this pvringd (%s)", name, dlerror());
		return NULL;
	}
	loaded[kind] = (pvringd_remote_open_fn)dlsym(module, PVRINGD_REMOTE_OPEN_SYMBOL);
	if (!loaded[kind]) {
		snprintf(why, why_len, "pvringd-%s.so is not a pvringd engine", name);
		dlclose(module);
	}
	return loaded[kind];
}

int pvring_image_open_remote(struct pvring_image *img, const char *name, bool read_only,
			     uint32_t timeout_ms, char *why, size_t why_len)
{
	pvringd_remote_open_fn open_fn;
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
	img->timeout_ms = timeout_ms;
	img->path = strdup(name);
	if (!img->path) {
		snprintf(why, why_len, "%s: out of memory", name);
		return -ENOMEM;
	}
	open_fn = load_engine(n.kind, reason, sizeof(reason));
	err = open_fn ? open_fn(img, &n, reason, sizeof(reason)) : -ENOTSUP;
	if (err) {
		snprintf(why, why_len, "%s: %s", name, reason);
		pvring_image_close(img);
	}
	return err;
}
