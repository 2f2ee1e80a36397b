/*
 * ops_xattr.c: extended attributes of the live view. They are reached through the
 * /proc/self/fd path of the inode's O_PATH descriptor, since the f*xattr calls refuse O_PATH
 * descriptors. That path would follow a symbolic link, so symlinks carry no extended
 * attributes through the mount (on ext4 only the trusted and security namespaces allow them).
 */
#include "sfs.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/xattr.h>

/* Pin in's fd and return its proc path; NULL with *err set when that is impossible. */
static const char *xattr_path(struct sfs_inode *in, struct sfs_procpath *pp, int *err)
{
	int fd;

	if (S_ISLNK(in->type)) {
		*err = EPERM;
		return NULL;
	}
	fd = inode_fd_get(&sfs.itab, in);
	if (fd < 0) {
		*err = -fd;
		return NULL;
	}
	return sfs_procpath(pp, fd);
}

/* Reply to a get/list call that asked for size (0: just the length). */
static void reply_sized(fuse_req_t req, ssize_t n, const char *buf, size_t size)
{
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
}

/* getxattr and listxattr: name NULL means list. */
static void query_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	struct sfs_procpath pp;
	const char *path;
	char *buf = NULL;
	ssize_t n;
	int err = 0;

	if (S_ISLNK(in->type)) {
		if (name)
			fuse_reply_err(req, ENODATA);
		else
			reply_sized(req, 0, "", size);
		return;
	}
	path = xattr_path(in, &pp, &err);
	if (!path) {
		fuse_reply_err(req, err);
		return;
	}
	if (size && !(buf = malloc(size))) {
		inode_fd_put(&sfs.itab, in);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = name ? getxattr(path, name, buf, size) : listxattr(path, buf, size);
	err = errno;
	inode_fd_put(&sfs.itab, in);
	errno = err;
	reply_sized(req, n, buf, size);
	free(buf);
}

static void sfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	query_xattr(req, ino, name, size);
}

static void sfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	query_xattr(req, ino, NULL, size);
}

/* setxattr and removexattr: value NULL means remove. */
static void change_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	struct sfs_procpath pp;
	const char *path;
	int err = 0, r;

	path = xattr_path(in, &pp, &err);
	if (!path) {
		fuse_reply_err(req, err);
		return;
	}
	r = value ? setxattr(path, name, value, size, flags) : removexattr(path, name);
	err = r < 0 ? errno : 0;
	inode_fd_put(&sfs.itab, in);
	fuse_reply_err(req, err);
}

static void sfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	change_xattr(req, ino, name, value ? value : "", size, flags);
}

static void sfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	change_xattr(req, ino, name, NULL, 0, 0);
}

void sfs_xattr_ops(struct fuse_lowlevel_ops *ops)
{
	ops->getxattr = sfs_getxattr;
	ops->listxattr = sfs_listxattr;
	ops->setxattr = sfs_setxattr;
	ops->removexattr = sfs_removexattr;
}
