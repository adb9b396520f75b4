// SPDX-License-Identifier: MIT
/* The local platform's grant table: see local_gnttab.h. */
#include "config.h"

#include "local_gnttab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A guest whose memfd could shrink could make pvringd fault on a mapped page. */
#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static struct pvring_local_grant_entry *entry_of(uint8_t *table, uint32_t ref)
{
	return (struct pvring_local_grant_entry *)(void *)table + ref;
}

/* flags and domid as the one 32-bit word Xen compares and swaps. */
static uint32_t *status_word(struct pvring_local_grant_entry *entry)
{
	return (uint32_t *)(void *)entry;
}

static uint32_t status_of(uint16_t flags, uint16_t domid)
{
	return (uint32_t)flags | (uint32_t)domid << 16;
}

/* ---- guest side ---- */

int pvring_local_mem_create(struct pvring_local_guest_mem *mem, uint32_t nr_frames,
			    uint32_t table_frames)
{
	size_t bytes = (size_t)nr_frames * PVRING_LOCAL_FRAME_SIZE;
	uint8_t *base;
	int fd, err;

	/* Until it succeeds, mem holds nothing that pvring_local_mem_destroy() would touch. */
	mem->fd = -1;
	mem->base = NULL;
	if (table_frames == 0 || table_frames >= nr_frames)
		return -EINVAL;
	fd = memfd_create("pvring-guest-memory", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) || fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS)) {
		err = -errno;
		close(fd);
		return err;
	}
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	mem->fd = fd;
	mem->base = base;
	mem->nr_frames = nr_frames;
	mem->table_frames = table_frames;
	return 0;
}

void pvring_local_mem_destroy(struct pvring_local_guest_mem *mem)
{
	if (mem->base)
		munmap(mem->base, (size_t)mem->nr_frames * PVRING_LOCAL_FRAME_SIZE);
	if (mem->fd >= 0)
		close(mem->fd);
	mem->fd = -1;
	mem->base = NULL;
}

int pvring_local_grant(struct pvring_local_guest_mem *mem, uint32_t ref, uint16_t domid,
		       uint32_t frame, bool readonly)
{
	struct pvring_local_grant_entry *entry;

	if (ref >= pvring_local_mem_nr_grants(mem) || frame < mem->table_frames ||
	    frame >= mem->nr_frames)
		return -EINVAL;
	entry = entry_of(mem->base, ref);
	if (__atomic_load_n(&entry->flags, __ATOMIC_ACQUIRE) != 0)
		return -EBUSY;
	entry->frame = frame;
	entry->domid = domid;
	/* frame and domid are seen before the flags that make the grant valid. */
	__atomic_store_n(
		&entry->flags,
		(uint16_t)(PVRING_GTF_PERMIT_ACCESS | (readonly ? PVRING_GTF_READONLY : 0)),
		__ATOMIC_RELEASE);
	return 0;
}

int pvring_local_end_grant(struct pvring_local_guest_mem *mem, uint32_t ref)
{
	struct pvring_local_grant_entry *entry;
	uint16_t flags;

	if (ref >= pvring_local_mem_nr_grants(mem))
		return -EINVAL;
	entry = entry_of(mem->base, ref);
	flags = __atomic_load_n(&entry->flags, __ATOMIC_ACQUIRE);
	do {
		if ((flags & PVRING_GTF_TYPE_MASK) != PVRING_GTF_PERMIT_ACCESS)
			return -EINVAL;
		/* Mapped: the back end may be using the page right now. */
		if (flags & (PVRING_GTF_READING | PVRING_GTF_WRITING))
			return -EBUSY;
	} while (!__atomic_compare_exchange_n(&entry->flags, &flags, 0, false, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	return 0;
}

/* ---- back-end side ---- */

int pvring_local_gnttab_open(struct pvring_local_gnttab *gt, uint16_t domid, uint16_t self, int fd,
			     uint32_t nr_frames, uint32_t table_frames, const char **why)
{
	size_t bytes = (size_t)nr_frames * PVRING_LOCAL_FRAME_SIZE;
	uint32_t nr_grants = table_frames * PVRING_LOCAL_GRANTS_PER_FRAME;
	struct stat st;
	int seals, err;

	memset(gt, 0, sizeof(*gt));
	gt->fd = -1;
	if (table_frames == 0 || table_frames >= nr_frames) {
		*why = "grant table frames must be at least one and fewer than the memory's";
		return -EINVAL;
	}
	if (fstat(fd, &st) || (uint64_t)st.st_size != bytes) {
		*why = "guest memory is not the size announced";
		return -EINVAL;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & REQUIRED_SEALS) != REQUIRED_SEALS) {
		*why = "guest memory is not a memfd sealed against shrinking and growing";
		return -EINVAL;
	}
	gt->rw_view = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	gt->ro_view = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
	gt->readers = calloc(nr_grants, sizeof(*gt->readers));
	gt->writers = calloc(nr_grants, sizeof(*gt->writers));
	if (gt->rw_view == MAP_FAILED || gt->ro_view == MAP_FAILED || !gt->readers ||
	    !gt->writers) {
		err = errno ? -errno : -ENOMEM;
		gt->nr_frames = nr_frames;
		pvring_local_gnttab_close(gt);
		*why = "cannot map guest memory";
		return err;
	}
	gt->domid = domid;
	gt->self = self;
	gt->fd = fd;
	gt->nr_frames = nr_frames;
	gt->table_frames = table_frames;
	return 0;
}

void pvring_local_gnttab_close(struct pvring_local_gnttab *gt)
{
	size_t bytes = (size_t)gt->nr_frames * PVRING_LOCAL_FRAME_SIZE;

	if (gt->rw_view && gt->rw_view != MAP_FAILED)
		munmap(gt->rw_view, bytes);
	if (gt->ro_view && gt->ro_view != MAP_FAILED)
		munmap((void *)gt->ro_view, bytes);
	free(gt->readers);
	free(gt->writers);
	if (gt->fd >= 0)
		close(gt->fd);
	memset(gt, 0, sizeof(*gt));
	gt->fd = -1;
}

static void unpin(struct pvring_local_gnttab *gt, uint32_t ref, bool writable)
{
	struct pvring_local_grant_entry *entry = entry_of(gt->rw_view, ref);
	uint16_t clear = 0;

	if (writable && --gt->writers[ref] == 0)
		clear |= PVRING_GTF_WRITING;
	if (--gt->readers[ref] == 0)
		clear |= PVRING_GTF_READING | PVRING_GTF_WRITING;
	if (clear)
		__atomic_fetch_and(&entry->flags, (uint16_t)~clear, __ATOMIC_RELEASE);
}

/* Check ref and pin it; the granted frame, or -1 with *why set. */
static int64_t pin(struct pvring_local_gnttab *gt, uint32_t ref, bool writable, const char **why)
{
	struct pvring_local_grant_entry *entry;
	uint32_t status, pinned, frame;
	uint16_t flags;

	if (ref >= gt->table_frames * PVRING_LOCAL_GRANTS_PER_FRAME) {
		*why = "grant reference out of range";
		return -1;
	}
	entry = entry_of(gt->rw_view, ref);
	status = __atomic_load_n(status_word(entry), __ATOMIC_ACQUIRE);
	do {
		flags = (uint16_t)status;
		if ((flags & PVRING_GTF_TYPE_MASK) != PVRING_GTF_PERMIT_ACCESS) {
			*why = "grant reference not granted";
			return -1;
		}
		if ((uint16_t)(status >> 16) != gt->self) {
			*why = "grant reference granted to another domain";
			return -1;
		}
		if (writable && (flags & PVRING_GTF_READONLY)) {
			*why = "read-only grant cannot be mapped writable";
			return -1;
		}
		flags |= PVRING_GTF_READING | (writable ? PVRING_GTF_WRITING : 0);
		pinned = status_of(flags, gt->self);
		/* flags and domid unchanged since we checked them, or look again. */
	} while (!__atomic_compare_exchange_n(status_word(entry), &status, pinned, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	gt->readers[ref]++;
	if (writable)
		gt->writers[ref]++;
	/* Pinned: the guest may no longer change the entry. Read the frame once. */
	frame = __atomic_load_n(&entry->frame, __ATOMIC_ACQUIRE);
	if (frame < gt->table_frames || frame >= gt->nr_frames) {
		unpin(gt, ref, writable);
		*why = "granted frame is not a guest page";
		return -1;
	}
	return frame;
}

uint32_t pvring_local_gnttab_unpin_all(struct pvring_local_gnttab *gt)
{
	uint32_t ref, nr_grants = gt->table_frames * PVRING_LOCAL_GRANTS_PER_FRAME, cleared = 0;

	for (ref = 0; ref < nr_grants; ref++) {
		uint32_t *word = status_word(entry_of(gt->rw_view, ref));
		uint32_t status = __atomic_load_n(word, __ATOMIC_ACQUIRE), unpinned;

		do {
			if ((uint16_t)(status >> 16) != gt->self ||
			    !(status & (PVRING_GTF_READING | PVRING_GTF_WRITING)))
				break;
			unpinned = status & ~(uint32_t)(PVRING_GTF_READING | PVRING_GTF_WRITING);
			/* Only the pin bits: what the guest wrote meanwhile is kept, or seen again.
			 */
		} while (!__atomic_compare_exchange_n(word, &status, unpinned, false,
						      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
		if ((uint16_t)(status >> 16) == gt->self &&
		    (status & (PVRING_GTF_READING | PVRING_GTF_WRITING)))
			cleared++;
	}
	return cleared;
}

void *pvring_local_gnttab_map(struct pvring_local_gnttab *gt, uint32_t ref, bool writable,
			      const char **why)
{
	int64_t frame = pin(gt, ref, writable, why);
	size_t offset = (size_t)frame * PVRING_LOCAL_FRAME_SIZE;

	if (frame < 0)
		return NULL;
	return writable ? gt->rw_view + offset : (void *)(uintptr_t)(gt->ro_view + offset);
}

void pvring_local_gnttab_unmap(struct pvring_local_gnttab *gt, uint32_t ref, bool writable)
{
	unpin(gt, ref, writable);
}

int pvring_local_gnttab_map_pages(struct pvring_local_gnttab *gt, uint32_t count,
				  const uint32_t *refs, bool writable, void **pages,
				  const char **why)
{
	uint32_t i;

	if (count == 0) {
		*why = "no grant references";
		return -1;
	}
	for (i = 0; i < count; i++) {
		pages[i] = pvring_local_gnttab_map(gt, refs[i], writable, why);
		if (!pages[i])
			goto undo;
	}
	return 0;
undo:
	while (i--)
		unpin(gt, refs[i], writable);
	return -1;
}

void pvring_local_gnttab_unmap_pages(struct pvring_local_gnttab *gt, uint32_t count,
				     const uint32_t *refs, bool writable)
{
	uint32_t i;

	for (i = 0; i < count; i++)
		unpin(gt, refs[i], writable);
}

void *pvring_local_gnttab_map_many(struct pvring_local_gnttab *gt, uint32_t count,
				   const uint32_t *refs, bool writable, const char **why)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint8_t *area;
	uint32_t i;

	if (count == 0) {
		*why = "no grant references";
		return NULL;
	}
	/* Reserve the addresses, then put each granted frame in its place. */
	area = mmap(NULL, (size_t)count * PVRING_LOCAL_FRAME_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		*why = "no address space for the mapping";
		return NULL;
	}
	for (i = 0; i < count; i++) {
		int64_t frame = pin(gt, refs[i], writable, why);
		void *page;

		if (frame < 0)
			goto undo;
		page = mmap(area + (size_t)i * PVRING_LOCAL_FRAME_SIZE, PVRING_LOCAL_FRAME_SIZE,
			    prot, MAP_SHARED | MAP_FIXED, gt->fd,
			    (off_t)frame * PVRING_LOCAL_FRAME_SIZE);
		if (page == MAP_FAILED) {
			unpin(gt, refs[i], writable);
			*why = "cannot map a granted frame";
			goto undo;
		}
	}
	return area;
undo:
	while (i--)
		unpin(gt, refs[i], writable);
	munmap(area, (size_t)count * PVRING_LOCAL_FRAME_SIZE);
	return NULL;
}

void pvring_local_gnttab_unmap_many(struct pvring_local_gnttab *gt, void *addr, uint32_t count,
				    const uint32_t *refs, bool writable)
{
	uint32_t i;

	munmap(addr, (size_t)count * PVRING_LOCAL_FRAME_SIZE);
	for (i = 0; i < count; i++)
		unpin(gt, refs[i], writable);
}
