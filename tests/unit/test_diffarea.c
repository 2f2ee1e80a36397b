/* Unit tests of diffarea.c: allocation, the limit, holes, reopening, injected I/O failures. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "diffarea.h"

struct fixture {
	char dir[64];
	int dirfd;
	char msg[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/snapfs-diffarea.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->dirfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	close(f->dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Blocks the data file really takes on disk, in bytes. */
static long long disk_bytes(struct fixture *f)
{
	struct stat st;

	assert_int_equal(fstatat(f->dirfd, DIFFAREA_FILE, &st, 0), 0);
	return (long long)st.st_blocks * 512;
}

static void test_diffarea_round_trips_and_frees_space(void **state)
{
	struct fixture *f = *state;
	struct diffarea *da;
	char buf[65536], back[65536];
	uint64_t a, b;

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(diffarea_open(f->dirfd, NULL, 0, 0, &da, f->msg, sizeof(f->msg)), 0);
	assert_int_equal(diffarea_reserve(da, sizeof(buf), &a), 0);
	assert_int_equal(diffarea_reserve(da, 100, &b), 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, sizeof(buf));
	assert_int_equal(diffarea_used(da), sizeof(buf) + DIFFAREA_ALIGN);
	assert_int_equal(diffarea_write(da, a, buf, sizeof(buf)), 0);
	assert_int_equal(diffarea_write(da, b, "short tail", 10), 0);
	assert_int_equal(diffarea_sync(da), 0);
	assert_int_equal(diffarea_read(da, a, back, sizeof(back)), sizeof(back));
	assert_memory_equal(buf, back, sizeof(buf));
	assert_true(disk_bytes(f) >= (long long)sizeof(buf));
	assert_int_equal(diffarea_release(da, a, sizeof(buf)), 0);
	assert_int_equal(diffarea_used(da), DIFFAREA_ALIGN);
	assert_true(disk_bytes(f) < (long long)sizeof(buf));
	/* the other extent is untouched */
	assert_int_equal(diffarea_read(da, b, back, 10), 10);
	assert_memory_equal(back, "short tail", 10);
	diffarea_close(da);
}

static void test_diffarea_refuses_past_its_limit(void **state)
{
	struct fixture *f = *state;
	struct diffarea *da;
	uint64_t off;

	assert_int_equal(diffarea_open(f->dirfd, NULL, 0, 0, &da, f->msg, sizeof(f->msg)), 0);
	diffarea_set_limit(da, 3 * DIFFAREA_ALIGN);
	assert_int_equal(diffarea_reserve(da, 2 * DIFFAREA_ALIGN, &off), 0);
	assert_int_equal(diffarea_reserve(da, 2 * DIFFAREA_ALIGN, &off), -ENOSPC);
	assert_int_equal(diffarea_used(da), 2 * DIFFAREA_ALIGN);
	assert_int_equal(diffarea_release(da, 0, 2 * DIFFAREA_ALIGN), 0);
	assert_int_equal(diffarea_reserve(da, 2 * DIFFAREA_ALIGN, &off), 0);
	/* offsets are never handed out twice */
	assert_int_equal(off, 2 * DIFFAREA_ALIGN);
	assert_int_equal(diffarea_reserve(da, 0, &off), -EINVAL);
	diffarea_close(da);
}

static void test_diffarea_resumes_where_the_catalog_says(void **state)
{
	struct fixture *f = *state;
	struct diffarea *da;
	uint64_t off;

	assert_int_equal(diffarea_open(f->dirfd, NULL, 10000, 5000, &da, f->msg, sizeof(f->msg)),
			 0);
	assert_int_equal(diffarea_used(da), 2 * DIFFAREA_ALIGN);
	assert_int_equal(diffarea_reserve(da, 1, &off), 0);
	assert_int_equal(off, 3 * DIFFAREA_ALIGN);
	diffarea_close(da);
}

/* An io that fails its Nth call with -EIO. */
struct failing_io {
	struct snap_io io;
	int countdown;
};

static int tick(const struct snap_io *io)
{
	struct failing_io *fio = (struct failing_io *)io;

	return --fio->countdown == 0 ? -EIO : 0;
}

static ssize_t f_pwrite(const struct snap_io *io, int fd, const void *buf, size_t len, off_t off)
{
	return tick(io) ? -EIO : snap_io_default.pwrite(io, fd, buf, len, off);
}

static ssize_t f_pread(const struct snap_io *io, int fd, void *buf, size_t len, off_t off)
{
	return tick(io) ? -EIO : snap_io_default.pread(io, fd, buf, len, off);
}

static int f_fdatasync(const struct snap_io *io, int fd)
{
	return tick(io) ? -EIO : snap_io_default.fdatasync(io, fd);
}

static int f_fallocate(const struct snap_io *io, int fd, int mode, off_t off, off_t len)
{
	return tick(io) ? -EIO : snap_io_default.fallocate(io, fd, mode, off, len);
}

static void test_diffarea_reports_every_io_failure(void **state)
{
	struct fixture *f = *state;
	struct failing_io fio = { { f_pread, f_pwrite, f_fdatasync, f_fallocate }, 0 };
	int n;

	/* fail call 1, 2, 3... until the whole sequence succeeds; each failure is reported */
	for (n = 1;; n++) {
		struct diffarea *da;
		char back[5];
		uint64_t off;
		int r;

		fio.countdown = n;
		assert_int_equal(diffarea_open(f->dirfd, &fio.io, 0, 0, &da, f->msg,
					       sizeof(f->msg)), 0);
		assert_int_equal(diffarea_reserve(da, 5, &off), 0);
		r = diffarea_write(da, off, "hello", 5);
		if (r == 0)
			r = diffarea_sync(da);
		if (r == 0)
			r = diffarea_read(da, off, back, 5) == 5 ? 0 : -EIO;
		if (r == 0)
			r = diffarea_release(da, off, 5);
		diffarea_close(da);
		if (r == 0)
			break;
		assert_int_equal(r, -EIO);
	}
	assert_int_equal(n, 5); /* four calls, each failed once */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_diffarea_round_trips_and_frees_space, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_diffarea_refuses_past_its_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_diffarea_resumes_where_the_catalog_says, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_diffarea_reports_every_io_failure, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
