#!/usr/bin/env bash
# bench.sh: compare the snapfs live view with other ways of serving a directory.
#
# usage (as root): tests/bench/bench.sh [BUILD_DIR]
#
# One temporary directory holds a backing directory and a mount point for each filesystem:
#   snapfs          'snapfs mount -f' with default options (writeback cache on)
#   passthrough_ll  libfuse's low-level example, compiled here from the libfuse3-dev examples,
#                   run as 'passthrough_ll -f -o source=SRC,writeback MNT'
#   bindfs          'bindfs -f --multithreaded SRC MNT' (multithreaded like the two others)
#   ext4            the backing directory itself, no FUSE (for information)
# Every round runs each workload on every filesystem, the filesystems in an order that rotates
# from round to round; the report gives the median of the rounds and the ratios of snapfs to
# each baseline, with PASS/MISS beside the ratios that have a target. A missed target does not
# change the exit status: the script fails only if something breaks.
#
# Workloads (fio with the psync engine unless said otherwise):
#   seqwrite   write a new BENCH_SIZE file in 1 MiB blocks, fsync at the end       MiB/s
#   coldread   read that file in 1 MiB blocks after unmount, drop_caches, mount    MiB/s
#   randw1     buffered random 4 KiB overwrite of that file, 1 writer, time-based,
#              fsync at the end                                                     IOPS
#   randw16    the same with BENCH_JOBS writers on the same file                    IOPS
#   direct     random 4 KiB writes with O_DIRECT (--direct=1), time-based; a filesystem that
#              refuses them is reported as "fails"                                  IOPS
#   meta       create, stat and unlink BENCH_FILES small files (metabench.c)       files/s
#
# Environment:
#   SNAPFS=PATH            snapfs binary to use (default: BUILD_DIR/cli/snapfs, built if needed)
#   REPS=3                 rounds
#   BENCH_SIZE=1G          file size of the data workloads (fio size syntax)
#   BENCH_RUNTIME=20       seconds of each buffered random-write run
#   BENCH_DIRECT_RUNTIME=10  seconds of each O_DIRECT run
#   BENCH_JOBS=16          writers of randw16
#   BENCH_FILES=20000      files of the metadata workload
#   BENCH_FS="snapfs passthrough_ll bindfs ext4"   filesystems to compare
#   BENCH_TMPDIR=/var/tmp  where the temporary directory goes (one filesystem for all)
#   BENCH_RESULTS=PATH     also copy the raw results (round, workload, filesystem, value) there
#   SNAPFS_MOUNT_OPTS=...  extra arguments for 'snapfs mount', e.g. "-o max_threads=8"
#   BENCH_KEEP=1           keep the temporary directory (logs, fio errors) after the run
#   BENCH_SNAPSHOTS=1      then run snapbench.sh (what snapshots cost) with the same binary, REPS
#                          and BENCH_TMPDIR; its raw results go to BENCH_RESULTS.snapshots
#   BENCH_QUICK=1          smoke run: defaults become REPS=1 BENCH_SIZE=256M BENCH_RUNTIME=5
#                          BENCH_DIRECT_RUNTIME=3 BENCH_FILES=2000 (explicit values still win)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
source "$here/benchlib.sh"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	: "${REPS:=1}" "${BENCH_SIZE:=256M}" "${BENCH_RUNTIME:=5}" "${BENCH_DIRECT_RUNTIME:=3}"
	: "${BENCH_FILES:=2000}"
fi
REPS=${REPS:-3}
BENCH_SIZE=${BENCH_SIZE:-1G}
BENCH_RUNTIME=${BENCH_RUNTIME:-20}
BENCH_DIRECT_RUNTIME=${BENCH_DIRECT_RUNTIME:-10}
BENCH_JOBS=${BENCH_JOBS:-16}
BENCH_FILES=${BENCH_FILES:-20000}
BENCH_FS=${BENCH_FS:-snapfs passthrough_ll bindfs ext4}

workloads=(seqwrite coldread randw1 randw16 direct meta)
declare -A wl_title=(
	[seqwrite]="seq write 1M + fsync"
	[coldread]="cold seq read 1M"
	[randw1]="rand overwrite 4k, 1 writer"
	[randw16]="rand overwrite 4k, $BENCH_JOBS writers"
	[direct]="O_DIRECT rand write 4k"
	[meta]="create+stat+unlink"
)
declare -A wl_unit=(
	[seqwrite]="MiB/s" [coldread]="MiB/s" [randw1]="IOPS" [randw16]="IOPS"
	[direct]="IOPS" [meta]="files/s"
)

# ---- preconditions ----------------------------------------------------------------------------

bench_require_root
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer, not '$REPS'"
read -r -a fs_list <<<"$BENCH_FS"
[ "${#fs_list[@]}" -gt 0 ] || die "BENCH_FS names no filesystem"
for fs in "${fs_list[@]}"; do
	case $fs in
	snapfs | passthrough_ll | bindfs | ext4) ;;
	*) die "unknown filesystem '$fs' in BENCH_FS" ;;
	esac
done
need=(fio cc mountpoint fusermount3)
[[ " ${fs_list[*]} " == *" bindfs "* ]] && need+=(bindfs)
[[ " ${fs_list[*]} " == *" passthrough_ll "* ]] && need+=(pkg-config)
bench_require_commands "${need[@]}"
bench_find_snapfs "${1:-}"
# the metadata workload needs more than BENCH_FILES descriptors in passthrough_ll
bench_raise_fd_limit

# ---- temporary directory, mounts, cleanup -----------------------------------------------------

bench_make_tmpdir snapfs-bench "${fs_list[@]}"

cc -O2 -Wall -o "$T/bin/metabench" "$here/metabench.c" || die "cannot compile metabench.c"
if [[ " ${fs_list[*]} " == *" passthrough_ll "* ]]; then
	bench_build_ptll
fi

# mount_fs FS: start the daemon of FS on $T/FS/mnt and wait until the mount is there.
mount_fs() {
	if [ "$1" = ext4 ]; then
		mkdir -p "$T/ext4/src" "$T/ext4/mnt"
	else
		bench_mount "$1" "$1"
	fi
}

# umount_fs FS: unmount FS and wait for its daemon to exit.
umount_fs() {
	[ "$1" = ext4 ] || bench_umount "$1" "$1"
}

# dir_of FS: the directory the workloads use on FS.
dir_of() {
	if [ "$1" = ext4 ]; then
		echo "$T/ext4/src"
	else
		echo "$T/$1/mnt"
	fi
}

# fio_run FS NAME FIO-ARGS...: run one fio job on the test file of FS; prints its terse line.
fio_run() {
	local fs=$1 name=$2
	shift 2
	fio --name="$name" --filename="$(dir_of "$fs")/bench.dat" --ioengine=psync \
		--size="$BENCH_SIZE" --output-format=terse --terse-version=3 "$@" \
		2>>"$T/log/fio-$fs-$name.err"
}

# run_workload ROUND WORKLOAD FS: measure and append one result line.
run_workload() {
	local round=$1 wl=$2 fs=$3 dir out value
	dir=$(dir_of "$fs")
	case $wl in
	seqwrite)
		rm -f "$dir/bench.dat"
		sync
		out=$(fio_run "$fs" seqwrite --rw=write --bs=1M --end_fsync=1) ||
			die "fio seqwrite failed on $fs (see $T/log/fio-$fs-seqwrite.err)"
		value=$(terse_field 48 1 <<<"$out")
		;;
	coldread)
		umount_fs "$fs"
		drop_caches
		mount_fs "$fs"
		out=$(fio_run "$fs" coldread --rw=read --bs=1M) ||
			die "fio coldread failed on $fs (see $T/log/fio-$fs-coldread.err)"
		value=$(terse_field 7 1 <<<"$out")
		;;
	randw1 | randw16)
		local jobs=1
		[ "$wl" = randw16 ] && jobs=$BENCH_JOBS
		sync
		out=$(fio_run "$fs" "$wl" --rw=randwrite --bs=4k --time_based \
			--runtime="$BENCH_RUNTIME" --end_fsync=1 --numjobs="$jobs" \
			--group_reporting) ||
			die "fio $wl failed on $fs (see $T/log/fio-$fs-$wl.err)"
		value=$(terse_field 49 0 <<<"$out")
		;;
	direct)
		sync
		if out=$(fio_run "$fs" direct --rw=randwrite --bs=4k --direct=1 --time_based \
			--runtime="$BENCH_DIRECT_RUNTIME"); then
			value=$(terse_field 49 0 <<<"$out")
		else
			value=fails
			echo "  ($fs: O_DIRECT writes fail: $(grep -m1 -o -e 'Invalid argument' \
				-e 'error=.*' "$T/log/fio-$fs-direct.err" || echo 'see fio output'))"
		fi
		;;
	meta)
		mkdir "$dir/meta.$round"
		sync
		if out=$("$T/bin/metabench" "$dir/meta.$round" "$BENCH_FILES" \
			2>"$T/log/meta-$fs.err"); then
			value=${out##*files_per_sec=}
		else
			value=fails
			echo "  ($fs: $(cat "$T/log/meta-$fs.err"); open-file limit $(ulimit -n))"
		fi
		rm -rf "$dir/meta.$round"
		;;
	esac
	printf '%s\t%s\t%s\t%s\n' "$round" "$wl" "$fs" "$value" >>"$results"
	printf '  %-15s %-32s %12s %s\n' "$fs" "${wl_title[$wl]}" "$value" "${wl_unit[$wl]}"
}

# ---- the run ----------------------------------------------------------------------------------

bench_describe "snapfs benchmark"
echo "open-file limit of the daemons: $(ulimit -n)"
echo "REPS=$REPS BENCH_SIZE=$BENCH_SIZE BENCH_RUNTIME=$BENCH_RUNTIME" \
	"BENCH_DIRECT_RUNTIME=$BENCH_DIRECT_RUNTIME BENCH_JOBS=$BENCH_JOBS BENCH_FILES=$BENCH_FILES"

for fs in "${fs_list[@]}"; do
	mount_fs "$fs"
done

nfs=${#fs_list[@]}
for ((round = 1; round <= REPS; round++)); do
	order=()
	for ((i = 0; i < nfs; i++)); do
		order+=("${fs_list[$(((i + round - 1) % nfs))]}")
	done
	echo
	echo "round $round of $REPS (order: ${order[*]}), $(date +%T)"
	for wl in "${workloads[@]}"; do
		for fs in "${order[@]}"; do
			run_workload "$round" "$wl" "$fs"
		done
	done
done

for fs in "${fs_list[@]}"; do
	umount_fs "$fs"
done

# ---- report -----------------------------------------------------------------------------------

# median WORKLOAD FS: median of the numeric results; "fails" if none; a "*" if some failed.
median() {
	awk -F'\t' -v wl="$1" -v fs="$2" '
		$2 == wl && $3 == fs { if ($4 == "fails") nf++; else v[n++] = $4 }
		END {
			if (n == 0) { print (nf ? "fails" : "-"); exit }
			for (i = 1; i < n; i++)
				for (j = i; j > 0 && v[j - 1] + 0 > v[j] + 0; j--) {
					t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
				}
			m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
			printf "%s%s\n", (m == int(m) ? sprintf("%d", m) : sprintf("%.1f", m)), (nf ? "*" : "")
		}' "$results"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		sub(/\*$/, "", a); sub(/\*$/, "", b)
		if (a == "fails" || a == "-" || b == "fails" || b == "-" || b + 0 == 0)
			print "n/a"
		else
			printf "%.2f\n", a / b
	}'
}

# verdict RATIO TARGET
verdict() {
	awk -v r="$1" -v t="$2" 'BEGIN {
		if (r == "n/a") print "n/a"; else print (r + 0 >= t + 0 ? "PASS" : "MISS")
	}'
}

declare -A med
for wl in "${workloads[@]}"; do
	for fs in "${fs_list[@]}"; do
		med[$wl,$fs]=$(median "$wl" "$fs")
	done
done

echo
echo "Medians of $REPS round(s) (higher is better)"
printf '%-32s %-8s' "workload" "unit"
for fs in "${fs_list[@]}"; do
	printf ' %14s' "$fs"
done
echo
for wl in "${workloads[@]}"; do
	printf '%-32s %-8s' "${wl_title[$wl]}" "${wl_unit[$wl]}"
	for fs in "${fs_list[@]}"; do
		printf ' %14s' "${med[$wl,$fs]}"
	done
	echo
done

# Targets: workload, baseline, minimum ratio of snapfs to it.
targets=(
	"seqwrite passthrough_ll 0.9"
	"randw1 passthrough_ll 0.9"
	"randw16 passthrough_ll 0.9"
	"coldread bindfs 0.9"
	"meta bindfs 1.0"
)
if [[ " ${fs_list[*]} " == *" snapfs "* ]]; then
	echo
	echo "Ratios snapfs / baseline of the medians (targets marked)"
	printf '%-32s' "workload"
	for base in "${fs_list[@]}"; do
		[ "$base" = snapfs ] || printf ' %20s' "/$base"
	done
	echo
	for wl in "${workloads[@]}"; do
		printf '%-32s' "${wl_title[$wl]}"
		for base in "${fs_list[@]}"; do
			[ "$base" = snapfs ] && continue
			r=$(ratio "${med[$wl,snapfs]}" "${med[$wl,$base]}")
			cell=$r
			for t in "${targets[@]}"; do
				read -r twl tbase tmin <<<"$t"
				if [ "$twl" = "$wl" ] && [ "$tbase" = "$base" ]; then
					cell="$r $(verdict "$r" "$tmin") (>=$tmin)"
				fi
			done
			printf ' %20s' "$cell"
		done
		echo
	done

	echo
	echo "Targets"
	for t in "${targets[@]}"; do
		read -r twl tbase tmin <<<"$t"
		[[ " ${fs_list[*]} " == *" $tbase "* ]] || continue
		r=$(ratio "${med[$twl,snapfs]}" "${med[$twl,$tbase]}")
		printf '  %-4s %-32s snapfs/%-15s %5s  (target >= %s)\n' "$(verdict "$r" "$tmin")" \
			"${wl_title[$twl]}" "$tbase" "$r" "$tmin"
	done
fi

if [ "$REPS" -gt 1 ]; then
	echo
	echo "Per-round values (round: value per filesystem in the order above)"
	for wl in "${workloads[@]}"; do
		printf '%-32s' "${wl_title[$wl]}"
		for ((round = 1; round <= REPS; round++)); do
			printf ' %s:' "$round"
			for fs in "${fs_list[@]}"; do
				printf ' %s' "$(awk -F'\t' -v r="$round" -v wl="$wl" -v fs="$fs" \
					'$1 == r && $2 == wl && $3 == fs { print $4 }' "$results")"
			done
			printf ' |'
		done
		echo
	done
fi

bench_copy_results

if [ "${BENCH_SNAPSHOTS:-0}" = 1 ]; then
	echo
	SNAPFS=$SNAPFS REPS=$REPS BENCH_TMPDIR=$BENCH_TMPDIR \
		BENCH_RESULTS=${BENCH_RESULTS:+$BENCH_RESULTS.snapshots} "$here/snapbench.sh" ||
		die "snapbench.sh failed"
fi
