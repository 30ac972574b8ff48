// The layout table's row format (include/ckpt/detail/layout_table.hpp): the one place that
// writes, reads and checks a row, for the writer, the restore and `ckpt info/verify`.
#include "testing.hpp"

#include <cstdint>
#include <vector>

using ckpt::detail::Part;

TEST_CASE("a layout row is written and read back as the same part", "[unit][layout]") {
    const Part written{40, 12, 0xfeedfacecafebeefULL, {3, 4}, {}};
    std::vector<std::uint64_t> rows{7};  // rows of several leaves go back to back
    written.append_to(rows);
    REQUIRE(rows.size() == 1 + Part::width(2));
    CHECK(rows[1 + ckpt::detail::Offset] == 40);
    CHECK(rows[1 + ckpt::detail::Count] == 12);
    CHECK(rows[1 + ckpt::detail::Checksum] == 0xfeedfacecafebeefULL);
    const Part read = Part::from_row(rows.data() + 1, Part::width(2));
    CHECK(read.offset == 40);
    CHECK(read.count == 12);
    CHECK(read.checksum == written.checksum);
    CHECK(read.extents == std::vector<std::uint64_t>{3, 4});
    CHECK(read.problem(52).empty());
    CHECK(Part{0, 1, 0, {}, {}}.problem(1).empty());  // a scalar: no extents, one element
}

TEST_CASE("a layout row whose extents or place do not fit is named", "[unit][layout]") {
    CHECK(Part{0, 12, 0, {3, 5}, {}}.problem(100) == "extents give 15 elements, count is 12");
    CHECK(Part{90, 12, 0, {12}, {}}.problem(100) == "part [90, +12) lies outside the 100 elements of the dataset");
    CHECK(Part{~std::uint64_t{0}, 2, 0, {2}, {}}.problem(100) != "");  // no overflow past the end
    CHECK(Part{100, 0, 0, {0}, {}}.problem(100).empty());             // an empty part at the end
}

TEST_CASE("a block leaf's row carries its box's origin, and a box outside the array is named", "[unit][layout]") {
    using ckpt::detail::Spread;
    // A 3 x 4 box at (2, 5) of a 10 x 20 array: its first element is the row-major index 45.
    const Part written{45, 12, 99, {3, 4}, {2, 5}};
    std::vector<std::uint64_t> row;
    written.append_to(row);
    REQUIRE(row.size() == Part::width(2, Spread::Block));
    const Part read = Part::from_row(row.data(), row.size(), Spread::Block);
    CHECK(read.extents == std::vector<std::uint64_t>{3, 4});
    CHECK(read.origin == std::vector<std::uint64_t>{2, 5});
    CHECK(read.block_problem({10, 20}).empty());
    CHECK(read.block_problem({4, 20}) == "box [2:5, 5:9] lies outside the dataset's shape");
    CHECK(Part{44, 12, 0, {3, 4}, {2, 5}}.block_problem({10, 20}) == "offset is not the box's first element");
    CHECK(Part{45, 11, 0, {3, 4}, {2, 5}}.block_problem({10, 20}) == "extents give 12 elements, count is 11");
    CHECK(std::string(ckpt::detail::layout_columns(Spread::Block)) == "offset,count,position-sum,extents...,origin...");
}
