/* io.c: the default struct snap_io, over the system calls, completing short transfers. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static ssize_t sys_pread(const struct snap_io *io, int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* end of file */
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static ssize_t sys_pwrite(const struct snap_io *io, int fd, const void *buf, size_t len,
			  off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int sys_fdatasync(const struct snap_io *io, int fd)
{
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int sys_fallocate(const struct snap_io *io, int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len) < 0 ? -errno : 0;
}

const struct snap_io snap_io_default = {
	.pread = sys_pread,
	.pwrite = sys_pwrite,
	.fdatasync = sys_fdatasync,
	.fallocate = sys_fallocate,
};
