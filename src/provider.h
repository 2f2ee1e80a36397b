/*
 * Snapshot providers, as VSS has them: the ways a volume's snapshots are made. Each volume has
 * one, chosen at its first mount (--method, --provider) and kept in its catalog as the
 * property 'provider'; it never changes.
 *
 * The engine (engine_cow.c) does what every provider shares: the write gate, the catalog,
 * snapshot ids and browse names, the limits, the properties, the copy-on-write journal and
 * the views. A provider says where it differs: whether the journal preserves changes, and
 * whether (and when) a snapshot becomes a whole directory tree of its own. A new provider is
 * one file with one struct provider, listed in provider.c.
 *
 * Trees: a snapshot kept as a directory tree (a complete copy, a filesystem snapshot) lives in
 * the engine's trees directory under its id; views read it as it is (engine_tree.c).
 */
#ifndef SNAPFS_PROVIDER_H
#define SNAPFS_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

struct engine;
struct catalog_snapshot;

struct provider {
	const char *name;          /* --provider NAME, the catalog's 'provider' */
	const char *method;        /* VSS's method: "cow", "row" or "clone" */
	const char *summary;       /* one line for `snapfs list providers` */
	bool offload;              /* the filesystem makes the snapshot (a hardware provider) */
	bool journal;              /* the copy-on-write journal preserves the live tree's changes */
	bool trees;                /* its snapshots become directory trees (now or when copied) */
	bool redirect;             /* writes after a snapshot go to the diff area (provider_row.c) */
	bool trees_in_diff_area;   /* trees go under the diff area, not the state directory */
	/*
	 * Whether it can serve the volume whose SRC is the directory src_fd: 0, or a negative
	 * errno and a one-line reason in why.
	 */
	int (*probe)(int src_fd, char *why, size_t len);
	/*
	 * With the write gate closed and SRC synced: make the tree of the snapshot in trees_fd
	 * under name, from src_fd. NULL when the journal serves new snapshots.
	 */
	int (*tree_make)(int src_fd, int trees_fd, const char *name, bool writable);
	/*
	 * Make the tree name read-only, for providers whose trees can be made writable for a
	 * while (auto-recovery: writers repair their files in the snapshot before it is sealed);
	 * NULL for the others. Sealing a sealed tree is a no-op.
	 */
	int (*tree_seal)(int trees_fd, const char *name);
	/* Remove the tree (or a partial one) name in trees_fd. */
	int (*tree_remove)(int trees_fd, const char *name);
	/* Background work, started once the engine is open and stopped before it closes. */
	int (*start)(struct engine *e, char *msg, size_t msglen);
	void (*stop)(struct engine *e);
	/* A new snapshot was recorded (the gate is open again). */
	void (*created)(struct engine *e, const struct catalog_snapshot *s);
};

/* Every provider, offloading ones first (VSS prefers a hardware provider); NULL-terminated. */
extern const struct provider *const providers[];

/* The provider named name, or NULL. */
const struct provider *provider_find(const char *name);

/*
 * The provider for a new volume: the one named (when name), else the first for method (when
 * method) that can serve src_fd, else the copy-on-write one. NULL and a reason in why when
 * none fits.
 */
const struct provider *provider_choose(const char *name, const char *method, int src_fd,
				       char *why, size_t len);

/* The method's long name ("copy-on-write", ...), or NULL for an unknown one. */
const char *provider_method_name(const char *method);

/* Remove the directory tree name in dirfd with everything in it (rm -r); 0 when missing. */
int tree_remove_all(int dirfd, const char *name);

#endif
