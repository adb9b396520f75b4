/* SPDX-License-Identifier: MIT */
/* The engines engine.c chooses from: one file each. */
#ifndef PVRINGD_ENGINES_H
#define PVRINGD_ENGINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/engine.h"
#include "daemon/image.h"
#include "daemon/image_name.h"

/* engine_file.c: a queue of a file or block device, on the worker's io_uring. */
struct pvringd_engine *pvringd_file_engine_open(struct pvring_image *img, struct pvring_aio *aio,
						const char **why);

/*
 * engine_rbd.c, engine_nbd.c: modules (pvringd-rbd.so, pvringd-nbd.so) that engine.c loads
 * the first time a disk names their kind of image. Each exports one function under this name:
 * open an engine's image (pvring_image_open_remote's work), with img already holding its
 * name, read_only and timeout_ms; 0 or -errno with why, which the caller prefixes with the name.
 */
#define PVRINGD_REMOTE_OPEN_SYMBOL "pvringd_remote_image_open"
typedef int (*pvringd_remote_open_fn)(struct pvring_image *img, const struct pvring_image_name *n,
				      char *why, size_t why_len);
int pvringd_remote_image_open(struct pvring_image *img, const struct pvring_image_name *n,
			      char *why, size_t why_len);

#endif /* PVRINGD_ENGINES_H */
