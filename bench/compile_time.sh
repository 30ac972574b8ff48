#!/bin/sh
# compile_time.sh: what including ckpt costs at compile time, on this machine (bench/README.md).
#
#   bench/compile_time.sh [REPS]          REPS compiles of each program, default 3
#
# Compiles at -O2, with the flags CMake gives a consumer of each target:
#   (1) a bare MPI C++ program (MPI_Init, MPI_Finalize), linked to MPI::MPI_CXX only;
#   (2) the README example without its four ckpt lines (its std::vector and loop), MPI only;
#   (3) examples/readme.cpp, the README example, header-only (ckpt::ckpt);
#   (4) examples/readme.cpp in the compiled mode (ckpt::compiled: libckpt, built once, not timed);
# and prints, for each, the best of REPS compiles of its one source file: wall time and CPU time
# (user + system, less sensitive to other load), the compiler's peak resident memory (GNU time's
# %M, when /usr/bin/time is there), and the size of the program linked with -O2 -g; then ratios.
# The flags come from a throw-away CMake project under $TMPDIR that uses ckpt through
# add_subdirectory(), so they are what a user gets. Paths with blanks are not supported (the
# compile flags are split at blanks). CPU heavy: run it on an otherwise idle machine.
set -eu

reps=${1:-3}
case $reps in '' | *[!0-9]* | 0) echo "compile_time.sh: REPS must be a positive number, not \"$reps\"" >&2; exit 64 ;; esac

here=$(cd "$(dirname -- "$0")" && pwd)
source_dir=$(cd "$here/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-compile-time.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

gnu_time=
if command -v /usr/bin/time >/dev/null 2>&1 && /usr/bin/time -f %M true >/dev/null 2>&1; then
    gnu_time=/usr/bin/time
fi

cat >"$work/bare.cpp" <<'EOF'
#include <mpi.h>

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    MPI_Finalize();
}
EOF
cat >"$work/plain.cpp" <<'EOF'
#include <mpi.h>

#include <vector>

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    std::vector<double> u(1 << 20, 1.0);
    long step = 0;
    while (step < 1000) {
        for (double& x : u) x *= 0.999;
        ++step;
    }
    MPI_Finalize();
}
EOF
cat >"$work/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.21)
project(ckpt_compile_time LANGUAGES C CXX)
set(CMAKE_CXX_STANDARD 17)  # the same -std for both programs
# Imported targets found in ckpt's directory are not visible here: find MPI as ckpt does.
set(MPI_CXX_SKIP_MPICXX TRUE)
find_package(MPI REQUIRED COMPONENTS C CXX)
add_subdirectory("$source_dir" ckpt)
add_executable(bare bare.cpp)
target_link_libraries(bare PRIVATE MPI::MPI_CXX)
add_executable(plain plain.cpp)
target_link_libraries(plain PRIVATE MPI::MPI_CXX)
add_executable(readme "$source_dir/examples/readme.cpp")
target_link_libraries(readme PRIVATE ckpt::ckpt)
add_executable(readme_compiled "$source_dir/examples/readme.cpp")
target_link_libraries(readme_compiled PRIVATE ckpt::compiled)
EOF

# Two trees: -O2 for the timed compiles, -O2 -g for the binary sizes. No build type, so that
# CMake adds no -O3 or -DNDEBUG of its own.
for tree in O2:-O2 g:"-O2 -g"; do
    cmake -S "$work" -B "$work/${tree%%:*}" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE= \
        "-DCMAKE_CXX_FLAGS=${tree#*:}" >"$work/configure.log" 2>&1 ||
        { cat "$work/configure.log" >&2; exit 1; }
done
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$work/O2/CMakeCache.txt")

# The compiler's flags for a target: defines, include directories and flags, as make would pass them.
flags_of() {
    sed -n -e 's/^CXX_DEFINES = //p' -e 's/^CXX_INCLUDES = //p' -e 's/^CXX_FLAGS = //p' \
        "$work/O2/CMakeFiles/$1.dir/flags.make" | tr '\n' ' '
}

# Compile one source REPS times; sets best and cpu (seconds, the best of each) and rss (KiB, the
# largest seen, or "n/a" without GNU time).
measure() {
    target=$1 src=$2
    flags=$(flags_of "$target")
    best='' cpu=n/a rss=n/a
    i=0
    while [ "$i" -lt "$reps" ]; do
        i=$((i + 1))
        # shellcheck disable=SC2086 # the flags are meant to be split
        if [ -n "$gnu_time" ]; then
            "$gnu_time" -f '%e %U %S %M' -o "$work/time.out" "$cxx" $flags -c "$src" -o "$work/$target.o"
            read -r wall user sys kib <"$work/time.out"
            used=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
            if [ "$cpu" = n/a ] || awk -v a="$used" -v b="$cpu" 'BEGIN { exit !(a < b) }'; then cpu=$used; fi
            if [ "$rss" = n/a ] || [ "$kib" -gt "$rss" ]; then rss=$kib; fi
        else
            start=$(date +%s.%N)
            "$cxx" $flags -c "$src" -o "$work/$target.o"
            wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        fi
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
    done
}

name_of() { case $1 in 1) echo bare ;; 2) echo plain ;; 3) echo readme ;; 4) echo compiled ;; esac; }
target_of() { case $1 in 1) echo bare ;; 2) echo plain ;; 3) echo readme ;; 4) echo readme_compiled ;; esac; }

# libckpt itself is built once, like any library, and is not part of a program's compile.
cmake --build "$work/O2" --target ckpt_compiled -j1 >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }

measure bare "$work/bare.cpp"
bare_wall=$best bare_cpu=$cpu bare_rss=$rss
measure plain "$work/plain.cpp"
plain_wall=$best plain_cpu=$cpu plain_rss=$rss
measure readme "$source_dir/examples/readme.cpp"
readme_wall=$best readme_cpu=$cpu readme_rss=$rss
measure readme_compiled "$source_dir/examples/readme.cpp"
compiled_wall=$best compiled_cpu=$cpu compiled_rss=$rss

cmake --build "$work/g" --target bare plain readme readme_compiled -j1 >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; exit 1; }
size_of() { stat -c %s "$work/g/$1"; }

ratio() { if [ "$2" = n/a ] || [ "$1" = n/a ]; then echo n/a; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; fi; }
mib() { if [ "$1" = n/a ]; then echo n/a; else echo "$(($1 / 1024))"; fi; }
row() { printf '%-36s %9s %9s %14s %17s\n' "$@"; }

echo "ckpt compile-time cost, -O2, best of $reps, on $(hostname) ($(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "compiler: $("$cxx" --version | head -n 1)"
row program "wall [s]" "CPU [s]" "peak RSS [MiB]" "-O2 -g size [KiB]"
row "(1) bare MPI program" "$bare_wall" "$bare_cpu" "$(mib "$bare_rss")" "$(($(size_of bare) / 1024))"
row "(2) README example without ckpt" "$plain_wall" "$plain_cpu" "$(mib "$plain_rss")" "$(($(size_of plain) / 1024))"
row "(3) README example, header-only" "$readme_wall" "$readme_cpu" "$(mib "$readme_rss")" "$(($(size_of readme) / 1024))"
row "(4) README example, compiled mode" "$compiled_wall" "$compiled_cpu" "$(mib "$compiled_rss")" \
    "$(($(size_of readme_compiled) / 1024))"
for pair in 3:1 4:1 4:2 3:4; do
    a=${pair%:*} b=${pair#*:}
    eval "aw=\$$(name_of "$a")_wall ac=\$$(name_of "$a")_cpu ar=\$$(name_of "$a")_rss"
    eval "bw=\$$(name_of "$b")_wall bc=\$$(name_of "$b")_cpu br=\$$(name_of "$b")_rss"
    row "ratio ($a)/($b)" "$(ratio "$aw" "$bw")" "$(ratio "$ac" "$bc")" "$(ratio "$ar" "$br")" \
        "$(ratio "$(size_of "$(target_of "$a")")" "$(size_of "$(target_of "$b")")")"
done
