# ckpt-functions.sh: shell functions shared by the ckpt batch-system scripts (sourced, never run).
# shellcheck shell=sh
# shellcheck disable=SC2034,SC2154 # results for, and ckpt_script_dir from, the sourcing script
#
# POSIX sh, plus what every Linux batch node has: /proc, GNU coreutils (stat -c, mv -T, mktemp),
# awk and util-linux setpriv. Every function and variable starts with ckpt_ (internals: _ck_), so
# a caller's names are never clobbered. See docs/batch-systems.md for the design.

ckpt_prog=${0##*/}

# ckpt_die CODE MESSAGE...: one line on stderr, then exit with CODE.
ckpt_die() {
    _ck_code=$1
    shift
    printf '%s: %s\n' "$ckpt_prog" "$*" >&2
    exit "$_ck_code"
}

# ckpt_warn MESSAGE...: one line on stderr.
ckpt_warn() { printf '%s: warning: %s\n' "$ckpt_prog" "$*" >&2; }

# ckpt_is_uint STRING: true for a decimal number without sign.
ckpt_is_uint() {
    case $1 in '' | *[!0-9]*) return 1 ;; esac
    [ "${#1}" -le 18 ]
}

# ckpt_quote STRING: prints STRING single-quoted for sh (any bytes but NUL, newlines included).
ckpt_quote() {
    _ck_q=$(printf '%sx' "$1" | sed "s/'/'\\\\''/g")
    printf "'%s'" "${_ck_q%x}"
}

# ckpt_check_name NAME WHAT: a checkpoint name is a file-name prefix: not empty, no '/', no
# leading '.', no newline.
ckpt_check_name() {
    case $1 in
        '' | - | .* | */* | *'
'*) ckpt_die 64 "bad $2 \"$1\": a file-name prefix without '/' and not starting with '.' is expected" ;;
    esac
}

# ckpt_self PATH: sets ckpt_self to an absolute path of the running script, so that it can be
# executed again after dropping privileges.
ckpt_self() {
    case $1 in
        /*) ckpt_self=$1 ;;
        */*) ckpt_self=$PWD/$1 ;;
        *) ckpt_self=$(command -v -- "$1") || ckpt_die 70 "cannot find myself ($1) on PATH" ;;
    esac
}

# ckpt_find_command: (ckpt_script_dir: where the sourcing script lives) sets ckpt_bin to the ckpt command: $CKPT_COMMAND, else the one installed
# beside these scripts (<prefix>/share/ckpt/../../bin/ckpt), else ckpt on PATH.
ckpt_find_command() {
    if [ -n "${CKPT_COMMAND:-}" ]; then
        ckpt_bin=$CKPT_COMMAND
    elif [ -x "$ckpt_script_dir/../../bin/ckpt" ]; then
        ckpt_bin=$ckpt_script_dir/../../bin/ckpt
    else
        ckpt_bin=$(command -v ckpt) || ckpt_die 69 "the ckpt command was not found: set CKPT_COMMAND or put ckpt on PATH"
    fi
    [ -x "$ckpt_bin" ] || ckpt_die 69 "the ckpt command $ckpt_bin is not executable"
}

# ckpt_wait_seconds: sets ckpt_wait from CKPT_WAIT (seconds a hook waits for the job's answer).
ckpt_wait_seconds() {
    ckpt_wait=${CKPT_WAIT:-1800}
    if ! ckpt_is_uint "$ckpt_wait" || [ "$ckpt_wait" -eq 0 ]; then
        ckpt_die 64 "bad CKPT_WAIT \"$ckpt_wait\": a number of seconds greater than 0 is expected"
    fi
}

# ckpt_become USER GROUP COMMAND...: as root, executes COMMAND as USER and GROUP (names or
# numbers; GROUP '-' is the user's login group) with setpriv, so that no file is ever touched as
# root. The job's user may not be root. Not as root: checks that we already are USER and returns.
ckpt_become() {
    _ck_user=$1 _ck_group=$2
    shift 2
    if [ -z "$_ck_user" ] || [ "$_ck_user" = - ]; then ckpt_die 64 "no user_id given"; fi
    if ckpt_is_uint "$_ck_user"; then
        _ck_uid=$_ck_user
    else
        _ck_uid=$(id -u -- "$_ck_user" 2>/dev/null) || ckpt_die 67 "unknown user \"$_ck_user\""
    fi
    _ck_pw=$(getent passwd "$_ck_uid") || _ck_pw=
    if [ "$(id -u)" -ne 0 ]; then
        [ "$(id -u)" -eq "$_ck_uid" ] ||
            ckpt_die 77 "running as uid $(id -u): must run as root or as the job's user \"$_ck_user\" (uid $_ck_uid)"
        return 0
    fi
    [ "$_ck_uid" -ne 0 ] || ckpt_die 77 "refusing to act for user \"$_ck_user\": the job's user may not be root"
    if [ -z "$_ck_group" ] || [ "$_ck_group" = - ]; then
        [ -n "$_ck_pw" ] || ckpt_die 67 "user \"$_ck_user\" has no passwd entry: give group_id"
        _ck_gid=$(printf '%s\n' "$_ck_pw" | cut -d: -f4)
    elif ckpt_is_uint "$_ck_group"; then
        _ck_gid=$_ck_group
    else
        _ck_gid=$(getent group "$_ck_group" | cut -d: -f3)
        [ -n "$_ck_gid" ] || ckpt_die 67 "unknown group \"$_ck_group\""
    fi
    [ "$_ck_gid" -ne 0 ] || ckpt_die 77 "refusing to act with group \"$_ck_group\": the job's group may not be root"
    if [ -n "$_ck_pw" ]; then
        _ck_name=$(printf '%s\n' "$_ck_pw" | cut -d: -f1)
        _ck_home=$(printf '%s\n' "$_ck_pw" | cut -d: -f6)
        exec env HOME="$_ck_home" USER="$_ck_name" LOGNAME="$_ck_name" \
            setpriv --reuid="$_ck_uid" --regid="$_ck_gid" --init-groups -- "$@"
    fi
    exec setpriv --reuid="$_ck_uid" --regid="$_ck_gid" --clear-groups -- "$@"
}

# ckpt_check_dir DIR: DIR must be a directory we can trust: if it is a symbolic link, the link
# belongs to us or root; the directory belongs to us or root and is not writable by others
# unless sticky. Everything later is written by us, never by root.
ckpt_check_dir() {
    _ck_me=$(id -u)
    if [ -L "$1" ]; then
        _ck_owner=$(stat -c %u -- "$1") || ckpt_die 74 "cannot stat $1"
        [ "$_ck_owner" = "$_ck_me" ] || [ "$_ck_owner" = 0 ] ||
            ckpt_die 77 "refusing $1: a symbolic link owned by uid $_ck_owner, not by uid $_ck_me or root"
    fi
    [ -d "$1" ] || ckpt_die 66 "$1 is not a directory"
    _ck_st=$(stat -L -c '%u %a' -- "$1") || ckpt_die 74 "cannot stat $1"
    _ck_owner=${_ck_st% *} _ck_mode=${_ck_st#* }
    [ "$_ck_owner" = "$_ck_me" ] || [ "$_ck_owner" = 0 ] ||
        ckpt_die 77 "refusing $1: owned by uid $_ck_owner, not by uid $_ck_me or root"
    if [ $((0$_ck_mode & 022)) -ne 0 ] && [ $((0$_ck_mode & 01000)) -eq 0 ]; then
        ckpt_die 77 "refusing $1: writable by others (mode $_ck_mode) and not sticky"
    fi
}

# ckpt_own_file FILE: true if FILE is a regular file (not a symbolic link) that belongs to us.
ckpt_own_file() { [ -f "$1" ] && [ ! -L "$1" ] && [ -O "$1" ]; }

# ckpt_checkpoints DIR NAME: the complete checkpoints DIR/NAME.<seq>.h5 (regular files of ours,
# never a .tmp), one path a line, newest (highest sequence number) first.
ckpt_checkpoints() {
    for _ck_f in "$1/$2".*.h5; do
        ckpt_own_file "$_ck_f" || continue
        _ck_seq=${_ck_f#"$1/$2".}
        _ck_seq=${_ck_seq%.h5}
        ckpt_is_uint "$_ck_seq" || continue
        printf '%s\t%s\n' "$_ck_seq" "$_ck_f"
    done | sort -t "$(printf '\t')" -k1,1nr | cut -f2-
}

# ckpt_pick_checkpoint DIR NAME: sets ckpt_file to the newest checkpoint of NAME in DIR that
# `ckpt verify` accepts; older ones are tried when a newer one is corrupt.
ckpt_pick_checkpoint() {
    ckpt_file=''
    _ck_list=$(ckpt_checkpoints "$1" "$2")
    [ -n "$_ck_list" ] || ckpt_die 66 "no complete checkpoint $1/$2.<seq>.h5"
    _ck_bad=''
    while IFS= read -r _ck_f; do
        if "$ckpt_bin" verify "$_ck_f" >/dev/null 2>&1; then
            ckpt_file=$_ck_f
            break
        fi
        _ck_bad="$_ck_bad ${_ck_f##*/}"
    done <<EOF
$_ck_list
EOF
    [ -n "$ckpt_file" ] || ckpt_die 65 "no valid checkpoint of $2 in $1 (ckpt verify rejected:$_ck_bad)"
    [ -z "$_ck_bad" ] || ckpt_warn "skipped invalid checkpoints:$_ck_bad"
}

# ckpt_procs FIELD ID: pids of the processes whose process group (FIELD 3) or session (FIELD 4)
# is ID, ID itself first. Fields are counted after the command name of /proc/PID/stat.
ckpt_procs() {
    _ck_field=$1 _ck_id=$2
    [ -d "/proc/$_ck_id" ] && printf '%s\n' "$_ck_id"
    for _ck_d in /proc/[0-9]*; do
        [ "${_ck_d#/proc/}" != "$_ck_id" ] || continue
        read -r _ck_s 2>/dev/null <"$_ck_d/stat" || continue
        _ck_s=${_ck_s##*) }
        # shellcheck disable=SC2086 # splitting the stat fields is the point
        set -- $_ck_s
        [ "$#" -ge 4 ] || continue
        if [ "$_ck_field" = 3 ]; then _ck_v=$3; else _ck_v=$4; fi
        [ "$_ck_v" != "$_ck_id" ] || printf '%s\n' "${_ck_d#/proc/}"
    done
}

# ckpt_descendants PID...: the pids given and all their descendants, one a line.
ckpt_descendants() {
    for _ck_d in /proc/[0-9]*; do
        read -r _ck_s 2>/dev/null <"$_ck_d/stat" || continue
        _ck_s=${_ck_s##*) }
        _ck_pp=${_ck_s#* }
        printf '%s %s\n' "${_ck_d#/proc/}" "${_ck_pp%% *}"
    done | awk -v roots="$*" '
        { parent[$1] = $2 }
        END {
            n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
            for (changed = 1; changed;) {
                changed = 0
                for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 }
            }
            for (p in keep) print p
        }'
}

# ckpt_control_dirs PID...: the checkpoint directories whose control directory (<dir>/.ckpt) these
# processes hold a pid file of, one a line.
ckpt_control_dirs() {
    for _ck_p in "$@"; do
        for _ck_fd in /proc/"$_ck_p"/fd/*; do
            _ck_t=$(readlink "$_ck_fd" 2>/dev/null) || continue
            case $_ck_t in */.ckpt/pid.*) printf '%s\n' "${_ck_t%/.ckpt/pid.*}" ;; esac
        done
    done | sort -u
}

# ckpt_selector FIELD ID: sets ckpt_selector_args to what `ckpt request` needs to reach the job of
# process group (FIELD 3) or session (FIELD 4) ID: --pgid/--session ID when a process of it uses
# a control directory; otherwise the checkpoint directory that its descendants use (MPICH's
# hydra_pmi_proxy starts every rank in a session and process group of its own).
ckpt_selector() {
    if [ "$1" = 3 ]; then _ck_opt=--pgid; else _ck_opt=--session; fi
    ckpt_selector_args="$_ck_opt $2"
    # shellcheck disable=SC2046 # pids are words
    set -- $(ckpt_procs "$1" "$2")
    [ "$#" -gt 0 ] || return 0
    [ -z "$(ckpt_control_dirs "$@")" ] || return 0
    # shellcheck disable=SC2046 # pids are words
    _ck_dirs=$(ckpt_control_dirs $(ckpt_descendants "$@"))
    case $_ck_dirs in
        '' | *'
'*) ;;
        *) ckpt_selector_args=$(ckpt_quote "$_ck_dirs") ;;
    esac
}

# ckpt_find_launch FIELD ID: finds the ckpt-run launch record (and stdin copy) that a process
# of the session (FIELD 4) or process group (FIELD 3) ID holds open; sets ckpt_launch_fd and
# ckpt_stdin_fd to their /proc/<pid>/fd/<n> paths. False if none.
ckpt_find_launch() {
    ckpt_launch_fd='' ckpt_stdin_fd=''
    for _ck_p in $(ckpt_procs "$1" "$2"); do
        for _ck_fd in /proc/"$_ck_p"/fd/*; do
            _ck_t=$(readlink "$_ck_fd" 2>/dev/null) || continue
            case ${_ck_t% (deleted)} in
                */ckpt-run.*/launch) ckpt_launch_fd=$_ck_fd ;;
                */ckpt-run.*/stdin) ckpt_stdin_fd=$_ck_fd ;;
            esac
        done
        [ -n "$ckpt_launch_fd" ] && return 0
        ckpt_stdin_fd=''
    done
    return 1
}

# ckpt_stage_launch FIELD ID DIR PREFIX: copies the job's launch record (and stdin copy) into
# private temporary files in DIR; ckpt_commit_launch later renames them to PREFIX.launch and
# PREFIX.stdin, ckpt_discard_launch removes them. Staged before the checkpoint, because a job
# asked to exit is gone afterwards.
ckpt_stage_launch() {
    ckpt_staged_launch='' ckpt_staged_stdin='' ckpt_stage_prefix=$4
    ckpt_find_launch "$1" "$2" || return 0
    ckpt_staged_launch=$(mktemp "$3/.ckpt-launch.XXXXXXXX" 2>/dev/null) || ckpt_die 74 "cannot write in $3"
    cat -- "$ckpt_launch_fd" 2>/dev/null >"$ckpt_staged_launch" || ckpt_die 74 "cannot copy the job's launch record into $3"
    if [ -n "$ckpt_stdin_fd" ]; then
        ckpt_staged_stdin=$(mktemp "$3/.ckpt-stdin.XXXXXXXX" 2>/dev/null) || ckpt_die 74 "cannot write in $3"
        cat -- "$ckpt_stdin_fd" 2>/dev/null >"$ckpt_staged_stdin" || ckpt_die 74 "cannot copy the job's standard input into $3"
    fi
}
ckpt_commit_launch() {
    if [ -n "$ckpt_staged_launch" ]; then
        mv -fT -- "$ckpt_staged_launch" "$ckpt_stage_prefix.launch" 2>/dev/null || ckpt_die 74 "cannot write $ckpt_stage_prefix.launch"
        ckpt_staged_launch=''
    fi
    if [ -n "$ckpt_staged_stdin" ]; then
        mv -fT -- "$ckpt_staged_stdin" "$ckpt_stage_prefix.stdin" 2>/dev/null || ckpt_die 74 "cannot write $ckpt_stage_prefix.stdin"
        ckpt_staged_stdin=''
    fi
}
ckpt_discard_launch() {
    [ -z "${ckpt_staged_launch:-}" ] || rm -f -- "$ckpt_staged_launch"
    [ -z "${ckpt_staged_stdin:-}" ] || rm -f -- "$ckpt_staged_stdin"
}

# ckpt_request ARGS...: runs `ckpt request ARGS`; on failure dies with one line that carries the
# last line ckpt printed on stderr.
ckpt_request() {
    _ck_msg=$({ "$ckpt_bin" request "$@" >/dev/null; } 2>&1)
    _ck_rc=$?
    [ "$_ck_rc" -eq 0 ] && return 0
    _ck_msg=$(printf '%s\n' "$_ck_msg" | sed -n '$p')
    ckpt_die 1 "checkpoint request failed (ckpt request exit $_ck_rc): ${_ck_msg:-no message}"
}

# ckpt_load_launch FILE: reads a ckpt-run launch record (a file of ours). Sets ckpt_run_cwd,
# ckpt_run_via (arg or env), ckpt_run_stdin (copy or inherit), ckpt_run_stdout, ckpt_run_stderr,
# and ckpt_run_envq / ckpt_run_argq, the environment (NAME=VALUE) and the command line as lists
# quoted for `eval "set -- ..."`.
ckpt_load_launch() {
    ckpt_own_file "$1" || ckpt_die 77 "refusing $1: not a regular file of uid $(id -u)"
    ckpt_run_format='' ckpt_run_cwd='' ckpt_run_via=arg ckpt_run_stdin=inherit
    ckpt_run_stdout='' ckpt_run_stderr='' ckpt_run_envq='' ckpt_run_argq=''
    # shellcheck disable=SC2317 # called by the record
    ckpt_run_env() { ckpt_run_envq="$ckpt_run_envq $(ckpt_quote "$1")"; }
    # shellcheck disable=SC2317 # called by the record
    ckpt_run_arg() { ckpt_run_argq="$ckpt_run_argq $(ckpt_quote "$1")"; }
    # shellcheck disable=SC1090 # a record written by ckpt-run, read as its owner, never as root
    . "$1" || ckpt_die 65 "cannot read the launch record $1"
    if [ "$ckpt_run_format" != 1 ] || [ -z "$ckpt_run_argq" ] || [ -z "$ckpt_run_cwd" ]; then
        ckpt_die 65 "$1 is not a ckpt-run launch record (format 1)"
    fi
}

# ckpt_load_info FILE: when no launch record exists, recovers the command from the checkpoint
# itself (`ckpt info --json`: its argv, cwd and rank count). Sets ckpt_run_cwd, ckpt_run_argq
# (prefixed with `${CKPT_MPIEXEC:-mpiexec} -n N` when the job had N > 1 ranks), ckpt_run_via=arg,
# and keeps the current environment.
ckpt_load_info() {
    _ck_json=$("$ckpt_bin" info --json "$1" 2>/dev/null) ||
        ckpt_die 65 "no launch record, and ckpt info --json $1 failed"
    _ck_parsed=$(printf '%s\n' "$_ck_json" | ckpt_json_fields) ||
        ckpt_die 65 "no launch record, and ckpt info --json $1 has no argv"
    eval "$_ck_parsed"
    if [ -z "$ckpt_run_argq" ] || [ -z "$ckpt_run_cwd" ]; then
        ckpt_die 65 "no launch record, and $1 records no argv or cwd"
    fi
    if ckpt_is_uint "${_ck_ranks:-}" && [ "$_ck_ranks" -gt 1 ]; then
        ckpt_run_argq="$(ckpt_quote "${CKPT_MPIEXEC:-mpiexec}") '-n' '$_ck_ranks' $ckpt_run_argq"
    fi
    ckpt_run_via=arg ckpt_run_stdin=inherit ckpt_run_stdout='' ckpt_run_stderr='' ckpt_run_envq=''
}

# ckpt_json_fields: reads `ckpt info --json` on stdin; prints sh assignments of ckpt_run_argq
# (the top-level "argv" array, quoted), ckpt_run_cwd and _ck_ranks (top-level "ranks").
ckpt_json_fields() {
    awk -v q="'" '
    function sq(s) { gsub(q, q "\\\\" q q, s); return q s q }
    function utf8(c) {
        if (c < 128) return sprintf("%c", c)
        if (c < 2048) return sprintf("%c%c", 192 + int(c / 64), 128 + c % 64)
        if (c < 65536) return sprintf("%c%c%c", 224 + int(c / 4096), 128 + int(c / 64) % 64, 128 + c % 64)
        return sprintf("%c%c%c%c", 240 + int(c / 262144), 128 + int(c / 4096) % 64, 128 + int(c / 64) % 64, 128 + c % 64)
    }
    function hex(s,   i, v) { v = 0; for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; return v }
    # the JSON string that starts at text[pos] (a quote); leaves pos after it
    function str(   out, c, e, u) {
        out = ""; pos++
        while (pos <= n) {
            c = substr(text, pos, 1)
            if (c == "\"") { pos++; return out }
            if (c == "\\") {
                e = substr(text, pos + 1, 1); pos += 2
                if (e == "n") out = out "\n"; else if (e == "t") out = out "\t"
                else if (e == "r") out = out "\r"; else if (e == "b") out = out "\b"
                else if (e == "f") out = out "\f"
                else if (e == "u") {
                    u = hex(substr(text, pos, 4)); pos += 4
                    if (u >= 55296 && u < 56320 && substr(text, pos, 2) == "\\u") {
                        u = 65536 + (u - 55296) * 1024 + hex(substr(text, pos + 2, 4)) - 56320; pos += 6
                    }
                    out = out utf8(u)
                } else out = out e
                continue
            }
            out = out c; pos++
        }
        return out
    }
    function skipws() { while (pos <= n && index(" \t\r\n", substr(text, pos, 1))) pos++ }
    { text = text $0 "\n" }
    END {
        n = length(text); pos = 1; depth = 0; argv = ""; cwd = ""; ranks = ""; found = 0
        while (pos <= n) {
            c = substr(text, pos, 1)
            if (c == "{" || c == "[") { depth++; pos++; continue }
            if (c == "}" || c == "]") { depth--; pos++; continue }
            if (c != "\"") { pos++; continue }
            s = str(); skipws()
            if (depth != 1 || substr(text, pos, 1) != ":") continue
            pos++; skipws()
            if (s == "argv" && substr(text, pos, 1) == "[") {
                pos++; found = 1
                for (;;) {
                    skipws(); c = substr(text, pos, 1)
                    if (c == "\"") argv = argv " " sq(str())
                    else if (c == ",") pos++
                    else { pos++; break }
                }
            } else if (s == "cwd" && substr(text, pos, 1) == "\"") cwd = str()
            else if (s == "ranks" && match(substr(text, pos), /^[0-9]+/)) ranks = substr(text, pos, RLENGTH)
        }
        if (!found) exit 1
        print "ckpt_run_argq=" sq(argv)
        print "ckpt_run_cwd=" sq(cwd)
        print "_ck_ranks=" sq(ranks)
    }'
}

# ckpt_prune_torque DIR JOBID DEPTH KEEP: Torque names each checkpoint ckpt.<jobid>.<epoch>; keeps
# the DEPTH newest names (by epoch) in DIR, and KEEP always, and removes the other names' files
# (<name>.<seq>.h5, .h5.tmp, .launch, .stdin). Only regular files of ours are removed.
ckpt_prune_torque() {
    _ck_prefix="$1/ckpt.$2."
    _ck_epochs=$(for _ck_f in "$_ck_prefix"*; do
        ckpt_own_file "$_ck_f" || continue
        _ck_e=${_ck_f#"$_ck_prefix"}
        _ck_e=${_ck_e%%.*}
        ckpt_is_uint "$_ck_e" && printf '%s\n' "$_ck_e"
    done | sort -nu -r)
    _ck_keep=${4#"ckpt.$2."}
    _ck_i=0
    for _ck_e in $_ck_epochs; do
        _ck_i=$((_ck_i + 1))
        [ "$_ck_i" -le "$3" ] || [ "$_ck_e" = "$_ck_keep" ] && continue
        for _ck_f in "$_ck_prefix$_ck_e".*; do
            ckpt_own_file "$_ck_f" || continue
            _ck_rest=${_ck_f#"$_ck_prefix$_ck_e".}
            case $_ck_rest in
                launch | stdin) ;;
                *.h5 | *.h5.tmp)
                    _ck_seq=${_ck_rest%.tmp}
                    ckpt_is_uint "${_ck_seq%.h5}" || continue
                    ;;
                *) continue ;;
            esac
            rm -f -- "$_ck_f" || ckpt_warn "could not remove $_ck_f"
        done
    done
}

# ckpt_appendable PATH: PATH is a regular file we may append to, or can be created (a batch
# system may create the job's output files afresh on the restart host).
ckpt_appendable() {
    [ -n "$1" ] || return 1
    if [ -e "$1" ] || [ -L "$1" ]; then
        [ -f "$1" ] && [ -w "$1" ]
    else
        [ -d "${1%/*}/" ] && [ -w "${1%/*}/" ]
    fi
}

# ckpt_find_run: (ckpt_script_dir: where the sourcing script lives) sets ckpt_run_exe to the
# absolute path of the ckpt-run beside these scripts, quoted for sh, or to '' (with a warning)
# when it is missing. Restarted jobs run under it, so that their exit status is the one the job
# recorded (MPICH's mpiexec may report 0 for 85) and they have a launch record for the next time.
ckpt_find_run() {
    case $ckpt_script_dir in
        /*) ckpt_run_exe=$ckpt_script_dir/ckpt-run ;;
        *) ckpt_run_exe=$PWD/$ckpt_script_dir/ckpt-run ;;
    esac
    if [ -x "$ckpt_run_exe" ]; then
        ckpt_run_exe=$(ckpt_quote "$ckpt_run_exe")
    else
        ckpt_warn "$ckpt_run_exe is missing: the restarted job's exit status is its launcher's"
        ckpt_run_exe=''
    fi
}

# ckpt_prepare_exec FILE [STDIN_COPY]: turns the loaded launch data into the restart command:
# changes to the recorded directory, reopens the recorded standard streams (STDIN_COPY is the
# saved copy of the job's standard input), and sets ckpt_exec_argq, for `eval "exec ..."`, to
# `env -i NAME=VALUE... CKPT_RESTART=FILE ckpt-run -- COMMAND ARGS [--restart FILE]` (plain `env`
# keeps the current environment when none was recorded; see ckpt_find_run for ckpt-run).
ckpt_prepare_exec() {
    ckpt_find_run  # before the cd: ckpt_script_dir may be relative
    cd -- "$ckpt_run_cwd" 2>/dev/null || ckpt_die 66 "cannot change to the job's directory $ckpt_run_cwd"
    if [ "$ckpt_run_stdin" = copy ] && [ -n "${2:-}" ]; then
        ckpt_own_file "$2" || ckpt_die 66 "the job's saved standard input $2 is missing"
        exec 0<"$2"
    fi
    if ckpt_appendable "$ckpt_run_stdout"; then exec 1>>"$ckpt_run_stdout"; fi
    if ckpt_appendable "$ckpt_run_stderr"; then exec 2>>"$ckpt_run_stderr"; fi
    _ck_restart=$(ckpt_quote "$1")
    _ck_run=''
    [ -z "$ckpt_run_exe" ] || _ck_run=" $ckpt_run_exe --"
    if [ -n "$ckpt_run_envq" ]; then
        ckpt_exec_argq="env -i -- $ckpt_run_envq CKPT_RESTART=$_ck_restart$_ck_run $ckpt_run_argq"
    else
        ckpt_exec_argq="env -- CKPT_RESTART=$_ck_restart$_ck_run $ckpt_run_argq"
    fi
    [ "$ckpt_run_via" = env ] || ckpt_exec_argq="$ckpt_exec_argq --restart $_ck_restart"
}
