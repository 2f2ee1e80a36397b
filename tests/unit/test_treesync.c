/*
 * Unit tests of treesync.c on plain temporary directories: after a sync the trees compare
 * equal (names, types, bytes, targets, modes, owners, times, xattrs, hard links), and only
 * what differed was written. The tests of mount points inside the trees mount tmpfs and bind
 * mounts: they need root, as the integration tests do.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "treesync.h"

#define MIB (1024 * 1024)

struct dirs {
	char root[PATH_MAX];
	char src[PATH_MAX + 8];
	char dst[PATH_MAX + 8];
	char mounts[8][PATH_MAX * 2];   /* what the test mounted, unmounted by teardown() */
	int nmounts;
};

static int setup(void **state)
{
	struct dirs *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->root, sizeof(d->root), "/tmp/test_treesync.XXXXXX");
	if (!mkdtemp(d->root))
		return -1;
	snprintf(d->src, sizeof(d->src), "%s/src", d->root);
	snprintf(d->dst, sizeof(d->dst), "%s/dst", d->root);
	if (mkdir(d->src, 0755) < 0)
		return -1;
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;
	char cmd[PATH_MAX + 32];

	while (d->nmounts > 0)
		(void)umount2(d->mounts[--d->nmounts], MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->root);
	(void)system(cmd);
	free(d);
	return 0;
}

/* dir/rel, in a static buffer of two that alternate. */
static const char *at(const char *dir, const char *rel)
{
	static char buf[2][PATH_MAX * 2];
	static int k;

	k = !k;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void put(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void put_str(const char *path, const char *s)
{
	put(path, s, strlen(s));
}

/* A file of size bytes of pseudo-random data from seed. */
static void put_random(const char *path, size_t size, unsigned seed)
{
	char *buf = malloc(size);
	size_t i;

	assert_non_null(buf);
	srand(seed);
	for (i = 0; i < size; i++)
		buf[i] = (char)rand();
	put(path, buf, size);
	free(buf);
}

/* Write len bytes of value c at off in path, in place. */
static void patch(const char *path, off_t off, size_t len, int c)
{
	char buf[8192];
	int fd = open(path, O_WRONLY);

	assert_true(len <= sizeof(buf));
	memset(buf, c, len);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/*
 * Set path's times (no follow): mtime, and an atime an hour ahead, after the ctime and within a
 * day, so that reading the entry (relatime) does not change it.
 */
static void set_times(const char *path, time_t mtime)
{
	struct timespec ts[2] = { { time(NULL) + 3600, 123 }, { mtime, 456789 } };

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/*
 * Mount a small tmpfs on the directory path (made here), or bind-mount from onto path (which
 * exists) when from is given; registered for teardown(). Fails the test when it cannot.
 */
static void mount_at(struct dirs *d, const char *path, const char *from)
{
	int r;

	assert_true(d->nmounts < 8);
	if (!from)
		assert_int_equal(mkdir(path, 0755), 0);
	if (from)
		r = mount(from, path, NULL, MS_BIND, NULL);
	else
		r = mount("tmpfs", path, "tmpfs", 0, "size=1m,mode=0755");
	if (r < 0)
		fail_msg("cannot mount at '%s' (the unit tests run as root): %s", path,
			 strerror(errno));
	snprintf(d->mounts[d->nmounts++], sizeof(d->mounts[0]), "%s", path);
}

/* Unmount what mount_at() mounted last. */
static void unmount_last(struct dirs *d)
{
	assert_true(d->nmounts > 0);
	assert_int_equal(umount2(d->mounts[--d->nmounts], 0), 0);
}

/* The contents of the small file path, in a static buffer ("" when it cannot be read). */
static const char *file_str(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		(void)close(fd);
	return buf;
}

static ino_t inode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_ino;
}

/* system() of the formatted command. */
static int system_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int system_fmt(const char *fmt, ...)
{
	char cmd[PATH_MAX * 5];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int sync_ok(const struct dirs *d, unsigned flags, struct treesync_stats *st)
{
	char msg[512] = "";
	int r = treesync(d->src, d->dst, flags, NULL, st, msg, sizeof(msg));

	if (r < 0)
		print_error("treesync: %s\n", msg);
	return r;
}

static bool same_file_bytes(const char *a, const char *b)
{
	char ba[65536], bb[65536];
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	bool same = fa >= 0 && fb >= 0;

	while (same) {
		ssize_t na = read(fa, ba, sizeof(ba)), nb = read(fb, bb, sizeof(bb));

		same = na == nb && na >= 0 && memcmp(ba, bb, (size_t)na) == 0;
		if (na <= 0)
			break;
	}
	(void)close(fa);
	(void)close(fb);
	return same;
}

static bool same_xattrs(const char *a, const char *b)
{
	char la[4096], lb[4096], va[4096], vb[4096];
	ssize_t na = llistxattr(a, la, sizeof(la)), nb = llistxattr(b, lb, sizeof(lb));
	const char *n;

	if (na != nb || na < 0)
		return false;
	for (n = la; n < la + na; n += strlen(n) + 1) {
		ssize_t sa = lgetxattr(a, n, va, sizeof(va)), sb = lgetxattr(b, n, vb, sizeof(vb));

		if (sa != sb || sa < 0 || memcmp(va, vb, (size_t)sa) != 0)
			return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of directory path, NULL-terminated; *n their count. */
static char **names(const char *path, size_t *n)
{
	char **v = calloc(1024, sizeof(*v));
	struct dirent *de;
	DIR *dir = opendir(path);

	assert_non_null(dir);
	*n = 0;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		assert_true(*n < 1023);
		v[(*n)++] = strdup(de->d_name);
	}
	closedir(dir);
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

/*
 * Whether trees a and b are equal, the roots' times aside when skip_root_times (listing the
 * roots in the test may move them); prints the first difference.
 */
static bool same_tree(const char *a, const char *b, bool check_times)
{
	struct stat sa, sb;
	bool same = true;

	if (lstat(a, &sa) < 0 || lstat(b, &sb) < 0) {
		print_error("cannot stat '%s' or '%s'\n", a, b);
		return false;
	}
	if (sa.st_mode != sb.st_mode || sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid) {
		print_error("'%s' and '%s': mode %o/%o, owner %u/%u\n", a, b, sa.st_mode,
			    sb.st_mode, sa.st_uid, sb.st_uid);
		return false;
	}
	if (check_times && (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
			    sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)) {
		print_error("'%s' and '%s': mtimes differ\n", a, b);
		return false;
	}
	if (!same_xattrs(a, b)) {
		print_error("'%s' and '%s': xattrs differ\n", a, b);
		return false;
	}
	if (S_ISREG(sa.st_mode) && (sa.st_size != sb.st_size || !same_file_bytes(a, b))) {
		print_error("'%s' and '%s': contents differ\n", a, b);
		return false;
	}
	if (S_ISLNK(sa.st_mode)) {
		char ta[PATH_MAX], tb[PATH_MAX];
		ssize_t na = readlink(a, ta, sizeof(ta)), nb = readlink(b, tb, sizeof(tb));

		if (na != nb || na < 0 || memcmp(ta, tb, (size_t)na) != 0) {
			print_error("'%s' and '%s': targets differ\n", a, b);
			return false;
		}
	}
	if ((S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) && sa.st_rdev != sb.st_rdev)
		return false;
	if (S_ISDIR(sa.st_mode)) {
		size_t na, nb, i;
		char **va = names(a, &na), **vb = names(b, &nb);
		char pa[PATH_MAX], pb[PATH_MAX];

		if (na != nb) {
			print_error("'%s' and '%s': %zu and %zu entries\n", a, b, na, nb);
			same = false;
		}
		for (i = 0; same && i < na; i++) {
			if (strcmp(va[i], vb[i]) != 0) {
				print_error("'%s' and '%s': '%s' and '%s'\n", a, b, va[i], vb[i]);
				same = false;
				break;
			}
			snprintf(pa, sizeof(pa), "%s/%s", a, va[i]);
			snprintf(pb, sizeof(pb), "%s/%s", b, vb[i]);
			same = same_tree(pa, pb, true);
		}
		for (i = 0; i < na; i++)
			free(va[i]);
		for (i = 0; i < nb; i++)
			free(vb[i]);
		free(va);
		free(vb);
	}
	return same;
}

/* A tree with nested dirs, a file, a symlink, a fifo and a name with a newline. */
static void make_tree(const char *src)
{
	assert_int_equal(mkdir(at(src, "a"), 0755), 0);
	assert_int_equal(mkdir(at(src, "a/b"), 0700), 0);
	assert_int_equal(mkdir(at(src, "a/b/c"), 0755), 0);
	assert_int_equal(mkdir(at(src, "empty"), 0755), 0);
	put_str(at(src, "top.txt"), "top\n");
	put_str(at(src, "a/b/c/deep.txt"), "deep\n");
	put_str(at(src, "a/empty-file"), "");
	put_random(at(src, "a/b/rand"), 200000, 1);
	put_str(at(src, "new\nline"), "a name with a newline\n");
	assert_int_equal(symlink("../top.txt", at(src, "a/link")), 0);
	assert_int_equal(symlink("/nonexistent/dangling", at(src, "dangling")), 0);
	assert_int_equal(mkfifo(at(src, "a/fifo"), 0640), 0);
	set_times(at(src, "a/b/c"), 1000000000);
	set_times(at(src, "a/link"), 1100000000);
	set_times(at(src, "a/fifo"), 1200000000);
	set_times(at(src, "a"), 1300000000);
}

static void test_treesync_makes_nested_tree_equal(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;

	make_tree(d->src);
	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	assert_true(same_tree(d->src, d->dst, false));
	/* root, a, a/b, a/b/c, empty, 5 files, 2 symlinks, a fifo */
	assert_int_equal(st.created, 13);
	assert_int_equal(st.removed + st.updated + st.unchanged, 0);
	assert_int_equal(st.bytes_written, 4 + 5 + 200000 + 22);

	/* again: nothing to do */
	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	assert_int_equal(st.created + st.removed + st.bytes_written, 0);
	assert_int_equal(st.unchanged + st.updated, 13);  /* listings may move atimes */
	assert_true(same_tree(d->src, d->dst, false));
}

static void test_treesync_rewrites_only_changed_block(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;

	put_random(at(d->src, "big"), 3 * MIB, 7);
	assert_int_equal(sync_ok(d, 0, &st), 0);
	assert_int_equal(st.bytes_written, 3 * MIB);

	set_times(d->src, 1500000000);
	assert_int_equal(sync_ok(d, 0, &st), 0);
	patch(at(d->src, "big"), MIB + 8192, 4096, 'x');
	assert_int_equal(sync_ok(d, 0, &st), 0);
	assert_int_equal(st.bytes_written, TREESYNC_BLOCK);
	assert_int_equal(st.updated, 1);
	assert_true(same_tree(d->src, d->dst, false));
}

static void test_treesync_grows_and_shrinks_files(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	struct stat sb;

	put_random(at(d->src, "grown"), 300000, 2);
	put_random(at(d->src, "shrunk"), 70000, 3);
	assert_int_equal(mkdir(d->dst, 0755), 0);
	put_random(at(d->dst, "grown"), 100000, 2);     /* the same first 100000 bytes */
	put_random(at(d->dst, "shrunk"), 500000, 3);
	assert_int_equal(sync_ok(d, 0, &st), 0);
	assert_true(same_tree(d->src, d->dst, false));
	assert_int_equal(stat(at(d->dst, "shrunk"), &sb), 0);
	assert_int_equal(sb.st_size, 70000);
	/* grown: the block cut at 100000 and the three after it; shrunk: nothing */
	assert_int_equal(st.bytes_written, 300000 - 65536);
	assert_int_equal(st.updated, 3);        /* and the root's times */
}

static void test_treesync_replaces_changed_types(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;

	/* src: file, dir, symlink, file where dst has: dir, file, file, symlink */
	put_str(at(d->src, "was-dir"), "now a file\n");
	assert_int_equal(mkdir(at(d->src, "was-file"), 0755), 0);
	put_str(at(d->src, "was-file/inside"), "x");
	assert_int_equal(symlink("target", at(d->src, "was-file2")), 0);
	put_str(at(d->src, "was-link"), "now a file\n");
	assert_int_equal(mkdir(d->dst, 0755), 0);
	assert_int_equal(mkdir(at(d->dst, "was-dir"), 0755), 0);
	assert_int_equal(mkdir(at(d->dst, "was-dir/sub"), 0755), 0);
	put_str(at(d->dst, "was-dir/sub/f"), "old");
	put_str(at(d->dst, "was-file"), "old");
	put_str(at(d->dst, "was-file2"), "old");
	assert_int_equal(symlink("was-dir", at(d->dst, "was-link")), 0);

	assert_int_equal(sync_ok(d, 0, &st), 0);
	assert_true(same_tree(d->src, d->dst, false));
	assert_int_equal(st.removed, 6);        /* was-dir with sub and f, 2 files, a symlink */
	assert_int_equal(st.created, 5);        /* 4 entries and was-file/inside */
}

static void test_treesync_deletes_extra_only_with_flag(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	struct stat sb;

	put_str(at(d->src, "kept"), "k");
	assert_int_equal(mkdir(d->dst, 0755), 0);
	assert_int_equal(mkdir(at(d->dst, "extra-dir"), 0755), 0);
	put_str(at(d->dst, "extra-dir/f"), "f");
	put_str(at(d->dst, "extra"), "e");

	assert_int_equal(sync_ok(d, 0, &st), 0);
	assert_int_equal(st.removed, 0);
	assert_int_equal(lstat(at(d->dst, "extra"), &sb), 0);
	assert_int_equal(lstat(at(d->dst, "extra-dir/f"), &sb), 0);
	assert_int_equal(lstat(at(d->dst, "kept"), &sb), 0);

	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	assert_int_equal(st.removed, 3);
	assert_true(same_tree(d->src, d->dst, false));
}

static void test_treesync_restores_attributes(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	bool root = geteuid() == 0;
	struct stat sb;

	put_str(at(d->src, "suid"), "s");
	assert_int_equal(chmod(at(d->src, "suid"), 04755), 0);
	put_str(at(d->src, "sgid"), "g");
	assert_int_equal(chmod(at(d->src, "sgid"), 02750), 0);
	assert_int_equal(mkdir(at(d->src, "sticky"), 01777), 0);
	assert_int_equal(chmod(at(d->src, "sticky"), 01777), 0);
	put_str(at(d->src, "x"), "attributes");
	assert_int_equal(setxattr(at(d->src, "x"), "user.kept", "same", 4, 0), 0);
	assert_int_equal(setxattr(at(d->src, "x"), "user.changed", "new", 3, 0), 0);
	assert_int_equal(setxattr(at(d->src, "x"), "user.empty", "", 0, 0), 0);
	if (root) {
		assert_int_equal(setxattr(at(d->src, "x"), "trusted.t", "tt", 2, 0), 0);
		assert_int_equal(lchown(at(d->src, "suid"), 1234, 5678), 0);
		assert_int_equal(chmod(at(d->src, "suid"), 04755), 0);
	}
	set_times(at(d->src, "x"), 1500000000);
	set_times(at(d->src, "suid"), 1400000000);
	set_times(at(d->src, "sticky"), 1400000001);

	assert_int_equal(mkdir(d->dst, 0755), 0);
	put_str(at(d->dst, "suid"), "s");
	put_str(at(d->dst, "x"), "attributes");
	assert_int_equal(setxattr(at(d->dst, "x"), "user.kept", "same", 4, 0), 0);
	assert_int_equal(setxattr(at(d->dst, "x"), "user.changed", "old", 3, 0), 0);
	assert_int_equal(setxattr(at(d->dst, "x"), "user.extra", "gone", 4, 0), 0);

	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	assert_true(same_tree(d->src, d->dst, false));
	assert_int_equal(st.bytes_written, 1);          /* sgid's; suid and x were equal */
	assert_int_equal(lstat(at(d->dst, "suid"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 04755);
	assert_int_equal(sb.st_mtim.tv_sec, 1400000000);
	assert_int_equal(sb.st_mtim.tv_nsec, 456789);
	assert_int_equal(sb.st_atim.tv_nsec, 123);
	if (root) {
		assert_int_equal(sb.st_uid, 1234);
		assert_int_equal(sb.st_gid, 5678);
	}
	assert_int_equal(lstat(at(d->dst, "sticky"), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 01777);
	assert_int_equal(sb.st_mtim.tv_sec, 1400000001);
	assert_int_equal(getxattr(at(d->dst, "x"), "user.extra", NULL, 0), -1);
	assert_int_equal(errno, ENODATA);
}

static void test_treesync_reproduces_hard_links(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	struct stat a, b, c;

	assert_int_equal(mkdir(at(d->src, "sub"), 0755), 0);
	put_str(at(d->src, "one"), "linked");
	assert_int_equal(link(at(d->src, "one"), at(d->src, "sub/two")), 0);
	assert_int_equal(link(at(d->src, "one"), at(d->src, "three")), 0);
	put_str(at(d->src, "alone"), "separate");
	put_str(at(d->src, "other"), "separate too");
	/* dst: 'alone' and 'other' share an inode that the source does not share */
	assert_int_equal(mkdir(d->dst, 0755), 0);
	put_str(at(d->dst, "alone"), "shared");
	assert_int_equal(link(at(d->dst, "alone"), at(d->dst, "other")), 0);
	set_times(d->src, 1500000000);
	set_times(at(d->src, "sub"), 1500000000);
	set_times(at(d->src, "one"), 1500000000);
	set_times(at(d->src, "alone"), 1500000000);
	set_times(at(d->src, "other"), 1500000000);

	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	assert_true(same_tree(d->src, d->dst, false));
	assert_int_equal(lstat(at(d->dst, "one"), &a), 0);
	assert_int_equal(lstat(at(d->dst, "sub/two"), &b), 0);
	assert_int_equal(lstat(at(d->dst, "three"), &c), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_ino, c.st_ino);
	assert_int_equal(a.st_nlink, 3);
	assert_int_equal(st.bytes_written, 6 + 8 + 12);  /* 'one' once */
	assert_int_equal(lstat(at(d->dst, "alone"), &a), 0);
	assert_int_equal(lstat(at(d->dst, "other"), &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino);

	/* again: the links are there already */
	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	assert_int_equal(st.created + st.removed + st.updated + st.bytes_written, 0);
}

static void test_treesync_honours_skip_top(void **state)
{
	struct dirs *d = *state;
	const char *const skip[] = { ".snapshots", NULL };
	struct treesync_stats st;
	struct stat sb;
	char msg[256];

	assert_int_equal(mkdir(at(d->src, ".snapshots"), 0755), 0);
	put_str(at(d->src, ".snapshots/in-src"), "not copied");
	assert_int_equal(mkdir(at(d->src, "sub"), 0755), 0);
	assert_int_equal(mkdir(at(d->src, "sub/.snapshots"), 0755), 0);
	assert_int_equal(mkdir(d->dst, 0755), 0);
	assert_int_equal(mkdir(at(d->dst, ".snapshots"), 0700), 0);
	put_str(at(d->dst, ".snapshots/in-dst"), "kept");

	assert_int_equal(treesync(d->src, d->dst, TREESYNC_DELETE, skip, &st, msg, sizeof(msg)),
			 0);
	assert_int_equal(lstat(at(d->dst, ".snapshots/in-dst"), &sb), 0);
	assert_int_equal(lstat(at(d->dst, ".snapshots/in-src"), &sb), -1);
	assert_int_equal(lstat(at(d->dst, ".snapshots"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	/* only at the top */
	assert_int_equal(lstat(at(d->dst, "sub/.snapshots"), &sb), 0);
}

static void test_treesync_syncs_one_file(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	char src[PATH_MAX * 2], dst[PATH_MAX * 2], msg[256];

	snprintf(src, sizeof(src), "%s/f", d->src);
	snprintf(dst, sizeof(dst), "%s/g", d->root);
	put_random(src, 100000, 4);
	assert_int_equal(chmod(src, 0600), 0);
	assert_int_equal(treesync(src, dst, 0, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.created, 1);
	assert_true(same_tree(src, dst, true));
	patch(src, 70000, 10, 'y');
	assert_int_equal(treesync(src, dst, 0, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.bytes_written, 100000 - 65536);
	assert_true(same_tree(src, dst, true));
	/* a directory is not replaced by a file unless asked */
	assert_int_equal(treesync(src, d->src, 0, NULL, &st, msg, sizeof(msg)), -EISDIR);
	assert_non_null(strstr(msg, "a directory"));
	assert_int_equal(treesync(d->src, dst, 0, NULL, &st, msg, sizeof(msg)), -ENOTDIR);
	assert_int_equal(treesync(d->src, dst, TREESYNC_REPLACE, NULL, &st, msg, sizeof(msg)), 0);
	assert_true(same_tree(d->src, dst, true));
}

static void test_treesync_reports_missing_source(void **state)
{
	struct dirs *d = *state;
	char src[PATH_MAX * 2], expect[PATH_MAX * 3], msg[PATH_MAX * 3];
	struct treesync_stats st;
	struct stat sb;

	snprintf(src, sizeof(src), "%s/missing", d->root);
	assert_int_equal(treesync(src, d->dst, 0, NULL, &st, msg, sizeof(msg)), -ENOENT);
	snprintf(expect, sizeof(expect), "cannot read '%s': No such file or directory", src);
	assert_string_equal(msg, expect);
	assert_int_equal(lstat(d->dst, &sb), -1);
	assert_int_equal(st.created, 0);
}

static void test_treesync_reports_unwritable_destination(void **state)
{
	struct dirs *d = *state;
	char dst[PATH_MAX * 2], msg[PATH_MAX * 3];

	put_str(at(d->src, "f"), "f");
	snprintf(dst, sizeof(dst), "%s/no/such/dir", d->root);
	assert_int_equal(treesync(d->src, dst, 0, NULL, NULL, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, dst));
	assert_non_null(strstr(msg, "No such file or directory"));
}

static void test_treesync_refuses_to_remove_a_mount_point(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	char msg[PATH_MAX * 3], expect[PATH_MAX * 3];
	struct stat sb;

	assert_int_equal(mkdir(d->dst, 0755), 0);
	/* gone/a is listed before gone/z, the tmpfs: nothing of gone may go */
	assert_int_equal(mkdir(at(d->dst, "gone"), 0755), 0);
	put_str(at(d->dst, "gone/a"), "a");
	mount_at(d, at(d->dst, "gone/z"), NULL);
	put_str(at(d->dst, "gone/z/keep"), "precious");
	assert_int_equal(treesync(d->src, d->dst, TREESYNC_DELETE | TREESYNC_REPLACE, NULL, &st,
				  msg, sizeof(msg)), -EXDEV);
	snprintf(expect, sizeof(expect), "cannot remove '%s': it is a mount point, and a sync "
		 "does not cross into other file systems", at(d->dst, "gone/z"));
	assert_string_equal(msg, expect);
	assert_string_equal(file_str(at(d->dst, "gone/z/keep")), "precious");
	assert_int_equal(lstat(at(d->dst, "gone/a"), &sb), 0);
	assert_int_equal(st.removed, 0);

	/* the mount point itself, to be removed or replaced by a file */
	unmount_last(d);
	mount_at(d, at(d->dst, "other"), NULL);
	put_str(at(d->dst, "other/keep"), "precious");
	assert_int_equal(treesync(d->src, d->dst, TREESYNC_DELETE, NULL, &st, msg, sizeof(msg)),
			 -EXDEV);
	assert_non_null(strstr(msg, at(d->dst, "other")));
	assert_int_equal(lstat(at(d->dst, "gone"), &sb), -1);   /* gone came first */
	put_str(at(d->src, "other"), "a file");
	assert_int_equal(treesync(d->src, d->dst, TREESYNC_DELETE | TREESYNC_REPLACE, NULL, &st,
				  msg, sizeof(msg)), -EXDEV);
	assert_non_null(strstr(msg, "is a mount point"));
	assert_string_equal(file_str(at(d->dst, "other/keep")), "precious");

	/* a directory of the source that is a mount point in dst is left alone */
	assert_int_equal(unlink(at(d->src, "other")), 0);
	assert_int_equal(mkdir(at(d->src, "other"), 0700), 0);
	put_str(at(d->src, "other/x"), "x");
	put_str(at(d->src, "y"), "y");
	assert_int_equal(sync_ok(d, TREESYNC_DELETE | TREESYNC_REPLACE, &st), 0);
	assert_int_equal(st.skipped, 1);
	assert_string_equal(file_str(at(d->dst, "other/keep")), "precious");
	assert_int_equal(lstat(at(d->dst, "other/x"), &sb), -1);
	assert_int_equal(lstat(at(d->dst, "other"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0755);
	assert_string_equal(file_str(at(d->dst, "y")), "y");
}

static void test_treesync_refuses_bind_mounts_and_source_mounts(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	char msg[PATH_MAX * 3];
	struct stat sb;

	/* bind mounts of the same file system: the same st_dev, a mount root all the same */
	assert_int_equal(mkdir(at(d->root, "elsewhere"), 0755), 0);
	put_str(at(d->root, "elsewhere/keep"), "precious");
	put_str(at(d->root, "elsewhere-file"), "precious");
	assert_int_equal(mkdir(d->dst, 0755), 0);
	assert_int_equal(mkdir(at(d->dst, "bound"), 0755), 0);
	mount_at(d, at(d->dst, "bound"), at(d->root, "elsewhere"));
	put_str(at(d->dst, "file"), "");
	mount_at(d, at(d->dst, "file"), at(d->root, "elsewhere-file"));
	put_str(at(d->src, "file"), "snapshot");
	assert_int_equal(treesync(d->src, d->dst, TREESYNC_DELETE, NULL, &st, msg, sizeof(msg)),
			 -EXDEV);
	assert_non_null(strstr(msg, at(d->dst, "bound")));
	assert_string_equal(file_str(at(d->root, "elsewhere/keep")), "precious");
	/* the bind-mounted file is left alone, not rewritten */
	assert_int_equal(mkdir(at(d->src, "bound"), 0755), 0);
	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	assert_int_equal(st.skipped, 2);
	assert_string_equal(file_str(at(d->root, "elsewhere-file")), "precious");
	assert_string_equal(file_str(at(d->root, "elsewhere/keep")), "precious");
	unmount_last(d);
	unmount_last(d);

	/* a mount point in the source is not read */
	mount_at(d, at(d->src, "mounted"), NULL);
	put_str(at(d->src, "mounted/f"), "f");
	assert_int_equal(treesync(d->src, d->dst, TREESYNC_DELETE, NULL, &st, msg, sizeof(msg)),
			 -EXDEV);
	assert_non_null(strstr(msg, at(d->src, "mounted")));
	assert_int_equal(lstat(at(d->dst, "mounted"), &sb), -1);
}

static void test_treesync_replaces_a_file_linked_outside_a_partial_sync(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	char src[PATH_MAX * 2], dst[PATH_MAX * 2], msg[PATH_MAX * 3];
	size_t n;
	char **v;

	/* the source: h1/a and h1/b linked; dst: h1/a linked to h2/c, outside what is synced */
	assert_int_equal(mkdir(at(d->src, "h1"), 0755), 0);
	put_str(at(d->src, "h1/a"), "snapshot");
	assert_int_equal(link(at(d->src, "h1/a"), at(d->src, "h1/b")), 0);
	assert_int_equal(mkdir(d->dst, 0755), 0);
	assert_int_equal(mkdir(at(d->dst, "h1"), 0755), 0);
	assert_int_equal(mkdir(at(d->dst, "h2"), 0755), 0);
	put_str(at(d->dst, "h1/a"), "live");
	assert_int_equal(link(at(d->dst, "h1/a"), at(d->dst, "h2/c")), 0);

	snprintf(src, sizeof(src), "%s/h1/a", d->src);
	snprintf(dst, sizeof(dst), "%s/h1/a", d->dst);
	assert_int_equal(treesync(src, dst, TREESYNC_DELETE | TREESYNC_REPLACE, NULL, &st, msg,
				  sizeof(msg)), 0);
	assert_string_equal(file_str(at(d->dst, "h1/a")), "snapshot");
	assert_string_equal(file_str(at(d->dst, "h2/c")), "live");
	assert_int_not_equal(inode_of(at(d->dst, "h1/a")), inode_of(at(d->dst, "h2/c")));
	v = names(at(d->dst, "h1"), &n);     /* no temporary name is left */
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "a");
	free(v[0]);
	free(v);

	/* the same for a directory */
	assert_int_equal(unlink(at(d->dst, "h1/a")), 0);
	assert_int_equal(link(at(d->dst, "h2/c"), at(d->dst, "h1/a")), 0);
	snprintf(src, sizeof(src), "%s/h1", d->src);
	snprintf(dst, sizeof(dst), "%s/h1", d->dst);
	assert_int_equal(treesync(src, dst, TREESYNC_DELETE, NULL, &st, msg, sizeof(msg)), 0);
	assert_string_equal(file_str(at(d->dst, "h2/c")), "live");
	assert_string_equal(file_str(at(d->dst, "h1/b")), "snapshot");
	assert_int_equal(inode_of(at(d->dst, "h1/a")), inode_of(at(d->dst, "h1/b")));
	assert_int_not_equal(inode_of(at(d->dst, "h1/a")), inode_of(at(d->dst, "h2/c")));
}

static void test_treesync_rewrites_a_linked_file_in_place_when_whole(void **state)
{
	struct dirs *d = *state;
	struct treesync_stats st;
	ino_t ino;

	put_random(at(d->src, "x"), 300000, 5);
	assert_int_equal(link(at(d->src, "x"), at(d->src, "y")), 0);
	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	ino = inode_of(at(d->dst, "x"));
	assert_int_equal(ino, inode_of(at(d->dst, "y")));

	/* the whole tree: every name of the file is synced, so it is rewritten where it differs */
	patch(at(d->src, "x"), 70000, 100, 'z');
	assert_int_equal(sync_ok(d, TREESYNC_DELETE | TREESYNC_WHOLE, &st), 0);
	assert_int_equal(st.bytes_written, TREESYNC_BLOCK);
	assert_int_equal(inode_of(at(d->dst, "x")), ino);
	assert_int_equal(inode_of(at(d->dst, "y")), ino);
	assert_true(same_tree(d->src, d->dst, false));

	/* not known to be whole: the linked file is replaced, its links reproduced */
	patch(at(d->src, "x"), 140000, 100, 'w');
	assert_int_equal(sync_ok(d, TREESYNC_DELETE, &st), 0);
	assert_int_equal(st.bytes_written, 300000);
	assert_int_not_equal(inode_of(at(d->dst, "x")), ino);
	assert_int_equal(inode_of(at(d->dst, "x")), inode_of(at(d->dst, "y")));
	assert_true(same_tree(d->src, d->dst, false));

	/* equal files that the source does not link are not left linked, whole or not */
	assert_int_equal(unlink(at(d->src, "y")), 0);
	assert_int_equal(system_fmt("cp -a '%s' '%s'", at(d->src, "x"), at(d->src, "y")), 0);
	assert_int_equal(sync_ok(d, TREESYNC_DELETE | TREESYNC_WHOLE, &st), 0);
	assert_true(same_tree(d->src, d->dst, false));
	assert_int_not_equal(inode_of(at(d->dst, "x")), inode_of(at(d->dst, "y")));
}

/* Make depth directories of 200-character names below dir; the deepest one, opened. */
static int make_deep(const char *dir, int depth)
{
	char name[201];
	int fd = open(dir, O_RDONLY | O_DIRECTORY), next, i;

	memset(name, 'n', 200);
	name[200] = '\0';
	assert_true(fd >= 0);
	for (i = 0; i < depth; i++) {
		assert_int_equal(mkdirat(fd, name, 0755), 0);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		(void)close(fd);
		fd = next;
	}
	return fd;
}

static void test_treesync_links_below_path_max(void **state)
{
	struct dirs *d = *state;
	struct stat a, b;
	char name[201];
	int fd, i, next;

	/* a hard link whose path is longer than PATH_MAX: linked from the directory it is in */
	fd = make_deep(d->src, 25);
	assert_int_equal(close(openat(fd, "one", O_WRONLY | O_CREAT, 0644)), 0);
	assert_int_equal(linkat(fd, "one", fd, "two", 0), 0);
	(void)close(fd);
	assert_int_equal(sync_ok(d, TREESYNC_DELETE, NULL), 0);

	memset(name, 'n', 200);
	name[200] = '\0';
	fd = open(d->dst, O_RDONLY | O_DIRECTORY);
	for (i = 0; i < 25 && fd >= 0; i++) {
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		(void)close(fd);
		fd = next;
	}
	assert_true(fd >= 0);
	assert_int_equal(fstatat(fd, "one", &a, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(fstatat(fd, "two", &b, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	(void)close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_treesync_makes_nested_tree_equal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_treesync_rewrites_only_changed_block, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_treesync_grows_and_shrinks_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_treesync_replaces_changed_types, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_treesync_deletes_extra_only_with_flag, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_treesync_restores_attributes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_treesync_reproduces_hard_links, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_treesync_honours_skip_top, setup, teardown),
		cmocka_unit_test_setup_teardown(test_treesync_syncs_one_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_treesync_reports_missing_source, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_treesync_reports_unwritable_destination,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_treesync_refuses_to_remove_a_mount_point,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_treesync_refuses_bind_mounts_and_source_mounts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_treesync_replaces_a_file_linked_outside_a_partial_sync, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_treesync_rewrites_a_linked_file_in_place_when_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_treesync_links_below_path_max, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
