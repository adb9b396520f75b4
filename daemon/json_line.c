// SPDX-License-Identifier: MIT
/* One strict JSON value per text: see json_line.h. */
#include "config.h"

#include "json_line.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
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

/*
 * A second look at text json-c has already parsed, so it is valid JSON: what json-c takes
 * without a word is refused here. A key given twice in one object (json-c keeps the last,
 * so "cmd" could say one thing to a reader of the line and another to pvringd), and a NUL
 * escaped in a string (\u0000: the C string every caller reads stops there).
 */
struct strict_walk {
	const char *text;
	size_t end;
	struct pvring_json_error *err;
};

static size_t skip_blanks(const struct strict_walk *w, size_t i)
{
	while (i < w->end && strchr(" \t\r\n", w->text[i]) && w->text[i])
		i++;
	return i;
}

static bool is_nul_escape(const char *p)
{
	return p[0] == 'u' && p[1] == '0' && p[2] == '0' && p[3] == '0' && p[4] == '0';
}

/* The string starting at the quote text[i]: where it ends (just past its quote). */
static bool walk_string(struct strict_walk *w, size_t i, size_t *after)
{
	size_t start = i;

	for (i++; i < w->end && w->text[i] != '"'; i++) {
		if (w->text[i] != '\\')
			continue;
		/* Valid JSON: an escape is whole, and \uXXXX has its four digits. */
		if (is_nul_escape(w->text + i + 1)) {
			fail(w->err, PVRING_JSON_NUL, "NUL (\\u0000) in a string", start);
			return false;
		}
		i++;
	}
	*after = i + 1;
	return true;
}

/* A key's text as json-c decodes it (escapes and all), to compare keys as json-c does. */
static char *decode_key(const char *text, size_t start, size_t after)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	char *key = NULL;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, text + start, (int)(after - start));
	if (o && json_object_is_type(o, json_type_string))
		key = strdup(json_object_get_string(o));
	json_object_put(o);
	json_tokener_free(tok);
	return key;
}

static bool walk_value(struct strict_walk *w, size_t i, size_t *after);

static bool walk_object(struct strict_walk *w, size_t i, size_t *after)
{
	char **keys = NULL;
	size_t nr_keys = 0, k, key_start;
	bool ok = false;

	i = skip_blanks(w, i + 1);
	while (w->text[i] != '}') {
		char **more, *key;

		key_start = i;
		if (!walk_string(w, i, &i))
			goto out;
		key = decode_key(w->text, key_start, i);
		more = key ? realloc(keys, (nr_keys + 1) * sizeof(*keys)) : NULL;
		if (!more) {
			free(key);
			fail(w->err, PVRING_JSON_NOMEM, "out of memory", key_start);
			goto out;
		}
		keys = more;
		for (k = 0; k < nr_keys; k++) {
			if (!strcmp(keys[k], key)) {
				free(key);
				fail(w->err, PVRING_JSON_DUPLICATE, "duplicate key", key_start);
				goto out;
			}
		}
		keys[nr_keys++] = key;
		i = skip_blanks(w, i); /* the colon */
		if (!walk_value(w, skip_blanks(w, i + 1), &i))
			goto out;
		i = skip_blanks(w, i);
		if (w->text[i] == ',')
			i = skip_blanks(w, i + 1);
	}
	*after = i + 1;
	ok = true;
out:
	for (k = 0; k < nr_keys; k++)
		free(keys[k]);
	free(keys);
	return ok;
}

static bool walk_value(struct strict_walk *w, size_t i, size_t *after)
{
	switch (w->text[i]) {
	case '{':
		return walk_object(w, i, after);
	case '"':
		return walk_string(w, i, after);
	case '[':
		i = skip_blanks(w, i + 1);
		while (w->text[i] != ']') {
			if (!walk_value(w, i, &i))
				return false;
			i = skip_blanks(w, i);
			if (w->text[i] == ',')
				i = skip_blanks(w, i + 1);
		}
		*after = i + 1;
		return true;
	default:
		/* A number, true, false or null: up to what follows it. */
		while (i < w->end && !strchr(",]} \t\r\n", w->text[i]))
			i++;
		*after = i;
		return true;
	}
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
	for (quote = end; quote < len; quote++) {
		if (!strchr(" \t\r\n", text[quote]) || !text[quote]) {
			json_object_put(obj);
			return fail(err, PVRING_JSON_TRAILING, "unexpected data after the value",
				    quote);
		}
	}
	{
		struct strict_walk w = { .text = text, .end = end, .err = err };
		size_t after;

		/* The depth json-c allowed bounds the recursion. */
		if (!walk_value(&w, skip_blanks(&w, 0), &after)) {
			json_object_put(obj);
			return NULL;
		}
	}
	err->status = PVRING_JSON_OK;
	err->desc = NULL;
	err->offset = len;
	return obj;
}
