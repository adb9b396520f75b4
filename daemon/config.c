// SPDX-License-Identifier: MIT
/* pvringd's configuration: see pvringd_config.h. */
#include "config.h"

#include "daemon/pvringd_config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "daemon/json_line.h"
#include "daemon/log.h"
#include "daemon/number.h"

#define MAX_RING_ORDER 4
/* Beyond this, more queues only cost grants and memory without more parallelism. */
#define MAX_QUEUES 16
#define MAX_INDIRECT_SEGMENTS 4096
#define DEFAULT_INDIRECT_SEGMENTS 256
/* A poll window long enough for a busy front end to answer, short enough to cost little when idle.
 */
#define MAX_POLL_US 1000
/* Data-plane threads: more than the CPUs only adds switching. */
#define MAX_WORKERS 64
#define DEFAULT_POLL_US 50
/*
 * A guest's bytes in flight: 16 MiB keeps a fast device's queue deep (512 x 32 KiB) while one
 * guest's 1 MiB requests cannot take all of it, nor pin that much of its memory in pvringd.
 */
#define DEFAULT_GUEST_INFLIGHT_KIB (16u << 10)
#define MAX_GUEST_INFLIGHT_KIB (4u << 20)
#define DISK_NAME_MAX 32
#define DEFAULT_REMOTE_TIMEOUT_MS 30000u
#define MAX_REMOTE_TIMEOUT_MS 3600000u
/* A config file is a few hundred bytes: a huge one is a mistake, not a config. */
#define CONFIG_FILE_MAX (1024 * 1024)

/*
 * The numeric settings: each is both an option --NAME and a file key "NAME", an integer 0..max
 * stored in a uint32_t of struct pvringd_config. Everything about them is driven by this table.
 */
struct number_setting {
	const char *name;
	uint32_t max, def;
	size_t offset; /* of the uint32_t in struct pvringd_config */
	uint32_t min; /* 0 unless given */
};

/* offsetof, refusing to compile unless the field is a uint32_t. */
#define CONFIG_U32_OFFSET(field)                                                                   \
	(offsetof(struct pvringd_config, field) +                                                  \
	 0 * sizeof(char[__builtin_types_compatible_p(                                             \
				 __typeof__(((struct pvringd_config *)0)->field), uint32_t)        \
				 ? 1                                                               \
				 : -1]))

static const struct number_setting numbers[] = {
	{ "max-ring-page-order", MAX_RING_ORDER, MAX_RING_ORDER, CONFIG_U32_OFFSET(max_ring_order),
	  0 },
	/* 0: one per CPU, resolved by derive(). */
	{ "max-queues", MAX_QUEUES, 0, CONFIG_U32_OFFSET(max_queues), 0 },
	{ "max-indirect-segments", MAX_INDIRECT_SEGMENTS, DEFAULT_INDIRECT_SEGMENTS,
	  CONFIG_U32_OFFSET(max_indirect_segments), 0 },
	{ "poll-us", MAX_POLL_US, DEFAULT_POLL_US, CONFIG_U32_OFFSET(poll_us), 0 },
	/* 0: one per CPU pvringd may run on, resolved by derive(). */
	{ "workers", MAX_WORKERS, 0, CONFIG_U32_OFFSET(workers), 0 },
	{ "guest-inflight-kib", MAX_GUEST_INFLIGHT_KIB, DEFAULT_GUEST_INFLIGHT_KIB,
	  CONFIG_U32_OFFSET(guest_inflight_kib), 0 },
	/* No wait at all would fail every operation: at least 1 ms. */
	{ "remote-timeout-ms", MAX_REMOTE_TIMEOUT_MS, DEFAULT_REMOTE_TIMEOUT_MS,
	  CONFIG_U32_OFFSET(remote_timeout_ms), 1 },
};

#define NR_NUMBERS (sizeof(numbers) / sizeof(numbers[0]))

static uint32_t *number_field(struct pvringd_config *cfg, const struct number_setting *n)
{
	return (uint32_t *)((char *)cfg + n->offset);
}

/* What the command line set; NULL / -1: not given, the file or the default decides. */
struct cli {
	const char *config_file, *platform, *rundir, *control_socket;
	int log_level;
	bool syslog;
	long numbers[NR_NUMBERS]; /* indexed like numbers[] */
	const char **disks;
	unsigned int nr_disks;
	const char **image_dirs;
	unsigned int nr_image_dirs;
	const char **remote_images;
	unsigned int nr_remote_images;
};

static void fail(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pvringd [OPTION]...\n"
		"  --config FILE                 JSON configuration (options below win over it)\n"
		"  --platform local|xen          where rings, doorbells and the store come from "
		"(default local)\n"
		"  --rundir DIR                  local platform's sockets "
		"(default " PVRINGD_DEFAULT_RUNDIR ")\n"
		"  --control-socket PATH         pvringctl's socket (default RUNDIR/pvringd.sock)\n"
		"  --log-level LEVEL             err, warning, info (default) or debug\n"
		"  --syslog                      log to syslog instead of stderr\n"
		"  --max-ring-page-order N       0..%d (default %d)\n"
		"  --max-queues N                0..%d, 0: one per CPU (default 0)\n"
		"  --max-indirect-segments N     0..%d, 0: no indirect requests (default %d)\n"
		"  --poll-us N                   0..%d: after answering, poll a ring this long\n"
		"                                before sleeping (default %d; 0: never poll)\n"
		"  --workers N                   0..%d data-plane threads, 0: one per CPU pvringd\n"
		"                                may run on (default 0)\n"
		"  --guest-inflight-kib N        0..%u: a guest's bytes in flight, at most\n"
		"                                (KiB, across its devices; default %u; 0: no cap)\n"
		"  --disk NAME=PATH[,ro][,direct]\n"
		"                                serve an image (repeatable; replaces the file's "
		"disk "
		"NAME)\n"
		"  --image-dir DIR               serve images attached by path from DIR\n"
		"                                (repeatable; replaces the file's image-dirs)\n"
		"  --remote-image NAME           serve RBD or NBD images NAME allows when "
		"attached\n"
		"                                (rbd:POOL[/IMAGE], nbd://HOST[:PORT][/EXPORT],\n"
		"                                nbd+unix:///[EXPORT]?socket=PATH; repeatable;\n"
		"                                replaces the file's remote-images)\n"
		"  --remote-timeout-ms N         1..%u: an RBD or NBD operation fails after\n"
		"                                waiting this long for its server (default %u)\n"
		"  --help                        show this and exit\n"
		"  --version                     show the version and exit\n",
		MAX_RING_ORDER, MAX_RING_ORDER, MAX_QUEUES, MAX_INDIRECT_SEGMENTS,
		DEFAULT_INDIRECT_SEGMENTS, MAX_POLL_US, DEFAULT_POLL_US, MAX_WORKERS,
		MAX_GUEST_INFLIGHT_KIB, DEFAULT_GUEST_INFLIGHT_KIB, MAX_REMOTE_TIMEOUT_MS,
		DEFAULT_REMOTE_TIMEOUT_MS);
}

static bool valid_disk_name(const char *name)
{
	size_t len = strlen(name);

	return len >= 1 && len <= DISK_NAME_MAX &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
		       len;
}

/* A decimal number in 0..max, all of arg, or -1. */
static long parse_number(const char *arg, long max)
{
	uint64_t v;

	return pvring_parse_u64(arg, (uint64_t)max, &v) ? -1 : (long)v;
}

static int replace_string(char **dst, const char *src)
{
	char *copy = strdup(src);

	if (!copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

static int path_join(char **dst, const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", dir, name) < 0)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

static struct pvringd_disk_config *find_disk(struct pvringd_config *cfg, const char *name)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_disks; i++)
		if (!strcmp(cfg->disks[i].name, name))
			return &cfg->disks[i];
	return NULL;
}

static struct pvringd_disk_config *add_disk(struct pvringd_config *cfg)
{
	struct pvringd_disk_config *disks;

	disks = realloc(cfg->disks, (cfg->nr_disks + 1) * sizeof(*disks));
	if (!disks)
		return NULL;
	cfg->disks = disks;
	memset(&disks[cfg->nr_disks], 0, sizeof(*disks));
	return &disks[cfg->nr_disks++];
}

static void free_disk(struct pvringd_disk_config *disk)
{
	free(disk->name);
	free(disk->path);
	disk->name = disk->path = NULL;
}

/*
 * dir, resolved by realpath, in *resolved (to free); or -1 with errno set (0: it is not a
 * directory).
 */
static int resolve_dir(const char *dir, char **resolved)
{
	struct stat st;
	int saved;
	char *r;

	r = realpath(dir, NULL);
	if (!r)
		return -1;
	if (stat(r, &st)) {
		saved = errno;
		free(r);
		errno = saved;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		free(r);
		errno = 0;
		return -1;
	}
	*resolved = r;
	return 0;
}

/* Why resolve_dir has just failed. */
static const char *resolve_error(void)
{
	return errno ? strerror(errno) : "not a directory";
}

static bool has_image_dir(const struct pvringd_config *cfg, const char *resolved)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_image_dirs; i++)
		if (!strcmp(cfg->image_dirs[i], resolved))
			return true;
	return false;
}

/* Adds resolved (which it takes, freeing it on failure): 0 or -ENOMEM. */
static int add_image_dir(struct pvringd_config *cfg, char *resolved)
{
	char **dirs;

	dirs = realloc(cfg->image_dirs, (cfg->nr_image_dirs + 1) * sizeof(*dirs));
	if (!dirs) {
		free(resolved);
		return -ENOMEM;
	}
	cfg->image_dirs = dirs;
	dirs[cfg->nr_image_dirs++] = resolved;
	return 0;
}

static void free_image_dirs(struct pvringd_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_image_dirs; i++)
		free(cfg->image_dirs[i]);
	free(cfg->image_dirs);
	cfg->image_dirs = NULL;
	cfg->nr_image_dirs = 0;
}

bool pvringd_config_image_allowed(const struct pvringd_config *cfg, const char *resolved_path)
{
	unsigned int i;
	size_t len;

	if (!resolved_path || resolved_path[0] != '/')
		return false;
	for (i = 0; i < cfg->nr_image_dirs; i++) {
		const char *dir = cfg->image_dirs[i];

		if (!strcmp(dir, "/"))
			return true;
		len = strlen(dir);
		if (!strncmp(resolved_path, dir, len) && resolved_path[len] == '/')
			return true;
	}
	return false;
}

/* Adds name, parsed as an allow-list entry: 0, or -1 with why. */
static int add_remote_image(struct pvringd_config *cfg, const char *name, char *why, size_t why_len)
{
	struct pvring_image_name entry, *list;
	unsigned int i;

	if (pvring_image_name_parse(name, true, &entry, why, why_len))
		return -1;
	for (i = 0; i < cfg->nr_remote_images; i++) {
		if (!memcmp(&cfg->remote_images[i], &entry, sizeof(entry))) {
			snprintf(why, why_len, "given twice");
			return -1;
		}
	}
	list = realloc(cfg->remote_images, (cfg->nr_remote_images + 1) * sizeof(*list));
	if (!list) {
		snprintf(why, why_len, "%s", strerror(ENOMEM));
		return -1;
	}
	cfg->remote_images = list;
	list[cfg->nr_remote_images++] = entry;
	return 0;
}

static void free_remote_images(struct pvringd_config *cfg)
{
	free(cfg->remote_images);
	cfg->remote_images = NULL;
	cfg->nr_remote_images = 0;
}

bool pvringd_config_remote_allowed(const struct pvringd_config *cfg,
				   const struct pvring_image_name *name)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_remote_images; i++)
		if (pvring_image_name_allows(&cfg->remote_images[i], name))
			return true;
	return false;
}

void pvringd_config_free(struct pvringd_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_disks; i++)
		free_disk(&cfg->disks[i]);
	free(cfg->disks);
	free_image_dirs(cfg);
	free_remote_images(cfg);
	free(cfg->platform);
	free(cfg->rundir);
	free(cfg->store_rundir);
	free(cfg->control_socket);
	/* Zeroed so that freeing twice, or after a failed parse, is harmless. */
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- the file ---- */

struct file_ctx {
	struct pvringd_config *cfg;
	const char *file;
	char *err;
	size_t err_len;
};

#define file_fail(ctx, fmt, ...)                                                                   \
	fail((ctx)->err, (ctx)->err_len, "config %s: " fmt, (ctx)->file, ##__VA_ARGS__)

static int file_string(struct file_ctx *ctx, const char *where, const char *key,
		       struct json_object *val, char **dst)
{
	if (!json_object_is_type(val, json_type_string) || !json_object_get_string_len(val)) {
		file_fail(ctx, "%s\"%s\" must be a non-empty string", where, key);
		return -1;
	}
	if (replace_string(dst, json_object_get_string(val))) {
		file_fail(ctx, "%s", strerror(ENOMEM));
		return -1;
	}
	return 0;
}

static int file_bool(struct file_ctx *ctx, const char *where, const char *key,
		     struct json_object *val, bool *dst)
{
	if (!json_object_is_type(val, json_type_boolean)) {
		file_fail(ctx, "%s\"%s\" must be true or false", where, key);
		return -1;
	}
	*dst = json_object_get_boolean(val);
	return 0;
}

static int file_number(struct file_ctx *ctx, const struct number_setting *n,
		       struct json_object *val, uint32_t *dst)
{
	int64_t v = json_object_is_type(val, json_type_int) ? json_object_get_int64(val) : -1;

	if (v < n->min || v > n->max) {
		file_fail(ctx, "\"%s\" must be an integer %u..%u", n->name, n->min, n->max);
		return -1;
	}
	*dst = (uint32_t)v;
	return 0;
}

static int file_disk(struct file_ctx *ctx, size_t idx, struct json_object *obj)
{
	struct pvringd_disk_config *disk;
	struct json_object *name, *path;
	char where[32];

	snprintf(where, sizeof(where), "disks[%zu]: ", idx);
	if (!json_object_is_type(obj, json_type_object)) {
		file_fail(ctx, "disks[%zu] must be an object", idx);
		return -1;
	}
	json_object_object_foreach(obj, key, val)
	{
		if (strcmp(key, "name") && strcmp(key, "path") && strcmp(key, "read-only") &&
		    strcmp(key, "direct")) {
			file_fail(ctx, "%sunknown key \"%s\"", where, key);
			return -1;
		}
	}
	if (!json_object_object_get_ex(obj, "name", &name)) {
		file_fail(ctx, "%smissing \"name\"", where);
		return -1;
	}
	if (!json_object_object_get_ex(obj, "path", &path)) {
		file_fail(ctx, "%smissing \"path\"", where);
		return -1;
	}
	if (!json_object_is_type(name, json_type_string) ||
	    !valid_disk_name(json_object_get_string(name))) {
		file_fail(ctx, "%s\"name\" must be 1..%d characters of A-Z a-z 0-9 _ . -", where,
			  DISK_NAME_MAX);
		return -1;
	}
	if (find_disk(ctx->cfg, json_object_get_string(name))) {
		file_fail(ctx, "%sduplicate disk name \"%s\"", where, json_object_get_string(name));
		return -1;
	}
	disk = add_disk(ctx->cfg);
	if (!disk) {
		file_fail(ctx, "%s", strerror(ENOMEM));
		return -1;
	}
	disk->name = strdup(json_object_get_string(name));
	if (!disk->name) {
		file_fail(ctx, "%s", strerror(ENOMEM));
		return -1;
	}
	if (file_string(ctx, where, "path", path, &disk->path))
		return -1;
	json_object_object_foreach(obj, k, v)
	{
		if (!strcmp(k, "read-only") && file_bool(ctx, where, k, v, &disk->read_only))
			return -1;
		if (!strcmp(k, "direct") && file_bool(ctx, where, k, v, &disk->direct))
			return -1;
	}
	return 0;
}

static int file_image_dirs(struct file_ctx *ctx, struct json_object *val)
{
	struct json_object *elem;
	char *resolved;
	const char *dir;
	size_t i, n;

	if (!json_object_is_type(val, json_type_array)) {
		file_fail(ctx, "\"image-dirs\" must be an array");
		return -1;
	}
	n = json_object_array_length(val);
	for (i = 0; i < n; i++) {
		elem = json_object_array_get_idx(val, i);
		if (!json_object_is_type(elem, json_type_string) ||
		    !json_object_get_string_len(elem)) {
			file_fail(ctx, "image-dirs[%zu] must be a non-empty string", i);
			return -1;
		}
		dir = json_object_get_string(elem);
		if (dir[0] != '/') {
			file_fail(ctx, "image-dirs[%zu]: must be an absolute path", i);
			return -1;
		}
		if (resolve_dir(dir, &resolved)) {
			file_fail(ctx, "image-dirs[%zu]: %s: %s", i, dir, resolve_error());
			return -1;
		}
		/* Compared resolved: "/srv/a/." or a symlink to it is /srv/a again. */
		if (has_image_dir(ctx->cfg, resolved)) {
			free(resolved);
			file_fail(ctx, "image-dirs[%zu]: duplicate directory \"%s\"", i, dir);
			return -1;
		}
		if (add_image_dir(ctx->cfg, resolved)) {
			file_fail(ctx, "%s", strerror(ENOMEM));
			return -1;
		}
	}
	return 0;
}

static int file_remote_images(struct file_ctx *ctx, struct json_object *val)
{
	struct json_object *elem;
	char why[200];
	size_t i, n;

	if (!json_object_is_type(val, json_type_array)) {
		file_fail(ctx, "\"remote-images\" must be an array");
		return -1;
	}
	n = json_object_array_length(val);
	for (i = 0; i < n; i++) {
		elem = json_object_array_get_idx(val, i);
		if (!json_object_is_type(elem, json_type_string)) {
			file_fail(ctx, "remote-images[%zu] must be a string", i);
			return -1;
		}
		if (add_remote_image(ctx->cfg, json_object_get_string(elem), why, sizeof(why))) {
			file_fail(ctx, "remote-images[%zu]: %s: %s", i,
				  json_object_get_string(elem), why);
			return -1;
		}
	}
	return 0;
}

static int file_key(struct file_ctx *ctx, const char *key, struct json_object *val)
{
	struct pvringd_config *cfg = ctx->cfg;
	size_t i, n;

	if (!strcmp(key, "platform")) {
		if (!json_object_is_type(val, json_type_string) ||
		    (strcmp(json_object_get_string(val), "local") &&
		     strcmp(json_object_get_string(val), "xen"))) {
			file_fail(ctx, "\"platform\" must be \"local\" or \"xen\"");
			return -1;
		}
		return file_string(ctx, "", key, val, &cfg->platform);
	}
	if (!strcmp(key, "rundir"))
		return file_string(ctx, "", key, val, &cfg->rundir);
	if (!strcmp(key, "control-socket"))
		return file_string(ctx, "", key, val, &cfg->control_socket);
	if (!strcmp(key, "log-level")) {
		int level = json_object_is_type(val, json_type_string)
				    ? pvring_log_level_parse(json_object_get_string(val))
				    : -1;

		if (level < 0) {
			file_fail(ctx, "\"log-level\" must be \"err\", \"warning\", \"info\" or "
				       "\"debug\"");
			return -1;
		}
		cfg->log_level = level;
		return 0;
	}
	if (!strcmp(key, "syslog"))
		return file_bool(ctx, "", key, val, &cfg->syslog);
	for (i = 0; i < NR_NUMBERS; i++)
		if (!strcmp(key, numbers[i].name))
			return file_number(ctx, &numbers[i], val, number_field(cfg, &numbers[i]));
	if (!strcmp(key, "disks")) {
		if (!json_object_is_type(val, json_type_array)) {
			file_fail(ctx, "\"disks\" must be an array");
			return -1;
		}
		n = json_object_array_length(val);
		for (i = 0; i < n; i++)
			if (file_disk(ctx, i, json_object_array_get_idx(val, i)))
				return -1;
		return 0;
	}
	if (!strcmp(key, "image-dirs"))
		return file_image_dirs(ctx, val);
	if (!strcmp(key, "remote-images"))
		return file_remote_images(ctx, val);
	file_fail(ctx, "unknown key \"%s\"", key);
	return -1;
}

static unsigned int line_of(const char *buf, size_t offset)
{
	unsigned int line = 1;
	size_t i;

	for (i = 0; i < offset; i++)
		if (buf[i] == '\n')
			line++;
	return line;
}

/*
 * The whole file in a NUL-terminated buffer, or NULL with errno set (0: not a regular file).
 * Opened non-blocking so that a FIFO (or a device) cannot hang the daemon before it has even
 * started: only a regular file is read.
 */
static char *read_file(const char *file, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *grown;
	struct stat st;
	ssize_t r;
	int fd, saved;

	fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st))
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		/* A directory keeps its usual "Is a directory". */
		errno = S_ISDIR(st.st_mode) ? EISDIR : 0;
		goto fail;
	}
	buf = malloc(cap + 1);
	if (!buf)
		goto fail;
	for (;;) {
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (!r)
			break;
		n += (size_t)r;
		if (n < cap)
			continue;
		if (cap >= CONFIG_FILE_MAX) {
			errno = EFBIG;
			goto fail;
		}
		cap *= 2;
		grown = realloc(buf, cap + 1);
		if (!grown)
			goto fail;
		buf = grown;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

static int load_file(struct pvringd_config *cfg, const char *file, char *err, size_t err_len)
{
	struct file_ctx ctx = { .cfg = cfg, .file = file, .err = err, .err_len = err_len };
	struct pvring_json_error jerr;
	struct json_object *root;
	size_t len;
	char *buf;
	int ret = -1;

	buf = read_file(file, &len);
	if (!buf && !errno) {
		file_fail(&ctx, "not a regular file");
		return -1;
	}
	if (!buf) {
		file_fail(&ctx, "cannot read: %s", strerror(errno));
		return -1;
	}
	root = pvring_json_parse_one(buf, len, 0, &jerr);
	switch (jerr.status) {
	case PVRING_JSON_OK:
		break;
	case PVRING_JSON_NOMEM:
		file_fail(&ctx, "%s", strerror(ENOMEM));
		goto out;
	case PVRING_JSON_END:
		file_fail(&ctx, "line %u: unexpected end of file", line_of(buf, jerr.offset));
		goto out;
	case PVRING_JSON_TRAILING:
		file_fail(&ctx, "line %u: unexpected data after the top-level object",
			  line_of(buf, jerr.offset));
		goto out;
	case PVRING_JSON_DUPLICATE:
	case PVRING_JSON_NUL:
	case PVRING_JSON_SYNTAX:
	default:
		file_fail(&ctx, "line %u: %s", line_of(buf, jerr.offset), jerr.desc);
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		file_fail(&ctx, "the top level must be an object");
		goto out;
	}
	{
		json_object_object_foreach(root, key, val)
		{
			if (file_key(&ctx, key, val))
				goto out;
		}
	}
	ret = 0;
out:
	json_object_put(root);
	free(buf);
	return ret;
}

/* ---- the command line ---- */

/* NAME=PATH[,ro][,direct]: paths holding a comma belong in the file. */
static int apply_disk_arg(struct pvringd_config *cfg, const char *arg, char *err, size_t err_len)
{
	struct pvringd_disk_config *disk, parsed = { 0 };
	const char *eq = strchr(arg, '='), *p, *comma;
	size_t len;

	if (!eq) {
		fail(err, err_len, "--disk %s: expected NAME=PATH[,ro][,direct]", arg);
		return -1;
	}
	parsed.name = strndup(arg, (size_t)(eq - arg));
	if (!parsed.name)
		goto nomem;
	if (!valid_disk_name(parsed.name)) {
		fail(err, err_len, "--disk %s: NAME must be 1..%d characters of A-Z a-z 0-9 _ . -",
		     arg, DISK_NAME_MAX);
		goto fail;
	}
	p = eq + 1;
	comma = strchrnul(p, ',');
	if (comma == p) {
		fail(err, err_len, "--disk %s: empty PATH", arg);
		goto fail;
	}
	parsed.path = strndup(p, (size_t)(comma - p));
	if (!parsed.path)
		goto nomem;
	while (*comma) {
		p = comma + 1;
		comma = strchrnul(p, ',');
		len = (size_t)(comma - p);
		if (len == 2 && !strncmp(p, "ro", len)) {
			parsed.read_only = true;
		} else if (len == 6 && !strncmp(p, "direct", len)) {
			parsed.direct = true;
		} else {
			fail(err, err_len, "--disk %s: unknown flag \"%.*s\" (ro, direct)", arg,
			     (int)len, p);
			goto fail;
		}
	}
	/* An option replaces the file's disk of the same name as a whole. */
	disk = find_disk(cfg, parsed.name);
	if (!disk)
		disk = add_disk(cfg);
	if (!disk)
		goto nomem;
	free_disk(disk);
	*disk = parsed;
	return 0;
nomem:
	fail(err, err_len, "--disk %s: %s", arg, strerror(ENOMEM));
fail:
	free_disk(&parsed);
	return -1;
}

/*
 * getopt_long values: above any character, so that optopt tells an unknown short option (its
 * character) from a long option given an argument it does not take (its value, not a character).
 */
enum {
	OPT_CONFIG = 0x100,
	OPT_PLATFORM,
	OPT_RUNDIR,
	OPT_CONTROL_SOCKET,
	OPT_LOG_LEVEL,
	OPT_SYSLOG,
	OPT_DISK,
	OPT_IMAGE_DIR,
	OPT_REMOTE_IMAGE,
	OPT_HELP,
	OPT_VERSION,
	OPT_NUMBER, /* OPT_NUMBER + i: numbers[i] */
};

static const struct option fixed_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "platform", required_argument, NULL, OPT_PLATFORM },
	{ "rundir", required_argument, NULL, OPT_RUNDIR },
	{ "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "image-dir", required_argument, NULL, OPT_IMAGE_DIR },
	{ "remote-image", required_argument, NULL, OPT_REMOTE_IMAGE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
};

#define NR_FIXED_OPTIONS (sizeof(fixed_options) / sizeof(fixed_options[0]))

/*
 * The option getopt_long has just refused, as given: the short option's character when there
 * is one (within a cluster like -xy, argv[optind - 1] is not the option at all), else the long
 * option's whole argument, which getopt_long has just stepped past.
 */
static const char *refused_option(char **argv, char name[3])
{
	if (optopt > 0 && optopt < OPT_CONFIG) {
		name[0] = '-';
		name[1] = (char)optopt;
		name[2] = '\0';
		return name;
	}
	return argv[optind - 1];
}

static int parse_options(struct cli *cli, int argc, char **argv, char *err, size_t err_len)
{
	struct option options[NR_FIXED_OPTIONS + NR_NUMBERS + 1];
	const struct number_setting *n;
	char name[3];
	size_t i;
	int opt;

	memcpy(options, fixed_options, sizeof(fixed_options));
	for (i = 0; i < NR_NUMBERS; i++)
		options[NR_FIXED_OPTIONS + i] = (struct option){ numbers[i].name, required_argument,
								 NULL, OPT_NUMBER + (int)i };
	options[NR_FIXED_OPTIONS + NR_NUMBERS] = (struct option){ NULL, 0, NULL, 0 };

	/* 0, not 1: a full reset, so that parsing twice in one process works. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG:
			cli->config_file = optarg;
			break;
		case OPT_PLATFORM:
			if (strcmp(optarg, "local") && strcmp(optarg, "xen")) {
				fail(err, err_len, "--platform %s: must be local or xen", optarg);
				return -1;
			}
			cli->platform = optarg;
			break;
		case OPT_RUNDIR:
		case OPT_CONTROL_SOCKET:
			if (!*optarg) {
				fail(err, err_len, "--%s: empty path",
				     opt == OPT_RUNDIR ? "rundir" : "control-socket");
				return -1;
			}
			*(opt == OPT_RUNDIR ? &cli->rundir : &cli->control_socket) = optarg;
			break;
		case OPT_LOG_LEVEL:
			cli->log_level = pvring_log_level_parse(optarg);
			if (cli->log_level < 0) {
				fail(err, err_len,
				     "--log-level %s: must be err, warning, info or debug", optarg);
				return -1;
			}
			break;
		case OPT_SYSLOG:
			cli->syslog = true;
			break;
		case OPT_DISK:
			cli->disks[cli->nr_disks++] = optarg;
			break;
		case OPT_IMAGE_DIR:
			if (!*optarg) {
				fail(err, err_len, "--image-dir: empty path");
				return -1;
			}
			if (optarg[0] != '/') {
				fail(err, err_len, "--image-dir %s: must be an absolute path",
				     optarg);
				return -1;
			}
			cli->image_dirs[cli->nr_image_dirs++] = optarg;
			break;
		case OPT_REMOTE_IMAGE:
			cli->remote_images[cli->nr_remote_images++] = optarg;
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("pvringd %s\n", PACKAGE_VERSION);
			return 1;
		case ':':
			fail(err, err_len, "option %s requires an argument",
			     refused_option(argv, name));
			return -1;
		default:
			if (opt < OPT_NUMBER || opt >= OPT_NUMBER + (int)NR_NUMBERS) {
				fail(err, err_len, "unknown option %s (see --help)",
				     refused_option(argv, name));
				return -1;
			}
			n = &numbers[opt - OPT_NUMBER];
			cli->numbers[opt - OPT_NUMBER] = parse_number(optarg, n->max);
			if (cli->numbers[opt - OPT_NUMBER] < n->min) {
				cli->numbers[opt - OPT_NUMBER] = -1;
				fail(err, err_len, "--%s %s: must be an integer %u..%u", n->name,
				     optarg, n->min, n->max);
				return -1;
			}
			break;
		}
	}
	if (optind < argc) {
		fail(err, err_len, "unexpected argument %s (see --help)", argv[optind]);
		return -1;
	}
	return 0;
}

/* Any --image-dir replaces the file's list as a whole. */
static int apply_image_dirs(struct pvringd_config *cfg, const struct cli *cli, char *err,
			    size_t err_len)
{
	const char *dir;
	char *resolved;
	unsigned int i;

	if (!cli->nr_image_dirs)
		return 0;
	free_image_dirs(cfg);
	for (i = 0; i < cli->nr_image_dirs; i++) {
		dir = cli->image_dirs[i];
		if (resolve_dir(dir, &resolved)) {
			fail(err, err_len, "--image-dir %s: %s", dir, resolve_error());
			return -1;
		}
		if (has_image_dir(cfg, resolved)) {
			free(resolved);
			fail(err, err_len, "--image-dir %s: directory given twice", dir);
			return -1;
		}
		if (add_image_dir(cfg, resolved)) {
			fail(err, err_len, "--image-dir %s: %s", dir, strerror(ENOMEM));
			return -1;
		}
	}
	return 0;
}

static int apply_options(struct pvringd_config *cfg, const struct cli *cli, char *err,
			 size_t err_len)
{
	unsigned int i;

	if ((cli->platform && replace_string(&cfg->platform, cli->platform)) ||
	    (cli->rundir && replace_string(&cfg->rundir, cli->rundir)) ||
	    (cli->control_socket && replace_string(&cfg->control_socket, cli->control_socket)))
		goto nomem;
	if (cli->log_level >= 0)
		cfg->log_level = cli->log_level;
	if (cli->syslog)
		cfg->syslog = true;
	for (i = 0; i < NR_NUMBERS; i++)
		if (cli->numbers[i] >= 0)
			*number_field(cfg, &numbers[i]) = (uint32_t)cli->numbers[i];
	for (i = 0; i < cli->nr_disks; i++) {
		unsigned int j;

		/* Replacing the file's disk is intended; naming one twice here is a mistake. */
		for (j = 0; j < i; j++) {
			const char *a = cli->disks[i], *b = cli->disks[j];
			size_t la = strcspn(a, "="), lb = strcspn(b, "=");

			if (la == lb && !strncmp(a, b, la)) {
				fail(err, err_len, "--disk %s: disk \"%.*s\" given twice", a,
				     (int)la, a);
				return -1;
			}
		}
		if (apply_disk_arg(cfg, cli->disks[i], err, err_len))
			return -1;
	}
	if (apply_image_dirs(cfg, cli, err, err_len))
		return -1;
	/* Any --remote-image replaces the file's list as a whole. */
	if (cli->nr_remote_images)
		free_remote_images(cfg);
	for (i = 0; i < cli->nr_remote_images; i++) {
		char why[200];

		if (add_remote_image(cfg, cli->remote_images[i], why, sizeof(why))) {
			fail(err, err_len, "--remote-image %s: %s", cli->remote_images[i], why);
			return -1;
		}
	}
	return 0;
nomem:
	fail(err, err_len, "%s", strerror(ENOMEM));
	return -1;
}

/* The CPUs this process may run on (its affinity, which systemd's CPUAffinity= sets). */
static uint32_t usable_cpus(void)
{
	cpu_set_t set;
	long online;

	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		return (uint32_t)CPU_COUNT(&set);
	online = sysconf(_SC_NPROCESSORS_ONLN);
	return online < 1 ? 1 : (uint32_t)online;
}

static int derive(struct pvringd_config *cfg)
{
	uint32_t cpus = usable_cpus();

	if (!cfg->platform && replace_string(&cfg->platform, "local"))
		return -1;
	if (!cfg->rundir && replace_string(&cfg->rundir, PVRINGD_DEFAULT_RUNDIR))
		return -1;
	if (path_join(&cfg->store_rundir, cfg->rundir, "store"))
		return -1;
	if (!cfg->control_socket && path_join(&cfg->control_socket, cfg->rundir, "pvringd.sock"))
		return -1;
	if (!cfg->max_queues)
		cfg->max_queues = cpus > MAX_QUEUES ? MAX_QUEUES : cpus;
	if (!cfg->workers)
		cfg->workers = cpus > MAX_WORKERS ? MAX_WORKERS : cpus;
	return 0;
}

int pvringd_config_parse(struct pvringd_config *cfg, int argc, char **argv, char *err,
			 size_t err_len)
{
	struct cli cli = { .log_level = -1 };
	size_t i;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = PVRING_LOG_INFO;
	for (i = 0; i < NR_NUMBERS; i++) {
		*number_field(cfg, &numbers[i]) = numbers[i].def;
		cli.numbers[i] = -1;
	}
	/* At most every argument is a --disk, or an --image-dir. */
	cli.disks = calloc((size_t)argc + 1, sizeof(*cli.disks));
	cli.image_dirs = calloc((size_t)argc + 1, sizeof(*cli.image_dirs));
	cli.remote_images = calloc((size_t)argc + 1, sizeof(*cli.remote_images));
	if (!cli.disks || !cli.image_dirs || !cli.remote_images) {
		free(cli.disks);
		free(cli.image_dirs);
		free(cli.remote_images);
		fail(err, err_len, "%s", strerror(ENOMEM));
		return -1;
	}
	ret = parse_options(&cli, argc, argv, err, err_len);
	if (ret)
		goto out;
	ret = -1;
	if (cli.config_file && load_file(cfg, cli.config_file, err, err_len))
		goto out;
	if (apply_options(cfg, &cli, err, err_len))
		goto out;
	if (derive(cfg)) {
		fail(err, err_len, "%s", strerror(ENOMEM));
		goto out;
	}
	ret = 0;
out:
	free(cli.disks);
	free(cli.image_dirs);
	free(cli.remote_images);
	if (ret)
		pvringd_config_free(cfg);
	return ret;
}
