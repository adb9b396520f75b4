// SPDX-License-Identifier: MIT
/* xenbus states and negotiation rules. */
#include "pvring_xenbus.h"

const char *pvring_xenbus_state_name(uint32_t state)
{
	static const char *const names[] = {
		[PVRING_XENBUS_UNKNOWN] = "Unknown",
		[PVRING_XENBUS_INITIALISING] = "Initialising",
		[PVRING_XENBUS_INIT_WAIT] = "InitWait",
		[PVRING_XENBUS_INITIALISED] = "Initialised",
		[PVRING_XENBUS_CONNECTED] = "Connected",
		[PVRING_XENBUS_CLOSING] = "Closing",
		[PVRING_XENBUS_CLOSED] = "Closed",
		[PVRING_XENBUS_RECONFIGURING] = "Reconfiguring",
		[PVRING_XENBUS_RECONFIGURED] = "Reconfigured",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : NULL;
}

/* Absent means the protocol's default (one page, one queue); more than offered is refused. */
static int pvring_negotiate(uint32_t offered_max, bool present, uint32_t asked, uint32_t absent,
			    uint32_t *use)
{
	if (!present) {
		*use = absent;
		return 0;
	}
	if (asked > offered_max)
		return -1;
	*use = asked;
	return 0;
}

int pvring_negotiate_ring_order(uint32_t offered_max_order, bool has_order, uint32_t order,
				uint32_t *use)
{
	return pvring_negotiate(offered_max_order, has_order, order, 0, use);
}

int pvring_negotiate_queues(uint32_t offered_max_queues, bool has_queues, uint32_t queues,
			    uint32_t *use)
{
	/* Zero queues is no configuration at all. */
	if (has_queues && queues == 0)
		return -1;
	return pvring_negotiate(offered_max_queues, has_queues, queues, 1, use);
}
