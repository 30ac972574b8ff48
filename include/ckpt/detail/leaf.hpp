#pragma once
/// What a codec produces when saving (a list of nodes) and consumes when loading (a source).
/// A node is a group (custom codec) or a leaf: a typed block (direct) or a byte blob (Boost).

#include "ckpt/detail/element.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
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

/// Called with the stored extents of this rank's part; returns where to read the elements to,
/// or nullptr after filling `expected` with what the application has (a mismatch). A reference to
/// a callable, valid for the call it is passed to (no <functional>: public headers stay light).
class Prepare {
public:
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Prepare>>>
    Prepare(const F& f) noexcept  // NOLINT(google-explicit-constructor): a lambda converts, as to std::function
        : callable_(&f), call_([](const void* c, const std::vector<std::uint64_t>& extents, std::string& expected) {
              return (*static_cast<const F*>(c))(extents, expected);
          }) {}
    void* operator()(const std::vector<std::uint64_t>& extents, std::string& expected) const {
        return call_(callable_, extents, expected);
    }

private:
    const void* callable_;
    void* (*call_)(const void*, const std::vector<std::uint64_t>&, std::string&);
};

/// The reading side, implemented over an open checkpoint file.
class LoadSource {
public:
    virtual ~LoadSource() = default;
    virtual void read_direct(const std::string& path, Element element, const std::string& type_name,
                             const Prepare& prepare) = 0;
    virtual std::vector<unsigned char> read_blob(const std::string& path, const std::string& codec,
                                                 const std::string& type_name) = 0;
    virtual void open_group(const std::string& path, const std::string& type_name) = 0;
};

}  // namespace ckpt::detail
