// SPDX-License-Identifier: MIT
/* One strict JSON value per text: see json_line.h. */
#include "config.h"

#include "json_line.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

static struct json_object *fail(struct pvring_json_error *err, enum pvring_json_status status,
				const char *desc, size_t offset)
{
	err->status = status;
	err->desc = desc;
	err->offset = offset;
	return NULL;
}

/* Where a ' outside a string is in text[0, len), if anywhere. */
static bool stray_quote(const char *text, size_t len, size_t *offset)
{
	bool in_string = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (in_string && text[i] == '\\')
			i++; /* an escaped character: \" does not end the string */
		else if (text[i] == '"')
			in_string = !in_string;
		else if (!in_string && text[i] == '\'') {
			*offset = i;
			return true;
		}
	}
	return false;
}

struct json_object *pvring_json_parse_one(const char *text, size_t len, int depth,
					  struct pvring_json_error *err)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end, quote;

	if (len > INT_MAX)
		return fail(err, PVRING_JSON_SYNTAX, "too long", INT_MAX);
	tok = depth > 0 ? json_tokener_new_ex(depth) : json_tokener_new();
	if (!tok)
		return fail(err, PVRING_JSON_NOMEM, "out of memory", 0);
	/* The trailing bytes are checked here, with our own notion of blanks. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/*
		 * The tokener cannot tell where a value ends at the end of its input (a number
		 * might go on): feed it the terminating NUL, which ends a complete value ("5").
		 * Whatever it still lacks (empty text included) is an unexpected end.
		 */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr != json_tokener_success) {
			json_object_put(obj);
			json_tokener_free(tok);
			return fail(err, PVRING_JSON_END, "unexpected end", len);
		}
		end = len;
	}
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		/* parse_end is just past the offending character. */
		return fail(err, PVRING_JSON_SYNTAX, json_tokener_error_desc(jerr),
			    end ? end - 1 : 0);
	}
	/* json-c's strict mode still takes 'single-quoted' keys: no quote outside a string. */
	if (stray_quote(text, end, &quote)) {
		json_object_put(obj);
		return fail(err, PVRING_JSON_SYNTAX,
			    json_tokener_error_desc(json_tokener_error_parse_unexpected), quote);
	}
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", text[end]) || !text[end]) {
			json_object_put(obj);
			return fail(err, PVRING_JSON_TRAILING, "unexpected data after the value",
				    end);
		}
	}
	err->status = PVRING_JSON_OK;
	err->desc = NULL;
	err->offset = len;
	return obj;
}
