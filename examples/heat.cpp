// heat: an MPI 2-D heat equation that survives being killed, and resumes on any rank count.
//
//   mpiexec -n 4 heat --steps 400 --n 128 --checkpoint every=50
//   (kill it) mpiexec -n 3 heat --steps 400 --n 128 --checkpoint every=50 --restart latest
//   (or kill -TERM the mpiexec: it checkpoints and exits 85; --restart latest resumes)
//
// The grid is split into slabs of rows, one per rank, with one halo row above and below.
// Checkpointed state: the step counter and a Boost-serializable parameter struct, both
// replicated, and the grid as each rank's block of the global n x n array (a view of the slab
// with its halo rows; the halos are not stored). The last line printed is `checksum <hex>` of
// the final global grid, identical whether or not the run was interrupted, and whatever rank
// counts it ran and resumed on.

#include <ckpt.hpp>
#include <ckpt/boost.hpp>  // Params is Boost-serializable: needed in the compiled mode, harmless otherwise

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Params {
    int n = 128;          // global grid is n x n
    double alpha = 0.2;   // diffusion number; explicit scheme is stable below 0.25
    std::string initial = "two hot spots";
    template <class Archive>
    void serialize(Archive& ar, unsigned /*version*/) {
        ar & n & alpha & initial;
    }
};

struct Slab {
    int first_row = 0, rows = 0, n = 0;
    std::vector<double> u, next;  // (rows + 2) x n, halo rows 0 and rows+1
    double* interior() { return u.data() + n; }
};

Slab make_slab(int n, int rank, int size) {
    Slab s;
    s.n = n;
    s.rows = n / size + (rank < n % size ? 1 : 0);
    s.first_row = rank * (n / size) + std::min(rank, n % size);
    s.u.assign(static_cast<std::size_t>(s.rows + 2) * n, 0.0);
    s.next = s.u;
    for (int i = 0; i < s.rows; ++i)
        for (int j = 0; j < n; ++j) {
            const double x = double(s.first_row + i) / n, y = double(j) / n;
            s.u[(i + 1) * n + j] = std::exp(-80 * ((x - .3) * (x - .3) + (y - .3) * (y - .3))) +
                                   0.5 * std::exp(-120 * ((x - .7) * (x - .6) + (y - .7) * (y - .7)));
        }
    return s;
}

void exchange_halos(Slab& s, int rank, int size, MPI_Comm comm) {
    const int up = rank > 0 ? rank - 1 : MPI_PROC_NULL, down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
    MPI_Sendrecv(&s.u[1 * s.n], s.n, MPI_DOUBLE, up, 0, &s.u[(s.rows + 1) * s.n], s.n, MPI_DOUBLE, down, 0, comm,
                 MPI_STATUS_IGNORE);
    MPI_Sendrecv(&s.u[s.rows * s.n], s.n, MPI_DOUBLE, down, 1, &s.u[0], s.n, MPI_DOUBLE, up, 1, comm,
                 MPI_STATUS_IGNORE);
}

void advance(Slab& s, double alpha) {
    const int n = s.n;
    for (int i = 1; i <= s.rows; ++i)
        for (int j = 0; j < n; ++j) {
            const double c = s.u[i * n + j];
            const double l = j > 0 ? s.u[i * n + j - 1] : 0.0, r = j < n - 1 ? s.u[i * n + j + 1] : 0.0;
            s.next[i * n + j] = c + alpha * (s.u[(i - 1) * n + j] + s.u[(i + 1) * n + j] + l + r - 4 * c);
        }
    // Copy back rather than swap: the checkpointer holds a view of u's memory.
    std::copy(s.next.begin() + n, s.next.end() - n, s.u.begin() + n);
}

// FNV-1a over the global grid, gathered on rank 0; independent of the rank count.
std::uint64_t global_checksum(Slab& s, int rank, int size, MPI_Comm comm) {
    std::vector<int> counts(size), displs(size);
    int mine = s.rows * s.n;
    MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
    for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
    std::vector<double> all(rank == 0 ? static_cast<std::size_t>(s.n) * s.n : 0);
    MPI_Gatherv(s.interior(), mine, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0, comm);
    std::uint64_t h = 1469598103934665603ULL;
    for (double v : all) {
        unsigned char b[sizeof v];
        std::memcpy(b, &v, sizeof v);
        for (unsigned char c : b) h = (h ^ c) * 1099511628211ULL;
    }
    return h;
}

long option(int& i, int argc, char** argv, const char* name) {
    if (i + 1 >= argc) {
        std::fprintf(stderr, "heat: %s needs a value\n", name);
        std::exit(64);
    }
    char* end = nullptr;
    long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < 0) {
        std::fprintf(stderr, "heat: bad value \"%s\" for %s\n", argv[i], name);
        std::exit(64);
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    // FUNNELED: only this thread calls MPI, while ckpt's background thread writes asynchronous
    // checkpoints (--checkpoint async) with plain POSIX calls.
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    // main_guard returns the contract's exit status when the job leaves at a safe point (85 after
    // a shutdown checkpoint, 128+N for a signal without `shutdown`) or when a ckpt::Error escapes
    // (64 for a bad --checkpoint value, 66 for --restart latest with nothing to restart from, ...).
    const int status = ckpt::main_guard([&] {
        // ckpt takes its own flags (--checkpoint, --restart, ...) out of argv first.
        ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD);

        long steps = 200, sleep_ms = 0;
        Params params;
        for (int i = 1; i < argc; ++i) {
            if (!std::strcmp(argv[i], "--steps")) steps = option(i, argc, argv, "--steps");
            else if (!std::strcmp(argv[i], "--n")) params.n = static_cast<int>(option(i, argc, argv, "--n"));
            else if (!std::strcmp(argv[i], "--sleep-ms")) sleep_ms = option(i, argc, argv, "--sleep-ms");
            else {
                if (rank == 0) std::fprintf(stderr, "heat: unknown argument \"%s\"\n", argv[i]);
                MPI_Abort(MPI_COMM_WORLD, 64);
            }
        }
        if (params.n < size) {
            if (rank == 0) std::fprintf(stderr, "heat: --n %d is smaller than the %d ranks\n", params.n, size);
            MPI_Abort(MPI_COMM_WORLD, 64);
        }

        Slab slab = make_slab(params.n, rank, size);
        std::int64_t step = 0;
        const int n_requested = params.n;
        // The same on every rank, and this rank's rows of the global n x n grid: the view covers
        // the slab's memory, halo rows included, and the block starts after the upper halo row.
        cp.protect("step", step, ckpt::replicated())
            .protect("params", params, ckpt::replicated())
            .protect("grid", ckpt::ArrayView<double>(slab.u.data(), {std::size_t(slab.rows + 2), std::size_t(slab.n)}),
                     ckpt::block({slab.n, slab.n}, {slab.first_row, 0}, {slab.rows, slab.n}).ghosts({1, 0}));
        cp.on_restart([&] {
            if (params.n != n_requested) {
                if (rank == 0) std::fprintf(stderr, "heat: checkpoint has --n %d, not %d\n", params.n, n_requested);
                MPI_Abort(MPI_COMM_WORLD, 65);
            }
        });
        if (cp.restore_if_requested() && rank == 0)
            std::printf("restored step %" PRId64 " from %s (written on %d rank%s, resumed on %d)\n", step,
                        cp.last_path().c_str(), cp.restored_ranks(), cp.restored_ranks() == 1 ? "" : "s", size);

        while (step < steps) {
            exchange_halos(slab, rank, size, MPI_COMM_WORLD);
            advance(slab, params.alpha);
            ++step;  // `step` now counts completed steps: that is what a checkpoint must record
            if (cp.poll(step) && rank == 0) std::printf("checkpoint at step %" PRId64 ": %s\n", step, cp.last_path().c_str());
            if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
        }
        const std::uint64_t sum = global_checksum(slab, rank, size, MPI_COMM_WORLD);
        if (rank == 0) std::printf("checksum %016" PRIx64 "\n", sum);
        return 0;
    });
    std::fflush(stdout);
    MPI_Finalize();
    return status;
}
