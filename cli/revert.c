/*
 * revert.c: 'snapfs revert' and 'snapfs break'. Both read a snapshot through the directory
 * that shows its tree (MNT/.snapshots/ID, admin_shadow_tree()) and write with treesync(). A
 * revert writes into the live mount, so the engine preserves what it changes for the other
 * snapshots and only what differs is written; a break writes a copy outside the volume and
 * then deletes the snapshot from it.
 *
 * Decisions:
 * - A PATH is taken apart without resolving anything inside the volume: an absolute PATH is
 *   matched against the mount point by resolving its leading directories only, so a symlink
 *   of the live tree never redirects a revert. The directories above PATH must be directories
 *   in the snapshot, and in the live tree where they exist (missing ones are made).
 * - A revert does not cross into other file systems mounted inside the volume: PATH and the
 *   directories above it must not be mount points (on another device than the mount point, or
 *   a mount's root by statx()), and treesync() refuses to remove or replace one below and
 *   leaves alone one that it would only sync into. A whole-volume revert tells treesync() that
 *   its tree is whole (TREESYNC_WHOLE): only then may a file with several links be rewritten
 *   in place, since its other names are all in the tree; a PATH's file with links elsewhere is
 *   replaced by one of its own.
 * - A break without --writable copies into the detached store, deletes the snapshot from its
 *   volume, and only then exposes it, so that the id names one snapshot when it is exposed.
 *   Every step before the delete is undone on failure; after it, nothing is lost either way
 *   (the detached copy stays).
 */
#include "revert.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "control_client.h"
#include "dirnames.h"
#include "expose.h"
#include "log.h"
#include "provider.h"
#include "transport.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x2000    /* the kernel's value (5.8), for older headers */
#endif

static const char *const volume_skip[] = { ".snapshots", NULL };

static const char revert_usage[] =
	"usage: snapfs revert [--no-keep] ID [PATH]\n"
	"\n"
	"Make the volume of snapshot ID what it was in that snapshot, without a remount:\n"
	"the whole tree, or only PATH (relative to the volume's root, or an absolute path\n"
	"inside its mount point; a file or a directory, recreated if it is gone). Only what\n"
	"differs is written, so the diff area grows by the changed blocks only, and every\n"
	"other snapshot stays. A detached snapshot has no volume to revert.\n"
	"\n"
	"  --no-keep  do not first take a snapshot of the current state\n";

static const char break_usage[] =
	"usage: snapfs break [--writable] ID DIR\n"
	"\n"
	"Turn snapshot ID into an independent directory and delete it from its volume.\n"
	"DIR must be missing or an empty directory, outside every snapfs volume.\n"
	"\n"
	"  --writable  DIR receives a read-write copy of the snapshot's tree, and nothing\n"
	"              of snapfs remains on it\n"
	"  (without)   the copy becomes a detached snapshot in the state directory,\n"
	"              exposed read-only at DIR ('snapfs unexpose DIR' to unmount it)\n";

/* Whether the canonical path is dir or lies beneath it. */
static bool is_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * Normalize the relative path lexically into out: no empty, "." or ".." components, no '/' at
 * either end ("" for the top). -EINVAL when a ".." climbs above the top.
 */
static int normalize(const char *path, char *out, size_t size)
{
	const char *p = path, *end;
	size_t len = 0, n;

	out[0] = '\0';
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (len == 0)
				return -EINVAL;
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
		} else if (!(n == 1 && p[0] == '.')) {
			if (len + 1 + n + 1 > size)
				return -ENAMETOOLONG;
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
			out[len] = '\0';
		}
		p += n;
	}
	return 0;
}

/*
 * PATH as a path relative to the root of the volume v (in rel, "" for the root): path is
 * relative to that root, or absolute; then the leading part of it that resolves to v's mount
 * point is cut off, and what follows is not resolved.
 */
static int volume_relative(const struct control_volume *v, const char *path, char *rel,
			   size_t size, char *msg, size_t msglen)
{
	char norm[PATH_MAX], prefix[PATH_MAX + 1], real[PATH_MAX];
	size_t end = 0;
	const char *next;
	int r;

	if (path[0] != '/') {
		r = normalize(path, rel, size);
	} else {
		r = normalize(path + 1, norm, sizeof(norm));
		for (; r == 0;) {
			snprintf(prefix, sizeof(prefix), "/%.*s", (int)end, norm);
			if (realpath(prefix, real) && strcmp(real, v->mnt) == 0) {
				snprintf(rel, size, "%s", norm + end + (norm[end] == '/'));
				break;
			}
			if (norm[end] == '\0') {
				r = -EINVAL;
				break;
			}
			next = strchr(norm + end + 1, '/');
			end = next ? (size_t)(next - norm) : strlen(norm);
		}
	}
	if (r == -ENAMETOOLONG) {
		snprintf(msg, msglen, "'%s': %s", path, strerror(-r));
		return r;
	}
	if (r < 0) {
		snprintf(msg, msglen, "'%s' is outside the volume '%s'", path, v->mnt);
		return -EINVAL;
	}
	if (strcmp(rel, ".snapshots") == 0 || strncmp(rel, ".snapshots/", 11) == 0) {
		snprintf(msg, msglen, "'%s' is in '%s/.snapshots', not in the volume", path, v->mnt);
		return -EINVAL;
	}
	return 0;
}

/*
 * Check the way to rel (PATH as the user wrote it: shown): rel must be in the snapshot's tree
 * with directories above it, and those directories must be directories in the live volume
 * where they exist. make: create the missing live ones with the snapshot's owner and mode.
 */
static int walk_to(const struct admin_shadow *s, const char *tree, const char *rel,
		   const char *shown, bool make, char *msg, size_t msglen)
{
	char sp[PATH_MAX * 2], lp[PATH_MAX * 2];
	struct stat ss, ls;
	bool gone = false;
	const char *slash = rel;
	int n;

	if (!*rel)
		return 0;
	for (;; slash++) {
		slash = strchr(slash, '/');
		n = slash ? (int)(slash - rel) : (int)strlen(rel);

		snprintf(sp, sizeof(sp), "%s/%.*s", tree, n, rel);
		if (lstat(sp, &ss) < 0 || (slash && !S_ISDIR(ss.st_mode))) {
			snprintf(msg, msglen, "snapshot %s has no '%s'", s->id, shown);
			return -ENOENT;
		}
		if (!slash)
			return 0;
		snprintf(lp, sizeof(lp), "%s/%.*s", s->vol.mnt, n, rel);
		if (!gone && lstat(lp, &ls) < 0) {
			if (errno != ENOENT) {
				snprintf(msg, msglen, "cannot read '%s': %s", lp, strerror(errno));
				return -errno;
			}
			gone = true;
		} else if (!gone && !S_ISDIR(ls.st_mode)) {
			snprintf(msg, msglen, "'%s' is not a directory in the volume; revert it whole "
				 "instead", lp);
			return -ENOTDIR;
		}
		if (gone && make &&
		    (mkdir(lp, 0700) < 0 || lchown(lp, ss.st_uid, ss.st_gid) < 0 ||
		     chmod(lp, ss.st_mode & 07777) < 0)) {
			snprintf(msg, msglen, "cannot create '%s': %s", lp, strerror(errno));
			return -errno;
		}
	}
}

/*
 * Refuse (-EXDEV) a rel of which a live component (a directory above it, or itself) is a
 * mount point inside the volume v: on another device than its mount point, or a mount's root.
 * Components that do not exist end the check.
 */
static int check_no_mount_on_way(const struct control_volume *v, const char *rel, char *msg,
				 size_t msglen)
{
	char lp[PATH_MAX * 2];
	struct statx x;
	const char *slash = rel;
	dev_t dev;
	int n;

	if (statx(AT_FDCWD, v->mnt, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x) < 0) {
		snprintf(msg, msglen, "cannot read '%s': %s", v->mnt, strerror(errno));
		return -errno;
	}
	dev = makedev(x.stx_dev_major, x.stx_dev_minor);
	for (; *rel; slash++) {
		slash = strchr(slash, '/');
		n = slash ? (int)(slash - rel) : (int)strlen(rel);
		snprintf(lp, sizeof(lp), "%s/%.*s", v->mnt, n, rel);
		if (statx(AT_FDCWD, lp, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS,
			  &x) < 0) {
			if (errno == ENOENT)
				return 0;
			snprintf(msg, msglen, "cannot read '%s': %s", lp, strerror(errno));
			return -errno;
		}
		if (makedev(x.stx_dev_major, x.stx_dev_minor) != dev ||
		    (x.stx_attributes_mask & x.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
			snprintf(msg, msglen, "'%s' is a mount point; a revert does not cross into "
				 "other file systems", lp);
			return -EXDEV;
		}
		if (!slash)
			return 0;
	}
	return 0;
}

int revert_snapshot(const char *id, const char *path, bool keep, struct revert_result *ret,
		    char *msg, size_t msglen)
{
	struct admin_shadow s, kept;
	char rel[PATH_MAX] = "", tree[PATH_MAX], src[PATH_MAX * 2], dst[PATH_MAX];
	struct treesync_stats st;
	int r;

	r = admin_find_shadow(id, &s, msg, msglen);
	if (r < 0)
		return r;
	if (s.detached) {
		snprintf(msg, msglen, "snapshot %s is detached: it has no volume to revert", s.id);
		return -EINVAL;
	}
	if (path) {
		r = volume_relative(&s.vol, path, rel, sizeof(rel), msg, msglen);
		if (r < 0)
			return r;
	}
	if (admin_shadow_tree(&s, tree, sizeof(tree)) < 0 ||
	    snprintf(src, sizeof(src), "%s%s%s", tree, *rel ? "/" : "", rel) >= (int)sizeof(src) ||
	    snprintf(dst, sizeof(dst), "%s%s%s", s.vol.mnt, *rel ? "/" : "", rel) >=
		    (int)sizeof(dst)) {
		snprintf(msg, msglen, "'%s' in snapshot %s: %s", rel, s.id, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	r = walk_to(&s, tree, rel, path, false, msg, msglen);
	if (r == 0)
		r = check_no_mount_on_way(&s.vol, rel, msg, msglen);
	if (r < 0)
		return r;
	kept.id[0] = '\0';
	if (keep) {
		r = admin_create(&s.vol, &kept, msg, msglen);
		if (r < 0)
			return r;
	}
	r = walk_to(&s, tree, rel, path, true, msg, msglen);
	if (r == 0)
		r = treesync(src, dst, TREESYNC_DELETE | TREESYNC_REPLACE |
				     (*rel ? 0 : TREESYNC_WHOLE), *rel ? NULL : volume_skip, &st,
			     msg, msglen);
	if (r < 0 && keep) {
		/* the kept id first: the cause may name a path long enough to fill msg */
		char why[ADMIN_MSG];

		snprintf(why, sizeof(why), "%s", msg);
		snprintf(msg, msglen, "the state before the revert is kept as snapshot %s; %s",
			 kept.id, why);
	}
	if (r < 0)
		return r;
	snprintf(ret->kept, sizeof(ret->kept), "%s", kept.id);
	snprintf(ret->target, sizeof(ret->target), "%s", dst);
	ret->st = st;
	return 0;
}

/* Whether the directory dir is empty: 1, 0 when not, or a negative errno. */
static int is_empty(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 1;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			r = 0;
			break;
		}
	}
	(void)closedir(d);
	return r;
}

/*
 * Check that dir can receive a break: missing (in an existing directory) or an empty
 * directory, and outside every snapfs volume and the directory each serves. *ret_exists says
 * whether it exists.
 */
static int check_target(const char *dir, bool *ret_exists, char *msg, size_t msglen)
{
	char real[PATH_MAX], parent[PATH_MAX], src[PATH_MAX];
	struct control_volume *vols = NULL;
	const char *base;
	struct stat st;
	bool exists;
	char *slash;
	int n, r;

	exists = lstat(dir, &st) == 0;
	if (!exists && errno != ENOENT) {
		snprintf(msg, msglen, "cannot read '%s': %s", dir, strerror(errno));
		return -errno;
	}
	if (exists) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(msg, msglen, "'%s' is not a directory", dir);
			return -ENOTDIR;
		}
		r = is_empty(dir);
		if (r == 0) {
			snprintf(msg, msglen, "directory '%s' is not empty", dir);
			return -ENOTEMPTY;
		}
		if (r < 0 || !realpath(dir, real)) {
			r = r < 0 ? r : -errno;
			snprintf(msg, msglen, "cannot read '%s': %s", dir, strerror(-r));
			return r;
		}
	} else {
		/* the canonical path it will have: its parent's, and its name */
		snprintf(parent, sizeof(parent), "%s", dir);
		for (n = (int)strlen(parent); n > 1 && parent[n - 1] == '/'; n--)
			parent[n - 1] = '\0';
		slash = strrchr(parent, '/');
		base = slash ? slash + 1 : parent;
		if (slash)
			*slash = '\0';
		if (!realpath(!slash ? "." : slash == parent ? "/" : parent, src)) {
			snprintf(msg, msglen, "cannot create '%s': %s", dir, strerror(errno));
			return -errno;
		}
		if (snprintf(real, sizeof(real), "%s/%s", strcmp(src, "/") ? src : "", base) >=
		    (int)sizeof(real)) {
			snprintf(msg, msglen, "cannot create '%s': %s", dir, strerror(ENAMETOOLONG));
			return -ENAMETOOLONG;
		}
	}
	n = control_volume_list(&vols);
	if (n < 0) {
		snprintf(msg, msglen, "cannot read the mount table: %s", strerror(-n));
		return n;
	}
	for (r = 0; r == 0 && n > 0; n--) {
		const struct control_volume *v = &vols[n - 1];

		if (is_within(real, v->mnt)) {
			snprintf(msg, msglen, "directory '%s' is inside the snapfs volume '%s'", dir,
				 v->mnt);
			r = -EINVAL;
		} else if (realpath(v->src, src) && is_within(real, src)) {
			snprintf(msg, msglen, "directory '%s' is inside '%s', which the snapfs volume "
				 "'%s' serves", dir, src, v->mnt);
			r = -EINVAL;
		}
	}
	free(vols);
	if (r == 0)
		*ret_exists = exists;
	return r;
}

/* Remove dir and what is beneath it (keep_top: only what is beneath), following no symlink. */
static int remove_tree(const char *dir, bool keep_top)
{
	char **names = NULL;
	size_t n = 0;
	int fd, r;

	if (!keep_top)
		return tree_remove_all(AT_FDCWD, dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = dirnames_read(fd, &names, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = tree_remove_all(fd, names[i]);
	dirnames_free(names, n);
	(void)close(fd);
	return r;
}

/*
 * Undo a break's copy into dir: remove it, dir included when it was made here (before is
 * NULL), else give dir back its owner, mode and times of before. Appends what failed to msg.
 */
static void undo_copy(const char *dir, const struct stat *before, char *msg, size_t msglen)
{
	struct timespec ts[2];
	int r = remove_tree(dir, before != NULL);

	if (r == 0 && before) {
		ts[0] = before->st_atim;
		ts[1] = before->st_mtim;
		if (lchown(dir, before->st_uid, before->st_gid) < 0 ||
		    chmod(dir, before->st_mode & 07777) < 0 || utimensat(AT_FDCWD, dir, ts, 0) < 0)
			r = -errno;
	}
	if (r < 0)
		snap_msg_append(msg, msglen, "; and the copy in '%s' could not be undone: %s", dir,
				strerror(-r));
}

/* What count_one() adds up: the entries below the top, the bytes of each file once. */
static struct {
	uint64_t files, bytes;
	void *seen;             /* tsearch() tree of the (dev, ino) of files with several links */
	bool failed;
} count;

static int cmp_inode(const void *a, const void *b)
{
	const struct stat *x = a, *y = b;

	if (x->st_dev != y->st_dev)
		return x->st_dev < y->st_dev ? -1 : 1;
	return x->st_ino < y->st_ino ? -1 : x->st_ino > y->st_ino;
}

static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct stat *key, **found;

	if (ftw->level == 0)
		return 0;
	count.files++;
	if (!S_ISREG(st->st_mode))
		return 0;
	if (st->st_nlink > 1) {
		key = malloc(sizeof(*key));
		if (!key)
			return ENOMEM;
		*key = *st;
		found = tsearch(key, &count.seen, cmp_inode);
		if (!found) {
			free(key);
			return ENOMEM;
		}
		if (*found != key) {
			free(key);
			return 0;
		}
	}
	count.bytes += (uint64_t)st->st_size;
	return 0;
}

/* The entries below dir and the bytes of its files, each file once, into m. */
static int count_tree(const char *dir, struct transport_meta *m)
{
	int r;

	memset(&count, 0, sizeof(count));
	r = nftw(dir, count_one, 32, FTW_PHYS | FTW_MOUNT);
	tdestroy(count.seen, free);
	count.seen = NULL;
	if (r != 0)
		return r > 0 ? -r : -errno;
	m->files = count.files;
	m->bytes = count.bytes;
	return 0;
}

/* Break s with a read-write copy of tree in dir (exists: an empty directory). */
static int break_writable(const struct admin_shadow *s, const char *tree, const char *dir,
			  bool exists, char *msg, size_t msglen)
{
	struct stat before;
	int r;

	if (exists && lstat(dir, &before) < 0) {
		snprintf(msg, msglen, "cannot read '%s': %s", dir, strerror(errno));
		return -errno;
	}
	r = treesync(tree, dir, TREESYNC_DELETE, NULL, NULL, msg, msglen);
	if (r == 0)
		r = admin_delete(s, msg, msglen);
	if (r < 0)
		undo_copy(dir, exists ? &before : NULL, msg, msglen);
	return r;
}

/* Remove what a failed break made, saying at the end of msg if it cannot be removed. */
static void remove_after_failure(const char *path, char *msg, size_t msglen)
{
	int r = remove_tree(path, false);

	if (r < 0)
		snap_msg_append(msg, msglen, "; '%s' could not be removed: %s", path, strerror(-r));
}

/* Break s into the detached store, exposed at dir (exists: an empty directory). */
static int break_detached(const struct admin_shadow *s, const char *tree, const char *dir,
			  bool exists, char *msg, size_t msglen)
{
	char store[PATH_MAX], tmp[PATH_MAX + 64], final[PATH_MAX + 64], copy[PATH_MAX + 80];
	char why[ADMIN_MSG];
	struct transport_meta m;
	int r;

	r = admin_detached_store(store, sizeof(store), msg, msglen);
	if (r < 0)
		return r;
	snprintf(final, sizeof(final), "%s/%s", store, s->id);
	snprintf(tmp, sizeof(tmp), "%s/.break-%s", store, s->id);
	snprintf(copy, sizeof(copy), "%s/tree", tmp);
	if (lstat(final, &(struct stat){ 0 }) == 0) {
		snprintf(msg, msglen, "'%s' exists already", final);
		return -EEXIST;
	}
	(void)remove_tree(tmp, false);  /* what an interrupted break left */
	if (mkdir(tmp, 0700) < 0) {
		snprintf(msg, msglen, "cannot create '%s': %s", tmp, strerror(errno));
		return -errno;
	}
	r = treesync(tree, copy, TREESYNC_DELETE, NULL, NULL, msg, msglen);
	if (r < 0)
		goto out_remove_tmp;
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", s->id);
	snprintf(m.set_id, sizeof(m.set_id), "%s", s->set_id);
	snprintf(m.browse, sizeof(m.browse), "%s", s->browse);
	snprintf(m.origin, sizeof(m.origin), "%s", s->vol.mnt);
	m.created_ns = s->created_ns;
	if (gethostname(m.host, sizeof(m.host) - 1) < 0)
		snprintf(m.host, sizeof(m.host), "localhost");
	r = count_tree(copy, &m);
	if (r < 0) {
		snprintf(msg, msglen, "cannot read '%s': %s", copy, strerror(-r));
		goto out_remove_tmp;
	}
	r = transport_info_write(tmp, &m, msg, msglen);
	if (r < 0)
		goto out_remove_tmp;
	if (rename(tmp, final) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot rename '%s' to '%s': %s", tmp, final, strerror(-r));
		goto out_remove_tmp;
	}
	if (!exists && mkdir(dir, 0755) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot create '%s': %s", dir, strerror(-r));
		goto out_remove_final;
	}
	r = admin_delete(s, msg, msglen);
	if (r < 0)
		goto out_rmdir;
	r = expose_snapshot(s->id, dir, true, why, sizeof(why));
	if (r < 0) {
		snprintf(msg, msglen, "snapshot %s is detached now (in '%s') but not exposed: %s",
			 s->id, final, why);
		if (!exists)
			(void)rmdir(dir);
	}
	return r;
out_rmdir:
	if (!exists)
		(void)rmdir(dir);
out_remove_final:
	remove_after_failure(final, msg, msglen);
	return r;
out_remove_tmp:
	remove_after_failure(tmp, msg, msglen);
	return r;
}

int break_snapshot(const char *id, const char *dir, bool writable, char *msg, size_t msglen)
{
	struct admin_shadow s;
	struct exposure ex;
	char tree[PATH_MAX];
	bool exists = false;
	int r;

	r = admin_find_shadow(id, &s, msg, msglen);
	if (r < 0)
		return r;
	if (s.detached) {
		snprintf(msg, msglen, "snapshot %s is detached already: it has no volume to break "
			 "from", s.id);
		return -EINVAL;
	}
	r = expose_lookup(s.id, &ex);
	if (r != 0) {
		if (r > 0)
			snprintf(msg, msglen, "snapshot %s is exposed at '%s'; unexpose it first",
				 s.id, ex.dir);
		else
			snprintf(msg, msglen, "cannot read the exposures: %s", strerror(-r));
		return r > 0 ? -EBUSY : r;
	}
	r = check_target(dir, &exists, msg, msglen);
	if (r < 0)
		return r;
	if (admin_shadow_tree(&s, tree, sizeof(tree)) < 0) {
		snprintf(msg, msglen, "the tree of snapshot %s: %s", s.id, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if (writable)
		return break_writable(&s, tree, dir, exists, msg, msglen);
	return break_detached(&s, tree, dir, exists, msg, msglen);
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/*
 * Take argv apart: the options named (each one flag, set in *flag[i] when present), then up
 * to max operands into pos. Returns the operand count, or -1 after printing why (or 0 after
 * printing the usage: *help is set).
 */
static int parse_args(const char *cmd, const char *usage, int argc, char **argv,
		      const char *opt, bool *flag, const char **pos, int max, bool *help)
{
	bool options = true;
	int i, n = 0;

	*help = false;
	for (i = 1; i < argc; i++) {
		if (options && is_help(argv[i])) {
			fputs(usage, stdout);
			*help = true;
			return 0;
		} else if (options && strcmp(argv[i], "--") == 0) {
			options = false;
		} else if (options && strcmp(argv[i], opt) == 0) {
			*flag = true;
		} else if (options && argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs %s: unknown option '%s' (see 'snapfs %s --help')\n",
				cmd, argv[i], cmd);
			return -1;
		} else if (n == max) {
			fprintf(stderr, "snapfs %s: unexpected argument '%s' (see 'snapfs %s --help')"
				"\n", cmd, argv[i], cmd);
			return -1;
		} else {
			pos[n++] = argv[i];
		}
	}
	return n;
}

int cmd_revert(int argc, char **argv)
{
	struct revert_result res;
	const char *pos[2];
	char msg[ADMIN_MSG];
	bool no_keep = false, help;
	int n = parse_args("revert", revert_usage, argc, argv, "--no-keep", &no_keep, pos, 2,
			   &help);

	if (help)
		return EXIT_SUCCESS;
	if (n < 0)
		return EXIT_FAILURE;
	if (n < 1) {
		fprintf(stderr, "snapfs revert: missing snapshot ID (see 'snapfs revert --help')\n");
		return EXIT_FAILURE;
	}
	if (revert_snapshot(pos[0], n > 1 ? pos[1] : NULL, !no_keep, &res, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs revert: %s\n", msg);
		return EXIT_FAILURE;
	}
	if (res.kept[0])
		printf("kept the state before the revert as snapshot %s\n", res.kept);
	printf("reverted '%s' to snapshot %s: %" PRIu64 " created, %" PRIu64 " removed, %" PRIu64
	       " updated, %" PRIu64 " unchanged, %" PRIu64 " bytes written\n", res.target, pos[0],
	       res.st.created, res.st.removed, res.st.updated, res.st.unchanged,
	       res.st.bytes_written);
	if (res.st.skipped)
		printf("left %" PRIu64 " mount point%s inside the volume alone\n", res.st.skipped,
		       res.st.skipped == 1 ? "" : "s");
	return EXIT_SUCCESS;
}

int cmd_break(int argc, char **argv)
{
	const char *pos[2];
	char msg[ADMIN_MSG];
	bool writable = false, help;
	int n = parse_args("break", break_usage, argc, argv, "--writable", &writable, pos, 2,
			   &help);

	if (help)
		return EXIT_SUCCESS;
	if (n < 0)
		return EXIT_FAILURE;
	if (n < 2) {
		fprintf(stderr, "snapfs break: missing %s (see 'snapfs break --help')\n",
			n ? "DIR" : "snapshot ID and DIR");
		return EXIT_FAILURE;
	}
	if (break_snapshot(pos[0], pos[1], writable, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs break: %s\n", msg);
		return EXIT_FAILURE;
	}
	if (writable)
		printf("broke snapshot %s off its volume into '%s' (writable)\n", pos[0], pos[1]);
	else
		printf("broke snapshot %s off its volume: detached, exposed at '%s'\n", pos[0],
		       pos[1]);
	return EXIT_SUCCESS;
}
