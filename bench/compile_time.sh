#!/bin/sh
# compile_time.sh: what including ckpt costs at compile time, on this machine (bench/README.md).
#
#   bench/compile_time.sh [REPS]          REPS compiles of each program, default 3
#
# Compiles at -O2, with the flags CMake gives a consumer of ckpt::ckpt:
#   (1) a bare MPI C++ program (MPI_Init, MPI_Finalize), linked to MPI::MPI_CXX only;
#   (2) examples/readme.cpp, the README example, linked to ckpt::ckpt.
# and prints, for each, the best wall time of REPS compiles of its one source file, the peak
# resident memory of the compiler (GNU time's %M, when /usr/bin/time is there), and the size of the
# program linked with -O2 -g; then the ratios of (2) to (1). The flags come from a throw-away CMake
# project under $TMPDIR that uses ckpt through add_subdirectory(), so they are what a user gets.
# Paths with blanks are not supported (the compile flags are split at blanks). CPU heavy: run it on
# an otherwise idle machine.
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
add_executable(readme "$source_dir/examples/readme.cpp")
target_link_libraries(readme PRIVATE ckpt::ckpt)
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

# Compile one source REPS times; sets best (seconds) and rss (KiB, the largest seen, or "n/a").
measure() {
    target=$1 src=$2
    flags=$(flags_of "$target")
    best='' rss=n/a
    i=0
    while [ "$i" -lt "$reps" ]; do
        i=$((i + 1))
        # shellcheck disable=SC2086 # the flags are meant to be split
        if [ -n "$gnu_time" ]; then
            "$gnu_time" -f '%e %M' -o "$work/time.out" "$cxx" $flags -c "$src" -o "$work/$target.o"
            read -r wall kib <"$work/time.out"
            if [ "$rss" = n/a ] || [ "$kib" -gt "$rss" ]; then rss=$kib; fi
        else
            start=$(date +%s.%N)
            "$cxx" $flags -c "$src" -o "$work/$target.o"
            wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        fi
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
    done
}

measure bare "$work/bare.cpp"
bare_wall=$best bare_rss=$rss
measure readme "$source_dir/examples/readme.cpp"
readme_wall=$best readme_rss=$rss

cmake --build "$work/g" --target bare readme -j1 >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
bare_size=$(stat -c %s "$work/g/bare")
readme_size=$(stat -c %s "$work/g/readme")

ratio() { if [ "$2" = n/a ] || [ "$1" = n/a ]; then echo n/a; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; fi; }
mib() { if [ "$1" = n/a ]; then echo n/a; else echo "$(($1 / 1024))"; fi; }

echo "ckpt compile-time cost, -O2, best of $reps, on $(hostname) ($(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "compiler: $("$cxx" --version | head -n 1)"
printf '%-28s %10s %14s %16s\n' program "wall [s]" "peak RSS [MiB]" "-O2 -g size [KiB]"
printf '%-28s %10s %14s %16s\n' "(1) bare MPI program" "$bare_wall" "$(mib "$bare_rss")" "$((bare_size / 1024))"
printf '%-28s %10s %14s %16s\n' "(2) examples/readme.cpp" "$readme_wall" "$(mib "$readme_rss")" "$((readme_size / 1024))"
printf '%-28s %10s %14s %16s\n' "ratio (2)/(1)" "$(ratio "$readme_wall" "$bare_wall")" \
    "$(ratio "$readme_rss" "$bare_rss")" "$(ratio "$readme_size" "$bare_size")"
