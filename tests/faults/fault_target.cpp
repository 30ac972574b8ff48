// fault_target: the program the fault-injection suite runs (tests/faults/README.md).
//
//   fault_target write K  [--small] --checkpoint-dir D           versions 1..K, fresh
//   fault_target fault    [--small] --checkpoint-dir D --restart latest
//        restores the newest version v, then writes v+1 with the fault shim armed (if preloaded)
//   fault_target verify   [--small] --checkpoint-dir D --restart latest|PATH [--expect V] [--min V]
//        restores and checks every protected value is exactly that of the version it restored
//
// The state is small but varied: per rank a large vector<double> (written by every rank itself,
// more than the 4 MiB below which ckpt gathers an entry to rank 0; --small leaves it small), a
// small gathered vector, an int64 scalar, a std::string, a Boost-serialized struct, a
// custom-codec group, a replicated scalar, and a block of a global 2-D grid (slabs of rows with a
// ghost row above and below, written by one collective call). Every value is a function of
// (version, rank or global index, index): a restore either gives exactly one committed
// version's values or it is wrong.
//
// Every rank prints at most one line for a failed checkpoint or restore:
//   fault_target: rank R: exit S: <ckpt::Error::what()>
// and exits with ckpt::exit_code() of the error (74 for an I/O error). With CKPT_FAULT_STATUS_DIR
// set, every rank writes its exit status to <dir>/status.<rank> after MPI_Finalize, so that a
// crash in an exit handler can be told apart from a failure before it.
//
// With CKPT_FAULT_INCREMENTAL=1 (for CKPT_INCREMENTAL runs, docs/incremental.md): the large
// vector keeps version 1's values in every version (static, as a mesh), so incremental versions
// link it; and the fault run writes one version unarmed before the armed one, which is then
// incremental (the first version after a restore is full).

#include <ckpt.hpp>

#include <dlfcn.h>
#include <mpi.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

struct Params {  // the Boost path
    std::int64_t version = 0;
    std::string note;
    std::map<std::string, double> table;
    std::vector<int> weights;
    template <class Archive>
    void serialize(Archive& ar, unsigned /*version*/) {
        ar & version & note & table & weights;
    }
    bool operator==(const Params& o) const {
        return version == o.version && note == o.note && table == o.table && weights == o.weights;
    }
};

struct Mesh {  // a custom codec: an HDF5 group with two sub-entries
    std::vector<std::int32_t> ids;
    float scale = 0;
    bool operator==(const Mesh& o) const { return ids == o.ids && scale == o.scale; }
};

}  // namespace

template <>
struct ckpt::codec<Mesh> {
    static void save(ckpt::Writer& w, const Mesh& m) {
        w.write("ids", m.ids);
        w.write("scale", m.scale);
    }
    static void load(ckpt::Reader& r, Mesh& m) {
        r.read("ids", m.ids);
        r.read("scale", m.scale);
    }
};

namespace {

struct State {
    std::int64_t version = 0;
    std::vector<double> big;
    std::vector<double> small;
    std::string label;
    Params params;
    Mesh mesh;
    std::int64_t clock = 0;   // replicated
    std::vector<double> grid;  // (rows + 2) x grid_columns, block of grid_rows x grid_columns
};

constexpr int grid_rows = 53, grid_columns = 37;
int slab_rows(int rank, int size) { return grid_rows / size + (rank < grid_rows % size ? 1 : 0); }
int slab_first(int rank, int size) { return rank * (grid_rows / size) + std::min(rank, grid_rows % size); }

// Exactly representable values, different for every (version, rank, index).
double value(std::int64_t v, int rank, std::size_t i, int salt) {
    const std::uint64_t k = (static_cast<std::uint64_t>(v) * 1000003u + static_cast<std::uint64_t>(rank) * 7919u +
                             i * 13u + static_cast<std::uint64_t>(salt)) %
                            (std::uint64_t{1} << 50);
    return static_cast<double>(k) * 0.25;
}

std::size_t big_count(int rank, int size, bool small) {
    if (small) return 40 + 3 * static_cast<std::size_t>(rank);
    // Over 4 MiB in all, so every rank writes its own part independently.
    const std::size_t total = (std::size_t{5} << 20) / sizeof(double);
    return total / static_cast<std::size_t>(size) + 13 * static_cast<std::size_t>(rank);
}

bool incremental_run() {
    const char* e = std::getenv("CKPT_FAULT_INCREMENTAL");
    return e && std::strcmp(e, "1") == 0;
}

State expected(std::int64_t v, int rank, int size, bool small) {
    State s;
    s.version = v;
    s.big.resize(big_count(rank, size, small));
    const std::int64_t big_version = incremental_run() ? 1 : v;
    for (std::size_t i = 0; i < s.big.size(); ++i) s.big[i] = value(big_version, rank, i, 1);
    s.small.resize(100 + 7 * static_cast<std::size_t>(rank) + static_cast<std::size_t>(v % 3));
    for (std::size_t i = 0; i < s.small.size(); ++i) s.small[i] = value(v, rank, i, 2);
    s.label = "version " + std::to_string(v) + " rank " + std::to_string(rank) +
              std::string(static_cast<std::size_t>(v % 5 + rank), 'x');
    s.params.version = v;
    s.params.note = "params of version " + std::to_string(v);
    s.params.table = {{"alpha", value(v, rank, 0, 3)}, {"beta", value(v, rank, 1, 3)}, {"rank", double(rank)}};
    s.params.weights.assign(static_cast<std::size_t>(3 + rank), static_cast<int>(v * 10 + rank));
    s.mesh.ids.resize(16 + static_cast<std::size_t>(rank));
    for (std::size_t i = 0; i < s.mesh.ids.size(); ++i) s.mesh.ids[i] = static_cast<std::int32_t>(v * 100000 + rank * 1000 + i);
    s.mesh.scale = static_cast<float>(v) * 0.5f + static_cast<float>(rank);
    s.clock = v * 3;
    const int rows = slab_rows(rank, size), first = slab_first(rank, size);
    s.grid.assign(static_cast<std::size_t>((rows + 2) * grid_columns), -2.0);  // ghost rows: never restored
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < grid_columns; ++c)
            s.grid[static_cast<std::size_t>((r + 1) * grid_columns + c)] =
                value(v, 0, static_cast<std::size_t>((first + r) * grid_columns + c), 4);
    return s;
}

// `s` takes `from`'s values; the grid's in place, where the checkpointer's view of it points.
void assign(State& s, State from) {
    std::vector<double> grid = std::move(s.grid);
    std::copy(from.grid.begin(), from.grid.end(), grid.begin());
    s = std::move(from);
    s.grid = std::move(grid);  // the same buffer again
}

// What differs between `got` and the values of `v` ("" when nothing).
std::string differences(const State& got, std::int64_t v, int rank, int size, bool small) {
    const State want = expected(v, rank, size, small);
    std::string d;
    auto add = [&d](const std::string& what) { d += (d.empty() ? "" : ", ") + what; };
    if (got.version != want.version) add("version");
    if (got.big != want.big) add("big (" + std::to_string(got.big.size()) + " values)");
    if (got.small != want.small) add("small");
    if (got.label != want.label) add("label \"" + got.label + "\"");
    if (!(got.params == want.params)) add("params");
    if (!(got.mesh == want.mesh)) add("mesh");
    if (got.clock != want.clock) add("clock");
    if (got.grid != want.grid) add("grid");
    return d;
}

void arm(bool on) {  // the fault shim's switch, when it is preloaded
    using Arm = void (*)(int);
    if (auto f = reinterpret_cast<Arm>(dlsym(RTLD_DEFAULT, "ckpt_fault_arm"))) f(on ? 1 : 0);
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: fault_target write K | fault | verify [--expect V] [--min V]  [--small] [ckpt flags]\n");
    std::exit(64);
}

std::int64_t number(const char* s) {
    char* end = nullptr;
    const long long v = std::strtoll(s, &end, 10);
    if (!*s || *end || v < 0) usage();
    return v;
}

int run(int& argc, char** argv, int rank, int size) {
    ckpt::Options in_code;
    in_code.depth = 3;  // the fault run's rotation then deletes a version: unlink is faulted too
    ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD, in_code);
    if (argc < 2) usage();
    const std::string mode = argv[1];
    std::int64_t count = 0, expect = -1, at_least = -1;
    bool small = false;
    int i = 2;
    if (mode == "write") {
        if (argc < 3) usage();
        count = number(argv[i++]);
    } else if (mode != "fault" && mode != "verify") {
        usage();
    }
    for (; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--small")) small = true;
        else if (!std::strcmp(argv[i], "--expect") && i + 1 < argc) expect = number(argv[++i]);
        else if (!std::strcmp(argv[i], "--min") && i + 1 < argc) at_least = number(argv[++i]);
        else usage();
    }

    // Values no version has: a restore that restores nothing is caught too.
    State s = expected(0, rank, size, small);
    s.big.assign(3, -1.0);
    s.label = "unrestored";
    std::fill(s.grid.begin(), s.grid.end(), -2.0);
    const int rows = slab_rows(rank, size);
    cp.protect("version", s.version)
        .protect("big", s.big)
        .protect("small", s.small)
        .protect("label", s.label)
        .protect("params", s.params)
        .protect("mesh", s.mesh)
        .protect("clock", s.clock, ckpt::replicated())
        .protect("grid", ckpt::ArrayView<double>(s.grid.data(), {rows + 2, grid_columns}),
                 ckpt::block({grid_rows, grid_columns}, {slab_first(rank, size), 0}, {rows, grid_columns}).ghosts({1, 0}));

    if (mode == "write") {
        for (std::int64_t v = 1; v <= count; ++v) {
            assign(s, expected(v, rank, size, small));
            cp.checkpoint();
        }
        cp.sync();
        return 0;
    }

    const bool restored = cp.restore_if_requested();
    const std::int64_t v = restored ? s.version : 0;
    const std::string wrong = restored ? differences(s, v, rank, size, small) : std::string("nothing restored");
    if (mode == "fault") {
        if (!wrong.empty()) {
            std::fprintf(stderr, "fault_target: rank %d: the base version is wrong before the fault: %s\n", rank,
                         wrong.c_str());
            return 3;
        }
        const std::int64_t unarmed = incremental_run() ? 1 : 0;
        for (std::int64_t w = 1; w <= unarmed; ++w) {
            assign(s, expected(v + w, rank, size, small));
            cp.checkpoint();
        }
        assign(s, expected(v + unarmed + 1, rank, size, small));
        arm(true);
        std::string path;
        try {
            path = cp.checkpoint();
            cp.sync();  // rank 0's rotation (unlink) belongs to this checkpoint
        } catch (...) {
            cp.sync();
            arm(false);
            throw;
        }
        arm(false);
        std::printf("fault_target: rank %d: wrote version %" PRId64 ": %s\n", rank, v + unarmed + 1, path.c_str());
        return 0;
    }

    // verify
    std::printf("fault_target: verify: rank %d: restored version %" PRId64 " (sequence %" PRIu64 ") from %s\n", rank,
                v, cp.sequence(), cp.last_path().c_str());
    if (!wrong.empty()) {
        std::printf("fault_target: verify: rank %d: WRONG data for version %" PRId64 ": %s\n", rank, v, wrong.c_str());
        return 3;
    }
    int status = 0;
    if (static_cast<std::uint64_t>(v) != cp.sequence()) {
        std::printf("fault_target: verify: rank %d: META the file's sequence %" PRIu64 " is not the data's version %" PRId64
                    "\n",
                    rank, cp.sequence(), v);
        status = 5;
    }
    if ((expect >= 0 && v != expect) || (at_least >= 0 && v < at_least)) {
        std::printf("fault_target: verify: rank %d: OLD restored version %" PRId64 ", expected %s%" PRId64 "\n", rank,
                    v, expect >= 0 ? "" : "at least ", expect >= 0 ? expect : at_least);
        return 4;
    }
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int status = 0;
    try {
        status = run(argc, argv, rank, size);
    } catch (const ckpt::Error& e) {
        status = ckpt::exit_code(e);
        std::fprintf(stderr, "fault_target: rank %d: exit %d: %s\n", rank, status, e.what());
    } catch (const std::exception& e) {
        status = 70;
        std::fprintf(stderr, "fault_target: rank %d: exit %d: not a ckpt::Error: %s\n", rank, status, e.what());
    }
    std::fflush(nullptr);
    MPI_Finalize();
    if (const char* dir = std::getenv("CKPT_FAULT_STATUS_DIR")) {
        std::ofstream(std::string(dir) + "/status." + std::to_string(rank)) << status << "\n";
    }
    return status;
}
