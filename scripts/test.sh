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

# In a sanitized build every report goes to a file, whatever the process's exit status (an error
# path that leaks still exits 1) or where its stderr goes (a daemon's is discarded); any report
# fails the run. In other builds nothing reads these variables.
reports=$(mktemp -d /tmp/snapfs-sanitizers.XXXXXX)
chmod 1777 "$reports"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_summary=1}:log_path=$reports/asan
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}:log_path=$reports/ubsan

rc=0
meson test -C "$build" --print-errorlogs --num-processes 2 || rc=$?
found=("$reports"/*)
if [ -e "${found[0]}" ]; then
	for f in "${found[@]}"; do
		echo "---- sanitizer report $f" >&2
		cat "$f" >&2
	done
	echo "scripts/test.sh: ${#found[@]} sanitizer report(s), above" >&2
	rc=1
fi
rm -rf "$reports"
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
