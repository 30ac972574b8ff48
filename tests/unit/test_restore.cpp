// Restore selection (--restart none/auto/latest/N/name/path), fallback over corrupt versions,
// depth rotation, the checks a restore makes, usage errors, hooks, and failed writes.
// Serial: MPI starts as a singleton on first use (TempDir or the first Checkpointer).
#include "testing.hpp"

#include <hdf5.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

using ckpt::testing::CerrCapture;
using ckpt::testing::files_in;
using ckpt::testing::version_path;

namespace {

using ckpt::testing::options_in;
using ckpt::testing::TempDir;


std::string version_name(std::uint64_t seq) { return ckpt::detail::version_file_name("ckpt", seq); }

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

/// Writes `count` versions into `dir`, one checkpointer; version k holds x == 100 + k and
/// v == {k, k, k}.
void write_versions(const std::string& dir, int count, unsigned depth = 0) {
    std::int64_t x = 0;
    std::vector<double> v(3);
    ckpt::Checkpointer cp(options_in(dir, ckpt::RestartKind::None, depth), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    for (int k = 1; k <= count; ++k) {
        x = 100 + k;
        v.assign(3, static_cast<double>(k));
        cp.checkpoint();
    }
}

/// Restores x (and v) under `spec` from `dir` with a fresh checkpointer; returns x.
std::int64_t restored_x(const std::string& dir, const ckpt::RestartSpec& spec, std::uint64_t* seq = nullptr) {
    std::int64_t x = -1;
    std::vector<double> v;
    ckpt::Checkpointer cp(options_in(dir), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    REQUIRE(cp.restore(spec));
    REQUIRE(v == std::vector<double>(3, static_cast<double>(x - 100)));
    if (seq) *seq = cp.sequence();
    return x;
}

ckpt::RestartSpec spec_of(ckpt::RestartKind kind, std::uint64_t sequence = 0, std::string target = {}) {
    ckpt::RestartSpec s;
    s.kind = kind;
    s.sequence = sequence;
    s.target = std::move(target);
    return s;
}

/// A large entry, so that data dominates the file: a byte in the file's middle is data.
std::vector<double> big_values(int seed) {
    std::vector<double> out(100000);
    auto gen = ckpt::testing::generator(static_cast<std::uint64_t>(seed));
    for (auto& d : out) d = static_cast<double>(gen() % 1000000) / 7.0;
    return out;
}

/// Two versions of "big" (seeds 1 and 2) and "x" (1 and 2), all kept.
void write_two_big_versions(const std::string& dir) {
    std::vector<double> big;
    std::int64_t x = 0;
    ckpt::Checkpointer cp(options_in(dir, ckpt::RestartKind::None, 0), MPI_COMM_WORLD);
    cp.protect("x", x).protect("big", big);
    for (int k = 1; k <= 2; ++k) {
        x = k;
        big = big_values(k);
        cp.checkpoint();
    }
}

void truncate_to_half(const std::string& path) { fs::resize_file(path, fs::file_size(path) / 2); }

void flip_byte_in_middle(const std::string& path) {
    const auto size = fs::file_size(path);
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(f.good());
    f.seekg(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.get(c);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put(c);
    REQUIRE(f.good());
}

/// A valid HDF5 file with nothing of ckpt in it, made with raw HDF5.
void make_plain_hdf5(const std::string& path) {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(f >= 0);
    REQUIRE(H5Fclose(f) >= 0);
}

/// Reads an integer attribute of "/" with raw, serial HDF5 (no ckpt code involved).
std::int64_t raw_root_attribute(const std::string& path, const char* name) {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    std::int64_t value = -12345;
    const herr_t rc = a >= 0 ? H5Aread(a, H5T_NATIVE_INT64, &value) : -1;
    if (a >= 0) H5Aclose(a);
    H5Fclose(f);
    INFO("attribute " << name << " of " << path);
    REQUIRE(rc >= 0);
    return value;
}

/// What a checkpoint() that failed in a child process reported.
struct ChildOutcome {
    bool io_error = false;     ///< checkpoint() threw ckpt::IoError
    std::string what;          ///< its what(), or what went wrong instead
    long leaked_files = -1;    ///< HDF5 file ids still open after the failure
};

/// Runs cp.checkpoint() in a forked child with RLIMIT_FSIZE at `limit` bytes (SIGXFSZ ignored), so
/// the write fails even for root (limits are not bypassed by privileges). A child, because a
/// failed HDF5 close leaves a file id behind that crashes HDF5's exit handler; the child reports
/// how many file ids are still open and leaves with _exit(). The parent's files are what remain.
ChildOutcome checkpoint_fails_in_child(ckpt::Checkpointer& cp, rlim_t limit = 200 * 1024) {
    cp.sync();  // no rotation thread may run across fork()
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        ::sigaction(SIGXFSZ, &ignore, nullptr);
        struct rlimit small {};
        ::getrlimit(RLIMIT_FSIZE, &small);
        small.rlim_cur = limit;
        ::setrlimit(RLIMIT_FSIZE, &small);
        std::string report;
        try {
            cp.checkpoint();
            report = "0\nno exception";
        } catch (const ckpt::IoError& e) {
            report = std::string("1\n") + e.what();
        } catch (const std::exception& e) {
            report = std::string("0\nnot an IoError: ") + e.what();
        }
        report = std::to_string(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE)) + "\n" + report;
        const ssize_t ignored = ::write(fds[1], report.data(), report.size());
        (void)ignored;
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO(text);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    ChildOutcome out;
    const auto nl1 = text.find('\n');
    const auto nl2 = text.find('\n', nl1 + 1);
    REQUIRE(nl2 != std::string::npos);
    out.leaked_files = std::stol(text.substr(0, nl1));
    out.io_error = text.substr(nl1 + 1, nl2 - nl1 - 1) == "1";
    out.what = text.substr(nl2 + 1);
    return out;
}

/// "x" and "big", protected the way write_two_big_versions() wrote them, restart hooks counted.
struct XBig {
    explicit XBig(const ckpt::Options& o) : cp(o, MPI_COMM_WORLD) {
        cp.protect("x", x).protect("big", big).on_restart([this] { ++hooks; });
    }
    std::int64_t x = 0;
    std::vector<double> big;
    int hooks = 0;
    ckpt::Checkpointer cp;
};

/// restore_if_requested() over a directory of write_two_big_versions() whose version 2 is bad: it
/// must restore version 1, every element of it, and run the restart hooks once. Returns the warning.
std::string falls_back_to_version_1(XBig& state) {
    CerrCapture err;
    const bool restored = state.cp.restore_if_requested();
    const std::string warning = err.text();
    INFO(warning);
    REQUIRE(restored);
    REQUIRE(state.x == 1);
    REQUIRE(state.big == big_values(1));  // none left from the version skipped
    REQUIRE(state.cp.sequence() == 1);
    REQUIRE(state.hooks == 1);
    return warning;
}

/// Restores "x" and "big" from the newest version in `dir`; returns x.
std::int64_t restored_x_big(const std::string& dir) {
    XBig state(options_in(dir, ckpt::RestartKind::Latest));
    auto& [x, big, _hooks, cp] = state;
    REQUIRE(cp.restore_if_requested());
    REQUIRE(big == big_values(static_cast<int>(x)));
    return x;
}

/// Both restore() with an explicit spec and restore_if_requested() with options.restart.
template <class F>
void check_missing(const std::string& dir, const ckpt::RestartSpec& spec, const std::string& named, F&& extra) {
    std::int64_t x = 7;
    ckpt::Checkpointer cp(options_in(dir), MPI_COMM_WORLD);
    cp.protect("x", x);
    try {
        cp.restore(spec);
        FAIL("restore did not throw");
    } catch (const ckpt::IoError& e) {
        CHECK(e.errno_value() == ENOENT);
        CHECK(ckpt::exit_code(e) == 66);
        CHECK_THAT(e.what(), Contains(named));
        extra(e);
    }
    CHECK(x == 7);
}

}  // namespace

// --------------------------------------------------------------------------------------------
// Selection

TEST_CASE("restore none returns false and touches neither state, hooks nor directory", "[unit][restore]") {
    TempDir dir;
    write_versions(dir.path(), 2);
    const auto before = files_in(dir.path());
    std::int64_t x = 7;
    std::vector<double> v{9};
    int hooks = 0;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v).on_restart([&] { ++hooks; });
    REQUIRE_FALSE(cp.restore_if_requested());
    REQUIRE(x == 7);
    REQUIRE(v == std::vector<double>{9});
    REQUIRE(hooks == 0);
    REQUIRE(cp.sequence() == 0);
    REQUIRE(cp.last_path().empty());
    REQUIRE(files_in(dir.path()) == before);
    // A directory that does not exist holds only the job's lock while the job runs, and goes
    // with a job that wrote nothing.
    {
        ckpt::Checkpointer other(options_in(dir / "absent", ckpt::RestartKind::None), MPI_COMM_WORLD);
        REQUIRE_FALSE(other.restore_if_requested());
        REQUIRE(files_in(dir / "absent").empty());
    }
    REQUIRE_FALSE(fs::exists(dir / "absent"));
}

TEST_CASE("restore auto with an empty or missing directory starts fresh", "[unit][restore]") {
    TempDir dir;
    for (const auto& where : {dir.path(), dir / "missing", dir / "missing/deeper"}) {
        INFO(where);
        std::int64_t x = 7;
        int hooks = 0;
        ckpt::Checkpointer cp(options_in(where, ckpt::RestartKind::Auto), MPI_COMM_WORLD);
        cp.protect("x", x).on_restart([&] { ++hooks; });
        REQUIRE_FALSE(cp.restore_if_requested());
        REQUIRE(x == 7);
        REQUIRE(hooks == 0);
        REQUIRE(cp.sequence() == 0);
    }
    REQUIRE_FALSE(fs::exists(dir / "missing"));
    REQUIRE(files_in(dir.path()).empty());
}

TEST_CASE("restore auto ignores uncommitted temporaries and other names", "[unit][restore]") {
    TempDir dir;
    write_text(dir / "ckpt.000001.h5.tmp", "half written");
    write_text(dir / "other.000002.h5", "someone else's");
    std::int64_t x = 7;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Auto), MPI_COMM_WORLD);
    cp.protect("x", x);
    REQUIRE_FALSE(cp.restore_if_requested());
    REQUIRE(x == 7);
}

TEST_CASE("restore latest with no checkpoint is an ENOENT IoError naming latest and the directory",
          "[unit][restore][errors]") {
    TempDir dir;
    write_text(dir / "ckpt.000003.h5.tmp", "uncommitted: does not count");
    for (const auto& where : {dir.path(), dir / "missing"}) {
        INFO(where);
        std::int64_t x = 7;
        ckpt::Checkpointer cp(options_in(where, ckpt::RestartKind::Latest), MPI_COMM_WORLD);
        cp.protect("x", x);
        try {
            cp.restore_if_requested();
            FAIL("restore latest did not throw");
        } catch (const ckpt::IoError& e) {
            CHECK(e.errno_value() == ENOENT);
            CHECK(ckpt::exit_code(e) == 66);
            CHECK(e.kind() == ckpt::ErrorKind::Io);
            CHECK_THAT(e.what(), Contains("latest") && Contains(where));
            CHECK(e.file() == where);
        }
        CHECK(x == 7);
    }
}

TEST_CASE("restore latest and auto pick the newest complete version", "[unit][restore]") {
    TempDir dir;
    write_versions(dir.path(), 3);
    for (auto kind : {ckpt::RestartKind::Latest, ckpt::RestartKind::Auto}) {
        std::int64_t x = 0;
        std::vector<double> v;
        ckpt::Checkpointer cp(options_in(dir.path(), kind), MPI_COMM_WORLD);
        cp.protect("x", x).protect("v", v);
        REQUIRE(cp.restore_if_requested());
        REQUIRE(x == 103);
        REQUIRE(v == std::vector<double>(3, 3.0));
        REQUIRE(cp.sequence() == 3);
        REQUIRE(cp.last_path() == version_path(dir.path(), 3));
    }
}

TEST_CASE("restore latest orders by sequence number, not by name or time", "[unit][restore]") {
    TempDir dir;
    // Sequence numbers past six digits get longer names that sort before shorter ones as text.
    {
        std::int64_t x = 0;
        std::vector<double> v(3);
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None, 0), MPI_COMM_WORLD);
        cp.protect("x", x).protect("v", v);
        x = 101;
        v.assign(3, 1.0);
        cp.checkpoint();  // ckpt.000001.h5
    }
    fs::rename(version_path(dir.path(), 1), version_path(dir.path(), 999999));
    {
        std::int64_t x = 0;
        std::vector<double> v(3);
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None, 0), MPI_COMM_WORLD);
        cp.protect("x", x).protect("v", v);
        x = 102;
        v.assign(3, 2.0);
        REQUIRE(cp.checkpoint() == dir / "ckpt.1000000.h5");
    }
    std::uint64_t seq = 0;
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Latest), &seq) == 102);
    REQUIRE(seq == 1000000);
}

TEST_CASE("restore a sequence number, a file name or a path restores exactly that version", "[unit][restore]") {
    TempDir dir;
    write_versions(dir.path(), 3);
    std::uint64_t seq = 0;
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Sequence, 2), &seq) == 102);
    REQUIRE(seq == 2);
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Sequence, 1), &seq) == 101);
    REQUIRE(seq == 1);
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Name, 0, version_name(1))) == 101);
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Name, 0, version_name(3))) == 103);
    const std::string absolute = fs::absolute(version_path(dir.path(), 2)).string();
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Path, 0, absolute)) == 102);

    // A path outside the configured directory works too (cr_restart FILE).
    fs::create_directories(dir / "elsewhere");
    fs::copy_file(version_path(dir.path(), 1), dir / "elsewhere/saved.h5");
    REQUIRE(restored_x(dir / "nowhere", spec_of(ckpt::RestartKind::Path, 0, dir / "elsewhere/saved.h5"), &seq) == 101);
    REQUIRE(seq == 1);

    // restore_if_requested() uses options.restart.
    std::int64_t x = 0;
    std::vector<double> v;
    auto o = options_in(dir.path());
    o.restart = spec_of(ckpt::RestartKind::Sequence, 2);
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    REQUIRE(cp.restore_if_requested());
    REQUIRE(x == 102);
    REQUIRE(cp.last_path() == version_path(dir.path(), 2));
}

TEST_CASE("restore a missing sequence number, name or path is an ENOENT IoError naming the path",
          "[unit][restore][errors]") {
    TempDir dir;
    write_versions(dir.path(), 2);
    auto no_extra = [](const ckpt::IoError&) {};
    SECTION("sequence number") {
        check_missing(dir.path(), spec_of(ckpt::RestartKind::Sequence, 9), version_path(dir.path(), 9),
                      [](const ckpt::IoError& e) { CHECK_THAT(e.what(), Contains("9")); });
    }
    SECTION("sequence number present only as an uncommitted temporary") {
        write_text(version_path(dir.path(), 5) + ".tmp", "junk");
        check_missing(dir.path(), spec_of(ckpt::RestartKind::Sequence, 5), version_path(dir.path(), 5), no_extra);
    }
    SECTION("file name in the directory") {
        check_missing(dir.path(), spec_of(ckpt::RestartKind::Name, 0, "ckpt.000042.h5"), dir / "ckpt.000042.h5",
                      no_extra);
    }
    SECTION("path") {
        const std::string p = dir / "nowhere/ckpt.000001.h5";
        check_missing(dir.path(), spec_of(ckpt::RestartKind::Path, 0, p), p, no_extra);
    }
}

// --------------------------------------------------------------------------------------------
// Rotation

TEST_CASE("depth 2 after five checkpoints leaves exactly versions 4 and 5", "[unit][rotation]") {
    TempDir dir;
    write_versions(dir.path(), 5, 2);
    REQUIRE(files_in(dir.path()) == std::set<std::string>{version_name(4), version_name(5)});
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Sequence, 4)) == 104);
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Latest)) == 105);
}

TEST_CASE("depth 0 keeps every version and depth 1 only the newest", "[unit][rotation]") {
    TempDir all, one;
    write_versions(all.path(), 5, 0);
    write_versions(one.path(), 5, 1);
    std::set<std::string> five;
    for (int k = 1; k <= 5; ++k) five.insert(version_name(static_cast<std::uint64_t>(k)));
    REQUIRE(files_in(all.path()) == five);
    REQUIRE(files_in(one.path()) == std::set<std::string>{version_name(5)});
    REQUIRE(restored_x(one.path(), spec_of(ckpt::RestartKind::Latest)) == 105);
}

TEST_CASE("sequence numbers continue after rotation, also in a new process", "[unit][rotation]") {
    TempDir dir;
    write_versions(dir.path(), 3, 1);
    REQUIRE(files_in(dir.path()) == std::set<std::string>{version_name(3)});
    std::int64_t x = 0;
    std::vector<double> v;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest, 1), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    REQUIRE(cp.restore_if_requested());
    REQUIRE(cp.sequence() == 3);
    REQUIRE(cp.checkpoint() == version_path(dir.path(), 4));
    REQUIRE(cp.sequence() == 4);
    REQUIRE(cp.checkpoint() == version_path(dir.path(), 5));
    cp.sync();  // rotation deletes in the background
    REQUIRE(files_in(dir.path()) == std::set<std::string>{version_name(5)});
}

TEST_CASE("the next commit deletes a stale temporary", "[unit][rotation]") {
    TempDir dir;
    write_versions(dir.path(), 2, 0);
    const std::string stale = version_path(dir.path(), 3) + ".tmp";
    const std::string stale_reserve = version_path(dir.path(), 3) + ".reserve";
    write_text(stale, "left behind by a crashed writer");
    write_text(stale_reserve, "its metadata reserve");
    std::int64_t x = 55;
    std::vector<double> v(3, 55.0 - 100);
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None, 0), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    const std::string written = cp.checkpoint();
    cp.sync();  // rotation deletes in the background
    REQUIRE_FALSE(fs::exists(stale));
    REQUIRE_FALSE(fs::exists(stale_reserve));
    REQUIRE(cp.sequence() >= 3);
    REQUIRE(written == version_path(dir.path(), cp.sequence()));
    REQUIRE(files_in(dir.path()) ==
            std::set<std::string>{version_name(1), version_name(2), version_name(cp.sequence())});
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Latest)) == 55);
}

TEST_CASE("node cache file names: one rule, told from versions and other files", "[unit][rotation][multilevel]") {
    using ckpt::detail::CachedPart;
    CHECK(ckpt::detail::cached_part_name("ckpt", 12, 3) == "ckpt.000012.rank3.h5");
    CachedPart p;
    REQUIRE(ckpt::detail::parse_cached_part_name("ckpt.000012.rank3.h5", "ckpt", p));
    CHECK(p.version.sequence == 12);
    CHECK(p.rank == 3);
    CHECK(p.version.committed());
    REQUIRE(ckpt::detail::parse_cached_part_name("ckpt.000012.rank3.h5.tmp", "ckpt", p));
    CHECK(p.version.temporary);
    REQUIRE(ckpt::detail::parse_cached_part_name("ckpt.000012.rank3.h5.reserve", "ckpt", p));
    CHECK(p.version.temporary);
    for (const char* other : {"ckpt.000012.h5", "ckpt.000012.rank.h5", "ckpt.000012.rankx.h5", "ckpt.x.rank3.h5",
                              "other.000012.rank3.h5", "ckpt.000012.rank3.txt"})
        CHECK_FALSE(ckpt::detail::parse_cached_part_name(other, "ckpt", p));
    ckpt::detail::Version v;
    CHECK_FALSE(ckpt::detail::parse_version_name("ckpt.000012.rank3.h5", "ckpt", v));  // not a shared version
}

TEST_CASE("a node cache's rotation keeps depth versions, every part of each, and removes older temporaries",
          "[unit][rotation][multilevel]") {
    TempDir dir;
    auto part = [&](std::uint64_t seq, int rank, const char* suffix = "") {
        return dir / (ckpt::detail::cached_part_name("ckpt", seq, rank) + suffix);
    };
    for (std::uint64_t seq = 1; seq <= 4; ++seq)
        for (int rank = 0; rank < 3; ++rank) write_text(part(seq, rank), "part");
    write_text(part(2, 1, ".tmp"), "a crashed copy");
    write_text(part(5, 0, ".tmp"), "in progress");
    write_text(dir / "other.000001.rank0.h5", "another name");
    CHECK(ckpt::detail::rotate_cache(dir.path(), "ckpt", 2, 4).empty());
    std::set<std::string> expected{"other.000001.rank0.h5", ckpt::detail::cached_part_name("ckpt", 5, 0) + ".tmp"};
    for (std::uint64_t seq = 3; seq <= 4; ++seq)
        for (int rank = 0; rank < 3; ++rank) expected.insert(ckpt::detail::cached_part_name("ckpt", seq, rank));
    CHECK(files_in(dir.path()) == expected);
    CHECK(ckpt::detail::list_cached_parts(dir / "absent", "ckpt").empty());
}

TEST_CASE("rotation leaves other name prefixes and unrelated files alone", "[unit][rotation]") {
    TempDir dir;
    const std::set<std::string> unrelated{"notes.txt",  "ckpt.h5",         "ckpt.000001.h5.bak", "ckptx.000001.h5",
                                          "xckpt.000001.h5", "ckpt.000001.txt", "ckpt.abc.h5",        "ckpt..h5"};
    for (const auto& f : unrelated) write_text(dir / f, "not a version");
    fs::create_directories(dir / "subdir");
    write_text(dir / "subdir/ckpt.000001.h5", "not in the directory itself");
    {
        std::int64_t y = 1;
        auto o = options_in(dir.path(), ckpt::RestartKind::None, 0);
        o.name = "other";
        ckpt::Checkpointer other(o, MPI_COMM_WORLD);
        other.protect("y", y);
        for (int k = 0; k < 3; ++k) other.checkpoint();
    }
    write_versions(dir.path(), 4, 1);
    std::set<std::string> expected = unrelated;
    expected.insert({"subdir", "other.000001.h5", "other.000002.h5", "other.000003.h5", version_name(4)});
    REQUIRE(files_in(dir.path()) == expected);
    REQUIRE(fs::exists(dir / "subdir/ckpt.000001.h5"));
    // The other series continues from its own numbers.
    std::int64_t y = 0;
    auto o = options_in(dir.path(), ckpt::RestartKind::Latest);
    o.name = "other";
    ckpt::Checkpointer other(o, MPI_COMM_WORLD);
    other.protect("y", y);
    REQUIRE(other.restore_if_requested());
    REQUIRE(other.sequence() == 3);
}

// --------------------------------------------------------------------------------------------
// Corrupt and foreign files

TEST_CASE("latest and auto skip a truncated newest version with a warning naming it, and quarantine it",
          "[unit][restore][errors]") {
    for (auto kind : {ckpt::RestartKind::Latest, ckpt::RestartKind::Auto}) {
        TempDir dir;
        write_two_big_versions(dir.path());
        const std::string newest = version_path(dir.path(), 2);
        truncate_to_half(newest);
        XBig state(options_in(dir.path(), kind));
        const std::string warning = falls_back_to_version_1(state);
        REQUIRE(state.cp.last_path() == version_path(dir.path(), 1));
        REQUIRE_THAT(warning, Contains("skipping") && Contains(newest) && Contains("quarantined"));
        CHECK_FALSE(fs::exists(newest));
        CHECK(fs::exists(newest + ".bad"));
    }
}

TEST_CASE("a quarantined version does not count toward the depth: rotation keeps the good older one",
          "[unit][restore][errors][rotation]") {
    TempDir dir;
    write_two_big_versions(dir.path());  // depth 2: versions 1 and 2
    flip_byte_in_middle(version_path(dir.path(), 2));
    {
        XBig state(options_in(dir.path(), ckpt::RestartKind::Latest, 2));
        falls_back_to_version_1(state);
        state.x = 3;
        state.big = big_values(3);
        REQUIRE(state.cp.checkpoint() == version_path(dir.path(), 3));  // a new sequence, not 2 again
        state.cp.sync();  // rotation done
    }
    // Before quarantine, version 1 was deleted here and the corrupt version 2 kept.
    CHECK(fs::exists(version_path(dir.path(), 1)));
    CHECK(fs::exists(version_path(dir.path(), 2) + ".bad"));
    CHECK(fs::exists(version_path(dir.path(), 3)));
    // One more corruption, and a good version is still there.
    flip_byte_in_middle(version_path(dir.path(), 3));
    XBig state(options_in(dir.path(), ckpt::RestartKind::Latest, 2));
    falls_back_to_version_1(state);
    // The quarantined files stay for inspection; `--restart latest` never counts them.
    CHECK(ckpt::detail::committed_versions(dir.path(), "ckpt").size() == 1);
    CHECK(ckpt::detail::list_versions(dir.path(), "ckpt").size() == 3);
}

TEST_CASE("a file in a format this version cannot read is skipped but not quarantined", "[unit][restore][errors]") {
    TempDir dir;
    write_two_big_versions(dir.path());
    const std::string newest = version_path(dir.path(), 2);
    {
        hid_t f = H5Fopen(newest.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(f >= 0);
        hid_t a = H5Aopen(f, "ckpt.format_version", H5P_DEFAULT);
        const std::int64_t future = CKPT_FORMAT_VERSION + 1;
        H5Awrite(a, H5T_NATIVE_INT64, &future);
        H5Aclose(a);
        H5Fclose(f);
    }
    XBig state(options_in(dir.path(), ckpt::RestartKind::Latest));
    const std::string warning = falls_back_to_version_1(state);
    CHECK_THAT(warning, Contains("unsupported checkpoint format version"));
    CHECK(fs::exists(newest));  // intact: left for the newer ckpt that reads it
}

TEST_CASE("an explicit truncated version is a FormatError, exit 65", "[unit][restore][errors]") {
    TempDir dir;
    write_two_big_versions(dir.path());
    const std::string newest = version_path(dir.path(), 2);
    truncate_to_half(newest);
    for (const auto& spec : {spec_of(ckpt::RestartKind::Path, 0, newest), spec_of(ckpt::RestartKind::Sequence, 2),
                             spec_of(ckpt::RestartKind::Name, 0, version_name(2))}) {
        XBig state(options_in(dir.path()));
        auto& [x, big, _hooks, cp] = state;
        CerrCapture err;  // an explicit selection does not fall back, and does not warn
        try {
            cp.restore(spec);
            FAIL("restore of a truncated file did not throw");
        } catch (const ckpt::FormatError& e) {
            CHECK(ckpt::exit_code(e) == 65);
            CHECK_THAT(e.what(), Contains(newest));
        }
        CHECK(err.text().find("skipping") == std::string::npos);
    }
}

TEST_CASE("a part larger than one read chunk is read and verified in pieces", "[unit][restore][errors]") {
    TempDir dir;
    std::vector<double> big(5'000'000);  // 40 MB: three 16 MiB read chunks, hashed while reading
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = 0.5 * static_cast<double>(i);
    std::string path;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("big", big);
        path = cp.checkpoint();
    }
    std::vector<double> back;
    {
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
        cp.protect("big", back);
        REQUIRE(cp.restore_if_requested());
        REQUIRE(back == big);
    }
    flip_byte_in_middle(path);  // inside the second chunk
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("big", back);
    REQUIRE_THROWS_WITH(cp.restore(spec_of(ckpt::RestartKind::Path, 0, path)),
                        Contains("checksum") && Contains("/state/big"));
}

TEST_CASE("latest skips a newest version whose data fails its checksum", "[unit][restore][errors]") {
    TempDir dir;
    write_two_big_versions(dir.path());
    const std::string newest = version_path(dir.path(), 2);
    flip_byte_in_middle(newest);
    {
        XBig state(options_in(dir.path(), ckpt::RestartKind::Latest));
        const std::string warning = falls_back_to_version_1(state);
        REQUIRE_THAT(warning, Contains("skipping") && Contains(newest) && Contains("checksum"));
    }
    // Named explicitly (now quarantined), the same file is a FormatError that says checksum.
    const std::string bad = newest + ".bad";
    XBig state(options_in(dir.path()));
    auto& [x, big, _hooks, cp] = state;
    try {
        cp.restore(spec_of(ckpt::RestartKind::Path, 0, bad));
        FAIL("restore of a corrupt file did not throw");
    } catch (const ckpt::FormatError& e) {
        CHECK(ckpt::exit_code(e) == 65);
        CHECK_THAT(e.what(), Contains("checksum") && Contains(bad) && Contains("/state/big"));
        CHECK(e.object() == "/state/big");
    }
}

TEST_CASE("an explicitly named temporary is a FormatError saying uncommitted", "[unit][restore][errors]") {
    TempDir dir;
    write_versions(dir.path(), 1);
    // A complete file under a temporary name still counts as uncommitted.
    const std::string tmp = version_path(dir.path(), 2) + ".tmp";
    fs::copy_file(version_path(dir.path(), 1), tmp);
    for (const auto& spec : {spec_of(ckpt::RestartKind::Name, 0, version_name(2) + ".tmp"),
                             spec_of(ckpt::RestartKind::Path, 0, tmp)}) {
        std::int64_t x = 7;
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("x", x);
        REQUIRE_THROWS_AS(cp.restore(spec), ckpt::FormatError);
        REQUIRE_THROWS_WITH(cp.restore(spec), Contains("uncommitted") && Contains(tmp));
        REQUIRE(x == 7);
    }
}

TEST_CASE("a file with a version name that is not HDF5 is a FormatError", "[unit][restore][errors]") {
    TempDir dir;
    write_text(version_path(dir.path(), 7), "this is not an HDF5 file, just text under a version name\n");
    std::int64_t x = 7;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("x", x);
    try {
        cp.restore(spec_of(ckpt::RestartKind::Sequence, 7));
        FAIL("restore of a text file did not throw");
    } catch (const ckpt::FormatError& e) {
        CHECK(ckpt::exit_code(e) == 65);
        CHECK(e.file() == version_path(dir.path(), 7));
    }
    REQUIRE(x == 7);
}

TEST_CASE("an HDF5 file that ckpt did not write is a FormatError: not a ckpt checkpoint",
          "[unit][restore][errors]") {
    TempDir dir;
    make_plain_hdf5(version_path(dir.path(), 1));
    std::int64_t x = 7;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("x", x);
    REQUIRE_THROWS_AS(cp.restore(spec_of(ckpt::RestartKind::Name, 0, version_name(1))), ckpt::FormatError);
    REQUIRE_THROWS_WITH(cp.restore(spec_of(ckpt::RestartKind::Name, 0, version_name(1))),
                        Contains("not a ckpt checkpoint") && Contains(version_path(dir.path(), 1)));
    REQUIRE(x == 7);
}

TEST_CASE("latest falls back over a junk newest file and a foreign HDF5 file", "[unit][restore][errors]") {
    TempDir dir;
    write_versions(dir.path(), 1);
    write_text(version_path(dir.path(), 2), "junk");
    make_plain_hdf5(version_path(dir.path(), 3));
    std::int64_t x = 0;
    std::vector<double> v;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    CerrCapture err;
    REQUIRE(cp.restore_if_requested());
    const std::string warning = err.text();
    INFO(warning);
    REQUIRE(x == 101);
    REQUIRE_THAT(warning, Contains(version_path(dir.path(), 2)) && Contains(version_path(dir.path(), 3)) &&
                              Contains("not a ckpt checkpoint"));
    // Newest first: version 3 is skipped before version 2.
    REQUIRE(warning.find(version_path(dir.path(), 3)) < warning.find(version_path(dir.path(), 2)));
}

TEST_CASE("when every version is corrupt, latest throws the newest failure's kind: no usable checkpoint",
          "[unit][restore][errors]") {
    for (auto kind : {ckpt::RestartKind::Latest, ckpt::RestartKind::Auto}) {
        TempDir dir;
        write_two_big_versions(dir.path());
        truncate_to_half(version_path(dir.path(), 1));
        truncate_to_half(version_path(dir.path(), 2));
        XBig state(options_in(dir.path(), kind));
        auto& [x, big, hooks, cp] = state;
        CerrCapture err;
        try {
            cp.restore_if_requested();
            FAIL("restore over only corrupt versions did not throw");
        } catch (const ckpt::FormatError& e) {
            CHECK(ckpt::exit_code(e) == 65);
            CHECK_THAT(e.what(), Contains("no usable checkpoint") && Contains(version_path(dir.path(), 1)) &&
                                     Contains(version_path(dir.path(), 2)));
            CHECK_THAT(e.what(), Contains(kind == ckpt::RestartKind::Auto ? "auto" : "latest"));
        }
        CHECK(hooks == 0);
        CHECK(cp.sequence() == 0);
    }
}

// --------------------------------------------------------------------------------------------
// Mismatch between the checkpoint and what is protected

TEST_CASE("restore into a fixed array of another shape is a MismatchError naming the entry and shapes",
          "[unit][restore][errors]") {
    TempDir dir;
    {
        std::array<double, 5> a{1, 2, 3, 4, 5};
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("field", a);
        cp.checkpoint();
    }
    std::array<double, 4> b{9, 9, 9, 9};
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("field", b);
    try {
        cp.restore(spec_of(ckpt::RestartKind::Sequence, 1));
        FAIL("restore into the wrong shape did not throw");
    } catch (const ckpt::MismatchError& e) {
        CHECK(ckpt::exit_code(e) == 65);
        CHECK_THAT(e.expected(), Contains("4"));
        CHECK_THAT(e.found(), Contains("5"));
        CHECK(e.expected() == "float64[4]");
        CHECK(e.found() == "float64[5]");
        CHECK_THAT(e.what(), Contains("field") && Contains("shape") && Contains(version_path(dir.path(), 1)));
        CHECK(e.object() == "/state/field");
    }
    CHECK(b == std::array<double, 4>{9, 9, 9, 9});
}

TEST_CASE("restore into another element type is a MismatchError naming float32 and float64",
          "[unit][restore][errors]") {
    TempDir dir;
    {
        std::vector<double> d{1.5, 2.5};
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("u", d);
        cp.checkpoint();
    }
    std::vector<float> f{7.f};
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("u", f);
    try {
        cp.restore(spec_of(ckpt::RestartKind::Sequence, 1));
        FAIL("restore into float from double did not throw");
    } catch (const ckpt::MismatchError& e) {
        CHECK_THAT(e.expected(), Contains("float32"));
        CHECK_THAT(e.found(), Contains("float64"));
        CHECK_THAT(e.what(), Contains("float32") && Contains("float64") && Contains("\"u\""));
    }
    CHECK(f == std::vector<float>{7.f});
}

TEST_CASE("a protected entry absent from the checkpoint is a MismatchError: no such entry",
          "[unit][restore][errors]") {
    TempDir dir;
    write_versions(dir.path(), 1);
    std::int64_t x = 0;
    std::vector<double> v;
    int extra = 3;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v).protect("extra", extra);
    try {
        cp.restore(spec_of(ckpt::RestartKind::Sequence, 1));
        FAIL("restore with an extra protected entry did not throw");
    } catch (const ckpt::MismatchError& e) {
        CHECK(ckpt::exit_code(e) == 65);
        CHECK_THAT(e.what(), Contains("no such entry") && Contains("extra"));
        CHECK(e.object() == "/state/extra");
    }
    CHECK(extra == 3);
}

TEST_CASE("a std::vector restored from a longer or shorter stored vector is resized", "[unit][restore]") {
    TempDir dir;
    const std::vector<double> stored_long{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const std::vector<double> stored_short{42};
    {
        std::vector<double> v = stored_long;
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None, 0), MPI_COMM_WORLD);
        cp.protect("v", v);
        cp.checkpoint();
        v = stored_short;
        cp.checkpoint();
    }
    auto restore_seq = [&](std::uint64_t seq, std::vector<double> start) {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("v", start);
        REQUIRE(cp.restore(spec_of(ckpt::RestartKind::Sequence, seq)));
        return start;
    };
    REQUIRE(restore_seq(1, {0, 0, 0}) == stored_long);   // grows
    REQUIRE(restore_seq(2, {0, 0, 0}) == stored_short);  // shrinks
    REQUIRE(restore_seq(1, {}) == stored_long);          // from empty
    REQUIRE(restore_seq(2, std::vector<double>(1000, -1.0)) == stored_short);
}

// Library bug (reported): checkpointing an empty std::vector or std::string (any direct entry
// whose total size over all ranks is 0) fails with
//   IoError "H5Dwrite failed: addr overflow, addr = 18446744073709551615, size=0"
// (a zero-size contiguous dataset has no address, yet the collective MPI-IO write of 0 elements
// still computes one), so the whole checkpoint fails.
TEST_CASE("an empty std::vector or std::string checkpoints and restores as empty", "[unit][restore]") {
    TempDir dir;
    std::int64_t x = 5;
    std::vector<double> v;
    std::string label;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("x", x).protect("v", v).protect("label", label);
        CHECK_NOTHROW(cp.checkpoint());
    }
    std::int64_t rx = 0;
    std::vector<double> rv{1, 2, 3};
    std::string rlabel = "not empty";
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("x", rx).protect("v", rv).protect("label", rlabel);
    REQUIRE(cp.restore_if_requested());
    REQUIRE(rx == 5);
    REQUIRE(rv.empty());
    REQUIRE(rlabel.empty());
}

TEST_CASE("latest with a shape mismatch in every version reports the mismatch", "[unit][restore][errors]") {
    TempDir dir;
    {
        std::array<double, 5> a{};
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("field", a);
        cp.checkpoint();
    }
    std::array<double, 4> b{};
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("field", b);
    CerrCapture err;
    try {
        cp.restore_if_requested();
        FAIL("did not throw");
    } catch (const ckpt::MismatchError& e) {
        CHECK_THAT(e.what(), Contains("no usable checkpoint") && Contains("shape") && Contains("field"));
        CHECK(e.expected() == "float64[4]");
        CHECK(e.found() == "float64[5]");
    }
}

// --------------------------------------------------------------------------------------------
// Usage errors

TEST_CASE("protecting a name twice is a UsageError: protected twice", "[unit][errors]") {
    TempDir dir;
    int a = 0, b = 0;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("a", a);
    try {
        cp.protect("a", b);
        FAIL("duplicate protect did not throw");
    } catch (const ckpt::UsageError& e) {
        CHECK_THAT(e.what(), Contains("protected twice") && Contains("\"a\""));
        CHECK(ckpt::exit_code(e) == 70);
    }
    // The first registration still stands and is what gets written.
    a = 5;
    b = 6;
    cp.checkpoint();
    int r = 0;
    ckpt::Checkpointer back(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    back.protect("a", r);
    REQUIRE(back.restore_if_requested());
    REQUIRE(r == 5);
}

TEST_CASE("invalid state names are UsageErrors that say why", "[unit][errors]") {
    TempDir dir;
    int a = 0;
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    REQUIRE_THROWS_AS(cp.protect("", a), ckpt::UsageError);
    REQUIRE_THROWS_WITH(cp.protect("", a), Contains("empty"));
    REQUIRE_THROWS_AS(cp.protect("a/b", a), ckpt::UsageError);
    REQUIRE_THROWS_WITH(cp.protect("a/b", a), Contains("a/b") && Contains("'/'"));
    REQUIRE_THROWS_AS(cp.protect(".x", a), ckpt::UsageError);
    REQUIRE_THROWS_WITH(cp.protect(".x", a), Contains(".x") && Contains("starts with '.'"));
    // A name may contain dots after the first character.
    REQUIRE_NOTHROW(cp.protect("x.y", a));
}

TEST_CASE("protect after restore_if_requested is a UsageError, whether or not it restored", "[unit][errors]") {
    TempDir dir;
    write_versions(dir.path(), 1);
    for (auto kind : {ckpt::RestartKind::None, ckpt::RestartKind::Auto, ckpt::RestartKind::Latest}) {
        std::int64_t x = 0;
        std::vector<double> v;
        int late = 0;
        ckpt::Checkpointer cp(options_in(dir.path(), kind), MPI_COMM_WORLD);
        cp.protect("x", x).protect("v", v);
        cp.restore_if_requested();
        REQUIRE_THROWS_AS(cp.protect("late", late), ckpt::UsageError);
        REQUIRE_THROWS_WITH(cp.protect("late", late), Contains("late") && Contains("after"));
    }
    // Also after a restore that found nothing.
    int late = 0;
    ckpt::Checkpointer cp(options_in(dir / "empty", ckpt::RestartKind::Auto), MPI_COMM_WORLD);
    REQUIRE_FALSE(cp.restore_if_requested());
    REQUIRE_THROWS_AS(cp.protect("late", late), ckpt::UsageError);
}

// --------------------------------------------------------------------------------------------
// Hooks

TEST_CASE("on_checkpoint hooks run in registration order before the data is written", "[unit][restore]") {
    TempDir dir;
    std::int64_t x = 1;
    std::vector<double> v(3, 0.0);
    std::vector<std::string> log;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("x", x).protect("v", v);
        cp.on_checkpoint([&] {
            log.push_back("first");
            x = 142;  // e.g. copy device data to host
        });
        cp.on_checkpoint([&] {
            log.push_back("second saw " + std::to_string(x));
            v.assign(3, 42.0);
        });
        cp.checkpoint();
    }
    REQUIRE(log == std::vector<std::string>{"first", "second saw 142"});
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Latest)) == 142);
}

TEST_CASE("on_restart hooks run in reverse order after the data is restored, and only then",
          "[unit][restore]") {
    TempDir dir;
    write_versions(dir.path(), 2);
    std::vector<std::string> log;
    std::int64_t x = 0;
    std::vector<double> v;
    auto hooked = [&](ckpt::Checkpointer& cp) {
        cp.protect("x", x).protect("v", v);
        cp.on_restart([&] { log.push_back("first saw " + std::to_string(x)); });
        cp.on_restart([&] { log.push_back("second saw " + std::to_string(x)); });
    };
    {
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
        hooked(cp);
        REQUIRE(cp.restore_if_requested());
        REQUIRE(log == std::vector<std::string>{"second saw 102", "first saw 102"});
    }
    log.clear();
    {
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None), MPI_COMM_WORLD);
        hooked(cp);
        REQUIRE_FALSE(cp.restore_if_requested());
    }
    {
        ckpt::Checkpointer cp(options_in(dir / "empty", ckpt::RestartKind::Auto), MPI_COMM_WORLD);
        hooked(cp);
        REQUIRE_FALSE(cp.restore_if_requested());
    }
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        hooked(cp);
        REQUIRE_THROWS_AS(cp.restore(spec_of(ckpt::RestartKind::Sequence, 9)), ckpt::IoError);
    }
    REQUIRE(log.empty());
}

TEST_CASE("a throwing on_checkpoint hook fails checkpoint and leaves the previous version alone",
          "[unit][restore][errors]") {
    TempDir dir;
    std::int64_t x = 101;
    std::vector<double> v(3, 1.0);
    bool fail = false;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None, 1), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    cp.on_checkpoint([&] {
        if (fail) throw std::runtime_error("device copy failed on purpose");
    });
    REQUIRE(cp.checkpoint() == version_path(dir.path(), 1));
    const auto before = files_in(dir.path());
    x = 102;
    v.assign(3, 2.0);
    fail = true;
    REQUIRE_THROWS_AS(cp.checkpoint(), ckpt::Error);
    REQUIRE_THROWS_WITH(cp.checkpoint(), Contains("device copy failed on purpose"));
    REQUIRE(files_in(dir.path()) == before);
    REQUIRE(cp.sequence() == 1);
    REQUIRE(cp.last_path() == version_path(dir.path(), 1));
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Latest)) == 101);
    // A ckpt error from a hook keeps its type.
    ckpt::Checkpointer other(options_in(dir / "other"), MPI_COMM_WORLD);
    other.on_checkpoint([] { throw ckpt::UsageError({"hook misuse on purpose"}); });
    REQUIRE_THROWS_AS(other.checkpoint(), ckpt::UsageError);
    // Once the hook recovers, writing continues with the next number.
    fail = false;
    REQUIRE(cp.checkpoint() == version_path(dir.path(), 2));
    REQUIRE(restored_x(dir.path(), spec_of(ckpt::RestartKind::Latest)) == 102);
}

// --------------------------------------------------------------------------------------------
// Failed writes

TEST_CASE("a failed write is an IoError naming the directory and leaves older versions restorable",
          "[unit][restore][errors]") {
    TempDir dir;
    const std::string parent = dir / "run";
    const std::string ck = parent + "/ck";
    std::int64_t x = 101;
    std::vector<double> v(3, 1.0);
    ckpt::Checkpointer cp(options_in(ck, ckpt::RestartKind::None, 1), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    REQUIRE(cp.checkpoint() == version_path(ck, 1));
    cp.sync();
    x = 102;
    v.assign(3, 2.0);

    const bool root = ::geteuid() == 0;
    if (!root) {
        REQUIRE(::chmod(ck.c_str(), 0555) == 0);
    } else {
        // Permissions do not stop root: make the directory unreachable instead (its parent
        // becomes a regular file), then put it back.
        fs::rename(parent, dir / "saved");
        write_text(parent, "a file where the directory's parent should be");
    }
    try {
        cp.checkpoint();
        FAIL("checkpoint into an unusable directory did not throw");
    } catch (const ckpt::IoError& e) {
        CHECK_THAT(e.what(), Contains(ck));
        CHECK(ckpt::exit_code(e) == 74);
    }
    if (!root) {
        REQUIRE(::chmod(ck.c_str(), 0755) == 0);
    } else {
        fs::remove(parent);
        fs::rename(dir / "saved", parent);
    }
    REQUIRE(files_in(ck) == std::set<std::string>{version_name(1)});
    REQUIRE(cp.sequence() == 1);
    REQUIRE(restored_x(ck, spec_of(ckpt::RestartKind::Latest)) == 101);
}

// HDF5 1.10 cannot close a file it failed to extend: the id stays open and HDF5's exit handler
// then crashes (SIGSEGV instead of the application's exit 74). So a checkpoint that could pass
// the file size limit is refused before anything is created. Runs in a child (see above).
TEST_CASE("a write that could pass the file size limit is refused; the older version stays restorable",
          "[unit][restore][errors]") {
    TempDir dir;
    std::int64_t x = 1;
    std::vector<double> big = big_values(1);
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::None, 1), MPI_COMM_WORLD);
    cp.protect("x", x).protect("big", big);
    REQUIRE(cp.checkpoint() == version_path(dir.path(), 1));
    const auto v1_size = fs::file_size(version_path(dir.path(), 1));
    x = 2;
    big = big_values(2);
    const ChildOutcome failed = checkpoint_fails_in_child(cp);
    INFO(failed.what);
    REQUIRE(failed.io_error);
    REQUIRE_THAT(failed.what, Contains(version_path(dir.path(), 2) + ".tmp") &&
                                  Contains("would exceed the file size limit (ulimit -f) of 204800 bytes") &&
                                  Contains("File too large"));
    CHECK(failed.leaked_files == 0);
    // The committed version is intact and still the newest complete one; nothing else is left.
    REQUIRE(files_in(dir.path()) == std::set<std::string>{version_name(1)});
    REQUIRE(fs::file_size(version_path(dir.path(), 1)) == v1_size);
    REQUIRE(restored_x_big(dir.path()) == 1);
    // The next successful checkpoint takes the number, and rotation drops version 1.
    REQUIRE(cp.checkpoint() == version_path(dir.path(), 2));
    cp.sync();
    REQUIRE(files_in(dir.path()) == std::set<std::string>{version_name(2)});
    REQUIRE(restored_x_big(dir.path()) == 2);
}

TEST_CASE("the metadata reserve allocates its bytes, and a failure to leaves no file", "[unit][errors]") {
    TempDir dir;
    const std::string where = dir / "ckpt.000007.h5.reserve";
    {
        ckpt::detail::SpaceReserve reserve;
        reserve.hold(where, 64 * 1024);
        struct stat st {};
        REQUIRE(::stat(where.c_str(), &st) == 0);
        CHECK(st.st_size == 64 * 1024);
        CHECK(st.st_blocks * 512 >= 64 * 1024);  // allocated, not a sparse hole
        reserve.release();
        REQUIRE_FALSE(fs::exists(where));
    }
    // Too big to fit (here: under a file size limit, as on a nearly full disk).
    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    struct sigaction ignore {}, old {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    REQUIRE(::sigaction(SIGXFSZ, &ignore, &old) == 0);
    struct rlimit small = saved;
    small.rlim_cur = 16 * 1024;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string what;
    int err = 0;
    try {
        ckpt::detail::SpaceReserve reserve;
        reserve.hold(where, 1 << 20);
    } catch (const ckpt::IoError& e) {
        what = e.what();
        err = e.errno_value();
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::sigaction(SIGXFSZ, &old, nullptr);
    INFO(what);
    CHECK(err == EFBIG);
    CHECK_THAT(what, Contains("reserving 1048576 bytes for the checkpoint's metadata failed: File too large") &&
                         Contains(where));
    CHECK_FALSE(fs::exists(where));
}

TEST_CASE("checkpoint with mode none returns an empty path and writes nothing", "[unit][restore]") {
    TempDir dir;
    const std::string where = dir / "never";
    auto o = options_in(where);
    o.mode.none = true;
    o.mode.periodic = true;
    o.every = 1;
    std::int64_t x = 1;
    int hooks = 0;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("x", x).on_checkpoint([&] { ++hooks; });
    REQUIRE(cp.checkpoint().empty());
    REQUIRE_FALSE(cp.poll(1));
    REQUIRE(hooks == 0);
    REQUIRE(cp.sequence() == 0);
    REQUIRE(cp.last_path().empty());
    REQUIRE_FALSE(fs::exists(where));
}

// --------------------------------------------------------------------------------------------
// What the file records

TEST_CASE("the written file's root attributes record format, sequence, ranks and step", "[unit][restore]") {
    TempDir dir;
    auto o = options_in(dir.path(), ckpt::RestartKind::None, 0);
    o.mode.periodic = true;
    o.every = 5;
    std::int64_t x = 0;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("x", x);
    std::string first = cp.checkpoint();  // outside poll: no step
    for (std::int64_t step = 1; step <= 5; ++step) cp.poll(step);
    const std::string second = cp.last_path();
    REQUIRE(second == version_path(dir.path(), 2));

    REQUIRE(raw_root_attribute(first, "ckpt.format_version") == CKPT_FORMAT_VERSION);
    REQUIRE(raw_root_attribute(first, "ckpt.sequence") == 1);
    REQUIRE(raw_root_attribute(first, "ckpt.ranks") == 1);
    REQUIRE(raw_root_attribute(first, "ckpt.step") == -1);
    REQUIRE(raw_root_attribute(second, "ckpt.format_version") == CKPT_FORMAT_VERSION);
    REQUIRE(raw_root_attribute(second, "ckpt.sequence") == 2);
    REQUIRE(raw_root_attribute(second, "ckpt.ranks") == 1);
    REQUIRE(raw_root_attribute(second, "ckpt.step") == 5);

    // Restoring reads the sequence number back.
    std::int64_t rx = 0;
    ckpt::Checkpointer back(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    back.protect("x", rx);
    REQUIRE(back.restore_if_requested());
    REQUIRE(back.sequence() == 2);
}

TEST_CASE("argv is stored as fixed-length strings, and a format 1 file's variable-length argv still reads",
          "[unit][restore]") {
    TempDir dir;
    std::int64_t x = 3;
    std::string path;
    {
        char a0[] = "sim", a1[] = "--steps", a2[] = "1000", a3[] = "";
        char* args[] = {a0, a1, a2, a3, nullptr};
        int argc = 4;
        auto o = options_in(dir.path());
        ckpt::Checkpointer cp(argc, args, MPI_COMM_WORLD, o);
        cp.protect("x", x);
        path = cp.checkpoint();
    }
    const std::vector<std::string> argv{"sim", "--steps", "1000", ""};
    {  // in the checksummed object header, not the global heap: a flipped bit cannot crash a reader
        hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t a = H5Aopen(f, "ckpt.argv", H5P_DEFAULT);
        hid_t t = H5Aget_type(a);
        CHECK(H5Tis_variable_str(t) == 0);
        H5Tclose(t);
        H5Aclose(a);
        H5Fclose(f);
        ckpt::detail::h5::File file(path, MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
        CHECK(file.read_strings_attribute("/", "ckpt.argv") == argv);
    }
    {  // rewrite it as format 1 did
        hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        H5Adelete(f, "ckpt.argv");
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        hsize_t n = argv.size();
        hid_t sp = H5Screate_simple(1, &n, nullptr);
        hid_t a = H5Acreate2(f, "ckpt.argv", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        std::vector<const char*> ptrs;
        for (const auto& s : argv) ptrs.push_back(s.c_str());
        REQUIRE(H5Awrite(a, t, ptrs.data()) >= 0);
        const std::int64_t one = 1;
        hid_t v = H5Aopen(f, "ckpt.format_version", H5P_DEFAULT);
        H5Awrite(v, H5T_NATIVE_INT64, &one);
        for (hid_t id : {v, a}) H5Aclose(id);
        H5Sclose(sp);
        H5Tclose(t);
        H5Fclose(f);
    }
    ckpt::detail::h5::File file(path, MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
    CHECK(file.read_strings_attribute("/", "ckpt.argv") == argv);
    std::int64_t back = 0;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("x", back);
    REQUIRE(cp.restore_if_requested());
    CHECK(back == 3);
}

namespace {
struct Format1Params {  // make_format1.cpp's Params
    std::map<std::string, double> coefficients;
    std::string label;
    template <class Archive>
    void serialize(Archive& ar, unsigned) {
        ar & coefficients & label;
    }
};
}  // namespace

TEST_CASE("a checkpoint that format 1's library wrote (tests/fixtures/format1) restores, argv included",
          "[unit][restore]") {
    // Written by tests/fixtures/format1/make_format1.cpp with the library of commit 1c81096^.
    TempDir dir;
    const std::string fixture = std::string(CKPT_TEST_SOURCE_DIR) + "/tests/fixtures/format1/ckpt.000001.h5";
    fs::copy_file(fixture, version_path(dir.path(), 1));  // restore only reads; a copy keeps the tree clean
    {
        ckpt::detail::h5::File file(version_path(dir.path(), 1), MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
        REQUIRE(raw_root_attribute(version_path(dir.path(), 1), "ckpt.format_version") == 1);
        CHECK(file.read_strings_attribute("/", "ckpt.argv") ==
              std::vector<std::string>{"/tmp/make_format1", "--checkpoint-dir", "fmt1-out", "one", "two"});
    }
    std::int64_t step = 0;
    std::vector<double> u;
    std::string note;
    std::array<std::complex<double>, 2> z{};
    std::int32_t grid[6] = {};
    Format1Params params;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("step", step).protect("u", u).protect("note", note).protect("z", z);
    cp.protect("grid", ckpt::ArrayView<std::int32_t>(grid, {2, 3})).protect("params", params);
    REQUIRE(cp.restore_if_requested());
    CHECK(cp.sequence() == 1);
    CHECK(step == 1234);
    CHECK(u == std::vector<double>{0.5, 1.5, 2.5, 3.5});
    CHECK(note == "written by format 1");
    CHECK(z[0] == std::complex<double>(1, -1));
    CHECK(z[1] == std::complex<double>(0.5, 2));
    for (int i = 0; i < 6; ++i) CHECK(grid[i] == i + 1);
    CHECK(params.coefficients == std::map<std::string, double>{{"alpha", 0.25}, {"beta", -1.5}});
    CHECK(params.label == "format one");
}

// --------------------------------------------------------------------------------------------
// Directory names and the commit

TEST_CASE("a checkpoint directory whose name holds a newline is written and restored", "[unit][restore]") {
    TempDir dir;
    const std::string odd = dir / "run\n1";
    write_versions(odd, 2);
    std::int64_t x = 0;
    std::vector<double> v;
    ckpt::Checkpointer cp(options_in(odd, ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    REQUIRE(cp.restore_if_requested());
    CHECK(cp.last_path() == version_path(odd, 2));
    CHECK(x == 102);
}

TEST_CASE("a directory fsync that fails after the rename is a warning: the version is committed",
          "[unit][restore][commit]") {
    TempDir dir;
    const std::string tmp = dir / "ckpt.000001.h5.tmp", final_path = dir / "ckpt.000001.h5";
    const auto created = ckpt::detail::create_exclusive(tmp, "the test's temporary");
    write_text(tmp, "data");
    auto failing = +[](const std::string& path, bool) {
        ckpt::detail::raise(ckpt::detail::posix_error("fsync", path, EIO));
    };
    const std::string warning = ckpt::detail::commit(tmp, final_path, created, failing);
    CHECK_THAT(warning, Contains("is committed") && Contains(final_path) && Contains("Input/output error"));
    CHECK(fs::exists(final_path));
    CHECK_FALSE(fs::exists(tmp));
    // Before the rename, a failure is still a failure: nothing was committed.
    CHECK_THROWS_AS(ckpt::detail::commit(dir / "absent.tmp", dir / "absent.h5", created, failing), ckpt::IoError);
    CHECK_FALSE(fs::exists(dir / "absent.h5"));
}

// --------------------------------------------------------------------------------------------
// A directory other users can write

TEST_CASE("a link planted at the next temporary's name is never written through", "[unit][restore][security]") {
    TempDir dir;
    write_versions(dir.path(), 1);
    const std::string victim = dir / "victim";
    write_text(victim, "precious");
    // Listing counts a planted name as a sequence number, so an attacker must plant between the
    // listing and the write: write_file() at the planted name stands for losing that race.
    ckpt::detail::mpi::Comm comm(MPI_COMM_WORLD);
    std::int64_t x = 5;
    std::vector<double> v(3, 1.0);
    std::vector<ckpt::detail::SaveNode> nodes;
    ckpt::Writer w(nodes, "/state");
    w.write("x", x);
    w.write("v", v);
    ckpt::detail::FileMeta meta;
    meta.sequence = 2;
    meta.ranks = 1;
    for (const std::string suffix : {".tmp", ".reserve"}) {
        INFO(suffix);
        const std::string tmp = version_path(dir.path(), 2) + ".tmp", planted = version_path(dir.path(), 2) + suffix;
        fs::create_symlink(victim, planted);
        try {
            ckpt::detail::write_file(tmp, comm, nodes, meta);
            FAIL("a checkpoint wrote through a planted link");
        } catch (const ckpt::IoError& e) {
            CHECK_THAT(e.what(), Contains(planted) && Contains("did not create"));
            CHECK(ckpt::exit_code(e) == 74);
        }
        std::ifstream in(victim);
        std::string text((std::istreambuf_iterator<char>(in)), {});
        CHECK(text == "precious");
        CHECK_FALSE(fs::exists(version_path(dir.path(), 2)));
        fs::remove(planted);
        fs::remove(tmp);
    }
}

TEST_CASE("latest skips a version another user owns in a directory others can write", "[unit][restore][security]") {
    if (::geteuid() != 0) {
        WARN("not root: cannot give a file to another user; skipped");
        return;
    }
    TempDir dir;
    write_versions(dir.path(), 2);
    REQUIRE(::chown(version_path(dir.path(), 2).c_str(), 12345, 12345) == 0);
    std::int64_t x = 0;
    std::vector<double> v;
    {  // only this user can write the directory: the owner does not matter
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
        cp.protect("x", x).protect("v", v);
        REQUIRE(cp.restore_if_requested());
        CHECK(x == 102);
    }
    fs::permissions(dir.path(), fs::perms::others_write | fs::perms::sticky_bit, fs::perm_options::add);
    {
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
        cp.protect("x", x).protect("v", v);
        CerrCapture err;
        REQUIRE(cp.restore_if_requested());
        CHECK(x == 101);
        CHECK_THAT(err.text(), Contains("skipping " + version_path(dir.path(), 2)) && Contains("uid 12345"));
    }
    // Asked for by path, it is restored, with a warning.
    ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("x", x).protect("v", v);
    CerrCapture err;
    REQUIRE(cp.restore(spec_of(ckpt::RestartKind::Path, 0, version_path(dir.path(), 2))));
    CHECK(x == 102);
    CHECK_THAT(err.text(), Contains("as asked") && Contains("uid 12345"));
}

TEST_CASE("retention counts only good versions and keeps a quarantined one while it is newer than the oldest kept",
          "[unit][rotation]") {
    auto v = [](std::uint64_t seq, bool bad = false, bool tmp = false) {
        ckpt::detail::Version x;
        x.sequence = seq;
        x.path = "ckpt." + std::to_string(seq) + (bad ? ".bad" : tmp ? ".tmp" : "");
        x.quarantined = bad;
        x.temporary = tmp;
        return x;
    };
    // 1 good, 2 quarantined, 3 good, 4 quarantined, 5 good, 6 a write in progress; depth 2 keeps 5 and 3.
    const std::vector<ckpt::detail::Version> all{v(1), v(2, true), v(3), v(4, true), v(5), v(6, false, true)};
    std::map<std::string, bool> keep;
    for (const auto& r : ckpt::detail::plan_retention(all, 2, [](const ckpt::detail::Version&) { return true; }))
        keep[r.version->path] = r.keep;
    CHECK(keep.size() == all.size());
    CHECK(keep["ckpt.5"]);
    CHECK(keep["ckpt.3"]);
    CHECK_FALSE(keep["ckpt.1"]);      // beyond the depth
    CHECK(keep["ckpt.4.bad"]);        // newer than the oldest version kept: for inspection
    CHECK_FALSE(keep["ckpt.2.bad"]);  // older than every version kept
    CHECK(keep["ckpt.6.tmp"]);        // newer than the newest good one: may be in progress
    // A version the examiner finds bad is not counted either: the next good one is kept instead.
    keep.clear();
    for (const auto& r : ckpt::detail::plan_retention(all, 2, [](const ckpt::detail::Version& x) { return x.sequence != 5; }))
        keep[r.version->path] = r.keep;
    CHECK(keep["ckpt.3"]);
    CHECK(keep["ckpt.1"]);
    CHECK(keep["ckpt.5"]);  // unreadable, newer than the oldest kept: kept, not counted
}

TEST_CASE("retention keeps every version a kept one refers to, followed to its end, and no other", "[unit][rotation]") {
    std::vector<ckpt::detail::Version> all;
    for (std::uint64_t s = 1; s <= 7; ++s) {
        ckpt::detail::Version x;
        x.sequence = s;
        x.path = "ckpt." + std::to_string(s);
        all.push_back(x);
    }
    // 7 links to 5 and 2; 5 (beyond depth 1, kept for 7) links to 1; 6 and 3 refer to nothing kept.
    const ckpt::detail::References refs{{7, {2, 5}}, {6, {4}}, {5, {1}}, {3, {2}}};
    std::map<std::string, std::string> reason;
    for (const auto& r : ckpt::detail::plan_retention(all, 1, [](const ckpt::detail::Version&) { return true; }, refs))
        reason[r.version->path] = r.keep ? r.reason : "";
    CHECK(reason["ckpt.7"] == "complete, 1 of 1");
    CHECK(reason["ckpt.5"] == "complete, referred to by version 7 (incremental)");
    CHECK(reason["ckpt.2"] == "complete, referred to by version 7 (incremental)");
    CHECK(reason["ckpt.1"] == "complete, referred to by version 5 (incremental)");
    for (const char* gone : {"ckpt.6", "ckpt.4", "ckpt.3"}) CHECK(reason[gone].empty());
}
