// SPDX-License-Identifier: MIT
/* pvringctl's text: see ctl_format.h. */
#include "config.h"

#include "ctl_format.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define MAX_COLS 16
#define CELL_LEN 64

const char *const pvring_ctl_counter_names[PVRING_CTR_COUNT] = {
	"requests",  "read",	 "write",     "flush",	    "barrier",
	"discard",   "indirect", "responses", "errors",	    "kicks_in",
	"kicks_out", "batches",	 "batch_max", "bytes_read", "bytes_written",
};

/* ---- a table: columns as wide as their widest cell, two spaces apart ---- */

struct table {
	unsigned int cols;
	size_t rows, cap;
	char **cells; /* rows * cols, row 0 the header */
};

static void table_init(struct table *t, unsigned int cols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
}

/* Append a row of cols strings; false if out of memory. */
static bool table_add(struct table *t, const char *const *row)
{
	unsigned int i;

	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		char **cells = realloc(t->cells, cap * t->cols * sizeof(*cells));

		if (!cells)
			return false;
		t->cells = cells;
		t->cap = cap;
	}
	for (i = 0; i < t->cols; i++)
		t->cells[t->rows * t->cols + i] = strdup(row[i]);
	t->rows++;
	return true;
}

/* Print and free. The last column is not padded: no trailing blanks. */
static void table_print(struct table *t, FILE *out)
{
	size_t width[MAX_COLS] = { 0 };
	unsigned int c;
	size_t r;

	for (r = 0; r < t->rows; r++) {
		for (c = 0; c < t->cols; c++) {
			const char *s = t->cells[r * t->cols + c];
			size_t n = s ? strlen(s) : 1;

			if (n > width[c])
				width[c] = n;
		}
	}
	for (r = 0; r < t->rows; r++) {
		for (c = 0; c < t->cols; c++) {
			const char *s = t->cells[r * t->cols + c];

			if (!s)
				s = "?";
			if (c + 1 < t->cols)
				fprintf(out, "%-*s  ", (int)width[c], s);
			else
				fprintf(out, "%s\n", s);
		}
	}
	for (r = 0; r < t->rows * t->cols; r++)
		free(t->cells[r]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* ---- fields ---- */

static struct json_object *get(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return obj && json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

/* A field as text: strings as they are, numbers in decimal, booleans yes/no, else "-". */
static const char *field(struct json_object *obj, const char *key, char *buf, size_t size)
{
	struct json_object *v = get(obj, key);

	switch (v ? json_object_get_type(v) : json_type_null) {
	case json_type_string:
		return json_object_get_string(v);
	case json_type_int:
		/* json-c holds counters above INT64_MAX as unsigned. */
		if (json_object_get_int64(v) < 0)
			snprintf(buf, size, "%" PRId64, json_object_get_int64(v));
		else
			snprintf(buf, size, "%" PRIu64, json_object_get_uint64(v));
		return buf;
	case json_type_boolean:
		return json_object_get_boolean(v) ? "yes" : "no";
	case json_type_double:
		snprintf(buf, size, "%g", json_object_get_double(v));
		return buf;
	default:
		return "-";
	}
}

static bool has_uint(struct json_object *obj, const char *key, uint64_t *value)
{
	struct json_object *v = get(obj, key);

	if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return false;
	*value = json_object_get_uint64(v);
	return true;
}

static struct json_object *get_array(struct json_object *obj, const char *key)
{
	struct json_object *v = get(obj, key);

	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

/* num / den with two decimals, "-" when there is nothing to divide. */
static const char *ratio(struct json_object *counters, const char *num, const char *den, char *buf,
			 size_t size)
{
	uint64_t n, d;

	if (!has_uint(counters, num, &n) || !has_uint(counters, den, &d) || d == 0)
		return "-";
	snprintf(buf, size, "%.2f", (double)n / (double)d);
	return buf;
}

static void human_bytes(double bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned int u = 0;

	while (bytes >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024.0;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* ---- the commands ---- */

int pvring_fmt_list(FILE *out, struct json_object *reply)
{
	struct json_object *devices = get_array(reply, "devices");
	char b[8][CELL_LEN];
	struct table t;
	size_t i;

	if (!devices)
		return -1;
	table_init(&t, 8);
	table_add(&t, (const char *const[]){ "DEVICE", "DISK", "STATE", "FE-STATE", "QUEUES",
					     "ORDER", "SECTORS", "RO" });
	for (i = 0; i < json_object_array_length(devices); i++) {
		struct json_object *d = json_object_array_get_idx(devices, i);
		const char *row[] = {
			field(d, "device", b[0], CELL_LEN),
			field(d, "disk", b[1], CELL_LEN),
			field(d, "state", b[2], CELL_LEN),
			field(d, "frontend_state", b[3], CELL_LEN),
			field(d, "queues", b[4], CELL_LEN),
			field(d, "ring_order", b[5], CELL_LEN),
			field(d, "sectors", b[6], CELL_LEN),
			field(d, "read_only", b[7], CELL_LEN),
		};

		table_add(&t, row);
	}
	table_print(&t, out);
	return 0;
}

static void show_header(FILE *out, struct json_object *d)
{
	static const char *const keys[][2] = {
		{ "device", "device" },		{ "disk", "disk" },
		{ "image", "image" },		{ "type", "type" },
		{ "domid", "domid" },		{ "devid", "devid" },
		{ "state", "state" },		{ "fe-state", "frontend_state" },
		{ "sectors", "sectors" },	{ "sector-size", "sector_size" },
		{ "read-only", "read_only" },	{ "queues", "queues" },
		{ "ring-order", "ring_order" },
	};
	uint64_t sectors, sector_size;
	char buf[CELL_LEN];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		fprintf(out, "%-12s%s", keys[i][0], field(d, keys[i][1], buf, sizeof(buf)));
		/* The size in bytes is what people compare with the image file. */
		if (!strcmp(keys[i][1], "sectors") && has_uint(d, "sectors", &sectors) &&
		    has_uint(d, "sector_size", &sector_size)) {
			human_bytes((double)sectors * (double)sector_size, buf, sizeof(buf));
			fprintf(out, " (%s)", buf);
		}
		fputc('\n', out);
	}
	if (get(d, "reason"))
		fprintf(out, "%-12s%s\n", "reason", field(d, "reason", buf, sizeof(buf)));
}

static void show_rings(FILE *out, struct json_object *rings)
{
	char b[12][CELL_LEN];
	struct table t;
	size_t i, n = json_object_array_length(rings);

	table_init(&t, 11);
	table_add(&t, (const char *const[]){ "RING", "ORDER", "SLOTS", "REQ-PROD", "REQ-CONS",
					     "REQ-EVENT", "RSP-PROD", "RSP-PVT", "RSP-EVENT",
					     "IN-FLIGHT", "FAULT" });
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(rings, i);
		const char *row[] = {
			field(r, "queue", b[0], CELL_LEN),
			field(r, "order", b[1], CELL_LEN),
			field(r, "slots", b[2], CELL_LEN),
			field(r, "req_prod", b[3], CELL_LEN),
			field(r, "req_cons", b[4], CELL_LEN),
			field(r, "req_event", b[5], CELL_LEN),
			field(r, "rsp_prod", b[6], CELL_LEN),
			field(r, "rsp_prod_pvt", b[7], CELL_LEN),
			field(r, "rsp_event", b[8], CELL_LEN),
			field(r, "in_flight", b[9], CELL_LEN),
			field(r, "fault", b[10], CELL_LEN),
		};

		table_add(&t, row);
	}
	table_print(&t, out);

	fputc('\n', out);
	table_init(&t, 10);
	table_add(&t,
		  (const char *const[]){ "RING", "REQUESTS", "READ", "WRITE", "FLUSH", "BARRIER",
					 "DISCARD", "INDIRECT", "RESPONSES", "ERRORS" });
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(rings, i);
		struct json_object *c = get(r, "counters");
		const char *row[] = {
			field(r, "queue", b[0], CELL_LEN),     field(c, "requests", b[1], CELL_LEN),
			field(c, "read", b[2], CELL_LEN),      field(c, "write", b[3], CELL_LEN),
			field(c, "flush", b[4], CELL_LEN),     field(c, "barrier", b[5], CELL_LEN),
			field(c, "discard", b[6], CELL_LEN),   field(c, "indirect", b[7], CELL_LEN),
			field(c, "responses", b[8], CELL_LEN), field(c, "errors", b[9], CELL_LEN),
		};

		table_add(&t, row);
	}
	table_print(&t, out);

	fputc('\n', out);
	table_init(&t, 10);
	table_add(&t, (const char *const[]){ "RING", "KICKS-IN", "KICKS-OUT", "IN/REQ", "OUT/RSP",
					     "BATCHES", "MEAN-BATCH", "MAX-BATCH", "BYTES-READ",
					     "BYTES-WRITTEN" });
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(rings, i);
		struct json_object *c = get(r, "counters");
		const char *row[] = {
			field(r, "queue", b[0], CELL_LEN),
			field(c, "kicks_in", b[1], CELL_LEN),
			field(c, "kicks_out", b[2], CELL_LEN),
			ratio(c, "kicks_in", "requests", b[3], CELL_LEN),
			ratio(c, "kicks_out", "responses", b[4], CELL_LEN),
			field(c, "batches", b[5], CELL_LEN),
			ratio(c, "requests", "batches", b[6], CELL_LEN),
			field(c, "batch_max", b[7], CELL_LEN),
			field(c, "bytes_read", b[8], CELL_LEN),
			field(c, "bytes_written", b[9], CELL_LEN),
		};

		table_add(&t, row);
	}
	table_print(&t, out);
}

int pvring_fmt_show(FILE *out, struct json_object *reply)
{
	struct json_object *d = get(reply, "device"), *rings;

	if (!d || !json_object_is_type(d, json_type_object))
		return -1;
	show_header(out, d);
	fputc('\n', out);
	rings = get_array(d, "rings");
	if (!rings || json_object_array_length(rings) == 0) {
		fprintf(out, "no rings (not connected)\n");
		return 0;
	}
	show_rings(out, rings);
	return 0;
}

/* A request's segments as "gref:first-last,...", or its sector count for a discard. */
static void segments(struct json_object *slot, char *buf, size_t size)
{
	struct json_object *segs = get_array(slot, "segments");
	char a[CELL_LEN], b[CELL_LEN], c[CELL_LEN];
	size_t i, len = 0;

	buf[0] = '\0';
	if (!segs) {
		if (get(slot, "nr_sectors"))
			snprintf(buf, size, "nr_sectors=%s",
				 field(slot, "nr_sectors", a, CELL_LEN));
		else
			snprintf(buf, size, "-");
		return;
	}
	for (i = 0; i < json_object_array_length(segs) && len < size; i++) {
		struct json_object *s = json_object_array_get_idx(segs, i);

		len += (size_t)snprintf(buf + len, size - len, "%s%s:%s-%s", i ? "," : "",
					field(s, "gref", a, CELL_LEN),
					field(s, "first_sect", b, CELL_LEN),
					field(s, "last_sect", c, CELL_LEN));
	}
	if (!buf[0])
		snprintf(buf, size, "-");
}

static uint32_t slot_index(const void *p)
{
	struct json_object *v = get(*(struct json_object *const *)p, "index");

	return v ? (uint32_t)json_object_get_int64(v) : 0;
}

/* Oldest first. Indices are free-running and wrap: compare their distance. */
static int by_index(const void *a, const void *b)
{
	int32_t d = (int32_t)(slot_index(a) - slot_index(b));

	return d < 0 ? -1 : d > 0;
}

int pvring_fmt_dump(FILE *out, struct json_object *reply)
{
	struct json_object *slots = get_array(reply, "slots");
	char b[6][CELL_LEN], dev[CELL_LEN], ring[CELL_LEN];
	/* 11 segments (more with indirect) of "gref:f-l,": a few hundred bytes at most. */
	char *segs;
	struct json_object **order;
	struct table t;
	size_t i, n;

	if (!slots)
		return -1;
	n = json_object_array_length(slots);
	fprintf(out, "%s ring %s: %zu request%s in flight\n", field(reply, "device", dev, CELL_LEN),
		field(reply, "ring", ring, CELL_LEN), n, n == 1 ? "" : "s");
	if (n == 0)
		return 0;
	segs = malloc(64 * 1024);
	order = calloc(n, sizeof(*order));
	if (!segs || !order) {
		free(segs);
		free(order);
		return -1;
	}
	for (i = 0; i < n; i++)
		order[i] = json_object_array_get_idx(slots, i);
	qsort(order, n, sizeof(*order), by_index);
	table_init(&t, 7);
	table_add(&t, (const char *const[]){ "INDEX", "SLOT", "ID", "OP", "SECTOR", "NSEG",
					     "SEGMENTS" });
	for (i = 0; i < n; i++) {
		struct json_object *s = order[i];

		segments(s, segs, 64 * 1024);
		table_add(&t,
			  (const char *const[]){ field(s, "index", b[0], CELL_LEN),
						 field(s, "slot", b[1], CELL_LEN),
						 field(s, "id", b[2], CELL_LEN),
						 field(s, "op", b[3], CELL_LEN),
						 field(s, "sector", b[4], CELL_LEN),
						 field(s, "nr_segments", b[5], CELL_LEN), segs });
	}
	table_print(&t, out);
	free(segs);
	free(order);
	return 0;
}

int pvring_fmt_attach(FILE *out, struct json_object *reply)
{
	char buf[CELL_LEN];

	if (!get(reply, "device"))
		return -1;
	fprintf(out, "device    %s\n", field(reply, "device", buf, sizeof(buf)));
	fprintf(out, "backend   %s\n", field(reply, "backend", buf, sizeof(buf)));
	fprintf(out, "frontend  %s\n", field(reply, "frontend", buf, sizeof(buf)));
	return 0;
}

void pvring_fmt_json(FILE *out, struct json_object *reply)
{
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_SPACED |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- watch ---- */

int pvring_ctl_sample_from_show(struct json_object *reply, double time,
				struct pvring_ctl_sample *sample)
{
	struct json_object *d = get(reply, "device"), *rings, *name;
	size_t i, k;

	memset(sample, 0, sizeof(*sample));
	name = get(d, "device");
	if (!d || !name || !json_object_is_type(name, json_type_string))
		return -1;
	snprintf(sample->device, sizeof(sample->device), "%s", json_object_get_string(name));
	sample->time = time;
	rings = get_array(d, "rings");
	for (i = 0; rings && i < json_object_array_length(rings); i++) {
		struct json_object *r = json_object_array_get_idx(rings, i);
		struct json_object *c = get(r, "counters");
		uint64_t v;

		if (has_uint(r, "in_flight", &v))
			sample->in_flight += v;
		for (k = 0; k < PVRING_CTR_COUNT; k++) {
			if (!has_uint(c, pvring_ctl_counter_names[k], &v))
				continue;
			if (k == PVRING_CTR_BATCH_MAX)
				sample->counters[k] =
					v > sample->counters[k] ? v : sample->counters[k];
			else
				sample->counters[k] += v;
		}
	}
	return 0;
}

/* Per second; a counter that went back started again (the ring reconnected): count from 0. */
static double rate(const struct pvring_ctl_sample *prev, const struct pvring_ctl_sample *cur,
		   enum pvring_ctl_counter k, double seconds)
{
	uint64_t a = prev->counters[k], b = cur->counters[k];

	if (seconds <= 0)
		return 0;
	return (double)(b >= a ? b - a : b) / seconds;
}

static const enum pvring_ctl_counter watch_ops[] = {
	PVRING_CTR_READ,    PVRING_CTR_WRITE,	PVRING_CTR_FLUSH,
	PVRING_CTR_BARRIER, PVRING_CTR_DISCARD, PVRING_CTR_INDIRECT,
};

static const char *const watch_cols[] = { "READ/s",	"WRITE/s",     "FLUSH/s",   "BARRIER/s",
					  "DISCARD/s",	"INDIRECT/s",  "READ-MB/s", "WRITE-MB/s",
					  "KICKS-IN/s", "KICKS-OUT/s", "IN-FLIGHT" };

#define WATCH_DEVICE_WIDTH 12
/* Room for 9999999.9/s: streamed lines cannot be measured first like a table. */
#define WATCH_MIN_WIDTH 9

static int watch_width(size_t col)
{
	size_t n = strlen(watch_cols[col]);

	return (int)(n > WATCH_MIN_WIDTH ? n : WATCH_MIN_WIDTH);
}

void pvring_fmt_watch_header(FILE *out)
{
	size_t i;

	fprintf(out, "%-*s", WATCH_DEVICE_WIDTH, "DEVICE");
	for (i = 0; i < sizeof(watch_cols) / sizeof(watch_cols[0]); i++)
		fprintf(out, "  %*s", watch_width(i), watch_cols[i]);
	fputc('\n', out);
}

static struct json_object *json_rate(double v, int decimals)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	/* The text as printed: json-c's own %.17g would show 0.10000000000000001. */
	return json_object_new_double_s(v, buf);
}

static void watch_json(FILE *out, const struct pvring_ctl_sample *cur, const double *values,
		       double seconds)
{
	struct json_object *o = json_object_new_object(), *ops = json_object_new_object();
	size_t i;

	if (!o || !ops) {
		json_object_put(o);
		json_object_put(ops);
		return;
	}
	json_object_object_add(o, "device", json_object_new_string(cur->device));
	json_object_object_add(o, "interval", json_rate(seconds, 3));
	for (i = 0; i < sizeof(watch_ops) / sizeof(watch_ops[0]); i++)
		json_object_object_add(ops, pvring_ctl_counter_names[watch_ops[i]],
				       json_rate(values[i], 1));
	json_object_object_add(o, "requests_per_sec", ops);
	json_object_object_add(o, "read_mb_per_sec", json_rate(values[6], 2));
	json_object_object_add(o, "write_mb_per_sec", json_rate(values[7], 2));
	json_object_object_add(o, "kicks_in_per_sec", json_rate(values[8], 1));
	json_object_object_add(o, "kicks_out_per_sec", json_rate(values[9], 1));
	json_object_object_add(o, "in_flight", json_object_new_uint64(cur->in_flight));
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void pvring_fmt_watch(FILE *out, const struct pvring_ctl_sample *prev,
		      const struct pvring_ctl_sample *cur, bool json)
{
	double seconds = cur->time - prev->time, values[10];
	size_t i;

	for (i = 0; i < sizeof(watch_ops) / sizeof(watch_ops[0]); i++)
		values[i] = rate(prev, cur, watch_ops[i], seconds);
	/* MB: 10^6 bytes, as disks and iostat count. */
	values[6] = rate(prev, cur, PVRING_CTR_BYTES_READ, seconds) / 1e6;
	values[7] = rate(prev, cur, PVRING_CTR_BYTES_WRITTEN, seconds) / 1e6;
	values[8] = rate(prev, cur, PVRING_CTR_KICKS_IN, seconds);
	values[9] = rate(prev, cur, PVRING_CTR_KICKS_OUT, seconds);
	if (json) {
		watch_json(out, cur, values, seconds);
		return;
	}
	fprintf(out, "%-*s", WATCH_DEVICE_WIDTH, cur->device);
	for (i = 0; i < 10; i++)
		fprintf(out, "  %*.*f", watch_width(i), i == 6 || i == 7 ? 2 : 1, values[i]);
	fprintf(out, "  %*" PRIu64 "\n", watch_width(10), cur->in_flight);
}
