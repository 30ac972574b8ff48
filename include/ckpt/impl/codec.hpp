#pragma once
/// Definitions for ckpt/codec.hpp and ckpt/detail/type_name.hpp: inline in the header-only mode,
/// compiled once into libckpt in the compiled mode (ckpt/config.hpp).

#include "ckpt/codec.hpp"
#include "ckpt/detail/leaf.hpp"
#include "ckpt/error.hpp"

#include <cstdlib>
#include <memory>
#include <string>
#if defined(__GNUG__)
#include <cxxabi.h>
#endif

namespace ckpt {
namespace detail {

CKPT_INLINE std::string readable_type_name(const char* raw) {
#if defined(__GNUG__)
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(raw, nullptr, nullptr, &status), std::free);
    std::string name = status == 0 && demangled ? demangled.get() : raw;
#else
    std::string name = raw;
#endif
    // libstdc++ spells std::string by its full template; people know it by its name.
    const std::string verbose = "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >";
    for (auto pos = name.find(verbose); pos != std::string::npos; pos = name.find(verbose))
        name.replace(pos, verbose.size(), "std::string");
    for (auto pos = name.find("std::__cxx11::"); pos != std::string::npos; pos = name.find("std::__cxx11::"))
        name.replace(pos, 14, "std::");
    // Drop default template arguments people never write: ", std::allocator<...> ", ", std::less<...> ".
    for (const char* dflt : {", std::allocator<", ", std::less<", ", std::hash<", ", std::equal_to<"}) {
        for (auto pos = name.find(dflt); pos != std::string::npos; pos = name.find(dflt, pos)) {
            std::size_t i = pos + std::char_traits<char>::length(dflt);
            for (int depth = 1; i < name.size() && depth > 0; ++i) depth += name[i] == '<' ? 1 : name[i] == '>' ? -1 : 0;
            if (i < name.size() && name[i] == ' ') ++i;  // "double> >" -> "double>"
            name.erase(pos, i - pos);
        }
    }
    for (auto pos = name.find(" >"); pos != std::string::npos; pos = name.find(" >")) name.erase(pos, 1);
    return name;
}

CKPT_INLINE void check_entry_name(const std::string& name) {
    if (name.empty()) raise(UsageError::invalid_name(name, "it is empty"));
    if (name.find('/') != std::string::npos) raise(UsageError::invalid_name(name, "it contains '/'"));
    if (name[0] == '.') raise(UsageError::invalid_name(name, "it starts with '.'"));
}

CKPT_INLINE std::string child_path(const std::string& prefix, const std::string& name) {
    check_entry_name(name);
    return prefix + "/" + name;
}

}  // namespace detail

CKPT_INLINE void Writer::add_group(const std::string& path, std::string type_name) {
    detail::SaveNode group;
    group.path = path;
    group.codec = "custom";
    group.type_name = std::move(type_name);
    sink_->push_back(std::move(group));
}

CKPT_INLINE void Writer::add_direct(const std::string& path, std::string type_name, detail::Element element,
                                    const void* data, std::vector<std::uint64_t> extents) {
    detail::SaveNode leaf;
    leaf.path = path;
    leaf.codec = "direct";
    leaf.type_name = std::move(type_name);
    leaf.element = element;
    leaf.data = data;
    leaf.extents = std::move(extents);
    leaf.count = detail::product(leaf.extents);
    sink_->push_back(std::move(leaf));
}

CKPT_INLINE void Writer::add_blob(const std::string& path, std::string type_name, const char* codec,
                                  std::vector<unsigned char> bytes) {
    detail::SaveNode leaf;
    leaf.path = path;
    leaf.codec = codec;
    leaf.type_name = std::move(type_name);
    leaf.element = detail::Element::UInt8;
    leaf.owned = std::move(bytes);
    leaf.count = leaf.owned.size();
    leaf.extents = {leaf.count};
    leaf.data = leaf.owned.data();
    sink_->push_back(std::move(leaf));
}

CKPT_INLINE std::size_t Writer::node_count() const noexcept { return sink_->size(); }

CKPT_INLINE void Writer::keep_alive(std::size_t first, const void* object, void (*destroy)(const void*)) {
    const std::shared_ptr<const void> held(object, destroy);
    for (std::size_t i = first; i < sink_->size(); ++i) (*sink_)[i].keep_alive = held;
}

}  // namespace ckpt
