/*
 * The inode table: every inode the kernel holds a lookup reference to, keyed by the backing
 * (device, inode number), found through a hash. An inode keeps a Linux file handle
 * (name_to_handle_at) rather than a descriptor; descriptors are opened on demand with
 * open_by_handle_at and kept in a bounded LRU, so a tree of any size is served with at most
 * max_fds descriptors. Inodes whose filesystem has no file handles keep their descriptor.
 */
#ifndef SNAPFS_INODE_H
#define SNAPFS_INODE_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/*
 * File handles are kept inline up to this size, which covers ext4 (8 bytes), xfs, tmpfs and
 * btrfs (20); an inode whose handle is larger keeps its descriptor instead.
 */
#define INODE_HANDLE_MAX 40

struct sfs_inode {
	struct sfs_inode *hnext;                /* hash chain */
	struct sfs_inode *lru_prev, *lru_next;  /* in the LRU while its fd is evictable */
	struct sfs_inode *all_prev, *all_next;  /* every live inode, for shutdown */
	dev_t dev;
	ino_t ino;
	mode_t type;                            /* S_IFMT bits */
	uint64_t nlookup;                       /* kernel references */
	int fd;                                 /* descriptor (O_PATH or open), -1 while evicted */
	int mount_fd;                           /* anchor of its filesystem, for open_by_handle_at */
	unsigned pins;                          /* callers using fd right now */
	unsigned nopen;                         /* open file handles */
	bool keep_fd;                           /* fd is never evicted (no handle, or orphaned) */
	bool hashed;
	int handle_type;
	unsigned handle_bytes;                  /* 0: no file handle */
	unsigned char handle[INODE_HANDLE_MAX];
};

/* A filesystem met under SRC: its mount id and a directory descriptor that anchors handles. */
struct inode_mount {
	int mount_id;
	int fd;
};

struct inode_table {
	pthread_mutex_t lock;                   /* guards everything below and all inodes */
	struct sfs_inode **buckets;
	size_t nbuckets;
	size_t count;
	struct sfs_inode *root;
	struct sfs_inode lru;                   /* sentinel: lru.lru_next is most recent */
	struct sfs_inode all;                   /* sentinel of the list of every inode */
	bool use_handles;                       /* open_by_handle_at works here */
	unsigned nfds;                          /* evictable fds currently open */
	unsigned max_fds;
	struct inode_mount *mounts;             /* growable; anchors live until release */
	unsigned nmounts, cap_mounts;
};

/*
 * Set up the table around root_fd (taken: a directory fd on SRC). Without the privilege to
 * reopen files by handle (CAP_DAC_READ_SEARCH), every inode keeps its descriptor.
 */
int inode_table_init(struct inode_table *t, int root_fd, unsigned max_fds);
void inode_table_release(struct inode_table *t);

/* The inode behind a FUSE node id; the id is the inode's address, the root's is 1. */
struct sfs_inode *inode_get(struct inode_table *t, fuse_ino_t ino);
fuse_ino_t inode_nodeid(struct inode_table *t, struct sfs_inode *in);

/*
 * Find or create the inode for name under the directory parent_fd, and take one lookup
 * reference on it. Fills st (the entry's attributes). An inode whose key matches but whose
 * file handle differs (the inode number was reused by a new file) is replaced. Returns 0 or a
 * negative errno.
 */
int inode_lookup(struct inode_table *t, int parent_fd, const char *name, struct stat *st,
		 struct sfs_inode **ret_in);

/* Drop n lookup references; the inode is freed at zero. */
void inode_forget(struct inode_table *t, struct sfs_inode *in, uint64_t n);

/*
 * A descriptor for in (O_PATH, or a duplicate of an open file's), valid until the matching
 * inode_fd_put(). Returns the fd or a negative errno (-ESTALE when the file is gone).
 */
int inode_fd_get(struct inode_table *t, struct sfs_inode *in);
void inode_fd_put(struct inode_table *t, struct sfs_inode *in);

/*
 * Count open file handles; an inode with open handles keeps its descriptor. fd is the new
 * handle's descriptor: an inode without a descriptor keeps a duplicate of it, so that it stays
 * reachable after its last name is gone (a file handle no longer opens it then).
 */
void inode_open_inc(struct inode_table *t, struct sfs_inode *in, int fd);
void inode_open_dec(struct inode_table *t, struct sfs_inode *in);

/*
 * The inode with key (dev, ino), if the kernel holds it, with its descriptor pinned (release
 * with inode_fd_put); NULL otherwise.
 */
struct sfs_inode *inode_find_pinned(struct inode_table *t, dev_t dev, ino_t ino);

/*
 * The last name of in (pinned) is gone: forget its key and keep its descriptor for the rest of
 * its life, so that a process whose working directory it is can still stat and list it.
 */
void inode_orphan(struct inode_table *t, struct sfs_inode *in);

#endif
