/*
 * A volume: the backing directory SRC that snapfs serves, and its state directory
 * SRC/.snapfs/ (catalog and diff area live there). Opening a volume takes an exclusive lock
 * on it, so one daemon at a time serves a given SRC.
 */
#ifndef SNAPFS_VOLUME_H
#define SNAPFS_VOLUME_H

#include <stdbool.h>
#include <stddef.h>

#include "snapfs/snapfs.h"

/* Name of the state directory inside SRC; hidden from the live view. */
#define VOLUME_STATE_DIR SNAP_STATE_DIR

struct volume {
	char *src;      /* absolute, canonical path of SRC */
	int src_fd;     /* O_RDONLY|O_DIRECTORY on SRC */
	int state_fd;   /* O_RDONLY|O_DIRECTORY on SRC/.snapfs */
	int lock_fd;    /* SRC/.snapfs/lock, flock()ed exclusively while open */
	bool created;   /* this open made SRC/.snapfs */
};

/*
 * Check that SRC and MNT can make a mount: both exist and are directories, neither lies inside
 * the other, and MNT is not already a mount point. Changes nothing. On failure returns a
 * negative errno and writes a one-line reason naming the path into msg.
 */
int volume_check_mount_paths(const char *src, const char *mnt, char *msg, size_t msglen);

/*
 * Open the volume at src: create SRC/.snapfs/ (mode 0700) if missing and lock it. Returns 0 and
 * a volume the caller frees with volume_close(), or a negative errno with a reason in msg:
 * -EBUSY when another daemon serves SRC, the mkdir/open error when the state directory cannot
 * be made. Nothing is created when SRC itself cannot be opened.
 */
int volume_open(const char *src, struct volume **ret_vol, char *msg, size_t msglen);

/* Write the daemon's pid and mount point into the lock file, for 'snapfs umount'. */
int volume_record_owner(struct volume *vol, const char *mnt);

/* Release the lock and free vol; accepts NULL. */
void volume_close(struct volume *vol);

/*
 * Like volume_close(), after a mount that failed: a state directory that this open created is
 * removed again, so SRC is left as it was. Accepts NULL.
 */
void volume_abandon(struct volume *vol);

/*
 * Wait up to timeout_ms for the daemon serving src to let go of its lock. Returns 0 once the
 * lock is free (or the volume has no state directory), -ETIMEDOUT otherwise.
 */
int volume_wait_unlocked(const char *src, int timeout_ms);

#endif
