#!/bin/bash
# The coordinator service, snapfsd, as a service: raw frames that break the protocol (each
# answered with an error or a closed connection, the service serving on), writers whose
# metadata is malformed or invalid, peers the configuration does not name, starting on demand,
# and configuration files it refuses.
#
# Environment: SNAPFS, SNAPFSD, TESTWRITER.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
: "${SNAPFSD:?SNAPFSD must point at the snapfsd binary}"
: "${TESTWRITER:?TESTWRITER must point at the testwriter binary}"
if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null; then
	echo "FAIL: must run as root with runuser (it acts as user nobody)" >&2
	exit 1
fi
export SNAPFSD
export SNAPFS_RUNTIME_DIR=$T/run
unset SNAPFS_CONFIG
sock=$SNAPFS_RUNTIME_DIR/snapfsd.sock

# ---- helpers ------------------------------------------------------------------------------------

# start_service [ENV=VALUE...]: snapfsd -f in the foreground (stderr in $T/snapfsd-N.log), with
# those variables; waits until it answers. Sets service_pid.
nservice=0
start_service() {
	local i
	nservice=$((nservice + 1))
	env "$@" "$SNAPFSD" -f 2>"$T/snapfsd-$nservice.log" &
	service_pid=$!
	_pids+=("$service_pid")
	for i in $(seq 100); do
		# (no client may start a coordinator of its own meanwhile)
		[ -S "$sock" ] && SNAPFSD=/nonexistent "$SNAPFS" list writers -H >/dev/null 2>&1 &&
			return 0
		kill -0 "$service_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "FAIL: snapfsd did not start: $(cat "$T/snapfsd-$nservice.log")" >&2
	exit 1
}

# stop_service: SIGTERM to the service started, which must exit 0 and remove its socket
stop_service() {
	local rc=0
	kill "$service_pid"
	wait "$service_pid" || rc=$?
	forget_pid "$service_pid"
	expect_eq "snapfsd exits 0 on SIGTERM" 0 "$rc"
	check "... and removes its socket" test ! -e "$sock"
}

# answers: 'snapfs list writers' works, within 5 s (connections just closed are counted off
# by their own threads, soon but not at once)
answers() {
	local i
	for ((i = 0; i < 50; i++)); do
		"$SNAPFS" list writers -H >/dev/null 2>"$T/err" && return 0
		sleep 0.1
	done
	return 1
}

# serving WHAT: the service started still runs, and answers
serving() {
	if ! kill -0 "$service_pid" 2>/dev/null; then
		fail "$1: snapfsd died; its log: $(cat "$T/snapfsd-$nservice.log")"
	elif ! answers; then
		fail "$1: 'snapfs list writers' fails afterwards: $(cat "$T/err")"
	else
		pass "$1: the service still serves"
	fi
}

# raw WHAT EXPECTED ARGS...: run coord.py ARGS, expect its one-line output EXPECTED (a grep -E
# pattern), then check the service still serves
raw() {
	local what=$1 expected=$2 out
	shift 2
	out=$(python3 "$T/coord.py" "$@" 2>&1) || true
	if grep -qE -- "^$expected\$" <<<"$out"; then
		pass "$what: $out"
	else
		fail "$what: expected '$expected', got '$out'"
	fi
	serving "$what"
}

# coordinator_pids: the snapfsd processes serving this test's runtime directory
coordinator_pids() {
	local p
	for p in $(pgrep -x snapfsd || true); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
			grep -qxF "SNAPFS_RUNTIME_DIR=$SNAPFS_RUNTIME_DIR" && echo "$p"
	done
	return 0
}

# stop_coordinators: stop every snapfsd of this test's runtime directory (started on demand)
stop_coordinators() {
	local p i
	for p in $(coordinator_pids); do
		kill "$p" 2>/dev/null || true
		for i in $(seq 50); do
			[ -d "/proc/$p" ] || break
			sleep 0.1
		done
	done
}
at_exit stop_coordinators

# The raw client. 'coord.py CASE': prints one line, what came back on a connection after
# sending CASE's bytes: 'closed' (no reply, the service closed), the reply's head line, or
# 'open' when the connection was still open after 3 s without a reply.
cat >"$T/coord.py" <<'EOF'
import os, socket, struct, sys, threading, time

SOCK = os.path.join(os.environ['SNAPFS_RUNTIME_DIR'], 'snapfsd.sock')


def frame(data):
    return struct.pack('>I', len(data)) + data


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    s.settimeout(10)
    return s


def recv_exact(s, n):
    out = b''
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            return None
        out += b
    return out


def recv_frame(s, timeout=3):
    """(head, body) of the next frame, or 'closed', or 'open' after timeout s."""
    s.settimeout(timeout)
    try:
        h = recv_exact(s, 4)
        if h is None:
            return 'closed'
        d = recv_exact(s, struct.unpack('>I', h)[0])
        if d is None:
            return 'closed'
    except socket.timeout:
        return 'open'
    except ConnectionResetError:
        return 'closed'
    head, _, body = d.partition(b'\n')
    return head.decode(), body.decode()


def show(r):
    print(r if isinstance(r, str) else r[0])


def send_then_reply(data, shut=False):
    s = connect()
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    show(recv_frame(s))


def wmd(name, body=None):
    if body is None:
        body = ('<component name="db" caption="data"><path>/srv/db</path></component>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<writer xmlns="urn:snapfs:wmd:1" version="1" id="unregistered" name="%s">%s'
            '</writer>\n' % (name, body)).encode()


def hello_writer(name, doc):
    s = connect()
    s.sendall(frame(b'hello 1 writer ' + name.encode() + b'\n' + doc))
    return s, recv_frame(s)


def requester():
    s = connect()
    s.sendall(frame(b'hello 1 requester\n'))
    r = recv_frame(s)
    assert not isinstance(r, str) and r[0] == 'ok 1', r
    return s


def listed(name):
    """The writers line of writer name in a 'writers' reply, or ''."""
    s = requester()
    s.sendall(frame(b'writers\n'))
    head, body = recv_frame(s)
    s.close()
    for line in body.splitlines():
        f = line.split('\t')
        if len(f) >= 4 and f[1] == name:
            return line
    return ''


case = sys.argv[1]
if case == 'zero-length':
    send_then_reply(b'\0\0\0\0')
elif case == 'oversized':
    send_then_reply(struct.pack('>I', (1 << 20) + 1) + b'hello 1 requester\n')
elif case == 'largest':  # 1 MiB exactly is allowed: a hello with a long body, then refused
    send_then_reply(frame(b'hello 1 requester\n' + b'x' * ((1 << 20) - 18)))
elif case == 'control-char':
    send_then_reply(frame(b'hello 1\x07 requester\n'))
elif case == 'no-newline':
    send_then_reply(frame(b'hello 1 requester'))
elif case == 'nul-in-body':
    send_then_reply(frame(b'hello 1 writer w\n<writer\0/>'))
elif case == 'truncated':
    send_then_reply(struct.pack('>I', 100) + b'hello 1 re', shut=True)
elif case == 'http':
    send_then_reply(b'GET / HTTP/1.0\r\n\r\n')
elif case == 'binary':
    send_then_reply(b'\0\0\0\x0c\xff\xfe\x01\x02abcd\x80\x90\xa0\xb0')
elif case == 'no-hello':
    send_then_reply(frame(b'writers\n'))
elif case == 'short-hello':
    send_then_reply(frame(b'hello 1\n'))
elif case == 'unknown-role':
    send_then_reply(frame(b'hello 1 backup\n'))
elif case == 'version':
    send_then_reply(frame(b'hello 2 requester\n'))
elif case == 'requester-extra':
    send_then_reply(frame(b'hello 1 requester please\n'))
elif case == 'silent':
    # says nothing: closed by the service after its hello timeout, others served meanwhile
    import subprocess
    s = connect()
    t0 = time.monotonic()
    rc = subprocess.run([os.environ['SNAPFS'], 'list', 'writers', '-H'],
                        stdout=subprocess.DEVNULL).returncode
    t1 = time.monotonic()
    r = recv_frame(s, 15)
    print('others-served=%s in %.1f s, then %s after %.0f s'
          % (rc == 0, t1 - t0, r if isinstance(r, str) else r[0], time.monotonic() - t0))
elif case == 'session-garbage':
    # a requester whose second frame is malformed: its connection ends
    s = requester()
    s.sendall(frame(b'writers\x01\n'))
    show(recv_frame(s))
elif case == 'session-unknown':
    # an unknown request is answered, and the session goes on
    s = requester()
    s.sendall(frame(b'bogus request\n'))
    r1 = recv_frame(s)
    s.sendall(frame(b'writers\n'))
    r2 = recv_frame(s)
    print('%s / %s' % (r1 if isinstance(r1, str) else r1[0],
                       r2 if isinstance(r2, str) else r2[0]))
elif case == 'session-create-empty':
    s = requester()
    s.sendall(frame(b'create\n'))
    show(recv_frame(s))
elif case == 'session-bad-volume':
    s = requester()
    s.sendall(frame(b'volume /proc\n'))
    show(recv_frame(s))
elif case == 'session-complete-early':
    s = requester()
    s.sendall(frame(b'complete\n'))
    show(recv_frame(s))
elif case == 'session-bad-timeouts':
    s = requester()
    s.sendall(frame(b'timeouts 1000 999999999\n'))
    show(recv_frame(s))
elif case == 'writer-bad-name':
    show(hello_writer('bad/name', wmd('bad/name'))[1])
elif case == 'writer-no-metadata':
    show(hello_writer('w0', b'')[1])
elif case == 'writer-malformed':
    show(hello_writer('w1', b'<?xml version="1.0"?>\n<writer xmlns="urn:snapfs:wmd:1"\n  '
                      b'version="1" id="x" name="w1">\n<component name="c">\n</writer>\n')[1])
elif case == 'writer-invalid-path':
    show(hello_writer('w2', wmd('w2', '<component name="c"><path>relative/path</path>'
                                '</component>'))[1])
elif case == 'writer-invalid-element':
    show(hello_writer('w3', wmd('w3', '<volume name="c"/>'))[1])
elif case == 'writer-wrong-namespace':
    show(hello_writer('w4', wmd('w4').replace(b'urn:snapfs:wmd:1', b'urn:other'))[1])
elif case == 'writer-duplicate-component':
    show(hello_writer('w5', wmd('w5', '<component name="c"/><component name="c"/>'))[1])
elif case == 'writer-other-name':
    show(hello_writer('w6', wmd('someone-else'))[1])
elif case == 'writer-listed':
    # a valid raw writer registers and is listed until it closes
    s, r = hello_writer('rawok', wmd('rawok'))
    before = listed('rawok').split('\t')[1:3]
    s.close()
    for _ in range(50):
        if not listed('rawok'):
            break
        time.sleep(0.1)
    print('%s, listed as %s, then %s' % (r[0].split(' ')[0], '/'.join(before),
                                         'gone' if not listed('rawok') else 'still listed'))
elif case == 'writer-fails-identify':
    # a writer answers identify with a failure: its last error says so
    w, r = hello_writer('rawfail', wmd('rawfail'))
    def answer():
        head, _ = recv_frame(w, 10)
        seq = head.split(' ')[1]
        w.sendall(frame(('fail %s 5 the disk is on fire\n' % seq).encode()))
    t = threading.Thread(target=answer)
    t.start()
    s = requester()
    s.sendall(frame(b'gather\n'))
    recv_frame(s, 10)
    t.join()
    f = listed('rawfail').split('\t')
    print('%s: %s' % (f[2], f[3]))
elif case == 'writer-garbage-answer':
    # a writer answers identify with garbage: the service drops that writer and serves on
    w, r = hello_writer('rawbad', wmd('rawbad'))
    def answer():
        recv_frame(w, 10)
        w.sendall(frame(b'done not-a-number\n'))
    t = threading.Thread(target=answer)
    t.start()
    s = requester()
    s.sendall(frame(b'gather\n'))
    g = recv_frame(s, 10)
    t.join()
    r2 = recv_frame(w, 3)
    print('gather %s; writer connection %s; %s' % (
        g if isinstance(g, str) else g[0].split(' ')[0], r2 if isinstance(r2, str) else 'open',
        'listed' if listed('rawbad') else 'not listed'))
elif case == 'many':
    # more connections than the service takes: the ones over the limit are told so
    socks, refused = [], 0
    for i in range(400):
        s = connect()
        socks.append(s)
    for s in socks[300:]:
        r = recv_frame(s, 0.5)
        if not isinstance(r, str) and 'too many connections' in r[0]:
            refused += 1
    for s in socks:
        s.close()
    print('refused %s' % ('some' if refused > 0 else 'none'))
elif case == 'sessions':
    # 64 backup sessions at once, the most the service takes: the 65th is told so
    socks = [requester() for i in range(64)]
    s = connect()
    s.sendall(frame(b'hello 1 requester\n'))
    r = recv_frame(s)
    for x in socks:
        x.close()
    print(r if isinstance(r, str) else r[0])
elif case == 'writers':
    # 256 writers at once, the most the service takes: the 257th is told so
    socks = []
    for i in range(256):
        w, r = hello_writer('many%d' % i, wmd('many%d' % i))
        if isinstance(r, str) or not r[0].startswith('ok '):
            print('writer %d: %s' % (i, r))
            sys.exit(0)
        socks.append(w)
    w, r = hello_writer('one-more', wmd('one-more'))
    for x in socks:
        x.close()
    print(r if isinstance(r, str) else r[0])
else:
    sys.exit('unknown case ' + case)
EOF

# ---- the protocol -------------------------------------------------------------------------------

echo "== malformed frames"
start_service
raw "a zero length" closed zero-length
raw "a length over 1 MiB" closed oversized
raw "a frame of 1 MiB exactly is taken (a hello with a long body)" "ok 1" largest
raw "a head with a control character" closed control-char
raw "a frame without a newline" closed no-newline
raw "a NUL byte in the body" closed nul-in-body
raw "a frame cut short" closed truncated
raw "an HTTP request" closed http
raw "binary garbage" closed binary
raw "no hello" "err 71 expected 'hello VERSION ROLE'" no-hello
raw "a hello without a role" "err 71 expected 'hello VERSION ROLE'" short-hello
raw "an unknown role" "err 71 unknown role 'backup' \(writer or requester\)" unknown-role
raw "protocol version 2" \
	"err 71 protocol version '2' is not spoken here \(this service speaks 1\)" version
# refused, but not as if 'requester' were an unknown role
raw "a requester hello with more words" "err 71 .*" requester-extra
check "... its message does not call 'requester' unknown" \
	bash -c "! python3 '$T/coord.py' requester-extra | grep -q \"unknown role 'requester'\""
raw "a silent connection" \
	"others-served=True in [0-3]\.[0-9] s, then closed after [4-6] s" silent
raw "a malformed frame in a session" closed session-garbage
raw "an unknown request in a session" "err 71 unknown request 'bogus' / ok 0" session-unknown
raw "create without a volume" "err 22 no volume in the set: add one first" \
	session-create-empty
raw "a volume that is not one" "err 107 '/proc' is not a (snapfs mount|mounted snapfs volume)" \
	session-bad-volume
raw "complete before create" "err 22 no created set to complete in this session" \
	session-complete-early
raw "a hold limit too long" "err 22 bad hold limit '999999999' \(at most 600000 ms\)" \
	session-bad-timeouts
raw "more connections than the service takes" "refused some" many
raw "more sessions than the service takes" \
	"err 24 the service has 64 backup sessions open, the most it takes" sessions
raw "more writers than the service takes" \
	"err 24 writer 'one-more': the service has 256 writers already, the most it takes" writers

echo "== writers' hello and metadata"
raw "a bad writer name" "err 22 a writer's name is 1 to 64 of \[A-Za-z0-9._-\]" writer-bad-name
raw "no metadata" "err 74 writer 'w0': bad metadata: no metadata document" writer-no-metadata
raw "malformed metadata" "err 74 writer 'w1': bad metadata: .*line [0-9]+.*" writer-malformed
raw "a relative path" "err 74 writer 'w2': bad metadata: .*(path|relative/path).*" \
	writer-invalid-path
raw "an unknown element" "err 74 writer 'w3': bad metadata: .*volume.*" writer-invalid-element
raw "another namespace" "err 74 writer 'w4': bad metadata: .*(namespace|urn:other|writer).*" \
	writer-wrong-namespace
raw "a component twice" "err 74 writer 'w5': bad metadata: .*(unique|duplicate|c).*" \
	writer-duplicate-component
raw "metadata of another writer" \
	"err 22 writer 'w6': bad metadata: the document names writer 'someone-else', not 'w6'" \
	writer-other-name
raw "a valid writer" "ok, listed as rawok/stable, then gone" writer-listed
raw "a writer fails identify" "stable: identify: the disk is on fire" writer-fails-identify
raw "a writer answers garbage" "gather ok; writer connection closed; not listed" \
	writer-garbage-answer
expect_eq "no writer left" "" "$("$SNAPFS" list writers -H)"
stop_service

# ---- who may connect ----------------------------------------------------------------------------

echo "== users the configuration does not name"
chmod 755 "$T"
conf=$T/snapfsd.conf
printf '# only root\nwriters = root\nrequesters = root\n' >"$conf"
start_service SNAPFS_CONFIG="$conf"
chmod 755 "$SNAPFS_RUNTIME_DIR"
as_nobody() {
	runuser -u nobody -- env SNAPFS_RUNTIME_DIR="$SNAPFS_RUNTIME_DIR" SNAPFSD=/nonexistent "$@"
}
rc=0
as_nobody "$SNAPFS" list writers >"$T/out" 2>"$T/err" || rc=$?
check "nobody may not act as a requester (exit $rc)" test "$rc" -ne 0
check "... and is told so: $(cat "$T/err")" \
	grep -qE "user $(id -u nobody) may not act as a requester" "$T/err"
rc=0
as_nobody "$SNAPFS" create "$T" >"$T/out" 2>"$T/err" || rc=$?
check "nobody may not create a set (exit $rc): $(cat "$T/err")" test "$rc" -ne 0
rc=0
as_nobody timeout 10 "$TESTWRITER" --name nobodys >"$T/out" 2>"$T/err" || rc=$?
expect_eq "nobody may not register a writer: testwriter exits 1" 1 "$rc"
check "... and is told so: $(cat "$T/err")" \
	grep -qE "user $(id -u nobody) may not register writers" "$T/err"
check "root still may" "$SNAPFS" list writers -H
"$TESTWRITER" --name rootw 2>"$T/rootw.err" &
rootw=$!
_pids+=("$rootw")
for i in $(seq 50); do
	"$SNAPFS" list writers -H | grep -q "	rootw	" && break
	sleep 0.1
done
check "root may register a writer" bash -c "'$SNAPFS' list writers -H | grep -q '	rootw	'"
kill "$rootw"
wait "$rootw" || true
forget_pid "$rootw"
stop_service

printf 'writers = root\nrequesters = root nobody\n' >"$conf"
start_service SNAPFS_CONFIG="$conf"
chmod 755 "$SNAPFS_RUNTIME_DIR"
rc=0
as_nobody "$SNAPFS" list writers >"$T/out" 2>"$T/err" || rc=$?
expect_eq "once named, nobody may list the writers" "0 " "$rc $(cat "$T/err")"
rc=0
as_nobody timeout 10 "$TESTWRITER" --name nobodys >"$T/out" 2>"$T/err" || rc=$?
expect_eq "... but still not register a writer" 1 "$rc"
stop_service

printf 'requesters = root @%s\n' "$(id -gn nobody)" >"$conf"
start_service SNAPFS_CONFIG="$conf"
chmod 755 "$SNAPFS_RUNTIME_DIR"
rc=0
as_nobody "$SNAPFS" list writers >"$T/out" 2>"$T/err" || rc=$?
expect_eq "a group in 'requesters' admits its members" "0 " "$rc $(cat "$T/err")"
stop_service

# ---- starting on demand -------------------------------------------------------------------------

echo "== on demand"
check "no service runs" test -z "$(coordinator_pids)"
rc=0
"$SNAPFS" list writers >"$T/out" 2>"$T/err" || rc=$?
expect_eq "'snapfs list writers' starts the service" "0 " "$rc $(cat "$T/err")"
pid=$(cat "$SNAPFS_RUNTIME_DIR/snapfsd.lock" 2>/dev/null || true)
expect_eq "its pid is in snapfsd.lock" "$(coordinator_pids | xargs)" "$pid"
check "it runs detached, --on-demand" \
	grep -q -- '--on-demand' <<<"$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
check "its socket is there" test -S "$sock"
check "the next client uses it" "$SNAPFS" list writers -H
expect_eq "... and starts no other" "$pid" "$(coordinator_pids | xargs)"
stop_coordinators
check "it is stopped" test ! -d "/proc/$pid"
# clients racing to start it: one service serves them all
cpids=()
for i in 1 2 3 4 5 6; do
	"$SNAPFS" list writers -H >"$T/race$i.out" 2>"$T/race$i.err" &
	cpids+=("$!")
	_pids+=("$!")
done
bad=""
for i in "${!cpids[@]}"; do
	wait "${cpids[i]}" || bad+=" $((i + 1)):$(cat "$T/race$((i + 1)).err")"
	forget_pid "${cpids[i]}"
done
expect_eq "six clients at once all served" "" "$bad"
expect_eq "by one service" 1 "$(coordinator_pids | wc -l)"
stop_coordinators

# ---- the configuration --------------------------------------------------------------------------

echo "== configuration files"
# bad_config WHAT PATTERN LINES...: snapfsd -f with a file of LINES exits non-zero at once,
# with a message matching PATTERN
bad_config() {
	local what=$1 pattern=$2 rc=0
	shift 2
	printf '%s\n' "$@" >"$T/bad.conf"
	SNAPFS_CONFIG=$T/bad.conf SNAPFS_RUNTIME_DIR=$T/run-bad timeout 10 "$SNAPFSD" -f \
		>"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
		fail "$what: snapfsd exit status $rc"
	elif ! grep -qE -- "$pattern" "$T/err"; then
		fail "$what: message '$(cat "$T/err")' does not match '$pattern'"
	else
		pass "$what (exit $rc): $(cat "$T/err")"
	fi
}
bad_config "a bad value" \
	"configuration '$T/bad.conf', line 3: bad value 'never' for 'hold_timeout'" \
	"# comment" "freeze_timeout = 5" "hold_timeout = never"
bad_config "an unknown key" "configuration '$T/bad.conf', line 2: unknown key 'frobnicate'" \
	"" "frobnicate = 1"
bad_config "no '='" "configuration '$T/bad.conf', line 1: expected 'key = value'" "writers root"
bad_config "an unknown user" "configuration '$T/bad.conf', line 1: unknown user 'no-such-user'" \
	"writers = root no-such-user"
bad_config "an unknown group" \
	"configuration '$T/bad.conf', line 1: unknown group 'no-such-group'" \
	"requesters = @no-such-group"
bad_config "a zero freeze limit" "configuration '$T/bad.conf', line 1: bad value '0'" \
	"freeze_timeout = 0"
rc=0
SNAPFS_CONFIG=$T/missing.conf SNAPFS_RUNTIME_DIR=$T/run-bad timeout 10 "$SNAPFSD" -f \
	2>"$T/err" || rc=$?
check "a missing SNAPFS_CONFIG file is an error (exit $rc): $(cat "$T/err")" \
	bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q \"'$T/missing.conf'\" '$T/err'"
rc=0
SNAPFS_RUNTIME_DIR=$T/run-bad timeout 10 "$SNAPFSD" -f --config "$T/bad.conf" 2>"$T/err" ||
	rc=$?
check "--config too (exit $rc)" grep -q "configuration '$T/bad.conf', line 1" "$T/err"
printf 'freeze_timeout = 2.5 # seconds\nhold_timeout=3\nidle_exit = 0\n' >"$conf"
start_service SNAPFS_CONFIG="$conf"
check "a good file is taken: $(head -1 "$T/snapfsd-$nservice.log")" \
	grep -q "freeze limit 2500 ms, hold limit 3000 ms" "$T/snapfsd-$nservice.log"
rc=0
timeout 10 "$SNAPFSD" -f 2>"$T/err" || rc=$?
check "a second service on the same directory is refused (exit $rc): $(cat "$T/err")" \
	bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'another coordinator serves' '$T/err'"
serving "after the second service"
stop_service

finish
