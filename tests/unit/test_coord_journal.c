/*
 * Unit tests of coord_journal.c without volumes: a record is written whole with its volumes,
 * locked while its set is under way, skipped by a recovery then, kept when a volume's daemon
 * does not answer, and removed when it is settled; a record never finished is removed. (The
 * sets test kills a real service after its commits and checks that the next one deletes the
 * set's snapshots.)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmocka.h>

#include "coord_journal.h"

struct fx {
	char top[64], dir[96];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/snapfs-journal-XXXXXX");
	assert_non_null(mkdtemp(f->top));
	/* the state directory itself is missing: begin makes it */
	snprintf(f->dir, sizeof(f->dir), "%s/state/sets", f->top);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->top);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static bool exists(const struct fx *f, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return access(path, F_OK) == 0;
}

static void test_record_written_and_locked(void **state)
{
	struct fx *f = *state;
	const struct control_volume vols[] = { { "/mnt/a", "/srv/a" }, { "/mnt/b c", "/srv/b" } };
	const char *want = "/srv/a\t/mnt/a\n/srv/b\t/mnt/b c\n";
	char path[256], text[64] = "", msg[256];
	int fd, other;
	FILE *in;

	fd = coord_journal_begin(f->dir, "set-1", vols, 2, msg, sizeof(msg));
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/set-1", f->dir);
	in = fopen(path, "r");
	assert_non_null(in);
	assert_int_equal(fread(text, 1, sizeof(text) - 1, in), strlen(want));
	fclose(in);
	assert_string_equal(text, want);
	assert_false(exists(f, ".set-1.tmp"));
	coord_journal_end(f->dir, "set-1", fd, true);
	assert_false(exists(f, "set-1"));

	/* held while the set is under way: another process cannot lock it */
	fd = coord_journal_begin(f->dir, "set-2", NULL, 0, msg, sizeof(msg));
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/set-2", f->dir);
	other = open(path, O_RDONLY);
	assert_true(other >= 0);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(other);
	/* ... and a recovery leaves it alone, though it has nothing left to delete */
	assert_int_equal(coord_journal_recover(f->dir), 0);
	assert_true(exists(f, "set-2"));
	assert_int_equal(coord_journal_end(f->dir, "set-2", fd, true), 0);
	assert_false(exists(f, "set-2"));
}

static void test_recovery(void **state)
{
	struct fx *f = *state;
	const struct control_volume gone[] = { { "/mnt/gone", "/nonexistent/snapfs-volume" } };
	char msg[256], path[256];
	int fd;

	/* a dead coordinator's record of a set whose volume's daemon does not answer: kept */
	fd = coord_journal_begin(f->dir, "set-2", gone, 1, msg, sizeof(msg));
	assert_true(fd >= 0);
	coord_journal_end(f->dir, "set-2", fd, false);
	/* one of a set that had no volume left to delete from: settled and removed */
	fd = coord_journal_begin(f->dir, "set-3", NULL, 0, msg, sizeof(msg));
	assert_true(fd >= 0);
	coord_journal_end(f->dir, "set-3", fd, false);
	/* one never finished (no writer heard of its set): removed */
	snprintf(path, sizeof(path), "%s/.set-4.tmp", f->dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(coord_journal_recover(f->dir), 1);
	assert_true(exists(f, "set-2"));
	assert_false(exists(f, "set-3"));
	assert_false(exists(f, ".set-4.tmp"));
	/* the next start tries again */
	assert_int_equal(coord_journal_recover(f->dir), 0);
	assert_true(exists(f, "set-2"));
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	char file[128], msg[256], dir[160];

	/* the directory cannot be made: a file is where it would be */
	snprintf(file, sizeof(file), "%s/file", f->top);
	close(open(file, O_CREAT | O_WRONLY, 0600));
	snprintf(dir, sizeof(dir), "%s/sets", file);
	assert_int_equal(coord_journal_begin(dir, "set-4", NULL, 0, msg, sizeof(msg)), -ENOTDIR);
	assert_non_null(strstr(msg, dir));
	/* no directory at all: nothing to recover, no error */
	assert_int_equal(coord_journal_recover("/nonexistent/snapfs-sets"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_written_and_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
