/// bench_incremental: what an incremental version costs and saves (docs/incremental.md).
///
///   mpiexec -n 2 bench_incremental [--mib S] [--reps R] [--warmup W] [--dir DIR] [--samples]
///
/// Each rank owns S MiB of state: a static mesh three times the size of the fields (node
/// coordinates and int32 connectivity), and two fields that change before every checkpoint.
/// Per rep, in one run and in a rotating order: a full version (incremental off), two incremental
/// ones after a full one (incremental=K; the mesh linked, the fields written): the first, which
/// hashes the fields before it writes them, and the next, which knows they change and writes
/// them while it hashes the mesh; and the floors:
/// write()+fsync() of all the raw bytes, and of the changed bytes only (what an incremental
/// version cannot do without). Each version is durable; depth 0 (no rotation inside a timing).
/// Every timing is barrier to barrier, the slowest rank's.

#include <ckpt.hpp>

#include "bench_support.hpp"

#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace bench;

struct State {
    std::vector<double> coords, a, b;
    std::vector<std::int32_t> cells;
    int version = 0;

    explicit State(std::size_t mib) {
        const std::size_t total = mib << 20, mesh = total * 3 / 4, fields = total - mesh;
        coords.resize(mesh / 2 / sizeof(double));
        for (std::size_t i = 0; i < coords.size(); ++i) coords[i] = 0.01 * static_cast<double>(i % 4099) + g_rank;
        cells.resize(mesh / 2 / sizeof(std::int32_t));
        for (std::size_t i = 0; i < cells.size(); ++i) cells[i] = static_cast<std::int32_t>(i / 8 + i % 8);
        a.resize(fields / 2 / sizeof(double));
        b.resize(a.size());
        advance();
    }
    /// The fields change; the mesh does not.
    void advance() {
        ++version;
        for (std::size_t i = 0; i < a.size(); ++i) {
            a[i] = std::sin(1e-5 * static_cast<double>(i) + version) + g_rank;
            b[i] = 300 + version + 1e-3 * static_cast<double>(i % 977);
        }
    }
    void protect(ckpt::Checkpointer& cp) { cp.protect("coords", coords).protect("cells", cells).protect("a", a).protect("b", b); }
    std::vector<char> bytes(bool changed_only) const {
        std::vector<char> out;
        auto add = [&](const void* p, std::size_t n) { out.insert(out.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n); };
        if (!changed_only) {
            add(coords.data(), coords.size() * sizeof(double));
            add(cells.data(), cells.size() * sizeof(std::int32_t));
        }
        add(a.data(), a.size() * sizeof(double));
        add(b.data(), b.size() * sizeof(double));
        return out;
    }
};

void run(const CommonArgs& args, const std::string& root) {
    State s(args.mib);
    const double all_bytes = max_over_ranks(static_cast<double>(s.bytes(false).size())) * g_size;
    Table t(all_bytes);
    const char* full_row = "checkpoint() full (incremental off)";
    const char* first_row = "checkpoint() incremental, the first (mesh linked)";
    const char* inc_row = "checkpoint() incremental, the next (mesh linked)";
    const char* floor_all = "raw write()+fsync() of all the bytes";
    const char* floor_changed = "raw write()+fsync() of the changed bytes";
    for (const char* row : {floor_all, floor_changed, full_row, first_row, inc_row}) t[row];
    double full_size = 0, inc_size = 0;
    const std::string raw_file = root + "/raw." + std::to_string(g_rank);
    for (int rep = 0; rep < args.warmup + args.reps; ++rep) {
        for (int k = 0; k < 3; ++k) {
            const int step = (k + rep) % 3;
            if (step == 0) {
                const std::vector<char> all = s.bytes(false), changed = s.bytes(true);
                t[floor_all].t.push_back(timed([&] { raw_write_durable(raw_file, all); }));
                std::filesystem::remove(raw_file);
                t[floor_changed].t.push_back(timed([&] { raw_write_durable(raw_file, changed); }));
                std::filesystem::remove(raw_file);
            } else {
                ckpt::Options o;
                o.dir = root + "/v" + std::to_string(step);
                o.mode.shutdown = false;
                o.depth = 0;
                o.incremental = step == 2 ? 8 : 0;
                ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
                s.protect(cp);
                std::string path;
                if (step == 2) {
                    cp.checkpoint();  // the full version the incremental ones follow
                    s.advance();      // the first: the fields hashed, found changed, then written
                    t[first_row].t.push_back(timed([&] { path = cp.checkpoint(); }));
                }
                s.advance();  // the next: the fields written while the mesh is hashed, then linked
                t[step == 2 ? inc_row : full_row].t.push_back(timed([&] { path = cp.checkpoint(); }));
                if (g_rank == 0) (step == 2 ? inc_size : full_size) = static_cast<double>(file_size(path));
            }
            MPI_Barrier(MPI_COMM_WORLD);
            if (g_rank == 0) {
                for (int d = 1; d <= 2; ++d) std::filesystem::remove_all(root + "/v" + std::to_string(d));
                quiesce(root);
            }
            MPI_Barrier(MPI_COMM_WORLD);
        }
    }
    t.drop_first(args.warmup);
    if (g_rank == 0)
        std::printf("\n== %.1f MiB per rank (mesh 75%%, changing fields 25%%), %d rank(s), %d reps (+%d warm-up), %s\n",
                    static_cast<double>(s.bytes(false).size()) / (1 << 20), g_size, args.reps, args.warmup, root.c_str());
    t.print("times (GB/s: all the raw bytes over each time)", true, args.samples);
    if (g_rank != 0) return;
    std::printf("\n  %-58s %12s %8s\n", "file size", "bytes", "/ full");
    std::printf("  %-58s %12.0f %8.3f\n", "full", full_size, 1.0);
    std::printf("  %-58s %12.0f %8.3f\n", "incremental", inc_size, inc_size / full_size);
    std::printf("\n  %-58s %5s   %5s   target\n", "ratio (time of the first / time of the second)", "best", "median");
    t.print_ratio("full / incremental (the speed-up)", full_row, inc_row, 2.5);
    t.print_ratio("raw write+fsync of the changed bytes / incremental", floor_changed, inc_row, 0.5);
    t.print_ratio("raw write+fsync of all the bytes / full", floor_all, full_row, 0.9);
}

}  // namespace

int main(int argc, char** argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    start("bench_incremental");
    const CommonArgs args =
        parse_args(argc, argv, "bench_incremental [--mib S (256)] [--reps R (3)] [--warmup W (1)] [--dir DIR] [--samples]");
    bool made = false;
    const std::string root = run_directory(args.dir, temp_base(), "ckpt-bench-incremental", made);
    run(args, root);
    MPI_Barrier(MPI_COMM_WORLD);
    if (g_rank == 0 && made) std::filesystem::remove_all(root);
    MPI_Finalize();
    return 0;
}
