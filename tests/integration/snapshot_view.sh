#!/bin/bash
# MNT/.snapshots/, the read-only view of the snapshots: the virtual directory at the root (and
# the real SRC/.snapshots it shadows), one @GMT-... directory per snapshot showing exactly the
# tree as it was when the snapshot was taken (bytes, modes, owners, times, link counts, hard
# links, symlinks, xattrs), EROFS for every change, permissions as they were (as root and as
# uid 65534), maxshadowcopies, and snapshots deleted while their nodes are in use.
#
# Environment: SNAPFS (set by meson).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse

# A python3 that uid 65534 can run too (a per-user install under /root is not).
PY=
for p in /usr/bin/python3 /usr/local/bin/python3; do
	if [ -x "$p" ]; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	echo "FAIL: no system python3 for the checks" >&2
	exit 1
fi

# describe DIR: one line per object under DIR (sorted), with what a snapshot must keep: type,
# mode, owner, link count, mtime and ctime, size, content hash, symlink target, xattrs, and
# which earlier path a hard link shares its inode with. The top-level .snapfs and .snapshots
# are left out (the state directory, and the view itself or the real directory it shadows).
cat >"$T/describe.py" <<'EOF'
import hashlib, os, stat, sys

root = sys.argv[1]
seen = {}

def xattrs(p):
    out = []
    for n in sorted(os.listxattr(p, follow_symlinks=False)):
        out.append(n + '=' + os.getxattr(p, n, follow_symlinks=False).hex())
    return ','.join(out) or '-'

def walk(rel):
    p = os.path.join(root, rel) if rel else root
    st = os.lstat(p)
    fields = [rel or '.', stat.filemode(st.st_mode), st.st_uid, st.st_gid, st.st_nlink,
              st.st_mtime_ns, st.st_ctime_ns]
    if stat.S_ISREG(st.st_mode):
        with open(p, 'rb') as f:
            fields += [st.st_size, hashlib.sha256(f.read()).hexdigest()]
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            fields.append('same-inode-as:' + seen.setdefault(key, rel))
    elif stat.S_ISLNK(st.st_mode):
        fields += [st.st_size, '->', os.readlink(p)]
    elif stat.S_ISDIR(st.st_mode):
        fields.append(st.st_size)
    fields.append(xattrs(p))
    print(' '.join(map(str, fields)))
    if stat.S_ISDIR(st.st_mode):
        for name in sorted(os.listdir(p)):
            if not rel and name in ('.snapfs', '.snapshots'):
                continue
            walk(os.path.join(rel, name))

walk('')
EOF

# errno.py OP ARGS...: one call, prints OK (or the data read, for read/getxattr/listxattr) or
# the errno name.
cat >"$T/errno.py" <<'EOF'
import errno, os, sys

op, args = sys.argv[1], sys.argv[2:]

def openclose(path, flags):
    os.close(os.open(path, flags, 0o644))

ops = {
    'read': lambda p: open(p, 'rb').read().decode(errors='replace').strip(),
    'open_w': lambda p: openclose(p, os.O_WRONLY),
    'open_rw': lambda p: openclose(p, os.O_RDWR),
    'open_trunc': lambda p: openclose(p, os.O_RDONLY | os.O_TRUNC),
    'append': lambda p: openclose(p, os.O_WRONLY | os.O_APPEND),
    'create': lambda p: openclose(p, os.O_WRONLY | os.O_CREAT),
    'utime': lambda p: os.utime(p),
    'chmod': lambda p, m: os.chmod(p, int(m, 8)),
    'chown': lambda p, u, g: os.lchown(p, int(u), int(g)),
    'truncate': lambda p, n: os.truncate(p, int(n)),
    'setxattr': lambda p, n, v: os.setxattr(p, n, v.encode(), follow_symlinks=False),
    'removexattr': lambda p, n: os.removexattr(p, n, follow_symlinks=False),
    'getxattr': lambda p, n: os.getxattr(p, n, follow_symlinks=False).decode(),
    'listxattr': lambda p: ' '.join(sorted(os.listxattr(p, follow_symlinks=False))),
    'mkdir': lambda p: os.mkdir(p),
    'rmdir': lambda p: os.rmdir(p),
    'unlink': lambda p: os.unlink(p),
    'rename': lambda a, b: os.rename(a, b),
    'link': lambda a, b: os.link(a, b),
    'symlink': lambda t, p: os.symlink(t, p),
    'mkfifo': lambda p: os.mkfifo(p),
    'listdir': lambda p: ' '.join(sorted(os.listdir(p))),
    'stat': lambda p: os.lstat(p) and None,
}
try:
    r = ops[op](*args)
    print('OK' if r is None else r)
except OSError as e:
    print(errno.errorcode[e.errno])
EOF

# try OP ARGS...: as root; try_nobody OP ARGS...: as uid/gid 65534, without groups.
try() {
	"$PY" "$T/errno.py" "$@"
}
try_nobody() {
	(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" "$T/errno.py" "$@")
}
describe() {
	"$PY" "$T/describe.py" "$1"
}
quiet() {
	"$@" >/dev/null
}

src=$T/src
mnt=$T/mnt
mkdir -p "$src/.snapshots"
echo shadowed >"$src/.snapshots/real"
sfs_mount "$src" "$mnt" -o allow_other
sv=$mnt/.snapshots

echo "== .snapshots without snapshots"
expect_eq "listed once at the root" 1 "$(ls -a "$mnt" | grep -cx '\.snapshots')"
expect_eq "in the long listing (readdirplus) too" "dr-xr-xr-x root root" \
	"$(ls -la "$mnt" | awk '$NF == ".snapshots" { print $1, $3, $4 }')"
expect_eq "mode 0555, owned by root, a directory" "555 0 0 directory" \
	"$(stat -c '%a %u %g %F' "$sv")"
expect_eq "empty" "" "$(ls -A "$sv")"
expect_eq "two links" 2 "$(stat -c %h "$sv")"
expect_eq "the real SRC/.snapshots is shadowed" ENOENT "$(try stat "$sv/real")"
check "... and stays in SRC" test -f "$src/.snapshots/real"
expect_eq "statfs as the live view's" "$(stat -f -c '%S %l %b' "$mnt")" \
	"$(stat -f -c '%S %l %b' "$sv")"

# the name at the root: EEXIST for what would make it, EBUSY for what would remove or move
# it; some of these the kernel answers itself from its cached entry, with the same result
mkdir "$mnt/adir"
touch "$mnt/afile"
expect_eq "mkdir .snapshots" EEXIST "$(try mkdir "$sv")"
expect_eq "symlink named .snapshots" EEXIST "$(try symlink x "$sv")"
expect_eq "link named .snapshots" EEXIST "$(try link "$mnt/afile" "$sv")"
expect_eq "create .snapshots" EISDIR "$(try create "$sv")"
expect_eq "rmdir .snapshots" EBUSY "$(try rmdir "$sv")"
expect_eq "unlink .snapshots" EISDIR "$(try unlink "$sv")"
expect_eq "rename .snapshots away" EBUSY "$(try rename "$sv" "$mnt/x")"
expect_eq "rename a directory onto .snapshots" EBUSY "$(try rename "$mnt/adir" "$sv")"
expect_eq "rename a file onto .snapshots" EISDIR "$(try rename "$mnt/afile" "$sv")"
check "... both left in place" test -d "$mnt/adir" -a -f "$mnt/afile"
expect_eq "mkdir in .snapshots" EROFS "$(try mkdir "$sv/x")"
expect_eq "create in .snapshots" EROFS "$(try create "$sv/x")"
expect_eq "chmod .snapshots" EROFS "$(try chmod "$sv" 755)"
expect_eq "chown .snapshots" EROFS "$(try chown "$sv" 1 1)"
expect_eq "setxattr on .snapshots" EROFS "$(try setxattr "$sv" user.x 1)"
expect_eq "no xattrs on .snapshots" "" "$(try listxattr "$sv")"
expect_eq "mkdir .snapshots below the root is an ordinary name" OK \
	"$(try mkdir "$mnt/adir/.snapshots")"
rm -rf "$mnt/adir" "$mnt/afile"

# a root listing that takes many readdir calls still shows .snapshots exactly once, last
for i in $(seq 2000); do
	: >"$mnt/root-entry-$i"
done
expect_eq "a long root listing: every entry once" "2003 2003" \
	"$(ls -af "$mnt" | wc -l) $(ls -af "$mnt" | sort -u | wc -l)"
expect_eq "... .snapshots once" 1 "$(ls -a "$mnt" | grep -cx '\.snapshots')"
expect_eq "... last" .snapshots "$(ls -af "$mnt" | tail -n 1)"
expect_eq "... also in the long listing" 1 "$(ls -la "$mnt" | grep -c ' \.snapshots$')"
rm -f "$mnt"/root-entry-*

echo "== the tree, then a snapshot"
printf 'small file\n' >"$mnt/small"
touch -d '2001-02-03 04:05:06.789' "$mnt/small"
head -c 300K /dev/urandom >"$mnt/big"   # several chunks
cp "$mnt/big" "$T/big.orig"
chmod 640 "$mnt/big"
chown 1000:1000 "$mnt/big"
setfattr -n user.color -v blue "$mnt/big"
setfattr -n user.empty "$mnt/big"
setfattr -n trusted.secret -v t "$mnt/big"
echo secret >"$mnt/secret"
chmod 600 "$mnt/secret"
echo public >"$mnt/public"
chmod 644 "$mnt/public"
mkdir -p "$mnt/sub/deeper" "$mnt/empty"
echo deep >"$mnt/sub/deeper/file"
ln "$mnt/public" "$mnt/sub/hard"
ln -s public "$mnt/link"
ln -s nowhere "$mnt/dangling"
mkfifo "$mnt/fifo"
truncate -s 1M "$mnt/sparse"
printf 'in the middle' | dd of="$mnt/sparse" bs=1 seek=500000 conv=notrunc status=none
mkdir "$mnt/nobodys"
echo mine >"$mnt/nobodys/file"
chown -R 65534:65534 "$mnt/nobodys"
mkdir "$mnt/many"
for i in $(seq 1500); do
	: >"$mnt/many/entry-with-a-longish-name-$i"
done
chmod 750 "$mnt/sub"
chown 0:1000 "$mnt/sub"

line=$("$SNAPFS" create -H "$mnt")
id1=$(cut -f1 <<<"$line")
b1=$(cut -f3 <<<"$line")
s1=$sv/$b1
# what the snapshot must show: SRC as the snapshot found it (create flushed the kernel's caches)
describe "$src" >"$T/before"
check "the description covers the tree" test "$(wc -l <"$T/before")" -gt 1500

echo "== change everything"
printf 'OVERWRITTEN' | dd of="$mnt/big" bs=1 seek=70000 conv=notrunc status=none
truncate -s 100K "$mnt/big"
printf 'more\n' >>"$mnt/small"
chmod 644 "$mnt/secret"
chown 1000:1000 "$mnt/public"
rm "$mnt/sub/hard"
mv "$mnt/sub/deeper" "$mnt/sub/moved"
echo changed >"$mnt/sub/moved/file"
rmdir "$mnt/empty"
echo new >"$mnt/newfile"
mkdir "$mnt/newdir"
setfattr -x user.color "$mnt/big"
setfattr -n user.added -v 1 "$mnt/public"
setfattr -x trusted.secret "$mnt/big"
rm "$mnt/link"
ln -s small "$mnt/link"
rm "$mnt/fifo"
mv "$mnt/dangling" "$mnt/sub/dangling"
printf 'X' | dd of="$mnt/sparse" bs=1 seek=10 conv=notrunc status=none
echo overwritten >"$mnt/nobodys/file"
rm "$mnt/many/entry-with-a-longish-name-7"
chmod 755 "$mnt/sub"
describe "$src" >"$T/after"
check "the live tree did change" bash -c "! cmp -s '$T/before' '$T/after'"

echo "== the snapshot shows the old state"
expect_eq "one snapshot listed" "$b1" "$(ls "$sv")"
expect_eq ".snapshots has a link per snapshot" 3 "$(stat -c %h "$sv")"
describe "$s1" >"$T/view" 2>"$T/view.err" || true
if cmp -s "$T/before" "$T/view"; then
	pass "every object as it was (type, mode, owner, links, times, bytes, xattrs)"
else
	fail "the snapshot differs from the tree it was taken of:"
	diff "$T/before" "$T/view" | head -n 40 >&2 || true
	cat "$T/view.err" >&2
fi
check "bytes of a multi-chunk file" cmp -s "$T/big.orig" "$s1/big"
expect_eq "a file as it was" "small file" "$(cat "$s1/small")"
expect_eq "a moved directory in its old place" deep "$(cat "$s1/sub/deeper/file")"
expect_eq "... and not in its new one" ENOENT "$(try stat "$s1/sub/moved")"
expect_eq "a file created since is absent" ENOENT "$(try stat "$s1/newfile")"
expect_eq "a removed directory is there" OK "$(try stat "$s1/empty")"
expect_eq "symlink target" public "$(readlink "$s1/link")"
expect_eq "dangling symlink" nowhere "$(readlink "$s1/dangling")"
expect_eq "a FIFO stays a FIFO" "fifo" "$(stat -c %F "$s1/fifo")"
expect_eq "hard links share one inode" "$(stat -c %i "$s1/public")" \
	"$(stat -c %i "$s1/sub/hard")"
expect_eq "... with two links" "2 2" "$(stat -c %h "$s1/public" "$s1/sub/hard" | xargs)"
expect_eq "xattr value" blue "$(try getxattr "$s1/big" user.color)"
expect_eq "removed trusted xattr, as root" t "$(try getxattr "$s1/big" trusted.secret)"
expect_eq "missing xattr" ENODATA "$(try getxattr "$s1/big" user.nope)"
expect_eq "the shadowed SRC/.snapshots in the snapshot's root" shadowed \
	"$(cat "$s1/.snapshots/real")"
expect_eq "no state directory in the snapshot" ENOENT "$(try stat "$s1/.snapfs")"
expect_eq "a large directory, every entry once" 1500 \
	"$(ls -f "$s1/many" | grep -c '^entry-with-a-longish-name-')"
check "snapshot inode numbers are not live ones" \
	test "$(stat -c %i "$s1/public")" != "$(stat -c %i "$mnt/public")"
expect_eq "statfs as the live view's" "$(stat -f -c '%S %l' "$mnt")" \
	"$(stat -f -c '%S %l' "$s1")"
check "reading a snapshot file copies it to the live tree" cp "$s1/big" "$mnt/restored"
check "... with the old bytes" cmp -s "$T/big.orig" "$mnt/restored"
expect_eq "SEEK_HOLE at the end" "$(stat -c %s "$s1/sparse")" "$("$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.lseek(fd, 0, os.SEEK_HOLE))' "$s1/sparse")"

echo "== every change fails with EROFS (root)"
expect_eq "open for writing" EROFS "$(try open_w "$s1/small")"
expect_eq "open read-write" EROFS "$(try open_rw "$s1/small")"
expect_eq "open O_TRUNC" EROFS "$(try open_trunc "$s1/small")"
expect_eq "open O_APPEND" EROFS "$(try append "$s1/small")"
expect_eq "create" EROFS "$(try create "$s1/new")"
expect_eq "create in a subdirectory" EROFS "$(try create "$s1/sub/new")"
expect_eq "utimes" EROFS "$(try utime "$s1/small")"
expect_eq "chmod" EROFS "$(try chmod "$s1/small" 600)"
expect_eq "chown" EROFS "$(try chown "$s1/small" 1 1)"
expect_eq "chown of a symlink" EROFS "$(try chown "$s1/link" 1 1)"
expect_eq "truncate" EROFS "$(try truncate "$s1/small" 0)"
expect_eq "setxattr" EROFS "$(try setxattr "$s1/big" user.color red)"
expect_eq "removexattr" EROFS "$(try removexattr "$s1/big" user.color)"
expect_eq "mkdir" EROFS "$(try mkdir "$s1/d")"
expect_eq "mkfifo" EROFS "$(try mkfifo "$s1/p")"
expect_eq "symlink" EROFS "$(try symlink x "$s1/l")"
expect_eq "rmdir" EROFS "$(try rmdir "$s1/empty")"
expect_eq "unlink" EROFS "$(try unlink "$s1/small")"
expect_eq "rename within" EROFS "$(try rename "$s1/small" "$s1/small2")"
expect_eq "rename out to the live tree" EROFS "$(try rename "$s1/small" "$mnt/small2")"
expect_eq "rename in from the live tree" EROFS "$(try rename "$mnt/newfile" "$s1/newfile")"
expect_eq "rename the snapshot" EROFS "$(try rename "$s1" "$sv/other")"
expect_eq "rmdir the snapshot" EROFS "$(try rmdir "$s1")"
expect_eq "link from the snapshot" EROFS "$(try link "$s1/small" "$mnt/small2")"
expect_eq "link into the snapshot" EROFS "$(try link "$mnt/newfile" "$s1/newfile")"
expect_eq "the shell: touch" "Read-only file system" \
	"$(touch "$s1/small" 2>&1 | sed 's/.*: //')"
expect_eq "the shell: echo >" "Read-only file system" \
	"$( (echo x >"$s1/small") 2>&1 | sed 's/.*: //')"
expect_eq "the shell: rm -f" "Read-only file system" \
	"$(rm -f "$s1/small" 2>&1 | sed 's/.*: //')"
expect_eq "the shell: mkdir" "Read-only file system" \
	"$(mkdir "$s1/d" 2>&1 | sed 's/.*: //')"
expect_eq "the shell: mv" "Read-only file system" \
	"$(mv "$s1/small" "$s1/x" 2>&1 | sed 's/.*: //')"
expect_eq "the shell: chmod" "Read-only file system" \
	"$(chmod 600 "$s1/small" 2>&1 | sed 's/.*: //')"
expect_eq "the shell: setfattr" "Read-only file system" \
	"$(setfattr -n user.x -v 1 "$s1/small" 2>&1 | sed 's/.*: //')"
describe "$s1" >"$T/view2" 2>&1 || true
check "... and the snapshot is unchanged" cmp -s "$T/before" "$T/view2"

echo "== permissions as they were (uid 65534)"
expect_eq "a world-readable file" public "$(try_nobody read "$s1/public")"
expect_eq "a file that was private" EACCES "$(try_nobody read "$s1/secret")"
expect_eq "... and is public now" secret "$(try_nobody read "$mnt/secret")"
expect_eq "a file of another owner, mode 0640" EACCES "$(try_nobody read "$s1/big")"
expect_eq "a directory that was closed to others" EACCES "$(try_nobody listdir "$s1/sub")"
expect_eq "... and is open now" "dangling moved" "$(try_nobody listdir "$mnt/sub")"
expect_eq "trusted xattrs hidden from others" "user.color user.empty" \
	"$(try_nobody listxattr "$s1/big")"
expect_eq "lists .snapshots" "$b1" "$(try_nobody listdir "$sv")"
expect_eq "own file: open for writing" EROFS "$(try_nobody open_w "$s1/nobodys/file")"
expect_eq "own file: chmod" EROFS "$(try_nobody chmod "$s1/nobodys/file" 600)"
expect_eq "own file: utimes" EROFS "$(try_nobody utime "$s1/nobodys/file")"
expect_eq "own file: setxattr" EROFS "$(try_nobody setxattr "$s1/nobodys/file" user.a b)"
expect_eq "own directory: create" EROFS "$(try_nobody create "$s1/nobodys/new")"
expect_eq "own directory: unlink" EROFS "$(try_nobody unlink "$s1/nobodys/file")"
expect_eq "own directory: mkdir" EROFS "$(try_nobody mkdir "$s1/nobodys/d")"
expect_eq "own file reads as it was" mine "$(try_nobody read "$s1/nobodys/file")"
expect_eq "root's directory: create" EACCES "$(try_nobody create "$s1/new")"
expect_eq "root's file: open for writing" EACCES "$(try_nobody open_w "$s1/public")"
expect_eq "root's file: chmod" EPERM "$(try_nobody chmod "$s1/public" 600)"
expect_eq "in .snapshots: mkdir" EACCES "$(try_nobody mkdir "$sv/x")"

echo "== more snapshots, maxshadowcopies, deletion"
id2=$("$SNAPFS" create -H "$mnt" | cut -f1)
describe "$src" >"$T/at2"
echo third >"$mnt/third"
line=$("$SNAPFS" create -H "$mnt")
id3=$(cut -f1 <<<"$line")
b3=$(cut -f3 <<<"$line")
expect_eq "listed oldest first, as 'list shadows' does" \
	"$("$SNAPFS" list shadows -H "$mnt" | cut -f5 | xargs)" "$(ls "$sv" | xargs)"
expect_eq "three snapshots, five links" 5 "$(stat -c %h "$sv")"
expect_eq "each shows its own state" "ENOENT third" \
	"$(try stat "$sv/$(ls "$sv" | sed -n 2p)/third") $(cat "$sv/$b3/third")"
check "set maxshadowcopies=2" "$SNAPFS" set maxshadowcopies=2 "$mnt"
expect_eq "only the newest two are listed" "$(ls "$sv" | tail -n 2 | xargs)" \
	"$(ls "$sv" | xargs)"
expect_eq "the oldest is not reachable" ENOENT "$(try stat "$s1")"
check "set maxshadowcopies=64" "$SNAPFS" set maxshadowcopies=64 "$mnt"
expect_eq "the oldest is back" OK "$(try stat "$s1/small")"

# a process inside the first snapshot while it is deleted
out=$("$PY" - "$s1" "$SNAPFS" "$id1" "$mnt" <<'EOF'
import errno, os, subprocess, sys, time
snap, snapfs, sid, mnt = sys.argv[1:]
os.chdir(snap)
def t(f):
    try:
        f()
        return 'OK'
    except OSError as e:
        return errno.errorcode[e.errno]
before = t(lambda: os.stat('sub/deeper/file'))
subprocess.run([snapfs, 'delete', 'shadows', '--id', sid, mnt], check=True,
               stdout=subprocess.DEVNULL)
by_path = t(lambda: os.stat(snap + '/small'))
time.sleep(1.5)
print(before, by_path, t(lambda: os.stat('.')), t(lambda: os.listdir('.')),
      t(lambda: os.open('small', os.O_RDONLY)))
EOF
)
expect_eq "a deleted snapshot: gone by path, stale where held" "OK ENOENT ESTALE ESTALE ESTALE" \
	"$out"
check "... and no longer listed" bash -c "! ls '$sv' | grep -qx '$b1'"
expect_eq "the others remain" 2 "$(ls "$sv" | wc -l)"
check "delete the newest" quiet "$SNAPFS" delete shadows --id "$id3" "$mnt"
expect_eq "gone from the listing at once" 1 "$(ls "$sv" | wc -l)"
expect_eq "... and from its path" ENOENT "$(try stat "$sv/$b3/third")"
describe "$sv/$(ls "$sv")" >"$T/view3" 2>&1 || true
check "the remaining snapshot shows its own state" cmp -s "$T/at2" "$T/view3"
check "delete the last" quiet "$SNAPFS" delete shadows --id "$id2" "$mnt"
expect_eq "empty again" "" "$(ls -A "$sv")"

sfs_umount "$mnt"
check "the real SRC/.snapshots survives" test "$(cat "$src/.snapshots/real")" == shadowed
finish
