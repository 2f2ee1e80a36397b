/*
 * The diff area: where preserved chunk pre-images live, as one sparse data file
 * (DIFFAREA_FILE) in a directory (SRC/.snapfs by default, or one given at the first mount).
 * Space is handed out by appending, in DIFFAREA_ALIGN units; released space is punched out
 * of the file (FALLOC_FL_PUNCH_HOLE), so the disk space returns while offsets stay unique.
 * The catalog's chunk rows are the only record of what is in use: at open the caller passes
 * the end of the last extent in use and the bytes in use, both derived from those rows.
 *
 * Ordering: data written with diffarea_write() is durable after diffarea_sync(); callers sync
 * before they commit the rows that point at it.
 *
 * Thread-safety: the caller serializes every call but diffarea_sync(), diffarea_read() and
 * diffarea_write(), which may run alongside the others: they only sync, read or write the
 * data file, at offsets the caller owns.
 */
#ifndef SNAPFS_DIFFAREA_H
#define SNAPFS_DIFFAREA_H

#include <stdint.h>
#include <stddef.h>

#include "io.h"

#define DIFFAREA_FILE "diff.dat"
#define DIFFAREA_ALIGN 4096u

struct diffarea;

/*
 * Open (creating it when missing) the data file in the directory dirfd. next is where the
 * next extent goes and used the bytes in use (both from the catalog; 0 for a new volume).
 * io may be NULL for the real system calls. On failure, a reason naming the file goes into msg.
 */
int diffarea_open(int dirfd, const struct snap_io *io, uint64_t next, uint64_t used,
		  struct diffarea **ret_da, char *msg, size_t msglen);
void diffarea_close(struct diffarea *da);

/* Bound the bytes in use (0: unbounded). */
void diffarea_set_limit(struct diffarea *da, uint64_t maxsize);

/* The bound on the bytes in use (0: unbounded). */
uint64_t diffarea_limit(const struct diffarea *da);

/* Allocate the first bytes of the data file ahead of use (MinDiffAreaFileSize). */
int diffarea_preallocate(struct diffarea *da, uint64_t bytes);

/* Bytes in use (whole DIFFAREA_ALIGN units). */
uint64_t diffarea_used(const struct diffarea *da);

/*
 * Hand out room for len bytes. -ENOSPC when that would take the bytes in use past the limit:
 * the caller then frees space (deletes the oldest snapshots) and asks again.
 */
int diffarea_reserve(struct diffarea *da, uint32_t len, uint64_t *ret_off);

/* Write len bytes at off (inside a reserved extent); 0 or a negative errno. */
int diffarea_write(struct diffarea *da, uint64_t off, const void *buf, size_t len);

/* Read len bytes at off; returns the count read or a negative errno. */
ssize_t diffarea_read(struct diffarea *da, uint64_t off, void *buf, size_t len);

/* Make every write so far durable. */
int diffarea_sync(struct diffarea *da);

/* Give back an extent of len bytes at off: its disk space is freed. */
int diffarea_release(struct diffarea *da, uint64_t off, uint32_t len);

#endif
