#pragma once
/// The reading side of a codec: what load_entry() asks of an open checkpoint. Light on purpose
/// (public headers include it): the implementation is detail::FileSource, in store.hpp.

#include "ckpt/detail/element.hpp"

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace ckpt::detail {

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
    /// Reads stored rank `k`'s parts from now on (a redistribute() hook's StoredParts::read);
    /// returns the rank read before. Throws UsageError naming `entry` if k is not a stored rank.
    virtual int use_part(const std::string& entry, int k, int ranks) = 0;
};

/// Reads stored rank k's parts for as long as it lives, then the previous rank's again.
class PartScope {
public:
    PartScope(LoadSource& source, const std::string& entry, int k, int ranks)
        : source_(source), previous_(source.use_part(entry, k, ranks)) {}
    PartScope(const PartScope&) = delete;
    PartScope& operator=(const PartScope&) = delete;
    ~PartScope() { source_.use_part({}, previous_, -1); }

private:
    LoadSource& source_;
    int previous_;
};

}  // namespace ckpt::detail
