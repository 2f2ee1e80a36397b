# shellcheck shell=bash
# benchlib.sh: what bench.sh and snapbench.sh share, sourced by each after 'set -euo pipefail':
# checks of the machine, the snapfs binary, the temporary directory and its cleanup, and the
# daemons (snapfs, passthrough_ll, bindfs) each serving $T/NAME/src on $T/NAME/mnt.
#
# Environment (besides each script's own):
#   SNAPFS=PATH            snapfs binary to use (default: BUILD_DIR/cli/snapfs, built if needed)
#   BENCH_TMPDIR=/var/tmp  where the temporary directory goes
#   SNAPFS_MOUNT_OPTS=...  extra arguments for 'snapfs mount'
#   PTLL_SRC=PATH          passthrough_ll.c to compile (default: the libfuse3-dev example)
#   BENCH_KEEP=1           keep the temporary directory after the run

bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

BENCH_TMPDIR=${BENCH_TMPDIR:-/var/tmp}
SNAPFS_MOUNT_OPTS=${SNAPFS_MOUNT_OPTS:-}
PTLL_SRC=${PTLL_SRC:-/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c}

# The daemons started and not yet unmounted, by name.
declare -A daemon_pid=()

# Commands (function names) the cleanup runs after the daemons are stopped and before $T is
# removed, in order: a script appends to it to undo what it set up under $T itself (a
# filesystem it mounted, a loop device).
bench_cleanup_hooks=()

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

# bench_require_root: root (to mount and to drop caches) and a usable /dev/fuse.
bench_require_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (it mounts and writes /proc/sys/vm/drop_caches)"
	[ -c /dev/fuse ] || die "/dev/fuse is missing: FUSE is unusable here"
}

# bench_require_commands COMMAND...: each must be installed.
bench_require_commands() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null || die "'$cmd' is not installed"
	done
}

# bench_find_snapfs [BUILD_DIR]: unless SNAPFS is set, build BUILD_DIR/cli/snapfs (default
# build directory: build/ at the top of the tree, set up if needed) and use it. Sets SNAPFS
# to an absolute path.
bench_find_snapfs() {
	local build
	if [ -z "${SNAPFS:-}" ]; then
		build=${1:-$bench_top/build}
		if [ ! -f "$build/build.ninja" ]; then
			echo "setting up a build in '$build'"
			(cd "$bench_top" && meson setup -Dtests=disabled "$build") >/dev/null ||
				die "meson setup of '$build' failed"
		fi
		ninja -C "$build" cli/snapfs >/dev/null || die "building '$build/cli/snapfs' failed"
		SNAPFS=$build/cli/snapfs
	fi
	[ -x "$SNAPFS" ] || die "snapfs binary '$SNAPFS' is not executable"
	SNAPFS=$(realpath "$SNAPFS")
}

# bench_raise_fd_limit: the open-file limit of the script and so of every daemon, as high as
# allowed. passthrough_ll holds a descriptor for every inode the kernel knows; snapfs sizes
# its descriptor cache from the limit.
bench_raise_fd_limit() {
	ulimit -Hn 1048576 2>/dev/null || true
	ulimit -n "$(ulimit -Hn)"
}

# bench_make_tmpdir PREFIX NAME...: make the temporary directory $T (with bin/, log/ and the
# empty results file $results) and install the cleanup that, on exit, unmounts $T/NAME/mnt of
# each NAME (a script may append names to bench_names later), stops the daemons still
# running, runs bench_cleanup_hooks and removes $T (unless BENCH_KEEP=1).
bench_make_tmpdir() {
	T=$(mktemp -d "$BENCH_TMPDIR/$1.XXXXXX")
	shift
	bench_names=("$@")
	chmod 755 "$T"
	mkdir "$T/bin" "$T/log"
	results=$T/results.tsv
	: >"$results"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

bench_cleanup() {
	local rc=$? name mnt pid hook
	trap - EXIT INT TERM
	for name in "${bench_names[@]}"; do
		mnt=$T/$name/mnt
		if mountpoint -q "$mnt" 2>/dev/null; then
			umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
		fi
	done
	for name in "${!daemon_pid[@]}"; do
		pid=${daemon_pid[$name]}
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for hook in "${bench_cleanup_hooks[@]}"; do
		"$hook" || true
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}

# bench_build_ptll: compile libfuse's passthrough_ll example into $T/bin.
bench_build_ptll() {
	[ -f "$PTLL_SRC" ] || die "'$PTLL_SRC' is missing (package libfuse3-dev)"
	# shellcheck disable=SC2046 # pkg-config prints several words on purpose
	cc -O2 -Wall -o "$T/bin/passthrough_ll" "$PTLL_SRC" $(pkg-config --cflags --libs fuse3) ||
		die "cannot compile '$PTLL_SRC'"
}

# bench_mount NAME KIND: start the daemon of KIND (snapfs, passthrough_ll or bindfs, in the
# foreground, logged to $T/log/NAME.log) serving $T/NAME/src on $T/NAME/mnt, and wait until
# the mount is there:
#   snapfs          'snapfs mount -f $SNAPFS_MOUNT_OPTS SRC MNT'
#   passthrough_ll  'passthrough_ll -f -o source=SRC,writeback MNT'
#   bindfs          'bindfs -f --multithreaded SRC MNT'
bench_mount() {
	local name=$1 kind=$2 src=$T/$1/src mnt=$T/$1/mnt log=$T/log/$1.log
	local -a extra
	mkdir -p "$src" "$mnt"
	case $kind in
	snapfs)
		read -r -a extra <<<"$SNAPFS_MOUNT_OPTS"
		"$SNAPFS" mount -f "${extra[@]}" "$src" "$mnt" </dev/null >>"$log" 2>&1 &
		;;
	passthrough_ll)
		"$T/bin/passthrough_ll" -f -o "source=$src,writeback" "$mnt" </dev/null \
			>>"$log" 2>&1 &
		;;
	bindfs)
		bindfs -f --multithreaded "$src" "$mnt" </dev/null >>"$log" 2>&1 &
		;;
	esac
	daemon_pid[$name]=$!
	for _ in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		kill -0 "${daemon_pid[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log" >&2
	die "$name did not mount on '$mnt'"
}

# bench_umount NAME KIND: unmount $T/NAME/mnt and wait for its daemon to exit.
bench_umount() {
	local name=$1 kind=$2 mnt=$T/$1/mnt pid
	if [ "$kind" = snapfs ]; then
		"$SNAPFS" umount "$mnt" || die "'snapfs umount $mnt' failed"
	else
		fusermount3 -u "$mnt" || die "cannot unmount $kind from '$mnt'"
	fi
	pid=${daemon_pid[$name]}
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && die "the $name daemon (pid $pid) did not exit after unmount"
	wait "$pid" || die "the $name daemon exited with status $? (see $T/log/$name.log)"
	unset "daemon_pid[$name]"
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# Terse format 3 fields: 7 read KiB/s, 8 read IOPS, 48 write KiB/s, 49 write IOPS.
# terse_field FIELD DECIMALS: that field of fio's terse line on stdin (KiB/s as MiB/s).
terse_field() {
	awk -F';' -v f="$1" -v d="$2" \
		'NR == 1 { printf "%." d "f\n", $f / (f == 7 || f == 48 ? 1024 : 1) }'
}

# bench_describe TITLE: TITLE and the machine, the temporary directory, the snapfs command.
bench_describe() {
	echo "$1: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' \
		/proc/meminfo), kernel $(uname -r)"
	echo "temporary directory $T on $(df -T "$T" | awk 'NR == 2 { print $2 " (" $1 ")" }')"
	echo "snapfs: $SNAPFS mount -f ${SNAPFS_MOUNT_OPTS:+$SNAPFS_MOUNT_OPTS }SRC MNT"
}

# bench_copy_results: copy the raw results to BENCH_RESULTS when it is set.
bench_copy_results() {
	if [ -n "${BENCH_RESULTS:-}" ]; then
		cp "$results" "$BENCH_RESULTS"
		echo "raw results copied to $BENCH_RESULTS"
	fi
}
