/*
 * Unit tests of coord_config.c: the defaults, a file read through $SNAPFS_CONFIG or named
 * explicitly, and the refusals, each with -EINVAL (or -E2BIG, or the open's errno) and a
 * message naming the file and the line.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "coord.h"

#define CONFIG_ENV "SNAPFS_CONFIG"
#define DEFAULT_CONFIG "/etc/snapfs/snapfsd.conf"
#define NO_SUCH_USER "snapfs-no-such-user"
#define NO_SUCH_GROUP "snapfs-no-such-group"

struct fixture {
	char dir[64];
	char path[PATH_MAX];      /* the file written by write_config() */
	char *saved_env;          /* $SNAPFS_CONFIG before the test, or NULL */
	char err[PATH_MAX + 512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *env = getenv(CONFIG_ENV);

	assert_non_null(f);
	strcpy(f->dir, "/tmp/snapfs-coord-config.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (env) {
		f->saved_env = strdup(env);
		assert_non_null(f->saved_env);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->saved_env)
		assert_int_equal(setenv(CONFIG_ENV, f->saved_env, 1), 0);
	else
		assert_int_equal(unsetenv(CONFIG_ENV), 0);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->saved_env);
	free(f);
	return 0;
}

/* Write text to f->path (snapfsd.conf in the test's directory). */
static void write_config(struct fixture *f, const char *text)
{
	FILE *out;

	(void)snprintf(f->path, sizeof(f->path), "%s/snapfsd.conf", f->dir);
	out = fopen(f->path, "we");
	assert_non_null(out);
	assert_true(fputs(text, out) >= 0);
	assert_int_equal(fclose(out), 0);
}

/* Write text and load it the way snapfsd does by default: through $SNAPFS_CONFIG. */
static int load_text(struct fixture *f, const char *text, struct coord_config *cfg)
{
	write_config(f, text);
	assert_int_equal(setenv(CONFIG_ENV, f->path, 1), 0);
	f->err[0] = '\0';
	return coord_config_load(NULL, cfg, f->err, sizeof(f->err));
}

static bool has_uid(const struct coord_acl *a, uid_t uid)
{
	for (size_t i = 0; i < a->n_uids; i++) {
		if (a->uids[i] == uid)
			return true;
	}
	return false;
}

static void assert_default_acl(const struct coord_acl *a)
{
	assert_true(a->n_uids >= 1 && a->n_uids <= 2);
	assert_true(has_uid(a, 0));
	assert_true(has_uid(a, geteuid()));
	assert_int_equal(a->n_gids, 0);
}

static void assert_contains(const char *s, const char *what)
{
	if (!strstr(s, what))
		fail_msg("expected '%s' in '%s'", what, s);
}

/* err names the file and "line N" (not the start of a longer number), and contains what. */
static void assert_error_at(const char *err, const char *path, unsigned line, const char *what)
{
	char at[32];
	const char *p;

	assert_contains(err, path);
	(void)snprintf(at, sizeof(at), "line %u", line);
	p = strstr(err, at);
	if (!p || (p[strlen(at)] >= '0' && p[strlen(at)] <= '9'))
		fail_msg("expected '%s' in '%s'", at, err);
	if (what)
		assert_contains(err, what);
	assert_null(strchr(err, '\n'));
}

static void expect_refused(struct fixture *f, const char *text, int error, unsigned line,
			   const char *what)
{
	struct coord_config cfg;
	int r = load_text(f, text, &cfg);

	if (r != error)
		fail_msg("'%s': expected %d, got %d", text, error, r);
	assert_error_at(f->err, f->path, line, what);
}

static void test_coord_config_defaults_without_default_file(void **state)
{
	struct coord_config cfg;
	char err[256] = "";

	if (access(DEFAULT_CONFIG, F_OK) == 0) {
		print_message("skipped: " DEFAULT_CONFIG " exists on this machine\n");
		skip();
	}
	assert_int_equal(unsetenv(CONFIG_ENV), 0);
	assert_int_equal(coord_config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.freeze_ms, 60000);
	assert_int_equal(cfg.hold_ms, 10000);
	assert_int_equal(cfg.idle_exit_s, 0);
	assert_default_acl(&cfg.writers);
	assert_default_acl(&cfg.requesters);

	/* An empty $SNAPFS_CONFIG is no file named either. */
	assert_int_equal(setenv(CONFIG_ENV, "", 1), 0);
	assert_int_equal(coord_config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.freeze_ms, 60000);
}

static void test_coord_config_reads_every_key(void **state)
{
	struct fixture *f = *state;
	struct coord_config cfg;

	assert_int_equal(load_text(f,
				   "# snapfsd.conf\n"
				   "\n"
				   "   \t\n"
				   "freeze_timeout = 2.5\n"
				   "  hold_timeout=0.05   # fifty milliseconds\n"
				   "\tidle_exit = 30\n"
				   "# writers = nobody\n"
				   "writers = root 1234 @root @0\n",
				   &cfg),
			 0);
	assert_int_equal(cfg.freeze_ms, 2500);
	assert_int_equal(cfg.hold_ms, 50);
	assert_int_equal(cfg.idle_exit_s, 30);
	assert_int_equal(cfg.writers.n_uids, 2);
	assert_int_equal(cfg.writers.uids[0], 0);
	assert_int_equal(cfg.writers.uids[1], 1234);
	assert_int_equal(cfg.writers.n_gids, 2);
	assert_int_equal(cfg.writers.gids[0], 0);
	assert_int_equal(cfg.writers.gids[1], 0);
	assert_default_acl(&cfg.requesters);
}

static void test_coord_config_reads_requesters_and_zero_idle(void **state)
{
	struct fixture *f = *state;
	struct coord_config cfg;

	assert_int_equal(load_text(f, "idle_exit = 0\nrequesters = 42,@7\n", &cfg), 0);
	assert_int_equal(cfg.idle_exit_s, 0);
	assert_int_equal(cfg.freeze_ms, 60000);
	assert_int_equal(cfg.hold_ms, 10000);
	assert_int_equal(cfg.requesters.n_uids, 1);
	assert_int_equal(cfg.requesters.uids[0], 42);
	assert_int_equal(cfg.requesters.n_gids, 1);
	assert_int_equal(cfg.requesters.gids[0], 7);
	assert_default_acl(&cfg.writers);
}

static void test_coord_config_explicit_path_wins_over_environment(void **state)
{
	struct fixture *f = *state;
	struct coord_config cfg;
	char other[PATH_MAX];

	(void)snprintf(other, sizeof(other), "%s/missing.conf", f->dir);
	assert_int_equal(setenv(CONFIG_ENV, other, 1), 0);
	write_config(f, "freeze_timeout = 1\n");
	assert_int_equal(coord_config_load(f->path, &cfg, f->err, sizeof(f->err)), 0);
	assert_int_equal(cfg.freeze_ms, 1000);
}

static void test_coord_config_refuses_unknown_key(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "freeze_timeout = 1\n\nfreeze_timout = 2\n", -EINVAL, 3, "freeze_timout");
}

static void test_coord_config_refuses_line_without_equals(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "# comment\nidle_exit = 5\nfreeze_timeout 5\n", -EINVAL, 3, NULL);
	expect_refused(f, "writers\n", -EINVAL, 1, NULL);
}

static void test_coord_config_refuses_bad_numbers(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "freeze_timeout = abc\n", -EINVAL, 1, "abc");
	expect_refused(f, "\nhold_timeout = -1\n", -EINVAL, 2, "-1");
	expect_refused(f, "hold_timeout = 1\n# zero\nhold_timeout = 0\n", -EINVAL, 3,
		       "hold_timeout");
	expect_refused(f, "freeze_timeout = 0\n", -EINVAL, 1, "freeze_timeout");
	expect_refused(f, "freeze_timeout = 2s\n", -EINVAL, 1, "2s");
	expect_refused(f, "freeze_timeout =\n", -EINVAL, 1, "freeze_timeout");
	expect_refused(f, "idle_exit = -1\n", -EINVAL, 1, "idle_exit");
	expect_refused(f, "idle_exit = soon\n", -EINVAL, 1, "soon");
}

/* 'nan' passes every range check of a comparison (all are false for NaN). */
static void test_coord_config_refuses_nan(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "freeze_timeout = nan\n", -EINVAL, 1, "nan");
	expect_refused(f, "hold_timeout = nan\n", -EINVAL, 1, "nan");
}

static void test_coord_config_refuses_unknown_user(void **state)
{
	struct fixture *f = *state;

	assert_null(getpwnam(NO_SUCH_USER));
	expect_refused(f, "freeze_timeout = 3\nwriters = root " NO_SUCH_USER " 1000\n", -EINVAL,
		       2, NO_SUCH_USER);
	expect_refused(f, "requesters = 12x\n", -EINVAL, 1, "12x");
}

static void test_coord_config_refuses_unknown_group(void **state)
{
	struct fixture *f = *state;

	assert_null(getgrnam(NO_SUCH_GROUP));
	expect_refused(f, "\n\n\nrequesters = root @" NO_SUCH_GROUP "\n", -EINVAL, 4,
		       NO_SUCH_GROUP);
	expect_refused(f, "writers = @\n", -EINVAL, 1, NULL);
}

static void test_coord_config_refuses_missing_named_file(void **state)
{
	struct fixture *f = *state;
	struct coord_config cfg;

	(void)snprintf(f->path, sizeof(f->path), "%s/missing.conf", f->dir);
	assert_int_equal(coord_config_load(f->path, &cfg, f->err, sizeof(f->err)), -ENOENT);
	assert_contains(f->err, f->path);

	/* Named through the environment, a missing file is an error too. */
	f->err[0] = '\0';
	assert_int_equal(setenv(CONFIG_ENV, f->path, 1), 0);
	assert_int_equal(coord_config_load(NULL, &cfg, f->err, sizeof(f->err)), -ENOENT);
	assert_contains(f->err, f->path);
}

/* A file that opens but cannot be read is no empty configuration. */
static void test_coord_config_refuses_directory(void **state)
{
	struct fixture *f = *state;
	struct coord_config cfg;

	assert_true(coord_config_load(f->dir, &cfg, f->err, sizeof(f->err)) < 0);
	assert_contains(f->err, f->dir);
}

/* On line 2, "writers =" then the ids 0..n-1, as uids or as @gids. */
static void write_long_list(char *buf, size_t len, bool is_group, int n)
{
	size_t used = (size_t)snprintf(buf, len, "idle_exit = 1\nwriters =");

	for (int i = 0; i < n; i++) {
		used += (size_t)snprintf(buf + used, len - used, " %s%d", is_group ? "@" : "", i);
		assert_true(used < len);
	}
	(void)snprintf(buf + used, len - used, "\n");
}

static void test_coord_config_limits_list_length(void **state)
{
	struct fixture *f = *state;
	struct coord_config cfg;
	char text[2048];

	write_long_list(text, sizeof(text), false, COORD_MAX_ACL);
	assert_int_equal(load_text(f, text, &cfg), 0);
	assert_int_equal(cfg.writers.n_uids, COORD_MAX_ACL);
	assert_int_equal(cfg.writers.uids[COORD_MAX_ACL - 1], COORD_MAX_ACL - 1);

	write_long_list(text, sizeof(text), true, COORD_MAX_ACL);
	assert_int_equal(load_text(f, text, &cfg), 0);
	assert_int_equal(cfg.writers.n_gids, COORD_MAX_ACL);

	write_long_list(text, sizeof(text), false, COORD_MAX_ACL + 1);
	expect_refused(f, text, -E2BIG, 2, NULL);

	write_long_list(text, sizeof(text), true, COORD_MAX_ACL + 1);
	expect_refused(f, text, -E2BIG, 2, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_coord_config_defaults_without_default_file,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_reads_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_reads_requesters_and_zero_idle,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_coord_config_explicit_path_wins_over_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_refuses_unknown_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_refuses_line_without_equals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_refuses_bad_numbers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_refuses_nan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_refuses_unknown_user, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_refuses_unknown_group, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_refuses_missing_named_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_refuses_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_coord_config_limits_list_length, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
