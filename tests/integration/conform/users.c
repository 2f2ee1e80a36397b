/*
 * Calls made as other users. A check for another identity runs in a forked child that switches
 * to one of the fixed unprivileged identities, makes one call through a user function (u_*) and
 * hands its result back through a shared page; the parent prints the line, so the output order
 * stays fixed. The user functions describe what they saw in text of their own and never print.
 */
#include "conform.h"

#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The result a child hands back to the parent. */
struct ures {
	int r;
	char extra[EXTRA_MAX];
};

const struct ident ID_ROOT = { 0, 0, 0, { 0 } };
const struct ident ID_NOBODY = { 65534, 65534, 1, { 65534 } };
const struct ident ID_U2 = { 65533, 65533, 2, { 65533, 65532 } };
const struct ident ID_U3 = { 65531, 65531, 1, { 65531 } };

static struct ures *shared;

/* Map the page the children report through; returns 0 or -errno. Call once, before uck(). */
int map_result_page(void)
{
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (shared == MAP_FAILED)
		return -errno;
	return 0;
}

static int become(const struct ident *id)
{
	if (setgroups((size_t)id->ngroups, id->groups) < 0)
		return -errno;
	if (setresgid(id->gid, id->gid, id->gid) < 0)
		return -errno;
	if (setresuid(id->uid, id->uid, id->uid) < 0)
		return -errno;
	return 0;
}

/*
 * Run fn(a) as id in a child (id NULL: here, as root) and return its result; extra receives
 * its description.
 */
static int run_as(const struct ident *id, user_fn fn, const struct uarg *a, char *extra,
		  size_t size)
{
	int status;
	pid_t pid;

	extra[0] = '\0';
	if (!id)
		return fn(a, extra, size);
	fflush(stdout);
	shared->r = -EIO;
	shared->extra[0] = '\0';
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int r = become(id);

		if (r < 0) {
			shared->r = r;
			snprintf(shared->extra, sizeof(shared->extra), "(identity switch failed)");
			_exit(1);
		}
		shared->r = fn(a, shared->extra, sizeof(shared->extra));
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	snprintf(extra, size, "%s", shared->extra);
	return shared->r;
}

/* One check: fn(a) as id, its result and description. */
void uck(const char *name, const struct ident *id, user_fn fn, const struct uarg *a)
{
	char extra[EXTRA_MAX];
	int r = run_as(id, fn, a, extra, sizeof(extra));

	emit(name, "%s%s%s", fmt_result(r), extra[0] ? " " : "", extra);
}

/* As uck, then what path looks like afterwards (seen by root). */
void uck_show(const char *name, const struct ident *id, user_fn fn, const struct uarg *a,
	      const char *path)
{
	char extra[EXTRA_MAX];
	int r = run_as(id, fn, a, extra, sizeof(extra));

	emit(name, "%s%s%s | %s", fmt_result(r), extra[0] ? " " : "", extra, fmt_lstat(path));
}

/* --- user functions ------------------------------------------------------------------------ */

/* open(p, n, m); writes buf when given; returns 0 or the bytes written. */
int u_open(const struct uarg *a, char *extra, size_t size)
{
	int fd = open(a->p, (int)a->n | O_CLOEXEC, (mode_t)a->m);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (a->buf)
		r = neg_errno(write(fd, a->buf, strlen(a->buf)));
	close(fd);
	return r;
}

/* read p (at most 256 bytes); extra is the bytes. */
int u_read(const struct uarg *a, char *extra, size_t size)
{
	char buf[256];
	int fd = open(a->p, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	snprintf(extra, size, "%s", escape(buf, (size_t)n));
	return (int)n;
}

int u_mkdir(const struct uarg *a, char *extra, size_t size)
{
	return SYS(mkdir(a->p, (mode_t)a->n));
}

int u_rmdir(const struct uarg *a, char *extra, size_t size)
{
	return SYS(rmdir(a->p));
}

int u_unlink(const struct uarg *a, char *extra, size_t size)
{
	return SYS(unlink(a->p));
}

/* renameat2(p, q, flags n). */
int u_rename(const struct uarg *a, char *extra, size_t size)
{
	return SYS(renameat2(AT_FDCWD, a->p, AT_FDCWD, a->q, (unsigned)a->n));
}

/* linkat(p, q, flags n). */
int u_link(const struct uarg *a, char *extra, size_t size)
{
	return SYS(linkat(AT_FDCWD, a->p, AT_FDCWD, a->q, (int)a->n));
}

/* symlink with target p at q. */
int u_symlink(const struct uarg *a, char *extra, size_t size)
{
	return SYS(symlink(a->p, a->q));
}

/* fchmodat(p, mode n, flags f). */
int u_chmod(const struct uarg *a, char *extra, size_t size)
{
	return SYS(fchmodat(AT_FDCWD, a->p, (mode_t)a->n, (int)a->f));
}

/* fchownat(p, uid n, gid m, flags f). */
int u_chown(const struct uarg *a, char *extra, size_t size)
{
	return SYS(fchownat(AT_FDCWD, a->p, (uid_t)a->n, (gid_t)a->m, (int)a->f));
}

int u_truncate(const struct uarg *a, char *extra, size_t size)
{
	return SYS(truncate(a->p, a->n));
}

/* open(p, flags m) and ftruncate to n. */
int u_ftruncate(const struct uarg *a, char *extra, size_t size)
{
	int fd = open(a->p, (int)a->m | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = SYS(ftruncate(fd, a->n));
	close(fd);
	return r;
}

/* utimensat(p, ts (NULL when n), flags f). */
int u_utimens(const struct uarg *a, char *extra, size_t size)
{
	return SYS(utimensat(AT_FDCWD, a->p, a->n ? NULL : a->ts, (int)a->f));
}

/* faccessat(p, mode n, flags f). */
int u_access(const struct uarg *a, char *extra, size_t size)
{
	return SYS(faccessat(AT_FDCWD, a->p, (int)a->n, (int)a->f));
}

/* lstat p; extra is the description. */
int u_stat(const struct uarg *a, char *extra, size_t size)
{
	struct stat st;

	if (lstat(a->p, &st) < 0)
		return -errno;
	snprintf(extra, size, "%s", fmt_stat(&st));
	return 0;
}

/* list the directory p; extra is the listing. */
int u_readdir(const struct uarg *a, char *extra, size_t size)
{
	DIR *d = opendir(a->p);
	int r;

	if (!d)
		return -errno;
	r = list_stream(d, extra, size);
	closedir(d);
	return r;
}

/* mknod(p, mode n, device m). */
int u_mknod(const struct uarg *a, char *extra, size_t size)
{
	return SYS(mknod(a->p, (mode_t)a->n, (dev_t)a->m));
}

/* lsetxattr(p, q, buf/len, flags n). */
int u_setxattr(const struct uarg *a, char *extra, size_t size)
{
	return SYS(lsetxattr(a->p, a->q, a->buf, a->len, (int)a->n));
}

/* lgetxattr(p, q) into a buffer of n bytes; extra is the value. */
int u_getxattr(const struct uarg *a, char *extra, size_t size)
{
	char v[1024];
	ssize_t n = lgetxattr(a->p, a->q, a->n ? v : NULL, (size_t)a->n);

	if (n < 0)
		return -errno;
	if (a->n)
		snprintf(extra, size, "%s", escape(v, (size_t)n));
	return (int)n;
}

/* llistxattr(p); extra is the sorted names. */
int u_listxattr(const struct uarg *a, char *extra, size_t size)
{
	const char *l = list_xattrs(a->p, true);

	snprintf(extra, size, "%s", l);
	return l[0] == '[' ? 0 : -EIO;
}

int u_removexattr(const struct uarg *a, char *extra, size_t size)
{
	return SYS(lremovexattr(a->p, a->q));
}

/* fcntl(cmd) with a lock of type n over [m, m+f) on a new descriptor of p; fills fl. */
static int lock_call(const struct uarg *a, int cmd, struct flock *fl)
{
	int fd = open(a->p, O_RDWR | O_CLOEXEC);
	int r;

	*fl = (struct flock){ .l_type = (short)a->n, .l_whence = SEEK_SET, .l_start = a->m,
			      .l_len = a->f };
	if (fd < 0)
		return -errno;
	r = SYS(fcntl(fd, cmd, fl));
	close(fd);
	return r;
}

/* Try a POSIX lock (F_SETLK) of type n over [m, m+f) on a new descriptor of p. */
int u_setlk(const struct uarg *a, char *extra, size_t size)
{
	struct flock fl;

	return lock_call(a, F_SETLK, &fl);
}

int u_getlk(const struct uarg *a, char *extra, size_t size)
{
	struct flock fl;
	int r = lock_call(a, F_GETLK, &fl);

	if (r == 0) {
		snprintf(extra, size, "type=%s start=%lld len=%lld owner=%s",
			 fmt_lock_type(fl.l_type), (long long)fl.l_start, (long long)fl.l_len,
			 fl.l_type == F_UNLCK ? "none" :
			 fl.l_pid == getppid() ? "parent" : "other");
	}
	return r;
}

/* flock(op n) on a new descriptor of p. */
int u_flock(const struct uarg *a, char *extra, size_t size)
{
	int fd = open(a->p, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = SYS(flock(fd, (int)a->n));
	close(fd);
	return r;
}

/* Write buf at the end of p (opened with flags n). */
int u_append(const struct uarg *a, char *extra, size_t size)
{
	int fd = open(a->p, (int)a->n | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = neg_errno(write(fd, a->buf, strlen(a->buf)));
	close(fd);
	return r;
}

/* bind a unix socket to p; when n, also listen and connect to it. */
int u_bind(const struct uarg *a, char *extra, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), c, r;

	if (s < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->p);
	r = SYS(bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	if (r == 0 && a->n) {
		r = SYS(listen(s, 4));
		if (r == 0) {
			c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			r = c < 0 ? -errno : SYS(connect(c, (struct sockaddr *)&sa, sizeof(sa)));
			if (c >= 0)
				close(c);
		}
	}
	close(s);
	return r;
}

/* chdir to p. */
int u_chdir(const struct uarg *a, char *extra, size_t size)
{
	return SYS(chdir(a->p));
}

/* open(p, flags, mode) as root; on success writes buf (when given) and closes. */
int try_open(const char *p, int flags, mode_t mode, const char *buf)
{
	char extra[8];

	return u_open(A(.p = p, .n = flags, .m = mode, .buf = buf), extra, sizeof(extra));
}

