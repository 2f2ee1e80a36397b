/*
 * transport_int.h: what the export module's three files share. transport_format.c owns the
 * format (it describes it in full) and implements everything declared here;
 * transport_export.c walks a tree into an export; transport_import.c verifies and extracts
 * one. Nothing outside src/transport_*.c includes it.
 */
#ifndef SNAPFS_TRANSPORT_INT_H
#define SNAPFS_TRANSPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "sha256.h"
#include "transport.h"

/* Bounds of the format, checked on both sides. */
#define TRANSPORT_MAX_XATTRS 4096               /* per entry */
#define TRANSPORT_MAX_XATTR_NAME 255
#define TRANSPORT_MAX_XATTR_VALUE 65536
#define TRANSPORT_MAX_XATTR_TOTAL (16u << 20)   /* names and values of one entry */

#define TRANSPORT_BUF_SIZE (1u << 20)           /* file data moves in pieces of this */
#define TRANSPORT_PROGRESS_STEP (4u << 20)

/* ---- record layout helpers ---- */

/* Store v in width bytes at p, little-endian. */
static inline void transport_put_le(uint8_t *p, uint64_t v, unsigned width)
{
	unsigned i;

	for (i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The little-endian integer of width bytes at p. */
static inline uint64_t transport_get_le(const uint8_t *p, unsigned width)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The record type of a file of mode (its S_IFMT bits), or 0 when the format has none. */
char transport_type_of(mode_t mode);

/* The S_IFMT bits of record type (not 'h'), or 0 when it is none. */
mode_t transport_kind_of(int type);

/* Whether type is a record type, the hard link 'h' included. */
bool transport_is_entry_type(uint64_t type);

/* Whether path (len bytes) is relative, with no NUL and no empty, '.' or '..' component. */
bool transport_is_valid_path(const char *path, size_t len);

/* What is wrong with m for the format, or NULL when nothing is. */
const char *transport_meta_problem(const struct transport_meta *m);

/* ---- the buffered, checksummed writer ---- */

struct transport_out {
	int fd;
	const char *file;       /* for messages */
	uint8_t *buf;           /* TRANSPORT_BUF_SIZE */
	size_t used;
	bool hashing;
	struct sha256 hash;
	int err;                /* the first error; later writes do nothing */
	char *msg;
	size_t msglen;
};

/* Write all n bytes to fd, retrying on EINTR. */
int transport_write_all(int fd, const void *p, size_t n);

/* Write out what is buffered; an error is named in o->msg and sticks in o->err. */
int transport_out_flush(struct transport_out *o);

/* Append n bytes (hashed unless hashing was turned off); an error sticks in o->err. */
void transport_out_put(struct transport_out *o, const void *p, size_t n);
void transport_out_int(struct transport_out *o, uint64_t v, unsigned width);
void transport_out_str(struct transport_out *o, const char *s, size_t n);

/* Magic, version, header (m with files and bytes) and hsum; m passed meta_problem(). */
void transport_put_header(struct transport_out *o, const struct transport_meta *m,
			  uint64_t files, uint64_t bytes);

/*
 * The start of a record of type (not 'h') for path: type, path, mode, owner and times from st,
 * and a device's number. The caller writes the rest: a symlink's target, a file's size and
 * data, the extended attributes.
 */
void transport_put_entry(struct transport_out *o, char type, const char *path,
			 const struct stat *st);

/* A hard link record: path is another name of the earlier entry first. */
void transport_put_hardlink(struct transport_out *o, const char *path, const char *first);

/* One extended attribute of a record, after their count (u32). */
void transport_put_xattr(struct transport_out *o, const char *name, size_t nlen,
			 const void *value, size_t vlen);

/* The trailer: its counts, then the checksum of everything before it (not hashed). */
void transport_put_trailer(struct transport_out *o, uint64_t files, uint64_t bytes);

/* ---- the buffered, checksummed reader ---- */

struct transport_in {
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

/* Open file to read it, hashed, through a buffer of size bytes; transport_in_close() ends it. */
int transport_in_open(struct transport_in *in, const char *file, size_t size, char *msg,
		      size_t msglen);
void transport_in_close(struct transport_in *in);

/*
 * Consume up to max (> 0) of the next bytes: *ret points at them in the buffer (valid until
 * the next call) and *ret_n says how many, at least 1. The end of the file is truncation.
 */
int transport_in_next(struct transport_in *in, size_t max, const uint8_t **ret, size_t *ret_n);

/* Copy the next n bytes to out, or the integer of width bytes to *v; the end is truncation. */
int transport_in_read(struct transport_in *in, void *out, size_t n);
int transport_in_int(struct transport_in *in, unsigned width, uint64_t *v);

/* Copy s into out for a message, control characters shown as '?', cut to size. */
void transport_printable(char *out, size_t size, const char *s);

/* Say that in's file is damaged, why (fmt), in in->msg; returns -EBADMSG. */
__attribute__((format(printf, 2, 3)))
int transport_damaged(struct transport_in *in, const char *fmt, ...);

/*
 * Read and verify magic, version, header and hsum from in into ret. Its bytes stay in
 * in->hash like any others.
 */
int transport_read_header(struct transport_in *in, struct transport_meta *ret);

/* An entry's owner, mode and times, and a device's number. */
struct transport_attrs {
	uint32_t mode, uid, gid;
	struct timespec times[2];       /* atime, mtime */
	dev_t rdev;                     /* 'c' and 'b' only */
};

/*
 * Read a str16 of less than PATH_MAX bytes with no NUL into out (PATH_MAX bytes); what names
 * it, and entry the record, in messages.
 */
int transport_get_str(struct transport_in *in, uint64_t entry, char *out, const char *what,
		      size_t *ret_len);

/*
 * Read what follows the path in a record of type (not 'h'): mode, owner and times, and a
 * device's number, into a. The caller reads the rest, as transport_put_entry() says.
 */
int transport_get_attrs(struct transport_in *in, uint64_t entry, int type,
			struct transport_attrs *a);

/* Read the count of an entry's extended attributes. */
int transport_get_xattr_count(struct transport_in *in, uint64_t entry, uint64_t *ret);

/*
 * Read one extended attribute of an entry: its name into name (NUL-terminated), its value into
 * value (TRANSPORT_MAX_XATTR_VALUE bytes), and their lengths; *total adds up the entry's.
 */
int transport_get_xattr(struct transport_in *in, uint64_t entry, uint64_t *total,
			char name[TRANSPORT_MAX_XATTR_NAME + 1], uint8_t *value, size_t *ret_nlen,
			size_t *ret_vlen);

/*
 * Read the trailer, its 'E' read already, and check it against what the records held (files
 * and bytes) and the header (m); nothing may follow it.
 */
int transport_get_trailer(struct transport_in *in, uint64_t files, uint64_t bytes,
			  const struct transport_meta *m);

/* ---- the store ---- */

/* Write m as dirfd/info through a temporary name; label names dirfd in messages. */
int transport_write_info_at(int dirfd, const char *label, const struct transport_meta *m,
			    char *msg, size_t msglen);

/* ---- what export and import share besides the format ---- */

/*
 * Open the directory at rel (relative, '/'-separated; "" is base itself) under base, one
 * component at a time with O_NOFOLLOW, so that no symlink is followed and no path length
 * limit applies. Returns the new descriptor or a negative errno.
 */
int transport_open_dir_beneath(int base, const char *rel);

/* Rename oldname to newname, refusing (-EEXIST) to replace anything there. */
int transport_rename_new(int olddir, const char *oldname, int newdir, const char *newname);

/* The /proc/self/fd path that names name in the directory dirfd without following it. */
void transport_proc_path(char *out, size_t size, int dirfd, const char *name);

/* Tell cb of done bytes of total when *next is reached, and move *next on. */
void transport_report(transport_progress cb, void *ctx, uint64_t done, uint64_t total,
		      uint64_t *next);

/* Close *fd when it is open, and make it -1. */
void transport_close_fd(int *fd);

#endif
