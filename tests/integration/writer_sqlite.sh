#!/bin/bash
# The SQLite writer end to end: a WAL database and a rollback-journal database on a snapfs
# volume, four load processes committing transactions to both without pause, the writer
# registered with a coordinator of the test's own, and SNAPFS_WRITER_SETS (default 50) snapshot
# sets taken with 'snapfs create'. Every snapshot, copied out, must be a clean database: its
# integrity_check passes, the sum of the balances is what it always is, a counter kept in the
# same transactions matches the rows, each process's rows are a gap-free prefix 1..k (what had
# committed), no process goes backwards from one snapshot to the next, the rollback database
# has no hot journal, and the WAL database's file alone (without its -wal) holds the same data.
#
# Environment: SNAPFS, SNAPFSD, WRITER_SQLITE (set by meson); SNAPFS_WRITER_SETS.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse
: "${SNAPFSD:?SNAPFSD must point at the snapfsd binary}"
: "${WRITER_SQLITE:?WRITER_SQLITE must point at snapfs-writer-sqlite}"
if ! command -v python3 >/dev/null; then
	echo "FAIL: python3 is needed for the load and the checks" >&2
	exit 1
fi

sets=${SNAPFS_WRITER_SETS:-50}
nprocs=4
# a coordinator of the test's own, which it starts; no client may start another on demand
own_coordinator
reached_end=0

show_logs() {
	local f
	[ "$_failures" -eq 0 ] && [ "$reached_end" -eq 1 ] && return 0
	for f in "$T"/snapfsd.log "$T"/writer.log "$T"/load-*.log; do
		[ -s "$f" ] || continue
		echo "---- $(basename "$f")" >&2
		tail -n 60 "$f" >&2
	done
}
at_exit show_logs

cat >"$T/load.py" <<'EOF'
# load.py DIR PROC: transactions without pause on DIR/wal.db and DIR/rollback.db, alternately.
# Each moves an amount between two of the accounts (their sum never changes), adds the row
# (PROC, n) for its n-th commit on that database, and counts itself in tally, all in one
# transaction.
import random, sqlite3, sys, time
d, proc = sys.argv[1], int(sys.argv[2])
dbs = []
for name in ('wal.db', 'rollback.db'):
    c = sqlite3.connect(d + '/' + name, timeout=120, isolation_level=None)
    dbs.append([c, 0])
rnd = random.Random(proc)
while True:
    for db in dbs:
        c, n = db
        while True:
            try:
                c.execute('BEGIN IMMEDIATE')
                c.execute('INSERT INTO log(proc, seq, at) VALUES (?, ?, ?)', (proc, n + 1, time.time()))
                a, b = rnd.sample(range(10), 2)
                amount = rnd.randint(1, 100)
                c.execute('UPDATE account SET balance = balance - ? WHERE id = ?', (amount, a))
                c.execute('UPDATE account SET balance = balance + ? WHERE id = ?', (amount, b))
                c.execute('UPDATE tally SET n = n + 1')
                c.execute('COMMIT')
                db[1] = n + 1
                break
            except sqlite3.OperationalError as e:
                if 'locked' not in str(e) and 'busy' not in str(e):
                    raise
                print('retry after:', e, file=sys.stderr, flush=True)
                if c.in_transaction:
                    c.execute('ROLLBACK')
EOF

cat >"$T/check.py" <<'EOF'
# check.py SNAPDIR WORKDIR STATE NPROCS: check one snapshot's databases (see the top of
# writer_sqlite.sh); STATE holds each process's prefix in the previous snapshot. Prints one
# line per problem and exits 1 if there is any; else prints the prefixes.
import json, os, shutil, sqlite3, sys
snap, work, state, nprocs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
problems = []
prev = json.load(open(state)) if os.path.exists(state) else {}
now = {}

def check(label, path, uri=False):
    c = sqlite3.connect(path, uri=uri)
    res = [r[0] for r in c.execute('PRAGMA integrity_check')]
    if res != ['ok']:
        problems.append(f'{label}: integrity_check: {res[:3]}')
        return None
    total = c.execute('SELECT sum(balance), count(*) FROM account').fetchone()
    if total != (10000, 10):
        problems.append(f'{label}: balances sum to {total[0]} over {total[1]} accounts, not 10000')
    rows = c.execute('SELECT count(*) FROM log').fetchone()[0]
    tally = c.execute('SELECT n FROM tally').fetchone()[0]
    if rows != tally:
        problems.append(f'{label}: {rows} log rows but the tally says {tally}')
    prefix = {}
    for proc, n, lo, hi in c.execute(
            'SELECT proc, count(*), min(seq), max(seq) FROM log GROUP BY proc'):
        if lo != 1 or hi != n:
            problems.append(f'{label}: process {proc} has {n} rows numbered {lo}..{hi}: '
                            'not a committed prefix')
        prefix[str(proc)] = hi
    c.close()
    return prefix

os.makedirs(work)
for name in ('wal.db', 'wal.db-wal', 'rollback.db'):
    if os.path.exists(f'{snap}/{name}'):
        shutil.copyfile(f'{snap}/{name}', f'{work}/{name}')
j = f'{snap}/rollback.db-journal'
if os.path.exists(j) and os.path.getsize(j) > 0:
    problems.append(f'rollback.db: a non-empty journal ({os.path.getsize(j)} bytes) in the snapshot')
for name in ('wal.db', 'rollback.db'):
    if not os.path.exists(f'{work}/{name}'):
        problems.append(f'{name}: not in the snapshot')
if not problems:
    os.makedirs(f'{work}/alone')
    shutil.copyfile(f'{work}/wal.db', f'{work}/alone/wal.db')
    for name in ('wal.db', 'rollback.db'):
        p = check(name, f'{work}/{name}')
        if p is None:
            continue
        for proc, k in p.items():
            if k < prev.get(name, {}).get(proc, 0):
                problems.append(f'{name}: process {proc} went back from {prev[name][proc]} to {k}')
        now[name] = p
    # the database file alone: freeze brought every WAL frame into it
    alone = check('wal.db without its -wal', f'file:{work}/alone/wal.db?immutable=1', uri=True)
    if alone is not None and 'wal.db' in now and alone != now['wal.db']:
        problems.append(f'wal.db without its -wal holds {alone}, with it {now["wal.db"]}')
shutil.rmtree(work)
for p in problems:
    print(p)
if problems:
    sys.exit(1)
json.dump(now, open(state, 'w'))
print(' '.join(f'{name}:{sum(p.values())}' for name, p in sorted(now.items())))
EOF

src=$T/src
mnt=$T/mnt
sfs_mount "$src" "$mnt"
start_coordinator

echo "== databases and load"
python3 - "$mnt" <<'EOF'
import sqlite3, sys
for name, mode in (('wal.db', 'wal'), ('rollback.db', 'delete')):
    c = sqlite3.connect(sys.argv[1] + '/' + name, isolation_level=None)
    got = c.execute(f'PRAGMA journal_mode={mode}').fetchone()[0]
    assert got == mode, (name, got)
    c.execute('CREATE TABLE account(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)')
    c.execute('CREATE TABLE log(proc INTEGER, seq INTEGER, at REAL, PRIMARY KEY(proc, seq))')
    c.execute('CREATE TABLE tally(n INTEGER NOT NULL)')
    c.execute('BEGIN')
    c.executemany('INSERT INTO account VALUES (?, 1000)', [(i,) for i in range(10)])
    c.execute('INSERT INTO tally VALUES (0)')
    c.execute('COMMIT')
    c.close()
EOF
expect_eq "the WAL database is in WAL mode" wal \
	"$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode").fetchone()[0])' "$mnt/wal.db")"
load_pids=()
for p in $(seq "$nprocs"); do
	python3 "$T/load.py" "$mnt" "$p" 2>"$T/load-$p.log" &
	load_pids+=("$!")
	_pids+=("$!")
done

"$WRITER_SQLITE" "$mnt/*.db" "$T/elsewhere/*.db" 2>"$T/writer.log" &
writer=$!
_pids+=("$writer")
wait_writer sqlite || true
check "the writer registered" grep -q "	sqlite	stable	" <<<"$("$SNAPFS" list writers -H)"
check "it found both databases" grep -q "serving 2 databases" "$T/writer.log"
sleep 1

echo "== $sets snapshot sets under load"
start=$(date +%s)
bad=0
created=0
for i in $(seq "$sets"); do
	if ! line=$("$SNAPFS" create -H "$mnt" 2>"$T/err"); then
		fail "set $i not created: $(cat "$T/err")"
		bad=$((bad + 1))
		[ "$bad" -lt 3 ] && continue
		break
	fi
	created=$((created + 1))
	browse=$(cut -f3 <<<"$line")
	if ! out=$(python3 "$T/check.py" "$mnt/.snapshots/$browse" "$T/work" "$T/rows.json" \
		"$nprocs" 2>&1); then
		fail "snapshot $i ($browse):"$'\n'"$out"
		bad=$((bad + 1))
		[ "$bad" -lt 3 ] || break
		continue
	fi
	[ $((i % 10)) -eq 0 ] && echo "set $i: $browse committed rows $out"
done
expect_eq "every set created and checked" "$sets $sets" "$created $((sets - bad))"
echo "$sets sets in $(($(date +%s) - start)) s"
for p in "${load_pids[@]}"; do
	check "load process $p still runs" kill -0 "$p"
done
first=$(grep -c "froze 2 databases (1 WAL, 1 rollback journal, 0 busy" "$T/writer.log" || true)
expect_eq "the writer froze both databases for every set" "$sets" "$first"
expect_eq "... and checked them in every snapshot" "$sets" \
	"$(grep -c "2 databases pass quick_check in the snapshot" "$T/writer.log" || true)"
rows=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(min(sum(p.values()) for p in s.values()))' "$T/rows.json")
check "the load committed throughout ($rows rows in the last snapshot's smaller database)" \
	test "$rows" -gt "$((sets * 4))"
check "no writer error" grep -qE "	sqlite	stable	$" <<<"$("$SNAPFS" list writers -H)"

echo "== a new database joins"
mkdir -p "$T/elsewhere"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t(x)"); c.commit()' \
	"$T/elsewhere/late.db"
if "$SNAPFS" create -H "$mnt" >/dev/null 2>"$T/err"; then
	pass "a set after it"
else
	fail "a set after it: $(cat "$T/err")"
fi
check "the writer picked it up" grep -q "database '$T/elsewhere/late.db' added" "$T/writer.log"
check "... and left it alone: it is on no volume of the set" \
	grep -q "froze 2 databases (1 WAL, 1 rollback journal, 0 busy, to be repaired) in [0-9]* ms; 1 not in the set" \
	"$T/writer.log"

echo "== stop"
for p in "${load_pids[@]}"; do
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
done
kill "$writer"
rc=0
wait "$writer" || rc=$?
expect_eq "the writer exits 0 on SIGTERM" 0 "$rc"
check "... saying so" grep -q "stopped$" "$T/writer.log"
stop_coordinator
sfs_umount "$mnt"
reached_end=1
finish
