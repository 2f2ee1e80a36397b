/* Unit tests of catalog.c: schema and integrity checks, epochs, snapshots and chunk rows. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"

struct fixture {
	char dir[64];
	char msg[PATH_MAX * 2];
	struct catalog *cat;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/snapfs-catalog.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(catalog_open(f->dir, &f->cat, f->msg, sizeof(f->msg)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	catalog_close(f->cat);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(catalog_open(f->dir, &f->cat, f->msg, sizeof(f->msg)), 0);
}

static uint64_t snap(struct fixture *f, const char *id)
{
	struct catalog_snapshot s = { 0 };

	snprintf(s.id, sizeof(s.id), "%s", id);
	snprintf(s.set_id, sizeof(s.set_id), "set-%s", id);
	snprintf(s.browse, sizeof(s.browse), "@GMT-2026.11.25-12.00.%02d", (int)strlen(id));
	s.created_ns = 1764072000000000000ll;
	assert_int_equal(catalog_snapshot_create(f->cat, &s), 0);
	return s.epoch;
}

static void put(struct fixture *f, int64_t fid, uint64_t chunk, uint64_t epoch, uint64_t off,
		uint32_t len)
{
	struct catalog_chunk c = { fid, chunk, epoch, off, len };

	assert_int_equal(catalog_chunks_put(f->cat, &c, 1), 0);
}

/* The epoch of the row a snapshot at epoch s reads (fid 1, chunk 0), 0 for the live file. */
static uint64_t reads(struct fixture *f, uint64_t s)
{
	struct catalog_chunk c;
	int r = catalog_chunk_find(f->cat, 1, 0, s, &c);

	assert_true(r >= 0);
	return r ? c.epoch : 0;
}

static void test_catalog_starts_at_epoch_one_and_persists(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(catalog_epoch(f->cat), 1);
	assert_int_equal(snap(f, "a"), 1);
	assert_int_equal(snap(f, "b"), 2);
	assert_int_equal(catalog_epoch(f->cat), 3);
	reopen(f);
	assert_int_equal(catalog_epoch(f->cat), 3);
}

static void test_catalog_rejects_duplicate_snapshot_id(void **state)
{
	struct fixture *f = *state;
	struct catalog_snapshot s = { .id = "a", .set_id = "s", .browse = "@GMT-x" };

	snap(f, "a");
	assert_int_equal(catalog_snapshot_create(f->cat, &s), -EEXIST);
	assert_int_equal(catalog_epoch(f->cat), 2);
	reopen(f);
	assert_int_equal(catalog_epoch(f->cat), 2);
}

static void test_catalog_properties(void **state)
{
	struct fixture *f = *state;
	char buf[8];

	assert_int_equal(catalog_prop_get(f->cat, "maxsize", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(catalog_prop_set(f->cat, "maxsize", "10G"), 0);
	assert_int_equal(catalog_prop_get(f->cat, "maxsize", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "10G");
	assert_int_equal(catalog_prop_set(f->cat, "maxsize", "123456789"), 0);
	assert_int_equal(catalog_prop_get(f->cat, "maxsize", buf, sizeof(buf)), -ERANGE);
}

static void test_catalog_file_ids_are_stable(void **state)
{
	struct fixture *f = *state;
	int64_t a, b, a2;

	assert_int_equal(catalog_file_id(f->cat, "\x01\x02", 2, &a), 0);
	assert_int_equal(catalog_file_id(f->cat, "\x01\x03", 2, &b), 0);
	assert_int_not_equal(a, b);
	reopen(f);
	assert_int_equal(catalog_file_id(f->cat, "\x01\x02", 2, &a2), 0);
	assert_int_equal(a, a2);
}

static void test_catalog_snapshot_reads_first_row_above_its_epoch(void **state)
{
	struct fixture *f = *state;
	uint64_t s1, s2, s3;

	s1 = snap(f, "s1");          /* epoch 1 */
	put(f, 1, 0, 2, 0, 4096);    /* chunk changed in epoch 2: pre-image is s1's */
	s2 = snap(f, "s2");          /* epoch 2 */
	s3 = snap(f, "s3");          /* epoch 3, chunk unchanged since s2 */
	put(f, 1, 0, 4, 4096, 4096); /* changed again in epoch 4 */
	assert_int_equal(reads(f, s1), 2);
	assert_int_equal(reads(f, s2), 4);
	assert_int_equal(reads(f, s3), 4);
	assert_int_equal(reads(f, 4), 0); /* the live state */
	assert_int_equal(catalog_chunk_preserved(f->cat, 1, 0), 1);
	assert_int_equal(catalog_chunk_preserved(f->cat, 1, 1), 0);
	/* one row per chunk and epoch */
	{
		struct catalog_chunk dup = { 1, 0, 4, 8192, 4096 };

		assert_int_equal(catalog_chunks_put(f->cat, &dup, 1), -EEXIST);
	}
}

struct tally {
	uint64_t bytes[8];
	char ids[8][CATALOG_ID_LEN + 1];
	int n;
};

static int collect(const struct catalog_snapshot *s, void *ctx)
{
	struct tally *t = ctx;

	snprintf(t->ids[t->n], sizeof(t->ids[0]), "%s", s->id);
	t->bytes[t->n++] = s->diff_bytes;
	return 0;
}

static void released(const struct catalog_chunk *c, void *ctx)
{
	*(uint64_t *)ctx += c->length;
}

static void test_catalog_counts_and_frees_bytes_held_alone(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	uint64_t freed = 0;

	snap(f, "s1");               /* epoch 1 */
	put(f, 1, 0, 2, 0, 100);     /* read by s1 only */
	put(f, 1, 1, 2, 100, 10);    /* read by s1 only */
	snap(f, "s2");               /* epoch 2 */
	put(f, 1, 0, 3, 110, 1000);  /* read by s2 only */
	snap(f, "s3");               /* epoch 3 */
	put(f, 1, 1, 4, 120, 7);     /* chunk 1 changed in epoch 4: read by s2 and s3 */
	{
		uint64_t end, bytes;

		assert_int_equal(catalog_diff_extent(f->cat, 1, &end, &bytes), 0);
		assert_int_equal(end, 1110);
		assert_int_equal(bytes, 1117);
	}
	assert_int_equal(catalog_snapshot_list(f->cat, collect, &t), 0);
	assert_int_equal(t.n, 3);
	assert_string_equal(t.ids[0], "s1");
	assert_int_equal(t.bytes[0], 110);
	assert_int_equal(t.bytes[1], 1000);
	assert_int_equal(t.bytes[2], 0);

	/* deleting s2 frees its own row; the shared one stays for s1 */
	assert_int_equal(catalog_snapshot_delete(f->cat, "s2", released, &freed), 1);
	assert_int_equal(freed, 1000);
	assert_int_equal(reads(f, 1), 2);
	/* the row of chunk 1 that s2 shared with s3 is now s3's alone */
	memset(&t, 0, sizeof(t));
	assert_int_equal(catalog_snapshot_list(f->cat, collect, &t), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.bytes[0], 100 + 10);
	assert_int_equal(t.bytes[1], 7);

	freed = 0;
	assert_int_equal(catalog_snapshot_delete(f->cat, "s1", released, &freed), 2);
	assert_int_equal(freed, 110);
	freed = 0;
	assert_int_equal(catalog_snapshot_delete(f->cat, "s3", released, &freed), 1);
	assert_int_equal(freed, 7);
	assert_int_equal(catalog_snapshot_delete(f->cat, "s3", NULL, NULL), -ENOENT);
}

static void test_catalog_refuses_corrupt_file(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct catalog *c = NULL;
	int fd;

	catalog_close(f->cat);
	f->cat = NULL;
	snprintf(path, sizeof(path), "%s/%s", f->dir, CATALOG_NAME);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/%s-wal", f->dir, CATALOG_NAME);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/%s", f->dir, CATALOG_NAME);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a database, not at all, no no no no no no no no no"
			      " no no no no no no no no no", 89), 89);
	close(fd);
	assert_int_equal(catalog_open(f->dir, &c, f->msg, sizeof(f->msg)), -EUCLEAN);
	assert_null(c);
	assert_non_null(strstr(f->msg, path));
	assert_non_null(strstr(f->msg, "damaged"));
	/* the file is left as it was, for whoever wants to look at it */
	assert_int_equal(access(path, F_OK), 0);
	(void)unlink(path);
	assert_int_equal(catalog_open(f->dir, &f->cat, f->msg, sizeof(f->msg)), 0);
}

static void test_catalog_refuses_newer_schema(void **state)
{
	struct fixture *f = *state;
	char cmd[256];
	struct catalog *c = NULL;

	catalog_close(f->cat);
	f->cat = NULL;
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s/%s' 'PRAGMA user_version = 99' 2>/dev/null || "
		 "exit 77", f->dir, CATALOG_NAME);
	if (system(cmd) != 0) {
		/* without the sqlite3 shell, write the header field directly (offset 60) */
		char path[128];
		unsigned char v[4] = { 0, 0, 0, 99 };
		int fd;

		snprintf(path, sizeof(path), "%s/%s", f->dir, CATALOG_NAME);
		fd = open(path, O_WRONLY);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, v, 4, 60), 4);
		close(fd);
	}
	assert_int_equal(catalog_open(f->dir, &c, f->msg, sizeof(f->msg)), -EPROTONOSUPPORT);
	assert_non_null(strstr(f->msg, "newer than this snapfs"));
}

static struct catalog_attr attr_at(int64_t fid, uint64_t epoch, uint32_t mode, const char *x)
{
	struct catalog_attr a = {
		.fid = fid, .epoch = epoch, .mode = mode, .uid = 1000, .gid = 100, .size = 42,
		.atime_ns = 1, .mtime_ns = 2, .ctime_ns = 3, .xattrs = x,
		.xattrs_len = x ? strlen(x) : 0,
	};

	return a;
}

static void test_catalog_versions_attributes(void **state)
{
	struct fixture *f = *state;
	struct catalog_attr a = attr_at(7, 2, 0100644, "user.k=v");
	struct catalog_attr got;
	char x[16], tiny[2];
	uint64_t s1, s2;

	s1 = snap(f, "s1");
	assert_int_equal(catalog_attr_put(f->cat, &a), 0);
	assert_int_equal(catalog_attr_put(f->cat, &a), -EEXIST);
	s2 = snap(f, "s2");
	a = attr_at(7, 3, 0100600, NULL);
	assert_int_equal(catalog_attr_put(f->cat, &a), 0);
	assert_int_equal(catalog_attr_find(f->cat, 7, s1, &got, x, sizeof(x)), 1);
	assert_int_equal(got.mode, 0100644);
	assert_int_equal(got.xattrs_len, 8);
	assert_memory_equal(x, "user.k=v", 8);
	assert_int_equal(catalog_attr_find(f->cat, 7, s1, &got, tiny, sizeof(tiny)), -ERANGE);
	assert_int_equal(catalog_attr_find(f->cat, 7, s2, &got, x, sizeof(x)), 1);
	assert_int_equal(got.mode, 0100600);
	assert_int_equal(got.xattrs_len, 0);
	assert_int_equal(catalog_attr_find(f->cat, 7, 3, &got, x, sizeof(x)), 0);
	assert_int_equal(catalog_attr_find(f->cat, 8, s1, &got, x, sizeof(x)), 0);

	/* deleting s1 drops the row only s1 read; s2's stays */
	assert_int_equal(catalog_snapshot_delete(f->cat, "s1", NULL, NULL), 0);
	assert_int_equal(catalog_attr_find(f->cat, 7, s1, &got, x, sizeof(x)), 1);
	assert_int_equal(got.epoch, 3);
	assert_int_equal(catalog_snapshot_delete(f->cat, "s2", NULL, NULL), 0);
	assert_int_equal(catalog_attr_find(f->cat, 7, 0, &got, x, sizeof(x)), 0);
}

struct listing {
	char text[256];
};

static int add_name(const char *name, int64_t fid, void *ctx)
{
	struct listing *l = ctx;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof(l->text) - n, "%s=%lld ", name, (long long)fid);
	return 0;
}

static const char *names_at(struct fixture *f, int64_t dir, uint64_t s)
{
	static struct listing l;

	l.text[0] = '\0';
	assert_int_equal(catalog_names_list(f->cat, dir, s, add_name, &l), 0);
	return l.text;
}

static void test_catalog_journals_directory_entries(void **state)
{
	struct fixture *f = *state;
	uint64_t s1, s2;

	s1 = snap(f, "s1");                                  /* epoch 1 */
	assert_int_equal(catalog_name_put(f->cat, 1, "a", 2, 5), 0); /* a (fid 5) removed */
	assert_int_equal(catalog_name_put(f->cat, 1, "b", 2, 0), 0); /* b created */
	assert_int_equal(catalog_name_put(f->cat, 1, "b", 2, 0), -EEXIST);
	assert_int_equal(catalog_name_put(f->cat, 9, "a", 2, 6), 0); /* another directory */
	s2 = snap(f, "s2");                                  /* epoch 2 */
	assert_int_equal(catalog_name_put(f->cat, 1, "a", 3, 0), 0); /* a created again */
	assert_string_equal(names_at(f, 1, s1), "a=5 b=0 ");
	assert_string_equal(names_at(f, 1, s2), "a=0 ");
	assert_string_equal(names_at(f, 1, 3), "");
	assert_string_equal(names_at(f, 9, s1), "a=6 ");

	assert_int_equal(catalog_snapshot_delete(f->cat, "s1", NULL, NULL), 0);
	/* only s2's view is left: the epoch-3 row for a, read from epoch 1 on as well */
	assert_string_equal(names_at(f, 1, s1), "a=0 ");
	assert_string_equal(names_at(f, 9, s1), "");
}

static void test_catalog_upgrades_version_1(void **state)
{
	struct fixture *f = *state;
	struct catalog_attr a = attr_at(1, 3, 0100644, NULL);
	char cmd[1024];

	catalog_close(f->cat);
	f->cat = NULL;
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/%s* && sqlite3 '%s/%s' \"CREATE TABLE props(name"
		 " TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE snapshots(id TEXT PRIMARY"
		 " KEY, set_id TEXT NOT NULL, epoch INTEGER NOT NULL UNIQUE, created_ns INTEGER NOT"
		 " NULL, browse TEXT NOT NULL); CREATE TABLE files(fid INTEGER PRIMARY KEY, handle"
		 " BLOB NOT NULL UNIQUE); CREATE TABLE chunks(fid INTEGER NOT NULL, chunk INTEGER"
		 " NOT NULL, epoch INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL,"
		 " PRIMARY KEY(fid, chunk, epoch)) WITHOUT ROWID; INSERT INTO props VALUES('epoch',"
		 " '3'); PRAGMA user_version = 1;\"", f->dir, CATALOG_NAME, f->dir, CATALOG_NAME);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(catalog_open(f->dir, &f->cat, f->msg, sizeof(f->msg)), 0);
	assert_int_equal(catalog_epoch(f->cat), 3);
	assert_int_equal(catalog_attr_put(f->cat, &a), 0);
	assert_int_equal(catalog_name_put(f->cat, 1, "x", 3, 0), 0);
	reopen(f);
	assert_int_equal(catalog_epoch(f->cat), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_catalog_starts_at_epoch_one_and_persists, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_catalog_rejects_duplicate_snapshot_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_catalog_properties, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_file_ids_are_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_snapshot_reads_first_row_above_its_epoch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_counts_and_frees_bytes_held_alone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_catalog_refuses_corrupt_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_refuses_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_versions_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_journals_directory_entries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_catalog_upgrades_version_1, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
