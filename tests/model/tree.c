/*
 * The model tree: objects in one array (numbers stay put, so hard links and held descriptors
 * name objects by number), directories as lists of entries, deep copies for snapshots, and the
 * random generator. No system calls here.
 */
#include "model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	r->s = (z ^ (z >> 31)) | 1;
}

uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

void fill_bytes(uint64_t seed, void *buf, size_t len)
{
	unsigned char *p = buf;
	struct rng r;
	uint64_t v = 0;
	size_t i;

	rng_seed(&r, seed);
	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = rng_next(&r);
		p[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

static const char *const xattr_names[MODEL_XATTRS] = { "user.a", "user.b", "user.c", "user.d" };

const char *xattr_name(unsigned i)
{
	return i < MODEL_XATTRS ? xattr_names[i] : "";
}

int xattr_slot(const char *name)
{
	int i;

	for (i = 0; i < MODEL_XATTRS; i++) {
		if (strcmp(name, xattr_names[i]) == 0)
			return i;
	}
	return -1;
}

int model_obj_new(struct model *m, mode_t mode, uid_t uid, gid_t gid)
{
	struct mobj *o;
	size_t i;

	for (i = 0; i < m->nobjs; i++) {
		if (!m->objs[i].is_used)
			break;
	}
	if (i == m->nobjs) {
		o = realloc(m->objs, (m->nobjs + 1) * sizeof(*o));
		if (!o)
			return -ENOMEM;
		m->objs = o;
		m->nobjs++;
	}
	o = &m->objs[i];
	memset(o, 0, sizeof(*o));
	o->is_used = true;
	o->mode = mode;
	o->uid = uid;
	o->gid = gid;
	o->parent = -1;
	return (int)i;
}

static void obj_release(struct mobj *o)
{
	free(o->data);
	free(o->ents);
	memset(o, 0, sizeof(*o));
}

void model_obj_put(struct model *m, int obj)
{
	struct mobj *o = &m->objs[obj];

	if (obj != 0 && o->links == 0 && o->holds == 0)
		obj_release(o);
}

int model_init(struct model *m, const struct stat *st)
{
	int r;

	m->objs = NULL;
	m->nobjs = 0;
	r = model_obj_new(m, st->st_mode, st->st_uid, st->st_gid);
	if (r < 0)
		return r;
	m->objs[0].parent = 0;
	m->objs[0].links = 1;
	return 0;
}

void model_release(struct model *m)
{
	size_t i;

	for (i = 0; i < m->nobjs; i++)
		obj_release(&m->objs[i]);
	free(m->objs);
	m->objs = NULL;
	m->nobjs = 0;
}

int model_copy(const struct model *src, struct model *ret)
{
	struct model m = { calloc(src->nobjs ? src->nobjs : 1, sizeof(struct mobj)), src->nobjs };
	size_t i;

	if (!m.objs)
		return -ENOMEM;
	for (i = 0; i < src->nobjs; i++) {
		const struct mobj *s = &src->objs[i];
		struct mobj *d = &m.objs[i];

		*d = *s;
		d->data = NULL;
		d->ents = NULL;
		if (s->size) {
			d->data = malloc(s->size);
			if (!d->data)
				goto out_release;
			memcpy(d->data, s->data, s->size);
		}
		if (s->nents) {
			d->ents = malloc(s->nents * sizeof(*d->ents));
			if (!d->ents)
				goto out_release;
			memcpy(d->ents, s->ents, s->nents * sizeof(*d->ents));
		}
	}
	*ret = m;
	return 0;
out_release:
	model_release(&m);
	return -ENOMEM;
}

static int find_entry(const struct mobj *dir, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < dir->nents; i++) {
		if (strlen(dir->ents[i].name) == len && memcmp(dir->ents[i].name, name, len) == 0)
			return (int)i;
	}
	return -1;
}

int model_lookup(const struct model *m, const char *path)
{
	int cur = 0;

	if (strcmp(path, ".") == 0)
		return 0;
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		const struct mobj *d = &m->objs[cur];
		int i;

		if (!S_ISDIR(d->mode))
			return -1;
		i = find_entry(d, path, len);
		if (i < 0)
			return -1;
		cur = d->ents[i].obj;
		path += len;
		if (*path == '/')
			path++;
	}
	return cur;
}

int model_parent(const struct model *m, const char *path, char name[MODEL_NAME_MAX])
{
	const char *slash = strrchr(path, '/');
	char dir[MODEL_PATH_MAX];
	int d;

	if (strcmp(path, ".") == 0 || !*path)
		return -1;
	if (!slash) {
		snprintf(name, MODEL_NAME_MAX, "%s", path);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	snprintf(name, MODEL_NAME_MAX, "%s", slash + 1);
	d = model_lookup(m, dir);
	if (d < 0 || !S_ISDIR(m->objs[d].mode))
		return -1;
	return d;
}

int model_depth(const struct model *m, int obj)
{
	int depth = 0;

	while (obj != 0) {
		obj = m->objs[obj].parent;
		depth++;
	}
	return depth;
}

bool model_is_ancestor(const struct model *m, int a, int b)
{
	for (;;) {
		if (a == b)
			return true;
		if (b == 0)
			return false;
		b = m->objs[b].parent;
	}
}

static int walk_dir(const struct model *m, int dir, char *path, size_t plen,
		    int (*fn)(const char *path, int obj, void *ctx), void *ctx)
{
	const struct mobj *d = &m->objs[dir];
	size_t i;
	int r;

	for (i = 0; i < d->nents; i++) {
		const struct mentry *en = &d->ents[i];
		int n = snprintf(path + plen, MODEL_PATH_MAX * 2 - plen, "%s%s", plen ? "/" : "",
				 en->name);

		r = fn(path, en->obj, ctx);
		if (r)
			return r;
		if (S_ISDIR(m->objs[en->obj].mode)) {
			r = walk_dir(m, en->obj, path, plen + (size_t)n, fn, ctx);
			if (r)
				return r;
		}
		path[plen] = '\0';
	}
	return 0;
}

int model_walk(const struct model *m, int (*fn)(const char *path, int obj, void *ctx), void *ctx)
{
	char path[MODEL_PATH_MAX * 2] = "";

	return walk_dir(m, 0, path, 0, fn, ctx);
}

unsigned model_nlink(const struct model *m, int obj)
{
	const struct mobj *o = &m->objs[obj];
	unsigned n = 2;
	size_t i;

	if (!S_ISDIR(o->mode))
		return o->links;
	for (i = 0; i < o->nents; i++) {
		if (S_ISDIR(m->objs[o->ents[i].obj].mode))
			n++;
	}
	return n;
}

int model_entry_add(struct model *m, int dir, const char *name, int obj)
{
	struct mobj *d = &m->objs[dir];
	struct mentry *e = realloc(d->ents, (d->nents + 1) * sizeof(*e));

	if (!e)
		return -ENOMEM;
	d->ents = e;
	snprintf(e[d->nents].name, MODEL_NAME_MAX, "%s", name);
	e[d->nents].obj = obj;
	d->nents++;
	m->objs[obj].links++;
	if (S_ISDIR(m->objs[obj].mode))
		m->objs[obj].parent = dir;
	return 0;
}

void model_entry_del(struct model *m, int dir, const char *name)
{
	struct mobj *d = &m->objs[dir];
	int i = find_entry(d, name, strlen(name));
	int obj;

	if (i < 0)
		return;
	obj = d->ents[i].obj;
	d->ents[i] = d->ents[d->nents - 1];
	d->nents--;
	m->objs[obj].links--;
	model_obj_put(m, obj);
}

void model_entry_set(struct model *m, int dir, const char *name, int obj)
{
	struct mobj *d = &m->objs[dir];
	int i = find_entry(d, name, strlen(name));

	if (i < 0)
		return;
	d->ents[i].obj = obj;
	if (S_ISDIR(m->objs[obj].mode))
		m->objs[obj].parent = dir;
}

int model_set_size(struct model *m, int obj, size_t size)
{
	struct mobj *o = &m->objs[obj];
	unsigned char *p;

	if (size > o->size) {
		p = realloc(o->data, size);
		if (!p)
			return -ENOMEM;
		memset(p + o->size, 0, size - o->size);
		o->data = p;
	}
	o->size = size;
	return 0;
}
