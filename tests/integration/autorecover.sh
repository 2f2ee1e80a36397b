#!/bin/bash
# Auto-recovery: SQLite databases whose lock an application holds through the freeze (a long
# transaction under way, its pages already in the database file or WAL) come out of a snapshot
# set clean where the volume's provider lets writers repair the snapshot (btrfs, on a
# loop-mounted image): the SQLite writer rolls the copy back in the snapshot before it is
# sealed. Where it cannot (copy-on-write), the writer refuses the set instead.
#
# Environment: SNAPFS, SNAPFSD, WRITER_SQLITE.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/btrfs.sh"
: "${WRITER_SQLITE:?WRITER_SQLITE must point at snapfs-writer-sqlite}"
require_fuse

# shellcheck disable=SC2016 # expanded when it runs
at_exit 'btrfs_cleanup "$T/btrfs"'
rc=0
btrfs_setup "$T/btrfs" || rc=$?
if [ "$rc" -ne 0 ]; then
	fail "cannot make a btrfs on a loop device (status $rc)"
	finish
fi
btrfs subvolume create "$T/btrfs/mnt/vol" >/dev/null
sfs_mount "$T/btrfs/mnt/vol" "$T/bmnt" --provider btrfs
sfs_mount "$T/csrc" "$T/cmnt"
expect_eq "btrfs volumes offer auto-recovery" yes \
	"$("$SNAPFS" get -H autorecover "$T/bmnt" | cut -f2)"
expect_eq "copy-on-write volumes do not" no "$("$SNAPFS" get -H autorecover "$T/cmnt" | cut -f2)"

own_coordinator
start_coordinator

# hold.py DB MODE: commit 100 rows, then open a transaction of 3000 more rows (large enough to
# spill into the database file, or into the WAL), say so, and keep it open.
cat >"$T/hold.py" <<'PY'
import sqlite3, sys, time
db, mode = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA journal_mode=" + mode)
c.execute("PRAGMA cache_size=10")
c.execute("CREATE TABLE t(x INTEGER, pad BLOB)")
c.execute("BEGIN")
for i in range(100):
    c.execute("INSERT INTO t VALUES (?, zeroblob(1000))", (i,))
c.execute("COMMIT")
c.execute("BEGIN IMMEDIATE")
for i in range(3000):
    c.execute("INSERT INTO t VALUES (?, zeroblob(1000))", (1000 + i,))
open(db + ".holding", "w").close()
time.sleep(120)
PY
start_holder() {
	rm -f "$1.holding"
	python3 "$T/hold.py" "$1" "$2" &
	HOLDER=$!
	_pids+=("$HOLDER")
	for i in $(seq 200); do
		[ -e "$1.holding" ] && return 0
		sleep 0.1
	done
	fail "the transaction on $1 did not start"
	return 1
}

# check_copy DESCRIPTION DB_IN_SNAPSHOT: the copy, taken out of the snapshot, is clean and holds
# the 100 committed rows only
check_copy() {
	local what=$1 db=$2 out
	rm -rf "$T/copy" && mkdir "$T/copy"
	cp "$db" "$T/copy/db"
	[ -e "$db-wal" ] && cp "$db-wal" "$T/copy/db-wal"
	out=$(sqlite3 "$T/copy/db" "PRAGMA integrity_check; SELECT count(*), max(x) FROM t;" 2>&1)
	expect_eq "$what: intact, with the committed rows only" $'ok\n100|99' "$out"
}

echo "== btrfs: databases busy at freeze are repaired in the snapshot"
holders=()
for mode in delete wal; do
	start_holder "$T/bmnt/$mode.db" "$mode"
	holders+=("$HOLDER")
done
"$WRITER_SQLITE" "$T/bmnt/*.db" 2>"$T/writer.log" &
_pids+=("$!")
check "the writer registered" wait_writer sqlite
check "the live rollback database has a hot journal" test -s "$T/bmnt/delete.db-journal"
rc=0
line=$("$SNAPFS" create -H "$T/bmnt" 2>"$T/err") || rc=$?
check "the set is created: $(cat "$T/err")" test "$rc" -eq 0
snap=$T/bmnt/.snapshots/$(cut -f3 <<<"$line")
check "the writer found both busy" grep -q "2 busy, to be repaired" "$T/writer.log"
check "... and repaired both" test "$(grep -c "repaired in the snapshot" "$T/writer.log")" -eq 2
check "no journal is left in the snapshot" test ! -e "$snap/delete.db-journal"
check "no WAL is left in the snapshot" test ! -s "$snap/wal.db-wal"
check_copy "rollback database" "$snap/delete.db"
check_copy "WAL database" "$snap/wal.db"
rc=0
echo x 2>/dev/null >"$snap/new" || rc=$?
check "the snapshot is sealed: writes fail" test "$rc" -ne 0
id=$(cut -f1 <<<"$line")
expect_eq "... and its subvolume is read-only" ro=true \
	"$(btrfs property get "$T/btrfs/mnt/vol/.snapfs/trees/$id" ro)"
check "the applications' transactions are still open" kill -0 "${holders[@]}"
check "... the live rollback database still has its hot journal" \
	test -s "$T/bmnt/delete.db-journal"

echo "== copy-on-write: the same is refused"
start_holder "$T/cmnt/delete.db" delete
"$WRITER_SQLITE" --name sqlite2 "$T/cmnt/*.db" 2>"$T/writer2.log" &
_pids+=("$!")
check "the second writer registered" wait_writer sqlite2
before=$("$SNAPFS" list shadows -H "$T/cmnt" | wc -l)
rc=0
"$SNAPFS" create --exclude-writer sqlite "$T/cmnt" >"$T/out" 2>"$T/err" || rc=$?
check "the set is refused" test "$rc" -ne 0
check "... naming the writer and the database: $(cat "$T/err")" \
	grep -q "writer 'sqlite2'.*failed in freeze: database '$T/cmnt/delete.db'" "$T/err"
expect_eq "... and no snapshot is left" "$before" "$("$SNAPFS" list shadows -H "$T/cmnt" | wc -l)"
finish
