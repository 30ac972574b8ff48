#!/bin/bash
# Torque/PBS: ckpt-torque-checkpoint and ckpt-torque-restart called with pbs_mom's exact argument
# lists against a real job started through ckpt-run ($checkpoint_run_exe).
#
#   torque.sh user     the scripts run as the job's user (user_id = that user): MPI job, 2 ranks
#   torque.sh root     the scripts run as root with user_id = the job's user (nobody); the files
#                      must belong to that user; planted symlinks and records are refused
#   torque.sh serial   as `user`, for a serial program (no mpiexec)
#   torque.sh script   as `user`, for a job script that bash reads from standard input, as
#                      pbs_mom starts it (restarted through CKPT_RESTART and the saved script)
#
# The job: qchkpt-style checkpoints (signal 0, depth "-" then 1) while it runs, after which it
# finishes with the checksum of an undisturbed run; then a second job gets a qhold-style
# checkpoint (signal 15) and exits 85 with a complete checkpoint, and the restart script, run as
# MOM runs it (setsid, MOM's environment, /dev/null streams), brings it back: exit 0, same checksum.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mode=${1:-}
case $mode in
    user | serial | script) ;;
    root) [ "$(id -u)" -eq 0 ] || skip "not running as root: the privilege drop from root is tested only under root" ;;
    *) fail "usage: torque.sh user|root|serial|script" ;;
esac
need_heat
setup_job_user
# shellcheck disable=SC2317 # hook is called below
if [ "$mode" = root ]; then
    hook() { "$@"; }  # pbs_mom runs the hooks as root
else
    hook() { as_user "$@"; }
fi
# job_command APPDIR: sets cmd to the job's command (and JOB_STDIN for a job script) with its
# checkpoints in APPDIR
job_command() {
    local args
    mapfile -t args < <(heat_args "$1")
    case $mode in
        serial) cmd=("${args[@]}") ;;
        script)
            printf '# a Torque job script\necho "job script starts"\n%s\n' \
                "$(printf '%q ' "$mpiexec" -n 2 "${args[@]}")" >"$1.job"
            export JOB_STDIN=$1.job
            cmd=(bash)
            ;;
        *) cmd=("$mpiexec" -n 2 "${args[@]}") ;;
    esac
}
if [ "$mode" = serial ]; then ranks=1; else ranks=2; fi
# pbs_mom's environment, not the job's
mom_env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CKPT_COMMAND="$CKPT_COMMAND")
checkpoint=("${mom_env[@]}" "$scripts/ckpt-torque-checkpoint")
restart=("${mom_env[@]}" setsid -w "$scripts/ckpt-torque-restart")
reference_checksum

jobid=42.torque.test
tdir=$work/torque/$jobid.CK
if [ "$mode" = root ]; then  # MOM creates the directory as root and gives it to the job's user
    mkdir -p "$tdir" || fail "cannot create $tdir"
    chmod 755 "$tdir" && chown "$job_user:$job_group" "$tdir"
else
    as_user mkdir -p "$work/torque"  # the script creates $tdir itself
fi

note "job 1: qchkpt (signal 0) twice while it runs, then it finishes"
job_command "$work/app1"
start_job job1 "${cmd[@]}"
wait_ready job1 "$work/app1" "$ranks"
sid=$job_pid
expect_ok "checkpoint, signal 0, depth -" \
    hook "${checkpoint[@]}" "$sid" "$jobid" "$job_user" "$job_group" "$tdir" "ckpt.$jobid.1700000001" 0 -
expect_checkpoint "$tdir/ckpt.$jobid.1700000001.000001.h5"
[ -f "$tdir/ckpt.$jobid.1700000001.launch" ] || fail "no launch record beside the checkpoint"
[ "$(stat -c %U "$tdir/ckpt.$jobid.1700000001.launch")" = "$job_user" ] || fail "the launch record does not belong to $job_user"
expect_ok "checkpoint, signal 0, depth 1" \
    hook "${checkpoint[@]}" "$sid" "$jobid" "$job_user" "$job_group" "$tdir" "ckpt.$jobid.1700000002" 0 1
expect_checkpoint "$tdir/ckpt.$jobid.1700000002.000001.h5"
if [ -e "$tdir/ckpt.$jobid.1700000001.000001.h5" ] || [ -e "$tdir/ckpt.$jobid.1700000001.launch" ]; then
    fail "depth 1 kept the older checkpoint ckpt.$jobid.1700000001: $(ls "$tdir")"
fi
status=$(job_status job1)
[ "$status" = 0 ] || fail "job 1 exited $status after continuing: $(tail -n 3 "$work/job1.err")"
[ "$(tail -n 1 "$work/job1.out")" = "$ref" ] ||
    fail "job 1 ended with '$(tail -n 1 "$work/job1.out")', the undisturbed run with '$ref'"

note "job 2: qhold (signal 15): checkpoint, exit 85"
job_command "$work/app2"
start_job job2 "${cmd[@]}"
wait_ready job2 "$work/app2" "$ranks"
old_sid=$job_pid
expect_ok "checkpoint, signal 15, depth 2" \
    hook "${checkpoint[@]}" "$old_sid" "$jobid" "$job_user" "$job_group" "$tdir" "ckpt.$jobid.1700000003" 15 2
status=$(job_status job2)
[ "$status" = 85 ] || fail "job 2 exited $status after a signal-15 checkpoint, not 85: $(tail -n 3 "$work/job2.err")"
expect_checkpoint "$tdir/ckpt.$jobid.1700000003.000001.h5"
[ -e "$tdir/ckpt.$jobid.1700000002.000001.h5" ] || fail "depth 2 removed the previous checkpoint"
expect_error "checkpoint of a session that has ended" \
    hook "${checkpoint[@]}" "$old_sid" "$jobid" "$job_user" "$job_group" "$tdir" "ckpt.$jobid.1700000004" 0 -
[ -z "$(find "$tdir" -name "ckpt.$jobid.1700000004*")" ] || fail "a failed checkpoint left files: $(ls "$tdir")"

if [ "$mode" = root ]; then
    note "refusals: a job as root, a symlink and a launch record planted by someone else"
    expect_error "restart for user root" \
        "${restart[@]}" "$old_sid" "$jobid" root root "$tdir" "ckpt.$jobid.1700000003"
    if other=$(id -un daemon 2>/dev/null) && [ "$other" != "$job_user" ]; then
        ln -s "$tdir" "$work/torque/planted" && chown -h "$other" "$work/torque/planted"
        expect_error "restart through a symlink owned by $other" \
            "${restart[@]}" "$old_sid" "$jobid" "$job_user" "$job_group" "$work/torque/planted" "ckpt.$jobid.1700000003"
        grep -q 'symbolic link' "$work/last.err" || fail "the refusal does not name the symlink: $(last_err)"
        cp -p "$tdir/ckpt.$jobid.1700000002.000001.h5" "$tdir/ckpt.$jobid.1700000005.000001.h5"
        printf 'ckpt_run_format=1\nckpt_run_cwd=/\nckpt_run_arg touch\nckpt_run_arg %s\n' "$work/owned" \
            >"$tdir/ckpt.$jobid.1700000005.launch"
        chown "$other" "$tdir/ckpt.$jobid.1700000005.launch"
        expect_error "restart with a launch record owned by $other" \
            "${restart[@]}" "$old_sid" "$jobid" "$job_user" "$job_group" "$tdir" "ckpt.$jobid.1700000005"
        [ ! -e "$work/owned" ] || fail "the planted launch record was run"
        rm -f "$tdir/ckpt.$jobid.1700000005".*
    else
        note "no user daemon: the planted-file checks are left out"
    fi
fi

note "restart as pbs_mom does it: the restart script becomes the job"
run hook "${restart[@]}" "$old_sid" "$jobid" "$job_user" "$job_group" "$tdir" "ckpt.$jobid.1700000003" \
    </dev/null
[ "$rc" -eq 0 ] || fail "the restarted job exited $rc: $(last_err) $(tail -n 3 "$work/job2.err")"
expect_resumed job2
grep -q "ckpt.$jobid.1700000003.000001.h5" "$work/job2.out" || fail "job 2 did not restart from the qhold checkpoint"
if [ "$mode" = script ]; then
    [ "$(grep -c '^job script starts' "$work/job2.out")" = 2 ] || fail "the job script did not run again from the saved copy"
fi

if [ "$mode" = user ] || [ "$mode" = serial ]; then
    note "restart without a launch record: the command comes from the checkpoint's argv, cwd and ranks"
    rm -f "$tdir/ckpt.$jobid.1700000003.launch"
    run hook "${restart[@]}" "$old_sid" "$jobid" "$job_user" "$job_group" "$tdir" "ckpt.$jobid.1700000003" \
        </dev/null
    [ "$rc" -eq 0 ] || fail "the job restarted from the checkpoint's argv exited $rc: $(tail -n 3 "$work/last.err")"
    cp "$work/last.out" "$work/job3.out"
    expect_resumed job3
fi
pass
