#!/usr/bin/env bash
# adminbench.sh: what export, import, expose and revert cost, each against the plain tool that
# does the same work on the same tree in the same run.
#
# usage (as root): tests/bench/adminbench.sh [BUILD_DIR]
#
# A snapfs volume holds ADMINBENCH_MB MiB in ADMINBENCH_FILES files (one large file holds half
# of it, the rest is spread over small files in 20 directories); one snapshot is taken. Every
# round (ADMINBENCH_ROUNDS, default 3), after 'sync; echo 3 > drop_caches' before each case:
#   export     'snapfs export ID FILE'  against  'tar -cf FILE' of MNT/.snapshots/ID   (s)
#   import     'snapfs import FILE'     against  'tar -xf' of the tar into a new dir   (s)
#   read       'tar -cf - | cat' of the snapshot exposed ('snapfs expose')  against  the
#              same of MNT/.snapshots/ID, which the exposure reads through             (s)
#   revert     'snapfs revert ID' (keeping the state it leaves as a snapshot) after a few
#              bytes of the large file and one small file were changed  against  'cp -a' of
#              the snapshot's tree over a copy (what a revert without block comparison would
#              cost)                                                                   (s)
# The report gives each case's median and its ratio to its baseline, and the diff area's
# growth for one revert: what the kept snapshot preserves, which must stay near the changed
# chunks (one 64 KiB chunk of the large file, one small file), not the tree's size. It fails only when a command
# fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
case $build in /*) snapfs=$build/cli/snapfs ;; *) snapfs=$PWD/$build/cli/snapfs ;; esac
mb=${ADMINBENCH_MB:-512}
files=${ADMINBENCH_FILES:-2000}
rounds=${ADMINBENCH_ROUNDS:-3}

[ "$(id -u)" -eq 0 ] || { echo "adminbench.sh: run as root" >&2; exit 1; }
[ -x "$snapfs" ] || { echo "adminbench.sh: no $snapfs (build first)" >&2; exit 1; }

T=$(mktemp -d /var/tmp/adminbench.XXXXXX)
export SNAPFS_RUNTIME_DIR=$T/run SNAPFS_STATE_DIR=$T/state
cleanup() {
	local pid
	umount "$T/exp" 2>/dev/null || true
	mountpoint -q "$T/mnt" && "$snapfs" umount "$T/mnt"
	pid=$(cat "$SNAPFS_RUNTIME_DIR/snapfsd.lock" 2>/dev/null || true)
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" == snapfsd ] && kill "$pid"
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/src" "$T/mnt" "$T/exp"
"$snapfs" mount "$T/src" "$T/mnt"
head -c $((mb / 2))M /dev/urandom >"$T/mnt/large.bin"
small=$((mb * 1024 / 2 / files))
for ((i = 0; i < files; i++)); do
	d=$T/mnt/d$((i % 20))
	mkdir -p "$d"
	head -c "${small}K" /dev/urandom >"$d/f$i"
done
id=$("$snapfs" create -H --nowriters "$T/mnt" | cut -f1)
snap=$T/mnt/.snapshots/$id

now() { date +%s.%N; }
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# time_of CMD...: seconds the command takes, after dropping the caches
time_of() {
	local t0
	cold
	t0=$(now)
	"$@" >/dev/null 2>&1
	echo "$(now) - $t0" | bc
}
declare -A res=()
add() { res[$1]+="$2 "; }

for ((r = 1; r <= rounds; r++)); do
	rm -f "$T/x.export" "$T/x.tar"
	rm -rf "$T/state/detached" "$T/untar"
	add export "$(time_of "$snapfs" export "$id" "$T/x.export")"
	add tar_c "$(time_of tar -C "$snap" -cf "$T/x.tar" .)"
	add import "$(time_of "$snapfs" import "$T/x.export")"
	mkdir "$T/untar"
	add tar_x "$(time_of tar -C "$T/untar" -xf "$T/x.tar")"
	# the imported copy has the snapshot's id, and lookups take a detached copy first: it goes
	# before the exposure and the revert, which are to serve the volume's snapshot
	"$snapfs" delete shadows --id "$id" >/dev/null
	"$snapfs" expose --temporary "$id" "$T/exp" >/dev/null
	add read_exposed "$(time_of sh -c "tar -C '$T/exp' -cf - . | cat >/dev/null")"
	"$snapfs" unexpose "$T/exp" >/dev/null
	add read_snapshot "$(time_of sh -c "tar -C '$snap' -cf - . | cat >/dev/null")"
	printf 'changed' | dd of="$T/mnt/large.bin" bs=1 seek=$((r * 1048576)) conv=notrunc status=none
	echo changed >"$T/mnt/d3/f3"
	before=$("$snapfs" get -H diffareaused "$T/mnt" | cut -f2)
	add revert "$(time_of "$snapfs" revert "$id")"
	after=$("$snapfs" get -H diffareaused "$T/mnt" | cut -f2)
	add revert_growth "$((after - before))"
	# the state kept before the revert goes, so that every round starts alike
	"$snapfs" list shadows -H "$T/mnt" | cut -f1 | grep -v "^$id\$" |
		while read -r kept; do "$snapfs" delete shadows --id "$kept" "$T/mnt" >/dev/null; done
	rm -rf "$T/copy"
	cp -a "$T/mnt/d0" "$T/copy" # a directory to copy over
	add cp_a "$(time_of cp -a "$snap/." "$T/copy/")"
	rm -rf "$T/copy"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
m() { median <<<"${res[$1]}"; }
ratio() { echo "scale=2; $(m "$1") / $(m "$2")" | bc; }
printf '%s MiB in %s files, %s rounds (medians)\n' "$mb" "$files" "$rounds"
printf '%-34s %8s s   %-22s %8s s   ratio %s\n' \
	"snapfs export" "$(m export)" "tar -cf of the snapshot" "$(m tar_c)" "$(ratio export tar_c)" \
	"snapfs import (verify + extract)" "$(m import)" "tar -xf" "$(m tar_x)" "$(ratio import tar_x)" \
	"read through an exposure" "$(m read_exposed)" "read .snapshots/ID" "$(m read_snapshot)" \
	"$(ratio read_exposed read_snapshot)" \
	"snapfs revert (2 small changes)" "$(m revert)" "cp -a of the snapshot" "$(m cp_a)" \
	"$(ratio revert cp_a)"
printf 'diff area growth for one revert: %s bytes (median)\n' "$(m revert_growth)"
