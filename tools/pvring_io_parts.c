// SPDX-License-Identifier: MIT
/* pvring-io's computations: see pvring_io_parts.h. */
#include "config.h"

#include "pvring_io_parts.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/number.h"

int pvring_io_parse_size(const char *text, uint64_t *out)
{
	static const char suffixes[] = "kmgt"; /* 2^10, 2^20, 2^30, 2^40 */
	size_t len = text ? strlen(text) : 0;
	unsigned int shift = 0;
	const char *suffix;
	char digits[64];
	uint64_t n;

	if (len && (suffix = strchr(suffixes, tolower((unsigned char)text[len - 1])))) {
		shift = 10 * (unsigned int)(suffix - suffixes + 1);
		len--;
	}
	if (!len || len >= sizeof(digits))
		return -1;
	memcpy(digits, text, len);
	digits[len] = '\0';
	if (pvring_parse_u64(digits, UINT64_MAX >> shift, &n))
		return -1;
	*out = n << shift;
	return 0;
}

uint64_t pvring_io_split_count(uint64_t nr_items, unsigned int nr_queues, unsigned int queue)
{
	return nr_items / nr_queues + (queue < nr_items % nr_queues);
}

unsigned int pvring_io_split_queues(uint64_t nr_blocks, unsigned int nr_queues)
{
	return nr_blocks < nr_queues ? (unsigned int)nr_blocks : nr_queues;
}

uint64_t pvring_io_split_block(uint64_t nr_blocks, unsigned int nr_queues, unsigned int queue,
			       uint64_t op)
{
	uint64_t owned = pvring_io_split_count(nr_blocks, nr_queues, queue);

	if (!owned)
		return UINT64_MAX;
	return queue + (op % owned) * nr_queues;
}

#define SECTOR_WORDS (512u / 8u)

/* splitmix64's finaliser: a cheap bijection that scatters its input. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void sector_pattern(uint64_t *w, uint64_t sector, uint64_t seed)
{
	uint64_t x = mix(sector * 0x9e3779b97f4a7c15ull ^ mix(seed));
	uint32_t i;

	/* A sector read from the wrong place says where it came from. */
	w[0] = sector;
	w[1] = seed;
	for (i = 2; i < SECTOR_WORDS; i++)
		w[i] = x + i * 0xd1b54a32d192ed03ull;
}

void pvring_io_pattern_fill(void *buf, uint64_t sector, uint32_t nr_sectors, uint64_t seed)
{
	uint8_t *p = buf;
	uint32_t s;

	for (s = 0; s < nr_sectors; s++) {
		uint64_t w[SECTOR_WORDS];

		sector_pattern(w, sector + s, seed);
		memcpy(p + (size_t)s * 512, w, sizeof(w));
	}
}

int64_t pvring_io_pattern_check(const void *buf, uint64_t sector, uint32_t nr_sectors,
				uint64_t seed)
{
	const uint8_t *p = buf;
	uint32_t s;

	for (s = 0; s < nr_sectors; s++) {
		uint64_t w[SECTOR_WORDS];

		sector_pattern(w, sector + s, seed);
		if (memcmp(p + (size_t)s * 512, w, sizeof(w)))
			return (int64_t)(sector + s);
	}
	return -1;
}

uint32_t pvring_io_hist_bucket(uint64_t value)
{
	unsigned int shift;

	if (value < (2u << PVRING_IO_HIST_SUB_BITS))
		return (uint32_t)value;
	shift = 63u - (unsigned int)__builtin_clzll(value) - PVRING_IO_HIST_SUB_BITS;
	return (shift << PVRING_IO_HIST_SUB_BITS) + (uint32_t)(value >> shift);
}

uint64_t pvring_io_hist_bucket_top(uint32_t bucket)
{
	unsigned int shift;
	uint64_t m;

	if (bucket < (2u << PVRING_IO_HIST_SUB_BITS))
		return bucket;
	shift = (bucket >> PVRING_IO_HIST_SUB_BITS) - 1;
	m = bucket - (shift << PVRING_IO_HIST_SUB_BITS);
	/* The last bucket's top wraps to 2^64 - 1, which is right. */
	return ((m + 1) << shift) - 1;
}

void pvring_io_hist_record(struct pvring_io_hist *h, uint64_t value)
{
	h->buckets[pvring_io_hist_bucket(value)]++;
	h->count++;
	if (value > h->max)
		h->max = value;
}

void pvring_io_hist_merge(struct pvring_io_hist *into, const struct pvring_io_hist *from)
{
	uint32_t i;

	for (i = 0; i < PVRING_IO_HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t pvring_io_hist_percentile(const struct pvring_io_hist *h, double p)
{
	double exact;
	uint64_t rank, seen = 0;
	uint32_t i;

	if (!h->count)
		return 0;
	/* Round up, but not past a whole rank that 99.9 % only misses by rounding. */
	exact = p * (double)h->count / 100.0;
	rank = (uint64_t)exact;
	if ((double)rank < exact - 1e-9)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < PVRING_IO_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t top = pvring_io_hist_bucket_top(i);

			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}
