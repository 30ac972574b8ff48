#pragma once
/// std::complex as a direct element type (complex64, complex128, complex256 datasets).
/// <ckpt.hpp> includes this in the header-only mode. In the compiled mode (docs/building.md) a
/// translation unit that protects std::complex data includes it itself, so that the others do
/// not parse <complex> (with <sstream> behind it, the largest header a checkpointing file would
/// otherwise pull in); forgetting it is a compile error that says so.

#include "ckpt/detail/element.hpp"

#include <complex>
#include <type_traits>

namespace ckpt::detail {
template <class T>
struct is_complex<std::complex<T>> : std::is_floating_point<T> {};
}  // namespace ckpt::detail
