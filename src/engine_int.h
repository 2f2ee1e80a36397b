/*
 * What the copy-on-write engine's two halves share: engine_cow.c (hooks, snapshots,
 * properties) and engine_view.c (reading snapshots). Nothing outside src/engine_*.c includes it.
 */
#ifndef SNAPFS_ENGINE_INT_H
#define SNAPFS_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "diffarea.h"
#include "engine.h"
#include "provider.h"

#define KEY_MAX (4 + ENGINE_HANDLE_MAX)
#define MIN_BUCKETS 1024          /* the table doubles when it holds twice as many entries */
#define BATCH_CHUNKS 64          /* chunks copied per diff-area sync and catalog commit */

struct efile {
	struct efile *next;
	unsigned keylen;
	unsigned char key[KEY_MAX];
	pthread_mutex_t lock;
	int64_t fid;                 /* 0 until known */
	bool born;                   /* created in this epoch */
	bool attr_done;              /* attributes preserved for this epoch */
	bool check_catalog;          /* rows of this epoch may exist that bits does not show */
	uint64_t start_size;         /* size at the start of the epoch */
	uint64_t *bits;              /* chunks preserved in this epoch */
	size_t nwords;
};

struct engine {
	pthread_rwlock_t gate;
	pthread_mutex_t create_lock; /* one snapshot creation at a time */
	int64_t held_after_s;        /* prepare's: the newest snapshot's second */
	pthread_mutex_t cat_lock;
	struct catalog *cat;
	struct diffarea *da;
	const struct snap_io *io;
	int64_t (*clock)(void);      /* creation times, ns since the epoch */
	void (*evicted)(const struct catalog_snapshot *s, uint64_t maxsize);
	void (*tree_ready)(struct engine *e, const struct catalog_snapshot *s);
	const struct provider *prov;
	void *prov_data;             /* the provider's own state (start/stop) */
	int src_fd, state_fd, grave_fd, diff_fd, trees_fd;
	int root_mount_id;
	unsigned root_keylen;
	unsigned char root_key[KEY_MAX];
	uint32_t cs;
	bool fresh_epoch;            /* the epoch began in this process: the table knows all */
	atomic_int nsnaps;
	atomic_uint_fast64_t newest; /* epoch of the newest snapshot, 0 without */
	atomic_uint_fast64_t del_seq;/* bumped before a deletion frees anything */
	atomic_uint_fast64_t epoch;
	atomic_uint_fast64_t preserve_seq;
	pthread_mutex_t tab_lock;
	struct efile **buckets;
	size_t nbuckets, count;
	pthread_mutex_t nosnap_lock;
	char *nosnap;                /* FilesNotToSnapshot, ':'-separated patterns, or NULL */
};

struct ident {
	unsigned keylen;
	unsigned char key[KEY_MAX];  /* handle type (4 bytes, host order), then handle bytes */
	int mount_id;
};

/* The identity of (dirfd, name), or of dirfd itself when name is "" (AT_EMPTY_PATH). */
int get_ident(int dirfd, const char *name, struct ident *id);

/* Open the object with key on SRC's filesystem: the fd or a negative errno. */
int open_key(struct engine *e, const unsigned char *key, unsigned keylen, int flags);

/*
 * Views of a tree snapshot (engine_tree.c), with the engine_snap_* conventions; the engine's
 * view functions hand tree nodes to them.
 */
int tree_root(struct engine *e, const struct catalog_snapshot *s, struct engine_node *ret);
int tree_getattr(struct engine *e, const struct engine_node *n, struct stat *st);
int tree_lookup(struct engine *e, const struct engine_node *dir, const char *name,
		struct engine_node *ret, struct stat *st);
int tree_readdir(struct engine *e, const struct engine_node *dir,
		 int (*fn)(const char *name, ino_t ino, mode_t type, void *ctx), void *ctx);
ssize_t tree_read(struct engine *e, const struct engine_node *n, void *buf, size_t len,
		  uint64_t off);
ssize_t tree_readlink(struct engine *e, const struct engine_node *n, char *buf, size_t size);
ssize_t tree_listxattr(struct engine *e, const struct engine_node *n, char *buf, size_t size);
ssize_t tree_getxattr(struct engine *e, const struct engine_node *n, const char *name,
		      void *buf, size_t size);

/* Copy the first size bytes of the journal-served regular file n into out_fd (engine_view.c). */
int snap_copy_file(struct engine *e, const struct engine_node *n, int out_fd, uint64_t size);

/* The inode number a snapshot at epoch shows for an object numbered ino where it is kept. */
ino_t snap_ino(uint64_t epoch, ino_t ino);

/*
 * A complete copy is finished (clone provider): record snapshot s as a tree of bytes bytes and
 * tell the caller (tree_ready), or release its journal at once. -ENOENT when s was deleted.
 */
int engine_tree_done(struct engine *e, const struct catalog_snapshot *s, uint64_t bytes);

/*
 * The journal's pieces that the redirect-on-write provider (provider_row.c) shares, from
 * engine_cow.c; each says there what it does and which locks it wants.
 */
struct efile *efile_get(struct engine *e, int fd, const char *name, int *r);
struct efile *efile_get_id(struct engine *e, const struct ident *id);
int efile_fid(struct engine *e, struct efile *f, bool create, int64_t *ret);
int efile_bit_set(struct efile *f, uint64_t k);
bool journal_active(struct engine *e);
int journal_touch_attr(struct engine *e, struct efile *f, int fd);
int journal_chunk_needed(struct engine *e, struct efile *f, uint64_t k);
int journal_store(struct engine *e, const void *buf, uint32_t len, uint64_t *ret_off);

/*
 * Redirect-on-write (provider_row.c): the write itself; the live read (1 and *got, or 0:
 * nothing of fd is redirected, read it yourself); whether fd has redirected chunks; bringing
 * chunks [first, last] of fd back into SRC before SRC is changed in place; queueing the fold
 * of a chunk whose in-SRC pre-image row went (under cat_lock); running the queued folds (no
 * lock held).
 */
ssize_t row_write(struct engine *e, int fd, const void *buf, size_t len, uint64_t off);
int row_live_read(struct engine *e, int fd, void *buf, size_t len, uint64_t off, ssize_t *got);
bool row_redirected(struct engine *e, int fd);
int row_unredirect(struct engine *e, int fd, uint64_t first, uint64_t last);
void row_released(struct engine *e, const struct catalog_chunk *c);
void row_settle(struct engine *e);

/* Whether name matches a FilesNotToSnapshot pattern. */
bool nosnap_match(struct engine *e, const char *name);

/*
 * Walk an xattr blob ([u16 name length][u32 value length][name][value]...): fills name (NUL
 * terminated, XATTR_NAME_MAX + 1 bytes) and the value; returns the next position, 0 at the end.
 */
size_t blob_next(const unsigned char *b, size_t len, size_t pos, char *name,
		 const unsigned char **val, uint32_t *vlen);

#endif
