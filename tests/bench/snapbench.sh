#!/usr/bin/env bash
# snapbench.sh: what snapshots cost on a snapfs volume, against the same volume without one
# and against libfuse's passthrough_ll, measured in the same run.
#
# usage (as root): tests/bench/snapbench.sh [BUILD_DIR]
#
# One temporary directory holds:
#   data     a snapfs volume ('snapfs mount -f' with default options) with one file of
#            SNAPBENCH_SIZE, the subject of the data cases
#   ptll     passthrough_ll ('passthrough_ll -f -o source=SRC,writeback MNT', compiled here from
#            the libfuse3-dev examples) with the same file: the FUSE baseline
#   one      a snapfs volume holding one file
#   many     a snapfs volume holding SNAPBENCH_FILES empty files (in 100 directories), made in
#            the backing directory before the mount and then walked through the mount
#
# Every round runs, in this order (the two baselines of a case swap places from round to round):
#   seq        sequential overwrite of the existing file, 1 MiB writes, fsync at the end (fio's
#              time includes it), on passthrough_ll, on 'data' with no snapshot, and on 'data'
#              right after 'snapfs create': the first overwrite after a snapshot   MiB/s
#   read       cold sequential read, 1 MiB blocks, of the live file and of the same file in the
#              snapshot just taken (every chunk of it now in the diff area); sync and
#              'echo 3 > /proc/sys/vm/drop_caches' before each                     MiB/s
#   rand       SNAPBENCH_RAND_IOS buffered random 4 KiB overwrites of the existing file (fio's
#              random map: distinct blocks, the same blocks in every run), 1 job, iodepth 1, fsync
#              at the end (in fio's time), on passthrough_ll, on 'data' with no snapshot, then
#              after 'snapfs create' twice in the same epoch: pass 1 preserves the chunks it
#              touches, pass 2 finds them preserved                               IOPS
#   create     'snapfs create' on 'one' and on 'many', SNAPBENCH_CREATES times each, alternately,
#              each at least a second after the previous one (so no creation waits for the next
#              second, see docs/snapshots.md); the time of the whole command (syncfs included)
#                                                                                   ms
#   dirty      'snapfs create' on 'one' right after SNAPBENCH_SIZE was written, not synced, to
#              another file of the same backing filesystem (outside every volume)  ms
#   list       'snapfs list shadows MNT', SNAPBENCH_CREATES times on each of 'one' and 'many'
#              (SNAPBENCH_CREATES snapshots, one more on 'one'; no chunk row) and 'data' after
#              the random passes (one snapshot, the chunk rows of the random passes)  ms
# and deletes every snapshot at the end of the round.
#
# The report gives the median of the rounds of every case and the ratios between them, with
# PASS/MISS beside the ratios that have a target; like bench.sh, it fails only if something
# breaks, never because of a figure.
#
# Environment:
#   SNAPFS=PATH              snapfs binary to use (default: BUILD_DIR/cli/snapfs, built if needed)
#   REPS=3                   rounds
#   SNAPBENCH_SIZE=256M      size of the data file (fio size syntax)
#   SNAPBENCH_RAND_IOS=16384 random 4 KiB writes per random run (default: a quarter of the
#                            blocks of a 256 MiB file, which touches about 99% of its 64 KiB chunks)
#   SNAPBENCH_FILES=100000   files of the 'many' volume
#   SNAPBENCH_CREATES=5      timed creations (and listings) per volume and round
#   SNAPBENCH_PTLL=1         0 leaves passthrough_ll out
#   BENCH_TMPDIR=/var/tmp    where the temporary directory goes (one filesystem for all)
#   BENCH_RESULTS=PATH       also copy the raw results (round, case, value) there
#   SNAPFS_MOUNT_OPTS=...    extra arguments for 'snapfs mount', e.g. "-o max_threads=8"
#   BENCH_KEEP=1             keep the temporary directory (logs, fio errors) after the run
#   BENCH_QUICK=1            smoke run: defaults become REPS=1 SNAPBENCH_SIZE=64M
#                            SNAPBENCH_RAND_IOS=4096 SNAPBENCH_FILES=10000 SNAPBENCH_CREATES=3
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
source "$here/benchlib.sh"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	: "${REPS:=1}" "${SNAPBENCH_SIZE:=64M}" "${SNAPBENCH_RAND_IOS:=4096}"
	: "${SNAPBENCH_FILES:=10000}" "${SNAPBENCH_CREATES:=3}"
fi
REPS=${REPS:-3}
SNAPBENCH_SIZE=${SNAPBENCH_SIZE:-256M}
SNAPBENCH_RAND_IOS=${SNAPBENCH_RAND_IOS:-16384}
SNAPBENCH_FILES=${SNAPBENCH_FILES:-100000}
SNAPBENCH_CREATES=${SNAPBENCH_CREATES:-5}
SNAPBENCH_PTLL=${SNAPBENCH_PTLL:-1}

# ---- preconditions ----------------------------------------------------------------------------

bench_require_root
for v in REPS SNAPBENCH_RAND_IOS SNAPBENCH_FILES SNAPBENCH_CREATES; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
need=(fio mountpoint fusermount3)
[ "$SNAPBENCH_PTLL" = 1 ] && need+=(cc pkg-config)
bench_require_commands "${need[@]}"
bench_find_snapfs "${1:-}"
bench_raise_fd_limit

vols=(data one many)
[ "$SNAPBENCH_PTLL" = 1 ] && vols+=(ptll)

# ---- temporary directory, mounts, cleanup -----------------------------------------------------

bench_make_tmpdir snapfs-snapbench "${vols[@]}"

[ "$SNAPBENCH_PTLL" = 1 ] && bench_build_ptll

# vol_kind VOL: the daemon that serves VOL.
vol_kind() {
	if [ "$1" = ptll ]; then
		echo passthrough_ll
	else
		echo snapfs
	fi
}

# mount_vol VOL: start the daemon of VOL on $T/VOL/mnt and wait until the mount is there.
mount_vol() {
	bench_mount "$1" "$(vol_kind "$1")"
}

# umount_vol VOL: unmount VOL and wait for its daemon to exit.
umount_vol() {
	bench_umount "$1" "$(vol_kind "$1")"
}

# record ROUND CASE VALUE
record() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"
}

# fio_run FILE NAME FIO-ARGS...: one fio job with the psync engine; prints its terse line.
fio_run() {
	local file=$1 name=$2
	shift 2
	fio --name="$name" --filename="$file" --ioengine=psync --size="$SNAPBENCH_SIZE" \
		--output-format=terse --terse-version=3 "$@" 2>>"$T/log/fio-$name.err" ||
		die "fio $name failed on '$file' (see $T/log/fio-$name.err)"
}

# seq_over ROUND CASE VOL: sequential overwrite of VOL's data file.
seq_over() {
	local out value
	sync
	out=$(fio_run "$T/$3/mnt/bench.dat" "$2" --rw=write --bs=1M --end_fsync=1)
	value=$(terse_field 48 1 <<<"$out")
	record "$1" "$2" "$value"
	printf '  %-44s %10s MiB/s\n' "${title[$2]}" "$value"
}

# rand_over ROUND CASE VOL: SNAPBENCH_RAND_IOS random 4 KiB overwrites of VOL's data file.
rand_over() {
	local out value
	sync
	out=$(fio_run "$T/$3/mnt/bench.dat" "$2" --rw=randwrite --bs=4k --iodepth=1 \
		--io_size=$((SNAPBENCH_RAND_IOS * 4096)) --randrepeat=1 --end_fsync=1)
	value=$(terse_field 49 0 <<<"$out")
	record "$1" "$2" "$value"
	printf '  %-44s %10s IOPS\n' "${title[$2]}" "$value"
}

# cold_read ROUND CASE FILE
cold_read() {
	local out value
	drop_caches
	out=$(fio_run "$3" "$2" --rw=read --bs=1M --readonly)
	value=$(terse_field 7 1 <<<"$out")
	record "$1" "$2" "$value"
	printf '  %-44s %10s MiB/s\n' "${title[$2]}" "$value"
}

# snap_create VOL: take a snapshot of VOL; prints its browse name.
snap_create() {
	local line
	line=$("$SNAPFS" create -H "$T/$1/mnt") || die "'snapfs create' failed on $1"
	echo "${line##*$'\t'}"
}

# timed ROUND CASE COMMAND...: run COMMAND (output discarded) and record its time in ms.
timed() {
	local round=$1 case=$2 t0 t1 ms
	shift 2
	t0=$EPOCHREALTIME
	"$@" >/dev/null || die "'$*' failed"
	t1=$EPOCHREALTIME
	ms=$(awk -v a="${t0//,/.}" -v b="${t1//,/.}" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }')
	record "$round" "$case" "$ms"
	printf '  %-44s %10s ms\n' "${title[$case]}" "$ms"
}

# snap_count VOL
snap_count() {
	"$SNAPFS" list shadows -H "$T/$1/mnt" | wc -l
}

# delete_all VOL: delete every snapshot of VOL (none is fine).
delete_all() {
	if [ "$(snap_count "$1")" -gt 0 ]; then
		"$SNAPFS" delete shadows --all "$T/$1/mnt" >/dev/null ||
			die "'snapfs delete shadows --all' failed on $1"
	fi
}

declare -A title=(
	[seq_ptll]="seq overwrite, passthrough_ll"
	[seq_nosnap]="seq overwrite, no snapshot"
	[seq_snap]="seq overwrite, first after a snapshot"
	[read_live]="cold seq read, live file"
	[read_snap]="cold seq read, snapshot (all from diff area)"
	[rand_ptll]="rand overwrite, passthrough_ll"
	[rand_nosnap]="rand overwrite, no snapshot"
	[rand_snap1]="rand overwrite, after a snapshot, pass 1"
	[rand_snap2]="rand overwrite, same epoch, pass 2"
	[create_one]="snapfs create, 1 file"
	[create_many]="snapfs create, $SNAPBENCH_FILES files"
	[create_dirty]="snapfs create, 1 file, other dirty data"
	[list_one]="list shadows, 1 file"
	[list_many]="list shadows, $SNAPBENCH_FILES files"
	[list_data]="list shadows, after the random passes"
)
declare -A unit=(
	[seq_ptll]="MiB/s" [seq_nosnap]="MiB/s" [seq_snap]="MiB/s"
	[read_live]="MiB/s" [read_snap]="MiB/s"
	[rand_ptll]="IOPS" [rand_nosnap]="IOPS" [rand_snap1]="IOPS" [rand_snap2]="IOPS"
	[create_one]="ms" [create_many]="ms" [create_dirty]="ms"
	[list_one]="ms" [list_many]="ms" [list_data]="ms"
)
cases=(seq_ptll seq_nosnap seq_snap read_live read_snap rand_ptll rand_nosnap rand_snap1
	rand_snap2 create_one create_many create_dirty list_one list_many list_data)
[ "$SNAPBENCH_PTLL" = 1 ] || cases=("${cases[@]/*_ptll/}")

# ---- setup ------------------------------------------------------------------------------------

bench_describe "snapfs snapshot benchmark"
echo "REPS=$REPS SNAPBENCH_SIZE=$SNAPBENCH_SIZE SNAPBENCH_RAND_IOS=$SNAPBENCH_RAND_IOS" \
	"SNAPBENCH_FILES=$SNAPBENCH_FILES SNAPBENCH_CREATES=$SNAPBENCH_CREATES"

# 'one' and 'many' are filled in their backing directories before the first mount
mkdir -p "$T/one/src" "$T/many/src"
head -c 1048576 /dev/urandom >"$T/one/src/file"
ndirs=100
[ "$SNAPBENCH_FILES" -lt 100 ] && ndirs=1
for ((d = 0; d < ndirs; d++)); do
	dir=$(printf '%s/many/src/d%03d' "$T" "$d")
	mkdir "$dir"
	first=$((SNAPBENCH_FILES * d / ndirs))
	last=$((SNAPBENCH_FILES * (d + 1) / ndirs - 1))
	[ "$last" -ge "$first" ] || continue
	(cd "$dir" && seq -f 'f%06g' "$first" "$last" | xargs touch)
done

for v in "${vols[@]}"; do
	mount_vol "$v"
done
n=$(find "$T/many/mnt" -path "$T/many/mnt/.snapshots" -prune -o -type f -print | wc -l)
[ "$n" = "$SNAPBENCH_FILES" ] || die "'many' shows $n files, not $SNAPBENCH_FILES"
echo "'many': $n files, all looked up through the mount"
chunksize=$("$SNAPFS" get -H chunksize "$T/data/mnt" | awk '{ v = $NF } END { print v }')
echo "chunk size of 'data': $chunksize"

# the data file, written once through each mount
for v in data ptll; do
	[ -d "$T/$v/mnt" ] || continue
	fio_run "$T/$v/mnt/bench.dat" layout-$v --rw=write --bs=1M --end_fsync=1 >/dev/null
done

# ---- the run ----------------------------------------------------------------------------------

for ((round = 1; round <= REPS; round++)); do
	echo
	echo "round $round of $REPS, $(date +%T)"
	delete_all data

	# seq: the two baselines swap places from round to round; the snapshot case comes last
	seq_base=(seq_nosnap)
	[ "$SNAPBENCH_PTLL" = 1 ] && seq_base=(seq_ptll seq_nosnap)
	((round % 2 == 0)) && seq_base=("${seq_base[@]:1}" "${seq_base[@]:0:1}")
	for c in "${seq_base[@]}"; do
		if [ "$c" = seq_ptll ]; then
			seq_over "$round" "$c" ptll
		else
			seq_over "$round" "$c" data
		fi
	done
	browse=$(snap_create data)
	seq_over "$round" seq_snap data

	# read: the live file and the snapshot's, in alternating order
	snapfile=$T/data/mnt/.snapshots/$browse/bench.dat
	[ -f "$snapfile" ] || die "'$snapfile' is missing"
	if ((round % 2)); then
		cold_read "$round" read_live "$T/data/mnt/bench.dat"
		cold_read "$round" read_snap "$snapfile"
	else
		cold_read "$round" read_snap "$snapfile"
		cold_read "$round" read_live "$T/data/mnt/bench.dat"
	fi

	# rand
	delete_all data
	rand_base=(rand_nosnap)
	[ "$SNAPBENCH_PTLL" = 1 ] && rand_base=(rand_ptll rand_nosnap)
	((round % 2 == 0)) && rand_base=("${rand_base[@]:1}" "${rand_base[@]:0:1}")
	for c in "${rand_base[@]}"; do
		if [ "$c" = rand_ptll ]; then
			rand_over "$round" "$c" ptll
		else
			rand_over "$round" "$c" data
		fi
	done
	snap_create data >/dev/null
	rand_over "$round" rand_snap1 data
	rand_over "$round" rand_snap2 data

	# create and list
	for ((i = 1; i <= SNAPBENCH_CREATES; i++)); do
		for v in one many; do
			sleep 1
			timed "$round" "create_$v" "$SNAPFS" create "$T/$v/mnt"
		done
	done
	# dirty: the backing filesystem holds data of another file that nobody synced yet
	sleep 1
	fio_run "$T/dirty.dat" dirty --rw=write --bs=1M >/dev/null
	timed "$round" create_dirty "$SNAPFS" create "$T/one/mnt"
	rm -f "$T/dirty.dat"
	sync
	for ((i = 1; i <= SNAPBENCH_CREATES; i++)); do
		for v in one many data; do
			timed "$round" "list_$v" "$SNAPFS" list shadows "$T/$v/mnt"
		done
	done
	diff_bytes=$("$SNAPFS" list shadows -H "$T/data/mnt" |
		awk -F'\t' '{ s += $6 } END { print s + 0 }')
	echo "  ('data': $(snap_count data) snapshot(s), $((diff_bytes / chunksize)) chunk rows)"
	for v in data one many; do
		delete_all "$v"
	done
done

for v in "${vols[@]}"; do
	umount_vol "$v"
done

# ---- report -----------------------------------------------------------------------------------

# median CASE: median of the case's results (all rounds, all repetitions)
median() {
	awk -F'\t' -v c="$1" '
		$2 == c { v[n++] = $3 }
		END {
			if (n == 0) { print "-"; exit }
			for (i = 1; i < n; i++)
				for (j = i; j > 0 && v[j - 1] + 0 > v[j] + 0; j--) {
					t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
				}
			m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
			print (m == int(m) ? sprintf("%d", m) : sprintf("%.1f", m))
		}' "$results"
}

declare -A med
for c in "${cases[@]}"; do
	[ -n "$c" ] && med[$c]=$(median "$c")
done

echo
echo "Medians of $REPS round(s) (MiB/s and IOPS: higher is better; ms: lower is better)"
printf '%-46s %-6s %10s   %s\n' "case" "unit" "median" "per round"
for c in "${cases[@]}"; do
	[ -n "$c" ] || continue
	per=""
	for ((round = 1; round <= REPS; round++)); do
		per+="$(awk -F'\t' -v r="$round" -v c="$c" '$1 == r && $2 == c { printf "%s ", $3 }' \
			"$results")| "
	done
	printf '%-46s %-6s %10s   %s\n' "${title[$c]}" "${unit[$c]}" "${med[$c]}" "${per% | }"
done

# Ratios: numerator, denominator, label, target ("" for none, ">=X" or "<=X").
ratios=(
	"seq_snap seq_nosnap|seq overwrite: first after a snapshot / no snapshot|"
	"seq_snap seq_ptll|seq overwrite: first after a snapshot / passthrough_ll|"
	"seq_nosnap seq_ptll|seq overwrite: no snapshot / passthrough_ll|>=0.9"
	"read_snap read_live|cold seq read: snapshot / live file|"
	"rand_snap1 rand_nosnap|rand overwrite: pass 1 after a snapshot / no snapshot|"
	"rand_snap1 rand_ptll|rand overwrite: pass 1 after a snapshot / passthrough_ll|"
	"rand_snap2 rand_nosnap|rand overwrite: pass 2, same epoch / no snapshot|>=0.8"
	"rand_nosnap rand_ptll|rand overwrite: no snapshot / passthrough_ll|>=0.9"
	"create_many create_one|snapfs create: $SNAPBENCH_FILES files / 1 file|<=1.5"
	"create_dirty create_one|snapfs create: with other dirty data / without|"
	"list_many list_one|list shadows: $SNAPBENCH_FILES files / 1 file|<=1.5"
)

echo
echo "Ratios of the medians (targets marked)"
for r in "${ratios[@]}"; do
	IFS='|' read -r pair label target <<<"$r"
	read -r a b <<<"$pair"
	if [ -z "${med[$a]:-}" ] || [ -z "${med[$b]:-}" ]; then
		continue
	fi
	awk -v a="${med[$a]}" -v b="${med[$b]}" -v l="$label" -v t="$target" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) { printf "  %-60s %6s\n", l, "n/a"; exit }
		r = a / b
		v = ""
		if (t ~ /^>=/) v = (r >= substr(t, 3) + 0 ? "PASS" : "MISS") " (" t ")"
		if (t ~ /^<=/) v = (r <= substr(t, 3) + 0 ? "PASS" : "MISS") " (" t ")"
		printf "  %-60s %6.2f %s\n", l, r, v
	}'
done

bench_copy_results
