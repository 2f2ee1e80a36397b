/*
 * struct snap_io: every pread, pwrite, fdatasync and fallocate of the core goes through one, so
 * that tests can make the Nth call fail (-EIO, -ENOSPC) and check that nothing stored is lost.
 * Each call returns the byte count (or 0) on success and a negative errno on failure; a short
 * read or write is completed by the io layer itself.
 */
#ifndef SNAPFS_IO_H
#define SNAPFS_IO_H

#include <stddef.h>
#include <sys/types.h>

struct snap_io {
	ssize_t (*pread)(const struct snap_io *io, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(const struct snap_io *io, int fd, const void *buf, size_t len,
			  off_t off);
	int (*fdatasync)(const struct snap_io *io, int fd);
	int (*fallocate)(const struct snap_io *io, int fd, int mode, off_t off, off_t len);
};

/* The real system calls. */
extern const struct snap_io snap_io_default;

#endif
