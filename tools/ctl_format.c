// SPDX-License-Identifier: MIT
/* pvringctl's text: see ctl_format.h. */
#include "config.h"

#include "ctl_format.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define MAX_COLS 16
#define CELL_LEN 64 /* a number as text */
#define CELL_MAX PVRING_FMT_CELL_MAX
#define TEXT_MAX PVRING_FMT_TEXT_MAX
#define ROWS_MAX PVRING_FMT_ROWS_MAX

/* ---- the daemon's text: bounded, and nothing that drives the terminal ---- */

/*
 * s into dst (max + 1 bytes), as at most max bytes: control characters as '?'
 * (C0, DEL, and C1 as UTF-8, which terminals obey too), and if s is longer, cut
 * (not inside a UTF-8 character) and ended with "...".
 */
const char *pvring_fmt_clean(const char *s, char *dst, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strnlen(s, max + 1), n = len, i, j = 0;

	if (len > max) {
		n = max - 3;
		while (n > 0 && (u[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f) {
			dst[j++] = '?';
			i++;
		} else {
			dst[j++] = u[i] < 0x20 || u[i] == 0x7f ? '?' : s[i];
		}
	}
	if (len > max) {
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = '\0';
	return dst;
}

/* ---- a table: columns as wide as their widest cell, two spaces apart ---- */

/* Cells are clean, at most CELL_MAX bytes, so no column is wider; the last, not padded, TEXT_MAX.
 */
struct table {
	unsigned int cols;
	size_t rows, cap;
	size_t more; /* rows not kept: beyond ROWS_MAX */
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
	char buf[TEXT_MAX + 1];
	unsigned int i;

	if (t->rows > ROWS_MAX) {
		t->more++;
		return true;
	}
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		char **cells = realloc(t->cells, cap * t->cols * sizeof(*cells));

		if (!cells)
			return false;
		t->cells = cells;
		t->cap = cap;
	}
	for (i = 0; i < t->cols; i++)
		t->cells[t->rows * t->cols + i] = strdup(
			pvring_fmt_clean(row[i], buf, i + 1 < t->cols ? CELL_MAX : TEXT_MAX));
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
	if (t->more)
		fprintf(out, "... %zu more\n", t->more);
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

/*
 * A field as text: strings as they are, numbers in decimal, booleans yes/no, else "-".
 * Strings are the daemon's: pvring_fmt_clean() them, or line_field(), before they are printed.
 */
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

/* A field as text on a line of its own, or at its end: clean, at most TEXT_MAX bytes. */
static const char *line_field(struct json_object *obj, const char *key,
			      char *buf /* TEXT_MAX + 1 */)
{
	char num[CELL_LEN];

	return pvring_fmt_clean(field(obj, key, num, sizeof(num)), buf, TEXT_MAX);
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
static const char *ratio(struct json_object *counters, enum pvring_ctl_counter num,
			 enum pvring_ctl_counter den, char *buf, size_t size)
{
	uint64_t n, d;

	if (!has_uint(counters, pvring_ctl_counter_key(num), &n) ||
	    !has_uint(counters, pvring_ctl_counter_key(den), &d) || d == 0)
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
		{ "device", "device" },
		{ "disk", "disk" },
		{ "image", "image" },
		{ "backend", "backend" },
		{ "io-state", "backend_state" },
		{ "type", "type" },
		{ "domid", "domid" },
		{ "devid", "devid" },
		{ "state", "state" },
		{ "fe-state", "frontend_state" },
		{ "sectors", "sectors" },
		{ "sector-size", "sector_size" },
		{ "read-only", "read_only" },
		{ "queues", "queues" },
		{ "ring-order", "ring_order" },
	};
	uint64_t sectors, sector_size;
	char buf[TEXT_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		fprintf(out, "%-12s%s", keys[i][0], line_field(d, keys[i][1], buf));
		/* The size in bytes is what people compare with the image file. */
		if (!strcmp(keys[i][1], "sectors") && has_uint(d, "sectors", &sectors) &&
		    has_uint(d, "sector_size", &sector_size)) {
			human_bytes((double)sectors * (double)sector_size, buf, sizeof(buf));
			fprintf(out, " (%s)", buf);
		}
		fputc('\n', out);
	}
	if (get(d, "reason"))
		fprintf(out, "%-12s%s\n", "reason", line_field(d, "reason", buf));
}

/*
 * A column of the rings' tables: a field of the ring, a counter, or the ratio
 * of two counters.
 */
struct ring_col {
	const char *header;
	const char *field; /* the ring's; NULL: a counter */
	int num, den; /* enum pvring_ctl_counter: the counter, or num / den if den >= 0 */
};

#define RING_FIELD(header, key)                                                                    \
	{                                                                                          \
		header, key, -1, -1                                                                \
	}
#define COUNTER(header, c)                                                                         \
	{                                                                                          \
		header, NULL, c, -1                                                                \
	}
#define RATIO(header, num, den)                                                                    \
	{                                                                                          \
		header, NULL, num, den                                                             \
	}

static const struct ring_col ring_state[] = {
	RING_FIELD("RING", "queue"),	       RING_FIELD("ORDER", "order"),
	RING_FIELD("WORKER", "worker"),	       RING_FIELD("SLOTS", "slots"),
	RING_FIELD("REQ-PROD", "req_prod"),    RING_FIELD("REQ-CONS", "req_cons"),
	RING_FIELD("REQ-EVENT", "req_event"),  RING_FIELD("RSP-PROD", "rsp_prod"),
	RING_FIELD("RSP-PVT", "rsp_prod_pvt"), RING_FIELD("RSP-EVENT", "rsp_event"),
	RING_FIELD("IN-FLIGHT", "in_flight"),  RING_FIELD("PGRANTS", "persistent_grants"),
	RING_FIELD("FAULT", "fault"),	       RING_FIELD("ENGINE", "engine"),
};

static const struct ring_col ring_ops[] = {
	RING_FIELD("RING", "queue"),
	COUNTER("REQUESTS", PVRING_CTR_REQUESTS),
	COUNTER("READ", PVRING_CTR_READ),
	COUNTER("WRITE", PVRING_CTR_WRITE),
	COUNTER("FLUSH", PVRING_CTR_FLUSH),
	COUNTER("BARRIER", PVRING_CTR_BARRIER),
	COUNTER("DISCARD", PVRING_CTR_DISCARD),
	COUNTER("INDIRECT", PVRING_CTR_INDIRECT),
	COUNTER("RESPONSES", PVRING_CTR_RESPONSES),
	COUNTER("ERRORS", PVRING_CTR_ERRORS),
};

static const struct ring_col ring_kicks[] = {
	RING_FIELD("RING", "queue"),
	COUNTER("KICKS-IN", PVRING_CTR_KICKS_IN),
	COUNTER("KICKS-OUT", PVRING_CTR_KICKS_OUT),
	RATIO("IN/REQ", PVRING_CTR_KICKS_IN, PVRING_CTR_REQUESTS),
	RATIO("OUT/RSP", PVRING_CTR_KICKS_OUT, PVRING_CTR_RESPONSES),
	COUNTER("RESTS", PVRING_CTR_KICK_RESTS),
	COUNTER("BATCHES", PVRING_CTR_BATCHES),
	RATIO("MEAN-BATCH", PVRING_CTR_REQUESTS, PVRING_CTR_BATCHES),
	COUNTER("MAX-BATCH", PVRING_CTR_BATCH_MAX),
	COUNTER("BYTES-READ", PVRING_CTR_BYTES_READ),
	COUNTER("BYTES-WRITTEN", PVRING_CTR_BYTES_WRITTEN),
};

static void ring_table(FILE *out, struct json_object *rings, const struct ring_col *cols,
		       unsigned int ncols)
{
	const char *row[MAX_COLS];
	char b[MAX_COLS][CELL_LEN];
	struct table t;
	unsigned int c;
	size_t i;

	for (c = 0; c < ncols; c++)
		row[c] = cols[c].header;
	table_init(&t, ncols);
	table_add(&t, row);
	for (i = 0; i < json_object_array_length(rings); i++) {
		struct json_object *r = json_object_array_get_idx(rings, i);
		struct json_object *counters = get(r, "counters");

		for (c = 0; c < ncols; c++) {
			const struct ring_col *col = &cols[c];

			if (col->field)
				row[c] = field(r, col->field, b[c], CELL_LEN);
			else if (col->den >= 0)
				row[c] = ratio(counters, col->num, col->den, b[c], CELL_LEN);
			else
				row[c] = field(counters, pvring_ctl_counter_key(col->num), b[c],
					       CELL_LEN);
		}
		table_add(&t, row);
	}
	table_print(&t, out);
}

static void show_rings(FILE *out, struct json_object *rings)
{
	ring_table(out, rings, ring_state, sizeof(ring_state) / sizeof(ring_state[0]));
	fputc('\n', out);
	ring_table(out, rings, ring_ops, sizeof(ring_ops) / sizeof(ring_ops[0]));
	fputc('\n', out);
	ring_table(out, rings, ring_kicks, sizeof(ring_kicks) / sizeof(ring_kicks[0]));
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
	char b[6][CELL_LEN], dev[TEXT_MAX + 1], ring[TEXT_MAX + 1];
	/* 11 segments of "gref:f-l,": a few hundred bytes; one more than TEXT_MAX says it was cut.
	 */
	char segs[TEXT_MAX + 2];
	struct json_object **order;
	struct table t;
	size_t i, n;

	if (!slots)
		return -1;
	n = json_object_array_length(slots);
	fprintf(out, "%s ring %s: %zu request%s in flight\n", line_field(reply, "device", dev),
		line_field(reply, "ring", ring), n, n == 1 ? "" : "s");
	if (n == 0)
		return 0;
	order = calloc(n, sizeof(*order));
	if (!order)
		return -1;
	for (i = 0; i < n; i++)
		order[i] = json_object_array_get_idx(slots, i);
	qsort(order, n, sizeof(*order), by_index);
	table_init(&t, 7);
	table_add(&t, (const char *const[]){ "INDEX", "SLOT", "ID", "OP", "SECTOR", "NSEG",
					     "SEGMENTS" });
	for (i = 0; i < n; i++) {
		struct json_object *s = order[i];

		segments(s, segs, sizeof(segs));
		table_add(&t,
			  (const char *const[]){ field(s, "index", b[0], CELL_LEN),
						 field(s, "slot", b[1], CELL_LEN),
						 field(s, "id", b[2], CELL_LEN),
						 field(s, "op", b[3], CELL_LEN),
						 field(s, "sector", b[4], CELL_LEN),
						 field(s, "nr_segments", b[5], CELL_LEN), segs });
	}
	table_print(&t, out);
	free(order);
	return 0;
}

int pvring_fmt_attach(FILE *out, struct json_object *reply)
{
	char buf[TEXT_MAX + 1];

	if (!get(reply, "device"))
		return -1;
	fprintf(out, "device    %s\n", line_field(reply, "device", buf));
	fprintf(out, "backend   %s\n", line_field(reply, "backend", buf));
	fprintf(out, "frontend  %s\n", line_field(reply, "frontend", buf));
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
			if (!has_uint(c, pvring_ctl_counter_key(k), &v))
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

/*
 * The columns of `watch` between DEVICE and IN-FLIGHT: a counter's rate, and
 * where its JSON line has it.
 */
static const struct watch_col {
	const char *header;
	enum pvring_ctl_counter counter;
	double unit; /* the rate in: 1 (per second), or 1e6 (MB: as disks and iostat count) */
	int decimals;
	const char *json; /* a key of the line, or NULL: the counter's in "requests_per_sec" */
} watch_cols[] = {
	{ "READ/s", PVRING_CTR_READ, 1, 1, NULL },
	{ "WRITE/s", PVRING_CTR_WRITE, 1, 1, NULL },
	{ "FLUSH/s", PVRING_CTR_FLUSH, 1, 1, NULL },
	{ "BARRIER/s", PVRING_CTR_BARRIER, 1, 1, NULL },
	{ "DISCARD/s", PVRING_CTR_DISCARD, 1, 1, NULL },
	{ "INDIRECT/s", PVRING_CTR_INDIRECT, 1, 1, NULL },
	{ "READ-MB/s", PVRING_CTR_BYTES_READ, 1e6, 2, "read_mb_per_sec" },
	{ "WRITE-MB/s", PVRING_CTR_BYTES_WRITTEN, 1e6, 2, "write_mb_per_sec" },
	{ "KICKS-IN/s", PVRING_CTR_KICKS_IN, 1, 1, "kicks_in_per_sec" },
	{ "KICKS-OUT/s", PVRING_CTR_KICKS_OUT, 1, 1, "kicks_out_per_sec" },
};

#define WATCH_COLS (sizeof(watch_cols) / sizeof(watch_cols[0]))
#define WATCH_DEVICE_WIDTH 12
/* Room for 9999999.9/s: streamed lines cannot be measured first like a table. */
#define WATCH_MIN_WIDTH 9

static int watch_width(const char *header)
{
	size_t n = strlen(header);

	return (int)(n > WATCH_MIN_WIDTH ? n : WATCH_MIN_WIDTH);
}

void pvring_fmt_watch_header(FILE *out)
{
	size_t i;

	fprintf(out, "%-*s", WATCH_DEVICE_WIDTH, "DEVICE");
	for (i = 0; i < WATCH_COLS; i++)
		fprintf(out, "  %*s", watch_width(watch_cols[i].header), watch_cols[i].header);
	fprintf(out, "  %*s\n", watch_width("IN-FLIGHT"), "IN-FLIGHT");
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
	json_object_object_add(o, "requests_per_sec", ops);
	for (i = 0; i < WATCH_COLS; i++) {
		const struct watch_col *col = &watch_cols[i];

		if (col->json)
			json_object_object_add(o, col->json, json_rate(values[i], col->decimals));
		else
			json_object_object_add(ops, pvring_ctl_counter_key(col->counter),
					       json_rate(values[i], col->decimals));
	}
	json_object_object_add(o, "in_flight", json_object_new_uint64(cur->in_flight));
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void pvring_fmt_watch(FILE *out, const struct pvring_ctl_sample *prev,
		      const struct pvring_ctl_sample *cur, bool json)
{
	double seconds = cur->time - prev->time, values[WATCH_COLS];
	char device[sizeof(cur->device)];
	size_t i;

	for (i = 0; i < WATCH_COLS; i++)
		values[i] = rate(prev, cur, watch_cols[i].counter, seconds) / watch_cols[i].unit;
	if (json) {
		watch_json(out, cur, values, seconds);
		return;
	}
	fprintf(out, "%-*s", WATCH_DEVICE_WIDTH,
		pvring_fmt_clean(cur->device, device, sizeof(device) - 1));
	for (i = 0; i < WATCH_COLS; i++)
		fprintf(out, "  %*.*f", watch_width(watch_cols[i].header), watch_cols[i].decimals,
			values[i]);
	fprintf(out, "  %*" PRIu64 "\n", watch_width("IN-FLIGHT"), cur->in_flight);
}
