#pragma once
/// Configuration macros. Every CKPT_* macro a user may set is listed here and in
/// docs/configuration.md.

#include "ckpt/version.hpp"

/// CKPT_SEPARATE_COMPILATION selects the compiled mode (the CMake target ckpt::compiled sets it):
/// the public headers then only declare the library's non-template functions, which libckpt
/// defines once, so a translation unit that includes <ckpt.hpp> parses no HDF5, Boost or
/// <filesystem> and compiles none of the library. Without it (the default, target ckpt::ckpt) the
/// library is header-only: each public header includes its definitions from ckpt/impl/.
/// Use one mode per program.
#if defined(CKPT_SEPARATE_COMPILATION)
#define CKPT_HEADER_ONLY 0
/// A function declared in a public header and defined once, in libckpt.
#define CKPT_INLINE
#else
#define CKPT_HEADER_ONLY 1
/// A function declared in a public header: `inline`, so two translation units can include <ckpt.hpp>.
#define CKPT_INLINE inline
#endif

/// Enforce a precondition: throws the given ckpt error (built by a named constructor) if `cond` is false.
#define CKPT_ENFORCE(cond, error_expr)                                                                 \
    do {                                                                                               \
        if (!(cond)) ::ckpt::detail::raise(error_expr);                                                \
    } while (false)
