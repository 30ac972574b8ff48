// Main for MPI test programs: every rank runs Catch; the failure count is reduced across ranks so
// every rank exits non-zero if any rank failed. Ranks other than 0 print only when they failed.
// The signal tests raise TERM on purpose; Catch's own handlers would report it as a crash.
#define CATCH_CONFIG_NO_POSIX_SIGNALS
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <mpi.h>

#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
    int provided = 0;  // FUNNELED: the suites also run with asynchronous checkpoints (CKPT_TEST_ASYNC)
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);

    std::ostringstream buffered;
    std::streambuf* original = std::cout.rdbuf();
    if (rank != 0) std::cout.rdbuf(buffered.rdbuf());
    int failures = Catch::Session().run(argc, argv);
    std::cout.rdbuf(original);
    if (rank != 0 && failures != 0) std::cout << "---- rank " << rank << " ----\n" << buffered.str() << std::flush;

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
