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

/*
 * One line of the mount table as mountinfo_each() passes it: the mount point and the source
 * unescaped, the type as the kernel spells it ("" when the line has none). The strings are
 * borrowed and stay valid during the call only.
 */
struct mountinfo_mount {
	const char *mountpoint;
	const char *fstype;
	const char *source;
};

/*
 * Call fn(m, ctx) for each mount whose type is fstype (each mount when fstype is NULL), in the
 * table's order (a mount comes after the one it covers), until fn returns non-zero. Returns
 * that value, 0 when fn returned 0 for every mount, or a negative errno when the table cannot
 * be read. fn may read the table itself (mountinfo_find() included).
 */
int mountinfo_each(const char *fstype, int (*fn)(const struct mountinfo_mount *m, void *ctx),
		   void *ctx);

#endif
