// Collective behaviour at 1, 2 and 4 ranks: every rank's own part comes back, failures on one
// rank become the same error on all ranks, and the poll decision is agreed.
#include "testing.hpp"

#include "ckpt/detail/mpi/agree.hpp"

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <string>
#include <vector>

using ckpt::testing::world_rank;
using ckpt::testing::world_size;

namespace {
struct Params {
    std::string label;
    std::vector<int> ids;
    template <class Ar>
    void serialize(Ar& ar, unsigned) {
        ar & label & ids;
    }
};
}  // namespace

TEST_CASE("every rank restores its own part, with uneven sizes", "[mpi][restore]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank();
    std::vector<double> u(static_cast<std::size_t>(100 + 37 * rank));
    for (std::size_t i = 0; i < u.size(); ++i) u[i] = rank * 1000.0 + static_cast<double>(i);
    std::int64_t step = 17;
    Params p{"rank " + std::to_string(rank), std::vector<int>(static_cast<std::size_t>(rank), rank)};
    {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("u", u).protect("step", step).protect("params", p);
        REQUIRE(!cp.checkpoint().empty());
    }
    std::vector<double> u2;
    std::int64_t step2 = 0;
    Params p2;
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("u", u2).protect("step", step2).protect("params", p2);
    REQUIRE(cp.restore_if_requested());
    REQUIRE(u2 == u);
    REQUIRE(step2 == 17);
    REQUIRE(p2.label == p.label);
    REQUIRE(p2.ids == p.ids);

    // One dataset holds all ranks' parts; the layout table has a row per rank.
    ckpt::detail::h5::File f(cp.last_path(), MPI_COMM_SELF, ckpt::detail::h5::Access::Read);
    std::uint64_t total = 0;
    for (int r = 0; r < world_size(); ++r) total += 100 + 37 * static_cast<std::uint64_t>(r);
    REQUIRE(f.dims("/state/u") == std::vector<hsize_t>{total});
    REQUIRE(f.dims("/layout/u") == std::vector<hsize_t>{static_cast<hsize_t>(world_size()), 4});
    REQUIRE(f.read_int_attribute("/", "ckpt.ranks") == world_size());
}

TEST_CASE("entries small and large, gathered to rank 0 or written rank by rank, round-trip", "[mpi][restore]") {
    // Up to 4 MiB in all, an entry is gathered to rank 0 and written by it; above, every rank
    // writes its own part. The checksums are hashed on a helper thread meanwhile.
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank();
    auto values = [rank](std::size_t n, double scale) {
        std::vector<double> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = scale * rank + static_cast<double>(i % 9973);
        return v;
    };
    const std::size_t large_part = (std::size_t{5} << 20) / sizeof(double) + 1000 * static_cast<std::size_t>(rank);
    std::vector<double> small = values(10 + static_cast<std::size_t>(rank), 3.0);
    std::vector<double> large = values(large_part, 7.0);
    std::vector<double> empty;
    {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("small", small).protect("large", large).protect("empty", empty);
        REQUIRE(!cp.checkpoint().empty());
    }
    std::vector<double> small2, large2, empty2(3, 1.0);
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    cp.protect("small", small2).protect("large", large2).protect("empty", empty2);
    REQUIRE(cp.restore_if_requested());  // verifies every part's checksum
    REQUIRE(small2 == small);
    REQUIRE(large2 == large);
    REQUIRE(empty2.empty());
}

TEST_CASE("small entries beyond one gather's 16 MiB travel in several gathers and round-trip", "[mpi][restore]") {
    // Eight gathered entries of about 3 MiB each in all (uneven per rank), with a large one
    // written rank by rank and an empty one between them: at least two gathers, each of which
    // rank 0 must split back into its entries in rank order.
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank();
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    constexpr std::size_t entries = 8;
    std::vector<std::vector<std::int32_t>> small(entries);
    for (std::size_t e = 0; e < entries; ++e) {
        const std::size_t n = (std::size_t{3} << 20) / sizeof(std::int32_t) / static_cast<std::size_t>(size) +
                              7 * static_cast<std::size_t>(rank) + e;
        small[e].resize(n);
        for (std::size_t i = 0; i < n; ++i) small[e][i] = static_cast<std::int32_t>(1000003 * e + 10007 * rank + i);
    }
    std::vector<double> large((std::size_t{5} << 20) / sizeof(double), 2.5 + rank);
    std::vector<double> empty;
    auto protect = [&](ckpt::Checkpointer& cp, std::vector<std::vector<std::int32_t>>& s, std::vector<double>& l,
                       std::vector<double>& z) {
        for (std::size_t e = 0; e < entries; ++e) {
            cp.protect("small" + std::to_string(e), s[e]);
            if (e == 3) cp.protect("large", l).protect("empty", z);
        }
    };
    {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
        protect(cp, small, large, empty);
        REQUIRE(!cp.checkpoint().empty());
    }
    std::vector<std::vector<std::int32_t>> small2(entries);
    std::vector<double> large2, empty2(2, 1.0);
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_WORLD);
    protect(cp, small2, large2, empty2);
    REQUIRE(cp.restore_if_requested());  // every part's checksum verified
    for (std::size_t e = 0; e < entries; ++e) REQUIRE(small2[e] == small[e]);
    REQUIRE(large2 == large);
    REQUIRE(empty2.empty());
}

TEST_CASE("a shape mismatch on one rank throws the same MismatchError on every rank", "[mpi][errors]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank(), size = world_size();
    std::vector<float> data(8, 1.0f);
    {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("grid", ckpt::ArrayView<float>(data.data(), {2, 4}));
        cp.checkpoint();
    }
    // The last rank asks for a different shape; everyone else matches.
    const bool odd_one = rank == size - 1;
    std::vector<float> back(8);
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("grid", ckpt::ArrayView<float>(back.data(), odd_one ? std::vector<std::size_t>{4, 2}
                                                                   : std::vector<std::size_t>{2, 4}));
    ckpt::RestartSpec spec;
    spec.kind = ckpt::RestartKind::Sequence;
    spec.sequence = 1;
    try {
        cp.restore(spec);
        FAIL("restore should have thrown");
    } catch (const ckpt::MismatchError& e) {
        const std::string what = e.what();
        CHECK(e.rank() == size - 1);
        CHECK_THAT(what, Catch::Contains("\"grid\"") && Catch::Contains("shape"));
        CHECK_THAT(what, Catch::Contains("float32[4][2]") && Catch::Contains("float32[2][4]"));
        if (size > 1)
            CHECK_THAT(what, Catch::Contains("failed on 1 of " + std::to_string(size) + " ranks; first: rank " +
                                             std::to_string(size - 1)));
    }
}

TEST_CASE("ranks that protect different state get a UsageError on every rank, and no file", "[mpi][errors]") {
    if (world_size() == 1) return;  // needs two ranks to differ
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    double a = 1, b = 2;
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("a", a);
    if (world_rank() == 1) cp.protect("b", b);
    REQUIRE_THROWS_AS(cp.checkpoint(), ckpt::UsageError);
    MPI_Barrier(MPI_COMM_WORLD);
    REQUIRE(ckpt::detail::list_versions(dir.path(), "ckpt").empty());
}

TEST_CASE("restoring with a different rank count is a MismatchError naming both counts", "[mpi][errors]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    const int size = world_size();
    // Write from a one-rank sub-communicator, then restore on the whole world.
    if (size == 1) return;
    MPI_Comm solo;
    MPI_Comm_split(MPI_COMM_WORLD, world_rank() == 0 ? 0 : MPI_UNDEFINED, 0, &solo);
    double x = 3;
    if (solo != MPI_COMM_NULL) {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), solo);
        cp.protect("x", x);
        cp.checkpoint();
        MPI_Comm_free(&solo);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
    cp.protect("x", x);
    ckpt::RestartSpec spec;
    spec.kind = ckpt::RestartKind::Sequence;
    spec.sequence = 1;
    REQUIRE_THROWS_AS(cp.restore(spec), ckpt::MismatchError);
    REQUIRE_THROWS_WITH(cp.restore(spec), Catch::Contains("cannot restore \"x\" on " + std::to_string(size) +
                                                          " ranks: it is per-rank state written by 1 rank") &&
                                              Catch::Contains("ckpt::replicated()") && Catch::Contains("mpiexec -n 1"));
}

TEST_CASE("independent checkpointers on split communicators work side by side", "[mpi]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    const int rank = world_rank();
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    std::vector<int> v(5, rank);
    {
        auto o = ckpt::testing::options_in(dir.path());
        o.name = "group" + std::to_string(rank % 2);
        ckpt::Checkpointer cp(o, half);
        ckpt::Checkpointer world(ckpt::testing::options_in(dir.path()), MPI_COMM_WORLD);
        cp.protect("v", v);
        world.protect("v", v);
        cp.checkpoint();
        world.checkpoint();
    }
    std::vector<int> back;
    auto o = ckpt::testing::options_in(dir.path(), ckpt::RestartKind::Latest);
    o.name = "group" + std::to_string(rank % 2);
    ckpt::Checkpointer cp(o, half);
    cp.protect("v", back);
    REQUIRE(cp.restore_if_requested());
    REQUIRE(back == v);
    MPI_Comm_free(&half);
}

TEST_CASE("all ranks agree on an interval checkpoint at the same poll", "[mpi][poll]") {
    ckpt::testing::TempDir dir(MPI_COMM_WORLD);
    auto o = ckpt::testing::options_in(dir.path(), ckpt::RestartKind::None, 0);
    o.mode.periodic = true;
    o.interval = std::chrono::duration<double>(0.02);
    std::int64_t step = 0;
    ckpt::Checkpointer cp(o, MPI_COMM_WORLD);
    cp.protect("step", step);
    std::vector<std::int64_t> mine;
    while (step < 300) {
        ++step;
        if (cp.poll(step)) mine.push_back(step);
        if (world_rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // rank 0 is slow
    }
    // Every rank checkpointed at exactly the same steps (else the collective writes would hang).
    int n = static_cast<int>(mine.size());
    int lo = n, hi = n;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    REQUIRE(lo == hi);
    REQUIRE(n >= 1);
    std::vector<std::int64_t> first(mine.begin(), mine.end());
    MPI_Bcast(first.data(), n, MPI_INT64_T, 0, MPI_COMM_WORLD);
    REQUIRE(first == mine);
    cp.sync();  // asynchronous checkpoints (CKPT_TEST_ASYNC): the last one is committed here
    auto versions = ckpt::detail::committed_versions(dir.path(), "ckpt");
    std::string files;
    for (auto& v : versions) files += v.path + " ";
    INFO("steps checkpointed: " << n << "; files: " << files);
    REQUIRE(versions.size() == static_cast<std::size_t>(n));
}

// The one-round agreements (detail/mpi/agree.hpp): each carries its data in the round that agrees,
// and falls back to a second round when the data does not fit; a failure anywhere is the first
// failing rank's error everywhere.
TEST_CASE("agree_and_sum sums every rank's values in the agreement, in one round or two", "[mpi][agree]") {
    ckpt::detail::mpi::Comm comm(MPI_COMM_WORLD);
    const int rank = comm.rank(), size = comm.size();
    for (const std::size_t n : {std::size_t{0}, std::size_t{3}, std::size_t{254}, std::size_t{255}, std::size_t{1000}}) {
        INFO(n << " values");
        std::vector<std::uint64_t> sums(n);
        for (std::size_t i = 0; i < n; ++i) sums[i] = (i + 1) * 1000 + static_cast<std::uint64_t>(rank);
        ckpt::detail::mpi::Outcome ok;
        ckpt::detail::mpi::agree_and_sum(comm, ok, sums);
        const std::uint64_t ranks = static_cast<std::uint64_t>(size), rank_sum = ranks * (ranks - 1) / 2;
        for (std::size_t i = 0; i < n; ++i) REQUIRE(sums[i] == (i + 1) * 1000 * ranks + rank_sum);
    }
    // The last rank fails, with fewer values than the others hold: every rank throws its error.
    ckpt::detail::mpi::Outcome local;
    std::vector<std::uint64_t> sums(rank == size - 1 ? 1 : 300, 7);
    if (rank == size - 1) local.fail(ckpt::IoError({"disk on fire", "/the/file", "", -1, ""}));
    try {
        ckpt::detail::mpi::agree_and_sum(comm, local, sums);
        FAIL("a failure on one rank went unnoticed");
    } catch (const ckpt::IoError& e) {
        CHECK_THAT(e.what(), Catch::Contains("disk on fire"));
        CHECK(e.info().file == "/the/file");
        CHECK(e.rank() == size - 1);
    }
}

TEST_CASE("root_decides gives every rank rank 0's payload or rank 0's error", "[mpi][agree]") {
    ckpt::detail::mpi::Comm comm(MPI_COMM_WORLD);
    // Small and large payloads, any bytes in them (one broadcast, then two).
    for (const std::size_t n : {std::size_t{0}, std::size_t{10}, std::size_t{4096}, std::size_t{4097}, std::size_t{100000}}) {
        INFO(n << " bytes");
        std::string expected(n, '\0');
        for (std::size_t i = 0; i < n; ++i) expected[i] = static_cast<char>(i * 7 + 1);
        std::string payload = comm.rank() == 0 ? expected : std::string("ignored");
        ckpt::detail::mpi::Outcome ok;
        ckpt::detail::mpi::root_decides(comm, ok, payload);
        REQUIRE(payload == expected);
    }
    const std::vector<std::string> strings{"a", "", std::string("new\nline\0zero", 14), std::string(5000, 'x')};
    std::string wired = comm.rank() == 0 ? ckpt::detail::mpi::wire::strings(strings) : std::string();
    ckpt::detail::mpi::Outcome ok;
    ckpt::detail::mpi::root_decides(comm, ok, wired);
    CHECK(ckpt::detail::mpi::wire::strings(wired) == strings);

    ckpt::detail::mpi::Outcome local;
    if (comm.rank() == 0) local.fail(ckpt::UsageError({"the lock is held", "/dir/.ckpt/lock", "", -1, "wait"}));
    std::string payload;
    try {
        ckpt::detail::mpi::root_decides(comm, local, payload);
        FAIL("rank 0's failure went unnoticed");
    } catch (const ckpt::UsageError& e) {
        CHECK_THAT(e.what(), Catch::Contains("the lock is held"));
        CHECK(e.info().hint == "wait");
        CHECK(e.rank() == 0);
    }
}

TEST_CASE("agree_and_gather gives every rank every rank's words, in one round or two", "[mpi][agree]") {
    ckpt::detail::mpi::Comm comm(MPI_COMM_WORLD);
    const int rank = comm.rank(), size = comm.size();
    // Rank r sends r * step words: all fit inline, or some rank needs the second round.
    for (const std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{20}}) {
        INFO(step << " words per rank number");
        std::vector<std::uint64_t> mine(static_cast<std::size_t>(rank) * step);
        for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = static_cast<std::uint64_t>(rank) * 100 + i;
        ckpt::detail::mpi::Outcome ok;
        const auto rows = ckpt::detail::mpi::agree_and_gather(comm, ok, mine);
        REQUIRE(rows.size() == static_cast<std::size_t>(size));
        for (int r = 0; r < size; ++r) {
            REQUIRE(rows[static_cast<std::size_t>(r)].size() == static_cast<std::size_t>(r) * step);
            for (std::size_t i = 0; i < rows[static_cast<std::size_t>(r)].size(); ++i)
                REQUIRE(rows[static_cast<std::size_t>(r)][i] == static_cast<std::uint64_t>(r) * 100 + i);
        }
    }
    if (size == 1) return;
    // Ranks 1 and the last fail; rank 1's error is everyone's, counted twice at 4 ranks.
    ckpt::detail::mpi::Outcome local;
    if (rank == 1 || rank == size - 1)
        local.fail(ckpt::FormatError({"bad rank " + std::to_string(rank), "", "", -1, ""}));
    try {
        ckpt::detail::mpi::agree_and_gather(comm, local, std::vector<std::uint64_t>(40, 1));
        FAIL("a failure went unnoticed");
    } catch (const ckpt::FormatError& e) {
        CHECK_THAT(e.what(), Catch::Contains("bad rank 1") &&
                                 Catch::Contains("failed on " + std::to_string(size > 2 ? 2 : 1) + " of " +
                                                 std::to_string(size) + " ranks; first: rank 1"));
    }
}
