// SPDX-License-Identifier: MIT
/* A ring's in-flight journal (see inflight.h). */
#include "config.h"

#include "daemon/inflight.h"
#include "daemon/inflight_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct pvringd_inflight {
	struct journal_header *hdr;
	struct journal_entry *entries;
	size_t size;
	char *path;
	uint32_t nr_entries;
	uint32_t *free; /* a stack of free entries */
	uint32_t nr_free;
	uint32_t *answered; /* entries answered since the last push */
	uint32_t nr_answered;
};

/*
 * What an honest front end leaves owed is at most the ring's slots. A front end that publishes
 * into slots whose responses are produced but not yet pushed (the back end's accounting frees
 * them at once) can make it more: twice the slots is room for that, and past it the journal
 * says full and that front end's queue fails (pvringd_inflight_consumed).
 */
static uint32_t entries_for(uint32_t nr_slots)
{
	return 2u * nr_slots;
}

static size_t journal_size(uint32_t nr_entries)
{
	return sizeof(struct journal_header) + (size_t)nr_entries * sizeof(struct journal_entry);
}

/*
 * Stores to the journal before this are in memory before stores to the ring after it, as far
 * as a process killed between them can tell: a kill stops the thread at an instruction boundary
 * (every store before it reaches memory, none after), so only the compiler could reorder them.
 */
static inline void journal_before_ring(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

static bool same_ring(const struct pvringd_inflight_ring *a, const struct pvringd_inflight_ring *b)
{
	uint32_t i;

	if (a->domid != b->domid || a->queue != b->queue || a->order != b->order ||
	    a->nr_slots != b->nr_slots || a->remote_port != b->remote_port)
		return false;
	for (i = 0; i < (1u << a->order); i++)
		if (a->refs[i] != b->refs[i])
			return false;
	return true;
}

/* Consumption order (for a request owed 2^31 requests long, only roughly). */
static int cmp_owed(const void *a, const void *b)
{
	const struct pvringd_inflight_owed *x = a, *y = b;
	int32_t d = (int32_t)(x->index - y->index);

	return d < 0 ? -1 : d > 0;
}

/*
 * Read what a stopped pvringd left at path for ring. 0 with *found filled (found false if
 * there was none for this ring), or -1 with why: it contradicts itself or the ring.
 */
static int read_left(const char *path, const struct pvringd_inflight_ring *ring, uint32_t rsp_prod,
		     struct pvringd_inflight_resume *found, char *why, size_t why_len)
{
	uint32_t nr_entries = entries_for(ring->nr_slots), i, owed, req_cons;
	const struct journal_header *hdr;
	const struct journal_entry *e;
	size_t size = journal_size(nr_entries);
	struct stat st;
	void *map;
	int fd, ret = -1;

	found->found = false;
	found->req_cons = rsp_prod;
	found->nr_owed = 0;
	found->owed = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, why_len, "cannot read the in-flight journal %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || (size_t)st.st_size != size) {
		close(fd);
		return 0; /* another ring's shape */
	}
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(why, why_len, "cannot map the in-flight journal %s: %s", path,
			 strerror(errno));
		return -1;
	}
	hdr = map;
	e = (const struct journal_entry *)(hdr + 1);
	if (memcmp(hdr->magic, INFLIGHT_MAGIC, sizeof(hdr->magic)) ||
	    hdr->entry_size != sizeof(*e) || hdr->nr_entries != nr_entries ||
	    !same_ring(&hdr->ring, ring)) {
		ret = 0; /* not this ring's: the front end connected new rings since */
		goto out;
	}
	req_cons = atomic_load_explicit(&hdr->req_cons, memory_order_relaxed);
	owed = req_cons - rsp_prod;
	/* Each owed request takes one of the ring's request contexts when issued again. */
	if (owed > ring->nr_slots) {
		snprintf(why, why_len,
			 "in-flight journal: %u requests consumed past the %u responses pushed, "
			 "more than the ring's %u slots",
			 req_cons, rsp_prod, ring->nr_slots);
		goto out;
	}
	found->owed = calloc(owed ? owed : 1, sizeof(*found->owed));
	if (!found->owed) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	for (i = 0; i < nr_entries; i++, e++) {
		uint32_t state = atomic_load_explicit(&e->state, memory_order_relaxed);

		if (state == ENTRY_FREE)
			continue;
		/* Recorded, but killed before req_cons moved past it: it is still in its slot. */
		if (state == ENTRY_CONSUMED && (int32_t)(e->index - req_cons) >= 0)
			continue;
		/* Answered and pushed: the front end has its response. */
		if (state == ENTRY_ANSWERED && (int32_t)(rsp_prod - e->rsp_index) > 0)
			continue;
		/* Not its index: a slow request stays owed while thousands pass it. */
		if ((state != ENTRY_CONSUMED && state != ENTRY_ANSWERED) ||
		    found->nr_owed == owed) {
			snprintf(why, why_len,
				 "in-flight journal: entry %u does not fit requests consumed up to "
				 "%u, responses pushed up to %u",
				 i, req_cons, rsp_prod);
			goto out;
		}
		found->owed[found->nr_owed].index = e->index;
		found->owed[found->nr_owed].req = e->req;
		found->nr_owed++;
	}
	if (found->nr_owed != owed) {
		snprintf(why, why_len,
			 "in-flight journal: %u requests owed, but %u consumed past the %u pushed",
			 found->nr_owed, req_cons, rsp_prod);
		goto out;
	}
	qsort(found->owed, found->nr_owed, sizeof(*found->owed), cmp_owed);
	found->found = true;
	found->req_cons = req_cons;
	ret = 0;
out:
	if (ret) {
		free(found->owed);
		found->owed = NULL;
		found->nr_owed = 0;
	}
	munmap(map, size);
	return ret;
}

static void journal_free(struct pvringd_inflight *j)
{
	if (j->hdr)
		munmap(j->hdr, j->size);
	free(j->free);
	free(j->answered);
	free(j->path);
	free(j);
}

/* A fresh journal at path (written aside, then renamed over it), holding found's owed. */
static struct pvringd_inflight *journal_make(const char *path,
					     const struct pvringd_inflight_ring *ring,
					     const struct pvringd_inflight_resume *found, char *why,
					     size_t why_len)
{
	struct pvringd_inflight *j = calloc(1, sizeof(*j));
	char *tmp = NULL;
	uint32_t i;
	void *map;
	int fd = -1;

	if (!j || asprintf(&tmp, "%s.new", path) < 0) {
		tmp = NULL;
		goto oom;
	}
	j->nr_entries = entries_for(ring->nr_slots);
	j->size = journal_size(j->nr_entries);
	j->path = strdup(path);
	j->free = calloc(j->nr_entries, sizeof(*j->free));
	j->answered = calloc(j->nr_entries, sizeof(*j->answered));
	if (!j->path || !j->free || !j->answered)
		goto oom;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	/*
	 * Storage taken now and the pages mapped in now, so that recording a request never
	 * waits for a block allocation or a page fault (the run directory is tmpfs under
	 * systemd, but need not be). posix_fallocate does what the file system can.
	 */
	if (fd < 0 || ftruncate(fd, (off_t)j->size))
		goto fail;
	errno = posix_fallocate(fd, 0, (off_t)j->size);
	if (errno && errno != EOPNOTSUPP && errno != EINVAL)
		goto fail;
	map = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	j->hdr = map;
	j->entries = (struct journal_entry *)(j->hdr + 1);
	memcpy(j->hdr->magic, INFLIGHT_MAGIC, sizeof(j->hdr->magic));
	j->hdr->entry_size = sizeof(struct journal_entry);
	j->hdr->nr_entries = j->nr_entries;
	j->hdr->ring = *ring;
	atomic_store_explicit(&j->hdr->req_cons, found->req_cons, memory_order_relaxed);
	for (i = 0; i < found->nr_owed; i++) {
		j->entries[i].index = found->owed[i].index;
		j->entries[i].req = found->owed[i].req;
		atomic_store_explicit(&j->entries[i].state, ENTRY_CONSUMED, memory_order_relaxed);
	}
	/* Lowest entries on top: a quiet ring keeps using the same few cache lines. */
	for (i = j->nr_entries; i > found->nr_owed; i--)
		j->free[j->nr_free++] = i - 1;
	/* Complete before it takes the old one's place. */
	if (rename(tmp, path))
		goto fail;
	close(fd);
	free(tmp);
	return j;
oom:
	snprintf(why, why_len, "out of memory");
	goto out;
fail:
	snprintf(why, why_len, "cannot write the in-flight journal %s: %s", tmp, strerror(errno));
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	if (j)
		journal_free(j);
	return NULL;
}

struct pvringd_inflight *pvringd_inflight_open(const char *path,
					       const struct pvringd_inflight_ring *ring,
					       bool resume, uint32_t rsp_prod,
					       struct pvringd_inflight_resume *found, char *why,
					       size_t why_len)
{
	struct pvringd_inflight *j;

	found->found = false;
	found->req_cons = rsp_prod;
	found->nr_owed = 0;
	found->owed = NULL;
	if (resume && read_left(path, ring, rsp_prod, found, why, why_len))
		return NULL;
	j = journal_make(path, ring, found, why, why_len);
	if (!j) {
		free(found->owed);
		found->owed = NULL;
		found->nr_owed = 0;
	}
	return j;
}

int pvringd_inflight_consumed(struct pvringd_inflight *j, uint32_t index,
			      const union pvring_blkif_request *req)
{
	struct journal_entry *e;
	uint32_t entry;

	if (!j->nr_free)
		return -ENOSPC;
	entry = j->free[--j->nr_free];
	e = &j->entries[entry];
	e->index = index;
	e->req = *req;
	/* The copy before the state that makes it count... */
	journal_before_ring();
	atomic_store_explicit(&e->state, ENTRY_CONSUMED, memory_order_relaxed);
	/*
	 * ...then req_cons. Killed between the two, the entry is at req_cons: not yet consumed
	 * as far as the next pvringd knows, which reads the request again from its slot (no
	 * response can have reused that slot: see below).
	 */
	journal_before_ring();
	atomic_store_explicit(&j->hdr->req_cons, index + 1u, memory_order_relaxed);
	/* The copy and req_cons before any response that may reuse the request's slot. */
	journal_before_ring();
	return (int)entry;
}

void pvringd_inflight_answered(struct pvringd_inflight *j, uint32_t entry, uint32_t rsp_index)
{
	struct journal_entry *e = &j->entries[entry];

	e->rsp_index = rsp_index;
	journal_before_ring(); /* rsp_index before the state that makes it count */
	atomic_store_explicit(&e->state, ENTRY_ANSWERED, memory_order_relaxed);
	/* Marked answered before the response overwrites slot rsp_index. */
	journal_before_ring();
	j->answered[j->nr_answered++] = entry;
}

void pvringd_inflight_pushed(struct pvringd_inflight *j)
{
	/* The push (rsp_prod stored) came first in program order: freed only after it. */
	journal_before_ring();
	while (j->nr_answered) {
		uint32_t entry = j->answered[--j->nr_answered];

		atomic_store_explicit(&j->entries[entry].state, ENTRY_FREE, memory_order_relaxed);
		j->free[j->nr_free++] = entry;
	}
}

uint32_t pvringd_inflight_owed(const struct pvringd_inflight *j)
{
	return j->nr_entries - j->nr_free;
}

void pvringd_inflight_close(struct pvringd_inflight *j, bool remove_file)
{
	if (!j)
		return;
	if (remove_file)
		unlink(j->path);
	journal_free(j);
}
