// SPDX-License-Identifier: MIT
/*
 * pvring-io's computations: size parsing, the split of the region
 * among queues, the verification pattern, the latency histogram's buckets
 * and percentiles (exact values for known inputs); and the frontend
 * library's refusal to start without pvringd.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tools/front/local_front.h"
#include "tools/pvring_io_parts.h"

static void test_parse_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(pvring_io_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(pvring_io_parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(pvring_io_parse_size("4K", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(pvring_io_parse_size("1m", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(pvring_io_parse_size("3G", &v), 0);
	assert_int_equal(v, 3ull << 30);
	assert_int_equal(pvring_io_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pvring_io_parse_size("", &v), -1);
	assert_int_equal(pvring_io_parse_size("k", &v), -1);
	assert_int_equal(pvring_io_parse_size("-4k", &v), -1);
	assert_int_equal(pvring_io_parse_size("4kb", &v), -1);
	assert_int_equal(pvring_io_parse_size("4x", &v), -1);
	assert_int_equal(pvring_io_parse_size("4 k", &v), -1);
	assert_int_equal(pvring_io_parse_size("99999999999999999999", &v), -1);
	/* 2^34 g overflows 64 bits. */
	assert_int_equal(pvring_io_parse_size("17179869184g", &v), -1);
	assert_int_equal(pvring_io_parse_size("17179869183g", &v), 0);
}

static void test_split_region_smaller_than_queues(void **state)
{
	uint64_t op;

	(void)state;
	/* One block, two queues: only queue 0 runs, and it does block 0 every time. */
	assert_int_equal(pvring_io_split_queues(1, 2), 1);
	assert_int_equal(pvring_io_split_count(1, 2, 0), 1);
	assert_int_equal(pvring_io_split_count(1, 2, 1), 0);
	for (op = 0; op < 4; op++)
		assert_int_equal(pvring_io_split_block(1, 2, 0, op), 0);
	/* A queue without a block gets none, not a division by zero. */
	assert_true(pvring_io_split_block(1, 2, 1, 0) == UINT64_MAX);
	assert_true(pvring_io_split_block(0, 1, 0, 3) == UINT64_MAX);
	assert_int_equal(pvring_io_split_queues(0, 4), 0);
	assert_int_equal(pvring_io_split_queues(3, 16), 3);
	assert_int_equal(pvring_io_split_queues(16, 16), 16);
	assert_int_equal(pvring_io_split_queues(UINT64_MAX, 16), 16);
	/* Three blocks on three of 16 queues: one each. */
	assert_int_equal(pvring_io_split_block(3, 3, 2, 0), 2);
	assert_int_equal(pvring_io_split_block(3, 3, 2, 5), 2);
}

static void test_split_uneven(void **state)
{
	(void)state;
	/* 10 blocks on 4 queues: 3, 3, 2, 2, dealt out in turn. */
	assert_int_equal(pvring_io_split_count(10, 4, 0), 3);
	assert_int_equal(pvring_io_split_count(10, 4, 1), 3);
	assert_int_equal(pvring_io_split_count(10, 4, 2), 2);
	assert_int_equal(pvring_io_split_count(10, 4, 3), 2);
	assert_int_equal(pvring_io_split_block(10, 4, 1, 0), 1);
	assert_int_equal(pvring_io_split_block(10, 4, 1, 1), 5);
	assert_int_equal(pvring_io_split_block(10, 4, 1, 2), 9);
	/* ...and wrapping around to the queue's first block. */
	assert_int_equal(pvring_io_split_block(10, 4, 1, 3), 1);
	assert_int_equal(pvring_io_split_block(10, 4, 3, 0), 3);
	assert_int_equal(pvring_io_split_block(10, 4, 3, 1), 7);
	assert_int_equal(pvring_io_split_block(10, 4, 3, 2), 3);
	assert_int_equal(pvring_io_split_block(10, 4, 3, 1001), 7);
	/* One queue does the region in order. */
	assert_int_equal(pvring_io_split_count(10, 1, 0), 10);
	assert_int_equal(pvring_io_split_block(10, 1, 0, 7), 7);
	assert_int_equal(pvring_io_split_block(10, 1, 0, 17), 7);
	/* 64 GiB of 512-byte blocks on 3 queues, op far past one pass: no overflow. */
	assert_int_equal(pvring_io_split_count(1ull << 27, 3, 2), 44739242);
	assert_int_equal(pvring_io_split_block(1ull << 27, 3, 2, 44739241), 2 + 44739241ull * 3);
	assert_int_equal(pvring_io_split_block(1ull << 27, 3, 2, UINT64_MAX),
			 2 + (UINT64_MAX % 44739242) * 3);
	assert_int_equal(pvring_io_split_block(UINT64_MAX, 16, 15, UINT64_MAX),
			 15 + (UINT64_MAX % (UINT64_MAX / 16)) * 16);
}

static void test_split_covers_every_block_once(void **state)
{
	static uint8_t seen[200];
	uint64_t nr_blocks, i, total;
	unsigned int nr_queues, q;

	(void)state;
	for (nr_blocks = 0; nr_blocks < sizeof(seen); nr_blocks++) {
		for (nr_queues = 1; nr_queues <= 16; nr_queues++) {
			unsigned int running = pvring_io_split_queues(nr_blocks, nr_queues);

			memset(seen, 0, sizeof(seen));
			total = 0;
			for (q = 0; q < nr_queues; q++) {
				uint64_t n = pvring_io_split_count(nr_blocks, nr_queues, q);

				/* The queues that run are exactly those with blocks. */
				assert_int_equal(q<running, n> 0);
				total += n;
				for (i = 0; i < n; i++) {
					uint64_t b =
						pvring_io_split_block(nr_blocks, nr_queues, q, i);

					assert_true(b < nr_blocks);
					assert_int_equal(seen[b], 0);
					seen[b] = 1;
					/* The next pass repeats the first. */
					assert_int_equal(pvring_io_split_block(nr_blocks, nr_queues,
									       q, i + n),
							 b);
				}
			}
			assert_int_equal(total, nr_blocks);
			for (i = 0; i < nr_blocks; i++)
				assert_int_equal(seen[i], 1);
		}
	}
}

static void test_pattern_roundtrip_and_uniqueness(void **state)
{
	static uint8_t a[8 * 512], b[8 * 512];

	(void)state;
	pvring_io_pattern_fill(a, 1000, 8, 7);
	assert_int_equal(pvring_io_pattern_check(a, 1000, 8, 7), -1);
	/* Each sector names itself; the same sector under another seed differs. */
	assert_int_equal(pvring_io_pattern_check(a, 1001, 7, 7), 1001);
	assert_int_equal(pvring_io_pattern_check(a, 1000, 8, 8), 1000);
	/* Filling in pieces gives the same bytes as filling at once. */
	pvring_io_pattern_fill(b, 1000, 3, 7);
	pvring_io_pattern_fill(b + 3 * 512, 1003, 5, 7);
	assert_memory_equal(a, b, sizeof(a));
	/* No two sectors of a run are alike, even past the header words. */
	assert_memory_not_equal(a + 16, a + 512 + 16, 512 - 16);
	/* One flipped byte in sector 1005 is found there, the first bad one. */
	b[5 * 512 + 300] ^= 1;
	assert_int_equal(pvring_io_pattern_check(b, 1000, 8, 7), 1005);
	b[6 * 512 + 511] ^= 0x80;
	assert_int_equal(pvring_io_pattern_check(b, 1000, 8, 7), 1005);
	/* A sector that is all zeroes (never written) is bad too. */
	memset(b + 2 * 512, 0, 512);
	assert_int_equal(pvring_io_pattern_check(b, 1000, 8, 7), 1002);
}

static void test_hist_buckets(void **state)
{
	uint32_t i;

	(void)state;
	/* Exact below 64... */
	for (i = 0; i < 64; i++) {
		assert_int_equal(pvring_io_hist_bucket(i), i);
		assert_int_equal(pvring_io_hist_bucket_top(i), i);
	}
	/* ...then 32 buckets per power of two. */
	assert_int_equal(pvring_io_hist_bucket(64), 64);
	assert_int_equal(pvring_io_hist_bucket(65), 64);
	assert_int_equal(pvring_io_hist_bucket(66), 65);
	assert_int_equal(pvring_io_hist_bucket_top(64), 65);
	assert_int_equal(pvring_io_hist_bucket(127), 95);
	assert_int_equal(pvring_io_hist_bucket(128), 96);
	assert_int_equal(pvring_io_hist_bucket_top(96), 131);
	assert_int_equal(pvring_io_hist_bucket(1000), pvring_io_hist_bucket(1007));
	assert_int_equal(pvring_io_hist_bucket_top(pvring_io_hist_bucket(1000)), 1007);
	assert_int_equal(pvring_io_hist_bucket(UINT64_MAX), PVRING_IO_HIST_BUCKETS - 1);
	assert_true(pvring_io_hist_bucket_top(PVRING_IO_HIST_BUCKETS - 1) == UINT64_MAX);
	/* Buckets tile the values: each starts one past the previous top. */
	for (i = 1; i < PVRING_IO_HIST_BUCKETS; i++) {
		uint64_t start = pvring_io_hist_bucket_top(i - 1) + 1;

		assert_int_equal(pvring_io_hist_bucket(start), i);
		assert_int_equal(pvring_io_hist_bucket(pvring_io_hist_bucket_top(i)), i);
	}
}

static void test_hist_percentiles_exact(void **state)
{
	static struct pvring_io_hist h;
	uint64_t v;

	(void)state;
	assert_int_equal(pvring_io_hist_percentile(&h, 50), 0);
	/* 1..50 land in exact buckets: nearest-rank percentiles are exact. */
	for (v = 1; v <= 50; v++)
		pvring_io_hist_record(&h, v);
	assert_int_equal(h.count, 50);
	assert_int_equal(pvring_io_hist_percentile(&h, 50), 25);
	assert_int_equal(pvring_io_hist_percentile(&h, 90), 45);
	assert_int_equal(pvring_io_hist_percentile(&h, 99), 50);
	assert_int_equal(pvring_io_hist_percentile(&h, 99.9), 50);
	assert_int_equal(pvring_io_hist_percentile(&h, 100), 50);
	assert_int_equal(pvring_io_hist_percentile(&h, 1), 1);
}

static void test_hist_percentiles_1000(void **state)
{
	static struct pvring_io_hist h, other;
	uint64_t v;

	(void)state;
	/*
	 * 990 fast operations of 10 us, 9 of 100 us and one of 5 ms: p99 is
	 * still fast, p99.9 (the 999th) is 100 us's bucket, the max is exact.
	 */
	for (v = 0; v < 990; v++)
		pvring_io_hist_record(&h, 10000);
	for (v = 0; v < 9; v++)
		pvring_io_hist_record(&other, 100000);
	pvring_io_hist_record(&other, 5000000);
	pvring_io_hist_merge(&h, &other);
	assert_int_equal(h.count, 1000);
	assert_int_equal(h.max, 5000000);
	/* 10000 = 0b10011100010000: bucket [9984, 10239]. */
	assert_int_equal(pvring_io_hist_percentile(&h, 50), 10239);
	assert_int_equal(pvring_io_hist_percentile(&h, 99), 10239);
	/* 100000: bucket [98304, 100351]. */
	assert_int_equal(pvring_io_hist_percentile(&h, 99.9), 100351);
	/* The top bucket is clamped to the largest value seen. */
	assert_int_equal(pvring_io_hist_percentile(&h, 100), 5000000);
}

static void test_front_without_pvringd(void **state)
{
	struct pvring_local_front_opts opts;
	static struct pvring_local_front front;
	char dir[] = "/tmp/pvring-io-test.XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	pvring_local_front_opts_init(&opts);
	opts.rundir = dir;
	opts.disk = "d0";
	assert_int_equal(pvring_local_front_open(&front, &opts), -ENOENT);
	assert_non_null(strstr(pvring_local_front_error(&front), "registry"));
	assert_int_equal(pvring_local_front_close(&front), 0);
	opts.queues = 0;
	assert_int_equal(pvring_local_front_open(&front, &opts), -EINVAL);
	assert_int_equal(pvring_local_front_close(&front), 0);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_split_region_smaller_than_queues),
		cmocka_unit_test(test_split_uneven),
		cmocka_unit_test(test_split_covers_every_block_once),
		cmocka_unit_test(test_pattern_roundtrip_and_uniqueness),
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_hist_percentiles_exact),
		cmocka_unit_test(test_hist_percentiles_1000),
		cmocka_unit_test(test_front_without_pvringd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
