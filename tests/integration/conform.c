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
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define RING_SLOTS 16
#define RING_SIZE 4096
#define EXTRA_MAX 2048
#define OLD_SEC 1000000000L     /* a time well in the past, for "changed" relations */
#define TICK_NS 20000000L       /* longer than any timestamp granularity of the kernel */

struct ident {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[2];
};

/* The identities of the children. ID_U2 is the only member of the shared group 65532. */
static const struct ident ID_ROOT = { 0, 0, 0, { 0 } };
static const struct ident ID_NOBODY = { 65534, 65534, 1, { 65534 } };
static const struct ident ID_U2 = { 65533, 65533, 2, { 65533, 65532 } };
static const struct ident ID_U3 = { 65531, 65531, 1, { 65531 } };
#define GID_SHARED 65532

/* Arguments of one call made by a user function; each function documents its fields. */
struct uarg {
	const char *p, *q;
	long n, m, f;
	const char *buf;
	size_t len;
	struct timespec ts[2];
};

/* The result a child hands back to the parent. */
struct ures {
	int r;
	char extra[EXTRA_MAX];
};

/* A user function: one call with a, returning a count or -errno; may describe more in extra. */
typedef int (*user_fn)(const struct uarg *a, char *extra, size_t size);

#define A(...) (&(const struct uarg){ __VA_ARGS__ })
#define SYS(call) ((call) < 0 ? -errno : 0)

static char ring[RING_SLOTS][RING_SIZE];
static unsigned ring_next;
static struct ures *shared;
static unsigned nchecks;

/* A scratch buffer valid until RING_SLOTS more have been taken. */
static char *rbuf(void)
{
	return ring[ring_next++ % RING_SLOTS];
}

static int rc(long r)
{
	return r < 0 ? -errno : (int)r;
}

/* A result as text: the count, or the errno name. */
static const char *rs(int r)
{
	char *b = rbuf();
	const char *name;

	if (r >= 0) {
		snprintf(b, RING_SIZE, "%d", r);
		return b;
	}
	name = strerrorname_np(-r);
	if (name)
		return name;
	snprintf(b, RING_SIZE, "errno%d", -r);
	return b;
}

__attribute__((format(printf, 2, 3)))
static void emit(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	nchecks++;
}

static void ck(const char *name, int r)
{
	emit(name, "%s", rs(r));
}

/* Setup steps print nothing unless they fail. */
static void setup(const char *what, int r)
{
	if (r < 0)
		printf("setup %s: %s\n", what, rs(r));
}

static uint32_t fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* Fill b with bytes that depend on seed only. */
static void fill(char *b, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (char)(x >> 16);
	}
}

/* Bytes as a quoted string with escapes, or as length and hash when long. */
static const char *esc(const char *b, size_t n)
{
	char *o = rbuf();
	size_t k = 0;

	if (n > 64) {
		snprintf(o, RING_SIZE, "len=%zu fnv=%08x", n, fnv(b, n));
		return o;
	}
	o[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			o[k++] = (char)c;
		else
			k += (size_t)snprintf(o + k, RING_SIZE - k, "\\x%02x", c);
	}
	o[k++] = '"';
	o[k] = '\0';
	return o;
}

/*
 * A file or attribute name for a listing into out: non-printable bytes, commas and
 * backslashes escaped, names longer than 40 bytes shortened to their start and length.
 */
static void name_text(const char *name, char *out, size_t size)
{
	size_t len = strlen(name), k = 0;

	for (size_t i = 0; i < len && i < 40 && k + 5 < size; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 0x20 && c < 0x7f && c != ',' && c != '\\')
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, size - k, "\\x%02x", c);
	}
	out[k] = '\0';
	if (len > 40)
		snprintf(out + k, size - k, "...(%zu)", len);
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "reg";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "lnk";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "sock";
	case S_IFCHR:
		return "chr";
	case S_IFBLK:
		return "blk";
	default:
		return "?";
	}
}

/* Type, mode, owner, link count and (except for directories) size. */
static const char *fmt_stat(const struct stat *st)
{
	char *b = rbuf();
	int n;

	n = snprintf(b, RING_SIZE, "%s %04o %u:%u n=%lu", type_name(st->st_mode),
		     (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid, (unsigned)st->st_gid,
		     (unsigned long)st->st_nlink);
	if (!S_ISDIR(st->st_mode))
		snprintf(b + n, RING_SIZE - n, " s=%lld", (long long)st->st_size);
	return b;
}

/* lstat of p, described, or the errno name. */
static const char *lst(const char *p)
{
	struct stat st;

	if (lstat(p, &st) < 0)
		return rs(-errno);
	return fmt_stat(&st);
}

/* stat (following links) of p, described. */
static const char *stf(const char *p)
{
	struct stat st;

	if (stat(p, &st) < 0)
		return rs(-errno);
	return fmt_stat(&st);
}

static const char *fst(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return rs(-errno);
	return fmt_stat(&st);
}

static void show(const char *name, const char *p)
{
	emit(name, "%s", lst(p));
}

/* Result of a call, then what p looks like afterwards. */
static void ck_show(const char *name, int r, const char *p)
{
	emit(name, "%s | %s", rs(r), lst(p));
}

/* Whether two names lead to the same file (lstat). */
static const char *same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (lstat(a, &sa) < 0 || lstat(b, &sb) < 0)
		return rs(-errno);
	return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev ? "same" : "different";
}

/* The whole content of p (up to 1 MiB), escaped. */
static const char *content(const char *p)
{
	static char buf[1 << 20];
	ssize_t n, total = 0;
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return rs(-errno);
	while ((n = read(fd, buf + total, sizeof(buf) - (size_t)total)) > 0)
		total += n;
	if (n < 0) {
		int e = -errno;

		close(fd);
		return rs(e);
	}
	close(fd);
	return esc(buf, (size_t)total);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char dtype_char(unsigned char t)
{
	switch (t) {
	case DT_REG:
		return 'f';
	case DT_DIR:
		return 'd';
	case DT_LNK:
		return 'l';
	case DT_FIFO:
		return 'p';
	case DT_SOCK:
		return 's';
	case DT_CHR:
		return 'c';
	case DT_BLK:
		return 'b';
	default:
		return 'u';
	}
}

/*
 * The entries of an open directory stream, as "name/t" sorted and comma-separated (or count
 * and hash when long) into out. Returns the number of entries or -errno.
 */
static int list_stream(DIR *d, char *out, size_t size)
{
	char **names = NULL;
	size_t n = 0, cap = 0, k = 0, total = 0;
	char text[256];
	struct dirent *de;
	int r = 0;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
		}
		name_text(de->d_name, text, sizeof(text));
		names[n] = malloc(strlen(text) + 3);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		sprintf(names[n], "%s/%c", text, dtype_char(de->d_type));
		total += strlen(names[n]) + 1;
		n++;
	}
	if (r == 0) {
		qsort(names, n, sizeof(*names), cmp_str);
		out[0] = '\0';
		if (total < size && total < 512) {
			for (size_t i = 0; i < n; i++)
				k += (size_t)snprintf(out + k, size - k, "%s%s", i ? "," : "",
						      names[i]);
		} else {
			uint32_t h = 2166136261u;

			for (size_t i = 0; i < n; i++)
				h = h * 31 + fnv(names[i], strlen(names[i]));
			snprintf(out, size, "entries=%zu hash=%08x", n, h);
		}
		r = (int)n;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static const char *listing(const char *p)
{
	char *b = rbuf();
	DIR *d = opendir(p);
	int r;

	if (!d)
		return rs(-errno);
	r = list_stream(d, b, RING_SIZE);
	closedir(d);
	return r < 0 ? rs(r) : b;
}

/* Extended attribute names of p, sorted. */
static const char *xlist(const char *p, bool nofollow)
{
	char raw[4096], *names[128], *b = rbuf();
	ssize_t n = nofollow ? llistxattr(p, raw, sizeof(raw)) : listxattr(p, raw, sizeof(raw));
	size_t cnt = 0, k = 0;

	if (n < 0)
		return rs(-errno);
	for (ssize_t i = 0; i < n && cnt < 128; i += (ssize_t)strlen(raw + i) + 1)
		names[cnt++] = raw + i;
	qsort(names, cnt, sizeof(*names), cmp_str);
	b[0] = '[';
	k = 1;
	for (size_t i = 0; i < cnt; i++) {
		char text[256];

		name_text(names[i], text, sizeof(text));
		k += (size_t)snprintf(b + k, RING_SIZE - k, "%s%s", i ? "," : "", text);
	}
	snprintf(b + k, RING_SIZE - k, "]");
	return b;
}

static const char *xget(const char *p, const char *name)
{
	char v[4096];
	ssize_t n = lgetxattr(p, name, v, sizeof(v));

	if (n < 0)
		return rs(-errno);
	return esc(v, (size_t)n);
}

/* --- setup helpers: silent unless they fail ------------------------------------------------ */

static void mkfile(const char *p, mode_t mode, const char *data)
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

static void mkdirm(const char *p, mode_t mode)
{
	setup(p, SYS(mkdir(p, 0700)));
	setup(p, SYS(chmod(p, mode)));
}

static void own(const char *p, uid_t uid, gid_t gid)
{
	setup(p, SYS(lchown(p, uid, gid)));
}

static void slink(const char *target, const char *p)
{
	setup(p, SYS(symlink(target, p)));
}

static void set_times(const char *p, long asec, long msec)
{
	struct timespec ts[2] = { { asec, 0 }, { msec, 0 } };

	setup(p, SYS(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW)));
}

static void tick(void)
{
	struct timespec t = { 0, TICK_NS };

	nanosleep(&t, NULL);
}

/* Timestamps of p before an operation; the wait makes a later change visible. */
struct tsnap {
	struct timespec a, m, c;
	int err;
};

static struct tsnap snap(const char *p)
{
	struct tsnap s = { .err = 0 };
	struct stat st;

	if (lstat(p, &st) < 0) {
		s.err = -errno;
		return s;
	}
	s.a = st.st_atim;
	s.m = st.st_mtim;
	s.c = st.st_ctim;
	tick();
	return s;
}

static bool ts_eq(struct timespec x, struct timespec y)
{
	return x.tv_sec == y.tv_sec && x.tv_nsec == y.tv_nsec;
}

/* How mtime and ctime of p changed since s: "m=same c=new". */
static const char *changed(const char *p, const struct tsnap *s)
{
	char *b = rbuf();
	struct stat st;

	if (s->err)
		return rs(s->err);
	if (lstat(p, &st) < 0)
		return rs(-errno);
	snprintf(b, RING_SIZE, "m=%s c=%s", ts_eq(st.st_mtim, s->m) ? "same" : "new",
		 ts_eq(st.st_ctim, s->c) ? "same" : "new");
	return b;
}

/* --- children ------------------------------------------------------------------------------- */

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
static void uck(const char *name, const struct ident *id, user_fn fn, const struct uarg *a)
{
	char extra[EXTRA_MAX];
	int r = run_as(id, fn, a, extra, sizeof(extra));

	emit(name, "%s%s%s", rs(r), extra[0] ? " " : "", extra);
}

/* As uck, then what path looks like afterwards (seen by root). */
static void uck_show(const char *name, const struct ident *id, user_fn fn, const struct uarg *a,
		     const char *path)
{
	char extra[EXTRA_MAX];
	int r = run_as(id, fn, a, extra, sizeof(extra));

	emit(name, "%s%s%s | %s", rs(r), extra[0] ? " " : "", extra, lst(path));
}

/* --- user functions ------------------------------------------------------------------------ */

/* open(p, n, m); writes buf when given; returns 0 or the bytes written. */
static int u_open(const struct uarg *a, char *extra, size_t size)
{
	int fd = open(a->p, (int)a->n | O_CLOEXEC, (mode_t)a->m);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (a->buf)
		r = rc(write(fd, a->buf, strlen(a->buf)));
	close(fd);
	return r;
}

/* read p (at most 256 bytes); extra is the bytes. */
static int u_read(const struct uarg *a, char *extra, size_t size)
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
	snprintf(extra, size, "%s", esc(buf, (size_t)n));
	return (int)n;
}

static int u_mkdir(const struct uarg *a, char *extra, size_t size)
{
	return SYS(mkdir(a->p, (mode_t)a->n));
}

static int u_rmdir(const struct uarg *a, char *extra, size_t size)
{
	return SYS(rmdir(a->p));
}

static int u_unlink(const struct uarg *a, char *extra, size_t size)
{
	return SYS(unlink(a->p));
}

/* renameat2(p, q, flags n). */
static int u_rename(const struct uarg *a, char *extra, size_t size)
{
	return SYS(renameat2(AT_FDCWD, a->p, AT_FDCWD, a->q, (unsigned)a->n));
}

/* linkat(p, q, flags n). */
static int u_link(const struct uarg *a, char *extra, size_t size)
{
	return SYS(linkat(AT_FDCWD, a->p, AT_FDCWD, a->q, (int)a->n));
}

/* symlink with target p at q. */
static int u_symlink(const struct uarg *a, char *extra, size_t size)
{
	return SYS(symlink(a->p, a->q));
}

/* fchmodat(p, mode n, flags f). */
static int u_chmod(const struct uarg *a, char *extra, size_t size)
{
	return SYS(fchmodat(AT_FDCWD, a->p, (mode_t)a->n, (int)a->f));
}

/* fchownat(p, uid n, gid m, flags f). */
static int u_chown(const struct uarg *a, char *extra, size_t size)
{
	return SYS(fchownat(AT_FDCWD, a->p, (uid_t)a->n, (gid_t)a->m, (int)a->f));
}

static int u_truncate(const struct uarg *a, char *extra, size_t size)
{
	return SYS(truncate(a->p, a->n));
}

/* open(p, flags m) and ftruncate to n. */
static int u_ftruncate(const struct uarg *a, char *extra, size_t size)
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
static int u_utimens(const struct uarg *a, char *extra, size_t size)
{
	return SYS(utimensat(AT_FDCWD, a->p, a->n ? NULL : a->ts, (int)a->f));
}

/* faccessat(p, mode n, flags f). */
static int u_access(const struct uarg *a, char *extra, size_t size)
{
	return SYS(faccessat(AT_FDCWD, a->p, (int)a->n, (int)a->f));
}

/* lstat p; extra is the description. */
static int u_stat(const struct uarg *a, char *extra, size_t size)
{
	struct stat st;

	if (lstat(a->p, &st) < 0)
		return -errno;
	snprintf(extra, size, "%s", fmt_stat(&st));
	return 0;
}

/* list the directory p; extra is the listing. */
static int u_readdir(const struct uarg *a, char *extra, size_t size)
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
static int u_mknod(const struct uarg *a, char *extra, size_t size)
{
	return SYS(mknod(a->p, (mode_t)a->n, (dev_t)a->m));
}

/* lsetxattr(p, q, buf/len, flags n). */
static int u_setxattr(const struct uarg *a, char *extra, size_t size)
{
	return SYS(lsetxattr(a->p, a->q, a->buf, a->len, (int)a->n));
}

/* lgetxattr(p, q) into a buffer of n bytes; extra is the value. */
static int u_getxattr(const struct uarg *a, char *extra, size_t size)
{
	char v[1024];
	ssize_t n = lgetxattr(a->p, a->q, a->n ? v : NULL, (size_t)a->n);

	if (n < 0)
		return -errno;
	if (a->n)
		snprintf(extra, size, "%s", esc(v, (size_t)n));
	return (int)n;
}

/* llistxattr(p); extra is the sorted names. */
static int u_listxattr(const struct uarg *a, char *extra, size_t size)
{
	const char *l = xlist(a->p, true);

	snprintf(extra, size, "%s", l);
	return l[0] == '[' ? 0 : -EIO;
}

static int u_removexattr(const struct uarg *a, char *extra, size_t size)
{
	return SYS(lremovexattr(a->p, a->q));
}

/* Try a POSIX lock (F_SETLK) of type n over [m, m+f) on a new descriptor of p. */
static int u_setlk(const struct uarg *a, char *extra, size_t size)
{
	struct flock fl = { .l_type = (short)a->n, .l_whence = SEEK_SET, .l_start = a->m,
			    .l_len = a->f };
	int fd = open(a->p, O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = SYS(fcntl(fd, F_SETLK, &fl));
	close(fd);
	return r;
}

static const char *lock_type(short t)
{
	return t == F_WRLCK ? "wr" : t == F_RDLCK ? "rd" : t == F_UNLCK ? "un" : "?";
}

/* F_GETLK for type n over [m, m+f); extra is the conflict, its owner relative to us. */
static int u_getlk(const struct uarg *a, char *extra, size_t size)
{
	struct flock fl = { .l_type = (short)a->n, .l_whence = SEEK_SET, .l_start = a->m,
			    .l_len = a->f };
	int fd = open(a->p, O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = SYS(fcntl(fd, F_GETLK, &fl));
	close(fd);
	if (r == 0) {
		snprintf(extra, size, "type=%s start=%lld len=%lld owner=%s", lock_type(fl.l_type),
			 (long long)fl.l_start, (long long)fl.l_len,
			 fl.l_type == F_UNLCK ? "none" :
			 fl.l_pid == getppid() ? "parent" : "other");
	}
	return r;
}

/* flock(op n) on a new descriptor of p. */
static int u_flock(const struct uarg *a, char *extra, size_t size)
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
static int u_append(const struct uarg *a, char *extra, size_t size)
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
	r = rc(write(fd, a->buf, strlen(a->buf)));
	close(fd);
	return r;
}

/* bind a unix socket to p; when n, also listen and connect to it. */
static int u_bind(const struct uarg *a, char *extra, size_t size)
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
static int u_chdir(const struct uarg *a, char *extra, size_t size)
{
	return SYS(chdir(a->p));
}

static struct timespec ts(long sec, long nsec)
{
	return (struct timespec){ sec, nsec };
}

/* --- lookup and stat ----------------------------------------------------------------------- */

static void t_stat(void)
{
	struct stat st;
	int fd;

	mkdirm("stat", 0755);
	mkfile("stat/f", 0644, "hello");
	mkdirm("stat/d", 0755);
	slink("f", "stat/l");
	slink("d", "stat/ld");
	slink("nowhere", "stat/dangling");
	slink("loop2", "stat/loop1");
	slink("loop1", "stat/loop2");
	setup("stat/p", SYS(mkfifo("stat/p", 0644)));
	setup("stat/p", SYS(chmod("stat/p", 0640)));

	show("stat.file", "stat/f");
	show("stat.dir", "stat/d");
	show("stat.symlink", "stat/l");
	emit("stat.symlink_follow", "%s", stf("stat/l"));
	emit("stat.symlink_dir_follow", "%s", stf("stat/ld"));
	show("stat.symlink_dir_slash", "stat/ld/");
	show("stat.symlink_file_slash", "stat/l/");
	show("stat.fifo", "stat/p");
	show("stat.dangling", "stat/dangling");
	emit("stat.dangling_follow", "%s", stf("stat/dangling"));
	emit("stat.loop_follow", "%s", stf("stat/loop1"));
	show("stat.loop_nofollow", "stat/loop1");
	show("stat.missing", "stat/missing");
	show("stat.missing_in_missing", "stat/missing/x");
	show("stat.file_slash", "stat/f/");
	show("stat.through_file", "stat/f/x");
	show("stat.dotdot", "stat/d/../f");
	show("stat.dot", "stat/d/.");
	show("stat.empty_path", "");
	show("stat.dir_slashes", "stat//d//");
	emit("stat.dotdot_is_parent", "%s", same_file("stat/d/..", "stat"));
	emit("stat.dir_link_dotdot", "%s", same_file("stat/ld/..", "stat"));
	fd = open("stat/f", O_RDONLY | O_CLOEXEC);
	emit("stat.fstat", "%s", fst(fd));
	emit("stat.fstatat_empty", "%s",
	     fstatat(fd, "", &st, AT_EMPTY_PATH) < 0 ? rs(-errno) : fmt_stat(&st));
	emit("stat.fstatat_empty_noflag", "%s",
	     fstatat(fd, "", &st, 0) < 0 ? rs(-errno) : fmt_stat(&st));
	if (fd >= 0)
		close(fd);
	fd = open("stat/l", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	emit("stat.opath_symlink", "%s",
	     fstatat(fd, "", &st, AT_EMPTY_PATH) < 0 ? rs(-errno) : fmt_stat(&st));
	if (fd >= 0)
		close(fd);
	fd = open("stat/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	emit("stat.fstatat_dirfd", "%s",
	     fstatat(fd, "../f", &st, 0) < 0 ? rs(-errno) : fmt_stat(&st));
	if (fd >= 0)
		close(fd);
	uck("stat.nobody_file", &ID_NOBODY, u_stat, A(.p = "stat/f"));
	uck("stat.nobody_dir", &ID_NOBODY, u_stat, A(.p = "stat/d"));
}

/* --- chmod ---------------------------------------------------------------------------------- */

static void t_chmod(void)
{
	static const mode_t modes[] = { 0, 0400, 0644, 0755, 0777, 01755, 02755, 04755, 06755,
					07777 };
	char name[64];
	struct tsnap s;
	int fd;

	mkdirm("chmod", 0777);
	mkfile("chmod/f", 0644, "x");
	mkdirm("chmod/d", 0755);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(name, sizeof(name), "chmod.file_%04o", (unsigned)modes[i]);
		ck_show(name, SYS(chmod("chmod/f", modes[i])), "chmod/f");
		snprintf(name, sizeof(name), "chmod.dir_%04o", (unsigned)modes[i]);
		ck_show(name, SYS(chmod("chmod/d", modes[i])), "chmod/d");
	}
	setup("chmod/d", SYS(chmod("chmod/d", 0755)));
	slink("f", "chmod/l");
	ck_show("chmod.via_symlink", SYS(chmod("chmod/l", 0600)), "chmod/f");
	show("chmod.via_symlink_link", "chmod/l");
	ck_show("chmod.symlink_nofollow",
		SYS(fchmodat(AT_FDCWD, "chmod/l", 0644, AT_SYMLINK_NOFOLLOW)), "chmod/l");
	ck("chmod.missing", SYS(chmod("chmod/missing", 0644)));
	ck("chmod.through_file", SYS(chmod("chmod/f/x", 0644)));
	fd = open("chmod/f", O_RDONLY | O_CLOEXEC);
	ck_show("chmod.fchmod", SYS(fchmod(fd, 0604)), "chmod/f");
	if (fd >= 0)
		close(fd);
	s = snap("chmod/f");
	setup("chmod/f", SYS(chmod("chmod/f", 0640)));
	emit("chmod.times", "%s", changed("chmod/f", &s));

	/* as other users */
	mkfile("chmod/nb", 0644, "x");
	own("chmod/nb", ID_NOBODY.uid, 0);
	mkfile("chmod/u2", 0644, "x");
	own("chmod/u2", ID_U2.uid, GID_SHARED);
	uck_show("chmod.nonowner", &ID_NOBODY, u_chmod, A(.p = "chmod/f", .n = 0777), "chmod/f");
	uck_show("chmod.nonowner_u2", &ID_U2, u_chmod, A(.p = "chmod/nb", .n = 0777), "chmod/nb");
	uck_show("chmod.owner", &ID_NOBODY, u_chmod, A(.p = "chmod/nb", .n = 0600), "chmod/nb");
	uck_show("chmod.owner_setuid", &ID_NOBODY, u_chmod, A(.p = "chmod/nb", .n = 04755),
		 "chmod/nb");
	uck_show("chmod.owner_sgid_nonmember", &ID_NOBODY, u_chmod,
		 A(.p = "chmod/nb", .n = 02755), "chmod/nb");
	uck_show("chmod.owner_sgid_member", &ID_U2, u_chmod, A(.p = "chmod/u2", .n = 02755),
		 "chmod/u2");
	uck_show("chmod.owner_sticky_file", &ID_U2, u_chmod, A(.p = "chmod/u2", .n = 01644),
		 "chmod/u2");
	own("chmod/u2", ID_U2.uid, 0);
	uck_show("chmod.owner_sgid_after_chgrp", &ID_U2, u_chmod,
		 A(.p = "chmod/u2", .n = 02770), "chmod/u2");
	setup("chmod/f", SYS(chmod("chmod/f", 0644)));
	ck_show("chmod.root_others_file", SYS(chmod("chmod/nb", 0640)), "chmod/nb");
}

/* --- chown ---------------------------------------------------------------------------------- */

static void t_chown(void)
{
	struct tsnap s;
	int fd;

	mkdirm("chown", 0777);
	mkfile("chown/f", 0644, "x");
	ck_show("chown.root", SYS(chown("chown/f", 65534, 65534)), "chown/f");
	ck_show("chown.uid_only", SYS(chown("chown/f", 65533, (gid_t)-1)), "chown/f");
	ck_show("chown.gid_only", SYS(chown("chown/f", (uid_t)-1, 65532)), "chown/f");
	ck_show("chown.noop", SYS(chown("chown/f", (uid_t)-1, (gid_t)-1)), "chown/f");
	ck_show("chown.back_to_root", SYS(chown("chown/f", 0, 0)), "chown/f");
	ck("chown.missing", SYS(chown("chown/missing", 0, 0)));
	slink("f", "chown/l");
	ck_show("chown.follow", SYS(chown("chown/l", 65534, 65534)), "chown/f");
	show("chown.follow_link", "chown/l");
	ck_show("chown.lchown", SYS(lchown("chown/l", 65533, 65533)), "chown/l");
	show("chown.lchown_target", "chown/f");
	fd = open("chown/f", O_RDONLY | O_CLOEXEC);
	ck_show("chown.fchown", SYS(fchown(fd, 0, 65532)), "chown/f");
	if (fd >= 0)
		close(fd);
	mkdirm("chown/d", 0755);
	ck_show("chown.dir", SYS(chown("chown/d", 65534, 65532)), "chown/d");
	s = snap("chown/f");
	setup("chown/f", SYS(chown("chown/f", 65534, 0)));
	emit("chown.times", "%s", changed("chown/f", &s));

	/* set-id bits */
	mkfile("chown/suid", 06755, "x");
	ck_show("chown.root_clears_setid", SYS(chown("chown/suid", 65534, 65534)), "chown/suid");
	setup("chown/suid", SYS(chmod("chown/suid", 06755)));
	ck_show("chown.root_noop_setid", SYS(chown("chown/suid", (uid_t)-1, (gid_t)-1)),
		"chown/suid");
	mkfile("chown/sgid_nox", 02644, "x");
	ck_show("chown.root_sgid_no_group_x", SYS(chown("chown/sgid_nox", 65533, 65533)),
		"chown/sgid_nox");
	mkfile("chown/sgid_x", 02755, "x");
	ck_show("chown.root_sgid_group_x", SYS(chown("chown/sgid_x", 65533, 65533)),
		"chown/sgid_x");
	mkdirm("chown/sd", 06755);
	ck_show("chown.root_dir_keeps_setid", SYS(chown("chown/sd", 65533, 65533)), "chown/sd");

	/* as other users */
	mkfile("chown/u2", 06755, "x");
	own("chown/u2", ID_U2.uid, ID_U2.gid);
	setup("chown/u2", SYS(chmod("chown/u2", 06755)));
	uck_show("chown.owner_chgrp_member", &ID_U2, u_chown,
		 A(.p = "chown/u2", .n = -1, .m = GID_SHARED), "chown/u2");
	setup("chown/u2", SYS(chmod("chown/u2", 0644)));
	uck_show("chown.owner_chgrp_nonmember", &ID_U2, u_chown,
		 A(.p = "chown/u2", .n = -1, .m = 65534), "chown/u2");
	uck_show("chown.owner_give_away", &ID_U2, u_chown,
		 A(.p = "chown/u2", .n = 65534, .m = -1), "chown/u2");
	uck_show("chown.owner_same_uid", &ID_U2, u_chown,
		 A(.p = "chown/u2", .n = ID_U2.uid, .m = -1), "chown/u2");
	uck_show("chown.owner_noop", &ID_U2, u_chown, A(.p = "chown/u2", .n = -1, .m = -1),
		 "chown/u2");
	uck_show("chown.nonowner", &ID_NOBODY, u_chown,
		 A(.p = "chown/u2", .n = 65534, .m = 65534), "chown/u2");
	uck_show("chown.nonowner_noop", &ID_NOBODY, u_chown,
		 A(.p = "chown/u2", .n = -1, .m = -1), "chown/u2");
	uck_show("chown.nonowner_chgrp", &ID_NOBODY, u_chown,
		 A(.p = "chown/u2", .n = -1, .m = 65534), "chown/u2");
	slink("u2", "chown/lu2");
	own("chown/lu2", ID_U2.uid, ID_U2.gid);
	uck_show("chown.owner_lchown_member", &ID_U2, u_chown,
		 A(.p = "chown/lu2", .n = -1, .m = GID_SHARED, .f = AT_SYMLINK_NOFOLLOW),
		 "chown/lu2");
	uck_show("chown.nonowner_lchown", &ID_NOBODY, u_chown,
		 A(.p = "chown/lu2", .n = -1, .m = 65534, .f = AT_SYMLINK_NOFOLLOW), "chown/lu2");
}

/* --- truncate ------------------------------------------------------------------------------- */

static void t_truncate(void)
{
	struct tsnap s;
	int fd;

	mkdirm("trunc", 0777);
	mkfile("trunc/f", 0644, "abcdef");
	ck_show("truncate.shrink", SYS(truncate("trunc/f", 3)), "trunc/f");
	emit("truncate.shrink_content", "%s", content("trunc/f"));
	ck_show("truncate.grow", SYS(truncate("trunc/f", 10)), "trunc/f");
	emit("truncate.grow_content", "%s", content("trunc/f"));
	ck_show("truncate.big", SYS(truncate("trunc/f", 1L << 32)), "trunc/f");
	ck_show("truncate.zero", SYS(truncate("trunc/f", 0)), "trunc/f");
	ck("truncate.negative", SYS(truncate("trunc/f", -1)));
	mkdirm("trunc/d", 0755);
	ck("truncate.dir", SYS(truncate("trunc/d", 0)));
	ck("truncate.missing", SYS(truncate("trunc/missing", 0)));
	ck("truncate.through_file", SYS(truncate("trunc/f/x", 0)));
	slink("f", "trunc/l");
	ck_show("truncate.via_symlink", SYS(truncate("trunc/l", 5)), "trunc/f");
	setup("trunc/p", SYS(mkfifo("trunc/p", 0666)));
	ck("truncate.fifo", SYS(truncate("trunc/p", 0)));

	fd = open("trunc/f", O_RDONLY | O_CLOEXEC);
	ck("ftruncate.rdonly", SYS(ftruncate(fd, 0)));
	if (fd >= 0)
		close(fd);
	fd = open("trunc/f", O_WRONLY | O_CLOEXEC);
	ck_show("ftruncate.wronly", SYS(ftruncate(fd, 7)), "trunc/f");
	ck("ftruncate.negative", SYS(ftruncate(fd, -5)));
	if (fd >= 0)
		close(fd);
	fd = open("trunc/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck("ftruncate.dir", SYS(ftruncate(fd, 0)));
	if (fd >= 0)
		close(fd);

	/* timestamps: a size change updates both; the same size is the interesting edge */
	set_times("trunc/f", OLD_SEC, OLD_SEC);
	s = snap("trunc/f");
	setup("trunc/f", SYS(truncate("trunc/f", 2)));
	emit("truncate.times_shrink", "%s", changed("trunc/f", &s));
	set_times("trunc/f", OLD_SEC, OLD_SEC);
	s = snap("trunc/f");
	setup("trunc/f", SYS(truncate("trunc/f", 2)));
	emit("truncate.times_same_size", "%s", changed("trunc/f", &s));
	set_times("trunc/f", OLD_SEC, OLD_SEC);
	s = snap("trunc/f");
	fd = open("trunc/f", O_WRONLY | O_CLOEXEC);
	setup("trunc/f", SYS(ftruncate(fd, 2)));
	if (fd >= 0)
		close(fd);
	emit("ftruncate.times_same_size", "%s", changed("trunc/f", &s));
	set_times("trunc/f", OLD_SEC, OLD_SEC);
	s = snap("trunc/f");
	fd = open("trunc/f", O_WRONLY | O_CLOEXEC);
	setup("trunc/f", SYS(ftruncate(fd, 9)));
	if (fd >= 0)
		close(fd);
	emit("ftruncate.times_grow", "%s", changed("trunc/f", &s));

	/* as other users */
	mkfile("trunc/ro", 0644, "abcdef");
	mkfile("trunc/rw", 0666, "abcdef");
	mkfile("trunc/suid", 06777, "abcdef");
	mkfile("trunc/sgid_nox", 02666, "abcdef");
	uck_show("truncate.nonowner_nowrite", &ID_NOBODY, u_truncate, A(.p = "trunc/ro", .n = 1),
		 "trunc/ro");
	uck_show("truncate.nonowner_write", &ID_NOBODY, u_truncate, A(.p = "trunc/rw", .n = 1),
		 "trunc/rw");
	uck_show("ftruncate.nonowner_rdonly_fd", &ID_NOBODY, u_ftruncate,
		 A(.p = "trunc/ro", .n = 1, .m = O_RDONLY), "trunc/ro");
	uck_show("truncate.nonowner_clears_setid", &ID_NOBODY, u_truncate,
		 A(.p = "trunc/suid", .n = 2), "trunc/suid");
	setup("trunc/suid", SYS(chmod("trunc/suid", 06777)));
	uck_show("ftruncate.nonowner_clears_setid", &ID_NOBODY, u_ftruncate,
		 A(.p = "trunc/suid", .n = 1, .m = O_WRONLY), "trunc/suid");
	uck_show("truncate.nonowner_sgid_no_group_x", &ID_NOBODY, u_truncate,
		 A(.p = "trunc/sgid_nox", .n = 1), "trunc/sgid_nox");
	setup("trunc/suid", SYS(chmod("trunc/suid", 06777)));
	ck_show("truncate.root_keeps_setid", SYS(truncate("trunc/suid", 0)), "trunc/suid");
	mkdirm("trunc/closed", 0700);
	mkfile("trunc/closed/f", 0666, "abc");
	uck("truncate.no_search", &ID_NOBODY, u_truncate, A(.p = "trunc/closed/f", .n = 0));
}

/* --- utimensat ------------------------------------------------------------------------------ */

/* Whether p's atime and mtime equal the given times, and whether they are recent. */
static const char *times_of(const char *p, struct timespec at, struct timespec mt)
{
	char *b = rbuf();
	struct stat st;
	time_t now = time(NULL);

	if (lstat(p, &st) < 0)
		return rs(-errno);
	snprintf(b, RING_SIZE, "a=%s m=%s", ts_eq(st.st_atim, at) ? "set" :
		 (st.st_atim.tv_sec > now - 60 && st.st_atim.tv_sec <= now + 1) ? "now" : "other",
		 ts_eq(st.st_mtim, mt) ? "set" :
		 (st.st_mtim.tv_sec > now - 60 && st.st_mtim.tv_sec <= now + 1) ? "now" : "other");
	return b;
}

static void t_utimens(void)
{
	struct timespec at = ts(OLD_SEC, 123456789), mt = ts(OLD_SEC + 1000, 500000000);
	struct timespec t2[2];
	struct tsnap s;
	int fd;

	mkdirm("utime", 0777);
	mkfile("utime/f", 0644, "x");
	t2[0] = at;
	t2[1] = mt;
	ck("utimens.explicit", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.explicit_times", "%s", times_of("utime/f", at, mt));
	s = snap("utime/f");
	t2[0] = ts(0, UTIME_OMIT);
	t2[1] = ts(0, UTIME_OMIT);
	ck("utimens.omit_both", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.omit_both_times", "%s %s", times_of("utime/f", at, mt),
	     changed("utime/f", &s));
	t2[0] = ts(0, UTIME_OMIT);
	t2[1] = ts(OLD_SEC + 5, 0);
	ck("utimens.omit_atime", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.omit_atime_times", "%s", times_of("utime/f", at, t2[1]));
	t2[0] = ts(0, UTIME_NOW);
	t2[1] = ts(0, UTIME_OMIT);
	ck("utimens.now_atime", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.now_atime_times", "%s", times_of("utime/f", at, ts(OLD_SEC + 5, 0)));
	t2[0] = ts(0, UTIME_NOW);
	t2[1] = ts(0, UTIME_NOW);
	ck("utimens.now_both", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.now_both_times", "%s", times_of("utime/f", at, mt));
	set_times("utime/f", OLD_SEC, OLD_SEC);
	ck("utimens.null", SYS(utimensat(AT_FDCWD, "utime/f", NULL, 0)));
	emit("utimens.null_times", "%s", times_of("utime/f", at, mt));
	t2[0] = ts(0, 0);
	t2[1] = ts(-1000, 1);
	ck("utimens.epoch_and_before", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.epoch_and_before_times", "%s", times_of("utime/f", t2[0], t2[1]));
	t2[0] = ts(8589934592L, 999999999);
	t2[1] = ts(4000000000L, 0);
	ck("utimens.far_future", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.far_future_times", "%s", times_of("utime/f", t2[0], t2[1]));
	t2[0] = ts(OLD_SEC, 1000000000);
	t2[1] = ts(OLD_SEC, 0);
	ck("utimens.bad_nsec", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	ck("utimens.missing", SYS(utimensat(AT_FDCWD, "utime/missing", NULL, 0)));
	ck("utimens.bad_flags", SYS(utimensat(AT_FDCWD, "utime/f", NULL, 0x4000)));

	slink("f", "utime/l");
	t2[0] = at;
	t2[1] = mt;
	set_times("utime/f", OLD_SEC, OLD_SEC);
	ck("utimens.symlink_nofollow",
	   SYS(utimensat(AT_FDCWD, "utime/l", t2, AT_SYMLINK_NOFOLLOW)));
	emit("utimens.symlink_nofollow_link", "%s", times_of("utime/l", at, mt));
	emit("utimens.symlink_nofollow_target", "%s",
	     times_of("utime/f", ts(OLD_SEC, 0), ts(OLD_SEC, 0)));
	ck("utimens.symlink_follow", SYS(utimensat(AT_FDCWD, "utime/l", t2, 0)));
	emit("utimens.symlink_follow_target", "%s", times_of("utime/f", at, mt));
	mkdirm("utime/d", 0755);
	ck("utimens.dir", SYS(utimensat(AT_FDCWD, "utime/d", t2, 0)));
	emit("utimens.dir_times", "%s", times_of("utime/d", at, mt));
	fd = open("utime/f", O_RDONLY | O_CLOEXEC);
	t2[1] = ts(OLD_SEC + 7, 7);
	ck("utimens.futimens", SYS(futimens(fd, t2)));
	emit("utimens.futimens_times", "%s", times_of("utime/f", at, t2[1]));
	if (fd >= 0)
		close(fd);

	/* as other users: writers may touch, only owners may set */
	mkfile("utime/rw", 0666, "x");
	mkfile("utime/ro", 0644, "x");
	mkfile("utime/nb", 0600, "x");
	own("utime/nb", ID_NOBODY.uid, ID_NOBODY.gid);
	set_times("utime/rw", OLD_SEC, OLD_SEC);
	uck("utimens.writer_null", &ID_NOBODY, u_utimens, A(.p = "utime/rw", .n = 1));
	emit("utimens.writer_null_times", "%s", times_of("utime/rw", at, mt));
	set_times("utime/rw", OLD_SEC, OLD_SEC);
	uck("utimens.writer_now", &ID_NOBODY, u_utimens,
	    A(.p = "utime/rw", .ts = { { 0, UTIME_NOW }, { 0, UTIME_NOW } }));
	emit("utimens.writer_now_times", "%s", times_of("utime/rw", at, mt));
	set_times("utime/rw", OLD_SEC, OLD_SEC);
	uck("utimens.writer_now_omit", &ID_NOBODY, u_utimens,
	    A(.p = "utime/rw", .ts = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } }));
	emit("utimens.writer_now_omit_times", "%s",
	     times_of("utime/rw", ts(OLD_SEC, 0), ts(OLD_SEC, 0)));
	uck("utimens.writer_explicit", &ID_NOBODY, u_utimens,
	    A(.p = "utime/rw", .ts = { { OLD_SEC + 3, 0 }, { OLD_SEC + 3, 0 } }));
	emit("utimens.writer_explicit_times", "%s",
	     times_of("utime/rw", ts(OLD_SEC, 0), ts(OLD_SEC, 0)));
	uck("utimens.writer_omit_both", &ID_NOBODY, u_utimens,
	    A(.p = "utime/rw", .ts = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } }));
	uck("utimens.reader_null", &ID_NOBODY, u_utimens, A(.p = "utime/ro", .n = 1));
	uck("utimens.reader_now", &ID_NOBODY, u_utimens,
	    A(.p = "utime/ro", .ts = { { 0, UTIME_NOW }, { 0, UTIME_NOW } }));
	uck("utimens.reader_explicit", &ID_NOBODY, u_utimens,
	    A(.p = "utime/ro", .ts = { { OLD_SEC, 0 }, { OLD_SEC, 0 } }));
	uck("utimens.owner_explicit", &ID_NOBODY, u_utimens,
	    A(.p = "utime/nb", .ts = { { OLD_SEC + 9, 0 }, { OLD_SEC + 8, 0 } }));
	emit("utimens.owner_explicit_times", "%s",
	     times_of("utime/nb", ts(OLD_SEC + 9, 0), ts(OLD_SEC + 8, 0)));
	set_times("utime/nb", OLD_SEC, OLD_SEC);
	uck("utimens.owner_null_noperm", &ID_NOBODY, u_utimens, A(.p = "utime/nb", .n = 1));
	emit("utimens.owner_null_noperm_times", "%s", times_of("utime/nb", at, mt));
	t2[0] = ts(OLD_SEC + 11, 0);
	t2[1] = ts(OLD_SEC + 12, 0);
	ck("utimens.root_others", SYS(utimensat(AT_FDCWD, "utime/nb", t2, 0)));
	emit("utimens.root_others_times", "%s", times_of("utime/nb", t2[0], t2[1]));
}

/* --- readdir -------------------------------------------------------------------------------- */

static void t_readdir(void)
{
	char name[64], a[RING_SIZE], b[RING_SIZE];
	struct dirent *de;
	long pos = -1;
	int n = 0;
	DIR *d;

	mkdirm("rd", 0755);
	emit("readdir.empty", "%s", listing("rd"));
	mkfile("rd/f", 0644, "x");
	mkdirm("rd/d", 0755);
	slink("f", "rd/l");
	setup("rd/p", SYS(mkfifo("rd/p", 0644)));
	setup("rd/s", SYS(mknod("rd/s", S_IFSOCK | 0644, 0)));
	setup("rd/c", SYS(mknod("rd/c", S_IFCHR | 0644, makedev(1, 3))));
	setup("rd/b", SYS(mknod("rd/b", S_IFBLK | 0644, makedev(7, 0))));
	mkfile("rd/.hidden", 0644, NULL);
	emit("readdir.types", "%s", listing("rd"));
	emit("readdir.subdir", "%s", listing("rd/d"));
	emit("readdir.via_symlink", "%s", listing("rd/l"));
	slink("d", "rd/ld");
	emit("readdir.via_dir_symlink", "%s", listing("rd/ld"));
	emit("readdir.missing", "%s", listing("rd/missing"));
	setup("rd/f", SYS(unlink("rd/f")));
	setup("rd/l", SYS(unlink("rd/l")));
	setup("rd/ld", SYS(unlink("rd/ld")));
	emit("readdir.after_unlink", "%s", listing("rd"));

	mkdirm("rd/many", 0755);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "rd/many/entry-%03d-%s", i,
			 i % 3 == 0 ? "a-rather-long-name-to-fill-the-buffer" : "x");
		mkfile(name, 0644, NULL);
	}
	emit("readdir.many", "%s", listing("rd/many"));
	/* telldir/seekdir: the rest of the stream read twice is the same */
	d = opendir("rd/many");
	while (d && (de = readdir(d))) {
		if (++n == 100) {
			pos = telldir(d);
			break;
		}
	}
	if (d && pos >= 0) {
		int r1 = list_stream(d, a, sizeof(a)), r2;

		seekdir(d, pos);
		r2 = list_stream(d, b, sizeof(b));
		emit("readdir.seekdir", "%s %s", rs(r1), r1 == r2 && strcmp(a, b) == 0 ?
		     "same" : "different");
		rewinddir(d);
		emit("readdir.rewind", "%s", rs(list_stream(d, a, sizeof(a))));
	} else {
		emit("readdir.seekdir", "%s", rs(-errno));
		emit("readdir.rewind", "%s", rs(-errno));
	}
	if (d)
		closedir(d);
	for (int i = 0; i < 300; i += 2) {
		snprintf(name, sizeof(name), "rd/many/entry-%03d-%s", i,
			 i % 3 == 0 ? "a-rather-long-name-to-fill-the-buffer" : "x");
		setup(name, SYS(unlink(name)));
	}
	emit("readdir.many_after_unlink", "%s", listing("rd/many"));
	/* a stream opened before a change, rewound, sees the change */
	d = opendir("rd/d");
	mkfile("rd/d/new", 0644, NULL);
	if (d) {
		rewinddir(d);
		emit("readdir.rewind_sees_new", "%s",
		     list_stream(d, a, sizeof(a)) < 0 ? rs(-errno) : a);
		closedir(d);
	} else {
		emit("readdir.rewind_sees_new", "%s", rs(-errno));
	}
	mkfile("rd/file", 0644, NULL);
	emit("readdir.not_dir", "%s", rs(open("rd/file", O_RDONLY | O_DIRECTORY) < 0 ? -errno : 0));

	/* permissions */
	mkdirm("rd/x_only", 0711);
	mkfile("rd/x_only/f", 0644, "x");
	mkdirm("rd/r_only", 0744);
	mkfile("rd/r_only/f", 0644, "x");
	uck("readdir.nobody_x_only", &ID_NOBODY, u_readdir, A(.p = "rd/x_only"));
	uck("readdir.nobody_x_only_stat", &ID_NOBODY, u_stat, A(.p = "rd/x_only/f"));
	uck("readdir.nobody_r_only", &ID_NOBODY, u_readdir, A(.p = "rd/r_only"));
	uck("readdir.nobody_r_only_stat", &ID_NOBODY, u_stat, A(.p = "rd/r_only/f"));
	uck("readdir.nobody_types", &ID_NOBODY, u_readdir, A(.p = "rd"));
	emit("readdir.root_x_only", "%s", listing("rd/x_only"));
}

/* --- open and creat ------------------------------------------------------------------------- */

/* open(p, flags, mode) as root; on success writes buf (when given) and closes. */
static int try_open(const char *p, int flags, mode_t mode, const char *buf)
{
	char extra[8];

	return u_open(A(.p = p, .n = flags, .m = mode, .buf = buf), extra, sizeof(extra));
}

static void t_open(void)
{
	char buf[16];
	int fd, fd2;

	mkdirm("open", 0777);
	ck_show("open.creat_new", try_open("open/a", O_CREAT | O_WRONLY, 0666, "hello"), "open/a");
	ck_show("open.creat_existing", try_open("open/a", O_CREAT | O_RDONLY, 0600, NULL),
		"open/a");
	emit("open.creat_existing_content", "%s", content("open/a"));
	ck("open.excl_existing", try_open("open/a", O_CREAT | O_EXCL | O_RDWR, 0644, NULL));
	ck_show("open.excl_new", try_open("open/b", O_CREAT | O_EXCL | O_RDWR, 0640, NULL),
		"open/b");
	ck_show("open.excl_without_creat", try_open("open/a", O_EXCL | O_RDONLY, 0, NULL),
		"open/a");
	ck_show("open.trunc", try_open("open/a", O_TRUNC | O_WRONLY, 0, "xy"), "open/a");
	emit("open.trunc_content", "%s", content("open/a"));
	ck_show("open.trunc_rdonly", try_open("open/a", O_TRUNC | O_RDONLY, 0, NULL), "open/a");
	ck_show("open.creat_trunc", try_open("open/a", O_CREAT | O_TRUNC | O_WRONLY, 0600, "abc"),
		"open/a");
	ck_show("open.append", try_open("open/a", O_APPEND | O_WRONLY, 0, "def"), "open/a");
	emit("open.append_content", "%s", content("open/a"));
	fd = open("open/a", O_APPEND | O_RDWR | O_CLOEXEC);
	ck("open.append_pwrite", rc(pwrite(fd, "G", 1, 0)));
	ck("open.append_lseek_write", lseek(fd, 1, SEEK_SET) < 0 ? -errno :
	   rc(write(fd, "H", 1)));
	ck("open.append_pos", rc(lseek(fd, 0, SEEK_CUR)));
	if (fd >= 0)
		close(fd);
	emit("open.append_pwrite_content", "%s", content("open/a"));
	fd = creat("open/c", 0755);
	ck_show("open.creat_call", fd < 0 ? -errno : rc(write(fd, "c", 1)), "open/c");
	ck("open.creat_call_read", fd < 0 ? -EBADF : rc(read(fd, buf, 1)));
	if (fd >= 0)
		close(fd);
	ck_show("open.creat_mode_setid", try_open("open/s", O_CREAT | O_WRONLY, 07777, NULL),
		"open/s");
	ck_show("open.creat_mode_0", try_open("open/z", O_CREAT | O_RDWR, 0, "w"), "open/z");

	mkdirm("open/d", 0755);
	slink("a", "open/l");
	slink("d", "open/ld");
	slink("target", "open/dangling");
	ck("open.dir_rdonly", try_open("open/d", O_RDONLY, 0, NULL));
	ck("open.dir_wronly", try_open("open/d", O_WRONLY, 0, NULL));
	ck("open.dir_rdwr", try_open("open/d", O_RDWR, 0, NULL));
	ck("open.dir_creat", try_open("open/d", O_CREAT | O_RDONLY, 0644, NULL));
	ck("open.dir_creat_excl", try_open("open/d", O_CREAT | O_EXCL | O_RDONLY, 0644, NULL));
	ck("open.dir_trunc", try_open("open/d", O_TRUNC | O_RDONLY, 0, NULL));
	ck("open.directory_on_dir", try_open("open/d", O_DIRECTORY | O_RDONLY, 0, NULL));
	ck("open.directory_on_file", try_open("open/a", O_DIRECTORY | O_RDONLY, 0, NULL));
	ck("open.directory_on_dir_symlink", try_open("open/ld", O_DIRECTORY | O_RDONLY, 0, NULL));
	ck("open.directory_creat", try_open("open/dc", O_DIRECTORY | O_CREAT | O_RDONLY, 0644,
					    NULL));
	show("open.directory_creat_result", "open/dc");
	ck("open.nofollow_symlink", try_open("open/l", O_NOFOLLOW | O_RDONLY, 0, NULL));
	ck("open.nofollow_file", try_open("open/a", O_NOFOLLOW | O_RDONLY, 0, NULL));
	ck("open.nofollow_dir", try_open("open/d", O_NOFOLLOW | O_DIRECTORY | O_RDONLY, 0, NULL));
	ck("open.nofollow_creat_existing", try_open("open/a", O_NOFOLLOW | O_CREAT | O_RDWR, 0644,
						    NULL));
	ck("open.nofollow_creat_new", try_open("open/nf", O_NOFOLLOW | O_CREAT | O_RDWR, 0644,
					       NULL));
	ck("open.nofollow_write", try_open("open/a", O_NOFOLLOW | O_WRONLY | O_APPEND, 0, "N"));
	ck("open.nofollow_creat_symlink",
	   try_open("open/l", O_NOFOLLOW | O_CREAT | O_WRONLY, 0644, NULL));
	ck("open.follow_symlink", try_open("open/l", O_RDONLY, 0, NULL));
	fd = open("open/l", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	emit("open.path_nofollow", "%s %s", rs(fd < 0 ? -errno : 0), fd < 0 ? "-" : fst(fd));
	ck("open.path_read", fd < 0 ? -EBADF : rc(read(fd, buf, 1)));
	if (fd >= 0)
		close(fd);
	ck("open.excl_dangling", try_open("open/dangling", O_CREAT | O_EXCL | O_WRONLY, 0644,
					  NULL));
	ck("open.excl_symlink", try_open("open/l", O_CREAT | O_EXCL | O_WRONLY, 0644, NULL));
	ck_show("open.creat_dangling", try_open("open/dangling", O_CREAT | O_WRONLY, 0644, "t"),
		"open/target");
	ck("open.missing", try_open("open/missing", O_RDONLY, 0, NULL));
	ck("open.missing_dir_creat", try_open("open/missing/x", O_CREAT | O_WRONLY, 0644, NULL));
	ck("open.through_file", try_open("open/a/x", O_RDONLY, 0, NULL));
	ck("open.through_file_creat", try_open("open/a/x", O_CREAT | O_WRONLY, 0644, NULL));
	ck("open.file_slash", try_open("open/a/", O_RDONLY, 0, NULL));
	ck("open.creat_slash", try_open("open/new/", O_CREAT | O_WRONLY, 0644, NULL));
	show("open.creat_slash_result", "open/new");
	ck("open.empty_path", try_open("", O_RDONLY, 0, NULL));
	ck("open.bad_accmode", try_open("open/a", O_ACCMODE, 0, NULL));

	fd = open("open/a", O_RDONLY | O_CLOEXEC);
	ck("open.write_on_rdonly", fd < 0 ? -EBADF : rc(write(fd, "x", 1)));
	if (fd >= 0)
		close(fd);
	fd = open("open/a", O_WRONLY | O_CLOEXEC);
	ck("open.read_on_wronly", fd < 0 ? -EBADF : rc(read(fd, buf, 1)));
	if (fd >= 0)
		close(fd);
	fd = open("open/d", O_RDONLY | O_CLOEXEC);
	ck("open.read_dir", fd < 0 ? -EBADF : rc(read(fd, buf, 1)));
	if (fd >= 0)
		close(fd);
	/* a new file opened read-write although its mode forbids it */
	fd = open("open/ro_new", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
	ck_show("open.creat_readonly_mode", fd < 0 ? -errno : rc(write(fd, "ok", 2)),
		"open/ro_new");
	if (fd >= 0)
		close(fd);
	ck("open.readonly_mode_again", try_open("open/ro_new", O_RDWR, 0, NULL));
	/* two descriptors on one file see each other's writes */
	fd = open("open/shared", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	fd2 = open("open/shared", O_RDWR | O_CLOEXEC);
	ck("open.second_fd_write", fd2 < 0 ? -errno : rc(write(fd2, "second", 6)));
	memset(buf, 0, sizeof(buf));
	ck("open.first_fd_read", fd < 0 ? -EBADF : rc(pread(fd, buf, sizeof(buf), 0)));
	emit("open.first_fd_read_data", "%s", esc(buf, strlen(buf)));
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);

	/* O_TMPFILE: an unnamed file, named later by linkat */
	fd = open("open/d", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	fd2 = fd < 0 ? -errno : 0;
	ck("open.tmpfile", fd < 0 ? fd2 : rc(write(fd, "tmp", 3)));
	emit("open.tmpfile_stat", "%s", fd < 0 ? "-" : fst(fd));
	emit("open.tmpfile_listing", "%s", listing("open/d"));
	if (fd >= 0) {
		char pp[64];

		snprintf(pp, sizeof(pp), "/proc/self/fd/%d", fd);
		ck_show("open.tmpfile_link", SYS(linkat(AT_FDCWD, pp, AT_FDCWD, "open/d/named",
						 AT_SYMLINK_FOLLOW)), "open/d/named");
		close(fd);
	} else {
		ck_show("open.tmpfile_link", fd2, "open/d/named");
	}

	/* as other users */
	mkdirm("open/rootdir", 0755);
	mkfile("open/rootdir/f", 0644, "data");
	mkfile("open/rootdir/secret", 0600, "data");
	mkfile("open/rootdir/wo", 0622, "data");
	mkdirm("open/closed", 0700);
	mkfile("open/closed/f", 0666, "data");
	mkdirm("open/pub", 0777);
	uck("open.nobody_read", &ID_NOBODY, u_open, A(.p = "open/rootdir/f", .n = O_RDONLY));
	uck("open.nobody_write", &ID_NOBODY, u_open, A(.p = "open/rootdir/f", .n = O_WRONLY));
	uck("open.nobody_rdwr", &ID_NOBODY, u_open, A(.p = "open/rootdir/f", .n = O_RDWR));
	uck("open.nobody_trunc", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/f", .n = O_RDONLY | O_TRUNC));
	uck("open.nobody_secret", &ID_NOBODY, u_open, A(.p = "open/rootdir/secret", .n = O_RDONLY));
	uck("open.nobody_write_only_perm", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/wo", .n = O_WRONLY, .buf = "W"));
	emit("open.nobody_write_only_perm_content", "%s", content("open/rootdir/wo"));
	uck("open.nobody_write_only_perm_read", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/wo", .n = O_RDONLY));
	uck("open.nobody_creat_in_rootdir", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/new", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("open.nobody_creat_existing_in_rootdir", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/f", .n = O_CREAT | O_RDONLY, .m = 0644));
	uck("open.nobody_no_search", &ID_NOBODY, u_open, A(.p = "open/closed/f", .n = O_RDONLY));
	uck("open.nobody_no_search_creat", &ID_NOBODY, u_open,
	    A(.p = "open/closed/g", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck_show("open.nobody_creat", &ID_NOBODY, u_open,
		 A(.p = "open/pub/nb", .n = O_CREAT | O_EXCL | O_WRONLY, .m = 0664, .buf = "n"),
		 "open/pub/nb");
	uck_show("open.u2_creat", &ID_U2, u_open,
		 A(.p = "open/pub/u2", .n = O_CREAT | O_RDWR, .m = 0600, .buf = "u"),
		 "open/pub/u2");
	uck_show("open.u2_creat_write_only_mode", &ID_U2, u_open,
		 A(.p = "open/pub/u2w", .n = O_CREAT | O_WRONLY, .m = 0200, .buf = "w"),
		 "open/pub/u2w");
	uck("open.u2_others_file", &ID_U2, u_open, A(.p = "open/pub/nb", .n = O_RDONLY));
	uck("open.u2_others_file_write", &ID_U2, u_open, A(.p = "open/pub/nb", .n = O_WRONLY));
	uck("open.nobody_own_file_rdwr", &ID_NOBODY, u_open, A(.p = "open/pub/nb", .n = O_RDWR));
	setup("open/pub/nb", SYS(chmod("open/pub/nb", 0)));
	uck("open.nobody_own_file_mode_0", &ID_NOBODY, u_open,
	    A(.p = "open/pub/nb", .n = O_RDONLY));
	ck("open.root_mode_0", try_open("open/pub/nb", O_RDWR, 0, NULL));
}

/* --- read, write, pread, pwrite ------------------------------------------------------------- */

static void t_rw(void)
{
	static char big[300000], back[300000];
	struct iovec iov[3];
	char buf[64], *map;
	struct tsnap s;
	ssize_t n;
	int fd;

	mkdirm("rw", 0777);
	fd = open("rw/f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ck("rw.write", rc(write(fd, "hello world", 11)));
	ck("rw.pos_after_write", rc(lseek(fd, 0, SEEK_CUR)));
	ck("rw.read_at_eof", rc(read(fd, buf, sizeof(buf))));
	ck("rw.lseek_set", rc(lseek(fd, 6, SEEK_SET)));
	memset(buf, 0, sizeof(buf));
	ck("rw.read_tail", rc(read(fd, buf, sizeof(buf))));
	emit("rw.read_tail_data", "%s", esc(buf, strlen(buf)));
	ck("rw.pwrite_middle", rc(pwrite(fd, "WORLD", 5, 6)));
	ck("rw.pos_after_pwrite", rc(lseek(fd, 0, SEEK_CUR)));
	memset(buf, 0, sizeof(buf));
	ck("rw.pread_all", rc(pread(fd, buf, sizeof(buf), 0)));
	emit("rw.pread_all_data", "%s", esc(buf, strlen(buf)));
	ck("rw.pread_past_eof", rc(pread(fd, buf, sizeof(buf), 1000)));
	ck("rw.pwrite_hole", rc(pwrite(fd, "end", 3, 20)));
	emit("rw.pwrite_hole_stat", "%s", fst(fd));
	n = pread(fd, buf, sizeof(buf), 0);
	emit("rw.pwrite_hole_data", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	ck("rw.write_zero", rc(write(fd, "", 0)));
	ck("rw.pwrite_negative", rc(pwrite(fd, "x", 1, -1)));
	ck("rw.pread_negative", rc(pread(fd, buf, 1, -1)));
	ck("rw.lseek_end", rc(lseek(fd, -3, SEEK_END)));
	ck("rw.lseek_negative", rc(lseek(fd, -100, SEEK_SET)));
	ck("rw.lseek_bad_whence", rc(lseek(fd, 0, 42)));
	iov[0] = (struct iovec){ (void *)"ab", 2 };
	iov[1] = (struct iovec){ (void *)"", 0 };
	iov[2] = (struct iovec){ (void *)"cde", 3 };
	ck("rw.pwritev", rc(pwritev(fd, iov, 3, 2)));
	memset(buf, 0, sizeof(buf));
	iov[0] = (struct iovec){ buf, 4 };
	iov[1] = (struct iovec){ buf + 10, 4 };
	ck("rw.preadv", rc(preadv(fd, iov, 2, 0)));
	emit("rw.preadv_data", "%s %s", esc(buf, 4), esc(buf + 10, 4));
	if (fd >= 0)
		close(fd);
	emit("rw.content_after_close", "%s", content("rw/f"));

	/* a large write, read back after reopening */
	fill(big, sizeof(big), 1);
	fd = open("rw/big", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	ck("rw.big_write", rc(write(fd, big, sizeof(big))));
	ck("rw.big_pwrite_unaligned", rc(pwrite(fd, big + 5000, 10007, 123457)));
	if (fd >= 0)
		close(fd);
	memcpy(back, big, sizeof(back));
	memcpy(back + 123457, big + 5000, 10007);
	fd = open("rw/big", O_RDONLY | O_CLOEXEC);
	n = 0;
	while (fd >= 0 && n < (ssize_t)sizeof(big)) {
		ssize_t k = read(fd, big + n, sizeof(big) - (size_t)n);

		if (k <= 0)
			break;
		n += k;
	}
	emit("rw.big_read", "%zd %s", n, memcmp(big, back, sizeof(big)) == 0 ? "equal" :
	     "different");
	if (fd >= 0)
		close(fd);
	show("rw.big_stat", "rw/big");

	/* timestamps of a write */
	set_times("rw/f", OLD_SEC, OLD_SEC);
	s = snap("rw/f");
	fd = open("rw/f", O_WRONLY | O_CLOEXEC);
	ck("rw.write_for_times", rc(write(fd, "t", 1)));
	if (fd >= 0)
		close(fd);
	emit("rw.write_times", "%s", changed("rw/f", &s));
	set_times("rw/f", OLD_SEC, OLD_SEC);
	s = snap("rw/f");
	fd = open("rw/f", O_RDONLY | O_CLOEXEC);
	ck("rw.read_for_times", rc(read(fd, buf, 4)));
	if (fd >= 0)
		close(fd);
	emit("rw.read_times", "%s", changed("rw/f", &s));
	/* a write then an explicit mtime before close: the explicit time stays */
	fd = open("rw/f", O_WRONLY | O_CLOEXEC);
	ck("rw.write_then_utime", rc(write(fd, "u", 1)));
	setup("rw/f", SYS(futimens(fd, (struct timespec[2]){ { OLD_SEC, 0 },
							  { OLD_SEC + 1, 0 } })));
	if (fd >= 0)
		close(fd);
	emit("rw.write_then_utime_times", "%s",
	     times_of("rw/f", ts(OLD_SEC, 0), ts(OLD_SEC + 1, 0)));

	/* shared mapping */
	fd = open("rw/map", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	setup("rw/map", fd < 0 ? -errno : SYS(ftruncate(fd, 8192)));
	map = fd < 0 ? MAP_FAILED : mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map != MAP_FAILED) {
		memcpy(map + 4090, "mapped!", 7);
		ck("rw.msync", SYS(msync(map, 8192, MS_SYNC)));
		munmap(map, 8192);
	} else {
		ck("rw.msync", -errno);
	}
	if (fd >= 0)
		close(fd);
	fd = open("rw/map", O_RDONLY | O_CLOEXEC);
	memset(buf, 0, sizeof(buf));
	ck("rw.mmap_read_back", fd < 0 ? -errno : rc(pread(fd, buf, 9, 4089)));
	emit("rw.mmap_read_back_data", "%s", esc(buf, 9));
	if (fd >= 0)
		close(fd);

	/* O_APPEND from two descriptors interleaves at the end */
	mkfile("rw/log", 0666, "");
	uck("rw.append_nobody", &ID_NOBODY, u_open, A(.p = "rw/log", .n = O_WRONLY | O_APPEND,
						       .buf = "one;"));
	uck("rw.append_root_child", &ID_ROOT, u_open, A(.p = "rw/log", .n = O_WRONLY | O_APPEND,
							 .buf = "two;"));
	ck("rw.append_root", try_open("rw/log", O_RDWR | O_APPEND, 0, "three;"));
	emit("rw.append_content", "%s", content("rw/log"));

	/* writes by others clear set-id bits; writes by root do not */
	mkfile("rw/suid", 06777, "abc");
	mkfile("rw/sgid_nox", 02767, "abc");
	mkfile("rw/suid_root", 06777, "abc");
	uck_show("rw.nobody_write_clears_setid", &ID_NOBODY, u_append,
		 A(.p = "rw/suid", .n = O_WRONLY, .buf = "d"), "rw/suid");
	uck_show("rw.nobody_write_sgid_no_group_x", &ID_NOBODY, u_append,
		 A(.p = "rw/sgid_nox", .n = O_WRONLY, .buf = "d"), "rw/sgid_nox");
	uck_show("rw.root_write_keeps_setid", &ID_ROOT, u_append,
		 A(.p = "rw/suid_root", .n = O_WRONLY, .buf = "d"), "rw/suid_root");
	uck("rw.nobody_read_back", &ID_NOBODY, u_read, A(.p = "rw/suid"));
}

/* --- fsync ---------------------------------------------------------------------------------- */

static void t_fsync(void)
{
	int fd;

	mkdirm("sync", 0755);
	fd = open("sync/f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	setup("sync/f", fd < 0 ? -errno : rc(write(fd, "data", 4)));
	ck("fsync.file", SYS(fsync(fd)));
	ck("fdatasync.file", SYS(fdatasync(fd)));
	ck("sync_file_range.file", SYS(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE |
						SYNC_FILE_RANGE_WAIT_AFTER)));
	ck("syncfs.file", SYS(syncfs(fd)));
	if (fd >= 0)
		close(fd);
	fd = open("sync/f", O_RDONLY | O_CLOEXEC);
	ck("fsync.rdonly", SYS(fsync(fd)));
	ck("fdatasync.rdonly", SYS(fdatasync(fd)));
	if (fd >= 0)
		close(fd);
	fd = open("sync", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck("fsync.dir", SYS(fsync(fd)));
	ck("fdatasync.dir", SYS(fdatasync(fd)));
	if (fd >= 0)
		close(fd);
	ck("fsync.bad_fd", SYS(fsync(-1)));
	emit("fsync.content", "%s", content("sync/f"));
}

/* --- mkdir and rmdir ------------------------------------------------------------------------ */

static void t_mkdir(void)
{
	struct tsnap s;

	mkdirm("mk", 0777);
	ck_show("mkdir.new", SYS(mkdir("mk/a", 0777)), "mk/a");
	show("mkdir.parent_nlink", "mk");
	ck_show("mkdir.mode_0", SYS(mkdir("mk/m0", 0)), "mk/m0");
	ck_show("mkdir.mode_sticky", SYS(mkdir("mk/m1", 01777)), "mk/m1");
	ck_show("mkdir.mode_setid", SYS(mkdir("mk/m2", 07777)), "mk/m2");
	ck_show("mkdir.trailing_slash", SYS(mkdir("mk/b/", 0755)), "mk/b");
	ck("mkdir.existing", SYS(mkdir("mk/a", 0755)));
	mkfile("mk/f", 0644, NULL);
	ck("mkdir.over_file", SYS(mkdir("mk/f", 0755)));
	slink("a", "mk/l");
	slink("nowhere", "mk/dangling");
	ck("mkdir.over_symlink", SYS(mkdir("mk/l", 0755)));
	ck("mkdir.over_dangling", SYS(mkdir("mk/dangling", 0755)));
	show("mkdir.over_dangling_result", "mk/nowhere");
	ck("mkdir.missing_parent", SYS(mkdir("mk/missing/x", 0755)));
	ck("mkdir.through_file", SYS(mkdir("mk/f/x", 0755)));
	ck("mkdir.dot", SYS(mkdir("mk/a/.", 0755)));
	ck("mkdir.dotdot", SYS(mkdir("mk/a/..", 0755)));
	ck("mkdir.empty", SYS(mkdir("", 0755)));
	ck_show("mkdir.nested", SYS(mkdir("mk/a/sub", 0750)), "mk/a");
	set_times("mk/a", OLD_SEC, OLD_SEC);
	s = snap("mk/a");
	setup("mk/a/sub2", SYS(mkdir("mk/a/sub2", 0755)));
	emit("mkdir.parent_times", "%s", changed("mk/a", &s));

	ck("rmdir.not_empty", SYS(rmdir("mk/a")));
	ck("rmdir.file", SYS(rmdir("mk/f")));
	ck("rmdir.symlink_to_dir", SYS(rmdir("mk/l")));
	ck("rmdir.dot", SYS(rmdir("mk/a/sub/.")));
	ck("rmdir.dotdot", SYS(rmdir("mk/a/sub/..")));
	ck("rmdir.cwd_dot", SYS(rmdir(".")));
	ck("rmdir.missing", SYS(rmdir("mk/missing")));
	ck("rmdir.through_file", SYS(rmdir("mk/f/x")));
	set_times("mk/a", OLD_SEC, OLD_SEC);
	s = snap("mk/a");
	ck_show("rmdir.empty", SYS(rmdir("mk/a/sub")), "mk/a/sub");
	emit("rmdir.parent_times", "%s", changed("mk/a", &s));
	show("rmdir.parent_nlink", "mk/a");
	ck_show("rmdir.trailing_slash", SYS(rmdir("mk/a/sub2/")), "mk/a");
	ck("rmdir.again", SYS(rmdir("mk/a/sub2")));
	emit("rmdir.listing", "%s", listing("mk/a"));

	/* as other users */
	mkdirm("mk/rootdir", 0755);
	mkdirm("mk/rootdir/sub", 0777);
	mkdirm("mk/pub", 0777);
	uck("mkdir.nobody_no_write", &ID_NOBODY, u_mkdir, A(.p = "mk/rootdir/x", .n = 0755));
	uck("rmdir.nobody_no_write", &ID_NOBODY, u_rmdir, A(.p = "mk/rootdir/sub"));
	uck_show("mkdir.nobody", &ID_NOBODY, u_mkdir, A(.p = "mk/pub/nb", .n = 0777),
		 "mk/pub/nb");
	uck_show("mkdir.u2", &ID_U2, u_mkdir, A(.p = "mk/pub/u2", .n = 0751), "mk/pub/u2");
	uck("rmdir.u2_others_dir", &ID_U2, u_rmdir, A(.p = "mk/pub/nb"));
	show("rmdir.u2_others_dir_result", "mk/pub/nb");
	mkdirm("mk/closed", 0700);
	mkdirm("mk/closed/sub", 0777);
	uck("mkdir.nobody_no_search", &ID_NOBODY, u_mkdir, A(.p = "mk/closed/sub/x", .n = 0755));
	uck("rmdir.nobody_no_search", &ID_NOBODY, u_rmdir, A(.p = "mk/closed/sub"));
}

/* --- unlink --------------------------------------------------------------------------------- */

static void t_unlink(void)
{
	struct tsnap s;

	mkdirm("ul", 0777);
	mkfile("ul/f", 0644, "x");
	mkdirm("ul/d", 0755);
	slink("f", "ul/l");
	setup("ul/p", SYS(mkfifo("ul/p", 0644)));
	set_times("ul", OLD_SEC, OLD_SEC);
	s = snap("ul");
	ck_show("unlink.file", SYS(unlink("ul/f")), "ul/f");
	emit("unlink.parent_times", "%s", changed("ul", &s));
	ck("unlink.missing", SYS(unlink("ul/f")));
	ck("unlink.dir", SYS(unlink("ul/d")));
	ck("unlink.dir_slash", SYS(unlink("ul/d/")));
	ck("unlink.unlinkat_removedir_file", SYS(unlinkat(AT_FDCWD, "ul/p", AT_REMOVEDIR)));
	ck("unlink.dot", SYS(unlink("ul/d/.")));
	ck("unlink.dotdot", SYS(unlink("ul/d/..")));
	ck("unlink.bad_flags", SYS(unlinkat(AT_FDCWD, "ul/p", 0x1)));
	ck_show("unlink.dangling_symlink", SYS(unlink("ul/l")), "ul/l");
	ck_show("unlink.fifo", SYS(unlink("ul/p")), "ul/p");
	mkfile("ul/t", 0644, "x");
	slink("t", "ul/lt");
	ck_show("unlink.symlink_keeps_target", SYS(unlink("ul/lt")), "ul/t");
	ck("unlink.file_slash", SYS(unlink("ul/t/")));
	ck("unlink.through_file", SYS(unlink("ul/t/x")));
	ck_show("unlink.unlinkat_removedir_dir", SYS(unlinkat(AT_FDCWD, "ul/d", AT_REMOVEDIR)),
		"ul/d");
	emit("unlink.listing", "%s", listing("ul"));

	/* as other users */
	mkdirm("ul/rootdir", 0755);
	mkfile("ul/rootdir/f", 0666, "x");
	mkdirm("ul/pub", 0777);
	mkfile("ul/pub/rootfile", 0600, "x");
	uck("unlink.nobody_no_write", &ID_NOBODY, u_unlink, A(.p = "ul/rootdir/f"));
	uck_show("unlink.nobody_others_file_writable_dir", &ID_NOBODY, u_unlink,
		 A(.p = "ul/pub/rootfile"), "ul/pub/rootfile");
	mkdirm("ul/closed", 0700);
	mkfile("ul/closed/f", 0666, "x");
	uck("unlink.nobody_no_search", &ID_NOBODY, u_unlink, A(.p = "ul/closed/f"));
}

/* --- rename --------------------------------------------------------------------------------- */

static void t_rename(void)
{
	struct tsnap s;

	mkdirm("rn", 0777);
	mkfile("rn/a", 0644, "A");
	mkfile("rn/b", 0600, "B");
	ck_show("rename.file_over_file", SYS(rename("rn/a", "rn/b")), "rn/b");
	emit("rename.file_over_file_content", "%s %s", content("rn/b"), lst("rn/a"));
	ck_show("rename.to_new_name", SYS(rename("rn/b", "rn/c")), "rn/c");
	ck("rename.missing", SYS(rename("rn/b", "rn/x")));
	ck_show("rename.same_name", SYS(rename("rn/c", "rn/c")), "rn/c");
	setup("rn/c2", SYS(link("rn/c", "rn/c2")));
	ck_show("rename.onto_own_link", SYS(rename("rn/c", "rn/c2")), "rn/c");
	show("rename.onto_own_link_other", "rn/c2");
	setup("rn/c2", SYS(unlink("rn/c2")));

	mkdirm("rn/d1", 0755);
	mkdirm("rn/d2", 0755);
	mkdirm("rn/full", 0755);
	mkfile("rn/full/x", 0644, NULL);
	mkfile("rn/d1/inner", 0644, "I");
	ck_show("rename.dir_over_empty_dir", SYS(rename("rn/d1", "rn/d2")), "rn/d2");
	emit("rename.dir_over_empty_dir_listing", "%s %s", listing("rn/d2"), lst("rn/d1"));
	ck("rename.dir_over_nonempty_dir", SYS(rename("rn/d2", "rn/full")));
	ck("rename.file_over_dir", SYS(rename("rn/c", "rn/full")));
	ck("rename.dir_over_file", SYS(rename("rn/full", "rn/c")));
	ck("rename.dir_into_itself", SYS(rename("rn/full", "rn/full/sub")));
	mkdirm("rn/full/deep", 0755);
	ck("rename.dir_into_descendant", SYS(rename("rn/full", "rn/full/deep/x")));
	ck("rename.parent_onto_child", SYS(rename("rn/full", "rn/full/deep")));
	ck("rename.child_onto_parent", SYS(rename("rn/full/deep", "rn/full")));
	ck("rename.dot", SYS(rename("rn/full/.", "rn/y")));
	ck("rename.onto_dot", SYS(rename("rn/c", "rn/full/.")));
	ck("rename.dotdot", SYS(rename("rn/full/deep/..", "rn/y")));
	ck("rename.into_missing_dir", SYS(rename("rn/c", "rn/missing/c")));
	ck("rename.through_file", SYS(rename("rn/c", "rn/c/x")));
	ck("rename.file_trailing_slash", SYS(rename("rn/c", "rn/c9/")));
	ck_show("rename.dir_trailing_slash", SYS(rename("rn/full/deep/", "rn/deep2/")),
		"rn/deep2");
	ck("rename.empty_target", SYS(rename("rn/c", "")));

	/* across directories: link counts of the parents, and '..' of a moved directory */
	mkdirm("rn/p1", 0755);
	mkdirm("rn/p2", 0755);
	mkdirm("rn/p1/mv", 0755);
	mkfile("rn/p1/file", 0644, "F");
	ck("rename.dir_across", SYS(rename("rn/p1/mv", "rn/p2/mv")));
	emit("rename.dir_across_nlinks", "%s %s", lst("rn/p1"), lst("rn/p2"));
	emit("rename.dir_across_dotdot", "%s", same_file("rn/p2/mv/..", "rn/p2"));
	ck_show("rename.file_across", SYS(rename("rn/p1/file", "rn/p2/mv/file")),
		"rn/p2/mv/file");
	emit("rename.file_across_content", "%s", content("rn/p2/mv/file"));
	mkdirm("rn/p1/victim", 0755);
	ck("rename.dir_across_over_empty", SYS(rename("rn/p2/mv", "rn/p1/victim")));
	emit("rename.dir_across_over_empty_nlinks", "%s %s %s", lst("rn/p1"), lst("rn/p2"),
	     listing("rn/p1/victim"));
	slink("victim", "rn/p1/lnk");
	ck_show("rename.symlink", SYS(rename("rn/p1/lnk", "rn/p2/lnk")), "rn/p2/lnk");
	emit("rename.symlink_resolves", "%s", stf("rn/p2/lnk"));

	/* timestamps: both parents change, the moved file's ctime changes */
	mkfile("rn/p1/t", 0644, NULL);
	set_times("rn/p1", OLD_SEC, OLD_SEC);
	set_times("rn/p2", OLD_SEC, OLD_SEC);
	set_times("rn/p1/t", OLD_SEC, OLD_SEC);
	s = snap("rn/p1/t");
	setup("rn/p2/t", SYS(rename("rn/p1/t", "rn/p2/t")));
	emit("rename.times_file", "%s", changed("rn/p2/t", &s));
	emit("rename.times_parents", "%s %s",
	     times_of("rn/p1", ts(OLD_SEC, 0), ts(OLD_SEC, 0)),
	     times_of("rn/p2", ts(OLD_SEC, 0), ts(OLD_SEC, 0)));

	/* renameat2 */
	mkfile("rn/x1", 0644, "1");
	mkfile("rn/x2", 0644, "2");
	mkdirm("rn/xd", 0755);
	mkfile("rn/xd/in", 0644, NULL);
	ck("rename2.noreplace_existing", SYS(renameat2(AT_FDCWD, "rn/x1", AT_FDCWD, "rn/x2",
						      RENAME_NOREPLACE)));
	ck_show("rename2.noreplace_new", SYS(renameat2(AT_FDCWD, "rn/x1", AT_FDCWD, "rn/x3",
						       RENAME_NOREPLACE)), "rn/x3");
	ck("rename2.exchange_files", SYS(renameat2(AT_FDCWD, "rn/x2", AT_FDCWD, "rn/x3",
						   RENAME_EXCHANGE)));
	emit("rename2.exchange_files_content", "%s %s", content("rn/x2"), content("rn/x3"));
	ck("rename2.exchange_file_dir", SYS(renameat2(AT_FDCWD, "rn/x2", AT_FDCWD, "rn/xd",
						      RENAME_EXCHANGE)));
	emit("rename2.exchange_file_dir_result", "%s %s %s", lst("rn/x2"), lst("rn/xd"),
	     listing("rn/x2"));
	ck("rename2.exchange_missing", SYS(renameat2(AT_FDCWD, "rn/x3", AT_FDCWD, "rn/none",
						     RENAME_EXCHANGE)));
	ck("rename2.exchange_noreplace", SYS(renameat2(AT_FDCWD, "rn/x3", AT_FDCWD, "rn/xd",
						       RENAME_EXCHANGE | RENAME_NOREPLACE)));
	ck("rename2.bad_flags", SYS(renameat2(AT_FDCWD, "rn/x3", AT_FDCWD, "rn/x9", 1u << 9)));
	mkdirm("rn/xa", 0755);
	mkfile("rn/xa/a", 0644, NULL);
	mkdirm("rn/xb", 0755);
	mkdirm("rn/xb/b", 0755);
	ck("rename2.exchange_across", SYS(renameat2(AT_FDCWD, "rn/xa/a", AT_FDCWD, "rn/xb/b",
						    RENAME_EXCHANGE)));
	emit("rename2.exchange_across_result", "%s %s %s %s", lst("rn/xa/a"), lst("rn/xb/b"),
	     lst("rn/xa"), lst("rn/xb"));
	emit("rename2.exchange_across_dotdot", "%s", same_file("rn/xa/a/..", "rn/xa"));
	ck("rename2.exchange_into_descendant", SYS(renameat2(AT_FDCWD, "rn/xa", AT_FDCWD,
							     "rn/xa/a", RENAME_EXCHANGE)));
	mkfile("rn/w", 0644, "W");
	ck("rename2.whiteout", SYS(renameat2(AT_FDCWD, "rn/w", AT_FDCWD, "rn/w2",
					     RENAME_WHITEOUT)));
	emit("rename2.whiteout_result", "%s %s", lst("rn/w"), lst("rn/w2"));

	/* as other users */
	mkdirm("rn/rootdir", 0755);
	mkfile("rn/rootdir/f", 0666, NULL);
	mkdirm("rn/pub", 0777);
	mkdirm("rn/pub2", 0777);
	mkfile("rn/pub/rootfile", 0644, NULL);
	mkdirm("rn/pub/rootsub", 0755);
	uck("rename.nobody_no_write_src", &ID_NOBODY, u_rename,
	    A(.p = "rn/rootdir/f", .q = "rn/pub/f"));
	uck("rename.nobody_no_write_dst", &ID_NOBODY, u_rename,
	    A(.p = "rn/pub/rootfile", .q = "rn/rootdir/g"));
	uck_show("rename.nobody_others_file", &ID_NOBODY, u_rename,
		 A(.p = "rn/pub/rootfile", .q = "rn/pub2/rootfile"), "rn/pub2/rootfile");
	uck("rename.nobody_others_dir_across", &ID_NOBODY, u_rename,
	    A(.p = "rn/pub/rootsub", .q = "rn/pub2/rootsub"));
	uck_show("rename.nobody_others_dir_same_parent", &ID_NOBODY, u_rename,
		 A(.p = "rn/pub/rootsub", .q = "rn/pub/rootsub2"), "rn/pub/rootsub2");
	uck("rename.nobody_noreplace", &ID_NOBODY, u_rename,
	    A(.p = "rn/pub2/rootfile", .q = "rn/pub/rootsub2", .n = RENAME_NOREPLACE));
	uck("rename.nobody_whiteout", &ID_NOBODY, u_rename,
	    A(.p = "rn/pub2/rootfile", .q = "rn/pub2/wh", .n = RENAME_WHITEOUT));
}

/* --- link ----------------------------------------------------------------------------------- */

static void t_link(void)
{
	struct tsnap s;

	mkdirm("ln", 0777);
	mkdirm("ln/a", 0755);
	mkdirm("ln/b", 0755);
	mkfile("ln/a/f", 0644, "orig");
	ck_show("link.same_dir", SYS(link("ln/a/f", "ln/a/g")), "ln/a/f");
	ck_show("link.other_dir", SYS(link("ln/a/f", "ln/b/h")), "ln/b/h");
	emit("link.same_file", "%s %s", same_file("ln/a/f", "ln/b/h"),
	     same_file("ln/a/g", "ln/b/h"));
	setup("ln/b/h", try_open("ln/b/h", O_WRONLY | O_APPEND, 0, "+h"));
	emit("link.write_through_other", "%s", content("ln/a/f"));
	setup("ln/a/g", SYS(chmod("ln/a/g", 0600)));
	show("link.chmod_through_other", "ln/b/h");
	ck("link.existing", SYS(link("ln/a/f", "ln/a/g")));
	ck("link.missing", SYS(link("ln/a/none", "ln/a/x")));
	ck("link.into_missing_dir", SYS(link("ln/a/f", "ln/none/x")));
	ck("link.dir", SYS(link("ln/a", "ln/a2")));
	ck("link.through_file", SYS(link("ln/a/f", "ln/a/f/x")));
	ck("link.trailing_slash", SYS(link("ln/a/f", "ln/a/new/")));
	set_times("ln/a/f", OLD_SEC, OLD_SEC);
	s = snap("ln/a/f");
	ck_show("unlink.one_link", SYS(unlink("ln/a/g")), "ln/a/f");
	emit("unlink.one_link_times", "%s", changed("ln/a/f", &s));
	s = snap("ln/a/f");
	setup("ln/b/k", SYS(link("ln/a/f", "ln/b/k")));
	emit("link.times", "%s", changed("ln/a/f", &s));
	ck_show("unlink.other_dir_link", SYS(unlink("ln/b/h")), "ln/a/f");
	slink("f", "ln/a/sl");
	ck_show("link.symlink_itself", SYS(linkat(AT_FDCWD, "ln/a/sl", AT_FDCWD, "ln/a/sl2", 0)),
		"ln/a/sl2");
	ck_show("link.symlink_follow", SYS(linkat(AT_FDCWD, "ln/a/sl", AT_FDCWD, "ln/a/sl3",
						  AT_SYMLINK_FOLLOW)), "ln/a/sl3");
	slink("none", "ln/a/dangling");
	ck("link.dangling_follow", SYS(linkat(AT_FDCWD, "ln/a/dangling", AT_FDCWD, "ln/a/d2",
					      AT_SYMLINK_FOLLOW)));
	setup("ln/a/p", SYS(mkfifo("ln/a/p", 0644)));
	ck_show("link.fifo", SYS(link("ln/a/p", "ln/b/p")), "ln/b/p");
	ck("link.bad_flags", SYS(linkat(AT_FDCWD, "ln/a/f", AT_FDCWD, "ln/a/z", 0x1)));

	/* as other users: protected hard links allow only owners and readers-writers */
	mkdirm("ln/pub", 0777);
	mkfile("ln/pub/rootro", 0644, NULL);
	mkfile("ln/pub/rootrw", 0666, NULL);
	mkfile("ln/pub/rootsuid", 04777, NULL);
	mkfile("ln/pub/nb", 0600, NULL);
	own("ln/pub/nb", ID_NOBODY.uid, ID_NOBODY.gid);
	uck("link.nobody_others_readonly", &ID_NOBODY, u_link,
	    A(.p = "ln/pub/rootro", .q = "ln/pub/l1"));
	uck_show("link.nobody_others_readwrite", &ID_NOBODY, u_link,
		 A(.p = "ln/pub/rootrw", .q = "ln/pub/l2"), "ln/pub/l2");
	uck("link.nobody_others_setuid", &ID_NOBODY, u_link,
	    A(.p = "ln/pub/rootsuid", .q = "ln/pub/l3"));
	uck_show("link.nobody_own", &ID_NOBODY, u_link, A(.p = "ln/pub/nb", .q = "ln/pub/l4"),
		 "ln/pub/l4");
	uck("link.nobody_into_rootdir", &ID_NOBODY, u_link, A(.p = "ln/pub/nb", .q = "ln/a/l5"));
}

/* --- symlink and readlink ------------------------------------------------------------------- */

static void t_symlink(void)
{
	static char target[5000];
	char buf[PATH_MAX + 1];
	ssize_t n;
	int fd;

	mkdirm("sl", 0777);
	mkfile("sl/f", 0644, "file");
	ck_show("symlink.new", SYS(symlink("f", "sl/l")), "sl/l");
	n = readlink("sl/l", buf, sizeof(buf));
	emit("readlink.new", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	n = readlink("sl/l", buf, 0);
	ck("readlink.zero_buffer", rc(n));
	ck_show("symlink.absolute", SYS(symlink("/nonexistent/abs/target", "sl/abs")), "sl/abs");
	n = readlink("sl/abs", buf, 5);
	emit("readlink.short_buffer", "%s %s", rs(rc(n)), n < 0 ? "-" : esc(buf, (size_t)n));
	ck("readlink.file", rc(readlink("sl/f", buf, sizeof(buf))));
	ck("readlink.dir", rc(readlink("sl", buf, sizeof(buf))));
	ck("readlink.missing", rc(readlink("sl/none", buf, sizeof(buf))));
	ck("readlink.slash", rc(readlink("sl/l/", buf, sizeof(buf))));
	ck("symlink.existing", SYS(symlink("x", "sl/l")));
	ck("symlink.over_file", SYS(symlink("x", "sl/f")));
	ck("symlink.empty_target", SYS(symlink("", "sl/e")));
	ck("symlink.missing_dir", SYS(symlink("x", "sl/none/l")));
	ck("symlink.through_file", SYS(symlink("x", "sl/f/l")));
	ck("symlink.trailing_slash", SYS(symlink("x", "sl/ts/")));
	ck_show("symlink.dangling", SYS(symlink("none", "sl/dang")), "sl/dang");
	emit("symlink.dangling_follow", "%s", stf("sl/dang"));
	ck_show("symlink.weird_target", SYS(symlink("a b\tc\\d//..//", "sl/weird")), "sl/weird");
	n = readlink("sl/weird", buf, sizeof(buf));
	emit("readlink.weird", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	memset(target, 'x', 4095);
	target[4095] = '\0';
	ck_show("symlink.target_4095", SYS(symlink(target, "sl/long")), "sl/long");
	n = readlink("sl/long", buf, sizeof(buf));
	emit("readlink.target_4095", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	target[4095] = 'x';
	target[4096] = '\0';
	ck("symlink.target_4096", SYS(symlink(target, "sl/toolong")));
	memset(target, 'y', 255);
	target[255] = '\0';
	ck_show("symlink.target_255", SYS(symlink(target, "sl/t255")), "sl/t255");
	slink("l", "sl/chain");
	emit("symlink.chain_follow", "%s", stf("sl/chain"));
	emit("symlink.chain_content", "%s", content("sl/chain"));
	slink("self", "sl/self");
	ck("symlink.self_loop", try_open("sl/self", O_RDONLY, 0, NULL));
	mkdirm("sl/d", 0755);
	slink("../f", "sl/d/up");
	emit("symlink.relative_up", "%s", content("sl/d/up"));
	slink("d", "sl/ld");
	ck_show("symlink.create_via_dir_link", SYS(symlink("../f", "sl/ld/up2")), "sl/d/up2");
	fd = open("sl/l", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	n = fd < 0 ? -1 : readlinkat(fd, "", buf, sizeof(buf));
	emit("readlink.opath_empty", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	if (fd >= 0)
		close(fd);
	uck_show("symlink.nobody", &ID_NOBODY, u_symlink, A(.p = "f", .q = "sl/nb"), "sl/nb");
	uck_show("symlink.u2", &ID_U2, u_symlink, A(.p = "nowhere", .q = "sl/u2"), "sl/u2");
	mkdirm("sl/rootdir", 0755);
	uck("symlink.nobody_no_write", &ID_NOBODY, u_symlink, A(.p = "f", .q = "sl/rootdir/l"));
}

/* --- mknod, fifos and sockets --------------------------------------------------------------- */

static const char *rdev_of(const char *p, dev_t want)
{
	struct stat st;

	if (lstat(p, &st) < 0)
		return rs(-errno);
	return st.st_rdev == want ? "rdev=requested" : "rdev=other";
}

static void t_mknod(void)
{
	char buf[8];
	int rfd, wfd;

	mkdirm("mn", 0777);
	ck_show("mknod.fifo", SYS(mknod("mn/p", S_IFIFO | 0644, 0)), "mn/p");
	ck_show("mkfifo", SYS(mkfifo("mn/p2", 0600)), "mn/p2");
	ck("mknod.fifo_existing", SYS(mknod("mn/p", S_IFIFO | 0644, 0)));
	ck_show("mknod.regular", SYS(mknod("mn/r", S_IFREG | 0640, 0)), "mn/r");
	ck_show("mknod.type_0", SYS(mknod("mn/r0", 0644, 0)), "mn/r0");
	ck_show("mknod.socket", SYS(mknod("mn/s", S_IFSOCK | 0644, 0)), "mn/s");
	ck_show("mknod.chr", SYS(mknod("mn/c", S_IFCHR | 0644, makedev(1, 3))), "mn/c");
	emit("mknod.chr_rdev", "%s", rdev_of("mn/c", makedev(1, 3)));
	ck_show("mknod.blk", SYS(mknod("mn/b", S_IFBLK | 0600, makedev(7, 200))), "mn/b");
	emit("mknod.blk_rdev", "%s", rdev_of("mn/b", makedev(7, 200)));
	ck_show("mknod.chr_big", SYS(mknod("mn/cb", S_IFCHR | 0600, makedev(300, 70000))),
		"mn/cb");
	emit("mknod.chr_big_rdev", "%s", rdev_of("mn/cb", makedev(300, 70000)));
	ck("mknod.dir_type", SYS(mknod("mn/d", S_IFDIR | 0755, 0)));
	ck("mknod.bad_type", SYS(mknod("mn/x", 0170000 | 0644, 0)));
	ck("mknod.missing_dir", SYS(mknod("mn/none/p", S_IFIFO | 0644, 0)));
	ck("mknod.trailing_slash", SYS(mknod("mn/ts/", S_IFIFO | 0644, 0)));
	ck_show("mknod.setid_mode", SYS(mknod("mn/ps", S_IFIFO | 07777, 0)), "mn/ps");
	ck("mknod.chr_open", try_open("mn/c", O_RDWR, 0, NULL));

	/* a fifo carries data between two descriptors */
	rfd = open("mn/p", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck("fifo.open_reader", rfd < 0 ? -errno : 0);
	wfd = open("mn/p", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	ck("fifo.open_writer", wfd < 0 ? -errno : 0);
	ck("fifo.write", wfd < 0 ? -EBADF : rc(write(wfd, "pipe", 4)));
	memset(buf, 0, sizeof(buf));
	ck("fifo.read", rfd < 0 ? -EBADF : rc(read(rfd, buf, sizeof(buf))));
	emit("fifo.read_data", "%s", esc(buf, strlen(buf)));
	show("fifo.stat_after_io", "mn/p");
	if (wfd >= 0)
		close(wfd);
	if (rfd >= 0)
		close(rfd);
	ck("fifo.writer_without_reader", try_open("mn/p", O_WRONLY | O_NONBLOCK, 0, NULL));
	ck("fifo.lseek", rc(lseek(rfd = open("mn/p", O_RDONLY | O_NONBLOCK | O_CLOEXEC), 0,
				  SEEK_SET)));
	if (rfd >= 0)
		close(rfd);

	/* unix sockets bound into the directory */
	uck_show("socket.bind", &ID_ROOT, u_bind, A(.p = "mn/sock", .n = 1), "mn/sock");
	uck("socket.bind_existing", &ID_ROOT, u_bind, A(.p = "mn/sock"));
	uck("socket.connect_stale", &ID_ROOT, u_bind, A(.p = "mn/none/sock"));
	uck_show("socket.bind_nobody", &ID_NOBODY, u_bind, A(.p = "mn/nbsock", .n = 1),
		 "mn/nbsock");
	ck("socket.open", try_open("mn/sock", O_RDONLY, 0, NULL));

	/* as other users */
	uck("mknod.nobody_chr", &ID_NOBODY, u_mknod,
	    A(.p = "mn/nc", .n = S_IFCHR | 0644, .m = (long)makedev(1, 3)));
	uck("mknod.nobody_blk", &ID_NOBODY, u_mknod,
	    A(.p = "mn/nblk", .n = S_IFBLK | 0644, .m = (long)makedev(7, 0)));
	uck_show("mknod.nobody_fifo", &ID_NOBODY, u_mknod, A(.p = "mn/np", .n = S_IFIFO | 0666),
		 "mn/np");
	uck_show("mknod.u2_socket", &ID_U2, u_mknod, A(.p = "mn/us", .n = S_IFSOCK | 0640),
		 "mn/us");
	uck_show("mknod.nobody_regular", &ID_NOBODY, u_mknod, A(.p = "mn/nr", .n = S_IFREG | 0604),
		 "mn/nr");
	uck("mknod.nobody_chr_open", &ID_NOBODY, u_open, A(.p = "mn/c", .n = O_RDONLY));
}

/* --- extended attributes -------------------------------------------------------------------- */

/* One entry of a POSIX ACL in the kernel's xattr format (version 2, little-endian here). */
struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};

/*
 * Build an ACL into buf: owner rw, the group and others with the given permission bits;
 * with_user adds user 65534 rw and the mask rw that a named entry needs. Returns its size.
 */
static size_t make_acl(char *buf, bool with_user, uint16_t group, uint16_t other)
{
	struct acl_entry e[5];
	uint32_t version = 2;
	size_t n = 0;

	e[n++] = (struct acl_entry){ 0x01, 6, (uint32_t)-1 };         /* ACL_USER_OBJ */
	if (with_user)
		e[n++] = (struct acl_entry){ 0x02, 6, 65534 };        /* ACL_USER */
	e[n++] = (struct acl_entry){ 0x04, group, (uint32_t)-1 };     /* ACL_GROUP_OBJ */
	if (with_user)
		e[n++] = (struct acl_entry){ 0x10, 6, (uint32_t)-1 }; /* ACL_MASK */
	e[n++] = (struct acl_entry){ 0x20, other, (uint32_t)-1 };     /* ACL_OTHER */
	memcpy(buf, &version, 4);
	memcpy(buf + 4, e, n * sizeof(e[0]));
	return 4 + n * sizeof(e[0]);
}

static void t_xattr(void)
{
	static char bigval[70000];
	char buf[256], acl[64];
	struct tsnap s;
	ssize_t n;
	size_t len;

	mkdirm("xa", 0777);
	mkfile("xa/f", 0644, "x");
	mkdirm("xa/d", 0755);
	slink("f", "xa/l");
	setup("xa/p", SYS(mkfifo("xa/p", 0666)));
	emit("xattr.list_empty", "%s", xlist("xa/f", true));
	ck("xattr.set", SYS(setxattr("xa/f", "user.one", "1", 1, 0)));
	ck("xattr.set_binary", SYS(setxattr("xa/f", "user.bin", "a\0b\xff", 4, 0)));
	ck("xattr.set_empty", SYS(setxattr("xa/f", "user.empty", "", 0, 0)));
	emit("xattr.get", "%s", xget("xa/f", "user.one"));
	emit("xattr.get_binary", "%s", xget("xa/f", "user.bin"));
	emit("xattr.get_empty", "%s", xget("xa/f", "user.empty"));
	emit("xattr.get_missing", "%s", xget("xa/f", "user.none"));
	emit("xattr.list", "%s", xlist("xa/f", false));
	ck("xattr.get_size_query", rc(getxattr("xa/f", "user.bin", NULL, 0)));
	ck("xattr.get_small_buffer", rc(getxattr("xa/f", "user.bin", buf, 2)));
	ck("xattr.list_size_query", rc(listxattr("xa/f", NULL, 0)));
	ck("xattr.list_small_buffer", rc(listxattr("xa/f", buf, 5)));
	ck("xattr.create_existing", SYS(setxattr("xa/f", "user.one", "2", 1, XATTR_CREATE)));
	ck("xattr.replace_missing", SYS(setxattr("xa/f", "user.two", "2", 1, XATTR_REPLACE)));
	ck("xattr.replace_existing", SYS(setxattr("xa/f", "user.one", "11", 2, XATTR_REPLACE)));
	emit("xattr.replace_existing_value", "%s", xget("xa/f", "user.one"));
	ck("xattr.create_new", SYS(setxattr("xa/f", "user.two", "2", 1, XATTR_CREATE)));
	ck("xattr.bad_flags", SYS(setxattr("xa/f", "user.two", "2", 1, 4)));
	ck("xattr.both_flags", SYS(setxattr("xa/f", "user.two", "2", 1,
					    XATTR_CREATE | XATTR_REPLACE)));
	ck("xattr.remove", SYS(removexattr("xa/f", "user.two")));
	ck("xattr.remove_missing", SYS(removexattr("xa/f", "user.two")));
	emit("xattr.list_after_remove", "%s", xlist("xa/f", false));
	memset(bigval, 'v', sizeof(bigval));
	ck("xattr.value_1000", SYS(setxattr("xa/f", "user.big", bigval, 1000, 0)));
	ck("xattr.value_1000_size", rc(getxattr("xa/f", "user.big", NULL, 0)));
	ck("xattr.value_too_big", SYS(setxattr("xa/f", "user.huge", bigval, 70000, 0)));
	memset(buf, 'n', 255);
	memcpy(buf, "user.", 5);
	buf[255] = '\0';
	ck("xattr.name_255", SYS(setxattr("xa/f", buf, "n", 1, 0)));
	{
		char longname[300];

		memset(longname, 'n', 299);
		memcpy(longname, "user.", 5);
		longname[299] = '\0';
		ck("xattr.name_too_long", SYS(setxattr("xa/f", longname, "n", 1, 0)));
	}
	ck("xattr.name_empty", SYS(setxattr("xa/f", "", "n", 1, 0)));
	ck("xattr.name_user_only", SYS(setxattr("xa/f", "user.", "n", 1, 0)));
	ck("xattr.bad_namespace", SYS(setxattr("xa/f", "bogus.x", "n", 1, 0)));
	ck("xattr.get_bad_namespace", rc(getxattr("xa/f", "bogus.x", buf, sizeof(buf))));
	ck("xattr.missing_file", SYS(setxattr("xa/none", "user.x", "n", 1, 0)));
	ck("xattr.dir_set", SYS(setxattr("xa/d", "user.d", "dir", 3, 0)));
	emit("xattr.dir_get", "%s", xget("xa/d", "user.d"));
	ck("xattr.follow_symlink_set", SYS(setxattr("xa/l", "user.via", "link", 4, 0)));
	emit("xattr.follow_symlink_target", "%s", xget("xa/f", "user.via"));
	ck("xattr.symlink_user", SYS(lsetxattr("xa/l", "user.x", "n", 1, 0)));
	emit("xattr.symlink_user_get", "%s", xget("xa/l", "user.x"));
	ck("xattr.symlink_trusted", SYS(lsetxattr("xa/l", "trusted.t", "lt", 2, 0)));
	emit("xattr.symlink_trusted_get", "%s", xget("xa/l", "trusted.t"));
	emit("xattr.symlink_list", "%s", xlist("xa/l", true));
	ck("xattr.symlink_trusted_remove", SYS(lremovexattr("xa/l", "trusted.t")));
	ck("xattr.fifo_user", SYS(setxattr("xa/p", "user.x", "n", 1, 0)));
	ck("xattr.fifo_trusted", SYS(setxattr("xa/p", "trusted.x", "fifo", 4, 0)));
	emit("xattr.fifo_trusted_get", "%s", xget("xa/p", "trusted.x"));
	ck("xattr.trusted_set", SYS(setxattr("xa/f", "trusted.t", "root", 4, 0)));
	emit("xattr.trusted_get", "%s", xget("xa/f", "trusted.t"));
	ck("xattr.security_set", SYS(setxattr("xa/f", "security.test", "sec", 3, 0)));
	emit("xattr.security_get", "%s", xget("xa/f", "security.test"));
	emit("xattr.list_all", "%s", xlist("xa/f", false));
	s = snap("xa/f");
	setup("xa/f", SYS(setxattr("xa/f", "user.t", "t", 1, 0)));
	emit("xattr.set_times", "%s", changed("xa/f", &s));
	s = snap("xa/f");
	n = getxattr("xa/f", "user.t", buf, sizeof(buf));
	emit("xattr.get_times", "%s %s", rs(rc(n)), changed("xa/f", &s));
	{
		int fd = open("xa/f", O_RDONLY | O_CLOEXEC);

		ck("xattr.fsetxattr", SYS(fsetxattr(fd, "user.fd", "fd", 2, 0)));
		n = fgetxattr(fd, "user.fd", buf, sizeof(buf));
		emit("xattr.fgetxattr", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
		ck("xattr.fremovexattr", SYS(fremovexattr(fd, "user.fd")));
		if (fd >= 0)
			close(fd);
	}

	/* as other users */
	mkfile("xa/ro", 0644, "x");
	setup("xa/ro", SYS(setxattr("xa/ro", "user.r", "r", 1, 0)));
	mkfile("xa/secret", 0600, "x");
	setup("xa/secret", SYS(setxattr("xa/secret", "user.s", "s", 1, 0)));
	mkfile("xa/rw", 0666, "x");
	uck("xattr.nobody_get_readable", &ID_NOBODY, u_getxattr,
	    A(.p = "xa/ro", .q = "user.r", .n = 64));
	uck("xattr.nobody_set_readonly", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/ro", .q = "user.n", .buf = "n", .len = 1));
	uck("xattr.nobody_remove_readonly", &ID_NOBODY, u_removexattr,
	    A(.p = "xa/ro", .q = "user.r"));
	uck("xattr.nobody_get_unreadable", &ID_NOBODY, u_getxattr,
	    A(.p = "xa/secret", .q = "user.s", .n = 64));
	uck("xattr.nobody_list_unreadable", &ID_NOBODY, u_listxattr, A(.p = "xa/secret"));
	uck("xattr.nobody_set_writable", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/rw", .q = "user.n", .buf = "nb", .len = 2));
	emit("xattr.nobody_set_writable_value", "%s", xget("xa/rw", "user.n"));
	uck("xattr.nobody_set_trusted", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/rw", .q = "trusted.n", .buf = "n", .len = 1));
	uck("xattr.nobody_get_trusted", &ID_NOBODY, u_getxattr,
	    A(.p = "xa/f", .q = "trusted.t", .n = 64));
	uck("xattr.nobody_list_with_trusted", &ID_NOBODY, u_listxattr, A(.p = "xa/f"));
	uck("xattr.nobody_set_security", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/rw", .q = "security.n", .buf = "n", .len = 1));
	mkdirm("xa/sticky", 01777);
	uck("xattr.nobody_sticky_dir_others", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/sticky", .q = "user.n", .buf = "n", .len = 1));

	/* POSIX ACLs, as system.posix_acl_access and _default */
	mkfile("xa/acl", 0600, "acl");
	len = make_acl(acl, true, 4, 0);
	ck("acl.set_access", SYS(setxattr("xa/acl", "system.posix_acl_access", acl, len, 0)));
	show("acl.set_access_mode", "xa/acl");
	emit("acl.get_access", "%s", xget("xa/acl", "system.posix_acl_access"));
	uck("acl.nobody_read_granted", &ID_NOBODY, u_read, A(.p = "xa/acl"));
	uck("acl.u3_read_denied", &ID_U3, u_read, A(.p = "xa/acl"));
	uck("acl.nobody_access_w", &ID_NOBODY, u_access, A(.p = "xa/acl", .n = W_OK));
	setup("xa/acl", SYS(chmod("xa/acl", 0600)));
	uck("acl.nobody_after_chmod", &ID_NOBODY, u_read, A(.p = "xa/acl"));
	mkdirm("xa/acldir", 0755);
	len = make_acl(acl, false, 4, 0);
	ck("acl.set_default", SYS(setxattr("xa/acldir", "system.posix_acl_default", acl, len, 0)));
	ck_show("acl.default_inherited_file", try_open("xa/acldir/f", O_CREAT | O_WRONLY, 0666,
						      NULL), "xa/acldir/f");
	ck_show("acl.default_inherited_dir", SYS(mkdir("xa/acldir/d", 0777)), "xa/acldir/d");
	emit("acl.default_inherited_dir_acl", "%s", xget("xa/acldir/d",
							   "system.posix_acl_default"));
	/* a default ACL replaces the umask: group write survives umask 022 */
	mkdirm("xa/acldir2", 0777);
	len = make_acl(acl, false, 6, 4);
	ck("acl.set_default_group_rw", SYS(setxattr("xa/acldir2", "system.posix_acl_default", acl,
						    len, 0)));
	ck_show("acl.default_no_umask_file", try_open("xa/acldir2/f", O_CREAT | O_WRONLY, 0666,
						      NULL), "xa/acldir2/f");
	ck_show("acl.default_no_umask_dir", SYS(mkdir("xa/acldir2/d", 0777)), "xa/acldir2/d");
	uck_show("acl.default_no_umask_nobody", &ID_NOBODY, u_open,
		 A(.p = "xa/acldir2/nb", .n = O_CREAT | O_WRONLY, .m = 0666), "xa/acldir2/nb");
	ck("acl.remove_access", SYS(removexattr("xa/acl", "system.posix_acl_access")));
	ck("acl.bad_value", SYS(setxattr("xa/acl", "system.posix_acl_access", "bad", 3, 0)));
}

/* --- statvfs -------------------------------------------------------------------------------- */

static const char *fmt_statvfs(int r, const struct statvfs *sv)
{
	char *b = rbuf();

	if (r < 0)
		return rs(r);
	snprintf(b, RING_SIZE, "bsize=%lu frsize=%lu namemax=%lu blocks=%s files=%s "
		 "bavail<=bfree=%s favail<=ffree=%s rdonly=%s", sv->f_bsize, sv->f_frsize,
		 sv->f_namemax, sv->f_blocks > 0 ? "some" : "none",
		 sv->f_files > 0 ? "some" : "none", sv->f_bavail <= sv->f_bfree ? "yes" : "no",
		 sv->f_favail <= sv->f_ffree ? "yes" : "no",
		 (sv->f_flag & ST_RDONLY) ? "yes" : "no");
	return b;
}

static void t_statvfs(void)
{
	struct statvfs sv;
	int fd;

	mkdirm("sv", 0755);
	mkfile("sv/f", 0644, NULL);
	emit("statvfs.dir", "%s", fmt_statvfs(SYS(statvfs("sv", &sv)), &sv));
	emit("statvfs.file", "%s", fmt_statvfs(SYS(statvfs("sv/f", &sv)), &sv));
	fd = open("sv/f", O_RDONLY | O_CLOEXEC);
	emit("statvfs.fstatvfs", "%s", fmt_statvfs(SYS(fstatvfs(fd, &sv)), &sv));
	if (fd >= 0)
		close(fd);
	ck("statvfs.missing", SYS(statvfs("sv/none", &sv)));
	ck("statvfs.through_file", SYS(statvfs("sv/f/x", &sv)));
}

/* --- access --------------------------------------------------------------------------------- */

static void t_access(void)
{
	static const struct {
		const char *name;
		int mode;
	} modes[] = { { "F", F_OK }, { "R", R_OK }, { "W", W_OK }, { "X", X_OK },
		      { "RWX", R_OK | W_OK | X_OK } };
	static const struct {
		const char *name;
		const struct ident *id;
	} who[] = { { "root", NULL }, { "nobody", &ID_NOBODY }, { "u2", &ID_U2 },
		    { "u3", &ID_U3 } };
	static const char *const files[] = { "f644", "f755", "f000", "d000", "nb640", "grp640",
					     "u2_070", "d711" };
	char name[96], path[64];

	mkdirm("acc", 0755);
	mkfile("acc/f644", 0644, NULL);
	mkfile("acc/f755", 0755, NULL);
	mkfile("acc/f000", 0, NULL);
	mkdirm("acc/d000", 0);
	mkfile("acc/nb640", 0640, NULL);
	own("acc/nb640", ID_NOBODY.uid, ID_NOBODY.gid);
	mkfile("acc/grp640", 0640, NULL);
	own("acc/grp640", 0, GID_SHARED);
	mkfile("acc/u2_070", 0070, NULL);
	own("acc/u2_070", ID_U2.uid, GID_SHARED);
	mkdirm("acc/d711", 0711);
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		snprintf(path, sizeof(path), "acc/%s", files[f]);
		for (size_t w = 0; w < sizeof(who) / sizeof(who[0]); w++) {
			for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
				snprintf(name, sizeof(name), "access.%s.%s.%s", files[f],
					 who[w].name, modes[m].name);
				uck(name, who[w].id, u_access, A(.p = path, .n = modes[m].mode));
			}
		}
	}
	ck("access.missing", SYS(access("acc/none", F_OK)));
	ck("access.bad_mode", SYS(access("acc/f644", 0100)));
	ck("access.through_file", SYS(access("acc/f644/x", F_OK)));
	slink("none", "acc/dangling");
	ck("access.dangling", SYS(faccessat(AT_FDCWD, "acc/dangling", F_OK, 0)));
	ck("access.dangling_nofollow", SYS(faccessat(AT_FDCWD, "acc/dangling", F_OK,
						     AT_SYMLINK_NOFOLLOW)));
	uck("access.nobody_eaccess", &ID_NOBODY, u_access,
	    A(.p = "acc/nb640", .n = R_OK | W_OK, .f = AT_EACCESS));
	mkdirm("acc/closed", 0700);
	mkfile("acc/closed/f", 0777, NULL);
	uck("access.nobody_no_search", &ID_NOBODY, u_access, A(.p = "acc/closed/f", .n = F_OK));
}

/* --- fallocate ------------------------------------------------------------------------------ */

/* Whether bytes [off, off+len) of fd are all zero. */
static const char *zeros(int fd, off_t off, size_t len)
{
	char buf[8192];
	ssize_t n;

	if (len > sizeof(buf))
		len = sizeof(buf);
	n = pread(fd, buf, len, off);
	if (n < 0)
		return rs(-errno);
	if ((size_t)n != len)
		return "short";
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i])
			return "data";
	}
	return "zeros";
}

/* Hash of the whole content of fd. */
static const char *fd_content(int fd)
{
	static char buf[1 << 20];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	if (n < 0)
		return rs(-errno);
	return esc(buf, (size_t)n);
}

static void t_fallocate(void)
{
	char data[12288];
	int fd, ro;

	mkdirm("fa", 0755);
	fd = open("fa/f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ck("fallocate.mode_0", SYS(fallocate(fd, 0, 0, 8192)));
	emit("fallocate.mode_0_result", "%s %s", fst(fd), zeros(fd, 0, 8192));
	ck("fallocate.keep_size", SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192)));
	emit("fallocate.keep_size_result", "%s", fst(fd));
	ck("fallocate.beyond_eof", SYS(fallocate(fd, 0, 20000, 100)));
	emit("fallocate.beyond_eof_result", "%s %s", fst(fd), zeros(fd, 8192, 8192));
	fill(data, sizeof(data), 7);
	setup("fa/f", rc(pwrite(fd, data, sizeof(data), 0)) == (int)sizeof(data) ? 0 : -EIO);
	ck("fallocate.punch", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
					     4096)));
	emit("fallocate.punch_result", "%s %s %s %s", fst(fd), zeros(fd, 4096, 4096),
	     zeros(fd, 0, 4096), zeros(fd, 8192, 4096));
	ck("fallocate.punch_unaligned", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
						       FALLOC_FL_KEEP_SIZE, 100, 200)));
	emit("fallocate.punch_unaligned_result", "%s %s %s", zeros(fd, 100, 200),
	     zeros(fd, 99, 1), zeros(fd, 300, 1));
	emit("fallocate.content", "%s", fd_content(fd));
	ck("fallocate.punch_without_keep_size", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10)));
	ck("fallocate.punch_past_eof", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
						      FALLOC_FL_KEEP_SIZE, 100000, 4096)));
	emit("fallocate.punch_past_eof_result", "%s", fst(fd));
	ck("fallocate.zero_range", SYS(fallocate(fd, FALLOC_FL_ZERO_RANGE, 8192, 100)));
	emit("fallocate.zero_range_result", "%s %s %s", fst(fd), zeros(fd, 8192, 100),
	     zeros(fd, 8292, 1));
	ck("fallocate.negative_len", SYS(fallocate(fd, 0, 0, -1)));
	ck("fallocate.zero_len", SYS(fallocate(fd, 0, 0, 0)));
	ck("fallocate.negative_offset", SYS(fallocate(fd, 0, -1, 10)));
	ck("fallocate.bad_mode", SYS(fallocate(fd, 0x1000, 0, 10)));
	if (fd >= 0)
		close(fd);
	ro = open("fa/f", O_RDONLY | O_CLOEXEC);
	ck("fallocate.rdonly", SYS(fallocate(ro, 0, 0, 10)));
	if (ro >= 0)
		close(ro);
	fd = open("fa/ap", O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
	ck("fallocate.append_fd", SYS(fallocate(fd, 0, 0, 4096)));
	emit("fallocate.append_fd_result", "%s", fst(fd));
	if (fd >= 0)
		close(fd);
	setup("fa/p", SYS(mkfifo("fa/p", 0644)));
	fd = open("fa/p", O_RDWR | O_CLOEXEC);
	ck("fallocate.fifo", SYS(fallocate(fd, 0, 0, 10)));
	if (fd >= 0)
		close(fd);
}

/* --- copy_file_range ------------------------------------------------------------------------ */

/* Copy len bytes, retrying short copies; returns the total or -errno. */
static int copy_all(int in, off_t *off_in, int out, off_t *off_out, size_t len,
		    unsigned flags)
{
	size_t total = 0;

	while (total < len) {
		ssize_t n = copy_file_range(in, off_in, out, off_out, len - total, flags);

		if (n < 0)
			return total ? (int)total : -errno;
		if (n == 0)
			break;
		total += (size_t)n;
	}
	return (int)total;
}

static void t_copy(void)
{
	static char data[200000];
	off_t oi, oo;
	int src, dst, wo, ap, ro;

	mkdirm("cp", 0755);
	fill(data, sizeof(data), 3);
	src = open("cp/src", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	setup("cp/src", rc(write(src, data, sizeof(data))) == (int)sizeof(data) ? 0 : -EIO);
	dst = open("cp/dst", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	oi = 0;
	oo = 0;
	ck("copy.whole", copy_all(src, &oi, dst, &oo, sizeof(data), 0));
	emit("copy.whole_result", "%s %s offsets=%lld,%lld", fst(dst), fd_content(dst),
	     (long long)oi, (long long)oo);
	oi = 50;
	oo = 250000;
	ck("copy.offsets", copy_all(src, &oi, dst, &oo, 100, 0));
	emit("copy.offsets_result", "%s %s %s", fst(dst), zeros(dst, 200000, 8192),
	     fd_content(dst));
	oi = 300000;
	oo = 0;
	ck("copy.past_eof", copy_all(src, &oi, dst, &oo, 100, 0));
	oi = 199990;
	oo = 0;
	ck("copy.short_at_eof", copy_all(src, &oi, dst, &oo, 100, 0));
	oi = 0;
	oo = 10;
	ck("copy.overlap_same_file", copy_all(src, &oi, src, &oo, 100, 0));
	oi = 0;
	oo = 100000;
	ck("copy.same_file", copy_all(src, &oi, src, &oo, 100, 0));
	emit("copy.same_file_result", "%s %s", fst(src), fd_content(src));
	ck("copy.bad_flags", copy_all(src, &oi, dst, &oo, 10, 1));
	ck("copy.zero_len", copy_all(src, &oi, dst, &oo, 0, 0));
	if (lseek(src, 0, SEEK_SET) == 0 && lseek(dst, 5, SEEK_SET) == 5) {
		ck("copy.file_positions", copy_all(src, NULL, dst, NULL, 20, 0));
		emit("copy.file_positions_after", "%lld %lld", (long long)lseek(src, 0, SEEK_CUR),
		     (long long)lseek(dst, 0, SEEK_CUR));
	} else {
		ck("copy.file_positions", -errno);
		emit("copy.file_positions_after", "%s", rs(-errno));
	}
	wo = open("cp/src", O_WRONLY | O_CLOEXEC);
	oi = 0;
	oo = 0;
	ck("copy.from_wronly", copy_all(wo, &oi, dst, &oo, 10, 0));
	ap = open("cp/ap", O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
	oi = 0;
	oo = 0;
	ck("copy.to_append", copy_all(src, &oi, ap, &oo, 10, 0));
	ro = open("cp/src", O_RDONLY | O_CLOEXEC);
	oi = 0;
	ck("copy.to_rdonly", copy_all(dst, &oi, ro, &oo, 10, 0));
	if (ro >= 0)
		close(ro);
	mkdirm("cp/d", 0755);
	{
		int dfd = open("cp/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		oi = 0;
		oo = 0;
		ck("copy.from_dir", copy_all(dfd, &oi, dst, &oo, 10, 0));
		if (dfd >= 0)
			close(dfd);
	}
	if (wo >= 0)
		close(wo);
	if (ap >= 0)
		close(ap);
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	emit("copy.content_after_close", "%s", content("cp/dst"));
}

/* --- lseek SEEK_DATA / SEEK_HOLE ------------------------------------------------------------ */

static void seek_report(const char *prefix, int fd)
{
	static const off_t offs[] = { 0, 4095, 4096, 100000, 1048576, 1050000, 1052671, 1052672,
				      2000000 };
	char name[96];

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		snprintf(name, sizeof(name), "%s.data_%lld", prefix, (long long)offs[i]);
		ck(name, rc(lseek(fd, offs[i], SEEK_DATA)));
		snprintf(name, sizeof(name), "%s.hole_%lld", prefix, (long long)offs[i]);
		ck(name, rc(lseek(fd, offs[i], SEEK_HOLE)));
	}
}

static void t_seek(void)
{
	char block[4096];
	int fd;

	mkdirm("sk", 0755);
	fill(block, sizeof(block), 5);
	fd = open("sk/sparse", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	setup("sk/sparse", rc(pwrite(fd, block, 4096, 0)) == 4096 ? 0 : -EIO);
	setup("sk/sparse", rc(pwrite(fd, block, 4096, 1048576)) == 4096 ? 0 : -EIO);
	seek_report("seek.unsynced", fd);
	ck("seek.fsync", SYS(fsync(fd)));
	if (fd >= 0)
		close(fd);
	fd = open("sk/sparse", O_RDONLY | O_CLOEXEC);
	seek_report("seek.synced", fd);
	emit("seek.stat", "%s %s", fst(fd), zeros(fd, 4096, 8192));
	ck("seek.after_data_pos", rc(lseek(fd, 0, SEEK_CUR)));
	if (fd >= 0)
		close(fd);
	fd = open("sk/empty", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ck("seek.empty_data", rc(lseek(fd, 0, SEEK_DATA)));
	ck("seek.empty_hole", rc(lseek(fd, 0, SEEK_HOLE)));
	ck("seek.empty_end", rc(lseek(fd, 0, SEEK_END)));
	ck("seek.empty_far", rc(lseek(fd, 1L << 40, SEEK_SET)));
	if (fd >= 0)
		close(fd);
	mkfile("sk/dense", 0644, "0123456789");
	fd = open("sk/dense", O_RDONLY | O_CLOEXEC);
	ck("seek.dense_data", rc(lseek(fd, 3, SEEK_DATA)));
	ck("seek.dense_hole", rc(lseek(fd, 3, SEEK_HOLE)));
	ck("seek.dense_data_at_eof", rc(lseek(fd, 10, SEEK_DATA)));
	ck("seek.dense_negative", rc(lseek(fd, -1, SEEK_DATA)));
	if (fd >= 0)
		close(fd);
	fd = open("sk/punched", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	for (int i = 0; i < 4; i++)
		setup("sk/punched", rc(pwrite(fd, block, 4096, i * 4096)) == 4096 ? 0 : -EIO);
	setup("sk/punched", SYS(fsync(fd)));
	setup("sk/punched", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
					  8192)));
	ck("seek.punched_hole", rc(lseek(fd, 0, SEEK_HOLE)));
	ck("seek.punched_data", rc(lseek(fd, 4096, SEEK_DATA)));
	if (fd >= 0)
		close(fd);
}

/* --- file locks ----------------------------------------------------------------------------- */

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start,
			    .l_len = len };

	return SYS(fcntl(fd, cmd, &fl));
}

static void t_locks(void)
{
	struct flock fl;
	int fd, fd2, ro;

	mkdirm("lk", 0755);
	mkfile("lk/f", 0666, "0123456789");
	fd = open("lk/f", O_RDWR | O_CLOEXEC);
	ck("lock.posix_write", setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	uck("lock.other_write_conflict", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 0, .f = 10));
	uck("lock.other_read_conflict", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_RDLCK, .m = 5, .f = 1));
	uck("lock.other_disjoint", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 10, .f = 10));
	uck("lock.other_getlk", &ID_ROOT, u_getlk, A(.p = "lk/f", .n = F_WRLCK, .m = 3, .f = 1));
	uck("lock.other_getlk_disjoint", &ID_ROOT, u_getlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 20, .f = 0));
	uck("lock.nobody_conflict", &ID_NOBODY, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 0, .f = 0));
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
	ck("lock.own_getlk", SYS(fcntl(fd, F_GETLK, &fl)));
	emit("lock.own_getlk_type", "%s", lock_type(fl.l_type));
	ck("lock.downgrade", setlk(fd, F_SETLK, F_RDLCK, 0, 10));
	uck("lock.other_read_shared", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_RDLCK, .m = 0, .f = 10));
	uck("lock.other_write_vs_read", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 2, .f = 2));
	uck("lock.other_getlk_read", &ID_ROOT, u_getlk, A(.p = "lk/f", .n = F_WRLCK, .m = 0,
							  .f = 0));
	ck("lock.unlock_middle", setlk(fd, F_SETLK, F_UNLCK, 4, 2));
	uck("lock.other_in_gap", &ID_ROOT, u_setlk, A(.p = "lk/f", .n = F_WRLCK, .m = 4, .f = 2));
	uck("lock.other_getlk_split", &ID_ROOT, u_getlk, A(.p = "lk/f", .n = F_WRLCK, .m = 5,
							   .f = 0));
	ck("lock.unlock", setlk(fd, F_SETLK, F_UNLCK, 0, 0));
	uck("lock.other_after_unlock", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 0, .f = 0));
	ck("lock.bad_type", setlk(fd, F_SETLK, 42, 0, 0));
	ck("lock.negative_start", setlk(fd, F_SETLK, F_WRLCK, -5, 1));
	ck("lock.beyond_eof", setlk(fd, F_SETLK, F_WRLCK, 1000, 10));
	uck("lock.other_beyond_eof", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_RDLCK, .m = 1005, .f = 1));
	/* closing any descriptor of the file drops the process's POSIX locks */
	fd2 = open("lk/f", O_RDONLY | O_CLOEXEC);
	if (fd2 >= 0)
		close(fd2);
	uck("lock.other_after_close_other_fd", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 1005, .f = 1));
	ro = open("lk/f", O_RDONLY | O_CLOEXEC);
	ck("lock.write_on_rdonly", setlk(ro, F_SETLK, F_WRLCK, 0, 1));
	ck("lock.read_on_rdonly", setlk(ro, F_SETLK, F_RDLCK, 0, 1));
	if (ro >= 0)
		close(ro);
	if (fd >= 0)
		close(fd);

	/* flock */
	fd = open("lk/f", O_RDONLY | O_CLOEXEC);
	fd2 = open("lk/f", O_RDONLY | O_CLOEXEC);
	ck("flock.ex", SYS(flock(fd, LOCK_EX | LOCK_NB)));
	uck("flock.other_ex", &ID_ROOT, u_flock, A(.p = "lk/f", .n = LOCK_EX | LOCK_NB));
	uck("flock.other_sh", &ID_ROOT, u_flock, A(.p = "lk/f", .n = LOCK_SH | LOCK_NB));
	uck("flock.nobody_ex", &ID_NOBODY, u_flock, A(.p = "lk/f", .n = LOCK_EX | LOCK_NB));
	ck("flock.same_process_other_open", SYS(flock(fd2, LOCK_EX | LOCK_NB)));
	ck("flock.to_shared", SYS(flock(fd, LOCK_SH | LOCK_NB)));
	uck("flock.other_sh_shared", &ID_ROOT, u_flock, A(.p = "lk/f", .n = LOCK_SH | LOCK_NB));
	uck("flock.other_ex_shared", &ID_ROOT, u_flock, A(.p = "lk/f", .n = LOCK_EX | LOCK_NB));
	ck("flock.unlock", SYS(flock(fd, LOCK_UN)));
	uck("flock.other_ex_after_unlock", &ID_ROOT, u_flock,
	    A(.p = "lk/f", .n = LOCK_EX | LOCK_NB));
	ck("flock.bad_op", SYS(flock(fd, 0)));
	ro = open("lk/f", O_RDWR | O_CLOEXEC);
	ck("flock.posix_independent", setlk(ro, F_SETLK, F_WRLCK, 0, 0));
	if (ro >= 0)
		close(ro);
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);

	/* open file description locks */
	fd = open("lk/f", O_RDWR | O_CLOEXEC);
	fd2 = open("lk/f", O_RDWR | O_CLOEXEC);
	ck("ofd.write", setlk(fd, F_OFD_SETLK, F_WRLCK, 0, 0));
	ck("ofd.same_process_conflict", setlk(fd2, F_OFD_SETLK, F_WRLCK, 0, 1));
	fl = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET };
	ck("ofd.getlk", SYS(fcntl(fd2, F_OFD_GETLK, &fl)));
	emit("ofd.getlk_result", "type=%s start=%lld len=%lld pid=%d", lock_type(fl.l_type),
	     (long long)fl.l_start, (long long)fl.l_len, fl.l_pid);
	ck("ofd.posix_same_process_conflict", setlk(fd2, F_SETLK, F_RDLCK, 0, 1));
	uck("ofd.other_process", &ID_ROOT, u_setlk, A(.p = "lk/f", .n = F_RDLCK, .m = 0, .f = 1));
	uck("ofd.other_getlk", &ID_ROOT, u_getlk, A(.p = "lk/f", .n = F_RDLCK, .m = 0, .f = 0));
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1 };
	ck("ofd.nonzero_pid", SYS(fcntl(fd2, F_OFD_SETLK, &fl)));
	if (fd >= 0)
		close(fd);
	ck("ofd.after_close", setlk(fd2, F_OFD_SETLK, F_WRLCK, 0, 0));
	if (fd2 >= 0)
		close(fd2);
}

/* --- open but unlinked ---------------------------------------------------------------------- */

static void t_unlinked(void)
{
	char buf[64], pp[64];
	struct stat st;
	int fd, fd2, dfd;
	ssize_t n;

	mkdirm("un", 0755);
	fd = open("un/f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ck("unlinked.write_before", fd < 0 ? -errno : rc(write(fd, "before", 6)));
	ck("unlinked.unlink", SYS(unlink("un/f")));
	emit("unlinked.fstat", "%s", fst(fd));
	show("unlinked.stat_name", "un/f");
	emit("unlinked.listing", "%s", listing("un"));
	ck("unlinked.write_after", rc(write(fd, " after", 6)));
	n = pread(fd, buf, sizeof(buf), 0);
	emit("unlinked.read", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	ck("unlinked.fsync", SYS(fsync(fd)));
	ck("unlinked.ftruncate", SYS(ftruncate(fd, 3)));
	emit("unlinked.ftruncate_stat", "%s", fst(fd));
	n = pread(fd, buf, sizeof(buf), 0);
	emit("unlinked.ftruncate_read", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	ck("unlinked.fchmod", SYS(fchmod(fd, 0600)));
	emit("unlinked.fchmod_stat", "%s", fst(fd));
	ck("unlinked.fchown", SYS(fchown(fd, 65534, 65532)));
	emit("unlinked.fchown_stat", "%s", fst(fd));
	ck("unlinked.futimens", SYS(futimens(fd, (struct timespec[2]){ { OLD_SEC, 5 },
								      { OLD_SEC + 2, 6 } })));
	if (fstat(fd, &st) == 0)
		emit("unlinked.futimens_times", "a=%s m=%s",
		     ts_eq(st.st_atim, ts(OLD_SEC, 5)) ? "set" : "other",
		     ts_eq(st.st_mtim, ts(OLD_SEC + 2, 6)) ? "set" : "other");
	else
		emit("unlinked.futimens_times", "%s", rs(-errno));
	ck("unlinked.fsetxattr", SYS(fsetxattr(fd, "user.u", "gone", 4, 0)));
	n = fgetxattr(fd, "user.u", buf, sizeof(buf));
	emit("unlinked.fgetxattr", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	ck("unlinked.fallocate", SYS(fallocate(fd, 0, 0, 8192)));
	emit("unlinked.fallocate_stat", "%s", fst(fd));
	snprintf(pp, sizeof(pp), "/proc/self/fd/%d", fd);
	fd2 = open(pp, O_RDONLY | O_CLOEXEC);
	n = fd2 < 0 ? -1 : pread(fd2, buf, 3, 0);
	emit("unlinked.reopen_proc", "%s", n < 0 ? rs(-errno) : esc(buf, (size_t)n));
	if (fd2 >= 0)
		close(fd2);
	ck("unlinked.linkat", SYS(linkat(fd, "", AT_FDCWD, "un/back", AT_EMPTY_PATH)));
	ck("unlinked.linkat_proc", SYS(linkat(AT_FDCWD, pp, AT_FDCWD, "un/back",
					      AT_SYMLINK_FOLLOW)));
	if (fd >= 0)
		close(fd);

	/* a new file under the old name is a different file */
	mkfile("un/g", 0644, "old");
	fd = open("un/g", O_RDONLY | O_CLOEXEC);
	setup("un/g", SYS(unlink("un/g")));
	mkfile("un/g", 0640, "new");
	n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), 0);
	emit("unlinked.name_reused_old", "%s %s", n < 0 ? rs(-errno) : esc(buf, (size_t)n),
	     fst(fd));
	emit("unlinked.name_reused_new", "%s %s", content("un/g"), lst("un/g"));
	if (fd >= 0)
		close(fd);

	/* rename over an open file */
	mkfile("un/h", 0644, "h-old");
	mkfile("un/h2", 0644, "h-new");
	fd = open("un/h", O_RDWR | O_CLOEXEC);
	ck("unlinked.rename_over", SYS(rename("un/h2", "un/h")));
	n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), 0);
	emit("unlinked.rename_over_old", "%s %s", n < 0 ? rs(-errno) : esc(buf, (size_t)n),
	     fst(fd));
	ck("unlinked.rename_over_write_old", fd < 0 ? -EBADF : rc(pwrite(fd, "X", 1, 0)));
	emit("unlinked.rename_over_new", "%s", content("un/h"));
	if (fd >= 0)
		close(fd);

	/* the last of two links goes while open */
	mkfile("un/k", 0644, "k");
	setup("un/k2", SYS(link("un/k", "un/k2")));
	fd = open("un/k", O_RDWR | O_CLOEXEC);
	setup("un/k", SYS(unlink("un/k")));
	emit("unlinked.one_of_two", "%s", fst(fd));
	setup("un/k2", SYS(unlink("un/k2")));
	emit("unlinked.none_of_two", "%s", fst(fd));
	ck("unlinked.none_of_two_write", fd < 0 ? -EBADF : rc(pwrite(fd, "kk", 2, 1)));
	emit("unlinked.none_of_two_stat", "%s", fst(fd));
	if (fd >= 0)
		close(fd);
	emit("unlinked.final_listing", "%s", listing("un"));

	/* a removed directory still open */
	mkdirm("un/d", 0755);
	dfd = open("un/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck("unlinked.rmdir_open", SYS(rmdir("un/d")));
	emit("unlinked.dir_fstat", "%s", fst(dfd));
	fd = dfd < 0 ? -1 : openat(dfd, "x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ck("unlinked.dir_create", fd < 0 ? -errno : 0);
	if (fd >= 0)
		close(fd);
	ck("unlinked.dir_mkdir", SYS(mkdirat(dfd, "x", 0755)));
	{
		DIR *d = dfd < 0 ? NULL : fdopendir(dup(dfd));
		char out[256];

		emit("unlinked.dir_readdir", "%s", d ? rs(list_stream(d, out, sizeof(out))) :
		     rs(-errno));
		if (d)
			closedir(d);
	}
	if (dfd >= 0)
		close(dfd);
}

/* --- setgid directories --------------------------------------------------------------------- */

static void t_setgid(void)
{
	mkdirm("sg", 0777);
	mkdirm("sg/d", 0777);
	own("sg/d", 0, GID_SHARED);
	setup("sg/d", SYS(chmod("sg/d", 02777)));
	show("setgid.dir", "sg/d");
	ck_show("setgid.root_file", try_open("sg/d/rootf", O_CREAT | O_WRONLY, 0644, NULL),
		"sg/d/rootf");
	ck_show("setgid.root_dir", SYS(mkdir("sg/d/rootd", 0755)), "sg/d/rootd");
	ck_show("setgid.root_fifo", SYS(mkfifo("sg/d/rootp", 0644)), "sg/d/rootp");
	ck_show("setgid.root_symlink", SYS(symlink("rootf", "sg/d/rootl")), "sg/d/rootl");
	ck_show("setgid.root_nested_file", try_open("sg/d/rootd/f", O_CREAT | O_WRONLY, 0644,
						    NULL), "sg/d/rootd/f");
	ck_show("setgid.root_nested_dir", SYS(mkdir("sg/d/rootd/sub", 0700)), "sg/d/rootd/sub");
	uck_show("setgid.member_file", &ID_U2, u_open,
		 A(.p = "sg/d/u2f", .n = O_CREAT | O_WRONLY, .m = 02755), "sg/d/u2f");
	uck_show("setgid.member_dir", &ID_U2, u_mkdir, A(.p = "sg/d/u2d", .n = 0775), "sg/d/u2d");
	uck_show("setgid.nonmember_file_group_x", &ID_NOBODY, u_open,
		 A(.p = "sg/d/nbf", .n = O_CREAT | O_WRONLY, .m = 02755), "sg/d/nbf");
	uck_show("setgid.nonmember_file_no_group_x", &ID_NOBODY, u_open,
		 A(.p = "sg/d/nbf2", .n = O_CREAT | O_WRONLY, .m = 02644), "sg/d/nbf2");
	uck_show("setgid.nonmember_plain_file", &ID_NOBODY, u_open,
		 A(.p = "sg/d/nbf3", .n = O_CREAT | O_WRONLY, .m = 0640), "sg/d/nbf3");
	uck_show("setgid.nonmember_dir", &ID_NOBODY, u_mkdir, A(.p = "sg/d/nbd", .n = 0777),
		 "sg/d/nbd");
	uck_show("setgid.nonmember_dir_setid_mode", &ID_NOBODY, u_mkdir,
		 A(.p = "sg/d/nbd2", .n = 07777), "sg/d/nbd2");
	uck_show("setgid.nonmember_fifo", &ID_NOBODY, u_mknod,
		 A(.p = "sg/d/nbp", .n = S_IFIFO | 02755), "sg/d/nbp");
	uck_show("setgid.nonmember_symlink", &ID_NOBODY, u_symlink, A(.p = "x", .q = "sg/d/nbl"),
		 "sg/d/nbl");
	uck_show("setgid.nonmember_nested", &ID_NOBODY, u_open,
		 A(.p = "sg/d/nbd/f", .n = O_CREAT | O_WRONLY, .m = 0644), "sg/d/nbd/f");
	uck_show("setgid.nonmember_socket", &ID_NOBODY, u_bind, A(.p = "sg/d/nbs"), "sg/d/nbs");

	/* outside a setgid directory the creator's primary group applies */
	uck_show("setgid.plain_member_file", &ID_U2, u_open,
		 A(.p = "sg/u2f", .n = O_CREAT | O_WRONLY, .m = 02755), "sg/u2f");
	uck_show("setgid.plain_nobody_file", &ID_NOBODY, u_open,
		 A(.p = "sg/nbf", .n = O_CREAT | O_WRONLY, .m = 02755), "sg/nbf");
	uck_show("setgid.plain_dir", &ID_U2, u_mkdir, A(.p = "sg/u2d", .n = 02777), "sg/u2d");

	/* moving or linking into a setgid directory keeps the group */
	ck_show("setgid.rename_in", SYS(rename("sg/nbf", "sg/d/moved")), "sg/d/moved");
	ck_show("setgid.link_in", SYS(link("sg/u2f", "sg/d/linked")), "sg/d/linked");
	setup("sg/d", SYS(chmod("sg/d", 0777)));
	ck_show("setgid.cleared_dir_file", try_open("sg/d/after", O_CREAT | O_WRONLY, 0644, NULL),
		"sg/d/after");
	uck_show("setgid.cleared_dir_u2", &ID_U2, u_mkdir, A(.p = "sg/d/after_d", .n = 0755),
		 "sg/d/after_d");
}

/* --- sticky directories --------------------------------------------------------------------- */

static void t_sticky(void)
{
	mkdirm("st", 01777);
	uck("sticky.nobody_create", &ID_NOBODY, u_open,
	    A(.p = "st/nb", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("sticky.nobody_create_writable", &ID_NOBODY, u_open,
	    A(.p = "st/nbw", .n = O_CREAT | O_WRONLY, .m = 0666));
	uck("sticky.nobody_mkdir", &ID_NOBODY, u_mkdir, A(.p = "st/nbd", .n = 0777));
	uck("sticky.u2_create", &ID_U2, u_open, A(.p = "st/u2", .n = O_CREAT | O_WRONLY,
						  .m = 0644));
	uck("sticky.u2_unlink_others", &ID_U2, u_unlink, A(.p = "st/nb"));
	uck("sticky.u2_unlink_others_writable", &ID_U2, u_unlink, A(.p = "st/nbw"));
	uck("sticky.u2_rename_others", &ID_U2, u_rename, A(.p = "st/nb", .q = "st/x"));
	uck("sticky.u2_rename_over_others", &ID_U2, u_rename, A(.p = "st/u2", .q = "st/nb"));
	uck("sticky.u2_rmdir_others", &ID_U2, u_rmdir, A(.p = "st/nbd"));
	uck("sticky.u2_rename_others_dir", &ID_U2, u_rename, A(.p = "st/nbd", .q = "st/y"));
	uck("sticky.u2_exchange_with_others", &ID_U2, u_rename,
	    A(.p = "st/u2", .q = "st/nb", .n = RENAME_EXCHANGE));
	uck("sticky.u2_write_others_writable", &ID_U2, u_open,
	    A(.p = "st/nbw", .n = O_WRONLY, .buf = "w"));
	uck_show("sticky.u2_rename_own", &ID_U2, u_rename, A(.p = "st/u2", .q = "st/u2b"),
		 "st/u2b");
	uck("sticky.nobody_unlink_own", &ID_NOBODY, u_unlink, A(.p = "st/nb"));
	uck("sticky.nobody_rmdir_own", &ID_NOBODY, u_rmdir, A(.p = "st/nbd"));
	ck("sticky.root_unlink_others", SYS(unlink("st/u2b")));
	emit("sticky.listing", "%s", listing("st"));

	/* the owner of the directory may remove anything in it */
	mkdirm("st/u3d", 01777);
	own("st/u3d", ID_U3.uid, ID_U3.gid);
	uck("sticky.nobody_create_in_u3d", &ID_NOBODY, u_open,
	    A(.p = "st/u3d/f", .n = O_CREAT | O_WRONLY, .m = 0600));
	uck("sticky.nobody_create2_in_u3d", &ID_NOBODY, u_open,
	    A(.p = "st/u3d/g", .n = O_CREAT | O_WRONLY, .m = 0600));
	uck("sticky.dir_owner_unlink", &ID_U3, u_unlink, A(.p = "st/u3d/f"));
	uck("sticky.dir_owner_rename", &ID_U3, u_rename, A(.p = "st/u3d/g", .q = "st/u3d/h"));
	uck("sticky.u2_unlink_in_u3d", &ID_U2, u_unlink, A(.p = "st/u3d/h"));
	emit("sticky.u3d_listing", "%s", listing("st/u3d"));
	/* a sticky directory not writable by others: plain EACCES first */
	mkdirm("st/closed", 01755);
	mkfile("st/closed/f", 0666, NULL);
	uck("sticky.no_write_unlink", &ID_NOBODY, u_unlink, A(.p = "st/closed/f"));
}

/* --- umask ---------------------------------------------------------------------------------- */

static void t_umask(void)
{
	mode_t old;

	mkdirm("um", 0777);
	old = umask(077);
	ck_show("umask.077_file", try_open("um/f1", O_CREAT | O_WRONLY, 0666, NULL), "um/f1");
	ck_show("umask.077_dir", SYS(mkdir("um/d1", 0777)), "um/d1");
	ck_show("umask.077_fifo", SYS(mkfifo("um/p1", 0666)), "um/p1");
	ck_show("umask.077_socket_node", SYS(mknod("um/s1", S_IFSOCK | 0777, 0)), "um/s1");
	ck_show("umask.077_symlink", SYS(symlink("f1", "um/l1")), "um/l1");
	uck_show("umask.077_bind", &ID_ROOT, u_bind, A(.p = "um/b1"), "um/b1");
	uck_show("umask.077_nobody_file", &ID_NOBODY, u_open,
		 A(.p = "um/nb1", .n = O_CREAT | O_WRONLY, .m = 0666), "um/nb1");
	umask(0);
	ck_show("umask.000_file", try_open("um/f2", O_CREAT | O_WRONLY, 0666, NULL), "um/f2");
	ck_show("umask.000_dir", SYS(mkdir("um/d2", 0777)), "um/d2");
	ck_show("umask.000_setid_file", try_open("um/f3", O_CREAT | O_WRONLY, 07777, NULL),
		"um/f3");
	umask(027);
	ck_show("umask.027_file", try_open("um/f4", O_CREAT | O_WRONLY, 0777, NULL), "um/f4");
	ck_show("umask.027_dir", SYS(mkdir("um/d4", 03777)), "um/d4");
	uck_show("umask.027_u2_dir", &ID_U2, u_mkdir, A(.p = "um/u2d", .n = 0777), "um/u2d");
	umask(old);
	ck_show("umask.restored", try_open("um/f5", O_CREAT | O_WRONLY, 0666, NULL), "um/f5");
	ck_show("umask.creat_existing_keeps_mode", try_open("um/f1", O_CREAT | O_WRONLY, 0777,
							    NULL), "um/f1");
}

/* --- permission checks for other users ------------------------------------------------------ */

static void t_perm(void)
{
	mkdirm("pm", 0755);
	mkdirm("pm/noexec", 0644);
	mkfile("pm/noexec/f", 0644, "x");
	mkdirm("pm/noread", 0311);
	mkfile("pm/noread/f", 0644, "x");
	mkdirm("pm/nowrite", 0555);
	mkfile("pm/nowrite/f", 0666, "x");
	mkdirm("pm/none", 0);
	mkfile("pm/none/f", 0644, "x");
	mkdirm("pm/grp", 0070);
	own("pm/grp", 0, GID_SHARED);
	mkfile("pm/grp/f", 0644, "x");
	mkdirm("pm/own0", 0070);
	own("pm/own0", ID_U2.uid, GID_SHARED);
	mkfile("pm/own0/f", 0644, "x");

	uck("perm.noexec_stat", &ID_NOBODY, u_stat, A(.p = "pm/noexec/f"));
	uck("perm.noexec_readdir", &ID_NOBODY, u_readdir, A(.p = "pm/noexec"));
	uck("perm.noexec_chdir", &ID_NOBODY, u_chdir, A(.p = "pm/noexec"));
	uck("perm.noexec_open", &ID_NOBODY, u_read, A(.p = "pm/noexec/f"));
	uck("perm.noread_readdir", &ID_NOBODY, u_readdir, A(.p = "pm/noread"));
	uck("perm.noread_stat", &ID_NOBODY, u_stat, A(.p = "pm/noread/f"));
	uck("perm.noread_open", &ID_NOBODY, u_read, A(.p = "pm/noread/f"));
	uck("perm.noread_chdir", &ID_NOBODY, u_chdir, A(.p = "pm/noread"));
	uck("perm.nowrite_create", &ID_NOBODY, u_open,
	    A(.p = "pm/nowrite/x", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("perm.nowrite_unlink", &ID_NOBODY, u_unlink, A(.p = "pm/nowrite/f"));
	uck("perm.nowrite_rename", &ID_NOBODY, u_rename, A(.p = "pm/nowrite/f",
							   .q = "pm/nowrite/g"));
	uck("perm.nowrite_write_file", &ID_NOBODY, u_open,
	    A(.p = "pm/nowrite/f", .n = O_WRONLY, .buf = "y"));
	uck("perm.nowrite_mkdir", &ID_NOBODY, u_mkdir, A(.p = "pm/nowrite/d", .n = 0755));
	uck("perm.nowrite_symlink", &ID_NOBODY, u_symlink, A(.p = "x", .q = "pm/nowrite/l"));
	uck("perm.nowrite_mknod", &ID_NOBODY, u_mknod, A(.p = "pm/nowrite/p",
							 .n = S_IFIFO | 0644));
	uck("perm.none_stat", &ID_NOBODY, u_stat, A(.p = "pm/none/f"));
	uck("perm.none_readdir", &ID_NOBODY, u_readdir, A(.p = "pm/none"));
	uck("perm.none_chdir", &ID_NOBODY, u_chdir, A(.p = "pm/none"));
	uck("perm.none_stat_dir_itself", &ID_NOBODY, u_stat, A(.p = "pm/none"));
	uck("perm.root_none_stat", NULL, u_stat, A(.p = "pm/none/f"));
	uck("perm.root_none_readdir", NULL, u_readdir, A(.p = "pm/none"));
	uck("perm.root_none_create", NULL, u_open,
	    A(.p = "pm/none/new", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("perm.group_member_readdir", &ID_U2, u_readdir, A(.p = "pm/grp"));
	uck("perm.group_member_create", &ID_U2, u_open,
	    A(.p = "pm/grp/u2", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("perm.group_other_readdir", &ID_NOBODY, u_readdir, A(.p = "pm/grp"));
	uck("perm.owner_denied_despite_group", &ID_U2, u_readdir, A(.p = "pm/own0"));
	uck("perm.owner_denied_stat", &ID_U2, u_stat, A(.p = "pm/own0/f"));
	uck("perm.owner_can_chmod", &ID_U2, u_chmod, A(.p = "pm/own0", .n = 0700));
	uck("perm.owner_after_chmod", &ID_U2, u_readdir, A(.p = "pm/own0"));
}

/* --- name and path length ------------------------------------------------------------------- */

static void t_names(void)
{
	char n255[300], n256[300], p[5000];
	struct stat st;
	size_t k;

	mkdirm("nm", 0755);
	memcpy(n255, "nm/", 3);
	memset(n255 + 3, 'a', 255);
	n255[258] = '\0';
	memcpy(n256, "nm/", 3);
	memset(n256 + 3, 'b', 256);
	n256[259] = '\0';
	ck_show("name.255_create", try_open(n255, O_CREAT | O_WRONLY, 0644, "max"), n255);
	emit("name.255_listing", "%s", listing("nm"));
	emit("name.255_content", "%s", content(n255));
	ck("name.255_mkdir", SYS(mkdir(n255, 0755)));
	mkfile("nm/short", 0644, NULL);
	ck("name.256_stat", SYS(lstat(n256, &st)));
	ck("name.256_open", try_open(n256, O_RDONLY, 0, NULL));
	ck("name.256_create", try_open(n256, O_CREAT | O_WRONLY, 0644, NULL));
	ck("name.256_mkdir", SYS(mkdir(n256, 0755)));
	ck("name.256_rmdir", SYS(rmdir(n256)));
	ck("name.256_unlink", SYS(unlink(n256)));
	ck("name.256_symlink", SYS(symlink("short", n256)));
	ck("name.256_symlink_target_ok", SYS(symlink(n256 + 3, "nm/lnk256")));
	ck("name.256_link", SYS(link("nm/short", n256)));
	ck("name.256_rename_to", SYS(rename("nm/short", n256)));
	ck("name.256_rename_from", SYS(rename(n256, "nm/x")));
	ck("name.256_mknod", SYS(mknod(n256, S_IFIFO | 0644, 0)));
	ck("name.256_chmod", SYS(chmod(n256, 0644)));
	ck("name.256_truncate", SYS(truncate(n256, 0)));
	ck("name.256_setxattr", SYS(setxattr(n256, "user.x", "x", 1, 0)));
	ck("name.256_readlink", rc(readlink(n256, p, sizeof(p))));
	ck("name.256_utimens", SYS(utimensat(AT_FDCWD, n256, NULL, 0)));
	ck("name.256_access", SYS(access(n256, F_OK)));
	emit("name.listing_after", "%s", listing("nm"));
	memcpy(p, "nm/", 3);
	k = 3;
	while (k < 4200) {
		memcpy(p + k, "./", 2);
		k += 2;
	}
	memcpy(p + k, "short", 6);
	ck("name.path_too_long", SYS(lstat(p, &st)));
	k = 0;
	while (k < 4000) {
		memcpy(p + k, "./", 2);
		k += 2;
	}
	memcpy(p + k, "nm/short", 9);
	ck("name.path_long_ok", SYS(lstat(p, &st)));
	ck("name.dots", SYS(mkdir("nm/...", 0755)));
	ck("name.dash", try_open("nm/-", O_CREAT | O_WRONLY, 0644, NULL));
	ck("name.utf8", try_open("nm/\xc3\xa9t\xc3\xa9", O_CREAT | O_WRONLY, 0644, NULL));
	ck("name.control_chars", try_open("nm/a\tb\nc", O_CREAT | O_WRONLY, 0644, NULL));
	ck("name.high_bytes", try_open("nm/\xff\xfe", O_CREAT | O_WRONLY, 0644, NULL));
	emit("name.listing_odd", "%s", listing("nm"));
}

/* --- names reused for new files ------------------------------------------------------------ */

/* Whether p is a regular file holding exactly want, with one link. */
static bool holds(const char *p, const char *want)
{
	char buf[64];
	struct stat st;
	ssize_t n;
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	if (fstat(fd, &st) < 0)
		n = -1;
	close(fd);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0 &&
	       S_ISREG(st.st_mode) && st.st_nlink == 1;
}

/*
 * One name, and the inode numbers the filesystem hands out again, cycle through files,
 * directories, symbolic links and hard links; each round must see the object it just made.
 */
static void t_reuse(void)
{
	char want[32], target[PATH_MAX];
	unsigned good[5] = { 0 };
	struct stat st;
	ssize_t n;

	mkdirm("re", 0755);
	for (int i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "round %d", i);
		mkfile("re/a", 0644, want);
		good[0] += holds("re/a", want);
		setup("re/a", SYS(link("re/a", "re/b")));
		setup("re/a", SYS(unlink("re/a")));
		good[1] += holds("re/b", want);
		setup("re/b", SYS(rename("re/b", "re/a")));
		good[2] += holds("re/a", want);
		setup("re/a", SYS(unlink("re/a")));
		good[3] += mkdir("re/a", 0700) == 0 && lstat("re/a", &st) == 0 &&
			   S_ISDIR(st.st_mode) && rmdir("re/a") == 0;
		n = symlink(want, "re/a") == 0 ? readlink("re/a", target, sizeof(target)) : -1;
		good[4] += n == (ssize_t)strlen(want) && memcmp(target, want, (size_t)n) == 0 &&
			   unlink("re/a") == 0;
	}
	emit("reuse.file", "%u/100", good[0]);
	emit("reuse.hard_link", "%u/100", good[1]);
	emit("reuse.rename_back", "%u/100", good[2]);
	emit("reuse.dir", "%u/100", good[3]);
	emit("reuse.symlink", "%u/100", good[4]);
	emit("reuse.listing", "%s", listing("re"));
}

/* --- main ----------------------------------------------------------------------------------- */

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
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (shared == MAP_FAILED) {
		fprintf(stderr, "conform: mmap: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	umask(022);
	t_stat();
	t_chmod();
	t_chown();
	t_truncate();
	t_utimens();
	t_readdir();
	t_open();
	t_rw();
	t_fsync();
	t_mkdir();
	t_unlink();
	t_rename();
	t_link();
	t_symlink();
	t_mknod();
	t_xattr();
	t_statvfs();
	t_access();
	t_fallocate();
	t_copy();
	t_seek();
	t_locks();
	t_unlinked();
	t_setgid();
	t_sticky();
	t_umask();
	t_perm();
	t_names();
	t_reuse();
	fflush(stdout);
	fprintf(stderr, "conform: %u checks\n", nchecks);
	return EXIT_SUCCESS;
}
