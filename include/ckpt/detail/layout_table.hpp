#pragma once
/// The layout table of a leaf, `/layout/<entry>` (docs/file-format.md): a uint64 table with one
/// row per rank, `offset, count, xxh64, extents...`, saying where in the leaf's dataset each
/// rank's part lies, its shape, and its checksum. The one place that knows the row format: the
/// writer builds rows with it, and the restore and `ckpt info/verify` read and check them with it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

/// Columns of a layout row before the extents.
enum LayoutColumn : std::size_t { Offset = 0, Count = 1, Checksum = 2, FirstExtent = 3 };
/// The table's `ckpt.columns` attribute.
inline const char* layout_columns() { return "offset,count,xxh64,extents..."; }

/// "/state/a/b" -> "a/b", for messages and the table's name.
inline std::string entry_name(const std::string& path) {
    return path.rfind("/state/", 0) == 0 ? path.substr(7) : path;
}
/// The layout table of the leaf `/state/<entry>`.
inline std::string layout_path(const std::string& state_path) { return "/layout/" + entry_name(state_path); }

/// One rank's row.
struct Part {
    std::uint64_t offset = 0, count = 0, checksum = 0;
    std::vector<std::uint64_t> extents;

    /// Values per row for a leaf of `ndims` dimensions.
    static std::size_t width(std::size_t ndims) { return FirstExtent + ndims; }

    /// Appends this row, as stored, to `out`.
    void append_to(std::vector<std::uint64_t>& out) const {
        out.push_back(offset);
        out.push_back(count);
        out.push_back(checksum);
        out.insert(out.end(), extents.begin(), extents.end());
    }

    /// A row as stored: `width` values (at least FirstExtent, which the caller checked).
    static Part from_row(const std::uint64_t* row, std::size_t width) {
        Part p;
        p.offset = row[Offset];
        p.count = row[Count];
        p.checksum = row[Checksum];
        p.extents.assign(row + FirstExtent, row + width);
        return p;
    }

    /// What is wrong with this row on its own, for a dataset of `elements` elements ("" if
    /// nothing): its extents must give its count, and its part must lie inside the dataset.
    std::string problem(std::uint64_t elements) const {
        std::uint64_t product = 1;
        for (auto e : extents) product *= e;
        if (product != count)
            return "extents give " + std::to_string(product) + " elements, count is " + std::to_string(count);
        if (offset > elements || count > elements - offset)
            return "part [" + std::to_string(offset) + ", +" + std::to_string(count) + ") lies outside the " +
                   std::to_string(elements) + " elements of the dataset";
        return {};
    }
};

}  // namespace ckpt::detail
