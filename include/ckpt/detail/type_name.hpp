#pragma once
/// Readable C++ type names for attributes and messages ("std::vector<double>", "Params").

#include <cstdlib>
#include <memory>
#include <string>
#include <typeinfo>

#if defined(__GNUG__)
#include <cxxabi.h>
#endif

namespace ckpt::detail {

template <class T>
std::string type_name() {
    const char* raw = typeid(T).name();
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

}  // namespace ckpt::detail
