#!/bin/bash
# The snapshot commands end to end: 'snapfs create', 'list shadows', 'delete shadows', 'get'
# and 'set' against mounted volumes, through each daemon's control socket; the raw protocol
# (malformed, oversized and silent requests leave the daemon serving); and every refusal,
# each one line on stderr naming the thing and the cause, with a non-zero exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse

# raw SOCKET REQUEST: send REQUEST as is (python escapes allowed) and print the reply.
raw() {
	python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass
out = b''
while True:
    try:
        b = s.recv(65536)
    except ConnectionResetError:  # the daemon did not read all we sent
        break
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
EOF
}

# field N LINE: the Nth tab-separated field of LINE
field() {
	cut -f"$1" <<<"$2"
}

# quiet COMMAND...: run it with its stdout discarded
quiet() {
	"$@" >/dev/null
}

# count of snapshots of MNT
nsnaps() {
	"$SNAPFS" list shadows -H "$1" | wc -l
}

src=$T/src
mnt=$T/mnt
mkdir -p "$src"
head -c 1M /dev/urandom >"$src/old"
sfs_mount "$src" "$mnt"

echo "== create and list"
check "control socket exists" test -S "$src/.snapfs/control"
expect_eq "control socket is the owner's only" 600 "$(stat -c %a "$src/.snapfs/control")"
expect_eq "no snapshots at first" 0 "$(nsnaps "$mnt")"
expect_eq "human list says so" "no snapshots of '$mnt'" "$("$SNAPFS" list shadows "$mnt")"
out=$("$SNAPFS" create "$mnt")
check "create (human) names the snapshot" grep -qE '^Snapshot ID: [0-9a-f-]{36}$' <<<"$out"
check "create (human) names its browse name" \
	grep -qE '^  Browse name: @GMT-[0-9]{4}\.[0-9]{2}\.[0-9]{2}-[0-9]{2}\.[0-9]{2}\.[0-9]{2}$' \
	<<<"$out"
id1=$(sed -n 's/^Snapshot ID: //p' <<<"$out")
line=$("$SNAPFS" create -H "$mnt")
expect_eq "create -H prints four tab-separated fields" 4 "$(awk -F'\t' '{print NF}' <<<"$line")"
expect_eq "create -H: the volume last" "$mnt" "$(field 4 "$line")"
id2=$(field 1 "$line")
set2=$(field 2 "$line")
browse2=$(field 3 "$line")
check "create -H: browse name" grep -qE '^@GMT-' <<<"$browse2"
line=$("$SNAPFS" create -H --set "$set2" "$mnt")
id3=$(field 1 "$line")
expect_eq "create --set joins the set" "$set2" "$(field 2 "$line")"
expect_eq "three snapshots" 3 "$(nsnaps "$mnt")"

list=$("$SNAPFS" list shadows -H "$mnt")
expect_eq "list -H: oldest first, id first" "$id1 $id2 $id3" "$(cut -f1 <<<"$list" | xargs)"
row=$(grep "^$id2" <<<"$list")
expect_eq "list -H: seven fields" 7 "$(awk -F'\t' '{print NF}' <<<"$row")"
expect_eq "list -H: set id" "$set2" "$(field 2 "$row")"
expect_eq "list -H: volume" "$mnt" "$(field 3 "$row")"
check "list -H: creation time in UTC" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$' <<<"$(field 4 "$row")"
expect_eq "list -H: browse name matches the creation time" \
	"$(field 4 "$row" | sed 's/-/./g; s/ /-/; s/:/./g; s/^/@GMT-/')" "$(field 5 "$row")"
expect_eq "list -H: browse name as create said" "$browse2" "$(field 5 "$row")"
check "list -H: diff bytes is a number" grep -qE '^[0-9]+$' <<<"$(field 6 "$row")"
expect_eq "list -H: a copy-on-write snapshot is stored as journal" journal "$(field 7 "$row")"
human=$("$SNAPFS" list shadows "$mnt")
expect_eq "human list: one block per snapshot" 3 "$(grep -c '^Snapshot ID: ' <<<"$human")"
check "human list: headed fields" grep -q "^  Volume: *$mnt\$" <<<"$human"
expect_eq "human list: how each is stored" 3 "$(grep -c '^  Stored as: *journal$' <<<"$human")"
check "list without MNT shows this volume" grep -q "$id2" <<<"$("$SNAPFS" list shadows -H)"

echo "== create flushes"
# writes still in the kernel's writeback cache (the file stays open, so close does not flush
# them) reach the daemon before the snapshot is taken
out=$(python3 - "$SNAPFS" "$mnt/old" "$src/old" <<'EOF'
import os, subprocess, sys
snapfs, live, backing = sys.argv[1:]
pattern = os.urandom(65536)
fd = os.open(live, os.O_WRONLY)
os.pwrite(fd, pattern, 8 * 65536)
line = subprocess.run([snapfs, 'create', '-H', os.path.dirname(live)], check=True,
                      stdout=subprocess.PIPE, text=True).stdout
with open(backing, 'rb') as f:
    f.seek(8 * 65536)
    seen = f.read(65536) == pattern
os.close(fd)
print(line.split('\t')[0], 'flushed' if seen else 'not-flushed')
EOF
)
id4=${out% *}
expect_eq "create flushed cached writes to SRC first" flushed "${out#* }"

echo "== delete"
out=$("$SNAPFS" delete shadows --oldest "$mnt")
expect_eq "--oldest deletes the first snapshot" "deleted snapshot $id1 from '$mnt'" "$out"
expect_eq "... which is gone" "$id2 $id3 $id4" \
	"$("$SNAPFS" list shadows -H "$mnt" | cut -f1 | xargs)"
check "--id with MNT" quiet "$SNAPFS" delete shadows --id "$id3" "$mnt"
expect_eq "... deletes that one" "$id2 $id4" "$("$SNAPFS" list shadows -H "$mnt" | cut -f1 | xargs)"
refused "unknown id on MNT" "no snapshot '$id3' on '$mnt'" delete shadows --id "$id3" "$mnt"
refused "unknown id anywhere" "no snapshot 'no-such-id' on any snapfs volume" \
	delete shadows --id no-such-id
expect_eq "--all deletes the rest" "deleted 2 snapshots from '$mnt'" \
	"$("$SNAPFS" delete shadows --all "$mnt")"
expect_eq "none left" 0 "$(nsnaps "$mnt")"
refused "--oldest without snapshots" "'$mnt' has no snapshots" delete shadows --oldest "$mnt"
expect_eq "--all without snapshots" "deleted 0 snapshots from '$mnt'" \
	"$("$SNAPFS" delete shadows --all "$mnt")"

echo "== get and set"
props=$("$SNAPFS" get -H "$mnt")
expect_eq "get -H lists every property" \
	"chunksize maxsize mindiffareafilesize maxshadowcopies filesnottosnapshot diffarea provider method autorecover diffareaused" \
	"$(cut -f1 <<<"$props" | xargs)"
expect_eq "the default provider" cow "$("$SNAPFS" get -H provider "$mnt" | cut -f2)"
expect_eq "the default method" cow "$("$SNAPFS" get -H method "$mnt" | cut -f2)"
refused "fixed property: provider" "'$mnt': property 'provider' is fixed" set provider=clone "$mnt"
refused "fixed property: method" "'$mnt': property 'method' is fixed" set method=clone "$mnt"
expect_eq "default chunk size" 65536 "$("$SNAPFS" get -H chunksize "$mnt" | cut -f2)"
expect_eq "diff area defaults to the state directory" "$src/.snapfs" \
	"$("$SNAPFS" get -H diffarea "$mnt" | cut -f2)"
check "set maxsize" "$SNAPFS" set maxsize=1G "$mnt"
expect_eq "get maxsize" "maxsize	1G" "$("$SNAPFS" get -H maxsize "$mnt")"
check "set maxshadowcopies" "$SNAPFS" set maxshadowcopies=8 "$mnt"
expect_eq "get (human)" "maxshadowcopies       8" "$("$SNAPFS" get maxshadowcopies "$mnt")"
check "set a value with spaces" "$SNAPFS" set "filesnottosnapshot=*.tmp:my cache/*" "$mnt"
expect_eq "get a value with spaces" "*.tmp:my cache/*" \
	"$("$SNAPFS" get -H filesnottosnapshot "$mnt" | cut -f2)"
check "set an empty value" "$SNAPFS" set filesnottosnapshot= "$mnt"
expect_eq "get an empty value" "filesnottosnapshot	" \
	"$("$SNAPFS" get -H filesnottosnapshot "$mnt")"
refused "bad size" "'$mnt': maxsize must be a size.*'lots'" set maxsize=lots "$mnt"
refused "bad count" "'$mnt': maxshadowcopies must be a number.*'0'" set maxshadowcopies=0 "$mnt"
refused "fixed property" "'$mnt': property 'chunksize' is fixed" set chunksize=4096 "$mnt"
refused "unknown property (set)" "'$mnt': unknown property 'bogus'" set bogus=1 "$mnt"
refused "unknown property (get)" "'$mnt': unknown property 'bogus'" get bogus "$mnt"
refused "set without =" "expected PROP=VALUE, got 'maxsize'" set maxsize "$mnt"
refused "set with an empty name" "expected PROP=VALUE, got '=1'" set =1 "$mnt"
refused "set with a newline" "holds a control character" set "maxsize=1
2" "$mnt"
expect_eq "refused values left the property alone" 1G \
	"$("$SNAPFS" get -H maxsize "$mnt" | cut -f2)"

echo "== refusals"
mkdir -p "$T/plain"
refused "create: not a snapfs mount" "snapfs create: '$T/plain' is not a snapfs mount" \
	create "$T/plain"
refused "create: missing path" "snapfs create: '$T/nope': No such file or directory" \
	create "$T/nope"
mkdir -p "$mnt/sub"
refused "create: a directory inside the volume" "'$mnt/sub' is not a snapfs mount" \
	create "$mnt/sub"
refused "list: not a snapfs mount" "snapfs list shadows: '/' is not a snapfs mount" \
	list shadows /
refused "delete: not a snapfs mount" "'$T/plain' is not a snapfs mount" \
	delete shadows --all "$T/plain"
refused "get: not a snapfs mount" "snapfs get: '$T/plain' is not a snapfs mount" get "$T/plain"
refused "set: not a snapfs mount" "snapfs set: '$T/plain' is not a snapfs mount" \
	set maxsize=1 "$T/plain"
refused "create: no MNT" "snapfs create: expected a mount point" create
refused "create: the same MNT twice" "volume '$mnt' is in the set already" create "$mnt" "$mnt"
refused "create: --set without id" "--set needs a snapshot set id" create --set
refused "create: bad set id" "bad snapshot set id 'a b'" create --set "a b" "$mnt"
refused "create: set id too long" "bad snapshot set id" create --set "$(printf 'x%.0s' {1..40})" \
	"$mnt"
refused "create: unknown option" "snapfs create: unknown option '-x'" create -x "$mnt"
refused "list: no 'shadows'" "snapfs list: expected 'shadows'" list
refused "list: wrong object" "snapfs list: expected 'shadows'" list snapshots "$mnt"
refused "list: unknown option" "snapfs list shadows: unknown option '-x'" list shadows -x
refused "delete: no 'shadows'" "snapfs delete: expected 'shadows'" delete --all "$mnt"
refused "delete: no mode" "expected --id ID, --oldest or --all" delete shadows "$mnt"
refused "delete: --id without id" "--id needs a snapshot id" delete shadows --id
refused "delete: --oldest without MNT" "--oldest needs a mount point" delete shadows --oldest
refused "delete: --all without MNT" "--all needs a mount point" delete shadows --all
refused "delete: two modes" "give one of --id, --oldest and --all" \
	delete shadows --all --oldest "$mnt"
refused "delete: bad id" "bad snapshot id 'a b'" delete shadows --id "a b" "$mnt"
refused "get: no MNT" "snapfs get: expected a mount point" get
refused "get: too many arguments" "unexpected argument" get maxsize "$mnt" extra
refused "set: no MNT" "snapfs set: expected PROP=VALUE and a mount point" set maxsize=1
for c in create "list shadows" "delete shadows" get set; do
	# shellcheck disable=SC2086
	check "'snapfs $c --help'" bash -c "'$SNAPFS' $c --help | grep -q '^usage: snapfs $c'"
done

echo "== the raw protocol"
sock=$src/.snapfs/control
expect_eq "unknown request" "err 22 unknown request 'bogus'" "$(raw "$sock" 'bogus\n')"
expect_eq "empty line" "err 22 malformed request: empty line" "$(raw "$sock" '\n')"
expect_eq "nothing at all" "err 22 malformed request: empty line" "$(raw "$sock" '')"
expect_eq "extra arguments" "err 22 malformed request: wrong arguments to 'delete-all'" \
	"$(raw "$sock" 'delete-all now\n')"
expect_eq "delete without id" "err 22 malformed request: wrong arguments to 'delete'" \
	"$(raw "$sock" 'delete\n')"
expect_eq "set without value" "err 22 malformed request: expected 'set PROP VALUE'" \
	"$(raw "$sock" 'set maxsize\n')"
expect_eq "control character" "err 22 malformed request: control character in the line" \
	"$(raw "$sock" 'list\t\n')"
expect_eq "NUL byte" "err 74 malformed request: NUL byte in the line" \
	"$(raw "$sock" 'list\x00\n')"
expect_eq "oversized line" "err 90 malformed request: longer than 4096 bytes" \
	"$(raw "$sock" "$(printf 'a%.0s' {1..5000})")"
expect_eq "line ended by EOF" "ok" "$(raw "$sock" 'list')"
expect_eq "only the first line counts" "ok" "$(raw "$sock" 'list\ncreate\n')"
expect_eq "no snapshot from the second line" 0 "$(nsnaps "$mnt")"
expect_eq "newest, with no snapshot" "ok 0" "$(raw "$sock" 'newest\n')"
expect_eq "newest takes no argument" "err 22 malformed request: wrong arguments to 'newest'" \
	"$(raw "$sock" 'newest now\n')"
raw "$sock" 'create\n' >/dev/null
raw "$sock" 'create\n' >/dev/null
expect_eq "newest: the later of two snapshots" \
	"ok $(raw "$sock" 'list\n' | awk '$1 == "snap" { print $5 }' | sort -n | tail -1)" \
	"$(raw "$sock" 'newest\n')"
raw "$sock" 'delete-all\n' >/dev/null
expect_eq "get one" "prop maxsize 1G
ok" "$(raw "$sock" 'get maxsize\n')"
# a client that connects and says nothing holds the daemon up to its timeout, no longer
stuck_client "$sock" 30
start=$(date +%s)
check "a silent client delays the next one only" quiet "$SNAPFS" list shadows -H "$mnt"
took=$(($(date +%s) - start))
check "... by its timeout (5 s), no less, no more: $took s" test "$took" -ge 3 -a "$took" -le 10
kill "$STUCK_PID" 2>/dev/null || true
wait "$STUCK_PID" 2>/dev/null || true
forget_pid "$STUCK_PID"
check "the daemon still serves" quiet "$SNAPFS" get maxsize "$mnt"
check "the volume still works" test "$(head -c 4 "$mnt/old" | wc -c)" -eq 4

echo "== access"
if command -v setpriv >/dev/null; then
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SNAPFS" list shadows "$mnt" \
		>/dev/null 2>"$T/err" || rc=$?
	check "another user cannot use the volume's control socket" test "$rc" -ne 0
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c \
		'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
		"$sock" 2>/dev/null || rc=$?
	check "another user cannot connect to the socket" test "$rc" -ne 0
fi

echo "== several volumes"
src2=$T/src2
mnt2=$T/mnt2
mkdir -p "$src2" "$T/da"
sfs_mount "$src2" "$mnt2" --diff-area "$T/da"
expect_eq "--diff-area is the volume's diff area" "$T/da" \
	"$("$SNAPFS" get -H diffarea "$mnt2" | cut -f2)"
head -c 256k /dev/urandom >"$mnt2/file"
a=$(field 1 "$("$SNAPFS" create -H "$mnt")")
b=$(field 1 "$("$SNAPFS" create -H "$mnt2")")
all=$("$SNAPFS" list shadows -H)
expect_eq "list without MNT shows both volumes" "$mnt $mnt2" \
	"$(grep -E "^($a|$b)" <<<"$all" | cut -f3 | xargs)"
expect_eq "delete --id without MNT finds the volume" "deleted snapshot $b from '$mnt2'" \
	"$("$SNAPFS" delete shadows --id "$b")"
expect_eq "... and leaves the other alone" "$a" "$("$SNAPFS" list shadows -H "$mnt" | cut -f1)"
c=$(field 1 "$("$SNAPFS" create -H "$mnt2")")
expect_eq "a new snapshot holds no diff bytes" 0 "$("$SNAPFS" list shadows -H "$mnt2" | cut -f6)"
# overwrite data that existed before the snapshot, which it alone needs; flush it to the daemon
dd if=/dev/zero of="$mnt2/file" bs=4k count=2 conv=notrunc,fsync status=none
bytes=$("$SNAPFS" list shadows -H "$mnt2" | cut -f6)
check "after an overwrite it holds diff bytes ($bytes)" test "$bytes" -gt 0
check "the diff area fills in --diff-area's directory" \
	test -n "$(find "$T/da" -type f -size +0 -print -quit)"
# a volume whose daemon cannot be reached: reported, the others still listed
rm "$src2/.snapfs/control"
rc=0
"$SNAPFS" list shadows -H >"$T/out" 2>"$T/err" || rc=$?
check "list with an unreachable daemon fails" test "$rc" -ne 0
check "... saying which" grep -q "cannot reach the daemon of '$mnt2'" "$T/err"
check "... and lists the other volume" grep -q "^$a" "$T/out"
refused "create with an unreachable daemon" "cannot reach the daemon of '$mnt2'" create "$mnt2"
sfs_umount "$mnt2"
sfs_mount "$src2" "$mnt2"
check "a remount serves the socket again" test -S "$src2/.snapfs/control"
check "... and keeps the snapshot" grep -q "^$c" <<<"$("$SNAPFS" list shadows -H "$mnt2")"
check "... and the diff area" test "$("$SNAPFS" get -H diffarea "$mnt2" | cut -f2)" == "$T/da"
sfs_umount "$mnt2"

echo "== mount options and the socket's lifetime"
mkdir -p "$T/src3"
refused "--diff-area: missing directory" "snapfs mount: diff area '$T/nope': No such file" \
	mount --diff-area "$T/nope" "$T/src3" "$mnt2"
check "... changes nothing" test ! -e "$T/src3/.snapfs"
refused "--diff-area: no directory" "snapfs mount: --diff-area needs a directory" \
	mount "$T/src3" "$mnt2" --diff-area
check "usage names --diff-area" bash -c "'$SNAPFS' mount --help | grep -q -- --diff-area"
refused "--chunk-size: not a power of two" "snapfs mount: --chunk-size '3000'" \
	mount --chunk-size 3000 "$T/src3" "$mnt2"
check "... changes nothing" test ! -e "$T/src3/.snapfs"
sfs_mount "$T/src3" "$mnt2" --chunk-size 16K
expect_eq "--chunk-size is the volume's chunk size" 16384 \
	"$("$SNAPFS" get -H chunksize "$mnt2" | cut -f2)"
sfs_umount "$mnt2"
refused "--chunk-size cannot change" "the volume's chunk size is 16384; it cannot change to 8192" \
	mount --chunk-size 8K "$T/src3" "$mnt2"
sfs_mount "$T/src3" "$mnt2"
expect_eq "... and stays without the option" 16384 \
	"$("$SNAPFS" get -H chunksize "$mnt2" | cut -f2)"
sfs_umount "$mnt2"
sfs_umount "$mnt"
check "unmount removes the socket" test ! -e "$src/.snapfs/control"
# a socket left by a daemon that was killed does not stop the next mount
sfs_mount "$src" "$mnt"
kill -9 "$SFS_PID"
wait "$SFS_PID" 2>/dev/null || true
unset "_daemon_of[$mnt]"
fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt"
check "a killed daemon leaves its socket" test -S "$src/.snapfs/control"
sfs_mount "$src" "$mnt"
check "the next mount serves anyway" quiet "$SNAPFS" list shadows -H "$mnt"
sfs_umount "$mnt"

# SRC with a path too long for a socket address (108 bytes): reached through /proc/self/fd
long=$T/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})
sfs_mount "$long" "$T/mnt-long"
check "a long SRC path still gets a socket" test -S "$long/.snapfs/control"
check "... that the commands reach" quiet "$SNAPFS" create -H "$T/mnt-long"
expect_eq "... and list" 1 "$(nsnaps "$T/mnt-long")"
sfs_umount "$T/mnt-long"
check "... and unmount removes it" test ! -e "$long/.snapfs/control"

echo "== daemon mode"
"$SNAPFS" mount "$src" "$mnt"
_mounts+=("$mnt")
id=$(field 1 "$("$SNAPFS" create -H "$mnt")")
check "a daemonized volume serves its socket" \
	grep -q "^$id" <<<"$("$SNAPFS" list shadows -H "$mnt")"
"$SNAPFS" umount "$mnt"
check "... and removes it when unmounted" test ! -e "$src/.snapfs/control"

finish
