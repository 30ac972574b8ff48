#!/usr/bin/env bash
# Real signals to a real MPI job: the `heat` example under mpiexec, signalled mid-run.
#   usage: heat_signals.sh BUILD_DIR RANKS CASE
# CASE: usr1 | term | term_without_shutdown | every_depth | interval_depth | enospc | enospc_data | bad_options
#       | async_same_result | async_kill9 | async_term | async_eio_one_rank | async_stuck | async_enospc
#       | cache_resume (node caches on 2 simulated nodes, docs/multilevel.md)
#       (asynchronous checkpoints, docs/async.md; kill9, term, eio and stuck need CKPT_FAULT_SHIM,
#       tests/faults/fault_shim.c)
# `mpiexec -disable-auto-cleanup`: MPICH 4.0's hydra (Debian 12) sometimes reports 0 instead of
# the ranks' common exit status when several ranks exit non-zero together (MPICH issue 7057).
set -euo pipefail
build=$1 np=$2 case=$3
heat="$build/examples/heat"
work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-signals.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL ($case, $np ranks): $*" >&2; exit 1; }
run() { mpiexec -disable-auto-cleanup -n "$np" "$heat" "$@"; }
args=(--steps 400 --n 64 --sleep-ms 10)

# Start heat in the background; return once every rank has its pid file (the handlers are in place).
start() {
    local dir=$1; shift
    # mpiexec itself, not a subshell running `run`: the signal must reach the launcher.
    mpiexec -disable-auto-cleanup -n "$np" "$heat" "${args[@]}" --checkpoint-dir "$dir" "$@" >"$work/run.log" 2>&1 &
    job=$!
    for _ in $(seq 1 600); do
        [ "$(find "$dir/.ckpt" -name 'pid.*' 2>/dev/null | wc -l)" -ge "$np" ] && return 0
        kill -0 "$job" 2>/dev/null || fail "heat ended before it was signalled: $(cat "$work/run.log")"
        sleep 0.05
    done
    fail "no pid files in $dir/.ckpt after 30 s"
}
# MPICH 4.0's mpiexec (Debian 12) sometimes reports 0 although every rank exited with the same
# non-zero status (MPICH issue 7057, a race in hydra). What the library did is in its own log
# line; a 0 from mpiexec is accepted only when that line says the ranks left with the status.
finish() {
    set +e; wait "$job"; status=$?; set -e
    local said
    said=$(sed -n 's/^ckpt: leaving at step [0-9-]* with exit status \([0-9]*\).*/\1/p' "$work/run.log" | head -n 1)
    if [ "$status" = 0 ] && [ -n "$said" ] && [ "$said" != 0 ]; then
        echo "note: mpiexec reported 0, the ranks left with $said (MPICH issue 7057)"
        status=$said
    fi
}
versions() { (cd "$1" && ls ckpt.*.h5 2>/dev/null | tr '\n' ' '); }
reference() { run "${args[@]}" --checkpoint none | tail -n 1; }

case $case in
usr1)  # checkpoint and continue: a new version, and the same result as an undisturbed run
    ref=$(reference)
    start "$work/ck"
    sleep 0.5
    kill -USR1 "$job"
    finish
    [ "$status" = 0 ] || fail "exit $status after USR1, expected 0: $(cat "$work/run.log")"
    [ "$(versions "$work/ck")" = "ckpt.000001.h5 " ] || fail "versions after USR1: '$(versions "$work/ck")'"
    grep -q "^checkpoint at step" "$work/run.log" || fail "no checkpoint reported: $(cat "$work/run.log")"
    [ "$(tail -n 1 "$work/run.log")" = "$ref" ] || fail "checksum $(tail -n 1 "$work/run.log") != $ref"
    echo "usr1: checkpointed and continued to $ref" ;;
term)  # shutdown: checkpoint, exit 85, resume to the same result
    ref=$(reference)
    start "$work/ck"
    sleep 0.5
    kill -TERM "$job"
    finish
    [ "$status" = 85 ] || fail "exit $status after TERM, expected 85: $(cat "$work/run.log")"
    [ "$(versions "$work/ck")" = "ckpt.000001.h5 " ] || fail "versions after TERM: '$(versions "$work/ck")'"
    [ -z "$(find "$work/ck" -name '*.tmp')" ] || fail "a temporary was left behind"
    run "${args[@]}" --checkpoint-dir "$work/ck" --restart latest >"$work/resume.log"
    grep -q "^restored step" "$work/resume.log" || fail "resume did not restore: $(cat "$work/resume.log")"
    [ "$(tail -n 1 "$work/resume.log")" = "$ref" ] || fail "resumed checksum $(tail -n 1 "$work/resume.log") != $ref"
    echo "term: exit 85, resumed to $ref" ;;
term_without_shutdown)  # exit 128+15 at the next safe point, nothing new written, old versions intact
    run --steps 40 --n 64 --checkpoint every=20 --checkpoint-dir "$work/ck" >/dev/null
    before=$(cd "$work/ck" && md5sum ckpt.*.h5)
    start "$work/ck" --checkpoint enabled --restart latest
    sleep 0.5
    kill -TERM "$job"
    finish
    [ "$status" = 143 ] || fail "exit $status after TERM without shutdown, expected 143: $(cat "$work/run.log")"
    after=$(cd "$work/ck" && md5sum ckpt.*.h5)
    [ "$before" = "$after" ] || fail "versions changed: before '$before' after '$after'"
    echo "term_without_shutdown: exit 143, versions untouched" ;;
every_depth)  # every=10 over 50 steps writes 5 versions; depth=3 keeps the newest 3
    run --steps 50 --n 64 --checkpoint every=10,depth=3 --checkpoint-dir "$work/ck" >"$work/run.log"
    [ "$(grep -c '^checkpoint at step' "$work/run.log")" = 5 ] || fail "$(cat "$work/run.log")"
    [ "$(versions "$work/ck")" = "ckpt.000003.h5 ckpt.000004.h5 ckpt.000005.h5 " ] ||
        fail "versions: '$(versions "$work/ck")'"
    echo "every_depth: $(versions "$work/ck")" ;;
interval_depth)  # interval=1s over about 4 s writes several versions; depth=2 keeps 2
    run --steps 200 --n 64 --sleep-ms 20 --checkpoint interval=1s,depth=2 --checkpoint-dir "$work/ck" >"$work/run.log"
    written=$(grep -c '^checkpoint at step' "$work/run.log" || true)
    [ "$written" -ge 2 ] || fail "only $written periodic checkpoints in about 4 s: $(cat "$work/run.log")"
    [ "$(ls "$work/ck" | grep -c '^ckpt\..*\.h5$')" = 2 ] || fail "kept: '$(versions "$work/ck")'"
    last=$(printf 'ckpt.%06d.h5' "$written")
    [ -e "$work/ck/$last" ] || fail "newest $last missing: '$(versions "$work/ck")'"
    echo "interval_depth: $written written, kept $(versions "$work/ck")" ;;
enospc|enospc_data|enospc_compressed)  # the shutdown checkpoint hits a full disk: exit 74, older versions intact, nothing left
    # enospc: no room even for the metadata reserve, so the write fails before HDF5 opens a file.
    # enospc_data: room for the metadata, not for the data, so the collective data write fails
    # and the ranks close a half-written file together (the path that hung in HDF5 1.10 before).
    # enospc_compressed: as enospc_data, with the grid compressed (lz4): its collective write
    # must not meet the full disk, so its room is reserved first, and that reserve fails cleanly.
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root to mount a small tmpfs"; exit 77; }
    case $case in
        enospc) side=64 size=1m leave=20 expect="reserving" ;;
        enospc_data) side=512 size=8m leave=1024 expect="H5Dwrite" ;;
        *) side=512 size=8m leave=1024 expect="reserving"; export CKPT_COMPRESSION=lz4 ;;
    esac
    args=(--steps 400 --n "$side" --sleep-ms 10)
    mkdir "$work/small"
    mount -t tmpfs -o size=$size tmpfs "$work/small" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
    trap 'umount "$work/small" 2>/dev/null; rm -rf "$work"' EXIT
    run --steps 20 --n "$side" --checkpoint every=10 --checkpoint-dir "$work/small/ck" >/dev/null
    before=$(cd "$work/small/ck" && md5sum ckpt.*.h5)
    # Fill the disk, leaving $leave KiB: the pid files take a page per rank, the job lock one more.
    avail=$(df --output=avail -k "$work/small" | tail -n 1)
    dd if=/dev/zero of="$work/small/filler" bs=1k count=$((avail - leave)) 2>/dev/null || true
    start "$work/small/ck" --restart latest
    sleep 0.5
    kill -TERM "$job"
    finish
    [ "$status" = 74 ] || fail "exit $status after TERM on a full disk, expected 74: $(cat "$work/run.log")"
    grep -q "shutdown checkpoint failed: $expect.*No space left on device" "$work/run.log" ||
        fail "no warning naming '$expect' and ENOSPC: $(cat "$work/run.log")"
    after=$(cd "$work/small/ck" && md5sum ckpt.*.h5)
    [ "$before" = "$after" ] || fail "versions changed: before '$before' after '$after'"
    left=$(cd "$work/small/ck" && ls | grep -v '^ckpt\.00000[12]\.h5$' || true)
    [ -z "$left" ] || fail "left on the full disk: $left"
    echo "$case: exit 74 ($expect failed), versions intact, nothing left" ;;
bad_options)  # exit 64 naming the option or variable and the value; 66 and 65 for restarts
    expect() {  # expect STATUS NEEDLE... -- env/args
        local want=$1; shift
        local needles=()
        while [ "$1" != -- ]; do needles+=("$1"); shift; done; shift
        set +e; env "$@" >"$work/out" 2>&1; local got=$?; set -e
        [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$work/out")"
        for n in "${needles[@]}"; do grep -qF -- "$n" "$work/out" || fail "'$*' does not say '$n': $(cat "$work/out")"; done
    }
    d=(--checkpoint-dir "$work/ck")
    expect 64 --checkpoint bogus -- "$heat" --steps 1 --checkpoint bogus "${d[@]}"
    expect 64 interval= -12 -- "$heat" --steps 1 --checkpoint interval=-12 "${d[@]}"
    expect 64 CKPT_INTERVAL 10x -- CKPT_INTERVAL=10x "$heat" --steps 1 "${d[@]}"
    expect 64 CKPT_SIGNAL FOO -- CKPT_SIGNAL=FOO "$heat" --steps 1 "${d[@]}"
    expect 64 CKPT_TERM_SIGNALS KILL -- CKPT_TERM_SIGNALS=TERM,KILL "$heat" --steps 1 "${d[@]}"
    expect 64 CKPT_EXIT_CODE 300 -- CKPT_EXIT_CODE=300 "$heat" --steps 1 "${d[@]}"
    expect 64 CKPT_END_TIME soon -- CKPT_END_TIME=soon "$heat" --steps 1 "${d[@]}"
    expect 64 --restart -- "$heat" --steps 1 --restart "${d[@]}"
    expect 66 "--restart latest" -- "$heat" --steps 1 --restart latest "${d[@]}"
    "$heat" --steps 4 --n 16 --checkpoint every=2 "${d[@]}" >/dev/null
    truncate -s 100 "$work/ck/ckpt.000002.h5"
    expect 65 ckpt.000002.h5 -- "$heat" --steps 4 --n 16 --restart 2 "${d[@]}"
    echo "bad_options: every bad value exits with its contract status and names itself" ;;
async_same_result)  # every=20,async: the same result as without; a resume from the newest version matches too
    ref=$(reference)
    run "${args[@]}" --checkpoint every=20,async,depth=3 --checkpoint-dir "$work/ck" >"$work/run.log"
    [ "$(tail -n 1 "$work/run.log")" = "$ref" ] || fail "async checksum $(tail -n 1 "$work/run.log") != $ref"
    [ "$(versions "$work/ck")" = "ckpt.000018.h5 ckpt.000019.h5 ckpt.000020.h5 " ] ||
        fail "versions: '$(versions "$work/ck")'"
    [ -z "$(find "$work/ck" -name '*.tmp')" ] || fail "a temporary was left behind"
    rm "$work/ck/ckpt.000020.h5"  # resume from step 380, not from the end
    run "${args[@]}" --checkpoint-dir "$work/ck" --checkpoint none --restart latest >"$work/resume.log"
    grep -q "^restored step 380" "$work/resume.log" || fail "resume did not restore step 380: $(cat "$work/resume.log")"
    [ "$(tail -n 1 "$work/resume.log")" = "$ref" ] || fail "resumed checksum $(tail -n 1 "$work/resume.log") != $ref"
    echo "async_same_result: 20 asynchronous versions, the same result $ref, resumed to it" ;;
async_kill9)  # rank 1 killed (SIGKILL, by the shim) inside the third background flush's fsync
    [ -n "${CKPT_FAULT_SHIM:-}" ] || fail "CKPT_FAULT_SHIM is not set"
    ref=$(reference)
    # Each version costs rank 1 two fsyncs of its .h5.tmp: HDF5's metadata flush, on the
    # application's thread, then the worker's, after its pwrites (rank 0 has a third, the
    # commit's). Rank 1's 6th is version 3's worker; the launcher then ends every rank.
    set +e
    env LD_PRELOAD="$CKPT_FAULT_SHIM" CKPT_FAULT_PATH=.h5.tmp CKPT_FAULT_CALL=fsync CKPT_FAULT_N=6 \
        CKPT_FAULT_ACTION=kill CKPT_FAULT_RANK=1 \
        mpiexec -n "$np" "$heat" "${args[@]}" --checkpoint every=20,async,depth=5 --checkpoint-dir "$work/ck" \
        >"$work/run.log" 2>&1
    status=$?
    set -e
    [ "$status" != 0 ] || fail "the killed job exited 0: $(cat "$work/run.log")"
    grep -q "fault_shim: rank .*: fsync #6 .*: kill" "$work/run.log" || fail "the shim did not kill: $(cat "$work/run.log")"
    [ "$(versions "$work/ck")" = "ckpt.000001.h5 ckpt.000002.h5 " ] || fail "versions after the kill: '$(versions "$work/ck")'"
    [ -e "$work/ck/ckpt.000003.h5.tmp" ] || fail "no temporary of the version in flight: $(ls -a "$work/ck")"
    run "${args[@]}" --checkpoint-dir "$work/ck" --checkpoint none --restart latest >"$work/resume.log"
    grep -q "^restored step 40" "$work/resume.log" || fail "resume did not restore step 40: $(cat "$work/resume.log")"
    [ "$(tail -n 1 "$work/resume.log")" = "$ref" ] || fail "resumed checksum $(tail -n 1 "$work/resume.log") != $ref"
    echo "async_kill9: killed in version 3's flush; versions 1 and 2 intact, resumed from step 40 to $ref" ;;
async_term)  # TERM while a flush waits on a slow fsync (the shim sleeps 3 s in it): exit 85, both versions durable
    # Version 1 at step 20 sleeps in its fsync; the periodic ones due meanwhile are skipped
    # (async_busy=skip); the TERM's shutdown checkpoint waits for version 1, then is version 2.
    [ -n "${CKPT_FAULT_SHIM:-}" ] || fail "CKPT_FAULT_SHIM is not set"
    ref=$(reference)
    export LD_PRELOAD="$CKPT_FAULT_SHIM" CKPT_FAULT_PATH=.h5.tmp CKPT_FAULT_CALL=fsync CKPT_FAULT_N=2 \
        CKPT_FAULT_ACTION=delay CKPT_FAULT_DELAY_MS=3000 CKPT_FAULT_RANK=all
    start "$work/ck" --checkpoint every=20,async,async_busy=skip,depth=5
    sleep 1
    kill -TERM "$job"
    finish
    unset LD_PRELOAD
    [ "$status" = 85 ] || fail "exit $status after TERM during a flush, expected 85: $(cat "$work/run.log")"
    grep -q "fault_shim: rank .*: fsync #2 .*: delay" "$work/run.log" || fail "the shim did not delay: $(cat "$work/run.log")"
    grep -q "with exit status 85 after writing .*ckpt.000002.h5" "$work/run.log" || fail "no shutdown version: $(cat "$work/run.log")"
    grep -q "skipped a checkpoint at step 40: 1 asynchronous checkpoint is still being written (async_busy=skip)" \
        "$work/run.log" || fail "no skip at step 40: $(cat "$work/run.log")"
    [ "$("$CKPT_COMMAND" info "$work/ck/ckpt.000001.h5" | sed -n 's/^step  *\([0-9]*\)$/\1/p')" = 20 ] ||
        fail "version 1 is not step 20: $("$CKPT_COMMAND" info "$work/ck/ckpt.000001.h5")"
    [ "$(versions "$work/ck")" = "ckpt.000001.h5 ckpt.000002.h5 " ] || fail "versions after TERM: '$(versions "$work/ck")'"
    [ -z "$(find "$work/ck" -name '*.tmp')" ] || fail "a temporary was left behind"
    "$CKPT_COMMAND" verify "$work/ck" >/dev/null || fail "ckpt verify of the directory failed"
    run "${args[@]}" --checkpoint-dir "$work/ck" --restart latest >"$work/resume.log"
    [ "$(tail -n 1 "$work/resume.log")" = "$ref" ] || fail "resumed checksum $(tail -n 1 "$work/resume.log") != $ref"
    echo "async_term: exit 85 after the flush in flight and the shutdown checkpoint, both durable; resumed to $ref" ;;
cache_resume)  # SIGKILL a rank of a job with node caches; resume from the caches, the partner copies, the shared directory
    # 2 simulated nodes; every=20 to the caches, every 3rd version also to the shared directory.
    export CKPT_SIMULATED_NODES=2
    ref=$(reference)
    cache="$work/cache"
    complete() {  # the newest version with every rank's part in each of the given node caches
        local newest=0 seq
        for seq in $(seq 1 20); do
            local all=1 node
            for node in "$@"; do
                [ "$(find "$cache/$node" -name "$(printf 'ckpt.%06d' "$seq").rank*.h5" 2>/dev/null | wc -l)" = "$np" ] || all=0
            done
            [ "$all" = 1 ] && newest=$seq
        done
        echo "$newest"
    }
    start "$work/ck" --checkpoint "every=20,cache=$cache,flush=3,depth=3"
    for _ in $(seq 1 600); do [ "$(complete node1)" -ge 5 ] && break; sleep 0.05; done
    [ "$(complete node1)" -ge 5 ] || fail "no 5th version in node 1's cache: $(ls -R "$cache")"
    # Every rank SIGKILLed at once (mpiexec -disable-auto-cleanup would leave the others running).
    for f in "$work"/ck/.ckpt/pid.*; do kill -KILL "$(cat "$f")" 2>/dev/null || true; done
    set +e; wait "$job"; status=$?; set -e
    [ "$status" != 0 ] || fail "the killed job exited 0: $(cat "$work/run.log")"
    resume() { run "${args[@]}" --checkpoint-dir "$work/ck" --checkpoint "none,cache=$cache" --restart latest >"$work/resume.log" 2>&1 ||
                   fail "resume failed: $(cat "$work/resume.log")"
               [ "$(tail -n 1 "$work/resume.log")" = "$ref" ] || fail "resumed checksum $(tail -n 1 "$work/resume.log") != $ref"; }
    # 1. Both caches: the newest version whose every rank's own part is in its own node's cache
    #    (a copy is sent only once the part is committed, so no newer one is complete), nothing fetched.
    v=0
    for seq in $(seq 1 20); do
        all=1
        for r in $(seq 0 $((np - 1))); do
            [ -e "$cache/node$((r * 2 / np))/$(printf 'ckpt.%06d' "$seq").rank$r.h5" ] || all=0
        done
        [ "$all" = 1 ] && v=$seq
    done
    resume
    grep -q "^ckpt: restored version $v from the node caches$" "$work/resume.log" ||
        fail "not restored from the caches at version $v: $(cat "$work/resume.log")"
    grep -q "^restored step $((20 * v)) " "$work/resume.log" || fail "not step $((20 * v)): $(cat "$work/resume.log")"
    # 2. Node 0's cache lost: its ranks' parts come from their partners on node 1, and are put back.
    rm -rf "$cache/node0"
    v=$(complete node1)
    resume
    grep -q "^ckpt: restored version $v from the node caches ($((np / 2)) of $np parts from partner copies)$" "$work/resume.log" ||
        fail "not restored from partner copies at version $v: $(cat "$work/resume.log")"
    [ "$(find "$cache/node0" -name "$(printf 'ckpt.%06d' "$v").rank*.h5" | wc -l)" = "$((np / 2))" ] ||
        fail "node 0's parts were not put back: $(ls "$cache/node0")"
    # 3. Every cache lost: the newest version in the shared directory (a multiple of 3).
    rm -rf "$cache"
    last=$(cd "$work/ck" && ls ckpt.*.h5 | tail -n 1 | sed 's/^ckpt\.0*\([0-9]*\)\.h5$/\1/')
    [ $((last % 3)) = 0 ] || fail "shared versions are not every 3rd: $(versions "$work/ck")"
    resume
    grep -q "node caches" "$work/resume.log" && fail "restored from a cache that is gone: $(cat "$work/resume.log")"
    grep -q "^restored step $((20 * last)) " "$work/resume.log" || fail "not step $((20 * last)): $(cat "$work/resume.log")"
    echo "cache_resume: killed at version >= 5; resumed from the caches, from partner copies, from the shared version $last, each to $ref" ;;
async_eio_one_rank)  # rank 1's background fsync fails (EIO): the same error on every rank, 74, nothing left
    [ -n "${CKPT_FAULT_SHIM:-}" ] || fail "CKPT_FAULT_SHIM is not set"
    set +e
    env LD_PRELOAD="$CKPT_FAULT_SHIM" CKPT_FAULT_PATH=.h5.tmp CKPT_FAULT_CALL=fsync CKPT_FAULT_N=2 \
        CKPT_FAULT_ACTION=eio CKPT_FAULT_RANK=1 \
        mpiexec -disable-auto-cleanup -n "$np" "$heat" "${args[@]}" --checkpoint every=20,async \
        --checkpoint-dir "$work/ck" >"$work/run.log" 2>&1
    status=$?
    set -e
    [ "$status" = 74 ] || fail "exit $status after a background EIO on rank 1, expected 74: $(cat "$work/run.log")"
    grep -q "fault_shim: rank 1: fsync #2 .*: EIO" "$work/run.log" || fail "the shim did not fail: $(cat "$work/run.log")"
    grep -q "fsync of an asynchronous checkpoint's file failed: Input/output error (failed on 1 of $np ranks; first: rank 1)" \
        "$work/run.log" || fail "not rank 1's error, agreed: $(cat "$work/run.log")"
    [ -z "$(versions "$work/ck")" ] || fail "a version was committed: '$(versions "$work/ck")'"
    [ -z "$(find "$work/ck" -name '*.tmp')" ] || fail "the failed version's temporary was left behind"
    echo "async_eio_one_rank: rank 1's EIO ended every rank with 74, nothing committed, nothing left" ;;
async_stuck)  # the background fsync does not return (the shim sleeps 20 s in it): the watchdog ends every rank with 74
    [ -n "${CKPT_FAULT_SHIM:-}" ] || fail "CKPT_FAULT_SHIM is not set"
    set +e
    env LD_PRELOAD="$CKPT_FAULT_SHIM" CKPT_FAULT_PATH=.h5.tmp CKPT_FAULT_CALL=fsync CKPT_FAULT_N=2 \
        CKPT_FAULT_ACTION=delay CKPT_FAULT_DELAY_MS=20000 CKPT_FAULT_RANK=all CKPT_STUCK_SECONDS=2 \
        timeout -s KILL 60 mpiexec -disable-auto-cleanup -n "$np" "$heat" --steps 2000 --n 64 --sleep-ms 10 \
        --checkpoint every=20,async --checkpoint-dir "$work/ck" >"$work/run.log" 2>&1
    status=$?
    set -e
    stuck="made no progress for 2 s (a write or fsync of the background thread does not return: the file system is stuck); ending the job with exit status 74"
    lines=$(grep -c "^ckpt: rank [0-9]*: the background write of .*ckpt.000001.h5.tmp $stuck" "$work/run.log" || true)
    [ "$lines" = "$np" ] || fail "$lines of $np ranks said their background write was stuck: $(cat "$work/run.log")"
    ! grep -qi "BAD TERMINATION\|Segmentation\|Aborted\|terminate called" "$work/run.log" || fail "a rank died badly: $(cat "$work/run.log")"
    # Every rank has said it ends with 74, and _exit(74) follows its line at once. What hydra then
    # reports for ranks that leave together is not always their status: 0 (MPICH issue 7057),
    # and, seen once in a dozen runs under ctest -j2, 1.
    if [ "$status" = 0 ] || [ "$status" = 1 ]; then
        echo "note: mpiexec reported $status, every rank said 74 (MPICH issue 7057): $(cat "$work/run.log")"
        status=74
    fi
    [ "$status" = 74 ] || fail "exit $status with a stuck background write, expected 74: $(cat "$work/run.log")"
    [ -z "$(versions "$work/ck")" ] || fail "a version was committed: '$(versions "$work/ck")'"
    echo "async_stuck: every rank's watchdog ended it with 74 within the budget" ;;
async_enospc)  # a background write hits a full disk: exit 74 on every rank, older versions intact, nothing left
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root to mount a small tmpfs"; exit 77; }
    args=(--steps 400 --n 512 --sleep-ms 10)
    mkdir "$work/small"
    mount -t tmpfs -o size=8m tmpfs "$work/small" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
    trap 'umount "$work/small" 2>/dev/null; rm -rf "$work"' EXIT
    run --steps 20 --n 512 --checkpoint every=10 --checkpoint-dir "$work/small/ck" >/dev/null
    before=$(cd "$work/small/ck" && md5sum ckpt.*.h5)
    avail=$(df --output=avail -k "$work/small" | tail -n 1)
    dd if=/dev/zero of="$work/small/filler" bs=1k count=$((avail - 1024)) 2>/dev/null || true
    set +e
    run "${args[@]}" --checkpoint every=5,async --checkpoint-dir "$work/small/ck" --restart latest >"$work/run.log" 2>&1
    status=$?
    set -e
    [ "$status" = 74 ] || fail "exit $status after a background ENOSPC, expected 74: $(cat "$work/run.log")"
    grep -q "pwrite of an asynchronous checkpoint's data failed: No space left on device" "$work/run.log" ||
        fail "no error naming the background pwrite and ENOSPC: $(cat "$work/run.log")"
    [ "$(grep -c "No space left on device" "$work/run.log")" -ge 1 ] || fail "$(cat "$work/run.log")"
    after=$(cd "$work/small/ck" && md5sum ckpt.*.h5)
    [ "$before" = "$after" ] || fail "versions changed: before '$before' after '$after'"
    left=$(cd "$work/small/ck" && ls | grep -v '^ckpt\.00000[12]\.h5$' || true)
    [ -z "$left" ] || fail "left on the full disk: $left"
    echo "async_enospc: exit 74 on every rank, versions intact, nothing left" ;;
*) fail "unknown case" ;;
esac
