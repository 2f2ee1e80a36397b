/*
 * transport_export.c writes a snapshot's tree to an export file (transport_export()). It
 * walks the tree twice, once to count what the header announces and once to write, holding
 * one directory descriptor besides the root whatever the depth, and never follows a symlink:
 * every directory is opened beneath its parent with O_NOFOLLOW. An entry that changes between
 * the passes or while it is read fails the export with -EAGAIN rather than giving a file that
 * disagrees with itself. The file is written under a temporary name beside its destination
 * and renamed into place only once whole and synced. The records' layout is
 * transport_format.c's; this file only decides what goes into them.
 */
#include "transport_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "dirnames.h"

/* ---- the walk ---- */

/* A directory being walked: its names, read at once, and where its path ends. */
struct frame {
	char **names;
	size_t n, next;
	size_t pathlen;         /* the directory's path is ex->path[0..pathlen) */
};

/* An inode with more than one link, and the path it was first written under. */
struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct exporter {
	const char *dir;
	int rootfd;
	int curfd;              /* the directory atop the stack, or -1: reopen it */
	char path[PATH_MAX];    /* the entry in hand, relative to dir */
	struct frame *stack;
	size_t depth, cap;
	void *links;            /* struct link_seen by (dev, ino) */
	struct transport_out out;
	uint8_t *data;          /* TRANSPORT_BUF_SIZE, file data on its way out */
	uint8_t *xvalue;        /* TRANSPORT_MAX_XATTR_VALUE */
	uint64_t files, bytes;  /* counted so far */
	uint64_t total_bytes, next_progress;
	transport_progress cb;
	void *ctx;
	char *msg;
	size_t msglen;
};

typedef int (*visit_fn)(struct exporter *ex, int dirfd, const char *name, const struct stat *st);

/* Say that doing what to the entry in hand failed with r; returns r. */
static int entry_error(struct exporter *ex, const char *what, int r)
{
	snprintf(ex->msg, ex->msglen, "cannot %s '%s%s%s': %s", what, ex->dir,
		 ex->path[0] ? "/" : "", ex->path, strerror(-r));
	return r;
}

static int entry_changed(struct exporter *ex)
{
	snprintf(ex->msg, ex->msglen, "'%s%s%s' changed while it was being exported", ex->dir,
		 ex->path[0] ? "/" : "", ex->path);
	return -EAGAIN;
}

static int compare_links(const void *a, const void *b)
{
	const struct link_seen *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static void free_link(void *p)
{
	struct link_seen *l = p;

	free(l->path);
	free(l);
}

/*
 * The path the inode of st was first seen under (*ret_first, borrowed), or NULL when this is
 * the first time, and it is now recorded under ex->path.
 */
static int find_link(struct exporter *ex, const struct stat *st, const char **ret_first)
{
	struct link_seen key = { .dev = st->st_dev, .ino = st->st_ino }, *l, **found;

	found = tfind(&key, &ex->links, compare_links);
	if (found) {
		*ret_first = (*found)->path;
		return 0;
	}
	l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = key;
	l->path = strdup(ex->path);
	if (!l->path || !tsearch(l, &ex->links, compare_links)) {
		free_link(l);
		return -ENOMEM;
	}
	*ret_first = NULL;
	return 0;
}

static int push_frame(struct exporter *ex, int fd)
{
	struct frame *grown, *f;
	int r;

	if (ex->depth == ex->cap) {
		size_t cap = ex->cap ? 2 * ex->cap : 16;

		grown = realloc(ex->stack, cap * sizeof(*grown));
		if (!grown)
			return entry_error(ex, "read", -ENOMEM);
		ex->stack = grown;
		ex->cap = cap;
	}
	f = &ex->stack[ex->depth];
	r = dirnames_read(fd, &f->names, &f->n);
	if (r < 0)
		return entry_error(ex, "read the directory", r);
	f->next = 0;
	f->pathlen = strlen(ex->path);
	ex->depth++;
	return 0;
}

/* Forget the directory atop the stack, and close the descriptor open on it. */
static void drop_frame(struct exporter *ex)
{
	ex->depth--;
	dirnames_free(ex->stack[ex->depth].names, ex->stack[ex->depth].n);
	transport_close_fd(&ex->curfd);
}

/*
 * Call visit for each entry under ex->rootfd in depth-first order, the top directory first
 * (name "."), with ex->path set to the entry's relative path and dirfd its directory. Holds
 * one directory descriptor besides the root, reopening a parent by path after a subtree.
 */
static int walk(struct exporter *ex, visit_fn visit)
{
	struct stat st;
	struct frame *f;
	const char *name;
	size_t len;
	int r, fd;

	ex->path[0] = '\0';
	if (fstat(ex->rootfd, &st) < 0)
		return entry_error(ex, "read", -errno);
	r = visit(ex, ex->rootfd, ".", &st);
	if (r < 0)
		return r;
	r = push_frame(ex, ex->rootfd);
	while (r == 0 && ex->depth > 0) {
		f = &ex->stack[ex->depth - 1];
		if (f->next == f->n) {
			drop_frame(ex);
			if (ex->depth > 0)
				ex->path[ex->stack[ex->depth - 1].pathlen] = '\0';
			continue;
		}
		ex->path[f->pathlen] = '\0';
		if (ex->curfd < 0) {
			ex->curfd = transport_open_dir_beneath(ex->rootfd, ex->path);
			if (ex->curfd < 0) {
				r = entry_error(ex, "open", ex->curfd);
				break;
			}
		}
		name = f->names[f->next++];
		len = strlen(name);
		if (f->pathlen + 1 + len >= sizeof(ex->path)) {
			r = entry_error(ex, "export an entry of", -ENAMETOOLONG);
			break;
		}
		if (f->pathlen > 0)
			ex->path[f->pathlen] = '/';
		memcpy(ex->path + f->pathlen + (f->pathlen > 0), name, len + 1);
		if (fstatat(ex->curfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = entry_error(ex, "read", -errno);
			break;
		}
		r = visit(ex, ex->curfd, name, &st);
		if (r < 0 || !S_ISDIR(st.st_mode))
			continue;
		fd = openat(ex->curfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = entry_error(ex, "open", -errno);
			break;
		}
		(void)close(ex->curfd);
		ex->curfd = fd;
		r = push_frame(ex, fd);
	}
	while (ex->depth > 0)
		drop_frame(ex);
	transport_close_fd(&ex->curfd);
	return r;
}

/* The counting pass: entries and data bytes, each inode's data once. */
static int count_entry(struct exporter *ex, int dirfd, const char *name, const struct stat *st)
{
	const char *first = NULL;
	int r;

	if (ex->path[0])
		ex->files++;
	if (!S_ISREG(st->st_mode))
		return 0;
	if (st->st_nlink > 1) {
		r = find_link(ex, st, &first);
		if (r < 0)
			return entry_error(ex, "export", r);
	}
	if (!first)
		ex->bytes += (uint64_t)st->st_size;
	return 0;
}

/* ---- the writing pass ---- */

/* Write the size and data of the regular file name in dirfd, which st describes. */
static int write_data(struct exporter *ex, int dirfd, const char *name, const struct stat *st)
{
	uint64_t left = (uint64_t)st->st_size;
	struct stat now;
	ssize_t n;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return entry_error(ex, "open", -errno);
	if (fstat(fd, &now) < 0) {
		r = entry_error(ex, "read", -errno);
		goto out_close;
	}
	if (now.st_ino != st->st_ino || now.st_dev != st->st_dev || now.st_size != st->st_size) {
		r = entry_changed(ex);
		goto out_close;
	}
	transport_out_int(&ex->out, left, 8);
	while (left > 0 && !ex->out.err) {
		n = read(fd, ex->data, left < TRANSPORT_BUF_SIZE ? left : TRANSPORT_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = entry_error(ex, "read", -errno);
			goto out_close;
		}
		if (n == 0) {
			r = entry_changed(ex);
			goto out_close;
		}
		transport_out_put(&ex->out, ex->data, (size_t)n);
		left -= (uint64_t)n;
		ex->bytes += (uint64_t)n;
		transport_report(ex->cb, ex->ctx, ex->bytes, ex->total_bytes, &ex->next_progress);
	}
	r = ex->out.err;
out_close:
	(void)close(fd);
	return r;
}

/* Write the extended attributes of name in dirfd: a count, then names and values. */
static int write_xattrs(struct exporter *ex, int dirfd, const char *name)
{
	char path[64 + NAME_MAX], *list = NULL, *grown;
	ssize_t size = 0, v;
	uint64_t total = 0;
	size_t count = 0, len, i;
	int r = 0, tries;

	transport_proc_path(path, sizeof(path), dirfd, name);
	for (tries = 0; tries < 8; tries++) {
		size = llistxattr(path, NULL, 0);
		if (size < 0 && (errno == ENOTSUP || errno == ENOSYS)) {
			size = 0;
			break;
		}
		if (size < 0) {
			r = entry_error(ex, "list the extended attributes of", -errno);
			goto out_free;
		}
		if (size == 0)
			break;
		grown = realloc(list, (size_t)size + 1);
		if (!grown) {
			free(list);
			return entry_error(ex, "export", -ENOMEM);
		}
		list = grown;
		size = llistxattr(path, list, (size_t)size);
		if (size >= 0 || errno != ERANGE)
			break;
	}
	if (size < 0) {
		r = entry_error(ex, "list the extended attributes of", -errno);
		goto out_free;
	}
	for (i = 0; i < (size_t)size; i += strlen(list + i) + 1)
		count++;
	if (count > TRANSPORT_MAX_XATTRS) {
		r = entry_error(ex, "export the extended attributes of", -E2BIG);
		goto out_free;
	}
	transport_out_int(&ex->out, count, 4);
	for (i = 0; i < (size_t)size; i += len + 1) {
		len = strlen(list + i);
		if (len == 0 || len > TRANSPORT_MAX_XATTR_NAME) {
			r = entry_error(ex, "export the extended attributes of", -E2BIG);
			goto out_free;
		}
		v = lgetxattr(path, list + i, ex->xvalue, TRANSPORT_MAX_XATTR_VALUE);
		if (v < 0) {
			r = errno == ENODATA ? entry_changed(ex) :
			    entry_error(ex, "read an extended attribute of",
					errno == ERANGE ? -E2BIG : -errno);
			goto out_free;
		}
		total += len + (uint64_t)v;
		if (total > TRANSPORT_MAX_XATTR_TOTAL) {
			r = entry_error(ex, "export the extended attributes of", -E2BIG);
			goto out_free;
		}
		transport_put_xattr(&ex->out, list + i, len, ex->xvalue, (size_t)v);
	}
	r = ex->out.err;
out_free:
	free(list);
	return r;
}

/* The writing pass: one record for the entry in hand. */
static int write_entry(struct exporter *ex, int dirfd, const char *name, const struct stat *st)
{
	char type = transport_type_of(st->st_mode), target[PATH_MAX];
	const char *first = NULL;
	struct transport_out *o = &ex->out;
	ssize_t n;
	int r;

	if (!type)
		return entry_error(ex, "export", -EOPNOTSUPP);
	if (ex->path[0])
		ex->files++;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		r = find_link(ex, st, &first);
		if (r < 0)
			return entry_error(ex, "export", r);
	}
	if (first) {
		transport_put_hardlink(o, ex->path, first);
		return o->err;
	}
	transport_put_entry(o, type, ex->path, st);
	if (type == 'l') {
		n = readlinkat(dirfd, name, target, sizeof(target));
		if (n < 0)
			return entry_error(ex, "read", -errno);
		if ((size_t)n >= sizeof(target) || n == 0)
			return entry_error(ex, "export the symlink", -ENAMETOOLONG);
		transport_out_str(o, target, (size_t)n);
	} else if (type == 'f') {
		r = write_data(ex, dirfd, name, st);
		if (r < 0)
			return r;
	}
	return write_xattrs(ex, dirfd, name);
}

/* A temporary name beside file: DIR/.BASE.XXXXXX, and its directory; both freed by caller. */
static int temp_name(const char *file, char **ret_tmp, char **ret_dir)
{
	const char *slash = strrchr(file, '/');
	const char *base = slash ? slash + 1 : file;
	int plen = slash ? (int)(slash - file) : 0;
	char *tmp, *dir;

	if (asprintf(&tmp, "%.*s%s.%s.XXXXXX", plen, file, slash ? "/" : "", base) < 0)
		return -ENOMEM;
	if (asprintf(&dir, "%.*s", slash ? (plen ? plen : 1) : 1, slash ? file : ".") < 0) {
		free(tmp);
		return -ENOMEM;
	}
	*ret_tmp = tmp;
	*ret_dir = dir;
	return 0;
}

int transport_export(const char *dir, const struct transport_meta *m, const char *file,
		     transport_progress cb, void *ctx, char *msg, size_t msglen)
{
	struct exporter *ex;
	const char *problem = transport_meta_problem(m);
	char *tmp = NULL, *tmpdir = NULL;
	uint64_t files, bytes;
	struct stat st;
	int r, fd = -1, dfd;

	if (problem) {
		snprintf(msg, msglen, "cannot export to '%s': %s", file, problem);
		return -EINVAL;
	}
	if (!*file || file[strlen(file) - 1] == '/') {
		snprintf(msg, msglen, "'%s' is not a file name", file);
		return -EINVAL;
	}
	if (fstatat(AT_FDCWD, file, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(msg, msglen, "'%s' already exists", file);
		return -EEXIST;
	}
	if (errno != ENOENT) {
		r = -errno;
		snprintf(msg, msglen, "cannot create '%s': %s", file, strerror(-r));
		return r;
	}
	ex = calloc(1, sizeof(*ex));
	if (!ex) {
		snprintf(msg, msglen, "cannot export to '%s': out of memory", file);
		return -ENOMEM;
	}
	ex->dir = dir;
	ex->curfd = -1;
	ex->cb = cb;
	ex->ctx = ctx;
	ex->msg = msg;
	ex->msglen = msglen;
	ex->data = malloc(TRANSPORT_BUF_SIZE);
	ex->xvalue = malloc(TRANSPORT_MAX_XATTR_VALUE);
	ex->out.buf = malloc(TRANSPORT_BUF_SIZE);
	if (!ex->data || !ex->xvalue || !ex->out.buf) {
		r = -ENOMEM;
		snprintf(msg, msglen, "cannot export '%s': %s", dir, strerror(-r));
		goto out_free;
	}
	ex->rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ex->rootfd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", dir, strerror(-r));
		goto out_free;
	}
	r = walk(ex, count_entry);
	if (r < 0)
		goto out_close_root;
	files = ex->files;
	bytes = ex->bytes;
	ex->files = ex->bytes = 0;
	tdestroy(ex->links, free_link);
	ex->links = NULL;
	ex->total_bytes = bytes;
	ex->next_progress = TRANSPORT_PROGRESS_STEP;

	r = temp_name(file, &tmp, &tmpdir);
	if (r < 0) {
		snprintf(msg, msglen, "cannot create '%s': %s", file, strerror(-r));
		goto out_close_root;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot create '%s': %s", tmp, strerror(-r));
		goto out_free_tmp;
	}
	ex->out.fd = fd;
	ex->out.file = tmp;
	ex->out.msg = msg;
	ex->out.msglen = msglen;
	ex->out.hashing = true;
	sha256_init(&ex->out.hash);
	transport_put_header(&ex->out, m, files, bytes);
	r = walk(ex, write_entry);
	if (r < 0)
		goto out_unlink;
	if (ex->files != files || ex->bytes != bytes) {
		snprintf(msg, msglen, "'%s' changed while it was being exported", dir);
		r = -EAGAIN;
		goto out_unlink;
	}
	transport_put_trailer(&ex->out, files, bytes);
	r = transport_out_flush(&ex->out);
	if (r < 0)
		goto out_unlink;
	if (fsync(fd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot write '%s': %s", tmp, strerror(-r));
		goto out_unlink;
	}
	r = transport_rename_new(AT_FDCWD, tmp, AT_FDCWD, file);
	if (r < 0) {
		if (r == -EEXIST)
			snprintf(msg, msglen, "'%s' already exists", file);
		else
			snprintf(msg, msglen, "cannot create '%s': %s", file, strerror(-r));
		goto out_unlink;
	}
	dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot sync the directory of '%s': %s", file, strerror(-r));
		(void)unlink(file);
	}
	if (dfd >= 0)
		(void)close(dfd);
	if (r == 0 && cb)
		cb(bytes, bytes, ctx);
	goto out_close;
out_unlink:
	(void)unlink(tmp);
out_close:
	(void)close(fd);
out_free_tmp:
	free(tmp);
	free(tmpdir);
out_close_root:
	(void)close(ex->rootfd);
out_free:
	tdestroy(ex->links, free_link);
	free(ex->stack);
	free(ex->data);
	free(ex->xvalue);
	free(ex->out.buf);
	free(ex);
	return r;
}
