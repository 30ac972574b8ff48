/// bench_async: what an asynchronous checkpoint costs the application (docs/async.md).
///
///   mpiexec -n 2 bench_async [--mib S] [--reps R] [--warmup W] [--dir DIR] [--samples]
///
/// Each rank owns S MiB of doubles. Per rep, in one run:
///   - memcpy of those bytes into memory touched before: the floor of what the application
///     can be blocked for, since the state must be copied before it may change;
///   - a synchronous cp.checkpoint(): durable when it returns;
///   - an asynchronous cp.checkpoint() (blocked: until it returns), then cp.sync() (durable:
///     from the start until sync() returns, nothing else running);
///   - a memory-bound compute kernel (a 3-point stencil over 2 x S MiB), alone, and again right
///     after an asynchronous checkpoint() while its flush runs; its slowdown is the flush's
///     cost to the application beyond the blocked time.
/// Every timing is barrier to barrier, the slowest rank's. Both checkpointers keep every version
/// (depth=0), and the versions of a rep are deleted after it, outside every timing, with the file
/// system's metadata committed (quiesce): so no rotation's unlink runs inside a measurement.

#include <ckpt.hpp>

#include "bench_support.hpp"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace bench;

using Args = CommonArgs;

/// `sweeps` passes of a 3-point stencil from `a` into `b` and back: memory-bound, as most
/// simulation kernels are. Returns a value that depends on every element (nothing is elided).
double kernel(std::vector<double>& a, std::vector<double>& b, int sweeps) {
    const std::size_t n = a.size();
    for (int s = 0; s < sweeps; ++s) {
        for (std::size_t i = 1; i + 1 < n; ++i) b[i] = 0.25 * a[i - 1] + 0.5 * a[i] + 0.25 * a[i + 1];
        a.swap(b);
    }
    return a[n / 2];
}

/// Every measurement, into the directory `root`; the checkpointers end before it is removed.
void run(const Args& args, const std::string& root) {
    const std::size_t count = args.mib * (std::size_t{1} << 20) / sizeof(double);
    const double bytes = static_cast<double>(count * sizeof(double)) * g_size;
    std::vector<double> u(count), copy(count, 0.0);
    for (std::size_t i = 0; i < count; ++i) u[i] = static_cast<double>(i % 1000) + g_rank;
    std::vector<double> ka(count, 1.0), kb(count, 0.0);  // the kernel's own state, not checkpointed

    ckpt::Options sync_options, async_options;
    sync_options.dir = root + "/sync";
    async_options.dir = root + "/async";
    sync_options.mode.shutdown = async_options.mode.shutdown = false;  // no handlers: a benchmark
    sync_options.depth = async_options.depth = 0;                      // no rotation: see above
    async_options.async = 1;
    ckpt::Checkpointer sync_cp(sync_options, MPI_COMM_WORLD), async_cp(async_options, MPI_COMM_WORLD);
    sync_cp.protect("u", u);
    async_cp.protect("u", u);

    // The kernel's length: about as long as a synchronous checkpoint, so the flush overlaps it.
    const double write_s = timed([&] { sync_cp.checkpoint(); });
    if (g_rank == 0) std::filesystem::remove(sync_cp.last_path());
    const double sweep_s = timed([&] { kernel(ka, kb, 1); });
    const int sweeps = std::max(1, static_cast<int>(write_s / sweep_s));

    Table t(bytes);
    double first_blocked = 0, sink = 0;
    for (int rep = 0; rep < args.warmup + args.reps; ++rep) {
        t["memcpy of the state (the floor)"].t.push_back(
            timed([&] { std::memcpy(copy.data(), u.data(), count * sizeof(double)); }));
        t["synchronous checkpoint() (durable)"].t.push_back(timed([&] { sync_cp.checkpoint(); }));
        double blocked = 0;
        const double durable = timed([&] {
            const double t0 = MPI_Wtime();
            async_cp.checkpoint();
            blocked = max_over_ranks(MPI_Wtime() - t0);
            async_cp.sync();
        });
        if (rep == 0) first_blocked = blocked;
        t["asynchronous checkpoint(): blocked"].t.push_back(blocked);
        t["asynchronous checkpoint() + sync(): durable"].t.push_back(durable);
        t["kernel alone"].t.push_back(timed([&] { sink += kernel(ka, kb, sweeps); }));
        double during = 0;
        timed([&] {
            async_cp.checkpoint();
            during = timed([&] { sink += kernel(ka, kb, sweeps); });
            async_cp.sync();
        });
        t["kernel during an asynchronous flush"].t.push_back(during);
        MPI_Barrier(MPI_COMM_WORLD);
        if (g_rank == 0)
            for (const std::string& d : {sync_options.dir, async_options.dir}) {
                for (const auto& f : std::filesystem::directory_iterator(d))
                    if (f.path().extension() == ".h5") std::filesystem::remove(f.path());
                quiesce(d);
            }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    t.drop_first(args.warmup);

    if (g_rank == 0) {
        std::printf("bench_async: %d rank(s), %zu MiB per rank, %d reps (+%d warm-up), dir %s\n", g_size, args.mib,
                    args.reps, args.warmup, root.c_str());
        std::printf("kernel: %d sweeps over 2 x %zu MiB per rank (%.3f s per sweep)\n", sweeps, args.mib, sweep_s);
        std::printf("first asynchronous checkpoint, blocked (staging memory touched for the first time): %.4f s\n",
                    first_blocked);
    }
    t.print("times (GB/s: the state's bytes over each time)", true, args.samples);
    if (g_rank == 0) {
        auto ratio = [&](const char* a, const char* b, bool best) {
            return best ? t.at(a).best() / t.at(b).best() : t.at(a).median() / t.at(b).median();
        };
        const char* blocked = "asynchronous checkpoint(): blocked";
        const char* memcpy_row = "memcpy of the state (the floor)";
        const char* durable = "asynchronous checkpoint() + sync(): durable";
        const char* sync_row = "synchronous checkpoint() (durable)";
        std::printf("\n  %-58s %5s   %5s   target\n", "ratio", "best", "median");
        std::printf("  %-58s %5.2f   %5.2f   <= 1.50\n", "blocked / memcpy", ratio(blocked, memcpy_row, true),
                    ratio(blocked, memcpy_row, false));
        std::printf("  %-58s %5.2f   %5.2f   >= 0.90\n", "background throughput / synchronous (sync s / durable s)",
                    ratio(sync_row, durable, true), ratio(sync_row, durable, false));
        std::printf("  %-58s %5.2f   %5.2f   <= 0.10\n", "kernel slowdown during a flush (during / alone - 1)",
                    ratio("kernel during an asynchronous flush", "kernel alone", true) - 1,
                    ratio("kernel during an asynchronous flush", "kernel alone", false) - 1);
        std::printf("(sink %g)\n", sink);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    start("bench_async");
    const Args args = parse_args(argc, argv,
                                 "bench_async [--mib S (256)] [--reps R (3)] [--warmup W (1)] [--dir DIR] [--samples]");
    bool made = false;
    const std::string root = run_directory(args.dir, temp_base(), "ckpt-bench-async", made);
    run(args, root);
    MPI_Barrier(MPI_COMM_WORLD);
    if (made && g_rank == 0) std::filesystem::remove_all(root);
    MPI_Finalize();
    return 0;
}
