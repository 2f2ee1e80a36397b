/*
 * provider_btrfs.c: the offload provider. Where SRC is the root of a btrfs subvolume, btrfs
 * makes the snapshot itself (BTRFS_IOC_SNAP_CREATE_V2, read-only): the way a VSS hardware
 * provider hands the work to the array. btrfs writes new data to new extents, so its method is
 * redirect-on-write.
 *
 * - The snapshot subvolumes live in SRC/.snapfs/trees/<id>: they must be on SRC's btrfs.
 *   Subvolumes nested in SRC (these among them) are not part of a btrfs snapshot, so a
 *   snapshot does not hold the older ones.
 * - The journal stays off: writes are never slowed, and nothing goes to the diff area.
 * - The subvolume is made with the write gate closed, after syncfs, and recorded in the catalog
 *   after it: a subvolume left without a row by a crash is removed at the next open.
 * - Auto-recovery: a snapshot of a set may be made writable and sealed (read-only) once its
 *   writers have repaired their files in it; every subvolume is sealed again at each open, so
 *   a crash during the repairs leaves no writable snapshot.
 * - Space is btrfs's: setting maxsize is refused (btrfs quota groups bound it), and list
 *   shadows shows 0 bytes for these snapshots, whose extents are shared with the live tree.
 */
#include "provider.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* A subvolume's root directory has this inode number on btrfs. */
#define BTRFS_SUBVOL_ROOT_INO 256

static const char *fs_name(long type)
{
	switch (type) {
	case 0xEF53: return "ext4";
	case 0x58465342: return "xfs";
	case 0x01021994: return "tmpfs";
	case 0x65735546: return "fuse";
	case 0x794c7630: return "overlayfs";
	case 0x2fc12fc1: return "zfs";
	default: return NULL;
	}
}

static int btrfs_probe(int src_fd, char *why, size_t len)
{
	struct statfs sf;
	struct stat st;

	if (fstatfs(src_fd, &sf) < 0 || fstat(src_fd, &st) < 0) {
		snprintf(why, len, "cannot look at SRC: %s", strerror(errno));
		return -errno;
	}
	if ((unsigned long)sf.f_type != (unsigned long)BTRFS_SUPER_MAGIC) {
		const char *fs = fs_name((long)sf.f_type);

		if (fs)
			snprintf(why, len, "SRC is on %s, not btrfs", fs);
		else
			snprintf(why, len, "SRC is not on btrfs (filesystem type 0x%lx)",
				 (unsigned long)sf.f_type);
		return -EOPNOTSUPP;
	}
	if (st.st_ino != BTRFS_SUBVOL_ROOT_INO) {
		snprintf(why, len, "SRC is a directory on btrfs, not a subvolume (btrfs subvolume "
			 "create makes one)");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int btrfs_tree_make(int src_fd, int trees_fd, const char *name, bool writable)
{
	struct btrfs_ioctl_vol_args_v2 args;
	int src = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dir = openat(trees_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	memset(&args, 0, sizeof(args));
	args.fd = src;
	args.flags = writable ? 0 : BTRFS_SUBVOL_RDONLY;
	snprintf(args.name, sizeof(args.name), "%s", name);
	if (src < 0 || dir < 0 || ioctl(dir, BTRFS_IOC_SNAP_CREATE_V2, &args) < 0)
		r = -errno;
	if (src >= 0)
		(void)close(src);
	if (dir >= 0)
		(void)close(dir);
	return r;
}

static int btrfs_tree_seal(int trees_fd, const char *name)
{
	int fd = openat(trees_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r = 0;
	uint64_t flags;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0) {
		r = -errno;
	} else if (!(flags & BTRFS_SUBVOL_RDONLY)) {
		flags |= BTRFS_SUBVOL_RDONLY;
		if (ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags) < 0)
			r = -errno;
	}
	(void)close(fd);
	return r;
}

static int btrfs_tree_remove(int trees_fd, const char *name)
{
	struct btrfs_ioctl_vol_args args;
	int dir = openat(trees_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (dir < 0)
		return -errno;
	memset(&args, 0, sizeof(args));
	snprintf(args.name, sizeof(args.name), "%s", name);
	if (ioctl(dir, BTRFS_IOC_SNAP_DESTROY, &args) < 0) {
		r = -errno;
		if (r == -ENOENT)
			r = 0;
		else if (r == -EINVAL || r == -ENOTDIR) /* not a subvolume: left by other means */
			r = tree_remove_all(trees_fd, name);
	}
	(void)close(dir);
	return r;
}

const struct provider provider_btrfs = {
	.name = "btrfs",
	.method = "row",
	.summary = "offloaded to btrfs: a read-only subvolume snapshot of SRC",
	.offload = true,
	.trees = true,
	.probe = btrfs_probe,
	.tree_make = btrfs_tree_make,
	.tree_seal = btrfs_tree_seal,
	.tree_remove = btrfs_tree_remove,
};
