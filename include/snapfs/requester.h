/*
 * snapfs requester API: how a backup application (or the snapfs command) takes
 * application-consistent snapshot sets through the coordinator service, snapfsd.
 *
 *	struct snap_session *s = snap_session_new();
 *	if (snap_session_connect(s) < 0 || snap_session_add_volume(s, "/srv/a") < 0 ||
 *	    snap_session_add_volume(s, "/srv/b") < 0 || snap_session_create(s) < 0)
 *		fprintf(stderr, "%s\n", snap_session_error(s));
 *	else
 *		for (size_t i = 0; i < snap_session_snapshots(s); i++)
 *			back_up(snap_session_snapshot(s, i)->path);
 *	snap_session_complete(s);
 *	snap_session_free(s);
 *
 * A session is one connection to the coordinator. create() runs the whole sequence: every
 * writer not excluded gets prepare_backup, prepare_snapshot and freeze; the writes of every
 * volume of the set are held while each volume commits its snapshot; then the writes go on,
 * the writers thaw and get post_snapshot. Either every volume has its snapshot or, after any
 * failure, none has, every writer got abort, and snap_session_error() names the writer or
 * volume and the cause. A session whose process dies during create() is aborted the same way.
 *
 * Every function that can fail returns 0 (or a count) or a negative errno, and then
 * snap_session_error() holds one line naming the thing and the cause. The strings a session
 * hands out stay valid until the next call on it.
 *
 * Thread-safety: a session is used by one thread at a time; sessions are independent.
 */
#ifndef SNAPFS_REQUESTER_H
#define SNAPFS_REQUESTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct snap_session;

/* A registered writer, as the coordinator sees it. */
struct snap_writer_info {
	const char *id;
	const char *name;
	const char *state;        /* "stable", "waiting-for-thaw", ... (docs/coordinator.md) */
	const char *last_error;   /* "" when none */
	const char *metadata;     /* its Writer Metadata Document (XML); "" before gather */
};

/* One snapshot of a committed set. */
struct snap_snapshot_info {
	const char *volume;       /* the volume's mount point */
	const char *id;           /* the snapshot's id */
	const char *browse;       /* its name under .snapshots/, @GMT-YYYY.MM.DD-HH.MM.SS */
	const char *path;         /* where it reads: volume/.snapshots/browse */
};

/* A new session, not yet connected; NULL when out of memory. */
struct snap_session *snap_session_new(void);

/* Connect to the coordinator as a requester, starting it when it is not running. */
int snap_session_connect(struct snap_session *s);

/* The time limits of this session's create(), in milliseconds; 0 keeps the service's. */
int snap_session_set_timeouts(struct snap_session *s, unsigned freeze_ms, unsigned hold_ms);

/*
 * The registered writers with their states: snap_session_list_writers() as the coordinator
 * knows them, snap_session_gather() after asking each for its metadata (identify). Both
 * return the count; snap_session_writer() gives each (i < count).
 */
int snap_session_list_writers(struct snap_session *s);
int snap_session_gather(struct snap_session *s);
const struct snap_writer_info *snap_session_writer(const struct snap_session *s, size_t i);

/* Leave a writer (by name or id) out of this session's sets; it gets no event. */
int snap_session_exclude_writer(struct snap_session *s, const char *writer);

/* Select a component of a writer for the backup; it is recorded in the BCD. */
int snap_session_select_component(struct snap_session *s, const char *writer,
				  const char *component);

/* Add a volume (its mount point) to the next set; at most 64 volumes. */
int snap_session_add_volume(struct snap_session *s, const char *mnt);

/* Take the snapshot set of the volumes added (the whole sequence; see the top). */
int snap_session_create(struct snap_session *s);

/* After create(): the set's id, its snapshots, and its Backup Components Document (XML). */
const char *snap_session_set_id(const struct snap_session *s);
size_t snap_session_snapshots(const struct snap_session *s);
const struct snap_snapshot_info *snap_session_snapshot(const struct snap_session *s, size_t i);
const char *snap_session_bcd(const struct snap_session *s);

/*
 * End the session: complete() sends backup_complete to the writers of the set (the snapshots
 * stay); abort() sends abort and deletes the set's snapshots. Either may be called once, after
 * create().
 */
int snap_session_complete(struct snap_session *s);
int snap_session_abort(struct snap_session *s);

/*
 * Before create(): the set's writers get no writable snapshot to repair in post-snapshot
 * (DiskShadow's 'noautorecover'), even where the volumes' provider offers it.
 */
int snap_session_no_autorecover(struct snap_session *s);

/*
 * A restore, instead of a create: pre_restore() sends pre-restore to every writer not
 * excluded, with the backup's set id and its Backup Components Document (bcd, as create()
 * gave it; NULL for none), and fails when one of them does (each that answered gets
 * post-restore then). The caller then puts the data back (snapfs revert, a copy, ...) and
 * calls post_restore(), which sends post-restore to the same writers. A session that ends
 * between the two sends post-restore itself.
 */
int snap_session_pre_restore(struct snap_session *s, const char *set_id, const char *bcd);
int snap_session_post_restore(struct snap_session *s);

/* One line on the last failure: what, and why. */
const char *snap_session_error(const struct snap_session *s);

/* Close the connection and free the session (NULL is fine). */
void snap_session_free(struct snap_session *s);

#ifdef __cplusplus
}
#endif

#endif
