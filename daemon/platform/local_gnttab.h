/* SPDX-License-Identifier: MIT */
/*
 * The local platform's grant table: how a frontend process on the same Linux
 * machine lets pvringd map pages of its "guest memory", with Xen's semantics.
 *
 * Guest memory is a memfd of nr_frames 4 KiB frames, shared with pvringd by
 * passing the descriptor. Frames [0, table_frames) hold the grant table, in
 * the layout of Xen's grant_entry_v1 (512 entries per frame):
 *
 *   offset  size  field   written by
 *   0       2     flags   guest: GTF_permit_access (type), GTF_readonly;
 *                         back end: GTF_reading / GTF_writing while mapped
 *   2       2     domid   guest: the domain allowed to map the frame
 *   4       4     frame   guest: the guest frame granted
 *
 * A guest grants by writing frame and domid, then flags (release). The back
 * end maps a ref only if its type is permit_access, it names the mapping
 * domain, a writable mapping is not asked of a read-only grant, and the frame
 * is a guest page (not the table itself, not past the memory). It pins the
 * grant by setting GTF_reading (and GTF_writing) with compare-and-swap, as
 * Xen does, so a guest cannot revoke a grant while it is mapped: revoking
 * (pvring_local_end_grant) fails with EBUSY then. A read-only grant is mapped
 * PROT_READ: the MMU enforces it.
 */
#ifndef PVRING_LOCAL_GNTTAB_H
#define PVRING_LOCAL_GNTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVRING_LOCAL_FRAME_SIZE 4096u
#define PVRING_LOCAL_GRANTS_PER_FRAME (PVRING_LOCAL_FRAME_SIZE / 8u)

/* Xen's GTF_* values, in the entry's flags. */
#define PVRING_GTF_PERMIT_ACCESS 0x1u
#define PVRING_GTF_TYPE_MASK 0x3u
#define PVRING_GTF_READONLY 0x4u
#define PVRING_GTF_READING 0x8u
#define PVRING_GTF_WRITING 0x10u

struct pvring_local_grant_entry {
	uint16_t flags;
	uint16_t domid;
	uint32_t frame;
};

/* ---- guest side: the frontend process ---- */

struct pvring_local_guest_mem {
	int fd;
	uint8_t *base;
	uint32_t nr_frames;
	uint32_t table_frames;
};

/* Create guest memory; 0 or -errno. */
int pvring_local_mem_create(struct pvring_local_guest_mem *mem, uint32_t nr_frames,
			    uint32_t table_frames);
void pvring_local_mem_destroy(struct pvring_local_guest_mem *mem);

static inline uint32_t pvring_local_mem_nr_grants(const struct pvring_local_guest_mem *mem)
{
	return mem->table_frames * PVRING_LOCAL_GRANTS_PER_FRAME;
}

/* The guest's own view of a frame. */
static inline void *pvring_local_mem_frame(const struct pvring_local_guest_mem *mem, uint32_t frame)
{
	return mem->base + (size_t)frame * PVRING_LOCAL_FRAME_SIZE;
}

/* Grant frame to domid under ref; 0 or -EINVAL (bad ref/frame), -EBUSY (ref in use). */
int pvring_local_grant(struct pvring_local_guest_mem *mem, uint32_t ref, uint16_t domid,
		       uint32_t frame, bool readonly);

/* Revoke ref; 0, -EBUSY if the back end has it mapped, -EINVAL if not granted. */
int pvring_local_end_grant(struct pvring_local_guest_mem *mem, uint32_t ref);

/* ---- back-end side: pvringd's view of one guest's memory ---- */

struct pvring_local_gnttab {
	uint16_t domid; /* the guest */
	uint16_t self; /* the domain mapping (pvringd: 0) */
	int fd;
	uint8_t *rw_view; /* the whole memory, read-write: the table and writable maps */
	const uint8_t *ro_view; /* the whole memory, read-only: read-only maps */
	uint32_t nr_frames;
	uint32_t table_frames;
	uint32_t *readers; /* per ref: mappings outstanding */
	uint32_t *writers; /* per ref: writable mappings among them */
};

/*
 * Take guest memory (fd) of domid, to be mapped by domain self. Checks the
 * memfd's size and seals. On success it owns fd; 0, or -errno with *why set.
 */
int pvring_local_gnttab_open(struct pvring_local_gnttab *gt, uint16_t domid, uint16_t self, int fd,
			     uint32_t nr_frames, uint32_t table_frames, const char **why);
void pvring_local_gnttab_close(struct pvring_local_gnttab *gt);

/*
 * The domain self was mapping as went away with its mappings (a killed back end): clear the
 * pins it left on grants to it, as Xen does when a process's grant mappings go, so that the
 * guest can revoke them again. For a view that pins nothing itself (the local hypervisor's);
 * how many grants were pinned.
 */
uint32_t pvring_local_gnttab_unpin_all(struct pvring_local_gnttab *gt);

/*
 * Map one granted frame; NULL with *why set if the grant does not allow it.
 * A read-only mapping is read-only in the MMU.
 */
void *pvring_local_gnttab_map(struct pvring_local_gnttab *gt, uint32_t ref, bool writable,
			      const char **why);

/* Undo one pvring_local_gnttab_map() of ref. */
void pvring_local_gnttab_unmap(struct pvring_local_gnttab *gt, uint32_t ref, bool writable);

/*
 * Pin count refs and put page i's address (in the views, as pvring_local_gnttab_map())
 * in pages[i]: no mmap. -1 with *why set if any grant refuses; then nothing stays pinned.
 */
int pvring_local_gnttab_map_pages(struct pvring_local_gnttab *gt, uint32_t count,
				  const uint32_t *refs, bool writable, void **pages,
				  const char **why);
/* Undo pvring_local_gnttab_map_pages(). */
void pvring_local_gnttab_unmap_pages(struct pvring_local_gnttab *gt, uint32_t count,
				     const uint32_t *refs, bool writable);

/*
 * Map count granted frames at consecutive addresses (a multi-page ring), each
 * with its own mmap of the frame. NULL with *why set if any grant refuses;
 * then nothing stays mapped or pinned.
 */
void *pvring_local_gnttab_map_many(struct pvring_local_gnttab *gt, uint32_t count,
				   const uint32_t *refs, bool writable, const char **why);
void pvring_local_gnttab_unmap_many(struct pvring_local_gnttab *gt, void *addr, uint32_t count,
				    const uint32_t *refs, bool writable);

#endif /* PVRING_LOCAL_GNTTAB_H */
