#pragma once
/// What a codec produces when saving: a list of nodes. A node is a group (custom codec) or a
/// leaf: a typed block (direct) or a byte blob (Boost). The reading side is load_source.hpp.
/// Only the library's own code includes this header (Writer only names SaveNode).

#include "ckpt/compression.hpp"
#include "ckpt/detail/element.hpp"
#include "ckpt/detail/layout_table.hpp"
#include "ckpt/detail/load_source.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ckpt::detail {

struct SaveNode {
    std::string path;                     ///< absolute HDF5 path, e.g. "/state/mesh/coords"
    std::string codec;                    ///< "direct", "boost.binary" or "custom" (a group)
    std::string type_name;                ///< the C++ type, for people and mismatch messages
    Element element = Element::UInt8;
    const void* data = nullptr;           ///< the application's memory, or `owned`
    std::uint64_t count = 0;              ///< elements this rank contributes
    std::vector<std::uint64_t> extents;   ///< this rank's shape (empty: scalar)
    std::vector<unsigned char> owned;     ///< serialized bytes of a blob
    std::shared_ptr<const void> keep_alive;  ///< a value handed to Writer::write as an rvalue
    // The entry's declared distribution (detail/spread.hpp sets it). A block leaf's `extents`
    // are its memory view; it contributes the box at `interior` of the view, `count` elements.
    Spread spread = Spread::PerRank;
    std::vector<std::uint64_t> global;    ///< block: the global array's shape
    Box box;                              ///< block: this rank's box in the global array
    std::vector<std::uint64_t> interior;  ///< block: where the box starts in the memory view
    bool warn_if_ranks_differ = false;    ///< replicated: warn instead of failing
    /// How the leaf is stored: its entry's declaration, else (write_version) the job's default,
    /// which covers only leaves of compress_min_bytes or more (docs/compression.md).
    Compression compression;
    bool compression_declared = false;
    bool is_group() const { return codec == "custom"; }
};

}  // namespace ckpt::detail
