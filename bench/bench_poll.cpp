// bench_poll: what a safe point costs when nothing is due, next to one MPI_Allreduce per call
// (the obvious way to agree at every call). Run at 1 and 4 ranks:
//   mpiexec -n 1 build/bench/bench_poll      mpiexec -n 4 build/bench/bench_poll
// The checkpointer is set up as a batch job would be (signals installed, interval=1h, halt
// with an end time far away), so every trigger is live and none fires.
#include <ckpt.hpp>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace {
double seconds_per_call(MPI_Comm comm, long calls, const std::function<void(long)>& body) {
    MPI_Barrier(comm);
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 1; i <= calls; ++i) body(i);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, comm);  // the slowest rank
    return s / static_cast<double>(calls);
}
}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long calls = 2000000;
    for (int i = 1; i + 1 < argc; ++i)
        if (!std::strcmp(argv[i], "--calls")) calls = std::atol(argv[++i]);

    char templ[] = "/tmp/ckpt-bench-poll.XXXXXX";
    std::string dir;
    if (rank == 0) dir = ::mkdtemp(templ);
    unsigned long n = dir.size();
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG, 0, MPI_COMM_WORLD);
    dir.resize(n);
    MPI_Bcast(dir.data(), static_cast<int>(n), MPI_CHAR, 0, MPI_COMM_WORLD);

    double poll_s = 0, allreduce_s = 0, empty_s = 0;
    {
        ckpt::Options o;
        o.dir = dir;
        o.mode.periodic = true;
        o.interval = std::chrono::hours(1);
        o.halt = std::chrono::minutes(5);
        o.end_time = static_cast<std::int64_t>(std::time(nullptr)) + 86400;
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        long step = 0;
        cp.protect("step", step);
        volatile long sink = 0;
        empty_s = seconds_per_call(MPI_COMM_WORLD, calls, [&](long i) { sink = sink + i; });
        poll_s = seconds_per_call(MPI_COMM_WORLD, calls, [&](long i) {
            step = i;
            if (cp.poll(step)) std::abort();  // nothing may be due
        });
        const long reduce_calls = std::max(1L, calls / 20);
        allreduce_s = seconds_per_call(MPI_COMM_WORLD, reduce_calls, [&](long) {
            int flag = 0;
            MPI_Allreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        });
    }
    if (rank == 0) {
        std::printf("ranks %d, %ld calls\n", size, calls);
        std::printf("  empty loop            %9.1f ns/call\n", empty_s * 1e9);
        std::printf("  cp.poll(step)         %9.1f ns/call\n", poll_s * 1e9);
        std::printf("  MPI_Allreduce (1 int) %9.1f ns/call\n", allreduce_s * 1e9);
        std::printf("RESULT ranks=%d poll_ns=%.1f allreduce_ns=%.1f ratio=%.4f\n", size, poll_s * 1e9,
                    allreduce_s * 1e9, poll_s / allreduce_s);
        std::string cmd = "rm -rf '" + dir + "'";
        if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "bench_poll: could not remove %s\n", dir.c_str());
    }
    MPI_Finalize();
    return 0;
}
