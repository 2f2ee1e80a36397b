#!/bin/bash
# Differential POSIX conformance: the conform battery prints one normalized line per check, so
# a run on the backing filesystem (a plain directory under $T) and runs inside snapfs mounts
# must print exactly the same text. The mount is tried with the writeback cache (the default)
# and with -o no_writeback, then with snapshots taken all along by the copy-on-write,
# redirect-on-write and complete-copy providers; allow_other lets conform's unprivileged
# children in.
#
# Environment: SNAPFS and CONFORM (set by meson).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse
: "${CONFORM:?CONFORM must point at the conform binary}"

# Fewer lines than this means the battery broke off: never a pass.
MIN_LINES=200

# run_conform NAME DIR: run the battery in the empty directory DIR into $T/NAME.out.
run_conform() {
	local name=$1 dir=$2 n
	mkdir -p "$dir"
	if ! "$CONFORM" "$dir" >"$T/$name.out" 2>"$T/$name.err"; then
		fail "$name: conform failed: $(tail -n 3 "$T/$name.err")"
		return 1
	fi
	n=$(wc -l <"$T/$name.out")
	if [ "$n" -lt "$MIN_LINES" ]; then
		fail "$name: conform printed $n lines, expected at least $MIN_LINES"
		return 1
	fi
	pass "$name: $n checks ran"
}

# show_differences A B: the lines that differ, paired by position when the counts agree.
show_differences() {
	if [ "$(wc -l <"$1")" -eq "$(wc -l <"$2")" ]; then
		paste -d '\n' "$1" "$2" | awk 'NR % 2 { prev = $0; next }
			prev != $0 { print "  ext4:   " prev; print "  snapfs: " $0 }'
	else
		diff "$1" "$2" | sed -n 's/^< /  ext4:   /p; s/^> /  snapfs: /p'
	fi
}

# known_reason MODE CHECK: the reason listed in conform_known.txt, or nothing.
known_reason() {
	local mode=$1 check=$2 m pattern reason
	while read -r m pattern reason; do
		case "$m" in '#'* | '') continue ;; esac
		[ "$m" == all ] || [ "$m" == "$mode" ] || continue
		# shellcheck disable=SC2254
		case "$check" in $pattern) echo "$reason"; return ;; esac
	done <"$(dirname "$0")/conform_known.txt"
}

# compare NAME: $T/NAME.out against the run on the backing filesystem. Differences listed in
# conform_known.txt for this mode are reported and allowed; any other fails.
compare() {
	local name=$1 check reason unknown=0 known=0
	if cmp -s "$T/plain.out" "$T/$name.out"; then
		pass "$name: identical to the backing filesystem"
		return 0
	fi
	if [ "$(wc -l <"$T/plain.out")" -ne "$(wc -l <"$T/$name.out")" ]; then
		show_differences "$T/plain.out" "$T/$name.out" >&2
		fail "$name: a different number of checks ran than on the backing filesystem"
		return 0
	fi
	while read -r check; do
		reason=$(known_reason "$name" "$check")
		if [ -n "$reason" ]; then
			known=$((known + 1))
			echo "known difference: $name: $check: $reason"
		else
			unknown=$((unknown + 1))
			echo "unexpected difference: $name: $check" >&2
		fi
	done < <(paste -d '\t' "$T/plain.out" "$T/$name.out" |
		awk -F '\t' '$1 != $2 { sub(/:.*/, "", $1); print $1 }')
	if [ "$unknown" -gt 0 ]; then
		show_differences "$T/plain.out" "$T/$name.out" >&2
		fail "$name: $unknown lines differ from the backing filesystem (and $known known ones)"
	else
		pass "$name: identical to the backing filesystem but for $known known differences"
	fi
}

# through_snapfs NAME [mount options...]: mount, run the battery in a subdirectory, unmount.
# With SNAPSHOTS=1, snapshots are taken all along, so the battery's changes go through the
# engine's preservation (the graveyard, journaled entries, preserved chunks and attributes).
through_snapfs() {
	local name=$1 src=$T/src-$1 mnt=$T/mnt-$1 snapper=
	shift
	if ! sfs_mount "$src" "$mnt" -o allow_other "$@"; then
		fail "$name: cannot mount: $(cat "$T"/daemon-*.log 2>/dev/null | tail -n 3)"
		return 0
	fi
	if [ "${SNAPSHOTS:-0}" == 1 ]; then
		"$SNAPFS" create "$mnt" >/dev/null
		# snapshots all through the battery, at least one more; stopped between two, never
		# in the middle of one (which could outlive the unmount)
		(while "$SNAPFS" create "$mnt" >/dev/null && [ ! -e "$T/stop-$name" ]; do
			sleep 0.1
		done) &
		snapper=$!
		_pids+=("$snapper")
	fi
	if run_conform "$name" "$mnt/conform"; then
		compare "$name"
	fi
	if [ -n "$snapper" ]; then
		touch "$T/stop-$name"
		wait "$snapper" || true
		check "$name: snapshots were taken" test "$("$SNAPFS" list shadows -H "$mnt" | wc -l)" -gt 1
	fi
	check "$name: unmount" sfs_umount "$mnt"
}

if run_conform plain "$T/plain"; then
	through_snapfs writeback
	through_snapfs no_writeback -o no_writeback
	SNAPSHOTS=1 through_snapfs snapshots
	SNAPSHOTS=1 through_snapfs snapshots-row --method row
	SNAPSHOTS=1 through_snapfs snapshots-clone --method clone
fi
finish
