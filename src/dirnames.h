/*
 * dirnames.h: the names in a directory, read whole and sorted: what treesync and the export's
 * walk both go through in a stable order, whatever the filesystem's.
 */
#ifndef SNAPFS_DIRNAMES_H
#define SNAPFS_DIRNAMES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The names in the directory dirfd (borrowed; its offset is left alone, the listing reads a
 * descriptor of its own), without "." and "..", sorted by strcmp, in *ret (freed with
 * dirnames_free()). Returns 0 or a negative errno.
 */
int dirnames_read(int dirfd, char ***ret, size_t *ret_n);
void dirnames_free(char **names, size_t n);

/* Whether the sorted names hold name. */
bool dirnames_has(char **names, size_t n, const char *name);

#endif
