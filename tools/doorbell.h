/* SPDX-License-Identifier: MIT */
/*
 * The pvring doorbell of a patched Xen (hypervisor-patch/), seen from dom0: turn it on for a
 * domain, read its counters. Through libxenctrl's HVM parameter calls, so no toolstack rebuild.
 */
#ifndef PVRING_TOOLS_DOORBELL_H
#define PVRING_TOOLS_DOORBELL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/proto/pvring_doorbell.h"

struct pvring_doorbell_state {
	bool on;
	uint64_t sent; /* doorbell writes that sent an event */
	uint64_t dropped; /* every other access to the doorbell while on */
};

/*
 * Turn the doorbell on for domid (an HVM or PVH domain; before it is unpaused, so the guest sees
 * it when it first reads CPUID). 0, or -errno with *reason set to a sentence: the domain does not
 * exist, is PV, the hypervisor has no doorbell, or the caller may not.
 */
int pvring_doorbell_enable(uint32_t domid, const char **reason);

/* Read whether it is on and its counters; 0 or -errno with *reason, as above. */
int pvring_doorbell_read(uint32_t domid, struct pvring_doorbell_state *state, const char **reason);

#endif /* PVRING_TOOLS_DOORBELL_H */
