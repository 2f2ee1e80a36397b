/*
 * treesync.c owns making one tree equal to another with plain system calls (no engine, no
 * catalog): what changes in the destination is only what differs, so that on a snapfs mount
 * the copy-on-write engine preserves just that for the other snapshots.
 *
 * Decisions:
 * - Everything is reached with *at() calls relative to directory descriptors, with
 *   O_NOFOLLOW / AT_SYMLINK_NOFOLLOW: no symlink is followed in either tree. xattrs, which
 *   have no *at() calls, go through /proc/self/fd/DIRFD/NAME with the l*xattr() calls.
 * - Files are compared in TREESYNC_BLOCK blocks and only differing blocks are written; data is
 *   streamed through two block buffers, never loaded whole. A new file's zero blocks are left
 *   as holes (the final ftruncate() sets the size).
 * - Attributes are set after the data (a write clears security.capability), owner before
 *   mode (chown clears set-id bits), xattrs before mode, times last; a directory's after its
 *   children. Nothing is rewritten that is equal already.
 * - An entry of another type (or a device of another number) is removed, recursively, and made
 *   anew. Hard links: the first destination of each multiply-linked source file is kept in a
 *   table by the source's (dev, ino), and the later names are linked to it. A destination file
 *   with links of its own that the source does not share is replaced by a file of its own
 *   before it is rewritten, so that the rewrite does not reach its other names.
 * - The first failure ends the call; the destination is then partly synced.
 */
#include "treesync.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* A path being walked, for messages and hard links: grows and shrinks by one name at a time. */
struct path {
	char *s;
	size_t len, cap;
};

/* The first destination of a source file with several links. */
struct link {
	dev_t sdev;
	ino_t sino;
	dev_t ddev;
	ino_t dino;
	char *path;
};

/* The links, with two open-addressing tables of index + 1 (0: free), by source and by dst. */
struct links {
	struct link *v;
	size_t n, cap;
	size_t *by_src, *by_dst;
	size_t slots;           /* a power of two, or 0 */
};

struct sync {
	unsigned flags;
	const char *const *skip_top;
	struct treesync_stats *st;
	char *msg;
	size_t msglen;
	char *sbuf, *dbuf;      /* TREESYNC_BLOCK each */
	struct path spath, dpath;
	struct links links;
};

/* Set the message "cannot WHAT 'PATH': CAUSE" and return r. */
static int fail(struct sync *s, int r, const char *what, const struct path *p)
{
	snprintf(s->msg, s->msglen, "cannot %s '%s': %s", what, p->s, strerror(-r));
	return r;
}

/* Append "/name" to p; *ret_old receives the length to restore with path_pop(). */
static int path_push(struct path *p, const char *name, size_t *ret_old)
{
	size_t n = strlen(name), need = p->len + 1 + n + 1;

	if (need > p->cap) {
		size_t cap = p->cap ? p->cap : 256;
		char *s;

		while (cap < need)
			cap *= 2;
		s = realloc(p->s, cap);
		if (!s)
			return -ENOMEM;
		p->s = s;
		p->cap = cap;
	}
	*ret_old = p->len;
	p->s[p->len++] = '/';
	memcpy(p->s + p->len, name, n + 1);
	p->len += n;
	return 0;
}

static void path_pop(struct path *p, size_t old)
{
	p->len = old;
	p->s[old] = '\0';
}

/* p = str (p is empty). */
static int path_set(struct path *p, const char *str)
{
	p->s = strdup(str);
	if (!p->s)
		return -ENOMEM;
	p->len = strlen(str);
	p->cap = p->len + 1;
	return 0;
}

static size_t hash_key(dev_t dev, ino_t ino, size_t slots)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;

	return (size_t)(h ^ (h >> 29)) & (slots - 1);
}

/* Place link i in both tables (which have room). */
static void links_place(struct links *l, size_t i)
{
	size_t h = hash_key(l->v[i].sdev, l->v[i].sino, l->slots);

	while (l->by_src[h])
		h = (h + 1) & (l->slots - 1);
	l->by_src[h] = i + 1;
	h = hash_key(l->v[i].ddev, l->v[i].dino, l->slots);
	while (l->by_dst[h])
		h = (h + 1) & (l->slots - 1);
	l->by_dst[h] = i + 1;
}

/* The link of source file (dev, ino), or of destination file (dev, ino) when by_dst; or NULL. */
static struct link *links_find(const struct links *l, bool by_dst, dev_t dev, ino_t ino)
{
	const size_t *t = by_dst ? l->by_dst : l->by_src;
	size_t h;

	if (!l->slots)
		return NULL;
	for (h = hash_key(dev, ino, l->slots); t[h]; h = (h + 1) & (l->slots - 1)) {
		struct link *k = &l->v[t[h] - 1];

		if (by_dst ? k->ddev == dev && k->dino == ino : k->sdev == dev && k->sino == ino)
			return k;
	}
	return NULL;
}

/* Record that source file ss first went to dst file ds at path. */
static int links_add(struct links *l, const struct stat *ss, const struct stat *ds,
		     const char *path)
{
	struct link *k;
	size_t i;

	if ((l->n + 1) * 2 > l->slots) {
		size_t slots = l->slots ? l->slots * 2 : 64;
		size_t *a = calloc(slots, sizeof(*a)), *b = calloc(slots, sizeof(*b));

		if (!a || !b) {
			free(a);
			free(b);
			return -ENOMEM;
		}
		free(l->by_src);
		free(l->by_dst);
		l->by_src = a;
		l->by_dst = b;
		l->slots = slots;
		for (i = 0; i < l->n; i++)
			links_place(l, i);
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;

		k = realloc(l->v, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		l->v = k;
		l->cap = cap;
	}
	k = &l->v[l->n];
	k->path = strdup(path);
	if (!k->path)
		return -ENOMEM;
	k->sdev = ss->st_dev;
	k->sino = ss->st_ino;
	k->ddev = ds->st_dev;
	k->dino = ds->st_ino;
	links_place(l, l->n++);
	return 0;
}

static void links_release(struct links *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	free(l->by_src);
	free(l->by_dst);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * The names in directory dirfd (without "." and ".."), sorted, in *ret (the caller frees it
 * with free_names()). dirfd keeps its offset: the listing reads a descriptor of its own.
 */
static int list_names(int dirfd, char ***ret, size_t *ret_n)
{
	char **v = NULL, **nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	(void)closedir(d);
	if (r < 0) {
		free_names(v, n);
		return r;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool has_name(char **v, size_t n, const char *name)
{
	return n && bsearch(&name, v, n, sizeof(*v), cmp_names) != NULL;
}

static bool is_skipped(const struct sync *s, bool top, const char *name)
{
	const char *const *k;

	if (!top || !s->skip_top)
		return false;
	for (k = s->skip_top; *k; k++) {
		if (strcmp(*k, name) == 0)
			return true;
	}
	return false;
}

/*
 * Remove the entry name of dirfd (whose path is s->dpath), recursively, without following
 * symlinks; counts each entry removed.
 */
static int remove_entry(struct sync *s, int dirfd, const char *name)
{
	struct stat st;
	char **v;
	size_t n, i, old;
	int fd, r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(s, -errno, "remove", &s->dpath);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0)
			return fail(s, -errno, "remove", &s->dpath);
		if (s->st)
			s->st->removed++;
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(s, -errno, "open", &s->dpath);
	r = list_names(fd, &v, &n);
	if (r < 0) {
		(void)close(fd);
		return fail(s, r, "list", &s->dpath);
	}
	for (i = 0; i < n && r >= 0; i++) {
		r = path_push(&s->dpath, v[i], &old);
		if (r < 0)
			break;
		r = remove_entry(s, fd, v[i]);
		path_pop(&s->dpath, old);
	}
	free_names(v, n);
	(void)close(fd);
	if (r < 0)
		return r == -ENOMEM ? fail(s, r, "remove", &s->dpath) : r;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		return fail(s, -errno, "remove", &s->dpath);
	if (s->st)
		s->st->removed++;
	return 0;
}

/* pread until size bytes or the end of the file; the count read, or a negative errno. */
static ssize_t read_full(int fd, char *buf, size_t size, off_t off)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = pread(fd, buf + done, size - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int write_full(int fd, const char *buf, size_t size, off_t off)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = pwrite(fd, buf + done, size - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static bool is_zero(const char *buf, size_t n)
{
	return n == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, n - 1) == 0);
}

/*
 * Make the file dname of ddir hold the bytes of sname of sdir: created (mode 0600 until the
 * attributes are set) unless exists, else rewritten block by block where it differs and cut
 * or extended to the source's size. *changed tells whether anything was written.
 */
static int sync_data(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		     bool exists, bool *changed)
{
	struct stat ds;
	off_t off = 0;
	ssize_t n, m;
	int sfd, dfd, r = 0;

	sfd = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return fail(s, -errno, "open", &s->spath);
	if (exists)
		dfd = openat(ddir, dname, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	else
		dfd = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     0600);
	if (dfd < 0) {
		r = fail(s, -errno, exists ? "open" : "create", &s->dpath);
		goto out_close_sfd;
	}
	if (fstat(dfd, &ds) < 0) {
		r = fail(s, -errno, "read", &s->dpath);
		goto out_close_dfd;
	}
	for (;; off += n) {
		n = read_full(sfd, s->sbuf, TREESYNC_BLOCK, off);
		if (n < 0) {
			r = fail(s, (int)n, "read", &s->spath);
			goto out_close_dfd;
		}
		if (n == 0)
			break;
		if (off < ds.st_size) {
			m = read_full(dfd, s->dbuf, (size_t)n, off);
			if (m < 0) {
				r = fail(s, (int)m, "read", &s->dpath);
				goto out_close_dfd;
			}
			if (m == n && memcmp(s->sbuf, s->dbuf, (size_t)n) == 0)
				continue;
		} else if (is_zero(s->sbuf, (size_t)n)) {
			continue;       /* past dst's end: the ftruncate below makes the zeros */
		}
		r = write_full(dfd, s->sbuf, (size_t)n, off);
		if (r < 0) {
			r = fail(s, r, "write", &s->dpath);
			goto out_close_dfd;
		}
		*changed = true;
		if (s->st)
			s->st->bytes_written += (uint64_t)n;
	}
	if (off != ds.st_size || !exists) {
		if (ftruncate(dfd, off) < 0) {
			r = fail(s, -errno, "truncate", &s->dpath);
			goto out_close_dfd;
		}
		*changed = true;
	}
out_close_dfd:
	if (close(dfd) < 0 && r == 0)
		r = fail(s, -errno, "write", &s->dpath);
out_close_sfd:
	(void)close(sfd);
	return r;
}

/* Whether the xattr name is one that is copied. */
static bool is_copied_xattr(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strncmp(name, "security.", 9) == 0 ||
	       strncmp(name, "trusted.", 8) == 0 || strcmp(name, "system.posix_acl_access") == 0 ||
	       strcmp(name, "system.posix_acl_default") == 0;
}

/*
 * The value (list when name is NULL) of path's xattr name, in *buf (grown as needed) and
 * *ret_len; 0, -ENODATA when it has none, or another negative errno. A file system without
 * xattrs gives an empty list.
 */
static int get_xattr(const char *path, const char *name, char **buf, size_t *cap,
		     size_t *ret_len)
{
	if (!*buf) {
		*buf = malloc(256);
		if (!*buf)
			return -ENOMEM;
		*cap = 256;
	}
	for (;;) {
		ssize_t n = name ? lgetxattr(path, name, *buf, *cap) : llistxattr(path, *buf, *cap);
		char *nb;

		if (n >= 0) {
			*ret_len = (size_t)n;
			return 0;
		}
		if (!name && (errno == ENOTSUP || errno == ENOSYS)) {
			*ret_len = 0;
			return 0;
		}
		if (errno != ERANGE)
			return -errno;
		n = name ? lgetxattr(path, name, NULL, 0) : llistxattr(path, NULL, 0);
		if (n < 0)
			return -errno;
		nb = realloc(*buf, (size_t)n + 64);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = (size_t)n + 64;
	}
}

/* Whether the NUL-separated list (len bytes) holds name. */
static bool list_has(const char *list, size_t len, const char *name)
{
	const char *p;

	for (p = list; p < list + len; p += strlen(p) + 1) {
		if (strcmp(p, name) == 0)
			return true;
	}
	return false;
}

/* Make the copied xattrs of dname in ddir those of sname in sdir; *changed if any changed. */
static int sync_xattrs(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		       bool *changed)
{
	char sp[64 + NAME_MAX], dp[64 + NAME_MAX];
	char *slist = NULL, *dlist = NULL, *sval = NULL, *dval = NULL;
	size_t slcap = 0, dlcap = 0, svcap = 0, dvcap = 0, slen, dlen, svlen, dvlen;
	const char *name;
	int r;

	snprintf(sp, sizeof(sp), "/proc/self/fd/%d/%s", sdir, sname);
	snprintf(dp, sizeof(dp), "/proc/self/fd/%d/%s", ddir, dname);
	r = get_xattr(sp, NULL, &slist, &slcap, &slen);
	if (r < 0) {
		r = fail(s, r, "list the xattrs of", &s->spath);
		goto out;
	}
	r = get_xattr(dp, NULL, &dlist, &dlcap, &dlen);
	if (r < 0) {
		r = fail(s, r, "list the xattrs of", &s->dpath);
		goto out;
	}
	for (name = slist; name < slist + slen; name += strlen(name) + 1) {
		if (!is_copied_xattr(name))
			continue;
		r = get_xattr(sp, name, &sval, &svcap, &svlen);
		if (r == -ENODATA)
			continue;       /* gone since the listing */
		if (r < 0) {
			r = fail(s, r, "read the xattrs of", &s->spath);
			goto out;
		}
		if (list_has(dlist, dlen, name)) {
			r = get_xattr(dp, name, &dval, &dvcap, &dvlen);
			if (r < 0 && r != -ENODATA) {
				r = fail(s, r, "read the xattrs of", &s->dpath);
				goto out;
			}
			if (r == 0 && dvlen == svlen && memcmp(sval, dval, svlen) == 0)
				continue;
		}
		if (lsetxattr(dp, name, sval, svlen, 0) < 0) {
			r = fail(s, -errno, "set the xattrs of", &s->dpath);
			goto out;
		}
		*changed = true;
	}
	for (name = dlist; name < dlist + dlen; name += strlen(name) + 1) {
		if (!is_copied_xattr(name) || list_has(slist, slen, name))
			continue;
		if (lremovexattr(dp, name) < 0 && errno != ENODATA) {
			r = fail(s, -errno, "remove the xattrs of", &s->dpath);
			goto out;
		}
		*changed = true;
	}
	r = 0;
out:
	free(slist);
	free(dlist);
	free(sval);
	free(dval);
	return r;
}

/* Give dname of ddir the owner, xattrs, mode and times in ss (of sname in sdir). */
static int sync_attrs(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		      const struct stat *ss, bool *changed)
{
	struct stat ds;
	int r;

	if (fstatat(ddir, dname, &ds, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(s, -errno, "read", &s->dpath);
	if (ds.st_uid != ss->st_uid || ds.st_gid != ss->st_gid) {
		if (fchownat(ddir, dname, ss->st_uid, ss->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(s, -errno, "set the owner of", &s->dpath);
		*changed = true;
	}
	r = sync_xattrs(s, sdir, sname, ddir, dname, changed);
	if (r < 0)
		return r;
	if (fstatat(ddir, dname, &ds, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(s, -errno, "read", &s->dpath);
	if (!S_ISLNK(ss->st_mode) && (ds.st_mode & 07777) != (ss->st_mode & 07777)) {
		/* not a symlink (it has just been made or checked so): fchmodat cannot follow */
		if (fchmodat(ddir, dname, ss->st_mode & 07777, 0) < 0)
			return fail(s, -errno, "set the mode of", &s->dpath);
		*changed = true;
	}
	if (ds.st_atim.tv_sec != ss->st_atim.tv_sec || ds.st_atim.tv_nsec != ss->st_atim.tv_nsec ||
	    ds.st_mtim.tv_sec != ss->st_mtim.tv_sec || ds.st_mtim.tv_nsec != ss->st_mtim.tv_nsec) {
		struct timespec ts[2] = { ss->st_atim, ss->st_mtim };

		if (utimensat(ddir, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(s, -errno, "set the times of", &s->dpath);
		*changed = true;
	}
	return 0;
}

static int sync_entry(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		      bool top);

/* Sync the directory sfd into dfd (the paths are s->spath, s->dpath); top: the roots. */
static int sync_dir(struct sync *s, int sfd, int dfd, bool top)
{
	char **sv = NULL, **dv = NULL;
	size_t sn = 0, dn = 0, i, sold, dold;
	int r;

	r = list_names(sfd, &sv, &sn);
	if (r < 0)
		return fail(s, r, "list", &s->spath);
	r = list_names(dfd, &dv, &dn);
	if (r < 0) {
		r = fail(s, r, "list", &s->dpath);
		goto out;
	}
	for (i = 0; i < dn && (s->flags & TREESYNC_DELETE); i++) {
		if (is_skipped(s, top, dv[i]) || has_name(sv, sn, dv[i]))
			continue;
		r = path_push(&s->dpath, dv[i], &dold);
		if (r < 0)
			goto out_nomem;
		r = remove_entry(s, dfd, dv[i]);
		path_pop(&s->dpath, dold);
		if (r < 0)
			goto out;
	}
	for (i = 0; i < sn; i++) {
		if (is_skipped(s, top, sv[i]))
			continue;
		r = path_push(&s->spath, sv[i], &sold);
		if (r < 0)
			goto out_nomem;
		r = path_push(&s->dpath, sv[i], &dold);
		if (r < 0) {
			path_pop(&s->spath, sold);
			goto out_nomem;
		}
		r = sync_entry(s, sfd, sv[i], dfd, sv[i], false);
		path_pop(&s->dpath, dold);
		path_pop(&s->spath, sold);
		if (r < 0)
			goto out;
	}
	r = 0;
	goto out;
out_nomem:
	r = fail(s, r, "sync", &s->dpath);
out:
	free_names(sv, sn);
	free_names(dv, dn);
	return r;
}

/* Whether an entry like ds can be made equal to ss in place. */
static bool is_same_kind(const struct stat *ss, const struct stat *ds)
{
	if ((ss->st_mode & S_IFMT) != (ds->st_mode & S_IFMT))
		return false;
	return !(S_ISCHR(ss->st_mode) || S_ISBLK(ss->st_mode)) || ss->st_rdev == ds->st_rdev;
}

/* Make dname's symlink target sname's; *changed when it was made anew. */
static int sync_symlink(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
			bool exists, bool *changed)
{
	char st[PATH_MAX + 1], dt[PATH_MAX + 1];
	ssize_t sn, dn;
	int r;

	sn = readlinkat(sdir, sname, st, sizeof(st) - 1);
	if (sn < 0)
		return fail(s, -errno, "read", &s->spath);
	st[sn] = '\0';
	if (exists) {
		dn = readlinkat(ddir, dname, dt, sizeof(dt) - 1);
		if (dn < 0)
			return fail(s, -errno, "read", &s->dpath);
		if (dn == sn && memcmp(st, dt, (size_t)sn) == 0)
			return 0;
		if (unlinkat(ddir, dname, 0) < 0)
			return fail(s, -errno, "remove", &s->dpath);
		*changed = true;
	}
	r = symlinkat(st, ddir, dname);
	if (r < 0)
		return fail(s, -errno, "create", &s->dpath);
	return 0;
}

/*
 * Make the entry dname of ddir equal to sname of sdir (paths s->dpath, s->spath); top: the
 * roots, where a change of kind is refused without TREESYNC_REPLACE.
 */
static int sync_entry(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		      bool top)
{
	struct stat ss, ds;
	struct link *l;
	bool exists, keep, created, changed = false;
	int r, sfd, dfd;

	if (fstatat(sdir, sname, &ss, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(s, -errno, "read", &s->spath);
	exists = fstatat(ddir, dname, &ds, AT_SYMLINK_NOFOLLOW) == 0;
	if (!exists && errno != ENOENT)
		return fail(s, -errno, "read", &s->dpath);
	if (exists && top && !(s->flags & TREESYNC_REPLACE) &&
	    S_ISDIR(ss.st_mode) != S_ISDIR(ds.st_mode)) {
		snprintf(s->msg, s->msglen, "cannot sync '%s' onto '%s': %s", s->spath.s,
			 s->dpath.s, S_ISDIR(ss.st_mode) ? "not a directory" : "a directory");
		return S_ISDIR(ss.st_mode) ? -ENOTDIR : -EISDIR;
	}
	if (S_ISREG(ss.st_mode) && ss.st_nlink > 1) {
		l = links_find(&s->links, false, ss.st_dev, ss.st_ino);
		if (l && exists && ds.st_dev == l->ddev && ds.st_ino == l->dino) {
			if (s->st)
				s->st->unchanged++;
			return 0;
		}
		if (l) {
			if (exists && (r = remove_entry(s, ddir, dname)) < 0)
				return r;
			if (linkat(AT_FDCWD, l->path, ddir, dname, 0) < 0)
				return fail(s, -errno, "link", &s->dpath);
			if (s->st)
				s->st->created++;
			return 0;
		}
	}
	keep = exists && is_same_kind(&ss, &ds);
	/* a dst file whose other names the source does not share is not rewritten in place */
	if (keep && S_ISREG(ss.st_mode) && ds.st_nlink > 1 &&
	    (ss.st_nlink == 1 || links_find(&s->links, true, ds.st_dev, ds.st_ino)))
		keep = false;
	if (exists && !keep && (r = remove_entry(s, ddir, dname)) < 0)
		return r;
	exists = keep;
	created = !keep;

	switch (ss.st_mode & S_IFMT) {
	case S_IFDIR:
		if (!exists && mkdirat(ddir, dname, 0700) < 0)
			return fail(s, -errno, "create", &s->dpath);
		sfd = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return fail(s, -errno, "open", &s->spath);
		dfd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0) {
			r = fail(s, -errno, "open", &s->dpath);
			(void)close(sfd);
			return r;
		}
		r = sync_dir(s, sfd, dfd, top);
		(void)close(dfd);
		(void)close(sfd);
		break;
	case S_IFREG:
		r = sync_data(s, sdir, sname, ddir, dname, exists, &changed);
		break;
	case S_IFLNK:
		r = sync_symlink(s, sdir, sname, ddir, dname, exists, &changed);
		break;
	default:
		r = 0;
		if (!exists && mknodat(ddir, dname, (ss.st_mode & S_IFMT) | 0600, ss.st_rdev) < 0)
			r = fail(s, -errno, "create", &s->dpath);
		break;
	}
	if (r < 0)
		return r;
	r = sync_attrs(s, sdir, sname, ddir, dname, &ss, &changed);
	if (r < 0)
		return r;
	if (S_ISREG(ss.st_mode) && ss.st_nlink > 1) {
		if (fstatat(ddir, dname, &ds, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(s, -errno, "read", &s->dpath);
		r = links_add(&s->links, &ss, &ds, s->dpath.s);
		if (r < 0)
			return fail(s, r, "sync", &s->dpath);
	}
	if (s->st) {
		if (created)
			s->st->created++;
		else if (changed)
			s->st->updated++;
		else
			s->st->unchanged++;
	}
	return 0;
}

/*
 * Split path into the directory that holds it (opened, in *ret_fd) and its last name (in
 * name): "a/b/" gives "a" and "b", "b" gives "." and "b", "/" gives "/" and ".".
 */
static int open_parent(const char *path, int *ret_fd, char *name, size_t size)
{
	char dir[PATH_MAX];
	size_t len = strlen(path);
	const char *slash;
	int fd;

	if (len == 0 || len >= sizeof(dir))
		return len ? -ENAMETOOLONG : -ENOENT;
	memcpy(dir, path, len + 1);
	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = '\0';
	slash = strrchr(dir, '/');
	if (strcmp(dir, "/") == 0) {
		snprintf(name, size, ".");
	} else if (!slash) {
		if (len >= size)
			return -ENAMETOOLONG;
		memcpy(name, dir, len + 1);
		snprintf(dir, sizeof(dir), ".");
	} else {
		if (strlen(slash + 1) >= size)
			return -ENAMETOOLONG;
		snprintf(name, size, "%s", slash + 1);
		dir[slash == dir ? 1 : slash - dir] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int treesync(const char *src, const char *dst, unsigned flags, const char *const *skip_top,
	     struct treesync_stats *st, char *msg, size_t msglen)
{
	struct sync s = {
		.flags = flags, .skip_top = skip_top, .st = st, .msg = msg, .msglen = msglen,
	};
	char sname[NAME_MAX + 1], dname[NAME_MAX + 1];
	int sdir, ddir, r;

	if (st)
		memset(st, 0, sizeof(*st));
	s.sbuf = malloc(TREESYNC_BLOCK);
	s.dbuf = malloc(TREESYNC_BLOCK);
	if (!s.sbuf || !s.dbuf || path_set(&s.spath, src) < 0 || path_set(&s.dpath, dst) < 0) {
		r = -ENOMEM;
		snprintf(msg, msglen, "cannot sync '%s': %s", dst, strerror(-r));
		goto out_free;
	}
	r = open_parent(src, &sdir, sname, sizeof(sname));
	if (r < 0) {
		r = fail(&s, r, "read", &s.spath);
		goto out_free;
	}
	r = open_parent(dst, &ddir, dname, sizeof(dname));
	if (r < 0) {
		snprintf(msg, msglen, "cannot open the directory of '%s': %s", dst, strerror(-r));
		goto out_close_sdir;
	}
	r = sync_entry(&s, sdir, sname, ddir, dname, true);
	(void)close(ddir);
out_close_sdir:
	(void)close(sdir);
out_free:
	links_release(&s.links);
	free(s.spath.s);
	free(s.dpath.s);
	free(s.sbuf);
	free(s.dbuf);
	return r;
}
