/*
 * transport.c owns the export file format: writing a snapshot's tree to one file, reading an
 * export's header, verifying and extracting an export into the detached store, and the
 * store's info files. It trusts nothing it reads: every length is bounded before it is used,
 * every path is checked and resolved one component at a time with O_NOFOLLOW, relative to
 * the extraction's own directory descriptors, and nothing reaches the store before the whole
 * file's checksum matched. It never follows a symlink of the tree it reads or builds.
 *
 * Format, version 1. Integers are little-endian of the width given; str16 is a u16 length
 * and that many bytes, with no NUL.
 *
 *   magic    14 bytes   "snapfs-export\n"
 *   version  u32        1
 *   hlen     u32        length of the header body, at most 8192
 *   header   hlen bytes str16 id (1..36: letters, digits, '-', '_'), str16 set_id (..36),
 *                       str16 browse (..63), i64 created_ns, str16 origin (..PATH_MAX-1),
 *                       str16 host (..255), u64 files, u64 bytes
 *   hsum     32 bytes   SHA-256 of magic through header
 *   records, one per entry in a depth-first walk, a directory before what it holds; the first
 *   is the top directory, with an empty path:
 *            u8 type    'd' directory, 'f' regular file, 'l' symlink, 'h' hard link, 'p' fifo,
 *                       'c' character device, 'b' block device, 's' socket
 *            str16 path relative, ..PATH_MAX-1 bytes, no '/' at either end, no empty, '.' or
 *                       '..' component, its parent an earlier directory entry
 *            'h':       str16 target, the path of an earlier entry (not a directory); no more
 *            others:    u32 mode (permission bits, setuid, setgid, sticky), u32 uid, u32 gid,
 *                       i64 atime_sec, u32 atime_nsec, i64 mtime_sec, u32 mtime_nsec, then
 *                       'l':      str16 target (1..PATH_MAX-1)
 *                       'c', 'b': u32 major, u32 minor
 *                       'f':      u64 size and size bytes of data
 *                       then u32 xattr count (..4096), each u8 name length (1..255), name,
 *                       u32 value length (..65536), value; at most 16 MiB of them per entry
 *   trailer  u8 'E', u64 files (the records but the first), u64 bytes (data bytes), then
 *            32 bytes: the SHA-256 of every byte of the file before them. Nothing follows.
 *
 * The header has a checksum of its own, so that listing exports reads a few KiB of each. The
 * header's files and bytes bound what the records may hold. A detached snapshot's info file
 * is the same magic, version, header and hsum. Extraction applies, per entry: content,
 * owner, extended attributes, mode, times; a directory's owner, attributes, mode and times
 * are applied after the whole file verified, deepest first.
 */
#include "transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sha256.h"

#define MAGIC "snapfs-export\n"
#define MAGIC_LEN 14
#define VERSION 1
#define PREAMBLE_LEN (MAGIC_LEN + 8)             /* magic, version, hlen */
#define MAX_HEADER 8192
#define HEADER_MAX_BYTES (PREAMBLE_LEN + MAX_HEADER + SHA256_SIZE)
#define MAX_XATTRS 4096
#define MAX_XATTR_NAME 255
#define MAX_XATTR_VALUE 65536
#define MAX_XATTR_TOTAL (16u << 20)
#define ID_MAX 36
#define BUF_SIZE (1u << 20)
#define PROGRESS_STEP (4u << 20)
#define INFO_NAME "info"
#define INFO_TMP ".info.tmp"
#define TREE_NAME "tree"

/* ---- small encodings ---- */

static void put_le(uint8_t *p, uint64_t v, unsigned width)
{
	unsigned i;

	for (i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned width)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Copy s into out for a message, control characters shown as '?', cut to size. */
static void printable(char *out, size_t size, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < size && s[i]; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	out[i] = '\0';
}

static bool has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/* What is wrong with m for the format, or NULL when nothing is. */
static const char *meta_problem(const struct transport_meta *m)
{
	size_t i, len = strnlen(m->id, sizeof(m->id));

	if (len == 0 || len > ID_MAX)
		return "the snapshot id must be 1 to 36 characters";
	for (i = 0; i < len; i++) {
		char c = m->id[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-' || c == '_'))
			return "the snapshot id may hold only letters, digits, '-' and '_'";
	}
	if (strnlen(m->set_id, sizeof(m->set_id)) == sizeof(m->set_id) || has_control(m->set_id))
		return "the set id is too long or holds control characters";
	if (strnlen(m->browse, sizeof(m->browse)) == sizeof(m->browse) || has_control(m->browse))
		return "the browse name is too long or holds control characters";
	if (strnlen(m->host, sizeof(m->host)) == sizeof(m->host) || has_control(m->host))
		return "the host name is too long or holds control characters";
	if (strnlen(m->origin, sizeof(m->origin)) == sizeof(m->origin))
		return "the origin is too long";
	return NULL;
}

/* A byte array being filled, for the header. */
struct enc {
	uint8_t *p;
	size_t len;
};

static void enc_int(struct enc *e, uint64_t v, unsigned width)
{
	put_le(e->p + e->len, v, width);
	e->len += width;
}

static void enc_str(struct enc *e, const char *s)
{
	size_t n = strlen(s);

	enc_int(e, n, 2);
	memcpy(e->p + e->len, s, n);
	e->len += n;
}

/*
 * Encode magic, version, header (m with files and bytes) and hsum into out; returns the
 * length. m passed meta_problem(), which bounds the header below MAX_HEADER.
 */
static size_t encode_header(const struct transport_meta *m, uint64_t files, uint64_t bytes,
			    uint8_t out[HEADER_MAX_BYTES])
{
	struct enc e = { .p = out, .len = 0 };
	struct sha256 h;

	memcpy(out, MAGIC, MAGIC_LEN);
	e.len = MAGIC_LEN;
	enc_int(&e, VERSION, 4);
	enc_int(&e, 0, 4);
	enc_str(&e, m->id);
	enc_str(&e, m->set_id);
	enc_str(&e, m->browse);
	enc_int(&e, (uint64_t)m->created_ns, 8);
	enc_str(&e, m->origin);
	enc_str(&e, m->host);
	enc_int(&e, files, 8);
	enc_int(&e, bytes, 8);
	put_le(out + MAGIC_LEN + 4, e.len - PREAMBLE_LEN, 4);
	sha256_init(&h);
	sha256_update(&h, out, e.len);
	sha256_final(&h, out + e.len);
	return e.len + SHA256_SIZE;
}

/* A byte array being read, for the header. */
struct dec {
	const uint8_t *p;
	size_t len, pos;
};

static bool dec_int(struct dec *d, unsigned width, uint64_t *v)
{
	if (d->len - d->pos < width)
		return false;
	*v = get_le(d->p + d->pos, width);
	d->pos += width;
	return true;
}

/* Read a str16 of at most size - 1 bytes, with no NUL, into out. */
static bool dec_str(struct dec *d, char *out, size_t size)
{
	uint64_t n;

	if (!dec_int(d, 2, &n) || n >= size || d->len - d->pos < n ||
	    memchr(d->p + d->pos, '\0', n))
		return false;
	memcpy(out, d->p + d->pos, n);
	out[n] = '\0';
	d->pos += n;
	return true;
}

/* ---- the buffered, checksummed writer ---- */

struct out {
	int fd;
	const char *file;       /* for messages */
	uint8_t *buf;           /* BUF_SIZE */
	size_t used;
	bool hashing;
	struct sha256 hash;
	int err;                /* the first error; later writes do nothing */
	char *msg;
	size_t msglen;
};

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int out_flush(struct out *o)
{
	int r;

	if (o->err)
		return o->err;
	r = write_all(o->fd, o->buf, o->used);
	if (r < 0) {
		snprintf(o->msg, o->msglen, "cannot write '%s': %s", o->file, strerror(-r));
		o->err = r;
	}
	o->used = 0;
	return r;
}

/* Append n bytes (hashed unless hashing was turned off); an error sticks in o->err. */
static void out_put(struct out *o, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t take;

	if (o->hashing)
		sha256_update(&o->hash, p, n);
	while (n > 0 && !o->err) {
		if (o->used == BUF_SIZE && out_flush(o) < 0)
			return;
		take = BUF_SIZE - o->used < n ? BUF_SIZE - o->used : n;
		memcpy(o->buf + o->used, b, take);
		o->used += take;
		b += take;
		n -= take;
	}
}

static void out_int(struct out *o, uint64_t v, unsigned width)
{
	uint8_t b[8];

	put_le(b, v, width);
	out_put(o, b, width);
}

static void out_str(struct out *o, const char *s, size_t n)
{
	out_int(o, n, 2);
	out_put(o, s, n);
}

/* ---- the buffered, checksummed reader ---- */

struct in {
	int fd;
	const char *file;       /* for messages */
	uint8_t *buf;
	size_t size, pos, end;
	uint64_t offset;        /* bytes consumed */
	bool hashing;
	struct sha256 hash;
	char where[64];         /* what is being read, for messages */
	char *msg;
	size_t msglen;
};

static int in_open(struct in *in, const char *file, size_t size, char *msg, size_t msglen)
{
	int r;

	memset(in, 0, sizeof(*in));
	in->file = file;
	in->msg = msg;
	in->msglen = msglen;
	in->hashing = true;
	sha256_init(&in->hash);
	in->size = size;
	in->buf = malloc(size);
	if (!in->buf) {
		snprintf(msg, msglen, "cannot read '%s': %s", file, strerror(ENOMEM));
		return -ENOMEM;
	}
	in->fd = open(file, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", file, strerror(-r));
		free(in->buf);
		return r;
	}
	return 0;
}

static void in_close(struct in *in)
{
	(void)close(in->fd);
	free(in->buf);
}

static int truncated(struct in *in)
{
	snprintf(in->msg, in->msglen, "'%s' is truncated: it ends at byte %llu, in %s", in->file,
		 (unsigned long long)in->offset, in->where);
	return -EBADMSG;
}

__attribute__((format(printf, 2, 3)))
static int damaged(struct in *in, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(in->msg, in->msglen, "'%s' is damaged or was altered: ", in->file);
	if (n >= 0 && (size_t)n < in->msglen) {
		va_start(ap, fmt);
		vsnprintf(in->msg + n, in->msglen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

/* Refill an empty buffer: 1 when there is more, 0 at the end of the file. */
static int in_fill(struct in *in)
{
	ssize_t n;
	int r;

	do {
		n = read(in->fd, in->buf, in->size);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		snprintf(in->msg, in->msglen, "cannot read '%s': %s", in->file, strerror(-r));
		return r;
	}
	in->pos = 0;
	in->end = (size_t)n;
	return n > 0;
}

/*
 * Consume up to max (> 0) of the next bytes: *ret points at them in the buffer (valid until
 * the next call) and *ret_n says how many, at least 1. The end of the file is truncation.
 */
static int in_next(struct in *in, size_t max, const uint8_t **ret, size_t *ret_n)
{
	size_t n;
	int r;

	if (in->pos == in->end) {
		r = in_fill(in);
		if (r < 0)
			return r;
		if (r == 0)
			return truncated(in);
	}
	n = in->end - in->pos < max ? in->end - in->pos : max;
	if (in->hashing)
		sha256_update(&in->hash, in->buf + in->pos, n);
	*ret = in->buf + in->pos;
	*ret_n = n;
	in->pos += n;
	in->offset += n;
	return 0;
}

/* Copy the next n bytes to out; fewer (*ret_got) only at the end of the file. */
static int in_read_some(struct in *in, void *out, size_t n, size_t *ret_got)
{
	uint8_t *o = out;
	const uint8_t *p;
	size_t got = 0, k;
	int r;

	while (got < n) {
		if (in->pos == in->end) {
			r = in_fill(in);
			if (r < 0)
				return r;
			if (r == 0)
				break;
		}
		r = in_next(in, n - got, &p, &k);
		if (r < 0)
			return r;
		memcpy(o + got, p, k);
		got += k;
	}
	*ret_got = got;
	return 0;
}

static int in_read(struct in *in, void *out, size_t n)
{
	size_t got;
	int r = in_read_some(in, out, n, &got);

	if (r < 0)
		return r;
	return got < n ? truncated(in) : 0;
}

static int in_int(struct in *in, unsigned width, uint64_t *v)
{
	uint8_t b[8];
	int r = in_read(in, b, width);

	if (r < 0)
		return r;
	*v = get_le(b, width);
	return 0;
}

/* 1 when every byte of the file was consumed, 0 when some are left, or a negative errno. */
static int in_at_end(struct in *in)
{
	int r;

	if (in->pos < in->end)
		return 0;
	r = in_fill(in);
	return r < 0 ? r : !r;
}

/*
 * Read and verify magic, version, header and hsum from in into ret. Its bytes stay in
 * in->hash like any others.
 */
static int read_header(struct in *in, struct transport_meta *ret)
{
	uint8_t h[HEADER_MAX_BYTES], sum[SHA256_SIZE];
	struct transport_meta m;
	struct dec d;
	struct sha256 ctx;
	const char *problem;
	uint64_t version, hlen, created;
	size_t got;
	int r;

	snprintf(in->where, sizeof(in->where), "its header");
	r = in_read_some(in, h, MAGIC_LEN, &got);
	if (r < 0)
		return r;
	if (memcmp(h, MAGIC, got) != 0 || got == 0) {
		snprintf(in->msg, in->msglen, "'%s' is not a snapshot export", in->file);
		return -EBADMSG;
	}
	if (got < MAGIC_LEN)
		return truncated(in);
	r = in_read(in, h + MAGIC_LEN, 8);
	if (r < 0)
		return r;
	version = get_le(h + MAGIC_LEN, 4);
	hlen = get_le(h + MAGIC_LEN + 4, 4);
	if (version != VERSION) {
		snprintf(in->msg, in->msglen,
			 "'%s' is a snapshot export of version %llu; this snapfs reads version %d",
			 in->file, (unsigned long long)version, VERSION);
		return -EPROTONOSUPPORT;
	}
	if (hlen > MAX_HEADER)
		return damaged(in, "its header claims %llu bytes (at most %d)",
			       (unsigned long long)hlen, MAX_HEADER);
	r = in_read(in, h + PREAMBLE_LEN, hlen + SHA256_SIZE);
	if (r < 0)
		return r;
	sha256_init(&ctx);
	sha256_update(&ctx, h, PREAMBLE_LEN + hlen);
	sha256_final(&ctx, sum);
	if (memcmp(sum, h + PREAMBLE_LEN + hlen, SHA256_SIZE) != 0)
		return damaged(in, "its header checksum does not match");
	memset(&m, 0, sizeof(m));
	d = (struct dec){ .p = h + PREAMBLE_LEN, .len = hlen, .pos = 0 };
	if (!dec_str(&d, m.id, sizeof(m.id)) || !dec_str(&d, m.set_id, sizeof(m.set_id)) ||
	    !dec_str(&d, m.browse, sizeof(m.browse)) || !dec_int(&d, 8, &created) ||
	    !dec_str(&d, m.origin, sizeof(m.origin)) || !dec_str(&d, m.host, sizeof(m.host)) ||
	    !dec_int(&d, 8, &m.files) || !dec_int(&d, 8, &m.bytes) || d.pos != d.len)
		return damaged(in, "its header is malformed");
	m.created_ns = (int64_t)created;
	problem = meta_problem(&m);
	if (problem)
		return damaged(in, "its header is invalid: %s", problem);
	*ret = m;
	return 0;
}

/* ---- directories, walked without following symlinks ---- */

/*
 * Open the directory at rel (relative, '/'-separated; "" is base itself) under base, one
 * component at a time with O_NOFOLLOW, so that no symlink is followed and no path length
 * limit applies. Returns the new descriptor or a negative errno.
 */
static int open_dir_beneath(int base, const char *rel)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int fd = base, nfd, r;
	size_t len;

	if (*p == '\0') {
		fd = openat(base, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	while (*p) {
		len = strcspn(p, "/");
		if (len == 0 || len > NAME_MAX) {
			r = len ? -ENAMETOOLONG : -EINVAL;
			goto out_close;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			r = -errno;
			goto out_close;
		}
		if (fd != base)
			(void)close(fd);
		fd = nfd;
		p += len;
		if (*p == '/')
			p++;
	}
	return fd;
out_close:
	if (fd != base)
		(void)close(fd);
	return r;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Read the names in the directory fd (borrowed), sorted, '.' and '..' left out. */
static int read_names(int fd, char ***ret, size_t *ret_n)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int dfd, r = 0;

	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		(void)close(dfd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			names = grown;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	(void)closedir(d);
	if (r < 0) {
		free_names(names, n);
		return r;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), compare_names);
	*ret = names;
	*ret_n = n;
	return 0;
}

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
		fd = open_dir_beneath(base, path);
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
		pfd = open_dir_beneath(base, path);
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

/* The /proc/self/fd path that names name in the directory dirfd without following it. */
static void proc_path(char *out, size_t size, int dirfd, const char *name)
{
	snprintf(out, size, "/proc/self/fd/%d/%s", dirfd, name);
}

/* Rename oldname to newname, refusing (-EEXIST) to replace anything there. */
static int rename_new(int olddir, const char *oldname, int newdir, const char *newname)
{
	struct stat st;

	if (renameat2(olddir, oldname, newdir, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/*
	 * A filesystem without RENAME_NOREPLACE: a file goes by a hard link, which refuses an
	 * existing name too; a directory by a plain rename, which refuses a non-empty one.
	 */
	if (linkat(olddir, oldname, newdir, newname, 0) == 0) {
		(void)unlinkat(olddir, oldname, 0);
		return 0;
	}
	if (errno != EPERM)
		return -errno;
	if (fstatat(newdir, newname, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	if (renameat(olddir, oldname, newdir, newname) < 0)
		return errno == ENOTEMPTY ? -EEXIST : -errno;
	return 0;
}

static void report(transport_progress cb, void *ctx, uint64_t done, uint64_t total,
		   uint64_t *next)
{
	if (!cb || done < *next)
		return;
	cb(done, total, ctx);
	*next = done + PROGRESS_STEP;
}

/* ---- export ---- */

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
	struct out out;
	uint8_t *data;          /* BUF_SIZE, file data on its way out */
	uint8_t *xvalue;        /* MAX_XATTR_VALUE */
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
	r = read_names(fd, &f->names, &f->n);
	if (r < 0)
		return entry_error(ex, "read the directory", r);
	f->next = 0;
	f->pathlen = strlen(ex->path);
	ex->depth++;
	return 0;
}

static void pop_frames(struct exporter *ex)
{
	while (ex->depth > 0) {
		ex->depth--;
		free_names(ex->stack[ex->depth].names, ex->stack[ex->depth].n);
	}
	if (ex->curfd >= 0)
		(void)close(ex->curfd);
	ex->curfd = -1;
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
			free_names(f->names, f->n);
			ex->depth--;
			if (ex->curfd >= 0)
				(void)close(ex->curfd);
			ex->curfd = -1;
			if (ex->depth > 0)
				ex->path[ex->stack[ex->depth - 1].pathlen] = '\0';
			continue;
		}
		ex->path[f->pathlen] = '\0';
		if (ex->curfd < 0) {
			ex->curfd = open_dir_beneath(ex->rootfd, ex->path);
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
	pop_frames(ex);
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

static char type_of(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return 'd';
	case S_IFREG:
		return 'f';
	case S_IFLNK:
		return 'l';
	case S_IFIFO:
		return 'p';
	case S_IFCHR:
		return 'c';
	case S_IFBLK:
		return 'b';
	case S_IFSOCK:
		return 's';
	default:
		return 0;
	}
}

/* Write the data of the regular file name in dirfd, which st describes. */
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
	out_int(&ex->out, left, 8);
	while (left > 0 && !ex->out.err) {
		n = read(fd, ex->data, left < BUF_SIZE ? left : BUF_SIZE);
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
		out_put(&ex->out, ex->data, (size_t)n);
		left -= (uint64_t)n;
		ex->bytes += (uint64_t)n;
		report(ex->cb, ex->ctx, ex->bytes, ex->total_bytes, &ex->next_progress);
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

	proc_path(path, sizeof(path), dirfd, name);
	for (tries = 0; tries < 8; tries++) {
		size = llistxattr(path, NULL, 0);
		if (size < 0 && (errno == ENOTSUP || errno == ENOSYS)) {
			size = 0;
			break;
		}
		if (size < 0)
			return entry_error(ex, "list the extended attributes of", -errno);
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
	if (count > MAX_XATTRS) {
		r = entry_error(ex, "export the extended attributes of", -E2BIG);
		goto out_free;
	}
	out_int(&ex->out, count, 4);
	for (i = 0; i < (size_t)size; i += len + 1) {
		len = strlen(list + i);
		if (len == 0 || len > MAX_XATTR_NAME) {
			r = entry_error(ex, "export the extended attributes of", -E2BIG);
			goto out_free;
		}
		v = lgetxattr(path, list + i, ex->xvalue, MAX_XATTR_VALUE);
		if (v < 0) {
			r = errno == ENODATA ? entry_changed(ex) :
			    entry_error(ex, "read an extended attribute of",
					errno == ERANGE ? -E2BIG : -errno);
			goto out_free;
		}
		total += len + (uint64_t)v;
		if (total > MAX_XATTR_TOTAL) {
			r = entry_error(ex, "export the extended attributes of", -E2BIG);
			goto out_free;
		}
		out_int(&ex->out, len, 1);
		out_put(&ex->out, list + i, len);
		out_int(&ex->out, (uint64_t)v, 4);
		out_put(&ex->out, ex->xvalue, (size_t)v);
	}
	r = ex->out.err;
out_free:
	free(list);
	return r;
}

/* The writing pass: one record for the entry in hand. */
static int write_entry(struct exporter *ex, int dirfd, const char *name, const struct stat *st)
{
	char type = type_of(st->st_mode), target[PATH_MAX];
	const char *first = NULL;
	struct out *o = &ex->out;
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
		out_int(o, 'h', 1);
		out_str(o, ex->path, strlen(ex->path));
		out_str(o, first, strlen(first));
		return o->err;
	}
	out_int(o, (uint8_t)type, 1);
	out_str(o, ex->path, strlen(ex->path));
	out_int(o, st->st_mode & 07777, 4);
	out_int(o, st->st_uid, 4);
	out_int(o, st->st_gid, 4);
	out_int(o, (uint64_t)st->st_atim.tv_sec, 8);
	out_int(o, (uint64_t)st->st_atim.tv_nsec, 4);
	out_int(o, (uint64_t)st->st_mtim.tv_sec, 8);
	out_int(o, (uint64_t)st->st_mtim.tv_nsec, 4);
	switch (type) {
	case 'l':
		n = readlinkat(dirfd, name, target, sizeof(target));
		if (n < 0)
			return entry_error(ex, "read", -errno);
		if ((size_t)n >= sizeof(target) || n == 0)
			return entry_error(ex, "export the symlink", -ENAMETOOLONG);
		out_str(o, target, (size_t)n);
		break;
	case 'c':
	case 'b':
		out_int(o, major(st->st_rdev), 4);
		out_int(o, minor(st->st_rdev), 4);
		break;
	case 'f':
		r = write_data(ex, dirfd, name, st);
		if (r < 0)
			return r;
		break;
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
	uint8_t hdr[HEADER_MAX_BYTES], digest[SHA256_SIZE];
	const char *problem = meta_problem(m);
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
	if (!ex)
		return -ENOMEM;
	ex->dir = dir;
	ex->curfd = -1;
	ex->cb = cb;
	ex->ctx = ctx;
	ex->msg = msg;
	ex->msglen = msglen;
	ex->data = malloc(BUF_SIZE);
	ex->xvalue = malloc(MAX_XATTR_VALUE);
	ex->out.buf = malloc(BUF_SIZE);
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
	ex->next_progress = PROGRESS_STEP;

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
	out_put(&ex->out, hdr, encode_header(m, files, bytes, hdr));
	r = walk(ex, write_entry);
	if (r < 0)
		goto out_unlink;
	if (ex->files != files || ex->bytes != bytes) {
		snprintf(msg, msglen, "'%s' changed while it was being exported", dir);
		r = -EAGAIN;
		goto out_unlink;
	}
	out_int(&ex->out, 'E', 1);
	out_int(&ex->out, files, 8);
	out_int(&ex->out, bytes, 8);
	sha256_final(&ex->out.hash, digest);
	ex->out.hashing = false;
	out_put(&ex->out, digest, sizeof(digest));
	r = out_flush(&ex->out);
	if (r < 0)
		goto out_unlink;
	if (fsync(fd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot write '%s': %s", tmp, strerror(-r));
		goto out_unlink;
	}
	r = rename_new(AT_FDCWD, tmp, AT_FDCWD, file);
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

/* ---- header and info ---- */

int transport_read_meta(const char *file, struct transport_meta *ret, char *msg, size_t msglen)
{
	struct transport_meta m;
	struct in in;
	int r;

	r = in_open(&in, file, 16384, msg, msglen);
	if (r < 0)
		return r;
	r = read_header(&in, &m);
	in_close(&in);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

/* Write m as dirfd/info through a temporary name; label names dirfd in messages. */
static int write_info_at(int dirfd, const char *label, const struct transport_meta *m,
			 char *msg, size_t msglen)
{
	uint8_t hdr[HEADER_MAX_BYTES];
	size_t len = encode_header(m, m->files, m->bytes, hdr);
	int fd, r;

	fd = openat(dirfd, INFO_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		r = -errno;
		goto out_msg;
	}
	r = write_all(fd, hdr, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, INFO_TMP, dirfd, INFO_NAME) < 0)
		r = -errno;
	if (r == 0 && fsync(dirfd) < 0)
		r = -errno;
	if (r == 0)
		return 0;
	(void)unlinkat(dirfd, INFO_TMP, 0);
out_msg:
	snprintf(msg, msglen, "cannot write '%s/%s': %s", label, INFO_NAME, strerror(-r));
	return r;
}

/* Read dirfd/info (label names dirfd in messages) into ret. */
static int read_info_at(int dirfd, const char *label, struct transport_meta *ret, char *msg,
			size_t msglen)
{
	struct transport_meta m;
	char *file;
	struct in in;
	int r, fd;

	if (asprintf(&file, "%s/%s", label, INFO_NAME) < 0)
		return -ENOMEM;
	fd = openat(dirfd, INFO_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", file, strerror(-r));
		free(file);
		return r;
	}
	memset(&in, 0, sizeof(in));
	in.fd = fd;
	in.file = file;
	in.msg = msg;
	in.msglen = msglen;
	in.size = HEADER_MAX_BYTES;
	in.buf = malloc(in.size);
	sha256_init(&in.hash);
	if (!in.buf) {
		r = -ENOMEM;
		goto out;
	}
	r = read_header(&in, &m);
	if (r == 0)
		r = in_at_end(&in);
	if (r == 0)
		r = damaged(&in, "it holds bytes after its header");
	else if (r == 1)
		r = 0;
	if (r == 0)
		*ret = m;
out:
	in_close(&in);
	free(file);
	return r;
}

int transport_info_write(const char *dir, const struct transport_meta *m, char *msg,
			 size_t msglen)
{
	const char *problem = meta_problem(m);
	int fd, r;

	if (problem) {
		snprintf(msg, msglen, "cannot write '%s/%s': %s", dir, INFO_NAME, problem);
		return -EINVAL;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", dir, strerror(-r));
		return r;
	}
	r = write_info_at(fd, dir, m, msg, msglen);
	(void)close(fd);
	return r;
}

int transport_info_read(const char *dir, struct transport_meta *ret, char *msg, size_t msglen)
{
	int fd, r;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", dir, strerror(-r));
		return r;
	}
	r = read_info_at(fd, dir, ret, msg, msglen);
	(void)close(fd);
	return r;
}

static int compare_meta(const void *a, const void *b)
{
	const struct transport_meta *x = a, *y = b;

	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

int transport_store_list(const char *store, struct transport_meta **ret, size_t *n, char *msg,
			 size_t msglen)
{
	struct transport_meta *list = NULL, *grown, m;
	size_t count = 0, cap = 0;
	char scratch[256], *label;
	struct dirent *de;
	int fd, one, r = 0;
	DIR *d;

	d = opendir(store);
	if (!d && errno == ENOENT) {
		*ret = NULL;
		*n = 0;
		return 0;
	}
	if (!d) {
		r = -errno;
		snprintf(msg, msglen, "cannot read the store '%s': %s", store, strerror(-r));
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		one = -ENOMEM;
		if (asprintf(&label, "%s/%s", store, de->d_name) >= 0) {
			one = read_info_at(fd, label, &m, scratch, sizeof(scratch));
			free(label);
		}
		(void)close(fd);
		if (one == -ENOMEM) {
			r = one;
			break;
		}
		if (one < 0 || strcmp(m.id, de->d_name) != 0)
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			list = grown;
		}
		list[count++] = m;
	}
	(void)closedir(d);
	if (r < 0) {
		snprintf(msg, msglen, "cannot read the store '%s': %s", store, strerror(-r));
		free(list);
		return r;
	}
	if (count > 1)
		qsort(list, count, sizeof(*list), compare_meta);
	*ret = list;
	*n = count;
	return 0;
}

/* ---- import ---- */

#define MAX_KEPT (256u << 20)   /* directory attributes held until the end, in all */

/* An entry's owner, mode and times. */
struct attrs {
	uint32_t mode, uid, gid;
	struct timespec times[2];       /* atime, mtime */
};

/* A directory whose owner, attributes, mode and times are applied at the end. */
struct dirmeta {
	char *path;
	struct attrs a;
	uint8_t *xattrs;        /* u8 name length, name, u32 value length, value; repeated */
	size_t xlen;
};

struct importer {
	struct in in;
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
	uint8_t *xvalue;        /* MAX_XATTR_VALUE */
	uint64_t entry;         /* the record in hand; 0 is the top directory */
	uint64_t files, bytes;  /* entries and data bytes extracted */
	struct transport_meta meta;
	uint64_t next_progress;
	transport_progress cb;
	void *ctx;
	char *msg;
	size_t msglen;
};

/* Say that doing what to the entry in hand failed with r; returns r. */
static int extract_error(struct importer *im, const char *what, int r)
{
	char shown[128];

	printable(shown, sizeof(shown), im->path);
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
	printable(shown, sizeof(shown), im->path);
	return damaged(&im->in, "entry %llu ('%s') appears twice", (unsigned long long)im->entry,
		       shown);
}

/* Whether path (len bytes) is relative, with no NUL and no empty, '.' or '..' component. */
static bool is_valid_path(const char *path, size_t len)
{
	size_t i = 0, end, n;

	if (len == 0 || memchr(path, '\0', len))
		return false;
	while (i <= len) {
		for (end = i; end < len && path[end] != '/'; end++)
			;
		n = end - i;
		if (n == 0 || n > NAME_MAX || (n == 1 && path[i] == '.') ||
		    (n == 2 && path[i] == '.' && path[i + 1] == '.'))
			return false;
		i = end + 1;
	}
	return true;
}

/* Read a str16 of less than PATH_MAX bytes with no NUL into out (PATH_MAX bytes). */
static int read_str(struct importer *im, char *out, const char *what, size_t *ret_len)
{
	uint64_t len;
	int r;

	r = in_int(&im->in, 2, &len);
	if (r < 0)
		return r;
	if (len >= PATH_MAX)
		return damaged(&im->in, "entry %llu has a %s of %llu bytes",
			       (unsigned long long)im->entry, what, (unsigned long long)len);
	r = in_read(&im->in, out, len);
	if (r < 0)
		return r;
	out[len] = '\0';
	if (memchr(out, '\0', len))
		return damaged(&im->in, "entry %llu has a %s holding a NUL byte",
			       (unsigned long long)im->entry, what);
	*ret_len = len;
	return 0;
}

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
	if (im->parentfd >= 0)
		(void)close(im->parentfd);
	im->parentfd = -1;
	memcpy(im->parent, path, plen);
	im->parent[plen] = '\0';
	fd = open_dir_beneath(im->treefd, im->parent);
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP) {
		printable(shown, sizeof(shown), im->parent);
		return damaged(&im->in,
			       "entry %llu lies in '%s', not a directory extracted before it",
			       (unsigned long long)im->entry, shown);
	}
	if (fd < 0)
		return extract_error(im, "open the directory of", fd);
	im->parentfd = fd;
	return fd;
}

static int read_attrs(struct importer *im, struct attrs *a)
{
	static const unsigned widths[7] = { 4, 4, 4, 8, 4, 8, 4 };
	uint64_t v[7];
	unsigned i;
	int r;

	for (i = 0; i < 7; i++) {
		r = in_int(&im->in, widths[i], &v[i]);
		if (r < 0)
			return r;
	}
	if (v[0] & ~(uint64_t)07777)
		return damaged(&im->in, "entry %llu has an invalid mode",
			       (unsigned long long)im->entry);
	if (v[4] >= 1000000000 || v[6] >= 1000000000)
		return damaged(&im->in, "entry %llu has an invalid time",
			       (unsigned long long)im->entry);
	a->mode = (uint32_t)v[0];
	a->uid = (uint32_t)v[1];
	a->gid = (uint32_t)v[2];
	a->times[0].tv_sec = (time_t)(int64_t)v[3];
	a->times[0].tv_nsec = (long)v[4];
	a->times[1].tv_sec = (time_t)(int64_t)v[5];
	a->times[1].tv_nsec = (long)v[6];
	return 0;
}

/*
 * Read the entry's extended attributes and set each on fd when fd >= 0, else on name in dirfd
 * (through /proc/self/fd, not following it); for a directory (keep not NULL) only append them
 * to keep, for the end.
 */
static int read_xattrs(struct importer *im, int fd, int dirfd, const char *name,
		       struct dirmeta *keep)
{
	char xname[MAX_XATTR_NAME + 1], path[64 + NAME_MAX], shown[128];
	uint64_t count, nlen = 0, vlen = 0, total = 0, i;
	uint8_t *grown;
	int r;

	r = in_int(&im->in, 4, &count);
	if (r < 0)
		return r;
	if (count > MAX_XATTRS)
		return damaged(&im->in, "entry %llu claims %llu extended attributes",
			       (unsigned long long)im->entry, (unsigned long long)count);
	if (fd < 0 && !keep)
		proc_path(path, sizeof(path), dirfd, name);
	for (i = 0; i < count; i++) {
		r = in_int(&im->in, 1, &nlen);
		if (r == 0)
			r = in_read(&im->in, xname, nlen);
		if (r == 0)
			r = in_int(&im->in, 4, &vlen);
		if (r < 0)
			return r;
		xname[nlen] = '\0';
		total += nlen + vlen;
		if (nlen == 0 || memchr(xname, '\0', nlen) || vlen > MAX_XATTR_VALUE ||
		    total > MAX_XATTR_TOTAL)
			return damaged(&im->in, "entry %llu has an invalid extended attribute",
				       (unsigned long long)im->entry);
		r = in_read(&im->in, im->xvalue, vlen);
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
			put_le(grown + 1 + nlen, vlen, 4);
			memcpy(grown + 5 + nlen, im->xvalue, vlen);
			keep->xlen += 5 + nlen + vlen;
			continue;
		}
		if ((fd >= 0 ? fsetxattr(fd, xname, im->xvalue, vlen, 0) :
			       lsetxattr(path, xname, im->xvalue, vlen, 0)) < 0) {
			r = -errno;
			printable(shown, sizeof(shown), xname);
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
			const struct attrs *a, bool is_symlink)
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
static int keep_dir(struct importer *im, const struct attrs *a)
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

static int read_file(struct importer *im, int dirfd, const char *name, const struct attrs *a)
{
	uint64_t size, left;
	const uint8_t *p;
	size_t n;
	int fd, r;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return create_error(im, -errno);
	r = in_int(&im->in, 8, &size);
	if (r < 0)
		goto out_close;
	if (size > im->meta.bytes - im->bytes) {
		r = damaged(&im->in, "entry %llu holds more data than its header says",
			    (unsigned long long)im->entry);
		goto out_close;
	}
	for (left = size; left > 0; left -= n) {
		r = in_next(&im->in, left < BUF_SIZE ? left : BUF_SIZE, &p, &n);
		if (r < 0)
			goto out_close;
		r = write_all(fd, p, n);
		if (r < 0) {
			r = extract_error(im, "write", r);
			goto out_close;
		}
		im->bytes += n;
		report(im->cb, im->ctx, im->bytes, im->meta.bytes, &im->next_progress);
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

	r = read_str(im, im->target, "hard link target", &len);
	if (r < 0)
		return r;
	if (!is_valid_path(im->target, len))
		return damaged(&im->in, "entry %llu is a hard link with an invalid target",
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
			printable(shown, sizeof(shown), im->target);
			r = damaged(&im->in, "entry %llu links to '%s', not an earlier file",
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
	uint64_t major_nr = 0, minor_nr = 0;
	const char *name;
	struct attrs a;
	mode_t kind;
	size_t len;
	int dirfd, r;

	r = read_str(im, im->path, "path", &len);
	if (r < 0)
		return r;
	if (im->entry == 0) {
		if (type != 'd' || len != 0)
			return damaged(&im->in, "its first entry is not the top directory");
		r = read_attrs(im, &a);
		return r < 0 ? r : keep_dir(im, &a);
	}
	if (!is_valid_path(im->path, len))
		return damaged(&im->in, "entry %llu has an invalid path",
			       (unsigned long long)im->entry);
	if (type == 'h')
		return read_hardlink(im);
	dirfd = parent_fd(im, im->path, &name);
	if (dirfd < 0)
		return dirfd;
	r = read_attrs(im, &a);
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
		r = read_str(im, im->target, "symlink target", &len);
		if (r < 0)
			return r;
		if (len == 0)
			return damaged(&im->in, "entry %llu is a symlink to nothing",
				       (unsigned long long)im->entry);
		if (symlinkat(im->target, dirfd, name) < 0)
			return create_error(im, -errno);
		return finish_entry(im, -1, dirfd, name, &a, true);
	default:
		if (type == 'c' || type == 'b') {
			r = in_int(&im->in, 4, &major_nr);
			if (r == 0)
				r = in_int(&im->in, 4, &minor_nr);
			if (r < 0)
				return r;
		}
		kind = type == 'c' ? S_IFCHR : type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO :
									   S_IFSOCK;
		if (mknodat(dirfd, name, kind | 0600,
			    makedev((unsigned)major_nr, (unsigned)minor_nr)) < 0)
			return create_error(im, -errno);
		return finish_entry(im, -1, dirfd, name, &a, false);
	}
}

/* Read every record and the trailer, and check the checksum and the counts. */
static int extract(struct importer *im)
{
	uint8_t want[SHA256_SIZE], got[SHA256_SIZE];
	char want_hex[2 * SHA256_SIZE + 1], got_hex[2 * SHA256_SIZE + 1];
	uint64_t type, files, bytes;
	int r;

	for (;; im->entry++) {
		snprintf(im->in.where, sizeof(im->in.where), "entry %llu",
			 (unsigned long long)im->entry);
		r = in_int(&im->in, 1, &type);
		if (r < 0)
			return r;
		if (type == 'E')
			break;
		if (type == 0 || !strchr("dflhpcbs", (int)type))
			return damaged(&im->in, "entry %llu has an unknown type (%llu)",
				       (unsigned long long)im->entry, (unsigned long long)type);
		if (im->entry == 0 && type != 'd')
			return damaged(&im->in, "its first entry is not the top directory");
		if (im->entry > 0 && ++im->files > im->meta.files)
			return damaged(&im->in, "it holds more entries than its header says (%llu)",
				       (unsigned long long)im->meta.files);
		r = read_entry(im, (int)type);
		if (r < 0)
			return r;
	}
	if (im->entry == 0)
		return damaged(&im->in, "it holds no top directory");
	snprintf(im->in.where, sizeof(im->in.where), "its trailer");
	r = in_int(&im->in, 8, &files);
	if (r == 0)
		r = in_int(&im->in, 8, &bytes);
	if (r < 0)
		return r;
	sha256_final(&im->in.hash, got);
	im->in.hashing = false;
	r = in_read(&im->in, want, sizeof(want));
	if (r < 0)
		return r;
	if (memcmp(want, got, SHA256_SIZE) != 0) {
		sha256_hex(want, want_hex);
		sha256_hex(got, got_hex);
		return damaged(&im->in, "its checksum does not match (expected %s, got %s)",
			       want_hex, got_hex);
	}
	if (files != im->files || bytes != im->bytes || files != im->meta.files ||
	    bytes != im->meta.bytes)
		return damaged(&im->in,
			       "it holds %llu entries and %llu bytes, its header and trailer say "
			       "%llu and %llu",
			       (unsigned long long)im->files, (unsigned long long)im->bytes,
			       (unsigned long long)files, (unsigned long long)bytes);
	r = in_at_end(&im->in);
	if (r < 0)
		return r;
	return r ? 0 : damaged(&im->in, "it goes on after its trailer");
}

/* Give each directory its owner, attributes, mode and times, the deepest first. */
static int apply_dirs(struct importer *im)
{
	char xname[MAX_XATTR_NAME + 1];
	struct dirmeta *d;
	size_t i, pos, nlen, vlen;
	int fd, r = 0;

	for (i = im->ndirs; i-- > 0 && r == 0;) {
		d = &im->dirs[i];
		snprintf(im->path, sizeof(im->path), "%s", d->path);
		fd = open_dir_beneath(im->treefd, d->path);
		if (fd < 0)
			return extract_error(im, "open", fd);
		if (fchown(fd, d->a.uid, d->a.gid) < 0)
			r = extract_error(im, "set the owner of", -errno);
		for (pos = 0; r == 0 && pos < d->xlen; pos += 5 + nlen + vlen) {
			nlen = d->xattrs[pos];
			memcpy(xname, d->xattrs + pos + 1, nlen);
			xname[nlen] = '\0';
			vlen = (size_t)get_le(d->xattrs + pos + 1 + nlen, 4);
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
	if (fstatat(im->storefd, im->meta.id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(im->msg, im->msglen, "snapshot '%s' is already imported: '%s/%s' exists",
			 im->meta.id, store, im->meta.id);
		return -EEXIST;
	}
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

static void close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

int transport_import(const char *file, const char *store, struct transport_meta *ret,
		     transport_progress cb, void *ctx, char *msg, size_t msglen)
{
	struct importer *im = calloc(1, sizeof(*im));
	bool placed = false;
	size_t i;
	int r;

	if (!im)
		return -ENOMEM;
	im->storefd = im->tmpfd = im->treefd = im->parentfd = -1;
	im->cb = cb;
	im->ctx = ctx;
	im->msg = msg;
	im->msglen = msglen;
	im->next_progress = PROGRESS_STEP;
	im->xvalue = malloc(MAX_XATTR_VALUE);
	if (!im->xvalue) {
		r = -ENOMEM;
		snprintf(msg, msglen, "cannot import '%s': %s", file, strerror(-r));
		goto out_free;
	}
	r = in_open(&im->in, file, BUF_SIZE, msg, msglen);
	if (r < 0)
		goto out_free;
	r = read_header(&im->in, &im->meta);
	if (r == 0)
		r = open_store(im, store);
	if (r == 0)
		r = make_temp_dir(im, store);
	if (r == 0)
		r = extract(im);
	close_fd(&im->parentfd);
	if (r == 0)
		r = apply_dirs(im);
	if (r == 0)
		r = write_info_at(im->tmpfd, im->tmppath, &im->meta, msg, msglen);
	if (r == 0 && syncfs(im->tmpfd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot sync '%s': %s", im->tmppath, strerror(-r));
	}
	close_fd(&im->treefd);
	close_fd(&im->tmpfd);
	if (r == 0) {
		r = rename_new(im->storefd, im->tmpname, im->storefd, im->meta.id);
		if (r == -EEXIST)
			snprintf(msg, msglen, "snapshot '%s' is already imported: '%s/%s' exists",
				 im->meta.id, store, im->meta.id);
		else if (r < 0)
			snprintf(msg, msglen, "cannot rename '%s' to '%s/%s': %s", im->tmppath,
				 store, im->meta.id, strerror(-r));
		placed = r == 0;
	}
	if (r == 0 && fsync(im->storefd) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot sync the store '%s': %s", store, strerror(-r));
		(void)remove_tree(im->storefd, im->meta.id);
	}
	if (r < 0 && im->tmppath && !placed)
		(void)remove_tree(im->storefd, im->tmpname);
	if (r == 0) {
		if (cb)
			cb(im->meta.bytes, im->meta.bytes, ctx);
		*ret = im->meta;
	}
	close_fd(&im->storefd);
	in_close(&im->in);
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
