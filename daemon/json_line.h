/* SPDX-License-Identifier: MIT */
/*
 * One JSON value in a piece of text, and nothing but blanks after it: a
 * control socket line (pvringd's requests, pvringctl's replies) or a whole
 * configuration file. Strict JSON (JSON_TOKENER_STRICT) everywhere, so the
 * daemon and its clients agree on what a valid line is: no single quotes, no
 * comments, no trailing commas.
 */
#ifndef PVRING_JSON_LINE_H
#define PVRING_JSON_LINE_H

#include <stddef.h>

struct json_object;

enum pvring_json_status {
	PVRING_JSON_OK,
	PVRING_JSON_NOMEM,
	PVRING_JSON_SYNTAX, /* a bad character (desc says which problem) */
	PVRING_JSON_END, /* the text ends inside the value, or holds none */
	PVRING_JSON_TRAILING, /* something other than blanks after the value */
	PVRING_JSON_DUPLICATE, /* a key given twice in one object (offset: the second) */
	PVRING_JSON_NUL, /* \u0000 in a string, key or value (offset: the string) */
};

struct pvring_json_error {
	enum pvring_json_status status;
	const char *desc; /* json-c's words for PVRING_JSON_SYNTAX, else a fixed message */
	size_t offset; /* of the offending byte (len for PVRING_JSON_END) */
};

/*
 * Parse text[0, len) (no NUL needed) as one JSON value, nested at most depth
 * levels (0: json-c's default), followed by nothing but spaces, tabs, CRs and
 * newlines, with no key twice in an object and no \u0000 in a string (json-c
 * takes both, keeping the last key and a string that C reads short). The value
 * for the caller to put, or NULL with *err filled in.
 */
struct json_object *pvring_json_parse_one(const char *text, size_t len, int depth,
					  struct pvring_json_error *err);

#endif /* PVRING_JSON_LINE_H */
