# Shared helpers of the integration tests: sourced by each script, after 'set -euo pipefail'.
#
# Each test gets its own temporary directory ($T) and registers what it starts; the EXIT trap
# unmounts every mount it made and stops every pid it started, whether the test passed or not.
#
# Environment: SNAPFS (path of the snapfs binary, set by meson), SNAPFS_TEST_KEEP=1 keeps $T.

: "${SNAPFS:?SNAPFS must point at the snapfs binary}"

T=$(mktemp -d /tmp/snapfs-test.XXXXXX)
chmod 755 "$T"

# The coordinator of this test has a runtime directory of its own: 'snapfs create' starts it
# on demand there (snapfsd beside snapfs), and the EXIT trap stops it.
export SNAPFS_RUNTIME_DIR="$T/run"
# ... and a state directory of its own: detached snapshots and exposures.
export SNAPFS_STATE_DIR="$T/state"
export SNAPFSD="${SNAPFSD:-$(dirname "$SNAPFS")/snapfsd}"
_mounts=()
_pids=()
declare -A _daemon_of=() _log_of=()
_failures=0
_at_exit=()

_cleanup() {
	local rc=$? m p i
	for m in "${_mounts[@]}"; do
		# no 'mountpoint' check: it fails on the dead mount of a crashed daemon
		fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	# what the commands mounted themselves beneath $T (exposed snapshots), innermost first
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r)
	for p in "${_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	if [ "${#_at_exit[@]}" -gt 0 ]; then
		# what at_exit undoes may be in use by the daemons until they have ended
		for p in "${_pids[@]}"; do
			wait "$p" 2>/dev/null || true
		done
		for ((i = ${#_at_exit[@]} - 1; i >= 0; i--)); do
			eval "${_at_exit[i]}" || true
		done
	fi
	_stop_coordinator
	if [ "${SNAPFS_TEST_KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "kept $T" >&2
	fi
	exit "$rc"
}
trap _cleanup EXIT

# own_coordinator: the test starts and stops its coordinator itself (start_coordinator,
# stop_coordinator), and no client may start one on demand behind its back.
own_coordinator() {
	COORDINATOR=$SNAPFSD
	export SNAPFSD=$T/no-snapfsd
	mkdir -p "$SNAPFS_RUNTIME_DIR"
}

# start_coordinator [ARGS...]: snapfsd -f in the background, logging to $T/snapfsd.log, until
# it answers; sets SNAPFSD_PID.
start_coordinator() {
	local i
	"${COORDINATOR:-$SNAPFSD}" -f "$@" 2>>"$T/snapfsd.log" &
	SNAPFSD_PID=$!
	_pids+=("$SNAPFSD_PID")
	for i in $(seq 100); do
		"$SNAPFS" list writers -H >/dev/null 2>&1 && return 0
		kill -0 "$SNAPFSD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "FAIL: the coordinator does not serve $SNAPFS_RUNTIME_DIR/snapfsd.sock" >&2
	cat "$T/snapfsd.log" >&2
	exit 1
}

# stop_coordinator: SIGTERM to the one start_coordinator started, if it runs, and wait for it
stop_coordinator() {
	[ -n "${SNAPFSD_PID:-}" ] || return 0
	kill "$SNAPFSD_PID" 2>/dev/null || true
	wait "$SNAPFSD_PID" 2>/dev/null || true
	forget_pid "$SNAPFSD_PID"
	SNAPFSD_PID=
}

# wait_writer NAME: wait up to 5 s until a writer named NAME is registered; 1 if it is not.
wait_writer() {
	local i
	for i in $(seq 50); do
		"$SNAPFS" list writers -H 2>/dev/null | grep -q "	$1	" && return 0
		sleep 0.1
	done
	return 1
}

# forget_pid PID: PID has been reaped; the EXIT trap must not signal it (the number may be reused)
forget_pid() {
	local i
	for i in "${!_pids[@]}"; do
		[ "${_pids[i]}" != "$1" ] || unset "_pids[i]"
	done
	_pids=("${_pids[@]}")
}

# Stop the coordinator that serves $SNAPFS_RUNTIME_DIR, if one runs (its pid is in its lock).
_stop_coordinator() {
	local lock="$SNAPFS_RUNTIME_DIR/snapfsd.lock" pid i
	[ -f "$lock" ] || return 0
	pid=$(cat "$lock" 2>/dev/null || true)
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" == snapfsd ] || return 0
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		[ -d "/proc/$pid" ] || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

# at_exit COMMAND: run the shell command COMMAND when the test ends, however it ends: after
# its mounts are unmounted and the processes it started have ended, before $T is removed (the
# last registered runs first). For what a test sets up besides mounts: a loop-mounted btrfs.
at_exit() {
	_at_exit+=("$1")
}

fail() {
	echo "FAIL: $*" >&2
	_failures=$((_failures + 1))
}

pass() {
	echo "ok: $*"
}

# check DESCRIPTION COMMAND...: run the command, count a failure if it fails.
check() {
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		fail "$what"
	fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1: expected '$2', got '$3'"
	fi
}

# refused DESCRIPTION PATTERN ARGS...: 'snapfs ARGS' fails with one line on stderr matching
# PATTERN (grep -E), counted as a failure otherwise. Its output is left in $T/out and $T/err.
refused() {
	local what=$1 pattern=$2 rc=0
	shift 2
	"$SNAPFS" "$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -eq 0 ]; then
		fail "$what: exit status 0"
		return
	fi
	if [ "$(wc -l <"$T/err")" -ne 1 ]; then
		fail "$what: expected one line on stderr, got: $(cat "$T/err")"
		return
	fi
	if ! grep -qE -- "$pattern" "$T/err"; then
		fail "$what: message '$(cat "$T/err")' does not match '$pattern'"
		return
	fi
	pass "$what: $(cat "$T/err")"
}

# Require a usable /dev/fuse: a test that cannot mount fails and says why.
require_fuse() {
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
		echo "FAIL: FUSE is unusable here (/dev/fuse or fusermount3 missing)" >&2
		exit 1
	fi
}

# wait_mounted MNT: wait up to 10 s until MNT is a mount point.
wait_mounted() {
	local i
	for i in $(seq 100); do
		mountpoint -q "$1" && return 0
		sleep 0.1
	done
	echo "FAIL: '$1' did not become a mount point" >&2
	return 1
}

# sfs_mount SRC MNT [snapfs mount options...]: mount in the background (foreground daemon,
# logged to $T/daemon-N.log), wait for it, and register it for cleanup. Sets SFS_PID.
sfs_mount() {
	local src=$1 mnt=$2
	shift 2
	local log=$T/daemon-${#_pids[@]}.log
	mkdir -p "$src" "$mnt"
	_mounts+=("$mnt")
	"$SNAPFS" mount -f "$@" "$src" "$mnt" >"$log" 2>&1 &
	SFS_PID=$!
	_pids+=("$SFS_PID")
	_daemon_of[$mnt]=$SFS_PID
	_log_of[$mnt]=$log
	wait_mounted "$mnt"
}

# sfs_umount MNT: unmount through 'snapfs umount', wait for the daemon that sfs_mount started,
# and count a failure if it exited with an error (a sanitizer report, say), showing its log.
sfs_umount() {
	local mnt=$1 pid rc=0
	"$SNAPFS" umount "$mnt"
	pid=${_daemon_of[$mnt]:-}
	[ -n "$pid" ] || return 0
	wait "$pid" || rc=$?
	unset "_daemon_of[$mnt]"
	if [ "$rc" -ne 0 ]; then
		fail "daemon of '$mnt' exited with status $rc; its log:"
		cat "${_log_of[$mnt]}" >&2
	fi
}

# stuck_client SOCKET SECONDS: a client of the unix socket SOCKET that connects and says nothing
# for SECONDS, in the background; returns once it is connected (or counts a failure). Sets
# STUCK_PID.
stuck_client() {
	local flag i
	flag=$(mktemp -u "$T/stuck.XXXXXX")
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1])
open(sys.argv[2], "w").close(); time.sleep(float(sys.argv[3]))' "$1" "$flag" "$2" &
	STUCK_PID=$!
	_pids+=("$STUCK_PID")
	for ((i = 0; i < 100; i++)); do
		[ -e "$flag" ] && return 0
		kill -0 "$STUCK_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "a client could not connect to '$1'"
}

# finish: the closing line; exit status says whether every check passed.
finish() {
	echo "$(basename "$0"): ${_failures} failed"
	[ "$_failures" -eq 0 ]
}
