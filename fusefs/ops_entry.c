/*
 * ops_entry.c: the namespace and attribute operations of the live view (lookup, forget,
 * getattr, setattr, readlink, mknod, mkdir, symlink, link, unlink, rmdir, rename, statfs).
 * Each handler pins the descriptors it needs from the inode table, makes the one backing call
 * and replies; permission checks are the kernel's (default_permissions). SRC/.snapfs is
 * invisible here: it cannot be looked up, created, renamed or removed through the mount.
 */
#include "sfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "volume.h"

const char *sfs_procpath(struct sfs_procpath *p, int fd)
{
	snprintf(p->buf, sizeof(p->buf), "/proc/self/fd/%d", fd);
	return p->buf;
}

bool sfs_is_reserved(fuse_ino_t parent, const char *name)
{
	return parent == FUSE_ROOT_ID && strcmp(name, VOLUME_STATE_DIR) == 0;
}

int sfs_do_lookup(int parent_fd, const char *name, struct fuse_entry_param *e)
{
	struct sfs_inode *in;
	int r;

	memset(e, 0, sizeof(*e));
	r = inode_lookup(&sfs.itab, parent_fd, name, &e->attr, &in);
	if (r < 0)
		return r;
	e->ino = inode_nodeid(&sfs.itab, in);
	e->attr_timeout = sfs.opt.timeout;
	e->entry_timeout = sfs.opt.timeout;
	return 0;
}

/* Reply with an entry; when the request was interrupted, give its lookup reference back. */
static void reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	if (fuse_reply_entry(req, e) != 0 && e->ino)
		inode_forget(&sfs.itab, inode_get(&sfs.itab, e->ino), 1);
}

int sfs_pin_or_reply(fuse_req_t req, struct sfs_inode *in)
{
	int fd = inode_fd_get(&sfs.itab, in);

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return -1;
	}
	return fd;
}

static void sfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sfs_inode *p = inode_get(&sfs.itab, parent);
	struct fuse_entry_param e;
	int fd, r;

	if (sfs_snap_node(parent) || sfs_is_snapdir(parent, name)) {
		sfs_snap_lookup(req, parent, name);
		return;
	}
	if (sfs_is_reserved(parent, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fd = sfs_pin_or_reply(req, p);
	if (fd < 0)
		return;
	r = sfs_do_lookup(fd, name, &e);
	inode_fd_put(&sfs.itab, p);
	if (r == -ENOENT) {
		/* a negative entry, cached like a positive one */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = sfs.opt.timeout;
		reply_entry(req, &e);
	} else if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		reply_entry(req, &e);
	}
}

static void sfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (sfs_snap_node(ino)) {
		sfs_snap_forget(req, ino, nlookup);
		return;
	}
	inode_forget(&sfs.itab, inode_get(&sfs.itab, ino), nlookup);
	fuse_reply_none(req);
}

static void sfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	count = sfs_snap_forget_filter(forgets, count);
	for (size_t i = 0; i < count; i++)
		inode_forget(&sfs.itab, inode_get(&sfs.itab, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void sfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	struct stat st;
	int fd, r;

	if (sfs_snap_node(ino)) {
		sfs_snap_getattr(req, ino, fi);
		return;
	}
	if (fi && S_ISREG(in->type)) {
		r = fstat(fi->fh, &st) < 0 ? -errno : 0;
	} else {
		fd = sfs_pin_or_reply(req, in);
		if (fd < 0)
			return;
		r = fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
		inode_fd_put(&sfs.itab, in);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, sfs.opt.timeout);
}

/* Truncate as the caller: the backing filesystem then clears set-group-ID as it should. */
static int truncate_as_caller(fuse_req_t req, int fd, struct fuse_file_info *fi, off_t size)
{
	struct sfs_procpath pp;
	struct sfs_creds c;
	int r;

	r = creds_enter(req, &c, 0);
	if (r < 0)
		return r;
	r = fi ? ftruncate(fi->fh, size) : truncate(sfs_procpath(&pp, fd), size);
	r = r < 0 ? -errno : 0;
	creds_leave(&c);
	return r;
}

int sfs_kill_setid(fuse_req_t req, int fd)
{
	struct sfs_procpath pp;
	struct stat st;
	mode_t mode;

	if (fuse_req_ctx(req)->uid == 0 || fstatat(fd, "", &st, AT_EMPTY_PATH) < 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	mode = st.st_mode & 07777;
	if (mode & S_ISUID)
		mode &= ~S_ISUID;
	if ((mode & S_ISGID) && ((mode & S_IXGRP) || !creds_in_group(req, st.st_gid)))
		mode &= ~S_ISGID;
	if (mode == (st.st_mode & 07777))
		return 0;
	return chmod(sfs_procpath(&pp, fd), mode) < 0 ? -errno : 0;
}

/* Apply the changes of one setattr request to the file behind fd (O_PATH) or fi. */
static int apply_setattr(fuse_req_t req, struct sfs_inode *in, int fd, const struct stat *attr,
			 int valid, struct fuse_file_info *fi)
{
	struct sfs_procpath pp;
	int r;

	/*
	 * A setattr that changes nothing but perhaps ctime comes from chown(-1, -1), or, from a
	 * caller other than root, from the kernel asking to drop set-ID bits before a write (when
	 * FUSE_HANDLE_KILLPRIV_V2 is not in force, its own fallback drops set-group-ID only with
	 * group-execute). A no-op chown on the backing file does what chown does there.
	 */
	if (valid == 0 && fuse_req_ctx(req)->uid != 0)
		return sfs_kill_setid(req, fd);
	if (valid == 0 || valid == FUSE_SET_ATTR_CTIME)
		return fchownat(fd, "", -1, -1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (valid & FUSE_SET_ATTR_MODE) {
		if (fi ? fchmod(fi->fh, attr->st_mode) : chmod(sfs_procpath(&pp, fd), attr->st_mode))
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		r = truncate_as_caller(req, fd, fi, attr->st_size);
		if (r < 0)
			return r;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = {
			{ .tv_nsec = UTIME_OMIT },
			{ .tv_nsec = UTIME_OMIT },
		};

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if (fi) {
			if (futimens(fi->fh, tv) < 0)
				return -errno;
		} else if (S_ISLNK(in->type)) {
			if (utimensat(fd, "", tv, AT_EMPTY_PATH) < 0)
				return -errno;
		} else if (utimensat(AT_FDCWD, sfs_procpath(&pp, fd), tv, 0) < 0) {
			return -errno;
		}
	}
	return 0;
}

static void sfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
			struct fuse_file_info *fi)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	struct stat st;
	int fd, r;

	if (sfs_snap_refused(req, ino, NULL, 0))
		return;
	fd = sfs_pin_or_reply(req, in);
	if (fd < 0)
		return;
	engine_gate_enter(sfs.eng);
	if ((valid & FUSE_SET_ATTR_SIZE) && S_ISREG(in->type))
		r = engine_before_truncate(sfs.eng, fd, (uint64_t)attr->st_size);
	else
		r = engine_before_attr(sfs.eng, fd);
	/* fi->fh is a descriptor for regular files only (a directory's is a stream) */
	if (r == 0)
		r = apply_setattr(req, in, fd, attr, valid, S_ISREG(in->type) ? fi : NULL);
	engine_gate_leave(sfs.eng);
	if (r == 0 && fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	inode_fd_put(&sfs.itab, in);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, sfs.opt.timeout);
}

static void sfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	char buf[PATH_MAX + 1];
	ssize_t n;
	int fd;

	if (sfs_snap_node(ino)) {
		sfs_snap_readlink(req, ino);
		return;
	}
	fd = sfs_pin_or_reply(req, in);
	if (fd < 0)
		return;
	n = readlinkat(fd, "", buf, sizeof(buf));
	if (n < 0)
		n = -errno;
	inode_fd_put(&sfs.itab, in);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	if (n == sizeof(buf)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

enum make_kind {
	MAKE_NODE,
	MAKE_DIR,
	MAKE_SYMLINK,
};

/* mknod, mkdir and symlink: create name under parent as the caller, then look it up. */
static void make_entry(fuse_req_t req, fuse_ino_t parent, const char *name, enum make_kind kind,
		       mode_t mode, dev_t rdev, const char *target)
{
	struct sfs_inode *p = inode_get(&sfs.itab, parent);
	struct fuse_entry_param e;
	struct sfs_creds c;
	int fd, r;

	if (sfs_snap_refused(req, parent, name, EEXIST))
		return;
	if (sfs_is_reserved(parent, name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fd = sfs_pin_or_reply(req, p);
	if (fd < 0)
		return;
	engine_gate_enter(sfs.eng);
	r = engine_before_create(sfs.eng, fd, name);
	if (r == 0)
		r = creds_enter(req, &c, CREDS_UMASK);
	if (r == 0) {
		if (kind == MAKE_DIR)
			r = mkdirat(fd, name, mode);
		else if (kind == MAKE_SYMLINK)
			r = symlinkat(target, fd, name);
		else
			r = mknodat(fd, name, mode, rdev);
		r = r < 0 ? -errno : 0;
		creds_leave(&c);
		if (r == 0)
			engine_after_create(sfs.eng, fd, name);
	}
	engine_gate_leave(sfs.eng);
	if (r == 0)
		r = sfs_do_lookup(fd, name, &e);
	inode_fd_put(&sfs.itab, p);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, &e);
}

static void sfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      dev_t rdev)
{
	make_entry(req, parent, name, MAKE_NODE, mode, rdev, NULL);
}

static void sfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make_entry(req, parent, name, MAKE_DIR, mode, 0, NULL);
}

static void sfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	make_entry(req, parent, name, MAKE_SYMLINK, 0, 0, link);
}

static void sfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	struct sfs_inode *p = inode_get(&sfs.itab, newparent);
	struct fuse_entry_param e;
	int fd, pfd, r;

	if (sfs_snap_refused(req, ino, NULL, 0) ||
	    sfs_snap_refused(req, newparent, newname, EEXIST))
		return;
	if (sfs_is_reserved(newparent, newname)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fd = sfs_pin_or_reply(req, in);
	if (fd < 0)
		return;
	pfd = inode_fd_get(&sfs.itab, p);
	if (pfd < 0) {
		r = pfd;
		goto out_put_in;
	}
	engine_gate_enter(sfs.eng);
	r = engine_before_create(sfs.eng, pfd, newname);
	if (r == 0)
		r = engine_before_attr(sfs.eng, fd);
	if (r == 0)
		r = linkat(fd, "", pfd, newname, AT_EMPTY_PATH) < 0 ? -errno : 0;
	engine_gate_leave(sfs.eng);
	if (r == 0)
		r = sfs_do_lookup(pfd, newname, &e);
	inode_fd_put(&sfs.itab, p);
out_put_in:
	inode_fd_put(&sfs.itab, in);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, &e);
}

/*
 * unlink and rmdir. A removed directory that the kernel still holds (some process's working
 * directory) keeps its descriptor, so it can still be looked at, empty, as on the backing
 * filesystem; a file handle no longer opens it.
 */
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, int flags)
{
	struct sfs_inode *p = inode_get(&sfs.itab, parent);
	struct sfs_inode *victim = NULL;
	struct stat st;
	int fd, r;

	if (sfs_snap_refused(req, parent, name, EBUSY))
		return;
	if (sfs_is_reserved(parent, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fd = sfs_pin_or_reply(req, p);
	if (fd < 0)
		return;
	if ((flags & AT_REMOVEDIR) && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		victim = inode_find_pinned(&sfs.itab, st.st_dev, st.st_ino);
	engine_gate_enter(sfs.eng);
	r = engine_unlink(sfs.eng, fd, name, flags & AT_REMOVEDIR);
	engine_gate_leave(sfs.eng);
	if (victim) {
		if (r == 0)
			inode_orphan(&sfs.itab, victim);
		inode_fd_put(&sfs.itab, victim);
	}
	inode_fd_put(&sfs.itab, p);
	fuse_reply_err(req, -r);
}

static void sfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 0);
}

static void sfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, AT_REMOVEDIR);
}

static void sfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	struct sfs_inode *p = inode_get(&sfs.itab, parent);
	struct sfs_inode *np = inode_get(&sfs.itab, newparent);
	int fd, nfd, r;

	if (sfs_snap_refused(req, parent, name, EBUSY) ||
	    sfs_snap_refused(req, newparent, newname, EBUSY))
		return;
	if (sfs_is_reserved(parent, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (sfs_is_reserved(newparent, newname)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fd = sfs_pin_or_reply(req, p);
	if (fd < 0)
		return;
	nfd = inode_fd_get(&sfs.itab, np);
	if (nfd < 0) {
		r = nfd;
		goto out_put_p;
	}
	engine_gate_enter(sfs.eng);
	r = engine_rename(sfs.eng, fd, name, nfd, newname, flags);
	engine_gate_leave(sfs.eng);
	inode_fd_put(&sfs.itab, np);
out_put_p:
	inode_fd_put(&sfs.itab, p);
	fuse_reply_err(req, -r);
}

static void sfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(sfs.itab.root->fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

void sfs_entry_ops(struct fuse_lowlevel_ops *ops)
{
	ops->lookup = sfs_lookup;
	ops->forget = sfs_forget;
	ops->forget_multi = sfs_forget_multi;
	ops->getattr = sfs_getattr;
	ops->setattr = sfs_setattr;
	ops->readlink = sfs_readlink;
	ops->mknod = sfs_mknod;
	ops->mkdir = sfs_mkdir;
	ops->symlink = sfs_symlink;
	ops->link = sfs_link;
	ops->unlink = sfs_unlink;
	ops->rmdir = sfs_rmdir;
	ops->rename = sfs_rename;
	ops->statfs = sfs_statfs;
}
