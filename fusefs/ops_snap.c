/*
 * ops_snap.c: MNT/.snapshots/, the read-only view of the volume's snapshots. It owns the
 * .snapshots directory at the root of the mount, one directory per visible snapshot inside it
 * (named by its browse name, @GMT-YYYY.MM.DD-HH.MM.SS), and every node beneath those, all
 * served from the engine's views (engine_snap_*). It never touches SRC or the live inode
 * table, and it changes nothing: every request that would change something fails with EROFS.
 *
 * Names. .snapshots exists at the root of the mount only. A real SRC/.snapshots is shadowed
 * there: it is neither listed nor reachable through the live view (it stays in SRC, and a
 * snapshot's own root shows it, as it was). Inside a snapshot root, the state directory
 * (SRC/.snapfs) is hidden as in the live view. .snapshots lists the newest maxshadowcopies
 * snapshots (the volume's property), oldest first; two snapshots with the same browse name
 * (taken within one second) show as one, the newer. A snapshot beyond maxshadowcopies can no
 * longer be looked up there, but the nodes of it that the kernel holds keep working.
 *
 * The name .snapshots at the root cannot be created, removed or renamed:
 *   mkdir, mknod, symlink, create, link onto it   EEXIST: it exists, and that is what the
 *       kernel answers itself whenever it has the entry cached, so the answer never depends
 *       on the cache;
 *   rmdir, unlink, rename from or onto it          EBUSY: it behaves like a mount point on a
 *       writable volume ("Device or resource busy"); EROFS would claim the volume is read-only
 *       and EPERM would suggest the caller lacks a permission that root has.
 * Inside .snapshots and beneath it, everything that changes something fails with EROFS.
 * Permission checks are the kernel's (default_permissions): attributes, ACLs included, come
 * from the engine, so a snapshot shows the modes and owners its files had then.
 *
 * Node ids. A node beneath .snapshots is a heap struct snap_node holding a copy of its
 * engine_node; its node id is its address with SFS_SNAP_TAG (bit 1) set. Live node ids are
 * addresses of struct sfs_inode (at least 4-byte aligned: bit 1 clear) or FUSE_ROOT_ID (1), so
 * the two never collide. .snapshots itself is SFS_SNAPDIR_ID, the tag alone (a NULL node).
 * Nodes are deduplicated by (epoch, file handle) in a hash, so every name of a hard-linked
 * file is one node; each counts the kernel's lookup references and is freed at zero. The
 * engine_node in a node never changes, so handlers read it without the lock while the
 * kernel's reference keeps the node alive.
 *
 * Snapshots come and go while mounted. .snapshots is listed and looked up fresh each time,
 * its entries with entry and attribute timeouts of 0, so a path through .snapshots/@GMT-...
 * fails with ENOENT as soon as that snapshot is deleted. Each request on a node beneath a
 * snapshot first checks that its snapshot still exists and answers ESTALE otherwise (a
 * process may hold a directory or file of it), at most SNAP_RECHECK_MS after the deletion.
 * Within a snapshot nothing changes, so names, attributes, file pages (keep_cache) and
 * listings (cache_readdir) are cached long, and what the kernel has cached of a deleted
 * snapshot it may still serve to those who hold it; a snapshot root's own attributes are not
 * cached, so that a deleted snapshot shows as soon as possible.
 *
 * Directory streams are materialized at opendir into a listing kept in fi->fh, sorted by name,
 * with "." and ".." first; an offset is an index into it, so offsets are stable across
 * readdir calls and across opens.
 */
#include "sfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "provider.h"
#include "volume.h"

/* Kernel cache timeout beneath a snapshot root, seconds: nothing there ever changes. */
#define SNAP_TIMEOUT 3600.0

/* How old a listing of the snapshots may be when a node beneath .snapshots is checked, ms. */
#define SNAP_RECHECK_MS 1000

/* st_ino of .snapshots: bit 63 with epoch 0, which no snapshot has (see engine_snap_getattr). */
#define SNAPDIR_INO ((ino_t)(UINT64_C(1) << 63 | 1))

#define INITIAL_BUCKETS 256

struct snap_node {
	struct snap_node *hnext;        /* hash chain */
	uint64_t nlookup;               /* kernel references; protected by tab.lock */
	struct engine_node en;          /* the object as its snapshot sees it */
	ino_t ino;                      /* st_ino, as the engine reports it */
	ino_t parent_ino;               /* st_ino of the directory it was first found in */
	bool is_root;                   /* the root of its snapshot (.snapshots/@GMT-...) */
};

/*
 * A snapshot whose complete copy is done (sfs_snap_tree_ready) while the kernel still holds
 * nodes of its journal view: the journal keeps serving those until the last one goes, and is
 * released then. New lookups from .snapshots reach the copy.
 */
struct pending_release {
	uint64_t epoch;
	char id[CATALOG_ID_LEN + 1];
	uint64_t nodes;                 /* journal-view nodes of that epoch in the hash */
};

static struct {
	pthread_mutex_t lock;           /* guards everything here and every node's nlookup */
	struct snap_node **buckets;
	size_t nbuckets;
	size_t count;
	struct pending_release *pend;
	size_t npend;
} tab = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * The snapshots as last listed (engine_snapshot_each, one indexed query). A node's check
 * reuses a listing up to SNAP_RECHECK_MS old, while .snapshots itself is always listed afresh.
 * The root object is the same in every snapshot: its engine_node is fetched once and given
 * each snapshot's epoch. Lock order: snaps.lock, then the engine's locks.
 */
static struct {
	pthread_mutex_t lock;           /* guards everything here */
	struct catalog_snapshot *v;     /* oldest first */
	size_t n;
	bool listed;
	struct timespec listed_at;      /* CLOCK_MONOTONIC */
	bool has_root;
	struct engine_node root;        /* the root object, epoch aside */
} snaps = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- node ids and the node hash -------------------------------------------------------- */

bool sfs_is_snapdir(fuse_ino_t parent, const char *name)
{
	return parent == FUSE_ROOT_ID && strcmp(name, SFS_SNAPDIR_NAME) == 0;
}

/* The node behind a tagged node id; NULL for .snapshots itself. */
static struct snap_node *node_of(fuse_ino_t ino)
{
	return (struct snap_node *)(uintptr_t)(ino & ~SFS_SNAP_TAG);
}

static fuse_ino_t nodeid_of(const struct snap_node *n)
{
	return (fuse_ino_t)(uintptr_t)n | SFS_SNAP_TAG;
}

static size_t hash_key(const struct engine_node *en, size_t nbuckets)
{
	uint64_t h = 0xcbf29ce484222325ull ^ en->epoch * 0x9E3779B97F4A7C15ull;

	h = (h ^ (uint64_t)(unsigned)en->handle_type) * 0x100000001b3ull;
	for (unsigned i = 0; i < en->handle_bytes && i < ENGINE_HANDLE_MAX; i++)
		h = (h ^ en->handle[i]) * 0x100000001b3ull;
	return (size_t)(h ^ h >> 29) & (nbuckets - 1);
}

static bool same_object(const struct engine_node *a, const struct engine_node *b)
{
	return a->epoch == b->epoch && a->flags == b->flags && a->handle_type == b->handle_type &&
	       a->handle_bytes == b->handle_bytes &&
	       memcmp(a->handle, b->handle, a->handle_bytes) == 0;
}

/* The pending release of en's snapshot when en is a journal-view node; under tab.lock. */
static struct pending_release *pending_of(const struct engine_node *en)
{
	for (size_t i = 0; !(en->flags & ENGINE_NODE_TREE) && i < tab.npend; i++)
		if (tab.pend[i].epoch == en->epoch)
			return &tab.pend[i];
	return NULL;
}

static void release_journal(const char *id)
{
	int r = engine_journal_release(sfs.eng, id);

	if (r < 0 && r != -ENOENT)
		snap_log(LOG_ERR, "snapshot %s: cannot release its journal rows: %s", id,
			 strerror(-r));
}

void sfs_snap_tree_ready(struct engine *e, const struct catalog_snapshot *s)
{
	struct pending_release p = { .epoch = s->epoch };
	struct pending_release *m;

	snprintf(p.id, sizeof(p.id), "%s", s->id);
	pthread_mutex_lock(&tab.lock);
	for (size_t i = 0; i < tab.nbuckets; i++)
		for (struct snap_node *n = tab.buckets[i]; n; n = n->hnext)
			p.nodes += n->en.epoch == s->epoch && !(n->en.flags & ENGINE_NODE_TREE);
	m = p.nodes ? realloc(tab.pend, (tab.npend + 1) * sizeof(*m)) : NULL;
	if (m) {
		tab.pend = m;
		tab.pend[tab.npend++] = p;
	}
	pthread_mutex_unlock(&tab.lock);
	if (!m) /* no reader holds its journal view (or no memory to wait for them) */
		release_journal(p.id);
}

/* Grow the hash when it gets crowded; a failed allocation just keeps the chains longer. */
static void hash_grow(void)
{
	size_t nb = tab.nbuckets * 4;
	struct snap_node **nbk;

	if (tab.count + 1 <= tab.nbuckets * 2)
		return;
	nbk = calloc(nb, sizeof(*nbk));
	if (!nbk)
		return;
	for (size_t i = 0; i < tab.nbuckets; i++) {
		struct snap_node *p = tab.buckets[i], *next;

		for (; p; p = next) {
			size_t b = hash_key(&p->en, nb);

			next = p->hnext;
			p->hnext = nbk[b];
			nbk[b] = p;
		}
	}
	free(tab.buckets);
	tab.buckets = nbk;
	tab.nbuckets = nb;
}

/*
 * Find or make the node of en and take one lookup reference on it. ino is its st_ino, parent
 * the st_ino of the directory it was found in (kept from the first lookup). Returns 0 or
 * -ENOMEM.
 */
static int node_get(const struct engine_node *en, ino_t ino, ino_t parent, bool is_root,
		    struct snap_node **ret)
{
	struct snap_node *n, *fresh = calloc(1, sizeof(*fresh));
	size_t b;

	if (!fresh)
		return -ENOMEM;
	fresh->en = *en;
	fresh->ino = ino;
	fresh->parent_ino = parent;
	fresh->is_root = is_root;
	pthread_mutex_lock(&tab.lock);
	if (!tab.buckets) {
		tab.buckets = calloc(INITIAL_BUCKETS, sizeof(*tab.buckets));
		if (!tab.buckets) {
			pthread_mutex_unlock(&tab.lock);
			free(fresh);
			return -ENOMEM;
		}
		tab.nbuckets = INITIAL_BUCKETS;
	}
	for (n = tab.buckets[hash_key(en, tab.nbuckets)]; n; n = n->hnext) {
		if (same_object(&n->en, en))
			break;
	}
	if (!n) {
		hash_grow();
		b = hash_key(en, tab.nbuckets);
		n = fresh;
		fresh = NULL;
		n->hnext = tab.buckets[b];
		tab.buckets[b] = n;
		tab.count++;
		if (pending_of(en))
			pending_of(en)->nodes++;
	}
	n->nlookup++;
	pthread_mutex_unlock(&tab.lock);
	free(fresh);
	*ret = n;
	return 0;
}

/* Drop count lookup references on n (NULL: .snapshots, which lives forever). */
static void node_put(struct snap_node *n, uint64_t count)
{
	char release[CATALOG_ID_LEN + 1] = "";
	struct pending_release *p;
	struct snap_node **pp;

	if (!n)
		return;
	pthread_mutex_lock(&tab.lock);
	n->nlookup = count > n->nlookup ? 0 : n->nlookup - count;
	if (n->nlookup > 0) {
		pthread_mutex_unlock(&tab.lock);
		return;
	}
	for (pp = &tab.buckets[hash_key(&n->en, tab.nbuckets)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	}
	tab.count--;
	p = pending_of(&n->en);
	if (p && --p->nodes == 0) {
		snprintf(release, sizeof(release), "%s", p->id);
		*p = tab.pend[--tab.npend];
	}
	pthread_mutex_unlock(&tab.lock);
	free(n);
	if (release[0])
		release_journal(release);
}

/* ---- the snapshots --------------------------------------------------------------------- */

/*
 * Make the heap array *arr (capacity *cap elements of elem bytes) hold at least need
 * elements, doubling its capacity from first. Returns 0 or -ENOMEM (*arr unchanged then).
 */
static int grow_array(void **arr, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t ncap = *cap ? *cap : first;
	void *m;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	m = realloc(*arr, ncap * elem);
	if (!m)
		return -ENOMEM;
	*arr = m;
	*cap = ncap;
	return 0;
}

int sfs_collect_snapshot(const struct catalog_snapshot *s, void *ctx)
{
	struct sfs_snap_array *a = ctx;
	int r = grow_array((void **)&a->v, &a->cap, a->n + 1, sizeof(*a->v), 16);

	if (r < 0)
		return r;
	a->v[a->n++] = *s;
	return 0;
}

static int64_t elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* List the snapshots again when forced, or when the listing is too old. snaps.lock held. */
static int refresh_locked(bool force)
{
	struct sfs_snap_array l = { 0 };
	struct timespec now;
	int r;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && snaps.listed && elapsed_ms(&snaps.listed_at, &now) < SNAP_RECHECK_MS)
		return 0;
	r = engine_snapshot_each(sfs.eng, sfs_collect_snapshot, &l);
	if (r < 0) {
		free(l.v);
		return r;
	}
	free(snaps.v);
	snaps.v = l.v;
	snaps.n = l.n;
	snaps.listed = true;
	snaps.listed_at = now;
	return 0;
}

/*
 * Whether the snapshot at epoch still exists: 0, or -ESTALE once it was deleted (seen at most
 * SNAP_RECHECK_MS late), or the engine's error.
 */
static int check_epoch(uint64_t epoch)
{
	int r;

	pthread_mutex_lock(&snaps.lock);
	r = refresh_locked(false);
	if (r == 0) {
		r = -ESTALE;
		for (size_t i = 0; i < snaps.n; i++) {
			if (snaps.v[i].epoch == epoch) {
				r = 0;
				break;
			}
		}
	}
	pthread_mutex_unlock(&snaps.lock);
	return r;
}

static int check_alive(const struct snap_node *n)
{
	return check_epoch(n->en.epoch);
}

/* The volume's maxshadowcopies: how many of the newest snapshots .snapshots shows. */
static size_t max_shadow(void)
{
	char buf[32], *end;
	unsigned long v;

	if (engine_prop_get(sfs.eng, ENGINE_PROP_MAXSHADOW, buf, sizeof(buf)) < 0)
		return ENGINE_DEFAULT_MAXSHADOW;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf || *end)
		return ENGINE_DEFAULT_MAXSHADOW;
	return v > ENGINE_MAX_SNAPSHOTS ? ENGINE_MAX_SNAPSHOTS : v;
}

/*
 * The snapshots .snapshots shows, listed now, oldest first: the newest maxshadowcopies, the
 * older one of two with the same browse name left out. The caller frees l->v. Returns 0 or a
 * negative errno.
 */
static int list_visible(struct sfs_snap_array *l)
{
	size_t max = max_shadow(), first;
	int r;

	memset(l, 0, sizeof(*l));
	pthread_mutex_lock(&snaps.lock);
	r = refresh_locked(true);
	first = snaps.n > max ? snaps.n - max : 0;
	for (size_t i = first; r == 0 && i < snaps.n; i++) {
		if (i + 1 < snaps.n && strcmp(snaps.v[i].browse, snaps.v[i + 1].browse) == 0)
			continue;
		r = sfs_collect_snapshot(&snaps.v[i], l);
	}
	pthread_mutex_unlock(&snaps.lock);
	if (r < 0) {
		free(l->v);
		l->v = NULL;
	}
	return r;
}

/*
 * The root of the snapshot (id, epoch): SRC's root as that snapshot sees it. Through the
 * journal the root object is the same in every snapshot, so only the first call asks the
 * engine; a provider whose snapshots become trees is asked each time.
 */
static int snap_root(const char *id, uint64_t epoch, struct engine_node *ret)
{
	const struct provider *p = engine_provider(sfs.eng);
	struct engine_node en;
	int r;

	if (p->trees)
		return engine_snap_root(sfs.eng, id, ret);
	pthread_mutex_lock(&snaps.lock);
	en = snaps.root;
	r = snaps.has_root ? 0 : engine_snap_root(sfs.eng, id, &en);
	if (r == 0 && !snaps.has_root) {
		snaps.root = en;
		snaps.has_root = true;
	}
	pthread_mutex_unlock(&snaps.lock);
	if (r < 0)
		return r;
	en.epoch = epoch;
	*ret = en;
	return 0;
}

static struct timespec started;

static void note_started(void)
{
	(void)clock_gettime(CLOCK_REALTIME, &started);
}

/*
 * The attributes of .snapshots: mode 0555, owned by root, one link per visible snapshot, and
 * the creation time of the newest one (the daemon's start while there is none).
 */
static void snapdir_attr(struct stat *st)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sfs_snap_array l;
	struct timespec t;

	(void)pthread_once(&once, note_started);
	t = started;
	memset(st, 0, sizeof(*st));
	st->st_ino = SNAPDIR_INO;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_blksize = 4096;
	if (list_visible(&l) == 0) {
		st->st_nlink += l.n;
		if (l.n) {
			int64_t ns = l.v[l.n - 1].created_ns;

			t.tv_sec = ns / 1000000000;
			t.tv_nsec = ns % 1000000000;
		}
		free(l.v);
	}
	st->st_atim = st->st_mtim = st->st_ctim = t;
}

/* ---- names ----------------------------------------------------------------------------- */

/* The root of the snapshot (id, epoch), with one lookup reference taken, and its attributes. */
static int root_node(const char *id, uint64_t epoch, struct snap_node **ret, struct stat *st)
{
	struct engine_node en;
	int r;

	r = snap_root(id, epoch, &en);
	if (r < 0)
		return r;
	r = engine_snap_getattr(sfs.eng, &en, st);
	if (r < 0)
		return r;
	return node_get(&en, st->st_ino, SNAPDIR_INO, true, ret);
}

/*
 * The root of the snapshot name names: as root_node(), or -ENOENT. A name is the browse name
 * of a visible snapshot, or the id of any snapshot; ids are never listed, and are how expose,
 * revert and export reach a snapshot beyond maxshadowcopies or hidden behind a newer one
 * with the same browse name.
 */
static int lookup_root(const char *name, struct snap_node **ret, struct stat *st)
{
	const struct catalog_snapshot *s = NULL;
	struct sfs_snap_array l;
	char id[sizeof(s->id)] = "";
	uint64_t epoch = 0;
	int r;

	r = list_visible(&l);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.v[i].browse, name) == 0)
			s = &l.v[i];
	}
	if (s) {
		r = root_node(s->id, s->epoch, ret, st);
		free(l.v);
		return r;
	}
	free(l.v);
	pthread_mutex_lock(&snaps.lock);
	for (size_t i = 0; i < snaps.n; i++) {
		if (strcmp(snaps.v[i].id, name) == 0) {
			snprintf(id, sizeof(id), "%s", snaps.v[i].id);
			epoch = snaps.v[i].epoch;
		}
	}
	pthread_mutex_unlock(&snaps.lock);
	return id[0] ? root_node(id, epoch, ret, st) : -ENOENT;
}

/* name in the snapshot directory dir, with one lookup reference taken, and its attributes. */
static int lookup_child(const struct snap_node *dir, const char *name, struct snap_node **ret,
			struct stat *st)
{
	struct engine_node en;
	int r;

	if (dir->is_root && strcmp(name, VOLUME_STATE_DIR) == 0)
		return -ENOENT;
	r = engine_snap_lookup(sfs.eng, &dir->en, name, &en, st);
	if (r < 0)
		return r;
	return node_get(&en, st->st_ino, dir->ino, false, ret);
}

/* Reply with the entry of n, whose reference the reply hands over (or gives back). */
static void reply_node(fuse_req_t req, struct snap_node *n, const struct stat *st,
		       double timeout)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = nodeid_of(n);
	e.attr = *st;
	e.attr_timeout = timeout;
	e.entry_timeout = timeout;
	if (fuse_reply_entry(req, &e) != 0)
		node_put(n, 1); /* interrupted: the kernel took no reference */
}

void sfs_snap_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct snap_node *dir = node_of(parent), *n;
	struct fuse_entry_param e;
	struct stat st;
	int r;

	memset(&e, 0, sizeof(e));
	if (!sfs_snap_node(parent)) {
		/* .snapshots at the root: always there, always this node; its attributes change */
		e.ino = SFS_SNAPDIR_ID;
		snapdir_attr(&e.attr);
		e.entry_timeout = sfs.opt.timeout;
		(void)fuse_reply_entry(req, &e);
		return;
	}
	if (!dir) {
		/* snapshots come and go: neither the entry nor its absence is cached */
		r = lookup_root(name, &n, &st);
		if (r < 0)
			fuse_reply_err(req, -r);
		else
			reply_node(req, n, &st, 0);
		return;
	}
	r = check_alive(dir);
	if (r == 0)
		r = lookup_child(dir, name, &n, &st);
	if (r == -ENOENT) {
		/* a negative entry: nothing ever appears in a snapshot */
		e.entry_timeout = SNAP_TIMEOUT;
		(void)fuse_reply_entry(req, &e);
	} else if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		reply_node(req, n, &st, SNAP_TIMEOUT);
	}
}

void sfs_snap_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_put(node_of(ino), nlookup);
	fuse_reply_none(req);
}

size_t sfs_snap_forget_filter(struct fuse_forget_data *forgets, size_t count)
{
	size_t w = 0;

	for (size_t i = 0; i < count; i++) {
		if (sfs_snap_node(forgets[i].ino))
			node_put(node_of(forgets[i].ino), forgets[i].nlookup);
		else
			forgets[w++] = forgets[i];
	}
	return w;
}

void sfs_snap_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snap_node *n = node_of(ino);
	struct stat st;
	int r;

	if (!n) {
		snapdir_attr(&st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	r = check_alive(n);
	if (r == 0)
		r = engine_snap_getattr(sfs.eng, &n->en, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, n->is_root ? 0 : SNAP_TIMEOUT);
}

void sfs_snap_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct snap_node *n = node_of(ino);
	char buf[PATH_MAX + 1];
	ssize_t len;

	if (!n) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	len = check_alive(n);
	if (len == 0)
		len = engine_snap_readlink(sfs.eng, &n->en, buf, sizeof(buf));
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else
		fuse_reply_readlink(req, buf);
}

bool sfs_snap_refused(fuse_req_t req, fuse_ino_t ino, const char *name, int snapdir_err)
{
	if (sfs_snap_node(ino)) {
		fuse_reply_err(req, EROFS);
		return true;
	}
	if (name && sfs_is_snapdir(ino, name)) {
		fuse_reply_err(req, snapdir_err);
		return true;
	}
	return false;
}

/* ---- directory streams ----------------------------------------------------------------- */

struct snap_dirent {
	size_t name;                    /* offset of the name in names */
	ino_t ino;
	mode_t type;
	uint64_t epoch;                 /* in .snapshots: the snapshot's */
};

/* A directory listing, materialized at opendir; offset k is entry k ("." is 0, ".." is 1). */
struct snap_listing {
	struct snap_node *dir;          /* NULL for .snapshots, whose names are each followed
					   by their snapshot's id */
	struct snap_dirent *ents;
	size_t n, cap;
	char *names;
	size_t used, size;
};

static void listing_free(struct snap_listing *l)
{
	if (!l)
		return;
	free(l->ents);
	free(l->names);
	free(l);
}

/* Append an entry; a snapshot's id (or NULL) is stored after the name. 0 or -ENOMEM. */
static int listing_add(struct snap_listing *l, const char *name, ino_t ino, mode_t type,
		       const char *id, uint64_t epoch)
{
	size_t len = strlen(name) + 1, idlen = id ? strlen(id) + 1 : 0;
	int r;

	r = grow_array((void **)&l->ents, &l->cap, l->n + 1, sizeof(*l->ents), 32);
	if (r == 0)
		r = grow_array((void **)&l->names, &l->size, l->used + len + idlen, 1, 1024);
	if (r < 0)
		return r;
	l->ents[l->n].name = l->used;
	l->ents[l->n].ino = ino;
	l->ents[l->n].type = type & S_IFMT;
	l->ents[l->n].epoch = epoch;
	l->n++;
	memcpy(l->names + l->used, name, len);
	l->used += len;
	if (id) {
		memcpy(l->names + l->used, id, idlen);
		l->used += idlen;
	}
	return 0;
}

static int add_engine_entry(const char *name, ino_t ino, mode_t type, void *ctx)
{
	struct snap_listing *l = ctx;

	if (l->dir->is_root && strcmp(name, VOLUME_STATE_DIR) == 0)
		return 0;
	return listing_add(l, name, ino, type, NULL, 0);
}

static int compare_names(const void *a, const void *b, void *ctx)
{
	const char *names = ctx;

	return strcmp(names + ((const struct snap_dirent *)a)->name,
		      names + ((const struct snap_dirent *)b)->name);
}

/* List the snapshot directory l->dir, sorted by name so that its offsets never change. */
static int list_dir(struct snap_listing *l)
{
	int r;

	r = listing_add(l, ".", l->dir->ino, S_IFDIR, NULL, 0);
	if (r == 0)
		r = listing_add(l, "..", l->dir->parent_ino, S_IFDIR, NULL, 0);
	if (r == 0)
		r = engine_snap_readdir(sfs.eng, &l->dir->en, add_engine_entry, l);
	if (r < 0)
		return r;
	qsort_r(l->ents + 2, l->n - 2, sizeof(*l->ents), compare_names, l->names);
	return 0;
}

/* List .snapshots: the visible snapshots, oldest first, as they are now. */
static int list_snapdir(struct snap_listing *l)
{
	struct sfs_snap_array sl = { 0 };
	int r;

	r = listing_add(l, ".", SNAPDIR_INO, S_IFDIR, NULL, 0);
	if (r == 0)
		r = listing_add(l, "..", sfs.itab.root->ino, S_IFDIR, NULL, 0);
	if (r == 0)
		r = list_visible(&sl);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sl.n && r == 0; i++) {
		struct engine_node en;
		struct stat st;

		r = snap_root(sl.v[i].id, sl.v[i].epoch, &en);
		if (r == 0)
			r = engine_snap_getattr(sfs.eng, &en, &st);
		if (r == 0)
			r = listing_add(l, sl.v[i].browse, st.st_ino, S_IFDIR, sl.v[i].id,
					sl.v[i].epoch);
		else if (r == -ENOENT)
			r = 0; /* deleted since it was listed */
	}
	free(sl.v);
	return r;
}

void sfs_snap_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snap_listing *l = calloc(1, sizeof(*l));
	int r;

	if (!l) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	l->dir = node_of(ino);
	if (l->dir) {
		r = check_alive(l->dir);
		if (r == 0)
			r = list_dir(l);
		/* a snapshot's directories never change: the kernel may keep their listings */
		fi->keep_cache = 1;
		fi->cache_readdir = 1;
	} else {
		r = list_snapdir(l);
	}
	if (r < 0) {
		listing_free(l);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)l;
	if (fuse_reply_open(req, fi) != 0)
		listing_free(l);
}

/* Entry i of the listing of .snapshots, as root_node() makes it, if it still exists. */
static int snapdir_child(const struct snap_listing *l, size_t i, struct snap_node **ret,
			 struct stat *st)
{
	const char *name = l->names + l->ents[i].name;
	int r = check_epoch(l->ents[i].epoch);

	return r < 0 ? r : root_node(name + strlen(name) + 1, l->ents[i].epoch, ret, st);
}

/*
 * readdir and readdirplus from the listing. For readdirplus each entry but the dots carries a
 * lookup reference: a snapshot root's with timeouts of 0, any other with long ones.
 */
static void read_listing(fuse_req_t req, size_t size, off_t offset, struct fuse_file_info *fi,
			 bool plus)
{
	struct snap_listing *l = (struct snap_listing *)(uintptr_t)fi->fh;
	char *buf = malloc(size ? size : 1), *p = buf;
	size_t rem = size;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = offset < 0 ? l->n : (size_t)offset; i < l->n; i++) {
		const char *name = l->names + l->ents[i].name;
		struct fuse_entry_param e;
		struct snap_node *n = NULL;
		size_t len;

		memset(&e, 0, sizeof(e));
		e.attr.st_ino = l->ents[i].ino;
		e.attr.st_mode = l->ents[i].type;
		if (!plus) {
			len = fuse_add_direntry(req, p, rem, name, &e.attr, i + 1);
			if (len > rem)
				break;
		} else {
			if (i >= 2) {
				int r = l->dir ? lookup_child(l->dir, name, &n, &e.attr) :
						 snapdir_child(l, i, &n, &e.attr);

				if (r == -ENOENT || r == -ESTALE)
					continue; /* a snapshot deleted since opendir */
				if (r < 0) {
					err = -r;
					break;
				}
				e.ino = nodeid_of(n);
				e.attr_timeout = e.entry_timeout = l->dir ? SNAP_TIMEOUT : 0;
			}
			len = fuse_add_direntry_plus(req, p, rem, name, &e, i + 1);
			if (len > rem) {
				node_put(n, 1);
				break;
			}
		}
		p += len;
		rem -= len;
	}
	/* an error after some entries: return those, the error comes on the next call */
	if (err && p == buf)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void sfs_snap_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		      struct fuse_file_info *fi)
{
	read_listing(req, size, offset, fi, false);
}

void sfs_snap_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			  struct fuse_file_info *fi)
{
	read_listing(req, size, offset, fi, true);
}

void sfs_snap_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	listing_free((struct snap_listing *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

size_t sfs_snap_add_snapdir(fuse_req_t req, char *buf, size_t size, off_t off, bool plus)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	if (!plus) {
		e.attr.st_ino = SNAPDIR_INO;
		e.attr.st_mode = S_IFDIR;
		return fuse_add_direntry(req, buf, size, SFS_SNAPDIR_NAME, &e.attr, off);
	}
	e.ino = SFS_SNAPDIR_ID;
	snapdir_attr(&e.attr);
	e.entry_timeout = sfs.opt.timeout;
	return fuse_add_direntry_plus(req, buf, size, SFS_SNAPDIR_NAME, &e, off);
}

/* ---- files ----------------------------------------------------------------------------- */

void sfs_snap_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snap_node *n = node_of(ino);
	int r;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (!n) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	r = check_alive(n);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = 0;
	fi->keep_cache = 1; /* the file never changes */
	fi->noflush = 1;
	(void)fuse_reply_open(req, fi);
}

void sfs_snap_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct snap_node *n = node_of(ino);
	char *buf;
	ssize_t got;

	if (!n || off < 0) {
		fuse_reply_err(req, n ? EINVAL : EISDIR);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	got = check_alive(n);
	if (got == 0)
		got = engine_snap_read(sfs.eng, &n->en, buf, size, (uint64_t)off);
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

void sfs_snap_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

void sfs_snap_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

void sfs_snap_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0); /* nothing is ever dirty here */
}

/* SEEK_DATA and SEEK_HOLE (the kernel answers the others): one extent of data, no holes. */
void sfs_snap_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		    struct fuse_file_info *fi)
{
	struct snap_node *n = node_of(ino);
	struct stat st;
	int r;

	if (!n || (whence != SEEK_DATA && whence != SEEK_HOLE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = check_alive(n);
	if (r == 0)
		r = engine_snap_getattr(sfs.eng, &n->en, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (off < 0 || off >= st.st_size)
		fuse_reply_err(req, ENXIO);
	else
		fuse_reply_lseek(req, whence == SEEK_DATA ? off : st.st_size);
}

void sfs_snap_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, fuse_ino_t ino_out)
{
	/* from a snapshot into the live tree: EXDEV makes the kernel copy through read and write */
	fuse_reply_err(req, sfs_snap_node(ino_out) ? EROFS : EXDEV);
}

/* ---- extended attributes --------------------------------------------------------------- */

/*
 * The xattr names of n, with listxattr conventions. Callers other than root do not see the
 * trusted namespace, as on the backing filesystem.
 */
static ssize_t list_names(const struct snap_node *n, bool all, char *buf, size_t size)
{
	ssize_t len;
	char *list;

	if (all)
		return engine_snap_listxattr(sfs.eng, &n->en, buf, size);
	len = engine_snap_listxattr(sfs.eng, &n->en, NULL, 0);
	if (len <= 0)
		return len;
	list = malloc(len);
	if (!list)
		return -ENOMEM;
	len = engine_snap_listxattr(sfs.eng, &n->en, list, len);
	len = sfs_filter_trusted(list, len, buf, size);
	free(list);
	return len;
}

/* getxattr and listxattr: name NULL means list; size 0 asks for the length. */
static void query_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct snap_node *n = node_of(ino);
	char *buf = NULL;
	ssize_t len;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!n)
		len = name ? -ENODATA : 0; /* .snapshots has none */
	else
		len = check_alive(n);
	if (n && len == 0) {
		if (name)
			len = engine_snap_getxattr(sfs.eng, &n->en, name, buf, size);
		else
			len = list_names(n, fuse_req_ctx(req)->uid == 0, buf, size);
	}
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else
		fuse_reply_buf(req, buf, (size_t)len);
	free(buf);
}

void sfs_snap_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	query_xattr(req, ino, name, size);
}

void sfs_snap_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	query_xattr(req, ino, NULL, size);
}
