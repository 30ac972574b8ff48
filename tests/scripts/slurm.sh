#!/bin/bash
# Slurm: the slurm-requeue.sbatch template, with fake sbatch, srun and scontrol on PATH that
# record their calls (srun runs MPICH's mpiexec, under ckpt-run as the template starts it).
# Run 1: TERM to the batch shell (what --signal=B:TERM@300 sends) is forwarded
# to the launcher, the application checkpoints and exits 85, and the script runs
# `scontrol requeue <id>`. Run 2 (the requeued job, same id): --restart auto resumes, the job
# ends with 0, the output file is appended to, and nothing is requeued.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_heat
setup_job_user  # Slurm runs batch scripts as the user; root runs them as nobody here
reference_checksum
template=$scripts/slurm-requeue.sbatch
for option in '--signal=B:TERM@300' '--requeue' '--open-mode=append'; do
    grep -q "^#SBATCH $option\$" "$template" || fail "the template has no '#SBATCH $option'"
done

fake=$work/bin
mkdir -p "$fake"
cat >"$fake/scontrol" <<'EOF'
#!/bin/sh
echo "scontrol $*" >>"$FAKE_SLURM/calls"
EOF
cat >"$fake/srun" <<'EOF'
#!/bin/sh
echo "srun $*" >>"$FAKE_SLURM/calls"
exec "$FAKE_MPIEXEC" -n 2 "$@"
EOF
# sbatch: runs the script as slurmstepd would, in a session of its own, output appended to
# slurm-<id>.out; the batch shell's pid goes to batch.pid, its exit status to batch.rc.
cat >"$fake/sbatch" <<'EOF'
#!/bin/bash
echo "sbatch $*" >>"$FAKE_SLURM/calls"
rm -f "$FAKE_SLURM/batch.pid" "$FAKE_SLURM/batch.rc"
(
    SLURM_JOB_ID=4242 SLURM_SUBMIT_DIR=$PWD setsid bash "$@" >>"$FAKE_SLURM/slurm-4242.out" 2>&1 &
    echo $! >"$FAKE_SLURM/batch.pid"
    wait $!
    echo $? >"$FAKE_SLURM/batch.rc"
) &
echo "Submitted batch job 4242"
EOF
chmod 755 "$fake"/*
chown -R "$job_user:$job_group" "$fake"
export FAKE_SLURM=$work FAKE_MPIEXEC=$mpiexec PATH=$fake:$PATH CKPT_RUN=$scripts/ckpt-run
app=("$heat" --steps "$steps" --n "$side" --sleep-ms "$sleep_ms")
ckpt_dir=$work/ckpt.4242

note "run 1: TERM before the time limit, checkpoint, exit 85, requeue"
expect_ok "sbatch" as_user sbatch "$template" "${app[@]}"
wait_for 30 "batch shell" test -s "$work/batch.pid"
batch=$(<"$work/batch.pid")
started+=("$batch")
wait_ready batch "$ckpt_dir" 2
kill -TERM "$batch"
wait_for 240 "end of the batch script" test -s "$work/batch.rc"
[ "$(<"$work/batch.rc")" = 85 ] || fail "run 1 exited $(<"$work/batch.rc"), not 85: $(tail -n 5 "$work/slurm-4242.out")"
! grep -q 'ckpt-run not found' "$work/slurm-4242.out" || fail "the template did not find ckpt-run (CKPT_RUN)"
grep -qx 'scontrol requeue 4242' "$work/calls" || fail "no 'scontrol requeue 4242' after exit 85: $(cat "$work/calls")"
grep -q "^srun .* --restart auto\$" "$work/calls" || fail "the application was not run with --restart auto: $(cat "$work/calls")"
expect_checkpoint "$(as_user "$CKPT_COMMAND" latest "$ckpt_dir")"

note "run 2: the requeued job resumes and ends"
: >"$work/calls"
expect_ok "sbatch (requeued)" as_user env SLURM_RESTART_COUNT=1 sbatch "$template" "${app[@]}"
wait_for 240 "end of the requeued batch script" test -s "$work/batch.rc"
[ "$(<"$work/batch.rc")" = 0 ] || fail "run 2 exited $(<"$work/batch.rc"): $(tail -n 5 "$work/slurm-4242.out")"
! grep -q '^scontrol' "$work/calls" || fail "scontrol was called after exit 0: $(cat "$work/calls")"
[ "$(grep -c '^slurm-requeue.sbatch: job 4242 run' "$work/slurm-4242.out")" = 2 ] ||
    fail "the output of the two runs is not in one appended file"
cp "$work/slurm-4242.out" "$work/run.out"
expect_resumed run
pass
