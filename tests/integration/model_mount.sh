#!/bin/bash
# The model-based test of snapshots through a mount: the model program (tests/model/) runs its
# random operations as plain system calls on MNT, takes and deletes snapshots with 'snapfs
# create' and 'snapfs delete shadows', and reads them back under MNT/.snapshots/. Runs once with
# the writeback cache (default) and 4 KiB chunks, and once without it and with the default chunk
# size. The seeds and operations per seed come from SNAPFS_MODEL_MOUNT_SEEDS (default 8) and
# SNAPFS_MODEL_OPS (default 200); SNAPFS_MODEL_SEED runs that one seed. SNAPFS_PROVIDER, when
# set, is the provider: the volumes are mounted with --provider, and the model (which reads it
# too) records it at --prepare and checks that the mount uses it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse
: "${MODEL:?MODEL must point at the model program}"

seeds=${SNAPFS_MODEL_MOUNT_SEEDS:-8}
ops=${SNAPFS_MODEL_OPS:-200}
if [ -n "${SNAPFS_MODEL_SEED:-}" ]; then
	which=(--seed "$SNAPFS_MODEL_SEED")
else
	which=(--seeds "$seeds")
fi
provider=()
if [ -n "${SNAPFS_PROVIDER:-}" ]; then
	provider=(--provider "$SNAPFS_PROVIDER")
fi

# run_mode NAME CHUNK [mount options...]: a fresh volume whose chunk size is CHUNK (made before
# the first mount; 0 keeps the default), all the seeds on one mount.
run_mode() {
	local mode=$1 chunk=$2 src=$T/src-$1 mnt=$T/mnt-$1
	shift 2
	echo "== $mode"
	mkdir -p "$src"
	if [ "$chunk" -ne 0 ]; then
		"$MODEL" --prepare "$src" --chunk "$chunk"
	else
		chunk=65536
	fi
	sfs_mount "$src" "$mnt" "${provider[@]}" "$@"
	check "$mode: snapshots match the model" \
		"$MODEL" --mount "$mnt" --snapfs "$SNAPFS" --src "$src" --chunk "$chunk" \
		"${which[@]}" --ops "$ops"
	sfs_umount "$mnt"
}

# small chunks with the writeback cache, the default chunk size without it
run_mode writeback 4096
run_mode no_writeback 0 -o no_writeback
finish
