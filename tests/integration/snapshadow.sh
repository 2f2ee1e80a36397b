#!/bin/bash
# snapshadow's scripts, golden: tests/integration/snapshadow/*.dsh run against two volumes.
#  - session.dsh: its output, with ids numbered in order of appearance and times masked, must
#    be session.out; its log must hold the same and the commands.
#  - every other script has an error at a known line, named by its first line
#    ('# expect: LINE: MESSAGE'): snapshadow must stop there with exit status 1 and
#    'SCRIPT:LINE: MESSAGE...' on stderr, run nothing after it (mark.sh leaves a file), and
#    leave the snapshots, the detached store and the mounts as they were.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${SNAPSHADOW:?SNAPSHADOW must point at the snapshadow binary}"
require_fuse

D=$(cd "$(dirname "$0")/snapshadow" && pwd)
sfs_mount "$T/s1" "$T/m1"
sfs_mount "$T/s2" "$T/m2"
export MNT1=$T/m1 MNT2=$T/m2 T
echo before >"$T/m1/a.txt"
mkdir "$T/m1/b"
echo nested >"$T/m1/b/c.txt"
echo two >"$T/m2/x"
mkdir -p "$T/exposed" "$T/empty" "$T/plain" "$T/full"
touch "$T/full/occupied"

cat >"$T/show.sh" <<'EOF'
#!/bin/sh
# show.sh DIR ID: what an exec'd command sees: the alias as a variable, the exposed files
echo "exposed: DATA=$DATA"
[ "$DATA" = "$2" ] || { echo "DATA is not the id given" >&2; exit 1; }
echo "a.txt: $(cat "$1/a.txt")"
echo "b/c.txt: $(cat "$1/b/c.txt")"
EOF
printf '#!/bin/sh\necho "failing with $*"\nexit 3\n' >"$T/fail.sh"
printf '#!/bin/sh\ntouch "$T/marked"\n' >"$T/mark.sh"
chmod +x "$T/show.sh" "$T/fail.sh" "$T/mark.sh"

# normalize: $T for the test directory, <IDn> for the n-th distinct id (<ID> with --any),
# <BROWSE> and <TIME> for what depends on the clock.
normalize() {
	python3 -c '
import re, sys
t, anyid = sys.argv[1], len(sys.argv) > 2
ids = {}
def num(m):
    if anyid:
        return "<ID>"
    return "<ID%d>" % ids.setdefault(m.group(0), len(ids) + 1)
for line in sys.stdin:
    line = line.replace(t, "$T")
    line = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", num, line)
    line = re.sub(r"@GMT-[0-9.-]+", "<BROWSE>", line)
    line = re.sub(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", "<TIME>", line)
    sys.stdout.write(line)
' "$T" "$@"
}

# state: what must not change when a script fails
state() {
	"$SNAPFS" list shadows -H "$T/m1" | cut -f1
	"$SNAPFS" list shadows -H "$T/m2" | cut -f1
	# the entries of the store and of the exposures (the directories holding them may appear)
	find "$SNAPFS_STATE_DIR" -mindepth 2 2>/dev/null | sort
	awk -v t="$T/" 'index($2, t) == 1 { print $2, $3 }' /proc/self/mounts | sort
}

# ---- the golden session ------------------------------------------------------------------
rc=0
(cd "$T" && "$SNAPSHADOW" -s "$D/session.dsh" -l "$T/session.log") >"$T/session.raw" \
	2>"$T/session.err" || rc=$?
expect_eq "session.dsh: exit status" 0 "$rc"
expect_eq "session.dsh: nothing on stderr" "" "$(cat "$T/session.err")"
normalize <"$T/session.raw" >"$T/session.got"
if diff -u "$D/session.out" "$T/session.got"; then
	pass "session.dsh: output as expected"
else
	fail "session.dsh: output differs (above)"
fi
check "session.dsh: the log holds each command" grep -q '^-> expose %DATA% %OUT%$' "$T/session.log"
check "session.dsh: the log holds the output" grep -q 'was exposed at' "$T/session.log"
check "session.dsh: nothing mounted after unexpose" \
	test -z "$(awk -v t="$T/" '$3 == "fuse.snapfs-expose" && index($2, t) == 1' /proc/self/mounts)"
expect_eq "session.dsh: one snapshot left of m1, none of m2" "1 0" \
	"$("$SNAPFS" list shadows -H "$T/m1" | wc -l) $("$SNAPFS" list shadows -H "$T/m2" | wc -l)"
SNAP=$("$SNAPFS" list shadows -H "$T/m1" | cut -f1)
export SNAP

# ---- a transportable set of m2 whose export is then altered, for import_altered.dsh -------
mkdir "$T/altered"
"$SNAPSHADOW" -s /dev/stdin >/dev/null <<EOF
set context persistent nowriters
set option transportable
set metadata $T/altered/set.xml
add volume $T/m2
create
EOF
export_file=$(echo "$T"/altered/*.snapfs-export)
# one byte of the file's data changed: only the checksum can tell
python3 -c 'import sys; p = sys.argv[1]; b = open(p, "rb").read(); i = b.index(b"two\n")
open(p, "wb").write(b[:i] + b"tWo\n" + b[i + 4:])' "$export_file"

# ---- scripts that fail at a known line ----------------------------------------------------
for script in "$D"/*.dsh; do
	name=$(basename "$script")
	[ "$name" != session.dsh ] || continue
	expect=$(head -1 "$script" | sed 's/^# expect: //')
	line=${expect%%: *}
	message=${expect#*: }
	before=$(state)
	rm -f "$T/marked"
	rc=0
	(cd "$D" && "$SNAPSHADOW" -s "$name") >"$T/out" 2>"$T/err" || rc=$?
	expect_eq "$name: exit status" 1 "$rc"
	if [ "$line" == 0 ]; then
		want="$name: $message"
	else
		want="$name:$line: $message"
	fi
	# all of stderr is read (a sanitizer report may follow the message): no SIGPIPE
	got=$(normalize --any <"$T/err" | sed -n 1p)
	if [ "${got#"$want"}" != "$got" ]; then
		pass "$name: $got"
	else
		fail "$name: expected a line starting '$want', got '$got' (stderr: $(cat "$T/err"))"
	fi
	check "$name: nothing after the error ran" test ! -e "$T/marked"
	after=$(state)
	if [ "$before" == "$after" ]; then
		pass "$name: snapshots, store and mounts unchanged"
	else
		fail "$name: changed: $(diff <(echo "$before") <(echo "$after") | tail -n +2)"
	fi
done

# ---- a delete of several snapshots deletes none when one of them is exposed -----------------
"$SNAPFS" create "$T/m1" >/dev/null
"$SNAPFS" expose --temporary "$SNAP" "$T/exposed" >/dev/null
rc=0
echo "delete shadows volume $T/m1" | "$SNAPSHADOW" >"$T/out" 2>"$T/err" || rc=$?
expect_eq "delete shadows volume with one exposed: refused" 1 "$rc"
check "... saying which is exposed where" grep -q "snapshot '$SNAP' is exposed at '$T/exposed'" \
	"$T/err"
expect_eq "... and both snapshots are still there" 2 "$("$SNAPFS" list shadows -H "$T/m1" | wc -l)"
"$SNAPFS" unexpose "$T/exposed" >/dev/null

# ---- exec from a script read on stdin: the command does not swallow the script -------------
{
	echo "exec /bin/sh -c \"cat >/dev/null\""
	for i in $(seq 200); do echo "# filler line $i, long enough to fill a pipe buffer quickly"; done
	echo "exec $T/mark.sh"
} >"$T/stdin.dsh"
rm -f "$T/marked"
rc=0
"$SNAPSHADOW" <"$T/stdin.dsh" >/dev/null 2>&1 || rc=$?
check "exec reads nothing of a script on stdin" test "$rc" -eq 0 -a -e "$T/marked"

# ---- interactive use: errors reported, the session goes on -------------------------------
rc=0
printf 'frobnicate\nhelp expose\nexit\n' | script -qec "$SNAPSHADOW" /dev/null >"$T/tty.out" 2>&1 ||
	rc=$?
expect_eq "at the prompt: exit status 0 after an error" 0 "$rc"
check "at the prompt: the prompt is shown" grep -q 'SNAPSHADOW> ' "$T/tty.out"
check "at the prompt: the error, without file and line" \
	grep -q "SNAPSHADOW> unknown command 'frobnicate' (see 'help')" "$T/tty.out"
check "at the prompt: the session goes on" grep -q 'SNAPSHADOW> expose ID DIR' "$T/tty.out"

# ---- piped input and bad options ------------------------------------------------------------
out=$(printf 'frobnicate\nhelp expose\nexit\n' | "$SNAPSHADOW" 2>&1 || true)
check "piped input stops at the first error" grep -q "^stdin:1: unknown command 'frobnicate'" \
	<<<"$out"
out=$("$SNAPSHADOW" -s /dev/null -l "$T/nolog/x.log" 2>&1 || true)
check "an unwritable log is refused" grep -q "cannot open the log file '$T/nolog/x.log'" <<<"$out"
out=$("$SNAPSHADOW" -s "$T/missing.dsh" 2>&1 || true)
check "a missing script is refused" grep -q "cannot read the script '$T/missing.dsh'" <<<"$out"
rc=0
"$SNAPSHADOW" -s "$T" >/dev/null 2>"$T/err" || rc=$?
expect_eq "a script that cannot be read: exit status" 1 "$rc"
check "... saying why" grep -q "^$T: cannot read the script: Is a directory" "$T/err"
rc=0
echo "help exit" | "$SNAPSHADOW" >/dev/full 2>"$T/err" || rc=$?
expect_eq "output that cannot be written: exit status" 1 "$rc"
check "... saying why" grep -q "cannot write the output: No space left on device" "$T/err"

# ---- a volatile set imported in its own session: the end deletes the volume's, not the import
mkdir "$T/vol"
rc=0
"$SNAPSHADOW" -s /dev/stdin >"$T/out" 2>"$T/err" <<EOF || rc=$?
set context volatile nowriters
set option transportable
set metadata $T/vol/set.xml
add volume $T/m2 alias V
create
load metadata $T/vol/set.xml
import
EOF
expect_eq "volatile set imported: exit status ($(cat "$T/err"))" 0 "$rc"
vid=$(sed -n 's/^Alias V for shadow ID \([0-9a-f-]*\) .*/\1/p' "$T/out")
check "the volume's volatile snapshot is deleted" \
	bash -c "! '$SNAPFS' list shadows -H '$T/m2' | grep -q '^$vid'"
check "its import is kept" test -d "$SNAPFS_STATE_DIR/detached/$vid/tree"
check "... and can be deleted" "$SNAPFS" delete shadows --id "$vid"

# ---- an aborted backup whose snapshot cannot be deleted says so ------------------------------
sfs_mount "$T/s3" "$T/m3"
m3_pid=$SFS_PID
printf '#!/bin/sh\nexec "%s" umount "%s"\n' "$SNAPFS" "$T/m3" >"$T/umount3.sh"
chmod +x "$T/umount3.sh"
rc=0
"$SNAPSHADOW" -s /dev/stdin >"$T/out" 2>"$T/err" <<EOF || rc=$?
set context persistent nowriters
begin backup
add volume $T/m3 alias GONE
create
exec $T/umount3.sh
EOF
wait "$m3_pid" || true
forget_pid "$m3_pid"
expect_eq "a backup left open on a volume unmounted meanwhile: exit status" 1 "$rc"
gone=$(sed -n 's/^Alias GONE for shadow ID \([0-9a-f-]*\) .*/\1/p' "$T/out")
check "... saying its snapshot is left ($(tail -1 "$T/err"))" \
	grep -q "snapshot '$gone' of '$T/m3' is left, it cannot be deleted" "$T/err"
sfs_mount "$T/s3" "$T/m3"
expect_eq "... which it is" "$gone" "$("$SNAPFS" list shadows -H "$T/m3" | cut -f1)"
finish
