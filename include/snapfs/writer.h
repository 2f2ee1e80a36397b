/*
 * snapfs writer API: how an application takes part in snapshots of the volumes it writes to.
 *
 * A writer is a process that registers with the coordinator service (snapfsd), describes its
 * data as components (a name and the files or directories that hold it), and answers the
 * events of a backup: the coordinator calls freeze before it holds the volumes' writes and
 * thaw right after the snapshot set is committed, so the application brings its files to a
 * consistent state (checkpoint, flush, hold new transactions) for that moment only.
 *
 *	static int freeze(struct snap_writer *w, const struct snap_event *ev, void *ctx)
 *	{
 *		if (checkpoint_and_lock(ctx) < 0)
 *			return snap_writer_fail(w, -EIO, "cannot checkpoint: %s", why);
 *		return 0;
 *	}
 *	...
 *	struct snap_writer_callbacks cb = { .freeze = freeze, .thaw = thaw };
 *	struct snap_writer *w = snap_writer_new("mydb", &cb, &db);
 *	snap_writer_add_component(w, "main", "Main database", "/srv/vol/db.sqlite");
 *	if (snap_writer_run(w) < 0)
 *		fprintf(stderr, "%s\n", snap_writer_error(w));
 *
 * The events, in the order of a backup (docs/coordinator.md has the whole sequence):
 *   identify          the coordinator gathers metadata; the writer may update its components
 *   prepare_backup    a backup session starts a set of these volumes (ev->volumes)
 *   prepare_snapshot  the same volumes, once every writer is prepared
 *   freeze            make the data consistent and hold it so until thaw (time-limited)
 *   thaw              the set is committed: let the application go on
 *   post_snapshot     the set exists; ev->snapshots says where each volume's snapshot reads;
 *                     where ev->recovery[i] is not NULL, that snapshot's tree may be written
 *                     there (to roll back what was unfinished, as SQLite does with a hot
 *                     journal) until the event returns; then it is sealed read-only
 *   backup_complete   the requester is done with the set (ev->bcd: the set's Backup
 *                     Components Document)
 *   abort             the sequence failed after prepare_backup: undo what freeze did, if
 *                     thaw has not come; no snapshot of the set remains. Also called by the
 *                     library when the coordinator goes away, or the writer is stopped,
 *                     between a freeze and its thaw
 *   pre_restore, post_restore   around a restore of this writer's components
 *
 * A callback returns 0, or a negative errno after describing the failure with
 * snap_writer_fail(), which also returns that errno. A failing or late prepare_*, freeze,
 * thaw or post_snapshot aborts the whole snapshot set, and the requester is told the writer's
 * name and message. Callbacks run on the thread that called snap_writer_run(), one at a time.
 *
 * Thread-safety: one thread runs a writer; snap_writer_stop() may be called from any thread or
 * from a signal handler.
 */
#ifndef SNAPFS_WRITER_H
#define SNAPFS_WRITER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct snap_writer;

enum snap_event_kind {
	SNAP_EVENT_IDENTIFY,
	SNAP_EVENT_PREPARE_BACKUP,
	SNAP_EVENT_PREPARE_SNAPSHOT,
	SNAP_EVENT_FREEZE,
	SNAP_EVENT_THAW,
	SNAP_EVENT_POST_SNAPSHOT,
	SNAP_EVENT_ABORT,
	SNAP_EVENT_BACKUP_COMPLETE,
	SNAP_EVENT_PRE_RESTORE,
	SNAP_EVENT_POST_RESTORE,
};

/* What a callback learns of the backup. Valid during the callback only. */
struct snap_event {
	enum snap_event_kind kind;
	const char *name;                /* the event's name: "freeze", "post-snapshot", ... */
	const char *set_id;              /* the snapshot set, "" before the set has an id */
	const char *bcd;                 /* Backup Components Document (XML), or NULL */
	size_t n_volumes;                /* the set's volumes (mount points), given to
					    prepare_backup, prepare_snapshot, freeze and
					    post_snapshot; 0 for the other events */
	const char *const *volumes;
	const char *const *snapshots;    /* post_snapshot: where each volume's snapshot reads,
					    by the same index (MNT/.snapshots/@GMT-...); else NULL */
	const char *const *recovery;     /* prepare_snapshot, freeze: "yes" for each volume
					    whose snapshot will be writable in post_snapshot,
					    else NULL (auto-recovery); post_snapshot: the
					    directory where that snapshot's tree may be written,
					    else NULL. The array itself is never NULL when
					    n_volumes > 0. */
};

typedef int (*snap_writer_fn)(struct snap_writer *w, const struct snap_event *ev, void *ctx);

/* The callbacks; any may be NULL (the event then succeeds). */
struct snap_writer_callbacks {
	snap_writer_fn identify;
	snap_writer_fn prepare_backup;
	snap_writer_fn prepare_snapshot;
	snap_writer_fn freeze;
	snap_writer_fn thaw;
	snap_writer_fn post_snapshot;
	snap_writer_fn abort;
	snap_writer_fn backup_complete;
	snap_writer_fn pre_restore;
	snap_writer_fn post_restore;
};

/*
 * A writer named name (1 to 64 of [A-Za-z0-9._-]; several processes may share a name, each
 * gets its own id). Returns NULL and sets errno (EINVAL for a bad name, ENOMEM).
 */
struct snap_writer *snap_writer_new(const char *name, const struct snap_writer_callbacks *cb,
				    void *ctx);
void snap_writer_free(struct snap_writer *w);

/*
 * Describe a component: its name (unique in this writer, 1 to 128 characters), a caption for
 * people (may be NULL; at most 1024 characters) and one path it covers, a file or a directory
 * (absolute, at most 4096 characters); UTF-8 without control characters. Calling again with the
 * same name adds a path to that component. Returns 0 or a negative errno (-EINVAL). snap_writer_clear_components()
 * forgets them all (an identify callback may rebuild the list).
 */
int snap_writer_add_component(struct snap_writer *w, const char *name, const char *caption,
			      const char *path);
void snap_writer_clear_components(struct snap_writer *w);

/*
 * Register with the coordinator (starting it when it is not running) and serve its events
 * until snap_writer_stop(). When the coordinator goes away, run() registers again, once a
 * second, until it is back. Returns 0 after a stop, or a negative errno when the coordinator
 * refuses the writer (-EACCES: this user may not register writers) or cannot be started;
 * snap_writer_error() then says why.
 */
int snap_writer_run(struct snap_writer *w);
void snap_writer_stop(struct snap_writer *w);

/* In a callback: record why it fails (printf-style) and return err (a negative errno). */
int snap_writer_fail(struct snap_writer *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The id the coordinator gave this writer ("" before registration). */
const char *snap_writer_id(const struct snap_writer *w);

/* The last error of run(), or of the last failed callback; "" when none. */
const char *snap_writer_error(const struct snap_writer *w);

#ifdef __cplusplus
}
#endif

#endif
