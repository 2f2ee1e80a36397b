#!/bin/bash
# A full backup as an administrator scripts it with snapshadow: a writer verified, two volumes
# with aliases, a transportable persistent set, both snapshots exposed, a tar of the exposed
# trees made by exec (while the live volumes change), unexposed, end backup. Then the export
# is imported on a fresh runtime and state directory, as on another machine, by snapshadow
# (load metadata, import, expose) and by 'snapfs import', and each imported tree is compared
# with its snapshot byte for byte: data, types, modes, owners, times, xattrs, hard links.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${SNAPSHADOW:?SNAPSHADOW must point at the snapshadow binary}"
: "${TESTWRITER:?TESTWRITER must point at the testwriter binary}"
require_fuse

sfs_mount "$T/s1" "$T/m1"
sfs_mount "$T/s2" "$T/m2"

# content worth comparing
head -c 5M /dev/urandom >"$T/m1/big.bin"
mkdir -p "$T/m1/dir/sub" "$T/m2/logs"
echo "hello" >"$T/m1/dir/sub/hello.txt"
ln -s ../big.bin "$T/m1/dir/link"
ln "$T/m1/dir/sub/hello.txt" "$T/m1/hard.txt"
setfattr -n user.origin -v backup-test "$T/m1/dir/sub/hello.txt"
chmod 4750 "$T/m1/dir/sub"
chown 1234:5678 "$T/m1/big.bin"
touch -d '2001-02-03 04:05:06.789' "$T/m1/dir/sub/hello.txt"
mkfifo "$T/m1/fifo"
: >"$T/m1/empty"
for i in $(seq 20); do echo "log line $i" >>"$T/m2/logs/app.log"; done

# the writer that must take part
"$TESTWRITER" --name appwriter --log "$T/appwriter.log" --path "$T/s1" 2>"$T/appwriter.err" &
_pids+=("$!")
check "the writer registers" wait_writer appwriter

mkdir -p "$T/backup" "$T/xd" "$T/xl"
cat >"$T/tar.sh" <<'EOF'
#!/bin/sh
# the live volumes change while the backup reads the exposed snapshots
set -e
echo changed >"$T/m1/dir/sub/hello.txt"
rm "$T/m1/big.bin"
echo more >>"$T/m2/logs/app.log"
tar -C "$T" --xattrs -cf "$T/backup/data.tar" xd xl
echo "tar of $DATA and $LOGS written"
EOF
chmod +x "$T/tar.sh"
cat >"$T/backup.dsh" <<'EOF'
# nightly backup of the application's two volumes
set context persistent
set option transportable
set metadata %T%/backup/set.xml
set verbose on
begin backup
writer verify appwriter
add volume %T%/m1 alias DATA
add volume %T%/m2 alias LOGS
create
expose %DATA% %T%/xd
expose %LOGS% %T%/xl
exec %T%/tar.sh
unexpose %T%/xd
unexpose %T%/xl
end backup
exit
EOF
export T
rc=0
"$SNAPSHADOW" -s "$T/backup.dsh" -l "$T/backup.log" >"$T/backup.out" 2>"$T/backup.err" || rc=$?
expect_eq "the backup script succeeds" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/backup.err" >&2
check "tar ran inside the script" grep -q "^tar of .* written$" "$T/backup.out"
set_id=$(sed -n 's/^Alias VSS_SHADOW_SET for shadow set ID \([0-9a-f-]*\) .*/\1/p' "$T/backup.out")
data_id=$(sed -n 's/^Alias DATA for shadow ID \([0-9a-f-]*\) .*/\1/p' "$T/backup.out")
logs_id=$(sed -n 's/^Alias LOGS for shadow ID \([0-9a-f-]*\) .*/\1/p' "$T/backup.out")
check "create named the set and both snapshots" test -n "$set_id" -a -n "$data_id" -a -n "$logs_id"
check "the writer took part: backup-complete for the set" \
	grep -q "^backup-complete $set_id$" "$T/appwriter.log"
check "the writer froze for the set" grep -q "^freeze $set_id$" "$T/appwriter.log"
check "the metadata file is a BCD naming the set" grep -q "$set_id" "$T/backup/set.xml"
check "one export per snapshot beside it" \
	test -f "$T/backup/$data_id.snapfs-export" -a -f "$T/backup/$logs_id.snapfs-export"
check "nothing left exposed" \
	test -z "$(awk -v t="$T/" '$3 == "fuse.snapfs-expose" && index($2, t) == 1' /proc/self/mounts)"
expect_eq "the persistent set stays" 2 "$("$SNAPFS" list shadows -H | grep -c "$set_id")"

# the tar holds the snapshots' state, not the live one changed meanwhile
mkdir "$T/untar"
tar -C "$T/untar" --xattrs -xf "$T/backup/data.tar"
check "tar: the big file as it was" cmp "$T/untar/xd/big.bin" "$T/m1/.snapshots/$data_id/big.bin"
expect_eq "tar: hello.txt as it was" hello "$(cat "$T/untar/xd/dir/sub/hello.txt")"
expect_eq "tar: the log as it was" 20 "$(wc -l <"$T/untar/xl/logs/app.log")"

# compare_trees A B: the same names, types, data, modes, owners, mtimes, xattrs, hard links
compare_trees() {
	python3 - "$1" "$2" <<'EOF'
import os, stat, sys
a, b = sys.argv[1:]
def walk(root):
    out, inodes = {}, {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            x = {n: os.getxattr(p, n, follow_symlinks=False)
                 for n in os.listxattr(p, follow_symlinks=False)}
            data = None
            if stat.S_ISREG(st.st_mode):
                data = open(p, "rb").read()
            elif stat.S_ISLNK(st.st_mode):
                data = os.readlink(p)
            link = inodes.setdefault(st.st_ino, rel) if stat.S_ISREG(st.st_mode) else None
            mtime = st.st_mtime_ns if not stat.S_ISLNK(st.st_mode) else None
            out[rel] = (st.st_mode, st.st_uid, st.st_gid, mtime, st.st_size, x, data, link)
    return out
ta, tb = walk(a), walk(b)
bad = [k for k in sorted(set(ta) | set(tb)) if ta.get(k) != tb.get(k)]
for k in bad[:5]:
    print("differs:", k, ta.get(k, "missing")[:5], tb.get(k, "missing")[:5], file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

# ---- on another machine: a fresh runtime and state directory --------------------------------
check "snapshot trees are what the live tree was" test -e "$T/m1/.snapshots/$data_id/big.bin"
cat >"$T/import.dsh" <<'EOF'
load metadata %T%/backup/set.xml
import
list shadows set %VSS_SHADOW_SET%
expose %VSS_SHADOW_1% %T%/i1
expose %VSS_SHADOW_2% %T%/i2
EOF
mkdir -p "$T/i1" "$T/i2" "$T/run2"
rc=0
SNAPFS_RUNTIME_DIR=$T/run2 SNAPFS_STATE_DIR=$T/state2 \
	"$SNAPSHADOW" -s "$T/import.dsh" >"$T/import.out" 2>"$T/import.err" || rc=$?
expect_eq "the import script succeeds" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/import.err" >&2
expect_eq "both imported" 2 "$(grep -c '^Imported shadow copy' "$T/import.out")"
imported_one=$(sed -n 's/^Imported shadow copy \([0-9a-f-]*\) of .* as %VSS_SHADOW_1%$/\1/p' \
	"$T/import.out")
for id in "$data_id" "$logs_id"; do
	if [ "$id" == "$imported_one" ]; then dir=$T/i1; else dir=$T/i2; fi
	if compare_trees "$T/m1/.snapshots/$id" "$dir" 2>"$T/cmp.err" ||
		compare_trees "$T/m2/.snapshots/$id" "$dir" 2>>"$T/cmp.err"; then
		pass "imported $id exposed equals its snapshot byte for byte"
	else
		fail "imported $id differs: $(cat "$T/cmp.err")"
	fi
	# what is exposed is the import, not the original on the volume beside it
	f=$(cd "$dir" && find . -type f -print -quit)
	expect_eq "the exposure of $id serves the imported tree" \
		"$(stat -c %i "$T/state2/detached/$id/tree/$f")" "$(stat -c %i "$dir/$f")"
done
check "the imported exposures are read-only" \
	sh -c "! touch '$T/i1/new' 2>/dev/null && ! touch '$T/i2/new' 2>/dev/null"
expect_eq "the first state directory knows nothing of them" "" \
	"$("$SNAPFS" list shadows -H | grep detached || true)"
SNAPFS_RUNTIME_DIR=$T/run2 SNAPFS_STATE_DIR=$T/state2 "$SNAPFS" list shadows -H \
	>"$T/list2" 2>&1 || true
expect_eq "the second lists both, detached" 2 "$(grep -c 'detached' "$T/list2")"
for d in "$T/i1" "$T/i2"; do
	SNAPFS_RUNTIME_DIR=$T/run2 SNAPFS_STATE_DIR=$T/state2 "$SNAPFS" unexpose "$d" >/dev/null
done
rc=0
echo "mask $set_id" | SNAPFS_RUNTIME_DIR=$T/run2 SNAPFS_STATE_DIR=$T/state2 "$SNAPSHADOW" \
	>"$T/mask.out" 2>&1 || rc=$?
expect_eq "mask removes the imported set" "0 " "$rc $(ls -A "$T/state2/detached")"

# ---- the same with 'snapfs import', and a damaged copy refused -----------------------------
rc=0
SNAPFS_STATE_DIR=$T/state3 "$SNAPFS" import "$T/backup/$data_id.snapfs-export" >"$T/imp3" \
	2>&1 || rc=$?
expect_eq "snapfs import succeeds" 0 "$rc"
check "snapfs import says what it imported" grep -q "imported snapshot $data_id" "$T/imp3"
check "snapfs import: the tree equals the snapshot" \
	compare_trees "$T/m1/.snapshots/$data_id" "$T/state3/detached/$data_id/tree"
head -c 1000000 "$T/backup/$data_id.snapfs-export" >"$T/truncated.export"
rc=0
SNAPFS_STATE_DIR=$T/state4 "$SNAPFS" import "$T/truncated.export" >"$T/imp4" 2>&1 || rc=$?
expect_eq "a truncated export is refused" 1 "$rc"
check "the refusal says truncated" grep -q "truncated" "$T/imp4"
expect_eq "nothing kept of it" "" "$(ls -A "$T/state4/detached" 2>/dev/null)"
# ---- the restore: the writers told before and after, the volume reverted in between -------
cat >"$T/restore.dsh" <<'EOF'
load metadata %T%/backup/set.xml
begin restore
add shadow %DATA_ID%
resync
end restore
simulate restore
EOF
rc=0
DATA_ID=$data_id "$SNAPSHADOW" -s "$T/restore.dsh" >"$T/restore.out" 2>"$T/restore.err" || rc=$?
expect_eq "the restore script succeeds" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/restore.err" >&2
expect_eq "the writer got pre- and post-restore, twice" \
	"pre-restore $set_id post-restore $set_id pre-restore $set_id post-restore $set_id" \
	"$(grep -E '^(pre|post)-restore ' "$T/appwriter.log" | xargs)"
expect_eq "the volume is the snapshot again" hello "$(cat "$T/m1/dir/sub/hello.txt")"
check "the big file is back" cmp "$T/m1/big.bin" "$T/m1/.snapshots/$data_id/big.bin"
check "the state before the restore is kept" grep -q "the state before is kept as shadow copy" \
	"$T/restore.out"
expect_eq "the writer is stable again" stable \
	"$("$SNAPFS" list writers -H | awk -F'\t' '$2 == "appwriter" { print $3 }')"
finish
