// The layout table's row format (include/ckpt/detail/layout_table.hpp): the one place that
// writes, reads and checks a row, for the writer, the restore and `ckpt info/verify`.
#include "testing.hpp"

#include <cstdint>
#include <vector>

using ckpt::detail::Part;

TEST_CASE("a layout row is written and read back as the same part", "[unit][layout]") {
    const Part written{40, 12, 0xfeedfacecafebeefULL, {3, 4}};
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
    CHECK(Part{0, 1, 0, {}}.problem(1).empty());  // a scalar: no extents, one element
}

TEST_CASE("a layout row whose extents or place do not fit is named", "[unit][layout]") {
    CHECK(Part{0, 12, 0, {3, 5}}.problem(100) == "extents give 15 elements, count is 12");
    CHECK(Part{90, 12, 0, {12}}.problem(100) == "part [90, +12) lies outside the 100 elements of the dataset");
    CHECK(Part{~std::uint64_t{0}, 2, 0, {2}}.problem(100) != "");  // no overflow past the end
    CHECK(Part{100, 0, 0, {0}}.problem(100).empty());             // an empty part at the end
}
