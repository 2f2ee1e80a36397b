/*
 * The catalog of a volume: one SQLite database (WAL) in the state directory, holding the
 * volume's properties, its current epoch, its snapshots and the block-map rows that say where
 * the preserved pre-images of file chunks are in the diff area. Only catalog.c includes
 * <sqlite3.h>.
 *
 * Epochs (DESIGN.md): the volume is in epoch E; creating a snapshot records E for it and moves
 * the volume to E+1 in one transaction. A chunk row (file, chunk, epoch e) holds the chunk as
 * it was before its first change in epoch e. A snapshot taken at epoch s reads chunk k from the
 * row with the smallest e > s, and from the live file when there is none.
 *
 * Errors are negative errno values: SQLITE_BUSY -EBUSY, FULL -ENOSPC, NOMEM -ENOMEM,
 * CONSTRAINT -EEXIST, CORRUPT/NOTADB -EUCLEAN, anything else -EIO.
 *
 * Thread-safety: a catalog is used by one thread at a time (the caller serializes).
 */
#ifndef SNAPFS_CATALOG_H
#define SNAPFS_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CATALOG_NAME "catalog.db"
#define CATALOG_ID_LEN 36       /* a UUID in text form */
#define CATALOG_BROWSE_LEN 24   /* "@GMT-YYYY.MM.DD-HH.MM.SS" */

struct catalog;

struct catalog_snapshot {
	char id[CATALOG_ID_LEN + 1];
	char set_id[CATALOG_ID_LEN + 1];
	char browse[CATALOG_BROWSE_LEN + 1];
	int64_t created_ns;        /* creation time, ns since the epoch, UTC */
	uint64_t epoch;            /* the volume's epoch the snapshot holds */
	uint64_t diff_bytes;       /* diff-area bytes that deleting it would free */
	bool tree;                 /* kept as a whole directory tree, not served by the journal */
};

/* A chunk row's offset when its pre-image is the chunk SRC holds (redirect-on-write). */
#define CATALOG_IN_SRC UINT64_MAX

struct catalog_chunk {
	int64_t fid;
	uint64_t chunk;            /* chunk index in the file */
	uint64_t epoch;            /* the epoch in which the chunk first changed */
	uint64_t offset;           /* where the pre-image is in the diff area */
	uint32_t length;           /* bytes of pre-image (short at the end of a file) */
};

/* The attributes of a file as they were before their first change in epoch. */
struct catalog_attr {
	int64_t fid;
	uint64_t epoch;
	uint32_t mode, uid, gid;
	uint64_t rdev;
	int64_t size;
	int64_t atime_ns, mtime_ns, ctime_ns;
	uint32_t nlink;
	const void *xattrs;        /* packed name=value list, opaque here; borrowed */
	size_t xattrs_len;
};

/*
 * Open the catalog in the state directory at state_dir (a path), creating it when missing,
 * migrating an older schema, and running a quick integrity check. On failure returns a
 * negative errno and writes a one-line reason naming the file into msg. Free with
 * catalog_close().
 */
int catalog_open(const char *state_dir, struct catalog **ret_cat, char *msg, size_t msglen);
void catalog_close(struct catalog *cat);

/* The schema version this build writes. */
int catalog_schema_version(void);

/*
 * Properties: name=value text pairs. catalog_prop_get copies the value into buf (NUL
 * terminated) and returns its length, -ENOENT when unset, -ERANGE when buf is too small.
 */
int catalog_prop_get(struct catalog *cat, const char *name, char *buf, size_t size);
int catalog_prop_set(struct catalog *cat, const char *name, const char *value);

/* The volume's current epoch (1 for a new volume). */
uint64_t catalog_epoch(const struct catalog *cat);

/*
 * Record a snapshot of the current epoch and move the volume to the next, in one transaction.
 * snap's id, set_id, browse, created_ns and tree are the caller's; its epoch is filled in.
 * -EEXIST when the id is taken.
 */
int catalog_snapshot_create(struct catalog *cat, struct catalog_snapshot *snap);

/*
 * Call fn for every snapshot, oldest first, with diff_bytes filled in; stops early and returns
 * fn's value when it is non-zero. Returns 0 or a negative errno.
 */
int catalog_snapshot_list(struct catalog *cat,
			  int (*fn)(const struct catalog_snapshot *snap, void *ctx), void *ctx);

/* Like catalog_snapshot_list without the byte counts (diff_bytes 0): one indexed query. */
int catalog_snapshot_each(struct catalog *cat,
			  int (*fn)(const struct catalog_snapshot *snap, void *ctx), void *ctx);

/* Look up one snapshot by id: 0, or -ENOENT. */
int catalog_snapshot_get(struct catalog *cat, const char *id, struct catalog_snapshot *ret);

/*
 * Delete a snapshot and the chunk rows no remaining snapshot needs, in one transaction. After
 * the commit, release is called (when not NULL) for each row released, to free its diff-area
 * space. Returns the number of rows released, or -ENOENT for an unknown id.
 */
int catalog_snapshot_delete(struct catalog *cat, const char *id,
			    void (*release)(const struct catalog_chunk *c, void *ctx), void *ctx);

/*
 * Record that snapshot id (served by the journal) is also kept as a tree of bytes bytes: it is
 * listed as a tree from now on, and its journal rows stay until catalog_journal_release().
 * -ENOENT for an id the journal does not serve.
 */
int catalog_tree_add(struct catalog *cat, const char *id, uint64_t bytes);

/*
 * Take the tree snapshot id out of the journal: its rows no other snapshot needs go as by
 * catalog_snapshot_delete. -ENOENT when the journal does not hold it, -EINVAL for no tree.
 */
int catalog_journal_release(struct catalog *cat, const char *id,
			    void (*release)(const struct catalog_chunk *c, void *ctx), void *ctx);

/* The stable id of the file with this handle, created on first use. */
int catalog_file_id(struct catalog *cat, const void *handle, size_t len, int64_t *ret_fid);

/*
 * Record chunk rows, all or none (one transaction, durable on return). -EEXIST when a row for
 * the same (fid, chunk, epoch) exists.
 */
int catalog_chunks_put(struct catalog *cat, const struct catalog_chunk *rows, size_t n);

/*
 * The row a snapshot at epoch snap_epoch reads chunk (fid, chunk) from: the one with the
 * smallest epoch above snap_epoch. Returns 1 and fills ret when there is one, 0 when the
 * snapshot reads the live file, or a negative errno.
 */
int catalog_chunk_find(struct catalog *cat, int64_t fid, uint64_t chunk, uint64_t snap_epoch,
		       struct catalog_chunk *ret);

/*
 * What the chunk rows occupy in the diff area: the end of the last extent (where the next one
 * may go) and the sum of their lengths, each rounded up to unit bytes (the diff area's
 * allocation unit; 1 for exact lengths). Both 0 without rows.
 */
int catalog_diff_extent(struct catalog *cat, uint32_t unit, uint64_t *ret_end,
			uint64_t *ret_bytes);

/* Whether chunk (fid, chunk) already has a row for the current epoch (preserved already). */
int catalog_chunk_preserved(struct catalog *cat, int64_t fid, uint64_t chunk);

/* Record a file's attributes before their first change in a->epoch. -EEXIST if recorded. */
int catalog_attr_put(struct catalog *cat, const struct catalog_attr *a);

/*
 * The attributes a snapshot at snap_epoch sees for fid, when they changed since: 1 and ret
 * filled (its xattrs copied into xattrs, -ERANGE if xattrs_size is too small; with xattrs
 * NULL only their length is given), 0 when the
 * snapshot sees the live attributes, or a negative errno.
 */
int catalog_attr_find(struct catalog *cat, int64_t fid, uint64_t snap_epoch,
		      struct catalog_attr *ret, void *xattrs, size_t xattrs_size);

/*
 * Journal the directory entry (dir, name) as it was before its first change in epoch: it named
 * fid, or did not exist (fid 0). -EEXIST if journaled already.
 */
int catalog_name_put(struct catalog *cat, int64_t dir, const char *name, uint64_t epoch,
		     int64_t fid);

/*
 * The entries of dir that a snapshot at snap_epoch sees differently from the live directory:
 * fn(name, fid, ctx) for each, fid 0 meaning the name did not exist then. In name order; stops
 * early and returns fn's value when it is non-zero.
 */
int catalog_names_list(struct catalog *cat, int64_t dir, uint64_t snap_epoch,
		       int (*fn)(const char *name, int64_t fid, void *ctx), void *ctx);

/*
 * Transactions: between catalog_begin() and catalog_commit() the calls above join one
 * transaction (durable when the commit returns; a failed commit rolls back).
 */
int catalog_begin(struct catalog *cat);
int catalog_commit(struct catalog *cat);
void catalog_rollback(struct catalog *cat);

/* The id of the file with this handle, without creating one: 0, or -ENOENT. */
int catalog_file_find(struct catalog *cat, const void *handle, size_t len, int64_t *ret_fid);

/* The handle of file fid copied into buf: its length, -ENOENT, or -ERANGE. */
int catalog_file_handle(struct catalog *cat, int64_t fid, void *buf, size_t size);

/*
 * How a snapshot at snap_epoch sees the entry (dir, name) when it changed since: 1 and
 * *ret_fid (0: it did not exist), or 0 when the snapshot sees the live entry.
 */
int catalog_name_find(struct catalog *cat, int64_t dir, const char *name, uint64_t snap_epoch,
		      int64_t *ret_fid);

/* Whether some journaled entry names fid (1 or 0): a snapshot may still reach the file. */
int catalog_fid_named(struct catalog *cat, int64_t fid);

/*
 * The epoch of the newest row of an object (a chunk, a file's attributes, a directory entry),
 * 0 when it has none: a new row at the current epoch would serve the snapshots from there on.
 */
int catalog_chunk_last(struct catalog *cat, int64_t fid, uint64_t chunk, uint64_t *ret);
int catalog_attr_last(struct catalog *cat, int64_t fid, uint64_t *ret);
int catalog_name_last(struct catalog *cat, int64_t dir, const char *name, uint64_t *ret);

/* The epoch of the newest snapshot the journal serves, 0 without one. */
int catalog_newest_epoch(struct catalog *cat, uint64_t *ret);

/* The number of snapshots the journal serves; whether it serves the one at epoch (1 or 0). */
int catalog_journal_count(struct catalog *cat);
int catalog_journal_has(struct catalog *cat, uint64_t epoch);

/* The number of snapshots, trees included. */
int catalog_snapshot_count(struct catalog *cat);

/*
 * Redirect-on-write: the chunks whose live bytes are in the diff area (len bytes at off)
 * rather than in SRC. put records or moves one, delete forgets it (the live bytes are in SRC
 * again), each calls fn(fid, chunk, off) in (fid, chunk) order.
 */
int catalog_live_put(struct catalog *cat, int64_t fid, uint64_t chunk, uint64_t off,
		     uint32_t len);
int catalog_live_delete(struct catalog *cat, int64_t fid, uint64_t chunk);
int catalog_live_each(struct catalog *cat,
		      int (*fn)(int64_t fid, uint64_t chunk, uint64_t off, void *ctx), void *ctx);

/* The row of (fid, chunk) whose pre-image SRC holds: 1 and ret, or 0 when there is none. */
int catalog_chunk_in_src(struct catalog *cat, int64_t fid, uint64_t chunk,
			 struct catalog_chunk *ret);

/* Move row c's pre-image: it is at off in the diff area now. -ENOENT when c is gone. */
int catalog_chunk_move(struct catalog *cat, const struct catalog_chunk *c, uint64_t off);

#endif
