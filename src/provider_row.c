/*
 * provider_row.c: redirect-on-write in software. After a snapshot, a write does not touch the
 * chunk in SRC: the new bytes go to the diff area, SRC keeps the original for the snapshots,
 * and the live file is read through a map of the chunks whose live bytes are elsewhere.
 *
 * Decisions a newcomer asks about:
 *
 * - One journal for both methods. The catalog's chunk rows mean what they mean for
 *   copy-on-write (a row at epoch e holds the chunk as it was before its first change in e),
 *   so the views, the row lifetimes and the byte counts are the journal's. Only where a
 *   pre-image is kept differs: a row may say "in SRC" (CATALOG_IN_SRC), and the live bytes
 *   of such a chunk are in a diff-area slot, recorded in the catalog's live table and in an
 *   in-memory map keyed by file handle.
 * - The first write to a chunk after a snapshot: the chunk is read (from SRC, or from its
 *   current slot), the write applied, the result stored in a new slot; then one transaction
 *   records the pre-image where it already was (SRC, or the old slot: nothing is copied) and
 *   the new live slot. Later writes in the epoch go to the slot in place.
 * - Only write() redirects. What else changes data in SRC in place (truncate, fallocate's
 *   punch, zero, collapse and insert, copy_file_range into the file) first brings the chunks
 *   it touches back into SRC (unredirect: SRC's pre-image to a slot, the live bytes into SRC)
 *   and then goes the copy-on-write way. copy_file_range out of a file with redirected chunks
 *   is refused (EOPNOTSUPP), so the kernel falls back to reading it.
 * - Folding back. When a row that kept its pre-image in SRC goes (its snapshots were
 *   deleted), the chunk's live bytes are copied back into SRC and the slot freed; with no
 *   snapshot left, the volume is plain SRC again and live reads are pass-through. Folds queue
 *   up while the catalog is locked and run after the deletion, each under the gate and the
 *   file's lock like a write. A restart folds what a crash left queued.
 * - Readers never lock the map for long: every change of a chunk's place bumps the engine's
 *   preserve_seq, and a reader that saw it move reads again.
 * - Durability: a new slot is synced before its row commits; bytes written into SRC by an
 *   unredirect or a fold are synced before the slot is forgotten; fsync of a live file also
 *   syncs the diff area (engine_fsync).
 * - A slot holds a whole chunk and zeros past the end of the file: every shrink unredirects
 *   the chunk at the new end first.
 */
#include "provider.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_int.h"
#include "log.h"

#define MAP_BUCKETS 16384

struct rchunk {
	uint64_t chunk;
	uint64_t off;                /* the live bytes' slot in the diff area */
};

/* The redirected chunks of one file, sorted by chunk. */
struct rfile {
	struct rfile *next;
	unsigned keylen;
	unsigned char key[KEY_MAX];
	int64_t fid;
	struct rchunk *v;
	size_t n, cap;
};

struct fold {
	int64_t fid;
	uint64_t chunk;
};

struct rmap {
	pthread_rwlock_t lock;       /* the buckets and every rfile */
	struct rfile *buckets[MAP_BUCKETS];
	atomic_size_t nchunks;       /* redirected chunks, all files */
	pthread_mutex_t fold_lock;
	struct fold *folds;          /* queued by row_released */
	size_t nfolds, cap;
};

/* ---- the map ---------------------------------------------------------------------------- */

static size_t bucket_of(const unsigned char *key, unsigned len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (unsigned i = 0; i < len; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	return (size_t)(h ^ h >> 31) % MAP_BUCKETS;
}

static struct rfile *rfile_find(struct rmap *m, const unsigned char *key, unsigned len)
{
	struct rfile *f = m->buckets[bucket_of(key, len)];

	while (f && (f->keylen != len || memcmp(f->key, key, len) != 0))
		f = f->next;
	return f;
}

/* Index of the first entry of f with chunk >= k. */
static size_t rfile_pos(const struct rfile *f, uint64_t k)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->v[mid].chunk < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Where chunk k of the file with key lives: true and *off (a slot), or false (SRC). */
static bool place_of(struct rmap *m, const struct ident *id, uint64_t k, uint64_t *off)
{
	struct rfile *f;
	bool found = false;

	if (atomic_load(&m->nchunks) == 0)
		return false;
	pthread_rwlock_rdlock(&m->lock);
	f = rfile_find(m, id->key, id->keylen);
	if (f) {
		size_t i = rfile_pos(f, k);

		found = i < f->n && f->v[i].chunk == k;
		if (found)
			*off = f->v[i].off;
	}
	pthread_rwlock_unlock(&m->lock);
	return found;
}

static int place_set(struct rmap *m, const struct ident *id, int64_t fid, uint64_t k,
		     uint64_t off)
{
	struct rfile *f;
	size_t i;
	int r = 0;

	pthread_rwlock_wrlock(&m->lock);
	f = rfile_find(m, id->key, id->keylen);
	if (!f && (f = calloc(1, sizeof(*f)))) {
		size_t b = bucket_of(id->key, id->keylen);

		f->keylen = id->keylen;
		memcpy(f->key, id->key, id->keylen);
		f->fid = fid;
		f->next = m->buckets[b];
		m->buckets[b] = f;
	}
	if (!f) {
		r = -ENOMEM;
		goto out;
	}
	i = rfile_pos(f, k);
	if (i < f->n && f->v[i].chunk == k) {
		f->v[i].off = off;
		goto out;
	}
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 8;
		struct rchunk *nv = realloc(f->v, ncap * sizeof(*nv));

		if (!nv) {
			r = -ENOMEM;
			goto out;
		}
		f->v = nv;
		f->cap = ncap;
	}
	memmove(f->v + i + 1, f->v + i, (f->n - i) * sizeof(*f->v));
	f->v[i] = (struct rchunk){ k, off };
	f->n++;
	atomic_fetch_add(&m->nchunks, 1);
out:
	pthread_rwlock_unlock(&m->lock);
	return r;
}

static void place_clear(struct rmap *m, const struct ident *id, uint64_t k)
{
	struct rfile *f, **pp;
	size_t i;

	pthread_rwlock_wrlock(&m->lock);
	f = rfile_find(m, id->key, id->keylen);
	if (f) {
		i = rfile_pos(f, k);
		if (i < f->n && f->v[i].chunk == k) {
			memmove(f->v + i, f->v + i + 1, (f->n - i - 1) * sizeof(*f->v));
			f->n--;
			atomic_fetch_sub(&m->nchunks, 1);
		}
		if (f->n == 0) {
			for (pp = &m->buckets[bucket_of(id->key, id->keylen)]; *pp != f;)
				pp = &(*pp)->next;
			*pp = f->next;
			free(f->v);
			free(f);
		}
	}
	pthread_rwlock_unlock(&m->lock);
}

/* The redirected chunks of the file in [first, last], copied into a heap array. */
static int places_in(struct rmap *m, const struct ident *id, uint64_t first, uint64_t last,
		     struct rchunk **ret, size_t *ret_n, int64_t *fid)
{
	struct rfile *f;
	size_t i, n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (atomic_load(&m->nchunks) == 0)
		return 0;
	pthread_rwlock_rdlock(&m->lock);
	f = rfile_find(m, id->key, id->keylen);
	if (f) {
		i = rfile_pos(f, first);
		while (i + n < f->n && f->v[i + n].chunk <= last)
			n++;
		*fid = f->fid;
		if (n && (*ret = malloc(n * sizeof(**ret))))
			memcpy(*ret, f->v + i, n * sizeof(**ret));
	}
	pthread_rwlock_unlock(&m->lock);
	if (n && !*ret)
		return -ENOMEM;
	*ret_n = n;
	return 0;
}

/* ---- reading and writing chunks ----------------------------------------------------------- */

/* Slot I/O takes no lock: a slot belongs to its chunk, whose file's lock the writer holds. */
static int read_slot(struct engine *e, uint64_t slot, void *buf, size_t len, uint64_t in)
{
	ssize_t got = diffarea_read(e->da, slot + in, buf, len);

	if (got < 0)
		return (int)got;
	memset((char *)buf + got, 0, len - (size_t)got);
	return 0;
}

static int write_slot(struct engine *e, uint64_t slot, const void *buf, size_t len, uint64_t in)
{
	return diffarea_write(e->da, slot + in, buf, len);
}

/* Read len bytes at off of fd, zeros past its end. */
static int read_src(struct engine *e, int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t got = e->io->pread(e->io, fd, buf, len, (off_t)off);

	if (got < 0)
		return (int)got;
	memset((char *)buf + got, 0, len - (size_t)got);
	return 0;
}

/* fd again, opened with flags: the caller's may be write-only (or read-only). */
static int reopen(int fd, int flags)
{
	char path[40];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = open(path, flags | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

static void release_slot(struct engine *e, uint64_t slot)
{
	pthread_mutex_lock(&e->cat_lock);
	(void)diffarea_release(e->da, slot, e->cs);
	pthread_mutex_unlock(&e->cat_lock);
}

int row_live_read(struct engine *e, int fd, void *buf, size_t len, uint64_t off, ssize_t *got)
{
	struct rmap *m = e->prov_data;
	unsigned char *out = buf;
	struct ident id;
	struct stat st;
	size_t done = 0;
	int r;

	if (!m || atomic_load(&m->nchunks) == 0 || get_ident(fd, "", &id) < 0)
		return 0;
	pthread_rwlock_rdlock(&m->lock);
	r = rfile_find(m, id.key, id.keylen) != NULL;
	pthread_rwlock_unlock(&m->lock);
	if (!r)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (off >= (uint64_t)st.st_size)
		len = 0;
	else if (len > (uint64_t)st.st_size - off)
		len = (size_t)((uint64_t)st.st_size - off);
	while (done < len) {
		uint64_t pos = off + done, k = pos / e->cs, in = pos % e->cs, slot;
		size_t piece = e->cs - in < len - done ? e->cs - in : len - done;
		uint64_t seq;

		do {
			seq = atomic_load(&e->preserve_seq);
			r = place_of(m, &id, k, &slot) ? read_slot(e, slot, out + done, piece, in)
						       : read_src(e, fd, out + done, piece, pos);
		} while (r == 0 && atomic_load(&e->preserve_seq) != seq);
		if (r < 0)
			return r;
		done += piece;
	}
	*got = (ssize_t)done;
	return 1;
}

bool row_redirected(struct engine *e, int fd)
{
	struct rmap *m = e->prov_data;
	struct ident id;
	bool found;

	if (!m || atomic_load(&m->nchunks) == 0 || get_ident(fd, "", &id) < 0)
		return false;
	pthread_rwlock_rdlock(&m->lock);
	found = rfile_find(m, id.key, id.keylen) != NULL;
	pthread_rwlock_unlock(&m->lock);
	return found;
}

struct move {
	uint64_t chunk, slot;
};

/*
 * Make n new slots durable and record them: the pre-images where they were (rows), the new
 * live slots (moves). On failure the new slots are given back.
 */
static int commit_moves(struct engine *e, struct rmap *m, struct efile *f,
			const struct ident *id, const struct catalog_chunk *rows,
			const struct move *moves, size_t n)
{
	bool orphan;
	int r;

	if (n == 0)
		return 0;
	r = diffarea_sync(e->da);
	pthread_mutex_lock(&e->cat_lock);
	/*
	 * The last snapshot went since journal_chunk_needed: the pre-images serve nothing. The
	 * new slots are the live bytes all the same; the old slots go, and the chunks are folded
	 * back into SRC at the next settle.
	 */
	orphan = !journal_active(e);
	if (r == 0)
		r = catalog_begin(e->cat);
	if (r == 0) {
		r = orphan ? 0 : catalog_chunks_put(e->cat, rows, n);
		for (size_t i = 0; i < n && r == 0; i++)
			r = catalog_live_put(e->cat, f->fid, moves[i].chunk, moves[i].slot, e->cs);
		r = r == 0 ? catalog_commit(e->cat) : (catalog_rollback(e->cat), r);
	}
	if (r < 0)
		for (size_t i = 0; i < n; i++)
			(void)diffarea_release(e->da, moves[i].slot, e->cs);
	for (size_t i = 0; r == 0 && orphan && i < n; i++) {
		if (rows[i].offset != CATALOG_IN_SRC)
			(void)diffarea_release(e->da, rows[i].offset, rows[i].length);
		row_released(e, &rows[i]);
	}
	pthread_mutex_unlock(&e->cat_lock);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (efile_bit_set(f, moves[i].chunk) < 0)
			f->check_catalog = true;
		r = place_set(m, id, f->fid, moves[i].chunk, moves[i].slot);
	}
	atomic_fetch_add(&e->preserve_seq, 1);
	return r;
}

/* Write one piece into chunk k where its live bytes are now. */
static int write_in_place(struct engine *e, struct rmap *m, const struct ident *id, int fd,
			  uint64_t k, const void *piece, size_t len, uint64_t pos)
{
	uint64_t slot;
	ssize_t n;

	if (place_of(m, id, k, &slot))
		return write_slot(e, slot, piece, len, pos - k * e->cs);
	n = e->io->pwrite(e->io, fd, piece, len, (off_t)pos);
	return n < 0 ? (int)n : (size_t)n == len ? 0 : -EIO;
}

/* The write of row_write with f's lock held. */
static int redirect_write(struct engine *e, struct rmap *m, struct efile *f,
			  const struct ident *id, int fd, const unsigned char *buf, size_t len,
			  uint64_t off)
{
	struct catalog_chunk rows[BATCH_CHUNKS];
	struct move moves[BATCH_CHUNKS];
	unsigned char *chunk = NULL;
	bool past_end = false;
	bool in_slot = false;        /* some bytes went to a slot: SRC's mtime is not moved */
	int rfd = -1, r = 0;
	struct stat st;
	size_t n = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	for (uint64_t k = off / e->cs; r == 0 && k <= (off + len - 1) / e->cs; k++) {
		uint64_t pos = k * e->cs > off ? k * e->cs : off, slot, old;
		uint64_t end = (k + 1) * e->cs < off + len ? (k + 1) * e->cs : off + len;
		bool moved = place_of(m, id, k, &old);
		int need = 0;

		if (journal_active(e) && k * e->cs < f->start_size)
			need = journal_chunk_needed(e, f, k);
		if (need < 0) {
			r = need;
			break;
		}
		if (end > (uint64_t)st.st_size && (moved || need))
			past_end = true;
		in_slot = in_slot || moved || need;
		if (!need) {
			r = write_in_place(e, m, id, fd, k, buf + (pos - off), end - pos, pos);
			continue;
		}
		if (!chunk && !(chunk = malloc(e->cs))) {
			r = -ENOMEM;
			break;
		}
		if (!moved && rfd < 0 && (rfd = reopen(fd, O_RDONLY)) < 0) {
			r = rfd;
			break;
		}
		r = moved ? read_slot(e, old, chunk, e->cs, 0)
			  : read_src(e, rfd, chunk, e->cs, k * e->cs);
		if (r < 0)
			break;
		/* read_src gave zeros past the end of the file: a slot holds them there */
		memcpy(chunk + (pos - k * e->cs), buf + (pos - off), end - pos);
		pthread_mutex_lock(&e->cat_lock);
		r = journal_store(e, chunk, e->cs, &slot);
		pthread_mutex_unlock(&e->cat_lock);
		if (r == 1) { /* the last snapshot went to make room: nothing needs the old bytes */
			r = write_in_place(e, m, id, fd, k, buf + (pos - off), end - pos, pos);
			continue;
		}
		if (r < 0)
			break;
		rows[n] = (struct catalog_chunk){ .fid = f->fid, .chunk = k,
			.epoch = atomic_load(&e->epoch), .offset = moved ? old : CATALOG_IN_SRC,
			.length = moved ? e->cs : (uint32_t)(f->start_size - k * e->cs < e->cs ?
							     f->start_size - k * e->cs : e->cs) };
		moves[n++] = (struct move){ k, slot };
		if (n == BATCH_CHUNKS) {
			r = commit_moves(e, m, f, id, rows, moves, n);
			n = 0;
		}
	}
	if (r == 0)
		r = commit_moves(e, m, f, id, rows, moves, n);
	else
		for (size_t i = 0; i < n; i++)
			release_slot(e, moves[i].slot);
	free(chunk);
	if (rfd >= 0)
		(void)close(rfd);
	/* the size lives in SRC: bytes that went to slots past its end extend it */
	if (r == 0 && past_end && off + len > (uint64_t)st.st_size &&
	    ftruncate(fd, (off_t)(off + len)) < 0)
		r = -errno;
	/* a write is a change of the file: mtime and ctime move as a write to SRC moves them */
	if (r == 0 && in_slot && futimens(fd, (struct timespec[2]){ { 0, UTIME_OMIT },
								    { 0, UTIME_NOW } }) < 0)
		r = -errno;
	return r;
}

ssize_t row_write(struct engine *e, int fd, const void *buf, size_t len, uint64_t off)
{
	struct rmap *m = e->prov_data;
	struct efile *f;
	struct ident id;
	int64_t fid;
	int r;

	if (len == 0)
		return 0;
	if (!m || (!journal_active(e) && atomic_load(&m->nchunks) == 0))
		goto plain;
	r = get_ident(fd, "", &id);
	if (r == -EOPNOTSUPP || (r == 0 && id.mount_id != e->root_mount_id))
		goto plain;
	if (r < 0)
		return r;
	f = efile_get_id(e, &id);
	if (!f)
		return -ENOMEM;
	if (f->born)
		goto plain;
	if (journal_active(e)) {
		r = journal_touch_attr(e, f, fd);
		if (r < 0)
			return r;
	}
	pthread_mutex_lock(&e->cat_lock);
	r = efile_fid(e, f, true, &fid);
	pthread_mutex_unlock(&e->cat_lock);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	r = redirect_write(e, m, f, &id, fd, buf, len, off);
	pthread_mutex_unlock(&f->lock);
	return r < 0 ? r : (ssize_t)len;
plain:
	return e->io->pwrite(e->io, fd, buf, len, (off_t)off);
}

/* ---- back into SRC ------------------------------------------------------------------------- */

/*
 * Bring the live bytes of chunk k (at slot) back into SRC (fd, open for reading and writing)
 * and forget the slot. When a
 * row keeps its pre-image in SRC, that goes to the diff area first, unless only_if_free (a
 * fold: then the chunk stays as it is).
 */
static int unredirect_chunk(struct engine *e, struct rmap *m, const struct ident *id,
			    int64_t fid, int fd, uint64_t k, uint64_t slot, bool only_if_free)
{
	unsigned char *chunk = malloc(e->cs);
	struct catalog_chunk row;
	struct stat st;
	uint64_t pre;
	int r = chunk ? 0 : -ENOMEM;

	if (r == 0) {
		pthread_mutex_lock(&e->cat_lock);
		r = catalog_chunk_in_src(e->cat, fid, k, &row);
		pthread_mutex_unlock(&e->cat_lock);
	}
	if (r == 1 && only_if_free) {
		free(chunk);
		return 0;
	}
	if (r == 1) {
		r = read_src(e, fd, chunk, row.length, k * e->cs);
		if (r == 0) {
			pthread_mutex_lock(&e->cat_lock);
			r = journal_store(e, chunk, row.length, &pre);
			pthread_mutex_unlock(&e->cat_lock);
		}
		if (r == 0) {
			r = diffarea_sync(e->da);
			pthread_mutex_lock(&e->cat_lock);
			if (r == 0)
				r = catalog_chunk_move(e->cat, &row, pre);
			if (r < 0) /* -ENOENT: an eviction took the row meanwhile */
				(void)diffarea_release(e->da, pre, row.length);
			if (r == -ENOENT)
				r = 0;
			pthread_mutex_unlock(&e->cat_lock);
			atomic_fetch_add(&e->preserve_seq, 1);
		}
		r = r == 1 ? 0 : r; /* no snapshot is left to need it */
	}
	if (r == 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && k * e->cs < (uint64_t)st.st_size) {
		/* the bytes are the same: the file's times must stay what they were */
		struct timespec times[2] = { st.st_atim, st.st_mtim };
		size_t len = (uint64_t)st.st_size - k * e->cs < e->cs ?
			     (size_t)((uint64_t)st.st_size - k * e->cs) : e->cs;
		ssize_t w;

		r = read_slot(e, slot, chunk, len, 0);
		if (r == 0) {
			w = e->io->pwrite(e->io, fd, chunk, len, (off_t)(k * e->cs));
			r = w < 0 ? (int)w : (size_t)w != len ? -EIO : 0;
		}
		if (r == 0 && futimens(fd, times) < 0)
			r = -errno;
		if (r == 0 && fdatasync(fd) < 0)
			r = -errno;
	}
	if (r == 0) {
		pthread_mutex_lock(&e->cat_lock);
		r = catalog_live_delete(e->cat, fid, k);
		pthread_mutex_unlock(&e->cat_lock);
	}
	if (r == 0) {
		place_clear(m, id, k);
		atomic_fetch_add(&e->preserve_seq, 1);
		release_slot(e, slot);
	}
	free(chunk);
	return r;
}

int row_unredirect(struct engine *e, int fd, uint64_t first, uint64_t last)
{
	struct rmap *m = e->prov_data;
	struct rchunk *v = NULL;
	struct efile *f;
	struct ident id;
	int64_t fid = 0;
	size_t n = 0;
	int r;

	if (!m || atomic_load(&m->nchunks) == 0)
		return 0;
	r = get_ident(fd, "", &id);
	if (r < 0)
		return r == -EOPNOTSUPP ? 0 : r;
	f = efile_get_id(e, &id);
	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&f->lock);
	r = places_in(m, &id, first, last, &v, &n, &fid);
	if (r == 0 && n) {
		int rw = reopen(fd, O_RDWR);

		r = rw < 0 ? rw : 0;
		for (size_t i = 0; i < n && r == 0; i++)
			r = unredirect_chunk(e, m, &id, fid, rw, v[i].chunk, v[i].off, false);
		if (rw >= 0)
			(void)close(rw);
	}
	pthread_mutex_unlock(&f->lock);
	free(v);
	return r;
}

/* ---- folding back after deletions ----------------------------------------------------------- */

void row_released(struct engine *e, const struct catalog_chunk *c)
{
	struct rmap *m = e->prov_data;

	if (!m)
		return;
	pthread_mutex_lock(&m->fold_lock);
	if (m->nfolds == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct fold *nv = realloc(m->folds, ncap * sizeof(*nv));

		if (!nv) { /* the next open folds it */
			pthread_mutex_unlock(&m->fold_lock);
			return;
		}
		m->folds = nv;
		m->cap = ncap;
	}
	m->folds[m->nfolds++] = (struct fold){ c->fid, c->chunk };
	pthread_mutex_unlock(&m->fold_lock);
}

/* Fold chunk k of file fid back into SRC if no row keeps a pre-image there. */
static int fold_one(struct engine *e, struct rmap *m, int64_t fid, uint64_t k)
{
	unsigned char key[KEY_MAX];
	struct ident id = { 0 };
	struct efile *f;
	uint64_t slot;
	int fd, r;

	pthread_mutex_lock(&e->cat_lock);
	r = catalog_file_handle(e->cat, fid, key, sizeof(key));
	pthread_mutex_unlock(&e->cat_lock);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	id.keylen = (unsigned)r;
	memcpy(id.key, key, id.keylen);
	if (!place_of(m, &id, k, &slot))
		return 0;
	fd = open_key(e, key, id.keylen, O_RDWR);
	if (fd < 0) { /* the file is gone: its live bytes with it */
		pthread_mutex_lock(&e->cat_lock);
		r = catalog_live_delete(e->cat, fid, k);
		pthread_mutex_unlock(&e->cat_lock);
		if (r == 0) {
			place_clear(m, &id, k);
			atomic_fetch_add(&e->preserve_seq, 1);
			release_slot(e, slot);
		}
		return r;
	}
	engine_gate_enter(e);
	f = efile_get_id(e, &id);
	if (f) {
		pthread_mutex_lock(&f->lock);
		r = place_of(m, &id, k, &slot) ?
		    unredirect_chunk(e, m, &id, fid, fd, k, slot, true) : 0;
		pthread_mutex_unlock(&f->lock);
	} else {
		r = -ENOMEM;
	}
	engine_gate_leave(e);
	(void)close(fd);
	return r;
}

void row_settle(struct engine *e)
{
	struct rmap *m = e->prov_data;
	struct fold *v;
	size_t n;

	if (!m)
		return;
	pthread_mutex_lock(&m->fold_lock);
	v = m->folds;
	n = m->nfolds;
	m->folds = NULL;
	m->nfolds = m->cap = 0;
	pthread_mutex_unlock(&m->fold_lock);
	for (size_t i = 0; i < n; i++) {
		int r = fold_one(e, m, v[i].fid, v[i].chunk);

		if (r < 0)
			snap_log(LOG_ERR, "chunk %" PRIu64 " of file %" PRId64 ": cannot bring it back "
				 "into SRC: %s; it stays in the diff area", v[i].chunk, v[i].fid,
				 strerror(-r));
	}
	free(v);
}

/* ---- the provider --------------------------------------------------------------------------- */

struct load {
	struct engine *e;
	struct rmap *m;
};

/* Put one live row into the map, and queue a fold: a crash may have left it foldable. */
static int load_one(int64_t fid, uint64_t chunk, uint64_t off, void *ctx)
{
	struct load *l = ctx;
	struct ident id = { 0 };
	int r = catalog_file_handle(l->e->cat, fid, id.key, sizeof(id.key));

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	id.keylen = (unsigned)r;
	r = place_set(l->m, &id, fid, chunk, off);
	if (r == 0)
		row_released(l->e, &(struct catalog_chunk){ .fid = fid, .chunk = chunk });
	return r;
}

static void rmap_free(struct rmap *m)
{
	for (size_t b = 0; b < MAP_BUCKETS; b++) {
		struct rfile *f = m->buckets[b], *next;

		for (; f; f = next) {
			next = f->next;
			free(f->v);
			free(f);
		}
	}
	pthread_rwlock_destroy(&m->lock);
	pthread_mutex_destroy(&m->fold_lock);
	free(m->folds);
	free(m);
}

static int row_start(struct engine *e, char *msg, size_t msglen)
{
	struct rmap *m = calloc(1, sizeof(*m));
	struct load l = { e, m };
	int r;

	if (!m)
		return -ENOMEM;
	pthread_rwlock_init(&m->lock, NULL);
	pthread_mutex_init(&m->fold_lock, NULL);
	e->prov_data = m;
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_live_each(e->cat, load_one, &l);
	pthread_mutex_unlock(&e->cat_lock);
	if (r < 0) {
		snprintf(msg, msglen, "catalog: cannot load the redirected chunks: %s",
			 strerror(-r));
		e->prov_data = NULL;
		rmap_free(m);
		return r;
	}
	row_settle(e);
	return 0;
}

static void row_stop(struct engine *e)
{
	if (e->prov_data)
		rmap_free(e->prov_data);
	e->prov_data = NULL;
}

static int row_probe(int src_fd, char *why, size_t len)
{
	return 0;
}

const struct provider provider_row = {
	.name = "row",
	.method = "row",
	.summary = "redirect-on-write in software: after a snapshot, new data goes to the diff "
		   "area and SRC keeps the original",
	.journal = true,
	.redirect = true,
	.probe = row_probe,
	.start = row_start,
	.stop = row_stop,
};
