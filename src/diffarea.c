/*
 * diffarea.c owns the diff area's data file: appending allocation, the size limit, and giving
 * space back by punching holes. All its I/O goes through a struct snap_io. It keeps no record
 * of its own; the catalog's rows say what is in use (see diffarea.h).
 */
#include "diffarea.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct diffarea {
	const struct snap_io *io;
	int fd;
	uint64_t next;      /* offset of the next extent */
	uint64_t used;      /* bytes in extents handed out and not released */
	uint64_t limit;     /* 0: unbounded */
};

static uint64_t align_up(uint64_t n)
{
	return (n + DIFFAREA_ALIGN - 1) / DIFFAREA_ALIGN * DIFFAREA_ALIGN;
}

int diffarea_open(int dirfd, const struct snap_io *io, uint64_t next, uint64_t used,
		  struct diffarea **ret_da, char *msg, size_t msglen)
{
	struct diffarea *da = calloc(1, sizeof(*da));
	int r;

	if (!da)
		return -ENOMEM;
	da->io = io ? io : &snap_io_default;
	da->fd = openat(dirfd, DIFFAREA_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (da->fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open diff area file '%s': %s", DIFFAREA_FILE,
			 strerror(-r));
		free(da);
		return r;
	}
	/* the file's directory entry is durable before any row points into it */
	if (fsync(dirfd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot sync the diff area's directory: %s", strerror(-r));
		(void)close(da->fd);
		free(da);
		return r;
	}
	da->next = align_up(next);
	da->used = align_up(used);
	*ret_da = da;
	return 0;
}

void diffarea_close(struct diffarea *da)
{
	if (!da)
		return;
	(void)close(da->fd);
	free(da);
}

void diffarea_set_limit(struct diffarea *da, uint64_t maxsize)
{
	da->limit = maxsize;
}

uint64_t diffarea_limit(const struct diffarea *da)
{
	return da->limit;
}

int diffarea_preallocate(struct diffarea *da, uint64_t bytes)
{
	return bytes ? da->io->fallocate(da->io, da->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) : 0;
}

uint64_t diffarea_used(const struct diffarea *da)
{
	return da->used;
}

int diffarea_reserve(struct diffarea *da, uint32_t len, uint64_t *ret_off)
{
	uint64_t size = align_up(len);

	if (len == 0)
		return -EINVAL;
	if (da->limit && da->used + size > da->limit)
		return -ENOSPC;
	*ret_off = da->next;
	da->next += size;
	da->used += size;
	return 0;
}

int diffarea_write(struct diffarea *da, uint64_t off, const void *buf, size_t len)
{
	ssize_t n = da->io->pwrite(da->io, da->fd, buf, len, (off_t)off);

	return n < 0 ? (int)n : 0;
}

ssize_t diffarea_read(struct diffarea *da, uint64_t off, void *buf, size_t len)
{
	return da->io->pread(da->io, da->fd, buf, len, (off_t)off);
}

int diffarea_sync(struct diffarea *da)
{
	return da->io->fdatasync(da->io, da->fd);
}

int diffarea_release(struct diffarea *da, uint64_t off, uint32_t len)
{
	uint64_t size = align_up(len);
	int r = da->io->fallocate(da->io, da->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)off, (off_t)size);

	/* the extent is free for the accounting even if the filesystem cannot punch holes */
	da->used = size > da->used ? 0 : da->used - size;
	return r == -EOPNOTSUPP ? 0 : r;
}
