// SPDX-License-Identifier: MIT
/* The local store's tree of nodes: see store_tree.h. */
#include "config.h"

#include "store_tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void node_free(struct pvring_store_node *node)
{
	while (node->children) {
		struct pvring_store_node *child = node->children;

		node->children = child->next;
		node_free(child);
	}
	free(node->name);
	free(node->value);
	free(node->perms);
	free(node);
}

static struct pvring_store_node *node_new(const char *name, size_t name_len,
					  const struct pvring_store_perm *perms,
					  unsigned int nr_perms)
{
	struct pvring_store_node *node = calloc(1, sizeof(*node));

	if (!node)
		return NULL;
	node->name = strndup(name, name_len);
	node->value = strdup("");
	node->perms = malloc(nr_perms * sizeof(*perms));
	if (!node->name || !node->value || !node->perms) {
		node_free(node);
		return NULL;
	}
	memcpy(node->perms, perms, nr_perms * sizeof(*perms));
	node->nr_perms = nr_perms;
	return node;
}

static const struct pvring_store_owner *owner_of(const struct pvring_store_tree *tree,
						 uint32_t domid)
{
	unsigned int i;

	for (i = 0; i < tree->nr_owners; i++)
		if (tree->owners[i].domid == domid)
			return &tree->owners[i];
	return NULL;
}

uint32_t pvring_store_nodes_owned(const struct pvring_store_tree *tree, uint32_t domid)
{
	const struct pvring_store_owner *o = owner_of(tree, domid);

	return o ? o->nodes : 0;
}

uint64_t pvring_store_bytes_owned(const struct pvring_store_tree *tree, uint32_t domid)
{
	const struct pvring_store_owner *o = owner_of(tree, domid);

	return o ? o->bytes : 0;
}

/* What a node costs its owner against the byte quota. */
static uint64_t node_bytes(const struct pvring_store_node *node)
{
	return strlen(node->name) + node->value_len;
}

/* Whether a guest owning domid's nodes may take bytes more (dom0 has no quota). */
static bool bytes_fit(const struct pvring_store_tree *tree, uint32_t domid, uint64_t bytes)
{
	return domid == 0 ||
	       pvring_store_bytes_owned(tree, domid) + bytes <= PVRING_STORE_BYTES_PER_GUEST;
}

/* Count nodes and bytes gained (deltas > 0) or lost by domid; 0 or -ENOMEM. */
static int count_owned(struct pvring_store_tree *tree, uint32_t domid, int32_t nodes, int64_t bytes)
{
	struct pvring_store_owner *grown;
	unsigned int i;

	for (i = 0; i < tree->nr_owners; i++) {
		if (tree->owners[i].domid == domid) {
			tree->owners[i].nodes += (uint32_t)nodes;
			tree->owners[i].bytes += (uint64_t)bytes;
			return 0;
		}
	}
	grown = realloc(tree->owners, (tree->nr_owners + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	tree->owners = grown;
	tree->owners[tree->nr_owners++] =
		(struct pvring_store_owner){ domid, (uint32_t)nodes, (uint64_t)bytes };
	return 0;
}

/* A subtree about to be freed no longer counts against its owners. */
static void uncount_subtree(struct pvring_store_tree *tree, const struct pvring_store_node *node)
{
	const struct pvring_store_node *child;

	for (child = node->children; child; child = child->next)
		uncount_subtree(tree, child);
	count_owned(tree, node->perms[0].domid, -1, -(int64_t)node_bytes(node));
}

int pvring_store_tree_init(struct pvring_store_tree *tree)
{
	/* The root belongs to dom0; nobody else may read or write it. */
	static const struct pvring_store_perm root_perms[] = { { 0, 'n' } };

	tree->generation = 0;
	tree->owners = NULL;
	tree->nr_owners = 0;
	tree->root = node_new("", 0, root_perms, 1);
	if (!tree->root || count_owned(tree, 0, 1, 0)) {
		pvring_store_tree_free(tree);
		return -ENOMEM;
	}
	return 0;
}

void pvring_store_tree_free(struct pvring_store_tree *tree)
{
	if (tree->root)
		node_free(tree->root);
	tree->root = NULL;
	free(tree->owners);
	tree->owners = NULL;
	tree->nr_owners = 0;
}

static struct pvring_store_node *node_clone(const struct pvring_store_node *node,
					    struct pvring_store_node *parent)
{
	struct pvring_store_node *copy, **tail;
	const struct pvring_store_node *child;

	copy = node_new(node->name, strlen(node->name), node->perms, node->nr_perms);
	if (!copy)
		return NULL;
	free(copy->value);
	copy->value = malloc(node->value_len + 1);
	if (!copy->value) {
		node_free(copy);
		return NULL;
	}
	memcpy(copy->value, node->value, node->value_len + 1);
	copy->value_len = node->value_len;
	copy->parent = parent;
	tail = &copy->children;
	for (child = node->children; child; child = child->next) {
		*tail = node_clone(child, copy);
		if (!*tail) {
			node_free(copy);
			return NULL;
		}
		tail = &(*tail)->next;
	}
	return copy;
}

int pvring_store_tree_clone(struct pvring_store_tree *copy, const struct pvring_store_tree *tree)
{
	size_t owners = tree->nr_owners * sizeof(*tree->owners);

	copy->generation = tree->generation;
	copy->nr_owners = tree->nr_owners;
	copy->owners = malloc(owners ? owners : 1);
	copy->root = node_clone(tree->root, NULL);
	if (!copy->root || !copy->owners) {
		pvring_store_tree_free(copy);
		return -ENOMEM;
	}
	memcpy(copy->owners, tree->owners, owners);
	return 0;
}

bool pvring_store_path_valid(const char *path)
{
	size_t len = strlen(path), i;

	if (len == 0 || len > PVRING_STORE_PATH_MAX || path[0] != '/')
		return false;
	if (len > 1 && path[len - 1] == '/')
		return false;
	for (i = 0; i < len; i++) {
		char c = path[i];

		if (c == '/' && i > 0 && path[i - 1] == '/')
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '-' || c == '_' || c == '@'))
			return false;
	}
	return true;
}

static struct pvring_store_node *child_named(const struct pvring_store_node *node, const char *name,
					     size_t len)
{
	struct pvring_store_node *child;

	for (child = node->children; child; child = child->next)
		if (strlen(child->name) == len && !memcmp(child->name, name, len))
			return child;
	return NULL;
}

/*
 * Walk to path. Returns the node, or NULL with *deepest set to the last node
 * that exists on the way and *rest to the part of path below it.
 */
static struct pvring_store_node *walk(const struct pvring_store_tree *tree, const char *path,
				      struct pvring_store_node **deepest, const char **rest)
{
	struct pvring_store_node *node = tree->root;
	const char *p = path + 1;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct pvring_store_node *child = child_named(node, p, len);

		if (!child) {
			if (deepest)
				*deepest = node;
			if (rest)
				*rest = p;
			return NULL;
		}
		node = child;
		p += len + (end ? 1 : 0);
	}
	return node;
}

static char access_of(const struct pvring_store_node *node, uint32_t caller)
{
	unsigned int i;

	if (caller == 0 || node->perms[0].domid == caller)
		return 'b';
	for (i = 1; i < node->nr_perms; i++)
		if (node->perms[i].domid == caller)
			return node->perms[i].access;
	return node->perms[0].access;
}

static bool may_read(const struct pvring_store_node *node, uint32_t caller)
{
	char a = access_of(node, caller);

	return a == 'r' || a == 'b';
}

static bool may_write(const struct pvring_store_node *node, uint32_t caller)
{
	char a = access_of(node, caller);

	return a == 'w' || a == 'b';
}

/*
 * Find path, creating what is missing; the node or NULL with *err. A guest creating pays for
 * the nodes and their names, and for value_len bytes of the last one's value to come, all
 * checked before anything is made.
 */
static struct pvring_store_node *find_or_create(struct pvring_store_tree *tree, uint32_t caller,
						const char *path, size_t value_len, bool *created,
						int *err)
{
	struct pvring_store_node *node, *parent = NULL;
	const char *rest = NULL;

	*created = false;
	if (!pvring_store_path_valid(path) || !strcmp(path, "/")) {
		*err = -EINVAL;
		return NULL;
	}
	node = walk(tree, path, &parent, &rest);
	if (node)
		return node;
	if (!may_write(parent, caller)) {
		*err = -EACCES;
		return NULL;
	}
	/* A guest pays for what it creates, every missing component, before any is made. */
	if (caller != 0) {
		uint32_t missing = 1;
		const char *p;

		for (p = rest; *p; p++)
			missing += *p == '/';
		/* The names, less their separators, and the value. */
		if (pvring_store_nodes_owned(tree, caller) + missing >
			    PVRING_STORE_NODES_PER_GUEST ||
		    !bytes_fit(tree, caller, strlen(rest) - (missing - 1) + value_len)) {
			*err = -ENOSPC;
			return NULL;
		}
	}
	while (*rest) {
		const char *end = strchr(rest, '/');
		size_t len = end ? (size_t)(end - rest) : strlen(rest);

		node = node_new(rest, len, parent->perms, parent->nr_perms);
		if (!node) {
			*err = -ENOMEM;
			return NULL;
		}
		/* A guest owns what it creates; dom0's nodes keep the parent's owner. */
		if (caller != 0)
			node->perms[0].domid = caller;
		if (count_owned(tree, node->perms[0].domid, 1, (int64_t)len)) {
			node_free(node);
			*err = -ENOMEM;
			return NULL;
		}
		node->parent = parent;
		node->next = parent->children;
		parent->children = node;
		parent = node;
		rest += len + (end ? 1 : 0);
	}
	*created = true;
	return node;
}

/* The node at path if caller may read it; 0 or -EINVAL, -ENOENT, -EACCES. */
static int lookup_readable(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
			   const struct pvring_store_node **node)
{
	if (!pvring_store_path_valid(path))
		return -EINVAL;
	*node = walk(tree, path, NULL, NULL);
	if (!*node)
		return -ENOENT;
	return may_read(*node, caller) ? 0 : -EACCES;
}

int pvring_store_read(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
		      const char **value, size_t *len)
{
	const struct pvring_store_node *node;
	int err = lookup_readable(tree, caller, path, &node);

	if (err)
		return err;
	*value = node->value;
	*len = node->value_len;
	return 0;
}

int pvring_store_write(struct pvring_store_tree *tree, uint32_t caller, const char *path,
		       const char *value, size_t len)
{
	struct pvring_store_node *node;
	bool created;
	char *copy;
	int err = 0;

	if (len > PVRING_STORE_VALUE_MAX)
		return -EINVAL;
	node = find_or_create(tree, caller, path, len, &created, &err);
	if (!node)
		return err;
	if (!created && !may_write(node, caller))
		return -EACCES;
	/* The node's owner pays for a longer value (a node just made: checked already). */
	if (!created && len > node->value_len &&
	    !bytes_fit(tree, node->perms[0].domid, len - node->value_len))
		return -ENOSPC;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, value, len);
	copy[len] = '\0';
	/* The owner was counted when it was looked up or made: this cannot need memory. */
	count_owned(tree, node->perms[0].domid, 0, (int64_t)len - (int64_t)node->value_len);
	free(node->value);
	node->value = copy;
	node->value_len = len;
	tree->generation++;
	return 0;
}

int pvring_store_mkdir(struct pvring_store_tree *tree, uint32_t caller, const char *path)
{
	bool created;
	int err = 0;
	struct pvring_store_node *node = find_or_create(tree, caller, path, 0, &created, &err);

	if (!node)
		return err;
	/*
	 * As xenstored: making a node that exists needs the right to write it,
	 * so a guest cannot learn by mkdir what it may not read.
	 */
	if (!created && !may_write(node, caller))
		return -EACCES;
	if (created)
		tree->generation++;
	return 0;
}

int pvring_store_rm(struct pvring_store_tree *tree, uint32_t caller, const char *path)
{
	struct pvring_store_node *node, **link;

	if (!pvring_store_path_valid(path) || !strcmp(path, "/"))
		return -EINVAL;
	node = walk(tree, path, NULL, NULL);
	if (!node)
		return -ENOENT;
	/* Removing a node changes its parent's list of children. */
	if (!may_write(node, caller) || !may_write(node->parent, caller))
		return -EACCES;
	for (link = &node->parent->children; *link != node; link = &(*link)->next)
		;
	*link = node->next;
	uncount_subtree(tree, node);
	node_free(node);
	tree->generation++;
	return 0;
}

int pvring_store_directory(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
			   char **list, size_t *len)
{
	const struct pvring_store_node *node, *child;
	size_t total = 0;
	int err = lookup_readable(tree, caller, path, &node);
	char *out;

	if (err)
		return err;
	for (child = node->children; child; child = child->next)
		total += strlen(child->name) + 1;
	out = malloc(total ? total : 1);
	if (!out)
		return -ENOMEM;
	*list = out;
	*len = total;
	for (child = node->children; child; child = child->next) {
		size_t n = strlen(child->name) + 1;

		memcpy(out, child->name, n);
		out += n;
	}
	return 0;
}

int pvring_store_get_perms(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
			   const struct pvring_store_perm **perms, unsigned int *nr_perms)
{
	const struct pvring_store_node *node;
	int err = lookup_readable(tree, caller, path, &node);

	if (err)
		return err;
	*perms = node->perms;
	*nr_perms = node->nr_perms;
	return 0;
}

int pvring_store_set_perms(struct pvring_store_tree *tree, uint32_t caller, const char *path,
			   const struct pvring_store_perm *perms, unsigned int nr_perms)
{
	struct pvring_store_node *node;
	struct pvring_store_perm *copy;
	unsigned int i;

	if (!pvring_store_path_valid(path) || nr_perms == 0)
		return -EINVAL;
	for (i = 0; i < nr_perms; i++)
		if (!strchr("nrwb", perms[i].access) || perms[i].access == '\0')
			return -EINVAL;
	node = walk(tree, path, NULL, NULL);
	if (!node)
		return -ENOENT;
	if (caller != 0 && node->perms[0].domid != caller)
		return -EACCES;
	/* A guest giving its nodes away could charge them to another guest's quota. */
	if (caller != 0 && perms[0].domid != caller)
		return -EPERM;
	copy = malloc(nr_perms * sizeof(*perms));
	if (!copy || count_owned(tree, perms[0].domid, 1, (int64_t)node_bytes(node))) {
		free(copy);
		return -ENOMEM;
	}
	count_owned(tree, node->perms[0].domid, -1, -(int64_t)node_bytes(node));
	memcpy(copy, perms, nr_perms * sizeof(*perms));
	free(node->perms);
	node->perms = copy;
	node->nr_perms = nr_perms;
	tree->generation++;
	return 0;
}

/* True if path is below (not at) dir. */
static bool is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1) /* "/" */
		return path[1] != '\0';
	return !strncmp(path, dir, n) && path[n] == '/';
}

bool pvring_store_watch_fires(const char *watch_path, const char *changed, bool removed)
{
	return !strcmp(watch_path, changed) || is_below(changed, watch_path) ||
	       (removed && is_below(watch_path, changed));
}
