#!/usr/bin/env bash
# Bit flips: one flipped bit per copy of a committed checkpoint, all over the file (README.md).
#   usage: bitflip.sh RANKS [quick|full]
# Environment (set by CTest): CKPT_FAULT_TARGET, CKPT_COMMAND, CKPT_TEST_MPIEXEC.
# Optional: CKPT_FAULT_HANG_SECONDS (default 10), CKPT_FAULT_KEEP=1, CKPT_BITFLIP_OFFSETS="o[:bit] ..."
# (only these flips; bit defaults to o % 8), CKPT_FAULT_DETAILS=N (output of the first N failing flips, default 5).
#
# quick: the superblock, the start of every object header and continuation chunk, the global
# heap's header and first objects (the variable-length strings of ckpt.argv), and a stride
# over the whole file: 150 to 210 flips. full: every byte (bit o % 8).
# For every flip, (a) a restore of the copy (`fault_target verify --restart COPY`, same ranks) and
# (b) `ckpt verify COPY` must each be one of:
#   intact    success, and the restore gave exactly the values written
#   meta      restore succeeded with exactly the values written, but the file's sequence number
#             attribute differs (ckpt does not checksum it): reported, not a failure
#   detected  exit 65, every rank's message (or verify's output) naming the copy
# Anything else fails: HANG (backtraces printed), CRASH (a signal, "infinite loop closing
# library", an unexpected status, ranks that disagree), EXIT74 (corruption reported as an I/O
# error), WRONG (a restore that succeeded with other values), MSG (65 without naming the file).
set -uo pipefail
np=${1:?usage: bitflip.sh RANKS [quick|full]}
level=${2:-quick}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
hang_s=${CKPT_FAULT_HANG_SECONDS:-10}
case $level in quick | full) ;; *) echo "bitflip.sh: level must be quick or full" >&2; exit 64 ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-bitflip.XXXXXX")
failed=0
finish() {
    if [ "$failed" = 0 ] && [ "${CKPT_FAULT_KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "work directory kept: $work"; fi
}
trap finish EXIT
status_dir=$work/status
mkdir -p "$status_dir" "$work/flip" "$work/failures"
export CKPT_FAULT_STATUS_DIR=$status_dir

launch "$work/write.log" 0 "$target" write 1 --small --checkpoint-dir "$work/ck"
original=$work/ck/ckpt.000001.h5
if [ "$rc" != 0 ] || [ ! -f "$original" ]; then
    echo "FAIL: writing the checkpoint: exit $rc"; cat "$work/write.log"; failed=1; exit 1
fi
size=$(stat -c %s "$original")
copy=$work/flip/ckpt.000001.h5

byte_at() { od -An -tu1 -j "$1" -N1 "$original" | tr -d ' '; }
le64_at() {  # little-endian unsigned 64-bit integer at offset $1
    local b v=0 i
    read -ra b < <(od -An -tu1 -j "$1" -N8 "$original")
    for ((i = 7; i >= 0; i--)); do v=$((v * 256 + ${b[i]:-0})); done
    echo "$v"
}
signatures() { grep -obUa "$1" "$original" | cut -d: -f1; }

# The structures, for the quick selection and for the per-region summary.
declare -a region_start region_end region_name
add_region() { region_start+=("$1"); region_end+=("$2"); region_name+=("$3"); }
add_region 0 48 superblock
gcol=()
for o in $(signatures GCOL); do
    len=$(le64_at $((o + 8)))
    [ "$len" -gt 0 ] && [ $((o + len)) -le "$size" ] || len=4096
    add_region "$o" $((o + len)) "global heap"
    gcol+=("$o")
done
ohdr=()
for o in $(signatures OHDR); do
    flags=$(byte_at $((o + 5)))
    p=$((o + 6))
    (((flags & 32) != 0)) && p=$((p + 16))
    (((flags & 16) != 0)) && p=$((p + 4))
    w=$((1 << (flags & 3)))
    chunk=0
    for ((i = w - 1; i >= 0; i--)); do chunk=$((chunk * 256 + $(byte_at $((p + i))))); done
    add_region "$o" $((p + w + chunk + 4)) "object header"
    ohdr+=("$o")
done
ochk=()
for o in $(signatures OCHK); do ochk+=("$o"); done
for ((k = 0; k < ${#ochk[@]}; k++)); do  # a chunk runs to the next structure (at most 1 KiB)
    o=${ochk[k]}
    e=$((o + 1024))
    for s in "${ohdr[@]}" "${ochk[@]}" "${gcol[@]}"; do [ "$s" -gt "$o" ] && [ "$s" -lt "$e" ] && e=$s; done
    add_region "$o" "$e" "continuation chunk"
done
region_of() {
    local x=$1 k
    for ((k = ${#region_start[@]} - 1; k >= 0; k--)); do
        [ "$x" -ge "${region_start[k]}" ] && [ "$x" -lt "${region_end[k]}" ] && { echo "${region_name[k]}"; return; }
    done
    echo "data or free"
}

# The flips: "offset:bit".
declare -A chosen
flips=()
choose() { [ "$1" -lt "$size" ] && [ -z "${chosen[$1]:-}" ] && { chosen[$1]=1; flips+=("$1:${2:-$(($1 % 8))}"); }; return 0; }
if [ -n "${CKPT_BITFLIP_OFFSETS:-}" ]; then
    for f in $CKPT_BITFLIP_OFFSETS; do choose "${f%%:*}" "$([[ $f == *:* ]] && echo "${f#*:}")"; done
elif [ "$level" = full ]; then
    for ((o = 0; o < size; o++)); do choose "$o"; done
else
    for ((o = 0; o < 48; o += 4)); do choose "$o"; done                      # superblock
    for o in "${ohdr[@]:0:3}"; do for d in 0 4 5 6 8 12; do choose $((o + d)); done; done
    for o in "${ohdr[@]:3}"; do for d in 5 9; do choose $((o + d)); done; done
    for o in "${ochk[@]}"; do for d in 0 6; do choose $((o + d)); done; done
    for o in "${gcol[@]}"; do                                                  # the global heap
        for ((d = 0; d < 40; d++)); do choose $((o + d)) $(((d * 5 + 7) % 8)); done
        for ((d = 40; d < 400; d += 24)); do choose $((o + d)); done
    done
    stride=$(((size + 59) / 60))
    for ((o = 7; o < size; o += stride)); do choose "$o"; done
fi

flip_copy() {  # offset bit
    cp "$original" "$copy"
    local b
    b=$(byte_at "$1")
    printf "$(printf '\\%03o' $((b ^ (1 << $2))))" | dd of="$copy" bs=1 seek="$1" conv=notrunc status=none
}

# (a) the restore. Sets outcome, detail.
classify_restore() {
    local st common deaths sig frames r lines bad=""
    st=$(statuses "$status_dir")
    common=$(common_status "$st")
    deaths=$(launcher_deaths "$out")
    detail="statuses [$st]"
    if grep -q 'infinite loop closing library' "$out"; then outcome=CRASH; detail+=", HDF5: infinite loop closing library"; return; fi
    sig=$(echo "$deaths" | grep -oE 'signal [0-9]+' | head -n 1 || true)
    if [ -n "$sig" ] || [ -n "$deaths" ]; then
        outcome=CRASH
        [ -n "$sig" ] && detail+=" ($(signal_name "$sig"))"
        frames=$(crash_frames "$out")
        [ -n "$frames" ] && detail+=" in $frames"
        [ "$hung" = 1 ] && detail+=", and the other ranks hung: $(hang_frames "$out.bt")"
        return
    fi
    if [ "$hung" = 1 ]; then outcome=HANG; detail+=": $(hang_frames "$out.bt")"; return; fi
    case $common in
    0) outcome=intact; detail="" ;;
    5) outcome=meta; detail="sequence attribute altered, data intact" ;;
    65)
        for ((r = 0; r < np; r++)); do
            lines=$(grep -cF "fault_target: rank $r: exit 65: " "$out")
            [ "$lines" = 1 ] || bad+=" rank $r printed $lines messages;"
            grep -F "fault_target: rank $r: exit 65: " "$out" | grep -qF "[file \"$copy\"" || bad+=" rank $r's message does not name the file;"
        done
        if [ -z "$bad" ]; then outcome=detected; detail=""; else outcome=MSG; detail="65, but${bad%;}"; fi
        ;;
    74) outcome=EXIT74; detail="$(grep -m1 'exit 74:' "$out" | cut -c1-300)" ;;
    3 | 4) outcome=WRONG; detail="$(grep -m1 -E 'WRONG|OLD' "$out")" ;;
    *)
        outcome=CRASH
        if [[ $common == mixed* ]]; then detail+=", ranks disagree"; else detail+=", unexpected status $common"; fi
        ;;
    esac
}

# (b) ckpt verify. Sets voutcome, vdetail.
classify_verify() {
    vdetail=""
    if [ "$hung" = 1 ]; then voutcome=HANG; vdetail="$(hang_frames "$out.bt")"; return; fi
    if grep -q 'infinite loop closing library' "$out"; then voutcome=CRASH; vdetail="HDF5: infinite loop closing library"; return; fi
    if [ "$rc" -ge 128 ]; then
        voutcome=CRASH
        vdetail="$(signal_name "signal $((rc - 128))")"
        local frames
        frames=$(crash_frames "$out")
        [ -n "$frames" ] && vdetail+=" in $frames"
        return
    fi
    case $rc in
    0) voutcome=intact ;;
    65)
        if grep -qF "$copy" "$out"; then voutcome=detected; else voutcome=MSG; vdetail="65 without naming the file"; fi
        ;;
    74) voutcome=EXIT74; vdetail="$(grep -m1 . "$out" | cut -c1-300)" ;;
    *) voutcome=CRASH; vdetail="unexpected status $rc: $(grep -m1 . "$out" | cut -c1-200)" ;;
    esac
}

declare -A tally
failures=()
notes=()
started=$SECONDS
echo "checkpoint written by $np rank(s): $size bytes; ${#ohdr[@]} object headers, ${#ochk[@]} continuation chunks, ${#gcol[@]} global heap(s); ${#flips[@]} flips"
for f in "${flips[@]}"; do
    o=${f%%:*} bit=${f#*:}
    region=$(region_of "$o")
    flip_copy "$o" "$bit"
    rm -f "$status_dir"/status.*
    launch "$work/restore.log" 0 "$target" verify --small --checkpoint-dir "$work/none" --restart "$copy" --expect 1
    classify_restore
    r_out=$outcome r_detail=$detail
    watch "$work/verify.log" "$ckpt" verify "$copy"
    classify_verify
    tally[restore,$r_out]=$((${tally[restore,$r_out]:-0} + 1))
    tally[verify,$voutcome]=$((${tally[verify,$voutcome]:-0} + 1))
    tally[$region,$r_out]=$((${tally[$region,$r_out]:-0} + 1))
    tally[$region,v$voutcome]=$((${tally[$region,v$voutcome]:-0} + 1))
    line=$(printf 'offset %6d bit %d %-19s restore %-8s verify %-8s' "$o" "$bit" "($region)" "$r_out" "$voutcome")
    [ "$r_out" = detected ] && [ "$voutcome" = intact ] && notes+=("offset $o bit $bit ($region): the restore fails (65), ckpt verify says ok")
    bad=0
    case $r_out in intact | meta | detected) ;; *) bad=1 ;; esac
    case $voutcome in intact | detected) ;; *) bad=1 ;; esac
    if [ "$bad" = 1 ]; then
        failed=1
        failures+=("$line ${r_detail:+ restore: $r_detail}${vdetail:+ verify: $vdetail}")
        echo "$line"
        [ -n "$r_detail" ] && echo "    restore: $r_detail"
        [ -n "$vdetail" ] && echo "    verify: $vdetail"
        d=$work/failures/offset-$o-bit-$bit
        mkdir -p "$d"
        cp "$copy" "$work"/restore.log* "$work"/verify.log* "$d/" 2>/dev/null
        # The first few in full (CTest cuts long output); all are kept in $work/failures.
        [ "${#failures[@]}" -le "${CKPT_FAULT_DETAILS:-5}" ] || { rm -f "$work"/restore.log.* "$work"/verify.log.*; continue; }
        case $r_out in intact | meta | detected) ;; *) grep -v '^$' "$work/restore.log" | head -n 30 | sed 's/^/    | /' ;; esac
        [ -s "$work/restore.log.bt" ] && sed 's/^/    | /' "$work/restore.log.bt"
        case $voutcome in intact | detected) ;; *) grep -v '^$' "$work/verify.log" | head -n 30 | sed 's/^/    | /' ;; esac
        [ -s "$work/verify.log.bt" ] && sed 's/^/    | /' "$work/verify.log.bt"
    elif [ "$level" = quick ] || [ "${CKPT_FAULT_VERBOSE:-0}" = 1 ]; then
        echo "$line"
    fi
    rm -f "$work"/restore.log.* "$work"/verify.log.*
done

elapsed=$((SECONDS - started))
outcomes="intact meta detected HANG CRASH EXIT74 WRONG MSG"
echo
echo "==== bit flips, $np rank(s), $level: ${#flips[@]} flips of a $size-byte file in ${elapsed}s"
for who in restore verify; do
    line="  $who:"
    for o in $outcomes; do [ "${tally[$who,$o]:-0}" -gt 0 ] && line+=" $o ${tally[$who,$o]}"; done
    echo "$line"
done
echo "  per region (restore / ckpt verify):"
for region in superblock "object header" "continuation chunk" "global heap" "data or free"; do
    line=$(printf '    %-19s' "$region")
    for o in $outcomes; do [ "${tally[$region,$o]:-0}" -gt 0 ] && line+=" $o ${tally[$region,$o]}"; done
    line+="  /"
    for o in $outcomes; do [ "${tally[$region,v$o]:-0}" -gt 0 ] && line+=" $o ${tally[$region,v$o]}"; done
    echo "$line"
done
if [ "${#notes[@]}" -gt 0 ]; then
    echo "notes (not failures): ${#notes[@]}"
    printf '  %s\n' "${notes[@]}" | head -n 50
fi
if [ "${#failures[@]}" -gt 0 ]; then
    echo "failing flips: ${#failures[@]} (the first ${CKPT_FAULT_DETAILS:-5} in full above; logs and copies of all in $work/failures)"
    printf '  %s\n' "${failures[@]}"
fi
exit "$failed"
