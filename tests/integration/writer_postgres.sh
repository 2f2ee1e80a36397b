#!/bin/bash
# The PostgreSQL writer end to end: a cluster whose data directory is on a snapfs volume
# (mounted with allow_other, the server running as user postgres), pgbench writing to it, and
# a snapshot set taken with the writer registered with a coordinator of the test's own. The
# writer must CHECKPOINT in freeze; a copy of the snapshot's data directory must start as a
# second server that recovers by WAL replay, and pgbench's invariant must hold there: the
# balances of accounts, branches and tellers and the deltas of the history all sum alike. Then
# the refusals: a writer that cannot reach its server, or reaches one serving another data
# directory, fails the set, which leaves no snapshot.
#
# Needs root (the server runs as postgres through runuser) and PostgreSQL's programs: PG_BINDIR,
# else the newest /usr/lib/postgresql/*/bin. Environment: SNAPFS, SNAPFSD, WRITER_POSTGRES.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse
: "${SNAPFSD:?SNAPFSD must point at the snapfsd binary}"
: "${WRITER_POSTGRES:?WRITER_POSTGRES must point at snapfs-writer-postgres}"

pgbin=${PG_BINDIR:-$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
for p in initdb pg_ctl pgbench psql pg_isready postgres; do
	if [ ! -x "$pgbin/$p" ]; then
		echo "FAIL: PostgreSQL's '$p' is not in '${pgbin:-/usr/lib/postgresql/*/bin}'" \
			"(install postgresql, or set PG_BINDIR)" >&2
		exit 1
	fi
done
if [ "$(id -u)" -ne 0 ] || ! id postgres >/dev/null 2>&1; then
	echo "FAIL: this test runs as root, with a 'postgres' user to run the servers" >&2
	exit 1
fi

# a coordinator of the test's own, which it starts; no client may start another on demand
own_coordinator
reached_end=0
port1=54321
port2=54322
sock=$T/pgsock
logs=$T/pglogs
mkdir -p "$sock" "$logs"
chown postgres: "$sock" "$logs"
servers=()

pg() {
	runuser -u postgres -- "$@"
}

# The servers go before lib.sh's cleanup unmounts the volume under the first one.
stop_servers() {
	local rc=$? d
	for d in "${servers[@]}"; do
		if [ -e "$d/postmaster.pid" ]; then
			pg "$pgbin/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
		fi
	done
	if [ "$_failures" -ne 0 ] || [ "$reached_end" -ne 1 ]; then
		for d in "$T"/snapfsd.log "$T"/writer*.log "$logs"/*.log; do
			[ -s "$d" ] || continue
			echo "---- $(basename "$d")" >&2
			tail -n 40 "$d" >&2
		done
	fi
	return "$rc"
}
trap 'stop_servers; _cleanup' EXIT

# start_server DATA PORT LOG: pg_ctl start, waiting until it accepts connections.
start_server() {
	servers+=("$1")
	pg "$pgbin/pg_ctl" -D "$1" -l "$3" -w -t 120 \
		-o "-p $2 -k $sock -c listen_addresses=''" start >/dev/null
}

# sql PORT QUERY: one value
sql() {
	"$pgbin/psql" -X -A -t -h "$sock" -p "$1" -U postgres -d postgres -c "$2"
}

# start_writer NAME ARGS...: a postgres writer logging to $T/writer-NAME.log, once registered.
start_writer() {
	local name=$1
	shift
	"$WRITER_POSTGRES" --name "$name" --host "$sock" "$@" 2>"$T/writer-$name.log" &
	WRITER_PID=$!
	_pids+=("$WRITER_PID")
	wait_writer "$name" || fail "writer '$name' did not register"
}

nsnaps() {
	"$SNAPFS" list shadows -H "$mnt" | wc -l
}

src=$T/src
mnt=$T/mnt
sfs_mount "$src" "$mnt" -o allow_other
start_coordinator

echo "== a cluster on the volume"
mkdir "$mnt/pg"
chown postgres: "$mnt/pg"
chmod 700 "$mnt/pg"
data=$mnt/pg/data
if ! pg "$pgbin/initdb" -D "$data" -U postgres --auth=trust >"$logs/initdb.log" 2>&1; then
	fail "initdb on the volume failed; its output:"
	cat "$logs/initdb.log" >&2
	exit 1
fi
pass "initdb on the volume"
start_server "$data" "$port1" "$logs/pg1.log"
pass "the server runs on the volume"
pg "$pgbin/pgbench" -h "$sock" -p "$port1" -U postgres -i -s 2 -q postgres \
	>"$logs/pgbench-init.log" 2>&1
pass "pgbench -i -s 2"
start_writer pg --pgdata "$data" --port "$port1"
writer=$WRITER_PID
check "the writer describes the data directory" grep -q "serving the cluster in '$data'" \
	"$T/writer-pg.log"

echo "== a snapshot under pgbench"
pg "$pgbin/pgbench" -h "$sock" -p "$port1" -U postgres -c 4 -T 20 postgres \
	>"$logs/pgbench.log" 2>&1 &
bench=$!
_pids+=("$bench")
sleep 6
line=$("$SNAPFS" create -H "$mnt")
set_id=$(cut -f2 <<<"$line")
browse=$(cut -f3 <<<"$line")
pass "snapshot $browse of set $set_id"
check "the writer checkpointed in freeze" \
	grep -q "set '$set_id': CHECKPOINT of '$data' (server [0-9]*) done" "$T/writer-pg.log"
rc=0
wait "$bench" || rc=$?
expect_eq "pgbench ran on through the snapshot" 0 "$rc"
check "... committing ($(grep -o 'processed: [0-9]*' "$logs/pgbench.log"))" \
	grep -q "number of failed transactions: 0" "$logs/pgbench.log"

echo "== a server on a copy of the snapshot"
copy=$T/copy/data
mkdir -p "$T/copy"
cp -a "$mnt/.snapshots/$browse/pg/data" "$copy"
chown -R postgres: "$T/copy"
chmod 700 "$copy"
rm -f "$copy/postmaster.pid"
if start_server "$copy" "$port2" "$logs/pg2.log"; then
	pass "the copy starts"
else
	fail "the copy does not start"
	exit 1
fi
check "it is ready" "$pgbin/pg_isready" -q -h "$sock" -p "$port2"
check "it recovered from a crash-consistent image" \
	grep -q "database system was not properly shut down; automatic recovery in progress" \
	"$logs/pg2.log"
check "... by WAL replay ($(grep -oE 'redo done at [^ ]+|redo is not required' "$logs/pg2.log" |
	head -n 1))" grep -qE "redo done at|redo is not required" "$logs/pg2.log"
sums=$(sql "$port2" "SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' ' ||
	(SELECT sum(bbalance) FROM pgbench_branches) || ' ' ||
	(SELECT sum(tbalance) FROM pgbench_tellers) || ' ' ||
	(SELECT coalesce(sum(delta), 0) FROM pgbench_history) || ' ' ||
	(SELECT count(*) FROM pgbench_history)")
read -r a b t h n <<<"$sums"
expect_eq "pgbench's invariant holds in the copy ($n transactions)" "$a $a $a" "$b $t $h"
check "the snapshot holds transactions from before it" test "$n" -gt 0
expect_eq "the copy holds its 200000 accounts" 200000 \
	"$(sql "$port2" "SELECT count(*) FROM pgbench_accounts")"

echo "== refusals"
before=$(nsnaps)
start_writer pg-nowhere --pgdata "$data" --port 54399
rc=0
"$SNAPFS" create -H "$mnt" >"$T/out" 2>"$T/err" || rc=$?
check "a writer that cannot reach its server fails the set" test "$rc" -ne 0
check "... saying so: $(cat "$T/err")" grep -qE "writer 'pg-nowhere' .*failed in freeze: \
cannot connect to PostgreSQL at '$sock' port 54399 as 'postgres': " "$T/err"
expect_eq "... and no snapshot remains" "$before" "$(nsnaps)"
kill "$WRITER_PID"
wait "$WRITER_PID" || true
start_writer pg-other --pgdata "$data" --port "$port2"
rc=0
"$SNAPFS" create -H "$mnt" >"$T/out" 2>"$T/err" || rc=$?
check "a writer whose server serves another directory fails the set" test "$rc" -ne 0
check "... saying so: $(cat "$T/err")" \
	grep -q "writer 'pg-other' .*serves '$copy', not --pgdata '$data'" "$T/err"
expect_eq "... and no snapshot remains" "$before" "$(nsnaps)"
kill "$WRITER_PID"
wait "$WRITER_PID" || true
"$SNAPFS" create -H "$mnt" >/dev/null
expect_eq "without them, a set is taken again" "$((before + 1))" "$(nsnaps)"

echo "== stop"
kill "$writer"
rc=0
wait "$writer" || rc=$?
expect_eq "the writer exits 0 on SIGTERM" 0 "$rc"
for d in "${servers[@]}"; do
	pg "$pgbin/pg_ctl" -D "$d" -m fast -w stop >/dev/null
done
pass "both servers stopped"
stop_coordinator
sfs_umount "$mnt"
reached_end=1
finish
