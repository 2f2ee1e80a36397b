/*
 * conform: a differential POSIX conformance battery.
 *
 *   conform DIR   run every check inside the empty directory DIR (as root)
 *
 * Each check prints one line to stdout: its name, the result of the call (a count, 0 or the
 * errno name) and what can be observed afterwards (file type, mode, owner, link count, size,
 * link targets, sorted listings, extended attribute values, bytes read back). The lines carry
 * no inode or device numbers, no paths outside DIR and no timestamps, only relations between
 * them ("m=new c=same"), so that two correct filesystems print the same text: the integration
 * test compares a run on the backing filesystem with a run through a snapfs mount.
 *
 * Checks for other users run in forked children that switch to fixed unprivileged identities
 * and report through a shared page; the parent prints their lines, so output order is fixed.
 * Every group of checks works in its own subdirectory. A setup step that fails prints a
 * "setup" line, which makes any comparison fail. The number of checks goes to stderr.
 *
 * This file checks the arguments and runs the groups in a fixed order, which is the order of
 * the output; the groups live in attrs.c, names.c, files.c, xattr.c and perms.c.
 */
#include "conform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_empty_dir(const char *p)
{
	DIR *d = opendir(p);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	}
	closedir(d);
	return empty;
}

int main(int argc, char **argv)
{
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: conform DIR\n\nRun the conformance battery in the empty "
			"directory DIR (as root) and print one line per check.\n");
		return EXIT_FAILURE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "conform: must run as root (it switches to other users)\n");
		return EXIT_FAILURE;
	}
	if (chdir(argv[1]) < 0) {
		fprintf(stderr, "conform: '%s': %s\n", argv[1], strerror(errno));
		return EXIT_FAILURE;
	}
	if (!is_empty_dir(".")) {
		fprintf(stderr, "conform: '%s' is not an empty directory\n", argv[1]);
		return EXIT_FAILURE;
	}
	r = map_result_page();
	if (r < 0) {
		fprintf(stderr, "conform: mmap: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	umask(022);
	check_stat();
	check_chmod();
	check_chown();
	check_truncate();
	check_utimens();
	check_readdir();
	check_open();
	check_rw();
	check_fsync();
	check_mkdir();
	check_unlink();
	check_rename();
	check_link();
	check_symlink();
	check_mknod();
	check_xattr();
	check_statvfs();
	check_access();
	check_fallocate();
	check_copy();
	check_seek();
	check_locks();
	check_unlinked();
	check_setgid();
	check_sticky();
	check_umask();
	check_perm();
	check_names();
	check_reuse();
	fflush(stdout);
	fprintf(stderr, "conform: %u checks\n", count_checks());
	return EXIT_SUCCESS;
}
