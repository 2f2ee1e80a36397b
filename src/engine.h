/*
 * The snapshot engine of a volume: the provider seam between the daemon (fusefs/) and the
 * catalog and diff area. The daemon calls it around every change of the live tree and for
 * every read of a snapshot; the engine never includes FUSE headers, so it is tested without a
 * mount. engine_cow.c holds what every provider shares and the copy-on-write journal;
 * provider.h says how the providers (copy-on-write, complete copy, btrfs) differ.
 *
 * Objects are named by descriptors on the backing files (O_PATH is enough unless said
 * otherwise); the engine finds their identity itself (name_to_handle_at), so its callers keep
 * no engine state per inode. Objects on another filesystem than SRC's (mounts under SRC) are
 * outside every snapshot: the hooks ignore them.
 *
 * The write gate: every change of the live tree runs between engine_gate_enter() and
 * engine_gate_leave(), the hook first, then the change itself. Creating a snapshot closes the
 * gate (new changes wait, changes in flight finish), moves the epoch and opens it again.
 *
 * Hooks and views return 0 (or a count) on success and a negative errno on failure. A hook
 * that fails leaves the live tree unchanged: the caller must not make the change then.
 *
 * Thread-safety: every function may be called from any thread at any time.
 */
#ifndef SNAPFS_ENGINE_H
#define SNAPFS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "catalog.h"
#include "io.h"

/* The volume's properties (engine_prop_get/set), with the VSS names they come from. */
#define ENGINE_PROP_CHUNKSIZE "chunksize"                 /* fixed at the first mount */
#define ENGINE_PROP_MAXSIZE "maxsize"                     /* diff-area bound, bytes; 0: none */
#define ENGINE_PROP_MINDIFF "mindiffareafilesize"         /* initial allocation, bytes */
#define ENGINE_PROP_MAXSHADOW "maxshadowcopies"           /* shown under .snapshots/ */
#define ENGINE_PROP_NOSNAP "filesnottosnapshot"           /* patterns, ':'-separated */
#define ENGINE_PROP_DIFFAREA "diffarea"                   /* directory of the diff area */
#define ENGINE_PROP_PROVIDER "provider"                   /* fixed at the first mount */
#define ENGINE_PROP_METHOD "method"                       /* the provider's; read-only */
#define ENGINE_PROP_AUTORECOVER "autorecover"             /* the provider's; read-only */
#define ENGINE_PROP_USED "diffareaused"                   /* bytes the diff area holds; read-only */

#define ENGINE_MAX_SNAPSHOTS 512
#define ENGINE_DEFAULT_CHUNK (64u * 1024)
#define ENGINE_DEFAULT_MAXSHADOW 64

/* Name of the directory under the state directory that keeps unlinked files snapshots need. */
#define ENGINE_GRAVEYARD "graveyard"
/* Name of the directory (in the state directory or the diff area) of the snapshot trees. */
#define ENGINE_TREES "trees"

struct engine;

struct engine_params {
	int src_fd;              /* directory fd on SRC (borrowed, kept open by the caller) */
	int state_fd;            /* directory fd on SRC/.snapfs (borrowed) */
	const char *state_path;  /* path of SRC/.snapfs, for the catalog */
	const char *diff_dir;    /* --diff-area at the first mount, else NULL */
	uint32_t chunk_size;     /* at the first mount, 0 for the default; else must match or 0 */
	const struct snap_io *io;/* NULL: the real system calls */
	int64_t (*clock)(void);  /* NULL: CLOCK_REALTIME in ns; tests pass one that runs fast */
	/*
	 * Called (may be NULL) after a full diff area forced the deletion of snapshot s: full at
	 * its bound maxsize, or (maxsize 0) its filesystem full.
	 */
	void (*evicted)(const struct catalog_snapshot *s, uint64_t maxsize);
	/*
	 * The provider, at the first mount: by name, or the first that makes snapshots by method
	 * ("cow", "row", "clone") and can serve SRC; NULL for the volume's own or copy-on-write.
	 * Naming another than the volume's is refused.
	 */
	const char *provider;
	const char *method;
	/*
	 * Called (may be NULL) from a background thread when snapshot s became a tree (a complete
	 * copy finished). Nodes of its journal view stay valid until engine_journal_release(),
	 * which the caller calls once it holds none; without the callback that happens at once.
	 */
	void (*tree_ready)(struct engine *e, const struct catalog_snapshot *s);
	/* Leave the provider's background work (threads) to engine_start(): a fork comes first. */
	bool defer_start;
};

/*
 * Open the engine of a volume: its catalog (created, migrated, checked) and its diff area.
 * On failure a one-line reason naming the thing and the cause goes into msg.
 */
int engine_open(const struct engine_params *p, struct engine **ret, char *msg, size_t msglen);
void engine_close(struct engine *e);

/* With defer_start: start the provider's background work, in the process that keeps e. */
int engine_start(struct engine *e, char *msg, size_t msglen);

/* ---- the write gate and the hooks ---------------------------------------------------- */

void engine_gate_enter(struct engine *e);
void engine_gate_leave(struct engine *e);

/*
 * Before bytes [off, off + len) of the regular file fd are overwritten, punched out or zeroed
 * (write, fallocate, copy_file_range into it). Preserves what the snapshots need.
 */
int engine_before_write(struct engine *e, int fd, uint64_t off, uint64_t len);

/*
 * Write len bytes at off into the live regular file fd: the hook and the change in one (under
 * the gate). Returns the count written or a negative errno.
 */
ssize_t engine_write(struct engine *e, int fd, const void *buf, size_t len, uint64_t off);

/*
 * Live reads. With redirect-on-write some live bytes of a file may be in the diff area:
 * engine_live_read returns 1 and *got when it read them for the caller, 0 when fd holds all
 * its live bytes (read it directly). engine_live_redirected says whether fd has such bytes
 * (then copy_file_range from it must not be done on SRC). engine_fsync makes fd's live bytes
 * durable, wherever they are.
 */
int engine_live_read(struct engine *e, int fd, void *buf, size_t len, uint64_t off,
		     ssize_t *got);
bool engine_live_redirected(struct engine *e, int fd);
int engine_fsync(struct engine *e, int fd, bool datasync);

/* Before the regular file fd is truncated or extended to size (setattr, O_TRUNC). */
int engine_before_truncate(struct engine *e, int fd, uint64_t size);

/* Before the attributes or extended attributes of fd change (chmod, chown, utimens, xattrs). */
int engine_before_attr(struct engine *e, int fd);

/*
 * Before the entry name is created in the directory dirfd (create, mknod, mkdir, symlink,
 * link). Journals the entry and the directory's attributes. For link, call
 * engine_before_attr() on the source too: its link count changes.
 */
int engine_before_create(struct engine *e, int dirfd, const char *name);

/*
 * After create, mknod, mkdir or symlink made the entry name in dirfd (not after link): the new
 * object was born in this epoch, so no snapshot needs its past. Optional; it spares the catalog
 * the work of preserving what nothing will read.
 */
void engine_after_create(struct engine *e, int dirfd, const char *name);

/*
 * Remove the entry name from dirfd (rmdir when dir is true): the hook and the change in one.
 * When a snapshot still needs the object and this was its last name, it moves into the state
 * directory instead of being deleted.
 */
int engine_unlink(struct engine *e, int dirfd, const char *name, bool dir);

/* renameat2(olddirfd, oldname, newdirfd, newname, flags), the hook and the change in one. */
int engine_rename(struct engine *e, int olddirfd, const char *oldname, int newdirfd,
		  const char *newname, unsigned flags);

/* ---- snapshots ----------------------------------------------------------------------- */

/*
 * Take a snapshot: close the gate, drain, record it (with set_id, or a new set when NULL),
 * open the gate. The caller flushes the kernel's dirty pages first (syncfs on the mount).
 * -EMLINK at ENGINE_MAX_SNAPSHOTS.
 */
int engine_snapshot_create(struct engine *e, const char *set_id, struct catalog_snapshot *ret);

/*
 * The same in two steps, for snapshot sets over several volumes: prepare closes the gate
 * (writes wait, reads go on) once SRC is flushed and returns with it closed; then exactly one
 * of commit (records the snapshot as create does, opens the gate) or abort (opens it, records
 * nothing), on the same thread.
 */
int engine_snapshot_prepare(struct engine *e);
int engine_snapshot_commit(struct engine *e, const char *set_id, bool writable,
			   struct catalog_snapshot *ret);
void engine_snapshot_abort(struct engine *e);

/*
 * Auto-recovery, where the provider offers it (engine_can_recover): a snapshot committed
 * writable stays writable, at the path engine_snapshot_writable() gives (its tree's absolute
 * path), until engine_snapshot_seal(); the next open seals it too.
 * Seal returns 0 for a provider without auto-recovery.
 */
bool engine_can_recover(struct engine *e);
int engine_snapshot_writable(struct engine *e, const char *id, char *buf, size_t size);
int engine_snapshot_seal(struct engine *e, const char *id);

/* Every snapshot, oldest first (see catalog_snapshot_list). */
int engine_snapshot_list(struct engine *e,
			 int (*fn)(const struct catalog_snapshot *s, void *ctx), void *ctx);

/* The same without the byte counts (diff_bytes 0): cheap enough for every lookup. */
int engine_snapshot_each(struct engine *e,
			 int (*fn)(const struct catalog_snapshot *s, void *ctx), void *ctx);

/* Delete a snapshot and free what no other snapshot needs. -ENOENT for an unknown id. */
int engine_snapshot_delete(struct engine *e, const char *id);

/* After tree_ready: free the journal rows that only the tree snapshot id needed. */
int engine_journal_release(struct engine *e, const char *id);

/* The volume's provider (provider.h). */
const struct provider *engine_provider(struct engine *e);

/*
 * Properties. get writes the value (the default when unset) into buf; set validates the value
 * and refuses with a reason in msg (-EINVAL for a bad value, -EPERM for chunksize).
 */
int engine_prop_get(struct engine *e, const char *name, char *buf, size_t size);
int engine_prop_set(struct engine *e, const char *name, const char *value, char *msg,
		    size_t msglen);

/* ---- views of a snapshot ------------------------------------------------------------- */

/*
 * An object as a snapshot sees it. Nodes are plain values: the caller copies and keeps them
 * (in its own table of node ids) as long as it likes; they hold no resources.
 */
#define ENGINE_HANDLE_MAX 40
#define ENGINE_NODE_TREE 1       /* an object of a snapshot tree, not of the live tree */
#define ENGINE_NODE_ROOT 2       /* the root of a snapshot tree */
struct engine_node {
	uint64_t epoch;          /* the snapshot's epoch */
	int64_t fid;             /* catalog id, 0 when the object has none (never changed) */
	unsigned flags;          /* ENGINE_NODE_* */
	mode_t type;             /* S_IFMT bits */
	int handle_type;
	unsigned handle_bytes;
	unsigned char handle[ENGINE_HANDLE_MAX];
};

/*
 * The root of the snapshot with this id or browse name (@GMT-...). -ENOENT when there is no
 * such snapshot.
 */
int engine_snap_root(struct engine *e, const char *id_or_browse, struct engine_node *ret);

/*
 * Attributes as the snapshot holds them. st_ino is unique across the live tree and all
 * snapshots: bit 63 set, the snapshot's epoch in bits 40..62, the live inode number below.
 */
int engine_snap_getattr(struct engine *e, const struct engine_node *n, struct stat *st);

/* Look name up in the directory dir: 0 and ret/st filled, or -ENOENT. */
int engine_snap_lookup(struct engine *e, const struct engine_node *dir, const char *name,
		       struct engine_node *ret, struct stat *st);

/*
 * The entries of the directory dir, "." and ".." left out, in no set order: fn(name, ino,
 * type, ctx) for each (ino as getattr would report it); stops early with fn's non-zero value.
 */
int engine_snap_readdir(struct engine *e, const struct engine_node *dir,
			int (*fn)(const char *name, ino_t ino, mode_t type, void *ctx), void *ctx);

/* Read up to len bytes at off of the regular file n; returns the count (0 at its end). */
ssize_t engine_snap_read(struct engine *e, const struct engine_node *n, void *buf, size_t len,
			 uint64_t off);

/* The target of the symlink n, NUL terminated; returns its length. */
ssize_t engine_snap_readlink(struct engine *e, const struct engine_node *n, char *buf,
			     size_t size);

/*
 * Extended attributes as the snapshot holds them, with listxattr/getxattr conventions (size 0
 * asks for the length; -ERANGE when buf is too small; -ENODATA for a missing name).
 */
ssize_t engine_snap_listxattr(struct engine *e, const struct engine_node *n, char *buf,
			      size_t size);
ssize_t engine_snap_getxattr(struct engine *e, const struct engine_node *n, const char *name,
			     void *buf, size_t size);

#endif
