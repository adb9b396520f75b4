// SPDX-License-Identifier: MIT
/*
 * pvring-io: attach a disk of pvringd (local platform) as a guest, negotiate
 * like blkfront and run a workload on it: read, write or verify, sequential or
 * random, one thread per queue. Prints throughput, latency percentiles and
 * notifications per request.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/number.h"
#include "tools/front/local_front.h"
#include "tools/pvring_io_parts.h"

enum { EXIT_IO = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3 };

enum mode { READ, WRITE, VERIFY, RANDREAD, RANDWRITE, RANDVERIFY };

static const char *const mode_names[] = { "read",     "write",	   "verify",
					  "randread", "randwrite", "randverify" };

struct job {
	const char *rundir, *disk;
	enum mode mode;
	uint64_t bs, offset, size, count, seed;
	double seconds;
	unsigned int qd, queues, order, spin_us, timeout_ms;
	bool persistent, json;
	bool keep_going; /* a failed request is counted, and the run goes on */
	/* derived */
	uint32_t pages_per_io, sectors_per_io;
	uint64_t nr_blocks; /* in the region */
	uint64_t span; /* blocks the run covers: the region, or for verify at most --count */
	unsigned int nr_queues; /* queues that run: no more than span */
	uint64_t deadline_ns; /* 0: run by count */
};

/*
 * Set by SIGINT or SIGTERM: stop issuing, finish what is in flight and report, as at the end of a
 * run. Lock-free atomics are safe in a handler; relaxed, as nothing else is published with it.
 */
static atomic_bool stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	atomic_store_explicit(&stop_requested, true, memory_order_relaxed);
}

/* Only once: SA_RESETHAND gives a second signal its default action, for a run that hangs. */
static void catch_stop_signals(void)
{
	static const int signals[] = { SIGINT, SIGTERM };
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = SA_RESETHAND };
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}

static bool more_to_issue(const struct job *job, uint64_t now, uint64_t issued, uint64_t total)
{
	if (atomic_load_explicit(&stop_requested, memory_order_relaxed))
		return false;
	return job->deadline_ns ? now < job->deadline_ns : issued < total;
}

struct worker {
	const struct job *job;
	struct pvring_local_front *front;
	unsigned int queue;
	pthread_t thread;
	uint64_t rng;
	uint64_t *blocks; /* randverify: this queue's blocks, in the order they are done */
	uint64_t nr_blocks; /* of the span, this queue's */
	uint64_t ops_total; /* read/write modes */
	uint64_t *slot_start, *slot_block;
	uint32_t *slot_free, nr_free, *pages;
	struct pvring_local_front_completion *done;
	struct pvring_io_hist hist;
	uint64_t ops, bytes;
	uint64_t errors; /* --keep-going: requests answered with an error */
	int exit_code;
	char msg[512]; /* why it failed; with --keep-going, the first error */
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvring-io [--rundir DIR] --disk NAME [--rw MODE] [--bs BYTES] [--qd N]\n"
		   "                 [--queues N] [--order N] [--count N | --time SEC]\n"
		   "                 [--offset BYTES] [--size BYTES] [--seed N] [--no-persistent]\n"
		   "                 [--spin-us N] [--timeout-ms N] [--keep-going] [--json]\n"
		   "MODE: read write verify randread randwrite randverify (default read)\n"
		   "BYTES take k, m, g suffixes (powers of 1024); --bs is a multiple of 512.\n"
		   "--keep-going: count failed requests and go on (read and write modes)\n"
		   "exit: 0 ok, 1 I/O error or verification failure, 2 usage, 3 cannot "
		   "attach/connect\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pvring-io: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(stderr);
	return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct job *job)
{
	static const struct option opts[] = {
		{ "rundir", required_argument, NULL, 'R' },
		{ "disk", required_argument, NULL, 'd' },
		{ "rw", required_argument, NULL, 'w' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "order", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'c' },
		{ "time", required_argument, NULL, 't' },
		{ "offset", required_argument, NULL, 'O' },
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "no-persistent", no_argument, NULL, 'P' },
		{ "spin-us", required_argument, NULL, 'p' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;
	unsigned int i;

	memset(job, 0, sizeof(*job));
	job->rundir = "/run/pvring";
	job->bs = 4096;
	job->qd = 32;
	job->queues = 1;
	job->persistent = true;
	/*
	 * Poll up to 50 us for responses before sleeping, as pvringd polls for requests:
	 * measured with make bench-io, a sleep and a kick per batch cost more than the spin
	 * (4 KiB reads at QD1 went from 59k to 253k IOPS on 2 CPUs). The window adapts
	 * (common/ring/pvring_spin.h): it shrinks and stops while it comes back empty, and
	 * stops for longer when this thread is preempted (pvringd wants the CPU), so a run
	 * that shares pvringd's CPU is not slowed by the spin.
	 */
	job->spin_us = 50;
	job->seed = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			job->rundir = optarg;
			break;
		case 'd':
			job->disk = optarg;
			break;
		case 'w':
			for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
				if (!strcmp(optarg, mode_names[i]))
					break;
			if (i == sizeof(mode_names) / sizeof(mode_names[0]))
				return usage_error("unknown --rw mode '%s'", optarg);
			job->mode = (enum mode)i;
			break;
		case 'b':
			if (pvring_io_parse_size(optarg, &job->bs) || job->bs == 0 ||
			    job->bs % 512 ||
			    job->bs > (uint64_t)PVRING_LOCAL_FRONT_MAX_SEGMENTS * PVRING_PAGE_SIZE)
				return usage_error("--bs '%s': want a multiple of 512, at most 4m",
						   optarg);
			break;
		case 'q':
			if (pvring_parse_u64(optarg, 4096, &v) || v == 0)
				return usage_error("--qd '%s': want 1..4096", optarg);
			job->qd = (unsigned int)v;
			break;
		case 'Q':
			if (pvring_parse_u64(optarg, PVRING_LOCAL_FRONT_MAX_QUEUES, &v) || v == 0)
				return usage_error("--queues '%s': want 1..16", optarg);
			job->queues = (unsigned int)v;
			break;
		case 'o':
			if (pvring_parse_u64(optarg, PVRING_MAX_ORDER, &v))
				return usage_error("--order '%s': want 0..4", optarg);
			job->order = (unsigned int)v;
			break;
		case 'c':
			if (pvring_parse_u64(optarg, UINT64_MAX, &job->count) || job->count == 0)
				return usage_error("--count '%s': want a positive number", optarg);
			break;
		case 't': {
			char *end;

			job->seconds = strtod(optarg, &end);
			if (*end || !(job->seconds > 0) || job->seconds > 1e6)
				return usage_error("--time '%s': want seconds > 0", optarg);
			break;
		}
		case 'O':
			if (pvring_io_parse_size(optarg, &job->offset) || job->offset % 512)
				return usage_error("--offset '%s': want a multiple of 512", optarg);
			break;
		case 's':
			if (pvring_io_parse_size(optarg, &job->size) || job->size == 0)
				return usage_error("--size '%s': want a positive size", optarg);
			break;
		case 'S':
			if (pvring_parse_u64(optarg, UINT64_MAX, &job->seed))
				return usage_error("--seed '%s': want a number", optarg);
			break;
		case 'P':
			job->persistent = false;
			break;
		case 'p':
			if (pvring_parse_u64(optarg, 1000000, &v))
				return usage_error("--spin-us '%s': want 0..1000000", optarg);
			job->spin_us = (unsigned int)v;
			break;
		case 'T':
			if (pvring_parse_u64(optarg, 3600000, &v) || v == 0)
				return usage_error("--timeout-ms '%s': want 1..3600000", optarg);
			job->timeout_ms = (unsigned int)v;
			break;
		case 'j':
			job->json = true;
			break;
		case 'k':
			job->keep_going = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!job->disk)
		return usage_error("%s", "--disk NAME is required");
	if (job->count && job->seconds > 0)
		return usage_error("%s", "give --count or --time, not both");
	if (job->seconds > 0 && (job->mode == VERIFY || job->mode == RANDVERIFY))
		return usage_error("%s",
				   "verify modes cover the region once: use --count, not --time");
	/* A block whose write failed holds anything: there is nothing to verify against. */
	if (job->keep_going && (job->mode == VERIFY || job->mode == RANDVERIFY))
		return usage_error("%s", "--keep-going is for the read and write modes");
	job->pages_per_io = (uint32_t)((job->bs + PVRING_PAGE_SIZE - 1) / PVRING_PAGE_SIZE);
	job->sectors_per_io = (uint32_t)(job->bs / 512);
	return 0;
}

static bool is_verify(const struct job *job)
{
	return job->mode == VERIFY || job->mode == RANDVERIFY;
}

static bool is_random(const struct job *job)
{
	return job->mode == RANDREAD || job->mode == RANDWRITE || job->mode == RANDVERIFY;
}

static void shuffle(uint64_t *v, uint64_t n, uint64_t *rng)
{
	uint64_t i;

	for (i = n; i > 1; i--) {
		uint64_t j = xorshift(rng) % i, t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

static int worker_fail(struct worker *w, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int worker_fail(struct worker *w, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	w->exit_code = code;
	return code;
}

static const char *status_name(int16_t status)
{
	switch (status) {
	case PVRING_BLKIF_RSP_OKAY:
		return "okay";
	case PVRING_BLKIF_RSP_ERROR:
		return "error";
	case PVRING_BLKIF_RSP_EOPNOTSUPP:
		return "not supported";
	default:
		return "unknown status";
	}
}

/*
 * One phase: total operations of op (READ or WRITE) on blocks drawn at random
 * (randread, randwrite), taken from the worker's shuffled list (randverify) or
 * the queue's own blocks in order, wrapping around (sequential modes).
 */
static int run_phase(struct worker *w, uint8_t op, uint64_t total, bool check)
{
	const struct job *job = w->job;
	struct pvring_local_front *front = w->front;
	uint64_t issued = 0;
	bool random_blocks = is_random(job) && !is_verify(job);
	uint32_t qd = pvring_local_front_inflight(front, w->queue) + w->nr_free;
	int n, i;

	/*
	 * By count: until total are done; by time: until the deadline; then drain.
	 * A stop signal ends either early.
	 */
	for (;;) {
		uint64_t now = pvring_now_ns();
		bool more = more_to_issue(job, now, issued, total);

		while (more && w->nr_free) {
			struct pvring_local_front_io io;
			uint32_t slot = w->slot_free[--w->nr_free];
			uint64_t block;
			int err;

			if (random_blocks)
				block = xorshift(&w->rng) % job->nr_blocks;
			else if (w->blocks) /* total is w->nr_blocks */
				block = w->blocks[issued];
			else
				block = pvring_io_split_block(job->span, job->nr_queues, w->queue,
							      issued);
			io = (struct pvring_local_front_io){
				.op = op,
				.sector = (job->offset + block * job->bs) / 512,
				.nr_sectors = job->sectors_per_io,
				.pages = &w->pages[(size_t)slot * job->pages_per_io],
				.cookie = slot,
			};
			if (op == PVRING_BLKIF_OP_WRITE && is_verify(job))
				pvring_io_pattern_fill(
					pvring_local_front_data(front, w->queue, io.pages[0]),
					io.sector, io.nr_sectors, job->seed);
			err = pvring_local_front_submit(front, w->queue, &io);
			if (err)
				return worker_fail(w, EXIT_IO, "queue %u: cannot submit: %s",
						   w->queue, pvring_local_front_error(front));
			w->slot_block[slot] = block;
			w->slot_start[slot] = now;
			issued++;
			more = more_to_issue(job, now, issued, total);
		}
		if (!pvring_local_front_inflight(front, w->queue))
			break;
		n = pvring_local_front_poll(front, w->queue, w->done, qd, true);
		if (n < 0)
			return worker_fail(w, EXIT_IO, "%s", pvring_local_front_error(front));
		now = pvring_now_ns();
		for (i = 0; i < n; i++) {
			uint32_t slot = (uint32_t)w->done[i].cookie;
			uint64_t sector = (job->offset + w->slot_block[slot] * job->bs) / 512;

			if (w->done[i].status != PVRING_BLKIF_RSP_OKAY) {
				/* The first is said; with --keep-going the run goes on, counting.
				 */
				if (!w->errors++)
					worker_fail(w, EXIT_IO,
						    "queue %u: %s of %u sectors at sector %" PRIu64
						    " failed: status %d (%s)",
						    w->queue,
						    op == PVRING_BLKIF_OP_READ ? "read" : "write",
						    job->sectors_per_io, sector, w->done[i].status,
						    status_name(w->done[i].status));
				if (!job->keep_going)
					return EXIT_IO;
				w->slot_free[w->nr_free++] = slot;
				continue;
			}
			if (check) {
				const void *data = pvring_local_front_data(
					front, w->queue,
					w->pages[(size_t)slot * job->pages_per_io]);
				int64_t bad = pvring_io_pattern_check(
					data, sector, job->sectors_per_io, job->seed);

				if (bad >= 0)
					return worker_fail(
						w, EXIT_IO,
						"verify failed: first bad sector %" PRId64
						" (in the %u-sector read at sector %" PRIu64
						", queue %u)",
						bad, job->sectors_per_io, sector, w->queue);
			}
			pvring_io_hist_record(&w->hist, now - w->slot_start[slot]);
			w->ops++;
			w->bytes += job->bs;
			w->slot_free[w->nr_free++] = slot;
		}
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct job *job = w->job;

	switch (job->mode) {
	case READ:
	case RANDREAD:
		run_phase(w, PVRING_BLKIF_OP_READ, w->ops_total, false);
		break;
	case WRITE:
	case RANDWRITE:
		run_phase(w, PVRING_BLKIF_OP_WRITE, w->ops_total, false);
		break;
	case VERIFY:
	case RANDVERIFY:
		/* The blocks are this queue's own: its writes are done before it reads them. */
		if (run_phase(w, PVRING_BLKIF_OP_WRITE, w->nr_blocks, false))
			break;
		if (job->mode == RANDVERIFY)
			shuffle(w->blocks, w->nr_blocks, &w->rng);
		run_phase(w, PVRING_BLKIF_OP_READ, w->nr_blocks, true);
		break;
	}
	return NULL;
}

static int worker_init(struct worker *w, const struct job *job, struct pvring_local_front *front,
		       unsigned int queue, uint32_t qd)
{
	uint64_t i;
	uint32_t s;

	memset(w, 0, sizeof(*w));
	w->job = job;
	w->front = front;
	w->queue = queue;
	w->rng = job->seed * 0x9e3779b97f4a7c15ull + queue + 1;
	/* Queues take interleaved blocks, so they never touch the same one. */
	w->nr_blocks = pvring_io_split_count(job->span, job->nr_queues, queue);
	if (!is_verify(job))
		w->ops_total = pvring_io_split_count(job->count ? job->count : job->nr_blocks,
						     job->nr_queues, queue);
	/* Only randverify needs its blocks listed, to shuffle them. */
	if (job->mode == RANDVERIFY) {
		w->blocks = calloc(w->nr_blocks, sizeof(*w->blocks));
		if (!w->blocks)
			return -1;
		for (i = 0; i < w->nr_blocks; i++)
			w->blocks[i] = pvring_io_split_block(job->span, job->nr_queues, queue, i);
		shuffle(w->blocks, w->nr_blocks, &w->rng);
	}
	w->slot_start = calloc(qd, sizeof(*w->slot_start));
	w->slot_block = calloc(qd, sizeof(*w->slot_block));
	w->slot_free = calloc(qd, sizeof(*w->slot_free));
	w->pages = calloc((size_t)qd * job->pages_per_io, sizeof(*w->pages));
	w->done = calloc(qd, sizeof(*w->done));
	if (!w->slot_start || !w->slot_block || !w->slot_free || !w->pages || !w->done)
		return -1;
	for (s = 0; s < qd; s++)
		w->slot_free[s] = qd - 1 - s;
	w->nr_free = qd;
	for (i = 0; i < (uint64_t)qd * job->pages_per_io; i++)
		w->pages[i] = (uint32_t)i;
	return 0;
}

static void worker_free(struct worker *w)
{
	free(w->blocks);
	free(w->slot_start);
	free(w->slot_block);
	free(w->slot_free);
	free(w->pages);
	free(w->done);
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

struct totals {
	uint64_t ops, bytes, errors, requests, responses, kicks_sent, kicks_received;
	double seconds;
	struct pvring_io_hist hist;
};

static void report(const struct job *job, const struct pvring_local_front *front, uint32_t qd,
		   const struct totals *t)
{
	static const double pct[] = { 50, 90, 99, 99.9 };
	static const char *const pct_names[] = { "p50", "p90", "p99", "p99_9" };
	double iops = t->seconds > 0 ? (double)t->ops / t->seconds : 0;
	double mbs = t->seconds > 0 ? (double)t->bytes / t->seconds / 1e6 : 0;
	double kicks = t->requests ? (double)t->kicks_sent / (double)t->requests : 0;
	double notes = t->responses ? (double)t->kicks_received / (double)t->responses : 0;
	unsigned int i;

	if (job->json) {
		struct json_object *o = json_object_new_object(), *lat = json_object_new_object();

		json_object_object_add(o, "disk", json_object_new_string(job->disk));
		json_object_object_add(o, "device", json_object_new_string(front->device));
		json_object_object_add(o, "rw", json_object_new_string(mode_names[job->mode]));
		json_object_object_add(o, "bs", json_object_new_int64((int64_t)job->bs));
		json_object_object_add(o, "qd", json_object_new_int64(qd));
		json_object_object_add(o, "queues", json_object_new_int64(job->nr_queues));
		json_object_object_add(o, "ring_order", json_object_new_int64(front->ring_order));
		json_object_object_add(o, "persistent", json_object_new_boolean(front->persistent));
		json_object_object_add(o, "max_segments",
				       json_object_new_int64(front->max_segments));
		json_object_object_add(o, "ops", json_object_new_int64((int64_t)t->ops));
		json_object_object_add(o, "errors", json_object_new_int64((int64_t)t->errors));
		json_object_object_add(o, "seconds", json_object_new_double(t->seconds));
		json_object_object_add(o, "iops", json_object_new_double(iops));
		json_object_object_add(o, "mb_per_s", json_object_new_double(mbs));
		for (i = 0; i < 4; i++)
			json_object_object_add(lat, pct_names[i],
					       json_object_new_double(us(pvring_io_hist_percentile(
						       &t->hist, pct[i]))));
		json_object_object_add(lat, "max", json_object_new_double(us(t->hist.max)));
		json_object_object_add(o, "latency_us", lat);
		json_object_object_add(o, "kicks_per_request", json_object_new_double(kicks));
		json_object_object_add(o, "notifications_per_request",
				       json_object_new_double(notes));
		printf("%s\n", json_object_to_json_string_ext(
				       o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return;
	}
	printf("pvring-io: disk %s, device %s: %u queue(s), ring order %u, qd %u, persistent %s, "
	       "up to %u segments\n",
	       job->disk, front->device, job->nr_queues, front->ring_order, qd,
	       front->persistent ? "on" : "off", front->max_segments);
	printf("%s bs %" PRIu64 ": ops %" PRIu64 " in %.3f s, IOPS %.0f, %.1f MB/s\n",
	       mode_names[job->mode], job->bs, t->ops, t->seconds, iops, mbs);
	printf("latency us: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
	       us(pvring_io_hist_percentile(&t->hist, 50)),
	       us(pvring_io_hist_percentile(&t->hist, 90)),
	       us(pvring_io_hist_percentile(&t->hist, 99)),
	       us(pvring_io_hist_percentile(&t->hist, 99.9)), us(t->hist.max));
	printf("kicks sent per request %.3f, notifications received per request %.3f\n", kicks,
	       notes);
}

int main(int argc, char **argv)
{
	static struct pvring_local_front front;
	struct pvring_local_front_opts opts;
	struct worker *workers = NULL;
	struct totals t;
	struct job job;
	uint64_t disk_bytes, start;
	unsigned int q, nr_queues;
	uint32_t qd;
	int rc, err;

	rc = parse_args(argc, argv, &job);
	if (rc)
		return rc;
	/* Before the guest connects: one who has seen it connected may stop it at once. */
	catch_stop_signals();
	pvring_local_front_opts_init(&opts);
	opts.rundir = job.rundir;
	opts.disk = job.disk;
	opts.queues = job.queues;
	opts.ring_order = job.order;
	opts.max_inflight = job.qd;
	opts.max_segments = job.pages_per_io;
	opts.data_pages = job.qd * job.pages_per_io;
	opts.persistent = job.persistent;
	opts.spin_us = job.spin_us;
	opts.timeout_ms = job.timeout_ms;
	err = pvring_local_front_open(&front, &opts);
	if (!err)
		err = pvring_local_front_connect(&front);
	if (err) {
		fprintf(stderr, "pvring-io: %s\n", pvring_local_front_error(&front));
		pvring_local_front_close(&front);
		return EXIT_CONNECT;
	}
	rc = EXIT_USAGE;
	disk_bytes = front.backend.sectors * 512;
	if (job.offset >= disk_bytes) {
		fprintf(stderr,
			"pvring-io: --offset %" PRIu64 " is past the disk's %" PRIu64 " bytes\n",
			job.offset, disk_bytes);
		goto close;
	}
	if (!job.size)
		job.size = disk_bytes - job.offset;
	if (job.size > disk_bytes - job.offset) {
		fprintf(stderr,
			"pvring-io: --offset + --size reach past the disk's %" PRIu64 " bytes\n",
			disk_bytes);
		goto close;
	}
	job.nr_blocks = job.size / job.bs;
	if (!job.nr_blocks) {
		fprintf(stderr,
			"pvring-io: the region is smaller than one block of %" PRIu64 " bytes\n",
			job.bs);
		goto close;
	}
	if (job.pages_per_io > front.max_segments) {
		fprintf(stderr,
			"pvring-io: --bs %" PRIu64 " needs %u segments; the back end takes at most "
			"%u per request (feature-max-indirect-segments %u)\n",
			job.bs, job.pages_per_io, front.max_segments,
			front.backend.max_indirect_segments);
		goto close;
	}
	if (front.backend.read_only && job.mode != READ && job.mode != RANDREAD) {
		fprintf(stderr, "pvring-io: disk %s is read-only\n", job.disk);
		goto close;
	}
	/*
	 * Every queue that runs owns a block of the span: with fewer blocks than
	 * queues, the rest stay idle.
	 */
	job.span = job.nr_blocks;
	if (is_verify(&job) && job.count && job.count < job.span)
		job.span = job.count;
	nr_queues = pvring_io_split_queues(job.span, front.nr_queues);
	job.nr_queues = nr_queues;
	qd = front.queues[0].nr_tags;
	if (!job.json && (nr_queues < job.queues || qd < job.qd))
		fprintf(stderr,
			"pvring-io: note: running %u queue(s) at qd %u (asked %u at %u)%s\n",
			nr_queues, qd, job.queues, job.qd,
			nr_queues < front.nr_queues ? ", one per block to cover" : "");
	workers = calloc(nr_queues, sizeof(*workers));
	if (!workers) {
		rc = EXIT_IO;
		goto close;
	}
	for (q = 0; q < nr_queues; q++)
		if (worker_init(&workers[q], &job, &front, q, qd)) {
			fprintf(stderr, "pvring-io: out of memory\n");
			rc = EXIT_IO;
			goto free;
		}
	start = pvring_now_ns();
	if (job.seconds > 0)
		job.deadline_ns = start + (uint64_t)(job.seconds * 1e9);
	for (q = 0; q < nr_queues; q++)
		if (pthread_create(&workers[q].thread, NULL, worker_main, &workers[q])) {
			fprintf(stderr, "pvring-io: cannot start a thread\n");
			pvring_local_front_die(EXIT_IO);
		}
	memset(&t, 0, sizeof(t));
	rc = 0;
	for (q = 0; q < nr_queues; q++) {
		const struct pvring_local_front_queue *s;

		pthread_join(workers[q].thread, NULL);
		if (workers[q].exit_code && !rc) {
			fprintf(stderr, "pvring-io: %s\n", workers[q].msg);
			rc = workers[q].exit_code;
		}
		t.errors += workers[q].errors;
		t.ops += workers[q].ops;
		t.bytes += workers[q].bytes;
		pvring_io_hist_merge(&t.hist, &workers[q].hist);
		s = pvring_local_front_stats(&front, q);
		t.requests += s->requests;
		t.responses += s->responses;
		t.kicks_sent += s->kicks_sent;
		t.kicks_received += s->kicks_received;
	}
	t.seconds = (double)(pvring_now_ns() - start) / 1e9;
	if (t.errors)
		fprintf(stderr, "pvring-io: %" PRIu64 " of %" PRIu64 " requests failed\n", t.errors,
			t.errors + t.ops);
	if (!rc || job.keep_going)
		report(&job, &front, qd, &t);
free:
	for (q = 0; q < nr_queues; q++)
		worker_free(&workers[q]);
	free(workers);
close:
	if (pvring_local_front_close(&front)) {
		fprintf(stderr, "pvring-io: closing: %s\n", pvring_local_front_error(&front));
		if (!rc)
			rc = EXIT_IO;
	}
	return rc;
}
