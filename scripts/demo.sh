#!/bin/bash
# A first look at snapfs: install the dependencies, build, then mount a temporary directory,
# write through the mount, take a snapshot, change things, read the old version back under
# .snapshots/, revert the volume to it, delete the snapshots and unmount. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/demo.sh: run as root (it installs packages and mounts)" >&2
	exit 1
fi
scripts/deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
snapfs=$PWD/$build/cli/snapfs

demo=$(mktemp -d /tmp/snapfs-demo.XXXXXX)
# the coordinator that 'snapfs create' starts on demand: one of the demo's own, stopped at the end
export SNAPFS_RUNTIME_DIR=$demo/run SNAPFS_STATE_DIR=$demo/state
cleanup() {
	local pid
	mountpoint -q "$demo/mnt" && "$snapfs" umount "$demo/mnt"
	pid=$(cat "$SNAPFS_RUNTIME_DIR/snapfsd.lock" 2>/dev/null || true)
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" == snapfsd ] && kill "$pid"
	rm -rf "$demo"
}
trap cleanup EXIT
mkdir "$demo/src" "$demo/mnt"
echo "version 1" >"$demo/src/report.txt"

run() {
	echo "\$ $*"
	"$@"
}

run "$snapfs" mount "$demo/src" "$demo/mnt"
run ls -la "$demo/mnt"
run cat "$demo/mnt/report.txt"
run mkdir "$demo/mnt/notes"
run cp /etc/os-release "$demo/mnt/notes/"
echo "# a snapshot costs the same for any size of volume: nothing is copied now"
run "$snapfs" create "$demo/mnt"
echo "\$ echo 'version 2' > $demo/mnt/report.txt; rm $demo/mnt/notes/os-release"
echo "version 2" >"$demo/mnt/report.txt"
rm "$demo/mnt/notes/os-release"
run cat "$demo/mnt/report.txt"
run ls -la "$demo/mnt/.snapshots"
snap=$(ls "$demo/mnt/.snapshots" | tail -1)
echo "# the snapshot still holds the old state, read-only"
run cat "$demo/mnt/.snapshots/$snap/report.txt"
run ls -la "$demo/mnt/.snapshots/$snap/notes"
echo "\$ echo 'try' > $demo/mnt/.snapshots/$snap/report.txt"
echo try 2>&1 >"$demo/mnt/.snapshots/$snap/report.txt" || true
id=$("$snapfs" list shadows -H "$demo/mnt" | sed -n 1p | cut -f1)
echo "# revert: the volume becomes the snapshot again, and the state it leaves is kept too"
run "$snapfs" revert "$id"
run cat "$demo/mnt/report.txt"
run ls "$demo/mnt/notes"
echo "# how many diff-area bytes each snapshot holds (what deleting it frees)"
run "$snapfs" list shadows "$demo/mnt"
run "$snapfs" delete shadows --all "$demo/mnt"
run "$snapfs" umount "$demo/mnt"
run cat "$demo/src/report.txt"
echo "demo finished: SRC is an ordinary directory again (with snapfs's state in .snapfs/)"
