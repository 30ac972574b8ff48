#!/usr/bin/env bash
# The ckpt demo: run `heat` to the end, run it again and SIGKILL it mid-run, resume it with
# --restart latest, and compare the two final checksums.
#   usage: examples/demo.sh [BUILD_DIR] [RANKS] [PROGRAM]   PROGRAM: heat (default) or heat_compiled
set -euo pipefail
build=${1:-build}
np=${2:-2}
heat="$build/examples/${3:-heat}"
[ -x "$heat" ] || { echo "demo: $heat not found; build first" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
heat_in() {  # heat_in DIR [extra args...]: one heat run whose checkpoints go to DIR
    local dir=$1; shift
    mpiexec -n "$np" "$heat" --steps 300 --n 96 --sleep-ms 10 --checkpoint every=25 --checkpoint-dir "$dir" "$@"
}

echo "== 1. uninterrupted run ($np ranks)"
heat_in "$work/ref" >"$work/ref.log"
tail -n 1 "$work/ref.log"

echo "== 2. same run, killed with SIGKILL once two checkpoints exist"
heat_in "$work/ckpt" >"$work/run.log" 2>&1 &
launcher=$!
for _ in $(seq 1 600); do
    [ -e "$work/ckpt/ckpt.000002.h5" ] && break
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.05
done
pkill -KILL -f -- "$work/ckpt" || true   # every rank and the launcher: as if the node died
wait "$launcher" 2>/dev/null || true
grep -c "^checkpoint" "$work/run.log" | xargs echo "   checkpoints written before the kill:"
ls "$work/ckpt"

echo "== 3. resume with --restart latest"
heat_in "$work/ckpt" --restart latest >"$work/resume.log"
grep "^restored" "$work/resume.log"
tail -n 1 "$work/resume.log"

a=$(tail -n 1 "$work/ref.log"); b=$(tail -n 1 "$work/resume.log")
if [ "$a" = "$b" ] && [[ "$a" == checksum* ]] && grep -q "^restored" "$work/resume.log"; then
    echo "demo: checksums identical: the interrupted run resumed exactly"
else
    echo "demo: checksums DIFFER: '$a' vs '$b'" >&2
    exit 1
fi
