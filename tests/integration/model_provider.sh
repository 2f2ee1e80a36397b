#!/bin/bash
# The model-based test of snapshots (tests/model/, engine backend) with one provider:
#
#   model_provider.sh NAME [SEEDS]
#
# runs $MODEL --provider NAME. For btrfs, SRC must be a subvolume on btrfs: the volumes go on a
# loop-mounted btrfs image (btrfs.sh), the model makes each one a subvolume; without mkfs.btrfs
# or loop devices the test is skipped (77), never passed. The model's variables choose the
# seeds and operations (SNAPFS_MODEL_SEEDS, SNAPFS_MODEL_SEED, SNAPFS_MODEL_OPS); SEEDS is the
# seed count when SNAPFS_MODEL_SEEDS is unset (a provider slower than copy-on-write runs fewer).
set -euo pipefail
: "${MODEL:?MODEL must point at the model program}"

if [ $# -lt 1 ]; then
	echo "usage: model_provider.sh PROVIDER [SEEDS]" >&2
	exit 2
fi
provider=$1
export SNAPFS_MODEL_SEEDS=${SNAPFS_MODEL_SEEDS:-${2:-120}}

if [ "$provider" != btrfs ]; then
	exec "$MODEL" --provider "$provider"
fi

source "$(dirname "$0")/btrfs.sh"
T=$(mktemp -d /tmp/snapfs-model-btrfs.XXXXXX)

cleanup() {
	local rc=$?
	btrfs_cleanup "$T"
	rmdir "$T" 2>/dev/null || echo "model_provider.sh: '$T' left behind" >&2
	exit "$rc"
}
trap cleanup EXIT
# a signal (meson's timeout) ends the script through the EXIT trap, which unmounts
trap 'exit 143' TERM
trap 'exit 130' INT

rc=0
btrfs_setup "$T" || rc=$?
if [ "$rc" -ne 0 ]; then
	[ "$rc" -eq 77 ] && echo "model_provider.sh: skipped: no btrfs filesystem to test on"
	exit "$rc"
fi
# not exec: the trap must unmount after the model
"$MODEL" --provider btrfs --tmpdir "$T/mnt"
