/*
 * transport_format.c owns the export file format: the checksummed writer and reader, the
 * encoding and the checks of the header, records and trailer, a detached snapshot's info file
 * and the listing of the store, and the few file system helpers export and import both use
 * (transport_int.h). It decides what is well-formed: every length read is bounded before it
 * is used, and a file breaking a rule is -EBADMSG with a message saying where. Walking a tree
 * is transport_export.c's; creating what a record describes is transport_import.c's.
 *
 * Format, version 1. Integers are little-endian of the width given; str16 is a u16 length
 * and that many bytes, with no NUL.
 *
 *   magic    14 bytes   "snapfs-export\n"
 *   version  u32        1
 *   hlen     u32        length of the header body, at most 8192
 *   header   hlen bytes str16 id (1..36: letters, digits, '-'), str16 set_id (..36),
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
 * are applied after the whole file verified, deepest first. This comment is the reference for
 * the format.
 */
#include "transport_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAGIC "snapfs-export\n"
#define MAGIC_LEN 14
#define VERSION 1
#define PREAMBLE_LEN (MAGIC_LEN + 8)             /* magic, version, hlen */
#define MAX_HEADER 8192
#define HEADER_MAX_BYTES (PREAMBLE_LEN + MAX_HEADER + SHA256_SIZE)
#define ID_MAX 36
#define MODE_BITS 07777                          /* permissions, setuid, setgid, sticky */
#define INFO_NAME "info"
#define INFO_TMP ".info.tmp"

/* ---- small encodings ---- */

/* The record types but 'h', and the kinds of file they hold. */
static const struct {
	char type;
	mode_t kind;
} types[] = {
	{ 'd', S_IFDIR }, { 'f', S_IFREG }, { 'l', S_IFLNK }, { 'p', S_IFIFO },
	{ 'c', S_IFCHR }, { 'b', S_IFBLK }, { 's', S_IFSOCK },
};

char transport_type_of(mode_t mode)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (types[i].kind == (mode & S_IFMT))
			return types[i].type;
	}
	return 0;
}

mode_t transport_kind_of(int type)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (types[i].type == type)
			return types[i].kind;
	}
	return 0;
}

bool transport_is_entry_type(uint64_t type)
{
	return type == 'h' || (type <= 0xff && transport_kind_of((int)type) != 0);
}

bool transport_is_valid_path(const char *path, size_t len)
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

static bool is_control(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

static bool has_control(const char *s)
{
	for (; *s; s++) {
		if (is_control(*s))
			return true;
	}
	return false;
}

const char *transport_meta_problem(const struct transport_meta *m)
{
	size_t i, len = strnlen(m->id, sizeof(m->id));

	if (len == 0 || len > ID_MAX)
		return "the snapshot id must be 1 to 36 characters";
	for (i = 0; i < len; i++) {
		char c = m->id[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-'))
			return "the snapshot id may hold only letters, digits and '-'";
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
	transport_put_le(e->p + e->len, v, width);
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
	transport_put_le(out + MAGIC_LEN + 4, e.len - PREAMBLE_LEN, 4);
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
	*v = transport_get_le(d->p + d->pos, width);
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

int transport_write_all(int fd, const void *p, size_t n)
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

int transport_out_flush(struct transport_out *o)
{
	int r;

	if (o->err)
		return o->err;
	r = transport_write_all(o->fd, o->buf, o->used);
	if (r < 0) {
		snprintf(o->msg, o->msglen, "cannot write '%s': %s", o->file, strerror(-r));
		o->err = r;
	}
	o->used = 0;
	return r;
}

void transport_out_put(struct transport_out *o, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t take;

	if (o->hashing)
		sha256_update(&o->hash, p, n);
	while (n > 0 && !o->err) {
		if (o->used == TRANSPORT_BUF_SIZE && transport_out_flush(o) < 0)
			return;
		take = TRANSPORT_BUF_SIZE - o->used < n ? TRANSPORT_BUF_SIZE - o->used : n;
		memcpy(o->buf + o->used, b, take);
		o->used += take;
		b += take;
		n -= take;
	}
}

void transport_out_int(struct transport_out *o, uint64_t v, unsigned width)
{
	uint8_t b[8];

	transport_put_le(b, v, width);
	transport_out_put(o, b, width);
}

void transport_out_str(struct transport_out *o, const char *s, size_t n)
{
	transport_out_int(o, n, 2);
	transport_out_put(o, s, n);
}

void transport_put_header(struct transport_out *o, const struct transport_meta *m,
			  uint64_t files, uint64_t bytes)
{
	uint8_t hdr[HEADER_MAX_BYTES];

	transport_out_put(o, hdr, encode_header(m, files, bytes, hdr));
}

void transport_put_entry(struct transport_out *o, char type, const char *path,
			 const struct stat *st)
{
	transport_out_int(o, (uint8_t)type, 1);
	transport_out_str(o, path, strlen(path));
	transport_out_int(o, st->st_mode & MODE_BITS, 4);
	transport_out_int(o, st->st_uid, 4);
	transport_out_int(o, st->st_gid, 4);
	transport_out_int(o, (uint64_t)st->st_atim.tv_sec, 8);
	transport_out_int(o, (uint64_t)st->st_atim.tv_nsec, 4);
	transport_out_int(o, (uint64_t)st->st_mtim.tv_sec, 8);
	transport_out_int(o, (uint64_t)st->st_mtim.tv_nsec, 4);
	if (type == 'c' || type == 'b') {
		transport_out_int(o, major(st->st_rdev), 4);
		transport_out_int(o, minor(st->st_rdev), 4);
	}
}

void transport_put_hardlink(struct transport_out *o, const char *path, const char *first)
{
	transport_out_int(o, 'h', 1);
	transport_out_str(o, path, strlen(path));
	transport_out_str(o, first, strlen(first));
}

void transport_put_xattr(struct transport_out *o, const char *name, size_t nlen,
			 const void *value, size_t vlen)
{
	transport_out_int(o, nlen, 1);
	transport_out_put(o, name, nlen);
	transport_out_int(o, vlen, 4);
	transport_out_put(o, value, vlen);
}

void transport_put_trailer(struct transport_out *o, uint64_t files, uint64_t bytes)
{
	uint8_t digest[SHA256_SIZE];

	transport_out_int(o, 'E', 1);
	transport_out_int(o, files, 8);
	transport_out_int(o, bytes, 8);
	sha256_final(&o->hash, digest);
	o->hashing = false;
	transport_out_put(o, digest, sizeof(digest));
}

/* ---- the buffered, checksummed reader ---- */

/* Set in up to read fd (-1: not yet open), named file in messages; allocates its buffer. */
static int in_start(struct transport_in *in, int fd, const char *file, size_t size, char *msg,
		    size_t msglen)
{
	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->file = file;
	in->msg = msg;
	in->msglen = msglen;
	in->hashing = true;
	sha256_init(&in->hash);
	in->size = size;
	in->buf = malloc(size);
	return in->buf ? 0 : -ENOMEM;
}

int transport_in_open(struct transport_in *in, const char *file, size_t size, char *msg,
		      size_t msglen)
{
	int r;

	if (in_start(in, -1, file, size, msg, msglen) < 0) {
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

void transport_in_close(struct transport_in *in)
{
	(void)close(in->fd);
	free(in->buf);
}

static int truncated(struct transport_in *in)
{
	snprintf(in->msg, in->msglen, "'%s' is truncated: it ends at byte %llu, in %s", in->file,
		 (unsigned long long)in->offset, in->where);
	return -EBADMSG;
}

void transport_printable(char *out, size_t size, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < size && s[i]; i++)
		out[i] = is_control(s[i]) ? '?' : s[i];
	out[i] = '\0';
}

int transport_damaged(struct transport_in *in, const char *fmt, ...)
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
static int in_fill(struct transport_in *in)
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

int transport_in_next(struct transport_in *in, size_t max, const uint8_t **ret, size_t *ret_n)
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
static int in_read_some(struct transport_in *in, void *out, size_t n, size_t *ret_got)
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
		r = transport_in_next(in, n - got, &p, &k);
		if (r < 0)
			return r;
		memcpy(o + got, p, k);
		got += k;
	}
	*ret_got = got;
	return 0;
}

int transport_in_read(struct transport_in *in, void *out, size_t n)
{
	size_t got;
	int r = in_read_some(in, out, n, &got);

	if (r < 0)
		return r;
	return got < n ? truncated(in) : 0;
}

int transport_in_int(struct transport_in *in, unsigned width, uint64_t *v)
{
	uint8_t b[8];
	int r = transport_in_read(in, b, width);

	if (r < 0)
		return r;
	*v = transport_get_le(b, width);
	return 0;
}

/* 1 when every byte of the file was consumed, 0 when some are left, or a negative errno. */
static int in_at_end(struct transport_in *in)
{
	int r;

	if (in->pos < in->end)
		return 0;
	r = in_fill(in);
	return r < 0 ? r : !r;
}

int transport_read_header(struct transport_in *in, struct transport_meta *ret)
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
	r = transport_in_read(in, h + MAGIC_LEN, 8);
	if (r < 0)
		return r;
	version = transport_get_le(h + MAGIC_LEN, 4);
	hlen = transport_get_le(h + MAGIC_LEN + 4, 4);
	if (version != VERSION) {
		snprintf(in->msg, in->msglen,
			 "'%s' is a snapshot export of version %llu; this snapfs reads version %d",
			 in->file, (unsigned long long)version, VERSION);
		return -EPROTONOSUPPORT;
	}
	if (hlen > MAX_HEADER)
		return transport_damaged(in, "its header claims %llu bytes (at most %d)",
					 (unsigned long long)hlen, MAX_HEADER);
	r = transport_in_read(in, h + PREAMBLE_LEN, hlen + SHA256_SIZE);
	if (r < 0)
		return r;
	sha256_init(&ctx);
	sha256_update(&ctx, h, PREAMBLE_LEN + hlen);
	sha256_final(&ctx, sum);
	if (memcmp(sum, h + PREAMBLE_LEN + hlen, SHA256_SIZE) != 0)
		return transport_damaged(in, "its header checksum does not match");
	memset(&m, 0, sizeof(m));
	d = (struct dec){ .p = h + PREAMBLE_LEN, .len = hlen, .pos = 0 };
	if (!dec_str(&d, m.id, sizeof(m.id)) || !dec_str(&d, m.set_id, sizeof(m.set_id)) ||
	    !dec_str(&d, m.browse, sizeof(m.browse)) || !dec_int(&d, 8, &created) ||
	    !dec_str(&d, m.origin, sizeof(m.origin)) || !dec_str(&d, m.host, sizeof(m.host)) ||
	    !dec_int(&d, 8, &m.files) || !dec_int(&d, 8, &m.bytes) || d.pos != d.len)
		return transport_damaged(in, "its header is malformed");
	m.created_ns = (int64_t)created;
	problem = transport_meta_problem(&m);
	if (problem)
		return transport_damaged(in, "its header is invalid: %s", problem);
	*ret = m;
	return 0;
}

int transport_get_str(struct transport_in *in, uint64_t entry, char *out, const char *what,
		      size_t *ret_len)
{
	uint64_t len;
	int r;

	r = transport_in_int(in, 2, &len);
	if (r < 0)
		return r;
	if (len >= PATH_MAX)
		return transport_damaged(in, "entry %llu has a %s of %llu bytes",
					 (unsigned long long)entry, what,
					 (unsigned long long)len);
	r = transport_in_read(in, out, len);
	if (r < 0)
		return r;
	out[len] = '\0';
	if (memchr(out, '\0', len))
		return transport_damaged(in, "entry %llu has a %s holding a NUL byte",
					 (unsigned long long)entry, what);
	*ret_len = len;
	return 0;
}

int transport_get_attrs(struct transport_in *in, uint64_t entry, int type,
			struct transport_attrs *a)
{
	static const unsigned widths[7] = { 4, 4, 4, 8, 4, 8, 4 };
	uint64_t v[7], major_nr = 0, minor_nr = 0;
	unsigned i;
	int r;

	for (i = 0; i < 7; i++) {
		r = transport_in_int(in, widths[i], &v[i]);
		if (r < 0)
			return r;
	}
	if (v[0] & ~(uint64_t)MODE_BITS)
		return transport_damaged(in, "entry %llu has an invalid mode",
					 (unsigned long long)entry);
	if (v[4] >= 1000000000 || v[6] >= 1000000000)
		return transport_damaged(in, "entry %llu has an invalid time",
					 (unsigned long long)entry);
	if (type == 'c' || type == 'b') {
		r = transport_in_int(in, 4, &major_nr);
		if (r == 0)
			r = transport_in_int(in, 4, &minor_nr);
		if (r < 0)
			return r;
	}
	a->mode = (uint32_t)v[0];
	a->uid = (uint32_t)v[1];
	a->gid = (uint32_t)v[2];
	a->times[0].tv_sec = (time_t)(int64_t)v[3];
	a->times[0].tv_nsec = (long)v[4];
	a->times[1].tv_sec = (time_t)(int64_t)v[5];
	a->times[1].tv_nsec = (long)v[6];
	a->rdev = makedev((unsigned)major_nr, (unsigned)minor_nr);
	return 0;
}

int transport_get_xattr_count(struct transport_in *in, uint64_t entry, uint64_t *ret)
{
	uint64_t count;
	int r;

	r = transport_in_int(in, 4, &count);
	if (r < 0)
		return r;
	if (count > TRANSPORT_MAX_XATTRS)
		return transport_damaged(in, "entry %llu claims %llu extended attributes",
					 (unsigned long long)entry, (unsigned long long)count);
	*ret = count;
	return 0;
}

int transport_get_xattr(struct transport_in *in, uint64_t entry, uint64_t *total,
			char name[TRANSPORT_MAX_XATTR_NAME + 1], uint8_t *value, size_t *ret_nlen,
			size_t *ret_vlen)
{
	uint64_t nlen = 0, vlen = 0;
	int r;

	r = transport_in_int(in, 1, &nlen);
	if (r == 0)
		r = transport_in_read(in, name, nlen);
	if (r == 0)
		r = transport_in_int(in, 4, &vlen);
	if (r < 0)
		return r;
	name[nlen] = '\0';
	*total += nlen + vlen;
	if (nlen == 0 || memchr(name, '\0', nlen) || vlen > TRANSPORT_MAX_XATTR_VALUE ||
	    *total > TRANSPORT_MAX_XATTR_TOTAL)
		return transport_damaged(in, "entry %llu has an invalid extended attribute",
					 (unsigned long long)entry);
	r = transport_in_read(in, value, vlen);
	if (r < 0)
		return r;
	*ret_nlen = nlen;
	*ret_vlen = vlen;
	return 0;
}

int transport_get_trailer(struct transport_in *in, uint64_t files, uint64_t bytes,
			  const struct transport_meta *m)
{
	uint8_t want[SHA256_SIZE], got[SHA256_SIZE];
	char want_hex[2 * SHA256_SIZE + 1], got_hex[2 * SHA256_SIZE + 1];
	uint64_t said_files, said_bytes;
	int r;

	snprintf(in->where, sizeof(in->where), "its trailer");
	r = transport_in_int(in, 8, &said_files);
	if (r == 0)
		r = transport_in_int(in, 8, &said_bytes);
	if (r < 0)
		return r;
	sha256_final(&in->hash, got);
	in->hashing = false;
	r = transport_in_read(in, want, sizeof(want));
	if (r < 0)
		return r;
	if (memcmp(want, got, SHA256_SIZE) != 0) {
		sha256_hex(want, want_hex);
		sha256_hex(got, got_hex);
		return transport_damaged(in, "its checksum does not match (expected %s, got %s)",
					 want_hex, got_hex);
	}
	if (said_files != files || said_bytes != bytes)
		return transport_damaged(
			in, "it holds %llu entries and %llu bytes, its trailer says %llu and %llu",
			(unsigned long long)files, (unsigned long long)bytes,
			(unsigned long long)said_files, (unsigned long long)said_bytes);
	if (m->files != files || m->bytes != bytes)
		return transport_damaged(
			in, "it holds %llu entries and %llu bytes, its header says %llu and %llu",
			(unsigned long long)files, (unsigned long long)bytes,
			(unsigned long long)m->files, (unsigned long long)m->bytes);
	r = in_at_end(in);
	if (r < 0)
		return r;
	return r ? 0 : transport_damaged(in, "it goes on after its trailer");
}

/* ---- header and info ---- */

int transport_read_meta(const char *file, struct transport_meta *ret, char *msg, size_t msglen)
{
	struct transport_meta m;
	struct transport_in in;
	int r;

	r = transport_in_open(&in, file, 16384, msg, msglen);
	if (r < 0)
		return r;
	r = transport_read_header(&in, &m);
	transport_in_close(&in);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

int transport_write_info_at(int dirfd, const char *label, const struct transport_meta *m,
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
	r = transport_write_all(fd, hdr, len);
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
	struct transport_in in;
	char *file;
	int r, fd;

	if (asprintf(&file, "%s/%s", label, INFO_NAME) < 0) {
		snprintf(msg, msglen, "cannot read '%s/%s': out of memory", label, INFO_NAME);
		return -ENOMEM;
	}
	fd = openat(dirfd, INFO_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", file, strerror(-r));
		free(file);
		return r;
	}
	r = in_start(&in, fd, file, HEADER_MAX_BYTES, msg, msglen);
	if (r < 0)
		goto out;
	r = transport_read_header(&in, &m);
	if (r == 0)
		r = in_at_end(&in);
	if (r == 0)
		r = transport_damaged(&in, "it holds bytes after its header");
	else if (r == 1)
		r = 0;
	if (r == 0)
		*ret = m;
out:
	transport_in_close(&in);
	free(file);
	return r;
}

/* Open the directory dir for the info file in it; a failure is named in msg. */
static int open_info_dir(const char *dir, char *msg, size_t msglen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		fd = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", dir, strerror(-fd));
	}
	return fd;
}

int transport_info_write(const char *dir, const struct transport_meta *m, char *msg,
			 size_t msglen)
{
	const char *problem = transport_meta_problem(m);
	int fd, r;

	if (problem) {
		snprintf(msg, msglen, "cannot write '%s/%s': %s", dir, INFO_NAME, problem);
		return -EINVAL;
	}
	fd = open_info_dir(dir, msg, msglen);
	if (fd < 0)
		return fd;
	r = transport_write_info_at(fd, dir, m, msg, msglen);
	(void)close(fd);
	return r;
}

int transport_info_read(const char *dir, struct transport_meta *ret, char *msg, size_t msglen)
{
	int fd, r;

	fd = open_info_dir(dir, msg, msglen);
	if (fd < 0)
		return fd;
	r = read_info_at(fd, dir, ret, msg, msglen);
	(void)close(fd);
	return r;
}

/* ---- the store ---- */

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

/* ---- what export and import share besides the format ---- */

int transport_open_dir_beneath(int base, const char *rel)
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

int transport_rename_new(int olddir, const char *oldname, int newdir, const char *newname)
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

void transport_proc_path(char *out, size_t size, int dirfd, const char *name)
{
	snprintf(out, size, "/proc/self/fd/%d/%s", dirfd, name);
}

void transport_report(transport_progress cb, void *ctx, uint64_t done, uint64_t total,
		      uint64_t *next)
{
	if (!cb || done < *next)
		return;
	cb(done, total, ctx);
	*next = done + TRANSPORT_PROGRESS_STEP;
}

void transport_close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}
