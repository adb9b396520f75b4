/* SPDX-License-Identifier: MIT */
/*
 * The parts of pvring-io that are plain computation, kept apart so unit tests
 * can check them: size parsing, how the region is split among queues, the
 * verification pattern and the latency histogram.
 */
#ifndef PVRING_IO_PARTS_H
#define PVRING_IO_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "4096", "4k", "1M", "2g" (powers of 1024); 0 or -1 if malformed or overflowing. */
int pvring_io_parse_size(const char *text, uint64_t *out);

/*
 * The region's blocks are dealt out among the queues like cards: queue q owns
 * blocks q, q + nr_queues, q + 2 * nr_queues, ..., so no two queues touch the
 * same block and every block has one owner. nr_queues > 0 throughout.
 */
/* How many of nr_items (blocks, or operations) fall to queue. */
uint64_t pvring_io_split_count(uint64_t nr_items, unsigned int nr_queues, unsigned int queue);
/* How many queues own at least one of nr_blocks: the queues worth running. */
unsigned int pvring_io_split_queues(uint64_t nr_blocks, unsigned int nr_queues);
/*
 * The block of queue's op-th sequential operation: its own blocks in order,
 * wrapping around. UINT64_MAX if the queue owns no block.
 */
uint64_t pvring_io_split_block(uint64_t nr_blocks, unsigned int nr_queues, unsigned int queue,
			       uint64_t op);

/*
 * Fill nr_sectors 512-byte sectors from sector on with the pattern of (sector,
 * seed): every sector differs from every other sector and from the same
 * sector under another seed, and names itself in its first word.
 */
void pvring_io_pattern_fill(void *buf, uint64_t sector, uint32_t nr_sectors, uint64_t seed);
/* The first sector that does not hold its pattern, or -1 if all do. */
int64_t pvring_io_pattern_check(const void *buf, uint64_t sector, uint32_t nr_sectors,
				uint64_t seed);

/*
 * Log-linear latency histogram in nanoseconds: values below 64 have a bucket
 * each, above that every power of two is split into 32 buckets (at most 3 %
 * wide). Fixed size, so recording allocates nothing.
 */
#define PVRING_IO_HIST_SUB_BITS 5u
#define PVRING_IO_HIST_BUCKETS ((65u - PVRING_IO_HIST_SUB_BITS) << PVRING_IO_HIST_SUB_BITS)

struct pvring_io_hist {
	uint64_t count;
	uint64_t max;
	uint64_t buckets[PVRING_IO_HIST_BUCKETS];
};

uint32_t pvring_io_hist_bucket(uint64_t value);
/* The largest value that falls into bucket. */
uint64_t pvring_io_hist_bucket_top(uint32_t bucket);
void pvring_io_hist_record(struct pvring_io_hist *h, uint64_t value);
void pvring_io_hist_merge(struct pvring_io_hist *into, const struct pvring_io_hist *from);
/*
 * The p-th percentile (0 < p <= 100) by nearest rank: the top of the bucket
 * holding the ceil(p/100 * count)-th smallest value, but never above the
 * largest value recorded. 0 if empty.
 */
uint64_t pvring_io_hist_percentile(const struct pvring_io_hist *h, double p);

#endif /* PVRING_IO_PARTS_H */
