#!/usr/bin/env bash
# iohold.sh: how long an application's writes stall while snapshot sets are taken through the
# coordinator, against the same writes over equal periods with no snapshot, measured in the
# same run.
#
# usage (as root): tests/bench/iohold.sh [BUILD_DIR]
#
# One temporary directory holds four snapfs volumes ('snapfs mount -f', default options) and
# a coordinator of its own (snapfsd -f, runtime directory $T/run), with no writer registered:
#   vol      the measured volume: one process does 4 KiB pwrite()s all the time over a 16 MiB
#            file, one after the other, and times each (IOHOLD_SYNC=1: the file is opened
#            O_DSYNC, so each write reaches the daemon, as a database's would; 0: buffered)
#   load1    fio, buffered random 4 KiB writes over a 64 MiB file
#   load2    fio, random 64 KiB writes over a 64 MiB file, fsync every 16 writes
#   load3    fio, sequential 1 MiB writes over a 64 MiB file, again and again, fsync every 16
# each load at most IOHOLD_LOAD_RATE bytes per second (fio --rate; 0: as fast as it goes).
#
# After a few seconds of warm-up, IOHOLD_SETS rounds each take one set of the four volumes
# ('snapfs create vol load1 load2 load3', the measured volume first in the set, so held the
# longest; IOHOLD_FIRST=0 puts it last), then delete the snapshots again (so that the diff
# areas do not grow round after round), then wait, then mark a baseline period of the same
# length as the create with no snapshot under way. For every period the longest stall is the
# longest single write that overlapped it. The report gives, for the snapshot periods and for
# the baseline periods, the median and the largest of those stalls (ms), their ratios, the
# writes per second, and the create times; PASS/MISS beside the targets (median stall during a
# snapshot under 50 ms; the largest under 1 s, a tenth of the service's 10 s hold limit). Like
# bench.sh, it fails only if something breaks (a set that fails counts as broken).
#
# Environment:
#   SNAPFS=PATH            snapfs binary (default: BUILD_DIR/cli/snapfs, built if needed)
#   SNAPFSD=PATH           snapfsd binary (default: the one beside SNAPFS)
#   IOHOLD_SETS=20         snapshot sets (and baseline periods)
#   IOHOLD_SYNC=1          1: O_DSYNC writes; 0: buffered writes
#   IOHOLD_FIRST=1         1: the measured volume first in the set; 0: last
#   IOHOLD_WARMUP=3        seconds of load before the first period
#   IOHOLD_LOAD_RATE=8m    the most each load writes per second (fio size syntax; 0: no limit)
#   BENCH_TMPDIR=/var/tmp  where the temporary directory goes (one filesystem for all)
#   BENCH_RESULTS=PATH     also copy the raw results (kind, round, start ns, end ns, longest
#                          stall ns, writes) there
#   SNAPFS_MOUNT_OPTS=...  extra arguments for 'snapfs mount'
#   BENCH_KEEP=1           keep the temporary directory (logs, the writer's per-second log)
#   BENCH_QUICK=1          smoke run: IOHOLD_SETS=5
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
source "$here/benchlib.sh"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	: "${IOHOLD_SETS:=5}"
fi
IOHOLD_SETS=${IOHOLD_SETS:-20}
IOHOLD_SYNC=${IOHOLD_SYNC:-1}
IOHOLD_FIRST=${IOHOLD_FIRST:-1}
IOHOLD_WARMUP=${IOHOLD_WARMUP:-3}
IOHOLD_LOAD_RATE=${IOHOLD_LOAD_RATE:-8m}

# ---- preconditions ----------------------------------------------------------------------------

bench_require_root
[[ "$IOHOLD_SETS" =~ ^[1-9][0-9]*$ ]] || die "IOHOLD_SETS must be a positive integer"
[[ "$IOHOLD_WARMUP" =~ ^[0-9]+$ ]] || die "IOHOLD_WARMUP must be a number of seconds"
[[ "$IOHOLD_SYNC" =~ ^[01]$ ]] || die "IOHOLD_SYNC must be 0 or 1"
[[ "$IOHOLD_FIRST" =~ ^[01]$ ]] || die "IOHOLD_FIRST must be 0 or 1"
[[ "$IOHOLD_LOAD_RATE" =~ ^[0-9]+[kKmMgG]?$ ]] || die "IOHOLD_LOAD_RATE must be a rate like 8m"
bench_require_commands fio python3 mountpoint fusermount3
if [ -z "${SNAPFS:-}" ]; then
	bench_find_snapfs "${1:-}"
	ninja -C "$(dirname "$(dirname "$SNAPFS")")" cli/snapfsd >/dev/null ||
		die "building snapfsd failed"
else
	bench_find_snapfs
fi
SNAPFSD=${SNAPFSD:-$(dirname "$SNAPFS")/snapfsd}
[ -x "$SNAPFSD" ] || die "snapfsd binary '$SNAPFSD' is not executable"
SNAPFSD=$(realpath "$SNAPFSD")
export SNAPFSD

# ---- temporary directory, coordinator, mounts, cleanup ---------------------------------------

vols=(vol load1 load2 load3)
bench_make_tmpdir snapfs-iohold "${vols[@]}"
export SNAPFS_RUNTIME_DIR=$T/run
unset SNAPFS_CONFIG

stop_coordinator() {
	if [ -n "${coord_pid:-}" ]; then
		kill "$coord_pid" 2>/dev/null || true
		wait "$coord_pid" 2>/dev/null || true
		coord_pid=
	fi
}
bench_cleanup_hooks+=(stop_coordinator)

# the data files, made in each SRC before the mounts
mkdir -p "$T/vol/src" "$T/load1/src" "$T/load2/src" "$T/load3/src"
head -c 16M /dev/urandom >"$T/vol/src/writer.dat"
for v in load1 load2 load3; do
	head -c 64M /dev/urandom >"$T/$v/src/load.dat"
done
sync
for v in "${vols[@]}"; do
	bench_mount "$v" snapfs
done

"$SNAPFSD" -f 2>"$T/log/snapfsd.log" &
coord_pid=$!
for _ in $(seq 100); do
	[ -S "$SNAPFS_RUNTIME_DIR/snapfsd.sock" ] && break
	sleep 0.1
done
[ -S "$SNAPFS_RUNTIME_DIR/snapfsd.sock" ] ||
	die "snapfsd did not start: $(cat "$T/log/snapfsd.log")"

# The writer: 4 KiB pwrite()s one after the other until SIGTERM; each one's start and length
# (CLOCK_REALTIME ns, like 'date +%s%N') go to a binary file at the end; the longest of each
# second to its log meanwhile.
cat >"$T/bin/writer.py" <<'EOF'
import array, os, signal, sys, time

path, out, sync = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
stop = False


def on_term(sig, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
fd = os.open(path, os.O_WRONLY | (os.O_DSYNC if sync else 0))
blocks = os.fstat(fd).st_size // 4096
buf = os.urandom(4096)
rec = array.array('q')
i = 0
second, worst, count = int(time.time()), 0, 0
while not stop:
    t0 = time.time_ns()
    os.pwrite(fd, buf, (i * 7919 % blocks) * 4096)
    t1 = time.time_ns()
    rec.append(t0)
    rec.append(t1 - t0)
    i += 1
    worst = max(worst, t1 - t0)
    count += 1
    if t1 // 1000000000 != second:
        print('%d %d writes, longest %.1f ms' % (second, count, worst / 1e6), flush=True)
        second, worst, count = t1 // 1000000000, 0, 0
os.close(fd)
with open(out, 'wb') as f:
    rec.tofile(f)
EOF

# The analysis: the periods file (KIND ROUND START_NS END_NS) and the writer's records.
cat >"$T/bin/analyse.py" <<'EOF'
import array, bisect, statistics, sys

periods, records, raw = sys.argv[1], sys.argv[2], sys.argv[3]
rec = array.array('q')
with open(records, 'rb') as f:
    rec.frombytes(f.read())
starts, lens = rec[0::2], rec[1::2]
# writes start in order: those that overlap [a, b] start before b and end after a; a write
# longer than the longest seen cannot start earlier than a - longest
longest = max(lens)
out = {'snap': [], 'base': []}
with open(periods) as f, open(raw, 'w') as r:
    for line in f:
        kind, rnd, a, b = line.split()
        a, b = int(a), int(b)
        lo = bisect.bisect_left(starts, a - longest)
        hi = bisect.bisect_left(starts, b)
        stall = max((lens[i] for i in range(lo, hi) if starts[i] + lens[i] > a), default=0)
        n = sum(1 for i in range(lo, hi) if starts[i] >= a)
        out[kind].append((stall / 1e6, n / ((b - a) / 1e9), (b - a) / 1e6))
        r.write('%s\t%s\t%d\t%d\t%d\t%d\n' % (kind, rnd, a, b, stall, n))


def summary(kind):
    v = out[kind]
    s = [x[0] for x in v]
    return (statistics.median(s), max(s), statistics.median(x[1] for x in v),
            statistics.median(x[2] for x in v), max(x[2] for x in v), s)


snap, base = summary('snap'), summary('base')
print('%-34s %12s %12s' % ('', 'snapshot', 'baseline'))
print('%-34s %12d %12d' % ('periods', len(out['snap']), len(out['base'])))
print('%-34s %12.1f %12.1f' % ('period length, median (ms)', snap[3], base[3]))
print('%-34s %12.1f %12.1f' % ('longest stall, median (ms)', snap[0], base[0]))
print('%-34s %12.1f %12.1f' % ('longest stall, max (ms)', snap[1], base[1]))
print('%-34s %12.0f %12.0f' % ('writes per second, median', snap[2], base[2]))
print()
print('ratios snapshot/baseline: median stall %.2f, max stall %.2f, writes/s %.2f'
      % (snap[0] / base[0] if base[0] else float('inf'),
         snap[1] / base[1] if base[1] else float('inf'),
         snap[2] / base[2] if base[2] else float('inf')))
print('median stall during a snapshot %.1f ms: %s (target under 50 ms)'
      % (snap[0], 'PASS' if snap[0] < 50 else 'MISS'))
print('largest stall during a snapshot %.1f ms: %s (target under 1000 ms, a tenth of the '
      '10 s hold limit)' % (snap[1], 'PASS' if snap[1] < 1000 else 'MISS'))
print()
print('per round, longest stall (ms) snapshot / baseline:')
for i, (a, b) in enumerate(zip(snap[5], base[5])):
    print('  %2d  %8.1f / %6.1f' % (i + 1, a, b))
EOF

# ---- load and writer --------------------------------------------------------------------------

rate=()
[ "$IOHOLD_LOAD_RATE" = 0 ] || rate=(--rate="$IOHOLD_LOAD_RATE")
# load NAME FIO-ARGS...: start fio on NAME's load file until killed
load() {
	local name=$1
	shift
	fio --name="$name" --filename="$T/$name/mnt/load.dat" --size=64M --ioengine=psync \
		--time_based --runtime=86400 --output=/dev/null "${rate[@]}" "$@" \
		2>"$T/log/fio-$name.err" </dev/null &
	daemon_pid[fio-$name]=$!
}
load load1 --rw=randwrite --bs=4k
load load2 --rw=randwrite --bs=64k --fsync=16
load load3 --rw=write --bs=1M --fsync=16
python3 "$T/bin/writer.py" "$T/vol/mnt/writer.dat" "$T/writes.bin" "$IOHOLD_SYNC" \
	>"$T/log/writer.log" 2>&1 </dev/null &
writer_pid=$!
daemon_pid[writer]=$writer_pid

bench_describe "snapfs I/O hold benchmark"
echo "coordinator: $SNAPFSD -f (runtime directory $SNAPFS_RUNTIME_DIR), no writer registered"
echo "IOHOLD_SETS=$IOHOLD_SETS IOHOLD_SYNC=$IOHOLD_SYNC IOHOLD_FIRST=$IOHOLD_FIRST" \
	"IOHOLD_WARMUP=$IOHOLD_WARMUP IOHOLD_LOAD_RATE=$IOHOLD_LOAD_RATE"
sleep "$IOHOLD_WARMUP"

if [ "$IOHOLD_FIRST" = 1 ]; then
	set_mnts=("$T/vol/mnt" "$T/load1/mnt" "$T/load2/mnt" "$T/load3/mnt")
else
	set_mnts=("$T/load1/mnt" "$T/load2/mnt" "$T/load3/mnt" "$T/vol/mnt")
fi
periods=$T/periods
: >"$periods"
failed=0
creates=()
for ((round = 1; round <= IOHOLD_SETS; round++)); do
	for name in "${!daemon_pid[@]}"; do
		kill -0 "${daemon_pid[$name]}" 2>/dev/null || die "$name stopped (see $T/log/)"
	done
	a=$(date +%s%N)
	if ! "$SNAPFS" create -H "${set_mnts[@]}" >"$T/log/create-$round.out" \
		2>"$T/log/create-$round.err"; then
		failed=$((failed + 1))
		echo "  round $round: the set failed: $(cat "$T/log/create-$round.err")"
	fi
	b=$(date +%s%N)
	echo "snap $round $a $b" >>"$periods"
	creates+=($(((b - a) / 1000000)))
	sleep 0.5
	for m in "${set_mnts[@]}"; do
		"$SNAPFS" delete shadows --all "$m" >/dev/null ||
			die "cannot delete the snapshots of '$m'"
	done
	sleep 1
	len=$((b - a))
	# exactly as long as the create: sleep may overrun, the period ends on time anyway
	a=$(date +%s%N)
	sleep "$(printf '%d.%09d' $((len / 1000000000)) $((len % 1000000000)))"
	echo "base $round $a $((a + len))" >>"$periods"
	printf '  round %2d: create %5d ms\n' "$round" "${creates[-1]}"
	sleep 0.5
done

kill "$writer_pid"
wait "$writer_pid" || die "the writer failed (see $T/log/writer.log)"
unset "daemon_pid[writer]"
for name in fio-load1 fio-load2 fio-load3; do
	kill "${daemon_pid[$name]}" 2>/dev/null || true
	wait "${daemon_pid[$name]}" 2>/dev/null || true
	unset "daemon_pid[$name]"
done

echo
sorted=$(printf '%s\n' "${creates[@]}" | sort -n)
echo "snapfs create of 4 volumes (ms): median $(sed -n "$(((${#creates[@]} + 1) / 2))p" \
	<<<"$sorted"), max $(tail -1 <<<"$sorted"); sets failed: $failed of $IOHOLD_SETS"
python3 "$T/bin/analyse.py" "$periods" "$T/writes.bin" "$results"
bench_copy_results
[ "$failed" -eq 0 ] || die "$failed of $IOHOLD_SETS snapshot sets failed"
