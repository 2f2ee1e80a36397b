/*
 * ops_xattr.c: extended attributes of the live view (POSIX ACLs included: the kernel enforces
 * them and passes their xattrs through).
 *
 * An inode's descriptor is O_PATH, which the f*xattr calls refuse (the *xattrat calls of
 * Linux 6.13 do too, with EBADF), so the daemon goes through /proc/self/fd/N. That path
 * follows a symbolic link, so for a symlink the daemon reads the link's own path from it and
 * uses the l*xattr calls, after checking that the path still names the same link.
 *
 * Listing runs as root: names in the trusted namespace are left out for callers other than
 * root, as the backing filesystem does for processes without CAP_SYS_ADMIN.
 */
#include "sfs.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

enum xattr_op {
	XATTR_GET,
	XATTR_LIST,
	XATTR_SET,
	XATTR_REMOVE,
};

/*
 * The path of the symbolic link behind fd, as the kernel names it, checked to still be that
 * link (a rename may race with us; the caller then gets ESTALE).
 */
static int symlink_path(struct sfs_inode *in, int fd, char *buf, size_t size)
{
	struct sfs_procpath pp;
	struct stat st;
	ssize_t n;

	n = readlink(sfs_procpath(&pp, fd), buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (lstat(buf, &st) < 0 || st.st_ino != in->ino || st.st_dev != in->dev)
		return -ESTALE;
	return 0;
}

/* One xattr call on the inode behind fd (O_PATH); returns the call's result or -errno. */
static ssize_t xattr_call(struct sfs_inode *in, int fd, enum xattr_op op, const char *name,
			  void *buf, size_t size, int flags)
{
	struct sfs_procpath pp;
	char link[PATH_MAX];
	bool is_link = S_ISLNK(in->type);
	const char *path;
	ssize_t n = -1;

	if (is_link) {
		n = symlink_path(in, fd, link, sizeof(link));
		if (n < 0)
			return n;
		path = link;
	} else {
		path = sfs_procpath(&pp, fd);
	}
	switch (op) {
	case XATTR_GET:
		n = is_link ? lgetxattr(path, name, buf, size) : getxattr(path, name, buf, size);
		break;
	case XATTR_LIST:
		n = is_link ? llistxattr(path, buf, size) : listxattr(path, buf, size);
		break;
	case XATTR_SET:
		n = is_link ? lsetxattr(path, name, buf, size, flags) :
			      setxattr(path, name, buf, size, flags);
		break;
	case XATTR_REMOVE:
		n = is_link ? lremovexattr(path, name) : removexattr(path, name);
		break;
	}
	return n < 0 ? -errno : n;
}

/* Drop trusted.* names from a list of n bytes; returns the new length. */
static size_t drop_trusted(char *list, size_t n)
{
	size_t r = 0, w = 0;

	while (r < n) {
		size_t len = strnlen(list + r, n - r) + 1;

		if (strncmp(list + r, "trusted.", 8) != 0) {
			memmove(list + w, list + r, len);
			w += len;
		}
		r += len;
	}
	return w;
}

ssize_t sfs_filter_trusted(char *list, ssize_t len, char *buf, size_t size)
{
	if (len > 0)
		len = (ssize_t)drop_trusted(list, (size_t)len);
	if (len > 0 && size) {
		if ((size_t)len > size)
			return -ERANGE;
		memcpy(buf, list, (size_t)len);
	}
	return len;
}

/* listxattr for a caller that may not see trusted.*: ask for the whole list, then filter. */
static ssize_t list_filtered(struct sfs_inode *in, int fd, char *buf, size_t size)
{
	ssize_t n;
	char *all;

	for (;;) {
		n = xattr_call(in, fd, XATTR_LIST, NULL, NULL, 0, 0);
		if (n <= 0)
			return n;
		all = malloc(n);
		if (!all)
			return -ENOMEM;
		n = xattr_call(in, fd, XATTR_LIST, NULL, all, n, 0);
		if (n != -ERANGE)
			break;
		free(all); /* grew meanwhile: again */
	}
	n = sfs_filter_trusted(all, n, buf, size);
	free(all);
	return n;
}

/* getxattr and listxattr: name NULL means list; size 0 asks for the length. */
static void query_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	char *buf = NULL;
	ssize_t n;
	int fd;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = inode_fd_get(&sfs.itab, in);
	if (fd < 0) {
		n = fd;
	} else {
		if (name)
			n = xattr_call(in, fd, XATTR_GET, name, buf, size, 0);
		else if (fuse_req_ctx(req)->uid != 0)
			n = list_filtered(in, fd, buf, size);
		else
			n = xattr_call(in, fd, XATTR_LIST, NULL, buf, size, 0);
		inode_fd_put(&sfs.itab, in);
	}
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

static void sfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	if (sfs_snap_node(ino)) {
		sfs_snap_getxattr(req, ino, name, size);
		return;
	}
	query_xattr(req, ino, name, size);
}

static void sfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	if (sfs_snap_node(ino)) {
		sfs_snap_listxattr(req, ino, size);
		return;
	}
	query_xattr(req, ino, NULL, size);
}

/* setxattr and removexattr. */
static void change_xattr(fuse_req_t req, fuse_ino_t ino, enum xattr_op op, const char *name,
			 const char *value, size_t size, int flags)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	ssize_t n;
	int fd;

	if (sfs_snap_refused(req, ino, NULL, 0))
		return;
	fd = inode_fd_get(&sfs.itab, in);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	engine_gate_enter(sfs.eng);
	n = engine_before_attr(sfs.eng, fd);
	if (n == 0)
		n = xattr_call(in, fd, op, name, (void *)value, size, flags);
	engine_gate_leave(sfs.eng);
	inode_fd_put(&sfs.itab, in);
	fuse_reply_err(req, n < 0 ? (int)-n : 0);
}

static void sfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	change_xattr(req, ino, XATTR_SET, name, value, size, flags);
}

static void sfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	change_xattr(req, ino, XATTR_REMOVE, name, NULL, 0, 0);
}

void sfs_xattr_ops(struct fuse_lowlevel_ops *ops)
{
	ops->getxattr = sfs_getxattr;
	ops->listxattr = sfs_listxattr;
	ops->setxattr = sfs_setxattr;
	ops->removexattr = sfs_removexattr;
}
