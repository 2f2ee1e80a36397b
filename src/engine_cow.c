/*
 * engine_cow.c: what every provider shares (the gate, snapshot creation and deletion, limits,
 * properties) and the copy-on-write journal. The live tree stays in SRC and is changed in
 * place; before a change destroys something a snapshot still reads, the old state goes to the
 * catalog (attributes, directory entries) and to the diff area (chunks), and is durable first.
 * The journal runs while a snapshot it serves exists: always for the copy-on-write provider,
 * until the copy is complete for the clone provider, never for the btrfs one.
 *
 * Decisions a newcomer asks about:
 *
 * - What needs preserving. Everything about an object as it was at the start of the epoch,
 *   once per epoch: its attributes (with size, link count and xattrs) before its first change,
 *   each chunk below that starting size before its first change, each directory entry before
 *   its first change. Objects created in this epoch (engine_after_create) and everything in a
 *   directory created in this epoch are skipped: no snapshot can see them.
 * - Per-epoch memory. A table keyed by file handle remembers, for the objects changed in this
 *   epoch, whether their attributes are saved, their starting size and a bitmap of the chunks
 *   already saved, so most writes never reach SQLite. It is emptied when the epoch moves. After
 *   a restart in the same epoch, the catalog answers what the bitmap does not know.
 * - Unlinked files. When the last name of an object that a journaled entry still names goes
 *   away, the object moves into SRC/.snapfs/graveyard/<fid> instead (a rename: no data is
 *   copied); a replaced file is hard-linked there first, so the rename stays atomic. A file
 *   there is deleted when no journaled entry names it any longer (after snapshot deletions).
 * - Snapshot reads look at the live object first and the catalog second. Rows are committed
 *   before the change they protect, so a reader that saw a change also finds its row; for
 *   chunks a sequence counter, bumped after each commit, tells a reader to look again.
 * - Mounts under SRC are outside snapshots: hooks ignore their objects and views omit them.
 * - Symlinks keep no xattrs in snapshots (they are read through /proc/self/fd, which follows).
 * - FilesNotToSnapshot: entries whose names match a pattern are not shown in snapshots; they
 *   are preserved all the same (hooks on descriptors know no names), so a change of the
 *   patterns changes what snapshots show, never what they hold.
 * - Rows no snapshot would read are not made (serves_snapshot): after the newest snapshot is
 *   deleted, a row could otherwise serve an empty range of epochs and never be freed.
 * - snapshot creation syncs SRC (syncfs) before it records the snapshot: the row must not
 *   become durable before the live data it leaves unpreserved.
 * - atime is shown as it is live unless another attribute changed since the snapshot.
 *
 * Locks, outermost first: the gate (rwlock; changes hold it shared, snapshot creation
 * exclusive), a file's lock (its preservation state), cat_lock (catalog and diff area).
 */
#include "engine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "diffarea.h"
#include "engine_int.h"
#include "log.h"

/* ---- identity --------------------------------------------------------------------------- */


/* The identity of (dirfd, name), or of dirfd itself when name is "" (AT_EMPTY_PATH). */
int get_ident(int dirfd, const char *name, struct ident *id)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[ENGINE_HANDLE_MAX];
	} h;
	int type;

	h.fh.handle_bytes = ENGINE_HANDLE_MAX;
	if (name_to_handle_at(dirfd, name, &h.fh, &id->mount_id,
			      name[0] ? 0 : AT_EMPTY_PATH) < 0)
		return errno == EOVERFLOW ? -EOPNOTSUPP : -errno;
	type = h.fh.handle_type;
	memcpy(id->key, &type, 4);
	memcpy(id->key + 4, h.fh.f_handle, h.fh.handle_bytes);
	id->keylen = 4 + h.fh.handle_bytes;
	return 0;
}

/* Open the object with key on SRC's filesystem. */
int open_key(struct engine *e, const unsigned char *key, unsigned keylen, int flags)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[ENGINE_HANDLE_MAX];
	} h;
	int type, fd;

	if (keylen < 4 || keylen > KEY_MAX)
		return -ESTALE;
	memcpy(&type, key, 4);
	h.fh.handle_type = type;
	h.fh.handle_bytes = keylen - 4;
	memcpy(h.fh.f_handle, key + 4, keylen - 4);
	fd = open_by_handle_at(e->src_fd, &h.fh, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static uint64_t key_hash(const unsigned char *key, unsigned len)
{
	uint64_t h = 1469598103934665603ULL;

	for (unsigned i = 0; i < len; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return h;
}

/* Double the table; keeps the old one when memory is short (chains just grow). */
static void table_grow(struct engine *e)
{
	size_t n = e->nbuckets * 2;
	struct efile **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < e->nbuckets; i++) {
		while (e->buckets[i]) {
			struct efile *f = e->buckets[i];
			size_t j = key_hash(f->key, f->keylen) % n;

			e->buckets[i] = f->next;
			f->next = b[j];
			b[j] = f;
		}
	}
	free(e->buckets);
	e->buckets = b;
	e->nbuckets = n;
}

/* The table entry for the object with this identity, created on first use. */
struct efile *efile_get_id(struct engine *e, const struct ident *id)
{
	uint64_t h = key_hash(id->key, id->keylen);
	struct efile *f;
	size_t b;

	pthread_mutex_lock(&e->tab_lock);
	b = h % e->nbuckets;
	for (f = e->buckets[b]; f; f = f->next)
		if (f->keylen == id->keylen && memcmp(f->key, id->key, id->keylen) == 0)
			break;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (f) {
			/* rows of an epoch begun before a restart are known to the catalog only */
			f->check_catalog = !e->fresh_epoch;
			f->keylen = id->keylen;
			memcpy(f->key, id->key, id->keylen);
			pthread_mutex_init(&f->lock, NULL);
			f->next = e->buckets[b];
			e->buckets[b] = f;
			if (++e->count > 2 * e->nbuckets)
				table_grow(e);
		}
	}
	pthread_mutex_unlock(&e->tab_lock);
	return f;
}

/*
 * The table entry of the object behind fd (name "") or (fd, name). NULL with *r = 0 when the
 * object is outside snapshots (another filesystem), NULL with *r < 0 on failure.
 */
struct efile *efile_get(struct engine *e, int fd, const char *name, int *r)
{
	struct ident id;
	struct efile *f;

	*r = get_ident(fd, name, &id);
	if (*r < 0 || id.mount_id != e->root_mount_id) {
		if (*r == -EOPNOTSUPP)
			*r = 0;
		return NULL;
	}
	f = efile_get_id(e, &id);
	if (!f)
		*r = -ENOMEM;
	return f;
}

static void table_clear(struct engine *e)
{
	e->count = 0;
	for (size_t b = 0; b < e->nbuckets; b++) {
		while (e->buckets[b]) {
			struct efile *f = e->buckets[b];

			e->buckets[b] = f->next;
			pthread_mutex_destroy(&f->lock);
			free(f->bits);
			free(f);
		}
	}
}

/* The object's catalog id, created when create is set; 0 when it has none. Under cat_lock. */
int efile_fid(struct engine *e, struct efile *f, bool create, int64_t *ret)
{
	int r = 0;

	if (!f->fid) {
		r = create ? catalog_file_id(e->cat, f->key, f->keylen, &f->fid)
			   : catalog_file_find(e->cat, f->key, f->keylen, &f->fid);
		if (r == -ENOENT)
			r = 0;
	}
	*ret = f->fid;
	return r;
}

/* ---- FilesNotToSnapshot ----------------------------------------------------------------- */

bool nosnap_match(struct engine *e, const char *name)
{
	bool match = false;

	pthread_mutex_lock(&e->nosnap_lock);
	for (const char *p = e->nosnap; p && *p && !match;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char pat[256];

		if (len > 0 && len < sizeof(pat)) {
			memcpy(pat, p, len);
			pat[len] = '\0';
			match = fnmatch(pat, name, FNM_PERIOD) == 0;
		}
		p = end ? end + 1 : p + len;
	}
	pthread_mutex_unlock(&e->nosnap_lock);
	return match;
}

/* ---- xattr blobs: [u16 name length][u32 value length][name][value]... ------------------- */

static int xattrs_capture(int fd, mode_t type, unsigned char **ret, size_t *ret_len)
{
	char path[40], *names = NULL;
	unsigned char *blob = NULL;
	size_t len = 0;
	ssize_t n;

	*ret = NULL;
	*ret_len = 0;
	if (S_ISLNK(type))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = listxattr(path, NULL, 0);
	if (n <= 0)
		return n < 0 && errno != ENOTSUP ? -errno : 0;
	names = malloc((size_t)n + 1);
	if (!names)
		return -ENOMEM;
	n = listxattr(path, names, (size_t)n);
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
		const char *nm = names + i;
		uint16_t nl = (uint16_t)strlen(nm);
		ssize_t vl = getxattr(path, nm, NULL, 0);
		unsigned char *m;

		if (vl < 0)
			continue;
		m = realloc(blob, len + 6 + nl + (size_t)vl);
		if (!m) {
			free(names);
			free(blob);
			return -ENOMEM;
		}
		blob = m;
		vl = getxattr(path, nm, blob + len + 6 + nl, (size_t)vl);
		if (vl < 0)
			continue;
		uint32_t v32 = (uint32_t)vl;

		memcpy(blob + len, &nl, 2);
		memcpy(blob + len + 2, &v32, 4);
		memcpy(blob + len + 6, nm, nl);
		len += 6 + nl + (size_t)vl;
	}
	free(names);
	*ret = blob;
	*ret_len = len;
	return 0;
}

/* Walk a blob: fills name (NUL terminated) and value; returns the next position or 0 at end. */
size_t blob_next(const unsigned char *b, size_t len, size_t pos, char *name,
			const unsigned char **val, uint32_t *vlen)
{
	uint16_t nl;

	if (pos + 6 > len)
		return 0;
	memcpy(&nl, b + pos, 2);
	memcpy(vlen, b + pos + 2, 4);
	if (pos + 6 + nl + *vlen > len || nl >= XATTR_NAME_MAX + 1)
		return 0;
	memcpy(name, b + pos + 6, nl);
	name[nl] = '\0';
	*val = b + pos + 6 + nl;
	return pos + 6 + nl + *vlen;
}

/* ---- preserving ------------------------------------------------------------------------- */

/*
 * Whether a row at the current epoch after an object's newest row at epoch last would serve a
 * snapshot: one must lie in [last, epoch). Always so while the newest snapshot is the one just
 * taken; after it was deleted, rows would be made that no snapshot reads and no deletion frees.
 */
static bool serves_snapshot(struct engine *e, uint64_t last)
{
	uint64_t newest = atomic_load(&e->newest);

	return newest != 0 && newest >= last; /* epochs start at 1: 0 is "no snapshot" */
}

/* Whether the newest snapshot closed the previous epoch (then every row serves it). */
static bool newest_is_last(struct engine *e)
{
	return atomic_load(&e->newest) + 1 == atomic_load(&e->epoch);
}

/*
 * Save the attributes of f (fd is it) for this epoch, unless done. Sets start_size. Takes the
 * file's lock.
 */
int journal_touch_attr(struct engine *e, struct efile *f, int fd)
{
	struct catalog_attr a = { 0 }, old;
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	struct stat st;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	if (f->attr_done || f->born)
		goto out;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	r = xattrs_capture(fd, st.st_mode & S_IFMT, &blob, &blob_len);
	if (r < 0)
		goto out;
	a = (struct catalog_attr){
		.epoch = atomic_load(&e->epoch),
		.mode = st.st_mode, .uid = st.st_uid, .gid = st.st_gid, .rdev = st.st_rdev,
		.size = st.st_size, .nlink = (uint32_t)st.st_nlink,
		.atime_ns = st.st_atim.tv_sec * 1000000000LL + st.st_atim.tv_nsec,
		.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
		.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec,
		.xattrs = blob, .xattrs_len = blob_len,
	};
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_begin(e->cat);
	if (r == 0)
		r = efile_fid(e, f, true, &a.fid);
	if (r == 0 && !newest_is_last(e)) {
		uint64_t last;

		r = catalog_attr_last(e->cat, a.fid, &last);
		if (r == 0 && !serves_snapshot(e, last) && last < a.epoch)
			a.epoch = 0; /* no snapshot would read the row */
	}
	f->start_size = (uint64_t)st.st_size;
	if (r == 0 && a.epoch) {
		r = catalog_attr_put(e->cat, &a);
		if (r == -EEXIST) {
			/* saved earlier in this epoch (before a restart): its size is the start */
			r = catalog_attr_find(e->cat, a.fid, a.epoch - 1, &old, NULL, 0);
			if (r == 1)
				f->start_size = (uint64_t)old.size;
			r = r < 0 ? r : 0;
			f->check_catalog = true;
		}
	}
	if (r == 0)
		r = catalog_commit(e->cat);
	else
		catalog_rollback(e->cat);
	pthread_mutex_unlock(&e->cat_lock);
	if (r == 0)
		f->attr_done = true;
out:
	pthread_mutex_unlock(&f->lock);
	free(blob);
	return r;
}

static bool bit_test(const struct efile *f, uint64_t k)
{
	return k / 64 < f->nwords && (f->bits[k / 64] >> (k % 64)) & 1;
}

int efile_bit_set(struct efile *f, uint64_t k)
{
	if (k / 64 >= f->nwords) {
		size_t n = k / 64 + 1 > f->nwords * 2 ? k / 64 + 1 : f->nwords * 2;
		uint64_t *m = realloc(f->bits, n * sizeof(*m));

		if (!m)
			return -ENOMEM;
		memset(m + f->nwords, 0, (n - f->nwords) * sizeof(*m));
		f->bits = m;
		f->nwords = n;
	}
	f->bits[k / 64] |= 1ULL << (k % 64);
	return 0;
}

static int delete_locked(struct engine *e, const char *id);

static int take_first(const struct catalog_snapshot *s, void *ctx)
{
	*(struct catalog_snapshot *)ctx = *s;
	return 1;
}

/*
 * Store len bytes of buf in the diff area, at *ret_off. When the bound (maxsize) or the diff
 * area's filesystem is full, delete the oldest snapshots until it fits: a live write never
 * fails for the diff area. Returns 0, 1 when no snapshot is left (nothing needs preserving any
 * more), or a negative errno. Under cat_lock.
 */
int journal_store(struct engine *e, const void *buf, uint32_t len, uint64_t *ret_off)
{
	for (;;) {
		struct catalog_snapshot oldest;
		bool bound;
		int r = diffarea_reserve(e->da, len, ret_off);

		bound = r == -ENOSPC;
		if (r == 0) {
			r = diffarea_write(e->da, *ret_off, buf, len);
			if (r == 0)
				return 0;
			(void)diffarea_release(e->da, *ret_off, len);
		}
		if (r != -ENOSPC)
			return r;
		r = catalog_snapshot_each(e->cat, take_first, &oldest);
		if (r == 0)
			return 1;
		if (r < 0)
			return r;
		r = delete_locked(e, oldest.id);
		if (r < 0)
			return r;
		if (e->evicted)
			e->evicted(&oldest, bound ? diffarea_limit(e->da) : 0);
	}
}

/* Give back the diff-area space of rows that will not be committed. Under cat_lock. */
static void drop_rows(struct engine *e, const struct catalog_chunk *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		(void)diffarea_release(e->da, rows[i].offset, rows[i].length);
}

/*
 * Make rows[0..n) durable, the diff area first and the catalog second, and note them in f's
 * bitmap (when that fails, f asks the catalog from then on). On failure their space goes back.
 */
static int commit_rows(struct engine *e, struct efile *f, const struct catalog_chunk *rows,
		       size_t n)
{
	int r;

	if (n == 0)
		return 0;
	/* the sync needs no lock (it touches only the data file): others read and preserve on */
	r = diffarea_sync(e->da);
	pthread_mutex_lock(&e->cat_lock);
	/* the last snapshot went since chunk_needed: the rows would serve nothing, ever */
	if (r == 0 && !journal_active(e)) {
		drop_rows(e, rows, n);
		pthread_mutex_unlock(&e->cat_lock);
		return 0;
	}
	if (r == 0)
		r = catalog_chunks_put(e->cat, rows, n);
	if (r < 0)
		drop_rows(e, rows, n);
	pthread_mutex_unlock(&e->cat_lock);
	if (r < 0)
		return r;
	atomic_fetch_add(&e->preserve_seq, 1);
	for (size_t i = 0; i < n; i++)
		if (efile_bit_set(f, rows[i].chunk) < 0)
			f->check_catalog = true;
	return 0;
}

/* Whether chunk k of f still needs preserving in this epoch: 1, 0, or a negative errno. */
int journal_chunk_needed(struct engine *e, struct efile *f, uint64_t k)
{
	int r;

	uint64_t last = 0;

	if (bit_test(f, k))
		return 0;
	if (!f->check_catalog && newest_is_last(e))
		return 1;
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_chunk_last(e->cat, f->fid, k, &last);
	pthread_mutex_unlock(&e->cat_lock);
	if (r < 0)
		return r;
	/* preserved in this epoch already, or no snapshot would read a new row */
	if (last == atomic_load(&e->epoch) || !serves_snapshot(e, last)) {
		(void)efile_bit_set(f, k);
		return 0;
	}
	return 1;
}

/*
 * Copy chunks [first, last] of f that this epoch has not preserved and that lie below its
 * starting size into the diff area, then commit their rows, BATCH_CHUNKS at a time. Caller
 * holds f->lock, attributes done. fd is any descriptor of the file.
 */
static int preserve_range(struct engine *e, struct efile *f, int fd, uint64_t first,
			  uint64_t last)
{
	struct catalog_chunk rows[BATCH_CHUNKS];
	uint64_t nchunks = (f->start_size + e->cs - 1) / e->cs;
	unsigned char *buf = NULL;
	int rfd = -1, r = 0;
	size_t n = 0;

	for (uint64_t k = first; k <= last && k < nchunks && r == 0; k++) {
		uint64_t len = f->start_size - k * e->cs;
		ssize_t got;

		r = journal_chunk_needed(e, f, k);
		if (r <= 0)
			continue;
		if (rfd < 0) {
			char path[40];

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			rfd = open(path, O_RDONLY | O_CLOEXEC);
			buf = malloc(e->cs);
			if (rfd < 0 || !buf) {
				r = rfd < 0 ? -errno : -ENOMEM;
				break;
			}
		}
		if (len > e->cs)
			len = e->cs;
		got = e->io->pread(e->io, rfd, buf, len, (off_t)(k * e->cs));
		if (got < 0) {
			r = (int)got;
			break;
		}
		memset(buf + got, 0, len - (size_t)got);
		rows[n] = (struct catalog_chunk){ .fid = f->fid, .chunk = k,
			.epoch = atomic_load(&e->epoch), .length = (uint32_t)len };
		pthread_mutex_lock(&e->cat_lock);
		r = journal_store(e, buf, (uint32_t)len, &rows[n].offset);
		n += r == 0;
		if (r != 0) {
			/* on 1, the last snapshot went to make room: nothing needs this any more */
			drop_rows(e, rows, n);
			n = 0;
		}
		pthread_mutex_unlock(&e->cat_lock);
		if (r == 1) {
			r = 0;
			break;
		}
		if (r == 0 && n == BATCH_CHUNKS) {
			r = commit_rows(e, f, rows, n);
			n = 0;
		}
	}
	if (r == 0)
		r = commit_rows(e, f, rows, n);
	if (rfd >= 0)
		(void)close(rfd);
	free(buf);
	return r;
}

/* ---- hooks ------------------------------------------------------------------------------ */

void engine_gate_enter(struct engine *e)
{
	pthread_rwlock_rdlock(&e->gate);
}

void engine_gate_leave(struct engine *e)
{
	pthread_rwlock_unlock(&e->gate);
}

bool journal_active(struct engine *e)
{
	return atomic_load_explicit(&e->nsnaps, memory_order_acquire) > 0;
}

int engine_before_write(struct engine *e, int fd, uint64_t off, uint64_t len)
{
	struct efile *f;
	int r;

	if (len == 0)
		return 0;
	if (e->prov->redirect) {
		r = row_unredirect(e, fd, off / e->cs, (off + len - 1) / e->cs);
		if (r < 0)
			return r;
	}
	if (!journal_active(e))
		return 0;
	f = efile_get(e, fd, "", &r);
	if (!f || f->born)
		return r;
	r = journal_touch_attr(e, f, fd);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	r = preserve_range(e, f, fd, off / e->cs, (off + len - 1) / e->cs);
	pthread_mutex_unlock(&f->lock);
	return r;
}

int engine_before_truncate(struct engine *e, int fd, uint64_t size)
{
	struct efile *f;
	int r;

	if (e->prov->redirect) {
		r = row_unredirect(e, fd, size / e->cs, UINT64_MAX);
		if (r < 0)
			return r;
	}
	if (!journal_active(e))
		return 0;
	f = efile_get(e, fd, "", &r);
	if (!f || f->born)
		return r;
	r = journal_touch_attr(e, f, fd);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	if (size < f->start_size)
		r = preserve_range(e, f, fd, size / e->cs, (f->start_size - 1) / e->cs);
	pthread_mutex_unlock(&f->lock);
	return r;
}

ssize_t engine_write(struct engine *e, int fd, const void *buf, size_t len, uint64_t off)
{
	int r;

	if (e->prov->redirect)
		return row_write(e, fd, buf, len, off);
	r = engine_before_write(e, fd, off, len);
	return r < 0 ? r : e->io->pwrite(e->io, fd, buf, len, (off_t)off);
}

int engine_live_read(struct engine *e, int fd, void *buf, size_t len, uint64_t off,
		     ssize_t *got)
{
	return e->prov->redirect ? row_live_read(e, fd, buf, len, off, got) : 0;
}

bool engine_live_redirected(struct engine *e, int fd)
{
	return e->prov->redirect && row_redirected(e, fd);
}

int engine_fsync(struct engine *e, int fd, bool datasync)
{
	if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		return -errno;
	return engine_live_redirected(e, fd) ? diffarea_sync(e->da) : 0;
}

int engine_before_attr(struct engine *e, int fd)
{
	struct efile *f;
	int r;

	if (!journal_active(e))
		return 0;
	f = efile_get(e, fd, "", &r);
	return f ? journal_touch_attr(e, f, fd) : r;
}

/* Save the attributes of the object named (dirfd, name) this epoch; fills *ret when asked. */
static int touch_entry_attr(struct engine *e, int dirfd, const char *name, struct efile **ret)
{
	struct efile *f;
	int fd, r;

	f = efile_get(e, dirfd, name, &r);
	if (ret)
		*ret = f;
	if (!f || f->born)
		return r;
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = journal_touch_attr(e, f, fd);
	(void)close(fd);
	return r;
}

/*
 * Journal the entry name of the directory d (dirfd) as it is now, once per epoch; fills
 * *ret_target with the object it names (NULL when absent or outside snapshots).
 */
static int journal_entry(struct engine *e, struct efile *d, int dirfd, const char *name,
			 struct efile **ret_target)
{
	struct efile *t = NULL;
	int64_t dfid, tfid = 0;
	int r;

	t = efile_get(e, dirfd, name, &r);
	if (r == -ENOENT)
		r = 0;
	if (ret_target)
		*ret_target = t;
	if (r < 0 || d->born)
		return r;
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_begin(e->cat);
	if (r == 0)
		r = efile_fid(e, d, true, &dfid);
	if (r == 0 && !newest_is_last(e)) {
		uint64_t last;

		r = catalog_name_last(e->cat, dfid, name, &last);
		if (r == 0 && !serves_snapshot(e, last) && last < atomic_load(&e->epoch))
			goto out; /* no snapshot would read the row */
	}
	if (r == 0 && t && !t->born)
		r = efile_fid(e, t, true, &tfid);
	if (r == 0) {
		r = catalog_name_put(e->cat, dfid, name, atomic_load(&e->epoch), tfid);
		if (r == -EEXIST)
			r = 0; /* journaled earlier in this epoch */
	}
out:
	if (r == 0)
		r = catalog_commit(e->cat);
	else
		catalog_rollback(e->cat);
	pthread_mutex_unlock(&e->cat_lock);
	return r;
}

/* The directory dirfd's table entry with its attributes saved; NULL (r 0) outside snapshots. */
static struct efile *touch_dir(struct engine *e, int dirfd, int *r)
{
	struct efile *d = efile_get(e, dirfd, "", r);

	if (d && !d->born) {
		*r = journal_touch_attr(e, d, dirfd);
		if (*r < 0)
			return NULL;
	}
	return d;
}

int engine_before_create(struct engine *e, int dirfd, const char *name)
{
	struct efile *d, *t;
	int r;

	if (!journal_active(e))
		return 0;
	d = touch_dir(e, dirfd, &r);
	if (!d)
		return r;
	r = journal_entry(e, d, dirfd, name, &t);
	/* link: the object gains a name, its link count changes */
	if (r == 0 && t)
		r = touch_entry_attr(e, dirfd, name, NULL);
	return r;
}

void engine_after_create(struct engine *e, int dirfd, const char *name)
{
	struct efile *f;
	int r;

	if (!journal_active(e))
		return;
	f = efile_get(e, dirfd, name, &r);
	if (f) {
		pthread_mutex_lock(&f->lock);
		if (!f->attr_done)
			f->born = true;
		pthread_mutex_unlock(&f->lock);
	}
}

/* Whether the object of f is still named by a journaled entry (a snapshot may reach it). */
static int still_named(struct engine *e, struct efile *f)
{
	int64_t fid;
	int r;

	if (f->born)
		return 0;
	pthread_mutex_lock(&e->cat_lock);
	r = efile_fid(e, f, false, &fid);
	if (r == 0 && fid)
		r = catalog_fid_named(e->cat, fid);
	pthread_mutex_unlock(&e->cat_lock);
	return r;
}

static int dir_is_empty(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 1;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			r = 0;
			break;
		}
	closedir(d);
	return r;
}

static void grave_name(const struct efile *f, char *buf, size_t size)
{
	snprintf(buf, size, "%" PRId64, f->fid);
}

/*
 * Before the last name of the object t (at dirfd/name) goes: whether it must move into the
 * graveyard (1), or may go (0).
 */
static int must_keep(struct engine *e, struct efile *t, int dirfd, const char *name)
{
	struct stat st;

	if (!t || t->born)
		return 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		return 0;
	return still_named(e, t);
}

int engine_unlink(struct engine *e, int dirfd, const char *name, bool dir)
{
	struct efile *d, *t;
	char gname[24];
	int r;

	if (!journal_active(e))
		goto plain;
	d = touch_dir(e, dirfd, &r);
	if (!d) {
		if (r < 0)
			return r;
		goto plain;
	}
	r = journal_entry(e, d, dirfd, name, &t);
	if (r == 0 && t)
		r = touch_entry_attr(e, dirfd, name, NULL);
	if (r == 0)
		r = must_keep(e, t, dirfd, name);
	if (r <= 0) {
		if (r < 0)
			return r;
		goto plain;
	}
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (dir != !!S_ISDIR(st.st_mode))
		return dir ? -ENOTDIR : -EISDIR;
	if (dir) {
		r = dir_is_empty(dirfd, name);
		if (r <= 0)
			return r < 0 ? r : -ENOTEMPTY;
	}
	grave_name(t, gname, sizeof(gname));
	if (renameat2(dirfd, name, e->grave_fd, gname, RENAME_NOREPLACE) < 0)
		return -errno;
	return 0;
plain:
	return unlinkat(dirfd, name, dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
}

int engine_rename(struct engine *e, int olddirfd, const char *oldname, int newdirfd,
		  const char *newname, unsigned flags)
{
	struct efile *d1, *d2, *x = NULL, *y = NULL;
	char gname[24];
	struct stat yst, xst;
	int r, keep;

	if (!journal_active(e))
		goto plain;
	d1 = touch_dir(e, olddirfd, &r);
	if (r < 0)
		return r;
	d2 = touch_dir(e, newdirfd, &r);
	if (r < 0)
		return r;
	if (d1)
		r = journal_entry(e, d1, olddirfd, oldname, &x);
	if (r == 0 && d2)
		r = journal_entry(e, d2, newdirfd, newname, &y);
	if (r == 0 && x)
		r = touch_entry_attr(e, olddirfd, oldname, NULL);
	if (r == 0 && y)
		r = touch_entry_attr(e, newdirfd, newname, NULL);
	if (r < 0)
		return r;
	if (!y || x == y || (flags & RENAME_EXCHANGE))
		goto plain;
	keep = must_keep(e, y, newdirfd, newname);
	if (keep <= 0) {
		if (keep < 0)
			return keep;
		goto plain;
	}
	grave_name(y, gname, sizeof(gname));
	if (fstatat(newdirfd, newname, &yst, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(yst.st_mode)) {
		/* a second name in the graveyard keeps the replaced file; the rename stays atomic */
		if (linkat(newdirfd, newname, e->grave_fd, gname, 0) < 0 && errno != EEXIST)
			return -errno;
		if (renameat2(olddirfd, oldname, newdirfd, newname, flags) < 0) {
			r = -errno;
			(void)unlinkat(e->grave_fd, gname, 0);
			return r;
		}
		return 0;
	}
	/*
	 * A directory cannot be hard-linked: exchange the two, so that newname never goes
	 * missing, then move the replaced one from oldname into the graveyard. The kernel's checks
	 * are made here first, as renameat2 would make them on the replaced directory.
	 */
	if (flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (fstatat(olddirfd, oldname, &xst, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(xst.st_mode))
		return -EISDIR;
	r = dir_is_empty(newdirfd, newname);
	if (r <= 0)
		return r < 0 ? r : -ENOTEMPTY;
	if (renameat2(olddirfd, oldname, newdirfd, newname, RENAME_EXCHANGE) < 0)
		return -errno;
	if (renameat2(olddirfd, oldname, e->grave_fd, gname, RENAME_NOREPLACE) < 0) {
		r = -errno;
		(void)renameat2(olddirfd, oldname, newdirfd, newname, RENAME_EXCHANGE);
		return r;
	}
	return 0;
plain:
	return renameat2(olddirfd, oldname, newdirfd, newname, flags) < 0 ? -errno : 0;
}

/* ---- snapshots -------------------------------------------------------------------------- */

static int new_uuid(char *buf)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, CATALOG_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}

static void browse_name(int64_t sec, char *buf)
{
	struct tm tm;
	time_t t = (time_t)sec;

	gmtime_r(&t, &tm);
	strftime(buf, CATALOG_BROWSE_LEN + 1, "@GMT-%Y.%m.%d-%H.%M.%S", &tm);
}

struct newest {
	int64_t created_ns;
	int count;
};

static int note_newest(const struct catalog_snapshot *s, void *ctx)
{
	struct newest *n = ctx;

	n->count++;
	if (s->created_ns > n->created_ns)
		n->created_ns = s->created_ns;
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * The hold: prepare waits for the next whole second when the newest snapshot was taken in
 * this one (browse names have whole seconds; at most a second), flushes SRC, closes the gate
 * and flushes again. A clock set back behind the newest snapshot is not waited for: commit
 * then dates the snapshot a second after the newest, so creation times still ascend;
 * it returns with create_lock and the gate held. commit records the snapshot and opens the
 * gate; abort only opens it. The three run on one thread (the gate is a rwlock).
 */
int engine_snapshot_prepare(struct engine *e)
{
	struct newest nw = { INT64_MIN, 0 };
	int64_t sec;
	int r;

	pthread_mutex_lock(&e->create_lock);
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_snapshot_each(e->cat, note_newest, &nw);
	pthread_mutex_unlock(&e->cat_lock);
	if (r == 0 && nw.count >= ENGINE_MAX_SNAPSHOTS)
		r = -EMLINK;
	if (r < 0)
		goto out;
	sec = nw.count ? nw.created_ns / 1000000000LL : INT64_MIN;
	for (int64_t now = e->clock(); now / 1000000000LL == sec; now = e->clock()) {
		int64_t wait = (sec + 1) * 1000000000LL - now;
		struct timespec ts = { wait / 1000000000LL, wait % 1000000000LL };

		nanosleep(&ts, NULL);
	}
	e->held_after_s = sec;
	/*
	 * SRC's dirty pages must be on disk before the snapshot's row is: after a power cut the
	 * snapshot reads live data that was never preserved. Once before the gate closes (the bulk),
	 * once inside (what came in meanwhile), so the gate stays closed briefly.
	 */
	if (syncfs(e->src_fd) < 0)
		r = -errno;
	pthread_rwlock_wrlock(&e->gate);
	if (r == 0 && syncfs(e->src_fd) < 0)
		r = -errno;
	if (r == 0)
		return 0;
	pthread_rwlock_unlock(&e->gate);
out:
	pthread_mutex_unlock(&e->create_lock);
	return r;
}

void engine_snapshot_abort(struct engine *e)
{
	pthread_rwlock_unlock(&e->gate);
	pthread_mutex_unlock(&e->create_lock);
}

/* A set id the catalog takes: NULL (a new set), or 1 to CATALOG_ID_LEN bytes. */
static bool is_set_id(const char *set_id)
{
	return !set_id || (*set_id && strlen(set_id) <= CATALOG_ID_LEN);
}

int engine_snapshot_commit(struct engine *e, const char *set_id, bool writable,
			   struct catalog_snapshot *ret)
{
	struct catalog_snapshot s = { 0 };
	int64_t sec = e->held_after_s;
	int r;

	r = is_set_id(set_id) ? new_uuid(s.id) : -EINVAL;
	if (r == 0 && !set_id)
		r = new_uuid(s.set_id);
	else if (r == 0)
		snprintf(s.set_id, sizeof(s.set_id), "%s", set_id);
	if (r < 0) {
		engine_snapshot_abort(e);
		return r;
	}
	s.created_ns = e->clock();
	if (s.created_ns / 1000000000LL <= sec) /* the clock went back */
		s.created_ns = (sec + 1) * 1000000000LL;
	browse_name(s.created_ns / 1000000000LL, s.browse);
	/* an offloading provider makes the tree now; a crash before the row leaves an orphan */
	if (e->prov->tree_make) {
		s.tree = true;
		r = e->prov->tree_make(e->src_fd, e->trees_fd, s.id,
				       writable && e->prov->tree_seal);
		if (r < 0)
			snap_log(LOG_ERR, "provider %s: cannot make snapshot %s: %s", e->prov->name,
				 s.id, strerror(-r));
	}
	if (r == 0) {
		pthread_mutex_lock(&e->cat_lock);
		r = catalog_snapshot_create(e->cat, &s);
		pthread_mutex_unlock(&e->cat_lock);
		if (r < 0 && s.tree)
			(void)e->prov->tree_remove(e->trees_fd, s.id);
	}
	if (r == 0) {
		table_clear(e);
		e->fresh_epoch = true;
		atomic_store(&e->epoch, s.epoch + 1);
		if (!s.tree) {
			atomic_store(&e->newest, s.epoch);
			atomic_fetch_add(&e->nsnaps, 1);
		}
	}
	pthread_rwlock_unlock(&e->gate);
	if (r == 0) {
		*ret = s;
		if (e->prov->created)
			e->prov->created(e, &s);
	}
	if (e->prov->redirect) /* folds the diff area's eviction queued */
		row_settle(e);
	pthread_mutex_unlock(&e->create_lock);
	return r;
}

int engine_snapshot_create(struct engine *e, const char *set_id, struct catalog_snapshot *ret)
{
	int r;

	if (!is_set_id(set_id)) /* refused before the gate closes */
		return -EINVAL;
	r = engine_snapshot_prepare(e);
	if (r < 0)
		return r;
	return engine_snapshot_commit(e, set_id, false, ret);
}

bool engine_can_recover(struct engine *e)
{
	return e->prov->tree_seal != NULL;
}

int engine_snapshot_writable(struct engine *e, const char *id, char *buf, size_t size)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;
	int len;

	if (!e->prov->tree_seal)
		return -EOPNOTSUPP;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", e->trees_fd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n < 0)
		return -errno;
	dir[n] = '\0';
	len = snprintf(buf, size, "%s/%s", dir, id);
	return len > 0 && (size_t)len < size ? 0 : -ENAMETOOLONG;
}

int engine_snapshot_seal(struct engine *e, const char *id)
{
	if (!e->prov->tree_seal)
		return 0;
	if (strchr(id, '/') || id[0] == '.')
		return -EINVAL;
	return e->prov->tree_seal(e->trees_fd, id);
}

int engine_snapshot_list(struct engine *e,
			 int (*fn)(const struct catalog_snapshot *s, void *ctx), void *ctx)
{
	int r;

	pthread_mutex_lock(&e->cat_lock);
	r = catalog_snapshot_list(e->cat, fn, ctx);
	pthread_mutex_unlock(&e->cat_lock);
	return r;
}

int engine_snapshot_each(struct engine *e,
			 int (*fn)(const struct catalog_snapshot *s, void *ctx), void *ctx)
{
	int r;

	pthread_mutex_lock(&e->cat_lock);
	r = catalog_snapshot_each(e->cat, fn, ctx);
	pthread_mutex_unlock(&e->cat_lock);
	return r;
}

static void release_chunk(const struct catalog_chunk *c, void *ctx)
{
	struct engine *e = ctx;
	int r;

	if (c->offset == CATALOG_IN_SRC) { /* SRC's chunk is free: its live bytes go back there */
		row_released(e, c);
		return;
	}
	r = diffarea_release(e->da, c->offset, c->length);

	if (r < 0)
		snap_log(LOG_DEBUG, "diff area: cannot free %u bytes at %" PRIu64 ": %s",
			 c->length, c->offset, strerror(-r));
}

/* Delete the graveyard files no journaled entry names any longer. Under cat_lock. */
static void graveyard_sweep(struct engine *e)
{
	int fd = openat(e->grave_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return;
	}
	while ((de = readdir(d))) {
		char *end;
		long long fid = strtoll(de->d_name, &end, 10);

		if (de->d_name[0] == '.' || *end || fid <= 0)
			continue;
		if (catalog_fid_named(e->cat, fid) == 0 &&
		    unlinkat(e->grave_fd, de->d_name, 0) < 0 && errno == EISDIR)
			(void)unlinkat(e->grave_fd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

/* What the journal serves changed: its snapshot count and newest epoch. Under cat_lock. */
static void journal_refresh(struct engine *e)
{
	uint64_t newest = 0;
	int n = catalog_journal_count(e->cat);

	if (catalog_newest_epoch(e->cat, &newest) == 0)
		atomic_store(&e->newest, newest);
	if (n >= 0)
		atomic_store(&e->nsnaps, n);
}

static int delete_locked(struct engine *e, const char *id)
{
	struct catalog_snapshot s;
	int r = catalog_snapshot_get(e->cat, id, &s);

	if (r < 0)
		return r;
	/* readers of the snapshot look again after their read (engine_snap_read) */
	atomic_fetch_add(&e->del_seq, 1);
	r = catalog_snapshot_delete(e->cat, id, release_chunk, e);
	if (r < 0)
		return r;
	journal_refresh(e);
	if (s.tree) {
		/* the row went first: a tree a crash leaves behind is removed at the next open */
		r = e->prov->tree_remove ? e->prov->tree_remove(e->trees_fd, id) :
		    tree_remove_all(e->trees_fd, id);
		if (r < 0)
			snap_log(LOG_ERR, "snapshot %s: cannot remove its tree: %s", id, strerror(-r));
	}
	graveyard_sweep(e);
	return 0;
}

int engine_journal_release(struct engine *e, const char *id)
{
	int r;

	pthread_mutex_lock(&e->cat_lock);
	atomic_fetch_add(&e->del_seq, 1);
	r = catalog_journal_release(e->cat, id, release_chunk, e);
	if (r >= 0) {
		journal_refresh(e);
		graveyard_sweep(e);
		r = 0;
	}
	pthread_mutex_unlock(&e->cat_lock);
	return r;
}

static int add_tree_bytes(const struct catalog_snapshot *s, void *ctx)
{
	if (s->tree)
		*(uint64_t *)ctx += s->diff_bytes;
	return 0;
}

/*
 * maxsize bounds trees in the diff area too: while the journal's file and the trees exceed
 * it, the oldest snapshots go, never the newest (keep). Under cat_lock.
 */
static void evict_for_trees(struct engine *e, const char *keep)
{
	uint64_t limit = diffarea_limit(e->da);

	while (limit && e->prov->trees_in_diff_area) {
		struct catalog_snapshot oldest;
		uint64_t used = diffarea_used(e->da);

		if (catalog_snapshot_each(e->cat, add_tree_bytes, &used) < 0 || used <= limit ||
		    catalog_snapshot_each(e->cat, take_first, &oldest) != 1 ||
		    strcmp(oldest.id, keep) == 0 || delete_locked(e, oldest.id) < 0)
			break;
		if (e->evicted)
			e->evicted(&oldest, limit);
	}
}

int engine_tree_done(struct engine *e, const struct catalog_snapshot *s, uint64_t bytes)
{
	struct catalog_snapshot t;
	int r;

	pthread_mutex_lock(&e->cat_lock);
	r = catalog_tree_add(e->cat, s->id, bytes);
	if (r == 0)
		r = catalog_snapshot_get(e->cat, s->id, &t);
	if (r == 0)
		evict_for_trees(e, s->id);
	pthread_mutex_unlock(&e->cat_lock);
	if (r < 0)
		return r;
	if (e->tree_ready)
		e->tree_ready(e, &t);
	else
		r = engine_journal_release(e, s->id);
	return r;
}

const struct provider *engine_provider(struct engine *e)
{
	return e->prov;
}

int engine_snapshot_delete(struct engine *e, const char *id)
{
	int r;

	pthread_mutex_lock(&e->cat_lock);
	r = delete_locked(e, id);
	pthread_mutex_unlock(&e->cat_lock);
	if (e->prov->redirect)
		row_settle(e);
	return r;
}

/* ---- properties ------------------------------------------------------------------------- */

struct prop {
	const char *name;
	const char *def;
};

static const struct prop props[] = {
	{ ENGINE_PROP_CHUNKSIZE, "65536" },
	{ ENGINE_PROP_MAXSIZE, "0" },
	{ ENGINE_PROP_MINDIFF, "0" },
	{ ENGINE_PROP_MAXSHADOW, "64" },
	{ ENGINE_PROP_NOSNAP, "" },
	{ ENGINE_PROP_DIFFAREA, "" },
	{ ENGINE_PROP_PROVIDER, "cow" },
	{ ENGINE_PROP_METHOD, "cow" },
	{ ENGINE_PROP_AUTORECOVER, "no" },
	{ ENGINE_PROP_USED, "0" },
};

static const struct prop *find_prop(const char *name)
{
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (strcmp(props[i].name, name) == 0)
			return &props[i];
	return NULL;
}

/* A size: digits with an optional K, M, G or T (powers of 1024). -1 when malformed. */
static int64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (strcmp(s, "unbounded") == 0)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	}
	if (*end || v > (unsigned long long)INT64_MAX >> shift)
		return -1;
	return (int64_t)(v << shift);
}

/* Put a stored or new property value into effect; 0 or a negative errno. */
static int apply_prop(struct engine *e, const char *name, const char *value)
{
	if (strcmp(name, ENGINE_PROP_MAXSIZE) == 0) {
		diffarea_set_limit(e->da, (uint64_t)parse_size(value));
	} else if (strcmp(name, ENGINE_PROP_MINDIFF) == 0) {
		int64_t v = parse_size(value);

		if (v > 0)
			return diffarea_preallocate(e->da, (uint64_t)v);
	} else if (strcmp(name, ENGINE_PROP_NOSNAP) == 0) {
		char *copy = value[0] ? strdup(value) : NULL;

		pthread_mutex_lock(&e->nosnap_lock);
		free(e->nosnap);
		e->nosnap = copy;
		pthread_mutex_unlock(&e->nosnap_lock);
	}
	return 0;
}

int engine_prop_get(struct engine *e, const char *name, char *buf, size_t size)
{
	const struct prop *p = find_prop(name);
	int r;

	if (!p)
		return -ENOENT;
	if (strcmp(name, ENGINE_PROP_METHOD) == 0 || strcmp(name, ENGINE_PROP_AUTORECOVER) == 0) {
		const char *v = name[0] == 'm' ? e->prov->method : e->prov->tree_seal ? "yes" : "no";

		if (strlen(v) >= size)
			return -ERANGE;
		strcpy(buf, v);
		return (int)strlen(buf);
	}
	pthread_mutex_lock(&e->cat_lock);
	if (strcmp(name, ENGINE_PROP_USED) == 0) {
		/* what maxsize bounds: the journal's file and the trees kept in the diff area */
		uint64_t used = e->da ? diffarea_used(e->da) : 0;

		r = catalog_snapshot_each(e->cat, add_tree_bytes, &used);
		pthread_mutex_unlock(&e->cat_lock);
		if (r < 0)
			return r;
		r = snprintf(buf, size, "%" PRIu64, used);
		return r < 0 || (size_t)r >= size ? -ERANGE : r;
	}
	r = catalog_prop_get(e->cat, name, buf, size);
	pthread_mutex_unlock(&e->cat_lock);
	if (r == -ENOENT) {
		if (strlen(p->def) >= size)
			return -ERANGE;
		strcpy(buf, p->def);
		r = (int)strlen(p->def);
	}
	return r;
}

int engine_prop_set(struct engine *e, const char *name, const char *value, char *msg,
		    size_t msglen)
{
	const struct prop *p = find_prop(name);
	char *end;
	long n;
	int r;

	if (!p) {
		snprintf(msg, msglen, "unknown property '%s'", name);
		return -ENOENT;
	}
	if (strcmp(name, ENGINE_PROP_CHUNKSIZE) == 0 || strcmp(name, ENGINE_PROP_DIFFAREA) == 0 ||
	    strcmp(name, ENGINE_PROP_PROVIDER) == 0 || strcmp(name, ENGINE_PROP_METHOD) == 0 ||
	    strcmp(name, ENGINE_PROP_AUTORECOVER) == 0 || strcmp(name, ENGINE_PROP_USED) == 0) {
		snprintf(msg, msglen, "property '%s' is %s", name,
			 strcmp(name, ENGINE_PROP_USED) == 0 ? "read-only"
							      : "fixed when the volume is first mounted");
		return -EPERM;
	}
	if (e->prov->offload && (strcmp(name, ENGINE_PROP_MAXSIZE) == 0 ||
				 strcmp(name, ENGINE_PROP_MINDIFF) == 0) && strcmp(value, "0") != 0) {
		snprintf(msg, msglen, "%s: provider '%s' keeps no diff area; its snapshots share "
			 "SRC's filesystem, whose own quotas bound them", name, e->prov->name);
		return -EINVAL;
	}
	if (strcmp(name, ENGINE_PROP_MAXSHADOW) == 0) {
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || *end || end == value || n < 1 || n > ENGINE_MAX_SNAPSHOTS) {
			snprintf(msg, msglen, "%s must be a number from 1 to %d, not '%s'", name,
				 ENGINE_MAX_SNAPSHOTS, value);
			return -EINVAL;
		}
	} else if (strcmp(name, ENGINE_PROP_NOSNAP) != 0 && parse_size(value) < 0) {
		snprintf(msg, msglen, "%s must be a size in bytes (with K, M, G or T), or "
			 "'unbounded', not '%s'", name, value);
		return -EINVAL;
	} else if (strlen(value) > 4000) {
		snprintf(msg, msglen, "%s is too long", name);
		return -EINVAL;
	}
	pthread_mutex_lock(&e->cat_lock);
	r = apply_prop(e, name, value);
	if (r < 0)
		snprintf(msg, msglen, "cannot apply %s=%s: %s", name, value, strerror(-r));
	else if ((r = catalog_prop_set(e->cat, name, value)) < 0)
		snprintf(msg, msglen, "cannot store %s: %s", name, strerror(-r));
	pthread_mutex_unlock(&e->cat_lock);
	return r;
}

/* ---- open and close --------------------------------------------------------------------- */

static int check_chunk_size(uint64_t cs)
{
	return cs >= 4096 && cs <= 1024 * 1024 && (cs & (cs - 1)) == 0 ? 0 : -EINVAL;
}

/* Choose the provider at the first open; check it, and that it can still serve SRC, later. */
static int setup_provider(struct engine *e, const struct engine_params *p, char *msg,
			  size_t msglen)
{
	char buf[64], why[512];
	int r = catalog_prop_get(e->cat, ENGINE_PROP_PROVIDER, buf, sizeof(buf));

	if (r == -ENOENT && catalog_snapshot_count(e->cat) > 0)
		snprintf(buf, sizeof(buf), "cow"); /* a volume from before providers */
	else if (r == -ENOENT) {
		e->prov = provider_choose(p->provider, p->method, p->src_fd, why, sizeof(why));
		if (!e->prov) {
			snprintf(msg, msglen, "%s", why);
			return -EOPNOTSUPP;
		}
		return catalog_prop_set(e->cat, ENGINE_PROP_PROVIDER, e->prov->name);
	} else if (r < 0) {
		return r;
	}
	e->prov = provider_find(buf);
	if (!e->prov) {
		snprintf(msg, msglen, "catalog: unknown provider '%s'", buf);
		return -EUCLEAN;
	}
	if ((p->provider && !provider_find(p->provider)) ||
	    (p->method && !provider_method_name(p->method))) {
		(void)provider_choose(p->provider, p->method, p->src_fd, why, sizeof(why));
		snprintf(msg, msglen, "%s", why);
		return -EINVAL;
	}
	if ((p->provider && strcmp(p->provider, e->prov->name) != 0) ||
	    (p->method && strcmp(p->method, e->prov->method) != 0)) {
		snprintf(msg, msglen, "the volume's snapshots are made by provider '%s' (%s); it "
			 "cannot change to %s '%s'", e->prov->name,
			 provider_method_name(e->prov->method), p->provider ? "provider" : "method",
			 p->provider ? p->provider : p->method);
		return -EINVAL;
	}
	r = e->prov->probe(p->src_fd, why, sizeof(why));
	if (r < 0)
		snprintf(msg, msglen, "provider '%s' cannot serve this volume: %s", e->prov->name,
			 why);
	return r;
}

/* Fix the chunk size and the diff area's directory at the first open; check them later. */
static int setup_fixed_props(struct engine *e, const struct engine_params *p, char *diff_path,
			     size_t dsize, char *msg, size_t msglen)
{
	char buf[PATH_MAX];
	int r = setup_provider(e, p, msg, msglen);

	if (r < 0)
		return r;
	r = catalog_prop_get(e->cat, ENGINE_PROP_CHUNKSIZE, buf, sizeof(buf));
	if (r == -ENOENT) {
		e->cs = p->chunk_size ? p->chunk_size : ENGINE_DEFAULT_CHUNK;
		if (check_chunk_size(e->cs) < 0) {
			snprintf(msg, msglen, "chunk size %u: must be a power of two from 4096 "
				 "to 1048576", e->cs);
			return -EINVAL;
		}
		snprintf(buf, sizeof(buf), "%u", e->cs);
		r = catalog_prop_set(e->cat, ENGINE_PROP_CHUNKSIZE, buf);
	} else if (r >= 0) {
		e->cs = (uint32_t)strtoul(buf, NULL, 10);
		if (check_chunk_size(e->cs) < 0) {
			snprintf(msg, msglen, "catalog: bad chunk size '%s'", buf);
			return -EUCLEAN;
		}
		if (p->chunk_size && p->chunk_size != e->cs) {
			snprintf(msg, msglen, "the volume's chunk size is %u; it cannot change to %u",
				 e->cs, p->chunk_size);
			return -EINVAL;
		}
		r = 0;
	}
	if (r < 0)
		return r;
	r = catalog_prop_get(e->cat, ENGINE_PROP_DIFFAREA, diff_path, dsize);
	if (r == -ENOENT) {
		if (p->diff_dir && !realpath(p->diff_dir, diff_path)) {
			r = -errno;
			snprintf(msg, msglen, "diff area '%s': %s", p->diff_dir, strerror(errno));
			return r;
		}
		if (!p->diff_dir)
			snprintf(diff_path, dsize, "%s", p->state_path);
		r = catalog_prop_set(e->cat, ENGINE_PROP_DIFFAREA, diff_path);
	} else if (r >= 0) {
		if (p->diff_dir && (!realpath(p->diff_dir, buf) || strcmp(buf, diff_path) != 0)) {
			snprintf(msg, msglen, "the volume's diff area is '%s'; it cannot move to '%s'",
				 diff_path, p->diff_dir);
			return -EINVAL;
		}
		r = 0;
	}
	return r;
}

static int release_tree_journal(const struct catalog_snapshot *s, void *ctx)
{
	struct engine *e = ctx;
	int r = s->tree ? catalog_journal_release(e->cat, s->id, release_chunk, e) : 0;

	return r == -ENOENT || r > 0 ? 0 : r;
}

static int tree_known(const struct catalog_snapshot *s, void *ctx)
{
	return s->tree && strcmp(s->id, ctx) == 0;
}

/*
 * Open the trees directory (in the diff area or the state directory, as the provider keeps
 * them) and remove what no tree snapshot names: left by a crash or an unfinished copy.
 */
static int open_trees(struct engine *e, char *msg, size_t msglen)
{
	int base = e->prov->trees_in_diff_area ? e->diff_fd : e->state_fd;
	struct dirent *de;
	DIR *d;
	int fd;

	if (mkdirat(base, ENGINE_TREES, 0700) < 0 && errno != EEXIST)
		goto fail;
	e->trees_fd = openat(base, ENGINE_TREES, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (e->trees_fd < 0)
		goto fail;
	fd = openat(e->trees_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			(void)close(fd);
		goto fail;
	}
	while ((de = readdir(d))) {
		int r;

		if (de->d_name[0] == '.')
			continue;
		if (catalog_snapshot_each(e->cat, tree_known, de->d_name) == 1) {
			/* a crash during a set's auto-recovery left it writable */
			r = e->prov->tree_seal ? e->prov->tree_seal(e->trees_fd, de->d_name) : 0;
			if (r < 0)
				snap_log(LOG_ERR, "trees: cannot seal '%s': %s", de->d_name,
					 strerror(-r));
			continue;
		}
		r = e->prov->tree_remove ? e->prov->tree_remove(e->trees_fd, de->d_name) :
		    tree_remove_all(e->trees_fd, de->d_name);
		if (r < 0)
			snap_log(LOG_ERR, "trees: cannot remove the leftover '%s': %s", de->d_name,
				 strerror(-r));
	}
	closedir(d);
	return 0;
fail:
	snprintf(msg, msglen, "'%s' for the snapshot trees: %s", ENGINE_TREES, strerror(errno));
	return -errno;
}

/*
 * A new volume (no catalog yet) whose provider or chunk size cannot be: refused before
 * anything is written, so that the next first mount may choose again.
 */
static int refuse_early(const struct engine_params *p, char *msg, size_t msglen)
{
	if (faccessat(p->state_fd, CATALOG_NAME, F_OK, 0) == 0 || errno != ENOENT)
		return 0;
	if (p->chunk_size && check_chunk_size(p->chunk_size) < 0) {
		snprintf(msg, msglen, "chunk size %u: must be a power of two from 4096 to 1048576",
			 p->chunk_size);
		return -EINVAL;
	}
	if (!provider_choose(p->provider, p->method, p->src_fd, msg, msglen))
		return -EOPNOTSUPP;
	return 0;
}

int engine_open(const struct engine_params *p, struct engine **ret, char *msg, size_t msglen)
{
	struct engine *e = calloc(1, sizeof(*e));
	char diff_path[PATH_MAX], val[4096];
	uint64_t next, used;
	struct ident root;
	pthread_rwlockattr_t ga;
	int r;

	if (!e)
		return -ENOMEM;
	msg[0] = '\0';
	e->io = p->io ? p->io : &snap_io_default;
	e->clock = p->clock ? p->clock : now_ns;
	e->evicted = p->evicted;
	e->src_fd = p->src_fd;
	e->state_fd = p->state_fd;
	e->grave_fd = e->diff_fd = e->trees_fd = -1;
	e->tree_ready = p->tree_ready;
	pthread_rwlockattr_init(&ga);
	pthread_rwlockattr_setkind_np(&ga, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&e->gate, &ga);
	pthread_rwlockattr_destroy(&ga);
	pthread_mutex_init(&e->create_lock, NULL);
	pthread_mutex_init(&e->cat_lock, NULL);
	pthread_mutex_init(&e->tab_lock, NULL);
	pthread_mutex_init(&e->nosnap_lock, NULL);
	e->nbuckets = MIN_BUCKETS;
	e->buckets = calloc(e->nbuckets, sizeof(*e->buckets));
	if (!e->buckets) {
		r = -ENOMEM;
		goto fail;
	}
	r = get_ident(p->src_fd, "", &root);
	if (r < 0) {
		snprintf(msg, msglen, "'%s': no file handles here (%s); snapfs needs them",
			 p->state_path, strerror(-r));
		goto fail;
	}
	e->root_mount_id = root.mount_id;
	e->root_keylen = root.keylen;
	memcpy(e->root_key, root.key, root.keylen);
	r = refuse_early(p, msg, msglen);
	if (r < 0)
		goto fail;
	r = catalog_open(p->state_path, &e->cat, msg, msglen);
	if (r < 0)
		goto fail;
	r = setup_fixed_props(e, p, diff_path, sizeof(diff_path), msg, msglen);
	if (r < 0)
		goto fail;
	if (mkdirat(p->state_fd, ENGINE_GRAVEYARD, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(msg, msglen, "'%s/%s': %s", p->state_path, ENGINE_GRAVEYARD, strerror(errno));
		goto fail;
	}
	e->grave_fd = openat(p->state_fd, ENGINE_GRAVEYARD, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
	e->diff_fd = open(diff_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->grave_fd < 0 || e->diff_fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "'%s': %s", e->grave_fd < 0 ? ENGINE_GRAVEYARD : diff_path,
			 strerror(errno));
		goto fail;
	}
	r = open_trees(e, msg, msglen);
	if (r < 0)
		goto fail;
	r = catalog_diff_extent(e->cat, DIFFAREA_ALIGN, &next, &used);
	if (r == 0)
		r = diffarea_open(e->diff_fd, e->io, next, used, &e->da, msg, msglen);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (catalog_prop_get(e->cat, props[i].name, val, sizeof(val)) >= 0)
			(void)apply_prop(e, props[i].name, val); /* a failed preallocation is no error */
	atomic_store(&e->epoch, catalog_epoch(e->cat));
	/* no reader holds a node of a tree's journal view now: release what a crash left */
	r = catalog_snapshot_each(e->cat, release_tree_journal, e);
	if (r < 0)
		goto fail;
	journal_refresh(e);
	graveyard_sweep(e);
	if (!p->defer_start && (r = engine_start(e, msg, msglen)) < 0)
		goto fail;
	*ret = e;
	return 0;
fail:
	if (!msg[0])
		snprintf(msg, msglen, "'%s': %s", p->state_path, strerror(-r));
	engine_close(e);
	return r;
}

int engine_start(struct engine *e, char *msg, size_t msglen)
{
	return e->prov->start ? e->prov->start(e, msg, msglen) : 0;
}

void engine_close(struct engine *e)
{
	if (!e)
		return;
	if (e->prov && e->prov->stop)
		e->prov->stop(e);
	if (e->buckets)
		table_clear(e);
	free(e->buckets);
	diffarea_close(e->da);
	catalog_close(e->cat);
	if (e->grave_fd >= 0)
		(void)close(e->grave_fd);
	if (e->diff_fd >= 0)
		(void)close(e->diff_fd);
	if (e->trees_fd >= 0)
		(void)close(e->trees_fd);
	free(e->nosnap);
	pthread_rwlock_destroy(&e->gate);
	pthread_mutex_destroy(&e->create_lock);
	pthread_mutex_destroy(&e->cat_lock);
	pthread_mutex_destroy(&e->tab_lock);
	pthread_mutex_destroy(&e->nosnap_lock);
	free(e);
}
