/* SPDX-License-Identifier: MIT */
/*
 * The local platform's store: a tree of nodes with values and xenstore
 * permissions, as xenstored keeps it. The server (store_server.c) puts the
 * xenstore wire protocol in front of it.
 *
 * Paths are absolute ("/local/domain/3/device"), components separated by
 * '/', of the characters xenstore allows. Every node has a value (possibly
 * empty), children, and permissions: the first entry names the owner and the
 * access every domain not listed gets; later entries grant a domain 'r'
 * (read), 'w' (write), 'b' (both) or 'n' (none). The owner and dom0 may do
 * anything. Creating a node needs write access to its parent; a node created
 * by another domain than dom0 inherits its parent's permissions with the
 * creator as owner.
 */
#ifndef PVRING_STORE_TREE_H
#define PVRING_STORE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVRING_STORE_PATH_MAX 3072u
#define PVRING_STORE_VALUE_MAX 4096u

struct pvring_store_perm {
	uint32_t domid;
	char access; /* 'n', 'r', 'w' or 'b' */
};

/*
 * Nodes are shared between the store's tree and its transactions' trees (a transaction
 * starts as the store's root, held once more): refs counts the holders (trees and parent
 * nodes). A node held more than once is never changed; a tree copies it first, and the path
 * above it (store_tree.c, node_own).
 */
struct pvring_store_node {
	unsigned int refs;
	char *name;
	char *value;
	size_t value_len;
	struct pvring_store_perm *perms;
	unsigned int nr_perms;
	struct pvring_store_node **children; /* the newest first */
	unsigned int nr_children;
	/*
	 * Its tree's generation when the node last changed (its value, permissions or list of
	 * children), never 0: a transaction's commit checks that the nodes it read have not
	 * changed since (store_server.c). A copy keeps it.
	 */
	uint64_t gen;
};

/* Nodes a guest may own, as xenstored's default entry quota. */
#define PVRING_STORE_NODES_PER_GUEST 1000u
/*
 * Bytes a guest may own: its nodes' names and values. Without it a guest's 1000 nodes could
 * hold 4 MiB, and every transaction's copy of the tree would carry them.
 */
#define PVRING_STORE_BYTES_PER_GUEST (512u * 1024u)

struct pvring_store_owner {
	uint32_t domid;
	uint32_t nodes;
	uint64_t bytes; /* names and values */
};

struct pvring_store_tree {
	struct pvring_store_node *root;
	uint64_t generation; /* bumped by every change, which takes the new value as its gen */
	struct pvring_store_owner *owners; /* nodes owned, per owning domain */
	unsigned int nr_owners;
};

/* How many nodes domid owns, and how many bytes they hold (names and values). */
uint32_t pvring_store_nodes_owned(const struct pvring_store_tree *tree, uint32_t domid);
uint64_t pvring_store_bytes_owned(const struct pvring_store_tree *tree, uint32_t domid);

int pvring_store_tree_init(struct pvring_store_tree *tree);
void pvring_store_tree_free(struct pvring_store_tree *tree);
/*
 * A copy for a transaction to work on, sharing every node with tree until one of the two
 * changes it (then that path is copied): what it costs is what it changes. 0 or -ENOMEM.
 */
int pvring_store_tree_clone(struct pvring_store_tree *copy, const struct pvring_store_tree *tree);

/*
 * The gen of the node at path, or 0 if there is none. A transaction's tree starts from the
 * store's generation: a node in it with a later gen is one the transaction changed.
 */
uint64_t pvring_store_generation_of(const struct pvring_store_tree *tree, const char *path);

/* True for a well-formed absolute path. */
bool pvring_store_path_valid(const char *path);

/*
 * Each returns 0 or a negative errno: -EINVAL (bad path or value), -ENOENT,
 * -EACCES, -EEXIST, -ENOMEM, -ENOSPC (a guest creating past its quota of
 * PVRING_STORE_NODES_PER_GUEST nodes, or a write that would take the guest
 * owning the node past PVRING_STORE_BYTES_PER_GUEST; nothing is changed).
 * caller is the domain asking; 0 is privileged.
 */
int pvring_store_read(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
		      const char **value, size_t *len);
/* Create or overwrite; missing parents are created too. */
int pvring_store_write(struct pvring_store_tree *tree, uint32_t caller, const char *path,
		       const char *value, size_t len);
/* Create with an empty value if missing; 0 if it exists. */
int pvring_store_mkdir(struct pvring_store_tree *tree, uint32_t caller, const char *path);
/* Remove the node and everything under it. */
int pvring_store_rm(struct pvring_store_tree *tree, uint32_t caller, const char *path);
/* Children's names, each NUL-terminated, in *list (malloc'd), *len bytes. */
int pvring_store_directory(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
			   char **list, size_t *len);
int pvring_store_get_perms(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
			   const struct pvring_store_perm **perms, unsigned int *nr_perms);
/* Only the owner or dom0 may change permissions; only dom0 may change the owner (-EPERM). */
int pvring_store_set_perms(struct pvring_store_tree *tree, uint32_t caller, const char *path,
			   const struct pvring_store_perm *perms, unsigned int nr_perms);

/*
 * Whether a watch on watch_path fires for a change at changed: the path
 * itself or anything under it; with removed, also anything under changed
 * (a removal takes the subtree with it).
 */
bool pvring_store_watch_fires(const char *watch_path, const char *changed, bool removed);

#endif /* PVRING_STORE_TREE_H */
