# lib.sh: sourced by the batch-system script tests (tests/scripts/*.sh, run by CTest through
# script_tests.cmake). Real processes and real signals in a private temporary directory; waits
# poll with generous hard limits and never assert on time. Exit 0 pass, 1 fail, 77 skip.
#
# Environment from CTest: CKPT_SCRIPTS (tools/scripts), CKPT_COMMAND (the ckpt command),
# CKPT_TEST_HEAT (examples/heat), CKPT_TEST_MPIEXEC (mpiexec).
# shellcheck shell=bash
# shellcheck disable=SC2034,SC2317 # variables and functions for the sourcing tests
set -u
test_name=${0##*/}
test_name=${test_name%.sh}${1:+ $1}
scripts=${CKPT_SCRIPTS:?set by CTest}
heat=${CKPT_TEST_HEAT:-}
mpiexec=${CKPT_TEST_MPIEXEC:-mpiexec}
export CKPT_COMMAND=${CKPT_COMMAND:-}
unset CKPT_DIR CKPT_NAME CKPT_RESTART CKPT_MODE CKPT_INTERVAL CKPT_EVERY CKPT_DEPTH CKPT_SIGNAL \
    CKPT_TERM_SIGNALS CKPT_EXIT_CODE CKPT_HALT_SECONDS CKPT_VERBOSE CKPT_WAIT CKPT_RESTART_VIA
steps=500 side=64 sleep_ms=20  # about 10 s of sleeping: time enough to be asked for checkpoints

work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-scripts.XXXXXX") || exit 1
keep=0
started=()
cd "$work" || exit 1

cleanup() {
    local p
    for p in "${started[@]}"; do kill_tree "$p"; done
    wait 2>/dev/null
    if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "test files kept in $work" >&2; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL ($test_name): $*" >&2
    keep=1
    exit 1
}
skip() {
    echo "SKIP ($test_name): $*"
    exit 77
}
pass() {
    echo "PASS ($test_name)"
    exit 0
}
note() { echo "-- $*"; }

# descendants PID...: the pids and all their descendants.
descendants() {
    local d s ppid p
    local -A kids=()
    for d in /proc/[0-9]*; do
        s=$(cat "$d/stat" 2>/dev/null) || continue
        s=${s##*) }
        read -r _ ppid _ <<<"$s"
        kids[$ppid]+=" ${d#/proc/}"
    done
    local queue=("$@") out=()
    while ((${#queue[@]})); do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        out+=("$p")
        # shellcheck disable=SC2206 # pids are words
        queue+=(${kids[$p]:-})
    done
    echo "${out[@]}"
}
kill_tree() {
    # shellcheck disable=SC2046 # pids are words
    kill -KILL $(descendants "$1") 2>/dev/null
    return 0
}

# The jobs run as an ordinary user: ourselves, or nobody when the tests run as root (the Torque
# scripts refuse to act for root, as they must).
setup_job_user() {
    if [ "$(id -u)" -eq 0 ]; then
        id nobody >/dev/null 2>&1 || skip "running as root, and there is no user nobody to run the jobs as"
        job_user=nobody
        job_group=$(id -gn nobody)
        chown "$job_user:$job_group" "$work" || fail "cannot give $work to $job_user"
        chmod 700 "$work"
        as_user() { setpriv --reuid="$job_user" --regid="$job_group" --init-groups -- "$@"; }
        as_user test -w "$work" || skip "user $job_user cannot write in $work (a parent directory is closed to others)"
        if ! as_user test -x "$heat" || ! as_user test -x "$CKPT_COMMAND" || ! as_user test -r "$scripts/ckpt-run"; then
            # the build or source tree is closed to others (e.g. under /root): use copies
            note "$job_user cannot reach the build or source tree: copying heat, ckpt and the scripts to $work"
            if ! mkdir -p "$work/copies" || ! cp "$heat" "$CKPT_COMMAND" "$work/copies/" ||
                ! cp -r "$scripts" "$work/copies/scripts"; then
                fail "cannot copy the programs to $work"
            fi
            chown -R "$job_user:$job_group" "$work/copies"
            heat=$work/copies/${heat##*/} CKPT_COMMAND=$work/copies/${CKPT_COMMAND##*/} scripts=$work/copies/scripts
        fi
    else
        job_user=$(id -un)
        job_group=$(id -gn)
        as_user() { "$@"; }
    fi
    export TMPDIR=$work
}

need_heat() {
    [ -x "$heat" ] || fail "examples/heat not built: $heat"
    [ -x "$CKPT_COMMAND" ] || fail "the ckpt command is not built: $CKPT_COMMAND"
}

# reference_checksum: the last line of an undisturbed run.
reference_checksum() {
    local out
    out=$(as_user "$heat" --steps "$steps" --n "$side" --checkpoint-dir "$work/reference" 2>&1) ||
        fail "the reference run failed: $out"
    ref=$(printf '%s\n' "$out" | tail -n 1)
    [[ $ref == checksum* ]] || fail "the reference run printed no checksum: $out"
}

# heat_args DIR: the heat command line (after the launcher) whose checkpoints go to DIR.
heat_args() { printf '%s\n' "$heat" --steps "$steps" --n "$side" --sleep-ms "$sleep_ms" --checkpoint-dir "$1"; }

# start_job NAME COMMAND...: runs `setsid ckpt-run COMMAND` as the job's user, with standard
# output and error in NAME.out and NAME.err (created by that user, as a batch system does),
# standard input from $JOB_STDIN (default /dev/null), in a
# session of its own. Sets job_pid, which is also the job's session id and process group id; the
# exit status lands in NAME.rc.
start_job() {
    local name=$1
    shift
    (
        # sh is no process group leader, so setsid(1) makes its own pid the session id
        # shellcheck disable=SC2016 # expanded by that sh
        as_user sh -c 'echo $$ >"$0.sid.tmp" && mv "$0.sid.tmp" "$0.sid" &&
            exec setsid "$@" <"${JOB_STDIN:-/dev/null}" >"$0.out" 2>"$0.err"' \
            "$work/$name" "$scripts/ckpt-run" "$@" &
        wait $!
        echo $? >"$work/$name.rc"
    ) &
    started+=("$!")
    wait_for 30 "job $name to start" test -s "$work/$name.sid"
    job_pid=$(<"$work/$name.sid")
    started+=("$job_pid")
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds; fails after SECONDS.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local end=$((SECONDS + limit))
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || fail "no $what within ${limit} s"
        sleep 0.1
    done
}

# wait_ready NAME DIR RANKS: until RANKS processes of job NAME hold pid files in DIR/.ckpt
# (their signal handlers are installed by then); fails at once if the job ends first.
wait_ready() {
    local name=$1 dir=$2 ranks=$3 end=$((SECONDS + 120)) n
    while :; do
        [ ! -e "$work/$name.rc" ] ||
            fail "job $name exited ($(<"$work/$name.rc")) before it was ready: $(tail -n 3 "$work/$name.err" 2>/dev/null)"
        n=$(find "$dir/.ckpt" -maxdepth 1 -name 'pid.*' 2>/dev/null | wc -l)
        [ "$n" -lt "$ranks" ] || return 0
        [ "$SECONDS" -lt "$end" ] || fail "job $name: no $ranks pid files in $dir/.ckpt within 120 s"
        sleep 0.1
    done
}

# job_status NAME: waits for job NAME to end and prints its exit status: ckpt-run's, which is the
# status the application recorded even where MPICH 4.0's mpiexec reports 0 (MPICH issue 7057).
job_status() {
    wait_for 240 "end of job $1" test -s "$work/$1.rc"
    cat "$work/$1.rc"
}

# run COMMAND...: runs COMMAND, output in $work/last.out and last.err, status in $rc.
run() {
    "$@" >"$work/last.out" 2>"$work/last.err"
    rc=$?
}
last_err() { cat "$work/last.err"; }

# expect_ok WHAT COMMAND...: COMMAND must exit 0.
expect_ok() {
    local what=$1
    shift
    run "$@"
    [ "$rc" -eq 0 ] || fail "$what: exit $rc, stderr: $(last_err)"
}

# expect_error WHAT COMMAND...: COMMAND must fail with exactly one non-empty line on stderr.
expect_error() {
    local what=$1 lines
    shift
    run "$@"
    [ "$rc" -ne 0 ] || fail "$what: exit 0, expected an error"
    lines=$(wc -l <"$work/last.err")
    if [ "$lines" -ne 1 ] || [ ! -s "$work/last.err" ]; then
        fail "$what: expected one line on stderr, got $lines: $(last_err)"
    fi
    note "$what: exit $rc: $(last_err)"
}

# expect_checkpoint FILE: FILE exists, belongs to the job's user, and ckpt verify accepts it.
expect_checkpoint() {
    [ -f "$1" ] || fail "no checkpoint $1 (directory: $(find "$(dirname "$1")" -mindepth 1 -printf '%f ' 2>&1))"
    [ "$(stat -c %U "$1")" = "$job_user" ] || fail "$1 belongs to $(stat -c %U "$1"), not $job_user"
    as_user "$CKPT_COMMAND" verify "$1" >/dev/null 2>&1 || fail "ckpt verify rejects $1"
}

# expect_resumed NAME: job NAME's output says it restored a checkpoint, and its last line is the
# reference checksum.
expect_resumed() {
    grep -q '^restored step' "$work/$1.out" || fail "job $1 did not restore a checkpoint: $(cat "$work/$1.out")"
    [ "$(tail -n 1 "$work/$1.out")" = "$ref" ] ||
        fail "job $1 ended with '$(tail -n 1 "$work/$1.out")', the undisturbed run with '$ref'"
}
