#pragma once
/// Readable C++ type names for attributes and messages ("std::vector<double>", "Params").

#include "ckpt/config.hpp"

#include <string>
#include <typeinfo>

namespace ckpt::detail {

/// A type_info name, demangled and with libstdc++'s spellings people never write taken out.
CKPT_INLINE std::string readable_type_name(const char* mangled);

template <class T>
std::string type_name() {
    return readable_type_name(typeid(T).name());
}

}  // namespace ckpt::detail
