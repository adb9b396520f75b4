/* SPDX-License-Identifier: MIT */
/*
 * pvringctl's text: the daemon's replies (doc/pvringd-control.md) as tables,
 * and the rates `pvringctl watch` prints. Separate from the program so tests
 * can check the exact output (into an open_memstream FILE).
 *
 * A field missing from a reply prints as "-": a newer or older daemon must not
 * make the tool fail. A reply without the array a table is made of is
 * malformed: the functions return -1 and print nothing.
 */
#ifndef PVRING_CTL_FORMAT_H
#define PVRING_CTL_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

/* The ring counters, in the order of pvring_ctl_counter_names. */
enum pvring_ctl_counter {
	PVRING_CTR_REQUESTS,
	PVRING_CTR_READ,
	PVRING_CTR_WRITE,
	PVRING_CTR_FLUSH,
	PVRING_CTR_BARRIER,
	PVRING_CTR_DISCARD,
	PVRING_CTR_INDIRECT,
	PVRING_CTR_RESPONSES,
	PVRING_CTR_ERRORS,
	PVRING_CTR_KICKS_IN,
	PVRING_CTR_KICKS_OUT,
	PVRING_CTR_BATCHES,
	PVRING_CTR_BATCH_MAX,
	PVRING_CTR_BYTES_READ,
	PVRING_CTR_BYTES_WRITTEN,
	PVRING_CTR_COUNT,
};

extern const char *const pvring_ctl_counter_names[PVRING_CTR_COUNT];

/* One `show` of a device, its rings summed, for rates. */
struct pvring_ctl_sample {
	char device[64];
	double time; /* seconds, any monotonic origin */
	uint64_t counters[PVRING_CTR_COUNT]; /* batch_max: the largest of the rings' */
	uint64_t in_flight;
};

/* `list`: DEVICE DISK STATE FE-STATE QUEUES ORDER SECTORS RO. */
int pvring_fmt_list(FILE *out, struct json_object *reply);
/* `show`: the device's fields, then tables of the rings' indices and counters. */
int pvring_fmt_show(FILE *out, struct json_object *reply);
/* `dump`: INDEX SLOT ID OP SECTOR NSEG SEGMENTS. */
int pvring_fmt_dump(FILE *out, struct json_object *reply);
/* `attach`: the new device's name and store paths. */
int pvring_fmt_attach(FILE *out, struct json_object *reply);
/* --json: the reply, pretty-printed, and a newline. */
void pvring_fmt_json(FILE *out, struct json_object *reply);

/* A sample from a `show` reply taken at time; -1 if the reply has no device. */
int pvring_ctl_sample_from_show(struct json_object *reply, double time,
				struct pvring_ctl_sample *sample);
/* The column header of the text lines of `watch`. */
void pvring_fmt_watch_header(FILE *out);
/* One line of rates between two samples of a device: text, or one JSON object. */
void pvring_fmt_watch(FILE *out, const struct pvring_ctl_sample *prev,
		      const struct pvring_ctl_sample *cur, bool json);

#endif /* PVRING_CTL_FORMAT_H */
