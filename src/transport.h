/*
 * Transportable snapshot exports. An export is one self-contained file that holds one
 * snapshot's whole directory tree (every entry with its owner, mode, times and extended
 * attributes, and the data of regular files) and its metadata, checksummed with SHA-256, so
 * that it can be carried to another machine and imported there as a read-only "detached"
 * snapshot. The format is described atop transport_format.c and in docs/transport.md.
 *
 * The detached store is a directory (e.g. STATE/detached) holding one directory per imported
 * snapshot, named by its id: store/ID/tree (the files) and store/ID/info (the metadata).
 * Entries whose names start with '.' are not snapshots (an import in progress is
 * store/.import-XXXXXX).
 *
 * Errors are negative errno values with a message naming the file and the cause in msg. A
 * file that is not a well-formed export, is cut short or fails its checksum gives -EBADMSG;
 * an export of an unknown version -EPROTONOSUPPORT.
 *
 * Thread-safety: the functions share no state; calls on different files may run at once.
 */
#ifndef SNAPFS_TRANSPORT_H
#define SNAPFS_TRANSPORT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct transport_meta {
	char id[37], set_id[37], browse[64];
	int64_t created_ns;        /* UTC ns */
	char origin[PATH_MAX];     /* the volume's mount point where it was taken */
	char host[256];            /* the machine that exported it */
	uint64_t files, bytes;     /* entries and data bytes in the tree */
};

/*
 * Told how far an export or import is: done_bytes of total_bytes of file data. Called at most
 * once per 4 MiB of data and once at the end (done_bytes == total_bytes), on the caller's
 * thread.
 */
typedef void (*transport_progress)(uint64_t done_bytes, uint64_t total_bytes, void *ctx);

/*
 * Write the tree under dir (a directory, read-only is fine) with the metadata m to file, a new
 * file (mode 0600). m->id must be 1 to 36 letters, digits, '-' or '_'; m->files and m->bytes
 * are ignored: the export counts the tree itself (the entries under dir, hard links included,
 * and the bytes of regular files, each inode once). Symlinks are stored, never followed.
 * The file is written to a temporary name beside it, fsynced and renamed into place, so it
 * appears whole or not at all; nothing is left behind on failure. cb may be NULL.
 * Returns 0, -EEXIST when file exists, -EAGAIN when the tree changed while it was read,
 * -EINVAL for invalid metadata, or another negative errno (I/O, -E2BIG for an entry whose
 * extended attributes exceed the format's bounds).
 */
int transport_export(const char *dir, const struct transport_meta *m, const char *file,
		     transport_progress cb, void *ctx, char *msg, size_t msglen);

/*
 * Read and verify only the header of file (its own checksum; cheap, for listing). Fills ret
 * (files and bytes as the header says). -EBADMSG when file is not an export or its header is
 * damaged or cut short.
 */
int transport_read_meta(const char *file, struct transport_meta *ret, char *msg, size_t msglen);

/*
 * Verify the whole of file and extract it into store/ID (store is created when missing, its
 * parent is not): store/ID/tree and store/ID/info. Extraction goes to store/.import-XXXXXX and
 * is renamed to store/ID only after the checksum at the end matched; on any failure the
 * temporary directory is removed completely and store is left as it was. Owners, modes,
 * times, extended attributes and hard links are restored (owners other than the caller's need
 * root; an attribute or owner that cannot be restored fails the import). cb may be NULL.
 * Fills ret with the header's metadata on success. Returns 0, -EEXIST when store/ID exists,
 * -EBADMSG when file is damaged, altered or truncated, or another negative errno.
 */
int transport_import(const char *file, const char *store, struct transport_meta *ret,
		     transport_progress cb, void *ctx, char *msg, size_t msglen);

/* Write m as dir/info (dir is store/ID), replacing it atomically. */
int transport_info_write(const char *dir, const struct transport_meta *m, char *msg,
			 size_t msglen);

/* Read and verify dir/info into ret. -EBADMSG when it is damaged, -ENOENT when missing. */
int transport_info_read(const char *dir, struct transport_meta *ret, char *msg, size_t msglen);

/*
 * List the snapshots in store: every directory not starting with '.' whose info reads back
 * and names it, oldest first. *ret is an array the caller frees with free() (NULL when there
 * is none) and *n its length. A missing store has none. Returns 0 or a negative errno when the
 * store cannot be read.
 */
int transport_store_list(const char *store, struct transport_meta **ret, size_t *n, char *msg,
			 size_t msglen);

#endif
