/*
 * snapfs: the administration command. Each subcommand is a function taking its own argv
 * (argv[0] is the subcommand's name); it prints results to stdout, errors to stderr, and
 * returns an exit status.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fusefs.h"
#include "mountinfo.h"
#include "snapfs/snapfs.h"
#include "volume.h"

#define SNAPFS_FSTYPE "fuse.snapfs"
#define UMOUNT_WAIT_MS 30000

static void usage(FILE *out)
{
	fprintf(out, "usage: snapfs COMMAND [ARGS]\n"
		     "\n"
		     "commands:\n"
		     "  mount [-f] [-o OPTIONS] SRC MNT   serve the directory SRC at MNT\n"
		     "  umount MNT                        unmount a snapfs volume\n"
		     "  version                           print the version\n"
		     "\n"
		     "'snapfs COMMAND --help' describes a command.\n");
}

/* Unmount mnt: umount2 as root, fusermount3 otherwise. Returns 0 or a negative errno. */
static int unmount_path(const char *mnt)
{
	pid_t pid;
	int st;

	if (geteuid() == 0)
		return umount2(mnt, UMOUNT_NOFOLLOW) < 0 ? -errno : 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-q", mnt, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EBUSY;
}

static int cmd_umount(int argc, char **argv)
{
	struct mountinfo_entry me;
	char real[PATH_MAX];
	int r;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: snapfs umount MNT\n\nUnmount the snapfs volume at MNT and wait for "
		       "its daemon to finish.\n");
		return EXIT_SUCCESS;
	}
	if (argc != 2) {
		fprintf(stderr, "snapfs umount: expected one mount point (see 'snapfs umount "
				"--help')\n");
		return EXIT_FAILURE;
	}
	if (!realpath(argv[1], real)) {
		fprintf(stderr, "snapfs umount: '%s': %s\n", argv[1], strerror(errno));
		return EXIT_FAILURE;
	}
	r = mountinfo_find(real, &me);
	if (r < 0 || strcmp(me.fstype, SNAPFS_FSTYPE) != 0) {
		fprintf(stderr, "snapfs umount: '%s' is not a snapfs mount\n", argv[1]);
		return EXIT_FAILURE;
	}
	r = unmount_path(real);
	if (r < 0) {
		fprintf(stderr, "snapfs umount: cannot unmount '%s': %s\n", argv[1], strerror(-r));
		return EXIT_FAILURE;
	}
	r = volume_wait_unlocked(me.source, UMOUNT_WAIT_MS);
	if (r < 0) {
		fprintf(stderr, "snapfs umount: the daemon of '%s' has not finished after %d s\n",
			me.source, UMOUNT_WAIT_MS / 1000);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(cmd ? stdout : stderr);
		return cmd ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (strcmp(cmd, "mount") == 0)
		return sfs_mount_main(argc - 1, argv + 1);
	if (strcmp(cmd, "umount") == 0 || strcmp(cmd, "unmount") == 0)
		return cmd_umount(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("snapfs %s\n", snap_version());
		return EXIT_SUCCESS;
	}
	fprintf(stderr, "snapfs: unknown command '%s' (see 'snapfs --help')\n", cmd);
	return EXIT_FAILURE;
}
