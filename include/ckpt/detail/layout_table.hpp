#pragma once
/// The layout table of a leaf, `/layout/<entry>` (docs/file-format.md): a uint64 table with one
/// row per rank, `offset, count, checksum, extents...`, saying where in the leaf's dataset each
/// rank's part lies, its shape, and its checksum; a block-distributed leaf's rows add the box's
/// `origin...` in the global array, and a replicated leaf's table has rank 0's row only. The one
/// place that knows the row format: the writer builds rows with it, and the restore and
/// `ckpt info/verify` read and check them with it.

#include "ckpt/detail/box.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

/// Columns of a layout row before the extents.
enum LayoutColumn : std::size_t { Offset = 0, Count = 1, Checksum = 2, FirstExtent = 3 };

/// How a leaf is spread over the ranks (the `ckpt.distribution` attribute of its dataset; a
/// format-1 or -2 file has none: per-rank). The checksum column is the xxh64 of the part's bytes,
/// except for block and concatenated leaves: their position sum (detail/position_sum.hpp).
enum class Spread { PerRank, Replicated, Block, Concatenated };
inline const char* spread_name(Spread s) {
    switch (s) {
        case Spread::PerRank: return "per-rank";
        case Spread::Replicated: return "replicated";
        case Spread::Block: return "block";
        case Spread::Concatenated: return "concatenated";
    }
    return "?";
}
/// The spread named `name`; false if it names none.
inline bool parse_spread(const std::string& name, Spread& out) {
    for (Spread s : {Spread::PerRank, Spread::Replicated, Spread::Block, Spread::Concatenated})
        if (name == spread_name(s)) return out = s, true;
    return false;
}
inline bool has_position_sum(Spread s) { return s == Spread::Block || s == Spread::Concatenated; }

/// The table's `ckpt.columns` attribute.
inline const char* layout_columns(Spread s = Spread::PerRank) {
    switch (s) {
        case Spread::Block: return "offset,count,position-sum,extents...,origin...";
        case Spread::Concatenated: return "offset,count,position-sum,extents...";
        default: return "offset,count,xxh64,extents...";
    }
}

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
    std::vector<std::uint64_t> origin;  ///< block leaves only: the box's first index per dimension

    /// Values per row for a leaf of `ndims` dimensions.
    static std::size_t width(std::size_t ndims, Spread s = Spread::PerRank) {
        return FirstExtent + (s == Spread::Block ? 2 : 1) * ndims;
    }

    /// Appends this row, as stored, to `out`.
    void append_to(std::vector<std::uint64_t>& out) const {
        out.push_back(offset);
        out.push_back(count);
        out.push_back(checksum);
        out.insert(out.end(), extents.begin(), extents.end());
        out.insert(out.end(), origin.begin(), origin.end());
    }

    /// A row as stored: `width` values (at least FirstExtent, which the caller checked). A block
    /// leaf's row splits its extents and origin evenly.
    static Part from_row(const std::uint64_t* row, std::size_t width, Spread s = Spread::PerRank) {
        Part p;
        p.offset = row[Offset];
        p.count = row[Count];
        p.checksum = row[Checksum];
        const std::size_t dims = s == Spread::Block ? (width - FirstExtent) / 2 : width - FirstExtent;
        p.extents.assign(row + FirstExtent, row + FirstExtent + dims);
        if (s == Spread::Block) p.origin.assign(row + FirstExtent + dims, row + FirstExtent + 2 * dims);
        return p;
    }

    /// A block leaf's part as a box of the global array.
    Box box() const { return {origin, extents}; }

    /// What is wrong with a block leaf's row for a dataset of shape `global` ("" if nothing).
    std::string block_problem(const std::vector<std::uint64_t>& global) const {
        if (origin.size() != global.size() || extents.size() != global.size())
            return "has " + std::to_string(extents.size()) + " dimensions, the dataset " + std::to_string(global.size());
        std::uint64_t product = 1;
        for (auto e : extents) product *= e;
        if (product != count)
            return "extents give " + std::to_string(product) + " elements, count is " + std::to_string(count);
        for (std::size_t d = 0; d < global.size(); ++d)
            if (origin[d] > global[d] || extents[d] > global[d] - origin[d])
                return "box " + box().text() + " lies outside the dataset's shape";
        if (count > 0 && offset != linear_index(origin, global)) return "offset is not the box's first element";
        return {};
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
