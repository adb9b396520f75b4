// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the local store's xenstore wire protocol, as clients
 * send it, through the server's own framing (on_read) and dispatch (handle)
 * down to the tree. No socket: the server file is compiled into this one so
 * its static functions can be driven with socket-less bufferevents, whose
 * output queues up here to be read back and drained.
 *
 * Three clients: dom0, and guests 5 and 7 (guest 5 with two connections).
 * After every message the tree must be well formed with its quota counts
 * right, and a guest's message may only have changed what its permissions
 * allowed, only have shown it what it may read, and only have charged it
 * (never anyone else) for nodes.
 *
 * Input, per message: conn byte (bits 0-1: client; bit 7: raw), then either
 * raw bytes of a message stream (a length byte, then that many bytes, framing
 * left to the server), or type, transaction choice, payload length and the
 * payload, from which a well-formed header is built.
 */
#include "config.h"

#include "daemon/store/store_server.c"

#include "tests/fuzz/fuzz_require.h"

#define NR_CLIENTS 4
#define NR_TXIDS 4

static const uint32_t client_domid[NR_CLIENTS] = { 0, 5, 7, 5 };

struct client {
	struct conn *conn;
	uint32_t txids[NR_TXIDS]; /* ids the server handed this client */
};

/* ---- a flat copy of a tree, to compare before and after ---- */

struct entry {
	char *path;
	char *value;
	size_t value_len;
	struct pvring_store_perm *perms;
	unsigned int nr_perms;
};

struct snapshot {
	struct entry *e;
	size_t n, cap;
};

static void snap_node(struct snapshot *s, const struct pvring_store_node *node, const char *path)
{
	struct entry *e;
	unsigned int i;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->e = realloc(s->e, s->cap * sizeof(*s->e));
		if (!s->e)
			abort();
	}
	e = &s->e[s->n++];
	e->path = strdup(path);
	e->value = malloc(node->value_len + 1);
	e->perms = malloc(node->nr_perms * sizeof(*e->perms));
	if (!e->path || !e->value || !e->perms)
		abort();
	memcpy(e->value, node->value, node->value_len + 1);
	e->value_len = node->value_len;
	memcpy(e->perms, node->perms, node->nr_perms * sizeof(*e->perms));
	e->nr_perms = node->nr_perms;
	for (i = 0; i < node->nr_children; i++) {
		const struct pvring_store_node *child = node->children[i];
		char *sub = malloc(strlen(path) + strlen(child->name) + 2);

		if (!sub)
			abort();
		sprintf(sub, "%s/%s", strcmp(path, "/") ? path : "", child->name);
		snap_node(s, child, sub);
		free(sub);
	}
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

static void snap_take(struct snapshot *s, const struct pvring_store_tree *tree)
{
	memset(s, 0, sizeof(*s));
	snap_node(s, tree->root, "/");
	qsort(s->e, s->n, sizeof(*s->e), entry_cmp);
}

static void snap_free(struct snapshot *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->e[i].path);
		free(s->e[i].value);
		free(s->e[i].perms);
	}
	free(s->e);
}

static const struct entry *snap_find(const struct snapshot *s, const char *path)
{
	struct entry key = { .path = (char *)path };

	return s->n ? bsearch(&key, s->e, s->n, sizeof(*s->e), entry_cmp) : NULL;
}

/* Cut an absolute path in buf down to its parent's ("/" for a top-level node). */
static void up(char *buf)
{
	char *slash = strrchr(buf, '/');

	if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
}

/* Access as store_tree.h documents it, recomputed from the copied permissions. */
static char access_for(const struct entry *e, uint32_t domid)
{
	unsigned int i;

	if (domid == 0 || e->perms[0].domid == domid)
		return 'b';
	for (i = 1; i < e->nr_perms; i++)
		if (e->perms[i].domid == domid)
			return e->perms[i].access;
	return e->perms[0].access;
}

static bool can_read(const struct entry *e, uint32_t domid)
{
	return e && strchr("rb", access_for(e, domid));
}

static bool can_write(const struct entry *e, uint32_t domid)
{
	return e && strchr("wb", access_for(e, domid));
}

static bool same_perms(const struct entry *a, const struct entry *b)
{
	return a->nr_perms == b->nr_perms &&
	       !memcmp(a->perms, b->perms, a->nr_perms * sizeof(*a->perms));
}

/*
 * Whether domid could have removed path, or one of its ancestors, before:
 * within a transaction it may then have re-created it as its own.
 */
static bool replaceable(const struct snapshot *s, const char *path, uint32_t domid)
{
	char buf[PVRING_STORE_PATH_MAX + 1], parent[PVRING_STORE_PATH_MAX + 1];

	snprintf(buf, sizeof(buf), "%s", path);
	while (strcmp(buf, "/")) {
		memcpy(parent, buf, sizeof(buf));
		up(parent);
		if (can_write(snap_find(s, buf), domid) && can_write(snap_find(s, parent), domid))
			return true;
		memcpy(buf, parent, sizeof(buf));
	}
	return false;
}

static uint32_t owned_in(const struct snapshot *s, uint32_t domid)
{
	uint32_t n = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		n += s->e[i].perms[0].domid == domid;
	return n;
}

/* Names and values of what domid owns, as the byte quota counts them. */
static uint64_t bytes_in(const struct snapshot *s, uint32_t domid)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->e[i].perms[0].domid == domid)
			n += strlen(strrchr(s->e[i].path, '/') + 1) + s->e[i].value_len;
	return n;
}

/*
 * What a guest's change of the tree may contain. Within one message the rules
 * are exact; a committed transaction may also have removed and re-created
 * nodes (relaxed), which leaves them owned by the guest.
 */
static void check_guest_change(const struct snapshot *before, const struct snapshot *after,
			       uint32_t domid, bool relaxed)
{
	char pbuf[PVRING_STORE_PATH_MAX + 1];
	uint32_t others[] = { 0, 5, 7, 9 };
	size_t i;

	for (i = 0; i < after->n; i++) {
		const struct entry *a = &after->e[i];
		const struct entry *b = snap_find(before, a->path);
		bool replaced = relaxed && a->perms[0].domid == domid &&
				replaceable(before, a->path, domid);

		if (b) {
			bool value_changed = a->value_len != b->value_len ||
					     memcmp(a->value, b->value, a->value_len);

			if (value_changed)
				require(can_write(b, domid) || replaced);
			if (!same_perms(a, b))
				require((b->perms[0].domid == domid &&
					 a->perms[0].domid == domid) ||
					replaced);
		} else {
			/* New: the guest's own, under something it could write to. */
			const struct entry *anc;

			require(a->perms[0].domid == domid);
			snprintf(pbuf, sizeof(pbuf), "%s", a->path);
			do {
				up(pbuf);
				anc = snap_find(before, pbuf);
			} while (!anc);
			require(can_write(anc, domid) ||
				(relaxed && replaceable(before, anc->path, domid)));
		}
	}
	for (i = 0; i < before->n; i++) {
		const struct entry *b = &before->e[i];

		if (snap_find(after, b->path))
			continue;
		require(strcmp(b->path, "/"));
		snprintf(pbuf, sizeof(pbuf), "%s", b->path);
		up(pbuf);
		if (relaxed)
			require(replaceable(before, b->path, domid));
		else if (snap_find(after, pbuf))
			/* The top of a removed subtree: node and parent writable. */
			require(can_write(b, domid) && can_write(snap_find(before, pbuf), domid));
	}
	/* A guest pays for its own nodes, within its quota, and never for anyone else's. */
	if (owned_in(after, domid) > owned_in(before, domid))
		require(owned_in(after, domid) <= PVRING_STORE_NODES_PER_GUEST);
	if (bytes_in(after, domid) > bytes_in(before, domid))
		require(bytes_in(after, domid) <= PVRING_STORE_BYTES_PER_GUEST);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (others[i] != domid)
			require(owned_in(after, others[i]) <= owned_in(before, others[i]));
}

/* ---- the tree's own consistency ---- */

static void count_nodes(const struct pvring_store_node *node, uint32_t *domids, uint32_t *counts,
			uint64_t *bytes, unsigned int *n, unsigned int max)
{
	unsigned int i;

	require(node->nr_perms >= 1);
	for (i = 0; i < node->nr_perms; i++)
		require(node->perms[i].access && strchr("nrwb", node->perms[i].access));
	require(node->value[node->value_len] == '\0');
	require(node->value_len <= PVRING_STORE_VALUE_MAX);
	for (i = 0; i < *n && domids[i] != node->perms[0].domid; i++)
		;
	if (i == *n) {
		require(*n < max);
		domids[i] = node->perms[0].domid;
		counts[i] = 0;
		bytes[i] = 0;
		(*n)++;
	}
	counts[i]++;
	bytes[i] += strlen(node->name) + node->value_len;
	for (i = 0; i < node->nr_children; i++) {
		const struct pvring_store_node *child = node->children[i];
		unsigned int j;

		require(child->refs >= 1);
		require(child->name[0] != '\0' && !strchr(child->name, '/'));
		for (j = i + 1; j < node->nr_children; j++)
			require(strcmp(node->children[j]->name, child->name));
		count_nodes(child, domids, counts, bytes, n, max);
	}
}

static void check_tree(const struct pvring_store_tree *tree)
{
	uint32_t domids[64], counts[64];
	uint64_t bytes[64];
	unsigned int n = 0, i;

	require(tree->root && tree->root->refs >= 1 && !tree->root->name[0]);
	count_nodes(tree->root, domids, counts, bytes, &n, 64);
	for (i = 0; i < n; i++) {
		require(pvring_store_nodes_owned(tree, domids[i]) == counts[i]);
		require(pvring_store_bytes_owned(tree, domids[i]) == bytes[i]);
	}
	for (i = 0; i < tree->nr_owners; i++) {
		unsigned int j;

		for (j = 0; j < n && domids[j] != tree->owners[i].domid; j++)
			;
		require(tree->owners[i].nodes == (j < n ? counts[j] : 0));
		require(tree->owners[i].bytes == (j < n ? bytes[j] : 0));
	}
}

/* ---- clients ---- */

static struct conn *connect_client(struct pvring_store_server *srv, uint32_t domid)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->srv = srv;
	c->domid = domid;
	/* No descriptor: replies stay in the output buffer for us to read. */
	c->bev = bufferevent_socket_new(srv->base, -1, 0);
	if (!c->bev)
		abort();
	/* Enabled by default: the event loop would try to write to fd -1 and drop it all. */
	bufferevent_disable(c->bev, EV_WRITE);
	/* A socket bufferevent's buffers meet only its socket: let us fill and drain them. */
	evbuffer_unfreeze(bufferevent_get_input(c->bev), 0);
	evbuffer_unfreeze(bufferevent_get_output(c->bev), 1);
	c->next = srv->conns;
	srv->conns = c;
	return c;
}

static bool conn_alive(struct pvring_store_server *srv, struct conn *c)
{
	struct conn *p;

	for (p = srv->conns; p; p = p->next)
		if (p == c)
			return true;
	return false;
}

static struct pvring_store_tree *txn_tree(struct conn *c, uint32_t tx_id)
{
	struct txn *t;

	if (tx_id == 0)
		return &c->srv->tree;
	for (t = c->txns; t; t = t->next)
		if (t->id == tx_id)
			return &t->tree;
	return NULL;
}

/* Read back and drain what the server sent cl; check what a guest was shown. */
static void read_output(struct client *cl, const struct xsd_sockmsg *req, bool own_request,
			const struct pvring_store_tree *tree)
{
	struct evbuffer *out = bufferevent_get_output(cl->conn->bev);
	struct conn *c = cl->conn;
	struct xsd_sockmsg hdr;
	char *payload;

	while (evbuffer_get_length(out) >= sizeof(hdr)) {
		if (evbuffer_remove(out, &hdr, sizeof(hdr)) != sizeof(hdr))
			abort();
		require(hdr.len <= XENSTORE_PAYLOAD_MAX + PVRING_STORE_PATH_MAX + 2);
		require(evbuffer_get_length(out) >= hdr.len);
		payload = malloc(hdr.len + 1);
		if (!payload)
			abort();
		if (evbuffer_remove(out, payload, hdr.len) != (int)hdr.len)
			abort();
		payload[hdr.len] = '\0';
		if (hdr.type == XS_TRANSACTION_START && own_request) {
			memmove(cl->txids + 1, cl->txids, (NR_TXIDS - 1) * sizeof(cl->txids[0]));
			cl->txids[0] = (uint32_t)strtoul(payload, NULL, 10);
		}
		/* A guest reads, lists or sees the permissions of only what it may read. */
		if (c->domid && own_request && tree &&
		    (hdr.type == XS_READ || hdr.type == XS_DIRECTORY || hdr.type == XS_GET_PERMS) &&
		    hdr.type == req->type) {
			char path[PVRING_STORE_PATH_MAX + 1];
			struct snapshot s;
			char *arg = (char *)(req + 1);

			require(absolute(c, arg, path, sizeof(path)) == 0);
			snap_take(&s, tree);
			require(can_read(snap_find(&s, path), c->domid));
			snap_free(&s);
		}
		free(payload);
	}
}

/* ---- the target ---- */

static struct event_base *base;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client clients[NR_CLIENTS];
	struct pvring_store_server *srv;
	unsigned int i;

	if (!base) {
		pvring_log_setup("fuzz_store_msg", PVRING_LOG_ERR, false);
		base = event_base_new();
		if (!base)
			abort();
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv || pvring_store_tree_init(&srv->tree))
		abort();
	srv->base = base;
	srv->reaper = event_new(base, -1, 0, on_reap, srv);
	if (!srv->reaper)
		abort();
	memset(clients, 0, sizeof(clients));

	while (size >= 2) {
		uint8_t sel = data[0];
		struct client *cl = &clients[sel & 3];
		struct {
			struct xsd_sockmsg hdr;
			char payload[XENSTORE_PAYLOAD_MAX + 1];
		} msg;
		struct snapshot before, after;
		struct pvring_store_tree *tree;
		bool guest, commit;
		uint32_t domid = client_domid[sel & 3];
		size_t len, i2;
		const uint8_t *bytes;

		if (!cl->conn || !conn_alive(srv, cl->conn)) {
			cl->conn = connect_client(srv, domid);
			memset(cl->txids, 0, sizeof(cl->txids));
		}
		memset(&msg.hdr, 0, sizeof(msg.hdr));
		if (sel & 0x80) {
			/* Raw bytes: framing, lengths and all, as the client chose them. */
			len = data[1];
			data += 2;
			size -= 2;
			if (len > size)
				len = size;
			bytes = data;
			data += len;
			size -= len;
		} else {
			uint8_t tx;

			if (size < 5)
				break;
			msg.hdr.type = data[1] % XS_TYPE_COUNT;
			/* Domains come and go through sockets: not here. */
			if (msg.hdr.type == XS_INTRODUCE || msg.hdr.type == XS_RELEASE)
				msg.hdr.type = XS_IS_DOMAIN_INTRODUCED;
			tx = data[2];
			msg.hdr.tx_id = tx < 0xc0   ? 0
					: tx < 0xfc ? cl->txids[tx % NR_TXIDS]
						    : (uint32_t)tx;
			msg.hdr.req_id = data[3];
			len = data[4];
			data += 5;
			size -= 5;
			if (len > size)
				len = size;
			msg.hdr.len = (uint32_t)len;
			memcpy(msg.payload, data, len);
			data += len;
			size -= len;
			bytes = (const uint8_t *)&msg;
			len += sizeof(msg.hdr);
		}

		/* The tree this message works on, as the guest's rules apply to it. */
		guest = domid != 0;
		commit = !(sel & 0x80) && msg.hdr.type == XS_TRANSACTION_END && msg.hdr.tx_id;
		tree = sel & 0x80 ? &srv->tree : txn_tree(cl->conn, commit ? 0 : msg.hdr.tx_id);
		if (guest && tree)
			snap_take(&before, tree);
		if (!(sel & 0x80))
			msg.payload[msg.hdr.len] = '\0';

		if (evbuffer_add(bufferevent_get_input(cl->conn->bev), bytes, len))
			abort();
		on_read(cl->conn->bev, cl->conn);
		event_base_loop(base, EVLOOP_NONBLOCK);

		/* Raw streams may carry several messages: check what the tree became, not how. */
		if (guest && tree) {
			if (conn_alive(srv, cl->conn) || tree == &srv->tree) {
				snap_take(&after, tree);
				check_guest_change(&before, &after, domid, commit || (sel & 0x80));
				snap_free(&after);
			}
			snap_free(&before);
		}
		for (i2 = 0; i2 < NR_CLIENTS; i2++) {
			struct client *o = &clients[i2];

			if (!o->conn || !conn_alive(srv, o->conn))
				continue;
			read_output(o, &msg.hdr, o == cl && !(sel & 0x80),
				    txn_tree(o->conn, msg.hdr.tx_id));
		}
		check_tree(&srv->tree);
		for (i2 = 0; i2 < NR_CLIENTS; i2++) {
			struct txn *t;

			if (!clients[i2].conn || !conn_alive(srv, clients[i2].conn))
				continue;
			for (t = clients[i2].conn->txns; t; t = t->next)
				check_tree(&t->tree);
		}
	}

	for (i = 0; i < NR_CLIENTS; i++)
		if (clients[i].conn && conn_alive(srv, clients[i].conn))
			conn_close(clients[i].conn);
	event_free(srv->reaper);
	pvring_store_tree_free(&srv->tree);
	free(srv);
	return 0;
}
