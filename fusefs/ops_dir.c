/*
 * ops_dir.c: directory streams of the live view (opendir, readdir, readdirplus, fsyncdir,
 * releasedir). A stream is a DIR* on the backing directory; FUSE offsets are telldir()
 * cookies. The state directory SRC/.snapfs is left out of the root's listing; the root lists
 * .snapshots (ops_snap.c) last, in place of a real SRC/.snapshots.
 */
#include "sfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sfs_dir {
	DIR *dp;
	struct dirent *entry;   /* read but not yet returned, or NULL */
	off_t offset;           /* position of entry, or of the next one to read */
	bool is_root;
	bool snapdir_listed;    /* the root's .snapshots entry went out in this pass */
};

static struct sfs_dir *dir_of(struct fuse_file_info *fi)
{
	return (struct sfs_dir *)(uintptr_t)fi->fh;
}

static void sfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	struct sfs_dir *d;
	int pfd, fd, r;

	if (sfs_snap_node(ino)) {
		sfs_snap_opendir(req, ino, fi);
		return;
	}
	pfd = sfs_pin_or_reply(req, in);
	if (pfd < 0)
		return;
	fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = fd < 0 ? errno : 0;
	inode_fd_put(&sfs.itab, in);
	if (fd < 0) {
		fuse_reply_err(req, r);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		(void)close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->dp = fdopendir(fd);
	if (!d->dp) {
		r = errno;
		(void)close(fd);
		goto out_free;
	}
	d->is_root = ino == FUSE_ROOT_ID;
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		(void)closedir(d->dp);
		free(d);
	}
	return;
out_free:
	free(d);
	fuse_reply_err(req, r);
}

static void read_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		     struct fuse_file_info *fi, bool plus)
{
	struct sfs_dir *d = dir_of(fi);
	char *buf = malloc(size), *p = buf;
	size_t rem = size;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
		d->snapdir_listed = false;
	}
	for (;;) {
		struct fuse_entry_param e;
		size_t len;
		off_t next;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno; /* 0 at the end of the stream */
				/* .snapshots comes last, at the offset of the end, once a pass */
				if (!err && d->is_root && !d->snapdir_listed) {
					len = sfs_snap_add_snapdir(req, p, rem, d->offset, plus);
					if (len <= rem) {
						p += len;
						rem -= len;
						d->snapdir_listed = true;
					}
				}
				break;
			}
		}
		next = d->entry->d_off;
		if (d->is_root && (sfs_is_reserved(FUSE_ROOT_ID, d->entry->d_name) ||
				   sfs_is_snapdir(FUSE_ROOT_ID, d->entry->d_name))) {
			d->entry = NULL;
			d->offset = next;
			continue;
		}
		if (plus) {
			const char *name = d->entry->d_name;
			bool dots = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;

			memset(&e, 0, sizeof(e));
			if (dots) {
				e.attr.st_ino = d->entry->d_ino;
				e.attr.st_mode = d->entry->d_type << 12;
			} else {
				int r = sfs_do_lookup(dirfd(d->dp), name, &e);

				if (r == -ENOENT) {
					/* removed since the stream read it */
					d->entry = NULL;
					d->offset = next;
					continue;
				}
				if (r < 0) {
					err = -r;
					break;
				}
			}
			len = fuse_add_direntry_plus(req, p, rem, name, &e, next);
			if (len > rem) {
				if (!dots)
					inode_forget(&sfs.itab, inode_get(&sfs.itab, e.ino), 1);
				break;
			}
		} else {
			struct stat st = {
				.st_ino = d->entry->d_ino,
				.st_mode = d->entry->d_type << 12,
			};

			len = fuse_add_direntry(req, p, rem, d->entry->d_name, &st, next);
			if (len > rem)
				break;
		}
		p += len;
		rem -= len;
		d->entry = NULL;
		d->offset = next;
	}
	/* an error after some entries: return those, the error comes on the next call */
	if (err && p == buf)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void sfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			struct fuse_file_info *fi)
{
	if (sfs_snap_node(ino)) {
		sfs_snap_readdir(req, ino, size, offset, fi);
		return;
	}
	read_dir(req, ino, size, offset, fi, false);
}

static void sfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			    struct fuse_file_info *fi)
{
	if (sfs_snap_node(ino)) {
		sfs_snap_readdirplus(req, ino, size, offset, fi);
		return;
	}
	read_dir(req, ino, size, offset, fi, true);
}

static void sfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs_dir *d = dir_of(fi);

	if (sfs_snap_node(ino)) {
		sfs_snap_releasedir(req, ino, fi);
		return;
	}
	(void)closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void sfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int fd, r;

	if (sfs_snap_node(ino)) {
		sfs_snap_fsync(req, ino, datasync, fi);
		return;
	}
	fd = dirfd(dir_of(fi)->dp);
	r = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

void sfs_dir_ops(struct fuse_lowlevel_ops *ops)
{
	ops->opendir = sfs_opendir;
	ops->readdir = sfs_readdir;
	ops->readdirplus = sfs_readdirplus;
	ops->releasedir = sfs_releasedir;
	ops->fsyncdir = sfs_fsyncdir;
}
