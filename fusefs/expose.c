/*
 * expose.c: the daemon of one exposed snapshot. It serves a directory that shows a snapshot's
 * tree read-only (MNT/.snapshots/ID of a volume, or a detached tree) at a mount point of its
 * own, through the low-level FUSE API, on one thread. It never changes anything: every request
 * that would fails with EROFS, and the mount itself is read-only.
 *
 * Resolution by path. A node is a heap struct per (parent, name), counting the kernel's
 * lookups; its node id is its address (the root is FUSE_ROOT_ID). Each request opens the
 * source directory afresh and resolves the node's relative path beneath it with openat2()
 * (beneath, no symlinks; openat() with O_NOFOLLOW where openat2 is missing), and closes what
 * it opened before it answers. So the exposure holds no descriptor on the volume between
 * requests (the volume can be unmounted), and when the volume is mounted again at the same
 * place, the next request finds the snapshot there again. A request that meets a stale or
 * disconnected descriptor resolves once more. Open files and nothing else keep descriptors.
 *
 * A snapshot never changes, so names, attributes, pages and listings are cached long; a
 * failed lookup is not cached (it may be the volume that is away). Attributes are the
 * source's, st_ino included. Directory listings are read whole at opendir, so no descriptor
 * stays open on a directory; offsets are indexes into the listing.
 *
 * The daemon is forked twice by expose_start() so that it belongs to nobody: a pipe carries
 * its first words back, its pid at once, then its report (mounted, or why not). It logs to
 * syslog afterwards. expose_start() waits for the report a limited time: a source that does
 * not answer (a volume whose daemon hangs) would otherwise hang the caller, who holds the
 * registry's lock; the daemon, stuck in the source, is killed then.
 *
 * Before it mounts, the daemon refuses a mount point inside the source it serves (by its
 * canonical path, and by device and inode along the mount point's ancestors, so that a bind
 * mount counts too): a request beneath the mount point would come back to this one thread
 * while it waits for itself. It checks what it has opened, so a symlink is followed as the
 * service follows it, and a source that hangs in the check is caught by the same time limit.
 */
#include "expose.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "log.h"

#define EXPOSE_TIMEOUT 3600.0   /* entry and attribute cache, seconds */
#define REPORT_MSG 1024
#define KILL_WAIT_MS 5000       /* how long a daemon killed at a timeout may take to end */

/* What the daemon tells expose_start() once: mounted (err 0, pid), or why not. */
struct report {
	int err;                /* positive errno, 0 when mounted */
	pid_t pid;
	char msg[REPORT_MSG];
};

struct node {
	struct node *parent;    /* NULL for the root */
	char *name;             /* heap; NULL for the root */
	uint64_t nlookup;       /* the kernel's references */
	uint64_t nchildren;     /* nodes whose parent this is */
	struct node *next;      /* hash chain */
};

/* A directory listing, read whole at opendir. */
struct listing {
	size_t n;
	struct listing_entry {
		char *name;
		ino_t ino;
		unsigned char type;
	} *e;
};

/* The daemon's state: one per process, one thread. */
static struct {
	const char *source;     /* the tree served, absolute */
	struct node root;
	struct node **table;    /* hash of nodes by (parent, name) */
	size_t buckets;         /* a power of two */
	size_t count;
	bool has_openat2;
	char last_log[REPORT_MSG]; /* libfuse's last words before the mount */
	bool logging;           /* mounted: libfuse's words go to snap_log */
} ex;

/* ---- nodes ---------------------------------------------------------------------------- */

static size_t hash_of(const struct node *parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uintptr_t)parent;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29)) & (ex.buckets - 1);
}

static struct node *node_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &ex.root : (struct node *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct node *n)
{
	return n == &ex.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

/* Double the hash table; failure is harmless (chains get longer). */
static void grow_table(void)
{
	size_t old = ex.buckets, i;
	struct node **t = calloc(old * 2, sizeof(*t)), **o = ex.table;

	if (!t)
		return;
	ex.table = t;
	ex.buckets = old * 2;
	for (i = 0; i < old; i++) {
		while (o[i]) {
			struct node *n = o[i];
			size_t h = hash_of(n->parent, n->name);

			o[i] = n->next;
			n->next = t[h];
			t[h] = n;
		}
	}
	free(o);
}

/* The node (parent, name) with one more lookup, made if new; NULL when out of memory. */
static struct node *node_get(struct node *parent, const char *name)
{
	size_t h = hash_of(parent, name);
	struct node *n;

	for (n = ex.table[h]; n; n = n->next) {
		if (n->parent == parent && strcmp(n->name, name) == 0) {
			n->nlookup++;
			return n;
		}
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->parent = parent;
	n->nlookup = 1;
	parent->nchildren++;
	n->next = ex.table[h];
	ex.table[h] = n;
	if (++ex.count > ex.buckets)
		grow_table();
	return n;
}

/* Free n, and its parents in turn, once neither the kernel nor a child refers to it. */
static void node_release(struct node *n)
{
	while (n != &ex.root && n->nlookup == 0 && n->nchildren == 0) {
		struct node *parent = n->parent, **p = &ex.table[hash_of(parent, n->name)];

		while (*p != n)
			p = &(*p)->next;
		*p = n->next;
		ex.count--;
		free(n->name);
		free(n);
		parent->nchildren--;
		n = parent;
	}
}

static void node_forget(struct node *n, uint64_t nlookup)
{
	if (n == &ex.root)
		return;
	n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
	node_release(n);
}

/* n's path relative to the source ("." for the root) in buf; -ENAMETOOLONG if too long. */
static int rel_path(const struct node *n, char *buf, size_t size)
{
	size_t end = size - 1;

	buf[end] = '\0';
	if (n == &ex.root) {
		snprintf(buf, size, ".");
		return 0;
	}
	for (; n != &ex.root; n = n->parent) {
		size_t len = strlen(n->name);

		if (len + 1 > end)
			return -ENAMETOOLONG;
		end -= len;
		memcpy(buf + end, n->name, len);
		if (n->parent != &ex.root)
			buf[--end] = '/';
	}
	memmove(buf, buf + end, size - end);
	return 0;
}

/* ---- resolution beneath the source ------------------------------------------------------ */

/* Open rel beneath the directory sfd, never through a symlink. */
static int open_beneath(int sfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (ex.has_openat2) {
		fd = (int)syscall(SYS_openat2, sfd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd < 0 ? -errno : fd;
		ex.has_openat2 = false;
	}
	fd = openat(sfd, rel, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * Open node n with flags (O_PATH for most requests), resolving its path from the source
 * afresh; the caller closes the result. Tries once more after ENOTCONN or ESTALE (the volume
 * behind the source went away and may be back). Returns the fd or a negative errno.
 */
static int open_node(const struct node *n, int flags)
{
	char rel[PATH_MAX];
	int r = rel_path(n, rel, sizeof(rel));

	if (r < 0)
		return r;
	for (int attempt = 0; attempt < 2; attempt++) {
		int sfd = open(ex.source, O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (sfd < 0) {
			r = -errno;
		} else {
			r = open_beneath(sfd, rel, flags);
			(void)close(sfd);
		}
		if (r != -ENOTCONN && r != -ESTALE)
			break;
	}
	return r;
}

/* fstat fd into st, keeping the source's inode number. */
static int stat_fd(int fd, struct stat *st)
{
	return fstat(fd, st) < 0 ? -errno : 0;
}

/* ---- requests ------------------------------------------------------------------------- */

static void ex_init(void *userdata, struct fuse_conn_info *conn)
{
	/* a snapshot never changes: symlink targets may stay cached too */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_SPLICE_READ);
}

/* Look name up in the directory pfd (open by the caller) and fill e with a node for it. */
static int lookup_in(int pfd, struct node *parent, const char *name, struct fuse_entry_param *e)
{
	struct node *n;

	memset(e, 0, sizeof(*e));
	if (fstatat(pfd, name, &e->attr, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	n = node_get(parent, name);
	if (!n)
		return -ENOMEM;
	e->ino = ino_of(n);
	e->attr_timeout = EXPOSE_TIMEOUT;
	e->entry_timeout = EXPOSE_TIMEOUT;
	return 0;
}

static void ex_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *p = node_of(parent);
	struct fuse_entry_param e;
	int pfd, r;

	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pfd = open_node(p, O_PATH | O_DIRECTORY);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	r = lookup_in(pfd, p, name, &e);
	(void)close(pfd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		node_forget(node_of(e.ino), 1);
}

static void ex_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(node_of(ino), nlookup);
	fuse_reply_none(req);
}

static void ex_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		node_forget(node_of(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void ex_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int fd, r;

	fd = open_node(node_of(ino), O_PATH);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	r = stat_fd(fd, &st);
	(void)close(fd);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, EXPOSE_TIMEOUT);
}

static void ex_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char target[PATH_MAX + 1];
	ssize_t len;
	int fd = open_node(node_of(ino), O_PATH);

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	len = readlinkat(fd, "", target, sizeof(target) - 1);
	if (len < 0) {
		int err = errno;

		(void)close(fd);
		fuse_reply_err(req, err);
		return;
	}
	(void)close(fd);
	target[len] = '\0';
	fuse_reply_readlink(req, target);
}

static void listing_free(struct listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	free(l);
}

/* Read the directory fd (taken) whole into a new listing; "." and ".." come as they come. */
static int read_listing(int fd, struct listing **ret)
{
	struct listing *l = calloc(1, sizeof(*l));
	size_t cap = 0;
	struct dirent *d;
	DIR *dp;
	int r = 0;

	if (!l) {
		(void)close(fd);
		return -ENOMEM;
	}
	dp = fdopendir(fd);
	if (!dp) {
		r = -errno;
		(void)close(fd);
		goto out_free;
	}
	for (;;) {
		errno = 0;
		d = readdir(dp);
		if (!d) {
			r = -errno;
			break;
		}
		if (l->n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct listing_entry *e = realloc(l->e, ncap * sizeof(*e));

			if (!e) {
				r = -ENOMEM;
				break;
			}
			l->e = e;
			cap = ncap;
		}
		l->e[l->n].name = strdup(d->d_name);
		if (!l->e[l->n].name) {
			r = -ENOMEM;
			break;
		}
		l->e[l->n].ino = d->d_ino;
		l->e[l->n].type = d->d_type;
		l->n++;
	}
	(void)closedir(dp);
	if (r < 0)
		goto out_free;
	*ret = l;
	return 0;
out_free:
	listing_free(l);
	return r;
}

static void ex_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct listing *l = NULL;
	int fd = open_node(node_of(ino), O_RDONLY | O_DIRECTORY);
	int r;

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	r = read_listing(fd, &l);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)l;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	if (fuse_reply_open(req, fi) != 0)
		listing_free(l);
}

/*
 * Fill a readdir(plus) reply from the listing in fi->fh, from index offset on. For readdirplus
 * each entry but "." and ".." is looked up (one lookup reference each, as the kernel counts).
 */
static void read_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		     struct fuse_file_info *fi, bool plus)
{
	struct listing *l = (struct listing *)(uintptr_t)fi->fh;
	struct node *dir = node_of(ino);
	char *buf = malloc(size ? size : 1);
	size_t used = 0;
	int pfd = -1, err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (plus) {
		pfd = open_node(dir, O_PATH | O_DIRECTORY);
		if (pfd < 0) {
			free(buf);
			fuse_reply_err(req, -pfd);
			return;
		}
	}
	for (size_t i = offset < 0 ? 0 : (size_t)offset; i < l->n; i++) {
		const struct listing_entry *le = &l->e[i];
		bool dots = strcmp(le->name, ".") == 0 || strcmp(le->name, "..") == 0;
		struct fuse_entry_param e;
		size_t len;

		if (plus && !dots) {
			int r = lookup_in(pfd, dir, le->name, &e);

			if (r < 0) {
				err = -r;
				break;
			}
			len = fuse_add_direntry_plus(req, buf + used, size - used, le->name, &e,
						     (off_t)i + 1);
			if (len > size - used) {
				node_forget(node_of(e.ino), 1);
				break;
			}
		} else if (plus) {
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = le->ino;
			e.attr.st_mode = (mode_t)le->type << 12;
			len = fuse_add_direntry_plus(req, buf + used, size - used, le->name, &e,
						     (off_t)i + 1);
			if (len > size - used)
				break;
		} else {
			struct stat st = { .st_ino = le->ino, .st_mode = (mode_t)le->type << 12 };

			len = fuse_add_direntry(req, buf + used, size - used, le->name, &st,
						(off_t)i + 1);
			if (len > size - used)
				break;
		}
		used += len;
	}
	if (pfd >= 0)
		(void)close(pfd);
	/* an error after some entries: those go out, the error comes with the next call */
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void ex_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi)
{
	read_dir(req, ino, size, offset, fi, false);
}

static void ex_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			   struct fuse_file_info *fi)
{
	read_dir(req, ino, size, offset, fi, true);
}

static void ex_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	listing_free((struct listing *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void ex_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fd = open_node(node_of(ino), O_RDONLY);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) != 0)
		(void)close(fd);
}

static void ex_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		    struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	size_t done = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	while (done < size) {
		ssize_t n = pread((int)fi->fh, buf + done, size - done, offset + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			free(buf);
			fuse_reply_err(req, err);
			return;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	fuse_reply_buf(req, buf, done);
	free(buf);
}

static void ex_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void ex_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int fd = open_node(node_of(ino), O_PATH);

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	if (fstatvfs(fd, &sv) < 0) {
		int err = errno;

		(void)close(fd);
		fuse_reply_err(req, err);
		return;
	}
	(void)close(fd);
	fuse_reply_statfs(req, &sv);
}

/*
 * The path through which the xattrs of n are read without following n if it is a symlink:
 * the source itself for the root, else its name under /proc/self/fd/PFD, its parent opened
 * into *pfd (which the caller closes).
 */
static int xattr_path(const struct node *n, char *buf, size_t size, int *pfd)
{
	int fd, len;

	*pfd = -1;
	if (n == &ex.root) {
		len = snprintf(buf, size, "%s", ex.source);
		return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
	}
	fd = open_node(n->parent, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return fd;
	len = snprintf(buf, size, "/proc/self/fd/%d/%s", fd, n->name);
	if (len < 0 || (size_t)len >= size) {
		(void)close(fd);
		return -ENAMETOOLONG;
	}
	*pfd = fd;
	return 0;
}

/* Whether the caller of req may see the trusted.* namespace (root may, as on the source). */
static bool sees_trusted(fuse_req_t req)
{
	return fuse_req_ctx(req)->uid == 0;
}

static void ex_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char path[PATH_MAX + 64], *buf = NULL;
	ssize_t len;
	int pfd, r;

	if (strncmp(name, "trusted.", 8) == 0 && !sees_trusted(req)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	r = xattr_path(node_of(ino), path, sizeof(path), &pfd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (size) {
		buf = malloc(size);
		if (!buf) {
			r = -ENOMEM;
			goto out_close;
		}
	}
	len = lgetxattr(path, name, buf, size);
	if (len < 0)
		r = -errno;
	else if (size)
		fuse_reply_buf(req, buf, (size_t)len);
	else
		fuse_reply_xattr(req, (size_t)len);
	free(buf);
out_close:
	if (pfd >= 0)
		(void)close(pfd);
	if (r < 0)
		fuse_reply_err(req, -r);
}

/* Drop the trusted.* names from the list of len bytes in place; returns the new length. */
static size_t drop_trusted(char *list, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(list + in, len - in) + 1;

		if (strncmp(list + in, "trusted.", 8) != 0) {
			memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

static void ex_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[PATH_MAX + 64], *list = NULL;
	ssize_t len;
	size_t left;
	int pfd, r;

	r = xattr_path(node_of(ino), path, sizeof(path), &pfd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* the whole list, whatever size asks, so that trusted.* can be left out */
	len = llistxattr(path, NULL, 0);
	if (len < 0) {
		r = -errno;
		goto out_close;
	}
	list = malloc((size_t)len + 1);
	if (!list) {
		r = -ENOMEM;
		goto out_close;
	}
	len = llistxattr(path, list, (size_t)len);
	if (len < 0) {
		r = errno == ERANGE ? -EAGAIN : -errno;
		goto out_free;
	}
	left = sees_trusted(req) ? (size_t)len : drop_trusted(list, (size_t)len);
	if (size == 0)
		fuse_reply_xattr(req, left);
	else if (left > size)
		r = -ERANGE;
	else
		fuse_reply_buf(req, list, left);
out_free:
	free(list);
out_close:
	if (pfd >= 0)
		(void)close(pfd);
	if (r < 0)
		fuse_reply_err(req, -r);
}

static void ex_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	int fd;

	if (mask & W_OK) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fd = open_node(node_of(ino), O_PATH);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	(void)close(fd);
	fuse_reply_err(req, 0);
}

/* Every request that would change something: the snapshot is read-only. */
static void ex_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void ex_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	fuse_reply_err(req, EROFS);
}

static void ex_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fuse_reply_err(req, EROFS);
}

static void ex_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void ex_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void ex_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EROFS);
}

static void ex_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EROFS);
}

static void ex_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void ex_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void ex_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fuse_reply_err(req, EROFS);
}

static void ex_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void ex_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void ex_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops ex_ops = {
	.init = ex_init,
	.lookup = ex_lookup,
	.forget = ex_forget,
	.forget_multi = ex_forget_multi,
	.getattr = ex_getattr,
	.readlink = ex_readlink,
	.opendir = ex_opendir,
	.readdir = ex_readdir,
	.readdirplus = ex_readdirplus,
	.releasedir = ex_releasedir,
	.open = ex_open,
	.read = ex_read,
	.release = ex_release,
	.statfs = ex_statfs,
	.getxattr = ex_getxattr,
	.listxattr = ex_listxattr,
	.access = ex_access,
	.setattr = ex_setattr,
	.mknod = ex_mknod,
	.mkdir = ex_mkdir,
	.unlink = ex_unlink,
	.rmdir = ex_unlink,
	.symlink = ex_symlink,
	.rename = ex_rename,
	.link = ex_link,
	.write = ex_write,
	.create = ex_create,
	.setxattr = ex_setxattr,
	.removexattr = ex_removexattr,
	.fallocate = ex_fallocate,
	.copy_file_range = ex_copy_file_range,
};

/* ---- the daemon ------------------------------------------------------------------------ */

/*
 * libfuse's messages: kept (the last line) until the mount is in place, to tell the caller
 * why it failed; then logged.
 */
__attribute__((format(printf, 2, 0)))
static void keep_fuse_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[REPORT_MSG];
	size_t len;
	const char *text = line;

	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		return;
	len = strlen(line);
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	if (!len)
		return;
	if (strncmp(text, "fuse: ", 6) == 0)
		text += 6;
	if (ex.logging)
		snap_log((int)level, "%s", text);
	else
		snprintf(ex.last_log, sizeof(ex.last_log), "%s", text);
}

/* Send the report down the pipe fd and close it. */
static void send_report(int fd, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void send_report(int fd, int err, const char *fmt, ...)
{
	struct report rep = { .err = err, .pid = getpid() };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep.msg, sizeof(rep.msg), fmt, ap);
	va_end(ap);
	(void)!write(fd, &rep, sizeof(rep));
	(void)close(fd);
}

/* Whether path is dir or beneath it (both canonical). */
static bool is_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * Refuse the mount point dir (absolute, canonical) when it lies inside the source open at sfd:
 * by the source's canonical path, or because dir or one of its ancestors is the source itself
 * (a bind mount of it). 0, or -EINVAL with the reason in msg.
 */
static int check_outside_source(int sfd, const char *dir, char *msg, size_t msglen)
{
	char real[PATH_MAX], link[64], path[PATH_MAX];
	struct statx sx;
	struct stat st;
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", sfd);
	len = readlink(link, real, sizeof(real) - 1);
	if (len > 0 && real[0] == '/') {
		real[len] = '\0';
		if (is_within(dir, real)) {
			snprintf(msg, msglen, "directory '%s' is inside '%s', the snapshot tree it "
				 "would serve", dir, real);
			return -EINVAL;
		}
	} else {
		snprintf(real, sizeof(real), "%s", ex.source);
	}
	/* no request to the source's file system for this: its device and inode are known */
	if (statx(sfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &sx) < 0)
		return 0;
	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		char *slash;

		if (stat(path, &st) == 0 && st.st_ino == sx.stx_ino &&
		    major(st.st_dev) == sx.stx_dev_major && minor(st.st_dev) == sx.stx_dev_minor) {
			snprintf(msg, msglen, "directory '%s' is inside '%s' (as '%s'), the "
				 "snapshot tree it would serve", dir, real, path);
			return -EINVAL;
		}
		slash = strrchr(path, '/');
		if (!slash || path[1] == '\0')
			return 0;
		slash[slash == path ? 1 : 0] = '\0';
	}
}

/* The session with its options: read-only, named snapfs:ID, others allowed when root. */
static struct fuse_session *new_session(const char *id)
{
	char opts[256], *argv[4];
	struct fuse_args args;
	struct fuse_session *se;
	char *w;

	w = opts + snprintf(opts, sizeof(opts), "ro,default_permissions,subtype=snapfs-expose,%s"
			    "fsname=" EXPOSE_FSNAME_PREFIX, geteuid() == 0 ? "allow_other," : "");
	/* fuse_opt splits at commas: escape them (and backslashes) in the id */
	for (const char *c = id; *c && w < opts + sizeof(opts) - 3; c++) {
		if (*c == ',' || *c == '\\')
			*w++ = '\\';
		*w++ = *c;
	}
	*w = '\0';
	argv[0] = (char *)EXPOSE_COMM;
	argv[1] = (char *)"-o";
	argv[2] = opts;
	argv[3] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(3, argv);
	se = fuse_session_new(&args, &ex_ops, sizeof(ex_ops), NULL);
	fuse_opt_free_args(&args);
	return se;
}

/* Put stdin, stdout and stderr on /dev/null. */
static void quiet_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		(void)close(fd);
}

/*
 * The daemon's life, in the grandchild: leave everything inherited behind but the report
 * pipe, mount, report, serve until unmounted or signalled. Returns an exit status.
 */
static int run_daemon(const char *source, const char *dir, const char *id, int report_fd)
{
	struct fuse_session *se;
	int status = EXIT_FAILURE, sfd, r;
	pid_t self = getpid();
	char why[3 * PATH_MAX];

	/* first words: who to kill if the report does not come */
	(void)!write(report_fd, &self, sizeof(self));
	if (report_fd > STDERR_FILENO + 1)
		(void)close_range(STDERR_FILENO + 1, (unsigned)report_fd - 1, 0);
	(void)close_range((unsigned)report_fd + 1, ~0U, 0);
	quiet_stdio();
	(void)prctl(PR_SET_NAME, EXPOSE_COMM, 0, 0, 0);
	(void)!chdir("/");
	ex.source = source;
	ex.has_openat2 = true;
	ex.buckets = 256;
	ex.table = calloc(ex.buckets, sizeof(*ex.table));
	if (!ex.table) {
		send_report(report_fd, ENOMEM, "cannot mount at '%s': %s", dir, strerror(ENOMEM));
		return status;
	}
	sfd = open(source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		int err = errno;

		send_report(report_fd, err, "cannot mount at '%s': snapshot tree '%s': %s", dir,
			    source, strerror(err));
		goto out_free;
	}
	r = check_outside_source(sfd, dir, why, sizeof(why));
	(void)close(sfd);
	if (r < 0) {
		send_report(report_fd, -r, "cannot mount at '%s': %s", dir, why);
		goto out_free;
	}
	fuse_set_log_func(keep_fuse_log);
	se = new_session(id);
	if (!se) {
		send_report(report_fd, EINVAL, "cannot mount at '%s': %s", dir,
			    ex.last_log[0] ? ex.last_log : "bad FUSE options");
		goto out_free;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		send_report(report_fd, EIO, "cannot mount at '%s': cannot handle signals", dir);
		goto out_destroy;
	}
	errno = 0;
	if (fuse_session_mount(se, dir) != 0) {
		int err = errno ? errno : EIO;

		send_report(report_fd, err, "cannot mount at '%s': %s", dir,
			    ex.last_log[0] ? ex.last_log : strerror(err));
		goto out_signals;
	}
	log_setup(LOG_SINK_SYSLOG, LOG_INFO, EXPOSE_COMM);
	ex.logging = true;
	send_report(report_fd, 0, "mounted");
	snap_log(LOG_INFO, "serving snapshot '%s' from '%s' at '%s'", id, source, dir);
	status = fuse_session_loop(se) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	fuse_session_unmount(se);
	snap_log(LOG_INFO, "snapshot '%s' no longer exposed at '%s'", id, dir);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out_free:
	free(ex.table);
	return status;
}

/*
 * Read size bytes from fd into buf, waiting until the monotonic time deadline (ms). -EPIPE if
 * the writer went away first, -ETIMEDOUT when the deadline passed.
 */
static int read_until(int fd, void *buf, size_t size, int64_t deadline)
{
	size_t got = 0;

	while (got < size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct timespec now;
		int64_t left;
		ssize_t n;
		int r;

		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		left = deadline - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(fd, (char *)buf + got, size - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

/* Whether pid has ended (gone, or a zombie that nobody reaped yet). */
static bool has_ended(pid_t pid)
{
	char path[64], line[256], *end;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	len = read(fd, line, sizeof(line) - 1);
	(void)close(fd);
	if (len <= 0)
		return true;
	line[len] = '\0';
	end = strrchr(line, ')');
	return !end || end[1] != ' ' || end[2] == 'Z' || end[2] == 'X';
}

/* Kill the daemon pid, which did not report in time, and wait a while for it to end. */
static void kill_daemon(pid_t pid)
{
	if (kill(pid, SIGKILL) < 0)
		return;
	for (int ms = 0; ms < KILL_WAIT_MS && !has_ended(pid); ms += 20)
		(void)usleep(20 * 1000);
}

int expose_start(const char *source, const char *dir, const char *id, int timeout_ms,
		 pid_t *ret_pid, char *msg, size_t msglen)
{
	struct report rep;
	struct timespec now;
	int64_t deadline;
	pid_t pid, daemon = 0;
	int p[2], r;

	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot mount at '%s': %s", dir, strerror(-r));
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void)close(p[0]);
		(void)close(p[1]);
		snprintf(msg, msglen, "cannot mount at '%s': %s", dir, strerror(-r));
		return r;
	}
	if (pid == 0) {
		/* the middle child: a session of its own, then leave the daemon to init */
		(void)close(p[0]);
		(void)setsid();
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
		_exit(run_daemon(source, dir, id, p[1]));
	}
	(void)close(p[1]);
	(void)waitpid(pid, NULL, 0);
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + timeout_ms;
	r = read_until(p[0], &daemon, sizeof(daemon), deadline);
	if (r == 0)
		r = read_until(p[0], &rep, sizeof(rep), deadline);
	(void)close(p[0]);
	if (r == -ETIMEDOUT) {
		if (daemon > 0)
			kill_daemon(daemon);
		snprintf(msg, msglen, "cannot mount at '%s': the snapshot tree '%s' did not answer "
			 "within %d s; its daemon was killed", dir, source, timeout_ms / 1000);
		return -ETIMEDOUT;
	}
	if (r < 0) {
		snprintf(msg, msglen, "cannot mount at '%s': the daemon ended before it mounted",
			 dir);
		return -EIO;
	}
	rep.msg[sizeof(rep.msg) - 1] = '\0';
	if (rep.err) {
		snprintf(msg, msglen, "%s", rep.msg);
		return -rep.err;
	}
	*ret_pid = rep.pid;
	return 0;
}
