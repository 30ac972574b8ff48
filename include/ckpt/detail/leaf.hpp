#pragma once
/// What a codec produces when saving: a list of nodes. A node is a group (custom codec) or a
/// leaf: a typed block (direct) or a byte blob (Boost). The reading side is load_source.hpp.
/// Only the library's own code includes this header (Writer only names SaveNode).

#include "ckpt/detail/element.hpp"
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
    bool is_group() const { return codec == "custom"; }
};

}  // namespace ckpt::detail
