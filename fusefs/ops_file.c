/*
 * ops_file.c: open files of the live view (create, open, read, write, flush, fsync, release,
 * fallocate, copy_file_range, lseek). fi->fh is a real descriptor on the backing file, so an
 * open file keeps working after its last name is gone.
 *
 * Open flags: with the writeback cache the kernel reads pages of files opened write-only and
 * handles O_APPEND itself, so the backing file is opened read-write and without O_APPEND.
 * O_DIRECT is dropped on the backing file: the kernel already bypasses its own page cache for
 * such a file, and our buffers carry no alignment guarantee (the backing filesystem would
 * refuse them with EINVAL). File locks are left to the kernel, which keeps them per mount.
 *
 * Writes run as root, so the backing filesystem never clears set-user-ID and set-group-ID bits
 * on a write: the daemon does, for the writes and O_TRUNC opens the kernel flags (wire.c).
 */
#include "sfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static int backing_flags(int flags)
{
	/* O_NOFOLLOW: the kernel resolved the path already; /proc/self/fd/N is a link itself */
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT | O_NOFOLLOW | SFS_O_KILL_PRIV);
	if (sfs.writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags | O_CLOEXEC;
}

/*
 * The engine's hooks before create opens (pfd, name): the entry is journaled, and an existing
 * file that O_TRUNC empties is preserved. Says whether the name existed.
 */
static int before_create(int pfd, const char *name, int flags, bool *existed)
{
	int tfd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), r;

	*existed = tfd >= 0;
	r = engine_before_create(sfs.eng, pfd, name);
	if (r == 0 && tfd >= 0 && (flags & O_TRUNC))
		r = engine_before_truncate(sfs.eng, tfd, 0);
	if (tfd >= 0)
		(void)close(tfd);
	return r;
}

static void sfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct sfs_inode *p = inode_get(&sfs.itab, parent);
	struct fuse_entry_param e;
	struct sfs_creds c;
	bool existed;
	int pfd, fd = -1, r;

	if (sfs_snap_refused(req, parent, name, EEXIST))
		return;
	if (sfs_is_reserved(parent, name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	pfd = sfs_pin_or_reply(req, p);
	if (pfd < 0)
		return;
	engine_gate_enter(sfs.eng);
	r = before_create(pfd, name, fi->flags, &existed);
	if (r == 0)
		r = creds_enter(req, &c, CREDS_UMASK);
	if (r == 0) {
		fd = openat(pfd, name, backing_flags(fi->flags) | O_CREAT | (fi->flags & O_EXCL),
			    mode);
		r = fd < 0 ? -errno : 0;
		creds_leave(&c);
	}
	if (r == 0 && !existed)
		engine_after_create(sfs.eng, pfd, name);
	/* an existing file's attributes were saved by before_create */
	if (r == 0 && (fi->flags & SFS_O_KILL_PRIV))
		r = sfs_kill_setid(req, fd);
	engine_gate_leave(sfs.eng);
	if (r == 0)
		r = sfs_do_lookup(pfd, name, &e);
	inode_fd_put(&sfs.itab, p);
	if (r < 0) {
		if (fd >= 0)
			(void)close(fd);
		fuse_reply_err(req, -r);
		return;
	}
	inode_open_inc(&sfs.itab, inode_get(&sfs.itab, e.ino), fd);
	fi->fh = fd;
	fi->keep_cache = 1; /* SRC changes only through us */
	if (fuse_reply_create(req, &e, fi) != 0) {
		/* the request was interrupted: the kernel will neither release nor forget it */
		inode_open_dec(&sfs.itab, inode_get(&sfs.itab, e.ino));
		inode_forget(&sfs.itab, inode_get(&sfs.itab, e.ino), 1);
		(void)close(fd);
	}
}

static void sfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs_inode *in = inode_get(&sfs.itab, ino);
	struct sfs_procpath pp;
	int pfd, fd, r;

	if (sfs_snap_node(ino)) {
		sfs_snap_open(req, ino, fi);
		return;
	}
	pfd = sfs_pin_or_reply(req, in);
	if (pfd < 0)
		return;
	engine_gate_enter(sfs.eng);
	if ((fi->flags & O_TRUNC) && S_ISREG(in->type))
		r = engine_before_truncate(sfs.eng, pfd, 0);
	else if (fi->flags & SFS_O_KILL_PRIV)
		r = engine_before_attr(sfs.eng, pfd);
	else
		r = 0;
	fd = r < 0 ? -1 : open(sfs_procpath(&pp, pfd), backing_flags(fi->flags));
	if (r == 0)
		r = fd < 0 ? -errno : 0;
	if (r == 0 && (fi->flags & SFS_O_KILL_PRIV)) {
		r = sfs_kill_setid(req, fd);
		if (r < 0)
			(void)close(fd);
	}
	engine_gate_leave(sfs.eng);
	if (r < 0) {
		inode_fd_put(&sfs.itab, in);
		fuse_reply_err(req, -r);
		return;
	}
	inode_open_inc(&sfs.itab, in, fd);
	inode_fd_put(&sfs.itab, in);
	fi->fh = fd;
	fi->keep_cache = 1; /* SRC changes only through us */
	if (fuse_reply_open(req, fi) != 0) {
		inode_open_dec(&sfs.itab, in);
		(void)close(fd);
	}
}

static void sfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (sfs_snap_node(ino)) {
		sfs_snap_release(req, ino, fi);
		return;
	}
	(void)close(fi->fh);
	inode_open_dec(&sfs.itab, inode_get(&sfs.itab, ino));
	fuse_reply_err(req, 0);
}

static void sfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd;

	if (sfs_snap_node(ino)) {
		sfs_snap_flush(req, ino, fi);
		return;
	}
	/* closing a duplicate reports deferred write errors of network filesystems */
	fd = dup(fi->fh);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_err(req, close(fd) < 0 ? errno : 0);
}

static void sfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int r;

	if (sfs_snap_node(ino)) {
		sfs_snap_fsync(req, ino, datasync, fi);
		return;
	}
	r = engine_fsync(sfs.eng, fi->fh, datasync);
	fuse_reply_err(req, -r);
}

/*
 * Redirect-on-write: when some of the file's live bytes are in the diff area, the engine reads
 * them; returns false when the file has none (read it from SRC).
 */
static bool read_redirected(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	ssize_t got = 0;
	int r = buf ? engine_live_read(sfs.eng, fi->fh, buf, size, (uint64_t)off, &got) : -ENOMEM;

	if (r < 0)
		fuse_reply_err(req, -r);
	else if (r == 1)
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
	return r != 0;
}

/* The write of write_buf on a redirect-on-write volume: the engine places the bytes. */
static ssize_t write_redirected(int fd, struct fuse_bufvec *in_buf, off_t off)
{
	size_t size = fuse_buf_size(in_buf);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	ssize_t n;

	mem.buf[0].mem = malloc(size ? size : 1);
	if (!mem.buf[0].mem)
		return -ENOMEM;
	n = fuse_buf_copy(&mem, in_buf, 0);
	if (n >= 0)
		n = engine_write(sfs.eng, fd, mem.buf[0].mem, (size_t)n, (uint64_t)off);
	free(mem.buf[0].mem);
	return n;
}

static void sfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	if (sfs_snap_node(ino)) {
		sfs_snap_read(req, ino, size, off, fi);
		return;
	}
	if (sfs.redirect && read_redirected(req, size, off, fi))
		return;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void sfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
			  struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
	ssize_t n;

	if (sfs_snap_refused(req, ino, NULL, 0))
		return;
	engine_gate_enter(sfs.eng);
	n = sfs.redirect ? 0 : engine_before_write(sfs.eng, fi->fh, (uint64_t)off,
						   out.buf[0].size);
	if (n == 0 && (fi->flags & SFS_O_KILL_PRIV))
		n = sfs_kill_setid(req, fi->fh);
	if (n == 0 && sfs.redirect) {
		n = write_redirected(fi->fh, in_buf, off);
	} else if (n == 0) {
		out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		out.buf[0].fd = fi->fh;
		out.buf[0].pos = off;
		n = fuse_buf_copy(&out, in_buf, 0);
	}
	engine_gate_leave(sfs.eng);
	if (n < 0)
		fuse_reply_err(req, -n);
	else
		fuse_reply_write(req, (size_t)n);
}

/*
 * What fallocate destroys: a punched or zeroed range loses its bytes; collapsing or inserting
 * a range moves every byte after it; plain allocation changes no byte, only the size and
 * blocks (attributes).
 */
static int before_fallocate(int fd, int mode, off_t offset, off_t length)
{
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return engine_before_write(sfs.eng, fd, (uint64_t)offset, (uint64_t)length);
	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))
		return engine_before_write(sfs.eng, fd, (uint64_t)offset, UINT64_MAX - (uint64_t)offset);
	return engine_before_attr(sfs.eng, fd);
}

static void sfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			  struct fuse_file_info *fi)
{
	int r;

	if (sfs_snap_refused(req, ino, NULL, 0))
		return;
	engine_gate_enter(sfs.eng);
	r = before_fallocate(fi->fh, mode, offset, length);
	if (r == 0)
		r = fallocate(fi->fh, mode, offset, length) < 0 ? -errno : 0;
	engine_gate_leave(sfs.eng);
	fuse_reply_err(req, -r);
}

static void sfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
				struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
				struct fuse_file_info *fi_out, size_t len, int flags)
{
	ssize_t n;

	if (sfs_snap_node(ino_in) || sfs_snap_node(ino_out)) {
		sfs_snap_copy_file_range(req, ino_in, ino_out);
		return;
	}
	/* bytes of the source in the diff area: the kernel copies through read and write */
	if (engine_live_redirected(sfs.eng, fi_in->fh)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	engine_gate_enter(sfs.eng);
	n = engine_before_write(sfs.eng, fi_out->fh, (uint64_t)off_out, len);
	if (n == 0) {
		n = copy_file_range(fi_in->fh, &off_in, fi_out->fh, &off_out, len, flags);
		if (n < 0)
			n = -errno;
	}
	engine_gate_leave(sfs.eng);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void sfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	off_t r;

	if (sfs_snap_node(ino)) {
		sfs_snap_lseek(req, ino, off, whence, fi);
		return;
	}
	r = lseek(fi->fh, off, whence);
	/* SRC's holes are not the live file's where chunks live in the diff area: all is data */
	if (r >= 0 && (whence == SEEK_DATA || whence == SEEK_HOLE) &&
	    engine_live_redirected(sfs.eng, fi->fh)) {
		struct stat st;

		r = fstat(fi->fh, &st) < 0 ? -1 : whence == SEEK_DATA ? off : st.st_size;
	}
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

void sfs_file_ops(struct fuse_lowlevel_ops *ops)
{
	ops->create = sfs_create;
	ops->open = sfs_open;
	ops->release = sfs_release;
	ops->flush = sfs_flush;
	ops->fsync = sfs_fsync;
	ops->read = sfs_read;
	ops->write_buf = sfs_write_buf;
	ops->fallocate = sfs_fallocate;
	ops->copy_file_range = sfs_copy_file_range;
	ops->lseek = sfs_lseek;
}
