/*
 * Changes of the live tree as system calls on a directory, and the reader of a directory tree.
 * With an engine (the engine backend), each change runs the way the daemon runs it: the gate
 * entered, the engine's hook, the system call, the gate left; unlink, rmdir and rename are the
 * engine's own calls. Without one (the mount backend), they are the plain system calls on the
 * mount.
 */
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine.h"

#define SYS(call) ((call) < 0 ? -errno : 0)

static void full_path(const char *root, const char *path, char *out, size_t size)
{
	if (strcmp(path, ".") == 0)
		snprintf(out, size, "%s", root);
	else
		snprintf(out, size, "%s/%s", root, path);
}

/* An O_PATH descriptor on the directory of path, and its last name in name. */
static int open_parent(struct backend *b, const char *path, char *name, size_t size)
{
	const char *slash = strrchr(path, '/');
	char dir[MODEL_PATH_MAX];
	int fd;

	if (!slash) {
		snprintf(name, size, "%s", path);
		fd = openat(b->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		snprintf(name, size, "%s", slash + 1);
		fd = openat(b->root_fd, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* engine_write until all is written: the hook and the write in one, as the daemon does. */
static int engine_write_all(struct engine *e, int fd, const unsigned char *p, size_t len,
			    uint64_t off)
{
	while (len) {
		ssize_t n = engine_write(e, fd, p, len, off);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void gate_enter(struct backend *b)
{
	if (b->e)
		engine_gate_enter(b->e);
}

static void gate_leave(struct backend *b)
{
	if (b->e)
		engine_gate_leave(b->e);
}

/* Write (or punch when punch is set) through fd, the hook first. */
static int write_fd(struct backend *b, int fd, uint64_t off, uint64_t len, uint64_t dseed,
		    bool punch)
{
	unsigned char *buf = NULL;
	int r = 0;

	if (!punch) {
		buf = malloc(len ? len : 1);
		if (!buf)
			return -ENOMEM;
		fill_bytes(dseed, buf, len);
	}
	gate_enter(b);
	if (b->e && punch)
		r = engine_before_write(b->e, fd, off, len);
	if (r >= 0 && punch)
		r = SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				  (off_t)len));
	else if (b->e)
		r = engine_write_all(b->e, fd, buf, len, off);
	else
		r = pwrite_all(fd, buf, len, off);
	gate_leave(b);
	free(buf);
	return r;
}

static int truncate_fd(struct backend *b, int fd, uint64_t size)
{
	int r = 0;

	gate_enter(b);
	if (b->e)
		r = engine_before_truncate(b->e, fd, size);
	if (r >= 0)
		r = SYS(ftruncate(fd, (off_t)size));
	gate_leave(b);
	return r;
}

/* The data operations on a file opened by path. */
static int apply_data(struct backend *b, const struct op *op)
{
	int fd = openat(b->root_fd, op->path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	if (op->kind == OP_WRITE)
		r = write_fd(b, fd, op->n[0], op->n[1], op->n[2], false);
	else if (op->kind == OP_PUNCH)
		r = write_fd(b, fd, op->n[0], op->n[1], 0, true);
	else
		r = truncate_fd(b, fd, op->n[0]);
	(void)close(fd);
	return r;
}

/*
 * create, mkdir, mknod, symlink and link, as the daemon runs them: the create hook on the new
 * name (and for link the attr hook on the object, whose link count changes), the call, and
 * engine_after_create for a new object.
 */
static int apply_create(struct backend *b, const struct op *op)
{
	char name[MODEL_NAME_MAX * 2];
	const char *newpath = op->kind == OP_LINK ? op->path2 : op->path;
	int dfd = open_parent(b, newpath, name, sizeof(name));
	int r = 0, fd, sfd = -1;

	if (dfd < 0)
		return dfd;
	if (op->kind == OP_LINK) {
		sfd = openat(b->root_fd, op->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0) {
			r = -errno;
			(void)close(dfd);
			return r;
		}
	}
	gate_enter(b);
	if (b->e)
		r = engine_before_create(b->e, dfd, name);
	if (b->e && r >= 0 && sfd >= 0)
		r = engine_before_attr(b->e, sfd);
	if (r >= 0) {
		switch (op->kind) {
		case OP_CREATE:
			fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
				    (mode_t)op->n[0]);
			r = fd < 0 ? -errno : 0;
			if (fd >= 0)
				(void)close(fd);
			break;
		case OP_MKDIR:
			r = SYS(mkdirat(dfd, name, (mode_t)op->n[0]));
			break;
		case OP_MKNOD:
			r = SYS(mknodat(dfd, name, S_IFIFO | (mode_t)op->n[0], 0));
			break;
		case OP_SYMLINK:
			r = SYS(symlinkat(op->str, dfd, name));
			break;
		default:
			r = SYS(linkat(sfd, "", dfd, name, AT_EMPTY_PATH));
			break;
		}
		if (b->e && r >= 0 && op->kind != OP_LINK)
			engine_after_create(b->e, dfd, name);
	}
	gate_leave(b);
	if (sfd >= 0)
		(void)close(sfd);
	(void)close(dfd);
	return r;
}

static int apply_remove(struct backend *b, const struct op *op)
{
	char name[MODEL_NAME_MAX * 2];
	bool dir = op->kind == OP_RMDIR;
	int dfd = open_parent(b, op->path, name, sizeof(name));
	int r;

	if (dfd < 0)
		return dfd;
	gate_enter(b);
	if (b->e)
		r = engine_unlink(b->e, dfd, name, dir);
	else
		r = SYS(unlinkat(dfd, name, dir ? AT_REMOVEDIR : 0));
	gate_leave(b);
	(void)close(dfd);
	return r;
}

static int apply_rename(struct backend *b, const struct op *op)
{
	char oname[MODEL_NAME_MAX * 2], nname[MODEL_NAME_MAX * 2];
	unsigned flags = op->kind == OP_EXCHANGE ? RENAME_EXCHANGE : 0;
	int ofd, nfd, r;

	ofd = open_parent(b, op->path, oname, sizeof(oname));
	if (ofd < 0)
		return ofd;
	nfd = open_parent(b, op->path2, nname, sizeof(nname));
	if (nfd < 0) {
		(void)close(ofd);
		return nfd;
	}
	gate_enter(b);
	if (b->e)
		r = engine_rename(b->e, ofd, oname, nfd, nname, flags);
	else
		r = SYS(renameat2(ofd, oname, nfd, nname, flags));
	gate_leave(b);
	(void)close(nfd);
	(void)close(ofd);
	return r;
}

/* chmod, chown, utimens and the xattrs: the attr hook on the object, then the call. */
static int apply_attr(struct backend *b, const struct op *op)
{
	char full[8192];
	unsigned char val[MODEL_XATTR_VAL];
	struct timespec ts[2];
	int fd = openat(b->root_fd, op->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	full_path(b->root, op->path, full, sizeof(full));
	gate_enter(b);
	if (b->e)
		r = engine_before_attr(b->e, fd);
	if (r >= 0) {
		switch (op->kind) {
		case OP_CHMOD:
			r = SYS(fchmodat(b->root_fd, op->path, (mode_t)op->n[0], 0));
			break;
		case OP_CHOWN:
			r = SYS(fchownat(b->root_fd, op->path, (uid_t)op->n[0], (gid_t)op->n[1],
					 AT_SYMLINK_NOFOLLOW));
			break;
		case OP_UTIMENS:
			ts[0].tv_sec = (time_t)op->n[0];
			ts[0].tv_nsec = (long)op->n[1];
			ts[1].tv_sec = (time_t)op->n[2];
			ts[1].tv_nsec = (long)op->n[3];
			r = SYS(utimensat(b->root_fd, op->path, ts, AT_SYMLINK_NOFOLLOW));
			break;
		case OP_SETXATTR:
			fill_bytes(op->n[1], val, op->n[0]);
			r = SYS(lsetxattr(full, op->str, val, op->n[0], 0));
			break;
		default:
			r = SYS(lremovexattr(full, op->str));
			break;
		}
	}
	gate_leave(b);
	(void)close(fd);
	return r;
}

int backend_apply(struct backend *b, struct hold *holds, const struct op *op)
{
	struct hold *h = op->n[0] < MODEL_HOLDS ? &holds[op->n[0]] : NULL;

	switch (op->kind) {
	case OP_WRITE:
	case OP_TRUNCATE:
	case OP_PUNCH:
		return apply_data(b, op);
	case OP_CREATE:
	case OP_MKDIR:
	case OP_MKNOD:
	case OP_SYMLINK:
	case OP_LINK:
		return apply_create(b, op);
	case OP_UNLINK:
	case OP_RMDIR:
		return apply_remove(b, op);
	case OP_RENAME:
	case OP_EXCHANGE:
		return apply_rename(b, op);
	case OP_CHMOD:
	case OP_CHOWN:
	case OP_UTIMENS:
	case OP_SETXATTR:
	case OP_RMXATTR:
		return apply_attr(b, op);
	case OP_OPEN:
		h->fd = openat(b->root_fd, op->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		return h->fd < 0 ? -errno : 0;
	case OP_HWRITE:
		return write_fd(b, h->fd, op->n[1], op->n[2], op->n[3], false);
	case OP_HTRUNC:
		return truncate_fd(b, h->fd, op->n[1]);
	case OP_CLOSE:
		if (close(h->fd) < 0)
			return -errno;
		h->fd = -1;
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- the reader of a directory tree ---------------------------------------------------------- */

struct path_reader {
	struct reader r;
	struct engine *e;       /* live reads through the engine (path_reader_through) */
	int fd;
	char base[4096];
};

static int pr_getattr(struct reader *r, const char *path, struct stat *st)
{
	struct path_reader *p = (struct path_reader *)r;

	return SYS(fstatat(p->fd, path, st, AT_SYMLINK_NOFOLLOW));
}

static int pr_list(struct reader *r, const char *path,
		   int (*fn)(const char *name, mode_t type, void *ctx), void *ctx)
{
	struct path_reader *p = (struct path_reader *)r;
	int fd = openat(p->fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		(void)close(fd);
		return ret;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			ret = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		ret = fn(de->d_name, de->d_type == DT_UNKNOWN ? 0 : DTTOIF(de->d_type), ctx);
		if (ret)
			break;
	}
	(void)closedir(d);
	return ret;
}

static ssize_t pr_read_all(struct reader *r, const char *path, void *buf, size_t cap)
{
	struct path_reader *p = (struct path_reader *)r;
	int fd = openat(p->fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t total = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	while (total < cap) {
		ssize_t got;
		int through = p->e ? engine_live_read(p->e, fd, (char *)buf + total, cap - total,
						      total, &got) : 0;

		if (through < 0) {
			n = through;
			break;
		}
		n = through ? got : pread(fd, (char *)buf + total, cap - total, (off_t)total);
		if (n < 0)
			n = -errno;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	(void)close(fd);
	return n < 0 ? n : (ssize_t)total;
}

static ssize_t pr_readlink(struct reader *r, const char *path, char *buf, size_t size)
{
	struct path_reader *p = (struct path_reader *)r;
	ssize_t n = readlinkat(p->fd, path, buf, size);

	return n < 0 ? -errno : n;
}

static ssize_t pr_listxattr(struct reader *r, const char *path, char *buf, size_t size)
{
	struct path_reader *p = (struct path_reader *)r;
	char full[8192];
	ssize_t n;

	full_path(p->base, path, full, sizeof(full));
	n = llistxattr(full, buf, size);
	return n < 0 ? -errno : n;
}

static ssize_t pr_getxattr(struct reader *r, const char *path, const char *name, void *buf,
			   size_t size)
{
	struct path_reader *p = (struct path_reader *)r;
	char full[8192];
	ssize_t n;

	full_path(p->base, path, full, sizeof(full));
	n = lgetxattr(full, name, buf, size);
	return n < 0 ? -errno : n;
}

static void pr_free(struct reader *r)
{
	struct path_reader *p = (struct path_reader *)r;

	if (!p)
		return;
	(void)close(p->fd);
	free(p);
}

static const struct reader_ops path_reader_ops = {
	.getattr = pr_getattr,
	.list = pr_list,
	.read_all = pr_read_all,
	.readlink = pr_readlink,
	.listxattr = pr_listxattr,
	.getxattr = pr_getxattr,
	.free = pr_free,
};

void path_reader_through(struct reader *r, struct engine *e)
{
	((struct path_reader *)r)->e = e;
}

int path_reader_new(const char *path, const char *hide, struct reader **ret)
{
	struct path_reader *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p->fd < 0) {
		int r = -errno;

		free(p);
		return r;
	}
	snprintf(p->base, sizeof(p->base), "%s", path);
	p->r.ops = &path_reader_ops;
	p->r.hide = hide;
	*ret = &p->r;
	return 0;
}
