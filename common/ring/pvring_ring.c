// SPDX-License-Identifier: MIT
/*
 * pvring shared ring: set-up and diagnostics. The fast path is inline in
 * pvring_ring.h.
 */
#include "pvring_ring.h"

uint32_t pvring_nr_slots(unsigned int order, uint32_t slot_size)
{
	uint32_t room, slots;

	if (order > PVRING_MAX_ORDER || slot_size == 0)
		return 0;
	room = (PVRING_PAGE_SIZE << order) - (uint32_t)offsetof(struct pvring_sring, slots);
	slots = room / slot_size;
	if (slots == 0)
		return 0;
	/* Round down to a power of two: indices are masked, never divided. */
	while (slots & (slots - 1))
		slots &= slots - 1;
	return slots;
}

static bool pvring_shape_init(struct pvring_shape *shape, void *shared, unsigned int order,
			      const struct pvring_layout *layout)
{
	uint32_t nr_slots = pvring_nr_slots(order, layout->slot_size);

	if (nr_slots == 0 || layout->req_size > layout->slot_size ||
	    layout->rsp_size > layout->slot_size)
		return false;
	shape->sring = (struct pvring_sring *)shared;
	shape->nr_slots = nr_slots;
	shape->slot_size = layout->slot_size;
	shape->req_size = layout->req_size;
	shape->rsp_size = layout->rsp_size;
	shape->fault = PVRING_FAULT_NONE;
	shape->fault_prod = 0;
	return true;
}

bool pvring_front_init(struct pvring_front *front, void *shared, unsigned int order,
		       const struct pvring_layout *layout, uint32_t start)
{
	struct pvring_sring *sring = (struct pvring_sring *)shared;

	if (!pvring_shape_init(&front->shape, shared, order, layout))
		return false;
	memset(sring->pvt, 0, sizeof(sring->pvt));
	memset(sring->pad, 0, sizeof(sring->pad));
	sring->req_prod = start;
	sring->rsp_prod = start;
	sring->req_event = start + 1;
	sring->rsp_event = start + 1;
	front->req_prod_pvt = start;
	front->req_pushed = start;
	front->req_published = start;
	front->rsp_cons = start;
	front->rsp_seen = start;
	return true;
}

bool pvring_back_attach(struct pvring_back *back, void *shared, unsigned int order,
			const struct pvring_layout *layout)
{
	uint32_t start;

	if (!pvring_shape_init(&back->shape, shared, order, layout))
		return false;
	start = pvring_load_acquire(&back->shape.sring->rsp_prod);
	back->rsp_prod_pvt = start;
	back->rsp_pushed = start;
	back->req_cons = start;
	back->req_seen = start;
	return true;
}

bool pvring_back_attach_at(struct pvring_back *back, void *shared, unsigned int order,
			   const struct pvring_layout *layout, uint32_t req_cons)
{
	if (!pvring_back_attach(back, shared, order, layout))
		return false;
	back->req_cons = req_cons;
	back->req_seen = req_cons;
	return true;
}

const char *pvring_fault_str(enum pvring_fault fault)
{
	switch (fault) {
	case PVRING_FAULT_NONE:
		return "no fault";
	case PVRING_FAULT_REQ_PROD_AHEAD:
		return "request producer index is more than the ring size ahead of the responses";
	case PVRING_FAULT_REQ_PROD_BEHIND:
		return "request producer index moved back behind requests already consumed";
	case PVRING_FAULT_RSP_PROD_AHEAD:
		return "response producer index is beyond the requests outstanding";
	}
	return "unknown fault";
}
