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
 * A second look at text json-c has already parsed: what json-c takes without a word is
 * refused here. A key given twice in one object (json-c keeps the last, so "cmd" could say
 * one thing to a reader of the line and another to pvringd), and a NUL escaped in a string
 * (\u0000: the C string every caller reads stops there). The walk trusts nothing about the
 * text: every read is within [0, end), and text it cannot follow as JSON (a json-c that
 * tokenizes otherwise, say one that skips \f as a blank) is refused, never passed.
 */
struct strict_walk {
	const char *text;
	size_t end;
	struct pvring_json_error *err;
};

/* A key as the walk saw it: its text as json-c decodes it, and where it starts. */
struct walk_key {
	const char *text;
	size_t len;
	size_t offset;
	char *decoded; /* the key had escapes: json-c's decoding of it, owned */
};

static bool at(const struct strict_walk *w, size_t i, char c)
{
	return i < w->end && w->text[i] == c;
}

static size_t skip_blanks(const struct strict_walk *w, size_t i)
{
	while (i < w->end && (w->text[i] == ' ' || w->text[i] == '\t' || w->text[i] == '\r' ||
			      w->text[i] == '\n'))
		i++;
	return i;
}

/* Text the walk cannot follow: refused as a syntax error at i. */
static bool lost(struct strict_walk *w, size_t i)
{
	fail(w->err, PVRING_JSON_SYNTAX, "unexpected character", i < w->end ? i : w->end);
	return false;
}

/* The string whose quote is text[i]: where it ends (just past its closing quote). */
static bool walk_string(struct strict_walk *w, size_t i, size_t *after, bool *escaped)
{
	size_t start = i;

	if (!at(w, i, '"'))
		return lost(w, i);
	*escaped = false;
	for (i++; i < w->end && w->text[i] != '"'; i++) {
		if (w->text[i] != '\\')
			continue;
		*escaped = true;
		if (w->end - i > 5 && !memcmp(w->text + i + 1, "u0000", 5)) {
			fail(w->err, PVRING_JSON_NUL, "NUL (\\u0000) in a string", start);
			return false;
		}
		i++; /* the escaped character: \" does not end the string */
	}
	if (i >= w->end)
		return lost(w, start);
	*after = i + 1;
	return true;
}

/* The key text[start, after) as json-c decodes it, into k; false if out of memory. */
static bool key_of(struct strict_walk *w, size_t start, size_t after, bool escaped,
		   struct walk_key *k)
{
	struct json_tokener *tok;
	struct json_object *o;

	*k = (struct walk_key){ .text = w->text + start + 1,
				.len = after - start - 2,
				.offset = start };
	if (!escaped)
		return true;
	tok = json_tokener_new();
	o = tok ? json_tokener_parse_ex(tok, w->text + start, (int)(after - start)) : NULL;
	if (o && json_object_is_type(o, json_type_string)) {
		k->decoded = strdup(json_object_get_string(o));
		if (k->decoded) {
			k->text = k->decoded;
			k->len = strlen(k->decoded);
		}
	}
	json_object_put(o);
	json_tokener_free(tok);
	if (!k->decoded)
		fail(w->err, PVRING_JSON_NOMEM, "out of memory", start);
	return k->decoded != NULL;
}

/* By text, then by where they start: equal keys end up side by side, the first first. */
static int key_cmp(const void *a, const void *b)
{
	const struct walk_key *x = a, *y = b;
	int c = memcmp(x->text, y->text, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Whether an object's keys are all different; if not, the earliest second one is refused. */
static bool keys_unique(struct strict_walk *w, struct walk_key *keys, size_t n)
{
	size_t k, dup = w->end;

	if (n < 2)
		return true;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (k = 1; k < n; k++)
		if (keys[k].len == keys[k - 1].len &&
		    !memcmp(keys[k].text, keys[k - 1].text, keys[k].len) && keys[k].offset < dup)
			dup = keys[k].offset;
	if (dup == w->end)
		return true;
	fail(w->err, PVRING_JSON_DUPLICATE, "duplicate key", dup);
	return false;
}

static bool walk_value(struct strict_walk *w, size_t i, size_t *after);

static bool walk_object(struct strict_walk *w, size_t i, size_t *after)
{
	struct walk_key *keys = NULL;
	size_t nr_keys = 0, k, key_start;
	bool ok = false, escaped;

	i = skip_blanks(w, i + 1);
	while (!at(w, i, '}')) {
		struct walk_key *more = realloc(keys, (nr_keys + 1) * sizeof(*keys));

		if (!more) {
			fail(w->err, PVRING_JSON_NOMEM, "out of memory", i);
			goto out;
		}
		keys = more;
		key_start = i;
		if (!walk_string(w, i, &i, &escaped) ||
		    !key_of(w, key_start, i, escaped, &keys[nr_keys]))
			goto out;
		nr_keys++;
		i = skip_blanks(w, i);
		if (!at(w, i, ':')) {
			lost(w, i);
			goto out;
		}
		if (!walk_value(w, skip_blanks(w, i + 1), &i))
			goto out;
		i = skip_blanks(w, i);
		if (at(w, i, ','))
			i = skip_blanks(w, i + 1);
		else if (!at(w, i, '}')) {
			lost(w, i);
			goto out;
		}
	}
	if (!keys_unique(w, keys, nr_keys))
		goto out;
	*after = i + 1;
	ok = true;
out:
	for (k = 0; k < nr_keys; k++)
		free(keys[k].decoded);
	free(keys);
	return ok;
}

static bool walk_value(struct strict_walk *w, size_t i, size_t *after)
{
	bool escaped;

	if (i >= w->end)
		return lost(w, i);
	switch (w->text[i]) {
	case '{':
		return walk_object(w, i, after);
	case '"':
		return walk_string(w, i, after, &escaped);
	case '[':
		i = skip_blanks(w, i + 1);
		while (!at(w, i, ']')) {
			if (!walk_value(w, i, &i))
				return false;
			i = skip_blanks(w, i);
			if (at(w, i, ','))
				i = skip_blanks(w, i + 1);
			else if (!at(w, i, ']'))
				return lost(w, i);
		}
		*after = i + 1;
		return true;
	default:
		/* A number, true, false or null: up to what follows it, at least one character. */
		*after = i;
		while (*after < w->end && !strchr(",]} \t\r\n", w->text[*after]) &&
		       w->text[*after] != '"' && w->text[*after])
			(*after)++;
		return *after > i ? true : lost(w, i);
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

		/* The depth json-c allowed bounds the recursion. It must end where json-c did. */
		bool walked = walk_value(&w, skip_blanks(&w, 0), &after);

		if (walked && skip_blanks(&w, after) != end)
			walked = lost(&w, after);
		if (!walked) {
			json_object_put(obj);
			return NULL;
		}
	}
	err->status = PVRING_JSON_OK;
	err->desc = NULL;
	err->offset = len;
	return obj;
}
