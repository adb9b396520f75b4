/* SPDX-License-Identifier: MIT */
/* The local platform: see platform_local.c and local_registry.h. */
#ifndef PVRING_PLATFORM_LOCAL_H
#define PVRING_PLATFORM_LOCAL_H

#include "platform.h"

struct event_base;

/*
 * Serve guests on the registry socket at registry_path (created 0600) within
 * base's event loop; the store is pvring-stored at store_rundir/socket, which
 * must be running. NULL with *why set on failure.
 */
struct pvring_platform *pvring_platform_local_open(struct event_base *base,
						   const char *registry_path,
						   const char *store_rundir, const char **why);

#endif /* PVRING_PLATFORM_LOCAL_H */
