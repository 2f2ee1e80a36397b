/*
 * Shared state of the FUSE daemon that serves one volume, and the helpers its op files use.
 * Only fusefs/ includes this (and <fuse_lowlevel.h>).
 */
#ifndef SNAPFS_SFS_H
#define SNAPFS_SFS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "inode.h"

struct volume;

struct sfs_options {
	bool foreground;
	bool writeback;        /* FUSE writeback cache (default on) */
	double timeout;        /* entry and attribute cache timeout, seconds */
	unsigned max_fds;      /* bound on cached O_PATH descriptors */
	unsigned max_threads;
	bool debug;
};

struct sfs {
	struct volume *vol;
	struct inode_table itab;
	struct sfs_options opt;
	bool writeback;        /* what the kernel granted */
	bool is_root;          /* the daemon may act as its callers */
	bool dont_mask;        /* the kernel leaves the umask to us (POSIX ACLs) */
	bool killpriv;         /* we clear set-ID bits on flagged writes (wire.c) */
};

/* The daemon's state, set before the session starts. */
extern struct sfs sfs;

/* Operation tables by family; main.c merges them. */
void sfs_entry_ops(struct fuse_lowlevel_ops *ops);
void sfs_file_ops(struct fuse_lowlevel_ops *ops);
void sfs_dir_ops(struct fuse_lowlevel_ops *ops);
void sfs_xattr_ops(struct fuse_lowlevel_ops *ops);

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

#endif
