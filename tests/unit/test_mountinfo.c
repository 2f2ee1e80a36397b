/* Unit tests of mountinfo.c against the running system's mount table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "mountinfo.h"

static void test_mountinfo_finds_proc(void **state)
{
	struct mountinfo_entry e;

	assert_int_equal(mountinfo_find("/proc", &e), 0);
	assert_string_equal(e.fstype, "proc");
}

static void test_mountinfo_finds_root(void **state)
{
	struct mountinfo_entry e;

	assert_int_equal(mountinfo_find("/", &e), 0);
	assert_true(strlen(e.fstype) > 0);
}

static void test_mountinfo_rejects_plain_directory(void **state)
{
	struct mountinfo_entry e;

	assert_int_equal(mountinfo_find("/proc/self", &e), -ENOENT);
	assert_int_equal(mountinfo_find("/no/such/dir", &e), -ENOENT);
}

struct seen {
	int count;
	bool has_proc;
	bool other_type;
};

static int note_mount(const struct mountinfo_mount *m, void *ctx)
{
	struct seen *s = ctx;

	s->count++;
	if (strcmp(m->mountpoint, "/proc") == 0)
		s->has_proc = true;
	if (strcmp(m->fstype, "proc") != 0)
		s->other_type = true;
	return 0;
}

static void test_mountinfo_each_filters_by_type(void **state)
{
	struct seen s = { 0 };

	assert_int_equal(mountinfo_each("proc", note_mount, &s), 0);
	assert_true(s.count > 0);
	assert_true(s.has_proc);
	assert_false(s.other_type);
}

static int stop_at_first(const struct mountinfo_mount *m, void *ctx)
{
	(*(int *)ctx)++;
	return 7;
}

static void test_mountinfo_each_stops_on_non_zero(void **state)
{
	int calls = 0;

	assert_int_equal(mountinfo_each(NULL, stop_at_first, &calls), 7);
	assert_int_equal(calls, 1);
	calls = 0;
	assert_int_equal(mountinfo_each("no-such-type", stop_at_first, &calls), 0);
	assert_int_equal(calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mountinfo_finds_proc),
		cmocka_unit_test(test_mountinfo_finds_root),
		cmocka_unit_test(test_mountinfo_rejects_plain_directory),
		cmocka_unit_test(test_mountinfo_each_filters_by_type),
		cmocka_unit_test(test_mountinfo_each_stops_on_non_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
