# A btrfs filesystem for tests that need one (the btrfs provider wants SRC on btrfs): an image
# file, loop-mounted. Sourced; the caller removes it in its EXIT trap, whatever happened:
#
#   source tests/integration/btrfs.sh
#   btrfs_setup "$dir" || exit $?     # 77 (skip) when mkfs.btrfs or loop mounts are missing
#   trap 'btrfs_cleanup "$dir"' EXIT
#   ... use "$dir/mnt" ...
#
# The image is sparse, so its 512 MiB cost only what is written. Needs root (mount, losetup).

# btrfs_setup DIR: make DIR/btrfs.img, format it and mount it at DIR/mnt. Silent on success;
# 77 and a line on stderr when this machine cannot (no mkfs.btrfs, no loop devices, no btrfs in
# the kernel, not root), 1 when something else failed.
btrfs_setup() {
	local dir=$1 img=$1/btrfs.img err
	if ! command -v mkfs.btrfs >/dev/null; then
		echo "btrfs_setup: mkfs.btrfs is not installed (btrfs-progs)" >&2
		return 77
	fi
	mkdir -p "$dir/mnt" || return 1
	truncate -s 512M "$img" || return 1
	if ! err=$(mkfs.btrfs -q -f "$img" 2>&1); then
		echo "btrfs_setup: mkfs.btrfs failed: $err" >&2
		rm -f "$img"
		return 77
	fi
	if ! err=$(mount -t btrfs -o loop "$img" "$dir/mnt" 2>&1); then
		# no loop device, no btrfs module, no permission: the machine, not the code
		echo "btrfs_setup: cannot loop-mount a btrfs image: $err" >&2
		btrfs_cleanup "$dir"
		return 77
	fi
}

# btrfs_cleanup DIR: unmount DIR/mnt, detach the loop devices of DIR/btrfs.img and remove it.
# Safe to call more than once, and after a btrfs_setup that failed half-way.
btrfs_cleanup() {
	local dir=$1 img=$1/btrfs.img dev
	if mountpoint -q "$dir/mnt"; then
		# a process killed with the test may still hold it for a moment: lazily then
		umount "$dir/mnt" 2>/dev/null || umount -l "$dir/mnt" || true
	fi
	# mount -o loop detaches its device at umount (autoclear); one it left behind goes here
	if [ -e "$img" ]; then
		for dev in $(losetup -n -O NAME -j "$img" 2>/dev/null); do
			losetup -d "$dev" 2>/dev/null || true
		done
	fi
	rm -f "$img"
	rmdir "$dir/mnt" 2>/dev/null || true
}
