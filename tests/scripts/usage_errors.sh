#!/bin/bash
# Wrong argument counts and bad inputs: every script answers with one line on stderr and a
# non-zero exit status, before it touches anything.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
export CKPT_COMMAND=${CKPT_COMMAND:-/nonexistent/ckpt}
c=$scripts/ckpt-torque-checkpoint
r=$scripts/ckpt-torque-restart
me=$(id -un)
d=$work/torque
mkdir -p "$d"

expect_error "checkpoint script, no arguments" "$c"
expect_error "checkpoint script, 7 arguments" "$c" 100 1.srv "$me" - "$d" ckpt.1.srv.1 0
expect_error "checkpoint script, 9 arguments" "$c" 100 1.srv "$me" - "$d" ckpt.1.srv.1 0 - extra
expect_error "checkpoint script, session not a number" "$c" abc 1.srv "$me" - "$d" ckpt.1.srv.1 0 -
expect_error "checkpoint script, session 1" "$c" 1 1.srv "$me" - "$d" ckpt.1.srv.1 0 -
expect_error "checkpoint script, empty job id" "$c" 100 - "$me" - "$d" ckpt.1.srv.1 0 -
expect_error "checkpoint script, relative directory" "$c" 100 1.srv "$me" - torque ckpt.1.srv.1 0 -
expect_error "checkpoint script, name with /" "$c" 100 1.srv "$me" - "$d" ../ckpt 0 -
expect_error "checkpoint script, empty name" "$c" 100 1.srv "$me" - "$d" - 0 -
expect_error "checkpoint script, bad signal" "$c" 100 1.srv "$me" - "$d" ckpt.1.srv.1 TERM -
expect_error "checkpoint script, bad depth" "$c" 100 1.srv "$me" - "$d" ckpt.1.srv.1 0 -1
expect_error "checkpoint script, empty user" "$c" 100 1.srv - - "$d" ckpt.1.srv.1 0 -
expect_error "checkpoint script, unknown user" "$c" 100 1.srv no-such-user-ckpt - "$d" ckpt.1.srv.1 0 -
expect_error "checkpoint script, bad CKPT_WAIT" env CKPT_WAIT=soon "$c" 100 1.srv "$me" - "$d" ckpt.1.srv.1 0 -
if [ "$(id -u)" -eq 0 ]; then
    expect_error "checkpoint script as root for user root" "$c" 100 1.srv root root "$d" ckpt.1.srv.1 0 -
    expect_error "checkpoint script as root, unknown group" "$c" 100 1.srv nobody no-such-group-ckpt "$d" ckpt.1.srv.1 0 -
else
    expect_error "checkpoint script as another user than user_id" "$c" 100 1.srv root root "$d" ckpt.1.srv.1 0 -
fi

expect_error "restart script, 5 arguments" "$r" 100 1.srv "$me" - "$d"
expect_error "restart script, 7 arguments" "$r" 100 1.srv "$me" - "$d" ckpt.1.srv.1 extra
expect_error "restart script, relative directory" "$r" 100 1.srv "$me" - torque ckpt.1.srv.1
expect_error "restart script, name starting with ." "$r" 100 1.srv "$me" - "$d" .ckpt
expect_error "restart script for user root" "$r" 100 1.srv root - "$d" ckpt.1.srv.1
if [ "$(id -u)" -ne 0 ]; then
    expect_error "restart script, nothing to restart" "$r" 100 1.srv "$me" - "$d" ckpt.1.srv.1
    [ "$rc" -eq 66 ] || fail "restart with no checkpoint: exit $rc, not 66"
fi

expect_error "ckpt-run, no command" "$scripts/ckpt-run"
expect_error "ckpt-run, unknown option" "$scripts/ckpt-run" --bogus true
expect_error "ckpt-run, bad CKPT_RESTART_VIA" env CKPT_RESTART_VIA=both "$scripts/ckpt-run" true
expect_ok "ckpt-run, a command" "$scripts/ckpt-run" sh -c 'exit 0'
run "$scripts/ckpt-run" sh -c 'exit 3'
[ "$rc" -eq 3 ] || fail "ckpt-run does not pass on the command's exit status: $rc"

unset LSB_CHKPNT_DIR
expect_error "echkpnt.ckpt, no process group" "$scripts/echkpnt.ckpt" -d "$d"
expect_error "echkpnt.ckpt, two process groups" "$scripts/echkpnt.ckpt" -d "$d" 100 101
expect_error "echkpnt.ckpt, bad process group" "$scripts/echkpnt.ckpt" -d "$d" 12x
expect_error "echkpnt.ckpt, -k with -s" "$scripts/echkpnt.ckpt" -k -s -d "$d" 100
expect_error "echkpnt.ckpt, no directory" "$scripts/echkpnt.ckpt" 100
expect_error "echkpnt.ckpt, unknown option" "$scripts/echkpnt.ckpt" -z -d "$d" 100
expect_error "erestart.ckpt, no directory" "$scripts/erestart.ckpt"
expect_error "erestart.ckpt, two directories" "$scripts/erestart.ckpt" "$d" "$d"
expect_error "erestart.ckpt, unknown option" "$scripts/erestart.ckpt" -k "$d"
expect_error "erestart.ckpt, missing directory" "$scripts/erestart.ckpt" "$work/none"
expect_error "erestart.ckpt, bad CKPT_RESTART_VIA" env CKPT_RESTART_VIA=x "$scripts/erestart.ckpt" "$d"

expect_error "slurm template, no application" bash "$scripts/slurm-requeue.sbatch"
[ "$rc" -eq 64 ] || fail "slurm template without an application: exit $rc, not 64"
pass
