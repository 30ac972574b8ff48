// docs/distribution.md: one entry of each distribution. A checkpoint this writes on any number of
// ranks restores on any other number:
//   mpiexec -n 4 ./doc_distribution --checkpoint every=10            (10 steps, writes at step 10)
//   mpiexec -n 3 ./doc_distribution --checkpoint every=10 --restart latest
// Every value is a function of its global index and the step, so the program checks, after a
// restore on any rank count, that every rank holds exactly its part of the global state.
#include <ckpt.hpp>

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {
double initial(int i, int j) { return i * 100.0 + j; }
}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    const int status = ckpt::main_guard([&] {
        ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);
        const int rank = cp.rank(), size = cp.size();

        // A global ny x nx grid in slabs of rows, one ghost row above and below each slab.
        const int ny = 64, nx = 32;
        const int rows = ny / size + (rank < ny % size ? 1 : 0);
        const int first = rank * (ny / size) + std::min(rank, ny % size);
        std::vector<double> u(static_cast<std::size_t>((rows + 2) * nx), -1.0);
        for (int i = 0; i < rows; ++i)
            for (int j = 0; j < nx; ++j) u[static_cast<std::size_t>((i + 1) * nx + j)] = initial(first + i, j);
        std::int64_t step = 0;
        std::vector<double> particles(static_cast<std::size_t>(rank + 1), 0.5);  // a count of its own per rank
        long events = 0;                                                         // this rank's own tally

        cp.protect("step", step, ckpt::replicated())
            .protect("u", ckpt::ArrayView<double>(u.data(), {rows + 2, nx}),
                     ckpt::block({ny, nx}, {first, 0}, {rows, nx}).ghosts({1, 0}))
            .protect("particles", particles, ckpt::concatenated())
            .protect("events", events, ckpt::per_rank().redistribute([&](ckpt::StoredParts& parts) {
                events = 0;  // rank r takes over the tallies of stored ranks r, r + size, ...
                for (int k = rank; k < parts.ranks(); k += size) {
                    long old = 0;
                    parts.read(k, old);
                    events += old;
                }
            }));

        if (cp.restore_if_requested()) {
            bool exact = true;
            for (int i = 0; i < rows; ++i)
                for (int j = 0; j < nx; ++j)
                    exact = exact && u[static_cast<std::size_t>((i + 1) * nx + j)] == initial(first + i, j) + double(step);
            long all_events = 0, all_particles = static_cast<long>(particles.size());
            MPI_Allreduce(MPI_IN_PLACE, &all_particles, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
            MPI_Allreduce(&events, &all_events, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
            int all_exact = exact ? 1 : 0;
            MPI_Allreduce(MPI_IN_PLACE, &all_exact, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
            if (rank == 0)
                std::printf("restored step %lld on %d rank%s from %d: grid %s, %ld particles, %ld events\n",
                            static_cast<long long>(step), size, size == 1 ? "" : "s", cp.restored_ranks(),
                            all_exact ? "exact" : "WRONG",
                            all_particles, all_events);
            return 0;
        }
        for (; step < 10;) {
            for (int i = 0; i < rows; ++i)
                for (int j = 0; j < nx; ++j) u[static_cast<std::size_t>((i + 1) * nx + j)] += 1.0;
            ++events;
            cp.poll(++step);
        }
        return 0;
    });
    MPI_Finalize();
    return status;
}
