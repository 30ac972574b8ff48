#!/usr/bin/env bash
# Writes the nm_state checkpoint at 4 ranks and reads it with h5py alone (h5py_global.py): the
# block entries are global arrays, the concatenated one a global sequence.
#   usage: h5py_reads_global_arrays.sh NM_STATE [MPIEXEC]
# Exit 77 (skipped) when no python3 with h5py is found (Debian: python3-h5py, tools/install-deps.sh);
# $PYTHON, if set, is tried first.
set -euo pipefail
program=$1 mpiexec=${2:-mpiexec}
here=$(cd "$(dirname "$0")" && pwd)
python=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import h5py, numpy' >/dev/null 2>&1; then
        python=$p
        break
    fi
done
if [ -z "$python" ]; then
    echo "h5py_reads_global_arrays: no python3 with h5py (install python3-h5py): skipping"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-h5py.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$mpiexec" -n 4 "$program" write "$work/ckpt"
"$python" "$here/h5py_global.py" "$work/ckpt"
