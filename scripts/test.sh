#!/bin/bash
# The whole test suite: install the dependencies, build (warnings as errors), run every unit and
# integration test, and print "N passed, N failed". Run as root: the integration tests mount.
#
#   BUILD_DIR            build directory (default: build)
#   SNAPFS_MESON_ARGS    extra 'meson setup' arguments, e.g. "-Db_sanitize=address,undefined"
#   SNAPFS_SKIP_DEPS=1   do not run scripts/deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/test.sh: run as root (the integration tests mount FUSE file systems)" >&2
	exit 1
fi
[ "${SNAPFS_SKIP_DEPS:-0}" == 1 ] || scripts/deps.sh
if [ ! -f "$build/build.ninja" ]; then
	# shellcheck disable=SC2086
	meson setup "$build" -Dwerror=true -Dtests=enabled ${SNAPFS_MESON_ARGS:-}
fi
ninja -C "$build"
rc=0
meson test -C "$build" --print-errorlogs --num-processes 2 || rc=$?
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    result = json.loads(line)["result"]
    if result == "OK":
        passed += 1
    elif result == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or skipped else 0)
PY
exit "$rc"
