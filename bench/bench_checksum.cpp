/// XXH64 throughput (per-rank entries' checksum) and the position sum's (block and concatenated
/// entries', detail/position_sum.hpp, over float64 elements) next to memcpy throughput of the
/// same buffer, in the same run, so the ratios say how checksumming compares with the cheapest
/// thing a checkpoint does to its data.
///
/// Standalone: g++ -std=c++17 -O2 -Iinclude bench/bench_checksum.cpp -o bench_checksum
/// Usage: bench_checksum [MiB=256] [repetitions=7]. Each figure is the best of the repetitions.
/// Throughput is bytes of input per second (for memcpy: bytes copied, not read + written).

#include "ckpt/detail/checksum.hpp"
#include "ckpt/detail/position_sum.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

/// Keeps results observable so the compiler cannot drop the work being timed.
volatile std::uint64_t sink;

template <class F>
double seconds(F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 7;
    const std::size_t size = mib << 20;

    // Filled (and so faulted in) before timing; non-constant so nothing folds away.
    std::vector<unsigned char> src(size), dst(size);
    for (std::size_t i = 0; i < size; ++i) src[i] = static_cast<unsigned char>(i * 131u + (i >> 8));
    std::memset(dst.data(), 0, size);

    auto hash = [&] { sink = ckpt::detail::xxh64(src.data(), size); };
    auto stream = [&] {
        ckpt::detail::Xxh64 h;
        const std::size_t piece = (std::size_t{1} << 20) + 3;  // odd size: exercises the carry buffer
        for (std::size_t off = 0; off < size; off += piece) h.update(src.data() + off, std::min(piece, size - off));
        sink = h.digest();
    };
    auto position = [&] {
        sink = ckpt::detail::position_sum_run(src.data(), 8, 12345, size / 8);
    };
    auto copy = [&] {
        std::memcpy(dst.data(), src.data(), size);
        sink = dst[size / 2] + dst[size - 1];
    };

    // Interleaved rounds, best of each: a noisy neighbour or a frequency change then hurts all
    // three alike instead of whichever happened to run at the time.
    double t_hash = 1e300, t_stream = 1e300, t_copy = 1e300, t_position = 1e300;
    for (int r = 0; r < reps; ++r) {
        t_hash = std::min(t_hash, seconds(hash));
        t_stream = std::min(t_stream, seconds(stream));
        t_position = std::min(t_position, seconds(position));
        t_copy = std::min(t_copy, seconds(copy));
    }

    const double gb = static_cast<double>(size) / 1e9;
    std::printf("buffer: %zu MiB, best of %d\n", mib, reps);
    std::printf("xxh64 one-shot : %7.2f GB/s\n", gb / t_hash);
    std::printf("Xxh64 streaming: %7.2f GB/s (1 MiB + 3 pieces)\n", gb / t_stream);
    std::printf("position sum   : %7.2f GB/s (float64 elements)\n", gb / t_position);
    std::printf("memcpy         : %7.2f GB/s\n", gb / t_copy);
    std::printf("ratio xxh64/memcpy: %.2f\n", t_copy / t_hash);
    std::printf("ratio position sum/memcpy: %.2f\n", t_copy / t_position);
    return 0;
}
