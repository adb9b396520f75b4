// SPDX-License-Identifier: MIT
/*
 * A guest that does nothing but ring its back end's doorbell: it connects to a disk through
 * pvringd (local platform) and kicks its queue's event channel in a loop, with nothing on
 * the ring, for --time seconds. The fairness row of make bench-io runs a victim beside it.
 *
 *   kick-storm --rundir DIR --disk NAME [--time S]
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/clock.h"
#include "tools/front/local_front.h"

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rundir", required_argument, NULL, 'r' },
		{ "disk", required_argument, NULL, 'd' },
		{ "time", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct pvring_local_front_opts fo;
	struct pvring_local_front front;
	unsigned long kicks = 0;
	double seconds = 3;
	uint64_t end;
	int c;

	pvring_local_front_opts_init(&fo);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			fo.rundir = optarg;
			break;
		case 'd':
			fo.disk = optarg;
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: kick-storm --rundir DIR --disk NAME [--time S]\n");
			return 2;
		}
	}
	if (!fo.disk) {
		fprintf(stderr, "kick-storm: --disk is required\n");
		return 2;
	}
	if (pvring_local_front_open(&front, &fo) || pvring_local_front_connect(&front)) {
		fprintf(stderr, "kick-storm: %s\n", pvring_local_front_error(&front));
		pvring_local_front_close(&front);
		return 3;
	}
	end = pvring_now_ns() + (uint64_t)(seconds * 1e9);
	while (pvring_now_ns() < end) {
		if (pvring_local_front_kick(&front, 0))
			break;
		kicks++;
	}
	printf("{\"kicks\": %lu}\n", kicks);
	return pvring_local_front_close(&front) ? 1 : 0;
}
