#!/usr/bin/env bash
# Fault matrix: every file-system call of one checkpoint, failed or killed in turn (README.md).
#   usage: fault_matrix.sh RANKS [quick|full]
# Environment (set by CTest): CKPT_FAULT_TARGET, CKPT_FAULT_SHIM, CKPT_COMMAND, CKPT_TEST_MPIEXEC.
# Optional: CKPT_FAULT_SELECT=<ERE> runs only the points whose name matches (e.g. 'rank=all fsync#2 eio$'),
# CKPT_FAULT_HANG_SECONDS (default 10), CKPT_STUCK_SECONDS (ckpt's write watchdog; default 3 here,
# at least 5 s below the hang timeout), CKPT_FAULT_ACTIONS (default "kill eio enospc"; kill-after too),
# CKPT_FAULT_EXPECT=<ERE> makes an ok, missed or KNOWN point whose "outcome detail" does not match
# it UNEXPECTED, a failure (a focused test: the point must still take the path it tests), CKPT_FAULT_KEEP=1 keeps the work directory, CKPT_FAULT_LIST=1 lists the points without running
# them, CKPT_FAULT_DETAILS=N prints output and backtraces of the first N failing points (default 5).
# TMPDIR=/dev/shm makes it faster.
#
# 1. writes versions 1..3 (no shim), 2. counts the calls of one more checkpoint (version 4,
# the shim armed around checkpoint() only, counting calls on the checkpoint directory), 3. runs
# that checkpoint again for every point: target rank (each rank, or all), call kind, index n,
# action (kill, eio, enospc), sticky or not; then restores and runs `ckpt verify`.
# Each point is one of:
#   ok        74 on every rank with one line each (the failed checkpoint's error, or the line of ckpt's
#             write watchdog ending a rank stranded in HDF5/ROMIO), or 0 everywhere (a fault ckpt
#             tolerates), or killed
#   missed    the n-th call never came (the call sequence changed): reported, not a failure
#   HANG      still running after CKPT_FAULT_HANG_SECONDS; backtraces of every rank are printed
#   CRASH     a signal, a rank without exit status, ranks with different statuses, another status,
#             HDF5's "infinite loop closing library", or a failure without an injected fault
#   ABORT     ckpt ended the job with MPI_Abort(74) after a timed wait for stuck ranks ran out: no
#             hang, but not the contract either (the write's watchdog replaced that wait)
#   MSG       74 everywhere, but not exactly one line per rank (an HDF5 error stack, ...)
#   LOST      afterwards version 3 (or 4, if the checkpoint reported success) does not restore,
#             restores different values, or `ckpt verify` finds a committed version bad
# Exit 0 when no point is HANG, ABORT, CRASH, MSG, LOST or UNEXPECTED; 1 otherwise.
set -uo pipefail
np=${1:?usage: fault_matrix.sh RANKS [quick|full]}
level=${2:-quick}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
shim=${CKPT_FAULT_SHIM:?set CKPT_FAULT_SHIM to fault_shim.so}
hang_s=${CKPT_FAULT_HANG_SECONDS:-10}
# ckpt's write watchdog ends ranks stranded in HDF5/ROMIO after this long without progress; the
# default (a minute and more) is for real disks. The hang timeout must leave it time to act.
export CKPT_STUCK_SECONDS=${CKPT_STUCK_SECONDS:-3}
if ! awk -v h="$hang_s" -v s="$CKPT_STUCK_SECONDS" 'BEGIN { exit !(s + 0 > 0 && h + 0 >= s + 5) }'; then
    echo "fault_matrix.sh: CKPT_FAULT_HANG_SECONDS ($hang_s) must be at least CKPT_STUCK_SECONDS ($CKPT_STUCK_SECONDS) + 5" >&2
    exit 64
fi
actions=${CKPT_FAULT_ACTIONS:-kill eio enospc}
select=${CKPT_FAULT_SELECT:-}
base_versions=3
case $level in quick | full) ;; *) echo "fault_matrix.sh: level must be quick or full" >&2; exit 64 ;; esac
for f in "$target" "$shim" "$ckpt"; do [ -x "$f" ] || [ -f "$f" ] || { echo "fault_matrix.sh: missing $f" >&2; exit 64; }; done
command -v gdb >/dev/null || echo "note: no gdb: hangs are reported without backtraces"

work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-faults.XXXXXX")
failed=0
finish() {
    if [ "$failed" = 0 ] && [ "${CKPT_FAULT_KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "work directory kept: $work"; fi
}
trap finish EXIT
run=$work/run/ck     # every point writes here; the shim counts only calls on this directory
status_dir=$work/status
mkdir -p "$status_dir" "$work/failures"
export CKPT_FAULT_STATUS_DIR=$status_dir

# 1. The base: versions 1..3.
np_label="$np rank$([ "$np" = 1 ] || echo s)"
launch "$work/base.log" 0 "$target" write "$base_versions" --checkpoint-dir "$work/base/ck"
if [ "$rc" != 0 ] || [ "$hung" = 1 ]; then
    echo "FAIL: writing the base versions without faults: exit $rc"; cat "$work/base.log"; failed=1; exit 1
fi

fresh_run_dir() {
    rm -rf "$work/run" "$status_dir"/status.* "$status_dir"/hit.*
    mkdir -p "$work/run"
    cp -r "$work/base/ck" "$run"
}

# Environment of a faulted run: the shim in the ranks only (-genv), disarmed until checkpoint().
fault_env() {
    unset CKPT_FAULT_CALL CKPT_FAULT_N CKPT_FAULT_ACTION CKPT_FAULT_RANK CKPT_FAULT_STICKY CKPT_FAULT_COUNT_FILE
    export CKPT_FAULT_ARMED=0 CKPT_FAULT_PATH=$run CKPT_FAULT_HIT_FILE=$status_dir/hit.%r
}

# 2. Count the calls of the checkpoint of version 4, per rank and kind.
fresh_run_dir
fault_env
export CKPT_FAULT_COUNT_FILE=$work/counts.%r
launch "$work/count.log" 0 -genv LD_PRELOAD "$shim" "$target" fault --checkpoint-dir "$run" --restart latest
unset CKPT_FAULT_COUNT_FILE
if [ "$rc" != 0 ] || [ "$hung" = 1 ]; then
    echo "FAIL: the counting run (shim loaded, no fault) exited $rc"; cat "$work/count.log"; failed=1; exit 1
fi
kinds=()
declare -A count  # count[rank,kind], count[all,kind] = the most on any rank
for ((r = 0; r < np; r++)); do
    [ -f "$work/counts.$r" ] || { echo "FAIL: rank $r wrote no call counts"; failed=1; exit 1; }
    while read -r _ kind n; do
        count[$r,$kind]=$n
        [ "${count[all,$kind]:-0}" -lt "$n" ] && count[all,$kind]=$n
    done < <(grep '^count ' "$work/counts.$r")
done
for kind in $(grep '^count ' "$work/counts.0" | awk '{print $2}'); do
    [ "${count[all,$kind]:-0}" -gt 0 ] && kinds+=("$kind")
done
echo "calls of one checkpoint on $run, per rank:"
for ((r = 0; r < np; r++)); do
    line="  rank $r:"
    for kind in "${kinds[@]}"; do [ "${count[$r,$kind]:-0}" -gt 0 ] && line+=" $kind ${count[$r,$kind]}"; done
    echo "$line   ($(sed -n 's/^total //p' "$work/counts.$r") in all)"
done
echo "  sequence on rank 0: $(grep '^call ' "$work/counts.0" | awk '{printf "%s%s", sep, $3; sep=" "}')"

# 3. The points. Targets: every rank alone, and all ranks together.
targets=()
for ((r = 0; r < np; r++)); do targets+=("$r"); done
[ "$np" -gt 1 ] && targets+=(all)
# quick: per kind the first, the middle and the last call; kill and eio there, and a sticky
# enospc (a full disk) from the first call on; ranks 0, the last one and all.
in_quick() {  # TARGET N COUNT ACTION STICKY
    local t=$1 n=$2 c=$3 action=$4 sticky=$5
    [ "$t" = 0 ] || [ "$t" = all ] || [ "$t" = $((np - 1)) ] || return 1
    case $action/$sticky in
    enospc/1) [ "$n" = 1 ] ;;
    kill/0 | eio/0) [ "$n" = 1 ] || [ "$n" = "$c" ] || [ "$n" = $(((c + 1) / 2)) ] ;;
    *) return 1 ;;
    esac
}

declare -A tally
points=0
started=$SECONDS
failures=()
notes=()

# The line of ckpt's write watchdog on rank $1 (include/ckpt/detail/io_watchdog.hpp), which
# ends a rank stranded in HDF5/ROMIO with _exit(74): before MPI_Finalize, so with no status file.
watchdog_line() { echo "^ckpt: rank $1: .*ending the job with exit status 74"; }

# Classifies the faulted run just made. Sets outcome and detail.
classify_fault() {
    local action=$1
    local hits st common deaths r ended="" s=()
    hits=$(cat "$status_dir"/hit.* 2>/dev/null | grep -c '^fault_shim: rank')  # stderr may be lost at an abort
    read -r -a s <<<"$(statuses "$status_dir")"
    for ((r = 0; r < np; r++)); do  # a rank the watchdog ended has its line for a status
        if [ "${s[r]}" = - ] && grep -q "$(watchdog_line "$r")" "$out"; then
            s[r]=74
            ended+="${ended:+ }$r"
        fi
    done
    st=${s[*]}
    common=$(common_status "$st")
    deaths=$(launcher_deaths "$out")
    detail="statuses [$st]"
    [ -n "$ended" ] && detail+=", watchdog: rank $ended"
    [ -n "$deaths" ] && detail+=", deaths: $deaths"
    if grep -q 'infinite loop closing library' "$out"; then
        outcome=CRASH
        detail+=", HDF5: infinite loop closing library"
        [ "$hung" = 1 ] && detail+=", and the job hung"
        return
    fi
    if [ "$hung" = 1 ] && echo "$deaths" | grep -q 'signal'; then  # one rank crashed, the others wait for it
        outcome=CRASH
        local frames
        frames=$(crash_frames "$out")
        detail+="${frames:+ in $frames}, and the other ranks hung: $(hang_frames "$out.bt")"
        return
    fi
    if [ "$hung" = 1 ]; then
        outcome=HANG
        detail+=", still running after ${hang_s}s"
        [ -s "$out.bt" ] && detail+=": $(hang_frames "$out.bt")"
        return
    fi
    if [ "$hits" = 0 ]; then  # the fault never came
        if [ "$common" = 0 ] && [ -z "$deaths" ]; then
            outcome=missed
        else
            outcome=CRASH
            detail+=", failed without an injected fault"
        fi
        return
    fi
    if [ "$action" = kill ]; then  # the injected SIGKILL, and the launcher's cleanup of the other ranks
        # (hydra signals them, SIGHUP or SIGKILL, and may report its proxy's exit code 1): any
        # other death (SIGSEGV, SIGABRT, ...) is a crash.
        if [ -n "$(echo "$deaths" | sed -E -e 's/signal (1|9|15)( |$)//g' -e 's/exit code (1|9|15|129|137|143)( |$)//g' -e 's/ //g')" ]; then
            outcome=CRASH
            detail+=", a rank died otherwise than of the injected SIGKILL"
        elif [ "$rc" = 0 ]; then
            outcome=CRASH
            detail+=", the launcher exited 0 after a rank was killed"
        else
            outcome=ok
            detail="killed"
        fi
        return
    fi
    # Every rank ended by the watchdog (or with 74 after it): a launcher that cleans up after the
    # first rank to leave may signal the others after they printed their line, before their
    # _exit (hydra: SIGHUP; also SIGTERM, SIGKILL). That is the watchdog working, not a crash.
    local cleanup=""
    if [ -n "$ended" ] && [ "$common" = 74 ] &&
        [ -z "$(echo "$deaths" | sed -E -e 's/signal (1|9|15)( |$)//g' -e 's/exit code (1|9|15|74|129|137|143)( |$)//g' -e 's/ //g')" ]; then
        cleanup=$deaths
        deaths=""
    fi
    local sig
    sig=$(echo "$deaths" | grep -oE 'signal [0-9]+' | head -n 1 || true)
    if [ -n "$sig" ] || echo "$deaths" | grep -qE 'exit code (1[3-9][0-9]|2[0-9][0-9])'; then
        outcome=CRASH
        [ -n "$sig" ] && detail+=" ($(signal_name "$sig"))"
        local frames
        frames=$(crash_frames "$out")
        [ -n "$frames" ] && detail+=" in $frames"
        case $common in
        74 | 0) detail+=", after every rank had finished with $common: in an exit handler" ;;
        esac
        return
    fi
    case $common in
    0)
        outcome=ok
        detail="0 on every rank (fault tolerated)"
        ;;
    74)
        local r lines bad=""
        for ((r = 0; r < np; r++)); do
            lines=$(grep -c -e "^fault_target: rank $r: exit 74: ckpt: " -e "$(watchdog_line "$r")" "$out")
            [ "$lines" = 1 ] || bad+=" rank $r printed $lines messages;"
        done
        # Anything besides the shim's reports, the ranks' messages, the watchdog's and ckpt's
        # warnings (and hydra's banner about a rank it signalled while cleaning up, above).
        lines=$(grep -v -e '^fault_shim: ' -e '^fault_target: rank [0-9]*: exit 74: ckpt: ' -e "$(watchdog_line '[0-9]*')" \
            -e '^ckpt: warning: ' "$out" |
            { if [ -n "$cleanup" ]; then grep -v -e 'YOUR APPLICATION TERMINATED WITH THE EXIT STRING' \
                -e '^This typically refers to a problem with your application' -e '^Please see the FAQ page' -e '^=*$' \
                -e '^BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES' \
                -e '^ *PID ' -e '^ *EXIT CODE' -e '^ *CLEANING UP REMAINING PROCESSES' -e '^ *YOU CAN IGNORE THE BELOW CLEANUP'; else cat; fi; } |
            grep -c .)
        [ "$lines" = 0 ] || bad+=" $lines other lines of output;"
        if [ -z "$bad" ]; then
            outcome=ok
            detail="74 on every rank${ended:+ (ended by the watchdog: rank $ended)}${cleanup:+, then cleaned up by the launcher: $cleanup}"
        else
            outcome=MSG
            detail="74 on every rank, but${bad%;}"
        fi
        ;;
    *)
        if grep -q 'did not come to agree on it within' "$out" && grep -q 'MPI_Abort(MPI_COMM_WORLD, 74)' "$out"; then
            outcome=ABORT  # ckpt's own way out of a collective HDF5 left on some ranks: not the contract
            detail+=", $(grep -m1 -o 'the other ranks did not come to agree on it within [0-9]* s' "$out"): MPI_Abort(74)"
            return
        fi
        outcome=CRASH
        if [[ $common == mixed* ]]; then detail+=", ranks disagree"; else detail+=", unexpected status $common"; fi
        [[ " $st " == *" - "* ]] && detail+=" (a rank ended without an exit status)"
        grep -q 'MPI_Abort' "$out" && detail+=", MPI_Abort: $(grep -m1 -o 'application called MPI_Abort[^-]*' "$out")"
        ;;
    esac
}

# After any point: version 3 (or 4) must restore with exactly its values, and every committed
# version must verify. Sets lost ("" or the reason) and appends notes.
check_lost() {
    local wrote=$1 newest v f left
    lost=""
    newest=0
    for f in "$run"/ckpt.*.h5; do
        [ -e "$f" ] || continue
        v=${f##*/ckpt.}
        v=$((10#${v%.h5}))
        [ "$v" -gt "$newest" ] && newest=$v
    done
    # The newest version committed before the faulted one (fault_target: one more written unarmed
    # first in an incremental run).
    local before=$base_versions
    [ "${CKPT_FAULT_INCREMENTAL:-0}" = 1 ] && before=$((base_versions + 1))
    if [ "$newest" -lt "$before" ]; then
        lost="version $before is gone (newest committed: $newest)"
        return
    fi
    if [ "$wrote" = 1 ] && [ "$newest" -lt $((before + 1)) ]; then
        lost="the checkpoint reported success, but version $((before + 1)) is not committed"
        return
    fi
    if ! timeout -s KILL 60 "$ckpt" verify "$run" >"$out.verify" 2>&1 || grep -q 'infinite loop closing library' "$out.verify"; then
        lost="ckpt verify: $(grep -v '^ok ' "$out.verify" | head -n 3 | tr '\n' ' ')"
        return
    fi
    local fault_out=$out
    rm -f "$status_dir"/status.*
    launch "$fault_out.restore" 0 "$target" verify --checkpoint-dir "$run" --restart latest --expect "$newest"
    out=$fault_out
    if [ "$hung" = 1 ]; then
        lost="the restore hung: $(hang_frames "$fault_out.restore.bt")"
        hung=0
    elif [ "$rc" != 0 ]; then
        lost="restore of version $newest: exit $rc: $(grep -E 'WRONG|OLD|META|exit [0-9]+:' "$out.restore" | head -n 2 | tr '\n' ' ')"
    elif grep -q 'infinite loop closing library' "$out.restore"; then
        lost="restore of version $newest: HDF5: infinite loop closing library"
    fi
    if [ "$wrote" = 0 ] && [ "$action" != kill ] && [ "$newest" -gt "$before" ]; then notes+=("$name: failed, yet version $newest is committed (complete)"); fi
    left=$(cd "$run" && ls -- *.tmp *.reserve 2>/dev/null | tr '\n' ' ')
    [ -n "$left" ] && [ "$outcome" = ok ] && [ "$action" != kill ] && notes+=("$name: left $left")
    return 0
}

for t in "${targets[@]}"; do
    for kind in "${kinds[@]}"; do
        c=${count[$t,$kind]:-0}
        for ((n = 1; n <= c; n++)); do
            for action in $actions; do
                for sticky in 0 1; do
                    [ "$sticky" = 1 ] && [ "$action" = kill ] && continue
                    [ "$level" = quick ] && ! in_quick "$t" "$n" "$c" "$action" "$sticky" && continue
                    name="np$np rank=$t $kind#$n $action$([ "$sticky" = 1 ] && echo ' sticky')"
                    [ -n "$select" ] && ! [[ $name =~ $select ]] && continue
                    if [ "${CKPT_FAULT_LIST:-0}" = 1 ]; then echo "$name"; points=$((points + 1)); continue; fi
                    fresh_run_dir
                    fault_env
                    export CKPT_FAULT_CALL=$kind CKPT_FAULT_N=$n CKPT_FAULT_ACTION=$action CKPT_FAULT_RANK=$t
                    [ "$sticky" = 1 ] && export CKPT_FAULT_STICKY=1
                    launch "$work/point.log" "$([ "$action" = kill ] && echo 1 || echo 0)" \
                        -genv LD_PRELOAD "$shim" "$target" fault --checkpoint-dir "$run" --restart latest
                    fault_env
                    classify_fault "$action"
                    wrote=0
                    [ "$outcome" = ok ] && [[ $detail == 0* ]] && wrote=1
                    check_lost "$wrote"
                    if [ -n "$lost" ] && [ "$outcome" != HANG ] && [ "$outcome" != CRASH ] && [ "$outcome" != ABORT ]; then
                        outcome=LOST
                        detail+="; $lost"
                    elif [ -n "$lost" ]; then
                        detail+="; and LOST: $lost"
                        tally[LOST]=$((${tally[LOST]:-0} + 1))
                    fi
                    # A failure of a class named in CKPT_FAULT_KNOWN (a regex over the line) is
                    # counted and shown as KNOWN, not failed: what HDF5 1.10 itself cannot do.
                    if [ -n "${CKPT_FAULT_KNOWN:-}" ] && [ "$outcome" != ok ] && [ "$outcome" != missed ] &&
                        [[ "$name $outcome $detail" =~ $CKPT_FAULT_KNOWN ]]; then
                        detail="$outcome: $detail"
                        outcome=KNOWN
                    fi
                    if [ -n "${CKPT_FAULT_EXPECT:-}" ] && [[ $outcome =~ ^(ok|missed|KNOWN)$ ]] &&
                        ! [[ "$outcome $detail" =~ $CKPT_FAULT_EXPECT ]]; then  # a failure stays what it is
                        detail="$outcome: $detail; expected: $CKPT_FAULT_EXPECT"
                        outcome=UNEXPECTED
                    fi
                    points=$((points + 1))
                    tally[$outcome]=$((${tally[$outcome]:-0} + 1))
                    tally[$t,$outcome]=$((${tally[$t,$outcome]:-0} + 1))
                    printf '%-44s %-6s %s\n' "$name" "$outcome" "$detail"
                    case $outcome in
                    ok | missed | KNOWN) ;;
                    *)
                        failed=1
                        id=$(echo "$name" | tr ' =#' '_-_')
                        mkdir -p "$work/failures/$id"
                        cp "$out"* "$work/failures/$id/" 2>/dev/null
                        failures+=("$name: $outcome: $detail")
                        # The first few in full (CTest cuts long output); all are kept in $work/failures.
                        [ "${#failures[@]}" -le "${CKPT_FAULT_DETAILS:-5}" ] || { rm -f "$out".*; continue; }
                        echo "    ---- output"
                        grep -v '^$' "$out" | head -n 40 | sed 's/^/    /'
                        if [ -s "$out.bt" ]; then
                            echo "    ---- backtraces"
                            sed 's/^/    /' "$out.bt"
                        fi
                        if [ -f "$out.restore" ] && [ -n "$lost" ]; then
                            echo "    ---- restore afterwards"
                            grep -v '^$' "$out.restore" | head -n 20 | sed 's/^/    /'
                            [ -s "$out.restore.bt" ] && sed 's/^/    /' "$out.restore.bt"
                        fi
                        ;;
                    esac
                    rm -f "$out".*
                done
            done
        done
    done
done

elapsed=$((SECONDS - started))
[ "${CKPT_FAULT_LIST:-0}" = 1 ] && { echo "$points points"; exit 0; }
echo
echo "==== fault matrix, $np_label, $level: $points points in ${elapsed}s (hang timeout ${hang_s}s)"
printf '  %-8s %s\n' ok "${tally[ok]:-0}" missed "${tally[missed]:-0}" HANG "${tally[HANG]:-0}" ABORT "${tally[ABORT]:-0}" \
    CRASH "${tally[CRASH]:-0}" MSG "${tally[MSG]:-0}" LOST "${tally[LOST]:-0}" KNOWN "${tally[KNOWN]:-0}"
[ -n "${CKPT_FAULT_EXPECT:-}" ] && printf '  %-8s %s\n' UNEXPECTED "${tally[UNEXPECTED]:-0}"
for t in "${targets[@]}"; do
    line="  rank=$t:"
    for o in ok missed HANG ABORT CRASH MSG LOST KNOWN; do line+=" $o ${tally[$t,$o]:-0}"; done
    echo "$line"
done
if [ "${#notes[@]}" -gt 0 ]; then
    echo "notes (not failures):"
    printf '  %s\n' "${notes[@]}"
fi
if [ "${#failures[@]}" -gt 0 ]; then
    echo "failing points (the first ${CKPT_FAULT_DETAILS:-5} in full above; logs of all in $work/failures):"
    printf '  %s\n' "${failures[@]}"
fi
[ "$points" -gt 0 ] || { echo "no point selected"; exit 1; }
exit "$failed"
