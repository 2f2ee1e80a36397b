#!/bin/bash
# libsnapfs as a third party sees it: install the build into a staging root, build a writer and
# a requester (tests/integration/example/) with only 'pkg-config snapfs' and the installed
# headers, and take a snapshot set with them: the writer gets the events in order, the
# requester gets paths that read the snapshot.
#
# Environment: SNAPFS, SNAPFSD, BUILD_ROOT (the meson build directory), SANITIZE (the build's
# b_sanitize: a sanitized libsnapfs needs its runtime in the programs too), CC (default cc).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${BUILD_ROOT:?BUILD_ROOT must name the meson build directory}"
here=$(cd "$(dirname "$0")" && pwd)
require_fuse

root=$T/root
meson install -C "$BUILD_ROOT" --destdir "$root" --no-rebuild --quiet >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log" >&2; fail "meson install into a staging root"; finish; }
pc=$(find "$root" -name snapfs.pc -print -quit)
check "the pkg-config file is installed" test -n "$pc"
check "the headers are installed" test -f "$(find "$root" -path '*/include/snapfs/writer.h' |
	head -1)"
export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs snapfs)
check "pkg-config names the library" grep -q -- '-lsnapfs' <<<"$flags"
[ "${SANITIZE:-none}" == none ] || flags="$flags -fsanitize=$SANITIZE"
for prog in writer requester; do
	# shellcheck disable=SC2086
	check "the example $prog builds from the installed files alone" \
		"${CC:-cc}" -std=gnu11 -Wall -Werror -o "$T/$prog" "$here/example/$prog.c" $flags
done
lines=$(grep -cvE '^\s*($|/?\*|//)' "$here/example/writer.c")
check "a writer takes a few dozen lines ($lines)" test "$lines" -le 50
export LD_LIBRARY_PATH=${pc%/pkgconfig*}

mkdir "$T/src" "$T/mnt"
echo before >"$T/src/data"
sfs_mount "$T/src" "$T/mnt"
"$T/writer" "$T/events" "$T/mnt/data" 2>"$T/writer.err" &
writer=$!
_pids+=("$writer")
check "the writer registered" wait_writer example
out=$("$T/requester" "$T/mnt") || fail "the requester failed: $out"
set_id=$(awk '{print $1}' <<<"$out")
path=$(awk '{print $2}' <<<"$out")
echo after >"$T/mnt/data"
expect_eq "the snapshot reads what was there" before "$(cat "$path/data" 2>&1)"
expect_eq "the writer got the events in order" \
	"prepare-backup freeze thaw post-snapshot backup-complete" \
	"$(awk -v s="$set_id" '$2 == s {print $1}' "$T/events" | xargs)"
kill "$writer"
wait "$writer" && pass "the writer ends on SIGTERM with status 0" ||
	fail "the writer's status on SIGTERM: $? ($(cat "$T/writer.err"))"
finish
