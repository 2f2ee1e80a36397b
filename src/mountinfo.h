/* Read the kernel's mount table (/proc/self/mountinfo). */
#ifndef SNAPFS_MOUNTINFO_H
#define SNAPFS_MOUNTINFO_H

#include <stddef.h>

struct mountinfo_entry {
	char fstype[64];
	char source[4096];
};

/*
 * Find the topmost mount whose mount point is exactly path (absolute, canonical). Returns 0
 * and fills ret, -ENOENT when path is not a mount point, or another negative errno.
 */
int mountinfo_find(const char *path, struct mountinfo_entry *ret);

#endif
