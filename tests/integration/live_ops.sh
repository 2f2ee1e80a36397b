#!/bin/bash
# The live view, beyond what the conformance battery compares: the hidden state directory,
# O_DIRECT, open-but-unlinked files, shared mappings, concurrent writers, reuse of inode
# numbers, daemon mode, and SRC staying an ordinary directory across unmount and remount.
# Runs once with the writeback cache (default) and once without.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse
: "${FSPROBE:?FSPROBE must point at the fsprobe binary}"

# try OP PATH [PATH2] -> OK or the errno name
try() {
	"$FSPROBE" try "$@"
}

run_suite() {
	local mode=$1 src=$T/src-$1 mnt=$T/mnt-$1
	shift
	echo "== $mode"
	sfs_mount "$src" "$mnt" "$@"

	# SRC/.snapfs is snapfs's own and unreachable through MNT
	check "$mode: state directory exists in SRC" test -d "$src/.snapfs"
	expect_eq "$mode: state directory absent from listing" "" \
		"$(ls -a "$mnt" | grep -x '.snapfs' || true)"
	expect_eq "$mode: stat .snapfs" ENOENT "$(try stat "$mnt/.snapfs")"
	expect_eq "$mode: open .snapfs/lock" ENOENT "$(try open "$mnt/.snapfs/lock")"
	expect_eq "$mode: mkdir .snapfs" EPERM "$(try mkdir "$mnt/.snapfs")"
	expect_eq "$mode: create .snapfs" EPERM "$(try create "$mnt/.snapfs")"
	expect_eq "$mode: symlink named .snapfs" EPERM "$(try symlink x "$mnt/.snapfs")"
	touch "$mnt/plain"
	expect_eq "$mode: rename onto .snapfs" EPERM "$(try rename "$mnt/plain" "$mnt/.snapfs")"
	expect_eq "$mode: link as .snapfs" EPERM "$(try link "$mnt/plain" "$mnt/.snapfs")"
	expect_eq "$mode: rename .snapfs away" ENOENT "$(try rename "$mnt/.snapfs" "$mnt/x")"
	expect_eq "$mode: rmdir .snapfs" ENOENT "$(try rmdir "$mnt/.snapfs")"
	expect_eq "$mode: unlink .snapfs" ENOENT "$(try unlink "$mnt/.snapfs")"
	check "$mode: state directory untouched" test -f "$src/.snapfs/lock"
	mkdir "$mnt/sub"
	expect_eq "$mode: .snapfs below the root is an ordinary name" OK \
		"$(try mkdir "$mnt/sub/.snapfs")"
	check "$mode: ... and lands in SRC" test -d "$src/sub/.snapfs"

	# O_DIRECT: a plain pass-through fails these with EINVAL
	check "$mode: O_DIRECT writes and reads" "$FSPROBE" direct "$mnt/direct" 256
	check "$mode: O_DIRECT data in SRC" cmp -s "$mnt/direct" "$src/direct"
	check "$mode: dd oflag=direct" dd if=/dev/urandom of="$mnt/dd" bs=64k count=16 \
		oflag=direct status=none

	check "$mode: open-but-unlinked file keeps working" "$FSPROBE" unlinked "$mnt/gone"
	check "$mode: shared writable mapping" "$FSPROBE" mmap "$mnt/mapped"
	check "$mode: mapped data in SRC" cmp -s "$mnt/mapped" "$src/mapped"

	# a large file, written and read back whole
	head -c 32M /dev/urandom >"$T/big-$mode"
	cp "$T/big-$mode" "$mnt/big"
	check "$mode: 32 MiB file reads back" cmp -s "$T/big-$mode" "$mnt/big"
	check "$mode: 32 MiB file in SRC" cmp -s "$T/big-$mode" "$src/big"

	# four writers on disjoint quarters of one file
	local i writers=()
	for i in 0 1 2 3; do
		dd if="$T/big-$mode" of="$mnt/shared" bs=1M skip=$((i * 8)) seek=$((i * 8)) count=8 \
			conv=notrunc status=none &
		writers+=($!)
	done
	wait "${writers[@]}"
	check "$mode: concurrent writers" cmp -s "$T/big-$mode" "$mnt/shared"

	# inode numbers reused right after an unlink must not reach the old file
	local bad=0
	for i in $(seq 300); do
		echo "old $i" >"$mnt/reuse-a"
		rm "$mnt/reuse-a"
		echo "new $i" >"$mnt/reuse-b"
		[ "$(cat "$mnt/reuse-b")" == "new $i" ] || bad=$((bad + 1))
		rm "$mnt/reuse-b"
	done
	expect_eq "$mode: files on reused inode numbers read their own bytes" 0 "$bad"

	# statfs is the backing filesystem's
	expect_eq "$mode: statfs block size and name length" "$(stat -f -c '%S %l' "$src")" \
		"$(stat -f -c '%S %l' "$mnt")"

	sfs_umount "$mnt"
	check "$mode: SRC keeps every file after umount" cmp -s "$T/big-$mode" "$src/shared"
	expect_eq "$mode: SRC lists the files after umount" \
		"big dd direct mapped plain shared sub" "$(ls "$src" | tr '\n' ' ' | sed 's/ $//')"
}

run_suite writeback
run_suite nowriteback -o no_writeback

# Filesystems mounted under SRC (here 40 tmpfs, more than any fixed table would hold) are
# served through the mount like everything else.
mkdir -p "$T/nsrc" "$T/nmnt"
for i in $(seq 40); do
	mkdir "$T/nsrc/t$i"
	_mounts+=("$T/nsrc/t$i")
	mount -t tmpfs -o size=1m tmpfs "$T/nsrc/t$i"
	echo "inner $i" >"$T/nsrc/t$i/f"
done
sfs_mount "$T/nsrc" "$T/nmnt" -o max_fds=16
expect_eq "listing a root with 40 mounted filesystems" 40 "$(ls "$T/nmnt" | wc -l)"
bad=0
for i in $(seq 40); do
	[ "$(cat "$T/nmnt/t$i/f")" == "inner $i" ] || bad=$((bad + 1))
	echo "written $i" >"$T/nmnt/t$i/g" || bad=$((bad + 1))
done
expect_eq "files on mounted filesystems read and written through the mount" 0 "$bad"
expect_eq "writes land on the inner filesystem" "written 7" "$(cat "$T/nsrc/t7/g")"

# A process whose working directory is removed still sees it (empty, no links), even after
# its descriptor would have been evicted.
cwd_view() {
	(cd "$1/gone" && rmdir ../gone && for i in $(seq 40); do : >"$1/e$i"; stat "$1/e$i" \
		>/dev/null; done && stat -c '%h %F' . && ls -a | tr '\n' ' ') 2>&1
}
mkdir -p "$T/plaincwd/gone" "$T/nmnt/cwd/gone"
expect_eq "removed working directory, as on the backing filesystem" \
	"$(cwd_view "$T/plaincwd")" "$(cwd_view "$T/nmnt/cwd")"
sfs_umount "$T/nmnt"
for i in $(seq 40); do
	umount "$T/nsrc/t$i"
done

# Daemon mode: 'snapfs mount' returns once the mount is up; umount waits for the daemon.
mkdir -p "$T/dsrc" "$T/dmnt"
echo first >"$T/dsrc/f"
_mounts+=("$T/dmnt")
check "daemon mode: mount returns 0" "$SNAPFS" mount "$T/dsrc" "$T/dmnt"
check "daemon mode: mounted when mount returns" mountpoint -q "$T/dmnt"
echo second >>"$T/dmnt/f"
pid=$(cut -d' ' -f1 "$T/dsrc/.snapfs/lock")
check "daemon mode: lock file names a live pid" kill -0 "$pid"
check "daemon mode: umount" "$SNAPFS" umount "$T/dmnt"
# the daemon has released the volume when umount returns; its exit follows at once
check "daemon mode: daemon gone after umount" bash -c \
	"for i in \$(seq 50); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
expect_eq "daemon mode: data in SRC" "first second" "$(cat "$T/dsrc/f" | tr '\n' ' ' | sed 's/ $//')"

# Remount: the same SRC serves the same tree again
sfs_mount "$T/dsrc" "$T/dmnt"
expect_eq "remount shows the same data" "first second" \
	"$(cat "$T/dmnt/f" | tr '\n' ' ' | sed 's/ $//')"
sfs_umount "$T/dmnt"

finish
