// Schema evolution on restore (serial): optional and absent entries, stored entries nothing
// protects (ignored, or refused with strict_restore / CKPT_STRICT_RESTORE), element types that
// convert without loss and those that do not, the application's schema version, and the
// declaration errors protect() and checkpoint() report for ckpt::block / ghosts / split.
// Serial: MPI starts as a singleton on first use (TempDir or the first Checkpointer).
#include "testing.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <cstring>
#include <vector>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using ckpt::testing::options_in;
using ckpt::testing::TempDir;

using ckpt::testing::CerrCapture;
using ckpt::testing::files_in;
using ckpt::testing::version_path;

namespace {


/// Sets an environment variable for the lifetime of the object (then unsets it).
class EnvVar {
public:
    EnvVar(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~EnvVar() { ::unsetenv(name_); }
    EnvVar(const EnvVar&) = delete;
    EnvVar& operator=(const EnvVar&) = delete;

private:
    const char* name_;
};

/// How many lines of `text` contain `needle`.
int lines_containing(const std::string& text, const std::string& needle) {
    std::istringstream in(text);
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
}


ckpt::RestartSpec sequence(std::uint64_t seq) {
    ckpt::RestartSpec s;
    s.kind = ckpt::RestartKind::Sequence;
    s.sequence = seq;
    return s;
}
ckpt::RestartSpec latest() {
    ckpt::RestartSpec s;
    s.kind = ckpt::RestartKind::Latest;
    return s;
}

/// A Boost-serialized struct: one opaque blob, not an array of numbers.
struct Settings {
    int a = 1;
    double b = 2;
    template <class Ar>
    void serialize(Ar& ar, unsigned) {
        ar & a & b;
    }
};

using Protect = std::function<void(ckpt::Checkpointer&)>;

/// One checkpoint of what `protect` registers, into `dir` (all versions kept); returns its path.
std::string write_with(const std::string& dir, const Protect& protect, std::int64_t schema = 0) {
    ckpt::Checkpointer cp(options_in(dir, ckpt::RestartKind::None, 0), MPI_COMM_WORLD);
    protect(cp);
    if (schema != 0) cp.schema_version(schema);
    const std::string path = cp.checkpoint();
    REQUIRE(!path.empty());
    return path;
}

/// Restores `what` from `dir` into what `protect` registers, with options `o` (dir set here).
bool restore_with(const std::string& dir, const Protect& protect, const ckpt::RestartSpec& what,
                  ckpt::Options o = ckpt::Options{}) {
    o.dir = dir;
    o.depth = 0;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    protect(cp);
    return cp.restore(what);
}

/// The file is still a committed version: there, and no quarantined copy beside it.
void check_not_quarantined(const std::string& dir, const std::string& path) {
    CHECK(fs::exists(path));
    CHECK_FALSE(fs::exists(path + ".bad"));
    const auto versions = ckpt::detail::committed_versions(dir, "ckpt");
    REQUIRE(versions.size() >= 1);
    CHECK(versions.back().path == path);
}

// ---- element conversions -------------------------------------------------------------------

/// Values that change if a conversion is not exact (or reinterprets bits).
template <class T>
std::vector<T> probe_values();
template <>
std::vector<float> probe_values<float>() {
    return {0.1f, -1.5f, 3.4028235e38f, 1.17549435e-38f, 16777217.0f, -0.0f, 1.0f / 3.0f};
}
template <>
std::vector<std::int32_t> probe_values<std::int32_t>() {
    return {0, -1, 1, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max(), -123456789, 77};
}
template <>
std::vector<std::uint16_t> probe_values<std::uint16_t>() {
    return {0, 1, 65535, 32768, 32767, 40000, 12345};
}
template <>
std::vector<std::complex<float>> probe_values<std::complex<float>>() {
    return {{0.1f, -0.2f}, {1.0f / 3.0f, 3.0e38f}, {-7.5f, 0.0f}, {0.0f, 1.0e-30f}, {2.0f, -3.0f}, {5.5f, 6.25f},
            {-1.0f, -1.0f}};
}
template <>
std::vector<double> probe_values<double>() {
    return {0.1, -2.5, 1e300, 3.0, 4.0, 5.0, 6.0};  // 0.1 and 1e300 are not float32 values
}
template <>
std::vector<std::int64_t> probe_values<std::int64_t>() {
    return {1, 2, std::int64_t{1} << 40, -3, 4, 5, 6};  // 2^40 is not an int32 value
}

/// Each value exactly as the wider type holds it (what a lossless restore must give).
template <class To, class From>
std::vector<To> widened(const std::vector<From>& from) {
    std::vector<To> out;
    for (const From& v : from) out.push_back(static_cast<To>(v));
    return out;
}

template <class T>
T sentinel() {
    return static_cast<T>(99);
}

/// Restores entry `entry` ("vec", "view", "block" or "concat") of check_lossless()'s checkpoint
/// in `dir` into `To`; returns what differs from `expected` ("" when every value is exact and
/// nothing outside a view was touched).
template <class To>
std::string restore_widened(const std::string& dir, const std::string& entry, const std::vector<To>& expected) {
    const std::size_t n = expected.size();
    std::vector<To> back = entry == "vec" || entry == "concat" ? std::vector<To>(2, sentinel<To>())  // resized
                                                               : std::vector<To>(n + 1, sentinel<To>());
    CerrCapture err;  // the other entries are ignored, with a warning each
    ckpt::Checkpointer cp(options_in(dir), MPI_COMM_WORLD);
    if (entry == "vec") cp.protect("vec", back);
    if (entry == "view") cp.protect("view", ckpt::ArrayView<To>(back.data(), {n}));
    if (entry == "block") cp.protect("block", ckpt::ArrayView<To>(back.data(), {n}), ckpt::block({n}, {0}, {n}));
    if (entry == "concat") cp.protect("concat", back, ckpt::concatenated());
    if (!cp.restore(sequence(1))) return "restore() returned false";
    std::string problems;
    if (entry == "vec" || entry == "concat") {
        if (back != expected) problems += "values differ (or the size: " + std::to_string(back.size()) + ")";
    } else {
        if (!std::equal(expected.begin(), expected.end(), back.begin())) problems += "values differ";
        if (!(back[n] == sentinel<To>())) problems += "; the element after the view was written";
    }
    return problems;
}

/// Runs `f` in a forked child, so that a crash fails the test instead of ending the test run;
/// returns what `f` returned, what it threw, or how the child died.
std::string in_child(const std::function<std::string()>& f) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) std::signal(sig, SIG_DFL);  // no Catch, no UCX report
        ::close(fds[0]);
        std::string report;
        try {
            report = f();
        } catch (const std::exception& e) {
            report = std::string("threw: ") + e.what();
        }
        const ssize_t written = ::write(fds[1], report.data(), report.size());
        ::_exit(written == static_cast<ssize_t>(report.size()) ? 0 : 1);
    }
    ::close(fds[1]);
    std::string report;
    char buffer[512];
    for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<std::size_t>(got));
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status))
        return "the restore died of signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the child exited with " + std::to_string(WEXITSTATUS(status));
    return report;
}

/// Stored as `From`, restored into `To` from a std::vector, an ArrayView, a 1-D block and a
/// concatenated vector: every value exact; an ArrayView's element after the view untouched.
/// Each restore runs in a child process when `isolated` (a crash then fails only its check).
template <class From, class To>
void check_lossless(bool isolated = false) {
    const std::vector<From> values = probe_values<From>();
    const std::vector<To> expected = widened<To>(values);
    const std::size_t n = values.size();
    REQUIRE(ckpt::detail::converts_losslessly(ckpt::detail::element_of<From>(), ckpt::detail::element_of<To>()));
    TempDir dir;
    std::vector<From> vec = values, viewed = values, blocked = values, concat = values;
    write_with(dir.path(), [&](ckpt::Checkpointer& cp) {
        cp.protect("vec", vec);
        cp.protect("view", ckpt::ArrayView<From>(viewed.data(), {n}));
        cp.protect("block", ckpt::ArrayView<From>(blocked.data(), {n}), ckpt::block({n}, {0}, {n}));
        cp.protect("concat", concat, ckpt::concatenated());
    });
    for (const std::string entry : {"vec", "view", "block", "concat"}) {
        INFO("entry \"" << entry << "\"");
        std::string problems;
        if (isolated)
            problems = in_child([&] { return restore_widened(dir.path(), entry, expected); });
        else
            REQUIRE_NOTHROW(problems = restore_widened(dir.path(), entry, expected));
        CHECK(problems == "");
    }
}

/// Stored as `From` (named `from`), restored into `To` (named `to`): a MismatchError naming the
/// entry and both types, for a std::vector, an ArrayView and a block; the object unchanged.
template <class From, class To>
void check_lossy(const std::string& from, const std::string& to) {
    REQUIRE_FALSE(ckpt::detail::converts_losslessly(ckpt::detail::element_of<From>(), ckpt::detail::element_of<To>()));
    const std::vector<From> values = probe_values<From>();
    const std::size_t n = values.size();
    TempDir dir;
    std::vector<From> vec = values, viewed = values, blocked = values;
    const std::string path = write_with(dir.path(), [&](ckpt::Checkpointer& cp) {
        cp.protect("vec", vec);
        cp.protect("view", ckpt::ArrayView<From>(viewed.data(), {n}));
        cp.protect("block", ckpt::ArrayView<From>(blocked.data(), {n}), ckpt::block({n}, {0}, {n}));
    });
    for (const std::string entry : {"vec", "view", "block"}) {
        INFO(entry);
        std::vector<To> back(n, sentinel<To>());
        const std::vector<To> before = back;
        try {
            restore_with(dir.path(),
                         [&](ckpt::Checkpointer& cp) {
                             if (entry == "vec") cp.protect("vec", back);
                             if (entry == "view") cp.protect("view", ckpt::ArrayView<To>(back.data(), {n}));
                             if (entry == "block")
                                 cp.protect("block", ckpt::ArrayView<To>(back.data(), {n}), ckpt::block({n}, {0}, {n}));
                         },
                         sequence(1));
            FAIL("a lossy conversion from " << from << " to " << to << " was accepted");
        } catch (const ckpt::MismatchError& e) {
            CHECK(ckpt::exit_code(e) == 65);
            CHECK(e.expected() == to);
            CHECK(e.found() == from);
            CHECK_THAT(e.what(), Contains("\"" + entry + "\"") && Contains(from) && Contains(to));
            CHECK(e.object() == "/state/" + entry);
            CHECK(e.file() == path);
        }
        CHECK(back == before);
    }
    // Not a corrupt file: `latest` skips it without quarantining it.
    std::vector<To> back(n, sentinel<To>());
    CerrCapture err;
    CHECK_THROWS_AS(restore_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("vec", back); }, latest()),
                    ckpt::MismatchError);
    check_not_quarantined(dir.path(), path);
}

/// A Checkpointer built the way main() builds one, reading the process environment.
struct ArgvCheckpointer {
    std::vector<std::string> storage{"app"};
    std::vector<char*> pointers;
    int argc = 1;
    std::unique_ptr<ckpt::Checkpointer> cp;
    explicit ArgvCheckpointer(const std::string& dir) {
        for (auto& s : storage) pointers.push_back(&s[0]);
        pointers.push_back(nullptr);
        cp = std::make_unique<ckpt::Checkpointer>(argc, pointers.data(), MPI_COMM_WORLD, options_in(dir));
    }
};

}  // namespace

// ---- entries absent from the checkpoint ------------------------------------------------------

TEST_CASE("an optional entry absent from the checkpoint is left as it is, with one warning naming it",
          "[unit][schema]") {
    TempDir dir;
    std::int64_t step = 41;
    const std::string path = write_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("step", step); });

    std::int64_t step2 = 0;
    int added = 42;                                  // per-rank, optional
    double rate = 2.5;                               // replicated, optional
    std::vector<float> field{1.f, 2.f, 3.f};         // a block, optional
    std::vector<int> particles{7, 8};                // concatenated, optional
    bool hook_ran = false;
    CerrCapture err;
    ckpt::Options o = options_in(dir.path());
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("step", step2);
    cp.protect("added", added, ckpt::per_rank().optional());
    cp.protect("rate", rate, ckpt::replicated().optional());
    cp.protect("field", ckpt::ArrayView<float>(field.data(), {3}), ckpt::block({3}, {0}, {3}).optional());
    cp.protect("particles", particles, ckpt::concatenated().optional());
    cp.on_restart([&] { hook_ran = true; });
    REQUIRE(cp.restore(sequence(1)));
    CHECK(step2 == 41);
    CHECK(added == 42);
    CHECK(rate == 2.5);
    CHECK(field == std::vector<float>{1.f, 2.f, 3.f});
    CHECK(particles == std::vector<int>{7, 8});
    CHECK(hook_ran);
    CHECK(cp.last_path() == path);
    const std::string text = err.text();
    for (const std::string name : {"added", "rate", "field", "particles"}) {
        INFO(text);
        CHECK(lines_containing(text, "has no entry \"" + name + "\" (declared optional): left as it is") == 1);
    }
    CHECK(lines_containing(text, "\"step\"") == 0);
    check_not_quarantined(dir.path(), path);
}

TEST_CASE("an optional entry present in the checkpoint is restored like any other", "[unit][schema]") {
    TempDir dir;
    int added = 5;
    std::vector<double> u{1, 2, 3};
    write_with(dir.path(), [&](ckpt::Checkpointer& cp) {
        cp.protect("added", added, ckpt::per_rank().optional());
        cp.protect("u", ckpt::ArrayView<double>(u.data(), {3}), ckpt::block({3}, {0}, {3}).optional());
    });
    int added2 = 0;
    std::vector<double> u2(3, 0.0);
    CerrCapture err;
    REQUIRE(restore_with(dir.path(),
                         [&](ckpt::Checkpointer& cp) {
                             cp.protect("added", added2, ckpt::per_rank().optional());
                             cp.protect("u", ckpt::ArrayView<double>(u2.data(), {3}), ckpt::block({3}, {0}, {3}).optional());
                         },
                         sequence(1)));
    CHECK(added2 == 5);
    CHECK(u2 == u);
    CHECK_THAT(err.text(), !Contains("declared optional"));
}

TEST_CASE("a non-optional entry absent from the checkpoint is a MismatchError naming it, not a quarantine",
          "[unit][schema]") {
    TempDir dir;
    std::int64_t step = 3;
    const std::string path = write_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("step", step); });
    for (const auto& how : {ckpt::per_rank(), ckpt::replicated()}) {
        std::int64_t step2 = 0;
        double missing = 1.25;
        try {
            restore_with(dir.path(),
                         [&](ckpt::Checkpointer& cp) {
                             cp.protect("step", step2);
                             cp.protect("new_state", missing, how);
                         },
                         sequence(1));
            FAIL("restore with a protected entry the checkpoint lacks did not throw");
        } catch (const ckpt::MismatchError& e) {
            CHECK(ckpt::exit_code(e) == 65);
            CHECK_THAT(e.what(), Contains("\"new_state\"") && Contains("no such entry") && Contains(".optional()"));
            CHECK(e.object() == "/state/new_state");
            CHECK(e.file() == path);
        }
        CHECK(missing == 1.25);
    }
    // With latest: skipped, reported as a mismatch, and the file stays a committed version.
    std::int64_t step2 = 0;
    double missing = 1.25;
    CerrCapture err;
    CHECK_THROWS_WITH(restore_with(dir.path(),
                                   [&](ckpt::Checkpointer& cp) {
                                       cp.protect("step", step2);
                                       cp.protect("new_state", missing);
                                   },
                                   latest()),
                      Contains("new_state") && Contains("no usable checkpoint"));
    CHECK_THAT(err.text(), !Contains("quarantined"));
    check_not_quarantined(dir.path(), path);
}

TEST_CASE("latest falls back over a newer version that lacks a non-optional entry", "[unit][schema]") {
    TempDir dir;
    std::int64_t step = 1;
    double extra = 0.5;
    const std::string old = write_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("step", step).protect("extra", extra); });
    step = 2;
    const std::string newer = write_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("step", step); });
    std::int64_t step2 = 0;
    double extra2 = 0;
    CerrCapture err;
    REQUIRE(restore_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("step", step2).protect("extra", extra2); },
                         latest()));
    CHECK(step2 == 1);
    CHECK(extra2 == 0.5);
    CHECK_THAT(err.text(), Contains("skipping " + newer) && Contains("\"extra\"") && !Contains("quarantined"));
    CHECK(fs::exists(newer));
    CHECK_FALSE(fs::exists(newer + ".bad"));
    CHECK(fs::exists(old));
}

// ---- stored entries nothing protects ---------------------------------------------------------

TEST_CASE("a stored entry nothing protects is ignored with a warning naming it", "[unit][schema]") {
    TempDir dir;
    std::int64_t step = 9;
    std::vector<double> old_field{1, 2};
    std::string old_note = "gone";
    const std::string path = write_with(dir.path(), [&](ckpt::Checkpointer& cp) {
        cp.protect("step", step).protect("old_field", old_field, ckpt::concatenated()).protect("old_note", old_note);
    });
    std::int64_t step2 = 0;
    CerrCapture err;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("step", step2);
    REQUIRE(cp.restore(sequence(1)));
    CHECK(step2 == 9);
    CHECK(cp.last_path() == path);
    const std::string text = err.text();
    CHECK(lines_containing(text, "holds \"old_field\", which nothing protects: ignored") == 1);
    CHECK(lines_containing(text, "holds \"old_note\", which nothing protects: ignored") == 1);
    CHECK(lines_containing(text, "\"step\"") == 0);
}

TEST_CASE("strict_restore refuses a stored entry nothing protects: MismatchError naming it, no quarantine",
          "[unit][schema]") {
    TempDir dir;
    std::int64_t step = 9;
    double old_rate = 0.25, other = 1;
    const std::string path = write_with(dir.path(), [&](ckpt::Checkpointer& cp) {
        cp.protect("step", step).protect("old_rate", old_rate);
    });
    const auto before = files_in(dir.path());
    ckpt::Options strict;
    strict.strict_restore = true;
    std::int64_t step2 = -1;
    int optional_added = 3;
    auto protect = [&](ckpt::Checkpointer& cp) {
        cp.protect("step", step2);
        cp.protect("optional_added", optional_added, ckpt::per_rank().optional());
    };

    SECTION("an explicit selection") {
        try {
            restore_with(dir.path(), protect, sequence(1), strict);
            FAIL("strict_restore accepted an entry nothing protects");
        } catch (const ckpt::MismatchError& e) {
            CHECK(ckpt::exit_code(e) == 65);
            CHECK_THAT(e.what(), Contains("\"old_rate\"") && Contains("nothing protects") &&
                                     Contains("CKPT_STRICT_RESTORE"));
            CHECK(e.object() == "/state/old_rate");
            CHECK(e.file() == path);
        }
        CHECK(step2 == -1);  // refused before anything is restored
        CHECK(optional_added == 3);
    }
    SECTION("latest: skipped, not quarantined") {
        CerrCapture err;
        CHECK_THROWS_AS(restore_with(dir.path(), protect, latest(), strict), ckpt::MismatchError);
        CHECK_THROWS_WITH(restore_with(dir.path(), protect, latest(), strict),
                          Contains("old_rate") && Contains("nothing protects"));
        CHECK_THAT(err.text(), !Contains("quarantined"));
        CHECK(step2 == -1);
    }
    SECTION("two extra entries: the first is named, the count of the others given") {
        TempDir two;
        write_with(two.path(), [&](ckpt::Checkpointer& cp) {
            cp.protect("step", step).protect("old_a", old_rate).protect("old_b", other);
        });
        CHECK_THROWS_WITH(restore_with(two.path(), protect, sequence(1), strict),
                          Contains("\"old_a\"") && Contains("(and 1 more)"));
    }
    SECTION("CKPT_STRICT_RESTORE=1 in the environment does the same") {
        EnvVar on("CKPT_STRICT_RESTORE", "1");
        ArgvCheckpointer a(dir.path());
        REQUIRE(a.cp->options().strict_restore);
        a.cp->protect("step", step2);
        CHECK_THROWS_AS(a.cp->restore(sequence(1)), ckpt::MismatchError);
        CHECK(step2 == -1);
    }
    SECTION("CKPT_STRICT_RESTORE=0 overrides strict_restore set in code") {
        EnvVar off("CKPT_STRICT_RESTORE", "0");
        std::vector<std::string> storage{"app"};
        char* argv[] = {&storage[0][0], nullptr};
        int argc = 1;
        ckpt::Options o = options_in(dir.path());
        o.strict_restore = true;
        CerrCapture err;
        ckpt::Checkpointer cp(argc, argv, MPI_COMM_WORLD, o);
        REQUIRE_FALSE(cp.options().strict_restore);
        cp.protect("step", step2);
        REQUIRE(cp.restore(sequence(1)));
        CHECK(step2 == 9);
        CHECK_THAT(err.text(), Contains("\"old_rate\", which nothing protects: ignored"));
    }
    SECTION("without extra entries strict_restore restores, optional entries absent included") {
        std::int64_t s = 0;
        int added = 8;
        CerrCapture err;
        REQUIRE(restore_with(dir.path(),
                             [&](ckpt::Checkpointer& cp) {
                                 cp.protect("step", s).protect("old_rate", other);
                                 cp.protect("added", added, ckpt::replicated().optional());
                             },
                             sequence(1), strict));
        CHECK(s == 9);
        CHECK(other == 0.25);
        CHECK(added == 8);
    }
    check_not_quarantined(dir.path(), path);
    CHECK(files_in(dir.path()) == before);
}

// ---- element types ---------------------------------------------------------------------------

TEST_CASE("element types that convert without loss are converted on restore, exactly", "[unit][schema]") {
    SECTION("float32 -> float64") { check_lossless<float, double>(); }
    SECTION("int32 -> int64") { check_lossless<std::int32_t, std::int64_t>(); }
    SECTION("uint16 -> int32") { check_lossless<std::uint16_t, std::int32_t>(); }
}

// Its own test case, and each restore in a child process: HDF5 converts complex numbers (a
// compound type) only with a background buffer, and a restore that passes none crashes.
TEST_CASE("complex64 restores into complex128, exactly", "[unit][schema]") {
    check_lossless<std::complex<float>, std::complex<double>>(true);
}

TEST_CASE("a restore in a child process reports its result (the harness of the complex test)", "[unit][schema]") {
    check_lossless<float, double>(true);
    CHECK(in_child([] { return std::string("reported"); }) == "reported");
    CHECK(in_child([]() -> std::string { throw std::runtime_error("boom"); }) == "threw: boom");
    CHECK(in_child([]() -> std::string { std::raise(SIGSEGV); return ""; }) ==
          "the restore died of signal 11 (Segmentation fault)");
}

TEST_CASE("a lossless conversion fills a ghosted block's interior and leaves its ghosts alone", "[unit][schema]") {
    // A 3x4 global array in a 5x6 view with one ghost layer on each side.
    TempDir dir;
    std::vector<float> mem(30, -1.f);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) mem[static_cast<std::size_t>((i + 1) * 6 + j + 1)] = 0.1f * static_cast<float>(i * 4 + j) + 0.01f;
    write_with(dir.path(), [&](ckpt::Checkpointer& cp) {
        cp.protect("u", ckpt::ArrayView<float>(mem.data(), {5, 6}), ckpt::block({3, 4}, {0, 0}, {3, 4}).ghosts({1, 1}));
    });
    std::vector<double> back(30, 77.0);
    REQUIRE(restore_with(dir.path(),
                         [&](ckpt::Checkpointer& cp) {
                             cp.protect("u", ckpt::ArrayView<double>(back.data(), {5, 6}),
                                        ckpt::block({3, 4}, {0, 0}, {3, 4}).ghosts({1, 1}));
                         },
                         sequence(1)));
    for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 6; ++j) {
            const auto k = static_cast<std::size_t>(i * 6 + j);
            const bool interior = i >= 1 && i <= 3 && j >= 1 && j <= 4;
            INFO("row " << i << " column " << j);
            CHECK(back[k] == (interior ? static_cast<double>(mem[k]) : 77.0));
        }
}

TEST_CASE("a scalar int32 restores into an int64 and a float into a double", "[unit][schema]") {
    TempDir dir;
    std::int32_t n = std::numeric_limits<std::int32_t>::min();
    float x = 0.1f;
    write_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("n", n).protect("x", x, ckpt::replicated()); });
    std::int64_t n2 = 0;
    double x2 = 0;
    REQUIRE(restore_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("n", n2).protect("x", x2, ckpt::replicated()); },
                         sequence(1)));
    CHECK(n2 == std::numeric_limits<std::int32_t>::min());
    CHECK(x2 == static_cast<double>(0.1f));
}

TEST_CASE("element types that would lose values are a MismatchError naming both types", "[unit][schema]") {
    SECTION("float64 -> float32") { check_lossy<double, float>("float64", "float32"); }
    SECTION("int64 -> int32") { check_lossy<std::int64_t, std::int32_t>("int64", "int32"); }
    SECTION("int32 -> float32 (a float32 mantissa cannot hold every int32)") {
        check_lossy<std::int32_t, float>("int32", "float32");
    }
    SECTION("int32 -> uint16 (narrower, and no sign)") { check_lossy<std::int32_t, std::uint16_t>("int32", "uint16"); }
    SECTION("complex64 -> float64 (not a complex type)") {
        check_lossy<std::complex<float>, double>("complex64", "float64");
    }
}

TEST_CASE("converts_losslessly: widening only, and never across sign or kind where values are lost",
          "[unit][schema]") {
    using E = ckpt::detail::Element;
    using ckpt::detail::converts_losslessly;
    CHECK(converts_losslessly(E::Float32, E::Float64));
    CHECK(converts_losslessly(E::Int32, E::Int64));
    CHECK(converts_losslessly(E::UInt16, E::Int32));
    CHECK(converts_losslessly(E::UInt32, E::UInt64));
    CHECK(converts_losslessly(E::Int16, E::Float32));
    CHECK(converts_losslessly(E::Int32, E::Float64));
    CHECK(converts_losslessly(E::Complex64, E::Complex128));
    CHECK_FALSE(converts_losslessly(E::Float64, E::Float32));
    CHECK_FALSE(converts_losslessly(E::Int64, E::Int32));
    CHECK_FALSE(converts_losslessly(E::Int64, E::Float64));   // 2^53 + 1
    CHECK_FALSE(converts_losslessly(E::Int32, E::Float32));   // 2^24 + 1
    CHECK_FALSE(converts_losslessly(E::UInt32, E::Int32));    // 2^31
    CHECK_FALSE(converts_losslessly(E::Int8, E::UInt64));     // -1
    CHECK_FALSE(converts_losslessly(E::Float64, E::Int64));
    CHECK_FALSE(converts_losslessly(E::Complex128, E::Complex64));
    CHECK_FALSE(converts_losslessly(E::Complex64, E::Float64));
    CHECK_FALSE(converts_losslessly(E::Float32, E::Complex64));
    CHECK_FALSE(converts_losslessly(E::Bool, E::Int32));
    CHECK_FALSE(converts_losslessly(E::Char, E::Int8));
}

// ---- the schema version ----------------------------------------------------------------------

TEST_CASE("schema_version is stored and read back by restored_schema_version, with restored_ranks",
          "[unit][schema]") {
    TempDir dir;
    std::int64_t step = 5;
    const std::int64_t version = (std::int64_t{1} << 40) + 3;  // needs 64 bits
    const std::string path = write_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("step", step); }, version);
    {
        ckpt::detail::h5::File f(path, MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
        CHECK(f.read_int_attribute("/", "ckpt.schema_version") == version);
        CHECK(f.read_int_attribute("/", "ckpt.format_version") == 3);
    }
    std::int64_t step2 = 0, seen_in_hook = -1;
    int ranks_in_hook = -1;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("step", step2);
    cp.on_restart([&] {
        seen_in_hook = cp.restored_schema_version();
        ranks_in_hook = cp.restored_ranks();
    });
    CHECK(cp.restored_schema_version() == 0);  // nothing restored yet
    CHECK(cp.restored_ranks() == 0);
    REQUIRE(cp.restore(sequence(1)));
    CHECK(step2 == 5);
    CHECK(cp.restored_schema_version() == version);
    CHECK(cp.restored_ranks() == 1);
    CHECK(seen_in_hook == version);
    CHECK(ranks_in_hook == 1);
}

TEST_CASE("the schema version is per checkpointer and per checkpoint: 0 unless set, negative allowed",
          "[unit][schema]") {
    TempDir dir;
    std::int64_t step = 1;
    write_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("step", step); });       // 1: none set
    write_with(dir.path(), [&](ckpt::Checkpointer& cp) { cp.protect("step", step); }, -2);   // 2: -2
    {
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None, 0), MPI_COMM_WORLD);
        cp.protect("step", step).schema_version(4);
        cp.checkpoint();  // 3: 4
        cp.schema_version(6);
        cp.checkpoint();  // 4: 6, the latest value set
    }
    const std::int64_t expected[] = {0, -2, 4, 6};
    for (std::uint64_t seq = 1; seq <= 4; ++seq) {
        INFO("version " << seq);
        std::int64_t s = 0;
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("step", s);
        REQUIRE(cp.restore(sequence(seq)));
        CHECK(cp.restored_schema_version() == expected[seq - 1]);
    }
    // Restoring nothing leaves 0.
    ckpt::Checkpointer none(options_in(dir.path()), MPI_COMM_WORLD);
    none.schema_version(9);
    CHECK_FALSE(none.restore_if_requested());
    CHECK(none.restored_schema_version() == 0);
    CHECK(none.restored_ranks() == 0);
}

TEST_CASE("a format-1 checkpoint (tests/fixtures/format1) has schema version 0", "[unit][schema]") {
    TempDir dir;
    const std::string fixture = std::string(CKPT_TEST_SOURCE_DIR) + "/tests/fixtures/format1/ckpt.000001.h5";
    const std::string copy = version_path(dir.path(), 1);
    fs::copy_file(fixture, copy);  // restore only reads; a copy keeps the tree clean
    {
        ckpt::detail::h5::File f(copy, MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
        REQUIRE(f.read_int_attribute("/", "ckpt.format_version") == 1);
        REQUIRE_FALSE(f.has_attribute("/", "ckpt.schema_version"));
    }
    std::int64_t step = 0;
    CerrCapture err;  // the fixture's other entries are ignored, each with a warning
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("step", step).schema_version(12);
    REQUIRE(cp.restore_if_requested());
    CHECK(step == 1234);
    CHECK(cp.restored_schema_version() == 0);
    CHECK(cp.restored_ranks() == 1);
    CHECK_THAT(err.text(), Contains("holds \"u\", which nothing protects: ignored"));
}

// ---- declaration errors ----------------------------------------------------------------------

TEST_CASE("declarations that cannot be right are UsageErrors at protect() naming the entry", "[unit][schema]") {
    TempDir dir;
    std::vector<double> v(4, 1.0);
    double x = 0;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    auto refused = [&](const std::string& name, const ckpt::Distribution& how, const std::string& why) {
        INFO(name << ": " << why);
        try {
            cp.protect(name, ckpt::ArrayView<double>(v.data(), {4}), how);
            FAIL("protect() accepted the declaration");
        } catch (const ckpt::UsageError& e) {
            CHECK(ckpt::exit_code(e) == 70);
            CHECK_THAT(e.what(), Contains("\"" + name + "\"") && Contains(why));
            CHECK(e.object() == "/state/" + name);
        }
    };
    refused("g_replicated", ckpt::replicated().ghosts({1}), "ghosts()");
    refused("g_per_rank", ckpt::per_rank().ghosts({1}), "ghosts()");
    refused("g_concat", ckpt::concatenated().ghosts({1}), "ghosts()");
    auto even = [](std::uint64_t total, int, int size) { return total / static_cast<std::uint64_t>(size); };
    refused("s_replicated", ckpt::replicated().split(even), "split()");
    refused("s_block", ckpt::block({4}, {0}, {4}).split(even), "split()");
    refused("s_per_rank", ckpt::per_rank().split(even), "split()");
    refused("r_replicated", ckpt::replicated().redistribute([](ckpt::StoredParts&) {}), "redistribute()");
    refused("d_offset", ckpt::block({4, 4}, {0}, {4, 4}), "different numbers of dimensions");
    refused("d_count", ckpt::block({4}, {0}, {2, 2}), "different numbers of dimensions");
    refused("d_ghosts", ckpt::block({4}, {0}, {4}).ghosts({1, 1}), "different numbers of dimensions");
    refused("d_none", ckpt::block(ckpt::Extents{}, ckpt::Extents{}, ckpt::Extents{}), "no dimensions");
    refused("o_past_end", ckpt::block({4}, {2}, {3}), "outside its global shape in dimension 0");
    refused("o_offset", ckpt::block({4, 4}, {0, 5}, {4, 0}), "outside its global shape in dimension 1");
    refused("o_negative", ckpt::block({4}, {-1}, {4}), "negative");
    // A refused declaration registers nothing: the name is still free.
    cp.protect("g_replicated", x, ckpt::replicated());
    cp.protect("o_past_end", ckpt::ArrayView<double>(v.data(), {4}), ckpt::block({4}, {0}, {4}));
    CHECK_THROWS_AS(cp.protect("g_replicated", x), ckpt::UsageError);  // now taken
    CHECK_FALSE(cp.checkpoint().empty());
}

TEST_CASE("a block that does not cover its global array on one rank is a UsageError at checkpoint()",
          "[unit][schema]") {
    TempDir dir;
    std::vector<double> v(4, 1.0);
    std::int64_t step = 1;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("step", step).protect("field", ckpt::ArrayView<double>(v.data(), {4}), ckpt::block({5}, {0}, {4}));
    try {
        cp.checkpoint();
        FAIL("a block covering 4 of 5 elements was written");
    } catch (const ckpt::UsageError& e) {
        CHECK_THAT(e.what(), Contains("\"field\"") && Contains("do not tile") && Contains("cover 4 of the 5"));
        CHECK(e.object() == "/state/field");
    }
    CHECK(ckpt::detail::list_versions(dir.path(), "ckpt").empty());
}

TEST_CASE("declarations that do not fit the data are UsageErrors at checkpoint() naming the entry", "[unit][schema]") {
    TempDir dir;
    std::vector<double> v(6, 1.0);
    Settings settings;
    auto refused = [&](const Protect& protect, const std::string& name, const std::string& why) {
        INFO(name << ": " << why);
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        protect(cp);
        try {
            cp.checkpoint();
            FAIL("checkpoint() accepted the declaration");
        } catch (const ckpt::UsageError& e) {
            CHECK_THAT(e.what(), Contains("\"" + name + "\"") && Contains(why));
        }
    };
    refused([&](ckpt::Checkpointer& cp) { cp.protect("flat", ckpt::ArrayView<double>(v.data(), {2, 3}), ckpt::block({6}, {0}, {6})); },
            "flat", "2-D view declared as a block of a 1-D array");
    refused([&](ckpt::Checkpointer& cp) {
        cp.protect("halo", ckpt::ArrayView<double>(v.data(), {6}), ckpt::block({6}, {0}, {6}).ghosts({1}));
    },
            "halo", "too few for ghosts 1 + count 6");
    refused([&](ckpt::Checkpointer& cp) { cp.protect("grid", ckpt::ArrayView<double>(v.data(), {2, 3}), ckpt::concatenated()); },
            "grid", "concatenated but has 2 dimensions");
    refused([&](ckpt::Checkpointer& cp) { cp.protect("settings", settings, ckpt::block({3}, {0}, {3})); }, "settings",
            "is declared block-distributed but is not one array of numbers");
    refused([&](ckpt::Checkpointer& cp) { cp.protect("settings", settings, ckpt::concatenated()); }, "settings",
            "is declared concatenated but is not one array of numbers");
    CHECK(ckpt::detail::list_versions(dir.path(), "ckpt").empty());
}

TEST_CASE("a block declared at restore that does not tile is a UsageError, never a skipped or quarantined version",
          "[unit][schema]") {
    TempDir dir;
    std::vector<double> v{1, 2, 3, 4};
    const std::string path = write_with(dir.path(), [&](ckpt::Checkpointer& cp) {
        cp.protect("field", ckpt::ArrayView<double>(v.data(), {4}), ckpt::block({4}, {0}, {4}));
    });
    std::vector<double> back(4, 0.0);
    CerrCapture err;
    try {
        restore_with(dir.path(),
                     [&](ckpt::Checkpointer& cp) {
                         cp.protect("field", ckpt::ArrayView<double>(back.data(), {3}), ckpt::block({4}, {0}, {3}));
                     },
                     latest());
        FAIL("a restore with blocks that do not tile went ahead");
    } catch (const ckpt::UsageError& e) {
        CHECK_THAT(e.what(), Contains("\"field\"") && Contains("do not tile"));
    }
    CHECK(back == std::vector<double>(4, 0.0));
    CHECK_THAT(err.text(), !Contains("skipping") && !Contains("quarantined"));
    check_not_quarantined(dir.path(), path);
}
