#!/usr/bin/env bash
# methods.sh: what each snapshot provider costs (every one 'snapfs list providers' lists that can
# serve: copy-on-write, redirect-on-write, complete copy, btrfs offload), as ratios to a plain
# pass-through baseline (libfuse's passthrough_ll) on the same backing filesystem, measured in
# the same run.
#
# usage (as root): tests/bench/methods.sh [BUILD_DIR]
#
# The providers come from 'snapfs list providers -H SRC' (name, method, offload, serves, reason),
# asked of a directory on the ext4 of BENCH_TMPDIR and of the root of a subvolume of a btrfs made
# for the run (mkfs.btrfs on a loop device over a sparse image under the temporary directory).
# A provider that serves the ext4 directory runs there; one that serves only the btrfs subvolume
# runs on the btrfs; one that serves neither is left out, with its reasons. Each filesystem in
# use gets its own baseline volume. Per provider (NAME, mounted 'snapfs mount -f --provider
# NAME'), three volumes:
#   NAME        one file of BENCH_MB MiB, written through the mount: the data cases
#   NAME-small  METHODS_SMALL_MB MiB in one file          } written in the backing directory
#   NAME-large  METHODS_LARGE_MB MiB in METHODS_LARGE_FILES } before the first mount, fio's
#               files                                     } pseudo-random buffers (no holes,
#                                                           no zeros, nothing shared)
# and per filesystem the baseline base-FS: passthrough_ll ('-o source=SRC,writeback') with the
# same file as NAME, and for reference nosnap-FS: snapfs with default options and the same file,
# never snapshotted (the daemon's own cost, without snapshots: its cold reads, for one, are
# faster than passthrough_ll's, see docs/benchmarks.md).
#
# Every round runs, the data volumes in an order that rotates from sample to sample (seq and
# snapread, then rand and read1, METHODS_SAMPLES times each; readN's read as often):
#   seq       delete every snapshot; one snapshot; sequential overwrite of the whole file, 1 MiB
#             writes, fsync at the end (in fio's time)                          MiB/s
#   snapread  cold sequential read of the file in that snapshot (every byte overwritten live
#             since); the baseline reads its live file                          MiB/s
#   rand      delete every snapshot; one snapshot; METHODS_RAND_IOS random 4 KiB overwrites of
#             distinct blocks (the same blocks every time), fsync at the end    IOPS
#   read1     cold sequential read of the live file, overwritten as above since its snapshot
#             (redirect-on-write pays here: the live file is where the new blocks went)  MiB/s
#   readN     delete every snapshot; METHODS_SNAPSHOTS times: a snapshot, then
#             METHODS_SNAP_IOS random 4 KiB overwrites (another seed each time), fsync; then a
#             cold sequential read of the live file                             MiB/s
#   create    on NAME-small and NAME-large alternately, METHODS_CREATES times each: 'snapfs
#             create' (the whole command) and, for snapshots that become trees, the time until
#             'snapfs list shadows -H' shows it as 'tree' (column 7); each snapshot is deleted
#             before the next                                                   ms
#   space     after snapread and after read1: the space the snapshot of seq or rand holds, per
#             byte changed: the growth of the diff area (allocated bytes of DIFF/diff.dat and
#             DIFF/trees, 'du'; the catalog left out) from before the snapshot to after the
#             writes: pre-images (cow), redirected live chunks (row), the copy (clone); for a
#             btrfs subvolume, the data bytes deleting it frees on the btrfs ('btrfs filesystem
#             df' before and after, once the cleaner is done; its exclusive bytes as 'btrfs
#             filesystem du' counts them miss extents that one file references twice, which
#             partly overwritten extents are)                                   bytes/byte
# A complete copy ('clone' method) is waited for (until 'tree') after each snapshot of seq and
# rand, before the writes: those cases measure the volume once the copy is made. The baselines
# and nosnap-FS take no snapshot and get the same writes.
#
# Sync and 'echo 3 > /proc/sys/vm/drop_caches' before every cold read. The report is four
# markdown tables: for each sample of a case the ratio of a volume to the baseline on its
# filesystem, measured next to it (the median of the samples of all rounds, the lowest and
# highest in brackets); the same ratios of the providers to snapfs without snapshots; the
# medians of the figures themselves; the creation and space figures.
# Like bench.sh it is a measurement: it fails only if something breaks.
#
# Environment:
#   SNAPFS=PATH               snapfs binary to use (default: BUILD_DIR/cli/snapfs, built if needed)
#   REPS=3                    rounds
#   BENCH_MB=256              size of the data file in MiB
#   METHODS_RAND_IOS=N        random 4 KiB writes of rand (default: a quarter of the file's blocks)
#   METHODS_SNAPSHOTS=100     snapshots of readN
#   METHODS_SNAP_IOS=N        random 4 KiB writes after each of them (default: BENCH_MB)
#   METHODS_SMALL_MB=64       size of the small volume
#   METHODS_LARGE_MB=1024     size of the large volume (8192 for the 8 GiB case: about 30 GiB
#                             more written in all, and minutes of copying for 'clone')
#   METHODS_LARGE_FILES=4     files of the large volume
#   METHODS_CREATES=3         timed creations per round on each of the small and large volumes
#   METHODS_SAMPLES=3         samples per round of seq, snapread, rand, read1 and readN's read
#   METHODS_PROVIDERS="..."   run only these providers (default: every one that can serve)
#   METHODS_BTRFS=1           0: no btrfs image (providers that need btrfs are left out)
#   METHODS_SETTLE_S=1800     longest wait for a complete copy
#   BENCH_TMPDIR=/var/tmp     where the temporary directory goes: must not be tmpfs
#   BENCH_RESULTS=PATH        also copy the raw results (round, case, volume, value) there
#   SNAPFS_MOUNT_OPTS=...     extra arguments for 'snapfs mount'
#   BENCH_KEEP=1              keep the temporary directory (logs, fio errors, the btrfs image,
#                             unmounted) after the run
#   BENCH_QUICK=1             quick run: defaults become REPS=1 BENCH_MB=64 METHODS_CREATES=2
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
source "$here/benchlib.sh"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	: "${REPS:=1}" "${BENCH_MB:=64}" "${METHODS_CREATES:=2}"
fi
REPS=${REPS:-3}
BENCH_MB=${BENCH_MB:-256}
METHODS_RAND_IOS=${METHODS_RAND_IOS:-$((BENCH_MB * 64))}
METHODS_SNAPSHOTS=${METHODS_SNAPSHOTS:-100}
METHODS_SNAP_IOS=${METHODS_SNAP_IOS:-$BENCH_MB}
METHODS_SMALL_MB=${METHODS_SMALL_MB:-64}
METHODS_LARGE_MB=${METHODS_LARGE_MB:-1024}
METHODS_LARGE_FILES=${METHODS_LARGE_FILES:-4}
METHODS_CREATES=${METHODS_CREATES:-3}
METHODS_SAMPLES=${METHODS_SAMPLES:-3}
METHODS_PROVIDERS=${METHODS_PROVIDERS:-}
METHODS_BTRFS=${METHODS_BTRFS:-1}
METHODS_SETTLE_S=${METHODS_SETTLE_S:-1800}

# ---- preconditions ----------------------------------------------------------------------------

bench_require_root
for v in REPS BENCH_MB METHODS_RAND_IOS METHODS_SNAPSHOTS METHODS_SNAP_IOS METHODS_SMALL_MB \
	METHODS_LARGE_MB METHODS_LARGE_FILES METHODS_CREATES METHODS_SAMPLES METHODS_SETTLE_S; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
((METHODS_RAND_IOS <= BENCH_MB * 256)) ||
	die "METHODS_RAND_IOS ($METHODS_RAND_IOS) is more than the file's $((BENCH_MB * 256)) blocks"
((METHODS_SNAPSHOTS <= 512)) || die "METHODS_SNAPSHOTS: a volume holds 512 snapshots at most"
[ "$(stat -f -c %T "$BENCH_TMPDIR")" != tmpfs ] ||
	die "BENCH_TMPDIR ($BENCH_TMPDIR) is on tmpfs: choose a directory on a disk"
bench_require_commands fio mountpoint fusermount3 cc pkg-config du
if [ "$METHODS_BTRFS" = 1 ]; then
	for cmd in mkfs.btrfs btrfs losetup; do
		command -v "$cmd" >/dev/null || {
			echo "no '$cmd': no btrfs image, providers that need btrfs are left out"
			METHODS_BTRFS=0
		}
	done
fi
bench_find_snapfs "${1:-}"
bench_raise_fd_limit

# ---- temporary directory, the btrfs image, cleanup ----------------------------------------------

bench_make_tmpdir snapfs-methods
bench_build_ptll

loopdev=""
btrfs_cleanup() {
	if mountpoint -q "$T/bfs" 2>/dev/null; then
		umount "$T/bfs" 2>/dev/null || umount -l "$T/bfs" 2>/dev/null || true
	fi
	if [ -n "$loopdev" ]; then
		losetup -d "$loopdev" 2>/dev/null || true
	fi
}
bench_cleanup_hooks+=(btrfs_cleanup)

# The btrfs image is sparse: it holds the data file of two baselines and a provider with its
# snapshots, the small and the large volume, twice over (btrfs keeps partly overwritten extents).
img_mb=$((2 * (4 * BENCH_MB + METHODS_SMALL_MB + METHODS_LARGE_MB) + 1024))
if [ "$METHODS_BTRFS" = 1 ]; then
	truncate -s "${img_mb}M" "$T/btrfs.img"
	loopdev=$(losetup --find --show --direct-io=on "$T/btrfs.img") ||
		die "no loop device for the btrfs image"
	mkfs.btrfs -q -f "$loopdev" >"$T/log/mkfs.btrfs.log" 2>&1 ||
		die "mkfs.btrfs failed (see $T/log/mkfs.btrfs.log)"
	mkdir "$T/bfs"
	mount "$loopdev" "$T/bfs" || die "cannot mount the btrfs image"
fi

# make_vol NAME FS: $T/NAME/src (on btrfs the root of a subvolume, $T/NAME a symlink into the
# btrfs) and $T/NAME/mnt, and NAME in the names the cleanup unmounts.
make_vol() {
	local name=$1 fs=$2
	if [ "$fs" = btrfs ]; then
		mkdir "$T/bfs/$name"
		btrfs subvolume create "$T/bfs/$name/src" >/dev/null ||
			die "cannot create the subvolume $T/bfs/$name/src"
		mkdir "$T/bfs/$name/mnt"
		ln -s "$T/bfs/$name" "$T/$name"
	else
		mkdir -p "$T/$name/src" "$T/$name/mnt"
	fi
	bench_names+=("$name")
}

bench_describe "snapfs snapshot methods benchmark"
echo "REPS=$REPS BENCH_MB=$BENCH_MB METHODS_RAND_IOS=$METHODS_RAND_IOS" \
	"METHODS_SNAPSHOTS=$METHODS_SNAPSHOTS METHODS_SNAP_IOS=$METHODS_SNAP_IOS" \
	"METHODS_SMALL_MB=$METHODS_SMALL_MB METHODS_LARGE_MB=$METHODS_LARGE_MB" \
	"METHODS_LARGE_FILES=$METHODS_LARGE_FILES METHODS_CREATES=$METHODS_CREATES" \
	"METHODS_SAMPLES=$METHODS_SAMPLES"
if [ -n "$loopdev" ]; then
	echo "btrfs: ${img_mb} MiB sparse image $T/btrfs.img on $loopdev (direct I/O)," \
		"mkfs.btrfs defaults, mounted on $T/bfs"
fi

# ---- the providers ----------------------------------------------------------------------------

mkdir "$T/probe"
"$SNAPFS" list providers -H "$T/probe" >"$T/providers.ext4" || die "'snapfs list providers' failed"
: >"$T/providers.btrfs"
if [ "$METHODS_BTRFS" = 1 ]; then
	btrfs subvolume create "$T/bfs/probe" >/dev/null || die "cannot create a btrfs subvolume"
	"$SNAPFS" list providers -H "$T/bfs/probe" >"$T/providers.btrfs" ||
		die "'snapfs list providers' failed"
fi

# serves FS NAME: the 'serves' and 'reason' fields of NAME on FS, tab-separated.
serves() {
	awk -F'\t' -v n="$2" '$1 == n { print $4 "\t" $5 }' "$T/providers.$1"
}

provs=()                # the providers that run, in the listing's order
declare -A prov_fs=() prov_method=()
echo "providers ('snapfs list providers -H'):"
while IFS=$'\t' read -r name method offload _ _; do
	if [ -n "$METHODS_PROVIDERS" ] && [[ " $METHODS_PROVIDERS " != *" $name "* ]]; then
		echo "  $name ($method): not in METHODS_PROVIDERS"
		continue
	fi
	IFS=$'\t' read -r on_ext4 why_ext4 <<<"$(serves ext4 "$name")"
	IFS=$'\t' read -r on_btrfs why_btrfs <<<"$(serves btrfs "$name")"
	if [ "$on_ext4" = yes ]; then
		prov_fs[$name]=ext4
	elif [ "$on_btrfs" = yes ]; then
		prov_fs[$name]=btrfs
	else
		echo "  $name ($method): left out: ext4: ${why_ext4:-?};" \
			"btrfs: ${why_btrfs:-no btrfs image}"
		continue
	fi
	provs+=("$name")
	prov_method[$name]=$method
	echo "  $name ($method, offload $offload): on ${prov_fs[$name]}"
done <"$T/providers.ext4"
[ "${#provs[@]}" -gt 0 ] || die "no provider can serve"

# Space under BENCH_TMPDIR, roughly: per provider on ext4 the data file with a snapshot's worth,
# the small and large volumes; one copy of those (complete copy); a complete copy per snapshot
# of readN; the baselines and nosnap volumes; what the btrfs image fills.
n_ext4=0
for p in "${provs[@]}"; do
	[ "${prov_fs[$p]}" = ext4 ] && n_ext4=$((n_ext4 + 1))
done
need_mb=$((n_ext4 * (3 * BENCH_MB + METHODS_SMALL_MB + METHODS_LARGE_MB) + METHODS_SMALL_MB +
	METHODS_LARGE_MB + METHODS_SNAPSHOTS * BENCH_MB + 4 * BENCH_MB + img_mb / 2))
avail_mb=$(df -m --output=avail "$T" | awk 'NR == 2 { print $1 }')
((avail_mb >= need_mb)) ||
	die "about $need_mb MiB are needed under $BENCH_TMPDIR, $avail_mb MiB are free"

fss=()                  # the filesystems in use, ext4 first
for fs in ext4 btrfs; do
	for p in "${provs[@]}"; do
		if [ "${prov_fs[$p]}" = "$fs" ]; then
			fss+=("$fs")
			break
		fi
	done
done

# ---- helpers ----------------------------------------------------------------------------------

# record ROUND CASE VOL VALUE (ROUND: the round, or ROUND.SAMPLE)
record() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"
}

# show CASE VOL VALUE UNIT: one progress line.
show() {
	printf '  %-9s %-14s %12s %s\n' "$1" "$2" "$3" "$4"
}

# fio_run FILE NAME FIO-ARGS...: one fio job (psync) over BENCH_MB MiB; prints its terse line.
fio_run() {
	local file=$1 name=$2
	shift 2
	fio --name="$name" --filename="$file" --ioengine=psync --size="${BENCH_MB}M" \
		--output-format=terse --terse-version=3 "$@" 2>>"$T/log/fio-$name.err" ||
		die "fio $name failed on '$file' (see $T/log/fio-$name.err)"
}

# fill DIR FILES MB: FILES files of MB MiB in all, fio's pseudo-random data, synced.
fill() {
	local dir=$1 n=$2 mb=$3 i
	for ((i = 0; i < n; i++)); do
		fio --name=fill --filename="$dir/data$i" --ioengine=psync --rw=write --bs=1M \
			--size="$((mb / n))M" --output-format=terse --terse-version=3 \
			>/dev/null 2>>"$T/log/fio-fill.err" || die "cannot fill '$dir'"
	done
	sync
}

# ms_since T0: milliseconds since T0 (an EPOCHREALTIME).
ms_since() {
	local t1=$EPOCHREALTIME
	awk -v a="${1//,/.}" -v b="${t1//,/.}" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

mnt_of() {
	echo "$T/$1/mnt"
}

# provider_of VOL: the provider of a volume with snapshots (NAME, NAME-small, NAME-large); ""
# for base-FS and nosnap-FS.
provider_of() {
	case $1 in
	base-* | nosnap-*) echo "" ;;
	*-small | *-large) echo "${1%-*}" ;;
	*) echo "$1" ;;
	esac
}

# snap_create VOL: take a snapshot of VOL; prints its id and browse name, tab-separated.
snap_create() {
	local line
	line=$("$SNAPFS" create -H "$(mnt_of "$1")") || die "'snapfs create' failed on $1"
	echo "${line%%$'\t'*}"$'\t'"${line##*$'\t'}"
}

# kind_of VOL ID: column 7 of the snapshot ID ('journal' or 'tree'), "" when it is not listed.
kind_of() {
	"$SNAPFS" list shadows -H "$(mnt_of "$1")" | awk -F'\t' -v id="$2" '$1 == id { print $7 }'
}

# settle VOL: for a complete copy, wait until every snapshot of VOL is a tree.
settle() {
	local deadline=$((SECONDS + METHODS_SETTLE_S))
	[ "${prov_method[$(provider_of "$1")]}" = clone ] || return 0
	while "$SNAPFS" list shadows -H "$(mnt_of "$1")" | awk -F'\t' '$7 != "tree" { f = 1 }
		END { exit !f }'; do
		((SECONDS < deadline)) || die "the copies of $1 are not done after $METHODS_SETTLE_S s"
		sleep 0.05
	done
}

# delete_all VOL: delete every snapshot of VOL (none is fine); on btrfs, wait for the cleaner.
delete_all() {
	local mnt
	mnt=$(mnt_of "$1")
	if [ -n "$("$SNAPFS" list shadows -H "$mnt")" ]; then
		"$SNAPFS" delete shadows --all "$mnt" >/dev/null ||
			die "'snapfs delete shadows --all' failed on $1"
	fi
	if [ "${prov_fs[$(provider_of "$1")]}" = btrfs ]; then
		btrfs subvolume sync "$T/bfs" >/dev/null
	fi
}

# seq_over ROUND VOL: sequential overwrite of VOL's data file.
seq_over() {
	local value
	sync
	value=$(fio_run "$(mnt_of "$2")/bench.dat" "seq-$2" --rw=write --bs=1M --end_fsync=1 |
		terse_field 48 1)
	record "$1" seq "$2" "$value"
	show seq "$2" "$value" MiB/s
}

# rand_over ROUND VOL: METHODS_RAND_IOS random 4 KiB overwrites of distinct blocks.
rand_over() {
	local value
	sync
	value=$(fio_run "$(mnt_of "$2")/bench.dat" "rand-$2" --rw=randwrite --bs=4k --iodepth=1 \
		--io_size=$((METHODS_RAND_IOS * 4096)) --randrepeat=1 --end_fsync=1 |
		terse_field 49 0)
	record "$1" rand "$2" "$value"
	show rand "$2" "$value" IOPS
}

# some_over VOL SEED: METHODS_SNAP_IOS random 4 KiB overwrites, the blocks chosen by SEED.
some_over() {
	fio_run "$(mnt_of "$1")/bench.dat" "some-$1" --rw=randwrite --bs=4k --iodepth=1 \
		--io_size=$((METHODS_SNAP_IOS * 4096)) --randseed="$2" --end_fsync=1 >/dev/null
}

# cold_read ROUND CASE VOL FILE
cold_read() {
	local value
	drop_caches
	value=$(fio_run "$4" "$2-$3" --rw=read --bs=1M --readonly | terse_field 7 1)
	record "$1" "$2" "$3" "$value"
	show "$2" "$3" "$value" MiB/s
}

# btrfs_data_used: the data bytes used on the btrfs, after a commit.
btrfs_data_used() {
	sync
	btrfs filesystem sync "$T/bfs" >/dev/null
	btrfs filesystem df -b "$T/bfs" | awk '/^Data/ { sub(/.*used=/, ""); sub(/[^0-9].*/, ""); print }'
}

# diff_bytes VOL: the bytes allocated in VOL's diff area (diff.dat, trees/), the catalog left
# out.
diff_bytes() {
	local diffarea
	sync
	diffarea=$("$SNAPFS" get -H diffarea "$(mnt_of "$1")" | cut -f2)
	du -s --block-size=1 --exclude='catalog.db*' "$diffarea" | cut -f1
}

# space ROUND CASE VOL ID CHANGED BEFORE: the space the snapshot ID of VOL holds, per byte of
# CHANGED: the growth of the diff area since BEFORE (diff_bytes before the snapshot), or for a
# btrfs subvolume what deleting it frees on the btrfs (it is deleted here); how it was counted
# goes to space_how[VOL].
declare -A space_how=()
space() {
	local round=$1 case=$2 vol=$3 id=$4 changed=$5 before=$6 mnt bytes dir u0 u1
	mnt=$(mnt_of "$vol")
	dir=$T/$vol/src/.snapfs/trees/$id
	if [ -d "$dir" ] && [ "$(stat -f -c %T "$dir")" = btrfs ] &&
		[ "$(stat -c %i "$dir")" = 256 ] && [[ "$(realpath "$dir")" == "$T/bfs/"* ]]; then
		u0=$(btrfs_data_used)
		"$SNAPFS" delete shadows --id "$id" "$mnt" >/dev/null || die "cannot delete $id of $vol"
		btrfs subvolume sync "$T/bfs" >/dev/null
		u1=$(btrfs_data_used)
		[[ "$u0$u1" =~ ^[0-9]+$ ]] || die "cannot read the data bytes used on the btrfs"
		bytes=$((u0 - u1))
		space_how[$vol]="data bytes that deleting the snapshot frees on the btrfs ('btrfs filesystem df' before and after)"
	else
		bytes=$(($(diff_bytes "$vol") - before))
		space_how[$vol]="growth of the diff area (allocated bytes of diff.dat and trees/, 'du'), before the snapshot to after the writes"
	fi
	record "$round" "$case" "$vol" "$(awk -v b="$bytes" -v c="$changed" \
		'BEGIN { r = b / c; printf "%.2f\n", (r < 0 && r > -0.005) ? 0 : r }')"
	show "$case" "$vol" "$bytes" "bytes for $changed changed"
}

# create_timed ROUND SIZE VOL: time 'snapfs create' on VOL (the small or large volume of a
# provider) and, when the snapshot becomes a tree, the time until it is one; then delete it.
create_timed() {
	local round=$1 size=$2 vol=$3 mnt t0 ms line id kind
	mnt=$(mnt_of "$vol")
	sync
	sleep 1
	t0=$EPOCHREALTIME
	line=$("$SNAPFS" create -H "$mnt") || die "'snapfs create' failed on $vol"
	ms=$(ms_since "$t0")
	id=${line%%$'\t'*}
	record "$round" "create_$size" "${vol%-*}" "$ms"
	show "create" "$vol" "$ms" ms
	kind=$(kind_of "$vol" "$id")
	if [ "$kind" = tree ]; then
		record "$round" "tree_$size" "${vol%-*}" "$ms"
	elif [ "${prov_method[${vol%-*}]}" = clone ]; then
		while [ "$(kind_of "$vol" "$id")" != tree ]; do
			(($(printf '%.0f' "$(ms_since "$t0")") < METHODS_SETTLE_S * 1000)) ||
				die "the copy of $vol is not done after $METHODS_SETTLE_S s"
			sleep 0.02
		done
		ms=$(ms_since "$t0")
		record "$round" "tree_$size" "${vol%-*}" "$ms"
		show "tree" "$vol" "$ms" ms
	fi
	"$SNAPFS" delete shadows --id "$id" "$mnt" >/dev/null || die "cannot delete $id of $vol"
	if [ "${prov_fs[${vol%-*}]}" = btrfs ]; then
		btrfs subvolume sync "$T/bfs" >/dev/null
	fi
}

# ---- setup ------------------------------------------------------------------------------------

datavols=()             # the volumes with the data file, in the order of round 1
for fs in "${fss[@]}"; do
	make_vol "base-$fs" "$fs"
	bench_mount "base-$fs" passthrough_ll
	make_vol "nosnap-$fs" "$fs"
	bench_mount "nosnap-$fs" snapfs
	datavols+=("base-$fs" "nosnap-$fs")
	for p in "${provs[@]}"; do
		[ "${prov_fs[$p]}" = "$fs" ] || continue
		make_vol "$p" "$fs"
		make_vol "$p-small" "$fs"
		make_vol "$p-large" "$fs"
		echo "filling $p-small ($METHODS_SMALL_MB MiB) and $p-large ($METHODS_LARGE_MB MiB)"
		fill "$T/$p-small/src" 1 "$METHODS_SMALL_MB"
		fill "$T/$p-large/src" "$METHODS_LARGE_FILES" "$METHODS_LARGE_MB"
		for v in "$p" "$p-small" "$p-large"; do
			SNAPFS_MOUNT_OPTS="$SNAPFS_MOUNT_OPTS --provider $p" bench_mount "$v" snapfs
			got=$("$SNAPFS" get -H provider "$(mnt_of "$v")" | cut -f2)
			[ "$got" = "$p" ] || die "$v uses provider '$got', not '$p'"
		done
		datavols+=("$p")
	done
done
for v in "${datavols[@]}"; do
	fio_run "$(mnt_of "$v")/bench.dat" "layout-$v" --rw=write --bs=1M --end_fsync=1 >/dev/null
done
sync

# ---- the run ----------------------------------------------------------------------------------

# rotate K: order, the data volumes rotated by K; snapvols, those of them with snapshots.
rotate() {
	local i v n=${#datavols[@]}
	order=()
	snapvols=()
	for ((i = 0; i < n; i++)); do
		v=${datavols[$(((i + $1) % n))]}
		order+=("$v")
		if [ -n "$(provider_of "$v")" ]; then
			snapvols+=("$v")
		fi
	done
}

# snap_all: delete every snapshot of the volumes with snapshots, note their diff areas' size
# in before[], take one snapshot of each (snap_id[], snap_browse[]), wait for complete copies.
declare -A snap_id=() snap_browse=() before=()
snap_all() {
	local v line
	for v in "${snapvols[@]}"; do
		delete_all "$v"
		before[$v]=$(diff_bytes "$v")
		line=$(snap_create "$v")
		IFS=$'\t' read -r "snap_id[$v]" "snap_browse[$v]" <<<"$line"
		settle "$v"
	done
}

for ((round = 1; round <= REPS; round++)); do
	rotate $(((round - 1) * METHODS_SAMPLES))
	echo
	echo "round $round of $REPS (order: ${order[*]}), $(date +%T)"

	# seq, then snapread of the snapshot taken before it; results keyed ROUND.SAMPLE
	for ((i = 1; i <= METHODS_SAMPLES; i++)); do
		rotate $(((round - 1) * METHODS_SAMPLES + i - 1))
		snap_all
		for v in "${order[@]}"; do
			seq_over "$round.$i" "$v"
		done
		for v in "${order[@]}"; do
			if [ -n "$(provider_of "$v")" ]; then
				cold_read "$round.$i" snapread "$v" \
					"$(mnt_of "$v")/.snapshots/${snap_browse[$v]}/bench.dat"
			else
				cold_read "$round.$i" snapread "$v" "$(mnt_of "$v")/bench.dat"
			fi
		done
		for v in "${snapvols[@]}"; do
			space "$round.$i" space_seq "$v" "${snap_id[$v]}" $((BENCH_MB * 1048576)) \
				"${before[$v]}"
		done
	done

	# rand, then read1 of the live file it overwrote
	for ((i = 1; i <= METHODS_SAMPLES; i++)); do
		rotate $(((round - 1) * METHODS_SAMPLES + i - 1))
		snap_all
		for v in "${order[@]}"; do
			rand_over "$round.$i" "$v"
		done
		for v in "${order[@]}"; do
			cold_read "$round.$i" read1 "$v" "$(mnt_of "$v")/bench.dat"
		done
		for v in "${snapvols[@]}"; do
			space "$round.$i" space_rand "$v" "${snap_id[$v]}" $((METHODS_RAND_IOS * 4096)) \
				"${before[$v]}"
		done
	done

	# readN: METHODS_SNAPSHOTS snapshots, each followed by some overwrites, then the reads
	rotate $(((round - 1) * METHODS_SAMPLES))
	for v in "${snapvols[@]}"; do
		delete_all "$v"
	done
	printf '  %s snapshots, %s writes after each: ' "$METHODS_SNAPSHOTS" "$METHODS_SNAP_IOS"
	for ((s = 1; s <= METHODS_SNAPSHOTS; s++)); do
		for v in "${snapvols[@]}"; do
			snap_create "$v" >/dev/null
		done
		for v in "${order[@]}"; do
			some_over "$v" "$s"
		done
		((s % 10)) || printf '%s ' "$s"
	done
	echo
	for v in "${snapvols[@]}"; do
		settle "$v"
	done
	for ((i = 1; i <= METHODS_SAMPLES; i++)); do
		rotate $(((round - 1) * METHODS_SAMPLES + i - 1))
		for v in "${order[@]}"; do
			cold_read "$round.$i" readN "$v" "$(mnt_of "$v")/bench.dat"
		done
	done
	for v in "${snapvols[@]}"; do
		delete_all "$v"
	done

	# create: small and large alternately
	rotate $(((round - 1) * METHODS_SAMPLES))
	for ((c = 1; c <= METHODS_CREATES; c++)); do
		for v in "${snapvols[@]}"; do
			create_timed "$round" small "$v-small"
			create_timed "$round" large "$v-large"
		done
	done
done

for v in "${bench_names[@]}"; do
	case $v in
	base-*) bench_umount "$v" passthrough_ll ;;
	*) bench_umount "$v" snapfs ;;
	esac
done

# ---- report -----------------------------------------------------------------------------------

# median CASE VOL: the median of the values (as many decimals as they have), "-" when none.
median() {
	awk -F'\t' -v c="$1" -v v="$2" '
		$2 == c && $3 == v { x[n++] = $4 }
		END {
			if (n == 0) { print "-"; exit }
			for (i = 1; i < n; i++)
				for (j = i; j > 0 && x[j - 1] + 0 > x[j] + 0; j--) {
					t = x[j]; x[j] = x[j - 1]; x[j - 1] = t
				}
			if (n % 2) { print x[(n - 1) / 2]; exit }
			d = split(x[n / 2], p, ".") > 1 ? length(p[2]) : 0
			printf "%." d "f\n", (x[n / 2 - 1] + x[n / 2]) / 2
		}' "$results"
}

# spread CASE VOL: the median of the values, and when they differ the lowest and highest in
# brackets.
spread() {
	local m
	m=$(median "$1" "$2")
	awk -F'\t' -v c="$1" -v v="$2" -v m="$m" '
		$2 == c && $3 == v {
			if (n++ == 0 || $4 + 0 < lo + 0) lo = $4
			if (n == 1 || $4 + 0 > hi + 0) hi = $4
		}
		END { print (n > 1 && lo != hi ? m " (" lo "-" hi ")" : m) }' "$results"
}

# ratio A B
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b
	}'
}

# round_ratios CASE VOL BASE: the ratios VOL / BASE of CASE, sample by sample: their median,
# and with more than one sample the lowest and highest in brackets.
round_ratios() {
	awk -F'\t' -v c="$1" -v v="$2" -v b="$3" '
		$2 == c && $3 == v { a[$1] = $4 }
		$2 == c && $3 == b { d[$1] = $4 }
		END {
			for (r in a)
				if ((r in d) && d[r] + 0 > 0)
					x[n++] = a[r] / d[r]
			if (n == 0) { print "n/a"; exit }
			for (i = 1; i < n; i++)
				for (j = i; j > 0 && x[j - 1] > x[j]; j--) {
					t = x[j]; x[j] = x[j - 1]; x[j - 1] = t
				}
			m = n % 2 ? x[(n - 1) / 2] : (x[n / 2 - 1] + x[n / 2]) / 2
			if (n == 1)
				printf "%.2f\n", m
			else
				printf "%.2f (%.2f-%.2f)\n", m, x[0], x[n - 1]
		}' "$results"
}

# base_of VOL: the baseline volume on VOL's filesystem.
base_of() {
	case $1 in
	nosnap-*) echo "base-${1#nosnap-}" ;;
	*) echo "base-${prov_fs[$1]}" ;;
	esac
}

changed_rand=$((METHODS_RAND_IOS * 4096))
declare -A title=(
	[seq]="live seq overwrite 1M, 1 snapshot before"
	[rand]="live rand overwrite 4k, $METHODS_RAND_IOS blocks, 1 snapshot before"
	[read1]="live cold seq read, 1 snapshot, file overwritten since"
	[readN]="live cold seq read after $METHODS_SNAPSHOTS snapshots, $METHODS_SNAP_IOS 4k overwrites after each"
	[snapread]="snapshot cold seq read, file overwritten live since (baselines: live read)"
	[create_small]="snapfs create, $METHODS_SMALL_MB MiB volume (ms)"
	[create_large]="snapfs create, $METHODS_LARGE_MB MiB volume (ms)"
	[tree_small]="create until 'tree', $METHODS_SMALL_MB MiB volume (ms)"
	[tree_large]="create until 'tree', $METHODS_LARGE_MB MiB volume (ms)"
	[space_seq]="space per byte changed, seq overwrite of $BENCH_MB MiB"
	[space_rand]="space per byte changed, $METHODS_RAND_IOS rand 4k overwrites ($((changed_rand / 1048576)) MiB)"
)
declare -A unit=([seq]="MiB/s" [rand]="IOPS" [read1]="MiB/s" [readN]="MiB/s" [snapread]="MiB/s")
ratio_cases=(seq rand read1 readN snapread)
abs_cases=(create_small create_large tree_small tree_large space_seq space_rand)

# the columns: snapfs without snapshots on each filesystem, then the providers
cols=()
declare -A col_title=()
for fs in "${fss[@]}"; do
	cols+=("nosnap-$fs")
	col_title[nosnap-$fs]="snapfs, no snapshot ($fs)"
done
for p in "${provs[@]}"; do
	cols+=("$p")
	col_title[$p]="$p (${prov_method[$p]}, ${prov_fs[$p]})"
done

echo
echo "Ratios to passthrough_ll on the same filesystem, measured next to it in each sample: the"
echo "median of $REPS round(s) x $METHODS_SAMPLES samples, lowest-highest in brackets (above 1:"
echo "faster). $BENCH_MB MiB file."
echo
hdr="| case |"
rule="| --- |"
for v in "${cols[@]}"; do
	hdr+=" ${col_title[$v]} |"
	rule+=" ---: |"
done
echo "$hdr"
echo "$rule"
for c in "${ratio_cases[@]}"; do
	row="| ${title[$c]} |"
	for v in "${cols[@]}"; do
		row+=" $(round_ratios "$c" "$v" "$(base_of "$v")") |"
	done
	echo "$row"
done

echo
echo "Ratios to snapfs without snapshots on the same filesystem (what the method costs), sample"
echo "by sample as above"
echo
hdr="| case |"
rule="| --- |"
for p in "${provs[@]}"; do
	hdr+=" ${col_title[$p]} |"
	rule+=" ---: |"
done
echo "$hdr"
echo "$rule"
for c in "${ratio_cases[@]}"; do
	row="| ${title[$c]} |"
	for p in "${provs[@]}"; do
		row+=" $(round_ratios "$c" "$p" "nosnap-${prov_fs[$p]}") |"
	done
	echo "$row"
done

echo
echo "Medians of $REPS round(s) x $METHODS_SAMPLES samples (higher is better)"
echo
hdr="| case | unit |"
rule="| --- | --- |"
for fs in "${fss[@]}"; do
	hdr+=" passthrough_ll ($fs) |"
	rule+=" ---: |"
done
for v in "${cols[@]}"; do
	hdr+=" ${col_title[$v]} |"
	rule+=" ---: |"
done
echo "$hdr"
echo "$rule"
for c in "${ratio_cases[@]}"; do
	row="| ${title[$c]} | ${unit[$c]} |"
	for fs in "${fss[@]}"; do
		row+=" $(median "$c" "base-$fs") |"
	done
	for v in "${cols[@]}"; do
		row+=" $(median "$c" "$v") |"
	done
	echo "$row"
done

echo
echo "Creation and space: medians, lowest-highest in brackets ($REPS round(s): creation"
echo "$METHODS_CREATES times per round and volume, space once per sample of seq and rand)"
echo
hdr="| case |"
rule="| --- |"
for p in "${provs[@]}"; do
	hdr+=" ${col_title[$p]} |"
	rule+=" ---: |"
done
echo "$hdr"
echo "$rule"
for c in "${abs_cases[@]}"; do
	row="| ${title[$c]} |"
	for p in "${provs[@]}"; do
		m=$(spread "$c" "$p")
		case $c in
		tree_*) [ "$m" = - ] && m="- (journal)" ;;
		esac
		row+=" $m |"
	done
	echo "$row"
done
row="| create, large / small volume |"
for p in "${provs[@]}"; do
	a=$(ratio "$(median create_large "$p")" "$(median create_small "$p")")
	b=$(ratio "$(median tree_large "$p")" "$(median tree_small "$p")")
	if [ "$b" = n/a ]; then
		row+=" $a |"
	else
		row+=" $a (until tree: $b) |"
	fi
done
echo "$row"

echo
echo "Volumes: data file $BENCH_MB MiB written through the mount; small: 1 file of" \
	"$METHODS_SMALL_MB MiB; large: $METHODS_LARGE_FILES files of" \
	"$((METHODS_LARGE_MB / METHODS_LARGE_FILES)) MiB; both of fio's pseudo-random data, written" \
	"in the backing directory before the first mount."
echo "Space counted as:"
for p in "${provs[@]}"; do
	echo "  $p: ${space_how[$p]:-?}"
done

echo
echo "Every value, in the order measured:"
for c in "${ratio_cases[@]}" "${abs_cases[@]}"; do
	for v in "${datavols[@]}"; do
		vals=$(awk -F'\t' -v c="$c" -v v="$v" '$2 == c && $3 == v { printf " %s", $4 }' \
			"$results")
		[ -n "$vals" ] && printf '  %-12s %-14s%s\n' "$c" "$v" "$vals"
	done
done

bench_copy_results
