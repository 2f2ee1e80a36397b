#!/bin/bash
# A tree of 100,000 files (SNAPFS_SCALE_FILES overrides) served without a descriptor per inode:
# the daemon's open descriptors stay within its bound while the kernel holds every inode, and
# every file reads back its own bytes, also with a tiny descriptor cache that forces reopening
# by file handle all the time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse
: "${FSPROBE:?FSPROBE must point at the fsprobe binary}"

n=${SNAPFS_SCALE_FILES:-100000}

fd_count() {
	ls "/proc/$1/fd" | wc -l
}

sfs_mount "$T/src" "$T/mnt"
check "create $n files through the mount" "$FSPROBE" mktree "$T/mnt" "$n"
# 'find' and 'stat' keep every inode referenced by the kernel's caches
expect_eq "all $n files listed" "$n" "$(find "$T/mnt" -type f | wc -l)"
check "read back $n files" "$FSPROBE" checktree "$T/mnt" "$n"
limit=$(awk '/Max open files/ {print $5}' "/proc/$SFS_PID/limits")
fds=$(fd_count "$SFS_PID")
echo "daemon descriptors: $fds (hard limit $limit)"
check "descriptors bounded by a quarter of the hard limit ($fds <= $((limit / 4 + 64)))" \
	test "$fds" -le $((limit / 4 + 64))
sfs_umount "$T/mnt"

sfs_mount "$T/src" "$T/mnt" -o max_fds=64
check "read back $n files with 64 cached descriptors" "$FSPROBE" checktree "$T/mnt" "$n"
fds=$(fd_count "$SFS_PID")
echo "daemon descriptors with max_fds=64: $fds"
check "descriptors bounded ($fds <= 128)" test "$fds" -le 128
rm -rf "$T/mnt/d000"
expect_eq "files left after removing one directory" $((n - 1000)) \
	"$(find "$T/mnt" -type f | wc -l)"
sfs_umount "$T/mnt"
expect_eq "SRC holds the same files" $((n - 1000)) "$(find "$T/src" -path "$T/src/.snapfs" \
	-prune -o -type f -print | wc -l)"

finish
