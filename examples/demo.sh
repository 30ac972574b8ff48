#!/usr/bin/env bash
# The ckpt demo: run `heat` to the end on RANKS ranks, run it again and SIGKILL it mid-run,
# resume it with --restart latest on RANKS ranks, then resume the killed run again on each count
# of RESUME_RANKS, each from its own copy of the killed run's checkpoint directory. Every final
# checksum must equal the uninterrupted run's.
#   usage: examples/demo.sh [BUILD_DIR] [RANKS] [PROGRAM] [RESUME_RANKS]
#   BUILD_DIR     default build
#   RANKS         default 2: the uninterrupted and the killed run
#   PROGRAM       heat (default) or heat_compiled
#   RESUME_RANKS  space-separated rank counts; default: those of 1 2 3 other than RANKS
#                 ("" resumes on RANKS only). 1 -> 4: examples/demo.sh build 1 heat 4
# Exit status 0 and the line "demo: checksums identical..." only if every checksum matched.
set -euo pipefail
build=${1:-build}
np=${2:-2}
heat="$build/examples/${3:-heat}"
if [ $# -ge 4 ]; then
    resume_ranks=$4
else
    resume_ranks=""
    for m in 1 2 3; do [ "$m" = "$np" ] || resume_ranks+="$m "; done
fi
read -r -a others <<<"$resume_ranks"  # "" gives none
for m in "$np" "${others[@]}"; do
    [[ "$m" =~ ^[1-9][0-9]*$ ]] || { echo "demo: bad rank count \"$m\" (usage: demo.sh [BUILD_DIR] [RANKS] [PROGRAM] [RESUME_RANKS])" >&2; exit 2; }
done
[ -x "$heat" ] || { echo "demo: $heat not found; build first" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
ranks() { if [ "$1" = 1 ]; then echo "1 rank"; else echo "$1 ranks"; fi; }
heat_in() {  # heat_in RANKS DIR [extra args...]: one heat run whose checkpoints go to DIR
    local n=$1 dir=$2; shift 2
    mpiexec -n "$n" "$heat" --steps 300 --n 96 --sleep-ms 10 --checkpoint every=25 --checkpoint-dir "$dir" "$@"
}
failed=0
resume() {  # resume RANKS DIR LOG: --restart latest from DIR; the checksum must be the reference's
    local n=$1 dir=$2 log=$3 sum
    if ! heat_in "$n" "$dir" --restart latest >"$log" 2>"$log.err"; then
        echo "demo: the resume on $(ranks "$n") FAILED:" >&2
        cat "$log" "$log.err" >&2
        failed=1
        return
    fi
    grep "^restored" "$log" || { echo "demo: the resume on $(ranks "$n") restored nothing" >&2; failed=1; }
    sum=$(grep "^checksum" "$log" | tail -n 1 || true)
    if [ "$sum" = "$ref" ]; then
        echo "   $sum on $(ranks "$n"): same"
    else
        echo "demo: checksums DIFFER on $(ranks "$n"): '$ref' vs '$sum'" >&2
        failed=1
    fi
}

echo "== 1. uninterrupted run ($(ranks "$np"))"
heat_in "$np" "$work/ref" >"$work/ref.log"
ref=$(tail -n 1 "$work/ref.log")
echo "$ref"
[[ "$ref" == checksum* ]] || { echo "demo: the uninterrupted run printed no checksum" >&2; exit 1; }

echo "== 2. same run, killed with SIGKILL once two checkpoints exist"
heat_in "$np" "$work/ckpt" >"$work/run.log" 2>&1 &
launcher=$!
for _ in $(seq 1 600); do
    [ -e "$work/ckpt/ckpt.000002.h5" ] && break
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.05
done
pkill -KILL -f -- "$work/ckpt" || true   # every rank and the launcher: as if the node died
wait "$launcher" 2>/dev/null || true
echo "   checkpoints written before the kill: $(grep -c "^checkpoint" "$work/run.log" || true)"
ls "$work/ckpt"
if grep -q "^checksum" "$work/run.log"; then
    echo "demo: the run ended before it was killed" >&2
    exit 1
fi
i=0
for _ in "${others[@]}"; do i=$((i + 1)); cp -r "$work/ckpt" "$work/copy-$i"; done  # before any resume writes

echo "== 3. resume with --restart latest ($(ranks "$np"))"
resume "$np" "$work/ckpt" "$work/resume.log"

list=""  # RESUME_RANKS in words: "1, 2 and 3 ranks"
for ((k = 0; k < ${#others[@]}; k++)); do
    if [ "$k" -eq 0 ]; then sep=""; elif [ "$k" -eq $((${#others[@]} - 1)) ]; then sep=" and "; else sep=", "; fi
    list+="$sep${others[k]}"
done
if [ -n "$list" ]; then
    list=$(ranks "$list")
    echo "== 4. resume the killed run on $list, each from its own copy of its checkpoints"
    i=0
    for m in "${others[@]}"; do i=$((i + 1)); resume "$m" "$work/copy-$i" "$work/resume-$i.log"; done
fi

if [ "$failed" -eq 0 ]; then
    echo "demo: checksums identical: the interrupted run resumed exactly on $(ranks "$np")${list:+, and on $list}"
else
    echo "demo: FAILED: see above" >&2
    exit 1
fi
