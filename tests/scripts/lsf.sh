#!/bin/bash
# LSF: the echkpnt.ckpt / erestart.ckpt method pair, called as LSF's echkpnt and erestart call
# them (as the job's user, with LSB_JOBID and LSB_CHKPNT_DIR set), against a real MPI job.
#   bchkpnt     -> echkpnt.ckpt -d DIR PGID          checkpoint, the job continues
#   bchkpnt -s  -> echkpnt.ckpt -s -d DIR PGID       checkpoint, the job is stopped
#   bchkpnt -k  -> echkpnt.ckpt -k PGID              checkpoint, the job exits 85
#   brestart    -> erestart.ckpt DIR                 writes DIR/.restart_cmd; LSF runs that command
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_heat
setup_job_user
reference_checksum
export LSB_JOBID=777
export LSB_CHKPNT_DIR=$work/lsf/$LSB_JOBID
as_user mkdir -p "$work/lsf"

note "bchkpnt: checkpoint and continue; bchkpnt -s: checkpoint and stop"
mapfile -t args < <(heat_args "$work/app1")
start_job job1 "$mpiexec" -n 2 "${args[@]}"
wait_ready job1 "$work/app1" 2
expect_ok "echkpnt.ckpt -d" as_user "$scripts/echkpnt.ckpt" -d "$LSB_CHKPNT_DIR" "$job_pid"
expect_checkpoint "$LSB_CHKPNT_DIR/ckpt.000001.h5"
[ -f "$LSB_CHKPNT_DIR/ckpt.launch" ] || fail "no launch record in $LSB_CHKPNT_DIR"
expect_ok "echkpnt.ckpt -s" as_user "$scripts/echkpnt.ckpt" -c -f -x -s -d "$LSB_CHKPNT_DIR" "$job_pid"
expect_checkpoint "$LSB_CHKPNT_DIR/ckpt.000002.h5"
# shellcheck disable=SC2317 # called through wait_for
stopped_processes() {  # at least $1 processes of the job are stopped
    local p s n=0
    for p in $(descendants "$job_pid"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        [ "${s%% *}" != T ] || n=$((n + 1))
    done
    [ "$n" -ge "$1" ]
}
wait_for 30 "stop of the job's processes after -s" stopped_processes 3
# shellcheck disable=SC2046 # pids are words
kill -CONT $(descendants "$job_pid")
status=$(job_status job1)
[ "$status" = 0 ] || fail "job 1 exited $status after continuing: $(tail -n 3 "$work/job1.err")"
[ "$(tail -n 1 "$work/job1.out")" = "$ref" ] || fail "job 1 ended with '$(tail -n 1 "$work/job1.out")', not '$ref'"

note "bchkpnt -k: checkpoint and exit 85"
rm -rf "$LSB_CHKPNT_DIR"
mapfile -t args < <(heat_args "$work/app2")
start_job job2 "$mpiexec" -n 2 "${args[@]}"
wait_ready job2 "$work/app2" 2
expect_ok "echkpnt.ckpt -k (directory from LSB_CHKPNT_DIR)" as_user "$scripts/echkpnt.ckpt" -k "$job_pid"
status=$(job_status job2)
[ "$status" = 85 ] || fail "job 2 exited $status after echkpnt -k, not 85"
expect_checkpoint "$LSB_CHKPNT_DIR/ckpt.000001.h5"

note "brestart with LSF's record of the command (LSB_ERESTART_USRCMD)"
usercmd="$mpiexec -n 2 $(heat_args "$work/app2" | tr '\n' ' ')"
expect_ok "erestart.ckpt" as_user env LSB_ERESTART_USRCMD="$usercmd" "$scripts/erestart.ckpt" "$LSB_CHKPNT_DIR"
line=$(cat "$LSB_CHKPNT_DIR/.restart_cmd")
[ "$(wc -l <"$LSB_CHKPNT_DIR/.restart_cmd")" -eq 1 ] || fail ".restart_cmd is not one line: $line"
[[ $line == "LSB_RESTART_CMD=$usercmd --restart '$LSB_CHKPNT_DIR/ckpt.000001.h5'" ]] ||
    fail "unexpected restart command: $line"
as_user sh -c "${line#LSB_RESTART_CMD=}" >"$work/job2.out" 2>"$work/job2.err" ||
    fail "the restart command failed: $(tail -n 3 "$work/job2.err")"
expect_resumed job2

note "brestart without LSB_ERESTART_USRCMD: the command comes from the ckpt-run launch record, under ckpt-run"
expect_ok "erestart.ckpt from the launch record" as_user "$scripts/erestart.ckpt" "$LSB_CHKPNT_DIR"
line=$(cat "$LSB_CHKPNT_DIR/.restart_cmd")
[[ $line == "LSB_RESTART_CMD=cd '$work' && exec env CKPT_RESTART='$LSB_CHKPNT_DIR/ckpt.000001.h5' '$scripts/ckpt-run' -- '$mpiexec' "* ]] ||
    fail "unexpected restart command: $line"
(cd / && as_user sh -c "${line#LSB_RESTART_CMD=}") >"$work/job3.out" 2>"$work/job3.err" ||
    fail "the restart command failed: $(tail -n 3 "$work/job3.err")"
expect_resumed job3

note "errors"
expect_error "erestart.ckpt on a directory without checkpoints" as_user "$scripts/erestart.ckpt" "$work/lsf"
expect_error "echkpnt.ckpt on a process group that has ended" \
    as_user "$scripts/echkpnt.ckpt" -d "$LSB_CHKPNT_DIR" "$job_pid"
pass
