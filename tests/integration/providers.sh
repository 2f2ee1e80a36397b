#!/bin/bash
# Providers as a user meets them: 'snapfs list providers' (which can serve a SRC, and why not),
# 'snapfs mount --method/--provider' and its refusals (each names the cause, mounts nothing
# and leaves the volume as it was), complete copies (clone: a snapshot becomes a whole tree
# equal to the view, that outlives SRC when kept on another directory, whose journal empties
# once the copy is done), and btrfs offload (subvolume snapshots: browse, EROFS, delete,
# remount, an orphan subvolume removed). The btrfs part runs on a loop-mounted btrfs image
# (btrfs.sh) and is skipped, saying so, where there is none.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/btrfs.sh"
require_fuse

# field N LINE: the Nth tab-separated field of LINE
field() {
	cut -f"$1" <<<"$2"
}

# not_mounted MNT: count a failure if MNT is a mount point
not_mounted() {
	if mountpoint -q "$1"; then
		fail "'$1' is mounted after a refusal"
		"$SNAPFS" umount "$1" || true
	fi
}

# kind MNT ID: how the snapshot ID of MNT is stored (journal or tree), or nothing
kind() {
	"$SNAPFS" list shadows -H "$1" | awk -F'\t' -v id="$2" '$1 == id { print $7 }'
}

# wait_tree MNT ID: wait (60 s at most) until the snapshot ID is stored as a tree
wait_tree() {
	local i
	for i in $(seq 600); do
		[ "$(kind "$1" "$2")" != tree ] || return 0
		sleep 0.1
	done
	fail "snapshot $2 of '$1' is still '$(kind "$1" "$2")' after 60 s"
	return 1
}

# describe DIR: what a snapshot must hold of the tree DIR (a SRC, a view, a copy; leaving out
# the top-level .snapfs and .snapshots): per name, its type, mode, owner, link count (but the
# root's: SRC's counts .snapfs) and mtime, and its size and symlink target unless it is a
# directory (a directory's size is its filesystem's business); then the checksum of every
# file, then every user.* xattr. The tree as it was is described from SRC, after a sync:
# through the mount, a file written through the writeback cache may show an mtime a few ms
# earlier than SRC's, and snapshots hold SRC's (docs/live-volume.md).
describe() {
	(
		cd "$1"
		find . -maxdepth 0 -printf '%p %y %m %U:%G %T@\n'
		find . -mindepth 1 \( -path ./.snapshots -o -path ./.snapfs \) -prune -o \
			-type d -printf '%p %y %m %U:%G %n %T@\n' -o \
			-printf '%p %y %m %U:%G %n %T@ %s %l\n' | LC_ALL=C sort
		find . \( -path ./.snapshots -o -path ./.snapfs \) -prune -o -type f -print0 |
			LC_ALL=C sort -z | xargs -0 -r sha256sum
		find . \( -path ./.snapshots -o -path ./.snapfs \) -prune -o -print0 |
			LC_ALL=C sort -z | xargs -0 getfattr -h -d -m '^user\.' 2>/dev/null
	)
}

# as_it_is SRC MNT FILE: describe SRC into FILE once what MNT caches has reached it
as_it_is() {
	sync -f "$2"
	describe "$1" >"$3"
}

# same DESCRIPTION FILE DIR: describe DIR equals FILE (a diff is shown otherwise)
same() {
	if describe "$3" >"$T/now" 2>"$T/err" && cmp -s "$2" "$T/now"; then
		pass "$1"
	else
		fail "$1:"
		cat "$T/err" >&2
		diff "$2" "$T/now" | head -20 >&2 || true
	fi
}

# erofs DESCRIPTION COMMAND...: the command fails with EROFS
erofs() {
	local what=$1
	shift
	if "$@" 2>"$T/err"; then
		fail "$what: succeeded"
	elif grep -q 'Read-only file system' "$T/err"; then
		pass "$what: EROFS"
	else
		fail "$what: $(cat "$T/err")"
	fi
}

# chunk_rows SRC: the journal's chunk rows in SRC's catalog
chunk_rows() {
	sqlite3 "$1/.snapfs/catalog.db" 'select count(*) from chunks'
}

fs=$(findmnt -n -o FSTYPE --target "$T")
case $fs in
ext4 | xfs | tmpfs) notbtrfs="SRC is on $fs, not btrfs" ;;
overlay) notbtrfs="SRC is on overlayfs, not btrfs" ;;
*) notbtrfs="SRC is not on btrfs" ;;
esac
echo "temporary directory on $fs"

echo "== list providers"
src=$T/src
mnt=$T/mnt
mkdir -p "$src" "$mnt"
out=$("$SNAPFS" list providers -H)
expect_eq "-H: the offloading provider first" btrfs "$(head -1 <<<"$out" | cut -f1)"
expect_eq "-H without SRC: btrfs: name, method, offload, serves (-), no reason" \
	$'btrfs\trow\tyes\t-\t' "$(grep '^btrfs' <<<"$out")"
expect_eq "-H without SRC: cow" $'cow\tcow\tno\t-\t' "$(grep '^cow' <<<"$out")"
expect_eq "-H without SRC: clone" $'clone\tclone\tno\t-\t' "$(grep '^clone' <<<"$out")"
nprov=$(wc -l <<<"$out")
if [ "$fs" != btrfs ]; then
	out=$("$SNAPFS" list providers -H "$src")
	expect_eq "-H SRC: btrfs cannot serve a SRC on $fs, saying why" \
		"btrfs"$'\t'"row"$'\t'"yes"$'\t'"no"$'\t'"$notbtrfs" "$(grep '^btrfs' <<<"$out")"
	expect_eq "-H SRC: cow can" $'cow\tcow\tno\tyes\t' "$(grep '^cow' <<<"$out")"
	expect_eq "-H SRC: clone can" $'clone\tclone\tno\tyes\t' "$(grep '^clone' <<<"$out")"
	expect_eq "-H SRC: btrfs is the only one that cannot" btrfs \
		"$(awk -F'\t' '$4 != "yes" { print $1 }' <<<"$out" | xargs)"
	expect_eq "-H SRC: five fields each" 5 \
		"$(awk -F'\t' '{ print NF }' <<<"$out" | sort -u | xargs)"
	out=$("$SNAPFS" list providers "$src")
	check "human: btrfs serves no, and why" grep -q "^  Serves:   no: $notbtrfs\$" <<<"$out"
	expect_eq "human: the others serve" $((nprov - 1)) "$(grep -c '^  Serves:   yes$' <<<"$out")"
	check "human: methods by their names" \
		grep -q '^  Method:   row (redirect-on-write), offloaded$' <<<"$out"
fi
refused "list providers: missing SRC" "snapfs list providers: '$T/nope': No such file" \
	list providers "$T/nope"

echo "== refusals at the first mount"
echo data >"$src/file"
sha256sum "$src/file" >"$T/file.sum"
# refused_mount DESCRIPTION PATTERN ARGS...: 'snapfs mount ARGS SRC MNT' is refused; nothing is
# mounted and SRC is intact (its file; and as $T/src.desc describes it, when there is one)
refused_mount() {
	local what=$1 pattern=$2
	shift 2
	refused "$what" "$pattern" mount "$@" "$src" "$mnt"
	not_mounted "$mnt"
	sha256sum --quiet -c "$T/file.sum" || fail "$what: SRC's file changed"
	if [ -e "$T/src.desc" ] && ! describe "$src" | cmp -s - "$T/src.desc"; then
		fail "$what: SRC changed"
	fi
}
if [ "$fs" != btrfs ]; then
	refused_mount "--provider btrfs on $fs" \
		"^snapfs mount: provider 'btrfs' cannot serve this volume: $notbtrfs\$" \
		--provider btrfs
fi
refused_mount "--method bogus" "^snapfs mount: --method 'bogus': cow, row or clone\$" \
	--method bogus
refused_mount "--provider nosuch" "^snapfs mount: unknown provider 'nosuch'" --provider nosuch
refused_mount "--provider clone --method cow" \
	"^snapfs mount: provider 'clone' makes complete copy snapshots, not copy-on-write\$" \
	--provider clone --method cow
# the refused mounts fixed nothing: the first one that succeeds chooses the chunk size too
rc=0
_mounts+=("$mnt")
"$SNAPFS" mount --chunk-size 16K "$src" "$mnt" 2>"$T/err" || rc=$?
if [ "$rc" -eq 0 ]; then
	expect_eq "after the refusals, the first mount chooses the chunk size" 16384 \
		"$("$SNAPFS" get -H chunksize "$mnt" | cut -f2)"
	expect_eq "... and the provider: cow by default" "cow cow" \
		"$("$SNAPFS" get -H provider "$mnt" | cut -f2) $("$SNAPFS" get -H method "$mnt" | cut -f2)"
	"$SNAPFS" umount "$mnt"
else
	fail "after the refusals, the first mount cannot choose the chunk size: $(cat "$T/err")"
fi
sfs_mount "$src" "$mnt"
expect_eq "the volume's provider: cow" "cow cow" \
	"$("$SNAPFS" get -H provider "$mnt" | cut -f2) $("$SNAPFS" get -H method "$mnt" | cut -f2)"
check "list providers MNT: names the volume's provider" \
	grep -q '^Provider: cow   (this volume.s)$' <<<"$("$SNAPFS" list providers "$mnt")"
if [ "$fs" != btrfs ]; then
	# where btrfs cannot, redirect-on-write falls to the provider in software
	sfs_mount "$T/rsrc" "$T/rmnt" --method row
	expect_eq "--method row on $fs: the software provider" "row row" \
		"$("$SNAPFS" get -H provider "$T/rmnt" | cut -f2) $("$SNAPFS" get -H method "$T/rmnt" | cut -f2)"
	sfs_umount "$T/rmnt"
fi

echo "== refusals on an existing volume"
head -c 1M /dev/urandom >"$mnt/data"
mkdir "$mnt/dir"
echo kept >"$mnt/dir/kept"
line=$("$SNAPFS" create -H "$mnt")
id=$(field 1 "$line")
browse=$(field 3 "$line")
describe "$mnt/.snapshots/$browse" >"$T/snap.desc"
dd if=/dev/zero of="$mnt/data" bs=64k count=4 conv=notrunc,fsync status=none
rows=$(chunk_rows "$src")
check "copy-on-write: a rewrite after a snapshot goes to the journal ($rows chunk rows)" \
	test "$rows" -gt 0
sfs_umount "$mnt"
describe "$src" >"$T/src.desc"
cp -a "$src/.snapfs/catalog.db" "$T/catalog.db"
refused_mount "--method clone on a cow volume" \
	"^snapfs mount: the volume's snapshots are made by provider 'cow' \(copy-on-write\); it cannot change to method 'clone'\$" \
	--method clone
refused_mount "--provider clone on a cow volume" \
	"made by provider 'cow' \(copy-on-write\); it cannot change to provider 'clone'\$" \
	--provider clone
refused_mount "--method row on a cow volume" "made by provider 'cow'.*method 'row'\$" \
	--method row
refused_mount "--provider btrfs on a cow volume" "made by provider 'cow'.*provider 'btrfs'\$" \
	--provider btrfs
refused_mount "--method bogus on a cow volume" "--method 'bogus'" --method bogus
refused_mount "--provider nosuch on a cow volume" "provider 'nosuch'" --provider nosuch
check "the refusals left the catalog as it was" cmp -s "$T/catalog.db" "$src/.snapfs/catalog.db"
sfs_mount "$src" "$mnt" --method cow --provider cow
pass "naming the volume's own method and provider is accepted"
expect_eq "the snapshot is still there" "$id" "$("$SNAPFS" list shadows -H "$mnt" | cut -f1)"
same "... and shows what it showed" "$T/snap.desc" "$mnt/.snapshots/$browse"
same "the live files are intact" "$T/src.desc" "$mnt"
expect_eq "the provider is still cow" cow "$("$SNAPFS" get -H provider "$mnt" | cut -f2)"
sfs_umount "$mnt"

echo "== clone: a complete copy equal to the snapshot"
csrc=$T/csrc
cmnt=$T/cmnt
da=$T/da
mkdir -p "$csrc" "$da"
sfs_mount "$csrc" "$cmnt" --method clone --diff-area "$da"
expect_eq "--method clone chooses the clone provider" "clone clone" \
	"$("$SNAPFS" get -H provider "$cmnt" | cut -f2) $("$SNAPFS" get -H method "$cmnt" | cut -f2)"
(
	cd "$cmnt"
	mkdir -p d/e top
	head -c 300k /dev/urandom >d/f
	ln d/f d/hl
	ln -s f d/sym
	ln -s /nowhere dangling
	mkfifo d/e/fifo
	truncate -s 10M sparse
	dd if=/dev/urandom of=sparse bs=4k count=1 seek=1000 conv=notrunc status=none
	setfattr -n user.a -v hello d/f
	setfattr -n user.dir -v yes d
	setfattr -n user.bin -v 0x00ff00 top
	chown 1234:5678 d/f
	chmod 640 d/f
	chown 42:43 d/e/fifo
	chmod 604 d/e/fifo
	chown -h 7:8 dangling
	chmod 1750 d/e
	chown 99:100 top
	chmod 2711 top
	echo small >top/small
	chmod 4755 top/small
	touch -h -d '2001-02-03 04:05:06.123456789 UTC' d/f d/sym dangling top/small
	touch -d '2002-03-04 05:06:07.5 UTC' d/e top sparse
)
as_it_is "$csrc" "$cmnt" "$T/clone.desc"
check "the description holds the xattrs" grep -q '^user.a="hello"$' "$T/clone.desc"
check "... the fifo, its mode and owner" grep -q '^./d/e/fifo p 604 42:43 1 ' "$T/clone.desc"
check "... the hard link" grep -q '^./d/hl f 640 1234:5678 2 981173106.1234567890 307200 $' \
	"$T/clone.desc"
line=$("$SNAPFS" create -H "$cmnt")
cid=$(field 1 "$line")
cbrowse=$(field 3 "$line")
# change everything
(
	cd "$cmnt"
	dd if=/dev/zero of=d/f bs=4k count=3 seek=5 conv=notrunc status=none
	echo more >>d/f
	rm d/hl
	setfattr -n user.a -v changed d/f
	setfattr -x user.dir d
	setfattr -n user.new -v 1 top
	chown 1:2 d/f top
	chmod 600 d/f
	chmod 755 d/e top
	touch d/f
	rm d/sym
	ln -s elsewhere d/sym
	rm d/e/fifo
	echo "not a fifo" >d/e/fifo
	dd if=/dev/urandom of=sparse bs=4k count=1 seek=10 conv=notrunc status=none
	truncate -s 20M sparse
	rm top/small
	mv d d2
	echo new >new
	sync
)
wait_tree "$cmnt" "$cid" || true
same "the snapshot's view (a tree now) shows the tree as it was" "$T/clone.desc" \
	"$cmnt/.snapshots/$cbrowse"
v=$cmnt/.snapshots/$cbrowse
expect_eq "... hard links share an inode there" "$(stat -c %i "$v/d/f")" "$(stat -c %i "$v/d/hl")"
expect_eq "list shadows -H: stored as tree" tree "$(kind "$cmnt" "$cid")"
check "human list says so" grep -q '^  Stored as:     tree$' <<<"$("$SNAPFS" list shadows "$cmnt")"
check "the copy is in --diff-area's trees/<id>" test -d "$da/trees/$cid"
sfs_umount "$cmnt"
rm -rf "$csrc"
same "with SRC deleted, the copy in DIR/trees/<id> equals the snapshot" "$T/clone.desc" \
	"$da/trees/$cid"
t=$da/trees/$cid
expect_eq "... hard links are links there" "$(stat -c %i "$t/d/f")" "$(stat -c %i "$t/d/hl")"
blocks=$(stat -c %b "$t/sparse")
check "... the sparse file is still sparse ($((blocks / 2)) KiB for 10 MiB)" \
	test "$blocks" -lt 4096

echo "== clone: deleting a snapshot while it is copied"
csrc=$T/csrc2
mkdir -p "$csrc/many"
for i in $(seq 2000); do
	echo "$i" >"$csrc/many/f$i"
done
head -c 50M /dev/urandom >"$csrc/big"
sfs_mount "$csrc" "$cmnt" --provider clone
log=${_log_of[$cmnt]}
cid=$(field 1 "$("$SNAPFS" create -H "$cmnt")")
state=$(kind "$cmnt" "$cid")
expect_eq "delete while the copy runs (the snapshot was '$state')" \
	"deleted snapshot $cid from '$cmnt'" "$("$SNAPFS" delete shadows --id "$cid" "$cmnt")"
for i in $(seq 100); do
	[ -n "$(ls "$csrc/.snapfs/trees")" ] || break
	sleep 0.1
done
expect_eq "no tree, partial or whole, is left behind" "" "$(ls -A "$csrc/.snapfs/trees")"
check "list shadows no longer shows it" \
	bash -c "! '$SNAPFS' list shadows -H '$cmnt' | grep -q '$cid'"
cid=$(field 1 "$("$SNAPFS" create -H "$cmnt")")
wait_tree "$cmnt" "$cid" && pass "the next snapshot is copied"
check "the daemon logged no failed copy" bash -c "! grep -i 'copy failed' '$log'"
sfs_umount "$cmnt"

echo "== clone: the journal empties once the copy is done"
# a file rewritten while its copy runs: the journal keeps the old chunks for the copy, frees
# them all when the copy is complete, and records nothing afterwards
csrc=$T/csrc3
mkdir -p "$csrc"
head -c 20M /dev/urandom >"$csrc/big"
sha256sum "$csrc/big" | cut -d' ' -f1 >"$T/big.sum"
sfs_mount "$csrc" "$cmnt" --provider clone
line=$("$SNAPFS" create -H "$cmnt")
cid=$(field 1 "$line")
cbrowse=$(field 3 "$line")
# three times: a snapshot, and the file rewritten from before its copy completes until after
for round in 1 2 3; do
	[ "$round" -eq 1 ] || cid=$(field 1 "$("$SNAPFS" create -H "$cmnt")")
	rm -f "$T/stop"
	(
		while [ ! -e "$T/stop" ] &&
			dd if=/dev/zero of="$cmnt/big" bs=64k count=320 conv=notrunc,fsync status=none
		do
			:
		done
	) &
	writer=$!
	_pids+=("$writer")
	wait_tree "$cmnt" "$cid" || true
	sleep 0.2
	touch "$T/stop"
	wait "$writer" || true
done
expect_eq "once the copy is complete, no chunk rows are left" 0 "$(chunk_rows "$csrc")"
rows=$(chunk_rows "$csrc")
dd if=/dev/urandom of="$cmnt/big" bs=64k count=300 conv=notrunc,fsync status=none
echo small >"$cmnt/small"
sync "$cmnt/small"
expect_eq "writes after the copy add no chunk rows" "$rows" "$(chunk_rows "$csrc")"
expect_eq "the copy holds the file as it was" "$(cat "$T/big.sum")" \
	"$(sha256sum "$cmnt/.snapshots/$cbrowse/big" | cut -d' ' -f1)"
sfs_umount "$cmnt"

echo "== btrfs"
# shellcheck disable=SC2016 # expanded when it runs
at_exit 'btrfs_cleanup "$T/btrfs"'
rc=0
btrfs_setup "$T/btrfs" || rc=$?
if [ "$rc" -eq 77 ]; then
	echo "SKIP: the btrfs part (no btrfs on a loop device here)"
	finish
	exit
elif [ "$rc" -ne 0 ]; then
	fail "cannot make a btrfs on a loop device"
	finish
	exit
fi
b=$T/btrfs/mnt
bsrc=$b/vol
bmnt=$T/bmnt
btrfs subvolume create "$bsrc" >/dev/null
mkdir "$b/plain" "$bmnt"
expect_eq "list providers: btrfs serves a subvolume" $'btrfs\trow\tyes\tyes\t' \
	"$("$SNAPFS" list providers -H "$bsrc" | grep '^btrfs')"
expect_eq "list providers: not a plain directory of a btrfs, saying why" \
	$'btrfs\trow\tyes\tno\t'"SRC is a directory on btrfs, not a subvolume (btrfs subvolume create makes one)" \
	"$("$SNAPFS" list providers -H "$b/plain" | grep '^btrfs')"
refused "--provider btrfs on a plain directory of a btrfs" \
	"^snapfs mount: provider 'btrfs' cannot serve this volume: SRC is a directory on btrfs, not a subvolume" \
	mount --provider btrfs "$b/plain" "$bmnt"
not_mounted "$bmnt"
sfs_mount "$b/plain" "$bmnt" --method row
expect_eq "--method row there falls to the software provider" "row row" \
	"$("$SNAPFS" get -H provider "$bmnt" | cut -f2) $("$SNAPFS" get -H method "$bmnt" | cut -f2)"
sfs_umount "$bmnt"

sfs_mount "$bsrc" "$bmnt" --method row
expect_eq "--method row on a subvolume chooses btrfs" "btrfs row" \
	"$("$SNAPFS" get -H provider "$bmnt" | cut -f2) $("$SNAPFS" get -H method "$bmnt" | cut -f2)"
echo old >"$bmnt/file"
head -c 2M /dev/urandom >"$bmnt/big"
mkdir "$bmnt/dir"
echo gone >"$bmnt/dir/gone"
as_it_is "$bsrc" "$bmnt" "$T/b1.desc"
line=$("$SNAPFS" create -H "$bmnt")
b1=$(field 1 "$line")
bbrowse1=$(field 3 "$line")
row=$("$SNAPFS" list shadows -H "$bmnt")
expect_eq "list shadows -H: a btrfs snapshot is a tree of 0 diff bytes" "0 tree" \
	"$(field 6 "$row") $(field 7 "$row")"
check "btrfs subvolume list shows it" \
	grep -q " path vol/.snapfs/trees/$b1\$" <<<"$(btrfs subvolume list "$b")"
expect_eq "... read-only" "ro=true" "$(btrfs property get -ts "$bsrc/.snapfs/trees/$b1" ro)"
echo new >"$bmnt/file"
dd if=/dev/zero of="$bmnt/big" bs=64k count=4 conv=notrunc status=none
rm -r "$bmnt/dir"
mkdir "$bmnt/newdir"
same "the snapshot shows the old content" "$T/b1.desc" "$bmnt/.snapshots/$bbrowse1"
v=$bmnt/.snapshots/$bbrowse1
erofs "write a file in the snapshot" sh -c "echo x >'$v/file'"
erofs "create a file there" touch "$v/newfile"
erofs "mkdir there" mkdir "$v/d"
erofs "rm there" rm "$v/big"
erofs "chmod there" chmod 600 "$v/file"
erofs "setfattr there" setfattr -n user.x -v 1 "$v/file"
erofs "rename there" mv "$v/file" "$v/file2"
same "... which the refused writes left alone" "$T/b1.desc" "$v"
as_it_is "$bsrc" "$bmnt" "$T/b2.desc"
line=$("$SNAPFS" create -H "$bmnt")
b2=$(field 1 "$line")
bbrowse2=$(field 3 "$line")
expect_eq "delete the first snapshot" "deleted snapshot $b1 from '$bmnt'" \
	"$("$SNAPFS" delete shadows --id "$b1" "$bmnt")"
check "btrfs subvolume list no longer shows it" \
	bash -c "! btrfs subvolume list '$b' | grep -q '$b1'"
check "... nor does the trees directory" test ! -e "$bsrc/.snapfs/trees/$b1"
expect_eq "list shadows shows the second only" "$b2" \
	"$("$SNAPFS" list shadows -H "$bmnt" | cut -f1 | xargs)"
sfs_umount "$bmnt"
sfs_mount "$bsrc" "$bmnt"
expect_eq "a remount keeps the provider" btrfs "$("$SNAPFS" get -H provider "$bmnt" | cut -f2)"
expect_eq "... and the snapshot" "$b2" "$("$SNAPFS" list shadows -H "$bmnt" | cut -f1 | xargs)"
same "... and what it shows" "$T/b2.desc" "$bmnt/.snapshots/$bbrowse2"
sfs_umount "$bmnt"
orphan=$(cat /proc/sys/kernel/random/uuid)
btrfs subvolume snapshot -r "$bsrc" "$bsrc/.snapfs/trees/$orphan" >/dev/null
check "a subvolume without a catalog row (as a crash leaves one)" \
	grep -q "path vol/.snapfs/trees/$orphan\$" <<<"$(btrfs subvolume list "$b")"
sfs_mount "$bsrc" "$bmnt"
check "... is removed at the next mount" \
	bash -c "! btrfs subvolume list '$b' | grep -q '$orphan'"
check "... from the trees directory too" test ! -e "$bsrc/.snapfs/trees/$orphan"
expect_eq "... and the snapshots stay" "$b2" \
	"$("$SNAPFS" list shadows -H "$bmnt" | cut -f1 | xargs)"
same "... and show what they showed" "$T/b2.desc" "$bmnt/.snapshots/$bbrowse2"
sfs_umount "$bmnt"

finish
