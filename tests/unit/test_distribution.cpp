// The arithmetic under restart on another rank count (docs/distribution.md): boxes and their
// tiling, the row runs of a box in a rank's memory, the position sum, and which element type
// changes convert without loss; and, end to end at one rank, an entry written per-rank (before
// it was declared a block) restored into a block's view.
#include "testing.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using ckpt::detail::Box;

TEST_CASE("boxes that tile an array pass; an overlap, a gap or a box outside is named", "[unit][distribution]") {
    using ckpt::detail::tiling_problem;
    const std::vector<std::uint64_t> global{4, 6};
    CHECK(tiling_problem({{{0, 0}, {2, 6}}, {{2, 0}, {2, 3}}, {{2, 3}, {2, 3}}}, global).empty());
    CHECK(tiling_problem({{{0, 0}, {0, 0}}, {{0, 0}, {4, 6}}}, global).empty());  // an empty box is fine
    CHECK(tiling_problem({{{0, 0}, {3, 6}}, {{2, 0}, {2, 6}}}, global) ==
          "the boxes of ranks 0 [0:3, 0:6] and 1 [2:4, 0:6] overlap");
    CHECK(tiling_problem({{{0, 0}, {2, 6}}, {{3, 0}, {1, 6}}}, global) ==
          "the ranks' boxes cover 18 of the 24 elements of the global array");
    CHECK(tiling_problem({{{0, 0}, {2, 6}}, {{2, 4}, {2, 3}}}, global) ==
          "rank 1's box [2:4, 4:7] lies outside the global shape");
    // Some ranks' parts (a node cache file holds one): a gap is fine, an overlap or a box outside is not.
    CHECK(tiling_problem({{{2, 0}, {2, 6}}}, global, false).empty());
    CHECK(tiling_problem({{{0, 0}, {3, 6}}, {{2, 0}, {1, 6}}}, global, false) ==
          "the boxes of ranks 0 [0:3, 0:6] and 1 [2:3, 0:6] overlap");
    CHECK(tiling_problem({{{3, 0}, {2, 6}}}, global, false) == "rank 0's box [3:5, 0:6] lies outside the global shape");
}

TEST_CASE("a box's rows in a rank's memory are visited in order, ghosts skipped", "[unit][distribution]") {
    // Memory 4 x 5 with one ghost layer; the region is the 2 x 3 interior at global (10, 20) of 50 x 40.
    std::vector<std::uint64_t> mem, glob, len;
    ckpt::detail::for_each_run({4, 5}, {1, 1}, Box{{10, 20}, {2, 3}}, {50, 40},
                               [&](std::uint64_t m, std::uint64_t g, std::uint64_t n) {
                                   mem.push_back(m), glob.push_back(g), len.push_back(n);
                               });
    CHECK(mem == std::vector<std::uint64_t>{6, 11});
    CHECK(glob == std::vector<std::uint64_t>{420, 460});
    CHECK(len == std::vector<std::uint64_t>{3, 3});
    std::size_t calls = 0;
    ckpt::detail::for_each_run({3}, {0}, Box{{0}, {0}}, {3}, [&](auto, auto, auto) { ++calls; });
    CHECK(calls == 0);
}

TEST_CASE("position sums add up over any split, and see any one changed element", "[unit][distribution]") {
    using ckpt::detail::position_sum;
    const std::vector<std::uint64_t> global{7, 9};
    std::vector<double> a(63);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = 0.5 * static_cast<double>(i * i) - 3.0;
    const std::uint64_t whole = position_sum(a.data(), 8, global, {0, 0}, Box{{0, 0}, {7, 9}}, global);
    // Two different tilings of the same array add up to the same sum.
    auto sum_of = [&](const std::vector<Box>& boxes) {
        std::uint64_t s = 0;
        for (const Box& b : boxes) s += position_sum(a.data(), 8, global, b.origin, b, global);
        return s;
    };
    CHECK(sum_of({{{0, 0}, {3, 9}}, {{3, 0}, {4, 9}}}) == whole);
    CHECK(sum_of({{{0, 0}, {7, 2}}, {{0, 2}, {5, 7}}, {{5, 2}, {2, 7}}}) == whole);
    // Moving a value to another index changes the sum; so does every single-bit flip.
    std::vector<double> swapped = a;
    std::swap(swapped[3], swapped[40]);
    CHECK(position_sum(swapped.data(), 8, global, {0, 0}, Box{{0, 0}, {7, 9}}, global) != whole);
    for (int bit = 0; bit < 64; ++bit) {
        std::vector<double> flipped = a;
        std::uint64_t v;
        std::memcpy(&v, &flipped[17], 8);
        v ^= std::uint64_t{1} << bit;
        std::memcpy(&flipped[17], &v, 8);
        CHECK(position_sum(flipped.data(), 8, global, {0, 0}, Box{{0, 0}, {7, 9}}, global) != whole);
    }
    // Elements of 2 and 16 bytes are summed whole, every byte counts.
    std::vector<std::int16_t> small{1, 2, 3};
    const std::uint64_t s16 = position_sum(small.data(), 2, {3}, {0}, Box{{0}, {3}}, {3});
    small[2] = static_cast<std::int16_t>(3 + 256);
    CHECK(position_sum(small.data(), 2, {3}, {0}, Box{{0}, {3}}, {3}) != s16);
    std::vector<double> pairs{1, 2, 3, 4};  // two 16-byte elements
    const std::uint64_t s128 = position_sum(pairs.data(), 16, {2}, {0}, Box{{0}, {2}}, {2});
    pairs[3] = -4;  // the second half of the second element
    CHECK(position_sum(pairs.data(), 16, {2}, {0}, Box{{0}, {2}}, {2}) != s128);
}

TEST_CASE("element types convert on restore only without loss", "[unit][distribution]") {
    using E = ckpt::detail::Element;
    using ckpt::detail::converts_losslessly;
    CHECK(converts_losslessly(E::Float32, E::Float64));
    CHECK(converts_losslessly(E::Int32, E::Int64));
    CHECK(converts_losslessly(E::UInt16, E::Int32));
    CHECK(converts_losslessly(E::Int16, E::Float32));
    CHECK(converts_losslessly(E::Int32, E::Float64));
    CHECK(converts_losslessly(E::Complex64, E::Complex128));
    CHECK_FALSE(converts_losslessly(E::Float64, E::Float32));
    CHECK_FALSE(converts_losslessly(E::Int64, E::Int32));
    CHECK_FALSE(converts_losslessly(E::Int32, E::UInt64));  // a negative value has no unsigned form
    CHECK_FALSE(converts_losslessly(E::UInt32, E::Int32));
    CHECK_FALSE(converts_losslessly(E::Int32, E::Float32));  // 24-bit mantissa
    CHECK_FALSE(converts_losslessly(E::Int64, E::Float64));
    CHECK_FALSE(converts_losslessly(E::Float64, E::Int64));
    CHECK_FALSE(converts_losslessly(E::Bool, E::Int8));
}

TEST_CASE("an entry written per-rank restores into a block's view with ghost layers", "[unit][distribution]") {
    ckpt::testing::TempDir dir;
    std::vector<double> interior(12);
    for (std::size_t i = 0; i < interior.size(); ++i) interior[i] = 1.5 * static_cast<double>(i);
    {
        ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path()), MPI_COMM_SELF);
        cp.protect("grid", ckpt::ArrayView<double>(interior.data(), {3, 4}));  // before: undeclared, no ghosts
        cp.checkpoint();
    }
    std::vector<double> view(5 * 6, -1.0);  // now: one ghost layer around a 3 x 4 block
    ckpt::Checkpointer cp(ckpt::testing::options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_SELF);
    cp.protect("grid", ckpt::ArrayView<double>(view.data(), {5, 6}), ckpt::block({3, 4}, {0, 0}, {3, 4}).ghosts({1, 1}));
    REQUIRE(cp.restore_if_requested());
    for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 6; ++j) {
            const bool inside = i >= 1 && i <= 3 && j >= 1 && j <= 4;
            CHECK(view[static_cast<std::size_t>(i * 6 + j)] == (inside ? interior[static_cast<std::size_t>((i - 1) * 4 + j - 1)] : -1.0));
        }
    // A checkpoint now stores the global array; the next restore reads it back the same.
    cp.checkpoint();
    std::vector<double> again(5 * 6, -1.0);
    ckpt::Checkpointer cp2(ckpt::testing::options_in(dir.path(), ckpt::RestartKind::Latest), MPI_COMM_SELF);
    cp2.protect("grid", ckpt::ArrayView<double>(again.data(), {5, 6}), ckpt::block({3, 4}, {0, 0}, {3, 4}).ghosts({1, 1}));
    REQUIRE(cp2.restore_if_requested());
    CHECK(again == view);
}
