// Round trips for every supported type family, and the dispatch each one takes.
#include "testing.hpp"

#include <array>
#include <complex>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace app {
struct Params {  // Boost path through a public member serialize()
    double alpha = 0;
    int n = 0;
    std::string label;
    std::vector<int> ids;
    template <class Ar>
    void serialize(Ar& ar, unsigned) {
        ar & alpha & n & label & ids;
    }
    bool operator==(const Params& o) const { return alpha == o.alpha && n == o.n && label == o.label && ids == o.ids; }
};

struct Legacy {  // Boost path through a free serialize(), opted in below
    std::int64_t a = 0;
    std::string b;
    bool operator==(const Legacy& o) const { return a == o.a && b == o.b; }
};
template <class Ar>
void serialize(Ar& ar, Legacy& l, unsigned) {
    ar & l.a & l.b;
}

struct Field {  // direct path through the ADL ckpt_view hook
    std::vector<float> storage = std::vector<float>(12);
    bool operator==(const Field& o) const { return storage == o.storage; }
};
inline ckpt::ArrayView<float> ckpt_view(Field& f) { return ckpt::ArrayView<float>(f.storage.data(), {3, 4}); }

struct Mesh {  // custom codec: a group of sub-entries
    std::vector<double> coords;
    std::int32_t n = 0;
    Params params;
    bool operator==(const Mesh& o) const { return coords == o.coords && n == o.n && params == o.params; }
};

struct Histogram {  // custom codec that writes computed values (rvalues), not members
    std::vector<double> samples;
    bool operator==(const Histogram& o) const { return samples == o.samples; }
};

struct Both {  // has both ckpt_view and serialize: forced onto the Boost path below
    std::vector<double> v = std::vector<double>(3);
    template <class Ar>
    void serialize(Ar& ar, unsigned) {
        ar & v;
    }
    bool operator==(const Both& o) const { return v == o.v; }
};
inline ckpt::ArrayView<double> ckpt_view(Both& b) { return ckpt::ArrayView<double>(b.v.data(), {3}); }
}  // namespace app

CKPT_BOOST_SERIALIZABLE(app::Legacy)

template <>
struct ckpt::codec<app::Mesh> {
    static void save(ckpt::Writer& w, const app::Mesh& m) { w.write("coords", m.coords).write("n", m.n).write("params", m.params); }
    static void load(ckpt::Reader& r, app::Mesh& m) { r.read("coords", m.coords).read("n", m.n).read("params", m.params); }
};
template <>
struct ckpt::codec<app::Both> : ckpt::use_boost<app::Both> {};
template <>
struct ckpt::codec<app::Histogram> {
    static void save(ckpt::Writer& w, const app::Histogram& h) {
        std::vector<double> doubled;  // a local: gone when save() returns, before the file is written
        for (double x : h.samples) doubled.push_back(2 * x);
        w.write("count", static_cast<std::uint64_t>(h.samples.size())).write("doubled", std::move(doubled));
    }
    static void load(ckpt::Reader& r, app::Histogram& h) {
        std::uint64_t count = 0;
        std::vector<double> doubled;
        r.read("count", count).read("doubled", doubled);
        REQUIRE(doubled.size() == count);
        h.samples.clear();
        for (double x : doubled) h.samples.push_back(x / 2);
    }
};

namespace {
using Rng = std::mt19937_64;

template <class T>
void fill(T& v, Rng& g);

template <class T>
void fill_scalar(T& v, Rng& g) {
    if constexpr (std::is_same_v<T, bool>) v = g() & 1;
    else if constexpr (std::is_floating_point_v<T>) v = static_cast<T>(std::uniform_real_distribution<double>(-1e3, 1e3)(g));
    else v = static_cast<T>(g());
}
template <class T>
void fill(T& v, Rng& g) {
    if constexpr (std::is_arithmetic_v<T>) fill_scalar(v, g);
    else if constexpr (ckpt::detail::is_complex<T>::value) {
        typename T::value_type re, im;
        fill_scalar(re, g), fill_scalar(im, g);
        v = T(re, im);
    } else if constexpr (std::is_same_v<T, std::string>) {
        v.assign(1 + g() % 40, 'x');
        for (char& c : v) c = static_cast<char>('a' + g() % 26);
        v[0] = '\0';  // strings are byte arrays; embedded NULs survive
    } else if constexpr (std::is_same_v<T, app::Params>) {
        fill(v.alpha, g), fill(v.n, g), fill(v.label, g), fill(v.ids, g);
    } else if constexpr (std::is_same_v<T, app::Legacy>) {
        fill(v.a, g), fill(v.b, g);
    } else {  // containers
        T out{};
        const std::size_t n = 1 + g() % 50;
        for (std::size_t i = 0; i < n; ++i) {
            if constexpr (std::is_same_v<T, std::map<std::string, int>> ||
                          std::is_same_v<T, std::unordered_map<int, double>>) {
                typename T::key_type k{};
                typename T::mapped_type m{};
                fill(k, g), fill(m, g);
                out.emplace(k, m);
            } else if constexpr (std::is_same_v<T, std::set<int>>) {
                int k = 0;
                fill(k, g);
                out.insert(k);
            } else {
                typename T::value_type e{};
                fill(e, g);
                out.push_back(e);
            }
        }
        v = std::move(out);
    }
}
template <class T, std::size_t N>
void fill(std::array<T, N>& v, Rng& g) {
    for (auto& e : v) fill(e, g);
}
template <class A, class B>
void fill(std::pair<A, B>& v, Rng& g) {
    fill(v.first, g), fill(v.second, g);
}

template <class T>
T make_value(std::uint64_t seed) {
    Rng g(seed);
    T v{};
    fill(v, g);
    return v;
}

/// Writes `original` as entry "x", restores it into a default value, returns the restored value.
template <class T>
T roundtrip(const ckpt::testing::TempDir& dir, T original) {
    {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("x", original);
        cp.checkpoint();
    }
    T restored{};
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("x", restored);
    REQUIRE(cp.restore_if_requested());
    return restored;
}

std::string stored_attribute(const ckpt::testing::TempDir& dir, const std::string& object, const std::string& name) {
    auto versions = ckpt::detail::committed_versions(dir.path(), "ckpt");
    REQUIRE(!versions.empty());
    ckpt::detail::h5::File f(versions.back().path, MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
    return f.read_string_attribute(object, name);
}
}  // namespace

using direct_types = std::tuple<int, std::int64_t, std::uint8_t, char, bool, float, double, long double,
                                std::complex<float>, std::complex<double>, std::vector<double>,
                                std::vector<std::int32_t>, std::vector<std::complex<double>>, std::array<int, 7>,
                                std::array<double, 1>, std::string>;
using boost_types = std::tuple<std::map<std::string, int>, std::vector<std::string>, app::Params, app::Legacy,
                               std::vector<app::Params>, std::vector<std::vector<double>>, std::pair<int, std::string>,
                               std::unordered_map<int, double>, std::set<int>, std::vector<bool>>;

// Pin the traits at compile time (mdspan/CLI11 style).
static_assert(ckpt::is_checkpointable_v<double>);
static_assert(ckpt::is_checkpointable_v<std::vector<app::Params>>);
static_assert(ckpt::is_checkpointable_v<app::Field>);
static_assert(ckpt::is_checkpointable_v<app::Mesh>);
static_assert(ckpt::is_checkpointable_v<app::Histogram>);
static_assert(!ckpt::is_checkpointable_v<int*>);
static_assert(!ckpt::is_checkpointable_v<std::vector<int*>>);

TEMPLATE_LIST_TEST_CASE("round trip through the direct HDF5 path", "[unit][hdf5][codec]", direct_types) {
    ckpt::testing::TempDir dir;
    const auto original = make_value<TestType>(42);
    REQUIRE(roundtrip(dir, original) == original);
    REQUIRE(stored_attribute(dir, "/state/x", "ckpt.codec") == "direct");  // fails if dispatch silently changes
}

TEMPLATE_LIST_TEST_CASE("round trip through the Boost.Serialization path", "[unit][boost][codec]", boost_types) {
    ckpt::testing::TempDir dir;
    const auto original = make_value<TestType>(7);
    REQUIRE(roundtrip(dir, original) == original);
    REQUIRE(stored_attribute(dir, "/state/x", "ckpt.codec") == "boost.binary");
}

TEST_CASE("C arrays and ArrayViews keep their extents on disk", "[unit][hdf5][codec]") {
    ckpt::testing::TempDir dir;
    double c_array[5] = {1, 2, 3, 4, 5};
    std::vector<std::int16_t> backing(24);
    for (std::size_t i = 0; i < backing.size(); ++i) backing[i] = static_cast<std::int16_t>(i * 3 - 20);
    {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("c", c_array).protect("grid", ckpt::ArrayView<std::int16_t>(backing.data(), {2, 3, 4}));
        cp.checkpoint();
    }
    double c_back[5] = {};
    std::vector<std::int16_t> back(24);
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("c", c_back).protect("grid", ckpt::ArrayView<std::int16_t>(back.data(), {2, 3, 4}));
    REQUIRE(cp.restore_if_requested());
    REQUIRE(std::equal(c_array, c_array + 5, c_back));
    REQUIRE(back == backing);
    auto f = ckpt::detail::h5::File(cp.last_path(), MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
    REQUIRE(f.read_row("/layout/grid", 0) == std::vector<std::uint64_t>{0, 24, ckpt::detail::xxh64(backing.data(), 48), 2, 3, 4});
    REQUIRE(f.read_string_attribute("/state/grid", "ckpt.element") == "int16");
}

TEST_CASE("a type with an ADL ckpt_view hook takes the direct path", "[unit][hdf5][codec]") {
    ckpt::testing::TempDir dir;
    app::Field f;
    for (std::size_t i = 0; i < f.storage.size(); ++i) f.storage[i] = 0.5f * static_cast<float>(i);
    REQUIRE(roundtrip(dir, f) == f);
    REQUIRE(stored_attribute(dir, "/state/x", "ckpt.codec") == "direct");
    REQUIRE(stored_attribute(dir, "/state/x", "ckpt.element") == "float32");
}

TEST_CASE("a codec specialization writes a group of sub-entries, each dispatched again", "[unit][codec]") {
    ckpt::testing::TempDir dir;
    app::Mesh m;
    m.coords = {0.5, 1.5, 2.5};
    m.n = 3;
    m.params = make_value<app::Params>(3);
    REQUIRE(roundtrip(dir, m) == m);
    REQUIRE(stored_attribute(dir, "/state/x", "ckpt.codec") == "custom");
    REQUIRE(stored_attribute(dir, "/state/x/coords", "ckpt.codec") == "direct");
    REQUIRE(stored_attribute(dir, "/state/x/params", "ckpt.codec") == "boost.binary");
}

TEST_CASE("Writer::write takes ownership of rvalues, which outlive save()", "[unit][codec]") {
    ckpt::testing::TempDir dir;
    app::Histogram h;
    for (int i = 0; i < 1000; ++i) h.samples.push_back(0.25 * i);
    REQUIRE(roundtrip(dir, h) == h);
    REQUIRE(stored_attribute(dir, "/state/x/count", "ckpt.element") == "uint64");
}

TEST_CASE("codec<T> deriving from use_boost forces the Boost path over ckpt_view", "[unit][codec]") {
    ckpt::testing::TempDir dir;
    app::Both b;
    b.v = {1, 2, 3};
    REQUIRE(roundtrip(dir, b) == b);
    REQUIRE(stored_attribute(dir, "/state/x", "ckpt.codec") == "boost.binary");
}

TEST_CASE("the stored C++ type name is readable", "[unit][codec]") {
    ckpt::testing::TempDir dir;
    roundtrip(dir, std::map<std::string, int>{{"a", 1}});
    REQUIRE(stored_attribute(dir, "/state/x", "ckpt.type") == "std::map<std::string, int>");
}

TEST_CASE("several independent checkpointers in one process keep their own files", "[unit][codec]") {
    ckpt::testing::TempDir dir_a, dir_b;
    std::vector<double> a{1, 2}, b{3, 4, 5};
    {
        ckpt::Checkpointer ca(ckpt::testing::options_in(dir_a.path()), MPI_COMM_WORLD);
        ckpt::Checkpointer cb(ckpt::testing::options_in(dir_b.path()), MPI_COMM_WORLD);
        ca.protect("v", a);
        cb.protect("v", b);
        ca.checkpoint();
        cb.checkpoint();
        cb.checkpoint();
        REQUIRE(ca.sequence() == 1);
        REQUIRE(cb.sequence() == 2);
    }
    std::vector<double> ra, rb;
    ckpt::Checkpointer ca(ckpt::testing::options_in(dir_a.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    ckpt::Checkpointer cb(ckpt::testing::options_in(dir_b.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    ca.protect("v", ra);
    cb.protect("v", rb);
    REQUIRE(ca.restore_if_requested());
    REQUIRE(cb.restore_if_requested());
    REQUIRE(ra == a);
    REQUIRE(rb == b);
}

TEST_CASE("poll checkpoints at multiples of every=N and records the step", "[unit][poll]") {
    ckpt::testing::TempDir dir;
    auto o = ckpt::testing::options_in(dir.path(), ckpt::RestartKind::None, 0);
    o.mode.periodic = true;
    o.every = 4;
    std::int64_t step = 0;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("step", step);
    std::vector<std::int64_t> written;
    while (step < 10) {
        ++step;
        if (cp.poll(step)) written.push_back(step);
    }
    REQUIRE(written == std::vector<std::int64_t>{4, 8});
    ckpt::detail::h5::File f(cp.last_path(), MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
    REQUIRE(f.read_int_attribute("/", "ckpt.step") == 8);
}

TEST_CASE("poll checkpoints when the interval has elapsed, and not before", "[unit][poll]") {
    ckpt::testing::TempDir dir;
    auto o = ckpt::testing::options_in(dir.path(), ckpt::RestartKind::None, 0);
    o.mode.periodic = true;
    o.interval = std::chrono::duration<double>(3600);  // an hour: never due within this test
    int x = 1;
    {
        ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
        cp.protect("x", x);
        for (int i = 0; i < 1000; ++i) REQUIRE_FALSE(cp.poll(i));
    }
    o.interval = std::chrono::duration<double>(1e-9);  // always due
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("x", x);
    REQUIRE(cp.poll(1));
    REQUIRE(ckpt::detail::committed_versions(dir.path(), "ckpt").size() == 1);
}

TEST_CASE("without periodic mode, poll never writes", "[unit][poll]") {
    ckpt::testing::TempDir dir;
    int x = 1;
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("x", x);
    for (int i = 1; i <= 100; ++i) REQUIRE_FALSE(cp.poll(i));
    REQUIRE(ckpt::detail::list_versions(dir.path(), "ckpt").empty());
}
