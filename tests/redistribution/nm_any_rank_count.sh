#!/usr/bin/env bash
# Writes the nm_state checkpoint at N ranks, then restores it at every M of the list and checks
# the global state (nm_state.cpp).   usage: nm_any_rank_count.sh NM_STATE N "M1 M2 ..."
set -euo pipefail
program=$1 n=$2 targets=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-nm.XXXXXX")
trap 'rm -rf "$work"' EXIT
mpiexec -n "$n" "$program" write "$work/ckpt"
for m in $targets; do
    echo "== written by $n, restored by $m"
    mpiexec -n "$m" "$program" read "$work/ckpt" "$n"
done
echo "nm: every rank count restored the state exactly"
