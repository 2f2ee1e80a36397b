/*
 * Operations as values: their text form (one line each, so a run can be traced and replayed),
 * the random generator that draws only operations that succeed on the live model, the check
 * that a replayed operation still fits, and each operation's effect on the model.
 */
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Signatures of the text form: p path, q second path, s string, n number, o octal number;
 * numbers fill n[] in order.
 */
static const struct {
	const char *name;
	const char *sig;
} kinds[OP_COUNT] = {
	[OP_WRITE] = { "write", "pnnn" },
	[OP_CREATE] = { "create", "po" },
	[OP_MKDIR] = { "mkdir", "po" },
	[OP_MKNOD] = { "mknod", "po" },
	[OP_SYMLINK] = { "symlink", "ps" },
	[OP_LINK] = { "link", "pq" },
	[OP_TRUNCATE] = { "truncate", "pn" },
	[OP_PUNCH] = { "punch", "pnn" },
	[OP_RENAME] = { "rename", "pq" },
	[OP_EXCHANGE] = { "exchange", "pq" },
	[OP_UNLINK] = { "unlink", "p" },
	[OP_RMDIR] = { "rmdir", "p" },
	[OP_CHMOD] = { "chmod", "po" },
	[OP_CHOWN] = { "chown", "pnn" },
	[OP_UTIMENS] = { "utimens", "pnnnn" },
	[OP_SETXATTR] = { "setxattr", "psnn" },
	[OP_RMXATTR] = { "rmxattr", "ps" },
	[OP_OPEN] = { "open", "np" },
	[OP_HWRITE] = { "hwrite", "nnnn" },
	[OP_HTRUNC] = { "htrunc", "nn" },
	[OP_CLOSE] = { "close", "n" },
	[OP_SNAP] = { "snap", "" },
	[OP_DELETE] = { "delete", "n" },
	[OP_REOPEN] = { "reopen", "" },
};

void op_format(const struct op *op, char *buf, size_t size)
{
	const char *s;
	size_t len;
	int k = 0;

	len = (size_t)snprintf(buf, size, "%s", kinds[op->kind].name);
	for (s = kinds[op->kind].sig; *s && len < size; s++) {
		switch (*s) {
		case 'p':
			len += (size_t)snprintf(buf + len, size - len, " %s", op->path);
			break;
		case 'q':
			len += (size_t)snprintf(buf + len, size - len, " %s", op->path2);
			break;
		case 's':
			len += (size_t)snprintf(buf + len, size - len, " %s", op->str);
			break;
		case 'o':
			len += (size_t)snprintf(buf + len, size - len, " %04" PRIo64, op->n[k++]);
			break;
		default:
			len += (size_t)snprintf(buf + len, size - len, " %" PRIu64, op->n[k++]);
			break;
		}
	}
}

int op_parse(const char *line, struct op *op)
{
	char word[MODEL_PATH_MAX];
	const char *p = line, *s;
	int kind, k = 0, used;

	memset(op, 0, sizeof(*op));
	if (sscanf(p, "%95s%n", word, &used) != 1)
		return -EINVAL;
	p += used;
	for (kind = 0; kind < OP_COUNT; kind++) {
		if (strcmp(word, kinds[kind].name) == 0)
			break;
	}
	if (kind == OP_COUNT)
		return -EINVAL;
	op->kind = (enum op_kind)kind;
	for (s = kinds[kind].sig; *s; s++) {
		char *end;

		if (sscanf(p, "%95s%n", word, &used) != 1)
			return -EINVAL;
		p += used;
		switch (*s) {
		case 'p':
			snprintf(op->path, sizeof(op->path), "%s", word);
			break;
		case 'q':
			snprintf(op->path2, sizeof(op->path2), "%s", word);
			break;
		case 's':
			snprintf(op->str, sizeof(op->str), "%s", word);
			break;
		default:
			errno = 0;
			op->n[k++] = strtoull(word, &end, *s == 'o' ? 8 : 10);
			if (errno || *end)
				return -EINVAL;
			break;
		}
	}
	return 0;
}

/* ---- drawing operations --------------------------------------------------------------------- */

static const char *const names[] = { "a", "b", "c", "d", "e", "f" };
#define NNAMES (sizeof(names) / sizeof(names[0]))

struct cand {
	char path[MODEL_PATH_MAX];
	int obj;
};

struct cands {
	struct cand c[256];
	size_t n;
	const struct model *m;
};

static int collect(const char *path, int obj, void *ctx)
{
	struct cands *cs = ctx;

	if (cs->n < sizeof(cs->c) / sizeof(cs->c[0])) {
		snprintf(cs->c[cs->n].path, MODEL_PATH_MAX, "%s", path);
		cs->c[cs->n].obj = obj;
		cs->n++;
	}
	return 0;
}

/* A random name (or root, when with_root) whose object passes ok; NULL when none does. */
static const struct cand *pick(struct rng *r, const struct cands *cs, bool with_root,
			       bool (*ok)(const struct model *m, int obj))
{
	static struct cand root = { ".", 0 };
	const struct cand *fit[257];
	size_t i, n = 0;

	if (with_root && ok(cs->m, 0))
		fit[n++] = &root;
	for (i = 0; i < cs->n; i++) {
		if (ok(cs->m, cs->c[i].obj))
			fit[n++] = &cs->c[i];
	}
	return n ? fit[rng_below(r, n)] : NULL;
}

static bool is_reg(const struct model *m, int obj)
{
	return S_ISREG(m->objs[obj].mode);
}

static bool is_dir(const struct model *m, int obj)
{
	return S_ISDIR(m->objs[obj].mode);
}

static bool is_nondir(const struct model *m, int obj)
{
	return !S_ISDIR(m->objs[obj].mode);
}

static bool is_any(const struct model *m, int obj)
{
	return true;
}

static bool is_chmodable(const struct model *m, int obj)
{
	return !S_ISLNK(m->objs[obj].mode);
}

static bool is_xattrable(const struct model *m, int obj)
{
	return S_ISREG(m->objs[obj].mode) || S_ISDIR(m->objs[obj].mode);
}

static bool has_xattr(const struct model *m, int obj)
{
	unsigned i;

	if (!is_xattrable(m, obj))
		return false;
	for (i = 0; i < MODEL_XATTRS; i++) {
		if (m->objs[obj].xattrs[i].is_set)
			return true;
	}
	return false;
}

static bool is_empty_dir(const struct model *m, int obj)
{
	return obj != 0 && S_ISDIR(m->objs[obj].mode) && m->objs[obj].nents == 0;
}

static bool is_shallow_dir(const struct model *m, int obj)
{
	return S_ISDIR(m->objs[obj].mode) && model_depth(m, obj) < MODEL_MAX_DEPTH;
}

/* A path for a new name in a random directory that passes ok; false when none was found. */
static bool pick_free(struct rng *r, const struct cands *cs,
		      bool (*ok)(const struct model *m, int obj), int avoid, char *path)
{
	int tries;

	for (tries = 0; tries < 8; tries++) {
		const struct cand *d = pick(r, cs, true, ok);
		const char *name = names[rng_below(r, NNAMES)];
		char p[MODEL_PATH_MAX * 2];

		if (!d)
			return false;
		if (avoid >= 0 && model_is_ancestor(cs->m, avoid, d->obj))
			continue;
		if (strcmp(d->path, ".") == 0)
			snprintf(p, sizeof(p), "%s", name);
		else
			snprintf(p, sizeof(p), "%s/%s", d->path, name);
		if (strlen(p) >= MODEL_PATH_MAX || model_lookup(cs->m, p) >= 0)
			continue;
		strcpy(path, p);
		return true;
	}
	return false;
}

static uint64_t file_max(const struct gen_params *gp)
{
	return 16ull * gp->chunk;
}

/* An offset: the start, inside, around a chunk edge, beyond the end (a hole), anywhere. */
static uint64_t pick_off(struct rng *r, const struct gen_params *gp, uint64_t size)
{
	uint64_t c = gp->chunk, off;

	switch (rng_below(r, 5)) {
	case 0:
		off = 0;
		break;
	case 1:
		off = rng_below(r, size + 1);
		break;
	case 2:
		off = (1 + rng_below(r, 10)) * c - 8 + rng_below(r, 17);
		break;
	case 3:
		off = size + rng_below(r, 3 * c);
		break;
	default:
		off = rng_below(r, 12 * c);
		break;
	}
	if (off >= file_max(gp) - 1)
		off = rng_below(r, file_max(gp) / 2);
	return off;
}

static uint64_t pick_len(struct rng *r, const struct gen_params *gp, uint64_t off)
{
	uint64_t c = gp->chunk, len;

	switch (rng_below(r, 4)) {
	case 0:
		len = 1 + rng_below(r, 64);
		break;
	case 1:
		len = 1 + rng_below(r, c);
		break;
	case 2:
		len = c;
		break;
	default:
		len = 1 + rng_below(r, 3 * c);
		break;
	}
	if (off + len > file_max(gp))
		len = file_max(gp) - off;
	return len;
}

static uint64_t pick_size(struct rng *r, const struct gen_params *gp, uint64_t size)
{
	uint64_t c = gp->chunk, s;

	switch (rng_below(r, 4)) {
	case 0:
		s = rng_below(r, size + 1);
		break;
	case 1:
		s = size + 1 + rng_below(r, 2 * c);
		break;
	case 2:
		s = rng_below(r, 11) * c;
		break;
	default:
		s = 0;
		break;
	}
	return s > file_max(gp) ? file_max(gp) : s;
}

static mode_t pick_mode(struct rng *r, const struct gen_params *gp, bool dir)
{
	mode_t mode = (mode_t)rng_below(r, 01000);

	if (!gp->is_root)
		mode |= dir ? 0700 : 0600;
	return mode;
}

static unsigned count_dirs(const struct cands *cs)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < cs->n; i++)
		n += is_dir(cs->m, cs->c[i].obj);
	return n;
}

static void pick_target(struct rng *r, const struct cands *cs, char *str)
{
	static const char *const fixed[] = { "nowhere", "../up", "/abs/target", "a/b/c",
		"a-target-name-that-is-rather-long-0123456789" };
	const struct cand *c;

	if (rng_below(r, 2) == 0) {
		c = pick(r, cs, false, is_any);
		if (c) {
			snprintf(str, MODEL_STR_MAX, "%s", c->path);
			return;
		}
	}
	snprintf(str, MODEL_STR_MAX, "%s", fixed[rng_below(r, sizeof(fixed) / sizeof(fixed[0]))]);
}

/* Fill op for kind from the live model; false when the model has nothing it applies to. */
static bool draw(struct rng *r, const struct cands *cs, const struct hold *holds,
		 const struct gen_params *gp, enum op_kind kind, struct op *op)
{
	static const uid_t ids[] = { 0, 1, 1000, 1001, 65534 };
	const struct model *m = cs->m;
	const struct cand *c, *d;
	unsigned slot;

	op->kind = kind;
	switch (kind) {
	case OP_WRITE:
	case OP_TRUNCATE:
	case OP_PUNCH:
		c = pick(r, cs, false, is_reg);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		if (kind == OP_WRITE) {
			op->n[0] = pick_off(r, gp, m->objs[c->obj].size);
			op->n[1] = pick_len(r, gp, op->n[0]);
			op->n[2] = rng_next(r);
		} else if (kind == OP_TRUNCATE) {
			op->n[0] = pick_size(r, gp, m->objs[c->obj].size);
		} else {
			op->n[0] = rng_below(r, m->objs[c->obj].size + gp->chunk);
			op->n[1] = 1 + rng_below(r, 3 * gp->chunk);
		}
		return true;
	case OP_CREATE:
	case OP_MKNOD:
	case OP_SYMLINK:
		if (!pick_free(r, cs, is_dir, -1, op->path))
			return false;
		if (kind == OP_SYMLINK)
			pick_target(r, cs, op->str);
		else
			op->n[0] = pick_mode(r, gp, false);
		return true;
	case OP_MKDIR:
		if (count_dirs(cs) >= MODEL_MAX_DIRS)
			return false;
		if (!pick_free(r, cs, is_shallow_dir, -1, op->path))
			return false;
		op->n[0] = pick_mode(r, gp, true);
		return true;
	case OP_LINK:
		c = pick(r, cs, false, is_nondir);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		return pick_free(r, cs, is_dir, -1, op->path2);
	case OP_RENAME:
		c = pick(r, cs, false, is_any);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		if (rng_below(r, 5) < 2) {
			/* onto an existing name: a non-directory, or an empty directory */
			d = pick(r, cs, false, is_dir(m, c->obj) ? is_empty_dir : is_nondir);
			if (d && !(is_dir(m, c->obj) && model_is_ancestor(m, c->obj, d->obj))) {
				snprintf(op->path2, MODEL_PATH_MAX, "%s", d->path);
				return true;
			}
		}
		return pick_free(r, cs, is_dir, is_dir(m, c->obj) ? c->obj : -1, op->path2);
	case OP_EXCHANGE:
		c = pick(r, cs, false, is_any);
		d = pick(r, cs, false, is_any);
		if (!c || !d)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		snprintf(op->path2, MODEL_PATH_MAX, "%s", d->path);
		return op_check(m, holds, op);
	case OP_UNLINK:
	case OP_RMDIR:
		c = pick(r, cs, false, kind == OP_UNLINK ? is_nondir : is_empty_dir);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		return true;
	case OP_CHMOD:
		c = pick(r, cs, true, is_chmodable);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		op->n[0] = pick_mode(r, gp, is_dir(m, c->obj));
		return true;
	case OP_CHOWN:
		c = pick(r, cs, true, is_any);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		if (gp->is_root) {
			op->n[0] = ids[rng_below(r, sizeof(ids) / sizeof(ids[0]))];
			op->n[1] = ids[rng_below(r, sizeof(ids) / sizeof(ids[0]))];
		} else {
			op->n[0] = m->objs[c->obj].uid;
			op->n[1] = m->objs[c->obj].gid;
		}
		return true;
	case OP_UTIMENS:
		c = pick(r, cs, true, is_any);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		op->n[0] = 1000000000 + rng_below(r, 700000000);
		op->n[1] = rng_below(r, 3) ? rng_below(r, 1000000000) : 0;
		op->n[2] = 1000000000 + rng_below(r, 700000000);
		op->n[3] = rng_below(r, 3) ? rng_below(r, 1000000000) : 0;
		return true;
	case OP_SETXATTR:
		c = pick(r, cs, true, is_xattrable);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		snprintf(op->str, MODEL_STR_MAX, "%s",
			 xattr_name((unsigned)rng_below(r, MODEL_XATTRS)));
		op->n[0] = rng_below(r, MODEL_XATTR_VAL + 1);
		op->n[1] = rng_next(r);
		return true;
	case OP_RMXATTR: {
		unsigned i, set[MODEL_XATTRS], n = 0;

		c = pick(r, cs, true, has_xattr);
		if (!c)
			return false;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		for (i = 0; i < MODEL_XATTRS; i++) {
			if (m->objs[c->obj].xattrs[i].is_set)
				set[n++] = i;
		}
		snprintf(op->str, MODEL_STR_MAX, "%s", xattr_name(set[rng_below(r, n)]));
		return true;
	}
	case OP_OPEN:
		slot = (unsigned)rng_below(r, MODEL_HOLDS);
		if (holds[slot].is_open)
			return false;
		c = pick(r, cs, false, is_reg);
		if (!c)
			return false;
		op->n[0] = slot;
		snprintf(op->path, MODEL_PATH_MAX, "%s", c->path);
		return true;
	case OP_HWRITE:
	case OP_HTRUNC:
	case OP_CLOSE:
		slot = (unsigned)rng_below(r, MODEL_HOLDS);
		if (!holds[slot].is_open)
			return false;
		op->n[0] = slot;
		if (kind == OP_HWRITE) {
			op->n[1] = pick_off(r, gp, m->objs[holds[slot].obj].size);
			op->n[2] = pick_len(r, gp, op->n[1]);
			op->n[3] = rng_next(r);
		} else if (kind == OP_HTRUNC) {
			op->n[1] = pick_size(r, gp, m->objs[holds[slot].obj].size);
		}
		return true;
	default:
		return false;
	}
}

/* Relative weights of the change operations. */
static const unsigned weights[OP_SNAP] = {
	[OP_WRITE] = 20, [OP_CREATE] = 9, [OP_MKDIR] = 4, [OP_MKNOD] = 1, [OP_SYMLINK] = 3,
	[OP_LINK] = 4, [OP_TRUNCATE] = 6, [OP_PUNCH] = 5, [OP_RENAME] = 9, [OP_EXCHANGE] = 3,
	[OP_UNLINK] = 6,
	[OP_RMDIR] = 3, [OP_CHMOD] = 3, [OP_CHOWN] = 3, [OP_UTIMENS] = 3, [OP_SETXATTR] = 5,
	[OP_RMXATTR] = 2, [OP_OPEN] = 2, [OP_HWRITE] = 8, [OP_HTRUNC] = 1, [OP_CLOSE] = 1,
};

void op_generate(struct rng *r, const struct model *m, const struct hold *holds,
		 const struct gen_params *gp, struct op *ret)
{
	struct cands *cs = calloc(1, sizeof(*cs));
	unsigned total = 0, w, k;

	if (!cs)
		abort();
	cs->m = m;
	(void)model_walk(m, collect, cs);
	memset(ret, 0, sizeof(*ret));
	if (gp->reopen_every && rng_below(r, gp->reopen_every) == 0) {
		ret->kind = OP_REOPEN;
		goto out;
	}
	if (gp->snap_every && rng_below(r, gp->snap_every) == 0 &&
	    gp->nsnaps_alive < gp->max_alive) {
		ret->kind = OP_SNAP;
		goto out;
	}
	if (gp->nsnaps_alive &&
	    (gp->nsnaps_alive >= gp->max_alive ||
	     (gp->delete_every && rng_below(r, gp->delete_every) == 0))) {
		unsigned pickn = (unsigned)rng_below(r, gp->nsnaps_alive), i;

		for (i = 0; i < gp->nsnaps; i++) {
			if (gp->snap_alive[i] && pickn-- == 0)
				break;
		}
		ret->kind = OP_DELETE;
		ret->n[0] = i;
		goto out;
	}
	for (k = 0; k < OP_SNAP; k++)
		total += weights[k];
	for (;;) {
		w = (unsigned)rng_below(r, total);
		for (k = 0; w >= weights[k]; k++)
			w -= weights[k];
		memset(ret, 0, sizeof(*ret));
		if (draw(r, cs, holds, gp, (enum op_kind)k, ret))
			break;
	}
out:
	free(cs);
}

/* ---- the model's side ------------------------------------------------------------------------ */

/* The object of path when it exists and passes ok, else -1. */
static int obj_at(const struct model *m, const char *path,
		  bool (*ok)(const struct model *m, int obj))
{
	int obj = model_lookup(m, path);

	return obj >= 0 && ok(m, obj) ? obj : -1;
}

/* Directory of the new name path, -1 when it has none or path exists. */
static int new_name_dir(const struct model *m, const char *path)
{
	char name[MODEL_NAME_MAX];
	int dir = model_parent(m, path, name);
	const char *last = strrchr(path, '/');

	last = last ? last + 1 : path;
	if (dir < 0 || strlen(last) >= MODEL_NAME_MAX || !*last || strcmp(last, ".") == 0 ||
	    strcmp(last, "..") == 0 || model_lookup(m, path) >= 0)
		return -1;
	return dir;
}

static bool rename_fits(const struct model *m, const struct op *op)
{
	char name[MODEL_NAME_MAX];
	int src = model_lookup(m, op->path), dst, dir;

	if (src <= 0 || model_parent(m, op->path, name) < 0)
		return false;
	dir = model_parent(m, op->path2, name);
	if (dir < 0 || strlen(strrchr(op->path2, '/') ? strrchr(op->path2, '/') + 1 : op->path2) >=
			       MODEL_NAME_MAX)
		return false;
	dst = model_lookup(m, op->path2);
	if (dst == src)
		return true;
	if (is_dir(m, src) && model_is_ancestor(m, src, dir))
		return false;
	if (dst < 0)
		return true;
	return is_dir(m, src) ? is_empty_dir(m, dst) : is_nondir(m, dst);
}

static bool exchange_fits(const struct model *m, const struct op *op)
{
	char name[MODEL_NAME_MAX];
	int a = model_lookup(m, op->path), b = model_lookup(m, op->path2);
	int adir = model_parent(m, op->path, name), bdir = model_parent(m, op->path2, name);

	if (a <= 0 || b <= 0 || adir < 0 || bdir < 0)
		return false;
	if (a == b)
		return true;
	if (is_dir(m, a) && model_is_ancestor(m, a, bdir))
		return false;
	return !(is_dir(m, b) && model_is_ancestor(m, b, adir));
}

static bool holds_slot(const struct hold *holds, uint64_t slot, bool open)
{
	return slot < MODEL_HOLDS && holds[slot].is_open == open;
}

int op_check(const struct model *m, const struct hold *holds, const struct op *op)
{
	switch (op->kind) {
	case OP_WRITE:
		return obj_at(m, op->path, is_reg) >= 0 && op->n[0] + op->n[1] < (1ull << 30);
	case OP_TRUNCATE:
		return obj_at(m, op->path, is_reg) >= 0 && op->n[0] < (1ull << 30);
	case OP_PUNCH:
		return obj_at(m, op->path, is_reg) >= 0 && op->n[1] > 0 &&
		       op->n[0] + op->n[1] < (1ull << 30);
	case OP_CREATE:
	case OP_MKDIR:
	case OP_MKNOD:
	case OP_SYMLINK:
		return new_name_dir(m, op->path) >= 0 &&
		       (op->kind == OP_SYMLINK || op->n[0] < 01000);
	case OP_LINK:
		return obj_at(m, op->path, is_nondir) >= 0 && new_name_dir(m, op->path2) >= 0;
	case OP_RENAME:
		return rename_fits(m, op);
	case OP_EXCHANGE:
		return exchange_fits(m, op);
	case OP_UNLINK:
		return obj_at(m, op->path, is_nondir) >= 0;
	case OP_RMDIR:
		return obj_at(m, op->path, is_empty_dir) >= 0;
	case OP_CHMOD:
		return obj_at(m, op->path, is_chmodable) >= 0 && op->n[0] < 01000;
	case OP_CHOWN:
	case OP_UTIMENS:
		return obj_at(m, op->path, is_any) >= 0;
	case OP_SETXATTR:
		return obj_at(m, op->path, is_xattrable) >= 0 && xattr_slot(op->str) >= 0 &&
		       op->n[0] <= MODEL_XATTR_VAL;
	case OP_RMXATTR: {
		int obj = obj_at(m, op->path, is_xattrable), i = xattr_slot(op->str);

		return obj >= 0 && i >= 0 && m->objs[obj].xattrs[i].is_set;
	}
	case OP_OPEN:
		return holds_slot(holds, op->n[0], false) && obj_at(m, op->path, is_reg) >= 0;
	case OP_HWRITE:
		return holds_slot(holds, op->n[0], true) && op->n[1] + op->n[2] < (1ull << 30);
	case OP_HTRUNC:
		return holds_slot(holds, op->n[0], true) && op->n[1] < (1ull << 30);
	case OP_CLOSE:
		return holds_slot(holds, op->n[0], true);
	default:
		return 1;
	}
}

static int write_model(struct model *m, int obj, uint64_t off, uint64_t len, uint64_t dseed)
{
	struct mobj *o = &m->objs[obj];
	int r;

	if (off + len > o->size) {
		r = model_set_size(m, obj, off + len);
		if (r < 0)
			return r;
	}
	fill_bytes(dseed, o->data + off, len);
	o->has_mtime = false;
	return 1;
}

static int truncate_model(struct model *m, int obj, uint64_t size)
{
	int r = model_set_size(m, obj, size);

	if (r < 0)
		return r;
	m->objs[obj].has_mtime = false;
	return 1;
}

static int create_model(struct model *m, const struct op *op, mode_t type, uid_t uid, gid_t gid)
{
	char name[MODEL_NAME_MAX];
	int dir = model_parent(m, op->path, name);
	int obj = model_obj_new(m, type | (mode_t)(type == S_IFLNK ? 0777 : op->n[0]), uid, gid);
	int r;

	if (obj < 0)
		return obj;
	if (type == S_IFLNK)
		snprintf(m->objs[obj].target, MODEL_STR_MAX, "%s", op->str);
	r = model_entry_add(m, dir, name, obj);
	if (r < 0)
		return r;
	m->objs[dir].has_mtime = false;
	return 1;
}

static int rename_model(struct model *m, const struct op *op)
{
	char oname[MODEL_NAME_MAX], nname[MODEL_NAME_MAX];
	int odir = model_parent(m, op->path, oname), ndir = model_parent(m, op->path2, nname);
	int src = model_lookup(m, op->path), dst = model_lookup(m, op->path2);
	int r;

	if (dst == src)
		return 1;
	if (dst >= 0)
		model_entry_del(m, ndir, nname);
	r = model_entry_add(m, ndir, nname, src);
	if (r < 0)
		return r;
	model_entry_del(m, odir, oname);
	m->objs[odir].has_mtime = false;
	m->objs[ndir].has_mtime = false;
	if (is_dir(m, src))
		m->objs[src].has_mtime = false;
	return 1;
}

static int exchange_model(struct model *m, const struct op *op)
{
	char aname[MODEL_NAME_MAX], bname[MODEL_NAME_MAX];
	int adir = model_parent(m, op->path, aname), bdir = model_parent(m, op->path2, bname);
	int a = model_lookup(m, op->path), b = model_lookup(m, op->path2);

	if (a == b)
		return 1;
	model_entry_set(m, adir, aname, b);
	model_entry_set(m, bdir, bname, a);
	m->objs[adir].has_mtime = false;
	m->objs[bdir].has_mtime = false;
	if (is_dir(m, a))
		m->objs[a].has_mtime = false;
	if (is_dir(m, b))
		m->objs[b].has_mtime = false;
	return 1;
}

int op_apply_model(struct model *m, struct hold *holds, const struct op *op)
{
	char name[MODEL_NAME_MAX];
	struct mobj *o;
	int obj, dir, i;

	if (!op_check(m, holds, op))
		return 0;
	obj = op->kind == OP_HWRITE || op->kind == OP_HTRUNC || op->kind == OP_CLOSE ?
		      holds[op->n[0]].obj :
		      model_lookup(m, op->path);
	o = obj >= 0 ? &m->objs[obj] : NULL;
	switch (op->kind) {
	case OP_WRITE:
		return write_model(m, obj, op->n[0], op->n[1], op->n[2]);
	case OP_HWRITE:
		return write_model(m, obj, op->n[1], op->n[2], op->n[3]);
	case OP_TRUNCATE:
		return truncate_model(m, obj, op->n[0]);
	case OP_HTRUNC:
		return truncate_model(m, obj, op->n[1]);
	case OP_PUNCH:
		if (op->n[0] < o->size) {
			uint64_t end = op->n[0] + op->n[1];

			memset(o->data + op->n[0], 0,
			       (end < o->size ? end : o->size) - op->n[0]);
		}
		o->has_mtime = false;
		return 1;
	case OP_CREATE:
		return create_model(m, op, S_IFREG, geteuid(), getegid());
	case OP_MKDIR:
		return create_model(m, op, S_IFDIR, geteuid(), getegid());
	case OP_MKNOD:
		return create_model(m, op, S_IFIFO, geteuid(), getegid());
	case OP_SYMLINK:
		return create_model(m, op, S_IFLNK, geteuid(), getegid());
	case OP_LINK:
		dir = model_parent(m, op->path2, name);
		i = model_entry_add(m, dir, name, obj);
		if (i < 0)
			return i;
		m->objs[dir].has_mtime = false;
		return 1;
	case OP_RENAME:
		return rename_model(m, op);
	case OP_EXCHANGE:
		return exchange_model(m, op);
	case OP_UNLINK:
	case OP_RMDIR:
		dir = model_parent(m, op->path, name);
		model_entry_del(m, dir, name);
		m->objs[dir].has_mtime = false;
		return 1;
	case OP_CHMOD:
		o->mode = (o->mode & S_IFMT) | (mode_t)op->n[0];
		return 1;
	case OP_CHOWN:
		o->uid = (uid_t)op->n[0];
		o->gid = (gid_t)op->n[1];
		return 1;
	case OP_UTIMENS:
		o->has_mtime = true;
		o->mtime.tv_sec = (time_t)op->n[2];
		o->mtime.tv_nsec = (long)op->n[3];
		return 1;
	case OP_SETXATTR:
		i = xattr_slot(op->str);
		o->xattrs[i].is_set = true;
		o->xattrs[i].len = op->n[0];
		fill_bytes(op->n[1], o->xattrs[i].val, op->n[0]);
		return 1;
	case OP_RMXATTR:
		o->xattrs[xattr_slot(op->str)].is_set = false;
		return 1;
	case OP_OPEN:
		holds[op->n[0]].is_open = true;
		holds[op->n[0]].obj = obj;
		o->holds++;
		return 1;
	case OP_CLOSE:
		holds[op->n[0]].is_open = false;
		o->holds--;
		model_obj_put(m, obj);
		return 1;
	default:
		return 1;
	}
}
