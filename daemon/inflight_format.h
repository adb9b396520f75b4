/* SPDX-License-Identifier: MIT */
/*
 * What an in-flight journal file holds (daemon/inflight.h): a header, then nr_entries entries,
 * in host byte order. Only pvringd (and its tests, which play a kill at any store) read it.
 */
#ifndef PVRINGD_INFLIGHT_FORMAT_H
#define PVRINGD_INFLIGHT_FORMAT_H

#include <stdatomic.h>
#include <stdint.h>

#include "daemon/inflight.h"

#define INFLIGHT_MAGIC "pvrinfl1"

enum entry_state {
	ENTRY_FREE = 0,
	ENTRY_CONSUMED, /* owed */
	ENTRY_ANSWERED, /* its response is written at rsp_index; owed until that is pushed */
};

struct journal_header {
	char magic[8];
	uint32_t entry_size;
	uint32_t nr_entries;
	struct pvringd_inflight_ring ring;
	_Atomic uint32_t req_cons;
} __attribute__((aligned(64)));

struct journal_entry {
	_Atomic uint32_t state;
	uint32_t index;
	uint32_t rsp_index;
	uint32_t reserved;
	union pvring_blkif_request req;
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct journal_entry) == 128, "two cache lines an entry");

#endif /* PVRINGD_INFLIGHT_FORMAT_H */
