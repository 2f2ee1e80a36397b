#!/bin/bash
# Bad input to 'snapfs mount' and 'snapfs umount': each is refused with one line naming the
# path and the cause, a non-zero exit, and nothing changed (no state directory, no mount).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse

no_state() {
	[ ! -e "$1/.snapfs" ] || fail "$1/.snapfs was created"
}

mkdir -p "$T/src" "$T/mnt" "$T/src/sub"
echo data >"$T/src/file"

refused "missing SRC" "'$T/nope'.*No such file or directory" mount "$T/nope" "$T/mnt"
refused "missing MNT" "mount point '$T/nope'.*No such file or directory" \
	mount "$T/src" "$T/nope"
refused "SRC is a file" "'$T/src/file'.*Not a directory" mount "$T/src/file" "$T/mnt"
refused "MNT inside SRC" "mount point '$T/src/sub' lies inside source '$T/src'" \
	mount "$T/src" "$T/src/sub"
refused "SRC inside MNT" "source '$T/src/sub' lies inside mount point '$T/src'" \
	mount "$T/src/sub" "$T/src"
refused "SRC equals MNT" "lies inside" mount "$T/src" "$T/src"
refused "no SRC and MNT" "expected SRC and MNT" mount
refused "unknown flag" "unknown option '-x'" mount -x "$T/src" "$T/mnt"
refused "bad snapfs option value" "bad option 'timeout=abc'" \
	mount -o timeout=abc "$T/src" "$T/mnt"
refused "fsname is snapfs's" "option 'fsname=x' is set by snapfs itself" \
	mount -o fsname=x "$T/src" "$T/mnt"
refused "bad timeout" "bad option 'timeout=nan'" mount -o timeout=nan "$T/src" "$T/mnt"
refused "unknown FUSE option" "unknown option.*bogus" mount -o bogus "$T/src" "$T/mnt"
no_state "$T/src"
no_state "$T/src/sub"
check "MNT not mounted after refusals" bash -c "! mountpoint -q '$T/mnt'"

# A SRC where the state directory cannot be created: a read-only filesystem.
mkdir -p "$T/ro"
_mounts+=("$T/ro")
mount -t tmpfs -o size=1m tmpfs "$T/ro"
mkdir "$T/ro/src"
mount -o remount,ro "$T/ro"
refused "read-only SRC" "cannot create state directory '$T/ro/src/.snapfs': Read-only file system" \
	mount "$T/ro/src" "$T/mnt"
check "MNT not mounted after read-only SRC" bash -c "! mountpoint -q '$T/mnt'"
umount "$T/ro"

# An already-mounted MNT, and a SRC already served elsewhere.
sfs_mount "$T/src" "$T/mnt"
mkdir -p "$T/src2" "$T/mnt2"
refused "MNT already mounted" "mount point '$T/mnt' is already mounted \(fuse.snapfs" \
	mount "$T/src2" "$T/mnt"
no_state "$T/src2"
refused "SRC already served" "source '$T/src' is already served by snapfs .*$T/mnt" \
	mount "$T/src" "$T/mnt2"
check "second MNT not mounted" bash -c "! mountpoint -q '$T/mnt2'"
expect_eq "first mount still serves SRC" "data" "$(cat "$T/mnt/file")"

# umount refusals
refused "umount of a plain directory" "'$T/mnt2' is not a snapfs mount" umount "$T/mnt2"
refused "umount of a missing path" "'$T/nope'.*No such file or directory" umount "$T/nope"
refused "umount without argument" "expected one mount point" umount
refused "unknown command" "unknown command 'frobnicate'" frobnicate

sfs_umount "$T/mnt"
check "umount leaves MNT unmounted" bash -c "! mountpoint -q '$T/mnt'"
check "daemon exited after umount" bash -c \
	"for i in \$(seq 50); do kill -0 $SFS_PID 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
expect_eq "SRC is an ordinary directory after umount" "data" "$(cat "$T/src/file")"

# Paths with spaces survive the mount table's escaping.
mkdir -p "$T/src with space" "$T/mnt with space"
sfs_mount "$T/src with space" "$T/mnt with space"
echo spaced >"$T/mnt with space/f"
sfs_umount "$T/mnt with space"
expect_eq "mount and umount of paths with spaces" "spaced" "$(cat "$T/src with space/f")"

finish
