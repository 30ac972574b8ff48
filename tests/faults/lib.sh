# Shared by fault_matrix.sh and bitflip.sh (sourced). Runs MPI jobs with a hang timeout, takes
# backtraces of every rank of a hung job before killing it, and sorts out how each job ended.
#
# Needs: np, work, target, mpiexec, hang_s. Sets after `launch`: rc, hung (0|1), out (log path).

# Every descendant of a pid (the launcher -> hydra's proxy -> the ranks), from /proc (no procps).
descendants() {
    awk -v root="$1" '
        { line = $0; pid = $1; sub(/.*\) /, "", line); split(line, f, " "); parent[pid] = f[2] }
        END { n = 1; q[1] = root; for (i = 1; i <= n; i++) for (p in parent) if (parent[p] == q[i]) { q[++n] = p; print p } }
    ' /proc/[0-9]*/stat 2>/dev/null
}

# Backtraces of every thread of every rank of the job under launcher pid $1.
backtraces() {
    local p name rank
    for p in "$1" $(descendants "$1"); do
        name=$(cat "/proc/$p/comm" 2>/dev/null) || continue
        case $name in hydra* | mpiexec* | timeout | sleep) continue ;; esac
        rank=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^PMI_RANK=//p')
        echo "---- pid $p ($name), rank ${rank:--}"
        timeout -s KILL 60 gdb -p "$p" -batch -nx -ex 'set pagination off' -ex 'thread apply all bt' 2>&1 |
            grep -E '^(Thread|#)' || echo "(gdb could not attach)"
    done
}

# launch LOG CLEANUP COMMAND...: runs `mpiexec -n $np COMMAND` in its own process group with the
# environment already exported by the caller. CLEANUP=0 passes -disable-auto-cleanup, so a rank
# that exits early leaves the others running: a hang is then seen as a hang instead of being
# cleaned up by hydra. After $hang_s seconds the job is a hang: backtraces go to LOG.bt, then the
# whole process group is killed.
launch() {
    out=$1
    local cleanup=$2
    shift 2
    local flags=()
    [ "$cleanup" = 0 ] && flags=(-disable-auto-cleanup)
    watch "$out" "$mpiexec" "${flags[@]}" -n "$np" "$@"
}

# watch LOG COMMAND...: the same for any command (its own process group, $hang_s seconds, then
# backtraces of it and its descendants to LOG.bt and SIGKILL to the group). Sets rc and hung.
watch() {
    out=$1
    shift
    setsid "$@" >"$out" 2>&1 </dev/null &
    local job=$! timer finished=
    sleep "$hang_s" &
    timer=$!
    wait -n -p finished "$job" "$timer"
    rc=$?
    if [ "$finished" = "$job" ]; then
        hung=0
        kill "$timer" 2>/dev/null
        wait "$timer" 2>/dev/null
    else
        hung=1
        backtraces "$job" >"$out.bt" 2>&1
        # hydra puts its proxy and every rank in a session of their own: kill each by pid.
        local pids
        pids=$(descendants "$job")
        kill -KILL -- "-$job" $pids 2>/dev/null
        wait "$job" 2>/dev/null
        rc=124
    fi
    return 0
}

# What the launcher said about ranks that died: "signal 11", "exit code 139" ... (empty: none).
launcher_deaths() {
    {
        grep -oE 'EXIT STRING: [^(]*\(signal [0-9]+\)' "$1" | sed -E 's/.*\((signal [0-9]+)\)/\1/'
        grep -oE 'Caught signal [0-9]+' "$1" | sed 's/Caught //'  # UCX's handler: also in a job that then hung
        grep -oE 'EXIT CODE: [0-9]+' "$1" | sed 's/EXIT CODE: /exit code /'
    } | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# The ranks' statuses from CKPT_FAULT_STATUS_DIR ($1), "-" for a rank that wrote none.
statuses() {
    local r s=()
    for ((r = 0; r < np; r++)); do
        if [ -s "$1/status.$r" ]; then s+=("$(cat "$1/status.$r")"); else s+=("-"); fi
    done
    echo "${s[*]}"
}

# A short description of the common outcome of statuses "$1": "74", "0", or "mixed: 0 74 -".
common_status() {
    local first=${1%% *} s
    for s in $1; do [ "$s" = "$first" ] || { echo "mixed: $1"; return; }; done
    echo "$first"
}

signal_name() {  # "signal 11" -> "SIGSEGV"
    local n=${1#signal }
    case $n in
    [0-9]*) echo "SIG$(kill -l "$n" 2>/dev/null || echo "$n")" ;;
    *) echo "$1" ;;
    esac
}

# Where the ranks that crashed were, from the backtraces UCX prints for a fatal signal (MPICH's
# libucs), innermost first: "H5F__close_cb < H5I_clear_type < ... < PMPI_Finalize".
crash_frames() {
    grep -E '^ *[0-9]+ +/' "$1" | grep -oE '\([A-Za-z_][A-Za-z0-9_]*\+0x' | tr -d '(+x' | sed 's/0$//' |
        grep -v -E '^(ucs_|__libc_start|_start$)' | awk '!seen[$0]++' | head -n 8 | paste -sd'<' - | sed 's/</ < /g'
}

# Where each rank of a hung job waits, from backtraces(): the main thread's innermost named
# frames, "rank 0: PMPI_Allreduce < PMPI_File_open < H5FD_open < H5Fcreate < ...; rank 1: ...".
hang_frames() {
    awk '
        /^---- pid/ { if (f != "") out = out (out == "" ? "" : "; ") "rank " r ": " f; r = $NF; f = ""; main = 0; k = 0; next }
        /^Thread / { main = ($2 == "1"); next }
        main && /^#/ {
            line = $0
            sub(/^#[0-9]+ +/, "", line)
            sub(/^0x[0-9a-f]+ in /, "", line)
            name = line
            sub(/ \(.*/, "", name)
            sub(/\(.*/, "", name)
            if (name == "??" || name ~ /^(ucp_|uct_|ucs_|epoll|poll|__)/ || k >= 7) next
            f = f (k++ ? " < " : "") name
        }
        END { if (f != "") out = out (out == "" ? "" : "; ") "rank " r ": " f; print out }
    ' "$1"
}

# The programs both drivers run, from the environment CTest sets (fault_tests.cmake).
target=${CKPT_FAULT_TARGET:?set CKPT_FAULT_TARGET to the fault_target program}
ckpt=${CKPT_COMMAND:?set CKPT_COMMAND to the ckpt command}
mpiexec=${CKPT_TEST_MPIEXEC:-mpiexec}
