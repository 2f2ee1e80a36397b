/* Unit tests of volume.c: mount path checks, the state directory and its lock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "volume.h"

struct fixture {
	char dir[64];
	char src[PATH_MAX];
	char mnt[PATH_MAX];
	char msg[PATH_MAX * 2];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/snapfs-unit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(chmod(f->dir, 0755), 0);
	snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	snprintf(f->mnt, sizeof(f->mnt), "%s/mnt", f->dir);
	assert_int_equal(mkdir(f->src, 0755), 0);
	assert_int_equal(mkdir(f->mnt, 0755), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static bool exists(const char *dir, const char *name)
{
	char p[PATH_MAX * 2];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static void test_volume_accepts_plain_directories(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(volume_check_mount_paths(f->src, f->mnt, f->msg, sizeof(f->msg)), 0);
	assert_false(exists(f->src, VOLUME_STATE_DIR));
}

static void test_volume_refuses_missing_source(void **state)
{
	struct fixture *f = *state;
	char missing[PATH_MAX + 8];

	snprintf(missing, sizeof(missing), "%s/nope", f->dir);
	assert_int_equal(volume_check_mount_paths(missing, f->mnt, f->msg, sizeof(f->msg)),
			 -ENOENT);
	assert_non_null(strstr(f->msg, missing));
	assert_non_null(strstr(f->msg, "No such file or directory"));
}

static void test_volume_refuses_missing_mount_point(void **state)
{
	struct fixture *f = *state;
	char missing[PATH_MAX + 8];

	snprintf(missing, sizeof(missing), "%s/nope", f->dir);
	assert_int_equal(volume_check_mount_paths(f->src, missing, f->msg, sizeof(f->msg)),
			 -ENOENT);
	assert_non_null(strstr(f->msg, "mount point"));
	assert_non_null(strstr(f->msg, missing));
}

static void test_volume_refuses_file_as_source(void **state)
{
	struct fixture *f = *state;
	char file[PATH_MAX + 8];
	int fd;

	snprintf(file, sizeof(file), "%s/file", f->dir);
	fd = open(file, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(volume_check_mount_paths(file, f->mnt, f->msg, sizeof(f->msg)),
			 -ENOTDIR);
	assert_non_null(strstr(f->msg, file));
}

static void test_volume_refuses_nested_paths(void **state)
{
	struct fixture *f = *state;
	char inner[PATH_MAX + 8];

	snprintf(inner, sizeof(inner), "%s/inner", f->src);
	assert_int_equal(mkdir(inner, 0755), 0);
	assert_int_equal(volume_check_mount_paths(f->src, inner, f->msg, sizeof(f->msg)), -EINVAL);
	assert_non_null(strstr(f->msg, "inside source"));
	assert_int_equal(volume_check_mount_paths(inner, f->src, f->msg, sizeof(f->msg)), -EINVAL);
	assert_non_null(strstr(f->msg, "inside mount point"));
	assert_int_equal(volume_check_mount_paths(f->src, f->src, f->msg, sizeof(f->msg)), -EINVAL);
}

static void test_volume_refuses_existing_mount_point(void **state)
{
	struct fixture *f = *state;

	/* /proc is a mount point on every Linux system */
	assert_int_equal(volume_check_mount_paths(f->src, "/proc", f->msg, sizeof(f->msg)), -EBUSY);
	assert_non_null(strstr(f->msg, "already mounted"));
}

static void test_volume_open_creates_and_locks_state_dir(void **state)
{
	struct fixture *f = *state;
	struct volume *v1 = NULL, *v2 = NULL;

	assert_int_equal(volume_open(f->src, &v1, f->msg, sizeof(f->msg)), 0);
	assert_true(exists(f->src, VOLUME_STATE_DIR));
	assert_int_equal(volume_record_owner(v1, "/some/where"), 0);
	assert_int_equal(volume_open(f->src, &v2, f->msg, sizeof(f->msg)), -EBUSY);
	assert_null(v2);
	assert_non_null(strstr(f->msg, "already served"));
	assert_non_null(strstr(f->msg, "/some/where"));
	assert_int_equal(volume_wait_unlocked(f->src, 50), -ETIMEDOUT);
	volume_close(v1);
	assert_int_equal(volume_wait_unlocked(f->src, 50), 0);
	assert_int_equal(volume_open(f->src, &v2, f->msg, sizeof(f->msg)), 0);
	volume_close(v2);
	assert_true(exists(f->src, VOLUME_STATE_DIR));
}

static void test_volume_abandon_removes_new_state_dir_only(void **state)
{
	struct fixture *f = *state;
	struct volume *v = NULL;

	assert_int_equal(volume_open(f->src, &v, f->msg, sizeof(f->msg)), 0);
	volume_abandon(v);
	assert_false(exists(f->src, VOLUME_STATE_DIR));

	/* a state directory that was there before survives */
	assert_int_equal(volume_open(f->src, &v, f->msg, sizeof(f->msg)), 0);
	volume_close(v);
	assert_int_equal(volume_open(f->src, &v, f->msg, sizeof(f->msg)), 0);
	volume_abandon(v);
	assert_true(exists(f->src, VOLUME_STATE_DIR));
}

static void test_volume_reports_unwritable_source(void **state)
{
	struct fixture *f = *state;
	struct volume *v = NULL;
	pid_t pid;
	int st;

	assert_int_equal(chmod(f->src, 0555), 0);
	/* root ignores modes: try as an unprivileged user in a child */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		if (volume_open(f->src, &v, f->msg, sizeof(f->msg)) != -EACCES)
			_exit(1);
		_exit(strstr(f->msg, "cannot create state directory") && strstr(f->msg, f->src) ? 0
											   : 3);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_false(exists(f->src, VOLUME_STATE_DIR));
}

static void test_volume_refuses_foreign_state(void **state)
{
	struct fixture *f = *state;
	struct volume *v = NULL;
	char dir[PATH_MAX + 16], lock[PATH_MAX + 32], victim[PATH_MAX + 16];
	struct stat st;
	int fd;

	snprintf(dir, sizeof(dir), "%s/.snapfs", f->src);
	snprintf(lock, sizeof(lock), "%s/lock", dir);
	snprintf(victim, sizeof(victim), "%s/victim", f->dir);

	/* a lock file that is a hard link to another file is never written */
	assert_int_equal(mkdir(dir, 0700), 0);
	fd = open(victim, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_int_equal(link(victim, lock), 0);
	assert_int_equal(volume_open(f->src, &v, f->msg, sizeof(f->msg)), -EPERM);
	assert_non_null(strstr(f->msg, lock));
	assert_non_null(strstr(f->msg, "other links"));
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(unlink(lock), 0);

	/* a state directory others may write to */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(volume_open(f->src, &v, f->msg, sizeof(f->msg)), -EPERM);
	assert_non_null(strstr(f->msg, "writable by others"));
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(volume_open(f->src, &v, f->msg, sizeof(f->msg)), 0);
	volume_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_volume_accepts_plain_directories, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_volume_refuses_missing_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_volume_refuses_missing_mount_point, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_volume_refuses_file_as_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_volume_refuses_nested_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_volume_refuses_existing_mount_point, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_volume_open_creates_and_locks_state_dir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_volume_abandon_removes_new_state_dir_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_volume_reports_unwritable_source, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_volume_refuses_foreign_state, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
