/*
 * The comparison of a model with a tree as a reader sees it, and the report of what differs.
 * Everything the model knows is checked; what it does not know (ctime, atime, directory sizes,
 * mtimes it neither set nor recorded, the root's link count) is not. Directories' link counts
 * follow the filesystem's convention (report.dirs_one_link).
 */
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void report_diff(struct report *rep, const char *what, const char *path, const char *fmt, ...)
{
	va_list ap;

	rep->errors++;
	if (rep->errors > rep->max_errors)
		return;
	printf("MISMATCH seed %" PRIu64 ": %s: '%s': ", rep->seed, what, path);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case 0:
		return "unknown";
	default:
		return "other";
	}
}

struct cmp {
	struct report *rep;
	const char *what;
	const struct model *m;
	struct reader *r;
	ino_t *ino_of;            /* by object, 0 until seen */
	unsigned start_errors;
};

struct listing {
	char names[64][MODEL_PATH_MAX];
	mode_t types[64];
	size_t n;
	bool is_overflow;
};

static int add_name(const char *name, mode_t type, void *ctx)
{
	struct listing *l = ctx;

	if (l->n == sizeof(l->names) / sizeof(l->names[0])) {
		l->is_overflow = true;
		return 0;
	}
	snprintf(l->names[l->n], MODEL_PATH_MAX, "%s", name);
	l->types[l->n] = type;
	l->n++;
	return 0;
}

static void join(char *out, const char *dir, const char *name)
{
	if (strcmp(dir, ".") == 0)
		snprintf(out, MODEL_PATH_MAX * 2, "%s", name);
	else
		snprintf(out, MODEL_PATH_MAX * 2, "%s/%s", dir, name);
}

static void compare_obj(struct cmp *c, const char *path, int obj);

static void compare_dir(struct cmp *c, const char *path, int obj)
{
	const struct mobj *o = &c->m->objs[obj];
	struct listing *l = calloc(1, sizeof(*l));
	char sub[MODEL_PATH_MAX * 2];
	size_t i, j;
	int r;

	if (!l)
		abort();
	r = c->r->ops->list(c->r, path, add_name, l);
	if (r < 0) {
		report_diff(c->rep, c->what, path, "readdir failed: %s", strerror(-r));
		goto out;
	}
	if (l->is_overflow)
		report_diff(c->rep, c->what, path, "more than %zu entries", l->n);
	for (i = 0; i < l->n; i++) {
		if (obj == 0 && c->r->hide && strcmp(l->names[i], c->r->hide) == 0)
			continue;
		for (j = 0; j < o->nents; j++) {
			if (strcmp(o->ents[j].name, l->names[i]) == 0)
				break;
		}
		join(sub, path, l->names[i]);
		if (j == o->nents) {
			report_diff(c->rep, c->what, sub, "listed, but the model has no such name");
			continue;
		}
		if (l->types[i] && l->types[i] != (c->m->objs[o->ents[j].obj].mode & S_IFMT))
			report_diff(c->rep, c->what, sub, "listed as %s, expected %s",
				    type_name(l->types[i]),
				    type_name(c->m->objs[o->ents[j].obj].mode));
	}
	for (j = 0; j < o->nents; j++) {
		for (i = 0; i < l->n; i++) {
			if (strcmp(o->ents[j].name, l->names[i]) == 0)
				break;
		}
		join(sub, path, o->ents[j].name);
		if (i == l->n)
			report_diff(c->rep, c->what, sub,
				    "missing from the listing of its directory");
		compare_obj(c, sub, o->ents[j].obj);
	}
out:
	free(l);
}

static void compare_data(struct cmp *c, const char *path, const struct mobj *o)
{
	unsigned char *buf = malloc(o->size + 1);
	ssize_t n;
	size_t i;

	if (!buf)
		abort();
	n = c->r->ops->read_all(c->r, path, buf, o->size + 1);
	if (n < 0) {
		report_diff(c->rep, c->what, path, "read failed: %s", strerror((int)-n));
	} else if ((size_t)n != o->size) {
		report_diff(c->rep, c->what, path, "read %zd bytes, expected %zu", n, o->size);
	} else if (o->size && memcmp(buf, o->data, o->size) != 0) {
		size_t end;

		for (i = 0; buf[i] == o->data[i]; i++)
			;
		for (end = o->size; buf[end - 1] == o->data[end - 1]; end--)
			;
		report_diff(c->rep, c->what, path,
			    "bytes differ in [%zu, %zu) (first: got 0x%02x, expected 0x%02x)", i,
			    end, buf[i], o->data[i]);
	}
	free(buf);
}

static void compare_xattrs(struct cmp *c, const char *path, const struct mobj *o)
{
	char list[1024], *p;
	unsigned char val[MODEL_XATTR_VAL + 16];
	bool seen[MODEL_XATTRS] = { false };
	ssize_t n;
	unsigned i;

	n = c->r->ops->listxattr(c->r, path, list, sizeof(list));
	if (n < 0) {
		report_diff(c->rep, c->what, path, "listxattr failed: %s", strerror((int)-n));
		return;
	}
	for (p = list; p < list + n; p += strlen(p) + 1) {
		int slot;

		if (strncmp(p, "user.", 5) != 0)
			continue;
		slot = xattr_slot(p);
		if (slot < 0 || !o->xattrs[slot].is_set) {
			report_diff(c->rep, c->what, path, "has xattr '%s', the model has not", p);
			continue;
		}
		seen[slot] = true;
	}
	for (i = 0; i < MODEL_XATTRS; i++) {
		const struct mxattr *x = &o->xattrs[i];

		if (!x->is_set)
			continue;
		if (!seen[i]) {
			report_diff(c->rep, c->what, path, "xattr '%s' missing from the list",
				    xattr_name(i));
		}
		n = c->r->ops->getxattr(c->r, path, xattr_name(i), val, sizeof(val));
		if (n < 0) {
			report_diff(c->rep, c->what, path, "getxattr '%s' failed: %s",
				    xattr_name(i), strerror((int)-n));
		} else if ((size_t)n != x->len || memcmp(val, x->val, x->len) != 0) {
			report_diff(c->rep, c->what, path,
				    "xattr '%s': %zd bytes (first 0x%02x), expected %zu "
				    "(first 0x%02x)",
				    xattr_name(i), n, n > 0 ? val[0] : 0, x->len,
				    x->len ? x->val[0] : 0);
		}
	}
}

static void compare_ino(struct cmp *c, const char *path, int obj, ino_t ino)
{
	size_t i;

	if (c->ino_of[obj]) {
		if (c->ino_of[obj] != ino)
			report_diff(c->rep, c->what, path,
				    "inode %ju, but another name of the same object has %ju",
				    (uintmax_t)ino, (uintmax_t)c->ino_of[obj]);
		return;
	}
	for (i = 0; i < c->m->nobjs; i++) {
		if (c->ino_of[i] == ino)
			report_diff(c->rep, c->what, path,
				    "inode %ju is also that of a different object", (uintmax_t)ino);
	}
	c->ino_of[obj] = ino;
}

/* The link count of obj: as the model implies it, or 1 for a directory where that is the rule. */
static unsigned expected_nlink(const struct cmp *c, int obj)
{
	if (c->rep->dirs_one_link && S_ISDIR(c->m->objs[obj].mode))
		return 1;
	return model_nlink(c->m, obj);
}

static void compare_obj(struct cmp *c, const char *path, int obj)
{
	const struct mobj *o = &c->m->objs[obj];
	struct stat st;
	int r;

	r = c->r->ops->getattr(c->r, path, &st);
	if (r < 0) {
		report_diff(c->rep, c->what, path, "getattr failed: %s (expected a %s)",
			    strerror(-r), type_name(o->mode));
		return;
	}
	if ((st.st_mode & S_IFMT) != (o->mode & S_IFMT)) {
		report_diff(c->rep, c->what, path, "a %s, expected a %s", type_name(st.st_mode),
			    type_name(o->mode));
		return;
	}
	if (!S_ISLNK(o->mode) && (st.st_mode & 07777) != (o->mode & 07777))
		report_diff(c->rep, c->what, path, "mode %04o, expected %04o", st.st_mode & 07777,
			    o->mode & 07777);
	if (st.st_uid != o->uid || st.st_gid != o->gid)
		report_diff(c->rep, c->what, path, "owner %u:%u, expected %u:%u", st.st_uid,
			    st.st_gid, o->uid, o->gid);
	if (obj != 0 && st.st_nlink != expected_nlink(c, obj))
		report_diff(c->rep, c->what, path, "nlink %ju, expected %u",
			    (uintmax_t)st.st_nlink, expected_nlink(c, obj));
	if (S_ISREG(o->mode) && (uint64_t)st.st_size != o->size)
		report_diff(c->rep, c->what, path, "size %jd, expected %zu", (intmax_t)st.st_size,
			    o->size);
	if (S_ISLNK(o->mode) && (size_t)st.st_size != strlen(o->target))
		report_diff(c->rep, c->what, path, "size %jd, expected %zu", (intmax_t)st.st_size,
			    strlen(o->target));
	if (o->has_mtime && (st.st_mtim.tv_sec != o->mtime.tv_sec ||
			     st.st_mtim.tv_nsec != o->mtime.tv_nsec))
		report_diff(c->rep, c->what, path, "mtime %jd.%09ld, expected %jd.%09ld",
			    (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			    (intmax_t)o->mtime.tv_sec, o->mtime.tv_nsec);
	compare_ino(c, path, obj, st.st_ino);
	if (S_ISREG(o->mode))
		compare_data(c, path, o);
	if (S_ISLNK(o->mode)) {
		char buf[MODEL_STR_MAX * 2];
		ssize_t n = c->r->ops->readlink(c->r, path, buf, sizeof(buf));

		if (n < 0)
			report_diff(c->rep, c->what, path, "readlink failed: %s",
				    strerror((int)-n));
		else if ((size_t)n != strlen(o->target) || memcmp(buf, o->target, (size_t)n) != 0)
			report_diff(c->rep, c->what, path, "target '%.*s', expected '%s'", (int)n,
				    buf, o->target);
	}
	if (S_ISREG(o->mode) || S_ISDIR(o->mode))
		compare_xattrs(c, path, o);
	if (S_ISDIR(o->mode))
		compare_dir(c, path, obj);
}

unsigned compare_tree(struct report *rep, const char *what, const struct model *m,
		      struct reader *r)
{
	struct cmp c = { rep, what, m, r, calloc(m->nobjs, sizeof(ino_t)), rep->errors };

	if (!c.ino_of)
		abort();
	compare_obj(&c, ".", 0);
	free(c.ino_of);
	return rep->errors - c.start_errors;
}
