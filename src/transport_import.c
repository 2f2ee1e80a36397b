/*
 * transport_import.c verifies an export and extracts it into the detached store
 * (transport_import()). It trusts nothing it reads: transport_format.c bounds every length and
 * checks every part before this file acts on it; every path is resolved one component at a
 * time with O_NOFOLLOW, relative to the extraction's own directory descriptors, so that a
 * symlink of the tree being built is never followed; every entry is created exclusively, so a
 * path given twice is an error. Extraction goes to store/.import-XXXXXX, and nothing reaches
 * store/ID before the whole file's checksum matched; on any failure the temporary directory
 * is removed completely. Per entry it applies content, owner, extended attributes, mode and
 * times, in that order (chown clears setuid bits and file capabilities); directories get
 * theirs at the end, deepest first.
 */
#include "transport_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "log.h"

#define MAX_KEPT (256u << 20)   /* directory attributes held until the end, in all */
#define TREE_NAME "tree"

/* A directory whose owner, attributes, mode and times are applied at the end. */
struct dirmeta {
	char *path;
	struct transport_attrs a;
	uint8_t *xattrs;        /* u8 name length, name, u32 value length, value; repeated */
	size_t xlen;
};

struct importer {
	struct transport_in in;
	int storefd;
	char *tmppath;          /* store/.import-XXXXXX, once made */
	const char *tmpname;    /* its last component */
	int tmpfd;
	int treefd;             /* tmppath/tree */
	char path[PATH_MAX];    /* the entry in hand */
	char target[PATH_MAX];  /* a symlink's or hard link's target */
	char parent[PATH_MAX];  /* the directory parentfd is, relative to the tree */
	int parentfd;           /* -1: none open */
	struct dirmeta *dirs;
	size_t ndirs, capdirs;
	uint64_t kept;          /* bytes of directory attributes held */
	uint8_t *xvalue;        /* TRANSPORT_MAX_XATTR_VALUE */
	uint64_t entry;         /* the record in hand; 0 is the top directory */
	uint64_t files, bytes;  /* entries and data bytes extracted */
	struct transport_meta meta;
	uint64_t next_progress;
	transport_progress cb;
	void *ctx;
	char *msg;
	size_t msglen;
};

/* ---- messages ---- */

/* Say that doing what to the entry in hand failed with r; returns r. */
static int extract_error(struct importer *im, const char *what, int r)
{
	char shown[128];

	transport_printable(shown, sizeof(shown), im->path);
	snprintf(im->msg, im->msglen, "cannot %s '%s' extracted from '%s': %s", what,
		 shown[0] ? shown : ".", im->in.file, strerror(-r));
	return r;
}

/* Creating the entry in hand failed with r. */
static int create_error(struct importer *im, int r)
{
	char shown[128];

	if (r != -EEXIST)
		return extract_error(im, "create", r);
	transport_printable(shown, sizeof(shown), im->path);
	return transport_damaged(&im->in, "entry %llu ('%s') appears twice",
				 (unsigned long long)im->entry, shown);
}

/* The store already holds the snapshot being imported. */
static int already_imported(struct importer *im, const char *store)
{
	snprintf(im->msg, im->msglen, "snapshot '%s' is already imported: '%s/%s' exists",
		 im->meta.id, store, im->meta.id);
	return -EEXIST;
}

/* ---- removing a tree ---- */

/*
 * Remove name in base and everything under it, following no symlink; each directory is made
 * readable and writable by its owner before it is opened. Holds two descriptors at most,
 * whatever the depth. Returns 0 (also when name is missing) or the first error.
 */
static int remove_tree(int base, const char *name)
{
	size_t top = strlen(name), cap = top + 2 * PATH_MAX;
	char *path, *slash;
	struct dirent *de;
	bool descended;
	int fd, pfd, r = 0;
	DIR *d;

	if (unlinkat(base, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -errno;
	path = malloc(cap);
	if (!path)
		return -ENOMEM;
	memcpy(path, name, top + 1);
	(void)fchmodat(base, name, 0700, 0);
	for (;;) {
		fd = transport_open_dir_beneath(base, path);
		if (fd < 0) {
			r = fd;
			break;
		}
		d = fdopendir(fd);
		if (!d) {
			r = -errno;
			(void)close(fd);
			break;
		}
		descended = false;
		while ((de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				continue;
			if (errno != EISDIR) {
				r = -errno;
				break;
			}
			if (strlen(path) + 2 + strlen(de->d_name) > cap) {
				r = -ENAMETOOLONG;
				break;
			}
			(void)fchmodat(dirfd(d), de->d_name, 0700, 0);
			strcat(path, "/");
			strcat(path, de->d_name);
			descended = true;
			break;
		}
		(void)closedir(d);
		if (r < 0)
			break;
		if (descended)
			continue;
		/* path is empty now: remove it from its parent */
		slash = strrchr(path, '/');
		if (!slash || (size_t)(slash - path) < top) {
			if (unlinkat(base, path, AT_REMOVEDIR) < 0)
				r = -errno;
			break;
		}
		*slash = '\0';
		pfd = transport_open_dir_beneath(base, path);
		if (pfd < 0) {
			r = pfd;
			break;
		}
		if (unlinkat(pfd, slash + 1, AT_REMOVEDIR) < 0)
			r = -errno;
		(void)close(pfd);
		if (r < 0)
			break;
	}
	free(path);
	return r;
}

/* ---- entries ---- */

/*
 * The directory holding path (an entry of the tree), opened once and kept in im->parentfd
 * until another is needed, and in *ret_name the path's last component. Returns the borrowed
 * descriptor; a parent that is not a directory extracted before means a damaged file.
 */
static int parent_fd(struct importer *im, const char *path, const char **ret_name)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash ? (size_t)(slash - path) : 0;
	char shown[128];
	int fd;

	*ret_name = slash ? slash + 1 : path;
	if (im->parentfd >= 0 && strlen(im->parent) == plen &&
	    memcmp(im->parent, path, plen) == 0)
		return im->parentfd;
	transport_close_fd(&im->parentfd);
	memcpy(im->parent, path, plen);
	im->parent[plen] = '\0';
	fd = transport_open_dir_beneath(im->treefd, im->parent);
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP) {
		transport_printable(shown, sizeof(shown), im->parent);
		return transport_damaged(
			&im->in, "entry %llu lies in '%s', not a directory extracted before it",
			(unsigned long long)im->entry, shown);
	}
	if (fd < 0)
		return extract_error(im, "open the directory of", fd);
	im->parentfd = fd;
	return fd;
}

/*
 * Read the entry's extended attributes and set each on fd when fd >= 0, else on name in dirfd
 * (through /proc/self/fd, not following it); for a directory (keep not NULL) only append them
 * to keep, for the end.
 */
static int read_xattrs(struct importer *im, int fd, int dirfd, const char *name,
		       struct dirmeta *keep)
{
	char xname[TRANSPORT_MAX_XATTR_NAME + 1], path[64 + NAME_MAX], shown[128];
	uint64_t count, total = 0, i;
	size_t nlen, vlen;
	uint8_t *grown;
	int r;

	r = transport_get_xattr_count(&im->in, im->entry, &count);
	if (r < 0)
		return r;
	if (fd < 0 && !keep)
		transport_proc_path(path, sizeof(path), dirfd, name);
	for (i = 0; i < count; i++) {
		r = transport_get_xattr(&im->in, im->entry, &total, xname, im->xvalue, &nlen,
					&vlen);
		if (r < 0)
			return r;
		if (keep) {
			im->kept += 5 + nlen + vlen;
			if (im->kept > MAX_KEPT)
				return extract_error(im, "hold the attributes of", -E2BIG);
			grown = realloc(keep->xattrs, keep->xlen + 5 + nlen + vlen);
			if (!grown)
				return extract_error(im, "extract", -ENOMEM);
			keep->xattrs = grown;
			grown += keep->xlen;
			grown[0] = (uint8_t)nlen;
			memcpy(grown + 1, xname, nlen);
			transport_put_le(grown + 1 + nlen, vlen, 4);
			memcpy(grown + 5 + nlen, im->xvalue, vlen);
			keep->xlen += 5 + nlen + vlen;
			continue;
		}
		if ((fd >= 0 ? fsetxattr(fd, xname, im->xvalue, vlen, 0) :
			       lsetxattr(path, xname, im->xvalue, vlen, 0)) < 0) {
			r = -errno;
			transport_printable(shown, sizeof(shown), xname);
			snprintf(xname, sizeof(xname), "set the extended attribute '%s' of", shown);
			return extract_error(im, xname, r);
		}
	}
	return 0;
}

/*
 * Give the entry just created (fd, or name in dirfd when fd < 0) its owner, extended
 * attributes (read now), mode (not for a symlink) and times, in that order: chown clears
 * setuid bits and file capabilities, so those come after it.
 */
static int finish_entry(struct importer *im, int fd, int dirfd, const char *name,
			const struct transport_attrs *a, bool is_symlink)
{
	int r;

	r = fd >= 0 ? fchown(fd, a->uid, a->gid) :
		      fchownat(dirfd, name, a->uid, a->gid, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return extract_error(im, "set the owner of", -errno);
	r = read_xattrs(im, fd, dirfd, name, NULL);
	if (r < 0)
		return r;
	if (!is_symlink) {
		r = fd >= 0 ? fchmod(fd, a->mode) : fchmodat(dirfd, name, a->mode, 0);
		if (r < 0)
			return extract_error(im, "set the mode of", -errno);
	}
	r = fd >= 0 ? futimens(fd, a->times) :
		      utimensat(dirfd, name, a->times, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return extract_error(im, "set the times of", -errno);
	return 0;
}

/* Note the directory in hand for the end, with its extended attributes (read now). */
static int keep_dir(struct importer *im, const struct transport_attrs *a)
{
	struct dirmeta *d, *grown;

	if (im->ndirs == im->capdirs) {
		size_t cap = im->capdirs ? 2 * im->capdirs : 64;

		grown = realloc(im->dirs, cap * sizeof(*grown));
		if (!grown)
			return extract_error(im, "extract", -ENOMEM);
		im->dirs = grown;
		im->capdirs = cap;
	}
	d = &im->dirs[im->ndirs];
	memset(d, 0, sizeof(*d));
	d->a = *a;
	d->path = strdup(im->path);
	if (!d->path)
		return extract_error(im, "extract", -ENOMEM);
	im->ndirs++;
	return read_xattrs(im, -1, -1, NULL, d);
}

static int read_file(struct importer *im, int dirfd, const char *name,
		     const struct transport_attrs *a)
{
	uint64_t size, left;
	const uint8_t *p;
	size_t want, n;
	int fd, r;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return create_error(im, -errno);
	r = transport_in_int(&im->in, 8, &size);
	if (r < 0)
		goto out_close;
	if (size > im->meta.bytes - im->bytes) {
		r = transport_damaged(&im->in, "entry %llu holds more data than its header says",
				      (unsigned long long)im->entry);
		goto out_close;
	}
	for (left = size; left > 0; left -= n) {
		want = left < TRANSPORT_BUF_SIZE ? left : TRANSPORT_BUF_SIZE;
		r = transport_in_next(&im->in, want, &p, &n);
		if (r < 0)
			goto out_close;
		r = transport_write_all(fd, p, n);
		if (r < 0) {
			r = extract_error(im, "write", r);
			goto out_close;
		}
		im->bytes += n;
		transport_report(im->cb, im->ctx, im->bytes, im->meta.bytes, &im->next_progress);
	}
	r = finish_entry(im, fd, dirfd, name, a, false);
out_close:
	(void)close(fd);
	return r;
}

static int read_hardlink(struct importer *im)
{
	const char *tname, *name;
	char shown[128];
	size_t len;
	int tfd, dirfd, r;

	r = transport_get_str(&im->in, im->entry, im->target, "hard link target", &len);
	if (r < 0)
		return r;
	if (!transport_is_valid_path(im->target, len))
		return transport_damaged(&im->in,
					 "entry %llu is a hard link with an invalid target",
					 (unsigned long long)im->entry);
	r = parent_fd(im, im->target, &tname);
	if (r < 0)
		return r;
	tfd = fcntl(r, F_DUPFD_CLOEXEC, 0);
	if (tfd < 0)
		return extract_error(im, "extract", -errno);
	dirfd = parent_fd(im, im->path, &name);
	if (dirfd < 0) {
		(void)close(tfd);
		return dirfd;
	}
	r = 0;
	if (linkat(tfd, tname, dirfd, name, 0) < 0) {
		r = -errno;
		if (r == -EEXIST) {
			r = create_error(im, r);
		} else if (r == -ENOENT || r == -EPERM) {
			transport_printable(shown, sizeof(shown), im->target);
			r = transport_damaged(&im->in,
					      "entry %llu links to '%s', not an earlier file",
					      (unsigned long long)im->entry, shown);
		} else {
			r = extract_error(im, "link", r);
		}
	}
	(void)close(tfd);
	return r;
}

/* Read and extract one record of type (a known one) but the trailer. */
static int read_entry(struct importer *im, int type)
{
	struct transport_attrs a;
	const char *name;
	size_t len;
	int dirfd, r;

	r = transport_get_str(&im->in, im->entry, im->path, "path", &len);
	if (r < 0)
		return r;
	if (im->entry == 0) {
		if (type != 'd' || len != 0)
			return transport_damaged(&im->in,
						 "its first entry is not the top directory");
		r = transport_get_attrs(&im->in, im->entry, type, &a);
		return r < 0 ? r : keep_dir(im, &a);
	}
	if (!transport_is_valid_path(im->path, len))
		return transport_damaged(&im->in, "entry %llu has an invalid path",
					 (unsigned long long)im->entry);
	if (type == 'h')
		return read_hardlink(im);
	dirfd = parent_fd(im, im->path, &name);
	if (dirfd < 0)
		return dirfd;
	r = transport_get_attrs(&im->in, im->entry, type, &a);
	if (r < 0)
		return r;
	switch (type) {
	case 'd':
		if (mkdirat(dirfd, name, 0700) < 0)
			return create_error(im, -errno);
		return keep_dir(im, &a);
	case 'f':
		return read_file(im, dirfd, name, &a);
	case 'l':
		r = transport_get_str(&im->in, im->entry, im->target, "symlink target", &len);
		if (r < 0)
			return r;
		if (len == 0)
			return transport_damaged(&im->in, "entry %llu is a symlink to nothing",
						 (unsigned long long)im->entry);
		if (symlinkat(im->target, dirfd, name) < 0)
			return create_error(im, -errno);
		return finish_entry(im, -1, dirfd, name, &a, true);
	default:
		if (mknodat(dirfd, name, transport_kind_of(type) | 0600, a.rdev) < 0)
			return create_error(im, -errno);
		return finish_entry(im, -1, dirfd, name, &a, false);
	}
}

/* Read every record and the trailer, and check the checksum and the counts. */
static int extract(struct importer *im)
{
	uint64_t type;
	int r;

	for (;; im->entry++) {
		snprintf(im->in.where, sizeof(im->in.where), "entry %llu",
			 (unsigned long long)im->entry);
		r = transport_in_int(&im->in, 1, &type);
		if (r < 0)
			return r;
		if (type == 'E')
			break;
		if (!transport_is_entry_type(type))
			return transport_damaged(&im->in, "entry %llu has an unknown type (%llu)",
						 (unsigned long long)im->entry,
						 (unsigned long long)type);
		if (im->entry == 0 && type != 'd')
			return transport_damaged(&im->in,
						 "its first entry is not the top directory");
		if (im->entry > 0 && ++im->files > im->meta.files)
			return transport_damaged(
				&im->in, "it holds more entries than its header says (%llu)",
				(unsigned long long)im->meta.files);
		r = read_entry(im, (int)type);
		if (r < 0)
			return r;
	}
	if (im->entry == 0)
		return transport_damaged(&im->in, "it holds no top directory");
	return transport_get_trailer(&im->in, im->files, im->bytes, &im->meta);
}

/* Give each directory its owner, attributes, mode and times, the deepest first. */
static int apply_dirs(struct importer *im)
{
	char xname[TRANSPORT_MAX_XATTR_NAME + 1];
	struct dirmeta *d;
	size_t i, pos, nlen, vlen;
	int fd, r = 0;

	for (i = im->ndirs; i-- > 0 && r == 0;) {
		d = &im->dirs[i];
		snprintf(im->path, sizeof(im->path), "%s", d->path);
		fd = transport_open_dir_beneath(im->treefd, d->path);
		if (fd < 0)
			return extract_error(im, "open", fd);
		if (fchown(fd, d->a.uid, d->a.gid) < 0)
			r = extract_error(im, "set the owner of", -errno);
		for (pos = 0; r == 0 && pos < d->xlen; pos += 5 + nlen + vlen) {
			nlen = d->xattrs[pos];
			memcpy(xname, d->xattrs + pos + 1, nlen);
			xname[nlen] = '\0';
			vlen = (size_t)transport_get_le(d->xattrs + pos + 1 + nlen, 4);
			if (fsetxattr(fd, xname, d->xattrs + pos + 5 + nlen, vlen, 0) < 0)
				r = extract_error(im, "set an extended attribute of", -errno);
		}
		if (r == 0 && fchmod(fd, d->a.mode) < 0)
			r = extract_error(im, "set the mode of", -errno);
		if (r == 0 && futimens(fd, d->a.times) < 0)
			r = extract_error(im, "set the times of", -errno);
		(void)close(fd);
	}
	return r;
}

/* ---- the store ---- */

/* Open (creating it when missing) the store, and refuse a snapshot it already holds. */
static int open_store(struct importer *im, const char *store)
{
	struct stat st;
	int r;

	if (mkdir(store, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(im->msg, im->msglen, "cannot create the store '%s': %s", store,
			 strerror(-r));
		return r;
	}
	im->storefd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im->storefd < 0) {
		r = -errno;
		snprintf(im->msg, im->msglen, "cannot open the store '%s': %s", store,
			 strerror(-r));
		return r;
	}
	if (fstatat(im->storefd, im->meta.id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return already_imported(im, store);
	return 0;
}

/* Make store/.import-XXXXXX and its tree directory, and open both. */
static int make_temp_dir(struct importer *im, const char *store)
{
	int r;

	if (asprintf(&im->tmppath, "%s/.import-XXXXXX", store) < 0) {
		im->tmppath = NULL;
		return extract_error(im, "extract", -ENOMEM);
	}
	if (!mkdtemp(im->tmppath)) {
		r = -errno;
		snprintf(im->msg, im->msglen, "cannot create a directory in the store '%s': %s",
			 store, strerror(-r));
		free(im->tmppath);
		im->tmppath = NULL;
		return r;
	}
	im->tmpname = strrchr(im->tmppath, '/') + 1;
	im->tmpfd = openat(im->storefd, im->tmpname,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (im->tmpfd < 0 || mkdirat(im->tmpfd, TREE_NAME, 0700) < 0)
		goto out_errno;
	im->treefd = openat(im->tmpfd, TREE_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (im->treefd < 0)
		goto out_errno;
	return 0;
out_errno:
	r = -errno;
	snprintf(im->msg, im->msglen, "cannot create '%s/%s': %s", im->tmppath, TREE_NAME,
		 strerror(-r));
	return r;
}

/* Remove name in the store after a failure, saying at the end of the message if it stays. */
static void remove_after_failure(struct importer *im, const char *name)
{
	int r = remove_tree(im->storefd, name);

	if (r < 0)
		snap_msg_append(im->msg, im->msglen, "; '%s' in the store could not be removed: %s",
				name, strerror(-r));
}

int transport_import(const char *file, const char *store, struct transport_meta *ret,
		     transport_progress cb, void *ctx, char *msg, size_t msglen)
{
	struct importer *im = calloc(1, sizeof(*im));
	bool placed = false;
	size_t i;
	int r;

	if (!im) {
		snprintf(msg, msglen, "cannot import '%s': out of memory", file);
		return -ENOMEM;
	}
	im->storefd = im->tmpfd = im->treefd = im->parentfd = -1;
	im->cb = cb;
	im->ctx = ctx;
	im->msg = msg;
	im->msglen = msglen;
	im->next_progress = TRANSPORT_PROGRESS_STEP;
	im->xvalue = malloc(TRANSPORT_MAX_XATTR_VALUE);
	if (!im->xvalue) {
		r = -ENOMEM;
		snprintf(msg, msglen, "cannot import '%s': %s", file, strerror(-r));
		goto out_free;
	}
	r = transport_in_open(&im->in, file, TRANSPORT_BUF_SIZE, msg, msglen);
	if (r < 0)
		goto out_free;
	r = transport_read_header(&im->in, &im->meta);
	if (r == 0)
		r = open_store(im, store);
	if (r == 0)
		r = make_temp_dir(im, store);
	if (r == 0)
		r = extract(im);
	transport_close_fd(&im->parentfd);
	if (r == 0)
		r = apply_dirs(im);
	if (r == 0)
		r = transport_write_info_at(im->tmpfd, im->tmppath, &im->meta, msg, msglen);
	if (r == 0 && syncfs(im->tmpfd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot sync '%s': %s", im->tmppath, strerror(-r));
	}
	transport_close_fd(&im->treefd);
	transport_close_fd(&im->tmpfd);
	if (r == 0) {
		r = transport_rename_new(im->storefd, im->tmpname, im->storefd, im->meta.id);
		if (r == -EEXIST)
			(void)already_imported(im, store);
		else if (r < 0)
			snprintf(msg, msglen, "cannot rename '%s' to '%s/%s': %s", im->tmppath,
				 store, im->meta.id, strerror(-r));
		placed = r == 0;
	}
	if (r == 0 && fsync(im->storefd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot sync the store '%s': %s", store, strerror(-r));
		remove_after_failure(im, im->meta.id);
	}
	if (r < 0 && im->tmppath && !placed)
		remove_after_failure(im, im->tmpname);
	if (r == 0) {
		if (cb)
			cb(im->meta.bytes, im->meta.bytes, ctx);
		*ret = im->meta;
	}
	transport_close_fd(&im->storefd);
	transport_in_close(&im->in);
out_free:
	for (i = 0; i < im->ndirs; i++) {
		free(im->dirs[i].path);
		free(im->dirs[i].xattrs);
	}
	free(im->dirs);
	free(im->tmppath);
	free(im->xvalue);
	free(im);
	return r;
}
