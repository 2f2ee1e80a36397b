/*
 * The client side of a volume's control socket SRC/.snapfs/control (fusefs/control.c
 * documents the protocol): find the volume behind a mount point, send one request line, read
 * the reply. Used by the snapfs command and the coordinator; no FUSE here.
 *
 * Thread-safety: none needed (one request at a time, from one thread).
 */
#ifndef SNAPFS_CONTROL_CLIENT_H
#define SNAPFS_CONTROL_CLIENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "snapfs/snapfs.h"

#define SNAPFS_FSTYPE "fuse.snapfs"

/* A mounted snapfs volume. */
struct control_volume {
	char mnt[PATH_MAX];     /* its mount point, canonical */
	char src[PATH_MAX];     /* the directory it serves */
};

/*
 * The volume mounted at the path mnt (any spelling of it). Returns 0 and fills ret, -ENOTCONN
 * when mnt is not the mount point of a snapfs volume (nor one that this volume's daemon
 * recorded in its lock file), or the error of resolving mnt (-ENOENT, ...).
 */
int control_volume_find(const char *mnt, struct control_volume *ret);

/*
 * Every snapfs volume in /proc/self/mountinfo, in mount order. Returns the count and an array
 * in *ret that the caller frees (NULL when there is none), or a negative errno.
 */
int control_volume_list(struct control_volume **ret);

/*
 * Flush the kernel's dirty pages of v's mount (syncfs), so that its daemon has them before a
 * snapshot. Returns 0, or the negative errno of opening the mount. syncfs() also reports a
 * write-back that failed meanwhile, of any file (a page of a file deleted under it, say: the
 * daemon answers ESTALE). That error is the writing application's, which its own fsync()
 * reports, and does not make a snapshot wrong: it goes to *wb_err (0 when none) for the caller
 * to mention, not to fail on.
 */
int control_volume_flush(const struct control_volume *v, int *wb_err);

/* A reply: its data lines, then the final 'ok' or 'err' line, taken apart. */
struct control_reply {
	char **lines;    /* data lines without their '\n', heap */
	size_t n;
	int err;         /* 0 for 'ok', else the positive errno of 'err' */
	char *rest;      /* what follows 'ok ' or 'err ERRNO ' (possibly ""), heap */
};

/*
 * Send the request line (without '\n') to the daemon of v and read its whole reply into ret,
 * which the caller releases with control_reply_release() (also after a failure). Returns 0
 * when a reply came (ok or err: see ret->err), or a negative errno when the daemon could not
 * be reached or answered something that is not a reply (-EBADMSG).
 */
int control_request(const struct control_volume *v, const char *line,
		    struct control_reply *ret);
/* The same, given up after ms milliseconds of waiting to connect, send or read (-ETIMEDOUT). */
int control_request_within(const struct control_volume *v, const char *line, unsigned ms,
			   struct control_reply *ret);
void control_reply_release(struct control_reply *r);

/*
 * Hold the writes of v for a snapshot of the set set_id ('prepare', fusefs/control.c): waits
 * at most wait_ms for the daemon to close its gate, and returns the connection, on which
 * control_hold_end() must follow within ms milliseconds, or the daemon gives up by itself.
 * Returns a negative errno on failure; a refusal by the daemon also fills ret.
 */
int control_hold(const struct control_volume *v, const char *set_id, unsigned ms,
		 unsigned wait_ms, struct control_reply *ret);

/*
 * End a hold with line: "commit" (the reply is create's: 'ok ID SET_ID BROWSE'), "commit
 * writable" (the same, with the writable tree's path after BROWSE where the provider offers
 * auto-recovery) or "abort". Closes fd.
 */
int control_hold_end(int fd, const char *line, struct control_reply *ret);

#endif
