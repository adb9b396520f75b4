// SPDX-License-Identifier: MIT
/* Engines' image names: see image_name.h. */
#include "config.h"

#include "image_name.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/number.h"

#define RBD_PREFIX "rbd:"
#define NBD_TCP_PREFIX "nbd://"
#define NBD_UNIX_PREFIX "nbd+unix://"
#define NBD_DEFAULT_PORT 10809u

static int bad(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

bool pvring_image_name_is_remote(const char *name)
{
	return starts_with(name, RBD_PREFIX) || starts_with(name, "nbd:") ||
	       starts_with(name, "nbds:") || starts_with(name, "nbd+") ||
	       starts_with(name, "nbds+");
}

const char *pvring_image_kind_name(enum pvring_image_kind kind)
{
	switch (kind) {
	case PVRING_IMAGE_RBD:
		return "rbd";
	case PVRING_IMAGE_NBD:
		return "nbd";
	default:
		return "file";
	}
}

/* Copy [s, s + len) into out (size out_len) if it fits with its NUL. */
static bool copy_span(char *out, size_t out_len, const char *s, size_t len)
{
	if (len >= out_len)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* ---- rbd:POOL/IMAGE[@SNAP][:id=CLIENT][:conf=PATH] ---- */

/* A pool, image or snapshot name: not empty, none of the separators. */
static bool rbd_word_ok(const char *s)
{
	return *s && !strpbrk(s, "/@:");
}

static bool client_id_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int rbd_option(const char *opt, size_t len, struct pvring_image_name *out, char *why,
		      size_t why_len)
{
	const char *eq = memchr(opt, '=', len);
	char value[256];
	size_t key_len;

	if (!eq)
		return bad(why, why_len, "rbd option \"%.*s\" is not key=value", (int)len, opt);
	key_len = (size_t)(eq - opt);
	if (!copy_span(value, sizeof(value), eq + 1, len - key_len - 1))
		return bad(why, why_len, "rbd option \"%.*s\" is too long", (int)key_len, opt);
	if (key_len == 2 && !strncmp(opt, "id", 2)) {
		if (out->id[0])
			return bad(why, why_len, "rbd option id given twice");
		if (!client_id_ok(value) || strlen(value) >= sizeof(out->id))
			return bad(why, why_len, "rbd id \"%s\" is not a client name", value);
		strcpy(out->id, value);
		return 0;
	}
	if (key_len == 4 && !strncmp(opt, "conf", 4)) {
		if (out->conf[0])
			return bad(why, why_len, "rbd option conf given twice");
		if (value[0] != '/')
			return bad(why, why_len, "rbd conf \"%s\" is not an absolute path", value);
		strcpy(out->conf, value);
		return 0;
	}
	return bad(why, why_len, "rbd option \"%.*s\" is not one pvringd takes (id, conf)",
		   (int)key_len, opt);
}

static int parse_rbd(const char *spec, bool entry, struct pvring_image_name *out, char *why,
		     size_t why_len)
{
	const char *end = strchr(spec, ':'), *slash, *at;
	char target[400];
	int err;

	if (!end)
		end = spec + strlen(spec);
	if (!copy_span(target, sizeof(target), spec, (size_t)(end - spec)))
		return bad(why, why_len, "rbd name too long");
	if (strchr(target, '\\'))
		return bad(why, why_len, "rbd names with backslash escapes are not supported");
	at = strchr(target, '@');
	if (at) {
		if (!copy_span(out->snap, sizeof(out->snap), at + 1, strlen(at + 1)) ||
		    !rbd_word_ok(out->snap))
			return bad(why, why_len, "rbd snapshot name missing or too long");
		target[at - target] = '\0';
	}
	slash = strchr(target, '/');
	if (!slash) {
		if (!entry)
			return bad(why, why_len, "an rbd name is rbd:POOL/IMAGE");
		if (out->snap[0])
			return bad(why, why_len, "a snapshot needs an image: rbd:POOL/IMAGE@SNAP");
		slash = target + strlen(target);
	} else if (!copy_span(out->image, sizeof(out->image), slash + 1, strlen(slash + 1)) ||
		   !rbd_word_ok(out->image)) {
		return bad(why, why_len, "rbd image name missing, too long or with a '/'");
	}
	if (!copy_span(out->pool, sizeof(out->pool), target, (size_t)(slash - target)) ||
	    !rbd_word_ok(out->pool))
		return bad(why, why_len, "rbd pool name missing or too long");
	while (*end == ':') {
		const char *opt = end + 1;

		end = strchr(opt, ':');
		if (!end)
			end = opt + strlen(opt);
		err = rbd_option(opt, (size_t)(end - opt), out, why, why_len);
		if (err)
			return err;
	}
	return 0;
}

/* ---- nbd://HOST[:PORT][/EXPORT] and nbd+unix:///[EXPORT]?socket=PATH ---- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX escapes of [s, s + len) into out; false if malformed, a NUL, or too long. */
static bool percent_decode(char *out, size_t out_len, const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return false;
			hi = hex_digit(s[i + 1]);
			lo = hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (n + 1 >= out_len)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return true;
}

static int parse_authority(const char *a, size_t len, struct pvring_image_name *out, char *why,
			   size_t why_len)
{
	const char *port = NULL, *host = a;
	size_t host_len;
	uint64_t p;

	if (memchr(a, '@', len))
		return bad(why, why_len, "nbd names with a user name are not supported");
	if (len && a[0] == '[') {
		const char *close = memchr(a, ']', len);

		if (!close)
			return bad(why, why_len, "nbd host: '[' without ']'");
		host = a + 1;
		host_len = (size_t)(close - host);
		if ((size_t)(close + 1 - a) < len) {
			if (close[1] != ':')
				return bad(why, why_len, "nbd host: junk after ']'");
			port = close + 2;
		}
	} else {
		const char *colon = memchr(a, ':', len);

		host_len = colon ? (size_t)(colon - a) : len;
		if (colon)
			port = colon + 1;
	}
	if (!host_len || !copy_span(out->host, sizeof(out->host), host, host_len))
		return bad(why, why_len, "nbd host missing or too long");
	out->port = NBD_DEFAULT_PORT;
	if (port) {
		char digits[8];

		if (!copy_span(digits, sizeof(digits), port, (size_t)(a + len - port)) ||
		    pvring_parse_u64(digits, 65535, &p) || p == 0)
			return bad(why, why_len, "nbd port is not a number from 1 to 65535");
		out->port = (unsigned int)p;
	}
	return 0;
}

static int parse_nbd(const char *name, bool entry, struct pvring_image_name *out, char *why,
		     size_t why_len)
{
	const char *rest, *path, *query;
	bool has_path;
	size_t auth_len;

	if (starts_with(name, "nbds") || starts_with(name, "nbd+vsock"))
		return bad(why, why_len, "TLS (nbds) and vsock NBD names are not supported");
	if (starts_with(name, NBD_TCP_PREFIX)) {
		rest = name + strlen(NBD_TCP_PREFIX);
	} else if (starts_with(name, NBD_UNIX_PREFIX)) {
		out->nbd_unix = true;
		rest = name + strlen(NBD_UNIX_PREFIX);
	} else {
		return bad(why, why_len,
			   "an nbd name is nbd://HOST[:PORT]/EXPORT or "
			   "nbd+unix:///EXPORT?socket=PATH");
	}
	if (strchr(rest, '#'))
		return bad(why, why_len, "nbd names take no #fragment");
	auth_len = strcspn(rest, "/?");
	path = rest + auth_len;
	query = strchr(path, '?');
	if (out->nbd_unix) {
		if (auth_len)
			return bad(why, why_len,
				   "an nbd+unix name has no host: nbd+unix:///EXPORT?socket=PATH");
		if (!query || !starts_with(query, "?socket=") || strchr(query, '&'))
			return bad(why, why_len,
				   "an nbd+unix name needs ?socket=PATH, and takes no "
				   "other parameter");
		if (!percent_decode(out->socket, sizeof(out->socket), query + 8,
				    strlen(query + 8)) ||
		    out->socket[0] != '/')
			return bad(why, why_len,
				   "nbd socket is not an absolute path of at most %zu bytes",
				   sizeof(out->socket) - 1);
	} else {
		int err = parse_authority(rest, auth_len, out, why, why_len);

		if (err)
			return err;
		if (query)
			return bad(why, why_len, "nbd:// names take no ?parameters here");
	}
	if (!query)
		query = path + strlen(path);
	has_path = *path == '/';
	if (has_path)
		path++;
	else if (path != query)
		return bad(why, why_len, "nbd export must follow a '/'");
	if (!percent_decode(out->export_name, sizeof(out->export_name), path,
			    (size_t)(query - path)))
		return bad(why, why_len,
			   "nbd export name malformed (%%XX) or longer than %zu bytes",
			   sizeof(out->export_name) - 1);
	/* An entry with no path at all allows every export; "/" alone is the default export. */
	out->any_export = entry && !has_path;
	return 0;
}

int pvring_image_name_parse(const char *name, bool entry, struct pvring_image_name *out, char *why,
			    size_t why_len)
{
	const char *c;

	memset(out, 0, sizeof(*out));
	if (strlen(name) > PVRING_IMAGE_NAME_MAX)
		return bad(why, why_len, "image name longer than %d bytes", PVRING_IMAGE_NAME_MAX);
	for (c = name; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return bad(why, why_len, "image name holds a space or control character");
	if (starts_with(name, RBD_PREFIX)) {
		out->kind = PVRING_IMAGE_RBD;
		return parse_rbd(name + strlen(RBD_PREFIX), entry, out, why, why_len);
	}
	if (pvring_image_name_is_remote(name)) {
		out->kind = PVRING_IMAGE_NBD;
		return parse_nbd(name, entry, out, why, why_len);
	}
	return bad(why, why_len, "not an rbd: or nbd: name");
}

static const char *client_or_admin(const char *id)
{
	return id[0] ? id : "admin";
}

bool pvring_image_name_allows(const struct pvring_image_name *entry,
			      const struct pvring_image_name *name)
{
	if (entry->kind != name->kind)
		return false;
	if (entry->kind == PVRING_IMAGE_RBD)
		return !strcmp(entry->conf, name->conf) &&
		       !strcmp(client_or_admin(entry->id), client_or_admin(name->id)) &&
		       !strcmp(entry->pool, name->pool) &&
		       (!entry->image[0] || !strcmp(entry->image, name->image)) &&
		       (!entry->snap[0] || !strcmp(entry->snap, name->snap));
	if (entry->nbd_unix != name->nbd_unix)
		return false;
	if (entry->nbd_unix ? strcmp(entry->socket, name->socket)
			    : strcasecmp(entry->host, name->host) || entry->port != name->port)
		return false;
	return entry->any_export || !strcmp(entry->export_name, name->export_name);
}
