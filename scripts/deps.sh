#!/bin/bash
# Install what snapfs needs to build, test and benchmark on Debian 12 (run as root).
# 'scripts/deps.sh --list' only prints the package names.
set -euo pipefail

packages=(
	gcc clang meson ninja-build pkg-config
	libfuse3-dev fuse3
	libsqlite3-dev sqlite3
	libxml2-dev libxml2-utils
	libpq-dev postgresql postgresql-contrib
	libcmocka-dev
	util-linux attr btrfs-progs
	fio bindfs python3
)

if [ "${1:-}" == --list ]; then
	echo "${packages[*]}"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/deps.sh: run as root (apt-get installs packages)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "installed: ${packages[*]}"
