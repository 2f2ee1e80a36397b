#!/bin/bash
# The crash test: the daemon is killed with SIGKILL at random moments while a load writes,
# fsyncs, overwrites, truncates and renames, and snapshots are taken. After each remount every
# snapshot must read back exactly what it showed when it was taken (checksums of every file,
# and the list of names with their types and sizes), and the live tree must hold every write
# whose fsync returned.
#
# SNAPFS_CRASH_ROUNDS (default 6) sets the number of kills; SNAPFS_CRASH_SEED the first seed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${CRASHLOAD:?CRASHLOAD must point at the crashload helper}"
require_fuse

rounds=${SNAPFS_CRASH_ROUNDS:-6}
seed=${SNAPFS_CRASH_SEED:-$RANDOM}
echo "crash test: $rounds rounds, seed $seed"
RANDOM=$seed

src=$T/src
mnt=$T/mnt
sums=$T/sums
mkdir -p "$sums"

# describe DIR: every name with its type and size, then the checksum of every file.
describe() {
	(cd "$1" && find . -mindepth 1 -printf '%y %s %p\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

verify_snapshots() {
	local f browse n=0
	for f in "$sums"/@GMT-*; do
		[ -e "$f" ] || continue
		browse=$(basename "$f")
		if ! describe "$mnt/.snapshots/$browse" >"$T/now" 2>"$T/err"; then
			fail "snapshot $browse cannot be read after the crash: $(head -1 "$T/err")"
			continue
		fi
		if ! cmp -s "$f" "$T/now"; then
			fail "snapshot $browse differs after the crash:"
			diff "$f" "$T/now" | head -10 >&2
			continue
		fi
		n=$((n + 1))
	done
	pass "$n snapshots read back exactly"
}

sfs_mount "$src" "$mnt"
for round in $(seq "$rounds"); do
	opts=()
	if [ $((round % 2)) -eq 0 ]; then
		opts=(-o no_writeback)
		sfs_umount "$mnt"
		sfs_mount "$src" "$mnt" "${opts[@]}"
	fi
	"$CRASHLOAD" run "$mnt" "$T/log" "$((seed + round))" 2>/dev/null &
	load=$!
	_pids+=("$load")
	# snapshots while the load runs, then the kill at a random moment
	deadline=$((SECONDS + 1 + RANDOM % 3))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if out=$("$SNAPFS" create -H "$mnt" 2>"$T/err"); then
			browse=$(cut -f3 <<<"$out")
			describe "$mnt/.snapshots/$browse" >"$sums/$browse" ||
				fail "snapshot $browse cannot be read right after it was taken"
		else
			fail "snapfs create failed under load: $(cat "$T/err")"
		fi
		sleep "0.$((RANDOM % 5))"
	done
	sleep "0.$((RANDOM % 10))"
	kill -KILL "$SFS_PID"
	wait "$SFS_PID" 2>/dev/null || true
	unset "_daemon_of[$mnt]"
	wait "$load" || true
	fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt"
	echo "round $round: killed the daemon after $(wc -l <"$T/log") fsync'd records"

	sfs_mount "$src" "$mnt"
	verify_snapshots
	check "round $round: every fsync'd write survived" "$CRASHLOAD" verify "$mnt" "$T/log"
done
count=$("$SNAPFS" list shadows -H "$mnt" | wc -l)
expect_eq "every snapshot taken is listed" "$(ls "$sums" | wc -l)" "$count"
sfs_umount "$mnt"
finish
