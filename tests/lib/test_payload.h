/* SPDX-License-Identifier: MIT */
/*
 * The message carried by ring tests and the benchmark: a request the size of
 * a blkif request (112 bytes) and a response the size of a blkif response.
 * Every word of a request is derived from its id, so a reader can check that
 * it received exactly what was written, and the response carries a sum of
 * the request so the writer can check the round trip.
 */
#ifndef PVRING_TEST_PAYLOAD_H
#define PVRING_TEST_PAYLOAD_H

#include <stdbool.h>
#include <stdint.h>

#define TEST_REQ_WORDS 13

struct test_req {
	uint64_t id;
	uint64_t words[TEST_REQ_WORDS];
};

struct test_rsp {
	uint64_t id;
	uint64_t sum;
};

_Static_assert(sizeof(struct test_req) == 112, "the size of a blkif request");
_Static_assert(sizeof(struct test_rsp) == 16, "the size of a blkif response");

static inline uint64_t test_word(uint64_t id, unsigned int k)
{
	uint64_t x = id * 0x9e3779b97f4a7c15ull + k * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	return x * 0x94d049bb133111ebull;
}

static inline void test_req_fill(struct test_req *req, uint64_t id)
{
	req->id = id;
	for (unsigned int k = 0; k < TEST_REQ_WORDS; k++)
		req->words[k] = test_word(id, k);
}

static inline uint64_t test_req_expected_sum(uint64_t id)
{
	uint64_t sum = id;

	for (unsigned int k = 0; k < TEST_REQ_WORDS; k++)
		sum += test_word(id, k);
	return sum;
}

/* True if every word of req is what test_req_fill() wrote for its id. */
static inline bool test_req_intact(const struct test_req *req)
{
	for (unsigned int k = 0; k < TEST_REQ_WORDS; k++)
		if (req->words[k] != test_word(req->id, k))
			return false;
	return true;
}

static inline uint64_t test_req_sum(const struct test_req *req)
{
	uint64_t sum = req->id;

	for (unsigned int k = 0; k < TEST_REQ_WORDS; k++)
		sum += req->words[k];
	return sum;
}

/* xorshift64*: a small deterministic generator for batch sizes and ops. */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

#endif /* PVRING_TEST_PAYLOAD_H */
