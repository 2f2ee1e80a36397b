/* Unit tests of mountinfo.c against the running system's mount table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mountinfo_finds_proc),
		cmocka_unit_test(test_mountinfo_finds_root),
		cmocka_unit_test(test_mountinfo_rejects_plain_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
