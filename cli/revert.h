/*
 * revert.h: turning a volume back into one of its snapshots ('snapfs revert'), and turning a
 * snapshot into an independent directory ('snapfs break'), both without a remount.
 *
 * Like admin.h: on failure a function returns a negative errno with a complete message in msg
 * (naming the thing and the cause, without a program prefix); nothing here prints but the
 * cmd_* functions. Single-threaded: break_snapshot() may fork an exposure's daemon.
 */
#ifndef SNAPFS_CLI_REVERT_H
#define SNAPFS_CLI_REVERT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "admin.h"
#include "treesync.h"

/* What revert_snapshot() did. */
struct revert_result {
	char kept[ADMIN_ID_MAX + 1];    /* the snapshot of the state before; "" without keep */
	char target[PATH_MAX];          /* what was reverted: MNT, or MNT/PATH */
	struct treesync_stats st;
};

/*
 * Make the volume of the snapshot id (a volume's snapshot, not a detached one) what it was in
 * that snapshot: the whole tree when path is NULL, else only path, relative to the volume's
 * root or absolute inside its mount point (a file or a directory, recreated when gone; the
 * missing directories above it are made as the snapshot had them). With keep, a snapshot of
 * the current state is taken first, so nothing is lost; the other snapshots stay in any case.
 * The changes are ordinary writes through the mount: the engine preserves them for the other
 * snapshots, and only what differs is written.
 *
 * Returns 0 and fills ret, -ENOENT for an unknown id or a path the snapshot lacks ("snapshot
 * ID has no 'PATH'"), -EINVAL for a detached snapshot or a path outside the volume, or another
 * negative errno; once the state before has been kept, msg names that snapshot too.
 */
int revert_snapshot(const char *id, const char *path, bool keep, struct revert_result *ret,
		    char *msg, size_t msglen);

/*
 * Turn the snapshot id of a volume into an independent directory and delete it from its
 * volume. writable: dir (missing, or an empty directory, outside every snapfs volume) receives
 * a read-write copy of its tree. Otherwise the copy becomes the detached snapshot
 * STATE/detached/ID (built in STATE/detached/.break-ID and renamed into place), exposed
 * read-only and persistently at dir.
 *
 * Until the snapshot is deleted from its volume, a failure undoes everything (the copy, dir if
 * it was made here, dir's own attributes otherwise) and keeps the snapshot. Only an exposure
 * that fails after that leaves the snapshot detached but not exposed, and says so.
 * Returns 0 or a negative errno.
 */
int break_snapshot(const char *id, const char *dir, bool writable, char *msg, size_t msglen);

/* snapfs revert [--no-keep] ID [PATH]; argv[0] is "revert". Returns an exit status. */
int cmd_revert(int argc, char **argv);

/* snapfs break [--writable] ID DIR; argv[0] is "break". Returns an exit status. */
int cmd_break(int argc, char **argv);

#endif
