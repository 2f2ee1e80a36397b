#!/bin/bash
# A first look at snapfs: install the dependencies, build, then mount a temporary directory,
# write through the mount, look at what SRC holds, and unmount. Run as root.
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
cleanup() {
	mountpoint -q "$demo/mnt" && "$snapfs" umount "$demo/mnt"
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
echo "\$ echo 'version 2' > $demo/mnt/report.txt"
echo "version 2" >"$demo/mnt/report.txt"
run mkdir "$demo/mnt/notes"
run cp /etc/os-release "$demo/mnt/notes/"
run ls -la "$demo/src" "$demo/mnt/notes"
echo "# SRC holds snapfs's state in .snapfs/, which the mount never shows"
run "$snapfs" umount "$demo/mnt"
run cat "$demo/src/report.txt"
echo "demo finished: SRC is an ordinary directory again"
