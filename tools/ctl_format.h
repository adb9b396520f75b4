/* SPDX-License-Identifier: MIT */
/*
 * pvringctl's text: the daemon's replies (doc/pvringd-control.md) as tables,
 * and the rates `pvringctl watch` prints. Separate from the program so tests
 * can check the exact output (into an open_memstream FILE).
 *
 * A field missing from a reply prints as "-": a newer or older daemon must not
 * make the tool fail. A reply without the array a table is made of is
 * malformed: the functions return -1 and print nothing.
 *
 * Nor may a hostile or broken daemon flood the terminal or drive it: control
 * bytes print as '?', a table cell is cut at 64 bytes (the last column, and
 * values on their own line, at 1024) with "...", and a table shows at most
 * 10000 rows, then "... N more".
 */
#ifndef PVRING_CTL_FORMAT_H
#define PVRING_CTL_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/ctl_fields.h"

struct json_object;

/* The bounds on what one reply prints (see above). */
#define PVRING_FMT_CELL_MAX 64
#define PVRING_FMT_TEXT_MAX 1024
#define PVRING_FMT_ROWS_MAX 10000

/* One `show` of a device, its rings summed, for rates. */
struct pvring_ctl_sample {
	char device[64];
	double time; /* seconds, any monotonic origin */
	uint64_t counters[PVRING_CTR_COUNT]; /* batch_max: the largest of the rings' */
	uint64_t in_flight;
};

/* `list`: DEVICE DISK STATE FE-STATE QUEUES ORDER SECTORS RO. */
/*
 * What the daemon sent, fit for a terminal: control bytes (C0, DEL, C1) as
 * '?', cut with "..." after max bytes (never inside a character); dst holds
 * max + 1 bytes. Returns dst.
 */
const char *pvring_fmt_clean(const char *s, char *dst, size_t max);

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
