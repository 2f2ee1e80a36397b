/*
 * snapfs-writer-sqlite: the writer of SQLite databases. Its components are the database files
 * that its arguments (paths or glob patterns, expanded again at identify and prepare-snapshot so
 * that new databases join) name. It owns only the connections it opens for a snapshot; it never
 * changes a database's contents, journal mode or settings.
 *
 * freeze, for each database on a volume of the set: a connection of its own (busy timeout
 * within FREEZE_BUSY_MS for the whole freeze), then
 *   WAL mode:   'PRAGMA wal_checkpoint(TRUNCATE)' (best effort: it keeps the WAL short), then
 *               'BEGIN IMMEDIATE', which takes the write lock: no transaction commits until
 *               thaw. Then a second connection backfills the WAL into the database file
 *               ('PRAGMA wal_checkpoint(PASSIVE)', again until every frame is in, as readers of
 *               older frames finish), so the database file alone is complete: the WAL may
 *               still hold frames, but only ones the file has too.
 *   otherwise:  'BEGIN EXCLUSIVE' and a read: the exclusive lock, taken through a shared lock
 *               that first rolls back any hot journal, so no transaction is under way and no
 *               hot journal exists until thaw.
 * The locks stay held until thaw or abort, which roll back and close; readers and writers of
 * the application wait on their busy handlers meanwhile. If neither comes within 300 s
 * (the coordinator died), the watchdog lets go, and the set's thaw then fails.
 *
 * Auto-recovery: on a volume whose snapshot will be writable during post-snapshot (its provider
 * offers it: ev->recovery), freeze waits at most RECOVER_BUSY_MS for a database's lock. If an
 * application holds it longer (a long transaction under way), freeze goes on without it, and
 * post-snapshot opens that snapshot's copy read-write first: SQLite rolls back the hot journal
 * or replays the WAL there, as after a crash, so the snapshot holds the last committed state.
 *
 * post-snapshot: each locked database, read in the snapshot (SNAPSHOT/RELATIVE-PATH) with
 * 'file:...?immutable=1' (snapshots are read-only, and immutable reads the database file alone,
 * which freeze made complete), must pass 'PRAGMA quick_check' and have no hot journal; a failure
 * fails the event, which aborts the set. Snapshots are read-only, so nothing is repaired there.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common.h"

#define FREEZE_BUSY_MS 10000    /* how long freeze waits for the databases' locks, in all */
#define RECOVER_BUSY_MS 1000    /* ... for one whose snapshot can be repaired afterwards */
#define MAX_DBS 1024            /* a writer's components at most (libsnapfs) */
#define COMPONENT_NAME_MAX 128

static const unsigned char journal_magic[8] = { 0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7 };

/* A database locked for a set. */
struct held {
	char *path;             /* canonical */
	sqlite3 *conn;          /* holds the lock until thaw or abort; NULL after */
	bool is_wal;
	bool unlocked;          /* busy at freeze: its copy is repaired in post-snapshot */
};

struct sqlite_writer {
	char **patterns;        /* borrowed from argv */
	size_t n_patterns;
	char **dbs;             /* the last expansion, canonical paths */
	size_t n_dbs;
	struct common_set set;
	struct held held[MAX_DBS];
	size_t n_held;
	char held_set[64];      /* the set of held[] */
	long long locked_ms;    /* when freeze took the locks */
	bool released_early;    /* the watchdog let go of held_set's locks */
};

static void usage(FILE *out)
{
	fprintf(out, "usage: snapfs-writer-sqlite [--name N] DB_PATH_OR_GLOB...\n"
		     "\n"
		     "The snapfs writer of SQLite databases: for each snapshot set, the\n"
		     "databases on its volumes are checkpointed and locked from freeze to thaw,\n"
		     "and checked in the snapshot afterwards. Glob patterns are expanded again\n"
		     "before each set.\n"
		     "\n"
		     "  --name N   the writer's name (default 'sqlite')\n");
}

/* ---- the databases ---------------------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Whether path is a regular file that is empty or starts like an SQLite 3 database. */
static bool looks_like_db(const char *path, const char **ret_why)
{
	char head[16];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		*ret_why = strerror(errno);
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		*ret_why = "not a regular file";
		return false;
	}
	n = st.st_size ? read(fd, head, sizeof(head)) : 0;
	(void)close(fd);
	if (st.st_size && (n != sizeof(head) || memcmp(head, "SQLite format 3", 16) != 0)) {
		*ret_why = "not an SQLite 3 database";
		return false;
	}
	return true;
}

static bool in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Expand the patterns again into sw->dbs, logging the databases that come and go (and, when
 * verbose, what a pattern matched that is no database). Returns 0 or -ENOMEM; the old list
 * stays on failure.
 */
static int expand(struct sqlite_writer *sw, bool verbose)
{
	char **dbs = calloc(MAX_DBS, sizeof(*dbs));
	size_t n = 0;
	int r = 0;

	if (!dbs)
		return -ENOMEM;
	for (size_t p = 0; p < sw->n_patterns && r == 0; p++) {
		glob_t g;
		int gr = glob(sw->patterns[p], 0, NULL, &g);

		if (gr == GLOB_NOSPACE) {
			r = -ENOMEM;
			break;
		}
		if (gr != 0) {
			if (verbose)
				common_log("'%s' matches no file (yet)", sw->patterns[p]);
			continue;
		}
		for (size_t i = 0; i < g.gl_pathc; i++) {
			const char *m = g.gl_pathv[i], *why;
			char real[PATH_MAX];

			/* SQLite's own files beside a database are never databases */
			if (has_suffix(m, "-wal") || has_suffix(m, "-shm") ||
			    has_suffix(m, "-journal"))
				continue;
			if (!realpath(m, real)) {
				if (verbose)
					common_log("'%s' skipped: %s", m, strerror(errno));
				continue;
			}
			if (!looks_like_db(real, &why)) {
				if (verbose)
					common_log("'%s' skipped: %s", m, why);
				continue;
			}
			if (in_list(dbs, n, real))
				continue;
			if (n == MAX_DBS) {
				if (verbose)
					common_log("'%s' skipped: a writer covers at most %d "
						   "databases", real, MAX_DBS);
				continue;
			}
			dbs[n] = strdup(real);
			if (!dbs[n]) {
				r = -ENOMEM;
				break;
			}
			n++;
		}
		globfree(&g);
	}
	if (r < 0) {
		free_list(dbs, n);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		if (!in_list(sw->dbs, sw->n_dbs, dbs[i]))
			common_log("database '%s' added", dbs[i]);
	for (size_t i = 0; i < sw->n_dbs; i++)
		if (!in_list(dbs, n, sw->dbs[i]))
			common_log("database '%s' removed (no longer matched)", sw->dbs[i]);
	free_list(sw->dbs, sw->n_dbs);
	sw->dbs = dbs;
	sw->n_dbs = n;
	return 0;
}

/* The components: one per database, named by its path (its tail, numbered, when too long). */
static int describe(struct snap_writer *w, struct sqlite_writer *sw)
{
	snap_writer_clear_components(w);
	for (size_t i = 0; i < sw->n_dbs; i++) {
		const char *path = sw->dbs[i];
		char name[COMPONENT_NAME_MAX + 1];
		int r;

		if (strlen(path) <= COMPONENT_NAME_MAX) {
			snprintf(name, sizeof(name), "%s", path);
		} else {
			const char *tail = path + strlen(path) - (COMPONENT_NAME_MAX - 16);
			const char *slash = strchr(tail, '/');

			snprintf(name, sizeof(name), "#%zu ...%s", i, slash ? slash : tail);
		}
		r = snap_writer_add_component(w, name, "SQLite database", path);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- freeze and thaw -------------------------------------------------------------------- */

/* Run sql on c, stepping through its rows; the first row's first three columns go to v. */
static int run_sql(sqlite3 *c, const char *sql, long long v[3], char *text, size_t textlen)
{
	sqlite3_stmt *st = NULL;
	bool first = true;
	int rc = sqlite3_prepare_v2(c, sql, -1, &st, NULL);

	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (first && v)
			for (int i = 0; i < 3 && i < sqlite3_column_count(st); i++)
				v[i] = sqlite3_column_int64(st, i);
		if (first && text) {
			const unsigned char *t = sqlite3_column_text(st, 0);

			snprintf(text, textlen, "%s", t ? (const char *)t : "");
		}
		first = false;
		rc = SQLITE_OK;
	}
	(void)sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Whether locks are held (the connections of held[] are all open or all closed). */
static bool is_holding(const struct sqlite_writer *sw)
{
	return sw->n_held && sw->held[0].conn;
}

static void release_held(struct sqlite_writer *sw)
{
	for (size_t i = 0; i < sw->n_held; i++) {
		struct held *h = &sw->held[i];

		if (!h->conn)
			continue;
		(void)sqlite3_exec(h->conn, "ROLLBACK", NULL, NULL, NULL);
		(void)sqlite3_close_v2(h->conn);
		h->conn = NULL;
	}
}

static void forget_held(struct sqlite_writer *sw)
{
	release_held(sw);
	for (size_t i = 0; i < sw->n_held; i++)
		free(sw->held[i].path);
	sw->n_held = 0;
	sw->held_set[0] = '\0';
	sw->released_early = false;
}

/* The watchdog: no thaw nor abort came; the application must not wait for ever. */
static void let_go(void *ctx)
{
	struct sqlite_writer *sw = ctx;

	release_held(sw);
	sw->released_early = true;
	common_log("set '%s': no thaw within %u s; released the locks of %zu databases",
		   sw->held_set, common_thaw_wait_s(), sw->n_held);
}

/*
 * Bring the WAL of a database whose write lock c holds into the database file, with a second
 * connection (c's own transaction forbids it a checkpoint), retrying while readers of older
 * frames keep some out, until deadline. 0, or a negative errno after snap_writer_fail().
 */
static int backfill(struct snap_writer *w, const char *path, long long deadline)
{
	long long v[3] = { 0, -1, -1 };
	sqlite3 *c = NULL;
	int rc = sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL), r = 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(c, (int)(deadline - common_now_ms()));
	while (rc == SQLITE_OK) {
		v[0] = 0;
		v[1] = v[2] = -1;
		rc = run_sql(c, "PRAGMA wal_checkpoint(PASSIVE)", v, NULL, 0);
		if (rc != SQLITE_OK || (v[0] == 0 && v[1] == v[2]))
			break;
		if (common_now_ms() >= deadline) {
			r = snap_writer_fail(w, -EBUSY, "database '%s': readers keep %lld of its "
					     "%lld WAL frames out of the database file", path,
					     v[1] - v[2], v[1]);
			break;
		}
		(void)sqlite3_sleep(5);
	}
	if (rc != SQLITE_OK && r == 0)
		r = snap_writer_fail(w, -EIO, "database '%s': cannot checkpoint its WAL: %s", path,
				     c ? sqlite3_errmsg(c) : sqlite3_errstr(rc));
	(void)sqlite3_close_v2(c);
	return r;
}

/* Lock one database for the set (see the top); h->conn holds the lock on success. */
static int lock_db(struct snap_writer *w, struct held *h, long long deadline)
{
	char mode[32] = "";
	const char *what = "open it";
	sqlite3 *c = NULL;
	int rc, r;

	rc = sqlite3_open_v2(h->path, &c, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK) {
		(void)sqlite3_busy_timeout(c, (int)(deadline - common_now_ms()));
		what = "read its journal mode";
		rc = run_sql(c, "PRAGMA journal_mode", NULL, mode, sizeof(mode));
	}
	if (rc == SQLITE_OK && strcmp(mode, "wal") == 0) {
		h->is_wal = true;
		what = "checkpoint its WAL";
		rc = run_sql(c, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, 0);
		if (rc == SQLITE_OK) {
			what = "take its write lock";
			rc = sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		}
	} else if (rc == SQLITE_OK) {
		what = "take its exclusive lock";
		rc = sqlite3_exec(c, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = run_sql(c, "SELECT count(*) FROM sqlite_master", NULL, NULL, 0);
	}
	if (rc != SQLITE_OK) {
		r = snap_writer_fail(w, rc == SQLITE_BUSY ? -EBUSY : -EIO,
				     "database '%s': cannot %s: %s", h->path, what,
				     c ? sqlite3_errmsg(c) : sqlite3_errstr(rc));
		(void)sqlite3_close_v2(c);
		return r;
	}
	h->conn = c;
	return h->is_wal ? backfill(w, h->path, deadline) : 0;
}

static int on_identify(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct sqlite_writer *sw = ctx;
	int r;

	common_lock();
	r = expand(sw, false);
	if (r == 0)
		r = describe(w, sw);
	common_unlock();
	if (r < 0)
		return snap_writer_fail(w, r, "cannot list the databases: %s", strerror(-r));
	return 0;
}

/* prepare-backup and prepare-snapshot: the set's volumes; locks of an older set go. */
static int on_prepare(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct sqlite_writer *sw = ctx;
	int r;

	common_lock();
	if (sw->n_held && strcmp(sw->held_set, ev->set_id) != 0) {
		if (is_holding(sw))
			common_log("set '%s' never thawed: releasing its locks", sw->held_set);
		common_watchdog_disarm();
		forget_held(sw);
	}
	r = common_set_note(&sw->set, ev);
	if (r == 0 && ev->kind == SNAP_EVENT_PREPARE_SNAPSHOT)
		r = expand(sw, false);
	common_unlock();
	if (r < 0)
		return snap_writer_fail(w, r, "%s: %s", ev->name, strerror(-r));
	return 0;
}

/*
 * Lock one database for freeze: until deadline, or briefly where its volume's snapshot can be
 * repaired (recoverable), in which case a lock held by the application is no failure.
 */
static int freeze_db(struct snap_writer *w, struct held *h, long long deadline, bool recoverable)
{
	long long now = common_now_ms();
	int r;

	if (recoverable && deadline > now + RECOVER_BUSY_MS)
		deadline = now + RECOVER_BUSY_MS;
	r = lock_db(w, h, deadline);
	if (r == -EBUSY && recoverable) {
		common_log("database '%s' is busy (%s): its copy in the snapshot will be repaired",
			   h->path, snap_writer_error(w));
		h->unlocked = true;
		return 0;
	}
	return r;
}

static int on_freeze(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct sqlite_writer *sw = ctx;
	long long start = common_now_ms(), deadline = start + FREEZE_BUSY_MS;
	size_t n_wal = 0, skipped = 0, n_unlocked = 0;
	bool known;
	int r = 0;

	common_lock();
	/* the volumes come with prepare-snapshot, and with freeze from newer coordinators */
	known = common_set_note(&sw->set, ev) == 0 && common_set_is(&sw->set, ev);
	common_watchdog_disarm();
	forget_held(sw);
	snprintf(sw->held_set, sizeof(sw->held_set), "%s", ev->set_id);
	if (!known)
		common_log("set '%s': freeze without the set's volumes; locking every database",
			   ev->set_id);
	for (size_t i = 0; i < sw->n_dbs && r == 0; i++) {
		struct held *h = &sw->held[sw->n_held];
		int v = known ? common_volume_of((const char *const *)sw->set.volumes,
						 sw->set.n_volumes, sw->dbs[i], NULL) : -1;

		if (known && v < 0) {
			skipped++;
			continue;
		}
		if (access(sw->dbs[i], F_OK) < 0 && errno == ENOENT) {
			common_log("database '%s' is gone; skipped", sw->dbs[i]);
			continue;
		}
		*h = (struct held){ .path = strdup(sw->dbs[i]) };
		if (!h->path) {
			r = snap_writer_fail(w, -ENOMEM, "out of memory");
			break;
		}
		sw->n_held++;
		/* freeze's own volume list says which snapshots can be repaired */
		v = common_volume_of(ev->volumes, ev->n_volumes, sw->dbs[i], NULL);
		r = freeze_db(w, h, deadline, v >= 0 && ev->recovery[v]);
		n_wal += h->is_wal;
		n_unlocked += h->unlocked;
	}
	if (r < 0) {
		common_log("freeze of set '%s' failed: %s", ev->set_id, snap_writer_error(w));
		forget_held(sw);
		common_unlock();
		return r;
	}
	sw->locked_ms = common_now_ms();
	r = common_watchdog_arm(common_thaw_wait_s(), let_go, sw);
	if (r < 0) {
		forget_held(sw);
		common_unlock();
		return snap_writer_fail(w, r, "cannot start the thaw watchdog: %s", strerror(-r));
	}
	common_log("set '%s': froze %zu databases (%zu WAL, %zu rollback journal, %zu busy, to "
		   "be repaired) in %lld ms; %zu not in the set", ev->set_id, sw->n_held, n_wal,
		   sw->n_held - n_wal - n_unlocked, n_unlocked, sw->locked_ms - start, skipped);
	common_unlock();
	return 0;
}

static int on_thaw(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct sqlite_writer *sw = ctx;
	int r = 0;

	common_lock();
	common_watchdog_disarm();
	release_held(sw);
	if (sw->released_early && strcmp(sw->held_set, ev->set_id) == 0)
		r = snap_writer_fail(w, -ETIME, "the databases' locks were released after "
				     "%u s without thaw, before the snapshot",
				     common_thaw_wait_s());
	else
		common_log("set '%s': thawed %zu databases after %lld ms", ev->set_id, sw->n_held,
			   common_now_ms() - sw->locked_ms);
	common_unlock();
	return r;
}

static int on_abort(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct sqlite_writer *sw = ctx;

	common_lock();
	common_watchdog_disarm();
	if (is_holding(sw))
		common_log("set '%s' aborted: releasing the locks of %zu databases", ev->set_id,
			   sw->n_held);
	else
		common_log("set '%s' aborted", ev->set_id);
	forget_held(sw);
	common_set_release(&sw->set);
	common_unlock();
	return 0;
}

/* ---- post-snapshot ---------------------------------------------------------------------- */

/* "file:" and path with everything but unreserved characters and '/' percent-encoded. */
static char *file_uri(const char *path, const char *query)
{
	size_t len = strlen(path);
	char *u = malloc(5 + 3 * len + strlen(query) + 1), *p;

	if (!u)
		return NULL;
	p = u + sprintf(u, "file:");
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || strchr("/-._~", *c))
			*p++ = (char)*c;
		else
			p += sprintf(p, "%%%02X", *c);
	}
	strcpy(p, query);
	return u;
}

/* Whether path-journal is a hot journal: non-empty with a live header (not zeroed). */
static bool has_hot_journal(const char *path)
{
	char journal[PATH_MAX + 16];
	unsigned char head[8];
	int fd;
	ssize_t n;

	snprintf(journal, sizeof(journal), "%s-journal", path);
	fd = open(journal, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, head, sizeof(head));
	(void)close(fd);
	return n == sizeof(head) && memcmp(head, journal_magic, sizeof(head)) == 0;
}

/*
 * Repair the copy of a database in a snapshot still writable: a read-write connection rolls
 * back a hot journal or replays the WAL (and a checkpoint empties it), as after a crash.
 */
static int repair_copy(struct snap_writer *w, const char *db, const char *copy)
{
	char result[256] = "";
	sqlite3 *c = NULL;
	int rc;

	rc = sqlite3_open_v2(copy, &c, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = run_sql(c, "PRAGMA quick_check", NULL, result, sizeof(result));
	if (rc == SQLITE_OK)
		rc = run_sql(c, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, 0);
	if (rc != SQLITE_OK) {
		int r = snap_writer_fail(w, -EIO, "database '%s' cannot be repaired in the snapshot "
					 "at '%s': %s", db, copy,
					 c ? sqlite3_errmsg(c) : sqlite3_errstr(rc));

		(void)sqlite3_close_v2(c);
		return r;
	}
	/* closing the last connection removes the WAL and the shared-memory file */
	rc = sqlite3_close(c);
	if (rc != SQLITE_OK)
		return snap_writer_fail(w, -EIO, "database '%s': cannot close its repaired copy at "
					"'%s': %s", db, copy, sqlite3_errstr(rc));
	common_log("database '%s' repaired in the snapshot", db);
	return 0;
}

/* Check the copy of one database in the snapshot; 0 or a failure. */
static int check_copy(struct snap_writer *w, const char *db, const char *copy)
{
	char result[256] = "";
	char *uri = file_uri(copy, "?immutable=1");
	sqlite3 *c = NULL;
	int rc, r = 0;

	if (!uri)
		return snap_writer_fail(w, -ENOMEM, "out of memory");
	if (access(copy, F_OK) < 0) {
		r = snap_writer_fail(w, -errno, "database '%s' is not in the snapshot at '%s': %s",
				     db, copy, strerror(errno));
		goto out_free_uri;
	}
	if (has_hot_journal(copy)) {
		r = snap_writer_fail(w, -EUCLEAN, "database '%s' has a hot journal in the snapshot "
				     "at '%s'", db, copy);
		goto out_free_uri;
	}
	rc = sqlite3_open_v2(uri, &c, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	if (rc == SQLITE_OK)
		rc = run_sql(c, "PRAGMA quick_check", NULL, result, sizeof(result));
	if (rc != SQLITE_OK)
		r = snap_writer_fail(w, rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? -EUCLEAN
										     : -EIO,
				     "database '%s' cannot be checked in the snapshot at '%s': %s",
				     db, copy, c ? sqlite3_errmsg(c) : sqlite3_errstr(rc));
	else if (strcmp(result, "ok") != 0)
		r = snap_writer_fail(w, -EUCLEAN, "database '%s' fails quick_check in the snapshot "
				     "at '%s': %s", db, copy, result);
	(void)sqlite3_close_v2(c);
out_free_uri:
	free(uri);
	return r;
}

static int on_post_snapshot(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct sqlite_writer *sw = ctx;
	size_t checked = 0;
	long long start = common_now_ms();
	int r = 0;

	common_lock();
	if (strcmp(sw->held_set, ev->set_id) != 0 || !ev->snapshots) {
		common_unlock();
		return 0;
	}
	for (size_t i = 0; i < sw->n_held && r == 0; i++) {
		const char *rel, *writable;
		char copy[PATH_MAX];
		int v = common_volume_of(ev->volumes, ev->n_volumes, sw->held[i].path, &rel);

		if (v < 0 || !ev->snapshots[v])
			continue;
		/* a snapshot still writable is repaired and checked in its own tree */
		writable = ev->recovery ? ev->recovery[v] : NULL;
		if (snprintf(copy, sizeof(copy), "%s%s", writable ? writable : ev->snapshots[v],
			     rel) >= (int)sizeof(copy)) {
			r = snap_writer_fail(w, -ENAMETOOLONG, "database '%s': its path in the "
					     "snapshot is too long", sw->held[i].path);
			break;
		}
		if (sw->held[i].unlocked && !writable) {
			r = snap_writer_fail(w, -EBUSY, "database '%s' was busy at freeze, and its "
					     "snapshot cannot be repaired", sw->held[i].path);
			break;
		}
		if (writable)
			r = repair_copy(w, sw->held[i].path, copy);
		if (r == 0)
			r = check_copy(w, sw->held[i].path, copy);
		checked++;
	}
	if (r < 0)
		common_log("set '%s': %s", ev->set_id, snap_writer_error(w));
	else
		common_log("set '%s': %zu databases pass quick_check in the snapshot (%lld ms)",
			   ev->set_id, checked, common_now_ms() - start);
	common_unlock();
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct snap_writer_callbacks cb = {
		.identify = on_identify,
		.prepare_backup = on_prepare,
		.prepare_snapshot = on_prepare,
		.freeze = on_freeze,
		.thaw = on_thaw,
		.post_snapshot = on_post_snapshot,
		.abort = on_abort,
	};
	struct sqlite_writer sw = { 0 };
	const char *name = "sqlite";
	struct snap_writer *w;
	int c, r, status;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	common_log_name(name);
	if (optind == argc) {
		fprintf(stderr, "snapfs-writer-sqlite: expected database paths or glob patterns\n");
		usage(stderr);
		return EXIT_FAILURE;
	}
	sw.patterns = argv + optind;
	sw.n_patterns = (size_t)(argc - optind);
	w = common_writer_new(name, &cb, &sw);
	if (!w)
		return EXIT_FAILURE;
	r = expand(&sw, true);
	if (r == 0)
		r = describe(w, &sw);
	if (r < 0) {
		common_log("cannot list the databases: %s", strerror(-r));
		snap_writer_free(w);
		return EXIT_FAILURE;
	}
	common_stop_on_signals(w);
	common_log("serving %zu databases (SQLite %s)", sw.n_dbs, sqlite3_libversion());
	status = common_run(w);
	common_lock();
	common_watchdog_disarm();
	if (is_holding(&sw))
		common_log("stopping while set '%s' is frozen: releasing its locks", sw.held_set);
	forget_held(&sw);
	common_set_release(&sw.set);
	common_unlock();
	free_list(sw.dbs, sw.n_dbs);
	snap_writer_free(w);
	return status;
}
