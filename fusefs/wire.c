/*
 * wire.c: the two details of the FUSE protocol that libfuse 3.14 (Debian 12) does not expose,
 * handled on the wire through libfuse's custom I/O hooks (fuse_session_custom_io):
 *
 * 1. FUSE_HANDLE_KILLPRIV_V2. Without it the kernel asks the daemon for the
 *    "security.capability" xattr before every write(2), a round trip that costs three
 *    quarters of the speed of small buffered writes. With it the kernel marks inodes S_NOSEC
 *    and asks once; in exchange the daemon clears set-user-ID and set-group-ID itself when a
 *    write, or an open with O_TRUNC, comes from a process without CAP_FSETID (the kernel
 *    flags those requests). The INIT reply gets the flag when the kernel offers it.
 * 2. Those kill flags (FUSE_WRITE_KILL_SUIDGID, FUSE_OPEN_KILL_SUIDGID) are dropped by libfuse
 *    before the request reaches a handler, so the read hook carries them over into a bit of
 *    the request's open flags (SFS_O_KILL_PRIV), which libfuse does pass on (fi->flags).
 *
 * Truncation and chown need nothing here: the daemon truncates as the caller and chowns
 * through the backing filesystem, which clear the bits by their own rules. Requests are read
 * with read(2) (splice reading is not negotiated), so every request passes through the hook.
 */
#include "sfs.h"

#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static uint64_t init_unique;     /* unique id of the INIT request, 0 once answered */
static bool killpriv_offered;

/* Rewrite the request in buf (n bytes) as the handlers should see it. */
static void patch_request(void *buf, size_t n)
{
	struct fuse_in_header *h = buf;
	void *arg = h + 1;

	if (n < sizeof(*h))
		return;
	switch (h->opcode) {
	case FUSE_INIT:
		if (n >= sizeof(*h) + offsetof(struct fuse_init_in, flags) + sizeof(uint32_t)) {
			struct fuse_init_in *in = arg;

			init_unique = h->unique;
			killpriv_offered = in->flags & FUSE_HANDLE_KILLPRIV_V2;
		}
		break;
	case FUSE_WRITE:
		if (n >= sizeof(*h) + sizeof(struct fuse_write_in)) {
			struct fuse_write_in *in = arg;

			if (in->write_flags & FUSE_WRITE_KILL_SUIDGID)
				in->flags |= SFS_O_KILL_PRIV;
		}
		break;
	case FUSE_OPEN:
		if (n >= sizeof(*h) + sizeof(struct fuse_open_in)) {
			struct fuse_open_in *in = arg;

			if (in->open_flags & FUSE_OPEN_KILL_SUIDGID)
				in->flags |= SFS_O_KILL_PRIV;
		}
		break;
	case FUSE_CREATE:
		if (n >= sizeof(*h) + sizeof(struct fuse_create_in)) {
			struct fuse_create_in *in = arg;

			if (in->open_flags & FUSE_OPEN_KILL_SUIDGID)
				in->flags |= SFS_O_KILL_PRIV;
		}
		break;
	}
}

static ssize_t wire_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	if (n > 0)
		patch_request(buf, (size_t)n);
	return n;
}

static ssize_t wire_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	if (init_unique && count >= 2 && iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
		struct fuse_out_header *h = iov[0].iov_base;

		if (h->unique == init_unique) {
			struct fuse_init_out *out = iov[1].iov_base;

			if (h->error == 0 && killpriv_offered) {
				out->flags |= FUSE_HANDLE_KILLPRIV_V2;
				sfs.killpriv = true;
			}
			init_unique = 0;
		}
	}
	return writev(fd, iov, count);
}

int sfs_wire_attach(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = wire_read,
		.writev = wire_writev,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
