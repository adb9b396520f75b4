// SPDX-License-Identifier: MIT
/*
 * Ring benchmark: request/response round trips between two threads pinned to
 * two cores, 112-byte requests (the blkif request size), our ring and the Xen
 * public macros over the same layout, side by side in one run; and a UNIX
 * socket ping-pong as the naive baseline.
 *
 *   busy-poll: neither side sleeps; producers publish without the
 *              notification check.
 *   doorbell:  a side with nothing to do arms its event index and sleeps on
 *              an eventfd; producers kick only when the peer asked.
 *   doorbell+poll: the same, but a side with nothing to do first looks for
 *              work for up to 50 us before it arms and sleeps.
 *
 * Every figure is the median of several runs, ours and the peer's runs
 * interleaved so that machine noise hits both alike: compare the ratio.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/ring_peers.h"
#include "tests/lib/test_payload.h"

#define MAX_REPS 15

struct figure {
	double mrt_per_s; /* million round trips per second, median */
	double kicks_to_back; /* per request, at the median run */
	double kicks_to_front;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

struct bench_mode {
	const char *name;
	enum peer_mode mode;
	uint32_t poll_us;
};

static int measure(enum peer_impl impl, const struct bench_mode *mode, unsigned int order,
		   uint64_t trips, struct ring_run *out)
{
	*out = (struct ring_run){
		.front_impl = impl,
		.back_impl = impl,
		.mode = mode->mode,
		.poll_us = mode->poll_us,
		.order = order,
		.round_trips = trips,
		.max_step = 0,
		.verify_payload = false,
		.cpu_front = cpu_count() >= 2 ? 0 : -1,
		.cpu_back = cpu_count() >= 2 ? 1 : -1,
	};
	if (ring_run(out)) {
		fprintf(stderr, "ring_bench: %s: %s\n", peer_impl_name(impl), out->error);
		return -1;
	}
	return 0;
}

/* Ours and the peer's, interleaved; the median run of each. */
static int compare(const struct bench_mode *mode, unsigned int order, uint64_t trips, int reps,
		   struct figure fig[2])
{
	double rate[2][MAX_REPS], sorted[MAX_REPS];
	double kb[2][MAX_REPS], kf[2][MAX_REPS];
	int r, i, k;

	for (r = 0; r < reps; r++) {
		for (i = 0; i < 2; i++) {
			/* Alternate who goes first, so neither always runs warm. */
			enum peer_impl impl = (r + i) % 2 ? PEER_XEN_MACROS : PEER_PVRING;
			struct ring_run run;

			if (measure(impl, mode, order, trips, &run))
				return -1;
			rate[impl][r] = (double)trips / ((double)run.elapsed_ns / 1e3);
			kb[impl][r] = (double)run.front.kicks_sent / (double)trips;
			kf[impl][r] = (double)run.back.kicks_sent / (double)trips;
		}
	}
	for (i = 0; i < 2; i++) {
		memcpy(sorted, rate[i], sizeof(double) * (size_t)reps);
		qsort(sorted, (size_t)reps, sizeof(double), cmp_double);
		fig[i].mrt_per_s = sorted[reps / 2];
		for (k = 0; k < reps; k++)
			if (rate[i][k] == fig[i].mrt_per_s)
				break;
		fig[i].kicks_to_back = kb[i][k];
		fig[i].kicks_to_front = kf[i][k];
	}
	return 0;
}

/* ---- naive baseline: one request and its response over a UNIX socket ---- */

struct sock_peer {
	int fd;
	uint64_t trips;
	int failed;
};

static int full_io(int fd, void *buf, size_t len, int writing)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *sock_back(void *arg)
{
	struct sock_peer *peer = arg;
	struct test_req req;
	struct test_rsp rsp;
	uint64_t i;

	for (i = 0; i < peer->trips; i++) {
		if (full_io(peer->fd, &req, sizeof(req), 0)) {
			peer->failed = 1;
			break;
		}
		rsp = (struct test_rsp){ .id = req.id, .sum = test_req_expected_sum(req.id) };
		if (full_io(peer->fd, &rsp, sizeof(rsp), 1)) {
			peer->failed = 1;
			break;
		}
	}
	return NULL;
}

static double socket_pingpong(uint64_t trips)
{
	struct sock_peer back = { .trips = trips };
	struct test_req req;
	struct test_rsp rsp;
	struct timespec t0, t1;
	pthread_t thread;
	cpu_set_t set;
	int fds[2];
	uint64_t i;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
		return -1;
	back.fd = fds[1];
	if (pthread_create(&thread, NULL, sock_back, &back))
		return -1;
	if (cpu_count() >= 2) {
		CPU_ZERO(&set);
		CPU_SET(1, &set);
		(void)pthread_setaffinity_np(thread, sizeof(set), &set);
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < trips; i++) {
		test_req_fill(&req, i);
		if (full_io(fds[0], &req, sizeof(req), 1) ||
		    full_io(fds[0], &rsp, sizeof(rsp), 0) || rsp.id != i)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	shutdown(fds[0], SHUT_RDWR);
	pthread_join(thread, NULL);
	close(fds[0]);
	close(fds[1]);
	if (i != trips || back.failed)
		return -1;
	return (double)trips /
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3);
}

static void usage(void)
{
	fprintf(stderr, "usage: ring_bench [--quick] [--reps N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const unsigned int orders[] = { 0, 2 };
	static const struct bench_mode modes[] = {
		{ "busy-poll", PEER_BUSY_POLL, 0 },
		{ "doorbell", PEER_DOORBELL, 0 },
		{ "doorbell+poll", PEER_DOORBELL, 50 },
	};
	uint64_t busy_trips = 10000000, doorbell_trips = 4000000, sock_trips = 200000;
	int reps = 5, i;
	size_t m, o;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			busy_trips /= 10;
			doorbell_trips /= 10;
			sock_trips /= 10;
			reps = 3;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1 || reps > MAX_REPS)
				usage();
		} else {
			usage();
		}
	}

	printf("pvring ring benchmark: 112-byte requests, 16-byte responses, %d CPUs%s, "
	       "median of %d runs\n\n",
	       cpu_count(), cpu_count() >= 2 ? " (front on CPU 0, back on CPU 1)" : "", reps);
	printf("%-13s %5s %5s  %-10s %10s %7s %14s %14s\n", "mode", "order", "slots", "ring",
	       "Mrt/s", "ratio", "kicks/req->bk", "kicks/req->fr");
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		for (o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
			uint64_t trips = busy_trips;
			struct figure fig[2];
			int impl;

			/* Sleeping once per ring cycle is slow: fewer trips say as much. */
			if (modes[m].mode == PEER_DOORBELL)
				trips = modes[m].poll_us ? doorbell_trips : doorbell_trips / 4;

			if (compare(&modes[m], orders[o], trips, reps, fig))
				return 1;
			for (impl = PEER_PVRING; impl <= PEER_XEN_MACROS; impl++)
				printf("%-13s %5u %5u  %-10s %10.2f %7.2f %14.5f %14.5f\n",
				       modes[m].name, orders[o], 32u << orders[o],
				       peer_impl_name(impl), fig[impl].mrt_per_s,
				       fig[impl].mrt_per_s / fig[PEER_XEN_MACROS].mrt_per_s,
				       fig[impl].kicks_to_back, fig[impl].kicks_to_front);
		}
	}
	{
		double sock = socket_pingpong(sock_trips);

		if (sock < 0) {
			fprintf(stderr, "ring_bench: socket baseline failed\n");
			return 1;
		}
		printf("%-13s %5s %5s  %-10s %10.2f %7s %14s %14s\n", "baseline", "-", "-",
		       "unix-sock", sock, "-", "1 write", "1 write");
	}
	printf("\nMrt/s: million request/response round trips per second (higher is better);\n"
	       "ratio: against the Xen public macros in the same mode and order;\n"
	       "kicks/req: notifications sent per request, to the back end and to the front end.\n"
	       "The socket baseline is one request in flight, a write each way per round trip.\n");
	return 0;
}
