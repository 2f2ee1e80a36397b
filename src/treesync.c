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
 *   table by the source's (dev, ino), with its path from the directory that holds dst, and the
 *   later names are linked to it from its own directory, reached one O_NOFOLLOW component at a
 *   time (a full path could pass through a symlink, or exceed PATH_MAX).
 * - A destination file with several links is rewritten in place only when the sync is of a
 *   whole tree (TREESYNC_WHOLE), where every other name is synced too, and the source shares
 *   the links; otherwise it is replaced: a new file is written beside it under a temporary
 *   name and renamed over it, so no other name sees the change and the name never goes
 *   missing.
 * - No mount point inside either tree is crossed. An entry is a mount point when statx()
 *   says it is a mount's root (STATX_ATTR_MOUNT_ROOT, which also finds bind mounts of the same
 *   file system and bind-mounted files), or when it is a directory on another device than the
 *   top: only directories, since overlayfs may give files the device of the layer they are on.
 *   Before an entry is removed, its whole subtree is scanned for mount points, so a refusal
 *   comes before anything of it is gone; the removal itself checks again.
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

#include "dirnames.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x2000    /* the kernel's value (5.8), for older headers */
#endif

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
	dev_t sdev, ddev;       /* the devices of the top src and dst directories */
	int dtop;               /* the directory that holds dst, where the links' paths start */
	const char *dtop_name;  /* dst's name in it */
	size_t dtop_len;        /* the length of dst's path: dpath.s + dtop_len is below it */
	unsigned tmp_seq;       /* for the temporary names of replace_file() */
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

/* Refuse to WHAT the mount point at p: -EXDEV with the message saying so. */
static int refuse_mount(struct sync *s, const char *what, const struct path *p)
{
	snprintf(s->msg, s->msglen, "cannot %s '%s': it is a mount point, and a sync does not "
		 "cross into other file systems", what, p->s);
	return -EXDEV;
}

/*
 * lstat() of name in dirfd into *st, and in *ret_root whether it is the root of a mount (false
 * where the kernel cannot tell). 0 or a negative errno.
 */
static int stat_entry(int dirfd, const char *name, struct stat *st, bool *ret_root)
{
	struct statx x;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &x) < 0) {
		if (errno != ENOSYS && errno != EPERM)
			return -errno;
		/* no statx (an old kernel, or a filter): the device comparison alone */
		if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		*ret_root = false;
		return 0;
	}
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
	st->st_ino = x.stx_ino;
	st->st_mode = x.stx_mode;
	st->st_nlink = x.stx_nlink;
	st->st_uid = x.stx_uid;
	st->st_gid = x.stx_gid;
	st->st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
	st->st_size = (off_t)x.stx_size;
	st->st_blksize = x.stx_blksize;
	st->st_blocks = (blkcnt_t)x.stx_blocks;
	st->st_atim.tv_sec = x.stx_atime.tv_sec;
	st->st_atim.tv_nsec = x.stx_atime.tv_nsec;
	st->st_mtim.tv_sec = x.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = x.stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = x.stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = x.stx_ctime.tv_nsec;
	*ret_root = (x.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
		    (x.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	return 0;
}

/* Whether the entry st (root: a mount's root) of the tree whose top is on dev is a mount point. */
static bool is_mount_point(const struct stat *st, bool root, dev_t dev)
{
	return root || (S_ISDIR(st->st_mode) && st->st_dev != dev);
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

/* Record that source file ss first went to dst file ds at the path name + below. */
static int links_add(struct links *l, const struct stat *ss, const struct stat *ds,
		     const char *name, const char *below)
{
	size_t nlen = strlen(name), blen = strlen(below), i;
	struct link *k;

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
	k->path = malloc(nlen + blen + 1);
	if (!k->path)
		return -ENOMEM;
	memcpy(k->path, name, nlen);
	memcpy(k->path + nlen, below, blen + 1);
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
 * Check that no mount point is at or beneath the entry name of dirfd (whose path is
 * s->dpath): -EXDEV naming the first one found, else 0. Reads only.
 */
static int check_no_mounts(struct sync *s, int dirfd, const char *name)
{
	struct stat st;
	bool root;
	char **v;
	size_t n, i, old;
	int fd, r;

	r = stat_entry(dirfd, name, &st, &root);
	if (r < 0)
		return fail(s, r, "read", &s->dpath);
	if (is_mount_point(&st, root, s->ddev))
		return refuse_mount(s, "remove", &s->dpath);
	if (!S_ISDIR(st.st_mode))
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(s, -errno, "open", &s->dpath);
	r = dirnames_read(fd, &v, &n);
	if (r < 0) {
		(void)close(fd);
		return fail(s, r, "list", &s->dpath);
	}
	for (i = 0; i < n && r >= 0; i++) {
		r = path_push(&s->dpath, v[i], &old);
		if (r < 0) {
			r = fail(s, r, "read", &s->dpath);
			break;
		}
		r = check_no_mounts(s, fd, v[i]);
		path_pop(&s->dpath, old);
	}
	dirnames_free(v, n);
	(void)close(fd);
	return r;
}

/*
 * Remove the entry name of dirfd (whose path is s->dpath), recursively, without following
 * symlinks; counts each entry removed. A mount point met is refused (check_no_mounts() has
 * looked for them already: this is for one mounted since).
 */
static int remove_tree_at(struct sync *s, int dirfd, const char *name)
{
	struct stat st, fst;
	bool root;
	char **v;
	size_t n, i, old;
	int fd, r;

	r = stat_entry(dirfd, name, &st, &root);
	if (r < 0)
		return fail(s, r, "remove", &s->dpath);
	if (is_mount_point(&st, root, s->ddev))
		return refuse_mount(s, "remove", &s->dpath);
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
	if (fstat(fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
		(void)close(fd);
		return refuse_mount(s, "remove", &s->dpath);    /* something came over it */
	}
	r = dirnames_read(fd, &v, &n);
	if (r < 0) {
		(void)close(fd);
		return fail(s, r, "list", &s->dpath);
	}
	for (i = 0; i < n && r >= 0; i++) {
		r = path_push(&s->dpath, v[i], &old);
		if (r < 0)
			break;
		r = remove_tree_at(s, fd, v[i]);
		path_pop(&s->dpath, old);
	}
	dirnames_free(v, n);
	(void)close(fd);
	if (r < 0)
		return r == -ENOMEM ? fail(s, r, "remove", &s->dpath) : r;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		return fail(s, -errno, "remove", &s->dpath);
	if (s->st)
		s->st->removed++;
	return 0;
}

/*
 * Remove the entry name of dirfd (whose path is s->dpath) and what is beneath it, after
 * checking that no mount point is there: a refusal leaves the whole entry as it was.
 */
static int remove_entry(struct sync *s, int dirfd, const char *name)
{
	int r = check_no_mounts(s, dirfd, name);

	if (r < 0)
		return r;
	return remove_tree_at(s, dirfd, name);
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
 * or extended to the source's size. *changed tells whether anything was written. dry (with
 * exists): nothing is written, and *changed tells at the first difference that there is one.
 */
static int sync_data(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		     bool exists, bool dry, bool *changed)
{
	struct stat ds;
	off_t off = 0;
	ssize_t n, m;
	int sfd, dfd, r = 0;

	sfd = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return fail(s, -errno, "open", &s->spath);
	if (exists)
		dfd = openat(ddir, dname, (dry ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC);
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
		if (dry) {
			*changed = true;
			goto out_close_dfd;
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
	if (dry) {
		*changed = *changed || off != ds.st_size;
	} else if (off != ds.st_size || !exists) {
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

/*
 * Make the copied xattrs of dname in ddir those of sname in sdir; *changed if any changed.
 * dry: change nothing, only tell whether something would change.
 */
static int sync_xattrs(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		       bool dry, bool *changed)
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
		if (dry) {
			*changed = true;
			break;
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
		if (dry) {
			*changed = true;
			break;
		}
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

/*
 * Give dname of ddir the owner, xattrs, mode and times in ss (of sname in sdir). dry: change
 * nothing, only tell in *changed whether something would change.
 */
static int sync_attrs(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		      const struct stat *ss, bool dry, bool *changed)
{
	struct stat ds;
	int r;

	if (fstatat(ddir, dname, &ds, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(s, -errno, "read", &s->dpath);
	if (dry) {
		*changed = *changed || ds.st_uid != ss->st_uid || ds.st_gid != ss->st_gid ||
			   (!S_ISLNK(ss->st_mode) &&
			    (ds.st_mode & 07777) != (ss->st_mode & 07777)) ||
			   ds.st_atim.tv_sec != ss->st_atim.tv_sec ||
			   ds.st_atim.tv_nsec != ss->st_atim.tv_nsec ||
			   ds.st_mtim.tv_sec != ss->st_mtim.tv_sec ||
			   ds.st_mtim.tv_nsec != ss->st_mtim.tv_nsec;
		return *changed ? 0 : sync_xattrs(s, sdir, sname, ddir, dname, true, changed);
	}
	if (ds.st_uid != ss->st_uid || ds.st_gid != ss->st_gid) {
		if (fchownat(ddir, dname, ss->st_uid, ss->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(s, -errno, "set the owner of", &s->dpath);
		*changed = true;
	}
	r = sync_xattrs(s, sdir, sname, ddir, dname, false, changed);
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

	r = dirnames_read(sfd, &sv, &sn);
	if (r < 0)
		return fail(s, r, "list", &s->spath);
	r = dirnames_read(dfd, &dv, &dn);
	if (r < 0) {
		r = fail(s, r, "list", &s->dpath);
		goto out;
	}
	for (i = 0; i < dn && (s->flags & TREESYNC_DELETE); i++) {
		if (is_skipped(s, top, dv[i]) || dirnames_has(sv, sn, dv[i]))
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
	dirnames_free(sv, sn);
	dirnames_free(dv, dn);
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

/* Record dname of ddir (path s->dpath) as the first destination of the source file ss. */
static int add_link(struct sync *s, const struct stat *ss, int ddir, const char *dname)
{
	struct stat ds;
	int r;

	if (fstatat(ddir, dname, &ds, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(s, -errno, "read", &s->dpath);
	r = links_add(&s->links, ss, &ds, s->dtop_name, s->dpath.s + s->dtop_len);
	if (r < 0)
		return fail(s, r, "sync", &s->dpath);
	return 0;
}

/*
 * Link dname of ddir (path s->dpath) to l's file, from the directory that holds it: reached
 * from s->dtop one component at a time, no symlink followed, and checked to be l's file still.
 */
static int link_to(struct sync *s, const struct link *l, int ddir, const char *dname)
{
	char *rel = strdup(l->path), *name, *slash;
	struct stat st;
	int fd = s->dtop, next, r = 0;

	if (!rel)
		return fail(s, -ENOMEM, "link", &s->dpath);
	for (name = rel; (slash = strchr(name, '/')); name = slash + 1) {
		*slash = '\0';
		if (!*name)
			continue;       /* the "//" of a dst given with a trailing '/' */
		next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != s->dtop)
			(void)close(fd);
		fd = next;
		if (fd < 0) {
			r = -errno;
			break;
		}
	}
	if (r == 0 && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	else if (r == 0 && (st.st_dev != l->ddev || st.st_ino != l->dino))
		r = -ESTALE;
	if (r == 0 && linkat(fd, name, ddir, dname, 0) < 0)
		r = -errno;
	if (fd >= 0 && fd != s->dtop)
		(void)close(fd);
	free(rel);
	if (r == -ESTALE)
		snprintf(s->msg, s->msglen, "cannot link '%s': the file made for its other names has "
			 "been changed since", s->dpath.s);
	else if (r < 0)
		(void)fail(s, r, "link", &s->dpath);
	return r;
}

/*
 * Replace the file dname of ddir (which has other names) by a new one with sname's data and
 * attributes ss: written beside it under a temporary name, then renamed over it.
 */
static int replace_file(struct sync *s, int sdir, const char *sname, int ddir,
			const char *dname, const struct stat *ss)
{
	char tmp[64];
	bool changed = false;
	int fd, r;

	do {
		snprintf(tmp, sizeof(tmp), ".treesync-%ld-%u", (long)getpid(), s->tmp_seq++);
		fd = openat(ddir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	} while (fd < 0 && errno == EEXIST && s->tmp_seq % 1000 != 0);
	if (fd < 0)
		return fail(s, -errno, "create a file beside", &s->dpath);
	(void)close(fd);
	/* an empty file: only the source's data blocks are written, its zeros left as holes */
	r = sync_data(s, sdir, sname, ddir, tmp, true, false, &changed);
	if (r == 0)
		r = sync_attrs(s, sdir, sname, ddir, tmp, ss, false, &changed);
	if (r == 0 && renameat(ddir, tmp, ddir, dname) < 0)
		r = fail(s, -errno, "replace", &s->dpath);
	if (r < 0)
		(void)unlinkat(ddir, tmp, 0);
	return r;
}

/*
 * Make the entry dname of ddir equal to sname of sdir (paths s->dpath, s->spath); top: the
 * roots, where a change of kind is refused without TREESYNC_REPLACE, and whose devices are
 * the trees' (mount points are found below them).
 */
static int sync_entry(struct sync *s, int sdir, const char *sname, int ddir, const char *dname,
		      bool top)
{
	struct stat ss, ds;
	struct link *l;
	bool exists, keep, replace = false, created, changed = false, sroot, droot;
	int r, sfd, dfd;

	r = stat_entry(sdir, sname, &ss, &sroot);
	if (r < 0)
		return fail(s, r, "read", &s->spath);
	if (top)
		s->sdev = ss.st_dev;
	else if (is_mount_point(&ss, sroot, s->sdev))
		return refuse_mount(s, "read", &s->spath);
	r = stat_entry(ddir, dname, &ds, &droot);
	exists = r == 0;
	if (r < 0 && r != -ENOENT)
		return fail(s, r, "read", &s->dpath);
	if (exists && top) {
		s->ddev = ds.st_dev;
	} else if (exists && is_mount_point(&ds, droot, s->ddev)) {
		/* left alone with what is mounted there, unless it would have to go */
		if (!is_same_kind(&ss, &ds))
			return refuse_mount(s, "replace", &s->dpath);
		if (s->st)
			s->st->skipped++;
		return 0;
	}
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
			r = link_to(s, l, ddir, dname);
			if (r < 0)
				return r;
			if (s->st)
				s->st->created++;
			return 0;
		}
	}
	keep = exists && is_same_kind(&ss, &ds);
	/*
	 * A dst file with other names is rewritten in place only when they are all synced too
	 * (a whole tree) and are names of this source file; when they may not be synced (not a
	 * whole tree), an equal file stays, and one that differs becomes a file of its own.
	 */
	r = 0;
	if (keep && S_ISREG(ss.st_mode) && ds.st_nlink > 1) {
		if (ss.st_nlink == 1 || links_find(&s->links, true, ds.st_dev, ds.st_ino))
			replace = true;
		else if (!(s->flags & TREESYNC_WHOLE))
			r = sync_data(s, sdir, sname, ddir, dname, true, true, &replace);
		if (r == 0 && !replace && !(s->flags & TREESYNC_WHOLE))
			r = sync_attrs(s, sdir, sname, ddir, dname, &ss, true, &replace);
		if (r < 0)
			return r;
		if (!replace && !(s->flags & TREESYNC_WHOLE)) {
			r = add_link(s, &ss, ddir, dname);
			if (r < 0)
				return r;
			if (s->st)
				s->st->unchanged++;
			return 0;
		}
	}
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
		if (top && fstat(dfd, &ds) == 0)
			s->ddev = ds.st_dev;    /* made just now */
		r = sync_dir(s, sfd, dfd, top);
		(void)close(dfd);
		(void)close(sfd);
		break;
	case S_IFREG:
		if (replace)
			r = replace_file(s, sdir, sname, ddir, dname, &ss);
		else
			r = sync_data(s, sdir, sname, ddir, dname, exists, false, &changed);
		changed = changed || replace;
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
	if (!replace) {
		r = sync_attrs(s, sdir, sname, ddir, dname, &ss, false, &changed);
		if (r < 0)
			return r;
	}
	if (S_ISREG(ss.st_mode) && ss.st_nlink > 1) {
		r = add_link(s, &ss, ddir, dname);
		if (r < 0)
			return r;
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
		.dtop = -1,
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
	s.dtop = ddir;
	s.dtop_name = dname;
	s.dtop_len = s.dpath.len;
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
