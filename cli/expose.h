/*
 * expose.h: exposed snapshots. An exposure mounts one snapshot's tree read-only at a directory
 * of its own (fusefs/expose.h serves it) and is recorded in the state directory, in
 * STATE/exposed/ID, so that it can be listed, refused twice, protected from deletion and, when
 * persistent, mounted again when the service starts (after a reboot, say).
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

struct exposure {
	char id[37];            /* the snapshot's id */
	char dir[PATH_MAX];     /* where it is mounted, canonical */
	bool persistent;        /* mounted again at service start */
	bool mounted;           /* its mount is in place and its daemon runs */
	pid_t pid;              /* its daemon, as recorded */
};

/*
 * Expose the snapshot id at dir: an existing empty directory that is not a mount point and not
 * inside the snapshot's own volume. Refused (-EBUSY) when id is exposed already. Leaves no
 * mount and no record on failure. Forks the daemon: the caller must have no other threads.
 */
int expose_snapshot(const char *id, const char *dir, bool persistent, char *msg, size_t msglen);

/*
 * Unmount the exposure of the snapshot id_or_dir, or the one at the directory id_or_dir, wait
 * for its daemon to end, and drop its record. -ENOENT when there is no such exposure, -EBUSY
 * when its mount is in use (the record stays).
 */
int unexpose(const char *id_or_dir, char *msg, size_t msglen);

/*
 * Every exposure, sorted by id, in *ret (the caller frees it; NULL when there is none). Drops
 * the records of non-persistent exposures whose mount is gone.
 */
int expose_list(struct exposure **ret, size_t *n, char *msg, size_t msglen);

/*
 * Whether id is exposed: 1 with the exposure in *ret, 0 when not (a non-persistent record
 * whose mount is gone is dropped and does not count), a negative errno when the registry
 * cannot be read.
 */
int expose_lookup(const char *id, struct exposure *ret);

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
