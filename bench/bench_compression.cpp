/// bench_compression: what compression costs and saves (docs/compression.md).
///
///   mpiexec -n 2 bench_compression [--mib S] [--reps R] [--warmup W] [--dir DIR] [--samples]
///
/// Each rank owns S MiB of state, in two kinds, each measured on its own:
///   - heat: the heat example's grid (examples/heat.cpp: two Gaussian hot spots on an n x n grid,
///     slabs of rows per rank), after 20 explicit diffusion steps: smooth doubles, most of the
///     grid close to zero, every mantissa bit in use;
///   - synthetic: a static mesh three times the size of the changing fields: node coordinates
///     (a regular grid, jittered by 1e-6) and int32 connectivity, then two smooth fields with
///     noise of 1e-3 (the synthetic state).
/// Per rep, in one run, for each kind and each of off, deflate:1 and lz4: a durable checkpoint()
/// (depth 0: no rotation inside a timing), the file's size, and a restore() of it from a cold
/// page cache (the file evicted first); and the floors: raw write()+fsync() of the same raw
/// bytes to a file per rank, and a cold raw pread() of it. Every timing is barrier to barrier,
/// the slowest rank's; GB/s are raw (uncompressed) bytes over time, so that they compare.

#include <ckpt.hpp>

#include "bench_support.hpp"

#include <mpi.h>

#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace bench;

/// One rank's state of one kind: the arrays it protects (every one per-rank but the heat grid,
/// which is a block of the global grid, as in the example).
struct State {
    std::string kind;
    std::vector<double> grid;  // heat: (rows + 2) x n with halo rows
    std::uint64_t n = 0, rows = 0, first_row = 0;
    std::vector<double> coords, a, b;  // synthetic
    std::vector<std::int32_t> cells;

    std::size_t bytes() const {
        return kind == "heat" ? rows * n * sizeof(double)
                              : (coords.size() + a.size() + b.size()) * sizeof(double) + cells.size() * sizeof(std::int32_t);
    }
    void protect(ckpt::Checkpointer& cp) {
        if (kind == "heat") {
            cp.protect("grid", ckpt::ArrayView<double>(grid.data(), {rows + 2, n}),
                       ckpt::block({rows * static_cast<std::uint64_t>(g_size), n}, {first_row, std::uint64_t{0}}, {rows, n}).ghosts({1, 0}));
        } else {
            cp.protect("mesh_coords", coords).protect("mesh_cells", cells).protect("a", a).protect("b", b);
        }
    }
    /// The raw bytes, as one buffer: what the floors write and read.
    std::vector<char> raw() const {
        std::vector<char> out;
        auto add = [&](const void* p, std::size_t bytes) {
            out.insert(out.end(), static_cast<const char*>(p), static_cast<const char*>(p) + bytes);
        };
        if (kind == "heat") {
            add(grid.data() + n, rows * n * sizeof(double));
        } else {
            add(coords.data(), coords.size() * sizeof(double));
            add(cells.data(), cells.size() * sizeof(std::int32_t));
            add(a.data(), a.size() * sizeof(double));
            add(b.data(), b.size() * sizeof(double));
        }
        return out;
    }
};

State heat_state(std::size_t mib) {
    State s;
    s.kind = "heat";
    // Square global grid: n rows per rank of n doubles each, about S MiB per rank.
    s.n = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(mib) * (1 << 20) / sizeof(double) / g_size) *
                                     std::sqrt(static_cast<double>(g_size)));
    s.rows = s.n / static_cast<std::uint64_t>(g_size);
    s.first_row = s.rows * static_cast<std::uint64_t>(g_rank);
    const std::uint64_t global = s.rows * static_cast<std::uint64_t>(g_size);
    std::vector<double> u((s.rows + 2) * s.n, 0.0), next = u;
    for (std::uint64_t i = 0; i < s.rows; ++i)
        for (std::uint64_t j = 0; j < s.n; ++j) {
            const double x = static_cast<double>(s.first_row + i) / static_cast<double>(global), y = static_cast<double>(j) / static_cast<double>(s.n);
            u[(i + 1) * s.n + j] = std::exp(-80 * ((x - .3) * (x - .3) + (y - .3) * (y - .3))) +
                                   0.5 * std::exp(-120 * ((x - .7) * (x - .6) + (y - .7) * (y - .7)));
        }
    for (int step = 0; step < 20; ++step) {  // the example's stencil; halos held at their edge values
        std::copy(u.begin() + static_cast<std::ptrdiff_t>(s.n), u.begin() + static_cast<std::ptrdiff_t>(2 * s.n), u.begin());
        std::copy(u.end() - static_cast<std::ptrdiff_t>(2 * s.n), u.end() - static_cast<std::ptrdiff_t>(s.n), u.end() - static_cast<std::ptrdiff_t>(s.n));
        for (std::uint64_t i = 1; i <= s.rows; ++i)
            for (std::uint64_t j = 1; j + 1 < s.n; ++j) {
                const std::uint64_t k = i * s.n + j;
                next[k] = u[k] + 0.2 * (u[k - s.n] + u[k + s.n] + u[k - 1] + u[k + 1] - 4 * u[k]);
            }
        for (std::uint64_t i = 1; i <= s.rows; ++i) std::copy(next.begin() + static_cast<std::ptrdiff_t>(i * s.n + 1),
                                                             next.begin() + static_cast<std::ptrdiff_t>((i + 1) * s.n - 1),
                                                             u.begin() + static_cast<std::ptrdiff_t>(i * s.n + 1));
    }
    s.grid = std::move(u);
    return s;
}

State synthetic_state(std::size_t mib) {
    State s;
    s.kind = "synthetic";
    const std::size_t total = mib << 20, mesh = total * 3 / 4, fields = total - mesh;
    std::mt19937_64 gen(static_cast<std::uint64_t>(g_rank) + 1);
    std::uniform_real_distribution<double> jitter(-1e-6, 1e-6), noise(-1e-3, 1e-3);
    s.coords.resize(mesh / 2 / sizeof(double));  // x, y, z of a regular grid of nodes
    const std::size_t side = static_cast<std::size_t>(std::cbrt(static_cast<double>(s.coords.size() / 3))) + 1;
    for (std::size_t p = 0; p < s.coords.size(); ++p) {
        const std::size_t node = p / 3, axis = p % 3;
        const std::size_t index = axis == 0 ? node % side : axis == 1 ? (node / side) % side : node / (side * side);
        s.coords[p] = static_cast<double>(index) * 0.01 + jitter(gen);
    }
    s.cells.resize(mesh / 2 / sizeof(std::int32_t));  // 8 node ids per hexahedron
    for (std::size_t c = 0; c < s.cells.size(); ++c) {
        const std::size_t cell = c / 8, corner = c % 8;
        s.cells[c] = static_cast<std::int32_t>(cell + (corner & 1) + ((corner >> 1) & 1) * side + (corner >> 2) * side * side);
    }
    s.a.resize(fields / 2 / sizeof(double));
    s.b.resize(s.a.size());
    for (std::size_t i = 0; i < s.a.size(); ++i) {
        const double x = static_cast<double>(i) * 1e-5 + g_rank;
        s.a[i] = std::sin(x) * (1 + noise(gen));
        s.b[i] = 300 + 20 * std::cos(3 * x) * (1 + noise(gen));
    }
    return s;
}

void run(const CommonArgs& args, const std::string& root, State s) {
    const std::vector<ckpt::Compression> methods{ckpt::Compression::off(), ckpt::Compression::deflate(1),
                                                 ckpt::Compression::lz4()};
    const double bytes = max_over_ranks(static_cast<double>(s.bytes())) * g_size;
    const std::vector<char> raw = s.raw();
    std::vector<char> back(raw.size());
    Table t(bytes);
    std::vector<double> on_disk(methods.size(), 0);
    bool restored_right = true;
    const std::string raw_file = root + "/raw." + std::to_string(g_rank);
    // Rows in a fixed order; the measurements of a rep in a rotating one (floor, off, deflate:1,
    // lz4, then starting one later each rep), so that no method always follows the same one.
    t["raw write()+fsync() of the bytes (the floor)"];
    t["raw pread() of them, cold (the floor)"];
    for (const auto& m : methods) t["checkpoint() " + m.text() + " (durable)"], t["restore() " + m.text() + " (cold, verified)"];
    for (int rep = 0; rep < args.warmup + args.reps; ++rep) {
        for (std::size_t k = 0; k <= methods.size(); ++k) {
            const std::size_t step = (k + static_cast<std::size_t>(rep)) % (methods.size() + 1);
            if (step == methods.size()) {
                t["raw write()+fsync() of the bytes (the floor)"].t.push_back(timed([&] { raw_write_durable(raw_file, raw); }));
                evict(raw_file);
                t["raw pread() of them, cold (the floor)"].t.push_back(timed([&] { raw_read(raw_file, back); }));
                MPI_Barrier(MPI_COMM_WORLD);
                std::filesystem::remove(raw_file);
                if (g_rank == 0) quiesce(root);
                MPI_Barrier(MPI_COMM_WORLD);
                continue;
            }
            const std::size_t m = step;
            const std::string label = methods[m].text();
            ckpt::Options o;
            o.dir = root + "/" + s.kind + "-" + std::to_string(m);
            o.mode.shutdown = false;
            o.depth = 0;
            o.compression = methods[m];
            State copy = s;  // the checkpointer's views point into `copy`
            ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
            copy.protect(cp);
            std::string path;
            t["checkpoint() " + label + " (durable)"].t.push_back(timed([&] { path = cp.checkpoint(); }));
            if (g_rank == 0) {
                on_disk[m] = static_cast<double>(file_size(path));
                evict(path);
            }
            ckpt::RestartSpec spec;
            spec.kind = ckpt::RestartKind::Path;
            spec.target = path;
            for (auto* v : {&copy.grid, &copy.coords, &copy.a, &copy.b}) std::fill(v->begin(), v->end(), 0.0);
            std::fill(copy.cells.begin(), copy.cells.end(), 0);
            t["restore() " + label + " (cold, verified)"].t.push_back(timed([&] { cp.restore(spec); }));
            restored_right = restored_right && copy.raw() == raw;
            MPI_Barrier(MPI_COMM_WORLD);
            if (g_rank == 0) std::filesystem::remove_all(o.dir);
            if (g_rank == 0) quiesce(root);
            MPI_Barrier(MPI_COMM_WORLD);
        }
    }
    if (!restored_right) die("a restore did not give back the state written");
    t.drop_first(args.warmup);
    if (g_rank == 0)
        std::printf("\n== %s state: %.1f MiB per rank, %d rank(s), %d reps (+%d warm-up), %s\n", s.kind.c_str(),
                    static_cast<double>(s.bytes()) / (1 << 20), g_size, args.reps, args.warmup, root.c_str());
    t.print("times (GB/s: the raw bytes over each time)", true, args.samples);
    if (g_rank != 0) return;
    std::printf("\n  %-58s %12s %8s\n", "bytes on disk (file size)", "bytes", "/ raw");
    for (std::size_t m = 0; m < methods.size(); ++m)
        std::printf("  %-58s %12.0f %8.3f\n", methods[m].text().c_str(), on_disk[m], on_disk[m] / bytes);
    std::printf("\n  %-58s %5s   %5s   target\n", "ratio (time of the first / time of the second)", "best", "median");
    t.print_ratio("raw write+fsync / checkpoint off", "raw write()+fsync() of the bytes (the floor)",
                  "checkpoint() off (durable)", 0.9);
    t.print_ratio("raw cold read / restore off", "raw pread() of them, cold (the floor)", "restore() off (cold, verified)", 0.9);
    // Compression cannot be held to the floor of the raw bytes: what it costs or saves depends on
    // the disk. Reported, with the disk speed below which it pays (medians): with `f` the stored
    // fraction, a compressed write takes C + f*D where an uncompressed one takes D (D: the disk
    // time of the raw bytes, C: the filter's time; HDF5 1.10 compresses, then writes, without
    // overlap). It pays where D > C / (1 - f), on a disk slower than raw bytes * (1 - f) / C.
    std::printf("\n  %-58s %8s %8s %14s\n", "compressed against off (medians)", "write", "restore", "pays below");
    for (std::size_t m = 1; m < methods.size(); ++m) {
        const std::string label = methods[m].text();
        const double off = t.at("checkpoint() off (durable)").median(), ours = t.at("checkpoint() " + label + " (durable)").median();
        const double f = on_disk[m] / on_disk[0], cost = ours - f * off;
        const double restore = t.ratio("restore() off (cold, verified)", "restore() " + label + " (cold, verified)", false);
        char pays[32];
        if (f >= 1 || cost <= 0) std::snprintf(pays, sizeof pays, "%s", f >= 1 ? "never" : "any disk");
        else std::snprintf(pays, sizeof pays, "%.2f GB/s", bytes * (1 - f) / cost / 1e9);
        std::printf("  %-58s %7.2fx %7.2fx %14s\n", (label + ": off's time / its time").c_str(), off / ours, restore, pays);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    start("bench_compression");
    const CommonArgs args = parse_args(argc, argv,
                                       "bench_compression [--mib S (256)] [--reps R (3)] [--warmup W (1)] [--dir DIR] [--samples]");
    bool made = false;
    const std::string root = run_directory(args.dir, temp_base(), "ckpt-bench-compression", made);
    run(args, root, heat_state(args.mib));
    run(args, root, synthetic_state(args.mib));
    MPI_Barrier(MPI_COMM_WORLD);
    if (g_rank == 0 && made) std::filesystem::remove_all(root);
    MPI_Finalize();
    return 0;
}
