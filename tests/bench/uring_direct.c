// SPDX-License-Identifier: MIT
/*
 * The peer pvring is measured against: the same random reads issued directly
 * by one process with io_uring on the image file, no daemon, no ring, no
 * grants. One thread and one io_uring per queue, each keeping qd reads in
 * flight, exactly as pvring-io keeps qd requests in flight per queue.
 *
 *   uring-direct --file F [--bs 4k] [--qd 32] [--queues 1] [--time 3] [--json]
 *
 * Prints IOPS and latency percentiles (the same histogram as pvring-io).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "tools/pvring_io_parts.h"

struct job {
	int fd;
	uint64_t bs, blocks, qd;
	double seconds;
};

struct worker {
	pthread_t thread;
	const struct job *job;
	unsigned int index;
	uint64_t ops;
	struct pvring_io_hist hist;
	int error;
};

/* xorshift64*: cheap, and the same cost per I/O as pvring-io's random offsets. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

struct slot {
	void *buf;
	uint64_t start;
};

static void queue_read(struct io_uring *ring, struct worker *w, struct slot *s, uint64_t *rnd)
{
	const struct job *job = w->job;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	s->start = pvring_now_ns();
	io_uring_prep_read(sqe, job->fd, s->buf, (unsigned int)job->bs,
			   (next_random(rnd) % job->blocks) * job->bs);
	io_uring_sqe_set_data(sqe, s);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct job *job = w->job;
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (w->index + 1), end, i, in_flight = 0;
	struct slot *slots = calloc(job->qd, sizeof(*slots));
	struct io_uring ring;
	int err;

	if (!slots || io_uring_queue_init((unsigned int)job->qd, &ring, 0)) {
		w->error = 1;
		free(slots);
		return NULL;
	}
	for (i = 0; i < job->qd; i++) {
		if (posix_memalign(&slots[i].buf, 4096, job->bs)) {
			slots[i].buf = NULL;
			w->error = 1;
			goto out; /* nothing submitted yet */
		}
	}
	for (i = 0; i < job->qd; i++)
		queue_read(&ring, w, &slots[i], &rnd);
	end = pvring_now_ns() + (uint64_t)(job->seconds * 1e9);
	err = io_uring_submit(&ring);
	if (err < 0) {
		w->error = 1;
		goto out; /* none went in */
	}
	in_flight = (uint64_t)err;
	if (in_flight < job->qd) {
		w->error = 1;
		end = 0; /* reap those that went in, queue no more */
	}
	/* At the deadline stop queueing, and reap what is in flight before the buffers go. */
	while (in_flight) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		uint64_t t;

		err = io_uring_wait_cqe(&ring, &cqe);
		if (err == -EINTR)
			continue;
		if (err) {
			/* A broken ring: its reads may never end, so their buffers stay. */
			w->error = 1;
			io_uring_queue_exit(&ring);
			free(slots);
			return NULL;
		}
		t = pvring_now_ns();
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			struct slot *s = io_uring_cqe_get_data(cqe);

			if (cqe->res != (int)job->bs)
				w->error = 1;
			seen++;
			in_flight--;
			pvring_io_hist_record(&w->hist, t - s->start);
			w->ops++;
			if (t < end) {
				queue_read(&ring, w, s, &rnd);
				in_flight++;
			}
		}
		io_uring_cq_advance(&ring, seen);
		if (t < end)
			io_uring_submit(&ring);
	}
out:
	io_uring_queue_exit(&ring);
	for (i = 0; i < job->qd; i++)
		free(slots[i].buf);
	free(slots);
	return NULL;
}

/* A whole decimal number in [min, max], or false. */
static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9') /* strtoull takes "-1" and " 1" */
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "queues", required_argument, NULL, 'n' },
		{ "time", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct job job = { .bs = 4096, .qd = 32, .seconds = 3 };
	struct pvring_io_hist all = { 0 };
	const char *file = NULL;
	unsigned int queues = 1, i;
	struct worker *workers;
	uint64_t ops = 0, start, size, n;
	bool json = false;
	struct stat st;
	double secs;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'b':
			if (pvring_io_parse_size(optarg, &size) || !size || size % 512) {
				fprintf(stderr, "uring-direct: bad --bs %s\n", optarg);
				return 2;
			}
			job.bs = size;
			break;
		case 'q':
			if (!parse_u64(optarg, 1, 4096, &job.qd)) {
				fprintf(stderr, "uring-direct: bad --qd %s (1..4096)\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (!parse_u64(optarg, 1, 64, &n)) {
				fprintf(stderr, "uring-direct: bad --queues %s (1..64)\n", optarg);
				return 2;
			}
			queues = (unsigned int)n;
			break;
		case 't':
			errno = 0;
			job.seconds = strtod(optarg, &end);
			/* Finite, positive, and small enough for a uint64_t of nanoseconds. */
			if (errno || end == optarg || *end || !isfinite(job.seconds) ||
			    job.seconds <= 0 || job.seconds > 1e6) {
				fprintf(stderr, "uring-direct: bad --time %s (seconds, 0..1e6)\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		default:
			fprintf(stderr,
				"usage: uring-direct --file F [--bs B] [--qd N] [--queues N] "
				"[--time S] [--json]\n");
			return 2;
		}
	}
	if (!file || optind < argc) {
		fprintf(stderr, "uring-direct: --file is required, and nothing else\n");
		return 2;
	}
	job.fd = open(file, O_RDONLY);
	if (job.fd < 0 || fstat(job.fd, &st)) {
		fprintf(stderr, "uring-direct: %s: %s\n", file, strerror(errno));
		return 1;
	}
	job.blocks = (uint64_t)st.st_size / job.bs;
	if (!job.blocks) {
		fprintf(stderr, "uring-direct: %s is smaller than one block\n", file);
		return 1;
	}
	workers = calloc(queues, sizeof(*workers));
	if (!workers)
		return 1;
	start = pvring_now_ns();
	for (i = 0; i < queues; i++) {
		workers[i].job = &job;
		workers[i].index = i;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			return 1;
	}
	for (i = 0; i < queues; i++) {
		pthread_join(workers[i].thread, NULL);
		if (workers[i].error) {
			fprintf(stderr, "uring-direct: queue %u: a read failed\n", i);
			return 1;
		}
		ops += workers[i].ops;
		pvring_io_hist_merge(&all, &workers[i].hist);
	}
	secs = (double)(pvring_now_ns() - start) / 1e9;
	if (json)
		printf("{\"ops\":%" PRIu64 ",\"seconds\":%.3f,\"iops\":%.0f,\"latency_us\":"
		       "{\"p50\":%.1f,\"p99\":%.1f}}\n",
		       ops, secs, (double)ops / secs,
		       (double)pvring_io_hist_percentile(&all, 50) / 1000.0,
		       (double)pvring_io_hist_percentile(&all, 99) / 1000.0);
	else
		printf("uring-direct: %u queue(s) qd %" PRIu64 " bs %" PRIu64
		       ": IOPS %.0f, p50 %.1f us, p99 %.1f us\n",
		       queues, job.qd, job.bs, (double)ops / secs,
		       (double)pvring_io_hist_percentile(&all, 50) / 1000.0,
		       (double)pvring_io_hist_percentile(&all, 99) / 1000.0);
	free(workers);
	close(job.fd);
	return 0;
}
