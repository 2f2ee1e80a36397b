/*
 * Setup steps that build the files a group of checks works on. They print nothing unless they
 * fail; then a "setup" line makes any comparison of two runs fail. They never count as checks.
 */
#include "conform.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A setup step's result r: prints a "setup" line for what when r is -errno, else nothing. */
void setup(const char *what, int r)
{
	if (r < 0)
		printf("setup %s: %s\n", what, fmt_result(r));
}

/* A regular file p with the given mode, holding data (NULL: empty). */
void mkfile(const char *p, mode_t mode, const char *data)
{
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		setup(p, -errno);
		return;
	}
	if (data && write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		setup(p, -EIO);
	close(fd);
	setup(p, SYS(chmod(p, mode)));
}

/* A directory p with the given mode, which the umask cannot narrow. */
void mkdirm(const char *p, mode_t mode)
{
	setup(p, SYS(mkdir(p, 0700)));
	setup(p, SYS(chmod(p, mode)));
}

/* lchown p. */
void own(const char *p, uid_t uid, gid_t gid)
{
	setup(p, SYS(lchown(p, uid, gid)));
}

/* A symbolic link p to target. */
void slink(const char *target, const char *p)
{
	setup(p, SYS(symlink(target, p)));
}

/* atime and mtime of p (not followed), in whole seconds. */
void set_times(const char *p, long asec, long msec)
{
	struct timespec ts[2] = { { asec, 0 }, { msec, 0 } };

	setup(p, SYS(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW)));
}

