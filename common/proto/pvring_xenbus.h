/* SPDX-License-Identifier: MIT */
/*
 * The xenbus handshake vocabulary: device states and the store keys of a
 * block device, as in Xen's io/xenbus.h and io/blkif.h, and the negotiation
 * rules both ends apply to what the other wrote.
 *
 * Back end directory (/local/domain/0/backend/<type>/<domid>/<devid>/):
 *   state                          xenbus state of the back end
 *   max-ring-page-order            largest ring the back end maps (2^order pages)
 *   multi-queue-max-queues         most queues (rings) the back end serves
 *   feature-flush-cache            1: FLUSH_DISKCACHE is served
 *   feature-barrier                1: WRITE_BARRIER is served
 *   feature-discard                1: DISCARD is served (discard-granularity,
 *                                  discard-alignment, discard-secure describe it)
 *   feature-persistent             1: grants may stay mapped across requests
 *   feature-max-indirect-segments  most segments of an INDIRECT request; absent: none
 *   sectors, sector-size, physical-sector-size, info (VDISK_* flags)
 *
 * Front end directory (/local/domain/<domid>/device/<type>/<devid>/):
 *   state, protocol ("x86_64-abi"), feature-persistent,
 *   ring-page-order                the ring's order; absent: one page
 *   ring-ref | ring-refN           grant refs of the ring pages (ring-ref0..2^order-1
 *                                  when ring-page-order is written)
 *   event-channel                  the front end's unbound port for this ring
 *   multi-queue-num-queues         queues in use; then ring-ref* and event-channel
 *                                  move into queue-N/ subdirectories
 */
#ifndef PVRING_XENBUS_H
#define PVRING_XENBUS_H

#include "../pvring_port.h"

enum pvring_xenbus_state {
	PVRING_XENBUS_UNKNOWN = 0,
	PVRING_XENBUS_INITIALISING = 1,
	PVRING_XENBUS_INIT_WAIT = 2,
	PVRING_XENBUS_INITIALISED = 3,
	PVRING_XENBUS_CONNECTED = 4,
	PVRING_XENBUS_CLOSING = 5,
	PVRING_XENBUS_CLOSED = 6,
	PVRING_XENBUS_RECONFIGURING = 7,
	PVRING_XENBUS_RECONFIGURED = 8,
};

/*
 * Device types (the <type> of device/<type>/<devid>): stock xen-blkfront's, and pvring's own
 * front end's (the pvblk module), which pvringd serves with the same data plane.
 */
#define PVRING_XS_TYPE_VBD "vbd"
#define PVRING_XS_TYPE_PVBLK "pvblk"

/* Whether type is one of them: the device types pvringd serves. */
static inline bool pvring_xs_type_known(const char *type)
{
	return !strcmp(type, PVRING_XS_TYPE_VBD) || !strcmp(type, PVRING_XS_TYPE_PVBLK);
}

#define PVRING_XS_STATE "state"
#define PVRING_XS_FRONTEND "frontend"
#define PVRING_XS_FRONTEND_ID "frontend-id"
#define PVRING_XS_BACKEND "backend"
#define PVRING_XS_BACKEND_ID "backend-id"
#define PVRING_XS_PROTOCOL "protocol"
#define PVRING_XS_PROTOCOL_X86_64 "x86_64-abi"
#define PVRING_XS_RING_REF "ring-ref"
#define PVRING_XS_RING_PAGE_ORDER "ring-page-order"
#define PVRING_XS_MAX_RING_PAGE_ORDER "max-ring-page-order"
#define PVRING_XS_EVENT_CHANNEL "event-channel"
#define PVRING_XS_NUM_QUEUES "multi-queue-num-queues"
#define PVRING_XS_MAX_QUEUES "multi-queue-max-queues"
#define PVRING_XS_QUEUE_DIR "queue-"
#define PVRING_XS_FEATURE_PERSISTENT "feature-persistent"
#define PVRING_XS_FEATURE_MAX_INDIRECT "feature-max-indirect-segments"
#define PVRING_XS_FEATURE_FLUSH "feature-flush-cache"
#define PVRING_XS_FEATURE_BARRIER "feature-barrier"
#define PVRING_XS_FEATURE_DISCARD "feature-discard"
#define PVRING_XS_DISCARD_GRANULARITY "discard-granularity"
#define PVRING_XS_DISCARD_ALIGNMENT "discard-alignment"
#define PVRING_XS_DISCARD_SECURE "discard-secure"
#define PVRING_XS_SECTORS "sectors"
#define PVRING_XS_SECTOR_SIZE "sector-size"
#define PVRING_XS_PHYSICAL_SECTOR_SIZE "physical-sector-size"
#define PVRING_XS_INFO "info"
#define PVRING_XS_MODE "mode"
#define PVRING_XS_PARAMS "params"

/* "info" flags */
#define PVRING_VDISK_CDROM 0x1u
#define PVRING_VDISK_REMOVABLE 0x2u
#define PVRING_VDISK_READONLY 0x4u

/* The state's name as Xen's tools print it ("InitWait"), or NULL. */
const char *pvring_xenbus_state_name(uint32_t state);

/*
 * What the front end asked for, against what the back end offered. A value
 * the front end did not write is passed as absent (has_* false). Each returns
 * 0 and the value to use, or -1 if the request exceeds the offer (the back end
 * then fails the connection with a logged reason).
 */
int pvring_negotiate_ring_order(uint32_t offered_max_order, bool has_order, uint32_t order,
				uint32_t *use);
int pvring_negotiate_queues(uint32_t offered_max_queues, bool has_queues, uint32_t queues,
			    uint32_t *use);

#endif /* PVRING_XENBUS_H */
