/*
 * expose.h: the daemon that serves one snapshot's tree read-only at a directory of its own
 * (snapfs expose). No FUSE types here: the CLI and the coordinator start it.
 */
#ifndef SNAPFS_FUSEFS_EXPOSE_H
#define SNAPFS_FUSEFS_EXPOSE_H

#include <stddef.h>
#include <sys/types.h>

#define EXPOSE_FSTYPE "fuse.snapfs-expose"   /* its type in /proc/mounts */
#define EXPOSE_FSNAME_PREFIX "snapfs:"       /* its source there: snapfs:ID */
#define EXPOSE_COMM "snapfs-expose"          /* its name in /proc/PID/comm */

/*
 * Start a daemon that serves the directory source (absolute; a snapshot's tree, as
 * admin_shadow_tree() gives it) read-only at the empty directory dir (absolute, canonical),
 * mounted with the name snapfs:ID and the type fuse.snapfs-expose. Requests are resolved by
 * path beneath source each time, so the exposure survives its volume being unmounted and
 * mounted again at the same place. The daemon is detached (its own session, stdio on
 * /dev/null, not a child of the caller); it exits once dir is unmounted, and unmounts dir on
 * SIGTERM or SIGINT.
 *
 * Returns 0 once the mount is in place, with the daemon's pid in *ret_pid; or a negative
 * errno and a message in msg ("cannot mount at 'DIR': ..."), with nothing mounted:
 *   -EINVAL     dir lies inside source (by path, or a bind mount of it): serving it would
 *               deadlock the daemon on itself;
 *   -ETIMEDOUT  the daemon did not report within timeout_ms (source does not answer); it has
 *               been killed, but a mount it made just before may remain at dir: the caller
 *               detaches it;
 *   other       the errno of what failed (source missing, mount refused, ...).
 * The caller must not have threads other than the calling one (the daemon is forked). Strings
 * are borrowed.
 */
int expose_start(const char *source, const char *dir, const char *id, int timeout_ms,
		 pid_t *ret_pid, char *msg, size_t msglen);

#endif
