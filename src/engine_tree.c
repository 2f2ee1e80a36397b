/*
 * engine_tree.c: reading a snapshot kept as a whole directory tree (a finished complete copy,
 * a btrfs snapshot subvolume). The tree is the snapshot: nodes are file handles on the
 * trees' filesystem, opened with open_by_handle_at() on the trees directory.
 *
 * What the views show matches the journal's: the state directory is hidden at the root,
 * FilesNotToSnapshot names are hidden everywhere, inode numbers carry the snapshot's epoch,
 * and symlinks show no xattrs.
 */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "snapfs/snapfs.h"

struct handle_buf {
	struct file_handle fh;
	unsigned char bytes[ENGINE_HANDLE_MAX];
};

static int tree_open(struct engine *e, const struct engine_node *n, int flags)
{
	struct handle_buf h;
	int fd;

	h.fh.handle_bytes = n->handle_bytes;
	h.fh.handle_type = n->handle_type;
	memcpy(h.fh.f_handle, n->handle, n->handle_bytes);
	fd = open_by_handle_at(e->trees_fd, &h.fh, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The node of name in dirfd ("" for dirfd itself). */
static int node_at(int dirfd, const char *name, uint64_t epoch, unsigned flags,
		   struct engine_node *ret)
{
	struct handle_buf h;
	int mnt;

	h.fh.handle_bytes = ENGINE_HANDLE_MAX;
	if (name_to_handle_at(dirfd, name, &h.fh, &mnt,
			      name[0] ? 0 : AT_EMPTY_PATH) < 0)
		return errno == EOVERFLOW ? -EOPNOTSUPP : -errno;
	memset(ret, 0, sizeof(*ret));
	ret->epoch = epoch;
	ret->flags = flags;
	ret->handle_type = h.fh.handle_type;
	ret->handle_bytes = h.fh.handle_bytes;
	memcpy(ret->handle, h.fh.f_handle, h.fh.handle_bytes);
	return 0;
}

/* Whether the view hides name in dir. */
static bool hidden(struct engine *e, const struct engine_node *dir, const char *name)
{
	return nosnap_match(e, name) ||
	       ((dir->flags & ENGINE_NODE_ROOT) && strcmp(name, SNAP_STATE_DIR) == 0);
}

int tree_root(struct engine *e, const struct catalog_snapshot *s, struct engine_node *ret)
{
	int r = node_at(e->trees_fd, s->id, s->epoch, ENGINE_NODE_TREE | ENGINE_NODE_ROOT, ret);

	ret->type = S_IFDIR;
	return r;
}

int tree_getattr(struct engine *e, const struct engine_node *n, struct stat *st)
{
	int fd = tree_open(e, n, O_PATH | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return fd;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	else
		st->st_ino = snap_ino(n->epoch, st->st_ino);
	(void)close(fd);
	return r;
}

int tree_lookup(struct engine *e, const struct engine_node *dir, const char *name,
		struct engine_node *ret, struct stat *st)
{
	int fd, r;

	if (hidden(e, dir, name))
		return -ENOENT;
	fd = tree_open(e, dir, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return fd;
	r = fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (r == 0)
		r = node_at(fd, name, dir->epoch, ENGINE_NODE_TREE, ret);
	if (r == 0) {
		ret->type = st->st_mode & S_IFMT;
		st->st_ino = snap_ino(dir->epoch, st->st_ino);
	}
	(void)close(fd);
	return r;
}

int tree_readdir(struct engine *e, const struct engine_node *dir,
		 int (*fn)(const char *name, ino_t ino, mode_t type, void *ctx), void *ctx)
{
	int fd = tree_open(e, dir, O_RDONLY | O_DIRECTORY), r = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	while (r == 0 && (de = readdir(d))) {
		mode_t type = DTTOIF(de->d_type);
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    hidden(e, dir, de->d_name))
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = st.st_mode & S_IFMT;
		}
		r = fn(de->d_name, snap_ino(dir->epoch, de->d_ino), type, ctx);
	}
	closedir(d);
	return r;
}

ssize_t tree_read(struct engine *e, const struct engine_node *n, void *buf, size_t len,
		  uint64_t off)
{
	int fd = tree_open(e, n, O_RDONLY);
	ssize_t got;

	if (fd < 0)
		return fd;
	got = pread(fd, buf, len, (off_t)off);
	if (got < 0)
		got = -errno;
	(void)close(fd);
	return got;
}

ssize_t tree_readlink(struct engine *e, const struct engine_node *n, char *buf, size_t size)
{
	int fd = tree_open(e, n, O_PATH | O_NOFOLLOW);
	ssize_t got;

	if (fd < 0)
		return fd;
	got = readlinkat(fd, "", buf, size - 1);
	if (got < 0)
		got = -errno;
	else
		buf[got] = '\0';
	(void)close(fd);
	return got;
}

/* The node's xattr call through /proc/self/fd; symlinks have none in snapshots. */
static ssize_t xattr_call(struct engine *e, const struct engine_node *n, const char *name,
			  void *buf, size_t size)
{
	char path[64];
	ssize_t got;
	int fd;

	if (n->type == S_IFLNK)
		return name ? -ENODATA : 0;
	fd = tree_open(e, n, O_PATH);
	if (fd < 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	got = name ? getxattr(path, name, buf, size) : listxattr(path, buf, size);
	if (got < 0)
		got = -errno;
	(void)close(fd);
	return got;
}

ssize_t tree_listxattr(struct engine *e, const struct engine_node *n, char *buf, size_t size)
{
	return xattr_call(e, n, NULL, buf, size);
}

ssize_t tree_getxattr(struct engine *e, const struct engine_node *n, const char *name,
		      void *buf, size_t size)
{
	return xattr_call(e, n, name, buf, size);
}
