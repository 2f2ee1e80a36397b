/*
 * provider_clone.c: complete copy (VSS's "complete copy", the split mirror). Every snapshot
 * becomes a full, independent, read-only copy of the volume in the diff area's trees/<id>,
 * so with --diff-area on another disk it survives the loss of SRC.
 *
 * How, and why so:
 * - The snapshot is taken as a copy-on-write snapshot, so the I/O hold is the journal's (a
 *   moment), and a background thread then copies that snapshot's view into
 *   trees/<id>.partial. Until the copy is done the journal serves the snapshot, and reads of
 *   what is not copied yet are its views, correct by construction.
 * - The other way, a mirror kept in sync and split at the snapshot, doubles every write for
 *   as long as the volume lives and must be rebuilt in full after each split; this way the
 *   journal costs writes only while a copy runs.
 * - When the copy is done it is synced (syncfs on the diff area's filesystem), renamed to
 *   trees/<id> and recorded as a tree; the journal rows only it needed are freed once no
 *   reader holds its journal view, and with no copy pending the journal is off: later writes
 *   cost what pass-through writes cost.
 * - Data is copied with copy_file_range from the live file (reflinks where the diff area
 *   shares a btrfs or xfs with SRC), holes kept, and the journal's preserved chunks written
 *   over what changed (snap_copy_file). Metadata: type, mode, owner, atime and mtime, xattrs,
 *   hard links (by the snapshot's inode numbers), symlinks and special files. ctime is the
 *   copy's: no system call sets it.
 * - A restart finds unfinished copies (snapshots the journal still serves) and starts them
 *   again from nothing; the partial tree of a crash is removed when the engine opens.
 * - Snapshots are copied one at a time, oldest first.
 */
#include "provider.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine_int.h"
#include "log.h"

#define PARTIAL ".partial"

struct clone {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	uint64_t wakeups;            /* bumped by each new snapshot */
};

/* Hard links: the snapshot's inode number -> the first copy's path under the tree. */
struct link {
	ino_t ino;
	char *path;
};

struct copy {
	struct engine *e;
	struct clone *c;
	int root_fd;                 /* the tree being made */
	struct link *links;
	size_t nlinks, cap;
	uint64_t bytes;              /* what the tree occupies */
	char path[PATH_MAX];         /* of the directory being copied, under the tree */
};

static bool stopping(struct clone *c)
{
	bool s;

	pthread_mutex_lock(&c->lock);
	s = c->stop;
	pthread_mutex_unlock(&c->lock);
	return s;
}

static const char *link_find(struct copy *cp, ino_t ino)
{
	for (size_t i = cp->nlinks; i-- > 0;)
		if (cp->links[i].ino == ino)
			return cp->links[i].path;
	return NULL;
}

static int link_add(struct copy *cp, ino_t ino, const char *path)
{
	if (cp->nlinks == cp->cap) {
		size_t ncap = cp->cap ? cp->cap * 2 : 64;
		struct link *m = realloc(cp->links, ncap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		cp->links = m;
		cp->cap = ncap;
	}
	cp->links[cp->nlinks].ino = ino;
	cp->links[cp->nlinks].path = strdup(path);
	if (!cp->links[cp->nlinks].path)
		return -ENOMEM;
	cp->nlinks++;
	return 0;
}

/* Copy the node's xattrs (as its snapshot holds them) onto name in dirfd. */
static int copy_xattrs(struct copy *cp, const struct engine_node *n, int dirfd,
		       const char *name)
{
	ssize_t len = engine_snap_listxattr(cp->e, n, NULL, 0);
	char *names = NULL, path[64];
	void *val = NULL;
	int fd = -1, r = 0;

	if (len <= 0)
		return (int)len;
	names = malloc((size_t)len);
	val = malloc(65536);
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (!names || !val || fd < 0) {
		r = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	len = engine_snap_listxattr(cp->e, n, names, (size_t)len);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (ssize_t i = 0; r == 0 && i < len; i += (ssize_t)strlen(names + i) + 1) {
		ssize_t vlen = engine_snap_getxattr(cp->e, n, names + i, val, 65536);

		if (vlen == -ENODATA)
			continue;
		if (vlen < 0)
			r = (int)vlen;
		else if (setxattr(path, names + i, val, (size_t)vlen, 0) < 0)
			r = -errno;
	}
out:
	if (fd >= 0)
		(void)close(fd);
	free(names);
	free(val);
	return r;
}

/* Owner, mode, xattrs and times of name in dirfd as st and the node say; times last. */
static int set_meta(struct copy *cp, const struct engine_node *n, int dirfd, const char *name,
		    const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchownat(dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(st->st_mode)) {
		int r;

		if (fchmodat(dirfd, name, st->st_mode & 07777, 0) < 0)
			return -errno;
		r = copy_xattrs(cp, n, dirfd, name);
		if (r < 0)
			return r;
	}
	return utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int copy_regular(struct copy *cp, const struct engine_node *n, int dirfd,
			const char *name, const struct stat *st)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct stat out;
	int r;

	if (fd < 0)
		return -errno;
	r = ftruncate(fd, st->st_size) < 0 ? -errno : 0;
	if (r == 0)
		r = snap_copy_file(cp->e, n, fd, (uint64_t)st->st_size);
	if (r == 0 && fstat(fd, &out) == 0)
		cp->bytes += (uint64_t)out.st_blocks * 512;
	(void)close(fd);
	return r;
}

/* The names in a directory of the snapshot, collected before any is copied. */
struct entries {
	char **v;
	size_t n, cap;
};

static int collect(const char *name, ino_t ino, mode_t type, void *ctx)
{
	struct entries *l = ctx;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 32;
		char **m = realloc(l->v, ncap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		l->v = m;
		l->cap = ncap;
	}
	l->v[l->n] = strdup(name);
	return l->v[l->n++] ? 0 : -ENOMEM;
}

static int copy_dir(struct copy *cp, const struct engine_node *dir, int dirfd);

/* Copy one entry of a directory (the snapshot's dir) into dirfd. */
static int copy_entry(struct copy *cp, const struct engine_node *dir, int dirfd,
		      const char *name)
{
	size_t plen = strlen(cp->path);
	struct engine_node n;
	struct stat st;
	const char *first;
	int r = engine_snap_lookup(cp->e, dir, name, &n, &st);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (plen + 1 + strlen(name) >= sizeof(cp->path))
		return -ENAMETOOLONG;
	snprintf(cp->path + plen, sizeof(cp->path) - plen, "%s%s", plen ? "/" : "", name);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && (first = link_find(cp, st.st_ino))) {
		r = linkat(cp->root_fd, first, dirfd, name, 0) < 0 ? -errno : 0;
		goto out;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR: {
		int fd;

		if (mkdirat(dirfd, name, 0700) < 0) {
			r = -errno;
			break;
		}
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		r = copy_dir(cp, &n, fd);
		(void)close(fd);
		break;
	}
	case S_IFREG:
		r = copy_regular(cp, &n, dirfd, name, &st);
		break;
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t len = engine_snap_readlink(cp->e, &n, target, sizeof(target));

		r = len < 0 ? (int)len : symlinkat(target, dirfd, name) < 0 ? -errno : 0;
		break;
	}
	default:
		r = mknodat(dirfd, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0 ? -errno : 0;
	}
	if (r == 0)
		r = set_meta(cp, &n, dirfd, name, &st);
	if (r == 0 && !S_ISDIR(st.st_mode) && st.st_nlink > 1)
		r = link_add(cp, st.st_ino, cp->path);
out:
	cp->path[plen] = '\0';
	return r;
}

static int copy_dir(struct copy *cp, const struct engine_node *dir, int dirfd)
{
	struct entries l = { 0 };
	int r = engine_snap_readdir(cp->e, dir, collect, &l);

	for (size_t i = 0; r == 0 && i < l.n; i++) {
		if (stopping(cp->c))
			r = -ECANCELED;
		else
			r = copy_entry(cp, dir, dirfd, l.v[i]);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return r;
}

/* Make snapshot s's complete copy and record it; -ECANCELED when stopped. */
static int make_copy(struct engine *e, struct clone *c, const struct catalog_snapshot *s)
{
	struct copy cp = { .e = e, .c = c, .root_fd = -1 };
	char partial[CATALOG_ID_LEN + sizeof(PARTIAL)];
	struct engine_node root;
	struct stat st;
	int r;

	snprintf(partial, sizeof(partial), "%s" PARTIAL, s->id);
	r = tree_remove_all(e->trees_fd, partial);
	if (r == 0 && mkdirat(e->trees_fd, partial, 0700) < 0)
		r = -errno;
	if (r == 0) {
		cp.root_fd = openat(e->trees_fd, partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cp.root_fd < 0)
			r = -errno;
	}
	if (r == 0)
		r = engine_snap_root(e, s->id, &root);
	if (r == 0)
		r = engine_snap_getattr(e, &root, &st);
	if (r == 0)
		r = copy_dir(&cp, &root, cp.root_fd);
	if (r == 0)
		r = set_meta(&cp, &root, e->trees_fd, partial, &st);
	if (r == 0 && syncfs(cp.root_fd) < 0)
		r = -errno;
	if (r == 0 && renameat(e->trees_fd, partial, e->trees_fd, s->id) < 0)
		r = -errno;
	if (r == 0 && fsync(e->trees_fd) < 0)
		r = -errno;
	if (r == 0) {
		r = engine_tree_done(e, s, cp.bytes);
		if (r == -ENOENT) /* deleted meanwhile */
			(void)tree_remove_all(e->trees_fd, s->id);
	} else {
		(void)tree_remove_all(e->trees_fd, partial);
	}
	if (cp.root_fd >= 0)
		(void)close(cp.root_fd);
	for (size_t i = 0; i < cp.nlinks; i++)
		free(cp.links[i].path);
	free(cp.links);
	return r;
}

/* The oldest snapshot not copied yet. */
static int first_pending(const struct catalog_snapshot *s, void *ctx)
{
	if (s->tree)
		return 0;
	*(struct catalog_snapshot *)ctx = *s;
	return 1;
}

static int has_id(const struct catalog_snapshot *s, void *ctx)
{
	return strcmp(s->id, ctx) == 0;
}

static void *copier(void *arg)
{
	struct engine *e = arg;
	struct clone *c = e->prov_data;

	for (;;) {
		struct catalog_snapshot s;
		uint64_t seen;
		int r;

		pthread_mutex_lock(&c->lock);
		seen = c->wakeups;
		pthread_mutex_unlock(&c->lock);
		if (stopping(c))
			break;
		r = engine_snapshot_each(e, first_pending, &s);
		if (r == 1) {
			r = make_copy(e, c, &s);
			if (r == -ECANCELED)
				break;
			/*
			 * A snapshot deleted during its copy fails the copy's reads (ESTALE, or
			 * EIO from snap_copy_file): nothing is left to copy, and no error.
			 */
			if (r < 0 && r != -ENOENT && engine_snapshot_each(e, has_id, s.id) == 0)
				r = -ENOENT;
			if (r < 0 && r != -ENOENT) {
				snap_log(LOG_ERR, "snapshot %s: the complete copy failed: %s; it is "
					 "tried again at the next snapshot or mount", s.id,
					 strerror(-r));
			} else {
				continue;
			}
		}
		pthread_mutex_lock(&c->lock);
		while (!c->stop && c->wakeups == seen)
			pthread_cond_wait(&c->cond, &c->lock);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

static int clone_start(struct engine *e, char *msg, size_t msglen)
{
	struct clone *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	e->prov_data = c;
	r = pthread_create(&c->thread, NULL, copier, e);
	if (r) {
		e->prov_data = NULL;
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		free(c);
		snprintf(msg, msglen, "cannot start the copier: %s", strerror(r));
		return -r;
	}
	return 0;
}

static void clone_stop(struct engine *e)
{
	struct clone *c = e->prov_data;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	e->prov_data = NULL;
}

static void clone_created(struct engine *e, const struct catalog_snapshot *s)
{
	struct clone *c = e->prov_data;

	pthread_mutex_lock(&c->lock);
	c->wakeups++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static int clone_probe(int src_fd, char *why, size_t len)
{
	return 0;
}

const struct provider provider_clone = {
	.name = "clone",
	.method = "clone",
	.summary = "complete copy: a full read-only copy of the volume in the diff area, made in "
		   "the background",
	.journal = true,
	.trees = true,
	.trees_in_diff_area = true,
	.probe = clone_probe,
	.start = clone_start,
	.stop = clone_stop,
	.created = clone_created,
};
