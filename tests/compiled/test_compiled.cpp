// The compiled mode (docs/building.md), end to end: a program linked to libckpt (ckpt::compiled)
// writes every kind of entry through the public API, then a second Checkpointer restores them.
//   test_compiled DIR      (under mpiexec -n 1 or -n 2; DIR is created and must not exist yet)
// Exits 0 when every value came back, 1 naming the first that did not.
#include <ckpt.hpp>

// What the compiled mode promises a translation unit: <ckpt.hpp> brings no HDF5, no Boost, no
// <filesystem>, and (libstdc++'s include guards tell) none of the heavier standard headers that
// only the library needs (checked before anything else is included).
#if CKPT_HEADER_ONLY
#error "test_compiled must be built against ckpt::compiled (CKPT_SEPARATE_COMPILATION)"
#endif
#if defined(H5_VERS_MAJOR)
#error "<ckpt.hpp> included HDF5 in the compiled mode"
#endif
#if defined(BOOST_VERSION)
#error "<ckpt.hpp> included Boost in the compiled mode"
#endif
#if defined(_GLIBCXX_FILESYSTEM)
#error "<ckpt.hpp> included <filesystem> in the compiled mode"
#endif
#if defined(_GLIBCXX_FUNCTIONAL) || defined(_GLIBCXX_MAP) || defined(_GLIBCXX_MEMORY) || defined(_GLIBCXX_CHRONO) || \
    defined(_GLIBCXX_COMPLEX)
#error "<ckpt.hpp> included <functional>, <map>, <memory>, <chrono> or <complex> in the compiled mode"
#endif

#include <ckpt/boost.hpp>    // opt-in, for Params below
#include <ckpt/complex.hpp>  // opt-in, for spectrum below
#include <ckpt/options.hpp>  // opt-in, for ckpt::Options

#include <complex>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

struct Params {  // the Boost path
    std::map<std::string, double> coefficients;
    std::string label;
    template <class Archive>
    void serialize(Archive& ar, unsigned) {
        ar & coefficients & label;
    }
};

struct Particle {  // a custom codec
    std::vector<double> x;
    std::int32_t id = 0;
};

}  // namespace

template <>
struct ckpt::codec<Particle> {
    static void save(ckpt::Writer& w, const Particle& p) { w.write("x", p.x).write("id", p.id).write("n", p.x.size()); }
    static void load(ckpt::Reader& r, Particle& p) {
        std::size_t n = 0;
        r.read("x", p.x).read("id", p.id).read("n", n);
        if (n != p.x.size()) p.id = -1;  // the rvalue "n" must have been written
    }
};

namespace {

struct State {
    std::int64_t step = 0;
    std::vector<double> u;
    std::string note;
    double grid[2][3] = {};
    std::vector<std::complex<double>> spectrum;
    Params params;
    Particle particle;
};

void fill(State& s, int rank) {
    s.step = 42;
    s.u.assign(1000, 0.0);
    for (std::size_t i = 0; i < s.u.size(); ++i) s.u[i] = 0.5 * static_cast<double>(i) + rank;
    s.note = "rank " + std::to_string(rank);
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) s.grid[i][j] = 10 * i + j + 0.25 * rank;
    s.spectrum = {{1.0, -1.0}, {0.5, 2.0 + rank}};
    s.params.coefficients = {{"alpha", 0.5}, {"beta", 1.5 + rank}};
    s.params.label = "heat";
    s.particle.x = {1.0, 2.0, 3.0 + rank};
    s.particle.id = 7 + rank;
}

void protect(ckpt::Checkpointer& cp, State& s) {
    cp.protect("step", s.step).protect("u", s.u).protect("note", s.note).protect("params", s.params);
    cp.protect("spectrum", s.spectrum);
    cp.protect("grid", ckpt::ArrayView<double>(&s.grid[0][0], {2, 3})).protect("particle", s.particle);
}

int failures = 0;
void expect(bool ok, const char* what, int rank) {
    if (ok) return;
    std::fprintf(stderr, "test_compiled: rank %d: %s did not come back\n", rank, what);
    ++failures;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: test_compiled DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    return ckpt::main_guard([&] {
        int rank = 0;
        State written;
        int hooks_before = 0;
        {
            ckpt::Options o;
            o.dir = dir;
            o.depth = 0;
            ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
            rank = cp.rank();
            fill(written, rank);
            protect(cp, written);
            cp.on_checkpoint([&hooks_before] { ++hooks_before; });
            {
                ckpt::CriticalSection section(cp);
                cp.poll(1);  // nothing due; inside a section in any case
            }
            const std::string path = cp.checkpoint();
            expect(!path.empty() && cp.sequence() == 1, "the first version", rank);
            expect(hooks_before == 1, "the on_checkpoint hook", rank);
        }
        State read;
        bool rebuilt = false;
        {
            ckpt::Options o;
            o.dir = dir;
            ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
            protect(cp, read);
            const std::function<void()> hook = [&rebuilt] { rebuilt = true; };  // a std::function, too
            cp.on_restart(hook);
            ckpt::RestartSpec latest;
            latest.kind = ckpt::RestartKind::Latest;
            expect(cp.restore(latest), "a restore", rank);
        }
        expect(rebuilt, "the on_restart hook", rank);
        expect(read.step == written.step, "step", rank);
        expect(read.u == written.u, "u", rank);
        expect(read.note == written.note, "note", rank);
        bool grid = true;
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 3; ++j) grid = grid && read.grid[i][j] == written.grid[i][j];
        expect(grid, "grid", rank);
        expect(read.spectrum == written.spectrum, "spectrum", rank);
        expect(read.params.coefficients == written.params.coefficients && read.params.label == "heat", "params", rank);
        expect(read.particle.x == written.particle.x && read.particle.id == written.particle.id, "particle", rank);
        if (failures == 0 && rank == 0) std::printf("test_compiled: every entry restored\n");
        return failures == 0 ? 0 : 1;
    });
}
