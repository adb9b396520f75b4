// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: pvring_json_parse_one (daemon/json_line.c), the parser of every control
 * socket line and configuration file. Its second look at the text (duplicate keys, \u0000)
 * walks the text by offsets; this checks it never reads astray and that its verdicts hold,
 * judged another way:
 *  - a value accepted has no string (key or value) with a NUL in it, and as many members in
 *    its objects as the text has colons outside strings (a duplicate key would leave fewer:
 *    json-c keeps one);
 *  - text refused as a duplicate or a NUL says where: the offset is a quote in the text.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "daemon/json_line.h"

#include "tests/fuzz/fuzz_require.h"

/* Members of every object in v, and whether any string in it holds a NUL. */
static size_t count_members(struct json_object *v, int *nul)
{
	size_t n = 0, i;

	switch (json_object_get_type(v)) {
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			n += 1 + count_members(val, nul);
		}
		break;
	}
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			n += count_members(json_object_array_get_idx(v, i), nul);
		break;
	case json_type_string:
		if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
			*nul = 1;
		break;
	default:
		break;
	}
	return n;
}

/* Colons outside strings in data[0, size); whether a string's text holds \u0000. */
static size_t count_colons(const uint8_t *data, size_t size, int *nul_escape)
{
	size_t n = 0, i;
	int in_string = 0;

	for (i = 0; i < size; i++) {
		if (in_string && data[i] == '\\') {
			if (size - i > 5 && !memcmp(data + i + 1, "u0000", 5))
				*nul_escape = 1;
			i++;
		} else if (data[i] == '"') {
			in_string = !in_string;
		} else if (!in_string && data[i] == ':') {
			n++;
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvring_json_error err;
	struct json_object *v = pvring_json_parse_one((const char *)data, size, 32, &err);

	/* json-c's null is NULL: an accepted "null" looks like a failure but for the status. */
	if (v || err.status == PVRING_JSON_OK) {
		int nul = 0, nul_escape = 0;
		size_t members = count_members(v, &nul);

		require(err.status == PVRING_JSON_OK);
		require(!nul);
		require(members == count_colons(data, size, &nul_escape));
		require(!nul_escape);
		json_object_put(v);
		return 0;
	}
	require(err.status != PVRING_JSON_OK);
	require(err.desc);
	if (err.status == PVRING_JSON_DUPLICATE || err.status == PVRING_JSON_NUL) {
		require(err.offset < size && data[err.offset] == '"');
	}
	return 0;
}
