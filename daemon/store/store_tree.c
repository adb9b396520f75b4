// SPDX-License-Identifier: MIT
/* The local store's tree of nodes: see store_tree.h. */
#include "config.h"

#include "store_tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* node (this tree's alone) changed: the tree's next generation is its own. */
static void stamp(struct pvring_store_tree *tree, struct pvring_store_node *node)
{
	node->gen = ++tree->generation;
}

/* One holder less: the last frees the node, and lets go of its children. */
static void node_put(struct pvring_store_node *node)
{
	unsigned int i;

	if (--node->refs)
		return;
	for (i = 0; i < node->nr_children; i++)
		node_put(node->children[i]);
	free(node->children);
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
	node->refs = 1;
	node->name = strndup(name, name_len);
	node->value = strdup("");
	node->perms = malloc(nr_perms * sizeof(*perms));
	if (!node->name || !node->value || !node->perms) {
		node_put(node);
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
	unsigned int i;

	for (i = 0; i < node->nr_children; i++)
		uncount_subtree(tree, node->children[i]);
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
	stamp(tree, tree->root);
	return 0;
}

void pvring_store_tree_free(struct pvring_store_tree *tree)
{
	if (tree->root)
		node_put(tree->root);
	tree->root = NULL;
	free(tree->owners);
	tree->owners = NULL;
	tree->nr_owners = 0;
}

/*
 * A copy of a shared node for one holder to change: same name, value, permissions and
 * children (each now held once more); the copy has one holder. NULL if out of memory.
 */
static struct pvring_store_node *node_copy(const struct pvring_store_node *node)
{
	struct pvring_store_node *copy;
	unsigned int i;

	copy = node_new(node->name, strlen(node->name), node->perms, node->nr_perms);
	if (!copy)
		return NULL;
	free(copy->value);
	copy->value = malloc(node->value_len + 1);
	copy->children =
		malloc((node->nr_children ? node->nr_children : 1) * sizeof(*copy->children));
	if (!copy->value || !copy->children) {
		node_put(copy);
		return NULL;
	}
	memcpy(copy->value, node->value, node->value_len + 1);
	copy->value_len = node->value_len;
	copy->gen = node->gen;
	for (i = 0; i < node->nr_children; i++) {
		copy->children[i] = node->children[i];
		copy->children[i]->refs++;
	}
	copy->nr_children = node->nr_children;
	return copy;
}

/*
 * The node in *slot, made this holder's alone so that it may change: copied if another tree
 * (a transaction's, or the store's) shares it. The slot is the tree's root or a child entry of
 * a node already this holder's alone, so only this tree sees the copy. NULL if out of memory
 * (the tree is unchanged in content: a copy is equal to what it replaces).
 */
static struct pvring_store_node *node_own(struct pvring_store_node **slot)
{
	struct pvring_store_node *copy;

	if ((*slot)->refs == 1)
		return *slot;
	copy = node_copy(*slot);
	if (!copy)
		return NULL;
	(*slot)->refs--;
	*slot = copy;
	return copy;
}

/*
 * A transaction's tree: the same root, held once more, and the owners' counts. What either
 * tree changes later is copied first (node_own), from the root down to the change: a
 * transaction costs the paths it writes, not the whole tree.
 */
int pvring_store_tree_clone(struct pvring_store_tree *copy, const struct pvring_store_tree *tree)
{
	size_t owners = tree->nr_owners * sizeof(*tree->owners);

	copy->generation = tree->generation;
	copy->nr_owners = tree->nr_owners;
	copy->owners = malloc(owners ? owners : 1);
	if (!copy->owners) {
		copy->root = NULL;
		return -ENOMEM;
	}
	memcpy(copy->owners, tree->owners, owners);
	copy->root = tree->root;
	copy->root->refs++;
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

/* The index of node's child called name[0, len), or -1. */
static int child_index(const struct pvring_store_node *node, const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < node->nr_children; i++)
		if (strlen(node->children[i]->name) == len &&
		    !memcmp(node->children[i]->name, name, len))
			return (int)i;
	return -1;
}

/*
 * Walk to path. Returns the node, or NULL with *deepest set to the last node
 * that exists on the way and *rest to the part of path below it. With parent,
 * *parent is the node's parent (NULL for the root).
 */
static struct pvring_store_node *walk(const struct pvring_store_tree *tree, const char *path,
				      struct pvring_store_node **deepest, const char **rest,
				      struct pvring_store_node **parent)
{
	struct pvring_store_node *node = tree->root, *up = NULL;
	const char *p = path + 1;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int i = child_index(node, p, len);

		if (i < 0) {
			if (deepest)
				*deepest = node;
			if (rest)
				*rest = p;
			return NULL;
		}
		up = node;
		node = node->children[i];
		p += len + (end ? 1 : 0);
	}
	if (parent)
		*parent = up;
	return node;
}

uint64_t pvring_store_generation_of(const struct pvring_store_tree *tree, const char *path)
{
	const struct pvring_store_node *node;

	if (!pvring_store_path_valid(path))
		return 0;
	node = walk(tree, path, NULL, NULL, NULL);
	return node ? node->gen : 0;
}

/*
 * Walk to path (which exists, the caller has looked), making every node on the way this
 * tree's alone: the node, to be changed, or NULL if out of memory. With parent, its parent,
 * this tree's alone too.
 */
static struct pvring_store_node *walk_own(struct pvring_store_tree *tree, const char *path,
					  struct pvring_store_node **parent)
{
	struct pvring_store_node *node = node_own(&tree->root), *up = NULL;
	const char *p = path + 1;

	while (node && *p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int i = child_index(node, p, len);

		if (i < 0)
			return NULL; /* not reached: the caller looked */
		up = node;
		node = node_own(&node->children[i]);
		p += len + (end ? 1 : 0);
	}
	if (parent)
		*parent = up;
	return node;
}

/* Put child first among node's children (node this tree's alone); 0 or -ENOMEM. */
static int add_child(struct pvring_store_node *node, struct pvring_store_node *child)
{
	struct pvring_store_node **grown;

	grown = realloc(node->children, (node->nr_children + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	node->children = grown;
	memmove(grown + 1, grown, node->nr_children * sizeof(*grown));
	grown[0] = child;
	node->nr_children++;
	return 0;
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

/* The path of path's parent into buf (PVRING_STORE_PATH_MAX + 1 bytes); path is not "/". */
static void parent_path(const char *path, char *buf)
{
	size_t len = (size_t)(strrchr(path, '/') - path);

	memcpy(buf, path, len ? len : 1);
	buf[len ? len : 1] = '\0';
}

/*
 * Find path, creating what is missing; the node or NULL with *err. A guest creating pays for
 * the nodes and their names, and for value_len bytes of the last one's value to come, all
 * checked before anything is made. A node made is this tree's alone, and the path to it; a
 * node found may be shared: walk_own it before changing it.
 */
static struct pvring_store_node *find_or_create(struct pvring_store_tree *tree, uint32_t caller,
						const char *path, size_t value_len, bool *created,
						int *err)
{
	struct pvring_store_node *node, *parent = NULL;
	char above[PVRING_STORE_PATH_MAX + 1];
	const char *rest = NULL;

	*created = false;
	if (!pvring_store_path_valid(path) || !strcmp(path, "/")) {
		*err = -EINVAL;
		return NULL;
	}
	node = walk(tree, path, &parent, &rest, NULL);
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
	/* The deepest node that exists, this tree's alone: its path is path up to rest. */
	memcpy(above, path, (size_t)(rest - path));
	above[rest - path > 1 ? rest - path - 1 : 1] = '\0';
	parent = walk_own(tree, above, NULL);
	if (!parent) {
		*err = -ENOMEM;
		return NULL;
	}
	stamp(tree, parent); /* its list of children changes */
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
		if (add_child(parent, node)) {
			node_put(node);
			*err = -ENOMEM;
			return NULL;
		}
		if (count_owned(tree, node->perms[0].domid, 1, (int64_t)len)) {
			/* Not counted: taken out again, as if never made. */
			parent->nr_children--;
			memmove(parent->children, parent->children + 1,
				parent->nr_children * sizeof(*parent->children));
			node_put(node);
			*err = -ENOMEM;
			return NULL;
		}
		stamp(tree, node);
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
	*node = walk(tree, path, NULL, NULL, NULL);
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
	/*
	 * The node's owner pays for a longer value a guest writes (a node just made: checked
	 * already). dom0 is bound by no quota, as when it makes nodes under a guest's.
	 */
	if (!created && caller != 0 && len > node->value_len &&
	    !bytes_fit(tree, node->perms[0].domid, len - node->value_len))
		return -ENOSPC;
	if (!created && !(node = walk_own(tree, path, NULL)))
		return -ENOMEM;
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
	stamp(tree, node);
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
	return 0;
}

int pvring_store_rm(struct pvring_store_tree *tree, uint32_t caller, const char *path)
{
	char above[PVRING_STORE_PATH_MAX + 1];
	struct pvring_store_node *node, *parent;
	unsigned int i;

	if (!pvring_store_path_valid(path) || !strcmp(path, "/"))
		return -EINVAL;
	node = walk(tree, path, NULL, NULL, &parent);
	if (!node)
		return -ENOENT;
	/* Removing a node changes its parent's list of children. */
	if (!may_write(node, caller) || !may_write(parent, caller))
		return -EACCES;
	parent_path(path, above);
	parent = walk_own(tree, above, NULL);
	if (!parent)
		return -ENOMEM;
	for (i = 0; parent->children[i] != node; i++)
		;
	parent->nr_children--;
	memmove(parent->children + i, parent->children + i + 1,
		(parent->nr_children - i) * sizeof(*parent->children));
	uncount_subtree(tree, node);
	node_put(node);
	stamp(tree, parent);
	return 0;
}

int pvring_store_directory(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
			   char **list, size_t *len)
{
	const struct pvring_store_node *node;
	size_t total = 0;
	int err = lookup_readable(tree, caller, path, &node);
	unsigned int i;
	char *out;

	if (err)
		return err;
	for (i = 0; i < node->nr_children; i++)
		total += strlen(node->children[i]->name) + 1;
	out = malloc(total ? total : 1);
	if (!out)
		return -ENOMEM;
	*list = out;
	*len = total;
	for (i = 0; i < node->nr_children; i++) {
		size_t n = strlen(node->children[i]->name) + 1;

		memcpy(out, node->children[i]->name, n);
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
	node = walk(tree, path, NULL, NULL, NULL);
	if (!node)
		return -ENOENT;
	if (caller != 0 && node->perms[0].domid != caller)
		return -EACCES;
	/* A guest giving its nodes away could charge them to another guest's quota. */
	if (caller != 0 && perms[0].domid != caller)
		return -EPERM;
	node = walk_own(tree, path, NULL);
	if (!node)
		return -ENOMEM;
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
	stamp(tree, node);
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
