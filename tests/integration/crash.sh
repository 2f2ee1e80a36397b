#!/bin/bash
# The crash test: the daemon is killed with SIGKILL at random moments while a load writes,
# fsyncs, overwrites, truncates and renames, and snapshots are taken. After each remount every
# snapshot must read back exactly what it showed when it was taken (checksums of every file,
# and the list of names with their types and sizes), and the live tree must hold every write
# whose fsync returned.
#
# SNAPFS_CRASH_ROUNDS (default 6) sets the number of kills; SNAPFS_CRASH_SEED the first seed.
# SNAPFS_PROVIDER (default cow) names the provider the volume is made with: cow, row, clone or
# btrfs; for btrfs, SRC is a subvolume of a btrfs on a loop device (btrfs.sh), and the test is
# skipped (77) where there can be none.
# With clone, after each remount the test also waits until every snapshot's copy is complete
# (listed as 'tree') and checks each snapshot again: the copy must hold what the snapshot
# showed when it was taken.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${CRASHLOAD:?CRASHLOAD must point at the crashload helper}"
require_fuse

rounds=${SNAPFS_CRASH_ROUNDS:-6}
seed=${SNAPFS_CRASH_SEED:-$RANDOM}
provider=${SNAPFS_PROVIDER:-cow}
echo "crash test: provider $provider, $rounds rounds, seed $seed"
RANDOM=$seed

src=$T/src
mnt=$T/mnt
sums=$T/sums
mkdir -p "$sums"

if [ "$provider" == btrfs ]; then
	. "$(dirname "$0")/btrfs.sh"
	# shellcheck disable=SC2016 # expanded when it runs
	at_exit 'btrfs_cleanup "$T/btrfs"'
	rc=0
	btrfs_setup "$T/btrfs" || rc=$?
	if [ "$rc" -eq 77 ]; then
		echo "SKIP: no btrfs on a loop device here"
		exit 77
	elif [ "$rc" -ne 0 ]; then
		echo "FAIL: cannot make a btrfs for SRC" >&2
		exit 1
	fi
	src=$T/btrfs/mnt/src
	btrfs subvolume create "$src" >/dev/null
fi

# describe DIR: every name with its type and size, then the checksum of every file.
describe() {
	(cd "$1" && find . -mindepth 1 -printf '%y %s %p\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# verify_snapshots [WHEN]: every snapshot reads back what it showed when it was taken.
verify_snapshots() {
	local f browse n=0 when=${1:-after the crash}
	for f in "$sums"/@GMT-*; do
		[ -e "$f" ] || continue
		browse=$(basename "$f")
		if ! describe "$mnt/.snapshots/$browse" >"$T/now" 2>"$T/err"; then
			fail "snapshot $browse cannot be read $when: $(head -1 "$T/err")"
			continue
		fi
		if ! cmp -s "$f" "$T/now"; then
			fail "snapshot $browse differs $when:"
			diff "$f" "$T/now" | head -10 >&2 || true
			continue
		fi
		n=$((n + 1))
	done
	pass "$n snapshots read back exactly $when"
}

# snapshot: take a snapshot and record what it shows
snapshot() {
	local out browse
	if out=$("$SNAPFS" create -H "$mnt" 2>"$T/err"); then
		browse=$(cut -f3 <<<"$out")
		describe "$mnt/.snapshots/$browse" >"$sums/$browse" ||
			fail "snapshot $browse cannot be read right after it was taken"
	else
		fail "snapfs create failed under load: $(cat "$T/err")"
	fi
}

# wait_trees: wait (60 s at most) until every snapshot is stored as a tree, its copy complete.
wait_trees() {
	local i kinds
	for i in $(seq 600); do
		kinds=$("$SNAPFS" list shadows -H "$mnt" | cut -f7 | sort -u | xargs)
		case $kinds in '' | tree) return 0 ;; esac
		sleep 0.1
	done
	fail "copies still not complete after 60 s: $("$SNAPFS" list shadows -H "$mnt" |
		cut -f1,7 | grep -vc 'tree$') of them"
	return 1
}

if [ "$provider" == clone ]; then
	# enough files that a copy takes a while: the kills fall on copies under way
	mkdir -p "$src/ballast"
	for i in $(seq 500); do
		echo "$i" >"$src/ballast/$i"
	done
fi
sfs_mount "$src" "$mnt" --provider "$provider"
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
		snapshot
		sleep "0.$((RANDOM % 5))"
	done
	sleep "0.$((RANDOM % 10))"
	# clone: one more, so that the kill falls on its copy under way
	[ "$provider" != clone ] || snapshot
	kill -KILL "$SFS_PID"
	wait "$SFS_PID" 2>/dev/null || true
	unset "_daemon_of[$mnt]"
	wait "$load" || true
	fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt"
	echo "round $round: killed the daemon after $(wc -l <"$T/log") fsync'd records"

	sfs_mount "$src" "$mnt"
	if [ "$provider" == clone ]; then
		echo "round $round: $("$SNAPFS" list shadows -H "$mnt" | grep -c 'journal$' || true)" \
			"copies pending at the remount"
	fi
	verify_snapshots
	check "round $round: every fsync'd write survived" "$CRASHLOAD" verify "$mnt" "$T/log"
	if [ "$provider" == clone ] && wait_trees; then
		verify_snapshots "from their complete copies"
		expect_eq "round $round: one tree per snapshot, nothing partial" \
			"$("$SNAPFS" list shadows -H "$mnt" | cut -f1 | sort | xargs)" \
			"$(ls "$src/.snapfs/trees" | sort | xargs)"
	fi
done
count=$("$SNAPFS" list shadows -H "$mnt" | wc -l)
expect_eq "every snapshot taken is listed" "$(ls "$sums" | wc -l)" "$count"
sfs_umount "$mnt"
finish
