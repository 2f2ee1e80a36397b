#!/bin/bash
# 'snapfs revert' and 'snapfs break' end to end: a volume reverted to a snapshot, whole, by
# subtree and by file, equals that snapshot's tree (names, types, bytes, modes, owners, times,
# xattrs, links); the state before is kept as a new snapshot and the newer snapshots stay; the
# diff area grows by the changed blocks only; refusals change nothing; a file system mounted
# inside the volume is never crossed; a file reverted by PATH whose inode has names outside
# PATH gets an inode of its own. A snapshot broken off its volume becomes a writable
# directory, or a detached snapshot exposed read-only; a break that runs out of memory while
# counting the copy's files undoes itself without a leak.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse

src=$T/src
mnt=$T/mnt
mkdir -p "$src"
sfs_mount "$src" "$mnt"

# manifest DIR: every entry below DIR (its .snapshots aside) with type, mode, owner, size,
# mtime, target and (but for directories, whose count depends on the file system) link count,
# then the files' checksums, then their user and trusted xattrs
manifest() {
	(
		cd "$1"
		{
			find . -path ./.snapshots -prune -o -type d \
				-printf '%p\t%y\t%m\t%U:%G\t%T@\n'
			find . -path ./.snapshots -prune -o ! -type d \
				-printf '%p\t%y\t%m\t%U:%G\t%s\t%T@\t%l\t%n\n'
		} | LC_ALL=C sort
		find . -path ./.snapshots -prune -o -type f -print0 | LC_ALL=C sort -z |
			xargs -0 -r md5sum
		find . -path ./.snapshots -prune -o -print0 | LC_ALL=C sort -z |
			xargs -0 -r getfattr -h -d -m '^(user|trusted)\.' 2>/dev/null
	)
}

# same_tree DESCRIPTION A B: A and B hold the same tree (diff -r, and their manifests)
same_tree() {
	if diff -r --no-dereference -x .snapshots "$2" "$3" >"$T/diff" 2>&1 &&
		diff <(manifest "$2") <(manifest "$3") >>"$T/diff"; then
		pass "$1"
	else
		fail "$1: $(head -20 "$T/diff")"
	fi
}

# same_manifest DESCRIPTION FILE DIR: DIR's manifest is the one saved in FILE
same_manifest() {
	if diff "$2" <(manifest "$3") >"$T/diff"; then
		pass "$1"
	else
		fail "$1: $(head -20 "$T/diff")"
	fi
}

# quiet_help CMD: 'snapfs CMD --help' prints its usage
quiet_help() {
	"$SNAPFS" "$1" --help | grep -q "^usage: snapfs $1 "
}

ids() {
	"$SNAPFS" list shadows -H "$mnt" | cut -f1 | xargs
}

# the diff area's data, in bytes
diff_area_bytes() {
	du -s --block-size=1 "$src/.snapfs" | cut -f1
}

echo "== a volume and its first snapshot"
mkdir -p "$mnt/docs/sub" "$mnt/gone/deep" "$mnt/keep"
head -c 8M /dev/urandom >"$mnt/big"
echo hello >"$mnt/docs/a.txt"
echo sub >"$mnt/docs/sub/b.txt"
echo deep >"$mnt/gone/deep/c.txt"
echo untouched >"$mnt/keep/u.txt"
ln -s docs/a.txt "$mnt/link"
ln "$mnt/docs/sub/b.txt" "$mnt/keep/hard"
setfattr -n user.color -v blue "$mnt/docs/a.txt"
setfattr -n trusted.t -v 1 "$mnt/docs"
chmod 640 "$mnt/docs/a.txt"
chmod 750 "$mnt/docs/sub"
chmod 4755 "$mnt/keep/u.txt"
chown 1234:5678 "$mnt/gone/deep/c.txt"
touch -d '2020-01-02 03:04:05.5' "$mnt/docs/a.txt" "$mnt/gone/deep"
s1=$("$SNAPFS" create -H "$mnt" | cut -f1)
snap1=$mnt/.snapshots/$s1
manifest "$snap1" >"$T/m1"

echo "== changes, and a second snapshot"
dd if=/dev/urandom of="$mnt/big" bs=4096 seek=768 count=1 conv=notrunc status=none
rm -rf "$mnt/gone"
echo new >"$mnt/new.txt"
mkdir "$mnt/newdir"
head -c 100000 /dev/urandom >"$mnt/newdir/n.bin"
chmod 600 "$mnt/docs/sub/b.txt"
mv "$mnt/docs/a.txt" "$mnt/docs/renamed.txt"
setfattr -n user.color -v red "$mnt/docs/renamed.txt"
setfattr -x trusted.t "$mnt/docs"
rm "$mnt/link"
mkdir "$mnt/link"
s2=$("$SNAPFS" create -H "$mnt" | cut -f1)
# (the snapshot's view, not the live one: with the kernel's writeback cache, a live mtime may
# differ from the one the daemon gave the file by a fraction of a second)
manifest "$mnt/.snapshots/$s2" >"$T/m2"
before=$(diff_area_bytes)

echo "== revert the whole volume"
"$SNAPFS" revert "$s1" >"$T/out"
cat "$T/out"
kept=$(sed -n 's/^kept the state before the revert as snapshot //p' "$T/out")
check "revert names the snapshot it kept" grep -qE '^[0-9a-f-]{36}$' <<<"$kept"
check "revert prints a summary" grep -qE "^reverted '$mnt' to snapshot $s1: [0-9]+ created, [0-9]+ removed, [0-9]+ updated, [0-9]+ unchanged, [0-9]+ bytes written$" "$T/out"
same_tree "the live tree equals the snapshot's" "$snap1" "$mnt"
same_manifest "... and its manifest" "$T/m1" "$mnt"
check "the big file's bytes are the snapshot's" cmp -s "$snap1/big" "$mnt/big"
same_manifest "the kept snapshot holds the state before the revert" "$T/m2" "$mnt/.snapshots/$kept"
same_manifest "the newer snapshot is intact" "$T/m2" "$mnt/.snapshots/$s2"
expect_eq "the snapshots: the first, the second, the kept one" "$s1 $s2 $kept" "$(ids)"
written=$(sed -n 's/.* \([0-9]*\) bytes written$/\1/p' "$T/out")
check "revert wrote the changed block, not the big file ($written bytes)" \
	test "$written" -lt $((1024 * 1024))
grown=$(($(diff_area_bytes) - before))
check "the diff area grew by little ($grown bytes), not by the big file" \
	test "$grown" -lt $((2 * 1024 * 1024))
check "the data is in SRC" cmp -s "$src/big" "$snap1/big"
same_manifest "the first snapshot still reads the same" "$T/m1" "$snap1"

echo "== revert a subtree, a file, by absolute path, into a removed directory"
echo changed >"$mnt/docs/sub/b.txt"
echo extra >"$mnt/docs/extra"
echo changed >"$mnt/keep/u.txt"
n=$(ids | wc -w)
"$SNAPFS" revert --no-keep "$s1" docs >"$T/out"
check "--no-keep prints no kept snapshot" test "$(grep -c '^kept' "$T/out")" -eq 0
expect_eq "--no-keep adds no snapshot" "$n" "$(ids | wc -w)"
# (docs/sub/b.txt is linked to keep/hard, outside docs: it gets an inode of its own, and so
# differs from the snapshot's in its link count only)
if diff -r --no-dereference "$snap1/docs" "$mnt/docs" >"$T/diff" 2>&1 &&
	diff <(manifest "$snap1/docs" | sed 's/\t[0-9]*$//') \
		<(manifest "$mnt/docs" | sed 's/\t[0-9]*$//') >>"$T/diff"; then
	pass "the subtree equals the snapshot's, but for link counts"
else
	fail "the subtree equals the snapshot's, but for link counts: $(head -20 "$T/diff")"
fi
expect_eq "a name outside it that was linked in it is left alone" changed \
	"$(cat "$mnt/keep/hard")"
expect_eq "the rest is left alone" changed "$(cat "$mnt/keep/u.txt")"
"$SNAPFS" revert --no-keep "$s1" keep/u.txt >/dev/null
check "one file reverted" cmp -s "$snap1/keep/u.txt" "$mnt/keep/u.txt"
expect_eq "with its mode" 4755 "$(stat -c %a "$mnt/keep/u.txt")"
dd if=/dev/zero of="$mnt/big" bs=4096 seek=10 count=1 conv=notrunc status=none
echo other >"$mnt/docs/a.txt"
"$SNAPFS" revert --no-keep "$s1" "$mnt/big" >"$T/out"
check "an absolute path inside the mount" cmp -s "$snap1/big" "$mnt/big"
check "... rewrote one block" grep -q ' 65536 bytes written$' "$T/out"
expect_eq "... and left the rest alone" other "$(cat "$mnt/docs/a.txt")"
"$SNAPFS" revert --no-keep "$s1" "$mnt/docs/./a.txt" >/dev/null
rm -rf "$mnt/gone"
"$SNAPFS" revert --no-keep "$s1" gone/deep/c.txt >/dev/null
check "a file whose directories are gone is recreated" cmp -s "$snap1/gone/deep/c.txt" \
	"$mnt/gone/deep/c.txt"
expect_eq "... with its owner" 1234:5678 "$(stat -c %u:%g "$mnt/gone/deep/c.txt")"
expect_eq "... and its directories' modes" "$(stat -c %a "$snap1/gone/deep")" \
	"$(stat -c %a "$mnt/gone/deep")"
"$SNAPFS" revert --no-keep "$s1" gone >/dev/null
same_tree "the directory reverted" "$snap1/gone" "$mnt/gone"
"$SNAPFS" revert --no-keep "$s1" >/dev/null
same_manifest "all back to the first snapshot" "$T/m1" "$mnt"

echo "== refusals change nothing"
echo live-only >"$mnt/live-only"
manifest "$mnt" >"$T/m-live"
n=$(ids | wc -w)
refused "unknown id" "^snapfs revert: no snapshot 'no-such-id'" revert no-such-id
refused "a path absent from the snapshot" "^snapfs revert: snapshot $s1 has no 'live-only'\$" \
	revert "$s1" live-only
refused "a path outside the volume" "^snapfs revert: '/etc/passwd' is outside the volume" \
	revert "$s1" /etc/passwd
refused "a path above the volume" "^snapfs revert: '../x' is outside the volume" \
	revert "$s1" ../x
refused "a path in .snapshots" "^snapfs revert: '.snapshots/x' is in" revert "$s1" .snapshots/x
refused "no id" "^snapfs revert: missing snapshot ID" revert
same_manifest "the live tree is unchanged" "$T/m-live" "$mnt"
expect_eq "and no snapshot was added" "$n" "$(ids | wc -w)"
check "revert --help" quiet_help revert
rm "$mnt/live-only"

echo "== a file system mounted inside the volume is not crossed"
mkdir "$mnt/other"
s3=$("$SNAPFS" create -H "$mnt" | cut -f1)
mount -t tmpfs -o size=1m tmpfs "$mnt/other"
echo precious >"$mnt/other/keep"
refused "a revert that would remove a mount point" \
	"^snapfs revert: cannot remove '$mnt/other': it is a mount point, and a sync does not cross into other file systems\$" \
	revert --no-keep "$s1"
expect_eq "... leaves what is mounted there" precious "$(cat "$mnt/other/keep")"
refused "a PATH that is a mount point" \
	"^snapfs revert: '$mnt/other' is a mount point; a revert does not cross into other file systems\$" \
	revert --no-keep "$s3" other
"$SNAPFS" revert --no-keep "$s3" >"$T/out"
check "a whole revert leaves the mount point alone, and says so" \
	grep -q '^left 1 mount point inside the volume alone$' "$T/out"
expect_eq "... and what is mounted there" precious "$(cat "$mnt/other/keep")"
umount "$mnt/other"
"$SNAPFS" revert --no-keep "$s1" >/dev/null
same_manifest "once unmounted, the revert goes through" "$T/m1" "$mnt"

echo "== a file reverted by PATH, linked to a name outside PATH, gets an inode of its own"
mkdir "$mnt/h1" "$mnt/h2"
echo snapshot >"$mnt/h1/a"
ln "$mnt/h1/a" "$mnt/h1/b"
s4=$("$SNAPFS" create -H "$mnt" | cut -f1)
rm "$mnt/h1/b"
ln "$mnt/h1/a" "$mnt/h2/c"
echo live >"$mnt/h1/a"
"$SNAPFS" revert --no-keep "$s4" h1/a >/dev/null
expect_eq "the file is the snapshot's" snapshot "$(cat "$mnt/h1/a")"
expect_eq "the name outside PATH keeps the live content" live "$(cat "$mnt/h2/c")"
check "... and its inode" test "$(stat -c %i "$mnt/h1/a")" != "$(stat -c %i "$mnt/h2/c")"
rm "$mnt/h1/a"
ln "$mnt/h2/c" "$mnt/h1/a"
"$SNAPFS" revert --no-keep "$s4" h1 >/dev/null
expect_eq "a directory: the name outside it keeps the live content" live "$(cat "$mnt/h2/c")"
check "... and the links inside it are the snapshot's" \
	test "$(stat -c %i:%h "$mnt/h1/a")" == "$(stat -c %i:%h "$mnt/h1/b")"
expect_eq "... with its content" snapshot "$(cat "$mnt/h1/b")"
"$SNAPFS" revert --no-keep "$s1" >/dev/null
same_manifest "all back to the first snapshot" "$T/m1" "$mnt"

echo "== break --writable"
manifest "$mnt/.snapshots/$s2" >"$T/m-s2"
mkdir "$T/full"
touch "$T/full/x"
refused "a non-empty directory" "^snapfs break: directory '$T/full' is not empty\$" \
	break --writable "$s2" "$T/full"
refused "a directory inside the volume" "^snapfs break: directory '$mnt/in' is inside" \
	break --writable "$s2" "$mnt/in"
check "... which is not made" test ! -e "$mnt/in"
check "the snapshot stays after a refusal" grep -qw "$s2" <<<"$(ids)"
"$SNAPFS" break --writable "$s2" "$T/broken" >/dev/null
same_manifest "DIR has the snapshot's content" "$T/m-s2" "$T/broken"
check "DIR is writable" touch "$T/broken/newfile" "$T/broken/newdir/n.bin"
check "the snapshot is gone" test -z "$("$SNAPFS" list shadows -H | grep -w "$s2" || true)"
mkdir "$T/empty"
chmod 711 "$T/empty"
"$SNAPFS" break --writable "$s1" "$T/empty" >/dev/null
same_manifest "an empty DIR receives the copy too" "$T/m1" "$T/empty"

echo "== break into the detached store"
manifest "$mnt/.snapshots/$kept" >"$T/m-kept"
"$SNAPFS" break "$kept" "$T/ro" >/dev/null
check "DIR is a mount point" mountpoint -q "$T/ro"
same_manifest "DIR shows the snapshot's content" "$T/m-kept" "$T/ro"
check "DIR is read-only" test ! -w "$T/ro/big"
if touch "$T/ro/new" 2>/dev/null; then
	fail "a file was created in the exposed snapshot"
else
	pass "no file can be created in the exposed snapshot"
fi
row=$("$SNAPFS" list shadows -H | grep "^$kept" || true)
expect_eq "list shadows lists it as detached" detached "$(cut -f7 <<<"$row")"
check "its volume no longer has it" test -z "$(ids | grep -w "$kept" || true)"
"$SNAPFS" unexpose "$T/ro" >/dev/null

sfs_umount "$mnt"
finish
