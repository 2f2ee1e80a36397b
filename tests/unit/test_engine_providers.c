/*
 * Unit tests of the providers without a mount: redirect-on-write leaves SRC alone and folds
 * back, a complete copy becomes a tree of its own, and a volume keeps the provider it was
 * made with. The model test (tests/model/) covers each provider at random; these pin down what
 * a user would check first.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "provider.h"

struct fx {
	char src[64], state[128];
	int src_fd, state_fd;
	struct engine *e;
};

static int64_t fast_clock(void)
{
	static int64_t t = 1700000000LL * 1000000000LL;

	return t += 1000000000LL;
}

/* Open the engine of f's volume with provider (NULL: the volume's); msg gets the reason. */
static int open_with(struct fx *f, const char *provider, const char *method, char *msg,
		     size_t msglen)
{
	struct engine_params p = {
		.src_fd = f->src_fd, .state_fd = f->state_fd, .state_path = f->state,
		.chunk_size = 4096, .clock = fast_clock, .provider = provider, .method = method,
	};

	return engine_open(&p, &f->e, msg, msglen);
}

static struct fx *new_volume(void)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	snprintf(f->src, sizeof(f->src), "/tmp/snapfs-providers-XXXXXX");
	assert_non_null(mkdtemp(f->src));
	snprintf(f->state, sizeof(f->state), "%s/.snapfs", f->src);
	assert_int_equal(mkdir(f->state, 0700), 0);
	f->src_fd = open(f->src, O_RDONLY | O_DIRECTORY);
	f->state_fd = open(f->state, O_RDONLY | O_DIRECTORY);
	return f;
}

static int setup_with(void **state, const char *provider)
{
	struct fx *f = new_volume();
	char msg[512];

	assert_int_equal(open_with(f, provider, NULL, msg, sizeof(msg)), 0);
	*state = f;
	return 0;
}

static int setup_row(void **state)
{
	return setup_with(state, "row");
}

static int setup_clone(void **state)
{
	return setup_with(state, "clone");
}

static int setup_plain(void **state)
{
	*state = new_volume();
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

/* Write data at off into name through the engine, as the daemon does. */
static void write_file(struct fx *f, const char *name, const char *data, off_t off)
{
	int fd = openat(f->src_fd, name, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	engine_gate_enter(f->e);
	assert_int_equal(engine_write(f->e, fd, data, strlen(data), (uint64_t)off),
			 (ssize_t)strlen(data));
	engine_gate_leave(f->e);
	close(fd);
}

/* name as the live volume shows it (through the engine), NUL terminated. */
static void read_live(struct fx *f, const char *name, char *buf, size_t size)
{
	int fd = openat(f->src_fd, name, O_RDONLY);
	ssize_t got = 0;
	int r;

	assert_true(fd >= 0);
	r = engine_live_read(f->e, fd, buf, size - 1, 0, &got);
	assert_true(r >= 0);
	if (r == 0)
		got = pread(fd, buf, size - 1, 0);
	assert_true(got >= 0);
	buf[got] = '\0';
	close(fd);
}

/* name as SRC itself holds it. */
static void read_src(struct fx *f, const char *name, char *buf, size_t size)
{
	int fd = openat(f->src_fd, name, O_RDONLY);
	ssize_t got;

	assert_true(fd >= 0);
	got = pread(fd, buf, size - 1, 0);
	assert_true(got >= 0);
	buf[got] = '\0';
	close(fd);
}

static void snap_read(struct fx *f, const char *id, const char *name, char *buf, size_t size)
{
	struct engine_node root, n;
	struct stat st;
	ssize_t r;

	assert_int_equal(engine_snap_root(f->e, id, &root), 0);
	assert_int_equal(engine_snap_lookup(f->e, &root, name, &n, &st), 0);
	r = engine_snap_read(f->e, &n, buf, size - 1, 0);
	assert_true(r >= 0);
	buf[r] = '\0';
}

static void test_row_redirects_and_folds(void **state)
{
	struct fx *f = *state;
	struct catalog_snapshot s;
	char buf[256];
	int fd;

	write_file(f, "a", "original contents", 0);
	assert_int_equal(engine_snapshot_create(f->e, NULL, &s), 0);
	write_file(f, "a", "CHANGED!", 0);
	write_file(f, "a", " and grown past the old end", 17);
	/* SRC keeps the original bytes; the live volume and the snapshot each see their own */
	read_src(f, "a", buf, sizeof(buf));
	assert_memory_equal(buf, "original contents", 17);
	read_live(f, "a", buf, sizeof(buf));
	assert_string_equal(buf, "CHANGED! contents and grown past the old end");
	snap_read(f, s.id, "a", buf, sizeof(buf));
	assert_string_equal(buf, "original contents");
	fd = openat(f->src_fd, "a", O_RDONLY);
	assert_true(engine_live_redirected(f->e, fd));
	/* with no snapshot left the live bytes are back in SRC, and reads are pass-through */
	assert_int_equal(engine_snapshot_delete(f->e, s.id), 0);
	assert_false(engine_live_redirected(f->e, fd));
	close(fd);
	read_src(f, "a", buf, sizeof(buf));
	assert_string_equal(buf, "CHANGED! contents and grown past the old end");
}

static void test_row_truncate_brings_back(void **state)
{
	struct fx *f = *state;
	struct catalog_snapshot s;
	char buf[256];
	int fd;

	write_file(f, "b", "0123456789", 0);
	assert_int_equal(engine_snapshot_create(f->e, NULL, &s), 0);
	write_file(f, "b", "abc", 0);
	fd = openat(f->src_fd, "b", O_RDWR);
	engine_gate_enter(f->e);
	assert_int_equal(engine_before_truncate(f->e, fd, 5), 0);
	assert_int_equal(ftruncate(fd, 5), 0);
	engine_gate_leave(f->e);
	assert_false(engine_live_redirected(f->e, fd));
	close(fd);
	read_src(f, "b", buf, sizeof(buf));
	assert_string_equal(buf, "abc34");
	snap_read(f, s.id, "b", buf, sizeof(buf));
	assert_string_equal(buf, "0123456789");
}

static int count_snaps(const struct catalog_snapshot *s, void *ctx)
{
	++*(int *)ctx;
	return 0;
}

/* A full diff area costs the oldest snapshots, never a write, and the live bytes stay right. */
static void test_row_maxsize(void **state)
{
	struct fx *f = *state;
	struct catalog_snapshot s[4];
	char big[20000], buf[sizeof(big) + 1], msg[256];
	int n = 0;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(f, "m", big, 0);
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_MAXSIZE, "40K", msg, sizeof(msg)), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(engine_snapshot_create(f->e, NULL, &s[i]), 0);
		memset(big, 'b' + i, sizeof(big) - 1);
		write_file(f, "m", big, 0);
	}
	assert_int_equal(engine_snapshot_list(f->e, count_snaps, &n), 0);
	assert_true(n < 4);
	read_live(f, "m", buf, sizeof(buf));
	assert_string_equal(buf, big);
	/* the newest snapshot is there and holds what the file was before the last write */
	snap_read(f, s[3].id, "m", buf, sizeof(buf));
	memset(big, 'b' + 2, sizeof(big) - 1);
	assert_string_equal(buf, big);
	assert_int_equal(engine_snapshot_delete(f->e, s[3].id), 0);
	read_src(f, "m", buf, sizeof(buf));
	memset(big, 'b' + 3, sizeof(big) - 1);
	assert_string_equal(buf, big);
}

static int is_tree(const struct catalog_snapshot *s, void *ctx)
{
	*(bool *)ctx = s->tree;
	return 0;
}

static void test_clone_becomes_tree(void **state)
{
	struct fx *f = *state;
	struct catalog_snapshot s;
	struct timespec pause = { 0, 10000000 };
	char buf[256], path[256];
	bool tree = false;
	struct stat st;

	write_file(f, "c", "as it was", 0);
	assert_int_equal(engine_snapshot_create(f->e, NULL, &s), 0);
	write_file(f, "c", "AS IT IS", 0);
	for (int i = 0; i < 1000 && !tree; i++) {
		assert_int_equal(engine_snapshot_list(f->e, is_tree, &tree), 0);
		if (!tree)
			nanosleep(&pause, NULL);
	}
	assert_true(tree);
	snap_read(f, s.id, "c", buf, sizeof(buf));
	assert_string_equal(buf, "as it was");
	/* an independent copy: a plain file in the diff area's trees */
	snprintf(path, sizeof(path), "%s/%s/%s/c", f->state, ENGINE_TREES, s.id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 9);
	assert_int_equal(engine_snapshot_delete(f->e, s.id), 0);
	snprintf(path, sizeof(path), "%s/%s/%s", f->state, ENGINE_TREES, s.id);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_provider_is_fixed(void **state)
{
	struct fx *f = *state;
	char msg[512], val[64];

	assert_int_equal(open_with(f, NULL, "clone", msg, sizeof(msg)), 0);
	assert_true(engine_prop_get(f->e, ENGINE_PROP_METHOD, val, sizeof(val)) > 0);
	assert_string_equal(val, "clone");
	engine_close(f->e);
	f->e = NULL;
	assert_int_equal(open_with(f, "cow", NULL, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "provider 'clone'"));
	assert_int_equal(open_with(f, NULL, "row", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(open_with(f, NULL, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(engine_prop_set(f->e, ENGINE_PROP_PROVIDER, "cow", msg, sizeof(msg)),
			 -EPERM);
}

static void test_bad_choices_refused(void **state)
{
	struct fx *f = *state;
	struct statfs sf;
	char msg[512];

	assert_int_equal(open_with(f, NULL, "bogus", msg, sizeof(msg)), -EOPNOTSUPP);
	assert_non_null(strstr(msg, "unknown method 'bogus'"));
	assert_int_equal(open_with(f, "nosuch", NULL, msg, sizeof(msg)), -EOPNOTSUPP);
	assert_non_null(strstr(msg, "unknown provider 'nosuch'"));
	assert_int_equal(open_with(f, "clone", "cow", msg, sizeof(msg)), -EOPNOTSUPP);
	assert_int_equal(fstatfs(f->src_fd, &sf), 0);
	if (sf.f_type != 0x9123683E) { /* not btrfs: the offload provider says why not */
		assert_int_equal(open_with(f, "btrfs", NULL, msg, sizeof(msg)), -EOPNOTSUPP);
		assert_non_null(strstr(msg, "not btrfs"));
	}
	/* nothing was recorded, not even a catalog: the volume can still be made as asked */
	assert_int_equal(faccessat(f->state_fd, "catalog.db", F_OK, 0), -1);
	assert_int_equal(open_with(f, "row", NULL, msg, sizeof(msg)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_row_redirects_and_folds, setup_row, teardown),
		cmocka_unit_test_setup_teardown(test_row_truncate_brings_back, setup_row, teardown),
		cmocka_unit_test_setup_teardown(test_row_maxsize, setup_row, teardown),
		cmocka_unit_test_setup_teardown(test_clone_becomes_tree, setup_clone, teardown),
		cmocka_unit_test_setup_teardown(test_provider_is_fixed, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_bad_choices_refused, setup_plain, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
