/*
 * Shared state of the FUSE daemon that serves one volume, and the helpers its op files use.
 * Only fusefs/ includes this (and <fuse_lowlevel.h>).
 */
#ifndef SNAPFS_SFS_H
#define SNAPFS_SFS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "engine.h"
#include "snapfs/snapfs.h"
#include "inode.h"

struct volume;

struct sfs_options {
	bool foreground;
	bool writeback;        /* FUSE writeback cache (default on) */
	double timeout;        /* entry and attribute cache timeout, seconds */
	unsigned max_fds;      /* bound on cached O_PATH descriptors */
	unsigned max_threads;
	bool debug;
	const char *diff_area; /* --diff-area DIR, at the first mount */
	uint32_t chunk_size;   /* --chunk-size N, at the first mount; 0: the volume's or 64K */
	const char *method;    /* --method M, at the first mount; NULL: the volume's or cow */
	const char *provider;  /* --provider NAME, at the first mount */
};

struct sfs {
	struct volume *vol;
	struct engine *eng;    /* snapshots: hooks around changes, views of snapshots */
	struct inode_table itab;
	struct sfs_options opt;
	bool writeback;        /* what the kernel granted */
	bool is_root;          /* the daemon may act as its callers */
	bool dont_mask;        /* the kernel leaves the umask to us (POSIX ACLs) */
	bool killpriv;         /* we clear set-ID bits on flagged writes (wire.c) */
	bool redirect;         /* the provider redirects writes (live reads go through it) */
};

/* The daemon's state, set before the session starts. */
extern struct sfs sfs;

/* Operation tables by family; main.c merges them. */
void sfs_entry_ops(struct fuse_lowlevel_ops *ops);
void sfs_file_ops(struct fuse_lowlevel_ops *ops);
void sfs_dir_ops(struct fuse_lowlevel_ops *ops);
void sfs_xattr_ops(struct fuse_lowlevel_ops *ops);

/*
 * Pass a listxattr result on to a caller that may not see the trusted namespace (callers other
 * than root, as on the backing filesystem): drop the trusted.* names from list (len bytes, or
 * a negative errno, passed through), then copy what is left to buf with listxattr conventions
 * (size 0 asks for the length only). list is borrowed and rewritten. Returns the length of
 * what is left, -ERANGE when it does not fit in size, or len's errno.
 */
ssize_t sfs_filter_trusted(char *list, ssize_t len, char *buf, size_t size);

/*
 * Hook the session's reads and writes of /dev/fuse (after fuse_session_mount) to negotiate
 * FUSE_HANDLE_KILLPRIV_V2 and to pass its per-request flags on: a write or open whose caller
 * lacks CAP_FSETID arrives with SFS_O_KILL_PRIV in fi->flags. Returns 0 or -1.
 */
#define SFS_O_KILL_PRIV (1 << 30)
int sfs_wire_attach(struct fuse_session *se);

/*
 * Clear set-user-ID, and set-group-ID by the rules of the backing filesystem (always with
 * group-execute, otherwise when the caller is not in the file's group), on the file behind
 * fd (O_PATH or open) for the caller of req. Returns 0 or a negative errno.
 */
int sfs_kill_setid(fuse_req_t req, int fd);

/* True when (parent, name) names the hidden state directory SRC/.snapfs. */
bool sfs_is_reserved(fuse_ino_t parent, const char *name);

/*
 * Look name up under the directory parent_fd (pinned by the caller) and fill e with a new
 * lookup reference on the inode. Returns 0 or a negative errno.
 */
int sfs_do_lookup(int parent_fd, const char *name, struct fuse_entry_param *e);

/* Pin in's descriptor, or reply with the error; returns the fd, or -1 when it has replied. */
int sfs_pin_or_reply(fuse_req_t req, struct sfs_inode *in);

/* Path through /proc/self/fd for an fd, for the calls that take no O_PATH fd. */
struct sfs_procpath {
	char buf[40];
};
const char *sfs_procpath(struct sfs_procpath *p, int fd);

/*
 * Act as the caller of req for the calls whose outcome depends on the caller: creating objects
 * (new files belong to the caller; setgid directories and group membership behave as the
 * backing filesystem decides) and truncating. Sets the calling thread's fsuid, fsgid and
 * supplementary groups, and with CREDS_UMASK the caller's umask when the kernel left it to us;
 * creds_leave() restores the daemon's. Returns 0 or a negative errno (nothing changed then).
 */
struct sfs_creds {
	bool switched;
	bool umask_set;
	mode_t old_umask;
};
#define CREDS_UMASK 1u
int creds_enter(fuse_req_t req, struct sfs_creds *c, unsigned flags);
void creds_leave(struct sfs_creds *c);

/* Whether the caller of req has gid as its group or among its supplementary groups. */
bool creds_in_group(fuse_req_t req, gid_t gid);

/*
 * MNT/.snapshots/, the read-only view of the volume's snapshots (ops_snap.c documents it).
 * Its node ids have SFS_SNAP_TAG set, which no live node id has (live ids are addresses of
 * struct sfs_inode, or FUSE_ROOT_ID); .snapshots itself is SFS_SNAPDIR_ID. Every live handler
 * first sends these ids to the sfs_snap_* handler of the same name, with the signature of the
 * libfuse op. Requests may come from any thread.
 *
 * sfs_is_snapdir: whether (parent, name) is .snapshots at the root (a real SRC/.snapshots is
 * shadowed there). sfs_snap_refused: for a request that would change something under the
 * directory (or on the node) ino: replies EROFS when ino is a snapshot node, snapdir_err when
 * name (may be NULL) is .snapshots at the root, and returns whether it replied.
 * sfs_snap_forget_filter: drops the references of the snapshot nodes in forgets and removes
 * them from it; returns how many entries are left for the live table.
 * sfs_snap_add_snapdir: adds the .snapshots entry of the root's listing to buf, as
 * fuse_add_direntry(_plus) does (the size it needs, nothing added when more than size).
 * sfs_snap_copy_file_range: replies for a copy whose source or target is a snapshot node.
 */
#define SFS_SNAPDIR_NAME ".snapshots"
#define SFS_SNAP_TAG ((fuse_ino_t)2)
#define SFS_SNAPDIR_ID SFS_SNAP_TAG

static inline bool sfs_snap_node(fuse_ino_t ino)
{
	return (ino & SFS_SNAP_TAG) != 0;
}

bool sfs_is_snapdir(fuse_ino_t parent, const char *name);
bool sfs_snap_refused(fuse_req_t req, fuse_ino_t ino, const char *name, int snapdir_err);
/* The engine's tree_ready: a complete copy is done (see ops_snap.c). */
void sfs_snap_tree_ready(struct engine *e, const struct catalog_snapshot *s);
size_t sfs_snap_forget_filter(struct fuse_forget_data *forgets, size_t count);
size_t sfs_snap_add_snapdir(fuse_req_t req, char *buf, size_t size, off_t off, bool plus);
void sfs_snap_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void sfs_snap_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void sfs_snap_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sfs_snap_readlink(fuse_req_t req, fuse_ino_t ino);
void sfs_snap_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sfs_snap_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		      struct fuse_file_info *fi);
void sfs_snap_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			  struct fuse_file_info *fi);
void sfs_snap_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sfs_snap_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sfs_snap_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void sfs_snap_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sfs_snap_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sfs_snap_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void sfs_snap_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		    struct fuse_file_info *fi);
void sfs_snap_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, fuse_ino_t ino_out);
void sfs_snap_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void sfs_snap_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

/*
 * Snapshots collected into a heap array: sfs_collect_snapshot is a callback for
 * engine_snapshot_each() and engine_snapshot_list() (ctx is the array, started as { 0 }) that
 * appends a copy of s. Returns 0 or -ENOMEM; the caller frees v, also after a failure.
 */
struct sfs_snap_array {
	struct catalog_snapshot *v;
	size_t n, cap;
};
int sfs_collect_snapshot(const struct catalog_snapshot *s, void *ctx);

/*
 * The volume's control socket SRC/.snapfs/control, served by one thread (control.c documents
 * the protocol). sfs_control_open removes a stale socket, binds and listens; call it before
 * the mount, so that a client finds the socket as soon as MNT exists (its connection waits in
 * the backlog until the thread runs). On failure it returns a negative errno with a reason in
 * msg. sfs_control_start starts the thread; call it after fuse_daemonize(), since threads do
 * not survive the fork. sfs_control_close stops the thread (a request being served finishes
 * first), then closes and unlinks the socket; call it before engine_close(). It accepts NULL.
 * e is borrowed and must outlive the control; state_fd is borrowed (a copy is kept).
 */
struct sfs_control;
int sfs_control_open(struct engine *e, int state_fd, const char *state_path,
		     struct sfs_control **ret, char *msg, size_t msglen);
int sfs_control_start(struct sfs_control *c);
void sfs_control_close(struct sfs_control *c);

#endif
