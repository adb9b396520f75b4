/* SPDX-License-Identifier: MIT */
/*
 * A guest of the local hypervisor as the tests make one: what a frontend does first. Registers,
 * offers event-channel port 5, writes "hello from the guest" in frame 3 and grants it to
 * domain 0 read-write under ref 8, and frame 4 read-only under ref 9. Header-only.
 */
#ifndef PVRING_TEST_LOCAL_GUEST_H
#define PVRING_TEST_LOCAL_GUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "daemon/platform/local_registry.h"

struct local_guest {
	pthread_t thread; /* when it runs beside the hypervisor's loop */
	const char *registry;
	uint32_t frames, table_frames;
	struct pvring_local_guest guest;
	struct pvring_local_guest_port port;
	int result; /* 0, or the first step's -errno */
	const char *why;
	atomic_bool done;
};

/* The guest's first steps; a thread's body too. */
static inline void *local_guest_start(void *arg)
{
	struct local_guest *g = arg;

	g->result = pvring_local_guest_register(&g->guest, g->registry, g->frames, g->table_frames,
						&g->why);
	if (!g->result)
		g->result = pvring_local_guest_port_alloc(&g->port, 5);
	if (!g->result)
		g->result = pvring_local_guest_offer_port(&g->guest, &g->port);
	if (!g->result) {
		strcpy(pvring_local_mem_frame(&g->guest.mem, 3), "hello from the guest");
		g->result = pvring_local_grant(&g->guest.mem, 8, 0, 3, false) ||
			    pvring_local_grant(&g->guest.mem, 9, 0, 4, true);
	}
	atomic_store(&g->done, true);
	return NULL;
}

#endif /* PVRING_TEST_LOCAL_GUEST_H */
