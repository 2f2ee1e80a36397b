/*
 * engine_view.c: reading a snapshot of the copy-on-write engine. A snapshot at epoch s sees
 * each object as the live object with the catalog's corrections: attributes from the first
 * attribute row above s, chunks from the first chunk row above s, directory entries from the
 * first journaled entry above s; where there is no row, the live object is the snapshot's.
 *
 * Every read looks at the live object first and the catalog second: a row is committed before
 * the change it protects, so a reader that saw the change finds the row. Chunk reads compare
 * the engine's preservation counter before and after reading live data and look again when
 * it moved.
 */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "snapfs/snapfs.h"

#define INO_EPOCH_BITS 23
#define INO_LOW_BITS 40

ino_t snap_ino(uint64_t epoch, ino_t live)
{
	return (ino_t)((1ULL << 63) | ((epoch & ((1ULL << INO_EPOCH_BITS) - 1)) << INO_LOW_BITS) |
		       ((uint64_t)live & ((1ULL << INO_LOW_BITS) - 1)));
}

static unsigned node_key(const struct engine_node *n, unsigned char *key)
{
	int type = n->handle_type;

	memcpy(key, &type, 4);
	memcpy(key + 4, n->handle, n->handle_bytes);
	return 4 + n->handle_bytes;
}

static void key_to_node(const unsigned char *key, unsigned keylen, struct engine_node *n)
{
	int type;

	memcpy(&type, key, 4);
	n->handle_type = type;
	n->handle_bytes = keylen - 4;
	memcpy(n->handle, key + 4, keylen - 4);
}

static int open_node(struct engine *e, const struct engine_node *n, int flags)
{
	unsigned char key[KEY_MAX];
	unsigned len = node_key(n, key);

	return open_key(e, key, len, flags);
}

/* The node's catalog id: its own, or looked up now (it may have been made since). */
static int node_fid(struct engine *e, const struct engine_node *n, int64_t *ret)
{
	unsigned char key[KEY_MAX];
	unsigned len;
	int r;

	*ret = n->fid;
	if (n->fid)
		return 0;
	len = node_key(n, key);
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_file_find(e->cat, key, len, ret);
	pthread_mutex_unlock(&e->cat_lock);
	if (r == -ENOENT) {
		*ret = 0;
		r = 0;
	}
	return r;
}

static bool is_root(struct engine *e, const struct engine_node *n)
{
	unsigned char key[KEY_MAX];
	unsigned len = node_key(n, key);

	return len == e->root_keylen && memcmp(key, e->root_key, len) == 0;
}

struct find_snap {
	const char *name;
	struct catalog_snapshot s;
	bool found;
};

static int match_snap(const struct catalog_snapshot *s, void *ctx)
{
	struct find_snap *f = ctx;

	if (strcmp(s->id, f->name) == 0 || strcmp(s->browse, f->name) == 0) {
		f->s = *s;
		f->found = true;
		return 1;
	}
	return 0;
}

int engine_snap_root(struct engine *e, const char *id_or_browse, struct engine_node *ret)
{
	struct find_snap f = { .name = id_or_browse };
	int r = engine_snapshot_each(e, match_snap, &f);

	if (r < 0)
		return r;
	if (!f.found)
		return -ENOENT;
	if (f.s.tree)
		return tree_root(e, &f.s, ret);
	memset(ret, 0, sizeof(*ret));
	ret->epoch = f.s.epoch;
	ret->type = S_IFDIR;
	key_to_node(e->root_key, e->root_keylen, ret);
	return node_fid(e, ret, &ret->fid);
}

/* Attributes of the node: the live ones, then the catalog's for the snapshot if it has any. */
static int snap_stat(struct engine *e, const struct engine_node *n, struct stat *st,
		     bool *from_row)
{
	struct catalog_attr a;
	int64_t fid;
	int fd = open_node(e, n, O_PATH), r;

	if (fd < 0)
		return fd;
	r = fstat(fd, st) < 0 ? -errno : 0;
	(void)close(fd);
	if (r == 0)
		r = node_fid(e, n, &fid);
	if (r < 0)
		return r;
	*from_row = false;
	if (fid) {
		pthread_mutex_lock(&e->cat_lock);
		r = catalog_attr_find(e->cat, fid, n->epoch, &a, NULL, 0);
		pthread_mutex_unlock(&e->cat_lock);
		if (r < 0)
			return r;
		if (r == 1) {
			*from_row = true;
			st->st_mode = a.mode;
			st->st_uid = a.uid;
			st->st_gid = a.gid;
			st->st_rdev = a.rdev;
			st->st_size = a.size;
			st->st_nlink = a.nlink;
			st->st_atim.tv_sec = a.atime_ns / 1000000000LL;
			st->st_atim.tv_nsec = a.atime_ns % 1000000000LL;
			st->st_mtim.tv_sec = a.mtime_ns / 1000000000LL;
			st->st_mtim.tv_nsec = a.mtime_ns % 1000000000LL;
			st->st_ctim.tv_sec = a.ctime_ns / 1000000000LL;
			st->st_ctim.tv_nsec = a.ctime_ns % 1000000000LL;
			st->st_blocks = (a.size + 511) / 512;
		}
	}
	st->st_ino = snap_ino(n->epoch, st->st_ino);
	return 0;
}

int engine_snap_getattr(struct engine *e, const struct engine_node *n, struct stat *st)
{
	bool from_row;

	if (n->flags & ENGINE_NODE_TREE)
		return tree_getattr(e, n, st);
	return snap_stat(e, n, st, &from_row);
}

/* The object a snapshot-visible entry names: from the catalog's fid, or a live identity. */
static int node_for_fid(struct engine *e, uint64_t epoch, int64_t fid, struct engine_node *n)
{
	unsigned char key[KEY_MAX];
	int r;

	pthread_mutex_lock(&e->cat_lock);
	r = catalog_file_handle(e->cat, fid, key, sizeof(key));
	pthread_mutex_unlock(&e->cat_lock);
	if (r < 0)
		return r == -ENOENT ? -ESTALE : r;
	if (r < 4)
		return -EUCLEAN;
	memset(n, 0, sizeof(*n));
	n->epoch = epoch;
	n->fid = fid;
	key_to_node(key, (unsigned)r, n);
	return 0;
}

int engine_snap_lookup(struct engine *e, const struct engine_node *dir, const char *name,
		       struct engine_node *ret, struct stat *st)
{
	struct ident live;
	bool live_ok, from_row;
	int64_t dfid, fid;
	int dfd, r;

	if (dir->flags & ENGINE_NODE_TREE)
		return tree_lookup(e, dir, name, ret, st);
	if (nosnap_match(e, name) || (is_root(e, dir) && strcmp(name, SNAP_STATE_DIR) == 0))
		return -ENOENT;
	dfd = open_node(e, dir, O_PATH | O_DIRECTORY);
	if (dfd < 0)
		return dfd;
	r = get_ident(dfd, name, &live);
	(void)close(dfd);
	live_ok = r == 0 && live.mount_id == e->root_mount_id;
	if (r < 0 && r != -ENOENT && r != -EOPNOTSUPP)
		return r;
	r = node_fid(e, dir, &dfid);
	if (r < 0)
		return r;
	if (dfid) {
		pthread_mutex_lock(&e->cat_lock);
		r = catalog_name_find(e->cat, dfid, name, dir->epoch, &fid);
		pthread_mutex_unlock(&e->cat_lock);
		if (r < 0)
			return r;
		if (r == 1) {
			if (!fid)
				return -ENOENT;
			r = node_for_fid(e, dir->epoch, fid, ret);
			goto out;
		}
	}
	if (!live_ok)
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	ret->epoch = dir->epoch;
	key_to_node(live.key, live.keylen, ret);
	r = node_fid(e, ret, &ret->fid);
out:
	if (r == 0)
		r = snap_stat(e, ret, st, &from_row);
	if (r == 0)
		ret->type = st->st_mode & S_IFMT;
	return r;
}

struct entry {
	char *name;
	ino_t ino;
	mode_t type;
	int64_t fid;        /* journaled: the object it named (0: absent then) */
	bool journaled;
};

struct listing {
	struct entry *v;
	size_t n, cap;
};

static int listing_add(struct listing *l, const char *name, ino_t ino, mode_t type)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct entry *m = realloc(l->v, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		l->v = m;
		l->cap = cap;
	}
	l->v[l->n] = (struct entry){ .name = strdup(name), .ino = ino, .type = type };
	if (!l->v[l->n].name)
		return -ENOMEM;
	l->n++;
	return 0;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* The live entries of the directory fd (taken), without mounts and the state directory. */
static int live_listing(struct engine *e, int fd, bool root, struct listing *l)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);
	int r = 0;

	if (!d) {
		(void)close(fd);
		return -ENOMEM;
	}
	while (r == 0 && (de = readdir(d))) {
		mode_t type = DTTOIF(de->d_type);

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (root && strcmp(de->d_name, SNAP_STATE_DIR) == 0))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
			struct statx stx;

			if (statx(dirfd(d), de->d_name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MNT_ID,
				  &stx) < 0)
				continue;
			if ((stx.stx_mask & STATX_MNT_ID) && (int)stx.stx_mnt_id != e->root_mount_id)
				continue;
			type = stx.stx_mode & S_IFMT;
		}
		r = listing_add(l, de->d_name, de->d_ino, type);
	}
	closedir(d);
	return r;
}

static int add_journaled(const char *name, int64_t fid, void *ctx)
{
	struct listing *l = ctx;
	int r = listing_add(l, name, 0, 0);

	if (r == 0) {
		l->v[l->n - 1].journaled = true;
		l->v[l->n - 1].fid = fid;
	}
	return r;
}

int engine_snap_readdir(struct engine *e, const struct engine_node *dir,
			int (*fn)(const char *name, ino_t ino, mode_t type, void *ctx), void *ctx)
{
	struct listing live = { 0 }, jl = { 0 };
	int64_t dfid;
	int fd, r;

	if (dir->flags & ENGINE_NODE_TREE)
		return tree_readdir(e, dir, fn, ctx);
	fd = open_node(e, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	r = live_listing(e, fd, is_root(e, dir), &live);
	if (r == 0)
		r = node_fid(e, dir, &dfid);
	if (r == 0 && dfid) {
		pthread_mutex_lock(&e->cat_lock);
		r = catalog_names_list(e->cat, dfid, dir->epoch, add_journaled, &jl);
		pthread_mutex_unlock(&e->cat_lock);
	}
	if (r < 0)
		goto out;
	if (live.n > 1)
		qsort(live.v, live.n, sizeof(*live.v), entry_cmp);
	/* live entries the journal does not correct */
	for (size_t i = 0, j = 0; i < live.n && r == 0; i++) {
		int c = 1;

		while (j < jl.n && (c = strcmp(jl.v[j].name, live.v[i].name)) < 0)
			j++;
		if (j < jl.n && c == 0)
			continue;
		if (nosnap_match(e, live.v[i].name))
			continue;
		r = fn(live.v[i].name, snap_ino(dir->epoch, live.v[i].ino), live.v[i].type, ctx);
	}
	/* entries as the journal says they were */
	for (size_t j = 0; j < jl.n && r == 0; j++) {
		struct engine_node n;
		struct stat st;
		int ofd;

		if (!jl.v[j].fid || nosnap_match(e, jl.v[j].name))
			continue;
		r = node_for_fid(e, dir->epoch, jl.v[j].fid, &n);
		if (r < 0)
			break;
		ofd = open_node(e, &n, O_PATH);
		if (ofd < 0) {
			r = ofd;
			break;
		}
		r = fstat(ofd, &st) < 0 ? -errno : 0;
		(void)close(ofd);
		if (r == 0)
			r = fn(jl.v[j].name, snap_ino(dir->epoch, st.st_ino), st.st_mode & S_IFMT, ctx);
	}
out:
	listing_free(&live);
	listing_free(&jl);
	return r;
}

/*
 * After reading for the snapshot at epoch: when a deletion began since del_seq0, whether the
 * snapshot is still there (0) or was deleted under the reader (-ESTALE: what was read may be
 * space given back, or live data).
 */
static int still_there(struct engine *e, uint64_t epoch, uint64_t del_seq0)
{
	uint64_t ep = epoch;
	int r;

	if (atomic_load(&e->del_seq) == del_seq0)
		return 0;
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_journal_has(e->cat, ep);
	pthread_mutex_unlock(&e->cat_lock);
	return r < 0 ? r : (r ? 0 : -ESTALE);
}

/* Where chunk k of the node is for its snapshot: 1 and row, or 0 (the live file). */
static int find_chunk(struct engine *e, const struct engine_node *n, int64_t *fid, uint64_t k,
		      struct catalog_chunk *row)
{
	int r = 0;

	if (!*fid)
		r = node_fid(e, n, fid);
	if (r < 0 || !*fid)
		return r;
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_chunk_find(e->cat, *fid, k, n->epoch, row);
	pthread_mutex_unlock(&e->cat_lock);
	return r;
}

static ssize_t read_row(struct engine *e, const struct catalog_chunk *row, uint64_t in_chunk,
			unsigned char *buf, size_t len)
{
	size_t have = in_chunk < row->length ? row->length - in_chunk : 0;
	ssize_t got = 0;

	if (have > len)
		have = len;
	if (have) {
		pthread_mutex_lock(&e->cat_lock);
		got = diffarea_read(e->da, row->offset + in_chunk, buf, have);
		pthread_mutex_unlock(&e->cat_lock);
		if (got < 0)
			return got;
	}
	memset(buf + got, 0, len - (size_t)got);
	return (ssize_t)len;
}

/* len bytes at pos of the file fd as SRC holds them, zeros past its end. */
static ssize_t src_pread(int fd, unsigned char *buf, size_t len, uint64_t pos)
{
	ssize_t got = pread(fd, buf, len, (off_t)pos);

	if (got < 0)
		return -errno;
	memset(buf + got, 0, len - (size_t)got);
	return (ssize_t)len;
}

/* len bytes at pos of the live file fd, wherever they are, zeros past its end. */
static ssize_t live_pread(struct engine *e, int fd, unsigned char *buf, size_t len,
			  uint64_t pos)
{
	ssize_t got;
	int r = engine_live_read(e, fd, buf, len, pos, &got);

	if (r < 0)
		return r;
	if (r == 0)
		return src_pread(fd, buf, len, pos);
	memset(buf + got, 0, len - (size_t)got);
	return (ssize_t)len;
}

ssize_t engine_snap_read(struct engine *e, const struct engine_node *n, void *buf, size_t len,
			 uint64_t off)
{
	unsigned char *out = buf;
	struct stat st;
	bool from_row;
	int64_t fid = 0;
	size_t done = 0;
	uint64_t del_seq0;
	int fd, r;

	if (n->flags & ENGINE_NODE_TREE)
		return tree_read(e, n, buf, len, off);
	del_seq0 = atomic_load(&e->del_seq);
	r = snap_stat(e, n, &st, &from_row);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	if (off >= (uint64_t)st.st_size)
		return 0;
	if (len > (uint64_t)st.st_size - off)
		len = (size_t)((uint64_t)st.st_size - off);
	fd = open_node(e, n, O_RDONLY);
	if (fd < 0)
		return fd;
	while (done < len) {
		uint64_t pos = off + done, k = pos / e->cs, in_chunk = pos % e->cs;
		size_t piece = e->cs - in_chunk;
		struct catalog_chunk row;
		ssize_t got = 0;
		uint64_t seq;

		if (piece > len - done)
			piece = len - done;
		/* read again when a chunk was preserved or moved meanwhile */
		do {
			seq = atomic_load(&e->preserve_seq);
			r = find_chunk(e, n, &fid, k, &row);
			if (r == 1 && row.offset != CATALOG_IN_SRC) {
				got = read_row(e, &row, in_chunk, out + done, piece);
				break;
			}
			if (r < 0)
				break;
			/* the live file's bytes, or (a row in SRC) the bytes SRC holds */
			got = r == 0 ? live_pread(e, fd, out + done, piece, pos)
				     : src_pread(fd, out + done, piece, pos);
		} while (got >= 0 && atomic_load(&e->preserve_seq) != seq);
		if (r < 0 || got < 0) {
			r = r < 0 ? r : (int)got;
			break;
		}
		r = 0;
		done += piece;
	}
	(void)close(fd);
	if (r == 0)
		r = still_there(e, n->epoch, del_seq0);
	return r < 0 ? r : (ssize_t)done;
}

ssize_t engine_snap_readlink(struct engine *e, const struct engine_node *n, char *buf,
			     size_t size)
{
	ssize_t len;
	int fd;

	if (n->flags & ENGINE_NODE_TREE)
		return tree_readlink(e, n, buf, size);
	fd = open_node(e, n, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	len = readlinkat(fd, "", buf, size ? size - 1 : 0);
	if (len < 0)
		len = -errno;
	(void)close(fd);
	if (len >= 0)
		buf[len] = '\0';
	return len;
}

/*
 * The node's xattrs from the catalog, when a row holds them for its snapshot: 1 with the blob
 * (heap, the caller frees), or 0 when the snapshot sees the live ones.
 */
static int row_xattrs(struct engine *e, const struct engine_node *n, unsigned char **blob,
		      size_t *blob_len)
{
	struct catalog_attr a;
	int64_t fid;
	int r = node_fid(e, n, &fid);

	*blob = NULL;
	*blob_len = 0;
	if (r < 0 || !fid)
		return r;
	pthread_mutex_lock(&e->cat_lock);
	r = catalog_attr_find(e->cat, fid, n->epoch, &a, NULL, 0);
	if (r == 1 && a.xattrs_len) {
		*blob = malloc(a.xattrs_len);
		r = !*blob ? -ENOMEM
			   : catalog_attr_find(e->cat, fid, n->epoch, &a, *blob, a.xattrs_len);
		*blob_len = a.xattrs_len;
	}
	pthread_mutex_unlock(&e->cat_lock);
	if (r < 0) {
		free(*blob);
		*blob = NULL;
	}
	return r;
}

/*
 * listxattr (name NULL) or getxattr on the live object behind n. Called before row_xattrs:
 * live first, catalog second (a row is committed before the change it protects).
 */
static ssize_t live_xattr(struct engine *e, const struct engine_node *n, const char *name,
			  void *buf, size_t size)
{
	char path[40];
	int fd = open_node(e, n, O_PATH);
	ssize_t r;

	if (fd < 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = name ? getxattr(path, name, buf, size) : listxattr(path, buf, size);
	if (r < 0)
		r = errno == ENOTSUP ? (name ? -ENODATA : 0) : -errno;
	(void)close(fd);
	return r;
}

ssize_t engine_snap_listxattr(struct engine *e, const struct engine_node *n, char *buf,
			      size_t size)
{
	unsigned char *blob;
	size_t blob_len, pos = 0, next;
	char name[XATTR_NAME_MAX + 1];
	const unsigned char *val;
	uint32_t vlen;
	ssize_t total, live;
	int r;

	if (n->flags & ENGINE_NODE_TREE)
		return tree_listxattr(e, n, buf, size);
	if (S_ISLNK(n->type))
		return 0;
	live = live_xattr(e, n, NULL, buf, size);
	r = row_xattrs(e, n, &blob, &blob_len);
	if (r <= 0)
		return r < 0 ? r : live;
	total = 0;
	while ((next = blob_next(blob, blob_len, pos, name, &val, &vlen))) {
		size_t nl = strlen(name) + 1;

		if (size && (size_t)total + nl > size) {
			total = -ERANGE;
			break;
		}
		if (size)
			memcpy(buf + total, name, nl);
		total += (ssize_t)nl;
		pos = next;
	}
	free(blob);
	return total;
}

ssize_t engine_snap_getxattr(struct engine *e, const struct engine_node *n, const char *name,
			     void *buf, size_t size)
{
	unsigned char *blob;
	size_t blob_len, pos = 0, next;
	char nm[XATTR_NAME_MAX + 1];
	const unsigned char *val;
	uint32_t vlen;
	ssize_t r, live;

	if (n->flags & ENGINE_NODE_TREE)
		return tree_getxattr(e, n, name, buf, size);
	if (S_ISLNK(n->type))
		return -ENODATA;
	live = live_xattr(e, n, name, buf, size);
	r = row_xattrs(e, n, &blob, &blob_len);
	if (r <= 0)
		return r < 0 ? r : live;
	r = -ENODATA;
	while ((next = blob_next(blob, blob_len, pos, nm, &val, &vlen))) {
		if (strcmp(nm, name) == 0) {
			if (size && vlen > size) {
				r = -ERANGE;
			} else {
				if (size)
					memcpy(buf, val, vlen);
				r = vlen;
			}
			break;
		}
		pos = next;
	}
	free(blob);
	return r;
}

/*
 * Copy the first size bytes of the regular file n, as its snapshot holds them, to out_fd (an
 * empty file of that size). Each chunk is copied from the live file with copy_file_range (a
 * reflink where the filesystem shares extents), holes skipped; then the journal is asked
 * whether the snapshot reads that chunk from a row, and if so the row's bytes are written
 * over it. Rows are durable before the change they protect, so a chunk that changed during the
 * copy has its row by the time the question is asked.
 */
int snap_copy_file(struct engine *e, const struct engine_node *n, int out_fd, uint64_t size)
{
	unsigned char *buf = malloc(e->cs);
	int live = open_node(e, n, O_RDONLY);
	int64_t fid = 0;
	int r = buf ? 0 : -ENOMEM;

	for (uint64_t off = 0; r == 0 && off < size; off += e->cs) {
		size_t len = size - off < e->cs ? (size_t)(size - off) : e->cs;
		struct catalog_chunk row;
		size_t copied = 0;

		if (live >= 0) {
			off_t data = lseek(live, (off_t)off, SEEK_DATA);
			bool hole = data < 0 ? errno == ENXIO : (uint64_t)data >= off + len;

			while (!hole && copied < len) {
				loff_t in = (loff_t)(off + copied), o = in;
				ssize_t got = copy_file_range(live, &in, out_fd, &o, len - copied, 0);

				if (got <= 0)
					break;
				copied += (size_t)got;
			}
			if (hole)
				copied = len;
		}
		r = find_chunk(e, n, &fid, off / e->cs, &row);
		if (r == 1)
			r = read_row(e, &row, 0, buf, len) < 0 ? -EIO : 0;
		else if (r == 0 && copied < len) /* the live file could not give it: read it whole */
			r = engine_snap_read(e, n, buf, len, off) == (ssize_t)len ? 0 : -EIO;
		else
			continue;
		if (r == 0) {
			ssize_t w = pwrite(out_fd, buf, len, (off_t)off);

			if (w != (ssize_t)len)
				r = w < 0 ? -errno : -EIO;
		}
	}
	if (live >= 0)
		(void)close(live);
	free(buf);
	return r;
}
