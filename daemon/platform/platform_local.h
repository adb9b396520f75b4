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

/*
 * What a registering guest is held to. Past max_guests live guests (or connections still
 * saying hello) a new one is refused with the reason; a connection that has not said hello
 * within hello_ms is refused. Out of file descriptors, a guest is told so too, and accepting
 * never spins.
 */
struct pvring_platform_local_limits {
	unsigned int max_guests; /* default 1024 */
	unsigned int hello_ms; /* default 5000 */
};

/* Other limits than the defaults (tests); for connections accepted from now on. */
void pvring_platform_local_set_limits(struct pvring_platform *p,
				      const struct pvring_platform_local_limits *limits);

#endif /* PVRING_PLATFORM_LOCAL_H */
