/*
 * The client side of a volume's control socket SRC/.snapfs/control (fusefs/control.c
 * documents the protocol): find the volume behind a mount point, send one request line, read
 * the reply. Used by the snapfs command; no FUSE here.
 *
 * Thread-safety: none needed (one request at a time, from one thread).
 */
#ifndef SNAPFS_CONTROL_CLIENT_H
#define SNAPFS_CONTROL_CLIENT_H

#include <limits.h>
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
void control_reply_release(struct control_reply *r);

#endif
