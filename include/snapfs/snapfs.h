/*
 * snapfs public API for requesters (backup applications and scripts).
 *
 * Thread-safety: every function here may be called from any thread.
 */
#ifndef SNAPFS_SNAPFS_H
#define SNAPFS_SNAPFS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the per-volume state directory inside SRC, hidden from the mount. */
#define SNAP_STATE_DIR ".snapfs"

/* Name of the daemon's control socket inside the state directory. */
#define SNAP_CONTROL_SOCKET "control"

/* The library's version as "MAJOR.MINOR.PATCH"; a static string. */
const char *snap_version(void);

#ifdef __cplusplus
}
#endif

#endif
