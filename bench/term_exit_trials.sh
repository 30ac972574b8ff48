#!/bin/bash
# term_exit_trials.sh: how often a TERM'd job's exit status 85 reaches the job script, through
# `ckpt-run mpiexec` and through plain `mpiexec` (MPICH 4.0's hydra may report 0 instead: MPICH
# issue 7057). Each trial starts examples/heat under the launcher, waits until every rank holds
# its pid file (its handlers are installed), sends TERM to the launched process (ckpt-run, or
# mpiexec), and records the status the launching shell sees. See bench/README.md.
#
#   bench/term_exit_trials.sh [-n TRIALS] [-b BUILD_DIR] [-d DELAY] [RANKS...]
#     -n  trials per launcher and rank count (default 50)
#     -b  the build directory with examples/heat (default build)
#     -d  seconds between "every rank is ready" and TERM (default 0.2)
#     RANKS: rank counts (default 1 2 4 8; MPICH oversubscribes a small machine without asking)
#   MPIEXEC: the launcher (default mpiexec). Exit status: 0 when every ckpt-run trial saw 85.
set -u
here=$(cd "$(dirname "$0")" && pwd)
trials=50 build=build delay=0.2
while getopts n:b:d: opt; do
    case $opt in
        n) trials=$OPTARG ;;
        b) build=$OPTARG ;;
        d) delay=$OPTARG ;;
        *) echo "usage: $0 [-n TRIALS] [-b BUILD_DIR] [-d DELAY] [RANKS...]" >&2; exit 64 ;;
    esac
done
shift $((OPTIND - 1))
[ "$#" -gt 0 ] || set -- 1 2 4 8
heat=$build/examples/heat
case $heat in /*) ;; *) heat=$PWD/$heat ;; esac
[ -x "$heat" ] || { echo "term_exit_trials.sh: no $heat: build the heat target, or give -b BUILD_DIR" >&2; exit 66; }
ckpt_run=$here/../tools/scripts/ckpt-run
mpiexec=${MPIEXEC:-mpiexec}
work=$(mktemp -d "${TMPDIR:-/tmp}/term-trials.XXXXXX") || exit 70
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 70

descendants() {  # PID and all its descendants (ranks live in sessions of their own)
    local d st out=("$1") i=0
    local -A kids=()
    for d in /proc/[0-9]*; do
        st=$(cat "$d/stat" 2>/dev/null) || continue
        st=${st##*) }
        st=${st#* }
        kids[${st%% *}]+=" ${d#/proc/}"
    done
    while [ "$i" -lt "${#out[@]}" ]; do
        # shellcheck disable=SC2206 # pids are words
        out+=(${kids[${out[$i]}]:-})
        i=$((i + 1))
    done
    echo "${out[@]}"
}

# trial LAUNCHER RANKS N: prints the status the shell saw, or "hung" / "early" (heat ended or
# never got ready before the TERM); creates $work/said if rank 0 logged leaving with 85.
trial() {
    local dir=$work/$1.$2.$3 pid i state
    local cmd=("$mpiexec" -n "$2" "$heat" --steps 1000000 --n 64 --sleep-ms 10 --checkpoint-dir "$dir")
    [ "$1" = plain ] || cmd=("$ckpt_run" "${cmd[@]}")
    "${cmd[@]}" >"$dir.log" 2>&1 </dev/null &
    pid=$!
    for ((i = 0; i < 1200; i++)); do  # 60 s
        [ "$(find "$dir/.ckpt" -maxdepth 1 -name 'pid.*' 2>/dev/null | wc -l)" -ge "$2" ] && break
        sleep 0.05
    done
    if [ "$i" -eq 1200 ] || [ ! -e "/proc/$pid" ]; then
        # shellcheck disable=SC2046 # pids are words
        kill -KILL $(descendants "$pid") 2>/dev/null
        wait "$pid" 2>/dev/null
        echo early
        return
    fi
    sleep "$delay"
    kill -TERM "$pid"
    for ((i = 0; i < 2400; i++)); do  # 120 s for the checkpoint and the exit
        state=$(sed 's/.*) //; s/ .*//' "/proc/$pid/stat" 2>/dev/null)
        if [ -z "$state" ] || [ "$state" = Z ]; then break; fi
        sleep 0.05
    done
    if [ "$i" -eq 2400 ]; then
        # shellcheck disable=SC2046 # pids are words
        kill -KILL $(descendants "$pid") 2>/dev/null
        wait "$pid" 2>/dev/null
        echo hung
        return
    fi
    wait "$pid"
    echo $?
    # what rank 0 said it left with: the truth the launcher should report
    grep -q '^ckpt: leaving at step [0-9]* with exit status 85 after writing' "$dir.log" && echo 85 >"$work/said"
    rm -rf "$dir" "$dir.log"
}

echo "TERM trials: $trials per launcher and rank count, heat ($heat), $mpiexec, TERM ${delay}s after every rank is ready"
failed=0
summary=()
for np in "$@"; do
    for launcher in ckpt-run plain; do
        declare -A seen=()
        got=0 left=0
        start=$SECONDS
        for ((t = 1; t <= trials; t++)); do
            rm -f "$work/said"
            s=$(trial "$launcher" "$np" "$t")
            seen[$s]=$((${seen[$s]:-0} + 1))
            [ "$s" != 85 ] || got=$((got + 1))
            [ ! -e "$work/said" ] || left=$((left + 1))
        done
        others=
        for s in "${!seen[@]}"; do [ "$s" = 85 ] || others="$others $s:${seen[$s]}"; done
        if [ "$launcher" = plain ]; then name="mpiexec"; else name="ckpt-run mpiexec"; fi
        line=$(printf '%-16s -n %s: %2d of %d saw 85 (ranks left with 85: %d)%s, %d s' "$name" "$np" "$got" "$trials" \
            "$left" "${others:+; other statuses (status:count)$others}" $((SECONDS - start)))
        echo "$line"
        summary+=("$line")
        if [ "$launcher" = ckpt-run ] && [ "$got" -ne "$trials" ]; then failed=1; fi
        unset seen
    done
done
echo "RESULT $(for l in "${summary[@]}"; do printf '%s; ' "$l"; done)"
exit "$failed"
