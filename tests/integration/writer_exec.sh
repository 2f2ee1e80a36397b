#!/bin/bash
# The exec writer end to end, with a coordinator of the test's own: its freeze and thaw commands
# run around each set with the set's id and volumes in their environment; a freeze command that
# fails or hangs past --timeout makes 'snapfs create' fail naming the writer and the cause, no
# snapshot remains, and the thaw command runs all the same (abort), for that writer and for the
# others that had frozen; a freeze slower than the coordinator's limit thaws once it ends; when
# the coordinator dies with the applications frozen, the writers thaw them on their own (at
# once: libsnapfs aborts a frozen writer whose coordinator is gone) and register again when it
# is back; a refused
# registration ends the writer with a message; SIGTERM ends it with status 0.
#
# Environment: SNAPFS, SNAPFSD, WRITER_EXEC (set by meson).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse
: "${SNAPFSD:?SNAPFSD must point at the snapfsd binary}"
: "${WRITER_EXEC:?WRITER_EXEC must point at snapfs-writer-exec}"

# a coordinator of the test's own, which it starts; no client may start another on demand
own_coordinator
# the watchdog (a freeze with no thaw) must not overtake what a case waits for, however slow
export SNAPFS_WRITER_THAW_WAIT=60
reached_end=0

show_logs() {
	local f
	[ "$_failures" -eq 0 ] && [ "$reached_end" -eq 1 ] && return 0
	for f in "$T"/snapfsd.log "$T"/writer-*.log "$T"/calls; do
		[ -s "$f" ] || continue
		echo "---- $(basename "$f")" >&2
		tail -n 40 "$f" >&2
	done
}
at_exit show_logs

# start_writer NAME [OPTIONS...]: an exec writer whose commands are 'hook NAME', logging to
# $T/writer-NAME.log; waits until it is registered. Sets WRITER_PID.
start_writer() {
	local name=$1
	shift
	"$WRITER_EXEC" --name "$name" --freeze "'$T/hook' $name" --thaw "'$T/hook' $name" "$@" \
		2>"$T/writer-$name.log" &
	WRITER_PID=$!
	_pids+=("$WRITER_PID")
	wait_writer "$name" || fail "writer '$name' did not register"
}

# stop_writer PID: SIGTERM, and the writer must exit 0.
stop_writer() {
	local rc=0
	kill "$1"
	wait "$1" || rc=$?
	expect_eq "the writer exits 0 on SIGTERM" 0 "$rc"
}

# wait_for SECONDS COMMAND...: until the command succeeds; false when it never did.
wait_for() {
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# last_set WHO EVENT: the set of WHO's latest EVENT
last_set() {
	awk -v who="$1" -v ev="$2" '$1 == who && $2 == ev { s = $3 } END { print s }' "$T/calls"
}

# calls WHO SET: the events that WHO's hook saw for SET, in order, one word each
calls() {
	awk -v who="$1" -v set="$2" '$1 == who && $3 == set { printf "%s%s", sep, $2; sep = " " }' \
		"$T/calls"
}

nsnaps() {
	"$SNAPFS" list shadows -H "$mnt" | wc -l
}

# hook WHO: what the writers run. Records 'WHO EVENT SET VOLUMES...' in $T/calls, then freeze
# does what $T/mode-WHO says: ok, fail (exit 3 after two lines on stderr), hang, slow (2 s), or
# stop (stops the coordinator, whose pid is in $T/coordinator.pid).
cat >"$T/hook" <<EOF
#!/bin/bash
who=\$1
echo "\$who \$SNAPFS_EVENT \$SNAPFS_SET_ID \$(tr '\n' ' ' <<<"\$SNAPFS_VOLUMES")" >>"$T/calls"
echo "hook \$who: \$SNAPFS_EVENT"
mode=\$(cat "$T/mode-\$who" 2>/dev/null || echo ok)
case "\$SNAPFS_EVENT:\$mode" in
freeze:fail)
	echo "cannot quiesce \$who" >&2
	echo "the application said no" >&2
	exit 3 ;;
freeze:hang)
	echo \$\$ >"$T/hang.pid"
	exec sleep 300 ;;
freeze:slow)
	sleep 2 ;;
freeze:stop)
	kill -STOP "\$(cat "$T/coordinator.pid")" ;;
esac
exit 0
EOF
chmod +x "$T/hook"
touch "$T/calls"

src=$T/src
mnt=$T/mnt
sfs_mount "$src" "$mnt"
start_coordinator
start_writer app
app=$WRITER_PID
start_writer other
other=$WRITER_PID

echo "== freeze and thaw"
line=$("$SNAPFS" create -H "$mnt")
set1=$(cut -f2 <<<"$line")
expect_eq "a set with both writers" 1 "$(nsnaps)"
expect_eq "app froze, then thawed" "freeze thaw" "$(calls app "$set1")"
expect_eq "other too" "freeze thaw" "$(calls other "$set1")"
expect_eq "the commands get the set's volumes" "app freeze $set1 $mnt" \
	"$(grep -m1 "^app freeze $set1" "$T/calls" | sed 's/ *$//')"
check "the commands' output is in the writer's log" grep -q "freeze command (stdout): hook app: freeze" \
	"$T/writer-app.log"
check "... and their success" grep -q "the thaw command succeeded" "$T/writer-app.log"

echo "== a failing freeze command"
echo fail >"$T/mode-app"
before=$(nsnaps)
rc=0
"$SNAPFS" create -H "$mnt" >"$T/out" 2>"$T/err" || rc=$?
check "snapfs create fails" test "$rc" -ne 0
check "... naming the writer and the exit status: $(cat "$T/err")" \
	grep -qE "writer 'app' .*freeze command exited with status 3: the application said no" \
	"$T/err"
expect_eq "... in one line" 1 "$(wc -l <"$T/err")"
expect_eq "no new snapshot" "$before" "$(nsnaps)"
set2=$(last_set app freeze)
check "the failed freeze was of a new set" test "$set2" != "$set1"
expect_eq "app's thaw command ran at abort" "freeze thaw" "$(calls app "$set2")"
expect_eq "other, which had frozen, thawed too" "freeze thaw" "$(calls other "$set2")"
check "list writers shows the error" \
	grep -qE "	app	stable	freeze: freeze command exited with status 3" \
	<<<"$("$SNAPFS" list writers -H)"

echo "== a hanging freeze command"
stop_writer "$app"
echo hang >"$T/mode-app"
start_writer app --timeout 1
app=$WRITER_PID
before=$(nsnaps)
start=$(date +%s%N)
rc=0
"$SNAPFS" create -H "$mnt" >"$T/out" 2>"$T/err" || rc=$?
took=$((($(date +%s%N) - start) / 1000000))
check "snapfs create fails" test "$rc" -ne 0
check "... naming the writer and the timeout: $(cat "$T/err")" \
	grep -qE "writer 'app' .*freeze command timed out after 1 s" "$T/err"
check "... soon ($took ms)" test "$took" -lt 10000
expect_eq "no new snapshot" "$before" "$(nsnaps)"
hang=$(cat "$T/hang.pid")
state=$(ps -o stat= -p "$hang" || true)
check "the hanging command was killed" test -z "$state" -o "${state:0:1}" == Z
set3=$(last_set app freeze)
expect_eq "app's thaw command ran at abort" "freeze thaw" "$(calls app "$set3")"

echo "== a freeze slower than the coordinator's limit"
# back to the writer's default limit for its command: only the coordinator's is near 1 s
stop_writer "$app"
start_writer app
app=$WRITER_PID
echo slow >"$T/mode-app"
rc=0
"$SNAPFS" create -H --freeze-timeout 1 "$mnt" >"$T/out" 2>"$T/err" || rc=$?
check "snapfs create fails" test "$rc" -ne 0
check "... naming the writer: $(cat "$T/err")" \
	grep -qE "writer 'app' .*failed in freeze: no answer within 1000 ms" "$T/err"
set4=$(last_set app freeze)
app_thawed() {
	[ "$(calls app "$set4")" == "freeze thaw" ]
}
check "app thaws once its freeze command has ended" wait_for 5 app_thawed

echo "== the coordinator dies while the applications are frozen"
echo "$SNAPFSD_PID" >"$T/coordinator.pid"
echo stop >"$T/mode-app"
"$SNAPFS" create -H "$mnt" >"$T/out" 2>"$T/err" &
creator=$!
_pids+=("$creator")
stopped_coordinator() {
	[ "$(ps -o stat= -p "$SNAPFSD_PID" | cut -c1)" == T ]
}
check "app's freeze stopped the coordinator" wait_for 10 stopped_coordinator
set5=$(last_set app freeze)
both_answered() {
	grep -q "set '$set5': the freeze command succeeded" "$T/writer-app.log" &&
		grep -q "set '$set5': the freeze command succeeded" "$T/writer-other.log"
}
check "both writers froze" wait_for 10 both_answered
kill -KILL "$SNAPFSD_PID"
stop_coordinator
rc=0
wait "$creator" || rc=$?
check "snapfs create fails" test "$rc" -ne 0
both_thawed() {
	[ "$(calls app "$set5")/$(calls other "$set5")" == "freeze thaw/freeze thaw" ]
}
check "both writers thaw on their own" wait_for 10 both_thawed
check "... as soon as the coordinator is gone" grep -q "set '$set5' aborted: thawing" \
	"$T/writer-app.log"
rm -f "$T/mode-app"
start_coordinator
both_registered() {
	local list
	list=$("$SNAPFS" list writers -H)
	grep -q "	app	" <<<"$list" && grep -q "	other	" <<<"$list"
}
check "both writers register again within 5 s of its restart" wait_for 5 both_registered
line=$("$SNAPFS" create -H "$mnt")
set6=$(cut -f2 <<<"$line")
expect_eq "... and take part in the next set" "freeze thaw/freeze thaw" \
	"$(calls app "$set6")/$(calls other "$set6")"

echo "== a coordinator restart"
stop_coordinator
sleep 1.5
start_coordinator
check "both writers register again within 5 s" wait_for 5 both_registered
line=$("$SNAPFS" create -H "$mnt")
set7=$(cut -f2 <<<"$line")
expect_eq "... and take part in the next set" "freeze thaw/freeze thaw" \
	"$(calls app "$set7")/$(calls other "$set7")"

echo "== refusals"
rc=0
"$WRITER_EXEC" --name "bad name" --freeze true --thaw true 2>"$T/err" || rc=$?
check "a bad name is refused" test "$rc" -ne 0
check "... saying why: $(cat "$T/err")" grep -q "bad writer name 'bad name'" "$T/err"
rc=0
"$WRITER_EXEC" --freeze true 2>"$T/err" || rc=$?
check "--thaw is needed" test "$rc" -ne 0 -a -s "$T/err"
rc=0
"$WRITER_EXEC" --freeze true --thaw true --timeout 0 2>"$T/err" || rc=$?
check "--timeout 0 is refused" grep -q "bad --timeout '0'" "$T/err"
stop_writer "$app"
stop_writer "$other"
stop_coordinator
echo "writers = 4242" >"$T/deny.conf"
start_coordinator --config "$T/deny.conf"
rc=0
timeout 20 "$WRITER_EXEC" --name denied --freeze true --thaw true 2>"$T/err" || rc=$?
expect_eq "a writer the coordinator refuses exits 1" 1 "$rc"
check "... saying why: $(tail -1 "$T/err")" \
	grep -q "writer 'denied' refused by the coordinator: user 0 may not register writers" \
	"$T/err"
stop_coordinator

sfs_umount "$mnt"
reached_end=1
finish
