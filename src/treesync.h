/*
 * treesync: make a destination tree equal to a source tree through ordinary system calls, so
 * that when the destination is a snapfs mount every change goes through its copy-on-write
 * engine (what 'snapfs revert' and 'snapfs break' rely on). No FUSE here.
 *
 * Thread-safety: none is needed; each call uses only its own state.
 */
#ifndef SNAPFS_TREESYNC_H
#define SNAPFS_TREESYNC_H

#include <stddef.h>
#include <stdint.h>

enum {
	TREESYNC_DELETE = 1,    /* remove what the source lacks */
	TREESYNC_REPLACE = 2,   /* a dst whose kind (directory or not) differs from src's is
				   replaced; without it the call is refused */
	TREESYNC_WHOLE = 4,     /* dst is a whole file system tree: every name of its files is
				   synced, so a file with several links may be rewritten in place */
};

/* What a call did; each entry of the source counts once, each entry removed once. */
struct treesync_stats {
	uint64_t created;       /* entries made anew (a changed type counts here too) */
	uint64_t removed;       /* entries removed, each one of a removed directory included */
	uint64_t updated;       /* entries that existed and had their data or attributes changed */
	uint64_t unchanged;     /* entries that were equal already */
	uint64_t bytes_written; /* file data written */
	uint64_t skipped;       /* mount points in dst left alone (see treesync()) */
};

/* Files are compared and rewritten in blocks of this size. */
#define TREESYNC_BLOCK 65536

/*
 * Make dst (created if missing) equal to src: both are paths of a directory, or both of a
 * non-directory (one file); dst's parent must exist. Equal means the same names, types, file
 * bytes, symlink targets, device numbers, modes, owners, xattrs (user, security, trusted and
 * POSIX ACLs), and access and modification times. Regular files are compared in blocks of
 * TREESYNC_BLOCK and only the blocks that differ are rewritten; hard links among the source's
 * files are reproduced. Symlinks are never followed in either tree below src and dst.
 *
 * No mount point below src or dst is crossed (src and dst themselves may be mount points): a
 * mount point is an entry that is a mount's root, or a directory on another device than the
 * top. One in src is refused; one in dst that would be removed or replaced (or that lies
 * beneath an entry to be removed) is refused before anything of that entry is removed; one in
 * dst of the same kind as its source entry is left alone, with what is mounted there, and
 * counted in st->skipped. A refusal returns -EXDEV, its message naming the mount point.
 *
 * flags: TREESYNC_DELETE removes the entries of dst that src lacks (without it they stay);
 * TREESYNC_REPLACE lets a dst of the other kind be removed and made anew. A dst file with
 * several links is replaced by a file of its own (written beside it, then renamed over it)
 * unless TREESYNC_WHOLE says that dst holds every name of its files.
 * skip_top: NULL-terminated names ignored at the top level of both trees (when both are
 * directories), or NULL. st (may be NULL) receives the counts, also after a failure.
 *
 * Returns 0, or a negative errno with a message in msg naming the path and the cause
 * ("cannot write '/m/a/b': No space left on device"); dst is then partly synced.
 */
int treesync(const char *src, const char *dst, unsigned flags, const char *const *skip_top,
	     struct treesync_stats *st, char *msg, size_t msglen);

#endif
