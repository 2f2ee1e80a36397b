/*
 * The model-based test of snapshots: random operations on a live tree, snapshots at random
 * points, and an in-memory model of what every snapshot must hold.
 *
 * The parts: a random generator (rng), the model tree and its deep copies (tree.c), the
 * operations as values with a one-line text form and their effect on the model (ops.c), the
 * backends that apply them to a real tree and read snapshots back (backend.c: system calls on
 * a directory, with the engine's gate and hooks around each change when an engine is given;
 * engine_backend.c: a volume opened without FUSE, snapshots read through the engine; mount.c:
 * snapshots made by the snapfs CLI and read under MNT/.snapshots/), and the comparison of a
 * model with a tree as a reader sees it (compare.c). model.c parses the arguments and runs the
 * seeds.
 *
 * Paths in operations and readers are relative to the tree's root, "." being the root itself.
 * Errors are negative errno values, as in the rest of the project.
 */
#ifndef SNAPFS_MODEL_H
#define SNAPFS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "catalog.h"

#define MODEL_PATH_MAX 96
#define MODEL_NAME_MAX 8
#define MODEL_STR_MAX MODEL_PATH_MAX
#define MODEL_XATTRS 4          /* user.a .. user.d */
#define MODEL_XATTR_VAL 48
#define MODEL_HOLDS 2           /* descriptors kept open across operations */
#define MODEL_MAX_DEPTH 3       /* mkdir below this depth only */
#define MODEL_MAX_DIRS 6

/* ---- random numbers: xorshift64*, seeded through splitmix64 ---------------------------- */

struct rng {
	uint64_t s;
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* A number in [0, n); 0 when n is 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Deterministic bytes from seed: the data of a write, the value of an xattr. */
void fill_bytes(uint64_t seed, void *buf, size_t len);

/* ---- the model tree ---------------------------------------------------------------------- */

struct mxattr {
	bool is_set;
	size_t len;
	unsigned char val[MODEL_XATTR_VAL];
};

struct mentry {
	char name[MODEL_NAME_MAX];
	int obj;
};

/*
 * One object. Hard links share an object; an object lives while a name or a held descriptor
 * refers to it. A model owns its objects' buffers.
 */
struct mobj {
	bool is_used;
	mode_t mode;              /* type and permission bits */
	uid_t uid;
	gid_t gid;
	int parent;               /* directories: the directory that names it (root: itself) */
	unsigned links;           /* names that refer to it */
	unsigned holds;           /* descriptors of the run open on it */
	unsigned char *data;      /* regular files */
	size_t size;
	char target[MODEL_STR_MAX];    /* symlinks */
	struct mentry *ents;      /* directories */
	size_t nents;
	struct mxattr xattrs[MODEL_XATTRS];
	bool has_mtime;           /* mtime known: set explicitly, or recorded at a snapshot */
	struct timespec mtime;
};

struct model {
	struct mobj *objs;        /* objs[0] is the root */
	size_t nobjs;
};

/* Name of xattr slot i: "user.a" .. */
const char *xattr_name(unsigned i);
/* The slot of name, -1 when it is none of the model's names. */
int xattr_slot(const char *name);

/* A model holding only the root directory, with the root's attributes from st. */
int model_init(struct model *m, const struct stat *st);
void model_release(struct model *m);
/* A deep copy of src into ret (object numbers kept). */
int model_copy(const struct model *src, struct model *ret);

/* The object that path names, -1 when none. */
int model_lookup(const struct model *m, const char *path);
/* The directory and last name of path; -1 when its directory does not exist. */
int model_parent(const struct model *m, const char *path, char name[MODEL_NAME_MAX]);
/* The depth of directory obj (root 0). */
int model_depth(const struct model *m, int obj);
/* Whether directory a is b or one of b's ancestors. */
bool model_is_ancestor(const struct model *m, int a, int b);

/* Every reachable name, depth first: fn(path, obj, ctx); stops on fn's non-zero value. */
int model_walk(const struct model *m, int (*fn)(const char *path, int obj, void *ctx), void *ctx);

/* Link counts as the tree implies them: regular files by names, directories 2 + subdirs. */
unsigned model_nlink(const struct model *m, int obj);

int model_entry_add(struct model *m, int dir, const char *name, int obj);
void model_entry_del(struct model *m, int dir, const char *name);
/* Point the existing entry name of dir at obj, without changing link counts. */
void model_entry_set(struct model *m, int dir, const char *name, int obj);
int model_obj_new(struct model *m, mode_t mode, uid_t uid, gid_t gid);
/* Drop the object when nothing refers to it any more. */
void model_obj_put(struct model *m, int obj);
int model_set_size(struct model *m, int obj, size_t size);

/* ---- operations ---------------------------------------------------------------------------- */

enum op_kind {
	OP_WRITE,
	OP_CREATE,
	OP_MKDIR,
	OP_MKNOD,
	OP_SYMLINK,
	OP_LINK,
	OP_TRUNCATE,
	OP_PUNCH,
	OP_RENAME,
	OP_EXCHANGE,
	OP_UNLINK,
	OP_RMDIR,
	OP_CHMOD,
	OP_CHOWN,
	OP_UTIMENS,
	OP_SETXATTR,
	OP_RMXATTR,
	OP_OPEN,
	OP_HWRITE,
	OP_HTRUNC,
	OP_CLOSE,
	OP_SNAP,
	OP_DELETE,
	OP_REOPEN,
	OP_COUNT
};

/*
 * An operation. Its text form by kind (n[] numbers in order, str a symlink target or an xattr
 * name, SLOT a held descriptor):
 *   write P OFF LEN DSEED          create P MODE, mkdir P MODE, mknod P MODE (a fifo)
 *   symlink P TARGET               link P NEW
 *   truncate P SIZE                punch P OFF LEN
 *   rename P NEW                   exchange P Q (RENAME_EXCHANGE)
 *   unlink P, rmdir P              chmod P MODE
 *   chown P UID GID                utimens P ASEC ANSEC MSEC MNSEC
 *   setxattr P NAME LEN DSEED      rmxattr P NAME
 *   open SLOT P                    hwrite SLOT OFF LEN DSEED
 *   htrunc SLOT SIZE               close SLOT
 *   snap                           delete SNAPSHOT-NUMBER (in the order of creation, from 0)
 *   reopen (close and open the engine; engine backend only)
 */
struct op {
	enum op_kind kind;
	char path[MODEL_PATH_MAX];
	char path2[MODEL_PATH_MAX];
	char str[MODEL_STR_MAX];
	uint64_t n[4];
};

/* The one-line text form of op, in buf. */
void op_format(const struct op *op, char *buf, size_t size);
/* Parse a line as op_format writes it: 0, or -EINVAL. */
int op_parse(const char *line, struct op *op);

/* What the run knows beyond the live model: held descriptors and snapshot numbers. */
struct hold {
	bool is_open;
	int fd;
	int obj;
};

struct gen_params {
	uint32_t chunk;           /* the engine's chunk size: offsets cluster around its edges */
	bool is_root;             /* chown to other users; modes without owner bits */
	unsigned snap_every;      /* one snapshot in this many operations */
	unsigned delete_every;
	unsigned max_alive;       /* at this many snapshots, a snapshot becomes a deletion */
	unsigned reopen_every;    /* 0: never */
	unsigned nsnaps_alive;
	unsigned nsnaps;          /* numbers 0 .. nsnaps - 1 taken so far */
	const bool *snap_alive;   /* by number */
};

/* Draw the next operation for the live model. */
void op_generate(struct rng *r, const struct model *m, const struct hold *holds,
		 const struct gen_params *gp, struct op *ret);

/*
 * Whether op can run on the live model (replayed operations may no longer fit), and when it
 * can, its effect on the model: 1 applied, 0 not applicable. Snapshots are the runner's.
 */
int op_check(const struct model *m, const struct hold *holds, const struct op *op);
int op_apply_model(struct model *m, struct hold *holds, const struct op *op);

/* ---- readers: a tree as a backend sees it ------------------------------------------------- */

struct reader;

struct reader_ops {
	int (*getattr)(struct reader *r, const char *path, struct stat *st);
	/* fn(name, type, ctx) for each entry but . and ..; type S_IFMT bits or 0 when unknown */
	int (*list)(struct reader *r, const char *path,
		    int (*fn)(const char *name, mode_t type, void *ctx), void *ctx);
	/* Read the file from its start until its end or cap bytes; returns the count. */
	ssize_t (*read_all)(struct reader *r, const char *path, void *buf, size_t cap);
	ssize_t (*readlink)(struct reader *r, const char *path, char *buf, size_t size);
	ssize_t (*listxattr)(struct reader *r, const char *path, char *buf, size_t size);
	ssize_t (*getxattr)(struct reader *r, const char *path, const char *name, void *buf,
			    size_t size);
	void (*free)(struct reader *r);
};

struct reader {
	const struct reader_ops *ops;
	const char *hide;         /* a name at the root that the comparison skips, or NULL */
};

/* A reader of the directory tree at path (system calls, no following of symlinks). */
int path_reader_new(const char *path, const char *hide, struct reader **ret);
struct engine;
/* Read files through the engine's live reads (redirect-on-write keeps live bytes elsewhere). */
void path_reader_through(struct reader *r, struct engine *e);

/* ---- comparison ---------------------------------------------------------------------------- */

struct report {
	uint64_t seed;
	unsigned errors;          /* differences found so far in this seed */
	unsigned max_errors;      /* print no more than this many */
	/*
	 * The tree's filesystem shows every directory with link count 1 (btrfs counts no
	 * subdirectories): directories must show 1, not what the model implies.
	 */
	bool dirs_one_link;
};

/*
 * Compare the tree that r reads with model m: listings, types, modes, owners, link counts,
 * sizes, bytes, symlink targets, user.* xattrs, and mtimes the model knows; objects that the
 * model says are one (hard links) must have one inode number, and others distinct ones.
 * Each difference is printed with what (a label) and the path; returns the number found.
 */
unsigned compare_tree(struct report *rep, const char *what, const struct model *m,
		      struct reader *r);

void report_diff(struct report *rep, const char *what, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- backends ------------------------------------------------------------------------------- */

struct engine;

struct snap_rec {
	bool is_alive;
	char id[CATALOG_ID_LEN + 1];
	char browse[CATALOG_BROWSE_LEN + 1];
	uint64_t epoch;           /* engine backend only */
	unsigned at_op;           /* the number of the operation that took it */
	struct model model;
};

struct backend {
	int root_fd;              /* the live tree */
	char root[4096];
	int src_fd;               /* mount backend given --src: the backing directory, else -1 */
	char src[4096];
	struct engine *e;         /* engine backend: hooks and gate around changes; else NULL */
	/* snapshots */
	int (*snap_create)(struct backend *b, struct snap_rec *ret);
	int (*snap_delete)(struct backend *b, const struct snap_rec *s);
	int (*snap_reader)(struct backend *b, const struct snap_rec *s, struct reader **ret);
	/* close and open the engine again; NULL when the backend cannot */
	int (*reopen)(struct backend *b);
	/* checks of the backend's own listing of snapshots; may be NULL */
	unsigned (*snap_list_check)(struct backend *b, struct report *rep,
				    const struct snap_rec *snaps, unsigned n);
	void *priv;
};

/*
 * Apply a change operation (not snap/delete) to the live tree: the system calls, with the
 * engine's gate and hook around them when b->e is set. Returns 0 or a negative errno.
 */
int backend_apply(struct backend *b, struct hold *holds, const struct op *op);

/*
 * Engine backend: a volume in a new temporary directory under tmpdir, its snapshots made by
 * the provider named (NULL: the engine's default). For "btrfs" the directory is a new
 * subvolume, as that provider needs SRC to be one: tmpdir must be on btrfs.
 */
int engine_backend_open(struct backend *b, const char *tmpdir, uint32_t chunk,
			const char *provider, char *msg, size_t msglen);
void engine_backend_close(struct backend *b, bool keep);
/*
 * Make the volume state of the directory src (SRC/.snapfs and its catalog) with this chunk
 * size and provider (NULL: the default), as a first mount would, so that a mount of src uses
 * them.
 */
int engine_prepare(const char *src, uint32_t chunk, const char *provider, char *msg,
		   size_t msglen);
/*
 * Whether this process may open files by handle in dir (CAP_DAC_READ_SEARCH), which the engine
 * needs to read snapshots.
 */
bool engine_handles_usable(const char *dir);

/*
 * Mount backend: the mounted snapfs at mnt, snapshots through the CLI at snapfs; src, when not
 * NULL, is the mount's backing directory. provider, when not NULL, is the one the volume must
 * use (the mount was made with --provider; 'snapfs get provider' must name it).
 */
int mount_backend_open(struct backend *b, const char *mnt, const char *snapfs, const char *src,
		       const char *provider, char *msg, size_t msglen);
void mount_backend_close(struct backend *b);

#endif
