#!/bin/bash
# Snapshot sets over several volumes through the coordinator: 'snapfs create MNT...' with
# writers (the testwriter helper) that succeed, fail, hang or see a volume go away or the
# requester die mid-sequence. After every case: the command's exit status and message, the
# snapshot count of every volume (a failed set leaves none behind), every volume writable
# again, the writers back to 'stable' with the cause in the last error of the one that failed,
# and the events each writer received, in order.
#
# Eight volumes (two with writes from applications that are no writers going on all along):
#   a  a set of all eight with two writers; the snapshots' content; --bcd
#   b  a writer fails in freeze          c  a writer hangs in freeze past --freeze-timeout
#   d  a volume unmounted mid-sequence   e  the requester killed mid-sequence
#   f  refused sets: a volume twice, no volume, 65 volumes
#   g  four sets of disjoint pairs at once, then two that share a volume, then a set right
#      after a snapshot of one of its volumes
#   h  failures in thaw and post-snapshot, the hold limit, a writer that dies, a BCD that
#      cannot be written, an excluded writer
#   i  the service stopped (SIGTERM) while a set is under way, eight rounds (a race)
#   j  the service killed (SIGKILL) after the commits: the next one deletes the set
#
# Environment: SNAPFS, SNAPFSD (the coordinator, which the test starts and stops itself, in the
# runtime directory lib.sh gives it), TESTWRITER.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_fuse
: "${SNAPFSD:?SNAPFSD must point at the snapfsd binary}"
: "${TESTWRITER:?TESTWRITER must point at the testwriter binary}"

NVOL=8

# ---- helpers ------------------------------------------------------------------------------------

# now_ms: milliseconds of the wall clock
now_ms() {
	date +%s%3N
}

# nsnaps MNT: how many snapshots MNT has
nsnaps() {
	"$SNAPFS" list shadows -H "$1" | wc -l
}

# run_create NAME ARGS...: 'snapfs create ARGS' with stdout in $T/NAME.out, stderr in
# $T/NAME.err; sets rc and elapsed (ms).
run_create() {
	local name=$1 start
	shift
	start=$(now_ms)
	rc=0
	"$SNAPFS" create "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	elapsed=$(($(now_ms) - start))
}

# expect_refused DESCRIPTION NAME PATTERN: the create run as NAME failed with one line on stderr
# matching PATTERN (grep -E) and printed nothing on stdout
expect_refused() {
	local what=$1 name=$2 pattern=$3
	if [ "$rc" -eq 0 ]; then
		fail "$what: exit status 0 (stdout: $(cat "$T/$name.out"))"
	elif [ "$(wc -l <"$T/$name.err")" -ne 1 ]; then
		fail "$what: expected one line on stderr, got: $(cat "$T/$name.err")"
	elif ! grep -qE -- "$pattern" "$T/$name.err"; then
		fail "$what: message '$(cat "$T/$name.err")' does not match '$pattern'"
	elif [ -s "$T/$name.out" ]; then
		fail "$what: printed on stdout: $(cat "$T/$name.out")"
	else
		pass "$what (exit $rc): $(cat "$T/$name.err")"
	fi
}

# expected snapshot count of each volume
want_snaps=()

# check_counts CASE: every volume has the snapshots it should
check_counts() {
	local i n bad=""
	for ((i = 1; i <= NVOL; i++)); do
		n=$(nsnaps "${mnt[i]}")
		[ "$n" -eq "${want_snaps[$i]}" ] || bad+=" vol$i:$n(want ${want_snaps[$i]})"
	done
	if [ -z "$bad" ]; then
		pass "$1: snapshot count of every volume as expected"
	else
		fail "$1: snapshot counts:$bad"
	fi
}

# check_writable CASE: a file written (and synced) on every volume reads back. A volume whose
# writes are still held would block the fsync: 'timeout' turns that into a failure.
check_writable() {
	local i f bad=""
	for ((i = 1; i <= NVOL; i++)); do
		f=${mnt[i]}/written-$1
		if ! printf '%s %s\n' "$1" "$i" | timeout 10 dd of="$f" conv=fsync status=none ||
			[ "$(cat "$f" 2>/dev/null)" != "$1 $i" ]; then
			bad+=" vol$i"
		fi
	done
	if [ -z "$bad" ]; then
		pass "$1: every volume writable"
	else
		fail "$1: not writable:$bad"
	fi
}

# The testwriters of the current case, by name, and their pids.
declare -A wpid=()
writers=()

# start_writer NAME ARGS...: a testwriter named NAME logging to $T/NAME.log
start_writer() {
	local name=$1
	shift
	"$TESTWRITER" --name "$name" --log "$T/$name.log" --path "${src[1]}" "$@" \
		2>>"$T/$name.stderr" &
	wpid[$name]=$!
	_pids+=("$!")
	writers+=("$name")
}

# writer_field NAME N: field N (1 id, 2 name, 3 state, 4 last error) of writer NAME in
# 'snapfs list writers -H'
writer_field() {
	"$SNAPFS" list writers -H | awk -F'\t' -v n="$1" -v f="$2" '$2 == n { print $f }'
}

# wait_writers: every writer started is registered and stable, or a failure after 10 s
wait_writers() {
	local i name ok
	for i in $(seq 100); do
		ok=1
		for name in "${writers[@]}"; do
			[ "$(writer_field "$name" 3)" == stable ] || ok=0
		done
		[ "$ok" -eq 0 ] || return 0
		sleep 0.1
	done
	fail "writers ${writers[*]} did not register: $("$SNAPFS" list writers -H 2>&1)"
	return 1
}

# stop_writers: stop the writers of the case and wait until the coordinator lists none
stop_writers() {
	local name i
	for name in "${writers[@]}"; do
		kill "${wpid[$name]}" 2>/dev/null || true
		wait "${wpid[$name]}" 2>/dev/null || true
		forget_pid "${wpid[$name]}"
	done
	writers=()
	wpid=()
	for i in $(seq 50); do
		[ -n "$("$SNAPFS" list writers -H)" ] || return 0
		sleep 0.1
	done
	fail "writers still listed after they exited: $("$SNAPFS" list writers -H)"
}

# events NAME: the events writer NAME logged, identify left out, on one line
events() {
	grep -v '^identify ' "$T/$1.log" 2>/dev/null | cut -d' ' -f1 | xargs
}

# set_ids NAME: the distinct set ids in writer NAME's log (identify left out)
set_ids() {
	grep -v '^identify ' "$T/$1.log" 2>/dev/null | cut -d' ' -f2 | sort -u | xargs
}

# check_writers CASE FAILED CAUSE: every writer is stable; the last error of writer FAILED
# (none: "") matches CAUSE, the others' is empty
check_writers() {
	local what=$1 failed=$2 cause=$3 name state err
	for name in "${writers[@]}"; do
		state=$(writer_field "$name" 3)
		err=$(writer_field "$name" 4)
		expect_eq "$what: writer $name back to stable" stable "$state"
		if [ "$name" == "$failed" ]; then
			if grep -qE -- "$cause" <<<"$err"; then
				pass "$what: writer $name's last error: $err"
			else
				fail "$what: writer $name's last error '$err'" \
					"does not match '$cause'"
			fi
		else
			expect_eq "$what: writer $name has no error of its own" "" "$err"
		fi
	done
}

# wait_for_event NAME EVENT SECONDS: wait until writer NAME logged EVENT
wait_for_event() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "^$2 " "$T/$1.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

declare -A duration=()
all_events="prepare-backup prepare-snapshot freeze thaw post-snapshot backup-complete"

# ---- set-up -------------------------------------------------------------------------------------

own_coordinator
start_coordinator

src=()
mnt=()
for ((i = 1; i <= NVOL; i++)); do
	src[i]=$T/src$i
	mnt[i]=$T/mnt$i
	mkdir -p "${src[i]}/dir"
	head -c 300k /dev/urandom >"${src[i]}/data"
	echo "small file of volume $i" >"${src[i]}/dir/small"
	sfs_mount "${src[i]}" "${mnt[i]}"
	want_snaps[i]=0
done

# writes from applications that are no writers go on all the time on volumes 1 and 2
for i in 1 2; do
	(
		n=0
		while :; do
			dd if=/dev/urandom of="${mnt[i]}/load" bs=4k count=16 \
				seek=$((n % 64 * 16)) conv=notrunc status=none 2>/dev/null || true
			n=$((n + 1))
			sleep 0.02
		done
	) &
	_pids+=("$!")
done

all_mnts=("${mnt[@]:1}")
expect_eq "no writer at first" "" "$("$SNAPFS" list writers -H)"

# ---- a. success ---------------------------------------------------------------------------------

echo "== a. a set of $NVOL volumes with two writers"
start=$(now_ms)
start_writer a1
start_writer a2
wait_writers
declare -A before=()
for ((i = 1; i <= NVOL; i++)); do
	before[$i]="before the set, volume $i, $RANDOM$RANDOM"
	printf '%s\n' "${before[$i]}" >"${mnt[i]}/marked"
done
run_create a -H --bcd "$T/a.bcd" "${all_mnts[@]}"
expect_eq "a: exit status" 0 "$rc"
expect_eq "a: nothing on stderr" "" "$(cat "$T/a.err")"
expect_eq "a: one line per volume" "$NVOL" "$(wc -l <"$T/a.out")"
expect_eq "a: four fields per line" 4 "$(awk -F'\t' '{ print NF }' "$T/a.out" | sort -u | xargs)"
expect_eq "a: the volumes in order" "${all_mnts[*]}" "$(cut -f4 "$T/a.out" | xargs)"
set_a=$(cut -f2 "$T/a.out" | sort -u | xargs)
check "a: every snapshot in one set ($set_a)" grep -qE '^[0-9a-f-]{36}$' <<<"$set_a"
for ((i = 1; i <= NVOL; i++)); do
	want_snaps[i]=1
done
check_counts a
for ((i = 1; i <= NVOL; i++)); do
	row=$(awk -F'\t' -v m="${mnt[i]}" '$4 == m' "$T/a.out")
	listed=$("$SNAPFS" list shadows -H "${mnt[i]}")
	expect_eq "a: volume $i lists the snapshot create printed" \
		"$(cut -f1,2 <<<"$row")" "$(cut -f1,2 <<<"$listed")"
done
check_writable a
# what was written before the set is in every snapshot, what comes after is not
for ((i = 1; i <= NVOL; i++)); do
	echo "after the set" >"${mnt[i]}/marked"
done
bad=""
for ((i = 1; i <= NVOL; i++)); do
	browse=$(awk -F'\t' -v m="${mnt[i]}" '$4 == m { print $3 }' "$T/a.out")
	snapdir=${mnt[i]}/.snapshots/$browse
	[ "$(cat "$snapdir/marked" 2>&1)" == "${before[$i]}" ] || bad+=" vol$i:marked"
	[ "$(cat "$snapdir/dir/small" 2>&1)" == "small file of volume $i" ] || bad+=" vol$i:small"
	cmp -s "$snapdir/data" "${src[i]}/data" || bad+=" vol$i:data"
	[ "$(cat "${mnt[i]}/marked")" == "after the set" ] || bad+=" vol$i:live"
done
expect_eq "a: each snapshot holds what was written before the set" "" "$bad"
for w in a1 a2; do
	expect_eq "a: writer $w got every event, in order" \
		"$all_events" "$(events "$w")"
	expect_eq "a: writer $w got them for the set" "$set_a" "$(set_ids "$w")"
done
check_writers a "" ""
check "a: the BCD is well-formed XML" xmllint --noout "$T/a.bcd"
bad=""
for ((i = 1; i <= NVOL; i++)); do
	grep -qF "volume=\"${mnt[i]}\"" "$T/a.bcd" || bad+=" vol$i"
done
expect_eq "a: the BCD names every volume" "" "$bad"
check "a: the BCD names the set" grep -qF "set=\"$set_a\"" "$T/a.bcd"
check "a: the BCD names both writers" \
	bash -c "grep -q 'name=\"a1\"' '$T/a.bcd' && grep -q 'name=\"a2\"' '$T/a.bcd'"
stop_writers
duration[a]=$(($(now_ms) - start))

# ---- b. a writer fails in freeze ----------------------------------------------------------------

echo "== b. a writer fails in freeze"
start=$(now_ms)
start_writer b1 --fail-in freeze
start_writer b2
wait_writers
run_create b "${all_mnts[@]}"
expect_refused "b: the set fails naming the writer and the event" b \
	"writer 'b1' .*freeze.*told to fail in freeze"
check_counts b
check_writable b
check_writers b b1 "freeze.*told to fail in freeze"
for w in b1 b2; do
	expect_eq "b: writer $w got abort after the failure" \
		"prepare-backup prepare-snapshot freeze abort" "$(events "$w")"
	check "b: writer $w's events were of one set" \
		grep -qE '^[0-9a-f-]{36}$' <<<"$(set_ids "$w")"
done
stop_writers
duration[b]=$(($(now_ms) - start))

# ---- c. a writer hangs in freeze past the limit --------------------------------------------------

echo "== c. a writer hangs in freeze past --freeze-timeout"
start=$(now_ms)
start_writer c1 --hang-in freeze 6
start_writer c2
wait_writers
run_create c --freeze-timeout 2 "${all_mnts[@]}"
expect_refused "c: the set fails: no answer in time" c \
	"writer 'c1' .*freeze.*no answer within 2000 ms"
# 2 s for the freeze, then up to 2 s more for the hanging writer to answer abort
check "c: it failed after the limit, within 2-4 s (took $elapsed ms)" \
	test "$elapsed" -ge 2000 -a "$elapsed" -le 5000
check_counts c
check_writable c
check_writers c c1 "freeze.*no answer within 2000 ms"
check "c: the hanging writer gets abort once it wakes" wait_for_event c1 abort 10
for w in c1 c2; do
	expect_eq "c: writer $w got abort" "prepare-backup prepare-snapshot freeze abort" \
		"$(events "$w")"
done
check_writers "c, after the writer woke" c1 "freeze.*no answer within 2000 ms"
stop_writers
duration[c]=$(($(now_ms) - start))

# ---- d. a volume is unmounted mid-sequence ------------------------------------------------------

echo "== d. volume 5 unmounted while the writers prepare"
start=$(now_ms)
start_writer d1 --hang-in prepare-snapshot 60
start_writer d2
wait_writers
"$SNAPFS" create "${all_mnts[@]}" >"$T/d.out" 2>"$T/d.err" &
create_pid=$!
_pids+=("$create_pid")
wait_for_event d1 prepare-snapshot 10 || fail "d: writer d1 got no prepare-snapshot"
daemon5=${_daemon_of[${mnt[5]}]}
sfs_umount "${mnt[5]}"
forget_pid "$daemon5"
check "d: volume 5 is unmounted while the set is under way" \
	bash -c "! mountpoint -q '${mnt[5]}' && kill -0 $create_pid"
kill -USR1 "${wpid[d1]}" # the writer's hang ends: the set goes on
rc=0
wait "$create_pid" || rc=$?
forget_pid "$create_pid"
expect_refused "d: the set fails naming volume 5" d "volume '${mnt[5]}'"
want_snaps[5]=0 # counted while it is unmounted: SRC's catalog is out of reach
for ((i = 1; i <= NVOL; i++)); do
	[ "$i" -eq 5 ] || [ "$(nsnaps "${mnt[i]}")" -eq "${want_snaps[$i]}" ] ||
		fail "d: volume $i has $(nsnaps "${mnt[i]}") snapshots, want ${want_snaps[$i]}"
done
sfs_mount "${src[5]}" "${mnt[5]}"
want_snaps[5]=1
check_counts d
check_writable d
check_writers d "" ""
for w in d1 d2; do
	expect_eq "d: writer $w got abort" "prepare-backup prepare-snapshot freeze abort" \
		"$(events "$w")"
done
stop_writers
duration[d]=$(($(now_ms) - start))

# ---- e. the requester is killed mid-sequence ----------------------------------------------------

echo "== e. the requester killed while a writer is in freeze"
start=$(now_ms)
start_writer e1 --hang-in freeze 60
start_writer e2
wait_writers
"$SNAPFS" create "${all_mnts[@]}" >"$T/e.out" 2>"$T/e.err" &
create_pid=$!
_pids+=("$create_pid")
wait_for_event e1 freeze 10 || fail "e: writer e1 got no freeze"
kill -9 "$create_pid"
rc=0
wait "$create_pid" 2>/dev/null || rc=$?
forget_pid "$create_pid"
expect_eq "e: the requester was killed" 137 "$rc"
# the writer, released, answers; the coordinator then finds its requester gone and aborts
kill -USR1 "${wpid[e1]}"
check "e: the writers get abort" wait_for_event e1 abort 10
check "e: the other writer gets abort" wait_for_event e2 abort 10
wait_writers
check_counts e
check_writable e
check_writers e "" ""
for w in e1 e2; do
	expect_eq "e: writer $w got abort" "prepare-backup prepare-snapshot freeze abort" \
		"$(events "$w")"
done
stop_writers
duration[e]=$(($(now_ms) - start))

# ---- f. refused sets ----------------------------------------------------------------------------

echo "== f. refused sets"
start=$(now_ms)
start_writer f1
wait_writers
run_create f1 "${mnt[1]}" "${mnt[2]}" "${mnt[1]}"
expect_refused "f: a volume twice" f1 "volume '${mnt[1]}' is in the set already"
run_create f2 "${mnt[1]}" "$T/mnt1/dir"
expect_refused "f: a directory that is no volume" f2 \
	"'$T/mnt1/dir' is not a (snapfs mount|mounted snapfs volume)"
many=()
for ((i = 0; i < 65; i++)); do
	many+=("${mnt[i % NVOL + 1]}")
done
run_create f3 "${many[@]}"
expect_refused "f: 65 volumes" f3 "at most 64 volumes"
check_counts f
expect_eq "f: the writer got no event of a refused set" "" "$(events f1)"
check_writers f "" ""
stop_writers
duration[f]=$(($(now_ms) - start))

# ---- g. concurrent sets -------------------------------------------------------------------------

echo "== g. four sets of disjoint pairs at once"
start=$(now_ms)
start_writer g1
start_writer g2
wait_writers
gpids=()
for p in 0 1 2 3; do
	"$SNAPFS" create -H "${mnt[2 * p + 1]}" "${mnt[2 * p + 2]}" >"$T/g$p.out" \
		2>"$T/g$p.err" &
	gpids[p]=$!
	_pids+=("$!")
done
sets=()
for p in 0 1 2 3; do
	rc=0
	wait "${gpids[p]}" || rc=$?
	forget_pid "${gpids[p]}"
	expect_eq "g: set $p succeeds" "0 " "$rc $(cat "$T/g$p.err")"
	expect_eq "g: set $p has its two volumes" "${mnt[2 * p + 1]} ${mnt[2 * p + 2]}" \
		"$(cut -f4 "$T/g$p.out" | xargs)"
	ids=$(cut -f2 "$T/g$p.out" | sort -u | xargs)
	check "g: set $p is one set ($ids)" grep -qE '^[0-9a-f-]{36}$' <<<"$ids"
	sets+=("$ids")
	want_snaps[2 * p + 1]=$((want_snaps[2 * p + 1] + 1))
	want_snaps[2 * p + 2]=$((want_snaps[2 * p + 2] + 1))
done
expect_eq "g: four distinct sets" 4 "$(printf '%s\n' "${sets[@]}" | sort -u | wc -l)"
check_counts g
for ((i = 1; i <= NVOL; i++)); do
	p=$(((i - 1) / 2))
	newest=$("$SNAPFS" list shadows -H "${mnt[i]}" | tail -1 | cut -f2)
	expect_eq "g: volume $i's newest snapshot is in set $p" "${sets[p]}" "$newest"
done
check_writable g
for w in g1 g2; do
	for p in 0 1 2 3; do
		expect_eq "g: writer $w got set $p's events in order" "$all_events" \
			"$(grep " ${sets[p]}\$" "$T/$w.log" | cut -d' ' -f1 | xargs)"
	done
done
check_writers g "" ""
# two sets that share volume 1, at once: one after the other, both whole
"$SNAPFS" create -H "${mnt[1]}" "${mnt[2]}" >"$T/g4.out" 2>"$T/g4.err" &
gpids[4]=$!
_pids+=("$!")
"$SNAPFS" create -H "${mnt[1]}" "${mnt[3]}" >"$T/g5.out" 2>"$T/g5.err" &
gpids[5]=$!
_pids+=("$!")
for p in 4 5; do
	rc=0
	wait "${gpids[p]}" || rc=$?
	forget_pid "${gpids[p]}"
	expect_eq "g: overlapping set $p succeeds" "0 " "$rc $(cat "$T/g$p.err")"
	expect_eq "g: overlapping set $p is one set of two snapshots" "2 1" \
		"$(wc -l <"$T/g$p.out") $(cut -f2 "$T/g$p.out" | sort -u | wc -l)"
done
check "g: the overlapping sets are distinct" \
	test "$(cut -f2 "$T/g4.out" | head -1)" != "$(cut -f2 "$T/g5.out" | head -1)"
want_snaps[1]=$((want_snaps[1] + 2))
want_snaps[2]=$((want_snaps[2] + 1))
want_snaps[3]=$((want_snaps[3] + 1))
check_counts "g (overlapping)"
check_writers "g (overlapping)" "" ""
# a set right after a snapshot of one of its volumes, in the same second: it waits for the next
# second (browse names are per second) before the writers freeze, not with the gates closed
start_writer g3 --log-times
wait_writers
run_create g6 -H "${mnt[3]}"
expect_eq "g: a snapshot of volume 3" "0 " "$rc $(cat "$T/g6.err")"
run_create g7 -H "${mnt[3]}" "${mnt[4]}"
expect_eq "g: a set of volumes 3 and 4 right after it" "0 " "$rc $(cat "$T/g7.err")"
browse=$(cut -f3 "$T/g6.out")
when=${browse#@GMT-} # YYYY.MM.DD-HH.MM.SS
day=${when%%-*}
when=${when#*-}
snap_s=$(date -u -d "${day//./-} ${when//./:}" +%s)
freeze_ns=$(awk -v s="$(cut -f2 "$T/g7.out" | head -1)" '$1 == "freeze" && $2 == s { print $3 }' \
	"$T/g3.log")
check "g: the set's freeze ($freeze_ns ns) came in a second after the snapshot ($browse)" \
	test "${freeze_ns:-0}" -ge "$(((snap_s + 1) * 1000000000))"
want_snaps[3]=$((want_snaps[3] + 2))
want_snaps[4]=$((want_snaps[4] + 1))
check_counts "g (one second)"
stop_writers
duration[g]=$(($(now_ms) - start))

# ---- h. later failures, the hold limit, a writer that dies, an excluded writer --------------

echo "== h. a writer fails in thaw"
start=$(now_ms)
start_writer h1 --fail-in thaw
start_writer h2
wait_writers
run_create h1 "${all_mnts[@]}"
expect_refused "h: the set fails naming the writer and thaw" h1 \
	"writer 'h1' .*thaw.*told to fail in thaw"
check_counts "h (thaw)"
check_writable "h-thaw"
check_writers "h (thaw)" h1 "thaw.*told to fail in thaw"
for w in h1 h2; do
	expect_eq "h: writer $w got abort after thaw" \
		"prepare-backup prepare-snapshot freeze thaw abort" "$(events "$w")"
done
stop_writers

echo "== h. a writer fails in post-snapshot"
start_writer h3 --fail-in post-snapshot
start_writer h4
wait_writers
run_create h3 "${all_mnts[@]}"
expect_refused "h: the set fails naming the writer and post-snapshot" h3 \
	"writer 'h3' .*post-snapshot.*told to fail in post-snapshot"
check_counts "h (post-snapshot)"
check_writable "h-post"
check_writers "h (post-snapshot)" h3 "post-snapshot.*told to fail in post-snapshot"
for w in h3 h4; do
	expect_eq "h: writer $w got abort after post-snapshot" \
		"prepare-backup prepare-snapshot freeze thaw post-snapshot abort" "$(events "$w")"
done
stop_writers

echo "== h. the write hold passes its limit"
# A hold is usually shorter than any limit a user would set. Here a stuck client holds the last
# volume's control socket (connected while the writer is in freeze, silent for 1.5 s), so that
# volume's gate closes long after the others'; the set must fail on its 20 ms limit.
start_writer h5 --hang-in freeze 60
wait_writers
"$SNAPFS" create --hold-timeout 0.02 "${all_mnts[@]}" >"$T/h5.out" 2>"$T/h5.err" &
create_pid=$!
_pids+=("$create_pid")
wait_for_event h5 freeze 10 || fail "h: writer h5 got no freeze"
stuck_client "${src[NVOL]}/.snapfs/control" 1.5
kill -USR1 "${wpid[h5]}"
rc=0
wait "$create_pid" || rc=$?
forget_pid "$create_pid"
wait "$STUCK_PID" || true
forget_pid "$STUCK_PID"
expect_refused "h: a hold longer than --hold-timeout fails the set" h5 "hold.*limit of 20 ms"
check_counts "h (hold limit)"
check_writable "h-hold"
check_writers "h (hold limit)" "" ""
expect_eq "h: the writer got abort after the hold" "prepare-backup prepare-snapshot freeze abort" \
	"$(events h5)"
stop_writers

echo "== h. a writer dies in freeze"
start_writer h6 --hang-in freeze 30
start_writer h7
wait_writers
"$SNAPFS" create "${all_mnts[@]}" >"$T/h6.out" 2>"$T/h6.err" &
create_pid=$!
_pids+=("$create_pid")
wait_for_event h6 freeze 10 || fail "h: writer h6 got no freeze"
kill -9 "${wpid[h6]}"
wait "${wpid[h6]}" 2>/dev/null || true
forget_pid "${wpid[h6]}"
unset "wpid[h6]"
writers=(h7)
rc=0
wait "$create_pid" || rc=$?
forget_pid "$create_pid"
expect_refused "h: the set fails naming the writer that went away" h6 \
	"writer 'h6' .*freeze.*went away"
check_counts "h (writer died)"
check_writable "h-died"
expect_eq "h: the other writer got abort" "prepare-backup prepare-snapshot freeze abort" \
	"$(events h7)"
expect_eq "h: the dead writer is no longer listed" "" "$(writer_field h6 2)"
check_writers "h (writer died)" "" ""
stop_writers

echo "== h. the BCD cannot be written"
start_writer h10
wait_writers
run_create h10 --bcd "$T/no-such-dir/set.bcd" "${all_mnts[@]}"
expect_refused "h: a BCD that cannot be written fails the set" h10 \
	"cannot write the backup components document '$T/no-such-dir/set.bcd'"
check_counts "h (BCD)"
check_writers "h (BCD)" "" ""
expect_eq "h: the writer got abort after post-snapshot" \
	"prepare-backup prepare-snapshot freeze thaw post-snapshot abort" "$(events h10)"
stop_writers

echo "== h. an excluded writer"
start_writer h8 --fail-in freeze
start_writer h9
wait_writers
run_create h8 -H --exclude-writer h8 "${mnt[1]}"
expect_eq "h: the set succeeds without the excluded writer" "0 " "$rc $(cat "$T/h8.err")"
want_snaps[1]=$((want_snaps[1] + 1))
check_counts "h (excluded)"
expect_eq "h: the excluded writer got no event" "" "$(events h8)"
expect_eq "h: the other writer got every event" \
	"$all_events" "$(events h9)"
check_writers "h (excluded)" "" ""
stop_writers
duration[h]=$(($(now_ms) - start))

# ---- i. the service stops mid-set ---------------------------------------------------------------

# SIGTERM to snapfsd while a set is under way (a writer in post-snapshot): it may finish the
# set or abandon it, but what the requester is told must be true. A race, so a few rounds.
echo "== i. the service stops while a set is under way"
start=$(now_ms)
for round in 1 2 3 4 5 6 7 8; do
	start_writer "i$round" --hang-in post-snapshot 1
	wait_writers
	"$SNAPFS" create -H "${mnt[7]}" "${mnt[8]}" >"$T/i$round.out" 2>"$T/i$round.err" &
	create_pid=$!
	_pids+=("$create_pid")
	wait_for_event "i$round" post-snapshot 10 || fail "i: writer i$round got no post-snapshot"
	stop_coordinator
	rc=0
	wait "$create_pid" || rc=$?
	forget_pid "$create_pid"
	# the writer must not start a coordinator of its own before the next one starts
	kill "${wpid[i$round]}"
	wait "${wpid[i$round]}" || true
	forget_pid "${wpid[i$round]}"
	writers=()
	wpid=()
	n7=$(nsnaps "${mnt[7]}")
	n8=$(nsnaps "${mnt[8]}")
	if [ "$rc" -eq 0 ]; then
		want_snaps[7]=$((want_snaps[7] + 1))
		want_snaps[8]=$((want_snaps[8] + 1))
	fi
	expect_eq "i: round $round: told exit $rc ($(head -c 160 "$T/i$round.err")), the volumes" \
		"${want_snaps[7]} ${want_snaps[8]}" "$n7 $n8"
	want_snaps[7]=$n7
	want_snaps[8]=$n8
	start_coordinator
done
duration[i]=$(($(now_ms) - start))

# SIGKILL to snapfsd after the volumes committed, before the requester has its answer (the
# writer hangs in thaw): no set may be left that nobody was told of. The next service to start
# finds the set's record and deletes its snapshots.
echo "== j. the service killed after the commits: the next one deletes the set"
start=$(now_ms)
start_writer j --hang-in thaw 60
wait_writers
"$SNAPFS" create -H "${mnt[7]}" "${mnt[8]}" >"$T/j.out" 2>"$T/j.err" &
create_pid=$!
_pids+=("$create_pid")
wait_for_event j thaw 10 || fail "j: writer j got no thaw"
expect_eq "j: both volumes hold the set's snapshots" \
	"$((want_snaps[7] + 1)) $((want_snaps[8] + 1))" "$(nsnaps "${mnt[7]}") $(nsnaps "${mnt[8]}")"
set_j=$(set_ids j)
check "j: the set is recorded while it is created" test -f "$SNAPFS_STATE_DIR/sets/$set_j"
kill -KILL "$SNAPFSD_PID"
stop_coordinator
rc=0
wait "$create_pid" || rc=$?
forget_pid "$create_pid"
check "j: the requester is told it failed ($(head -c 160 "$T/j.err"))" test "$rc" -ne 0
kill -USR1 "${wpid[j]}"
stop_writers
check "j: the record stays while no service runs" test -f "$SNAPFS_STATE_DIR/sets/$set_j"
start_coordinator
# it deletes them once it serves, before any create it is asked for
for i in $(seq 100); do
	[ "$(nsnaps "${mnt[7]}") $(nsnaps "${mnt[8]}")" != "${want_snaps[7]} ${want_snaps[8]}" ] ||
		break
	sleep 0.1
done
expect_eq "j: the next service deleted the set's snapshots" "${want_snaps[7]} ${want_snaps[8]}" \
	"$(nsnaps "${mnt[7]}") $(nsnaps "${mnt[8]}")"
# a create waits for that: then its record is gone too, and the log says so
run_create j1 -H "${mnt[1]}"
want_snaps[1]=$((want_snaps[1] + 1))
check "j: ... and its record" test ! -e "$SNAPFS_STATE_DIR/sets/$set_j"
said="set '$set_j' was left unfinished by a coordinator that stopped: 2 snapshot(s) deleted"
check "j: ... and said so" grep -qF "$said" "$T/snapfsd.log"
# a set the requester was told of survives the next start
run_create j2 -H "${mnt[7]}" "${mnt[8]}"
expect_eq "j: a set afterwards: exit status ($(cat "$T/j2.err"))" 0 "$rc"
want_snaps[7]=$((want_snaps[7] + 1))
want_snaps[8]=$((want_snaps[8] + 1))
check "j: ... leaves no record" test -z "$(ls -A "$SNAPFS_STATE_DIR/sets")"
stop_coordinator
start_coordinator
run_create j3 -H "${mnt[1]}"
want_snaps[1]=$((want_snaps[1] + 1))
check_counts j
check_writable j
duration[j]=$(($(now_ms) - start))

echo "== the service"
check "snapfsd still runs" kill -0 "$SNAPFSD_PID"
for c in a b c d e f g h i j; do
	echo "case $c: ${duration[$c]} ms"
done
finish
