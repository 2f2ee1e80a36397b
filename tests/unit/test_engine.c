/*
 * Unit tests of the copy-on-write engine without a mount: each test changes a live tree the
 * way the daemon does (gate, hook, change) and reads snapshots back through the views.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"

struct fx {
	char src[64], state[128];
	int src_fd, state_fd;
	struct engine *e;
};

static int64_t clock_set_back; /* ns subtracted from fast_clock's readings */

/* A clock that moves a second per reading, so snapshots need not wait for the next second. */
static int64_t fast_clock(void)
{
	static int64_t t = 1700000000LL * 1000000000LL;

	return (t += 1000000000LL) - clock_set_back;
}

static int open_engine(struct fx *f)
{
	struct engine_params p = {
		.src_fd = f->src_fd, .state_fd = f->state_fd, .state_path = f->state,
		.chunk_size = 4096, .clock = fast_clock,
	};
	char msg[512];
	int r = engine_open(&p, &f->e, msg, sizeof(msg));

	if (r < 0)
		fprintf(stderr, "engine_open: %s\n", msg);
	return r;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->src, sizeof(f->src), "/tmp/snapfs-engine-XXXXXX");
	assert_non_null(mkdtemp(f->src));
	snprintf(f->state, sizeof(f->state), "%s/.snapfs", f->src);
	assert_int_equal(mkdir(f->state, 0700), 0);
	f->src_fd = open(f->src, O_RDONLY | O_DIRECTORY);
	f->state_fd = open(f->state, O_RDONLY | O_DIRECTORY);
	assert_int_equal(open_engine(f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	engine_close(f->e);
	close(f->src_fd);
	close(f->state_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->src);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void write_file(struct fx *f, const char *name, const char *data, off_t off)
{
	int fd = openat(f->src_fd, name, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	engine_gate_enter(f->e);
	assert_int_equal(engine_before_write(f->e, fd, (uint64_t)off, strlen(data)), 0);
	assert_int_equal(pwrite(fd, data, strlen(data), off), (ssize_t)strlen(data));
	engine_gate_leave(f->e);
	close(fd);
}

static void snap(struct fx *f, struct engine_node *root)
{
	struct catalog_snapshot s;

	assert_int_equal(engine_snapshot_create(f->e, NULL, &s), 0);
	assert_int_equal(engine_snap_root(f->e, s.browse, root), 0);
}

/* The content of name at the snapshot root, NUL terminated, in buf. */
static ssize_t snap_read(struct fx *f, const struct engine_node *root, const char *name,
			 char *buf, size_t size)
{
	struct engine_node n;
	struct stat st;
	ssize_t r = engine_snap_lookup(f->e, root, name, &n, &st);

	if (r < 0)
		return r;
	r = engine_snap_read(f->e, &n, buf, size - 1, 0);
	if (r >= 0)
		buf[r] = '\0';
	return r;
}

static void test_overwrite_and_truncate(void **state)
{
	struct fx *f = *state;
	struct engine_node s1, s2;
	char big[10000], buf[20000];
	int fd;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(f, "f", big, 0);
	snap(f, &s1);
	write_file(f, "f", "BBBB", 4094);   /* across the first chunk edge */
	snap(f, &s2);
	fd = openat(f->src_fd, "f", O_WRONLY);
	engine_gate_enter(f->e);
	assert_int_equal(engine_before_truncate(f->e, fd, 10), 0);
	assert_int_equal(ftruncate(fd, 10), 0);
	engine_gate_leave(f->e);
	close(fd);
	assert_int_equal(snap_read(f, &s1, "f", buf, sizeof(buf)), 9999);
	assert_string_equal(buf, big);
	assert_int_equal(snap_read(f, &s2, "f", buf, sizeof(buf)), 9999);
	assert_memory_equal(buf + 4094, "BBBB", 4);
	assert_memory_equal(buf, big, 4094);
	assert_memory_equal(buf + 4098, big, 9999 - 4098);
}

static void test_unlink_keeps_file(void **state)
{
	struct fx *f = *state;
	struct engine_node s1, n;
	struct stat st;
	char buf[64];

	write_file(f, "gone", "hello", 0);
	assert_int_equal(mkdirat(f->src_fd, "d", 0755), 0);
	write_file(f, "d/x", "in d", 0);
	snap(f, &s1);
	engine_gate_enter(f->e);
	assert_int_equal(engine_unlink(f->e, f->src_fd, "gone", false), 0);
	int dfd = openat(f->src_fd, "d", O_PATH);
	assert_int_equal(engine_unlink(f->e, dfd, "x", false), 0);
	close(dfd);
	assert_int_equal(engine_unlink(f->e, f->src_fd, "d", true), 0);
	engine_gate_leave(f->e);
	assert_int_equal(faccessat(f->src_fd, "gone", F_OK, 0), -1);
	assert_int_equal(snap_read(f, &s1, "gone", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "hello");
	assert_int_equal(engine_snap_lookup(f->e, &s1, "d", &n, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(snap_read(f, &n, "x", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "in d");
}

static void test_rename_and_attrs(void **state)
{
	struct fx *f = *state;
	struct engine_node s1, n;
	struct stat st;
	char buf[64];
	int fd;

	write_file(f, "a", "old a", 0);
	write_file(f, "b", "old b", 0);
	fd = openat(f->src_fd, "a", O_RDONLY);
	assert_int_equal(fsetxattr(fd, "user.k", "v1", 2, 0), 0);
	close(fd);
	snap(f, &s1);
	engine_gate_enter(f->e);
	assert_int_equal(engine_rename(f->e, f->src_fd, "a", f->src_fd, "b", 0), 0);
	fd = openat(f->src_fd, "b", O_RDONLY);
	assert_int_equal(engine_before_attr(f->e, fd), 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(fsetxattr(fd, "user.k", "v2", 2, 0), 0);
	close(fd);
	engine_gate_leave(f->e);
	assert_int_equal(snap_read(f, &s1, "a", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "old a");
	assert_int_equal(snap_read(f, &s1, "b", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "old b");
	assert_int_equal(engine_snap_lookup(f->e, &s1, "a", &n, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(engine_snap_getxattr(f->e, &n, "user.k", buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "v1", 2);
}

static int count_entry(const char *name, ino_t ino, mode_t type, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_new_files_absent_and_delete(void **state)
{
	struct fx *f = *state;
	struct engine_node s1, n;
	struct catalog_snapshot s;
	struct stat st;
	int count = 0;

	write_file(f, "keep", "k", 0);
	snap(f, &s1);
	engine_gate_enter(f->e);
	assert_int_equal(engine_before_create(f->e, f->src_fd, "new"), 0);
	close(openat(f->src_fd, "new", O_CREAT | O_WRONLY, 0644));
	engine_after_create(f->e, f->src_fd, "new");
	engine_gate_leave(f->e);
	assert_int_equal(engine_snap_lookup(f->e, &s1, "new", &n, &st), -ENOENT);
	assert_int_equal(engine_snap_readdir(f->e, &s1, count_entry, &count), 0);
	assert_int_equal(count, 1);
	/* delete it: its root is gone, the unknown id is refused */
	assert_int_equal(engine_snapshot_create(f->e, NULL, &s), 0);
	assert_int_equal(engine_snapshot_delete(f->e, s.id), 0);
	assert_int_equal(engine_snap_root(f->e, s.id, &n), -ENOENT);
	assert_int_equal(engine_snapshot_delete(f->e, s.id), -ENOENT);
}

static void test_persists_across_reopen(void **state)
{
	struct fx *f = *state;
	struct engine_node s1;
	char buf[64];

	write_file(f, "p", "before", 0);
	snap(f, &s1);
	write_file(f, "p", "AFTER!", 0);
	engine_close(f->e);
	assert_int_equal(open_engine(f), 0);
	assert_int_equal(engine_snap_root(f->e, "nonexistent", &s1), -ENOENT);
	/* after the restart, the epoch goes on: a new snapshot holds what was written before it */
	struct catalog_snapshot s;
	assert_int_equal(engine_snapshot_create(f->e, NULL, &s), 0);
	write_file(f, "p", "third!", 0);
	assert_int_equal(engine_snap_root(f->e, s.id, &s1), 0);
	assert_int_equal(snap_read(f, &s1, "p", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "AFTER!");
}

static int count_snaps(const struct catalog_snapshot *s, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static int nsnaps(struct fx *f)
{
	int n = 0;

	assert_int_equal(engine_snapshot_list(f->e, count_snaps, &n), 0);
	return n;
}

/* A full diff area costs the oldest snapshots, never a live write. */
static void test_maxsize_deletes_oldest(void **state)
{
	struct fx *f = *state;
	struct engine_node s1, s2;
	char big[8 * 4096 + 1], buf[64], msg[256];

	memset(big, 'o', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(f, "f", big, 0);
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_MAXSIZE, "20x", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_MAXSIZE, "20K", msg, sizeof(msg)), 0);
	snap(f, &s1);
	write_file(f, "f", "1", 0);            /* 4 KiB preserved for s1 */
	snap(f, &s2);
	memset(big, 'n', sizeof(big) - 1);
	write_file(f, "f", big, 0);            /* 32 KiB for s2: both must go */
	assert_int_equal(nsnaps(f), 0);
	int fd = openat(f->src_fd, "f", O_RDONLY);

	assert_int_equal(pread(fd, buf, 4, 0), 4);
	close(fd);
	assert_memory_equal(buf, "nnnn", 4);
	/* once the bound allows it, snapshots work again */
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_MAXSIZE, "unbounded", msg, sizeof(msg)), 0);
	snap(f, &s1);
	write_file(f, "f", "x", 0);
	assert_int_equal(snap_read(f, &s1, "f", buf, 5), 4);
	assert_string_equal(buf, "nnnn");
}

static void test_limits_and_properties(void **state)
{
	struct fx *f = *state;
	struct catalog_snapshot s;
	char val[64], msg[256];

	for (int i = 0; i < ENGINE_MAX_SNAPSHOTS; i++)
		assert_int_equal(engine_snapshot_create(f->e, NULL, &s), 0);
	assert_int_equal(engine_snapshot_create(f->e, NULL, &s), -EMLINK);
	assert_int_equal(engine_prop_get(f->e, ENGINE_PROP_MAXSHADOW, val, sizeof(val)), 2);
	assert_string_equal(val, "64");
	assert_int_equal(engine_prop_get(f->e, ENGINE_PROP_CHUNKSIZE, val, sizeof(val)), 4);
	assert_string_equal(val, "4096");
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_CHUNKSIZE, "8192", msg, sizeof(msg)),
			 -EPERM);
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_MAXSHADOW, "0", msg, sizeof(msg)),
			 -EINVAL);
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_MAXSHADOW, "600", msg, sizeof(msg)),
			 -EINVAL);
	assert_int_equal(engine_prop_set(f->e, "nosuch", "1", msg, sizeof(msg)), -ENOENT);
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_MINDIFF, "1M", msg, sizeof(msg)), 0);
	struct stat st;
	char path[160];

	snprintf(path, sizeof(path), "%s/diff.dat", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_blocks * 512 >= 1024 * 1024);
}

/* Names matching filesnottosnapshot are absent from snapshots. */
static void test_files_not_to_snapshot(void **state)
{
	struct fx *f = *state;
	struct engine_node s1, n;
	struct stat st;
	char msg[256];
	int count = 0;

	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_NOSNAP, "*.tmp:cache*", msg,
					 sizeof(msg)), 0);
	write_file(f, "a.tmp", "t", 0);
	write_file(f, "cache1", "c", 0);
	write_file(f, "kept", "k", 0);
	snap(f, &s1);
	engine_gate_enter(f->e);
	assert_int_equal(engine_unlink(f->e, f->src_fd, "a.tmp", false), 0);
	engine_gate_leave(f->e);
	assert_int_equal(engine_snap_lookup(f->e, &s1, "a.tmp", &n, &st), -ENOENT);
	assert_int_equal(engine_snap_lookup(f->e, &s1, "cache1", &n, &st), -ENOENT);
	assert_int_equal(engine_snap_lookup(f->e, &s1, "kept", &n, &st), 0);
	assert_int_equal(engine_snap_readdir(f->e, &s1, count_entry, &count), 0);
	assert_int_equal(count, 1);
}

/* Nothing stays behind once every snapshot is gone, even when the newest went first. */
static void test_no_orphans(void **state)
{
	struct fx *f = *state;
	struct catalog_snapshot a, b;
	struct stat st;
	char path[160];
	int count = 0;

	write_file(f, "f", "0123456789", 0);
	write_file(f, "g", "gone later", 0);
	assert_int_equal(engine_snapshot_create(f->e, NULL, &a), 0);
	write_file(f, "f", "A", 0);
	assert_int_equal(engine_snapshot_create(f->e, NULL, &b), 0);
	assert_int_equal(engine_snapshot_delete(f->e, b.id), 0);
	/* only a, older than the rows already made, remains: these need nothing new */
	write_file(f, "f", "B", 0);
	engine_gate_enter(f->e);
	assert_int_equal(engine_unlink(f->e, f->src_fd, "g", false), 0);
	engine_gate_leave(f->e);
	assert_int_equal(engine_snapshot_delete(f->e, a.id), 0);
	snprintf(path, sizeof(path), "%s/diff.dat", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	snprintf(path, sizeof(path), "%s/graveyard", f->state);
	struct engine_node root;
	assert_int_equal(engine_snap_root(f->e, a.id, &root), -ENOENT);
	DIR *d = opendir(path);
	struct dirent *de;
	while ((de = readdir(d)))
		count += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(count, 0);
}

/* The diff area's filesystem is full: pwrite answers ENOSPC while full is set. */
static bool full;

static ssize_t full_pwrite(const struct snap_io *io, int fd, const void *buf, size_t len,
			   off_t off)
{
	return full ? -ENOSPC : snap_io_default.pwrite(io, fd, buf, len, off);
}

/* The two steps of a snapshot in a set: abort records nothing, commit what prepare held. */
static void test_prepare_commit_abort(void **state)
{
	struct fx *f = *state;
	struct catalog_snapshot s;
	struct engine_node root;
	char buf[64], path[256];

	write_file(f, "f", "one", 0);
	assert_int_equal(engine_snapshot_prepare(f->e), 0);
	engine_snapshot_abort(f->e);
	assert_int_equal(nsnaps(f), 0);
	write_file(f, "f", "two", 0); /* the gate is open again */
	assert_int_equal(engine_snapshot_prepare(f->e), 0);
	assert_int_equal(engine_snapshot_commit(f->e, "set-1", true, &s), 0);
	assert_string_equal(s.set_id, "set-1");
	assert_int_equal(nsnaps(f), 1);
	write_file(f, "f", "six", 0);
	assert_int_equal(engine_snap_root(f->e, s.browse, &root), 0);
	assert_int_equal(snap_read(f, &root, "f", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "two");
	/* copy-on-write offers no auto-recovery: asked for, the snapshot is read-only all the same */
	assert_false(engine_can_recover(f->e));
	assert_int_equal(engine_snapshot_writable(f->e, s.id, path, sizeof(path)), -EOPNOTSUPP);
	assert_int_equal(engine_snapshot_seal(f->e, s.id), 0);
	assert_int_equal(engine_prop_get(f->e, ENGINE_PROP_AUTORECOVER, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "no");
	/* an empty or overlong set id is refused, and the gate opens again */
	assert_int_equal(engine_snapshot_prepare(f->e), 0);
	assert_int_equal(engine_snapshot_commit(f->e, "", false, &s), -EINVAL);
	write_file(f, "f", "ten", 0);
	assert_int_equal(nsnaps(f), 1);
}

/*
 * Browse names have whole seconds. A snapshot in the same second as the newest waits for the
 * next one; one after the clock was set back does not wait (it would wait an hour here) but is
 * dated a second after the newest, so names stay distinct and creation times ascend.
 */
static void test_clock_set_back(void **state)
{
	struct fx *f = *state;
	struct catalog_snapshot a, b;
	struct timespec now;
	struct engine_params p = {
		.src_fd = f->src_fd, .state_fd = f->state_fd, .state_path = f->state,
		.chunk_size = 4096, .clock = fast_clock,
	};
	char msg[256];

	assert_int_equal(engine_snapshot_prepare(f->e), 0);
	assert_int_equal(engine_snapshot_commit(f->e, NULL, false, &a), 0);
	clock_set_back = 3600LL * 1000000000LL;
	assert_int_equal(engine_snapshot_prepare(f->e), 0);
	assert_int_equal(engine_snapshot_commit(f->e, NULL, false, &b), 0);
	clock_set_back = 0;
	assert_int_equal(b.created_ns / 1000000000LL, a.created_ns / 1000000000LL + 1);
	assert_string_not_equal(a.browse, b.browse);
	assert_int_equal(nsnaps(f), 2);

	/*
	 * On the real clock, two holds in a row: the second waits into the next second, so it is
	 * dated by the clock, not ahead of it.
	 */
	engine_close(f->e);
	p.clock = NULL;
	assert_int_equal(engine_open(&p, &f->e, msg, sizeof(msg)), 0);
	assert_int_equal(engine_snapshot_prepare(f->e), 0);
	assert_int_equal(engine_snapshot_commit(f->e, NULL, false, &a), 0);
	assert_int_equal(engine_snapshot_prepare(f->e), 0);
	assert_int_equal(engine_snapshot_commit(f->e, NULL, false, &b), 0);
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &now), 0);
	assert_true(b.created_ns / 1000000000LL > a.created_ns / 1000000000LL);
	assert_true(b.created_ns <= now.tv_sec * 1000000000LL + now.tv_nsec);
	assert_int_equal(nsnaps(f), 4);
}

static void test_full_filesystem_deletes_oldest(void **state)
{
	struct fx *f = *state;
	struct snap_io io = snap_io_default;
	struct engine_params p = {
		.src_fd = f->src_fd, .state_fd = f->state_fd, .state_path = f->state,
		.chunk_size = 4096, .clock = fast_clock, .io = &io,
	};
	struct engine_node s1;
	char msg[256], buf[16];
	int fd;

	io.pwrite = full_pwrite;
	engine_close(f->e);
	assert_int_equal(engine_open(&p, &f->e, msg, sizeof(msg)), 0);
	write_file(f, "f", "old", 0);
	snap(f, &s1);
	full = true;
	write_file(f, "f", "new", 0);   /* the write succeeds, the snapshot goes */
	full = false;
	assert_int_equal(nsnaps(f), 0);
	fd = openat(f->src_fd, "f", O_RDONLY);
	assert_int_equal(pread(fd, buf, 3, 0), 3);
	close(fd);
	assert_memory_equal(buf, "new", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_overwrite_and_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlink_keeps_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_and_attrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_files_absent_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persists_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_maxsize_deletes_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_properties, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_not_to_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_filesystem_deletes_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_commit_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_set_back, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
