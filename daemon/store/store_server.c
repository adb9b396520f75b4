// SPDX-License-Identifier: MIT
/* The local store server: see store_server.h. */
#include "config.h"

#include "store_server.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <xen/io/xs_wire.h>

#include "daemon/log.h"
#include "daemon/number.h"
#include "daemon/unix_listen.h"
#include "store_tree.h"

/* Xen's DOMID_FIRST_RESERVED: domain ids at or above it are not guests. */
#define DOMID_LIMIT 0x7ff0u
/*
 * A guest's quotas, over all its connections, as xenstored's defaults: connections, open
 * transactions (each holds a copy of the tree) and watches. dom0 is bound by none of them
 * (pvringd watches one path per device it serves) but a connection's transactions.
 */
#define CONNS_PER_GUEST 8u
#define TXNS_PER_GUEST 10u
#define WATCHES_PER_GUEST 128u
#define TXNS_PER_CONN 16u
/* The tree's own quotas on what a guest owns (store_tree.h), as the log names them. */
#define NODE_QUOTA "nodes (or 512 KiB of names and values)"
/*
 * What one of a guest's transactions keeps until it ends, bounded: the paths it read or
 * changed, at most xenstored's default "transaction-nodes" quota of them, and its changes, in
 * order, to be made again at the commit. Changes count too, not only their paths, or a guest
 * could change one node a million times; a change like the one just before it (same kind,
 * same path) takes its place, so writing one node over and over costs one. Two changes a path
 * (a write and a permission change on each node) is more than any front end makes. And bytes:
 * the paths and the values written, at most half a guest's own quota of names and values, or
 * ten transactions of 2048 changes of 4 KiB values would hold 80 MiB.
 */
#define TXN_NODES_PER_GUEST 1024u
#define TXN_CHANGES_PER_GUEST (2u * TXN_NODES_PER_GUEST)
#define TXN_BYTES_PER_GUEST (256u * 1024u)
#define TXN_QUOTA "nodes read or changed in a transaction (or 2048 changes, or 256 KiB)"
/* Replies and events queued for a client that does not read them, at most. */
#define OUTPUT_LIMIT (256u * 1024u)

/*
 * A path a transaction read or changed, once, with the gen its node had when the transaction
 * started (0: no node). Read, that gen is checked at the commit (txn_access).
 */
struct access {
	struct access *next;
	uint64_t gen;
	bool check;
	const struct op *last_change; /* the transaction's last change of it, if any */
	char path[];
};

/* A change a transaction made, to be made again on the store's tree when it commits. */
struct op {
	struct op *next;
	enum xsd_sockmsg_type type; /* XS_WRITE, XS_MKDIR, XS_RM or XS_SET_PERMS */
	struct access *access; /* its path's */
	const char *path; /* access->path */
	char *value; /* XS_WRITE's */
	size_t len;
	struct pvring_store_perm *perms; /* XS_SET_PERMS's */
	unsigned int nr_perms;
};

struct txn {
	struct txn *next;
	uint32_t id;
	struct pvring_store_tree base; /* the store as the transaction found it, unchanged */
	struct pvring_store_tree tree; /* the store as the transaction sees it */
	struct access *accessed;
	unsigned int nr_accessed;
	struct op *ops, *last_op;
	unsigned int nr_ops;
	size_t bytes; /* of the paths accessed and the values ops hold */
	bool failed; /* tree changed in a way ops do not say: it cannot commit */
};

struct watch {
	struct watch *next;
	char *path; /* as the client gave it: events use the same form */
	char *token;
	char *abs; /* absolute, or a special "@..." name */
	bool relative;
};

struct conn {
	struct conn *next;
	struct pvring_store_server *srv;
	struct bufferevent *bev;
	uint32_t domid;
	struct watch *watches;
	unsigned int nr_watches;
	struct txn *txns;
	unsigned int nr_txns;
	unsigned int quota_logged; /* QUOTA_* said in the log already */
	bool doomed; /* over OUTPUT_LIMIT: closed by the reaper, never in place */
};

enum { QUOTA_WATCHES = 1, QUOTA_TXNS = 2, QUOTA_NODES = 4, QUOTA_TXN_NODES = 8 };

struct domain {
	struct domain *next;
	struct pvring_store_server *srv;
	uint32_t domid;
	struct evconnlistener *listener;
	char *socket_path;
	char *dir; /* rundir/domain/<domid>, removed on release; NULL for dom0 */
};

struct pvring_store_server {
	struct event_base *base;
	char *rundir;
	struct pvring_store_tree tree;
	struct conn *conns;
	struct domain *domains;
	uint32_t next_txn;
	struct event *reaper; /* closes doomed connections once no list walk is under way */
};

/* ---- replies ---- */

static void send_msg(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
		     const void *data, size_t len)
{
	struct xsd_sockmsg hdr = { type, req_id, tx_id, (uint32_t)len };
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->doomed)
		return;
	if (evbuffer_get_length(out) + sizeof(hdr) + len > OUTPUT_LIMIT) {
		/* fire() may be walking the connections: close later, not here. */
		c->doomed = true;
		bufferevent_disable(c->bev, EV_READ);
		event_active(c->srv->reaper, 0, 0);
		return;
	}
	evbuffer_add(out, &hdr, sizeof(hdr));
	if (len)
		evbuffer_add(out, data, len);
}

/* What domid's connections hold together: watches and open transactions. */
static void guest_usage(const struct pvring_store_server *srv, uint32_t domid,
			unsigned int *watches, unsigned int *txns)
{
	const struct conn *c;

	*watches = *txns = 0;
	for (c = srv->conns; c; c = c->next) {
		if (c->domid != domid)
			continue;
		*watches += c->nr_watches;
		*txns += c->nr_txns;
	}
}

/*
 * A quota said no to a guest: the wire carries only ENOSPC, the log says which quota, once
 * per connection and quota so that a guest looping on it cannot fill the log.
 */
static int over_quota(struct conn *c, unsigned int which, const char *what, unsigned int limit)
{
	if (!(c->quota_logged & which)) {
		c->quota_logged |= which;
		pvring_warn("store: dom%u: at its quota of %u %s; refusing more with ENOSPC",
			    c->domid, limit, what);
	}
	return -ENOSPC;
}

static void reply(struct conn *c, const struct xsd_sockmsg *req, const void *data, size_t len)
{
	send_msg(c, req->type, req->req_id, req->tx_id, data, len);
}

static void reply_string(struct conn *c, const struct xsd_sockmsg *req, const char *s)
{
	reply(c, req, s, strlen(s) + 1);
}

static void reply_error(struct conn *c, const struct xsd_sockmsg *req, int err)
{
	const char *name = "EINVAL";
	size_t i;

	for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == -err)
			name = xsd_errors[i].errstring;
	send_msg(c, XS_ERROR, req->req_id, req->tx_id, name, strlen(name) + 1);
}

/* ---- watches ---- */

static void send_event(struct conn *c, const char *path, const char *token)
{
	size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;
	char buf[PVRING_STORE_PATH_MAX + XENSTORE_PAYLOAD_MAX + 2];

	if (plen + tlen > sizeof(buf))
		return;
	memcpy(buf, path, plen);
	memcpy(buf + plen, token, tlen);
	send_msg(c, XS_WATCH_EVENT, 0, 0, buf, plen + tlen);
}

/* The domain's home, "/local/domain/<domid>", in buf. */
static const char *home_of(uint32_t domid, char *buf, size_t size)
{
	snprintf(buf, size, "/local/domain/%u", domid);
	return buf;
}

/* A watcher hears of a change only if it may read what changed (or, on removal, its parent). */
static bool may_see(struct pvring_store_server *srv, uint32_t domid, const char *path, bool removed)
{
	char parent[PVRING_STORE_PATH_MAX + 1];
	const char *value, *slash;
	size_t len;

	if (domid == 0)
		return true;
	if (!removed)
		return pvring_store_read(&srv->tree, domid, path, &value, &len) == 0;
	slash = strrchr(path, '/');
	if (!slash || slash == path)
		return false;
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	return pvring_store_read(&srv->tree, domid, parent, &value, &len) == 0;
}

static void fire(struct pvring_store_server *srv, const char *path, bool removed)
{
	char home[64];
	struct conn *c;
	struct watch *w;

	for (c = srv->conns; c; c = c->next) {
		for (w = c->watches; w; w = w->next) {
			const char *shown = path;
			size_t n;

			if (w->abs[0] == '@' || path[0] == '@') {
				if (strcmp(w->abs, path))
					continue;
			} else if (!pvring_store_watch_fires(w->abs, path, removed) ||
				   !may_see(srv, c->domid, path, removed)) {
				continue;
			}
			/* A relative watch hears relative paths. */
			home_of(c->domid, home, sizeof(home));
			n = strlen(home);
			if (w->relative && !strncmp(path, home, n) && path[n] == '/')
				shown = path + n + 1;
			send_event(c, shown, w->token);
		}
	}
}

/* ---- connections ---- */

static void free_txn(struct txn *t)
{
	while (t->ops) {
		struct op *op = t->ops;

		t->ops = op->next;
		free(op->value);
		free(op->perms);
		free(op);
	}
	while (t->accessed) {
		struct access *a = t->accessed;

		t->accessed = a->next;
		free(a);
	}
	pvring_store_tree_free(&t->tree);
	pvring_store_tree_free(&t->base);
	free(t);
}

static void free_watch(struct watch *w)
{
	free(w->path);
	free(w->token);
	free(w->abs);
	free(w);
}

static void conn_close(struct conn *c)
{
	struct conn **link;

	for (link = &c->srv->conns; *link != c; link = &(*link)->next)
		;
	*link = c->next;
	while (c->watches) {
		struct watch *w = c->watches;

		c->watches = w->next;
		free_watch(w);
	}
	while (c->txns) {
		struct txn *t = c->txns;

		c->txns = t->next;
		free_txn(t);
	}
	bufferevent_free(c->bev);
	free(c);
	/*
	 * Its transactions' copies of the tree were freed: give the pages back, or the store
	 * keeps the most it ever held (malloc keeps freed chunks between live ones).
	 */
	malloc_trim(0);
}

static void conn_reject(struct conn *c, const char *reason)
{
	pvring_warn("store: dom%u: %s; closing the connection", c->domid, reason);
	conn_close(c);
}

/* Make a client's path absolute (relative paths live under its home); 0 or -EINVAL. */
static int absolute(const struct conn *c, const char *path, char *out, size_t size)
{
	int n;

	if (path[0] == '/' || path[0] == '@')
		n = snprintf(out, size, "%s", path);
	else
		n = snprintf(out, size, "/local/domain/%u/%s", c->domid, path);
	if (n < 0 || (size_t)n >= size || (out[0] == '/' && !pvring_store_path_valid(out)))
		return -EINVAL;
	return 0;
}

static int parse_domid(const char *s, uint32_t *domid)
{
	uint64_t v;

	if (pvring_parse_u64(s, DOMID_LIMIT - 1, &v))
		return -EINVAL;
	*domid = (uint32_t)v;
	return 0;
}

/* The tree an operation works on: the store's or a transaction's copy. */
static int tree_for(struct conn *c, uint32_t tx_id, struct pvring_store_tree **tree,
		    struct txn **txn)
{
	struct txn *t;

	*txn = NULL;
	if (tx_id == 0) {
		*tree = &c->srv->tree;
		return 0;
	}
	for (t = c->txns; t; t = t->next) {
		if (t->id == tx_id) {
			*txn = t;
			*tree = &t->tree;
			return 0;
		}
	}
	return -ENOENT;
}

static struct access *txn_find(const struct txn *txn, const char *path)
{
	struct access *a;

	for (a = txn->accessed; a && strcmp(a->path, path); a = a->next)
		;
	return a;
}

/* Whether the transaction removed path, or a node above it. */
static bool txn_removed(const struct txn *txn, const char *path)
{
	const struct op *op;

	for (op = txn->ops; op; op = op->next) {
		size_t n = strlen(op->path);

		if (op->type == XS_RM && !strncmp(path, op->path, n) &&
		    (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

/* Whether a change of type at path takes the place of the transaction's last one. */
static bool txn_replaces_last(const struct txn *txn, enum xsd_sockmsg_type type, const char *path)
{
	return txn->last_op && txn->last_op->type == type && !strcmp(txn->last_op->path, path);
}

/*
 * A transaction is about to read (XS_READ, XS_DIRECTORY, XS_GET_PERMS) or change path (a
 * write of value_len bytes, or another change): remembered, within a guest's quota (else
 * -ENOSPC, before anything is done).
 *
 * A read is checked at the commit against the node as the transaction found it, whatever the
 * transaction changed of it before (a read after its own write may show a child list, a parent
 * or a node it did not write, that another client changed meanwhile), but not under a node the
 * transaction removed: the removal is made again at the commit, and what it saw there is what
 * the commit leaves. A change is not checked: it is made again at the commit, on the node as it
 * then is. So a transaction conflicts only with changes to what it read; xenstored checks
 * what a transaction changed too, and fails more of them (two front ends adding nodes under
 * one directory at once, say).
 */
static int txn_access(struct conn *c, struct txn *txn, enum xsd_sockmsg_type type, const char *path,
		      size_t value_len)
{
	bool read = type == XS_READ || type == XS_DIRECTORY || type == XS_GET_PERMS, replaces;
	size_t n = strlen(path) + 1, bytes;
	struct access *a;

	if (!txn)
		return 0;
	replaces = !read && txn_replaces_last(txn, type, path);
	bytes = txn->bytes + value_len;
	a = txn_find(txn, path);
	if (!a)
		bytes += n;
	if (replaces)
		bytes -= txn->last_op->len;
	if (c->domid != 0 &&
	    ((!read && !replaces && txn->nr_ops >= TXN_CHANGES_PER_GUEST) ||
	     (!a && txn->nr_accessed >= TXN_NODES_PER_GUEST) || bytes > TXN_BYTES_PER_GUEST))
		return over_quota(c, QUOTA_TXN_NODES, TXN_QUOTA, TXN_NODES_PER_GUEST);
	if (!a) {
		a = calloc(1, sizeof(*a) + n);
		if (!a)
			return -ENOMEM;
		memcpy(a->path, path, n);
		a->gen = pvring_store_generation_of(&txn->base, path);
		a->next = txn->accessed;
		txn->accessed = a;
		txn->nr_accessed++;
		txn->bytes += n;
	}
	if (read && !txn_removed(txn, path))
		a->check = true;
	return 0;
}

/*
 * A change made in a transaction's tree (txn_access took it in), kept to be made again at the
 * commit; 0, or -ENOMEM and the transaction cannot commit (its tree has the change).
 */
static int txn_record(struct txn *txn, enum xsd_sockmsg_type type, const char *path,
		      const char *value, size_t len, const struct pvring_store_perm *perms,
		      unsigned int nr_perms)
{
	char *v = value ? malloc(len + 1) : NULL;
	struct pvring_store_perm *p = nr_perms ? malloc(nr_perms * sizeof(*p)) : NULL;
	struct op *op = txn->last_op;

	if (!txn_replaces_last(txn, type, path))
		op = calloc(1, sizeof(*op));
	if (!op || (value && !v) || (nr_perms && !p)) {
		if (op != txn->last_op)
			free(op);
		free(v);
		free(p);
		txn->failed = true;
		return -ENOMEM;
	}
	if (op != txn->last_op) {
		op->type = type;
		op->access = txn_find(txn, path);
		op->path = op->access->path;
		op->access->last_change = op;
		if (txn->last_op)
			txn->last_op->next = op;
		else
			txn->ops = op;
		txn->last_op = op;
		txn->nr_ops++;
	}
	if (value)
		memcpy(v, value, len);
	if (nr_perms)
		memcpy(p, perms, nr_perms * sizeof(*p));
	free(op->value);
	free(op->perms);
	txn->bytes = txn->bytes - op->len + len;
	op->value = v;
	op->len = len;
	op->perms = p;
	op->nr_perms = nr_perms;
	return 0;
}

/* A change made: answered, and fired now or recorded to be made again at the commit. */
static int changed(struct conn *c, const struct xsd_sockmsg *req, struct txn *txn, const char *path,
		   const char *value, size_t len, const struct pvring_store_perm *perms,
		   unsigned int nr_perms)
{
	if (txn && txn_record(txn, req->type, path, value, len, perms, nr_perms))
		return -ENOMEM;
	reply_string(c, req, "OK");
	if (!txn)
		fire(c->srv, path, req->type == XS_RM);
	return 0;
}

static int replay(struct pvring_store_tree *tree, uint32_t caller, const struct op *op)
{
	switch (op->type) {
	case XS_WRITE:
		return pvring_store_write(tree, caller, op->path, op->value, op->len);
	case XS_MKDIR:
		return pvring_store_mkdir(tree, caller, op->path);
	case XS_RM:
		return pvring_store_rm(tree, caller, op->path);
	default:
		return pvring_store_set_perms(tree, caller, op->path, op->perms, op->nr_perms);
	}
}

/*
 * Commit: -EAGAIN if a node the transaction read changed (or came, or went) since. Otherwise
 * its changes are made again, in order, on the store's tree as it is now, so that what others
 * changed beside them meanwhile is kept (as xenstored, conflicts are per node): on a copy, all
 * or none. One that fails now is -EAGAIN too: the client retries, and meets the reason then.
 */
static int txn_commit(struct pvring_store_server *srv, uint32_t caller, const struct txn *t)
{
	struct pvring_store_tree next;
	const struct access *a;
	const struct op *op;
	int err = 0;

	if (t->failed)
		return -ENOMEM;
	for (a = t->accessed; a; a = a->next)
		if (a->check && pvring_store_generation_of(&srv->tree, a->path) != a->gen)
			return -EAGAIN;
	if (!t->ops)
		return 0;
	if (pvring_store_tree_clone(&next, &srv->tree))
		return -ENOMEM;
	for (op = t->ops; op && !err; op = op->next)
		err = replay(&next, caller, op);
	if (err) {
		pvring_store_tree_free(&next);
		return err == -ENOMEM ? err : -EAGAIN;
	}
	pvring_store_tree_free(&srv->tree);
	srv->tree = next;
	return 0;
}

/* ---- operations ---- */

static int do_watch(struct conn *c, const struct xsd_sockmsg *req, char **args)
{
	char abs[PVRING_STORE_PATH_MAX + 1];
	struct watch *w;
	int err = absolute(c, args[0], abs, sizeof(abs));

	if (err)
		return err;
	for (w = c->watches; w; w = w->next)
		if (!strcmp(w->path, args[0]) && !strcmp(w->token, args[1]))
			return -EEXIST;
	if (c->domid != 0) {
		unsigned int watches, txns;

		guest_usage(c->srv, c->domid, &watches, &txns);
		if (watches >= WATCHES_PER_GUEST)
			return over_quota(c, QUOTA_WATCHES, "watches", WATCHES_PER_GUEST);
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(args[0]);
	w->token = strdup(args[1]);
	w->abs = strdup(abs);
	w->relative = args[0][0] != '/' && args[0][0] != '@';
	if (!w->path || !w->token || !w->abs) {
		free_watch(w);
		return -ENOMEM;
	}
	w->next = c->watches;
	c->watches = w;
	c->nr_watches++;
	reply_string(c, req, "OK");
	/* As xenstored: a new watch fires once at once, so the client reads the state. */
	send_event(c, w->path, w->token);
	return 0;
}

static int do_unwatch(struct conn *c, const struct xsd_sockmsg *req, char **args)
{
	struct watch **link;

	for (link = &c->watches; *link; link = &(*link)->next) {
		struct watch *w = *link;

		if (!strcmp(w->path, args[0]) && !strcmp(w->token, args[1])) {
			*link = w->next;
			free_watch(w);
			c->nr_watches--;
			reply_string(c, req, "OK");
			return 0;
		}
	}
	return -ENOENT;
}

static int do_transaction_start(struct conn *c, const struct xsd_sockmsg *req)
{
	char id[16];
	struct txn *t;

	if (req->tx_id)
		return -EBUSY;
	if (c->domid != 0) {
		unsigned int watches, txns;

		guest_usage(c->srv, c->domid, &watches, &txns);
		if (txns >= TXNS_PER_GUEST)
			return over_quota(c, QUOTA_TXNS, "open transactions", TXNS_PER_GUEST);
	} else if (c->nr_txns >= TXNS_PER_CONN) {
		return -ENOSPC;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* Two views of one tree, sharing every node until one of them changes. */
	if (pvring_store_tree_clone(&t->base, &c->srv->tree)) {
		free(t);
		return -ENOMEM;
	}
	if (pvring_store_tree_clone(&t->tree, &c->srv->tree)) {
		pvring_store_tree_free(&t->base);
		free(t);
		return -ENOMEM;
	}
	do
		t->id = ++c->srv->next_txn;
	while (t->id == 0);
	t->next = c->txns;
	c->txns = t;
	c->nr_txns++;
	snprintf(id, sizeof(id), "%u", t->id);
	reply_string(c, req, id);
	return 0;
}

static int do_transaction_end(struct conn *c, const struct xsd_sockmsg *req, const char *how)
{
	struct pvring_store_server *srv = c->srv;
	struct txn **link, *t;
	const struct op *op;
	bool commit = !strcmp(how, "T");
	int err;

	if (!commit && strcmp(how, "F"))
		return -EINVAL;
	for (link = &c->txns; *link && (*link)->id != req->tx_id; link = &(*link)->next)
		;
	t = *link;
	if (!t)
		return -ENOENT;
	*link = t->next;
	c->nr_txns--;
	err = commit ? txn_commit(srv, c->domid, t) : 0;
	if (err) {
		free_txn(t);
		return err;
	}
	reply_string(c, req, "OK");
	/* Once a node, as its last change says: not once a change (a node written 2048 times). */
	if (commit)
		for (op = t->ops; op; op = op->next)
			if (op->access->last_change == op)
				fire(srv, op->path, op->type == XS_RM);
	free_txn(t);
	return 0;
}

static struct domain *find_domain(struct pvring_store_server *srv, uint32_t domid)
{
	struct domain *d;

	for (d = srv->domains; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

static int listen_domain(struct pvring_store_server *srv, uint32_t domid, const char **why);
static void release_domain(struct pvring_store_server *srv, struct domain *d);

static int do_introduce(struct conn *c, const struct xsd_sockmsg *req, char **args)
{
	const char *why = NULL;
	uint32_t domid;
	int err;

	if (c->domid != 0)
		return -EACCES;
	if (parse_domid(args[0], &domid) || domid == 0)
		return -EINVAL;
	if (find_domain(c->srv, domid))
		return -EEXIST;
	err = listen_domain(c->srv, domid, &why);
	if (err) {
		pvring_warn("store: cannot introduce dom%u: %s", domid, why);
		return err;
	}
	reply_string(c, req, "OK");
	fire(c->srv, "@introduceDomain", false);
	return 0;
}

static int do_release(struct conn *c, const struct xsd_sockmsg *req, char **args)
{
	struct domain *d;
	uint32_t domid;

	if (c->domid != 0)
		return -EACCES;
	if (parse_domid(args[0], &domid) || domid == 0)
		return -EINVAL;
	d = find_domain(c->srv, domid);
	if (!d)
		return -ENOENT;
	release_domain(c->srv, d);
	reply_string(c, req, "OK");
	fire(c->srv, "@releaseDomain", false);
	return 0;
}

/*
 * A guest the local hypervisor created (local_hypervisor.c), introduced as a toolstack
 * introduces one: its own socket, its home /local/domain/<domid> owned by it, and
 * @introduceDomain for the back end's watch.
 */
int pvring_store_server_add_domain(struct pvring_store_server *srv, uint32_t domid,
				   const char **why)
{
	const struct pvring_store_perm owner = { .domid = domid, .access = 'n' };
	char home[64];
	int err;

	if (domid == 0) {
		*why = "domain 0 is the back end's";
		return -EINVAL;
	}
	if (find_domain(srv, domid)) {
		*why = "the store knows that domain already";
		return -EEXIST;
	}
	err = listen_domain(srv, domid, why);
	if (err)
		return err;
	home_of(domid, home, sizeof(home));
	err = pvring_store_mkdir(&srv->tree, 0, home);
	if (!err)
		err = pvring_store_set_perms(&srv->tree, 0, home, &owner, 1);
	if (err) {
		*why = "cannot make the domain's home in the store";
		release_domain(srv, find_domain(srv, domid));
		pvring_store_rm(&srv->tree, 0, home);
		return err;
	}
	fire(srv, home, false);
	fire(srv, "@introduceDomain", false);
	return 0;
}

bool pvring_store_server_has_domain(const struct pvring_store_server *srv, uint32_t domid)
{
	return find_domain((struct pvring_store_server *)srv, domid) != NULL;
}

/* The guest is gone: its home removed, its connections closed, @releaseDomain fired. */
void pvring_store_server_remove_domain(struct pvring_store_server *srv, uint32_t domid)
{
	struct domain *d = domid ? find_domain(srv, domid) : NULL;
	char home[64];

	home_of(domid, home, sizeof(home));
	if (!pvring_store_rm(&srv->tree, 0, home))
		fire(srv, home, true);
	if (!d)
		return;
	release_domain(srv, d);
	fire(srv, "@releaseDomain", false);
}

static int do_get_perms(struct conn *c, const struct xsd_sockmsg *req,
			const struct pvring_store_tree *tree, const char *path)
{
	const struct pvring_store_perm *perms;
	char out[XENSTORE_PAYLOAD_MAX];
	unsigned int nr, i;
	size_t len = 0;
	int err = pvring_store_get_perms(tree, c->domid, path, &perms, &nr);

	if (err)
		return err;
	for (i = 0; i < nr; i++) {
		int n = snprintf(out + len, sizeof(out) - len, "%c%u", perms[i].access,
				 perms[i].domid);

		if (n < 0 || (size_t)n + 1 > sizeof(out) - len)
			return -E2BIG;
		len += (size_t)n + 1;
	}
	reply(c, req, out, len);
	return 0;
}

static int do_set_perms(struct conn *c, const struct xsd_sockmsg *req,
			struct pvring_store_tree *tree, struct txn *txn, const char *path,
			char **args, unsigned int nargs)
{
	struct pvring_store_perm perms[64];
	unsigned int i;
	int err;

	if (nargs < 2 || nargs - 1 > sizeof(perms) / sizeof(perms[0]))
		return -EINVAL;
	for (i = 1; i < nargs; i++) {
		perms[i - 1].access = args[i][0];
		if (!args[i][0] || parse_domid(args[i] + 1, &perms[i - 1].domid))
			return -EINVAL;
	}
	err = pvring_store_set_perms(tree, c->domid, path, perms, nargs - 1);
	if (err)
		return err;
	return changed(c, req, txn, path, NULL, 0, perms, nargs - 1);
}

/* Split the payload into its NUL-terminated strings; how many, or -1 if malformed. */
static int split(char *payload, size_t len, char **args, unsigned int max)
{
	unsigned int n = 0;
	size_t i = 0;

	while (i < len) {
		char *end = memchr(payload + i, '\0', len - i);

		if (!end || n == max)
			return -1;
		args[n++] = payload + i;
		i = (size_t)(end - payload) + 1;
	}
	return (int)n;
}

/* One request; -1 if the connection was closed. */
static int handle(struct conn *c, struct xsd_sockmsg *req, char *payload)
{
	char path[PVRING_STORE_PATH_MAX + 1];
	struct pvring_store_tree *tree;
	struct txn *txn;
	char *args[66], *list = NULL;
	const char *value;
	int nargs, err;
	size_t len;

	/* WRITE carries a value that is not a string: split only its path. */
	if (req->type == XS_WRITE) {
		char *nul = memchr(payload, '\0', req->len);

		if (!nul)
			goto malformed;
		args[0] = payload;
		nargs = 1;
	} else {
		nargs = split(payload, req->len, args, sizeof(args) / sizeof(args[0]));
		if (nargs < 0)
			goto malformed;
	}

	switch (req->type) {
	case XS_READ:
	case XS_WRITE:
	case XS_MKDIR:
	case XS_RM:
	case XS_DIRECTORY:
	case XS_GET_PERMS:
	case XS_SET_PERMS:
		if (nargs < 1) {
			err = -EINVAL;
			break;
		}
		err = absolute(c, args[0], path, sizeof(path));
		if (!err && path[0] != '/')
			err = -EINVAL;
		if (!err)
			err = tree_for(c, req->tx_id, &tree, &txn);
		/* WRITE's value: what follows its path. */
		value = args[0] + strlen(args[0]) + 1;
		len = req->type == XS_WRITE ? req->len - strlen(args[0]) - 1 : 0;
		if (!err)
			err = txn_access(c, txn, req->type, path, len);
		if (err)
			break;
		switch (req->type) {
		case XS_READ:
			err = pvring_store_read(tree, c->domid, path, &value, &len);
			if (!err)
				reply(c, req, value, len);
			break;
		case XS_WRITE:
			err = pvring_store_write(tree, c->domid, path, value, len);
			if (err == -ENOSPC)
				over_quota(c, QUOTA_NODES, NODE_QUOTA,
					   PVRING_STORE_NODES_PER_GUEST);
			if (!err)
				err = changed(c, req, txn, path, value, len, NULL, 0);
			break;
		case XS_MKDIR:
			err = pvring_store_mkdir(tree, c->domid, path);
			if (err == -ENOSPC)
				over_quota(c, QUOTA_NODES, NODE_QUOTA,
					   PVRING_STORE_NODES_PER_GUEST);
			if (!err)
				err = changed(c, req, txn, path, NULL, 0, NULL, 0);
			break;
		case XS_RM:
			err = pvring_store_rm(tree, c->domid, path);
			if (!err)
				err = changed(c, req, txn, path, NULL, 0, NULL, 0);
			break;
		case XS_DIRECTORY:
			err = pvring_store_directory(tree, c->domid, path, &list, &len);
			if (!err) {
				if (len > XENSTORE_PAYLOAD_MAX)
					err = -E2BIG;
				else
					reply(c, req, list, len);
				free(list);
			}
			break;
		case XS_GET_PERMS:
			err = do_get_perms(c, req, tree, path);
			break;
		default:
			err = do_set_perms(c, req, tree, txn, path, args, (unsigned int)nargs);
			break;
		}
		/* A change part made in the transaction's tree, that its ops do not hold. */
		if (txn && err == -ENOMEM && req->type != XS_READ && req->type != XS_DIRECTORY &&
		    req->type != XS_GET_PERMS)
			txn->failed = true;
		break;
	case XS_WATCH:
	case XS_UNWATCH:
		if (nargs != 2) {
			err = -EINVAL;
			break;
		}
		err = req->type == XS_WATCH ? do_watch(c, req, args) : do_unwatch(c, req, args);
		break;
	case XS_RESET_WATCHES:
		while (c->watches) {
			struct watch *w = c->watches;

			c->watches = w->next;
			free_watch(w);
		}
		c->nr_watches = 0;
		reply_string(c, req, "OK");
		err = 0;
		break;
	case XS_TRANSACTION_START:
		err = do_transaction_start(c, req);
		break;
	case XS_TRANSACTION_END:
		err = nargs == 1 ? do_transaction_end(c, req, args[0]) : -EINVAL;
		break;
	case XS_GET_DOMAIN_PATH: {
		uint32_t domid;

		err = nargs == 1 ? parse_domid(args[0], &domid) : -EINVAL;
		if (!err)
			reply_string(c, req, home_of(domid, path, sizeof(path)));
		break;
	}
	case XS_INTRODUCE:
		err = nargs == 3 ? do_introduce(c, req, args) : -EINVAL;
		break;
	case XS_RELEASE:
		err = nargs == 1 ? do_release(c, req, args) : -EINVAL;
		break;
	case XS_IS_DOMAIN_INTRODUCED: {
		uint32_t domid;

		err = nargs == 1 ? parse_domid(args[0], &domid) : -EINVAL;
		if (!err)
			reply_string(c, req, domid == 0 || find_domain(c->srv, domid) ? "T" : "F");
		break;
	}
	default:
		err = -ENOSYS;
		break;
	}
	if (err)
		reply_error(c, req, err);
	return 0;
malformed:
	conn_reject(c, "malformed request (arguments not NUL-terminated)");
	return -1;
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct pvring_store_server *srv = arg;
	struct conn *c, *next;

	(void)fd;
	(void)what;
	for (c = srv->conns; c; c = next) {
		next = c->next;
		if (c->doomed)
			conn_reject(
				c,
				"it does not read its replies and watch events (256 KiB queued)");
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char payload[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg req;

	while (!c->doomed && evbuffer_get_length(in) >= sizeof(req)) {
		evbuffer_copyout(in, &req, sizeof(req));
		if (req.len > XENSTORE_PAYLOAD_MAX) {
			conn_reject(c, "request larger than the 4096-byte payload limit");
			return;
		}
		if (evbuffer_get_length(in) < sizeof(req) + req.len)
			return;
		evbuffer_drain(in, sizeof(req));
		evbuffer_remove(in, payload, req.len);
		payload[req.len] = '\0';
		if (handle(c, &req, payload))
			return;
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(c);
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct domain *d = arg;
	unsigned int held = 0;
	struct conn *c;

	(void)listener;
	(void)sa;
	(void)socklen;
	for (c = d->srv->conns; c; c = c->next)
		held += c->domid == d->domid;
	if (d->domid != 0 && held >= CONNS_PER_GUEST) {
		pvring_warn("store: dom%u already has %u connections; refusing another", d->domid,
			    held);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->bev = bufferevent_socket_new(d->srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c || !c->bev) {
		pvring_err("store: out of memory accepting a dom%u connection", d->domid);
		free(c);
		close(fd);
		return;
	}
	c->srv = d->srv;
	c->domid = d->domid;
	c->next = d->srv->conns;
	d->srv->conns = c;
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Listen on path for domain d; the socket is created 0600, replacing a stale one. */
static int listen_on(struct domain *d, const char *path, const char **why)
{
	int fd = pvring_unix_listen(path, SOCK_STREAM, 16, NULL, why);

	if (fd < 0)
		return fd;
	d->listener = evconnlistener_new(d->srv->base, on_accept, d,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!d->listener) {
		close(fd);
		unlink(path);
		*why = "cannot listen on the socket";
		return -ENOMEM;
	}
	d->socket_path = strdup(path);
	return d->socket_path ? 0 : -ENOMEM;
}

static struct domain *domain_new(struct pvring_store_server *srv, uint32_t domid)
{
	struct domain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->srv = srv;
	d->domid = domid;
	return d;
}

static void domain_free(struct domain *d)
{
	if (d->listener)
		evconnlistener_free(d->listener);
	if (d->socket_path)
		unlink(d->socket_path);
	if (d->dir)
		rmdir(d->dir);
	free(d->socket_path);
	free(d->dir);
	free(d);
}

static int listen_domain(struct pvring_store_server *srv, uint32_t domid, const char **why)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct domain *d = domain_new(srv, domid);
	int err;

	if (!d) {
		*why = "out of memory";
		return -ENOMEM;
	}
	snprintf(dir, sizeof(dir), "%s/domain", srv->rundir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		*why = "cannot create the domain directory";
		domain_free(d);
		return -errno;
	}
	snprintf(dir, sizeof(dir), "%s/domain/%u", srv->rundir, domid);
	snprintf(path, sizeof(path), "%s/domain/%u/socket", srv->rundir, domid);
	if ((mkdir(dir, 0700) && errno != EEXIST) || !(d->dir = strdup(dir))) {
		*why = "cannot create the domain directory";
		domain_free(d);
		return -EIO;
	}
	err = listen_on(d, path, why);
	if (err) {
		domain_free(d);
		return err;
	}
	d->next = srv->domains;
	srv->domains = d;
	pvring_info("store: dom%u introduced, socket %s", domid, path);
	return 0;
}

static void release_domain(struct pvring_store_server *srv, struct domain *d)
{
	struct domain **link;
	struct conn *c, *next;

	for (link = &srv->domains; *link != d; link = &(*link)->next)
		;
	*link = d->next;
	for (c = srv->conns; c; c = next) {
		next = c->next;
		if (c->domid == d->domid)
			conn_close(c);
	}
	pvring_info("store: dom%u released", d->domid);
	domain_free(d);
}

struct pvring_store_server *pvring_store_server_new(struct event_base *base, const char *rundir,
						    const char **why)
{
	struct pvring_store_server *srv = calloc(1, sizeof(*srv));
	char path[PATH_MAX];
	struct domain *dom0;

	if (!srv || !(srv->rundir = strdup(rundir)) || pvring_store_tree_init(&srv->tree)) {
		*why = "out of memory";
		pvring_store_server_free(srv);
		return NULL;
	}
	srv->base = base;
	srv->reaper = event_new(base, -1, 0, on_reap, srv);
	if (!srv->reaper) {
		*why = "out of memory";
		pvring_store_server_free(srv);
		return NULL;
	}
	if (mkdir(rundir, 0700) && errno != EEXIST) {
		*why = "cannot create the run directory";
		pvring_store_server_free(srv);
		return NULL;
	}
	dom0 = domain_new(srv, 0);
	snprintf(path, sizeof(path), "%s/socket", rundir);
	if (!dom0 || listen_on(dom0, path, why)) {
		if (dom0)
			domain_free(dom0);
		else
			*why = "out of memory";
		pvring_store_server_free(srv);
		return NULL;
	}
	srv->domains = dom0;
	return srv;
}

void pvring_store_server_free(struct pvring_store_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns);
	while (srv->domains) {
		struct domain *d = srv->domains;

		srv->domains = d->next;
		domain_free(d);
	}
	if (srv->reaper)
		event_free(srv->reaper);
	pvring_store_tree_free(&srv->tree);
	free(srv->rundir);
	free(srv);
}
