// SPDX-License-Identifier: MIT
/* The local store's tree: values, xenstore permissions, removal, watches. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/store/store_tree.h"

#define GUEST 3
#define OTHER 4

static int setup(void **state)
{
	struct pvring_store_tree *tree = test_malloc(sizeof(*tree));
	static const struct pvring_store_perm guest_home[] = { { GUEST, 'n' } };
	static const struct pvring_store_perm backend_dir[] = { { 0, 'n' }, { GUEST, 'r' } };

	assert_int_equal(pvring_store_tree_init(tree), 0);
	/* As a toolstack lays it out: a guest's home, and a back-end directory it may read. */
	assert_int_equal(pvring_store_mkdir(tree, 0, "/local/domain/3"), 0);
	assert_int_equal(pvring_store_set_perms(tree, 0, "/local/domain/3", guest_home, 1), 0);
	assert_int_equal(
		pvring_store_write(tree, 0, "/local/domain/0/backend/vbd/3/51712/state", "2", 1),
		0);
	assert_int_equal(pvring_store_set_perms(tree, 0, "/local/domain/0/backend/vbd/3/51712",
						backend_dir, 2),
			 0);
	assert_int_equal(pvring_store_set_perms(tree, 0,
						"/local/domain/0/backend/vbd/3/51712/state",
						backend_dir, 2),
			 0);
	*state = tree;
	return 0;
}

static int teardown(void **state)
{
	struct pvring_store_tree *tree = *state;

	pvring_store_tree_free(tree);
	test_free(tree);
	return 0;
}

static void assert_value(const struct pvring_store_tree *tree, uint32_t caller, const char *path,
			 const char *expected)
{
	const char *value;
	size_t len;

	assert_int_equal(pvring_store_read(tree, caller, path, &value, &len), 0);
	assert_int_equal(len, strlen(expected));
	assert_string_equal(value, expected);
}

static void test_read_write(void **state)
{
	struct pvring_store_tree *tree = *state;
	uint64_t generation = tree->generation;
	const char *value;
	size_t len;

	assert_value(tree, 0, "/local/domain/0/backend/vbd/3/51712/state", "2");
	assert_int_equal(pvring_store_write(tree, 0, "/a/b", "x", 1), 0);
	assert_true(tree->generation > generation);
	/* Parents were created with empty values. */
	assert_value(tree, 0, "/a", "");
	assert_int_equal(pvring_store_write(tree, 0, "/a/b", "longer", 6), 0);
	assert_value(tree, 0, "/a/b", "longer");
	assert_int_equal(pvring_store_read(tree, 0, "/a/c", &value, &len), -ENOENT);
	/* Values may hold any bytes. */
	assert_int_equal(pvring_store_write(tree, 0, "/bin", "a\0b", 3), 0);
	assert_int_equal(pvring_store_read(tree, 0, "/bin", &value, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(value, "a\0b", 3);
}

static void test_bad_paths_and_values(void **state)
{
	struct pvring_store_tree *tree = *state;
	static const char *const bad[] = {
		"", "relative", "/trailing/", "/double//slash", "/space here", "/dot.", "/"
	};
	char *big = calloc(1, PVRING_STORE_VALUE_MAX + 2);
	size_t i;

	assert_non_null(big);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pvring_store_write(tree, 0, bad[i], "v", 1), -EINVAL);
	assert_true(pvring_store_path_valid("/local/domain/3/device/pvblk/0/queue-1/ring-ref0"));
	assert_true(pvring_store_path_valid("@introduceDomain") == false);
	assert_int_equal(pvring_store_write(tree, 0, "/big", big, PVRING_STORE_VALUE_MAX + 1),
			 -EINVAL);
	assert_int_equal(pvring_store_write(tree, 0, "/big", big, PVRING_STORE_VALUE_MAX), 0);
	assert_int_equal(pvring_store_rm(tree, 0, "/"), -EINVAL);
	free(big);
}

static void test_guest_permissions(void **state)
{
	struct pvring_store_tree *tree = *state;
	const struct pvring_store_perm *perms;
	unsigned int nr;
	const char *value;
	size_t len;

	/* Its own home: everything. */
	assert_int_equal(
		pvring_store_write(tree, GUEST, "/local/domain/3/device/pvblk/0/state", "1", 1), 0);
	assert_int_equal(pvring_store_get_perms(tree, GUEST, "/local/domain/3/device/pvblk/0/state",
						&perms, &nr),
			 0);
	assert_int_equal(perms[0].domid, GUEST);
	/* Another guest's home: nothing. */
	assert_int_equal(pvring_store_read(tree, OTHER, "/local/domain/3/device/pvblk/0/state",
					   &value, &len),
			 -EACCES);
	assert_int_equal(pvring_store_write(tree, OTHER, "/local/domain/3/x", "1", 1), -EACCES);
	assert_int_equal(pvring_store_rm(tree, OTHER, "/local/domain/3/device"), -EACCES);
	/* Not even whether a node exists: mkdir of what it may not write fails, made or not. */
	assert_int_equal(pvring_store_mkdir(tree, OTHER, "/local/domain/3/device"), -EACCES);
	assert_int_equal(pvring_store_mkdir(tree, OTHER, "/local/domain/3/nothing"), -EACCES);
	/* The back-end directory: read, not write. */
	assert_value(tree, GUEST, "/local/domain/0/backend/vbd/3/51712/state", "2");
	assert_int_equal(pvring_store_write(tree, GUEST,
					    "/local/domain/0/backend/vbd/3/51712/state", "4", 1),
			 -EACCES);
	assert_int_equal(
		pvring_store_write(tree, GUEST, "/local/domain/0/backend/vbd/3/51712/new", "4", 1),
		-EACCES);
	assert_int_equal(pvring_store_read(tree, OTHER, "/local/domain/0/backend/vbd/3/51712/state",
					   &value, &len),
			 -EACCES);
	/* Nor the root, nor the permissions of what it does not own. */
	assert_int_equal(pvring_store_write(tree, GUEST, "/evil", "1", 1), -EACCES);
	assert_int_equal(pvring_store_set_perms(tree, GUEST, "/local/domain/0/backend/vbd/3/51712",
						(struct pvring_store_perm[]){ { GUEST, 'b' } }, 1),
			 -EACCES);
}

static void test_rm_and_directory(void **state)
{
	struct pvring_store_tree *tree = *state;
	char *list = NULL;
	size_t len = 0;

	assert_int_equal(pvring_store_write(tree, 0, "/d/one", "1", 1), 0);
	assert_int_equal(pvring_store_write(tree, 0, "/d/two/deep", "2", 1), 0);
	assert_int_equal(pvring_store_directory(tree, 0, "/d", &list, &len), 0);
	assert_int_equal(len, strlen("one") + 1 + strlen("two") + 1);
	assert_true((!strcmp(list, "one") && !strcmp(list + 4, "two")) ||
		    (!strcmp(list, "two") && !strcmp(list + 4, "one")));
	free(list);
	assert_int_equal(pvring_store_rm(tree, 0, "/d/two"), 0);
	assert_int_equal(pvring_store_rm(tree, 0, "/d/two/deep"), -ENOENT);
	assert_int_equal(pvring_store_directory(tree, 0, "/d", &list, &len), 0);
	assert_int_equal(len, 4);
	assert_string_equal(list, "one");
	free(list);
	assert_int_equal(pvring_store_mkdir(tree, 0, "/d/one"), 0); /* exists: fine */
	assert_value(tree, 0, "/d/one", "1");
}

static void test_clone_is_independent(void **state)
{
	struct pvring_store_tree *tree = *state, copy;
	const char *value;
	size_t len;

	assert_int_equal(pvring_store_tree_clone(&copy, tree), 0);
	assert_int_equal(pvring_store_write(&copy, 0, "/only/in/copy", "c", 1), 0);
	assert_int_equal(pvring_store_rm(&copy, 0, "/local/domain/3"), 0);
	assert_int_equal(pvring_store_read(tree, 0, "/only/in/copy", &value, &len), -ENOENT);
	assert_value(tree, 0, "/local/domain/0/backend/vbd/3/51712/state", "2");
	assert_int_equal(pvring_store_mkdir(tree, 0, "/local/domain/3/still-here"), 0);
	assert_value(&copy, 0, "/only/in/copy", "c");
	pvring_store_tree_free(&copy);
}

/* The node at path in tree (which exists). */
static const struct pvring_store_node *node_at(const struct pvring_store_tree *tree,
					       const char *path)
{
	const struct pvring_store_node *node = tree->root;
	char buf[PVRING_STORE_PATH_MAX + 1], *name, *save = NULL;
	unsigned int i;

	snprintf(buf, sizeof(buf), "%s", path);
	for (name = strtok_r(buf, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		for (i = 0; i < node->nr_children && strcmp(node->children[i]->name, name); i++)
			;
		assert_true(i < node->nr_children);
		node = node->children[i];
	}
	return node;
}

/*
 * A transaction's copy shares the store's nodes: a change copies the path from the root to
 * the node changed, nothing beside it. Each tree sees only its own changes, whichever is
 * freed first.
 */
static void test_clone_copies_only_what_changes(void **state)
{
	struct pvring_store_tree *tree = *state, copy, second;
	const char *value;
	size_t len;

	assert_int_equal(pvring_store_write(tree, 0, "/local/domain/3/big", "payload", 7), 0);
	assert_int_equal(pvring_store_tree_clone(&copy, tree), 0);
	assert_ptr_equal(copy.root, tree->root);
	assert_int_equal(tree->root->refs, 2);

	/* A write deep in the copy: root, local, domain, 0, ... state are the copy's own. */
	assert_int_equal(
		pvring_store_write(&copy, 0, "/local/domain/0/backend/vbd/3/51712/state", "4", 1),
		0);
	assert_ptr_not_equal(copy.root, tree->root);
	assert_int_equal(tree->root->refs, 1);
	assert_ptr_not_equal(node_at(&copy, "/local/domain/0"), node_at(tree, "/local/domain/0"));
	/* Beside the path, the same node, held by both trees' parents. */
	assert_ptr_equal(node_at(&copy, "/local/domain/3"), node_at(tree, "/local/domain/3"));
	assert_int_equal(node_at(tree, "/local/domain/3")->refs, 2);
	assert_value(tree, 0, "/local/domain/0/backend/vbd/3/51712/state", "2");
	assert_value(&copy, 0, "/local/domain/0/backend/vbd/3/51712/state", "4");

	/* The store changes under the copy: the copy keeps what it saw. */
	assert_int_equal(pvring_store_write(tree, 0, "/local/domain/3/big", "changed", 7), 0);
	assert_value(&copy, 0, "/local/domain/3/big", "payload");
	assert_value(tree, 0, "/local/domain/3/big", "changed");
	assert_int_equal(node_at(tree, "/local/domain/3")->refs, 1);

	/* A removal in a second copy leaves the others whole; free in any order. */
	assert_int_equal(pvring_store_tree_clone(&second, &copy), 0);
	assert_int_equal(pvring_store_rm(&second, 0, "/local/domain"), 0);
	assert_int_equal(pvring_store_read(&second, 0, "/local/domain/3/big", &value, &len),
			 -ENOENT);
	assert_value(&copy, 0, "/local/domain/3/big", "payload");
	pvring_store_tree_free(&copy);
	assert_int_equal(pvring_store_read(&second, 0, "/local", &value, &len), 0);
	pvring_store_tree_free(&second);
	assert_value(tree, 0, "/local/domain/0/backend/vbd/3/51712/state", "2");
	assert_int_equal(tree->root->refs, 1);
}

/*
 * Each node's gen moves when it changes (value, permissions, children) and only then; a
 * missing node has 0. A copy starts with the same, and its own changes take later ones.
 */
static void test_generations(void **state)
{
	struct pvring_store_tree *tree = *state, copy;
	static const struct pvring_store_perm perms[] = { { 0, 'r' } };
	uint64_t a, ab, ac, local;

	assert_int_equal(pvring_store_generation_of(tree, "/a"), 0);
	assert_int_equal(pvring_store_generation_of(tree, "bad"), 0);
	assert_int_equal(pvring_store_write(tree, 0, "/a/b", "1", 1), 0);
	a = pvring_store_generation_of(tree, "/a");
	ab = pvring_store_generation_of(tree, "/a/b");
	local = pvring_store_generation_of(tree, "/local");
	assert_true(a != 0 && ab != 0 && a != ab);
	assert_true(pvring_store_generation_of(tree, "/") > local);

	/* A value: that node alone. */
	assert_int_equal(pvring_store_write(tree, 0, "/a/b", "2", 1), 0);
	assert_true(pvring_store_generation_of(tree, "/a/b") > ab);
	assert_int_equal(pvring_store_generation_of(tree, "/a"), a);
	ab = pvring_store_generation_of(tree, "/a/b");
	/* A child made or removed: the parent, not its other children. */
	assert_int_equal(pvring_store_mkdir(tree, 0, "/a/c"), 0);
	assert_true(pvring_store_generation_of(tree, "/a") > a);
	assert_int_equal(pvring_store_generation_of(tree, "/a/b"), ab);
	a = pvring_store_generation_of(tree, "/a");
	ac = pvring_store_generation_of(tree, "/a/c");
	assert_int_equal(pvring_store_mkdir(tree, 0, "/a/c"), 0); /* exists: no change */
	assert_int_equal(pvring_store_generation_of(tree, "/a"), a);
	assert_int_equal(pvring_store_generation_of(tree, "/a/c"), ac);
	assert_int_equal(pvring_store_set_perms(tree, 0, "/a/c", perms, 1), 0);
	assert_true(pvring_store_generation_of(tree, "/a/c") > ac);
	assert_int_equal(pvring_store_generation_of(tree, "/a"), a);

	/* A copy: the same gens; what it changes gets gens past the store's at the copy. */
	assert_int_equal(pvring_store_tree_clone(&copy, tree), 0);
	assert_int_equal(pvring_store_generation_of(&copy, "/a/b"), ab);
	assert_int_equal(pvring_store_rm(&copy, 0, "/a/c"), 0);
	assert_true(pvring_store_generation_of(&copy, "/a") > tree->generation);
	assert_int_equal(pvring_store_generation_of(&copy, "/a/c"), 0);
	assert_int_equal(pvring_store_generation_of(&copy, "/a/b"), ab);
	assert_int_equal(pvring_store_generation_of(tree, "/a"), a);
	pvring_store_tree_free(&copy);
}

/* A guest owns at most PVRING_STORE_NODES_PER_GUEST nodes, and cannot give them away. */
static void test_guest_quota(void **state)
{
	struct pvring_store_tree *tree = *state, copy;
	char path[64];
	uint32_t made = 0;
	int err;

	/* Its home is its first node. */
	assert_int_equal(pvring_store_nodes_owned(tree, GUEST), 1);
	for (;;) {
		snprintf(path, sizeof(path), "/local/domain/3/n%u", made);
		err = pvring_store_write(tree, GUEST, path, "v", 1);
		if (err)
			break;
		made++;
	}
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(made, PVRING_STORE_NODES_PER_GUEST - 1);
	assert_int_equal(pvring_store_nodes_owned(tree, GUEST), PVRING_STORE_NODES_PER_GUEST);
	/* Overwriting costs nothing. */
	assert_int_equal(pvring_store_write(tree, GUEST, "/local/domain/3/n0", "w", 1), 0);

	/* Two missing components with room for one: nothing is created. */
	assert_int_equal(pvring_store_rm(tree, GUEST, "/local/domain/3/n0"), 0);
	assert_int_equal(pvring_store_write(tree, GUEST, "/local/domain/3/a/b", "v", 1), -ENOSPC);
	assert_int_equal(pvring_store_mkdir(tree, GUEST, "/local/domain/3/a"), 0);

	/* Handing nodes to another owner would charge them to someone else. */
	assert_int_equal(pvring_store_set_perms(
				 tree, GUEST, "/local/domain/3/a",
				 (struct pvring_store_perm[]){ { OTHER, 'n' }, { GUEST, 'b' } }, 2),
			 -EPERM);
	/* dom0 may, and the count moves with the node. */
	assert_int_equal(pvring_store_set_perms(tree, 0, "/local/domain/3/a",
						(struct pvring_store_perm[]){ { OTHER, 'n' } }, 1),
			 0);
	assert_int_equal(pvring_store_nodes_owned(tree, OTHER), 1);
	assert_int_equal(pvring_store_nodes_owned(tree, GUEST), PVRING_STORE_NODES_PER_GUEST - 1);

	/* A transaction's copy counts the same; removing the home frees it all. */
	assert_int_equal(pvring_store_tree_clone(&copy, tree), 0);
	assert_int_equal(pvring_store_nodes_owned(&copy, GUEST), PVRING_STORE_NODES_PER_GUEST - 1);
	pvring_store_tree_free(&copy);
	assert_int_equal(pvring_store_rm(tree, 0, "/local/domain/3"), 0);
	assert_int_equal(pvring_store_nodes_owned(tree, GUEST), 0);
	assert_int_equal(pvring_store_nodes_owned(tree, OTHER), 0);
}

/*
 * A guest's nodes hold at most PVRING_STORE_BYTES_PER_GUEST bytes of names and values: a
 * write past it, growing a value or making a node, is refused and changes nothing.
 */
static void test_guest_byte_quota(void **state)
{
	struct pvring_store_tree *tree = *state;
	static char value[PVRING_STORE_VALUE_MAX];
	const char *got;
	uint64_t before, room;
	char path[64];
	uint32_t made = 0;
	size_t len;
	int err;

	memset(value, 'x', sizeof(value));
	/* "/local/domain/3" is the guest's: its name ("3") is what it owns so far. */
	assert_int_equal(pvring_store_bytes_owned(tree, GUEST), 1);
	for (;;) {
		snprintf(path, sizeof(path), "/local/domain/3/v%03u", made);
		err = pvring_store_write(tree, GUEST, path, value, sizeof(value));
		if (err)
			break;
		made++;
	}
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(pvring_store_read(tree, GUEST, path, &got, &len), -ENOENT);
	/* Each costs its value and its four-letter name. */
	assert_int_equal(made, (PVRING_STORE_BYTES_PER_GUEST - 1) / (sizeof(value) + 4));
	before = pvring_store_bytes_owned(tree, GUEST);
	assert_int_equal(before, 1 + made * (sizeof(value) + 4));
	/* Shrinking a value gives bytes back; growing it takes them again. */
	assert_int_equal(pvring_store_write(tree, GUEST, "/local/domain/3/v000", "", 0), 0);
	assert_int_equal(pvring_store_bytes_owned(tree, GUEST), before - sizeof(value));
	assert_int_equal(
		pvring_store_write(tree, GUEST, "/local/domain/3/v000", value, sizeof(value)), 0);
	/* Growing a value past the quota: refused, and the value stays as it was. */
	assert_int_equal(pvring_store_write(tree, GUEST, "/local/domain/3/s", "", 0), 0);
	room = PVRING_STORE_BYTES_PER_GUEST - pvring_store_bytes_owned(tree, GUEST);
	assert_true(room < sizeof(value));
	assert_int_equal(pvring_store_write(tree, GUEST, "/local/domain/3/s", value, room + 1),
			 -ENOSPC);
	assert_int_equal(pvring_store_read(tree, GUEST, "/local/domain/3/s", &got, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(pvring_store_write(tree, GUEST, "/local/domain/3/s", value, room), 0);
	assert_int_equal(pvring_store_bytes_owned(tree, GUEST), PVRING_STORE_BYTES_PER_GUEST);
	/* dom0 has no quota, making nodes or growing values; removing the home frees it all. */
	assert_int_equal(pvring_store_write(tree, 0, "/local/domain/3/big", value, sizeof(value)),
			 0);
	assert_int_equal(pvring_store_write(tree, 0, "/local/domain/3/s", value, sizeof(value)), 0);
	assert_int_equal(pvring_store_rm(tree, 0, "/local/domain/3"), 0);
	assert_int_equal(pvring_store_bytes_owned(tree, GUEST), 0);
}

static void test_watch_matching(void **state)
{
	(void)state;
	assert_true(pvring_store_watch_fires("/a/b", "/a/b", false));
	assert_true(pvring_store_watch_fires("/a/b", "/a/b/c", false));
	assert_false(pvring_store_watch_fires("/a/b", "/a/bc", false));
	assert_false(pvring_store_watch_fires("/a/b", "/a", false));
	/* Removing /a takes /a/b with it. */
	assert_true(pvring_store_watch_fires("/a/b", "/a", true));
	assert_false(pvring_store_watch_fires("/a/b", "/ab", true));
	assert_true(pvring_store_watch_fires("/", "/x", false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths_and_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_and_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_is_independent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_copies_only_what_changes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_generations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_byte_quota, setup, teardown),
		cmocka_unit_test(test_watch_matching),
	};

	return cmocka_run_group_tests_name("store tree", tests, NULL, NULL);
}
