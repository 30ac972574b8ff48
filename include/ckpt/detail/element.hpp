#pragma once
/// The element types the direct HDF5 path stores, named portably ("float64", "complex128").

#include "ckpt/config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace ckpt::detail {

enum class Element : int {
    Char, Bool, Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64,
    Float32, Float64, Float128, Complex64, Complex128, Complex256
};

/// std::complex<float/double/long double>: specialized in ckpt/complex.hpp, which the
/// header-only mode includes below (the compiled mode leaves <complex> out unless asked for).
template <class T> struct is_complex : std::false_type {};

/// Types stored element by element in a typed dataset.
template <class T>
inline constexpr bool is_direct_element_v =
    (std::is_arithmetic_v<T> && !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char16_t> &&
     !std::is_same_v<T, char32_t>) ||
    is_complex<T>::value;

template <class T>
constexpr Element element_of() {
    static_assert(is_direct_element_v<T>, "ckpt: internal: not a direct element type");
    if constexpr (std::is_same_v<T, char>) return Element::Char;
    else if constexpr (std::is_same_v<T, bool>) return Element::Bool;
    else if constexpr (std::is_floating_point_v<T>)
        return sizeof(T) == 4 ? Element::Float32 : sizeof(T) == 8 ? Element::Float64 : Element::Float128;
    else if constexpr (is_complex<T>::value)
        return sizeof(T) == 8 ? Element::Complex64 : sizeof(T) == 16 ? Element::Complex128 : Element::Complex256;
    else if constexpr (std::is_signed_v<T>)
        return sizeof(T) == 1 ? Element::Int8 : sizeof(T) == 2 ? Element::Int16 : sizeof(T) == 4 ? Element::Int32 : Element::Int64;
    else
        return sizeof(T) == 1 ? Element::UInt8 : sizeof(T) == 2 ? Element::UInt16 : sizeof(T) == 4 ? Element::UInt32 : Element::UInt64;
}

/// Bytes per element in memory (and in the file: datasets use native types).
inline std::size_t element_size(Element e) {
    switch (e) {
        case Element::Char: case Element::Bool: case Element::Int8: case Element::UInt8: return 1;
        case Element::Int16: case Element::UInt16: return 2;
        case Element::Int32: case Element::UInt32: case Element::Float32: return 4;
        case Element::Int64: case Element::UInt64: case Element::Float64: case Element::Complex64: return 8;
        case Element::Complex128: return 16;
        case Element::Float128: return sizeof(long double);
        case Element::Complex256: return 2 * sizeof(long double);
    }
    return 1;
}

inline const char* element_name(Element e) {
    switch (e) {
        case Element::Char: return "char";
        case Element::Bool: return "bool";
        case Element::Int8: return "int8";
        case Element::UInt8: return "uint8";
        case Element::Int16: return "int16";
        case Element::UInt16: return "uint16";
        case Element::Int32: return "int32";
        case Element::UInt32: return "uint32";
        case Element::Int64: return "int64";
        case Element::UInt64: return "uint64";
        case Element::Float32: return "float32";
        case Element::Float64: return "float64";
        case Element::Float128: return "float128";
        case Element::Complex64: return "complex64";
        case Element::Complex128: return "complex128";
        case Element::Complex256: return "complex256";
    }
    return "?";
}

/// The element named `name` (as element_name() spells it); false if none.
inline bool parse_element(const std::string& name, Element& out) {
    for (int i = 0; i <= static_cast<int>(Element::Complex256); ++i)
        if (name == element_name(static_cast<Element>(i))) return out = static_cast<Element>(i), true;
    return false;
}

/// Whether every value of `from` is exactly a value of `to` (HDF5 converts it on restore):
/// integers to wider integers that hold their sign, integers to floats whose mantissa holds
/// them, floats and complex numbers to wider ones.
inline bool converts_losslessly(Element from, Element to) {
    if (from == to) return true;
    auto rank_of = [](Element e, const Element* list, int n) {
        for (int i = 0; i < n; ++i)
            if (list[i] == e) return i;
        return -1;
    };
    static const Element sint[] = {Element::Int8, Element::Int16, Element::Int32, Element::Int64};
    static const Element uint[] = {Element::UInt8, Element::UInt16, Element::UInt32, Element::UInt64};
    static const Element real[] = {Element::Float32, Element::Float64, Element::Float128};
    static const Element cplx[] = {Element::Complex64, Element::Complex128, Element::Complex256};
    const int fs = rank_of(from, sint, 4), fu = rank_of(from, uint, 4), fr = rank_of(from, real, 3),
              fc = rank_of(from, cplx, 3);
    const int ts = rank_of(to, sint, 4), tu = rank_of(to, uint, 4), tr = rank_of(to, real, 3), tc = rank_of(to, cplx, 3);
    if (fs >= 0) return (ts > fs) || (tr >= 0 && (fs <= 1 ? true : fs == 2 && tr >= 1));
    if (fu >= 0) return (tu > fu) || (ts > fu) || (tr >= 0 && (fu <= 1 ? true : fu == 2 && tr >= 1));
    if (fr >= 0) return tr > fr && (tr <= 1 || sizeof(long double) > sizeof(double));
    if (fc >= 0) return tc > fc && (tc <= 1 || sizeof(long double) > sizeof(double));
    return false;
}

}  // namespace ckpt::detail

#if CKPT_HEADER_ONLY
#include "ckpt/complex.hpp"
#endif
