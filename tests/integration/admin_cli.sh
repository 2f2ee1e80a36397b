#!/bin/bash
# VssAdmin's commands on snapfs: create shadow, delete shadows --set, list volumes, the shadow
# storage commands with their sizes, export and import with the progress display on a
# terminal, and each command's --help; bad input refused with one line and nothing changed.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_fuse

sfs_mount "$T/s1" "$T/m1"
sfs_mount "$T/s2" "$T/m2"
mkdir -p "$T/plain" "$T/elsewhere"
head -c 3M /dev/urandom >"$T/m1/data.bin"
echo two >"$T/m2/two.txt"

nsnaps() { "$SNAPFS" list shadows -H "$1" | wc -l; }

echo "== create shadow, list volumes"
out=$("$SNAPFS" create shadow -H "$T/m1")
id1=$(cut -f1 <<<"$out")
check "create shadow takes a snapshot" test "$(nsnaps "$T/m1")" -eq 1
expect_eq "list volumes -H" "$T/m1	$T/s1	cow	1
$T/m2	$T/s2	cow	0" "$("$SNAPFS" list volumes -H | grep "^$T/")"
check "list volumes has headings" grep -q '^VOLUME ' <("$SNAPFS" list volumes)

echo "== shadow storage"
row=$("$SNAPFS" list shadowstorage -H "$T/m1")
expect_eq "list shadowstorage: volume, diff area, bound" "$T/m1	$T/s1/.snapfs	0" \
	"$(cut -f1,2,4 <<<"$row")"
check "list shadowstorage: used bytes is a number" grep -qE '^[0-9]+$' <(cut -f3 <<<"$row")
expect_eq "add shadowstorage 10G" "the shadow storage of '$T/m1' is bounded at 10737418240 bytes" \
	"$("$SNAPFS" add shadowstorage --for "$T/m1" --maxsize 10G)"
expect_eq "the bound is the volume's maxsize" 10737418240 \
	"$("$SNAPFS" get -H maxsize "$T/m1" | cut -f2)"
refused "add where bounded" "bounded already.*resize shadowstorage" \
	add shadowstorage --for "$T/m1" --maxsize 20G
want=$(python3 -c 'import os, sys; s = os.statvfs(sys.argv[1]); print(s.f_blocks * s.f_frsize // 100 * 20)' \
	"$T/s1/.snapfs")
expect_eq "resize to 20% of the diff area's filesystem" \
	"the shadow storage of '$T/m1' is bounded at $want bytes" \
	"$("$SNAPFS" resize shadowstorage --for "$T/m1" --on "$T/s1/.snapfs" --maxsize 20%)"
expect_eq "resize to 512MB" "the shadow storage of '$T/m1' is bounded at 536870912 bytes" \
	"$("$SNAPFS" resize shadowstorage --for "$T/m1" --maxsize 512MB)"
expect_eq "resize to unbounded" "the shadow storage of '$T/m1' is unbounded" \
	"$("$SNAPFS" resize shadowstorage --for "$T/m1" --maxsize UNBOUNDED)"
expect_eq "list shows no bound" 0 "$("$SNAPFS" list shadowstorage -H "$T/m1" | cut -f4)"
for bad in 10X 0 -5G 150% 0% 12.5G ""; do
	refused "bad size '$bad'" "bad size|percentage is from|below 1M" \
		resize shadowstorage --for "$T/m1" --maxsize "$bad"
done
refused "the diff area cannot move" "cannot move to '$T/elsewhere'" \
	add shadowstorage --for "$T/m1" --on "$T/elsewhere" --maxsize 1G
refused "not a volume" "'$T/plain' is not a snapfs volume" \
	add shadowstorage --for "$T/plain" --maxsize 1G
refused "--for missing" "expected --for MNT and --maxsize SIZE" add shadowstorage --maxsize 1G
refused "unknown option" "unexpected argument '--size'" resize shadowstorage --for "$T/m1" --size 1G
expect_eq "nothing changed by the refusals" 0 "$("$SNAPFS" get -H maxsize "$T/m1" | cut -f2)"

echo "== delete shadows --set"
set_id=$("$SNAPFS" create -H --nowriters "$T/m1" "$T/m2" | cut -f2 | sort -u)
expect_eq "a set of two" "2 1" "$(nsnaps "$T/m1") $(nsnaps "$T/m2")"
expect_eq "delete --set" "deleted 2 snapshots of set $set_id" \
	"$("$SNAPFS" delete shadows --set "$set_id")"
expect_eq "the set is gone, the other snapshot stays" "1 0" "$(nsnaps "$T/m1") $(nsnaps "$T/m2")"
refused "an unknown set" "no snapshot of set 'no-such-set'" delete shadows --set no-such-set
refused "--set with MNT" "--set takes no mount point" delete shadows --set "$set_id" "$T/m1"

echo "== export and import"
expect_eq "export" "exported snapshot $id1 of '$T/m1' to '$T/one.export'" \
	"$("$SNAPFS" export "$id1" "$T/one.export" 2>"$T/export.err")"
expect_eq "no progress display off a terminal" "" "$(cat "$T/export.err")"
refused "export over an existing file" "one.export" export "$id1" "$T/one.export"
refused "export of an unknown id" "no snapshot 'nope'" export nope "$T/two.export"
script -qec "$SNAPFS export $id1 $T/tty.export" /dev/null >"$T/tty.out" 2>&1 || true
check "a terminal shows the progress" grep -q 'exporting: .* MiB of .* MiB (100%)' "$T/tty.out"
out=$(SNAPFS_STATE_DIR=$T/other "$SNAPFS" import "$T/one.export")
check "import" grep -q "^imported snapshot $id1 of '$T/m1'" <<<"$out"
check "the imported tree has the data" cmp "$T/other/detached/$id1/tree/data.bin" \
	"$T/m1/.snapshots/$id1/data.bin"
SNAPFS_STATE_DIR=$T/other "$SNAPFS" import "$T/one.export" >/dev/null 2>"$T/err" && \
	fail "a second import succeeded" || pass "a second import is refused: $(cat "$T/err")"
SNAPFS_STATE_DIR=$T/other "$SNAPFS" list shadows -H >"$T/list"
expect_eq "list shadows shows it detached beside the original" "$id1	$T/m1	journal
$id1	$T/m1	detached" "$(grep "$id1" "$T/list" | cut -f1,3,7)"
# the volume's is found first; once it is gone, the detached one
SNAPFS_STATE_DIR=$T/other "$SNAPFS" delete shadows --id "$id1" "$T/m1" >/dev/null
expect_eq "delete --id of a detached snapshot" "deleted detached snapshot $id1" \
	"$(SNAPFS_STATE_DIR=$T/other "$SNAPFS" delete shadows --id "$id1")"
expect_eq "delete shadows --id removes a detached snapshot" "" \
	"$(ls -A "$T/other/detached")"
refused "import of a missing file" "$T/missing.export" import "$T/missing.export"

echo "== --help"
for c in "create shadow" "list volumes" "list shadowstorage" "add shadowstorage" \
	"resize shadowstorage" "delete shadowstorage" "delete shadows" export import expose \
	unexpose revert break; do
	# shellcheck disable=SC2086
	out=$("$SNAPFS" $c --help)
	check "'snapfs $c --help'" grep -q '^usage: snapfs' <<<"$out"
done
finish
