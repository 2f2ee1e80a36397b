/*
 * catalog.c owns the volume's SQLite database and is the only file that includes <sqlite3.h>.
 * It maps SQLite's codes to negative errno values (see catalog.h) and keeps sqlite3_errmsg()
 * for the debug log. It knows nothing of files on disk beyond the database itself: callers
 * free diff-area space for the rows it releases.
 *
 * Schema (PRAGMA user_version), version 1:
 *
 *   props(name TEXT PRIMARY KEY, value TEXT)       volume properties; 'epoch' is the current one
 *   snapshots(id TEXT PRIMARY KEY, set_id TEXT, epoch INTEGER UNIQUE, created_ns INTEGER,
 *             browse TEXT)
 *   files(fid INTEGER PRIMARY KEY, handle BLOB UNIQUE)   stable file ids from file handles
 *   chunks(fid, chunk, epoch, off, len, PRIMARY KEY(fid, chunk, epoch)) WITHOUT ROWID
 *
 * version 2 adds the versioned attributes and the namespace journal:
 *
 *   attrs(fid, epoch, mode, uid, gid, rdev, size, atime_ns, mtime_ns, ctime_ns, xattrs BLOB,
 *         PRIMARY KEY(fid, epoch)) WITHOUT ROWID
 *   names(dir, name BLOB, epoch, fid, PRIMARY KEY(dir, name, epoch)) WITHOUT ROWID
 *         (fid NULL: the name did not exist)
 *
 * version 3 adds the link count to attrs (a snapshot shows the count the file had then) and
 * an index of names by fid (is an unlinked file still named by some snapshot?):
 *
 *   attrs(..., nlink INTEGER NOT NULL DEFAULT 1)
 *   INDEX names_fid ON names(fid)
 *
 * version 4 adds the snapshots kept as whole directory trees (a finished complete copy, a
 * snapshot made by the filesystem). The queries that decide which rows are needed look at
 * snapshots only, so a tree pins no rows. A complete copy is in both tables for a while: a
 * tree for listing and new lookups, still in snapshots for the readers that opened it through
 * the journal, until catalog_journal_release(). bytes is what the tree occupies (0 when
 * unknown or shared).
 *
 *   trees(id TEXT PRIMARY KEY, set_id, epoch INTEGER UNIQUE, created_ns, browse, bytes)
 *
 * and, for redirect-on-write, where a chunk's live bytes are when they are not in SRC, and
 * pre-images kept in place: a chunk row whose off is -1 (CATALOG_IN_SRC) says its pre-image
 * is what SRC holds for that chunk, while the live bytes are in the diff area:
 *
 *   live(fid, chunk, off, len, PRIMARY KEY(fid, chunk)) WITHOUT ROWID
 *
 * Every versioned row (chunk, attributes, directory entry) holds its object as it was before
 * the object's first change in the row's epoch. Row lifetime: a row at epoch e is read by the
 * snapshots s with pe <= s < e, where pe is the epoch of the row before it for the same object
 * (0 if none). It is needed while one such snapshot remains; a chunk row holds a snapshot's
 * bytes alone when exactly one does. Both follow from the rows and the list of snapshot
 * epochs, without walking any tree.
 *
 * Durability: WAL with synchronous=FULL, so a transaction is on disk when its COMMIT returns;
 * the engines rely on that to write a chunk's row before they overwrite the chunk.
 */
#include "catalog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

#define SCHEMA_VERSION 4

/*
 * Prepared statements are kept, by their SQL text, and reused: compiling a query costs more
 * than running the indexed lookups the engine makes on every first write and snapshot read.
 */
#define STMT_CACHE 48

struct cached_stmt {
	char *sql;
	sqlite3_stmt *st;
	bool busy;              /* handed out, not finished yet */
};

struct catalog {
	sqlite3 *db;
	char *path;
	uint64_t epoch;
	struct cached_stmt cache[STMT_CACHE];
	unsigned ncache;
};

static const char schema_v1[] =
	"CREATE TABLE props(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE snapshots(id TEXT PRIMARY KEY, set_id TEXT NOT NULL,"
	" epoch INTEGER NOT NULL UNIQUE, created_ns INTEGER NOT NULL, browse TEXT NOT NULL);"
	"CREATE TABLE files(fid INTEGER PRIMARY KEY, handle BLOB NOT NULL UNIQUE);"
	"CREATE TABLE chunks(fid INTEGER NOT NULL, chunk INTEGER NOT NULL, epoch INTEGER NOT NULL,"
	" off INTEGER NOT NULL, len INTEGER NOT NULL, PRIMARY KEY(fid, chunk, epoch))"
	" WITHOUT ROWID;"
	"INSERT INTO props VALUES('epoch', '1');";

static const char schema_v2[] =
	"CREATE TABLE attrs(fid INTEGER NOT NULL, epoch INTEGER NOT NULL, mode INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, gid INTEGER NOT NULL, rdev INTEGER NOT NULL,"
	" size INTEGER NOT NULL, atime_ns INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
	" ctime_ns INTEGER NOT NULL, xattrs BLOB, PRIMARY KEY(fid, epoch)) WITHOUT ROWID;"
	"CREATE TABLE names(dir INTEGER NOT NULL, name BLOB NOT NULL, epoch INTEGER NOT NULL,"
	" fid INTEGER, PRIMARY KEY(dir, name, epoch)) WITHOUT ROWID;";

static const char schema_v3[] =
	"ALTER TABLE attrs ADD COLUMN nlink INTEGER NOT NULL DEFAULT 1;"
	"CREATE INDEX names_fid ON names(fid);";

static const char schema_v4[] =
	"CREATE TABLE trees(id TEXT PRIMARY KEY, set_id TEXT NOT NULL,"
	" epoch INTEGER NOT NULL UNIQUE, created_ns INTEGER NOT NULL, browse TEXT NOT NULL,"
	" bytes INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE live(fid INTEGER NOT NULL, chunk INTEGER NOT NULL, off INTEGER NOT NULL,"
	" len INTEGER NOT NULL, PRIMARY KEY(fid, chunk)) WITHOUT ROWID;";

/* The schema steps: steps[v] takes version v to v + 1. */
static const char *const steps[SCHEMA_VERSION] = { schema_v1, schema_v2, schema_v3,
						  schema_v4 };

/* Every snapshot's columns, journal-served and trees alike (read_snapshot's order). */
#define ALL_SNAPSHOTS                                                                        \
	"SELECT id, set_id, epoch, created_ns, browse, 0 AS tree, 0 AS bytes FROM snapshots"  \
	" WHERE id NOT IN (SELECT id FROM trees)"                                             \
	" UNION ALL SELECT id, set_id, epoch, created_ns, browse, 1, bytes FROM trees"

/* The epoch of the row before (fid, chunk, epoch), or 0. */
#define PREV_EPOCH                                                                           \
	"COALESCE((SELECT max(p.epoch) FROM chunks p WHERE p.fid = c.fid AND"                \
	" p.chunk = c.chunk AND p.epoch < c.epoch), 0)"

static int map_rc(struct catalog *cat, int rc)
{
	if (cat && cat->db)
		snap_log(LOG_DEBUG, "catalog '%s': %s", cat->path, sqlite3_errmsg(cat->db));
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EUCLEAN;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_READONLY:
		return -EACCES;
	default:
		return -EIO;
	}
}

static int exec(struct catalog *cat, const char *sql)
{
	int rc = sqlite3_exec(cat->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : map_rc(cat, rc);
}

/* A statement for sql, from the cache when it holds an idle one; give it back with finish(). */
static int prepare(struct catalog *cat, const char *sql, sqlite3_stmt **ret)
{
	struct cached_stmt *c;
	int rc;

	for (unsigned i = 0; i < cat->ncache; i++) {
		c = &cat->cache[i];
		if (!c->busy && strcmp(c->sql, sql) == 0) {
			c->busy = true;
			*ret = c->st;
			return 0;
		}
	}
	rc = sqlite3_prepare_v3(cat->db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL);
	if (rc != SQLITE_OK)
		return map_rc(cat, rc);
	if (cat->ncache < STMT_CACHE) {
		c = &cat->cache[cat->ncache];
		c->sql = strdup(sql);
		if (c->sql) {
			c->st = *ret;
			c->busy = true;
			cat->ncache++;
		}
	}
	return 0;
}

/* Done with a statement from prepare(): a cached one is reset for the next use. */
static void finish(struct catalog *cat, sqlite3_stmt *st)
{
	for (unsigned i = 0; i < cat->ncache; i++) {
		if (cat->cache[i].st == st) {
			(void)sqlite3_reset(st);
			(void)sqlite3_clear_bindings(st);
			cat->cache[i].busy = false;
			return;
		}
	}
	finish(cat, st);
}

/* Step a statement that returns no rows, and finish it. */
static int run(struct catalog *cat, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	finish(cat, st);
	return rc == SQLITE_DONE ? 0 : map_rc(cat, rc);
}

static int query_int(struct catalog *cat, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st;
	int r = prepare(cat, sql, &st), rc;

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(st, 0);
	finish(cat, st);
	return rc == SQLITE_ROW ? 0 : (rc == SQLITE_DONE ? -ENOENT : map_rc(cat, rc));
}

static int load_epoch(struct catalog *cat)
{
	int64_t e;
	int r = query_int(cat, "SELECT CAST(value AS INTEGER) FROM props WHERE name = 'epoch'", &e);

	if (r == -ENOENT || (r == 0 && e < 1))
		return -EUCLEAN;
	if (r == 0)
		cat->epoch = (uint64_t)e;
	return r;
}

/* Bring the schema to SCHEMA_VERSION. */
static int migrate(struct catalog *cat, char *msg, size_t msglen)
{
	int64_t version;
	int r = query_int(cat, "PRAGMA user_version", &version);

	if (r < 0)
		return r;
	if (version > SCHEMA_VERSION) {
		snprintf(msg, msglen, "catalog '%s' has schema version %lld, newer than this "
			 "snapfs understands (%d)", cat->path, (long long)version, SCHEMA_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (version == SCHEMA_VERSION)
		return 0;
	r = exec(cat, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	/* version 0 is an empty database; all steps commit together */
	for (; version < SCHEMA_VERSION && r == 0; version++)
		r = exec(cat, steps[version]);
	if (r == 0) {
		char sql[40];

		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
		r = exec(cat, sql);
	}
	if (r == 0)
		r = exec(cat, "COMMIT");
	if (r == 0)
		return 0;
	(void)exec(cat, "ROLLBACK");
	snprintf(msg, msglen, "catalog '%s': cannot upgrade its schema: %s", cat->path,
		 strerror(-r));
	return r;
}

static int quick_check(struct catalog *cat, char *msg, size_t msglen)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "PRAGMA quick_check", &st), rc;

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		snprintf(msg, msglen, "catalog '%s' is damaged: %s", cat->path,
			 (const char *)sqlite3_column_text(st, 0));
		r = -EUCLEAN;
	} else if (rc != SQLITE_ROW) {
		r = map_rc(cat, rc);
	}
	finish(cat, st);
	return r;
}

int catalog_schema_version(void)
{
	return SCHEMA_VERSION;
}

int catalog_open(const char *state_dir, struct catalog **ret_cat, char *msg, size_t msglen)
{
	struct catalog *cat = calloc(1, sizeof(*cat));
	int r, rc;

	if (!cat)
		return -ENOMEM;
	if (asprintf(&cat->path, "%s/%s", state_dir, CATALOG_NAME) < 0) {
		free(cat);
		return -ENOMEM;
	}
	msg[0] = '\0';
	rc = sqlite3_open_v2(cat->path, &cat->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	r = rc == SQLITE_OK ? 0 : map_rc(cat, rc);
	if (r == 0)
		r = exec(cat, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
	if (r == 0)
		r = quick_check(cat, msg, msglen);
	if (r == 0)
		r = migrate(cat, msg, msglen);
	if (r == 0)
		r = load_epoch(cat);
	if (r < 0) {
		if (!msg[0])
			snprintf(msg, msglen, "catalog '%s': %s", cat->path,
				 r == -EUCLEAN ? "damaged or not a snapfs catalog" : strerror(-r));
		catalog_close(cat);
		return r;
	}
	*ret_cat = cat;
	return 0;
}

void catalog_close(struct catalog *cat)
{
	if (!cat)
		return;
	for (unsigned i = 0; i < cat->ncache; i++) {
		(void)sqlite3_finalize(cat->cache[i].st);
		free(cat->cache[i].sql);
	}
	(void)sqlite3_close(cat->db);
	free(cat->path);
	free(cat);
}

int catalog_prop_get(struct catalog *cat, const char *name, char *buf, size_t size)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT value FROM props WHERE name = ?", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		size_t len = strlen(v);

		if (len >= size) {
			r = -ERANGE;
		} else {
			memcpy(buf, v, len + 1);
			r = (int)len;
		}
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : map_rc(cat, rc);
	}
	finish(cat, st);
	return r;
}

int catalog_prop_set(struct catalog *cat, const char *name, const char *value)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "INSERT OR REPLACE INTO props VALUES(?, ?)", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return run(cat, st);
}

uint64_t catalog_epoch(const struct catalog *cat)
{
	return cat->epoch;
}

int catalog_snapshot_create(struct catalog *cat, struct catalog_snapshot *snap)
{
	sqlite3_stmt *st;
	char next[24];
	int r;

	r = exec(cat, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = prepare(cat, snap->tree ? "INSERT INTO trees VALUES(?, ?, ?, ?, ?, 0)" :
		    "INSERT INTO snapshots VALUES(?, ?, ?, ?, ?)", &st);
	if (r < 0)
		goto out_rollback;
	sqlite3_bind_text(st, 1, snap->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, snap->set_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)cat->epoch);
	sqlite3_bind_int64(st, 4, snap->created_ns);
	sqlite3_bind_text(st, 5, snap->browse, -1, SQLITE_STATIC);
	r = run(cat, st);
	if (r < 0)
		goto out_rollback;
	snprintf(next, sizeof(next), "%llu", (unsigned long long)cat->epoch + 1);
	r = catalog_prop_set(cat, "epoch", next);
	if (r < 0)
		goto out_rollback;
	r = exec(cat, "COMMIT");
	if (r < 0)
		goto out_rollback;
	snap->epoch = cat->epoch++;
	return 0;
out_rollback:
	(void)exec(cat, "ROLLBACK");
	return r;
}

static void read_snapshot(sqlite3_stmt *st, struct catalog_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(s->set_id, sizeof(s->set_id), "%s", (const char *)sqlite3_column_text(st, 1));
	s->epoch = (uint64_t)sqlite3_column_int64(st, 2);
	s->created_ns = sqlite3_column_int64(st, 3);
	snprintf(s->browse, sizeof(s->browse), "%s", (const char *)sqlite3_column_text(st, 4));
	s->tree = sqlite3_column_int(st, 5) != 0;
	s->diff_bytes = (uint64_t)sqlite3_column_int64(st, 6);
}

/* Make room in the heap array *arr (capacity *cap) for element n; 0 or -ENOMEM. */
static int make_room(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *m;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	m = realloc(*arr, ncap * elem);
	if (!m)
		return -ENOMEM;
	*arr = m;
	*cap = ncap;
	return 0;
}

/*
 * The snapshots the journal serves (trees too when all), oldest first, in a heap array the
 * caller frees.
 */
static int load_snapshots(struct catalog *cat, bool all_kinds, struct catalog_snapshot **ret,
			  size_t *ret_n)
{
	struct catalog_snapshot *all = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int r = prepare(cat, all_kinds ? ALL_SNAPSHOTS " ORDER BY epoch" :
			"SELECT id, set_id, epoch, created_ns, browse, 0, 0 FROM snapshots "
			"ORDER BY epoch", &st), rc;

	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = make_room((void **)&all, &cap, n, sizeof(*all));
		if (r < 0)
			break;
		read_snapshot(st, &all[n++]);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(cat, rc);
	finish(cat, st);
	if (r < 0) {
		free(all);
		return r;
	}
	*ret = all;
	*ret_n = n;
	return 0;
}

/* Index of the first snapshot with epoch >= e in snaps (sorted), or n. */
static size_t first_at_or_after(const struct catalog_snapshot *snaps, size_t n, uint64_t e)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (snaps[mid].epoch < e)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int catalog_snapshot_each(struct catalog *cat,
			  int (*fn)(const struct catalog_snapshot *snap, void *ctx), void *ctx)
{
	struct catalog_snapshot *snaps = NULL;
	size_t n = 0;
	int r = load_snapshots(cat, true, &snaps, &n);

	for (size_t i = 0; i < n && r == 0; i++)
		r = fn(&snaps[i], ctx);
	free(snaps);
	return r;
}

int catalog_snapshot_list(struct catalog *cat,
			  int (*fn)(const struct catalog_snapshot *snap, void *ctx), void *ctx)
{
	struct catalog_snapshot *snaps = NULL, *all = NULL;
	sqlite3_stmt *st;
	size_t n, nall, j = 0;
	int r, rc;

	r = load_snapshots(cat, false, &snaps, &n);
	if (r == 0)
		r = load_snapshots(cat, true, &all, &nall);
	if (r < 0)
		goto out_free;
	/* a row whose interval [pe, e) holds exactly one snapshot is that snapshot's alone */
	r = prepare(cat, "SELECT c.len * (c.off >= 0), c.epoch, " PREV_EPOCH " FROM chunks c", &st);
	if (r < 0)
		goto out_free;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t e = (uint64_t)sqlite3_column_int64(st, 1);
		uint64_t pe = (uint64_t)sqlite3_column_int64(st, 2);
		size_t i = first_at_or_after(snaps, n, pe);

		if (i < n && snaps[i].epoch < e && (i + 1 == n || snaps[i + 1].epoch >= e))
			snaps[i].diff_bytes += (uint64_t)sqlite3_column_int64(st, 0);
	}
	finish(cat, st);
	if (rc != SQLITE_DONE) {
		r = map_rc(cat, rc);
		goto out_free;
	}
	/* both lists are in epoch order: the journal's counts go to their places in the whole */
	for (size_t i = 0; i < nall && r == 0; i++) {
		while (j < n && snaps[j].epoch < all[i].epoch)
			j++;
		if (!all[i].tree && j < n)
			all[i].diff_bytes = snaps[j].diff_bytes;
		r = fn(&all[i], ctx);
	}
out_free:
	free(snaps);
	free(all);
	return r;
}

int catalog_snapshot_get(struct catalog *cat, const char *id, struct catalog_snapshot *ret)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT * FROM (" ALL_SNAPSHOTS ") WHERE id = ?", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_snapshot(st, ret);
	finish(cat, st);
	return rc == SQLITE_ROW ? 0 : (rc == SQLITE_DONE ? -ENOENT : map_rc(cat, rc));
}

static void read_chunk(sqlite3_stmt *st, struct catalog_chunk *c)
{
	c->fid = sqlite3_column_int64(st, 0);
	c->chunk = (uint64_t)sqlite3_column_int64(st, 1);
	c->epoch = (uint64_t)sqlite3_column_int64(st, 2);
	c->offset = (uint64_t)sqlite3_column_int64(st, 3);
	c->length = (uint32_t)sqlite3_column_int64(st, 4);
}

/* Delete the chunk row c. */
static int delete_chunk(struct catalog *cat, sqlite3_stmt *del, const struct catalog_chunk *c)
{
	int rc;

	sqlite3_bind_int64(del, 1, c->fid);
	sqlite3_bind_int64(del, 2, (int64_t)c->chunk);
	sqlite3_bind_int64(del, 3, (int64_t)c->epoch);
	rc = sqlite3_step(del);
	(void)sqlite3_reset(del);
	return rc == SQLITE_DONE ? 0 : map_rc(cat, rc);
}

/*
 * The rows that only the snapshot at epoch s reads, given the remaining snapshots: the first
 * row above s of each chunk, unless another snapshot falls in its interval. Heap array.
 */
static int unneeded_rows(struct catalog *cat, uint64_t s, const struct catalog_snapshot *snaps,
			 size_t n, struct catalog_chunk **ret, size_t *ret_n)
{
	struct catalog_chunk *rows = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = prepare(cat, "SELECT c.fid, c.chunk, c.epoch, c.off, c.len, " PREV_EPOCH
		    " FROM chunks c WHERE c.epoch > ?1 AND " PREV_EPOCH " <= ?1", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)s);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t pe = (uint64_t)sqlite3_column_int64(st, 5);
		size_t i = first_at_or_after(snaps, n, pe);
		struct catalog_chunk c;

		read_chunk(st, &c);
		if (i < n && snaps[i].epoch < c.epoch)
			continue; /* another snapshot still reads it */
		r = make_room((void **)&rows, &cap, count, sizeof(*rows));
		if (r < 0)
			break;
		rows[count++] = c;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(cat, rc);
	finish(cat, st);
	if (r < 0) {
		free(rows);
		return r;
	}
	*ret = rows;
	*ret_n = count;
	return 0;
}

/*
 * Delete the attribute and name rows that only the snapshot at epoch s read (it is already
 * gone from snapshots): those that were the first above s for their object and that no
 * remaining snapshot falls under.
 */
static int delete_unneeded_meta(struct catalog *cat, uint64_t s)
{
	static const char *const sql[] = {
		"DELETE FROM attrs AS c WHERE c.epoch > ?1 AND ?1 >= COALESCE((SELECT max(p.epoch)"
		" FROM attrs p WHERE p.fid = c.fid AND p.epoch < c.epoch), 0) AND NOT EXISTS"
		" (SELECT 1 FROM snapshots n WHERE n.epoch < c.epoch AND n.epoch >="
		" COALESCE((SELECT max(p.epoch) FROM attrs p WHERE p.fid = c.fid AND"
		" p.epoch < c.epoch), 0))",
		"DELETE FROM names AS c WHERE c.epoch > ?1 AND ?1 >= COALESCE((SELECT max(p.epoch)"
		" FROM names p WHERE p.dir = c.dir AND p.name = c.name AND p.epoch < c.epoch), 0)"
		" AND NOT EXISTS (SELECT 1 FROM snapshots n WHERE n.epoch < c.epoch AND n.epoch >="
		" COALESCE((SELECT max(p.epoch) FROM names p WHERE p.dir = c.dir AND"
		" p.name = c.name AND p.epoch < c.epoch), 0))",
	};
	int r = 0;

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]) && r == 0; i++) {
		sqlite3_stmt *st;

		r = prepare(cat, sql[i], &st);
		if (r == 0) {
			sqlite3_bind_int64(st, 1, (int64_t)s);
			r = run(cat, st);
		}
	}
	return r;
}

/*
 * Drop the journal-served snapshot victim (its row already gone or moved, inside the caller's
 * transaction): delete the rows no remaining snapshot needs; the chunk rows freed go to *ret.
 */
static int drop_rows_of(struct catalog *cat, const struct catalog_snapshot *victim,
			struct catalog_chunk **ret, size_t *ret_n)
{
	struct catalog_snapshot *snaps = NULL;
	struct catalog_chunk *rows = NULL;
	sqlite3_stmt *st;
	size_t n, nrows = 0;
	int r = load_snapshots(cat, false, &snaps, &n);

	if (r == 0)
		r = unneeded_rows(cat, victim->epoch, snaps, n, &rows, &nrows);
	if (r == 0)
		r = delete_unneeded_meta(cat, victim->epoch);
	if (r == 0)
		r = prepare(cat, "DELETE FROM chunks WHERE fid = ? AND chunk = ? AND epoch = ?", &st);
	if (r == 0) {
		for (size_t i = 0; i < nrows && r == 0; i++)
			r = delete_chunk(cat, st, &rows[i]);
		finish(cat, st);
	}
	free(snaps);
	if (r < 0) {
		free(rows);
		return r;
	}
	*ret = rows;
	*ret_n = nrows;
	return 0;
}

/* Run sql (one text parameter: id) inside the current transaction. */
static int run_with_id(struct catalog *cat, const char *sql, const char *id)
{
	sqlite3_stmt *st;
	int r = prepare(cat, sql, &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return run(cat, st);
}

/*
 * Delete snapshot id: from the trees when tree, from the journal when journal (with the rows no
 * other snapshot needs; release is called for each chunk row freed). -ENOENT when it is in
 * neither place asked for.
 */
static int remove_snapshot(struct catalog *cat, const char *id, bool tree, bool journal,
			   void (*release)(const struct catalog_chunk *c, void *ctx), void *ctx)
{
	struct catalog_snapshot victim = { 0 };
	struct catalog_chunk *rows = NULL;
	size_t nrows = 0;
	bool found = false;
	sqlite3_stmt *st;
	int r, rc;

	r = exec(cat, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	if (tree) {
		r = run_with_id(cat, "DELETE FROM trees WHERE id = ?", id);
		found = sqlite3_changes(cat->db) > 0;
	}
	if (r == 0 && journal)
		r = prepare(cat, "SELECT id, set_id, epoch, created_ns, browse, 0, 0 FROM snapshots"
			    " WHERE id = ?", &st);
	if (r == 0 && journal) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			read_snapshot(st, &victim);
		finish(cat, st);
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : map_rc(cat, rc);
		if (r == 0 && rc == SQLITE_ROW) {
			found = true;
			r = run_with_id(cat, "DELETE FROM snapshots WHERE id = ?", id);
			if (r == 0)
				r = drop_rows_of(cat, &victim, &rows, &nrows);
		}
	}
	if (r == 0 && !found)
		r = -ENOENT;
	if (r == 0)
		r = exec(cat, "COMMIT");
	if (r < 0) {
		(void)exec(cat, "ROLLBACK");
		return r;
	}
	for (size_t i = 0; release && i < nrows; i++)
		release(&rows[i], ctx);
	free(rows);
	return (int)nrows;
}

int catalog_snapshot_delete(struct catalog *cat, const char *id,
			    void (*release)(const struct catalog_chunk *c, void *ctx), void *ctx)
{
	return remove_snapshot(cat, id, true, true, release, ctx);
}

int catalog_tree_add(struct catalog *cat, const char *id, uint64_t bytes)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "INSERT INTO trees SELECT id, set_id, epoch, created_ns, browse, ?2"
			" FROM snapshots WHERE id = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)(bytes & INT64_MAX));
	r = run(cat, st);
	if (r == 0 && sqlite3_changes(cat->db) == 0)
		r = -ENOENT;
	return r;
}

int catalog_journal_release(struct catalog *cat, const char *id,
			    void (*release)(const struct catalog_chunk *c, void *ctx), void *ctx)
{
	struct catalog_snapshot s;
	int r = catalog_snapshot_get(cat, id, &s);

	if (r == 0 && !s.tree)
		r = -EINVAL;
	return r < 0 ? r : remove_snapshot(cat, id, false, true, release, ctx);
}

int catalog_file_id(struct catalog *cat, const void *handle, size_t len, int64_t *ret_fid)
{
	sqlite3_stmt *st;
	int r, rc;

	r = prepare(cat, "INSERT INTO files(handle) VALUES(?1) ON CONFLICT(handle) DO UPDATE SET "
		    "handle = excluded.handle RETURNING fid", &st);
	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, handle, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret_fid = sqlite3_column_int64(st, 0);
	finish(cat, st);
	return rc == SQLITE_ROW ? 0 : map_rc(cat, rc);
}

int catalog_chunks_put(struct catalog *cat, const struct catalog_chunk *rows, size_t n)
{
	bool own = sqlite3_get_autocommit(cat->db) != 0;
	sqlite3_stmt *st;
	int r;

	r = own ? exec(cat, "BEGIN IMMEDIATE") : 0;
	if (r < 0)
		return r;
	r = prepare(cat, "INSERT INTO chunks VALUES(?, ?, ?, ?, ?)", &st);
	if (r < 0)
		goto out_rollback;
	for (size_t i = 0; i < n && r == 0; i++) {
		int rc;

		sqlite3_bind_int64(st, 1, rows[i].fid);
		sqlite3_bind_int64(st, 2, (int64_t)rows[i].chunk);
		sqlite3_bind_int64(st, 3, (int64_t)rows[i].epoch);
		sqlite3_bind_int64(st, 4, (int64_t)rows[i].offset);
		sqlite3_bind_int64(st, 5, rows[i].length);
		rc = sqlite3_step(st);
		(void)sqlite3_reset(st);
		r = rc == SQLITE_DONE ? 0 : map_rc(cat, rc);
	}
	finish(cat, st);
	if (!own)
		return r;
	if (r == 0)
		r = exec(cat, "COMMIT");
	if (r == 0)
		return 0;
out_rollback:
	if (own)
		(void)exec(cat, "ROLLBACK");
	return r;
}

int catalog_chunk_find(struct catalog *cat, int64_t fid, uint64_t chunk, uint64_t snap_epoch,
		       struct catalog_chunk *ret)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT fid, chunk, epoch, off, len FROM chunks WHERE fid = ? AND "
			"chunk = ? AND epoch > ? ORDER BY epoch LIMIT 1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, fid);
	sqlite3_bind_int64(st, 2, (int64_t)chunk);
	sqlite3_bind_int64(st, 3, (int64_t)snap_epoch);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_chunk(st, ret);
	finish(cat, st);
	return rc == SQLITE_ROW ? 1 : (rc == SQLITE_DONE ? 0 : map_rc(cat, rc));
}

int catalog_diff_extent(struct catalog *cat, uint32_t unit, uint64_t *ret_end,
			uint64_t *ret_bytes)
{
	int64_t end, bytes;
	char sql[256];
	int r = query_int(cat, "SELECT COALESCE(max(e), 0) FROM (SELECT max(off + len) AS e FROM"
			  " chunks WHERE off >= 0 UNION ALL SELECT max(off + len) FROM live)", &end);

	snprintf(sql, sizeof(sql), "SELECT COALESCE(sum((len + %u) / %u * %u), 0) FROM (SELECT"
		 " len FROM chunks WHERE off >= 0 UNION ALL SELECT len FROM live)", unit - 1, unit,
		 unit);
	if (r == 0)
		r = query_int(cat, sql, &bytes);
	if (r < 0)
		return r;
	*ret_end = (uint64_t)end;
	*ret_bytes = (uint64_t)bytes;
	return 0;
}

int catalog_chunk_preserved(struct catalog *cat, int64_t fid, uint64_t chunk)
{
	struct catalog_chunk c;
	int r = catalog_chunk_find(cat, fid, chunk, cat->epoch - 1, &c);

	return r <= 0 ? r : c.epoch == cat->epoch;
}

int catalog_attr_put(struct catalog *cat, const struct catalog_attr *a)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "INSERT INTO attrs VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, a->fid);
	sqlite3_bind_int64(st, 2, (int64_t)a->epoch);
	sqlite3_bind_int64(st, 3, a->mode);
	sqlite3_bind_int64(st, 4, a->uid);
	sqlite3_bind_int64(st, 5, a->gid);
	sqlite3_bind_int64(st, 6, (int64_t)a->rdev);
	sqlite3_bind_int64(st, 7, a->size);
	sqlite3_bind_int64(st, 8, a->atime_ns);
	sqlite3_bind_int64(st, 9, a->mtime_ns);
	sqlite3_bind_int64(st, 10, a->ctime_ns);
	if (a->xattrs_len)
		sqlite3_bind_blob(st, 11, a->xattrs, (int)a->xattrs_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, a->nlink);
	return run(cat, st);
}

int catalog_attr_find(struct catalog *cat, int64_t fid, uint64_t snap_epoch,
		      struct catalog_attr *ret, void *xattrs, size_t xattrs_size)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT fid, epoch, mode, uid, gid, rdev, size, atime_ns, mtime_ns,"
			" ctime_ns, xattrs, nlink FROM attrs WHERE fid = ? AND epoch > ? ORDER BY epoch"
			" LIMIT 1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, fid);
	sqlite3_bind_int64(st, 2, (int64_t)snap_epoch);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(st, 10);

		ret->fid = sqlite3_column_int64(st, 0);
		ret->epoch = (uint64_t)sqlite3_column_int64(st, 1);
		ret->mode = (uint32_t)sqlite3_column_int64(st, 2);
		ret->uid = (uint32_t)sqlite3_column_int64(st, 3);
		ret->gid = (uint32_t)sqlite3_column_int64(st, 4);
		ret->rdev = (uint64_t)sqlite3_column_int64(st, 5);
		ret->size = sqlite3_column_int64(st, 6);
		ret->atime_ns = sqlite3_column_int64(st, 7);
		ret->mtime_ns = sqlite3_column_int64(st, 8);
		ret->ctime_ns = sqlite3_column_int64(st, 9);
		ret->nlink = (uint32_t)sqlite3_column_int64(st, 11);
		ret->xattrs = xattrs;
		ret->xattrs_len = len;
		if (!xattrs)
			ret->xattrs = NULL;
		else if (len > xattrs_size)
			r = -ERANGE;
		else if (len)
			memcpy(xattrs, sqlite3_column_blob(st, 10), len);
	}
	finish(cat, st);
	if (r < 0)
		return r;
	return rc == SQLITE_ROW ? 1 : (rc == SQLITE_DONE ? 0 : map_rc(cat, rc));
}

int catalog_name_put(struct catalog *cat, int64_t dir, const char *name, uint64_t epoch,
		     int64_t fid)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "INSERT INTO names VALUES(?, ?, ?, ?)", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, dir);
	sqlite3_bind_blob(st, 2, name, (int)strlen(name), SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)epoch);
	if (fid)
		sqlite3_bind_int64(st, 4, fid);
	return run(cat, st);
}

int catalog_names_list(struct catalog *cat, int64_t dir, uint64_t snap_epoch,
		       int (*fn)(const char *name, int64_t fid, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT c.name, c.fid FROM names c WHERE c.dir = ?1 AND"
			" c.epoch = (SELECT min(p.epoch) FROM names p WHERE p.dir = c.dir AND"
			" p.name = c.name AND p.epoch > ?2) ORDER BY c.name", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, dir);
	sqlite3_bind_int64(st, 2, (int64_t)snap_epoch);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char name[256];
		int len = sqlite3_column_bytes(st, 0);

		if (len <= 0 || len >= (int)sizeof(name))
			continue;
		memcpy(name, sqlite3_column_blob(st, 0), (size_t)len);
		name[len] = '\0';
		r = fn(name, sqlite3_column_int64(st, 1), ctx);
		if (r != 0)
			break;
	}
	finish(cat, st);
	if (r != 0)
		return r;
	return rc == SQLITE_DONE ? 0 : map_rc(cat, rc);
}

int catalog_begin(struct catalog *cat)
{
	return exec(cat, "BEGIN IMMEDIATE");
}

int catalog_commit(struct catalog *cat)
{
	int r = exec(cat, "COMMIT");

	if (r < 0)
		(void)exec(cat, "ROLLBACK");
	return r;
}

void catalog_rollback(struct catalog *cat)
{
	if (!sqlite3_get_autocommit(cat->db))
		(void)exec(cat, "ROLLBACK");
}

int catalog_file_find(struct catalog *cat, const void *handle, size_t len, int64_t *ret_fid)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT fid FROM files WHERE handle = ?", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, handle, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret_fid = sqlite3_column_int64(st, 0);
	finish(cat, st);
	return rc == SQLITE_ROW ? 0 : (rc == SQLITE_DONE ? -ENOENT : map_rc(cat, rc));
}

int catalog_file_handle(struct catalog *cat, int64_t fid, void *buf, size_t size)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT handle FROM files WHERE fid = ?", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, fid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int len = sqlite3_column_bytes(st, 0);

		if ((size_t)len > size) {
			r = -ERANGE;
		} else {
			memcpy(buf, sqlite3_column_blob(st, 0), (size_t)len);
			r = len;
		}
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : map_rc(cat, rc);
	}
	finish(cat, st);
	return r;
}

int catalog_name_find(struct catalog *cat, int64_t dir, const char *name, uint64_t snap_epoch,
		      int64_t *ret_fid)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT fid FROM names WHERE dir = ? AND name = ? AND epoch > ?"
			" ORDER BY epoch LIMIT 1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, dir);
	sqlite3_bind_blob(st, 2, name, (int)strlen(name), SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)snap_epoch);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret_fid = sqlite3_column_int64(st, 0); /* NULL reads as 0: absent */
	finish(cat, st);
	return rc == SQLITE_ROW ? 1 : (rc == SQLITE_DONE ? 0 : map_rc(cat, rc));
}

int catalog_fid_named(struct catalog *cat, int64_t fid)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT 1 FROM names WHERE fid = ? LIMIT 1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, fid);
	rc = sqlite3_step(st);
	finish(cat, st);
	return rc == SQLITE_ROW ? 1 : (rc == SQLITE_DONE ? 0 : map_rc(cat, rc));
}

int catalog_snapshot_count(struct catalog *cat)
{
	int64_t n;
	int r = query_int(cat, "SELECT count(*) FROM (" ALL_SNAPSHOTS ")", &n);

	return r < 0 ? r : (int)n;
}

/* max(epoch) of the rows of one object, 0 when it has none. */
static int last_epoch(struct catalog *cat, const char *sql, int64_t a, const void *blob,
		      size_t blob_len, int64_t b, uint64_t *ret)
{
	sqlite3_stmt *st;
	int r = prepare(cat, sql, &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, a);
	if (blob)
		sqlite3_bind_blob(st, 2, blob, (int)blob_len, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = (uint64_t)sqlite3_column_int64(st, 0);
	finish(cat, st);
	return rc == SQLITE_ROW ? 0 : map_rc(cat, rc);
}

int catalog_chunk_last(struct catalog *cat, int64_t fid, uint64_t chunk, uint64_t *ret)
{
	return last_epoch(cat, "SELECT COALESCE(max(epoch), 0) FROM chunks WHERE fid = ?1 AND"
			  " chunk = ?2", fid, NULL, 0, (int64_t)chunk, ret);
}

int catalog_attr_last(struct catalog *cat, int64_t fid, uint64_t *ret)
{
	return last_epoch(cat, "SELECT COALESCE(max(epoch), 0) FROM attrs WHERE fid = ?1 AND"
			  " ?2 = ?2", fid, NULL, 0, 0, ret);
}

int catalog_name_last(struct catalog *cat, int64_t dir, const char *name, uint64_t *ret)
{
	return last_epoch(cat, "SELECT COALESCE(max(epoch), 0) FROM names WHERE dir = ?1 AND"
			  " name = ?2", dir, name, strlen(name), 0, ret);
}

int catalog_journal_count(struct catalog *cat)
{
	int64_t n;
	int r = query_int(cat, "SELECT count(*) FROM snapshots", &n);

	return r < 0 ? r : (int)n;
}

int catalog_journal_has(struct catalog *cat, uint64_t epoch)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT 1 FROM snapshots WHERE epoch = ?", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)epoch);
	rc = sqlite3_step(st);
	finish(cat, st);
	return rc == SQLITE_ROW ? 1 : (rc == SQLITE_DONE ? 0 : map_rc(cat, rc));
}

int catalog_newest_epoch(struct catalog *cat, uint64_t *ret)
{
	int64_t v;
	int r = query_int(cat, "SELECT COALESCE(max(epoch), 0) FROM snapshots", &v);

	if (r == 0)
		*ret = (uint64_t)v;
	return r;
}

int catalog_live_put(struct catalog *cat, int64_t fid, uint64_t chunk, uint64_t off,
		     uint32_t len)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "INSERT OR REPLACE INTO live VALUES(?, ?, ?, ?)", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, fid);
	sqlite3_bind_int64(st, 2, (int64_t)chunk);
	sqlite3_bind_int64(st, 3, (int64_t)off);
	sqlite3_bind_int64(st, 4, len);
	return run(cat, st);
}

int catalog_live_delete(struct catalog *cat, int64_t fid, uint64_t chunk)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "DELETE FROM live WHERE fid = ? AND chunk = ?", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, fid);
	sqlite3_bind_int64(st, 2, (int64_t)chunk);
	return run(cat, st);
}

int catalog_live_each(struct catalog *cat,
		      int (*fn)(int64_t fid, uint64_t chunk, uint64_t off, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT fid, chunk, off FROM live ORDER BY fid, chunk", &st), rc;

	if (r < 0)
		return r;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = fn(sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
		       (uint64_t)sqlite3_column_int64(st, 2), ctx);
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(cat, rc);
	finish(cat, st);
	return r;
}

int catalog_chunk_in_src(struct catalog *cat, int64_t fid, uint64_t chunk,
			 struct catalog_chunk *ret)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "SELECT fid, chunk, epoch, off, len FROM chunks WHERE fid = ? AND"
			" chunk = ? AND off = -1", &st), rc;

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, fid);
	sqlite3_bind_int64(st, 2, (int64_t)chunk);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_chunk(st, ret);
	finish(cat, st);
	return rc == SQLITE_ROW ? 1 : (rc == SQLITE_DONE ? 0 : map_rc(cat, rc));
}

int catalog_chunk_move(struct catalog *cat, const struct catalog_chunk *c, uint64_t off)
{
	sqlite3_stmt *st;
	int r = prepare(cat, "UPDATE chunks SET off = ? WHERE fid = ? AND chunk = ? AND epoch = ?",
			&st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)off);
	sqlite3_bind_int64(st, 2, c->fid);
	sqlite3_bind_int64(st, 3, (int64_t)c->chunk);
	sqlite3_bind_int64(st, 4, (int64_t)c->epoch);
	r = run(cat, st);
	return r == 0 && sqlite3_changes(cat->db) == 0 ? -ENOENT : r;
}
