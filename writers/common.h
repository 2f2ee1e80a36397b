/*
 * common.h: what the in-box writers share: their log line, making the writer that --name names,
 * stopping on SIGTERM, the watchdog of a freeze, and the volumes of the snapshot set under way
 * (which thaw and abort do not carry).
 *
 * Thread-safety: a writer is one thread; common_stop_on_signals() is the only part that a
 * signal handler reaches.
 */
#ifndef SNAPFS_WRITERS_COMMON_H
#define SNAPFS_WRITERS_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "snapfs/writer.h"

#define COMMON_MAX_VOLUMES 64

/* Set the name log lines carry (borrowed; it must outlive the process's logging). */
void common_log_name(const char *name);

/* One line on stderr: 'YYYY-MM-DD HH:MM:SS.mmm NAME: message'. */
void common_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * snap_writer_new() for a writer named by --name, logging why it fails (a bad name: 1 to 64
 * of [A-Za-z0-9._-]). Returns the writer (the caller frees it) or NULL.
 */
struct snap_writer *common_writer_new(const char *name, const struct snap_writer_callbacks *cb,
				      void *ctx);

/*
 * Make SIGTERM and SIGINT call snap_writer_stop(w), and ignore SIGPIPE. w is borrowed and must
 * stay valid until the process exits.
 */
void common_stop_on_signals(struct snap_writer *w);

/*
 * The lock a writer's callbacks and its watchdog share: each callback takes it for its whole
 * run, so that the watchdog's function never runs beside one.
 */
void common_lock(void);
void common_unlock(void);

/*
 * Call fn(ctx) on a helper thread, with the lock held, unless common_watchdog_disarm() comes
 * within s seconds: what a writer holds after freeze (a lock, a frozen application) must not
 * outlive a coordinator that died before thaw. Both are called with the lock held; arming again
 * replaces the previous one. Returns 0 or a negative errno.
 */
int common_watchdog_arm(unsigned s, void (*fn)(void *ctx), void *ctx);
void common_watchdog_disarm(void);

/*
 * How long a freeze may go without thaw or abort before the watchdog undoes it: 300 s, or
 * $SNAPFS_WRITER_THAW_WAIT seconds (1 to 86400; for tests).
 */
unsigned common_thaw_wait_s(void);

/*
 * Register and serve until a stop. Returns the process's exit status: EXIT_SUCCESS after a
 * stop, EXIT_FAILURE after logging why registration failed.
 */
int common_run(struct snap_writer *w);

/* The volumes of the set under way, as the prepare events named them (canonical mounts). */
struct common_set {
	char set_id[64];
	size_t n_volumes;
	char *volumes[COMMON_MAX_VOLUMES];     /* heap */
};

/*
 * Remember ev's volumes when it carries any (prepare-*, freeze from newer coordinators,
 * post-snapshot); an event of another set without volumes forgets the old set's. Returns 0 or
 * -ENOMEM.
 */
int common_set_note(struct common_set *s, const struct snap_event *ev);

/* Whether s holds the volumes of ev's set. */
bool common_set_is(const struct common_set *s, const struct snap_event *ev);

void common_set_release(struct common_set *s);

/*
 * The index of the volume of vols (mount points) that holds path, an absolute path without
 * '.' or '..' components, or -1. *ret_rel (may be NULL) points into path at what follows the
 * mount point: "" or "/...".
 */
int common_volume_of(const char *const *vols, size_t n, const char *path, const char **ret_rel);

/* Milliseconds of CLOCK_MONOTONIC. */
long long common_now_ms(void);

#endif
