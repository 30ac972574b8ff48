#!/usr/bin/env bash
# Runs bench_block (bench/bench_block.cpp) for the 2-D block case: the write at 4 ranks (2 x 2),
# then restores of that checkpoint at 4 ranks (2 x 2, the same N), at 2 ranks (2 x 1 and 1 x 2)
# and at 3 ranks (3 x 1), each against raw HDF5 reads of the same boxes at that rank count.
#
#   bench/block_bench.sh [-b BUILD_DIR] [-m MIB] [-r REPS] [-w WARMUP] [-d DIR] [-s]
#
#   -b  build directory holding bench/bench_block (default: build)
#   -m  MiB of doubles per rank at the write (default 256: a 16384 x 8192 global array)
#   -r  timed repetitions per run (default 5), -w untimed ones first (default 1)
#   -d  directory for the files (default: a fresh mktemp -d under $TMPDIR or /tmp); it must be on
#       the file system you care about (on tmpfs no read is cold). Removed at the end.
#   -s  also print every repetition's time
set -euo pipefail
build=build mib=256 reps=5 warmup=1 dir="" samples=()
while getopts "b:m:r:w:d:s" opt; do
    case $opt in
        b) build=$OPTARG ;;
        m) mib=$OPTARG ;;
        r) reps=$OPTARG ;;
        w) warmup=$OPTARG ;;
        d) dir=$OPTARG ;;
        s) samples=(--samples) ;;
        *) sed -n '2,14p' "$0"; exit 2 ;;
    esac
done
program=$build/bench/bench_block
[ -x "$program" ] || { echo "block_bench.sh: no $program (cmake --build $build --target bench_block)" >&2; exit 2; }
if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-bench-block.XXXXXX")
else
    mkdir -p "$dir"
fi
trap 'rm -rf "$dir"' EXIT

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
df -h "$dir" | sed 's/^/   /'
common=(--reps "$reps" --warmup "$warmup" --dir "$dir" "${samples[@]}")

echo; echo "== write at 4 ranks (2 x 2), $mib MiB per rank"
mpiexec -n 4 "$program" write --mib "$mib" --keep "${common[@]}"
for run in "4 2x2" "2 2x1" "2 1x2" "3 3x1"; do
    set -- $run
    echo; echo "== restore at $1 ranks ($2) of the 4-rank checkpoint"
    mpiexec -n "$1" "$program" read --grid "$2" "${common[@]}"
done
