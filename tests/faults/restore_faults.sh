#!/usr/bin/env bash
# Faults during a restore (tests/faults/README.md). An I/O error while `--restart latest` opens
# the newest version is the disk's failure, not the file's: the version must not be quarantined
# (a restore on a healthy disk gets it back), and no rank may be left stranded in HDF5's
# collective open (the restore's watchdog ends it with 74 and its line).
#   restore_faults.sh RANKS
# For each point below (the first pread or lseek of the restore, on rank 0 or on every rank):
# versions 1 and 2 are written; `verify --restart latest` runs with the fault; it must end within
# the hang timeout, either restoring version 1 after skipping 2 or with 74 on every rank; then
# ckpt.000002.h5 must still be there, not renamed .bad, and a clean restore must give version 2.
set -uo pipefail
np=${1:?usage: restore_faults.sh RANKS}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
shim=${CKPT_FAULT_SHIM:?set CKPT_FAULT_SHIM to fault_shim.so}
export CKPT_STUCK_SECONDS=${CKPT_STUCK_SECONDS:-3}
hang_s=${CKPT_FAULT_HANG_SECONDS:-20}
for f in "$target" "$shim"; do [ -f "$f" ] || { echo "restore_faults.sh: missing $f" >&2; exit 64; }; done

work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-restore-faults.XXXXXX")
failed=0
trap 'if [ "$failed" = 0 ]; then rm -rf "$work"; else echo "work directory kept: $work"; fi' EXIT
fail() { echo "FAIL ($point, $np ranks): $*"; echo "--- output:"; cat "$out"; failed=1; }

points=("pread 0" "pread all" "lseek 0")
for point in "${points[@]}"; do
    read -r call rank <<<"$point"
    dir=$work/${call}-${rank}/ck
    launch "$work/write.log" 0 "$target" write 2 --checkpoint-dir "$dir"
    [ "$rc" = 0 ] && [ -f "$dir/ckpt.000002.h5" ] || { fail "could not write versions 1 and 2"; continue; }
    (
        export CKPT_FAULT_PATH=$dir CKPT_FAULT_CALL=$call CKPT_FAULT_N=1 CKPT_FAULT_ACTION=eio CKPT_FAULT_RANK=$rank
        launch "$work/fault.log" 0 -genv LD_PRELOAD "$shim" "$target" verify --checkpoint-dir "$dir" --restart latest --min 1
        echo "$rc $hung" >"$work/fault.rc"
    )
    read -r rc hung <"$work/fault.rc"
    fault_rc=$rc out=$work/fault.log
    if [ "$hung" = 1 ]; then fail "hung (backtraces: $out.bt)"; continue; fi
    ! grep -q "not a readable HDF5 file\|quarantined" "$out" || { fail "the I/O error was taken for a corrupt file"; continue; }
    if [ "$rc" != 0 ] && [ "$(grep -c "exit 74: ckpt: \|ckpt: rank [0-9]*: .*ending the job with exit status 74" "$out")" -lt "$np" ]; then
        fail "exit status $rc, but not 74 with its line on every rank"
        continue
    fi
    [ -f "$dir/ckpt.000002.h5" ] && [ ! -e "$dir/ckpt.000002.h5.bad" ] || { fail "version 2 was quarantined or lost"; continue; }
    launch "$work/clean.log" 0 "$target" verify --checkpoint-dir "$dir" --restart latest --expect 2
    out=$work/clean.log
    [ "$rc" = 0 ] || { fail "a clean restore afterwards did not give version 2"; continue; }
    if [ "$fault_rc" = 0 ]; then echo "ok: $point: restored version 1, version 2 kept"; else echo "ok: $point: 74 on every rank, version 2 kept"; fi
done
exit "$failed"
