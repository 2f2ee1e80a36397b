#!/bin/bash
# Exposed snapshots end to end: 'snapfs expose' mounts a snapshot read-only at a directory of
# its own (bytes, attributes and symlinks as the snapshot has them, every change refused with
# EROFS), also a snapshot that .snapshots no longer lists; every refusal is one line on stderr
# and leaves no mount and no record (a directory inside the tree served, also through a bind
# mount; a record that cannot be written; a tree that does not answer, within the time
# limit); the delete commands refuse an exposed snapshot, but the diff area's bound may evict
# it: 'list exposed' then says it is gone; 'unexpose' by directory and by id; the exposure
# survives its volume being unmounted and mounted again; and the service mounts the
# persistent exposures again after a reboot, forgetting the temporary ones.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse

src=$T/src
mnt=$T/mnt
registry=$SNAPFS_STATE_DIR/exposed

# erofs DESCRIPTION COMMAND...: the command fails, saying the file system is read-only.
erofs() {
	local what=$1
	shift
	if "$@" 2>"$T/err"; then
		fail "$what: it succeeded"
	elif grep -q 'Read-only file system' "$T/err"; then
		pass "$what: $(head -1 "$T/err")"
	else
		fail "$what: $(cat "$T/err")"
	fi
}

# exposed_mounts: the number of exposure mounts of this test in the mount table
exposed_mounts() {
	awk -v t="$T/" '$3 == "fuse.snapfs-expose" && index($2, t) == 1' /proc/mounts | wc -l
}

# exposed_records: the number of records in the registry
exposed_records() {
	find "$registry" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l
}

# unchanged DESCRIPTION: a refusal left the mounts and records as they were
unchanged() {
	expect_eq "$1: no new mount" "$mounts_before" "$(exposed_mounts)"
	expect_eq "$1: no new record" "$records_before" "$(exposed_records)"
}

# snap MNT: take a snapshot of MNT, print its id
snap() {
	"$SNAPFS" create -H "$1" | cut -f1
}

sfs_mount "$src" "$mnt"
mkdir "$mnt/sub"
head -c 3M /dev/urandom >"$mnt/big"
echo "as it was" >"$mnt/sub/small"
echo "read late" >"$mnt/sub/late"
chmod 640 "$mnt/sub/small"
ln -s sub/small "$mnt/link"
cp "$mnt/big" "$T/big.1"
id1=$(snap "$mnt")

echo "== the live files change"
head -c 1M /dev/urandom | dd of="$mnt/big" bs=64K seek=3 conv=notrunc status=none
echo "changed" >"$mnt/sub/small"
chmod 600 "$mnt/sub/small"
ln -sfn big "$mnt/link"
cp "$mnt/big" "$T/big.2"
id2=$(snap "$mnt")
head -c 3M /dev/urandom >"$mnt/big"
id3=$(snap "$mnt")

echo "== expose a snapshot"
mkdir "$T/e1" "$T/e2" "$T/e3"
check "expose --help" bash -c "'$SNAPFS' expose --help | grep -q '^usage: snapfs expose'"
check "expose ID DIR" "$SNAPFS" expose "$id1" "$T/e1"
check "the exposure is a mount point" mountpoint -q "$T/e1"
check "the big file reads back the snapshot's bytes" cmp "$T/e1/big" "$T/big.1"
expect_eq "a small file as it was" "as it was" "$(cat "$T/e1/sub/small")"
expect_eq "its mode as it was" 640 "$(stat -c %a "$T/e1/sub/small")"
expect_eq "its size" 3145728 "$(stat -c %s "$T/e1/big")"
expect_eq "the symlink's target as it was" "sub/small" "$(readlink "$T/e1/link")"
expect_eq "the inode number is the snapshot's" \
	"$(stat -c %i "$mnt/.snapshots/$id1/big")" "$(stat -c %i "$T/e1/big")"
expect_eq "the directory lists as the snapshot's" "$(ls -a "$mnt/.snapshots/$id1")" \
	"$(ls -a "$T/e1")"
expect_eq "mtime as the snapshot's" "$(stat -c %Y "$mnt/.snapshots/$id1/sub/small")" \
	"$(stat -c %Y "$T/e1/sub/small")"
check "/proc/mounts shows fuse.snapfs-expose with snapfs:ID" \
	grep -q "^snapfs:$id1 $T/e1 fuse.snapfs-expose ro," /proc/mounts
list=$("$SNAPFS" list exposed -H)
expect_eq "list exposed -H" "$id1	$T/e1	yes	yes	present" "$list"
check "list exposed (human) names the directory" \
	grep -q "^  Directory:   $T/e1\$" <<<"$("$SNAPFS" list exposed)"

echo "== an exposure is read-only"
erofs "touch a new file" touch "$T/e1/new"
erofs "touch a file" touch "$T/e1/big"
erofs "rm" rm -f "$T/e1/big"
erofs "mkdir" mkdir "$T/e1/dir"
erofs "append" bash -c "echo x >>'$T/e1/sub/small'"
erofs "chmod" chmod 777 "$T/e1/sub/small"
erofs "mv" mv "$T/e1/big" "$T/e1/big2"
check "the files are unchanged" cmp "$T/e1/big" "$T/big.1"

echo "== a snapshot that .snapshots no longer lists"
"$SNAPFS" set maxshadowcopies=1 "$mnt"
expect_eq ".snapshots lists one snapshot" 1 "$(ls "$mnt/.snapshots" | wc -l)"
check "expose --temporary an unlisted snapshot" "$SNAPFS" expose --temporary "$id2" "$T/e2"
check "it reads back its bytes" cmp "$T/e2/big" "$T/big.2"
expect_eq "its symlink" "big" "$(readlink "$T/e2/link")"
expect_eq "its mode" 600 "$(stat -c %a "$T/e2/sub/small")"
expect_eq "list exposed -H: both, by id" "$(printf '%s\n' "$id1	$T/e1	yes	yes	present" \
	"$id2	$T/e2	no	yes	present" | LC_ALL=C sort)" "$("$SNAPFS" list exposed -H)"

echo "== refusals"
mkdir "$T/full" "$mnt/inside"
touch "$T/full/x" "$T/file"
mounts_before=$(exposed_mounts)
records_before=$(exposed_records)
refused "unknown id" "^snapfs expose: no snapshot 'nosuchid'" expose nosuchid "$T/e3"
unchanged "unknown id"
refused "non-empty directory" "^snapfs expose: directory '.*/full' is not empty$" \
	expose "$id3" "$T/full"
unchanged "non-empty directory"
refused "missing directory" "^snapfs expose: directory '.*/missing' does not exist$" \
	expose "$id3" "$T/missing"
unchanged "missing directory"
refused "not a directory" "^snapfs expose: '.*/file' is not a directory$" \
	expose "$id3" "$T/file"
unchanged "not a directory"
refused "already exposed" "^snapfs expose: snapshot '$id1' is already exposed at '$T/e1'$" \
	expose "$id1" "$T/e3"
unchanged "already exposed"
refused "a mount point" "^snapfs expose: '$T/e1' is already a mount point" \
	expose "$id3" "$T/e1"
unchanged "a mount point"
refused "inside the volume" "^snapfs expose: directory '$mnt/inside' is inside the volume" \
	expose "$id3" "$mnt/inside"
unchanged "inside the volume"
refused "no arguments" "^snapfs expose: expected" expose
mkdir "$registry/$id3.tmp"
want="^snapfs expose: cannot write the record '$registry/$id3' \\(through "
want+="'$registry/$id3.tmp'\\): Is a directory; the mount was taken away\$"
refused "a record that cannot be written" "$want" expose "$id3" "$T/e3"
unchanged "a record that cannot be written"
check "the directory is no mount point" bash -c "! mountpoint -q '$T/e3'"
rmdir "$registry/$id3.tmp"
refused "unexpose what is not exposed" "^snapfs unexpose: '$T/e3' is neither" unexpose "$T/e3"

echo "== a detached snapshot, inside its own tree"
id4=$(snap "$mnt")
"$SNAPFS" break "$id4" "$T/b" >/dev/null
check "unexpose the broken-off snapshot" "$SNAPFS" unexpose "$T/b"
tree=$SNAPFS_STATE_DIR/detached/$id4/tree
check "its tree is in the store" test -d "$tree/sub"
mkdir "$tree/empty" "$T/bind"
mounts_before=$(exposed_mounts)
records_before=$(exposed_records)
at="^snapfs expose: cannot mount at"
refused "inside the tree it would serve" \
	"$at '$tree/empty': directory '$tree/empty' is inside '$tree', the snapshot tree it would" \
	expose "$id4" "$tree/empty"
unchanged "inside the tree it would serve"
mount --bind "$tree" "$T/bind"
refused "inside a bind mount of the tree" \
	"$at '$T/bind/empty': directory '$T/bind/empty' is inside '$tree' \(as '$T/bind'\)" \
	expose "$id4" "$T/bind/empty"
umount "$T/bind"
unchanged "inside a bind mount of the tree"
rmdir "$tree/empty"

echo "== a tree that does not answer"
# the detached tree leads, by a symlink, into an exposure whose daemon is stopped: a lookup
# there waits for ever, and the expose command must not
mkdir "$T/hang" "$T/e4"
"$SNAPFS" expose --temporary "$id3" "$T/hang"
hung=$(sed -n 's/^pid=//p' "$registry/$id3")
kill -STOP "$hung"
at_exit "kill -CONT $hung"
mv "$tree" "$tree.away"
ln -s "$T/hang/never-looked-up" "$tree"
mounts_before=$(exposed_mounts)
records_before=$(exposed_records)
started=$SECONDS
export SNAPFS_EXPOSE_TIMEOUT=2
refused "a tree that does not answer" \
	"$at '$T/e4': the snapshot tree '$tree' did not answer within 2 s; its daemon was killed" \
	expose "$id4" "$T/e4"
unset SNAPFS_EXPOSE_TIMEOUT
check "it failed within the time limit, not much later" test $((SECONDS - started)) -le 10
unchanged "a tree that does not answer"
check "the registry answers again" "$SNAPFS" list exposed -H
rm "$tree"
mv "$tree.away" "$tree"
kill -CONT "$hung"
check "unexpose the stopped one, continued" "$SNAPFS" unexpose "$T/hang"
check "the detached snapshot exposes now" "$SNAPFS" expose --temporary "$id4" "$T/e4"
check "and reads" cmp "$T/e4/big" "$mnt/big"
check "unexpose it" "$SNAPFS" unexpose "$T/e4"

echo "== unexpose by directory and by id"
check "unexpose DIR" "$SNAPFS" unexpose "$T/e2"
check "the mount is gone" bash -c "! mountpoint -q '$T/e2'"
expect_eq "the listing has one exposure" "$id1	$T/e1	yes	yes	present" "$("$SNAPFS" list exposed -H)"
check "expose it again (by another directory)" "$SNAPFS" expose --temporary "$id2" "$T/e3"
check "unexpose ID" "$SNAPFS" unexpose "$id2"
check "that mount is gone too" bash -c "! mountpoint -q '$T/e3'"
expect_eq "no record of it" "$id1" "$("$SNAPFS" list exposed -H | cut -f1)"

echo "== the volume unmounted and mounted again"
sfs_umount "$mnt"
check "the volume is unmounted" bash -c "! mountpoint -q '$mnt'"
expect_eq "list exposed: whether the snapshot is there is unknown" \
	"$id1	$T/e1	yes	yes	unknown" "$("$SNAPFS" list exposed -H)"
sfs_mount "$src" "$mnt"
expect_eq "a file not read before reads from the volume mounted again" "read late" \
	"$(cat "$T/e1/sub/late")"
check "the big file reads back" cmp "$T/e1/big" "$T/big.1"
check "a new file descriptor on it reads" bash -c "dd if='$T/e1/big' bs=1M skip=2 \
	status=none | cmp - <(tail -c 1M '$T/big.1')"

echo "== the diff area's bound evicts an exposed snapshot"
sfs_mount "$T/src2" "$T/m2"
"$SNAPFS" set maxsize=1M "$T/m2"
head -c 2M /dev/urandom >"$T/m2/f"
id5=$(snap "$T/m2")
mkdir "$T/e5"
check "expose it" "$SNAPFS" expose --temporary "$id5" "$T/e5"
check "it reads" cmp "$T/e5/f" "$T/m2/f"
dd if=/dev/urandom of="$T/m2/f" bs=64K count=32 conv=notrunc status=none
check "the bound took it" test -z "$("$SNAPFS" list shadows -H | grep -w "$id5" || true)"
expect_eq "list exposed -H: the snapshot is gone" "$id5	$T/e5	no	yes	gone" \
	"$("$SNAPFS" list exposed -H | grep "^$id5")"
check "list exposed says so" grep -q "^  Snapshot:    gone" <<<"$("$SNAPFS" list exposed)"
if cat "$T/e5/f" >/dev/null 2>"$T/err"; then
	fail "a read of the evicted snapshot succeeded"
elif grep -qE 'No such file or directory|Stale file handle' "$T/err"; then
	pass "a read of the evicted snapshot fails: $(cat "$T/err")"
else
	fail "a read of the evicted snapshot: $(cat "$T/err")"
fi
check "unexpose it" "$SNAPFS" unexpose "$T/e5"
sfs_umount "$T/m2"

echo "== persistence across a restart of the service"
check "expose --temporary another" "$SNAPFS" expose --temporary "$id2" "$T/e2"
_stop_coordinator
own_coordinator
umount "$T/e1"
umount "$T/e2"
check "both mounts are gone" bash -c "! mountpoint -q '$T/e1' && ! mountpoint -q '$T/e2'"
start_coordinator
check "the persistent exposure is mounted again" mountpoint -q "$T/e1"
check "with the same bytes" cmp "$T/e1/big" "$T/big.1"
check "the temporary one is not" bash -c "! mountpoint -q '$T/e2'"
check "its record is gone" test ! -e "$registry/$id2"
expect_eq "list exposed shows the persistent one only" "$id1	$T/e1	yes	yes	present" \
	"$("$SNAPFS" list exposed -H)"
stop_coordinator

echo "== the end"
refused "delete an exposed snapshot" "exposed" delete shadows --id "$id1"
check "the exposed snapshot is still there" test -d "$mnt/.snapshots/$id1"
check "unexpose the last one" "$SNAPFS" unexpose "$T/e1"
expect_eq "no exposed snapshots" "no exposed snapshots" "$("$SNAPFS" list exposed)"
expect_eq "no exposure mounts" 0 "$(exposed_mounts)"
sfs_umount "$mnt"
finish
