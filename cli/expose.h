/*
 * expose.h: exposed snapshots. An exposure mounts one snapshot's tree read-only at a directory
 * of its own (fusefs/expose.h serves it) and is recorded in the state directory, in
 * STATE/exposed/ID, so that it can be listed, refused twice, protected from the delete
 * commands and, when persistent, mounted again when the service starts (after a reboot, say).
 * The delete commands refuse an exposed snapshot, but the diff area's bound (maxsize) may
 * still evict it: its exposure then answers ENOENT or ESTALE, and expose_list() marks it gone.
 *
 * Like admin.h: on failure a function returns a negative errno with a complete message in msg
 * (naming the thing and the cause, without a program prefix); nothing here prints but the
 * cmd_* functions. The registry is locked (STATE/exposed/.lock) while a function reads or
 * changes it, so concurrent commands see each other's records whole.
 */
#ifndef SNAPFS_CLI_EXPOSE_H
#define SNAPFS_CLI_EXPOSE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Whether an exposure's snapshot still exists (expose_list() finds out). */
enum exposure_snapshot {
	EXPOSURE_SNAPSHOT_UNKNOWN = 0,  /* its volume is not mounted or does not answer */
	EXPOSURE_SNAPSHOT_PRESENT,
	EXPOSURE_SNAPSHOT_GONE,         /* deleted since: evicted by the diff area's bound */
};

struct exposure {
	char id[37];            /* the snapshot's id */
	char dir[PATH_MAX];     /* where it is mounted, canonical */
	char tree[PATH_MAX];    /* what its daemon serves; "" in a record older than this field */
	bool persistent;        /* mounted again at service start */
	bool mounted;           /* its mount is in place and its daemon runs */
	pid_t pid;              /* its daemon, as recorded */
	enum exposure_snapshot snapshot;        /* set by expose_list() only */
};

/*
 * Expose the snapshot id at dir: an existing empty directory that is not a mount point, not
 * inside the snapshot's own volume and not inside the tree that is served. Refused (-EBUSY)
 * when id is exposed already, -ENOENT when the snapshot does not exist (or was deleted while
 * this waited for the lock), -ETIMEDOUT when the snapshot's tree does not answer within
 * $SNAPFS_EXPOSE_TIMEOUT seconds (30 by default; the daemon is killed). Leaves no mount and
 * no record on failure. Forks the daemon: the caller must have no other threads.
 */
int expose_snapshot(const char *id, const char *dir, bool persistent, char *msg, size_t msglen);

/*
 * Unmount the exposure of the snapshot id_or_dir, or the one at the directory id_or_dir, wait
 * for its daemon to end, and drop its record. -ENOENT when there is no such exposure, -EBUSY
 * when its mount is in use (the record stays).
 */
int unexpose(const char *id_or_dir, char *msg, size_t msglen);

/*
 * Every exposure, sorted by id, in *ret (the caller frees it; NULL when there is none), each
 * with whether its snapshot still exists (asking its volume, outside the lock). Drops the
 * records of non-persistent exposures whose mount is gone.
 */
int expose_list(struct exposure **ret, size_t *n, char *msg, size_t msglen);

/*
 * Whether id is exposed, for the commands that must refuse to delete or move an exposed
 * snapshot:
 *   1   exposed: a record of it, mounted now, or persistent (mounted again at service start);
 *       the exposure in *ret;
 *   0   not exposed: no registry, no record (or one that does not parse), or the record of a
 *       temporary exposure whose mount is gone; *ret untouched;
 *   <0  only when it cannot be told: the registry or the record cannot be opened, locked or
 *       read (-EACCES, -EIO, ...). A caller that deletes must then refuse, not go on.
 * Takes the registry's lock shared, briefly.
 */
int expose_lookup(const char *id, struct exposure *ret);

/*
 * Hold the registry's lock, shared, until expose_release(): no exposure can be made meanwhile,
 * so a delete that finds its snapshot not exposed (expose_lookup, which may be called while
 * holding) can delete it without one being made in between. *ret_hold is -1 when there is no
 * registry this process could lock (then none can have been made by it either). While holding,
 * do not call expose_snapshot(), unexpose(), expose_list() or expose_restore(): they lock
 * exclusively and would wait for ever. Returns 0 or a negative errno with msg.
 */
int expose_hold(int *ret_hold, char *msg, size_t msglen);

/* Release what expose_hold() holds (-1: nothing). */
void expose_release(int hold);

/*
 * At service start: mount again the persistent exposures whose mount is gone, and drop the
 * records of non-persistent ones whose mount is gone. Returns the number of exposures it could
 * not restore, with what went wrong for each in msg (one line per exposure, '; '-separated),
 * or a negative errno when the registry cannot be read. Forks daemons: the caller must have no
 * other threads.
 */
int expose_restore(char *msg, size_t msglen);

/* snapfs expose [--temporary] ID DIR; argv[0] is "expose". Returns an exit status. */
int cmd_expose(int argc, char **argv);

/* snapfs unexpose DIR|ID; argv[0] is "unexpose". Returns an exit status. */
int cmd_unexpose(int argc, char **argv);

/* snapfs list exposed [-H]; argv[0] is "list", argv[1] "exposed". Returns an exit status. */
int cmd_list_exposed(int argc, char **argv);

#endif
