/*
 * Unit tests of transport.h: a tree with every kind of entry goes out to an export and comes
 * back through the detached store unchanged; damaged, altered and truncated exports are
 * refused with the right message and leave the store as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport.h"

#define ID "0b8e6d8e-4b7c-4d6e-9a3b-2f1c0d9e8a71"
#define ID2 "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
#define ODD_NAME "name with spaces\nand a newline"
#define DATA_MARK "marker-inside-file-data"
#define BIG_SIZE (3u << 20)

struct fixture {
	char base[64];
	char src[128], store[128], file[128];
	char msg[8192];
};

static char path_buf[4][PATH_MAX];

/* base/rel in one of four rotating buffers. */
static const char *at(const char *dir, const char *rel)
{
	static int next;
	char *p = path_buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", dir, rel);
	return p;
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

/* Give path an atime in the future (so reading it leaves it alone) and a fixed mtime. */
static void set_times(const char *path, int i)
{
	struct timespec ts[2] = {
		{ .tv_sec = 4000000000 + i, .tv_nsec = 111111111 * (i % 9) },
		{ .tv_sec = 1300000000 + 1000 * i, .tv_nsec = 987654321 - i },
	};

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void build_tree(const char *src)
{
	static const char *dirs[] = { "a", "a/b", "a/b/c", "sticky", "empty-dir" };
	char *big = malloc(BIG_SIZE);
	size_t i;

	assert_non_null(big);
	assert_int_equal(mkdir(src, 0755), 0);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		assert_int_equal(mkdir(at(src, dirs[i]), 0750), 0);
	for (i = 0; i < BIG_SIZE; i++)
		big[i] = (char)(i * 31 + i / 4096);
	memcpy(big + (1u << 20) + 7, DATA_MARK, strlen(DATA_MARK));
	write_file(at(src, "a/b/c/big"), big, BIG_SIZE);
	free(big);
	write_file(at(src, "empty"), "", 0);
	write_file(at(src, "plainfile"), "plain", 5);
	write_file(at(src, "hard1"), "linked data", 11);
	assert_int_equal(link(at(src, "hard1"), at(src, "a/b/hard2")), 0);
	assert_int_equal(symlink("../empty", at(src, "a/link")), 0);
	assert_int_equal(symlink("/nowhere/at/all", at(src, "a/b/dangling")), 0);
	assert_int_equal(mkfifo(at(src, "fifo"), 0640), 0);
	write_file(at(src, ODD_NAME), "odd", 3);
	write_file(at(src, "suid"), "#!/bin/true\n", 12);
	assert_int_equal(chmod(at(src, "suid"), 04755), 0);
	assert_int_equal(chmod(at(src, "sticky"), 01777), 0);
	assert_int_equal(setxattr(at(src, "a/b/c/big"), "user.x", "value of x", 10, 0), 0);
	assert_int_equal(setxattr(at(src, "a"), "user.dir", "on a directory", 14, 0), 0);
	assert_int_equal(setxattr(at(src, "empty"), "user.empty", "", 0, 0), 0);
	if (geteuid() == 0) {
		assert_int_equal(mknod(at(src, "null"), S_IFCHR | 0666, makedev(1, 3)), 0);
		assert_int_equal(lchown(at(src, "plainfile"), 1234, 5678), 0);
		assert_int_equal(lchown(at(src, "a/link"), 4321, 8765), 0);
		assert_int_equal(chown(at(src, "a/b"), 1111, 2222), 0);
		assert_int_equal(setxattr(at(src, "suid"), "trusted.t", "root only", 9, 0), 0);
	}
	/* the times last, children before their directories */
	set_times(at(src, "a/b/c/big"), 1);
	set_times(at(src, "empty"), 2);
	set_times(at(src, "hard1"), 3);
	set_times(at(src, "a/link"), 4);
	set_times(at(src, "fifo"), 5);
	set_times(at(src, ODD_NAME), 6);
	set_times(at(src, "a/b/c"), 7);
	set_times(at(src, "a/b"), 8);
	set_times(at(src, "a"), 9);
	set_times(at(src, "sticky"), 10);
	set_times(at(src, "plainfile"), 12);
	set_times(at(src, "suid"), 13);
	set_times(at(src, "a/b/dangling"), 14);
	set_times(at(src, "empty-dir"), 15);
	if (geteuid() == 0)
		set_times(at(src, "null"), 16);
	set_times(src, 11);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->base, "/tmp/snapfs-transport.XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->src, sizeof(f->src), "%s/src", f->base);
	snprintf(f->store, sizeof(f->store), "%s/store", f->base);
	snprintf(f->file, sizeof(f->file), "%s/snap.export", f->base);
	build_tree(f->src);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", f->base,
		 f->base);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void meta_for(struct transport_meta *m, const char *id, int64_t created)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->set_id, sizeof(m->set_id), "set-1");
	snprintf(m->browse, sizeof(m->browse), "@GMT-2024.05.06-07.08.09");
	m->created_ns = created;
	snprintf(m->origin, sizeof(m->origin), "/mnt/volume");
	snprintf(m->host, sizeof(m->host), "host.example");
	m->files = 999;         /* ignored: the export counts */
}

struct progress {
	int calls;
	uint64_t last_done, last_total;
	bool backwards;
};

static void note_progress(uint64_t done, uint64_t total, void *ctx)
{
	struct progress *p = ctx;

	if (p->calls && done < p->last_done)
		p->backwards = true;
	p->calls++;
	p->last_done = done;
	p->last_total = total;
}

static void export_tree(struct fixture *f, const char *id, int64_t created, const char *file)
{
	struct transport_meta m;
	struct progress p = { 0 };

	meta_for(&m, id, created);
	assert_int_equal(transport_export(f->src, &m, file, note_progress, &p, f->msg,
					  sizeof(f->msg)), 0);
	assert_true(p.calls >= 1 && p.calls <= 3);
	assert_false(p.backwards);
	assert_int_equal(p.last_done, p.last_total);
	assert_true(p.last_total >= BIG_SIZE);
}

/* The names in dir, sorted and joined by '|' ("" for none or a missing dir). */
static void names_in(const char *dir, char *out, size_t size)
{
	struct dirent **list;
	int n, i;

	out[0] = '\0';
	n = scandir(dir, &list, NULL, alphasort);
	if (n < 0)
		return;
	for (i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0) {
			if (out[0])
				strncat(out, "|", size - strlen(out) - 1);
			strncat(out, list[i]->d_name, size - strlen(out) - 1);
		}
		free(list[i]);
	}
	free(list);
}

/* ---- comparing two trees ---- */

static const char *cmp_src, *cmp_dst;
static int cmp_entries;

/* Whether the xattr name list (n bytes) holds name. */
static bool list_has(const char *list, ssize_t n, const char *name)
{
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (strcmp(list + i, name) == 0)
			return true;
	return false;
}

static void assert_same_xattrs(const char *a, const char *b)
{
	char la[4096], lb[4096], va[512], vb[512];
	ssize_t na = llistxattr(a, la, sizeof(la)), nb = llistxattr(b, lb, sizeof(lb));
	ssize_t i, sa, sb;

	assert_true(na >= 0 && nb >= 0);
	assert_int_equal(na, nb);
	for (i = 0; i < na; i += (ssize_t)strlen(la + i) + 1) {
		assert_true(list_has(lb, nb, la + i));
		sa = lgetxattr(a, la + i, va, sizeof(va));
		sb = lgetxattr(b, la + i, vb, sizeof(vb));
		assert_true(sa >= 0);
		assert_int_equal(sa, sb);
		assert_memory_equal(va, vb, (size_t)sa);
	}
}

static void assert_same_content(const char *a, const char *b)
{
	static char ba[65536], bb[65536];
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	ssize_t na, nb;

	assert_true(fa >= 0 && fb >= 0);
	do {
		na = read(fa, ba, sizeof(ba));
		nb = read(fb, bb, sizeof(bb));
		assert_int_equal(na, nb);
		assert_memory_equal(ba, bb, (size_t)na);
	} while (na > 0);
	close(fa);
	close(fb);
}

static int compare_one(const char *path, const struct stat *sa, int flag, struct FTW *ftw)
{
	const char *rel = path + strlen(cmp_src);
	char other[PATH_MAX], ta[PATH_MAX], tb[PATH_MAX];
	struct stat sb;
	ssize_t n;

	snprintf(other, sizeof(other), "%s%s", cmp_dst, rel);
	assert_int_equal(lstat(other, &sb), 0);
	assert_int_equal(sa->st_mode, sb.st_mode);
	assert_int_equal(sa->st_uid, sb.st_uid);
	assert_int_equal(sa->st_gid, sb.st_gid);
	assert_int_equal(sa->st_nlink, sb.st_nlink);
	assert_int_equal(sa->st_rdev, sb.st_rdev);
	assert_int_equal(sa->st_mtim.tv_sec, sb.st_mtim.tv_sec);
	assert_int_equal(sa->st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
	assert_int_equal(sa->st_atim.tv_sec, sb.st_atim.tv_sec);
	assert_int_equal(sa->st_atim.tv_nsec, sb.st_atim.tv_nsec);
	if (!S_ISDIR(sa->st_mode))
		assert_int_equal(sa->st_size, sb.st_size);
	if (S_ISREG(sa->st_mode))
		assert_same_content(path, other);
	if (S_ISLNK(sa->st_mode)) {
		n = readlink(path, ta, sizeof(ta));
		assert_true(n > 0);
		assert_int_equal(readlink(other, tb, sizeof(tb)), n);
		assert_memory_equal(ta, tb, (size_t)n);
	}
	assert_same_xattrs(path, other);
	cmp_entries++;
	return 0;
}

static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	cmp_entries--;
	return 0;
}

/* Every entry of a matches the one of b (but ino and ctime), and b holds no more. */
static void assert_same_tree(const char *a, const char *b)
{
	cmp_src = a;
	cmp_dst = b;
	cmp_entries = 0;
	assert_int_equal(nftw(a, compare_one, 16, FTW_PHYS), 0);
	assert_true(cmp_entries >= 15);
	assert_int_equal(nftw(b, count_one, 16, FTW_PHYS), 0);
	assert_int_equal(cmp_entries, 0);
}

/* ---- the tests ---- */

static void test_transport_round_trip(void **state)
{
	struct fixture *f = *state;
	struct transport_meta m, got;
	struct progress p = { 0 };
	char tree[PATH_MAX], dir[256], names[256];
	struct stat st;

	export_tree(f, ID, 1700000000123456789LL, f->file);
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	names_in(f->base, names, sizeof(names));
	assert_string_equal(names, "snap.export|src");

	assert_int_equal(transport_read_meta(f->file, &m, f->msg, sizeof(f->msg)), 0);
	assert_string_equal(m.id, ID);
	assert_string_equal(m.set_id, "set-1");
	assert_string_equal(m.browse, "@GMT-2024.05.06-07.08.09");
	assert_int_equal(m.created_ns, 1700000000123456789LL);
	assert_string_equal(m.origin, "/mnt/volume");
	assert_string_equal(m.host, "host.example");
	assert_int_equal(m.files, geteuid() == 0 ? 16 : 15);
	assert_int_equal(m.bytes, BIG_SIZE + 5 + 11 + 3 + 12);

	assert_int_equal(transport_import(f->file, f->store, &got, note_progress, &p, f->msg,
					  sizeof(f->msg)), 0);
	assert_memory_equal(&got, &m, sizeof(m));
	assert_int_equal(p.last_done, m.bytes);
	names_in(f->store, names, sizeof(names));
	assert_string_equal(names, ID);
	snprintf(dir, sizeof(dir), "%s/%s", f->store, ID);
	snprintf(tree, sizeof(tree), "%s/%s/tree", f->store, ID);
	names_in(dir, names, sizeof(names));
	assert_string_equal(names, "info|tree");
	assert_same_tree(f->src, tree);
	assert_int_equal(transport_info_read(dir, &got, f->msg, sizeof(f->msg)), 0);
	assert_memory_equal(&got, &m, sizeof(m));
}

static void test_transport_refuses_second_import(void **state)
{
	struct fixture *f = *state;
	struct transport_meta m;
	char before[256], after[256];

	export_tree(f, ID, 1, f->file);
	assert_int_equal(transport_import(f->file, f->store, &m, NULL, NULL, f->msg,
					  sizeof(f->msg)), 0);
	names_in(at(f->store, ID "/tree"), before, sizeof(before));
	assert_int_equal(transport_import(f->file, f->store, &m, NULL, NULL, f->msg,
					  sizeof(f->msg)), -EEXIST);
	assert_non_null(strstr(f->msg, "already imported"));
	assert_non_null(strstr(f->msg, ID));
	names_in(f->store, after, sizeof(after));
	assert_string_equal(after, ID);
	names_in(at(f->store, ID "/tree"), after, sizeof(after));
	assert_string_equal(after, before);
}

static void test_transport_export_refuses_existing_file(void **state)
{
	struct fixture *f = *state;
	struct transport_meta m;
	char names[256], buf[8];

	write_file(f->file, "keep", 4);
	meta_for(&m, ID, 1);
	assert_int_equal(transport_export(f->src, &m, f->file, NULL, NULL, f->msg,
					  sizeof(f->msg)), -EEXIST);
	assert_non_null(strstr(f->msg, "already exists"));
	assert_int_equal(readlink(f->file, buf, sizeof(buf)), -1);
	names_in(f->base, names, sizeof(names));
	assert_string_equal(names, "snap.export|src");
	/* nor is anything left behind when the tree cannot be read */
	unlink(f->file);
	assert_int_equal(transport_export(at(f->base, "missing"), &m, f->file, NULL, NULL, f->msg,
					  sizeof(f->msg)), -ENOENT);
	assert_non_null(strstr(f->msg, "missing"));
	names_in(f->base, names, sizeof(names));
	assert_string_equal(names, "src");
	/* and metadata that would make a bad directory name is refused */
	snprintf(m.id, sizeof(m.id), "../evil");
	assert_int_equal(transport_export(f->src, &m, f->file, NULL, NULL, f->msg,
					  sizeof(f->msg)), -EINVAL);
}

/* A write that fails half-way (the file size limit) leaves nothing behind. */
static void test_transport_cleans_up_after_write_failure(void **state)
{
	struct fixture *f = *state;
	struct rlimit saved, small = { .rlim_cur = 1u << 20 };
	struct transport_meta m;
	char names[256];

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small.rlim_max = saved.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	meta_for(&m, ID, 1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(transport_export(f->src, &m, f->file, NULL, NULL, f->msg,
					  sizeof(f->msg)), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	assert_non_null(strstr(f->msg, "cannot write"));
	names_in(f->base, names, sizeof(names));
	assert_string_equal(names, "src");

	export_tree(f, ID, 1, f->file);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(transport_import(f->file, f->store, &m, NULL, NULL, f->msg,
					  sizeof(f->msg)), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	assert_non_null(strstr(f->msg, "cannot write 'a/b/c/big'"));
	names_in(f->store, names, sizeof(names));
	assert_string_equal(names, "");
	signal(SIGXFSZ, SIG_DFL);
}

/* The whole export file, and its size. */
static char *slurp(const char *path, size_t *ret_size)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*ret_size = (size_t)st.st_size;
	return buf;
}

/* Import data (size bytes) written as a file: must fail with -EBADMSG and a message holding
 * want, leaving the store without an entry. */
static void assert_refused(struct fixture *f, const char *data, size_t size, const char *want)
{
	char bad[160], names[256];
	struct transport_meta m;
	int r;

	snprintf(bad, sizeof(bad), "%s/bad.export", f->base);
	unlink(bad);
	write_file(bad, data, size);
	r = transport_import(bad, f->store, &m, NULL, NULL, f->msg, sizeof(f->msg));
	if (r != -EBADMSG || !strstr(f->msg, want))
		fail_msg("size %zu: r=%d, message \"%s\", wanted \"%s\"", size, r, f->msg, want);
	assert_non_null(strstr(f->msg, bad));
	names_in(f->store, names, sizeof(names));
	assert_string_equal(names, "");
}

static void test_transport_refuses_truncated(void **state)
{
	struct fixture *f = *state;
	size_t size, cuts[9], i;
	char *data;

	export_tree(f, ID, 1, f->file);
	data = slurp(f->file, &size);
	cuts[0] = 1;                    /* inside the magic */
	cuts[1] = 20;                   /* inside version and length */
	cuts[2] = 40;                   /* inside the header */
	cuts[3] = 150;                  /* inside the header checksum or the first record */
	cuts[4] = 400;                  /* among the first records */
	cuts[5] = (char *)memmem(data, size, DATA_MARK, strlen(DATA_MARK)) - data;
	cuts[6] = size - 40;            /* inside the trailer's counts */
	cuts[7] = size - 20;            /* inside the trailer's checksum */
	cuts[8] = size - 1;
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		assert_refused(f, data, cuts[i], "is truncated");
	/* a header cut short is refused by read_meta too, and an empty file is no export */
	write_file(f->file, data, 40);
	assert_int_equal(transport_read_meta(f->file, &(struct transport_meta){ 0 }, f->msg,
					     sizeof(f->msg)), -EBADMSG);
	assert_non_null(strstr(f->msg, "is truncated"));
	write_file(f->file, "", 0);
	assert_int_equal(transport_read_meta(f->file, &(struct transport_meta){ 0 }, f->msg,
					     sizeof(f->msg)), -EBADMSG);
	assert_non_null(strstr(f->msg, "is not a snapshot export"));
	free(data);
}

static void test_transport_refuses_altered(void **state)
{
	struct fixture *f = *state;
	size_t size, pos;
	char *data, *p;

	export_tree(f, ID, 1, f->file);
	data = slurp(f->file, &size);

	/* a byte of file data */
	p = memmem(data, size, DATA_MARK, strlen(DATA_MARK));
	assert_non_null(p);
	pos = (size_t)(p - data) + 3;
	data[pos] ^= 0x01;
	assert_refused(f, data, size, "is damaged or was altered: its checksum does not match");
	data[pos] ^= 0x01;

	/* a byte of a path: still a valid path, so the checksum finds it */
	p = memmem(data, size, "plainfile", 9);
	assert_non_null(p);
	pos = (size_t)(p - data) + 2;
	data[pos] ^= 0x01;
	assert_refused(f, data, size, "is damaged or was altered: its checksum does not match");
	data[pos] ^= 0x01;
	/* a path through a symlink extracted before it */
	memcpy(p, "a/link/xx", 9);
	assert_refused(f, data, size, "'a/link', not a directory extracted before it");
	memcpy(p, "plainfile", 9);
	/* a path turned absolute or into '..' is refused before anything is written */
	p = memmem(data, size, "a/b/c/big", 9);
	assert_non_null(p);
	memcpy(p, "a/b/../..", 9);
	assert_refused(f, data, size, "is damaged or was altered: entry");
	memcpy(p, "a/b/c/big", 9);
	p[0] = '/';
	assert_refused(f, data, size, "has an invalid path");
	p[0] = 'a';

	/* a byte of the trailer's checksum, and of its counts */
	data[size - 5] ^= 0x80;
	assert_refused(f, data, size, "is damaged or was altered: its checksum does not match "
				      "(expected");
	data[size - 5] ^= 0x80;
	data[size - 40] ^= 0x01;
	assert_refused(f, data, size, "is damaged or was altered");
	data[size - 40] ^= 0x01;

	/* a byte of the header */
	p = memmem(data, size, "host.example", 12);
	assert_non_null(p);
	p[0] ^= 0x01;
	assert_refused(f, data, size, "its header checksum does not match");
	p[0] ^= 0x01;

	/* bytes after the end */
	p = malloc(size + 1);
	assert_non_null(p);
	memcpy(p, data, size);
	p[size] = 'x';
	assert_refused(f, p, size + 1, "is damaged or was altered");
	free(p);

	/* and the unaltered copy still goes in */
	assert_int_equal(transport_import(f->file, f->store, &(struct transport_meta){ 0 }, NULL,
					  NULL, f->msg, sizeof(f->msg)), 0);
	free(data);
}

static void test_transport_store_list(void **state)
{
	struct fixture *f = *state;
	struct transport_meta *list, m;
	char second[160];
	size_t n;

	assert_int_equal(transport_store_list(f->store, &list, &n, f->msg, sizeof(f->msg)), 0);
	assert_int_equal(n, 0);
	assert_null(list);

	snprintf(second, sizeof(second), "%s/second.export", f->base);
	export_tree(f, ID, 2000, f->file);
	export_tree(f, ID2, 1000, second);
	assert_int_equal(transport_import(f->file, f->store, &m, NULL, NULL, f->msg,
					  sizeof(f->msg)), 0);
	assert_int_equal(transport_import(second, f->store, &m, NULL, NULL, f->msg,
					  sizeof(f->msg)), 0);
	/* not snapshots: a dot-entry, a directory without info, one whose info names another */
	assert_int_equal(mkdir(at(f->store, ".import-leftover"), 0700), 0);
	assert_int_equal(mkdir(at(f->store, "junk"), 0700), 0);
	assert_int_equal(mkdir(at(f->store, "other"), 0700), 0);
	meta_for(&m, ID, 5);
	assert_int_equal(transport_info_write(at(f->store, "other"), &m, f->msg, sizeof(f->msg)),
			 0);

	assert_int_equal(transport_store_list(f->store, &list, &n, f->msg, sizeof(f->msg)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, ID2);
	assert_int_equal(list[0].created_ns, 1000);
	assert_string_equal(list[1].id, ID);
	assert_int_equal(list[1].created_ns, 2000);
	assert_string_equal(list[1].host, "host.example");
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transport_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_refuses_second_import, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_transport_export_refuses_existing_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_transport_cleans_up_after_write_failure,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_refuses_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_refuses_altered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_store_list, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
