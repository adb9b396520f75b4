/* SPDX-License-Identifier: MIT */
/* The local platform: see platform_local.c, local_hypercall.h and local_hypervisor.h. */
#ifndef PVRING_PLATFORM_LOCAL_H
#define PVRING_PLATFORM_LOCAL_H

#include "platform.h"

/*
 * The back end of the guests pvring-stored runs (its store at store_rundir/socket, its
 * hypervisor at store_rundir/hypervisor), which must be running. NULL with *why set on
 * failure, and errno: EBUSY when another back end (pvringd) is serving them.
 */
struct pvring_platform *pvring_platform_local_open(const char *store_rundir, const char **why);

#endif /* PVRING_PLATFORM_LOCAL_H */
