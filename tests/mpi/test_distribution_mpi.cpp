// Distribution declarations at 1, 2 and 4 ranks (ckpt/distribution.hpp): the collective checks
// a checkpoint makes (replicated values agree, blocks tile), and restores on another number of
// ranks (N -> N-1 on a sub-communicator): per-rank state is refused with a hint, concatenated
// sequences are split again (evenly or as split() says), blocks are read as the new boxes.
// No SECTIONs: a rank outside a sub-communicator must run a test case as often as the others.
#include "testing.hpp"

#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Contains;
using ckpt::testing::options_in;
using ckpt::testing::TempDir;
using ckpt::testing::on_every_rank;
using ckpt::testing::world_rank;
using ckpt::testing::world_size;

using ckpt::testing::CerrCapture;

namespace {

/// The world's ranks 0 .. size-2 (the last one left out) when the world has two ranks or more;
/// the whole world (a duplicate) at one rank. Collective over MPI_COMM_WORLD.
class Smaller {
public:
    Smaller() {
        if (world_size() == 1) {
            MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
        } else {
            MPI_Comm_split(MPI_COMM_WORLD, world_rank() < world_size() - 1 ? 0 : MPI_UNDEFINED, world_rank(), &comm_);
        }
        if (comm_ != MPI_COMM_NULL) {
            MPI_Comm_rank(comm_, &rank_);
            MPI_Comm_size(comm_, &size_);
        }
    }
    ~Smaller() {
        if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    }
    Smaller(const Smaller&) = delete;
    Smaller& operator=(const Smaller&) = delete;

    bool member() const noexcept { return comm_ != MPI_COMM_NULL; }
    MPI_Comm comm() const noexcept { return comm_; }
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }

private:
    MPI_Comm comm_ = MPI_COMM_NULL;
    int rank_ = -1, size_ = 0;
};

ckpt::RestartSpec sequence(std::uint64_t seq) {
    ckpt::RestartSpec s;
    s.kind = ckpt::RestartKind::Sequence;
    s.sequence = seq;
    return s;
}

/// Every rank sees no version in `dir` (after all ranks are done with it).
void check_no_version(const std::string& dir) {
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(ckpt::detail::list_versions(dir, "ckpt").empty());
}

/// The file is still a committed version: there, and no quarantined copy beside it.
void check_not_quarantined(const std::string& dir, const std::string& path) {
    CHECK(fs::exists(path));
    CHECK_FALSE(fs::exists(path + ".bad"));
    const auto versions = ckpt::detail::committed_versions(dir, "ckpt");
    REQUIRE(versions.size() == 1);
    CHECK(versions.back().path == path);
}

/// The value stored at global index g of the distributed test sequences and arrays.
double value_at(std::uint64_t g) { return 1000.0 + 0.5 * static_cast<double>(g); }

/// Uneven lengths of the concatenated test vector: rank r holds 3r + 2 elements.
std::uint64_t length_of(int r) { return 3 * static_cast<std::uint64_t>(r) + 2; }
std::uint64_t start_of(int r) {
    std::uint64_t s = 0;
    for (int k = 0; k < r; ++k) s += length_of(k);
    return s;
}
std::vector<double> stretch(std::uint64_t offset, std::uint64_t count) {
    std::vector<double> v;
    for (std::uint64_t i = 0; i < count; ++i) v.push_back(value_at(offset + i));
    return v;
}

}  // namespace

// ---- replicated ------------------------------------------------------------------------------

TEST_CASE("a replicated entry that differs on one rank fails checkpoint() on every rank, naming it and the rank",
          "[mpi][distribution]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank(), size = world_size();
    const int odd_one = size - 1;
    double dt = 0.5;
    if (size > 1 && rank == odd_one) dt = 0.75;
    std::int64_t step = 3;
    bool threw = false;
    std::string path;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("step", step, ckpt::replicated()).protect("dt", dt, ckpt::replicated());
        try {
            path = cp.checkpoint();
        } catch (const ckpt::UsageError& e) {
            threw = true;
            CHECK(ckpt::exit_code(e) == 70);
            CHECK_THAT(e.what(), Contains("\"dt\"") && Contains("rank " + std::to_string(odd_one)) &&
                                     Contains("when_ranks_differ"));
            CHECK_THAT(e.what(), !Contains("\"step\""));
            CHECK(e.rank() == odd_one);
        }
    }
    if (size == 1) {  // nothing can differ: the path runs and writes
        CHECK_FALSE(threw);
        CHECK_FALSE(path.empty());
        return;
    }
    CHECK(threw);
    CHECK(on_every_rank(threw));
    check_no_version(dir.path());
}

TEST_CASE("with several ranks differing, the error names the first one that differs from rank 0",
          "[mpi][distribution]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank(), size = world_size();
    std::vector<int> table{1, 2, 3};
    if (rank >= 1) table.push_back(rank);  // another length, another value: every rank but 0 differs
    bool threw = false;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("table", table, ckpt::replicated());
        try {
            cp.checkpoint();
        } catch (const ckpt::UsageError& e) {
            threw = true;
            CHECK_THAT(e.what(), Contains("rank 1 holds a different value of the replicated entry \"table\""));
            CHECK(e.rank() == 1);
        }
    }
    CHECK(threw == (size > 1));
    CHECK(on_every_rank(threw == (size > 1)));
    if (size > 1) check_no_version(dir.path());
}

TEST_CASE("when_ranks_differ(Warn): the checkpoint is written, with a warning, and rank 0's value restores everywhere",
          "[mpi][distribution]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank(), size = world_size();
    double dt = rank == size - 1 && size > 1 ? 0.75 : 0.5;
    std::string path;
    {
        CerrCapture err;
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("dt", dt, ckpt::replicated().when_ranks_differ(ckpt::OnDisagreement::Warn));
        REQUIRE_NOTHROW(path = cp.checkpoint());
        REQUIRE_FALSE(path.empty());
        if (rank == 0 && size > 1)
            CHECK_THAT(err.text(), Contains("rank " + std::to_string(size - 1)) && Contains("\"dt\"") &&
                                       Contains("rank 0's value is stored"));
        if (size == 1) CHECK_THAT(err.text(), !Contains("\"dt\""));
    }
    {  // stored once
        ckpt::detail::h5::File f(path, MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
        CHECK(f.dims("/state/dt") == std::vector<hsize_t>{1});
        CHECK(f.dims("/layout/dt").at(0) == 1);
    }
    double back = -1;
    {
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
        cp.protect("dt", back, ckpt::replicated().when_ranks_differ(ckpt::OnDisagreement::Warn));
        REQUIRE(cp.restore_if_requested());
    }
    CHECK(back == 0.5);
    // Replicated state restores on another number of ranks too.
    Smaller sub;
    if (sub.member()) {
        double again = -1;
        ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), sub.comm());
        cp.protect("dt", again, ckpt::replicated());
        REQUIRE(cp.restore_if_requested());
        CHECK(again == 0.5);
        CHECK(cp.restored_ranks() == size);
    }
}

// ---- blocks at checkpoint() ------------------------------------------------------------------

TEST_CASE("blocks with a gap or an overlap fail checkpoint() on every rank, and nothing is written",
          "[mpi][distribution]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank(), size = world_size();
    const auto r = static_cast<std::uint64_t>(rank), n = static_cast<std::uint64_t>(size);
    std::vector<double> u(2, 1.0);

    // A gap: 2 elements per rank of a global array of 2 * size + 1.
    bool gap = false;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("u", ckpt::ArrayView<double>(u.data(), {2}), ckpt::block({2 * n + 1}, {2 * r}, {2}));
        try {
            cp.checkpoint();
        } catch (const ckpt::UsageError& e) {
            gap = true;
            CHECK_THAT(e.what(), Contains("\"u\"") && Contains("do not tile") &&
                                     Contains("cover " + std::to_string(2 * n) + " of the " + std::to_string(2 * n + 1)));
        }
    }
    CHECK(gap);
    CHECK(on_every_rank(gap));
    check_no_version(dir.path());

    // An overlap: rank r owns [r, r + 2) of size + 1 elements (which tiles at one rank).
    bool overlap = false;
    std::string path;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("u", ckpt::ArrayView<double>(u.data(), {2}), ckpt::block({n + 1}, {r}, {2}));
        try {
            path = cp.checkpoint();
        } catch (const ckpt::UsageError& e) {
            overlap = true;
            CHECK_THAT(e.what(), Contains("\"u\"") && Contains("overlap") && Contains("ranks 0"));
        }
    }
    if (size == 1) {
        CHECK_FALSE(overlap);
        CHECK_FALSE(path.empty());
        return;
    }
    CHECK(overlap);
    CHECK(on_every_rank(overlap));
    check_no_version(dir.path());
}

// ---- per-rank state on another rank count ----------------------------------------------------

TEST_CASE("per-rank state restored on fewer ranks is a MismatchError with a ckpt::replicated hint, not a quarantine",
          "[mpi][distribution]") {
    const int rank = world_rank(), size = world_size();
    if (size == 1) return;  // needs a smaller communicator
    TempDir dir(MPI_COMM_WORLD);
    std::int64_t step = 11;
    std::vector<double> x(3, rank + 0.5);
    std::string path;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("step", step, ckpt::replicated()).protect("x", x);
        path = cp.checkpoint();
    }
    Smaller sub;
    if (sub.member()) {
        const std::string written = std::to_string(size) + " ranks";
        std::vector<double> x2(3, -1.0);
        {  // an explicit selection
            std::int64_t step2 = 0;
            ckpt::Checkpointer cp(options_in(dir.path()), sub.comm());
            cp.protect("step", step2, ckpt::replicated()).protect("x", x2);
            try {
                cp.restore(sequence(1));
                FAIL("per-rank state restored on another rank count");
            } catch (const ckpt::MismatchError& e) {
                CHECK(ckpt::exit_code(e) == 65);
                CHECK_THAT(e.what(), Contains("\"x\"") && Contains("per-rank") && Contains("ckpt::replicated") &&
                                         Contains("redistribute") && Contains("mpiexec -n " + std::to_string(size)));
                CHECK(e.object() == "/state/x");
                CHECK_THAT(e.expected(), Contains(std::to_string(sub.size())));
                CHECK_THAT(e.found(), Contains(written));
            }
        }
        {  // --restart latest: skipped as incompatible, not quarantined
            CerrCapture err;
            std::int64_t step2 = 0;
            ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), sub.comm());
            cp.protect("step", step2, ckpt::replicated()).protect("x", x2);
            try {
                cp.restore_if_requested();
                FAIL("per-rank state restored on another rank count");
            } catch (const ckpt::MismatchError& e) {
                CHECK_THAT(e.what(), Contains("\"x\"") && Contains("ckpt::replicated") && Contains("no usable checkpoint"));
            }
            if (sub.rank() == 0) CHECK_THAT(err.text(), Contains("skipping " + path) && !Contains("quarantined"));
        }
        CHECK(x2 == std::vector<double>(3, -1.0));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    check_not_quarantined(dir.path(), path);
}

TEST_CASE("per-rank state with a redistribute() hook restores on fewer ranks from any stored part",
          "[mpi][distribution]") {
    const int rank = world_rank(), size = world_size();
    TempDir dir(MPI_COMM_WORLD);
    std::vector<int> tally{rank, 10 * rank};
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("tally", tally);
        cp.checkpoint();
    }
    Smaller sub;
    if (!sub.member()) return;
    // Each new rank takes over the stored parts k with k % m == its rank.
    std::vector<int> mine;
    int calls = 0, stored_ranks = 0;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), sub.comm());
    cp.protect("tally", mine, ckpt::per_rank().redistribute([&](ckpt::StoredParts& parts) {
        ++calls;
        stored_ranks = parts.ranks();
        mine.clear();
        for (int k = 0; k < parts.ranks(); ++k) {
            if (k % sub.size() != sub.rank()) continue;
            std::vector<int> old;
            parts.read(k, old);
            mine.insert(mine.end(), old.begin(), old.end());
        }
    }));
    REQUIRE(cp.restore_if_requested());
    std::vector<int> expected;
    for (int k = 0; k < size; ++k)
        if (k % sub.size() == sub.rank()) expected.insert(expected.end(), {k, 10 * k});
    if (sub.size() == size) {  // the same rank count: each rank reads its own part, no hook
        CHECK(calls == 0);
        CHECK(mine == tally);
    } else {
        CHECK(calls == 1);
        CHECK(stored_ranks == size);
        CHECK(mine == expected);
    }
}

// ---- concatenated on another rank count ------------------------------------------------------

TEST_CASE("a concatenated vector written at N ranks restores on N-1 ranks, evenly split or as split() says",
          "[mpi][distribution]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank(), size = world_size();
    std::vector<double> particles = stretch(start_of(rank), length_of(rank));
    std::int64_t step = 77;
    const std::uint64_t total = start_of(size);
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("step", step, ckpt::replicated()).protect("particles", particles, ckpt::concatenated());
        REQUIRE_FALSE(cp.checkpoint().empty());
    }
    {
        ckpt::detail::h5::File f(ckpt::detail::committed_versions(dir.path(), "ckpt").back().path, MPI_COMM_SELF,
                                 ckpt::detail::h5::Access::Read);
        CHECK(f.dims("/state/particles") == std::vector<hsize_t>{total});  // one global sequence
    }
    Smaller sub;
    if (sub.member()) {
        const int m = sub.size(), r = sub.rank();
        const auto mm = static_cast<std::uint64_t>(m), rr = static_cast<std::uint64_t>(r);
        {  // the default: an even split, the first total % m ranks taking one more
            std::vector<double> back{-1};
            std::int64_t step2 = 0;
            ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), sub.comm());
            cp.protect("step", step2, ckpt::replicated()).protect("particles", back, ckpt::concatenated());
            REQUIRE(cp.restore_if_requested());
            CHECK(step2 == 77);
            CHECK(cp.restored_ranks() == size);
            if (m == size) {  // the same rank count: each rank gets its own part back
                CHECK(back == particles);
            } else {
                const std::uint64_t count = total / mm + (rr < total % mm ? 1 : 0);
                std::uint64_t offset = 0;
                for (int k = 0; k < r; ++k) offset += total / mm + (static_cast<std::uint64_t>(k) < total % mm ? 1 : 0);
                CHECK(back == stretch(offset, count));
            }
        }
        {  // a custom split: rank 0 takes all but one element per other rank
            auto split = [](std::uint64_t n, int k, int s) -> std::uint64_t {
                return k == 0 ? n - static_cast<std::uint64_t>(s - 1) : 1;
            };
            std::vector<double> back;
            ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), sub.comm());
            cp.protect("particles", back, ckpt::concatenated().split(split));
            CerrCapture err;  // "step" is ignored, with a warning
            REQUIRE(cp.restore_if_requested());
            const std::uint64_t first = total - (mm - 1);
            CHECK(back == (r == 0 ? stretch(0, first) : stretch(first + rr - 1, 1)));
        }
        {  // a split that does not add up: a UsageError on every rank, not a skipped version
            std::vector<double> back{-1};
            ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), sub.comm());
            cp.protect("particles", back, ckpt::concatenated().split([](std::uint64_t n, int, int) { return n; }));
            CerrCapture err;
            if (m > 1) {
                CHECK_THROWS_AS(cp.restore_if_requested(), ckpt::UsageError);
                if (r == 0) CHECK_THAT(err.text(), !Contains("quarantined"));
            } else {
                REQUIRE(cp.restore_if_requested());
                CHECK(back == stretch(0, total));
            }
        }
    }
    // A split applies at the same rank count too: here every rank takes the length the rank
    // opposite it wrote.
    std::vector<double> back;
    ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("particles", back, ckpt::concatenated().split([](std::uint64_t, int k, int s) { return length_of(s - 1 - k); }));
    CerrCapture err;
    REQUIRE(cp.restore_if_requested());
    std::uint64_t offset = 0;
    for (int k = 0; k < rank; ++k) offset += length_of(size - 1 - k);
    CHECK(back == stretch(offset, length_of(size - 1 - rank)));
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(ckpt::detail::committed_versions(dir.path(), "ckpt").size() == 1);
}

// ---- blocks on another rank count -----------------------------------------------------------

TEST_CASE("a block written at N ranks restores on N-1 ranks as their new boxes; boxes that do not tile are a "
          "UsageError, not a quarantine",
          "[mpi][distribution]") {
    TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank(), size = world_size();
    const std::uint64_t global = 4 * static_cast<std::uint64_t>(size);
    // Rank r owns [4r, 4r + 4), in a view with one ghost element on each side.
    std::vector<double> u(6, -7.0);
    for (std::uint64_t i = 0; i < 4; ++i) u[1 + i] = value_at(4 * static_cast<std::uint64_t>(rank) + i);
    std::string path;
    {
        ckpt::Checkpointer cp(options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("u", ckpt::ArrayView<double>(u.data(), {6}),
                   ckpt::block({global}, {4 * static_cast<std::uint64_t>(rank)}, {4}).ghosts({1}));
        path = cp.checkpoint();
        REQUIRE_FALSE(path.empty());
    }
    Smaller sub;
    if (sub.member()) {
        const auto m = static_cast<std::uint64_t>(sub.size()), r = static_cast<std::uint64_t>(sub.rank());
        auto count_of = [&](std::uint64_t k) { return global / m + (k < global % m ? 1 : 0); };
        std::uint64_t offset = 0;
        for (std::uint64_t k = 0; k < r; ++k) offset += count_of(k);
        const std::uint64_t count = count_of(r);
        {  // a tiling of the new ranks
            std::vector<double> back(count + 2, 99.0);
            ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), sub.comm());
            cp.protect("u", ckpt::ArrayView<double>(back.data(), {count + 2}),
                       ckpt::block({global}, {offset}, {count}).ghosts({1}));
            REQUIRE(cp.restore_if_requested());
            CHECK(back.front() == 99.0);
            CHECK(back.back() == 99.0);
            CHECK(std::vector<double>(back.begin() + 1, back.end() - 1) == stretch(offset, count));
        }
        {  // the last new rank's box one element short: a gap
            const std::uint64_t short_count = r + 1 == m ? count - 1 : count;
            std::vector<double> back(count + 2, 99.0);
            CerrCapture err;
            bool threw = false;
            ckpt::Checkpointer cp(options_in(dir.path(), ckpt::RestartKind::Latest), sub.comm());
            cp.protect("u", ckpt::ArrayView<double>(back.data(), {count + 2}),
                       ckpt::block({global}, {offset}, {short_count}).ghosts({1}));
            try {
                cp.restore_if_requested();
            } catch (const ckpt::UsageError& e) {
                threw = true;
                CHECK_THAT(e.what(), Contains("\"u\"") && Contains("do not tile"));
            }
            CHECK(threw);
            CHECK(back == std::vector<double>(count + 2, 99.0));
            if (r == 0) CHECK_THAT(err.text(), !Contains("skipping") && !Contains("quarantined"));
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    check_not_quarantined(dir.path(), path);
}
